//! The custody log: an RFC 6962 Merkle tree whose leaf `seq - 1` is the entry of custody
//! event `seq`, stored as C2SP tiles with a signed C2SP checkpoint.
//!
//! Appends come in batches: the batch's tiles and entry bundles are written (each file
//! atomically, all durably), then one checkpoint covering them is signed and written. A
//! checkpoint never covers anything that is not durable.

use athar_tlog::note::{self, NoteSigner, Verifiers};
use athar_tlog::rfc6962::{self, Frontier, Hash, HashReader, TreeError};
use athar_tlog::tile::{self, Tile, TileHashReader, TileReader};
use athar_tlog::{Checkpoint, Ed25519Signer, Ed25519Verifier, TlogProof};

use crate::custody::LogEntry;
use crate::error::StoreError;
use crate::storage::Catalog;

/// Files of a log: `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`.
pub trait LogStore: Send + Sync {
    /// A file's bytes; None when it does not exist.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Several files' bytes, in the order asked (None for one that does not exist): a store
    /// reached over the network reads them concurrently.
    fn read_many(&self, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        paths.iter().map(|p| self.read(p)).collect()
    }
    /// Writes new immutable files: each appears complete or not at all, and all are durable
    /// on return. A file that already exists is left as it is.
    fn write_tiles(&self, files: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Replaces the checkpoint, atomically and durably.
    fn write_checkpoint(&self, signed: &[u8]) -> Result<(), StoreError>;
    /// Paths of every tile and entry bundle stored, sorted.
    fn list_tiles(&self) -> Result<Vec<String>, StoreError>;
    /// Writes a new file beside the log (e.g. `timestamps/<size>/checkpoint`), atomically and
    /// durably; refuses to replace one that exists.
    fn write_new(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// Names of the entries in a folder of the log, sorted; empty when it does not exist.
    fn list(&self, dir: &str) -> Result<Vec<String>, StoreError>;
    /// The largest tree size a checkpoint was written for, as last noted by
    /// [`LogStore::note_signed_size`]; None when never noted (or unreadable). A lower bound
    /// of what the log has signed: a checkpoint smaller than it was rolled back or replaced.
    fn signed_size(&self) -> Result<Option<u64>, StoreError>;
    /// Notes that a checkpoint of `size` leaves has been written (called after
    /// [`LogStore::write_checkpoint`] returns, so a crash can only leave it behind).
    fn note_signed_size(&self, size: u64) -> Result<(), StoreError>;
}

/// Why the log could not be read, appended to, or proved from.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("custody log: {0}")]
    Tree(#[from] TreeError),
    #[error("custody log tile: {0}")]
    Tile(#[from] tile::TileError),
    #[error("custody log checkpoint: {0}")]
    Note(#[from] note::NoteError),
    #[error("custody log checkpoint: {0}")]
    Checkpoint(#[from] athar_tlog::checkpoint::CheckpointError),
    #[error("custody log: {0}")]
    Invalid(String),
    /// The checkpoint covers fewer events than the log had already signed.
    #[error(
        "custody log checkpoint covers {size} events, but a checkpoint of {signed} events was \
         signed before: the log was rolled back or replaced (it should hold at least {signed} \
         events)"
    )]
    RolledBack { size: u64, signed: u64 },
}

/// Reads tiles through a [`LogStore`].
struct StoreTiles<'a>(&'a dyn LogStore);

impl TileReader for StoreTiles<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        let paths: Vec<String> = tiles.iter().map(Tile::path).collect();
        let read = self
            .0
            .read_many(&paths)
            .map_err(|e| TreeError::Tile(e.to_string()))?;
        tiles
            .iter()
            .zip(read)
            .map(|(t, d)| match d {
                Some(d) if d.len() == t.data_len() => Ok(d),
                Some(_) => Err(TreeError::Tile(format!("{} has the wrong size", t.path()))),
                None => Err(TreeError::Tile(format!("{} is missing", t.path()))),
            })
            .collect()
    }
}

/// Stored hashes: those below `start` from tiles, the rest from `fresh`.
struct Combined<'a, R> {
    old: &'a R,
    start: u64,
    fresh: &'a [Hash],
}

impl<R: HashReader> HashReader for Combined<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let old: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|&i| i < self.start)
            .collect();
        let mut from_old = if old.is_empty() {
            Vec::new()
        } else {
            self.old.read_hashes(&old)?
        }
        .into_iter();
        indexes
            .iter()
            .map(|&i| {
                if i < self.start {
                    from_old.next().ok_or(TreeError::NotFound(i))
                } else {
                    usize::try_from(i - self.start)
                        .ok()
                        .and_then(|k| self.fresh.get(k))
                        .copied()
                        .ok_or(TreeError::NotFound(i))
                }
            })
            .collect()
    }
}

/// The archive's custody log, open for appending and proving.
pub struct CustodyLog<'a> {
    store: &'a dyn LogStore,
    signer: Ed25519Signer,
    origin: String,
    frontier: Frontier,
    checkpoint: String,
    /// Reads hashes of the current tree, keeping upper-level tiles it has read.
    reader: TileHashReader<StoreTiles<'a>>,
}

impl std::fmt::Debug for CustodyLog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustodyLog")
            .field("origin", &self.origin)
            .field("size", &self.size())
            .finish()
    }
}

/// The checkpoint body for a tree.
fn checkpoint_text(origin: &str, size: u64, root: &Hash) -> String {
    Checkpoint {
        origin: origin.to_owned(),
        size,
        root: *root,
        extensions: Vec::new(),
    }
    .to_text()
}

impl<'a> CustodyLog<'a> {
    /// Opens the log; an empty store gets a signed checkpoint of the empty tree.
    pub fn open(
        store: &'a dyn LogStore,
        signer: Ed25519Signer,
    ) -> Result<CustodyLog<'a>, LogError> {
        let origin = signer.name().to_owned();
        let verifier = signer.verifier();
        let signed = store.signed_size()?;
        match store.read("checkpoint")? {
            None if signed.is_some_and(|s| s > 0) => Err(LogError::RolledBack {
                size: 0,
                signed: signed.unwrap_or_default(),
            }),
            None => {
                let text = checkpoint_text(&origin, 0, &rfc6962::empty_root());
                let signed = note::sign(&text, &[&signer])?;
                store.write_checkpoint(signed.as_bytes())?;
                Ok(CustodyLog {
                    store,
                    signer,
                    origin,
                    frontier: Frontier::new(),
                    checkpoint: signed,
                    reader: TileHashReader::new(0, StoreTiles(store)),
                })
            }
            Some(bytes) => {
                let cp = open_checkpoint(&bytes, &origin, &verifier)?;
                // Never build on (or re-sign over) a rolled-back checkpoint.
                if let Some(signed) = signed.filter(|&s| s > cp.size) {
                    return Err(LogError::RolledBack {
                        size: cp.size,
                        signed,
                    });
                }
                let reader = TileHashReader::new(cp.size, StoreTiles(store));
                let frontier = if cp.size == 0 {
                    Frontier::new()
                } else {
                    Frontier::from_reader(cp.size, &reader)?
                };
                if frontier.root() != cp.root {
                    return Err(LogError::Invalid(format!(
                        "tiles do not match the signed checkpoint (size {})",
                        cp.size
                    )));
                }
                let checkpoint = String::from_utf8_lossy(&bytes).into_owned();
                Ok(CustodyLog {
                    store,
                    signer,
                    origin,
                    frontier,
                    checkpoint,
                    reader,
                })
            }
        }
    }

    /// Leaves in the log.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The log's origin line (also its key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> &str {
        &self.checkpoint
    }

    /// The verifier key in C2SP signed-note form.
    pub fn vkey(&self) -> String {
        self.signer.verifier().vkey()
    }

    /// Appends entries as leaves `size()..`, writes their tiles durably, then signs and
    /// writes one checkpoint covering them.
    pub fn append(&mut self, entries: &[Vec<u8>]) -> Result<(), LogError> {
        if entries.is_empty() {
            return Ok(());
        }
        let old = self.size();
        let start = rfc6962::stored_hash_index(0, old);
        let mut frontier = self.frontier.clone();
        let mut fresh = Vec::with_capacity(entries.len() * 2);
        for e in entries {
            frontier.append(rfc6962::leaf_hash(e), &mut fresh);
        }
        let new = frontier.size();
        let old_reader = TileHashReader::new(old, StoreTiles(self.store));
        let reader = Combined {
            old: &old_reader,
            start,
            fresh: &fresh,
        };
        let mut files = Vec::new();
        for t in tile::new_tiles(old, new) {
            files.push((t.path(), tile::read_tile_data(&t, &reader)?));
            if t.level == 0 {
                let first = t.index * u64::from(tile::TILE_WIDTH);
                let mut bundle = Vec::new();
                if first < old {
                    // Entries already logged in this tile come from its previous bundle.
                    let w = u16::try_from(old - first)
                        .map_err(|_| LogError::Invalid("tile width".into()))?;
                    let prev = Tile::new(0, t.index, w)?;
                    let data = self.store.read(&prev.entries_path())?.ok_or_else(|| {
                        LogError::Invalid(format!("{} is missing", prev.entries_path()))
                    })?;
                    bundle = data;
                }
                let from = first.max(old);
                let to = first + u64::from(t.width);
                for i in from..to {
                    let e = usize::try_from(i - old).ok().and_then(|k| entries.get(k));
                    let e = e.ok_or_else(|| LogError::Invalid("entry index".into()))?;
                    tile::append_bundle_entry(&mut bundle, e)?;
                }
                files.push((t.entries_path(), bundle));
            }
        }
        self.store.write_tiles(&files)?;
        let text = checkpoint_text(&self.origin, new, &frontier.root());
        let signed = note::sign(&text, &[&self.signer])?;
        self.store.write_checkpoint(signed.as_bytes())?;
        self.store.note_signed_size(new)?;
        self.frontier = frontier;
        self.checkpoint = signed;
        self.reader = TileHashReader::new(new, StoreTiles(self.store));
        Ok(())
    }

    /// The entry bytes of leaf `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, LogError> {
        read_entry(self.store, self.size(), index)
    }

    /// A C2SP tlog-proof of leaf `index` against the latest checkpoint, with the entry bytes
    /// as its `extra` data.
    pub fn proof(&self, index: u64) -> Result<TlogProof, LogError> {
        let hashes = self.inclusion_proof(index)?;
        Ok(TlogProof {
            extra: Some(self.entry(index)?),
            index,
            hashes,
            checkpoint: self.checkpoint.clone(),
        })
    }

    /// The inclusion proof hashes of leaf `index` in the current tree, read from tiles.
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>, LogError> {
        Ok(rfc6962::inclusion_proof(self.size(), index, &self.reader)?)
    }

    /// A consistency proof from an older tree size to the current one.
    pub fn consistency(&self, old_size: u64) -> Result<Vec<Hash>, LogError> {
        Ok(rfc6962::consistency_proof(
            old_size,
            self.size(),
            &self.reader,
        )?)
    }

    /// A signed checkpoint of the tree's first `size` leaves (`size` at most the log's size).
    /// Signatures are deterministic (Ed25519), so the same size always gives the same bytes.
    pub fn checkpoint_at(&self, size: u64) -> Result<String, LogError> {
        if size > self.size() {
            return Err(LogError::Invalid(format!(
                "no checkpoint of size {size}: the log holds {} events",
                self.size()
            )));
        }
        let root = if size == 0 {
            rfc6962::empty_root()
        } else {
            rfc6962::tree_hash(size, &self.reader)?
        };
        Ok(note::sign(
            &checkpoint_text(&self.origin, size, &root),
            &[&self.signer],
        )?)
    }

    /// The inclusion proof hashes of leaf `index` in the tree's first `size` leaves (the
    /// tree of [`CustodyLog::checkpoint_at`]`(size)`).
    pub fn inclusion_proof_at(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        if size > self.size() {
            return Err(LogError::Invalid(format!(
                "no tree of size {size}: the log holds {} events",
                self.size()
            )));
        }
        Ok(rfc6962::inclusion_proof(size, index, &self.reader)?)
    }

    /// A consistency proof between two tree sizes, both at most the log's size.
    pub fn consistency_between(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, LogError> {
        if new_size > self.size() {
            return Err(LogError::Invalid(format!(
                "no tree of size {new_size}: the log holds {} events",
                self.size()
            )));
        }
        Ok(rfc6962::consistency_proof(
            old_size,
            new_size,
            &self.reader,
        )?)
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

/// Parses and verifies a checkpoint signed by `verifier` for `origin`.
pub fn open_checkpoint(
    bytes: &[u8],
    origin: &str,
    verifier: &Ed25519Verifier,
) -> Result<Checkpoint, LogError> {
    let known = Verifiers::new(&[verifier]);
    let opened = note::open(bytes, &known)?;
    let cp = Checkpoint::parse(&opened.text)?;
    if cp.origin != origin {
        return Err(LogError::Invalid(format!(
            "checkpoint origin {:?}, expected {origin:?}",
            cp.origin
        )));
    }
    Ok(cp)
}

/// The entry bytes of leaf `index` in a tree of `size` leaves.
pub fn read_entry(store: &dyn LogStore, size: u64, index: u64) -> Result<Vec<u8>, LogError> {
    if index >= size {
        return Err(LogError::Invalid(format!(
            "leaf {index} is beyond the log's size {size}"
        )));
    }
    let n = index / u64::from(tile::TILE_WIDTH);
    let w = tile::tile_width_at(0, n, size);
    let t = Tile::new(0, n, w)?;
    let data = store
        .read(&t.entries_path())?
        .ok_or_else(|| LogError::Invalid(format!("{} is missing", t.entries_path())))?;
    let entries = tile::decode_entry_bundle(&data)?;
    let k = usize::try_from(index - n * u64::from(tile::TILE_WIDTH)).unwrap_or(usize::MAX);
    entries
        .get(k)
        .map(|e| e.to_vec())
        .ok_or_else(|| LogError::Invalid(format!("{} holds too few entries", t.entries_path())))
}

/// A parsed entry with its leaf index.
pub fn parse_entry(index: u64, bytes: &[u8]) -> Result<LogEntry, LogError> {
    LogEntry::parse(bytes).map_err(|e| LogError::Invalid(format!("leaf {index}: {e}")))
}

/// The custody log together with the secret that turns actors into pseudonyms: what a
/// writer needs to log the catalog's events.
#[derive(Debug)]
pub struct Logger<'a> {
    pub log: CustodyLog<'a>,
    pub secret: Vec<u8>,
}

impl Logger<'_> {
    /// Records one event about an existing item and appends it to the log (its own batch,
    /// its own checkpoint) before returning.
    pub fn record(
        &mut self,
        catalog: &mut dyn Catalog,
        item: &crate::model::ItemId,
        kind: crate::model::EventKind,
        actor: &str,
        details: &crate::model::EventDetails,
    ) -> Result<crate::model::CustodyEvent, LogError> {
        let event = catalog.record_event(item, kind, actor, details, self.log.size())?;
        self.catch_up(catalog)?;
        Ok(event)
    }

    /// [`Logger::catch_up`] for a caller that has just written `events` (as the catalog
    /// stored them): when they are exactly what the catalog has queued beyond the log, their
    /// entries are made from memory instead of reading every event back; otherwise this is
    /// `catch_up`.
    pub fn catch_up_with(
        &mut self,
        catalog: &mut dyn Catalog,
        events: &[crate::storage::EventRecord],
    ) -> Result<u64, LogError> {
        let size = self.log.size();
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return self.catch_up(catalog);
        };
        let contiguous = first.seq == size + 1
            && events
                .iter()
                .enumerate()
                .all(|(i, e)| e.seq == size + 1 + i as u64);
        if !contiguous {
            return self.catch_up(catalog);
        }
        // The queue beyond the log holds exactly these events, and the catalog nothing after.
        let queued = catalog.unlogged()?;
        let beyond: Vec<u64> = queued.into_iter().filter(|&q| q > size).collect();
        if beyond.len() != events.len()
            || beyond.iter().zip(events).any(|(&q, e)| q != e.seq)
            || !catalog.event_records(last.seq, 1)?.is_empty()
        {
            return self.catch_up(catalog);
        }
        let mut entries = Vec::with_capacity(events.len());
        let mut pseudonyms: std::collections::HashMap<&str, String> =
            std::collections::HashMap::new();
        for r in events {
            let e = crate::custody::entry_for_actor(r, |actor| {
                pseudonyms
                    .entry(actor)
                    .or_insert_with(|| crate::custody::pseudonym(&self.secret, actor))
                    .clone()
            })
            .map_err(LogError::Invalid)?;
            entries.push(e.encode());
        }
        self.log.append(&entries)?;
        Ok(entries.len() as u64)
    }

    /// Appends every event the catalog has queued for the log (one batch, one checkpoint).
    /// Returns how many were appended. The queue keeps the appended events until the
    /// catalog's next `record` (or `mark_logged`) drops them, saving a commit per batch;
    /// queued events the log already holds are never appended twice.
    ///
    /// An event in the catalog beyond the log that was never queued is not appended: that
    /// is an inconsistency for `verify` to report, not something to paper over.
    pub fn catch_up(&mut self, catalog: &mut dyn Catalog) -> Result<u64, LogError> {
        let size = self.log.size();
        let queued = catalog.unlogged()?;
        if queued.last().is_none_or(|&last| last <= size) {
            return Ok(0);
        }
        let records = catalog.event_records(size, usize::MAX)?;
        let queued: std::collections::HashSet<u64> = queued.into_iter().collect();
        let mut entries = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            if r.seq != size + 1 + i as u64 {
                return Err(LogError::Invalid(format!(
                    "custody event #{} is missing from the catalog; the log holds {size} events",
                    size + 1 + i as u64
                )));
            }
            if !queued.contains(&r.seq) {
                // Events leave the queue only once logged: this one was never queued, or
                // it was logged and the log has since been rolled back.
                return Err(LogError::Invalid(format!(
                    "custody event #{} is in the catalog beyond the custody log ({size} \
                     events) but not queued for it: it was never queued, or the log was \
                     rolled back",
                    r.seq
                )));
            }
            let e = crate::custody::entry_for(r, &self.secret).map_err(LogError::Invalid)?;
            entries.push(e.encode());
        }
        self.log.append(&entries)?;
        Ok(entries.len() as u64)
    }
}
