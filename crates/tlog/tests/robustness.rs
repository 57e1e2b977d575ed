//! Stable-Rust stand-in for the fuzz targets in `fuzz/`: every parser of untrusted input
//! gets thousands of deterministic pseudo-random and mutated valid inputs and must return
//! (Ok or Err) without panicking; what parses must format back to the same bytes.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use athar_tlog::checkpoint::Checkpoint;
use athar_tlog::note::{self, Ed25519Signer, Ed25519Verifier, Note, Verifiers};
use athar_tlog::proof::TlogProof;
use athar_tlog::rfc6962::{
    inclusion_proof, verify_consistency, verify_inclusion, verify_subtree_consistency,
    verify_subtree_inclusion, Hash, MemoryTree,
};
use athar_tlog::tile::{
    decode_entry_bundle, encode_entry_bundle, hash_from_tile, parse_tile_path, tile_for_index,
    TilePath,
};

const ROUNDS: usize = 3000;

/// xorshift64*: deterministic, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that tend to matter to these parsers.
const INTERESTING: &[&[u8]] = &[
    b"\n",
    b"\n\n",
    b" ",
    b"+",
    b"/",
    b"=",
    b"0",
    b"x",
    b".p/",
    b"\xe2\x80\x94 ",
    b"\xff",
    b"\t",
    b"\r",
    b"index ",
    b"extra ",
    b"c2sp.org/tlog-proof@v1\n",
    b"tile/",
    b"entries/",
];

/// One random mutation of `input`.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let end = (at + rng.below(8)).min(v.len());
                v.drain(at.min(end)..end);
            }
            2 => {
                let s = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, s.iter().copied());
            }
            3 => v.truncate(at),
            4 if !v.is_empty() => {
                let i = rng.below(v.len());
                let b = v[i];
                v.insert(i, b);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(200);
    (0..len)
        .map(|_| {
            if rng.below(4) == 0 {
                b"\n+ x0/.p="[rng.below(9)]
            } else {
                rng.next() as u8
            }
        })
        .collect()
}

/// Feeds `f` random inputs and mutations of each seed.
fn drive(seeds: &[Vec<u8>], mut f: impl FnMut(&[u8])) {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for s in seeds {
        f(s);
    }
    for i in 0..ROUNDS {
        let input = if i % 4 == 0 || seeds.is_empty() {
            random_bytes(&mut rng)
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        f(&input);
    }
}

fn fixture() -> (MemoryTree, Ed25519Signer, String, TlogProof) {
    let mut t = MemoryTree::new();
    for i in 0..37u32 {
        t.append(&i.to_be_bytes());
    }
    let log = Ed25519Signer::from_seed("example.com/log", &[2; 32]).unwrap();
    let cp = Checkpoint {
        origin: "example.com/log".into(),
        size: t.size(),
        root: t.root(),
        extensions: vec!["ext".into()],
    };
    let signed = note::sign(&cp.to_text(), &[&log]).unwrap();
    let proof = TlogProof {
        extra: Some(b"extra data".to_vec()),
        index: 9,
        hashes: inclusion_proof(t.size(), 9, &t).unwrap(),
        checkpoint: signed.clone(),
    };
    (t, log, signed, proof)
}

#[test]
fn checkpoint_parser_never_panics() {
    let (_, _, signed, _) = fixture();
    let body = Note::parse(signed.as_bytes()).unwrap().text;
    drive(&[body.into_bytes()], |input| {
        if let Ok(text) = std::str::from_utf8(input) {
            if let Ok(cp) = Checkpoint::parse(text) {
                assert_eq!(cp.to_text(), text);
            }
        }
    });
}

#[test]
fn note_parser_never_panics() {
    let (_, log, signed, _) = fixture();
    let v = log.verifier();
    let known = Verifiers::new(&[&v]);
    let seeds = vec![
        signed.into_bytes(),
        v.vkey().into_bytes(),
        log.skey().into_bytes(),
    ];
    drive(&seeds, |input| {
        if let Ok(n) = Note::parse(input) {
            assert_eq!(n.to_text().as_bytes(), input);
        }
        let _ = note::open(input, &known);
        if let Ok(s) = std::str::from_utf8(input) {
            if let Ok(v) = Ed25519Verifier::from_vkey(s) {
                assert_eq!(v.vkey(), s);
            }
            let _ = Ed25519Signer::from_skey(s);
        }
    });
}

#[test]
fn proof_parser_never_panics() {
    let (_, log, _, proof) = fixture();
    let v = log.verifier();
    let known = Verifiers::new(&[&v]);
    let text = proof.to_text();
    // The fixture itself verifies.
    TlogProof::parse(text.as_bytes())
        .unwrap()
        .verify_entry("example.com/log", &known, &9u32.to_be_bytes())
        .unwrap();
    drive(&[text.into_bytes()], |input| {
        if let Ok(p) = TlogProof::parse(input) {
            assert_eq!(p.to_text().as_bytes(), input);
            let _ = p.verify_entry("example.com/log", &known, &9u32.to_be_bytes());
        }
    });
}

#[test]
fn tile_parsers_never_panic() {
    let seeds: Vec<Vec<u8>> = [
        "tile/0/x001/x234/067",
        "tile/63/005.p/255",
        "tile/entries/x001/000.p/17",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([encode_entry_bundle(&[&b"abc"[..], b"", b"defg"]).unwrap()])
    .collect();
    drive(&seeds, |input| {
        if let Ok(s) = std::str::from_utf8(input) {
            match parse_tile_path(s) {
                Ok(TilePath::Hashes(t)) => assert_eq!(t.path(), s),
                Ok(TilePath::Entries(t)) => assert_eq!(t.entries_path(), s),
                Err(_) => {}
            }
        }
        if let Ok(entries) = decode_entry_bundle(input) {
            assert_eq!(encode_entry_bundle(&entries).unwrap(), input);
        }
        if let Some((head, rest)) = input.split_first_chunk::<8>() {
            let index = u64::from_be_bytes(*head);
            let (tile, _, _) = tile_for_index(index);
            let _ = hash_from_tile(&tile, rest, index);
        }
    });
}

#[test]
fn verifiers_never_panic_on_extreme_sizes() {
    let mut rng = Rng(42);
    let h: Hash = [7; 32];
    let edge = [
        0,
        1,
        2,
        3,
        u64::MAX / 2,
        u64::MAX - 1,
        u64::MAX,
        1 << 63,
        (1 << 63) + 1,
    ];
    let pick = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            edge[rng.below(edge.len())]
        } else {
            rng.next() >> rng.below(64)
        }
    };
    for _ in 0..ROUNDS {
        let (a, b, c) = (pick(&mut rng), pick(&mut rng), pick(&mut rng));
        let proof = vec![h; rng.below(70)];
        let _ = verify_inclusion(a, b, &h, &proof, &h);
        let _ = verify_consistency(a, b, &proof, &h, &h);
        let _ = verify_subtree_inclusion(a, b, c, &h, &proof, &h);
        let _ = verify_subtree_consistency(a, b, c, &proof, &h, &h);
        let _ = tile_for_index(a);
    }
}
