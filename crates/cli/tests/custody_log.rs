//! The custody log end to end: proofs verified offline, consistency with older
//! checkpoints, and tampering with every kind of stored artefact detected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json_lines, Env};

/// An archive with `files` small files ingested twice (so 2 × files events).
fn archive_with_events(files: usize) -> (Env, Vec<serde_json::Value>) {
    let env = Env::new();
    let src = env.path("src");
    common::make_files(&src, files, 4000, 5);
    let first = env.run_paths(&["ingest", "--json"], &[&src]);
    assert!(first.status.success());
    let again = env.run_paths(&["ingest", "--json", "--source", "second copy"], &[&src]);
    assert!(again.status.success());
    let mut lines = json_lines(&first.stdout);
    lines.extend(json_lines(&again.stdout));
    env.assert_verifies();
    (env, lines)
}

fn athar_bare(args: &[&str]) -> std::process::Output {
    Command::new(common::athar_bin())
        .arg("--archive")
        .arg("/nonexistent/archive")
        .args(args)
        .output()
        .unwrap()
}

fn log_file(env: &Env, rel: &str) -> PathBuf {
    env.archive.join("log").join(rel)
}

fn writable(p: &Path) {
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    perm.set_mode(0o644);
    std::fs::set_permissions(p, perm).unwrap();
}

fn problem_kinds(v: &serde_json::Value) -> Vec<String> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_problem(env: &Env, kind: &str) -> serde_json::Value {
    let (code, v) = env.verify();
    assert_eq!(code, 1, "verify should fail with {kind}: {v}");
    assert!(
        problem_kinds(&v).iter().any(|k| k == kind),
        "expected {kind} in {v}"
    );
    v
}

#[test]
fn proofs_verify_offline_and_tampering_is_caught() {
    let (env, lines) = archive_with_events(20);
    let vkey_file = env.archive.join("keys/archive.vkey");
    let vkey = std::fs::read_to_string(&vkey_file)
        .unwrap()
        .trim()
        .to_owned();
    let out = env.run(&["log", "vkey"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), vkey);
    let item = lines[3]["item"].as_str().unwrap();
    let sha = lines[3]["sha256"].as_str().unwrap();
    let show: serde_json::Value =
        serde_json::from_slice(&env.run(&["show", "--json", item]).stdout).unwrap();
    let first_seq = show["events"][0]["seq"].as_u64().unwrap();

    for event in [None, Some(first_seq)] {
        let mut args = vec!["log", "proof", item];
        let seq_text;
        if let Some(s) = event {
            seq_text = s.to_string();
            args.extend(["--event", &seq_text]);
        }
        let proof = env.run(&args);
        assert!(
            proof.status.success(),
            "{}",
            String::from_utf8_lossy(&proof.stderr)
        );
        let file = env.path("item.tlog-proof");
        std::fs::write(&file, &proof.stdout).unwrap();
        // With no archive at all: the vkey as text and as a file.
        for key in [vkey.as_str(), vkey_file.to_str().unwrap()] {
            let ok = athar_bare(&[
                "log",
                "verify-proof",
                "--json",
                file.to_str().unwrap(),
                "--vkey",
                key,
            ]);
            assert_eq!(
                ok.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&ok.stdout)
            );
            let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
            assert_eq!(v["item"], item);
            assert_eq!(v["sha256"], sha);
            if let Some(s) = event {
                assert_eq!(v["index"].as_u64().unwrap(), s - 1);
                assert_eq!(v["event"], "ingest");
            } else {
                assert_eq!(v["event"], "sighting");
                assert_eq!(v["prev"].as_u64().unwrap(), first_seq - 1);
            }
        }
    }

    // Tampered proofs are rejected, each for its reason.
    let good = env.run(&["log", "proof", item]).stdout;
    let text = String::from_utf8(good).unwrap();
    let lines_of: Vec<&str> = text.lines().collect();
    let check_bad = |name: &str, body: String, reason: &str| {
        let f = env.path(name);
        std::fs::write(&f, body).unwrap();
        let out = athar_bare(&["log", "verify-proof", f.to_str().unwrap(), "--vkey", &vkey]);
        assert_eq!(out.status.code(), Some(1), "{name} accepted");
        let msg = String::from_utf8_lossy(&out.stdout);
        assert!(msg.contains(reason), "{name}: {msg} (expected {reason:?})");
    };
    // A proof hash changed.
    let proof_line = lines_of
        .iter()
        .position(|l| l.starts_with("index "))
        .unwrap()
        + 1;
    let mut changed = lines_of.clone();
    let flipped = if changed[proof_line].starts_with('A') {
        "B"
    } else {
        "A"
    }
    .to_owned()
        + &changed[proof_line][1..];
    changed[proof_line] = &flipped;
    check_bad("hash.tlog-proof", changed.join("\n") + "\n", "inclusion");
    // The entry (extra) swapped for another item's entry.
    let other = String::from_utf8(
        env.run(&["log", "proof", lines[5]["item"].as_str().unwrap()])
            .stdout,
    )
    .unwrap();
    let other_extra = other.lines().find(|l| l.starts_with("extra ")).unwrap();
    let mut swapped = lines_of.clone();
    let extra_line = lines_of
        .iter()
        .position(|l| l.starts_with("extra "))
        .unwrap();
    swapped[extra_line] = other_extra;
    check_bad("extra.tlog-proof", swapped.join("\n") + "\n", "inclusion");
    // A different archive's key.
    let stranger = Env::new();
    let stranger_vkey =
        std::fs::read_to_string(stranger.archive.join("keys/archive.vkey")).unwrap();
    let f = env.path("item.tlog-proof");
    std::fs::write(&f, &text).unwrap();
    let out = athar_bare(&[
        "log",
        "verify-proof",
        f.to_str().unwrap(),
        "--vkey",
        stranger_vkey.trim(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    // Garbage is a failed check, not a crash.
    check_bad(
        "garbage.tlog-proof",
        "c2sp.org/tlog-proof@v1\nindex x\n".to_owned(),
        "not a valid tlog-proof",
    );
    // A bad key is an input error.
    let out = athar_bare(&[
        "log",
        "verify-proof",
        f.to_str().unwrap(),
        "--vkey",
        "not-a-key",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn consistency_with_older_checkpoints() {
    let (env, _) = archive_with_events(10);
    let old = env.path("old-checkpoint");
    std::fs::write(&old, env.run(&["log", "checkpoint"]).stdout).unwrap();
    let more = env.path("more");
    common::make_files(&more, 300, 1000, 77);
    assert!(env.run_paths(&["ingest"], &[&more]).status.success());
    let out = env.run(&["log", "consistency", "--json", old.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["old_size"], 20);
    assert_eq!(v["new_size"], 320);
    assert!(!v["proof"].as_array().unwrap().is_empty());
    // An edited checkpoint fails its signature; another archive's checkpoint too.
    let text = std::fs::read_to_string(&old)
        .unwrap()
        .replacen("\n20\n", "\n19\n", 1);
    let forged = env.path("forged-checkpoint");
    std::fs::write(&forged, text).unwrap();
    let out = env.run(&["log", "consistency", forged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stranger = Env::new();
    let theirs = env.path("their-checkpoint");
    std::fs::write(&theirs, stranger.run(&["log", "checkpoint"]).stdout).unwrap();
    assert_eq!(
        env.run(&["log", "consistency", theirs.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    env.assert_verifies();
}

#[test]
fn altered_entry_bundle_is_detected() {
    let (env, _) = archive_with_events(150); // 300 events: one full tile, one partial
    let p = log_file(&env, "tile/entries/000");
    writable(&p);
    let mut b = std::fs::read(&p).unwrap();
    // Change a character inside the first entry's item id line.
    let pos = b.windows(5).position(|w| w == b"item ").unwrap() + 6;
    b[pos] = if b[pos] == b'A' { b'B' } else { b'A' };
    std::fs::write(&p, b).unwrap();
    let v = assert_problem(&env, "log_tile");
    let kinds = problem_kinds(&v);
    assert!(kinds.contains(&"log_root".to_owned()), "{v}");
    assert!(kinds.contains(&"log_mismatch".to_owned()), "{v}");
}

#[test]
fn reordered_entries_are_detected() {
    let (env, _) = archive_with_events(40);
    let size = 80;
    let p = log_file(&env, &format!("tile/entries/000.p/{size}"));
    writable(&p);
    let data = std::fs::read(&p).unwrap();
    // Decode, swap two entries, re-encode: every entry stays well-formed.
    let mut entries = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let n = u16::from_be_bytes([data[i], data[i + 1]]) as usize;
        entries.push(data[i + 2..i + 2 + n].to_vec());
        i += 2 + n;
    }
    entries.swap(3, 4);
    let mut out = Vec::new();
    for e in &entries {
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    std::fs::write(&p, out).unwrap();
    let v = assert_problem(&env, "log_root");
    assert!(
        problem_kinds(&v).contains(&"log_mismatch".to_owned()),
        "{v}"
    );
}

#[test]
fn altered_or_removed_hash_tile_is_detected() {
    let (env, _) = archive_with_events(150);
    let p = log_file(&env, "tile/0/000");
    writable(&p);
    let mut b = std::fs::read(&p).unwrap();
    b[100] ^= 0xff;
    std::fs::write(&p, b).unwrap();
    let v = assert_problem(&env, "log_tile");
    assert!(v.to_string().contains("tile/0/000 was altered"), "{v}");
    std::fs::remove_file(log_file(&env, "tile/0/001.p/44")).unwrap();
    let v = assert_problem(&env, "log_tile");
    assert!(v.to_string().contains("tile/0/001.p/44 is missing"), "{v}");
}

#[test]
fn foreign_or_edited_checkpoint_is_detected() {
    let (env, _) = archive_with_events(5);
    let cp = log_file(&env, "checkpoint");
    let original = std::fs::read(&cp).unwrap();
    writable(&cp);
    // Edited size: the signature no longer verifies.
    std::fs::write(
        &cp,
        String::from_utf8_lossy(&original)
            .replacen("\n10\n", "\n9\n", 1)
            .as_bytes(),
    )
    .unwrap();
    assert_problem(&env, "log_checkpoint");
    // Another archive's (validly signed) checkpoint.
    let stranger = Env::new();
    std::fs::write(
        &cp,
        std::fs::read(log_file(&stranger, "checkpoint")).unwrap(),
    )
    .unwrap();
    assert_problem(&env, "log_checkpoint");
    std::fs::write(&cp, &original).unwrap();
    env.assert_verifies();
}

use common::tamper_sql as sql;

#[test]
fn catalog_edits_disagree_with_the_log() {
    let (env, lines) = archive_with_events(5);
    let item = lines[2]["item"].as_str().unwrap();
    // Rewriting who supplied a copy (the detail record) changes its hash.
    sql(&env, &format!("UPDATE custody_events SET sighting = replace(sighting, 'second copy', 'other source') WHERE item_id = '{item}'"));
    let v = assert_problem(&env, "log_mismatch");
    assert!(v.to_string().contains(item), "{v}");
}

#[test]
fn catalog_event_not_in_the_log_is_reported() {
    let (env, lines) = archive_with_events(5);
    let item = lines[0]["item"].as_str().unwrap();
    sql(&env, &format!(
        "INSERT INTO custody_events (item_id, kind, at, actor, sighting) SELECT item_id, kind, at, actor, sighting FROM custody_events WHERE item_id = '{item}' LIMIT 1"
    ));
    let v = assert_problem(&env, "unlogged");
    assert!(v.to_string().contains("#11"), "{v}");
    // Later writers refuse to log an event that was never queued.
    let f = env.path("new.txt");
    std::fs::write(&f, "new synthetic note").unwrap();
    let out = env.run_paths(&["ingest"], &[&f]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never queued"));
}

#[test]
fn access_to_content_is_a_logged_custody_event() {
    let (env, lines) = archive_with_events(3);
    let item = lines[1]["item"].as_str().unwrap();
    let out = env.run(&["cat", "--purpose", "review for case file 7", item]);
    assert!(out.status.success());
    let show: serde_json::Value =
        serde_json::from_slice(&env.run(&["show", "--json", item]).stdout).unwrap();
    let events = show["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "access");
    assert_eq!(last["details"]["via"], "athar cat");
    assert_eq!(last["details"]["purpose"], "review for case file 7");
    assert_eq!(last["actor"], "Test Investigator");
    // It is in the log, with a proof that names it.
    let proof = env.run(&["log", "proof", item]);
    let f = env.path("access.tlog-proof");
    std::fs::write(&f, &proof.stdout).unwrap();
    let vkey = env.archive.join("keys/archive.vkey");
    let ok = env.run(&[
        "log",
        "verify-proof",
        "--json",
        f.to_str().unwrap(),
        "--vkey",
        vkey.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["event"], "access");
    assert_eq!(
        v["index"].as_u64().unwrap(),
        last["seq"].as_u64().unwrap() - 1
    );
    env.assert_verifies();
    // Rewriting the recorded purpose afterwards is caught.
    sql(&env, "UPDATE custody_events SET sighting = replace(sighting, 'case file 7', 'case file 8') WHERE kind = 'access'");
    assert_problem(&env, "log_mismatch");
}

/// Issue #22: an older, validly signed checkpoint put back in place of the current one is
/// tampering. `verify` reports it (exit 1) naming both sizes and never re-signs over it;
/// recovery and ingest refuse to build on it; `log consistency` with the checkpoint held
/// before answers 1. Caught both from `log/signed-size` and, when that is rolled back too,
/// from the catalog's events already dequeued as logged.
#[test]
fn rolled_back_checkpoint_is_tampering() {
    let (env, _) = archive_with_events(5);
    let cp = log_file(&env, "checkpoint");
    let signed = log_file(&env, "signed-size");
    let (cp10, signed10) = (std::fs::read(&cp).unwrap(), std::fs::read(&signed).unwrap());
    let more = env.path("more");
    common::make_files(&more, 3, 1000, 78);
    assert!(env.run_paths(&["ingest"], &[&more]).status.success());
    let cp13 = std::fs::read(&cp).unwrap();
    let held = env.path("held-checkpoint");
    std::fs::write(&held, &cp13).unwrap();
    let consistency = |env: &Env| {
        let out = env.run(&["log", "consistency", held.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains(
                "the log is smaller than the checkpoint you hold: it was rolled back or replaced"
            ),
            "{stdout}"
        );
    };

    // Only the checkpoint put back: the three new events are still queued for the log.
    writable(&cp);
    std::fs::write(&cp, &cp10).unwrap();
    let v = assert_problem(&env, "log_rolled_back");
    assert!(
        v.to_string()
            .contains("covers 10 events, but a checkpoint of 13 events was signed before"),
        "{v}"
    );
    assert_eq!(
        std::fs::read(&cp).unwrap(),
        cp10,
        "verify re-signed the log"
    );
    consistency(&env);
    let note = env.path("note.txt");
    std::fs::write(&note, "a note written after the rollback").unwrap();
    let out = env.run_paths(&["ingest"], &[&note]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rolled back"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&cp).unwrap(),
        cp10,
        "ingest re-signed the log"
    );
    // Putting the newer checkpoint back makes the archive whole again.
    std::fs::write(&cp, &cp13).unwrap();
    env.assert_verifies();

    // The whole log state rolled back (checkpoint and signed size) after the events beyond
    // it left the catalog's queue: the catalog still knows they were logged.
    let later = env.path("later");
    common::make_files(&later, 2, 1000, 79);
    assert!(env.run_paths(&["ingest"], &[&later]).status.success());
    writable(&cp);
    writable(&signed);
    std::fs::write(&cp, &cp10).unwrap();
    std::fs::write(&signed, &signed10).unwrap();
    let v = assert_problem(&env, "log_rolled_back");
    assert!(
        v.to_string().contains("covers 10 events") && v.to_string().contains("at least 13"),
        "{v}"
    );
    assert_eq!(
        std::fs::read(&cp).unwrap(),
        cp10,
        "verify re-signed the log"
    );
    consistency(&env);
    let out = env.run_paths(&["ingest"], &[&note]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&cp).unwrap(),
        cp10,
        "ingest re-signed the log"
    );
}
