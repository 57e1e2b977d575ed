//! Whole captures of the fixture site with Debian's Chromium and the tool environment's
//! yt-dlp: every artefact there, the WACZ verified and accepted by py-wacz, the screenshots
//! not blank and banded, the TLS chain the site's; redirects recorded; hostile pages ended
//! within the limits, partial and saying why.
#![cfg(feature = "fixture")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use athar_capture::fixture::FixtureSite;

#[path = "support/webrecorder.rs"]
mod webrecorder;
use athar_capture::{capture, Bundle, CaptureOptions};

fn key() -> p384::ecdsa::SigningKey {
    p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).expect("key")
}

fn tools() -> PathBuf {
    athar_capture::media::tools_dir()
}

fn options() -> CaptureOptions {
    let ytdlp = athar_capture::media::ytdlp_program(&tools());
    assert!(
        ytdlp.is_file(),
        "{} missing: run scripts/ensure-deps.sh test",
        ytdlp.display()
    );
    CaptureOptions {
        ytdlp: Some(ytdlp),
        time_limit: Duration::from_secs(90),
        ..CaptureOptions::default()
    }
}

fn roles(b: &Bundle) -> Vec<&str> {
    b.manifest
        .artefacts
        .iter()
        .map(|a| a.role.as_str())
        .collect()
}

fn file(b: &Bundle, role: &str) -> PathBuf {
    let a = b
        .manifest
        .artefacts
        .iter()
        .find(|a| a.role == role)
        .unwrap_or_else(|| panic!("no {role} in {:?}", roles(b)));
    b.dir.join(&a.name)
}

/// Distinct colours in a PNG, and whether its top rows are the band (dark, with light text).
fn look(png: &Path) -> (usize, bool) {
    let img = image::open(png).expect("png").to_rgba8();
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        colours.insert(p.0);
    }
    let mut dark = 0;
    let mut light = 0;
    for y in 0..20.min(img.height()) {
        for x in 0..img.width() {
            let p = img.get_pixel(x, y).0;
            let lum = u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
            if lum < 120 {
                dark += 1;
            } else if lum > 600 {
                light += 1;
            }
        }
    }
    (colours.len(), dark > 10 * light && light > 20)
}

#[test]
fn a_video_post_over_http_is_captured_whole() {
    let media = tempfile::tempdir().expect("tmp");
    let site = FixtureSite::start(media.path(), 2).expect("site");
    let out = tempfile::tempdir().expect("tmp");
    let url = format!("{}/video/0", site.http_base());
    let b = capture(&url, out.path(), &options(), &key()).expect("capture");
    let m = &b.manifest;
    assert!(m.complete, "problems: {:?}", m.problems);
    for role in [
        "wacz",
        "screenshot",
        "screenshot-viewport",
        "pdf",
        "html-served",
        "html-dom",
        "network",
        "media",
        "media-info",
        "manifest",
    ] {
        let f = file(&b, role);
        let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{role} at {} is empty", f.display());
    }
    assert_eq!(m.status, Some(200));
    assert_eq!(m.final_url.as_deref(), Some(url.as_str()));
    assert!(m.requests >= 4, "only {} requests recorded", m.requests);
    assert_eq!(
        m.network
            .remote_addr
            .as_deref()
            .map(|a| a.starts_with("127.0.0.1:")),
        Some(true)
    );
    assert!(m.tools.contains_key("chromium") && m.tools.contains_key("yt-dlp"));
    // The page as served and as it was after its script ran.
    let served = std::fs::read_to_string(file(&b, "html-served")).expect("served");
    let dom = std::fs::read_to_string(file(&b, "html-dom")).expect("dom");
    assert!(served.contains("og:video"));
    assert!(!served.contains("Comments loaded by script"));
    assert!(
        dom.contains("Comments loaded by script"),
        "the DOM after load lacks the script's text"
    );
    // Screenshots: not blank, under the band.
    for role in ["screenshot", "screenshot-viewport"] {
        let (colours, banded) = look(&file(&b, role));
        assert!(colours > 20, "{role} looks blank ({colours} colours)");
        assert!(banded, "{role} has no band");
    }
    assert!(std::fs::read(file(&b, "pdf"))
        .expect("pdf")
        .starts_with(b"%PDF"));
    // The WACZ: verified here with our key, accepted by py-wacz, holds the page's text.
    let v = athar_capture::wacz::verify_wacz(&file(&b, "wacz")).expect("wacz verifies");
    assert_eq!(
        v.public_key,
        Some(athar_capture::wacz::public_key_of(&key()).expect("spki"))
    );
    let validate = std::process::Command::new(tools().join("bin/wacz"))
        .args(["validate", "-f"])
        .arg(file(&b, "wacz"))
        .output()
        .expect("wacz validate runs");
    assert!(
        validate.status.success(),
        "wacz validate: {}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
    // pywb replays the captured page from the WACZ: the text as served, the video's bytes.
    let pywb = webrecorder::Pywb::start(&file(&b, "wacz"), out.path());
    let ts: String = m
        .started
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect();
    let (status, page) = pywb.get(&ts, &url);
    assert_eq!(status, 200);
    assert_eq!(
        page,
        std::fs::read(file(&b, "html-served")).expect("served")
    );
    drop(pywb);
    // Media: the original file and yt-dlp's info.
    assert_eq!(m.media.len(), 1, "{:?}", m.media);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file(&b, "media-info")).expect("info"))
            .expect("json");
    assert!(info.get("webpage_url").is_some() && info.get("http_headers").is_some());
    let mp4 = std::fs::read(file(&b, "media")).expect("media");
    let original = std::fs::read(media.path().join("0.mp4")).expect("the site's file");
    assert_eq!(mp4, original, "the media is not the file the site serves");
}

#[test]
fn https_records_the_servers_chain_and_redirects_are_followed() {
    let media = tempfile::tempdir().expect("tmp");
    let site = FixtureSite::start(media.path(), 2).expect("site");
    let out = tempfile::tempdir().expect("tmp");
    let opts = CaptureOptions {
        extra_roots: vec![site.ca_der()],
        ..options()
    };
    let url = format!("{}/redirect/301", site.https_base());
    let b = capture(&url, out.path(), &opts, &key()).expect("capture");
    let m = &b.manifest;
    assert!(m.complete, "problems: {:?}", m.problems);
    let hops: Vec<_> = m.redirects.iter().map(|h| h.status).collect();
    assert_eq!(hops, vec![Some(301), Some(302)], "{:?}", m.redirects);
    assert_eq!(
        m.final_url.as_deref(),
        Some(format!("{}/video/0", site.https_base()).as_str())
    );
    let leaf = std::fs::read(b.dir.join("tls-certificate-0.der")).expect("chain");
    assert_eq!(
        leaf,
        site.leaf_der(),
        "the recorded certificate is not the site's"
    );
    assert!(m
        .network
        .tls_protocol
        .as_deref()
        .is_some_and(|p| p.contains("TLS")));
    assert!(
        m.network.dns.iter().any(|a| a == "127.0.0.1" || a == "::1"),
        "{:?}",
        m.network.dns
    );
    // Media over HTTPS with the site's CA, verification kept on.
    assert_eq!(m.media.len(), 1, "{:?}", m.problems);

    // A meta refresh is a hop without a status.
    let out = tempfile::tempdir().expect("tmp");
    let url = format!("{}/redirect/meta", site.http_base());
    let b = capture(
        &url,
        out.path(),
        &CaptureOptions {
            ytdlp: None,
            ..options()
        },
        &key(),
    )
    .expect("capture");
    assert!(b
        .manifest
        .final_url
        .as_deref()
        .is_some_and(|u| u.ends_with("/video/1")));
    assert!(
        b.manifest.redirects.iter().any(|h| h.status.is_none()),
        "{:?}",
        b.manifest.redirects
    );
}

#[test]
fn hostile_pages_end_within_the_limits_and_are_partial() {
    let media = tempfile::tempdir().expect("tmp");
    let site = FixtureSite::start(media.path(), 1).expect("site");
    let opts = CaptureOptions {
        ytdlp: None,
        time_limit: Duration::from_secs(40),
        size_limit: 8 << 20,
        max_scrolls: 6,
        ..options()
    };
    for (path, why) in [
        ("/redirect/loop", "redirect"),
        ("/endless", ""),
        ("/huge", ""),
        ("/download", ""),
        ("/scroll", "screens"),
    ] {
        let out = tempfile::tempdir().expect("tmp");
        let started = Instant::now();
        let url = format!("{}{path}", site.http_base());
        let b = capture(&url, out.path(), &opts, &key()).expect("a bundle even so");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(60), "{path} took {took:?}");
        assert!(!b.manifest.complete, "{path} shown complete");
        let problems = b.manifest.problems.join("; ");
        assert!(problems.to_lowercase().contains(why), "{path}: {problems}");
        // What was kept is listed and there.
        for (p, a) in b.files() {
            assert!(p.is_file(), "{path}: {} listed but missing", a.name);
        }
    }
}
