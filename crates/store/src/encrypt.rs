//! Encrypting an existing archive in place (`athar encrypt`).
//!
//! The archive becomes what `athar init --encrypt` would have made: a keyring, sealed key
//! files, a SQLCipher catalog and sealed blobs. The work is done in steps that can each be
//! repeated, so a run stopped at any instant (power cut, `kill -9`) is finished by running
//! it again:
//!
//! 1. `encrypting` is written at the root: from then on the archive opens only for this
//!    work (every other command names the interrupted encryption).
//! 2. The keyring is made (or, on a second run, unlocked).
//! 3. The signing key and the pseudonym secret are sealed beside their plain files.
//! 4. The catalog is copied into a SQLCipher file (`sqlcipher_export`) that replaces it by
//!    rename (a catalog already encrypted is left alone); then protected sources'
//!    identities are sealed under their case's key.
//! 5. Each plain blob is sealed into `blobs/sealed/` (re-hashed on the way: an altered
//!    blob stops the work), made durable, published, and only then its plain file removed.
//! 6. Derived files that hold plain content (search and similarity indexes, bags being
//!    built, finished uploads' records) are removed; they are rebuilt in memory.
//! 7. `athar.toml` says `encrypted = true`, the plain key files go, and the marker last.
//!
//! Removing a file does not overwrite its bytes: what was plain may remain in the disk's
//! free space (and on an SSD, in blocks the drive remaps) until overwritten.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use athar_core::{BlobStore, Sha256, StoreError};
use zeroize::Zeroizing;

use crate::archive::{self, Access, Archive, ArchiveError, KEYRING};
use crate::sealed::Sealing;
use crate::FsBlobStore;

/// Present while an encryption in place is under way (or was interrupted).
pub const MARKER: &str = "encrypting";

/// What [`encrypt_in_place`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Encrypted {
    /// Blobs sealed by this run.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blobs a previous, interrupted run had already sealed.
    pub already_sealed: u64,
    /// Whether this run finished an interrupted one.
    pub resumed: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |e| ArchiveError::Store(StoreError::io(path, e))
}

fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Encrypts the plain archive at `root` in place, or finishes an interrupted run.
/// `new_passphrase` is asked only when the keyring is made (not on a resumed run, which
/// unlocks the keyring the first run made, as any command does). `progress` receives the
/// bytes sealed so far and the total.
pub fn encrypt_in_place(
    root: &Path,
    new_passphrase: &dyn Fn() -> Result<Zeroizing<String>, ArchiveError>,
    progress: &dyn Fn(u64, u64),
) -> Result<Encrypted, ArchiveError> {
    let marker = root.join(MARKER);
    let mut config = archive::read_config(root)?;
    let resumed = marker.exists();
    if config.encryption.encrypted && !resumed {
        return Err(ArchiveError::AlreadyEncrypted(root.to_owned()));
    }
    let backends =
        crate::Backends::from_config(root, &config.storage).map_err(|e| ArchiveError::Config {
            path: root.join("athar.toml"),
            message: e.to_string(),
        })?;
    let (catalog_path, blobs_root) =
        backends
            .embedded_paths()
            .map_err(|e| ArchiveError::Config {
                path: root.join("athar.toml"),
                message: e.to_string(),
            })?;
    // The writer lock, held to the end.
    let _lock = if resumed {
        archive::writer_lock(root)?
    } else {
        let mut plain = Archive::open(root, Access::Write)?;
        plain.recover()?;
        refuse_staged_uploads(&plain)?;
        let lock = plain.lock.take();
        drop(plain);
        archive::write_new(&marker, b"", 0o600)?;
        sync_dir(root)?;
        lock.ok_or_else(|| ArchiveError::Store(StoreError::Corrupt("no writer lock".into())))?
    };

    let sealing = keyring(root, &config.archive.name, new_passphrase)?;
    let keys = root.join("keys");
    for name in ["archive.key", "pseudonym.key"] {
        seal_key_file(&keys, name, &sealing)?;
    }
    encrypt_catalog(&catalog_path, &sealing)?;
    // Protected sources' identities, under their case's key.
    let mut catalog =
        crate::SqliteCatalog::open_keyed(&catalog_path, true, Some(&sealing.catalog))?;
    crate::records::seal_identities(&mut catalog.conn, &sealing)?;
    drop(catalog);
    let mut done = seal_blobs(&blobs_root, &sealing, progress)?;
    done.resumed = resumed;
    for derived in ["index", "exports", "uploads"] {
        let p = root.join(derived);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(io(&p))?;
        }
    }
    config.encryption.encrypted = true;
    archive::write_config(root, &config)?;
    for name in ["archive.key", "pseudonym.key"] {
        let p = keys.join(name);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    sync_dir(&keys)?;
    std::fs::remove_file(&marker).map_err(io(&marker))?;
    sync_dir(root)?;
    Ok(done)
}

/// Uploads still receiving bytes would be lost: they are finished or cancelled first.
fn refuse_staged_uploads(archive: &Archive) -> Result<(), ArchiveError> {
    let uploads = archive.uploads()?;
    for id in uploads.ids()? {
        if uploads.load(&id)?.item.is_none() {
            return Err(ArchiveError::Store(StoreError::Corrupt(format!(
                "{}: upload {id} is still being received; finish or cancel it (or wait for \
                 it to expire) before encrypting the archive",
                uploads.dir().display()
            ))));
        }
    }
    Ok(())
}

/// The keyring: made with a new archive key, or unlocked when an interrupted run made it.
fn keyring(
    root: &Path,
    name: &str,
    new_passphrase: &dyn Fn() -> Result<Zeroizing<String>, ArchiveError>,
) -> Result<Sealing, ArchiveError> {
    let path = root.join(KEYRING);
    let key_err = |e: &dyn std::fmt::Display| ArchiveError::Key {
        path: path.clone(),
        message: e.to_string(),
    };
    let key = if path.exists() {
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let ring = athar_crypt::Keyring::parse(&bytes).map_err(|e| key_err(&e))?;
        crate::sealed::unlock::archive_key(name, &ring).map_err(|source| ArchiveError::Unlock {
            path: root.to_owned(),
            source,
        })?
    } else {
        let pass = new_passphrase()?;
        let key = athar_crypt::Key::random().map_err(|e| key_err(&e))?;
        let ring = athar_crypt::Keyring::create(&key, &pass).map_err(|e| key_err(&e))?;
        archive::replace_file(&root.join("keys"), "keyring.json", &ring.to_bytes(), 0o600)?;
        crate::sealed::unlock::remember(&key);
        key
    };
    Ok(Sealing::new(key).with_keyring(&path, &read_keyring(&path)?)?)
}

fn read_keyring(path: &Path) -> Result<athar_crypt::Keyring, ArchiveError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    athar_crypt::Keyring::parse(&bytes).map_err(|e| ArchiveError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Seals `keys/<name>` into `keys/<name>.sealed` (the plain file stays until the end).
fn seal_key_file(keys: &Path, name: &str, sealing: &Sealing) -> Result<(), ArchiveError> {
    let plain_path = keys.join(name);
    let sealed_name = format!("{name}.sealed");
    let context = format!("keys/{name}");
    let plain = match std::fs::read(&plain_path) {
        Ok(b) => Zeroizing::new(b),
        // Only a run that got past sealing it removes the plain file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match keys.join(&sealed_name).exists() {
                true => Ok(()),
                false => Err(io(&plain_path)(e)),
            }
        }
        Err(e) => return Err(io(&plain_path)(e)),
    };
    if let Ok(sealed) = std::fs::read(keys.join(&sealed_name)) {
        if let Ok(opened) = sealing.files.open(&context, &sealed) {
            if *opened == *plain {
                return Ok(());
            }
        }
    }
    let sealed = sealing
        .files
        .seal(&context, &plain)
        .map_err(|e| ArchiveError::Key {
            path: plain_path.clone(),
            message: e.to_string(),
        })?;
    archive::replace_file(keys, &sealed_name, &sealed, 0o600)
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Replaces a plain SQLite catalog by a SQLCipher copy (left alone when already encrypted).
fn encrypt_catalog(path: &Path, sealing: &Sealing) -> Result<(), ArchiveError> {
    let mut head = [0u8; 16];
    let is_plain = File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| &head == SQLITE_HEADER)
        .map_err(io(path))?;
    if !is_plain {
        // Encrypted by an earlier run: it must open with this key.
        crate::SqliteCatalog::open_keyed(path, false, Some(&sealing.catalog))?;
        return Ok(());
    }
    let db = |e: rusqlite::Error| {
        ArchiveError::Store(StoreError::Catalog(format!("{}: {e}", path.display())))
    };
    let tmp = path.with_extension("sqlite.encrypting");
    let _ = std::fs::remove_file(&tmp);
    {
        let conn = rusqlite::Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db)?;
        // Every committed page into the main file before it is copied.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(db)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        let tmp_text = tmp
            .to_str()
            .ok_or_else(|| io(&tmp)(std::io::Error::other("the path is not UTF-8")))?;
        let attach = Zeroizing::new(format!(
            "ATTACH DATABASE '{}' AS sealed KEY \"x'{}'\";",
            tmp_text.replace('\'', "''"),
            hex::encode(sealing.catalog.expose())
        ));
        conn.execute_batch(&attach).map_err(db)?;
        conn.query_row("SELECT sqlcipher_export('sealed')", [], |_| Ok(()))
            .map_err(db)?;
        conn.execute_batch(&format!(
            "PRAGMA sealed.user_version = {version}; DETACH DATABASE sealed;"
        ))
        .map_err(db)?;
        conn.close().map_err(|(_, e)| db(e))?;
    }
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    // The copy must open with the key before it replaces the catalog.
    crate::SqliteCatalog::open_keyed(&tmp, false, Some(&sealing.catalog))?;
    // A plain write-ahead log beside the encrypted file would be read as its own.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::metadata(&side) {
            Ok(m) if suffix == "-wal" && m.len() > 0 => {
                return Err(ArchiveError::Store(StoreError::Catalog(format!(
                    "{}: the catalog's write-ahead log could not be emptied; is another \
                     process using the archive?",
                    side.display()
                ))))
            }
            Ok(_) => std::fs::remove_file(&side).map_err(io(&side))?,
            Err(_) => {}
        }
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// How many blobs are made durable and published together.
const BATCH: usize = 64;

/// Seals every plain blob; a plain blob is removed only once its sealed copy is durable.
fn seal_blobs(
    root: &Path,
    sealing: &Sealing,
    progress: &dyn Fn(u64, u64),
) -> Result<Encrypted, ArchiveError> {
    let mut done = Encrypted::default();
    let top = root.join("sha256");
    if !top.is_dir() {
        return Ok(done);
    }
    let plain = FsBlobStore::open(root)?;
    let sealed = FsBlobStore::open_sealed(root, sealing.clone())?;
    plain.clear_temporary()?;
    let listing = plain.list()?;
    if let Some(stray) = listing.strays.first() {
        return Err(ArchiveError::Store(StoreError::Corrupt(format!(
            "{stray}: not a blob; move it out of the blob store (athar verify lists what is \
             there) and run athar encrypt again"
        ))));
    }
    let mut sizes = Vec::with_capacity(listing.blobs.len());
    let mut total = 0u64;
    for sha in &listing.blobs {
        let p = plain.path_of(sha);
        let size = std::fs::metadata(&p).map_err(io(&p))?.len();
        total += size;
        sizes.push((*sha, size));
    }
    let mut sealed_bytes = 0u64;
    for batch in sizes.chunks(BATCH) {
        let mut pending = Vec::with_capacity(batch.len());
        let mut fresh = Vec::with_capacity(batch.len());
        for (sha, size) in batch {
            if sealed.contains(sha)? {
                done.already_sealed += 1;
                continue;
            }
            let path = plain.path_of(sha);
            match sealed.adopt_local(&path, *sha, *size) {
                Ok(p) => pending.push(p),
                Err(e) => {
                    for p in pending {
                        sealed.abandon(p);
                    }
                    return Err(not_sealed(&path, sha, e));
                }
            }
            fresh.push(*size);
        }
        sealed.sync(&mut pending)?;
        sealed.publish(pending)?;
        let mut dirs = std::collections::BTreeSet::new();
        for (sha, size) in batch {
            let path = plain.path_of(sha);
            std::fs::remove_file(&path).map_err(io(&path))?;
            if let Some(d) = path.parent() {
                dirs.insert(d.to_owned());
            }
            sealed_bytes += size;
        }
        for d in dirs {
            sync_dir(&d)?;
        }
        done.blobs += fresh.len() as u64;
        done.bytes += fresh.iter().sum::<u64>();
        progress(sealed_bytes, total);
    }
    std::fs::remove_dir_all(&top).map_err(io(&top))?;
    sync_dir(root)?;
    Ok(done)
}

fn not_sealed(path: &Path, sha: &Sha256, e: StoreError) -> ArchiveError {
    ArchiveError::Store(StoreError::Corrupt(format!(
        "{}: blob {sha} could not be sealed ({e}); nothing past it was changed: run athar \
         verify, then athar encrypt again",
        path.display()
    )))
}
