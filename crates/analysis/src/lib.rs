//! Analysis of evidence files, above the storage traits and the media algorithms. Moved out
//! of the binary so that the CLI and the server run the same code:
//!
//! - [`MediaAnalyzer`]: the [`athar_core::jobs::Analyzer`] the background jobs run: PDQ for
//!   images, vPDQ and frame variants for videos, local features of images and of sampled
//!   video frames, metadata, review images.
//! - [`kinds`]: the fingerprint record kinds ([`Kind`]) and the versions stored beside them.
//!   When the frame variants' generation changes ([`kinds::VARIANTS_VERSION`]), the videos
//!   analysed before get a `variants` job that makes that record alone again; images and
//!   videos without a current `local` record (fingerprinted before the kind existed) get a
//!   [`LOCAL_JOB`] job likewise ([`MediaAnalyzer`] declares both as
//!   [`athar_core::jobs::Refreshable`]). Queued by `athar jobs --run` and once at each
//!   `athar serve` start (`athar jobs` counts those not queued yet).
//! - [`similarity`]: the long-lived similarity index over the archive's fingerprints
//!   ([`similarity::Similarity`]), kept in memory and cached in `index/similar.idx`, a derived
//!   cache that records the last catalog fingerprint change it covers. `athar similar` also
//!   lays the crop window grid over the query video's frames; `athar clusters` and the
//!   server's near-duplicates search stored hashes only, and read the [`links`].
//! - [`links`]: links made at ingest through local features (picture-in-picture, rotation,
//!   deep crops, screens), found when an item's `local` record is indexed and kept in
//!   `index/links.json`, with where one picture sits in the other. Items fingerprinted
//!   before the `local` kind existed get theirs when their [`LOCAL_JOB`] job has made the
//!   record: the catch-up links them as it links a newly ingested item.
//! - [`runner`]: the one job runner ([`runner::Runner`]) for `athar jobs --run`,
//!   `ingest --wait` and `athar serve`. It keeps the [`similarity::Similarity`] and brings it
//!   up to date after fingerprint jobs through whatever catalog connection it is handed (the
//!   server: a read-only one, without its archive mutex); the server's near-duplicates read
//!   that same index.
//!
//! Depends on `athar-core`, `athar-store` and `athar-media`. This crate must not parse
//! command lines, speak HTTP or print: the binary calls it, hands it to the server (which
//! does not link it) as `athar_server::Extensions`, and presents what it returns.

mod analyzer;
pub mod kinds;
pub mod links;
pub mod runner;
pub mod similarity;

pub use analyzer::{MediaAnalyzer, LOCAL_JOB, LOCAL_REFRESH, VARIANTS_REFRESH};
pub use kinds::Kind;

/// Analysis failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Store(#[from] athar_core::StoreError),
    #[error(transparent)]
    Core(#[from] athar_core::CoreError),
    #[error(transparent)]
    Archive(#[from] athar_store::ArchiveError),
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file given to be fingerprinted could not be.
    #[error("{}: {message}", path.display())]
    Media {
        path: std::path::PathBuf,
        message: String,
    },
    /// The similarity index could not be used.
    #[error("similarity index: {0}")]
    Index(String),
}
