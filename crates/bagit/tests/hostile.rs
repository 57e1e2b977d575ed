//! Hostile tag files never make the validator panic (a cheap stand-in for fuzzing, which
//! needs a nightly toolchain): random bytes and mutations of valid lines are written as
//! `bagit.txt`, `bag-info.txt`, manifests and `fetch.txt`, and every report must name a file.

// Helpers unwrap like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::fs;

use athar_bagit::{validate, Options};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "BagIt-Version: 1.0\n",
    "BagIt-Version: 0.97\r\n",
    "Tag-File-Character-Encoding: UTF-8\n",
    "Tag-File-Character-Encoding: UTF-16\n",
    "Tag-File-Character-Encoding: ISO-8859-1\n",
    "Payload-Oxum: 3.1\n",
    "Payload-Oxum: 99999999999999999999999.1\n",
    "  continued\n",
    "d41d8cd98f00b204e9800998ecf8427e  data/a\n",
    "d41d8cd98f00b204e9800998ecf8427e  data/../a\n",
    "d41d8cd98f00b204e9800998ecf8427e *./data/%0A%25%\n",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 data/A\n",
    "http://x - data/missing\n",
    "http://x 12 /etc/passwd\n",
    "\u{feff}",
    "\u{301}",
    ":",
    " ",
    "\t",
    "\r",
    "\n",
    "%",
    "~",
    "\\",
];

#[test]
fn random_tag_files_never_panic() {
    let names = [
        "bagit.txt",
        "bag-info.txt",
        "manifest-md5.txt",
        "manifest-sha256.txt",
        "tagmanifest-md5.txt",
        "fetch.txt",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..120 {
        let root = dir.path().join(format!("b{case}"));
        fs::create_dir_all(root.join("data")).unwrap();
        fs::write(root.join("data/a"), b"").unwrap();
        for name in names {
            if rng.below(4) == 0 {
                continue;
            }
            let mut body = Vec::new();
            for _ in 0..rng.below(12) {
                if rng.below(3) == 0 {
                    let n = rng.below(24);
                    body.extend((0..n).map(|_| rng.next() as u8));
                } else {
                    body.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
                }
            }
            fs::write(root.join(name), body).unwrap();
        }
        let report = validate(
            &root,
            &Options {
                threads: 1,
                ..Options::default()
            },
        );
        for issue in report.errors.iter().chain(&report.warnings) {
            assert!(!issue.path.is_empty(), "{issue}");
            assert!(!issue.message.is_empty(), "{issue}");
        }
    }
}

#[test]
fn not_a_bag() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "x").unwrap();
    for path in [file, dir.path().join("absent")] {
        let r = validate(&path, &Options::default());
        assert!(!r.is_valid());
    }
    let empty = validate(dir.path(), &Options::default());
    assert!(!empty.is_valid());
}
