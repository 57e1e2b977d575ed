//! vPDQ conformance: every-frame hashes of the shared sample clips against
//! the reference vPDQ's output made with the same FFmpeg major version
//! (threatexchange/vpdq-expected-ffmpeg5.1). Requires ≥ 99 % of frames
//! identical and none more than 8 bits off. Skips (with a notice) when FFmpeg
//! is not installed, except under CI=true.
//!
//! Hashing is slow in unoptimised builds, so a debug build checks only the
//! first 30 frames of each clip unless `ATHAR_VPDQ_FULL=1` or `CI=true`;
//! `cargo test --release` always checks every frame (about 30 s).

mod common;

use athar_media::vpdq::{self, VpdqOptions};

#[test]
fn vpdq_matches_reference() {
    let Some(root) = common::testdata() else {
        return;
    };
    let full = !cfg!(debug_assertions)
        || common::ci()
        || std::env::var("ATHAR_VPDQ_FULL").is_ok_and(|v| v == "1");
    let opts = VpdqOptions {
        max_frames: if full { None } else { Some(30) },
        ..VpdqOptions::default()
    };
    if !full {
        eprintln!("NOTICE: debug build: checking the first 30 frames of each clip (ATHAR_VPDQ_FULL=1 for all)");
    }
    if !vpdq::ffmpeg_available(&opts) {
        assert!(
            !common::ci(),
            "ffmpeg/ffprobe not installed (required under CI=true)"
        );
        eprintln!("NOTICE: ffmpeg/ffprobe not installed; skipping vPDQ conformance");
        return;
    }
    let videos = root.join("threatexchange/tmk/sample-videos");
    let expected = root.join("threatexchange/vpdq-expected-ffmpeg5.1");
    let mut clips: Vec<_> = std::fs::read_dir(&videos)
        .expect("sample videos")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
        .collect();
    clips.sort();
    assert_eq!(
        clips.len(),
        14,
        "expected 14 sample clips in {}",
        videos.display()
    );

    let (mut total, mut identical, mut max_dist) = (0usize, 0usize, 0u32);
    let mut failures = Vec::new();
    for clip in &clips {
        let name = clip.file_stem().unwrap().to_string_lossy().into_owned();
        let want_text =
            std::fs::read_to_string(expected.join(format!("{name}.txt"))).expect("expected hashes");
        let mut want = vpdq::parse_lines(&want_text).expect("parse expected");
        if let Some(max) = opts.max_frames {
            want.retain(|f| f.frame_number < max);
        }
        let got = match vpdq::hash_video(clip, &opts) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if clip == &clips[0] {
            let one = VpdqOptions {
                threads: 1,
                ..opts.clone()
            };
            let seq = vpdq::hash_video(clip, &one).expect("sequential hashing");
            assert_eq!(seq, got, "{name}: one thread and several threads disagree");
        }
        if got.len() != want.len() {
            failures.push(format!(
                "{name}: {} frames, reference has {}",
                got.len(),
                want.len()
            ));
        }
        let (mut same, mut clip_max) = (0, 0);
        for (g, w) in got.iter().zip(&want) {
            let d = g.hash.distance(&w.hash);
            clip_max = clip_max.max(d);
            let line_ok = g.frame_number == w.frame_number
                && format!("{:.3}", g.timestamp) == format!("{:.3}", w.timestamp);
            if !line_ok {
                failures.push(format!(
                    "{name}: frame/timestamp differ: {} vs {}",
                    g.to_line(),
                    w.to_line()
                ));
            }
            if d == 0 && g.quality == w.quality {
                same += 1;
            }
            if d > 8 {
                failures.push(format!("{name}: frame {} is {d} bits off", w.frame_number));
            }
        }
        eprintln!(
            "{name}: {same}/{} frames identical, max distance {clip_max}",
            want.len()
        );
        total += want.len();
        identical += same;
        max_dist = max_dist.max(clip_max);
    }
    assert!(
        total >= clips.len(),
        "ran {total} vPDQ frame vectors over {} clips",
        clips.len()
    );
    let pct = identical as f64 * 100.0 / total.max(1) as f64;
    eprintln!("vPDQ conformance: {identical}/{total} frames identical ({pct:.2} %), max distance {max_dist}");
    failures.truncate(40);
    assert!(
        failures.is_empty(),
        "vPDQ conformance failures:\n{}",
        failures.join("\n")
    );
    assert!(
        pct >= 99.0,
        "only {identical}/{total} frames identical ({pct:.2} %)"
    );
}
