//! Resumable uploads by the tus 1.0.0 protocol (core, creation and termination extensions).
//!
//! Bytes are streamed to a staging file in the archive (`uploads/<id>.part`, see
//! `athar_store::uploads`) while they are hashed, on a blocking thread fed by a small
//! bounded channel: memory stays constant whatever the size, and the archive's mutex is not
//! held while bytes arrive. At the end of every PATCH the received bytes are synced and
//! the durable offset written to the upload's sidecar, so an upload resumes after a dropped
//! connection and after a server restart (the hasher state, lost with the process, is
//! rebuilt by re-hashing the staged prefix). When the last byte is in, the file becomes an
//! item by the normal ingest steps under the archive mutex (hard-linked into the blob
//! store, not copied) and the final response names it.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use athar_core::{Sha256, StoreError};
use athar_store::uploads::{is_upload_id, Upload, Uploads};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use futures_util::StreamExt as _;
use serde_json::json;
use sha2::Digest as _;

use crate::auth::Caller;
use crate::{blocking, ApiError, AppState};

/// The protocol version spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// Extensions supported.
pub const TUS_EXTENSIONS: &str = "creation,termination";
/// A PATCH whose body sends nothing for this long is ended (what arrived is kept).
const IDLE: Duration = Duration::from_secs(60);
/// How long a request waits for another request on the same upload to finish.
const BUSY_WAIT: Duration = Duration::from_secs(2);
/// Bytes read per step when re-hashing a staged prefix.
const CHUNK: usize = 1 << 20;
/// Bytes sniffed for the media type.
const SNIFF: usize = 8192;

type St = State<Arc<AppState>>;

/// One upload as the running server knows it. `hasher` covers exactly the first
/// `upload.offset` bytes; None after a restart until the prefix is re-hashed.
#[derive(Debug, Default)]
struct Slot {
    upload: Option<Upload>,
    hasher: Option<sha2::Sha256>,
}

/// The uploads of a running server.
#[derive(Debug)]
pub struct UploadState {
    store: Uploads,
    max_bytes: u64,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl UploadState {
    pub fn new(store: Uploads, max_bytes: u64) -> UploadState {
        UploadState {
            store,
            max_bytes,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, id: &str) -> Result<Arc<tokio::sync::Mutex<Slot>>, ApiError> {
        let mut slots = self
            .slots
            .lock()
            .map_err(|_| ApiError::internal("uploads mutex poisoned"))?;
        Ok(slots.entry(id.to_owned()).or_default().clone())
    }

    fn forget(&self, id: &str) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(id);
        }
    }
}

fn h(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

fn hv(v: impl ToString) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&v.to_string()).map_err(ApiError::internal)
}

fn with_tus_error(status: StatusCode, message: &str) -> ApiError {
    ApiError::new(status, message)
}

/// Every tus request but OPTIONS must say which version it speaks.
fn check_version(headers: &HeaderMap) -> Option<Response> {
    if headers.get("tus-resumable").and_then(|v| v.to_str().ok()) == Some(TUS_VERSION) {
        return None;
    }
    let mut res = ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "Tus-Resumable: 1.0.0 required",
    )
    .into_response();
    res.headers_mut()
        .insert(h("tus-version"), HeaderValue::from_static(TUS_VERSION));
    Some(res)
}

/// Adds `Tus-Resumable` to every response under `/api/uploads`.
pub async fn tus_header(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let tus = req.uri().path().starts_with("/api/uploads");
    let mut res = next.run(req).await;
    if tus {
        res.headers_mut()
            .insert(h("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
    }
    res
}

fn header_u64(headers: &HeaderMap, name: &str) -> Result<Option<u64>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{name}: a non-negative integer"))),
    }
}

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs (value optional).
pub fn parse_metadata(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for pair in text.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let mut parts = pair.split(' ');
        let key = parts.next().unwrap_or_default();
        let value = parts.next().unwrap_or_default();
        if parts.next().is_some() || key.is_empty() || !key.is_ascii() {
            return Err(format!("malformed pair {pair:?}"));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| format!("{key}: value is not base64"))?;
        let value =
            String::from_utf8(bytes).map_err(|_| format!("{key}: value is not UTF-8 text"))?;
        if out.insert(key.to_owned(), value).is_some() {
            return Err(format!("{key}: given twice"));
        }
    }
    Ok(out)
}

/// A metadata text field: trimmed, one line, bounded.
fn text_field(
    meta: &HashMap<String, String>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    let Some(v) = meta.get(key) else {
        return Ok(None);
    };
    let t = v.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() > max || t.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "Upload-Metadata {key}: at most {max} bytes on one line"
        )));
    }
    Ok(Some(t.to_owned()))
}

/// Whether the caller may collect into `case`: admins and investigators on their cases.
fn may_collect(caller: &Caller, case: &str) -> bool {
    use athar_core::accounts::Role;
    matches!(caller.user.role, Role::Admin | Role::Investigator) && caller.can_see(case)
}

pub async fn options(State(state): St, _caller: Caller) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let hd = res.headers_mut();
    hd.insert(h("tus-version"), HeaderValue::from_static(TUS_VERSION));
    hd.insert(h("tus-extension"), HeaderValue::from_static(TUS_EXTENSIONS));
    hd.insert(
        h("tus-max-size"),
        HeaderValue::from(state.uploads.max_bytes),
    );
    res
}

pub async fn create(
    State(state): St,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(r) = check_version(&headers) {
        return Ok(r);
    }
    use athar_core::accounts::Role;
    if !matches!(caller.user.role, Role::Admin | Role::Investigator) {
        return Err(ApiError::forbidden(
            "only admins and investigators upload evidence",
        ));
    }
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::bad_request(
            "Upload-Defer-Length is not supported: send Upload-Length",
        ));
    }
    let length = header_u64(&headers, "upload-length")?
        .ok_or_else(|| ApiError::bad_request("Upload-Length: required"))?;
    if length > state.uploads.max_bytes {
        return Err(with_tus_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "Upload-Length {length} is over this archive's limit of {} bytes",
                state.uploads.max_bytes
            ),
        ));
    }
    let meta = match headers.get("upload-metadata") {
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| ApiError::bad_request("Upload-Metadata: not ASCII"))?;
            parse_metadata(text)
                .map_err(|e| ApiError::bad_request(format!("Upload-Metadata: {e}")))?
        }
        None => HashMap::new(),
    };
    let filename = text_field(&meta, "filename", 255)?
        .ok_or_else(|| ApiError::bad_request("Upload-Metadata filename: required"))?;
    // Only the name is kept: a path a browser might send is not a place in the archive.
    let filename = filename
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| ApiError::bad_request("Upload-Metadata filename: not a file name"))?
        .to_owned();
    let case = text_field(&meta, "case", 200)?
        .ok_or_else(|| ApiError::bad_request("Upload-Metadata case: required"))?;
    let source = text_field(&meta, "source", 1000)?;
    let note = text_field(&meta, "note", 4000)?;
    let who = caller.clone();
    let case = blocking(&state, move |a| {
        // A case by name, or by the id of its case record.
        let name = if a.catalog.case_exists(&case)? {
            Some(case)
        } else if athar_core::records::is_record_id(&case) {
            a.catalog
                .record_by_id(&case)?
                .filter(|r| {
                    !r.deleted && r.record.body.kind() == athar_core::records::RecordKind::Case
                })
                .map(|r| r.record.case)
        } else {
            None
        };
        match name {
            Some(n) if who.can_see(&n) => Ok(n),
            _ => Err(ApiError::not_found("no such case")),
        }
    })
    .await?;
    if !may_collect(&caller, &case) {
        return Err(ApiError::forbidden("you may not collect into this case"));
    }
    let id = Uploads::new_id()?;
    let upload = Upload {
        id: id.clone(),
        user_id: caller.user.id,
        user: caller.user.name.clone(),
        filename,
        case,
        source,
        note,
        length,
        offset: 0,
        created: athar_core::now_rfc3339(),
        item: None,
        sha256: None,
        already_held: false,
    };
    let store = state.uploads.store.clone();
    let up = upload.clone();
    tokio::task::spawn_blocking(move || store.create(&up))
        .await
        .map_err(ApiError::internal)??;
    let slot = state.uploads.slot(&id)?;
    let mut guard = slot.lock().await;
    guard.upload = Some(upload);
    guard.hasher = Some(sha2::Sha256::new());
    let done = if length == 0 {
        Some(finish(&state, &caller, &mut guard).await?)
    } else {
        None
    };
    let guard_held = guard.upload.as_ref().map(|u| u.already_held);
    drop(guard);
    let mut res = StatusCode::CREATED.into_response();
    let hd = res.headers_mut();
    hd.insert(header::LOCATION, hv(format!("/api/uploads/{id}"))?);
    hd.insert(h("upload-offset"), HeaderValue::from(0u64));
    if let Some((item, sha)) = done {
        hd.insert(h("athar-item"), hv(item)?);
        hd.insert(h("athar-sha256"), hv(sha)?);
        let held = guard_held.unwrap_or(false);
        hd.insert(
            h("athar-already-held"),
            HeaderValue::from_static(if held { "true" } else { "false" }),
        );
    }
    Ok(res)
}

/// The caller's upload `id`, loaded and locked. Others' uploads do not exist for them.
async fn locked(
    state: &Arc<AppState>,
    caller: &Caller,
    id: &str,
) -> Result<tokio::sync::OwnedMutexGuard<Slot>, ApiError> {
    let missing = || ApiError::not_found("no such upload");
    if !is_upload_id(id) {
        return Err(missing());
    }
    let slot = state.uploads.slot(id)?;
    let mut guard = match tokio::time::timeout(BUSY_WAIT, slot.lock_owned()).await {
        Ok(g) => g,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::LOCKED,
                "another request is writing to this upload; retry shortly",
            ))
        }
    };
    if guard.upload.is_none() {
        let store = state.uploads.store.clone();
        let id2 = id.to_owned();
        match tokio::task::spawn_blocking(move || store.load(&id2))
            .await
            .map_err(ApiError::internal)?
        {
            Ok(u) => {
                guard.upload = Some(u);
                guard.hasher = None;
            }
            Err(StoreError::NotFound(_)) => {
                drop(guard);
                state.uploads.forget(id);
                return Err(missing());
            }
            Err(e) => return Err(e.into()),
        }
    }
    match &guard.upload {
        Some(u) if u.user_id == caller.user.id => Ok(guard),
        _ => Err(missing()),
    }
}

/// The upload's hasher over its durable prefix, re-hashing the staged bytes when the
/// server restarted since they came.
async fn hasher(state: &Arc<AppState>, slot: &mut Slot) -> Result<sha2::Sha256, ApiError> {
    if let Some(hs) = &slot.hasher {
        return Ok(hs.clone());
    }
    let upload = slot
        .upload
        .clone()
        .ok_or_else(|| ApiError::internal("upload not loaded"))?;
    let part = state.uploads.store.part_path(&upload.id)?;
    let hs = tokio::task::spawn_blocking(move || -> Result<sha2::Sha256, StoreError> {
        let mut f = std::fs::File::open(&part).map_err(|e| StoreError::io(&part, e))?;
        let mut hs = sha2::Sha256::new();
        let mut left = upload.offset;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            f.read_exact(&mut buf[..want])
                .map_err(|e| StoreError::io(&part, e))?;
            hs.update(&buf[..want]);
            left -= want as u64;
        }
        Ok(hs)
    })
    .await
    .map_err(ApiError::internal)??;
    slot.hasher = Some(hs.clone());
    Ok(hs)
}

/// Turns a fully received upload into an item (once); returns (item id, SHA-256 hex).
async fn finish(
    state: &Arc<AppState>,
    caller: &Caller,
    slot: &mut Slot,
) -> Result<(String, String), ApiError> {
    if let Some(u) = &slot.upload {
        if let (Some(item), Some(sha)) = (&u.item, &u.sha256) {
            return Ok((item.clone(), sha.clone()));
        }
    }
    let hs = hasher(state, slot).await?;
    let mut upload = slot
        .upload
        .clone()
        .ok_or_else(|| ApiError::internal("upload not loaded"))?;
    if upload.offset != upload.length {
        return Err(ApiError::internal("finishing an incomplete upload"));
    }
    let sha = Sha256(hs.finalize().into());
    let part = state.uploads.store.part_path(&upload.id)?;
    let length = upload.length;
    let media_type = tokio::task::spawn_blocking(move || -> Result<String, StoreError> {
        let mut f = std::fs::File::open(&part).map_err(|e| StoreError::io(&part, e))?;
        let size = f.metadata().map_err(|e| StoreError::io(&part, e))?.len();
        if size != length {
            return Err(StoreError::Corrupt(format!(
                "{}: {size} bytes staged, {length} declared",
                part.display()
            )));
        }
        let mut head = vec![0u8; SNIFF.min(usize::try_from(length).unwrap_or(SNIFF))];
        f.read_exact(&mut head)
            .map_err(|e| StoreError::io(&part, e))?;
        Ok(athar_core::media_type::detect(&head, length))
    })
    .await
    .map_err(ApiError::internal)??;
    let scope = crate::api::scope(caller);
    let (item, upload) = blocking(state, move |a| {
        upload.already_held = held_before(a, &scope, &upload, &sha)?;
        let item = a
            .ingest_upload(&mut upload, sha, media_type)
            .map_err(ApiError::internal)?;
        Ok((item, upload))
    })
    .await?;
    slot.upload = Some(upload);
    Ok((item.id.to_string(), sha.to_hex()))
}

/// Whether the caller could already see these bytes before this upload (an item of one of
/// their cases, not made by this very upload): only then is it said, since telling anyone
/// of bytes held in a case they are not on would confirm the holding (the upload then
/// simply adds a sighting in the caller's case).
fn held_before(
    a: &athar_store::Archive,
    scope: &athar_core::scope::Scope,
    upload: &Upload,
    sha: &Sha256,
) -> Result<bool, ApiError> {
    let Some(item) = a.catalog.item_by_sha(sha)? else {
        return Ok(false);
    };
    let marker = format!("upload:{}", upload.id);
    let ours = a.catalog.events(&item.id)?.iter().any(|e| {
        matches!(&e.details, athar_core::EventDetails::Sighting(s) if s.original_path == marker)
    });
    Ok(!ours && scope.sees_item(&a.catalog.cases_of(&item.id)?))
}

fn progress_headers(res: &mut Response, u: &Upload) -> Result<(), ApiError> {
    let hd = res.headers_mut();
    hd.insert(h("upload-offset"), HeaderValue::from(u.offset));
    hd.insert(h("upload-length"), HeaderValue::from(u.length));
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let (Some(item), Some(sha)) = (&u.item, &u.sha256) {
        hd.insert(h("athar-item"), hv(item)?);
        hd.insert(h("athar-sha256"), hv(sha)?);
        hd.insert(
            h("athar-already-held"),
            HeaderValue::from_static(if u.already_held { "true" } else { "false" }),
        );
    }
    Ok(())
}

/// Finishes an upload whose bytes all arrived but whose ingest was cut short (a crash or
/// restart right after the last byte), so a client that sees offset = length can rely on
/// the item existing.
async fn settle(state: &Arc<AppState>, caller: &Caller, slot: &mut Slot) -> Result<(), ApiError> {
    let pending = slot
        .upload
        .as_ref()
        .is_some_and(|u| u.offset == u.length && u.item.is_none());
    if pending {
        finish(state, caller, slot).await?;
    }
    Ok(())
}

pub async fn head(
    State(state): St,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(r) = check_version(&headers) {
        return Ok(r);
    }
    let mut slot = locked(&state, &caller, &id).await?;
    settle(&state, &caller, &mut slot).await?;
    let mut res = StatusCode::OK.into_response();
    if let Some(u) = &slot.upload {
        progress_headers(&mut res, u)?;
    }
    Ok(res)
}

pub async fn status(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut slot = locked(&state, &caller, &id).await?;
    settle(&state, &caller, &mut slot).await?;
    let u = slot
        .upload
        .as_ref()
        .ok_or_else(|| ApiError::internal("upload not loaded"))?;
    let body = json!({
        "offset": u.offset, "length": u.length, "filename": u.filename, "case": u.case,
        "item": u.item, "sha256": u.sha256,
    });
    let mut res = Json(body).into_response();
    progress_headers(&mut res, u)?;
    Ok(res)
}

pub async fn terminate(
    State(state): St,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(r) = check_version(&headers) {
        return Ok(r);
    }
    let mut slot = locked(&state, &caller, &id).await?;
    let store = state.uploads.store.clone();
    let id2 = id.clone();
    tokio::task::spawn_blocking(move || store.remove(&id2))
        .await
        .map_err(ApiError::internal)??;
    slot.upload = None;
    slot.hasher = None;
    drop(slot);
    state.uploads.forget(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What the writing thread did with one PATCH body.
struct Written {
    bytes: u64,
    hasher: sha2::Sha256,
    error: Option<std::io::Error>,
}

/// Appends chunks at `offset`, hashing each after it is written; on a write failure the
/// file is cut back to the last whole chunk. Syncs before returning.
fn write_chunks(
    part: &std::path::Path,
    offset: u64,
    mut hasher: sha2::Sha256,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> Written {
    let mut bytes = 0u64;
    let opened = std::fs::OpenOptions::new().write(true).open(part);
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => {
            return Written {
                bytes,
                hasher,
                error: Some(e),
            }
        }
    };
    let mut error = file.seek(SeekFrom::Start(offset)).err();
    while error.is_none() {
        let Some(chunk) = rx.blocking_recv() else {
            break;
        };
        match file.write_all(&chunk) {
            Ok(()) => {
                hasher.update(&chunk);
                bytes += chunk.len() as u64;
            }
            Err(e) => {
                let _ = file.set_len(offset + bytes);
                error = Some(e);
            }
        }
    }
    if let Err(e) = file.sync_data() {
        error.get_or_insert(e);
    }
    Written {
        bytes,
        hasher,
        error,
    }
}

pub async fn patch(
    State(state): St,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    if let Some(r) = check_version(&headers) {
        return Ok(r);
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if ctype != Some("application/offset+octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: application/offset+octet-stream required",
        ));
    }
    let offset = header_u64(&headers, "upload-offset")?
        .ok_or_else(|| ApiError::bad_request("Upload-Offset: required"))?;
    let mut slot = locked(&state, &caller, &id).await?;
    let upload = slot
        .upload
        .clone()
        .ok_or_else(|| ApiError::internal("upload not loaded"))?;
    // Roles and memberships may have changed since the upload began.
    if !may_collect(&caller, &upload.case) {
        return Err(ApiError::forbidden(
            "you may no longer collect into this case",
        ));
    }
    if offset != upload.offset || upload.item.is_some() {
        let mut res = ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "Upload-Offset {offset} does not match the upload's offset {}",
                upload.offset
            ),
        )
        .into_response();
        progress_headers(&mut res, &upload)?;
        return Ok(res);
    }
    let remaining = upload.length - upload.offset;
    if header_u64(&headers, "content-length")?.is_some_and(|n| n > remaining) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is longer than the {remaining} bytes the upload still needs"),
        ));
    }
    let start = hasher(&state, &mut slot).await?;
    let part = state.uploads.store.part_path(&id)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let writer = {
        let (part, start) = (part.clone(), start.clone());
        tokio::task::spawn_blocking(move || write_chunks(&part, offset, start, rx))
    };
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    let mut overflow = false;
    let mut cut_short = false;
    loop {
        match tokio::time::timeout(IDLE, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                received += chunk.len() as u64;
                if received > remaining {
                    overflow = true;
                    break;
                }
                if tx.send(chunk).await.is_err() {
                    break; // the writer stopped: its error is reported below
                }
            }
            Ok(None) => break,
            // A dropped connection or a silent client: keep what arrived.
            Ok(Some(Err(_))) | Err(_) => {
                cut_short = true;
                break;
            }
        }
    }
    drop(tx);
    let written = writer.await.map_err(ApiError::internal)?;
    let mut up = upload.clone();
    if overflow {
        // Nothing of this request is kept: the staged file goes back to where it began.
        let store_part = part.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&store_part)
                .and_then(|f| f.set_len(offset).and_then(|()| f.sync_data()))
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
        slot.hasher = Some(start);
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is longer than the {remaining} bytes the upload still needs"),
        ));
    }
    if written.bytes > 0 {
        up.offset += written.bytes;
        let store = state.uploads.store.clone();
        let saved = up.clone();
        tokio::task::spawn_blocking(move || store.save(&saved))
            .await
            .map_err(ApiError::internal)??;
        slot.upload = Some(up.clone());
    }
    slot.hasher = Some(written.hasher);
    if let Some(e) = written.error {
        return Err(ApiError::internal(format!("{}: {e}", part.display())));
    }
    if cut_short {
        return Err(ApiError::bad_request(
            "the request body ended early; resume from Upload-Offset",
        ));
    }
    if up.offset == up.length {
        finish(&state, &caller, &mut slot).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(u) = &slot.upload {
        progress_headers(&mut res, u)?;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn metadata_pairs() {
        let m = parse_metadata("filename Y2xpcC5tcDQ=,case YWxwaGE=, empty").unwrap();
        assert_eq!(m["filename"], "clip.mp4");
        assert_eq!(m["case"], "alpha");
        assert_eq!(m["empty"], "");
        for bad in ["filename !!", "a b c", "case YQ==,case YQ=="] {
            assert!(parse_metadata(bad).is_err(), "{bad}");
        }
    }
}
