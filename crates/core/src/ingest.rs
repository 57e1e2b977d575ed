//! Ingest: preserve files and folders. Each file is read once, hashed while it is copied
//! into the blob store, and acknowledged only once both its bytes and its catalog rows are
//! durable.
//!
//! Crash safety: a batch of blobs is (1) written to temporary files and synced, (2) recorded
//! as pending in the catalog, (3) published under their digests, and (4) recorded as items
//! and custody events in one transaction that also clears the pending records and queues the
//! events for the custody log; (5) the queued events are appended to the custody log under
//! one new checkpoint; (6) the background jobs of the new items are queued. Only then are the
//! files acknowledged. [`recover`] undoes whatever an interrupted run left between (2) and
//! (4); the log's `catch_up` finishes (5); `athar jobs --run` queues what (6) missed.
//!
//! Every path that makes files items (ingest, uploads through [`commit_staged`], bags through
//! [`crate::handover::import_bag`], Athar's own derived files) goes through one commit, and
//! that commit owns what follows it: callers queue no jobs themselves. Files Athar derived
//! get none (`jobs::enqueue_committed`).

use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use sha2::Digest;

use crate::error::{CoreError, StoreError};
use crate::log::Logger;
use crate::model::{CaptureOrigin, NewItem, Sha256, Sighting, TOOL_VERSION};
use crate::storage::{BlobStore, Catalog, PendingBlob, RecordedEntry};

/// Bytes read per chunk.
const CHUNK: usize = 1 << 20;
/// Bytes sniffed for the media type.
const SNIFF: usize = 8192;
/// A batch is committed when it holds this many files ... (Each batch pays a fixed cost —
/// filesystem flushes, transactions, a custody log append and checkpoint — about as much as
/// a thousand small files' renames and rows: measured on 10,000 files of 16 KiB, batches of
/// 1024 made the committer, not the readers, the bottleneck; bench/small_files.sh.)
const BATCH_FILES: usize = 4096;
/// ... or this many bytes ...
const BATCH_BYTES: u64 = 512 << 20;
/// ... or when no further file has arrived for this long.
const BATCH_IDLE: Duration = Duration::from_millis(20);

/// What the collector says about this ingest.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub case: Option<String>,
    pub source: Option<String>,
    pub note: Option<String>,
    /// Who collects (configured investigator name, else the OS user).
    pub collector: String,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// When the files are a web capture's bundle: each gets a `capture` custody event.
    pub capture: Option<CaptureFiles>,
}

/// A web capture's bundle being preserved: where it is, what was captured, what each file is.
#[derive(Debug, Clone, Default)]
pub struct CaptureFiles {
    /// The bundle's folder (absolute).
    pub dir: PathBuf,
    pub url: String,
    /// When the capture started (RFC 3339, UTC).
    pub started: String,
    /// Each file's role, by its path within `dir`.
    pub roles: BTreeMap<PathBuf, String>,
}

/// A file that could not be preserved, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// A file made durable.
#[derive(Debug, Clone)]
pub struct Stored {
    pub path: PathBuf,
    pub entry: RecordedEntry,
}

/// Progress reported while ingesting, in file order.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The walk is done: this many files and bytes will be read.
    Planned { files: usize, bytes: u64 },
    /// A file was read (not yet durable).
    Read { bytes: u64 },
    /// A file is durable and recorded.
    Stored(&'a Stored),
    /// A file could not be preserved.
    Failed(&'a FileError),
}

/// Totals of one ingest run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestSummary {
    pub stored: usize,
    pub new_items: usize,
    pub bytes: u64,
    pub failed: usize,
}

/// Preserves every file under `paths` (folders recursively, in name order).
///
/// Per-file problems are reported through `progress` and counted; the run goes on. An
/// error is returned only when the archive itself cannot be written.
pub fn ingest(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    paths: &[PathBuf],
    opts: &IngestOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<IngestSummary, CoreError> {
    let mut summary = IngestSummary::default();
    let walk = walk(paths);
    let planned_bytes = walk.files.iter().map(|f| f.size).sum();
    progress(Progress::Planned {
        files: walk.files.len(),
        bytes: planned_bytes,
    });
    // Walk errors are reported first, in order.
    for err in &walk.errors {
        summary.failed += 1;
        progress(Progress::Failed(err));
    }
    let files = walk.files;
    if files.is_empty() {
        return Ok(summary);
    }
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    }
    .clamp(1, files.len());

    let next = AtomicUsize::new(0);
    // Room for the readers to go on while a batch commits (its flushes and renames take
    // as long as reading many small files): a full channel would stop them. What waits in
    // it is small (a path and a pending blob's name), never file contents.
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Preserved, FileError>)>(2 * BATCH_FILES);
    std::thread::scope(|scope| -> Result<(), CoreError> {
        for _ in 0..threads {
            let tx = tx.clone();
            let files = &files;
            let next = &next;
            scope.spawn(move || {
                let mut buf = Vec::with_capacity(CHUNK);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let result = preserve(file, blobs, &mut buf);
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        logger.catch_up(catalog)?;
        let mut committer = Committer {
            catalog,
            blobs,
            logger,
            opts,
            batch: Vec::new(),
            batch_bytes: 0,
            summary: &mut summary,
        };
        let mut waiting: BTreeMap<usize, Result<Preserved, FileError>> = BTreeMap::new();
        let mut next_in_order = 0usize;
        let result = (|| -> Result<(), CoreError> {
            loop {
                let received = match rx.recv_timeout(BATCH_IDLE) {
                    Ok(r) => Some(r),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                match received {
                    None => committer.flush(progress)?,
                    Some((i, r)) => {
                        if let Ok(p) = &r {
                            progress(Progress::Read { bytes: p.size });
                        }
                        waiting.insert(i, r);
                        while let Some(r) = waiting.remove(&next_in_order) {
                            next_in_order += 1;
                            match r {
                                Ok(p) => committer.push(p, progress)?,
                                Err(e) => {
                                    // Keep output in file order: what came before is
                                    // flushed before the failure is reported.
                                    committer.flush(progress)?;
                                    committer.summary.failed += 1;
                                    progress(Progress::Failed(&e));
                                }
                            }
                        }
                    }
                }
            }
            committer.flush(progress)
        })();
        if result.is_err() {
            // Stop the workers and drop whatever they still hand over.
            next.store(usize::MAX / 2, Ordering::Relaxed);
            for (_, r) in rx.iter() {
                if let Ok(p) = r {
                    if let Some(b) = p.blob {
                        blobs.abandon(b);
                    }
                }
            }
            for (_, r) in std::mem::take(&mut waiting) {
                if let Ok(p) = r {
                    if let Some(b) = p.blob {
                        blobs.abandon(b);
                    }
                }
            }
            for p in std::mem::take(&mut committer.batch) {
                if let Some(b) = p.blob {
                    blobs.abandon(b);
                }
            }
        }
        result
    })?;
    Ok(summary)
}

/// Undoes what an interrupted ingest left behind: temporary files, and published blobs
/// whose catalog rows never committed. Returns (temporary files, blobs) removed.
pub fn recover(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
) -> Result<(usize, usize), StoreError> {
    let temps = blobs.clear_temporary()?;
    let pending = catalog.pending()?;
    let mut removed = 0;
    for sha in &pending {
        if catalog.item_by_sha(sha)?.is_none() {
            blobs.remove_unacknowledged(sha)?;
            removed += 1;
        }
    }
    catalog.clear_pending(&pending)?;
    Ok((temps, removed))
}

struct Committer<'a, 'l> {
    catalog: &'a mut dyn Catalog,
    blobs: &'a dyn BlobStore,
    logger: &'a mut Logger<'l>,
    opts: &'a IngestOptions,
    batch: Vec<Preserved>,
    batch_bytes: u64,
    summary: &'a mut IngestSummary,
}

impl Committer<'_, '_> {
    fn push(
        &mut self,
        p: Preserved,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(), CoreError> {
        self.batch_bytes += p.size;
        self.batch.push(p);
        if self.batch.len() >= BATCH_FILES || self.batch_bytes >= BATCH_BYTES {
            self.flush(progress)?;
        }
        Ok(())
    }

    fn flush(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(), CoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let mut pending = Vec::new();
        let mut entries = Vec::with_capacity(batch.len());
        let mut paths = Vec::with_capacity(batch.len());
        for p in batch {
            if let Some(b) = p.blob {
                pending.push(b);
            }
            paths.push(p.path);
            entries.push(p.item);
        }
        let at = crate::now_rfc3339();
        for e in &mut entries {
            e.at.clone_from(&at);
            annotate(&mut e.sighting, self.opts);
        }
        let recorded = commit(
            self.catalog,
            self.blobs,
            &mut *self.logger,
            pending,
            &entries,
            self.opts.case.as_deref(),
        )?;
        for (entry, path) in recorded.into_iter().zip(paths) {
            self.summary.stored += 1;
            self.summary.bytes += entry.item.size;
            if entry.new {
                self.summary.new_items += 1;
            }
            progress(Progress::Stored(&Stored { path, entry }));
        }
        Ok(())
    }
}

/// Preserves one file whose bytes were received, hashed and staged elsewhere (an upload):
/// `blob` holds the bytes (see [`BlobStore::adopt_local`]), `item` says what they are and
/// who collected them. The same durable steps as [`ingest`] follow; the item (or a sighting
/// of an existing one) is recorded, linked to `item.sighting.case`, and logged.
pub fn commit_staged(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    blob: PendingBlob,
    mut item: NewItem,
) -> Result<RecordedEntry, CoreError> {
    if blob.sha256 != item.sha256 || blob.size != item.size {
        blobs.abandon(blob);
        return Err(CoreError::Store(StoreError::Corrupt(
            "staged blob does not match the item recorded for it".to_owned(),
        )));
    }
    item.at = crate::now_rfc3339();
    let case = item.sighting.case.clone();
    let recorded = commit(
        catalog,
        blobs,
        logger,
        vec![blob],
        std::slice::from_ref(&item),
        case.as_deref(),
    )?;
    recorded
        .into_iter()
        .next()
        .ok_or_else(|| CoreError::Store(StoreError::Corrupt("nothing recorded".to_owned())))
}

/// Makes pending blobs and their catalog rows durable and logged, in the order that keeps
/// a crash harmless: (1) bytes durable, (2) intent durable, (3) names durable, (4) rows
/// durable, (5) events in the custody log, (6) jobs queued for the items it created from
/// collected files.
pub(crate) fn commit(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    mut pending: Vec<PendingBlob>,
    entries: &[NewItem],
    case: Option<&str>,
) -> Result<Vec<RecordedEntry>, CoreError> {
    let published = (|| {
        blobs.sync(&mut pending)?;
        let shas: Vec<Sha256> = pending.iter().map(|b| b.sha256).collect();
        catalog.add_pending(&shas)?;
        blobs.publish(std::mem::take(&mut pending))
    })();
    if let Err(e) = published {
        for b in pending {
            blobs.abandon(b);
        }
        return Err(e.into());
    }
    let recorded = catalog.record(entries, case, logger.log.size())?;
    logger.catch_up(catalog)?;
    crate::jobs::enqueue_committed(catalog, entries, &recorded)?;
    Ok(recorded)
}

/// A file read, hashed and copied to a pending blob.
struct Preserved {
    path: PathBuf,
    size: u64,
    item: NewItem,
    /// None when the store already held these bytes.
    blob: Option<PendingBlob>,
}

#[derive(Debug)]
struct Planned {
    /// As given (for messages and output).
    path: PathBuf,
    /// Made absolute (recorded in the sighting).
    absolute: PathBuf,
    size: u64,
}

struct Walk {
    files: Vec<Planned>,
    errors: Vec<FileError>,
}

fn walk(paths: &[PathBuf]) -> Walk {
    let mut w = Walk {
        files: Vec::new(),
        errors: Vec::new(),
    };
    for p in paths {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        visit(p, &absolute, &mut Vec::new(), &mut w);
    }
    w
}

fn file_error(path: &Path, message: impl Into<String>) -> FileError {
    FileError {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(40) => "symbolic link loop (too many levels of symbolic links)".to_owned(),
        Some(28) => "no space left on the archive's device".to_owned(),
        _ => match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => e.to_string(),
        },
    }
}

fn kind_name(m: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_char_device() {
        "a character device"
    } else {
        "not a regular file"
    }
}

fn visit(path: &Path, absolute: &Path, ancestors: &mut Vec<(u64, u64)>, w: &mut Walk) {
    // Follow symbolic links: a link is collected as what it points to.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            // A dangling link exists but cannot be followed.
            let msg = if e.kind() == std::io::ErrorKind::NotFound
                && std::fs::symlink_metadata(path).is_ok()
            {
                "symbolic link points to nothing (dangling)".to_owned()
            } else {
                describe_io(&e)
            };
            w.errors.push(file_error(path, msg));
            return;
        }
    };
    if meta.is_file() {
        w.files.push(Planned {
            path: path.to_owned(),
            absolute: absolute.to_owned(),
            size: meta.len(),
        });
    } else if meta.is_dir() {
        let id = (meta.dev(), meta.ino());
        if ancestors.contains(&id) {
            w.errors.push(file_error(
                path,
                "directory loop through a symbolic link; skipped",
            ));
            return;
        }
        let mut entries: Vec<std::ffi::OsString> = match std::fs::read_dir(path) {
            Ok(rd) => {
                let mut v = Vec::new();
                for entry in rd {
                    match entry {
                        Ok(e) => v.push(e.file_name()),
                        Err(e) => w.errors.push(file_error(path, describe_io(&e))),
                    }
                }
                v
            }
            Err(e) => {
                w.errors.push(file_error(
                    path,
                    format!("cannot read folder: {}", describe_io(&e)),
                ));
                return;
            }
        };
        entries.sort();
        ancestors.push(id);
        for name in entries {
            visit(&path.join(&name), &absolute.join(&name), ancestors, w);
        }
        ancestors.pop();
    } else {
        w.errors.push(file_error(
            path,
            format!("{}: only regular files are collected", kind_name(&meta)),
        ));
    }
}

fn mtime_of(m: &Metadata) -> (i64, i64) {
    (m.mtime(), m.mtime_nsec())
}

fn rfc3339_of(secs: i64, nsec: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    let t = t + time::Duration::nanoseconds(nsec);
    Some(crate::format_time(t))
}

fn preserve(
    planned: &Planned,
    blobs: &dyn BlobStore,
    buf: &mut Vec<u8>,
) -> Result<Preserved, FileError> {
    let path = &planned.path;
    let io = |e: std::io::Error| file_error(path, describe_io(&e));
    // Non-blocking open: a FIFO swapped in after the walk must not hang the run.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(io)?;
    let before = file.metadata().map_err(io)?;
    if !before.is_file() {
        return Err(file_error(
            path,
            format!("{}: only regular files are collected", kind_name(&before)),
        ));
    }
    let size = before.len();
    let mut writer = blobs.writer(size).map_err(|e| {
        file_error(
            path,
            format!("cannot write to the archive: {}", store_msg(&e)),
        )
    })?;
    let mut hasher = sha2::Sha256::new();
    let mut total: u64 = 0;
    let mut media_type = None;
    let mut at_end = false;
    // One byte more than the file should hold, so growth shows; never more than a chunk.
    // (Sizing the buffer to the file keeps small files from paying for a 1 MiB memset.)
    let want = usize::try_from(size).map_or(CHUNK, |s| s.saturating_add(1).min(CHUNK));
    while !at_end {
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let n = read_chunk(&file, &mut buf[..want]).map_err(io)?;
        // A short chunk means the read loop saw the end of the file.
        at_end = n < want;
        if n == 0 {
            break;
        }
        if media_type.is_none() {
            media_type = Some(crate::media_type::detect(&buf[..n.min(SNIFF)], size));
        }
        total += n as u64;
        if total > size {
            break;
        }
        buf.truncate(n);
        hasher.update(&buf[..]);
        let full = std::mem::take(buf);
        *buf = writer.write_chunk(full).map_err(|e| {
            file_error(
                path,
                format!("cannot write to the archive: {}", store_msg(&e)),
            )
        })?;
    }
    let after = file.metadata().map_err(io)?;
    if total != size || after.len() != size || mtime_of(&after) != mtime_of(&before) {
        return Err(file_error(
            path,
            "the file changed while it was being read (size or modification time moved); not collected",
        ));
    }
    let sha = Sha256(hasher.finalize().into());
    let blob = writer.finish(sha).map_err(|e| {
        file_error(
            path,
            format!("cannot write to the archive: {}", store_msg(&e)),
        )
    })?;
    let (secs, nsec) = mtime_of(&before);
    let item = NewItem {
        sha256: sha,
        size,
        media_type: media_type.unwrap_or_else(|| crate::media_type::detect(&[], size)),
        derived: None,
        sighting: Sighting {
            original_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            original_path: planned.absolute.to_string_lossy().into_owned(),
            file_mtime: rfc3339_of(secs, nsec),
            tool_version: TOOL_VERSION.to_owned(),
            ..Sighting::default()
        },
        at: String::new(),
    };
    Ok(Preserved {
        path: path.clone(),
        size,
        item,
        blob: Some(blob),
    })
}

fn store_msg(e: &StoreError) -> String {
    match e {
        StoreError::Io { path, source } => format!("{}: {}", path.display(), describe_io(source)),
        other => other.to_string(),
    }
}

/// Fills `buf` (already `CHUNK` long) from the file; returns the bytes read, 0 at the end.
fn read_chunk(mut file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(std::io::Error::other("not a regular file (would block)"))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Fills in who collected, from where, and why: the parts of a sighting that come from the
/// run rather than the file.
fn annotate(s: &mut Sighting, opts: &IngestOptions) {
    s.collector.clone_from(&opts.collector);
    s.source.clone_from(&opts.source);
    s.note.clone_from(&opts.note);
    s.case.clone_from(&opts.case);
    if let Some(c) = &opts.capture {
        let role = Path::new(&s.original_path)
            .strip_prefix(&c.dir)
            .ok()
            .and_then(|rel| c.roles.get(rel))
            .cloned()
            .unwrap_or_else(|| "file".to_owned());
        s.capture = Some(CaptureOrigin {
            url: c.url.clone(),
            role,
            started: c.started.clone(),
        });
    }
}
