//! Writing hand-over bags: [`export()`] and the bag's layout.

use std::path::Path;

use athar_bagit::BagWriter;
use athar_tlog::TlogProof;
use base64::Engine as _;
use sha2::Digest as _;

use super::{ExportOptions, ExportSummary};
use crate::error::{CoreError, StoreError};
use crate::log::{CustodyLog, LogStore, Logger};
use crate::model::{EventDetails, EventKind, Export, Item, TOOL_VERSION};
use crate::storage::{BlobStore, Catalog};

fn bag_err(e: athar_bagit::BagError) -> CoreError {
    CoreError::Store(StoreError::Catalog(format!("writing the bag: {e}")))
}

/// An item as it goes into a bag.
struct Planned {
    item: Item,
    /// Its custody history as handed over: every event except hand-overs.
    events: Vec<crate::model::CustodyEvent>,
    /// The payload file's name (the first recorded original name).
    name: String,
}

/// Writes `items` as a bag at `out` (which must not exist), then records an `export`
/// custody event for each item.
///
/// The bag is reproducible: it carries each item's custody events except `export` events
/// (earlier hand-overs of the same items, to this recipient or another, are not disclosed),
/// and its checkpoint and proofs are pinned to the log size that ends with the last of those
/// events. So exporting the same items again, with nothing new in their custody history,
/// gives byte-identical files except the `Bagging-Date` line of `bag-info.txt`, however
/// much the log has grown meanwhile. The new export events come after the pinned size, so
/// they are in the archive's log but not in the bag; each names the pinned size and the
/// SHA-256 of the bag's `tagmanifest-sha256.txt` (which fixes every byte of the bag).
///
/// The bag is written beside `out` under a hidden name and renamed to `out` only once it is
/// complete, durable and logged; on any error it is removed. Payload files are hard links
/// to the archive's (read-only, immutable) blobs where the file system allows and
/// `opts.copy` is off, copies otherwise; either way every payload file's SHA-256 is
/// computed from the bag's bytes and checked, and an item whose bytes no longer match fails
/// the export ([`CoreError::ItemAltered`]).
pub fn export(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    log_store: &dyn LogStore,
    logger: &mut Logger<'_>,
    items: &[Item],
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, CoreError> {
    let refuse = |message: String| CoreError::Input {
        path: out.to_owned(),
        message,
    };
    if out.exists() {
        return Err(refuse("already exists; refusing to overwrite it".into()));
    }
    let package = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| refuse("names no folder".into()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let staging = parent.join(format!(".{package}.athar-partial"));
    if staging.exists() {
        return Err(CoreError::Input {
            path: staging,
            message: "exists (left by an interrupted export?); remove it and export again".into(),
        });
    }
    let records_case = match (&opts.case, opts.records) {
        (Some(c), true) => Some(c.clone()),
        (None, true) => {
            return Err(refuse(
                "records are handed over with a case: name the case".into(),
            ))
        }
        (_, false) => None,
    };
    // Everything recorded so far is in the log before proofs are made from it.
    logger.catch_up(catalog)?;

    let mut items = items.to_vec();
    items.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    items.dedup_by(|a, b| a.id == b.id);
    let scope = match &opts.case {
        Some(c) => crate::scope::Scope::of_cases([c.clone()]),
        None => crate::scope::Scope::All,
    };
    let mut planned = Vec::with_capacity(items.len());
    let mut pin = 0;
    for item in items {
        let item_cases = catalog.cases_of(&item.id)?;
        let events: Vec<_> = scope
            .events(catalog.events(&item.id)?, &item_cases)
            .into_iter()
            .filter(|e| e.kind != EventKind::Export)
            .collect();
        pin = pin.max(events.last().map_or(0, |e| e.seq));
        let name = events
            .iter()
            .find_map(|e| match &e.details {
                EventDetails::Sighting(s) if !s.original_name.is_empty() => {
                    Some(s.original_name.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| "content".to_owned());
        if !blobs.contains(&item.sha256)? {
            return Err(CoreError::ItemAltered {
                item: item.id.to_string(),
                sha256: item.sha256.to_hex(),
                detail: "the stored bytes are missing".into(),
            });
        }
        planned.push(Planned { item, events, name });
    }
    let records = match &records_case {
        Some(case) => super::records::plan(&*catalog, case)?,
        None => Vec::new(),
    };
    for r in &records {
        pin = pin.max(r.events.last().map_or(0, |e| e.seq));
    }
    if pin > logger.log.size() {
        return Err(CoreError::Log(crate::log::LogError::Invalid(format!(
            "custody event #{pin} is not in the log yet (it holds {} events)",
            logger.log.size()
        ))));
    }

    let written = write_bag(
        catalog, blobs, log_store, logger, &planned, &records, pin, &staging, opts,
    )
    .and_then(|summary| {
        // The hand-over itself: logged before the bag appears under its name.
        let tagmanifest = std::fs::read(staging.join("tagmanifest-sha256.txt"))
            .map_err(|e| StoreError::io(staging.join("tagmanifest-sha256.txt"), e))?;
        let details = EventDetails::Export(Export {
            to: opts.to.clone(),
            package: package.clone(),
            items: planned.len() as u64,
            tool_version: TOOL_VERSION.to_owned(),
            log_size: Some(pin),
            tagmanifest_sha256: Some(hex::encode(sha2::Sha256::digest(&tagmanifest))),
            case: opts.case.clone(),
            purpose: opts.purpose.clone(),
            records: records_case.as_ref().map(|_| records.len() as u64),
        });
        let mut summary = summary;
        for p in &planned {
            let logged = logger.log.size();
            let e = catalog.record_event(
                &p.item.id,
                EventKind::Export,
                &opts.contact,
                &details,
                logged,
            )?;
            summary.export_events.push(e.seq);
        }
        logger.catch_up(catalog)?;
        Ok(summary)
    });
    let summary = match written {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let moved = rustix::fs::renameat_with(
        rustix::fs::CWD,
        &staging,
        rustix::fs::CWD,
        out,
        rustix::fs::RenameFlags::NOREPLACE,
    );
    if let Err(e) = moved {
        return Err(CoreError::Input {
            path: out.to_owned(),
            message: format!(
                "the bag was written and its export logged, but it could not be renamed from {}: {e}",
                staging.display()
            ),
        });
    }
    std::fs::File::open(&parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(&parent, e))?;
    Ok(summary)
}

/// Writes the bag for `planned` at `dir`, pinned to log size `pin`.
#[allow(clippy::too_many_arguments)]
fn write_bag(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    log_store: &dyn LogStore,
    logger: &Logger<'_>,
    planned: &[Planned],
    records: &[super::records::PlannedRecord],
    pin: u64,
    dir: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, CoreError> {
    let log = &logger.log;
    let mut bag = BagWriter::create(dir).map_err(bag_err)?;
    add_bag_info(&mut bag, log, planned.len(), pin, opts, records.len())?;
    let mut summary = ExportSummary {
        items: 0,
        bytes: 0,
        events: 0,
        log_size: pin,
        linked: 0,
        sha512_computed: 0,
        export_events: Vec::new(),
        records: 0,
        record_events: 0,
    };
    add_payload(&mut bag, catalog, blobs, planned, opts, &mut summary)?;
    add_custody(&mut bag, log_store, log, planned, pin, &mut summary)?;
    if opts.records {
        add_records(&mut bag, log_store, log, records, pin, &mut summary)?;
    }
    add_timestamps(&mut bag, log_store, log, pin)?;
    bag.add_tag_file("athar/log.vkey", format!("{}\n", log.vkey()).as_bytes())
        .map_err(bag_err)?;
    bag.add_tag_file(
        "athar/README.txt",
        readme(log.origin(), &log.vkey()).as_bytes(),
    )
    .map_err(bag_err)?;
    bag.finish().map_err(bag_err)?;
    Ok(summary)
}

/// The `bag-info.txt` lines: who hands over to whom, and which log the bag is pinned to.
fn add_bag_info(
    bag: &mut BagWriter,
    log: &CustodyLog<'_>,
    items: usize,
    pin: u64,
    opts: &ExportOptions,
    records: usize,
) -> Result<(), CoreError> {
    bag.add_info("Source-Organization", &opts.organisation)
        .map_err(bag_err)?;
    bag.add_info("Contact-Name", &opts.contact)
        .map_err(bag_err)?;
    if let Some(d) = &opts.description {
        bag.add_info("External-Description", d).map_err(bag_err)?;
    }
    if let Some(t) = &opts.to {
        bag.add_info("Athar-Recipient", t).map_err(bag_err)?;
    }
    if let Some(p) = &opts.purpose {
        bag.add_info("Athar-Purpose", p).map_err(bag_err)?;
    }
    if let Some(c) = &opts.case {
        bag.add_info("Athar-Case", c).map_err(bag_err)?;
    }
    if opts.records {
        bag.add_info("Athar-Records", &records.to_string())
            .map_err(bag_err)?;
    }
    bag.add_info("Athar-Items", &items.to_string())
        .map_err(bag_err)?;
    bag.add_info("Athar-Log-Origin", log.origin())
        .map_err(bag_err)?;
    bag.add_info("Athar-Log-Size", &pin.to_string())
        .map_err(bag_err)?;
    Ok(())
}

/// The payload files (linked or copied, every SHA-256 checked, on all cores) and each
/// item's `item.json`; records the SHA-512 digests the bag computed.
fn add_payload(
    bag: &mut BagWriter,
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    planned: &[Planned],
    opts: &ExportOptions,
    summary: &mut ExportSummary,
) -> Result<(), CoreError> {
    use athar_bagit::{PayloadFile, PayloadSource};
    let mut files = Vec::with_capacity(planned.len());
    let mut recorded = Vec::with_capacity(planned.len());
    for p in planned {
        let sha512 = catalog.digest(&p.item.id, crate::jobs::SHA512)?;
        let source = match blobs.local_path(&p.item.sha256) {
            Some(path) => PayloadSource::File(path),
            None => PayloadSource::Reader(blobs.open(&p.item.sha256)?),
        };
        files.push(PayloadFile {
            rel: format!("{}/{}", p.item.id, p.name),
            source,
            size_hint: p.item.size,
            sha256: Some(p.item.sha256.to_hex()),
            sha512: sha512.clone().filter(|_| !opts.recompute_sha512),
        });
        recorded.push(sha512);
    }
    let placed = bag
        .add_payload_files(files, !opts.copy)
        .map_err(|e| match e {
            athar_bagit::BagError::DigestMismatch { path, actual, .. } => {
                let p = planned
                    .iter()
                    .find(|p| path.starts_with(&format!("data/{}/", p.item.id)));
                CoreError::ItemAltered {
                    item: p.map(|p| p.item.id.to_string()).unwrap_or(path),
                    sha256: p.map(|p| p.item.sha256.to_hex()).unwrap_or_default(),
                    detail: format!("they hash to {actual}"),
                }
            }
            e => bag_err(e),
        })?;
    for ((p, placed), recorded) in planned.iter().zip(&placed).zip(recorded) {
        let entry = &placed.entry;
        if entry.bytes != p.item.size {
            return Err(CoreError::ItemAltered {
                item: p.item.id.to_string(),
                sha256: p.item.sha256.to_hex(),
                detail: format!("{} bytes, the catalog records {}", entry.bytes, p.item.size),
            });
        }
        if placed.sha512_computed {
            summary.sha512_computed += 1;
            match recorded {
                None => catalog.set_digest(&p.item.id, crate::jobs::SHA512, &entry.sha512)?,
                Some(r) if r == entry.sha512 => {}
                Some(r) => {
                    return Err(CoreError::Store(StoreError::Corrupt(format!(
                        "item {}: the catalog records SHA-512 {r}, its bytes hash to {}",
                        p.item.id, entry.sha512
                    ))))
                }
            }
        }
        summary.linked += u64::from(placed.linked);
        let record = serde_json::json!({
            "item": p.item,
            "payload": entry.path,
            "events": p.events.iter().map(event_record).collect::<Vec<_>>(),
        });
        let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
        let dir = format!("athar/items/{}", p.item.id);
        bag.add_tag_file(&format!("{dir}/item.json"), json.as_slice())
            .map_err(bag_err)?;
        summary.items += 1;
        summary.bytes += p.item.size;
    }
    Ok(())
}

/// An event as `item.json` gives it: the catalog record, with the salt that opens its v2
/// log entry's commitments (the receiver checks the payload and details against them).
fn event_record(e: &crate::model::CustodyEvent) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let (Some(salt), Some(map)) = (&e.salt, v.as_object_mut()) {
        map.insert("salt".into(), salt.to_hex().into());
    }
    v
}

/// Custody: every carried event's entry and proof against the checkpoint at `pin`, and that
/// checkpoint.
fn add_custody(
    bag: &mut BagWriter,
    log_store: &dyn LogStore,
    log: &CustodyLog<'_>,
    planned: &[Planned],
    pin: u64,
    summary: &mut ExportSummary,
) -> Result<(), CoreError> {
    let checkpoint = log.checkpoint_at(pin)?;
    for p in planned {
        let dir = format!("athar/items/{}", p.item.id);
        summary.events += add_event_files(bag, log_store, log, &dir, &p.events, pin, &checkpoint)?;
    }
    bag.add_tag_file("athar/checkpoint", checkpoint.as_bytes())
        .map_err(bag_err)?;
    Ok(())
}

/// Each of `events`' log entry and proof against `checkpoint` (at `pin`) under `dir`.
fn add_event_files(
    bag: &mut BagWriter,
    log_store: &dyn LogStore,
    log: &CustodyLog<'_>,
    dir: &str,
    events: &[crate::model::CustodyEvent],
    pin: u64,
    checkpoint: &str,
) -> Result<u64, CoreError> {
    for e in events {
        let index = e.seq - 1;
        let entry_bytes = crate::log::read_entry(log_store, log.size(), index)?;
        let proof = TlogProof {
            extra: Some(entry_bytes.clone()),
            index,
            hashes: log.inclusion_proof_at(index, pin)?,
            checkpoint: checkpoint.to_owned(),
        };
        bag.add_tag_file(&format!("{dir}/{}.entry", e.seq), entry_bytes.as_slice())
            .map_err(bag_err)?;
        bag.add_tag_file(
            &format!("{dir}/{}.tlog-proof", e.seq),
            proof.to_text().as_bytes(),
        )
        .map_err(bag_err)?;
    }
    Ok(events.len() as u64)
}

/// The case's records: `athar/records.jsonl`, and each carried record's custody events
/// (`record.json`, entries, proofs against the bag's checkpoint).
fn add_records(
    bag: &mut BagWriter,
    log_store: &dyn LogStore,
    log: &CustodyLog<'_>,
    records: &[super::records::PlannedRecord],
    pin: u64,
    summary: &mut ExportSummary,
) -> Result<(), CoreError> {
    use super::records::{jsonl, RECORDS_DIR, RECORDS_FILE};
    bag.add_tag_file(RECORDS_FILE, jsonl(records).as_slice())
        .map_err(bag_err)?;
    let checkpoint = log.checkpoint_at(pin)?;
    for r in records {
        summary.records += 1;
        if r.events.is_empty() {
            continue;
        }
        let dir = format!("{RECORDS_DIR}/{}", r.record.id);
        let json = serde_json::json!({
            "id": r.record.id,
            "kind": r.record.body.kind(),
            "events": r.events.iter().map(event_record).collect::<Vec<_>>(),
        });
        let json = serde_json::to_vec_pretty(&json).unwrap_or_default();
        bag.add_tag_file(&format!("{dir}/record.json"), json.as_slice())
            .map_err(bag_err)?;
        summary.record_events +=
            add_event_files(bag, log_store, log, &dir, &r.events, pin, &checkpoint)?;
    }
    Ok(())
}

/// Trusted time: the time-stamped checkpoints of the log up to the pinned size, and the
/// first one after it (it covers every event in the bag), each with its tokens and a
/// consistency proof between it and the bag's checkpoint.
fn add_timestamps(
    bag: &mut BagWriter,
    log_store: &dyn LogStore,
    log: &CustodyLog<'_>,
    pin: u64,
) -> Result<(), CoreError> {
    let mut sizes: Vec<u64> = log_store
        .list("timestamps")?
        .iter()
        .filter_map(|d| d.parse::<u64>().ok())
        .filter(|&s| s > 0 && s <= log.size())
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let first_after = sizes.iter().copied().find(|&s| s > pin);
    for size in sizes
        .into_iter()
        .filter(|&s| s <= pin || Some(s) == first_after)
    {
        let dir = size.to_string();
        for name in log_store.list(&format!("timestamps/{dir}"))? {
            if let Some(bytes) = log_store.read(&format!("timestamps/{dir}/{name}"))? {
                bag.add_tag_file(&format!("athar/timestamps/{dir}/{name}"), bytes.as_slice())
                    .map_err(bag_err)?;
            }
        }
        let hashes = if size <= pin {
            log.consistency_between(size, pin)?
        } else {
            log.consistency_between(pin, size)?
        };
        let proof: String = hashes
            .iter()
            .map(|h| format!("{}\n", base64::engine::general_purpose::STANDARD.encode(h)))
            .collect();
        bag.add_tag_file(
            &format!("athar/timestamps/{dir}/consistency"),
            proof.as_bytes(),
        )
        .map_err(bag_err)?;
    }
    Ok(())
}

fn readme(origin: &str, vkey: &str) -> String {
    format!(
        "This folder is a BagIt bag (RFC 8493) made by Athar, an evidence archive.

1. Check that every file is complete and unchanged:
       python3 -m bagit --validate THIS-FOLDER          (pip install bagit)
   or  athar verify-bag THIS-FOLDER --vkey '{vkey}'

2. Check the chain of custody. Every event in an item's history (collection, each later
   sighting of the same bytes, each access, each transfer from another archive) is a leaf of the archive's
   custody log, a public-format transparency log (C2SP tlog, the format of Go's checksum
   database and Sigstore). For each event, athar/items/<item>/<seq>.tlog-proof proves
   that the entry <seq>.entry is in the log whose signed head is athar/checkpoint. A
   version 1 entry names the item's SHA-256, which must equal the payload file's SHA-256
   in manifest-sha256.txt; a version 2 entry names only a salted commitment to it, opened
   with the event's salt in item.json (see below).

   athar/checkpoint is the log's signed head at the last of these events (its size is
   Athar-Log-Size in bag-info.txt), so exporting the same items again gives this same
   bag. Hand-overs are not included: this one, and any earlier hand-over of the same
   items, is recorded in the sender's log after that point (so an entry's `prev` may
   name an event that is not in this folder); the sender can prove it on request.
   athar/timestamps/<size>/ holds RFC 3161 time-stamps of checkpoints of the same log
   (check them with `openssl ts -verify`), each with a consistency proof linking it to
   athar/checkpoint: one at or after the bag's size shows every event here existed by
   its time.

   The log is {origin}; its verifier key (C2SP signed-note form) is
       {vkey}
   Obtain this key from the sender by a separate channel (not from this folder) before
   relying on it. `athar verify-bag --vkey KEY THIS-FOLDER` performs every check above and
   reports each item as verified, altered, missing or unverifiable. Any C2SP verifier can
   check the proofs too.

Entries carry no personal data in clear: actors are pseudonyms and the details of each
event (names, sources, notes) appear in item.json and, in the log, only as a SHA-256 of
that record (version 1) or a salted commitment to it (version 2, which also commits to
the content instead of naming it, so the public log confirms nothing about which content
the archive holds). A version 2 entry's `content` is the SHA-256 of the line
`athar.custody/v2 content` with its newline, then the 32 salt bytes (the event's salt in
item.json, in hex), then the payload's 32-byte SHA-256; its `details` likewise of the line
`athar.custody/v2 details`, the salt and the SHA-256 of the event's details record. The
entry format is documented in Athar's docs/custody-log.md.

3. When athar/records.jsonl is present, it holds the case's documentation records (incidents,
   acts, persons, organisations, places, sources, claims, links), one JSON object a line,
   each line after the records it refers to, so it imports in one pass (`athar import-bag`
   does). athar/records/<id>/ holds a record's custody events (record.json), each with its
   log entry and proof as above; the last event's `new` is the SHA-256 of the record's
   canonical JSON (the line without its `id`, keys sorted, no spaces). The identity of a
   non-public source is shown as [protected] and its custody history is left out, since
   its hashes would confirm a guess of the identity; ask the sender for it by another
   channel if you need it.
"
    )
}
