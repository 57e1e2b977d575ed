//! Tampering with a stored blob or a catalog row is found by `athar verify` and named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{json_lines, Env};

/// An archive with a few items; returns (env, [(item, sha256)]).
fn archive_with_items() -> (Env, Vec<(String, String)>) {
    let env = Env::new();
    let src = env.path("src");
    common::make_files(&src, 12, 50_000, 99);
    let out = env.run_paths(&["ingest", "--json"], &[&src]);
    assert!(out.status.success());
    let items = json_lines(&out.stdout)
        .iter()
        .filter(|l| l["size"].as_u64().unwrap() > 0)
        .map(|l| {
            (
                l["item"].as_str().unwrap().to_owned(),
                l["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    env.assert_verifies();
    (env, items)
}

fn blob_path(env: &Env, sha: &str) -> PathBuf {
    env.archive.join("blobs/sha256").join(&sha[0..2]).join(sha)
}

fn problems(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["problems"].as_array().unwrap().clone()
}

use common::tamper_sql as sql;

#[test]
fn altered_byte_is_named() {
    let (env, items) = archive_with_items();
    let (item, sha) = &items[3];
    let p = blob_path(&env, sha);
    let mut perms = std::fs::metadata(&p).unwrap().permissions();
    perms.set_mode(0o644);
    std::fs::set_permissions(&p, perms).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&p, &bytes).unwrap();
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    let ps = problems(&v);
    assert_eq!(ps.len(), 1, "{v}");
    assert_eq!(ps[0]["kind"], "altered");
    assert_eq!(ps[0]["item"], item.as_str());
    assert_eq!(ps[0]["sha256"], sha.as_str());
    // Human output names it too; `cat` refuses to hand out the altered bytes.
    let human = env.run(&["verify"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&human.stdout).contains(sha.as_str()));
    let cat = env.cat(item);
    assert_eq!(cat.status.code(), Some(1));
    assert!(cat.stdout.is_empty(), "altered bytes were written out");
    assert!(String::from_utf8_lossy(&cat.stderr).contains("altered"));
}

#[test]
fn deleted_blob_is_named() {
    let (env, items) = archive_with_items();
    let (item, sha) = &items[0];
    std::fs::remove_file(blob_path(&env, sha)).unwrap();
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    let ps = problems(&v);
    assert_eq!(ps.len(), 1, "{v}");
    assert_eq!(ps[0]["kind"], "missing");
    assert_eq!(ps[0]["item"], item.as_str());
    assert_eq!(ps[0]["sha256"], sha.as_str());
}

#[test]
fn deleted_item_row_is_named() {
    let (env, items) = archive_with_items();
    let (item, sha) = &items[5];
    sql(&env, &format!("DELETE FROM items WHERE id = '{item}'"));
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    let ps = problems(&v);
    let kinds: Vec<&str> = ps.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"orphaned"), "{v}");
    assert!(kinds.contains(&"dangling_event"), "{v}");
    let text = v.to_string();
    assert!(
        text.contains(sha.as_str()) && text.contains(item.as_str()),
        "{v}"
    );
}

#[test]
fn deleted_custody_event_is_named() {
    let (env, items) = archive_with_items();
    // An item's only event: the item loses its custody, and the sequence has a gap.
    let (item, _) = &items[2];
    sql(
        &env,
        &format!("DELETE FROM custody_events WHERE item_id = '{item}'"),
    );
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    let ps = problems(&v);
    let kinds: Vec<&str> = ps.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"no_custody"), "{v}");
    assert!(kinds.contains(&"missing_event"), "{v}");
    assert!(v.to_string().contains(item.as_str()));
}

#[test]
fn deleted_last_event_is_named() {
    let (env, _) = archive_with_items();
    // A re-sighting makes a second event; removing the newest leaves a gap at the end.
    let again = env.run_paths(&["ingest"], &[&env.path("src/set-0")]);
    assert!(again.status.success());
    sql(
        &env,
        "DELETE FROM custody_events WHERE seq = (SELECT MAX(seq) FROM custody_events)",
    );
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    assert_eq!(problems(&v)[0]["kind"], "missing_event", "{v}");
}

#[test]
fn stray_and_orphan_files_in_store_are_named() {
    let (env, _) = archive_with_items();
    let stray = env.archive.join("blobs/sha256/zz");
    std::fs::create_dir_all(&stray).unwrap();
    let body = b"planted";
    let sha = common::sha256_hex(body);
    let orphan = blob_path(&env, &sha);
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, body).unwrap();
    let (code, v) = env.verify();
    assert_eq!(code, 1);
    let ps = problems(&v);
    let kinds: Vec<&str> = ps.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"stray") && kinds.contains(&"orphaned"),
        "{v}"
    );
    assert!(v.to_string().contains(&sha));
}
