//! Micro-benchmark of the log's hot paths, on one core:
//!
//! * stored-hash append rate for 1,000,000 leaves ([`Frontier::append`], and the
//!   reader-based [`stored_hashes`] for comparison),
//! * tile-based inclusion proof generation (median µs),
//! * inclusion proof verification rate.
//!
//! Run with `cargo run --release -p athar-tlog --example tlog_bench`.

use athar_tlog::rfc6962::{
    inclusion_proof, leaf_hash, stored_hashes, tree_hash, verify_inclusion, Frontier, Hash,
    TreeError,
};
use athar_tlog::tile::{new_tiles, read_tile_data, Tile, TileHashReader, TileReader};
use std::collections::HashMap;
use std::time::Instant;

const LEAVES: u64 = 1_000_000;

/// Tiny deterministic PRNG (xorshift64*), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

struct MemTiles(HashMap<Tile, Vec<u8>>);
impl TileReader for &MemTiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(t)
                    .cloned()
                    .ok_or_else(|| TreeError::Tile(t.path()))
            })
            .collect()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<(), TreeError> {
    // Entries: 128 synthetic bytes each.
    let entry = |i: u64| {
        let mut e = [0u8; 128];
        e[..8].copy_from_slice(&i.to_be_bytes());
        e
    };

    // 1a. Append from entry bytes (leaf hashing included).
    let mut runs = Vec::new();
    let mut stored: Vec<Hash> = Vec::new();
    for _ in 0..3 {
        stored = Vec::with_capacity(2 * LEAVES as usize);
        let mut f = Frontier::new();
        let t0 = Instant::now();
        for i in 0..LEAVES {
            f.append(leaf_hash(&entry(i)), &mut stored);
        }
        runs.push(LEAVES as f64 / t0.elapsed().as_secs_f64());
    }
    println!(
        "append (Frontier, 128-byte entries incl. leaf hash): {:.0} leaves/s (median of 3)",
        median(runs)
    );

    // 1b. Append from precomputed leaf hashes.
    let leaves: Vec<Hash> = (0..LEAVES).map(|i| leaf_hash(&entry(i))).collect();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let mut out = Vec::with_capacity(2 * LEAVES as usize);
        let mut f = Frontier::new();
        let t0 = Instant::now();
        for l in &leaves {
            f.append(*l, &mut out);
        }
        runs.push(LEAVES as f64 / t0.elapsed().as_secs_f64());
        assert_eq!(out, stored);
    }
    println!(
        "append (Frontier, leaf hashes given): {:.0} leaves/s (median of 3)",
        median(runs)
    );

    // 1c. Go-style stored_hashes() reading left siblings through a HashReader.
    let mut out: Vec<Hash> = Vec::with_capacity(2 * LEAVES as usize);
    let t0 = Instant::now();
    for (i, l) in leaves.iter().enumerate() {
        let new = stored_hashes(i as u64, *l, &out)?;
        out.extend(new);
    }
    println!(
        "append (stored_hashes via HashReader, leaf hashes given): {:.0} leaves/s",
        LEAVES as f64 / t0.elapsed().as_secs_f64()
    );
    assert_eq!(out, stored);

    // 2. Tiles for the 1M tree, then tile-based inclusion proofs.
    let mut tiles = MemTiles(HashMap::new());
    for t in new_tiles(0, LEAVES) {
        tiles.0.insert(t, read_tile_data(&t, &stored)?);
    }
    // One reader per tree size, reused across proofs (it caches level >= 1 tiles), and
    // a reader with the cache disabled, for the cold cost of every proof.
    let reader = TileHashReader::new(LEAVES, &tiles);
    let cold = TileHashReader::with_cache_capacity(LEAVES, &tiles, 0);
    let root = tree_hash(LEAVES, &reader)?;
    assert_eq!(root, tree_hash(LEAVES, &stored)?);
    let mut proofs = Vec::new();
    for (name, r) in [
        ("no tile cache", &cold),
        ("reused reader, tile cache", &reader),
    ] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut times = Vec::new();
        proofs.clear();
        for _ in 0..2000 {
            let index = rng.next() % LEAVES;
            let t0 = Instant::now();
            let p = inclusion_proof(LEAVES, index, r)?;
            times.push(t0.elapsed().as_secs_f64() * 1e6);
            proofs.push((index, p));
        }
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        println!(
            "tile-based inclusion proof, tree of {LEAVES}, {name}: median {:.1} µs, p90 {:.1} µs, max {:.1} µs (2000 random leaves)",
            median(times),
            sorted[sorted.len() * 9 / 10],
            sorted[sorted.len() - 1]
        );
    }
    let mut rng = Rng(1);
    let mut times = Vec::new();
    for _ in 0..2000 {
        let index = rng.next() % LEAVES;
        let t0 = Instant::now();
        let _ = inclusion_proof(LEAVES, index, &stored)?;
        times.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "stored-hash inclusion proof (all hashes in memory): median {:.2} µs",
        median(times)
    );

    // 3. Verification rate.
    let mut runs = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let mut ok = 0u64;
        for (index, p) in &proofs {
            let leaf = leaves[*index as usize];
            if verify_inclusion(*index, LEAVES, &leaf, p, &root).is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, proofs.len() as u64);
        runs.push(proofs.len() as f64 / t0.elapsed().as_secs_f64());
    }
    println!(
        "inclusion proof verification, tree of {LEAVES} (20-hash proofs): {:.0} proofs/s (median of 3)",
        median(runs)
    );
    Ok(())
}
