//! The storage conformance suite (`athar_core::conformance`) run against the PostgreSQL
//! catalog and accounts, plus what only this backend has (migrations under a lock, the
//! read-only opening, connection reuse).
//!
//! The database is `ATHAR_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`).
//! Each instance lives in a schema of its own, dropped with it, so the tests run in
//! parallel and leave nothing behind. Without a reachable PostgreSQL the tests fail (they
//! never pass silently): `scripts/ensure-deps.sh` installs and starts one.

use std::sync::{Arc, Barrier};

use athar_core::accounts::{Accounts, Role};
use athar_core::{conformance, Catalog, StoreError};
use athar_pg::{Location, PgCatalog, MIGRATIONS};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("ATHAR_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A fresh catalog in its own schema; fails the test, saying what to do, when PostgreSQL
/// cannot be reached.
fn scratch() -> PgCatalog {
    let url = url();
    PgCatalog::scratch(&url).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at ATHAR_TEST_POSTGRES ({}) is not usable: {e}\n\
             Start one (scripts/ensure-deps.sh test installs and starts PostgreSQL on \
             127.0.0.1:5432) or set ATHAR_TEST_POSTGRES to a database these tests may \
             create schemas in.",
            athar_pg::redact(&url)
        )
    })
}

#[test]
fn postgres_catalog_conforms() {
    // Once before the suite, so an unreachable server fails here, once, with what to do.
    drop(scratch());
    conformance::catalog(&mut || Box::new(scratch()));
}

#[test]
fn postgres_accounts_conform() {
    drop(scratch());
    conformance::accounts(&mut || Box::new(scratch()));
}

#[test]
fn migrations_run_once_under_a_lock() {
    let base = Location::parse(&url()).expect("url");
    // A new schema named after a scratch one (hence unique), made by racing openings as
    // several processes starting at once would.
    let scratch = scratch();
    let schema = format!("{}_race", scratch.location().schema());
    drop(scratch);
    let loc = base.with_schema(&schema).expect("schema");
    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let loc = loc.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                PgCatalog::open_at(&loc, true).map(drop)
            })
        })
        .collect();
    let results: Vec<Result<(), StoreError>> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).expect("connect");
    let versions = c.query_one(
        &format!("SELECT COUNT(*), COUNT(DISTINCT version) FROM {schema}.schema_migrations"),
        &[],
    );
    let works = PgCatalog::open_at(&loc, false).and_then(|r| r.event_index());
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop");
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let versions = versions.expect("versions");
    let (rows, distinct): (i64, i64) = (versions.get(0), versions.get(1));
    assert_eq!((rows, distinct), (MIGRATIONS.len() as i64, rows));
    let (events, max) = works.expect("read-only opening of the migrated schema");
    assert!(events.is_empty() && max == 0);
}

#[test]
fn a_read_only_opening_refuses_writes_and_a_missing_schema() {
    let base = Location::parse(&url()).expect("url");
    let mut writer = scratch();
    let at = writer.location().clone();
    writer
        .add_user("amal", Role::Admin, "h", &[])
        .expect("write");
    let mut reader = PgCatalog::open_at(&at, false).expect("read-only");
    assert_eq!(reader.users().expect("users").len(), 1);
    let e = reader
        .add_user("basma", Role::Viewer, "h", &[])
        .expect_err("a reader writes");
    assert!(e.to_string().contains("read-only"), "{e}");
    // The connection is still usable after the refusal, and goes back to the pool.
    assert_eq!(reader.users().expect("users").len(), 1);
    drop(reader);
    let again = PgCatalog::open_at(&at, false).expect("pooled");
    assert_eq!(again.users().expect("users").len(), 1);
    drop(again);

    let missing = base
        .with_schema(&format!("{}_none", at.schema()))
        .expect("schema");
    assert!(!PgCatalog::exists(&missing).expect("exists"));
    let e = PgCatalog::open_at(&missing, false).expect_err("no schema");
    assert!(e.to_string().contains("athar init"), "{e}");
    // Reading did not make it.
    assert!(!PgCatalog::exists(&missing).expect("exists"));
    drop(writer);
    assert!(
        !PgCatalog::exists(&at).expect("exists"),
        "scratch schema left"
    );
}

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    let e = PgCatalog::open(
        "postgres://athar:hunter2@127.0.0.1:1/none?connect_timeout=2",
        true,
    )
    .expect_err("nothing listens on port 1");
    let e = e.to_string();
    assert!(e.contains("127.0.0.1:1"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

/// The server reads through catalogs on the blocking threads of its async runtime; the
/// synchronous client (which runs a runtime of its own) works there.
#[test]
fn works_from_blocking_threads_of_an_async_runtime() {
    let mut writer = scratch();
    writer
        .add_user("amal", Role::Admin, "h", &[])
        .expect("write");
    let at = writer.location().clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let names = rt.block_on(async move {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let at = at.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                let reader = PgCatalog::open_at(&at, false)?;
                reader.users()
            }));
        }
        let mut names = Vec::new();
        for t in tasks {
            let users = t.await.expect("task").expect("users");
            names.extend(users.into_iter().map(|u| u.name));
        }
        names
    });
    assert_eq!(names, vec!["amal"; 4]);
}

/// Several workers (each its own connection, as processes on other machines would have)
/// claiming at once get different jobs, every job exactly once; a job whose lease ran out
/// (its worker died) is claimed again by another, and the dead worker's claim can no
/// longer renew or finish it.
#[test]
fn workers_claim_each_job_once_and_take_over_one_whose_lease_ran_out() {
    use athar_core::{NewItem, Sha256, Sighting};
    let mut first = scratch();
    let loc = first.location().clone();
    let items: Vec<_> = (0..40u8)
        .map(|i| NewItem {
            sha256: Sha256([i; 32]),
            size: 1,
            media_type: "application/octet-stream".to_owned(),
            sighting: Sighting {
                original_name: format!("f{i}.bin"),
                original_path: format!("/evidence/f{i}.bin"),
                collector: "worker test".to_owned(),
                ..Sighting::default()
            },
            derived: None,
            at: "2026-01-01T00:00:00.000000Z".to_owned(),
        })
        .collect();
    let recorded = first.record(&items, None, 0).expect("items");
    let jobs: Vec<_> = recorded
        .iter()
        .map(|e| (e.item.id.clone(), "pdq".to_owned()))
        .collect();
    first.enqueue_jobs(&jobs).expect("enqueue");

    let workers = 4;
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let loc = loc.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = PgCatalog::open_at(&loc, true).expect("worker connection");
                barrier.wait();
                let mut done = Vec::new();
                while let Some(job) = c.claim_job(3).expect("claim") {
                    assert!(c.finish_job(&job, Ok(&[]), 3).expect("finish"));
                    done.push(job.id);
                }
                done
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("worker"))
        .collect();
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a job was claimed twice");
    assert_eq!(all.len(), 40, "every job ran");
    assert!(first
        .jobs()
        .expect("jobs")
        .iter()
        .all(|j| j.state == "done"));

    // A worker claims a job and dies; once its lease has run out another takes it over.
    first.requeue_jobs(&jobs[..1]).expect("requeue one job");
    let mut dead = PgCatalog::open_at(&loc, true).expect("connection");
    let held = dead.claim_job(3).expect("claim").expect("a job");
    let mut other = PgCatalog::open_at(&loc, true).expect("connection");
    assert_eq!(
        other.claim_job(3).expect("claim"),
        None,
        "held by its lease"
    );
    // A turn at the writer lock (a worker committing) frees no one's job.
    let turn = PgCatalog::try_lock_writer(&loc, false)
        .expect("lock")
        .expect("free");
    assert_eq!(
        other.claim_job(3).expect("claim"),
        None,
        "still held by its lease after another process's turn"
    );
    drop(turn);
    let mut admin = postgres::Client::connect(&url(), postgres::NoTls).expect("connect");
    admin
        .execute(
            &format!(
                "UPDATE {}.jobs SET lease_until = 1 WHERE id = $1",
                loc.schema()
            ),
            &[&i64::try_from(held.id).expect("id")],
        )
        .expect("expire the lease");
    let taken = other.claim_job(3).expect("claim").expect("taken over");
    assert_eq!((taken.id, taken.attempts), (held.id, 2));
    assert!(!dead.renew_job(&held).expect("renew"));
    assert!(!dead.finish_job(&held, Err("late"), 3).expect("finish"));
    assert!(other.finish_job(&taken, Ok(&[]), 3).expect("finish"));
    let job = first
        .jobs()
        .expect("jobs")
        .into_iter()
        .find(|j| j.id == held.id)
        .expect("the job");
    assert_eq!((job.state.as_str(), job.error), ("done", None));
}

/// The writer lock: one holder at a time; a holder whose connection ended learns it has
/// lost the lock (and another may take it) instead of writing on.
#[test]
fn the_writer_lock_has_one_holder_and_its_loss_is_noticed() {
    let scratch = scratch();
    let loc = scratch.location().clone();
    let mut first = PgCatalog::try_lock_writer(&loc, true)
        .expect("lock")
        .expect("free");
    first.check().expect("held");
    let holder = PgCatalog::try_lock_writer(&loc, true)
        .expect("lock")
        .expect_err("held by the first");
    assert!(holder.contains("athar writer pid"), "{holder}");
    // Its connection is cut (as a network failure or a server restart would).
    let mut admin = postgres::Client::connect(&url(), postgres::NoTls).expect("connect");
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name LIKE $1 AND pid <> pg_backend_pid()
               AND datname = current_database()",
            &[&format!("athar writer pid {} on %", std::process::id())],
        )
        .expect("terminate");
    let e = first.check().expect_err("the lock is gone");
    assert!(e.to_string().contains("writer lock"), "{e}");
    let mut second = PgCatalog::try_lock_writer(&loc, true)
        .expect("lock")
        .expect("free again");
    second.check().expect("held");
}
