//! Verification: every blob re-hashed, catalog and store checked against each other.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use athar_tlog::rfc6962::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::StoreError;
use crate::model::{Item, Sha256};
use crate::storage::{BlobStore, Catalog, RecordToVerify};

/// What kind of problem verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A blob's bytes no longer hash to its digest (or its size differs).
    Altered,
    /// A catalog item has no blob.
    Missing,
    /// A blob has no catalog item.
    Orphaned,
    /// Something in the blob store that is not a blob.
    Stray,
    /// An item has no custody event.
    NoCustody,
    /// A custody event was removed from the sequence.
    MissingEvent,
    /// A custody event names an item or record that does not exist.
    DanglingEvent,
    /// A documentation record's stored value does not hash to its digest, or does not
    /// match its last custody event.
    RecordAltered,
    /// A blob could not be read.
    Unreadable,
    /// The custody log's checkpoint is missing, unsigned, or signed by another key.
    LogCheckpoint,
    /// The custody log's checkpoint is older than one it had already signed, or covers
    /// fewer events than the catalog knows were logged: the log was rolled back or replaced.
    LogRolledBack,
    /// The custody log's leaves do not hash to the signed checkpoint's root.
    LogRoot,
    /// A tile or entry bundle is missing, altered, or malformed.
    LogTile,
    /// A catalog event and its log entry disagree (or one of them is missing).
    LogMismatch,
    /// A catalog event is not in the custody log.
    Unlogged,
    /// A time-stamp token, or the checkpoint it covers, does not check out.
    Timestamp,
}

/// One problem, naming what it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub items: usize,
    pub bytes: u64,
    pub problems: Vec<Problem>,
    /// Cases erased for good: their events are in the log, their content and records gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<ErasedCase>,
}

/// A case erased for good, as verification finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasedCase {
    pub case: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Items and records erased with it.
    pub subjects: usize,
}

/// Checks everything: each blob re-hashed (on `threads` threads, 0 = one per core), each
/// item has its blob and custody events, each blob has its item, the event sequence has
/// no gaps. `progress` receives the bytes hashed so far.
pub fn verify(
    catalog: &dyn Catalog,
    blobs: &dyn BlobStore,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, StoreError> {
    let items = catalog.items()?;
    let listing = blobs.list()?;
    let mut problems = Vec::new();
    let stored: HashSet<Sha256> = listing.blobs.iter().copied().collect();
    let known: HashMap<Sha256, &Item> = items.iter().map(|i| (i.sha256, i)).collect();

    for stray in &listing.strays {
        problems.push(Problem {
            kind: ProblemKind::Stray,
            item: None,
            sha256: None,
            detail: format!("unexpected entry in the blob store: {stray}"),
        });
    }
    let mut to_hash: Vec<(Sha256, Option<&Item>)> = Vec::new();
    for item in &items {
        if stored.contains(&item.sha256) {
            to_hash.push((item.sha256, Some(item)));
        } else {
            problems.push(Problem {
                kind: ProblemKind::Missing,
                item: Some(item.id.to_string()),
                sha256: Some(item.sha256.to_hex()),
                detail: format!("item {} has no blob {}", item.id, item.sha256),
            });
        }
    }
    for sha in &listing.blobs {
        if !known.contains_key(sha) {
            to_hash.push((*sha, None));
        }
    }
    let bytes = items
        .iter()
        .filter(|i| stored.contains(&i.sha256))
        .map(|i| i.size)
        .sum();

    // Re-hash in parallel; largest first so the threads finish together.
    to_hash.sort_by_key(|(_, item)| std::cmp::Reverse(item.map_or(0, |i| i.size)));
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        threads
    };
    let next = AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicU64::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, to_hash.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((sha, item)) = to_hash.get(i) else {
                    break;
                };
                let problem = check_blob(blobs, sha, *item);
                let size = item.map_or(0, |i| i.size);
                progress(done.fetch_add(size, Ordering::Relaxed) + size);
                if let Some(p) = problem {
                    if let Ok(mut f) = found.lock() {
                        f.push(p);
                    }
                }
            });
        }
    });
    let mut hashed = found.into_inner().unwrap_or_default();
    hashed.sort_by(|a, b| (a.kind, &a.sha256).cmp(&(b.kind, &b.sha256)));
    problems.extend(hashed);

    // Custody events: every item has some; every event has its item; no gaps.
    let (events, max_seq) = catalog.event_index()?;
    let ids: HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let erased_subjects = catalog.erased()?;
    let erased: HashSet<&str> = erased_subjects.iter().map(|e| e.subject.as_str()).collect();
    // Subjects neither items nor erased are records (checked now, in bulk) or dangling.
    let others: BTreeSet<&str> = events
        .iter()
        .map(|(_, item)| item.as_str())
        .filter(|item| !ids.contains(item) && !erased.contains(item))
        .collect();
    let records = check_records(catalog, &others.into_iter().collect::<Vec<_>>())?;
    let mut with_events: HashSet<&str> = HashSet::new();
    let mut seqs = BTreeSet::new();
    for (seq, item) in &events {
        seqs.insert(*seq);
        if ids.contains(item.as_str()) {
            with_events.insert(item.as_str());
        } else if erased.contains(item.as_str()) {
            // Erased with its case: its events stay, in the log and (frozen) in the catalog.
        } else if records.contains_key(item.as_str()) {
            // A documentation record: checked above.
        } else {
            problems.push(Problem {
                kind: ProblemKind::DanglingEvent,
                item: Some(item.clone()),
                sha256: None,
                detail: format!(
                    "custody event #{seq} names item {item}, which is not in the catalog"
                ),
            });
        }
    }
    for item in &items {
        if !with_events.contains(item.id.as_str()) {
            problems.push(Problem {
                kind: ProblemKind::NoCustody,
                item: Some(item.id.to_string()),
                sha256: Some(item.sha256.to_hex()),
                detail: format!("item {} has no custody event", item.id),
            });
        }
    }
    for (id, detail) in records {
        if let Some(detail) = detail {
            problems.push(Problem {
                kind: ProblemKind::RecordAltered,
                item: Some(id.to_owned()),
                sha256: None,
                detail,
            });
        }
    }
    let mut missing = (1..=max_seq).filter(|s| !seqs.contains(s)).peekable();
    while let Some(seq) = missing.next() {
        let mut end = seq;
        while missing.peek() == Some(&(end + 1)) {
            end += 1;
            missing.next();
        }
        let span = if end == seq {
            format!("#{seq}")
        } else {
            format!("#{seq} to #{end}")
        };
        problems.push(Problem {
            kind: ProblemKind::MissingEvent,
            item: None,
            sha256: None,
            detail: format!("custody event {span} removed from the catalog"),
        });
    }
    let mut cases: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for e in &erased_subjects {
        *cases.entry((e.case.as_str(), e.at.as_str())).or_default() += 1;
    }
    Ok(Report {
        ok: problems.is_empty(),
        items: items.len(),
        bytes,
        problems,
        erased: cases
            .into_iter()
            .map(|((case, at), subjects)| ErasedCase {
                case: case.to_owned(),
                at: at.to_owned(),
                subjects,
            })
            .collect(),
    })
}

/// How many records [`check_records`] asks the catalog about at once.
const RECORD_CHUNK: usize = 5_000;

/// Checks the documentation records among `subjects` (event subjects that are neither
/// items nor erased), asking the catalog in chunks. Returns each record found (one whose
/// stored row cannot be read back is one) with what [`check_record`] says of it; a subject
/// missing from the map is no record.
fn check_records<'a>(
    catalog: &dyn Catalog,
    subjects: &[&'a str],
) -> Result<BTreeMap<&'a str, Option<String>>, StoreError> {
    let mut records = BTreeMap::new();
    for chunk in subjects.chunks(RECORD_CHUNK) {
        let fetched = catalog.records_to_verify(chunk)?;
        if fetched.len() != chunk.len() {
            return Err(StoreError::Catalog(format!(
                "asked about {} records, the catalog answered {}",
                chunk.len(),
                fetched.len()
            )));
        }
        for (id, record) in chunk.iter().zip(fetched) {
            if matches!(record.stored, Ok(None)) {
                continue;
            }
            records.insert(*id, check_record(id, record)?);
        }
    }
    Ok(records)
}

/// Checks one documentation record, as the catalog gave it, against its value hash and its
/// last custody event.
fn check_record(id: &str, fetched: RecordToVerify) -> Result<Option<String>, StoreError> {
    let stored = match fetched.stored {
        Ok(Some(stored)) => stored,
        Ok(None) => return Ok(None),
        // A row naming a value it cannot be (another kind's): altered, and the rest is
        // checked all the same.
        Err(StoreError::Corrupt(why)) => return Ok(Some(format!("record {id}: {why}"))),
        Err(e) => return Err(e),
    };
    let canonical = stored.record.canonical();
    let actual = crate::records::value_hash(&canonical);
    if actual != stored.sha256 {
        return Ok(Some(format!(
            "record {id}: its stored value hashes to {actual}, not the recorded {}",
            stored.sha256
        )));
    }
    match fetched.value {
        Some(body) if body == canonical => {}
        _ => {
            return Ok(Some(format!(
                "record {id}: the value {} is not stored in canonical form",
                stored.sha256
            )))
        }
    }
    if crate::model::ItemId::parse(id).is_none() {
        return Ok(Some(format!("record {id}: the id is malformed")));
    }
    let last = fetched.last_event;
    let Some(crate::model::EventDetails::Record(change)) = last.map(|e| e.details) else {
        return Ok(Some(format!("record {id} has no record custody event")));
    };
    let deleted = change.action == "delete";
    if change.digest != stored.sha256 || deleted != stored.deleted {
        return Ok(Some(format!(
            "record {id} does not match its last custody event ({} of {})",
            change.action, change.digest
        )));
    }
    Ok(None)
}

fn check_blob(blobs: &dyn BlobStore, sha: &Sha256, item: Option<&Item>) -> Option<Problem> {
    let item_id = item.map(|i| i.id.to_string());
    match crate::retrieve::rehash_sized(blobs, sha, item.map(|i| i.size)) {
        Err(e) => Some(Problem {
            kind: ProblemKind::Unreadable,
            item: item_id,
            sha256: Some(sha.to_hex()),
            detail: format!("blob {sha} cannot be read: {e}"),
        }),
        Ok((actual, size)) => {
            if let Some(item) = item {
                if actual != *sha || size != item.size {
                    return Some(Problem {
                        kind: ProblemKind::Altered,
                        item: item_id,
                        sha256: Some(sha.to_hex()),
                        detail: format!(
                            "blob {sha} of item {} was altered: it now hashes to {actual} ({size} bytes, {} recorded)",
                            item.id, item.size
                        ),
                    });
                }
                None
            } else {
                let state = if actual == *sha {
                    "intact"
                } else {
                    "and altered"
                };
                Some(Problem {
                    kind: ProblemKind::Orphaned,
                    item: None,
                    sha256: Some(sha.to_hex()),
                    detail: format!("blob {sha} ({size} bytes, {state}) has no catalog item"),
                })
            }
        }
    }
}

/// What the custody log check found.
#[derive(Debug, Clone, Default)]
pub struct LogReport {
    /// Leaves covered by the signed checkpoint.
    pub size: u64,
    /// Time-stamp tokens that checked out, as `(tree size, file, what the token says)`.
    pub timestamps: Vec<(u64, String, String)>,
    pub problems: Vec<Problem>,
}

/// Checks one RFC 3161 token (DER) over a digest; names the file for messages. Returns what
/// the token attests (e.g. its time) or why it fails.
pub type TokenCheck<'a> = &'a dyn Fn(&[u8], &[u8; 32], &str) -> Result<String, String>;

fn log_problem(kind: ProblemKind, item: Option<String>, detail: String) -> Problem {
    Problem {
        kind,
        item,
        sha256: None,
        detail,
    }
}

/// Checks the custody log against its signed checkpoint and the catalog: the checkpoint's
/// signature; every entry bundle and hash tile recomputed from the entries (older partial
/// tiles included); the root; and each catalog event against its leaf, one to one. The
/// catalog's events are read in ranges of [`EVENTS_PER_READ`] as the leaves reach them.
pub fn verify_log(
    catalog: &dyn Catalog,
    store: &dyn crate::log::LogStore,
    verifier: &athar_tlog::Ed25519Verifier,
    secret: &[u8],
    check_token: TokenCheck<'_>,
) -> Result<LogReport, StoreError> {
    verify_log_in_ranges(
        catalog,
        store,
        verifier,
        secret,
        check_token,
        EVENTS_PER_READ,
    )
}

/// Custody events [`verify_log`] reads from the catalog at once: what it holds in memory of
/// them, whatever the log's size.
pub const EVENTS_PER_READ: usize = 65_536;

/// [`verify_log`], reading the catalog's events `events_per_read` at a time (at least one).
pub fn verify_log_in_ranges(
    catalog: &dyn Catalog,
    store: &dyn crate::log::LogStore,
    verifier: &athar_tlog::Ed25519Verifier,
    secret: &[u8],
    check_token: TokenCheck<'_>,
    events_per_read: usize,
) -> Result<LogReport, StoreError> {
    use athar_tlog::rfc6962;

    let mut report = LogReport::default();
    let Some(cp) = open_log_checkpoint(store, verifier, &mut report.problems)? else {
        return Ok(report);
    };
    let n = cp.size;
    report.size = n;
    let problems = &mut report.problems;
    if let Some(signed) = store.signed_size()?.filter(|&s| s > n) {
        problems.push(log_problem(
            ProblemKind::LogRolledBack,
            None,
            crate::log::LogError::RolledBack { size: n, signed }.to_string(),
        ));
    }

    let mut tiles = TileCheck::new(store, problems)?;
    let mut stamped = stamped_sizes(store, n, problems)?;
    let mut events = EventCursor::new(catalog, events_per_read.max(1));
    let leaves = check_leaves(&mut tiles, problems, n, secret, &mut events, &mut stamped)?;
    if let Some((level_hashes, root)) = leaves {
        check_upper_tiles(&mut tiles, problems, n, level_hashes)?;
        if root != cp.root {
            problems.push(log_problem(
                ProblemKind::LogRoot,
                None,
                format!("custody log entries do not hash to the signed checkpoint's root (size {n}): entries were altered, removed or reordered"),
            ));
        }
    }
    if let Some(slot) = stamped.get_mut(&0) {
        *slot = Some(rfc6962::empty_root());
    }
    for (size, root) in &stamped {
        check_timestamps(store, verifier, *size, *root, check_token, &mut report)?;
    }
    check_beyond_log(catalog, events, n, &mut report.problems)?;
    Ok(report)
}

/// Custody events read from the catalog in ranges as the leaves ask for them, so checking a
/// log of any size holds one range of events in memory, not all.
struct EventCursor<'a> {
    catalog: &'a dyn Catalog,
    /// Events read at once.
    chunk: usize,
    /// Read and not yet matched to a leaf, by sequence number.
    waiting: HashMap<u64, crate::storage::EventRecord>,
    /// The highest sequence number read so far.
    read_to: u64,
    /// Whether the catalog has no events after `read_to`.
    done: bool,
}

impl<'a> EventCursor<'a> {
    fn new(catalog: &'a dyn Catalog, chunk: usize) -> Self {
        EventCursor {
            catalog,
            chunk,
            waiting: HashMap::new(),
            read_to: 0,
            done: false,
        }
    }

    /// Reads the next range of events; false when there are none.
    fn read_more(&mut self) -> Result<bool, StoreError> {
        if self.done {
            return Ok(false);
        }
        let batch = self.catalog.event_records(self.read_to, self.chunk)?;
        if batch.len() < self.chunk {
            self.done = true;
        }
        let Some(last) = batch.last().map(|r| r.seq) else {
            return Ok(false);
        };
        self.read_to = self.read_to.max(last);
        self.waiting.extend(batch.into_iter().map(|r| (r.seq, r)));
        Ok(true)
    }

    /// Takes out the event of sequence number `seq`, reading ahead as far as it.
    fn take(&mut self, seq: u64) -> Result<Option<crate::storage::EventRecord>, StoreError> {
        while self.read_to < seq && self.read_more()? {}
        Ok(self.waiting.remove(&seq))
    }

    /// Every event not taken whose sequence number is above `n`, in order (read to the end).
    fn rest_beyond(mut self, n: u64) -> Result<Vec<crate::storage::EventRecord>, StoreError> {
        let mut rest: Vec<_> = self
            .waiting
            .drain()
            .map(|(_, r)| r)
            .filter(|r| r.seq > n)
            .collect();
        // Where the leaves stopped early (a missing or malformed tile), skip to the log's end.
        let mut after = self.read_to.max(n);
        while !self.done {
            let batch = self.catalog.event_records(after, self.chunk)?;
            self.done = batch.len() < self.chunk;
            after = batch.last().map_or(after, |r| r.seq);
            rest.extend(batch);
        }
        rest.sort_by_key(|r| r.seq);
        Ok(rest)
    }
}

/// The log's signed checkpoint, or None (with the problem recorded) when it is missing or
/// not signed by `verifier`.
fn open_log_checkpoint(
    store: &dyn crate::log::LogStore,
    verifier: &athar_tlog::Ed25519Verifier,
    problems: &mut Vec<Problem>,
) -> Result<Option<athar_tlog::Checkpoint>, StoreError> {
    use athar_tlog::note::NoteVerifier as _;
    let Some(bytes) = store.read("checkpoint")? else {
        problems.push(log_problem(
            ProblemKind::LogCheckpoint,
            None,
            "custody log checkpoint is missing".into(),
        ));
        return Ok(None);
    };
    match crate::log::open_checkpoint(&bytes, verifier.name(), verifier) {
        Ok(cp) => Ok(Some(cp)),
        Err(e) => {
            problems.push(log_problem(
                ProblemKind::LogCheckpoint,
                None,
                format!("custody log checkpoint rejected: {e}"),
            ));
            Ok(None)
        }
    }
}

/// Compares stored tile files (and every older partial of them) with the data recomputed
/// from the entries.
struct TileCheck<'a> {
    store: &'a dyn crate::log::LogStore,
    /// Older partial tiles and bundles kept beside the current ones: (entries?, level, index) -> widths.
    partials: HashMap<(bool, u8, u64), Vec<u16>>,
    /// Files read ahead ([`TileCheck::prefetch`]), by path.
    ahead: HashMap<String, Option<Vec<u8>>>,
}

/// Level-0 tiles whose files are read at once (a store over the network reads them
/// concurrently instead of one round trip each).
const TILES_READ_AHEAD: u64 = 64;

impl<'a> TileCheck<'a> {
    /// Lists the stored tiles; a file that is not a tile is a problem.
    fn new(
        store: &'a dyn crate::log::LogStore,
        problems: &mut Vec<Problem>,
    ) -> Result<Self, StoreError> {
        use athar_tlog::tile::{self, TilePath};
        let mut partials: HashMap<(bool, u8, u64), Vec<u16>> = HashMap::new();
        for path in store.list_tiles()? {
            match tile::parse_tile_path(&path) {
                Ok(TilePath::Hashes(t)) => partials
                    .entry((false, t.level, t.index))
                    .or_default()
                    .push(t.width),
                Ok(TilePath::Entries(t)) => partials
                    .entry((true, 0, t.index))
                    .or_default()
                    .push(t.width),
                Err(_) => problems.push(log_problem(
                    ProblemKind::LogTile,
                    None,
                    format!("unexpected file in the custody log: tile/{path}"),
                )),
            }
        }
        Ok(TileCheck {
            store,
            partials,
            ahead: HashMap::new(),
        })
    }

    /// Reads at once every file of the level-0 tiles `from..to` of a log of size `n` (entry
    /// bundles and hash tiles, older partials too), dropping what was read ahead before.
    fn prefetch(&mut self, from: u64, to: u64, n: u64) -> Result<(), StoreError> {
        use athar_tlog::tile::{self, Tile};
        let mut paths = Vec::new();
        for ti in from..to {
            let w = tile::tile_width_at(0, ti, n);
            for entries in [true, false] {
                let mut widths = self
                    .partials
                    .get(&(entries, 0, ti))
                    .cloned()
                    .unwrap_or_default();
                widths.push(w);
                for width in widths.into_iter().filter(|&x| x <= w) {
                    let t =
                        Tile::new(0, ti, width).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    paths.push(if entries { t.entries_path() } else { t.path() });
                }
            }
        }
        paths.sort();
        paths.dedup();
        let read = self.store.read_many(&paths)?;
        self.ahead = paths.into_iter().zip(read).collect();
        Ok(())
    }

    /// A log file's bytes, read ahead or now.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.ahead.get(path) {
            Some(bytes) => Ok(bytes.clone()),
            None => self.store.read(path),
        }
    }

    /// Compares the stored file of `t` and every older partial of it with `expected_parts`
    /// (the full data at width `t.width`), split into hashes or bundle entries.
    fn check(
        &mut self,
        problems: &mut Vec<Problem>,
        entries: bool,
        t: athar_tlog::tile::Tile,
        expected_parts: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        use athar_tlog::tile::{self, Tile, TILE_WIDTH};
        let key = (entries, t.level, t.index);
        let widths = self.partials.remove(&key).unwrap_or_default();
        let mut want_widths: Vec<u16> = widths
            .into_iter()
            .filter(|&w| w < t.width || w == TILE_WIDTH)
            .collect();
        if !want_widths.contains(&t.width) {
            want_widths.push(t.width);
        }
        for w in want_widths {
            if w > t.width {
                continue;
            }
            let tw =
                Tile::new(t.level, t.index, w).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let path = if entries {
                tw.entries_path()
            } else {
                tw.path()
            };
            let expected = if entries {
                let mut b = Vec::new();
                for e in &expected_parts[..usize::from(w)] {
                    let _ = tile::append_bundle_entry(&mut b, e);
                }
                b
            } else {
                expected_parts[..usize::from(w)].concat()
            };
            match self.read(&path)? {
                None if w == t.width => problems.push(log_problem(
                    ProblemKind::LogTile,
                    None,
                    format!("custody log file {path} is missing"),
                )),
                None => {}
                Some(stored) if stored != expected => problems.push(log_problem(
                    ProblemKind::LogTile,
                    None,
                    format!("custody log file {path} was altered"),
                )),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Checkpoints that were time-stamped (`timestamps/<size>/checkpoint` and its tokens), each
/// with a slot for the tree's root at that size.
fn stamped_sizes(
    store: &dyn crate::log::LogStore,
    n: u64,
    problems: &mut Vec<Problem>,
) -> Result<BTreeMap<u64, Option<Hash>>, StoreError> {
    let mut stamped: BTreeMap<u64, Option<Hash>> = BTreeMap::new();
    for dir in store.list("timestamps")? {
        match dir.parse::<u64>() {
            Ok(size) if size <= n => {
                stamped.insert(size, None);
            }
            _ => problems.push(log_problem(
                ProblemKind::Timestamp,
                None,
                format!("timestamps/{dir} does not belong to the signed log (size {n})"),
            )),
        }
    }
    Ok(stamped)
}

/// Reads every entry bundle of the log of size `n`, checks its files and each leaf against
/// its catalog event (taken from `events`), and fills the roots of `stamped` sizes.
/// Returns the roots of the full level-0 tiles and the tree's root, or None when a bundle is
/// missing or malformed (the rest of the tree cannot be recomputed).
fn check_leaves(
    tiles: &mut TileCheck<'_>,
    problems: &mut Vec<Problem>,
    n: u64,
    secret: &[u8],
    events: &mut EventCursor<'_>,
    stamped: &mut BTreeMap<u64, Option<Hash>>,
) -> Result<Option<(Vec<Hash>, Hash)>, StoreError> {
    use athar_tlog::rfc6962::{self, Frontier};
    use athar_tlog::tile::{self, Tile, TILE_WIDTH};
    let mut frontier = Frontier::new();
    let mut scratch = Vec::new();
    let mut level_hashes: Vec<Hash> = Vec::new(); // roots of full tiles of the level below
    let tiles0 = n.div_ceil(u64::from(TILE_WIDTH));
    for ti in 0..tiles0 {
        let w = tile::tile_width_at(0, ti, n);
        let t = Tile::new(0, ti, w).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if ti % TILES_READ_AHEAD == 0 {
            tiles.prefetch(ti, (ti + TILES_READ_AHEAD).min(tiles0), n)?;
        }
        let entries: Vec<Vec<u8>> = match tiles.read(&t.entries_path())? {
            None => {
                problems.push(log_problem(
                    ProblemKind::LogTile,
                    None,
                    format!("custody log file {} is missing", t.entries_path()),
                ));
                return Ok(None);
            }
            Some(data) => {
                match tile::decode_entry_bundle(&data) {
                    Ok(v) if v.len() == usize::from(w) => {
                        v.into_iter().map(<[u8]>::to_vec).collect()
                    }
                    _ => {
                        problems.push(log_problem(ProblemKind::LogTile, None, format!("custody log file {} is malformed or holds the wrong number of entries", t.entries_path())));
                        return Ok(None);
                    }
                }
            }
        };
        tiles.check(problems, true, t, &entries)?;
        let mut leaves = Vec::with_capacity(entries.len());
        for (k, e) in entries.iter().enumerate() {
            let index = ti * u64::from(TILE_WIDTH) + k as u64;
            let leaf = rfc6962::leaf_hash(e);
            frontier.append(leaf, &mut scratch);
            scratch.clear();
            if let Some(slot) = stamped.get_mut(&frontier.size()) {
                *slot = Some(frontier.root());
            }
            leaves.push(leaf.to_vec());
            check_leaf_event(problems, events.take(index + 1)?, secret, index, e);
        }
        tiles.check(problems, false, t, &leaves)?;
        if w == TILE_WIDTH {
            let hs: Vec<Hash> = leaves
                .iter()
                .filter_map(|l| l.as_slice().try_into().ok())
                .collect();
            level_hashes.push(rfc6962::root_from_leaf_hashes(&hs));
        }
    }
    Ok(Some((level_hashes, frontier.root())))
}

/// Checks log entry `e` at leaf `index` against `event`, the catalog's custody event of the
/// same sequence number (None when it has none).
fn check_leaf_event(
    problems: &mut Vec<Problem>,
    event: Option<crate::storage::EventRecord>,
    secret: &[u8],
    index: u64,
    e: &[u8],
) {
    let seq = index + 1;
    match event.as_ref() {
        None => problems.push(log_problem(
            ProblemKind::LogMismatch,
            None,
            format!("custody log leaf {index} has no custody event #{seq} in the catalog"),
        )),
        Some(r) => match crate::custody::entry_for(r, secret) {
            Err(msg) => problems.push(log_problem(
                ProblemKind::LogMismatch,
                Some(r.item.to_string()),
                msg,
            )),
            Ok(expected) => {
                if expected.encode() != *e {
                    problems.push(log_problem(
                        ProblemKind::LogMismatch,
                        Some(r.item.to_string()),
                        leaf_mismatch(r, index, e),
                    ));
                }
            }
        },
    }
}

/// Why catalog event `r` and the entry `e` logged for it at leaf `index` differ, in words
/// naming the event (a missing or wrong salt said as such).
fn leaf_mismatch(r: &crate::storage::EventRecord, index: u64, e: &[u8]) -> String {
    let seq = r.seq;
    let differs = format!(
        "custody event #{seq} of item {} differs from its custody log entry (leaf {index})",
        r.item
    );
    let Ok(logged) = crate::custody::LogEntry::parse(e) else {
        return differs;
    };
    let Some(sha) = r.sha256 else {
        return differs;
    };
    let details = crate::custody::details_digest(&r.details);
    match (logged.version(), &r.salt) {
        (2, None) => format!(
            "custody event #{seq} of item {}: its custody log entry (leaf {index}) is version 2, \
             but the catalog holds no salt for it",
            r.item
        ),
        (1, Some(_)) => format!(
            "custody event #{seq} of item {}: the catalog holds a salt for it, but its custody \
             log entry (leaf {index}) is version 1",
            r.item
        ),
        (2, Some(salt)) if logged.check(Some(salt), &sha, &details).is_err() => format!(
            "custody event #{seq} of item {}: the catalog's salt, content and details do not \
             open the commitments of its custody log entry (leaf {index}): a wrong salt, or \
             changed content or details",
            r.item
        ),
        _ => differs,
    }
}

/// Checks the tiles above level 0: each holds roots of full tiles of the level below,
/// starting from `level_hashes` (the roots of the full level-0 tiles).
fn check_upper_tiles(
    tiles: &mut TileCheck<'_>,
    problems: &mut Vec<Problem>,
    n: u64,
    mut level_hashes: Vec<Hash>,
) -> Result<(), StoreError> {
    use athar_tlog::rfc6962;
    use athar_tlog::tile::{Tile, TILE_WIDTH};
    let mut level = 1u8;
    while n >> (8 * u32::from(level)) > 0 {
        let mut next = Vec::new();
        for (ti, chunk) in level_hashes.chunks(usize::from(TILE_WIDTH)).enumerate() {
            let t = Tile::new(level, ti as u64, chunk.len() as u16)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let parts: Vec<Vec<u8>> = chunk.iter().map(|h| h.to_vec()).collect();
            tiles.check(problems, false, t, &parts)?;
            if chunk.len() == usize::from(TILE_WIDTH) {
                next.push(rfc6962::root_from_leaf_hashes(chunk));
            }
        }
        level_hashes = next;
        level += 1;
    }
    Ok(())
}

/// Reports the catalog's custody events beyond the log of size `n` (those `events` holds or
/// has still to read after the leaves were matched).
fn check_beyond_log(
    catalog: &dyn Catalog,
    events: EventCursor<'_>,
    n: u64,
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    let rest = events.rest_beyond(n)?;
    // Events leave the catalog's queue for the log only once logged: one beyond the log
    // and not queued was logged before, so the log once held at least that many events.
    let queued: HashSet<u64> = catalog.unlogged()?.into_iter().collect();
    if let Some(r) = rest.iter().rev().find(|r| !queued.contains(&r.seq)) {
        problems.push(log_problem(
            ProblemKind::LogRolledBack,
            None,
            format!(
                "custody log checkpoint covers {n} events, but the catalog's custody events \
                 up to #{} are no longer queued for the log, as only logged events are: the \
                 log should hold at least {} events and was rolled back or replaced (or the \
                 events were added to the catalog behind the log's back)",
                r.seq, r.seq
            ),
        ));
    }
    for r in rest {
        problems.push(log_problem(
            ProblemKind::Unlogged,
            Some(r.item.to_string()),
            format!(
                "custody event #{} of item {} is not in the custody log",
                r.seq, r.item
            ),
        ));
    }
    Ok(())
}

/// Checks the tokens stored for the checkpoint at `size`: the checkpoint is signed by this
/// log and matches the tree (`root`, None when the leaves could not be read), and every
/// token covers exactly that checkpoint's bytes.
fn check_timestamps(
    store: &dyn crate::log::LogStore,
    verifier: &athar_tlog::Ed25519Verifier,
    size: u64,
    root: Option<Hash>,
    check_token: TokenCheck<'_>,
    report: &mut LogReport,
) -> Result<(), StoreError> {
    use athar_tlog::note::NoteVerifier as _;
    use sha2::Digest;
    let dir = format!("timestamps/{size}");
    let bad = |detail: String| log_problem(ProblemKind::Timestamp, None, detail);
    let Some(cp_bytes) = store.read(&format!("{dir}/checkpoint"))? else {
        report
            .problems
            .push(bad(format!("{dir}/checkpoint is missing")));
        return Ok(());
    };
    match crate::log::open_checkpoint(&cp_bytes, verifier.name(), verifier) {
        Ok(cp) if cp.size == size && Some(cp.root) == root => {}
        Ok(_) => report.problems.push(bad(format!(
            "{dir}/checkpoint does not match the log at size {size}"
        ))),
        Err(e) => report.problems.push(bad(format!("{dir}/checkpoint: {e}"))),
    }
    let digest: [u8; 32] = sha2::Sha256::digest(&cp_bytes).into();
    for name in store.list(&dir)? {
        if name == "checkpoint" {
            continue;
        }
        let path = format!("{dir}/{name}");
        let Some(token) = store.read(&path)? else {
            continue;
        };
        match check_token(&token, &digest, &path) {
            Ok(what) => report.timestamps.push((size, path, what)),
            Err(why) => report.problems.push(bad(format!("{path}: {why}"))),
        }
    }
    Ok(())
}
