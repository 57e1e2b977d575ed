//! Content-addressed blobs in an S3 bucket: `sha256/<h0h1>/<64 hex>` under the prefix,
//! staged under `tmp/` until published (see the crate's documentation).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path as LocalPath;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use athar_core::{BlobListing, BlobStore, BlobWriter, PendingBlob, Sha256, StoreError};
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, MultipartUpload, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload,
};
use sha2::Digest as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::runtime::wait;
use crate::{exists, random_hex, store_error, S3Options, Shared};

/// Bytes per multipart part (every part but the last is exactly this long); a blob no
/// longer than one part is sent in one PUT.
const PART_SIZE: usize = 8 << 20;
/// Parts uploading at once, per blob.
const PARTS_IN_FLIGHT: usize = 4;
/// Small blobs' PUTs running at once per store (each holds its bytes until stored).
const PUTS_IN_FLIGHT: u32 = 16;
/// KiB of small blobs a store keeps in memory until `publish` PUTs each under its final
/// name (256 MiB); a small blob finished beyond it is staged as a large one is.
const DEFERRED_KIB: usize = 256 << 10;
/// Chunks queued for a streaming upload's thread.
const CHUNKS_QUEUED: usize = 4;
/// Blobs of one batch published at once.
const PUBLISH_CONCURRENCY: usize = 16;
/// Chunks a reader fetches ahead of what it has been asked for.
const READ_AHEAD: usize = 16;
/// Another session's staged object is a leftover once this old (seconds).
const STALE_AFTER: i64 = 24 * 3600;

/// Blobs live under `sha256/`, staged ones under `tmp/`.
const PLAIN: &str = "sha256";
const TMP: &str = "tmp";
/// Written when a store is made; what [`S3BlobStore::present`] looks for.
const MARKER: &str = "athar-blobs";

/// Blobs under one prefix of an S3 bucket.
#[derive(Debug)]
pub struct S3BlobStore {
    shared: Arc<Shared>,
    /// Staged names are `tmp/<session>-<n>.part`: `session` is random per store.
    session: String,
    next_temp: AtomicU64,
    /// A permit per small blob's PUT running ([`PUTS_IN_FLIGHT`]).
    puts: Arc<Semaphore>,
    /// A permit per KiB of small blobs held until published ([`DEFERRED_KIB`]).
    deferred: Arc<Semaphore>,
}

/// A put of a staged object running on the runtime.
type Put = tokio::task::JoinHandle<Result<(), StoreError>>;

/// A pending blob's handle: its staged object, and the PUT writing it while it runs (a
/// small blob's: `finish` starts it, `sync` waits for it); or a small blob's bytes, held
/// until `publish` PUTs them under the blob's final name.
#[derive(Debug)]
struct Staged {
    key: Path,
    put: Option<Put>,
    /// Its PUT failed: never durable.
    failed: bool,
    /// The bytes, when nothing was staged.
    held: Option<Held>,
}

/// A small blob's bytes kept in memory, with the share of [`DEFERRED_KIB`] they use.
#[derive(Debug)]
struct Held {
    bytes: Bytes,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The permits (KiB) `len` bytes hold.
fn kib(len: usize) -> u32 {
    u32::try_from(len.div_ceil(1024).max(1)).unwrap_or(u32::MAX)
}

fn staged(b: &PendingBlob) -> Result<&Staged, StoreError> {
    b.handle
        .downcast_ref::<Staged>()
        .ok_or_else(|| StoreError::Corrupt("pending blob from another store".to_owned()))
}

/// Waits for a staged object's PUT.
async fn put_done(put: Put) -> Result<(), StoreError> {
    match put.await {
        Ok(r) => r,
        Err(e) => Err(StoreError::io(
            "S3 client runtime",
            std::io::Error::other(format!("a PUT task failed: {e}")),
        )),
    }
}

impl S3BlobStore {
    /// Opens the blob store at `s3://bucket[/prefix]`, reaching the server as the
    /// environment says (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`…). Marks the prefix as a blob store when it
    /// is not yet (like the filesystem store making its folders); the bucket must exist.
    pub fn open(url: &str) -> Result<S3BlobStore, StoreError> {
        S3BlobStore::open_from(url, AmazonS3Builder::from_env())
    }

    /// [`S3BlobStore::open`] with explicit options instead of the environment.
    pub fn open_with(url: &str, options: &S3Options) -> Result<S3BlobStore, StoreError> {
        S3BlobStore::open_from(url, options.builder())
    }

    /// Whether a blob store was made at `url` (its marker is there), writing nothing.
    pub fn present(url: &str) -> Result<bool, StoreError> {
        S3BlobStore::connect(url, AmazonS3Builder::from_env())?.marked()
    }

    /// [`S3BlobStore::present`] with explicit options.
    pub fn present_with(url: &str, options: &S3Options) -> Result<bool, StoreError> {
        S3BlobStore::connect(url, options.builder())?.marked()
    }

    /// Checks the store at `url` as `athar doctor` does, reaching the server as the
    /// environment says: a probe object is written under `tmp/`, read back and deleted
    /// (nothing under `sha256/` is touched). Returns whether the store's marker is there.
    pub fn probe(url: &str) -> Result<bool, StoreError> {
        let s = S3BlobStore::connect(url, AmazonS3Builder::from_env())?;
        let marked = s.marked()?;
        let store = s.shared.store.clone();
        let key = s.shared.key(&format!("tmp/doctor-{}", random_hex(8)?))?;
        let what = s.shared.display(&key);
        s.shared.run(async move {
            let body = b"athar doctor probe\n";
            store
                .put(&key, PutPayload::from_static(body))
                .await
                .map_err(|e| store_error(&what, e))?;
            let back = store
                .get(&key)
                .await
                .map_err(|e| store_error(&what, e))?
                .bytes()
                .await
                .map_err(|e| store_error(&what, e))?;
            store
                .delete(&key)
                .await
                .map_err(|e| store_error(&what, e))?;
            if back.as_ref() == body {
                Ok(())
            } else {
                Err(StoreError::Corrupt(format!(
                    "{what}: read back other bytes"
                )))
            }
        })?;
        Ok(marked)
    }

    fn open_from(url: &str, builder: AmazonS3Builder) -> Result<S3BlobStore, StoreError> {
        let s = S3BlobStore::connect(url, builder)?;
        if !s.marked()? {
            let store = s.shared.store.clone();
            let key = s.shared.key(MARKER)?;
            let what = s.shared.display(&key);
            s.shared.run(async move {
                store
                    .put(&key, PutPayload::from_static(b"athar blob store\n"))
                    .await
                    .map(|_| ())
                    .map_err(|e| store_error(&what, e))
            })?;
        }
        Ok(s)
    }

    fn connect(url: &str, builder: AmazonS3Builder) -> Result<S3BlobStore, StoreError> {
        Ok(S3BlobStore {
            shared: Arc::new(Shared::connect(url, builder)?),
            session: random_hex(8)?,
            next_temp: AtomicU64::new(0),
            puts: Arc::new(Semaphore::new(PUTS_IN_FLIGHT as usize)),
            deferred: Arc::new(Semaphore::new(DEFERRED_KIB)),
        })
    }

    fn marked(&self) -> Result<bool, StoreError> {
        let store = self.shared.store.clone();
        let key = self.shared.key(MARKER)?;
        let what = self.shared.display(&key);
        self.shared
            .run(async move { exists(store.as_ref(), &key, &what).await })
    }

    /// Sets how many bytes of small blobs this store keeps in memory until they are
    /// published (256 MiB unless set); a small blob finished beyond that is staged as a
    /// large one is, and 0 stages every blob.
    pub fn hold_at_most(mut self, bytes: usize) -> S3BlobStore {
        self.deferred = Arc::new(Semaphore::new(bytes / 1024));
        self
    }

    /// `s3://bucket[/prefix]`.
    pub fn location(&self) -> String {
        let l = &self.shared.location;
        if l.prefix.is_empty() {
            format!("s3://{}", l.bucket)
        } else {
            format!("s3://{}/{}", l.bucket, l.prefix)
        }
    }

    /// The object a blob is stored as.
    fn blob_key(&self, sha: &Sha256) -> Result<Path, StoreError> {
        let hex = sha.to_hex();
        self.shared.key(&format!("{PLAIN}/{}/{hex}", &hex[0..2]))
    }

    fn temp_key(&self) -> Result<Path, StoreError> {
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        self.shared.key(&format!("{TMP}/{}-{n}.part", self.session))
    }

    /// Reads a blob from `offset` (0: all of it).
    fn get(&self, sha256: &Sha256, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        let key = self.blob_key(sha256)?;
        let what = format!("blob {sha256}");
        let store = self.shared.store.clone();
        let options = GetOptions {
            range: (offset > 0).then_some(GetRange::Offset(offset)),
            ..GetOptions::default()
        };
        let task_what = what.clone();
        let got = self.shared.run(async move {
            store
                .get_opts(&key, options)
                .await
                .map_err(|e| store_error(&task_what, e))
        })?;
        let expected = got.range.end.saturating_sub(got.range.start);
        Ok(Box::new(BodyReader::start(
            &self.shared,
            got.into_stream(),
            expected,
            what,
        )))
    }

    /// Copies a local file into a new pending blob through the store's writer, checking
    /// that its bytes are `size` long and hash to `sha256`.
    fn copy_in(
        &self,
        path: &LocalPath,
        sha256: Sha256,
        size: u64,
    ) -> Result<PendingBlob, StoreError> {
        let io = |e| StoreError::io(path, e);
        let mut file = File::open(path).map_err(io)?;
        let mut writer = self.writer(size)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            buf.resize(1 << 20, 0);
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            hasher.update(&buf);
            total += n as u64;
            buf = writer.write_chunk(buf)?;
        }
        let digest = Sha256(hasher.finalize().into());
        if total != size || digest != sha256 {
            drop(writer);
            return Err(StoreError::Corrupt(format!(
                "{}: its bytes changed while it was adopted (expected {size} bytes hashing to {sha256})",
                path.display()
            )));
        }
        writer.finish(sha256)
    }
}

impl BlobStore for S3BlobStore {
    fn writer(&self, size_hint: u64) -> Result<Box<dyn BlobWriter>, StoreError> {
        let key = self.temp_key()?;
        let capacity = usize::try_from(size_hint.min(PART_SIZE as u64)).unwrap_or(PART_SIZE);
        Ok(Box::new(S3Writer {
            state: State::Buffering {
                buf: Vec::with_capacity(capacity),
                hasher: sha2::Sha256::new(),
            },
            shared: self.shared.clone(),
            puts: self.puts.clone(),
            deferred: self.deferred.clone(),
            what: self.shared.display(&key),
            key,
        }))
    }

    fn contains(&self, sha256: &Sha256) -> Result<bool, StoreError> {
        let key = self.blob_key(sha256)?;
        let what = format!("blob {sha256}");
        let store = self.shared.store.clone();
        self.shared
            .run(async move { exists(store.as_ref(), &key, &what).await })
    }

    fn open(&self, sha256: &Sha256) -> Result<Box<dyn Read + Send>, StoreError> {
        self.get(sha256, 0)
    }

    fn open_at(&self, sha256: &Sha256, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        match self.get(sha256, offset) {
            Ok(r) => Ok(r),
            Err(StoreError::NotFound(what)) => Err(StoreError::NotFound(what)),
            // A range starting at (or past) the end is refused by S3: tell which it was.
            Err(e) => match self.size(sha256)? {
                size if size == offset => Ok(Box::new(std::io::empty())),
                size if size < offset => Err(StoreError::Corrupt(format!(
                    "blob {sha256}: shorter than the offset {offset} asked for"
                ))),
                _ => Err(e),
            },
        }
    }

    fn size(&self, sha256: &Sha256) -> Result<u64, StoreError> {
        let key = self.blob_key(sha256)?;
        let what = format!("blob {sha256}");
        let store = self.shared.store.clone();
        self.shared.run(async move {
            store
                .head(&key)
                .await
                .map(|m| m.size)
                .map_err(|e| store_error(&what, e))
        })
    }

    /// Waits for the staged objects' PUTs still running (an S3 PUT is durable once
    /// acknowledged; a streamed blob was complete when its writer finished).
    fn sync(&self, blobs: &mut [PendingBlob]) -> Result<(), StoreError> {
        for b in blobs.iter() {
            staged(b)?;
        }
        let puts: Vec<(usize, Put)> = blobs
            .iter_mut()
            .enumerate()
            .filter_map(|(i, b)| Some((i, b.handle.downcast_mut::<Staged>()?.put.take()?)))
            .collect();
        // Every one awaited, so none still runs when this returns.
        let done = self.shared.run(async move {
            let mut done = Vec::with_capacity(puts.len());
            for (i, p) in puts {
                done.push((i, put_done(p).await));
            }
            Ok(done)
        })?;
        let mut result = Ok(());
        for (i, r) in done {
            if let Err(e) = r {
                if let Some(s) = blobs[i].handle.downcast_mut::<Staged>() {
                    s.failed = true;
                }
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result?;
        if let Some(b) = blobs.iter().find(|b| staged(b).is_ok_and(|s| s.failed)) {
            return Err(StoreError::io(
                format!("blob {}", b.sha256),
                std::io::Error::other("its bytes could not be stored"),
            ));
        }
        for b in blobs.iter_mut() {
            b.synced = true;
        }
        Ok(())
    }

    fn publish(&self, blobs: Vec<PendingBlob>) -> Result<(), StoreError> {
        if blobs.is_empty() {
            return Ok(());
        }
        // Every staged copy of one digest, the first to be published and the others dropped;
        // or the bytes of one held in memory, PUT under the final name.
        let mut order: Vec<Sha256> = Vec::new();
        let mut sources: HashMap<Sha256, Source> = HashMap::new();
        let mut refused = None;
        for b in &blobs {
            match staged(b) {
                Ok(s) if b.synced && s.put.is_none() && !s.failed => {
                    let source = sources.entry(b.sha256).or_insert_with(|| {
                        order.push(b.sha256);
                        Source::default()
                    });
                    match &s.held {
                        Some(h) => source.bytes = Some(h.bytes.clone()),
                        None => source.staged.push(s.key.clone()),
                    }
                }
                Ok(_) => {
                    refused = Some(StoreError::Corrupt(
                        "publishing a blob that is not durable".into(),
                    ))
                }
                Err(e) => refused = Some(e),
            }
        }
        if let Some(e) = refused {
            for b in blobs {
                self.abandon(b);
            }
            return Err(e);
        }
        let mut jobs = Vec::with_capacity(order.len());
        for sha in order {
            let dest = self.blob_key(&sha)?;
            jobs.push((sha, dest, sources.remove(&sha).unwrap_or_default()));
        }
        let store = self.shared.store.clone();
        let copy_create = self.shared.copy_create;
        let results = self.shared.run(async move {
            let staged: Vec<Path> = jobs
                .iter()
                .flat_map(|j| j.2.staged.iter().cloned())
                .collect();
            let results = futures_util::stream::iter(jobs)
                .map(|(sha, dest, source)| {
                    let store = store.clone();
                    async move { publish_one(&store, sha, &dest, source, copy_create).await }
                })
                .buffer_unordered(PUBLISH_CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            // Every staged copy goes, published or not (a failed blob is abandoned), in
            // bulk deletes; one left behind is only a leftover for `clear_temporary`.
            if !staged.is_empty() {
                let _ = delete_all(&store, staged).await;
            }
            Ok(results)
        })?;
        // The held bytes go, with their permits, once their PUTs are done.
        drop(blobs);
        results.into_iter().collect()
    }

    fn adopt_local(
        &self,
        path: &LocalPath,
        sha256: Sha256,
        size: u64,
    ) -> Result<PendingBlob, StoreError> {
        self.copy_in(path, sha256, size)
    }

    fn abandon(&self, mut blob: PendingBlob) {
        if let Some(s) = blob.handle.downcast_mut::<Staged>() {
            if s.held.is_some() {
                // Nothing was written anywhere.
                return;
            }
            let (put, key) = (s.put.take(), s.key.clone());
            let store = self.shared.store.clone();
            let _ = self.shared.run(async move {
                // The PUT first, or it could land after the delete.
                if let Some(p) = put {
                    let _ = put_done(p).await;
                }
                let _ = store.delete(&key).await;
                Ok(())
            });
        }
    }

    fn remove_unacknowledged(&self, sha256: &Sha256) -> Result<(), StoreError> {
        let key = self.blob_key(sha256)?;
        let what = format!("blob {sha256}");
        let store = self.shared.store.clone();
        self.shared.run(async move {
            match store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(store_error(&what, e)),
            }
        })
    }

    /// Removes this store's own staged objects, and other sessions' once a day old (other
    /// processes may be writing beside this one).
    fn clear_temporary(&self) -> Result<usize, StoreError> {
        let store = self.shared.store.clone();
        let dir = self.shared.key(TMP)?;
        let what = self.shared.display(&dir);
        let own = format!("{}-", self.session);
        // Staged PUTs of pending blobs dropped unsynced land first: each holds a permit.
        let puts = self.puts.clone();
        drop(wait(puts.acquire_many(PUTS_IN_FLIGHT)));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.shared.run(async move {
            let listed: Vec<_> = store.list(Some(&dir)).collect().await;
            let mut removed = 0;
            for meta in listed {
                let meta = meta.map_err(|e| store_error(&what, e))?;
                let mine = meta
                    .location
                    .filename()
                    .is_some_and(|n| n.starts_with(&own));
                if mine || now - meta.last_modified.timestamp() > STALE_AFTER {
                    match store.delete(&meta.location).await {
                        Ok(()) => removed += 1,
                        Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(store_error(&what, e)),
                    }
                }
            }
            Ok(removed)
        })
    }

    fn list(&self) -> Result<BlobListing, StoreError> {
        let store = self.shared.store.clone();
        let dir = self.shared.key(PLAIN)?;
        let what = self.shared.display(&dir);
        let listed = self.shared.run(async move {
            let listed: Vec<_> = store.list(Some(&dir)).collect().await;
            listed
                .into_iter()
                .map(|m| m.map(|m| m.location).map_err(|e| store_error(&what, e)))
                .collect::<Result<Vec<Path>, StoreError>>()
        })?;
        let mut out = BlobListing::default();
        for key in listed {
            let name = key.to_string();
            let parts: Option<Vec<&str>> = self
                .shared
                .relative(&name)
                .map(|rel| rel.split('/').collect());
            let sha = match parts.as_deref() {
                Some([PLAIN, l1, hex]) if is_hex_pair(l1) && hex.get(0..2) == Some(*l1) => {
                    hex.parse::<Sha256>().ok()
                }
                _ => None,
            };
            match sha {
                Some(sha) => out.blobs.push(sha),
                None => out.strays.push(self.shared.display(&key)),
            }
        }
        out.blobs.sort_by_key(Sha256::to_hex);
        Ok(out)
    }

    fn local_path(&self, _sha256: &Sha256) -> Option<std::path::PathBuf> {
        None
    }
}

/// Deletes objects in bulk (1000 a request); how many are gone.
async fn delete_all(store: &AmazonS3, keys: Vec<Path>) -> Result<usize, object_store::Error> {
    let keys = futures_util::stream::iter(keys.into_iter().map(Ok)).boxed();
    let mut deleted = store.delete_stream(keys);
    let mut n = 0;
    while let Some(d) = deleted.next().await {
        match d {
            Ok(_) => n += 1,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What a blob is published from: its staged objects (the first is copied), or its bytes.
#[derive(Default)]
struct Source {
    staged: Vec<Path>,
    bytes: Option<Bytes>,
}

/// Writes a blob under its name, from its bytes (one create-only PUT) or by copying its
/// first staged object, unless a blob is already there.
async fn publish_one(
    store: &AmazonS3,
    sha: Sha256,
    dest: &Path,
    source: Source,
    copy_create: bool,
) -> Result<(), StoreError> {
    let what = format!("blob {sha}");
    if source.bytes.is_none() && source.staged.is_empty() {
        return Ok(());
    }
    // Never written again: a blob already stored under this digest is kept.
    if exists(store, dest, &what).await? {
        return Ok(());
    }
    let written = match (source.bytes, source.staged.first()) {
        (Some(bytes), _) => store
            .put_opts(
                dest,
                PutPayload::from(bytes),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map(|_| ()),
        (None, Some(first)) if copy_create => store.copy_if_not_exists(first, dest).await,
        (None, Some(first)) => store.copy(first, dest).await,
        (None, None) => Ok(()),
    };
    match written {
        Ok(()) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(StoreError::io(
            what.as_str(),
            std::io::Error::other(e.to_string()),
        )),
    }
}

fn is_hex_pair(s: &str) -> bool {
    s.len() == 2
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Receives a blob's bytes: buffered up to one part, then streamed as a multipart upload.
struct S3Writer {
    /// First, so a streaming upload is aborted (dropped) while the runtime still runs.
    state: State,
    shared: Arc<Shared>,
    puts: Arc<Semaphore>,
    deferred: Arc<Semaphore>,
    /// The staged object.
    key: Path,
    what: String,
}

enum State {
    /// No more than a part so far, all in memory (hashed here).
    Buffering { buf: Vec<u8>, hasher: sha2::Sha256 },
    /// Streaming from a thread of its own (hashed there).
    Streaming(Streamer),
    /// Finished, or failed to start streaming.
    Gone,
}

fn mismatch(what: &str, expected: &Sha256, got: &Sha256) -> StoreError {
    StoreError::Corrupt(format!(
        "{what}: the bytes written hash to {got}, not to the digest {expected} given for them; \
         nothing was kept"
    ))
}

impl BlobWriter for S3Writer {
    fn write_chunk(&mut self, chunk: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let start = match &mut self.state {
            State::Buffering { buf, hasher } => {
                hasher.update(&chunk);
                buf.extend_from_slice(&chunk);
                buf.len() > PART_SIZE
            }
            State::Streaming(s) => return s.send(chunk, &self.what),
            State::Gone => {
                return Err(StoreError::io(
                    self.what.as_str(),
                    std::io::Error::other("the upload stopped"),
                ))
            }
        };
        if start {
            if let State::Buffering { buf, hasher } =
                std::mem::replace(&mut self.state, State::Gone)
            {
                self.state = State::Streaming(Streamer::start(
                    &self.shared,
                    self.key.clone(),
                    self.what.clone(),
                    buf,
                    hasher,
                )?);
            }
        }
        Ok(chunk)
    }

    fn finish(mut self: Box<Self>, sha256: Sha256) -> Result<PendingBlob, StoreError> {
        let (size, put) = match std::mem::replace(&mut self.state, State::Gone) {
            State::Buffering { buf, hasher } => {
                let got = Sha256(hasher.finalize().into());
                if got != sha256 {
                    return Err(mismatch(&self.what, &sha256, &got));
                }
                let size = buf.len() as u64;
                // Kept in memory for `publish` while the budget allows: one PUT, no staging.
                if let Ok(permit) = self.deferred.clone().try_acquire_many_owned(kib(buf.len())) {
                    return Ok(PendingBlob {
                        sha256,
                        size,
                        synced: true,
                        handle: Box::new(Staged {
                            key: self.key.clone(),
                            put: None,
                            failed: false,
                            held: Some(Held {
                                bytes: Bytes::from(buf),
                                _permit: permit,
                            }),
                        }),
                    });
                }
                // Started now, waited for by `sync`: the caller reads and hashes the next
                // blobs meanwhile. A permit bounds the bytes held.
                let permit = wait(self.puts.clone().acquire_owned()).map_err(|e| {
                    StoreError::io(self.what.as_str(), std::io::Error::other(e.to_string()))
                })?;
                let store = self.shared.store.clone();
                let key = self.key.clone();
                let what = self.what.clone();
                let put = self.shared.runtime.handle().spawn(async move {
                    let _permit = permit;
                    store
                        .put(&key, PutPayload::from(buf))
                        .await
                        .map(|_| ())
                        .map_err(|e| store_error(&what, e))
                });
                (size, Some(put))
            }
            State::Streaming(mut s) => {
                let done = s.finish(&self.what)?;
                if done.sha256 != sha256 {
                    let store = self.shared.store.clone();
                    let key = self.key.clone();
                    let _ = self.shared.run(async move {
                        let _ = store.delete(&key).await;
                        Ok(())
                    });
                    return Err(mismatch(&self.what, &sha256, &done.sha256));
                }
                (done.size, None)
            }
            State::Gone => {
                return Err(StoreError::io(
                    self.what.as_str(),
                    std::io::Error::other("the upload stopped"),
                ))
            }
        };
        Ok(PendingBlob {
            sha256,
            size,
            // A streamed blob is complete and durable; a small one once its PUT returns.
            synced: put.is_none(),
            handle: Box::new(Staged {
                key: self.key.clone(),
                put,
                failed: false,
                held: None,
            }),
        })
    }
}

/// What the streaming thread hands over.
enum Msg {
    Chunk(Vec<u8>),
    Finish,
}

/// A finished multipart upload.
struct Streamed {
    sha256: Sha256,
    size: u64,
}

/// A multipart upload run by a thread of its own: it hashes the chunks, cuts them into
/// parts, keeps up to [`PARTS_IN_FLIGHT`] parts uploading, and aborts the upload when the
/// writer is dropped before finishing.
struct Streamer {
    chunks: Option<SyncSender<Msg>>,
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<Result<Streamed, StoreError>>>,
    /// Buffers handed out so far (the caller's, and new ones).
    buffers: usize,
}

impl Streamer {
    fn start(
        shared: &Shared,
        key: Path,
        what: String,
        first: Vec<u8>,
        hasher: sha2::Sha256,
    ) -> Result<Streamer, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Msg>(CHUNKS_QUEUED);
        let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
        let handle = shared.runtime.handle().clone();
        let store = shared.store.clone();
        let thread_what = what.clone();
        let thread = std::thread::Builder::new()
            .name("athar-s3-upload".into())
            .spawn(move || {
                // A thread of its own, never inside a runtime: it may block on `block_on`
                // and on the channel (while the parts upload on the runtime's workers).
                handle.block_on(upload(store, key, thread_what, first, hasher, rx, spare_tx))
            })
            .map_err(|e| StoreError::io(what.as_str(), e))?;
        Ok(Streamer {
            chunks: Some(tx),
            spare: spare_rx,
            thread: Some(thread),
            buffers: 1,
        })
    }

    fn send(&mut self, chunk: Vec<u8>, what: &str) -> Result<Vec<u8>, StoreError> {
        let capacity = chunk.capacity();
        let sent = match &self.chunks {
            Some(tx) => tx.send(Msg::Chunk(chunk)).is_ok(),
            None => false,
        };
        if !sent {
            // The thread stopped: report its error.
            self.join(what)?;
            return Err(StoreError::io(
                what,
                std::io::Error::other("the upload stopped"),
            ));
        }
        if let Ok(b) = self.spare.try_recv() {
            return Ok(b);
        }
        if self.buffers < CHUNKS_QUEUED + 2 {
            self.buffers += 1;
            return Ok(Vec::with_capacity(capacity));
        }
        match self.spare.recv() {
            Ok(b) => Ok(b),
            Err(_) => {
                self.join(what)?;
                Err(StoreError::io(
                    what,
                    std::io::Error::other("the upload stopped"),
                ))
            }
        }
    }

    fn finish(&mut self, what: &str) -> Result<Streamed, StoreError> {
        if let Some(tx) = &self.chunks {
            // A closed channel means the thread already stopped: `join` says why.
            let _ = tx.send(Msg::Finish);
        }
        self.join(what)
    }

    /// Waits for the thread; without [`Msg::Finish`] sent, it aborts the upload.
    fn join(&mut self, what: &str) -> Result<Streamed, StoreError> {
        self.chunks = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(StoreError::io(
                what,
                std::io::Error::other("the upload thread failed"),
            )),
        }
    }
}

impl Drop for Streamer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join("");
        }
    }
}

/// The streaming thread's work: a multipart upload of `first` and then every chunk
/// received, completed on [`Msg::Finish`] and aborted otherwise.
async fn upload(
    store: Arc<AmazonS3>,
    key: Path,
    what: String,
    first: Vec<u8>,
    mut hasher: sha2::Sha256,
    chunks: Receiver<Msg>,
    spare: Sender<Vec<u8>>,
) -> Result<Streamed, StoreError> {
    let mut upload = store
        .put_multipart(&key)
        .await
        .map_err(|e| store_error(&what, e))?;
    let mut parts: JoinSet<Result<(), object_store::Error>> = JoinSet::new();
    let mut part = Vec::with_capacity(PART_SIZE);
    let mut size = first.len() as u64;
    let result = async {
        feed(&first, &mut part, &mut parts, upload.as_mut(), &what).await?;
        drop(first);
        loop {
            // Blocks this thread only: the parts upload on the runtime's workers.
            match chunks.recv() {
                Ok(Msg::Chunk(c)) => {
                    hasher.update(&c);
                    size += c.len() as u64;
                    feed(&c, &mut part, &mut parts, upload.as_mut(), &what).await?;
                    let _ = spare.send(c);
                }
                Ok(Msg::Finish) => break,
                Err(_) => {
                    return Err(StoreError::io(
                        what.as_str(),
                        std::io::Error::other("the writer was dropped before it finished"),
                    ))
                }
            }
        }
        if !part.is_empty() {
            parts.spawn(upload.put_part(PutPayload::from(std::mem::take(&mut part))));
        }
        while let Some(done) = parts.join_next().await {
            part_done(done, &what)?;
        }
        upload.complete().await.map_err(|e| store_error(&what, e))?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(Streamed {
            sha256: Sha256(hasher.finalize().into()),
            size,
        }),
        Err(e) => {
            parts.shutdown().await;
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// Appends `data` to the part being filled, sending each full part (waiting while
/// [`PARTS_IN_FLIGHT`] are uploading).
async fn feed(
    mut data: &[u8],
    part: &mut Vec<u8>,
    parts: &mut JoinSet<Result<(), object_store::Error>>,
    upload: &mut dyn MultipartUpload,
    what: &str,
) -> Result<(), StoreError> {
    while !data.is_empty() {
        let n = (PART_SIZE - part.len()).min(data.len());
        part.extend_from_slice(&data[..n]);
        data = &data[n..];
        if part.len() == PART_SIZE {
            while parts.len() >= PARTS_IN_FLIGHT {
                if let Some(done) = parts.join_next().await {
                    part_done(done, what)?;
                }
            }
            let full = std::mem::replace(part, Vec::with_capacity(PART_SIZE));
            parts.spawn(upload.put_part(PutPayload::from(full)));
        }
    }
    Ok(())
}

fn part_done(
    done: Result<Result<(), object_store::Error>, tokio::task::JoinError>,
    what: &str,
) -> Result<(), StoreError> {
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(store_error(what, e)),
        Err(e) => Err(StoreError::io(what, std::io::Error::other(e.to_string()))),
    }
}

/// A blob's bytes as they arrive: a task on the runtime reads the response ahead into a
/// channel; `read` waits on it.
struct BodyReader {
    chunks: tokio::sync::mpsc::Receiver<Result<Bytes, object_store::Error>>,
    current: Bytes,
    /// Bytes the response announced and that have not arrived yet.
    left: u64,
    what: String,
    /// Keeps the runtime running while the reader lives.
    _shared: Arc<Shared>,
}

impl BodyReader {
    fn start(
        shared: &Arc<Shared>,
        mut stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
        expected: u64,
        what: String,
    ) -> BodyReader {
        let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        shared.runtime.handle().spawn(async move {
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                // The reader was dropped, or the response failed: stop.
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        BodyReader {
            chunks: rx,
            current: Bytes::new(),
            left: expected,
            what,
            _shared: shared.clone(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match wait(self.chunks.recv()) {
                Some(Ok(b)) if b.len() as u64 > self.left => {
                    return Err(std::io::Error::other(format!(
                        "{}: the object store sent more bytes than it announced",
                        self.what
                    )))
                }
                Some(Ok(b)) => {
                    self.left -= b.len() as u64;
                    self.current = b;
                }
                Some(Err(e)) => {
                    return Err(std::io::Error::other(format!("{}: {e}", self.what)));
                }
                None if self.left == 0 => return Ok(0),
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: the response ended {} bytes early",
                            self.what, self.left
                        ),
                    ))
                }
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
