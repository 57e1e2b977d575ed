//! The embedded default backend: a SQLite catalog and a content-addressed blob store on
//! the local filesystem, plus the on-disk archive that holds them (layout, configuration,
//! signing key, writer lock).
//!
//! Everything here implements the traits of `athar-core`; nothing here decides what an
//! ingest or a verification means. PostgreSQL and S3 will sit beside these, behind the
//! same traits.

pub mod accounts;
mod archive;
pub mod backends;
mod blobs;
mod catalog;
mod log;
mod migrations;
mod records;
pub mod search_index;
pub mod uploads;

pub use archive::{
    Access, Archive, ArchiveError, Config, InitOptions, Recovered, SimilarIndex, SimilarSection,
    TimestampSection, TsaConfig, Writer,
};
pub use backends::{Backends, StorageSection};
pub use blobs::FsBlobStore;
pub use catalog::SqliteCatalog;
pub use log::FsLogStore;
