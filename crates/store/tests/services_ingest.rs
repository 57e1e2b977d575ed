//! The ingest service (`athar_core::ingest`) called directly on the embedded backends: new
//! items and sightings, what a sighting records, per-file failures, the jobs a commit
//! queues, `commit_staged`, and `recover` after a simulated interruption.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Read as _;

use athar_core::ingest::{self, IngestOptions};
use athar_core::verify::ProblemKind;
use athar_core::{EventDetails, EventKind, NewItem, Sighting, TOOL_VERSION};
use support::{bytes, kinds, sha256, Env, COLLECTOR, PNG_HEAD};

fn read_blob(env: &Env, sha: &athar_core::Sha256) -> Vec<u8> {
    let mut out = Vec::new();
    env.archive
        .blobs
        .open(sha)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn sighting(e: &athar_core::CustodyEvent) -> &Sighting {
    match &e.details {
        EventDetails::Sighting(s) => s,
        other => panic!("event #{} is not a sighting: {other:?}", e.seq),
    }
}

#[test]
fn new_files_become_items_with_one_ingest_event_each_in_name_order() {
    let mut env = Env::new();
    let b = env.file("folder/b.txt", b"second synthetic statement\n");
    env.file("folder/a.bin", &bytes(1, 5000));
    env.file("folder/sub/c.txt", b"third\n");
    let folder = b.parent().unwrap().to_owned();
    let opts = env.opts();
    let got = env.ingest(std::slice::from_ref(&folder), &opts);

    assert!(got.failed.is_empty(), "{:?}", got.failed);
    let total = 5000 + 27 + 6;
    assert_eq!(got.planned, Some((3, total)));
    assert_eq!(got.summary.stored, 3);
    assert_eq!(got.summary.new_items, 3);
    assert_eq!(got.summary.bytes, total);
    assert_eq!(got.summary.failed, 0);
    let names: Vec<_> = got
        .stored
        .iter()
        .map(|s| s.path.strip_prefix(&folder).unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["a.bin", "b.txt", "sub/c.txt"].map(std::path::PathBuf::from)
    );

    for s in &got.stored {
        assert!(s.entry.new);
        let original = std::fs::read(&s.path).unwrap();
        assert_eq!(s.entry.item.sha256, sha256(&original));
        assert_eq!(s.entry.item.size, original.len() as u64);
        assert_eq!(read_blob(&env, &s.entry.item.sha256), original);
        let events = env.events(&s.entry.item);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Ingest);
        assert_eq!(events[0].actor, COLLECTOR);
        assert_eq!(events[0], s.entry.event);
        let sg = sighting(&events[0]);
        assert_eq!(
            sg.original_name,
            s.path.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(
            std::path::Path::new(&sg.original_path),
            std::path::absolute(&s.path).unwrap()
        );
        assert!(sg.file_mtime.is_some());
        assert_eq!(sg.tool_version, TOOL_VERSION);
        assert_eq!((&sg.case, &sg.source, &sg.note), (&None, &None, &None));
    }
    assert_eq!(
        got.stored[0].entry.item.media_type,
        "application/octet-stream"
    );
    assert_eq!(got.stored[1].entry.item.media_type, "text/plain");
    // Acknowledged means logged: every event is a leaf, and the archive verifies.
    assert_eq!(env.archive.catalog.items().unwrap().len(), 3);
    assert_eq!(env.log_size(), 3);
    assert!(env
        .archive
        .catalog
        .unlogged()
        .unwrap()
        .iter()
        .all(|&s| s <= 3));
    assert!(env.verify().ok);
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn known_bytes_are_recorded_as_sightings_not_new_items() {
    let mut env = Env::new();
    let content = b"the same synthetic bytes, collected twice\n";
    let first = env.ingest_one("first/original.txt", content);
    let again = env.file("second/renamed copy.txt", content);
    let opts = IngestOptions {
        source: Some("synthetic channel".into()),
        ..env.opts()
    };
    let got = env.ingest(&[again], &opts);
    assert_eq!(got.summary.stored, 1);
    assert_eq!(got.summary.new_items, 0);
    let entry = &got.stored[0].entry;
    assert!(!entry.new);
    assert_eq!(entry.item, first, "the same item, unchanged");
    assert_eq!(entry.event.kind, EventKind::Sighting);

    let events = env.events(&first);
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Ingest, EventKind::Sighting]
    );
    assert_eq!(sighting(&events[1]).original_name, "renamed copy.txt");
    assert_eq!(
        sighting(&events[1]).source.as_deref(),
        Some("synthetic channel")
    );
    assert_eq!(env.archive.catalog.items().unwrap().len(), 1);
    assert_eq!(env.archive.blobs.list().unwrap().blobs, [first.sha256]);
    assert!(env.verify().ok);
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn identical_files_in_one_run_make_one_item_and_a_sighting() {
    let mut env = Env::new();
    let a = env.file("dup/a.txt", b"duplicate synthetic bytes\n");
    env.file("dup/b.txt", b"duplicate synthetic bytes\n");
    env.file("dup/c.txt", b"other bytes\n");
    let opts = env.opts();
    let got = env.ingest(&[a.parent().unwrap().to_owned()], &opts);
    assert_eq!(got.summary.stored, 3);
    assert_eq!(got.summary.new_items, 2);
    let news: Vec<bool> = got.stored.iter().map(|s| s.entry.new).collect();
    assert_eq!(news, [true, false, true]);
    assert_eq!(got.stored[0].entry.item.id, got.stored[1].entry.item.id);
    assert_eq!(got.stored[1].entry.event.kind, EventKind::Sighting);
    assert_eq!(env.archive.catalog.items().unwrap().len(), 2);
    assert_eq!(env.archive.blobs.list().unwrap().blobs.len(), 2);
    assert_eq!(env.max_seq(), 3);
    assert_eq!(env.log_size(), 3);
    let report = env.verify();
    assert!(report.ok, "{:?}", report.problems);
}

#[test]
fn case_source_and_note_are_recorded_with_each_sighting() {
    let mut env = Env::new();
    let p = env.file("x/report.txt", b"synthetic report\n");
    let opts = IngestOptions {
        case: Some("case-alpha".into()),
        source: Some("synthetic source S-1".into()),
        note: Some("received on a synthetic USB stick".into()),
        ..env.opts()
    };
    let got = env.ingest(std::slice::from_ref(&p), &opts);
    let item = got.stored[0].entry.item.clone();
    let ev = &got.stored[0].entry.event;
    let sg = sighting(ev);
    assert_eq!(sg.case.as_deref(), Some("case-alpha"));
    assert_eq!(sg.source.as_deref(), Some("synthetic source S-1"));
    assert_eq!(
        sg.note.as_deref(),
        Some("received on a synthetic USB stick")
    );
    assert_eq!(sg.collector, COLLECTOR);
    let cat = &env.archive.catalog;
    assert_eq!(cat.cases_of(&item.id).unwrap(), ["case-alpha"]);
    assert!(cat.case_exists("case-alpha").unwrap());
    assert!(!cat.case_exists("case-beta").unwrap());
    assert_eq!(
        cat.case_items("case-alpha").unwrap(),
        std::slice::from_ref(&item)
    );

    // The same bytes seen again for another case: the item belongs to both.
    let opts_b = IngestOptions {
        case: Some("case-beta".into()),
        ..env.opts()
    };
    env.ingest(&[p], &opts_b);
    let mut cases = env.archive.catalog.cases_of(&item.id).unwrap();
    cases.sort();
    assert_eq!(cases, ["case-alpha", "case-beta"]);
    let events = env.events(&item);
    assert_eq!(sighting(&events[1]).case.as_deref(), Some("case-beta"));
    assert_eq!(sighting(&events[1]).source, None);
}

#[test]
fn per_file_failures_are_reported_and_the_batch_goes_on() {
    let mut env = Env::new();
    let good1 = env.file("mixed/1-good.txt", b"good one\n");
    env.file("mixed/3-good.txt", b"good two\n");
    let folder = good1.parent().unwrap().to_owned();
    std::os::unix::fs::symlink(folder.join("nowhere"), folder.join("2-dangling")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(folder.join("4-socket")).unwrap();
    let missing = env.path("src/not-there.txt");
    let opts = env.opts();
    let got = env.ingest(&[folder.clone(), missing.clone()], &opts);

    assert_eq!(got.summary.stored, 2);
    assert_eq!(got.summary.new_items, 2);
    assert_eq!(got.summary.failed, 3);
    assert_eq!(got.failed.len(), 3);
    let find = |name: &str| {
        got.failed
            .iter()
            .find(|f| f.path.ends_with(name))
            .unwrap_or_else(|| panic!("no failure for {name}: {:?}", got.failed))
    };
    assert!(find("2-dangling").message.contains("dangling"));
    assert!(find("4-socket").message.contains("only regular files"));
    assert!(find("not-there.txt").message.contains("no such file"));
    assert_eq!(env.archive.catalog.items().unwrap().len(), 2);
    assert!(env.verify().ok);
}

#[test]
fn a_commit_queues_the_jobs_of_new_collected_items_only() {
    let mut env = Env::new();
    let mut png = PNG_HEAD.to_vec();
    png.extend(bytes(7, 100));
    let image = env.ingest_one("img/picture.png", &png);
    let text = env.ingest_one("img/notes.txt", b"synthetic notes\n");
    assert_eq!(image.media_type, "image/png");
    let jobs = env.archive.catalog.jobs().unwrap();
    let mut got: Vec<(String, String)> = jobs
        .iter()
        .map(|j| (j.item.to_string(), j.kind.clone()))
        .collect();
    got.sort();
    let mut want = vec![
        (
            image.id.to_string(),
            athar_core::jobs::FINGERPRINT.to_owned(),
        ),
        (image.id.to_string(), athar_core::jobs::SHA512.to_owned()),
        (text.id.to_string(), athar_core::jobs::SHA512.to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(jobs.iter().all(|j| j.state == "queued"));

    // A sighting of bytes already held queues nothing.
    env.ingest_one("img/copy-of-picture.png", &png);
    assert_eq!(env.archive.catalog.jobs().unwrap().len(), 3);
}

#[test]
fn commit_staged_records_an_adopted_file_with_its_case_and_logs_it() {
    let mut env = Env::new();
    let content = b"synthetic upload bytes\n";
    // Staged on the blob store's filesystem, as uploads are.
    let staged = env.root().join("staged.part");
    std::fs::write(&staged, content).unwrap();
    let sha = sha256(content);
    let new = NewItem {
        sha256: sha,
        size: content.len() as u64,
        media_type: "text/plain".into(),
        derived: None,
        sighting: Sighting {
            original_name: "upload.txt".into(),
            original_path: "upload:test".into(),
            collector: "uploader-1".into(),
            case: Some("case-up".into()),
            tool_version: TOOL_VERSION.into(),
            ..Sighting::default()
        },
        at: String::new(),
    };
    let mut w = env.archive.writer().unwrap();
    let blob = w.blobs.adopt_local(&staged, sha, new.size).unwrap();
    let entry =
        ingest::commit_staged(w.catalog, w.blobs, &mut w.logger, blob, new.clone()).unwrap();
    drop(w);
    assert!(entry.new);
    assert_eq!(entry.event.kind, EventKind::Ingest);
    assert_eq!(entry.event.actor, "uploader-1");
    assert!(!entry.event.at.is_empty(), "the commit sets the time");
    assert_eq!(read_blob(&env, &sha), content);
    assert_eq!(
        env.archive.catalog.cases_of(&entry.item.id).unwrap(),
        ["case-up"]
    );
    assert_eq!(env.log_size(), 1);
    assert_eq!(env.archive.catalog.jobs().unwrap().len(), 1);
    assert!(env.verify().ok);

    // A staged blob that does not match the item it is recorded for is refused.
    let other = env.root().join("other.part");
    std::fs::write(&other, b"different bytes").unwrap();
    let mut w = env.archive.writer().unwrap();
    let blob = w
        .blobs
        .adopt_local(&other, sha256(b"different bytes"), 15)
        .unwrap();
    let err = ingest::commit_staged(w.catalog, w.blobs, &mut w.logger, blob, new).unwrap_err();
    drop(w);
    assert!(err.to_string().contains("does not match"), "{err}");
    assert_eq!(env.max_seq(), 1, "nothing recorded");
    assert!(env.verify().ok);
}

#[test]
fn recover_removes_temporary_files_left_before_the_pending_record() {
    let mut env = Env::new();
    // Crash after step 1: the bytes are in a temporary file, nothing in the catalog.
    let content = bytes(3, 2000);
    let mut writer = env.archive.blobs.writer(content.len() as u64).unwrap();
    writer.write_chunk(content.clone()).unwrap();
    let pending = writer.finish(sha256(&content)).unwrap();
    std::mem::forget(pending);
    assert!(!env.archive.blobs.contains(&sha256(&content)).unwrap());

    let (temporary, blobs) =
        ingest::recover(env.archive.catalog.as_mut(), env.archive.blobs.as_ref()).unwrap();
    assert_eq!((temporary, blobs), (1, 0));
    // Nothing left to clear.
    let again = ingest::recover(env.archive.catalog.as_mut(), env.archive.blobs.as_ref());
    assert_eq!(again.unwrap(), (0, 0));
    assert!(env.verify().ok);
}

#[test]
fn recover_removes_a_published_blob_whose_rows_never_committed() {
    let mut env = Env::new();
    let kept = env.ingest_one("k.txt", b"acknowledged bytes\n");
    // Crash after step 3: durable, recorded as pending, published, but no item row.
    let content = bytes(4, 3000);
    let sha = sha256(&content);
    let mut writer = env.archive.blobs.writer(content.len() as u64).unwrap();
    writer.write_chunk(content).unwrap();
    let mut pending = vec![writer.finish(sha).unwrap()];
    env.archive.blobs.sync(&mut pending).unwrap();
    env.archive.catalog.add_pending(&[sha]).unwrap();
    env.archive.blobs.publish(pending).unwrap();
    assert!(env.archive.blobs.contains(&sha).unwrap());
    assert_eq!(env.archive.catalog.pending().unwrap(), [sha]);
    // Before recovery, verify sees a blob without an item.
    assert_eq!(kinds(&env.verify().problems), [ProblemKind::Orphaned]);

    let (temporary, blobs) =
        ingest::recover(env.archive.catalog.as_mut(), env.archive.blobs.as_ref()).unwrap();
    assert_eq!((temporary, blobs), (0, 1));
    assert!(!env.archive.blobs.contains(&sha).unwrap());
    assert!(env.archive.blobs.contains(&kept.sha256).unwrap());
    assert!(env.archive.catalog.pending().unwrap().is_empty());
    let report = env.verify();
    assert!(report.ok, "{:?}", report.problems);
}

#[test]
fn recover_keeps_a_pending_blob_whose_item_was_recorded() {
    let mut env = Env::new();
    let item = env.ingest_one("k.txt", b"recorded bytes\n");
    // A pending record left for bytes the catalog holds as an item (a crash after step 4 of
    // a later sighting, say): the blob is acknowledged and must stay.
    env.archive.catalog.add_pending(&[item.sha256]).unwrap();
    let (temporary, blobs) =
        ingest::recover(env.archive.catalog.as_mut(), env.archive.blobs.as_ref()).unwrap();
    assert_eq!((temporary, blobs), (0, 0));
    assert!(env.archive.blobs.contains(&item.sha256).unwrap());
    assert!(env.archive.catalog.pending().unwrap().is_empty());
    assert!(env.verify().ok);
}

#[test]
fn events_left_unlogged_are_appended_by_archive_recover_and_the_next_ingest() {
    let mut env = Env::new();
    // A commit interrupted after its catalog transaction: the event is queued, not logged.
    env.record_unlogged("a.txt", b"first, its log append interrupted\n");
    assert_eq!(env.log_size(), 0);
    assert_eq!(env.archive.catalog.unlogged().unwrap(), [1]);
    assert_eq!(kinds(&env.verify_log().problems), [ProblemKind::Unlogged]);

    let recovered = env.archive.recover().unwrap();
    assert_eq!(recovered.logged, 1);
    assert_eq!(env.log_size(), 1);
    assert!(env.verify_log().problems.is_empty());

    // The next ingest appends what is queued before its own events.
    env.record_unlogged("b.txt", b"second, unlogged\n");
    let c = env.file("c.txt", b"third, logged\n");
    let opts = env.opts();
    let got = env.ingest(&[c], &opts);
    assert_eq!(got.stored[0].entry.event.seq, 3);
    assert_eq!(env.log_size(), 3);
    assert!(env.verify_log().problems.is_empty());
    assert!(env.verify().ok);
}

#[test]
fn an_empty_file_is_an_item_too() {
    let mut env = Env::new();
    let item = env.ingest_one("empty.dat", b"");
    assert_eq!(item.size, 0);
    assert_eq!(
        item.sha256.to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(item.media_type, "application/x-empty");
    assert!(read_blob(&env, &item.sha256).is_empty());
    assert!(env.verify().ok);
}
