//! The compact kind's store: hashes by column, scanned with an early exit (see the
//! parent module).

use super::Hash256;

/// Hashes stored by column for the compact scan: word 0 of every hash, the low half of word 1
/// of every hash, then the other 160 bits together (read only for hashes that pass the first
/// 96 bits). The scan reads 12 bytes per hash: at 10 million hashes it is bound by memory
/// bandwidth, and 96 bits are enough to reject a random hash at radius 31 (it passes with
/// probability about 3 in 10,000).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Columns {
    w0: Vec<u64>,
    w1: Vec<u32>,
    rest: Vec<[u32; 5]>,
}

/// Hashes scanned together by the compact scan.
const BLOCK: usize = 64;
/// Queries the compact scan answers together
/// ([`HammingIndex::radius_many`](super::HammingIndex::radius_many)): a block of hashes
/// (768 bytes) stays in the first-level cache while each of them is compared.
const GROUP: usize = 8;

/// The low and high halves of a word.
fn halves(x: u64) -> (u32, u32) {
    (x as u32, (x >> 32) as u32)
}

impl Columns {
    pub(super) fn len(&self) -> usize {
        self.w0.len()
    }

    pub(super) fn reserve(&mut self, n: usize) {
        self.w0.reserve(n);
        self.w1.reserve(n);
        self.rest.reserve(n);
    }

    pub(super) fn try_reserve_exact(
        &mut self,
        n: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        self.w0.try_reserve_exact(n)?;
        self.w1.try_reserve_exact(n)?;
        self.rest.try_reserve_exact(n)
    }

    pub(super) fn push(&mut self, h: &Hash256) {
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

    pub(super) fn get(&self, id: usize) -> Option<Hash256> {
        Some(Columns::join(
            *self.w0.get(id)?,
            *self.w1.get(id)?,
            self.rest.get(id)?,
        ))
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Hash256> + '_ {
        self.w0
            .iter()
            .zip(&self.w1)
            .zip(&self.rest)
            .map(|((&a, &b), r)| Columns::join(a, b, r))
    }

    /// Every hash within `radius` of `q`, appended to `out` as (id, distance).
    pub(super) fn scan(&self, q: &Hash256, radius: u32, out: &mut Vec<(u32, u32)>) {
        self.scan_many(std::slice::from_ref(q), radius, std::slice::from_mut(out));
    }

    /// [`scan`](Self::scan) for each of `qs`, appending to the matching `outs`. Queries are
    /// taken [`GROUP`] at a time over each block, so the hashes are read from memory once
    /// for the group, not once per query.
    pub(super) fn scan_many(&self, qs: &[Hash256], radius: u32, outs: &mut [Vec<(u32, u32)>]) {
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
