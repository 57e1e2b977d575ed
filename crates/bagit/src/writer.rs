//! Creating a new bag: payload streamed in, hashed while copied, tag files written last.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256, Sha512};

use crate::error::BagError;
use crate::hash::BUF_SIZE;
use crate::parse::{fold_key, percent_encode_path, sanitize_relative_path};

/// A file written into the bag, with its digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadEntry {
    /// Path relative to the bag root (`data/…` for payload), as listed in the manifests.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Lowercase hex SHA-512.
    pub sha512: String,
}

/// Where a payload file's bytes come from, for [`BagWriter::add_payload_files`].
pub enum PayloadSource {
    /// An existing file: hard-linked into the bag when linking is allowed and the file
    /// system permits it (same file system), copied otherwise.
    File(PathBuf),
    /// A stream: copied.
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for PayloadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PayloadSource::Reader(_) => f.write_str("Reader(..)"),
        }
    }
}

/// One payload file for [`BagWriter::add_payload_files`].
#[derive(Debug)]
pub struct PayloadFile {
    /// Where it goes under `data/` (sanitised as by [`BagWriter::add_payload`]).
    pub rel: String,
    pub source: PayloadSource,
    /// Its size, if known: larger files are started first.
    pub size_hint: u64,
    /// The SHA-256 (lowercase hex) the bytes must have. Any other content fails the call
    /// with [`BagError::DigestMismatch`].
    pub sha256: Option<String>,
    /// The SHA-512 (lowercase hex) of the bytes whose SHA-256 is `sha256`, known from
    /// elsewhere: written to the manifest instead of being computed. Ignored unless
    /// `sha256` is given. The SHA-256 is always computed from the bytes in the bag, so a
    /// known SHA-512 is only ever listed for bytes shown to be the ones it was computed from.
    pub sha512: Option<String>,
}

/// A payload file placed by [`BagWriter::add_payload_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedPayload {
    pub entry: PayloadEntry,
    /// True when the bag's file is a hard link to the source file (the same inode: the
    /// same bytes, the same permissions; writing to one writes to the other).
    pub linked: bool,
    /// True when the SHA-512 was computed here rather than taken from [`PayloadFile::sha512`].
    pub sha512_computed: bool,
}

/// What [`BagWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagSummary {
    /// The bag directory.
    pub root: PathBuf,
    /// Number of payload files.
    pub payload_files: u64,
    /// Total payload bytes.
    pub payload_bytes: u64,
    /// The `Bagging-Date` written.
    pub bagging_date: String,
}

/// Writes a new BagIt 1.0 bag with SHA-256 and SHA-512 manifests.
///
/// ```no_run
/// # fn main() -> Result<(), athar_bagit::BagError> {
/// let mut bag = athar_bagit::BagWriter::create("handover-2026-001")?;
/// bag.add_info("Source-Organization", "Example Archive")?;
/// bag.add_payload("case-17/statement.pdf", std::io::empty())?;
/// bag.finish()?;
/// # Ok(()) }
/// ```
///
/// The output is deterministic: the same inputs give byte-identical tag files, except the
/// `Bagging-Date` (fix it with [`BagWriter::set_bagging_date`]). Nothing is durable until
/// [`BagWriter::finish`] returns: it fsyncs every file and directory in one batch. A writer
/// dropped before `finish` leaves an incomplete directory without `bagit.txt`, which no
/// validator accepts as a bag.
#[derive(Debug)]
pub struct BagWriter {
    root: PathBuf,
    payload: BTreeMap<String, PayloadEntry>,
    tags: BTreeMap<String, PayloadEntry>,
    /// Case-folded, NFC path → path, to refuse names that collide on some file systems.
    taken: HashMap<String, String>,
    /// Case-folded, NFC directories holding files.
    taken_dirs: HashSet<String>,
    info: Vec<(String, String)>,
    date: Option<String>,
    dirs: BTreeSet<PathBuf>,
    flusher: Flusher,
    /// Copy buffers reused from file to file.
    buffers: Vec<Vec<u8>>,
}

/// Starts writeback of large payload files early, on a background thread, so the disk works
/// while the next bytes are hashed. Advisory only: durability comes from
/// [`BagWriter::finish`], which flushes everything and reports errors.
#[derive(Debug)]
struct Flusher {
    tx: Option<mpsc::SyncSender<File>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Flusher {
    fn new() -> Flusher {
        let (tx, rx) = mpsc::sync_channel::<File>(4);
        let handle = thread::Builder::new()
            .name("bag-flusher".into())
            .spawn(move || {
                for f in rx {
                    let _ = f.sync_data();
                }
            })
            .ok();
        Flusher {
            tx: handle.as_ref().map(|_| tx),
            handle,
        }
    }

    /// Asks for `file`'s dirty pages to be written out; skipped when the flusher is busy.
    fn nudge(&self, file: &File) {
        if let (Some(tx), Ok(clone)) = (&self.tx, file.try_clone()) {
            let _ = tx.try_send(clone);
        }
    }

    fn stop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}

impl BagWriter {
    /// Creates the bag directory `dir` (and its `data/`). Refuses if `dir` exists; its parent
    /// must exist.
    pub fn create(dir: impl AsRef<Path>) -> Result<BagWriter, BagError> {
        let root = dir.as_ref().to_path_buf();
        match fs::create_dir(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(BagError::AlreadyExists { path: root });
            }
            Err(e) => return Err(BagError::io(&root, e)),
        }
        let data = root.join("data");
        fs::create_dir(&data).map_err(|e| BagError::io(&data, e))?;
        let mut dirs = BTreeSet::new();
        dirs.insert(root.clone());
        dirs.insert(data);
        Ok(BagWriter {
            root,
            payload: BTreeMap::new(),
            tags: BTreeMap::new(),
            taken: HashMap::new(),
            taken_dirs: HashSet::new(),
            info: Vec::new(),
            date: None,
            dirs,
            flusher: Flusher::new(),
            buffers: Vec::new(),
        })
    }

    /// The bag directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Adds a `bag-info.txt` field; fields are written in the order added. `Payload-Oxum`
    /// and `Bagging-Date` are written by [`BagWriter::finish`].
    pub fn add_info(&mut self, label: &str, value: &str) -> Result<(), BagError> {
        let bad = |reason: &str| BagError::InvalidInfo {
            label: label.to_owned(),
            reason: reason.to_owned(),
        };
        if label.is_empty() || label.trim() != label {
            return Err(bad("a label is non-empty with no surrounding whitespace"));
        }
        if label.contains(':') || label.chars().any(char::is_control) {
            return Err(bad("a label holds no colon and no control character"));
        }
        if value.contains(['\r', '\n']) {
            return Err(bad("a value holds no line break"));
        }
        if label.eq_ignore_ascii_case("Payload-Oxum") || label.eq_ignore_ascii_case("Bagging-Date")
        {
            return Err(bad(
                "written by the bag writer (use set_bagging_date for the date)",
            ));
        }
        self.info.push((label.to_owned(), value.trim().to_owned()));
        Ok(())
    }

    /// Sets `Bagging-Date` (`YYYY-MM-DD`) instead of today's date (UTC).
    pub fn set_bagging_date(&mut self, date: &str) -> Result<(), BagError> {
        let b = date.as_bytes();
        let ok = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !ok {
            return Err(BagError::InvalidInfo {
                label: "Bagging-Date".into(),
                reason: format!("{date:?} is not YYYY-MM-DD"),
            });
        }
        self.date = Some(date.to_owned());
        Ok(())
    }

    /// Streams `reader` into the payload at `data/<rel>`, hashing SHA-256 and SHA-512 while
    /// copying. `rel` is sanitised (see [`crate::sanitize_relative_path`]); the entry returned
    /// has the final path. Refuses a path already taken, also when it differs only by case or
    /// Unicode normalisation.
    pub fn add_payload(&mut self, rel: &str, reader: impl Read) -> Result<PayloadEntry, BagError> {
        let clean = sanitize_relative_path(rel).map_err(|reason| BagError::InvalidPath {
            path: rel.to_owned(),
            reason,
        })?;
        let entry = self.write_file(format!("data/{clean}"), reader)?;
        self.payload.insert(entry.path.clone(), entry.clone());
        Ok(entry)
    }

    /// Adds a tag file at `<rel>` outside `data/` (for example `athar/custody-proof.json`).
    /// It is listed in the tag manifests. Names the writer produces itself are refused.
    pub fn add_tag_file(&mut self, rel: &str, reader: impl Read) -> Result<PayloadEntry, BagError> {
        let clean = sanitize_relative_path(rel).map_err(|reason| BagError::InvalidPath {
            path: rel.to_owned(),
            reason,
        })?;
        let first = clean
            .split('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let reserved = first == "data"
            || (!clean.contains('/')
                && (matches!(first.as_str(), "bagit.txt" | "bag-info.txt" | "fetch.txt")
                    || first.starts_with("manifest-")
                    || first.starts_with("tagmanifest-")));
        if reserved {
            return Err(BagError::InvalidPath {
                path: rel.to_owned(),
                reason: "reserved for the payload or for tag files the writer produces".into(),
            });
        }
        let entry = self.write_file(clean, reader)?;
        self.tags.insert(entry.path.clone(), entry.clone());
        Ok(entry)
    }

    /// Checks that `path` can be added (no collision, also by case or normalisation, and no
    /// file where a directory is needed or the reverse), creates its parent directories, and
    /// returns its destination, its folded key and the folded keys of its parents.
    fn prepare(&mut self, path: &str) -> Result<(PathBuf, String, Vec<String>), BagError> {
        let key = fold_key(path);
        let collision = |existing: &str| BagError::DuplicatePath {
            path: path.to_owned(),
            existing: existing.to_owned(),
        };
        if let Some(existing) = self.taken.get(&key) {
            return Err(collision(existing));
        }
        // A file must not sit where a directory is needed, or the reverse.
        if self.taken_dirs.contains(&key) {
            return Err(collision(&format!("{path}/…")));
        }
        let prefixes: Vec<String> = key
            .match_indices('/')
            .filter_map(|(i, _)| key.get(..i))
            .map(str::to_owned)
            .collect();
        if let Some(existing) = prefixes.iter().find_map(|p| self.taken.get(p)) {
            return Err(collision(existing));
        }

        let dest = self.root.join(path);
        if let Some(parent) = dest.parent() {
            if !self.dirs.contains(parent) {
                fs::create_dir_all(parent).map_err(|e| BagError::io(parent, e))?;
                let mut p = parent.to_path_buf();
                while p.starts_with(&self.root) && self.dirs.insert(p.clone()) {
                    if !p.pop() {
                        break;
                    }
                }
            }
        }
        Ok((dest, key, prefixes))
    }

    /// Marks a path as taken.
    fn take(&mut self, path: &str, key: String, prefixes: Vec<String>) {
        self.taken_dirs.extend(prefixes);
        self.taken.insert(key, path.to_owned());
    }

    fn write_file(&mut self, path: String, reader: impl Read) -> Result<PayloadEntry, BagError> {
        let (dest, key, prefixes) = self.prepare(&path)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|e| BagError::io(&dest, e))?;
        let flusher = &self.flusher;
        let copy = copy_hashing(reader, file, &mut self.buffers, |f| flusher.nudge(f));
        let (bytes, sha256, sha512) = match copy {
            Ok(r) => r,
            Err(e) => {
                // Our own partial file: never leave it looking like payload.
                let _ = fs::remove_file(&dest);
                return Err(BagError::io(&dest, e));
            }
        };
        self.take(&path, key, prefixes);
        Ok(PayloadEntry {
            path,
            bytes,
            sha256,
            sha512,
        })
    }

    /// Adds many payload files at once, hashing them on all cores.
    ///
    /// With `link`, a [`PayloadSource::File`] is hard-linked into the bag when the file system
    /// allows it (the bag's file then *is* the source file: same inode, same permissions, and
    /// a later write to either changes both; the writer itself never writes to it), and is
    /// copied otherwise. Every file's SHA-256 is computed from the bytes in the bag (after
    /// linking, or while copying) and checked against [`PayloadFile::sha256`]; its SHA-512 is
    /// computed too unless known. Files are hashed in slices, largest first, round-robin on
    /// one thread per core, so a few large files keep every core busy to the end; a linked
    /// file's two digests are computed by separate passes so that they can run in parallel.
    ///
    /// Entries are returned in the order given. On any error (including a digest mismatch)
    /// the bag is left incomplete: drop the writer and remove its directory.
    pub fn add_payload_files(
        &mut self,
        files: Vec<PayloadFile>,
        link: bool,
    ) -> Result<Vec<PlacedPayload>, BagError> {
        let mut placed: Vec<Placement> = Vec::with_capacity(files.len());
        let mut tasks: Vec<Task> = Vec::new();
        for (index, f) in files.into_iter().enumerate() {
            let clean = sanitize_relative_path(&f.rel).map_err(|reason| BagError::InvalidPath {
                path: f.rel.clone(),
                reason,
            })?;
            let path = format!("data/{clean}");
            let (dest, key, prefixes) = self.prepare(&path)?;
            let known512 = f.sha512.filter(|_| f.sha256.is_some());
            let mut linked = false;
            let input = match f.source {
                PayloadSource::File(src) => {
                    if link && fs::hard_link(&src, &dest).is_ok() {
                        linked = true;
                        Input::Path(dest.clone())
                    } else {
                        Input::Path(src)
                    }
                }
                PayloadSource::Reader(r) => Input::Stream(r),
            };
            let copy_to = if linked {
                None
            } else {
                // Created now, empty, so that the name is held; filled by the hashing pass.
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dest)
                    .map_err(|e| BagError::io(&dest, e))?;
                Some(dest.clone())
            };
            self.take(&path, key, prefixes);
            let task = |input, sha256: bool, sha512: bool, dest| Task {
                index,
                input,
                dest,
                offset: 0,
                size: f.size_hint,
                sha256: sha256.then(Sha256::new),
                sha512: sha512.then(Sha512::new),
            };
            if linked && known512.is_none() {
                // A linked file can be read twice: one pass per digest, on two cores.
                tasks.push(task(Input::Path(dest.clone()), true, false, None));
                tasks.push(task(input, false, true, None));
            } else {
                tasks.push(task(input, true, known512.is_none(), copy_to));
            }
            placed.push(Placement {
                path,
                expect: f.sha256,
                known512,
                linked,
                bytes: None,
                sha256: None,
                sha512: None,
            });
        }
        tasks.sort_by(|a, b| b.size.cmp(&a.size).then(a.index.cmp(&b.index)));
        let done = run_tasks(tasks, &self.flusher)?;
        for (index, d) in done {
            let p = placed
                .get_mut(index)
                .ok_or_else(|| BagError::io(&self.root, io::Error::other("task index")))?;
            if p.bytes.is_some_and(|b| b != d.bytes) {
                return Err(BagError::io(
                    self.root.join(&p.path),
                    io::Error::other("the file changed size while it was being hashed"),
                ));
            }
            p.bytes = Some(d.bytes);
            p.sha256 = d.sha256.or(p.sha256.take());
            p.sha512 = d.sha512.or(p.sha512.take());
        }
        let mut out = Vec::with_capacity(placed.len());
        for p in placed {
            let (Some(bytes), Some(sha256)) = (p.bytes, p.sha256) else {
                return Err(BagError::io(
                    self.root.join(&p.path),
                    io::Error::other("file was not hashed"),
                ));
            };
            if let Some(expected) = &p.expect {
                if !expected.eq_ignore_ascii_case(&sha256) {
                    return Err(BagError::DigestMismatch {
                        path: p.path,
                        expected: expected.to_ascii_lowercase(),
                        actual: sha256,
                    });
                }
            }
            let sha512_computed = p.sha512.is_some();
            let Some(sha512) = p.sha512.or(p.known512.map(|h| h.to_ascii_lowercase())) else {
                return Err(BagError::io(
                    self.root.join(&p.path),
                    io::Error::other("file was not hashed"),
                ));
            };
            let entry = PayloadEntry {
                path: p.path,
                bytes,
                sha256,
                sha512,
            };
            self.payload.insert(entry.path.clone(), entry.clone());
            out.push(PlacedPayload {
                entry,
                linked: p.linked,
                sha512_computed,
            });
        }
        Ok(out)
    }

    /// Writes the tag files, makes everything durable, and returns what was written.
    pub fn finish(mut self) -> Result<BagSummary, BagError> {
        self.flusher.stop();
        // Payload first, in one batch: nothing that lists a file is written before the file
        // itself is on disk.
        let payload_paths: Vec<PathBuf> = self
            .payload
            .keys()
            .chain(self.tags.keys())
            .map(|p| self.root.join(p))
            .collect();
        make_durable(&self.root, payload_paths, &self.dirs)?;
        let date = self.date.clone().unwrap_or_else(today_utc);
        let payload_bytes: u64 = self.payload.values().map(|e| e.bytes).sum();
        let payload_files = self.payload.len() as u64;

        let mut written: Vec<PayloadEntry> = self.tags.values().cloned().collect();
        let mut put = |name: &str, body: String| -> Result<(), BagError> {
            written.push(self.write_tag(name, body.as_bytes())?);
            Ok(())
        };
        put(
            "bagit.txt",
            "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".into(),
        )?;
        let mut info = String::new();
        for (l, v) in &self.info {
            info.push_str(&format!("{l}: {v}\n"));
        }
        info.push_str(&format!("Bagging-Date: {date}\n"));
        info.push_str(&format!("Payload-Oxum: {payload_bytes}.{payload_files}\n"));
        put("bag-info.txt", info)?;
        put(
            "manifest-sha256.txt",
            manifest(self.payload.values(), |e| &e.sha256),
        )?;
        put(
            "manifest-sha512.txt",
            manifest(self.payload.values(), |e| &e.sha512),
        )?;
        written.sort_by(|a, b| a.path.cmp(&b.path));
        self.write_tag(
            "tagmanifest-sha256.txt",
            manifest(written.iter(), |e| &e.sha256).as_bytes(),
        )?;
        self.write_tag(
            "tagmanifest-sha512.txt",
            manifest(written.iter(), |e| &e.sha512).as_bytes(),
        )?;
        let tag_paths: Vec<PathBuf> = written
            .iter()
            .map(|e| e.path.as_str())
            .chain(["tagmanifest-sha256.txt", "tagmanifest-sha512.txt"])
            .filter(|p| !self.tags.contains_key(*p))
            .map(|p| self.root.join(p))
            .collect();
        make_durable(&self.root, tag_paths, &BTreeSet::from([self.root.clone()]))?;
        // The new bag's own directory entry lives in the parent.
        if let Some(parent) = self.root.parent() {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            sync_dir(parent)?;
        }
        Ok(BagSummary {
            root: self.root.clone(),
            payload_files,
            payload_bytes,
            bagging_date: date,
        })
    }

    fn write_tag(&self, name: &str, body: &[u8]) -> Result<PayloadEntry, BagError> {
        let dest = self.root.join(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|e| BagError::io(&dest, e))?;
        file.write_all(body).map_err(|e| BagError::io(&dest, e))?;
        Ok(PayloadEntry {
            path: name.to_owned(),
            bytes: body.len() as u64,
            sha256: hex::encode(Sha256::digest(body)),
            sha512: hex::encode(Sha512::digest(body)),
        })
    }
}

/// Manifest text: one `digest  path` line per entry, in the (sorted) order given.
fn manifest<'a>(
    entries: impl Iterator<Item = &'a PayloadEntry>,
    digest: impl Fn(&PayloadEntry) -> &String,
) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(digest(e));
        out.push_str("  ");
        out.push_str(&percent_encode_path(&e.path));
        out.push('\n');
    }
    out
}

/// Copies `reader` into `file`, computing SHA-256 (this thread, with the copy) and SHA-512
/// (a helper thread) over the same buffers, so a large file keeps both cores busy. Calls
/// `written` every [`FLUSH_EVERY`] bytes, and at the end of a file that long. Buffers come
/// from and go back to `pool`, so many small files do not each pay for fresh memory.
fn copy_hashing(
    mut reader: impl Read,
    mut file: File,
    pool: &mut Vec<Vec<u8>>,
    written: impl Fn(&File),
) -> io::Result<(u64, String, String)> {
    const BUFFERS: usize = 4;
    let (to_hasher, from_copier) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (to_copier, free_buffers) = mpsc::channel::<Vec<u8>>();
    thread::scope(|s| {
        let helper = s.spawn(move || {
            let mut h = Sha512::new();
            for (buf, n) in from_copier {
                h.update(buf.get(..n).unwrap_or_default());
                if to_copier.send(buf).is_err() {
                    break;
                }
            }
            hex::encode(h.finalize())
        });
        let mut sha256 = Sha256::new();
        let mut total = 0u64;
        let mut spare: Vec<Vec<u8>> = std::mem::take(pool);
        spare.resize_with(BUFFERS, || vec![0u8; BUF_SIZE]);
        let copied: io::Result<()> = (|| loop {
            let mut buf = match spare.pop() {
                Some(b) => b,
                None => free_buffers
                    .recv()
                    .map_err(|_| io::Error::other("hashing thread stopped"))?,
            };
            let n = loop {
                match reader.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            if n == 0 {
                spare.push(buf);
                return Ok(());
            }
            let chunk = buf.get(..n).unwrap_or_default();
            sha256.update(chunk);
            file.write_all(chunk)?;
            total += n as u64;
            if total % FLUSH_EVERY < n as u64 {
                written(&file);
            }
            to_hasher
                .send((buf, n))
                .map_err(|_| io::Error::other("hashing thread stopped"))?;
        })();
        drop(to_hasher);
        let sha512 = helper
            .join()
            .map_err(|_| io::Error::other("hashing thread failed"))?;
        spare.extend(free_buffers.try_iter());
        spare.truncate(BUFFERS);
        *pool = spare;
        copied?;
        file.flush()?;
        if total >= FLUSH_EVERY {
            written(&file);
        }
        Ok((total, hex::encode(sha256.finalize()), sha512))
    })
}

/// A file being placed by [`BagWriter::add_payload_files`].
struct Placement {
    path: String,
    expect: Option<String>,
    known512: Option<String>,
    linked: bool,
    bytes: Option<u64>,
    sha256: Option<String>,
    sha512: Option<String>,
}

enum Input {
    /// Opened again for each slice, so that only the files being hashed are open.
    Path(PathBuf),
    Stream(Box<dyn Read + Send>),
}

/// One pass over one file: some digests, and a copy when `dest` is set.
struct Task {
    index: usize,
    input: Input,
    dest: Option<PathBuf>,
    offset: u64,
    size: u64,
    sha256: Option<Sha256>,
    sha512: Option<Sha512>,
}

/// A finished pass.
struct Done {
    bytes: u64,
    sha256: Option<String>,
    sha512: Option<String>,
}

/// Bytes a task handles before it goes to the back of the queue.
const SLICE: u64 = 64 << 20;

impl Task {
    /// Hashes (and copies) up to [`SLICE`] bytes; true when the input is exhausted.
    fn run_slice(&mut self, buf: &mut [u8], flusher: &Flusher) -> Result<bool, BagError> {
        let mut opened;
        let (reader, src): (&mut dyn Read, &Path) = match &mut self.input {
            Input::Path(p) => {
                opened = File::open(&*p).map_err(|e| BagError::io(&*p, e))?;
                opened
                    .seek(SeekFrom::Start(self.offset))
                    .map_err(|e| BagError::io(&*p, e))?;
                (&mut opened, p.as_path())
            }
            Input::Stream(r) => (r.as_mut(), Path::new("(stream)")),
        };
        let mut dest = match &self.dest {
            Some(d) => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .open(d)
                    .map_err(|e| BagError::io(d, e))?;
                f.seek(SeekFrom::Start(self.offset))
                    .map_err(|e| BagError::io(d, e))?;
                Some((f, d))
            }
            None => None,
        };
        let mut this_slice = 0u64;
        let finished = loop {
            if this_slice >= SLICE {
                break false;
            }
            let n = loop {
                match reader.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r.map_err(|e| BagError::io(src, e))?,
                }
            };
            if n == 0 {
                break true;
            }
            let chunk = buf.get(..n).unwrap_or_default();
            if let Some(h) = &mut self.sha256 {
                h.update(chunk);
            }
            if let Some(h) = &mut self.sha512 {
                h.update(chunk);
            }
            if let Some((f, d)) = &mut dest {
                f.write_all(chunk).map_err(|e| BagError::io(&**d, e))?;
            }
            self.offset += n as u64;
            this_slice += n as u64;
        };
        if let Some((f, _)) = &dest {
            if self.offset >= FLUSH_EVERY {
                flusher.nudge(f);
            }
        }
        Ok(finished)
    }
}

/// Runs tasks on one thread per core, round-robin in slices; returns each finished pass
/// with its file's index. Stops at the first error.
fn run_tasks(tasks: Vec<Task>, flusher: &Flusher) -> Result<Vec<(usize, Done)>, BagError> {
    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(tasks.len());
    let queue = Mutex::new(VecDeque::from(tasks));
    let done = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    let error: Mutex<Option<BagError>> = Mutex::new(None);
    let work = || {
        let mut buf = vec![0u8; BUF_SIZE];
        while !failed.load(Ordering::Relaxed) {
            let next = queue.lock().ok().and_then(|mut q| q.pop_front());
            let Some(mut task) = next else { break };
            match task.run_slice(&mut buf, flusher) {
                Ok(false) => {
                    if let Ok(mut q) = queue.lock() {
                        q.push_back(task);
                    }
                }
                Ok(true) => {
                    let d = Done {
                        bytes: task.offset,
                        sha256: task.sha256.map(|h| hex::encode(h.finalize())),
                        sha512: task.sha512.map(|h| hex::encode(h.finalize())),
                    };
                    if let Ok(mut v) = done.lock() {
                        v.push((task.index, d));
                    }
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e);
                    }
                }
            }
        }
    };
    thread::scope(|s| {
        let helpers: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        work();
        for h in helpers {
            if h.join().is_err() {
                failed.store(true, Ordering::Relaxed);
            }
        }
    });
    if let Some(e) = error.into_inner().ok().flatten() {
        return Err(e);
    }
    let left = queue.into_inner().map_or(1, |q| q.len());
    if failed.load(Ordering::Relaxed) || left > 0 {
        return Err(BagError::io(
            "hashing",
            io::Error::other("a hashing thread failed"),
        ));
    }
    done.into_inner()
        .map_err(|_| BagError::io("hashing", io::Error::other("a hashing thread failed")))
}

/// Makes `files` and `dirs` durable. On Linux one `syncfs(2)` on the bag's file system does
/// it in a single journal commit (an fsync per file costs a commit each: seconds for a few
/// hundred small files); elsewhere, or if `syncfs` fails, every file and directory is
/// fsynced.
fn make_durable(
    root: &Path,
    files: Vec<PathBuf>,
    dirs: &BTreeSet<PathBuf>,
) -> Result<(), BagError> {
    #[cfg(target_os = "linux")]
    {
        // syncfs reports writeback errors since Linux 5.8.
        let synced = File::open(root).and_then(|f| rustix::fs::syncfs(&f).map_err(io::Error::from));
        if synced.is_ok() {
            return Ok(());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = root;
    sync_files(files)?;
    // Deepest first, so each directory entry is durable before its parent's.
    for dir in dirs.iter().rev() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// How often, in bytes, a large file's writeback is started early.
const FLUSH_EVERY: u64 = 32 << 20;

/// fsyncs files in one batch, on two threads.
fn sync_files(paths: Vec<PathBuf>) -> Result<(), BagError> {
    let sync = |p: &PathBuf| -> Result<(), BagError> {
        File::open(p)
            .and_then(|f| f.sync_all())
            .map_err(|e| BagError::io(p, e))
    };
    let (a, b) = paths.split_at(paths.len() / 2);
    thread::scope(|s| {
        let other = s.spawn(|| a.iter().try_for_each(sync));
        let mine = b.iter().try_for_each(sync);
        other
            .join()
            .unwrap_or_else(|_| Err(BagError::io("fsync", io::Error::other("thread failed"))))
            .and(mine)
    })
}

fn sync_dir(dir: &Path) -> Result<(), BagError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| BagError::io(dir, e))
}

/// Today's date in UTC as `YYYY-MM-DD`.
fn today_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
        assert_eq!(today_utc().len(), 10);
    }

    #[test]
    fn copy_hashing_matches_one_shot_digests() {
        let data: Vec<u8> = (0..(3 * BUF_SIZE + 17)).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("x")).unwrap();
        let mut pool = Vec::new();
        let (n, a, b) = copy_hashing(&data[..], f, &mut pool, |_| ()).unwrap();
        assert_eq!(pool.len(), 4, "buffers go back to the pool");
        assert_eq!(n, data.len() as u64);
        assert_eq!(a, hex::encode(Sha256::digest(&data)));
        assert_eq!(b, hex::encode(Sha512::digest(&data)));
        assert_eq!(fs::read(dir.path().join("x")).unwrap(), data);
    }
}
