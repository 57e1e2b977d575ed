#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The web app end to end in a real browser: the built `athar serve` on a free port,
//! driven by `e2e/web.mjs` (Debian's chromium, headless, through playwright-core). The
//! script logs in, uploads a synthetic video by tus over a dropped and resumed connection,
//! waits for its fingerprints, finds its near-duplicate (a re-encoded copy ingested here
//! beforehand), documents an incident in the web app and links a range of the video to it
//! (`e2e/documentation.mjs`), reveals the blurred review image, downloads a custody proof, opens crafted
//! item links (`#/item/<id>%2Fcontent%3Fpurpose%3D…`: an encoded path and purpose after the
//! id) and checks that no request carried that purpose and no access event records it, and
//! exports the case, sets up a second factor on the Security page (the code computed from the
//! key shown), signs in again with a recovery code and ends another browser's session,
//! pastes a page of the fixture web site (`athar_capture::fixture`, run here) on the case's
//! captures page and sees it captured and kept, each file linking to its item
//! (`e2e/captures.mjs`), then
//! (`e2e/interface.mjs`) shows every page in Arabic and English at 1280 and 390 px: right to
//! left, nothing untranslated, no horizontal page scroll, no serious axe-core finding; this
//! test then checks the proof with `athar log verify-proof` and the bag with `athar verify-bag`.
//!
//! Needs chromium, node and `e2e/node_modules/playwright-core` and `axe-core`
//! (`scripts/ensure-deps.sh` installs them). Without them the test is skipped with a notice, unless `CI=true`.
//! Screenshots and downloads are kept under `target/tmp/e2e` (or `ATHAR_E2E_ARTIFACTS`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

use common::athar_in as athar;

fn ffmpeg(args: &[&str], out: &Path) -> bool {
    Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .is_ok_and(|s| s.success())
}

/// What the browser test needs, or why it cannot run here.
fn missing_tools() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("no chromium at {chromium}"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node".into());
    }
    for module in ["playwright-core", "axe-core"] {
        if !repo().join("e2e/node_modules").join(module).is_dir() {
            return Some(format!(
                "no e2e/node_modules/{module} (run scripts/ensure-deps.sh)"
            ));
        }
    }
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        return Some("no ffmpeg".into());
    }
    None
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn browser_end_to_end() {
    if let Some(why) = missing_tools() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the browser test must run under CI=true: {why}"
        );
        eprintln!("notice: skipping the browser end-to-end test: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let artifacts = std::env::var_os("ATHAR_E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e"));
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    // Synthetic footage: a large lossless noisy test pattern (several tus chunks) and a
    // smaller re-encoded copy of it, ingested (and fingerprinted) before the upload.
    let video = d.join("synthetic-pattern.mp4");
    assert!(ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=640x360:r=10",
            "-t",
            "3",
            "-vf",
            "noise=alls=8:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-pix_fmt",
            "yuv420p",
        ],
        &video
    ));
    assert!(
        std::fs::metadata(&video).unwrap().len() > 3 << 20,
        "several 1 MiB chunks"
    );
    let copy = d.join("reencoded-copy.mp4");
    assert!(ffmpeg(
        &[
            "-i",
            video.to_str().unwrap(),
            "-vf",
            "scale=320:180",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "30",
            "-pix_fmt",
            "yuv420p",
        ],
        &copy
    ));
    athar(d, &["init", "--name", "e2e"], None);
    let out = athar(
        d,
        &[
            "ingest",
            "--json",
            "--wait",
            "--case",
            "alpha",
            copy.to_str().unwrap(),
        ],
        None,
    );
    let copy_item = common::first_item(&out.stdout);
    let password = "synthetic-password-123";
    athar(
        d,
        &[
            "user",
            "add",
            "inv",
            "--role",
            "investigator",
            "--case",
            "alpha",
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    );

    // For the map and timeline steps (e2e/map.mjs, which names these titles): a place with
    // coordinates, an incident dated at it, and an undated incident.
    let map_records = d.join("map-records.jsonl");
    std::fs::write(
        &map_records,
        concat!(
            r#"{"kind":"place","key":"e2e-map-square","case":"alpha","names":[{"name":"ساحة الاختبار"},{"name":"Test Square"}],"coordinates":{"lat":35.1318,"lon":36.7578}}"#,
            "\n",
            r#"{"kind":"incident","key":"e2e-map-dated","case":"alpha","title":"Synthetic shelling near the test square","date":"2013-03/2013-05-10","places":["e2e-map-square"]}"#,
            "\n",
            r#"{"kind":"incident","key":"e2e-map-undated","case":"alpha","title":"Synthetic undated detention","date":"unknown"}"#,
            "\n",
            // For the review step (e2e/review.mjs): two lists, a record in each, and the
            // match the model left for review.
            r#"{"kind":"source","key":"e2e-list-a","case":"alpha","name":"Synthetic list A","protection":"public"}"#,
            "\n",
            r#"{"kind":"source","key":"e2e-list-b","case":"alpha","name":"Synthetic list B","protection":"public"}"#,
            "\n",
            r#"{"kind":"person","key":"e2e-p1","case":"alpha","names":[{"name":"Synthetic Reviewed One"}],"father_name":"Khaled","birth_date":"1980","event_date":"2013-05","source":"e2e-list-a","source_row":"7"}"#,
            "\n",
            r#"{"kind":"person","key":"e2e-p2","case":"alpha","names":[{"name":"سامر المراجع"}],"father_name":"خالد","birth_date":"1984","event_date":"2013-05-12","source":"e2e-list-b","source_row":"31"}"#,
            "\n",
            r#"{"kind":"match","case":"alpha","persons":["e2e-p1","e2e-p2"],"decision":"review","by":"model","probability":0.62,"weights":{"given":2.4,"father":3.1,"birth":-1.8,"date":1.2}}"#,
            "\n",
        ),
    )
    .unwrap();
    athar(
        d,
        &["records", "import", map_records.to_str().unwrap()],
        None,
    );

    // The web site the captures page captures a page of (e2e/captures.mjs).
    let site_files = tempfile::tempdir().unwrap();
    let site = athar_capture::fixture::FixtureSite::start(site_files.path(), 1).unwrap();
    let capture_url = format!("{}/video/0", site.http_base());

    let mut child = Command::new(env!("CARGO_BIN_EXE_athar"))
        .arg("--archive")
        .arg(d.join("archive"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    let base = line
        .trim()
        .strip_prefix("Listening on ")
        .unwrap()
        .to_owned();

    let status = Command::new("node")
        .arg(repo().join("e2e/web.mjs"))
        .env("ATHAR_URL", &base)
        .env("ATHAR_USER", "inv")
        .env("ATHAR_PASSWORD", password)
        .env("ATHAR_CASE", "alpha")
        .env("ATHAR_VIDEO", &video)
        .env("ATHAR_DUPLICATE", &copy_item)
        .env("ATHAR_CAPTURE_URL", &capture_url)
        .env("ATHAR_ARTIFACTS", &artifacts)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the browser test failed; screenshots in {}",
        artifacts.display()
    );
    drop(server);

    // The proof downloaded in the browser verifies offline with the downloaded key.
    let out = athar(
        d,
        &[
            "log",
            "verify-proof",
            "--json",
            artifacts.join("event.tlog-proof").to_str().unwrap(),
            "--vkey",
            artifacts.join("athar.vkey").to_str().unwrap(),
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(artifacts.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        v["item"], summary["item"],
        "the proof is of the uploaded item"
    );

    // The uploaded item is the video, byte for byte.
    let item = summary["item"].as_str().unwrap();
    let cat = athar(d, &["cat", item], None);
    assert_eq!(cat.stdout, std::fs::read(&video).unwrap());

    // The exported bag: unpacked and checked by athar's own offline bag verifier.
    let export = artifacts.join(summary["export"].as_str().unwrap());
    assert!(std::fs::metadata(&export).unwrap().len() > 0);
    let bag = check_bag(d, &export, &artifacts.join("athar.vkey"));
    // Handed over from the hand-over page: the recipient and purpose typed there.
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    let recipient = summary["recipient"].as_str().unwrap();
    assert!(
        info.lines()
            .any(|l| l == format!("Athar-Recipient: {recipient}")),
        "{info}"
    );
    assert!(
        info.lines()
            .any(|l| l == "Athar-Purpose: Synthetic trial preparation"),
        "{info}"
    );
    assert!(bag.join("athar/records.jsonl").is_file());
    athar(d, &["verify"], None);
}

/// Unpacks the downloaded bag (a tar or zip archive), verifies it offline, and returns
/// where it is.
fn check_bag(d: &Path, export: &Path, vkey: &Path) -> PathBuf {
    let unpacked = d.join("bag");
    std::fs::create_dir_all(&unpacked).unwrap();
    let name = export.to_string_lossy().to_string();
    let ok = if name.ends_with(".zip") {
        Command::new("unzip")
            .args(["-q"])
            .arg(export)
            .arg("-d")
            .arg(&unpacked)
            .status()
    } else {
        Command::new("tar")
            .arg("-xf")
            .arg(export)
            .arg("-C")
            .arg(&unpacked)
            .status()
    };
    assert!(ok.unwrap().success(), "unpacking {name}");
    let bag = find_bag(&unpacked).expect("a bagit.txt in the export");
    athar(
        d,
        &[
            "verify-bag",
            "--vkey",
            vkey.to_str().unwrap(),
            bag.to_str().unwrap(),
        ],
        None,
    );
    bag
}

fn find_bag(dir: &Path) -> Option<PathBuf> {
    if dir.join("bagit.txt").is_file() {
        return Some(dir.to_owned());
    }
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if e.path().is_dir() {
            if let Some(b) = find_bag(&e.path()) {
                return Some(b);
            }
        }
    }
    None
}
