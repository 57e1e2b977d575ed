//! Copying another catalog's rows in, table by table, for `athar migrate` (an embedded
//! archive moving to PostgreSQL): [`Import`] opens one transaction on a freshly made
//! catalog, names its tables (parents before the tables that refer to them) and their
//! columns with their types, takes rows of plain values, and at [`Import::finish`] sets the
//! identity sequences and the custody-event counter past what was copied, then commits —
//! so an interrupted copy leaves the catalog as empty as it found it.
//!
//! The caller reads the rows from wherever they are; this module knows only the target.
//! `fingerprint_changes` is not copied: its trigger numbers every fingerprint row copied in
//! (the numbers are a cache's bookmark, not custody data).

use postgres::types::ToSql;
use postgres::Client;

use athar_core::StoreError;

use crate::{col, db, Location, PgCatalog};

/// A value of a row being copied in.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The type of a column of the target table, as values are converted for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    BigInt,
    /// Stored as 0 or 1 by the embedded catalog.
    Bool,
    Text,
    Bytes,
}

/// A column of a target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnType,
    pub nullable: bool,
}

/// Tables that are not copied: the migrations' own bookkeeping, the counters (set at the
/// end) and what a trigger fills.
const NOT_COPIED: &[&str] = &["schema_migrations", "counters", "fingerprint_changes"];

/// Rows per INSERT statement.
const BATCH: usize = 500;

/// A copy into the catalog at a location, in one transaction.
pub struct Import {
    client: Client,
    rows: u64,
}

impl std::fmt::Debug for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Import").field("rows", &self.rows).finish()
    }
}

impl Import {
    /// Starts a copy into the catalog at `location`, made (with its migrations) when it is
    /// not there. Refused when it already holds items, events, records or accounts.
    pub fn begin(location: &Location) -> Result<Import, StoreError> {
        // Makes the schema and runs the migrations, as `athar init` would.
        drop(PgCatalog::open_at(location, true)?);
        if !PgCatalog::is_empty_at(location)? {
            return Err(StoreError::Catalog(format!(
                "{location}: already holds an archive's catalog (items, events, records or \
                 accounts); a migration copies into an empty one"
            )));
        }
        let mut client = location.connect(true)?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .map_err(db)?;
        Ok(Import { client, rows: 0 })
    }

    /// The tables to copy, each after every table it refers to.
    pub fn tables(&mut self) -> Result<Vec<String>, StoreError> {
        let names: Vec<String> = self
            .client
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                 ORDER BY table_name",
                &[],
            )
            .map_err(db)?
            .iter()
            .map(|r| col(r, 0))
            .collect::<Result<_, _>>()?;
        let edges: Vec<(String, String)> = self
            .client
            .query(
                "SELECT child.relname::text, parent.relname::text FROM pg_constraint c
                 JOIN pg_class child ON child.oid = c.conrelid
                 JOIN pg_class parent ON parent.oid = c.confrelid
                 WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
                &[],
            )
            .map_err(db)?
            .iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut left: Vec<String> = names
            .into_iter()
            .filter(|n| !NOT_COPIED.contains(&n.as_str()))
            .collect();
        let mut ordered = Vec::new();
        while !left.is_empty() {
            let ready: Vec<String> = left
                .iter()
                .filter(|t| {
                    edges.iter().all(|(child, parent)| {
                        child != *t || parent == *t || ordered.contains(parent)
                    })
                })
                .cloned()
                .collect();
            if ready.is_empty() {
                return Err(StoreError::Catalog(format!(
                    "the tables {left:?} refer to each other in a cycle"
                )));
            }
            left.retain(|t| !ready.contains(t));
            ordered.extend(ready);
        }
        Ok(ordered)
    }

    /// The columns of `table` that take copied values (not those the database generates
    /// always), in their order.
    pub fn columns(&mut self, table: &str) -> Result<Vec<Column>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT column_name::text, data_type::text, is_nullable::text
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                   AND is_generated = 'NEVER' AND identity_generation IS DISTINCT FROM 'ALWAYS'
                 ORDER BY ordinal_position",
                &[&table],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let name: String = col(r, 0)?;
                let ty: String = col(r, 1)?;
                let nullable: String = col(r, 2)?;
                let kind = match ty.as_str() {
                    "bigint" | "integer" | "smallint" => ColumnType::BigInt,
                    "boolean" => ColumnType::Bool,
                    "text" | "character varying" => ColumnType::Text,
                    "bytea" => ColumnType::Bytes,
                    other => {
                        return Err(StoreError::Catalog(format!(
                            "{table}.{name}: a column of type {other} cannot be copied"
                        )))
                    }
                };
                Ok(Column {
                    name,
                    kind,
                    nullable: nullable == "YES",
                })
            })
            .collect()
    }

    /// Inserts `rows` (values in the order of `columns`) into `table`.
    pub fn insert(
        &mut self,
        table: &str,
        columns: &[Column],
        rows: &[Vec<Value>],
    ) -> Result<(), StoreError> {
        let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
        for batch in rows.chunks(BATCH) {
            let mut params: Vec<Box<dyn ToSql + Sync>> =
                Vec::with_capacity(batch.len() * columns.len());
            let mut tuples = Vec::with_capacity(batch.len());
            for row in batch {
                if row.len() != columns.len() {
                    return Err(StoreError::Catalog(format!(
                        "{table}: a row of {} values for {} columns",
                        row.len(),
                        columns.len()
                    )));
                }
                let mut marks = Vec::with_capacity(row.len());
                for (v, c) in row.iter().zip(columns) {
                    params.push(param(table, c, v)?);
                    marks.push(format!("${}", params.len()));
                }
                tuples.push(format!("({})", marks.join(", ")));
            }
            let sql = format!(
                "INSERT INTO \"{table}\" ({}) VALUES {}",
                names.join(", "),
                tuples.join(", ")
            );
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            self.client.execute(sql.as_str(), &refs).map_err(db)?;
            self.rows += batch.len() as u64;
        }
        Ok(())
    }

    /// Sets every identity sequence past the largest id copied and the custody-event
    /// counter to `events_issued` (the highest event number the source ever gave), then
    /// commits. Returns the rows copied.
    pub fn finish(mut self, events_issued: u64) -> Result<u64, StoreError> {
        let identities: Vec<(String, String)> = self
            .client
            .query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND is_identity = 'YES'",
                &[],
            )
            .map_err(db)?
            .iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
            .collect::<Result<_, StoreError>>()?;
        for (table, column) in identities {
            self.client
                .execute(
                    format!(
                        "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),
                                COALESCE((SELECT max(\"{column}\") FROM \"{table}\"), 1),
                                (SELECT max(\"{column}\") FROM \"{table}\") IS NOT NULL)"
                    )
                    .as_str(),
                    &[],
                )
                .map_err(db)?;
        }
        let issued = i64::try_from(events_issued)
            .map_err(|_| StoreError::Catalog(format!("event number {events_issued} too large")))?;
        self.client
            .execute(
                "UPDATE counters SET value = $1 WHERE name = 'custody_events'",
                &[&issued],
            )
            .map_err(db)?;
        self.client.batch_execute("COMMIT").map_err(db)?;
        Ok(self.rows)
    }
}

/// `v` as a parameter for column `c`.
fn param(table: &str, c: &Column, v: &Value) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let wrong = || {
        StoreError::Catalog(format!(
            "{table}.{}: {v:?} does not fit a {:?} column",
            c.name, c.kind
        ))
    };
    if matches!(v, Value::Null) && !c.nullable {
        return Err(wrong());
    }
    Ok(match (c.kind, v) {
        (ColumnType::BigInt, Value::Null) => Box::new(None::<i64>),
        (ColumnType::BigInt, Value::Int(i)) => Box::new(*i),
        (ColumnType::Bool, Value::Null) => Box::new(None::<bool>),
        (ColumnType::Bool, Value::Int(i @ (0 | 1))) => Box::new(*i == 1),
        (ColumnType::Text, Value::Null) => Box::new(None::<String>),
        (ColumnType::Text, Value::Text(s)) => Box::new(s.clone()),
        (ColumnType::Bytes, Value::Null) => Box::new(None::<Vec<u8>>),
        (ColumnType::Bytes, Value::Bytes(b)) => Box::new(b.clone()),
        _ => return Err(wrong()),
    })
}

impl PgCatalog {
    /// Whether the catalog at `location` holds no items, events, records or accounts (true
    /// when it was never made).
    pub fn is_empty_at(location: &Location) -> Result<bool, StoreError> {
        if !PgCatalog::exists(location)? {
            return Ok(true);
        }
        let mut c = location.connect(false)?;
        let row = c
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM items) AND NOT EXISTS (SELECT 1 FROM custody_events)
                    AND NOT EXISTS (SELECT 1 FROM records) AND NOT EXISTS (SELECT 1 FROM users)",
                &[],
            )
            .map_err(db)?;
        col(&row, 0)
    }
}
