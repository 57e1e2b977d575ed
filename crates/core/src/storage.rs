//! The storage traits. Each backend (SQLite + files by default) implements them; the
//! services in this crate use nothing else.

use std::any::Any;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::accounts::Accounts;
use crate::error::StoreError;
use crate::model::{CustodyEvent, EventDetails, EventKind, Item, ItemId, NewItem, Sha256};
use crate::records::{KeyedRecord, RecordKind, RecordWrite, StoredRecord};

/// A blob written to a temporary place, not yet visible under its hash.
pub struct PendingBlob {
    pub sha256: Sha256,
    pub size: u64,
    /// Whether the bytes are already durable (the writer synced them itself).
    pub synced: bool,
    /// Backend-specific handle (for the filesystem store: the temporary path).
    pub handle: Box<dyn Any + Send>,
}

impl fmt::Debug for PendingBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingBlob")
            .field("sha256", &self.sha256)
            .field("size", &self.size)
            .field("synced", &self.synced)
            .finish_non_exhaustive()
    }
}

/// Receives a blob's bytes in order. Buffers are handed over by value so a backend can
/// write one while the caller reads and hashes the next.
pub trait BlobWriter: Send {
    /// Takes a buffer holding the next bytes; gives back a buffer to overwrite next (its
    /// contents and length are unspecified; its capacity is kept).
    fn write_chunk(&mut self, chunk: Vec<u8>) -> Result<Vec<u8>, StoreError>;
    /// All bytes are written; `sha256` is their digest, computed by the caller.
    fn finish(self: Box<Self>, sha256: Sha256) -> Result<PendingBlob, StoreError>;
}

/// What a blob store holds.
#[derive(Debug, Default)]
pub struct BlobListing {
    pub blobs: Vec<Sha256>,
    /// Entries that are not blobs (wrong names, unexpected file types).
    pub strays: Vec<String>,
}

/// Immutable, content-addressed byte storage.
pub trait BlobStore: Send + Sync {
    /// Starts a blob; `size_hint` lets the backend pick a strategy for large files.
    fn writer(&self, size_hint: u64) -> Result<Box<dyn BlobWriter>, StoreError>;
    /// Whether a blob with this digest is stored.
    fn contains(&self, sha256: &Sha256) -> Result<bool, StoreError>;
    /// Reads a stored blob. `NotFound` when absent.
    fn open(&self, sha256: &Sha256) -> Result<Box<dyn Read + Send>, StoreError>;
    /// Reads a stored blob from byte `offset` on (for range requests: a backend that can
    /// seek does, the others read and drop what comes before). `NotFound` when absent.
    fn open_at(&self, sha256: &Sha256, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        let mut r = self.open(sha256)?;
        let skipped = std::io::copy(&mut (&mut r).take(offset), &mut std::io::sink())
            .map_err(|e| StoreError::io(format!("blob {sha256}"), e))?;
        if skipped < offset {
            return Err(StoreError::Corrupt(format!(
                "blob {sha256}: shorter than the offset {offset} asked for"
            )));
        }
        Ok(r)
    }
    /// The size of a blob's bytes. `NotFound` when absent.
    fn size(&self, sha256: &Sha256) -> Result<u64, StoreError>;
    /// Makes the bytes of pending blobs durable (one flush for the whole batch where
    /// the backend can).
    fn sync(&self, blobs: &mut [PendingBlob]) -> Result<(), StoreError>;
    /// Moves durable pending blobs to their final names and makes the names durable.
    /// A blob already stored under the same digest is kept and the pending copy dropped.
    fn publish(&self, blobs: Vec<PendingBlob>) -> Result<(), StoreError>;
    /// Takes a complete local file whose bytes the caller has already hashed (`sha256`) as a
    /// pending blob, without copying it where the backend can: the filesystem store
    /// hard-links it into its temporary folder, so the file must be on the blob store's
    /// filesystem. The file stays where it is for the caller to remove once the blob is
    /// published, and must not be written again. Used for uploads staged in the archive.
    fn adopt_local(
        &self,
        path: &std::path::Path,
        sha256: Sha256,
        size: u64,
    ) -> Result<PendingBlob, StoreError>;
    /// Drops a pending blob that will not be published.
    fn abandon(&self, blob: PendingBlob);
    /// Removes a published blob that was never acknowledged (recovery after a crash).
    fn remove_unacknowledged(&self, sha256: &Sha256) -> Result<(), StoreError>;
    /// Clears temporary files left by an interrupted run. Returns how many were removed.
    fn clear_temporary(&self) -> Result<usize, StoreError>;
    /// Everything the store holds.
    fn list(&self) -> Result<BlobListing, StoreError>;
    /// A local file holding the blob, for decoders that need a path (None when the backend
    /// has none).
    fn local_path(&self, sha256: &Sha256) -> Option<std::path::PathBuf>;
}

/// One file's outcome to record: a new item or a new sighting of an existing one.
#[derive(Debug, Clone)]
pub struct RecordedEntry {
    pub item: Item,
    pub event: CustodyEvent,
    /// True when this entry created the item.
    pub new: bool,
}

/// A custody event as the custody log needs it: the catalog row, with the detail record as
/// stored (its bytes are hashed into the log entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub seq: u64,
    pub item: ItemId,
    /// The item's digest; None when the item row is gone.
    pub sha256: Option<Sha256>,
    pub kind: String,
    pub at: String,
    pub actor: String,
    /// The detail record exactly as stored.
    pub details: String,
    /// The previous event of the same item.
    pub prev: Option<u64>,
    /// The salt of its v2 log entry's commitments; None for an event logged as v1.
    pub salt: Option<crate::custody::Salt>,
    /// The digests its log entry names, kept once its subject was erased (the item, the
    /// salt and the details are then gone).
    pub frozen: Option<crate::custody::Digests>,
}

/// What a case holds, as its erasure sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseHoldings {
    /// Items of the case in no other case, with the items made from them that belong to
    /// no case (review images), and each one's digest.
    pub items: Vec<(ItemId, Sha256)>,
    /// Items of the case that other cases hold too (kept).
    pub shared: Vec<(ItemId, Sha256)>,
    /// The case's records, deleted ones too, with the digest of their last value.
    pub records: Vec<(ItemId, Sha256)>,
}

/// An item or record erased with its case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErasedSubject {
    pub subject: String,
    pub case: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// One custody event of another archive, received with an item: its entry, proof and the
/// sender's log identity, kept as evidence of the item's history before it arrived.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReceivedCustody {
    /// The sender's log origin.
    pub origin: String,
    /// The sender's event number.
    pub seq: u64,
    pub kind: String,
    /// The exact entry bytes (text).
    pub entry: String,
    /// The C2SP tlog-proof as received.
    pub proof: String,
    /// Whether the proof verified against a trusted key at import.
    pub verified: bool,
    /// The sender's detail record for the event, as received (JSON).
    pub details: String,
    /// The salt of a v2 entry's commitments, as received (hex); None for a v1 entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// A background job on an item: its fingerprints, its SHA-512, or its frame variants again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    pub id: u64,
    pub item: ItemId,
    pub kind: String,
    pub state: String,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The claim that holds a running job, as [`Catalog::claim_job`] returned it (an opaque
    /// token); None in listings.
    #[serde(skip)]
    pub claim: Option<String>,
}

/// How long a claimed job is held without a renewal ([`Catalog::renew_job`]): past it, a job
/// whose process died is claimed again by another. The default of [`job_lease`].
pub const JOB_LEASE: std::time::Duration = std::time::Duration::from_secs(300);

/// The job lease this process claims and renews for: `ATHAR_JOB_LEASE_SECS` (1 to 86400
/// seconds) when set, else [`JOB_LEASE`]. Workers renew at a fifth of it, so a worker that
/// dies holds its job for at most this long.
pub fn job_lease() -> std::time::Duration {
    static LEASE: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *LEASE.get_or_init(|| {
        std::env::var("ATHAR_JOB_LEASE_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| (1..=86_400).contains(s))
            .map_or(JOB_LEASE, std::time::Duration::from_secs)
    })
}

/// A new claim token for [`Catalog::claim_job`]: 128 random bits, hex.
pub fn new_claim() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b)
        .map_err(|e| StoreError::Catalog(format!("no randomness for a job claim: {e}")))?;
    Ok(hex::encode(b))
}

/// Now, in milliseconds since the Unix epoch (how backends keep leases).
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fingerprint of an item, with what made it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fingerprint {
    /// `pdq` or `vpdq`.
    pub algorithm: String,
    /// The algorithm's implementation version.
    pub algorithm_version: String,
    /// The decoder that produced the pixels (e.g. the FFmpeg version), or `-`.
    pub decoder: String,
    /// The fingerprint itself: for `pdq` `<hex> <quality>`, for `vpdq` reference lines.
    pub data: String,
}

/// What verification needs of one documentation record ([`Catalog::records_to_verify`]).
#[derive(Debug)]
pub struct RecordToVerify {
    /// [`Catalog::record_by_id`]'s answer: None when no record has the id, and
    /// `Err(StoreError::Corrupt)` (never another error) when its row cannot be read back.
    pub stored: Result<Option<StoredRecord>, StoreError>,
    /// [`Catalog::record_value`] of the stored record's digest; None when it is not stored
    /// or there is no readable record.
    pub value: Option<String>,
    /// The last of the record's [`Catalog::events`]; None when it has none, its id is
    /// malformed or there is no readable record.
    pub last_event: Option<CustodyEvent>,
}

/// The catalog: items, custody events, and the bookkeeping that makes ingest crash-safe.
pub trait Catalog: Send {
    /// Records that these blobs are about to be published (durable before returning).
    fn add_pending(&mut self, shas: &[Sha256]) -> Result<(), StoreError>;
    /// Blobs recorded as about to be published whose ingest never committed.
    fn pending(&self) -> Result<Vec<Sha256>, StoreError>;
    /// Forgets pending records.
    fn clear_pending(&mut self, shas: &[Sha256]) -> Result<(), StoreError>;
    /// Records items and custody events in one durable transaction, creating each item
    /// unless its digest is already known (then it records a sighting), linking them to
    /// `case` when given, clearing their pending records, queuing the new events for the
    /// custody log, and dropping from that queue every event up to `logged_through` (the
    /// log already holds them).
    fn record(
        &mut self,
        entries: &[NewItem],
        case: Option<&str>,
        logged_through: u64,
    ) -> Result<Vec<RecordedEntry>, StoreError>;
    /// Records one event (other than an ingest or sighting) about an existing item, in one
    /// durable transaction that also queues it for the custody log and drops from the queue
    /// every event up to `logged_through`. Returns the event.
    fn record_event(
        &mut self,
        item: &ItemId,
        kind: EventKind,
        actor: &str,
        details: &EventDetails,
        logged_through: u64,
    ) -> Result<CustodyEvent, StoreError>;
    /// An item by digest.
    fn item_by_sha(&self, sha256: &Sha256) -> Result<Option<Item>, StoreError>;
    /// An item by its id, its digest, or a unique prefix of either (at least 4 characters,
    /// letters and digits only: anything else is `NotFound`).
    fn resolve(&self, query: &str) -> Result<Item, StoreError>;
    /// [`Catalog::resolve`] among the items of these cases only: `NotFound` and `Ambiguous`
    /// count no item outside them.
    fn resolve_in_cases(&self, query: &str, cases: &[String]) -> Result<Item, StoreError>;
    /// Every item, oldest first.
    fn items(&self) -> Result<Vec<Item>, StoreError>;
    /// An item's (or record's) custody events in order; none for an erased one, whose
    /// events keep only their log digests ([`EventRecord::frozen`]).
    fn events(&self, item: &ItemId) -> Result<Vec<CustodyEvent>, StoreError>;
    /// Every event as (seq, item id) in order, and the highest seq ever issued.
    fn event_index(&self) -> Result<(Vec<(u64, String)>, u64), StoreError>;
    /// Names of the cases an item belongs to.
    fn cases_of(&self, item: &ItemId) -> Result<Vec<String>, StoreError>;
    /// Keeps a sender's custody records for an item received in a package.
    fn add_received_custody(
        &mut self,
        item: &ItemId,
        records: &[ReceivedCustody],
    ) -> Result<(), StoreError>;
    /// The sender custody records kept for an item.
    fn received_custody(&self, item: &ItemId) -> Result<Vec<ReceivedCustody>, StoreError>;
    /// Queues a job per (item, kind) unless one exists.
    fn enqueue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<(), StoreError>;
    /// Queues a job per (item, kind): a new one, or a `done` one queued again (its attempts
    /// and error cleared, so it runs as a new job would). Queued, running and failed jobs
    /// are left as they are. Returns how many jobs were queued.
    fn requeue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<usize, StoreError>;
    /// How many jobs wait to run (queued, or running past their lease): a cheap check
    /// before [`Catalog::claim_job`], which writes.
    fn waiting_jobs(&self) -> Result<u64, StoreError>;
    /// Claims the next queued job for [`JOB_LEASE`] (state `running`, one more attempt, a new
    /// claim in [`Job::claim`]); None when none is left. Jobs still `running` past their
    /// lease (their process died, or stopped renewing) are first queued again, or failed
    /// once they have had `max_attempts`. Two claims never hold one job: processes claiming
    /// at once get different jobs. (A backend whose archive has a single writer may release
    /// every running job when that writer opens it.)
    fn claim_job(&mut self, max_attempts: u32) -> Result<Option<Job>, StoreError>;
    /// Extends the lease of `job` by [`JOB_LEASE`] from now while its claim still holds it;
    /// false, changing nothing, when it does not (its lease ran out and another claim took
    /// it, or it was finished).
    fn renew_job(&mut self, job: &Job) -> Result<bool, StoreError>;
    /// Records a job's outcome — its fingerprints (state `done`) or its error (`failed`
    /// after `max_attempts`, else queued again) — when `job`'s claim still holds it, and
    /// returns true; false, recording nothing, when it does not (another claim took it
    /// after its lease ran out): so a job runs to completion once.
    fn finish_job(
        &mut self,
        job: &Job,
        outcome: Result<&[Fingerprint], &str>,
        max_attempts: u32,
    ) -> Result<bool, StoreError>;
    /// Every job, in order.
    fn jobs(&self) -> Result<Vec<Job>, StoreError>;
    /// Records another digest of an item's bytes (e.g. `sha512`, lowercase hex). Callers
    /// compute it only from bytes checked against the item's SHA-256.
    fn set_digest(&mut self, item: &ItemId, algorithm: &str, hex: &str) -> Result<(), StoreError>;
    /// A digest recorded by [`Catalog::set_digest`]; None when not (yet) computed.
    fn digest(&self, item: &ItemId, algorithm: &str) -> Result<Option<String>, StoreError>;
    /// An item's fingerprints and metadata records.
    fn fingerprints(&self, item: &ItemId) -> Result<Vec<Fingerprint>, StoreError>;
    /// Items holding a `with` record whose `algorithm` record is missing or has a version
    /// that does not contain `generation`, in id order (records made by an earlier
    /// generation of the algorithm, to be made again).
    fn stale_fingerprints(
        &self,
        with: &str,
        algorithm: &str,
        generation: &str,
    ) -> Result<Vec<ItemId>, StoreError>;
    /// Every write of a fingerprint row after change number `after`, in order, as (change
    /// number, item, algorithm). Change numbers are never reused, so a cache built from the
    /// fingerprints can record the last one it saw and later read only what came since.
    fn fingerprint_changes(&self, after: u64) -> Result<Vec<(u64, ItemId, String)>, StoreError>;
    /// Items made from `source`, as (item, role).
    fn derived_from(&self, source: &ItemId) -> Result<Vec<(ItemId, String)>, StoreError>;
    /// The items of a case, oldest first. `NotFound` when there is no such case.
    fn case_items(&self, case: &str) -> Result<Vec<Item>, StoreError>;
    /// Events with `seq > after`, in order, at most `limit`.
    fn event_records(&self, after: u64, limit: usize) -> Result<Vec<EventRecord>, StoreError>;
    /// Events recorded but not yet appended to the custody log (in order).
    fn unlogged(&self) -> Result<Vec<u64>, StoreError>;
    /// Notes that every event up to `through` is in the custody log.
    fn mark_logged(&mut self, through: u64) -> Result<(), StoreError>;

    /// A documentation record by id, deleted ones included.
    fn record_by_id(&self, id: &str) -> Result<Option<StoredRecord>, StoreError>;
    /// Live records with this key (in every case and kind).
    fn records_with_key(&self, key: &str) -> Result<Vec<KeyedRecord>, StoreError>;
    /// Events with `seq > after` as (seq, subject id, kind), in order.
    fn event_subjects(&self, after: u64) -> Result<Vec<(u64, String, String)>, StoreError>;
    /// Every live record's key, with the record it names.
    fn record_keys(&self) -> Result<Vec<(String, KeyedRecord)>, StoreError>;
    /// Live records that refer to `id` (a record, or an item for links).
    fn referrers(&self, id: &str) -> Result<Vec<String>, StoreError>;
    /// Whether a case of this name exists (made by `ingest --case` or a case record).
    fn case_exists(&self, name: &str) -> Result<bool, StoreError>;
    /// Live records, optionally of one kind and one case, in id order.
    fn records(
        &self,
        kind: Option<RecordKind>,
        case: Option<&str>,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    /// A record value (canonical JSON) by its SHA-256: every version ever written is kept.
    fn record_value(&self, sha256: &Sha256) -> Result<Option<String>, StoreError>;
    /// Writes a batch of record changes in one durable transaction with one custody event
    /// each (queued for the log, dropping from the queue every event up to
    /// `logged_through`). Returns the events as stored, in order.
    fn write_records(
        &mut self,
        writes: &[RecordWrite],
        actor: &str,
        logged_through: u64,
    ) -> Result<Vec<EventRecord>, StoreError>;
    /// What `case` holds, for its erasure.
    fn case_holdings(&self, case: &str) -> Result<CaseHoldings, StoreError>;
    /// Erases `subjects` (items and records) of `case` in one transaction: each custody
    /// event of theirs keeps only the digests its log entry names (`frozen`, by event
    /// number: every one of their events must be there), their rows, values, digests,
    /// fingerprints, jobs and links go, and each is listed as erased at `at`.
    fn erase_subjects(
        &mut self,
        case: &str,
        at: &str,
        subjects: &[ItemId],
        frozen: &[(u64, crate::custody::Digests)],
    ) -> Result<(), StoreError>;
    /// Everything erased, by subject.
    fn erased(&self) -> Result<Vec<ErasedSubject>, StoreError>;
    /// For each of `ids` in order, what verification checks a documentation record
    /// against: [`Catalog::record_by_id`], [`Catalog::record_value`] of its digest and the
    /// last of its [`Catalog::events`], as those give them. A backend whose single-row
    /// queries cost a round trip each answers many ids at once; this default asks row by row.
    fn records_to_verify(&self, ids: &[&str]) -> Result<Vec<RecordToVerify>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let stored = match self.record_by_id(id) {
                Err(StoreError::Corrupt(why)) => Err(StoreError::Corrupt(why)),
                found => Ok(found?),
            };
            let (mut value, mut last_event) = (None, None);
            if let Ok(Some(s)) = &stored {
                value = self.record_value(&s.sha256)?;
                if let Some(subject) = ItemId::parse(id) {
                    last_event = self.events(&subject)?.pop();
                }
            }
            out.push(RecordToVerify {
                stored,
                value,
                last_event,
            });
        }
        Ok(out)
    }
}

/// A catalog and the accounts kept beside it, as one backend holds them: what an archive
/// opens, and what the server's readers are.
pub trait Database: Catalog + Accounts {}

impl<T: Catalog + Accounts + ?Sized> Database for T {}

/// A blob's bytes as a local file, for tools that need a path (FFmpeg, image decoders): the
/// store's own file when it has one, else a temporary copy removed when this is dropped.
#[derive(Debug)]
pub struct LocalBlob {
    path: PathBuf,
    temporary: bool,
}

impl LocalBlob {
    /// The blob `sha256` of `blobs` as a local file. `NotFound` when absent.
    pub fn of(blobs: &dyn BlobStore, sha256: &Sha256) -> Result<LocalBlob, StoreError> {
        match blobs.local_path(sha256) {
            Some(path) => Ok(LocalBlob {
                path,
                temporary: false,
            }),
            None => LocalBlob::copy(&mut blobs.open(sha256)?, &sha256.to_hex()[..16]),
        }
    }

    /// Copies `reader` to a new temporary file whose name includes `label`.
    pub fn copy(reader: &mut dyn Read, label: &str) -> Result<LocalBlob, StoreError> {
        let mut rnd = [0u8; 8];
        getrandom::getrandom(&mut rnd).map_err(|e| {
            StoreError::io(std::env::temp_dir(), std::io::Error::other(e.to_string()))
        })?;
        let path = std::env::temp_dir().join(format!(
            "athar-{}-{label}-{}",
            std::process::id(),
            hex::encode(rnd)
        ));
        let copy = LocalBlob {
            path,
            temporary: true,
        };
        let mut file =
            std::fs::File::create_new(&copy.path).map_err(|e| StoreError::io(&copy.path, e))?;
        std::io::copy(reader, &mut file).map_err(|e| StoreError::io(&copy.path, e))?;
        Ok(copy)
    }

    /// Where the bytes are.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalBlob {
    fn drop(&mut self) {
        if self.temporary {
            // Gone already when the copy failed before creating it.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
