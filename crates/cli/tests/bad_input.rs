//! Bad input: each problem gets a clear error naming the file, the rest of the run goes
//! on, the exit code is non-zero, and the archive still verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{json_lines, Env};

/// Ingests `bad` beside one good file; asserts the good one is stored, the bad one is
/// named with `message`, exit code 2, and the archive verifies.
fn check(env: &Env, bad: &Path, message: &str) {
    let good = env.path("good-file.txt");
    std::fs::write(&good, format!("a good file beside {}", bad.display())).unwrap();
    let out = env.run_paths(&["ingest", "--json"], &[bad, &good]);
    assert_reports(&out, bad, message);
    let lines = json_lines(&out.stdout);
    assert!(
        lines.iter().any(|l| l["path"] == good.to_str().unwrap()),
        "good file missing: {lines:?}"
    );
    env.assert_verifies();
}

fn assert_reports(out: &Output, bad: &Path, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains(bad.to_str().unwrap()))
        .unwrap_or_else(|| panic!("no error names {}: {stderr}", bad.display()));
    assert!(line.contains(message), "expected {message:?} in {line:?}");
}

#[test]
fn path_that_does_not_exist() {
    let env = Env::new();
    check(
        &env,
        &env.path("no-such-video.mp4"),
        "no such file or directory",
    );
}

#[test]
fn fifo_is_refused_without_hanging() {
    let env = Env::new();
    let fifo = env.path("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    check(&env, &fifo, "FIFO");
    // Also inside a folder.
    let dir = env.path("folder-with-pipe");
    std::fs::create_dir(&dir).unwrap();
    assert!(Command::new("mkfifo")
        .arg(dir.join("p"))
        .status()
        .unwrap()
        .success());
    check(&env, &dir.join("p"), "FIFO");
}

#[test]
fn device_file_is_refused() {
    let env = Env::new();
    check(&env, Path::new("/dev/null"), "character device");
}

#[test]
fn symlink_loops() {
    let env = Env::new();
    let l = env.path("loop");
    std::os::unix::fs::symlink(&l, &l).unwrap();
    check(&env, &l, "symbolic link loop");
    // A folder that links back to its parent: the loop is cut, its files collected once.
    let dir = env.path("tree");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/report.txt"), "synthetic report").unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("sub/back-to-top")).unwrap();
    check(&env, &dir, "directory loop");
    let dangling = env.path("dangling");
    std::os::unix::fs::symlink(env.path("gone"), &dangling).unwrap();
    check(&env, &dangling, "dangling");
}

/// Runs `athar` as an unprivileged user when the tests run as root (root reads anything).
fn unprivileged(env: &Env) -> Command {
    if common::is_root() {
        Command::new("chmod")
            .arg("0755")
            .arg(env.dir.path())
            .status()
            .unwrap();
        assert!(Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(env.dir.path())
            .status()
            .unwrap()
            .success());
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            common::athar_bin(),
        ]);
        c.arg("--archive").arg(&env.archive);
        c
    } else {
        env.cmd()
    }
}

#[test]
fn permission_denied() {
    let env = Env::new();
    let secret = env.path("unreadable.mp4");
    std::fs::write(&secret, "synthetic footage").unwrap();
    let dir = env.path("closed-folder");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("inside.txt"), "x").unwrap();
    let good = env.path("good.txt");
    std::fs::write(&good, "fine").unwrap();
    let mut cmd = unprivileged(&env);
    Command::new("chmod")
        .arg("000")
        .arg(&secret)
        .arg(&dir)
        .status()
        .unwrap();
    let out = cmd
        .args(["ingest", "--json"])
        .arg(&secret)
        .arg(&dir)
        .arg(&good)
        .output()
        .unwrap();
    assert_reports(&out, &secret, "permission denied");
    assert_reports(&out, &dir, "permission denied");
    assert_eq!(json_lines(&out.stdout).len(), 1);
    let mut verify = unprivileged(&env);
    assert!(verify.arg("verify").status().unwrap().success());
}

#[test]
fn file_changing_while_read_is_refused() {
    let env = Env::new();
    let growing = env.path("being-downloaded.mp4");
    std::fs::write(&growing, vec![7u8; 64 << 20]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let stop = stop.clone();
        let growing = growing.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(growing)
                .unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(&[1u8; 4096]).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(20));
    let good = env.path("good.txt");
    std::fs::write(&good, "fine").unwrap();
    let out = env.run_paths(&["ingest", "--json"], &[&growing, &good]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    appender.join().unwrap();
    assert_reports(&out, &growing, "changed while it was being read");
    assert_eq!(json_lines(&out.stdout).len(), 1);
    env.assert_verifies();
    // Nothing half-written is left behind in the store's temporary folder.
    assert_eq!(common::files_under(&env.archive.join("blobs/tmp")), 0);
}

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn disk_full() {
    // A small filesystem of its own: needs root and mount(8).
    let scratch = tempfile::tempdir().unwrap();
    let mnt = scratch.path().join("small-disk");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = common::is_root()
        && Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
            .arg(&mnt)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !mounted {
        if std::env::var("CI").as_deref() == Ok("true") && common::is_root() {
            panic!("could not mount a small tmpfs for the disk-full test");
        }
        eprintln!("notice: disk-full test skipped (needs root and mount)");
        return;
    }
    let _guard = Mount(mnt.clone());
    let archive = mnt.join("archive");
    let athar = |args: &[&str]| {
        Command::new(common::athar_bin())
            .arg("--archive")
            .arg(&archive)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(athar(&["init"]).status.success());
    let src = scratch.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let big = src.join("a-too-large-video.mp4");
    let mut rng = common::Rng(3);
    let mut bytes = vec![0u8; 5 << 20];
    rng.fill(&mut bytes);
    std::fs::write(&big, &bytes).unwrap();
    let small = src.join("b-small-note.txt");
    std::fs::write(&small, "small synthetic note").unwrap();
    let out = athar(&["ingest", "--json", src.to_str().unwrap()]);
    assert_reports(&out, &big, "no space left");
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["path"], small.to_str().unwrap());
    let verify = athar(&["verify", "--json"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    assert_eq!(common::files_under(&archive.join("blobs/tmp")), 0);
}

/// A record flag's value that does not parse is bad input: exit 2, the flag named, nothing
/// written.
#[test]
fn record_flags_that_do_not_parse_exit_2_naming_the_flag() {
    let env = Env::new();
    assert!(env
        .run(&["case", "add", "--case", "pits", "--title", "Synthetic"])
        .status
        .success());
    for (args, flag) in [
        (&["--coordinates", "36.1"][..], "--coordinates"),
        (&["--coordinates", "north,east"][..], "--coordinates"),
        (&["--precision-m", "50"][..], "--precision-m"),
    ] {
        let mut all = vec!["place", "add", "--case", "pits", "--name", "Synthetic Town"];
        all.extend_from_slice(args);
        let out = env.run(&all);
        let msg = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {msg}");
        assert!(msg.contains(flag), "{args:?}: {msg}");
    }
    let listed = env.run(&["place", "list", "--json"]);
    assert!(listed.status.success());
    assert!(listed.stdout.is_empty(), "a refused place was written");
}
