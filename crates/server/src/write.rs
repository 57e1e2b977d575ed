//! Writing documentation records over HTTP: the same JSON Lines objects, parser and checks
//! as `athar records import`, one custody event per change with the user as actor.
//!
//! Who may write what: admins and investigators create, edit and delete records of every
//! kind on their cases (admins: every case; only admins create new cases); analysts
//! annotate: they create and edit `link` records (an item, or a range of a video, linked to
//! an incident, act, person or place with a verification status and a note) and `match`
//! records (whether two person records are one person) on their cases;
//! viewers write nothing. Everything a change touches — its case, the case it was in, the
//! records it refers to, a link's item — must be on the caller's cases, else it is refused
//! as if it did not exist.

use std::sync::Arc;

use athar_core::accounts::Role;
use athar_core::records::{self, Change, ChangeError, RecordKind};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::{blocking, ApiError, AppState};

type St = State<Arc<AppState>>;

/// Whether the caller's role may write records of `kind` (case membership is checked
/// separately). A case's record says who may read its protected sources: only admins
/// write it. Nobody writes a capture record by hand.
fn may_write(caller: &Caller, kind: RecordKind) -> bool {
    // Captures are written by the capture service only: their files' custody is theirs.
    if kind == RecordKind::Capture {
        return false;
    }
    match caller.user.role {
        Role::Admin => true,
        Role::Investigator => kind != RecordKind::Case,
        Role::Analyst => matches!(kind, RecordKind::Link | RecordKind::Match),
        Role::Viewer => false,
    }
}

fn change_error(e: ChangeError, conflict: bool) -> ApiError {
    match e {
        ChangeError::Invalid { field, message, .. } => {
            let hidden = ["no such record", "no such item", "no such case"];
            let status = if hidden.contains(&message.as_str()) {
                StatusCode::NOT_FOUND
            } else if conflict {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            ApiError::new(status, format!("{field}: {message}"))
        }
        e => ApiError::internal(e),
    }
}

/// Applies one change as the caller, brings the search index up to date, and answers with
/// the outcome and the record as stored.
pub(crate) fn apply_one(
    a: &mut athar_store::Archive,
    caller: &Caller,
    change: Change,
    conflict: bool,
) -> Result<Value, ApiError> {
    let scope = crate::api::scope(caller);
    let role = caller.user.role.as_str();
    // Whether the caller may read a case's protected sources: decided on the catalog as it
    // is before the change (a change never grants itself access).
    let readers: std::collections::HashMap<String, bool> = {
        let mut m = std::collections::HashMap::new();
        for case in &caller.user.cases {
            m.insert(
                case.clone(),
                athar_core::scope::may_read_protected(a.catalog.as_ref(), role, case)?,
            );
        }
        m
    };
    let reads_protected = |case: &str| readers.get(case).copied().unwrap_or(false);
    let restriction = records::Restriction {
        scope: &scope,
        reads_protected: &reads_protected,
    };
    let mut w = a.writer().map_err(ApiError::internal)?;
    let applied = records::apply_as(
        w.catalog,
        &mut w.logger,
        vec![change],
        &caller.user.name,
        (!caller.is_admin()).then_some(&restriction),
    )
    .map_err(|e| change_error(e, conflict))?;
    drop(w);
    athar_store::search_index::update(a).map_err(ApiError::internal)?;
    let mut applied = applied
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("nothing applied"))?;
    let record = match a.catalog.record_by_id(&applied.id)? {
        Some(s) if !s.deleted => {
            let mut r = s.record;
            if !caller.is_admin() && !reads_protected(&r.case) {
                // Neither the protected fields nor the hash that would confirm a guess.
                if r.body.has_protected() {
                    applied.sha256 = None;
                }
                r.body = r.body.redacted();
            }
            r.to_line()
        }
        _ => Value::Null,
    };
    Ok(json!({ "applied": applied, "record": record }))
}

fn parse_body(v: Value) -> Result<records::Line, ApiError> {
    records::parse_line(v).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `POST /api/records`: create a record (or update the one its `id` or kind and `key` name).
pub async fn create(
    State(state): St,
    caller: Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let line = parse_body(body)?;
    let kind = line.body.kind();
    if !may_write(&caller, kind) {
        return Err(ApiError::forbidden(format!(
            "your role may not write {} records",
            kind.as_str()
        )));
    }
    let out = blocking(&state, move |a| {
        apply_one(a, &caller, Change::Put(Box::new(line)), false)
    })
    .await?;
    let status = if out["applied"]["action"] == "create" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)).into_response())
}

/// `PUT /api/records/{id}`: replace a record's fields (the whole object; `kind` as stored).
pub async fn edit(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    if !records::is_record_id(&id) {
        return Err(ApiError::bad_request("id: 26 characters of base 32"));
    }
    let mut body = body;
    match body.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if *s == id => {}
        Some(_) => return Err(ApiError::bad_request("id: differs from the path")),
    }
    if let Value::Object(m) = &mut body {
        m.insert("id".into(), Value::String(id.clone()));
    }
    let line = parse_body(body)?;
    let kind = line.body.kind();
    if !may_write(&caller, kind) {
        return Err(ApiError::forbidden(format!(
            "your role may not write {} records",
            kind.as_str()
        )));
    }
    blocking(&state, move |a| {
        let missing = || ApiError::not_found("no such record");
        let stored = a.catalog.record_by_id(&id)?.ok_or_else(missing)?;
        if stored.deleted || !caller.can_see(&stored.record.case) {
            return Err(missing());
        }
        if stored.record.body.kind() != kind {
            return Err(ApiError::bad_request(format!(
                "kind: the record is a {}",
                stored.record.body.kind().as_str()
            )));
        }
        apply_one(a, &caller, Change::Put(Box::new(line)), false).map(Json)
    })
    .await
}

/// `DELETE /api/records/{id}`: delete a record (refused with 409 while others refer to it).
pub async fn delete(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !records::is_record_id(&id) {
        return Err(ApiError::bad_request("id: 26 characters of base 32"));
    }
    if !matches!(caller.user.role, Role::Admin | Role::Investigator) {
        return Err(ApiError::forbidden(
            "only admins and investigators delete records",
        ));
    }
    blocking(&state, move |a| {
        let missing = || ApiError::not_found("no such record");
        let stored = a.catalog.record_by_id(&id)?.ok_or_else(missing)?;
        if stored.deleted || !caller.can_see(&stored.record.case) {
            return Err(missing());
        }
        if !may_write(&caller, stored.record.body.kind()) {
            return Err(ApiError::forbidden(
                "a capture is kept by the capture service, not deleted by hand",
            ));
        }
        apply_one(a, &caller, Change::Delete(id), true).map(Json)
    })
    .await
}
