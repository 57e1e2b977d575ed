//! The catalog's documentation records: current records, every value ever written (by
//! SHA-256), references between records, and one custody event per change (mirroring
//! `athar-store`'s `records.rs`).

use athar_core::records::{KeyedRecord, Record, RecordKind, RecordWrite, StoredRecord};
use athar_core::{EventRecord, ItemId, RecordChange, Sha256, StoreError, TOOL_VERSION};
use postgres::{Client, Row, Transaction};

use crate::catalog::{drop_logged, new_salt, take_seqs};
use crate::{big, col, corrupt, db};

pub(crate) const COLUMNS: &str = "r.id, r.kind, r.sha256, r.deleted, v.body";

pub(crate) fn to_stored(r: &Row) -> Result<StoredRecord, StoreError> {
    let id: String = col(r, 0)?;
    let kind: String = col(r, 1)?;
    let sha: String = col(r, 2)?;
    let body: String = col(r, 4)?;
    let record = Record::from_canonical(&id, &body)
        .map_err(|e| StoreError::Corrupt(format!("record {id}: {e}")))?;
    if record.body.kind().as_str() != kind {
        return Err(corrupt("record kind", &kind));
    }
    Ok(StoredRecord {
        record,
        sha256: sha.parse().map_err(|_| corrupt("SHA-256", &sha))?,
        deleted: col(r, 3)?,
    })
}

fn keyed(kind: &str, id: String, case: String) -> Result<KeyedRecord, StoreError> {
    Ok(KeyedRecord {
        kind: RecordKind::parse(kind).map_err(|_| corrupt("record kind", kind))?,
        id,
        case,
    })
}

pub(crate) fn by_id(c: &mut Client, id: &str) -> Result<Option<StoredRecord>, StoreError> {
    c.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM records r JOIN record_values v ON v.sha256 = r.sha256
             WHERE r.id = $1"
        ),
        &[&id],
    )
    .map_err(db)?
    .map(|r| to_stored(&r))
    .transpose()
}

pub(crate) fn with_key(c: &mut Client, key: &str) -> Result<Vec<KeyedRecord>, StoreError> {
    let rows = c
        .query(
            "SELECT kind, id, case_name FROM records WHERE key = $1 AND NOT deleted ORDER BY id",
            &[&key],
        )
        .map_err(db)?;
    rows.iter()
        .map(|r| keyed(&col::<String>(r, 0)?, col(r, 1)?, col(r, 2)?))
        .collect()
}

pub(crate) fn keys(c: &mut Client) -> Result<Vec<(String, KeyedRecord)>, StoreError> {
    let rows = c
        .query(
            "SELECT key, kind, id, case_name FROM records WHERE key IS NOT NULL AND NOT deleted",
            &[],
        )
        .map_err(db)?;
    rows.iter()
        .map(|r| {
            Ok((
                col(r, 0)?,
                keyed(&col::<String>(r, 1)?, col(r, 2)?, col(r, 3)?)?,
            ))
        })
        .collect()
}

pub(crate) fn referrers(c: &mut Client, id: &str) -> Result<Vec<String>, StoreError> {
    let rows = c
        .query(
            "SELECT f.from_id FROM record_refs f JOIN records r ON r.id = f.from_id
             WHERE f.to_id = $1 AND NOT r.deleted ORDER BY f.from_id",
            &[&id],
        )
        .map_err(db)?;
    rows.iter().map(|r| col(r, 0)).collect()
}

pub(crate) fn case_exists(c: &mut Client, name: &str) -> Result<bool, StoreError> {
    // An erased case takes nothing more.
    let row = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM cases WHERE name = $1)
                 AND NOT EXISTS (SELECT 1 FROM erased WHERE case_name = $1)",
            &[&name],
        )
        .map_err(db)?;
    col(&row, 0)
}

pub(crate) fn list(
    c: &mut Client,
    kind: Option<RecordKind>,
    case: Option<&str>,
) -> Result<Vec<StoredRecord>, StoreError> {
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM records r JOIN record_values v ON v.sha256 = r.sha256
                 WHERE NOT r.deleted AND ($1::text IS NULL OR r.kind = $1)
                     AND ($2::text IS NULL OR r.case_name = $2)
                 ORDER BY r.id"
            ),
            &[&kind.map(RecordKind::as_str), &case],
        )
        .map_err(db)?;
    rows.iter().map(to_stored).collect()
}

pub(crate) fn value(c: &mut Client, sha: &Sha256) -> Result<Option<String>, StoreError> {
    c.query_opt(
        "SELECT body FROM record_values WHERE sha256 = $1",
        &[&sha.to_hex()],
    )
    .map_err(db)?
    .map(|r| col(&r, 0))
    .transpose()
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

/// Rows sent in one multi-row statement (`UNNEST` of arrays).
const ROWS_PER_STATEMENT: usize = 10_000;

/// Rows of a record write waiting to go in multi-row statements: new records, their
/// references, custody events.
#[derive(Default)]
struct Rows {
    /// id, kind, key, case, value digest.
    records: Vec<(String, &'static str, Option<String>, String, String)>,
    /// from, to.
    refs: Vec<(String, String)>,
    /// seq, subject, details, salt.
    events: Vec<(i64, String, String, String)>,
}

impl Rows {
    fn len(&self) -> usize {
        self.records.len() + self.refs.len() + self.events.len()
    }

    /// Writes what is waiting, records before the references and events naming them.
    fn flush(&mut self, tx: &mut Transaction<'_>, at: &str, actor: &str) -> Result<(), StoreError> {
        if !self.records.is_empty() {
            let r = std::mem::take(&mut self.records);
            let ids: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
            let kinds: Vec<&str> = r.iter().map(|x| x.1).collect();
            let keys: Vec<Option<&str>> = r.iter().map(|x| x.2.as_deref()).collect();
            let cases: Vec<&str> = r.iter().map(|x| x.3.as_str()).collect();
            let shas: Vec<&str> = r.iter().map(|x| x.4.as_str()).collect();
            tx.execute(
                "INSERT INTO records (id, kind, key, case_name, sha256, deleted)
                 SELECT i, k, y, c, s, FALSE
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                     AS t(i, k, y, c, s)",
                &[&ids, &kinds, &keys, &cases, &shas],
            )
            .map_err(db)?;
        }
        if !self.refs.is_empty() {
            let r = std::mem::take(&mut self.refs);
            let from: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
            let to: Vec<&str> = r.iter().map(|x| x.1.as_str()).collect();
            tx.execute(
                "INSERT INTO record_refs (from_id, to_id)
                 SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&from, &to],
            )
            .map_err(db)?;
        }
        if !self.events.is_empty() {
            let e = std::mem::take(&mut self.events);
            let seqs: Vec<i64> = e.iter().map(|x| x.0).collect();
            let subjects: Vec<&str> = e.iter().map(|x| x.1.as_str()).collect();
            let details: Vec<&str> = e.iter().map(|x| x.2.as_str()).collect();
            let salts: Vec<&str> = e.iter().map(|x| x.3.as_str()).collect();
            tx.execute(
                "INSERT INTO custody_events (seq, item_id, kind, at, actor, sighting, salt)
                 SELECT s, i, 'record', $5, $6, d, a
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t(s, i, d, a)",
                &[&seqs, &subjects, &details, &salts, &at, &actor],
            )
            .map_err(db)?;
        }
        Ok(())
    }
}

/// Writes a batch of record changes in one transaction, one custody event each.
pub(crate) fn write(
    c: &mut Client,
    writes: &[RecordWrite],
    actor: &str,
    logged_through: u64,
) -> Result<Vec<EventRecord>, StoreError> {
    let at = athar_core::now_rfc3339();
    let details = event_details(writes);
    let mut tx = c.transaction().map_err(db)?;
    drop_logged(&mut tx, logged_through)?;
    if writes.is_empty() {
        tx.commit().map_err(db)?;
        return Ok(Vec::new());
    }
    // Every new value once, in hash order.
    let mut values: Vec<(String, &str)> = writes
        .iter()
        .filter_map(|w| match (&w.body, w.new) {
            (Some(body), Some(sha)) => Some((sha.to_hex(), body.as_str())),
            _ => None,
        })
        .collect();
    values.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    values.dedup_by(|a, b| a.0 == b.0);
    for chunk in values.chunks(ROWS_PER_STATEMENT) {
        let (hexes, bodies): (Vec<&str>, Vec<&str>) =
            chunk.iter().map(|(h, b)| (h.as_str(), *b)).unzip();
        tx.execute(
            "INSERT INTO record_values (sha256, body)
             SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            &[&hexes, &bodies],
        )
        .map_err(db)?;
    }
    let upsert = tx
        .prepare(
            "INSERT INTO records (id, kind, key, case_name, sha256, deleted)
             VALUES ($1, $2, $3, $4, $5, FALSE)
             ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, case_name = EXCLUDED.case_name,
                 sha256 = EXCLUDED.sha256, deleted = FALSE",
        )
        .map_err(db)?;
    let delete = tx
        .prepare("UPDATE records SET deleted = TRUE WHERE id = $1")
        .map_err(db)?;
    let clear_refs = tx
        .prepare("DELETE FROM record_refs WHERE from_id = $1")
        .map_err(db)?;
    let add_ref = tx
        .prepare("INSERT INTO record_refs (from_id, to_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .map_err(db)?;
    let case = tx
        .prepare("INSERT INTO cases (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .map_err(db)?;
    let last_event = tx
        .prepare("SELECT MAX(seq) FROM custody_events WHERE item_id = $1")
        .map_err(db)?;
    let first = take_seqs(&mut tx, writes.len() as u64)?;
    let mut events = Vec::with_capacity(writes.len());
    // New records, their references and every event go in many rows per statement; a
    // change of an existing record is written row by row, after what came before it.
    let mut rows = Rows::default();
    for ((w, details), seq) in writes.iter().zip(details).zip(first..) {
        let item = ItemId::parse(&w.id).ok_or_else(|| corrupt("record id", &w.id))?;
        let created = w.action == "create";
        // A created record has no events yet; a changed one has its last before this.
        let prev: Option<i64> = if created {
            None
        } else {
            rows.flush(&mut tx, &at, actor)?;
            col(&tx.query_one(&last_event, &[&w.id]).map_err(db)?, 0)?
        };
        match (&w.body, w.new) {
            (Some(_), Some(sha)) => {
                if created {
                    rows.records.push((
                        w.id.clone(),
                        w.kind.as_str(),
                        w.key.clone(),
                        w.case.clone(),
                        sha.to_hex(),
                    ));
                } else {
                    tx.execute(
                        &upsert,
                        &[&w.id, &w.kind.as_str(), &w.key, &w.case, &sha.to_hex()],
                    )
                    .map_err(db)?;
                }
                if w.kind == RecordKind::Case {
                    tx.execute(&case, &[&w.case, &at]).map_err(db)?;
                }
            }
            _ => {
                tx.execute(&delete, &[&w.id]).map_err(db)?;
            }
        }
        if created {
            rows.refs
                .extend(w.refs.iter().map(|r| (w.id.clone(), r.clone())));
        } else {
            tx.execute(&clear_refs, &[&w.id]).map_err(db)?;
            for r in &w.refs {
                tx.execute(&add_ref, &[&w.id, r]).map_err(db)?;
            }
        }
        let (Some(digest), Some(details)) = (w.new.or(w.old), details) else {
            return Err(StoreError::Catalog(format!(
                "record {} change has no value",
                w.id
            )));
        };
        let salt = new_salt()?;
        rows.events
            .push((big(seq), w.id.clone(), details.clone(), salt.to_hex()));
        events.push(EventRecord {
            seq,
            item,
            sha256: Some(digest),
            kind: "record".to_owned(),
            at: at.clone(),
            actor: actor.to_owned(),
            details,
            prev: prev.map(|p| p as u64),
            salt: Some(salt),
            frozen: None,
        });
        if rows.len() >= ROWS_PER_STATEMENT {
            rows.flush(&mut tx, &at, actor)?;
        }
    }
    rows.flush(&mut tx, &at, actor)?;
    // The whole run of numbers, queued in one statement.
    tx.execute(
        "INSERT INTO unlogged (seq) SELECT generate_series($1::bigint, $2::bigint)",
        &[&big(first), &big(first + writes.len() as u64 - 1)],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(events)
}
