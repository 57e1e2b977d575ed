//! Crash tests that lose what was never synced. The blob and log stores run on a simulated
//! disk (`athar_store::disk::Disk::simulated`) that stops answering after operation `n` and
//! is then put back to what was durable — files never synced lose their bytes, names never
//! synced are undone — for every `n` through an ingest, an upload's last step
//! (`adopt_local` + `commit_staged`) and a custody log batch. A process kill cannot show a
//! missing or misplaced sync (the page cache survives it); this does. SQLite's own
//! durability is trusted: the catalog is left as committed.
//!
//! After each crash the archive is reopened and recovered as `Archive::recover` does; every
//! file (or event) acknowledged before the crash must be there with its bytes, and the
//! store, catalog and custody log checks must be clean. Synthetic data only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::{Path, PathBuf};

use athar_core::ingest::{self, IngestOptions, Progress};
use athar_core::log::{CustodyLog, Logger};
use athar_core::{Access, BlobStore, Catalog, EventDetails, EventKind, NewItem, Sha256, Sighting};
use athar_store::disk::Disk;
use athar_store::{FsBlobStore, FsLogStore, SqliteCatalog};
use athar_tlog::Ed25519Signer;

const COLLECTOR: &str = "Investigator Crash-Test";
const SECRET: &[u8] = b"synthetic pseudonym secret for crash tests";

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed("crash.test/log", &[7; 32]).unwrap()
}

fn sha256(bytes: &[u8]) -> Sha256 {
    use sha2::Digest as _;
    Sha256(sha2::Sha256::digest(bytes).into())
}

/// Synthetic bytes, different for each seed.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed.wrapping_mul(97))
                ^ seed
        })
        .collect()
}

/// An archive's three stores in a temporary folder, and source files beside them.
struct Place {
    dir: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        let p = Place {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(p.src()).unwrap();
        std::fs::create_dir_all(p.root()).unwrap();
        p
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("archive")
    }
    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }
    fn blobs_dir(&self) -> PathBuf {
        self.root().join("blobs")
    }
    fn log_dir(&self) -> PathBuf {
        self.root().join("log")
    }
    fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.src().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn open(&self, disk: &Disk) -> Stores {
        Stores {
            catalog: SqliteCatalog::open(&self.root().join("catalog.db"), true).unwrap(),
            blobs: FsBlobStore::open_on(&self.blobs_dir(), disk.clone()).unwrap(),
            log: FsLogStore::open_on(&self.log_dir(), disk.clone()).unwrap(),
        }
    }
    /// Copies this place (closed stores) to a new one.
    fn copy(&self) -> Place {
        let to = Place {
            dir: tempfile::tempdir().unwrap(),
        };
        copy_tree(self.dir.path(), to.dir.path());
        to
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

struct Stores {
    catalog: SqliteCatalog,
    blobs: FsBlobStore,
    log: FsLogStore,
}

/// The logger over a log store; `None` when the log does not open (after a simulated crash).
fn logger(log: &FsLogStore) -> Option<Logger<'_>> {
    CustodyLog::open(log, signer()).ok().map(|log| Logger {
        log,
        secret: SECRET.to_vec(),
    })
}

fn opts() -> IngestOptions {
    IngestOptions {
        collector: COLLECTOR.to_owned(),
        // One reader: the operations come in nearly the same order every run.
        threads: 1,
        ..IngestOptions::default()
    }
}

/// Ingests `paths`; returns the digests acknowledged (reported stored) and whether the run
/// ended without an error.
fn ingest_acknowledged(
    catalog: &mut SqliteCatalog,
    blobs: &FsBlobStore,
    logger: &mut Logger<'_>,
    paths: &[PathBuf],
) -> (Vec<Sha256>, bool) {
    let mut acked = Vec::new();
    let result = ingest::ingest(catalog, blobs, logger, paths, &opts(), &mut |p| {
        if let Progress::Stored(s) = p {
            acked.push(s.entry.item.sha256);
        }
    });
    (acked, result.is_ok())
}

/// What a scenario did before the crash: digests acknowledged, with their bytes, and custody
/// events acknowledged.
#[derive(Default)]
struct Acknowledged {
    blobs: Vec<(Sha256, Vec<u8>)>,
    events: Vec<u64>,
}

/// Reopens after the crash, recovers as `Archive::recover` does, and checks that everything
/// acknowledged is there and that verification is clean.
fn recover_and_check(place: &Place, acked: &Acknowledged, n: u64, trace: &[String]) {
    let ctx = || {
        format!(
            "crash after {n} operations (last: {:?})",
            trace.last().map(String::as_str).unwrap_or("none")
        )
    };
    let mut s = place.open(&Disk::real());
    ingest::recover(&mut s.catalog, &s.blobs).unwrap_or_else(|e| panic!("{}: recover: {e}", ctx()));
    {
        let Stores { catalog, log, .. } = &mut s;
        let mut logger = Logger {
            log: CustodyLog::open(log, signer())
                .unwrap_or_else(|e| panic!("{}: custody log does not open: {e}", ctx())),
            secret: SECRET.to_vec(),
        };
        if !catalog.unlogged().unwrap().is_empty() {
            logger
                .catch_up(catalog)
                .unwrap_or_else(|e| panic!("{}: log catch-up: {e}", ctx()));
            catalog.mark_logged(logger.log.size()).unwrap();
        }
    }
    for (sha, want) in &acked.blobs {
        assert!(
            s.catalog.item_by_sha(sha).unwrap().is_some(),
            "{}: acknowledged item {sha} is not in the catalog",
            ctx()
        );
        let mut got = Vec::new();
        s.blobs
            .open(sha)
            .unwrap_or_else(|e| panic!("{}: acknowledged blob {sha}: {e}", ctx()))
            .read_to_end(&mut got)
            .unwrap();
        assert!(
            &got == want,
            "{}: acknowledged blob {sha} lost its bytes",
            ctx()
        );
    }
    let (index, _) = s.catalog.event_index().unwrap();
    for seq in &acked.events {
        assert!(
            index.iter().any(|(q, _)| q == seq),
            "{}: acknowledged custody event #{seq} is gone",
            ctx()
        );
    }
    let report = athar_core::verify::verify(&s.catalog, &s.blobs, 1, &|_| {}).unwrap();
    assert!(
        report.ok && report.problems.is_empty(),
        "{}: verify: {:?}",
        ctx(),
        report.problems
    );
    let log_report = athar_core::verify::verify_log(
        &s.catalog,
        &s.log,
        &signer().verifier(),
        SECRET,
        &|_, _, f| Err(format!("{f}: no time-stamp token expected")),
    )
    .unwrap();
    assert!(
        log_report.problems.is_empty(),
        "{}: custody log: {:?}",
        ctx(),
        log_report.problems
    );
    assert!(
        log_report.size >= acked.events.iter().copied().max().unwrap_or(0),
        "{}: the signed log does not cover every acknowledged event",
        ctx()
    );
    // The archive still takes files after recovery.
    let extra = place.file("after/extra.bin", &bytes(200, 333));
    let mut logger = logger(&s.log).unwrap();
    let (ok, done) = ingest_acknowledged(&mut s.catalog, &s.blobs, &mut logger, &[extra]);
    assert!(done && ok.len() == 1, "{}: ingest after recovery", ctx());
}

/// Runs `scenario` on a fresh copy of `template` once without a crash (to count the
/// operations), then once per crash point; returns the number of crash points tried.
fn every_crash_point(
    template: &Place,
    scenario: impl Fn(&Place, &mut Stores) -> Acknowledged,
) -> u64 {
    let total = {
        let place = template.copy();
        let disk = Disk::simulated();
        let mut s = place.open(&disk);
        sync_all(&place);
        disk.arm(&[&place.blobs_dir(), &place.log_dir()]).unwrap();
        let acked = scenario(&place, &mut s);
        assert!(!acked.blobs.is_empty() || !acked.events.is_empty());
        let total = disk.ops();
        drop(s);
        disk.reset_to_durable().unwrap();
        // Everything was acknowledged, so everything must have been durable.
        recover_and_check(&place, &acked, total, &disk.trace());
        total
    };
    assert!(total > 5, "only {total} operations counted");
    for n in 0..total {
        let place = template.copy();
        let disk = Disk::simulated();
        let mut s = place.open(&disk);
        sync_all(&place);
        disk.arm(&[&place.blobs_dir(), &place.log_dir()]).unwrap();
        disk.crash_after(n);
        let acked = scenario(&place, &mut s);
        let trace = disk.trace();
        drop(s);
        disk.reset_to_durable().unwrap();
        recover_and_check(&place, &acked, n, &trace);
    }
    total
}

fn sync_all(place: &Place) {
    let f = std::fs::File::open(place.root()).unwrap();
    rustix::fs::syncfs(&f).unwrap();
}

/// An archive with a few items already (so sightings and a partly filled log tile occur).
fn template() -> Place {
    let place = Place::new();
    let first = place.file("first/old-1.bin", &bytes(1, 1000));
    place.file("first/old-2.bin", &bytes(2, 2000));
    let mut s = place.open(&Disk::real());
    let mut logger = logger(&s.log).unwrap();
    let (acked, ok) = ingest_acknowledged(
        &mut s.catalog,
        &s.blobs,
        &mut logger,
        &[first.parent().unwrap().to_owned()],
    );
    assert!(ok && acked.len() == 2);
    drop(logger);
    drop(s);
    place
}

#[test]
fn ingest_survives_a_crash_at_every_operation() {
    let template = template();
    // Two runs: three new files (one twice), then a sighting of an old one and a new one.
    let a = [
        template.file("batch-a/n1.bin", &bytes(10, 5000)),
        template.file("batch-a/n2.txt", b"synthetic statement, crash test\n"),
        template.file("batch-a/n3.bin", &bytes(10, 5000)),
        template.file("batch-a/n4.bin", &bytes(11, 70_000)),
    ];
    let b = [
        template.file("batch-b/again-old-1.bin", &bytes(1, 1000)),
        template.file("batch-b/n5.bin", &bytes(12, 100)),
    ];
    let points = every_crash_point(&template, |place, s| {
        let mut acked = Acknowledged::default();
        for batch in [&a[..], &b[..]] {
            let paths: Vec<PathBuf> = batch
                .iter()
                .map(|p| place.src().join(p.strip_prefix(template.src()).unwrap()))
                .collect();
            let Some(mut logger) = logger(&s.log) else {
                break;
            };
            let (shas, ok) = ingest_acknowledged(&mut s.catalog, &s.blobs, &mut logger, &paths);
            for sha in shas {
                let p = paths
                    .iter()
                    .find(|p| sha256(&std::fs::read(p).unwrap()) == sha)
                    .unwrap();
                acked.blobs.push((sha, std::fs::read(p).unwrap()));
            }
            if !ok {
                break;
            }
        }
        acked
    });
    eprintln!("ingest: {points} crash points");
}

#[test]
fn an_upload_commit_survives_a_crash_at_every_operation() {
    let template = template();
    let content = bytes(40, 12_345);
    let sha = sha256(&content);
    // The staged upload: on the blob store's filesystem, already durable (uploads.rs syncs
    // it before it counts as received).
    let staged = template.root().join("uploads").join("u1.part");
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::write(&staged, &content).unwrap();
    let points = every_crash_point(&template, |place, s| {
        let mut acked = Acknowledged::default();
        let part = place.root().join("uploads").join("u1.part");
        let Some(mut logger) = logger(&s.log) else {
            return acked;
        };
        let Ok(blob) = s.blobs.adopt_local(&part, sha, content.len() as u64) else {
            return acked;
        };
        let item = NewItem {
            sha256: sha,
            size: content.len() as u64,
            media_type: "application/octet-stream".to_owned(),
            derived: None,
            sighting: Sighting {
                original_name: "upload.bin".to_owned(),
                original_path: "upload:u1".to_owned(),
                collector: COLLECTOR.to_owned(),
                tool_version: athar_core::TOOL_VERSION.to_owned(),
                ..Sighting::default()
            },
            at: String::new(),
        };
        if let Ok(r) = ingest::commit_staged(&mut s.catalog, &s.blobs, &mut logger, blob, item) {
            acked.blobs.push((r.item.sha256, content.clone()));
            acked.events.push(r.event.seq);
        }
        acked
    });
    eprintln!("upload commit: {points} crash points");
}

#[test]
fn a_custody_log_batch_survives_a_crash_at_every_operation() {
    let template = template();
    // Fill the log near a tile's end (256 entries), so the batch completes a tile and
    // starts the next one.
    {
        let mut s = template.open(&Disk::real());
        let item = s.catalog.items().unwrap()[0].clone();
        let mut logger = logger(&s.log).unwrap();
        for _ in 0..250 {
            s.catalog
                .record_event(
                    &item.id,
                    EventKind::Access,
                    COLLECTOR,
                    &access(),
                    logger.log.size(),
                )
                .unwrap();
        }
        logger.catch_up(&mut s.catalog).unwrap();
        s.catalog.mark_logged(logger.log.size()).unwrap();
        assert_eq!(logger.log.size(), 252);
    }
    let points = every_crash_point(&template, |_place, s| {
        let mut acked = Acknowledged::default();
        let item = s.catalog.items().unwrap()[1].clone();
        let Some(mut logger) = logger(&s.log) else {
            return acked;
        };
        // One batch of eight events (one log append, one checkpoint), then one more alone.
        let mut batch = Vec::new();
        for _ in 0..8 {
            let e = s
                .catalog
                .record_event(
                    &item.id,
                    EventKind::Access,
                    COLLECTOR,
                    &access(),
                    logger.log.size(),
                )
                .unwrap();
            batch.push(e.seq);
        }
        if logger.catch_up(&mut s.catalog).is_err() {
            return acked;
        }
        acked.events.extend(batch);
        if let Ok(e) = logger.record(
            &mut s.catalog,
            &item.id,
            EventKind::Access,
            COLLECTOR,
            &access(),
        ) {
            acked.events.push(e.seq);
        }
        acked
    });
    eprintln!("log batch: {points} crash points");
}

fn access() -> EventDetails {
    EventDetails::Access(Access {
        via: "crash test".to_owned(),
        tool_version: athar_core::TOOL_VERSION.to_owned(),
        ..Access::default()
    })
}

/// `write_new` (time-stamp tokens: `timestamps/<size>/…`) makes every folder it creates
/// durable in its parent: once it returns, the file survives a crash.
#[test]
fn a_new_log_file_in_new_folders_survives_a_crash_at_every_operation() {
    use athar_core::log::LogStore as _;
    let template = template();
    let mut points = 0;
    for n in 0.. {
        let place = template.copy();
        let disk = Disk::simulated();
        let log = FsLogStore::open_on(&place.log_dir(), disk.clone()).unwrap();
        sync_all(&place);
        disk.arm(&[&place.log_dir()]).unwrap();
        disk.crash_after(n);
        let written = log
            .write_new("timestamps/7/token.tsr", b"synthetic token")
            .is_ok();
        let crashed = disk.crashed();
        drop(log);
        disk.reset_to_durable().unwrap();
        let got = std::fs::read(place.log_dir().join("timestamps/7/token.tsr")).ok();
        if written {
            assert_eq!(
                got.as_deref(),
                Some(&b"synthetic token"[..]),
                "crash after {n} operations: a written file was lost"
            );
        }
        if !crashed {
            break;
        }
        points += 1;
    }
    assert!(points >= 5);
    eprintln!("write_new: {points} crash points");
}
