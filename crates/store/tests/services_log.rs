//! The custody log service (`athar_core::log`) on the filesystem log store: appends and
//! checkpoints, inclusion and consistency proofs checked with the outside verifier
//! (`athar_tlog`), and the `Logger` that brings the log up to the catalog's queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use athar_core::custody::{self, Commitment, Digests, LogEntry};
use athar_core::log::{self, CustodyLog, LogError};
use athar_core::verify::ProblemKind;
use athar_core::{Access, EventDetails, EventKind};
use athar_store::FsLogStore;
use athar_tlog::rfc6962;
use athar_tlog::{Ed25519Signer, Ed25519Verifier, Verifiers};
use support::{kinds, Env, COLLECTOR};

const ORIGIN: &str = "log.test.example/custody";

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[7u8; 32]).unwrap()
}

fn entry(i: u64) -> Vec<u8> {
    format!("synthetic entry {i}\n").into_bytes()
}

fn entries(from: u64, to: u64) -> Vec<Vec<u8>> {
    (from..to).map(entry).collect()
}

fn cp_of(text: &str, verifier: &Ed25519Verifier) -> athar_tlog::Checkpoint {
    log::open_checkpoint(text.as_bytes(), ORIGIN, verifier).unwrap()
}

#[test]
fn a_new_log_has_a_signed_checkpoint_of_the_empty_tree() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path()).unwrap();
    let log = CustodyLog::open(&store, signer()).unwrap();
    assert_eq!(log.size(), 0);
    assert_eq!(log.origin(), ORIGIN);
    assert_eq!(log.root(), rfc6962::empty_root());
    let cp = cp_of(log.checkpoint(), &signer().verifier());
    assert_eq!((cp.size, cp.root), (0, rfc6962::empty_root()));
    assert_eq!(log.vkey(), signer().verifier().vkey());
    // The checkpoint is on disk: opening again finds it.
    drop(log);
    let again = CustodyLog::open(&store, signer()).unwrap();
    assert_eq!(again.size(), 0);
    assert!(again.entry(0).is_err(), "no leaf 0 in an empty log");
}

#[test]
fn appends_grow_the_tree_one_checkpoint_per_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path()).unwrap();
    let verifier = signer().verifier();
    let mut log = CustodyLog::open(&store, signer()).unwrap();
    let mut reference = rfc6962::MemoryTree::new();
    // Batches that end inside a tile, at a tile's end, and across tile boundaries.
    for (from, to) in [(0, 3), (3, 256), (256, 257), (257, 600), (600, 601)] {
        let batch = entries(from, to);
        log.append(&batch).unwrap();
        for e in &batch {
            reference.append(e);
        }
        assert_eq!(log.size(), to);
        assert_eq!(log.root(), reference.root());
        let cp = cp_of(log.checkpoint(), &verifier);
        assert_eq!((cp.size, cp.root), (to, reference.root()));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(),
            log.checkpoint()
        );
    }
    for i in [0, 2, 255, 256, 599, 600] {
        assert_eq!(log.entry(i).unwrap(), entry(i));
    }
    assert!(log.entry(601).is_err());
    // An empty batch changes nothing.
    let before = log.checkpoint().to_owned();
    log.append(&[]).unwrap();
    assert_eq!(log.checkpoint(), before);
    // Reopened from its files, the log is the same tree.
    drop(log);
    let log = CustodyLog::open(&store, signer()).unwrap();
    assert_eq!((log.size(), log.root()), (601, reference.root()));
    assert_eq!(log.entry(300).unwrap(), entry(300));
}

#[test]
fn checkpoints_of_older_sizes_are_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path()).unwrap();
    let mut log = CustodyLog::open(&store, signer()).unwrap();
    log.append(&entries(0, 5)).unwrap();
    let at5 = log.checkpoint().to_owned();
    log.append(&entries(5, 9)).unwrap();
    // Ed25519 signatures are deterministic: the same size gives the same bytes.
    assert_eq!(log.checkpoint_at(5).unwrap(), at5);
    assert_eq!(log.checkpoint_at(9).unwrap(), log.checkpoint());
    let empty = cp_of(&log.checkpoint_at(0).unwrap(), &signer().verifier());
    assert_eq!(empty.root, rfc6962::empty_root());
    assert!(matches!(log.checkpoint_at(10), Err(LogError::Invalid(_))));
}

#[test]
fn inclusion_proofs_verify_with_the_outside_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path()).unwrap();
    let mut log = CustodyLog::open(&store, signer()).unwrap();
    log.append(&entries(0, 300)).unwrap();
    let verifier = signer().verifier();
    let known = Verifiers::new(&[&verifier]);
    for i in [0u64, 1, 127, 255, 256, 299] {
        let proof = log.proof(i).unwrap();
        assert_eq!(proof.index, i);
        assert_eq!(proof.extra.as_deref(), Some(entry(i).as_slice()));
        // Through its text form, as a receiver gets it.
        let parsed = athar_tlog::TlogProof::parse(proof.to_text().as_bytes()).unwrap();
        let (cp, _) = parsed.verify_entry(ORIGIN, &known, &entry(i)).unwrap();
        assert_eq!(cp.size, 300);
        // Another entry at the same index does not verify.
        assert!(parsed.verify_entry(ORIGIN, &known, &entry(i + 1)).is_err());
    }
    // Nor does a proof under a key the receiver does not trust.
    let stranger = Ed25519Signer::from_seed(ORIGIN, &[8u8; 32])
        .unwrap()
        .verifier();
    let untrusted = Verifiers::new(&[&stranger]);
    assert!(log
        .proof(3)
        .unwrap()
        .verify_entry(ORIGIN, &untrusted, &entry(3))
        .is_err());
    // A proof in an older tree verifies against that tree's checkpoint.
    let cp10 = cp_of(&log.checkpoint_at(10).unwrap(), &verifier);
    let hashes = log.inclusion_proof_at(4, 10).unwrap();
    rfc6962::verify_inclusion(4, 10, &rfc6962::leaf_hash(&entry(4)), &hashes, &cp10.root).unwrap();
    assert!(log.inclusion_proof_at(4, 301).is_err());
    assert!(log.proof(300).is_err());
}

#[test]
fn consistency_proofs_link_two_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path()).unwrap();
    let verifier = signer().verifier();
    let mut log = CustodyLog::open(&store, signer()).unwrap();
    log.append(&entries(0, 7)).unwrap();
    let old = cp_of(log.checkpoint(), &verifier);
    log.append(&entries(7, 270)).unwrap();
    let new = cp_of(log.checkpoint(), &verifier);
    let proof = log.consistency(old.size).unwrap();
    rfc6962::verify_consistency(old.size, new.size, &proof, &old.root, &new.root).unwrap();
    // A changed hash, or the wrong old root, does not verify.
    let mut bad = proof.clone();
    bad[0][0] ^= 1;
    assert!(rfc6962::verify_consistency(old.size, new.size, &bad, &old.root, &new.root).is_err());
    assert!(rfc6962::verify_consistency(old.size, new.size, &proof, &new.root, &new.root).is_err());
    // Between any two earlier sizes too.
    for (a, b) in [(1u64, 2u64), (3, 256), (256, 257), (100, 269), (7, 7)] {
        let ra = cp_of(&log.checkpoint_at(a).unwrap(), &verifier).root;
        let rb = cp_of(&log.checkpoint_at(b).unwrap(), &verifier).root;
        let p = log.consistency_between(a, b).unwrap();
        rfc6962::verify_consistency(a, b, &p, &ra, &rb).unwrap_or_else(|e| panic!("{a}..{b}: {e}"));
    }
    assert!(log.consistency_between(3, 271).is_err());
}

#[test]
fn a_restored_older_checkpoint_or_altered_tiles_are_refused_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path()).unwrap();
    let mut log = CustodyLog::open(&store, signer()).unwrap();
    log.append(&entries(0, 4)).unwrap();
    let old = log.checkpoint().to_owned();
    log.append(&entries(4, 6)).unwrap();
    drop(log);
    let cp = dir.path().join("checkpoint");
    let current = std::fs::read(&cp).unwrap();
    support::tamper(&cp, |b| *b = old.clone().into_bytes());
    let err = CustodyLog::open(&store, signer()).unwrap_err();
    assert!(
        matches!(err, LogError::RolledBack { size: 4, signed: 6 }),
        "{err}"
    );
    // A checkpoint signed by another key is refused too.
    let other = Ed25519Signer::from_seed(ORIGIN, &[9u8; 32]).unwrap();
    support::tamper(&cp, |b| *b = current.clone());
    assert!(CustodyLog::open(&store, other).is_err());
    // Tiles that no longer hash to the signed root are refused.
    support::flip_byte(&dir.path().join("tile/0/000.p/6"), 0);
    let err = CustodyLog::open(&store, signer()).unwrap_err();
    assert!(err.to_string().contains("do not match"), "{err}");
}

#[test]
fn catch_up_appends_the_queued_events_once() {
    let mut env = Env::new();
    env.record_unlogged("a.txt", b"queued one\n");
    env.record_unlogged("b.txt", b"queued two\n");
    env.record_unlogged("c.txt", b"queued three\n");
    assert_eq!(env.archive.catalog.unlogged().unwrap(), [1, 2, 3]);
    assert_eq!(env.log_size(), 0);

    let secret = env.archive.pseudonym_secret.clone();
    let mut w = env.archive.writer().unwrap();
    assert_eq!(w.logger.catch_up(w.catalog).unwrap(), 3);
    assert_eq!(w.logger.log.size(), 3);
    // Nothing twice.
    assert_eq!(w.logger.catch_up(w.catalog).unwrap(), 0);
    let records = w.catalog.event_records(0, usize::MAX).unwrap();
    for r in &records {
        let expected = custody::entry_for(r, &secret).unwrap().encode();
        assert_eq!(w.logger.log.entry(r.seq - 1).unwrap(), expected);
    }
    w.catalog.mark_logged(3).unwrap();
    drop(w);
    assert!(env.archive.catalog.unlogged().unwrap().is_empty());
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn entries_name_the_item_and_hash_the_details_without_personal_data() {
    let mut env = Env::new();
    let p = env.file("Synthetic Victim Name.txt", b"synthetic testimony\n");
    let opts = athar_core::ingest::IngestOptions {
        note: Some("from Synthetic Witness W-1".into()),
        case: Some("case-secret".into()),
        ..env.opts()
    };
    let got = env.ingest(&[p], &opts);
    let item = got.stored[0].entry.item.clone();
    let log = env.archive.custody_log().unwrap();
    let bytes = log.entry(0).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    for secret in [COLLECTOR, "Synthetic Victim", "W-1", "case-secret"] {
        assert!(!text.contains(secret), "{secret:?} in clear in {text}");
    }
    // Nor the content's SHA-256, nor the details' (a new event's entry is v2).
    let details = support::sha256(record_details(&env).as_bytes());
    for hex in [item.sha256.to_hex(), details.to_hex()] {
        assert!(!text.contains(&hex), "{hex} in clear in {text}");
    }
    let parsed = log::parse_entry(0, &bytes).unwrap();
    let record = &env.archive.catalog.event_records(0, 1).unwrap()[0];
    let salt = record.salt.expect("a new event has a salt");
    assert_eq!(
        parsed,
        LogEntry {
            kind: EventKind::Ingest,
            item: item.id.clone(),
            time: record.at.clone(),
            actor: custody::pseudonym(&env.archive.pseudonym_secret, COLLECTOR),
            prev: None,
            digests: Digests::V2 {
                content: Commitment::content(&salt, &item.sha256),
                details: Commitment::details(&salt, &details),
            },
        }
    );
    assert_eq!(parsed.check(Some(&salt), &item.sha256, &details), Ok(()));
}

fn record_details(env: &Env) -> String {
    env.archive.catalog.event_records(0, 1).unwrap()[0]
        .details
        .clone()
}

#[test]
fn logger_record_logs_an_event_about_an_item_at_once() {
    let mut env = Env::new();
    let item = env.ingest_one("a.txt", b"synthetic item\n");
    let details = EventDetails::Access(Access {
        via: "service test".into(),
        purpose: Some("checking".into()),
        tool_version: athar_core::TOOL_VERSION.into(),
        cases: Vec::new(),
    });
    let mut w = env.archive.writer().unwrap();
    let event = w
        .logger
        .record(w.catalog, &item.id, EventKind::Access, "viewer-1", &details)
        .unwrap();
    assert_eq!(event.seq, 2);
    assert_eq!(event.kind, EventKind::Access);
    assert_eq!(w.logger.log.size(), 2);
    let parsed = log::parse_entry(1, &w.logger.log.entry(1).unwrap()).unwrap();
    assert_eq!(parsed.kind, EventKind::Access);
    assert_eq!(parsed.prev, Some(0), "the item's previous leaf");
    drop(w);
    assert_eq!(env.events(&item).len(), 2);
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn catch_up_with_takes_the_written_events_or_reads_the_queue_back() {
    let mut env = Env::new();
    let item = env.ingest_one("a.txt", b"synthetic item\n");
    let details = access();
    let mut w = env.archive.writer().unwrap();
    let size = w.logger.log.size();
    w.catalog
        .record_event(&item.id, EventKind::Access, "viewer-1", &details, size)
        .unwrap();
    let written = w.catalog.event_records(size, usize::MAX).unwrap();
    assert_eq!(w.logger.catch_up_with(w.catalog, &written).unwrap(), 1);
    // A list that is not what is queued beyond the log (here: stale) reads the queue.
    let size = w.logger.log.size();
    w.catalog
        .record_event(&item.id, EventKind::Access, "viewer-2", &details, size)
        .unwrap();
    w.catalog
        .record_event(&item.id, EventKind::Access, "viewer-3", &details, size)
        .unwrap();
    let only_first = w.catalog.event_records(size, 1).unwrap();
    assert_eq!(w.logger.catch_up_with(w.catalog, &only_first).unwrap(), 2);
    assert_eq!(w.logger.catch_up_with(w.catalog, &[]).unwrap(), 0);
    drop(w);
    assert_eq!(env.log_size(), 4);
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn an_event_never_queued_is_not_papered_over() {
    let mut env = Env::new();
    let item = env.ingest_one("a.txt", b"synthetic item\n");
    let details = access();
    let mut w = env.archive.writer().unwrap();
    let size = w.logger.log.size();
    w.catalog
        .record_event(&item.id, EventKind::Access, "viewer-1", &details, size)
        .unwrap();
    // Marked logged though the log never took it: it leaves the queue.
    w.catalog.mark_logged(1_000).unwrap();
    // Nothing is queued: nothing is appended, the event stays out of the log.
    assert_eq!(w.logger.catch_up(w.catalog).unwrap(), 0);
    assert_eq!(w.logger.log.size(), 1);
    // A later, queued event cannot be appended over it.
    w.catalog
        .record_event(&item.id, EventKind::Access, "viewer-2", &details, 1)
        .unwrap();
    let err = w.logger.catch_up(w.catalog).unwrap_err();
    assert!(err.to_string().contains("#2"), "{err}");
    assert!(err.to_string().contains("not queued"), "{err}");
    assert_eq!(w.logger.log.size(), 1);
    drop(w);
    let mut got = kinds(&env.verify_log().problems);
    got.sort();
    assert_eq!(
        got,
        [
            ProblemKind::LogRolledBack,
            ProblemKind::Unlogged,
            ProblemKind::Unlogged
        ]
    );
}

/// An access event's details, as the tests record them.
fn access() -> EventDetails {
    EventDetails::Access(Access {
        via: "service test".into(),
        tool_version: athar_core::TOOL_VERSION.into(),
        ..Access::default()
    })
}
