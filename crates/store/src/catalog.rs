//! The SQLite catalog (WAL mode, synchronous commits, embedded append-only migrations).

use std::path::Path;

use athar_core::custody::Salt;
use athar_core::records::{KeyedRecord, RecordKind, RecordWrite, StoredRecord};
use athar_core::{
    Catalog, CustodyEvent, EventDetails, EventKind, EventRecord, Fingerprint, Item, ItemId, Job,
    NewItem, ReceivedCustody, RecordedEntry, Sha256, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::migrations::MIGRATIONS;

/// [`athar_core::job_lease`] in milliseconds.
fn lease_millis() -> i64 {
    i64::try_from(athar_core::job_lease().as_millis()).unwrap_or(i64::MAX)
}

/// A catalog in one SQLite file.
#[derive(Debug)]
pub struct SqliteCatalog {
    pub(crate) conn: Connection,
    /// An encrypted archive's keys: protected sources' identities are sealed under their
    /// case's key in stored record values.
    sealing: Option<crate::sealed::Sealing>,
}

pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Catalog(e.to_string())
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("catalog holds an invalid {what}: {value:?}"))
}

/// A fresh salt for a new custody event's v2 log entry.
pub(crate) fn new_salt() -> Result<Salt, StoreError> {
    Salt::random().map_err(|e| StoreError::Catalog(format!("no randomness for a salt: {e}")))
}

/// An event's stored salt (None: logged as v1). A malformed one is named by its event only:
/// it is close to a secret.
pub(crate) fn stored_salt(seq: i64, hex: Option<String>) -> Result<Option<Salt>, StoreError> {
    hex.map(|h| {
        h.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "catalog holds an invalid salt for custody event #{seq}"
            ))
        })
    })
    .transpose()
}

impl SqliteCatalog {
    /// An item by id, digest or a unique prefix of either, among the items of `cases` when
    /// given (nothing outside them is found or counted).
    fn resolve_among(&self, query: &str, cases: Option<&[String]>) -> Result<Item, StoreError> {
        let q = query.trim();
        if q.len() < 4 || !q.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::NotFound(format!(
                "item {query:?} (give an item id or SHA-256, or at least 4 characters of one)"
            )));
        }
        let id_glob = format!("{}*", q.to_ascii_uppercase());
        let sha_glob = format!("{}*", q.to_ascii_lowercase());
        let rows: Vec<_> = match cases {
            None => {
                let mut st = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {ITEM_COLUMNS} FROM items WHERE id GLOB ?1 UNION SELECT {ITEM_COLUMNS} FROM items WHERE sha256 GLOB ?2 LIMIT 2"
                    ))
                    .map_err(db)?;
                let rows = st
                    .query_map(params![id_glob, sha_glob], item_from_row)
                    .map_err(db)?
                    .collect::<Result<_, _>>()
                    .map_err(db)?;
                rows
            }
            Some(cases) => {
                let marks: Vec<String> = (0..cases.len()).map(|i| format!("?{}", i + 3)).collect();
                let visible = format!(
                    "SELECT ci.item_id FROM case_items ci JOIN cases c ON c.id = ci.case_id WHERE c.name IN ({})",
                    if marks.is_empty() { "NULL".to_owned() } else { marks.join(",") }
                );
                let mut st = self
                    .conn
                    .prepare(&format!(
                        "SELECT {ITEM_COLUMNS} FROM items WHERE id GLOB ?1 AND id IN ({visible}) UNION SELECT {ITEM_COLUMNS} FROM items WHERE sha256 GLOB ?2 AND id IN ({visible}) LIMIT 2"
                    ))
                    .map_err(db)?;
                let mut args: Vec<&dyn rusqlite::ToSql> = vec![&id_glob, &sha_glob];
                args.extend(cases.iter().map(|c| c as &dyn rusqlite::ToSql));
                let rows = st
                    .query_map(args.as_slice(), item_from_row)
                    .map_err(db)?
                    .collect::<Result<_, _>>()
                    .map_err(db)?;
                rows
            }
        };
        match rows.len() {
            0 => Err(StoreError::NotFound(format!("item {query:?}"))),
            1 => rows
                .into_iter()
                .next()
                .map(to_item)
                .unwrap_or_else(|| Err(StoreError::NotFound(query.to_owned()))),
            n => Err(StoreError::Ambiguous {
                what: format!("item prefix {query:?}"),
                count: n,
            }),
        }
    }

    /// Opens the catalog, creating it and running pending migrations when `writable`.
    pub fn open(path: &Path, writable: bool) -> Result<SqliteCatalog, StoreError> {
        SqliteCatalog::open_keyed(path, writable, None)
    }

    /// [`SqliteCatalog::open`] for a catalog encrypted (SQLCipher) under `key`: the key is
    /// given before anything is read, and a wrong key is refused at once.
    pub fn open_keyed(
        path: &Path,
        writable: bool,
        key: Option<&athar_crypt::Key>,
    ) -> Result<SqliteCatalog, StoreError> {
        SqliteCatalog::open_with(path, writable, key, writable)
    }

    /// [`SqliteCatalog::open_keyed`], writable, for a process that writes in turns beside
    /// others (`Access::Shared`): it frees no running job, since others may hold them.
    pub fn open_shared(
        path: &Path,
        key: Option<&athar_crypt::Key>,
    ) -> Result<SqliteCatalog, StoreError> {
        SqliteCatalog::open_with(path, true, key, false)
    }

    fn open_with(
        path: &Path,
        writable: bool,
        key: Option<&athar_crypt::Key>,
        release_jobs: bool,
    ) -> Result<SqliteCatalog, StoreError> {
        use rusqlite::OpenFlags;
        let flags = if writable {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| StoreError::Catalog(format!("{}: {e}", path.display())))?;
        if let Some(key) = key {
            let raw = zeroize::Zeroizing::new(format!(
                "PRAGMA key = \"x'{}'\"; PRAGMA secure_delete = ON;",
                hex::encode(key.expose())
            ));
            conn.execute_batch(&raw).map_err(db)?;
            // SQLCipher reads the first page only when asked: ask now.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| {
                StoreError::Catalog(format!(
                    "{}: cannot be read with this archive's key ({e})",
                    path.display()
                ))
            })?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db)?;
        if writable {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(db)?;
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        // Up to 128 MiB of page cache (the default 2 MiB makes bulk record imports re-read
        // the same pages from the kernel over and over); only grows when used.
        conn.pragma_update(None, "cache_size", -131_072)
            .map_err(db)?;
        let mut cat = SqliteCatalog {
            conn,
            sealing: None,
        };
        if writable {
            cat.migrate()?;
        }
        if release_jobs {
            // One process writes an embedded archive (its lock): a job still running now was
            // left by one that died, and need not wait for its lease to run out.
            cat.conn
                .execute(
                    "UPDATE jobs SET lease_until = 0 WHERE state = 'running'",
                    [],
                )
                .map_err(db)?;
        }
        if !writable {
            let v = cat.version()?;
            if v as usize != MIGRATIONS.len() {
                return Err(StoreError::Catalog(format!(
                    "catalog schema version {v}, this build expects {}",
                    MIGRATIONS.len()
                )));
            }
        }
        Ok(cat)
    }

    /// Seals protected sources' identities in stored record values under their case's
    /// key (an encrypted archive's catalog).
    pub fn with_sealing(mut self, sealing: crate::sealed::Sealing) -> SqliteCatalog {
        self.sealing = Some(sealing);
        self
    }

    fn version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let current = self.version()?;
        let current = usize::try_from(current)
            .map_err(|_| corrupt("schema version", &current.to_string()))?;
        if current > MIGRATIONS.len() {
            return Err(StoreError::Catalog(format!(
                "catalog schema version {current} is newer than this build ({}); upgrade Athar",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            let tx = self.conn.transaction().map_err(db)?;
            tx.execute_batch(sql).map_err(db)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        Ok(())
    }
}

fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_item(raw: (String, String, i64, String, String)) -> Result<Item, StoreError> {
    let (id, sha, size, media_type, created_at) = raw;
    Ok(Item {
        id: ItemId::parse(&id).ok_or_else(|| corrupt("item id", &id))?,
        sha256: sha.parse().map_err(|_| corrupt("SHA-256", &sha))?,
        size: u64::try_from(size).map_err(|_| corrupt("size", &size.to_string()))?,
        media_type,
        created_at,
    })
}

const ITEM_COLUMNS: &str = "id, sha256, size, media_type, created_at";

impl Catalog for SqliteCatalog {
    fn add_pending(&mut self, shas: &[Sha256]) -> Result<(), StoreError> {
        if shas.is_empty() {
            return Ok(());
        }
        let now = athar_core::now_rfc3339();
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO pending_blobs (sha256, since) VALUES (?1, ?2)",
                )
                .map_err(db)?;
            for s in shas {
                st.execute(params![s.to_hex(), now]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn pending(&self) -> Result<Vec<Sha256>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT sha256 FROM pending_blobs ORDER BY sha256")
            .map_err(db)?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let s = r.map_err(db)?;
            out.push(s.parse().map_err(|_| corrupt("SHA-256", &s))?);
        }
        Ok(out)
    }

    fn clear_pending(&mut self, shas: &[Sha256]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare_cached("DELETE FROM pending_blobs WHERE sha256 = ?1")
                .map_err(db)?;
            for s in shas {
                st.execute(params![s.to_hex()]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn record(
        &mut self,
        entries: &[NewItem],
        case: Option<&str>,
        logged_through: u64,
    ) -> Result<Vec<RecordedEntry>, StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "DELETE FROM unlogged WHERE seq <= ?1",
            [logged_through as i64],
        )
        .map_err(db)?;
        let mut out = Vec::with_capacity(entries.len());
        {
            let case_id: Option<i64> = match case {
                None => None,
                Some(name) => {
                    tx.execute(
                        "INSERT OR IGNORE INTO cases (name, created_at) VALUES (?1, ?2)",
                        params![name, athar_core::now_rfc3339()],
                    )
                    .map_err(db)?;
                    Some(
                        tx.query_row("SELECT id FROM cases WHERE name = ?1", [name], |r| r.get(0))
                            .map_err(db)?,
                    )
                }
            };
            let mut find = tx
                .prepare_cached(&format!(
                    "SELECT {ITEM_COLUMNS} FROM items WHERE sha256 = ?1"
                ))
                .map_err(db)?;
            let mut insert_item = tx
                .prepare_cached(
                    "INSERT INTO items (id, sha256, size, media_type, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(db)?;
            let mut insert_event = tx
                .prepare_cached(
                    "INSERT INTO custody_events (item_id, kind, at, actor, sighting, salt) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db)?;
            let mut link = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO case_items (case_id, item_id) VALUES (?1, ?2)",
                )
                .map_err(db)?;
            let mut queue = tx
                .prepare_cached("INSERT INTO unlogged (seq) VALUES (?1)")
                .map_err(db)?;
            let mut unpend = tx
                .prepare_cached("DELETE FROM pending_blobs WHERE sha256 = ?1")
                .map_err(db)?;
            for e in entries {
                let sha = e.sha256.to_hex();
                let existing = find
                    .query_row([&sha], item_from_row)
                    .optional()
                    .map_err(db)?;
                let (item, new) = match existing {
                    Some(raw) => (to_item(raw)?, false),
                    None => {
                        let id = ItemId::generate().map_err(|err| {
                            StoreError::Catalog(format!("no randomness for an id: {err}"))
                        })?;
                        let item = Item {
                            id,
                            sha256: e.sha256,
                            size: e.size,
                            media_type: e.media_type.clone(),
                            created_at: e.at.clone(),
                        };
                        insert_item
                            .execute(params![
                                item.id.as_str(),
                                sha,
                                item.size as i64,
                                item.media_type,
                                item.created_at
                            ])
                            .map_err(db)?;
                        (item, true)
                    }
                };
                let (kind, details) = match &e.derived {
                    Some(d) => {
                        tx.execute(
                            "INSERT OR IGNORE INTO derived_items (item_id, source_id, role) VALUES (?1, ?2, ?3)",
                            params![item.id.as_str(), d.source.as_str(), d.role],
                        )
                        .map_err(db)?;
                        (EventKind::Derived, EventDetails::Derived(d.clone()))
                    }
                    None if e.sighting.capture.is_some() => (
                        EventKind::Capture,
                        EventDetails::Sighting(e.sighting.clone()),
                    ),
                    None if new => (
                        EventKind::Ingest,
                        EventDetails::Sighting(e.sighting.clone()),
                    ),
                    None => (
                        EventKind::Sighting,
                        EventDetails::Sighting(e.sighting.clone()),
                    ),
                };
                let sighting = details.to_json();
                let salt = new_salt()?;
                insert_event
                    .execute(params![
                        item.id.as_str(),
                        kind.as_str(),
                        e.at,
                        e.sighting.collector,
                        sighting,
                        salt.to_hex()
                    ])
                    .map_err(db)?;
                let seq = tx.last_insert_rowid() as u64;
                queue.execute([seq as i64]).map_err(db)?;
                if let Some(c) = case_id {
                    link.execute(params![c, item.id.as_str()]).map_err(db)?;
                }
                unpend.execute([&sha]).map_err(db)?;
                let event = CustodyEvent {
                    seq,
                    item: item.id.clone(),
                    kind,
                    at: e.at.clone(),
                    actor: e.sighting.collector.clone(),
                    details,
                    salt: Some(salt),
                };
                out.push(RecordedEntry { item, event, new });
            }
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    fn record_event(
        &mut self,
        item: &ItemId,
        kind: EventKind,
        actor: &str,
        details: &EventDetails,
        logged_through: u64,
    ) -> Result<CustodyEvent, StoreError> {
        let at = athar_core::now_rfc3339();
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "DELETE FROM unlogged WHERE seq <= ?1",
            [logged_through as i64],
        )
        .map_err(db)?;
        let salt = new_salt()?;
        tx.execute(
            "INSERT INTO custody_events (item_id, kind, at, actor, sighting, salt) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![item.as_str(), kind.as_str(), at, actor, details.to_json(), salt.to_hex()],
        )
        .map_err(db)?;
        let seq = tx.last_insert_rowid();
        tx.execute("INSERT INTO unlogged (seq) VALUES (?1)", [seq])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(CustodyEvent {
            seq: seq as u64,
            item: item.clone(),
            kind,
            at,
            actor: actor.to_owned(),
            details: details.clone(),
            salt: Some(salt),
        })
    }

    fn item_by_sha(&self, sha256: &Sha256) -> Result<Option<Item>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE sha256 = ?1"
            ))
            .map_err(db)?
            .query_row([sha256.to_hex()], item_from_row)
            .optional()
            .map_err(db)?
            .map(to_item)
            .transpose()
    }

    fn resolve(&self, query: &str) -> Result<Item, StoreError> {
        self.resolve_among(query, None)
    }

    fn resolve_in_cases(&self, query: &str, cases: &[String]) -> Result<Item, StoreError> {
        self.resolve_among(query, Some(cases))
    }

    fn items(&self) -> Result<Vec<Item>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items ORDER BY created_at, id"
            ))
            .map_err(db)?;
        let rows = st.query_map([], item_from_row).map_err(db)?;
        rows.map(|r| r.map_err(db).and_then(to_item)).collect()
    }

    fn events(&self, item: &ItemId) -> Result<Vec<CustodyEvent>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, kind, at, actor, sighting, salt FROM custody_events
                 WHERE item_id = ?1 AND frozen IS NULL ORDER BY seq",
            )
            .map_err(db)?;
        let rows = st
            .query_map([item.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (seq, kind, at, actor, sighting, salt) = r.map_err(db)?;
            out.push(CustodyEvent {
                seq: seq as u64,
                item: item.clone(),
                kind: EventKind::parse(&kind).ok_or_else(|| corrupt("event kind", &kind))?,
                at,
                actor,
                details: EventKind::parse(&kind)
                    .and_then(|k| EventDetails::from_json(k, &sighting))
                    .ok_or_else(|| corrupt("event record", &sighting))?,
                salt: stored_salt(seq, salt)?,
            });
        }
        Ok(out)
    }

    fn event_index(&self) -> Result<(Vec<(u64, String)>, u64), StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, item_id FROM custody_events ORDER BY seq")
            .map_err(db)?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })
            .map_err(db)?;
        let events = rows.collect::<Result<Vec<_>, _>>().map_err(db)?;
        let max: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'custody_events'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        let last = events.last().map_or(0, |e| e.0);
        Ok((events, (max.unwrap_or(0) as u64).max(last)))
    }

    fn cases_of(&self, item: &ItemId) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT c.name FROM cases c JOIN case_items ci ON ci.case_id = c.id WHERE ci.item_id = ?1 ORDER BY c.name",
            )
            .map_err(db)?;
        let rows = st.query_map([item.as_str()], |r| r.get(0)).map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn add_received_custody(
        &mut self,
        item: &ItemId,
        records: &[ReceivedCustody],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO received_custody (item_id, origin, seq, kind, entry, proof, verified, details, salt)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(db)?;
            for r in records {
                st.execute(params![
                    item.as_str(),
                    r.origin,
                    r.seq as i64,
                    r.kind,
                    r.entry,
                    r.proof,
                    r.verified,
                    r.details,
                    r.salt
                ])
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn received_custody(&self, item: &ItemId) -> Result<Vec<ReceivedCustody>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT origin, seq, kind, entry, proof, verified, details, salt FROM received_custody
                 WHERE item_id = ?1 ORDER BY origin, seq",
            )
            .map_err(db)?;
        let rows = st
            .query_map([item.as_str()], |r| {
                Ok(ReceivedCustody {
                    origin: r.get(0)?,
                    seq: r.get::<_, i64>(1)? as u64,
                    kind: r.get(2)?,
                    entry: r.get(3)?,
                    proof: r.get(4)?,
                    verified: r.get(5)?,
                    details: r.get(6)?,
                    salt: r.get(7)?,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn enqueue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<(), StoreError> {
        let now = athar_core::now_rfc3339();
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO jobs (item_id, kind, state, updated_at) VALUES (?1, ?2, 'queued', ?3)",
                )
                .map_err(db)?;
            for (item, kind) in jobs {
                st.execute(params![item.as_str(), kind, now]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn requeue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<usize, StoreError> {
        let now = athar_core::now_rfc3339();
        let tx = self.conn.transaction().map_err(db)?;
        let mut queued = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO jobs (item_id, kind, state, updated_at) VALUES (?1, ?2, 'queued', ?3)",
                )
                .map_err(db)?;
            let mut again = tx
                .prepare_cached(
                    "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, updated_at = ?3
                     WHERE item_id = ?1 AND kind = ?2 AND state = 'done'",
                )
                .map_err(db)?;
            for (item, kind) in jobs {
                queued += insert
                    .execute(params![item.as_str(), kind, now])
                    .map_err(db)?;
                queued += again
                    .execute(params![item.as_str(), kind, now])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(queued)
    }

    fn waiting_jobs(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM jobs WHERE state = 'queued'
                 OR (state = 'running' AND COALESCE(lease_until, 0) < ?1)",
                [athar_core::unix_millis()],
                |r| r.get(0),
            )
            .map_err(db)
    }

    fn claim_job(&mut self, max_attempts: u32) -> Result<Option<Job>, StoreError> {
        let now = athar_core::now_rfc3339();
        let millis = athar_core::unix_millis();
        let claim = athar_core::new_claim()?;
        let tx = self.conn.transaction().map_err(db)?;
        // Running past its lease: its process died (or stopped renewing).
        tx.execute(
            "UPDATE jobs SET state = CASE WHEN attempts >= ?1 THEN 'failed' ELSE 'queued' END,
                    error = COALESCE(error, 'interrupted'), claim = NULL, lease_until = NULL
             WHERE state = 'running' AND COALESCE(lease_until, 0) < ?2",
            params![max_attempts, millis],
        )
        .map_err(db)?;
        let job = tx
            .query_row(
                "SELECT id, item_id, kind, attempts FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u32>(3)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((id, item, kind, attempts)) = job else {
            tx.commit().map_err(db)?;
            return Ok(None);
        };
        tx.execute(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?2,
                    claim = ?3, lease_until = ?4 WHERE id = ?1",
            params![id, now, claim, millis + lease_millis()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Some(Job {
            id: id as u64,
            item: ItemId::parse(&item).ok_or_else(|| corrupt("item id", &item))?,
            kind,
            state: "running".to_owned(),
            attempts: attempts + 1,
            error: None,
            claim: Some(claim),
        }))
    }

    fn renew_job(&mut self, job: &Job) -> Result<bool, StoreError> {
        let Some(claim) = &job.claim else {
            return Ok(false);
        };
        let n = self
            .conn
            .execute(
                "UPDATE jobs SET lease_until = ?3
                 WHERE id = ?1 AND state = 'running' AND claim = ?2",
                params![
                    job.id as i64,
                    claim,
                    athar_core::unix_millis() + lease_millis()
                ],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn finish_job(
        &mut self,
        job: &Job,
        outcome: Result<&[Fingerprint], &str>,
        max_attempts: u32,
    ) -> Result<bool, StoreError> {
        let now = athar_core::now_rfc3339();
        let tx = self.conn.transaction().map_err(db)?;
        // Only the claim holding the job records its outcome.
        let held: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND state = 'running' AND claim = ?2)",
                params![job.id as i64, job.claim],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !held {
            return Ok(false);
        }
        match outcome {
            Ok(prints) => {
                for f in prints {
                    tx.execute(
                        "INSERT OR REPLACE INTO fingerprints (item_id, algorithm, algorithm_version, decoder, data, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![job.item.as_str(), f.algorithm, f.algorithm_version, f.decoder, f.data, now],
                    )
                    .map_err(db)?;
                }
                tx.execute(
                    "UPDATE jobs SET state = 'done', error = NULL, updated_at = ?2,
                            claim = NULL, lease_until = NULL WHERE id = ?1",
                    params![job.id as i64, now],
                )
                .map_err(db)?;
            }
            Err(e) => {
                let state = if job.attempts >= max_attempts {
                    "failed"
                } else {
                    "queued"
                };
                tx.execute(
                    "UPDATE jobs SET state = ?2, error = ?3, updated_at = ?4,
                            claim = NULL, lease_until = NULL WHERE id = ?1",
                    params![job.id as i64, state, e, now],
                )
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, item_id, kind, state, attempts, error FROM jobs ORDER BY id",
            )
            .map_err(db)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, u32>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (id, item, kind, state, attempts, error) = r.map_err(db)?;
            out.push(Job {
                id: id as u64,
                item: ItemId::parse(&item).ok_or_else(|| corrupt("item id", &item))?,
                kind,
                state,
                attempts,
                error,
                claim: None,
            });
        }
        Ok(out)
    }

    fn set_digest(&mut self, item: &ItemId, algorithm: &str, hex: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO item_digests (item_id, algorithm, hex) VALUES (?1, ?2, ?3)",
                params![item.as_str(), algorithm, hex],
            )
            .map_err(db)?;
        Ok(())
    }

    fn digest(&self, item: &ItemId, algorithm: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT hex FROM item_digests WHERE item_id = ?1 AND algorithm = ?2",
                params![item.as_str(), algorithm],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
    }

    fn fingerprints(&self, item: &ItemId) -> Result<Vec<Fingerprint>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT algorithm, algorithm_version, decoder, data FROM fingerprints WHERE item_id = ?1 ORDER BY algorithm",
            )
            .map_err(db)?;
        let rows = st
            .query_map([item.as_str()], |r| {
                Ok(Fingerprint {
                    algorithm: r.get(0)?,
                    algorithm_version: r.get(1)?,
                    decoder: r.get(2)?,
                    data: r.get(3)?,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn stale_fingerprints(
        &self,
        with: &str,
        algorithm: &str,
        generation: &str,
    ) -> Result<Vec<ItemId>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT f.item_id FROM fingerprints f
                 LEFT JOIN fingerprints v ON v.item_id = f.item_id AND v.algorithm = ?2
                 WHERE f.algorithm = ?1 AND (v.item_id IS NULL OR instr(v.algorithm_version, ?3) = 0)
                 ORDER BY f.item_id",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![with, algorithm, generation], |r| {
                r.get::<_, String>(0)
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let item = r.map_err(db)?;
            out.push(ItemId::parse(&item).ok_or_else(|| corrupt("item id", &item))?);
        }
        Ok(out)
    }

    fn fingerprint_changes(&self, after: u64) -> Result<Vec<(u64, ItemId, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, item_id, algorithm FROM fingerprint_changes WHERE seq > ?1 ORDER BY seq",
            )
            .map_err(db)?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = st
            .query_map([after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (seq, item, algorithm) = r.map_err(db)?;
            let seq = u64::try_from(seq).map_err(|_| corrupt("change number", &seq.to_string()))?;
            let item = ItemId::parse(&item).ok_or_else(|| corrupt("item id", &item))?;
            out.push((seq, item, algorithm));
        }
        Ok(out)
    }

    fn derived_from(&self, source: &ItemId) -> Result<Vec<(ItemId, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT item_id, role FROM derived_items WHERE source_id = ?1 ORDER BY role",
            )
            .map_err(db)?;
        let rows = st
            .query_map([source.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (id, role) = r.map_err(db)?;
            out.push((
                ItemId::parse(&id).ok_or_else(|| corrupt("item id", &id))?,
                role,
            ));
        }
        Ok(out)
    }

    fn case_items(&self, case: &str) -> Result<Vec<Item>, StoreError> {
        let exists: Option<i64> = self
            .conn
            .query_row("SELECT id FROM cases WHERE name = ?1", [case], |r| r.get(0))
            .optional()
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("case {case:?}")));
        }
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT i.id, i.sha256, i.size, i.media_type, i.created_at FROM items i
                 JOIN case_items ci ON ci.item_id = i.id JOIN cases c ON c.id = ci.case_id
                 WHERE c.name = ?1 ORDER BY i.created_at, i.id",
            )
            .map_err(db)?;
        let rows = st.query_map([case], item_from_row).map_err(db)?;
        rows.map(|r| r.map_err(db).and_then(to_item)).collect()
    }

    fn event_records(&self, after: u64, limit: usize) -> Result<Vec<EventRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT e.seq, e.item_id,
                        CASE WHEN e.frozen IS NOT NULL THEN NULL
                             WHEN e.kind IN ('record', 'erase') THEN json_extract(e.sighting, '$.digest')
                             ELSE i.sha256 END,
                        e.kind, e.at, e.actor, e.sighting,
                        (SELECT MAX(p.seq) FROM custody_events p WHERE p.item_id = e.item_id AND p.seq < e.seq),
                        e.salt, e.frozen
                 FROM custody_events e LEFT JOIN items i ON i.id = e.item_id
                 WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![after as i64, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (seq, item, sha, kind, at, actor, details, prev, salt, frozen) = r.map_err(db)?;
            out.push(EventRecord {
                seq: seq as u64,
                item: ItemId::parse(&item).ok_or_else(|| corrupt("item id", &item))?,
                sha256: match sha {
                    Some(s) => Some(s.parse().map_err(|_| corrupt("SHA-256", &s))?),
                    None => None,
                },
                kind,
                at,
                actor,
                details,
                prev: prev.map(|p| p as u64),
                salt: stored_salt(seq, salt)?,
                frozen: match frozen {
                    Some(f) => Some(
                        athar_core::custody::Digests::from_text(&f)
                            .ok_or_else(|| corrupt("frozen digests", &f))?,
                    ),
                    None => None,
                },
            });
        }
        Ok(out)
    }

    fn unlogged(&self) -> Result<Vec<u64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq FROM unlogged ORDER BY seq")
            .map_err(db)?;
        let rows = st.query_map([], |r| r.get::<_, i64>(0)).map_err(db)?;
        rows.map(|r| r.map(|v| v as u64).map_err(db)).collect()
    }

    fn mark_logged(&mut self, through: u64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM unlogged WHERE seq <= ?1", [through as i64])
            .map_err(db)
            .map(|_| ())
    }

    fn record_by_id(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        crate::records::by_id(&self.conn, id, self.sealing.as_ref())
    }

    fn records_with_key(&self, key: &str) -> Result<Vec<KeyedRecord>, StoreError> {
        crate::records::with_key(&self.conn, key)
    }

    fn referrers(&self, id: &str) -> Result<Vec<String>, StoreError> {
        crate::records::referrers(&self.conn, id)
    }

    fn event_subjects(&self, after: u64) -> Result<Vec<(u64, String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, item_id, kind FROM custody_events WHERE seq > ?1 ORDER BY seq",
            )
            .map_err(db)?;
        let rows = st
            .query_map([after as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn record_keys(&self) -> Result<Vec<(String, KeyedRecord)>, StoreError> {
        crate::records::keys(&self.conn)
    }

    fn case_exists(&self, name: &str) -> Result<bool, StoreError> {
        crate::records::case_exists(&self.conn, name)
    }

    fn records(
        &self,
        kind: Option<RecordKind>,
        case: Option<&str>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        crate::records::list(&self.conn, kind, case, self.sealing.as_ref())
    }

    fn record_value(&self, sha256: &Sha256) -> Result<Option<String>, StoreError> {
        crate::records::value(&self.conn, sha256, self.sealing.as_ref())
    }

    fn write_records(
        &mut self,
        writes: &[RecordWrite],
        actor: &str,
        logged_through: u64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        crate::records::write(
            &mut self.conn,
            writes,
            actor,
            logged_through,
            self.sealing.as_ref(),
        )
    }

    fn case_holdings(&self, case: &str) -> Result<athar_core::CaseHoldings, StoreError> {
        crate::erase::case_holdings(&self.conn, case)
    }

    fn erase_subjects(
        &mut self,
        case: &str,
        at: &str,
        subjects: &[ItemId],
        frozen: &[(u64, athar_core::custody::Digests)],
    ) -> Result<(), StoreError> {
        crate::erase::erase_subjects(&mut self.conn, case, at, subjects, frozen)
    }

    fn erased(&self) -> Result<Vec<athar_core::ErasedSubject>, StoreError> {
        crate::erase::erased(&self.conn)
    }
}

#[cfg(test)]
mod migration_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An archive made before documentation records keeps its events, their numbers and
    /// the highest number ever issued when custody_events is rebuilt (migration 6).
    #[test]
    fn migration_6_keeps_events_and_their_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..5] {
                tx.execute_batch(sql).unwrap();
            }
            tx.pragma_update(None, "user_version", 5).unwrap();
            tx.execute(
                "INSERT INTO items VALUES ('01M8D5WSET03EZGE5SXSJFSYZ3', ?1, 1, 'x', 't')",
                ["ab".repeat(32)],
            )
            .unwrap();
            for _ in 0..3 {
                tx.execute(
                    "INSERT INTO custody_events (item_id, kind, at, actor, sighting)
                     VALUES ('01M8D5WSET03EZGE5SXSJFSYZ3', 'access', 't', 'a', '{}')",
                    [],
                )
                .unwrap();
            }
            // The last event was removed (tampering verify must still see).
            tx.execute("DELETE FROM custody_events WHERE seq = 3", [])
                .unwrap();
            tx.commit().unwrap();
        }
        let cat = SqliteCatalog::open(&path, true).unwrap();
        assert_eq!(cat.version().unwrap(), MIGRATIONS.len() as i64);
        let (events, max) = cat.event_index().unwrap();
        assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(max, 3);
        let next: i64 = cat
            .conn
            .query_row(
                "INSERT INTO custody_events (item_id, kind, at, actor, sighting)
                 VALUES ('01M8D5WSET03EZGE5SXSJFSYZ3', 'access', 't', 'a', '{}') RETURNING seq",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(next, 4);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn add_item(conn: &Connection) -> ItemId {
        let id = ItemId::generate().unwrap();
        let sha = format!("{:064x}", rand_u64(&id));
        conn.execute(
            "INSERT INTO items (id, sha256, size, media_type, created_at) VALUES (?1, ?2, 1, 'image/png', 't')",
            params![id.as_str(), sha],
        )
        .unwrap();
        id
    }

    fn rand_u64(id: &ItemId) -> u64 {
        id.as_str()
            .bytes()
            .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
    }

    fn put(conn: &Connection, item: &ItemId, algorithm: &str) {
        conn.execute(
            "INSERT OR REPLACE INTO fingerprints (item_id, algorithm, algorithm_version, decoder, data, created_at)
             VALUES (?1, ?2, '1', '-', 'x', 't')",
            params![item.as_str(), algorithm],
        )
        .unwrap();
    }

    #[test]
    fn fingerprint_changes_are_numbered_backfilled_and_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        // A catalog made before migrations 6 and 7, already holding fingerprints.
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let (a, b) = (add_item(&conn), add_item(&conn));
        put(&conn, &a, "pdq");
        put(&conn, &b, "vpdq");
        drop(conn);
        let cat = SqliteCatalog::open(&path, true).unwrap();
        let all = cat.fingerprint_changes(0).unwrap();
        assert_eq!(
            all.iter()
                .map(|(_, i, alg)| (i.clone(), alg.as_str()))
                .collect::<Vec<_>>(),
            [(a.clone(), "pdq"), (b.clone(), "vpdq")]
        );
        let last = all[1].0;
        // Replacing the newest row (which SQLite may give the same rowid) is a new change.
        put(&cat.conn, &b, "vpdq");
        put(&cat.conn, &a, "metadata");
        let since = cat.fingerprint_changes(last).unwrap();
        assert_eq!(since.len(), 2);
        assert!(since[0].0 > last && since[1].0 > since[0].0);
        assert_eq!((&since[0].1, since[0].2.as_str()), (&b, "vpdq"));
        assert!(cat.fingerprint_changes(since[1].0).unwrap().is_empty());
    }

    fn put_version(conn: &Connection, item: &ItemId, algorithm: &str, version: &str) {
        conn.execute(
            "INSERT OR REPLACE INTO fingerprints (item_id, algorithm, algorithm_version, decoder, data, created_at)
             VALUES (?1, ?2, ?3, '-', 'x', 't')",
            params![item.as_str(), algorithm, version],
        )
        .unwrap();
    }

    #[test]
    fn a_job_past_its_lease_is_claimed_again_and_its_old_claim_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let mut cat = SqliteCatalog::open(&path, true).unwrap();
        let item = add_item(&cat.conn);
        cat.enqueue_jobs(&[(item.clone(), "pdq".to_owned())])
            .unwrap();
        let first = cat.claim_job(3).unwrap().unwrap();
        assert_eq!(cat.claim_job(3).unwrap(), None, "held by its lease");
        assert_eq!(cat.waiting_jobs().unwrap(), 0);
        // Its process stopped renewing: the lease runs out.
        cat.conn
            .execute("UPDATE jobs SET lease_until = 1", [])
            .unwrap();
        assert_eq!(cat.waiting_jobs().unwrap(), 1);
        let second = cat.claim_job(3).unwrap().unwrap();
        assert_eq!((second.id, second.attempts), (first.id, 2));
        assert!(!cat.renew_job(&first).unwrap());
        assert!(
            !cat.finish_job(&first, Ok(&[]), 3).unwrap(),
            "the old claim"
        );
        assert!(cat.finish_job(&second, Ok(&[]), 3).unwrap());
        assert_eq!(cat.jobs().unwrap()[0].state, "done");

        // The embedded archive's one writer opening it releases what a dead one held.
        cat.enqueue_jobs(&[(item.clone(), "sha512".to_owned())])
            .unwrap();
        let held = cat.claim_job(3).unwrap().unwrap();
        drop(cat);
        let mut cat = SqliteCatalog::open(&path, true).unwrap();
        let again = cat.claim_job(3).unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (held.id, 2));
    }

    #[test]
    fn stale_records_are_found_and_their_done_jobs_queued_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = SqliteCatalog::open(&dir.path().join("catalog.sqlite"), true).unwrap();
        let items: Vec<ItemId> = (0..5).map(|_| add_item(&cat.conn)).collect();
        // The last item has no records at all (not analysed yet): nothing to refresh.
        let [current, older, missing, image, _] = items.as_slice() else {
            unreachable!()
        };
        for i in [current, older, missing] {
            put(&cat.conn, i, "vpdq");
        }
        // The same generation from another release is current.
        put_version(&cat.conn, current, "vpdq-variants", "athar 0.9 (gen 4: x)");
        put_version(&cat.conn, older, "vpdq-variants", "athar 1.0 (gen 3: x)");
        put(&cat.conn, image, "pdq");
        let mut want = vec![older.clone(), missing.clone()];
        want.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        assert_eq!(
            cat.stale_fingerprints("vpdq", "vpdq-variants", "(gen 4:")
                .unwrap(),
            want
        );
        // New jobs are queued; a done one is queued again from scratch; queued, running and
        // failed ones are left alone.
        let job = |i: &ItemId| (i.clone(), "variants".to_owned());
        assert_eq!(cat.requeue_jobs(&[job(older), job(missing)]).unwrap(), 2);
        assert_eq!(
            cat.requeue_jobs(&[job(older)]).unwrap(),
            0,
            "already queued"
        );
        let claimed = cat.claim_job(2).unwrap().unwrap();
        assert_eq!(
            cat.requeue_jobs(&[job(&claimed.item)]).unwrap(),
            0,
            "running"
        );
        cat.finish_job(&claimed, Ok(&[]), 2).unwrap();
        assert_eq!(cat.requeue_jobs(&[job(&claimed.item)]).unwrap(), 1, "done");
        let again = cat
            .jobs()
            .unwrap()
            .into_iter()
            .find(|j| j.id == claimed.id)
            .unwrap();
        assert_eq!((again.state.as_str(), again.attempts), ("queued", 0));
        let mut failing = cat.claim_job(2).unwrap().unwrap();
        cat.finish_job(&failing, Err("no"), 2).unwrap();
        failing = cat.claim_job(2).unwrap().unwrap();
        cat.finish_job(&failing, Err("no"), 2).unwrap();
        let failed = cat.jobs().unwrap();
        assert!(failed
            .iter()
            .any(|j| j.id == failing.id && j.state == "failed"));
        assert_eq!(
            cat.requeue_jobs(&[job(&failing.item)]).unwrap(),
            0,
            "failed"
        );
    }
}
