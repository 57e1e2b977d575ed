//! `athar migrate`: an embedded archive (items, review images, fingerprints, a case, a
//! person record, an account) moves into a new archive folder on PostgreSQL and an S3
//! store (a Garage the test starts). The first run is killed in the middle of the blobs;
//! the second goes on where it stopped. Then: the new archive verifies, lists the same
//! items, shows the same custody history, proves events with the same checkpoint (the log
//! byte for byte), keeps the account, and takes new evidence; the source is as it was.
//! Refused: a folder that is already an archive, a catalog that already holds one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use athar_s3::garage::Garage;
use common::Env;
use serde_json::Value;

fn athar(archive: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::athar_bin())
        .arg("--archive")
        .arg(archive)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn an_embedded_archive_moves_to_postgres_and_s3_and_resumes() {
    let env = Env::new();
    // Evidence: footage (fingerprints, review images), and many small statements so that
    // the copy of the blobs takes long enough to be interrupted.
    let clip = common::clip(&env, "clip.mp4", "testsrc2=size=320x240:rate=15", "null")
        .expect("ffmpeg makes the test footage");
    let statements = env.path("statements");
    std::fs::create_dir(&statements).unwrap();
    for i in 0..1500 {
        std::fs::write(
            statements.join(format!("s{i:04}.txt")),
            format!("synthetic statement number {i}\n"),
        )
        .unwrap();
    }
    env.add_cases(&[("c1", "A synthetic case")]);
    ok(
        &env.run(&[
            "ingest",
            "--wait",
            "--case",
            "c1",
            clip.to_str().unwrap(),
            statements.to_str().unwrap(),
        ]),
        "ingest",
    );
    ok(
        &env.run(&[
            "person",
            "add",
            "--case",
            "c1",
            "--name",
            "Synthetic Person",
        ]),
        "person add",
    );
    env.add_user(
        "reviewer",
        "viewer",
        Some("c1"),
        "a long synthetic passphrase",
    );
    let listed_before = ok(&env.run(&["list", "--json", "--derived"]), "list");
    let items: Vec<Value> = common::json_lines(listed_before.as_bytes());
    assert!(items.len() > 1500, "{}", items.len());
    let clip_id = items
        .iter()
        .find(|i| i["media_type"] == "video/mp4")
        .unwrap()["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let show_before = ok(&env.run(&["show", "--json", &clip_id]), "show");
    let proof_before = ok(&env.run(&["log", "proof", &clip_id]), "proof");
    let checkpoint_before = ok(&env.run(&["log", "checkpoint"]), "checkpoint");

    let garage = Garage::start().unwrap_or_else(|e| {
        panic!("no Garage to test against ({e}); scripts/ensure-deps.sh test installs it")
    });
    // The only test in this binary: every athar it runs reaches the store through these.
    for (k, v) in garage.env() {
        std::env::set_var(k, v);
    }
    let schema = common::PgSchema::new("migrate");
    let to = env.path("moved");
    let catalog = schema.location();
    let blobs = garage.url("moved/blobs");
    let log = garage.url("moved/log");
    let args = |json: bool| {
        let mut a = vec![
            "migrate".to_owned(),
            "--to".to_owned(),
            to.to_str().unwrap().to_owned(),
            "--catalog".to_owned(),
            catalog.clone(),
            "--blobs".to_owned(),
            blobs.clone(),
            "--log".to_owned(),
            log.clone(),
        ];
        if json {
            a.push("--json".to_owned());
        }
        a
    };

    // The first run is killed once it has copied some blobs.
    let mut first = Command::new(common::athar_bin())
        .arg("--archive")
        .arg(&env.archive)
        .args(args(false))
        .env("ATHAR_PROGRESS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(first.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("blobs") {
            first.kill().unwrap();
            break;
        }
    }
    first.wait().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("blobs")),
        "the first run showed no progress: {seen:?}"
    );
    assert!(
        !to.join("athar.toml").exists(),
        "an interrupted migration is not an archive"
    );
    assert!(
        !athar(&to, &["list"]).status.success(),
        "the half-made archive does not open"
    );

    // The second run goes on.
    let out = Command::new(common::athar_bin())
        .arg("--archive")
        .arg(&env.archive)
        .args(args(true))
        .output()
        .unwrap();
    let done: Value = serde_json::from_str(&ok(&out, "second migrate")).unwrap();
    assert!(done["blobs_present"].as_u64().unwrap() > 0, "{done}");
    assert!(done["blobs_copied"].as_u64().unwrap() > 0, "{done}");
    let total_blobs =
        done["blobs_present"].as_u64().unwrap() + done["blobs_copied"].as_u64().unwrap();
    assert_eq!(total_blobs as usize, items.len(), "{done}");
    assert!(done["rows"].as_u64().unwrap() > 3000, "{done}");

    // The new archive: nothing local but its configuration and keys.
    let toml = std::fs::read_to_string(to.join("athar.toml")).unwrap();
    assert!(
        toml.contains("postgres://") && toml.contains("s3://"),
        "{toml}"
    );
    for part in ["catalog.sqlite", "blobs", "log", "migrating.toml"] {
        assert!(!to.join(part).exists(), "{part} in the new folder");
    }
    let verified: Value = serde_json::from_str(&ok(
        &athar(&to, &["verify", "--json"]),
        "verify the new archive",
    ))
    .unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(
        ok(&athar(&to, &["list", "--json", "--derived"]), "list"),
        listed_before,
        "the same items"
    );
    assert_eq!(
        ok(&athar(&to, &["show", "--json", &clip_id]), "show"),
        show_before,
        "the same custody history"
    );
    assert_eq!(
        ok(&athar(&to, &["log", "proof", &clip_id]), "proof"),
        proof_before,
        "the same checkpoint and proof"
    );
    assert_eq!(
        ok(&athar(&to, &["log", "checkpoint"]), "checkpoint"),
        checkpoint_before,
        "the same signed checkpoint"
    );
    let found = ok(
        &athar(&to, &["search", "Synthetic Person", "--json"]),
        "search",
    );
    assert!(found.contains("Synthetic Person"), "{found}");
    let similar = ok(&athar(&to, &["similar", &clip_id, "--json"]), "similar");
    assert!(!similar.trim().is_empty());
    let accounts = ok(&athar(&to, &["user", "list", "--json"]), "user list");
    assert!(accounts.contains("reviewer"), "{accounts}");

    // New evidence goes on from where the log was.
    let late = env.path("late.txt");
    std::fs::write(&late, b"a statement after the move").unwrap();
    let out = ok(
        &athar(&to, &["ingest", "--json", late.to_str().unwrap()]),
        "ingest after",
    );
    let late_id = common::json_lines(out.as_bytes())[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        athar(&to, &["cat", &late_id]).stdout,
        b"a statement after the move"
    );
    ok(&athar(&to, &["verify"]), "verify after the ingest");

    // The source is as it was.
    env.assert_verifies();
    assert_eq!(
        ok(&env.run(&["log", "checkpoint"]), "checkpoint"),
        checkpoint_before
    );

    // Refused: the same folder again, and another folder onto the same catalog.
    let out = athar(
        &env.archive,
        &args(false).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already"), "{err}");
    let elsewhere = env.path("elsewhere");
    let out = athar(
        &env.archive,
        &[
            "migrate",
            "--to",
            elsewhere.to_str().unwrap(),
            "--catalog",
            &catalog,
            "--blobs",
            &garage.url("elsewhere/blobs"),
            "--log",
            &garage.url("elsewhere/log"),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("catalog"), "{err}");

    // A damaged blob in the source stops a migration, naming it; what was not checked is
    // not published.
    let victim = items[0]["sha256"].as_str().unwrap().to_owned();
    let path = env
        .archive
        .join("blobs/sha256")
        .join(&victim[..2])
        .join(&victim);
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let third = common::PgSchema::new("migrate");
    let out = athar(
        &env.archive,
        &[
            "migrate",
            "--to",
            env.path("third").to_str().unwrap(),
            "--catalog",
            &third.location(),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&victim) && err.contains("damaged"), "{err}");
    assert!(
        !env.path("third/blobs/sha256")
            .join(&victim[..2])
            .join(&victim)
            .exists(),
        "the damaged blob was published"
    );
}
