//! Applying changes to records: resolve references, check everything, then write the
//! whole batch in one catalog transaction with one custody event per change, and log it.
//! A batch applies entirely or not at all.

use std::collections::{HashMap, HashSet};

use super::{is_record_id, Body, Line, Record, RecordKind, Ref};
use crate::log::{LogError, Logger};
use crate::model::{ItemId, Sha256};
use crate::scope::Scope;
use crate::storage::Catalog;
use crate::StoreError;

/// The limits on a writer who is not the archive's operator (see [`apply_as`]).
pub struct Restriction<'a> {
    /// The cases the writer is on: they write only there and refer only to what is there;
    /// everything else is answered as if it did not exist.
    pub scope: &'a Scope,
    /// Whether the writer may read the protected source details of a case (and so change
    /// them); otherwise those details are kept as stored ([`Body::keep_protected`]).
    pub reads_protected: &'a dyn Fn(&str) -> bool,
}

impl std::fmt::Debug for Restriction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restriction")
            .field("scope", self.scope)
            .finish_non_exhaustive()
    }
}

/// The one answer for a record that does not exist and one the writer may not see.
const NO_RECORD: &str = "no such record";
/// The one answer for an item that does not exist and one the writer may not see.
const NO_ITEM: &str = "no such item";
/// The one answer for a case that does not exist and one the writer is not on.
const NO_CASE: &str = "no such case";

/// One requested change.
#[derive(Debug, Clone)]
pub enum Change {
    /// Create a record, or replace the one its `id` (or kind and `key`) names.
    Put(Box<Line>),
    /// Delete the record a reference names.
    Delete(Ref),
}

/// Why a batch was refused: which change (from 0), which field, what.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("record {index}: {field}: {message}")]
    Invalid {
        index: usize,
        field: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A record as the catalog holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub record: Record,
    pub sha256: Sha256,
    pub deleted: bool,
}

/// A live record found by its key: keys name records within a case and kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyedRecord {
    pub kind: RecordKind,
    pub id: String,
    pub case: String,
}

/// What the catalog writes for one applied change.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    pub id: String,
    pub kind: RecordKind,
    pub key: Option<String>,
    pub case: String,
    /// The new canonical body; None for a delete.
    pub body: Option<String>,
    pub action: &'static str,
    pub old: Option<Sha256>,
    pub new: Option<Sha256>,
    /// Ids the new body refers to.
    pub refs: Vec<String>,
}

/// The outcome of one change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub id: String,
    pub kind: RecordKind,
    /// `create`, `edit`, `delete`, or `unchanged` (nothing written, no event).
    pub action: &'static str,
    /// The custody event that records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256>,
}

fn invalid(index: usize, field: impl Into<String>, message: impl Into<String>) -> ChangeError {
    ChangeError::Invalid {
        index,
        field: field.into(),
        message: message.into(),
    }
}

/// Applies `changes` as one batch by `actor`. Checks all of them first (types, references,
/// cases, deletes of records still referred to); on any problem nothing is written.
pub fn apply(
    catalog: &mut dyn Catalog,
    logger: &mut Logger<'_>,
    changes: Vec<Change>,
    actor: &str,
) -> Result<Vec<Applied>, ChangeError> {
    apply_keeping(catalog, logger, changes, actor, None).map(|(applied, _)| applied)
}

/// [`apply`] for someone limited by `restriction` (None: the archive's operator): every
/// record written or deleted, the case it was in before, every record it refers to and a
/// link's item must be on the writer's cases, and anything else is refused exactly as if it
/// did not exist (same field, same message): ids, keys, item prefixes and cases of other
/// cases confirm nothing. Such a writer names an existing record by id or key and never
/// chooses the id of a new one; protected source details they may not read are kept.
pub fn apply_as(
    catalog: &mut dyn Catalog,
    logger: &mut Logger<'_>,
    changes: Vec<Change>,
    actor: &str,
    restriction: Option<&Restriction<'_>>,
) -> Result<Vec<Applied>, ChangeError> {
    apply_keeping(catalog, logger, changes, actor, restriction).map(|(applied, _)| applied)
}

/// A record as one applied change wrote it, with the custody event that recorded it: what a
/// derived index needs, without reading the record back from the catalog.
#[derive(Debug, Clone)]
pub struct Written {
    pub event: u64,
    pub record: Record,
}

/// [`apply_as`], also returning every record it created or changed (deletes and unchanged
/// records are not in the list) exactly as the catalog now holds it.
pub fn apply_keeping(
    catalog: &mut dyn Catalog,
    logger: &mut Logger<'_>,
    changes: Vec<Change>,
    actor: &str,
    restriction: Option<&Restriction<'_>>,
) -> Result<(Vec<Applied>, Vec<Written>), ChangeError> {
    let prepared = prepare(&*catalog, changes, restriction)?;
    let seqs = prepared.write(catalog, logger, actor)?;
    Ok(prepared.finish(seqs))
}

/// A batch of changes checked by [`prepare`] and not yet written: what it will write is
/// known, so a derived index can be built from it while [`Prepared::write`] runs.
#[derive(Debug)]
pub struct Prepared {
    out: Vec<Applied>,
    writes: Vec<RecordWrite>,
    /// The records created or changed, in the order of `out`'s non-deletes.
    kept: Vec<Record>,
}

impl Prepared {
    /// Every record the batch creates or changes, exactly as it will be stored.
    pub fn records(&self) -> &[Record] {
        &self.kept
    }

    /// What the batch will write to the catalog, in order.
    pub fn writes(&self) -> &[RecordWrite] {
        &self.writes
    }

    /// What the batch will do to each record, in order.
    pub fn pending(&self) -> impl Iterator<Item = Pending<'_>> {
        let mut kept = self.kept.iter();
        self.writes.iter().filter_map(move |w| match w.action {
            "delete" => Some(Pending::Delete(&w.id)),
            "create" => kept.next().map(Pending::Create),
            _ => kept.next().map(Pending::Edit),
        })
    }

    /// Writes the batch to the catalog (one transaction, one custody event per change) and
    /// appends the events to the custody log; returns the events' numbers, in order.
    pub fn write(
        &self,
        catalog: &mut dyn Catalog,
        logger: &mut Logger<'_>,
        actor: &str,
    ) -> Result<Vec<u64>, ChangeError> {
        if self.writes.is_empty() {
            return Ok(Vec::new());
        }
        let events = catalog.write_records(&self.writes, actor, logger.log.size())?;
        let changed = self.writes.len();
        if events.len() != changed {
            return Err(ChangeError::Store(StoreError::Catalog(format!(
                "the catalog recorded {} custody events for {changed} changes",
                events.len()
            ))));
        }
        logger.catch_up_with(catalog, &events)?;
        Ok(events.into_iter().map(|e| e.seq).collect())
    }

    /// The outcome of each change and the records written, given the event numbers
    /// [`Prepared::write`] returned.
    pub fn finish(self, seqs: Vec<u64>) -> (Vec<Applied>, Vec<Written>) {
        let Prepared {
            mut out,
            writes,
            kept,
        } = self;
        drop(writes);
        let mut seqs = seqs.into_iter();
        let mut kept = kept.into_iter();
        let mut written = Vec::with_capacity(kept.len());
        for a in out.iter_mut().filter(|a| a.action != "unchanged") {
            a.event = seqs.next();
            if a.action != "delete" {
                if let (Some(event), Some(record)) = (a.event, kept.next()) {
                    written.push(Written { event, record });
                }
            }
        }
        (out, written)
    }
}

/// One change of a [`Prepared`] batch.
#[derive(Debug, Clone, Copy)]
pub enum Pending<'a> {
    /// A record with a new id.
    Create(&'a Record),
    /// A new value of an existing record.
    Edit(&'a Record),
    /// The id of a record deleted.
    Delete(&'a str),
}

/// Checks `changes` as one batch (types, references, cases, deletes of records still
/// referred to, and, with `may_use`, the cases the caller may touch) without writing
/// anything.
pub fn prepare(
    catalog: &dyn Catalog,
    changes: Vec<Change>,
    restriction: Option<&Restriction<'_>>,
) -> Result<Prepared, ChangeError> {
    let mut batch = Batch {
        restriction,
        ..Batch::default()
    };
    // A large batch looks keys up in memory: one query instead of several per record.
    if changes.len() > 1000 {
        let mut keys: HashMap<String, Vec<KeyedRecord>> = HashMap::new();
        for (key, found) in catalog.record_keys()? {
            keys.entry(key).or_default().push(found);
        }
        batch.db_keys = Some(keys);
    }
    let mut planned = Vec::with_capacity(changes.len());
    for (index, change) in changes.into_iter().enumerate() {
        planned.push(batch.plan(catalog, index, change)?);
    }
    // References are resolved once every record of the batch is known (a record may refer
    // to one later in the file).
    let mut checked = Vec::with_capacity(planned.len());
    for (index, plan) in planned.into_iter().enumerate() {
        checked.push(match plan {
            Plan::Put { record, old } => batch.check_put(catalog, index, record, old)?,
            Plan::Delete(stored) => batch.check_delete(catalog, index, stored)?,
        });
    }
    Ok(prepared_writes(checked))
}

/// What a checked batch writes: each put's canonical value and hash (an unchanged value is
/// not written), each delete, and the outcome of every change.
fn prepared_writes(checked: Vec<Plan>) -> Prepared {
    // Canonical values and their hashes, on every core for a large batch.
    let values = canonical_values(&checked);
    let mut writes = Vec::new();
    let mut out = Vec::with_capacity(checked.len());
    let mut kept = Vec::new();
    for (plan, value) in checked.into_iter().zip(values) {
        match (plan, value) {
            (Plan::Put { record, old }, Some((body, sha))) => {
                let kind = record.body.kind();
                if old.is_some_and(|o| o == sha) {
                    out.push(Applied {
                        id: record.id,
                        kind,
                        action: "unchanged",
                        event: None,
                        sha256: Some(sha),
                    });
                    continue;
                }
                let mut refs: Vec<String> =
                    record.body.refs().into_iter().map(|r| r.value).collect();
                // A link also refers to its item, so the item can list what it is linked to.
                if let Body::Link(link) = &record.body {
                    refs.push(link.item.clone());
                }
                // A capture refers to its files' items, so each item can name its capture.
                if let Body::Capture(c) = &record.body {
                    refs.extend(c.artefacts.iter().map(|a| a.item.clone()));
                }
                refs.sort();
                refs.dedup();
                writes.push(RecordWrite {
                    id: record.id.clone(),
                    kind,
                    key: record.key.clone(),
                    case: record.case.clone(),
                    body: Some(body),
                    action: if old.is_some() { "edit" } else { "create" },
                    old,
                    new: Some(sha),
                    refs,
                });
                out.push(Applied {
                    id: record.id.clone(),
                    kind,
                    action: if old.is_some() { "edit" } else { "create" },
                    event: None,
                    sha256: Some(sha),
                });
                kept.push(record);
            }
            (Plan::Delete(stored), _) => {
                let id = stored.record.id.clone();
                let kind = stored.record.body.kind();
                writes.push(RecordWrite {
                    id: id.clone(),
                    kind,
                    key: stored.record.key.clone(),
                    case: stored.record.case.clone(),
                    body: None,
                    action: "delete",
                    old: Some(stored.sha256),
                    new: None,
                    refs: Vec::new(),
                });
                out.push(Applied {
                    id,
                    kind,
                    action: "delete",
                    event: None,
                    sha256: None,
                });
            }
            (Plan::Put { .. }, None) => {}
        }
    }
    Prepared { out, writes, kept }
}

/// Each put's canonical value and its hash (None for deletes), in order.
fn canonical_values(plans: &[Plan]) -> Vec<Option<(String, Sha256)>> {
    crate::par::map(plans, 10_000, |p| match p {
        Plan::Put { record, .. } => {
            let body = record.canonical();
            let sha = super::value_hash(&body);
            Some((body, sha))
        }
        Plan::Delete(_) => None,
    })
}

enum Plan {
    Put { record: Record, old: Option<Sha256> },
    Delete(StoredRecord),
}

/// Records the batch creates, so later changes and references can name them.
#[derive(Default)]
struct Batch<'r> {
    restriction: Option<&'r Restriction<'r>>,
    ids: HashMap<String, RecordKind>,
    /// Keys the batch gives, with the records they name.
    keys: HashMap<String, Vec<KeyedRecord>>,
    cases: HashSet<String>,
    deleted: HashSet<String>,
    /// Every live key in the catalog, for large batches.
    db_keys: Option<HashMap<String, Vec<KeyedRecord>>>,
    /// Cases known to exist in the catalog.
    known_cases: HashSet<String>,
}

impl Batch<'_> {
    /// Whether the writer may see `case`.
    fn sees(&self, case: &str) -> bool {
        self.restriction.is_none_or(|r| r.scope.sees_case(case))
    }

    /// Live catalog records with this key that the writer may see.
    fn db_with_key(
        &self,
        catalog: &dyn Catalog,
        key: &str,
    ) -> Result<Vec<KeyedRecord>, StoreError> {
        let all = match &self.db_keys {
            Some(keys) => keys.get(key).cloned().unwrap_or_default(),
            None => catalog.records_with_key(key)?,
        };
        Ok(all.into_iter().filter(|k| self.sees(&k.case)).collect())
    }

    fn case_known(&mut self, catalog: &dyn Catalog, case: &str) -> Result<bool, StoreError> {
        if self.known_cases.contains(case) {
            return Ok(true);
        }
        let known = catalog.case_exists(case)?;
        if known {
            self.known_cases.insert(case.to_owned());
        }
        Ok(known)
    }

    /// The live record with this id that the writer may see.
    /// (The archive's operator also sees deleted records, to be told they were deleted.)
    fn seen_record(
        &self,
        catalog: &dyn Catalog,
        id: &str,
    ) -> Result<Option<StoredRecord>, StoreError> {
        match self.restriction {
            None => catalog.record_by_id(id),
            Some(r) => r.scope.record(catalog, id),
        }
    }

    fn plan(
        &mut self,
        catalog: &dyn Catalog,
        index: usize,
        change: Change,
    ) -> Result<Plan, ChangeError> {
        match change {
            Change::Delete(r) => self.plan_delete(catalog, index, &r),
            Change::Put(line) => self.plan_put(catalog, index, *line),
        }
    }

    /// Plans deleting the record `r` names.
    fn plan_delete(
        &mut self,
        catalog: &dyn Catalog,
        index: usize,
        r: &Ref,
    ) -> Result<Plan, ChangeError> {
        let id = self
            .resolve(catalog, r, RecordKind::ALL, None)
            .map_err(|m| invalid(index, "id", m))?;
        if self.ids.contains_key(&id) || self.deleted.contains(&id) {
            return Err(invalid(
                index,
                "id",
                format!("{id} is changed twice in one batch"),
            ));
        }
        let stored = self
            .seen_record(catalog, &id)?
            .filter(|s| !s.deleted)
            .ok_or_else(|| invalid(index, "id", format!("no record {id}")))?;
        if stored.record.body.kind() == RecordKind::Case {
            return Err(invalid(index, "id", "cases are not deleted"));
        }
        self.deleted.insert(id);
        Ok(Plan::Delete(stored))
    }

    /// Plans writing `line`: which case, which record (new or existing), its id and key.
    fn plan_put(
        &mut self,
        catalog: &dyn Catalog,
        index: usize,
        line: Line,
    ) -> Result<Plan, ChangeError> {
        let kind = line.body.kind();
        let case = match (kind, line.case) {
            (RecordKind::Case, Some(c)) => c,
            (RecordKind::Case, None) => line
                .key
                .clone()
                .ok_or_else(|| invalid(index, "case", "a case record needs its name in case"))?,
            (_, Some(c)) => c,
            (_, None) => return Err(invalid(index, "case", "missing")),
        };
        if !self.sees(&case) {
            return Err(invalid(index, "case", NO_CASE));
        }
        // Which record this is: by id, else by kind and key within the case, else
        // (for a case record) the case's own record, else new.
        let existing = self.existing(
            catalog,
            index,
            line.id.as_ref(),
            line.key.as_ref(),
            kind,
            &case,
        )?;
        let id = match (&existing, &line.id) {
            (Some(s), _) => s.record.id.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => ItemId::generate()
                .map_err(|e| invalid(index, "id", format!("no randomness: {e}")))?
                .to_string(),
        };
        if self.ids.contains_key(&id) || self.deleted.contains(&id) {
            return Err(invalid(
                index,
                "id",
                format!("{id} is changed twice in one batch"),
            ));
        }
        if let Some(key) = &line.key {
            let other = self
                .db_with_key(catalog, key)?
                .into_iter()
                .chain(self.keys.get(key).cloned().unwrap_or_default())
                .find(|k| k.kind == kind && k.case == case && k.id != id);
            if let Some(other) = other {
                return Err(invalid(
                    index,
                    "key",
                    format!(
                        "{kind} key {key:?} already names record {} in case {case:?}",
                        other.id
                    ),
                ));
            }
            self.keys.entry(key.clone()).or_default().push(KeyedRecord {
                kind,
                id: id.clone(),
                case: case.clone(),
            });
        }
        if kind == RecordKind::Case {
            self.cases.insert(case.clone());
        }
        self.ids.insert(id.clone(), kind);
        Ok(Plan::Put {
            old: existing.map(|s| s.sha256),
            record: Record {
                id,
                key: line.key,
                case,
                body: line.body,
            },
        })
    }

    /// The stored record `line` writes to, if any: by id, else by kind and key within
    /// `case`, else (for a case record) the case's own record. Refuses a deleted record, one
    /// of another kind, and renaming a case.
    fn existing(
        &self,
        catalog: &dyn Catalog,
        index: usize,
        id: Option<&String>,
        key: Option<&String>,
        kind: RecordKind,
        case: &str,
    ) -> Result<Option<StoredRecord>, ChangeError> {
        let mut existing = match id {
            Some(id) => {
                if !is_record_id(id) {
                    return Err(invalid(
                        index,
                        "id",
                        format!("{id:?} is not a record id (26 characters); leave it out to create a record, or use key"),
                    ));
                }
                let found = self.seen_record(catalog, id)?;
                if found.is_none() && self.restriction.is_some() {
                    // Only the archive's operator chooses the id of a new record.
                    return Err(invalid(index, "id", NO_RECORD));
                }
                found
            }
            None => match key {
                Some(key) => {
                    let found = self
                        .db_with_key(catalog, key)?
                        .into_iter()
                        .find(|k| k.kind == kind && k.case == case);
                    match found {
                        Some(k) => catalog.record_by_id(&k.id)?,
                        None => None,
                    }
                }
                None => None,
            },
        };
        if kind == RecordKind::Case && existing.is_none() {
            if self.cases.contains(case) {
                return Err(invalid(
                    index,
                    "case",
                    format!("case {case:?} has one record; it is written twice in one batch"),
                ));
            }
            // A case has one record: writing another edits it.
            existing = catalog
                .records(Some(RecordKind::Case), Some(case))?
                .into_iter()
                .next();
        }
        if let Some(s) = &existing {
            if s.deleted {
                return Err(invalid(
                    index,
                    "id",
                    format!("record {} was deleted", s.record.id),
                ));
            }
            if s.record.body.kind() != kind {
                return Err(invalid(
                    index,
                    "kind",
                    format!(
                        "record {} is a {}, not a {kind}",
                        s.record.id,
                        s.record.body.kind()
                    ),
                ));
            }
            if kind == RecordKind::Case && s.record.case != case {
                return Err(invalid(index, "case", "a case is not renamed"));
            }
        }
        Ok(existing)
    }

    /// Checks a put once every record of the batch is known: its references resolve (a
    /// record may refer to one later in the batch), a link's item exists, and the writer may
    /// touch its case, its record as stored, everything it refers to and a link's item.
    fn check_put(
        &mut self,
        catalog: &dyn Catalog,
        index: usize,
        mut record: Record,
        old: Option<Sha256>,
    ) -> Result<Plan, ChangeError> {
        let mut error = None;
        let kinds: HashMap<String, &'static [RecordKind]> = record
            .body
            .refs()
            .into_iter()
            .map(|r| (r.field, r.kinds))
            .collect();
        let case = record.case.clone();
        record.body.map_refs(&mut |field, value| {
            let allowed = kinds.get(field).copied().unwrap_or(&[]);
            match self.resolve(catalog, value, allowed, Some(&case)) {
                Ok(id) => id,
                Err(message) => {
                    error.get_or_insert_with(|| (field.to_owned(), message));
                    value.clone()
                }
            }
        });
        if let Some((field, message)) = error {
            return Err(invalid(index, field, message));
        }
        if let Body::Link(link) = &mut record.body {
            let found = match self.restriction {
                Some(r) => r.scope.resolve_item(catalog, &link.item),
                None => catalog.resolve(&link.item),
            };
            let item = found.map_err(|e| match e {
                StoreError::NotFound(_) | StoreError::Ambiguous { .. } => invalid(
                    index,
                    "item",
                    format!("no single item {:?}: {e}", link.item),
                ),
                e => ChangeError::Store(e),
            })?;
            link.item = item.id.to_string();
        }
        // A capture's files are named by their bytes: each artefact names the item holding
        // its SHA-256 here (the same item for a capture made here; this archive's for one
        // received in a bag), and must be held.
        if let Body::Capture(c) = &mut record.body {
            for (i, a) in c.artefacts.iter_mut().enumerate() {
                let sha: crate::model::Sha256 = a.sha256.parse().map_err(|_| {
                    invalid(index, format!("artefacts[{i}].sha256"), "not a SHA-256")
                })?;
                let item = catalog.item_by_sha(&sha)?.ok_or_else(|| {
                    invalid(index, format!("artefacts[{i}].sha256"), "no such item")
                })?;
                if let Some(r) = self.restriction {
                    if r.scope.resolve_item(catalog, item.id.as_str()).is_err() {
                        return Err(invalid(
                            index,
                            format!("artefacts[{i}].sha256"),
                            "no such item",
                        ));
                    }
                }
                a.item = item.id.to_string();
            }
        }
        if !self.sees(&record.case) {
            return Err(invalid(index, "case", NO_CASE));
        }
        if old.is_some() {
            if let Some(before) = catalog.record_by_id(&record.id)? {
                if !self.sees(&before.record.case) {
                    return Err(invalid(index, "id", NO_RECORD));
                }
                if let Some(r) = self.restriction {
                    if !(r.reads_protected)(&before.record.case) {
                        record
                            .body
                            .keep_protected(&before.record.body)
                            .map_err(|field| {
                                invalid(
                                    index,
                                    field,
                                    "protected: only someone who may read it changes it",
                                )
                            })?;
                    }
                }
            }
        }
        for r in record.body.refs() {
            if self.ids.contains_key(&r.value) {
                continue; // made by this batch, on a case already checked
            }
            if let Some(target) = catalog.record_by_id(&r.value)? {
                if !self.sees(&target.record.case) {
                    return Err(invalid(index, r.field, NO_RECORD));
                }
            }
        }
        if let (Body::Link(link), Some(r)) = (&record.body, self.restriction) {
            let visible = match ItemId::parse(&link.item) {
                Some(id) => r.scope.sees_item(&catalog.cases_of(&id)?),
                None => false,
            };
            if !visible {
                return Err(invalid(index, "item", NO_ITEM));
            }
        }
        if let Body::Match(m) = &record.body {
            check_match(catalog, index, &record.id, &record.case, m)?;
        }
        if record.body.kind() != RecordKind::Case
            && !self.cases.contains(&record.case)
            && !self.case_known(catalog, &record.case)?
        {
            return Err(invalid(
                index,
                "case",
                format!(
                    "no case {:?}: create it first (athar case add)",
                    record.case
                ),
            ));
        }
        Ok(Plan::Put { record, old })
    }

    /// Checks a delete: the writer sees the record, and no record outside the batch's
    /// deletes still refers to it.
    fn check_delete(
        &mut self,
        catalog: &dyn Catalog,
        index: usize,
        stored: StoredRecord,
    ) -> Result<Plan, ChangeError> {
        if !self.sees(&stored.record.case) {
            return Err(invalid(index, "id", NO_RECORD));
        }
        let id = stored.record.id.clone();
        let mut visible = Vec::new();
        let mut others = 0;
        for r in catalog.referrers(&id)? {
            if self.deleted.contains(&r) {
                continue;
            }
            let seen = match self.restriction {
                None => true,
                Some(x) => x.scope.record(catalog, &r)?.is_some(),
            };
            if seen {
                visible.push(r);
            } else {
                others += 1;
            }
        }
        if !visible.is_empty() || others > 0 {
            let mut by = visible.join(", ");
            if others > 0 {
                if !by.is_empty() {
                    by.push_str(" and ");
                }
                by.push_str(&format!("{others} record(s) of other cases"));
            }
            return Err(invalid(
                index,
                "id",
                format!(
                    "{} {id} is still referred to by {by}; change or delete those first",
                    stored.record.body.kind(),
                ),
            ));
        }
        Ok(Plan::Delete(stored))
    }

    /// Resolves a reference (id, key, or `kind:key`) to a live record id of one of `kinds`,
    /// among the records the writer may see. A key names records within a case: one in
    /// `case` (the referring record's) is taken first, else the key must name one record
    /// across the cases seen.
    fn resolve(
        &self,
        catalog: &dyn Catalog,
        value: &str,
        kinds: &[RecordKind],
        case: Option<&str>,
    ) -> Result<String, String> {
        let wanted = || {
            kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        };
        if is_record_id(value) {
            let kind = match self.ids.get(value) {
                Some(k) => Some(*k),
                None if self.deleted.contains(value) => None,
                None => self
                    .seen_record(catalog, value)
                    .map_err(|e| e.to_string())?
                    .filter(|s| !s.deleted)
                    .map(|s| s.record.body.kind()),
            };
            return match kind {
                Some(k) if kinds.contains(&k) => Ok(value.to_owned()),
                Some(k) => Err(format!("{value} is a {k}, not a {}", wanted())),
                None => Err(format!("no record {value}")),
            };
        }
        let (only, key) = match value.split_once(':') {
            Some((k, key)) => (Some(RecordKind::parse(k)?), key),
            None => (None, value),
        };
        let mut found: Vec<KeyedRecord> = self
            .db_with_key(catalog, key)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|k| !self.deleted.contains(&k.id) && !self.ids.contains_key(&k.id))
            .chain(self.keys.get(key).cloned().unwrap_or_default())
            .filter(|k| kinds.contains(&k.kind) && only.is_none_or(|o| o == k.kind))
            .collect();
        found.sort();
        found.dedup();
        if let Some(case) = case {
            if found.iter().any(|k| k.case == case) {
                found.retain(|k| k.case == case);
            }
        }
        match found.len() {
            1 => Ok(found.swap_remove(0).id),
            0 => Err(format!("no {} with id or key {value:?}", wanted())),
            _ => Err(format!(
                "key {value:?} names {} records ({}); write kind:key, or refer by id",
                found.len(),
                found
                    .iter()
                    .map(|k| format!("{} of case {:?}", k.kind.as_str(), k.case))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// A match joins two persons of its own case (a person's records are gathered only within
/// it), and is the only match of its pair: a second one would let two decisions disagree.
fn check_match(
    catalog: &dyn Catalog,
    index: usize,
    id: &str,
    case: &str,
    m: &super::Match,
) -> Result<(), ChangeError> {
    for (i, p) in m.persons.iter().enumerate() {
        if let Some(person) = catalog.record_by_id(p)? {
            if person.record.case != case {
                return Err(invalid(
                    index,
                    format!("persons[{i}]"),
                    "must be a person of the match's case",
                ));
            }
        }
    }
    let pair = |x: &[String]| {
        let (a, b) = (&x[0], &x[1]);
        if a <= b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        }
    };
    let this = pair(&m.persons);
    for r in catalog.referrers(&m.persons[0])? {
        if r == id {
            continue;
        }
        if let Some(other) = catalog.record_by_id(&r)? {
            if let Body::Match(o) = &other.record.body {
                if !other.deleted && o.persons.len() == 2 && pair(&o.persons) == this {
                    return Err(invalid(
                        index,
                        "persons",
                        format!("match {r} already joins these two records: decide that one"),
                    ));
                }
            }
        }
    }
    Ok(())
}
