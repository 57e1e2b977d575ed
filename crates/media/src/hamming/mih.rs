//! The multi-index kind's search: a linear scan of small segments, and multi-index hashing
//! tables for large ones (see the parent module).

use super::{distance, substring, Hash256, Store};

/// Every hash within `radius` of `q` among `hashes` (ids from `first`), appended to `out` as
/// (id, distance).
pub(super) fn scan(
    hashes: &[Hash256],
    first: u32,
    q: &Hash256,
    radius: u32,
    out: &mut Vec<(u32, u32)>,
) {
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
pub(super) struct Tables {
    /// Substring widths (bits), summing to 256.
    pub(super) widths: Vec<u32>,
    /// Per table, `2^width + 1` offsets into its ids.
    pub(super) offsets: Vec<Vec<u32>>,
    /// Per table, the segment's ids grouped by substring value.
    pub(super) ids: Vec<Vec<u32>>,
}

pub(super) fn widths_for(m: u32) -> Vec<u32> {
    let base = 256 / m;
    let extra = 256 % m;
    (0..m).map(|k| base + u32::from(k < extra)).collect()
}

pub(super) fn starts(widths: &[u32]) -> impl Iterator<Item = (u32, u32)> + '_ {
    widths.iter().scan(0u32, |s, &w| {
        let start = *s;
        *s += w;
        Some((start, w))
    })
}

impl Tables {
    pub(super) fn build(hashes: &[Hash256], first: u32, m: u32) -> Tables {
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
    pub(super) fn agree_with(&self, hashes: &Store, first: u32) -> bool {
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
    pub(super) fn cost(&self, r: u32, len: usize) -> f64 {
        let mut total = 0.0;
        for (&w, rk) in self.widths.iter().zip(self.radii(r)) {
            let Some(rk) = rk else { continue };
            let probes: f64 = (0..=rk.min(w)).map(|t| binomial(w, t)).sum();
            total += probes * (1.0 + len as f64 / (1u64 << w) as f64);
        }
        total
    }

    pub(super) fn search(
        &self,
        hashes: &[Hash256],
        q: &Hash256,
        radius: u32,
        out: &mut Vec<(u32, u32)>,
    ) {
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

    pub(super) fn bytes(&self) -> usize {
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
