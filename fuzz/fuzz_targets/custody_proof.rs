#![no_main]
//! Custody proofs as handed out (a v2 entry's opening, then a C2SP tlog-proof), read by
//! `athar log verify-proof` from untrusted files: parse arbitrary bytes without panicking;
//! what parses formats back to a proof that parses to the same value.

use athar_core::custody_proof::CustodyProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = CustodyProof::parse(data) {
        let text = proof.to_text();
        assert_eq!(CustodyProof::parse(text.as_bytes()).ok(), Some(proof));
    }
});
