#![no_main]
//! Tile paths, entry bundles and tile data: parse arbitrary bytes; round-trip what parses;
//! reading a hash from arbitrary tile data never panics.

use athar_tlog::tile::{
    decode_entry_bundle, encode_entry_bundle, hash_from_tile, parse_tile_path, tile_for_index,
    TilePath,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match parse_tile_path(s) {
            Ok(TilePath::Hashes(t)) => assert_eq!(t.path(), s),
            Ok(TilePath::Entries(t)) => assert_eq!(t.entries_path(), s),
            Err(_) => {}
        }
    }
    if let Ok(entries) = decode_entry_bundle(data) {
        assert_eq!(encode_entry_bundle(&entries).ok().as_deref(), Some(data));
    }
    if let Some((head, rest)) = data.split_first_chunk::<8>() {
        let index = u64::from_be_bytes(*head);
        let (tile, _, _) = tile_for_index(index);
        let _ = hash_from_tile(&tile, rest, index);
    }
});
