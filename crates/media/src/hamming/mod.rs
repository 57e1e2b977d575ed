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
//!
//! The code is split the same way: `compact` holds the column store and its scan, `mih`
//! the multi-index tables and the row scan, `file` the persisted format; this module holds
//! the index itself and what the kinds share.

mod compact;
mod file;
mod mih;
#[cfg(test)]
mod tests;

pub use file::IndexFileError;
pub(crate) use file::{Checked, Checksummed};
pub use mih::substrings_for;

use compact::Columns;
use mih::{scan, Tables};

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
}
