//! Uploads staged in the archive while their bytes arrive (the server's resumable uploads).
//!
//! ```text
//! uploads/<id>.part   the bytes received so far (on the blob store's filesystem)
//! uploads/<id>.json   the upload's state: who, what, declared length, durable offset, outcome
//! ```
//!
//! Ids are generated here (128 random bits, lower-case hex) and checked before any path is
//! made from one, so no caller-supplied text ever names a file. A staged upload is not an
//! item: it becomes one only through [`crate::Archive::ingest_upload`], by the normal ingest
//! steps. The sidecar's `offset` counts only bytes made durable (the part file is synced
//! before the sidecar is rewritten); after a crash the part file is cut back to it.
//! Uploads untouched for [`UploadSettings::keep_days`] are removed by
//! [`crate::Archive::recover`] (run by `athar serve` at start, `athar verify` and every
//! writing command).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use athar_core::StoreError;
use serde::{Deserialize, Serialize};

/// Default largest upload: 64 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 30;
/// Default days an untouched upload is kept.
pub const DEFAULT_KEEP_DAYS: u64 = 7;

/// `[uploads]` in `athar.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadSettings {
    /// Largest upload accepted, in bytes (default 64 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Days after which an upload nobody touched is removed (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u64>,
}

impl UploadSettings {
    pub fn is_empty(&self) -> bool {
        self.max_bytes.is_none() && self.keep_days.is_none()
    }
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES)
    }
    pub fn keep_days(&self) -> u64 {
        self.keep_days.unwrap_or(DEFAULT_KEEP_DAYS)
    }
}

/// An upload's state, as kept in its sidecar file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    /// The account that created it (only it may see or continue it).
    pub user_id: i64,
    pub user: String,
    pub filename: String,
    pub case: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Declared length in bytes.
    pub length: u64,
    /// Bytes received and durable.
    pub offset: u64,
    pub created: String,
    /// Set once the upload is an item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Set with `item`: the bytes were an item the uploader could already see.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_held: bool,
}

/// The `uploads/` folder of an archive.
#[derive(Debug, Clone)]
pub struct Uploads {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

/// Whether `id` has the form of an upload id (32 lower-case hex digits).
pub fn is_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Uploads {
    /// The folder under `root` (created when missing).
    pub fn open(root: &Path) -> Result<Uploads, StoreError> {
        let dir = root.join("uploads");
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(&dir)
                .map_err(io(&dir))?;
        }
        Ok(Uploads { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn checked(&self, id: &str, ext: &str) -> Result<PathBuf, StoreError> {
        if !is_upload_id(id) {
            return Err(StoreError::NotFound(format!("upload {id:?}")));
        }
        Ok(self.dir.join(format!("{id}.{ext}")))
    }

    /// Where an upload's bytes are staged.
    pub fn part_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        self.checked(id, "part")
    }

    /// A new upload id.
    pub fn new_id() -> Result<String, StoreError> {
        let mut b = [0u8; 16];
        getrandom::getrandom(&mut b)
            .map_err(|e| StoreError::io("random", std::io::Error::other(e.to_string())))?;
        Ok(hex::encode(b))
    }

    /// Creates the staged file (empty) and the sidecar of a new upload.
    pub fn create(&self, upload: &Upload) -> Result<(), StoreError> {
        let part = self.part_path(&upload.id)?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&part)
            .map_err(io(&part))?;
        self.save(upload)
    }

    /// Writes the sidecar atomically and durably.
    pub fn save(&self, upload: &Upload) -> Result<(), StoreError> {
        let path = self.checked(&upload.id, "json")?;
        let tmp = self.checked(&upload.id, "json.new")?;
        let text = serde_json::to_vec(upload)
            .map_err(|e| StoreError::Corrupt(format!("upload state: {e}")))?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.dir)
    }

    /// An upload's state; `NotFound` when there is none. A part file longer than the
    /// durable offset (bytes written before a crash but never confirmed) is cut back to it.
    pub fn load(&self, id: &str) -> Result<Upload, StoreError> {
        let path = self.checked(id, "json")?;
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(format!("upload {id}")))
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let mut upload: Upload = serde_json::from_slice(&text)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
        if upload.id != id || upload.offset > upload.length {
            return Err(StoreError::Corrupt(format!(
                "{}: inconsistent upload state",
                path.display()
            )));
        }
        if upload.item.is_none() {
            let part = self.part_path(id)?;
            let len = std::fs::metadata(&part).map_err(io(&part))?.len();
            if len > upload.offset {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&part)
                    .map_err(io(&part))?;
                f.set_len(upload.offset)
                    .and_then(|()| f.sync_all())
                    .map_err(io(&part))?;
            } else if len < upload.offset {
                // The durable offset is only written after the bytes were synced, so this
                // means the file was altered outside Athar: start again from what is there.
                upload.offset = len;
                self.save(&upload)?;
            }
        }
        Ok(upload)
    }

    /// Removes an upload's staged bytes and state (not the item it became).
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        for ext in ["part", "json.new", "json"] {
            let p = self.checked(id, ext)?;
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&p, e)),
            }
        }
        sync_dir(&self.dir)
    }

    /// Removes the staged bytes of an upload that became an item, keeping its state.
    pub fn remove_part(&self, id: &str) -> Result<(), StoreError> {
        let p = self.part_path(id)?;
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&p, e)),
        }
    }

    /// Ids of every upload (sorted).
    pub fn ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let e = e.map_err(io(&self.dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json") {
                if is_upload_id(id) {
                    ids.push(id.to_owned());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Removes uploads (finished or not) whose files nobody touched for `max_age`, and
    /// anything in the folder that is not an upload's file. Returns how many uploads went.
    pub fn remove_stale(&self, max_age: Duration) -> Result<usize, StoreError> {
        let now = SystemTime::now();
        let mut removed = 0;
        let mut seen = std::collections::BTreeMap::new();
        for e in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let e = e.map_err(io(&self.dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.split('.').next().unwrap_or_default().to_owned();
            if !is_upload_id(&id) {
                continue;
            }
            let meta = e.metadata().map_err(io(&e.path()))?;
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            let entry = seen.entry(id).or_insert(true);
            *entry &= age >= max_age;
        }
        for (id, stale) in seen {
            if stale {
                self.remove(&id)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn upload(id: &str) -> Upload {
        Upload {
            id: id.to_owned(),
            user_id: 1,
            user: "inv".into(),
            filename: "clip.mp4".into(),
            case: "alpha".into(),
            source: None,
            note: None,
            length: 10,
            offset: 0,
            created: "2026-01-01T00:00:00Z".into(),
            item: None,
            sha256: None,
            already_held: false,
        }
    }

    #[test]
    fn ids_are_checked_before_any_path_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path()).unwrap();
        for bad in ["../catalog", "ABCDEF0123456789abcdef0123456789", "a", ""] {
            assert!(matches!(u.load(bad), Err(StoreError::NotFound(_))), "{bad}");
            assert!(u.part_path(bad).is_err());
        }
        let id = Uploads::new_id().unwrap();
        assert!(is_upload_id(&id));
    }

    #[test]
    fn load_cuts_unconfirmed_bytes_and_stale_uploads_go() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path()).unwrap();
        let id = Uploads::new_id().unwrap();
        let mut up = upload(&id);
        u.create(&up).unwrap();
        std::fs::write(u.part_path(&id).unwrap(), b"abcdef").unwrap();
        up.offset = 4;
        u.save(&up).unwrap();
        let loaded = u.load(&id).unwrap();
        assert_eq!(loaded.offset, 4);
        assert_eq!(std::fs::read(u.part_path(&id).unwrap()).unwrap(), b"abcd");
        assert_eq!(u.ids().unwrap(), vec![id.clone()]);
        assert_eq!(u.remove_stale(Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(u.remove_stale(Duration::ZERO).unwrap(), 1);
        assert!(u.ids().unwrap().is_empty());
        assert!(!u.part_path(&id).unwrap().exists());
    }
}
