//! The handlers. Each checks the caller's access to the case of what it returns; things on
//! cases the caller is not a member of answer 404, as if they did not exist.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use athar_core::records::RecordKind;
use athar_core::scope::Scope;
use athar_core::{Catalog, Item, ItemId, Sha256, StoreError};
use athar_search::{Query as SearchQuery, SearchIndex};
use athar_store::Archive;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::auth::Caller;
use crate::{blocking, reading, ApiError, AppState};

type St = State<Arc<AppState>>;

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// Parses an item or record id (26 Crockford base-32 characters): nothing else reaches
/// the catalog.
pub(crate) fn parse_id(id: &str) -> Result<ItemId, ApiError> {
    ItemId::parse(id).ok_or_else(|| ApiError::bad_request("id: 26 characters of base 32"))
}

/// What the caller may see: every case for admins, else the cases they are on. Every read
/// below filters through it (`athar_core::scope`).
pub(crate) fn scope(caller: &Caller) -> Scope {
    if caller.is_admin() {
        Scope::All
    } else {
        Scope::of_cases(caller.user.cases.iter().cloned())
    }
}

/// The item with this exact id when the caller may see it, with all its cases (for
/// deciding which of its events the caller sees; show only [`Scope::visible_cases`]).
pub(crate) fn visible_item(
    cat: &dyn Catalog,
    caller: &Caller,
    id: &ItemId,
) -> Result<(Item, Vec<String>), ApiError> {
    scope(caller)
        .item(cat, id)?
        .ok_or_else(|| ApiError::not_found("no such item"))
}

#[derive(Deserialize)]
pub struct CaseFilter {
    case: Option<String>,
    kind: Option<String>,
    /// Also the items Athar made (review images); by default only collected evidence.
    #[serde(default)]
    derived: bool,
}

pub async fn items(
    State(state): St,
    caller: Caller,
    Query(q): Query<CaseFilter>,
) -> Result<Json<Value>, ApiError> {
    reading(&state, move |cat| {
        let items: Vec<Item> = match (&q.case, caller.is_admin()) {
            (Some(c), _) => {
                if !caller.can_see(c) {
                    return Err(ApiError::not_found("no such case"));
                }
                cat.case_items(c)?
            }
            (None, true) => cat.items()?,
            (None, false) => {
                let mut seen = BTreeSet::new();
                let mut all = Vec::new();
                for c in &caller.user.cases {
                    match cat.case_items(c) {
                        Ok(v) => all.extend(v.into_iter().filter(|i| seen.insert(i.id.clone()))),
                        Err(StoreError::NotFound(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                all
            }
        };
        let scope = scope(&caller);
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            let all_cases = cat.cases_of(&i.id)?;
            // The label is made from the events the caller sees: a name recorded under
            // another case is not shown.
            let events = scope.events(cat.events(&i.id)?, &all_cases);
            if !q.derived && athar_core::label::is_derived(&events) {
                continue;
            }
            let label = athar_core::label::label(cat, &i, &events)?;
            let cases = scope.visible_cases(&all_cases);
            out.push(json!({ "item": i, "label": label, "cases": cases }));
        }
        Ok(Json(json!({ "items": out })))
    })
    .await
}

pub async fn item(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    blocking(&state, move |a| {
        let (item, all_cases) = visible_item(a.catalog.as_ref(), &caller, &id)?;
        let scope = scope(&caller);
        let events = scope.events(a.catalog.events(&item.id)?, &all_cases);
        let cases = scope.visible_cases(&all_cases);
        // What the background jobs made so far: fingerprint kinds and each job's state.
        let fingerprints: Vec<String> = a
            .catalog
            .fingerprints(&item.id)?
            .into_iter()
            .map(|f| f.algorithm)
            .collect();
        let jobs: Vec<Value> = a
            .catalog
            .jobs()?
            .into_iter()
            .filter(|j| j.item == item.id)
            // A job's error names server paths and tools: for admins only.
            .map(|j| {
                let error = if caller.is_admin() {
                    j.error
                } else {
                    j.error.map(|_| "failed; an admin can see why".to_owned())
                };
                json!({ "kind": j.kind, "state": j.state, "error": error })
            })
            .collect();
        let logged_through = a.custody_log().map_err(ApiError::internal)?.size();
        let label = athar_core::label::label(a.catalog.as_ref(), &item, &events)?;
        Ok(Json(json!({
            "item": item, "label": label, "cases": cases, "events": events,
            "fingerprints": fingerprints, "jobs": jobs, "log_size": logged_through,
        })))
    })
    .await
}

/// A stated purpose is one line of at most 500 characters: it is written into the chain of
/// custody and printed in terminals (which escape what they print all the same).
pub(crate) fn check_purpose(purpose: Option<&str>) -> Result<(), ApiError> {
    match purpose {
        Some(p) if p.chars().count() > 500 || p.chars().any(char::is_control) => Err(
            ApiError::bad_request("purpose: one line of at most 500 characters"),
        ),
        _ => Ok(()),
    }
}

/// Records an `access` custody event by `caller` on `item` (of `item_cases`) and appends it
/// to the log. The event names the cases it was made under (those of the item's cases the
/// caller is on), so members of the item's other cases do not see it.
pub(crate) fn record_access(
    a: &mut Archive,
    caller: &Caller,
    item: &ItemId,
    item_cases: &[String],
    purpose: Option<String>,
) -> Result<(), ApiError> {
    let access = athar_core::Access {
        via: "athar serve".to_owned(),
        purpose,
        tool_version: athar_core::TOOL_VERSION.to_owned(),
        cases: scope(caller).visible_cases(item_cases),
    };
    a.record_access(item, &caller.user.name, access)
        .map_err(ApiError::internal)?;
    Ok(())
}

/// The byte range a request asks for, per RFC 9110 §14 (one range; several ranges or a
/// malformed header are answered with the whole content, as the RFC allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

pub(crate) fn byte_range(header: Option<&str>, size: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match num(suffix) {
            None => ByteRange::Whole,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Part(size.saturating_sub(n), size - 1),
        },
        (f, l) => {
            let Some(f) = num(f) else {
                return ByteRange::Whole;
            };
            let l = if l.is_empty() { Some(u64::MAX) } else { num(l) };
            match l {
                None => ByteRange::Whole,
                Some(l) if l < f => ByteRange::Whole,
                Some(_) if f >= size => ByteRange::Unsatisfiable,
                Some(l) => ByteRange::Part(f, l.min(size - 1)),
            }
        }
    }
}

/// Media types served as themselves (inline); everything else is an attachment of type
/// `application/octet-stream`, so no upload is ever run by the browser.
const SAFE_INLINE: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
];

#[derive(Deserialize)]
pub struct ContentQuery {
    purpose: Option<String>,
}

pub async fn item_content(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ContentQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    check_purpose(q.purpose.as_deref())?;
    let range_header = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let viewings = state.clone();
    // Access to content is part of the chain of custody: recorded and logged before any
    // byte leaves the archive. A player's further range requests within the viewing
    // window are covered by the access already logged.
    let (item, range, source) = blocking(&state, move |a| {
        let (item, item_cases) = visible_item(a.catalog.as_ref(), &caller, &id)?;
        let range = byte_range(range_header.as_deref(), item.size);
        if range == ByteRange::Unsatisfiable {
            return Ok((item, range, None));
        }
        let key = (caller.user.id, item.id.clone());
        let now = Instant::now();
        let covered = range_header.is_some()
            && viewings
                .viewings
                .lock()
                .map_err(|_| ApiError::internal("viewings mutex poisoned"))?
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < crate::VIEWING_WINDOW);
        if !covered {
            record_access(a, &caller, &item.id, &item_cases, q.purpose)?;
            let mut v = viewings
                .viewings
                .lock()
                .map_err(|_| ApiError::internal("viewings mutex poisoned"))?;
            v.retain(|_, t| now.duration_since(*t) < crate::VIEWING_WINDOW);
            v.insert(key, now);
        }
        let source = match range {
            ByteRange::Part(first, _) => a.blobs.open_at(&item.sha256, first)?,
            _ => a.blobs.open(&item.sha256)?,
        };
        Ok((item, range, Some(source)))
    })
    .await?;
    let total = item.size;
    let Some(reader) = source else {
        let mut res = ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable")
            .into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{total}")).map_err(ApiError::internal)?,
        );
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        return Ok(res);
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let expected = item.sha256;
    let (status, length) = match range {
        ByteRange::Part(first, last) => {
            let n = last - first + 1;
            // A part cannot be checked against the whole file's digest; it is read from
            // the same immutable blob the full downloads check.
            tokio::task::spawn_blocking(move || stream_part(reader, n, &tx));
            (StatusCode::PARTIAL_CONTENT, n)
        }
        _ => {
            tokio::task::spawn_blocking(move || stream_blob(reader, expected, &tx));
            (StatusCode::OK, total)
        }
    };
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let (ctype, disposition) = if SAFE_INLINE.contains(&item.media_type.as_str()) {
        (
            item.media_type.clone(),
            format!("inline; filename=\"{}\"", item.id),
        )
    } else {
        (
            "application/octet-stream".to_owned(),
            format!("attachment; filename=\"{}\"", item.id),
        )
    };
    let mut res = Response::new(Body::from_stream(stream));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ctype).map_err(ApiError::internal)?,
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{}\"", item.sha256)).map_err(ApiError::internal)?,
    );
    if let ByteRange::Part(first, last) = range {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {first}-{last}/{total}"))
                .map_err(ApiError::internal)?,
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(res)
}

/// Sends `n` bytes of `reader` in chunks.
fn stream_part(
    mut reader: Box<dyn Read + Send>,
    mut n: u64,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    while n > 0 {
        let mut buf = vec![0u8; (256 * 1024).min(n as usize)];
        match reader.read(&mut buf) {
            Ok(0) => {
                let _ = tx.blocking_send(Err(std::io::Error::other("blob shorter than recorded")));
                return;
            }
            Ok(k) => {
                buf.truncate(k);
                n -= k as u64;
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

/// Sends a blob in chunks, hashing as it goes; a blob that no longer matches its digest
/// ends the stream with an error, so the client never receives a complete altered copy.
fn stream_blob(
    mut reader: Box<dyn Read + Send>,
    expected: Sha256,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut hasher = sha2::Sha256::new();
    loop {
        let mut buf = vec![0u8; 256 * 1024];
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                hasher.update(&buf);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return; // the client went away
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
    let got: [u8; 32] = hasher.finalize().into();
    if got != expected.0 {
        eprintln!("athar serve: blob {expected} does not match its digest; transfer aborted");
        let _ = tx.blocking_send(Err(std::io::Error::other("blob altered")));
    }
}

fn parse_kind(kind: Option<&str>) -> Result<Option<RecordKind>, ApiError> {
    kind.map(|k| RecordKind::parse(k).map_err(|e| ApiError::bad_request(format!("kind: {e}"))))
        .transpose()
}

/// Who may read the identifying details of a case's confidential and protected sources:
/// admins always; other roles when the case's record lists theirs in `protected_readers`
/// (`athar_core::scope::may_read_protected`). Remembers each case's answer for one request.
#[derive(Default)]
pub(crate) struct ProtectedReaders(HashMap<String, bool>);

impl ProtectedReaders {
    pub(crate) fn may_read(
        &mut self,
        cat: &dyn Catalog,
        caller: &Caller,
        case: &str,
    ) -> Result<bool, ApiError> {
        if caller.is_admin() {
            return Ok(true);
        }
        if let Some(&v) = self.0.get(case) {
            return Ok(v);
        }
        let allowed = athar_core::scope::may_read_protected(cat, caller.user.role.as_str(), case)?;
        self.0.insert(case.to_owned(), allowed);
        Ok(allowed)
    }
}

pub async fn records(
    State(state): St,
    caller: Caller,
    Query(q): Query<CaseFilter>,
) -> Result<Json<Value>, ApiError> {
    let kind = parse_kind(q.kind.as_deref())?;
    reading(&state, move |cat| {
        let list = match (&q.case, caller.is_admin()) {
            (Some(c), _) => {
                if !caller.can_see(c) {
                    return Err(ApiError::not_found("no such case"));
                }
                cat.records(kind, Some(c))?
            }
            (None, true) => cat.records(kind, None)?,
            (None, false) => {
                let mut all = Vec::new();
                for c in &caller.user.cases {
                    all.extend(cat.records(kind, Some(c))?);
                }
                all
            }
        };
        let mut readers = ProtectedReaders::default();
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            let mut r = s.record;
            if !readers.may_read(cat, &caller, &r.case)? {
                r.body = r.body.redacted();
            }
            out.push(r.to_line());
        }
        Ok(Json(json!({ "records": out })))
    })
    .await
}

pub async fn record(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    reading(&state, move |cat| {
        let scope = scope(&caller);
        let stored = scope
            .record(cat, id.as_str())?
            .ok_or_else(|| ApiError::not_found("no such record"))?;
        let mut r = stored.record;
        // The value hash covers every field: shown with the protected ones only, else it
        // would confirm a guess of them.
        let mut sha256 = Some(stored.sha256);
        if !ProtectedReaders::default().may_read(cat, &caller, &r.case)? {
            if r.body.has_protected() {
                sha256 = None;
            }
            r.body = r.body.redacted();
        }
        let referrers = scope.referrers(cat, &r.id)?;
        Ok(Json(json!({
            "record": r.to_line(),
            "sha256": sha256,
            "referred_by": referrers,
        })))
    })
    .await
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    case: Option<String>,
    kind: Option<String>,
    date: Option<String>,
    place: Option<String>,
    violation: Option<String>,
    verification: Option<String>,
    limit: Option<usize>,
}

pub async fn search(
    State(state): St,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let date = athar_store::search_index::check_filters(p.kind.as_deref(), p.date.as_deref())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if p.case.as_ref().is_some_and(|c| !caller.can_see(c)) {
        return Err(ApiError::not_found("no such case"));
    }
    let text = p.q.clone().unwrap_or_default();
    if text.len() > 1000 {
        return Err(ApiError::bad_request("q: at most 1000 bytes"));
    }
    blocking(&state, move |a| {
        athar_store::search_index::update(a).map_err(ApiError::internal)?;
        let index =
            SearchIndex::open_or_create(&athar_store::search_index::index_dir(&a.work_dir()))
                .map_err(ApiError::internal)?;
        let results = index
            .search(&SearchQuery {
                text,
                cases: scope(&caller).case_list(),
                kind: p.kind,
                case: p.case,
                date,
                place: p.place,
                violation: p.violation,
                verification: p.verification,
                limit: p.limit.unwrap_or(20).clamp(1, 100),
            })
            .map_err(|e| match e {
                athar_search::Error::InvalidQuery(m) => ApiError::bad_request(m),
                e => ApiError::internal(e),
            })?;
        let mut out = athar_store::search_index::results_json(&results);
        let cat = a.catalog.as_ref();
        // A person linked across lists is shown once, with all their records and spellings
        // (of the hit's case, which the caller is on).
        athar_store::search_index::fold_persons(cat, &mut out)?;
        // An item hit gets its label, made from the events the caller sees.
        let scope = scope(&caller);
        for hit in out["hits"].as_array_mut().into_iter().flatten() {
            let Some(id) = (hit["kind"] == "item")
                .then(|| hit["id"].as_str().and_then(ItemId::parse))
                .flatten()
            else {
                continue;
            };
            if let Some((item, cases)) = scope.item(cat, &id)? {
                let events = scope.events(cat.events(&id)?, &cases);
                hit["label"] = json!(athar_core::label::label(cat, &item, &events)?);
            }
        }
        Ok(Json(out))
    })
    .await
}
