#![no_main]
//! Signed notes and key strings: parse arbitrary bytes; a parsed note formats back to the
//! same bytes; opening with a fixed key never panics.

use athar_tlog::note::{self, Ed25519Signer, Ed25519Verifier, Note, Verifiers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = Note::parse(data) {
        assert_eq!(n.to_text().as_bytes(), data);
    }
    if let Ok(s) = Ed25519Signer::from_seed("fuzz.example", &[1; 32]) {
        let v = s.verifier();
        let _ = note::open(data, &Verifiers::new(&[&v]));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = Ed25519Verifier::from_vkey(s) {
            assert_eq!(v.vkey(), s);
        }
        let _ = Ed25519Signer::from_skey(s);
    }
});
