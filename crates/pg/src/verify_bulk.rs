//! [`athar_core::Catalog::records_to_verify`] for [`crate::PgCatalog`]: what verification
//! checks of many documentation records, in two queries whatever their number (plus one
//! per row whose digest is not stored in its canonical spelling, which only tampering
//! makes), where the single-row methods cost three round trips a record.

use std::collections::HashMap;

use athar_core::records::StoredRecord;
use athar_core::{CustodyEvent, ItemId, RecordToVerify, StoreError};
use postgres::Client;

use crate::catalog::{to_event, EVENT_COLUMNS};
use crate::records::{to_stored, COLUMNS};
use crate::{col, db};

/// A record row as `records::by_id` reads it, with the digest as stored (text) and the body
/// of the value it joins.
struct Row {
    stored: Result<StoredRecord, StoreError>,
    sha256: String,
    body: String,
}

/// For each of `ids` in order: its record row (as `records::by_id` reads it), the stored
/// body of its value and its last custody event not frozen (as `Catalog::events` lists them).
pub(crate) fn records_to_verify(
    c: &mut Client,
    ids: &[&str],
) -> Result<Vec<RecordToVerify>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM records r JOIN record_values v ON v.sha256 = r.sha256
                 WHERE r.id = ANY($1)"
            ),
            &[&ids],
        )
        .map_err(db)?;
    let mut found: HashMap<String, Row> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let stored = match to_stored(r) {
            Err(e @ StoreError::Corrupt(_)) => Err(e),
            other => Ok(other?),
        };
        found.insert(
            col(r, 0)?,
            Row {
                stored,
                sha256: col(r, 2)?,
                body: col(r, 4)?,
            },
        );
    }
    let readable: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| matches!(found.get(*id), Some(Row { stored: Ok(_), .. })))
        .filter(|id| ItemId::parse(id).is_some())
        .collect();
    let mut last = last_events(c, &readable)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(row) = found.remove(*id) else {
            out.push(RecordToVerify {
                stored: Ok(None),
                value: None,
                last_event: None,
            });
            continue;
        };
        let stored = match row.stored {
            Ok(stored) => stored,
            Err(e) => {
                out.push(RecordToVerify {
                    stored: Err(e),
                    value: None,
                    last_event: None,
                });
                continue;
            }
        };
        // The joined value is the one `record_value` reads unless the stored digest is not
        // in its canonical spelling (a tampered row): then it is read as that does.
        let value = if row.sha256 == stored.sha256.to_hex() {
            Some(row.body)
        } else {
            crate::records::value(c, &stored.sha256)?
        };
        out.push(RecordToVerify {
            stored: Ok(Some(stored)),
            value,
            last_event: last.remove(*id),
        });
    }
    Ok(out)
}

/// The last custody event not frozen of each of `ids` (well-formed item ids) that has one.
fn last_events(c: &mut Client, ids: &[&str]) -> Result<HashMap<String, CustodyEvent>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = c
        .query(
            &format!(
                "SELECT DISTINCT ON (item_id) {EVENT_COLUMNS}, item_id FROM custody_events
                 WHERE item_id = ANY($1) AND frozen IS NULL ORDER BY item_id, seq DESC"
            ),
            &[&ids],
        )
        .map_err(db)?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id: String = col(r, 6)?;
        let item = ItemId::parse(&id).ok_or_else(|| crate::corrupt("item id", &id))?;
        out.insert(id, to_event(&item, r)?);
    }
    Ok(out)
}
