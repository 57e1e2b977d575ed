//! `athar pdq` and `athar vpdq` end to end: output against the reference's, errors per file.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{athar_bin, json_lines, testdata};

fn athar(dir: &Path, args: &[&str]) -> Output {
    Command::new(athar_bin())
        .current_dir(dir)
        .env_remove("ATHAR_ARCHIVE")
        .args(args)
        .output()
        .expect("run athar")
}

fn ffmpeg_installed() -> bool {
    let ok = |t: &str| {
        Command::new(t)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let found = ok("ffmpeg") && ok("ffprobe");
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ffmpeg/ffprobe required under CI=true"
        );
        eprintln!("notice: ffmpeg/ffprobe not installed; skipping");
    }
    found
}

/// (path, pdq hex, quality, dihedral hexes) of the PNG rows of pdq-expected.tsv.
fn expected_pngs(root: &Path) -> Vec<(String, String, String, Vec<String>)> {
    let tsv = std::fs::read_to_string(root.join("threatexchange/pdq-expected.tsv")).expect("tsv");
    let rows: Vec<_> = tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[0].ends_with(".png"))
        .map(|f| {
            (
                f[0].to_string(),
                f[3].to_string(),
                f[4].to_string(),
                f[5].split(' ').map(String::from).collect(),
            )
        })
        .collect();
    assert!(rows.len() >= 5, "expected PNG rows in pdq-expected.tsv");
    rows
}

#[test]
fn pdq_matches_reference_for_pngs() {
    let Some(root) = testdata() else { return };
    let dir = root.join("threatexchange");
    let rows = expected_pngs(&root);
    let files: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();

    let mut args = vec!["pdq"];
    args.extend(&files);
    let out = athar(&dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: String = rows
        .iter()
        .map(|(p, h, q, _)| format!("{h} {q} {p}\n"))
        .collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);

    let mut args = vec!["pdq", "--json"];
    args.extend(&files);
    let out = athar(&dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), rows.len());
    for (v, (p, h, q, d)) in lines.iter().zip(&rows) {
        assert_eq!(v["file"], p.as_str());
        assert_eq!(v["pdq"], h.as_str());
        assert_eq!(v["quality"].to_string(), *q);
        let got: Vec<&str> = v["dihedral"]
            .as_array()
            .expect("dihedral array")
            .iter()
            .map(|x| x.as_str().unwrap_or_default())
            .collect();
        assert_eq!(got, *d, "{p}");
    }
}

#[test]
fn pdq_names_bad_files_and_goes_on() {
    let Some(root) = testdata() else { return };
    let dir = root.join("threatexchange");
    let rows = expected_pngs(&root);
    let tmp = tempfile::tempdir().expect("tempdir");
    let garbage = tmp.path().join("garbage-image.png");
    std::fs::write(&garbage, b"\x89PNG\r\n\x1a\nnot really").expect("write");
    let missing = tmp.path().join("missing-image.jpg");
    let out = athar(
        &dir,
        &[
            "pdq",
            garbage.to_str().expect("utf-8"),
            &rows[0].0,
            missing.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        format!("{} {} {}\n", rows[0].1, rows[0].2, rows[0].0)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("garbage-image.png"), "{stderr}");
    assert!(stderr.contains("missing-image.jpg"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
}

#[test]
fn vpdq_matches_reference_lines() {
    let Some(root) = testdata() else { return };
    if !ffmpeg_installed() {
        return;
    }
    let te = root.join("threatexchange");
    let clip = te.join("tmk/sample-videos/doorknob-hd-no-bar.mp4");
    let want = std::fs::read_to_string(te.join("vpdq-expected-ffmpeg5.1/doorknob-hd-no-bar.txt"))
        .expect("expected");
    let out = athar(&te, &["vpdq", clip.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);

    let out = athar(
        &te,
        &[
            "vpdq",
            "--json",
            "--seconds-per-hash",
            "1",
            clip.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let every: Vec<Vec<&str>> = want.lines().map(|l| l.split(',').collect()).collect();
    assert!(!lines.is_empty() && lines.len() < every.len());
    for v in &lines {
        let n = v["frame"].as_u64().expect("frame") as usize;
        let w = &every[n];
        assert_eq!(v["quality"].to_string(), w[1]);
        assert_eq!(v["pdq"], w[2]);
        assert_eq!(format!("{:.3}", v["timestamp"].as_f64().expect("ts")), w[3]);
    }
}

#[test]
fn vpdq_names_bad_files() {
    if !ffmpeg_installed() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("broken-clip.mp4");
    std::fs::write(&bad, b"\0\0\0\x18ftypmp42 this is not a video").expect("write");
    let out = athar(tmp.path(), &["vpdq", "broken-clip.mp4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken-clip.mp4"), "{stderr}");

    let out = athar(tmp.path(), &["vpdq", "no-such-clip.mp4"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-clip.mp4") && stderr.contains("not found"),
        "{stderr}"
    );

    let out = athar(tmp.path(), &["vpdq", "--downsample", "12by7", "x.mp4"]);
    assert_eq!(out.status.code(), Some(2));
    let out = athar(tmp.path(), &["vpdq", "--seconds-per-hash", "-1", "x.mp4"]);
    assert_eq!(out.status.code(), Some(2));
}
