//! Helpers shared by the service-level tests: an embedded archive (SQLite catalog,
//! filesystem blobs and log) in a temporary folder, and the services of `athar_core` called
//! on it directly, never through the `athar` binary. Synthetic data only.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use athar_core::ingest::{self, FileError, IngestOptions, IngestSummary, Progress, Stored};
use athar_core::verify::{self, LogReport, ProblemKind, Report};
use athar_core::{CustodyEvent, Item, NewItem, Sighting, TOOL_VERSION};
use athar_store::{Archive, InitOptions};

/// Who is recorded as collecting in these tests (a synthetic name).
pub const COLLECTOR: &str = "Investigator Test-A";

/// A temporary folder holding one archive (`archive/`) and source files (`src/`).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub archive: Archive,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// What one ingest run reported.
#[derive(Debug, Default)]
pub struct Ingested {
    pub summary: IngestSummary,
    pub stored: Vec<Stored>,
    pub failed: Vec<FileError>,
    /// `(files, bytes)` of the `Planned` report.
    pub planned: Option<(usize, u64)>,
}

impl Env {
    /// A fresh archive named `name` under a new temporary folder.
    pub fn new() -> Env {
        Env::named("test-archive")
    }

    pub fn named(name: &str) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let archive = Archive::init(
            &dir.path().join("archive"),
            &InitOptions {
                name: Some(name.to_owned()),
                collector: Some(COLLECTOR.to_owned()),
                ..InitOptions::default()
            },
        )
        .expect("init archive");
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        Env { dir, archive }
    }

    /// A path under the temporary folder (not in the archive).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a source file under `src/` and returns its path.
    pub fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join("src").join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Ingest options with the test collector and nothing else.
    pub fn opts(&self) -> IngestOptions {
        IngestOptions {
            collector: COLLECTOR.to_owned(),
            threads: 2,
            ..IngestOptions::default()
        }
    }

    /// Runs the ingest service with the archive's logger.
    pub fn ingest(&mut self, paths: &[PathBuf], opts: &IngestOptions) -> Ingested {
        let mut out = Ingested::default();
        let mut w = self.archive.writer().expect("writer");
        let summary =
            ingest::ingest(
                w.catalog,
                w.blobs,
                &mut w.logger,
                paths,
                opts,
                &mut |p| match p {
                    Progress::Planned { files, bytes } => out.planned = Some((files, bytes)),
                    Progress::Stored(s) => out.stored.push(s.clone()),
                    Progress::Failed(e) => out.failed.push(e.clone()),
                    Progress::Read { .. } => {}
                },
            )
            .expect("ingest");
        out.summary = summary;
        out
    }

    /// Records `content` as a collected file the way ingest's commit does up to its step
    /// 4 (bytes durable, pending record, published, item and event rows with the event
    /// queued for the log) and stops there, as a crash before the log append would: the
    /// event is in the catalog, queued, and not in the custody log.
    pub fn record_unlogged(&mut self, name: &str, content: &[u8]) -> Item {
        let sha = sha256(content);
        let logged = self.log_size();
        let blobs = self.archive.blobs.as_ref();
        let mut writer = blobs.writer(content.len() as u64).unwrap();
        writer.write_chunk(content.to_vec()).unwrap();
        let mut pending = vec![writer.finish(sha).unwrap()];
        blobs.sync(&mut pending).unwrap();
        self.archive.catalog.add_pending(&[sha]).unwrap();
        blobs.publish(pending).unwrap();
        let new = NewItem {
            sha256: sha,
            size: content.len() as u64,
            media_type: "text/plain".into(),
            derived: None,
            sighting: Sighting {
                original_name: name.into(),
                original_path: format!("/synthetic/{name}"),
                collector: COLLECTOR.into(),
                tool_version: TOOL_VERSION.into(),
                ..Sighting::default()
            },
            at: athar_core::now_rfc3339(),
        };
        let recorded = self.archive.catalog.record(&[new], None, logged).unwrap();
        recorded[0].item.clone()
    }

    /// Ingests one file with default options and returns its item.
    pub fn ingest_one(&mut self, rel: &str, bytes: &[u8]) -> Item {
        let p = self.file(rel, bytes);
        let opts = self.opts();
        let got = self.ingest(&[p], &opts);
        assert_eq!(got.stored.len(), 1, "{:?}", got.failed);
        got.stored[0].entry.item.clone()
    }

    /// The blob, catalog and event check.
    pub fn verify(&self) -> Report {
        verify::verify(
            self.archive.catalog.as_ref(),
            self.archive.blobs.as_ref(),
            2,
            &|_| {},
        )
        .expect("verify")
    }

    /// The custody log check.
    pub fn verify_log(&self) -> LogReport {
        verify::verify_log(
            self.archive.catalog.as_ref(),
            self.archive.log.as_ref(),
            &self.archive.verifier(),
            &self.archive.pseudonym_secret,
            &no_tokens,
        )
        .expect("verify log")
    }

    /// An item's custody events.
    pub fn events(&self, item: &Item) -> Vec<CustodyEvent> {
        self.archive.catalog.events(&item.id).unwrap()
    }

    /// The custody log's size as signed now.
    pub fn log_size(&self) -> u64 {
        self.archive.custody_log().unwrap().size()
    }

    /// The highest custody event number issued.
    pub fn max_seq(&self) -> u64 {
        self.archive.catalog.event_index().unwrap().1
    }

    /// Where the archive's files are.
    pub fn root(&self) -> &Path {
        &self.archive.root
    }

    /// The stored blob file of `item`.
    pub fn blob_path(&self, item: &Item) -> PathBuf {
        let hex = item.sha256.to_hex();
        self.root().join("blobs/sha256").join(&hex[..2]).join(hex)
    }

    /// Runs SQL on the catalog behind the archive's back (to simulate tampering).
    pub fn sql(&self, sql: &str) {
        let db = rusqlite::Connection::open(self.root().join("catalog.sqlite")).unwrap();
        db.execute_batch(sql).unwrap();
    }
}

/// The token check for archives with no time-stamps: any token is a failure.
pub fn no_tokens(_token: &[u8], _digest: &[u8; 32], file: &str) -> Result<String, String> {
    Err(format!("{file}: no time-stamp token was expected"))
}

/// Rewrites a (possibly read-only) file through `change`.
pub fn tamper(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    change(&mut bytes);
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(path, &bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Flips the lowest bit of the byte at `at`.
pub fn flip_byte(path: &Path, at: usize) {
    tamper(path, |b| b[at] ^= 1);
}

/// The kinds of the problems found, in order.
pub fn kinds(problems: &[verify::Problem]) -> Vec<ProblemKind> {
    problems.iter().map(|p| p.kind).collect()
}

/// The SHA-256 of bytes.
pub fn sha256(bytes: &[u8]) -> athar_core::Sha256 {
    use sha2::Digest;
    athar_core::Sha256(sha2::Sha256::digest(bytes).into())
}

/// Synthetic bytes: `n` bytes from a seed (distinct seeds give distinct contents).
pub fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A minimal PNG header: enough for the media type (an image gets fingerprint jobs).
pub const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
