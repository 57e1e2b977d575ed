//! RFC 3161 trusted time over the custody log's checkpoints, against a real local TSA
//! (`openssl ts -reply` behind a tiny HTTP server started by the test).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use athar_timestamp::testing::{LocalTsa, Mode};
use common::Env;

fn configure(env: &Env, tsa: &LocalTsa) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.archive.join("athar.toml"))
        .unwrap();
    writeln!(
        f,
        "\n[[timestamp.tsa]]\nurl = \"{}\"\nca_file = \"{}\"",
        tsa.url(),
        tsa.ca_file().display()
    )
    .unwrap();
}

fn ingest_some(env: &Env, name: &str, seed: u64) {
    let src = env.path(name);
    common::make_files(&src, 4, 2000, seed);
    assert!(env.run_paths(&["ingest"], &[&src]).status.success());
}

#[test]
fn tokens_over_checkpoints_are_stored_and_verified() {
    let Some(tsa) = LocalTsa::start() else { return };
    let env = Env::new();
    // Nothing configured: a clear input error.
    let out = env.run(&["timestamp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no time-stamping authority configured"));

    configure(&env, &tsa);
    ingest_some(&env, "a", 1);
    let out = env.run(&["timestamp", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signature_verified"], true, "{v}");
    assert_eq!(v["log_size"], 4);
    ingest_some(&env, "b", 2);
    assert!(env.run(&["timestamp"]).status.success());
    let (code, v) = env.verify();
    assert_eq!(code, 0, "{v}");
    let stamps = v["timestamps"].as_array().unwrap();
    assert_eq!(stamps.len(), 2, "{v}");
    assert!(
        stamps
            .iter()
            .all(|s| s["token"].as_str().unwrap().contains("signature verified")),
        "{v}"
    );

    // A token altered.
    let dir = env.archive.join("log/timestamps/4");
    let token = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tsr"))
        .unwrap();
    let original = std::fs::read(&token).unwrap();
    let mut perm = std::fs::metadata(&token).unwrap().permissions();
    perm.set_mode(0o644);
    std::fs::set_permissions(&token, perm.clone()).unwrap();
    // The last bytes are the authority's signature value.
    let mut bad = original.clone();
    let at = bad.len() - 3;
    bad[at] ^= 0x01;
    std::fs::write(&token, &bad).unwrap();
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "timestamp"),
        "{v}"
    );
    std::fs::write(&token, &original).unwrap();
    env.assert_verifies();

    // The time-stamped checkpoint replaced by the later one: no longer what was stamped.
    let cp = dir.join("checkpoint");
    std::fs::set_permissions(&cp, perm).unwrap();
    let later = std::fs::read(env.archive.join("log/checkpoint")).unwrap();
    std::fs::write(&cp, later).unwrap();
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    assert!(v.to_string().contains("timestamps/4"), "{v}");
}

#[test]
fn refusing_or_unreachable_authority_is_reported() {
    let Some(tsa) = LocalTsa::start() else { return };
    let env = Env::new();
    configure(&env, &tsa);
    ingest_some(&env, "a", 3);
    tsa.set_mode(Mode::Reject);
    let out = env.run(&["timestamp"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(tsa.url()) && err.contains("refused"), "{err}");
    // Nothing half-stored: verify still passes (a stamped checkpoint with no token is fine).
    env.assert_verifies();
}

#[test]
fn bags_carry_tokens_that_the_receiver_checks() {
    let Some(tsa) = LocalTsa::start() else { return };
    let Some(stranger) = LocalTsa::start() else {
        return;
    };
    let env = Env::new();
    configure(&env, &tsa);
    let src = env.path("clips");
    common::make_files(&src, 3, 3000, 9);
    assert!(env
        .run_paths(&["ingest", "--case", "C"], &[&src])
        .status
        .success());
    assert!(env.run(&["timestamp"]).status.success());
    let bag = env.path("bag");
    assert!(env
        .run(&["export", "--case", "C", "--out", bag.to_str().unwrap()])
        .status
        .success());
    let vkey = env.archive.join("keys/archive.vkey");
    let check = |ca: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(common::athar_bin());
        c.args([
            "--archive",
            "/nonexistent",
            "verify-bag",
            "--json",
            "--vkey",
            vkey.to_str().unwrap(),
        ]);
        if let Some(ca) = ca {
            c.arg("--tsa-ca").arg(ca);
        }
        let out = c.arg(&bag).output().unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        )
    };
    let (code, v) = check(Some(&tsa.ca_file()));
    assert_eq!(code, Some(0), "{v}");
    let stamps = v["timestamps"].as_array().unwrap();
    assert_eq!(stamps.len(), 1, "{v}");
    assert_eq!(stamps[0]["log_size"], 3);
    assert!(
        stamps[0]["detail"]
            .as_str()
            .unwrap()
            .contains("signature verified"),
        "{v}"
    );
    // Without the authority's CA the signature is said to be unchecked, never verified.
    let (code, v) = check(None);
    assert_eq!(code, Some(0));
    assert!(
        v["timestamps"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("NOT checked"),
        "{v}"
    );
    // Another authority's CA: the token does not verify, and the bag is not verified.
    let (code, v) = check(Some(&stranger.ca_file()));
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["timestamps"][0]["ok"], false);
}

#[test]
fn a_bag_carries_the_first_time_stamp_after_its_last_event() {
    let Some(tsa) = LocalTsa::start() else { return };
    let env = Env::new();
    configure(&env, &tsa);
    let src = env.path("clips");
    let files = common::make_files(&src, 3, 3000, 21);
    assert!(env
        .run_paths(&["ingest", "--case", "C"], &[&src])
        .status
        .success());
    // Stamps at 3 (covers the case), then at 7 and 11 after unrelated ingests.
    assert!(env.run(&["timestamp"]).status.success());
    ingest_some(&env, "other", 22);
    assert!(env.run(&["timestamp"]).status.success());
    ingest_some(&env, "more", 23);
    assert!(env.run(&["timestamp"]).status.success());
    // A new event for the case's items after the first two stamps: the bag is pinned at
    // 12 and the stamp at 3 is before it; none after it yet.
    let again = env.path("again");
    std::fs::create_dir_all(&again).unwrap();
    std::fs::copy(&files[0], again.join("copy.bin")).unwrap();
    assert!(env.run_paths(&["ingest"], &[&again]).status.success());
    let stamped = |bag: &std::path::Path| -> Vec<u64> {
        let out = env.run(&[
            "verify-bag",
            "--json",
            "--vkey",
            env.archive.join("keys/archive.vkey").to_str().unwrap(),
            "--tsa-ca",
            tsa.ca_file().to_str().unwrap(),
            bag.to_str().unwrap(),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{v}");
        assert!(v["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["ok"] == true));
        v["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["log_size"].as_u64().unwrap())
            .collect()
    };
    let bag = env.path("bag");
    let export = |bag: &std::path::Path| {
        let out = env.run(&[
            "export",
            "--json",
            "--case",
            "C",
            "--out",
            bag.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["log_size"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(export(&bag), 12);
    assert_eq!(stamped(&bag), [3, 7, 11]);
    // A stamp after the bag's last event: the next bag of the same items carries it, with
    // a consistency proof from the bag's checkpoint to the stamped one (not the ones after).
    assert!(env.run(&["timestamp"]).status.success());
    ingest_some(&env, "last", 24);
    assert!(env.run(&["timestamp"]).status.success());
    let bag2 = env.path("bag-2");
    assert_eq!(export(&bag2), 12);
    assert_eq!(stamped(&bag2), [3, 7, 11, 15]);
    // A forged consistency proof for it is caught.
    let p = bag2.join("athar/timestamps/15/consistency");
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    perm.set_mode(0o644);
    std::fs::set_permissions(&p, perm).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let c = if text.starts_with('A') { "B" } else { "A" };
    std::fs::write(&p, format!("{c}{}", &text[1..])).unwrap();
    let out = env.run(&[
        "verify-bag",
        "--json",
        "--vkey",
        env.archive.join("keys/archive.vkey").to_str().unwrap(),
        bag2.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<&serde_json::Value> = v["timestamps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["ok"] == false)
        .collect();
    assert_eq!(bad.len(), 1, "{v}");
    assert_eq!(bad[0]["log_size"], 15, "{v}");
    assert!(
        bad[0]["file"].as_str().unwrap().ends_with("/consistency"),
        "{v}"
    );
}
