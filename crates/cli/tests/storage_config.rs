//! `[storage]` in `athar.toml` chooses where the catalog, the blobs and the log live: an
//! archive works the same with its parts moved, and a location this build cannot use is
//! refused with the field it came from, before anything is touched.

mod common;

use common::Env;

fn config(env: &Env) -> String {
    std::fs::read_to_string(env.archive.join("athar.toml")).expect("athar.toml")
}

fn set_storage(env: &Env, storage: &str) {
    let text = config(env);
    let start = text.find("[storage]").expect("init writes [storage]");
    let rest = &text[start + "[storage]".len()..];
    let end = rest
        .find("\n[")
        .map_or(text.len(), |i| start + "[storage]".len() + i + 1);
    let new = format!("{}{storage}\n{}", &text[..start], &text[end..]);
    std::fs::write(env.archive.join("athar.toml"), new).expect("write athar.toml");
}

#[test]
fn init_names_the_embedded_backends() {
    let env = Env::new();
    let text = config(&env);
    for line in [
        r#"catalog = "sqlite:catalog.sqlite""#,
        r#"blobs = "file:blobs""#,
        r#"log = "file:log""#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[test]
fn parts_moved_elsewhere_are_used_there() {
    let env = Env::new();
    // The catalog, blobs and log moved out of the archive folder (another disk).
    let elsewhere = env.path("other-disk");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    for part in ["catalog.sqlite", "blobs", "log"] {
        std::fs::rename(env.archive.join(part), elsewhere.join(part)).expect("move");
    }
    set_storage(
        &env,
        &format!(
            "[storage]\ncatalog = \"sqlite:{0}/catalog.sqlite\"\nblobs = \"file:{0}/blobs\"\nlog = \"file:{0}/log\"\n",
            elsewhere.display()
        ),
    );
    let file = env.path("statement.txt");
    std::fs::write(&file, b"a witness statement, synthetic").expect("write");
    let ids = env.ingest_ids(&[&file]);
    assert_eq!(ids.len(), 1);
    env.assert_verifies();
    let out = env.cat(&ids[0]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"a witness statement, synthetic");
    assert!(
        !env.archive.join("blobs").exists(),
        "nothing made at the default place"
    );
    let stored = std::fs::read_dir(elsewhere.join("blobs/sha256"))
        .expect("blobs")
        .filter_map(Result::ok)
        .any(|d| std::fs::read_dir(d.path()).is_ok_and(|mut r| r.next().is_some()));
    assert!(stored, "the blob is in the configured folder");
}

#[test]
fn unknown_backends_are_refused_naming_the_field() {
    let env = Env::new();
    let before = config(&env);
    for (storage, field, says) in [
        (
            "[storage]\ncatalog = \"mysql://127.0.0.1/athar\"\n",
            "catalog",
            "no \"mysql\" backend",
        ),
        (
            "[storage]\nblobs = \"ftp:evidence\"\n",
            "blobs",
            "no \"ftp\" backend",
        ),
        // A PostgreSQL catalog nobody answers for: named, its password never printed.
        (
            "[storage]\ncatalog = \"postgres://athar:s3cret-pw@127.0.0.1:1/athar\"\n",
            "catalog",
            "127.0.0.1:1",
        ),
        (
            "[storage]\nlog = \"tiles\"\n",
            "log",
            "expected <scheme>:<location>",
        ),
        (
            "[storage]\nblob = \"file:blobs\"\n",
            "blob",
            "unknown field",
        ),
    ] {
        set_storage(&env, storage);
        for args in [
            &["list"][..],
            &["ingest", "/nonexistent"][..],
            &["verify"][..],
        ] {
            let out = env.run(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} with {storage}: {err}");
            assert!(err.contains("athar.toml"), "names the file: {err}");
            assert!(err.contains(field) && err.contains(says), "{err}");
            assert!(!err.contains("s3cret-pw"), "a password printed: {err}");
        }
    }
    // Put back, the archive is as it was.
    std::fs::write(env.archive.join("athar.toml"), before).expect("restore");
    env.assert_verifies();
}

#[test]
fn a_location_naming_nothing_is_refused_not_made() {
    let env = Env::new();
    let before = config(&env);
    let nowhere = env.path("moved-away");
    for (storage, field, made) in [
        (
            format!(
                "[storage]\ncatalog = \"sqlite:{}/catalog.sqlite\"\n",
                nowhere.display()
            ),
            "catalog",
            nowhere.join("catalog.sqlite"),
        ),
        (
            format!("[storage]\nblobs = \"file:{}/blobs\"\n", nowhere.display()),
            "blobs",
            nowhere.join("blobs"),
        ),
        (
            format!("[storage]\nlog = \"file:{}/log\"\n", nowhere.display()),
            "log",
            nowhere.join("log"),
        ),
    ] {
        set_storage(&env, &storage);
        let file = env.path("note.txt");
        std::fs::write(&file, b"synthetic").expect("write");
        for out in [
            env.run_paths(&["ingest"], &[&file]),
            env.run(&["user", "add", "amal", "--role", "viewer"]),
            env.run(&["verify"]),
        ] {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{storage}: {err}");
            assert!(
                err.contains(field) && err.contains("nothing is there"),
                "{err}"
            );
        }
        assert!(!made.exists(), "{} was made", made.display());
    }
    std::fs::write(env.archive.join("athar.toml"), before).expect("restore");
    env.assert_verifies();
}

#[test]
fn a_catalog_older_than_the_log_takes_no_writes() {
    let env = Env::new();
    let file = |name: &str| {
        let p = env.path(name);
        std::fs::write(&p, format!("synthetic {name}")).expect("write");
        p
    };
    env.ingest_ids(&[&file("first.txt")]);
    let catalog = env.archive.join("catalog.sqlite");
    let older = std::fs::read(&catalog).expect("catalog");
    env.ingest_ids(&[&file("second.txt")]);
    // The catalog put back from the older copy: the log holds an event it does not.
    for side in ["catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = std::fs::remove_file(env.archive.join(side));
    }
    std::fs::write(&catalog, older).expect("restore the older catalog");
    let third = file("third.txt");
    let out = env.run_paths(&["ingest"], &[&third]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("fewer custody events than the custody log"),
        "{err}"
    );
    let listed = env.run(&["list", "--json"]);
    assert_eq!(
        common::json_lines(&listed.stdout).len(),
        1,
        "nothing written"
    );
    let (code, report) = env.verify();
    assert_eq!(code, 1, "verify reports it: {report}");
}

#[test]
fn doctor_checks_each_part_and_names_the_one_that_fails() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let out = env.run(&["doctor", "--json"]);
    let checks = common::json_lines(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{checks:?}");
    let parts: Vec<&str> = checks.iter().map(|c| c["part"].as_str().unwrap()).collect();
    assert_eq!(parts, ["config", "catalog", "blobs", "log"]);
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    assert!(
        checks[3]["detail"]
            .as_str()
            .unwrap()
            .contains("signed by this archive's key"),
        "{checks:?}"
    );
    // Nothing an archive holds was written: verify still passes, no probe left behind.
    env.assert_verifies();
    let left: Vec<_> = std::fs::read_dir(env.archive.join("blobs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".doctor"))
        .collect();
    assert!(left.is_empty());

    // A checkpoint signed by another key: the log check fails, naming it.
    let cp = env.archive.join("log").join("checkpoint");
    let good = std::fs::read(&cp).unwrap();
    let other = Env::new();
    std::fs::write(
        &cp,
        std::fs::read(other.archive.join("log").join("checkpoint")).unwrap(),
    )
    .unwrap();
    let out = env.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let checks = common::json_lines(&out.stdout);
    assert_eq!(checks[3]["part"], "log");
    assert_eq!(checks[3]["ok"], false, "{checks:?}");
    std::fs::write(&cp, good).unwrap();

    // Blobs that cannot be written (not as root, who may write anywhere).
    if !common::is_root() {
        let blobs = env.archive.join("blobs");
        std::fs::set_permissions(&blobs, std::fs::Permissions::from_mode(0o500)).unwrap();
        let out = env.run(&["doctor"]);
        std::fs::set_permissions(&blobs, std::fs::Permissions::from_mode(0o700)).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("FAIL blobs"), "{text}");
    }
    // A part gone: named.
    std::fs::rename(env.archive.join("catalog.sqlite"), env.path("moved.sqlite")).unwrap();
    let out = env.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL catalog") && text.contains("nothing is there"),
        "{text}"
    );
    assert!(
        text.contains("ok   blobs"),
        "the other parts are still checked: {text}"
    );
}
