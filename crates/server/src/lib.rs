//! `athar-server`: the HTTP API and the web UI over an archive. The only crate that knows HTTP
//! (axum, HTTP/1, no TLS: a proxy in front terminates it). See `docs/api.md`.
//!
//! One [`Archive`], opened for writing (it holds the writer lock), is owned by the server
//! behind a mutex, taken only to write: handlers that write do their catalog and blob work on
//! a blocking thread while holding it; handlers that only read, and authentication, use a
//! small pool of read-only catalog connections (`reading`; with SQLite in WAL mode readers
//! never wait for the writer); upload and download bytes stream without either.
//!
//! - [`routes`]: the single route table. The router is built from it by an exhaustive `match`,
//!   [`openapi`] generates the OpenAPI 3.1 document from it, the tests enumerate it. Pages are
//!   routes too (`page: true`: not in the OpenAPI document; anonymous requests are redirected
//!   to `/login`).
//! - [`auth`]: argon2id passwords; sessions and API tokens stored as SHA-256; CSRF (a
//!   session-bound token repeated in `X-CSRF-Token`); a log-in rate limit (5 attempts a minute
//!   per account and per address, each reserved before its password check; a device cookie
//!   from an earlier log-in has its own budget, so locking out unknown devices does not lock
//!   the user out); API tokens expire and cannot mint tokens; the [`auth::Caller`] extractor,
//!   which also holds a caller whose role requires a second factor they have not set up to
//!   the routes marked `enrolling` (403 `second_factor_enrolment_required` elsewhere).
//! - [`totp`] and `factor.rs`: the second factor (TOTP, RFC 6238, with recovery codes),
//!   required for the roles `[server] second_factor` names (default: admins); signing in
//!   then needs a code, accepted once (a replayed or older step is refused), and wrong codes
//!   spend the log-in budgets and a per-account budget of their own ([`CODE_FAILURES`] in
//!   [`CODE_WINDOW`], refusing silently at log-in). Also each caller's sessions (listed and
//!   ended by their owner) and the record of sign-ins and failed sign-ins.
//!   [`serve`] closes connections that stall on their headers, idle, or stall a body.
//! - `api.rs`: the handlers, reading through `athar_core::scope`: an item's events and cases
//!   are only those of the caller's cases, a record's hash is shown only with its protected
//!   fields, job errors only to admins. A content download records an `access` custody event
//!   first; single ranges are answered 206/416, and one access event covers a caller's range
//!   requests on an item for [`VIEWING_WINDOW`].
//! - `views.rs`: what the review pages read: the caller and their safe-review settings, review
//!   images (a clear one is an access event), near-duplicates, custody proofs, the checkpoint
//!   and key, incidents with coordinates.
//! - `write.rs`: record create, edit and delete by role and case
//!   (`athar_core::records::apply_as` with a `Restriction`; only admins write case records).
//! - `export.rs`: a case's bag built under `exports/` and streamed as a reproducible tar.
//! - [`uploads`]: tus 1.0.0 resumable uploads, streamed and hashed into `uploads/<id>.part`
//!   without the archive mutex, then made items by [`Archive::ingest_upload`].
//! - `captures.rs`: web captures queued into a case (admins, investigators), made by the
//!   binary's [`WebCapture`] in threads of its own without the archive, each bundle kept
//!   (items with `capture` events, then the capture record) under the archive mutex; the
//!   case's captures and the jobs still queued, running or failed; the deletion watch, a
//!   loop checking the sources due and keeping each change of state as one custody event.
//! - `web.rs`: the browser app: two HTML pages and their scripts and styles from `assets/`,
//!   compiled in, no inline code, `tus-js-client` vendored; a plain front end over the JSON
//!   API.
//!
//! What needs the media libraries is handed in by the binary as [`Extensions`]: the similarity
//! index (near-duplicates search it in memory, on a blocking thread with a read-only catalog
//! connection) and the job runner, whose claim and commit take the archive mutex and whose
//! analysis runs without it (an idle server looks for queued jobs about once a second); and
//! web capture ([`WebCapture`]: a browser, a recording proxy, yt-dlp, the network).
//!
//! Depends on `athar-core`, `athar-store` and `athar-search`. Must not: link `athar-media`,
//! `athar-analysis`, `athar-capture` or any media decoder, run a browser, serve content with an executable type, or log
//! secrets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use athar_core::accounts::{Role, User};
use athar_core::jobs::{Analysed, Claimed, Committed};
use athar_core::Database;
use athar_core::{Catalog, Item, ItemId};
use athar_store::{Archive, Backends};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{delete, get, head, options, patch, post, put, MethodRouter};
use axum::Router;

mod api;
pub mod auth;
mod captures;
mod documentation;
mod error;
mod export;
mod factor;
pub mod openapi;
mod persons;
pub mod routes;
mod session;
pub mod totp;
pub mod uploads;
mod views;
mod web;
mod write;

pub use error::ApiError;
use routes::{Endpoint, Method, ROUTES};

/// Largest request body accepted on JSON routes. Upload bytes (PATCH /api/uploads/{id})
/// are streamed and bounded by the upload's declared length instead.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What the binary adds that needs the media libraries.
pub trait Extensions: Send + Sync {
    /// Items sharing footage with `item` that share at least `min_share` of their frames,
    /// best first: each match's item and its JSON description (shares, distance,
    /// transform, segments). `Ok(None)` when the item has no fingerprints yet. Called on a
    /// blocking thread with a read-only catalog connection, without the archive: it
    /// searches an index kept in memory, reading the catalog for the matched items (and,
    /// for an item fingerprinted since the index last caught up, its new fingerprints).
    #[allow(clippy::type_complexity)]
    fn near_duplicates(
        &self,
        catalog: &dyn Catalog,
        item: &Item,
        min_share: f64,
    ) -> Result<Option<Vec<(ItemId, serde_json::Value)>>, String>;
    /// Claims the next queued background job (fingerprints, metadata, review images,
    /// SHA-512): a short catalog transaction, called with the archive locked. None when
    /// no job is waiting.
    fn claim_job(&self, archive: &mut Archive) -> Result<Option<Claimed>, String>;
    /// Analyses a claimed job (decoding, hashing: it may take minutes). Called on a
    /// blocking thread without the archive: requests go on meanwhile.
    fn analyse_job(&self, job: Claimed) -> Analysed;
    /// Records what the analysis made (short; called with the archive locked).
    fn commit_job(&self, archive: &mut Archive, job: Analysed) -> Result<Committed, String>;
    /// After fingerprint jobs: brings what is derived from fingerprints (the similarity
    /// index) up to date. Called with a read-only catalog connection, without the archive.
    fn fingerprints_changed(&self, catalog: &dyn Catalog) -> Result<(), String>;
    /// Web capture and the deletion watch, when the binary has them; without them the
    /// capture routes answer 501 and no source is checked.
    fn web_capture(&self) -> Option<&dyn WebCapture> {
        None
    }
}

/// What the binary adds for web capture (`athar-capture`: a browser, a recording proxy,
/// yt-dlp, the network), which the server never runs itself. None of it touches the
/// archive: the server keeps what it gives back.
pub trait WebCapture: Send + Sync {
    /// Whether `url` is an address the archive captures; why not, in words, otherwise.
    fn check_url(&self, url: &str) -> Result<(), String>;
    /// Queues a capture of `url` and returns at once. The binary runs it when its schedule
    /// allows (a bounded number at once, one at a time on one host, a gap between two on
    /// one host), in a new folder under `stage`, and tells `report`, on its own thread:
    /// [`CaptureProgress::Started`], then [`CaptureProgress::Finished`] with the bundle
    /// (whose folder is then the caller's to keep and remove) or why nothing was captured.
    fn queue(
        &self,
        url: &str,
        stage: &Path,
        report: Box<dyn FnMut(CaptureProgress) + Send>,
    ) -> Result<(), String>;
    /// Which of `sources` (each an address and how often it is checked) are due for a
    /// check (never checked, or last checked longer than its interval ago, stretched by a
    /// jitter fixed per address), by the record of checks it shares with `athar sources
    /// check`.
    fn due_sources(&self, sources: &[(String, Duration)]) -> Vec<String>;
    /// Checks whether a captured source is still there (over the network, tried again
    /// while it cannot be reached: it may take a minute). `captured_sha256` is the hash of
    /// the page's text when captured; `has_media`: ask yt-dlp too.
    fn check_source(
        &self,
        url: &str,
        captured_sha256: Option<&str>,
        has_media: bool,
    ) -> SourceCheck;
    /// Records that `url` was checked at `at` (RFC 3339), once its finding is kept.
    fn source_checked(&self, url: &str, at: &str) -> Result<(), String>;
}

/// How a queued capture goes ([`WebCapture::queue`]).
#[derive(Debug)]
pub enum CaptureProgress {
    /// Its turn came: the browser runs.
    Started,
    /// Done: the bundle, or why nothing could be captured.
    Finished(Result<CapturedBundle, String>),
}

/// A capture's bundle: its folder and its manifest (`capture.json`, which
/// `athar_core::capture::record_of` makes the capture record from).
#[derive(Debug)]
pub struct CapturedBundle {
    pub dir: PathBuf,
    pub manifest: serde_json::Value,
}

/// What a check of a source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCheck {
    /// `available`, `changed`, `gone`, `login` or `unreachable`.
    pub state: String,
    /// Why, in words (a status, a phrase the page shows, an error).
    pub detail: String,
    /// The hash of the page's text now, when it answered with a page.
    pub content_sha256: Option<String>,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// How the server is run.
#[derive(Clone)]
pub struct Options {
    /// TLS is terminated in front of the server: cookies get `Secure`.
    pub secure_cookies: bool,
    /// Similarity search and background jobs; without them near-duplicates answer 501
    /// and queued jobs wait for `athar jobs --run`.
    pub extensions: Option<Arc<dyn Extensions>>,
    /// How long a connection may take to send a complete request head, counted from when
    /// the server is ready to read one: a slow client (slowloris) and a keep-alive
    /// connection left idle that long are both closed. Default [`HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// How long a request body may go without a byte while its handler waits for more;
    /// the handler then sees an error and the connection is closed. Default
    /// [`BODY_STALL_TIMEOUT`].
    pub body_stall_timeout: Duration,
    /// How often the deletion watch checks each captured source (stretched by a jitter of
    /// up to ±10 % per address), per case, when the extensions capture. Default a day for
    /// every case ([`CHECK_SOURCES_EVERY`]).
    pub check_sources: WatchSchedule,
}

pub use athar_store::{WatchSchedule, CHECK_SOURCES_EVERY};

/// Default [`Options::header_timeout`].
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`Options::body_stall_timeout`].
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for Options {
    fn default() -> Options {
        Options {
            secure_cookies: false,
            extensions: None,
            header_timeout: HEADER_TIMEOUT,
            body_stall_timeout: BODY_STALL_TIMEOUT,
            check_sources: WatchSchedule::uniform(Some(CHECK_SOURCES_EVERY)),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("secure_cookies", &self.secure_cookies)
            .field("extensions", &self.extensions.is_some())
            .field("header_timeout", &self.header_timeout)
            .field("body_stall_timeout", &self.body_stall_timeout)
            .field("check_sources", &self.check_sources)
            .finish()
    }
}

/// How long one logged access covers a caller's further range requests for the same item
/// (a video player seeking), so that one viewing is one custody event, not hundreds.
pub const VIEWING_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Wrong second-factor codes an account may spend in [`CODE_WINDOW`] (at log-in, further
/// codes are refused unchecked, with the answer of a wrong one).
pub const CODE_FAILURES: usize = 10;
/// The window of [`CODE_FAILURES`].
pub const CODE_WINDOW: Duration = Duration::from_secs(30 * 60);

/// State shared by the handlers.
#[derive(Debug)]
pub struct AppState {
    archive: Mutex<Archive>,
    limiter: Mutex<auth::RateLimiter>,
    /// Each account's budget of wrong second-factor codes (keys `code:<user id>`).
    codes: Mutex<auth::RateLimiter>,
    /// The roles that must use a second factor (`[server] second_factor`).
    second_factor: Vec<Role>,
    /// When each (user, item) last had an access event logged by a content request.
    viewings: Mutex<HashMap<(i64, ItemId), Instant>>,
    options: Options,
    uploads: uploads::UploadState,
    /// Read-only catalog connections, see [`reading`].
    readers: Readers,
    /// Opens more read-only catalog connections.
    backends: Backends,
    /// Web captures queued, running or failed.
    captures: captures::Jobs,
    /// Where captures are made before they are kept (`captures/` in the work folder).
    capture_stage: PathBuf,
}

impl AppState {
    /// Whether `role` must use a second factor.
    pub(crate) fn requires_factor(&self, role: Role) -> bool {
        self.second_factor.contains(&role)
    }

    /// Whether `user` must set up a second factor before anything else.
    pub(crate) fn must_enrol(&self, user: &User) -> bool {
        self.requires_factor(user.role) && !user.second_factor
    }
}

/// Read-only connections kept for reuse.
const READERS: usize = 8;

/// The pool of read-only catalog connections.
#[derive(Default)]
struct Readers(Mutex<Vec<Box<dyn Database>>>);

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.0.lock().map(|p| p.len()).unwrap_or(0);
        f.debug_struct("Readers").field("idle", &idle).finish()
    }
}

/// Runs `f` on a blocking thread with the archive locked.
pub(crate) async fn blocking<T, F>(state: &Arc<AppState>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Archive) -> Result<T, ApiError> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut archive = state
            .archive
            .lock()
            .map_err(|_| ApiError::internal("archive mutex poisoned"))?;
        f(&mut archive)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Runs `f` on a blocking thread with a read-only catalog connection from a small pool
/// beside the writer's, opened by the archive's configured backend. Readers never wait for
/// the writer (the embedded catalog runs SQLite in WAL mode), so log-in checks, listings
/// and reads go on while the archive mutex is held (an upload being made an item, a bag
/// being built, an access being logged).
pub(crate) async fn reading<T, F>(state: &Arc<AppState>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Database) -> Result<T, ApiError> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let pooled = state
            .readers
            .0
            .lock()
            .map_err(|_| ApiError::internal("reader pool mutex poisoned"))?
            .pop();
        let cat = match pooled {
            Some(c) => c,
            None => state.backends.open_catalog(false)?,
        };
        let out = f(cat.as_ref());
        if let Ok(mut pool) = state.readers.0.lock() {
            if pool.len() < READERS {
                pool.push(cat);
            }
        }
        out
    })
    .await
    .map_err(ApiError::internal)?
}

fn method_router(method: Method, endpoint: Endpoint) -> MethodRouter<Arc<AppState>> {
    macro_rules! on {
        ($h:expr) => {
            match method {
                Method::Get => get($h),
                Method::Head => head($h),
                Method::Post => post($h),
                Method::Put => put($h),
                Method::Patch => patch($h),
                Method::Delete => delete($h),
                Method::Options => options($h),
            }
        };
    }
    match endpoint {
        Endpoint::Health => on!(api::health),
        Endpoint::OpenApi => on!(api::openapi),
        Endpoint::Login => on!(session::login),
        Endpoint::Logout => on!(session::logout),
        Endpoint::CreateToken => on!(session::create_token),
        Endpoint::RevokeToken => on!(session::revoke_token),
        Endpoint::SecondFactor => on!(factor::status),
        Endpoint::StartSecondFactor => on!(factor::start),
        Endpoint::ConfirmSecondFactor => on!(factor::confirm),
        Endpoint::DisableSecondFactor => on!(factor::disable),
        Endpoint::RenewRecoveryCodes => on!(factor::renew_recovery_codes),
        Endpoint::ResetSecondFactor => on!(factor::reset),
        Endpoint::Sessions => on!(factor::sessions),
        Endpoint::EndSession => on!(factor::end_session),
        Endpoint::MySignIns => on!(factor::my_sign_ins),
        Endpoint::SignIns => on!(factor::sign_ins),
        Endpoint::Cases => on!(documentation::cases),
        Endpoint::Items => on!(api::items),
        Endpoint::Item => on!(api::item),
        Endpoint::ItemContent => on!(api::item_content),
        Endpoint::Records => on!(api::records),
        Endpoint::Record => on!(api::record),
        Endpoint::RecordHistory => on!(documentation::record_history),
        Endpoint::Search => on!(api::search),
        Endpoint::Me => on!(views::me),
        Endpoint::Settings => on!(views::settings),
        Endpoint::SetSettings => on!(views::set_settings),
        Endpoint::Review => on!(views::review),
        Endpoint::ReviewImage => on!(views::review_image),
        Endpoint::NearDuplicates => on!(views::near_duplicates),
        Endpoint::EventProof => on!(views::event_proof),
        Endpoint::Checkpoint => on!(views::checkpoint),
        Endpoint::Vkey => on!(views::vkey),
        Endpoint::Incidents => on!(views::incidents),
        Endpoint::App => on!(web::app),
        Endpoint::LoginPage => on!(web::login_page),
        Endpoint::Asset => on!(web::asset),
        Endpoint::UploadOptions => on!(uploads::options),
        Endpoint::UploadCreate => on!(uploads::create),
        Endpoint::UploadHead => on!(uploads::head),
        Endpoint::UploadPatch => on!(uploads::patch),
        Endpoint::UploadStatus => on!(uploads::status),
        Endpoint::UploadTerminate => on!(uploads::terminate),
        Endpoint::CreateRecord => on!(write::create),
        Endpoint::EditRecord => on!(write::edit),
        Endpoint::DeleteRecord => on!(write::delete),
        Endpoint::ExportCase => on!(export::export),
        Endpoint::ReviewQueue => on!(persons::queue),
        Endpoint::DecideMatch => on!(persons::decide),
        Endpoint::LinkedPersons => on!(persons::linked),
        Endpoint::LinkPersons => on!(persons::run),
        Endpoint::CreateCaptures => on!(captures::create),
        Endpoint::CaseCaptures => on!(captures::list),
    }
}

/// Headers on every response. A response that set its own (stricter) policy keeps it.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
    res
}

/// The router over `archive` (opened with `Access::Write`: content downloads record custody
/// events).
pub fn router(archive: Archive, options: Options) -> std::io::Result<Router> {
    Ok(app(archive, options)?.0)
}

fn app(archive: Archive, options: Options) -> std::io::Result<(Router, Arc<AppState>)> {
    let store = archive.uploads().map_err(std::io::Error::other)?;
    let max_upload = archive.config.uploads.max_bytes();
    let backends = archive.backends.clone();
    let second_factor = archive.config.server.second_factor.clone();
    let capture_stage = archive.work_dir().join("captures");
    let state = Arc::new(AppState {
        archive: Mutex::new(archive),
        limiter: Mutex::new(auth::RateLimiter::new(5, Duration::from_secs(60))),
        codes: Mutex::new(auth::RateLimiter::new(CODE_FAILURES, CODE_WINDOW)),
        second_factor,
        viewings: Mutex::new(HashMap::new()),
        options,
        uploads: uploads::UploadState::new(store, max_upload),
        readers: Readers::default(),
        backends,
        captures: captures::Jobs::load(&capture_stage.join("queue.json"))?,
        capture_stage,
    });
    let router = routes_of(state.clone());
    Ok((router, state))
}

/// How long new fingerprints may wait for the similarity index while jobs keep coming.
const INDEX_EVERY: Duration = Duration::from_secs(30);

/// Runs queued background jobs, one at a time, while the server runs: looks for work every
/// `every`, then runs jobs until none is left. Each job holds the archive mutex only to be
/// claimed and to be committed (short catalog transactions); its analysis (FFmpeg, PDQ,
/// hashing: minutes for a long video) runs on a blocking thread without it, so requests go
/// on meanwhile. The similarity index is brought up to date through a read-only catalog
/// connection when the queue is empty (and every [`INDEX_EVERY`] while it is not).
///
/// One loop per server: a claim queues again any job left `running`, which is right only
/// while no other job of this archive is being analysed.
async fn job_loop(state: Arc<AppState>, ext: Arc<dyn Extensions>, every: Duration) {
    // True at start: the first idle round opens the similarity index (and catches it up),
    // so the first near-duplicates request does not wait for it.
    let mut fingerprinted = true;
    let mut indexed = Instant::now();
    let mut idle = true;
    loop {
        if idle {
            tokio::time::sleep(every).await;
        }
        // A failure is reported on stderr by `ApiError::internal` and waits a round (a job
        // left `running` by a failed commit is queued again at the next claim).
        let worked = run_one_job(&state, &ext).await;
        idle = !matches!(worked, Ok(Some(_)));
        fingerprinted |= matches!(worked, Ok(Some(true)));
        if fingerprinted && (idle || indexed.elapsed() >= INDEX_EVERY) {
            let e = ext.clone();
            let _ = reading(&state, move |cat| {
                e.fingerprints_changed(cat)
                    .map_err(|e| ApiError::internal(format!("background jobs: {e}")))
            })
            .await;
            fingerprinted = false;
            indexed = Instant::now();
        }
    }
}

/// Claims, analyses and commits one job. `Some(true)` when it made fingerprints, `None`
/// when no job was waiting.
async fn run_one_job(
    state: &Arc<AppState>,
    ext: &Arc<dyn Extensions>,
) -> Result<Option<bool>, ApiError> {
    let e = ext.clone();
    let claimed = blocking(state, move |a| {
        e.claim_job(a)
            .map_err(|e| ApiError::internal(format!("background jobs: {e}")))
    })
    .await?;
    let Some(claimed) = claimed else {
        return Ok(None);
    };
    let e = ext.clone();
    // Without the archive. If the analysis panics, its job stays `running` and the next
    // claim queues it again (one attempt counted), as after a crash.
    let analysed = tokio::task::spawn_blocking(move || e.analyse_job(claimed))
        .await
        .map_err(|e| ApiError::internal(format!("background job analysis: {e}")))?;
    let e = ext.clone();
    let committed = blocking(state, move |a| {
        e.commit_job(a, analysed)
            .map_err(|e| ApiError::internal(format!("background jobs: {e}")))
    })
    .await?;
    Ok(Some(committed.fingerprinted()))
}

/// A declared body over [`BODY_LIMIT`] up to this size is read before the 413 answer, so a
/// client that sends its whole body before reading gets the answer, not a reset connection.
const DRAIN_LIMIT: usize = 1 << 20;

/// Refuses a request whose declared body is over [`BODY_LIMIT`] with 413 (uploads stream
/// their bodies and have their own limit), reading the body first when it is small enough.
async fn refuse_oversized(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse as _;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let streams = req.uri().path().starts_with("/api/uploads");
    match declared {
        Some(n) if n > BODY_LIMIT as u64 && !streams => {
            if n <= DRAIN_LIMIT as u64 {
                // What is read is dropped; a failure to read changes nothing in the answer.
                let _ = axum::body::to_bytes(req.into_body(), DRAIN_LIMIT).await;
            }
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body ({n} bytes) is over the {BODY_LIMIT}-byte limit"),
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Answers every client error as JSON `{"error": …}`: axum's extractors answer a malformed
/// path, query or JSON body in plain text, which is rewritten here (its text kept), so a
/// client reads one error form whatever refused its request.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse as _;
    let res = next.run(req).await;
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !res.status().is_client_error() || !plain {
        return res;
    }
    let status = res.status();
    let text = match axum::body::to_bytes(res.into_body(), BODY_LIMIT).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let text = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("invalid request")
            .to_owned()
    } else {
        text
    };
    ApiError::new(status, text).into_response()
}

fn routes_of(state: Arc<AppState>) -> Router {
    let mut r = Router::new();
    for route in ROUTES {
        r = r.route(route.path, method_router(route.method, route.endpoint));
    }
    r.fallback(api::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .layer(axum::middleware::from_fn(uploads::tus_header))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Serves the API on `listener` until Ctrl-C (blocking; runs its own runtime).
pub fn serve(
    archive: Archive,
    listener: std::net::TcpListener,
    options: Options,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let ext = options.extensions.clone();
        let timeouts = Timeouts {
            header: options.header_timeout,
            body_stall: options.body_stall_timeout,
        };
        let watch = options.check_sources.clone();
        let (router, state) = app(archive, options)?;
        if let Some(ext) = ext {
            if captures::watches(&ext) {
                captures::resume(&state, &ext);
                if watch.shortest().is_some() {
                    tokio::spawn(captures::watch_loop(state.clone(), ext.clone(), watch));
                }
            }
            tokio::spawn(job_loop(state, ext, Duration::from_secs(1)));
        }
        serve_connections(listener, router, timeouts, async {
            // If the signal cannot be watched, serve until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
    })
}

/// The connection timeouts of [`Options`].
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    body_stall: Duration,
}

/// A request body went without a byte for longer than [`Options::body_stall_timeout`].
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
struct BodyStalled(Duration);

/// `body`, failing when the client sends nothing for `limit` while more is awaited (the
/// clock runs only while the handler waits for the next chunk).
fn stall_bounded(body: axum::body::Body, limit: Duration) -> axum::body::Body {
    use futures_util::StreamExt as _;
    let chunks = body.into_data_stream();
    let bounded = futures_util::stream::unfold(Some(chunks), move |chunks| async move {
        let mut chunks = chunks?;
        match tokio::time::timeout(limit, chunks.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(chunks))),
            Ok(None) => None,
            Err(_) => Some((Err(axum::Error::new(BodyStalled(limit))), None)),
        }
    });
    axum::body::Body::from_stream(bounded)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the open
/// connections finish their requests. Each connection is HTTP/1 through hyper with a
/// header-read timeout (which also closes idle keep-alive connections) and every request
/// body bounded by [`stall_bounded`], so a client that sends slowly or not at all cannot
/// hold a connection for ever. The caller's address is handed to handlers as
/// `ConnectInfo<SocketAddr>`.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper::body::Body as _;
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) => continue,
                Err(_) => {
                    // Out of file descriptors or the like: wait instead of spinning.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses go out as written: with Nagle's algorithm a response's last segment
        // waits for the client's delayed ACK (about 40 ms a request, a video seek each).
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let handle = hyper::service::service_fn(
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let req = req.map(|b| {
                        if b.is_end_stream() {
                            axum::body::Body::new(b)
                        } else {
                            stall_bounded(axum::body::Body::new(b), timeouts.body_stall)
                        }
                    });
                    hyper::service::Service::call(&service, req)
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(timeouts.header);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), handle);
            let mut conn = std::pin::pin!(conn);
            // A connection that fails (timed out, reset) has nobody left to tell.
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(closing_rx);
    // Receivers see the change (or the sender gone); wait until every connection is done.
    let _ = closing_tx.send(());
    closing_tx.closed().await;
    Ok(())
}

#[cfg(test)]
mod serve_tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    use axum::body::Bytes;
    use axum::extract::ConnectInfo;
    use axum::routing::{get, post};
    use axum::Router;

    use super::{serve_connections, Timeouts};

    /// Serves a small router with 1-second timeouts on a thread until the returned sender
    /// is dropped.
    fn start() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let router = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(p): ConnectInfo<SocketAddr>| async move { p.ip().to_string() }),
            )
            .route("/echo", post(|b: Bytes| async move { b.len().to_string() }));
        let timeouts = Timeouts {
            header: Duration::from_secs(1),
            body_stall: Duration::from_secs(1),
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(l.local_addr().unwrap()).unwrap();
                let stop = async {
                    let _ = stop_rx.await;
                };
                serve_connections(l, router, timeouts, stop).await.unwrap();
            });
        });
        (addr_rx.recv().unwrap(), stop_tx)
    }

    /// Connects, sends `parts` with `pause` between them, then reads until the server
    /// closes: what was read and how long after the last send the close came. Fails
    /// (instead of hanging) when the server holds the connection for 10 seconds.
    fn exchange(addr: SocketAddr, parts: &[&[u8]], pause: Duration) -> (String, Duration) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(pause);
            }
            s.write_all(p).unwrap();
        }
        let sent = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("connection still open after 10 s ({e}): {got:?}"),
            }
        }
        (String::from_utf8_lossy(&got).into_owned(), sent.elapsed())
    }

    #[test]
    fn slow_or_idle_clients_are_disconnected() {
        let (addr, _stop) = start();
        // Half a request line, then nothing (slowloris).
        let (got, after) = exchange(addr, &[b"GET /pe"], Duration::ZERO);
        assert!(after < Duration::from_secs(5), "{after:?}");
        assert!(!got.contains("200 OK"), "{got}");
        // A complete request is answered (with the caller's address), then the idle
        // keep-alive connection is closed.
        let (got, after) = exchange(
            addr,
            &[b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n"],
            Duration::ZERO,
        );
        assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
        assert!(got.ends_with("127.0.0.1"), "{got}");
        assert!(after < Duration::from_secs(5), "{after:?}");
        // A body that stops half-way is not waited for.
        let (got, after) = exchange(
            addr,
            &[b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"],
            Duration::ZERO,
        );
        assert!(!got.contains("200 OK"), "{got}");
        assert!(after < Duration::from_secs(5), "{after:?}");
    }

    #[test]
    fn slow_but_steady_bodies_are_read() {
        let (addr, _stop) = start();
        // Three parts 600 ms apart: over a second in all, but never a second's stall.
        let (got, _) = exchange(
            addr,
            &[
                b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 20\r\n\r\n",
                b"0123456789",
                b"0123456789",
            ],
            Duration::from_millis(600),
        );
        assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
        assert!(got.ends_with("\r\n\r\n20"), "{got}");
    }
}
