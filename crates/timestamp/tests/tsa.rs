//! Round trips against a real local TSA (`openssl ts -reply`) and hostile responses.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use athar_timestamp::{
    inspect, read_response, request, request_der, verify, verify_with, ChainTime, OpensslConfig,
    SignatureCheck, TsaError,
};
use sha2::Digest;
use support::{canned, fixture, http_ok, silent, Rng};

const T: Duration = Duration::from_secs(5);

fn digest(label: &str) -> [u8; 32] {
    sha2::Sha256::digest(label.as_bytes()).into()
}

#[test]
fn request_then_verify_round_trip() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 1");
    let token = request(&fx.url("/"), &d, T).unwrap();
    let info = token.info();
    assert_eq!(info.hash_algorithm, "sha256");
    assert_eq!(info.message_imprint, d);
    assert_eq!(info.policy, "1.2.3.4.1");
    assert_eq!(info.nonce.as_ref().map(String::len), Some(16));
    assert!(!info.serial.is_empty());
    assert_eq!(info.signature, SignatureCheck::NotChecked);
    let name = info.tsa_name.as_deref().unwrap();
    assert!(name.contains("CN=Athar Test TSA main"), "{name}");
    // RFC 3339 UTC, e.g. 2026-11-27T01:45:09Z
    let t = info.gen_time.as_bytes();
    assert_eq!(
        (t.len(), t[4], t[10], t[19]),
        (20, b'-', b'T', b'Z'),
        "{}",
        info.gen_time
    );

    assert_eq!(inspect(token.der()).unwrap(), {
        let mut i = info.clone();
        i.signature = SignatureCheck::NotChecked;
        i
    });
    let unchecked = verify(token.der(), &d, None).unwrap();
    assert_eq!(unchecked.signature, SignatureCheck::DigestsOnly);
    let verified = verify(token.der(), &d, Some(&fx.pki.ca)).unwrap();
    assert_eq!(
        verified.signature,
        SignatureCheck::ChainVerified {
            ca_file: fx.pki.ca.clone()
        }
    );
    assert_eq!(verified.gen_time, info.gen_time);
    // Our reading agrees with openssl's.
    let text = fx.token_text(token.der());
    let field = |name: &str| {
        let line = text.lines().find_map(|l| l.strip_prefix(name)).unwrap();
        line.trim()
            .trim_start_matches("0x")
            .trim_start_matches('0')
            .to_ascii_lowercase()
    };
    assert_eq!(
        field("Nonce:"),
        info.nonce.as_deref().unwrap().trim_start_matches('0')
    );
    assert_eq!(field("Serial number:"), info.serial.trim_start_matches('0'));
    assert!(
        text.contains("TSA: DirName:/O=Synthetic Test/CN=Athar Test TSA main"),
        "{text}"
    );

    let now = OpensslConfig {
        chain_time: ChainTime::Now,
        ..OpensslConfig::default()
    };
    assert_eq!(
        verify_with(token.der(), &d, Some(&fx.pki.ca), &now).unwrap(),
        verified
    );
}

#[test]
fn chunked_response_round_trip() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint chunked");
    let token = request(&fx.url("/chunked"), &d, T).unwrap();
    verify(token.der(), &d, Some(&fx.pki.ca)).unwrap();
}

#[test]
fn wrong_digest_is_rejected() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 2");
    let token = request(&fx.url("/"), &d, T).unwrap();
    let other = digest("checkpoint 3");
    for ca in [None, Some(fx.pki.ca.as_path())] {
        match verify(token.der(), &other, ca) {
            Err(TsaError::ImprintMismatch { expected, found }) => {
                assert_eq!(expected, hex::encode(other));
                assert_eq!(found, hex::encode(d));
            }
            other => panic!("expected ImprintMismatch, got {other:?}"),
        }
    }
}

#[test]
fn tampered_token_is_rejected() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 4");
    let token = request(&fx.url("/"), &d, T).unwrap();
    let der = token.der();

    // Change the time inside TSTInfo (the structure stays valid DER).
    let compact: String = token
        .info()
        .gen_time
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let pos = der
        .windows(compact.len())
        .position(|w| w == compact.as_bytes())
        .unwrap();
    let mut altered = der.to_vec();
    let i = pos + 13; // ones digit of the seconds
    altered[i] = if altered[i] == b'9' {
        b'0'
    } else {
        altered[i] + 1
    };
    assert_ne!(inspect(&altered).unwrap().gen_time, token.info().gen_time);
    for ca in [None, Some(fx.pki.ca.as_path())] {
        assert!(matches!(
            verify(&altered, &d, ca),
            Err(TsaError::ContentDigestMismatch)
        ));
    }

    // Change the signature (the last bytes of the token): only the signature check sees it.
    let mut bad_sig = der.to_vec();
    let n = bad_sig.len();
    bad_sig[n - 5] ^= 0x01;
    assert_eq!(
        verify(&bad_sig, &d, None).unwrap().signature,
        SignatureCheck::DigestsOnly
    );
    match verify(&bad_sig, &d, Some(&fx.pki.ca)) {
        Err(TsaError::SignatureInvalid { ca_file, detail }) => {
            assert_eq!(ca_file, fx.pki.ca);
            assert!(!detail.is_empty());
        }
        other => panic!("expected SignatureInvalid, got {other:?}"),
    }

    // Truncated or extended tokens are malformed.
    for bad in [&der[..der.len() - 1], &[der, &[0u8][..]].concat()[..]] {
        assert!(matches!(
            verify(bad, &d, None),
            Err(TsaError::Malformed { .. })
        ));
    }
}

#[test]
fn token_from_another_ca_is_rejected() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 5");
    let token = request(&fx.url("/other"), &d, T).unwrap();
    assert_eq!(
        verify(token.der(), &d, None).unwrap().signature,
        SignatureCheck::DigestsOnly
    );
    assert!(matches!(
        verify(token.der(), &d, Some(&fx.pki.ca)),
        Err(TsaError::SignatureInvalid { .. })
    ));
    verify(token.der(), &d, Some(&fx.other.ca)).unwrap();
}

#[test]
fn rejection_status_is_a_clear_error() {
    let Some(fx) = fixture() else { return };
    let url = fx.url("/reject");
    match request(&url, &digest("checkpoint 6"), T) {
        Err(e @ TsaError::Rejected { .. }) => {
            let msg = e.to_string();
            let TsaError::Rejected {
                url: u,
                status,
                status_name,
                fail_info,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!(
                (u.as_str(), status, status_name),
                (url.as_str(), 2, "rejection")
            );
            assert!(fail_info.contains(&"badAlg".to_owned()), "{fail_info:?}");
            assert!(msg.contains(&url) && msg.contains("badAlg"), "{msg}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[test]
fn responses_for_another_request_are_refused() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 7");
    // A genuine response, but for a request with another nonce.
    let replay = fx.reply("tsa_ok", &request_der(&d, 12345));
    let url = canned(http_ok(&replay));
    assert!(matches!(
        request(&url, &d, T),
        Err(TsaError::ResponseMismatch { field: "nonce", .. })
    ));
}

#[test]
fn responses_read_without_http() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 10");
    let resp = fx.reply("tsa_ok", &request_der(&d, u64::MAX));
    let token = read_response(&resp, &d, u64::MAX, "resp.tsr").unwrap();
    verify(token.der(), &d, Some(&fx.pki.ca)).unwrap();
    // Small nonces are encoded in fewer bytes; they must still match.
    let resp = fx.reply("tsa_ok", &request_der(&d, 1));
    read_response(&resp, &d, 1, "resp.tsr").unwrap();
    let err = read_response(&resp, &d, 2, "resp.tsr").unwrap_err();
    assert!(
        matches!(err, TsaError::ResponseMismatch { field: "nonce", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("resp.tsr"));
    let err = read_response(&resp, &digest("other"), 1, "resp.tsr").unwrap_err();
    assert!(
        matches!(
            err,
            TsaError::ResponseMismatch {
                field: "messageImprint",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn garbage_and_truncated_responses_are_errors() {
    let real = match fixture() {
        Some(fx) => fx.reply("tsa_ok", &request_der(&digest("x"), 1)),
        None => vec![0x30, 0x03, 0x02, 0x01, 0x00],
    };
    type Check = fn(&TsaError) -> bool;
    let malformed: Check = |e| matches!(e, TsaError::Malformed { .. });
    let http: Check = |e| matches!(e, TsaError::Http { .. });
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("empty body", http_ok(b""), malformed),
        ("garbage body", http_ok(b"<html>hello</html>"), malformed),
        (
            "truncated response",
            http_ok(&real[..real.len() / 2]),
            malformed,
        ),
        (
            "one byte short",
            http_ok(&real[..real.len() - 1]),
            malformed,
        ),
        (
            "trailing bytes",
            http_ok(&[&real[..], b"xx"].concat()),
            malformed,
        ),
        ("not HTTP", b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(), http),
        ("closed at once", Vec::new(), http),
        (
            "headers cut",
            b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(),
            http,
        ),
        (
            "short body",
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n0123".to_vec(),
            http,
        ),
        (
            "bad length",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".to_vec(),
            http,
        ),
        (
            "conflicting lengths",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            http,
        ),
        (
            "bad chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n".to_vec(),
            http,
        ),
        (
            "cut chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab".to_vec(),
            http,
        ),
        (
            "HTTP error",
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec(),
            |e| matches!(e, TsaError::HttpStatus { status: 500, .. }),
        ),
        (
            "huge length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
            |e| matches!(e, TsaError::TooLarge { .. }),
        ),
        (
            "endless body",
            [&b"HTTP/1.1 200 OK\r\n\r\n"[..], &vec![0x30; 2 << 20]].concat(),
            |e| matches!(e, TsaError::TooLarge { .. }),
        ),
        (
            "granted without token",
            http_ok(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00]),
            malformed,
        ),
    ];
    for (what, response, check) in cases {
        let url = canned(response);
        match request(&url, &digest("y"), T) {
            Err(e) => {
                assert!(check(&e), "{what}: unexpected error {e:?}");
                assert!(
                    e.to_string().contains(&url),
                    "{what}: error does not name the URL: {e}"
                );
            }
            Ok(t) => panic!("{what}: accepted {t:?}"),
        }
    }
}

#[test]
fn silent_server_times_out() {
    let url = silent();
    let start = Instant::now();
    let err = request(&url, &digest("z"), Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, TsaError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains(&url));
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn https_is_refused_clearly() {
    let url = "https://tsa.example/tsr";
    let err = request(url, &digest("a"), T).unwrap_err();
    assert!(matches!(err, TsaError::UnsupportedUrl { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(url) && msg.contains("https") && msg.contains("TLS"),
        "{msg}"
    );
}

#[test]
fn connection_refused_names_the_url() {
    // A port just freed can be taken by a parallel test's server: retry with fresh ports.
    for _ in 0..20 {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/tsr");
        let err = request(&url, &digest("b"), T).unwrap_err();
        assert!(err.to_string().contains(&url), "{err}");
        if matches!(err, TsaError::Connect { .. }) {
            return;
        }
    }
    panic!("never got a refused connection");
}

#[test]
fn verify_reports_unusable_ca_file_and_openssl() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 8");
    let token = request(&fx.url("/"), &d, T).unwrap();
    let missing = fx.dir.path().join("no-such-ca.pem");
    match verify(token.der(), &d, Some(&missing)) {
        Err(e @ TsaError::CaFile { .. }) => assert!(e.to_string().contains("no-such-ca.pem")),
        other => panic!("expected CaFile, got {other:?}"),
    }
    let cfg = OpensslConfig {
        program: "/nonexistent/openssl".into(),
        timeout: Duration::from_secs(5),
        chain_time: ChainTime::Now,
    };
    assert!(matches!(
        verify_with(token.der(), &d, Some(&fx.pki.ca), &cfg),
        Err(TsaError::Openssl { .. })
    ));
    // Not a CA file: openssl refuses, and so do we.
    assert!(matches!(
        verify(token.der(), &d, Some(Path::new("Cargo.toml"))),
        Err(TsaError::SignatureInvalid { .. })
    ));
}

#[test]
fn mutated_tokens_never_panic() {
    let Some(fx) = fixture() else { return };
    let d = digest("checkpoint 9");
    let token = request(&fx.url("/"), &d, T).unwrap();
    let der = token.der();
    let resp = fx.reply("tsa_ok", &request_der(&d, 7));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for round in 0..5000 {
        let mut m = if round % 2 == 0 {
            der.to_vec()
        } else {
            resp.clone()
        };
        for _ in 0..=rng.below(4) {
            let i = rng.below(m.len());
            match rng.below(6) {
                0 => m[i] ^= 1 << rng.below(8),
                1 => m[i] = rng.next() as u8,
                2 => m.truncate(i),
                3 => m.insert(i, rng.next() as u8),
                4 => {
                    m.remove(i);
                }
                _ => m[i] = [0x00, 0x80, 0x81, 0x84, 0xff][rng.below(5)],
            }
            if m.is_empty() {
                m.push(0x30);
            }
        }
        if inspect(&m).is_ok() {
            accepted += 1;
        }
        let _ = verify(&m, &d, None);
        let _ = read_response(&m, &d, 7, "mutated");
    }
    // Most mutations must be caught by the structure or the digests.
    assert!(accepted < 5000, "{accepted}");
}
