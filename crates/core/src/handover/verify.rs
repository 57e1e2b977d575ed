//! Checking a hand-over bag with no archive: [`verify_bag`].

use std::collections::BTreeMap;
use std::path::Path;

use athar_bagit::{Options, Report};
use athar_tlog::note::NoteVerifier as _;
use athar_tlog::{Ed25519Verifier, TlogProof, Verifiers};
use base64::Engine as _;

use super::{BagCheck, ItemCheck, ItemState, TimestampCheck};
use crate::custody::{LogEntry, Mismatch, Salt};
use crate::model::Sha256;

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
        records: Vec::new(),
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
    check.records = super::records::check(dir, vkey, checkpoint.as_deref());
    if let (Some(vkey), Some(cp)) = (vkey, checkpoint.as_deref()) {
        check.timestamps = check_bag_timestamps(dir, vkey, cp, check_token);
    }
    check.ok = bagit_valid
        && !check.items.is_empty()
        && check.items.iter().all(|i| i.state == ItemState::Verified)
        && check.timestamps.iter().all(|t| t.ok)
        && check.records.iter().all(|r| {
            matches!(
                r.state,
                super::RecordState::Verified | super::RecordState::Withheld
            )
        });
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

/// A failed check of an item: what that makes the item, and why.
type Failure = (ItemState, String);

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
    let fail = |path: String, (state, detail): Failure| ItemCheck {
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
                (
                    ItemState::Unverifiable,
                    "item.json is missing or not JSON".into(),
                ),
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
            (ItemState::Unverifiable, "item.json names no SHA-256".into()),
        );
    };
    let checked = check_bytes(dir, &path, sha, manifest, broken)
        .and_then(|()| check_custody(&base, id, sha, &record, vkey, checkpoint, log_size));
    match checked {
        Ok(detail) => ItemCheck {
            path,
            item: Some(id.to_owned()),
            state: ItemState::Verified,
            detail,
        },
        Err(failure) => fail(path, failure),
    }
}

/// Checks the payload file at `path`: not reported broken by the BagIt check, present,
/// hashing to `sha` (what the log will say), and listed with that hash in the manifest.
fn check_bytes(
    dir: &Path,
    path: &str,
    sha: Sha256,
    manifest: &BTreeMap<String, String>,
    broken: &BTreeMap<String, (ItemState, String)>,
) -> Result<(), Failure> {
    if let Some((state, detail)) = broken.get(path) {
        return Err((state.clone(), detail.clone()));
    }
    let payload = dir.join(path);
    if !path.starts_with("data/") || path.contains("..") || !payload.is_file() {
        return Err((ItemState::Missing, "payload file is missing".into()));
    }
    // The bytes themselves, against what the log will say.
    match Sha256::of_file(&payload) {
        Ok(actual) if actual == sha => {}
        Ok(actual) => {
            return Err((
                ItemState::Altered,
                format!("payload hashes to {actual}, the custody log recorded {sha}"),
            ))
        }
        Err(e) => return Err((ItemState::Missing, format!("payload cannot be read: {e}"))),
    }
    if manifest.get(path).map(String::as_str) != Some(sha.to_hex().as_str()) {
        return Err((
            ItemState::Altered,
            "manifest-sha256.txt does not list the logged SHA-256 for this file".into(),
        ));
    }
    Ok(())
}

/// Checks every custody event `record` lists for item `id` (its files under `base`) against
/// the bag's `checkpoint` under the trusted `vkey`, and sets `log_size` once the checkpoint
/// verifies. Returns what was proved, in words.
fn check_custody(
    base: &Path,
    id: &str,
    sha: Sha256,
    record: &serde_json::Value,
    vkey: Option<&Ed25519Verifier>,
    checkpoint: Option<&[u8]>,
    log_size: &mut Option<u64>,
) -> Result<String, Failure> {
    let Some(vkey) = vkey else {
        return Err((
            ItemState::Unverifiable,
            "no trusted verifier key given (--vkey); custody not checked".into(),
        ));
    };
    let Some(cp_bytes) = checkpoint else {
        return Err((
            ItemState::Unverifiable,
            "athar/checkpoint is missing".into(),
        ));
    };
    let known = Verifiers::new(&[vkey]);
    let cp = match athar_tlog::note::open(cp_bytes, &known)
        .ok()
        .and_then(|n| athar_tlog::Checkpoint::parse(&n.text).ok())
    {
        Some(cp) if cp.origin == vkey.name() => cp,
        _ => {
            return Err((
                ItemState::Unverifiable,
                format!(
                    "athar/checkpoint is not signed by the trusted key {}",
                    vkey.name()
                ),
            ))
        }
    };
    *log_size = Some(cp.size);
    let events = record["events"].as_array().cloned().unwrap_or_default();
    if events.is_empty() {
        return Err((
            ItemState::Unverifiable,
            "item.json lists no custody events".into(),
        ));
    }
    let mut count = 0;
    for ev in &events {
        check_event(base, id, sha, ev, vkey, &known, cp_bytes)?;
        count += 1;
    }
    Ok(format!(
        "bytes intact; {count} custody event(s) proved in log {} at size {}",
        vkey.name(),
        cp.size
    ))
}

/// Checks one custody event `ev` of item `id`: its entry and proof files exist, the proof
/// is for that entry against `cp_bytes` and verifies under `vkey`, and the entry names the
/// item, `sha` and the event's kind.
pub(super) fn check_event(
    base: &Path,
    id: &str,
    sha: Sha256,
    ev: &serde_json::Value,
    vkey: &Ed25519Verifier,
    known: &Verifiers<'_>,
    cp_bytes: &[u8],
) -> Result<(), Failure> {
    let Some(seq) = ev["seq"].as_u64() else {
        return Err((
            ItemState::Unverifiable,
            "a custody event has no sequence number".into(),
        ));
    };
    let entry = std::fs::read(base.join(format!("{seq}.entry")));
    let proof = std::fs::read(base.join(format!("{seq}.tlog-proof")));
    let (Ok(entry), Ok(proof)) = (entry, proof) else {
        return Err((
            ItemState::Unverifiable,
            format!("event #{seq}: entry or proof file is missing"),
        ));
    };
    let proof = match TlogProof::parse(&proof) {
        Ok(p) => p,
        Err(e) => {
            return Err((
                ItemState::Unverifiable,
                format!("event #{seq}: proof is malformed: {e}"),
            ))
        }
    };
    if proof.index != seq - 1 || proof.extra.as_deref() != Some(entry.as_slice()) {
        return Err((
            ItemState::Unverifiable,
            format!("event #{seq}: proof does not belong to this entry"),
        ));
    }
    if proof.checkpoint.as_bytes() != cp_bytes {
        return Err((
            ItemState::Unverifiable,
            format!("event #{seq}: proof is against another checkpoint"),
        ));
    }
    if let Err(e) = proof.verify_entry(vkey.name(), known, &entry) {
        return Err((
            ItemState::Unverifiable,
            format!("event #{seq}: proof does not verify: {e}"),
        ));
    }
    let parsed = match LogEntry::parse(&entry) {
        Ok(p) => p,
        Err(e) => {
            return Err((
                ItemState::Unverifiable,
                format!("event #{seq}: entry is malformed: {e}"),
            ))
        }
    };
    // A v2 entry commits to the content with a salt item.json gives (a v1 entry names
    // the content in clear and takes none).
    let salt = match ev.get("salt") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_str().and_then(|h| h.parse::<Salt>().ok()) {
            Some(salt) => Some(salt),
            None => {
                return Err((
                    ItemState::Unverifiable,
                    format!("event #{seq}: item.json's salt is not 64 lowercase hex digits"),
                ))
            }
        },
    };
    if parsed.item.as_str() != id {
        return Err((
            ItemState::Altered,
            format!("event #{seq}: the logged entry names another item"),
        ));
    }
    match parsed.check_content(salt.as_ref(), &sha) {
        Ok(()) => {}
        Err(Mismatch::Content) => {
            let named = parsed.clear_sha256().map_or_else(
                || "its commitment opens to other bytes".into(),
                |s| s.to_hex(),
            );
            return Err((
                ItemState::Altered,
                format!("event #{seq}: the logged entry names other content ({named})"),
            ));
        }
        Err(e) => return Err((ItemState::Unverifiable, format!("event #{seq}: {e}"))),
    }
    if ev["kind"].as_str() != Some(parsed.kind.as_str()) {
        return Err((
            ItemState::Unverifiable,
            format!("event #{seq}: item.json and the log disagree on the event kind"),
        ));
    }
    // The custody record item.json gives (when, and the details: names, sources, notes)
    // must be the one the log committed to: its time, and the SHA-256 of its details.
    if ev["at"].as_str() != Some(parsed.time.as_str()) {
        return Err((
            ItemState::Altered,
            format!("event #{seq}: item.json gives another time than the logged entry"),
        ));
    }
    let Some(details) =
        crate::model::EventDetails::from_json(parsed.kind, &ev["details"].to_string())
    else {
        return Err((
            ItemState::Unverifiable,
            format!("event #{seq}: item.json's details cannot be read"),
        ));
    };
    let stored = details.to_json();
    let hashed = {
        use sha2::Digest;
        Sha256(sha2::Sha256::digest(stored.as_bytes()).into())
    };
    // Details with fields this version does not know (a newer sender's, or added by hand)
    // cannot be checked by it: they are not verified, and an import keeps them as not.
    let whole = serde_json::from_str::<serde_json::Value>(&stored)
        .ok()
        .as_ref()
        == Some(&ev["details"]);
    if !whole {
        return Err((
            ItemState::Unverifiable,
            format!(
                "event #{seq}: item.json's details hold fields this version cannot check against the log"
            ),
        ));
    }
    if parsed.check_details(salt.as_ref(), &hashed).is_err() {
        return Err((
            ItemState::Altered,
            format!("event #{seq}: item.json's details are not those the log committed to"),
        ));
    }
    Ok(())
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
