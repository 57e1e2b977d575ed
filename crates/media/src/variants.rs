//! Frame variants: extra hashes per video frame, kept beside the reference vPDQ hashes, for
//! matching what the reference cannot — letterboxed or padded, mirrored, cropped,
//! logo-stamped and captioned copies.
//!
//! The reference-compatible vPDQ hash of a frame stays exactly as the reference makes it
//! (it is what other archives exchange); these hashes are Athar's own and are stored as a
//! separate fingerprint kind ([`ALGORITHM`]). Per frame, from the same decoded pixels:
//!
//! - `unbordered`: the PDQ hash of the picture inside constant-colour borders
//!   ([`crate::borders`]: bars with a logo or caption laid over them, and borders inside
//!   borders, count), only when the frame has such borders;
//! - `mirrored`: the left–right mirror of the picture: the PDQ dihedral hash the reference
//!   calls `flipy` (a flip about the vertical axis; its `flipx` flips top and bottom), which
//!   costs no extra filtering; for a frame with borders both the unbordered picture's and
//!   the whole frame's (in case the copy's borders are found differently);
//! - `cropped`: the hash of the centre [`CROP_KEEP`] of the picture, so that a copy cropped
//!   at its edges matches the original and the other way round;
//! - `inner`: the hash of the picture's inner part ([`INNER`]: without its corners, where
//!   channels put logos, nor its lower quarter, where captions and tickers go);
//! - `band`: the hash of the picture's middle band across its whole width ([`BAND`]),
//!   clear of corner logos up to 30% of the width and of captions, so that a copy with a
//!   large logo matches band to band where the logo reaches into the inner part;
//! - `area`: the hash of the picture (inside its borders when it has them) averaged
//!   exactly onto PDQ's 64×64 grid ([`area_average`]) instead of PDQ's own filter and
//!   point sampling. Every 64th of the picture becomes the mean of its pixels, which a
//!   rescaled copy keeps; fine textures (a pattern of one- or two-pixel cells) otherwise
//!   alias differently at each scale, so a letterboxed or resized copy of such footage is
//!   beyond the match distance of its original though the picture is the same. Its luma
//!   is the decoder's own (a second FFmpeg output, [`luma_area`]), not computed from RGB:
//!   colours outside what RGB can show are clipped on conversion, which shifts their luma,
//!   while a greyscale copy keeps the true luma; from the decoder's plane the two agree.
//! - `window`: the hash of the centre [`crate::windows::STORED_KEEP`] of the picture, which
//!   a query's grid of windows looks for when one of the two is a crop of the other at an
//!   unknown offset ([`crate::windows`]; it pairs with no other hash here).
//!
//! Every frame is hashed the same way whether it is the original or the copy, and the
//! search pairs each side's hashes with the other's in both directions, so it does not
//! matter which of the two was ingested first or which is the query.
//!
//! The extra hashes are taken on a copy of the frame reduced by an integer factor to about
//! [`WORK_SIDE`] pixels on its short side (PDQ itself reduces every frame to 64×64, so little
//! is lost), which keeps their cost below that of the reference hash.
//!
//! [`search`] scores items as [`crate::similar::search`] does, counting a query frame as
//! matched when its reference hash or one of its variants is within the distance of an
//! item's reference hash or variant, for the pairs that undo one transform:
//! picture↔picture (reference or unbordered on either side: `original` or
//! `borders-removed`), picture↔mirrored (`mirrored`), picture↔cropped either way
//! (`cropped`), inner↔inner and band↔band (`overlay`), and area↔area (`rescaled-or-recoloured`) for
//! the items a frame matches in no other way.

use std::collections::{HashMap, HashSet};

use crate::borders;
use crate::pdq::{LumaMode, PdqHash, PdqHasher, PdqResult, MATCH_DISTANCE, MIN_QUALITY};
use crate::similar::{self, Hit, Index, Match};
use crate::vpdq::VpdqFrame;
use crate::MediaError;

/// The fingerprint kind these hashes are stored under.
pub const ALGORITHM: &str = "vpdq-variants";
/// Short side, in pixels, that frames are reduced to (by an integer factor) for the extra
/// hashes.
pub const WORK_SIDE: usize = 160;
/// Share of each side kept by the `cropped` hash (centred).
pub const CROP_KEEP: f64 = 0.9;
/// The `inner` part of the picture: left, top, right, bottom as shares of its sides.
pub const INNER: [f64; 4] = [0.2, 0.3, 0.8, 0.75];
/// The `band` of the picture: its middle third across the whole width, clear of logos
/// in the corners (up to 30% of the width wide, 15% of the width high) and of captions.
pub const BAND: [f64; 4] = [0.0, 0.32, 1.0, 0.68];

/// Side of the grid the `area` hash averages the picture onto (PDQ's own).
pub const AREA_SIDE: usize = 64;

/// What a variant hash undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VariantKind {
    /// Constant-colour borders removed.
    Unbordered,
    /// Mirrored left to right.
    Mirrored,
    /// The centre of the picture.
    Cropped,
    /// The inner part of the picture, clear of corner logos and captions.
    Inner,
    /// The middle band of the picture across its width, clear of large corner logos and
    /// captions.
    Band,
    /// The picture averaged onto PDQ's 64×64 grid, from the decoder's luma: rescaled
    /// (letterboxed, padded, resized) copies of fine textures, and greyscale copies of
    /// colours RGB cannot show.
    Area,
    /// The centre of the picture that crop windows look for ([`crate::windows`]).
    Window,
}

impl VariantKind {
    pub const ALL: [VariantKind; 7] = [
        VariantKind::Unbordered,
        VariantKind::Mirrored,
        VariantKind::Cropped,
        VariantKind::Inner,
        VariantKind::Band,
        VariantKind::Area,
        VariantKind::Window,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VariantKind::Unbordered => "unbordered",
            VariantKind::Mirrored => "mirrored",
            VariantKind::Cropped => "cropped",
            VariantKind::Inner => "inner",
            VariantKind::Band => "band",
            VariantKind::Area => "area",
            VariantKind::Window => "window",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One extra hash of one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VariantHash {
    pub kind: VariantKind,
    /// The frame's number, as in its vPDQ line.
    pub frame_number: u64,
    /// PDQ quality of this variant (0–100).
    pub quality: u8,
    pub hash: PdqHash,
    /// Seconds from the start, as in the frame's vPDQ line.
    pub timestamp: f64,
}

impl VariantHash {
    /// `kind,frame,quality,hex,timestamp`.
    pub fn to_line(&self) -> String {
        format!(
            "{},{},{},{},{:.3}",
            self.kind.name(),
            self.frame_number,
            self.quality,
            self.hash,
            self.timestamp
        )
    }

    /// Parses one `kind,frame,quality,hex,timestamp` line.
    pub fn parse_line(line: &str) -> Result<Self, MediaError> {
        let bad = |reason: &str| MediaError::BadVpdqLine {
            line: 0,
            reason: reason.to_string(),
        };
        let (kind, rest) = line.trim().split_once(',').ok_or_else(|| bad("no kind"))?;
        let kind = VariantKind::parse(kind).ok_or_else(|| bad("unknown variant kind"))?;
        let f = VpdqFrame::parse_line(rest)?;
        Ok(VariantHash {
            kind,
            frame_number: f.frame_number,
            quality: f.quality,
            hash: f.hash,
            timestamp: f.timestamp,
        })
    }

    fn as_frame(&self) -> VpdqFrame {
        VpdqFrame {
            frame_number: self.frame_number,
            quality: self.quality,
            hash: self.hash,
            timestamp: self.timestamp,
        }
    }
}

/// Parses stored variant lines (blank and unreadable lines are skipped: variants only add
/// matches, and a record from a later version may carry kinds this one does not know).
pub fn parse_lines(text: &str) -> Vec<VariantHash> {
    text.lines()
        .filter_map(|l| VariantHash::parse_line(l).ok())
        .collect()
}

/// Formats variants one line each.
pub fn format_lines(variants: &[VariantHash]) -> String {
    variants.iter().map(|v| v.to_line() + "\n").collect()
}

/// A frame reduced by an integer factor (box average) so its short side is about
/// [`WORK_SIDE`]: what the variant hashes are taken from.
#[derive(Clone, Debug, PartialEq)]
pub struct Reduced {
    /// Packed 8-bit RGB, `width * 3` bytes per row.
    pub rgb: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

/// The integer factor [`reduce`] divides a frame's sides by.
fn reduction(width: usize, height: usize) -> usize {
    (width.min(height) / WORK_SIDE).max(1)
}

/// The size [`reduce`] reduces a frame of this size to (`None`: too small for variants).
/// FFmpeg reduces the luma output to the same size ([`crate::vpdq`]).
pub fn reduced_size(width: usize, height: usize) -> Option<(usize, usize)> {
    if width < 8 || height < 8 {
        return None;
    }
    let f = reduction(width, height);
    Some((width / f, height / f))
}

/// Reduces packed RGB (`stride` bytes per row) for the variant hashes; `None` when the
/// frame is too small or the buffer too short.
pub fn reduce(rgb: &[u8], width: usize, height: usize, stride: usize) -> Option<Reduced> {
    if stride < width * 3 || rgb.len() < stride * height {
        return None;
    }
    let (w, h) = reduced_size(width, height)?;
    let f = reduction(width, height);
    let mut out = vec![0u8; w * h * 3];
    let mut sums = vec![0u32; w * 3];
    for y in 0..h {
        sums.iter_mut().for_each(|s| *s = 0);
        for yy in y * f..y * f + f {
            let row = &rgb[yy * stride..][..w * f * 3];
            for (x, block) in row.chunks_exact(f * 3).enumerate() {
                for p in block.chunks_exact(3) {
                    sums[x * 3] += u32::from(p[0]);
                    sums[x * 3 + 1] += u32::from(p[1]);
                    sums[x * 3 + 2] += u32::from(p[2]);
                }
            }
        }
        let n = (f * f) as u32;
        for (o, s) in out[y * w * 3..][..w * 3].iter_mut().zip(&sums) {
            *o = (s / n) as u8;
        }
    }
    Some(Reduced {
        rgb: out,
        width: w,
        height: h,
    })
}

/// A plane of 8-bit luma (`stride` bytes per row) inside `rect` averaged exactly onto an
/// [`AREA_SIDE`]×[`AREA_SIDE`] grid: each cell is the mean of the pixels it covers, edge
/// pixels weighted by the share of them inside the cell. `None` for an empty rectangle.
pub fn area_average(
    luma: &[u8],
    stride: usize,
    rect: borders::Rect,
) -> Option<[[f32; AREA_SIDE]; AREA_SIDE]> {
    let (w, h) = (rect.width, rect.height);
    if w == 0 || h == 0 || luma.len() < (rect.y + h - 1) * stride + rect.x + w {
        return None;
    }
    Some(area_grid(w, h, |y, out| {
        out.extend(
            luma[(rect.y + y) * stride + rect.x..][..w]
                .iter()
                .map(|&v| f32::from(v)),
        );
    }))
}

/// The exact average onto the grid of a `w`×`h` picture whose row `y` of luma `row`
/// appends to the vector it is given.
fn area_grid(
    w: usize,
    h: usize,
    mut row: impl FnMut(usize, &mut Vec<f32>),
) -> [[f32; AREA_SIDE]; AREA_SIDE] {
    const N: usize = AREA_SIDE;
    // Per output cell along one axis of `len` pixels: (first pixel, weights).
    let spans = |len: usize| -> Vec<(usize, Vec<f32>)> {
        let step = len as f64 / N as f64;
        (0..N)
            .map(|o| {
                let (a, b) = (o as f64 * step, (o + 1) as f64 * step);
                let first = a.floor() as usize;
                let last = (b.ceil() as usize).min(len);
                let weights = (first..last)
                    .map(|i| ((b.min(i as f64 + 1.0) - a.max(i as f64)) / step) as f32)
                    .collect();
                (first, weights)
            })
            .collect()
    };
    let (xs, ys) = (spans(w), spans(h));
    // Rows of the rectangle reduced to N columns, then the columns to N rows.
    let mut narrow = vec![[0f32; N]; h];
    let mut luma = Vec::with_capacity(w);
    for (y, out) in narrow.iter_mut().enumerate() {
        luma.clear();
        row(y, &mut luma);
        for (o, (first, weights)) in out.iter_mut().zip(&xs) {
            *o = weights
                .iter()
                .zip(&luma[*first..])
                .map(|(k, v)| k * v)
                .sum();
        }
    }
    let mut grid = [[0f32; N]; N];
    for (out, (first, weights)) in grid.iter_mut().zip(&ys) {
        for (k, row) in weights.iter().zip(&narrow[*first..]) {
            for (o, v) in out.iter_mut().zip(row) {
                *o += k * v;
            }
        }
    }
    grid
}

/// The `area` variant of a frame from its luma plane as the decoder made it, reduced to
/// [`reduced_size`] (`width` bytes per row): the picture inside its borders averaged onto
/// PDQ's grid. Taken from the decoder's luma rather than from RGB so that a greyscale copy
/// of footage whose colours lie outside what RGB can show (clipped when converted, which
/// shifts its luma) still matches its original. `None` for a short or empty plane.
pub fn luma_area(
    luma: &[u8],
    width: usize,
    height: usize,
    frame_number: u64,
    timestamp: f64,
) -> Option<VariantHash> {
    if width == 0 || height == 0 || luma.len() < width * height {
        return None;
    }
    // Borders are found as in the colour frame, on the grey picture.
    let grey: Vec<u8> = luma[..width * height]
        .iter()
        .flat_map(|&v| [v, v, v])
        .collect();
    let picture = borders::detect(&grey, width, height, width * 3).unwrap_or(borders::Rect {
        x: 0,
        y: 0,
        width,
        height,
    });
    let grid = area_average(luma, width, picture)?;
    let (hash, quality) = crate::pdq::hash_luma64(&grid);
    Some(VariantHash {
        kind: VariantKind::Area,
        frame_number,
        quality,
        hash,
        timestamp,
    })
}

/// The luma of packed RGB as 8-bit values (where no decoder's luma plane is at hand: tests
/// and the recall lab).
pub fn luma_of(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| {
            crate::pdq::frame_luma(p[0], p[1], p[2])
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// The variant hashes of one frame, but for `area` (taken from the decoder's luma plane:
/// [`luma_area`]). `base` is the frame's reference hash (its `flipy` dihedral hash is the
/// mirror when the frame has no borders).
pub(crate) fn frame_variants(
    hasher: &mut PdqHasher,
    rgb: &[u8],
    width: usize,
    height: usize,
    base: &PdqResult,
    frame_number: u64,
    timestamp: f64,
) -> Result<Vec<VariantHash>, MediaError> {
    match reduce(rgb, width, height, width * 3) {
        Some(small) => reduced_variants(hasher, &small, base, frame_number, timestamp),
        None => Ok(Vec::new()),
    }
}

/// The variant hashes of a frame already [`reduce`]d, but for `area` ([`luma_area`]);
/// `base` is its reference hash.
pub fn reduced_variants(
    hasher: &mut PdqHasher,
    small: &Reduced,
    base: &PdqResult,
    frame_number: u64,
    timestamp: f64,
) -> Result<Vec<VariantHash>, MediaError> {
    let (w, h) = (small.width, small.height);
    let reduced = small;
    let small = &small.rgb;
    let mut out = Vec::with_capacity(3);
    let mut push = |kind, r: &PdqResult, hash: PdqHash| {
        out.push(VariantHash {
            kind,
            frame_number,
            quality: r.quality,
            hash,
            timestamp,
        });
    };
    let mut hash_rect = |r: borders::Rect| {
        hasher.hash_rgb_mode(
            &small[r.y * w * 3 + r.x * 3..],
            r.width,
            r.height,
            w * 3,
            LumaMode::Float,
            false,
        )
    };
    let whole = borders::Rect {
        x: 0,
        y: 0,
        width: w,
        height: h,
    };
    let picture = match borders::detect(small, w, h, w * 3) {
        Some(rect) => {
            let r = hash_rect(rect)?;
            push(VariantKind::Unbordered, &r, r.hash);
            // The mirror of the picture alone, and of the whole frame too (in case the
            // copy's borders are not found the same way).
            push(VariantKind::Mirrored, &r, r.dihedral.flip_y);
            rect
        }
        None => whole,
    };
    push(VariantKind::Mirrored, base, base.dihedral.flip_y);
    let (cw, ch) = (
        ((picture.width as f64) * CROP_KEEP).round() as usize,
        ((picture.height as f64) * CROP_KEEP).round() as usize,
    );
    let centre = borders::Rect {
        x: picture.x + (picture.width - cw) / 2,
        y: picture.y + (picture.height - ch) / 2,
        width: cw,
        height: ch,
    };
    let r = hash_rect(centre)?;
    push(VariantKind::Cropped, &r, r.hash);
    let at = |share: f64, len: usize| ((len as f64) * share).round() as usize;
    for (kind, part) in [(VariantKind::Inner, INNER), (VariantKind::Band, BAND)] {
        let rect = borders::Rect {
            x: picture.x + at(part[0], picture.width),
            y: picture.y + at(part[1], picture.height),
            width: at(part[2], picture.width) - at(part[0], picture.width),
            height: at(part[3], picture.height) - at(part[1], picture.height),
        };
        let r = hash_rect(rect)?;
        push(kind, &r, r.hash);
    }
    let (hash, quality) = crate::windows::centre(hasher, reduced, picture)?;
    out.push(VariantHash {
        kind: VariantKind::Window,
        frame_number,
        quality,
        hash,
        timestamp,
    });
    Ok(out)
}

/// The archive's variant hashes, one index per kind.
#[derive(Debug, Default, Clone)]
pub struct VariantIndex {
    by_kind: HashMap<VariantKind, Index>,
    /// Per owner, frames with no usable reference hash but a usable variant (they count
    /// towards the item's frames).
    extra_frames: HashMap<u32, u32>,
}

impl VariantIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a video's variant hashes; `frames` are its reference frame hashes.
    pub fn add_video(&mut self, owner: u32, frames: &[VpdqFrame], variants: &[VariantHash]) {
        let usable: HashSet<u64> = frames
            .iter()
            .filter(|f| f.quality >= MIN_QUALITY)
            .map(|f| f.frame_number)
            .collect();
        let extra: HashSet<u64> = variants
            .iter()
            .filter(|v| v.quality >= MIN_QUALITY && !usable.contains(&v.frame_number))
            // Crop windows are scored on their own ([`crate::windows::search`]).
            .filter(|v| v.kind != VariantKind::Window)
            .map(|v| v.frame_number)
            .collect();
        if !extra.is_empty() {
            *self.extra_frames.entry(owner).or_default() += extra.len() as u32;
        }
        for kind in VariantKind::ALL {
            let of_kind: Vec<VpdqFrame> = variants
                .iter()
                .filter(|v| v.kind == kind)
                .map(VariantHash::as_frame)
                .collect();
            if !of_kind.is_empty() {
                self.by_kind
                    .entry(kind)
                    .or_default()
                    .add_video(owner, &of_kind);
            }
        }
    }

    /// The index of one kind's hashes (`None` when there are none).
    pub fn of_kind(&self, kind: VariantKind) -> Option<&Index> {
        self.by_kind.get(&kind)
    }

    fn radius(&self, kind: VariantKind, q: &PdqHash) -> Vec<(similar::Posting, u32)> {
        self.by_kind
            .get(&kind)
            .map(|i| i.radius(q, MATCH_DISTANCE))
            .unwrap_or_default()
    }
}

/// Which stored hash a query hash is compared with, and what a hit means (the `area` pair
/// last: [`search`] uses it only for items the others did not match).
const PAIRS: [(Side, Side, &str); 11] = [
    (Side::Reference, Side::Reference, "original"),
    (
        Side::Reference,
        Side::Variant(VariantKind::Unbordered),
        "borders-removed",
    ),
    (
        Side::Variant(VariantKind::Unbordered),
        Side::Reference,
        "borders-removed",
    ),
    (
        Side::Variant(VariantKind::Unbordered),
        Side::Variant(VariantKind::Unbordered),
        "borders-removed",
    ),
    (
        Side::Picture,
        Side::Variant(VariantKind::Mirrored),
        "mirrored",
    ),
    (
        Side::Picture,
        Side::Variant(VariantKind::Cropped),
        "cropped",
    ),
    (
        Side::Variant(VariantKind::Cropped),
        Side::Reference,
        "cropped",
    ),
    (
        Side::Variant(VariantKind::Cropped),
        Side::Variant(VariantKind::Unbordered),
        "cropped",
    ),
    (
        Side::Variant(VariantKind::Inner),
        Side::Variant(VariantKind::Inner),
        "overlay",
    ),
    (
        Side::Variant(VariantKind::Band),
        Side::Variant(VariantKind::Band),
        "overlay",
    ),
    (
        Side::Variant(VariantKind::Area),
        Side::Variant(VariantKind::Area),
        "rescaled-or-recoloured",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// The reference vPDQ hash.
    Reference,
    /// A variant hash.
    Variant(VariantKind),
    /// The picture: the unbordered hash when there is one, else the reference hash.
    Picture,
}

/// Like [`similar::search`], with variant hashes on both sides (see the module
/// documentation). `base` indexes the reference hashes, `variants` the archive's variants;
/// `query_variants` are the query's own.
pub fn search(
    base: &Index,
    variants: &VariantIndex,
    query: &[VpdqFrame],
    query_variants: &[VariantHash],
    exclude: Option<u32>,
) -> Vec<Match> {
    // Usable query frames: a usable reference hash or a usable variant.
    let mut by_frame: HashMap<u64, Vec<&VariantHash>> = HashMap::new();
    for v in query_variants.iter().filter(|v| v.quality >= MIN_QUALITY) {
        by_frame.entry(v.frame_number).or_default().push(v);
    }
    let usable: Vec<&VpdqFrame> = query
        .iter()
        .filter(|f| f.quality >= MIN_QUALITY || by_frame.contains_key(&f.frame_number))
        .collect();
    let mut hits = Vec::new();
    for (qi, f) in usable.iter().enumerate() {
        let own = by_frame.get(&f.frame_number);
        // Every hash of a kind (a frame has several `cropped` windows).
        let variant = |k: VariantKind| -> Vec<PdqHash> {
            own.map(|vs| vs.iter().filter(|v| v.kind == k).map(|v| v.hash).collect())
                .unwrap_or_default()
        };
        let reference: Vec<PdqHash> = (f.quality >= MIN_QUALITY)
            .then_some(f.hash)
            .into_iter()
            .collect();
        // Items this frame already matched by a pair naming what was undone: the `area`
        // pair (the last) only adds items the others missed, so that the transform named
        // stays the specific one (borders removed, original) where both match.
        let mut named: HashSet<u32> = HashSet::new();
        for (from, to, transform) in PAIRS {
            let fallback = from == Side::Variant(VariantKind::Area);
            let qs = match from {
                Side::Reference => reference.clone(),
                Side::Variant(k) => variant(k),
                Side::Picture => {
                    let un = variant(VariantKind::Unbordered);
                    if un.is_empty() {
                        reference.clone()
                    } else {
                        un
                    }
                }
            };
            let found = qs.iter().flat_map(|q| match to {
                Side::Reference | Side::Picture => base.radius(q, MATCH_DISTANCE),
                Side::Variant(k) => variants.radius(k, q),
            });
            for (posting, distance) in found {
                if fallback && named.contains(&posting.owner) {
                    continue;
                }
                if !fallback {
                    named.insert(posting.owner);
                }
                hits.push(Hit {
                    query_frame: qi,
                    query_time: f.timestamp,
                    posting,
                    distance,
                    transform: if to == Side::Reference && from == Side::Reference {
                        // Images keep their dihedral variant's name.
                        similar::TRANSFORMS[usize::from(posting.transform) % 8]
                    } else {
                        transform
                    },
                });
            }
        }
    }
    let extra = &variants.extra_frames;
    similar::score(
        usable.len(),
        |o| base.usable_frames(o) + extra.get(&o).copied().unwrap_or(0),
        hits,
        exclude,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::borders::tests::framed;

    fn hash(rgb: &[u8], w: usize, h: usize) -> PdqResult {
        PdqHasher::new()
            .hash_rgb_mode(rgb, w, h, w * 3, LumaMode::Float, true)
            .unwrap()
    }

    /// A frame's variants, its `area` from the luma of its reduced RGB (the decoder's luma
    /// plane in a video).
    fn variants_of(rgb: &[u8], w: usize, h: usize) -> Vec<VariantHash> {
        let base = hash(rgb, w, h);
        let mut v = frame_variants(&mut PdqHasher::new(), rgb, w, h, &base, 0, 0.0).unwrap();
        let small = reduce(rgb, w, h, w * 3).unwrap();
        let luma = luma_of(&small.rgb);
        v.extend(luma_area(&luma, small.width, small.height, 0, 0.0));
        v
    }

    fn get(v: &[VariantHash], k: VariantKind) -> Option<PdqHash> {
        v.iter().find(|x| x.kind == k).map(|x| x.hash)
    }

    /// A textured picture (smooth enough for PDQ to see the same thing at any size).
    fn picture(w: usize, h: usize) -> Vec<u8> {
        crate::borders::tests::textured(w, h, 15.0, 0.0)
    }

    #[test]
    fn letterboxed_mirrored_cropped_and_stamped_pictures_match_their_original() {
        let (w, h) = (320, 180);
        let orig = picture(w, h);
        let ov = variants_of(&orig, w, h);
        let ob = hash(&orig, w, h);
        assert_eq!(get(&ov, VariantKind::Unbordered), None, "no borders");

        // Letterboxed: the picture at 320×140 inside 320×180 black bars.
        let inner = picture(w, 140);
        let mut boxed = framed(w, h, (0, 20, 0, 20), [0, 0, 0]);
        for y in 0..140 {
            boxed[(y + 20) * w * 3..][..w * 3].copy_from_slice(&inner[y * w * 3..][..w * 3]);
        }
        let bv = variants_of(&boxed, w, h);
        let un = get(&bv, VariantKind::Unbordered).expect("borders found");
        assert!(hash(&boxed, w, h).hash.distance(&ob.hash) > MATCH_DISTANCE);
        assert!(
            un.distance(&ob.hash) <= MATCH_DISTANCE,
            "{}",
            un.distance(&ob.hash)
        );

        // Mirrored: its hash is near the original's mirrored variant.
        let mut mirrored = orig.clone();
        for y in 0..h {
            for x in 0..w {
                let (a, b) = ((y * w + x) * 3, (y * w + (w - 1 - x)) * 3);
                mirrored[a..a + 3].copy_from_slice(&orig[b..b + 3]);
            }
        }
        let m = hash(&mirrored, w, h).hash;
        assert!(m.distance(&ob.hash) > MATCH_DISTANCE);
        let mv = get(&ov, VariantKind::Mirrored).unwrap();
        assert!(m.distance(&mv) <= 8, "{}", m.distance(&mv));

        // Cropped to its centre: near the original's cropped variant.
        let (cw, ch) = (288, 162);
        let mut crop = vec![0u8; cw * ch * 3];
        for y in 0..ch {
            crop[y * cw * 3..][..cw * 3].copy_from_slice(&orig[((y + 9) * w + 16) * 3..][..cw * 3]);
        }
        assert!(c_far(&crop, cw, ch, &ob.hash));

        // A logo in a corner and a caption band at the bottom: the inner parts still match.
        let mut stamped = orig.clone();
        for y in 0..h {
            for x in 0..w {
                if (x < 90 && y < 50) || (y > 145 && y < 170) {
                    stamped[(y * w + x) * 3..][..3].copy_from_slice(&[255, 255, 255]);
                }
            }
        }
        assert!(c_far(&stamped, w, h, &ob.hash));
        let sv = variants_of(&stamped, w, h);
        let (si, oi) = (
            get(&sv, VariantKind::Inner).unwrap(),
            get(&ov, VariantKind::Inner).unwrap(),
        );
        assert!(si.distance(&oi) <= MATCH_DISTANCE, "{}", si.distance(&oi));

        // A large logo (30% of the width, in the lower right corner) reaching into the
        // inner part: the middle bands still match.
        let mut large = orig.clone();
        for y in 122..170 {
            for x in 214..310 {
                large[(y * w + x) * 3..][..3].copy_from_slice(&[250, 250, 40]);
            }
        }
        assert!(c_far(&large, w, h, &ob.hash));
        let lv = variants_of(&large, w, h);
        assert_eq!(get(&lv, VariantKind::Unbordered), None, "no borders");
        let (lb, ob_band) = (
            get(&lv, VariantKind::Band).unwrap(),
            get(&ov, VariantKind::Band).unwrap(),
        );
        assert!(lb.distance(&ob_band) <= 8, "{}", lb.distance(&ob_band));
        let c = hash(&crop, cw, ch).hash;
        let cv = get(&ov, VariantKind::Cropped).unwrap();
        assert!(c.distance(&cv) <= MATCH_DISTANCE, "{}", c.distance(&cv));
    }

    #[test]
    fn area_average_is_the_mean_of_each_cell() {
        let r = |x, y, width, height| borders::Rect {
            x,
            y,
            width,
            height,
        };
        // 128×128 of 2×2 blocks: each cell is one block's luma; the rectangle is placed
        // inside a wider plane (stride) at an offset.
        let (w, h) = (140, 130);
        let mut luma = vec![0u8; w * h];
        let level = |bx: usize, by: usize| ((bx * 7 + by * 13) % 256) as u8;
        for y in 0..128 {
            for x in 0..128 {
                luma[(y + 1) * w + x + 5] = level(x / 2, y / 2);
            }
        }
        let g = area_average(&luma, w, r(5, 1, 128, 128)).unwrap();
        for (by, row) in g.iter().enumerate() {
            for (bx, v) in row.iter().enumerate() {
                let want = f32::from(level(bx, by));
                assert!((v - want).abs() < 1e-3, "{bx},{by}: {v} {want}");
            }
        }
        // 96 pixels onto 64 cells: a cell covers one pixel and half of the next.
        let mut luma = vec![0u8; 96 * 64];
        for y in 0..64 {
            for x in 0..96 {
                luma[y * 96 + x] = if x % 3 == 0 { 255 } else { 0 };
            }
        }
        let g = area_average(&luma, 96, r(0, 0, 96, 64)).unwrap();
        assert!((g[7][0] - 255.0 * 2.0 / 3.0).abs() < 1e-3, "{}", g[7][0]);
        assert!(g[7][1].abs() < 1e-3, "{}", g[7][1]);
        assert_eq!(area_average(&luma, 96, r(0, 0, 0, 64)), None);
        assert_eq!(area_average(&luma[..100], 96, r(0, 0, 96, 64)), None);
    }

    /// A fine texture: cells of 2×2 pixels, dark or light at random.
    fn texture(w: usize, h: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut cells = vec![0u8; (w / 2) * (h / 2)];
        for c in &mut cells {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *c = if x & 1 == 1 { 230 } else { 20 };
        }
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for xx in 0..w {
                let v = cells[(y / 2) * (w / 2) + xx / 2];
                rgb[(y * w + xx) * 3..][..3].copy_from_slice(&[v, v / 2 + 60, 255 - v]);
            }
        }
        rgb
    }

    /// `rgb` (`w`×`h`) scaled to `w`×`nh` by linear interpolation between rows.
    fn squeeze(rgb: &[u8], w: usize, h: usize, nh: usize) -> Vec<u8> {
        let mut out = vec![0u8; w * nh * 3];
        for y in 0..nh {
            let s = (y as f64 + 0.5) * h as f64 / nh as f64 - 0.5;
            let (a, t) = (s.floor().max(0.0) as usize, s - s.floor());
            let b = (a + 1).min(h - 1);
            for k in 0..w * 3 {
                let v =
                    f64::from(rgb[a * w * 3 + k]) * (1.0 - t) + f64::from(rgb[b * w * 3 + k]) * t;
                out[y * w * 3 + k] = v.round() as u8;
            }
        }
        out
    }

    #[test]
    fn a_letterboxed_fine_texture_matches_by_its_area_hash() {
        let (w, h) = (640, 360);
        let orig = texture(w, h);
        let ov = variants_of(&orig, w, h);
        // Squeezed to 280 rows (linear interpolation) and letterboxed in black.
        let (nh, top) = (280, 40);
        let inner = squeeze(&orig, w, h, nh);
        let mut boxed = framed(w, h, (0, top, 0, h - nh - top), [0, 0, 0]);
        boxed[top * w * 3..][..nh * w * 3].copy_from_slice(&inner);
        let bv = variants_of(&boxed, w, h);
        let un = get(&bv, VariantKind::Unbordered).expect("borders found");
        let (a, b) = (
            get(&ov, VariantKind::Area).unwrap(),
            get(&bv, VariantKind::Area).unwrap(),
        );
        // PDQ's own filter aliases the texture differently at the two scales; the exact
        // average onto its grid does not.
        let reference = un.distance(&hash(&orig, w, h).hash);
        assert!(reference > MATCH_DISTANCE, "{reference}");
        assert!(a.distance(&b) <= MATCH_DISTANCE, "{}", a.distance(&b));
    }

    /// Whether the reference hash of a picture is beyond the match distance of `h`.
    fn c_far(rgb: &[u8], w: usize, h: usize, other: &PdqHash) -> bool {
        hash(rgb, w, h).hash.distance(other) > MATCH_DISTANCE
    }

    #[test]
    fn line_round_trip() {
        let v = VariantHash {
            kind: VariantKind::Mirrored,
            frame_number: 12,
            quality: 87,
            hash: PdqHash::from_words([0xabcd; 16]),
            timestamp: 0.4,
        };
        assert_eq!(VariantHash::parse_line(&v.to_line()).unwrap(), v);
        let text = format_lines(&[v]) + "bogus,1,2,3,4\n\n";
        assert_eq!(parse_lines(&text), vec![v]);
    }

    fn frame(n: u64, hash: PdqHash) -> VpdqFrame {
        VpdqFrame {
            frame_number: n,
            quality: 90,
            hash,
            timestamp: n as f64,
        }
    }

    fn rand_hash(seed: u64) -> PdqHash {
        PdqHash::pseudo_random(seed)
    }

    #[test]
    fn search_counts_variant_pairs_and_names_the_transform() {
        // Item 0: frames a0..a9 with mirrored variants m0..m9; item 1: unrelated.
        let mut base = Index::new();
        let mut vi = VariantIndex::new();
        let item: Vec<VpdqFrame> = (0..10).map(|i| frame(i, rand_hash(i))).collect();
        let mirrors: Vec<VariantHash> = (0..10)
            .map(|i| VariantHash {
                kind: VariantKind::Mirrored,
                frame_number: i,
                quality: 90,
                hash: rand_hash(100 + i),
                timestamp: i as f64,
            })
            .collect();
        base.add_video(0, &item);
        vi.add_video(0, &item, &mirrors);
        let other: Vec<VpdqFrame> = (0..10).map(|i| frame(i, rand_hash(500 + i))).collect();
        base.add_video(1, &other);
        vi.add_video(1, &other, &[]);

        // A mirrored copy: its reference hashes are the item's mirrored variants.
        let query: Vec<VpdqFrame> = (0..10)
            .map(|i| frame(i, mirrors[i as usize].hash))
            .collect();
        let m = search(&base, &vi, &query, &[], None);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!((m[0].owner, m[0].transform), (0, "mirrored"));
        assert!((m[0].query_match - 1.0).abs() < 1e-9 && (m[0].item_match - 1.0).abs() < 1e-9);
        // Without the variants, the reference search finds nothing.
        assert!(similar::search(&base, &query, None).is_empty());
        // A letterboxed copy: its reference hashes are unrelated, its unbordered variants
        // are the item's frames; frames whose reference hash is unusable still count.
        let boxed: Vec<VpdqFrame> = (0..10)
            .map(|i| VpdqFrame {
                quality: 20,
                ..frame(i, rand_hash(900 + i))
            })
            .collect();
        let un: Vec<VariantHash> = item
            .iter()
            .map(|f| VariantHash {
                kind: VariantKind::Unbordered,
                frame_number: f.frame_number,
                quality: 80,
                hash: f.hash,
                timestamp: f.timestamp,
            })
            .collect();
        let m = search(&base, &vi, &boxed, &un, None);
        assert_eq!((m[0].owner, m[0].transform), (0, "borders-removed"));
        assert!((m[0].query_match - 1.0).abs() < 1e-9);
        assert!(search(&base, &vi, &boxed, &un, Some(0)).is_empty());
    }
}
