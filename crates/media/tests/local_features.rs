//! Local features and geometric verification on the copies broadcasters and re-filmers
//! make: picture-in-picture, rotation with re-framing, deep crops at an offset, screens
//! filmed at an angle, and stacks of transforms — over procedurally generated scenes and
//! real frames (the ThreatExchange sample videos, decoded with the `ffmpeg` CLI, and the PDQ
//! sample photographs) — and zero false matches among at least 200 unrelated frames.
//!
//! Every copy must be found with the right geometry (the inset's box, the rotation angle
//! and scale, the crop window, the screen's corners), within tolerance. Everything is
//! generated from fixed seeds. `cargo test -p athar-media --test local_features --
//! --nocapture` prints the table and the timings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Instant;

use athar_media::local::{self, FeatureOptions, Features, Luma, Verification, VerifyOptions};
use image::{imageops, Rgb, RgbImage};

const W: u32 = 640;
const H: u32 = 360;

// --- seeded randomness ----------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6a09_e667_f3bc_c909)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f()
    }
    fn int(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n.max(1))) as u32
    }
    fn colour(&mut self) -> [f64; 3] {
        [
            self.range(0.0, 255.0),
            self.range(0.0, 255.0),
            self.range(0.0, 255.0),
        ]
    }
    fn gauss(&mut self) -> f64 {
        let (u1, u2) = (self.f().max(1e-12), self.f());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

// --- procedural scenes -----------------------------------------------------------------------

/// A float RGB canvas.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<[f64; 3]>,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Canvas {
        Canvas {
            w: w as usize,
            h: h as usize,
            px: vec![[0.0; 3]; (w * h) as usize],
        }
    }
    /// Fills where `inside(x, y)` (tested at pixel centres) over the box.
    fn fill(&mut self, bbox: [f64; 4], c: [f64; 3], inside: impl Fn(f64, f64) -> bool) {
        let x0 = bbox[0].floor().max(0.0) as usize;
        let y0 = bbox[1].floor().max(0.0) as usize;
        let x1 = (bbox[2].ceil().max(0.0) as usize).min(self.w);
        let y1 = (bbox[3].ceil().max(0.0) as usize).min(self.h);
        for y in y0..y1 {
            for x in x0..x1 {
                if inside(x as f64 + 0.5, y as f64 + 0.5) {
                    self.px[y * self.w + x] = c;
                }
            }
        }
    }
    fn line(&mut self, a: [f64; 2], b: [f64; 2], width: f64, c: [f64; 3]) {
        let r = width / 2.0;
        let bbox = [
            a[0].min(b[0]) - r,
            a[1].min(b[1]) - r,
            a[0].max(b[0]) + r,
            a[1].max(b[1]) + r,
        ];
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let l2 = (dx * dx + dy * dy).max(1e-9);
        self.fill(bbox, c, |x, y| {
            let t = (((x - a[0]) * dx + (y - a[1]) * dy) / l2).clamp(0.0, 1.0);
            let (px, py) = (a[0] + t * dx - x, a[1] + t * dy - y);
            px * px + py * py <= r * r
        });
    }
    fn to_image(&self) -> RgbImage {
        RgbImage::from_fn(self.w as u32, self.h as u32, |x, y| {
            let p = self.px[y as usize * self.w + x as usize];
            Rgb(p.map(|v| v.round().clamp(0.0, 255.0) as u8))
        })
    }
}

fn gradient(cv: &mut Canvas, rng: &mut Rng) {
    let (a, b) = (rng.colour(), rng.colour());
    let t = rng.range(0.0, std::f64::consts::TAU);
    let (s, c) = t.sin_cos();
    let diag = (cv.w as f64).hypot(cv.h as f64);
    for y in 0..cv.h {
        for x in 0..cv.w {
            let u = ((x as f64 * c + y as f64 * s) / diag + 1.0) / 2.0;
            cv.px[y * cv.w + x] = [0, 1, 2].map(|k| a[k] * (1.0 - u) + b[k] * u);
        }
    }
}

/// Smooth value noise on a random coarse grid, in 0..1.
fn value_noise(rng: &mut Rng, w: usize, h: usize, cells: usize) -> Vec<f64> {
    let gw = cells + 2;
    let gh = cells * h / w + 3;
    let g: Vec<f64> = (0..gw * gh).map(|_| rng.f()).collect();
    let step = w as f64 / cells as f64;
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f64 / step, y as f64 / step);
            let (ix, iy) = (fx as usize, fy as usize);
            let (tx, ty) = (fx - ix as f64, fy - iy as f64);
            let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
            let at = |i: usize, j: usize| g[(j.min(gh - 1)) * gw + i.min(gw - 1)];
            let top = at(ix, iy) * (1.0 - sx) + at(ix + 1, iy) * sx;
            let bot = at(ix, iy + 1) * (1.0 - sx) + at(ix + 1, iy + 1) * sx;
            out[y * w + x] = top * (1.0 - sy) + bot * sy;
        }
    }
    out
}

fn shapes(cv: &mut Canvas, rng: &mut Rng, n: usize) {
    for _ in 0..n {
        let c = rng.colour();
        let (cx, cy) = (rng.range(0.0, cv.w as f64), rng.range(0.0, cv.h as f64));
        let r = rng.range(8.0, cv.h as f64 / 4.0);
        match rng.int(4) {
            0 => {
                let (rw, rh, t) = (r, rng.range(0.3, 1.5) * r, rng.range(0.0, 3.2));
                let (s, co) = f64::sin_cos(t);
                let e = rw.hypot(rh);
                cv.fill([cx - e, cy - e, cx + e, cy + e], c, |x, y| {
                    let (u, v) = ((x - cx) * co + (y - cy) * s, -(x - cx) * s + (y - cy) * co);
                    u.abs() <= rw && v.abs() <= rh
                });
            }
            1 => {
                let ry = r * rng.range(0.4, 1.0);
                cv.fill([cx - r, cy - ry, cx + r, cy + ry], c, |x, y| {
                    ((x - cx) / r).powi(2) + ((y - cy) / ry).powi(2) <= 1.0
                });
            }
            2 => {
                let p: Vec<[f64; 2]> = (0..3)
                    .map(|_| [cx + rng.range(-r, r), cy + rng.range(-r, r)])
                    .collect();
                let side = |a: [f64; 2], b: [f64; 2], x: f64, y: f64| {
                    (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
                };
                cv.fill([cx - r, cy - r, cx + r, cy + r], c, |x, y| {
                    let s = [
                        side(p[0], p[1], x, y),
                        side(p[1], p[2], x, y),
                        side(p[2], p[0], x, y),
                    ];
                    s.iter().all(|&v| v >= 0.0) || s.iter().all(|&v| v <= 0.0)
                });
            }
            _ => {
                let a = [cx, cy];
                let b = [
                    cx + rng.range(-2.0 * r, 2.0 * r),
                    cy + rng.range(-2.0 * r, 2.0 * r),
                ];
                cv.line(a, b, rng.range(2.0, 8.0), c);
            }
        }
    }
}

/// Rows of glyph-like strokes on a 3×4 lattice per glyph.
fn text(cv: &mut Canvas, rng: &mut Rng, region: [f64; 4]) {
    let size = rng.range(14.0, 30.0);
    let c = rng.colour();
    let width = size * rng.range(0.08, 0.16);
    let mut y = region[1] + size * 0.2;
    while y + size <= region[3] {
        let mut x = region[0] + rng.range(0.0, size);
        while x + size * 0.7 <= region[2] {
            let word = 2 + rng.int(6);
            for _ in 0..word {
                if x + size * 0.7 > region[2] {
                    break;
                }
                let pt = |rng: &mut Rng| {
                    [
                        x + f64::from(rng.int(3)) * size * 0.3,
                        y + f64::from(rng.int(4)) * size * 0.3,
                    ]
                };
                for _ in 0..2 + rng.int(3) {
                    let (a, b) = (pt(rng), pt(rng));
                    if a != b {
                        cv.line(a, b, width, c);
                    }
                }
                x += size * 0.8;
            }
            x += size * 0.6;
        }
        y += size * 1.4;
    }
}

fn noise(cv: &mut Canvas, rng: &mut Rng, sigma: f64) {
    for p in &mut cv.px {
        let n = rng.gauss() * sigma;
        for v in p.iter_mut() {
            *v += n;
        }
    }
}

/// One of five kinds of scene, by `kind`.
fn scene(kind: u32, seed: u64) -> RgbImage {
    let mut rng = Rng::new(seed);
    let mut cv = Canvas::new(W, H);
    let (w, h) = (cv.w as f64, cv.h as f64);
    match kind % 5 {
        0 => {
            gradient(&mut cv, &mut rng);
            let n = 15 + rng.int(30) as usize;
            shapes(&mut cv, &mut rng, n);
        }
        1 => {
            gradient(&mut cv, &mut rng);
            let (x0, y0) = (rng.range(0.0, 0.3 * w), rng.range(0.0, 0.3 * h));
            let x1 = w - rng.range(0.0, 0.2 * w);
            text(&mut cv, &mut rng, [x0, y0, x1, h]);
        }
        2 => {
            // Texture: gratings over value noise, false-coloured.
            let cells = 6 + rng.int(20) as usize;
            let nz = value_noise(&mut rng, cv.w, cv.h, cells);
            let g: Vec<(f64, f64, f64, f64)> = (0..3 + rng.int(3))
                .map(|_| {
                    let t = rng.range(0.0, 3.2);
                    (t.cos(), t.sin(), rng.range(0.02, 0.3), rng.range(0.0, 6.3))
                })
                .collect();
            let (a, b) = (rng.colour(), rng.colour());
            for y in 0..cv.h {
                for x in 0..cv.w {
                    let mut v = nz[y * cv.w + x];
                    for &(c, s, f, ph) in &g {
                        v += 0.3 * ((x as f64 * c + y as f64 * s) * f + ph).sin();
                    }
                    let u = (v / 2.0 + 0.25).clamp(0.0, 1.0);
                    cv.px[y * cv.w + x] = [0, 1, 2].map(|k| a[k] * (1.0 - u) + b[k] * u);
                }
            }
            shapes(&mut cv, &mut rng, 3);
        }
        3 => {
            // Blobs: value noise cut into a palette.
            let cells = 4 + rng.int(10) as usize;
            let nz = value_noise(&mut rng, cv.w, cv.h, cells);
            let pal: Vec<[f64; 3]> = (0..4).map(|_| rng.colour()).collect();
            for (p, v) in cv.px.iter_mut().zip(nz) {
                *p = pal[((v * 4.0) as usize).min(3)];
            }
            let n = 5 + rng.int(10) as usize;
            shapes(&mut cv, &mut rng, n);
        }
        _ => {
            // A mix: shapes over texture, a block of text.
            gradient(&mut cv, &mut rng);
            let nz = value_noise(&mut rng, cv.w, cv.h, 12);
            let tint = rng.colour();
            for (p, v) in cv.px.iter_mut().zip(nz) {
                for k in 0..3 {
                    p[k] = p[k] * 0.6 + tint[k] * v * 0.4;
                }
            }
            let n = 8 + rng.int(12) as usize;
            shapes(&mut cv, &mut rng, n);
            let (x0, y0) = (rng.range(0.0, 0.6 * w), rng.range(0.0, 0.6 * h));
            text(&mut cv, &mut rng, [x0, y0, x0 + 0.4 * w, y0 + 0.35 * h]);
        }
    }
    noise(&mut cv, &mut rng, 3.0);
    cv.to_image()
}

// --- real frames -----------------------------------------------------------------------------

/// One frame of `video` at `seconds`, scaled to W×H, through the `ffmpeg` CLI.
fn video_frame(video: &Path, seconds: f64) -> Option<RgbImage> {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-loglevel",
            "error",
            "-ss",
            &format!("{seconds}"),
            "-i",
        ])
        .arg(video)
        .args([
            "-frames:v",
            "1",
            "-vf",
            &format!("scale={W}:{H}"),
            "-f",
            "rawvideo",
        ])
        .args(["-pix_fmt", "rgb24", "pipe:1"])
        .output()
        .ok()?;
    (out.status.success() && out.stdout.len() == (W * H * 3) as usize)
        .then(|| RgbImage::from_raw(W, H, out.stdout))?
}

fn photo(path: &Path) -> Option<RgbImage> {
    let img = image::open(path).ok()?.to_rgb8();
    Some(imageops::resize(&img, W, H, imageops::FilterType::Triangle))
}

/// Real originals (sample video frames, one photograph) and real distractors (the other
/// photographs), when the test data and FFmpeg are there.
type Named = Vec<(String, RgbImage)>;

fn real_frames() -> (Named, Named) {
    let (mut originals, mut distractors) = (Vec::new(), Vec::new());
    let Some(data) = common::testdata() else {
        return (originals, distractors);
    };
    let videos = data.join("threatexchange/tmk/sample-videos");
    if common::have_ffmpeg() {
        for (name, t) in [
            ("doorknob-hd-no-bar.mp4", 1.0),
            ("pattern-hd-no-bar.mp4", 2.0),
            ("chair-orig-22-sd-bar.mp4", 4.0),
            ("chair-orig-22-sd-bar.mp4", 12.0),
        ] {
            let frame = video_frame(&videos.join(name), t);
            assert!(frame.is_some() || !common::ci(), "cannot decode {name}");
            if let Some(f) = frame {
                originals.push((format!("{name}@{t}s"), f));
            }
        }
    }
    let pdq = data.join("threatexchange/pdq/data");
    if let Some(f) = photo(&pdq.join("bridge-mods/aaa-orig.jpg")) {
        originals.push(("bridge.jpg".into(), f));
    }
    let mut others: Vec<_> = std::fs::read_dir(pdq.join("reg-test-input/labelme-subset"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    others.push(pdq.join("reg-test-input/pen-and-coaster.png"));
    others.sort();
    for p in others {
        if let Some(f) = photo(&p) {
            distractors.push((p.file_name().unwrap().to_string_lossy().into_owned(), f));
        }
    }
    (originals, distractors)
}

// --- transforms ------------------------------------------------------------------------------

type Mat3 = [f64; 9];

fn apply(h: &Mat3, p: [f64; 2]) -> [f64; 2] {
    let w = h[6] * p[0] + h[7] * p[1] + h[8];
    [
        (h[0] * p[0] + h[1] * p[1] + h[2]) / w,
        (h[3] * p[0] + h[4] * p[1] + h[5]) / w,
    ]
}

fn invert(m: &Mat3) -> Mat3 {
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
    [
        m[4] * m[8] - m[5] * m[7],
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8],
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6],
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ]
    .map(|x| x / det)
}

/// The homography taking the corners of a `w`×`h` picture (pixel edges) to `quad`.
fn quad_homography(w: f64, h: f64, quad: [[f64; 2]; 4]) -> Mat3 {
    let src = [
        [-0.5, -0.5],
        [w - 0.5, -0.5],
        [w - 0.5, h - 0.5],
        [-0.5, h - 0.5],
    ];
    let mut a = [[0.0; 9]; 8];
    for (k, (s, d)) in src.iter().zip(quad).enumerate() {
        let (x, y, u, v) = (s[0], s[1], d[0], d[1]);
        a[2 * k] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * k + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let piv = (col..8)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, piv);
        let pivot = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot[col];
                for (x, p) in row[col..].iter_mut().zip(&pivot[col..]) {
                    *x -= f * p;
                }
            }
        }
    }
    let x: Vec<f64> = (0..8).map(|r| a[r][8] / a[r][r]).collect();
    [x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], 1.0]
}

/// Draws `src` through `fwd` (source pixel → output pixel) onto `dst`, bilinear.
fn warp_onto(dst: &mut RgbImage, src: &RgbImage, fwd: &Mat3) {
    let inv = invert(fwd);
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    for (x, y, p) in dst.enumerate_pixels_mut() {
        let s = apply(&inv, [f64::from(x), f64::from(y)]);
        if s[0] < -0.5 || s[1] < -0.5 || s[0] > sw - 0.5 || s[1] > sh - 0.5 {
            continue;
        }
        let (fx, fy) = (s[0].clamp(0.0, sw - 1.0), s[1].clamp(0.0, sh - 1.0));
        let (x0, y0) = (fx.floor() as u32, fy.floor() as u32);
        let (x1, y1) = (
            (x0 + 1).min(src.width() - 1),
            (y0 + 1).min(src.height() - 1),
        );
        let (tx, ty) = (fx - f64::from(x0), fy - f64::from(y0));
        let g = |xx, yy, k: usize| f64::from(src.get_pixel(xx, yy).0[k]);
        p.0 = [0, 1, 2].map(|k| {
            let top = g(x0, y0, k) * (1.0 - tx) + g(x1, y0, k) * tx;
            let bot = g(x0, y1, k) * (1.0 - tx) + g(x1, y1, k) * tx;
            (top * (1.0 - ty) + bot * ty).round() as u8
        });
    }
}

fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(img)
        .unwrap();
    image::load_from_memory(&buf).unwrap().to_rgb8()
}

/// A broadcaster's logo: a box with glyph strokes.
fn logo(img: &mut RgbImage, rng: &mut Rng) {
    let (w, h) = (img.width(), img.height());
    let lw = (f64::from(w) * 0.15) as u32;
    let lh = lw / 2;
    let corner = rng.int(4);
    let x0 = if corner % 2 == 0 { 6 } else { w - lw - 6 };
    let y0 = if corner < 2 { 6 } else { h - lh - 6 };
    let mut cv = Canvas::new(lw, lh);
    let c = rng.colour();
    for p in &mut cv.px {
        *p = c;
    }
    text(
        &mut cv,
        rng,
        [2.0, 2.0, f64::from(lw) - 2.0, f64::from(lh) - 2.0],
    );
    imageops::overlay(img, &cv.to_image(), i64::from(x0), i64::from(y0));
}

/// What a copy's verification must show.
enum Expect {
    /// The query's corners in the copy.
    Quad([[f64; 2]; 4]),
    /// The copy's corners in the query (a crop window).
    Window([[f64; 2]; 4]),
    /// Rotation (degrees) and scale of the similarity.
    Turn(f64, f64),
}

const TRANSFORMS: [&str; 6] = [
    "pip-small",
    "pip-large",
    "rotate",
    "crop70",
    "screen",
    "stack",
];

fn corners(w: f64, h: f64) -> [[f64; 2]; 4] {
    [
        [-0.5, -0.5],
        [w - 0.5, -0.5],
        [w - 0.5, h - 0.5],
        [-0.5, h - 0.5],
    ]
}

/// The `name` copy of `orig`, and what verifying it must show.
fn copy(name: &str, orig: &RgbImage, rng: &mut Rng) -> (RgbImage, Expect, bool) {
    let (w, h) = (f64::from(W), f64::from(H));
    match name {
        "pip-small" | "pip-large" => {
            let s = if name == "pip-small" {
                rng.range(0.25, 0.35)
            } else {
                rng.range(0.38, 0.5)
            };
            let mut bg = scene(rng.int(5), rng.next());
            let (iw, ih) = ((w * s).round() as u32, (h * s).round() as u32);
            let inset = imageops::resize(orig, iw, ih, imageops::FilterType::CatmullRom);
            let x = 4 + rng.int(W - iw - 8);
            let y = 4 + rng.int(H - ih - 8);
            for yy in y - 3..y + ih + 3 {
                for xx in x - 3..x + iw + 3 {
                    bg.put_pixel(xx, yy, Rgb([240, 240, 240]));
                }
            }
            imageops::overlay(&mut bg, &inset, i64::from(x), i64::from(y));
            let (x, y) = (f64::from(x), f64::from(y));
            let (iw, ih) = (f64::from(iw), f64::from(ih));
            let quad = [
                [x - 0.5, y - 0.5],
                [x + iw - 0.5, y - 0.5],
                [x + iw - 0.5, y + ih - 0.5],
                [x - 0.5, y + ih - 0.5],
            ];
            (jpeg(&bg, 80), Expect::Quad(quad), false)
        }
        "rotate" => {
            let deg = rng.range(2.0, 10.0) * if rng.int(2) == 0 { 1.0 } else { -1.0 };
            let t = deg.to_radians();
            let k = t.cos() + (w / h).max(h / w) * t.sin().abs();
            let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
            let (s, c) = t.sin_cos();
            let fwd = [
                k * c,
                -k * s,
                cx - k * (c * cx - s * cy),
                k * s,
                k * c,
                cy - k * (s * cx + c * cy),
                0.0,
                0.0,
                1.0,
            ];
            let mut out = RgbImage::new(W, H);
            warp_onto(&mut out, orig, &fwd);
            (jpeg(&out, 75), Expect::Turn(deg, k), false)
        }
        "crop70" => {
            let (cw, ch) = ((w * 0.7).round() as u32, (h * 0.7).round() as u32);
            let x = rng.int(W - cw + 1);
            let y = rng.int(H - ch + 1);
            let crop = imageops::crop_imm(orig, x, y, cw, ch).to_image();
            let out = imageops::resize(&crop, W, H, imageops::FilterType::CatmullRom);
            let (x, y, cw, ch) = (f64::from(x), f64::from(y), f64::from(cw), f64::from(ch));
            let win = [
                [x - 0.5, y - 0.5],
                [x + cw - 0.5, y - 0.5],
                [x + cw - 0.5, y + ch - 0.5],
                [x - 0.5, y + ch - 0.5],
            ];
            (jpeg(&out, 75), Expect::Window(win), false)
        }
        "screen" => {
            // A monitor filmed at an angle: a perspective quad over a dark room, lower
            // contrast, lifted blacks, sensor noise, re-encoded.
            let mut room = scene(3, rng.next());
            for p in room.pixels_mut() {
                p.0 = p.0.map(|v| v / 4);
            }
            let m = rng.range(0.06, 0.12);
            let a = rng.range(0.04, 0.1) * h;
            let left_near = rng.int(2) == 0;
            let j = |rng: &mut Rng| rng.range(-0.015, 0.015) * w;
            let (l, r) = (
                if left_near { 0.0 } else { a },
                if left_near { a } else { 0.0 },
            );
            let quad = [
                [m * w + j(rng), m * h + l + j(rng)],
                [(1.0 - m) * w + j(rng), m * h + r + j(rng)],
                [(1.0 - m) * w + j(rng), (1.0 - m) * h - r + j(rng)],
                [m * w + j(rng), (1.0 - m) * h - l + j(rng)],
            ];
            let fwd = quad_homography(w, h, quad);
            warp_onto(&mut room, orig, &fwd);
            let gain = rng.range(0.55, 0.8);
            let lift = rng.range(15.0, 35.0);
            let mut nr = Rng::new(rng.next());
            for p in room.pixels_mut() {
                let n = nr.gauss() * 6.0;
                p.0 =
                    p.0.map(|v| (f64::from(v) * gain + lift + n).round().clamp(0.0, 255.0) as u8);
            }
            (jpeg(&room, 60), Expect::Quad(quad), false)
        }
        "stack" => {
            // Small, mirrored, a logo, low quality.
            let small = imageops::resize(orig, W / 2, H / 2, imageops::FilterType::Triangle);
            let mut m = imageops::flip_horizontal(&small);
            logo(&mut m, rng);
            let (sw, sh) = (f64::from(W / 2), f64::from(H / 2));
            let quad = [
                [sw - 0.5, -0.5],
                [-0.5, -0.5],
                [-0.5, sh - 0.5],
                [sw - 0.5, sh - 0.5],
            ];
            (jpeg(&m, 25), Expect::Quad(quad), true)
        }
        _ => unreachable!("{name}"),
    }
}

fn features(img: &RgbImage) -> Features {
    let luma = Luma::from_rgb(img.as_raw(), img.width() as usize, img.height() as usize).unwrap();
    local::extract(&luma, &FeatureOptions::default())
}

fn corner_error(a: &[[f64; 2]; 4], b: &[[f64; 2]; 4]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
        .fold(0.0, f64::max)
}

/// Whether `v` shows what `e` expects (corners within 3 % of the width, angle within 1.5°,
/// scale within 5 %), and the error.
fn check(v: &Verification, e: &Expect, mirrored: bool) -> (bool, String) {
    if v.mirrored != mirrored {
        return (false, format!("mirrored {}", v.mirrored));
    }
    let tol = 0.03 * f64::from(W);
    match e {
        Expect::Quad(q) => {
            let err = corner_error(&v.query_in_candidate, q);
            (err <= tol, format!("corners off by {err:.1} px"))
        }
        Expect::Window(q) => {
            let err = corner_error(&v.candidate_in_query, q);
            (err <= tol, format!("window off by {err:.1} px"))
        }
        Expect::Turn(deg, k) => {
            let (da, ds) = (
                (v.similarity.angle - deg).abs(),
                (v.similarity.scale / k - 1.0).abs(),
            );
            (
                da <= 1.5 && ds <= 0.05,
                format!(
                    "angle {:.2}° (want {deg:.2}°), scale {:.3} (want {k:.3})",
                    v.similarity.angle, v.similarity.scale
                ),
            )
        }
    }
}

/// Runs `f` over `items` on two threads, keeping the order.
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

#[test]
fn copies_are_found_with_their_geometry_and_distractors_are_not() {
    let t0 = Instant::now();
    let mut originals: Vec<(String, RgbImage)> = (0..8u32)
        .map(|i| {
            (
                format!(
                    "scene-{}-{i}",
                    ["shapes", "text", "texture", "blobs", "mix"][(i % 5) as usize]
                ),
                scene(i % 5, 1000 + u64::from(i)),
            )
        })
        .collect();
    let (real, real_distractors) = real_frames();
    originals.extend(real);
    let ids: Vec<u32> = (0..200).collect();
    let mut distractors: Vec<(String, RgbImage)> = par_map(&ids, |&i| {
        (
            format!("distractor-{i}"),
            scene(i % 5, 50_000 + u64::from(i)),
        )
    });
    let scenes = t0.elapsed();
    distractors.extend(real_distractors);
    assert!(distractors.len() >= 200);

    // Every copy of every original.
    let mut jobs = Vec::new();
    for (oi, (_, o)) in originals.iter().enumerate() {
        for (ti, t) in TRANSFORMS.iter().enumerate() {
            jobs.push((oi, ti, *t, o, 7 * oi as u64 + ti as u64));
        }
    }
    let copies: Vec<(usize, usize, Expect, bool, Features)> =
        par_map(&jobs, |&(oi, ti, t, o, seed)| {
            let mut rng = Rng::new(seed);
            let (img, e, m) = copy(t, o, &mut rng);
            if let Some(dir) = std::env::var_os("LOCAL_DUMP") {
                img.save(Path::new(&dir).join(format!("{oi}-{t}.png")))
                    .unwrap();
                if ti == 0 {
                    o.save(Path::new(&dir).join(format!("{oi}-orig.png")))
                        .unwrap();
                }
            }
            (oi, ti, e, m, features(&img))
        });
    let ofeats: Vec<Features> = par_map(&originals, |(_, o)| features(o));
    let dfeats: Vec<Features> = par_map(&distractors, |(_, d)| features(d));
    let made = t0.elapsed();

    let opts = VerifyOptions::default();
    let found: Vec<(bool, usize, String)> = par_map(&copies, |(oi, _, e, m, f)| {
        let v = local::verify_mirrored(&ofeats[*oi], f, &opts);
        let (ok, why) = if v.same {
            let (ok, why) = check(&v, e, *m);
            (ok, format!("{why}: {v:?}"))
        } else {
            (
                false,
                format!("not the same ({} inliers of {})", v.inliers, v.matches),
            )
        };
        let why = format!("{why} [{} of {} matches]", v.inliers, v.matches);
        (ok, v.inliers, why)
    });
    // False matches: every original against every distractor and every other original's
    // copies.
    let pairs: Vec<(usize, usize)> = (0..originals.len())
        .flat_map(|o| (0..dfeats.len() + copies.len()).map(move |d| (o, d)))
        .filter(|&(o, d)| d < dfeats.len() || copies[d - dfeats.len()].0 != o)
        .collect();
    let most = std::sync::Mutex::new(Vec::<(usize, String)>::new());
    let false_matches: Vec<String> = par_map(&pairs, |&(o, d)| {
        let (cand, name) = if d < dfeats.len() {
            (&dfeats[d], distractors[d].0.clone())
        } else {
            let c = &copies[d - dfeats.len()];
            (&c.4, format!("{} of {}", TRANSFORMS[c.1], originals[c.0].0))
        };
        let v = local::verify_mirrored(&ofeats[o], cand, &opts);
        if v.inliers >= 8 {
            most.lock().unwrap().push((
                v.inliers,
                format!("{} vs {name}: {} matches", originals[o].0, v.matches),
            ));
        }
        v.same
            .then(|| format!("{} -> {name} ({} inliers)", originals[o].0, v.inliers))
    })
    .into_iter()
    .flatten()
    .collect();

    println!(
        "{} originals ({} real), {} distractors ({} real); scenes in {:.1} s, copies and features in {:.1} s, verified in {:.1} s",
        originals.len(),
        originals.len() - 8,
        distractors.len(),
        distractors.len() - 200,
        scenes.as_secs_f64(),
        (made - scenes).as_secs_f64(),
        (t0.elapsed() - made).as_secs_f64()
    );
    println!(
        "{:<10} {:>7} {:>7} {:>13} {:>13}",
        "transform", "found", "recall", "mean inliers", "least found"
    );
    let mut all_ok = true;
    for (ti, t) in TRANSFORMS.iter().enumerate() {
        let rows: Vec<_> = copies
            .iter()
            .zip(&found)
            .filter(|(c, _)| c.1 == ti)
            .collect();
        let n = rows.iter().filter(|(_, f)| f.0).count();
        let inl = rows.iter().map(|(_, f)| f.1).sum::<usize>() as f64 / rows.len() as f64;
        let least = rows
            .iter()
            .filter(|(_, f)| f.0)
            .map(|(_, f)| f.1)
            .min()
            .unwrap_or(0);
        let recall = n as f64 / rows.len() as f64;
        all_ok &= recall >= 0.8;
        println!(
            "{t:<10} {:>3}/{:<3} {recall:>7.2} {inl:>13.0} {least:>13}",
            n,
            rows.len()
        );
        for (c, f) in &rows {
            if !f.0 {
                println!("    missed {t} of {}: {}", originals[c.0].0, f.2);
            } else if std::env::var_os("LOCAL_VERBOSE").is_some() {
                println!("    found {t} of {}: {}", originals[c.0].0, f.2);
            }
        }
    }
    let n_found = found.iter().filter(|f| f.0).count();
    println!(
        "{:<10} {:>3}/{:<3} {:>7.2}",
        "all",
        n_found,
        found.len(),
        n_found as f64 / found.len() as f64
    );
    let mut most = most.into_inner().unwrap();
    most.sort_by(|a, b| b.cmp(a));
    most.truncate(5);
    println!("false matches: {} of {} pairs ({} distractor pairs); most inliers of non-matches: {most:?}",
        false_matches.len(), pairs.len(), originals.len() * dfeats.len());
    for f in &false_matches {
        println!("    false match: {f}");
    }
    assert!(false_matches.is_empty(), "false matches: {false_matches:?}");
    assert!(all_ok, "a transform's recall is under 0.8");
    assert!(
        n_found as f64 >= 0.9 * found.len() as f64,
        "overall recall under 0.9"
    );
}

#[test]
fn mirrored_features_match_mirrored_pixels() {
    let img = scene(4, 77);
    let f = features(&img);
    let g = features(&imageops::flip_horizontal(&img));
    let v = local::verify(&f.mirrored(), &g, &VerifyOptions::default());
    assert!(v.same, "{v:?}");
    let err = corner_error(&v.query_in_candidate, &corners(f64::from(W), f64::from(H)));
    assert!(err < 3.0, "{v:?}");
    assert!(
        v.inliers * 2 > f.len(),
        "{} inliers of {}",
        v.inliers,
        f.len()
    );
    // And verify_mirrored finds the flip by itself, mapping corners across.
    let m = local::verify_mirrored(&f, &g, &VerifyOptions::default());
    assert!(m.same && m.mirrored, "{m:?}");
    let want = [
        [f64::from(W) - 0.5, -0.5],
        [-0.5, -0.5],
        [-0.5, f64::from(H) - 0.5],
        [f64::from(W) - 0.5, f64::from(H) - 0.5],
    ];
    assert!(corner_error(&m.query_in_candidate, &want) < 3.0, "{m:?}");
}

#[test]
fn features_and_verification_are_deterministic() {
    let img = scene(0, 5);
    let (a, b) = (features(&img), features(&img));
    assert_eq!(a, b);
    assert!(a.len() > 500, "{} features", a.len());
    let mut rng = Rng::new(9);
    let (c, _, _) = copy("rotate", &img, &mut rng);
    let fc = features(&c);
    let o = VerifyOptions::default();
    assert_eq!(local::verify(&a, &fc, &o), local::verify(&b, &fc, &o));
    // Nothing to match: no panic, not the same.
    let empty = features(&RgbImage::new(8, 8));
    assert!(empty.is_empty());
    assert!(!local::verify(&a, &empty, &o).same);
    assert!(!local::verify(&empty, &a, &o).same);
    assert!(Luma::new(3, 3, vec![0; 8]).is_err());
    // Keypoints and descriptors that do not pair up (features read back from elsewhere):
    // no panic.
    let mut odd = a.clone();
    odd.keypoints.truncate(100);
    let _ = local::verify_mirrored(&odd, &a, &o);
    let _ = local::verify_mirrored(&a, &odd, &o);
}

/// Median µs of `f` over `n` runs.
fn median_us(n: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..n)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[n / 2]
}

#[test]
fn timings() {
    let img = scene(4, 11);
    let small = imageops::resize(&img, 320, 240, imageops::FilterType::Triangle);
    let l640 = Luma::from_rgb(img.as_raw(), 640, 360).unwrap();
    let l320 = Luma::from_rgb(small.as_raw(), 320, 240).unwrap();
    let o = FeatureOptions::default();
    let t320 = median_us(9, || {
        std::hint::black_box(local::extract(&l320, &o));
    });
    let t640 = median_us(9, || {
        std::hint::black_box(local::extract(&l640, &o));
    });
    let a = local::extract(&l640, &o);
    let mut rng = Rng::new(3);
    let (c, _, _) = copy("screen", &img, &mut rng);
    let b = features(&c);
    let d = features(&scene(2, 99));
    let vo = VerifyOptions::default();
    let same = median_us(9, || {
        std::hint::black_box(local::verify(&a, &b, &vo));
    });
    let other = median_us(9, || {
        std::hint::black_box(local::verify(&a, &d, &vo));
    });
    println!(
        "extract: {t320:.0} µs at 320x240 ({} features), {t640:.0} µs at 640x360 ({} features); \
         verify: {same:.0} µs a copy ({} × {} features), {other:.0} µs unrelated",
        local::extract(&l320, &o).len(),
        a.len(),
        a.len(),
        b.len()
    );
}

/// The descriptors go into the exact Hamming index as they are: each of a frame's
/// descriptors, searched within a radius, votes for the indexed frame of its nearest hit
/// (when it has few hits: generic corners are near many), and a copy (turned, re-framed,
/// re-encoded) gets far more votes than unrelated frames — candidates for [`local::verify`].
#[test]
fn descriptors_find_their_frames_through_the_hamming_index() {
    use athar_media::hamming::HammingIndex;
    let original = scene(4, 21);
    let mut rng = Rng::new(21);
    let (copy_img, _, _) = copy("rotate", &original, &mut rng);
    let mut frames: Vec<RgbImage> = (0..30u32)
        .map(|i| scene(i % 5, 90_000 + u64::from(i)))
        .collect();
    frames.insert(17, copy_img);
    let feats = par_map(&frames, features);
    let mut owner = Vec::new();
    let mut hashes = Vec::new();
    for (i, f) in feats.iter().enumerate() {
        owner.extend(std::iter::repeat_n(i, f.len()));
        hashes.extend_from_slice(&f.descriptors);
    }
    let index = HammingIndex::build(hashes);
    let q = features(&original);
    let t = Instant::now();
    let mut votes = vec![0usize; frames.len()];
    // One vote per query descriptor, for the frame of its nearest hit, and only when few
    // indexed descriptors are that near (a generic corner, near many, says little).
    for d in &q.descriptors {
        let hits = index.radius(d, 24);
        if hits.len() > 8 {
            continue;
        }
        if let Some(&(id, _)) = hits.iter().min_by_key(|&&(id, dist)| (dist, id)) {
            votes[owner[id as usize]] += 1;
        }
    }
    let took = t.elapsed();
    let best_other = votes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 17)
        .map(|(_, v)| *v)
        .max()
        .unwrap();
    println!(
        "index of {} descriptors ({} frames): {} query descriptors in {:.1} ms; votes: copy {}, best unrelated frame {best_other}",
        index.len(),
        frames.len(),
        q.len(),
        took.as_secs_f64() * 1e3,
        votes[17]
    );
    assert!(votes[17] > 3 * best_other.max(1), "{votes:?}");
}

/// The archive's search ([`LocalIndex::search`]) as `athar similar` runs it: with a dozen
/// easy copies of the picture stored (each verifies) and 40 unrelated frames, the hard
/// copies are still reached — a mirrored stack (its votes come from the mirrored query) and
/// picture-in-picture insets — and nothing unrelated is listed.
#[test]
fn the_index_reaches_mirrored_and_inset_copies_among_many_easy_ones() {
    use athar_media::local_match::{LocalFrame, LocalIndex};
    let frame = |img: &RgbImage| LocalFrame {
        features: athar_media::local_match::frame_features(
            img.as_raw(),
            img.width() as usize,
            img.height() as usize,
        )
        .unwrap(),
        ..LocalFrame::default()
    };
    let original = scene(4, 77);
    let mut rng = Rng::new(77);
    let mut stored: Vec<(String, RgbImage)> = (0..12u8)
        .map(|k| (format!("easy-{k}"), jpeg(&original, 30 + 5 * k)))
        .collect();
    for name in ["stack", "pip-large", "pip-small"] {
        let (img, _, _) = copy(name, &original, &mut rng);
        stored.push((name.to_string(), img));
    }
    let distractors: Vec<u32> = (0..40).collect();
    stored.extend(par_map(&distractors, |&i| {
        (
            format!("distractor-{i}"),
            scene(i % 5, 70_000 + u64::from(i)),
        )
    }));
    let frames = par_map(&stored, |(_, img)| frame(img));
    let mut index = LocalIndex::new();
    for (owner, f) in frames.into_iter().enumerate() {
        index.add(owner as u32, vec![f]);
    }
    let found: Vec<&str> = index
        .search(&[frame(&original)], None)
        .iter()
        .map(|m| stored[m.owner as usize].0.as_str())
        .collect();
    for name in ["stack", "pip-large", "pip-small"] {
        assert!(found.contains(&name), "{name} not found: {found:?}");
    }
    assert_eq!(found.iter().filter(|n| n.starts_with("easy")).count(), 12);
    assert!(
        !found.iter().any(|n| n.starts_with("distractor")),
        "{found:?}"
    );
}
