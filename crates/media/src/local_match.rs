//! Local features kept for an archive: which frames of a video get them, how they are
//! stored, and how a query finds the stored frames that show the same picture.
//!
//! **Sampling** ([`sampled`], [`thin`]): the first decoded frame of every
//! [`SAMPLE_SECONDS`], from the same decode as the vPDQ hashes ([`crate::vpdq`]), at most
//! [`MAX_FRAMES`] a video (evenly thinned when there are more); an image is one frame.
//! Each is reduced (area average of its BT.601 luma) to at most [`WORK_SIDE`] pixels on its
//! longer side and gets at most [`MAX_FEATURES`] features ([`crate::local::extract`]).
//!
//! **Record** ([`encode`], [`decode`]): text, so that it fits a fingerprint record's
//! `data`: a first line `local 1` (the layout's version), then one line a frame: frame
//! number, seconds, and the standard base64 of a binary layout, little-endian — width and
//! height (u16 each), then per feature x and y in eighths of a pixel (u16 each), the
//! pyramid level (u8), the orientation in 256ths of a turn (u8) and the 256-bit descriptor
//! (32 bytes): 38 bytes a feature, so at most 4 + 38 × [`MAX_FEATURES`] = 30,404 bytes a
//! frame (40,540 characters of base64), and a video's record at most [`MAX_FRAMES`] times
//! that (about 800 KB of text). A keypoint's scale is its level's nominal one
//! (1.26 to the level); its Harris response is not kept (ranking only).
//!
//! **Search** ([`LocalIndex`]): every stored descriptor in the exact Hamming index
//! ([`crate::hamming::HammingIndex`]), each pointing at its frame. A query frame's
//! descriptors, as given and mirrored ([`Features::mirrored`]), vote: each for every stored
//! frame holding a descriptor within [`VOTE_RADIUS`] of it (a descriptor near more than
//! [`MAX_HITS`] stored ones, a generic corner, does not vote). The frames with at least
//! [`MIN_VOTES`] votes are verified geometrically ([`crate::local::verify`], with the
//! mirrored features for a mirrored vote), best first, until [`MAX_FAILURES`] have failed
//! ([`PER_OWNER`] of any one item) or [`MAX_TRIES`] were tried: frames that verify do not use
//! up the budget, so many easy copies of the footage do not crowd out a hard one. An item
//! matches when one of its frames does.
//! [`LocalMatch`] gives the shares of sampled frames matched on both sides, the aligned
//! times, and the best verified pair's homography, which [`Placement`] turns into words
//! ("picture-in-picture at 40% top-left", "rotated 7°", "crop 72%", "perspective").
//!
//! Limits: voting is an exact radius search over every stored descriptor, a column-wise
//! scan ([`IndexKind::Compact`]): these descriptors are far from uniform, so multi-index
//! tables' buckets are crowded and probing them at radius 40 cost several times the scan
//! (on 152 short videos, about 480,000 descriptors, 13 queries took 134 s with tables and
//! 51 s scanning, on two cores). A query frame costs about two scans of the stored
//! descriptors (as given and mirrored): fine for thousands of frames, not for millions — an
//! approximate first stage (a visual vocabulary, LSH) is what archive scale needs.

use std::collections::HashMap;

use base64::Engine as _;

use crate::hamming::{HammingIndex, Hash256, IndexKind};
pub use crate::local::invert;
use crate::local::{
    self, apply, mul, FeatureOptions, Features, Keypoint, Luma, Verification, VerifyOptions,
};
use crate::MediaError;

/// A frame is sampled every this many seconds.
pub const SAMPLE_SECONDS: f64 = 2.0;
/// Most frames kept for a video.
pub const MAX_FRAMES: usize = 20;
/// Most features kept for a frame.
pub const MAX_FEATURES: usize = 800;
/// Longer side of the reduced frame features are extracted from.
pub const WORK_SIDE: usize = 640;
/// Version of the stored layout (the record's first line).
pub const LAYOUT: &str = "local 1";
/// Bytes a stored feature takes (before base64).
pub const FEATURE_BYTES: usize = 38;

/// Hamming radius within which a stored descriptor gets a query descriptor's vote.
pub const VOTE_RADIUS: u32 = 40;
/// A query descriptor near more stored descriptors than this does not vote.
pub const MAX_HITS: usize = 32;
/// Votes a stored frame needs to be verified.
pub const MIN_VOTES: usize = 4;
/// Stored frames whose verification fails before a query frame's search stops: frames that
/// verify do not count, so an archive holding many copies of the footage still reaches the
/// hard ones (an inset, a mirrored stack) that fewer votes rank after them.
pub const MAX_FAILURES: usize = 8;
/// Stored frames verified for each query frame, at most (one of each item that verifies).
pub const MAX_TRIES: usize = 64;
/// Frames of one item that may fail for a query frame.
pub const PER_OWNER: usize = 2;

/// Ratio of the pyramid's levels (as [`FeatureOptions::default`]).
const LEVEL_SCALE: f32 = 1.26;

/// The feature options of stored frames.
pub fn feature_options() -> FeatureOptions {
    FeatureOptions {
        max_features: MAX_FEATURES,
        scale_factor: LEVEL_SCALE,
        ..FeatureOptions::default()
    }
}

/// One sampled frame's features.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalFrame {
    pub frame_number: u64,
    /// Seconds from the start.
    pub timestamp: f64,
    pub features: Features,
}

/// Whether the frame at `timestamp` is sampled, given the time of the frame before it
/// (`None` for the first): the first frame of every [`SAMPLE_SECONDS`].
pub fn sampled(timestamp: f64, previous: Option<f64>) -> bool {
    previous.is_none_or(|p| (timestamp / SAMPLE_SECONDS).floor() > (p / SAMPLE_SECONDS).floor())
}

/// At most [`MAX_FRAMES`] of `frames`, evenly spread (first and last kept), in order.
pub fn thin(frames: Vec<LocalFrame>) -> Vec<LocalFrame> {
    let n = frames.len();
    if n <= MAX_FRAMES {
        return frames;
    }
    let keep: std::collections::HashSet<usize> = (0..MAX_FRAMES)
        .map(|k| (k * (n - 1) + (MAX_FRAMES - 1) / 2) / (MAX_FRAMES - 1))
        .collect();
    frames
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, f)| f)
        .collect()
}

/// The luma of packed RGB pixels (`width * 3` bytes a row), reduced by area averaging so
/// that its longer side is at most [`WORK_SIDE`].
pub fn reduced_luma(rgb: &[u8], width: usize, height: usize) -> Result<Luma, MediaError> {
    if width.checked_mul(height).and_then(|n| n.checked_mul(3)) != Some(rgb.len())
        || width == 0
        || height == 0
    {
        return Err(MediaError::BadBuffer {
            len: rgb.len(),
            width,
            height,
        });
    }
    let long = width.max(height);
    if long <= WORK_SIDE {
        return Luma::from_rgb(rgb, width, height);
    }
    let dw = (width * WORK_SIDE).div_ceil(long).max(1);
    let dh = (height * WORK_SIDE).div_ceil(long).max(1);
    let mut sum = vec![0u32; dw * dh];
    let mut count = vec![0u32; dw * dh];
    let xs: Vec<usize> = (0..width).map(|x| x * dw / width).collect();
    for y in 0..height {
        let row = (y * dh / height) * dw;
        for (x, p) in rgb[y * width * 3..(y + 1) * width * 3]
            .chunks_exact(3)
            .enumerate()
        {
            let l =
                (77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8;
            let o = row + xs[x];
            sum[o] += l;
            count[o] += 1;
        }
    }
    let pixels = sum
        .iter()
        .zip(&count)
        .map(|(&s, &c)| ((s + c / 2) / c.max(1)) as u8)
        .collect();
    Luma::new(dw, dh, pixels)
}

/// The stored features of one frame (packed RGB, `width * 3` bytes a row).
pub fn frame_features(rgb: &[u8], width: usize, height: usize) -> Result<Features, MediaError> {
    Ok(local::extract(
        &reduced_luma(rgb, width, height)?,
        &feature_options(),
    ))
}

// --- the record --------------------------------------------------------------------------

/// A stored record that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("local features record, line {line}: {reason}")]
pub struct RecordError {
    pub line: usize,
    pub reason: String,
}

/// The record of a video's (or an image's) sampled frames.
pub fn encode(frames: &[LocalFrame]) -> String {
    let mut out = String::from(LAYOUT);
    out.push('\n');
    for f in frames {
        out.push_str(&format!("{} {} ", f.frame_number, f.timestamp));
        base64::engine::general_purpose::STANDARD
            .encode_string(encode_frame(&f.features), &mut out);
        out.push('\n');
    }
    out
}

fn encode_frame(f: &Features) -> Vec<u8> {
    let n = f.keypoints.len().min(f.descriptors.len());
    let mut b = Vec::with_capacity(4 + n * FEATURE_BYTES);
    let side = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
    b.extend_from_slice(&side(f.width).to_le_bytes());
    b.extend_from_slice(&side(f.height).to_le_bytes());
    for (k, d) in f.keypoints.iter().zip(&f.descriptors) {
        let eighths = |v: f32| (v * 8.0).round().clamp(0.0, f32::from(u16::MAX)) as u16;
        b.extend_from_slice(&eighths(k.x).to_le_bytes());
        b.extend_from_slice(&eighths(k.y).to_le_bytes());
        b.push(k.level);
        let turn = k.angle / std::f32::consts::TAU;
        b.push(((turn * 256.0).round() as i32).rem_euclid(256) as u8);
        for w in d {
            b.extend_from_slice(&w.to_le_bytes());
        }
    }
    b
}

/// Reads a record made by [`encode`].
pub fn decode(data: &str) -> Result<Vec<LocalFrame>, RecordError> {
    let mut lines = data.lines();
    let err = |line: usize, reason: &str| RecordError {
        line,
        reason: reason.to_owned(),
    };
    if lines.next() != Some(LAYOUT) {
        return Err(err(1, "not a `local 1` record"));
    }
    let mut out = Vec::new();
    for (i, l) in lines.enumerate() {
        let line = i + 2;
        let mut parts = l.split(' ');
        let (Some(n), Some(t), Some(b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err(line, "expected frame number, seconds and features"));
        };
        let frame_number: u64 = n.parse().map_err(|_| err(line, "frame number"))?;
        let timestamp: f64 = t
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| err(line, "seconds"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| err(line, "base64"))?;
        let features = decode_frame(&bytes).ok_or_else(|| err(line, "feature layout"))?;
        out.push(LocalFrame {
            frame_number,
            timestamp,
            features,
        });
    }
    Ok(out)
}

fn decode_frame(b: &[u8]) -> Option<Features> {
    if b.len() < 4 || (b.len() - 4) % FEATURE_BYTES != 0 {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let mut f = Features {
        width: usize::from(u16_at(0)),
        height: usize::from(u16_at(2)),
        ..Features::default()
    };
    if f.width == 0 || f.height == 0 {
        return None;
    }
    for c in b[4..].chunks_exact(FEATURE_BYTES) {
        let level = c[4];
        if level > 31 {
            return None;
        }
        let angle = f32::from(c[5]) / 256.0 * std::f32::consts::TAU;
        f.keypoints.push(Keypoint {
            x: f32::from(u16::from_le_bytes([c[0], c[1]])) / 8.0,
            y: f32::from(u16::from_le_bytes([c[2], c[3]])) / 8.0,
            level,
            scale: LEVEL_SCALE.powi(i32::from(level)),
            angle: if angle > std::f32::consts::PI {
                angle - std::f32::consts::TAU
            } else {
                angle
            },
            response: 0.0,
        });
        let mut d: Hash256 = [0; 4];
        for (k, w) in d.iter_mut().enumerate() {
            let mut x = [0u8; 8];
            x.copy_from_slice(&c[6 + 8 * k..14 + 8 * k]);
            *w = u64::from_le_bytes(x);
        }
        f.descriptors.push(d);
    }
    Some(f)
}

// --- where one picture sits in the other -------------------------------------------------

/// How a matched picture relates to the query's: the candidate described in the query's
/// frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// The candidate is the query mirrored left to right (then the rest).
    pub mirrored: bool,
    /// Degrees the candidate's picture is turned (positive: clockwise on screen), rounded.
    pub angle: i32,
    /// The query's picture appears through a perspective (a screen filmed at an angle).
    pub perspective: bool,
    /// The query's whole picture is shown inside the candidate's frame: its side as a share
    /// of the candidate's (percent) and where it sits.
    pub inset: Option<(u32, &'static str)>,
    /// The candidate shows only part of the query's picture: the part's side as a share of
    /// the query's (percent) and where it was cut from.
    pub crop: Option<(u32, &'static str)>,
}

impl Placement {
    /// From the homography taking query pixels to candidate pixels and the two sizes.
    pub fn from_homography(
        h: &[f64; 9],
        query: (usize, usize),
        candidate: (usize, usize),
        mirrored: bool,
    ) -> Option<Placement> {
        let (qw, qh) = (query.0 as f64, query.1 as f64);
        let (cw, ch) = (candidate.0 as f64, candidate.1 as f64);
        if qw < 1.0 || qh < 1.0 || cw < 1.0 || ch < 1.0 {
            return None;
        }
        // With `mirrored`, the homography includes the flip: take it out to describe the
        // rest.
        let flip = [-1.0, 0.0, qw - 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let h = if mirrored { mul(h, &flip) } else { *h };
        let q_in_c = corners(qw, qh).map(|p| apply(&h, p));
        let inv = invert(&h)?;
        let c_in_q = corners(cw, ch).map(|p| apply(&inv, p));
        let (q_in_c, c_in_q) = (unwrap4(q_in_c)?, unwrap4(c_in_q)?);
        // Angle: of the top and bottom edges, averaged.
        let edge = |a: [f64; 2], b: [f64; 2]| (b[1] - a[1]).atan2(b[0] - a[0]);
        let angle = ((edge(q_in_c[0], q_in_c[1]).sin() + edge(q_in_c[3], q_in_c[2]).sin())
            .atan2(edge(q_in_c[0], q_in_c[1]).cos() + edge(q_in_c[3], q_in_c[2]).cos()))
        .to_degrees();
        let len = |a: [f64; 2], b: [f64; 2]| (b[0] - a[0]).hypot(b[1] - a[1]);
        let ratio = |a: f64, b: f64| a.max(b) / a.min(b).max(1e-9);
        // Judged on the smaller picture's outline in the larger (extrapolating the
        // homography far beyond where its inliers lie would exaggerate its perspective).
        let outline = if area(&q_in_c) / (cw * ch) <= area(&c_in_q) / (qw * qh) {
            &q_in_c
        } else {
            &c_in_q
        };
        let perspective = ratio(len(outline[0], outline[1]), len(outline[3], outline[2])) > 1.08
            || ratio(len(outline[0], outline[3]), len(outline[1], outline[2])) > 1.08;
        let inside = |quad: &[[f64; 2]; 4], w: f64, hh: f64| {
            let (mx, my) = (0.03 * w, 0.03 * hh);
            quad.iter()
                .all(|p| p[0] >= -mx && p[0] <= w + mx && p[1] >= -my && p[1] <= hh + my)
        };
        let share = |quad: &[[f64; 2]; 4], w: f64, hh: f64| (area(quad) / (w * hh)).sqrt();
        let inset = (inside(&q_in_c, cw, ch) && share(&q_in_c, cw, ch) < 0.9).then(|| {
            (
                (share(&q_in_c, cw, ch) * 100.0).round() as u32,
                position(&q_in_c, cw, ch),
            )
        });
        let crop = (inset.is_none() && share(&c_in_q, qw, qh) < 0.9).then(|| {
            (
                (share(&c_in_q, qw, qh).min(1.0) * 100.0).round() as u32,
                position(&c_in_q, qw, qh),
            )
        });
        Some(Placement {
            mirrored,
            angle: angle.round() as i32,
            perspective,
            inset,
            crop,
        })
    }

    /// In words, e.g. "picture-in-picture at 40% top-left", "rotated 7°, crop 80%".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.mirrored {
            parts.push("mirrored".to_owned());
        }
        if self.perspective {
            parts.push("perspective".to_owned());
        }
        if self.angle.abs() >= 2 {
            parts.push(format!("rotated {}°", self.angle));
        }
        if let Some((s, at)) = self.inset {
            parts.push(format!("picture-in-picture at {s}% {at}"));
        }
        if let Some((s, at)) = self.crop {
            parts.push(if at == "centre" {
                format!("crop {s}%")
            } else {
                format!("crop {s}% {at}")
            });
        }
        if parts.is_empty() {
            parts.push("same picture".to_owned());
        }
        parts.join(", ")
    }
}

fn corners(w: f64, h: f64) -> [[f64; 2]; 4] {
    [
        [-0.5, -0.5],
        [w - 0.5, -0.5],
        [w - 0.5, h - 0.5],
        [-0.5, h - 0.5],
    ]
}

fn unwrap4(q: [Option<[f64; 2]>; 4]) -> Option<[[f64; 2]; 4]> {
    Some([q[0]?, q[1]?, q[2]?, q[3]?])
}

fn area(q: &[[f64; 2]; 4]) -> f64 {
    let mut s = 0.0;
    for k in 0..4 {
        let (a, b) = (q[k], q[(k + 1) % 4]);
        s += a[0] * b[1] - b[0] * a[1];
    }
    (s / 2.0).abs()
}

/// Where a quadrilateral lies in a `w`×`h` frame: towards the side with the smaller margin,
/// when the margins differ by more than a tenth of the frame.
fn position(q: &[[f64; 2]; 4], w: f64, h: f64) -> &'static str {
    let side = |lo: f64, hi: f64, extent: f64| {
        let (a, b) = (lo.max(0.0), (extent - hi).max(0.0));
        if (a - b).abs() <= 0.1 * extent {
            1
        } else if a < b {
            0
        } else {
            2
        }
    };
    let xs = q.iter().map(|p| p[0]);
    let ys = q.iter().map(|p| p[1]);
    let col = side(
        xs.clone().fold(f64::MAX, f64::min),
        xs.fold(f64::MIN, f64::max),
        w,
    );
    let row = side(
        ys.clone().fold(f64::MAX, f64::min),
        ys.fold(f64::MIN, f64::max),
        h,
    );
    [
        ["top-left", "top", "top-right"],
        ["left", "centre", "right"],
        ["bottom-left", "bottom", "bottom-right"],
    ][row][col]
}

// --- the index ---------------------------------------------------------------------------

/// One stored frame: its item (the caller's number) and its features.
#[derive(Debug, Clone)]
struct Slot {
    owner: u32,
    frame: LocalFrame,
    /// Id of the frame's first descriptor in the Hamming index.
    first: u32,
}

/// Stored frames' descriptors, searched by voting and verified geometrically.
#[derive(Debug, Clone)]
pub struct LocalIndex {
    hashes: HammingIndex,
    /// Descriptor id → slot.
    slot_of: Vec<u32>,
    slots: Vec<Slot>,
    /// Owner → its slots.
    per_owner: HashMap<u32, Vec<u32>>,
}

/// Two frames that verified: times and the verification.
#[derive(Debug, Clone)]
pub struct FramePair {
    pub query_frame: usize,
    pub query_time: f64,
    pub item_time: f64,
    pub verification: Verification,
    /// Query and item frame sizes (of the reduced frames the features come from).
    pub query_size: (usize, usize),
    pub item_size: (usize, usize),
}

/// An item some of whose stored frames show the query's picture.
#[derive(Debug, Clone)]
pub struct LocalMatch {
    pub owner: u32,
    /// Share (0–1) of the query's sampled frames that verified with one of the item's.
    pub query_match: f64,
    /// Share (0–1) of the item's sampled frames that verified with one of the query's.
    pub item_match: f64,
    /// Every verified pair, in query frame order.
    pub pairs: Vec<FramePair>,
}

impl LocalMatch {
    /// The pair with the most inliers.
    pub fn best(&self) -> Option<&FramePair> {
        self.pairs.iter().max_by_key(|p| p.verification.inliers)
    }

    /// How the item's picture relates to the query's, from the best pair.
    pub fn placement(&self) -> Option<Placement> {
        let b = self.best()?;
        Placement::from_homography(
            &b.verification.homography,
            b.query_size,
            b.item_size,
            b.verification.mirrored,
        )
    }

    /// The aligned times: (query start, query end, item start, item end), in seconds.
    pub fn segment(&self) -> Option<(f64, f64, f64, f64)> {
        let mut it = self.pairs.iter();
        let first = it.next()?;
        let mut s = (
            first.query_time,
            first.query_time,
            first.item_time,
            first.item_time,
        );
        for p in it {
            s.0 = s.0.min(p.query_time);
            s.1 = s.1.max(p.query_time);
            s.2 = s.2.min(p.item_time);
            s.3 = s.3.max(p.item_time);
        }
        Some(s)
    }
}

impl Default for LocalIndex {
    /// Descriptors are scanned, column-wise and for a frame's descriptors at once
    /// ([`IndexKind::Compact`]): they are far from uniform, so the multi-index tables'
    /// buckets are crowded and probing them at [`VOTE_RADIUS`] costs many times a scan.
    fn default() -> Self {
        LocalIndex {
            hashes: HammingIndex::with_kind(IndexKind::Compact),
            slot_of: Vec::new(),
            slots: Vec::new(),
            per_owner: HashMap::new(),
        }
    }
}

impl LocalIndex {
    pub fn new() -> LocalIndex {
        LocalIndex::default()
    }

    /// Stored frames.
    pub fn frames(&self) -> usize {
        self.slots.len()
    }

    /// Stored descriptors.
    pub fn descriptors(&self) -> usize {
        self.hashes.len()
    }

    /// Adds an item's sampled frames under `owner`.
    pub fn add(&mut self, owner: u32, frames: Vec<LocalFrame>) {
        let mut all = Vec::new();
        for frame in frames {
            let Ok(slot) = u32::try_from(self.slots.len()) else {
                return;
            };
            let n = frame
                .features
                .descriptors
                .len()
                .min(frame.features.keypoints.len());
            let first = u32::try_from(self.slot_of.len()).unwrap_or(u32::MAX);
            all.extend_from_slice(&frame.features.descriptors[..n]);
            self.slot_of.extend(std::iter::repeat_n(slot, n));
            self.per_owner.entry(owner).or_default().push(slot);
            self.slots.push(Slot {
                owner,
                frame,
                first,
            });
        }
        self.hashes.extend(&all);
    }

    /// An owner's stored frames.
    pub fn frames_of(&self, owner: u32) -> Vec<LocalFrame> {
        self.per_owner
            .get(&owner)
            .into_iter()
            .flatten()
            .filter_map(|&s| self.slots.get(s as usize))
            .map(|s| s.frame.clone())
            .collect()
    }

    /// The owner of a stored frame (a slot [`LocalIndex::votes`] ranks).
    pub fn owner_of(&self, slot: u32) -> Option<u32> {
        self.slots.get(slot as usize).map(|s| s.owner)
    }

    /// Whether an owner has stored frames.
    pub fn has(&self, owner: u32) -> bool {
        self.per_owner.contains_key(&owner)
    }

    /// Stored frames ranked by votes for one query frame: (slot, votes), best first, at
    /// least [`MIN_VOTES`] each, `exclude`'s left out. A frame's votes are those of its
    /// largest group of query descriptors that agree on the change of scale (pyramid level)
    /// and of orientation between the two pictures (weak geometric consistency: a copy's
    /// matches agree, chance ones scatter), each vote counted in the two nearest bins of
    /// each so that no group is split at a bin's edge.
    pub fn votes(&self, query: &Features, exclude: Option<u32>) -> Vec<(u32, usize)> {
        let n = query.descriptors.len().min(query.keypoints.len());
        let found = self
            .hashes
            .radius_many(&query.descriptors[..n], VOTE_RADIUS);
        /// Orientation bins (30° each).
        const TURN_BINS: i32 = 12;
        let mut groups: HashMap<(u32, i8, i8), usize> = HashMap::new();
        let mut keys = Vec::new();
        let turn = std::f32::consts::TAU / TURN_BINS as f32;
        for (qk, hits) in query.keypoints.iter().zip(found) {
            if hits.is_empty() || hits.len() > MAX_HITS {
                continue;
            }
            keys.clear();
            for &(id, _) in &hits {
                let Some(&slot) = self.slot_of.get(id as usize) else {
                    continue;
                };
                let s = &self.slots[slot as usize];
                let Some(sk) = s.frame.features.keypoints.get((id - s.first) as usize) else {
                    continue;
                };
                let dl = i32::from(sk.level) - i32::from(qk.level);
                let da = (sk.angle - qk.angle).rem_euclid(std::f32::consts::TAU) / turn;
                let a0 = da.floor() as i32;
                // The other nearest bin: below when in the lower half of the bin.
                let a1 = if da - (a0 as f32) < 0.5 {
                    a0 - 1
                } else {
                    a0 + 1
                };
                for l in [dl, dl + 1] {
                    for a in [a0, a1] {
                        let a = a.rem_euclid(TURN_BINS);
                        keys.push((slot, l as i8, a as i8));
                    }
                }
            }
            keys.sort_unstable();
            keys.dedup();
            for &k in &keys {
                *groups.entry(k).or_default() += 1;
            }
        }
        let mut votes: HashMap<u32, usize> = HashMap::new();
        for ((slot, _, _), v) in groups {
            let best = votes.entry(slot).or_default();
            *best = (*best).max(v);
        }
        let mut ranked: Vec<(u32, usize)> = votes
            .into_iter()
            .filter(|&(s, v)| v >= MIN_VOTES && Some(self.slots[s as usize].owner) != exclude)
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }

    /// Items whose stored frames show a query frame's picture, verified; best first (most
    /// query frames matched, then most inliers). When a query frame verifies with several
    /// of an item's frames (footage that pans or zooms shows the same picture for a while),
    /// the pair kept is the one whose time offset most of the query's frames agree on.
    pub fn search(&self, query: &[LocalFrame], exclude: Option<u32>) -> Vec<LocalMatch> {
        let opts = VerifyOptions::default();
        // Every verified (query frame, slot) pair, by owner.
        let mut verified: HashMap<u32, Vec<(usize, u32, Verification)>> = HashMap::new();
        for (qi, qf) in query.iter().enumerate() {
            if qf.features.is_empty() {
                continue;
            }
            // Votes of the query as given and mirrored left to right (a mirrored copy's
            // descriptors are the mirrored query's), best first.
            let mirrored = qf.features.mirrored();
            let mut ranked: Vec<(u32, usize, bool)> = self
                .votes(&qf.features, exclude)
                .into_iter()
                .map(|(slot, v)| (slot, v, false))
                .chain(
                    self.votes(&mirrored, exclude)
                        .into_iter()
                        .map(|(slot, v)| (slot, v, true)),
                )
                .collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)).then(a.2.cmp(&b.2)));
            // Per item: failed verifications, or None once one of its frames verified (its
            // other frames are left to the pass at the agreed offset below).
            let mut failed_of: HashMap<u32, Option<usize>> = HashMap::new();
            let (mut failures, mut tries) = (0, 0);
            for (slot, _, flip) in ranked {
                if failures == MAX_FAILURES || tries == MAX_TRIES {
                    break;
                }
                let s = &self.slots[slot as usize];
                let failed = failed_of.entry(s.owner).or_insert(Some(0));
                if failed.is_none_or(|k| k >= PER_OWNER) {
                    continue;
                }
                tries += 1;
                let v = if flip {
                    let v = local::verify(&mirrored, &s.frame.features, &opts);
                    if v.same {
                        local::unmirror(v, qf.features.width, qf.features.height)
                    } else {
                        v
                    }
                } else {
                    local::verify(&qf.features, &s.frame.features, &opts)
                };
                if v.same {
                    verified.entry(s.owner).or_default().push((qi, slot, v));
                    *failed = None;
                } else {
                    *failed = failed.map(|k| k + 1);
                    failures += 1;
                }
            }
        }
        let queried = query
            .iter()
            .filter(|f| !f.features.is_empty())
            .count()
            .max(1);
        let mut out: Vec<LocalMatch> = verified
            .into_iter()
            .map(|(owner, mut found)| {
                let offset = |qi: usize, slot: u32| {
                    self.slots[slot as usize].frame.timestamp - query[qi].timestamp
                };
                let delta =
                    agreed_offset(found.iter().map(|(qi, slot, _)| (*qi, offset(*qi, *slot))));
                // Query frames with no pair at that offset: their aligned frame may have had
                // too few votes to be tried (a zoom favours another); try it now.
                let tol = SAMPLE_SECONDS / 2.0;
                for (qi, qf) in query.iter().enumerate() {
                    if qf.features.is_empty()
                        || found
                            .iter()
                            .any(|(q, s, _)| *q == qi && (offset(qi, *s) - delta).abs() <= tol)
                    {
                        continue;
                    }
                    let want = qf.timestamp + delta;
                    let Some(&slot) = self.per_owner.get(&owner).and_then(|slots| {
                        slots.iter().min_by(|a, b| {
                            let d = |s: u32| (self.slots[s as usize].frame.timestamp - want).abs();
                            d(**a).total_cmp(&d(**b))
                        })
                    }) else {
                        continue;
                    };
                    if (offset(qi, slot) - delta).abs() > tol
                        || found.iter().any(|(q, s, _)| *q == qi && *s == slot)
                    {
                        continue;
                    }
                    let v = local::verify_mirrored(
                        &qf.features,
                        &self.slots[slot as usize].frame.features,
                        &opts,
                    );
                    if v.same {
                        found.push((qi, slot, v));
                    }
                }
                // Per query frame, the pair nearest the agreed offset (then most inliers).
                let mut chosen: std::collections::BTreeMap<usize, (u32, Verification)> =
                    Default::default();
                for (qi, slot, v) in found {
                    let better = chosen.get(&qi).is_none_or(|(s, b)| {
                        let (d_new, d_old) = (
                            (offset(qi, slot) - delta).abs(),
                            (offset(qi, *s) - delta).abs(),
                        );
                        d_new < d_old - 1e-9 || (d_new <= d_old + 1e-9 && v.inliers > b.inliers)
                    });
                    if better {
                        chosen.insert(qi, (slot, v));
                    }
                }
                let stored = self.per_owner.get(&owner).map_or(1, Vec::len).max(1);
                let matched: std::collections::HashSet<u32> =
                    chosen.values().map(|(slot, _)| *slot).collect();
                let pairs: Vec<FramePair> = chosen
                    .into_iter()
                    .map(|(qi, (slot, v))| {
                        let s = &self.slots[slot as usize];
                        FramePair {
                            query_frame: qi,
                            query_time: query[qi].timestamp,
                            item_time: s.frame.timestamp,
                            query_size: (query[qi].features.width, query[qi].features.height),
                            item_size: (s.frame.features.width, s.frame.features.height),
                            verification: v,
                        }
                    })
                    .collect();
                LocalMatch {
                    owner,
                    query_match: pairs.len() as f64 / queried as f64,
                    item_match: matched.len() as f64 / stored as f64,
                    pairs,
                }
            })
            .collect();
        let inliers = |m: &LocalMatch| m.best().map_or(0, |p| p.verification.inliers);
        out.sort_by(|a, b| {
            b.pairs
                .len()
                .cmp(&a.pairs.len())
                .then(inliers(b).cmp(&inliers(a)))
                .then(a.owner.cmp(&b.owner))
        });
        out
    }
}

/// The time offset (item − query, seconds) that the most query frames have a pair at,
/// within half a sampling period; the smallest such offset on a tie.
fn agreed_offset(pairs: impl Iterator<Item = (usize, f64)>) -> f64 {
    let pairs: Vec<(usize, f64)> = pairs.collect();
    let tol = SAMPLE_SECONDS / 2.0;
    let mut best = (0usize, f64::MAX);
    for &(_, d) in &pairs {
        let mut frames: Vec<usize> = pairs
            .iter()
            .filter(|(_, e)| (e - d).abs() <= tol)
            .map(|(qi, _)| *qi)
            .collect();
        frames.sort_unstable();
        frames.dedup();
        if frames.len() > best.0 || (frames.len() == best.0 && d.abs() < best.1.abs()) {
            best = (frames.len(), d);
        }
    }
    if best.0 == 0 {
        0.0
    } else {
        best.1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn frame(seed: u64, n: usize) -> LocalFrame {
        let mut x = seed;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x
        };
        let mut f = Features {
            width: 640,
            height: 360,
            ..Features::default()
        };
        for i in 0..n {
            f.keypoints.push(Keypoint {
                x: (next() % 5120) as f32 / 8.0,
                y: (next() % 2880) as f32 / 8.0,
                level: (i % 8) as u8,
                scale: LEVEL_SCALE.powi((i % 8) as i32),
                angle: ((next() % 256) as f32 / 256.0 * std::f32::consts::TAU)
                    .rem_euclid(std::f32::consts::TAU),
                response: 0.0,
            });
            f.descriptors.push([next(), next(), next(), next()]);
        }
        for k in &mut f.keypoints {
            if k.angle > std::f32::consts::PI {
                k.angle -= std::f32::consts::TAU;
            }
        }
        LocalFrame {
            frame_number: seed,
            timestamp: seed as f64 * 0.5,
            features: f,
        }
    }

    #[test]
    fn records_round_trip_and_are_compact() {
        let frames = vec![frame(1, 400), frame(2, 0), frame(3, 17)];
        let text = encode(&frames);
        let back = decode(&text).unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in frames.iter().zip(&back) {
            assert_eq!(a.frame_number, b.frame_number);
            assert_eq!(a.timestamp, b.timestamp);
            assert_eq!(a.features.descriptors, b.features.descriptors);
            assert_eq!((a.features.width, a.features.height), (640, 360));
            assert_eq!((b.features.width, b.features.height), (640, 360));
            for (p, q) in a.features.keypoints.iter().zip(&b.features.keypoints) {
                assert_eq!(p.x, q.x, "eighths of a pixel are kept exactly");
                assert_eq!(p.y, q.y);
                assert_eq!(p.level, q.level);
                assert!((p.scale - q.scale).abs() < 1e-6);
                let d = (p.angle - q.angle).abs();
                assert!(
                    d < 0.02 || (d - std::f32::consts::TAU).abs() < 0.02,
                    "{p:?} {q:?}"
                );
            }
        }
        // 38 bytes a feature, 4 a frame, in base64.
        let line = text.lines().nth(1).unwrap();
        let b64 = line.rsplit(' ').next().unwrap();
        assert_eq!(b64.len(), (4 + 400 * FEATURE_BYTES).div_ceil(3) * 4);
        // Damaged records are errors, never panics.
        for bad in [
            "",
            "local 2\n",
            "local 1\n1 0.5\n",
            "local 1\n1 x AAAA\n",
            "local 1\n1 -1 AAAA\n",
            "local 1\n1 0 !!!!\n",
            "local 1\n1 0 AAAAAA==\n",
            "local 1\n1 0 AAAA AAAA\n",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(decode("local 1\n").unwrap(), vec![]);
        // Every truncation of a frame's bytes is refused or read, never a panic.
        let bytes = encode_frame(&frame(9, 3).features);
        for n in 0..bytes.len() {
            let _ = decode_frame(&bytes[..n]);
        }
    }

    #[test]
    fn sampling_and_thinning() {
        let times: Vec<f64> = (0..100).map(|n| n as f64 / 10.0).collect();
        let picked: Vec<f64> = times
            .iter()
            .enumerate()
            .filter(|&(i, &t)| sampled(t, i.checked_sub(1).map(|p| times[p])))
            .map(|(_, &t)| t)
            .collect();
        assert_eq!(picked, vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        let many: Vec<LocalFrame> = (0..95).map(|n| frame(n, 1)).collect();
        let kept = thin(many);
        assert_eq!(kept.len(), MAX_FRAMES);
        assert_eq!(kept[0].frame_number, 0);
        assert_eq!(kept[MAX_FRAMES - 1].frame_number, 94);
        assert!(kept
            .windows(2)
            .all(|w| w[0].frame_number < w[1].frame_number));
        let few: Vec<LocalFrame> = (0..5).map(|n| frame(n, 1)).collect();
        assert_eq!(thin(few).len(), 5);
    }

    /// Votes go to the stored frame that shares descriptors with the query (a few bits
    /// flipped), not to frames that share none, nor to the excluded owner; a descriptor
    /// near too many stored ones does not vote.
    #[test]
    fn voting_ranks_the_frame_that_shares_descriptors() {
        let mut index = LocalIndex::new();
        let target = frame(7, 200);
        index.add(0, vec![frame(100, 200), frame(101, 200)]);
        index.add(1, vec![frame(200, 200), target.clone()]);
        index.add(2, vec![frame(300, 200)]);
        // The query: 30 of the target's descriptors with 10 bits flipped, at corners one
        // level finer and turned 40° less (the target shows the picture larger and turned),
        // and 170 others.
        let mut q = frame(500, 200);
        let scattered = q.clone();
        for i in 0..30 {
            let mut d = target.features.descriptors[i * 6];
            for b in 0..10 {
                d[b % 4] ^= 1 << (b * 5);
            }
            q.features.descriptors[i] = d;
            let k = target.features.keypoints[i * 6];
            q.features.keypoints[i].level = k.level.saturating_sub(1);
            let a = (k.angle - 40f32.to_radians()).rem_euclid(std::f32::consts::TAU);
            q.features.keypoints[i].angle = if a > std::f32::consts::PI {
                a - std::f32::consts::TAU
            } else {
                a
            };
        }
        // (A level-0 corner stays at level 0: its votes share the bin of a change of one.)
        let agreeing = 30;
        let ranked = index.votes(&q.features, None);
        assert_eq!(ranked.len(), 1, "{ranked:?}");
        assert_eq!(ranked[0], (3, agreeing));
        assert!(index.votes(&q.features, Some(1)).is_empty());
        // The same descriptors at corners whose changes of scale and orientation disagree
        // (as chance matches do) get fewer votes.
        let mut r = scattered;
        r.features.descriptors[..30].copy_from_slice(&q.features.descriptors[..30]);
        let ranked = index.votes(&r.features, None);
        assert!(
            ranked.first().is_none_or(|&(_, v)| v < agreeing / 2),
            "{ranked:?}"
        );
        // A generic descriptor: the same one stored in many frames votes for none.
        let mut crowd = LocalIndex::new();
        let generic = target.features.descriptors[0];
        for o in 0..(MAX_HITS as u32 + 1) {
            let mut f = frame(1000 + u64::from(o), 10);
            f.features.descriptors[0] = generic;
            crowd.add(o, vec![f]);
        }
        let mut q = frame(2000, 10);
        for d in q.features.descriptors.iter_mut() {
            *d = generic;
        }
        assert!(crowd.votes(&q.features, None).is_empty());
        // Random features verify with nothing.
        assert!(index.search(&[q], None).is_empty());
    }

    #[test]
    fn placements_are_described() {
        let (w, h) = (640usize, 360usize);
        // The query shown at 40% in the top left corner of the candidate.
        let pip = [0.4, 0.0, 20.0, 0.0, 0.4, 20.0, 0.0, 0.0, 1.0];
        let p = Placement::from_homography(&pip, (w, h), (w, h), false).unwrap();
        assert_eq!(p.describe(), "picture-in-picture at 40% top-left");
        // The other way: the candidate is a crop of the query.
        let inv = invert(&pip).unwrap();
        let p = Placement::from_homography(&inv, (w, h), (w, h), false).unwrap();
        assert_eq!(p.describe(), "crop 40% top-left");
        // Turned 7° and enlarged by 1/0.8 about the centre: a re-framing.
        let (s, c) = (7f64.to_radians().sin() / 0.8, 7f64.to_radians().cos() / 0.8);
        let (cx, cy) = (319.5, 179.5);
        let rot = [
            c,
            -s,
            cx - c * cx + s * cy,
            s,
            c,
            cy - s * cx - c * cy,
            0.0,
            0.0,
            1.0,
        ];
        let p = Placement::from_homography(&rot, (w, h), (w, h), false).unwrap();
        assert_eq!(p.describe(), "rotated 7°, crop 80%");
        // A deep crop at an offset, scaled back up.
        let crop = [
            1.0 / 0.7,
            0.0,
            -192.0 / 0.7,
            0.0,
            1.0 / 0.7,
            0.0,
            0.0,
            0.0,
            1.0,
        ];
        let p = Placement::from_homography(&crop, (w, h), (w, h), false).unwrap();
        assert_eq!(p.describe(), "crop 70% top-right");
        // A screen filmed at an angle.
        let persp = [0.8, 0.05, 40.0, 0.0, 0.75, 30.0, 0.0003, 0.0, 1.0];
        let p = Placement::from_homography(&persp, (w, h), (w, h), false).unwrap();
        assert!(p.perspective, "{p:?}");
        // Nothing changed.
        let id = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let p = Placement::from_homography(&id, (w, h), (w, h), false).unwrap();
        assert_eq!(p.describe(), "same picture");
    }

    /// Panned or zooming footage verifies with neighbouring frames too: the offset most
    /// query frames agree on wins, whatever the inliers of the others.
    #[test]
    fn the_agreed_offset_is_the_one_most_frames_share() {
        // Query frames 0..4 at 0, 2, 4, 6 s; every one also matches item frame 0 (a zoom).
        let pairs = [
            (0, 0.0),
            (1, 0.0),
            (1, -2.0),
            (2, 0.0),
            (2, -4.0),
            (3, 0.0),
            (3, -6.0),
        ];
        assert_eq!(agreed_offset(pairs.into_iter()), 0.0);
        // A copy cut 4 s later: offset 4 for three frames, a stray pair elsewhere.
        let pairs = [(0, 4.0), (1, 4.0), (2, 4.0), (2, 2.0), (3, -1.0)];
        assert_eq!(agreed_offset(pairs.into_iter()), 4.0);
        assert_eq!(agreed_offset(std::iter::empty()), 0.0);
    }

    #[test]
    fn frames_are_reduced_to_the_working_side() {
        let (w, h) = (1920usize, 1080usize);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
        let l = reduced_luma(&rgb, w, h).unwrap();
        assert_eq!((l.width, l.height), (640, 360));
        let small = vec![128u8; 320 * 240 * 3];
        let l = reduced_luma(&small, 320, 240).unwrap();
        assert_eq!((l.width, l.height), (320, 240));
        assert!(l.pixels.iter().all(|&p| p == 128));
        assert!(reduced_luma(&small, 321, 240).is_err());
    }
}
