//! Moving an embedded archive to the scale-out backends (`athar migrate`): a new archive
//! folder whose `athar.toml` names a PostgreSQL catalog and any blob store and log store
//! (S3 or folders of its own), holding the same keys, every blob, the custody log's files
//! byte for byte and every catalog row.
//!
//! The source is held open for writing throughout, so nothing changes under the copy. In
//! order, each step safe to repeat:
//! 1. the new folder gets `migrating.toml` (the configuration to be, naming where each part
//!    goes: a later run must name the same places) and the keys;
//! 2. every blob is read from the source, hashed on the way and compared with its name (a
//!    damaged blob stops the migration, naming it), and written to the new store, which
//!    publishes it only once complete and checked; blobs already there are skipped; several
//!    at a time;
//! 3. the log's tiles, entry bundles and time-stamp tokens are copied (one already there
//!    must hold the same bytes), then its checkpoint;
//! 4. the catalog's rows are copied in one PostgreSQL transaction (so an interruption leaves
//!    it empty, and the next run copies it whole);
//! 5. `athar.toml` is written and `migrating.toml` removed: the new archive is complete.
//!
//! Local files that are not the archive's parts stay behind: indexes (rebuilt on first
//! use), staged uploads and a server's capture queue (counted in [`Migrated`]).

use std::io::Read as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use athar_core::{BlobStore, Sha256};
use athar_pg::import::{ColumnType, Import, Value};

use crate::archive::{io, read_config, write_config, write_new, Access, CONFIG_FILE};
use crate::backends::{Backends, StorageSection};
use crate::{Archive, ArchiveError};

/// The marker of a migration under way, holding the configuration to be.
pub const MARKER: &str = "migrating.toml";

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// Blobs copied (and checked) by this run.
    pub blobs_copied: u64,
    /// Blobs an interrupted run had already copied.
    pub blobs_present: u64,
    /// Bytes copied by this run.
    pub bytes: u64,
    /// Log files (tiles, entry bundles, time-stamp tokens) copied by this run.
    pub log_files: u64,
    /// Log files an interrupted run had already copied (their bytes compared).
    pub log_files_present: u64,
    /// Catalog rows copied (0 when an interrupted run had copied them).
    pub rows: u64,
    /// Custody events in the catalog.
    pub events: u64,
    /// The log's size, the same on both sides.
    pub log_size: u64,
    /// Staged uploads left behind (not evidence until finished).
    pub uploads_left: usize,
}

/// What the migration is doing, for a progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A blob copied or found present: (done, of).
    Blobs(u64, u64),
    /// Log files: (done, of).
    Log(u64, u64),
    /// A catalog table copied: its name and rows.
    Table(String, u64),
}

/// Moves the embedded archive `source` (opened [`Access::Write`], not encrypted, with a
/// SQLite catalog) into a new archive at `to` whose parts are at `storage` (the catalog a
/// `postgres://` location; blobs and log default to folders in `to`). Resumes an
/// interrupted migration to the same places.
pub fn migrate(
    source: &Archive,
    to: &Path,
    storage: &StorageSection,
    progress: &mut dyn FnMut(Step),
) -> Result<Migrated, ArchiveError> {
    let config_err = |message: String| ArchiveError::Config {
        path: to.join(CONFIG_FILE),
        message,
    };
    if source.access() != Access::Write {
        return Err(config_err(
            "the source archive must be held for writing during a migration".into(),
        ));
    }
    if source.is_encrypted() {
        return Err(config_err(
            "an encrypted archive keeps its catalog and blobs embedded and cannot be migrated"
                .into(),
        ));
    }
    let Some(catalog_path) = source.backends.sqlite_catalog() else {
        return Err(config_err(format!(
            "the archive at {} already keeps its catalog in PostgreSQL",
            source.root.display()
        )));
    };
    let defaults = StorageSection::embedded();
    let storage = &StorageSection {
        catalog: storage.catalog.clone(),
        blobs: storage.blobs.clone().or(defaults.blobs),
        log: storage.log.clone().or(defaults.log),
    };
    let target = Backends::from_config(to, storage).map_err(|e| config_err(e.to_string()))?;
    let Some(pg) = target.postgres_catalog().cloned() else {
        return Err(config_err(
            "--catalog: a migration moves the catalog to PostgreSQL (postgres://…)".into(),
        ));
    };
    if athar_pg::has_password(storage.catalog.as_deref().unwrap_or("")) {
        return Err(config_err(
            "--catalog: a password would be written to athar.toml: give it in PGPASSWORD or \
             ~/.pgpass instead"
                .into(),
        ));
    }

    // 1. The folder, its marker and the keys.
    let mut config = source.config.clone();
    config.storage = storage.clone();
    let planned = toml::to_string_pretty(&config).map_err(|e| config_err(e.to_string()))?;
    prepare(to, &target, &planned)?;
    let keys = to.join("keys");
    if !keys.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&keys)
            .map_err(io(&keys))?;
    }
    for (name, mode) in [
        ("archive.key", 0o600),
        ("archive.vkey", 0o644),
        ("pseudonym.key", 0o600),
    ] {
        let from = source.root.join("keys").join(name);
        let bytes = std::fs::read(&from).map_err(io(&from))?;
        let dest = keys.join(name);
        match std::fs::read(&dest) {
            Ok(have) if have == bytes => {}
            Ok(_) => {
                return Err(config_err(format!(
                    "{} differs from the source's key",
                    dest.display()
                )))
            }
            Err(_) => write_new(&dest, &bytes, mode)?,
        }
    }

    let mut done = Migrated::default();
    // 2. Blobs.
    let blobs = target.open_blobs()?;
    let listing = source.blobs.list()?;
    copy_blobs(
        source.blobs.as_ref(),
        blobs.as_ref(),
        &listing.blobs,
        &mut done,
        progress,
    )?;

    // 3. The log's files, then its checkpoint.
    let log = target.open_log()?;
    let mut files = source.log.list_tiles()?;
    for dir in source.log.list("timestamps")? {
        for f in source.log.list(&format!("timestamps/{dir}"))? {
            files.push(format!("timestamps/{dir}/{f}"));
        }
    }
    let total = files.len() as u64;
    let mut batch = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let bytes = source
            .log
            .read(path)?
            .ok_or_else(|| config_err(format!("log file {path} vanished from the source")))?;
        match log.read(path)? {
            Some(have) if have == bytes => done.log_files_present += 1,
            Some(_) => {
                return Err(config_err(format!(
                    "log file {path} at the destination differs from the source's"
                )))
            }
            None if path.starts_with("timestamps/") => {
                log.write_new(path, &bytes)?;
                done.log_files += 1;
            }
            None => {
                batch.push((path.clone(), bytes));
                done.log_files += 1;
                if batch.len() >= 256 {
                    log.write_tiles(&std::mem::take(&mut batch))?;
                }
            }
        }
        progress(Step::Log(i as u64 + 1, total));
    }
    log.write_tiles(&batch)?;
    let checkpoint = source
        .log
        .read("checkpoint")?
        .ok_or_else(|| config_err("the source log has no checkpoint".into()))?;
    log.write_checkpoint(&checkpoint)?;
    done.log_size = source.custody_log()?.size();
    log.note_signed_size(source.log.signed_size()?.unwrap_or(done.log_size))?;

    // 4. The catalog, in one transaction.
    let (events, issued) = source.catalog.event_index()?;
    done.events = events.len() as u64;
    if athar_pg::PgCatalog::is_empty_at(&pg)? {
        done.rows = copy_catalog(catalog_path, &pg, issued, progress)?;
    } else {
        // Copied by an interrupted run: the same events, or not ours.
        let there = athar_pg::PgCatalog::open_at(&pg, false)?;
        let (their, _) = athar_core::Catalog::event_index(&there)?;
        if their != events {
            return Err(config_err(format!(
                "{pg}: holds another catalog ({} events, the source has {})",
                their.len(),
                events.len()
            )));
        }
    }

    // 5. Complete: the configuration, then the marker goes.
    write_config(to, &config)?;
    let marker = to.join(MARKER);
    std::fs::remove_file(&marker).map_err(io(&marker))?;
    done.uploads_left = source.uploads()?.ids()?.len();
    // The new archive opens, and its log is the source's.
    let moved = Archive::open(to, Access::Read)?;
    if moved.log.read("checkpoint")?.as_deref() != Some(checkpoint.as_slice()) {
        return Err(config_err(
            "the copied checkpoint differs from the source's".into(),
        ));
    }
    let _ = read_config(to)?;
    Ok(done)
}

/// Makes `to` (or finds the migration under way there to the same places).
fn prepare(to: &Path, target: &Backends, planned: &str) -> Result<(), ArchiveError> {
    if to.join(CONFIG_FILE).exists() {
        return Err(ArchiveError::AlreadyAnArchive(to.to_owned()));
    }
    let marker = to.join(MARKER);
    match std::fs::read_to_string(&marker) {
        Ok(text) if text == planned => return Ok(()),
        Ok(_) => {
            return Err(ArchiveError::Config {
                path: marker,
                message: "a migration to other places is under way here: run it again with \
                          the same --catalog, --blobs and --log, or choose another folder"
                    .into(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&marker)(e)),
    }
    match std::fs::read_dir(to).map(|mut rd| rd.next().is_some()) {
        Ok(true) => return Err(ArchiveError::NotEmpty(to.to_owned())),
        Ok(false) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(to)
                .map_err(io(to))?;
        }
        Err(e) => return Err(io(to)(e)),
    }
    // A first run: nothing may be at the destination yet.
    target.check_absent().map_err(|e| ArchiveError::Config {
        path: to.join(CONFIG_FILE),
        message: e.to_string(),
    })?;
    write_new(&marker, planned.as_bytes(), 0o644)
}

/// Blobs copied at once: an object store answers each request after a round trip, so
/// small blobs go faster several at a time.
const COPIERS: usize = 8;

/// Copies every blob of `shas` that `to` does not hold yet, [`COPIERS`] at a time; stops at
/// the first failure (blobs already copied stay: they are complete and checked).
fn copy_blobs(
    from: &dyn BlobStore,
    to: &dyn BlobStore,
    shas: &[Sha256],
    done: &mut Migrated,
    progress: &mut dyn FnMut(Step),
) -> Result<(), ArchiveError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let total = shas.len() as u64;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<Result<Option<u64>, ArchiveError>>();
        for _ in 0..COPIERS.min(shas.len().max(1)) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some(sha) = shas.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        return;
                    };
                    let outcome = match to.contains(sha) {
                        Ok(true) => Ok(None),
                        Ok(false) => copy_blob(from, to, sha).map(Some),
                        Err(e) => Err(e.into()),
                    };
                    if tx.send(outcome).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut first_error = None;
        let mut seen = 0;
        for outcome in rx {
            match outcome {
                Ok(None) => done.blobs_present += 1,
                Ok(Some(bytes)) => {
                    done.blobs_copied += 1;
                    done.bytes += bytes;
                }
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(e);
                    continue;
                }
            }
            seen += 1;
            progress(Step::Blobs(seen, total));
        }
        first_error.map_or(Ok(()), Err)
    })
}

/// Copies one blob, hashing it on the way: the bytes must hash to their name. Returns its
/// size.
fn copy_blob(from: &dyn BlobStore, to: &dyn BlobStore, sha: &Sha256) -> Result<u64, ArchiveError> {
    use sha2::Digest as _;
    let size = from.size(sha)?;
    let mut reader = from.open(sha)?;
    let mut writer = to.writer(size)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = reader
                .read(&mut buf[filled..])
                .map_err(|e| athar_core::StoreError::Corrupt(format!("blob {sha}: {e}")))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        hasher.update(&buf[..filled]);
        total += filled as u64;
        buf.truncate(filled);
        let mut next = writer.write_chunk(buf)?;
        next.resize(1 << 20, 0);
        buf = next;
    }
    let got = Sha256(hasher.finalize().into());
    if got != *sha || total != size {
        return Err(ArchiveError::Store(athar_core::StoreError::Corrupt(
            format!(
                "blob {sha} in the source holds {total} bytes hashing to {got}: it is damaged; \
             nothing of it was published"
            ),
        )));
    }
    let mut pending = vec![writer.finish(got)?];
    to.sync(&mut pending)?;
    to.publish(pending)?;
    Ok(total)
}

/// Copies every row of the SQLite catalog at `path` into the empty PostgreSQL catalog at
/// `pg`, in one transaction. Returns the rows copied.
fn copy_catalog(
    path: &Path,
    pg: &athar_pg::Location,
    issued: u64,
    progress: &mut dyn FnMut(Step),
) -> Result<u64, ArchiveError> {
    use rusqlite::types::ValueRef;
    let err = |m: String| ArchiveError::Store(athar_core::StoreError::Catalog(m));
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err(format!("{}: {e}", path.display())))?;
    let mut import = Import::begin(pg)?;
    for table in import.tables()? {
        let columns = import.columns(&table)?;
        // The embedded table must have exactly these columns: none left out, none lost.
        let have: Vec<String> = {
            let mut st = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .map_err(|e| err(format!("{table}: {e}")))?;
            let names = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| err(format!("{table}: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("{table}: {e}")))?;
            names
        };
        if have.is_empty() {
            return Err(err(format!(
                "the embedded catalog has no table {table}: is it of an older version? Open it \
                 with this build first (athar verify) to bring it up to date"
            )));
        }
        let wanted: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        if let Some(extra) = have.iter().find(|h| !wanted.contains(&h.as_str())) {
            return Err(err(format!(
                "{table}.{extra}: a column the PostgreSQL catalog does not have"
            )));
        }
        let select = format!(
            "SELECT {} FROM \"{table}\"",
            wanted
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut st = conn
            .prepare(&select)
            .map_err(|e| err(format!("{table}: {e}")))?;
        let mut rows = st.query([]).map_err(|e| err(format!("{table}: {e}")))?;
        let mut batch: Vec<Vec<Value>> = Vec::new();
        let mut count = 0u64;
        while let Some(row) = rows.next().map_err(|e| err(format!("{table}: {e}")))? {
            let mut values = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| err(format!("{table}: {e}")))?;
                values.push(match (v, c.kind) {
                    (ValueRef::Null, _) => Value::Null,
                    (ValueRef::Integer(n), ColumnType::BigInt | ColumnType::Bool) => Value::Int(n),
                    (ValueRef::Text(t), ColumnType::Text) => Value::Text(
                        String::from_utf8(t.to_vec())
                            .map_err(|_| err(format!("{table}.{}: not UTF-8", c.name)))?,
                    ),
                    (ValueRef::Blob(b), ColumnType::Bytes) => Value::Bytes(b.to_vec()),
                    (other, kind) => {
                        return Err(err(format!(
                            "{table}.{}: a {:?} value where PostgreSQL keeps {kind:?}",
                            c.name,
                            other.data_type()
                        )))
                    }
                });
            }
            batch.push(values);
            count += 1;
            if batch.len() >= 5000 {
                import.insert(&table, &columns, &std::mem::take(&mut batch))?;
            }
        }
        import.insert(&table, &columns, &batch)?;
        progress(Step::Table(table.clone(), count));
    }
    Ok(import.finish(issued)?)
}
