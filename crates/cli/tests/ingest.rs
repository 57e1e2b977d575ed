//! Ingest, retrieval and listing, end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{json_lines, sha256_hex, testdata, Env};

/// `sha256sum` over every file under `dir`: path → hex.
fn sha256sum_of_tree(dir: &Path) -> BTreeMap<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg("find \"$1\" -type f -print0 | xargs -0 sha256sum")
        .arg("sh")
        .arg(dir)
        .output()
        .expect("sha256sum");
    assert!(out.status.success(), "sha256sum failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once("  ")
                .map(|(h, p)| (p.to_owned(), h.to_owned()))
        })
        .collect()
}

#[test]
fn ingest_of_conformance_data_matches_sha256sum() {
    let Some(data) = testdata() else { return };
    let env = Env::new();
    let out = env.run_paths(&["ingest", "--json"], &[&data]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let expected = sha256sum_of_tree(&data);
    assert_eq!(lines.len(), expected.len(), "one line per file");
    let mut paths: Vec<String> = Vec::new();
    for l in &lines {
        let path = l["path"].as_str().unwrap().to_owned();
        let want = expected
            .get(&path)
            .unwrap_or_else(|| panic!("{path} not reported by sha256sum"));
        assert_eq!(l["sha256"].as_str().unwrap(), want, "{path}");
        assert_eq!(
            l["size"].as_u64().unwrap(),
            std::fs::metadata(&path).unwrap().len()
        );
        paths.push(path);
    }
    // Stable order: the walk is sorted, so output is sorted within each folder level.
    let again = env.run_paths(&["ingest", "--json"], &[&data]);
    let second: Vec<String> = json_lines(&again.stdout)
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, second, "same order on every run");
    // The second run stores nothing new; every file becomes a sighting.
    assert!(json_lines(&again.stdout).iter().all(|l| l["new"] == false));
    env.assert_verifies();
    // Spot-check retrieval against the original bytes.
    for l in lines.iter().step_by(7) {
        let bytes = env.cat(l["item"].as_str().unwrap());
        assert!(bytes.status.success());
        assert_eq!(
            bytes.stdout,
            std::fs::read(l["path"].as_str().unwrap()).unwrap()
        );
    }
}

#[test]
fn same_bytes_are_stored_once_and_sightings_recorded() {
    let env = Env::new();
    let a = env.path("a/witness-video.mp4");
    let b = env.path("b/renamed-copy.mp4");
    std::fs::create_dir_all(a.parent().unwrap()).unwrap();
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    let bytes = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom synthetic test footage".repeat(100);
    std::fs::write(&a, &bytes).unwrap();
    std::fs::write(&b, &bytes).unwrap();
    let first = env.run_paths(
        &[
            "ingest",
            "--json",
            "--case",
            "Case Alpha",
            "--source",
            "channel upload",
            "--note",
            "first copy",
        ],
        &[&a],
    );
    assert!(first.status.success());
    let l1 = &json_lines(&first.stdout)[0];
    assert_eq!(l1["new"], true);
    assert_eq!(l1["media_type"], "video/mp4");
    assert_eq!(l1["sha256"].as_str().unwrap(), sha256_hex(&bytes));
    let second = env.run_paths(
        &["ingest", "--json", "--source", "re-upload on another site"],
        &[&b],
    );
    let l2 = &json_lines(&second.stdout)[0];
    assert_eq!(l2["new"], false);
    assert_eq!(l1["item"], l2["item"]);

    let list = env.run(&["list", "--json"]);
    assert_eq!(json_lines(&list.stdout).len(), 1);

    let sha = l1["sha256"].as_str().unwrap();
    for query in [
        l1["item"].as_str().unwrap(),
        sha,
        &sha[..10],
        &l1["item"].as_str().unwrap()[..12].to_lowercase(),
    ] {
        let show = env.run(&["show", "--json", query]);
        assert!(
            show.status.success(),
            "show {query}: {}",
            String::from_utf8_lossy(&show.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        let events = v["events"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["kind"], "ingest");
        assert_eq!(events[1]["kind"], "sighting");
        assert_eq!(events[0]["details"]["source"], "channel upload");
        assert_eq!(events[0]["details"]["note"], "first copy");
        assert_eq!(events[0]["details"]["collector"], "Test Investigator");
        assert_eq!(events[0]["details"]["original_name"], "witness-video.mp4");
        assert_eq!(events[1]["details"]["original_name"], "renamed-copy.mp4");
        assert_eq!(events[1]["details"]["source"], "re-upload on another site");
        assert!(events[0]["details"]["file_mtime"]
            .as_str()
            .unwrap()
            .ends_with('Z'));
        assert!(events[0]["details"]["tool_version"]
            .as_str()
            .unwrap()
            .starts_with("athar "));
        assert_eq!(v["cases"], serde_json::json!(["Case Alpha"]));
    }
    let human = env.run(&["show", &sha[..8]]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("Chain of custody (2 event(s))") && text.contains("channel upload"),
        "{text}"
    );

    let cat = env.cat(sha);
    assert_eq!(cat.stdout, bytes);
    // Unknown and ambiguous references are input errors (exit 2).
    let missing = env.run(&["show", "ffffffffffff"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    env.assert_verifies();
}

#[test]
fn large_file_is_streamed_and_round_trips() {
    let env = Env::new();
    let p = env.path("long-recording.bin");
    // 40 MiB: above the threaded-writer threshold, several chunks.
    let mut rng = common::Rng(7);
    let mut bytes = vec![0u8; 40 << 20];
    rng.fill(&mut bytes);
    std::fs::write(&p, &bytes).unwrap();
    let out = env.run_paths(&["ingest", "--json"], &[&p]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = &json_lines(&out.stdout)[0];
    assert_eq!(l["sha256"].as_str().unwrap(), sha256_hex(&bytes));
    let cat = env.cat(l["item"].as_str().unwrap());
    assert!(cat.status.success());
    assert!(cat.stdout == bytes, "round trip differs");
    env.assert_verifies();
}

#[test]
fn init_refuses_to_overwrite() {
    let env = Env::new();
    let again = env.run(&["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already an Athar archive"));
    let other = env.path("not-empty");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "x").unwrap();
    let out = Command::new(common::athar_bin())
        .arg("--archive")
        .arg(&other)
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an empty folder"));
    // Private key readable by its owner only.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(env.archive.join("keys/archive.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // Opening a folder that is no archive is an input error.
    let out = Command::new(common::athar_bin())
        .arg("--archive")
        .arg(env.path("nowhere"))
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an Athar archive"));
}

#[test]
fn archive_from_environment_variable() {
    let env = Env::new();
    let f = env.path("statement.txt");
    std::fs::write(&f, "synthetic statement").unwrap();
    let out = Command::new(common::athar_bin())
        .env("ATHAR_ARCHIVE", &env.archive)
        .args(["ingest", "--json"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_lines(&out.stdout)[0]["media_type"], "text/plain");
}
