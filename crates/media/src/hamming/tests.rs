//! Tests of both index kinds and the file format.

use super::mih::{starts, widths_for};
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
    let hex = "4154484152484958020000000000000005000000000000000000000000000000db0ae68871b9fb13";
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
