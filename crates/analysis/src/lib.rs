//! Analysis of evidence files, above the storage traits and the media algorithms: the
//! analyzer the background jobs run ([`MediaAnalyzer`]), the kinds of fingerprint records
//! and their versions ([`kinds`]), the similarity index over the archive's fingerprints
//! ([`similarity`]), and the one job runner the CLI and the server share ([`runner`]).
//!
//! This crate must not parse command lines, speak HTTP or print: the binary and the server
//! call it and present what it returns.

mod analyzer;
pub mod kinds;
pub mod runner;
pub mod similarity;

pub use analyzer::MediaAnalyzer;
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
