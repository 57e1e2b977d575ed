//! [`Catalog`] for [`PgCatalog`]: items, custody events, jobs, fingerprints, erasure. Each
//! method mirrors the embedded catalog's (`athar-store`'s `catalog.rs` and `erase.rs`).

use std::collections::{BTreeSet, HashSet};

use athar_core::custody::{Digests, Salt};
use athar_core::records::{KeyedRecord, RecordKind, RecordWrite, StoredRecord};
use athar_core::{
    CaseHoldings, Catalog, CustodyEvent, ErasedSubject, EventDetails, EventKind, EventRecord,
    Fingerprint, Item, ItemId, Job, NewItem, ReceivedCustody, RecordToVerify, RecordedEntry,
    Sha256, StoreError,
};
use postgres::{Row, Transaction};

use crate::{big, col, corrupt, db, PgCatalog};

/// [`athar_core::job_lease`] in milliseconds.
fn lease_millis() -> i64 {
    i64::try_from(athar_core::job_lease().as_millis()).unwrap_or(i64::MAX)
}

/// A fresh salt for a new custody event's v2 log entry.
pub(crate) fn new_salt() -> Result<Salt, StoreError> {
    Salt::random().map_err(|e| StoreError::Catalog(format!("no randomness for a salt: {e}")))
}

/// An event's stored salt (None: logged as v1). A malformed one is named by its event only:
/// it is close to a secret.
fn stored_salt(seq: i64, hex: Option<String>) -> Result<Option<Salt>, StoreError> {
    hex.map(|h| {
        h.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "catalog holds an invalid salt for custody event #{seq}"
            ))
        })
    })
    .transpose()
}

/// Takes `n` custody event numbers (n ≥ 1) in `tx`: the first of them. The counter row is
/// updated in the transaction, so a rollback gives the numbers back (no gaps), and it
/// serialises writers of events.
pub(crate) fn take_seqs(tx: &mut Transaction<'_>, n: u64) -> Result<u64, StoreError> {
    let row = tx
        .query_one(
            "UPDATE counters SET value = value + $1 WHERE name = 'custody_events' RETURNING value",
            &[&big(n)],
        )
        .map_err(db)?;
    let last: i64 = col(&row, 0)?;
    let last = u64::try_from(last).map_err(|_| corrupt("event counter", &last.to_string()))?;
    Ok(last + 1 - n)
}

/// Drops from the log queue every event up to `logged_through`.
pub(crate) fn drop_logged(tx: &mut Transaction<'_>, logged_through: u64) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM unlogged WHERE seq <= $1",
        &[&big(logged_through)],
    )
    .map_err(db)?;
    Ok(())
}

const ITEM_COLUMNS: &str = "id, sha256, size, media_type, created_at";

fn to_item(r: &Row) -> Result<Item, StoreError> {
    let id: String = col(r, 0)?;
    let sha: String = col(r, 1)?;
    let size: i64 = col(r, 2)?;
    Ok(Item {
        id: ItemId::parse(&id).ok_or_else(|| corrupt("item id", &id))?,
        sha256: sha.parse().map_err(|_| corrupt("SHA-256", &sha))?,
        size: u64::try_from(size).map_err(|_| corrupt("size", &size.to_string()))?,
        media_type: col(r, 3)?,
        created_at: col(r, 4)?,
    })
}

/// The columns [`to_event`] reads, in order.
pub(crate) const EVENT_COLUMNS: &str = "seq, kind, at, actor, sighting, salt";

/// A custody event of `item` from a row of [`EVENT_COLUMNS`].
pub(crate) fn to_event(item: &ItemId, r: &Row) -> Result<CustodyEvent, StoreError> {
    let seq: i64 = col(r, 0)?;
    let kind: String = col(r, 1)?;
    let sighting: String = col(r, 4)?;
    let parsed = EventKind::parse(&kind).ok_or_else(|| corrupt("event kind", &kind))?;
    Ok(CustodyEvent {
        seq: seq_of(seq)?,
        item: item.clone(),
        kind: parsed,
        at: col(r, 2)?,
        actor: col(r, 3)?,
        details: EventDetails::from_json(parsed, &sighting)
            .ok_or_else(|| corrupt("event record", &sighting))?,
        salt: stored_salt(seq, col(r, 5)?)?,
    })
}

fn item_id(s: &str) -> Result<ItemId, StoreError> {
    ItemId::parse(s).ok_or_else(|| corrupt("item id", s))
}

fn sha_of(s: &str) -> Result<Sha256, StoreError> {
    s.parse().map_err(|_| corrupt("SHA-256", s))
}

fn seq_of(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt("event number", &v.to_string()))
}

impl PgCatalog {
    /// An item by id, digest or a unique prefix of either, among the items of `cases` when
    /// given (nothing outside them is found or counted).
    fn resolve_among(&self, query: &str, cases: Option<&[String]>) -> Result<Item, StoreError> {
        let q = query.trim();
        if q.len() < 4 || !q.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::NotFound(format!(
                "item {query:?} (give an item id or SHA-256, or at least 4 characters of one)"
            )));
        }
        // Letters and digits only: no LIKE wildcard can be in them.
        let id_like = format!("{}%", q.to_ascii_uppercase());
        let sha_like = format!("{}%", q.to_ascii_lowercase());
        let mut c = self.conn()?;
        let rows = match cases {
            None => c.query(
                &format!(
                    "SELECT {ITEM_COLUMNS} FROM items WHERE id LIKE $1
                     UNION SELECT {ITEM_COLUMNS} FROM items WHERE sha256 LIKE $2 LIMIT 2"
                ),
                &[&id_like, &sha_like],
            ),
            Some(cases) => {
                let visible =
                    "SELECT ci.item_id FROM case_items ci JOIN cases c ON c.id = ci.case_id
                               WHERE c.name = ANY($3)";
                c.query(
                    &format!(
                        "SELECT {ITEM_COLUMNS} FROM items WHERE id LIKE $1 AND id IN ({visible})
                         UNION SELECT {ITEM_COLUMNS} FROM items WHERE sha256 LIKE $2
                             AND id IN ({visible}) LIMIT 2"
                    ),
                    &[&id_like, &sha_like, &cases],
                )
            }
        }
        .map_err(db)?;
        match rows.as_slice() {
            [] => Err(StoreError::NotFound(format!("item {query:?}"))),
            [one] => to_item(one),
            _ => Err(StoreError::Ambiguous {
                what: format!("item prefix {query:?}"),
                count: rows.len(),
            }),
        }
    }
}

impl Catalog for PgCatalog {
    fn add_pending(&mut self, shas: &[Sha256]) -> Result<(), StoreError> {
        if shas.is_empty() {
            return Ok(());
        }
        let now = athar_core::now_rfc3339();
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        let st = tx
            .prepare(
                "INSERT INTO pending_blobs (sha256, since) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        for s in shas {
            tx.execute(&st, &[&s.to_hex(), &now]).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn pending(&self) -> Result<Vec<Sha256>, StoreError> {
        let rows = self
            .conn()?
            .query("SELECT sha256 FROM pending_blobs ORDER BY sha256", &[])
            .map_err(db)?;
        rows.iter().map(|r| sha_of(&col::<String>(r, 0)?)).collect()
    }

    fn clear_pending(&mut self, shas: &[Sha256]) -> Result<(), StoreError> {
        let hex: Vec<String> = shas.iter().map(Sha256::to_hex).collect();
        self.conn_mut()?
            .execute("DELETE FROM pending_blobs WHERE sha256 = ANY($1)", &[&hex])
            .map_err(db)?;
        Ok(())
    }

    fn record(
        &mut self,
        entries: &[NewItem],
        case: Option<&str>,
        logged_through: u64,
    ) -> Result<Vec<RecordedEntry>, StoreError> {
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        drop_logged(&mut tx, logged_through)?;
        let mut out = Vec::with_capacity(entries.len());
        let case_id: Option<i64> = match case {
            None => None,
            Some(name) => {
                tx.execute(
                    "INSERT INTO cases (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&name, &athar_core::now_rfc3339()],
                )
                .map_err(db)?;
                let row = tx
                    .query_one("SELECT id FROM cases WHERE name = $1", &[&name])
                    .map_err(db)?;
                Some(col(&row, 0)?)
            }
        };
        if entries.is_empty() {
            tx.commit().map_err(db)?;
            return Ok(out);
        }
        let first = take_seqs(&mut tx, entries.len() as u64)?;
        let find = tx
            .prepare(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE sha256 = $1"
            ))
            .map_err(db)?;
        let insert_item = tx
            .prepare(
                "INSERT INTO items (id, sha256, size, media_type, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .map_err(db)?;
        let insert_event = tx
            .prepare(
                "INSERT INTO custody_events (seq, item_id, kind, at, actor, sighting, salt)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .map_err(db)?;
        let link = tx
            .prepare(
                "INSERT INTO case_items (case_id, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        let queue = tx
            .prepare("INSERT INTO unlogged (seq) VALUES ($1)")
            .map_err(db)?;
        let unpend = tx
            .prepare("DELETE FROM pending_blobs WHERE sha256 = $1")
            .map_err(db)?;
        for (e, seq) in entries.iter().zip(first..) {
            let sha = e.sha256.to_hex();
            let existing = tx.query_opt(&find, &[&sha]).map_err(db)?;
            let (item, new) = match existing {
                Some(row) => (to_item(&row)?, false),
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
                    tx.execute(
                        &insert_item,
                        &[
                            &item.id.as_str(),
                            &sha,
                            &big(item.size),
                            &item.media_type,
                            &item.created_at,
                        ],
                    )
                    .map_err(db)?;
                    (item, true)
                }
            };
            let (kind, details) = match &e.derived {
                Some(d) => {
                    tx.execute(
                        "INSERT INTO derived_items (item_id, source_id, role) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&item.id.as_str(), &d.source.as_str(), &d.role],
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
            tx.execute(
                &insert_event,
                &[
                    &big(seq),
                    &item.id.as_str(),
                    &kind.as_str(),
                    &e.at,
                    &e.sighting.collector,
                    &sighting,
                    &salt.to_hex(),
                ],
            )
            .map_err(db)?;
            tx.execute(&queue, &[&big(seq)]).map_err(db)?;
            if let Some(c) = case_id {
                tx.execute(&link, &[&c, &item.id.as_str()]).map_err(db)?;
            }
            tx.execute(&unpend, &[&sha]).map_err(db)?;
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
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        drop_logged(&mut tx, logged_through)?;
        let salt = new_salt()?;
        let seq = take_seqs(&mut tx, 1)?;
        tx.execute(
            "INSERT INTO custody_events (seq, item_id, kind, at, actor, sighting, salt)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &big(seq),
                &item.as_str(),
                &kind.as_str(),
                &at,
                &actor,
                &details.to_json(),
                &salt.to_hex(),
            ],
        )
        .map_err(db)?;
        tx.execute("INSERT INTO unlogged (seq) VALUES ($1)", &[&big(seq)])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(CustodyEvent {
            seq,
            item: item.clone(),
            kind,
            at,
            actor: actor.to_owned(),
            details: details.clone(),
            salt: Some(salt),
        })
    }

    fn item_by_sha(&self, sha256: &Sha256) -> Result<Option<Item>, StoreError> {
        self.conn()?
            .query_opt(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE sha256 = $1"),
                &[&sha256.to_hex()],
            )
            .map_err(db)?
            .map(|r| to_item(&r))
            .transpose()
    }

    fn resolve(&self, query: &str) -> Result<Item, StoreError> {
        self.resolve_among(query, None)
    }

    fn resolve_in_cases(&self, query: &str, cases: &[String]) -> Result<Item, StoreError> {
        self.resolve_among(query, Some(cases))
    }

    fn items(&self) -> Result<Vec<Item>, StoreError> {
        let rows = self
            .conn()?
            .query(
                &format!("SELECT {ITEM_COLUMNS} FROM items ORDER BY created_at, id"),
                &[],
            )
            .map_err(db)?;
        rows.iter().map(to_item).collect()
    }

    fn events(&self, item: &ItemId) -> Result<Vec<CustodyEvent>, StoreError> {
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM custody_events
                     WHERE item_id = $1 AND frozen IS NULL ORDER BY seq"
                ),
                &[&item.as_str()],
            )
            .map_err(db)?;
        rows.iter().map(|r| to_event(item, r)).collect()
    }

    fn event_index(&self) -> Result<(Vec<(u64, String)>, u64), StoreError> {
        let mut c = self.conn()?;
        let mut tx = c
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db)?;
        let rows = tx
            .query("SELECT seq, item_id FROM custody_events ORDER BY seq", &[])
            .map_err(db)?;
        let events = rows
            .iter()
            .map(|r| Ok((seq_of(col(r, 0)?)?, col(r, 1)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let max: Option<i64> = tx
            .query_opt(
                "SELECT value FROM counters WHERE name = 'custody_events'",
                &[],
            )
            .map_err(db)?
            .map(|r| col(&r, 0))
            .transpose()?;
        tx.commit().map_err(db)?;
        let last = events.last().map_or(0, |e| e.0);
        let max = u64::try_from(max.unwrap_or(0)).unwrap_or(0);
        Ok((events, max.max(last)))
    }

    fn cases_of(&self, item: &ItemId) -> Result<Vec<String>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT c.name FROM cases c JOIN case_items ci ON ci.case_id = c.id
                 WHERE ci.item_id = $1 ORDER BY c.name",
                &[&item.as_str()],
            )
            .map_err(db)?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    fn add_received_custody(
        &mut self,
        item: &ItemId,
        records: &[ReceivedCustody],
    ) -> Result<(), StoreError> {
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        let st = tx
            .prepare(
                "INSERT INTO received_custody
                     (item_id, origin, seq, kind, entry, proof, verified, details, salt)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        for r in records {
            tx.execute(
                &st,
                &[
                    &item.as_str(),
                    &r.origin,
                    &big(r.seq),
                    &r.kind,
                    &r.entry,
                    &r.proof,
                    &r.verified,
                    &r.details,
                    &r.salt,
                ],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn received_custody(&self, item: &ItemId) -> Result<Vec<ReceivedCustody>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT origin, seq, kind, entry, proof, verified, details, salt
                 FROM received_custody WHERE item_id = $1 ORDER BY origin, seq",
                &[&item.as_str()],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ReceivedCustody {
                    origin: col(r, 0)?,
                    seq: seq_of(col(r, 1)?)?,
                    kind: col(r, 2)?,
                    entry: col(r, 3)?,
                    proof: col(r, 4)?,
                    verified: col(r, 5)?,
                    details: col(r, 6)?,
                    salt: col(r, 7)?,
                })
            })
            .collect()
    }

    fn enqueue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<(), StoreError> {
        let now = athar_core::now_rfc3339();
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        let st = tx
            .prepare(
                "INSERT INTO jobs (item_id, kind, state, updated_at) VALUES ($1, $2, 'queued', $3)
                 ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        for (item, kind) in jobs {
            tx.execute(&st, &[&item.as_str(), kind, &now]).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn requeue_jobs(&mut self, jobs: &[(ItemId, String)]) -> Result<usize, StoreError> {
        let now = athar_core::now_rfc3339();
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        let insert = tx
            .prepare(
                "INSERT INTO jobs (item_id, kind, state, updated_at) VALUES ($1, $2, 'queued', $3)
                 ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        let again = tx
            .prepare(
                "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, updated_at = $3
                 WHERE item_id = $1 AND kind = $2 AND state = 'done'",
            )
            .map_err(db)?;
        let mut queued = 0;
        for (item, kind) in jobs {
            queued += tx
                .execute(&insert, &[&item.as_str(), kind, &now])
                .map_err(db)?;
            queued += tx
                .execute(&again, &[&item.as_str(), kind, &now])
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(usize::try_from(queued).unwrap_or(usize::MAX))
    }

    fn waiting_jobs(&self) -> Result<u64, StoreError> {
        let row = self
            .conn()?
            .query_one(
                "SELECT COUNT(*) FROM jobs WHERE state = 'queued'
                 OR (state = 'running' AND COALESCE(lease_until, 0) < $1)",
                &[&athar_core::unix_millis()],
            )
            .map_err(db)?;
        seq_of(col(&row, 0)?)
    }

    fn claim_job(&mut self, max_attempts: u32) -> Result<Option<Job>, StoreError> {
        let now = athar_core::now_rfc3339();
        let millis = athar_core::unix_millis();
        let claim = athar_core::new_claim()?;
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        // Running past its lease: its worker died (or stopped renewing). Rows another
        // transaction holds are left to it.
        tx.execute(
            "UPDATE jobs SET state = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END,
                    error = COALESCE(error, 'interrupted'), claim = NULL, lease_until = NULL
             WHERE id IN (SELECT id FROM jobs
                          WHERE state = 'running' AND COALESCE(lease_until, 0) < $2
                          FOR UPDATE SKIP LOCKED)",
            &[&i64::from(max_attempts), &millis],
        )
        .map_err(db)?;
        // The oldest queued job no other worker is claiming this instant.
        let job = tx
            .query_opt(
                "SELECT id, item_id, kind, attempts FROM jobs WHERE state = 'queued'
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .map_err(db)?;
        let Some(row) = job else {
            tx.commit().map_err(db)?;
            return Ok(None);
        };
        let id: i64 = col(&row, 0)?;
        let item: String = col(&row, 1)?;
        let kind: String = col(&row, 2)?;
        let attempts: i64 = col(&row, 3)?;
        tx.execute(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = $2,
                    claim = $3, lease_until = $4
             WHERE id = $1",
            &[&id, &now, &claim, &(millis + lease_millis())],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Some(Job {
            id: seq_of(id)?,
            item: item_id(&item)?,
            kind,
            state: "running".to_owned(),
            attempts: u32::try_from(attempts + 1)
                .map_err(|_| corrupt("attempts", &attempts.to_string()))?,
            error: None,
            claim: Some(claim),
        }))
    }

    fn renew_job(&mut self, job: &Job) -> Result<bool, StoreError> {
        let Some(claim) = &job.claim else {
            return Ok(false);
        };
        let n = self
            .conn_mut()?
            .execute(
                "UPDATE jobs SET lease_until = $3
                 WHERE id = $1 AND state = 'running' AND claim = $2",
                &[
                    &big(job.id),
                    claim,
                    &(athar_core::unix_millis() + lease_millis()),
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
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        // Only the claim holding the job records its outcome (the row locked until commit,
        // so a claim racing this one waits and then sees it finished).
        let held = tx
            .query_opt(
                "SELECT id FROM jobs WHERE id = $1 AND state = 'running' AND claim = $2
                 FOR UPDATE",
                &[&big(job.id), &job.claim],
            )
            .map_err(db)?
            .is_some();
        if !held {
            return Ok(false);
        }
        match outcome {
            Ok(prints) => {
                for f in prints {
                    tx.execute(
                        "INSERT INTO fingerprints
                             (item_id, algorithm, algorithm_version, decoder, data, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (item_id, algorithm) DO UPDATE SET
                             algorithm_version = EXCLUDED.algorithm_version,
                             decoder = EXCLUDED.decoder, data = EXCLUDED.data,
                             created_at = EXCLUDED.created_at",
                        &[
                            &job.item.as_str(),
                            &f.algorithm,
                            &f.algorithm_version,
                            &f.decoder,
                            &f.data,
                            &now,
                        ],
                    )
                    .map_err(db)?;
                }
                tx.execute(
                    "UPDATE jobs SET state = 'done', error = NULL, updated_at = $2,
                            claim = NULL, lease_until = NULL WHERE id = $1",
                    &[&big(job.id), &now],
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
                    "UPDATE jobs SET state = $2, error = $3, updated_at = $4,
                            claim = NULL, lease_until = NULL WHERE id = $1",
                    &[&big(job.id), &state, &e, &now],
                )
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT id, item_id, kind, state, attempts, error FROM jobs ORDER BY id",
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let attempts: i64 = col(r, 4)?;
                Ok(Job {
                    id: seq_of(col(r, 0)?)?,
                    item: item_id(&col::<String>(r, 1)?)?,
                    kind: col(r, 2)?,
                    state: col(r, 3)?,
                    attempts: u32::try_from(attempts)
                        .map_err(|_| corrupt("attempts", &attempts.to_string()))?,
                    error: col(r, 5)?,
                    claim: None,
                })
            })
            .collect()
    }

    fn set_digest(&mut self, item: &ItemId, algorithm: &str, hex: &str) -> Result<(), StoreError> {
        self.conn_mut()?
            .execute(
                "INSERT INTO item_digests (item_id, algorithm, hex) VALUES ($1, $2, $3)
                 ON CONFLICT (item_id, algorithm) DO UPDATE SET hex = EXCLUDED.hex",
                &[&item.as_str(), &algorithm, &hex],
            )
            .map_err(db)?;
        Ok(())
    }

    fn digest(&self, item: &ItemId, algorithm: &str) -> Result<Option<String>, StoreError> {
        self.conn()?
            .query_opt(
                "SELECT hex FROM item_digests WHERE item_id = $1 AND algorithm = $2",
                &[&item.as_str(), &algorithm],
            )
            .map_err(db)?
            .map(|r| col(&r, 0))
            .transpose()
    }

    fn fingerprints(&self, item: &ItemId) -> Result<Vec<Fingerprint>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT algorithm, algorithm_version, decoder, data FROM fingerprints
                 WHERE item_id = $1 ORDER BY algorithm",
                &[&item.as_str()],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(Fingerprint {
                    algorithm: col(r, 0)?,
                    algorithm_version: col(r, 1)?,
                    decoder: col(r, 2)?,
                    data: col(r, 3)?,
                })
            })
            .collect()
    }

    fn stale_fingerprints(
        &self,
        with: &str,
        algorithm: &str,
        generation: &str,
    ) -> Result<Vec<ItemId>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT f.item_id FROM fingerprints f
                 LEFT JOIN fingerprints v ON v.item_id = f.item_id AND v.algorithm = $2
                 WHERE f.algorithm = $1
                     AND (v.item_id IS NULL OR strpos(v.algorithm_version, $3) = 0)
                 ORDER BY f.item_id",
                &[&with, &algorithm, &generation],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| item_id(&col::<String>(r, 0)?))
            .collect()
    }

    fn fingerprint_changes(&self, after: u64) -> Result<Vec<(u64, ItemId, String)>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT seq, item_id, algorithm FROM fingerprint_changes WHERE seq > $1
                 ORDER BY seq",
                &[&big(after)],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let seq: i64 = col(r, 0)?;
                let seq =
                    u64::try_from(seq).map_err(|_| corrupt("change number", &seq.to_string()))?;
                Ok((seq, item_id(&col::<String>(r, 1)?)?, col(r, 2)?))
            })
            .collect()
    }

    fn derived_from(&self, source: &ItemId) -> Result<Vec<(ItemId, String)>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT item_id, role FROM derived_items WHERE source_id = $1 ORDER BY role",
                &[&source.as_str()],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| Ok((item_id(&col::<String>(r, 0)?)?, col(r, 1)?)))
            .collect()
    }

    fn case_items(&self, case: &str) -> Result<Vec<Item>, StoreError> {
        let mut c = self.conn()?;
        if c.query_opt("SELECT id FROM cases WHERE name = $1", &[&case])
            .map_err(db)?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("case {case:?}")));
        }
        let rows = c
            .query(
                "SELECT i.id, i.sha256, i.size, i.media_type, i.created_at FROM items i
                 JOIN case_items ci ON ci.item_id = i.id JOIN cases c ON c.id = ci.case_id
                 WHERE c.name = $1 ORDER BY i.created_at, i.id",
                &[&case],
            )
            .map_err(db)?;
        rows.iter().map(to_item).collect()
    }

    fn event_records(&self, after: u64, limit: usize) -> Result<Vec<EventRecord>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT e.seq, e.item_id,
                        CASE WHEN e.frozen IS NOT NULL THEN NULL
                             WHEN e.kind IN ('record', 'erase') THEN e.sighting::jsonb ->> 'digest'
                             ELSE i.sha256 END,
                        e.kind, e.at, e.actor, e.sighting,
                        (SELECT MAX(p.seq) FROM custody_events p
                         WHERE p.item_id = e.item_id AND p.seq < e.seq),
                        e.salt, e.frozen
                 FROM custody_events e LEFT JOIN items i ON i.id = e.item_id
                 WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
                &[&big(after), &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let seq: i64 = col(r, 0)?;
                let sha: Option<String> = col(r, 2)?;
                let prev: Option<i64> = col(r, 7)?;
                let frozen: Option<String> = col(r, 9)?;
                Ok(EventRecord {
                    seq: seq_of(seq)?,
                    item: item_id(&col::<String>(r, 1)?)?,
                    sha256: sha.as_deref().map(sha_of).transpose()?,
                    kind: col(r, 3)?,
                    at: col(r, 4)?,
                    actor: col(r, 5)?,
                    details: col(r, 6)?,
                    prev: prev.map(seq_of).transpose()?,
                    salt: stored_salt(seq, col(r, 8)?)?,
                    frozen: match frozen {
                        Some(f) => Some(
                            Digests::from_text(&f).ok_or_else(|| corrupt("frozen digests", &f))?,
                        ),
                        None => None,
                    },
                })
            })
            .collect()
    }

    fn unlogged(&self) -> Result<Vec<u64>, StoreError> {
        let rows = self
            .conn()?
            .query("SELECT seq FROM unlogged ORDER BY seq", &[])
            .map_err(db)?;
        rows.iter().map(|r| seq_of(col(r, 0)?)).collect()
    }

    fn mark_logged(&mut self, through: u64) -> Result<(), StoreError> {
        self.conn_mut()?
            .execute("DELETE FROM unlogged WHERE seq <= $1", &[&big(through)])
            .map_err(db)?;
        Ok(())
    }

    fn record_by_id(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        crate::records::by_id(&mut *self.conn()?, id)
    }

    fn records_with_key(&self, key: &str) -> Result<Vec<KeyedRecord>, StoreError> {
        crate::records::with_key(&mut *self.conn()?, key)
    }

    fn event_subjects(&self, after: u64) -> Result<Vec<(u64, String, String)>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT seq, item_id, kind FROM custody_events WHERE seq > $1 ORDER BY seq",
                &[&big(after)],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| Ok((seq_of(col(r, 0)?)?, col(r, 1)?, col(r, 2)?)))
            .collect()
    }

    fn record_keys(&self) -> Result<Vec<(String, KeyedRecord)>, StoreError> {
        crate::records::keys(&mut *self.conn()?)
    }

    fn referrers(&self, id: &str) -> Result<Vec<String>, StoreError> {
        crate::records::referrers(&mut *self.conn()?, id)
    }

    fn case_exists(&self, name: &str) -> Result<bool, StoreError> {
        crate::records::case_exists(&mut *self.conn()?, name)
    }

    fn records(
        &self,
        kind: Option<RecordKind>,
        case: Option<&str>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        crate::records::list(&mut *self.conn()?, kind, case)
    }

    fn record_value(&self, sha256: &Sha256) -> Result<Option<String>, StoreError> {
        crate::records::value(&mut *self.conn()?, sha256)
    }

    fn write_records(
        &mut self,
        writes: &[RecordWrite],
        actor: &str,
        logged_through: u64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        crate::records::write(self.conn_mut()?, writes, actor, logged_through)
    }

    fn case_holdings(&self, case: &str) -> Result<CaseHoldings, StoreError> {
        let mut c = self.conn()?;
        let mut out = CaseHoldings::default();
        let rows = c
            .query(
                "SELECT i.id, i.sha256,
                        (SELECT COUNT(*) FROM case_items o WHERE o.item_id = i.id)
                 FROM items i JOIN case_items ci ON ci.item_id = i.id
                 JOIN cases c ON c.id = ci.case_id
                 WHERE c.name = $1 ORDER BY i.id",
                &[&case],
            )
            .map_err(db)?;
        for r in &rows {
            let entry = (
                item_id(&col::<String>(r, 0)?)?,
                sha_of(&col::<String>(r, 1)?)?,
            );
            if col::<i64>(r, 2)? > 1 {
                out.shared.push(entry);
            } else {
                out.items.push(entry);
            }
        }
        // Items made from them that no case holds, and that were made only from them.
        let own: HashSet<String> = out.items.iter().map(|(i, _)| i.to_string()).collect();
        let derived = c
            .prepare(
                "SELECT d.item_id, i.sha256 FROM derived_items d JOIN items i ON i.id = d.item_id
                 WHERE d.source_id = $1
                   AND NOT EXISTS (SELECT 1 FROM case_items ci WHERE ci.item_id = d.item_id)",
            )
            .map_err(db)?;
        let sources = c
            .prepare("SELECT source_id FROM derived_items WHERE item_id = $1")
            .map_err(db)?;
        let mut seen = BTreeSet::new();
        for (source, _) in out.items.clone() {
            for r in c.query(&derived, &[&source.as_str()]).map_err(db)? {
                let id: String = col(&r, 0)?;
                let sha: String = col(&r, 1)?;
                let all = c.query(&sources, &[&id]).map_err(db)?;
                let mut only_own = true;
                for s in &all {
                    only_own &= own.contains(&col::<String>(s, 0)?);
                }
                if only_own && seen.insert(id.clone()) {
                    out.items.push((item_id(&id)?, sha_of(&sha)?));
                }
            }
        }
        let rows = c
            .query(
                "SELECT id, sha256 FROM records WHERE case_name = $1 ORDER BY id",
                &[&case],
            )
            .map_err(db)?;
        for r in &rows {
            out.records.push((
                item_id(&col::<String>(r, 0)?)?,
                sha_of(&col::<String>(r, 1)?)?,
            ));
        }
        Ok(out)
    }

    fn erase_subjects(
        &mut self,
        case: &str,
        at: &str,
        subjects: &[ItemId],
        frozen: &[(u64, Digests)],
    ) -> Result<(), StoreError> {
        let ids: Vec<&str> = subjects.iter().map(ItemId::as_str).collect();
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        // Every value a record ever had, read before the events' details go.
        let mut values: BTreeSet<String> = BTreeSet::new();
        for r in tx
            .query(
                "SELECT sighting::jsonb ->> 'old', sighting::jsonb ->> 'new'
                 FROM custody_events
                 WHERE item_id = ANY($1) AND kind = 'record' AND frozen IS NULL",
                &[&ids],
            )
            .map_err(db)?
        {
            let old: Option<String> = col(&r, 0)?;
            let new: Option<String> = col(&r, 1)?;
            values.extend(old.into_iter().chain(new));
        }
        let freeze = tx
            .prepare(
                "UPDATE custody_events SET frozen = $2, salt = NULL, sighting = '' WHERE seq = $1",
            )
            .map_err(db)?;
        for (seq, digests) in frozen {
            tx.execute(&freeze, &[&big(*seq), &digests.to_text()])
                .map_err(db)?;
        }
        let left = tx
            .prepare("SELECT MIN(seq) FROM custody_events WHERE item_id = $1 AND frozen IS NULL")
            .map_err(db)?;
        for s in subjects {
            let row = tx.query_one(&left, &[&s.as_str()]).map_err(db)?;
            if let Some(seq) = col::<Option<i64>>(&row, 0)? {
                return Err(StoreError::Catalog(format!(
                    "erasing {s}: custody event #{seq} was not given its log digests"
                )));
            }
        }
        for sql in [
            "DELETE FROM case_items WHERE item_id = ANY($1)",
            "DELETE FROM fingerprints WHERE item_id = ANY($1)",
            "DELETE FROM fingerprint_changes WHERE item_id = ANY($1)",
            "DELETE FROM item_digests WHERE item_id = ANY($1)",
            "DELETE FROM jobs WHERE item_id = ANY($1)",
            "DELETE FROM derived_items WHERE item_id = ANY($1) OR source_id = ANY($1)",
            "DELETE FROM received_custody WHERE item_id = ANY($1)",
            "DELETE FROM items WHERE id = ANY($1)",
            "DELETE FROM record_refs WHERE from_id = ANY($1) OR to_id = ANY($1)",
            "DELETE FROM records WHERE id = ANY($1)",
        ] {
            tx.execute(sql, &[&ids]).map_err(db)?;
        }
        // The case holds nothing any more (items other cases hold stay theirs).
        tx.execute(
            "DELETE FROM case_items WHERE case_id IN (SELECT id FROM cases WHERE name = $1)",
            &[&case],
        )
        .map_err(db)?;
        let values: Vec<String> = values.into_iter().collect();
        tx.execute(
            "DELETE FROM record_values v WHERE v.sha256 = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM records r WHERE r.sha256 = v.sha256)",
            &[&values],
        )
        .map_err(db)?;
        let listed = tx
            .prepare(
                "INSERT INTO erased (subject, case_name, erased_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        for s in &ids {
            tx.execute(&listed, &[s, &case, &at]).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn records_to_verify(&self, ids: &[&str]) -> Result<Vec<RecordToVerify>, StoreError> {
        crate::verify_bulk::records_to_verify(&mut *self.conn()?, ids)
    }

    fn erased(&self) -> Result<Vec<ErasedSubject>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT subject, case_name, erased_at FROM erased ORDER BY case_name, subject",
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ErasedSubject {
                    subject: col(r, 0)?,
                    case: col(r, 1)?,
                    at: col(r, 2)?,
                })
            })
            .collect()
    }
}
