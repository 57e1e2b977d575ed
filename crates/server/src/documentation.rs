//! What the documentation pages read besides records themselves: the caller's cases with
//! their titles and counts, and a record's history (its custody events and each version).
//! The same rules as `api.rs`: a case the caller is not on answers 404, as if it did not
//! exist; protected source identities, and the hashes that would confirm a guess of them,
//! go only to those who may read them.

use std::collections::HashMap;
use std::sync::Arc;

use athar_core::records::{Body, Record, RecordKind};
use athar_core::scope::Scope;
use athar_core::{Database, EventDetails, Sha256, StoreError};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::api::{parse_id, scope, ProtectedReaders};
use crate::auth::Caller;
use crate::{reading, ApiError, AppState};

type St = State<Arc<AppState>>;

/// `GET /api/cases`: the names of the caller's cases (`cases`), and for each its case
/// record's title, description and readers of protected sources, its record's id, and how
/// many items and records (besides the case record) it holds (`details`).
pub async fn cases(State(state): St, caller: Caller) -> Result<Json<Value>, ApiError> {
    reading(&state, move |cat| {
        let names: Vec<String> = cat
            .case_names()?
            .into_iter()
            .filter(|c| caller.can_see(c))
            .collect();
        let mut details = Vec::with_capacity(names.len());
        for name in &names {
            let items = match cat.case_items(name) {
                Ok(v) => v.len(),
                Err(StoreError::NotFound(_)) => 0,
                Err(e) => return Err(e.into()),
            };
            let records = cat.records(None, Some(name))?;
            let case_record = records
                .iter()
                .find(|s| s.record.body.kind() == RecordKind::Case);
            let (id, title, description, readers) =
                match case_record.map(|s| (&s.record.id, &s.record.body)) {
                    Some((id, Body::Case(c))) => (
                        Some(id.clone()),
                        c.title.clone(),
                        c.description.clone(),
                        c.protected_readers.iter().map(|r| r.as_str()).collect(),
                    ),
                    _ => (None, None, None, Vec::new()),
                };
            let others = records
                .iter()
                .filter(|s| s.record.body.kind() != RecordKind::Case)
                .count();
            details.push(json!({
                "name": name,
                "record": id,
                "title": title,
                "description": description,
                "protected_readers": readers,
                "items": items,
                "records": others,
            }));
        }
        Ok(Json(json!({ "cases": names, "details": details })))
    })
    .await
}

/// `GET /api/records/{id}/history`: every custody event of a record the caller may see
/// (deleted records keep theirs), oldest first, each with the version it wrote. A version
/// with protected fields the caller may not read is shown redacted and without its hashes.
pub async fn record_history(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    reading(&state, move |cat| {
        let missing = || ApiError::not_found("no such record");
        let scope = scope(&caller);
        // Deleted records keep their history, so not `Scope::record` (live ones only).
        let stored = cat.record_by_id(id.as_str())?.ok_or_else(missing)?;
        if !scope.sees_case(&stored.record.case) {
            return Err(missing());
        }
        let mut versions = Versions {
            caller: &caller,
            scope: &scope,
            id: id.as_str(),
            readers: ProtectedReaders::default(),
            seen: HashMap::new(),
        };
        let mut events = Vec::new();
        for e in cat.events(&id)? {
            let EventDetails::Record(change) = &e.details else {
                continue;
            };
            if !scope.sees_case(&change.case) {
                continue;
            }
            let old = versions.hash(cat, change.old.as_ref())?;
            let new = versions.hash(cat, change.new.as_ref())?;
            let value = match &change.new {
                Some(s) => versions.get(cat, s)?.0,
                None => Value::Null,
            };
            events.push(json!({
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": change.action,
                "kind": change.record_kind,
                "case": change.case,
                "old": old,
                "new": new,
                "value": value,
            }));
        }
        Ok(Json(json!({
            "id": stored.record.id,
            "kind": stored.record.body.kind(),
            "case": stored.record.case,
            "deleted": stored.deleted,
            "events": events,
        })))
    })
    .await
}

/// The versions of one record, each read once: (the version as the caller may see it,
/// whether its hash may be shown).
struct Versions<'a> {
    caller: &'a Caller,
    scope: &'a Scope,
    id: &'a str,
    readers: ProtectedReaders,
    seen: HashMap<Sha256, (Value, bool)>,
}

impl Versions<'_> {
    fn get(&mut self, cat: &dyn Database, sha: &Sha256) -> Result<(Value, bool), ApiError> {
        if let Some(v) = self.seen.get(sha) {
            return Ok(v.clone());
        }
        let shown = match cat.record_value(sha)? {
            None => (Value::Null, true),
            Some(text) => {
                let mut r = Record::from_canonical(self.id, &text)
                    .map_err(|e| ApiError::internal(format!("stored version {sha}: {e}")))?;
                if !self.scope.sees_case(&r.case) {
                    // A version written while the record was in a case the caller is not on.
                    (Value::Null, false)
                } else {
                    let mut hash_shown = true;
                    if !self.readers.may_read(cat, self.caller, &r.case)? {
                        // Neither the protected fields nor the hash that would confirm a guess.
                        hash_shown = !r.body.has_protected();
                        r.body = r.body.redacted();
                    }
                    (r.to_line(), hash_shown)
                }
            }
        };
        self.seen.insert(*sha, shown.clone());
        Ok(shown)
    }

    /// A hash as shown to the caller: none when its version holds what they may not read.
    fn hash(
        &mut self,
        cat: &dyn Database,
        sha: Option<&Sha256>,
    ) -> Result<Option<String>, ApiError> {
        match sha {
            None => Ok(None),
            Some(s) => Ok(self.get(cat, s)?.1.then(|| s.to_string())),
        }
    }
}
