//! The verify service (`athar_core::verify`) called directly on the embedded backends: a
//! clean archive, then one kind of damage at a time, each reported as its own problem kind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use athar_core::verify::ProblemKind;
use athar_core::Item;
use support::{bytes, flip_byte, kinds, tamper, Env};

/// An archive with three items (one seen twice), every event logged.
fn archive() -> (Env, Vec<Item>) {
    let mut env = Env::new();
    let a = env.file("set/a.txt", b"synthetic witness statement A\n");
    env.file("set/b.bin", &bytes(11, 4096));
    env.file("set/c.bin", &bytes(12, 700));
    let opts = env.opts();
    let got = env.ingest(&[a.parent().unwrap().to_owned()], &opts);
    let items: Vec<Item> = got.stored.iter().map(|s| s.entry.item.clone()).collect();
    assert_eq!(items.len(), 3);
    env.ingest_one("a-again.txt", b"synthetic witness statement A\n");
    (env, items)
}

#[test]
fn a_clean_archive_verifies() {
    let (env, items) = archive();
    let report = env.verify();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.items, 3);
    assert_eq!(report.bytes, items.iter().map(|i| i.size).sum::<u64>());
    let log = env.verify_log();
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    assert_eq!(log.size, 4);
}

#[test]
fn progress_counts_every_byte_hashed() {
    let (env, items) = archive();
    let seen = std::sync::Mutex::new(0u64);
    let report = athar_core::verify::verify(
        env.archive.catalog.as_ref(),
        env.archive.blobs.as_ref(),
        1,
        &|done| {
            let mut s = seen.lock().unwrap();
            *s = (*s).max(done);
        },
    )
    .unwrap();
    assert!(report.ok);
    assert_eq!(
        *seen.lock().unwrap(),
        items.iter().map(|i| i.size).sum::<u64>()
    );
}

#[test]
fn a_changed_blob_byte_is_altered() {
    let (env, items) = archive();
    flip_byte(&env.blob_path(&items[1]), 100);
    let report = env.verify();
    assert!(!report.ok);
    assert_eq!(kinds(&report.problems), [ProblemKind::Altered]);
    let p = &report.problems[0];
    assert_eq!(p.item.as_deref(), Some(items[1].id.as_str()));
    assert_eq!(p.sha256.as_deref(), Some(items[1].sha256.to_hex().as_str()));
    // The custody log is not what changed.
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn a_truncated_blob_is_altered() {
    let (env, items) = archive();
    tamper(&env.blob_path(&items[2]), |b| b.truncate(10));
    let report = env.verify();
    assert_eq!(kinds(&report.problems), [ProblemKind::Altered]);
    assert!(
        report.problems[0].detail.contains("10 bytes"),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_missing_blob_is_missing() {
    let (env, items) = archive();
    std::fs::remove_file(env.blob_path(&items[0])).unwrap();
    let report = env.verify();
    assert!(!report.ok);
    assert_eq!(kinds(&report.problems), [ProblemKind::Missing]);
    assert_eq!(
        report.problems[0].item.as_deref(),
        Some(items[0].id.as_str())
    );
    // The bytes of what is missing are not counted as verified.
    assert_eq!(report.bytes, items[1].size + items[2].size);
}

#[test]
fn extra_files_in_the_blob_store_are_strays_or_orphans() {
    let (env, items) = archive();
    let top = env.root().join("blobs/sha256");
    std::fs::write(top.join("README"), b"not a blob").unwrap();
    let hex = items[0].sha256.to_hex();
    std::fs::write(top.join(&hex[..2]).join("notes.txt"), b"not a blob either").unwrap();
    let report = env.verify();
    assert!(!report.ok);
    assert_eq!(
        kinds(&report.problems),
        [ProblemKind::Stray, ProblemKind::Stray]
    );

    // A well-named blob that no item claims is an orphan.
    let (env, _) = archive();
    let orphan = bytes(99, 50);
    let sha = support::sha256(&orphan).to_hex();
    let dir = env.root().join("blobs/sha256").join(&sha[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&sha), &orphan).unwrap();
    let report = env.verify();
    assert_eq!(kinds(&report.problems), [ProblemKind::Orphaned]);
    assert!(
        report.problems[0].detail.contains("intact"),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_catalog_event_altered_after_logging_is_a_log_mismatch() {
    let (env, items) = archive();
    // Event #1 is item a's ingest: its recorded file name is changed behind the log's back.
    env.sql(
        "UPDATE custody_events SET sighting = replace(sighting, 'a.txt', 'z.txt') WHERE seq = 1",
    );
    let events = env.events(&items[0]);
    assert!(format!("{:?}", events[0].details).contains("z.txt"));
    let log = env.verify_log();
    assert_eq!(kinds(&log.problems), [ProblemKind::LogMismatch]);
    assert_eq!(log.problems[0].item.as_deref(), Some(items[0].id.as_str()));
    assert!(log.problems[0].detail.contains("#1"), "{:?}", log.problems);
    // The blobs themselves are intact.
    assert!(env.verify().ok);
}

#[test]
fn a_removed_custody_event_is_a_gap_and_a_log_mismatch() {
    let (env, _) = archive();
    // Event #4 is the sighting of a; #2 is b's only event.
    env.sql("DELETE FROM custody_events WHERE seq = 2");
    let report = env.verify();
    let mut got = kinds(&report.problems);
    got.sort();
    assert_eq!(got, [ProblemKind::NoCustody, ProblemKind::MissingEvent]);
    let log = env.verify_log();
    assert_eq!(kinds(&log.problems), [ProblemKind::LogMismatch]);
    assert!(
        log.problems[0].detail.contains("leaf 1"),
        "{:?}",
        log.problems
    );
}

#[test]
fn a_tampered_hash_tile_is_a_log_tile_problem() {
    let (env, _) = archive();
    let tile = env.root().join("log/tile/0/000.p/4");
    assert!(tile.is_file(), "expected the level-0 tile of 4 leaves");
    flip_byte(&tile, 40);
    let log = env.verify_log();
    assert_eq!(kinds(&log.problems), [ProblemKind::LogTile]);
    assert!(
        log.problems[0].detail.contains("tile/0/000.p/4"),
        "{:?}",
        log.problems
    );
    assert!(env.verify().ok);
}

#[test]
fn a_tampered_entry_bundle_breaks_the_leaf_and_the_root() {
    let (env, _) = archive();
    let bundle = env.root().join("log/tile/entries/000.p/4");
    // Change one character of the first entry's text (its event time), keeping its length.
    tamper(&bundle, |b| {
        let at = b.windows(5).position(|w| w == b"time ").unwrap() + 5;
        b[at] = if b[at] == b'2' { b'3' } else { b'2' };
    });
    let log = env.verify_log();
    let got = kinds(&log.problems);
    assert!(got.contains(&ProblemKind::LogMismatch), "{got:?}");
    assert!(got.contains(&ProblemKind::LogRoot), "{got:?}");
    assert!(got.contains(&ProblemKind::LogTile), "{got:?}");
}

#[test]
fn a_checkpoint_from_another_key_or_gone_is_a_checkpoint_problem() {
    let (env, _) = archive();
    let other = Env::named("other-archive");
    let cp = env.root().join("log/checkpoint");
    std::fs::copy(other.root().join("log/checkpoint"), &cp).unwrap();
    let log = env.verify_log();
    assert_eq!(kinds(&log.problems), [ProblemKind::LogCheckpoint]);

    std::fs::remove_file(&cp).unwrap();
    let log = env.verify_log();
    assert_eq!(kinds(&log.problems), [ProblemKind::LogCheckpoint]);
    assert!(log.problems[0].detail.contains("missing"));
}

#[test]
fn an_older_checkpoint_put_back_is_a_rollback() {
    let (mut env, _) = archive();
    let cp = env.root().join("log/checkpoint");
    let old = std::fs::read(&cp).unwrap();
    env.ingest_one("d.txt", b"a later synthetic file\n");
    assert_eq!(env.log_size(), 5);
    tamper(&cp, |b| *b = old);
    let log = env.verify_log();
    let got = kinds(&log.problems);
    assert!(got.contains(&ProblemKind::LogRolledBack), "{got:?}");
    assert_eq!(log.size, 4);
    // And the log refuses to build on it.
    let err = env.archive.custody_log().unwrap_err();
    assert!(
        matches!(
            err,
            athar_core::log::LogError::RolledBack { size: 4, signed: 5 }
        ),
        "{err}"
    );
}

#[test]
fn a_stray_file_in_the_log_is_a_log_tile_problem() {
    let (env, _) = archive();
    std::fs::write(env.root().join("log/tile/0/stray"), b"?").unwrap();
    let log = env.verify_log();
    assert_eq!(kinds(&log.problems), [ProblemKind::LogTile]);
    assert!(log.problems[0].detail.contains("unexpected file"));
}

#[test]
fn reading_events_in_small_ranges_finds_the_same_problems() {
    let (mut env, _) = archive();
    for k in 0..4 {
        env.ingest_one(
            &format!("later-{k}.txt"),
            format!("later synthetic file {k}\n").as_bytes(),
        );
    }
    assert_eq!(env.log_size(), 8);
    let clean = |env: &Env, per: usize| {
        athar_core::verify::verify_log_in_ranges(
            env.archive.catalog.as_ref(),
            env.archive.log.as_ref(),
            &env.archive.verifier(),
            &env.archive.pseudonym_secret,
            &support::no_tokens,
            per,
        )
        .unwrap()
    };
    for per in [1, 2, 3, 7, 8, 9] {
        let log = clean(&env, per);
        assert!(log.problems.is_empty(), "{per}: {:?}", log.problems);
    }
    // An event altered, one removed (leaves without events), and the checkpoint put back to
    // size 6 (events beyond the log).
    let cp = env.root().join("log/checkpoint");
    let old = std::fs::read(&cp).unwrap();
    env.ingest_one("d.txt", b"one more synthetic file\n");
    env.ingest_one("e.txt", b"and another synthetic file\n");
    tamper(&cp, |b| *b = old);
    env.sql(
        "UPDATE custody_events SET sighting = replace(sighting, 'a.txt', 'z.txt') WHERE seq = 1",
    );
    env.sql("DELETE FROM custody_events WHERE seq IN (2, 5)");
    let whole = env.verify_log();
    let got = kinds(&whole.problems);
    for kind in [
        ProblemKind::LogMismatch,
        ProblemKind::LogRolledBack,
        ProblemKind::Unlogged,
    ] {
        assert!(got.contains(&kind), "{got:?}");
    }
    let said = |log: &athar_core::verify::LogReport| {
        log.problems
            .iter()
            .map(|p| format!("{:?} {:?} {}", p.kind, p.item, p.detail))
            .collect::<Vec<_>>()
    };
    for per in [1, 2, 3, 5, 8, 9, 11] {
        assert_eq!(
            said(&clean(&env, per)),
            said(&whole),
            "{per} events per read"
        );
    }
}
