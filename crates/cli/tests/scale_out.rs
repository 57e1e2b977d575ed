//! An archive on the scale-out backends — the catalog in PostgreSQL, the blobs and the
//! custody log in an S3 object store (a Garage server the test starts on loopback) — end to
//! end through the commands: init, ingest (a file large enough for a multipart upload),
//! list, cat, verify, a log proof checked offline, an export verified as a bag; `init`
//! refuses a prefix that already holds an archive's part; with the object store down an
//! ingest fails naming it and leaves nothing half-visible, and once it is back everything
//! acknowledged is there and `verify` passes.
//!
//! PostgreSQL: `ATHAR_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`);
//! Garage: `~/.cache/athar/garage/bin/garage` (or `ATHAR_GARAGE`). Both are installed and
//! started by `scripts/ensure-deps.sh test`; without them the test fails saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use athar_s3::garage::Garage;
use common::Env;
use serde_json::Value;

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_archive_on_postgres_and_s3_works_end_to_end() {
    let mut garage = Garage::start().unwrap_or_else(|e| {
        panic!("no Garage to test against ({e}); scripts/ensure-deps.sh test installs it")
    });
    // Every athar this test runs reaches the object store through these (the only test in
    // this binary, so setting them for the process is safe).
    for (k, v) in garage.env() {
        std::env::set_var(k, v);
    }
    let schema = common::PgSchema::new("scale");
    let blobs = garage.url("e2e/blobs");
    let log = garage.url("e2e/log");
    let env = Env::with_init(&[
        "--catalog",
        &schema.location(),
        "--blobs",
        &blobs,
        "--log",
        &log,
    ]);
    for part in ["catalog.sqlite", "blobs", "log"] {
        assert!(!env.archive.join(part).exists(), "{part} made locally");
    }

    // Ingest: a small file, a 12 MiB one (a multipart upload), and the small one again.
    let small = env.path("statement.txt");
    std::fs::write(&small, b"a synthetic witness statement").unwrap();
    let big = env.path("footage.bin");
    let mut bytes = vec![0u8; 12 << 20];
    let mut rng = common::Rng(20261207);
    rng.fill(&mut bytes);
    std::fs::write(&big, &bytes).unwrap();
    let ids = env.ingest_ids(&[&small, &big, &small]);
    assert_eq!(ids[0], ids[2]);
    assert_eq!(
        common::json_lines(&env.run(&["list", "--json"]).stdout).len(),
        2
    );
    assert_eq!(
        env.cat(&ids[1]).stdout,
        bytes,
        "the big file's bytes come back"
    );
    env.assert_verifies();

    // A proof of the item's custody event, checked with no archive.
    let proof = env.path("item.tlog-proof");
    let out = env.run(&["log", "proof", &ids[1]]);
    ok(&out, "log proof");
    std::fs::write(&proof, &out.stdout).unwrap();
    let vkey = String::from_utf8(env.run(&["log", "vkey"]).stdout).unwrap();
    let out = env.run(&[
        "log",
        "verify-proof",
        proof.to_str().unwrap(),
        "--vkey",
        vkey.trim(),
    ]);
    ok(&out, "verify-proof");

    // Hand-over: the bag's payload is copied out of the object store and verifies.
    let bag = env.path("bag");
    let out = env.run(&[
        "export",
        "--to",
        "Synthetic partner",
        "--purpose",
        "test",
        "--out",
        bag.to_str().unwrap(),
        &ids[0],
        &ids[1],
    ]);
    ok(&out, "export");
    let out = env.run(&["verify-bag", "--vkey", vkey.trim(), bag.to_str().unwrap()]);
    ok(&out, "verify-bag");

    // Another archive may not be made on the same prefixes.
    let other_schema = common::PgSchema::new("scale");
    let other = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::athar_bin())
        .arg("--archive")
        .arg(other.path().join("second"))
        .args([
            "init",
            "--catalog",
            &other_schema.location(),
            "--blobs",
            &blobs,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("blobs") && err.contains("already there"),
        "{err}"
    );

    // A second machine: a copy of the archive folder (configuration and keys) over the same
    // catalog, blobs and log. A server on each: they take the writer lock only to write, so
    // both run at once, a session opened on one is good on the other (sessions are in the
    // catalog), an ingest on the second machine goes in while both serve, and each sees
    // what the other stored; the log verifies from both.
    let copy = env.path("second-machine");
    assert!(std::process::Command::new("cp")
        .arg("-a")
        .arg(&env.archive)
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    common::without_second_factor(&env.archive);
    common::without_second_factor(&copy);
    env.add_user("admin", "admin", None, "a long synthetic passphrase");
    let first_node = env.serve();
    let second_node = common::Served::start(&copy);
    let (cookies, _) = common::session(&first_node.base, "admin", "a long synthetic passphrase");
    let listed = common::http(
        "GET",
        &format!("{}/api/items", second_node.base),
        &[("Cookie", &cookies)],
        None,
    );
    assert_eq!(
        listed.status, 200,
        "a session of the first node on the second: {}",
        listed.body
    );
    assert!(listed.body.contains(&ids[1]), "{}", listed.body);
    let from_copy = env.path("from-second-machine.txt");
    std::fs::write(&from_copy, b"a statement ingested on the second machine").unwrap();
    let on_copy = |args: &[&str], wait: &str| {
        std::process::Command::new(common::athar_bin())
            .arg("--archive")
            .arg(&copy)
            .env("ATHAR_LOCK_WAIT", wait)
            .args(args)
            .output()
            .unwrap()
    };
    let out = on_copy(&["ingest", "--json", from_copy.to_str().unwrap()], "10");
    ok(&out, "ingest on the second machine while both serve");
    let copied = common::json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = common::http(
        "GET",
        &format!(
            "{}/api/items/{copied}/content?purpose=test",
            first_node.base
        ),
        &[("Cookie", &cookies)],
        None,
    );
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.bytes, b"a statement ingested on the second machine");
    drop(second_node);
    drop(first_node);
    assert_eq!(
        env.cat(&copied).stdout,
        b"a statement ingested on the second machine",
        "the first machine reads what the second stored"
    );
    env.assert_verifies();
    ok(&on_copy(&["verify"], "10"), "verify on the second machine");

    // The doctor: every part answers.
    let out = env.run(&["doctor", "--json"]);
    let checks = common::json_lines(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{checks:?}");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    assert!(
        checks[1]["detail"].as_str().unwrap().contains("PostgreSQL"),
        "{checks:?}"
    );

    // The object store down: the doctor names the blobs and the log, the catalog still
    // answers; an ingest fails, and nothing of it is kept.
    garage.kill();
    let out = env.run(&["doctor", "--json"]);
    let checks = common::json_lines(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{checks:?}");
    let ok: Vec<(String, bool)> = checks
        .iter()
        .map(|c| (c["part"].as_str().unwrap().to_owned(), c["ok"] == true))
        .collect();
    assert_eq!(
        ok,
        [
            ("config".to_owned(), true),
            ("catalog".to_owned(), true),
            ("blobs".to_owned(), false),
            ("log".to_owned(), false)
        ],
        "{checks:?}"
    );
    let late = env.path("late.txt");
    std::fs::write(&late, b"a statement sent while the store was down").unwrap();
    let out = env.run(&["ingest", "--json", late.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "ingest with the store down succeeded"
    );
    assert!(
        common::json_lines(&out.stdout).is_empty(),
        "nothing is acknowledged: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    garage.restart().unwrap();
    let listed: Vec<Value> = common::json_lines(&env.run(&["list", "--json"]).stdout);
    assert_eq!(listed.len(), 3, "only what was acknowledged: {listed:?}");
    env.assert_verifies();
    // And ingest works again.
    let ids = env.ingest_ids(&[&late]);
    assert_eq!(
        env.cat(&ids[0]).stdout,
        b"a statement sent while the store was down"
    );
    env.assert_verifies();
}
