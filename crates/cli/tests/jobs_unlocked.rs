#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Background jobs never hold the archive while decoding: while `athar serve` fingerprints a
//! long synthetic video, requests that need the archive (an item read, which records
//! nothing but takes the archive, and a record write) still answer at once.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::athar_in as athar;

/// (status, body) of a request; non-2xx statuses are answers too.
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, String) {
    let a = common::http(method, url, headers, body);
    (a.status, a.body)
}

/// The state of the item's job of `kind`, as `athar jobs --json` reports it (read-only,
/// beside the server; `done` when it is not listed).
fn job_state(dir: &Path, item: &str, kind: &str) -> String {
    let out = athar(dir, &["jobs", "--json"], None);
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["item"] == item && j["kind"] == kind)
        .map_or_else(
            // Done jobs are not listed.
            || "done".to_owned(),
            |j| j["state"].as_str().unwrap_or_default().to_owned(),
        )
}

const PW: &str = "synthetic-password-123";

#[test]
fn requests_answer_while_a_long_video_is_fingerprinted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Long enough that fingerprinting it takes several seconds here (3 minutes of
    // 640x360 footage: vPDQ decodes every frame; about 9 s on a 2-core machine).
    let Some(clip) = common::clip_at(
        d.join("long.mp4"),
        "testsrc2=size=640x360:rate=25",
        "180",
        "null",
    ) else {
        return;
    };
    athar(d, &["init", "--name", "test"], None);
    let out = athar(
        d,
        &[
            "ingest",
            "--json",
            "--case",
            "alpha",
            clip.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let item = common::first_item(&out.stdout);
    athar(
        d,
        &["user", "add", "root", "--role", "admin", "--password-stdin"],
        Some(&format!("{PW}\n")),
    );
    common::without_second_factor(&d.join("archive"));
    let srv = common::Served::start(&d.join("archive"));
    let url = |p: &str| format!("{}{p}", srv.base);
    let (cookie, csrf) = common::session(&srv.base, "root", PW);

    // The server picks the fingerprint job up within a second or two.
    let deadline = Instant::now() + Duration::from_secs(60);
    while job_state(d, &item, "fingerprint") != "running" {
        assert!(
            Instant::now() < deadline,
            "the fingerprint job never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // While it runs: timed reads and writes, each pair started while the job was running
    // (a request that waited for the job counts: it started during it); `still` says
    // whether the job was still running after the pair.
    let mut during = Vec::new();
    let mut still = 0;
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && still < 10 {
        n += 1;
        let t = Instant::now();
        let (status, body) = call(
            "GET",
            &url(&format!("/api/items/{item}")),
            &[("cookie", &cookie)],
            None,
        );
        let read = t.elapsed();
        assert_eq!(status, 200, "{body}");
        let record = serde_json::json!({
            "kind": "incident", "case": "alpha", "title": format!("written during a job {n}"),
            "date": "2012-03"
        })
        .to_string();
        let t = Instant::now();
        let (status, body) = call(
            "POST",
            &url("/api/records"),
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            Some(&record),
        );
        let write = t.elapsed();
        assert_eq!(status, 201, "{body}");
        during.push((read, write));
        if job_state(d, &item, "fingerprint") != "running" {
            break;
        }
        still += 1;
    }
    let worst = during.iter().map(|(r, w)| *r.max(w)).max().unwrap();
    eprintln!(
        "{} read+write pairs during the job ({still} with the job still running after \
         them); slowest request {worst:?}",
        during.len()
    );
    assert!(
        worst < Duration::from_secs(1),
        "a request waited {worst:?} for the job: {during:?}"
    );
    assert!(
        still >= 3,
        "too few requests overlapped the fingerprint job ({still}): the clip is too short \
         for this machine"
    );

    // And the job finishes with its results recorded.
    let deadline = Instant::now() + Duration::from_secs(300);
    while job_state(d, &item, "fingerprint") != "done" {
        assert!(
            Instant::now() < deadline,
            "the fingerprint job never finished"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = call(
        "GET",
        &url(&format!("/api/items/{item}")),
        &[("cookie", &cookie)],
        None,
    );
    assert_eq!(status, 200, "{body}");
    drop(srv);
    let shown = athar(d, &["show", "--json", &item], None);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("vpdq"), "{shown}");
}
