//! Background jobs: fingerprints, metadata and review images for images and videos, and
//! for every collected item its SHA-512 (which hand-over bags list beside the SHA-256, so
//! an export need not compute it). Jobs live in the catalog, so they survive restarts; a job left
//! running by a process that died is queued again; a failing job is retried, then recorded
//! as failed with its error — the item itself stays preserved either way.
//!
//! When an item's stored frame variants (the analyzer's own extra hashes of a video's
//! frames) are of another version than the analyzer makes, or it was analysed before any, a
//! [`VARIANTS`] job makes only that record again ([`enqueue_stale_variants`]): the reference
//! hashes and the review images stay as they are.

use std::path::Path;

use sha2::Digest;

use crate::error::CoreError;
use crate::log::Logger;
use crate::model::{Derived, Item, ItemId, NewItem, Sha256, Sighting, TOOL_VERSION};
use crate::storage::{BlobStore, Catalog, Fingerprint, Job, RecordedEntry};

/// Attempts before a job is recorded as failed.
pub const MAX_ATTEMPTS: u32 = 2;

/// The job kind that computes fingerprints.
pub const FINGERPRINT: &str = "fingerprint";

/// The job kind that computes an item's SHA-512 (checking its SHA-256 in the same read) and
/// records it in the catalog.
pub const SHA512: &str = "sha512";

/// The job kind that makes an item's frame variants record again, and nothing else, when
/// the stored one is missing or was made by another version ([`enqueue_stale_variants`]).
pub const VARIANTS: &str = "variants";

/// A fingerprint record that an analyzer can make on its own, again, for items analysed by
/// an earlier build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshable {
    /// The record an item must hold for this one to be made (e.g. the reference frame
    /// hashes `vpdq`: the item was analysed as a video).
    pub with: &'static str,
    /// The record's algorithm name (e.g. `vpdq-variants`).
    pub algorithm: &'static str,
    /// What the version of every record this analyzer makes contains (its generation,
    /// e.g. `(variants 4:`); a stored record whose version does not is out of date. The
    /// release is not part of it: a new release with the same generation makes nothing
    /// again.
    pub generation: &'static str,
}

/// A file Athar made from an item, to be stored as a derived item.
#[derive(Debug, Clone)]
pub struct DerivedFile {
    /// What it is, e.g. `review-thumbnail-blurred`.
    pub role: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// What analysing an item produced.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Fingerprints and metadata records, each with the versions that made it.
    pub records: Vec<Fingerprint>,
    /// Files made from the item (review images).
    pub derived: Vec<DerivedFile>,
}

/// Analyses an item's bytes at `path`.
pub trait Analyzer {
    /// What could be computed, or why nothing could.
    fn analyze(&self, item: &Item, path: &Path) -> Result<Analysis, String>;
    /// The frame variants record among what [`Analyzer::analyze`] makes, which
    /// [`Analyzer::analyze_variants`] makes alone; None when this analyzer makes none.
    fn variants(&self) -> Option<Refreshable>;
    /// Makes only the frame variants record of an item (a [`VARIANTS`] job), exactly as
    /// [`Analyzer::analyze`] would, or says why it cannot.
    fn analyze_variants(&self, item: &Item, path: &Path) -> Result<Fingerprint, String>;
}

/// Stores bytes Athar made from `source` as an item with a `derived` custody event (an
/// identical earlier derivative gets the event too), durable and logged like an ingest.
pub fn store_derived(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: Option<&mut Logger<'_>>,
    source: &Item,
    file: &DerivedFile,
    actor: &str,
) -> Result<RecordedEntry, CoreError> {
    let sha = Sha256(sha2::Sha256::digest(&file.bytes).into());
    let mut writer = blobs.writer(file.bytes.len() as u64)?;
    writer.write_chunk(file.bytes.clone())?;
    let pending = writer.finish(sha)?;
    let entry = NewItem {
        sha256: sha,
        size: file.bytes.len() as u64,
        media_type: file.media_type.clone(),
        sighting: Sighting {
            original_name: file.role.clone(),
            collector: actor.to_owned(),
            tool_version: TOOL_VERSION.to_owned(),
            ..Sighting::default()
        },
        derived: Some(Derived {
            source: source.id.clone(),
            role: file.role.clone(),
            tool_version: TOOL_VERSION.to_owned(),
        }),
        at: crate::now_rfc3339(),
    };
    let mut recorded =
        crate::ingest::commit(catalog, blobs, logger, vec![pending], &[entry], None)?;
    recorded.pop().ok_or_else(|| CoreError::Input {
        path: file.role.clone().into(),
        message: "nothing recorded".into(),
    })
}

/// Whether items of this media type get fingerprints.
pub fn wants_fingerprints(media_type: &str) -> bool {
    media_type.starts_with("image/") || media_type.starts_with("video/")
}

/// Queues a SHA-512 job for each of `items` and fingerprint jobs for the images and videos
/// among them. Returns how many jobs were asked for (existing ones are kept).
pub fn enqueue_for(catalog: &mut dyn Catalog, items: &[Item]) -> Result<usize, CoreError> {
    let mut jobs = Vec::new();
    for i in items {
        jobs.push((i.id.clone(), SHA512.to_owned()));
        if wants_fingerprints(&i.media_type) {
            jobs.push((i.id.clone(), FINGERPRINT.to_owned()));
        }
    }
    catalog.enqueue_jobs(&jobs)?;
    Ok(jobs.len())
}

/// Queues a [`VARIANTS`] job for every item whose frame variants are out of date: it holds
/// the record they go with but its variants record is missing (analysed before the analyzer
/// made any) or of another version than the analyzer's. A job done for an earlier version is
/// queued again; a queued, running or failed one is left as it is. Returns how many jobs
/// were queued.
pub fn enqueue_stale_variants(
    catalog: &mut dyn Catalog,
    analyzer: &dyn Analyzer,
) -> Result<usize, CoreError> {
    let Some(r) = analyzer.variants() else {
        return Ok(0);
    };
    let jobs: Vec<(ItemId, String)> = catalog
        .stale_fingerprints(r.with, r.algorithm, r.generation)?
        .into_iter()
        .map(|item| (item, VARIANTS.to_owned()))
        .collect();
    Ok(catalog.requeue_jobs(&jobs)?)
}

/// Items whose frame variants are out of date and that no [`VARIANTS`] job is waiting for
/// or has failed on: what [`enqueue_stale_variants`] would queue.
pub fn stale_variants_unqueued(
    catalog: &dyn Catalog,
    analyzer: &dyn Analyzer,
) -> Result<Vec<ItemId>, CoreError> {
    let Some(r) = analyzer.variants() else {
        return Ok(Vec::new());
    };
    let stale = catalog.stale_fingerprints(r.with, r.algorithm, r.generation)?;
    if stale.is_empty() {
        return Ok(stale);
    }
    let waiting: std::collections::HashSet<ItemId> = catalog
        .jobs()?
        .into_iter()
        .filter(|j| j.kind == VARIANTS && j.state != "done")
        .map(|j| j.item)
        .collect();
    Ok(stale.into_iter().filter(|i| !waiting.contains(i)).collect())
}

/// Reads an item's stored bytes once, computing SHA-256 (this thread) and SHA-512 (a helper
/// thread); returns the SHA-512 in lowercase hex, or why the bytes cannot be trusted.
pub fn verified_sha512(blobs: &dyn BlobStore, item: &Item) -> Result<String, String> {
    use std::io::Read as _;
    use std::sync::mpsc;
    let mut reader = blobs.open(&item.sha256).map_err(|e| e.to_string())?;
    let (to_helper, from_reader) = mpsc::sync_channel::<(Vec<u8>, usize)>(2);
    let (to_reader, spare) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let helper = s.spawn(move || {
            let mut h = sha2::Sha512::new();
            for (buf, n) in from_reader {
                h.update(buf.get(..n).unwrap_or_default());
                let _ = to_reader.send(buf);
            }
            hex::encode(h.finalize())
        });
        let mut sha256 = sha2::Sha256::new();
        let mut size = 0u64;
        let mut fresh = 3;
        let read: Result<(), String> = loop {
            let mut buf = if fresh > 0 {
                fresh -= 1;
                vec![0u8; 1 << 20]
            } else {
                match spare.recv() {
                    Ok(b) => b,
                    Err(_) => break Err("hashing thread stopped".into()),
                }
            };
            let n = match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(format!("reading the stored bytes: {e}")),
            };
            sha256.update(buf.get(..n).unwrap_or_default());
            size += n as u64;
            if to_helper.send((buf, n)).is_err() {
                break Err("hashing thread stopped".into());
            }
        };
        drop(to_helper);
        let sha512 = helper
            .join()
            .map_err(|_| "hashing thread failed".to_owned())?;
        read?;
        let actual = Sha256(sha256.finalize().into());
        if actual != item.sha256 || size != item.size {
            return Err(format!(
                "the stored bytes no longer match the item: SHA-256 {actual}, {size} bytes; \
                 the catalog records {}, {} bytes",
                item.sha256, item.size
            ));
        }
        Ok(sha512)
    })
}

/// An item's frame variants made again by the analyzer: the record it declares, nothing else.
fn variants_of(
    analyzer: &dyn Analyzer,
    blobs: &dyn BlobStore,
    item: &Item,
) -> Result<Fingerprint, String> {
    let Some(wanted) = analyzer.variants() else {
        return Err("this build makes no frame variants".to_owned());
    };
    let path = blobs
        .local_path(&item.sha256)
        .ok_or_else(|| "the blob store cannot hand this blob to a decoder".to_owned())?;
    let record = analyzer.analyze_variants(item, &path)?;
    if record.algorithm != wanted.algorithm {
        return Err(format!(
            "the analyzer made a {:?} record, not {:?}",
            record.algorithm, wanted.algorithm
        ));
    }
    Ok(record)
}

/// What a run of the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub done: u64,
    pub failed: u64,
    pub retried: u64,
}

/// Runs queued jobs until none is left; derived files are stored (and logged) as items.
pub fn run(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    mut logger: Option<&mut Logger<'_>>,
    analyzer: &dyn Analyzer,
    actor: &str,
    progress: &mut dyn FnMut(&Job, Result<usize, &str>),
) -> Result<RunSummary, CoreError> {
    let mut summary = RunSummary::default();
    while let Some(job) = catalog.claim_job(MAX_ATTEMPTS)? {
        let item = catalog.resolve(job.item.as_str())?;
        // Each kind records its result and finishes its job itself; an error is recorded
        // below (retried, or failed after the last attempt).
        let outcome: Result<usize, String> = match job.kind.as_str() {
            SHA512 => {
                let recorded = catalog.digest(&item.id, SHA512)?;
                match verified_sha512(blobs, &item).and_then(|hex| match recorded {
                    Some(r) if r != hex => Err(format!(
                        "the catalog records SHA-512 {r}, the bytes hash to {hex}"
                    )),
                    _ => Ok(hex),
                }) {
                    Ok(hex) => {
                        catalog.set_digest(&item.id, SHA512, &hex)?;
                        catalog.finish_job(&job, Ok(&[]), MAX_ATTEMPTS)?;
                        Ok(1)
                    }
                    Err(e) => Err(e),
                }
            }
            VARIANTS => match variants_of(analyzer, blobs, &item) {
                // Only this record is written (with the job's state, in one transaction):
                // an interrupted run leaves the old one and the job is run again.
                Ok(record) => {
                    catalog.finish_job(&job, Ok(std::slice::from_ref(&record)), MAX_ATTEMPTS)?;
                    Ok(1)
                }
                Err(e) => Err(e),
            },
            FINGERPRINT => {
                let analysis = match blobs.local_path(&item.sha256) {
                    Some(path) => analyzer.analyze(&item, &path),
                    None => Err("the blob store cannot hand this blob to a decoder".to_owned()),
                };
                match analysis {
                    Ok(analysis) => {
                        for file in &analysis.derived {
                            store_derived(
                                catalog,
                                blobs,
                                logger.as_deref_mut(),
                                &item,
                                file,
                                actor,
                            )?;
                        }
                        catalog.finish_job(&job, Ok(&analysis.records), MAX_ATTEMPTS)?;
                        Ok(analysis.records.len() + analysis.derived.len())
                    }
                    Err(e) => Err(e),
                }
            }
            other => Err(format!(
                "unknown job kind {other:?} (queued by another version of Athar?)"
            )),
        };
        match outcome {
            Ok(n) => {
                summary.done += 1;
                progress(&job, Ok(n));
            }
            Err(e) => {
                catalog.finish_job(&job, Err(&e), MAX_ATTEMPTS)?;
                if job.attempts >= MAX_ATTEMPTS {
                    summary.failed += 1;
                } else {
                    summary.retried += 1;
                }
                progress(&job, Err(&e));
            }
        }
    }
    Ok(summary)
}
