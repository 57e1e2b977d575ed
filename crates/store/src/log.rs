//! The custody log's files under `log/`, in the C2SP tlog-tiles layout, so any static file
//! server can publish the folder and any tlog-tiles client can read it:
//! `log/checkpoint`, `log/tile/<L>/<N>[.p/<W>]`, `log/tile/entries/<N>[.p/<W>]`.
//! Tiles are immutable; each is written to `log/tmp/` and renamed into place. Beside the
//! checkpoint, `log/signed-size` holds the size of the largest checkpoint ever written, so
//! an older (validly signed) checkpoint put back in its place is noticed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use athar_core::log::LogStore;
use athar_core::StoreError;

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
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

fn sync_path(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

impl FsLogStore {
    /// Opens (creating if needed) the log folder.
    pub fn open(root: &Path) -> Result<FsLogStore, StoreError> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(root.join("tile")).map_err(io(root))?;
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        // Leftovers of an interrupted write are never referenced.
        for e in std::fs::read_dir(&tmp).map_err(io(&tmp))? {
            let p = e.map_err(io(&tmp))?.path();
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
        Ok(FsLogStore {
            root: root.to_path_buf(),
            tmp,
        })
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
        let dir = File::open(&self.root).map_err(io(&self.root))?;
        rustix::fs::syncfs(&dir).map_err(|e| StoreError::io(&self.root, e.into()))
    }

    fn write_temp(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let tmp = self.tmp.join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o444)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        Ok(tmp)
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
                sync_path(tmp)?;
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
                std::fs::create_dir(m)
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
            match rustix::fs::renameat_with(
                rustix::fs::CWD,
                tmp,
                rustix::fs::CWD,
                dest,
                rustix::fs::RenameFlags::NOREPLACE,
            ) {
                Ok(()) => {}
                Err(rustix::io::Errno::EXIST) => std::fs::remove_file(tmp).map_err(io(tmp))?,
                Err(e) => return Err(StoreError::io(dest, e.into())),
            }
            dirs.insert(parent);
        }
        dirs.insert(self.tmp.clone());
        if few && dirs.len() <= SYNC_EACH_MAX {
            for d in &dirs {
                sync_path(d)?;
            }
            Ok(())
        } else {
            self.sync_fs()
        }
    }

    fn write_checkpoint(&self, signed: &[u8]) -> Result<(), StoreError> {
        let tmp = self.write_temp("checkpoint", signed)?;
        sync_path(&tmp)?;
        let dest = self.root.join("checkpoint");
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        sync_path(&self.root)
    }

    fn write_new(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let dest = self.resolve(path)?;
        if dest.exists() {
            return Err(StoreError::Corrupt(format!("{path} exists already")));
        }
        let parent = dest.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let tmp = self.write_temp("new", bytes)?;
        sync_path(&tmp)?;
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &tmp,
            rustix::fs::CWD,
            &dest,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(|e| StoreError::io(&dest, e.into()))?;
        sync_path(&parent)?;
        if let Some(pp) = parent.parent() {
            sync_path(pp)?;
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
        std::fs::rename(&tmp, &dest).map_err(io(&dest))
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
