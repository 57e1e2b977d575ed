//! Against a real local TSA (openssl ts -reply): request, inspect, verify, and every
//! failure named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use athar_timestamp::testing::{LocalTsa, Mode};
use athar_timestamp::{inspect, request, verify, Signature, TsaError};
use sha2::Digest;

const T: Duration = Duration::from_secs(10);

#[test]
fn round_trip_and_failures() {
    let Some(tsa) = LocalTsa::start() else { return };
    let digest: [u8; 32] = sha2::Sha256::digest(b"synthetic checkpoint").into();
    let token = request(tsa.url(), &digest, T).unwrap();
    let info = inspect(&token).unwrap();
    assert!(info.sha256 && info.imprint == digest);
    assert!(info.gen_time.ends_with('Z'), "{}", info.gen_time);
    // Signature and chain against the right CA.
    let (_, sig) = verify(&token, &digest, Some(&tsa.ca_file())).unwrap();
    assert_eq!(sig, Signature::Verified);
    // Without a CA the signature is reported unchecked, never verified.
    assert_eq!(
        verify(&token, &digest, None).unwrap().1,
        Signature::Unchecked
    );
    // Another digest: the imprint does not match.
    let other: [u8; 32] = sha2::Sha256::digest(b"another").into();
    assert!(matches!(
        verify(&token, &other, Some(&tsa.ca_file())),
        Err(TsaError::WrongImprint { .. })
    ));
    // A token from another authority's CA is refused with this CA.
    let Some(stranger) = LocalTsa::start() else {
        return;
    };
    let theirs = request(stranger.url(), &digest, T).unwrap();
    assert!(matches!(
        verify(&theirs, &digest, Some(&tsa.ca_file())),
        Err(TsaError::Signature(_))
    ));
    // A flipped byte inside the signed content breaks the signature.
    let mut tampered = token.clone();
    let at = tampered.len() / 3;
    tampered[at] ^= 0x01;
    assert!(verify(&tampered, &digest, Some(&tsa.ca_file())).is_err());
    // Refusals, garbage, bad schemes, nobody listening: clear errors.
    tsa.set_mode(Mode::Reject);
    let e = request(tsa.url(), &digest, T).unwrap_err();
    assert!(matches!(e, TsaError::Refused { status: 2, .. }), "{e}");
    assert!(e.to_string().contains(tsa.url()));
    tsa.set_mode(Mode::Garbage);
    assert!(matches!(
        request(tsa.url(), &digest, T),
        Err(TsaError::Malformed(_))
    ));
    assert!(matches!(
        request("https://127.0.0.1:9/x", &digest, T),
        Err(TsaError::Scheme { .. })
    ));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = request(&format!("http://{closed}/tsa"), &digest, T).unwrap_err();
    assert!(e.to_string().contains(&closed.to_string()), "{e}");
}

#[test]
fn truncated_tokens_are_errors() {
    let Some(tsa) = LocalTsa::start() else { return };
    let digest = [7u8; 32];
    let token = request(tsa.url(), &digest, T).unwrap();
    for cut in (0..token.len()).step_by(37) {
        assert!(inspect(&token[..cut]).is_err() || cut == token.len());
    }
}
