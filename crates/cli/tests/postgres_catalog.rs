//! An archive whose catalog is PostgreSQL (`athar init --catalog postgres://…`), end to end
//! through the commands and the server: ingest, list, show, cat, records and search,
//! `verify`, accounts and sign-in; `init` refuses a schema that already holds a catalog, and
//! the location's password is never written to `athar.toml` or printed.
//!
//! The database is `ATHAR_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test uses a schema of its own, dropped at the end. Without a reachable PostgreSQL
//! the test fails, naming what to do (`scripts/ensure-deps.sh test` starts one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{http, session, Env};
use serde_json::{json, Value};

/// `athar --archive ARCHIVE ARGS`, whatever its outcome.
fn athar(archive: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::athar_bin())
        .arg("--archive")
        .arg(archive)
        .env_remove("ATHAR_ARCHIVE")
        .args(args)
        .output()
        .expect("run athar")
}

#[test]
fn an_archive_with_a_postgres_catalog_works_end_to_end() {
    let schema = common::PgSchema::new("e2e");
    let env = Env::with_init(&["--catalog", &schema.location()]);
    let config = std::fs::read_to_string(env.archive.join("athar.toml")).unwrap();
    assert!(
        config.contains(&format!("schema={}", schema.name)),
        "{config}"
    );
    assert!(
        !env.archive.join("catalog.sqlite").exists(),
        "no embedded catalog is made beside it"
    );

    // Ingest, list, show, cat: the catalog rows are in PostgreSQL.
    let a = env.path("statement-a.txt");
    let b = env.path("statement-b.txt");
    std::fs::write(&a, b"a synthetic witness statement").unwrap();
    std::fs::write(&b, b"another synthetic statement").unwrap();
    let ids = env.ingest_ids(&[&a, &b, &a]);
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[2], "the same bytes are one item");
    let out = env.run(&["list", "--json"]);
    assert_eq!(common::json_lines(&out.stdout).len(), 2);
    let shown: Value =
        serde_json::from_slice(&env.run(&["show", "--json", &ids[0]]).stdout).unwrap();
    assert_eq!(shown["events"].as_array().unwrap().len(), 2, "{shown}");
    assert_eq!(env.cat(&ids[1]).stdout, b"another synthetic statement");
    let mut c = schema.client();
    let rows: i64 = c
        .query_one(&format!("SELECT count(*) FROM {}.items", schema.name), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 2, "the items are rows of the PostgreSQL catalog");

    // Records and search.
    let cases = env.path("cases.jsonl");
    std::fs::write(
        &cases,
        json!({"kind": "case", "case": "pg-case", "title": "Synthetic river crossing"}).to_string(),
    )
    .unwrap();
    assert!(env
        .run(&["records", "import", cases.to_str().unwrap()])
        .status
        .success());
    let found: Value =
        serde_json::from_slice(&env.run(&["search", "--json", "river crossing"]).stdout).unwrap();
    assert!(
        found["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "case"),
        "{found}"
    );
    env.assert_verifies();

    // Accounts and sessions live in the catalog: the server signs someone in.
    common::without_second_factor(&env.archive);
    env.add_user(
        "inv",
        "investigator",
        Some("pg-case"),
        "synthetic-password-123",
    );
    let served = env.serve();
    let (cookies, _) = session(&served.base, "inv", "synthetic-password-123");
    let r = http(
        "GET",
        &format!("{}/api/cases", served.base),
        &[("cookie", &cookies)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("pg-case"), "{}", r.body);
    // Another machine's copy of the archive folder (its configuration and keys): while the
    // server writes, it may not (the catalog's writer lock), and says who does. (Only
    // locking is shown here: this archive's blobs and log are local files; the scale-out
    // test shares them too.)
    let copy = env.path("second-machine");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(&env.archive)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::remove_file(copy.join("lock")).ok();
    let c = env.path("while-served.txt");
    std::fs::write(&c, b"a statement from the other machine").unwrap();
    let out = std::process::Command::new(common::athar_bin())
        .arg("--archive")
        .arg(&copy)
        .env("ATHAR_LOCK_WAIT", "1")
        .args(["ingest", c.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("athar writer pid"), "names the holder: {err}");
    drop(served);
    // Once the server is gone the lock is free: a writer gets it at once.
    let out = std::process::Command::new(common::athar_bin())
        .arg("--archive")
        .arg(&copy)
        .env("ATHAR_LOCK_WAIT", "1")
        .arg("list")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = env.ingest_ids(&[&c]);
    assert_eq!(ids.len(), 1);

    // Another archive may not be made on the same schema.
    let other = tempfile::tempdir().unwrap();
    let out = athar(
        &other.path().join("second"),
        &["init", "--catalog", &schema.location()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("catalog") && err.contains("already there"),
        "{err}"
    );
    assert!(!other.path().join("second").join("athar.toml").exists());
    env.assert_verifies();
}

#[test]
fn a_password_is_never_written_or_printed_and_nothing_is_made_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    for (location, says) in [
        // A password in the location would end up in athar.toml.
        ("postgres://athar:s3cret-pw@127.0.0.1:1/athar", "PGPASSWORD"),
        // Nobody answers.
        ("postgres://athar@127.0.0.1:1/athar", "127.0.0.1:1"),
    ] {
        let out = athar(&dir.path().join("a"), &["init", "--catalog", location]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("catalog") && err.contains(says), "{err}");
        assert!(!err.contains("s3cret-pw"), "{err}");
        assert!(!dir.path().join("a").exists(), "nothing made: {err}");
    }
    // An encrypted archive keeps its catalog embedded: refused before anything is made.
    let schema = common::PgSchema::new("enc");
    let out = std::process::Command::new(common::athar_bin())
        .arg("--archive")
        .arg(dir.path().join("a"))
        .env("ATHAR_PASSPHRASE", "a synthetic passphrase for the test")
        .args(["init", "--encrypt", "--catalog", &schema.location()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("SQLCipher"), "{err}");
    assert!(!dir.path().join("a").exists(), "nothing made: {err}");
    let made: bool = schema
        .client()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
            &[&schema.name],
        )
        .unwrap()
        .get(0);
    assert!(!made, "no schema made for a refused archive");
}

/// Documentation records tampered with in the catalog are reported by `verify` on a
/// PostgreSQL catalog (which reads them in bulk) exactly as on the embedded one: a changed
/// value, a flipped `deleted`, a row of another kind (unreadable), a row removed (its
/// events dangle); an untouched record is not named.
#[test]
fn tampered_records_are_reported_as_on_sqlite() {
    let schema = common::PgSchema::new("tamper");
    let pg = Env::with_init(&["--catalog", &schema.location()]);
    let pg_problems = tampered_problems(&pg, &|statements: &[String]| {
        let mut c = schema.client();
        let prefixed: Vec<String> = statements
            .iter()
            .map(|s| s.replace("{t}", &format!("{}.", schema.name)))
            .collect();
        c.batch_execute(&prefixed.join(";\n")).expect("tamper");
    });
    let sqlite = Env::new();
    let sqlite_problems = tampered_problems(&sqlite, &|statements: &[String]| {
        let plain: Vec<String> = statements.iter().map(|s| s.replace("{t}", "")).collect();
        common::tamper_sql(&sqlite, &plain.join(";\n"));
    });
    let kinds: Vec<(&str, &str)> = pg_problems
        .iter()
        .map(|(k, item, _)| (k.as_str(), item.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("dangling_event", "D"),
            ("record_altered", "A"),
            ("record_altered", "B"),
            ("record_altered", "C"),
        ],
        "{pg_problems:?}"
    );
    assert_eq!(pg_problems, sqlite_problems);
}

/// Adds persons A to E to a case of `env`, tampers with A to D through `tamper` (SQL
/// statements naming tables as `{t}records`), and returns verify's problems as (kind,
/// record, detail) with ids named by letter and digests as `<sha>`.
fn tampered_problems(env: &Env, tamper: &dyn Fn(&[String])) -> Vec<(String, String, String)> {
    assert!(env.run(&["case", "add", "c"]).status.success());
    let mut ids = Vec::new();
    for name in ["Alpha", "Bravo", "Charlie", "Delta", "Echo"] {
        let out = env.run(&[
            "person",
            "add",
            "--case",
            "c",
            "--name",
            &format!("Synthetic {name}"),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    env.assert_verifies();
    tamper(&[
        "UPDATE {t}record_values SET body = replace(body, 'Synthetic Alpha', 'Someone Else')"
            .to_owned(),
        format!(
            "UPDATE {{t}}records SET deleted = NOT deleted WHERE id = '{}'",
            ids[1]
        ),
        format!(
            "UPDATE {{t}}records SET kind = 'incident' WHERE id = '{}'",
            ids[2]
        ),
        format!("DELETE FROM {{t}}records WHERE id = '{}'", ids[3]),
    ]);
    let (code, v) = env.verify();
    assert_eq!(code, 1, "{v}");
    let name = |s: &str| {
        let mut s = s.to_owned();
        for (id, letter) in ids.iter().zip(["A", "B", "C", "D", "E"]) {
            s = s.replace(id.as_str(), letter);
        }
        without_digests(&s)
    };
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_owned(),
                name(p["item"].as_str().unwrap_or("")),
                name(p["detail"].as_str().unwrap()),
            )
        })
        .collect()
}

/// `s` with every run of 64 hex digits (a digest, which differs between archives) as `<sha>`.
fn without_digests(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for ch in s.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_hexdigit() {
            run.push(ch);
            continue;
        }
        if run.len() == 64 {
            out.push_str("<sha>");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(ch);
    }
    out.pop();
    out
}
