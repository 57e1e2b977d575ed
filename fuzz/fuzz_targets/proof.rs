#![no_main]
//! tlog-proof files: parse arbitrary bytes; whatever parses must format back to itself and
//! verifying it against a fixed key and leaf never panics.

use athar_tlog::note::{Ed25519Signer, Verifiers};
use athar_tlog::proof::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.to_text().as_bytes(), data);
        if let Ok(s) = Ed25519Signer::from_seed("example.com/log", &[2; 32]) {
            let v = s.verifier();
            let _ = p.verify_entry("example.com/log", &Verifiers::new(&[&v]), b"entry");
        }
    }
});
