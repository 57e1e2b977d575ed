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
//! keys/pseudonym.key    secret that turns actor names into log pseudonyms, mode 0600
//! keys/keyring.json     encrypted archives: the archive key, sealed per passphrase or age
//!                       recipient; the two keys above are then `*.sealed`, the catalog is
//!                       SQLCipher and blobs are under `blobs/sealed/` (keyed names)
//! log/                  the custody log: C2SP checkpoint and tiles
//! lock                  held (flock) by the one process that writes
//! index/similar.idx     similarity index over the fingerprints (a derived cache, see `athar`)
//! uploads/<id>.part     bytes of a resumable upload being received; <id>.json its state
//! exports/              bags the server builds to stream as downloads (removed after)
//! ```

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use athar_core::log::{CustodyLog, LogError, LogStore, Logger};
use athar_core::{BlobStore, Database, StoreError};
use athar_tlog::note::NoteSigner as _;
use athar_tlog::{Ed25519Signer, Ed25519Verifier};
use serde::{Deserialize, Serialize};

use crate::backends::{Backends, StorageSection};
use crate::sealed::Sealing;
use crate::uploads::{Upload, UploadSettings, Uploads};

/// The archive format this build writes.
const FORMAT: u32 = 1;
pub(crate) const CONFIG_FILE: &str = "athar.toml";

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
    #[error("{}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(
        "{}: an encryption in place was interrupted; run `athar encrypt` again to finish it \
         (nothing is lost: every blob is either still plain or already sealed)",
        .0.display()
    )]
    EncryptionInterrupted(PathBuf),
    #[error("{}: the archive is already encrypted", .0.display())]
    AlreadyEncrypted(PathBuf),
    /// Another process writes to the archive (`athar serve`, an ingest) and kept it for
    /// longer than this process waits.
    #[error(
        "{}: another Athar process ({holder}) holds the archive and did not let go within \
         {waited} s; run this command when it is done, or stop it (commands that only read, \
         such as list, show and similar, never wait)",
        path.display()
    )]
    Busy {
        path: PathBuf,
        holder: String,
        waited: u64,
    },
    #[error("{}", path.display())]
    Unlock {
        path: PathBuf,
        source: crate::sealed::unlock::UnlockError,
    },
    /// The catalog holds fewer custody events than the custody log: it is not this
    /// archive's catalog, or an older copy of it. Writing to it would give new events
    /// numbers the log already holds for others.
    #[error(
        "the catalog holds fewer custody events than the custody log ({log_size}): it is not \
         this archive's catalog, or it was put back from an older copy; nothing is written \
         until it is the right one (athar verify shows what is missing)"
    )]
    CatalogBehindLog { log_size: u64 },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |e| ArchiveError::Store(StoreError::io(path, e))
}

/// `athar.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Config {
    pub archive: ArchiveSection,
    #[serde(default)]
    pub collector: CollectorSection,
    pub log: LogSection,
    #[serde(default, skip_serializing_if = "TimestampSection::is_empty")]
    pub timestamp: TimestampSection,
    #[serde(default, skip_serializing_if = "UploadSettings::is_empty")]
    pub uploads: UploadSettings,
    #[serde(default, skip_serializing_if = "SimilarSection::is_empty")]
    pub similar: SimilarSection,
    /// Where the catalog, blobs and log are (the embedded defaults when absent).
    #[serde(default)]
    pub storage: StorageSection,
    /// Whether the archive is encrypted at rest.
    #[serde(default, skip_serializing_if = "EncryptionSection::is_off")]
    pub encryption: EncryptionSection,
    /// How `athar serve` signs people in.
    #[serde(default, skip_serializing_if = "ServerSection::is_default")]
    pub server: ServerSection,
    /// Web capture: how often `athar serve` checks the captured sources.
    #[serde(default, skip_serializing_if = "CaptureSection::is_default")]
    pub capture: CaptureSection,
}

/// `[capture]` in `athar.toml`: how often the deletion watch checks the captured sources,
/// for the whole archive and per case:
///
/// ```toml
/// [capture]
/// check_every_hours = 24          # the default; 0: no watch
///
/// [capture.cases."case-7"]
/// check_every_hours = 6           # this case's sources more often (0: never)
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// Hours between two checks of a captured source by `athar serve`'s deletion watch
    /// (stretched by a jitter of up to ±10 % fixed per address); 24 when not set, 0 for no
    /// watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_every_hours: Option<u32>,
    /// Cases whose sources are checked on another schedule, by case id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cases: BTreeMap<String, CaseCaptureSection>,
}

/// `[capture.cases."<case>"]` in `athar.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CaseCaptureSection {
    /// Hours between two checks of the case's sources; 0 for none.
    pub check_every_hours: u32,
}

/// The default interval of the deletion watch: a day.
pub const CHECK_SOURCES_EVERY: Duration = Duration::from_secs(24 * 3600);

impl CaptureSection {
    fn is_default(&self) -> bool {
        *self == CaptureSection::default()
    }

    /// The watch's schedule this section sets.
    pub fn schedule(&self) -> WatchSchedule {
        let hours = |h: u32| (h > 0).then(|| Duration::from_secs(u64::from(h) * 3600));
        WatchSchedule {
            every: self
                .check_every_hours
                .map_or(Some(CHECK_SOURCES_EVERY), hours),
            cases: self
                .cases
                .iter()
                .map(|(case, c)| (case.clone(), hours(c.check_every_hours)))
                .collect(),
        }
    }
}

/// How often the deletion watch checks the sources of each case: the archive's interval,
/// and the cases that have their own. None: not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchSchedule {
    /// For the cases not named in `cases`.
    pub every: Option<Duration>,
    /// By case id.
    pub cases: BTreeMap<String, Option<Duration>>,
}

impl WatchSchedule {
    /// Every case on one interval.
    pub fn uniform(every: Option<Duration>) -> WatchSchedule {
        WatchSchedule {
            every,
            cases: BTreeMap::new(),
        }
    }

    /// The interval of `case`'s sources.
    pub fn of_case(&self, case: &str) -> Option<Duration> {
        self.cases.get(case).copied().unwrap_or(self.every)
    }

    /// The interval of a source captured into each of `cases`: the shortest of theirs (a
    /// case that watches more closely decides); None when none of them watches.
    pub fn of_cases<'a>(&self, cases: impl IntoIterator<Item = &'a str>) -> Option<Duration> {
        cases.into_iter().filter_map(|c| self.of_case(c)).min()
    }

    /// The shortest interval of any case: how often the watch must look. None: it never
    /// checks anything.
    pub fn shortest(&self) -> Option<Duration> {
        self.every
            .into_iter()
            .chain(self.cases.values().flatten().copied())
            .min()
    }
}

/// `[server]` in `athar.toml`: how `athar serve` signs people in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The roles whose users must use a second factor (TOTP) in the web app and API;
    /// `["admin"]` when not set, `[]` for none. Someone with such a role and no second
    /// factor yet gets a session that can only enrol one.
    #[serde(
        default = "ServerSection::default_second_factor",
        deserialize_with = "roles"
    )]
    pub second_factor: Vec<athar_core::accounts::Role>,
}

impl ServerSection {
    fn default_second_factor() -> Vec<athar_core::accounts::Role> {
        vec![athar_core::accounts::Role::Admin]
    }

    fn is_default(&self) -> bool {
        *self == ServerSection::default()
    }
}

impl Default for ServerSection {
    fn default() -> ServerSection {
        ServerSection {
            second_factor: ServerSection::default_second_factor(),
        }
    }
}

/// Role names, each known (an unknown one is an error naming it and the roles there are).
fn roles<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<athar_core::accounts::Role>, D::Error> {
    use athar_core::accounts::Role;
    let names = Vec::<String>::deserialize(d)?;
    let mut out = Vec::new();
    for n in names {
        let role = Role::parse(&n).ok_or_else(|| {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            serde::de::Error::custom(format!(
                "server.second_factor: unknown role {n:?} (roles: {})",
                known.join(", ")
            ))
        })?;
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

/// `[encryption]` in `athar.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EncryptionSection {
    /// The catalog is SQLCipher-encrypted, blobs are sealed, the secret keys are sealed,
    /// all under the archive key that `keys/keyring.json` guards.
    #[serde(default)]
    pub encrypted: bool,
}

impl EncryptionSection {
    fn is_off(&self) -> bool {
        !self.encrypted
    }
}

/// `[similar]` in `athar.toml`: how the similarity index searches.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SimilarSection {
    /// `"mih"` (default: multi-index tables, fastest, about 3× the hashes' memory) or
    /// `"compact"` (a column-wise scan, the hashes' memory alone). Both are exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<SimilarIndex>,
}

impl SimilarSection {
    fn is_empty(&self) -> bool {
        self.index.is_none()
    }
}

/// The similarity index's kind, as named in `athar.toml`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SimilarIndex {
    #[default]
    Mih,
    Compact,
}

/// RFC 3161 time-stamping authorities asked by `athar timestamp`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimestampSection {
    /// Zero or more authorities, each `{ url = "http://…", ca_file = "…" }`.
    #[serde(default)]
    pub tsa: Vec<TsaConfig>,
}

impl TimestampSection {
    fn is_empty(&self) -> bool {
        self.tsa.is_empty()
    }
}

/// One time-stamping authority.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TsaConfig {
    /// Where to send time-stamp requests (plain HTTP; the token is signed).
    pub url: String,
    /// The authority's CA certificate (PEM), to check its signature chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
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
#[derive(Clone, Default)]
pub struct InitOptions {
    /// Archive name; defaults to the folder's name.
    pub name: Option<String>,
    /// Collector recorded on ingest.
    pub collector: Option<String>,
    /// Encrypt the archive at rest under a new archive key, guarded by this passphrase.
    pub passphrase: Option<zeroize::Zeroizing<String>>,
    /// Where the catalog, blobs and log go (the embedded defaults in the archive's folder for
    /// what is left out). Each location must hold nothing yet.
    pub storage: Option<StorageSection>,
}

impl std::fmt::Debug for InitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitOptions")
            .field("name", &self.name)
            .field("collector", &self.collector)
            .field("encrypted", &self.passphrase.is_some())
            .field("storage", &self.storage)
            .finish()
    }
}

/// Where the keyring is, under the root.
pub(crate) const KEYRING: &str = "keys/keyring.json";

/// Writes a secret key file: sealed under `sealing` when the archive is encrypted.
pub(crate) fn write_key_file(
    keys: &Path,
    name: &str,
    bytes: &[u8],
    sealing: Option<&Sealing>,
) -> Result<(), ArchiveError> {
    match sealing {
        None => write_new(&keys.join(name), bytes, 0o600),
        Some(s) => {
            let sealed =
                s.files
                    .seal(&format!("keys/{name}"), bytes)
                    .map_err(|e| ArchiveError::Key {
                        path: keys.join(name),
                        message: e.to_string(),
                    })?;
            write_new(&keys.join(format!("{name}.sealed")), &sealed, 0o600)
        }
    }
}

/// Reads a secret key file written by [`write_key_file`].
fn read_key_file(
    keys: &Path,
    name: &str,
    sealing: Option<&Sealing>,
) -> Result<zeroize::Zeroizing<String>, ArchiveError> {
    let path = match sealing {
        None => keys.join(name),
        Some(_) => keys.join(format!("{name}.sealed")),
    };
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let plain = match sealing {
        None => zeroize::Zeroizing::new(bytes),
        Some(s) => {
            s.files
                .open(&format!("keys/{name}"), &bytes)
                .map_err(|e| ArchiveError::Key {
                    path: path.clone(),
                    message: e.to_string(),
                })?
        }
    };
    String::from_utf8(plain.to_vec())
        .map(zeroize::Zeroizing::new)
        .map_err(|_| ArchiveError::Key {
            path,
            message: "not text".into(),
        })
}

/// The keys of an encrypted archive at `root`, unlocked (None for a plain archive).
fn unlock_at(root: &Path, config: &Config) -> Result<Option<Sealing>, ArchiveError> {
    if !config.encryption.encrypted {
        return Ok(None);
    }
    let path = root.join(KEYRING);
    let unlock_err = |source| ArchiveError::Unlock {
        path: root.to_owned(),
        source,
    };
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let keyring = athar_crypt::Keyring::parse(&bytes)
        .map_err(|e| unlock_err(crate::sealed::unlock::UnlockError::Keyring(e)))?;
    let key =
        crate::sealed::unlock::archive_key(&config.archive.name, &keyring).map_err(unlock_err)?;
    Ok(Some(Sealing::new(key).with_keyring(&path, &keyring)?))
}

/// An archive's parts, ready for writing.
pub struct Writer<'a> {
    pub catalog: &'a mut dyn Database,
    pub blobs: &'a dyn BlobStore,
    /// The custody log's files (time-stamp tokens are kept there too).
    pub log: &'a dyn LogStore,
    pub logger: Logger<'a>,
    /// Who is recorded as acting.
    pub collector: String,
    /// The turn a [`Access::Shared`] opening takes for this writer, released with it.
    _turn: Turn,
}

/// A turn at writing, for an archive opened [`Access::Shared`]: the lock file and, for a
/// PostgreSQL catalog, its writer lock, held until the last clone is dropped (a turn taken
/// while one is held shares it). Nothing for the other accesses (a writer holds both while
/// open; a reader writes nothing).
#[derive(Debug, Default, Clone)]
pub struct Turn {
    _held: Option<std::sync::Arc<TurnLocks>>,
}

#[derive(Debug)]
struct TurnLocks {
    _file: File,
    _shared: std::sync::Mutex<Option<athar_pg::WriterLock>>,
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("collector", &self.collector)
            .finish_non_exhaustive()
    }
}

/// What [`Archive::recover`] finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Temporary files removed.
    pub temporary: usize,
    /// Blobs removed that were never acknowledged.
    pub blobs: usize,
    /// Queued custody events appended to the log.
    pub logged: u64,
    /// Staged uploads removed because nobody touched them for `[uploads] keep_days`.
    pub stale_uploads: usize,
    /// Case erasures finished (stopped after the case's key was destroyed).
    pub erasures: usize,
}

/// Whether the caller will write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only; takes no lock.
    Read,
    /// Writes; holds the archive's writer lock while open.
    Write,
    /// Writes beside other processes, taking the writer lock in turns: only for each write
    /// that appends to the custody log ([`Archive::writer`], [`Archive::turn`]), so that
    /// several processes (workers claiming jobs, on any machine over a PostgreSQL catalog)
    /// share one archive. Catalog writes outside a turn touch no custody data (a job's
    /// claim or lease); opening releases no one's jobs and recovers nothing another
    /// process may still be writing.
    Shared,
}

/// An open archive: its parts opened from the backends its configuration names.
pub struct Archive {
    pub root: PathBuf,
    pub config: Config,
    pub catalog: Box<dyn Database>,
    pub blobs: Box<dyn BlobStore>,
    pub log: Box<dyn LogStore>,
    /// Where the parts are, to open more connections (the server's readers).
    pub backends: Backends,
    /// Signs the custody log's checkpoints.
    pub signer: Ed25519Signer,
    /// Turns actor names into the pseudonyms the log carries.
    pub pseudonym_secret: Vec<u8>,
    pub(crate) lock: Option<File>,
    /// A PostgreSQL catalog's writer lock, held with `lock` by a writer: the lock file
    /// guards one machine, this one every machine sharing the catalog.
    pub(crate) shared_lock: Option<athar_pg::WriterLock>,
    /// How the archive was opened.
    access: Access,
    /// The turn held now, if any ([`Archive::turn`] shares it).
    turn: std::sync::Mutex<std::sync::Weak<TurnLocks>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("root", &self.root)
            .field("config", &self.config)
            .field("backends", &self.backends)
            .field("writer", &self.lock.is_some())
            .field("shared_writer", &self.shared_lock.is_some())
            .finish_non_exhaustive()
    }
}

impl Archive {
    /// Creates a new archive at `root`, which must not exist or be an empty folder.
    pub fn init(root: &Path, opts: &InitOptions) -> Result<Archive, ArchiveError> {
        if root.join(CONFIG_FILE).exists() {
            return Err(ArchiveError::AlreadyAnArchive(root.to_owned()));
        }
        // Where the parts go: each location given, else the embedded default; none may
        // hold anything yet. Checked before anything is made.
        let storage = {
            let given = opts.storage.clone().unwrap_or_default();
            let defaults = StorageSection::embedded();
            StorageSection {
                catalog: given.catalog.or(defaults.catalog),
                blobs: given.blobs.or(defaults.blobs),
                log: given.log.or(defaults.log),
            }
        };
        let config_error = |e: crate::backends::LocationError| ArchiveError::Config {
            path: root.join(CONFIG_FILE),
            message: e.to_string(),
        };
        let mut backends = Backends::from_config(root, &storage).map_err(config_error)?;
        // Secrets never go into athar.toml.
        if let Some(c) = storage
            .catalog
            .as_deref()
            .filter(|c| athar_pg::has_password(c))
        {
            return Err(config_error(crate::backends::LocationError {
                field: "catalog",
                value: athar_pg::redact(c),
                message: "a password would be written to athar.toml: give it in PGPASSWORD or \
                          ~/.pgpass instead"
                    .to_owned(),
            }));
        }
        // An encrypted archive keeps its catalog and blobs embedded: refused before anything
        // is made.
        if opts.passphrase.is_some() {
            backends.embedded_paths().map_err(config_error)?;
        }
        backends.check_absent().map_err(config_error)?;
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
        let sealing = match &opts.passphrase {
            None => None,
            Some(pass) => {
                let key_err = |e: &dyn std::fmt::Display| ArchiveError::Key {
                    path: root.join(KEYRING),
                    message: e.to_string(),
                };
                let key = athar_crypt::Key::random().map_err(|e| key_err(&e))?;
                let keyring = athar_crypt::Keyring::create(&key, pass).map_err(|e| key_err(&e))?;
                write_new(&root.join(KEYRING), &keyring.to_bytes(), 0o600)?;
                crate::sealed::unlock::remember(&key);
                Some(Sealing::new(key))
            }
        };
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut())
            .map_err(|e| io(&keys)(std::io::Error::other(e.to_string())))?;
        let signer = Ed25519Signer::from_seed(&origin, &seed).map_err(|e| ArchiveError::Key {
            path: keys.join("archive.key"),
            message: e.to_string(),
        })?;
        write_key_file(
            &keys,
            "archive.key",
            signer.skey().as_bytes(),
            sealing.as_ref(),
        )?;
        let vkey = format!("{}\n", signer.verifier().vkey());
        write_new(&keys.join("archive.vkey"), vkey.as_bytes(), 0o644)?;
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::getrandom(secret.as_mut())
            .map_err(|e| io(&keys)(std::io::Error::other(e.to_string())))?;
        let secret_hex = zeroize::Zeroizing::new(hex::encode(&secret[..]));
        write_key_file(
            &keys,
            "pseudonym.key",
            secret_hex.as_bytes(),
            sealing.as_ref(),
        )?;
        let encryption = EncryptionSection {
            encrypted: sealing.is_some(),
        };
        if let Some(s) = sealing {
            backends = backends.with_sealing(s);
        }
        backends.open_catalog(true)?;
        backends.open_blobs()?;
        // The log starts with a signed checkpoint of the empty tree.
        CustodyLog::open(backends.open_log()?.as_ref(), signer.clone())?;
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
            timestamp: TimestampSection::default(),
            uploads: UploadSettings::default(),
            similar: SimilarSection::default(),
            storage,
            encryption,
            server: ServerSection::default(),
            capture: CaptureSection::default(),
        };
        // The configuration is written last and atomically: it marks a complete archive.
        write_config(root, &config)?;
        Archive::open(root, Access::Write)
    }

    /// Opens an existing archive.
    pub fn open(root: &Path, access: Access) -> Result<Archive, ArchiveError> {
        Archive::open_locked(root, access, true)
    }

    /// Opens the archive for `athar serve`: in turns ([`Access::Shared`]) when every part
    /// can be reached from several machines (a PostgreSQL catalog, blobs and log in an
    /// object store), so that several servers and workers share the archive; else for good
    /// ([`Access::Write`]: a log in a folder of this machine has one appender, this one).
    pub fn open_for_serving(root: &Path) -> Result<Archive, ArchiveError> {
        let config = read_config(root)?;
        let shared = Backends::from_config(root, &config.storage).is_ok_and(|b| b.all_shared());
        Archive::open(
            root,
            if shared {
                Access::Shared
            } else {
                Access::Write
            },
        )
    }

    /// Opens the archive for writing if no other process holds it, without waiting: `None`
    /// at once when one does (a running `athar serve`, say). For commands that write only
    /// what they may also leave out (a derived index, the recovery of an interrupted run).
    /// `Err(holder)` names who holds it.
    pub fn open_if_free(root: &Path) -> Result<Result<Archive, String>, ArchiveError> {
        match Archive::open_locked(root, Access::Write, false) {
            Ok(a) => Ok(Ok(a)),
            Err(ArchiveError::Busy {
                waited: 0, holder, ..
            }) => Ok(Err(holder)),
            Err(e) => Err(e),
        }
    }

    fn open_locked(root: &Path, access: Access, wait: bool) -> Result<Archive, ArchiveError> {
        let cfg_path = root.join(CONFIG_FILE);
        let config = read_config(root)?;
        if root.join(crate::encrypt::MARKER).exists() {
            return Err(ArchiveError::EncryptionInterrupted(root.to_owned()));
        }
        let lock = match access {
            Access::Read | Access::Shared => None,
            Access::Write => Some(lock_file(root, wait)?),
        };
        let mut backends = Backends::from_config(root, &config.storage)
            .and_then(|b| b.check_present().map(|()| b))
            .map_err(|e| ArchiveError::Config {
                path: cfg_path.clone(),
                message: e.to_string(),
            })?;
        let sealing = unlock_at(root, &config)?;
        if let Some(s) = sealing.clone() {
            let dir = s.work_dir();
            std::fs::DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(&dir)
                .and_then(|()| {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                })
                .map_err(io(&dir))?;
            backends = backends.with_sealing(s);
        }
        let shared_lock = match (access, backends.postgres_catalog()) {
            (Access::Write, Some(at)) => Some(take_shared_lock(root, at, wait, true)?),
            _ => None,
        };
        let catalog = match access {
            Access::Read => backends.open_catalog(false)?,
            Access::Write => backends.open_catalog(true)?,
            Access::Shared => backends.open_catalog_shared()?,
        };
        let blobs = backends.open_blobs()?;
        let log = backends.open_log()?;
        let keys = root.join("keys");
        let key_path = keys.join("archive.key");
        let skey = read_key_file(&keys, "archive.key", sealing.as_ref())?;
        let key_err = |path: &Path, message: String| ArchiveError::Key {
            path: path.to_owned(),
            message,
        };
        let signer =
            Ed25519Signer::from_skey(skey.trim()).map_err(|e| key_err(&key_path, e.to_string()))?;
        if signer.name() != config.log.origin {
            let msg = format!(
                "key name {:?} is not the log origin {:?}",
                signer.name(),
                config.log.origin
            );
            return Err(key_err(&key_path, msg));
        }
        let secret_path = keys.join("pseudonym.key");
        let secret = read_key_file(&keys, "pseudonym.key", sealing.as_ref())?;
        let pseudonym_secret =
            hex::decode(secret.trim()).map_err(|e| key_err(&secret_path, e.to_string()))?;
        if let Some(f) = &lock {
            note_holder(root, f)?;
        }
        Ok(Archive {
            root: root.to_owned(),
            config,
            catalog,
            blobs,
            log,
            backends,
            signer,
            pseudonym_secret,
            lock,
            shared_lock,
            access,
            turn: std::sync::Mutex::new(std::sync::Weak::new()),
        })
    }

    /// What a writer needs at once — catalog, blob store, custody log — borrowed apart (needs
    /// [`Access::Write`]).
    pub fn writer(&mut self) -> Result<Writer<'_>, ArchiveError> {
        // With a shared catalog, the writer lock must still be ours before the log grows.
        if let Some(lock) = self.shared_lock.as_mut() {
            lock.check()?;
        }
        let turn = self.turn()?;
        let collector = self.collector();
        let log = CustodyLog::open(self.log.as_ref(), self.signer.clone())?;
        let mut logger = Logger {
            log,
            secret: self.pseudonym_secret.clone(),
        };
        if self.access == Access::Shared {
            // Events another process committed to the catalog and died before logging
            // (what `recover` does at a writer's opening) go into the log first.
            let log_size = logger.log.size();
            if log_size > 0 && self.catalog.event_records(log_size - 1, 1)?.is_empty() {
                return Err(ArchiveError::CatalogBehindLog { log_size });
            }
            if !self.catalog.unlogged()?.is_empty() {
                logger.catch_up(self.catalog.as_mut())?;
                self.catalog.mark_logged(logger.log.size())?;
            }
        }
        Ok(Writer {
            catalog: self.catalog.as_mut(),
            blobs: self.blobs.as_ref(),
            log: self.log.as_ref(),
            logger,
            collector,
            _turn: turn,
        })
    }

    /// Takes a turn at writing, for an archive opened [`Access::Shared`]: waits (as
    /// [`set_lock_wait`] says) for the lock file and, for a PostgreSQL catalog, its writer
    /// lock, held until the turn is dropped. [`Archive::writer`] takes one itself; a caller
    /// takes one around writes that must not interleave with another process's (a claim
    /// that must not be made while another process holds the archive for good). Nothing
    /// is taken for the other accesses.
    pub fn turn(&self) -> Result<Turn, ArchiveError> {
        self.take_turn(true)
    }

    /// [`Archive::turn`] without waiting: [`ArchiveError::Busy`] at once while another
    /// process holds the lock (for a caller that must do something else meanwhile, such as
    /// renewing a job's lease).
    pub fn try_turn(&self) -> Result<Turn, ArchiveError> {
        self.take_turn(false)
    }

    fn take_turn(&self, wait: bool) -> Result<Turn, ArchiveError> {
        if self.access != Access::Shared {
            return Ok(Turn::default());
        }
        let mut held = self.turn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(locks) = held.upgrade() {
            return Ok(Turn { _held: Some(locks) });
        }
        let file = lock_file(&self.root, wait)?;
        let shared = match self.backends.postgres_catalog() {
            Some(at) => Some(take_shared_lock(&self.root, at, wait, false)?),
            None => None,
        };
        let locks = std::sync::Arc::new(TurnLocks {
            _file: file,
            _shared: std::sync::Mutex::new(shared),
        });
        *held = std::sync::Arc::downgrade(&locks);
        Ok(Turn { _held: Some(locks) })
    }

    /// How the archive was opened.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The custody log, for appending (needs [`Access::Write`]) and proving.
    pub fn custody_log(&self) -> Result<CustodyLog<'_>, LogError> {
        CustodyLog::open(self.log.as_ref(), self.signer.clone())
    }

    /// Whether the archive is encrypted at rest.
    pub fn is_encrypted(&self) -> bool {
        self.backends.sealing().is_some()
    }

    /// Where derived and transient files go (search and similarity indexes, staged
    /// uploads, bags being built): the root for a plain archive; for an encrypted one a
    /// private folder in memory ([`Sealing::work_dir`]), since those files hold plain
    /// content.
    /// Made (mode 0700) when the archive is opened.
    pub fn work_dir(&self) -> PathBuf {
        match self.backends.sealing() {
            Some(s) => s.work_dir(),
            None => self.root.clone(),
        }
    }

    /// The keyring of an encrypted archive (None for a plain one).
    pub fn keyring(&self) -> Result<Option<athar_crypt::Keyring>, ArchiveError> {
        if self.backends.sealing().is_none() {
            return Ok(None);
        }
        let path = self.root.join(KEYRING);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        athar_crypt::Keyring::parse(&bytes)
            .map(Some)
            .map_err(|e| ArchiveError::Key {
                path,
                message: e.to_string(),
            })
    }

    /// Seals the blobs written from now on under `case`'s own key, made on first use
    /// (an encrypted archive gives each case its key, so that the case can be erased by
    /// destroying it); under the archive's blob key when `case` is None. Nothing for a
    /// plain archive. Refused for a case that was erased. Needs [`Access::Write`].
    pub fn write_into_case(&mut self, case: Option<&str>) -> Result<(), ArchiveError> {
        if self.backends.sealing().is_none() {
            return Ok(());
        }
        let writing = self.case_sealing(case)?;
        self.blobs = self.backends.clone().with_sealing(writing).open_blobs()?;
        Ok(())
    }

    /// The keys that seal new blobs under `case`'s own key (made on first use), or under
    /// the archive's blob key for None. Needs an encrypted archive.
    pub(crate) fn case_sealing(&self, case: Option<&str>) -> Result<Sealing, ArchiveError> {
        let sealing = self
            .backends
            .sealing()
            .cloned()
            .ok_or_else(|| ArchiveError::Key {
                path: self.root.join(KEYRING),
                message: "the archive is not encrypted".into(),
            })?;
        Ok(match case {
            None => sealing,
            Some(case) => {
                let keys = sealing.case(case).map_err(|e| ArchiveError::Key {
                    path: self.root.join(KEYRING),
                    message: e.to_string(),
                })?;
                sealing.writing_under(&keys)
            }
        })
    }

    /// Changes the keyring of an encrypted archive with `change` (given the keyring and the
    /// archive key) and writes it back atomically and durably; the data is never touched.
    /// Needs [`Access::Write`].
    pub fn change_keyring<T>(
        &self,
        change: impl FnOnce(
            &mut athar_crypt::Keyring,
            &athar_crypt::Key,
        ) -> Result<T, athar_crypt::KeyringError>,
    ) -> Result<T, ArchiveError> {
        let path = self.root.join(KEYRING);
        let (Some(mut ring), Some(s)) = (self.keyring()?, self.backends.sealing()) else {
            return Err(ArchiveError::Key {
                path,
                message: "the archive is not encrypted (athar init --encrypt makes one that is)"
                    .into(),
            });
        };
        let out = change(&mut ring, &s.archive).map_err(|e| ArchiveError::Key {
            path: path.clone(),
            message: e.to_string(),
        })?;
        replace_file(
            &self.root.join("keys"),
            "keyring.json",
            &ring.to_bytes(),
            0o600,
        )?;
        Ok(out)
    }

    /// The verifier of this archive's checkpoints.
    pub fn verifier(&self) -> Ed25519Verifier {
        self.signer.verifier()
    }

    /// Finishes what an interrupted ingest left (needs [`Access::Write`]): removes temporary
    /// files and unacknowledged blobs, and appends events queued for the custody log.
    /// Refuses ([`ArchiveError::CatalogBehindLog`]) a catalog that does not hold the log's
    /// last event, so that nothing is written to an older or another archive's catalog.
    pub fn recover(&mut self) -> Result<Recovered, ArchiveError> {
        // The log's last leaf must be a catalog event (cheap: one checkpoint, one row).
        let log_size = self.custody_log()?.size();
        if log_size > 0 && self.catalog.event_records(log_size - 1, 1)?.is_empty() {
            return Err(ArchiveError::CatalogBehindLog { log_size });
        }
        if self.access == Access::Shared {
            // Others may be in the middle of an ingest, an upload or an erasure: only the
            // log is brought up to date (as each turn does).
            drop(self.writer()?);
            let logged = self.custody_log()?.size() - log_size;
            return Ok(Recovered {
                logged,
                ..Recovered::default()
            });
        }
        let (temporary, blobs) =
            athar_core::ingest::recover(self.catalog.as_mut(), self.blobs.as_ref())?;
        let logged = if self.catalog.unlogged()?.is_empty() {
            0
        } else {
            let mut w = self.writer()?;
            let n = w.logger.catch_up(w.catalog)?;
            w.catalog.mark_logged(w.logger.log.size())?;
            n
        };
        let erasures = self.finish_erasures()?;
        let keep = std::time::Duration::from_secs(self.config.uploads.keep_days() * 86_400);
        let stale_uploads = self.uploads()?.remove_stale(keep)?;
        // Bags the server was building or streaming when it stopped.
        let exports = self.work_dir().join("exports");
        if exports.is_dir() {
            std::fs::remove_dir_all(&exports).map_err(io(&exports))?;
        }
        Ok(Recovered {
            temporary,
            blobs,
            logged,
            stale_uploads,
            erasures,
        })
    }

    /// The staged uploads (`uploads/`).
    pub fn uploads(&self) -> Result<Uploads, StoreError> {
        Uploads::open(&self.work_dir())
    }

    /// Makes a completely received upload an item by the normal ingest steps (needs
    /// [`Access::Write`]): its staged file, whose bytes hash to `sha256`, becomes a blob
    /// without being copied; the item (or a sighting of an existing one) gets a custody
    /// event with the uploader as actor, the upload's case, source and note, and a new
    /// item's background jobs are queued (by that commit, as for any ingest). Finishing the same upload again (after a crash between
    /// the commit and the sidecar update) finds the event already recorded and records
    /// nothing twice. The staged file is removed; the sidecar then holds the outcome.
    pub fn ingest_upload(
        &mut self,
        upload: &mut Upload,
        sha256: athar_core::Sha256,
        media_type: String,
    ) -> Result<athar_core::Item, ArchiveError> {
        use athar_core::{EventDetails, NewItem, Sighting};
        let uploads = self.uploads()?;
        let part = uploads.part_path(&upload.id)?;
        let marker = format!("upload:{}", upload.id);
        let done = match self.catalog.item_by_sha(&sha256)? {
            Some(item) => self.catalog.events(&item.id)?.iter().any(|e| {
                matches!(&e.details, EventDetails::Sighting(s) if s.original_path == marker)
            }).then_some(item),
            None => None,
        };
        let item = match done {
            Some(item) => item,
            None => {
                self.write_into_case(Some(&upload.case))?;
                let blob = self.blobs.adopt_local(&part, sha256, upload.length);
                self.write_into_case(None)?;
                let blob = blob?;
                let new = NewItem {
                    sha256,
                    size: upload.length,
                    media_type,
                    derived: None,
                    sighting: Sighting {
                        original_name: upload.filename.clone(),
                        original_path: marker,
                        file_mtime: None,
                        collector: upload.user.clone(),
                        source: upload.source.clone(),
                        note: upload.note.clone(),
                        case: Some(upload.case.clone()),
                        tool_version: athar_core::TOOL_VERSION.to_owned(),
                        capture: None,
                    },
                    at: String::new(),
                };
                let mut w = self.writer()?;
                let entry =
                    athar_core::ingest::commit_staged(w.catalog, w.blobs, &mut w.logger, blob, new)
                        .map_err(|e| match e {
                            athar_core::CoreError::Store(s) => ArchiveError::Store(s),
                            athar_core::CoreError::Log(l) => ArchiveError::Log(l),
                            other => ArchiveError::Store(StoreError::Corrupt(other.to_string())),
                        })?;
                entry.item
            }
        };
        upload.item = Some(item.id.to_string());
        upload.sha256 = Some(sha256.to_hex());
        uploads.save(upload)?;
        uploads.remove_part(&upload.id)?;
        Ok(item)
    }

    /// Opens the catalog of the archive at `root` for account changes only, without the
    /// writer lock (accounts are not custody data; the catalog serialises its writers), so
    /// that `athar user` works while `athar serve` holds the lock. Pending migrations are
    /// run first under the writer lock.
    pub fn accounts_catalog(root: &Path) -> Result<Box<dyn Database>, ArchiveError> {
        let archive = match Archive::open(root, Access::Read) {
            Ok(a) => a,
            Err(ArchiveError::Store(StoreError::Catalog(_))) => {
                drop(Archive::open(root, Access::Write)?);
                Archive::open(root, Access::Read)?
            }
            Err(e) => return Err(e),
        };
        Ok(archive.backends.open_catalog(true)?)
    }

    /// Records that `actor` accesses an item's content, and appends it to the custody log,
    /// before returning (needs [`Access::Write`]): call it before any byte of the content
    /// leaves the archive.
    pub fn record_access(
        &mut self,
        item: &athar_core::ItemId,
        actor: &str,
        access: athar_core::Access,
    ) -> Result<athar_core::CustodyEvent, LogError> {
        let details = athar_core::EventDetails::Access(access);
        let mut w = self.writer().map_err(|e| match e {
            ArchiveError::Log(l) => l,
            ArchiveError::Store(s) => LogError::Store(s),
            other => LogError::Invalid(other.to_string()),
        })?;
        w.logger.record(
            w.catalog,
            item,
            athar_core::EventKind::Access,
            actor,
            &details,
        )
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

/// How a writer waits for an archive another process holds (set once per process; without
/// it, a writer waits as long as it takes).
#[derive(Debug, Clone, Copy)]
pub struct LockWait {
    /// The longest wait before giving up with [`ArchiveError::Busy`].
    pub limit: std::time::Duration,
    /// Told once, when the wait begins, the archive and who holds it.
    pub notify: fn(&Path, &str),
}

static LOCK_WAIT: std::sync::OnceLock<LockWait> = std::sync::OnceLock::new();

/// Sets how writers of this process wait for an archive another process holds.
pub fn set_lock_wait(wait: LockWait) {
    let _ = LOCK_WAIT.set(wait);
}

/// Opens the archive's `lock` file and takes the writer lock on it (waiting as
/// [`set_lock_wait`] says).
pub(crate) fn writer_lock(root: &Path) -> Result<File, ArchiveError> {
    lock_file(root, true)
}

/// [`writer_lock`]; without `wait`, an archive another process holds is at once
/// [`ArchiveError::Busy`] with `waited: 0`.
fn lock_file(root: &Path, wait: bool) -> Result<File, ArchiveError> {
    let p = root.join("lock");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&p)
        .map_err(io(&p))?;
    take_lock(root, &f, wait)?;
    Ok(f)
}

/// Takes a PostgreSQL catalog's writer lock (waiting as [`set_lock_wait`] says, as for the
/// lock file): no two writers, on any machines, append to the archive's log at once.
/// A writer for good (`release_jobs`) frees the jobs a writer that died left running; a
/// turn ([`Access::Shared`]) frees none, since other processes hold them.
fn take_shared_lock(
    root: &Path,
    at: &athar_pg::Location,
    wait: bool,
    release_jobs: bool,
) -> Result<athar_pg::WriterLock, ArchiveError> {
    let mut notified = false;
    let start = std::time::Instant::now();
    loop {
        let holder = match athar_pg::PgCatalog::try_lock_writer(at, release_jobs)? {
            Ok(lock) => return Ok(lock),
            Err(holder) => holder,
        };
        let limit = LOCK_WAIT.get();
        if !wait || limit.is_some_and(|w| start.elapsed() >= w.limit) {
            return Err(ArchiveError::Busy {
                path: root.to_owned(),
                holder,
                waited: if wait {
                    limit.map_or(0, |w| w.limit.as_secs())
                } else {
                    0
                },
            });
        }
        if !notified {
            if let Some(w) = limit {
                (w.notify)(root, &holder);
            }
            notified = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Takes the writer lock on `file` (the archive's `lock`); [`note_holder`] then says who
/// holds it, for a writer kept waiting.
fn take_lock(root: &Path, file: &File, wait: bool) -> Result<(), ArchiveError> {
    use rustix::fs::{flock, FlockOperation};
    let p = root.join("lock");
    let err = |e: rustix::io::Errno| io(&p)(e.into());
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK && !wait => {
            return Err(ArchiveError::Busy {
                path: root.to_owned(),
                holder: lock_holder(&p),
                waited: 0,
            });
        }
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => match LOCK_WAIT.get() {
            None => flock(file, FlockOperation::LockExclusive).map_err(err)?,
            Some(wait) => {
                let holder = lock_holder(&p);
                (wait.notify)(root, &holder);
                let start = std::time::Instant::now();
                loop {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    match flock(file, FlockOperation::NonBlockingLockExclusive) {
                        Ok(()) => break,
                        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {}
                        Err(e) => return Err(err(e)),
                    }
                    if start.elapsed() >= wait.limit {
                        return Err(ArchiveError::Busy {
                            path: root.to_owned(),
                            holder,
                            waited: wait.limit.as_secs(),
                        });
                    }
                }
            }
        },
        Err(e) => return Err(err(e)),
    }
    Ok(())
}

/// Writes this process's id into the held lock file, once the archive is open (a command
/// refused on the way, a wrong passphrase say, changes nothing). The process id only: the
/// lock file is in the archive's folder, which holds nothing in plain when encrypted.
fn note_holder(root: &Path, mut file: &File) -> Result<(), ArchiveError> {
    use std::io::Seek as _;
    let p = root.join("lock");
    file.set_len(0)
        .and_then(|()| file.seek(std::io::SeekFrom::Start(0)).map(drop))
        .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .map_err(io(&p))
}

/// Who holds the lock at `path`: its process id and command line, as far as known.
fn lock_holder(path: &Path) -> String {
    let Some(pid) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return "a process that did not say which".to_owned();
    };
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|b| {
            let args: Vec<String> = b
                .split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let name = args
                .first()
                .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
                .unwrap_or_default();
            // The program and its command (`athar serve`), not the paths it was given.
            let verb = args
                .iter()
                .skip(1)
                .scan(false, |value, a| {
                    let skip = *value;
                    *value = a == "--archive";
                    Some((skip, a))
                })
                .find(|(skip, a)| !skip && !a.starts_with('-'))
                .map(|(_, a)| a.clone())
                .unwrap_or_default();
            format!("{name} {verb}").trim().to_owned()
        })
        .filter(|c| !c.is_empty());
    match command {
        Some(c) => format!("{c}, process {pid}"),
        None => format!("process {pid}"),
    }
}

/// Reads and checks `athar.toml`.
pub(crate) fn read_config(root: &Path) -> Result<Config, ArchiveError> {
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
    Ok(config)
}

/// Writes `athar.toml` atomically and durably (a temporary file renamed over it).
pub(crate) fn write_config(root: &Path, config: &Config) -> Result<(), ArchiveError> {
    let text = toml::to_string_pretty(config).map_err(|e| ArchiveError::Config {
        path: root.join(CONFIG_FILE),
        message: e.to_string(),
    })?;
    replace_file(root, CONFIG_FILE, text.as_bytes(), 0o644)
}

/// Replaces `dir/name` atomically and durably with `bytes`.
pub(crate) fn replace_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), ArchiveError> {
    let tmp = dir.join(format!(".{name}.new"));
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, bytes, mode)?;
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

pub(crate) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ArchiveError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> Result<CaptureSection, toml::de::Error> {
        #[derive(Deserialize)]
        struct Top {
            capture: CaptureSection,
        }
        toml::from_str::<Top>(toml_text).map(|t| t.capture)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_watch_is_daily_unless_told_otherwise() {
        let s = CaptureSection::default().schedule();
        assert_eq!(s.every, Some(CHECK_SOURCES_EVERY));
        assert_eq!(s.of_case("any"), Some(CHECK_SOURCES_EVERY));
        let s = section("[capture]\ncheck_every_hours = 0\n")
            .expect("parse")
            .schedule();
        assert_eq!((s.every, s.shortest()), (None, None));
    }

    #[test]
    fn cases_have_their_own_interval_and_the_closest_watcher_decides() {
        let s = section(
            "[capture]\ncheck_every_hours = 48\n\
             [capture.cases.\"case-7\"]\ncheck_every_hours = 6\n\
             [capture.cases.quiet]\ncheck_every_hours = 0\n",
        )
        .expect("parse")
        .schedule();
        assert_eq!(s.of_case("case-7"), Some(6 * HOUR));
        assert_eq!(s.of_case("quiet"), None);
        assert_eq!(s.of_case("other"), Some(48 * HOUR));
        // A source captured into several cases is checked as often as the closest asks.
        assert_eq!(s.of_cases(["other", "case-7"]), Some(6 * HOUR));
        assert_eq!(s.of_cases(["quiet", "other"]), Some(48 * HOUR));
        assert_eq!(s.of_cases(["quiet"]), None);
        assert_eq!(s.shortest(), Some(6 * HOUR));
        // Only one case watched: the watch still runs, for it.
        let s =
            section("[capture]\ncheck_every_hours = 0\n[capture.cases.a]\ncheck_every_hours = 2\n")
                .expect("parse")
                .schedule();
        assert_eq!((s.of_case("b"), s.shortest()), (None, Some(2 * HOUR)));
    }

    #[test]
    fn a_misspelt_case_setting_names_its_field() {
        let e = section("[capture.cases.a]\ncheck_every_hour = 2\n").expect_err("refused");
        assert!(e.to_string().contains("check_every_hour"), "{e}");
        let e = section("[capture.cases.a]\ncheck_every_hours = -2\n").expect_err("refused");
        assert!(e.to_string().contains("check_every_hours"), "{e}");
    }
}
