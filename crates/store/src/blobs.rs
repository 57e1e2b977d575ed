//! Content-addressed blob store on the filesystem.
//!
//! Layout: `sha256/<h0h1>/<64 hex>` for blobs (read-only files; the 256 folders are made
//! when the store is created), `tmp/` for blobs being written. A sealed store (an encrypted
//! archive's) keeps each blob sealed in the age format under `sealed/<n0n1>/<64 hex>`,
//! where the name is the keyed permutation of the SHA-256 ([`athar_crypt::KeyedName`]). A blob becomes visible only by an atomic rename after its bytes are
//! durable; a visible blob is never written again.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use athar_core::{BlobListing, BlobStore, BlobWriter, PendingBlob, Sha256, StoreError};

use crate::disk::Disk;
use crate::sealed::{Sealing, SealingWriter, ThreadedSealer};

/// Files at least this large are written by a separate thread, so writing overlaps the
/// caller's reading and hashing.
const THREADED_FROM: u64 = 8 << 20;
/// A threaded writer asks for write-back every this many bytes (on a third thread, so
/// writing never waits for the disk), keeping the final sync short.
const SYNC_EVERY: u64 = 16 << 20;
/// Up to this many files are synced one by one; more are synced with one filesystem flush.
const SYNC_EACH_MAX: usize = 4;

/// Blobs under one folder.
#[derive(Debug)]
pub struct FsBlobStore {
    root: PathBuf,
    tmp: PathBuf,
    /// Temporary names are `<pid>-<counter>.part`: one writer process holds the archive.
    next_temp: AtomicU64,
    pid: u32,
    /// Every create, write, sync, rename and removal goes through it.
    disk: Disk,
    /// An encrypted archive's keys: blobs are sealed and keyed-named.
    sealing: Option<Sealing>,
}

/// The folder of plain blobs, and of sealed ones.
const PLAIN: &str = "sha256";
const SEALED: &str = "sealed";

/// Folders under `tmp/` that temporary files are spread over.
const TEMP_DIRS: u64 = 16;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

impl FsBlobStore {
    /// Copies a local file into a new pending blob through the store's writer, checking
    /// that its bytes are `size` long and hash to `sha256`.
    fn copy_in(&self, path: &Path, sha256: Sha256, size: u64) -> Result<PendingBlob, StoreError> {
        use sha2::Digest as _;
        let mut file = File::open(path).map_err(io(path))?;
        let mut writer = self.writer(size)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            buf.resize(1 << 20, 0);
            let n = file.read(&mut buf).map_err(io(path))?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            hasher.update(&buf);
            total += n as u64;
            buf = writer.write_chunk(buf)?;
        }
        let pending = writer.finish(sha256)?;
        if total != size || Sha256(hasher.finalize().into()) != sha256 {
            self.abandon(pending);
            return Err(StoreError::Corrupt(format!(
                "{}: its bytes changed while it was adopted (expected {size} bytes hashing to {sha256})",
                path.display()
            )));
        }
        Ok(pending)
    }

    /// Opens (creating the folders if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<FsBlobStore, StoreError> {
        FsBlobStore::open_on(root, Disk::real())
    }

    /// [`FsBlobStore::open`] with its file operations going through `disk` (crash tests).
    pub fn open_on(root: &Path, disk: Disk) -> Result<FsBlobStore, StoreError> {
        FsBlobStore::open_with(root, disk, None)
    }

    /// A sealed store: blobs are written sealed under `sealing`'s keys and read back
    /// through them.
    pub fn open_sealed(root: &Path, sealing: Sealing) -> Result<FsBlobStore, StoreError> {
        FsBlobStore::open_with(root, Disk::real(), Some(sealing))
    }

    fn open_with(
        root: &Path,
        disk: Disk,
        sealing: Option<Sealing>,
    ) -> Result<FsBlobStore, StoreError> {
        let tmp = root.join("tmp");
        let top = root.join(if sealing.is_some() { SEALED } else { PLAIN });
        if !top.join("ff").is_dir() {
            for d in [root.to_path_buf(), top.clone(), tmp.clone()] {
                disk.create_dir_all(&d).map_err(io(&d))?;
            }
            for i in 0..=255u8 {
                let d = top.join(hex::encode([i]));
                disk.create_dir_all(&d).map_err(io(&d))?;
            }
            disk.sync_path(&top).map_err(io(&top))?;
            disk.sync_path(root).map_err(io(root))?;
        }
        for i in 0..TEMP_DIRS {
            let d = tmp.join(format!("{i:x}"));
            disk.create_dir_all(&d).map_err(io(&d))?;
        }
        Ok(FsBlobStore {
            root: root.to_path_buf(),
            tmp,
            next_temp: AtomicU64::new(0),
            pid: std::process::id(),
            disk,
            sealing,
        })
    }

    /// The path of a blob.
    pub fn path_of(&self, sha: &Sha256) -> PathBuf {
        match &self.sealing {
            Some(s) => {
                let hex = hex::encode(s.names.encode(&sha.0));
                self.root.join(SEALED).join(&hex[0..2]).join(hex)
            }
            None => {
                let hex = sha.to_hex();
                self.root.join(PLAIN).join(&hex[0..2]).join(hex)
            }
        }
    }

    /// Seals a stored blob again under this store's writing key (a case's, or the
    /// archive's), replacing its file atomically: same name, same plaintext, checked
    /// against its digest on the way.
    pub fn reseal(&self, sha256: &Sha256) -> Result<(), StoreError> {
        use sha2::Digest as _;
        let mut reader = self.open(sha256)?;
        let mut writer = self.writer(0)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            buf.resize(1 << 20, 0);
            let n = reader
                .read(&mut buf)
                .map_err(|e| StoreError::io(self.path_of(sha256), e))?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            hasher.update(&buf);
            buf = writer.write_chunk(buf)?;
        }
        let mut pending = writer.finish(*sha256)?;
        if Sha256(hasher.finalize().into()) != *sha256 {
            self.abandon(pending);
            return Err(StoreError::Corrupt(format!(
                "blob {sha256} no longer hashes to its digest; it was not re-sealed (athar verify)"
            )));
        }
        self.sync(std::slice::from_mut(&mut pending))?;
        let tmp = handle_path(&pending)?.clone();
        let dest = self.path_of(sha256);
        self.disk
            .rename(&tmp, &dest, true)
            .map_err(|e| StoreError::io(&dest, e))?;
        match dest.parent() {
            Some(dir) => self.sync_path(dir),
            None => Ok(()),
        }
    }

    /// Whether blobs are sealed.
    pub fn is_sealed(&self) -> bool {
        self.sealing.is_some()
    }

    fn open_file(&self, sha256: &Sha256) -> Result<File, StoreError> {
        let p = self.path_of(sha256);
        match File::open(&p) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(format!("blob {sha256}")))
            }
            Err(e) => Err(StoreError::io(p, e)),
        }
    }

    fn unseal(
        &self,
        s: &Sealing,
        sha256: &Sha256,
        file: File,
    ) -> Result<athar_crypt::SealedReader<std::io::BufReader<File>>, StoreError> {
        athar_crypt::blob::open_with(
            &s.read_keys(),
            std::io::BufReader::with_capacity(1 << 16, file),
        )
        .map_err(|e| StoreError::Corrupt(format!("blob {sha256}: cannot be unsealed: {e}")))
    }

    /// Temporary files are spread over `TEMP_DIRS` folders: files created at once in one
    /// folder contend for its lock (measured: a third of ingest time for many small files).
    fn temp_path(&self) -> PathBuf {
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        // A plain and a sealed store of one process (conversion) never share a name.
        let kind = if self.sealing.is_some() { "s" } else { "" };
        self.tmp
            .join(format!("{:x}", n % TEMP_DIRS))
            .join(format!("{kind}{}-{n}.part", self.pid))
    }

    /// Flushes everything written to this filesystem.
    fn sync_fs(&self) -> Result<(), StoreError> {
        self.disk.sync_fs(&self.root).map_err(io(&self.root))
    }

    fn sync_path(&self, path: &Path) -> Result<(), StoreError> {
        self.disk.sync_path(path).map_err(io(path))
    }
}

fn handle_path(b: &PendingBlob) -> Result<&PathBuf, StoreError> {
    b.handle
        .downcast_ref::<PathBuf>()
        .ok_or_else(|| StoreError::Corrupt("pending blob from another store".to_owned()))
}

impl BlobStore for FsBlobStore {
    fn writer(&self, size_hint: u64) -> Result<Box<dyn BlobWriter>, StoreError> {
        let path = self.temp_path();
        let file = self.disk.create_new(&path, 0o444).map_err(io(&path))?;
        let inner: Box<dyn BlobWriter> = if size_hint >= THREADED_FROM {
            Box::new(ThreadedWriter::start(path, file, self.disk.clone()))
        } else {
            Box::new(DirectWriter {
                path: Some(path),
                file,
                size: 0,
                disk: self.disk.clone(),
            })
        };
        match &self.sealing {
            Some(s) if size_hint >= THREADED_FROM => {
                Ok(Box::new(ThreadedSealer::start(s.write_key(), inner)?))
            }
            Some(s) => Ok(Box::new(SealingWriter::new(s.write_key(), inner)?)),
            None => Ok(inner),
        }
    }

    fn contains(&self, sha256: &Sha256) -> Result<bool, StoreError> {
        let p = self.path_of(sha256);
        match std::fs::symlink_metadata(&p) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(p, e)),
        }
    }

    fn open(&self, sha256: &Sha256) -> Result<Box<dyn Read + Send>, StoreError> {
        let f = self.open_file(sha256)?;
        match &self.sealing {
            Some(s) => Ok(Box::new(self.unseal(s, sha256, f)?)),
            None => Ok(Box::new(f)),
        }
    }

    fn open_at(&self, sha256: &Sha256, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        use std::io::{Seek as _, SeekFrom};
        let mut f = self.open_file(sha256)?;
        let seek_err = |e| StoreError::io(self.path_of(sha256), e);
        match &self.sealing {
            Some(s) => {
                let mut r = self.unseal(s, sha256, f)?;
                r.seek(SeekFrom::Start(offset)).map_err(seek_err)?;
                Ok(Box::new(r))
            }
            None => {
                f.seek(SeekFrom::Start(offset)).map_err(seek_err)?;
                Ok(Box::new(f))
            }
        }
    }

    fn size(&self, sha256: &Sha256) -> Result<u64, StoreError> {
        if let Some(s) = &self.sealing {
            let f = self.open_file(sha256)?;
            let mut r = self.unseal(s, sha256, f)?;
            return r
                .plain_len()
                .map_err(|e| StoreError::Corrupt(format!("blob {sha256}: {e}")));
        }
        let p = self.path_of(sha256);
        match std::fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(format!("blob {sha256}")))
            }
            Err(e) => Err(StoreError::io(p, e)),
        }
    }

    fn sync(&self, blobs: &mut [PendingBlob]) -> Result<(), StoreError> {
        let unsynced: Vec<usize> = (0..blobs.len()).filter(|&i| !blobs[i].synced).collect();
        if unsynced.is_empty() {
            return Ok(());
        }
        if unsynced.len() <= SYNC_EACH_MAX {
            for &i in &unsynced {
                self.sync_path(handle_path(&blobs[i])?)?;
            }
        } else {
            self.sync_fs()?;
        }
        for i in unsynced {
            blobs[i].synced = true;
        }
        Ok(())
    }

    fn publish(&self, blobs: Vec<PendingBlob>) -> Result<(), StoreError> {
        let count = blobs.len();
        if count == 0 {
            return Ok(());
        }
        let mut touched: HashSet<PathBuf> = HashSet::new();
        let mut result = Ok(());
        let mut rest = blobs.into_iter();
        for b in rest.by_ref() {
            let step = (|| {
                let tmp = handle_path(&b)?;
                if !b.synced {
                    return Err(StoreError::Corrupt(
                        "publishing a blob that is not durable".into(),
                    ));
                }
                let dest = self.path_of(&b.sha256);
                // Never replace: a blob already stored under this digest is kept.
                match self.disk.rename(tmp, &dest, false) {
                    Ok(()) => {
                        if let Some(dir) = dest.parent() {
                            touched.insert(dir.to_path_buf());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        self.disk.remove_file(tmp).map_err(io(tmp))?;
                    }
                    Err(e) => return Err(StoreError::io(&dest, e)),
                }
                Ok(())
            })();
            if let Err(e) = step {
                self.abandon(b);
                result = Err(e);
                break;
            }
        }
        if result.is_err() {
            for b in rest {
                self.abandon(b);
            }
            return result;
        }
        touched.insert(self.tmp.clone());
        if touched.len() <= SYNC_EACH_MAX + 1 {
            for d in &touched {
                self.sync_path(d)?;
            }
            Ok(())
        } else {
            self.sync_fs()
        }
    }

    fn adopt_local(
        &self,
        path: &Path,
        sha256: Sha256,
        size: u64,
    ) -> Result<PendingBlob, StoreError> {
        if self.sealing.is_some() {
            // Staged bytes are plain: they are sealed on the way in.
            return self.copy_in(path, sha256, size);
        }
        // Blobs are read-only; the staged name shares the inode until the caller removes it.
        let meta = std::fs::metadata(path).map_err(io(path))?;
        if !meta.is_file() || meta.len() != size {
            return Err(StoreError::Corrupt(format!(
                "{}: expected a file of {size} bytes to adopt",
                path.display()
            )));
        }
        self.disk.set_mode(path, 0o444).map_err(io(path))?;
        let tmp = self.temp_path();
        match self.disk.hard_link(path, &tmp) {
            Ok(()) => Ok(PendingBlob {
                sha256,
                size,
                synced: false,
                handle: Box::new(tmp),
            }),
            // The store is on another filesystem than the staged file: copied in, and
            // hashed again on the way, since the copy is what will be kept.
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                self.copy_in(path, sha256, size)
            }
            Err(e) => Err(StoreError::io(tmp, e)),
        }
    }

    fn abandon(&self, blob: PendingBlob) {
        if let Ok(p) = handle_path(&blob) {
            let _ = self.disk.remove_file(p);
        }
    }

    fn remove_unacknowledged(&self, sha256: &Sha256) -> Result<(), StoreError> {
        let p = self.path_of(sha256);
        match self.disk.remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(p, e)),
        }
        if let Some(dir) = p.parent() {
            self.sync_path(dir)?;
        }
        Ok(())
    }

    fn clear_temporary(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for entry in std::fs::read_dir(&self.tmp).map_err(io(&self.tmp))? {
            let entry = entry.map_err(io(&self.tmp))?;
            let p = entry.path();
            if entry.file_type().map_err(io(&p))?.is_dir() {
                for inner in std::fs::read_dir(&p).map_err(io(&p))? {
                    let q = inner.map_err(io(&p))?.path();
                    self.disk.remove_file(&q).map_err(io(&q))?;
                    n += 1;
                }
            } else {
                self.disk.remove_file(&p).map_err(io(&p))?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn local_path(&self, sha256: &Sha256) -> Option<PathBuf> {
        if self.sealing.is_some() {
            return None;
        }
        let p = self.path_of(sha256);
        p.is_file().then_some(p)
    }

    fn list(&self) -> Result<BlobListing, StoreError> {
        let mut out = BlobListing::default();
        let top = self.root.join(if self.sealing.is_some() {
            SEALED
        } else {
            PLAIN
        });
        for (l1, p1) in sorted_entries(&top)? {
            if !p1.is_dir() || !is_hex_pair(&l1) {
                out.strays.push(p1.display().to_string());
                continue;
            }
            for (name, p2) in sorted_entries(&p1)? {
                let meta = std::fs::symlink_metadata(&p2).map_err(io(&p2))?;
                let sha = match (&self.sealing, name.parse::<Sha256>()) {
                    (Some(s), Ok(n)) => Ok(Sha256(s.names.decode(&n.0))),
                    (_, parsed) => parsed,
                };
                match sha {
                    Ok(sha) if meta.is_file() && name[0..2] == l1 => out.blobs.push(sha),
                    _ => out.strays.push(p2.display().to_string()),
                }
            }
        }
        Ok(out)
    }
}

fn is_hex_pair(s: &str) -> bool {
    s.len() == 2
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        v.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    v.sort();
    Ok(v)
}

/// Writes on the caller's thread; small files.
struct DirectWriter {
    path: Option<PathBuf>,
    file: File,
    size: u64,
    disk: Disk,
}

impl BlobWriter for DirectWriter {
    fn write_chunk(&mut self, chunk: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        if let Err(e) = self.disk.write_all(&self.file, &chunk) {
            return Err(StoreError::io(self.path.clone().unwrap_or_default(), e));
        }
        self.size += chunk.len() as u64;
        Ok(chunk)
    }

    fn finish(mut self: Box<Self>, sha256: Sha256) -> Result<PendingBlob, StoreError> {
        let path = self.path.take().unwrap_or_default();
        Ok(PendingBlob {
            sha256,
            size: self.size,
            synced: false,
            handle: Box::new(path),
        })
    }
}

impl Drop for DirectWriter {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = self.disk.remove_file(&p);
        }
    }
}

/// Writes on its own thread, overlapping the caller's reads and hashing; starts
/// write-back as it goes so the final sync waits only for the tail.
struct ThreadedWriter {
    path: Option<PathBuf>,
    chunks: Option<SyncSender<Vec<u8>>>,
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<Result<u64, std::io::Error>>>,
    buffers: usize,
    disk: Disk,
}

const THREADED_BUFFERS: usize = 4;

impl ThreadedWriter {
    fn start(path: PathBuf, file: File, disk: Disk) -> ThreadedWriter {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(THREADED_BUFFERS);
        let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
        let thread_disk = disk.clone();
        let thread_path = path.clone();
        let thread = std::thread::spawn(move || -> Result<u64, std::io::Error> {
            let disk = thread_disk;
            // The syncer flushes what has been written so far, whenever asked, while the
            // writer goes on writing.
            let syncing = file.try_clone()?;
            let (sync_tx, sync_rx) = mpsc::sync_channel::<()>(1);
            let syncer_disk = disk.clone();
            let syncer_path = thread_path.clone();
            let syncer = std::thread::spawn(move || -> Result<(), std::io::Error> {
                while sync_rx.recv().is_ok() {
                    syncer_disk.sync_file(&syncing, &syncer_path, true)?;
                }
                Ok(())
            });
            let mut written = 0u64;
            let mut since_sync = 0u64;
            let result = (|| {
                for chunk in rx {
                    disk.write_all(&file, &chunk)?;
                    written += chunk.len() as u64;
                    since_sync += chunk.len() as u64;
                    if since_sync >= SYNC_EVERY {
                        // A request already queued covers this one too.
                        let _ = sync_tx.try_send(());
                        since_sync = 0;
                    }
                    let _ = spare_tx.send(chunk);
                }
                Ok::<(), std::io::Error>(())
            })();
            drop(sync_tx);
            let synced = syncer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("sync thread failed")));
            result?;
            synced?;
            disk.sync_file(&file, &thread_path, true)?;
            Ok(written)
        });
        ThreadedWriter {
            path: Some(path),
            chunks: Some(tx),
            spare: spare_rx,
            thread: Some(thread),
            buffers: 1,
            disk,
        }
    }

    fn join(&mut self) -> Result<u64, StoreError> {
        self.chunks = None;
        let path = self.path.clone().unwrap_or_default();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(n))) => Ok(n),
            Some(Ok(Err(e))) => Err(StoreError::io(path, e)),
            _ => Err(StoreError::io(
                path,
                std::io::Error::other("writer thread failed"),
            )),
        }
    }
}

impl BlobWriter for ThreadedWriter {
    fn write_chunk(&mut self, chunk: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let capacity = chunk.capacity();
        let sent = match &self.chunks {
            Some(tx) => tx.send(chunk).is_ok(),
            None => false,
        };
        if !sent {
            // The thread stopped: report its error.
            self.join()?;
            return Err(StoreError::io(
                self.path.clone().unwrap_or_default(),
                std::io::Error::other("writer stopped"),
            ));
        }
        if let Ok(b) = self.spare.try_recv() {
            return Ok(b);
        }
        if self.buffers < THREADED_BUFFERS + 2 {
            self.buffers += 1;
            return Ok(Vec::with_capacity(capacity));
        }
        match self.spare.recv() {
            Ok(b) => Ok(b),
            Err(_) => {
                self.join()?;
                Err(StoreError::io(
                    self.path.clone().unwrap_or_default(),
                    std::io::Error::other("writer stopped"),
                ))
            }
        }
    }

    fn finish(mut self: Box<Self>, sha256: Sha256) -> Result<PendingBlob, StoreError> {
        let size = self.join()?;
        let path = self.path.take().unwrap_or_default();
        Ok(PendingBlob {
            sha256,
            size,
            synced: true,
            handle: Box::new(path),
        })
    }
}

impl Drop for ThreadedWriter {
    fn drop(&mut self) {
        if self.path.is_some() {
            let _ = self.join();
        }
        if let Some(p) = self.path.take() {
            let _ = self.disk.remove_file(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    fn sha(bytes: &[u8]) -> Sha256 {
        use sha2::Digest as _;
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    #[test]
    fn adopting_from_another_filesystem_copies_and_checks_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let shm = Path::new("/dev/shm");
        let other = shm.is_dir()
            && std::fs::metadata(shm).unwrap().dev()
                != std::fs::metadata(dir.path()).unwrap().dev();
        if !other {
            eprintln!("skipped: no second filesystem (/dev/shm) here");
            return;
        }
        let staged = tempfile::tempdir_in(shm).unwrap();
        let store = FsBlobStore::open(&dir.path().join("blobs")).unwrap();
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let part = staged.path().join("upload.part");
        std::fs::write(&part, &bytes).unwrap();
        let mut pending = store
            .adopt_local(&part, sha(&bytes), bytes.len() as u64)
            .unwrap();
        store.sync(std::slice::from_mut(&mut pending)).unwrap();
        store.publish(vec![pending]).unwrap();
        let mut back = Vec::new();
        store
            .open(&sha(&bytes))
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, bytes);
        // Bytes that do not hash to what the caller says are refused, and nothing stays.
        let part = staged.path().join("changed.part");
        std::fs::write(&part, b"other bytes").unwrap();
        let e = store.adopt_local(&part, sha(b"the bytes"), 11).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
        assert_eq!(
            store.clear_temporary().unwrap(),
            0,
            "no temporary file left"
        );
        assert_eq!(store.list().unwrap().blobs, vec![sha(&bytes)]);
    }
}
