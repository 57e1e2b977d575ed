//! Encrypted archives end to end: nothing readable on disk, the passphrase required and
//! checked, everything working as in a plain archive (ingest, jobs, search, verify, cat,
//! range reads through the server).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{athar_bin, http, json_lines, sha256_hex};

const PASSPHRASE: &str = "a synthetic passphrase for tests";
/// Synthetic victim names (Latin and Arabic script) and a protected source's identity.
const VICTIM: &str = "Zubayda Qarnawi-Testperson";
const VICTIM_AR: &str = "زبيدة القرناوي التجريبية";
const IDENTITY: &str = "Nizar Halloumi-Synthetic";

struct Enc {
    dir: tempfile::TempDir,
    archive: PathBuf,
    scratch: PathBuf,
}

impl Enc {
    /// A new encrypted archive.
    fn new() -> Enc {
        Enc::init(&["--encrypt"])
    }

    /// A plain archive, to be encrypted in place.
    fn plain() -> Enc {
        Enc::init(&[])
    }

    /// `athar init` with `flags` in a new temporary folder; it must succeed.
    fn init(flags: &[&str]) -> Enc {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        let scratch = dir.path().join("scratch");
        let e = Enc {
            dir,
            archive,
            scratch,
        };
        let mut args = vec!["init", "--collector", "Test Investigator"];
        args.extend_from_slice(flags);
        e.ok_with(Some(PASSPHRASE), &[], &args);
        e
    }

    fn cmd_with(&self, passphrase: Option<&str>) -> Command {
        let mut c = Command::new(athar_bin());
        c.arg("--archive")
            .arg(&self.archive)
            .env_remove("ATHAR_ARCHIVE")
            .env_remove("ATHAR_PASSPHRASE")
            .env_remove("ATHAR_PASSPHRASE_FILE")
            .env_remove("ATHAR_IDENTITY")
            .env("ATHAR_SCRATCH", &self.scratch)
            .stdin(Stdio::null());
        if let Some(p) = passphrase {
            c.env("ATHAR_PASSPHRASE", p);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd_with(Some(PASSPHRASE)).args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        String::from_utf8(self.ok_with(Some(PASSPHRASE), &[], args).stdout).unwrap()
    }

    /// Ingests `file` into case `pits`, waiting for its jobs; its item id.
    fn ingest(&self, file: &Path) -> String {
        let out = self.ok(&[
            "ingest",
            "--json",
            "--wait",
            "--case",
            "pits",
            file.to_str().unwrap(),
        ]);
        json_lines(out.as_bytes())[0]["item"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Runs `athar ARGS` with only `passphrase` and `env` to unlock; it must succeed.
    fn ok_with(&self, passphrase: Option<&str>, env: &[(&str, &Path)], args: &[&str]) -> Output {
        let mut c = self.cmd_with(passphrase);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "athar {args:?}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A synthetic "video": random bytes with a recognisable pattern in the middle.
fn evidence(path: &Path, pattern: &[u8]) -> Vec<u8> {
    let mut rng = common::Rng(0x5eed);
    let mut bytes = vec![0u8; 400_000];
    rng.fill(&mut bytes);
    let mut at = 150_000;
    for _ in 0..200 {
        bytes[at..at + pattern.len()].copy_from_slice(pattern);
        at += pattern.len();
    }
    std::fs::write(path, &bytes).unwrap();
    bytes
}

fn records(e: &Enc) {
    let lines = [
        r#"{"kind":"case","case":"pits","title":"Synthetic case"}"#.to_owned(),
        format!(
            r#"{{"kind":"source","key":"w1","case":"pits","name":"W-1","protection":"protected","identity":"{IDENTITY}"}}"#
        ),
        format!(
            r#"{{"kind":"person","key":"v1","case":"pits","names":[{{"name":"{VICTIM_AR}","source":"w1"}},{{"name":"{VICTIM}"}}],"status":"dead"}}"#
        ),
    ];
    let file = e.path("records.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    e.ok(&["records", "import", file.to_str().unwrap()]);
}

#[test]
fn an_encrypted_archive_holds_nothing_readable_and_works_as_a_plain_one() {
    let e = Enc::new();
    let pattern = b"SYNTHETIC-FOOTAGE-PATTERN-0123456789";
    let clip = e.path("clip.bin");
    let bytes = evidence(&clip, pattern);
    let item = e.ingest(&clip);
    records(&e);
    // Everything works as in a plain archive.
    assert_eq!(
        e.ok_with(Some(PASSPHRASE), &[], &["cat", &item]).stdout,
        bytes
    );
    let found = e.ok(&["search", "--json", "Qarnawi"]);
    assert!(found.contains("\"person\""), "{found}");
    let verified = e.ok(&["verify", "--json"]);
    assert!(
        verified.contains("\"ok\":true") || verified.contains("\"ok\": true"),
        "{verified}"
    );

    // Nothing readable on disk: names, identity, the footage's bytes, plain SQLite.
    assert_nothing_readable(&e, &bytes, pattern);
    // No secret key in the clear; the keyring holds it sealed.
    let keys: Vec<_> = std::fs::read_dir(e.archive.join("keys"))
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!keys.contains(&"archive.key".to_owned()), "{keys:?}");
    assert!(!keys.contains(&"pseudonym.key".to_owned()), "{keys:?}");
    assert!(keys.contains(&"keyring.json".to_owned()), "{keys:?}");
}

#[test]
fn a_wrong_or_missing_passphrase_is_refused_and_changes_nothing() {
    let e = Enc::new();
    let clip = e.path("clip.bin");
    evidence(&clip, b"PATTERN");
    e.ok(&["ingest", "--case", "pits", clip.to_str().unwrap()]);
    let before = files(&e.archive);
    let wrong = e
        .cmd_with(Some("not the passphrase"))
        .args(["ingest", "--case", "pits", clip.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&wrong.stderr);
    assert!(msg.contains("wrong passphrase"), "{msg}");
    let none = e.cmd_with(None).args(["list"]).output().unwrap();
    assert_eq!(none.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&none.stderr);
    assert!(
        msg.contains("encrypted") && msg.contains("ATHAR_PASSPHRASE"),
        "{msg}"
    );
    assert_eq!(
        files(&e.archive),
        before,
        "a refused command changed the archive"
    );
    // From a file, with its final newline, it opens.
    let file = e.path("pass.txt");
    std::fs::write(&file, format!("{PASSPHRASE}\n")).unwrap();
    e.ok_with(None, &[("ATHAR_PASSPHRASE_FILE", &file)], &["list"]);
}

#[test]
fn the_server_reads_ranges_of_sealed_blobs() {
    let e = Enc::new();
    let clip = e.path("clip.bin");
    let bytes = evidence(&clip, b"RANGE-PATTERN");
    let item = e.ingest(&clip);
    let mut add = e
        .cmd_with(Some(PASSPHRASE))
        .args([
            "user",
            "add",
            "rana",
            "--role",
            "investigator",
            "--case",
            "pits",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut input = add.stdin.take().unwrap();
        input.write_all(b"a long synthetic password\n").unwrap();
    }
    assert!(add.wait().unwrap().success());
    let mut child = e
        .cmd_with(Some(PASSPHRASE))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    {
        use std::io::BufRead as _;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
    }
    let base = line
        .trim()
        .strip_prefix("Listening on ")
        .unwrap()
        .to_owned();
    let (cookie, csrf) = common::session(&base, "rana", "a long synthetic password");
    let _ = csrf;
    let url = format!("{base}/api/items/{item}/content");
    let n = bytes.len();
    for (range, first, last) in [
        ("bytes=0-9", 0, 9),
        ("bytes=200000-200099", 200_000, 200_099),
        ("bytes=65530-65545", 65_530, 65_545),
        ("bytes=-5", n - 5, n - 1),
    ] {
        let a = http("GET", &url, &[("cookie", &cookie), ("range", range)], None);
        assert_eq!(a.status, 206, "{range}: {}", a.body);
        assert_eq!(a.bytes, &bytes[first..=last], "{range}");
    }
    let whole = http("GET", &url, &[("cookie", &cookie)], None);
    assert_eq!(whole.bytes, bytes);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn passphrases_and_recipients_change_without_touching_the_data() {
    use age::secrecy::ExposeSecret as _;
    let e = Enc::new();
    let clip = e.path("clip.bin");
    let bytes = evidence(&clip, b"SLOTS");
    e.ok(&["ingest", "--case", "pits", clip.to_str().unwrap()]);
    let blobs_before = files(&e.archive.join("blobs"));
    let catalog_before = std::fs::read(e.archive.join("catalog.sqlite")).unwrap();
    // A new passphrase, then the old one removed: a passphrase change.
    let out = e
        .cmd_with(Some(PASSPHRASE))
        .env("ATHAR_NEW_PASSPHRASE", "the second synthetic passphrase")
        .args(["key", "add-passphrase"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An offline recovery key.
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    e.ok(&["key", "add-recipient", &recipient, "--label", "recovery"]);
    e.ok(&["key", "remove", "p1"]);
    let listed: serde_json::Value =
        serde_json::from_str(&e_list(&e, "the second synthetic passphrase")).unwrap();
    let kinds: Vec<_> = listed["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["slot"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("p2".to_owned(), "passphrase".to_owned()),
            ("r1".to_owned(), "age".to_owned())
        ]
    );
    let old = e
        .cmd_with(Some(PASSPHRASE))
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(
        old.status.code(),
        Some(2),
        "the removed passphrase still opens it"
    );
    // The identity opens it with no passphrase at all.
    let id_file = e.path("recovery.txt");
    std::fs::write(&id_file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let by_identity = [("ATHAR_IDENTITY", id_file.as_path())];
    let unlocked = e.ok_with(None, &by_identity, &["unlock", "--json"]).stdout;
    let unlocked: serde_json::Value = serde_json::from_slice(&unlocked).unwrap();
    assert_eq!(unlocked["slot"], "r1", "{unlocked}");
    let wrong = e
        .cmd_with(Some(PASSPHRASE))
        .args(["unlock"])
        .output()
        .unwrap();
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "the removed passphrase unlocks"
    );
    let listed = e.ok_with(None, &by_identity, &["list"]).stdout;
    let item = String::from_utf8_lossy(&listed)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(e.ok_with(None, &by_identity, &["cat", &item]).stdout, bytes);
    // The last slot is never removed.
    e.ok_with(
        Some("the second synthetic passphrase"),
        &[],
        &["key", "remove", "r1"],
    );
    let refused = e
        .cmd_with(Some("the second synthetic passphrase"))
        .args(["key", "remove", "p2"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("last one"));
    // No blob was rewritten; the catalog was not re-keyed.
    assert_eq!(files(&e.archive.join("blobs")), blobs_before);
    let catalog_after = std::fs::read(e.archive.join("catalog.sqlite")).unwrap();
    assert_eq!(catalog_after[..4096], catalog_before[..4096]);
}

fn e_list(e: &Enc, pass: &str) -> String {
    String::from_utf8(
        e.ok_with(Some(pass), &[], &["key", "list", "--json"])
            .stdout,
    )
    .unwrap()
}

/// Every file under the archive: none holds a victim's name, the protected identity, the
/// footage's bytes or a plain SQLite header.
fn assert_nothing_readable(e: &Enc, footage: &[u8], pattern: &[u8]) {
    let all = files(&e.archive);
    assert!(all.len() > 5, "{} files", all.len());
    let sha = sha256_hex(footage);
    for (path, data) in &all {
        assert!(!path.to_string_lossy().contains(&sha), "{}", path.display());
        for needle in [
            VICTIM.as_bytes(),
            "Qarnawi".as_bytes(),
            VICTIM_AR.as_bytes(),
            IDENTITY.as_bytes(),
            "Halloumi".as_bytes(),
            pattern,
            &footage[1000..1064],
            b"SQLite format 3",
        ] {
            assert!(
                !contains(data, needle),
                "{} holds {:?}",
                path.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[test]
fn an_archive_encrypted_in_place_survives_kill_9_and_verifies() {
    let e = Enc::plain();
    let pattern = b"IN-PLACE-FOOTAGE-PATTERN-0123456789";
    let clip = e.path("clip.bin");
    let footage = evidence(&clip, pattern);
    let item = e.ingest(&clip);
    // Enough small files that the blobs take a while to seal.
    let many = e.path("many");
    std::fs::create_dir(&many).unwrap();
    let mut rng = common::Rng(7);
    let mut small = Vec::new();
    for i in 0..300 {
        let mut bytes = vec![0u8; 2_000 + (i * 37) % 9_000];
        rng.fill(&mut bytes);
        std::fs::write(many.join(format!("f{i:03}.bin")), &bytes).unwrap();
        small.push(bytes);
    }
    e.ok_with(
        None,
        &[],
        &["ingest", "--case", "pits", many.to_str().unwrap()],
    );
    records(&e);
    assert!(e
        .ok(&["search", "--json", "Qarnawi"])
        .contains("\"person\""));
    assert!(e.archive.join("blobs/sha256").is_dir());

    // Killed at growing delays until a run finishes on its own.
    let mut kills = 0;
    let mut interrupted_seen = false;
    let mut delay = std::time::Duration::from_millis(40);
    let finished = loop {
        let mut child = e
            .cmd_with(Some(PASSPHRASE))
            .args(["encrypt", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        if e.archive.join("encrypting").exists() {
            // Meanwhile the archive names what to do, and nothing else opens it.
            let out = e.run(&["list"]);
            assert_eq!(out.status.code(), Some(2));
            let msg = String::from_utf8_lossy(&out.stderr);
            assert!(msg.contains("athar encrypt"), "{msg}");
            interrupted_seen = true;
        }
        delay = delay * 3 / 2;
    };
    assert!(kills >= 2, "only {kills} runs were killed");
    assert!(interrupted_seen, "no run was killed mid-way");
    assert_eq!(finished["resumed"], true, "{finished}");

    // The archive is whole, encrypted, and works.
    let verified: serde_json::Value =
        serde_json::from_str(e.ok(&["verify", "--json"]).trim()).unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["items"], 301, "{verified}");
    assert_eq!(
        e.ok_with(Some(PASSPHRASE), &[], &["cat", &item]).stdout,
        footage
    );
    let listed = e.ok(&["list", "--json"]);
    let items = json_lines(listed.as_bytes());
    let mut held: Vec<Vec<u8>> = Vec::new();
    for it in &items {
        let id = it["item"].as_str().unwrap();
        held.push(e.ok_with(Some(PASSPHRASE), &[], &["cat", id]).stdout);
    }
    for bytes in &small {
        assert!(held.contains(bytes), "a small file's bytes were lost");
    }
    assert!(e
        .ok(&["search", "--json", "Qarnawi"])
        .contains("\"person\""));
    let revealed = e.ok(&["source", "show", "w1", "--reveal-protected"]);
    assert!(revealed.contains(IDENTITY), "{revealed}");
    assert!(!e.archive.join("blobs/sha256").exists());
    assert!(!e.archive.join("encrypting").exists());
    assert_nothing_readable(&e, &footage, pattern);
    let none = e.cmd_with(None).args(["list"]).output().unwrap();
    assert_eq!(none.status.code(), Some(2));
    // Once is enough.
    let again = e.run(&["encrypt"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already encrypted"));
}

/// Ingests `file` into `case` (no jobs); its item id.
fn ingest_into(e: &Enc, case: &str, file: &Path) -> String {
    let out = e.ok(&["ingest", "--json", "--case", case, file.to_str().unwrap()]);
    json_lines(out.as_bytes())[0]["item"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_erased_case_is_unreadable_for_good_and_its_custody_still_proves() {
    let e = Enc::new();
    let own = e.path("own.bin");
    let own_bytes = evidence(&own, b"ERASED-CASE-FOOTAGE");
    let own_item = ingest_into(&e, "pits", &own);
    let other = e.path("other.bin");
    let other_bytes = evidence(&other, b"OTHER-CASE-FOOTAGE");
    std::fs::write(&other, [&other_bytes[..], b"other"].concat()).unwrap();
    let other_item = ingest_into(&e, "other", &other);
    // The same bytes preserved for both cases: kept when one goes.
    let shared = e.path("shared.bin");
    let mut shared_bytes = evidence(&shared, b"SHARED-FOOTAGE");
    shared_bytes.extend_from_slice(b"shared");
    std::fs::write(&shared, &shared_bytes).unwrap();
    let shared_item = ingest_into(&e, "pits", &shared);
    assert_eq!(ingest_into(&e, "other", &shared), shared_item);
    // A video analysed while only this case held it: its review images were sealed under
    // the case's key, and must stay readable for the other case that holds it too.
    let video = common::clip_at(
        e.path("clip.mp4"),
        "testsrc=size=160x120:rate=10",
        "2",
        "null",
    );
    if let Some(video) = &video {
        let id = e.ingest(video);
        assert_eq!(ingest_into(&e, "other", video), id);
    }
    let kept_shared = if video.is_some() { 2 } else { 1 };
    records(&e);
    let kept = e.path("kept.jsonl");
    std::fs::write(
        &kept,
        r#"{"kind":"person","key":"k1","case":"other","names":[{"name":"Kept Syntheticperson"}]}"#,
    )
    .unwrap();
    e.ok(&["records", "import", kept.to_str().unwrap()]);
    // A proof handed out before the erasure, and the vkey to check it.
    let proof = e.path("own.tlog-proof");
    std::fs::write(&proof, e.ok(&["log", "proof", &own_item])).unwrap();
    let vkey = e.ok(&["log", "vkey"]).trim().to_owned();
    // Copies of the case's sealed blobs and of the catalog, as a backup or the disk's
    // free space keeps them.
    let before: Vec<_> = files(&e.archive.join("blobs/sealed"));
    let revealed = e.ok(&["source", "show", "w1", "--reveal-protected"]);
    assert!(revealed.contains(IDENTITY), "{revealed}");
    let catalog_backup: Vec<(PathBuf, Vec<u8>)> = files(&e.archive)
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains("catalog.sqlite"))
        .collect();

    // Not without confirmation, and not in a plain archive.
    let unconfirmed = e.run(&["case", "erase", "pits", "--crypto"]);
    assert_eq!(unconfirmed.status.code(), Some(2), "{unconfirmed:?}");
    assert!(e
        .ok(&["search", "--json", "Qarnawi"])
        .contains("\"person\""));

    let done: serde_json::Value = serde_json::from_str(
        e.ok(&["case", "erase", "pits", "--crypto", "--yes", "--json"])
            .trim(),
    )
    .unwrap();
    assert_eq!(done["items"], 1, "{done}");
    assert_eq!(done["records"], 3, "{done}");
    assert_eq!(done["kept_shared"], kept_shared, "{done}");
    assert_eq!(done["under_archive_key"], 0, "{done}");
    assert_eq!(done["logged"], 4, "{done}");

    // verify reports the case as erased, not as tampered with.
    let verified: serde_json::Value =
        serde_json::from_str(e.ok(&["verify", "--json"]).trim()).unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["erased"][0]["case"], "pits", "{verified}");
    assert_eq!(verified["erased"][0]["subjects"], 4, "{verified}");
    let text = e.ok(&["verify"]);
    assert!(text.contains("Case pits was erased"), "{text}");
    // Its content and records are gone; the other case's and the shared item are not.
    let gone = e.run(&["cat", &own_item]);
    assert_ne!(gone.status.code(), Some(0));
    assert!(!contains(&gone.stdout, &own_bytes[1000..1064]));
    assert_eq!(
        e.ok_with(Some(PASSPHRASE), &[], &["cat", &shared_item])
            .stdout,
        shared_bytes
    );
    assert_eq!(
        e.ok_with(Some(PASSPHRASE), &[], &["cat", &other_item])
            .stdout,
        [&other_bytes[..], b"other"].concat()
    );
    assert!(!e
        .ok(&["search", "--json", "Qarnawi"])
        .contains("\"person\""));
    assert!(!e
        .ok(&["search", "--json", "Halloumi"])
        .contains("\"source\""));
    assert!(e
        .ok(&["search", "--json", "Syntheticperson"])
        .contains("\"person\""));
    let listed = e.ok(&["person", "list", "--json"]);
    assert!(
        !listed.contains("Qarnawi") && listed.contains("Syntheticperson"),
        "{listed}"
    );
    // Nothing more can be added to it: neither files nor records.
    let refused = e.run(&["ingest", "--case", "pits", own.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        msg.contains("was erased") && msg.matches("keyring.json").count() == 1,
        "{msg}"
    );
    let refused = e.run(&[
        "person",
        "add",
        "--case",
        "pits",
        "--name",
        "Late Syntheticname",
    ]);
    assert_ne!(
        refused.status.code(),
        Some(0),
        "a record was added to an erased case"
    );
    assert!(!e
        .ok(&["search", "--json", "Syntheticname"])
        .contains("Late"));
    // The proof handed out before still verifies, against the bytes too.
    let checked = e.ok(&[
        "log",
        "verify-proof",
        proof.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--content",
        own.to_str().unwrap(),
    ]);
    assert!(!checked.is_empty());
    // The keyring holds no key for it any more; and a copy of its blob, put back, cannot
    // be read with every key the archive has.
    let ring: serde_json::Value = serde_json::from_str(&e_list(&e, PASSPHRASE)).unwrap();
    assert_eq!(ring["case_keys"].as_array().unwrap().len(), 1, "{ring}");
    assert_eq!(ring["erased"].as_object().unwrap().len(), 1, "{ring}");
    let after = files(&e.archive.join("blobs/sealed"));
    let removed: Vec<_> = before
        .iter()
        .filter(|(p, _)| !after.iter().any(|(q, _)| q == p))
        .collect();
    assert_eq!(removed.len(), 1, "one blob file goes");
    let (path, bytes) = removed[0];
    std::fs::write(path, bytes).unwrap();
    let out = e.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("unreadable") && report.contains("cannot be unsealed"),
        "{report}"
    );
    // The catalog put back from before the erasure opens with the archive key, but the
    // protected source's identity was sealed under the case's key: it stays closed.
    for (p, _) in files(&e.archive) {
        if p.to_string_lossy().contains("catalog.sqlite") {
            std::fs::remove_file(p).unwrap();
        }
    }
    for (p, bytes) in &catalog_backup {
        std::fs::write(p, bytes).unwrap();
    }
    let out = e.run(&["source", "show", "w1", "--reveal-protected"]);
    let all = [out.stdout.clone(), out.stderr.clone()].concat();
    assert!(
        !contains(&all, IDENTITY.as_bytes()),
        "the identity was read"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be opened"),
        "{out:?}"
    );
}

#[test]
fn erasing_a_case_needs_an_encrypted_archive() {
    let e = Enc::plain();
    let clip = e.path("clip.bin");
    evidence(&clip, b"PLAIN");
    ingest_into(&e, "pits", &clip);
    let out = e.run(&["case", "erase", "pits", "--crypto", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("encrypted archive") && msg.contains("athar encrypt"),
        "{msg}"
    );
}

#[test]
fn a_bag_from_an_encrypted_archive_verifies_like_any_other() {
    let e = Enc::new();
    let clip = e.path("clip.bin");
    let bytes = evidence(&clip, b"HANDED-OVER-FOOTAGE");
    let item = e.ingest(&clip);
    let bag = e.path("bag");
    e.ok(&[
        "export",
        "--case",
        "pits",
        "--to",
        "A synthetic prosecutor's office",
        "--out",
        bag.to_str().unwrap(),
    ]);
    let vkey = e.ok(&["log", "vkey"]).trim().to_owned();
    // Checked with no archive and no passphrase, as a receiver does.
    let out = Command::new(athar_bin())
        .args([
            "--archive",
            "/nonexistent",
            "verify-bag",
            "--json",
            "--vkey",
            &vkey,
        ])
        .arg(&bag)
        .env_remove("ATHAR_PASSPHRASE")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["bagit_valid"], true, "{v}");
    let items = v["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{v}");
    assert!(items.iter().all(|i| i["state"] == "verified"), "{v}");
    assert!(items.iter().any(|i| i["item"] == item.as_str()), "{v}");
    // The payload is the plain bytes: the receiver is meant to read them.
    let payload: Vec<_> = files(&bag.join("data"));
    assert!(payload.iter().any(|(_, b)| *b == bytes));
    // The bag was built in memory, not in the archive's folder.
    assert!(!e.archive.join("exports").exists());
}
