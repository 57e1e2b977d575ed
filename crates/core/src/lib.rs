//! Athar's domain: the types an evidence archive is made of (items, their SHA-256,
//! custody events), the storage traits every backend implements ([`Catalog`],
//! [`BlobStore`]), and the services built only on those traits: ingest, verify and
//! retrieval.
//!
//! This crate must not name a concrete backend (SQLite, PostgreSQL, S3), an HTTP
//! framework or a CLI parser: the binary picks the backends and hands them in.

pub mod accounts;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod custody;
mod error;
pub mod handover;
pub mod ingest;
pub mod jobs;
pub mod log;
pub mod media_type;
mod model;
pub mod par;
pub mod records;
pub mod retrieve;
pub mod scope;
mod storage;
pub mod verify;

pub use error::{CoreError, StoreError};
pub use model::{
    Access, CaseName, CustodyEvent, Derived, EventDetails, EventKind, Export, Item, ItemId,
    NewItem, RecordChange, Sha256, Sighting, TOOL_VERSION,
};
pub use storage::{
    BlobListing, BlobStore, BlobWriter, Catalog, Database, EventRecord, Fingerprint, Job,
    LocalBlob, PendingBlob, ReceivedCustody, RecordedEntry,
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
