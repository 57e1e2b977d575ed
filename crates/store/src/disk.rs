//! The file operations the filesystem stores ([`crate::FsBlobStore`], [`crate::FsLogStore`])
//! make that matter for durability — create, write, sync, rename, link, remove, make a
//! folder, flush the filesystem — in one place, so tests can put a crash anywhere among them.
//!
//! [`Disk::real`] (the default) just does them. [`Disk::simulated`] does them too, but
//! counts them and keeps a model of what a power cut would leave: the bytes of a file are
//! durable once it was synced, a name (made by create, rename, link or remove) once its
//! folder was synced, everything once the filesystem was flushed. After
//! [`Disk::crash_after`] `n` operations every later one fails, as if the machine had
//! stopped; [`Disk::reset_to_durable`] then puts the folders back to what was durable (files
//! never synced lose their bytes, names never synced are undone), which a process kill alone
//! cannot show: the page cache survives it. The model is stricter than most filesystems
//! (ext4 makes a new file's name durable with its bytes, for one), never looser.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Where the stores' file operations go: the real filesystem, or the same with a crash model.
#[derive(Clone, Default)]
pub struct Disk {
    sim: Option<Arc<Mutex<Sim>>>,
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.sim.is_some() {
            "Disk(simulated)"
        } else {
            "Disk(real)"
        })
    }
}

/// A file or folder name the model holds as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    /// A file: the model's inode (its durable bytes are in `Sim::content`).
    File(u64),
}

#[derive(Debug, Default)]
struct Sim {
    /// Folders watched (the model covers nothing outside them); empty until armed.
    roots: Vec<PathBuf>,
    armed: bool,
    /// Operations counted since armed.
    ops: u64,
    /// Operations allowed; the next one crashes.
    limit: Option<u64>,
    crashed: bool,
    /// What each counted operation was, for messages.
    trace: Vec<String>,
    next_id: u64,
    /// Live real inode number -> model inode.
    ids: HashMap<u64, u64>,
    /// Model inode -> its durable bytes.
    content: HashMap<u64, Vec<u8>>,
    /// Durable names under the roots (the roots included).
    names: BTreeMap<PathBuf, Node>,
}

fn crashed_error() -> io::Error {
    io::Error::other("simulated crash: the disk no longer answers")
}

impl Sim {
    fn watched(&self, path: &Path) -> bool {
        self.roots.iter().any(|r| path.starts_with(r))
    }

    /// The model inode of a live real inode, new (with no durable bytes) if unseen.
    fn id_of(&mut self, ino: u64) -> u64 {
        if let Some(&id) = self.ids.get(&ino) {
            return id;
        }
        self.fresh(ino)
    }

    fn fresh(&mut self, ino: u64) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.ids.insert(ino, id);
        self.content.insert(id, Vec::new());
        id
    }

    /// A file's bytes as they are now are durable.
    fn file_synced(&mut self, path: &Path) -> io::Result<()> {
        if !self.watched(path) {
            return Ok(());
        }
        let ino = std::fs::symlink_metadata(path)?.ino();
        let id = self.id_of(ino);
        let bytes = std::fs::read(path)?;
        self.content.insert(id, bytes);
        Ok(())
    }

    /// A folder's entries as they are now are durable.
    fn dir_synced(&mut self, dir: &Path) -> io::Result<()> {
        if !self.watched(dir) {
            return Ok(());
        }
        let gone: Vec<PathBuf> = self
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect();
        for p in gone {
            self.names.remove(&p);
        }
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let meta = std::fs::symlink_metadata(e.path())?;
            let node = if meta.is_dir() {
                Node::Dir
            } else {
                Node::File(self.id_of(meta.ino()))
            };
            self.names.insert(e.path(), node);
        }
        Ok(())
    }

    /// Everything under the roots as it is now is durable.
    fn all_synced(&mut self) -> io::Result<()> {
        let roots = self.roots.clone();
        for root in &roots {
            self.names.retain(|p, _| !p.starts_with(root));
            self.names.insert(root.clone(), Node::Dir);
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                for e in std::fs::read_dir(&dir)? {
                    let p = e?.path();
                    let meta = std::fs::symlink_metadata(&p)?;
                    if meta.is_dir() {
                        self.names.insert(p.clone(), Node::Dir);
                        stack.push(p);
                    } else {
                        let id = self.id_of(meta.ino());
                        self.content.insert(id, std::fs::read(&p)?);
                        self.names.insert(p, Node::File(id));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `path` would be reachable after a crash: every folder above it, up to its
    /// root, is a durable folder name.
    fn reachable(&self, path: &Path) -> bool {
        let mut p = path;
        while let Some(parent) = p.parent() {
            if self.roots.iter().any(|r| r == p) {
                return true;
            }
            if self.names.get(parent) != Some(&Node::Dir) {
                return false;
            }
            p = parent;
        }
        false
    }
}

impl Disk {
    /// The real filesystem, nothing counted.
    pub fn real() -> Disk {
        Disk::default()
    }

    /// The real filesystem with a crash model: operations are counted and modelled from
    /// [`Disk::arm`] on.
    pub fn simulated() -> Disk {
        Disk {
            sim: Some(Arc::new(Mutex::new(Sim::default()))),
        }
    }

    fn sim(&self) -> Option<MutexGuard<'_, Sim>> {
        self.sim
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Starts the model: everything under `roots` now is durable (callers flush first) and
    /// operations are counted from zero.
    pub fn arm(&self, roots: &[&Path]) -> io::Result<()> {
        let Some(mut s) = self.sim() else {
            return Ok(());
        };
        s.roots = roots.iter().map(|r| r.to_path_buf()).collect();
        s.names.clear();
        s.content.clear();
        s.ids.clear();
        s.all_synced()?;
        s.armed = true;
        s.ops = 0;
        s.limit = None;
        s.crashed = false;
        s.trace.clear();
        Ok(())
    }

    /// Lets `n` more operations (counted from arming) succeed; the one after crashes.
    pub fn crash_after(&self, n: u64) {
        if let Some(mut s) = self.sim() {
            s.limit = Some(n);
        }
    }

    /// Operations counted since arming.
    pub fn ops(&self) -> u64 {
        self.sim().map_or(0, |s| s.ops)
    }

    /// Whether the simulated crash happened.
    pub fn crashed(&self) -> bool {
        self.sim().is_some_and(|s| s.crashed)
    }

    /// The operations counted so far, one line each (`create <path>`, `sync <path>`, …).
    pub fn trace(&self) -> Vec<String> {
        self.sim().map_or_else(Vec::new, |s| s.trace.clone())
    }

    /// Puts the watched folders back to what the model holds durable, as after a power cut:
    /// names never made durable undone, files back to their last synced bytes. The model
    /// stops (later operations are neither counted nor fail).
    pub fn reset_to_durable(&self) -> io::Result<()> {
        let Some(mut s) = self.sim() else {
            return Ok(());
        };
        s.armed = false;
        s.crashed = false;
        s.limit = None;
        let roots = s.roots.clone();
        // Remove what is not durable (folders with everything under them), and files whose
        // bytes differ from their durable ones.
        for root in &roots {
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                for e in std::fs::read_dir(&dir)? {
                    let p = e?.path();
                    let meta = std::fs::symlink_metadata(&p)?;
                    let want = if s.reachable(&p) {
                        s.names.get(&p).copied()
                    } else {
                        None
                    };
                    match (want, meta.is_dir()) {
                        (Some(Node::Dir), true) => stack.push(p),
                        (Some(Node::File(id)), false) => {
                            let durable = s.content.get(&id).cloned().unwrap_or_default();
                            if std::fs::read(&p)? != durable {
                                std::fs::remove_file(&p)?;
                                write_file(&p, &durable, meta.permissions().mode())?;
                            }
                        }
                        (_, true) => std::fs::remove_dir_all(&p)?,
                        (_, false) => std::fs::remove_file(&p)?,
                    }
                }
            }
        }
        // Bring back durable names that are gone (renamed or removed without a sync).
        let names: Vec<(PathBuf, Node)> = s.names.iter().map(|(p, n)| (p.clone(), *n)).collect();
        for (p, node) in names {
            if !s.reachable(&p) || std::fs::symlink_metadata(&p).is_ok() {
                continue;
            }
            match node {
                Node::Dir => std::fs::create_dir(&p)?,
                Node::File(id) => {
                    let durable = s.content.get(&id).cloned().unwrap_or_default();
                    write_file(&p, &durable, 0o444)?;
                }
            }
        }
        Ok(())
    }

    /// Counts an operation; fails once the crash point is passed.
    fn step(&self, what: &str, path: &Path) -> io::Result<()> {
        let Some(mut s) = self.sim() else {
            return Ok(());
        };
        if !s.armed {
            return Ok(());
        }
        if s.crashed {
            return Err(crashed_error());
        }
        s.ops += 1;
        if s.limit.is_some_and(|l| s.ops > l) {
            s.crashed = true;
            return Err(crashed_error());
        }
        let line = format!("{what} {}", path.display());
        s.trace.push(line);
        Ok(())
    }

    /// Fails once crashed, without counting (writes: their loss is modelled by the syncs).
    fn check(&self) -> io::Result<()> {
        match self.sim() {
            Some(s) if s.armed && s.crashed => Err(crashed_error()),
            _ => Ok(()),
        }
    }

    /// Runs `f` on the model when armed.
    fn model(&self, f: impl FnOnce(&mut Sim) -> io::Result<()>) -> io::Result<()> {
        match self.sim() {
            Some(mut s) if s.armed => f(&mut s),
            _ => Ok(()),
        }
    }

    /// Notes that `path` names a new inode (its bytes not durable yet).
    fn created(&self, path: &Path) -> io::Result<()> {
        self.model(|s| {
            let ino = std::fs::symlink_metadata(path)?.ino();
            s.fresh(ino);
            Ok(())
        })
    }

    /// Before a name goes away: forgets its inode when that was its last name, so a reused
    /// inode number is a new file to the model.
    fn unlinking(&self, path: &Path) {
        let _ = self.model(|s| {
            if let Ok(m) = std::fs::symlink_metadata(path) {
                if m.is_file() && m.nlink() <= 1 {
                    s.ids.remove(&m.ino());
                }
            }
            Ok(())
        });
    }

    /// Creates a file that must not exist (`O_EXCL`) with permissions `mode`, for writing.
    pub fn create_new(&self, path: &Path, mode: u32) -> io::Result<File> {
        self.step("create", path)?;
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        self.created(path)?;
        Ok(f)
    }

    /// Creates or truncates a file, for writing.
    pub fn create_truncate(&self, path: &Path, mode: u32) -> io::Result<File> {
        self.step("create", path)?;
        let existed = std::fs::symlink_metadata(path).is_ok();
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)?;
        if !existed {
            self.created(path)?;
        }
        Ok(f)
    }

    /// Writes all of `bytes` (not durable until synced).
    pub fn write_all(&self, mut file: &File, bytes: &[u8]) -> io::Result<()> {
        self.check()?;
        file.write_all(bytes)
    }

    /// Makes an open file's bytes durable (`fsync`, or `fdatasync` when `data_only`);
    /// `path` names it (for the model).
    pub fn sync_file(&self, file: &File, path: &Path, data_only: bool) -> io::Result<()> {
        self.step("sync", path)?;
        if data_only {
            file.sync_data()?;
        } else {
            file.sync_all()?;
        }
        self.model(|s| {
            let ino = file.metadata()?.ino();
            let id = s.id_of(ino);
            s.content.insert(id, std::fs::read(path)?);
            Ok(())
        })
    }

    /// Opens and syncs a file (its bytes durable) or a folder (its entries durable).
    pub fn sync_path(&self, path: &Path) -> io::Result<()> {
        self.step("sync", path)?;
        let f = File::open(path)?;
        f.sync_all()?;
        let is_dir = f.metadata()?.is_dir();
        self.model(|s| {
            if is_dir {
                s.dir_synced(path)
            } else {
                s.file_synced(path)
            }
        })
    }

    /// Flushes the whole filesystem holding `path` (`syncfs`).
    pub fn sync_fs(&self, path: &Path) -> io::Result<()> {
        self.step("syncfs", path)?;
        let dir = File::open(path)?;
        rustix::fs::syncfs(&dir)?;
        self.model(Sim::all_synced)
    }

    /// Renames `from` to `to`; with `replace` false an existing `to` is kept and the error
    /// is [`io::ErrorKind::AlreadyExists`].
    pub fn rename(&self, from: &Path, to: &Path, replace: bool) -> io::Result<()> {
        self.step("rename", to)?;
        if replace {
            self.unlinking(to);
            std::fs::rename(from, to)
        } else {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                from,
                rustix::fs::CWD,
                to,
                rustix::fs::RenameFlags::NOREPLACE,
            )
            .map_err(io::Error::from)
        }
    }

    /// Adds the name `to` for the file `from`.
    pub fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step("link", to)?;
        std::fs::hard_link(from, to)
    }

    /// Removes a file's name.
    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.step("remove", path)?;
        self.unlinking(path);
        std::fs::remove_file(path)
    }

    /// Makes a folder (its name durable once its parent is synced).
    pub fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.step("mkdir", path)?;
        std::fs::create_dir(path)
    }

    /// Makes a folder and any missing above it.
    pub fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        if path.is_dir() {
            return Ok(());
        }
        self.step("mkdir", path)?;
        std::fs::create_dir_all(path)
    }

    /// Sets a file's permission bits (not modelled: only its name and bytes matter here).
    pub fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.check()?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
}
