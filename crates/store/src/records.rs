//! The catalog's documentation records: current records, every value ever written (by
//! SHA-256), references between records, and one custody event per change.

use athar_core::records::{KeyedRecord, Record, RecordKind, RecordWrite, StoredRecord};
use athar_core::{EventRecord, ItemId, RecordChange, Sha256, StoreError, TOOL_VERSION};
use rusqlite::{params, CachedStatement, Connection, OptionalExtension};

use crate::sealed::Sealing;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Catalog(e.to_string())
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("catalog holds an invalid {what}: {value:?}"))
}

const COLUMNS: &str = "r.id, r.kind, r.sha256, r.deleted, v.body";

type Row = (String, String, String, bool, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_stored(raw: Row, sealing: Option<&Sealing>) -> Result<StoredRecord, StoreError> {
    let (id, kind, sha, deleted, body) = raw;
    let body = opened(body, sealing)?;
    let record = Record::from_canonical(&id, &body)
        .map_err(|e| StoreError::Corrupt(format!("record {id}: {e}")))?;
    if record.body.kind().as_str() != kind {
        return Err(corrupt("record kind", &kind));
    }
    Ok(StoredRecord {
        record,
        sha256: sha.parse().map_err(|_| corrupt("SHA-256", &sha))?,
        deleted,
    })
}

/// A stored value as written: a protected source's identity opened.
fn opened(body: String, sealing: Option<&Sealing>) -> Result<String, StoreError> {
    match sealing {
        Some(s) => s.open_identity(&body),
        None => Ok(body),
    }
}

pub(crate) fn by_id(
    conn: &Connection,
    id: &str,
    sealing: Option<&Sealing>,
) -> Result<Option<StoredRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM records r JOIN record_values v ON v.sha256 = r.sha256 WHERE r.id = ?1"
    ))
    .map_err(db)?
    .query_row([id], row)
    .optional()
    .map_err(db)?
    .map(|r| to_stored(r, sealing))
    .transpose()
}

pub(crate) fn with_key(conn: &Connection, key: &str) -> Result<Vec<KeyedRecord>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT kind, id, case_name FROM records WHERE key = ?1 AND deleted = 0 ORDER BY id",
        )
        .map_err(db)?;
    let rows = st
        .query_map([key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for r in rows {
        let (kind, id, case) = r.map_err(db)?;
        out.push(KeyedRecord {
            kind: RecordKind::parse(&kind).map_err(|_| corrupt("record kind", &kind))?,
            id,
            case,
        });
    }
    Ok(out)
}

pub(crate) fn keys(conn: &Connection) -> Result<Vec<(String, KeyedRecord)>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT key, kind, id, case_name FROM records WHERE key IS NOT NULL AND deleted = 0",
        )
        .map_err(db)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for r in rows {
        let (key, kind, id, case) = r.map_err(db)?;
        out.push((
            key,
            KeyedRecord {
                kind: RecordKind::parse(&kind).map_err(|_| corrupt("record kind", &kind))?,
                id,
                case,
            },
        ));
    }
    Ok(out)
}

pub(crate) fn referrers(conn: &Connection, id: &str) -> Result<Vec<String>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT f.from_id FROM record_refs f JOIN records r ON r.id = f.from_id
             WHERE f.to_id = ?1 AND r.deleted = 0 ORDER BY f.from_id",
        )
        .map_err(db)?;
    let rows = st.query_map([id], |r| r.get(0)).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn case_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    // An erased case takes nothing more.
    conn.prepare_cached(
        "SELECT 1 FROM cases WHERE name = ?1
         AND NOT EXISTS (SELECT 1 FROM erased WHERE case_name = ?1)",
    )
    .map_err(db)?
    .exists([name])
    .map_err(db)
}

pub(crate) fn list(
    conn: &Connection,
    kind: Option<RecordKind>,
    case: Option<&str>,
    sealing: Option<&Sealing>,
) -> Result<Vec<StoredRecord>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records r JOIN record_values v ON v.sha256 = r.sha256
             WHERE r.deleted = 0 AND (?1 IS NULL OR r.kind = ?1) AND (?2 IS NULL OR r.case_name = ?2)
             ORDER BY r.id"
        ))
        .map_err(db)?;
    let rows = st
        .query_map(params![kind.map(RecordKind::as_str), case], row)
        .map_err(db)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(to_stored(r.map_err(db)?, sealing)?);
    }
    Ok(out)
}

pub(crate) fn value(
    conn: &Connection,
    sha: &Sha256,
    sealing: Option<&Sealing>,
) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT body FROM record_values WHERE sha256 = ?1")
        .map_err(db)?
        .query_row([sha.to_hex()], |r| r.get(0))
        .optional()
        .map_err(db)?
        .map(|b| opened(b, sealing))
        .transpose()
}

/// Seals the identities of protected sources stored in the clear (a catalog just
/// encrypted in place); how many. Values already sealed are left as they are.
pub(crate) fn seal_identities(
    conn: &mut Connection,
    sealing: &Sealing,
) -> Result<usize, StoreError> {
    let tx = conn.transaction().map_err(db)?;
    let mut changed = 0;
    {
        let rows: Vec<(String, String)> = tx
            .prepare("SELECT sha256, body FROM record_values WHERE body LIKE '%\"identity\"%'")
            .map_err(db)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let mut update = tx
            .prepare("UPDATE record_values SET body = ?2 WHERE sha256 = ?1")
            .map_err(db)?;
        for (sha, body) in rows {
            let sealed = sealing.seal_identity_once(&body)?;
            if sealed != body {
                update.execute(params![sha, sealed]).map_err(db)?;
                changed += 1;
            }
        }
    }
    tx.commit().map_err(db)?;
    Ok(changed)
}

/// Records writes of more than this many changes get a larger page cache while they run.
const BULK: usize = 50_000;
/// That cache, in KiB (SQLite's negative `cache_size`): a million-record import dirties
/// about 1 GiB of pages; with less, SQLite spills pages to the WAL mid-transaction and
/// writes them again when a later insert changes them.
const BULK_CACHE_KIB: i64 = 1 << 20;

pub(crate) fn write(
    conn: &mut Connection,
    writes: &[RecordWrite],
    actor: &str,
    logged_through: u64,
    sealing: Option<&Sealing>,
) -> Result<Vec<EventRecord>, StoreError> {
    if writes.len() <= BULK {
        return write_batch(conn, writes, actor, logged_through, sealing);
    }
    let before: i64 = conn
        .query_row("PRAGMA cache_size", [], |r| r.get(0))
        .map_err(db)?;
    conn.pragma_update(None, "cache_size", -BULK_CACHE_KIB)
        .map_err(db)?;
    let result = write_batch(conn, writes, actor, logged_through, sealing);
    // The pages stay cached until the connection closes or the cache shrinks back.
    conn.pragma_update(None, "cache_size", before).map_err(db)?;
    result
}

fn write_batch(
    conn: &mut Connection,
    writes: &[RecordWrite],
    actor: &str,
    logged_through: u64,
    sealing: Option<&Sealing>,
) -> Result<Vec<EventRecord>, StoreError> {
    let at = athar_core::now_rfc3339();
    // Each event's details, made before the transaction (on every core for a large batch).
    let mut details = event_details(writes);
    let tx = conn.transaction().map_err(db)?;
    tx.execute(
        "DELETE FROM unlogged WHERE seq <= ?1",
        [logged_through as i64],
    )
    .map_err(db)?;
    insert_values(&tx, writes, sealing)?;
    let mut events = Vec::with_capacity(writes.len());
    {
        let mut st = Statements::prepare(&tx)?;
        for (w, details) in writes.iter().zip(details.iter_mut()) {
            events.push(st.write_one(&tx, w, details.take(), &at, actor)?);
        }
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        queue_unlogged(&tx, &mut st.unlogged, &seqs)?;
    }
    tx.commit().map_err(db)?;
    Ok(events)
}

/// The details (JSON) of the custody event of each write; `None` for a write with neither
/// an old nor a new value.
fn event_details(writes: &[RecordWrite]) -> Vec<Option<String>> {
    athar_core::par::map(writes, 10_000, |w| {
        let digest = w.new.or(w.old)?;
        Some(
            athar_core::EventDetails::Record(RecordChange {
                action: w.action.to_owned(),
                record_kind: w.kind.as_str().to_owned(),
                case: w.case.clone(),
                digest,
                old: w.old,
                new: w.new,
                tool_version: TOOL_VERSION.to_owned(),
            })
            .to_json(),
        )
    })
}

/// Stores every new value of `writes` once, in hash order: a large batch then fills the
/// value table's pages one after another instead of touching them at random.
/// Stores each new value (a protected source's identity sealed under its case's key in an
/// encrypted archive).
fn insert_values(
    tx: &Connection,
    writes: &[RecordWrite],
    sealing: Option<&Sealing>,
) -> Result<(), StoreError> {
    let mut values: Vec<(String, &str)> = writes
        .iter()
        .filter_map(|w| match (&w.body, w.new) {
            (Some(body), Some(sha)) => Some((sha.to_hex(), body.as_str())),
            _ => None,
        })
        .collect();
    values.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    values.dedup_by(|a, b| a.0 == b.0);
    let mut value = tx
        .prepare_cached("INSERT OR IGNORE INTO record_values (sha256, body) VALUES (?1, ?2)")
        .map_err(db)?;
    for (hex, body) in &values {
        match sealing {
            Some(s) => value.execute(params![hex, s.seal_identity(body)?]),
            None => value.execute(params![hex, body]),
        }
        .map_err(db)?;
    }
    Ok(())
}

/// Queues the events `seqs` for the custody log: one statement for the usual unbroken run
/// of numbers, else one row each.
fn queue_unlogged(
    tx: &Connection,
    unlogged: &mut CachedStatement<'_>,
    seqs: &[u64],
) -> Result<(), StoreError> {
    match (seqs.first(), seqs.last()) {
        (Some(&first), Some(&last)) if seqs.windows(2).all(|p| p[1] == p[0] + 1) => {
            tx.execute(
                "WITH RECURSIVE s(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM s WHERE x < ?2)
                 INSERT INTO unlogged (seq) SELECT x FROM s",
                [first as i64, last as i64],
            )
            .map_err(db)?;
        }
        _ => {
            for &seq in seqs {
                unlogged.execute([seq as i64]).map_err(db)?;
            }
        }
    }
    Ok(())
}

/// The statements a batch of record writes runs, prepared once per batch.
struct Statements<'c> {
    insert: CachedStatement<'c>,
    upsert: CachedStatement<'c>,
    delete: CachedStatement<'c>,
    clear_refs: CachedStatement<'c>,
    add_ref: CachedStatement<'c>,
    case: CachedStatement<'c>,
    event: CachedStatement<'c>,
    unlogged: CachedStatement<'c>,
    last_event: CachedStatement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(tx: &'c Connection) -> Result<Self, StoreError> {
        let insert = tx
            .prepare_cached(
                "INSERT INTO records (id, kind, key, case_name, sha256, deleted) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            )
            .map_err(db)?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO records (id, kind, key, case_name, sha256, deleted) VALUES (?1, ?2, ?3, ?4, ?5, 0)
                 ON CONFLICT(id) DO UPDATE SET key = excluded.key, case_name = excluded.case_name,
                    sha256 = excluded.sha256, deleted = 0",
            )
            .map_err(db)?;
        let delete = tx
            .prepare_cached("UPDATE records SET deleted = 1 WHERE id = ?1")
            .map_err(db)?;
        let clear_refs = tx
            .prepare_cached("DELETE FROM record_refs WHERE from_id = ?1")
            .map_err(db)?;
        let add_ref = tx
            .prepare_cached("INSERT OR IGNORE INTO record_refs (from_id, to_id) VALUES (?1, ?2)")
            .map_err(db)?;
        let case = tx
            .prepare_cached("INSERT OR IGNORE INTO cases (name, created_at) VALUES (?1, ?2)")
            .map_err(db)?;
        let event = tx
            .prepare_cached(
                "INSERT INTO custody_events (item_id, kind, at, actor, sighting, salt) VALUES (?1, 'record', ?2, ?3, ?4, ?5)",
            )
            .map_err(db)?;
        let unlogged = tx
            .prepare_cached("INSERT INTO unlogged (seq) VALUES (?1)")
            .map_err(db)?;
        let last_event = tx
            .prepare_cached("SELECT MAX(seq) FROM custody_events WHERE item_id = ?1")
            .map_err(db)?;
        Ok(Statements {
            insert,
            upsert,
            delete,
            clear_refs,
            add_ref,
            case,
            event,
            unlogged,
            last_event,
        })
    }

    /// Applies one write and records its custody event (`details`, from [`event_details`]).
    fn write_one(
        &mut self,
        tx: &Connection,
        w: &RecordWrite,
        details: Option<String>,
        at: &str,
        actor: &str,
    ) -> Result<EventRecord, StoreError> {
        let item = ItemId::parse(&w.id).ok_or_else(|| corrupt("record id", &w.id))?;
        // A created record has no events yet; a changed one has its last before this.
        let prev: Option<i64> = if w.action == "create" {
            None
        } else {
            self.last_event
                .query_row([&w.id], |r| r.get(0))
                .map_err(db)?
        };
        match (&w.body, w.new) {
            (Some(_), Some(sha)) => {
                let hex = sha.to_hex();
                // A create is a plain insert of a new id (an existing one fails the
                // batch). An upsert may abort halfway (its foreign key), so SQLite keeps
                // a statement journal for it, copying every page it touches: that was
                // the largest single cost of a bulk import. Edits still upsert.
                let st = if w.action == "create" {
                    &mut self.insert
                } else {
                    &mut self.upsert
                };
                st.execute(params![w.id, w.kind.as_str(), w.key, w.case, hex])
                    .map_err(db)?;
                if w.kind == RecordKind::Case {
                    self.case.execute(params![w.case, at]).map_err(db)?;
                }
            }
            _ => {
                self.delete.execute([&w.id]).map_err(db)?;
            }
        }
        if w.action != "create" {
            self.clear_refs.execute([&w.id]).map_err(db)?;
        }
        for r in &w.refs {
            self.add_ref.execute(params![w.id, r]).map_err(db)?;
        }
        let (Some(digest), Some(details)) = (w.new.or(w.old), details) else {
            return Err(StoreError::Catalog(format!(
                "record {} change has no value",
                w.id
            )));
        };
        let salt = crate::catalog::new_salt()?;
        self.event
            .execute(params![w.id, at, actor, details, salt.to_hex()])
            .map_err(db)?;
        Ok(EventRecord {
            seq: tx.last_insert_rowid() as u64,
            item,
            sha256: Some(digest),
            kind: "record".to_owned(),
            at: at.to_owned(),
            actor: actor.to_owned(),
            details,
            prev: prev.map(|p| p as u64),
            salt: Some(salt),
            frozen: None,
        })
    }
}
