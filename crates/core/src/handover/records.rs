//! A case's documentation records in a hand-over bag: chosen and ordered for
//! [`export()`](super::export()), checked by [`verify_bag`](super::verify_bag), taken in by
//! [`import_bag`](super::import_bag).
//!
//! ```text
//! athar/records.jsonl                  the case's live records, one JSON object a line (the
//!                                      `athar records export` form), each after those it refers to
//! athar/records/<id>/record.json       the record's custody events (catalog records, with salts)
//! athar/records/<id>/<seq>.entry       each event's exact log entry
//! athar/records/<id>/<seq>.tlog-proof  its C2SP tlog-proof against athar/checkpoint
//! ```
//!
//! Protected sources: a non-public source's identifying details leave as `[protected]` (as
//! `athar records export` writes them without `--reveal-protected`), whoever exports, and its
//! custody history stays out of the bag: each of its events names the SHA-256 of a value
//! holding the identity, which would confirm a guess of it. Such a record is reported as
//! `withheld`, never as verified.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use athar_tlog::note::NoteVerifier as _;
use athar_tlog::{Ed25519Verifier, Verifiers};
use serde::Serialize;

use super::verify::check_event;
use super::ItemState;
use crate::error::CoreError;
use crate::model::{CustodyEvent, ItemId, Sha256};
use crate::records::{self, Body, Change, ChangeError, Line, Protection, Record, RecordKind};
use crate::storage::Catalog;

/// The records file, relative to the bag.
pub const RECORDS_FILE: &str = "athar/records.jsonl";
/// The folder of the records' custody files, relative to the bag.
pub const RECORDS_DIR: &str = "athar/records";

/// A record as it goes into a bag.
pub(super) struct PlannedRecord {
    /// As written: protected details replaced by `[protected]`.
    pub record: Record,
    /// Its custody events as handed over (none when withheld).
    pub events: Vec<CustodyEvent>,
}

/// Whether a record's custody history stays out of bags: a non-public source's (its value
/// hashes cover the identity), or any record holding protected details.
fn custody_withheld(body: &Body) -> bool {
    matches!(body, Body::Source(s) if s.protection != Protection::Public) || body.has_protected()
}

/// `records` in an order that imports in one pass: by kind (cases, sources, orgs, places,
/// persons, incidents, acts, claims, links) and id, then moved so that every record comes
/// after the records of the list it refers to (an org after its parent, an incident after
/// those it continues, a claim after those it corroborates). Records that refer to each
/// other in a cycle keep the first order (an import resolves references within its batch).
pub fn one_pass_order(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by(|a, b| {
        (a.body.kind().export_order(), &a.id).cmp(&(b.body.kind().export_order(), &b.id))
    });
    let index: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let refs: Vec<Vec<usize>> = records
        .iter()
        .map(|r| {
            r.body
                .refs()
                .iter()
                .filter_map(|f| index.get(f.value.as_str()).copied())
                .collect()
        })
        .collect();
    // Depth first, without recursion: 0 not seen, 1 on the path, 2 placed.
    let mut state = vec![0u8; records.len()];
    let mut order = Vec::with_capacity(records.len());
    for start in 0..records.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some((node, next)) = stack.pop() {
            if let Some(&target) = refs[node].get(next) {
                stack.push((node, next + 1));
                if state[target] == 0 {
                    state[target] = 1;
                    stack.push((target, 0));
                }
            } else {
                state[node] = 2;
                order.push(node);
            }
        }
    }
    let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The live records of `case` as a bag carries them, in one-pass order, each with its
/// custody events of that case (none for a record whose custody is withheld).
pub(super) fn plan(catalog: &dyn Catalog, case: &str) -> Result<Vec<PlannedRecord>, CoreError> {
    let stored: Vec<Record> = catalog
        .records(None, Some(case))?
        .into_iter()
        .map(|s| s.record)
        .collect();
    let scope = crate::scope::Scope::of_cases([case.to_owned()]);
    let mut out = Vec::with_capacity(stored.len());
    for mut record in one_pass_order(stored) {
        let events = if custody_withheld(&record.body) {
            Vec::new()
        } else {
            let id = ItemId::parse(&record.id).ok_or_else(|| {
                CoreError::Store(crate::StoreError::Corrupt(format!(
                    "record id {:?} is not an id",
                    record.id
                )))
            })?;
            scope.events(catalog.events(&id)?, &[case.to_owned()])
        };
        record.body = record.body.redacted();
        out.push(PlannedRecord { record, events });
    }
    Ok(out)
}

/// The records file's bytes: one line per record.
pub(super) fn jsonl(planned: &[PlannedRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in planned {
        out.extend_from_slice(p.record.to_line().to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// What a receiver learns about one record of a bag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Its canonical JSON is the value the log recorded last, every event proved under a
    /// trusted key.
    Verified,
    /// Its line differs from the value its custody records name.
    Altered,
    /// A non-public source: shown as `[protected]`, its custody history not carried.
    Withheld,
    /// Its custody cannot be checked (no key, no records, proofs that do not verify).
    Unverifiable,
}

/// One record's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RecordCheck {
    /// Where: `athar/records.jsonl line N`.
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub state: RecordState,
    pub detail: String,
}

/// The records file's lines, parsed: (line number, line). An unreadable file or a line
/// that is not a record is an error naming the line.
pub(super) fn read_lines(dir: &Path) -> Result<Option<Vec<(usize, Line)>>, String> {
    let path = dir.join(RECORDS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{RECORDS_FILE}: {e}")),
    };
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        if l.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(l)
            .map_err(|e| format!("{RECORDS_FILE} line {n}: not JSON: {e}"))?;
        let line = records::parse_line(v).map_err(|e| format!("{RECORDS_FILE} line {n}: {e}"))?;
        match &line.id {
            Some(id) if records::is_record_id(id) => {}
            _ => {
                return Err(format!(
                    "{RECORDS_FILE} line {n}: id: a record id is required"
                ))
            }
        }
        if line.case.is_none() {
            return Err(format!("{RECORDS_FILE} line {n}: case: missing"));
        }
        out.push((n, line));
    }
    Ok(Some(out))
}

fn as_record(line: &Line) -> Record {
    Record {
        id: line.id.clone().unwrap_or_default(),
        key: line.key.clone(),
        case: line.case.clone().unwrap_or_default(),
        body: line.body.clone(),
    }
}

/// Whether a line is a source shown as protected (its custody is withheld by design).
fn withheld_line(line: &Line) -> bool {
    match &line.body {
        Body::Source(s) => s.protection != Protection::Public,
        _ => false,
    }
}

/// Checks the bag's records file, when it has one: each line a record, each record's
/// canonical JSON the value its last custody event names, every event proved against the
/// bag's checkpoint under `vkey`.
pub(super) fn check(
    dir: &Path,
    vkey: Option<&Ed25519Verifier>,
    checkpoint: Option<&[u8]>,
) -> Vec<RecordCheck> {
    let lines = match read_lines(dir) {
        Ok(None) => return Vec::new(),
        Ok(Some(l)) => l,
        Err(e) => {
            return vec![RecordCheck {
                at: RECORDS_FILE.to_owned(),
                id: None,
                kind: None,
                state: RecordState::Altered,
                detail: e,
            }]
        }
    };
    let verifiers = vkey.map(|k| Verifiers::new(&[k]));
    // The checkpoint verified once: its bytes when signed by the trusted key.
    let trusted_cp = match (vkey, checkpoint, &verifiers) {
        (Some(k), Some(cp), Some(v)) => athar_tlog::note::open(cp, v)
            .ok()
            .and_then(|n| athar_tlog::Checkpoint::parse(&n.text).ok())
            .filter(|c| c.origin == k.name())
            .map(|_| cp),
        _ => None,
    };
    let mut out = Vec::with_capacity(lines.len());
    for (n, line) in &lines {
        let record = as_record(line);
        let at = format!("{RECORDS_FILE} line {n}");
        let (state, detail) = if withheld_line(line) {
            (
                RecordState::Withheld,
                "a non-public source: its identity is shown as [protected] and its custody history is not in the bag".to_owned(),
            )
        } else {
            match check_one(dir, &record, vkey, verifiers.as_ref(), trusted_cp) {
                Ok(d) => (RecordState::Verified, d),
                Err(f) => f,
            }
        };
        out.push(RecordCheck {
            at,
            id: Some(record.id.clone()),
            kind: Some(record.body.kind().as_str().to_owned()),
            state,
            detail,
        });
    }
    out
}

type RecordFailure = (RecordState, String);

fn check_one(
    dir: &Path,
    record: &Record,
    vkey: Option<&Ed25519Verifier>,
    known: Option<&Verifiers<'_>>,
    checkpoint: Option<&[u8]>,
) -> Result<String, RecordFailure> {
    let base = dir.join(RECORDS_DIR).join(&record.id);
    let unverifiable = |d: String| (RecordState::Unverifiable, d);
    let json: serde_json::Value = std::fs::read(base.join("record.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| unverifiable("no custody records in the bag for this record".into()))?;
    let events = json["events"].as_array().cloned().unwrap_or_default();
    let Some(last) = events.last() else {
        return Err(unverifiable("record.json lists no custody events".into()));
    };
    // The value the history ends with, against the line as given.
    let logged = last["details"]["new"]
        .as_str()
        .and_then(|s| s.parse::<Sha256>().ok());
    let actual = record.value_hash();
    match logged {
        Some(l) if l == actual => {}
        Some(l) => {
            return Err((
                RecordState::Altered,
                format!(
                    "record {}: its canonical JSON hashes to {actual}, its last custody event recorded {l}",
                    record.id
                ),
            ))
        }
        None => {
            return Err(unverifiable(
                "its last custody event names no value (a delete?)".into(),
            ))
        }
    }
    let (Some(vkey), Some(known), Some(cp)) = (vkey, known, checkpoint) else {
        return Err(unverifiable(if vkey.is_none() {
            "no trusted verifier key given (--vkey); custody not checked".into()
        } else {
            "athar/checkpoint is missing or not signed by the trusted key".into()
        }));
    };
    for ev in &events {
        let digest = ev["details"]["digest"]
            .as_str()
            .and_then(|s| s.parse::<Sha256>().ok())
            .ok_or_else(|| unverifiable("a custody event names no digest".into()))?;
        check_event(&base, &record.id, digest, ev, vkey, known, cp).map_err(|(s, d)| {
            let state = match s {
                ItemState::Altered => RecordState::Altered,
                _ => RecordState::Unverifiable,
            };
            (state, d)
        })?;
    }
    Ok(format!(
        "canonical JSON is the logged value; {} custody event(s) proved",
        events.len()
    ))
}

/// The records of a bag as an import takes them: those to write, and how many are held
/// already as they are.
pub(super) struct ImportPlan {
    pub write: Vec<(usize, Line)>,
    pub unchanged: u64,
}

fn conflict(n: usize, message: String) -> String {
    format!("{RECORDS_FILE} line {n}: {message}; nothing imported")
}

/// Decides what importing `lines` does to this archive: a record held under its id with the
/// same canonical JSON (a link's item taken as this archive's item with the same bytes) is
/// left alone; one held with other content, another kind, or deleted is a conflict, refused
/// naming it; the others are to be written. A link's item becomes this archive's item id
/// (`held`, by the bytes' SHA-256 the bag's `item.json` gives for the sender's id), or the
/// SHA-256 itself while the bytes are not held yet.
pub(super) fn plan_import(
    catalog: &dyn Catalog,
    lines: &[(usize, Line)],
    sender_items: &BTreeMap<String, Sha256>,
) -> Result<ImportPlan, String> {
    let mut plan = ImportPlan {
        write: Vec::new(),
        unchanged: 0,
    };
    for (n, line) in lines {
        let n = *n;
        let mut line = line.clone();
        let id = line.id.clone().unwrap_or_default();
        if let Body::Link(link) = &mut line.body {
            let sha = sender_items.get(&link.item).ok_or_else(|| {
                conflict(
                    n,
                    format!(
                        "link {id} refers to item {}, which is not in the bag",
                        link.item
                    ),
                )
            })?;
            link.item = match catalog.item_by_sha(sha).map_err(|e| e.to_string())? {
                Some(item) => item.id.to_string(),
                None => sha.to_hex(),
            };
        }
        let kind = line.body.kind();
        let case = line.case.clone().unwrap_or_default();
        let mut held = catalog.record_by_id(&id).map_err(|e| e.to_string())?;
        if held.is_none() && kind == RecordKind::Case {
            // A case has one record: this archive's, whatever its id.
            held = catalog
                .records(Some(RecordKind::Case), Some(&case))
                .map_err(|e| e.to_string())?
                .into_iter()
                .next();
        }
        let Some(held) = held else {
            plan.write.push((n, line));
            continue;
        };
        let what = format!("{kind} {id}");
        if held.deleted {
            return Err(conflict(n, format!("{what} was deleted in this archive")));
        }
        if held.record.body.kind() != kind {
            return Err(conflict(
                n,
                format!(
                    "{what}: this archive holds a {} under that id",
                    held.record.body.kind()
                ),
            ));
        }
        let mut incoming = as_record(&line);
        incoming.id.clone_from(&held.record.id);
        // What the sender showed as [protected] stands for what this archive holds.
        if incoming.body.keep_protected(&held.record.body).is_err() {
            return Err(conflict(
                n,
                format!("{what}: its protection differs from the record this archive holds"),
            ));
        }
        if incoming.canonical() != held.record.canonical() {
            return Err(conflict(
                n,
                format!(
                    "{what} differs from the record this archive holds under {} (SHA-256 {} here, {} in the bag)",
                    if held.record.id == id { "that id".to_owned() } else { format!("case {case:?}'s record {}", held.record.id) },
                    held.sha256,
                    incoming.value_hash()
                ),
            ));
        }
        plan.unchanged += 1;
    }
    Ok(plan)
}

/// Checks the records `plan` writes as one batch would, without writing: references,
/// keys, cases. Links and captures are left out (their items are not held before the
/// import stores them); `case` is known to exist by then (the import stores the items in it).
pub(super) fn dry_run(
    catalog: &dyn Catalog,
    plan: &ImportPlan,
    case: Option<&str>,
) -> Result<(), String> {
    let mut lines: Vec<(usize, Line)> = plan
        .write
        .iter()
        .filter(|(_, l)| !matches!(l.body.kind(), RecordKind::Link | RecordKind::Capture))
        .cloned()
        .collect();
    if let Some(case) = case {
        let has_case_line = lines.iter().any(|(_, l)| l.body.kind() == RecordKind::Case);
        if !has_case_line && !catalog.case_exists(case).map_err(|e| e.to_string())? {
            let line = records::parse_line(serde_json::json!({"kind": "case", "case": case}))
                .map_err(|e| format!("case {case:?}: {e}"))?;
            lines.insert(0, (0, line));
        }
    }
    let numbers: Vec<usize> = lines.iter().map(|(n, _)| *n).collect();
    let changes = lines
        .into_iter()
        .map(|(_, l)| Change::Put(Box::new(l)))
        .collect();
    records::prepare(catalog, changes, None)
        .map(|_| ())
        .map_err(|e| batch_error(e, &numbers))
}

/// A batch's refusal, placed in the records file.
pub(super) fn batch_error(e: ChangeError, numbers: &[usize]) -> String {
    match e {
        ChangeError::Invalid {
            index,
            field,
            message,
        } => conflict(
            numbers.get(index).copied().unwrap_or(0),
            format!("{field}: {message}"),
        ),
        e => e.to_string(),
    }
}

/// The case a bag's records belong to: the one every line names.
pub(super) fn case_of(lines: &[(usize, Line)]) -> Result<Option<String>, String> {
    let mut case: Option<&str> = None;
    for (n, l) in lines {
        let c = l.case.as_deref().unwrap_or_default();
        match case {
            None => case = Some(c),
            Some(x) if x == c => {}
            Some(x) => {
                return Err(format!(
                    "{RECORDS_FILE} line {n}: case: {c:?}, where the lines before name {x:?}; nothing imported"
                ))
            }
        }
    }
    Ok(case.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rec(id: &str, json: &str) -> Record {
        let l = records::parse_line(serde_json::from_str(json).unwrap()).unwrap();
        Record {
            id: id.to_owned(),
            key: l.key,
            case: "c".into(),
            body: l.body,
        }
    }

    #[test]
    fn every_record_comes_after_those_it_refers_to() {
        let id = |n: u8| format!("01ARZ3NDEKTSV4RRFFQ69G5F{:02}", n);
        // Ids chosen so that id order alone would put each child before its parent.
        let records = vec![
            rec(
                &id(10),
                &format!(
                    r#"{{"kind":"org","names":[{{"name":"Unit"}}],"parent":"{}"}}"#,
                    id(20)
                ),
            ),
            rec(&id(20), r#"{"kind":"org","names":[{"name":"Division"}]}"#),
            rec(
                &id(30),
                &format!(
                    r#"{{"kind":"incident","title":"B","related":["{}"]}}"#,
                    id(40)
                ),
            ),
            rec(&id(40), r#"{"kind":"incident","title":"A"}"#),
            rec(
                &id(50),
                &format!(
                    r#"{{"kind":"act","incident":"{}","violation":"killing"}}"#,
                    id(30)
                ),
            ),
            rec(&id(11), r#"{"kind":"case"}"#),
            // A cycle: both kept, in id order.
            rec(
                &id(60),
                &format!(
                    r#"{{"kind":"incident","title":"X","related":["{}"]}}"#,
                    id(61)
                ),
            ),
            rec(
                &id(61),
                &format!(
                    r#"{{"kind":"incident","title":"Y","related":["{}"]}}"#,
                    id(60)
                ),
            ),
        ];
        let order: Vec<String> = one_pass_order(records.clone())
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(order.len(), records.len());
        let pos = |n: u8| order.iter().position(|i| *i == id(n)).unwrap();
        assert_eq!(pos(11), 0, "{order:?}");
        assert!(pos(20) < pos(10), "{order:?}");
        assert!(pos(40) < pos(30), "{order:?}");
        assert!(pos(30) < pos(50), "{order:?}");
        assert!(pos(10) < pos(40), "orgs before incidents: {order:?}");
    }
}
