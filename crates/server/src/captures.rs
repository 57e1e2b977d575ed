//! Web captures over HTTP: addresses queued for capture into a case, the case's captures
//! with what the deletion watch last found, and the watch itself, run on a schedule.
//!
//! The capturing is the binary's ([`crate::WebCapture`]: a browser, a recording proxy,
//! yt-dlp), in its own threads, never holding the archive; the server keeps each bundle it
//! gives back (its files as items with `capture` custody events, then the capture record,
//! `athar_core::capture::keep`) under the archive's mutex, and each change of a source's
//! state as one custody event on its capture (`athar_core::capture::note_finding`).
//!
//! Who may do what: admins and investigators capture into their cases (as they collect
//! uploads); every role reads the captures of its cases. A case the caller is not on
//! answers as one that does not exist (404). The queue is kept in the archive's work folder
//! (`captures/queue.json`, owner-only) before a request is acknowledged: a capture waiting
//! or running when the server stops is made when it starts again (one cut short starts
//! over; its staging folder is swept), one that failed is listed for [`FAILED_SHOWN`]. A
//! bundle kept just before a crash, before its job left the queue, is captured again:
//! two captures of one address, never none.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use athar_core::accounts::Role;
use athar_core::capture::{self as keep, Finding};
use athar_core::ingest::IngestOptions;
use athar_core::records::Capture;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::{
    blocking, reading, ApiError, AppState, CaptureProgress, CapturedBundle, Extensions,
    WatchSchedule,
};

type St = State<Arc<AppState>>;

/// The most addresses one request queues.
pub const MAX_URLS: usize = 100;
/// How long a failed capture stays listed.
pub const FAILED_SHOWN: Duration = Duration::from_secs(24 * 3600);
/// The longest check interval between two rounds of the deletion watch.
const WATCH_TICK: Duration = Duration::from_secs(10 * 60);

/// Where a capture job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum JobState {
    Queued,
    Running,
    Failed,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Failed => "failed",
        }
    }
}

/// One address queued for capture.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    id: u64,
    case: String,
    url: String,
    source: Option<String>,
    note: Option<String>,
    /// Who queued it: the collector of its files and the actor of its events.
    user: String,
    state: JobState,
    error: Option<String>,
    /// When it was queued (RFC 3339).
    queued: String,
    /// When it failed (seconds since the Unix epoch).
    failed_at: Option<u64>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Job {
    /// Whether it is still listed: not failed, or failed less than [`FAILED_SHOWN`] ago.
    fn shown(&self) -> bool {
        self.failed_at
            .is_none_or(|at| unix_now().saturating_sub(at) < FAILED_SHOWN.as_secs())
    }
}

/// The captures queued, running or failed (those kept are their records), kept in a file
/// of the archive's work folder so that a capture queued survives the server's stop.
#[derive(Debug, Default)]
pub(crate) struct Jobs(Mutex<JobTable>);

#[derive(Debug, Default)]
struct JobTable {
    next: u64,
    jobs: Vec<Job>,
    /// Where the table is kept (None: in memory only, as in a router made for tests).
    file: Option<PathBuf>,
}

impl JobTable {
    /// Writes the table to its file (a temporary file, made durable, renamed over it):
    /// a crash leaves the old table or the new one.
    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            // The last id given out is kept too, so ids are never given out twice.
            let kept = json!({ "next": self.next, "jobs": self.jobs });
            f.write_all(&serde_json::to_vec(&kept)?)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl Jobs {
    /// The table kept at `path`: its jobs as they were when the server stopped (none when
    /// the file is missing). An unreadable file is an error naming it, never emptied.
    pub(crate) fn load(path: &std::path::Path) -> std::io::Result<Jobs> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Kept {
            Table {
                next: u64,
                jobs: Vec<Job>,
            },
            /// Before the last id was kept.
            Jobs(Vec<Job>),
        }
        let kept = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::other(format!("{}: not a capture queue: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kept::Jobs(Vec::new()),
            Err(e) => return Err(std::io::Error::other(format!("{}: {e}", path.display()))),
        };
        let (next, jobs) = match kept {
            Kept::Table { next, jobs } => (next, jobs),
            Kept::Jobs(jobs) => (0, jobs),
        };
        let next = jobs.iter().map(|j| j.id).max().unwrap_or(0).max(next);
        Ok(Jobs(Mutex::new(JobTable {
            next,
            jobs,
            file: Some(path.to_owned()),
        })))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, JobTable> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a job, kept before this returns (the caller acknowledges it afterwards).
    fn add(&self, mut job: Job) -> Result<Job, ApiError> {
        let mut t = self.table();
        t.next += 1;
        job.id = t.next;
        t.jobs.retain(Job::shown);
        t.jobs.push(job.clone());
        if let Err(e) = t.save() {
            t.jobs.retain(|j| j.id != job.id);
            return Err(ApiError::internal(format!(
                "keeping the capture queue: {e}"
            )));
        }
        Ok(job)
    }

    fn get(&self, id: u64) -> Option<Job> {
        self.table().jobs.iter().find(|j| j.id == id).cloned()
    }

    fn set(&self, id: u64, state: JobState, error: Option<String>) {
        let mut t = self.table();
        if let Some(j) = t.jobs.iter_mut().find(|j| j.id == id) {
            j.state = state;
            j.error = error;
            if state == JobState::Failed {
                j.failed_at = Some(unix_now());
            }
        }
        saved(&t);
    }

    fn remove(&self, id: u64) {
        let mut t = self.table();
        t.jobs.retain(|j| j.id != id);
        saved(&t);
    }

    /// The jobs that were waiting or running when the server stopped, queued again.
    fn unfinished(&self) -> Vec<Job> {
        let mut t = self.table();
        let out: Vec<Job> = t
            .jobs
            .iter_mut()
            .filter(|j| j.state != JobState::Failed)
            .map(|j| {
                j.state = JobState::Queued;
                j.clone()
            })
            .collect();
        saved(&t);
        out
    }

    /// The jobs of `case` as the caller sees them: why one failed only to admins and to
    /// whoever queued it.
    fn of_case(&self, case: &str, caller: &Caller) -> Vec<Value> {
        self.table()
            .jobs
            .iter()
            .filter(|j| j.case == case && j.shown())
            .map(|j| {
                let own = caller.is_admin() || caller.user.name == j.user;
                json!({
                    "id": j.id,
                    "url": j.url,
                    "state": j.state.as_str(),
                    "error": if own { j.error.clone() } else { None },
                    "queued": j.queued,
                    "by": j.user,
                })
            })
            .collect()
    }
}

/// Saves a table changed after its job was acknowledged: a failure is reported on stderr
/// (the change holds in memory; the next save carries it).
fn saved(t: &JobTable) {
    if let Err(e) = t.save() {
        eprintln!("athar serve: keeping the capture queue: {e}");
    }
}

/// The binary's web capture, when it has one.
fn web(state: &AppState) -> Option<Arc<dyn Extensions>> {
    state
        .options
        .extensions
        .clone()
        .filter(|e| e.web_capture().is_some())
}

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "web capture is not available on this server",
    )
}

fn missing_case() -> ApiError {
    ApiError::not_found("no such case")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaptureBody {
    case: String,
    urls: Vec<String>,
    source: Option<String>,
    note: Option<String>,
}

/// A free-text field: trimmed, at most `max` bytes on one line; None when blank.
fn text(name: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() > max || v.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{name}: at most {max} bytes on one line"
        )));
    }
    Ok(Some(v.to_owned()))
}

/// `POST /api/captures`: queue addresses for capture into a case.
pub async fn create(
    State(state): St,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Read here rather than by the extractor: a body of the wrong shape is bad input (400).
    let body: CaptureBody = serde_path_to_error::deserialize(body)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.path(), e.inner())))?;
    let case = body.case.trim().to_owned();
    if case.is_empty() {
        return Err(ApiError::bad_request("case: required"));
    }
    let source = text("source", body.source, 1000)?;
    let note = text("note", body.note, 4000)?;
    let ext = web(&state).ok_or_else(unavailable)?;
    let capture = ext.web_capture().ok_or_else(unavailable)?;
    if body.urls.len() > MAX_URLS {
        return Err(ApiError::bad_request(format!(
            "urls: at most {MAX_URLS} addresses at once"
        )));
    }
    // Every address is checked before any is queued.
    let mut urls: Vec<String> = Vec::new();
    for (i, u) in body.urls.iter().enumerate() {
        let u = u.trim();
        if u.len() > 8192 {
            return Err(ApiError::bad_request(format!(
                "urls[{i}]: longer than 8192 bytes"
            )));
        }
        capture
            .check_url(u)
            .map_err(|why| ApiError::bad_request(format!("urls[{i}] {u:?}: {why}")))?;
        if !urls.iter().any(|x| x == u) {
            urls.push(u.to_owned());
        }
    }
    if urls.is_empty() {
        return Err(ApiError::bad_request("urls: at least one address"));
    }
    if !matches!(caller.user.role, Role::Admin | Role::Investigator) {
        return Err(ApiError::forbidden(
            "only admins and investigators capture evidence",
        ));
    }
    let who = caller.clone();
    let case = reading(&state, move |cat| {
        if who.can_see(&case) && cat.case_exists(&case)? {
            Ok(case)
        } else {
            Err(missing_case())
        }
    })
    .await?;
    let mut queued = Vec::new();
    for url in urls {
        let job = state.captures.add(Job {
            id: 0,
            case: case.clone(),
            url: url.clone(),
            source: source.clone(),
            note: note.clone(),
            user: caller.user.name.clone(),
            state: JobState::Queued,
            error: None,
            queued: athar_core::now_rfc3339(),
            failed_at: None,
        })?;
        start(&state, capture, &job);
        queued.push(json!({ "id": job.id, "url": url, "state": "queued" }));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "case": case, "jobs": queued })),
    ))
}

/// Hands a job to the binary's capture queue.
fn start(state: &Arc<AppState>, capture: &dyn crate::WebCapture, job: &Job) {
    let report = reporter(state.clone(), job.id);
    if let Err(e) = capture.queue(&job.url, &state.capture_stage, report) {
        eprintln!("athar serve: capture of {}: {e}", job.url);
        state.captures.set(job.id, JobState::Failed, Some(e));
    }
}

/// Queues again the captures that were waiting or running when the server last stopped
/// (one that was running starts over: its folder was swept).
pub(crate) fn resume(state: &Arc<AppState>, ext: &Arc<dyn Extensions>) {
    let Some(capture) = ext.web_capture() else {
        return;
    };
    for job in state.captures.unfinished() {
        start(state, capture, &job);
    }
}

/// What a queued capture reports, acted on in the binary's thread: the bundle is kept
/// under the archive's mutex (held for that only), then its folder removed.
fn reporter(state: Arc<AppState>, id: u64) -> Box<dyn FnMut(CaptureProgress) + Send> {
    Box::new(move |p| match p {
        CaptureProgress::Started => state.captures.set(id, JobState::Running, None),
        CaptureProgress::Finished(Err(e)) => {
            state.captures.set(id, JobState::Failed, Some(e));
        }
        CaptureProgress::Finished(Ok(bundle)) => {
            let kept = match state.captures.get(id) {
                Some(job) => keep_bundle(&state, &job, &bundle),
                None => Err("the capture was forgotten".to_owned()),
            };
            let _ = std::fs::remove_dir_all(&bundle.dir);
            match kept {
                Ok(_) => state.captures.remove(id),
                Err(e) => {
                    eprintln!("athar serve: keeping a capture: {e}");
                    state.captures.set(id, JobState::Failed, Some(e));
                }
            }
        }
    })
}

/// Keeps one bundle in the job's case: its files as items, then its record. Returns the
/// record's id.
fn keep_bundle(state: &AppState, job: &Job, bundle: &CapturedBundle) -> Result<String, String> {
    let mut a = state
        .archive
        .lock()
        .map_err(|_| "archive mutex poisoned".to_owned())?;
    a.write_into_case(Some(&job.case))
        .map_err(|e| e.to_string())?;
    let kept = (|| {
        let mut w = a.writer().map_err(|e| e.to_string())?;
        let opts = IngestOptions {
            case: Some(job.case.clone()),
            source: job.source.clone(),
            note: job.note.clone(),
            collector: job.user.clone(),
            threads: 0,
            capture: None,
        };
        keep::keep_bundle(
            w.catalog,
            w.blobs,
            &mut w.logger,
            &bundle.dir,
            bundle.manifest.clone(),
            &opts,
        )
        .map_err(|e| e.to_string())
    })();
    let sealing = a.write_into_case(None).map_err(|e| e.to_string());
    let kept = kept?;
    sealing?;
    // Search finds it by address, title and uploader (an index behind catches up at the
    // next search anyway).
    if let Err(e) = athar_store::search_index::update(&a) {
        eprintln!("athar serve: updating the search index: {e}");
    }
    Ok(kept.record)
}

/// A capture as the captures route shows it.
fn capture_json(id: &str, c: &Capture) -> Value {
    json!({
        "id": id,
        "url": c.url,
        "final_url": c.final_url,
        "status": c.status,
        "title": c.title,
        "site_name": c.site_name,
        "author": c.author,
        "published": c.published,
        "started": c.started,
        "ended": c.ended,
        "complete": c.complete,
        "problems": c.problems,
        "note": c.note,
        "watch": {
            "state": c.watch.state,
            "since": c.watch.since,
            "detail": c.watch.detail,
        },
        "only_copy": c.watch.state == "gone",
        "files": c.artefacts.iter().map(|f| json!({
            "role": f.role, "name": f.name, "item": f.item, "sha256": f.sha256,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/cases/{case}/captures`: the case's captures, oldest first, and the captures
/// still queued, running or failed.
pub async fn list(
    State(state): St,
    caller: Caller,
    Path(case): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !caller.can_see(&case) {
        return Err(missing_case());
    }
    // The jobs before the records: a capture kept in between is listed twice (queued and
    // kept), never missing.
    let jobs = state.captures.of_case(&case, &caller);
    let available = web(&state).is_some();
    reading(&state, move |cat| {
        if !cat.case_exists(&case)? {
            return Err(missing_case());
        }
        let protected = crate::api::ProtectedReaders::default().may_read(cat, &caller, &case)?;
        let captures: Vec<Value> = keep::captures(cat, Some(&case))?
            .into_iter()
            .map(|(s, c)| {
                let c = if protected {
                    c
                } else {
                    match s.record.body.redacted() {
                        athar_core::records::Body::Capture(r) => *r,
                        _ => c,
                    }
                };
                capture_json(&s.record.id, &c)
            })
            .collect();
        Ok(Json(json!({
            "case": case,
            "available": available,
            "captures": captures,
            "jobs": jobs,
        })))
    })
    .await
}

/// The deletion watch: every round (a quarter of the shortest interval, at most ten
/// minutes, at least a second) checks the captured sources that are due, one address at a
/// time, each over the network without the archive; a finding is kept on every capture of
/// its address under the archive's mutex (one custody event per change of state). A
/// source is due by the interval of its case, the shortest of its cases' when it was
/// captured into several ([`WatchSchedule::of_cases`]).
pub(crate) async fn watch_loop(
    state: Arc<AppState>,
    ext: Arc<dyn Extensions>,
    schedule: WatchSchedule,
) {
    let Some(shortest) = schedule.shortest() else {
        return;
    };
    let tick = (shortest / 4).clamp(Duration::from_secs(1), WATCH_TICK);
    loop {
        tokio::time::sleep(tick).await;
        // A failure is reported on stderr (`ApiError::internal`) and waits a round.
        let _ = watch_round(&state, &ext, &schedule).await;
    }
}

/// What one address's captures share for a check.
#[derive(Debug, Default)]
struct Source {
    captures: Vec<String>,
    cases: Vec<String>,
    captured_sha256: Option<String>,
    has_media: bool,
}

async fn watch_round(
    state: &Arc<AppState>,
    ext: &Arc<dyn Extensions>,
    schedule: &WatchSchedule,
) -> Result<(), ApiError> {
    let captures = reading(state, |cat| Ok(keep::captures(cat, None)?)).await?;
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    for (s, c) in captures {
        let src = sources.entry(c.url.clone()).or_default();
        src.captures.push(s.record.id.clone());
        src.cases.push(s.record.case.clone());
        // The latest capture's text is what a change is measured against.
        if c.content_sha256.is_some() {
            src.captured_sha256 = c.content_sha256.clone();
        }
        src.has_media |= !c.media.is_empty();
    }
    // Sources whose cases do not watch them are left out.
    let watched: Vec<(String, Duration)> = sources
        .iter()
        .filter_map(|(url, src)| {
            let every = schedule.of_cases(src.cases.iter().map(String::as_str))?;
            Some((url.clone(), every))
        })
        .collect();
    if watched.is_empty() {
        return Ok(());
    }
    let e = ext.clone();
    let due = tokio::task::spawn_blocking(move || {
        e.web_capture()
            .map(|w| w.due_sources(&watched))
            .unwrap_or_default()
    })
    .await
    .map_err(ApiError::internal)?;
    for url in due {
        let Some(src) = sources.remove(&url) else {
            continue;
        };
        let e = ext.clone();
        let (u, sha, media) = (url.clone(), src.captured_sha256.clone(), src.has_media);
        let found = tokio::task::spawn_blocking(move || {
            e.web_capture()
                .map(|w| w.check_source(&u, sha.as_deref(), media))
        })
        .await
        .map_err(ApiError::internal)?;
        let Some(found) = found else {
            return Ok(());
        };
        let at = found.at.clone();
        let finding = Finding {
            state: found.state,
            detail: Some(found.detail),
            content_sha256: found.content_sha256,
            at: found.at,
        };
        let ids = src.captures;
        blocking(state, move |a| {
            let mut w = a.writer().map_err(ApiError::internal)?;
            let actor = w.collector.clone();
            let mut changed = false;
            for id in &ids {
                match keep::note_finding(w.catalog, &mut w.logger, id, &finding, &actor) {
                    Ok(event) => changed |= event.is_some(),
                    // Deleted since the round began: nothing to keep it on.
                    Err(e) => eprintln!("athar serve: deletion watch: {id}: {e}"),
                }
            }
            drop(w);
            if changed {
                athar_store::search_index::update(a).map_err(ApiError::internal)?;
            }
            Ok(())
        })
        .await?;
        let e = ext.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(Err(err)) = e.web_capture().map(|w| w.source_checked(&url, &at)) {
                eprintln!("athar serve: deletion watch: {err}");
            }
        })
        .await
        .map_err(ApiError::internal)?;
    }
    Ok(())
}

/// The web capture of `ext`, for the watch: whether there is one.
pub(crate) fn watches(ext: &Arc<dyn Extensions>) -> bool {
    ext.web_capture().is_some()
}
