//! Proof generation: stored hashes and tiles must agree with the recursive RFC 6962
//! definitions of the in-memory tree, and every generated proof must verify.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use athar_tlog::rfc6962::*;
use athar_tlog::tile::*;
use std::collections::HashMap;

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(format!("entry {i}").as_bytes());
    }
    t
}

#[test]
fn stored_hash_index_round_trips() {
    let mut next = 0u64;
    for n in 0..2000u64 {
        // Leaf n and its completed parents are stored consecutively.
        assert_eq!(stored_hash_index(0, n), next, "leaf {n}");
        let parents = u64::from((n).trailing_ones());
        for level in 0..=parents {
            let idx = stored_hash_index(level as u8, n >> level);
            assert_eq!(idx, next + level);
            assert_eq!(split_stored_hash_index(idx), (level as u8, n >> level));
        }
        next += parents + 1;
        assert_eq!(stored_hash_count(n + 1), next);
    }
}

#[test]
fn frontier_and_stored_hashes_agree_with_recursive_root() {
    let t = tree(300);
    let mut stored: Vec<Hash> = Vec::new();
    let mut f = Frontier::new();
    for (i, leaf) in t.leaf_hashes().iter().enumerate() {
        let i = i as u64;
        let via_reader = stored_hashes(i, *leaf, &stored).unwrap();
        let mut via_frontier = Vec::new();
        f.append(*leaf, &mut via_frontier);
        assert_eq!(via_reader, via_frontier, "leaf {i}");
        stored.extend(via_frontier);
        let want = root_from_leaf_hashes(&t.leaf_hashes()[..=i as usize]);
        assert_eq!(f.root(), want);
        assert_eq!(tree_hash(i + 1, &stored).unwrap(), want);
        assert_eq!(Frontier::from_reader(i + 1, &stored).unwrap(), f);
    }
    assert_eq!(stored.as_slice(), t.stored_hashes());
    assert_eq!(tree_hash(0, &stored).unwrap(), empty_root());
}

#[test]
fn inclusion_and_consistency_proofs_agree_and_verify() {
    let t = tree(70);
    for size in 1..=70u64 {
        let root = t.root_at(size).unwrap();
        for index in 0..size {
            let p = inclusion_proof(size, index, &t).unwrap();
            assert_eq!(p, t.inclusion_proof(index, size).unwrap(), "{index}/{size}");
            let leaf = t.leaf_hashes()[index as usize];
            verify_inclusion(index, size, &leaf, &p, &root).unwrap();
        }
        for size1 in 1..=size {
            let p = consistency_proof(size1, size, &t).unwrap();
            assert_eq!(
                p,
                t.consistency_proof(size1, size).unwrap(),
                "{size1}->{size}"
            );
            assert_eq!(Some(p.len()), consistency_proof_len(size1, size));
            let root1 = t.root_at(size1).unwrap();
            verify_consistency(size1, size, &p, &root1, &root).unwrap();
            if size1 < size {
                assert_eq!(
                    verify_consistency(size1, size, &p, &root, &root1),
                    Err(ProofError::RootMismatch)
                );
            }
        }
    }
}

#[test]
fn subtree_proofs_verify() {
    let t = tree(40);
    for size in 1..=40u64 {
        let root = t.root_at(size).unwrap();
        for end in 1..=size {
            for start in 0..end {
                if !is_valid_subtree(start, end) {
                    continue;
                }
                let sub = t.range_hash(start, end).unwrap();
                let p = t.subtree_consistency_proof(start, end, size).unwrap();
                assert_eq!(p, subtree_consistency_proof(start, end, size, &t).unwrap());
                verify_subtree_consistency(start, end, size, &p, &sub, &root).unwrap();
                if size == t.size() {
                    for index in start..end {
                        let p = t.subtree_inclusion_proof(index, start, end).unwrap();
                        assert_eq!(p, subtree_inclusion_proof(index, start, end, &t).unwrap());
                        let leaf = t.leaf_hashes()[index as usize];
                        verify_subtree_inclusion(index, start, end, &leaf, &p, &sub).unwrap();
                    }
                }
            }
        }
    }
}

/// Tiles kept in a map, built the way a log writes them.
#[derive(Default)]
struct MapTiles(HashMap<(u8, u64, u16), Vec<u8>>);

impl TileReader for MapTiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(&(t.level, t.index, t.width))
                    .cloned()
                    .ok_or_else(|| TreeError::Tile(t.path()))
            })
            .collect()
    }
}

#[test]
fn tile_proofs_agree_with_memory_tree() {
    let sizes = [1u64, 255, 256, 257, 511, 1000, 65535, 65536, 65537, 70_000];
    let mut t = MemoryTree::new();
    let mut tiles = MapTiles::default();
    let mut old = 0;
    for &size in &sizes {
        while t.size() < size {
            t.append(&t.size().to_be_bytes());
        }
        for tile in new_tiles(old, size) {
            let data = read_tile_data(&tile, &t).unwrap();
            assert_eq!(data.len(), tile.data_len());
            tiles.0.insert((tile.level, tile.index, tile.width), data);
        }
        old = size;
        let cached = TileHashReader::new(size, &tiles);
        let uncached = TileHashReader::with_cache_capacity(size, &tiles, 0);
        for r in [&cached, &uncached, &cached] {
            let root = tree_hash(size, r).unwrap();
            assert_eq!(root, tree_hash(size, &t).unwrap(), "size {size}");
            for index in [0, 1, size / 3, size / 2, size - 1]
                .into_iter()
                .filter(|&i| i < size)
            {
                let p = inclusion_proof(size, index, r).unwrap();
                assert_eq!(p, inclusion_proof(size, index, &t).unwrap());
                let leaf = t.leaf_hashes()[index as usize];
                verify_inclusion(index, size, &leaf, &p, &root).unwrap();
            }
            for &size1 in sizes.iter().filter(|&&s| s <= size) {
                let p = consistency_proof(size1, size, r).unwrap();
                assert_eq!(p, consistency_proof(size1, size, &t).unwrap());
            }
        }
    }
    // The example from tlog-tiles: size 70,000.
    let mut want: Vec<String> = new_tiles(0, 70_000)
        .iter()
        .filter(|t| !t.is_full() || t.level > 0)
        .map(Tile::path)
        .collect();
    want.sort();
    assert_eq!(
        want,
        [
            "tile/0/273.p/112",
            "tile/1/000",
            "tile/1/001.p/17",
            "tile/2/000.p/1"
        ]
    );
    assert_eq!(
        new_tiles(0, 70_000)
            .iter()
            .filter(|t| t.level == 0 && t.is_full())
            .count(),
        273
    );
    let p: Vec<String> = new_tiles(0, 256).iter().map(Tile::path).collect();
    assert_eq!(p, ["tile/0/000", "tile/1/000.p/1"]);
}

impl TileReader for &MapTiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        (*self).read_tiles(tiles)
    }
}

#[test]
fn tile_reader_refuses_hashes_beyond_tree() {
    let t = tree(10);
    let mut tiles = MapTiles::default();
    for tile in new_tiles(0, 10) {
        tiles.0.insert(
            (tile.level, tile.index, tile.width),
            read_tile_data(&tile, &t).unwrap(),
        );
    }
    let r = TileHashReader::new(10, &tiles);
    assert!(matches!(
        r.read_hashes(&[stored_hash_index(0, 10)]),
        Err(TreeError::NotFound(_))
    ));
    assert!(inclusion_proof(10, 10, &r).is_err());
}
