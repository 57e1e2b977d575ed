//! The hand-over service (`athar_core::handover`) on the embedded backends: export of
//! chosen items as a bag, `verify_bag` with and without the sender's key and after
//! tampering, and `import_bag` into a second archive.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use athar_core::handover::{
    self, BagCheck, ExportOptions, ExportSummary, ImportSummary, ItemState,
};
use athar_core::{CoreError, EventDetails, EventKind, Item};
use athar_tlog::Ed25519Verifier;
use support::{bytes, no_tokens, tamper, Env};

const ORGANISATION: &str = "Synthetic Documentation Group";

fn options() -> ExportOptions {
    ExportOptions {
        to: Some("Synthetic Prosecutor Office".into()),
        organisation: ORGANISATION.into(),
        contact: "Exporter E-1".into(),
        description: Some("service test bag".into()),
        // Copies, so that tampering with the bag leaves the archive's blobs alone.
        copy: true,
        ..ExportOptions::default()
    }
}

/// An archive with three items; the first was seen twice.
fn sender() -> (Env, Vec<Item>) {
    let mut env = Env::named("sender");
    let a = env.ingest_one("statement.txt", b"synthetic statement for hand-over\n");
    let b = env.ingest_one("photo.bin", &bytes(21, 3000));
    let c = env.ingest_one("kept-back.bin", &bytes(22, 900));
    env.ingest_one("statement-copy.txt", b"synthetic statement for hand-over\n");
    (env, vec![a, b, c])
}

fn export(
    env: &mut Env,
    items: &[Item],
    name: &str,
    opts: &ExportOptions,
) -> (PathBuf, ExportSummary) {
    let out = env.path(name);
    let mut w = env.archive.writer().unwrap();
    let summary = handover::export(w.catalog, w.blobs, w.log, &mut w.logger, items, &out, opts)
        .expect("export");
    (out, summary)
}

fn import(
    env: &mut Env,
    bag: &Path,
    vkey: Option<&Ed25519Verifier>,
) -> Result<ImportSummary, CoreError> {
    let mut w = env.archive.writer().unwrap();
    handover::import_bag(
        w.catalog,
        w.blobs,
        &mut w.logger,
        bag,
        vkey,
        &no_tokens,
        "Receiving Clerk R-1",
    )
}

/// Every file of a bag, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Recomputes the tag manifests' lines for `changed` tag files, as a forger would.
fn rehash_tag_manifests(bag: &Path, changed: &[&str]) {
    use sha2::Digest;
    for (name, digest) in [
        (
            "tagmanifest-sha256.txt",
            (|b: &[u8]| hex::encode(sha2::Sha256::digest(b))) as fn(&[u8]) -> String,
        ),
        ("tagmanifest-sha512.txt", |b: &[u8]| {
            hex::encode(sha2::Sha512::digest(b))
        }),
    ] {
        let path = bag.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let (_, rel) = line.split_once(char::is_whitespace).unwrap();
            let rel = rel.trim_start();
            if changed.contains(&rel) {
                let fresh = digest(&std::fs::read(bag.join(rel)).unwrap());
                out.push_str(&format!("{fresh}  {rel}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        tamper(&path, |b| *b = out.into_bytes());
    }
}

#[test]
fn export_writes_the_chosen_items_and_logs_one_export_event_each() {
    let (mut env, items) = sender();
    let chosen = [items[1].clone(), items[0].clone()];
    let before = env.max_seq();
    let (bag, summary) = export(&mut env, &chosen, "bag-1", &options());

    assert_eq!(summary.items, 2);
    assert_eq!(summary.bytes, items[0].size + items[1].size);
    assert_eq!(summary.events, 3, "a's ingest and sighting, b's ingest");
    assert_eq!(summary.log_size, before, "pinned at the last carried event");
    assert_eq!(summary.linked, 0, "copied as asked");
    assert_eq!(summary.export_events, [before + 1, before + 2]);
    assert_eq!(env.log_size(), before + 2, "the export events are logged");
    for item in &chosen {
        let last = env.events(item).pop().unwrap();
        assert_eq!(last.kind, EventKind::Export);
        assert_eq!(last.actor, "Exporter E-1");
        let EventDetails::Export(e) = &last.details else {
            panic!("{last:?}")
        };
        assert_eq!(e.items, 2);
        assert_eq!(e.log_size, Some(before));
        assert_eq!(e.to.as_deref(), Some("Synthetic Prosecutor Office"));
        assert_eq!(e.package, "bag-1");
        assert_eq!(e.tagmanifest_sha256.as_deref().map(str::len), Some(64));
    }
    // What is in the bag: the chosen items' bytes under their first names, and custody.
    let all = files(&bag);
    let a = &items[0];
    assert_eq!(
        all[&format!("data/{}/statement.txt", a.id)],
        b"synthetic statement for hand-over\n"
    );
    assert!(all.contains_key(&format!("data/{}/photo.bin", items[1].id)));
    assert!(
        !all.keys().any(|k| k.contains(items[2].id.as_str())),
        "not chosen"
    );
    for seq in [1, 4] {
        assert!(all.contains_key(&format!("athar/items/{}/{seq}.entry", a.id)));
        assert!(all.contains_key(&format!("athar/items/{}/{seq}.tlog-proof", a.id)));
    }
    assert!(all.contains_key("athar/checkpoint"));
    let info = String::from_utf8(all["bag-info.txt"].clone()).unwrap();
    assert!(
        info.contains(&format!("Source-Organization: {ORGANISATION}")),
        "{info}"
    );
    assert!(
        info.contains(&format!("Athar-Log-Size: {before}")),
        "{info}"
    );
    // Exporting stays within the archive's invariants.
    assert!(env.verify().ok);
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn verify_bag_proves_custody_only_with_the_senders_key() {
    let (mut env, items) = sender();
    let (bag, summary) = export(&mut env, &items[..2], "bag", &options());
    let vkey = env.archive.verifier();

    let check = handover::verify_bag(&bag, Some(&vkey), &no_tokens);
    assert!(check.ok, "{check:?}");
    assert!(check.bagit_valid);
    assert_eq!(check.log_size, Some(summary.log_size));
    assert_eq!(check.items.len(), 2);
    assert!(check.items.iter().all(|i| i.state == ItemState::Verified));

    let unkeyed = handover::verify_bag(&bag, None, &no_tokens);
    assert!(!unkeyed.ok);
    assert!(unkeyed.bagit_valid);
    assert!(unkeyed
        .items
        .iter()
        .all(|i| i.state == ItemState::Unverifiable));

    let stranger = Env::named("stranger").archive.verifier();
    let wrong = handover::verify_bag(&bag, Some(&stranger), &no_tokens);
    assert!(!wrong.ok);
    assert!(wrong
        .items
        .iter()
        .all(|i| i.state == ItemState::Unverifiable));
}

#[test]
fn a_changed_payload_byte_makes_the_item_altered() {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..2], "bag", &options());
    let payload = bag.join(format!("data/{}/photo.bin", items[1].id));
    support::flip_byte(&payload, 1234);
    let check = handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens);
    assert!(!check.ok);
    assert!(!check.bagit_valid);
    let state = |id: &str| {
        check
            .items
            .iter()
            .find(|i| i.item.as_deref() == Some(id))
            .unwrap()
            .state
            .clone()
    };
    assert_eq!(state(items[1].id.as_str()), ItemState::Altered);
    assert_eq!(state(items[0].id.as_str()), ItemState::Verified);
    // The archive's own blob was not touched.
    assert!(env.verify().ok);

    // A missing payload file is missing.
    std::fs::remove_file(&payload).unwrap();
    let check = handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens);
    let item = check
        .items
        .iter()
        .find(|i| i.item.as_deref() == Some(items[1].id.as_str()));
    assert_eq!(item.unwrap().state, ItemState::Missing);
}

#[test]
fn a_rewritten_custody_entry_does_not_verify_even_with_its_manifests_redone() {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..1], "bag", &options());
    let id = items[0].id.as_str();
    let entry_rel = format!("athar/items/{id}/1.entry");
    let proof_rel = format!("athar/items/{id}/1.tlog-proof");
    // Another actor pseudonym on the entry's actor line.
    let forged_actor = "actor 0000000000000000";
    tamper(&bag.join(&entry_rel), |b| {
        let text = String::from_utf8(b.clone()).unwrap();
        let line = text.lines().find(|l| l.starts_with("actor ")).unwrap();
        *b = text.replace(line, forged_actor).into_bytes();
    });
    // Only the entry changed: the bag is damaged and the proof is not for this entry.
    let check = handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens);
    assert!(!check.ok);
    assert!(!check.bagit_valid);
    assert_eq!(check.items[0].state, ItemState::Unverifiable);

    // A careful forger also puts the entry in the proof and redoes the tag manifests: the
    // bag is valid BagIt again, but the proof no longer leads to the signed root.
    let entry = std::fs::read(bag.join(&entry_rel)).unwrap();
    tamper(&bag.join(&proof_rel), |b| {
        let mut proof = athar_tlog::TlogProof::parse(b).unwrap();
        proof.extra = Some(entry.clone());
        *b = proof.to_text().into_bytes();
    });
    rehash_tag_manifests(&bag, &[&entry_rel, &proof_rel]);
    let check = handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens);
    assert!(check.bagit_valid, "{:?}", check.bagit_errors);
    assert!(!check.ok);
    assert_eq!(check.items[0].state, ItemState::Unverifiable);
    assert!(
        check.items[0].detail.contains("does not verify"),
        "{:?}",
        check.items
    );
}

#[test]
fn exporting_the_same_items_again_gives_the_same_bag() {
    let (mut env, items) = sender();
    let (one, s1) = export(&mut env, &items[..2], "bag-one", &options());
    // The log grows in between (the first export's events, an unrelated ingest).
    env.ingest_one("unrelated.txt", b"unrelated synthetic file\n");
    let (two, s2) = export(&mut env, &items[..2], "bag-two", &options());
    assert_eq!(s1.log_size, s2.log_size);
    assert!(env.log_size() > s1.log_size + 2);
    let (f1, f2) = (files(&one), files(&two));
    assert_eq!(f1.keys().collect::<Vec<_>>(), f2.keys().collect::<Vec<_>>());
    for (path, bytes) in &f1 {
        if path == "bag-info.txt" || path.starts_with("tagmanifest-") {
            continue;
        }
        assert!(f2[path] == *bytes, "{path} differs");
    }
    let without_date = |b: &[u8]| -> Vec<String> {
        String::from_utf8(b.to_vec())
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("Bagging-Date"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        without_date(&f1["bag-info.txt"]),
        without_date(&f2["bag-info.txt"])
    );
}

#[test]
fn export_first_logs_what_the_catalog_still_queues() {
    let mut env = Env::named("queued");
    let item = env.record_unlogged("late.txt", b"recorded, its log append interrupted\n");
    assert_eq!(env.log_size(), 0);
    let (bag, summary) = export(&mut env, std::slice::from_ref(&item), "bag", &options());
    assert_eq!(summary.log_size, 1);
    assert_eq!(env.log_size(), 2, "the queued ingest, then the export");
    assert!(handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens).ok);
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn export_refuses_an_existing_folder_and_altered_bytes() {
    let (mut env, items) = sender();
    let taken = env.path("taken");
    std::fs::create_dir(&taken).unwrap();
    let before = env.max_seq();
    let mut w = env.archive.writer().unwrap();
    let err = handover::export(
        w.catalog,
        w.blobs,
        w.log,
        &mut w.logger,
        &items[..1],
        &taken,
        &options(),
    )
    .unwrap_err();
    drop(w);
    assert!(matches!(err, CoreError::Input { .. }), "{err}");

    support::flip_byte(&env.blob_path(&items[1]), 10);
    let out = env.path("never");
    let mut w = env.archive.writer().unwrap();
    let err = handover::export(
        w.catalog,
        w.blobs,
        w.log,
        &mut w.logger,
        &items[..2],
        &out,
        &options(),
    )
    .unwrap_err();
    drop(w);
    match err {
        CoreError::ItemAltered { item, .. } => assert_eq!(item, items[1].id.as_str()),
        other => panic!("expected ItemAltered, got {other}"),
    }
    assert!(!out.exists(), "no bag");
    assert!(!env.path(".never.athar-partial").exists(), "no partial bag");
    assert_eq!(env.max_seq(), before, "no export event");
}

#[test]
fn a_case_hand_over_carries_only_that_cases_events() {
    let mut env = Env::named("cases");
    let content = b"seen in two cases\n";
    let p = env.file("in-a.txt", content);
    let opts_a = athar_core::ingest::IngestOptions {
        case: Some("case-a".into()),
        ..env.opts()
    };
    let item = env.ingest(&[p], &opts_a).stored[0].entry.item.clone();
    let q = env.file("in-b.txt", content);
    let opts_b = athar_core::ingest::IngestOptions {
        case: Some("case-b".into()),
        source: Some("a source of case b".into()),
        ..env.opts()
    };
    env.ingest(&[q], &opts_b);
    let opts = ExportOptions {
        case: Some("case-a".into()),
        ..options()
    };
    let (bag, summary) = export(&mut env, std::slice::from_ref(&item), "case-a-bag", &opts);
    assert_eq!(summary.events, 1);
    assert_eq!(summary.log_size, 1);
    let all = files(&bag);
    let json =
        String::from_utf8(all[&format!("athar/items/{}/item.json", item.id)].clone()).unwrap();
    assert!(!json.contains("case-b"), "{json}");
    assert!(!json.contains("a source of case b"), "{json}");
    assert!(!all.contains_key(&format!("athar/items/{}/2.entry", item.id)));
    assert!(handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens).ok);
    let EventDetails::Export(e) = env.events(&item).pop().unwrap().details else {
        panic!("no export event")
    };
    assert_eq!(e.case.as_deref(), Some("case-a"));
}

#[test]
fn import_keeps_the_senders_custody_and_records_a_transfer() {
    let (mut env, items) = sender();
    let (bag, summary) = export(&mut env, &items[..2], "handed-over", &options());
    let vkey = env.archive.verifier();
    let mut receiver = Env::named("receiver");

    let got = import(&mut receiver, &bag, Some(&vkey)).unwrap();
    assert_eq!(got.items, 2);
    assert_eq!(got.new_items, 2);
    assert_eq!(got.sender_events, summary.events);
    assert!(got.sender_custody_verified);

    let cat = &receiver.archive.catalog;
    let a = cat
        .item_by_sha(&items[0].sha256)
        .unwrap()
        .expect("item a received");
    assert_ne!(a.id, items[0].id, "the receiver gives its own ids");
    let events = receiver.events(&a);
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Ingest, EventKind::Transfer]
    );
    let EventDetails::Sighting(s) = &events[0].details else {
        panic!("{events:?}")
    };
    assert_eq!(
        s.source.as_deref(),
        Some(format!("package handed-over from {ORGANISATION}").as_str())
    );
    assert_eq!(s.collector, "Receiving Clerk R-1");
    let EventDetails::Transfer(t) = &events[1].details else {
        panic!("{events:?}")
    };
    assert_eq!(t.package, "handed-over");
    assert_eq!(t.from.as_deref(), Some(ORGANISATION));
    assert_eq!(
        t.sender_log.as_deref(),
        Some(env.archive.config.log.origin.as_str())
    );
    assert_eq!(t.sender_events, 2, "a's ingest and sighting");
    assert!(t.sender_custody_verified);

    let received = cat.received_custody(&a.id).unwrap();
    assert_eq!(received.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 4]);
    for r in &received {
        assert!(r.verified);
        assert_eq!(r.origin, env.archive.config.log.origin);
        let sent = std::fs::read_to_string(
            bag.join(format!("athar/items/{}/{}.entry", items[0].id, r.seq)),
        )
        .unwrap();
        assert_eq!(r.entry, sent);
        assert!(!r.proof.is_empty());
        // The salt is kept with the sender's v2 entry: it still opens it.
        let salt: athar_core::custody::Salt = r.salt.as_deref().unwrap().parse().unwrap();
        let entry = athar_core::custody::LogEntry::parse(r.entry.as_bytes()).unwrap();
        assert_eq!(entry.check_content(Some(&salt), &items[0].sha256), Ok(()));
    }
    // New items get their jobs; everything is logged and verifies.
    assert_eq!(cat.jobs().unwrap().len(), 2);
    assert_eq!(receiver.log_size(), 4);
    assert!(receiver.verify().ok);
    assert!(receiver.verify_log().problems.is_empty());
    // Handed over again, the receiver's own (v2) custody of the item verifies.
    let (again, _) = export(&mut receiver, &[a], "handed-on", &options());
    let check = handover::verify_bag(&again, Some(&receiver.archive.verifier()), &no_tokens);
    assert!(check.ok, "{:?}", check.items);
}

#[test]
fn import_without_the_senders_key_keeps_custody_unverified() {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..1], "bag", &options());
    let mut receiver = Env::named("receiver");
    let got = import(&mut receiver, &bag, None).unwrap();
    assert_eq!(got.items, 1);
    assert!(!got.sender_custody_verified);
    let a = receiver
        .archive
        .catalog
        .item_by_sha(&items[0].sha256)
        .unwrap()
        .unwrap();
    let received = receiver.archive.catalog.received_custody(&a.id).unwrap();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| !r.verified));
}

#[test]
fn importing_bytes_already_held_records_a_sighting() {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..1], "bag", &options());
    let mut receiver = Env::named("receiver");
    let held = receiver.ingest_one("already.txt", b"synthetic statement for hand-over\n");
    let got = import(&mut receiver, &bag, Some(&env.archive.verifier())).unwrap();
    assert_eq!((got.items, got.new_items), (1, 0));
    let kinds: Vec<EventKind> = receiver.events(&held).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Ingest, EventKind::Sighting, EventKind::Transfer]
    );
    assert_eq!(
        receiver.archive.catalog.jobs().unwrap().len(),
        1,
        "no new jobs"
    );
}

#[test]
fn a_damaged_bag_is_refused_with_nothing_imported() {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..2], "bag", &options());
    support::flip_byte(&bag.join(format!("data/{}/photo.bin", items[1].id)), 0);
    let mut receiver = Env::named("receiver");
    let err = import(&mut receiver, &bag, Some(&env.archive.verifier())).unwrap_err();
    assert!(matches!(err, CoreError::Input { .. }), "{err}");
    assert!(err.to_string().contains("nothing imported"), "{err}");
    assert!(receiver.archive.catalog.items().unwrap().is_empty());
    assert_eq!(receiver.max_seq(), 0);
    assert_eq!(receiver.log_size(), 0);
    assert!(receiver.archive.blobs.list().unwrap().blobs.is_empty());

    // Not a bag at all.
    let err = import(&mut receiver, &env.path("src"), None).unwrap_err();
    assert!(err.to_string().contains("not a valid bag"), "{err}");
    assert_eq!(receiver.max_seq(), 0);
}

#[test]
fn item_json_records_match_the_logged_entries_details_hashes() {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..1], "bag", &options());
    let base = bag.join(format!("athar/items/{}", items[0].id));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.join("item.json")).unwrap()).unwrap();
    let events = record["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    for ev in events {
        let seq = ev["seq"].as_u64().unwrap();
        let entry = athar_core::custody::LogEntry::parse(
            &std::fs::read(base.join(format!("{seq}.entry"))).unwrap(),
        )
        .unwrap();
        let kind = EventKind::parse(ev["kind"].as_str().unwrap()).unwrap();
        assert_eq!(entry.kind, kind);
        assert_eq!(entry.time, ev["at"].as_str().unwrap());
        // The receiver can re-derive the stored detail record from item.json and check it.
        // With the event's salt (new events are logged as v2), it opens the entry's
        // commitments to the payload's SHA-256 and the details record.
        let details = EventDetails::from_json(kind, &ev["details"].to_string()).unwrap();
        let salt: athar_core::custody::Salt = ev["salt"].as_str().unwrap().parse().unwrap();
        assert_eq!(entry.version(), 2);
        let digest = support::sha256(details.to_json().as_bytes());
        assert_eq!(entry.check(Some(&salt), &items[0].sha256, &digest), Ok(()));
    }
}

/// A sender's bag of one item whose item.json's first custody event `edit` rewrote, with
/// the tag manifests redone; and the bag's check with the sender's key (BagIt-valid).
fn first_event_rewritten(
    edit: impl FnOnce(&mut serde_json::Value),
) -> (Env, Vec<Item>, PathBuf, BagCheck) {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..1], "bag", &options());
    let rel = format!("athar/items/{}/item.json", items[0].id);
    tamper(&bag.join(&rel), |b| {
        let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
        edit(&mut v["events"][0]);
        *b = serde_json::to_vec_pretty(&v).unwrap();
    });
    rehash_tag_manifests(&bag, &[&rel]);
    let check = handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens);
    assert!(check.bagit_valid, "{:?}", check.bagit_errors);
    (env, items, bag, check)
}

#[test]
fn a_changed_or_missing_salt_in_item_json_does_not_verify() {
    let (_, _, _, check) = first_event_rewritten(|ev| {
        let salt = ev["salt"].as_str().unwrap();
        let flipped = if salt.starts_with('0') { "1" } else { "0" };
        ev["salt"] = format!("{flipped}{}", &salt[1..]).into();
    });
    assert_eq!(
        check.items[0].state,
        ItemState::Altered,
        "{:?}",
        check.items
    );
    assert!(
        check.items[0].detail.contains("event #1"),
        "{:?}",
        check.items
    );
    assert!(!check.ok);

    let (_, _, _, check) = first_event_rewritten(|ev| {
        ev.as_object_mut().unwrap().remove("salt");
    });
    let item = &check.items[0];
    assert_eq!(item.state, ItemState::Unverifiable, "{item:?}");
    assert!(item.detail.contains("no salt"), "{item:?}");

    let (_, _, _, check) = first_event_rewritten(|ev| {
        ev["salt"] = "not hex".into();
    });
    let item = &check.items[0];
    assert_eq!(item.state, ItemState::Unverifiable, "{item:?}");
    assert!(item.detail.contains("salt is not 64"), "{item:?}");
}

#[test]
fn a_rewritten_custody_record_in_item_json_does_not_verify() {
    // The forger names another source and collector for the first sighting, and another
    // time, then redoes the tag manifests; entries, proofs and checkpoint are untouched.
    let (_, _, _, check) = first_event_rewritten(|ev| {
        ev["details"]["source"] = "a forged source".into();
        ev["details"]["collector"] = "Someone Else".into();
        ev["at"] = "2001-01-01T00:00:00.000000Z".into();
    });
    assert_eq!(
        check.items[0].state,
        ItemState::Altered,
        "{:?}",
        check.items
    );
    assert!(!check.ok);
}

#[test]
fn custody_details_with_fields_this_version_does_not_know_are_unverifiable_not_altered() {
    // As a newer sender's details might read: a field this version has no place for.
    let (env, items, bag, check) = first_event_rewritten(|ev| {
        ev["details"]["recorded_with"] = "a later release".into();
    });
    let item = &check.items[0];
    assert_eq!(item.state, ItemState::Unverifiable, "{item:?}");
    assert!(item.detail.contains("cannot check"), "{item:?}");
    // Taken in, its custody is kept as not verified, even with the sender's key.
    let mut receiver = Env::named("receiver");
    let got = import(&mut receiver, &bag, Some(&env.archive.verifier())).unwrap();
    assert!(!got.sender_custody_verified);
    let a = receiver
        .archive
        .catalog
        .item_by_sha(&items[0].sha256)
        .unwrap()
        .unwrap();
    let received = receiver.archive.catalog.received_custody(&a.id).unwrap();
    assert!(!received.is_empty() && received.iter().all(|r| !r.verified));
}

#[test]
fn import_takes_only_payload_files_as_items() {
    let (mut env, items) = sender();
    let (bag, _) = export(&mut env, &items[..1], "bag", &options());
    // item.json gone, and with it its tag manifest lines: still valid BagIt (tag files
    // need not be listed), custody unverifiable.
    let rel = format!("athar/items/{}/item.json", items[0].id);
    std::fs::remove_file(bag.join(&rel)).unwrap();
    for name in ["tagmanifest-sha256.txt", "tagmanifest-sha512.txt"] {
        tamper(&bag.join(name), |b| {
            let text = String::from_utf8(b.clone()).unwrap();
            *b = text
                .lines()
                .filter(|l| !l.ends_with(&rel))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .into_bytes();
        });
    }
    let check = handover::verify_bag(&bag, Some(&env.archive.verifier()), &no_tokens);
    assert!(check.bagit_valid, "{:?}", check.bagit_errors);
    assert!(!check.ok);

    let mut receiver = Env::named("receiver");
    let got = import(&mut receiver, &bag, Some(&env.archive.verifier()));
    let names: Vec<String> = receiver
        .archive
        .catalog
        .items()
        .unwrap()
        .iter()
        .flat_map(|i| receiver.events(i))
        .filter_map(|e| match e.details {
            EventDetails::Sighting(s) => Some(s.original_path),
            _ => None,
        })
        .collect();
    assert!(
        names.iter().all(|p| p.contains("/data/")),
        "tag files taken as evidence: {names:?} ({got:?})"
    );
}
