//! Background jobs: fingerprints (and, as they come, metadata and review images) for
//! images and videos. Jobs live in the catalog, so they survive restarts; a job left
//! running by a process that died is queued again; a failing job is retried, then recorded
//! as failed with its error — the item itself stays preserved either way.

use std::path::Path;

use crate::error::CoreError;
use crate::model::Item;
use crate::storage::{BlobStore, Catalog, Fingerprint, Job};

/// Attempts before a job is recorded as failed.
pub const MAX_ATTEMPTS: u32 = 2;

/// The job kind that computes fingerprints.
pub const FINGERPRINT: &str = "fingerprint";

/// Computes fingerprints of an item's bytes at `path`.
pub trait Analyzer {
    /// The fingerprints, or why there are none.
    fn fingerprints(&self, item: &Item, path: &Path) -> Result<Vec<Fingerprint>, String>;
}

/// Whether items of this media type get fingerprints.
pub fn wants_fingerprints(media_type: &str) -> bool {
    media_type.starts_with("image/") || media_type.starts_with("video/")
}

/// Queues fingerprint jobs for the images and videos among `items`.
pub fn enqueue_for(catalog: &mut dyn Catalog, items: &[Item]) -> Result<usize, CoreError> {
    let jobs: Vec<_> = items
        .iter()
        .filter(|i| wants_fingerprints(&i.media_type))
        .map(|i| (i.id.clone(), FINGERPRINT.to_owned()))
        .collect();
    catalog.enqueue_jobs(&jobs)?;
    Ok(jobs.len())
}

/// What a run of the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub done: u64,
    pub failed: u64,
    pub retried: u64,
}

/// Runs queued jobs until none is left.
pub fn run(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    analyzer: &dyn Analyzer,
    progress: &mut dyn FnMut(&Job, Result<usize, &str>),
) -> Result<RunSummary, CoreError> {
    let mut summary = RunSummary::default();
    while let Some(job) = catalog.claim_job(MAX_ATTEMPTS)? {
        let item = catalog.resolve(job.item.as_str())?;
        let outcome = match blobs.local_path(&item.sha256) {
            Some(path) => analyzer.fingerprints(&item, &path),
            None => Err("the blob store cannot hand this blob to a decoder".to_owned()),
        };
        match &outcome {
            Ok(prints) => {
                catalog.finish_job(&job, Ok(prints), MAX_ATTEMPTS)?;
                summary.done += 1;
                progress(&job, Ok(prints.len()));
            }
            Err(e) => {
                catalog.finish_job(&job, Err(e), MAX_ATTEMPTS)?;
                if job.attempts >= MAX_ATTEMPTS {
                    summary.failed += 1;
                } else {
                    summary.retried += 1;
                }
                progress(&job, Err(e));
            }
        }
    }
    Ok(summary)
}
