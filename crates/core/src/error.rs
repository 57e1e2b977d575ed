//! Typed errors of the domain layer.

use std::path::PathBuf;

/// A storage backend failed. "Not found" is distinct from every other failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{what} is ambiguous: {count} matches")]
    Ambiguous { what: String, count: usize },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog: {0}")]
    Catalog(String),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A service failed as a whole (per-file problems are reported, not returned).
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    #[error("blob {sha256} does not match its name: the stored bytes were altered")]
    Altered { sha256: String },
    #[error("item {item}: its stored bytes no longer match its SHA-256 {sha256} ({detail}); nothing was exported")]
    ItemAltered {
        item: String,
        sha256: String,
        detail: String,
    },
    #[error("random number generator failed: {0}")]
    Random(String),
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
}
