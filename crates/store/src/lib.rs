//! The embedded default backend: a SQLite catalog, a content-addressed blob store and the
//! custody log's files on the local filesystem, plus the on-disk [`Archive`] that holds them
//! (layout, `athar.toml`, keys, writer lock, recovery, staged uploads, the search index).
//!
//! Everything here implements the traits of `athar-core`; nothing here decides what an
//! ingest or a verification means, and nothing here knows HTTP, the command line or media
//! (it depends on `athar-core`, `athar-tlog`, and `athar-search` for the search index).
//! PostgreSQL and S3 will sit beside these, behind the same traits and the same conformance
//! suite (`crates/store/tests/conformance.rs` runs it on the embedded backends).
//!
//! # Choosing backends
//!
//! `[storage]` in `athar.toml` ([`StorageSection`]) names where each part lives:
//! `catalog = "sqlite:catalog.sqlite"`, `blobs = "file:blobs"`, `log = "file:log"` (the
//! defaults). [`Backends`] opens each as a trait object, and an [`Archive`] holds only those
//! (`Box<dyn Database>`, `Box<dyn BlobStore>`, `Box<dyn LogStore>`), so nothing above this
//! crate names a backend type. [`Backends`] also opens the extra read-only catalog
//! connections the server reads through.
//!
//! # The parts
//!
//! - [`SqliteCatalog`]: the catalog and the accounts ([`athar_core::Database`]) in one SQLite
//!   file: WAL, synchronous commits, embedded append-only migrations. It keeps the documentation
//!   records too (the current record, every value ever written by SHA-256, references between
//!   records; record keys name records within a case) and, in [`accounts`], users, roles, case
//!   memberships, sessions and expiring API tokens, stored only as hashes; a password reset or a
//!   disabled account ends every session and revokes every token.
//! - [`FsBlobStore`]: blobs under `sha256/ab/cd/<hex>`, read-only. Its
//!   [`athar_core::BlobWriter`] writes a temporary file under `tmp/` (files from 8 MiB on a
//!   separate thread, so writing overlaps reading and hashing); a batch is made durable with
//!   one `syncfs` (a few files: one `fsync` each) and published by rename.
//! - [`FsLogStore`]: `log/` in the C2SP tlog-tiles layout, with `signed-size` (the largest
//!   checkpoint ever signed), so an older checkpoint put back is refused and reported.
//! - [`search_index`]: brings `index/search` up to date with the custody event sequence. A
//!   records import ([`athar_core::records::prepare`], then
//!   [`athar_core::records::Prepared::write`]) feeds the batch's documents to the index writer
//!   on a second thread while the catalog writes it, and prepares the index commit (tantivy's
//!   two-phase commit); the commit happens only after the catalog and the log, and only if the
//!   batch's events are the only ones since the index's state, else the index catches up from
//!   the catalog.
//! - [`uploads`]: resumable uploads staged while their bytes arrive (below).
//!
//! # Uploads, durably
//!
//! An upload is staged on the blob store's filesystem: the bytes in `uploads/<id>.part`, its
//! state in `uploads/<id>.json` (owner, filename, case, declared length, durable offset). The
//! offset is written only after the bytes before it were synced, and loading an upload cuts
//! the part file back to it, so a crash never leaves unconfirmed bytes counted. A staged upload
//! is not an item: when the last byte is in, [`Archive::ingest_upload`] hard-links the part
//! file into the blob store's temporary folder and runs the ingest commit
//! ([`athar_core::ingest::commit_staged`]); only then is the outcome written to the sidecar and
//! the part file removed. A crash in between leaves the part file, and finishing again finds
//! the custody event already recorded (its sighting's path is `upload:<id>`) instead of
//! recording it twice. Uploads untouched for `[uploads] keep_days` (default 7) are removed by
//! [`Archive::recover`].

pub mod accounts;
mod archive;
pub mod backends;
mod blobs;
mod catalog;
pub mod disk;
pub mod doctor;
pub mod encrypt;
pub mod erase;
mod log;
pub mod migrate;
mod migrations;
mod records;
pub mod sealed;
pub mod search_index;
pub mod uploads;

pub use archive::{
    set_lock_wait, Access, Archive, ArchiveError, CaptureSection, CaseCaptureSection, Config,
    InitOptions, LockWait, Recovered, SimilarIndex, SimilarSection, TimestampSection, TsaConfig,
    Turn, WatchSchedule, Writer, CHECK_SOURCES_EVERY,
};
pub use backends::{Backends, StorageSection};
pub use blobs::FsBlobStore;
pub use catalog::SqliteCatalog;
pub use log::FsLogStore;
