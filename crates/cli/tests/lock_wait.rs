//! The CLI beside a running server: a writing command waits for the archive with a
//! message naming who holds it, and gives up with a clear error after its time limit;
//! commands that only read never wait.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::Env;

/// Runs `athar ARGS` with `ATHAR_LOCK_WAIT` set to `wait` seconds: its output, how long it
/// took, and its stderr as text.
fn timed(
    env: &Env,
    wait: &str,
    args: &[&std::ffi::OsStr],
) -> (std::process::Output, Duration, String) {
    let started = Instant::now();
    let out = env
        .cmd()
        .env("ATHAR_LOCK_WAIT", wait)
        .args(args)
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, took, err)
}

#[test]
fn a_write_while_the_server_runs_explains_itself_within_its_limit() {
    let env = Env::new();
    let file = env.path("statement.txt");
    std::fs::write(&file, b"a synthetic witness statement\n").unwrap();
    let served = env.serve();

    let (out, took, msg) = timed(&env, "2", &["ingest".as_ref(), file.as_os_str()]);
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
    let (listed, took, _) = timed(&env, "30", &["list".as_ref()]);
    assert!(listed.status.success());
    assert!(took < Duration::from_secs(10));

    // Once the server is gone, the same command goes through at once.
    drop(served);
    let (out, _, err) = timed(&env, "2", &["ingest".as_ref(), file.as_os_str()]);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("in use by"), "{err}");
    env.assert_verifies();
}

/// `athar search` and `athar verify` beside a running server: both answer at once, search
/// from an index of its own that catches up with what the catalog holds, verify read-only
/// and saying so, still finding tampering.
#[test]
fn search_and_verify_answer_at_once_while_the_server_runs() {
    let env = Env::new();
    let first = env.path("first statement.txt");
    std::fs::write(&first, b"a synthetic witness statement\n").unwrap();
    let out = env.run_paths(&["ingest"], &[&first]);
    assert!(out.status.success());
    // The shared index now reflects the first file only.
    assert!(env.run(&["search", "--json", "statement"]).status.success());
    let second = env.path("second testimony.txt");
    std::fs::write(&second, b"another synthetic statement\n").unwrap();
    let out = env.run_paths(&["ingest", "--json"], &[&second]);
    assert!(out.status.success());
    let second_id = common::first_item(&out.stdout);
    let index = env.archive.join("index/search");
    let shared_before = std::fs::read_to_string(index.join("athar-indexed-through")).unwrap();

    let served = env.serve();
    let quick = |args: &[&str]| {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        let (out, took, err) = timed(&env, "30", &args);
        assert!(took < Duration::from_secs(10), "{args:?} waited {took:?}");
        assert!(!err.contains("waiting up to"), "{args:?}: {err}");
        (out, err)
    };

    // Found, though the shared index has not seen it and the server holds the archive.
    let (out, err) = quick(&["search", "--json", "testimony"]);
    assert!(out.status.success(), "{err}");
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits["hits"][0]["id"], second_id.as_str(), "{hits}");
    // The server's index is left to the server; the private one is gone.
    assert_eq!(
        std::fs::read_to_string(index.join("athar-indexed-through")).unwrap(),
        shared_before
    );
    let left: Vec<_> = std::fs::read_dir(env.archive.join("index"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("search-private"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let (out, err) = quick(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("in use by athar serve"), "{err}");
    assert!(err.contains("verifying it read-only"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");

    // Read-only, it still finds an altered blob.
    let sha = common::sha256_hex(b"another synthetic statement\n");
    let blob = env.archive.join("blobs/sha256").join(&sha[0..2]).join(&sha);
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&blob, perms).unwrap();
    std::fs::write(&blob, b"another synthetic statemenT\n").unwrap();
    let (out, err) = quick(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.to_string().contains(&sha), "{report}");
    drop(served);
}
