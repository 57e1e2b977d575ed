//! `athar capture` and `athar sources` end to end against the fixture site: a capture's
//! files are items with `capture` custody events and one capture record ties them; search
//! finds it by address, domain, uploader and title; the deletion watch records each change
//! of a source's state as exactly one custody event and never calls a source gone on one
//! failure; `kill -9` mid-capture leaves a consistent archive with nothing half-visible.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use athar_capture::fixture::{FixtureSite, PathState};
use common::{json_lines, Env};
use serde_json::Value;

fn capture(env: &Env, args: &[&str]) -> Vec<Value> {
    let out = env.run(&[&["capture", "--case", "Web", "--json"], args].concat());
    assert!(
        out.status.success(),
        "capture failed ({:?}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

fn capture_events(env: &Env, item: &str) -> Vec<Value> {
    let out = env.run(&["show", "--json", item]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "capture")
        .cloned()
        .collect()
}

fn sources(env: &Env) -> Vec<Value> {
    let out = env.run(&["sources", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

fn show_capture(env: &Env, id: &str) -> Value {
    let out = env.run(&["sources", "show", id, "--json"]);
    assert!(
        out.status.success(),
        "show {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn record_events(env: &Env, id: &str) -> usize {
    show_capture(env, id)["history"].as_array().unwrap().len()
}

fn check(env: &Env, ca: &str) -> Vec<Value> {
    let out = env.run(&["sources", "check", "--json", "--tries", "2", "--ca", ca]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

#[test]
fn captures_are_items_with_custody_and_sources_are_watched() {
    let media = tempfile::tempdir().unwrap();
    let site = FixtureSite::start(media.path(), 2).unwrap();
    let env = Env::new();
    let ca = env.path("ca.pem");
    std::fs::write(&ca, site.ca_pem()).unwrap();
    let list = env.path("urls.csv");
    std::fs::write(
        &list,
        format!(
            "title,url\nfirst,{}/video/0\nsecond,{}/video/1\n",
            site.https_base(),
            site.http_base()
        ),
    )
    .unwrap();
    let lines = capture(
        &env,
        &[
            "--from",
            list.to_str().unwrap(),
            "--ca",
            ca.to_str().unwrap(),
            "--source",
            "channel T",
        ],
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert_eq!(l["complete"], true, "{l}");
        let files = l["files"].as_array().unwrap();
        let roles: Vec<&str> = files.iter().map(|f| f["role"].as_str().unwrap()).collect();
        for want in [
            "wacz",
            "screenshot",
            "pdf",
            "html-served",
            "html-dom",
            "media",
            "media-info",
        ] {
            assert!(roles.contains(&want), "{want} missing from {roles:?}");
        }
        // Each file is an item with a capture event naming this address and its role (a
        // file both captures share, the same bytes, has one from each).
        for f in files {
            let item = f["item"].as_str().unwrap();
            let events = capture_events(&env, item);
            assert!(
                events
                    .iter()
                    .any(|e| e["details"]["capture"]["url"] == l["url"]
                        && e["details"]["capture"]["role"] == f["role"]),
                "{item}: {events:?}"
            );
            let cat = env.cat(item);
            assert!(cat.status.success());
            assert_eq!(
                common::sha256_hex(&cat.stdout),
                f["sha256"].as_str().unwrap()
            );
        }
    }
    env.assert_verifies();

    // Captured media are fingerprinted like any item: the site's own file finds them.
    assert!(env.run(&["jobs", "--run"]).status.success());
    let out = env.run(&[
        "similar",
        "--json",
        media.path().join("0.mp4").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    let media_item = lines
        .iter()
        .find(|l| l["url"].as_str().unwrap().ends_with("/video/0"))
        .unwrap()["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["role"] == "media")
        .unwrap()["item"]
        .clone();
    assert!(
        found["matches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["item"] == media_item),
        "{found}"
    );

    // Search: by address, domain, uploader, title.
    for q in ["localhost", "Uploader 1", "video/0"] {
        let out = env.run(&["search", "--json", q]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let hits = v["hits"].as_array().unwrap();
        assert!(
            hits.iter().any(|h| h["kind"] == "capture"),
            "search {q:?} found no capture: {hits:?}; {:?}",
            lines
                .iter()
                .map(
                    |l| show_capture(&env, l["capture"].as_str().unwrap())["record"]["media"]
                        .clone()
                )
                .collect::<Vec<_>>()
        );
    }

    // The watch: both available; nothing recorded when nothing changed.
    let s = sources(&env);
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|x| x["state"] == "available"), "{s:?}");
    // Lines come in the order captures finish.
    let of = |part: &str| {
        lines
            .iter()
            .find(|l| l["url"].as_str().unwrap().ends_with(part))
            .unwrap()["capture"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = of("/video/0");
    let second = of("/video/1");
    let before = (record_events(&env, &first), record_events(&env, &second));
    let c = check(&env, ca.to_str().unwrap());
    assert!(
        c.iter()
            .all(|x| x["changed"].as_array().unwrap().is_empty()),
        "{c:?}"
    );
    assert_eq!(
        (record_events(&env, &first), record_events(&env, &second)),
        before
    );

    // Taken down and edited: one event each; again: none.
    site.set_state("/video/0", PathState::Removed);
    site.set_state("/video/1", PathState::Changed);
    let c = check(&env, ca.to_str().unwrap());
    let state = |url_part: &str| {
        c.iter()
            .find(|x| x["url"].as_str().unwrap().contains(url_part))
            .map(|x| x["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state("/video/0").as_deref(), Some("gone"), "{c:?}");
    assert_eq!(state("/video/1").as_deref(), Some("changed"), "{c:?}");
    assert_eq!(record_events(&env, &first), before.0 + 1);
    assert_eq!(record_events(&env, &second), before.1 + 1);
    check(&env, ca.to_str().unwrap());
    assert_eq!(record_events(&env, &first), before.0 + 1);
    // `athar show` of any file of the capture names it, its files and its source's history.
    let wacz = lines
        .iter()
        .find(|l| l["capture"] == first.as_str())
        .unwrap()["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["role"] == "wacz")
        .unwrap()["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = env.run(&["show", "--json", &wacz]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["captures"][0];
    assert_eq!(c["capture"], first.as_str());
    assert_eq!(c["role"], "wacz");
    assert_eq!(c["source"]["state"], "gone");
    let states: Vec<_> = c["source"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["available", "gone"]);
    // Handing over one file of a capture hands over its whole bundle.
    let bag = env.path("bag");
    let out = env.run(&["export", "--json", "--out", bag.to_str().unwrap(), &wacz]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let distinct: std::collections::HashSet<_> = c["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item"].clone())
        .collect();
    assert_eq!(summary["items"].as_u64().unwrap() as usize, distinct.len());
    let text = env.run(&["show", &wacz]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("the archive holds the only copy"));
    let out = env.run(&["sources", "--gone", "--json"]);
    let gone = json_lines(&out.stdout);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["only_copy"], true);

    // Down: unreachable after retries, but a gone source stays gone.
    site.set_state("/video/0", PathState::Down);
    site.set_state("/video/1", PathState::Down);
    let c = check(&env, ca.to_str().unwrap());
    assert!(c.iter().all(|x| x["state"] == "unreachable"), "{c:?}");
    assert_eq!(
        record_events(&env, &first),
        before.0 + 1,
        "gone became unreachable"
    );
    assert_eq!(record_events(&env, &second), before.1 + 2);
    let s = sources(&env);
    let st = |id: &str| s.iter().find(|x| x["capture"] == id).unwrap()["state"].clone();
    assert_eq!(st(&first), "gone");
    assert_eq!(st(&second), "unreachable");

    // 404 and the log-in wall.
    site.set_state("/video/1", PathState::LoginWall);
    let c = check(&env, ca.to_str().unwrap());
    assert!(c.iter().any(|x| x["state"] == "login"), "{c:?}");
    site.set_state("/video/1", PathState::NotFound);
    let c = check(&env, ca.to_str().unwrap());
    assert!(c.iter().any(|x| x["state"] == "gone"), "{c:?}");
    env.assert_verifies();

    // A case's hand-over carries its captures whole: received elsewhere, each capture
    // names the receiving archive's items, and any of them names its capture.
    let bag = env.path("case-bag");
    let out = env.run(&[
        "export",
        "--json",
        "--case",
        "Web",
        "--records",
        "--out",
        bag.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = std::fs::read_to_string(env.archive.join("keys/archive.vkey")).unwrap();
    let receiver = Env::new();
    let out = receiver.run(&[
        "import-bag",
        "--json",
        "--vkey",
        vkey.trim(),
        bag.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = sources(&receiver);
    assert_eq!(received.len(), 2, "{received:?}");
    for r in &received {
        let shown = show_capture(&receiver, r["capture"].as_str().unwrap());
        for f in shown["record"]["artefacts"].as_array().unwrap() {
            let out = receiver.run(&["show", "--json", f["item"].as_str().unwrap()]);
            assert!(
                out.status.success(),
                "{f}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["item"]["sha256"], f["sha256"]);
            assert_eq!(v["captures"][0]["capture"], r["capture"], "{v}");
        }
    }
    receiver.assert_verifies();

    // `--due` checks nothing just checked.
    let out = env.run(&[
        "sources",
        "check",
        "--json",
        "--due",
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(json_lines(&out.stdout).is_empty());
}

#[test]
fn bad_addresses_are_refused_by_name_and_nothing_is_kept() {
    let env = Env::new();
    let list = env.path("urls.txt");
    std::fs::write(&list, "https://example.org/a\nftp://example.org/b\n").unwrap();
    let out = env.run(&["capture", "--case", "Web", "--from", list.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("urls.txt: line 2"), "{err}");
    let out = env.run(&["capture", "--case", "Web", "not a url"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["list", "--json"]);
    assert!(json_lines(&out.stdout).is_empty());
}

#[test]
fn kill_9_mid_capture_leaves_a_consistent_archive() {
    let media = tempfile::tempdir().unwrap();
    let site = FixtureSite::start(media.path(), 1).unwrap();
    let env = Env::new();
    let url = format!("{}/video/0", site.http_base());
    // Killed while the browser works (before anything is kept), then mid-keep, at random
    // instants across a whole capture.
    let whole = {
        let started = Instant::now();
        capture(&env, &[&url]);
        started.elapsed()
    };
    let kept_before = sources(&env).len();
    let mut rng = common::Rng(0x5eed);
    for _ in 0..4 {
        let delay = Duration::from_millis(rng.below(whole.as_millis() as u64 + 1));
        let mut child = env
            .cmd()
            .args(["capture", "--case", "Web", "--json", &url])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        env.assert_verifies();
        // A capture is either whole (its record names every file, each an item) or absent.
        for s in sources(&env) {
            let r = show_capture(&env, s["capture"].as_str().unwrap());
            for f in r["record"]["artefacts"].as_array().unwrap() {
                let cat = env.cat(f["item"].as_str().unwrap());
                assert!(cat.status.success(), "{f} not readable after a kill");
            }
        }
        let _ = out;
    }
    assert!(sources(&env).len() >= kept_before);
    // Leftover working folders of killed captures are swept by the next one.
    capture(&env, &[&url]);
    let staged = env.archive.join("captures");
    let left: Vec<_> = std::fs::read_dir(&staged)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every byte the kept artefacts of capture `line` hold, the WACZ's WARCs and files
/// uncompressed, one entry per file.
fn kept_bytes(env: &Env, line: &Value) -> Vec<(String, Vec<u8>)> {
    use std::io::Read as _;
    let mut out = Vec::new();
    for f in line["files"].as_array().unwrap() {
        let cat = env.cat(f["item"].as_str().unwrap());
        assert!(cat.status.success());
        let name = f["name"].as_str().unwrap_or("?").to_owned();
        if f["role"] == "wacz" {
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(cat.stdout)).unwrap();
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).unwrap();
                let entry_name = entry.name().to_owned();
                let mut raw = Vec::new();
                entry.read_to_end(&mut raw).unwrap();
                let bytes = if entry_name.ends_with(".gz") {
                    let mut plain = Vec::new();
                    flate2::read::MultiGzDecoder::new(raw.as_slice())
                        .read_to_end(&mut plain)
                        .unwrap();
                    plain
                } else {
                    raw
                };
                out.push((format!("{name}/{entry_name}"), bytes));
            }
        } else {
            out.push((name, cat.stdout));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_profile_captures_logged_in_and_its_cookies_are_not_kept_and_hls_is_taken() {
    use std::os::unix::fs::PermissionsExt as _;
    let media = tempfile::tempdir().unwrap();
    let site = FixtureSite::start(media.path(), 1).unwrap();
    let env = Env::new();
    let members = format!("{}/members", site.http_base());
    let (name, secret) = athar_capture::fixture::MEMBER_COOKIE;

    // Without the profile the page is a log-in wall.
    let lines = capture(&env, &["--no-media", &members]);
    let record = &show_capture(&env, lines[0]["capture"].as_str().unwrap())["record"];
    assert!(
        record["final_url"].as_str().unwrap().ends_with("/login"),
        "{record:#}"
    );

    // A profile made of a cookies.txt exported from a browser: refused while others may
    // read it, or while a line is malformed, naming the file.
    let profile = env.archive.join("profiles").join("member");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o700)).unwrap();
    let jar = profile.join("cookies.txt");
    let host = site
        .http_base()
        .split("//")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(&jar, "# Netscape HTTP Cookie File\nbroken line\n").unwrap();
    std::fs::set_permissions(&jar, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.run(&["capture", "--case", "Web", "--profile", "member", &members]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cookies.txt") && err.contains("line 2"),
        "{err}"
    );
    std::fs::write(
        &jar,
        format!(
            "# Netscape HTTP Cookie File\n#HttpOnly_{host}\tFALSE\t/\tFALSE\t0\t{name}\t{secret}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&jar, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["capture", "--case", "Web", "--profile", "member", &members]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&jar, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Logged in: the members' page and its video, the browser and yt-dlp both let in.
    let lines = capture(&env, &["--profile", "member", &members]);
    let line = &lines[0];
    assert_eq!(line["complete"], true, "{line}");
    let record = &show_capture(&env, line["capture"].as_str().unwrap())["record"];
    assert_eq!(record["final_url"].as_str().unwrap(), members, "{record:#}");
    assert!(
        record["title"]
            .as_str()
            .unwrap()
            .contains("Members video 0"),
        "{record:#}"
    );
    assert_eq!(record["network"]["profile"], "member");
    let mp4 = std::fs::read(media.path().join("0.mp4")).unwrap();
    let media_file = line["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["role"] == "media")
        .unwrap_or_else(|| panic!("yt-dlp took no media logged in: {line}"));
    assert_eq!(
        env.cat(media_file["item"].as_str().unwrap()).stdout,
        mp4,
        "the members' video is the site's file"
    );
    // The account's cookie is in none of the kept files (the WARC, the info JSON, the
    // HTML…), though it was sent and renewed: the WARC says where it was withheld.
    let kept = kept_bytes(&env, line);
    for (file, bytes) in &kept {
        assert!(
            !contains(bytes, secret.as_bytes()),
            "{file} holds the session cookie"
        );
    }
    let warc = kept
        .iter()
        .find(|(f, _)| f.ends_with(".warc.gz"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("a WARC in the WACZ");
    assert!(
        warc.contains("Cookie: [withheld by Athar]"),
        "request cookie"
    );
    assert!(
        warc.contains("Set-Cookie: [withheld by Athar]"),
        "renewed cookie"
    );
    // The profile's own file is as it was (yt-dlp wrote to a copy).
    assert!(
        std::fs::read_to_string(&jar).unwrap().contains(secret),
        "the profile's cookies.txt was changed"
    );

    // A page playing an HLS stream: yt-dlp takes the stream whole.
    let lines = capture(&env, &[&format!("{}/hls", site.http_base())]);
    let line = &lines[0];
    assert_eq!(line["complete"], true, "{line}");
    let stream = line["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["role"] == "media")
        .unwrap_or_else(|| panic!("no media from the HLS page: {line}"));
    let probe = env.cat(stream["item"].as_str().unwrap()).stdout;
    assert!(probe.len() > 10_000, "the stream is {} bytes", probe.len());
    let record = &show_capture(&env, line["capture"].as_str().unwrap())["record"];
    assert!(
        !record["media"].as_array().unwrap().is_empty(),
        "{record:#}"
    );
    assert!(site.hits("/media/stream/index.m3u8") >= 1);
    env.assert_verifies();
}
