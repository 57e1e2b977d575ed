//! What the review pages read besides the core API: the caller and their safe-review
//! settings, review images, near-duplicates, custody proofs and the log's checkpoint and
//! key, incidents with dates and coordinates. The same rules as `api.rs`: anything on a case
//! the caller is not on answers 404; a clear view of evidence is an `access` custody event.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::Arc;

use athar_core::accounts::{Language, ReviewSettings};
use athar_core::records::{Body, RecordKind, StoredRecord};
use athar_core::{ItemId, Sha256};
use athar_store::Archive;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::api::{parse_id, record_access, scope, visible_item};
use crate::auth::Caller;
use crate::{blocking, reading, ApiError, AppState};

type St = State<Arc<AppState>>;

pub async fn me(State(state): St, caller: Caller) -> Result<Json<Value>, ApiError> {
    let uid = caller.user.id;
    let settings = blocking(&state, move |a| Ok(a.catalog.review_settings(uid)?)).await?;
    Ok(Json(json!({
        "user": caller.user.name,
        "role": caller.user.role,
        "cases": caller.user.cases,
        "settings": settings,
        "second_factor": {
            "enrolled": caller.user.second_factor,
            "required": state.requires_factor(caller.user.role),
        },
        "must_enrol": caller.must_enrol,
    })))
}

pub async fn settings(State(state): St, caller: Caller) -> Result<Json<ReviewSettings>, ApiError> {
    let uid = caller.user.id;
    let s = blocking(&state, move |a| Ok(a.catalog.review_settings(uid)?)).await?;
    Ok(Json(s))
}

/// A settings change: fields left out keep their value; unknown fields are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    blur: Option<bool>,
    greyscale: Option<bool>,
    muted: Option<bool>,
    autoplay: Option<bool>,
    /// `"en"`, `"ar"`, or `""` for the browser's language.
    lang: Option<String>,
}

pub async fn set_settings(
    State(state): St,
    caller: Caller,
    body: Result<Json<SettingsChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ReviewSettings>, ApiError> {
    let Json(change) = body.map_err(|e| ApiError::bad_request(format!("settings: {e}")))?;
    let lang = match change.lang.as_deref() {
        None => None,
        Some(code) => Some(Language::from_code(code).ok_or_else(|| {
            ApiError::bad_request(format!(
                "lang: unknown language {code:?} (\"en\", \"ar\", or \"\" for the browser's)"
            ))
        })?),
    };
    let uid = caller.user.id;
    let s = blocking(&state, move |a| {
        let mut s = a.catalog.review_settings(uid)?;
        s.blur = change.blur.unwrap_or(s.blur);
        s.greyscale = change.greyscale.unwrap_or(s.greyscale);
        s.muted = change.muted.unwrap_or(s.muted);
        s.autoplay = change.autoplay.unwrap_or(s.autoplay);
        s.lang = lang.unwrap_or(s.lang);
        a.catalog.set_review_settings(uid, &s)?;
        Ok(s)
    })
    .await?;
    Ok(Json(s))
}

/// The three review variants, safest first.
const VARIANTS: [&str; 3] = ["blurred", "greyscale", "clear"];

/// An item's review images, as (kind, variant, derived item): `kind` is `thumbnail` or
/// `contact-sheet`, from roles `review-<kind>-<variant>`.
fn review_images(a: &Archive, item: &ItemId) -> Result<Vec<(String, String, ItemId)>, ApiError> {
    let mut out = Vec::new();
    for (id, role) in a.catalog.derived_from(item)? {
        let Some(rest) = role.strip_prefix("review-") else {
            continue;
        };
        if let Some(v) = VARIANTS
            .iter()
            .find(|v| rest.strip_suffix(**v).is_some_and(|k| k.ends_with('-')))
        {
            let kind = rest[..rest.len() - v.len() - 1].to_owned();
            out.push((kind, (*v).to_owned(), id));
        }
    }
    Ok(out)
}

pub async fn review(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    blocking(&state, move |a| {
        let (item, _) = visible_item(a.catalog.as_ref(), &caller, &id)?;
        let images = review_images(a, &item.id)?;
        let mut kinds: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (kind, variant, _) in images {
            kinds.entry(kind).or_default().push(variant);
        }
        let settings = a.catalog.review_settings(caller.user.id)?;
        // What this user sees first: the safest variant their settings ask for.
        let first = if settings.blur {
            "blurred"
        } else if settings.greyscale {
            "greyscale"
        } else {
            "clear"
        };
        let list: Vec<Value> = kinds
            .into_iter()
            .map(|(kind, variants)| json!({ "kind": kind, "variants": variants }))
            .collect();
        Ok(Json(json!({
            "item": item.id,
            "images": list,
            "first_shown": first,
            "url": format!("/api/items/{}/review/{{variant}}", item.id),
        })))
    })
    .await
}

#[derive(Deserialize)]
pub struct PurposeQuery {
    purpose: Option<String>,
}

pub async fn review_image(
    State(state): St,
    caller: Caller,
    Path((id, variant)): Path<(String, String)>,
    Query(q): Query<PurposeQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let Some(variant) = VARIANTS.iter().find(|v| **v == variant).copied() else {
        return Err(ApiError::bad_request(
            "variant: blurred, greyscale or clear",
        ));
    };
    crate::api::check_purpose(q.purpose.as_deref())?;
    let bytes = blocking(&state, move |a| {
        let (item, item_cases) = visible_item(a.catalog.as_ref(), &caller, &id)?;
        let images = review_images(a, &item.id)?;
        // A thumbnail when there is one, else the contact sheet.
        let chosen = images
            .iter()
            .filter(|(_, v, _)| v == variant)
            .min_by_key(|(k, _, _)| k.as_str() != "thumbnail")
            .ok_or_else(|| ApiError::not_found("no review image (yet) for this item"))?;
        let image = a.catalog.resolve(chosen.2.as_str())?;
        if image.media_type != "image/jpeg" || image.size > 16 << 20 {
            return Err(ApiError::internal(format!(
                "review image {} is not a small JPEG",
                image.id
            )));
        }
        if variant == "clear" {
            // The unblurred picture is a view of the evidence.
            let purpose = Some(match q.purpose {
                Some(p) => format!("clear review image: {p}"),
                None => "clear review image".to_owned(),
            });
            record_access(a, &caller, &item.id, &item_cases, purpose)?;
        }
        let mut bytes = Vec::with_capacity(image.size as usize);
        a.blobs
            .open(&image.sha256)?
            .read_to_end(&mut bytes)
            .map_err(ApiError::internal)?;
        let got = Sha256(sha2::Sha256::digest(&bytes).into());
        if got != image.sha256 {
            return Err(ApiError::internal(format!(
                "review image {} does not match its digest",
                image.id
            )));
        }
        Ok(bytes)
    })
    .await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct SimilarQuery {
    min_share: Option<f64>,
}

pub async fn near_duplicates(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<SimilarQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let min_share = q.min_share.unwrap_or(0.2);
    if !(0.0..=1.0).contains(&min_share) {
        return Err(ApiError::bad_request("min_share: between 0 and 1"));
    }
    let Some(ext) = state.options.extensions.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this server runs without the similarity index",
        ));
    };
    reading(&state, move |cat| {
        let (item, _) = visible_item(cat, &caller, &id)?;
        let found = ext
            .near_duplicates(cat, &item, min_share)
            .map_err(ApiError::internal)?;
        let Some(found) = found else {
            return Ok(Json(
                json!({ "item": item.id, "fingerprinted": false, "matches": [] }),
            ));
        };
        // Only items the caller may see, with only the cases they may see: the others are
        // not mentioned, not even counted.
        let scope = scope(&caller);
        let mut matches = Vec::new();
        for (other, mut m) in found {
            let cases = cat.cases_of(&other)?;
            if scope.sees_item(&cases) {
                let events = scope.events(cat.events(&other)?, &cases);
                let label = match cat.resolve(other.as_str()) {
                    Ok(o) => Some(athar_core::label::label(cat, &o, &events)?),
                    Err(athar_core::StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                if let Value::Object(o) = &mut m {
                    o.insert("cases".into(), json!(scope.visible_cases(&cases)));
                    o.insert("label".into(), json!(label));
                }
                matches.push(m);
            }
        }
        Ok(Json(
            json!({ "item": item.id, "fingerprinted": true, "matches": matches }),
        ))
    })
    .await
}

fn text_response(body: String, attachment: Option<String>) -> Result<Response, ApiError> {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(name) = attachment {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                .map_err(ApiError::internal)?,
        );
    }
    Ok(res)
}

pub async fn event_proof(
    State(state): St,
    caller: Caller,
    Path((id, seq)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let seq: u64 = seq
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request("seq: a positive integer"))?;
    let (item, text) = blocking(&state, move |a| {
        let (item, item_cases) = visible_item(a.catalog.as_ref(), &caller, &id)?;
        let events = scope(&caller).events(a.catalog.events(&item.id)?, &item_cases);
        if !events.iter().any(|e| e.seq == seq) {
            return Err(ApiError::not_found("no such custody event of this item"));
        }
        let log = a.custody_log().map_err(ApiError::internal)?;
        if seq > log.size() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "the event is not in the custody log yet; try again shortly",
            ));
        }
        // A v2 entry's proof carries its opening (salt): the caller sees this event and
        // its item, so may check the bytes against the log.
        let proof = athar_core::custody_proof::event_proof(&log, a.catalog.as_ref(), seq)
            .map_err(ApiError::internal)?;
        Ok((item.id, proof.to_text()))
    })
    .await?;
    text_response(text, Some(format!("{item}-event-{seq}.tlog-proof")))
}

pub async fn checkpoint(State(state): St, _caller: Caller) -> Result<Response, ApiError> {
    let text = blocking(&state, |a| {
        let log = a.custody_log().map_err(ApiError::internal)?;
        Ok(log.checkpoint().to_owned())
    })
    .await?;
    text_response(text, Some("checkpoint".into()))
}

pub async fn vkey(State(state): St, _caller: Caller) -> Result<Response, ApiError> {
    let text = blocking(&state, |a| Ok(format!("{}\n", a.verifier().vkey()))).await?;
    text_response(text, Some("athar.vkey".into()))
}

#[derive(Deserialize)]
pub struct CaseQuery {
    case: Option<String>,
}

/// A record referred to by id or key (keys name records within a case: `case`'s first),
/// when live.
fn resolve_ref(
    a: &Archive,
    reference: &str,
    kind: RecordKind,
    case: &str,
) -> Result<Option<StoredRecord>, ApiError> {
    if let Some(r) = a.catalog.record_by_id(reference)? {
        return Ok((!r.deleted).then_some(r));
    }
    let mut found: Vec<_> = a
        .catalog
        .records_with_key(reference)?
        .into_iter()
        .filter(|k| k.kind == kind)
        .collect();
    found.sort_by_key(|k| k.case != case);
    match found.first() {
        Some(k) => Ok(a.catalog.record_by_id(&k.id)?.filter(|r| !r.deleted)),
        None => Ok(None),
    }
}

pub async fn incidents(
    State(state): St,
    caller: Caller,
    Query(q): Query<CaseQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.case.as_ref().is_some_and(|c| !caller.can_see(c)) {
        return Err(ApiError::not_found("no such case"));
    }
    blocking(&state, move |a| {
        let list = match (&q.case, caller.is_admin()) {
            (Some(c), _) => a.catalog.records(Some(RecordKind::Incident), Some(c))?,
            (None, true) => a.catalog.records(Some(RecordKind::Incident), None)?,
            (None, false) => {
                let mut all = Vec::new();
                for c in &caller.user.cases {
                    all.extend(a.catalog.records(Some(RecordKind::Incident), Some(c))?);
                }
                all
            }
        };
        let mut out = Vec::new();
        for s in list {
            let Body::Incident(inc) = &s.record.body else {
                continue;
            };
            let mut places = Vec::new();
            for p in &inc.places {
                // A place of another case the caller cannot see stays unnamed.
                let Some(place) = resolve_ref(a, p, RecordKind::Place, &s.record.case)? else {
                    continue;
                };
                if !caller.can_see(&place.record.case) {
                    continue;
                }
                let Body::Place(pl) = &place.record.body else {
                    continue;
                };
                places.push(json!({
                    "id": place.record.id,
                    "name": place.record.body.title(),
                    "lat": pl.coordinates.as_ref().map(|c| c.lat),
                    "lon": pl.coordinates.as_ref().map(|c| c.lon),
                    "precision_m": pl.coordinates.as_ref().and_then(|c| c.precision_m),
                }));
            }
            let (start, end) = match inc.date.as_ref().and_then(|d| d.days()) {
                Some((s, e)) => (
                    (s != i32::MIN).then(|| athar_core::records::dates::day_to_string(s)),
                    (e != i32::MAX).then(|| athar_core::records::dates::day_to_string(e)),
                ),
                None => (None, None),
            };
            out.push(json!({
                "id": s.record.id,
                "case": s.record.case,
                "title": inc.title,
                "description": inc.description,
                "status": inc.status,
                "date": inc.date,
                "start": start,
                "end": end,
                "places": places,
            }));
        }
        Ok(Json(json!({ "incidents": out })))
    })
    .await
}
