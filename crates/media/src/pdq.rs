//! PDQ perceptual image hash, bit-compatible with Meta ThreatExchange's
//! reference C++ implementation (`pdq/cpp`, as wrapped by PyPI `pdqhash` 0.2.8).
//!
//! Pipeline (reference names in brackets): RGB → float luma; Jarosz tent
//! filter = two passes of (box along rows [`boxAlongRowsFloat`], box along
//! columns [`boxAlongColsFloat`]) with the reference window size
//! [`computeJaroszFilterWindowSize`]; decimation to 64×64 at pixel centres
//! [`decimateFloat`]; gradient quality metric [`pdqImageDomainQualityMetric`];
//! 16×16 DCT [`dct64To16`]; bits above the Torben median [`torben`].
//!
//! Luma: [`hash_rgb`] computes `float32(0.299 r + 0.587 g + 0.114 b)` in
//! double precision, exactly as PyPI `pdqhash` does before calling the C++
//! core (the shared conformance hashes were made that way); vPDQ frames use
//! the C++ `fillFloatLumaFromRGB` (float coefficients and sums), as the
//! reference vPDQ does. The two differ in the last bit of a few luma values
//! and give the same hashes on all the conformance images.
//!
//! Every float operation that affects rounding is performed in the same order
//! as the reference, so results are bit-identical; the speed comes from
//! vectorising *across* independent rows/columns (each lane runs exactly the
//! reference's scalar sequence), from fusing luma conversion into the first
//! pass (the per-channel products come from 256-entry tables holding the very
//! same rounded products), from computing the last column pass only at the
//! 64 sampled columns, and, for vPDQ frames, from skipping the dihedral
//! hashes they do not use.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::MediaError;

/// Two hashes match when their Hamming distance is at most this.
pub const MATCH_DISTANCE: u32 = 31;
/// Hashes with quality below this are not used for matching.
pub const MIN_QUALITY: u8 = 50;
/// Images smaller than this in either dimension hash to zero with quality 0.
pub const MIN_HASHABLE_DIM: usize = 5;

/// A 256-bit PDQ hash.
///
/// Bit `k` (0..256) is bit `k % 16` of word `k / 16`; the hex form prints
/// word 15 first, each word as four lowercase hex digits (reference order).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PdqHash {
    words: [u16; 16],
}

impl PdqHash {
    /// The all-zero hash (what the reference returns for unhashable input).
    pub const ZERO: PdqHash = PdqHash { words: [0; 16] };

    /// Builds a hash from its 16 words (word 0 holds bits 0..16).
    pub fn from_words(words: [u16; 16]) -> Self {
        PdqHash { words }
    }

    /// The 16 words (word 0 holds bits 0..16).
    pub fn words(&self) -> [u16; 16] {
        self.words
    }

    /// A reproducible pseudo-random hash (xorshift from `seed`), for tests.
    #[cfg(test)]
    pub(crate) fn pseudo_random(seed: u64) -> Self {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        PdqHash::from_words(std::array::from_fn(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u16
        }))
    }

    /// Bit `k` of the hash; `false` when `k >= 256`.
    pub fn bit(&self, k: usize) -> bool {
        k < 256 && (self.words[k >> 4] >> (k & 15)) & 1 == 1
    }

    fn set_bit(&mut self, k: usize) {
        self.words[k >> 4] |= 1 << (k & 15);
    }

    /// Number of differing bits.
    pub fn distance(&self, other: &PdqHash) -> u32 {
        self.words
            .iter()
            .zip(other.words.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Lowercase hex in reference word order (64 characters).
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Parses 64 hex digits in reference word order (either case).
    pub fn from_hex(s: &str) -> Result<Self, MediaError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return Err(MediaError::BadHash(s.chars().take(80).collect()));
        }
        let mut words = [0u16; 16];
        for (n, chunk) in bytes.chunks_exact(4).enumerate() {
            let mut w = 0u16;
            for &c in chunk {
                // is_ascii_hexdigit checked above, so to_digit cannot fail.
                let d = (c as char).to_digit(16).unwrap_or(0) as u16;
                w = (w << 4) | d;
            }
            words[15 - n] = w;
        }
        Ok(PdqHash { words })
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in self.words.iter().rev() {
            write!(f, "{w:04x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({self})")
    }
}

impl FromStr for PdqHash {
    type Err = MediaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PdqHash::from_hex(s)
    }
}

/// Hamming distance between two hashes.
pub fn hamming_distance(a: &PdqHash, b: &PdqHash) -> u32 {
    a.distance(b)
}

/// Whether two hashes of good enough quality match under the reference rules
/// (both quality ≥ [`MIN_QUALITY`], distance ≤ [`MATCH_DISTANCE`]).
pub fn is_match(a: &PdqResult, b: &PdqResult) -> bool {
    a.quality >= MIN_QUALITY
        && b.quality >= MIN_QUALITY
        && a.hash.distance(&b.hash) <= MATCH_DISTANCE
}

/// The hashes of the 8 dihedral transforms of an image, computed from the
/// DCT of the original as the reference does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Dihedral {
    pub original: PdqHash,
    pub rotate90: PdqHash,
    pub rotate180: PdqHash,
    pub rotate270: PdqHash,
    pub flip_x: PdqHash,
    pub flip_y: PdqHash,
    pub flip_plus1: PdqHash,
    pub flip_minus1: PdqHash,
}

impl Dihedral {
    /// In reference order: original, rot90, rot180, rot270, flipx, flipy,
    /// flip+1, flip-1.
    pub fn to_array(&self) -> [PdqHash; 8] {
        [
            self.original,
            self.rotate90,
            self.rotate180,
            self.rotate270,
            self.flip_x,
            self.flip_y,
            self.flip_plus1,
            self.flip_minus1,
        ]
    }
}

/// Result of hashing one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PdqResult {
    /// The hash of the image as given.
    pub hash: PdqHash,
    /// 0..=100; below [`MIN_QUALITY`] the hash should not be used for matching.
    pub quality: u8,
    /// Hashes of the 8 dihedral transforms (`dihedral.original == hash`).
    pub dihedral: Dihedral,
}

/// How RGB is turned into luma.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LumaMode {
    /// `float32(r*0.299 + g*0.587 + b*0.114)` evaluated in double precision,
    /// as PyPI `pdqhash` does before calling the C++ core (what the
    /// conformance data was made with).
    Double,
    /// The C++ core's `fillFloatLumaFromRGB`: float coefficients, float sums
    /// (what vPDQ uses for video frames).
    Float,
}

/// Reusable hashing state; keeps its large buffers between images.
#[derive(Debug, Default)]
pub struct PdqHasher {
    full: Vec<f32>,
    full2: Vec<f32>,
    narrow: Vec<f32>,
    narrow2: Vec<f32>,
    tin: Vec<[f32; LANES]>,
    tout: Vec<[f32; LANES]>,
    sums: Vec<f32>,
    wanted: Vec<bool>,
}

const LANES: usize = 8;

impl PdqHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hashes packed 8-bit RGB pixels (`width * height * 3` bytes, row-major)
    /// exactly as PyPI `pdqhash.compute_dihedral` does.
    pub fn hash_rgb(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
    ) -> Result<PdqResult, MediaError> {
        self.hash_rgb_mode(
            rgb,
            width,
            height,
            width.saturating_mul(3),
            LumaMode::Double,
            false,
        )
    }

    /// Core entry: `stride` is bytes per row; `direct64` reproduces the C++
    /// `pdqHash256FromFloatLuma` shortcut that skips filtering for exactly
    /// 64×64 input (used by vPDQ).
    pub(crate) fn hash_rgb_mode(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        mode: LumaMode,
        direct64: bool,
    ) -> Result<PdqResult, MediaError> {
        Ok(
            match self.reduce(rgb, width, height, stride, mode, direct64)? {
                Some(a64) => finish(&a64),
                None => PdqResult {
                    hash: PdqHash::ZERO,
                    quality: 0,
                    dihedral: Dihedral::default(),
                },
            },
        )
    }

    /// As [`PdqHasher::hash_rgb_mode`], but only the hash and its quality:
    /// the dihedral hashes are not computed (vPDQ frames need none).
    pub(crate) fn hash_rgb_plain(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        mode: LumaMode,
        direct64: bool,
    ) -> Result<(PdqHash, u8), MediaError> {
        Ok(
            match self.reduce(rgb, width, height, stride, mode, direct64)? {
                Some(a64) => (to_bits(&dct64_to_16(&a64)), quality_metric(&a64)),
                None => (PdqHash::ZERO, 0),
            },
        )
    }

    /// Checks the buffer and reduces the image to the 64×64 luma the DCT
    /// takes; `None` for images too small to hash.
    fn reduce(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        mode: LumaMode,
        direct64: bool,
    ) -> Result<Option<[[f32; 64]; 64]>, MediaError> {
        let needed = if width == 0 || height == 0 {
            Some(0)
        } else {
            stride
                .checked_mul(height - 1)
                .and_then(|n| n.checked_add(width.checked_mul(3)?))
        };
        match needed {
            Some(n) if rgb.len() >= n && stride >= width.saturating_mul(3) => {}
            _ => {
                return Err(MediaError::BadBuffer {
                    len: rgb.len(),
                    width,
                    height,
                })
            }
        }
        if width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM {
            return Ok(None);
        }
        let mut a64 = [[0f32; 64]; 64];
        if direct64 && width == 64 && height == 64 {
            for (i, row) in a64.iter_mut().enumerate() {
                let px = &rgb[i * stride..][..64 * 3];
                for (o, p) in row.iter_mut().zip(px.chunks_exact(3)) {
                    *o = luma(mode, p[0], p[1], p[2]);
                }
            }
        } else {
            self.downsample(rgb, width, height, stride, mode, &mut a64);
        }
        Ok(Some(a64))
    }

    /// Jarosz filter (2 × rows+cols box passes) and decimation to 64×64.
    fn downsample(
        &mut self,
        rgb: &[u8],
        w: usize,
        h: usize,
        stride: usize,
        mode: LumaMode,
        out: &mut [[f32; 64]; 64],
    ) {
        let win_rows = jarosz_window(w, 64);
        let win_cols = jarosz_window(h, 64);
        let rows_idx: [usize; 64] = std::array::from_fn(|i| decimate_index(i, h));
        let cols_idx: [usize; 64] = std::array::from_fn(|j| decimate_index(j, w));

        self.full.resize(w * h, 0.0);
        self.full2.resize(w * h, 0.0);
        self.narrow.resize(64 * h, 0.0);
        self.narrow2.resize(64 * h, 0.0);
        self.tin.resize(w, [0.0; LANES]);
        self.tout.resize(w, [0.0; LANES]);

        // Pass 1: luma + box along rows, LANES rows at a time.
        let (lut_r, lut_g, lut_b) = luma_tables();
        let mut r0 = 0;
        while r0 < h {
            let n = LANES.min(h - r0);
            for l in 0..LANES {
                if l < n {
                    let px = &rgb[(r0 + l) * stride..][..w * 3];
                    match mode {
                        LumaMode::Double => {
                            for (t, p) in self.tin.iter_mut().zip(px.chunks_exact(3)) {
                                t[l] = ((lut_r[p[0] as usize] + lut_g[p[1] as usize])
                                    + lut_b[p[2] as usize])
                                    as f32;
                            }
                        }
                        LumaMode::Float => {
                            // The products come from tables (each entry is the
                            // same f32 product `luma_f32` forms); only the two
                            // sums, in the same order, are done per pixel.
                            let (fr, fg, fb) = luma_tables_f32();
                            for (t, p) in self.tin.iter_mut().zip(px.chunks_exact(3)) {
                                t[l] = (fr[p[0] as usize] + fg[p[1] as usize]) + fb[p[2] as usize];
                            }
                        }
                    }
                } else {
                    for t in self.tin.iter_mut() {
                        t[l] = 0.0;
                    }
                }
            }
            box_lanes(&self.tin, &mut self.tout, win_rows, |_| true);
            for l in 0..n {
                let dst = &mut self.full[(r0 + l) * w..][..w];
                for (d, t) in dst.iter_mut().zip(self.tout.iter()) {
                    *d = t[l];
                }
            }
            r0 += LANES;
        }

        // Pass 2: box along columns, all columns at once.
        box_cols(&self.full, &mut self.full2, w, h, win_cols, &mut self.sums);

        // Pass 3: box along rows again; keep only the 64 sampled columns.
        self.wanted.clear();
        self.wanted.resize(w, false);
        for &j in cols_idx.iter() {
            self.wanted[j] = true;
        }
        let wanted = &self.wanted;
        let mut r0 = 0;
        while r0 < h {
            let n = LANES.min(h - r0);
            for l in 0..LANES {
                if l < n {
                    let src = &self.full2[(r0 + l) * w..][..w];
                    for (t, s) in self.tin.iter_mut().zip(src.iter()) {
                        t[l] = *s;
                    }
                } else {
                    for t in self.tin.iter_mut() {
                        t[l] = 0.0;
                    }
                }
            }
            box_lanes(&self.tin, &mut self.tout, win_rows, |j| wanted[j]);
            for l in 0..n {
                let dst = &mut self.narrow[(r0 + l) * 64..][..64];
                for (d, &j) in dst.iter_mut().zip(cols_idx.iter()) {
                    *d = self.tout[j][l];
                }
            }
            r0 += LANES;
        }

        // Pass 4: box along columns, only for the sampled columns.
        box_cols(
            &self.narrow,
            &mut self.narrow2,
            64,
            h,
            win_cols,
            &mut self.sums,
        );

        for (o, &i) in out.iter_mut().zip(rows_idx.iter()) {
            o.copy_from_slice(&self.narrow2[i * 64..][..64]);
        }
    }
}

/// Hashes packed 8-bit RGB pixels (`width * height * 3` bytes, row-major).
///
/// Bit-identical to PyPI `pdqhash.compute_dihedral` (the reference C++ core).
pub fn hash_rgb(rgb: &[u8], width: usize, height: usize) -> Result<PdqResult, MediaError> {
    PdqHasher::new().hash_rgb(rgb, width, height)
}

/// Decodes an image file in-process with the pure-Rust `image` crate,
/// converts it to RGB as Pillow's `convert("RGB")` does, and hashes it.
pub fn hash_image_file(path: impl AsRef<Path>) -> Result<PdqResult, MediaError> {
    let path = path.as_ref();
    let img = crate::image_rgb::load_rgb(path)?;
    hash_rgb(&img.pixels, img.width, img.height)
}

// ---------------------------------------------------------------------------
// Reference pieces.

fn luma_tables() -> &'static ([f64; 256], [f64; 256], [f64; 256]) {
    static T: OnceLock<([f64; 256], [f64; 256], [f64; 256])> = OnceLock::new();
    T.get_or_init(|| {
        (
            std::array::from_fn(|v| v as f64 * 0.299),
            std::array::from_fn(|v| v as f64 * 0.587),
            std::array::from_fn(|v| v as f64 * 0.114),
        )
    })
}

/// `luma_f32`'s three products for every 8-bit value.
fn luma_tables_f32() -> &'static ([f32; 256], [f32; 256], [f32; 256]) {
    static T: OnceLock<([f32; 256], [f32; 256], [f32; 256])> = OnceLock::new();
    T.get_or_init(|| {
        (
            std::array::from_fn(|v| 0.299f32 * v as f32),
            std::array::from_fn(|v| 0.587f32 * v as f32),
            std::array::from_fn(|v| 0.114f32 * v as f32),
        )
    })
}

#[inline]
fn luma_f32(r: u8, g: u8, b: u8) -> f32 {
    0.299f32 * r as f32 + 0.587f32 * g as f32 + 0.114f32 * b as f32
}

#[inline]
fn luma(mode: LumaMode, r: u8, g: u8, b: u8) -> f32 {
    match mode {
        LumaMode::Double => ((r as f64 * 0.299 + g as f64 * 0.587) + b as f64 * 0.114) as f32,
        LumaMode::Float => luma_f32(r, g, b),
    }
}

/// `computeJaroszFilterWindowSize`.
fn jarosz_window(old: usize, new: usize) -> usize {
    // (old + 2*new - 1) / (2*new) in the reference.
    old.div_ceil(2 * new)
}

/// `decimateFloat`'s sample position for output index `out` of 64.
fn decimate_index(out: usize, in_len: usize) -> usize {
    let i = (((out as f64 + 0.5) * in_len as f64) / 64.0) as usize;
    i.min(in_len.saturating_sub(1))
}

/// Phase lengths of `box1DFloat`.
struct Phases {
    p1: usize,
    p2: usize,
    p3: usize,
    p4: usize,
}

fn phases(len: usize, win: usize) -> Phases {
    let win = win.clamp(1, len.max(1));
    let half = (win + 2) / 2;
    Phases {
        p1: half - 1,
        p2: win - half + 1,
        p3: len - win,
        p4: half - 1,
    }
}

/// `box1DFloat` run on LANES independent vectors at once (one per lane).
/// Outputs are computed only where `want(index)`; the running sums, and so
/// every computed output, are exactly the reference's.
fn box_lanes(
    input: &[[f32; LANES]],
    output: &mut [[f32; LANES]],
    win: usize,
    want: impl Fn(usize) -> bool,
) {
    let len = input.len().min(output.len());
    if len == 0 {
        return;
    }
    let ph = phases(len, win);
    let mut sum = [0f32; LANES];
    let mut cws = 0usize;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..ph.p1 {
        let x = &input[ri];
        for k in 0..LANES {
            sum[k] += x[k];
        }
        cws += 1;
        ri += 1;
    }
    for _ in 0..ph.p2 {
        let x = &input[ri];
        cws += 1;
        let c = cws as f32;
        for k in 0..LANES {
            sum[k] += x[k];
        }
        if want(oi) {
            let o = &mut output[oi];
            for k in 0..LANES {
                o[k] = sum[k] / c;
            }
        }
        ri += 1;
        oi += 1;
    }
    let c = cws as f32;
    for _ in 0..ph.p3 {
        let x = &input[ri];
        let y = &input[li];
        for k in 0..LANES {
            sum[k] += x[k];
            sum[k] -= y[k];
        }
        if want(oi) {
            let o = &mut output[oi];
            for k in 0..LANES {
                o[k] = sum[k] / c;
            }
        }
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.p4 {
        let y = &input[li];
        cws -= 1;
        let c = cws as f32;
        for k in 0..LANES {
            sum[k] -= y[k];
        }
        if want(oi) {
            let o = &mut output[oi];
            for k in 0..LANES {
                o[k] = sum[k] / c;
            }
        }
        li += 1;
        oi += 1;
    }
}

/// `boxAlongColsFloat` on a `h × w` row-major matrix, all columns at once.
fn box_cols(input: &[f32], output: &mut [f32], w: usize, h: usize, win: usize, sum: &mut Vec<f32>) {
    if w == 0 || h == 0 {
        return;
    }
    let ph = phases(h, win);
    sum.clear();
    sum.resize(w, 0.0);
    let row = |i: usize| &input[i * w..][..w];
    let mut cws = 0usize;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..ph.p1 {
        for (s, x) in sum.iter_mut().zip(row(ri)) {
            *s += *x;
        }
        cws += 1;
        ri += 1;
    }
    for _ in 0..ph.p2 {
        cws += 1;
        let c = cws as f32;
        let o = &mut output[oi * w..][..w];
        for ((s, x), o) in sum.iter_mut().zip(row(ri)).zip(o.iter_mut()) {
            *s += *x;
            *o = *s / c;
        }
        ri += 1;
        oi += 1;
    }
    let c = cws as f32;
    for _ in 0..ph.p3 {
        let o = &mut output[oi * w..][..w];
        for (((s, x), y), o) in sum.iter_mut().zip(row(ri)).zip(row(li)).zip(o.iter_mut()) {
            *s += *x;
            *s -= *y;
            *o = *s / c;
        }
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.p4 {
        cws -= 1;
        let c = cws as f32;
        let o = &mut output[oi * w..][..w];
        for ((s, y), o) in sum.iter_mut().zip(row(li)).zip(o.iter_mut()) {
            *s -= *y;
            *o = *s / c;
        }
        li += 1;
        oi += 1;
    }
}

/// `pdqImageDomainQualityMetric`.
fn quality_metric(a: &[[f32; 64]; 64]) -> u8 {
    let mut gradient_sum: i32 = 0;
    for (upper, lower) in a.iter().zip(a.iter().skip(1)) {
        for (u, v) in upper.iter().zip(lower.iter()) {
            let d = (((u - v) * 100.0) / 255.0) as i32;
            gradient_sum += d.abs();
        }
    }
    for row in a.iter() {
        for j in 0..63 {
            let d = (((row[j] - row[j + 1]) * 100.0) / 255.0) as i32;
            gradient_sum += d.abs();
        }
    }
    (gradient_sum / 90).clamp(0, 100) as u8
}

/// The reference's 16×64 DCT matrix and its transpose.
struct DctMatrix {
    d: [[f32; 64]; 16],
    dt: [[f32; 16]; 64],
}

fn dct_matrix() -> &'static DctMatrix {
    static M: OnceLock<DctMatrix> = OnceLock::new();
    M.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut d = [[0f32; 64]; 16];
        for (i, row) in d.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let arg = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = (scale as f64 * arg.cos()) as f32;
            }
        }
        let mut dt = [[0f32; 16]; 64];
        for (i, row) in d.iter().enumerate() {
            for (k, v) in row.iter().enumerate() {
                dt[k][i] = *v;
            }
        }
        DctMatrix { d, dt }
    })
}

/// `dct64To16`: B = D A Dᵀ, sums accumulated in the reference's k order.
fn dct64_to_16(a: &[[f32; 64]; 64]) -> [[f32; 16]; 16] {
    let m = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for (trow, drow) in t.iter_mut().zip(m.d.iter()) {
        for (dk, arow) in drow.iter().zip(a.iter()) {
            for (tv, av) in trow.iter_mut().zip(arow.iter()) {
                *tv += *dk * *av;
            }
        }
    }
    let mut b = [[0f32; 16]; 16];
    for (brow, trow) in b.iter_mut().zip(t.iter()) {
        for (tk, dtrow) in trow.iter().zip(m.dt.iter()) {
            for (bv, dv) in brow.iter_mut().zip(dtrow.iter()) {
                *bv += *tk * *dv;
            }
        }
    }
    b
}

/// Torben Mogensen's median, as in the reference (`torben.cpp`).
fn torben(m: &[f32]) -> f32 {
    let n = m.len();
    if n == 0 {
        return 0.0;
    }
    let mut min = m[0];
    let mut max = m[0];
    for &v in &m[1..] {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let half = n.div_ceil(2);
    let (mut less, mut greater, mut equal);
    let (mut guess, mut maxltguess, mut mingtguess);
    loop {
        guess = (min + max) / 2.0;
        less = 0;
        greater = 0;
        equal = 0;
        maxltguess = min;
        mingtguess = max;
        for &v in m {
            if v < guess {
                less += 1;
                if v > maxltguess {
                    maxltguess = v;
                }
            } else if v > guess {
                greater += 1;
                if v < mingtguess {
                    mingtguess = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            break;
        } else if less > greater {
            max = maxltguess;
        } else {
            min = mingtguess;
        }
        // NaN input cannot occur from finite pixels, but never spin forever.
        if min.is_nan() || max.is_nan() || min > max {
            break;
        }
    }
    if less >= half {
        maxltguess
    } else if less + equal >= half {
        guess
    } else {
        mingtguess
    }
}

/// `pdqBuffer16x16ToBits`.
fn to_bits(b: &[[f32; 16]; 16]) -> PdqHash {
    let flat: Vec<f32> = b.iter().flatten().copied().collect();
    let median = torben(&flat);
    let mut h = PdqHash::ZERO;
    for (k, &v) in flat.iter().enumerate() {
        if v > median {
            h.set_bit(k);
        }
    }
    h
}

/// The reference's `dct16OriginalTo*` transforms.
fn transform(
    a: &[[f32; 16]; 16],
    transpose: bool,
    negate: impl Fn(usize, usize) -> bool,
) -> [[f32; 16]; 16] {
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let v = if negate(i, j) { -a[i][j] } else { a[i][j] };
            if transpose {
                b[j][i] = v;
            } else {
                b[i][j] = v;
            }
        }
    }
    b
}

/// The hash and quality of a 64×64 luma image given directly (no filtering, no
/// decimation: the caller has already averaged the picture onto PDQ's grid).
pub(crate) fn hash_luma64(a64: &[[f32; 64]; 64]) -> (PdqHash, u8) {
    (to_bits(&dct64_to_16(a64)), quality_metric(a64))
}

/// The luma PDQ computes for video frames (`LumaMode::Float`).
pub(crate) fn frame_luma(r: u8, g: u8, b: u8) -> f32 {
    luma(LumaMode::Float, r, g, b)
}

fn finish(a64: &[[f32; 64]; 64]) -> PdqResult {
    let quality = quality_metric(a64);
    let b = dct64_to_16(a64);
    let original = to_bits(&b);
    let dihedral = Dihedral {
        original,
        rotate90: to_bits(&transform(&b, true, |_, j| j & 1 == 0)),
        rotate180: to_bits(&transform(&b, false, |i, j| (i + j) & 1 == 1)),
        rotate270: to_bits(&transform(&b, true, |i, _| i & 1 == 0)),
        flip_x: to_bits(&transform(&b, false, |i, _| i & 1 == 0)),
        flip_y: to_bits(&transform(&b, false, |_, j| j & 1 == 0)),
        flip_plus1: to_bits(&transform(&b, true, |_, _| false)),
        flip_minus1: to_bits(&transform(&b, true, |i, j| (i + j) & 1 == 1)),
    };
    PdqResult {
        hash: original,
        quality,
        dihedral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_word_order() {
        let mut h = PdqHash::ZERO;
        h.set_bit(0);
        h.set_bit(255);
        let s = h.to_hex();
        assert_eq!(s, format!("8000{}0001", "0".repeat(56)));
        assert_eq!(PdqHash::from_hex(&s).unwrap(), h);
        assert_eq!(PdqHash::from_hex(&s.to_uppercase()).unwrap(), h);
        assert!(PdqHash::from_hex("xyz").is_err());
        assert!(PdqHash::from_hex(&"g".repeat(64)).is_err());
        assert!(PdqHash::from_hex(&"é".repeat(32)).is_err());
    }

    #[test]
    fn distance_counts_bits() {
        let a = PdqHash::from_words([0xffff; 16]);
        assert_eq!(hamming_distance(&a, &PdqHash::ZERO), 256);
        assert_eq!(a.distance(&a), 0);
    }

    #[test]
    fn luma_tables_equal_the_float_formula() {
        // Every 8-bit colour: the table sums are bit for bit `luma_f32`.
        let (fr, fg, fb) = luma_tables_f32();
        for r in 0..=255u8 {
            for g in 0..=255u8 {
                for b in 0..=255u8 {
                    let t = (fr[r as usize] + fg[g as usize]) + fb[b as usize];
                    assert_eq!(t.to_bits(), luma_f32(r, g, b).to_bits(), "{r} {g} {b}");
                }
            }
        }
    }

    #[test]
    fn plain_hash_is_the_full_hash() {
        let (w, h) = (83usize, 61usize);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 31) % 251) as u8).collect();
        let mut hasher = PdqHasher::new();
        let full = hasher
            .hash_rgb_mode(&rgb, w, h, w * 3, LumaMode::Float, true)
            .unwrap();
        let plain = hasher
            .hash_rgb_plain(&rgb, w, h, w * 3, LumaMode::Float, true)
            .unwrap();
        assert_eq!(plain, (full.hash, full.quality));
        assert_eq!(
            hasher
                .hash_rgb_plain(&rgb[..12], 2, 2, 6, LumaMode::Float, true)
                .unwrap(),
            (PdqHash::ZERO, 0)
        );
        assert!(hasher
            .hash_rgb_plain(&rgb[..10], 20, 20, 60, LumaMode::Float, true)
            .is_err());
    }

    #[test]
    fn torben_is_a_median() {
        assert_eq!(torben(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(torben(&[4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(torben(&[5.0; 7]), 5.0);
    }

    #[test]
    fn bad_buffers_are_errors_not_panics() {
        assert!(hash_rgb(&[0; 10], 100, 100).is_err());
        assert!(hash_rgb(&[], 0, 0).is_ok());
        let r = hash_rgb(&[7; 4 * 4 * 3], 4, 4).unwrap();
        assert_eq!((r.hash, r.quality), (PdqHash::ZERO, 0));
    }

    #[test]
    fn dihedral_of_transformed_image_matches() {
        // Synthetic gradient pattern; rotating the pixels by 180° must give
        // (up to float noise) the rotate180 hash of the original.
        let (w, h) = (97usize, 71usize);
        let px = |x: usize, y: usize| -> [u8; 3] {
            let v = ((x * 7 + y * 3) % 251) as u8 ^ (((x * y) % 13) as u8 * 9);
            [v, v.wrapping_mul(3), 255 - v]
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        for y in 0..h {
            for x in 0..w {
                a.extend_from_slice(&px(x, y));
                b.extend_from_slice(&px(w - 1 - x, h - 1 - y));
            }
        }
        let ra = hash_rgb(&a, w, h).unwrap();
        let rb = hash_rgb(&b, w, h).unwrap();
        assert!(ra.dihedral.rotate180.distance(&rb.hash) <= 16);
    }
}
