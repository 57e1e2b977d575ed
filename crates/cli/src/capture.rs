//! `athar capture` and `athar sources`: capture web addresses into a case, and watch the
//! captured sources disappear. The work is `athar_capture`'s (the bundle, the schedule) and
//! `athar_core::capture`'s (keeping it); this runs, reports and exits. Also web capture for
//! `athar serve` ([`ServerCapture`], the server's `WebCapture`), on the same schedule.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _};
use athar_capture::schedule::{self, CheckLog, Schedule};
use athar_capture::{Bundle, CaptureOptions};
use athar_core::capture::{self as keep, Finding};
use athar_core::ingest::IngestOptions;
use athar_core::records::Capture;
use athar_store::{Access, Archive};
use serde_json::json;

use crate::{open, open_writable, Cli, EXIT_INPUT, EXIT_PROBLEM};

/// `athar capture`.
#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// Addresses to capture (http:// or https://).
    pub urls: Vec<String>,
    /// Also capture the addresses in this file: one a line, or a CSV with a `url` column.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// The case the capture is kept in (created if new).
    #[arg(long)]
    pub case: String,
    /// Where the address came from (a source, a channel), recorded on each file.
    #[arg(long)]
    pub source: Option<String>,
    /// A note recorded on each file and on the capture.
    #[arg(long)]
    pub note: Option<String>,
    /// Send the traffic through this proxy (`http://host:port`, `socks5h://127.0.0.1:9050`
    /// for Tor); recorded in the capture.
    #[arg(long)]
    pub proxy: Option<String>,
    /// Capture logged in, with this named profile (a Chromium profile folder under the
    /// archive's `profiles/`, readable by its owner only; a `cookies.txt` in it, exported
    /// from a browser, is given to Chromium and yt-dlp). The account's cookies are withheld
    /// from what is kept.
    #[arg(long)]
    pub profile: Option<String>,
    /// Also take the comments of the media.
    #[arg(long)]
    pub comments: bool,
    /// Do not take media with yt-dlp.
    #[arg(long)]
    pub no_media: bool,
    /// Seconds one capture may take in all.
    #[arg(long, default_value_t = 300)]
    pub time_limit: u64,
    /// MiB one capture may record (all responses), and the largest media file.
    #[arg(long, default_value_t = 2048)]
    pub size_limit: u64,
    /// Trust these certificate authorities too (PEM), beside the system's.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Captures at once (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Seconds between two captures on one host (they never run at once on one host).
    #[arg(long, default_value_t = 2.0)]
    pub host_interval: f64,
    /// One JSON object per address on stdout, once its bundle is durable.
    #[arg(long)]
    pub json: bool,
}

/// `athar sources`.
#[derive(clap::Args, Debug)]
pub struct SourcesArgs {
    #[command(subcommand)]
    pub cmd: Option<SourcesCommand>,
    /// Only this case's sources.
    #[arg(long, global = true)]
    pub case: Option<String>,
    /// Only sources that are gone (the archive holds the only copy).
    #[arg(long)]
    pub gone: bool,
    /// One JSON object per capture.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum SourcesCommand {
    /// Show a capture: its record (files, network, what the watch found) and its history,
    /// one custody event per change.
    Show {
        /// The capture's id.
        capture: String,
    },
    /// Check whether each captured source is still there; each change of state is a
    /// custody event on its capture.
    Check {
        /// Only sources not checked within their interval (with jitter): `--every`, else
        /// their case's `[capture.cases."<case>"] check_every_hours`, else `[capture]
        /// check_every_hours` (24 when not set); sources whose cases are not watched (0) are
        /// left out.
        #[arg(long)]
        due: bool,
        /// Hours between two checks of every source, for `--due`.
        #[arg(long)]
        every: Option<f64>,
        /// Trust these certificate authorities too (PEM).
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Through this proxy.
        #[arg(long)]
        proxy: Option<String>,
        /// Tries before a source is called unreachable.
        #[arg(long, default_value_t = 3)]
        tries: u32,
    },
}

/// The addresses of the command line and `--from`, each checked.
fn addresses(a: &CaptureArgs) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for u in &a.urls {
        athar_capture::check_url(u.trim())?;
        out.push(u.trim().to_owned());
    }
    if let Some(file) = &a.from {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let text = text.trim_start_matches('\u{feff}');
        let first = text.lines().next().unwrap_or("");
        if first
            .split(',')
            .any(|h| h.trim().eq_ignore_ascii_case("url"))
        {
            let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let col = r
                .headers()
                .with_context(|| format!("{}: header", file.display()))?
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case("url"))
                .unwrap_or(0);
            for (i, row) in r.records().enumerate() {
                let row = row.with_context(|| format!("{}: row {}", file.display(), i + 2))?;
                let u = row.get(col).unwrap_or("").trim();
                if u.is_empty() {
                    continue;
                }
                athar_capture::check_url(u)
                    .with_context(|| format!("{}: row {}", file.display(), i + 2))?;
                out.push(u.to_owned());
            }
        } else {
            for (i, line) in text.lines().enumerate() {
                let u = line.trim();
                if u.is_empty() || u.starts_with('#') {
                    continue;
                }
                athar_capture::check_url(u)
                    .with_context(|| format!("{}: line {}", file.display(), i + 1))?;
                out.push(u.to_owned());
            }
        }
    }
    if out.is_empty() {
        bail!("no address to capture: give URLs or --from FILE");
    }
    Ok(out)
}

/// The key that signs an archive's WACZ files: derived from its pseudonym secret, so the
/// same archive always signs with the same key and no new secret is stored.
pub fn signing_key(archive: &Archive) -> anyhow::Result<p384::ecdsa::SigningKey> {
    use sha2::Digest;
    let mut counter = 0u8;
    loop {
        let mut h = sha2::Sha384::new();
        h.update(b"athar wacz signing key v2 (P-384)\0");
        h.update([counter]);
        h.update(&archive.pseudonym_secret);
        if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&h.finalize()) {
            return Ok(k);
        }
        counter = counter
            .checked_add(1)
            .context("no valid signing key could be derived")?;
    }
}

/// Reads PEM certificates (for `--ca`, and `ATHAR_CAPTURE_CA` for the server).
pub(crate) fn read_roots(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    use base64::Engine;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            cur = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            let b64 = cur.take().unwrap_or_default();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .with_context(|| format!("{}: a certificate is not base64", path.display()))?;
            out.push(der);
        } else if let Some(c) = cur.as_mut() {
            c.push_str(line);
        }
    }
    if out.is_empty() {
        bail!("{}: no PEM certificate in it", path.display());
    }
    Ok(out)
}

/// Where captures are made before they are kept (inside the archive's work folder).
pub(crate) fn staging(archive: &Archive) -> PathBuf {
    archive.work_dir().join("captures")
}

/// Removes what captures killed before they were kept left behind (their process gone).
pub(crate) fn sweep_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(".tmp-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Runs `athar capture`.
pub fn capture(cli: &Cli, a: &CaptureArgs) -> anyhow::Result<ExitCode> {
    let urls = match addresses(a) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    if a.case.trim().is_empty() {
        eprintln!("error: --case: must not be empty");
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    let archive = open(cli, Access::Read)?;
    let signing = signing_key(&archive)?;
    let stage = staging(&archive);
    std::fs::create_dir_all(&stage).with_context(|| format!("making {}", stage.display()))?;
    sweep_staging(&stage);
    let profile = match &a.profile {
        Some(name) => Some(profile_dir(&archive, name)?),
        None => None,
    };
    drop(archive);
    let mut opts = CaptureOptions {
        proxy: a.proxy.clone(),
        profile,
        profile_name: a.profile.clone(),
        comments: a.comments,
        time_limit: Duration::from_secs(a.time_limit.max(10)),
        size_limit: a.size_limit.max(1) << 20,
        ..CaptureOptions::default()
    };
    if a.no_media {
        opts.ytdlp = None;
    }
    if let Some(ca) = &a.ca {
        opts.extra_roots = read_roots(ca)?;
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .clamp(1, 16)
        .min(urls.len());
    let progress = !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr())
        || std::env::var_os("ATHAR_PROGRESS").is_some();

    let queue = Arc::new(Mutex::new(Schedule::<()>::of(
        urls,
        Duration::from_secs_f64(a.host_interval.max(0.0)),
    )));
    let (tx, rx) = mpsc::channel::<(String, Result<Bundle, String>)>();
    let opts = Arc::new(opts);
    let signing = Arc::new(signing);
    let mut workers = Vec::new();
    for _ in 0..jobs {
        let queue = Arc::clone(&queue);
        let tx = tx.clone();
        let opts = Arc::clone(&opts);
        let signing = Arc::clone(&signing);
        let stage = stage.clone();
        workers.push(std::thread::spawn(move || {
            while let Some((url, ())) = schedule::next(&queue) {
                if progress {
                    eprintln!("capturing {url}");
                }
                let result = capture_with_retries(&url, &stage, &opts, &signing);
                schedule::done(&queue, &url);
                if tx.send((url, result)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);

    let mut problems = 0usize;
    let stdout = std::io::stdout();
    for (url, result) in rx {
        let bundle = match result {
            Ok(b) => b,
            Err(e) => {
                problems += 1;
                report_failure(a.json, &url, &e, &stdout)?;
                continue;
            }
        };
        let kept = keep_bundle(cli, a, &bundle);
        let _ = std::fs::remove_dir_all(&bundle.dir);
        match kept {
            Ok(kept) => {
                let capture = &kept.capture;
                if !capture.complete {
                    problems += 1;
                }
                let mut out = stdout.lock();
                if a.json {
                    let line = json!({
                        "url": url,
                        "capture": kept.record,
                        "event": kept.event,
                        "complete": capture.complete,
                        "final_url": capture.final_url,
                        "status": capture.status,
                        "title": capture.title,
                        "problems": capture.problems,
                        "files": capture.artefacts,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "{} {url}: {} files, capture {}{}",
                        if capture.complete {
                            "captured"
                        } else {
                            "PARTIAL"
                        },
                        capture.artefacts.len(),
                        kept.record,
                        if capture.problems.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", capture.problems.join("; "))
                        }
                    )?;
                }
                out.flush()?;
            }
            Err(e) => {
                problems += 1;
                report_failure(a.json, &url, &format!("{e:#}"), &stdout)?;
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(if problems > 0 {
        ExitCode::from(EXIT_PROBLEM)
    } else {
        ExitCode::SUCCESS
    })
}

fn report_failure(json: bool, url: &str, e: &str, stdout: &std::io::Stdout) -> anyhow::Result<()> {
    if json {
        let mut out = stdout.lock();
        writeln!(out, "{}", json!({"url": url, "error": e}))?;
        out.flush()?;
    } else {
        eprintln!("error: {url}: {e}");
    }
    Ok(())
}

/// A named log-in profile: `profiles/NAME` in the archive, which must exist and be readable
/// by its owner only.
fn profile_dir(archive: &Archive, name: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--profile: a profile's name is letters, digits, - and _");
    }
    let dir = archive.root.join("profiles").join(name);
    let meta = std::fs::metadata(&dir).with_context(|| {
        format!(
            "--profile {name}: no profile at {} (make it with `chromium --user-data-dir={}`, log in, close it; or put a cookies.txt exported from your browser in it)",
            dir.display(),
            dir.display()
        )
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "--profile {name}: {} is readable by others; `chmod 700` it first",
            dir.display()
        );
    }
    let jar = dir.join(athar_capture::COOKIES_FILE);
    if let Ok(m) = std::fs::metadata(&jar) {
        if m.permissions().mode() & 0o077 != 0 {
            bail!(
                "--profile {name}: {} is readable by others; `chmod 600` it first",
                jar.display()
            );
        }
    }
    athar_capture::profile_cookies(Some(&dir))
        .map_err(|e| anyhow::anyhow!("--profile {name}: {e}"))?;
    Ok(dir)
}

/// One capture into a new folder under `stage` (named for this process, so that one left
/// by a killed process is swept), tried again (after 2 s, then 6 s) while the page could
/// not be reached at all.
pub(crate) fn capture_with_retries(
    url: &str,
    stage: &Path,
    opts: &CaptureOptions,
    signing: &p384::ecdsa::SigningKey,
) -> Result<Bundle, String> {
    let mut wait = Duration::from_secs(2);
    let mut tries = 0;
    loop {
        tries += 1;
        let dir = tempfile::Builder::new()
            .prefix(&format!(".tmp-{}-", std::process::id()))
            .tempdir_in(stage)
            .map_err(|e| format!("{}: {e}", stage.display()))?
            .keep();
        let result = athar_capture::capture(url, &dir, opts, signing);
        let unreached = match &result {
            Ok(b) => b.manifest.status.is_none(),
            Err(_) => true,
        };
        if !unreached || tries >= 3 {
            return result.map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                e.to_string()
            });
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::thread::sleep(wait);
        wait *= 3;
    }
}

/// Keeps one bundle: its files as items, then its record.
fn keep_bundle(cli: &Cli, a: &CaptureArgs, bundle: &Bundle) -> anyhow::Result<keep::Kept> {
    let mut archive = open_writable(cli)?;
    archive.write_into_case(Some(&a.case))?;
    let mut w = archive.writer()?;
    let opts = IngestOptions {
        case: Some(a.case.clone()),
        source: a.source.clone(),
        note: a.note.clone(),
        collector: w.collector.clone(),
        threads: 0,
        capture: None,
    };
    let kept = keep::keep_bundle(
        w.catalog,
        w.blobs,
        &mut w.logger,
        &bundle.dir,
        serde_json::to_value(&bundle.manifest)?,
        &opts,
    )?;
    archive.write_into_case(None)?;
    Ok(kept)
}

/// Runs `athar sources` (and `athar sources check`).
pub fn sources(cli: &Cli, a: &SourcesArgs) -> anyhow::Result<ExitCode> {
    match &a.cmd {
        None => list(cli, a),
        Some(SourcesCommand::Show { capture }) => {
            let archive = open(cli, Access::Read)?;
            crate::records::show(
                archive.catalog.as_ref(),
                capture,
                athar_core::records::RecordKind::Capture,
                a.json,
                false,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Some(SourcesCommand::Check {
            due,
            every,
            ca,
            proxy,
            tries,
        }) => {
            let roots = match ca {
                Some(p) => read_roots(p)?,
                None => Vec::new(),
            };
            check(
                cli,
                a,
                &CheckRun {
                    due: *due,
                    every: every.map(|h| Duration::from_secs_f64(h.max(0.0) * 3600.0)),
                    roots,
                    proxy: proxy.clone(),
                    tries: (*tries).max(1),
                },
            )
        }
    }
}

fn list(cli: &Cli, a: &SourcesArgs) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    let captures = keep::captures(archive.catalog.as_ref(), a.case.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (s, c) in captures {
        if a.gone && c.watch.state != "gone" {
            continue;
        }
        if a.json {
            let line = json!({
                "capture": s.record.id, "case": s.record.case, "url": c.url,
                "state": c.watch.state, "since": c.watch.since, "detail": c.watch.detail,
                "captured": c.started, "complete": c.complete, "title": c.title,
                "only_copy": c.watch.state == "gone",
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:<11} {:<20} {}  {}  [{}] {}",
                c.watch.state,
                c.watch.since.get(..19).unwrap_or(&c.watch.since),
                s.record.id,
                c.url,
                s.record.case,
                if c.watch.state == "gone" {
                    "— the archive holds the only copy"
                } else {
                    ""
                }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

struct CheckRun {
    due: bool,
    /// `--every`: one interval for every source, instead of the configured schedule.
    every: Option<Duration>,
    roots: Vec<Vec<u8>>,
    proxy: Option<String>,
    tries: u32,
}

fn check(cli: &Cli, a: &SourcesArgs, run: &CheckRun) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    let captures = keep::captures(archive.catalog.as_ref(), a.case.as_deref())?;
    let mut checked = CheckLog::load(&CheckLog::path_in(&archive.work_dir()));
    let schedule = match run.every {
        Some(every) => athar_store::WatchSchedule::uniform(Some(every)),
        None => archive.config.capture.schedule(),
    };
    drop(archive);
    // One check per address; its finding is kept on every capture of it.
    let mut by_url: BTreeMap<String, Vec<(String, String, Capture)>> = BTreeMap::new();
    for (s, c) in captures {
        by_url.entry(c.url.clone()).or_default().push((
            s.record.id.clone(),
            s.record.case.clone(),
            c,
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    let stdout = std::io::stdout();
    for (url, caps) in by_url {
        if run.due {
            let every = schedule.of_cases(caps.iter().map(|(_, case, _)| case.as_str()));
            if every.is_none_or(|every| !checked.is_due(&url, now, every)) {
                continue;
            }
        }
        let captured = caps
            .iter()
            .rev()
            .find_map(|(_, _, c)| c.content_sha256.clone());
        let has_media = caps.iter().any(|(_, _, c)| !c.media.is_empty());
        let cfg = athar_capture::watch::CheckConfig {
            proxy: run.proxy.clone(),
            extra_roots: run.roots.clone(),
            tries: run.tries,
            ytdlp: has_media
                .then(|| athar_capture::media::ytdlp_program(&athar_capture::media::tools_dir())),
            ..athar_capture::watch::CheckConfig::default()
        };
        let f = athar_capture::watch::check_source(&url, captured.as_deref(), &cfg);
        let at = athar_capture::now_rfc3339();
        let finding = Finding {
            state: f.state.as_str().to_owned(),
            detail: Some(f.detail.clone()),
            content_sha256: f.content_sha256.clone(),
            at: at.clone(),
        };
        let mut archive = open_writable(cli)?;
        let mut events = Vec::new();
        {
            let mut w = archive.writer()?;
            for (id, _, _) in &caps {
                if let Some(e) =
                    keep::note_finding(w.catalog, &mut w.logger, id, &finding, &w.collector)?
                {
                    events.push((id.clone(), e));
                }
            }
        }
        drop(archive);
        checked.mark(&url, &at);
        let mut out = stdout.lock();
        if a.json {
            let line = json!({
                "url": url, "state": f.state.as_str(), "status": f.status, "detail": f.detail,
                "final_url": f.final_url, "checked": at,
                "changed": events.iter().map(|(id, e)| json!({"capture": id, "event": e})).collect::<Vec<_>>(),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:<11} {url} ({}){}",
                f.state.as_str(),
                f.detail,
                if events.is_empty() {
                    ""
                } else {
                    " — recorded"
                }
            )?;
        }
        out.flush()?;
    }
    checked
        .save()
        .context("saving when each source was checked")?;
    Ok(ExitCode::SUCCESS)
}

/// Web capture for `athar serve` ([`athar_server::WebCapture`]): captures run in worker
/// threads of their own (at most one per core, started as addresses are queued and gone
/// once none waits) under the same [`Schedule`] as `athar capture` (one at a time on one
/// host, `HOST_INTERVAL` between two starts on one host); the deletion watch checks as
/// `athar sources check` does and shares its record of checks. The server keeps what it is
/// given; nothing here touches the archive.
pub(crate) struct ServerCapture {
    opts: Arc<CaptureOptions>,
    signing: Arc<p384::ecdsa::SigningKey>,
    /// Extra trusted roots (`ATHAR_CAPTURE_CA`), for checks too.
    roots: Vec<Vec<u8>>,
    queue: Arc<Mutex<Workers>>,
    /// The most captures at once.
    max: usize,
    checks: Mutex<CheckLog>,
}

impl std::fmt::Debug for ServerCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCapture")
            .field("max", &self.max)
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

/// Seconds between two captures on one host, for the server.
const HOST_INTERVAL: Duration = Duration::from_secs(2);

/// A capture waiting its turn, and what to tell of it.
struct Queued {
    stage: PathBuf,
    report: Box<dyn FnMut(athar_server::CaptureProgress) + Send>,
}

/// The schedule and how many workers run it.
struct Workers {
    schedule: Schedule<Queued>,
    running: usize,
}

impl ServerCapture {
    /// The capture service of `archive`: its WACZ signing key, the roots
    /// `ATHAR_CAPTURE_CA` names (a PEM file, for a TLS-intercepting proxy or a test site),
    /// its staging folder swept of what killed captures left.
    pub(crate) fn new(archive: &Archive) -> anyhow::Result<ServerCapture> {
        let roots = match std::env::var_os("ATHAR_CAPTURE_CA") {
            Some(p) if !p.is_empty() => read_roots(Path::new(&p)).context("ATHAR_CAPTURE_CA")?,
            _ => Vec::new(),
        };
        let stage = staging(archive);
        std::fs::create_dir_all(&stage).with_context(|| format!("making {}", stage.display()))?;
        sweep_staging(&stage);
        Ok(ServerCapture {
            opts: Arc::new(CaptureOptions {
                extra_roots: roots.clone(),
                ..CaptureOptions::default()
            }),
            signing: Arc::new(signing_key(archive)?),
            roots,
            queue: Arc::new(Mutex::new(Workers {
                schedule: Schedule::new(HOST_INTERVAL),
                running: 0,
            })),
            max: std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 16)),
            checks: Mutex::new(CheckLog::load(&CheckLog::path_in(&archive.work_dir()))),
        })
    }
}

/// One worker: captures what the schedule lets start until nothing waits.
fn capture_worker(
    queue: Arc<Mutex<Workers>>,
    opts: Arc<CaptureOptions>,
    signing: Arc<p384::ecdsa::SigningKey>,
) {
    use athar_server::{CaptureProgress, CapturedBundle};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    fn lock(q: &Mutex<Workers>) -> std::sync::MutexGuard<'_, Workers> {
        q.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    loop {
        let next = {
            let mut w = lock(&queue);
            match w.schedule.start(std::time::Instant::now()) {
                Some(job) => Some(job),
                None if w.schedule.is_empty() => {
                    // Decided under the lock a new address is queued under: never an
                    // address left with no worker.
                    w.running -= 1;
                    return;
                }
                None => None,
            }
        };
        let Some((url, mut job)) = next else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = catch_unwind(AssertUnwindSafe(|| (job.report)(CaptureProgress::Started)));
        let result = catch_unwind(AssertUnwindSafe(|| {
            capture_with_retries(&url, &job.stage, &opts, &signing)
        }))
        .unwrap_or_else(|_| Err("the capture failed unexpectedly".to_owned()))
        .and_then(|b| {
            let manifest = serde_json::to_value(&b.manifest).map_err(|e| e.to_string());
            if manifest.is_err() {
                let _ = std::fs::remove_dir_all(&b.dir);
            }
            Ok(CapturedBundle {
                dir: b.dir,
                manifest: manifest?,
            })
        });
        lock(&queue).schedule.done(&url);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            (job.report)(CaptureProgress::Finished(result))
        }));
    }
}

impl athar_server::WebCapture for ServerCapture {
    fn check_url(&self, url: &str) -> Result<(), String> {
        match athar_capture::check_url(url) {
            Ok(()) => Ok(()),
            Err(athar_capture::CaptureError::Url { why, .. }) => Err(why),
            Err(e) => Err(e.to_string()),
        }
    }

    fn queue(
        &self,
        url: &str,
        stage: &Path,
        report: Box<dyn FnMut(athar_server::CaptureProgress) + Send>,
    ) -> Result<(), String> {
        std::fs::create_dir_all(stage).map_err(|e| format!("{}: {e}", stage.display()))?;
        let mut w = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A worker started under the lock waits for it, so it finds the address queued.
        if w.running < self.max {
            let (queue, opts, signing) = (
                Arc::clone(&self.queue),
                Arc::clone(&self.opts),
                Arc::clone(&self.signing),
            );
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || capture_worker(queue, opts, signing))
                .map_err(|e| format!("starting a capture: {e}"))?;
            w.running += 1;
        }
        w.schedule.push(
            url.to_owned(),
            Queued {
                stage: stage.to_owned(),
                report,
            },
        );
        Ok(())
    }

    fn due_sources(&self, sources: &[(String, Duration)]) -> Vec<String> {
        let checks = self
            .checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = time::OffsetDateTime::now_utc();
        sources
            .iter()
            .filter(|(u, every)| checks.is_due(u, now, *every))
            .map(|(u, _)| u.clone())
            .collect()
    }

    fn check_source(
        &self,
        url: &str,
        captured_sha256: Option<&str>,
        has_media: bool,
    ) -> athar_server::SourceCheck {
        let cfg = athar_capture::watch::CheckConfig {
            extra_roots: self.roots.clone(),
            ytdlp: has_media
                .then(|| athar_capture::media::ytdlp_program(&athar_capture::media::tools_dir())),
            ..athar_capture::watch::CheckConfig::default()
        };
        let f = athar_capture::watch::check_source(url, captured_sha256, &cfg);
        athar_server::SourceCheck {
            state: f.state.as_str().to_owned(),
            detail: f.detail,
            content_sha256: f.content_sha256,
            at: athar_capture::now_rfc3339(),
        }
    }

    fn source_checked(&self, url: &str, at: &str) -> Result<(), String> {
        let mut checks = self
            .checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        checks.mark(url, at);
        checks
            .save()
            .map_err(|e| format!("saving when each source was checked: {e}"))
    }
}
