//! Hand-over packages: BagIt bags whose tag files carry each item's custody history with
//! C2SP proofs, so a receiver can check them offline, without Athar or with it.
//!
//! ```text
//! data/<item id>/<original name>            the preserved bytes
//! athar/README.txt                          how to verify, in plain language
//! athar/log.vkey                            the custody log's verifier key (also get it out of band)
//! athar/checkpoint                          the signed checkpoint every proof below verifies against
//! athar/items/<item id>/item.json           the item and its custody events (catalog records)
//! athar/items/<item id>/<seq>.entry         each event's exact log entry
//! athar/items/<item id>/<seq>.tlog-proof    its C2SP tlog-proof (extra = the entry)
//! athar/timestamps/<size>/checkpoint        a time-stamped checkpoint of the log
//! athar/timestamps/<size>/*.tsr             its RFC 3161 tokens
//! athar/timestamps/<size>/consistency       consistency proof between it and athar/checkpoint
//! ```
//!
//! A bag is pinned to the log size that ends with the last custody event it carries, and
//! carries no `export` events, so exporting the same items again gives the same bytes
//! (see [`export`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use athar_bagit::{BagWriter, Options, Report};
use athar_tlog::note::NoteVerifier as _;
use athar_tlog::{Ed25519Verifier, TlogProof, Verifiers};
use serde::Serialize;

use crate::custody::LogEntry;
use crate::error::{CoreError, StoreError};
use crate::log::{LogStore, Logger};
use base64::Engine as _;

use crate::model::{EventDetails, EventKind, Export, Item, Sha256, TOOL_VERSION};
use crate::storage::{BlobStore, Catalog};
use sha2::Digest as _;

/// Who is handing over, to whom, and how.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    pub to: Option<String>,
    pub organisation: String,
    /// The person exporting: the bag's contact, and the actor of the export events.
    pub contact: String,
    pub description: Option<String>,
    /// Copy the payload bytes even where the bag could hard-link the archive's blobs.
    pub copy: bool,
    /// Compute every SHA-512 from the bytes, and check it against the one recorded in the
    /// catalog (by the `sha512` job or an earlier export), instead of using the recorded one.
    pub recompute_sha512: bool,
    /// The case handed over, when it is a case's hand-over: the bag then carries only the
    /// custody events of that case (see [`crate::scope`]), never another case's sightings,
    /// accesses or exports of the same bytes, and the export events name it.
    pub case: Option<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub items: u64,
    pub bytes: u64,
    /// Custody events carried in the bag, each with its entry and proof.
    pub events: u64,
    /// The log size the bag is pinned to: its checkpoint and every proof are for this size.
    pub log_size: u64,
    /// Payload files that are hard links to the archive's blobs (the others were copied).
    pub linked: u64,
    /// SHA-512 digests computed by this export (the others had been recorded by jobs).
    pub sha512_computed: u64,
    /// The `export` custody events recorded for this hand-over, one per item.
    pub export_events: Vec<u64>,
}

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
    if pin > logger.log.size() {
        return Err(CoreError::Log(crate::log::LogError::Invalid(format!(
            "custody event #{pin} is not in the log yet (it holds {} events)",
            logger.log.size()
        ))));
    }

    let written = write_bag(
        catalog, blobs, log_store, logger, &planned, pin, &staging, opts,
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
    pin: u64,
    dir: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, CoreError> {
    use athar_bagit::{PayloadFile, PayloadSource};
    let log = &logger.log;
    let mut bag = BagWriter::create(dir).map_err(bag_err)?;
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
    bag.add_info("Athar-Items", &planned.len().to_string())
        .map_err(bag_err)?;
    bag.add_info("Athar-Log-Origin", log.origin())
        .map_err(bag_err)?;
    bag.add_info("Athar-Log-Size", &pin.to_string())
        .map_err(bag_err)?;

    // Payload: linked or copied, every SHA-256 checked, on all cores.
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
    let mut summary = ExportSummary {
        items: 0,
        bytes: 0,
        events: 0,
        log_size: pin,
        linked: 0,
        sha512_computed: 0,
        export_events: Vec::new(),
    };
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
            "events": p.events,
        });
        let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
        let dir = format!("athar/items/{}", p.item.id);
        bag.add_tag_file(&format!("{dir}/item.json"), json.as_slice())
            .map_err(bag_err)?;
        summary.items += 1;
        summary.bytes += p.item.size;
    }

    // Custody: every carried event's entry and proof against the checkpoint at `pin`.
    let checkpoint = log.checkpoint_at(pin)?;
    for p in planned {
        let dir = format!("athar/items/{}", p.item.id);
        for e in &p.events {
            let index = e.seq - 1;
            let entry_bytes = crate::log::read_entry(log_store, log.size(), index)?;
            let proof = TlogProof {
                extra: Some(entry_bytes.clone()),
                index,
                hashes: log.inclusion_proof_at(index, pin)?,
                checkpoint: checkpoint.clone(),
            };
            bag.add_tag_file(&format!("{dir}/{}.entry", e.seq), entry_bytes.as_slice())
                .map_err(bag_err)?;
            bag.add_tag_file(
                &format!("{dir}/{}.tlog-proof", e.seq),
                proof.to_text().as_bytes(),
            )
            .map_err(bag_err)?;
            summary.events += 1;
        }
    }
    bag.add_tag_file("athar/checkpoint", checkpoint.as_bytes())
        .map_err(bag_err)?;
    // Trusted time: the time-stamped checkpoints of the log up to the pinned size, and the
    // first one after it (it covers every event in the bag), each with its tokens and a
    // consistency proof between it and the bag's checkpoint.
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
   that the entry <seq>.entry is in the log whose signed head is athar/checkpoint; the
   entry names the item's SHA-256, which must equal the payload file's SHA-256 in
   manifest-sha256.txt.

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
that record. The entry format is documented in Athar's docs/custody-log.md.
"
    )
}

/// What a receiver learns about one item of a bag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Bytes intact, and every custody event proved in the log under a trusted key.
    Verified,
    /// The bytes differ from what the log recorded (or from the bag's manifest).
    Altered,
    /// The payload file is gone.
    Missing,
    /// The bytes match the bag's manifest, but custody cannot be checked (no proofs,
    /// no trusted key, or proofs that do not verify).
    Unverifiable,
}

/// One item's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ItemCheck {
    /// The payload path (`data/...`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub state: ItemState,
    /// Why, in words.
    pub detail: String,
}

/// The outcome of checking a bag.
#[derive(Debug, Clone, Serialize)]
pub struct BagCheck {
    /// True only when the bag is valid BagIt and every item is verified.
    pub ok: bool,
    pub bagit_valid: bool,
    pub bagit_errors: Vec<String>,
    pub bagit_warnings: Vec<String>,
    /// The checkpoint's tree size, when it verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_size: Option<u64>,
    pub items: Vec<ItemCheck>,
    /// RFC 3161 tokens over earlier checkpoints of the log, each with what was checked.
    pub timestamps: Vec<TimestampCheck>,
}

/// One time-stamp token in a bag.
#[derive(Debug, Clone, Serialize)]
pub struct TimestampCheck {
    pub file: String,
    /// The log size of the checkpoint it covers.
    pub log_size: u64,
    pub ok: bool,
    /// What the token attests, or why it fails.
    pub detail: String,
}

/// Checks a bag with no archive: BagIt validity, then each item's custody proofs against the
/// bag's checkpoint under `vkey` (the only key trusted; without one, custody is
/// unverifiable).
pub fn verify_bag(
    dir: &Path,
    vkey: Option<&Ed25519Verifier>,
    check_token: crate::verify::TokenCheck<'_>,
) -> BagCheck {
    let report: Report = athar_bagit::validate(dir, &Options::default());
    let bagit_valid = report.is_valid();
    // Payload files named in errors, to tell altered from missing.
    let mut broken: BTreeMap<String, (ItemState, String)> = BTreeMap::new();
    for e in &report.errors {
        let state = match e.kind.as_str() {
            "missing_payload_file" => ItemState::Missing,
            _ => ItemState::Altered,
        };
        if e.path.starts_with("data/") {
            broken
                .entry(e.path.clone())
                .or_insert((state, e.to_string()));
        }
    }
    let manifest = read_manifest(dir);
    let mut check = BagCheck {
        ok: false,
        bagit_valid,
        bagit_errors: report.errors.iter().map(ToString::to_string).collect(),
        bagit_warnings: report.warnings.iter().map(ToString::to_string).collect(),
        log_size: None,
        items: Vec::new(),
        timestamps: Vec::new(),
    };
    let athar = dir.join("athar");
    let checkpoint = std::fs::read(athar.join("checkpoint")).ok();
    let mut claimed: BTreeMap<String, ItemCheck> = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(athar.join("items")) {
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        for id in ids {
            let c = check_item(
                dir,
                &id,
                vkey,
                checkpoint.as_deref(),
                &manifest,
                &broken,
                &mut check.log_size,
            );
            claimed.insert(c.path.clone(), c);
        }
    }
    // Every payload file in the manifest must belong to an item with custody records.
    for path in manifest.keys() {
        if !claimed.contains_key(path) {
            let (state, detail) = match broken.get(path) {
                Some((s, d)) => (s.clone(), d.clone()),
                None => (
                    ItemState::Unverifiable,
                    "no custody records in the bag for this file".to_owned(),
                ),
            };
            claimed.insert(
                path.clone(),
                ItemCheck {
                    path: path.clone(),
                    item: None,
                    state,
                    detail,
                },
            );
        }
    }
    check.items = claimed.into_values().collect();
    if let (Some(vkey), Some(cp)) = (vkey, checkpoint.as_deref()) {
        check.timestamps = check_bag_timestamps(dir, vkey, cp, check_token);
    }
    check.ok = bagit_valid
        && !check.items.is_empty()
        && check.items.iter().all(|i| i.state == ItemState::Verified)
        && check.timestamps.iter().all(|t| t.ok);
    check
}

/// `manifest-sha256.txt` as path → hex (empty when absent or unreadable).
fn read_manifest(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("manifest-sha256.txt")) {
        for line in text.lines() {
            if let Some((hash, path)) = line.split_once(char::is_whitespace) {
                out.insert(path.trim_start().to_owned(), hash.to_ascii_lowercase());
            }
        }
    }
    out
}

fn check_item(
    dir: &Path,
    id: &str,
    vkey: Option<&Ed25519Verifier>,
    checkpoint: Option<&[u8]>,
    manifest: &BTreeMap<String, String>,
    broken: &BTreeMap<String, (ItemState, String)>,
    log_size: &mut Option<u64>,
) -> ItemCheck {
    let base = dir.join("athar/items").join(id);
    let fail = |path: String, state: ItemState, detail: String| ItemCheck {
        path,
        item: Some(id.to_owned()),
        state,
        detail,
    };
    let record: serde_json::Value = match std::fs::read(base.join("item.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(v) => v,
        None => {
            return fail(
                format!("athar/items/{id}"),
                ItemState::Unverifiable,
                "item.json is missing or not JSON".into(),
            )
        }
    };
    let path = record["payload"].as_str().unwrap_or_default().to_owned();
    let sha: Option<Sha256> = record["item"]["sha256"]
        .as_str()
        .and_then(|s| s.parse().ok());
    let Some(sha) = sha else {
        return fail(
            path,
            ItemState::Unverifiable,
            "item.json names no SHA-256".into(),
        );
    };
    if let Some((state, detail)) = broken.get(&path) {
        return fail(path, state.clone(), detail.clone());
    }
    let payload = dir.join(&path);
    if !path.starts_with("data/") || path.contains("..") || !payload.is_file() {
        return fail(path, ItemState::Missing, "payload file is missing".into());
    }
    // The bytes themselves, against what the log will say.
    match hash_file(&payload) {
        Ok(actual) if actual == sha => {}
        Ok(actual) => {
            return fail(
                path,
                ItemState::Altered,
                format!("payload hashes to {actual}, the custody log recorded {sha}"),
            )
        }
        Err(e) => {
            return fail(
                path,
                ItemState::Missing,
                format!("payload cannot be read: {e}"),
            )
        }
    }
    if manifest.get(&path).map(String::as_str) != Some(sha.to_hex().as_str()) {
        return fail(
            path,
            ItemState::Altered,
            "manifest-sha256.txt does not list the logged SHA-256 for this file".into(),
        );
    }
    let Some(vkey) = vkey else {
        return fail(
            path,
            ItemState::Unverifiable,
            "no trusted verifier key given (--vkey); custody not checked".into(),
        );
    };
    let Some(cp_bytes) = checkpoint else {
        return fail(
            path,
            ItemState::Unverifiable,
            "athar/checkpoint is missing".into(),
        );
    };
    let known = Verifiers::new(&[vkey]);
    let cp = match athar_tlog::note::open(cp_bytes, &known)
        .ok()
        .and_then(|n| athar_tlog::Checkpoint::parse(&n.text).ok())
    {
        Some(cp) if cp.origin == vkey.name() => cp,
        _ => {
            return fail(
                path,
                ItemState::Unverifiable,
                format!(
                    "athar/checkpoint is not signed by the trusted key {}",
                    vkey.name()
                ),
            )
        }
    };
    *log_size = Some(cp.size);
    let events = record["events"].as_array().cloned().unwrap_or_default();
    if events.is_empty() {
        return fail(
            path,
            ItemState::Unverifiable,
            "item.json lists no custody events".into(),
        );
    }
    let mut count = 0;
    for ev in &events {
        let Some(seq) = ev["seq"].as_u64() else {
            return fail(
                path,
                ItemState::Unverifiable,
                "a custody event has no sequence number".into(),
            );
        };
        let entry = std::fs::read(base.join(format!("{seq}.entry")));
        let proof = std::fs::read(base.join(format!("{seq}.tlog-proof")));
        let (Ok(entry), Ok(proof)) = (entry, proof) else {
            return fail(
                path,
                ItemState::Unverifiable,
                format!("event #{seq}: entry or proof file is missing"),
            );
        };
        let proof = match TlogProof::parse(&proof) {
            Ok(p) => p,
            Err(e) => {
                return fail(
                    path,
                    ItemState::Unverifiable,
                    format!("event #{seq}: proof is malformed: {e}"),
                )
            }
        };
        if proof.index != seq - 1 || proof.extra.as_deref() != Some(entry.as_slice()) {
            return fail(
                path,
                ItemState::Unverifiable,
                format!("event #{seq}: proof does not belong to this entry"),
            );
        }
        if proof.checkpoint.as_bytes() != cp_bytes {
            return fail(
                path,
                ItemState::Unverifiable,
                format!("event #{seq}: proof is against another checkpoint"),
            );
        }
        if let Err(e) = proof.verify_entry(vkey.name(), &known, &entry) {
            return fail(
                path,
                ItemState::Unverifiable,
                format!("event #{seq}: proof does not verify: {e}"),
            );
        }
        let parsed = match LogEntry::parse(&entry) {
            Ok(p) => p,
            Err(e) => {
                return fail(
                    path,
                    ItemState::Unverifiable,
                    format!("event #{seq}: entry is malformed: {e}"),
                )
            }
        };
        if parsed.item.as_str() != id || parsed.sha256 != sha {
            return fail(
                path,
                ItemState::Altered,
                format!(
                    "event #{seq}: the logged entry names other content ({})",
                    parsed.sha256
                ),
            );
        }
        if ev["kind"].as_str() != Some(parsed.kind.as_str()) {
            return fail(
                path,
                ItemState::Unverifiable,
                format!("event #{seq}: item.json and the log disagree on the event kind"),
            );
        }
        count += 1;
    }
    ItemCheck {
        path,
        item: Some(id.to_owned()),
        state: ItemState::Verified,
        detail: format!(
            "bytes intact; {count} custody event(s) proved in log {} at size {}",
            vkey.name(),
            cp.size
        ),
    }
}

fn hash_file(p: &Path) -> std::io::Result<Sha256> {
    use sha2::Digest;
    let mut f = std::fs::File::open(p)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(Sha256(h.finalize().into()))
}

/// What an import brought in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub items: u64,
    pub new_items: u64,
    pub sender_events: u64,
    /// True when every item's sender custody was proved against a trusted key.
    pub sender_custody_verified: bool,
}

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
    let paths: Vec<std::path::PathBuf> = check.items.iter().map(|i| dir.join(&i.path)).collect();
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
    let summary = crate::ingest::ingest(
        catalog,
        blobs,
        Some(&mut *logger),
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
    for c in &check.items {
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

/// Checks each `athar/timestamps/<size>/`: its checkpoint is signed by `vkey`, the bag's
/// checkpoint extends it (consistency proof), and each token covers its exact bytes.
fn check_bag_timestamps(
    dir: &Path,
    vkey: &Ed25519Verifier,
    bag_checkpoint: &[u8],
    check_token: crate::verify::TokenCheck<'_>,
) -> Vec<TimestampCheck> {
    use sha2::Digest;
    let mut out = Vec::new();
    let Ok(bag_cp) = crate::log::open_checkpoint(bag_checkpoint, vkey.name(), vkey) else {
        return out;
    };
    let root = dir.join("athar/timestamps");
    let Ok(rd) = std::fs::read_dir(&root) else {
        return out;
    };
    let mut sizes: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    sizes.sort_by_key(|s| (s.parse::<u64>().unwrap_or(u64::MAX), s.clone()));
    for size_dir in sizes {
        let base = root.join(&size_dir);
        let rel = |name: &str| format!("athar/timestamps/{size_dir}/{name}");
        let size = size_dir.parse::<u64>().unwrap_or(0);
        let fail = |file: String, detail: String| TimestampCheck {
            file,
            log_size: size,
            ok: false,
            detail,
        };
        let Ok(cp_bytes) = std::fs::read(base.join("checkpoint")) else {
            out.push(fail(rel("checkpoint"), "missing".into()));
            continue;
        };
        let cp = match crate::log::open_checkpoint(&cp_bytes, vkey.name(), vkey) {
            Ok(cp) if cp.size == size => cp,
            Ok(_) => {
                out.push(fail(
                    rel("checkpoint"),
                    "its size does not match its folder".into(),
                ));
                continue;
            }
            Err(e) => {
                out.push(fail(rel("checkpoint"), e.to_string()));
                continue;
            }
        };
        let proof: Option<Vec<[u8; 32]>> = std::fs::read_to_string(base.join("consistency"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .map(|l| {
                        base64::engine::general_purpose::STANDARD
                            .decode(l)
                            .ok()
                            .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    })
                    .collect()
            });
        // An earlier checkpoint is extended by the bag's; a later one (the first time-stamp
        // after the bag's last event) extends it.
        let consistent = proof.is_some_and(|p| {
            let (old, new) = if cp.size <= bag_cp.size {
                (&cp, &bag_cp)
            } else {
                (&bag_cp, &cp)
            };
            athar_tlog::rfc6962::verify_consistency(old.size, new.size, &p, &old.root, &new.root)
                .is_ok()
        });
        if !consistent {
            out.push(fail(
                rel("consistency"),
                "this checkpoint and the bag's are not provably the same log".into(),
            ));
            continue;
        }
        let digest: [u8; 32] = sha2::Sha256::digest(&cp_bytes).into();
        let Ok(files) = std::fs::read_dir(&base) else {
            continue;
        };
        let mut names: Vec<String> = files
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names.into_iter().filter(|n| n.ends_with(".tsr")) {
            let file = rel(&name);
            match std::fs::read(base.join(&name)) {
                Err(e) => out.push(fail(file, e.to_string())),
                Ok(token) => match check_token(&token, &digest, &file) {
                    Ok(what) => out.push(TimestampCheck {
                        file,
                        log_size: size,
                        ok: true,
                        detail: what,
                    }),
                    Err(why) => out.push(fail(file, why)),
                },
            }
        }
    }
    out
}
