//! Media through yt-dlp, from Athar's own tool environment (a Python venv the README's
//! commands install, pinned in `scripts/tools-requirements.txt`; nothing is downloaded at run
//! time): the original formats at best quality, subtitles, thumbnails and yt-dlp's whole
//! info JSON. yt-dlp runs as a child with a time limit, in its own process group.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::CaptureError;

/// Athar's tool environment: `ATHAR_TOOLS`, else `~/.local/share/athar/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATHAR_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join(".local/share/athar/tools")
}

/// The yt-dlp program of the tool environment.
pub fn ytdlp_program(tools: &Path) -> PathBuf {
    tools.join("bin/yt-dlp")
}

/// How to run yt-dlp.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    pub program: PathBuf,
    /// `--proxy` (http://, socks5://…).
    pub proxy: Option<String>,
    /// A PEM file of extra trusted roots (e.g. a test CA), given through `SSL_CERT_FILE`.
    pub ca_file: Option<PathBuf>,
    /// Also fetch comments.
    pub comments: bool,
    /// Largest media file taken.
    pub max_bytes: u64,
    /// A cookies file for logged-in capture.
    pub cookies: Option<PathBuf>,
}

/// What yt-dlp fetched.
#[derive(Debug, Default)]
pub struct MediaOutcome {
    /// Files written (media, subtitles, thumbnails, info JSON), in name order.
    pub files: Vec<PathBuf>,
    /// The info JSON of each entry, as yt-dlp wrote it.
    pub infos: Vec<Value>,
    /// yt-dlp's version.
    pub version: Option<String>,
    /// Why media could not be taken when the page had some (None: taken, or none there).
    pub problem: Option<String>,
    /// What yt-dlp said about the URL when it found nothing (e.g. "Unsupported URL").
    pub none: Option<String>,
}

/// yt-dlp's answers that mean the page has no media it can take, not a failure.
const NO_MEDIA: &[&str] = &["Unsupported URL", "No video formats found", "no suitable"];

/// Runs yt-dlp on `url` into `dir` (made if missing) within `limit`.
pub fn fetch(
    url: &str,
    dir: &Path,
    opts: &MediaOptions,
    limit: Duration,
) -> Result<MediaOutcome, CaptureError> {
    std::fs::create_dir_all(dir)?;
    let mut out = MediaOutcome {
        version: version(&opts.program),
        ..MediaOutcome::default()
    };
    let mut cmd = Command::new(&opts.program);
    cmd.args([
        "--ignore-config",
        "--no-progress",
        "--no-playlist",
        "--no-overwrites",
        "--no-part",
        "--restrict-filenames",
        "--write-info-json",
        "--write-subs",
        "--sub-langs",
        "all",
        "--write-all-thumbnails",
        "--socket-timeout",
        "30",
        "--retries",
        "3",
        "-f",
        "bv*+ba/b",
    ])
    .arg("--max-filesize")
    .arg(opts.max_bytes.to_string())
    .arg("-o")
    .arg(dir.join("%(id).60B.%(ext)s"));
    if opts.comments {
        cmd.arg("--write-comments");
    }
    if let Some(p) = &opts.proxy {
        cmd.arg("--proxy").arg(p);
    }
    if let Some(c) = &opts.cookies {
        cmd.arg("--cookies").arg(c);
    }
    if let Some(ca) = &opts.ca_file {
        // Python's ssl reads SSL_CERT_FILE only when yt-dlp does not use certifi's bundle.
        cmd.env("SSL_CERT_FILE", ca)
            .args(["--compat-options", "no-certifi"]);
    }
    cmd.arg("--").arg(url);
    let (status, err) = run_limited(cmd, limit)?;
    let last_error = last_error(&err);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for f in &files {
        if f.to_string_lossy().ends_with(".info.json") {
            if let Ok(Ok(mut v)) = std::fs::read(f).map(|b| serde_json::from_slice::<Value>(&b)) {
                // The cookies yt-dlp was given or was set stay out of the bundle.
                if crate::cookies::withhold_in_info(&mut v) {
                    std::fs::write(f, serde_json::to_vec(&v).map_err(std::io::Error::other)?)?;
                }
                out.infos.push(v);
            }
        }
    }
    out.files = files;
    match status {
        None => {
            out.problem = Some(format!(
                "media: yt-dlp did not finish within {} s",
                limit.as_secs()
            ))
        }
        Some(s) if s.success() => {}
        Some(_) => {
            let msg = last_error.unwrap_or_else(|| "yt-dlp failed".to_owned());
            if NO_MEDIA.iter().any(|m| msg.contains(m)) && out.infos.is_empty() {
                out.none = Some(msg);
            } else {
                out.problem = Some(format!("media: {msg}"));
            }
        }
    }
    Ok(out)
}

/// Runs `cmd` (stderr kept, at most 1 MiB) in its own process group, killing the group
/// past `limit`; the status is None when it was killed.
fn run_limited(
    mut cmd: Command,
    limit: Duration,
) -> Result<(Option<std::process::ExitStatus>, String), CaptureError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|e| {
        CaptureError::Tool(format!(
            "cannot start {program} ({e}); install Athar's tools (scripts/ensure-deps.sh run)"
        ))
    })?;
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(1 << 20).read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::Kill);
            }
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok((status, reader.join().unwrap_or_default()))
}

/// The last `ERROR:` line yt-dlp wrote.
fn last_error(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .rfind(|l| l.starts_with("ERROR:"))
        .map(|l| l.trim_start_matches("ERROR:").trim().to_owned())
}

/// yt-dlp's version, or None when it cannot be run.
pub fn version(program: &Path) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The parts of an info JSON a person searches by.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediaInfo {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub extractor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uploader: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uploader_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channel_id: Option<String>,
    /// `YYYYMMDD`, as yt-dlp gives it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upload_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub webpage_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
}

impl MediaInfo {
    /// Reads the searchable fields of one info JSON.
    pub fn from_info(v: &Value) -> MediaInfo {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(2000).collect::<String>())
        };
        MediaInfo {
            id: s("id"),
            extractor: s("extractor"),
            title: s("title"),
            uploader: s("uploader"),
            uploader_id: s("uploader_id"),
            channel: s("channel"),
            channel_id: s("channel_id"),
            upload_date: s("upload_date"),
            webpage_url: s("webpage_url"),
            description: s("description"),
        }
    }
}

/// Asks yt-dlp whether `url` still has its media, downloading nothing: Err holds its
/// error message (for [`crate::watch::ytdlp_state`]).
pub fn probe(
    url: &str,
    program: &Path,
    proxy: Option<&str>,
    extra_roots: &[Vec<u8>],
    limit: Duration,
) -> Result<(), String> {
    let roots = if extra_roots.is_empty() {
        None
    } else {
        let f = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        std::fs::write(f.path(), crate::pem_bundle(extra_roots)).map_err(|e| e.to_string())?;
        Some(f)
    };
    let mut cmd = Command::new(program);
    cmd.args([
        "--ignore-config",
        "--simulate",
        "--no-warnings",
        "--no-playlist",
        "--socket-timeout",
        "30",
    ]);
    if let Some(p) = proxy {
        cmd.arg("--proxy").arg(p);
    }
    if let Some(f) = &roots {
        cmd.env("SSL_CERT_FILE", f.path())
            .args(["--compat-options", "no-certifi"]);
    }
    cmd.arg("--").arg(url);
    let (status, err) = run_limited(cmd, limit).map_err(|e| e.to_string())?;
    match status {
        Some(s) if s.success() => Ok(()),
        Some(_) => Err(last_error(&err).unwrap_or_else(|| "yt-dlp failed".to_owned())),
        None => Err(format!(
            "yt-dlp did not answer within {} s",
            limit.as_secs()
        )),
    }
}
