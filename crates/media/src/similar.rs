//! Finding copies: an exact radius search over PDQ hashes (image hashes with their 8
//! dihedral variants, and every video frame hash), and vPDQ-style scoring of the hits per
//! item — the share of query frames matched and of the item's frames matched — with the
//! aligned time ranges.
//!
//! The search runs on a [`HammingIndex`] over packed 256-bit hashes (a linear scan for
//! small collections, multi-index hashing for large ones): exact, no missed matches within
//! the radius. [`Index::write_to`] and [`Index::read_from`] persist it with the postings.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};

use crate::hamming::{Checked, Checksummed, HammingIndex, IndexFileError, IndexKind};
use crate::pdq::{PdqHash, MATCH_DISTANCE, MIN_QUALITY};
use crate::vpdq::VpdqFrame;

/// Names of the dihedral variants, in the reference order.
pub const TRANSFORMS: [&str; 8] = [
    "original", "rot90", "rot180", "rot270", "flipx", "flipy", "flip+1", "flip-1",
];

/// Where an indexed hash comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posting {
    /// The item, as the caller numbers them.
    pub owner: u32,
    /// The frame within the item (0 for images).
    pub frame: u32,
    /// Seconds from the start (0 for images).
    pub timestamp: f64,
    /// Which dihedral variant of an image (0 for video frames and originals).
    pub transform: u8,
    /// The frame's or image's PDQ quality (0–100).
    pub quality: u8,
}

/// Packed hashes and where they come from.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Index {
    hashes: HammingIndex,
    postings: Vec<Posting>,
    /// Usable frames (quality ≥ 50) per owner, for the item-side share.
    frames: HashMap<u32, u32>,
    /// Some posting's owner is below an earlier one's: an owner's postings are not one run
    /// (they are when owners are added in increasing order, as the archive does).
    unordered: bool,
}

fn pack(h: &PdqHash) -> [u64; 4] {
    let w = h.words();
    let mut out = [0u64; 4];
    for (i, chunk) in w.chunks(4).enumerate() {
        out[i] = chunk
            .iter()
            .fold(0u64, |acc, x| (acc << 16) | u64::from(*x));
    }
    out
}

fn unpack(h: &[u64; 4]) -> PdqHash {
    let mut w = [0u16; 16];
    for (i, x) in w.iter_mut().enumerate() {
        *x = (h[i / 4] >> (48 - 16 * (i % 4))) as u16;
    }
    PdqHash::from_words(w)
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// An empty index whose hashes are searched by this kind of [`HammingIndex`].
    pub fn with_kind(kind: IndexKind) -> Index {
        Index {
            hashes: HammingIndex::with_kind(kind),
            ..Index::default()
        }
    }

    /// The kind of the hash index.
    pub fn kind(&self) -> IndexKind {
        self.hashes.kind()
    }

    /// Changes the hash index to `kind` (same hashes, same answers).
    pub fn set_kind(&mut self, kind: IndexKind) {
        self.hashes = std::mem::take(&mut self.hashes).into_kind(kind);
    }

    /// Adds an image: its hash and dihedral variants (quality below 50 is not indexed).
    pub fn add_image(&mut self, owner: u32, quality: u8, variants: &[PdqHash]) {
        if quality < MIN_QUALITY {
            return;
        }
        *self.frames.entry(owner).or_default() += 1;
        self.note_owner(owner);
        let packed: Vec<[u64; 4]> = variants.iter().take(8).map(pack).collect();
        self.hashes.extend(&packed);
        for t in 0..packed.len() {
            self.postings.push(Posting {
                owner,
                frame: 0,
                timestamp: 0.0,
                transform: t as u8,
                quality,
            });
        }
    }

    /// Adds a video's frames (quality below 50 left out).
    pub fn add_video(&mut self, owner: u32, frames: &[VpdqFrame]) {
        self.note_owner(owner);
        let mut packed = Vec::new();
        for f in frames.iter().filter(|f| f.quality >= MIN_QUALITY) {
            *self.frames.entry(owner).or_default() += 1;
            packed.push(pack(&f.hash));
            self.postings.push(Posting {
                owner,
                frame: u32::try_from(f.frame_number).unwrap_or(u32::MAX),
                timestamp: f.timestamp,
                transform: 0,
                quality: f.quality,
            });
        }
        self.hashes.extend(&packed);
    }

    /// The indexed frames (quality ≥ 50) of every owner, as query frames: video frames and
    /// the original image hashes (not their variants).
    pub fn owner_frames(&self) -> BTreeMap<u32, Vec<VpdqFrame>> {
        let mut out: BTreeMap<u32, Vec<VpdqFrame>> = BTreeMap::new();
        for (id, p) in self.postings.iter().enumerate() {
            if p.transform != 0 {
                continue;
            }
            if let Some(h) = self.hashes.get(id as u32) {
                out.entry(p.owner).or_default().push(VpdqFrame {
                    frame_number: u64::from(p.frame),
                    quality: p.quality,
                    hash: unpack(&h),
                    timestamp: p.timestamp,
                });
            }
        }
        out
    }

    fn note_owner(&mut self, owner: u32) {
        self.unordered |= self.postings.last().is_some_and(|p| p.owner > owner);
    }

    /// Where an owner's postings are: their run when owners were added in order (found by
    /// binary search), else everywhere.
    fn postings_of(&self, owner: u32) -> std::ops::Range<usize> {
        if self.unordered {
            return 0..self.postings.len();
        }
        let start = self.postings.partition_point(|p| p.owner < owner);
        let end = start + self.postings[start..].partition_point(|p| p.owner == owner);
        start..end
    }

    /// One owner's indexed frames, as in [`owner_frames`](Self::owner_frames).
    pub fn frames_of(&self, owner: u32) -> Vec<VpdqFrame> {
        let run = self.postings_of(owner);
        self.postings[run.clone()]
            .iter()
            .zip(run)
            .filter(|(p, _)| p.owner == owner && p.transform == 0)
            .filter_map(|(p, id)| {
                Some(VpdqFrame {
                    frame_number: u64::from(p.frame),
                    quality: p.quality,
                    hash: unpack(&self.hashes.get(id as u32)?),
                    timestamp: p.timestamp,
                })
            })
            .collect()
    }

    /// Usable frames (quality ≥ 50) indexed for an owner.
    pub fn usable_frames(&self, owner: u32) -> u32 {
        self.frames.get(&owner).copied().unwrap_or(0)
    }

    /// Indexed hashes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Every posting within `radius` of `q`, with its distance, in order of addition.
    pub fn radius(&self, q: &PdqHash, radius: u32) -> Vec<(Posting, u32)> {
        self.hashes
            .radius(&pack(q), radius)
            .into_iter()
            .filter_map(|(id, d)| Some((*self.postings.get(id as usize)?, d)))
            .collect()
    }

    /// [`radius`](Self::radius) for each of `qs`, answered together (the compact index
    /// kind reads its hashes once per group of queries: [`HammingIndex::radius_many`]).
    pub fn radius_many(&self, qs: &[PdqHash], radius: u32) -> Vec<Vec<(Posting, u32)>> {
        let packed: Vec<_> = qs.iter().map(pack).collect();
        self.hashes
            .radius_many(&packed, radius)
            .into_iter()
            .map(|hits| {
                hits.into_iter()
                    .filter_map(|(id, d)| Some((*self.postings.get(id as usize)?, d)))
                    .collect()
            })
            .collect()
    }

    /// Writes the hash index, the postings and the per-owner frame counts (give it a
    /// buffered writer).
    pub fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        self.hashes.write_to(w)?;
        let mut w = Checksummed::new(w);
        w.u64(self.postings.len() as u64)?;
        for p in &self.postings {
            w.u32(p.owner)?;
            w.u32(p.frame)?;
            w.u64(p.timestamp.to_bits())?;
            w.u32(u32::from(p.transform) | u32::from(p.quality) << 8)?;
        }
        let mut frames: Vec<(&u32, &u32)> = self.frames.iter().collect();
        frames.sort_unstable();
        w.u64(frames.len() as u64)?;
        for (owner, n) in frames {
            w.u32(*owner)?;
            w.u32(*n)?;
        }
        let sum = w.sum;
        w.u64(sum)
    }

    /// Reads what [`write_to`](Self::write_to) wrote, checking it (give it a buffered reader).
    pub fn read_from(r: &mut impl Read) -> Result<Index, IndexFileError> {
        let hashes = HammingIndex::read_from(r)?;
        let mut r = Checked::new(r);
        if r.u64()? != hashes.len() as u64 {
            return Err(IndexFileError::Invalid("postings do not match the hashes"));
        }
        let mut postings = Vec::with_capacity(hashes.len());
        for _ in 0..hashes.len() {
            let (owner, frame, timestamp) = (r.u32()?, r.u32()?, f64::from_bits(r.u64()?));
            let tq = r.u32()?;
            let (transform, quality) = ((tq & 0xff) as u8, (tq >> 8) as u8);
            if tq >> 16 != 0 || transform > 7 || !timestamp.is_finite() {
                return Err(IndexFileError::Invalid("posting"));
            }
            postings.push(Posting {
                owner,
                frame,
                timestamp,
                transform,
                quality,
            });
        }
        let count = r.u64()?;
        let mut frames = HashMap::new();
        for _ in 0..count.min(hashes.len() as u64 + 1) {
            frames.insert(r.u32()?, r.u32()?);
        }
        if count > hashes.len() as u64 {
            return Err(IndexFileError::Invalid("frame counts"));
        }
        let sum = r.sum;
        if r.u64()? != sum {
            return Err(IndexFileError::Invalid("checksum mismatch"));
        }
        let unordered = postings.windows(2).any(|w| w[0].owner > w[1].owner);
        Ok(Index {
            hashes,
            postings,
            frames,
            unordered,
        })
    }
}

/// An aligned stretch of footage: query seconds ↔ item seconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub query_start: f64,
    pub query_end: f64,
    pub item_start: f64,
    pub item_end: f64,
}

/// How one indexed item matches the query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Match {
    pub owner: u32,
    /// Share (0–1) of the query's usable frames with a partner in the item.
    pub query_match: f64,
    /// Share (0–1) of the item's usable frames with a partner in the query.
    pub item_match: f64,
    /// Smallest distance seen.
    pub distance: u32,
    /// For image hits: the dihedral variant that matched best.
    pub transform: &'static str,
    pub segments: Vec<Segment>,
}

/// Scores every item sharing frames with `query` (frames with quality ≥ 50 only, distance ≤
/// 31), best first. `exclude` leaves one owner out (the query itself, when indexed).
pub fn search(index: &Index, query: &[VpdqFrame], exclude: Option<u32>) -> Vec<Match> {
    let usable: Vec<&VpdqFrame> = query.iter().filter(|f| f.quality >= MIN_QUALITY).collect();
    let hashes: Vec<PdqHash> = usable.iter().map(|f| f.hash).collect();
    let mut hits = Vec::new();
    let found = index.radius_many(&hashes, MATCH_DISTANCE);
    for (qi, (f, found)) in usable.iter().zip(found).enumerate() {
        for (posting, distance) in found {
            hits.push(Hit {
                query_frame: qi,
                query_time: f.timestamp,
                posting,
                distance,
                transform: TRANSFORMS[usize::from(posting.transform) % 8],
            });
        }
    }
    score(usable.len(), |o| index.usable_frames(o), hits, exclude)
}

/// One query frame's hash found near an indexed hash.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The query frame, numbered among the query's usable frames.
    pub query_frame: usize,
    /// Its time in seconds.
    pub query_time: f64,
    pub posting: Posting,
    pub distance: u32,
    /// How the two hashes relate: a dihedral variant's name for images, or the transform
    /// a frame variant undoes (e.g. "mirrored") for video.
    pub transform: &'static str,
}

/// Scores hits per item, vPDQ-style, best first: the share of the query's `usable` frames
/// with a hit in the item, and of the item's frames (`item_frames(owner)`) hit. Each query
/// frame counts once per item, by its closest hit; an item's `transform` is the one that
/// matched most query frames. `exclude` leaves one owner out.
pub fn score(
    usable: usize,
    item_frames: impl Fn(u32) -> u32,
    hits: impl IntoIterator<Item = Hit>,
    exclude: Option<u32>,
) -> Vec<Match> {
    if usable == 0 {
        return Vec::new();
    }
    #[derive(Default)]
    struct Acc {
        item: HashSet<u32>,
        best: Option<u32>,
        /// Per query frame: the closest hit (distance, item time, transform).
        closest: BTreeMap<usize, (u32, f64, f64, &'static str)>,
    }
    let mut acc: BTreeMap<u32, Acc> = BTreeMap::new();
    for h in hits {
        let owner = h.posting.owner;
        if Some(owner) == exclude {
            continue;
        }
        let a = acc.entry(owner).or_default();
        a.item.insert(h.posting.frame);
        if a.best.is_none_or(|bd| h.distance < bd) {
            a.best = Some(h.distance);
        }
        let e = a.closest.entry(h.query_frame).or_insert((
            h.distance,
            h.query_time,
            h.posting.timestamp,
            h.transform,
        ));
        if h.distance < e.0 {
            *e = (h.distance, h.query_time, h.posting.timestamp, h.transform);
        }
    }
    let mut out: Vec<Match> = acc
        .into_iter()
        .map(|(owner, a)| {
            let total = f64::from(item_frames(owner)).max(1.0);
            let mut by_transform: BTreeMap<&'static str, (usize, u32)> = BTreeMap::new();
            for &(d, _, _, t) in a.closest.values() {
                let e = by_transform.entry(t).or_insert((0, u32::MAX));
                e.0 += 1;
                e.1 = e.1.min(d);
            }
            let transform = by_transform
                .iter()
                .max_by(|x, y| x.1 .0.cmp(&y.1 .0).then(y.1 .1.cmp(&x.1 .1)))
                .map_or(TRANSFORMS[0], |(t, _)| *t);
            let pairs: Vec<(f64, f64)> = a.closest.values().map(|c| (c.1, c.2)).collect();
            Match {
                owner,
                query_match: a.closest.len() as f64 / usable as f64,
                item_match: (a.item.len() as f64 / total).min(1.0),
                distance: a.best.unwrap_or(u32::MAX),
                transform,
                segments: segments(&pairs),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.query_match + b.item_match)
            .total_cmp(&(a.query_match + a.item_match))
            .then(a.distance.cmp(&b.distance))
    });
    out
}

/// Groups matched (query, item) timestamps into runs with a steady offset.
fn segments(pairs: &[(f64, f64)]) -> Vec<Segment> {
    if pairs.len() < 2 {
        return Vec::new();
    }
    let mut by_offset: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for &(q, i) in pairs {
        by_offset
            .entry(((i - q) * 2.0).round() as i64)
            .or_default()
            .push((q, i));
    }
    let mut out = Vec::new();
    for mut run in by_offset.into_values() {
        run.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut start = run[0];
        let mut prev = run[0];
        for &p in &run[1..] {
            if p.0 - prev.0 > 2.0 {
                if prev.0 > start.0 {
                    out.push(Segment {
                        query_start: start.0,
                        query_end: prev.0,
                        item_start: start.1,
                        item_end: prev.1,
                    });
                }
                start = p;
            }
            prev = p;
        }
        if prev.0 > start.0 {
            out.push(Segment {
                query_start: start.0,
                query_end: prev.0,
                item_start: start.1,
                item_end: prev.1,
            });
        }
    }
    out.sort_by(|a, b| (b.query_end - b.query_start).total_cmp(&(a.query_end - a.query_start)));
    out.truncate(5);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seed: u64) -> PdqHash {
        let mut w = [0u16; 16];
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for v in &mut w {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = x as u16;
        }
        PdqHash::from_words(w)
    }

    fn flip(hash: &PdqHash, bits: u32) -> PdqHash {
        let mut w = hash.words();
        for b in 0..bits as usize {
            w[b % 16] ^= 1 << (b / 16);
        }
        PdqHash::from_words(w)
    }

    fn frames(seeds: &[u64], start: f64) -> Vec<VpdqFrame> {
        seeds
            .iter()
            .enumerate()
            .map(|(i, s)| VpdqFrame {
                frame_number: i as u64,
                quality: 100,
                hash: h(*s),
                timestamp: start + i as f64,
            })
            .collect()
    }

    #[test]
    fn radius_is_exact_at_the_boundary() {
        let mut idx = Index::new();
        let base = h(1);
        idx.add_video(
            0,
            &[VpdqFrame {
                frame_number: 0,
                quality: 90,
                hash: flip(&base, 31),
                timestamp: 0.0,
            }],
        );
        idx.add_video(
            1,
            &[VpdqFrame {
                frame_number: 0,
                quality: 90,
                hash: flip(&base, 32),
                timestamp: 0.0,
            }],
        );
        idx.add_video(
            2,
            &[VpdqFrame {
                frame_number: 0,
                quality: 10,
                hash: base,
                timestamp: 0.0,
            }],
        );
        let hits = idx.radius(&base, 31);
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].0.owner, hits[0].1), (0, 31));
    }

    #[test]
    fn trimmed_copy_scores_and_aligns() {
        // Item 7: 20 s of footage; query: seconds 5..15 of it, re-encoded (a few bits off).
        let seeds: Vec<u64> = (100..120).collect();
        let mut idx = Index::new();
        idx.add_video(7, &frames(&seeds, 0.0));
        idx.add_video(8, &frames(&(500..520).collect::<Vec<_>>(), 0.0));
        let query: Vec<VpdqFrame> = frames(&seeds[5..15], 0.0)
            .into_iter()
            .map(|mut f| {
                f.hash = flip(&f.hash, 6);
                f
            })
            .collect();
        let m = search(&idx, &query, None);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].owner, 7);
        assert!((m[0].query_match - 1.0).abs() < 1e-9);
        assert!((m[0].item_match - 0.5).abs() < 1e-9);
        let s = &m[0].segments[0];
        assert_eq!(
            (s.query_start, s.query_end, s.item_start, s.item_end),
            (0.0, 9.0, 5.0, 14.0)
        );
    }

    #[test]
    fn frames_of_finds_an_owner_added_in_or_out_of_order() {
        for order in [[1u32, 2, 3, 5], [5, 2, 3, 1]] {
            let mut idx = Index::new();
            for &owner in &order {
                let seeds: Vec<u64> = (0..4).map(|i| u64::from(owner) * 100 + i).collect();
                idx.add_video(owner, &frames(&seeds, 0.0));
            }
            for &owner in &order {
                idx.add_image(owner + 10, 90, &[h(u64::from(owner) + 7000)]);
            }
            assert_eq!(idx.unordered, order[0] != 1);
            let all = idx.owner_frames();
            for owner in [1, 2, 3, 5, 11, 15] {
                assert_eq!(
                    idx.frames_of(owner),
                    all[&owner],
                    "owner {owner} of {order:?}"
                );
            }
            assert!(idx.frames_of(4).is_empty() && idx.frames_of(99).is_empty());
        }
    }

    #[test]
    fn index_persists_and_gives_back_its_frames() {
        let mut idx = Index::new();
        idx.add_video(4, &frames(&(0..30).collect::<Vec<_>>(), 2.5));
        let variants: Vec<PdqHash> = (0..8).map(|t| h(900 + t)).collect();
        idx.add_image(9, 77, &variants);
        let mut bytes = Vec::new();
        idx.write_to(&mut bytes).unwrap();
        let back = Index::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, idx);
        assert_eq!(back.frames_of(4), frames(&(0..30).collect::<Vec<_>>(), 2.5));
        let all = back.owner_frames();
        assert_eq!(all[&9].len(), 1);
        assert_eq!((all[&9][0].hash, all[&9][0].quality), (variants[0], 77));
        let mut bad = bytes.clone();
        let at = bad.len() - 20;
        bad[at] ^= 1;
        assert!(Index::read_from(&mut bad.as_slice()).is_err());
    }

    #[test]
    fn mirrored_image_matches_through_its_variant() {
        let mut idx = Index::new();
        let variants: Vec<PdqHash> = (0..8).map(|t| h(40 + t)).collect();
        idx.add_image(3, 90, &variants);
        let query = [VpdqFrame {
            frame_number: 0,
            quality: 90,
            hash: flip(&variants[4], 3),
            timestamp: 0.0,
        }];
        let m = search(&idx, &query, None);
        assert_eq!(m[0].owner, 3);
        assert_eq!(m[0].transform, "flipx");
        assert_eq!(m[0].distance, 3);
        assert!(search(&idx, &query, Some(3)).is_empty());
    }
}
