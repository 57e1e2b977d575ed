//! Exact Hamming radius search over 256-bit hashes (PDQ frame and image hashes).
//!
//! [`HammingIndex`] comes in two kinds ([`IndexKind`]), both exact; a hash's id is its
//! position, in order of addition.
//!
//! **Compact** ([`IndexKind::Compact`]): the hashes alone, 32 bytes each, stored by column —
//! every hash's word 0 in one array, the low half of every word 1 in another, the other 160
//! bits in a third — and scanned with an early exit. The distance over the first 96 bits is a
//! lower bound of the full distance, so a hash whose first 96 bits are already more than the
//! radius away is rejected after reading 12 of its 32 bytes; for a random hash and radius 31
//! that is all but about 3 in 10,000. The scan runs 64 hashes at a time without branches (two
//! population counts each, the smallest of the 64 bounds compared once); only a block with a
//! survivor looks at it again and reads its other 160 bits. Memory is the raw hashes, nothing
//! more; time is linear in the collection, and at 10 million hashes bound by memory
//! bandwidth, with 12 bytes read per hash (a FAISS flat scan reads 32).
//!
//! **Multi-index** ([`IndexKind::Mih`], the default): the hashes packed row by row (four
//! `u64` words a hash) in *segments*, each covering a contiguous run of ids:
//!
//! - a small segment (under [`LINEAR_MAX`] hashes) is scanned linearly: XOR and portable
//!   `count_ones`, eight hashes at a time so the compiler can vectorise;
//! - a larger one carries multi-index hashing tables (Norouzi, Punjani & Fleet, *Fast Exact
//!   Search in Hamming Space with Multi-Index Hashing*, 2014): the 256 bits are cut into `m`
//!   substrings and each gets a table from substring value to ids. If `d(q, h) ≤ r`, write
//!   `r = m·r' + a` (`a < m`); then at least one of substrings `0..=a` is within `r'` of the
//!   query's, or one of the others is within `r' − 1` (otherwise the distance would be at
//!   least `(a+1)(r'+1) + (m−a−1)r' = r + 1`). So probing every key within that radius of
//!   the query's substring, in each table, finds every hash within `r`: the search is exact.
//!   A hash found through table `k` is reported only if no earlier table would have found
//!   it, so each is reported once without a set of seen ids.
//!
//! Appending goes to the last segment; a linear segment that reaches [`LINEAR_MAX`] gets
//! tables, and a segment at least half the size of the one before it is merged into it (the
//! logarithmic method): any prefix of additions costs `O(log n)` rebuilds per hash, and a
//! query visits `O(log n)` segments.
//!
//! Tables are bucket offsets (`2^b + 1` per table, `b` the substring's width) and ids
//! (`u32`, one per hash per table), in the order of the buckets. [`HammingIndex::write_to`]
//! and [`HammingIndex::read_from`] persist everything (little-endian, with a checksum);
//! reading checks every offset and id, so a damaged file is an error, never a panic or a
//! wrong answer from a sound-looking index.

use std::io::{self, Read, Write};

/// A packed 256-bit hash.
pub type Hash256 = [u64; 4];

/// How a [`HammingIndex`] answers: both kinds are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IndexKind {
    /// Multi-index hashing tables for large segments (fast; about 3× the hashes' memory),
    /// a scan for small ones.
    #[default]
    Mih,
    /// A column-wise scan with an early exit and no tables: memory is the hashes alone.
    Compact,
}

impl IndexKind {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Mih => "mih",
            IndexKind::Compact => "compact",
        }
    }

    fn code(self) -> u32 {
        match self {
            IndexKind::Mih => 0,
            IndexKind::Compact => 1,
        }
    }
}

impl std::str::FromStr for IndexKind {
    type Err = String;
    fn from_str(s: &str) -> Result<IndexKind, String> {
        match s {
            "mih" => Ok(IndexKind::Mih),
            "compact" => Ok(IndexKind::Compact),
            _ => Err(format!(
                "unknown similarity index kind {s:?} (expected \"mih\" or \"compact\")"
            )),
        }
    }
}

/// Hashes stored by column for the compact scan: word 0 of every hash, the low half of word 1
/// of every hash, then the other 160 bits together (read only for hashes that pass the first
/// 96 bits). The scan reads 12 bytes per hash: at 10 million hashes it is bound by memory
/// bandwidth, and 96 bits are enough to reject a random hash at radius 31 (it passes with
/// probability about 3 in 10,000).
#[derive(Debug, Clone, Default, PartialEq)]
struct Columns {
    w0: Vec<u64>,
    w1: Vec<u32>,
    rest: Vec<[u32; 5]>,
}

/// Hashes scanned together by the compact scan.
const BLOCK: usize = 64;
/// Queries the compact scan answers together ([`HammingIndex::radius_many`]): a block of
/// hashes (768 bytes) stays in the first-level cache while each of them is compared.
const GROUP: usize = 8;

/// The low and high halves of a word.
fn halves(x: u64) -> (u32, u32) {
    (x as u32, (x >> 32) as u32)
}

impl Columns {
    fn len(&self) -> usize {
        self.w0.len()
    }

    fn reserve(&mut self, n: usize) {
        self.w0.reserve(n);
        self.w1.reserve(n);
        self.rest.reserve(n);
    }

    fn try_reserve_exact(&mut self, n: usize) -> Result<(), std::collections::TryReserveError> {
        self.w0.try_reserve_exact(n)?;
        self.w1.try_reserve_exact(n)?;
        self.rest.try_reserve_exact(n)
    }

    fn push(&mut self, h: &Hash256) {
        let (lo, hi) = halves(h[1]);
        let (c0, c1) = halves(h[2]);
        let (d0, d1) = halves(h[3]);
        self.w0.push(h[0]);
        self.w1.push(lo);
        self.rest.push([hi, c0, c1, d0, d1]);
    }

    fn join(w0: u64, w1: u32, rest: &[u32; 5]) -> Hash256 {
        let word = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
        let [hi, c0, c1, d0, d1] = *rest;
        [w0, word(w1, hi), word(c0, c1), word(d0, d1)]
    }

    fn get(&self, id: usize) -> Option<Hash256> {
        Some(Columns::join(
            *self.w0.get(id)?,
            *self.w1.get(id)?,
            self.rest.get(id)?,
        ))
    }

    fn iter(&self) -> impl Iterator<Item = Hash256> + '_ {
        self.w0
            .iter()
            .zip(&self.w1)
            .zip(&self.rest)
            .map(|((&a, &b), r)| Columns::join(a, b, r))
    }

    /// Every hash within `radius` of `q`, appended to `out` as (id, distance).
    fn scan(&self, q: &Hash256, radius: u32, out: &mut Vec<(u32, u32)>) {
        self.scan_many(std::slice::from_ref(q), radius, std::slice::from_mut(out));
    }

    /// [`scan`](Self::scan) for each of `qs`, appending to the matching `outs`. Queries are
    /// taken [`GROUP`] at a time over each block, so the hashes are read from memory once
    /// for the group, not once per query.
    fn scan_many(&self, qs: &[Hash256], radius: u32, outs: &mut [Vec<(u32, u32)>]) {
        let full = self.len() / BLOCK * BLOCK;
        for (qs, outs) in qs.chunks(GROUP).zip(outs.chunks_mut(GROUP)) {
            let blocks = self.w0[..full]
                .chunks_exact(BLOCK)
                .zip(self.w1[..full].chunks_exact(BLOCK));
            for (b, (w0, w1)) in blocks.enumerate() {
                for (q, out) in qs.iter().zip(outs.iter_mut()) {
                    let q1 = halves(q[1]).0;
                    // Distances over the first 96 bits (they fit a byte), branch-free.
                    let mut low = [0u8; BLOCK];
                    for ((d, &a), &c) in low.iter_mut().zip(w0).zip(w1) {
                        *d = ((a ^ q[0]).count_ones() + (c ^ q1).count_ones()) as u8;
                    }
                    let least = low.iter().fold(u8::MAX, |m, &d| m.min(d));
                    if u32::from(least) > radius {
                        continue;
                    }
                    let first = b * BLOCK;
                    for (i, &d) in low.iter().enumerate() {
                        if u32::from(d) <= radius {
                            self.finish(first + i, u32::from(d), q, radius, out);
                        }
                    }
                }
            }
            for (q, out) in qs.iter().zip(outs.iter_mut()) {
                let q1 = halves(q[1]).0;
                for id in full..self.len() {
                    let d = (self.w0[id] ^ q[0]).count_ones() + (self.w1[id] ^ q1).count_ones();
                    if d <= radius {
                        self.finish(id, d, q, radius, out);
                    }
                }
            }
        }
    }

    /// Adds the last 160 bits' distance to a hash that passed the first 96.
    #[inline]
    fn finish(&self, id: usize, low: u32, q: &Hash256, radius: u32, out: &mut Vec<(u32, u32)>) {
        let r = &self.rest[id];
        let (_, q1) = halves(q[1]);
        let (c0, c1) = halves(q[2]);
        let (d0, d1) = halves(q[3]);
        let total = low
            + [q1, c0, c1, d0, d1]
                .iter()
                .zip(r)
                .map(|(a, b)| (a ^ b).count_ones())
                .sum::<u32>();
        if total <= radius {
            out.push((id as u32, total));
        }
    }
}

/// Where a [`HammingIndex`] keeps its hashes: rows for the multi-index kind (a candidate
/// found through a table is one 32-byte read), columns for the compact kind.
#[derive(Debug, Clone, PartialEq)]
enum Store {
    Rows(Vec<Hash256>),
    Columns(Columns),
}

impl Default for Store {
    fn default() -> Store {
        Store::Rows(Vec::new())
    }
}

impl Store {
    fn empty(kind: IndexKind) -> Store {
        match kind {
            IndexKind::Mih => Store::Rows(Vec::new()),
            IndexKind::Compact => Store::Columns(Columns::default()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Store::Rows(h) => h.len(),
            Store::Columns(c) => c.len(),
        }
    }

    fn get(&self, id: u32) -> Option<Hash256> {
        match self {
            Store::Rows(h) => h.get(id as usize).copied(),
            Store::Columns(c) => c.get(id as usize),
        }
    }

    /// Room for `n` more (amortised: repeated small additions stay linear).
    fn reserve(&mut self, n: usize) {
        match self {
            Store::Rows(h) => h.reserve(n),
            Store::Columns(c) => c.reserve(n),
        }
    }

    /// Room for exactly `n` more, or an error when that much memory is not to be had.
    fn try_reserve_exact(&mut self, n: usize) -> Result<(), std::collections::TryReserveError> {
        match self {
            Store::Rows(h) => h.try_reserve_exact(n),
            Store::Columns(c) => c.try_reserve_exact(n),
        }
    }

    /// Every hash, in id order.
    fn iter(&self) -> Box<dyn Iterator<Item = Hash256> + '_> {
        match self {
            Store::Rows(h) => Box::new(h.iter().copied()),
            Store::Columns(c) => Box::new(c.iter()),
        }
    }

    fn push(&mut self, h: &Hash256) {
        match self {
            Store::Rows(rows) => rows.push(*h),
            Store::Columns(c) => c.push(h),
        }
    }

    fn into_rows(self) -> Vec<Hash256> {
        match self {
            Store::Rows(h) => h,
            Store::Columns(c) => c.iter().collect(),
        }
    }
}

/// Segments smaller than this are scanned linearly (measured: below about this size a scan
/// is as fast as probing the tables).
pub const LINEAR_MAX: usize = 16_384;

/// Fewest substrings a table may have: 11 keeps every substring within 24 bits.
pub const MIN_SUBSTRINGS: u32 = 11;

/// Hamming distance between two packed hashes.
#[inline]
pub fn distance(a: &Hash256, b: &Hash256) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// Bits `start..start + width` of `h` (`width` ≤ 32).
#[inline]
fn substring(h: &Hash256, start: u32, width: u32) -> u32 {
    let w = (start / 64) as usize;
    let s = start % 64;
    let mut v = h[w] >> s;
    if s + width > 64 {
        v |= h[w + 1] << (64 - s);
    }
    (v & ((1u64 << width) - 1)) as u32
}

/// Every hash within `radius` of `q` among `hashes` (ids from `first`), appended to `out` as
/// (id, distance).
fn scan(hashes: &[Hash256], first: u32, q: &Hash256, radius: u32, out: &mut Vec<(u32, u32)>) {
    const LANES: usize = 8;
    let mut chunks = hashes.chunks_exact(LANES);
    let mut id = first;
    for chunk in &mut chunks {
        let mut d = [0u32; LANES];
        for (d, h) in d.iter_mut().zip(chunk) {
            *d = distance(h, q);
        }
        if d.iter().any(|&d| d <= radius) {
            for (i, &d) in d.iter().enumerate() {
                if d <= radius {
                    out.push((id + i as u32, d));
                }
            }
        }
        id += LANES as u32;
    }
    for h in chunks.remainder() {
        let d = distance(h, q);
        if d <= radius {
            out.push((id, d));
        }
        id += 1;
    }
}

/// The substring count for a segment of `len` hashes: substrings about `log2(len)` bits wide
/// (then a bucket holds about one hash), but never wider than 24 bits (the offsets table of a
/// 24-bit substring is 64 MiB) nor narrower than 8.
pub fn substrings_for(len: usize) -> u32 {
    let bits = usize::BITS - len.max(1).leading_zeros(); // ⌈log2⌉, roughly
    let width = bits.saturating_sub(2).clamp(12, 22);
    256_u32.div_ceil(width).clamp(12, 32)
}

/// Multi-index tables over one segment.
#[derive(Debug, Clone, PartialEq)]
struct Tables {
    /// Substring widths (bits), summing to 256.
    widths: Vec<u32>,
    /// Per table, `2^width + 1` offsets into its ids.
    offsets: Vec<Vec<u32>>,
    /// Per table, the segment's ids grouped by substring value.
    ids: Vec<Vec<u32>>,
}

fn widths_for(m: u32) -> Vec<u32> {
    let base = 256 / m;
    let extra = 256 % m;
    (0..m).map(|k| base + u32::from(k < extra)).collect()
}

fn starts(widths: &[u32]) -> impl Iterator<Item = (u32, u32)> + '_ {
    widths.iter().scan(0u32, |s, &w| {
        let start = *s;
        *s += w;
        Some((start, w))
    })
}

impl Tables {
    fn build(hashes: &[Hash256], first: u32, m: u32) -> Tables {
        let widths = widths_for(m);
        let mut offsets = Vec::with_capacity(widths.len());
        let mut ids = Vec::with_capacity(widths.len());
        for (start, width) in starts(&widths) {
            // Counting sort of the ids by substring value.
            let mut off = vec![0u32; (1usize << width) + 1];
            for h in hashes {
                off[substring(h, start, width) as usize + 1] += 1;
            }
            for i in 1..off.len() {
                off[i] += off[i - 1];
            }
            let mut next = off.clone();
            let mut table = vec![0u32; hashes.len()];
            for (i, h) in hashes.iter().enumerate() {
                let slot = &mut next[substring(h, start, width) as usize];
                table[*slot as usize] = first + i as u32;
                *slot += 1;
            }
            offsets.push(off);
            ids.push(table);
        }
        Tables {
            widths,
            offsets,
            ids,
        }
    }

    /// Whether these tables, read from a file, are the ones [`Tables::build`] makes from
    /// `hashes` for ids `first..first + len`: every id sits in the bucket of its own
    /// substring, in increasing order, so each table holds each id exactly once. A forged
    /// table (an id in another bucket, or twice) would make searches miss hashes.
    fn agree_with(&self, hashes: &Store, first: u32) -> bool {
        for ((start, width), (off, ids)) in
            starts(&self.widths).zip(self.offsets.iter().zip(&self.ids))
        {
            for (bucket, pair) in off.windows(2).enumerate() {
                let (a, b) = (pair[0] as usize, pair[1] as usize);
                let Some(slice) = ids.get(a..b) else {
                    return false;
                };
                let mut last: Option<u32> = None;
                for &id in slice {
                    if last.is_some_and(|l| l >= id) || id < first {
                        return false;
                    }
                    last = Some(id);
                    match hashes.get(id) {
                        Some(h) if substring(&h, start, width) as usize == bucket => {}
                        _ => return false,
                    }
                }
            }
        }
        true
    }

    /// The probe radius of each table for a search radius `r` (`None`: not probed).
    fn radii(&self, r: u32) -> impl Iterator<Item = Option<u32>> + '_ {
        let m = self.widths.len() as u32;
        let (rp, a) = (r / m, r % m);
        (0..m).map(move |k| if k <= a { Some(rp) } else { rp.checked_sub(1) })
    }

    /// Probes and expected candidates of a search with radius `r` over `len` hashes.
    fn cost(&self, r: u32, len: usize) -> f64 {
        let mut total = 0.0;
        for (&w, rk) in self.widths.iter().zip(self.radii(r)) {
            let Some(rk) = rk else { continue };
            let probes: f64 = (0..=rk.min(w)).map(|t| binomial(w, t)).sum();
            total += probes * (1.0 + len as f64 / (1u64 << w) as f64);
        }
        total
    }

    fn search(&self, hashes: &[Hash256], q: &Hash256, radius: u32, out: &mut Vec<(u32, u32)>) {
        let radii: Vec<Option<u32>> = self.radii(radius).collect();
        let bounds: Vec<(u32, u32)> = starts(&self.widths).collect();
        for (k, &(start, width)) in bounds.iter().enumerate() {
            let Some(rk) = radii[k] else { continue };
            let key = substring(q, start, width);
            let (offsets, ids) = (&self.offsets[k], &self.ids[k]);
            flips(key, width, 0, rk, &mut |probe| {
                let (lo, hi) = (offsets[probe as usize], offsets[probe as usize + 1]);
                for &id in &ids[lo as usize..hi as usize] {
                    let h = &hashes[id as usize];
                    let d = distance(h, q);
                    if d > radius {
                        continue;
                    }
                    // Reported through the first table that finds it.
                    let earlier = bounds[..k].iter().zip(&radii).any(|(&(s, w), rj)| {
                        rj.is_some_and(|rj| {
                            (substring(h, s, w) ^ substring(q, s, w)).count_ones() <= rj
                        })
                    });
                    if !earlier {
                        out.push((id, d));
                    }
                }
            });
        }
    }

    fn bytes(&self) -> usize {
        self.offsets.iter().map(|o| o.len() * 4).sum::<usize>()
            + self.ids.iter().map(|i| i.len() * 4).sum::<usize>()
    }
}

/// Calls `f` with every key within `left` bit flips of `key`, flipping only bits from `from`
/// up (each key once).
fn flips(key: u32, width: u32, from: u32, left: u32, f: &mut impl FnMut(u32)) {
    f(key);
    if left == 0 {
        return;
    }
    for bit in from..width {
        flips(key ^ (1 << bit), width, bit + 1, left - 1, f);
    }
}

fn binomial(n: u32, k: u32) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
}

/// A run of ids, with tables when it is large.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    start: u32,
    end: u32,
    tables: Option<Tables>,
}

/// Packed 256-bit hashes with exact radius search; ids are positions, in order of addition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HammingIndex {
    hashes: Store,
    /// Multi-index kind only (the compact kind is one scan over every hash).
    segments: Vec<Segment>,
    /// Substring count for every table built (0: chosen by size, see [`substrings_for`]).
    substrings: u32,
}

/// What a [`HammingIndex`] holds, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of hashes and tables.
    pub bytes: usize,
    /// Segments as (hashes, substrings; 0 for a linear segment).
    pub segments: Vec<(usize, u32)>,
}

impl HammingIndex {
    pub fn new() -> HammingIndex {
        HammingIndex::default()
    }

    /// An empty index of this kind.
    pub fn with_kind(kind: IndexKind) -> HammingIndex {
        HammingIndex {
            hashes: Store::empty(kind),
            ..HammingIndex::default()
        }
    }

    /// An index of this kind over `hashes` (ids `0..len`); the multi-index kind as
    /// [`build`](Self::build).
    pub fn build_kind(hashes: Vec<Hash256>, kind: IndexKind) -> HammingIndex {
        match kind {
            IndexKind::Mih => HammingIndex::build(hashes),
            IndexKind::Compact => {
                let mut index = HammingIndex::with_kind(kind);
                // Exactly the hashes' size, no slack from growing (if that much cannot be
                // had at once, `extend` grows as usual).
                let _ = index
                    .hashes
                    .try_reserve_exact(hashes.len().min(u32::MAX as usize));
                index.extend(&hashes);
                index
            }
        }
    }

    /// Which kind this index is.
    pub fn kind(&self) -> IndexKind {
        match self.hashes {
            Store::Rows(_) => IndexKind::Mih,
            Store::Columns(_) => IndexKind::Compact,
        }
    }

    /// The same hashes (same ids) in an index of another kind; itself if it is that kind.
    pub fn into_kind(self, kind: IndexKind) -> HammingIndex {
        if self.kind() == kind {
            return self;
        }
        let substrings = self.substrings;
        let rows = self.hashes.into_rows();
        match kind {
            IndexKind::Mih => HammingIndex::build_with(rows, substrings),
            IndexKind::Compact => HammingIndex::build_kind(rows, kind),
        }
    }

    /// An index over `hashes` (ids `0..len`), built at once: one segment, with tables when
    /// there are at least [`LINEAR_MAX`] hashes.
    pub fn build(hashes: Vec<Hash256>) -> HammingIndex {
        HammingIndex::build_with(hashes, 0)
    }

    /// One segment scanned linearly, without tables (until hashes are added): for
    /// comparisons.
    pub fn linear(hashes: Vec<Hash256>) -> HammingIndex {
        let end = u32::try_from(hashes.len()).unwrap_or(u32::MAX);
        let mut hashes = hashes;
        hashes.truncate(end as usize);
        HammingIndex {
            hashes: Store::Rows(hashes),
            segments: if end > 0 {
                vec![Segment {
                    start: 0,
                    end,
                    tables: None,
                }]
            } else {
                Vec::new()
            },
            substrings: 0,
        }
    }

    /// Like [`build`](Self::build), with `m` substrings (11 to 32) for every table (0: by
    /// size).
    pub fn build_with(mut hashes: Vec<Hash256>, m: u32) -> HammingIndex {
        hashes.truncate(u32::MAX as usize);
        let mut index = HammingIndex {
            hashes: Store::Rows(hashes),
            segments: Vec::new(),
            substrings: if m == 0 {
                0
            } else {
                m.clamp(MIN_SUBSTRINGS, 32)
            },
        };
        let end = index.len_u32();
        if end > 0 {
            index.segments.push(Segment {
                start: 0,
                end,
                tables: None,
            });
            index.index_last();
        }
        index
    }

    fn len_u32(&self) -> u32 {
        u32::try_from(self.hashes.len()).unwrap_or(u32::MAX)
    }

    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.len() == 0
    }

    /// The hash with this id.
    pub fn get(&self, id: u32) -> Option<Hash256> {
        self.hashes.get(id)
    }

    /// Adds hashes; returns the id of the first. At most `u32::MAX` hashes are indexed.
    pub fn extend(&mut self, hashes: &[Hash256]) -> u32 {
        let first = self.len_u32();
        let room = (u32::MAX - first) as usize;
        let hashes = &hashes[..hashes.len().min(room)];
        if hashes.is_empty() {
            return first;
        }
        self.hashes.reserve(hashes.len());
        for h in hashes {
            self.hashes.push(h);
        }
        if let Store::Columns(_) = self.hashes {
            return first;
        }
        let end = self.len_u32();
        match self.segments.last_mut() {
            Some(last) if last.tables.is_none() => last.end = end,
            _ => self.segments.push(Segment {
                start: first,
                end,
                tables: None,
            }),
        }
        self.index_last();
        first
    }

    /// Gives the last segment tables once it is large enough, merging it into the one before
    /// while it is at least half that one's size.
    fn index_last(&mut self) {
        loop {
            let Some(last) = self.segments.last() else {
                return;
            };
            let len = (last.end - last.start) as usize;
            if len < LINEAR_MAX {
                return;
            }
            let n = self.segments.len();
            if n >= 2 {
                let prev = &self.segments[n - 2];
                if len * 2 >= (prev.end - prev.start) as usize {
                    let end = last.end;
                    self.segments.pop();
                    if let Some(prev) = self.segments.last_mut() {
                        prev.end = end;
                        prev.tables = None;
                    }
                    continue;
                }
            }
            if last.tables.is_some() {
                return;
            }
            let (start, end) = (last.start, last.end);
            let m = if self.substrings == 0 {
                substrings_for(len)
            } else {
                self.substrings
            };
            let Store::Rows(rows) = &self.hashes else {
                return;
            };
            let tables = Tables::build(&rows[start as usize..end as usize], start, m);
            if let Some(last) = self.segments.last_mut() {
                last.tables = Some(tables);
            }
            return;
        }
    }

    /// For each of `qs`, every hash within `radius` of it, as [`radius_into`] finds them
    /// (ids ascending for the compact kind). The compact kind reads its hashes once for
    /// each group of queries rather than once per query, which is what a video's many
    /// frames need: at 10 million hashes a single query's scan is bound by memory
    /// bandwidth. The multi-index kind answers them one after another.
    ///
    /// [`radius_into`]: Self::radius_into
    pub fn radius_many(&self, qs: &[Hash256], radius: u32) -> Vec<Vec<(u32, u32)>> {
        let mut outs = vec![Vec::new(); qs.len()];
        match &self.hashes {
            Store::Columns(c) => c.scan_many(qs, radius, &mut outs),
            Store::Rows(_) => {
                for (q, out) in qs.iter().zip(outs.iter_mut()) {
                    self.radius_into(q, radius, out);
                }
            }
        }
        outs
    }

    /// Every hash within `radius` of `q`, appended to `out` as (id, distance), in no
    /// particular order, each once.
    pub fn radius_into(&self, q: &Hash256, radius: u32, out: &mut Vec<(u32, u32)>) {
        let rows = match &self.hashes {
            Store::Columns(c) => return c.scan(q, radius, out),
            Store::Rows(rows) => rows,
        };
        for seg in &self.segments {
            let slice = &rows[seg.start as usize..seg.end as usize];
            match &seg.tables {
                Some(t) if t.cost(radius, slice.len()) < slice.len() as f64 => {
                    t.search(rows, q, radius, out)
                }
                _ => scan(slice, seg.start, q, radius, out),
            }
        }
    }

    /// Every hash within `radius` of `q` as (id, distance), by id.
    pub fn radius(&self, q: &Hash256, radius: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        self.radius_into(q, radius, &mut out);
        out.sort_unstable();
        out
    }

    /// The same answer by a plain loop over every hash, one at a time (for checks and
    /// benchmarks).
    pub fn radius_linear(&self, q: &Hash256, radius: u32) -> Vec<(u32, u32)> {
        (0..self.len_u32())
            .filter_map(|id| {
                let d = distance(&self.hashes.get(id)?, q);
                (d <= radius).then_some((id, d))
            })
            .collect()
    }

    /// Memory held and how it is split.
    pub fn layout(&self) -> Layout {
        Layout {
            bytes: self.hashes.len() * 32
                + self
                    .segments
                    .iter()
                    .filter_map(|s| s.tables.as_ref())
                    .map(Tables::bytes)
                    .sum::<usize>(),
            segments: match &self.hashes {
                Store::Columns(c) if c.len() > 0 => vec![(c.len(), 0)],
                Store::Columns(_) => Vec::new(),
                Store::Rows(_) => self
                    .segments
                    .iter()
                    .map(|s| {
                        (
                            (s.end - s.start) as usize,
                            s.tables.as_ref().map_or(0, |t| t.widths.len() as u32),
                        )
                    })
                    .collect(),
            },
        }
    }

    /// Writes the index (hashes, segments and tables) in its own little-endian format, in
    /// many small writes (give it a buffered writer).
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let mut w = Checksummed::new(w);
        w.put(MAGIC)?;
        w.u32(FORMAT)?;
        w.u32(self.kind().code())?;
        w.u32(self.substrings)?;
        w.u64(self.hashes.len() as u64)?;
        for h in self.hashes.iter() {
            for x in h {
                w.u64(x)?;
            }
        }
        w.u32(self.segments.len() as u32)?;
        for s in &self.segments {
            w.u32(s.start)?;
            w.u32(s.end)?;
            match &s.tables {
                None => w.u32(0)?,
                Some(t) => {
                    w.u32(t.widths.len() as u32)?;
                    for (off, ids) in t.offsets.iter().zip(&t.ids) {
                        w.u32s(off)?;
                        w.u32s(ids)?;
                    }
                }
            }
        }
        let sum = w.sum;
        w.u64(sum)
    }

    /// Reads what [`write_to`](Self::write_to) wrote, checking its structure and checksum;
    /// reads no further (give it a buffered reader).
    pub fn read_from(r: &mut impl Read) -> Result<HammingIndex, IndexFileError> {
        let mut r = Checked::new(r);
        let mut magic = [0u8; 8];
        r.take(&mut magic)?;
        if &magic != MAGIC {
            return Err(IndexFileError::Invalid("not an Athar hash index"));
        }
        if r.u32()? != FORMAT {
            return Err(IndexFileError::Invalid("unknown index format version"));
        }
        let kind = match r.u32()? {
            0 => IndexKind::Mih,
            1 => IndexKind::Compact,
            _ => return Err(IndexFileError::Invalid("unknown index kind")),
        };
        let substrings = r.u32()?;
        if substrings != 0 && !(MIN_SUBSTRINGS..=32).contains(&substrings) {
            return Err(IndexFileError::Invalid("substring count"));
        }
        let n = r.u64()?;
        let n = u32::try_from(n).map_err(|_| IndexFileError::Invalid("hash count"))?;
        let mut hashes = Store::empty(kind);
        hashes
            .try_reserve_exact(n as usize)
            .map_err(|_| IndexFileError::Invalid("hash count"))?;
        let mut buf = vec![0u8; 32 * 4096];
        let mut left = n as usize;
        while left > 0 {
            let k = left.min(4096);
            r.take(&mut buf[..k * 32])?;
            for c in buf[..k * 32].chunks_exact(32) {
                let mut h = [0u64; 4];
                for (x, b) in h.iter_mut().zip(c.chunks_exact(8)) {
                    *x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    r.sum = mix(r.sum, *x);
                }
                hashes.push(&h);
            }
            left -= k;
        }
        let count = r.u32()?;
        if kind == IndexKind::Compact && count != 0 {
            return Err(IndexFileError::Invalid("segments in a compact index"));
        }
        let mut segments = Vec::new();
        let mut expect = 0u32;
        for _ in 0..count {
            let (start, end) = (r.u32()?, r.u32()?);
            if start != expect || end <= start || end > n {
                return Err(IndexFileError::Invalid("segment bounds"));
            }
            expect = end;
            let m = r.u32()?;
            let tables = if m == 0 {
                None
            } else {
                if !(MIN_SUBSTRINGS..=32).contains(&m) {
                    return Err(IndexFileError::Invalid("substring count"));
                }
                let widths = widths_for(m);
                let len = (end - start) as usize;
                let mut offsets = Vec::new();
                let mut ids = Vec::new();
                for &width in &widths {
                    let off = r.u32s((1usize << width) + 1)?;
                    let sorted = off.windows(2).all(|p| p[0] <= p[1]);
                    if off[0] != 0 || !sorted || off.last().copied() != Some(len as u32) {
                        return Err(IndexFileError::Invalid("table offsets"));
                    }
                    let table = r.u32s(len)?;
                    if table.iter().any(|&id| id < start || id >= end) {
                        return Err(IndexFileError::Invalid("table ids"));
                    }
                    offsets.push(off);
                    ids.push(table);
                }
                let tables = Tables {
                    widths,
                    offsets,
                    ids,
                };
                if !tables.agree_with(&hashes, start) {
                    return Err(IndexFileError::Invalid("tables do not match the hashes"));
                }
                Some(tables)
            };
            segments.push(Segment { start, end, tables });
        }
        if kind == IndexKind::Mih && expect != n {
            return Err(IndexFileError::Invalid("segments do not cover the hashes"));
        }
        let sum = r.sum;
        if r.u64()? != sum {
            return Err(IndexFileError::Invalid("checksum mismatch"));
        }
        Ok(HammingIndex {
            hashes,
            segments,
            substrings,
        })
    }
}

const MAGIC: &[u8; 8] = b"ATHARHIX";
/// Format 2 added the index kind after the version (a file of format 1 is refused, so the
/// archive's cache is rebuilt from the catalog once).
const FORMAT: u32 = 2;

/// Why a persisted index could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexFileError {
    #[error("reading the hash index: {0}")]
    Io(#[from] io::Error),
    #[error("damaged hash index: {0}")]
    Invalid(&'static str),
}

/// A running checksum over the little-endian words written or read (FNV-style mixing of
/// 64-bit words; it detects damage, it is not a cryptographic seal).
fn mix(sum: u64, x: u64) -> u64 {
    (sum ^ x)
        .wrapping_mul(0x0000_0100_0000_01b3)
        .rotate_left(29)
}

/// Writes little-endian words, keeping a checksum (unbuffered: give it a buffered writer).
pub(crate) struct Checksummed<'a, W: Write> {
    w: &'a mut W,
    pub(crate) sum: u64,
}

impl<'a, W: Write> Checksummed<'a, W> {
    pub(crate) fn new(w: &'a mut W) -> Self {
        Checksummed {
            w,
            sum: 0xcbf2_9ce4_8422_2325,
        }
    }
    pub(crate) fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)
    }
    pub(crate) fn u32(&mut self, x: u32) -> io::Result<()> {
        self.sum = mix(self.sum, u64::from(x));
        self.w.write_all(&x.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, x: u64) -> io::Result<()> {
        self.sum = mix(self.sum, x);
        self.w.write_all(&x.to_le_bytes())
    }
    fn u32s(&mut self, xs: &[u32]) -> io::Result<()> {
        for &x in xs {
            self.u32(x)?;
        }
        Ok(())
    }
}

/// Reads what [`Checksummed`] wrote, keeping the same checksum (unbuffered: give it a
/// buffered reader).
pub(crate) struct Checked<'a, R: Read> {
    r: &'a mut R,
    pub(crate) sum: u64,
}

impl<'a, R: Read> Checked<'a, R> {
    pub(crate) fn new(r: &'a mut R) -> Self {
        Checked {
            r,
            sum: 0xcbf2_9ce4_8422_2325,
        }
    }
    pub(crate) fn take(&mut self, b: &mut [u8]) -> io::Result<()> {
        self.r.read_exact(b)
    }
    pub(crate) fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.r.read_exact(&mut b)?;
        let x = u32::from_le_bytes(b);
        self.sum = mix(self.sum, u64::from(x));
        Ok(x)
    }
    pub(crate) fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.r.read_exact(&mut b)?;
        let x = u64::from_le_bytes(b);
        self.sum = mix(self.sum, x);
        Ok(x)
    }
    fn u32s(&mut self, n: usize) -> io::Result<Vec<u32>> {
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0u8; 4 * n.min(65_536)];
        let mut left = n;
        while left > 0 {
            let k = left.min(65_536);
            self.r.read_exact(&mut buf[..4 * k])?;
            for c in buf[..4 * k].chunks_exact(4) {
                let x = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                self.sum = mix(self.sum, u64::from(x));
                out.push(x);
            }
            left -= k;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: reproducible test data without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn hash(&mut self) -> Hash256 {
            [self.next(), self.next(), self.next(), self.next()]
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn flip_bit(h: &mut Hash256, bit: u32) {
        h[(bit / 64) as usize] ^= 1 << (bit % 64);
    }

    /// `h` with exactly `t` distinct bits flipped, chosen at random.
    fn near(rng: &mut Rng, h: &Hash256, t: u32) -> Hash256 {
        let mut bits: Vec<u32> = (0..256).collect();
        let mut out = *h;
        for i in 0..t as usize {
            let j = i + rng.below(256 - i as u64) as usize;
            bits.swap(i, j);
            flip_bit(&mut out, bits[i]);
        }
        out
    }

    /// Random hashes plus near-copies of a few seeds at every distance 0..=40.
    fn clustered(rng: &mut Rng, random: usize, seeds: usize) -> (Vec<Hash256>, Vec<Hash256>) {
        let mut hashes: Vec<Hash256> = (0..random).map(|_| rng.hash()).collect();
        let seeds: Vec<Hash256> = (0..seeds).map(|_| rng.hash()).collect();
        for s in &seeds {
            for t in 0..=40 {
                hashes.push(near(rng, s, t));
                hashes.push(near(rng, s, t));
            }
        }
        // Shuffle so near-copies land in different segments.
        for i in (1..hashes.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            hashes.swap(i, j);
        }
        (hashes, seeds)
    }

    fn brute(hashes: &[Hash256], q: &Hash256, r: u32) -> Vec<(u32, u32)> {
        hashes
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let d = distance(h, q);
                (d <= r).then_some((i as u32, d))
            })
            .collect()
    }

    /// One query at a time and all together (`radius_many`: groups of queries, the last
    /// one short when their count is not a multiple of the group) against a plain scan.
    fn check(index: &HammingIndex, hashes: &[Hash256], queries: &[Hash256], radii: &[u32]) {
        for &r in radii {
            let many = index.radius_many(queries, r);
            assert_eq!(many.len(), queries.len());
            for (q, mut got) in queries.iter().zip(many) {
                let want = brute(hashes, q, r);
                assert_eq!(index.radius(q, r), want, "radius {r}");
                got.sort_unstable();
                assert_eq!(got, want, "radius {r}, together");
            }
        }
    }

    #[test]
    fn multi_index_is_exact_on_random_and_clustered_data() {
        let mut rng = Rng(7);
        let (hashes, seeds) = clustered(&mut rng, 60_000, 40);
        let mut queries = seeds.clone();
        queries.extend(seeds.iter().map(|s| near(&mut rng, s, 16)));
        queries.extend((0..20).map(|_| rng.hash()));
        for m in [0, 11, 12, 16, 21, 32] {
            let index = HammingIndex::build_with(hashes.clone(), m);
            assert!(index.layout().segments[0].1 >= 11, "tables built");
            check(&index, &hashes, &queries, &[0, 5, 31, 32, 40]);
        }
    }

    #[test]
    fn distance_31_is_found_and_32_is_not() {
        let mut rng = Rng(11);
        let mut hashes: Vec<Hash256> = (0..LINEAR_MAX * 2).map(|_| rng.hash()).collect();
        let q = rng.hash();
        let at31 = hashes.len() as u32;
        hashes.push(near(&mut rng, &q, 31));
        hashes.push(near(&mut rng, &q, 32));
        for m in [0, 12, 16] {
            let index = HammingIndex::build_with(hashes.clone(), m);
            assert_eq!(index.radius(&q, 31), vec![(at31, 31)], "m={m}");
            assert_eq!(index.radius(&q, 32).len(), 2, "m={m}");
        }
    }

    /// Copies at distance 31 whose differing bits are spread so that exactly one table's
    /// probe can find each: the pigeonhole bound is tight, nothing to spare.
    #[test]
    fn tight_pigeonhole_copies_are_found_through_their_only_table() {
        let mut rng = Rng(13);
        for m in [11, 12, 13, 16, 20, 32] {
            let widths = widths_for(m);
            let (rp, a) = (31 / m, 31 % m);
            let q = rng.hash();
            let mut hashes: Vec<Hash256> = (0..LINEAR_MAX).map(|_| rng.hash()).collect();
            let mut want = Vec::new();
            for j in 0..m {
                // Table k's probe radius, plus one everywhere but in table j.
                let flips = |k: u32| {
                    let base = if k <= a { rp } else { rp.saturating_sub(1) };
                    if k == j || (k > a && rp == 0) {
                        base.min(if k > a { rp.saturating_sub(1) } else { rp })
                    } else {
                        base + 1
                    }
                };
                let total: u32 = (0..m).map(flips).sum();
                if total != 31 {
                    continue; // j > a with r' = 0: that table is not probed
                }
                let mut h = q;
                for ((start, _), k) in starts(&widths).zip(0..m) {
                    for b in 0..flips(k) {
                        flip_bit(&mut h, start + b);
                    }
                }
                assert_eq!(distance(&h, &q), 31);
                want.push((hashes.len() as u32, 31));
                hashes.push(h);
            }
            assert!(!want.is_empty());
            let index = HammingIndex::build_with(hashes.clone(), m);
            assert_eq!(index.radius(&q, 31), want, "m={m}");
            assert_eq!(index.radius(&q, 30), vec![], "m={m}");
        }
    }

    #[test]
    fn incremental_additions_answer_like_a_fresh_build() {
        let mut rng = Rng(17);
        let (hashes, seeds) = clustered(&mut rng, 90_000, 30);
        let mut index = HammingIndex::new();
        let mut at = 0;
        while at < hashes.len() {
            let n = (1 + rng.below(9_000) as usize).min(hashes.len() - at);
            assert_eq!(index.extend(&hashes[at..at + n]), at as u32);
            at += n;
            // Checked along the way, with tables in some segments and not others.
            if rng.below(4) == 0 {
                check(&index, &hashes[..at], &seeds[..3], &[31]);
            }
        }
        let layout = index.layout();
        assert!(layout.segments.len() >= 2, "{layout:?}");
        assert!(layout.segments.iter().any(|s| s.1 > 0), "{layout:?}");
        assert_eq!(
            layout.segments.iter().map(|s| s.0).sum::<usize>(),
            hashes.len()
        );
        // Segments shrink towards the end (the logarithmic method keeps few of them).
        assert!(layout.segments.len() <= 12, "{layout:?}");
        let queries: Vec<Hash256> = seeds.iter().map(|s| near(&mut rng, s, 10)).collect();
        check(&index, &hashes, &queries, &[31, 32]);
        let fresh = HammingIndex::build(hashes.clone());
        for q in &queries {
            assert_eq!(index.radius(q, 31), fresh.radius(q, 31));
        }
    }

    #[test]
    fn persisted_index_reads_back_the_same_and_damage_is_an_error() {
        let mut rng = Rng(19);
        let (hashes, seeds) = clustered(&mut rng, 40_000, 10);
        let mut index = HammingIndex::build(hashes[..30_000].to_vec());
        index.extend(&hashes[30_000..]);
        let mut bytes = Vec::new();
        index.write_to(&mut bytes).unwrap();
        let back = HammingIndex::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, index);
        check(&back, &hashes, &seeds, &[31]);
        // Empty index too.
        let mut empty = Vec::new();
        HammingIndex::new().write_to(&mut empty).unwrap();
        assert!(HammingIndex::read_from(&mut empty.as_slice())
            .unwrap()
            .is_empty());
        // A flipped bit anywhere, or a cut, is refused.
        for at in [3, 20, 1000, bytes.len() / 2, bytes.len() - 3] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(
                HammingIndex::read_from(&mut bad.as_slice()).is_err(),
                "{at}"
            );
        }
        for cut in [0, 7, 100, bytes.len() - 1] {
            assert!(
                HammingIndex::read_from(&mut &bytes[..cut]).is_err(),
                "{cut}"
            );
        }
    }

    #[test]
    fn compact_is_exact_on_random_and_clustered_data() {
        let mut rng = Rng(23);
        // Not a multiple of the block size: the last hashes go through the tail loop.
        let (hashes, seeds) = clustered(&mut rng, 50_000 + 13, 40);
        let index = HammingIndex::build_kind(hashes.clone(), IndexKind::Compact);
        assert_eq!(index.kind(), IndexKind::Compact);
        assert_eq!(index.len(), hashes.len());
        let mut queries = seeds.clone();
        queries.extend(seeds.iter().map(|s| near(&mut rng, s, 16)));
        queries.extend((0..20).map(|_| rng.hash()));
        check(&index, &hashes, &queries, &[0, 5, 30, 31, 32, 40]);
        // Radii past the first 96 bits' reach: every block has survivors.
        check(&index, &hashes, &queries[..3], &[95, 96, 97, 128, 256]);
        for (id, h) in hashes.iter().enumerate() {
            assert_eq!(index.get(id as u32).as_ref(), Some(h));
        }
        assert_eq!(index.get(hashes.len() as u32), None);
        let layout = index.layout();
        assert_eq!(layout.bytes, hashes.len() * 32, "the hashes alone");
        assert_eq!(layout.segments, vec![(hashes.len(), 0)]);
    }

    /// Copies whose distance sits at the radius, split every way between the first 96 bits
    /// (the early bound) and the last 160: the bound is tight or exceeded by one.
    #[test]
    fn compact_early_bound_is_exact_at_the_edges() {
        let mut rng = Rng(29);
        let q = rng.hash();
        // Distinct bits of the query flipped: `front` among bits 0..96, `back` among 96..256.
        let copy = |rng: &mut Rng, front: u32, back: u32| {
            let mut h = q;
            let mut bits: Vec<u32> = (0..96).collect();
            for i in 0..front as usize {
                let j = i + rng.below(96 - i as u64) as usize;
                bits.swap(i, j);
                flip_bit(&mut h, bits[i]);
            }
            let mut bits: Vec<u32> = (96..256).collect();
            for i in 0..back as usize {
                let j = i + rng.below(160 - i as u64) as usize;
                bits.swap(i, j);
                flip_bit(&mut h, bits[i]);
            }
            h
        };
        let mut hashes: Vec<Hash256> = Vec::new();
        let mut planted = Vec::new();
        for front in 0..=33 {
            for back in [0, 1, 2, 15, 16, 31, 32, 33] {
                if front + back > 33 {
                    continue;
                }
                // A few random hashes between, so copies land at every lane and in the tail.
                for _ in 0..rng.below(90) {
                    hashes.push(rng.hash());
                }
                planted.push(front + back);
                hashes.push(copy(&mut rng, front, back));
            }
        }
        let index = HammingIndex::build_kind(hashes.clone(), IndexKind::Compact);
        for r in [0, 1, 15, 16, 30, 31, 32, 33] {
            let got = index.radius(&q, r);
            assert_eq!(got, brute(&hashes, &q, r), "radius {r}");
            let want = planted.iter().filter(|&&d| d <= r).count();
            assert_eq!(got.len(), want, "radius {r}");
        }
        let got = index.radius(&q, 31);
        assert!(got.iter().any(|&(_, d)| d == 31), "a copy at exactly 31");
        assert!(got.iter().all(|&(_, d)| d <= 31), "nothing at 32");
    }

    #[test]
    fn compact_additions_persistence_and_kind_changes() {
        let mut rng = Rng(31);
        let (hashes, seeds) = clustered(&mut rng, 40_000, 20);
        let queries: Vec<Hash256> = seeds.iter().map(|s| near(&mut rng, s, 12)).collect();
        let mut index = HammingIndex::with_kind(IndexKind::Compact);
        let mut at = 0;
        while at < hashes.len() {
            let n = (1 + rng.below(5_000) as usize).min(hashes.len() - at);
            assert_eq!(index.extend(&hashes[at..at + n]), at as u32);
            at += n;
            if rng.below(3) == 0 {
                check(&index, &hashes[..at], &queries[..3], &[31]);
            }
        }
        assert_eq!(index.kind(), IndexKind::Compact);
        check(&index, &hashes, &queries, &[31, 32]);
        // Saved and read back: the same index, the same answers.
        let mut bytes = Vec::new();
        index.write_to(&mut bytes).unwrap();
        let back = HammingIndex::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, index);
        assert_eq!(back.kind(), IndexKind::Compact);
        for at in [3, 13, 20, 1000, bytes.len() / 2, bytes.len() - 3] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(
                HammingIndex::read_from(&mut bad.as_slice()).is_err(),
                "{at}"
            );
        }
        assert!(HammingIndex::read_from(&mut &bytes[..bytes.len() - 1]).is_err());
        // Converted either way: same ids, same answers.
        let mih = back.clone().into_kind(IndexKind::Mih);
        assert_eq!(mih.kind(), IndexKind::Mih);
        assert!(
            mih.layout().segments.iter().any(|s| s.1 > 0),
            "tables built"
        );
        let again = mih.clone().into_kind(IndexKind::Compact);
        assert_eq!(again, index);
        for q in &queries {
            assert_eq!(mih.radius(q, 31), index.radius(q, 31));
        }
        assert_eq!(
            HammingIndex::build(hashes.clone()).into_kind(IndexKind::Compact),
            index
        );
        let empty = HammingIndex::with_kind(IndexKind::Compact);
        let mut b = Vec::new();
        empty.write_to(&mut b).unwrap();
        let back = HammingIndex::read_from(&mut b.as_slice()).unwrap();
        assert!(back.is_empty());
        assert_eq!(back.kind(), IndexKind::Compact);
        assert_eq!(back.layout().segments, vec![]);
    }

    #[test]
    fn index_kinds_parse_from_their_names() {
        for kind in [IndexKind::Mih, IndexKind::Compact] {
            assert_eq!(kind.as_str().parse::<IndexKind>(), Ok(kind));
        }
        let err = "fast".parse::<IndexKind>().unwrap_err();
        assert!(err.contains("fast") && err.contains("compact"), "{err}");
    }

    #[test]
    fn forged_files_are_refused() {
        // A substring count the builder never writes (it would later build a table of
        // 2^52 slots), found by the hamming_index fuzz target.
        let hex =
            "4154484152484958020000000000000005000000000000000000000000000000db0ae68871b9fb13";
        let forged: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert!(HammingIndex::read_from(&mut forged.as_slice()).is_err());
        // Tables that disagree with the hashes (written with a good checksum, as anyone
        // replacing the cache could): refused, never loaded as an index that misses hashes.
        let hashes: Vec<Hash256> = (0..LINEAR_MAX as u64)
            .map(|i| [i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i << 7, !i, i * 3])
            .collect();
        let index = HammingIndex::build_with(hashes, 32);
        let mut good = Vec::new();
        index.write_to(&mut good).unwrap();
        assert!(HammingIndex::read_from(&mut good.as_slice()).is_ok());
        let forgeries: [fn(&mut Tables); 3] = [
            |t| t.ids[0].swap(0, 1),
            |t| t.ids[3][5] = t.ids[3][6],
            |t| {
                let last = t.ids[7].len() - 1;
                t.ids[7].swap(0, last);
            },
        ];
        for (k, forge) in forgeries.iter().enumerate() {
            let mut bad = index.clone();
            let tables = bad
                .segments
                .iter_mut()
                .find_map(|s| s.tables.as_mut())
                .expect("a segment with tables");
            forge(tables);
            let mut bytes = Vec::new();
            bad.write_to(&mut bytes).unwrap();
            assert!(
                HammingIndex::read_from(&mut bytes.as_slice()).is_err(),
                "forgery {k} loaded"
            );
        }
    }

    #[test]
    fn substring_reads_across_word_boundaries() {
        let h: Hash256 = [0x8000_0000_0000_0000, 0x1, 0, u64::MAX];
        assert_eq!(substring(&h, 63, 2), 0b11);
        assert_eq!(substring(&h, 62, 3), 0b110);
        assert_eq!(substring(&h, 250, 6), 0b11_1111);
        let w = widths_for(12);
        assert_eq!(w.iter().sum::<u32>(), 256);
        assert_eq!(w.len(), 12);
    }
}
