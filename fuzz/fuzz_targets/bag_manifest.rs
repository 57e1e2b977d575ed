#![no_main]
//! BagIt manifest and `fetch.txt` bytes: the first byte picks the tag-file encoding and the
//! digest algorithm, the rest is read as a manifest and as a fetch file. Every line is an entry
//! or an error message, never a panic; every entry's digest is lowercase hex of the algorithm's
//! length and its path is relative and cannot climb out of the bag.

use athar_bagit::{parse_fetch, parse_manifest, Algorithm};
use libfuzzer_sys::fuzz_target;

const ENCODINGS: [&str; 6] = [
    "UTF-8",
    "ISO-8859-1",
    "UTF-16",
    "UTF-16LE",
    "UTF-16BE",
    "EBCDIC",
];
const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::Md5,
    Algorithm::Sha1,
    Algorithm::Sha224,
    Algorithm::Sha256,
    Algorithm::Sha384,
    Algorithm::Sha512,
];

fn check_path(path: &str) {
    assert!(!path.is_empty() && !path.starts_with('/') && !path.contains('\\'));
    assert!(!path.contains('\0'));
    assert!(path.split('/').all(|c| !matches!(c, "" | "." | "..")));
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let encoding = ENCODINGS[usize::from(pick & 7) % ENCODINGS.len()];
    let algorithm = ALGORITHMS[usize::from(pick >> 3) % ALGORITHMS.len()];
    let manifest = parse_manifest(bytes, encoding, algorithm);
    assert_eq!(manifest.is_none(), encoding == "EBCDIC");
    for (n, entry) in manifest.into_iter().flatten() {
        assert!(n >= 1);
        if let Ok(e) = entry {
            assert_eq!(e.digest.len(), algorithm.hex_len());
            assert!(e
                .digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            check_path(&e.path);
        }
    }
    for (n, entry) in parse_fetch(bytes, encoding).into_iter().flatten() {
        assert!(n >= 1);
        if let Ok(e) = entry {
            assert!(!e.url.is_empty());
            check_path(&e.path);
        }
    }
});
