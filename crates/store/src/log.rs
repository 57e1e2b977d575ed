//! The custody log's files under `log/`, in the C2SP tlog-tiles layout, so any static file
//! server can publish the folder and any tlog-tiles client can read it:
//! `log/checkpoint`, `log/tile/<L>/<N>[.p/<W>]`, `log/tile/entries/<N>[.p/<W>]`.
//! Tiles are immutable; each is written to `log/tmp/` and renamed into place. Beside the
//! checkpoint, `log/signed-size` holds the size of the largest checkpoint ever written, so
//! an older (validly signed) checkpoint put back in its place is noticed.

use std::path::{Component, Path, PathBuf};

use athar_core::log::LogStore;
use athar_core::StoreError;

use crate::disk::Disk;

/// The size of the largest checkpoint written, beside `checkpoint` (see
/// [`LogStore::signed_size`]).
const SIGNED_SIZE: &str = "signed-size";

/// Up to this many files are synced one by one; more with one filesystem flush.
const SYNC_EACH_MAX: usize = 2;

/// The log folder of an archive.
#[derive(Debug)]
pub struct FsLogStore {
    root: PathBuf,
    tmp: PathBuf,
    /// Every create, write, sync, rename and removal goes through it.
    disk: Disk,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

impl FsLogStore {
    /// Opens (creating if needed) the log folder.
    pub fn open(root: &Path) -> Result<FsLogStore, StoreError> {
        FsLogStore::open_on(root, Disk::real())
    }

    /// [`FsLogStore::open`] with its file operations going through `disk` (crash tests).
    pub fn open_on(root: &Path, disk: Disk) -> Result<FsLogStore, StoreError> {
        let tmp = root.join("tmp");
        let tile = root.join("tile");
        if !tile.is_dir() || !tmp.is_dir() {
            // The log's first files must not be lost with the folders' names: made durable
            // before anything is written in them.
            disk.create_dir_all(&tile).map_err(io(root))?;
            disk.create_dir_all(&tmp).map_err(io(&tmp))?;
            disk.sync_path(root).map_err(io(root))?;
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                disk.sync_path(parent).map_err(io(parent))?;
            }
        }
        // Leftovers of an interrupted write are never referenced.
        for e in std::fs::read_dir(&tmp).map_err(io(&tmp))? {
            let p = e.map_err(io(&tmp))?.path();
            disk.remove_file(&p).map_err(io(&p))?;
        }
        Ok(FsLogStore {
            root: root.to_path_buf(),
            tmp,
            disk,
        })
    }

    fn sync_path(&self, path: &Path) -> Result<(), StoreError> {
        self.disk.sync_path(path).map_err(io(path))
    }

    /// The folder (for publishing it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A relative log path made safe: only normal components.
    fn resolve(&self, rel: &str) -> Result<PathBuf, StoreError> {
        let p = Path::new(rel);
        if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(StoreError::Corrupt(format!("not a log path: {rel:?}")));
        }
        Ok(self.root.join(p))
    }

    fn sync_fs(&self) -> Result<(), StoreError> {
        self.disk.sync_fs(&self.root).map_err(io(&self.root))
    }

    /// Writes `bytes` to `tmp/<name>` (replacing a leftover of that name); not synced.
    fn write_temp(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let tmp = self.tmp.join(name);
        let f = self.disk.create_truncate(&tmp, 0o444).map_err(io(&tmp))?;
        self.disk.write_all(&f, bytes).map_err(io(&tmp))?;
        Ok(tmp)
    }

    /// Renames a synced temporary file to `dest` unless `dest` exists (then the temporary
    /// file is dropped: tiles are immutable).
    fn rename_new(&self, tmp: &Path, dest: &Path) -> Result<(), StoreError> {
        match self.disk.rename(tmp, dest, false) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.disk.remove_file(tmp).map_err(io(tmp))
            }
            Err(e) => Err(StoreError::io(dest, e)),
        }
    }
}

impl LogStore for FsLogStore {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let p = self.resolve(path)?;
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(p, e)),
        }
    }

    fn write_tiles(&self, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut staged = Vec::with_capacity(files.len());
        for (i, (rel, bytes)) in files.iter().enumerate() {
            let dest = self.resolve(rel)?;
            if dest.exists() {
                continue;
            }
            staged.push((self.write_temp(&format!("{i}.tile"), bytes)?, dest));
        }
        if staged.is_empty() {
            return Ok(());
        }
        let few = staged.len() <= SYNC_EACH_MAX;
        if few {
            for (tmp, _) in &staged {
                self.sync_path(tmp)?;
            }
        } else {
            self.sync_fs()?;
        }
        let mut dirs = std::collections::BTreeSet::new();
        for (tmp, dest) in &staged {
            let parent = dest.parent().unwrap_or(&self.root).to_path_buf();
            // Record every folder made, so its parent entry is synced too.
            let mut d = parent.clone();
            let mut missing = Vec::new();
            while !d.exists() {
                missing.push(d.clone());
                if !d.pop() {
                    break;
                }
            }
            for m in missing.iter().rev() {
                self.disk
                    .create_dir(m)
                    .or_else(|e| {
                        if e.kind() == std::io::ErrorKind::AlreadyExists {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
                    .map_err(io(m))?;
                if let Some(pp) = m.parent() {
                    dirs.insert(pp.to_path_buf());
                }
            }
            self.rename_new(tmp, dest)?;
            dirs.insert(parent);
        }
        dirs.insert(self.tmp.clone());
        if few && dirs.len() <= SYNC_EACH_MAX {
            for d in &dirs {
                self.sync_path(d)?;
            }
            Ok(())
        } else {
            self.sync_fs()
        }
    }

    fn write_checkpoint(&self, signed: &[u8]) -> Result<(), StoreError> {
        let tmp = self.write_temp("checkpoint", signed)?;
        self.sync_path(&tmp)?;
        let dest = self.root.join("checkpoint");
        self.disk.rename(&tmp, &dest, true).map_err(io(&dest))?;
        self.sync_path(&self.root)
    }

    fn write_new(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let dest = self.resolve(path)?;
        if dest.exists() {
            return Err(StoreError::Corrupt(format!("{path} exists already")));
        }
        let parent = dest.parent().unwrap_or(&self.root).to_path_buf();
        // Every folder made, from the top, so each one's name is synced in its parent.
        let mut missing = Vec::new();
        let mut d = parent.clone();
        while !d.is_dir() && d.starts_with(&self.root) {
            missing.push(d.clone());
            if !d.pop() {
                break;
            }
        }
        for m in missing.iter().rev() {
            self.disk.create_dir_all(m).map_err(io(m))?;
        }
        let tmp = self.write_temp("new", bytes)?;
        self.sync_path(&tmp)?;
        self.disk
            .rename(&tmp, &dest, false)
            .map_err(|e| StoreError::io(&dest, e))?;
        self.sync_path(&parent)?;
        for m in &missing {
            if let Some(pp) = m.parent() {
                self.sync_path(pp)?;
            }
        }
        if missing.is_empty() {
            if let Some(pp) = parent.parent() {
                self.sync_path(pp)?;
            }
        }
        Ok(())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        let d = self.resolve(dir)?;
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(d, e)),
        };
        let mut out = Vec::new();
        for e in rd {
            out.push(
                e.map_err(io(&d))?
                    .file_name()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        out.sort();
        Ok(out)
    }

    /// `log/signed-size`: the decimal size of the largest checkpoint written.
    fn signed_size(&self) -> Result<Option<u64>, StoreError> {
        let p = self.root.join(SIGNED_SIZE);
        match std::fs::read_to_string(&p) {
            // Empty or partial after a crash on a file system that lost the data: unknown.
            Ok(s) => Ok(s.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(p, e)),
        }
    }

    /// Replaced by rename, not synced: a crash can only leave it smaller (or unreadable),
    /// never above the checkpoint, which is durable before this is written.
    fn note_signed_size(&self, size: u64) -> Result<(), StoreError> {
        if self.signed_size()?.is_some_and(|s| s >= size) {
            return Ok(());
        }
        let tmp = self.write_temp(SIGNED_SIZE, format!("{size}\n").as_bytes())?;
        let dest = self.root.join(SIGNED_SIZE);
        self.disk.rename(&tmp, &dest, true).map_err(io(&dest))
    }

    fn list_tiles(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.join("tile")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let e = e.map_err(io(&dir))?;
                let p = e.path();
                let t = e.file_type().map_err(io(&p))?;
                if t.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
