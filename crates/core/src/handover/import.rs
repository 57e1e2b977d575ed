//! Taking a hand-over bag into this archive: [`import_bag`].

use std::collections::BTreeMap;
use std::path::Path;

use athar_bagit::Options;
use athar_tlog::note::NoteVerifier as _;
use athar_tlog::Ed25519Verifier;

use super::{verify_bag, ImportSummary, ItemState};
use crate::error::CoreError;
use crate::log::Logger;
use crate::model::{EventDetails, EventKind, TOOL_VERSION};
use crate::storage::{BlobStore, Catalog};

fn input(dir: &Path, message: String) -> CoreError {
    CoreError::Input {
        path: dir.to_owned(),
        message,
    }
}

/// Takes a bag into this archive: it must be valid BagIt with every payload file intact
/// (checked before anything is stored). Each file is ingested (a sighting if the bytes are
/// already held; a new item gets its background jobs — SHA-512, fingerprints — queued by
/// the ingest's commit, as any collected file does) into the case the bag names
/// (`Athar-Case`), the sender's custody records are kept with the item, and a `transfer`
/// event is recorded and logged.
///
/// A bag with a records file (`athar/records.jsonl`) also brings the case's records, with
/// their ids, as one batch of this archive's own `record` events, a link's item becoming
/// this archive's item with the same bytes. A record already held as it is changes
/// nothing (so a second import of the same bag writes no record); one held under the same
/// id (or, for the case record, the same case) with other content, or a key already naming
/// another record, is refused naming its line and record, before anything is stored. A
/// record whose line was altered (it no longer hashes to the value its custody records
/// name) is refused likewise.
pub fn import_bag(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    dir: &Path,
    vkey: Option<&Ed25519Verifier>,
    check_token: crate::verify::TokenCheck<'_>,
    collector: &str,
) -> Result<ImportSummary, CoreError> {
    let check = verify_bag(dir, vkey, check_token);
    if !check.bagit_valid {
        let first: Vec<String> = check.bagit_errors.iter().take(5).cloned().collect();
        return Err(input(
            dir,
            format!("not a valid bag, nothing imported: {}", first.join("; ")),
        ));
    }
    let damaged: Vec<String> = check
        .items
        .iter()
        .filter(|i| matches!(i.state, ItemState::Altered | ItemState::Missing))
        .map(|i| format!("{}: {}", i.path, i.detail))
        .collect();
    if !damaged.is_empty() {
        return Err(input(
            dir,
            format!(
                "payload does not match, nothing imported: {}",
                damaged.join("; ")
            ),
        ));
    }
    let altered: Vec<String> = check
        .records
        .iter()
        .filter(|r| r.state == super::RecordState::Altered)
        .map(|r| format!("{}: {}", r.at, r.detail))
        .collect();
    if !altered.is_empty() {
        return Err(input(
            dir,
            format!(
                "records do not match their custody records, nothing imported: {}",
                altered.join("; ")
            ),
        ));
    }
    let report = athar_bagit::validate(dir, &Options::default());
    let info = |name: &str| {
        report
            .bag_info
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let from = info("Source-Organization");
    let lines = super::records::read_lines(dir).map_err(|m| input(dir, m))?;
    let records_case = match &lines {
        Some(l) => super::records::case_of(l).map_err(|m| input(dir, m))?,
        None => None,
    };
    let case = match (info("Athar-Case"), records_case) {
        (Some(c), Some(r)) if c != r => {
            return Err(input(
                dir,
                format!("bag-info.txt names case {c:?}, its records case {r:?}; nothing imported"),
            ))
        }
        (Some(c), _) | (None, Some(c)) => Some(c),
        (None, None) => None,
    };
    if let Some(c) = &case {
        if c.trim().is_empty() || c.chars().any(char::is_control) {
            return Err(input(
                dir,
                format!("bag-info.txt: Athar-Case {c:?} is not a case name"),
            ));
        }
    }
    // The sender's item ids, by the bytes' SHA-256 (a link names its item by id).
    let mut sender_items: BTreeMap<String, crate::model::Sha256> = BTreeMap::new();
    for c in &check.items {
        let Some(id) = &c.item else { continue };
        let record: serde_json::Value =
            std::fs::read(dir.join("athar/items").join(id).join("item.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
        if let Some(sha) = record["item"]["sha256"]
            .as_str()
            .and_then(|s| s.parse().ok())
        {
            sender_items.insert(id.clone(), sha);
        }
    }
    // The records are checked against this archive before anything is stored.
    if let Some(lines) = &lines {
        let plan = super::records::plan_import(&*catalog, lines, &sender_items)
            .map_err(|m| input(dir, m))?;
        super::records::dry_run(&*catalog, &plan, case.as_deref()).map_err(|m| input(dir, m))?;
    }
    let sender_log = vkey.map(|k| k.name().to_owned()).or_else(|| {
        std::fs::read_to_string(dir.join("athar/checkpoint"))
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
    });
    let package = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Only payload files are evidence: an item whose record is missing or names another
    // place is reported by the check under that place, and is not a file to take in.
    let payload: Vec<&super::ItemCheck> = check
        .items
        .iter()
        .filter(|i| i.path.starts_with("data/"))
        .collect();
    let paths: Vec<std::path::PathBuf> = payload.iter().map(|i| dir.join(&i.path)).collect();
    let opts = crate::ingest::IngestOptions {
        source: Some(format!(
            "package {package}{}",
            from.as_deref()
                .map(|f| format!(" from {f}"))
                .unwrap_or_default()
        )),
        note: Some("received in a hand-over package".to_owned()),
        collector: collector.to_owned(),
        case: case.clone(),
        ..Default::default()
    };
    let mut stored: BTreeMap<std::path::PathBuf, (crate::model::ItemId, bool)> = BTreeMap::new();
    let mut failed = Vec::new();
    let summary =
        crate::ingest::ingest(
            catalog,
            blobs,
            &mut *logger,
            &paths,
            &opts,
            &mut |p| match p {
                crate::ingest::Progress::Stored(s) => {
                    stored.insert(s.path.clone(), (s.entry.item.id.clone(), s.entry.new));
                }
                crate::ingest::Progress::Failed(e) => failed.push(e.to_string()),
                _ => {}
            },
        )?;
    if summary.failed > 0 {
        return Err(input(
            dir,
            format!("some files could not be stored: {}", failed.join("; ")),
        ));
    }
    let mut out = ImportSummary {
        sender_custody_verified: true,
        ..Default::default()
    };
    for c in payload {
        let Some((id, new)) = stored.get(&dir.join(&c.path)) else {
            continue;
        };
        out.items += 1;
        out.new_items += u64::from(*new);
        let verified = c.state == ItemState::Verified;
        let mut records = Vec::new();
        if let Some(sender_id) = &c.item {
            let base = dir.join("athar/items").join(sender_id);
            let record: serde_json::Value = std::fs::read(base.join("item.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            for ev in record["events"].as_array().cloned().unwrap_or_default() {
                let Some(seq) = ev["seq"].as_u64() else {
                    continue;
                };
                let entry =
                    std::fs::read_to_string(base.join(format!("{seq}.entry"))).unwrap_or_default();
                let proof = std::fs::read_to_string(base.join(format!("{seq}.tlog-proof")))
                    .unwrap_or_default();
                records.push(crate::storage::ReceivedCustody {
                    origin: sender_log.clone().unwrap_or_default(),
                    seq,
                    kind: ev["kind"].as_str().unwrap_or_default().to_owned(),
                    entry,
                    proof,
                    verified,
                    details: ev["details"].to_string(),
                    salt: ev["salt"].as_str().map(str::to_owned),
                });
            }
        }
        out.sender_events += records.len() as u64;
        out.sender_custody_verified &= verified && !records.is_empty();
        catalog.add_received_custody(id, &records)?;
        let details = EventDetails::Transfer(crate::model::Transfer {
            package: package.clone(),
            from: from.clone(),
            sender_log: sender_log.clone(),
            sender_events: records.len() as u64,
            sender_custody_verified: verified && !records.is_empty(),
            tool_version: TOOL_VERSION.to_owned(),
            case: case.clone(),
        });
        let logged = logger.log.size();
        catalog.record_event(id, EventKind::Transfer, collector, &details, logged)?;
    }
    logger.catch_up(catalog)?;
    if out.items == 0 {
        out.sender_custody_verified = false;
    }
    out.case = case;
    if let Some(lines) = &lines {
        // Every item is held now: links name this archive's items.
        let plan = super::records::plan_import(&*catalog, lines, &sender_items)
            .map_err(|m| input(dir, m))?;
        out.records = lines.len() as u64;
        out.unchanged_records = plan.unchanged;
        let numbers: Vec<usize> = plan.write.iter().map(|(n, _)| *n).collect();
        let changes = plan
            .write
            .into_iter()
            .map(|(_, l)| crate::records::Change::Put(Box::new(l)))
            .collect();
        let at_line = |e| input(dir, super::records::batch_error(e, &numbers));
        let batch = crate::records::prepare(&*catalog, changes, None).map_err(at_line)?;
        let seqs = batch.write(catalog, logger, collector).map_err(at_line)?;
        out.new_records = seqs.len() as u64;
    }
    Ok(out)
}
