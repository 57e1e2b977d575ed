//! Synthetic footage for the end-to-end tests of local features: seeded shapes on a canvas,
//! panned into a video with FFmpeg.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use image::{Rgb, RgbImage};

use super::Env;

/// A canvas of seeded shapes: rectangles, discs, bars and strokes of many sizes and
/// colours over a two-tone gradient (rich in corners at every scale).
pub fn scene(seed: u64, w: u32, h: u32) -> RgbImage {
    let mut rng = super::Rng(seed);
    let mut f = |n: u64| rng.below(n) as i64;
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        let g = (x * 160 / w + y * 60 / h) as u8;
        Rgb([40 + g / 2, 60 + g / 3, 90 + g / 4])
    });
    for _ in 0..700 {
        let c = Rgb([f(256) as u8, f(256) as u8, f(256) as u8]);
        let (cx, cy) = (f(i64::from(w) as u64), f(i64::from(h) as u64));
        let size = 4 + f(60) * f(3) / 2;
        match f(3) {
            0 => {
                let (rw, rh) = (size, 4 + f(60));
                for y in cy..(cy + rh).min(i64::from(h)) {
                    for x in cx..(cx + rw).min(i64::from(w)) {
                        img.put_pixel(x as u32, y as u32, c);
                    }
                }
            }
            1 => {
                let r = size / 2 + 2;
                for y in (cy - r).max(0)..(cy + r).min(i64::from(h)) {
                    for x in (cx - r).max(0)..(cx + r).min(i64::from(w)) {
                        if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                            img.put_pixel(x as u32, y as u32, c);
                        }
                    }
                }
            }
            _ => {
                // A stroke: a thin slanted bar.
                let (dx, dy) = (f(9) - 4, f(9) - 4);
                for k in 0..size * 2 {
                    for t in 0..3 {
                        let x = cx + k * dx / 4 + t;
                        let y = cy + k * dy / 4;
                        if (0..i64::from(w)).contains(&x) && (0..i64::from(h)).contains(&y) {
                            img.put_pixel(x as u32, y as u32, c);
                        }
                    }
                }
            }
        }
    }
    img
}

/// Runs FFmpeg; false (the test is skipped) where it is missing, except under `CI=true`.
pub fn ffmpeg(args: &[&str]) -> bool {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ffmpeg required under CI=true: {other:?}"
            );
            eprintln!("notice: ffmpeg cannot make test clips ({other:?}); skipping");
            false
        }
    }
}

pub const ENCODE: [&str; 8] = [
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
];

/// An 8-second 640×360 video panning slowly over a scene.
pub fn panned(env: &Env, name: &str, seed: u64) -> Option<PathBuf> {
    let png = env.path(&format!("{name}.png"));
    scene(seed, 1280, 720).save(&png).unwrap();
    let out = env.path(&format!("{name}.mp4"));
    let mut args = vec![
        "-loop",
        "1",
        "-framerate",
        "10",
        "-i",
        png.to_str().unwrap(),
    ];
    args.extend([
        "-vf",
        "crop=960:540:x='t*30':y='t*15',scale=640:360",
        "-t",
        "8",
    ]);
    args.extend(ENCODE);
    args.push(out.to_str().unwrap());
    ffmpeg(&args).then_some(out)
}

/// `athar similar --json TARGET`, which must succeed: (item, transform in words, the whole
/// match) of each match.
pub fn similar(env: &Env, target: &str) -> Vec<(String, String, serde_json::Value)> {
    let out = env.run(&["similar", "--json", target]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    r["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["item"].as_str().unwrap().to_owned(),
                m["local"]["transform"].as_str().unwrap_or("").to_owned(),
                m.clone(),
            )
        })
        .collect()
}
