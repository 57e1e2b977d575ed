//! The CLI beside a running server: a writing command waits for the archive with a
//! message naming who holds it, and gives up with a clear error after its time limit;
//! commands that only read never wait.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::Env;

#[test]
fn a_write_while_the_server_runs_explains_itself_within_its_limit() {
    let env = Env::new();
    let file = env.path("statement.txt");
    std::fs::write(&file, b"a synthetic witness statement\n").unwrap();
    let served = env.serve();

    let started = Instant::now();
    let out = env
        .cmd()
        .env("ATHAR_LOCK_WAIT", "2")
        .arg("ingest")
        .arg(&file)
        .output()
        .unwrap();
    let took = started.elapsed();
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(took >= Duration::from_secs(2), "gave up after {took:?}");
    assert!(took < Duration::from_secs(15), "waited {took:?}");
    // Told at once who holds it, then why it gave up.
    assert!(msg.contains("is in use by athar serve, process"), "{msg}");
    assert!(msg.contains("waiting up to 2 s"), "{msg}");
    assert!(msg.contains("did not let go within 2 s"), "{msg}");
    assert!(
        !msg.contains("statement.txt"),
        "names what was being preserved: {msg}"
    );

    // Reading never waits.
    let started = Instant::now();
    let listed = env
        .cmd()
        .env("ATHAR_LOCK_WAIT", "30")
        .arg("list")
        .output()
        .unwrap();
    assert!(listed.status.success());
    assert!(started.elapsed() < Duration::from_secs(10));

    // Once the server is gone, the same command goes through at once.
    drop(served);
    let out = env
        .cmd()
        .env("ATHAR_LOCK_WAIT", "2")
        .arg("ingest")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("in use by"));
    env.assert_verifies();
}
