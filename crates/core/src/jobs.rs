//! Background jobs: fingerprints, metadata and review images for images and videos, and
//! for every collected item its SHA-512 (which hand-over bags list beside the SHA-256, so
//! an export need not compute it). Jobs live in the catalog, so they survive restarts; a job left
//! running by a process that died is queued again; a failing job is retried, then recorded
//! as failed with its error — the item itself stays preserved either way.
//!
//! A job runs in three phases ([`claim`], [`analyse`], [`commit`]): only the first and the
//! last touch the catalog, briefly; the analysis between them (decoding, hashing: minutes for
//! a long video) is handed the item's bytes — a local file where the blob store has one,
//! else a stream copied to a temporary file for decoders — and nothing else, so a server can
//! go on writing while it runs. [`run`] chains the three for a caller that holds the
//! catalog throughout.
//!
//! An analyzer declares the records it can make again on their own ([`Refreshable`]: e.g.
//! a video's frame variants, the analyzer's own extra hashes of its frames, or the local
//! features of images and videos). When an item's stored record is of another version than
//! the analyzer makes, or the item was analysed before the analyzer made any, a job of the
//! kind the record names (e.g. [`VARIANTS`]) makes only that record again
//! ([`enqueue_stale_records`]): the reference hashes and the review images stay as they are.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::error::{CoreError, StoreError};
use crate::log::Logger;
use crate::model::{Derived, Item, ItemId, NewItem, Sha256, Sighting, TOOL_VERSION};
use crate::storage::{BlobStore, Catalog, Fingerprint, Job, LocalBlob, RecordedEntry};

/// Attempts before a job is recorded as failed.
pub const MAX_ATTEMPTS: u32 = 2;

/// The job kind that computes fingerprints.
pub const FINGERPRINT: &str = "fingerprint";

/// The job kind that computes an item's SHA-512 (checking its SHA-256 in the same read) and
/// records it in the catalog.
pub const SHA512: &str = "sha512";

/// The job kind that makes an item's frame variants record again, and nothing else, when
/// the stored one is missing or was made by another version ([`enqueue_stale_records`]).
pub const VARIANTS: &str = "variants";

/// A fingerprint record that an analyzer can make on its own, again, for items analysed by
/// an earlier build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshable {
    /// The job kind that makes this record alone ([`Analyzer::analyze_refresh`]), e.g.
    /// [`VARIANTS`]. Several refreshables may share one (the same record for images and for
    /// videos); a job kind makes one record algorithm.
    pub job: &'static str,
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
    /// The records among what [`Analyzer::analyze`] makes that
    /// [`Analyzer::analyze_refresh`] makes alone, for items analysed by an earlier build
    /// ([`enqueue_stale_records`]); empty when this analyzer makes none.
    fn refreshable(&self) -> Vec<Refreshable>;
    /// Makes only the record that a job of kind `job` (a [`Refreshable::job`] of this
    /// analyzer's) makes, exactly as [`Analyzer::analyze`] would, or says why it cannot.
    fn analyze_refresh(&self, job: &str, item: &Item, path: &Path) -> Result<Fingerprint, String>;
}

/// Stores bytes Athar made from `source` as an item with a `derived` custody event (an
/// identical earlier derivative gets the event too), durable and logged like an ingest.
pub fn store_derived(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    source: &Item,
    file: &DerivedFile,
    actor: &str,
) -> Result<RecordedEntry, CoreError> {
    let mut recorded = store_derived_batch(catalog, blobs, logger, source, &[file], actor)?;
    recorded.pop().ok_or_else(|| CoreError::Input {
        path: file.role.clone().into(),
        message: "nothing recorded".into(),
    })
}

/// [`store_derived`] for several files of distinct bytes at once: one sync, one catalog
/// transaction, one log append (a commit holds the archive a third as long for a video's
/// three review images).
fn store_derived_batch(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    source: &Item,
    files: &[&DerivedFile],
    actor: &str,
) -> Result<Vec<RecordedEntry>, CoreError> {
    let mut pending = Vec::with_capacity(files.len());
    let mut entries = Vec::with_capacity(files.len());
    for file in files {
        let sha = Sha256(sha2::Sha256::digest(&file.bytes).into());
        let written = blobs.writer(file.bytes.len() as u64).and_then(|mut w| {
            w.write_chunk(file.bytes.clone())?;
            w.finish(sha)
        });
        match written {
            Ok(p) => pending.push(p),
            Err(e) => {
                for p in pending {
                    blobs.abandon(p);
                }
                return Err(e.into());
            }
        }
        entries.push(NewItem {
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
        });
    }
    crate::ingest::commit(catalog, blobs, logger, pending, &entries, None)
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

/// Queues what follows a commit ([`crate::ingest`]'s, the one path by which files become
/// items: ingest, uploads, imported bags): the jobs of [`enqueue_for`] for each item that
/// `recorded` created from a collected file. A sighting of an item already held queues
/// nothing (its jobs were queued when it was first collected), and neither does a file Athar
/// derived (review images are not analysed again). `recorded` is what the catalog recorded
/// for `entries`, in their order. Returns how many jobs were asked for.
pub(crate) fn enqueue_committed(
    catalog: &mut dyn Catalog,
    entries: &[NewItem],
    recorded: &[RecordedEntry],
) -> Result<usize, CoreError> {
    let collected: Vec<Item> = recorded
        .iter()
        .zip(entries)
        .filter(|(r, e)| r.new && e.derived.is_none())
        .map(|(r, _)| r.item.clone())
        .collect();
    if collected.is_empty() {
        return Ok(0);
    }
    enqueue_for(catalog, &collected)
}

/// The refresh jobs due for the records `analyzer` can make again: for each of its
/// [`Refreshable`]s, every item that holds the record it goes with but whose record is
/// missing (analysed before the analyzer made any) or of another version than the
/// analyzer's, with the job kind that makes it. Each (item, job kind) once, in the order of
/// the analyzer's refreshables.
pub fn stale_records(
    catalog: &dyn Catalog,
    analyzer: &dyn Analyzer,
) -> Result<Vec<(ItemId, String)>, CoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in analyzer.refreshable() {
        for item in catalog.stale_fingerprints(r.with, r.algorithm, r.generation)? {
            if seen.insert((item.clone(), r.job)) {
                out.push((item, r.job.to_owned()));
            }
        }
    }
    Ok(out)
}

/// Queues a refresh job for every record of every item that is out of date
/// ([`stale_records`]: e.g. a [`VARIANTS`] job for a video whose frame variants are missing
/// or of another version). A job done for an earlier version is queued again; a queued,
/// running or failed one is left as it is. Returns how many jobs were queued.
pub fn enqueue_stale_records(
    catalog: &mut dyn Catalog,
    analyzer: &dyn Analyzer,
) -> Result<usize, CoreError> {
    let jobs = stale_records(catalog, analyzer)?;
    if jobs.is_empty() {
        return Ok(0);
    }
    Ok(catalog.requeue_jobs(&jobs)?)
}

/// The out-of-date records ([`stale_records`]) that no job of their kind is waiting for or
/// has failed on: what [`enqueue_stale_records`] would queue, as (item, job kind).
pub fn stale_records_unqueued(
    catalog: &dyn Catalog,
    analyzer: &dyn Analyzer,
) -> Result<Vec<(ItemId, String)>, CoreError> {
    let stale = stale_records(catalog, analyzer)?;
    if stale.is_empty() {
        return Ok(stale);
    }
    let waiting: std::collections::HashSet<(ItemId, String)> = catalog
        .jobs()?
        .into_iter()
        .filter(|j| j.state != "done")
        .map(|j| (j.item, j.kind))
        .collect();
    Ok(stale.into_iter().filter(|j| !waiting.contains(j)).collect())
}

/// Reads an item's stored bytes once, computing SHA-256 (this thread) and SHA-512 (a helper
/// thread); returns the SHA-512 in lowercase hex, or why the bytes cannot be trusted.
pub fn verified_sha512(blobs: &dyn BlobStore, item: &Item) -> Result<String, String> {
    let reader = blobs.open(&item.sha256).map_err(|e| e.to_string())?;
    sha512_checked(reader, item)
}

/// [`verified_sha512`] over bytes already opened.
fn sha512_checked(mut reader: Box<dyn Read + Send>, item: &Item) -> Result<String, String> {
    use std::sync::mpsc;
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

/// What a run of the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub done: u64,
    pub failed: u64,
    pub retried: u64,
    /// Jobs another process took over after their lease ran out.
    #[serde(skip_serializing_if = "is_zero")]
    pub lost: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RunSummary {
    /// Counts one committed job.
    pub fn count(&mut self, committed: &Committed) {
        match committed.state {
            JobState::Done => self.done += 1,
            JobState::Failed => self.failed += 1,
            JobState::Retry => self.retried += 1,
            JobState::Lost => self.lost += 1,
        }
    }
}

// A job runs in three phases, so that whoever holds the catalog holds it only briefly:
//
// 1. [`claim`] (a short catalog transaction): the next queued job becomes `running` with one
//    more attempt, and its item and the way to its bytes are looked up;
// 2. [`analyse`] (minutes perhaps: FFmpeg, PDQ, hashing a large file): reads the bytes and
//    runs the analyzer. It is handed no catalog, logger or blob store, so it cannot hold
//    them: the caller may let others write meanwhile;
// 3. [`commit`] (short): what the analysis made is written — derived items with their
//    custody events through the logger, then the records and the job's state in one
//    transaction.
//
// A job claimed and never committed (the process died, the analysis panicked) stays
// `running` until its lease ([`crate::JOB_LEASE`]) runs out; a claim then queues it again
// (or records it failed after its last attempt). Several runners may claim at once (workers
// on other machines over a shared catalog): each claim holds its job alone, the commit renews
// the lease before it writes, and a commit whose claim was taken over records nothing
// ([`JobState::Lost`]), so a job runs to completion once. (Runners that analyse for longer
// than the lease beside other claimers must renew it meanwhile; today one writer per
// archive runs jobs, so none takes a job over while it runs.)

/// How a committed job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Its results are recorded.
    Done,
    /// It failed and is queued again.
    Retry,
    /// It failed on its last attempt, or can never succeed; its error is recorded.
    Failed,
    /// Its lease ran out while it was analysed and another process claimed it: nothing of
    /// this run was recorded (the other run's outcome counts).
    Lost,
}

/// Why a job's analysis produced nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    message: String,
    /// No later attempt can do better (the item is gone): failed at once.
    permanent: bool,
}

impl Failure {
    fn retry(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            permanent: false,
        }
    }

    fn permanent(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            permanent: true,
        }
    }
}

/// Where the analysis reads a claimed item's bytes.
enum Bytes {
    /// A local file holding the blob (an optimisation the blob store may offer).
    Local(PathBuf),
    /// The blob, opened at the claim and read during the analysis.
    Stream(Box<dyn Read + Send>),
}

/// A claimed job: the job, its item as the catalog held it at the claim, and a way to the
/// item's bytes. Holds nothing of the catalog; it may cross threads.
pub struct Claimed {
    job: Job,
    target: Result<(Item, Bytes), Failure>,
}

impl Claimed {
    /// The claimed job (state `running`, its attempts counted).
    pub fn job(&self) -> &Job {
        &self.job
    }
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            Ok((item, Bytes::Local(p))) => format!("{} at {}", item.id, p.display()),
            Ok((item, Bytes::Stream(_))) => format!("{} (streamed)", item.id),
            Err(e) => format!("unavailable: {}", e.message),
        };
        f.debug_struct("Claimed")
            .field("job", &self.job)
            .field("target", &target)
            .finish()
    }
}

/// What a job's analysis made, to be committed.
#[derive(Debug)]
pub struct Analysed {
    job: Job,
    /// The item as claimed: the commit checks that it is still so.
    item: Option<Item>,
    result: Result<Work, Failure>,
}

impl Analysed {
    /// The job analysed.
    pub fn job(&self) -> &Job {
        &self.job
    }
}

/// A job's results, by kind.
#[derive(Debug)]
enum Work {
    Sha512(String),
    /// The one record a refresh job ([`Refreshable::job`]) made.
    Refreshed(Fingerprint),
    Fingerprints(Analysis),
}

/// A committed job: how it ended, and how many results it recorded or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub job: Job,
    pub state: JobState,
    /// Records and derived files stored, or the error recorded.
    pub outcome: Result<usize, String>,
}

impl Committed {
    /// Whether the job recorded fingerprint records (a fingerprint job, or a refresh job
    /// such as `variants`: every kind but [`SHA512`] that can be done): indexes built from
    /// them are out of date.
    pub fn fingerprinted(&self) -> bool {
        self.state == JobState::Done && self.job.kind != SHA512
    }
}

/// Phase 1: claims the next queued job and looks up its item and bytes (a short catalog
/// transaction and a blob lookup). None when no job is queued. A job whose item is not in
/// the catalog is handed on to fail at its commit; so is one of a kind the analyzer does not
/// know ([`analyse`] says so), with its bytes opened like any other.
pub fn claim(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
) -> Result<Option<Claimed>, CoreError> {
    let Some(job) = catalog.claim_job(MAX_ATTEMPTS)? else {
        return Ok(None);
    };
    let item = match catalog.resolve(job.item.as_str()) {
        Ok(item) => item,
        Err(StoreError::NotFound(_)) => {
            return Ok(Some(Claimed {
                job,
                target: Err(Failure::permanent("the item is not in the catalog")),
            }))
        }
        Err(e) => return Err(e.into()),
    };
    let target = match blobs.local_path(&item.sha256) {
        Some(path) => Ok((item, Bytes::Local(path))),
        None => match blobs.open(&item.sha256) {
            Ok(reader) => Ok((item, Bytes::Stream(reader))),
            Err(e) => Err(Failure::retry(format!("reading the stored bytes: {e}"))),
        },
    };
    Ok(Some(Claimed { job, target }))
}

/// Phase 2: reads the claimed item's bytes and runs the analyzer. Touches no catalog, log or
/// blob store: it may run for minutes while others write.
pub fn analyse(claimed: Claimed, analyzer: &dyn Analyzer) -> Analysed {
    let Claimed { job, target } = claimed;
    let (item, bytes) = match target {
        Ok(t) => t,
        Err(failure) => {
            return Analysed {
                job,
                item: None,
                result: Err(failure),
            }
        }
    };
    let result = match job.kind.as_str() {
        SHA512 => {
            let reader: Result<Box<dyn Read + Send>, String> = match bytes {
                Bytes::Local(path) => std::fs::File::open(&path)
                    .map(|f| Box::new(f) as Box<dyn Read + Send>)
                    .map_err(|e| format!("reading the stored bytes: {}: {e}", path.display())),
                Bytes::Stream(r) => Ok(r),
            };
            reader
                .and_then(|r| sha512_checked(r, &item))
                .map(Work::Sha512)
        }
        FINGERPRINT => {
            with_path(&job, bytes, |path| analyzer.analyze(&item, path)).map(Work::Fingerprints)
        }
        other => {
            let wanted: Vec<&str> = analyzer
                .refreshable()
                .iter()
                .filter(|r| r.job == other)
                .map(|r| r.algorithm)
                .collect();
            if wanted.is_empty() {
                Err(format!(
                    "unknown job kind {other:?} (queued by another version of Athar?)"
                ))
            } else {
                with_path(&job, bytes, |path| {
                    refreshed(analyzer, other, &wanted, &item, path)
                })
                .map(Work::Refreshed)
            }
        }
    }
    .map_err(Failure::retry);
    Analysed {
        job,
        item: Some(item),
        result,
    }
}

/// Runs `f` on a path holding the bytes: the blob store's own file, or a temporary copy of
/// a streamed blob (removed afterwards) for decoders that need a file.
fn with_path<T>(
    job: &Job,
    bytes: Bytes,
    f: impl FnOnce(&Path) -> Result<T, String>,
) -> Result<T, String> {
    match bytes {
        Bytes::Local(path) => f(&path),
        Bytes::Stream(mut reader) => {
            let copy = LocalBlob::copy(&mut reader, &format!("job-{}", job.id))
                .map_err(|e| format!("copying the stored bytes: {e}"))?;
            f(copy.path())
        }
    }
}

/// An item's record made again by the analyzer for a refresh job of kind `job`: the
/// record it declares for that kind (one of `wanted`), nothing else.
fn refreshed(
    analyzer: &dyn Analyzer,
    job: &str,
    wanted: &[&str],
    item: &Item,
    path: &Path,
) -> Result<Fingerprint, String> {
    let record = analyzer.analyze_refresh(job, item, path)?;
    if !wanted.contains(&record.algorithm.as_str()) {
        return Err(format!(
            "the analyzer made a {:?} record, not {:?}",
            record.algorithm,
            wanted.first().copied().unwrap_or_default()
        ));
    }
    Ok(record)
}

/// Phase 3: records what the analysis made (short). The item is looked up again first: if
/// it left the catalog meanwhile the job fails, if it changed the job is retried. Derived
/// files already recorded for this item and role (an earlier attempt that died before its
/// job was marked done) are not stored or logged again; the records and the job's state
/// are written in one transaction.
pub fn commit(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    analysed: Analysed,
    actor: &str,
) -> Result<Committed, CoreError> {
    let Analysed { job, item, result } = analysed;
    // Held still? (Renewed, so the rest of the commit is within the lease.)
    if !catalog.renew_job(&job)? {
        return Ok(lost(job));
    }
    let result = match (result, item) {
        (Ok(work), Some(claimed)) => match catalog.resolve(job.item.as_str()) {
            Ok(now)
                if now.id == claimed.id
                    && now.sha256 == claimed.sha256
                    && now.size == claimed.size =>
            {
                Ok((work, now))
            }
            Ok(_) => Err(Failure::retry("the item changed while it was analysed")),
            Err(StoreError::NotFound(_)) => Err(Failure::permanent(
                "the item left the catalog while it was analysed",
            )),
            Err(e) => return Err(e.into()),
        },
        (Ok(_), None) => Err(Failure::permanent("the item is not in the catalog")),
        (Err(failure), _) => Err(failure),
    };
    let recorded: Result<usize, Failure> = match result {
        Err(failure) => Err(failure),
        Ok((Work::Sha512(hex), item)) => match catalog.digest(&item.id, SHA512)? {
            Some(r) if r != hex => Err(Failure::retry(format!(
                "the catalog records SHA-512 {r}, the bytes hash to {hex}"
            ))),
            _ => {
                // Written again by a retry after a crash here: the same value.
                catalog.set_digest(&item.id, SHA512, &hex)?;
                if !catalog.finish_job(&job, Ok(&[]), MAX_ATTEMPTS)? {
                    return Ok(lost(job));
                }
                Ok(1)
            }
        },
        // Only this record is written (with the job's state, in one transaction): an
        // interrupted run leaves the old one and the job is run again.
        Ok((Work::Refreshed(record), _)) => {
            if !catalog.finish_job(&job, Ok(std::slice::from_ref(&record)), MAX_ATTEMPTS)? {
                return Ok(lost(job));
            }
            Ok(1)
        }
        Ok((Work::Fingerprints(analysis), item)) => {
            let earlier = catalog.derived_from(&item.id)?;
            // Those of distinct bytes in one batch, any repeat of bytes after it.
            let mut batch: Vec<&DerivedFile> = Vec::new();
            let mut repeats = Vec::new();
            for file in &analysis.derived {
                if already_derived(catalog, &earlier, file)? {
                    continue;
                }
                if batch.iter().any(|b| b.bytes == file.bytes) {
                    repeats.push(file);
                } else {
                    batch.push(file);
                }
            }
            if !batch.is_empty() {
                store_derived_batch(catalog, blobs, logger, &item, &batch, actor)?;
            }
            for file in repeats {
                store_derived(catalog, blobs, logger, &item, file, actor)?;
            }
            if !catalog.finish_job(&job, Ok(&analysis.records), MAX_ATTEMPTS)? {
                return Ok(lost(job));
            }
            Ok(analysis.records.len() + analysis.derived.len())
        }
    };
    Ok(match recorded {
        Ok(n) => Committed {
            job,
            state: JobState::Done,
            outcome: Ok(n),
        },
        Err(failure) => {
            // `finish_job` fails a job whose attempts reached the limit given.
            let limit = if failure.permanent { 0 } else { MAX_ATTEMPTS };
            if !catalog.finish_job(&job, Err(&failure.message), limit)? {
                return Ok(lost(job));
            }
            Committed {
                state: if job.attempts >= limit {
                    JobState::Failed
                } else {
                    JobState::Retry
                },
                job,
                outcome: Err(failure.message),
            }
        }
    })
}

/// A job whose claim was taken by another process: nothing of this run is recorded.
fn lost(job: Job) -> Committed {
    Committed {
        job,
        state: JobState::Lost,
        outcome: Err("its lease ran out and another process runs it".to_owned()),
    }
}

/// Whether `file` is recorded already as derived from the item in that role (same bytes).
fn already_derived(
    catalog: &dyn Catalog,
    earlier: &[(ItemId, String)],
    file: &DerivedFile,
) -> Result<bool, CoreError> {
    if !earlier.iter().any(|(_, role)| *role == file.role) {
        return Ok(false);
    }
    let sha = Sha256(sha2::Sha256::digest(&file.bytes).into());
    Ok(match catalog.item_by_sha(&sha)? {
        Some(existing) => earlier
            .iter()
            .any(|(id, role)| *id == existing.id && *role == file.role),
        None => false,
    })
}

/// Runs queued jobs until none is left, one after another through the three phases, for a
/// caller that holds the catalog throughout (the CLI); derived files are stored (and logged)
/// as items.
pub fn run(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    analyzer: &dyn Analyzer,
    actor: &str,
    progress: &mut dyn FnMut(&Committed),
) -> Result<RunSummary, CoreError> {
    let mut summary = RunSummary::default();
    while let Some(claimed) = claim(catalog, blobs)? {
        let analysed = analyse(claimed, analyzer);
        let committed = commit(catalog, blobs, logger, analysed, actor)?;
        summary.count(&committed);
        progress(&committed);
    }
    Ok(summary)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! The three phases against an in-memory catalog and blob store and a fake analyzer.

    use std::collections::HashMap;
    use std::sync::{mpsc, Arc, Mutex};

    use super::*;
    use crate::log::LogStore;
    use crate::records::{KeyedRecord, RecordKind, RecordWrite, StoredRecord};
    use crate::storage::{BlobListing, BlobWriter, EventRecord, PendingBlob, ReceivedCustody};
    use crate::{CustodyEvent, EventDetails, EventKind};

    fn unused(name: &str) -> StoreError {
        StoreError::Catalog(format!("{name}: not in the test double"))
    }

    /// The custody log's files in memory.
    #[derive(Debug, Default)]
    struct MemLog {
        files: Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
        signed: Mutex<Option<u64>>,
    }

    impl LogStore for MemLog {
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.files.lock().unwrap().get(path).cloned())
        }
        fn write_tiles(&self, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
            let mut all = self.files.lock().unwrap();
            for (path, bytes) in files {
                all.entry(path.clone()).or_insert_with(|| bytes.clone());
            }
            Ok(())
        }
        fn write_checkpoint(&self, signed: &[u8]) -> Result<(), StoreError> {
            self.files
                .lock()
                .unwrap()
                .insert("checkpoint".into(), signed.to_vec());
            Ok(())
        }
        fn list_tiles(&self) -> Result<Vec<String>, StoreError> {
            let all = self.files.lock().unwrap();
            Ok(all
                .keys()
                .filter(|k| k.starts_with("tile/"))
                .cloned()
                .collect())
        }
        fn write_new(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
            let mut all = self.files.lock().unwrap();
            if all.contains_key(path) {
                return Err(StoreError::Catalog(format!("{path} exists")));
            }
            all.insert(path.to_owned(), bytes.to_vec());
            Ok(())
        }
        fn list(&self, dir: &str) -> Result<Vec<String>, StoreError> {
            let prefix = format!("{dir}/");
            let all = self.files.lock().unwrap();
            let names: std::collections::BTreeSet<String> = all
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .map(|k| k.split('/').next().unwrap_or(k).to_owned())
                .collect();
            Ok(names.into_iter().collect())
        }
        fn signed_size(&self) -> Result<Option<u64>, StoreError> {
            Ok(*self.signed.lock().unwrap())
        }
        fn note_signed_size(&self, size: u64) -> Result<(), StoreError> {
            let mut s = self.signed.lock().unwrap();
            *s = Some(s.map_or(size, |n| n.max(size)));
            Ok(())
        }
    }

    /// Runs every queued job as "tester", reporting nothing.
    fn run_quiet(
        catalog: &mut MemCatalog,
        blobs: &MemBlobs,
        logger: &mut Logger<'_>,
        analyzer: &dyn Analyzer,
    ) -> RunSummary {
        run(catalog, blobs, logger, analyzer, "tester", &mut |_| {}).unwrap()
    }

    /// A logger over an in-memory log, signed by a fixed test key.
    fn mem_logger(log: &MemLog) -> Logger<'_> {
        let signer = athar_tlog::Ed25519Signer::from_seed("athar/jobs-test", &[7; 32]).unwrap();
        Logger {
            log: crate::log::CustodyLog::open(log, signer).unwrap(),
            secret: b"pseudonym secret".to_vec(),
        }
    }

    /// Items, jobs (with the embedded catalog's claim semantics), records, digests and
    /// derived items in memory.
    #[derive(Debug, Default)]
    struct MemCatalog {
        items: Vec<Item>,
        jobs: Vec<Job>,
        prints: HashMap<ItemId, Vec<Fingerprint>>,
        digests: HashMap<(ItemId, String), String>,
        /// (derived item, source, role)
        derived: Vec<(ItemId, ItemId, String)>,
    }

    impl MemCatalog {
        fn job(&self, item: &ItemId, kind: &str) -> Job {
            self.jobs
                .iter()
                .find(|j| j.item == *item && j.kind == kind)
                .cloned()
                .unwrap()
        }
    }

    impl Catalog for MemCatalog {
        fn resolve(&self, query: &str) -> Result<Item, StoreError> {
            self.items
                .iter()
                .find(|i| i.id.as_str() == query)
                .cloned()
                .ok_or_else(|| StoreError::NotFound(query.to_owned()))
        }
        fn item_by_sha(&self, sha256: &Sha256) -> Result<Option<Item>, StoreError> {
            Ok(self.items.iter().find(|i| i.sha256 == *sha256).cloned())
        }
        fn enqueue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<(), StoreError> {
            for (item, kind) in jobs {
                if !self.jobs.iter().any(|j| j.item == *item && j.kind == *kind) {
                    self.jobs.push(Job {
                        id: self.jobs.len() as u64 + 1,
                        item: item.clone(),
                        kind: kind.clone(),
                        state: "queued".into(),
                        attempts: 0,
                        error: None,
                        claim: None,
                    });
                }
            }
            Ok(())
        }
        fn waiting_jobs(&self) -> Result<u64, StoreError> {
            Ok(self
                .jobs
                .iter()
                .filter(|j| j.state == "queued" || j.state == "running")
                .count() as u64)
        }

        fn claim_job(&mut self, max_attempts: u32) -> Result<Option<Job>, StoreError> {
            for j in self.jobs.iter_mut().filter(|j| j.state == "running") {
                j.state = if j.attempts >= max_attempts {
                    "failed"
                } else {
                    "queued"
                }
                .into();
                j.error.get_or_insert_with(|| "interrupted".into());
            }
            let Some(j) = self.jobs.iter_mut().find(|j| j.state == "queued") else {
                return Ok(None);
            };
            j.state = "running".into();
            j.attempts += 1;
            j.claim = Some(format!("{}-{}", j.id, j.attempts));
            Ok(Some(Job {
                error: None,
                ..j.clone()
            }))
        }
        fn renew_job(&mut self, job: &Job) -> Result<bool, StoreError> {
            Ok(self
                .jobs
                .iter()
                .any(|j| j.id == job.id && j.state == "running" && j.claim == job.claim))
        }
        fn finish_job(
            &mut self,
            job: &Job,
            outcome: Result<&[Fingerprint], &str>,
            max_attempts: u32,
        ) -> Result<bool, StoreError> {
            let j = self
                .jobs
                .iter_mut()
                .find(|j| j.id == job.id)
                .ok_or_else(|| StoreError::NotFound(job.id.to_string()))?;
            if j.state != "running" || j.claim != job.claim {
                return Ok(false);
            }
            j.claim = None;
            match outcome {
                Ok(prints) => {
                    let held = self.prints.entry(job.item.clone()).or_default();
                    for f in prints {
                        held.retain(|h| h.algorithm != f.algorithm);
                        held.push(f.clone());
                    }
                    j.state = "done".into();
                    j.error = None;
                }
                Err(e) => {
                    j.state = if job.attempts >= max_attempts {
                        "failed"
                    } else {
                        "queued"
                    }
                    .into();
                    j.error = Some(e.to_owned());
                }
            }
            Ok(true)
        }
        fn jobs(&self) -> Result<Vec<Job>, StoreError> {
            Ok(self
                .jobs
                .iter()
                .map(|j| Job {
                    claim: None,
                    ..j.clone()
                })
                .collect())
        }
        fn set_digest(
            &mut self,
            item: &ItemId,
            algorithm: &str,
            hex: &str,
        ) -> Result<(), StoreError> {
            self.digests
                .insert((item.clone(), algorithm.to_owned()), hex.to_owned());
            Ok(())
        }
        fn digest(&self, item: &ItemId, algorithm: &str) -> Result<Option<String>, StoreError> {
            Ok(self
                .digests
                .get(&(item.clone(), algorithm.to_owned()))
                .cloned())
        }
        fn fingerprints(&self, item: &ItemId) -> Result<Vec<Fingerprint>, StoreError> {
            Ok(self.prints.get(item).cloned().unwrap_or_default())
        }
        fn derived_from(&self, source: &ItemId) -> Result<Vec<(ItemId, String)>, StoreError> {
            Ok(self
                .derived
                .iter()
                .filter(|(_, s, _)| s == source)
                .map(|(i, _, r)| (i.clone(), r.clone()))
                .collect())
        }
        fn add_pending(&mut self, _shas: &[Sha256]) -> Result<(), StoreError> {
            Err(unused("add_pending"))
        }
        fn pending(&self) -> Result<Vec<Sha256>, StoreError> {
            Err(unused("pending"))
        }
        fn clear_pending(&mut self, _shas: &[Sha256]) -> Result<(), StoreError> {
            Err(unused("clear_pending"))
        }
        fn record(
            &mut self,
            _entries: &[NewItem],
            _case: Option<&str>,
            _logged_through: u64,
        ) -> Result<Vec<RecordedEntry>, StoreError> {
            Err(unused("record"))
        }
        fn record_event(
            &mut self,
            _item: &ItemId,
            _kind: EventKind,
            _actor: &str,
            _details: &EventDetails,
            _logged_through: u64,
        ) -> Result<CustodyEvent, StoreError> {
            Err(unused("record_event"))
        }
        fn resolve_in_cases(&self, _query: &str, _cases: &[String]) -> Result<Item, StoreError> {
            Err(unused("resolve_in_cases"))
        }
        fn items(&self) -> Result<Vec<Item>, StoreError> {
            Err(unused("items"))
        }
        fn events(&self, _item: &ItemId) -> Result<Vec<CustodyEvent>, StoreError> {
            Err(unused("events"))
        }
        fn event_index(&self) -> Result<(Vec<(u64, String)>, u64), StoreError> {
            Err(unused("event_index"))
        }
        fn cases_of(&self, _item: &ItemId) -> Result<Vec<String>, StoreError> {
            Err(unused("cases_of"))
        }
        fn add_received_custody(
            &mut self,
            _item: &ItemId,
            _records: &[ReceivedCustody],
        ) -> Result<(), StoreError> {
            Err(unused("add_received_custody"))
        }
        fn received_custody(&self, _item: &ItemId) -> Result<Vec<ReceivedCustody>, StoreError> {
            Err(unused("received_custody"))
        }
        fn requeue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<usize, StoreError> {
            let mut queued = 0;
            for (item, kind) in jobs {
                match self
                    .jobs
                    .iter_mut()
                    .find(|j| j.item == *item && j.kind == *kind)
                {
                    Some(j) if j.state == "done" => {
                        j.state = "queued".into();
                        j.attempts = 0;
                        j.error = None;
                        queued += 1;
                    }
                    Some(_) => {}
                    None => {
                        self.enqueue_jobs(&[(item.clone(), kind.clone())])?;
                        queued += 1;
                    }
                }
            }
            Ok(queued)
        }
        fn stale_fingerprints(
            &self,
            with: &str,
            algorithm: &str,
            generation: &str,
        ) -> Result<Vec<ItemId>, StoreError> {
            let mut out: Vec<ItemId> = self
                .prints
                .iter()
                .filter(|(_, held)| held.iter().any(|f| f.algorithm == with))
                .filter(|(_, held)| {
                    !held.iter().any(|f| {
                        f.algorithm == algorithm && f.algorithm_version.contains(generation)
                    })
                })
                .map(|(item, _)| item.clone())
                .collect();
            out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            Ok(out)
        }
        fn fingerprint_changes(
            &self,
            _after: u64,
        ) -> Result<Vec<(u64, ItemId, String)>, StoreError> {
            Err(unused("fingerprint_changes"))
        }
        fn case_items(&self, _case: &str) -> Result<Vec<Item>, StoreError> {
            Err(unused("case_items"))
        }
        fn event_records(
            &self,
            _after: u64,
            _limit: usize,
        ) -> Result<Vec<EventRecord>, StoreError> {
            Err(unused("event_records"))
        }
        fn unlogged(&self) -> Result<Vec<u64>, StoreError> {
            // The double keeps no custody events: none wait for the log.
            Ok(Vec::new())
        }
        fn mark_logged(&mut self, _through: u64) -> Result<(), StoreError> {
            Err(unused("mark_logged"))
        }
        fn record_by_id(&self, _id: &str) -> Result<Option<StoredRecord>, StoreError> {
            Err(unused("record_by_id"))
        }
        fn records_with_key(&self, _key: &str) -> Result<Vec<KeyedRecord>, StoreError> {
            Err(unused("records_with_key"))
        }
        fn event_subjects(&self, _after: u64) -> Result<Vec<(u64, String, String)>, StoreError> {
            Err(unused("event_subjects"))
        }
        fn record_keys(&self) -> Result<Vec<(String, KeyedRecord)>, StoreError> {
            Err(unused("record_keys"))
        }
        fn referrers(&self, _id: &str) -> Result<Vec<String>, StoreError> {
            Err(unused("referrers"))
        }
        fn case_exists(&self, _name: &str) -> Result<bool, StoreError> {
            Err(unused("case_exists"))
        }
        fn records(
            &self,
            _kind: Option<RecordKind>,
            _case: Option<&str>,
        ) -> Result<Vec<StoredRecord>, StoreError> {
            Err(unused("records"))
        }
        fn record_value(&self, _sha256: &Sha256) -> Result<Option<String>, StoreError> {
            Err(unused("record_value"))
        }
        fn write_records(
            &mut self,
            _writes: &[RecordWrite],
            _actor: &str,
            _logged_through: u64,
        ) -> Result<Vec<EventRecord>, StoreError> {
            Err(unused("write_records"))
        }
        fn case_holdings(&self, _case: &str) -> Result<crate::CaseHoldings, StoreError> {
            Err(unused("case_holdings"))
        }
        fn erase_subjects(
            &mut self,
            _case: &str,
            _at: &str,
            _subjects: &[ItemId],
            _frozen: &[(u64, crate::custody::Digests)],
        ) -> Result<(), StoreError> {
            Err(unused("erase_subjects"))
        }
        fn erased(&self) -> Result<Vec<crate::ErasedSubject>, StoreError> {
            Ok(Vec::new())
        }
    }

    /// Blobs in memory; with `dir`, each also as a local file there.
    #[derive(Debug, Default)]
    struct MemBlobs {
        bytes: HashMap<Sha256, Vec<u8>>,
        dir: Option<PathBuf>,
    }

    impl BlobStore for MemBlobs {
        fn open(&self, sha256: &Sha256) -> Result<Box<dyn Read + Send>, StoreError> {
            let b = self
                .bytes
                .get(sha256)
                .cloned()
                .ok_or_else(|| StoreError::NotFound(sha256.to_string()))?;
            Ok(Box::new(std::io::Cursor::new(b)))
        }
        fn local_path(&self, sha256: &Sha256) -> Option<PathBuf> {
            self.dir.as_ref().map(|d| d.join(sha256.to_hex()))
        }
        fn writer(&self, _size_hint: u64) -> Result<Box<dyn BlobWriter>, StoreError> {
            Err(unused("writer"))
        }
        fn contains(&self, _sha256: &Sha256) -> Result<bool, StoreError> {
            Err(unused("contains"))
        }
        fn size(&self, _sha256: &Sha256) -> Result<u64, StoreError> {
            Err(unused("size"))
        }
        fn sync(&self, _blobs: &mut [PendingBlob]) -> Result<(), StoreError> {
            Err(unused("sync"))
        }
        fn publish(&self, _blobs: Vec<PendingBlob>) -> Result<(), StoreError> {
            Err(unused("publish"))
        }
        fn adopt_local(
            &self,
            _path: &std::path::Path,
            _sha256: Sha256,
            _size: u64,
        ) -> Result<PendingBlob, StoreError> {
            Err(unused("adopt_local"))
        }
        fn abandon(&self, _blob: PendingBlob) {}
        fn remove_unacknowledged(&self, _sha256: &Sha256) -> Result<(), StoreError> {
            Err(unused("remove_unacknowledged"))
        }
        fn clear_temporary(&self) -> Result<usize, StoreError> {
            Err(unused("clear_temporary"))
        }
        fn list(&self) -> Result<BlobListing, StoreError> {
            Err(unused("list"))
        }
    }

    /// Records the SHA-256 of the bytes it is handed (so a test sees they were read) and the
    /// path it read them from; fails when told to; waits at `gate` when given one.
    #[derive(Debug, Default)]
    struct FakeAnalyzer {
        fail: bool,
        /// Declares two refreshable records (`variants` and `local`, both going with `pdq`),
        /// which [`Analyzer::analyze`] does not make (as if made by a later build).
        refresh: bool,
        derived: Vec<DerivedFile>,
        paths: Mutex<Vec<PathBuf>>,
        /// Tells the test the analysis started, then waits for its word to finish.
        gate: Option<Gate>,
    }

    /// Where the fake analysis says it started, and hears when to finish.
    type Gate = (Mutex<mpsc::Sender<()>>, Mutex<mpsc::Receiver<()>>);

    impl Analyzer for FakeAnalyzer {
        fn analyze(&self, _item: &Item, path: &Path) -> Result<Analysis, String> {
            self.paths.lock().unwrap().push(path.to_owned());
            if let Some((started, go)) = &self.gate {
                started.lock().unwrap().send(()).unwrap();
                go.lock().unwrap().recv().unwrap();
            }
            if self.fail {
                return Err("cannot decode".into());
            }
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            Ok(Analysis {
                records: vec![Fingerprint {
                    algorithm: "pdq".into(),
                    algorithm_version: "fake 1".into(),
                    decoder: "-".into(),
                    data: Sha256(sha2::Sha256::digest(&bytes).into()).to_hex(),
                }],
                derived: self.derived.clone(),
            })
        }
        fn refreshable(&self) -> Vec<Refreshable> {
            if !self.refresh {
                return Vec::new();
            }
            FAKE_REFRESH.to_vec()
        }
        fn analyze_refresh(
            &self,
            job: &str,
            _item: &Item,
            path: &Path,
        ) -> Result<Fingerprint, String> {
            self.paths.lock().unwrap().push(path.to_owned());
            let r = self
                .refreshable()
                .into_iter()
                .find(|r| r.job == job)
                .ok_or_else(|| format!("no {job} records"))?;
            Ok(Fingerprint {
                algorithm: r.algorithm.into(),
                algorithm_version: format!("fake {}2: now)", r.generation),
                decoder: "-".into(),
                data: job.into(),
            })
        }
    }

    /// The records a [`FakeAnalyzer`] with `refresh` makes again.
    const FAKE_REFRESH: [Refreshable; 2] = [
        Refreshable {
            job: VARIANTS,
            with: "pdq",
            algorithm: "pdq-variants",
            generation: "(variants 2:",
        },
        Refreshable {
            job: "local",
            with: "pdq",
            algorithm: "local",
            generation: "(local 1:",
        },
    ];

    fn sha(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// A catalog and blob store holding one video item, its fingerprint job queued.
    fn one_video(bytes: &[u8]) -> (MemCatalog, MemBlobs, Item) {
        let item = Item {
            id: ItemId::generate().unwrap(),
            sha256: sha(bytes),
            size: bytes.len() as u64,
            media_type: "video/mp4".into(),
            created_at: crate::now_rfc3339(),
        };
        let mut catalog = MemCatalog::default();
        catalog.items.push(item.clone());
        enqueue_for(&mut catalog, std::slice::from_ref(&item)).unwrap();
        let mut blobs = MemBlobs::default();
        blobs.bytes.insert(item.sha256, bytes.to_vec());
        (catalog, blobs, item)
    }

    #[test]
    fn claim_analyse_commit_through_the_blob_store() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"synthetic video bytes");
        let analyzer = FakeAnalyzer::default();
        // No local path: the bytes are streamed from the blob store.
        assert!(blobs.local_path(&item.sha256).is_none());

        let claimed = claim(&mut catalog, &blobs).unwrap().unwrap();
        assert_eq!(claimed.job().kind, SHA512);
        assert_eq!(catalog.job(&item.id, SHA512).state, "running");
        let analysed = analyse(claimed, &analyzer);
        let c = commit(&mut catalog, &blobs, &mut logger, analysed, "tester").unwrap();
        assert_eq!((c.state, c.outcome), (JobState::Done, Ok(1)));
        let want = hex::encode(sha2::Sha512::digest(b"synthetic video bytes"));
        assert_eq!(catalog.digest(&item.id, SHA512).unwrap(), Some(want));

        let claimed = claim(&mut catalog, &blobs).unwrap().unwrap();
        assert_eq!(claimed.job().kind, FINGERPRINT);
        let analysed = analyse(claimed, &analyzer);
        // Analysed, not yet committed: nothing recorded, the job still running.
        assert!(catalog.fingerprints(&item.id).unwrap().is_empty());
        assert_eq!(catalog.job(&item.id, FINGERPRINT).state, "running");
        let c = commit(&mut catalog, &blobs, &mut logger, analysed, "tester").unwrap();
        assert_eq!(c.state, JobState::Done);
        assert!(c.fingerprinted());
        let prints = catalog.fingerprints(&item.id).unwrap();
        assert_eq!(prints.len(), 1);
        assert_eq!(
            prints[0].data,
            item.sha256.to_hex(),
            "the analyzer read the bytes"
        );
        assert_eq!(catalog.job(&item.id, FINGERPRINT).state, "done");
        // The streamed blob's temporary copy is gone.
        let paths = analyzer.paths.lock().unwrap().clone();
        assert_eq!(paths.len(), 1);
        assert!(!paths[0].exists(), "{}", paths[0].display());
        assert!(claim(&mut catalog, &blobs).unwrap().is_none());
    }

    #[test]
    fn a_local_path_is_handed_to_the_analyzer() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let dir = tempfile::tempdir().unwrap();
        let (mut catalog, mut blobs, item) = one_video(b"local bytes");
        blobs.dir = Some(dir.path().to_owned());
        std::fs::write(dir.path().join(item.sha256.to_hex()), b"local bytes").unwrap();
        let analyzer = FakeAnalyzer::default();
        let s = run_quiet(&mut catalog, &blobs, &mut logger, &analyzer);
        assert_eq!((s.done, s.failed, s.retried), (2, 0, 0));
        let paths = analyzer.paths.lock().unwrap().clone();
        assert_eq!(paths, vec![dir.path().join(item.sha256.to_hex())]);
        assert!(paths[0].exists(), "the blob store's own file is left alone");
    }

    #[test]
    fn the_analysis_holds_no_catalog() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"slow video");
        catalog.jobs.retain(|j| j.kind == FINGERPRINT);
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel();
        let analyzer = Arc::new(FakeAnalyzer {
            gate: Some((Mutex::new(started_tx), Mutex::new(go_rx))),
            ..FakeAnalyzer::default()
        });
        let catalog = Arc::new(Mutex::new(catalog));
        let claimed = claim(&mut *catalog.lock().unwrap(), &blobs)
            .unwrap()
            .unwrap();
        let a = analyzer.clone();
        let worker = std::thread::spawn(move || analyse(claimed, &*a));
        started_rx.recv().unwrap();
        // Mid-analysis the catalog is free: another writer gets it at once.
        {
            let mut c = catalog
                .try_lock()
                .expect("the catalog is free during the analysis");
            c.set_digest(&item.id, "note", "written meanwhile").unwrap();
        }
        go_tx.send(()).unwrap();
        let analysed = worker.join().unwrap();
        let mut c = catalog.lock().unwrap();
        let done = commit(&mut *c, &blobs, &mut logger, analysed, "tester").unwrap();
        assert_eq!(done.state, JobState::Done);
        assert_eq!(c.fingerprints(&item.id).unwrap().len(), 1);
        assert_eq!(
            c.digest(&item.id, "note").unwrap().as_deref(),
            Some("written meanwhile")
        );
    }

    #[test]
    fn a_failure_is_retried_then_recorded() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"undecodable");
        let analyzer = FakeAnalyzer {
            fail: true,
            ..FakeAnalyzer::default()
        };
        let mut seen = Vec::new();
        let s = run(
            &mut catalog,
            &blobs,
            &mut logger,
            &analyzer,
            "tester",
            &mut |c| seen.push((c.job.kind.clone(), c.state)),
        )
        .unwrap();
        // SHA-512 done; the fingerprint job failed twice: retried, then failed.
        assert_eq!((s.done, s.failed, s.retried), (1, 1, 1));
        assert_eq!(
            seen,
            vec![
                (SHA512.to_owned(), JobState::Done),
                (FINGERPRINT.to_owned(), JobState::Retry),
                (FINGERPRINT.to_owned(), JobState::Failed),
            ]
        );
        let job = catalog.job(&item.id, FINGERPRINT);
        assert_eq!((job.state.as_str(), job.attempts), ("failed", MAX_ATTEMPTS));
        assert_eq!(job.error.as_deref(), Some("cannot decode"));
        assert!(catalog.fingerprints(&item.id).unwrap().is_empty());
    }

    #[test]
    fn a_job_claimed_and_never_committed_runs_again() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"interrupted");
        catalog.jobs.retain(|j| j.kind == FINGERPRINT);
        let analyzer = FakeAnalyzer::default();
        // The process dies mid-analysis: what was analysed is never committed.
        let claimed = claim(&mut catalog, &blobs).unwrap().unwrap();
        drop(analyse(claimed, &analyzer));
        assert_eq!(catalog.job(&item.id, FINGERPRINT).state, "running");
        assert!(catalog.fingerprints(&item.id).unwrap().is_empty());
        // The next run queues it again and runs it: once, results recorded once.
        let s = run_quiet(&mut catalog, &blobs, &mut logger, &analyzer);
        assert_eq!((s.done, s.failed, s.retried), (1, 0, 0));
        let job = catalog.job(&item.id, FINGERPRINT);
        assert_eq!((job.state.as_str(), job.attempts), ("done", 2));
        assert_eq!(catalog.fingerprints(&item.id).unwrap().len(), 1);
    }

    #[test]
    fn an_item_gone_between_phases_fails_its_job() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"gone");
        catalog.jobs.retain(|j| j.kind == FINGERPRINT);
        let claimed = claim(&mut catalog, &blobs).unwrap().unwrap();
        let analysed = analyse(claimed, &FakeAnalyzer::default());
        catalog.items.clear();
        let c = commit(&mut catalog, &blobs, &mut logger, analysed, "tester").unwrap();
        assert_eq!(c.state, JobState::Failed, "{:?}", c.outcome);
        let job = catalog.job(&item.id, FINGERPRINT);
        assert_eq!(job.state, "failed", "no attempt left can do better");
        assert!(job.error.unwrap().contains("left the catalog"));
        assert!(catalog.prints.is_empty());
        // An item gone before the claim fails the same way, without an analysis.
        catalog.jobs[0].state = "queued".into();
        catalog.jobs[0].attempts = 0;
        let analyzer = FakeAnalyzer::default();
        let s = run_quiet(&mut catalog, &blobs, &mut logger, &analyzer);
        assert_eq!((s.done, s.failed, s.retried), (0, 1, 0));
        assert!(analyzer.paths.lock().unwrap().is_empty());
    }

    #[test]
    fn an_item_changed_between_phases_is_analysed_again() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"changed");
        catalog.jobs.retain(|j| j.kind == FINGERPRINT);
        let claimed = claim(&mut catalog, &blobs).unwrap().unwrap();
        let analysed = analyse(claimed, &FakeAnalyzer::default());
        let original = catalog.items[0].clone();
        catalog.items[0].sha256 = sha(b"other bytes");
        let c = commit(&mut catalog, &blobs, &mut logger, analysed, "tester").unwrap();
        assert_eq!(c.state, JobState::Retry);
        assert!(
            catalog.prints.is_empty(),
            "nothing of the old bytes recorded"
        );
        assert_eq!(catalog.job(&item.id, FINGERPRINT).state, "queued");
        // Back as it was, the retry records it.
        catalog.items[0] = original;
        let s = run(
            &mut catalog,
            &blobs,
            &mut logger,
            &FakeAnalyzer::default(),
            "tester",
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((s.done, s.failed, s.retried), (1, 0, 0));
        assert_eq!(catalog.fingerprints(&item.id).unwrap().len(), 1);
    }

    #[test]
    fn derived_files_recorded_by_an_earlier_attempt_are_not_stored_again() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"video with a review image");
        catalog.jobs.retain(|j| j.kind == FINGERPRINT);
        let thumb = b"jpeg bytes".to_vec();
        // An earlier attempt stored the review image, then died before finishing the job.
        let earlier = Item {
            id: ItemId::generate().unwrap(),
            sha256: sha(&thumb),
            size: thumb.len() as u64,
            media_type: "image/jpeg".into(),
            created_at: crate::now_rfc3339(),
        };
        catalog.items.push(earlier.clone());
        catalog.derived.push((
            earlier.id.clone(),
            item.id.clone(),
            "review-thumbnail-clear".into(),
        ));
        let analyzer = FakeAnalyzer {
            derived: vec![DerivedFile {
                role: "review-thumbnail-clear".into(),
                media_type: "image/jpeg".into(),
                bytes: thumb,
            }],
            ..FakeAnalyzer::default()
        };
        // Storing it again would fail here (this blob store cannot write).
        let s = run(
            &mut catalog,
            &blobs,
            &mut logger,
            &analyzer,
            "tester",
            &mut |c| assert_eq!(c.outcome, Ok(2), "{:?}", c.outcome),
        )
        .unwrap();
        assert_eq!((s.done, s.failed, s.retried), (1, 0, 0));
        assert_eq!(catalog.items.len(), 2);
        assert_eq!(catalog.derived.len(), 1);
    }

    #[test]
    fn every_refreshable_record_out_of_date_gets_one_job_that_makes_it_alone() {
        let log = MemLog::default();
        let mut logger = mem_logger(&log);
        let (mut catalog, blobs, item) = one_video(b"video analysed by an earlier build");
        // Analysed by a build that made neither refreshable record.
        let earlier = FakeAnalyzer::default();
        let s = run_quiet(&mut catalog, &blobs, &mut logger, &earlier);
        assert_eq!((s.done, s.failed), (2, 0));
        assert_eq!(enqueue_stale_records(&mut catalog, &earlier).unwrap(), 0);
        let pdq_before = catalog.fingerprints(&item.id).unwrap();

        let now = FakeAnalyzer {
            refresh: true,
            ..FakeAnalyzer::default()
        };
        let both = vec![
            (item.id.clone(), VARIANTS.to_owned()),
            (item.id.clone(), "local".to_owned()),
        ];
        assert_eq!(stale_records_unqueued(&catalog, &now).unwrap(), both);
        assert_eq!(enqueue_stale_records(&mut catalog, &now).unwrap(), 2);
        // Queued: not queued again, not counted as unqueued.
        assert!(stale_records_unqueued(&catalog, &now).unwrap().is_empty());
        assert_eq!(enqueue_stale_records(&mut catalog, &now).unwrap(), 0);

        let mut kinds = Vec::new();
        let s = run(
            &mut catalog,
            &blobs,
            &mut logger,
            &now,
            "tester",
            &mut |c| {
                assert_eq!((c.state, &c.outcome), (JobState::Done, &Ok(1)), "{c:?}");
                assert!(c.fingerprinted());
                kinds.push(c.job.kind.clone());
            },
        )
        .unwrap();
        assert_eq!((s.done, s.failed, s.retried), (2, 0, 0));
        assert_eq!(kinds, [VARIANTS, "local"]);
        // Each made its record alone; the reference record is as it was.
        let prints = catalog.fingerprints(&item.id).unwrap();
        assert_eq!(prints.len(), 3, "{prints:?}");
        assert!(prints.contains(&pdq_before[0]));
        for (alg, data) in [("pdq-variants", VARIANTS), ("local", "local")] {
            assert!(
                prints.iter().any(|f| f.algorithm == alg && f.data == data),
                "{prints:?}"
            );
        }
        assert!(stale_records(&catalog, &now).unwrap().is_empty());
        assert_eq!(enqueue_stale_records(&mut catalog, &now).unwrap(), 0);

        // One record of an older generation: its done job alone is queued again.
        for f in catalog.prints.get_mut(&item.id).unwrap() {
            if f.algorithm == "local" {
                f.algorithm_version = "fake (local 0: older)".into();
            }
        }
        assert_eq!(enqueue_stale_records(&mut catalog, &now).unwrap(), 1);
        assert_eq!(catalog.job(&item.id, "local").state, "queued");
        assert_eq!(catalog.job(&item.id, VARIANTS).state, "done");
        // A build that makes no such record cannot run the job: it says so.
        let c = run_quiet(&mut catalog, &blobs, &mut logger, &earlier);
        assert_eq!((c.done, c.retried), (0, 1));
        let job = catalog.job(&item.id, "local");
        assert!(
            job.error.as_deref().unwrap().contains("unknown job kind"),
            "{job:?}"
        );
    }
}
