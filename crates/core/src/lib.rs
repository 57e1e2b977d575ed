//! Athar's domain: the types an evidence archive is made of ([`Item`] and its [`Sha256`],
//! [`CustodyEvent`], [`Sighting`]…), the storage traits every backend implements, and the
//! services built only on those traits.
//!
//! This crate must not name a concrete backend (SQLite, PostgreSQL, S3), an HTTP framework, a
//! CLI parser or a media decoder. Backends are opened as trait objects outside it (by
//! `athar-store`, from `[storage]` in `athar.toml`) and handed in; the media analysis comes in
//! through [`jobs::Analyzer`]. It depends only on `athar-tlog` and `athar-bagit`.
//!
//! # Storage traits
//!
//! [`Catalog`] and [`accounts::Accounts`] (together a [`Database`]; the embedded backend keeps
//! both in one SQLite file), [`BlobStore`] with its [`BlobWriter`], and [`log::LogStore`]. Each
//! trait's documentation is its contract; the `conformance` module (feature `conformance`)
//! checks every one of them against any implementation, and each backend's tests run it.
//!
//! # Services
//!
//! - [`ingest`]: walk, read once, hash while storing, commit in batches, recover (below);
//!   [`ingest::commit_staged`] commits files staged elsewhere (uploads) by the same steps.
//! - [`custody`]: the log entry of a custody event (v1: digests in clear; v2, every new
//!   event: salted commitments, the salt kept in the catalog); [`custody_proof`]: one
//!   event's proof as handed out, with a v2 entry's opening (salt); [`log`]: the custody log
//!   ([`log::CustodyLog`]: append, checkpoint, proofs) and [`log::Logger`], which appends the
//!   events the catalog has queued for it. After a batch write it makes their entries from the
//!   events the catalog returned when those are exactly what is queued beyond the log
//!   ([`log::Logger::catch_up_with`]), else it reads the queue back ([`log::Logger::catch_up`]).
//! - [`verify`]: every blob re-hashed, catalog, store and log checked against each other;
//!   [`retrieve`]: an item's bytes, re-verified.
//! - [`handover`]: BagIt export with proofs, the standalone [`handover::verify_bag`], and
//!   [`handover::import_bag`].
//! - [`jobs`]: the background queue, held in the catalog. A job is claimed in a short
//!   transaction, analysed with no catalog, log or blob store held (the bytes come through the
//!   [`BlobStore`]: a local path where it has one, else a temporary copy), then committed in a
//!   short step: derived items and their custody events through the logger, records and job
//!   state in one transaction, a derived file an earlier attempt already recorded not stored
//!   again. A job claimed and never committed is queued again by the next claim; a failure is
//!   retried, then recorded as failed; a job whose item is gone fails at once, one whose item
//!   changed is retried. [`jobs::enqueue_stale_records`] queues, for each record an analyzer
//!   declares it can make alone ([`jobs::Refreshable`]: frame variants, local features), a
//!   job for each item whose record is missing or of another version than the analyzer's.
//! - [`records`]: the documentation model: typed bodies per kind, [`records::DateValue`]
//!   intervals, canonical JSON and value hashes, [`records::parse_line`] (shared by the CLI,
//!   imports and the API), and [`records::apply`] (resolve references, check a batch, write it
//!   with one custody event per change; [`records::prepare`] first when a derived index is to be
//!   built while it is written).
//! - [`scope`]: who sees what. The server, a case's hand-over and record writes by non-admins
//!   ([`records::Restriction`]) all filter through it; [`scope::may_read_protected`] guards
//!   protected fields.
//! - [`media_type`] (from content, never the name) and [`par`] (an in-order parallel map for
//!   bulk imports).
//!
//! # Ingest, durably
//!
//! Files are walked first (sorted by name, symbolic links followed, directory loops cut), then
//! read by one worker per core: each file once, in 1 MiB chunks, each chunk hashed and handed
//! to a [`BlobWriter`]. A file whose size or modification time changed while it was read is
//! refused. A committer takes the results in walk order and commits them in batches (bounded
//! by files and bytes, and cut whenever input pauses) through the steps listed in [`ingest`]:
//! blobs synced, marked pending and published; rows in one transaction; the log appended;
//! jobs queued. Only then is a file acknowledged.
//!
//! After a crash, [`ingest::recover`] (run by every writing command) deletes temporary files
//! and any published blob still pending without an item, since those were never acknowledged;
//! the logger then appends events still queued. Anything else out of place is reported by
//! [`verify`], never silently repaired.

pub mod accounts;
pub mod capture;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod custody;
pub mod custody_proof;
mod error;
pub mod handover;
pub mod ingest;
pub mod jobs;
pub mod label;
pub mod log;
pub mod media_type;
mod model;
pub mod par;
pub mod persons;
pub mod records;
pub mod retrieve;
pub mod scope;
mod storage;
pub mod verify;

pub use error::{CoreError, StoreError};
pub use model::{
    Access, CaseName, CustodyEvent, Derived, Erasure, EventDetails, EventKind, Export, Item,
    ItemId, NewItem, RecordChange, Sha256, Sighting, TOOL_VERSION,
};
pub use storage::{
    job_lease, new_claim, unix_millis, BlobListing, BlobStore, BlobWriter, CaseHoldings, Catalog,
    Database, ErasedSubject, EventRecord, Fingerprint, Job, LocalBlob, PendingBlob,
    ReceivedCustody, RecordToVerify, RecordedEntry, JOB_LEASE,
};

/// Current UTC time, truncated to microseconds, as RFC 3339.
pub fn now_rfc3339() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// Formats a time as RFC 3339 in UTC with microsecond precision.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}
