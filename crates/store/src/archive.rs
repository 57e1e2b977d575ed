//! The archive on disk: one folder holding the configuration, the catalog, the blob store
//! and the signing key.
//!
//! ```text
//! athar.toml            configuration (written last at init: its presence marks an archive)
//! catalog.sqlite        the catalog (WAL mode)
//! blobs/sha256/ab/cd/…  immutable blobs named by SHA-256
//! blobs/tmp/            blobs being written
//! keys/archive.key      Ed25519 signing key, C2SP signed-note form, mode 0600
//! keys/archive.vkey     the matching verifier key
//! lock                  held (flock) by the one process that writes
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use athar_core::{Catalog, StoreError};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::{FsBlobStore, SqliteCatalog};

/// The archive format this build writes.
const FORMAT: u32 = 1;
const CONFIG_FILE: &str = "athar.toml";

/// Opening or creating an archive failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{}: not an Athar archive (no {CONFIG_FILE}); create one with `athar init`", .0.display())]
    NotAnArchive(PathBuf),
    #[error("{}: already an Athar archive; refusing to overwrite it", .0.display())]
    AlreadyAnArchive(PathBuf),
    #[error("{}: exists and is not an empty folder; refusing to create an archive there", .0.display())]
    NotEmpty(PathBuf),
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{}: archive format {found} is not supported by this build (supports {FORMAT})", path.display())]
    Format { path: PathBuf, found: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |e| ArchiveError::Store(StoreError::io(path, e))
}

/// `athar.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Config {
    pub archive: ArchiveSection,
    #[serde(default)]
    pub collector: CollectorSection,
    pub log: LogSection,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ArchiveSection {
    /// Archive format version.
    pub format: u32,
    /// A short name for this archive.
    pub name: String,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CollectorSection {
    /// The investigator recorded as collector; the OS user when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogSection {
    /// The custody log's origin line (also the signing key's name).
    pub origin: String,
}

/// Choices made at `athar init`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Archive name; defaults to the folder's name.
    pub name: Option<String>,
    /// Collector recorded on ingest.
    pub collector: Option<String>,
}

/// Whether the caller will write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only; takes no lock.
    Read,
    /// Writes; holds the archive's writer lock while open.
    Write,
}

/// An open archive.
#[derive(Debug)]
pub struct Archive {
    pub root: PathBuf,
    pub config: Config,
    pub catalog: SqliteCatalog,
    pub blobs: FsBlobStore,
    _lock: Option<File>,
}

impl Archive {
    /// Creates a new archive at `root`, which must not exist or be an empty folder.
    pub fn init(root: &Path, opts: &InitOptions) -> Result<Archive, ArchiveError> {
        if root.join(CONFIG_FILE).exists() {
            return Err(ArchiveError::AlreadyAnArchive(root.to_owned()));
        }
        match std::fs::read_dir(root) {
            Ok(mut rd) => {
                if rd.next().is_some() {
                    return Err(ArchiveError::NotEmpty(root.to_owned()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .recursive(true)
                    .create(root)
                    .map_err(io(root))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(ArchiveError::NotEmpty(root.to_owned()));
            }
            Err(e) => return Err(io(root)(e)),
        }
        let name = opts.name.clone().unwrap_or_else(|| default_name(root));
        let mut suffix = [0u8; 3];
        getrandom::getrandom(&mut suffix)
            .map_err(|e| io(root)(std::io::Error::other(e.to_string())))?;
        let origin = format!("athar/{}-{}", sanitize(&name), hex::encode(suffix));
        let keys = root.join("keys");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&keys)
            .map_err(io(&keys))?;
        let (signer, verifier) = generate_key(&origin).map_err(|e| io(&keys)(e))?;
        write_new(&keys.join("archive.key"), signer.as_bytes(), 0o600)?;
        write_new(
            &keys.join("archive.vkey"),
            format!("{verifier}\n").as_bytes(),
            0o644,
        )?;
        // Catalog and blob store.
        SqliteCatalog::open(&root.join("catalog.sqlite"), true)?;
        FsBlobStore::open(&root.join("blobs"))?;
        std::fs::write(root.join("lock"), b"").map_err(io(root))?;
        let config = Config {
            archive: ArchiveSection {
                format: FORMAT,
                name,
                created: athar_core::now_rfc3339(),
            },
            collector: CollectorSection {
                name: opts.collector.clone(),
            },
            log: LogSection { origin },
        };
        let text = toml::to_string_pretty(&config).map_err(|e| ArchiveError::Config {
            path: root.join(CONFIG_FILE),
            message: e.to_string(),
        })?;
        // The configuration is written last and atomically: it marks a complete archive.
        let tmp = root.join(".athar.toml.new");
        write_new(&tmp, text.as_bytes(), 0o644)?;
        std::fs::rename(&tmp, root.join(CONFIG_FILE)).map_err(io(root))?;
        File::open(root)
            .and_then(|d| d.sync_all())
            .map_err(io(root))?;
        Archive::open(root, Access::Write)
    }

    /// Opens an existing archive.
    pub fn open(root: &Path, access: Access) -> Result<Archive, ArchiveError> {
        let cfg_path = root.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&cfg_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ArchiveError::NotAnArchive(root.to_owned()))
            }
            Err(e) => return Err(io(&cfg_path)(e)),
        };
        let config: Config = toml::from_str(&text).map_err(|e| ArchiveError::Config {
            path: cfg_path.clone(),
            message: e.to_string(),
        })?;
        if config.archive.format != FORMAT {
            return Err(ArchiveError::Format {
                path: cfg_path,
                found: config.archive.format,
            });
        }
        let lock = match access {
            Access::Read => None,
            Access::Write => {
                let p = root.join("lock");
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&p)
                    .map_err(io(&p))?;
                rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
                    .map_err(|e| io(&p)(e.into()))?;
                Some(f)
            }
        };
        let catalog = SqliteCatalog::open(&root.join("catalog.sqlite"), access == Access::Write)?;
        let blobs = FsBlobStore::open(&root.join("blobs"))?;
        Ok(Archive {
            root: root.to_owned(),
            config,
            catalog,
            blobs,
            _lock: lock,
        })
    }

    /// Finishes what an interrupted ingest left (needs [`Access::Write`]).
    /// Returns (temporary files, unacknowledged blobs) removed.
    pub fn recover(&mut self) -> Result<(usize, usize), StoreError> {
        athar_core::ingest::recover(&mut self.catalog as &mut dyn Catalog, &self.blobs)
    }

    /// The verifier key, in C2SP signed-note form.
    pub fn verifier_key(&self) -> Result<String, StoreError> {
        let p = self.root.join("keys").join("archive.vkey");
        std::fs::read_to_string(&p)
            .map(|s| s.trim().to_owned())
            .map_err(|e| StoreError::io(p, e))
    }

    /// Who is recorded as collector: the configured name, else the OS user.
    pub fn collector(&self) -> String {
        match &self.config.collector.name {
            Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
            _ => os_user(),
        }
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ArchiveError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

fn default_name(root: &Path) -> String {
    std::path::absolute(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "archive".to_owned())
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "archive".to_owned()
    } else {
        s
    }
}

/// A new Ed25519 key as (signer key, verifier key) strings in C2SP signed-note form.
fn generate_key(name: &str) -> std::io::Result<(String, String)> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = signing.verifying_key().to_bytes();
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x01");
    h.update(public);
    let key_id = hex::encode(&h.finalize()[..4]);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut sk = vec![1u8];
    sk.extend_from_slice(&seed);
    let mut vk = vec![1u8];
    vk.extend_from_slice(&public);
    Ok((
        format!("PRIVATE+KEY+{name}+{key_id}+{}", b64.encode(sk)),
        format!("{name}+{key_id}+{}", b64.encode(vk)),
    ))
}

/// The name of the user running this process.
fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    let uid = rustix::process::getuid().as_raw();
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 2 && f[2] == uid.to_string() {
                return f[0].to_owned();
            }
        }
    }
    format!("uid {uid}")
}
