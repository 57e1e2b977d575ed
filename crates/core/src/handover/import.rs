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
/// the ingest's commit, as any collected file does), the sender's custody records are kept
/// with the item, and a `transfer` event is recorded and logged.
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
    let report = athar_bagit::validate(dir, &Options::default());
    let from = report
        .bag_info
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Source-Organization"))
        .map(|(_, v)| v.clone());
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
            case: None,
        });
        let logged = logger.log.size();
        catalog.record_event(id, EventKind::Transfer, collector, &details, logged)?;
    }
    logger.catch_up(catalog)?;
    if out.items == 0 {
        out.sender_custody_verified = false;
    }
    Ok(out)
}
