//! The PostgreSQL catalog: [`PgCatalog`] keeps an archive's catalog and accounts
//! ([`athar_core::Catalog`] and [`athar_core::accounts::Accounts`], together
//! [`athar_core::Database`]) in a PostgreSQL database, for an archive that outgrows one
//! machine. It mirrors the embedded `SqliteCatalog` of `athar-store` statement for
//! statement (same transactions, orders and errors) and passes the same conformance suite
//! (`crates/pg/tests/conformance.rs`).
//!
//! # Where
//!
//! A location is a libpq URL, `postgres://user[:password]@host[:port]/database` (or
//! `postgresql://`), with libpq's parameters, plus one of Athar's own: `schema=<name>` (the
//! PostgreSQL schema the archive's tables live in, default `athar`), so that several
//! archives can share a database. Every connection selects the schema through its
//! `search_path`. A location's password never appears in an error or a message
//! ([`redact`]). The password comes from `PGPASSWORD` or `~/.pgpass` (`PGPASSFILE`), as
//! libpq finds it; `athar init` refuses a location holding one, so it is never written to
//! `athar.toml`.
//!
//! # How
//!
//! - Schema migrations are embedded and append-only (`schema.rs`); `schema_migrations`
//!   records each one applied. A writable opening runs the pending ones, each in its own
//!   transaction, holding a session advisory lock (per schema) so two processes never
//!   migrate at once; the second waits, then finds nothing left to do. A read-only opening
//!   runs nothing and refuses a schema that is missing or not at this build's version.
//! - The writer/reader split of the embedded catalog: a read-only opening's connection has
//!   `default_transaction_read_only` on, so any write is refused by PostgreSQL itself.
//! - Connections are pooled per (location, mode): dropping a catalog hands its connection
//!   back to an idle pool (up to [`IDLE_CONNECTIONS`]) and the next opening takes it, so the
//!   server's readers and short-lived openings do not reconnect each time.
//! - Custody events are numbered by a counter row updated in the writing transaction, not
//!   by a sequence: PostgreSQL sequences are not transactional, and events must be numbered
//!   1, 2, 3… without gaps even when a transaction rolls back. The counter's row lock also
//!   serialises the writers of events, as the embedded catalog's single writer does.
//! - Text columns use the "C" collation, so every `ORDER BY` sorts bytewise as SQLite does,
//!   whatever the database's default collation.
//! - Commits are durable as PostgreSQL makes them (`synchronous_commit`, on by default).
//!
//! # Limits
//!
//! - No TLS to the server yet (`NoTls`): use it over loopback, a private network or a
//!   tunnel.
//! - No encryption at rest: an encrypted archive keeps its catalog in the embedded
//!   SQLCipher file (`athar-store` refuses an encrypted archive with a PostgreSQL catalog).
//! - Job claims keep the embedded semantics (one writer: a `running` job found by a claim
//!   was interrupted); several workers claiming at once is later work.
//!
//! Must not know blobs, the custody log's files, HTTP or the command line.

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use athar_core::StoreError;
use postgres::types::FromSql;
use postgres::{Client, NoTls, Row};

mod accounts;
mod catalog;
pub mod import;
mod records;
mod schema;
mod verify_bulk;

pub use schema::MIGRATIONS;

/// The first key of the writer lock's advisory lock ("ATHR"); the second is the schema's
/// hash.
const WRITER_LOCK_CLASS: i32 = 0x4154_4852;

/// An archive's writer lock ([`PgCatalog::try_lock_writer`]): released when dropped, or
/// by the server when its connection ends.
pub struct WriterLock {
    client: Client,
}

impl WriterLock {
    /// Checks that the lock is still held: its connection may have ended (a network cut, a
    /// server restart, an idle timeout), and with it the lock, which another writer may then
    /// have taken. A writer checks before each write, and stops when it is lost.
    pub fn check(&mut self) -> Result<(), StoreError> {
        let lost = || {
            StoreError::Catalog(
                "the archive's writer lock in PostgreSQL was lost (its connection ended); \
                 another process may write now: open the archive again"
                    .to_owned(),
            )
        };
        if self.client.is_closed() {
            return Err(lost());
        }
        let held: bool = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid()
                                AND locktype = 'advisory' AND granted AND classid = $1::oid)",
                &[&(WRITER_LOCK_CLASS as u32)],
            )
            .map_err(|_| lost())
            .and_then(|r| col(&r, 0))?;
        if held {
            Ok(())
        } else {
            Err(lost())
        }
    }
}

impl fmt::Debug for WriterLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriterLock")
    }
}

/// The schema an archive's tables live in when its location names none.
pub const DEFAULT_SCHEMA: &str = "athar";
/// Idle connections kept per (location, mode).
pub const IDLE_CONNECTIONS: usize = 8;

/// Whether `location` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `location` with its password (in the user info or a `password=` parameter) replaced
/// by `***`: what messages may show.
pub fn redact(location: &str) -> String {
    let Some(start) = location.find("://").map(|i| i + 3) else {
        return location.to_owned();
    };
    let (head, rest) = location.split_at(start);
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{head}{authority}{tail}")
}

/// A parsed location: the libpq URL (Athar's own parameters taken out) and the schema.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Location {
    url: String,
    schema: String,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("url", &redact(&self.url))
            .field("schema", &self.schema)
            .finish()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (schema {})", redact(&self.url), self.schema)
    }
}

/// Whether `name` can be a schema name here: lowercase letters, digits and `_`, not
/// starting with a digit, at most 63 bytes (PostgreSQL's limit), and not a system one.
fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.starts_with("pg_")
        && name != "information_schema"
}

/// The password for `config` from outside `athar.toml`, as libpq finds it: `PGPASSWORD`,
/// else the first matching line of `PGPASSFILE` (default `~/.pgpass`; ignored unless only
/// its owner may read it), whose lines are `host:port:database:user:password` with `*` for
/// any and `\:` / `\\` escapes.
fn password_from_env(config: &postgres::Config) -> Option<String> {
    if let Some(pw) = std::env::var_os("PGPASSWORD") {
        return pw.into_string().ok();
    }
    let path = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        if std::fs::metadata(&path).ok()?.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or_default().to_owned();
    let user = config.get_user().unwrap_or_default().to_owned();
    pgpass_lookup(&text, [&host, &port, &db, &user])
}

/// The password of the first `.pgpass` line matching host, port, database and user.
fn pgpass_lookup(text: &str, want: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() == 5
            && fields[..4]
                .iter()
                .zip(want)
                .all(|(f, w)| f == "*" || f == w)
        {
            return fields.pop();
        }
    }
    None
}

/// Whether `location` holds a password (which must then not be written to `athar.toml`).
pub fn has_password(location: &str) -> bool {
    redact(location) != location
}

impl Location {
    /// Parses a `postgres://` or `postgresql://` location (see the crate's documentation).
    /// Errors never hold the password.
    pub fn parse(location: &str) -> Result<Location, String> {
        if !is_postgres(location) {
            return Err("expected postgres://user@host:port/database".to_owned());
        }
        let (base, query) = match location.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (location, None),
        };
        let mut schema = DEFAULT_SCHEMA.to_owned();
        let mut kept = Vec::new();
        for p in query.into_iter().flat_map(|q| q.split('&')) {
            match p.split_once('=') {
                Some(("schema", s)) => schema = s.to_owned(),
                _ if p.is_empty() => {}
                _ => kept.push(p),
            }
        }
        if !valid_schema(&schema) {
            return Err(format!(
                "schema {schema:?}: use lowercase letters, digits and _ (at most 63)"
            ));
        }
        let url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        postgres::Config::from_str(&url).map_err(|e| redact(&e.to_string()))?;
        Ok(Location { url, schema })
    }

    /// The same database, another schema.
    pub fn with_schema(&self, schema: &str) -> Result<Location, String> {
        if !valid_schema(schema) {
            return Err(format!("invalid schema name {schema:?}"));
        }
        Ok(Location {
            url: self.url.clone(),
            schema: schema.to_owned(),
        })
    }

    /// The schema the archive's tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A writable connection with TCP keepalives, so a dead peer is noticed within a minute.
    fn connect_kept_alive(&self) -> Result<Client, StoreError> {
        self.connect_with(true, true)
    }

    fn connect(&self, writable: bool) -> Result<Client, StoreError> {
        self.connect_with(writable, false)
    }

    fn connect_with(&self, writable: bool, keepalive: bool) -> Result<Client, StoreError> {
        let mut config = postgres::Config::from_str(&self.url)
            .map_err(|e| StoreError::Catalog(format!("{self}: {}", redact(&e.to_string()))))?;
        let mut options = format!("-c search_path={}", self.schema);
        if !writable {
            options.push_str(" -c default_transaction_read_only=on");
        }
        if let Some(o) = config.get_options() {
            options = format!("{o} {options}");
        }
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("athar");
        }
        if keepalive {
            config
                .keepalives(true)
                .keepalives_idle(std::time::Duration::from_secs(30))
                .keepalives_interval(std::time::Duration::from_secs(10))
                .keepalives_retries(3);
        }
        if config.get_password().is_none() {
            if let Some(pw) = password_from_env(&config) {
                config.password(pw);
            }
        }
        config
            .connect(NoTls)
            .map_err(|e| StoreError::Catalog(format!("{self}: {}", describe(&e))))
    }
}

/// What went wrong, in words: the server's message (with its detail and SQLSTATE) for a
/// database error, else the error and its causes. Never holds a location's password.
fn describe(e: &postgres::Error) -> String {
    let text = match e.as_db_error() {
        Some(d) => {
            let mut m = format!("{}: {} ({})", d.severity(), d.message(), d.code().code());
            if let Some(detail) = d.detail() {
                m.push_str(": ");
                m.push_str(detail);
            }
            m
        }
        None => {
            let mut m = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let c_text = c.to_string();
                if !m.contains(&c_text) {
                    m.push_str(": ");
                    m.push_str(&c_text);
                }
                cause = c.source();
            }
            m
        }
    };
    redact(&text)
}

pub(crate) fn db(e: postgres::Error) -> StoreError {
    StoreError::Catalog(describe(&e))
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("catalog holds an invalid {what}: {value:?}"))
}

/// Column `i` of `row`, a typed error (never a panic) when it does not fit.
pub(crate) fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(db)
}

/// An unsigned number for a BIGINT column.
pub(crate) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Idle connections of one (location, mode).
type Idle = Arc<Mutex<Vec<Client>>>;

fn pool(location: &Location, writable: bool) -> Idle {
    static POOLS: OnceLock<Mutex<HashMap<(Location, bool), Idle>>> = OnceLock::new();
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools.lock().unwrap_or_else(|p| p.into_inner());
    pools
        .entry((location.clone(), writable))
        .or_default()
        .clone()
}

/// A catalog in a PostgreSQL schema. One connection; see the crate's documentation.
pub struct PgCatalog {
    conn: RefCell<Option<Client>>,
    location: Location,
    /// Where the connection goes back when dropped (None: closed instead).
    idle: Option<Idle>,
    /// A scratch schema, dropped with the catalog.
    scratch: bool,
}

impl fmt::Debug for PgCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCatalog")
            .field("location", &self.location)
            .field("scratch", &self.scratch)
            .finish_non_exhaustive()
    }
}

impl PgCatalog {
    /// Opens the catalog at `location` (see [`Location::parse`]): read-write, creating the
    /// schema and running pending migrations; or read-only, refused when the schema is
    /// missing or migrations are pending.
    pub fn open(location: &str, writable: bool) -> Result<PgCatalog, StoreError> {
        let loc = Location::parse(location)
            .map_err(|e| StoreError::Catalog(format!("{}: {e}", redact(location))))?;
        PgCatalog::open_at(&loc, writable)
    }

    /// [`PgCatalog::open`] with a parsed location.
    pub fn open_at(location: &Location, writable: bool) -> Result<PgCatalog, StoreError> {
        let idle = pool(location, writable);
        let ready = |client: &mut Client| {
            if writable {
                migrate(client, location)
            } else {
                check_version(client, location)
            }
        };
        let pooled = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        // An idle connection the server has since closed fails its first statement: it is
        // dropped and a new one made.
        let reused =
            pooled.and_then(|mut c| (!c.is_closed() && ready(&mut c).is_ok()).then_some(c));
        let client = match reused {
            Some(c) => c,
            None => {
                let mut c = location.connect(writable)?;
                ready(&mut c)?;
                c
            }
        };
        Ok(PgCatalog {
            conn: RefCell::new(Some(client)),
            location: location.clone(),
            idle: Some(idle),
            scratch: false,
        })
    }

    /// A writable catalog in a new schema of its own (named from the process, a counter and
    /// random bits), dropped with everything in it when the catalog is dropped: for tests,
    /// which may then run in parallel against one database and leave nothing behind.
    pub fn scratch(location: &str) -> Result<PgCatalog, StoreError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = Location::parse(location)
            .map_err(|e| StoreError::Catalog(format!("{}: {e}", redact(location))))?;
        let mut rnd = [0u8; 4];
        getrandom::getrandom(&mut rnd)
            .map_err(|e| StoreError::Catalog(format!("no randomness for a schema name: {e}")))?;
        let name = format!(
            "athar_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            hex::encode(rnd)
        );
        let loc = base
            .with_schema(&name)
            .map_err(|e| StoreError::Catalog(format!("{}: {e}", redact(location))))?;
        let mut client = loc.connect(true)?;
        migrate(&mut client, &loc)?;
        Ok(PgCatalog {
            conn: RefCell::new(Some(client)),
            location: loc,
            idle: None,
            scratch: true,
        })
    }

    /// Whether the schema at `location` holds an Athar catalog (made by a writable
    /// opening, i.e. `athar init`). Connects once; writes nothing.
    pub fn exists(location: &Location) -> Result<bool, StoreError> {
        let mut client = location.connect(false)?;
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                                WHERE table_schema = $1 AND table_name = 'schema_migrations')",
                &[&location.schema],
            )
            .map_err(db)?;
        col(&row, 0)
    }

    /// Takes the archive's writer lock — a PostgreSQL session advisory lock named for the
    /// schema, held by a connection of its own until the returned guard is dropped (or
    /// its process dies: the server then releases it) — when no other process holds it.
    /// None, with who holds it in words, when another does. The lock is what keeps two
    /// writers on different machines from appending to one custody log at once.
    /// With `release_jobs`, jobs left running are released once the lock is taken (the
    /// holder is the only writer, so a running job was left by one that died).
    pub fn try_lock_writer(
        location: &Location,
        release_jobs: bool,
    ) -> Result<Result<WriterLock, String>, StoreError> {
        let mut c = location.connect_kept_alive()?;
        let who = format!(
            "athar writer pid {} on {}",
            std::process::id(),
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "?".to_owned())
        );
        c.batch_execute(&format!(
            "SET application_name = '{}'",
            who.replace('\'', "")
        ))
        .map_err(db)?;
        let got: bool = col(
            &c.query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&WRITER_LOCK_CLASS, &location.schema],
            )
            .map_err(db)?,
            0,
        )?;
        if got && release_jobs {
            // Jobs left running by a writer that died are free now: one writer at a time
            // runs jobs (as the embedded catalog's writer releases them on opening).
            c.execute(
                "UPDATE jobs SET lease_until = 0 WHERE state = 'running'",
                &[],
            )
            .map_err(db)?;
        }
        if got {
            return Ok(Ok(WriterLock { client: c }));
        }
        let holder = c
            .query_opt(
                "SELECT a.application_name, COALESCE(host(a.client_addr), 'local'), a.pid
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND l.classid = $1::oid AND l.objid = hashtext($2)::oid",
                &[&(WRITER_LOCK_CLASS as u32), &location.schema],
            )
            .ok()
            .flatten()
            .map(|r| {
                let app: String = r.try_get(0).unwrap_or_default();
                let addr: String = r.try_get(1).unwrap_or_default();
                let pid: i32 = r.try_get(2).unwrap_or_default();
                format!("{app} (PostgreSQL session {pid} from {addr})")
            })
            .unwrap_or_else(|| "another process".to_owned());
        Ok(Err(holder))
    }

    /// What `athar doctor` reports of the catalog at `location`, writing nothing: the
    /// server's version, the schema's migration against this build's, and whether the
    /// connecting role may write to it. An error when it cannot be reached.
    pub fn doctor(location: &Location) -> Result<String, StoreError> {
        let mut c = location.connect(false)?;
        let version: String = col(&c.query_one("SHOW server_version", &[]).map_err(db)?, 0)?;
        if !PgCatalog::exists(location)? {
            return Err(StoreError::Catalog(format!(
                "{location}: PostgreSQL {version} answers, but schema {:?} holds no Athar catalog",
                location.schema
            )));
        }
        let applied: i64 = col(
            &c.query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .map_err(db)?,
            0,
        )?;
        let writable: bool = col(
            &c.query_one(
                "SELECT has_table_privilege(current_user, format('%I.items', $1::text), 'INSERT')
                    AND has_table_privilege(current_user, format('%I.jobs', $1::text), 'UPDATE')",
                &[&location.schema],
            )
            .map_err(db)?,
            0,
        )?;
        let want = MIGRATIONS.len() as i64;
        let schema_state = match applied.cmp(&want) {
            std::cmp::Ordering::Equal => "current".to_owned(),
            std::cmp::Ordering::Less => {
                format!(
                    "{} migration(s) pending, run by the next writer",
                    want - applied
                )
            }
            std::cmp::Ordering::Greater => "newer than this build: upgrade Athar".to_owned(),
        };
        if applied > want {
            return Err(StoreError::Catalog(format!(
                "{location}: schema at migration {applied}, {schema_state}"
            )));
        }
        if !writable {
            return Err(StoreError::Catalog(format!(
                "{location}: the role may read but not write the catalog"
            )));
        }
        Ok(format!(
            "PostgreSQL {version}, schema {:?} at migration {applied} ({schema_state}), writable",
            location.schema
        ))
    }

    /// The location, without its password.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The connection, for `&self` methods (the traits read through `&self`; a client
    /// needs `&mut`). Never held across a call that borrows it again.
    pub(crate) fn conn(&self) -> Result<RefMut<'_, Client>, StoreError> {
        let guard = self
            .conn
            .try_borrow_mut()
            .map_err(|_| StoreError::Catalog("catalog connection already in use".into()))?;
        RefMut::filter_map(guard, Option::as_mut)
            .map_err(|_| StoreError::Catalog("catalog connection closed".into()))
    }

    /// The connection, for `&mut self` methods.
    pub(crate) fn conn_mut(&mut self) -> Result<&mut Client, StoreError> {
        self.conn
            .get_mut()
            .as_mut()
            .ok_or_else(|| StoreError::Catalog("catalog connection closed".into()))
    }
}

impl Drop for PgCatalog {
    fn drop(&mut self) {
        let Some(mut client) = self.conn.get_mut().take() else {
            return;
        };
        if self.scratch {
            // Best effort: a schema left behind by a crash is named after its process.
            let _ = client.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.location.schema
            ));
            return;
        }
        if let Some(idle) = &self.idle {
            if !client.is_closed() {
                let mut idle = idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < IDLE_CONNECTIONS {
                    idle.push(client);
                }
            }
        }
    }
}

/// The schema version recorded in the connection's schema; None when there is none.
fn version(client: &mut Client, schema: &str) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                            WHERE table_schema = $1 AND table_name = 'schema_migrations')",
            &[&schema],
        )
        .map_err(db)?;
    if !col::<bool>(&row, 0)? {
        return Ok(None);
    }
    let row = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(db)?;
    col(&row, 0).map(Some)
}

fn check_version(client: &mut Client, location: &Location) -> Result<(), StoreError> {
    match version(client, &location.schema)? {
        None => Err(StoreError::Catalog(format!(
            "{location}: no Athar catalog there (made by `athar init`)"
        ))),
        Some(v) if v as usize == MIGRATIONS.len() => Ok(()),
        Some(v) => Err(StoreError::Catalog(format!(
            "catalog schema version {v}, this build expects {}",
            MIGRATIONS.len()
        ))),
    }
}

/// Creates the schema and runs pending migrations, under the schema's advisory lock.
fn migrate(client: &mut Client, location: &Location) -> Result<(), StoreError> {
    // A session lock, keyed by the schema: held across the migrations' transactions.
    client
        .execute(
            "SELECT pg_advisory_lock(hashtextextended('athar-migrations:' || $1, 0))",
            &[&location.schema],
        )
        .map_err(db)?;
    let result = migrate_locked(client, location);
    let unlock = client
        .execute(
            "SELECT pg_advisory_unlock(hashtextextended('athar-migrations:' || $1, 0))",
            &[&location.schema],
        )
        .map_err(db);
    result.and(unlock.map(|_| ()))
}

fn migrate_locked(client: &mut Client, location: &Location) -> Result<(), StoreError> {
    let schema = &location.schema;
    // `valid_schema` keeps the name to [a-z0-9_]: safe to write into the statement.
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                 version     BIGINT PRIMARY KEY,
                 applied_at  TEXT NOT NULL
             );"
        ))
        .map_err(db)?;
    let current = version(client, schema)?.unwrap_or(0);
    let current =
        usize::try_from(current).map_err(|_| corrupt("schema version", &current.to_string()))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Catalog(format!(
            "catalog schema version {current} is newer than this build ({}); upgrade Athar",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let mut tx = client.transaction().map_err(db)?;
        tx.batch_execute(sql).map_err(db)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[&((i + 1) as i64), &athar_core::now_rfc3339()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.internal:5432:athar:athar:first\n\
                    *:*:*:reader:r\\:pw\\\\x\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, ["db.internal", "5432", "athar", "athar"]).as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_lookup(text, ["other", "5433", "x", "reader"]).as_deref(),
            Some("r:pw\\x")
        );
        assert_eq!(
            pgpass_lookup(text, ["db.internal", "5433", "athar", "athar"]).as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup("h:1:d:u:p\n", ["h", "2", "d", "u"]), None);
    }

    #[test]
    fn passwords_are_redacted() {
        for (given, shown) in [
            (
                "postgres://athar:s3cret@db.example:5432/archive",
                "postgres://athar:***@db.example:5432/archive",
            ),
            (
                "postgresql://athar:p%40ss@db/archive?sslmode=disable",
                "postgresql://athar:***@db/archive?sslmode=disable",
            ),
            (
                "postgres://athar@db/archive?password=s3cret&schema=a",
                "postgres://athar@db/archive?password=***&schema=a",
            ),
            ("postgres://db/archive", "postgres://db/archive"),
            (
                "postgres://u:pw@h?application_name=x",
                "postgres://u:***@h?application_name=x",
            ),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(given), shown, "{given}");
        }
    }

    #[test]
    fn locations_parse_with_their_schema() {
        let check = |given: &str, url: &str, schema: &str| {
            let loc = Location::parse(given).expect(given);
            assert_eq!((loc.url.as_str(), loc.schema()), (url, schema), "{given}");
        };
        check(
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://postgres@127.0.0.1:5432/test",
            DEFAULT_SCHEMA,
        );
        check(
            "postgresql://u@h/db?schema=case_a&connect_timeout=5",
            "postgresql://u@h/db?connect_timeout=5",
            "case_a",
        );
        check("postgres://u@h/db?schema=x1", "postgres://u@h/db", "x1");
        for bad in [
            "sqlite:catalog.sqlite",
            "postgres://u@h/db?schema=Upper",
            "postgres://u@h/db?schema=a;drop",
            "postgres://u@h/db?schema=pg_catalog",
            "postgres://u@h/db?schema=1a",
            "postgres://u:hunter2@h/db?nonsense=1",
        ] {
            let e = Location::parse(bad).expect_err(bad);
            assert!(!e.contains("hunter2"), "{e}");
        }
        let shown = format!(
            "{:?} {}",
            Location::parse("postgres://u:hunter2@h/db").expect("parse"),
            Location::parse("postgres://u:hunter2@h/db").expect("parse")
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
