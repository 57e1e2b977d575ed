//! `athar-server`: the HTTP API over an embedded archive. The only crate that knows HTTP.
//!
//! One [`Archive`], opened for writing (it holds the writer lock), is owned by the server
//! behind a mutex; handlers that write do their catalog and blob work on a blocking thread
//! while holding it, handlers that only read use a pool of read-only catalog connections
//! ([`reading`]), and upload and download bytes stream without either. Routes come from one table ([`routes::ROUTES`]) that also feeds the OpenAPI
//! document and the tests. Every route except log-in, health and the OpenAPI document
//! needs a session cookie (with a CSRF header on state-changing requests) or a bearer
//! token; nobody sees a case they are not a member of (admins see all).
//!
//! The browser app (`web.rs`: pages and assets compiled into the binary) works only
//! through this JSON API. What needs the media libraries (the similarity index, the
//! background jobs that make fingerprints and review images) is handed in by the binary as
//! [`Extensions`], so this crate never links a decoder.
//!
//! Must not: decode media in this process, serve content with an executable type, or log
//! secrets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use athar_core::{Item, ItemId};
use athar_store::{Archive, SqliteCatalog};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{delete, get, head, options, patch, post, put, MethodRouter};
use axum::Router;

mod api;
pub mod auth;
mod error;
mod export;
pub mod openapi;
pub mod routes;
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
    /// transform, segments). `Ok(None)` when the item has no fingerprints yet.
    #[allow(clippy::type_complexity)]
    fn near_duplicates(
        &self,
        archive: &Archive,
        item: &Item,
        min_share: f64,
    ) -> Result<Option<Vec<(ItemId, serde_json::Value)>>, String>;
    /// Runs the queued background jobs (fingerprints, metadata, review images); returns
    /// how many ran.
    fn run_jobs(&self, archive: &mut Archive) -> Result<u64, String>;
}

/// How the server is run.
#[derive(Clone, Default)]
pub struct Options {
    /// TLS is terminated in front of the server: cookies get `Secure`.
    pub secure_cookies: bool,
    /// Similarity search and background jobs; without them near-duplicates answer 501
    /// and queued jobs wait for `athar jobs --run`.
    pub extensions: Option<Arc<dyn Extensions>>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("secure_cookies", &self.secure_cookies)
            .field("extensions", &self.extensions.is_some())
            .finish()
    }
}

/// How long one logged access covers a caller's further range requests for the same item
/// (a video player seeking), so that one viewing is one custody event, not hundreds.
pub const VIEWING_WINDOW: Duration = Duration::from_secs(10 * 60);

/// State shared by the handlers.
#[derive(Debug)]
pub struct AppState {
    archive: Mutex<Archive>,
    limiter: Mutex<auth::RateLimiter>,
    /// When each (user, item) last had an access event logged by a content request.
    viewings: Mutex<HashMap<(i64, ItemId), Instant>>,
    options: Options,
    uploads: uploads::UploadState,
    /// Read-only catalog connections, see [`reading`].
    readers: Mutex<Vec<SqliteCatalog>>,
    catalog_path: std::path::PathBuf,
}

/// Read-only connections kept for reuse.
const READERS: usize = 8;

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
/// beside the writer's. Under SQLite's WAL readers never wait for the writer, so log-ins
/// checks, listings and reads go on while the archive mutex is held (an upload being made
/// an item, a bag being built, an access being logged).
pub(crate) async fn reading<T, F>(state: &Arc<AppState>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&SqliteCatalog) -> Result<T, ApiError> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let pooled = state
            .readers
            .lock()
            .map_err(|_| ApiError::internal("reader pool mutex poisoned"))?
            .pop();
        let cat = match pooled {
            Some(c) => c,
            None => SqliteCatalog::open(&state.catalog_path, false)?,
        };
        let out = f(&cat);
        if let Ok(mut pool) = state.readers.lock() {
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
        Endpoint::Login => on!(api::login),
        Endpoint::Logout => on!(api::logout),
        Endpoint::CreateToken => on!(api::create_token),
        Endpoint::RevokeToken => on!(api::revoke_token),
        Endpoint::Cases => on!(api::cases),
        Endpoint::Items => on!(api::items),
        Endpoint::Item => on!(api::item),
        Endpoint::ItemContent => on!(api::item_content),
        Endpoint::Records => on!(api::records),
        Endpoint::Record => on!(api::record),
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
    let catalog_path = archive.root.join("catalog.sqlite");
    let state = Arc::new(AppState {
        archive: Mutex::new(archive),
        limiter: Mutex::new(auth::RateLimiter::new(5, Duration::from_secs(60))),
        viewings: Mutex::new(HashMap::new()),
        options,
        uploads: uploads::UploadState::new(store, max_upload),
        readers: Mutex::new(Vec::new()),
        catalog_path,
    });
    let router = routes_of(state.clone());
    Ok((router, state))
}

/// Runs queued background jobs every `every`, one batch at a time, while the server runs.
async fn job_loop(state: Arc<AppState>, ext: Arc<dyn Extensions>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let ext = ext.clone();
        // A failure is reported on stderr by `ApiError::internal`; the next round retries.
        let _ = blocking(&state, move |a| {
            ext.run_jobs(a)
                .map_err(|e| ApiError::internal(format!("background jobs: {e}")))
        })
        .await;
    }
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

fn routes_of(state: Arc<AppState>) -> Router {
    let mut r = Router::new();
    for route in ROUTES {
        r = r.route(route.path, method_router(route.method, route.endpoint));
    }
    r.fallback(api::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .layer(axum::middleware::from_fn(uploads::tus_header))
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
        let (router, state) = app(archive, options)?;
        if let Some(ext) = ext {
            tokio::spawn(job_loop(state, ext, Duration::from_secs(1)));
        }
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // If the signal cannot be watched, serve until killed.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await
    })
}
