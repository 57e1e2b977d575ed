//! Web capture through the HTTP API, end to end against the fixture site: an investigator
//! queues two addresses (one HTTPS, trusted through `ATHAR_CAPTURE_CA`), the server
//! captures them in the background and keeps each as items with `capture` custody events
//! and one capture record, which the captures route lists with its files; bad addresses
//! are refused by name before anything is queued; a viewer may read but not capture, and
//! someone not on the case gets the answer a case that does not exist gets. Then the
//! server's deletion watch (every few seconds here, `ATHAR_CHECK_SOURCES_EVERY`) finds a
//! source taken down: its capture turns `gone` with exactly one new custody event, and the
//! other source, unchanged, gets none; a case set not to be watched
//! (`[capture.cases."quiet"] check_every_hours = 0`) has its source taken down and never
//! checked. Captures queued when the server is killed are made once it starts again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use athar_capture::fixture::{FixtureSite, PathState};
use common::{http, session, Env, Served};
use serde_json::{json, Value};

const PW: &str = "synthetic-password-123";

/// `athar serve` over `archive` with these environment variables.
fn serve_with(archive: &Path, envs: &[(&str, &str)]) -> Served {
    let mut child = Command::new(common::athar_bin())
        .arg("--archive")
        .arg(archive)
        .env_remove("ATHAR_ARCHIVE")
        .envs(envs.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start athar serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("Listening on ")
        .unwrap_or_else(|| panic!("athar serve said {line:?}"))
        .to_owned();
    Served { child, base }
}

/// A signed-in user: cookie header and CSRF token.
struct Who {
    cookies: String,
    csrf: String,
}

impl Who {
    fn new(base: &str, user: &str) -> Who {
        let (cookies, csrf) = session(base, user, PW);
        Who { cookies, csrf }
    }

    fn get(&self, base: &str, path: &str) -> common::Answer {
        http(
            "GET",
            &format!("{base}{path}"),
            &[("cookie", &self.cookies)],
            None,
        )
    }

    fn post(&self, base: &str, path: &str, body: &Value) -> common::Answer {
        http(
            "POST",
            &format!("{base}{path}"),
            &[("cookie", &self.cookies), ("x-csrf-token", &self.csrf)],
            Some(&body.to_string()),
        )
    }
}

/// Reads the captures of case `web` until `done` says so (or fails after `limit`, showing
/// the last answer).
fn wait_for(
    who: &Who,
    base: &str,
    limit: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    wait_for_case(who, base, "web", limit, what, done)
}

/// Reads `case`'s captures until `done` says so (or fails after `limit`, showing the last
/// answer).
fn wait_for_case(
    who: &Who,
    base: &str,
    case: &str,
    limit: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let r = who.get(base, &format!("/api/cases/{case}/captures"));
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        if done(&v) {
            return v;
        }
        assert!(
            started.elapsed() < limit,
            "waited {limit:?} for {what}: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The number of custody events on record `id`.
fn history(who: &Who, base: &str, id: &str) -> Vec<Value> {
    let r = who.get(base, &format!("/api/records/{id}/history"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["events"].as_array().unwrap().clone()
}

fn capture_of<'a>(v: &'a Value, url: &str) -> &'a Value {
    v["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["url"] == url)
        .unwrap_or_else(|| panic!("no capture of {url}: {v:#}"))
}

#[test]
fn captures_over_the_api_are_kept_and_watched() {
    let media = tempfile::tempdir().unwrap();
    let site = FixtureSite::start(media.path(), 3).unwrap();
    let env = Env::new();
    env.add_cases(&[
        ("web", "Synthetic web case"),
        ("other", "Synthetic other case"),
        ("quiet", "Synthetic unwatched case"),
    ]);
    env.add_user("inv", "investigator", Some("web"), PW);
    env.add_user("view", "viewer", Some("web"), PW);
    env.add_user("outsider", "investigator", Some("other"), PW);
    env.add_user("admin", "admin", None, PW);
    common::without_second_factor(&env.archive);
    common::append_config(
        &env.archive,
        "\n[capture.cases.quiet]\ncheck_every_hours = 0\n",
    );
    let ca = env.path("ca.pem");
    std::fs::write(&ca, site.ca_pem()).unwrap();
    let served = serve_with(
        &env.archive,
        &[
            ("ATHAR_CAPTURE_CA", ca.to_str().unwrap()),
            ("ATHAR_CHECK_SOURCES_EVERY", "3"),
        ],
    );
    let base = served.base.as_str();
    let inv = Who::new(base, "inv");
    let view = Who::new(base, "view");
    let outsider = Who::new(base, "outsider");

    let first = format!("{}/video/0", site.https_base());
    let second = format!("{}/video/1", site.http_base());
    let quiet = format!("{}/video/2", site.http_base());

    // Nothing yet; the server captures.
    let v = inv.get(base, "/api/cases/web/captures").json();
    assert_eq!(v["available"], true, "{v}");
    assert_eq!(v["captures"], json!([]));
    assert_eq!(v["jobs"], json!([]));

    // Every address is checked before any is queued: a bad one is named.
    for bad in ["ftp://example.org/b", "not a url", "https:///nohost"] {
        let r = inv.post(
            base,
            "/api/captures",
            &json!({"case": "web", "urls": [first, bad]}),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        let msg = r.json()["error"].as_str().unwrap().to_owned();
        assert!(msg.contains(bad), "{bad} not named in {msg:?}");
        assert!(msg.starts_with("urls[1]"), "{msg}");
    }
    for body in [
        json!({"case": "web", "urls": []}),
        json!({"case": "web", "urls": ["  "]}),
        json!({"case": "", "urls": [first]}),
        json!({"case": "web"}),
        json!({"case": "web", "urls": [first], "extra": 1}),
        json!({"case": "web", "urls": [first], "source": "two\nlines"}),
    ] {
        let r = inv.post(base, "/api/captures", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
    // A viewer on the case may not capture; someone not on the case is answered as for a
    // case that does not exist.
    let r = view.post(
        base,
        "/api/captures",
        &json!({"case": "web", "urls": [first]}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let not_yours = outsider.post(
        base,
        "/api/captures",
        &json!({"case": "web", "urls": [first]}),
    );
    let nowhere = outsider.post(
        base,
        "/api/captures",
        &json!({"case": "no-such-case", "urls": [first]}),
    );
    assert_eq!(not_yours.status, 404, "{}", not_yours.body);
    assert_eq!(
        (not_yours.status, not_yours.body.clone()),
        (nowhere.status, nowhere.body)
    );
    let not_yours = outsider.get(base, "/api/cases/web/captures");
    let nowhere = outsider.get(base, "/api/cases/no-such-case/captures");
    assert_eq!(not_yours.status, 404);
    assert_eq!(
        (not_yours.status, not_yours.body.clone()),
        (nowhere.status, nowhere.body)
    );
    // None of it queued anything.
    assert_eq!(
        inv.get(base, "/api/cases/web/captures").json()["jobs"],
        json!([])
    );

    // Queued: both captured in the background, then kept.
    let r = inv.post(
        base,
        "/api/captures",
        &json!({"case": "web", "urls": [first, second, first], "source": "channel T", "note": "synthetic"}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let jobs = r.json()["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 2, "one job per address: {jobs:?}");
    let during = inv.get(base, "/api/cases/web/captures").json();
    let listed =
        during["jobs"].as_array().unwrap().len() + during["captures"].as_array().unwrap().len();
    assert!(listed >= 2, "queued captures are listed: {during:#}");
    let v = wait_for(&inv, base, Duration::from_secs(300), "both captures", |v| {
        let failed: Vec<&Value> = v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["state"] == "failed")
            .collect();
        assert!(failed.is_empty(), "a capture failed: {failed:?}");
        v["jobs"].as_array().unwrap().is_empty() && v["captures"].as_array().unwrap().len() == 2
    });
    for url in [&first, &second] {
        let c = capture_of(&v, url);
        assert_eq!(c["complete"], true, "{c:#}");
        assert_eq!(c["watch"]["state"], "available", "{c:#}");
        assert_eq!(c["only_copy"], false);
        assert_eq!(c["note"], "synthetic");
        let files = c["files"].as_array().unwrap();
        let roles: Vec<&str> = files.iter().map(|f| f["role"].as_str().unwrap()).collect();
        for want in [
            "wacz",
            "screenshot",
            "pdf",
            "html-served",
            "html-dom",
            "media",
        ] {
            assert!(roles.contains(&want), "{want} missing from {roles:?}");
        }
        // Each file is an item of the case with a capture event naming this address and
        // its role, collected by the investigator who queued it.
        for f in files {
            let item = f["item"].as_str().unwrap();
            let r = inv.get(base, &format!("/api/items/{item}"));
            assert_eq!(r.status, 200, "{}", r.body);
            let d = r.json();
            assert_eq!(d["item"]["sha256"], f["sha256"]);
            assert!(
                d["cases"].as_array().unwrap().contains(&json!("web")),
                "{d}"
            );
            let events = d["events"].as_array().unwrap();
            assert!(
                events.iter().any(|e| e["kind"] == "capture"
                    && e["details"]["capture"]["url"] == **url
                    && e["details"]["capture"]["role"] == f["role"]
                    && e["details"]["collector"] == "inv"
                    && e["details"]["source"] == "channel T"),
                "{item}: {events:#?}"
            );
        }
        // One custody event so far: the record's creation, by the investigator.
        let h = history(&inv, base, c["id"].as_str().unwrap());
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[0]["actor"], "inv");
    }
    // The TLS chain of the HTTPS page is kept; the viewer reads the captures too.
    assert!(capture_of(&v, &first)["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["role"] == "tls-certificate"));
    let seen = view.get(base, "/api/cases/web/captures");
    assert_eq!(seen.status, 200);
    assert_eq!(seen.json()["captures"], v["captures"]);

    // A capture into the case that is not watched.
    let admin = Who::new(base, "admin");
    let r = admin.post(
        base,
        "/api/captures",
        &json!({"case": "quiet", "urls": [quiet]}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let q = wait_for_case(
        &admin,
        base,
        "quiet",
        Duration::from_secs(300),
        "the quiet capture",
        |v| {
            v["jobs"].as_array().unwrap().is_empty() && v["captures"].as_array().unwrap().len() == 1
        },
    );
    let quiet_id = q["captures"][0]["id"].as_str().unwrap().to_owned();
    site.set_state("/video/2", PathState::Removed);
    let quiet_hits = site.hits("/video/2");

    // The watch: the first source taken down becomes gone (the archive holds the only
    // copy) with one custody event; more rounds add none; the other source stays as it was.
    let gone_id = capture_of(&v, &first)["id"].as_str().unwrap().to_owned();
    let kept_id = capture_of(&v, &second)["id"].as_str().unwrap().to_owned();
    site.set_state("/video/0", PathState::Removed);
    let v = wait_for(
        &inv,
        base,
        Duration::from_secs(90),
        "the source gone",
        |v| capture_of(v, &first)["watch"]["state"] == "gone",
    );
    let c = capture_of(&v, &first);
    assert_eq!(c["only_copy"], true, "{c:#}");
    assert!(site.hits("/video/0") >= 2, "the watch asked the site");
    // Several more rounds (every 3 s ± 10 %).
    std::thread::sleep(Duration::from_secs(10));
    let h = history(&inv, base, &gone_id);
    assert_eq!(h.len(), 2, "exactly one event for the change: {h:#?}");
    assert_eq!(h[1]["action"], "edit", "{h:#?}");
    let h = history(&inv, base, &kept_id);
    assert_eq!(
        h.len(),
        1,
        "nothing recorded for an unchanged source: {h:#?}"
    );
    let v = inv.get(base, "/api/cases/web/captures").json();
    assert_eq!(capture_of(&v, &second)["watch"]["state"], "available");
    assert_eq!(capture_of(&v, &first)["watch"]["state"], "gone");
    // The unwatched case's source was never asked again, and its capture says available.
    assert_eq!(
        site.hits("/video/2"),
        quiet_hits,
        "an unwatched source was checked"
    );
    let q = admin.get(base, "/api/cases/quiet/captures").json();
    assert_eq!(q["captures"][0]["watch"]["state"], "available", "{q:#}");
    assert_eq!(history(&admin, base, &quiet_id).len(), 1);

    // Nobody deletes or writes a capture by hand.
    let r = http(
        "DELETE",
        &format!("{base}/api/records/{gone_id}"),
        &[("cookie", &inv.cookies), ("x-csrf-token", &inv.csrf)],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(history(&inv, base, &gone_id).len(), 2);

    drop(served);
    env.assert_verifies();
    // Nothing is left in the staging folder but the queue, empty.
    assert_staging_empty(&env.archive);
}

/// Only the capture queue is in the staging folder, and it holds no job.
fn assert_staging_empty(archive: &Path) {
    let stage = archive.join("captures");
    let left: Vec<_> = std::fs::read_dir(&stage)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "queue.json")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    let queue: Value = serde_json::from_slice(&std::fs::read(stage.join("queue.json")).unwrap())
        .expect("the queue is JSON");
    assert_eq!(queue["jobs"], json!([]), "jobs left in the queue");
    assert!(
        queue["next"].as_u64().unwrap() > 0,
        "the last id is kept: {queue}"
    );
}

#[test]
fn captures_queued_when_the_server_is_killed_are_made_after_it_restarts() {
    let media = tempfile::tempdir().unwrap();
    let site = FixtureSite::start(media.path(), 3).unwrap();
    let env = Env::new();
    env.add_cases(&[("web", "Synthetic web case")]);
    env.add_user("inv", "investigator", Some("web"), PW);
    let urls: Vec<String> = (0..3)
        .map(|i| format!("{}/video/{i}", site.http_base()))
        .collect();
    // No watch here: only the captures reach the site.
    let no_watch = [("ATHAR_CHECK_SOURCES_EVERY", "0")];
    let served = serve_with(&env.archive, &no_watch);
    let inv = Who::new(&served.base, "inv");
    let r = inv.post(
        &served.base,
        "/api/captures",
        &json!({"case": "web", "urls": urls, "note": "synthetic"}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    // Killed (SIGKILL) at once: one address at a time per host, so none is kept yet.
    drop(served);
    let queue: Value = serde_json::from_slice(
        &std::fs::read(env.archive.join("captures").join("queue.json")).unwrap(),
    )
    .unwrap();
    let queued: Vec<&str> = queue["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["url"].as_str().unwrap())
        .collect();
    assert_eq!(queued, urls, "the acknowledged jobs are kept: {queue:#}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(env.archive.join("captures").join("queue.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the queue is the owner's only: {mode:o}");
    }

    let served = serve_with(&env.archive, &no_watch);
    let base = served.base.as_str();
    let inv = Who::new(base, "inv");
    let v = wait_for(
        &inv,
        base,
        Duration::from_secs(300),
        "the three captures",
        |v| {
            let failed: Vec<&Value> = v["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|j| j["state"] == "failed")
                .collect();
            assert!(failed.is_empty(), "a capture failed: {failed:?}");
            v["jobs"].as_array().unwrap().is_empty() && v["captures"].as_array().unwrap().len() >= 3
        },
    );
    // Each address captured once, whole, with the note it was queued with.
    assert_eq!(v["captures"].as_array().unwrap().len(), 3, "{v:#}");
    for url in &urls {
        let c = capture_of(&v, url);
        assert_eq!(c["complete"], true, "{c:#}");
        assert_eq!(c["note"], "synthetic");
    }
    drop(served);
    env.assert_verifies();
    assert_staging_empty(&env.archive);
}
