//! Local features (`athar_media::local`, `athar_media::local_match`) on the corpus
//! `bench/eval.py --work WORK` made, without an archive, the way `athar similar` uses them:
//! the first frame of every 2 s at the video's own size (reduced as stored), every copy and
//! distractor in one [`LocalIndex`], each original searched against it (votes, then
//! geometric verification). A copy is found when it is listed with either share >= 0.2.
//! Prints recall per transform and the false matches; for each copy missed, the best pair
//! of frames (inliers, tentative matches) and whether the index put it among the candidates.
//!
//! `cargo run --release -p athar-media --example local_eval -- WORK [TRANSFORM,...]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use athar_media::local::{self, VerifyOptions};
use athar_media::local_match::{self, LocalFrame, LocalIndex, SAMPLE_SECONDS};

/// The sampled frames of `video` (the first of every [`SAMPLE_SECONDS`]), through the
/// `ffmpeg` CLI, with their features.
fn video_frames(video: &Path) -> Vec<LocalFrame> {
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height", "-of", "csv=p=0"])
        .arg(video)
        .output()
        .expect("run ffprobe");
    let dims = String::from_utf8_lossy(&probe.stdout);
    let mut it = dims.trim().split(',').map(|v| v.parse::<usize>().unwrap());
    let (w, h) = (it.next().unwrap(), it.next().unwrap());
    let select = format!(
        "select='eq(n\\,0)+gt(floor(t/{SAMPLE_SECONDS})-floor(prev_selected_t/{SAMPLE_SECONDS})\\,0)'"
    );
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(video)
        .args(["-vf", &select, "-vsync", "0", "-f", "rawvideo"])
        .args(["-pix_fmt", "rgb24", "pipe:1"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}: {}",
        video.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = out
        .stdout
        .chunks_exact(w * h * 3)
        .enumerate()
        .map(|(k, c)| LocalFrame {
            frame_number: k as u64,
            timestamp: k as f64 * SAMPLE_SECONDS,
            features: local_match::frame_features(c, w, h).unwrap(),
        })
        .collect();
    local_match::thin(frames)
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
    let only: Option<Vec<String>> = std::env::args()
        .nth(2)
        .map(|t| t.split(',').map(str::to_string).collect());
    let items: Vec<_> = items
        .into_iter()
        .filter(|(_, kind, _, t)| kind != "copy" || only.as_ref().is_none_or(|o| o.contains(t)))
        .collect();
    let t0 = Instant::now();
    let of: Vec<Vec<LocalFrame>> = par_map(&originals, |o| video_frames(o));
    let cf: Vec<Vec<LocalFrame>> = par_map(&items, |(name, ..)| {
        video_frames(&work.join("corpus").join(name))
    });
    let extracted = t0.elapsed().as_secs_f64();
    let mut index = LocalIndex::new();
    for (i, frames) in cf.iter().enumerate() {
        index.add(i as u32, frames.clone());
    }
    // As bench/eval.py's: the sample clips' families, and the photograph a pan is of.
    let family = |s: &str| {
        if let Some(rest) = s.strip_prefix("photo-") {
            return rest.split(['-', '.']).nth(1).unwrap_or(rest).to_string();
        }
        ["chair", "pattern", "doorknob", "test-padded"]
            .into_iter()
            .find(|f| s.starts_with(f))
            .map_or(s.to_string(), str::to_string)
    };
    let t1 = Instant::now();
    let found: Vec<Vec<(u32, f64, f64, usize)>> = par_map(&of, |q| {
        index
            .search(q, None)
            .into_iter()
            .map(|m| {
                let inl = m.best().map_or(0, |p| p.verification.inliers);
                (m.owner, m.query_match, m.item_match, inl)
            })
            .collect()
    });
    let searched = t1.elapsed().as_secs_f64();
    let opts = VerifyOptions::default();
    let mut table: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut false_matches = Vec::new();
    for (o, hits) in found.iter().enumerate() {
        let oname = originals[o]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let listed = |i: usize| {
            hits.iter()
                .find(|h| h.0 as usize == i && h.1.max(h.2) >= 0.2)
        };
        for (i, (name, kind, orig, t)) in items.iter().enumerate() {
            let hit = listed(i);
            if kind == "copy" && *orig == oname {
                let e = table.entry(t.clone()).or_default();
                e.1 += 1;
                e.0 += usize::from(hit.is_some());
                if hit.is_none() {
                    // The best pair of frames, and the candidates' votes.
                    let mut best = (0, 0, 0);
                    for q in &of[o] {
                        for c in &cf[i] {
                            let v = local::verify_mirrored(&q.features, &c.features, &opts);
                            if (v.inliers, v.matches) > (best.0, best.1) {
                                best = (v.inliers, v.matches, usize::from(v.same));
                            }
                        }
                    }
                    let voted = of[o]
                        .iter()
                        .map(|q| {
                            let ranked = index.votes(&q.features, None);
                            ranked
                                .iter()
                                .position(|(slot, _)| index.owner_of(*slot) == Some(i as u32))
                                .map_or("-".to_string(), |r| r.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(",");
                    println!(
                        "    missed {name}: best pair {} inliers of {} matches{}; rank by votes per query frame {voted}",
                        best.0,
                        best.1,
                        if best.2 == 1 { " (verified)" } else { "" }
                    );
                }
            } else if let Some(h) = hit {
                if kind == "distractor" || family(orig) != family(&oname) {
                    false_matches.push(format!("{oname} -> {name} ({} inliers)", h.3));
                }
            }
        }
    }
    println!(
        "local features on {} ({} originals, {} items): features {extracted:.0} s, search {searched:.1} s",
        work.display(),
        originals.len(),
        items.len(),
    );
    let (mut n_all, mut t_all) = (0, 0);
    for (t, (n, total)) in &table {
        println!("{t:<16} {n:>3}/{total:<3} {:.2}", *n as f64 / *total as f64);
        n_all += n;
        t_all += total;
    }
    println!("all              {n_all:>3}/{t_all:<3}");
    println!("false matches: {} {false_matches:?}", false_matches.len());
}
