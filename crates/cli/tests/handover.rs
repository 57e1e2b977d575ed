//! Hand-over packages: export as BagIt with custody proofs, checked offline by
//! `athar verify-bag` and by bagit-python.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json_lines, Env};

fn exported(env: &Env) -> (PathBuf, String, Vec<serde_json::Value>) {
    let src = env.path("clips");
    common::make_files(&src, 6, 30_000, 42);
    let out = env.run_paths(&["ingest", "--json", "--case", "Case Alpha"], &[&src]);
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    let bag = env.path("handover-bag");
    let out = env.run(&[
        "export",
        "--json",
        "--out",
        bag.to_str().unwrap(),
        "--case",
        "Case Alpha",
        "--to",
        "Synthetic Prosecutor Office",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["items"].as_u64().unwrap() as usize, lines.len());
    let vkey = std::fs::read_to_string(env.archive.join("keys/archive.vkey"))
        .unwrap()
        .trim()
        .to_owned();
    (bag, vkey, lines)
}

fn verify_bag(bag: &Path, vkey: Option<&str>) -> (i32, serde_json::Value) {
    let mut c = Command::new(common::athar_bin());
    c.args(["--archive", "/nonexistent", "verify-bag", "--json"]);
    if let Some(k) = vkey {
        c.args(["--vkey", k]);
    }
    let out = c.arg(bag).output().unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn states(v: &serde_json::Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    perm.set_mode(0o644);
    std::fs::set_permissions(p, perm).unwrap();
}

/// Rewrites one tag manifest line so that only the deeper custody check can catch a change.
fn refresh_tag_manifests(bag: &Path, rel: &str) {
    use sha2::Digest;
    let bytes = std::fs::read(bag.join(rel)).unwrap();
    for (name, hex) in [
        (
            "tagmanifest-sha256.txt",
            hex::encode(sha2::Sha256::digest(&bytes)),
        ),
        (
            "tagmanifest-sha512.txt",
            hex::encode(sha2::Sha512::digest(&bytes)),
        ),
    ] {
        let p = bag.join(name);
        writable(&p);
        let text = std::fs::read_to_string(&p).unwrap();
        let fixed: Vec<String> = text
            .lines()
            .map(|l| {
                if l.ends_with(&format!(" {rel}")) {
                    format!("{hex}  {rel}")
                } else {
                    l.to_owned()
                }
            })
            .collect();
        std::fs::write(&p, fixed.join("\n") + "\n").unwrap();
    }
}

#[test]
fn exported_bag_verifies_offline_and_with_bagit_python() {
    let env = Env::new();
    let (bag, vkey, lines) = exported(&env);
    let (code, v) = verify_bag(&bag, Some(&vkey));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["bagit_valid"], true);
    let st = states(&v);
    assert_eq!(st.len(), lines.len());
    assert!(st.iter().all(|(_, s)| s == "verified"), "{v}");
    // Without a trusted key custody is unverifiable, never shown as verified.
    let (code, v) = verify_bag(&bag, None);
    assert_eq!(code, 1);
    assert!(states(&v).iter().all(|(_, s)| s == "unverifiable"), "{v}");
    // Another archive's key: unverifiable too.
    let stranger = Env::new();
    let other = std::fs::read_to_string(stranger.archive.join("keys/archive.vkey")).unwrap();
    let (code, v) = verify_bag(&bag, Some(other.trim()));
    assert_eq!(code, 1);
    assert!(states(&v).iter().all(|(_, s)| s == "unverifiable"), "{v}");
    // The export is itself a custody event, naming the recipient.
    let show: serde_json::Value = serde_json::from_slice(
        &env.run(&["show", "--json", lines[0]["item"].as_str().unwrap()])
            .stdout,
    )
    .unwrap();
    let last = show["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "export");
    assert_eq!(last["details"]["to"], "Synthetic Prosecutor Office");
    env.assert_verifies();
    // bagit-python, the tool receiving archives use.
    match Command::new("python3")
        .args(["-m", "bagit", "--validate"])
        .arg(&bag)
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named bagit") => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "bagit-python is required under CI"
            );
            eprintln!("notice: bagit-python not installed; skipped its check");
        }
        Ok(out) => panic!(
            "bagit-python rejected the bag: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("python3: {e}"),
    }
}

#[test]
fn tampering_with_a_bag_is_caught_and_named() {
    let env = Env::new();
    let (bag, vkey, _) = exported(&env);
    let (_, v) = verify_bag(&bag, Some(&vkey));
    let payloads: Vec<String> = states(&v).into_iter().map(|(p, _)| p).collect();

    // Altered payload byte.
    let p0 = bag.join(&payloads[0]);
    writable(&p0);
    let mut b = std::fs::read(&p0).unwrap();
    b[0] ^= 1;
    std::fs::write(&p0, b).unwrap();
    // Removed payload.
    std::fs::remove_file(bag.join(&payloads[1])).unwrap();
    // An added payload file.
    std::fs::write(bag.join("data/planted.txt"), "planted").unwrap();
    let (code, v) = verify_bag(&bag, Some(&vkey));
    assert_eq!(code, 1);
    assert_eq!(v["bagit_valid"], false);
    let st: std::collections::BTreeMap<String, String> = states(&v).into_iter().collect();
    assert_eq!(st[&payloads[0]], "altered", "{v}");
    assert_eq!(st[&payloads[1]], "missing", "{v}");
    assert!(v.to_string().contains("planted.txt"), "{v}");
}

#[test]
fn tampered_proofs_and_records_are_caught_even_with_fixed_manifests() {
    let env = Env::new();
    let (bag, vkey, lines) = exported(&env);
    let item = lines[2]["item"].as_str().unwrap();
    let dir = format!("athar/items/{item}");
    // A proof hash altered, the tag manifests recomputed to match.
    let proof_rel = format!("{dir}/1.tlog-proof");
    let found = std::fs::read_dir(bag.join(&dir))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".tlog-proof"))
        .unwrap();
    let proof_rel = if bag.join(&proof_rel).exists() {
        proof_rel
    } else {
        format!("{dir}/{found}")
    };
    let p = bag.join(&proof_rel);
    writable(&p);
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines_of: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = lines_of
        .iter()
        .position(|l| l.starts_with("index "))
        .unwrap()
        + 1;
    let c = if lines_of[at].starts_with('A') {
        'B'
    } else {
        'A'
    };
    lines_of[at].replace_range(0..1, &c.to_string());
    std::fs::write(&p, lines_of.join("\n") + "\n").unwrap();
    refresh_tag_manifests(&bag, &proof_rel);
    let (code, v) = verify_bag(&bag, Some(&vkey));
    assert_eq!(code, 1);
    assert_eq!(v["bagit_valid"], true, "manifests were made to match: {v}");
    let bad: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] != "verified")
        .collect();
    assert_eq!(bad.len(), 1, "{v}");
    assert_eq!(bad[0]["item"], item);
    assert!(
        bad[0]["detail"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{v}"
    );
}

#[test]
fn conformance_bags_are_bagit_valid_but_custody_unverifiable() {
    let Some(data) = common::testdata() else {
        return;
    };
    let suite = data.join("bagit-conformance");
    let mut checked = 0;
    for version in ["v0.97", "v1.0"] {
        for kind in ["valid", "invalid"] {
            let Ok(rd) = std::fs::read_dir(suite.join(version).join(kind)) else {
                continue;
            };
            for bag in rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
            {
                let (code, v) = verify_bag(&bag, None);
                assert_eq!(
                    code,
                    1,
                    "{}: a bag without custody proofs is never fully verified",
                    bag.display()
                );
                assert_eq!(v["bagit_valid"], kind == "valid", "{}: {v}", bag.display());
                if kind == "valid" {
                    assert!(
                        states(&v).iter().all(|(_, s)| s == "unverifiable"),
                        "{}: {v}",
                        bag.display()
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} conformance bags found");
}

#[test]
fn export_import_export_round_trip() {
    let sender = Env::new();
    let (bag, vkey, lines) = exported(&sender);
    let receiver = Env::new();
    let out = receiver.run(&[
        "import-bag",
        "--json",
        "--vkey",
        &vkey,
        bag.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["items"].as_u64().unwrap() as usize, lines.len());
    assert_eq!(v["sender_custody_verified"], true, "{v}");
    receiver.assert_verifies();
    // The sender's history is kept and shown, and the transfer is a custody event.
    let sha = lines[0]["sha256"].as_str().unwrap();
    let show: serde_json::Value =
        serde_json::from_slice(&receiver.run(&["show", "--json", sha]).stdout).unwrap();
    let received = show["received_custody"].as_array().unwrap();
    assert!(received.len() >= 2, "{show}");
    assert!(received.iter().all(|r| r["verified"] == true));
    let kinds: Vec<&str> = show["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ingest", "transfer"], "{show}");
    let human = String::from_utf8(receiver.run(&["show", sha]).stdout).unwrap();
    assert!(
        human.contains("Custody before it arrived") && human.contains("proved"),
        "{human}"
    );
    // Export again from the receiver; both bags verify with their own keys.
    let bag2 = receiver.path("second-bag");
    let ids: Vec<String> = json_lines(&receiver.run(&["list", "--json"]).stdout)
        .iter()
        .map(|l| l["item"].as_str().unwrap().to_owned())
        .collect();
    let mut args = vec!["export", "--out", bag2.to_str().unwrap()];
    args.extend(ids.iter().map(String::as_str));
    assert!(receiver.run(&args).status.success());
    let vkey2 = std::fs::read_to_string(receiver.archive.join("keys/archive.vkey")).unwrap();
    assert_eq!(verify_bag(&bag, Some(&vkey)).0, 0);
    assert_eq!(verify_bag(&bag2, Some(vkey2.trim())).0, 0);
    // The same payload bytes went through both hand-overs.
    let m1 = std::fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
    let m2 = std::fs::read_to_string(bag2.join("manifest-sha256.txt")).unwrap();
    let hashes = |m: &str| -> std::collections::BTreeSet<String> {
        m.lines()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(hashes(&m1), hashes(&m2));
}

#[test]
fn import_refuses_damaged_or_invalid_bags_and_stores_nothing() {
    let sender = Env::new();
    let (bag, vkey, _) = exported(&sender);
    let receiver = Env::new();
    // A payload file altered: refused before anything is stored.
    let (_, v) = verify_bag(&bag, Some(&vkey));
    let first = states(&v)[0].0.clone();
    let p = bag.join(&first);
    writable(&p);
    let mut b = std::fs::read(&p).unwrap();
    b[3] ^= 0x40;
    std::fs::write(&p, b).unwrap();
    let out = receiver.run(&["import-bag", "--vkey", &vkey, bag.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing imported"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(json_lines(&receiver.run(&["list", "--json"]).stdout).is_empty());
    // Conformance bags that must fail are refused too (path traversal, bad manifests, ...).
    if let Some(data) = common::testdata() {
        let invalid = data.join("bagit-conformance/v1.0/invalid");
        let mut refused = 0;
        for b in std::fs::read_dir(&invalid)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
        {
            let out = receiver.run(&["import-bag", b.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(2), "{} imported", b.display());
            refused += 1;
        }
        assert!(refused > 0);
        assert!(json_lines(&receiver.run(&["list", "--json"]).stdout).is_empty());
    }
    receiver.assert_verifies();
}
