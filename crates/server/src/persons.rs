//! Persons across lists over HTTP: the review queue of a case (two records side by side
//! with each field's weight), reviewers' decisions (one custody event each, with the
//! reviewer as actor; `review` undoes one), the persons the decisions make with the
//! list-overlap table, and running the linkage of a case.
//!
//! Who may do what: every role reads the queue and the persons of its cases; admins,
//! investigators and analysts decide (a decision annotates, like a link); admins and
//! investigators run the linkage. A case the caller is not on answers 404.

use std::collections::HashMap;
use std::sync::Arc;

use athar_core::accounts::Role;
use athar_core::persons;
use athar_core::records::{Body, MatchDecision, RecordKind, StoredRecord};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::{blocking, reading, ApiError, AppState};

type St = State<Arc<AppState>>;

fn missing_case() -> ApiError {
    ApiError::not_found("no such case")
}

/// A person record as the review shows it: its JSON form, the list by name.
fn person_json(s: &StoredRecord, lists: &HashMap<&str, &str>) -> Value {
    let mut v = s.record.to_line();
    if let Body::Person(p) = &s.record.body {
        v["list"] = json!(p
            .source
            .as_deref()
            .map_or(persons::NO_LIST, |id| lists.get(id).copied().unwrap_or(id)));
    }
    v["deleted"] = json!(s.deleted);
    v
}

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /api/cases/{case}/review`: the pairs waiting for a reviewer, most likely first.
pub async fn queue(
    State(state): St,
    caller: Caller,
    Path(case): Path<String>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<Value>, ApiError> {
    if !caller.can_see(&case) {
        return Err(missing_case());
    }
    let limit = q.limit.unwrap_or(50).min(500);
    let offset = q.offset.unwrap_or(0);
    reading(&state, move |cat| {
        if !cat.case_exists(&case)? {
            return Err(missing_case());
        }
        let queue = persons::review_queue(cat, &case)?;
        let sources = cat.records(Some(RecordKind::Source), Some(&case))?;
        let lists = persons::list_names(&sources);
        let pairs: Vec<Value> = queue
            .iter()
            .skip(offset)
            .take(limit)
            .map(|p| {
                let Body::Match(m) = &p.matched.record.body else {
                    return Value::Null;
                };
                json!({
                    "match": p.matched.record.id,
                    "probability": m.probability,
                    "weights": m.weights,
                    "persons": [person_json(&p.persons[0], &lists), person_json(&p.persons[1], &lists)],
                })
            })
            .collect();
        Ok(Json(
            json!({ "case": case, "total": queue.len(), "offset": offset, "pairs": pairs }),
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    decision: String,
    note: Option<String>,
}

/// `POST /api/matches/{id}/decision`: a reviewer decides a pair (`same`, `different`), or
/// undoes a decision (`review`).
pub async fn decide(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    if !athar_core::records::is_record_id(&id) {
        return Err(ApiError::bad_request("id: 26 characters of base 32"));
    }
    // Read here rather than by the extractor: a body that is not a decision is bad input
    // (400), the same whether or not the match exists.
    let body: DecisionBody = serde_path_to_error::deserialize(body)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.path(), e.inner())))?;
    let decision = MatchDecision::parse(&body.decision)
        .map_err(|e| ApiError::bad_request(format!("decision: {e}")))?;
    if matches!(caller.user.role, Role::Viewer) {
        return Err(ApiError::forbidden("viewers do not decide matches"));
    }
    let note = body.note.filter(|n| !n.trim().is_empty());
    blocking(&state, move |a| {
        let missing = || ApiError::not_found("no such record");
        let stored = a.catalog.record_by_id(&id)?.ok_or_else(missing)?;
        if stored.deleted || !caller.can_see(&stored.record.case) {
            return Err(missing());
        }
        let change = persons::decision_change(&stored, decision, note)
            .ok_or_else(|| ApiError::bad_request("id: not a match record"))?;
        crate::write::apply_one(a, &caller, change, false).map(Json)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct PersonsQuery {
    linked: Option<bool>,
}

/// `GET /api/cases/{case}/persons`: the persons the `same` matches make, each with its
/// records and lists, and the list-overlap table.
pub async fn linked(
    State(state): St,
    caller: Caller,
    Path(case): Path<String>,
    Query(q): Query<PersonsQuery>,
) -> Result<Json<Value>, ApiError> {
    if !caller.can_see(&case) {
        return Err(missing_case());
    }
    reading(&state, move |cat| {
        if !cat.case_exists(&case)? {
            return Err(missing_case());
        }
        let people = persons::persons(cat, &case)?;
        let overlap = persons::overlap(&people);
        let shown: Vec<&persons::LinkedPerson> = people
            .iter()
            .filter(|p| !q.linked.unwrap_or(false) || p.records.len() > 1)
            .collect();
        Ok(Json(json!({
            "case": case,
            "count": people.len(),
            "persons": shown,
            "overlap": overlap,
        })))
    })
    .await
}

/// `POST /api/cases/{case}/link`: link the case's person records now.
pub async fn run(
    State(state): St,
    caller: Caller,
    Path(case): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !caller.can_see(&case) {
        return Err(missing_case());
    }
    if !matches!(caller.user.role, Role::Admin | Role::Investigator) {
        return Err(ApiError::forbidden(
            "only admins and investigators run the linkage",
        ));
    }
    blocking(&state, move |a| {
        if !a.catalog.case_exists(&case)? {
            return Err(missing_case());
        }
        let mut w = a.writer().map_err(ApiError::internal)?;
        let (report, _) = persons::link_case(
            w.catalog,
            &mut w.logger,
            &case,
            &caller.user.name,
            &persons::LinkOptions::default(),
        )
        .map_err(ApiError::internal)?;
        drop(w);
        athar_store::search_index::update(a).map_err(ApiError::internal)?;
        Ok(Json(
            serde_json::to_value(report).map_err(ApiError::internal)?,
        ))
    })
    .await
}
