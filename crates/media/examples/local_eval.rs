//! Local features (`athar_media::local`) on the corpus `bench/eval.py --work WORK` made,
//! without an archive: each original (one frame a second) against every copy and
//! distractor, a copy found when any pair of frames verifies. Prints recall per transform
//! and the false matches: what geometric verification adds to `athar similar`.
//!
//! `cargo run --release -p athar-media --example local_eval -- WORK`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use athar_media::local::{self, FeatureOptions, Features, Luma, VerifyOptions};
use image::RgbImage;

const W: u32 = 640;
const H: u32 = 360;

fn features(img: &RgbImage) -> Features {
    let luma = Luma::from_rgb(img.as_raw(), img.width() as usize, img.height() as usize).unwrap();
    local::extract(&luma, &FeatureOptions::default())
}

/// Frames of `video`, one a second, scaled to W×H, through the `ffmpeg` CLI.
fn video_frames(video: &Path) -> Vec<RgbImage> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(video)
        .args(["-vf", &format!("fps=1,scale={W}:{H}"), "-f", "rawvideo"])
        .args(["-pix_fmt", "rgb24", "pipe:1"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}: {}",
        video.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact((W * H * 3) as usize)
        .map(|c| RgbImage::from_raw(W, H, c.to_vec()).unwrap())
        .collect()
}

fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn main() {
    let Some(work) = std::env::args_os().nth(1) else {
        eprintln!("usage: local_eval WORK   (a corpus made by bench/eval.py --work WORK)");
        std::process::exit(2);
    };
    let work = Path::new(&work);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("manifest.json")).unwrap())
            .unwrap();
    let originals: Vec<std::path::PathBuf> = manifest["originals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| std::path::PathBuf::from(o.as_str().unwrap()))
        .collect();
    let items: Vec<(String, String, String, String)> = manifest["items"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| {
            let s = |i: usize| v[i].as_str().unwrap_or("").to_string();
            (name.clone(), s(0), s(1), s(2))
        })
        .collect();
    let t0 = Instant::now();
    let of: Vec<Vec<Features>> = par_map(&originals, |o| {
        video_frames(o).iter().map(features).collect()
    });
    let cf: Vec<Vec<Features>> = par_map(&items, |(name, ..)| {
        video_frames(&work.join("corpus").join(name))
            .iter()
            .map(features)
            .collect()
    });
    let family = |s: &str| {
        ["chair", "pattern", "doorknob", "test-padded"]
            .into_iter()
            .find(|f| s.starts_with(f))
            .map_or(s.to_string(), str::to_string)
    };
    let opts = VerifyOptions::default();
    let pairs: Vec<(usize, usize)> = (0..originals.len())
        .flat_map(|o| (0..items.len()).map(move |i| (o, i)))
        .collect();
    let results: Vec<(usize, usize, bool, usize)> = par_map(&pairs, |&(o, i)| {
        let mut best = (false, 0);
        'frames: for q in &of[o] {
            for c in &cf[i] {
                let v = local::verify_mirrored(q, c, &opts);
                best.1 = best.1.max(v.inliers);
                if v.same {
                    best.0 = true;
                    break 'frames;
                }
            }
        }
        (o, i, best.0, best.1)
    });
    let mut table: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut false_matches = Vec::new();
    for &(o, i, same, inliers) in &results {
        let oname = originals[o]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (name, kind, orig, t) = &items[i];
        if kind == "copy" && *orig == oname {
            let e = table.entry(t.clone()).or_default();
            e.1 += 1;
            e.0 += usize::from(same);
            if !same {
                println!("    missed {name} ({inliers} inliers)");
            }
        } else if same && (kind == "distractor" || family(orig) != family(&oname)) {
            false_matches.push(format!("{oname} -> {name} ({inliers} inliers)"));
        }
    }
    println!(
        "local features on {} ({} originals, {} items) in {:.0} s",
        work.display(),
        originals.len(),
        items.len(),
        t0.elapsed().as_secs_f64()
    );
    for (t, (n, total)) in &table {
        println!("{t:<16} {n:>3}/{total:<3} {:.2}", *n as f64 / *total as f64);
    }
    println!("false matches: {} {false_matches:?}", false_matches.len());
}
