//! Supervised child processes for C decoders (FFmpeg): wall-clock time
//! limit enforced by a watchdog thread, address-space limit set with
//! `ulimit -v` in a `sh -c` wrapper before `exec` (no unsafe code here),
//! stdin closed (or, with [`spawn_with_input`], a pipe the caller writes
//! once and closes), stderr drained in the background (last few KiB kept).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::MediaError;

const STDERR_KEEP: usize = 4096;

/// Resource limits for one child process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit for the whole run; the child is killed past it.
    pub time: Duration,
    /// Address-space (virtual memory) limit in bytes.
    pub memory_bytes: u64,
}

pub(crate) struct Supervised {
    tool: String,
    path: std::path::PathBuf,
    limit: Duration,
    child: Arc<Mutex<Child>>,
    pub(crate) stdout: ChildStdout,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
    done: Option<mpsc::Sender<()>>,
    watchdog: Option<JoinHandle<()>>,
    timed_out: Arc<AtomicBool>,
}

impl std::fmt::Debug for Supervised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervised")
            .field("tool", &self.tool)
            .finish_non_exhaustive()
    }
}

/// Starts `program args…` under `limits`. `path` is the media file, for errors.
pub(crate) fn spawn(
    program: &Path,
    args: &[OsString],
    limits: Limits,
    path: &Path,
) -> Result<Supervised, MediaError> {
    spawn_inner(program, args, limits, path, false)
}

/// As [`spawn`], but the child's stdin is a pipe that
/// [`Supervised::send_input`] fills and closes: the child can start (load
/// its libraries, open its input) while the caller still works out what to
/// send it.
pub(crate) fn spawn_with_input(
    program: &Path,
    args: &[OsString],
    limits: Limits,
    path: &Path,
) -> Result<Supervised, MediaError> {
    spawn_inner(program, args, limits, path, true)
}

fn spawn_inner(
    program: &Path,
    args: &[OsString],
    limits: Limits,
    path: &Path,
    input: bool,
) -> Result<Supervised, MediaError> {
    let tool = program
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kib = (limits.memory_bytes / 1024).max(1);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v \"$1\" || exit 125; shift; exec \"$@\"")
        .arg("sh")
        .arg(kib.to_string())
        .arg(program)
        .args(args)
        .stdin(if input { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| MediaError::io(path, e))?;
    let stdin = child.stdin.take();
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(MediaError::io(
            path,
            io::Error::other("child pipes missing"),
        ));
    };
    let stderr = std::thread::spawn(move || {
        let mut kept: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * STDERR_KEEP {
                kept.drain(..kept.len() - STDERR_KEEP);
            }
        }
        let start = kept.len().saturating_sub(STDERR_KEEP);
        String::from_utf8_lossy(&kept[start..]).trim().to_string()
    });
    let child = Arc::new(Mutex::new(child));
    let timed_out = Arc::new(AtomicBool::new(false));
    let (done, done_rx) = mpsc::channel::<()>();
    let watchdog = {
        let child = Arc::clone(&child);
        let timed_out = Arc::clone(&timed_out);
        let limit = limits.time;
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
                timed_out.store(true, Ordering::SeqCst);
                let mut c = child.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = c.kill();
            }
        })
    };
    Ok(Supervised {
        tool,
        path: path.to_path_buf(),
        limit: limits.time,
        child,
        stdout,
        stdin,
        stderr: Some(stderr),
        done: Some(done),
        watchdog: Some(watchdog),
        timed_out,
    })
}

impl Drop for Supervised {
    /// A child that was neither finished nor aborted is killed and reaped.
    fn drop(&mut self) {
        if self.done.is_some() {
            {
                let mut c = self.child.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = c.kill();
            }
            let _ = self.reap();
        }
    }
}

impl Supervised {
    fn timeout_error(&self) -> MediaError {
        MediaError::Timeout {
            path: self.path.clone(),
            tool: self.tool.clone(),
            limit_s: self.limit.as_secs(),
        }
    }

    /// Writes `bytes` to the child's stdin and closes it. A child that has
    /// already exited (a broken pipe) is not an error here: its exit status
    /// and stderr are reported by [`Supervised::finish`].
    pub(crate) fn send_input(&mut self, bytes: &[u8]) -> Result<(), MediaError> {
        if let Some(mut stdin) = self.stdin.take() {
            match stdin.write_all(bytes) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(MediaError::io(&self.path, e)),
            }
        }
        Ok(())
    }

    /// Asks the kernel for a stdout pipe of up to `bytes` (capped at 1 MiB,
    /// the unprivileged maximum), so a producer writing large frames blocks
    /// less often on a full pipe. Best effort: a refusal changes only speed.
    pub(crate) fn grow_stdout_pipe(&self, bytes: usize) {
        let _ = rustix::pipe::fcntl_setpipe_size(&self.stdout, bytes.min(1 << 20));
    }

    /// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean end of stream.
    pub(crate) fn read_frame(&mut self, buf: &mut [u8]) -> Result<bool, MediaError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(MediaError::io(&self.path, e)),
            }
        }
        if self.timed_out.load(Ordering::SeqCst) {
            return Err(self.timeout_error());
        }
        // A truncated last frame is dropped, as a decoder error will be
        // reported by the exit status.
        Ok(filled == buf.len())
    }

    /// Kills the child (if still running) and reaps it.
    pub(crate) fn abort(mut self) {
        {
            let mut c = self.child.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = c.kill();
        }
        let _ = self.reap();
    }

    fn reap(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        // Drain what is left so the child is never blocked on a full pipe.
        let mut sink = [0u8; 8192];
        while let Ok(n) = self.stdout.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        let status = loop {
            let polled = {
                let mut c = self.child.lock().unwrap_or_else(PoisonError::into_inner);
                c.try_wait()
            };
            match polled {
                Ok(Some(s)) => break Ok(s),
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => break Err(e),
            }
        };
        drop(self.done.take());
        if let Some(w) = self.watchdog.take() {
            let _ = w.join();
        }
        status
    }

    /// Waits for the child; errors on timeout or a non-zero exit, with the
    /// tail of its stderr.
    pub(crate) fn finish(mut self) -> Result<String, MediaError> {
        let status = self.reap().map_err(|e| MediaError::io(&self.path, e))?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if self.timed_out.load(Ordering::SeqCst) {
            return Err(self.timeout_error());
        }
        if !status.success() {
            return Err(MediaError::ToolFailed {
                path: self.path.clone(),
                tool: self.tool.clone(),
                status: status.to_string(),
                stderr,
            });
        }
        Ok(stderr)
    }
}

/// A child's second output, written to a named pipe (a child cannot be handed another
/// descriptor without unsafe code) and read on a thread of its own as it arrives, so the
/// child never waits on it. The pipe sits in a private temporary folder, removed on drop.
pub(crate) struct SideOutput<T> {
    dir: PathBuf,
    fifo: PathBuf,
    reader: Option<JoinHandle<T>>,
}

/// Distinguishes the temporary folders of one process's side outputs.
static SIDE_OUTPUTS: AtomicU64 = AtomicU64::new(0);

impl<T: Send + 'static> SideOutput<T> {
    /// Makes the pipe and starts `read` on a thread, with the pipe opened for reading (the
    /// open returns once the child opens it for writing, or fails).
    pub(crate) fn start(
        read: impl FnOnce(io::Result<File>) -> T + Send + 'static,
    ) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt as _;
        // A folder left by a process that crashed with the same id is passed over.
        let mut tries = 0;
        let dir = loop {
            let dir = std::env::temp_dir().join(format!(
                "athar-side-{}-{}",
                std::process::id(),
                SIDE_OUTPUTS.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 100 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let fifo = dir.join("pipe");
        let made = rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        );
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e.into());
        }
        let at = fifo.clone();
        let reader = std::thread::spawn(move || read(File::open(at)));
        Ok(SideOutput {
            dir,
            fifo,
            reader: Some(reader),
        })
    }

    /// Where the child writes.
    pub(crate) fn path(&self) -> &Path {
        &self.fifo
    }

    /// Once the child has ended: what the reader made of its output (`None` if the reader
    /// panicked). A reader still waiting for the child to open the pipe is released and
    /// reads an empty output.
    pub(crate) fn finish(mut self) -> Option<T> {
        let reader = self.reader.take()?;
        release(&self.fifo, &reader);
        reader.join().ok()
    }
}

/// Once the writer has ended: until the reader thread is done, opens the pipe for writing
/// without waiting and closes it again, so that a reader blocked in its open (the child
/// never opened the pipe) returns and reads the end of the output. Where nobody is there
/// to read, the open fails, harmlessly; a reader still reading sees no data from it.
fn release<T>(fifo: &Path, reader: &JoinHandle<T>) {
    use std::os::unix::fs::OpenOptionsExt as _;
    while !reader.is_finished() {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(fifo);
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl<T> Drop for SideOutput<T> {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            release(&self.fifo, &r);
            let _ = r.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(ms: u64) -> Limits {
        Limits {
            time: Duration::from_millis(ms),
            memory_bytes: 512 << 20,
        }
    }

    #[test]
    fn time_limit_kills_the_child() {
        let p = Path::new("clip.mp4");
        let mut c = spawn(Path::new("sleep"), &["10".into()], limits(200), p).unwrap();
        let t = std::time::Instant::now();
        let mut buf = [0u8; 16];
        assert!(c.read_frame(&mut buf).is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
        let mut c = spawn(Path::new("sleep"), &["10".into()], limits(200), p).unwrap();
        let mut sink = Vec::new();
        let _ = c.stdout.read_to_end(&mut sink);
        let e = c.finish().unwrap_err();
        assert!(matches!(e, MediaError::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("clip.mp4"), "{e}");
    }

    #[test]
    fn memory_limit_is_applied() {
        let p = Path::new("clip.mp4");
        let mut c = spawn(
            Path::new("sh"),
            &["-c".into(), "ulimit -v".into()],
            limits(5000),
            p,
        )
        .unwrap();
        let mut out = String::new();
        c.stdout.read_to_string(&mut out).unwrap();
        c.finish().unwrap();
        assert_eq!(out.trim(), (512u64 << 10).to_string());
    }

    #[test]
    fn input_is_sent_then_closed() {
        let p = Path::new("clip.mp4");
        // `cat` echoes its stdin and exits only once stdin is closed.
        let mut c = spawn_with_input(Path::new("cat"), &[], limits(5000), p).unwrap();
        c.send_input(b"scale=64:64").unwrap();
        let mut out = String::new();
        c.stdout.read_to_string(&mut out).unwrap();
        c.finish().unwrap();
        assert_eq!(out, "scale=64:64");
        // A child that exits without reading its input is reported by finish.
        let args = ["-c".into(), "echo gone >&2; exit 4".into()];
        let mut c = spawn_with_input(Path::new("sh"), &args, limits(5000), p).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        c.send_input(&[b'x'; 1 << 20]).unwrap();
        let e = c.finish().unwrap_err();
        assert!(e.to_string().contains("gone"), "{e}");
    }

    #[test]
    fn failure_reports_status_and_stderr() {
        let p = Path::new("clip.mp4");
        let args = ["-c".into(), "echo broken >&2; exit 3".into()];
        let c = spawn(Path::new("sh"), &args, limits(5000), p).unwrap();
        let e = c.finish().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("broken") && msg.contains("clip.mp4"), "{msg}");
    }
}
