//! Custody entries v2 end to end: the log's files confirm nothing about the content the
//! archive holds, while proofs (with their opening) and bags (with their salts) still let
//! a receiver check the bytes; archives logged with v1 entries keep verifying.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{json_lines, sha256_hex, tamper_sql, Env};

/// Every byte of every file under `dir`, as text (lossy).
fn all_text_under(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.push_str(&all_text_under(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn ingest_one(env: &Env, name: &str, body: &[u8]) -> (String, String) {
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let f = src.join(name);
    std::fs::write(&f, body).unwrap();
    let out = env.run_paths(&["ingest", "--json"], &[&f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = &json_lines(&out.stdout)[0];
    (line["item"].as_str().unwrap().to_owned(), sha256_hex(body))
}

#[test]
fn the_log_does_not_confirm_content_and_a_v2_proof_verifies_offline() {
    let env = Env::new();
    let body = b"synthetic clip bytes for the v2 log\n";
    let (item, sha) = ingest_one(&env, "clip.bin", body);
    env.assert_verifies();
    let log_text = all_text_under(&env.archive.join("log"));
    assert!(log_text.contains("athar.custody/v2"), "{log_text}");
    assert!(
        !log_text.contains(&sha),
        "the content's SHA-256 is in the log"
    );

    let proof = env.run(&["log", "proof", &item]);
    assert!(
        proof.status.success(),
        "{}",
        String::from_utf8_lossy(&proof.stderr)
    );
    let file = env.path("item.tlog-proof");
    std::fs::write(&file, &proof.stdout).unwrap();
    let vkey = std::fs::read_to_string(env.archive.join("keys/archive.vkey")).unwrap();
    let content = env.path("src/clip.bin");
    let verify = |proof: &std::path::Path, content: &std::path::Path| {
        std::process::Command::new(common::athar_bin())
            .args([
                "log",
                "verify-proof",
                "--json",
                proof.to_str().unwrap(),
                "--vkey",
                vkey.trim(),
                "--content",
                content.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let ok = verify(&file, &content);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["sha256"], sha.as_str());
    assert_eq!(v["content_checked"], true);

    // Other bytes, or a changed salt, do not verify.
    let other = env.path("other.bin");
    std::fs::write(&other, b"other synthetic bytes\n").unwrap();
    let bad = verify(&file, &other);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("not the content"));
    let text = String::from_utf8(proof.stdout.clone()).unwrap();
    let salt_line = text.lines().find(|l| l.starts_with("salt ")).unwrap();
    let flipped = format!(
        "salt {}{}",
        if salt_line.as_bytes()[5] == b'0' {
            '1'
        } else {
            '0'
        },
        &salt_line[6..]
    );
    let tampered = env.path("tampered.tlog-proof");
    std::fs::write(&tampered, text.replacen(salt_line, &flipped, 1)).unwrap();
    let bad = verify(&tampered, &content);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("does not open"));
}

#[test]
fn a_wrong_or_missing_salt_in_the_catalog_is_a_finding_naming_the_event() {
    let env = Env::new();
    ingest_one(&env, "a.bin", b"synthetic a\n");
    tamper_sql(
        &env,
        &format!(
            "UPDATE custody_events SET salt = '{}' WHERE seq = 1",
            "0".repeat(64)
        ),
    );
    let out = env.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("custody event #1") && text.contains("salt"),
        "{text}"
    );
    tamper_sql(&env, "UPDATE custody_events SET salt = NULL WHERE seq = 1");
    let out = env.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("custody event #1") && text.contains("no salt"),
        "{text}"
    );
}

#[test]
fn a_bag_verifies_and_detects_a_changed_payload() {
    let env = Env::new();
    let (item, _) = ingest_one(&env, "a.bin", b"synthetic bag payload\n");
    let bag = env.path("bag");
    let out = env.run(&["export", &item, "--copy", "--out", bag.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = std::fs::read_to_string(env.archive.join("keys/archive.vkey")).unwrap();
    let check = env.run(&["verify-bag", bag.to_str().unwrap(), "--vkey", vkey.trim()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let json = all_text_under(&bag.join("athar/items"));
    assert!(json.contains("\"salt\""), "item.json gives the salts");
    let payload = std::fs::read_dir(bag.join("data").join(&item))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&payload).unwrap();
    std::fs::write(&payload, b"synthetic bag payloaX\n").unwrap();
    let check = env.run(&["verify-bag", bag.to_str().unwrap(), "--vkey", vkey.trim()]);
    assert_eq!(check.status.code(), Some(1));
}

/// An archive whose events were logged as v1 (no salt: written through the same code path
/// with the log rebuilt from salt-less events) still verifies, proves and hands over.
#[test]
fn an_archive_of_v1_entries_still_verifies() {
    let env = Env::new();
    let (item, sha) = ingest_one(&env, "old.bin", b"synthetic old bytes\n");
    tamper_sql(
        &env,
        "UPDATE custody_events SET salt = NULL; INSERT OR IGNORE INTO unlogged SELECT seq FROM custody_events;",
    );
    std::fs::remove_dir_all(env.archive.join("log")).unwrap();
    std::fs::create_dir_all(env.archive.join("log/tile")).unwrap();
    // The next writer logs the queued (salt-less) events: as v1 entries.
    let (_, _) = ingest_one(&env, "new.bin", b"synthetic new bytes\n");
    let log_text = all_text_under(&env.archive.join("log"));
    assert!(
        log_text.contains("athar.custody/v1") && log_text.contains(&sha),
        "{log_text}"
    );
    assert!(log_text.contains("athar.custody/v2"), "new events are v2");
    env.assert_verifies();
    let proof = env.run(&["log", "proof", &item]);
    assert!(
        proof.status.success(),
        "{}",
        String::from_utf8_lossy(&proof.stderr)
    );
    assert!(
        proof.stdout.starts_with(b"c2sp.org/tlog-proof@v1\n"),
        "a plain tlog-proof"
    );
}
