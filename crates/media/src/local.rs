//! Local binary features: keypoints with 256-bit descriptors, and geometric verification of
//! two frames' features, for copies that show a picture in only part of the frame, rotated,
//! deeply cropped or seen through a perspective (a screen filmed at an angle) — what a whole-
//! frame hash such as PDQ cannot match.
//!
//! **Features** ([`extract`]): an ORB-like detector and descriptor (Rublee et al., *ORB: an
//! efficient alternative to SIFT or SURF*, 2011), written here in safe Rust:
//!
//! - a pyramid of [`FeatureOptions::levels`] levels, each [`FeatureOptions::scale_factor`]
//!   smaller than the one before (bilinear);
//! - FAST-9 corners (Rosten & Drummond) on each level, 3×3 non-maximum suppression on the
//!   FAST score, ranked by the Harris response (7×7 Sobel window); the threshold drops to
//!   [`FeatureOptions::min_fast_threshold`] on a level that has too few corners;
//! - the budget ([`FeatureOptions::max_features`]) shared between levels in proportion to
//!   their side (not their area, so coarse levels keep enough corners to match a copy shown
//!   at a quarter of its size), and within a level spread over a grid of cells (the best
//!   corner of each cell first), so a picture-in-picture inset gets its share;
//! - the orientation of each corner by the intensity centroid of a disc of radius 15;
//! - a 256-bit rotated BRIEF descriptor: 256 intensity comparisons between points of a fixed
//!   pattern (integers from a fixed seed, about Gaussian around the corner, within radius
//!   13; the same on every machine), rotated to the corner's
//!   orientation (in 12° steps), on the level smoothed by a 9-tap binomial filter. The
//!   descriptor is a [`Hash256`], so the exact Hamming index ([`crate::hamming`]) can hold it.
//!   The pattern comes in pairs mirrored about the horizontal axis, which makes the
//!   descriptor of a left–right mirrored picture a fixed permutation of the original's bits:
//!   [`Features::mirrored`] gives a mirrored copy's features without looking at pixels again.
//!
//! **Verification** ([`verify`]): tentative matches by Hamming distance (nearest neighbour
//! within [`VerifyOptions::max_distance`], ratio test against the nearest neighbour that is
//! not the same corner at another level, one match per candidate corner); then a seeded
//! (deterministic) RANSAC: similarity hypotheses from two matches, each improved by local
//! optimisation into a homography (normalised DLT, re-fitted on its inliers). A match is an
//! inlier when its candidate position lies within [`VerifyOptions::tolerance`] of where the
//! model sends the query's, *and* the two corners' orientations and scales agree with the
//! model's local rotation and scale there — which makes chance consensus between unrelated
//! pictures rare. Two frames show the same picture when the best homography keeps at least
//! [`VerifyOptions::min_inliers`] inliers spread over [`VerifyOptions::min_spread`] of the
//! picture on one side, and the homography is plausible (orientation-preserving, scale within
//! 1/20–20, bounded perspective). [`verify_mirrored`] tries the mirrored query too. The
//! result carries the transform: the homography, where the query's corners land in the
//! candidate (the box of a picture-in-picture inset, the quadrilateral of a filmed screen),
//! where the candidate's corners land in the query (the window of a crop), and the
//! least-squares similarity (scale, rotation, offset).
//!
//! Limits: features come from luma only, so a picture whose parts differ only in hue (red
//! strokes on a blue ground of the same luma) has next to none; smooth pictures without
//! corners (gradients, plasma) and fine repetitive patterns (a cellular automaton, a
//! fence) have few that are distinctive. Whole-frame hashes ([`crate::variants`]) cover
//! those when the copy is whole. A frame's features are about 56 bytes each (a 32-byte
//! descriptor and its keypoint), 1000 at most by default.
//!
//! Everything is deterministic: the same pixels and options give the same features and the
//! same verification on every run (nothing here is threaded; RANSAC draws from a seeded
//! generator). Across machines the only floating point that could differ is the platform's
//! `atan2` in the last bit, which moves a corner's orientation step only when it lies exactly
//! on the edge between two.
//!
//! Coordinates are pixels of the frame given to [`extract`] (x right, y down, the centre of
//! the top left pixel at (0, 0)); angles are in that frame, so a positive angle turns x
//! towards y (clockwise on screen).

use std::sync::OnceLock;

use crate::hamming::{distance, Hash256};
use crate::image_rgb::RgbImage;
use crate::MediaError;

/// An 8-bit greyscale frame, row-major, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Luma {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Luma {
    /// Checks that `pixels` holds `width`×`height` bytes.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Luma, MediaError> {
        if width.checked_mul(height) != Some(pixels.len()) {
            return Err(MediaError::BadBuffer {
                len: pixels.len(),
                width,
                height,
            });
        }
        Ok(Luma {
            width,
            height,
            pixels,
        })
    }

    /// BT.601 luma (integer weights 77, 150, 29 over 256) of packed RGB pixels.
    pub fn from_rgb(rgb: &[u8], width: usize, height: usize) -> Result<Luma, MediaError> {
        if width.checked_mul(height).and_then(|n| n.checked_mul(3)) != Some(rgb.len()) {
            return Err(MediaError::BadBuffer {
                len: rgb.len(),
                width,
                height,
            });
        }
        let pixels = rgb
            .chunks_exact(3)
            .map(|p| {
                ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8)
                    as u8
            })
            .collect();
        Ok(Luma {
            width,
            height,
            pixels,
        })
    }

    /// The luma of an [`RgbImage`].
    pub fn from_image(img: &RgbImage) -> Result<Luma, MediaError> {
        Luma::from_rgb(&img.pixels, img.width, img.height)
    }
}

/// How features are detected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureOptions {
    /// Most keypoints kept for a frame (all levels together).
    pub max_features: usize,
    /// Pyramid levels (fewer when the frame is small).
    pub levels: usize,
    /// Ratio of the sides of one level to the next (> 1).
    pub scale_factor: f32,
    /// FAST threshold (intensity difference to the centre).
    pub fast_threshold: u8,
    /// The threshold used instead on a level with too few corners.
    pub min_fast_threshold: u8,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            max_features: 1000,
            levels: 8,
            scale_factor: 1.26,
            fast_threshold: 20,
            min_fast_threshold: 7,
        }
    }
}

/// One keypoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Keypoint {
    /// Position in the frame's pixels.
    pub x: f32,
    pub y: f32,
    /// Pyramid level it was found on.
    pub level: u8,
    /// Size of one of its level's pixels, in frame pixels.
    pub scale: f32,
    /// Orientation in radians, in (−π, π].
    pub angle: f32,
    /// Harris response (for ranking only).
    pub response: f32,
}

/// A frame's keypoints and their descriptors (same order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    pub width: usize,
    pub height: usize,
    pub keypoints: Vec<Keypoint>,
    pub descriptors: Vec<Hash256>,
}

impl Features {
    pub fn len(&self) -> usize {
        self.keypoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keypoints.is_empty()
    }

    /// The features of the frame mirrored left to right, from these alone: positions and
    /// orientations mirrored, descriptor bits permuted (the pattern's pairs are mirror
    /// images of each other). Within a few bits of extracting from mirrored pixels.
    pub fn mirrored(&self) -> Features {
        let w = self.width as f32;
        let keypoints = self
            .keypoints
            .iter()
            .map(|k| Keypoint {
                x: w - 1.0 - k.x,
                angle: wrap_angle(std::f32::consts::PI - k.angle),
                ..*k
            })
            .collect();
        const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;
        const EVEN: u64 = 0x5555_5555_5555_5555;
        let descriptors = self
            .descriptors
            .iter()
            .map(|d| d.map(|x| ((x & EVEN) << 1) | ((x & ODD) >> 1)))
            .collect();
        Features {
            width: self.width,
            height: self.height,
            keypoints,
            descriptors,
        }
    }
}

fn wrap_angle(a: f32) -> f32 {
    use std::f32::consts::PI;
    let mut a = a % (2.0 * PI);
    if a <= -PI {
        a += 2.0 * PI;
    } else if a > PI {
        a -= 2.0 * PI;
    }
    a
}

/// Pixels kept clear of a level's edges: the orientation disc's radius plus one.
const BORDER: usize = 16;
/// Radius of the orientation disc.
const ORIENT_RADIUS: i32 = 15;
/// Radius the descriptor's sampling points stay within.
const PATTERN_RADIUS: i32 = 13;
/// Orientation steps of the rotated pattern.
const ANGLE_BINS: usize = 30;
/// Side of the grid cells that spread keypoints over a level, in level pixels.
const CELL: usize = 32;

/// The FAST-9 circle of radius 3, clockwise from the top.
const CIRCLE: [(i32, i32); 16] = [
    (0, -3),
    (1, -3),
    (2, -2),
    (3, -1),
    (3, 0),
    (3, 1),
    (2, 2),
    (1, 3),
    (0, 3),
    (-1, 3),
    (-2, 2),
    (-3, 1),
    (-3, 0),
    (-3, -1),
    (-2, -2),
    (-1, -3),
];

/// A pyramid level: its pixels and the size of one of them in frame pixels.
struct Level {
    w: usize,
    h: usize,
    px: Vec<u8>,
    sx: f32,
    sy: f32,
}

fn resize_bilinear(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let mut out = vec![0u8; dw * dh];
    let fx = sw as f32 / dw as f32;
    let fy = sh as f32 / dh as f32;
    let xs: Vec<(usize, usize, u32)> = (0..dw)
        .map(|x| {
            let s = ((x as f32 + 0.5) * fx - 0.5).max(0.0);
            let x0 = (s as usize).min(sw - 1);
            let x1 = (x0 + 1).min(sw - 1);
            (x0, x1, ((s - x0 as f32) * 256.0) as u32)
        })
        .collect();
    for y in 0..dh {
        let s = ((y as f32 + 0.5) * fy - 0.5).max(0.0);
        let y0 = (s as usize).min(sh - 1);
        let y1 = (y0 + 1).min(sh - 1);
        let wy = ((s - y0 as f32) * 256.0) as u32;
        let (r0, r1) = (&src[y0 * sw..y0 * sw + sw], &src[y1 * sw..y1 * sw + sw]);
        let row = &mut out[y * dw..y * dw + dw];
        for (o, &(x0, x1, wx)) in row.iter_mut().zip(&xs) {
            let top = u32::from(r0[x0]) * (256 - wx) + u32::from(r0[x1]) * wx;
            let bot = u32::from(r1[x0]) * (256 - wx) + u32::from(r1[x1]) * wx;
            *o = ((top * (256 - wy) + bot * wy + (1 << 15)) >> 16) as u8;
        }
    }
    out
}

fn pyramid(img: &Luma, opts: &FeatureOptions) -> Vec<Level> {
    let mut levels = vec![Level {
        w: img.width,
        h: img.height,
        px: img.pixels.clone(),
        sx: 1.0,
        sy: 1.0,
    }];
    let min_side = 2 * BORDER + 8;
    for l in 1..opts.levels.max(1) {
        let f = opts.scale_factor.max(1.05).powi(l as i32);
        let w = (img.width as f32 / f).round() as usize;
        let h = (img.height as f32 / f).round() as usize;
        if w < min_side || h < min_side {
            break;
        }
        let prev = &levels[l - 1];
        let px = resize_bilinear(&prev.px, prev.w, prev.h, w, h);
        levels.push(Level {
            w,
            h,
            px,
            sx: img.width as f32 / w as f32,
            sy: img.height as f32 / h as f32,
        });
    }
    levels
}

/// Smooths with the 9-tap binomial kernel (σ = √2) in both directions, edges clamped.
fn smooth(px: &[u8], w: usize, h: usize) -> Vec<u8> {
    const K: [u32; 9] = [1, 8, 28, 56, 70, 56, 28, 8, 1];
    let mut tmp = vec![0u32; w * h];
    let mut padded = vec![0u8; w + 8];
    for y in 0..h {
        let row = &px[y * w..y * w + w];
        padded[4..w + 4].copy_from_slice(row);
        for k in 0..4 {
            padded[k] = row[0];
            padded[w + 4 + k] = row[w - 1];
        }
        for (o, win) in tmp[y * w..y * w + w].iter_mut().zip(padded.windows(9)) {
            *o = K.iter().zip(win).map(|(&k, &v)| k * u32::from(v)).sum();
        }
    }
    let mut out = vec![0u8; w * h];
    let mut acc = vec![0u32; w];
    for y in 0..h {
        acc.iter_mut().for_each(|a| *a = 1 << 15);
        for (k, &kv) in K.iter().enumerate() {
            let yy = (y + k).saturating_sub(4).min(h - 1);
            for (a, &v) in acc.iter_mut().zip(&tmp[yy * w..yy * w + w]) {
                *a += kv * v;
            }
        }
        for (o, &a) in out[y * w..y * w + w].iter_mut().zip(&acc) {
            *o = (a >> 16).min(255) as u8;
        }
    }
    out
}

/// FAST-9 corners with their score, non-maximum suppressed; `(x, y, score)`.
fn fast(lv: &Level, t: i16) -> Vec<(usize, usize, u32)> {
    let (w, h) = (lv.w, lv.h);
    let px = &lv.px;
    let mut score = vec![0u32; w * h];
    let mut found = Vec::new();
    let border = BORDER.min(w / 2).min(h / 2).max(3);
    if w <= 2 * border || h <= 2 * border {
        return Vec::new();
    }
    let n = w - 2 * border;
    let tu = t.clamp(0, 255) as u8;
    let mut mask = vec![0u8; n];
    // Opposite points of the circle: an arc of 9 holds one of each pair, all of one kind.
    const PAIRS: [usize; 6] = [2, 6, 1, 5, 3, 7];
    for y in border..h - border {
        let rows: [&[u8]; 7] = std::array::from_fn(|k| &px[(y + k - 3) * w..(y + k - 2) * w]);
        // The four compass points first, for a whole row at once (vectorised).
        {
            let c = &rows[3][border..border + n];
            let (up, down) = (&rows[0][border..border + n], &rows[6][border..border + n]);
            let (left, right) = (&rows[3][border - 3..border - 3 + n], &rows[3][border + 3..]);
            let class = |p: u8, v: u8| {
                u8::from(p.saturating_sub(v) > tu) | (u8::from(v.saturating_sub(p) > tu) << 1)
            };
            for ((((m, &p), (&u, &d)), &l), &r) in mask
                .iter_mut()
                .zip(c)
                .zip(up.iter().zip(down))
                .zip(left)
                .zip(right)
            {
                *m = (class(p, u) | class(p, d)) & (class(p, l) | class(p, r));
            }
        }
        for (i, &m) in mask.iter().enumerate() {
            if m == 0 {
                continue;
            }
            let x = border + i;
            let p = i16::from(rows[3][x]);
            let (hi, lo) = (p + t, p - t);
            let class = |k: usize| {
                let (dx, dy) = CIRCLE[k];
                let v = i16::from(rows[(dy + 3) as usize][(x as i32 + dx) as usize]);
                u8::from(v < lo) | (u8::from(v > hi) << 1)
            };
            let mut d = m;
            for &k in &PAIRS {
                d &= class(k) | class(k + 8);
                if d == 0 {
                    break;
                }
            }
            if d == 0 {
                continue;
            }
            let mut bright = 0u32;
            let mut dark = 0u32;
            let mut vals = [0i16; 16];
            for (k, v) in vals.iter_mut().enumerate() {
                let (dx, dy) = CIRCLE[k];
                *v = i16::from(rows[(dy + 3) as usize][(x as i32 + dx) as usize]);
                if *v > hi {
                    bright |= 1 << k;
                } else if *v < lo {
                    dark |= 1 << k;
                }
            }
            let run9 = |m: u32| {
                let mut r = m | (m << 16);
                for _ in 0..8 {
                    r &= r >> 1;
                }
                r != 0
            };
            let s: u32 = if run9(bright) {
                vals.iter().map(|&v| (v - hi).max(0) as u32).sum()
            } else if run9(dark) {
                vals.iter().map(|&v| (lo - v).max(0) as u32).sum()
            } else {
                continue;
            };
            score[y * w + x] = s + 1;
            found.push((x, y));
        }
    }
    found
        .into_iter()
        .filter_map(|(x, y)| {
            let i = y * w + x;
            let s = score[i];
            // Ties go to the first in raster order.
            let before = [i - w - 1, i - w, i - w + 1, i - 1];
            let after = [i + 1, i + w - 1, i + w, i + w + 1];
            (before.iter().all(|&j| score[j] < s) && after.iter().all(|&j| score[j] <= s))
                .then_some((x, y, s))
        })
        .collect()
}

/// Harris response over a 7×7 window of Sobel gradients.
fn harris(lv: &Level, x: usize, y: usize) -> f32 {
    let w = lv.w;
    let p = |xx: usize, yy: usize| i32::from(lv.px[yy * w + xx]);
    let (mut a, mut b, mut c) = (0i64, 0i64, 0i64);
    for yy in y - 3..=y + 3 {
        for xx in x - 3..=x + 3 {
            let gx = (p(xx + 1, yy - 1) + 2 * p(xx + 1, yy) + p(xx + 1, yy + 1))
                - (p(xx - 1, yy - 1) + 2 * p(xx - 1, yy) + p(xx - 1, yy + 1));
            let gy = (p(xx - 1, yy + 1) + 2 * p(xx, yy + 1) + p(xx + 1, yy + 1))
                - (p(xx - 1, yy - 1) + 2 * p(xx, yy - 1) + p(xx + 1, yy - 1));
            a += i64::from(gx * gx);
            b += i64::from(gy * gy);
            c += i64::from(gx * gy);
        }
    }
    let (a, b, c) = (a as f64, b as f64, c as f64);
    ((a * b - c * c) - 0.04 * (a + b) * (a + b)) as f32 * 1e-8
}

/// Orientation by the intensity centroid of the disc of radius 15.
fn orientation(lv: &Level, x: usize, y: usize, umax: &[i32]) -> f32 {
    const R: i32 = ORIENT_RADIUS;
    const U: [i32; (2 * ORIENT_RADIUS + 1) as usize] = {
        let mut u = [0i32; (2 * ORIENT_RADIUS + 1) as usize];
        let mut i = 0;
        while i < u.len() {
            u[i] = i as i32 - R;
            i += 1;
        }
        u
    };
    let (mut m10, mut m01) = (0i64, 0i64);
    for v in -R..=R {
        let r = umax[v.unsigned_abs() as usize] as usize;
        let start = (y as isize + v as isize) as usize * lv.w + x - r;
        let row = &lv.px[start..start + 2 * r + 1];
        let weights = &U[R as usize - r..R as usize + r + 1];
        let (mut sum, mut moment) = (0i32, 0i32);
        for (&p, &u) in row.iter().zip(weights) {
            sum += i32::from(p);
            moment += u * i32::from(p);
        }
        m10 += i64::from(moment);
        m01 += i64::from(v) * i64::from(sum);
    }
    (m01 as f32).atan2(m10 as f32)
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The base pattern: 128 point pairs, each followed by its mirror image about the x axis.
/// Integers from a fixed seed (no floating point, so the same on every machine), each
/// coordinate a sum of three uniform draws from −6..=6 (about Gaussian, σ ≈ 6.5, as ORB's
/// σ = 31/5), within radius [`PATTERN_RADIUS`].
fn base_pattern() -> Vec<[i32; 4]> {
    let mut state = 0x4174_6861_722d_6c66u64; // fixed: the pattern is part of the format
    let r2 = PATTERN_RADIUS * PATTERN_RADIUS;
    let point = |state: &mut u64| loop {
        let mut c = [0i32; 2];
        for v in &mut c {
            *v = (0..3).map(|_| (splitmix(state) % 13) as i32 - 6).sum();
        }
        if c[0] * c[0] + c[1] * c[1] <= r2 {
            return c;
        }
    };
    let mut base = Vec::with_capacity(256);
    while base.len() < 256 {
        let p = point(&mut state);
        let q = point(&mut state);
        if p == q || p == [q[0], -q[1]] {
            continue;
        }
        base.push([p[0], p[1], q[0], q[1]]);
        // Its mirror image about the x axis: the next bit.
        base.push([p[0], -p[1], q[0], -q[1]]);
    }
    base
}

/// The descriptor's 256 point pairs (x1, y1, x2, y2), rotated for each orientation step.
fn patterns() -> &'static Vec<[[i8; 4]; 256]> {
    static P: OnceLock<Vec<[[i8; 4]; 256]>> = OnceLock::new();
    P.get_or_init(|| {
        let base = base_pattern();
        (0..ANGLE_BINS)
            .map(|b| {
                let (s, c) = rotation(b);
                let mut out = [[0i8; 4]; 256];
                for (o, p) in out.iter_mut().zip(&base) {
                    let rot = |x: i32, y: i32| {
                        let (x, y) = (f64::from(x), f64::from(y));
                        ((x * c - y * s).round(), (x * s + y * c).round())
                    };
                    let (x1, y1) = rot(p[0], p[1]);
                    let (x2, y2) = rot(p[2], p[3]);
                    *o = [x1 as i8, y1 as i8, x2 as i8, y2 as i8];
                }
                out
            })
            .collect()
    })
}

/// Sine and cosine of orientation step `b`, the ones that are multiples of ½ (cos 60°)
/// made exact, so that no machine's last bit decides how a point rounds.
fn rotation(b: usize) -> (f64, f64) {
    let (s, c) = (b as f64 * 2.0 * std::f64::consts::PI / ANGLE_BINS as f64).sin_cos();
    let snap = |v: f64| {
        let r = (v * 2.0).round() / 2.0;
        if (v - r).abs() < 1e-9 {
            r
        } else {
            v
        }
    };
    (snap(s), snap(c))
}

fn angle_bin(angle: f32) -> usize {
    let step = 2.0 * std::f32::consts::PI / ANGLE_BINS as f32;
    ((angle / step).round() as i64).rem_euclid(ANGLE_BINS as i64) as usize
}

fn describe(smoothed: &[u8], w: usize, x: usize, y: usize, angle: f32) -> Hash256 {
    let pat = &patterns()[angle_bin(angle)];
    let c = (y * w + x) as isize;
    let w = w as isize;
    let at = |dx: i8, dy: i8| smoothed[(c + isize::from(dy) * w + isize::from(dx)) as usize];
    let mut d = [0u64; 4];
    for (i, p) in pat.iter().enumerate() {
        if at(p[0], p[1]) < at(p[2], p[3]) {
            d[i / 64] |= 1 << (i % 64);
        }
    }
    d
}

/// The features of a frame.
pub fn extract(img: &Luma, opts: &FeatureOptions) -> Features {
    let mut out = Features {
        width: img.width,
        height: img.height,
        ..Features::default()
    };
    if img.width < 2 * BORDER + 8
        || img.height < 2 * BORDER + 8
        || img.pixels.len() != img.width * img.height
    {
        return out;
    }
    let levels = pyramid(img, opts);
    // Budget per level in proportion to its side.
    let f = 1.0 / f64::from(opts.scale_factor.max(1.05));
    let weights: Vec<f64> = (0..levels.len()).map(|l| f.powi(l as i32)).collect();
    let total: f64 = weights.iter().sum();
    let umax: Vec<i32> = (0..=ORIENT_RADIUS)
        .map(|v| {
            (f64::from(ORIENT_RADIUS * ORIENT_RADIUS - v * v) + 0.5)
                .sqrt()
                .floor() as i32
        })
        .collect();
    let mut carry = 0.0;
    for (l, lv) in levels.iter().enumerate() {
        let want = opts.max_features as f64 * weights[l] / total + carry;
        let n = want.floor() as usize;
        let mut corners = fast(lv, i16::from(opts.fast_threshold));
        if corners.len() < n && opts.min_fast_threshold < opts.fast_threshold {
            corners = fast(lv, i16::from(opts.min_fast_threshold.max(1)));
        }
        // Rank by Harris response, then spread over cells: every cell's best first.
        let mut ranked: Vec<(usize, usize, f32)> = corners
            .into_iter()
            .map(|(x, y, _)| (x, y, harris(lv, x, y)))
            .collect();
        ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.1, a.0).cmp(&(b.1, b.0))));
        let cols = lv.w.div_ceil(CELL);
        let mut per_cell = vec![0u32; cols * lv.h.div_ceil(CELL)];
        let mut keyed: Vec<(u32, usize)> = ranked
            .iter()
            .enumerate()
            .map(|(i, &(x, y, _))| {
                let cell = &mut per_cell[(y / CELL) * cols + x / CELL];
                *cell += 1;
                (*cell, i)
            })
            .collect();
        keyed.sort_unstable();
        keyed.truncate(n);
        carry = want - keyed.len() as f64;
        let smoothed = smooth(&lv.px, lv.w, lv.h);
        let scale = (lv.sx + lv.sy) / 2.0;
        for &(_, i) in &keyed {
            let (x, y, response) = ranked[i];
            let angle = orientation(lv, x, y, &umax);
            out.keypoints.push(Keypoint {
                x: (x as f32 + 0.5) * lv.sx - 0.5,
                y: (y as f32 + 0.5) * lv.sy - 0.5,
                level: l as u8,
                scale,
                angle,
                response,
            });
            out.descriptors.push(describe(&smoothed, lv.w, x, y, angle));
        }
    }
    out
}

/// The features of an RGB frame (its BT.601 luma).
pub fn extract_rgb(img: &RgbImage, opts: &FeatureOptions) -> Result<Features, MediaError> {
    Ok(extract(&Luma::from_image(img)?, opts))
}

// --- verification -------------------------------------------------------------------------

/// How two frames' features are compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerifyOptions {
    /// Largest Hamming distance of a tentative match (of 256 bits).
    pub max_distance: u32,
    /// Ratio test: the nearest candidate descriptor must be closer than this share of the
    /// nearest one at another place.
    pub ratio: f32,
    /// RANSAC hypotheses drawn at most.
    pub iterations: u32,
    /// Seed of the RANSAC draws.
    pub seed: u64,
    /// Inliers the homography must keep for the frames to be the same picture.
    pub min_inliers: usize,
    /// Share of each side of the picture that the inliers must spread over, on the query's
    /// or the candidate's side.
    pub min_spread: f64,
    /// Largest distance between an inlier's candidate position and the model's, as a share
    /// of the candidate's diagonal.
    pub tolerance: f64,
    /// Largest difference between an inlier's orientation and the model's, in degrees.
    pub angle_tolerance: f64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            max_distance: 64,
            ratio: 0.85,
            iterations: 1000,
            seed: 0x5eed,
            min_inliers: 16,
            min_spread: 0.2,
            tolerance: 0.008,
            angle_tolerance: 30.0,
        }
    }
}

/// A similarity transform: `candidate = scale · R(angle) · query + (tx, ty)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Similarity {
    pub scale: f64,
    /// Degrees; positive turns x towards y (clockwise on screen).
    pub angle: f64,
    pub tx: f64,
    pub ty: f64,
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verification {
    /// The two frames show the same picture.
    pub same: bool,
    /// Tentative matches (after the ratio test).
    pub matches: usize,
    /// Matches the homography keeps.
    pub inliers: usize,
    /// The query was mirrored left to right to match ([`verify_mirrored`]).
    pub mirrored: bool,
    /// Query pixels to candidate pixels, row-major 3×3 (with `mirrored`, of the query as
    /// given, so its determinant is negative).
    pub homography: [f64; 9],
    /// Where the query's corners (top left, top right, bottom right, bottom left) land in
    /// the candidate: a picture-in-picture inset's box, a filmed screen's quadrilateral.
    pub query_in_candidate: [[f64; 2]; 4],
    /// Where the candidate's corners land in the query: the window of a crop.
    pub candidate_in_query: [[f64; 2]; 4],
    /// The least-squares similarity over the inliers (of the mirrored query when
    /// `mirrored`).
    pub similarity: Similarity,
}

/// One tentative match, in frame pixels.
#[derive(Clone, Copy, Debug)]
struct Pair {
    q: [f64; 2],
    c: [f64; 2],
    qa: f64,
    ca: f64,
    qs: f64,
    cs: f64,
}

fn tentative(q: &Features, c: &Features, opts: &VerifyOptions) -> Vec<Pair> {
    // Features read back from elsewhere might not pair up: only whole keypoints count.
    let qd_all = &q.descriptors[..q.descriptors.len().min(q.keypoints.len())];
    let cd_all = &c.descriptors[..c.descriptors.len().min(c.keypoints.len())];
    let mut best_for: Vec<Option<(u32, usize)>> = vec![None; cd_all.len()];
    for (i, qd) in qd_all.iter().enumerate() {
        let mut top = [(u32::MAX, usize::MAX); 4];
        for (j, cd) in cd_all.iter().enumerate() {
            let d = distance(qd, cd);
            if d < top[3].0 {
                let mut k = 3;
                while k > 0 && top[k - 1].0 > d {
                    top[k] = top[k - 1];
                    k -= 1;
                }
                top[k] = (d, j);
            }
        }
        let (d1, j1) = top[0];
        if j1 == usize::MAX || d1 > opts.max_distance {
            continue;
        }
        let k1 = &c.keypoints[j1];
        let far = |j: usize| {
            let k = &c.keypoints[j];
            let r = 4.0 * k.scale.max(k1.scale);
            (k.x - k1.x).powi(2) + (k.y - k1.y).powi(2) > r * r
        };
        let d2 = top[1..]
            .iter()
            .find(|&&(_, j)| j == usize::MAX || far(j))
            .map_or(top[3].0, |&(d, j)| if j == usize::MAX { 256 } else { d });
        if (d1 as f32) < opts.ratio * d2.min(256) as f32 {
            let slot = &mut best_for[j1];
            if slot.is_none_or(|(d, _)| d1 < d) {
                *slot = Some((d1, i));
            }
        }
    }
    best_for
        .iter()
        .enumerate()
        .filter_map(|(j, s)| {
            let (_, i) = (*s)?;
            let (a, b) = (&q.keypoints[i], &c.keypoints[j]);
            Some(Pair {
                q: [f64::from(a.x), f64::from(a.y)],
                c: [f64::from(b.x), f64::from(b.y)],
                qa: f64::from(a.angle),
                ca: f64::from(b.angle),
                qs: f64::from(a.scale),
                cs: f64::from(b.scale),
            })
        })
        .collect()
}

/// A 3×3 matrix, row-major (a homography).
pub type Mat3 = [f64; 9];

/// Where `h` sends `p` (None at infinity).
pub(crate) fn apply(h: &Mat3, p: [f64; 2]) -> Option<[f64; 2]> {
    let w = h[6] * p[0] + h[7] * p[1] + h[8];
    if w.abs() < 1e-9 {
        return None;
    }
    Some([
        (h[0] * p[0] + h[1] * p[1] + h[2]) / w,
        (h[3] * p[0] + h[4] * p[1] + h[5]) / w,
    ])
}

/// The product `a·b`.
pub(crate) fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut o = [0.0; 9];
    for r in 0..3 {
        for c in 0..3 {
            o[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
        }
    }
    o
}

/// The inverse of a homography (None when singular).
pub fn invert(m: &Mat3) -> Option<Mat3> {
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
    if det.abs() < 1e-12 || !det.is_finite() {
        return None;
    }
    let inv = [
        m[4] * m[8] - m[5] * m[7],
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8],
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6],
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ];
    Some(inv.map(|x| x / det))
}

fn similarity_matrix(s: &Similarity) -> Mat3 {
    let (sin, cos) = s.angle.to_radians().sin_cos();
    [
        s.scale * cos,
        -s.scale * sin,
        s.tx,
        s.scale * sin,
        s.scale * cos,
        s.ty,
        0.0,
        0.0,
        1.0,
    ]
}

/// Least-squares similarity from `q` to `c` (no reflection).
fn fit_similarity(pairs: &[Pair], idx: &[usize]) -> Option<Similarity> {
    let n = idx.len() as f64;
    if idx.len() < 2 {
        return None;
    }
    let (mut qx, mut qy, mut cx, mut cy) = (0.0, 0.0, 0.0, 0.0);
    for &i in idx {
        qx += pairs[i].q[0];
        qy += pairs[i].q[1];
        cx += pairs[i].c[0];
        cy += pairs[i].c[1];
    }
    let (qx, qy, cx, cy) = (qx / n, qy / n, cx / n, cy / n);
    let (mut re, mut im, mut den) = (0.0, 0.0, 0.0);
    for &i in idx {
        let (ax, ay) = (pairs[i].q[0] - qx, pairs[i].q[1] - qy);
        let (bx, by) = (pairs[i].c[0] - cx, pairs[i].c[1] - cy);
        // b · conj(a)
        re += bx * ax + by * ay;
        im += by * ax - bx * ay;
        den += ax * ax + ay * ay;
    }
    if den < 1e-9 {
        return None;
    }
    let (a, b) = (re / den, im / den);
    let scale = a.hypot(b);
    let angle = b.atan2(a);
    let (sin, cos) = angle.sin_cos();
    Some(Similarity {
        scale,
        angle: angle.to_degrees(),
        tx: cx - scale * (cos * qx - sin * qy),
        ty: cy - scale * (sin * qx + cos * qy),
    })
}

/// Normalising transform of points: centroid to 0, mean distance √2.
fn normaliser(pts: impl Iterator<Item = [f64; 2]> + Clone) -> Mat3 {
    let n = pts.clone().count().max(1) as f64;
    let (mx, my) = pts
        .clone()
        .fold((0.0, 0.0), |(a, b), p| (a + p[0], b + p[1]));
    let (mx, my) = (mx / n, my / n);
    let md = pts.map(|p| (p[0] - mx).hypot(p[1] - my)).sum::<f64>() / n;
    let s = if md > 1e-9 {
        std::f64::consts::SQRT_2 / md
    } else {
        1.0
    };
    [s, 0.0, -s * mx, 0.0, s, -s * my, 0.0, 0.0, 1.0]
}

/// Solves the 8×8 system `a x = b` by Gaussian elimination with partial pivoting.
fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let piv = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let pivot = a[col];
        for r in col + 1..8 {
            let f = a[r][col] / pivot[col];
            if f != 0.0 {
                for (x, p) in a[r][col..].iter_mut().zip(&pivot[col..]) {
                    *x -= f * p;
                }
                b[r] -= f * b[col];
            }
        }
    }
    let mut x = [0.0; 8];
    for r in (0..8).rev() {
        let s: f64 = (r + 1..8).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Least-squares homography from `q` to `c` over the pairs `idx` (normalised DLT, h33 = 1).
fn fit_homography(pairs: &[Pair], idx: &[usize]) -> Option<Mat3> {
    if idx.len() < 4 {
        return None;
    }
    let tq = normaliser(idx.iter().map(|&i| pairs[i].q));
    let tc = normaliser(idx.iter().map(|&i| pairs[i].c));
    let mut ata = [[0.0; 8]; 8];
    let mut atb = [0.0; 8];
    for &i in idx {
        let q = apply(&tq, pairs[i].q)?;
        let c = apply(&tc, pairs[i].c)?;
        let (x, y, u, v) = (q[0], q[1], c[0], c[1]);
        let rows = [
            ([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u),
            ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v),
        ];
        for (r, rhs) in rows {
            for a in 0..8 {
                atb[a] += r[a] * rhs;
                for b in 0..8 {
                    ata[a][b] += r[a] * r[b];
                }
            }
        }
    }
    let h = solve8(ata, atb)?;
    let hn = [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0];
    let m = mul(&invert(&tc)?, &mul(&hn, &tq));
    if m[8].abs() < 1e-12 {
        return None;
    }
    Some(m.map(|x| x / m[8]))
}

/// Geometry that inlier tests need: the candidate's diagonal and tolerances.
struct Check {
    tol2: f64,
    cos_tol: f64,
    scale_tol: f64,
}

/// Whether pair `p` agrees with `h`: position, and orientation and scale of the corners.
fn agrees(h: &Mat3, p: &Pair, k: &Check) -> bool {
    let Some(c) = apply(h, p.q) else {
        return false;
    };
    let (ex, ey) = (c[0] - p.c[0], c[1] - p.c[1]);
    if ex * ex + ey * ey > k.tol2 {
        return false;
    }
    // The model's local rotation and scale: where a short step along the query corner's
    // orientation goes.
    let r = 4.0 * p.qs;
    let (s, co) = p.qa.sin_cos();
    let Some(c2) = apply(h, [p.q[0] + r * co, p.q[1] + r * s]) else {
        return false;
    };
    let (dx, dy) = (c2[0] - c[0], c2[1] - c[1]);
    let len = dx.hypot(dy);
    if len < 1e-9 {
        return false;
    }
    let (cs, cc) = p.ca.sin_cos();
    if (dx * cc + dy * cs) / len < k.cos_tol {
        return false;
    }
    let local = len / r;
    let ratio = (p.cs / p.qs) / local;
    ratio < k.scale_tol && ratio > 1.0 / k.scale_tol
}

fn inliers(h: &Mat3, pairs: &[Pair], k: &Check, out: &mut Vec<usize>) {
    out.clear();
    out.extend((0..pairs.len()).filter(|&i| agrees(h, &pairs[i], k)));
}

/// Most a homography's scale may vary between the query's corners (a screen filmed at an
/// angle, not a picture seen edge-on).
const MAX_PERSPECTIVE: f64 = 2.5;
/// Cosine of the sharpest (and flattest) corner of the query's quadrilateral: 30° (150°).
const MAX_CORNER_COS: f64 = 0.866;

/// A homography plausible for a copy: orientation-preserving, scale within 1/20–20 and
/// about the same (within [`MAX_PERSPECTIVE`]) at the four corners of the query, which
/// land on a convex quadrilateral without sharp corners.
fn plausible(h: &Mat3, qw: f64, qh: f64) -> bool {
    let corners = [[0.0, 0.0], [qw, 0.0], [qw, qh], [0.0, qh]];
    let mut scales = [0.0f64; 4];
    for (s, p) in scales.iter_mut().zip(corners) {
        let w = h[6] * p[0] + h[7] * p[1] + h[8];
        if w <= 1e-9 {
            return false;
        }
        // Determinant of the Jacobian of the projective map at p.
        let x = (h[0] * p[0] + h[1] * p[1] + h[2]) / w;
        let y = (h[3] * p[0] + h[4] * p[1] + h[5]) / w;
        let j = [
            (h[0] - h[6] * x) / w,
            (h[1] - h[7] * x) / w,
            (h[3] - h[6] * y) / w,
            (h[4] - h[7] * y) / w,
        ];
        let det = j[0] * j[3] - j[1] * j[2];
        if det <= 0.0 {
            return false;
        }
        *s = det.sqrt();
    }
    let (lo, hi) = scales
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), &s| (a.min(s), b.max(s)));
    if !(lo > 0.05 && hi < 20.0 && hi / lo < MAX_PERSPECTIVE) {
        return false;
    }
    // Convex, and no corner sharper than 30° or flatter than 150°.
    let q: Vec<[f64; 2]> = corners.iter().filter_map(|&p| apply(h, p)).collect();
    if q.len() != 4 {
        return false;
    }
    let mut sign = 0.0f64;
    for k in 0..4 {
        let (a, b, c) = (q[(k + 3) % 4], q[k], q[(k + 1) % 4]);
        let (u, v) = ([a[0] - b[0], a[1] - b[1]], [c[0] - b[0], c[1] - b[1]]);
        let cross = u[0] * v[1] - u[1] * v[0];
        let cos = (u[0] * v[0] + u[1] * v[1]) / (u[0].hypot(u[1]) * v[0].hypot(v[1])).max(1e-12);
        if cross * sign < 0.0 || cos.abs() > MAX_CORNER_COS {
            return false;
        }
        sign = cross;
    }
    true
}

fn spread(pts: impl Iterator<Item = [f64; 2]>, w: usize, h: usize) -> f64 {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in pts {
        x0 = x0.min(p[0]);
        y0 = y0.min(p[1]);
        x1 = x1.max(p[0]);
        y1 = y1.max(p[1]);
    }
    if x1 < x0 {
        return 0.0;
    }
    ((x1 - x0) / w.max(1) as f64).min((y1 - y0) / h.max(1) as f64)
}

/// Whether `query` and `candidate` show the same picture, and how one sits in the other.
pub fn verify(query: &Features, candidate: &Features, opts: &VerifyOptions) -> Verification {
    let pairs = tentative(query, candidate, opts);
    let mut out = Verification {
        matches: pairs.len(),
        ..Verification::default()
    };
    if pairs.len() < opts.min_inliers.max(4) {
        return out;
    }
    let diag = (candidate.width as f64).hypot(candidate.height as f64);
    let tight = Check {
        tol2: (opts.tolerance * diag).max(2.0).powi(2),
        cos_tol: opts.angle_tolerance.to_radians().cos(),
        scale_tol: 1.8,
    };
    // Hypotheses from two matches are only similarities: a perspective or a slight
    // shear puts correct matches further than the final tolerance, so they are scored loosely.
    let loose = Check {
        tol2: (4.0 * opts.tolerance * diag).max(6.0).powi(2),
        ..tight
    };
    let min_sep2 = (0.02 * diag).powi(2);
    let mut state = opts.seed ^ (pairs.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut best_h: Option<Mat3> = None;
    let mut best: Vec<usize> = Vec::new();
    let mut best_loose = 0usize;
    let mut scratch = Vec::new();
    let mut needed = u64::from(opts.iterations);
    let n = pairs.len() as u64;
    let mut it = 0u64;
    while it < needed.min(u64::from(opts.iterations)) {
        it += 1;
        let i = (splitmix(&mut state) % n) as usize;
        let j = (splitmix(&mut state) % n) as usize;
        let (a, b) = (&pairs[i], &pairs[j]);
        let dq = [b.q[0] - a.q[0], b.q[1] - a.q[1]];
        let dc = [b.c[0] - a.c[0], b.c[1] - a.c[1]];
        let lq = dq[0] * dq[0] + dq[1] * dq[1];
        if i == j || lq < min_sep2 || dc[0] * dc[0] + dc[1] * dc[1] < min_sep2 {
            continue;
        }
        let s = Similarity {
            scale: (dc[0] * dc[0] + dc[1] * dc[1]).sqrt() / lq.sqrt(),
            angle: (dc[1].atan2(dc[0]) - dq[1].atan2(dq[0])).to_degrees(),
            tx: 0.0,
            ty: 0.0,
        };
        let m0 = similarity_matrix(&s);
        let Some(p) = apply(&m0, a.q) else { continue };
        let m = similarity_matrix(&Similarity {
            tx: a.c[0] - p[0],
            ty: a.c[1] - p[1],
            ..s
        });
        if !(agrees(&m, a, &loose) && agrees(&m, b, &loose)) {
            continue;
        }
        inliers(&m, &pairs, &loose, &mut scratch);
        if scratch.len() <= best_loose.max(3) {
            continue;
        }
        best_loose = scratch.len();
        // Local optimisation: similarity, then homographies re-fitted on their inliers.
        let mut h = fit_similarity(&pairs, &scratch).map(|s| similarity_matrix(&s));
        let mut inl = scratch.clone();
        if let Some(hs) = h {
            inliers(&hs, &pairs, &loose, &mut inl);
        }
        for round in 0..4 {
            let fit = if inl.len() >= 8 {
                fit_homography(&pairs, &inl)
            } else {
                fit_similarity(&pairs, &inl).map(|s| similarity_matrix(&s))
            };
            let Some(hh) = fit else { break };
            let check = if round < 1 { &loose } else { &tight };
            let mut next = Vec::new();
            inliers(&hh, &pairs, check, &mut next);
            h = Some(hh);
            inl = next;
        }
        let Some(hh) = h else { continue };
        inliers(&hh, &pairs, &tight, &mut inl);
        if inl.len() > best.len() {
            best = inl;
            best_h = Some(hh);
            // Draws still needed for 99.9% confidence of a better two-match sample.
            let w = best.len() as f64 / n as f64;
            let p_good = (w * w).clamp(1e-9, 1.0 - 1e-9);
            needed = ((0.001f64).ln() / (1.0 - p_good).ln()).ceil().max(50.0) as u64;
        }
    }
    let Some(h) = best_h else {
        return out;
    };
    out.inliers = best.len();
    out.homography = h;
    let (qw, qh) = (query.width as f64, query.height as f64);
    let (cw, ch) = (candidate.width as f64, candidate.height as f64);
    let corners = |w: f64, h: f64| {
        [
            [-0.5, -0.5],
            [w - 0.5, -0.5],
            [w - 0.5, h - 0.5],
            [-0.5, h - 0.5],
        ]
    };
    for (o, p) in out.query_in_candidate.iter_mut().zip(corners(qw, qh)) {
        *o = apply(&h, p).unwrap_or([f64::NAN; 2]);
    }
    let inv = invert(&h);
    for (o, p) in out.candidate_in_query.iter_mut().zip(corners(cw, ch)) {
        *o = inv
            .as_ref()
            .and_then(|m| apply(m, p))
            .unwrap_or([f64::NAN; 2]);
    }
    if let Some(s) = fit_similarity(&pairs, &best) {
        out.similarity = s;
    }
    let spread_q = spread(best.iter().map(|&i| pairs[i].q), query.width, query.height);
    let spread_c = spread(
        best.iter().map(|&i| pairs[i].c),
        candidate.width,
        candidate.height,
    );
    out.same = best.len() >= opts.min_inliers
        && spread_q.max(spread_c) >= opts.min_spread
        && plausible(&h, qw, qh);
    out
}

/// [`verify`], and again with the query mirrored left to right; the better of the two
/// (the one that finds the same picture, else the one with more inliers).
pub fn verify_mirrored(
    query: &Features,
    candidate: &Features,
    opts: &VerifyOptions,
) -> Verification {
    let plain = verify(query, candidate, opts);
    // A clear match needs no second look; a weak one might be the mirror image's shadow.
    if plain.same && plain.inliers >= 2 * opts.min_inliers {
        return plain;
    }
    let m = verify(&query.mirrored(), candidate, opts);
    if !(m.same && (!plain.same || m.inliers > plain.inliers)
        || !plain.same && m.inliers > plain.inliers)
    {
        return plain;
    }
    unmirror(m, query.width, query.height)
}

/// What [`verify`] found for the mirrored features ([`Features::mirrored`]) of a
/// `width`×`height` query, said of the query as given: `mirrored` set, the homography
/// taking the query's own pixels, and the corners mirrored back.
pub fn unmirror(mut m: Verification, width: usize, height: usize) -> Verification {
    m.mirrored = true;
    // Back to the query as given: x → w − 1 − x, then the homography.
    let w = width as f64;
    let flip = [-1.0, 0.0, w - 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    m.homography = mul(&m.homography, &flip);
    let h = m.homography;
    let qh = height as f64;
    let corners = [
        [-0.5, -0.5],
        [w - 0.5, -0.5],
        [w - 0.5, qh - 0.5],
        [-0.5, qh - 0.5],
    ];
    for (o, p) in m.query_in_candidate.iter_mut().zip(corners) {
        *o = apply(&h, p).unwrap_or([f64::NAN; 2]);
    }
    // The candidate's corners were found in the mirrored query: mirror them back.
    for o in m.candidate_in_query.iter_mut() {
        o[0] = w - 1.0 - o[0];
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No rotated pattern coordinate lies near a rounding edge, so a last-bit difference in
    /// the platform's sine or cosine cannot change the pattern: descriptors made on one
    /// machine compare with those made on another.
    #[test]
    fn the_pattern_is_the_same_on_every_machine() {
        let base = base_pattern();
        assert_eq!(base.len(), 256);
        for b in 0..ANGLE_BINS {
            let (s, c) = rotation(b);
            for p in &base {
                for (x, y) in [(p[0], p[1]), (p[2], p[3])] {
                    let (x, y) = (f64::from(x), f64::from(y));
                    for v in [x * c - y * s, x * s + y * c] {
                        let frac = v - v.floor();
                        // Near a half only when exactly a half (cos 60° is ½).
                        assert!((frac - 0.5).abs() > 1e-9 || frac == 0.5, "step {b}: {v}");
                    }
                }
            }
        }
        // Every rotated point stays inside the border.
        for pat in patterns() {
            for p in pat {
                for (x, y) in [(p[0], p[1]), (p[2], p[3])] {
                    let r = i32::from(x).pow(2) + i32::from(y).pow(2);
                    assert!(r <= (BORDER as i32 - 1).pow(2), "{p:?}");
                }
            }
        }
        // Each odd bit's pair is its even neighbour mirrored about the x axis.
        for k in 0..128 {
            let (a, b) = (base[2 * k], base[2 * k + 1]);
            assert_eq!([a[0], -a[1], a[2], -a[3]], b);
        }
    }
}
