#![no_main]
//! Similarity index files (`HammingIndex::read_from`, and `similar::Index::read_from`, which
//! reads one and its postings): a cache any process may replace, so its bytes are untrusted.
//! Read arbitrary bytes as they are, and again with the trailing checksum made right (the
//! checksum detects damage, it is no seal: a forged file carries a good one, and without it
//! the fuzzer would rarely get past it). An index that loads must write back to the bytes it
//! was read from, answer radius queries exactly as a plain scan does, and take more hashes.

use athar_media::hamming::{HammingIndex, Hash256};
use athar_media::similar;
use libfuzzer_sys::fuzz_target;

/// The file's checksum (`hamming.rs`: `Checksummed`), which mixes every little-endian word
/// after the 8-byte magic: three `u32`, the hash count and the hashes as `u64`, then `u32`s.
fn with_checksum(body: &[u8]) -> Option<Vec<u8>> {
    fn mix(sum: u64, x: u64) -> u64 {
        (sum ^ x)
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29)
    }
    let u32_at = |i: usize| {
        Some(u64::from(u32::from_le_bytes(
            body.get(i..i + 4)?.try_into().ok()?,
        )))
    };
    let u64_at = |i: usize| Some(u64::from_le_bytes(body.get(i..i + 8)?.try_into().ok()?));
    let mut sum = 0xcbf2_9ce4_8422_2325;
    let mut i = 8;
    for _ in 0..3 {
        sum = mix(sum, u32_at(i)?);
        i += 4;
    }
    let n = u64_at(i)?;
    let words = n.checked_mul(4)?.checked_add(1)?;
    if words > (body.len() / 8) as u64 {
        return None;
    }
    for _ in 0..words {
        sum = mix(sum, u64_at(i)?);
        i += 8;
    }
    while let Some(x) = u32_at(i) {
        sum = mix(sum, x);
        i += 4;
    }
    let mut out = body.get(..i)?.to_vec();
    out.extend_from_slice(&sum.to_le_bytes());
    Some(out)
}

fn hash(bytes: &[u8]) -> Hash256 {
    let mut h = [0u64; 4];
    for (i, b) in bytes.iter().take(32).enumerate() {
        h[i / 8] |= u64::from(*b) << (8 * (i % 8));
    }
    h
}

fn check(data: &[u8]) {
    // `read_from` reserves room for the hash count the header states before reading the
    // hashes (`try_reserve_exact`: refused memory is an error, and reserved pages are never
    // touched unless the hashes are there). libFuzzer's malloc limit would report a 28-byte
    // file claiming billions of hashes, so such inputs stop here.
    if let Some(n) = data.get(20..28).and_then(|b| b.try_into().ok()) {
        let n = u64::from_le_bytes(n);
        if n <= u64::from(u32::MAX) && n * 32 > data.len() as u64 {
            return;
        }
    }
    let _ = similar::Index::read_from(&mut &data[..]);
    let mut rest = data;
    let Ok(mut index) = HammingIndex::read_from(&mut rest) else {
        return;
    };
    let read = &data[..data.len() - rest.len()];
    let mut written = Vec::new();
    index.write_to(&mut written).expect("writing to a Vec");
    assert_eq!(
        written, read,
        "an index that loads writes back to its bytes"
    );
    let _ = index.layout();
    // Indexed hashes spread over the ids, each also with a few bits flipped, and some others.
    let len = index.len() as u64;
    let mut queries: Vec<Hash256> = (0..32)
        .filter_map(|k| index.get(u32::try_from(k * len / 32).ok()?))
        .collect();
    for k in 0..queries.len() {
        let mut q = queries[k];
        q[k % 4] ^= 0b1011 << (k % 60);
        queries.push(q);
    }
    queries.extend([hash(rest), [0; 4], [u64::MAX; 4]]);
    let radius = u32::from(rest.first().copied().unwrap_or(8) % 40);
    for q in &queries {
        assert_eq!(index.radius(q, radius), index.radius_linear(q, radius));
    }
    let _ = index.radius_many(&queries, radius);
    let len = index.len();
    let added: Vec<Hash256> = rest.chunks(32).take(64).map(hash).collect();
    assert_eq!(index.extend(&added) as usize, len);
    assert_eq!(index.len(), len + added.len());
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = data
        .get(..data.len().saturating_sub(8))
        .and_then(with_checksum)
    {
        check(&fixed);
    }
});
