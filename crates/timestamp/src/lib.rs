//! RFC 3161 trusted time for the custody log: ask a time-stamping authority (TSA) to sign
//! a SHA-256 digest, and check the token it returns.
//!
//! What it does: builds a `TimeStampReq` (SHA-256 imprint, random nonce, certificate
//! requested), posts it over plain HTTP (`http://` only: TSAs commonly serve plain HTTP,
//! since the token itself is signed), checks the `TimeStampResp` status, nonce and imprint,
//! and returns the token (a CMS `ContentInfo`, DER). [`inspect`] reads a token's `TSTInfo`
//! (a strict, small DER reader; hostile input never panics). [`verify`] checks a token's
//! imprint against a digest and, given the TSA's CA certificate, its CMS signature and
//! certificate chain by running `openssl ts -verify` as a child process.
//!
//! What it must not do: depend on other Athar crates, follow redirects, or call a token
//! verified when its signature was not checked ([`Signature::Unchecked`]).

#[cfg(feature = "testing")]
pub mod testing;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// Largest response accepted from a TSA.
const MAX_RESPONSE: usize = 1 << 20;
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];

/// Why a time-stamp could not be had or checked.
#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error("{url}: only http:// time-stamping URLs are supported (the token is signed; TLS is not needed)")]
    Scheme { url: String },
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("{url}: the authority refused: status {status}{}", fail_info.map(|f| format!(", failInfo bits {f:#x}")).unwrap_or_default())]
    Refused {
        url: String,
        status: i64,
        fail_info: Option<u64>,
    },
    #[error("malformed time-stamp data: {0}")]
    Malformed(&'static str),
    #[error("the token covers another digest ({got}), not {want}")]
    WrongImprint { got: String, want: String },
    #[error("the token does not answer this request (nonce differs)")]
    WrongNonce,
    #[error("signature check failed: {0}")]
    Signature(String),
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The time the authority attests, as written in the token (GeneralizedTime).
    pub gen_time: String,
    /// Serial number, hex.
    pub serial: String,
    /// The digest it covers.
    pub imprint: Vec<u8>,
    /// Whether the imprint's hash algorithm is SHA-256.
    pub sha256: bool,
    /// The nonce, when present.
    pub nonce: Option<Vec<u8>>,
}

/// Whether a token's signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Checked against the given CA certificate (`openssl ts -verify`).
    Verified,
    /// Not checked: no CA certificate was given. Never to be shown as verified.
    Unchecked,
}

/// A DER element: tag, contents, and the whole encoding.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
    whole: &'a [u8],
}

/// Reads one DER element off the front of `input`; returns it and the rest.
fn tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), TsaError> {
    let bad = TsaError::Malformed;
    let (&tag, rest) = input.split_first().ok_or(bad("truncated element"))?;
    if tag & 0x1f == 0x1f {
        return Err(bad("multi-byte tags are not used by RFC 3161"));
    }
    let (&first, rest) = rest.split_first().ok_or(bad("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad("unsupported or truncated length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad("element longer than its input"));
    }
    let header = input.len() - rest.len();
    Ok((
        Tlv {
            tag,
            body: &rest[..len],
            whole: &input[..header + len],
        },
        &rest[len..],
    ))
}

/// Reads an element that must have `tag`.
fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(Tlv<'a>, &'a [u8]), TsaError> {
    let (t, rest) = tlv(input)?;
    if t.tag != tag {
        return Err(TsaError::Malformed(what));
    }
    Ok((t, rest))
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(body);
    out
}

/// Minimal DER contents of a non-negative INTEGER with these big-endian bytes.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    match trimmed.first() {
        None => vec![0],
        Some(b) if b & 0x80 != 0 => [&[0u8][..], &trimmed].concat(),
        Some(_) => trimmed,
    }
}

/// A DER `TimeStampReq` for a SHA-256 digest, with `nonce` (positive) and certReq TRUE.
pub fn request_der(digest: &[u8; 32], nonce: &[u8; 8]) -> Vec<u8> {
    let alg = der(0x30, &[der(0x06, OID_SHA256), vec![0x05, 0x00]].concat());
    let imprint = der(0x30, &[alg, der(0x04, digest)].concat());
    let body = [
        der(0x02, &[1]),
        imprint,
        der(0x02, &der_uint(nonce)),
        vec![0x01, 0x01, 0xff],
    ]
    .concat();
    der(0x30, &body)
}

/// Asks the TSA at `url` (http://host[:port]/path) to time-stamp `digest`. Returns the
/// token (DER), after checking the response's status, nonce and imprint.
pub fn request(url: &str, digest: &[u8; 32], timeout: Duration) -> Result<Vec<u8>, TsaError> {
    let http = |message: String| TsaError::Http {
        url: url.to_owned(),
        message,
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| TsaError::Scheme {
            url: url.to_owned(),
        })?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if hostport.is_empty() {
        return Err(http("no host".into()));
    }
    let addr_text = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let addr = addr_text
        .to_socket_addrs()
        .map_err(|e| http(format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| http("cannot resolve".into()))?;
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce).map_err(|e| http(format!("no randomness: {e}")))?;
    let body = request_der(digest, &nonce);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| http(format!("cannot connect: {e}")))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| http(e.to_string()))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| http(e.to_string()))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/timestamp-query\r\nAccept: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&body))
        .map_err(|e| http(format!("sending: {e}")))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE as u64 + 16 * 1024)
        .read_to_end(&mut raw)
        .map_err(|e| http(format!("reading the reply: {e}")))?;
    let reply = http_body(&raw).map_err(|m| http(m.to_owned()))?;
    let token = parse_response(reply, url)?;
    let info = inspect(&token)?;
    if !info.sha256 || info.imprint != digest {
        return Err(TsaError::WrongImprint {
            got: hex::encode(&info.imprint),
            want: hex::encode(digest),
        });
    }
    let mut want_nonce = vec![0u8];
    want_nonce.extend_from_slice(&nonce);
    let got = info.nonce.as_deref().map(|n| {
        n.iter()
            .skip_while(|b| **b == 0)
            .copied()
            .collect::<Vec<u8>>()
    });
    let want = want_nonce
        .iter()
        .skip_while(|b| **b == 0)
        .copied()
        .collect::<Vec<u8>>();
    if got.as_deref() != Some(want.as_slice()) {
        return Err(TsaError::WrongNonce);
    }
    Ok(token)
}

/// The body of an HTTP/1.x response with status 200 (Content-Length or chunked).
fn http_body(raw: &[u8]) -> Result<&[u8], &'static str> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header in the reply")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "HTTP header is not text")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return Err(if code.starts_with('3') {
            "the authority redirected; redirects are not followed"
        } else {
            "the authority answered with an HTTP error"
        });
    }
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding")
            && v.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }
    let body = &raw[end + 4..];
    if chunked {
        return dechunk(body);
    }
    match length {
        Some(n) if n <= body.len() && n <= MAX_RESPONSE => Ok(&body[..n]),
        Some(_) => Err("reply shorter than its Content-Length, or too large"),
        None if body.len() <= MAX_RESPONSE => Ok(body),
        None => Err("reply too large"),
    }
}

/// A chunked body that is a single chunk (what TSAs send); longer ones are refused.
fn dechunk(body: &[u8]) -> Result<&[u8], &'static str> {
    let line_end = body
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or("bad chunk")?;
    let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk")?;
    let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        .map_err(|_| "bad chunk size")?;
    let start = line_end + 2;
    if size > MAX_RESPONSE || body.len() < start + size {
        return Err("truncated chunk");
    }
    let rest = &body[start + size..];
    if !(rest.starts_with(b"\r\n0\r\n") || rest.starts_with(b"\r\n0;")) {
        return Err("multi-chunk replies are not supported");
    }
    Ok(&body[start..start + size])
}

/// The token inside a `TimeStampResp`, or the refusal it carries.
pub fn parse_response(reply: &[u8], url: &str) -> Result<Vec<u8>, TsaError> {
    let (resp, _) = expect(reply, 0x30, "TimeStampResp is not a SEQUENCE")?;
    let (status_info, rest) = expect(resp.body, 0x30, "PKIStatusInfo is not a SEQUENCE")?;
    let (status, mut more) = expect(status_info.body, 0x02, "PKIStatus is not an INTEGER")?;
    let status_value = status
        .body
        .iter()
        .fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    if status_value != 0 && status_value != 1 {
        let mut fail_info = None;
        while !more.is_empty() {
            let (t, r) = tlv(more)?;
            if t.tag == 0x03 && t.body.len() > 1 {
                fail_info = Some(
                    t.body[1..]
                        .iter()
                        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
                );
            }
            more = r;
        }
        return Err(TsaError::Refused {
            url: url.to_owned(),
            status: status_value,
            fail_info,
        });
    }
    let (token, _) = expect(rest, 0x30, "no time-stamp token in a granted reply")?;
    Ok(token.whole.to_vec())
}

/// Reads a token's `TSTInfo`.
pub fn inspect(token: &[u8]) -> Result<TokenInfo, TsaError> {
    let m = TsaError::Malformed;
    let (ci, _) = expect(token, 0x30, "token is not a ContentInfo SEQUENCE")?;
    let (oid, rest) = expect(ci.body, 0x06, "ContentInfo has no content type")?;
    if oid.body != OID_SIGNED_DATA {
        return Err(m("token is not CMS SignedData"));
    }
    let (explicit, _) = expect(rest, 0xa0, "ContentInfo has no content")?;
    let (sd, _) = expect(explicit.body, 0x30, "SignedData is not a SEQUENCE")?;
    let (_, rest) = expect(sd.body, 0x02, "SignedData has no version")?;
    let (_, rest) = expect(rest, 0x31, "SignedData has no digestAlgorithms")?;
    let (encap, _) = expect(rest, 0x30, "SignedData has no encapContentInfo")?;
    let (ctype, rest) = expect(encap.body, 0x06, "encapContentInfo has no type")?;
    if ctype.body != OID_TST_INFO {
        return Err(m("the signed content is not a TSTInfo"));
    }
    let (econtent, _) = expect(rest, 0xa0, "encapContentInfo has no content")?;
    let (octets, _) = expect(econtent.body, 0x04, "TSTInfo is not in an OCTET STRING")?;
    let (tst, _) = expect(octets.body, 0x30, "TSTInfo is not a SEQUENCE")?;
    let (_, rest) = expect(tst.body, 0x02, "TSTInfo has no version")?;
    let (_, rest) = expect(rest, 0x06, "TSTInfo has no policy")?;
    let (imprint, rest) = expect(rest, 0x30, "TSTInfo has no messageImprint")?;
    let (alg, after_alg) = expect(imprint.body, 0x30, "messageImprint has no algorithm")?;
    let (alg_oid, _) = expect(alg.body, 0x06, "hash algorithm has no OID")?;
    let (digest, _) = expect(after_alg, 0x04, "messageImprint has no digest")?;
    let (serial, rest) = expect(rest, 0x02, "TSTInfo has no serialNumber")?;
    let (gen_time, mut rest) = expect(rest, 0x18, "TSTInfo has no genTime")?;
    let mut nonce = None;
    while !rest.is_empty() {
        let (t, r) = tlv(rest)?;
        if t.tag == 0x02 {
            nonce = Some(t.body.to_vec());
        }
        rest = r;
    }
    Ok(TokenInfo {
        gen_time: String::from_utf8(gen_time.body.to_vec())
            .map_err(|_| m("genTime is not text"))?,
        serial: hex::encode(serial.body),
        imprint: digest.body.to_vec(),
        sha256: alg_oid.body == OID_SHA256,
        nonce,
    })
}

/// Checks that `token` covers `digest` (SHA-256) and, given the TSA's CA certificate, that
/// its signature and certificate chain verify (`openssl ts -verify`, with a time limit).
pub fn verify(
    token: &[u8],
    digest: &[u8; 32],
    ca_file: Option<&Path>,
) -> Result<(TokenInfo, Signature), TsaError> {
    let info = inspect(token)?;
    if !info.sha256 || info.imprint != digest {
        return Err(TsaError::WrongImprint {
            got: hex::encode(&info.imprint),
            want: hex::encode(digest),
        });
    }
    let Some(ca) = ca_file else {
        return Ok((info, Signature::Unchecked));
    };
    let dir = std::env::temp_dir().join(format!(
        "athar-tsr-{}-{}",
        std::process::id(),
        hex::encode(&digest[..6])
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| TsaError::Signature(format!("temporary folder: {e}")))?;
    let file = dir.join(format!("{}.tsr", info.serial));
    std::fs::write(&file, token)
        .map_err(|e| TsaError::Signature(format!("temporary file: {e}")))?;
    let result = run_openssl_verify(&file, digest, ca);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir(&dir);
    result.map(|()| (info, Signature::Verified))
}

fn run_openssl_verify(file: &Path, digest: &[u8; 32], ca: &Path) -> Result<(), TsaError> {
    let mut child = std::process::Command::new("openssl")
        .args([
            "ts",
            "-verify",
            "-token_in",
            "-digest",
            &hex::encode(digest),
            "-in",
        ])
        .arg(file)
        .arg("-CAfile")
        .arg(ca)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| TsaError::Signature(format!("cannot run openssl: {e}")))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TsaError::Signature("openssl did not finish in time".into()));
            }
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| TsaError::Signature(e.to_string()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("Verification: OK") {
        Ok(())
    } else {
        let why = text
            .lines()
            .find(|l| l.contains("error") || l.contains("FAILED"))
            .unwrap_or("verification failed");
        Err(TsaError::Signature(why.trim().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_matches_openssl_layout() {
        // `openssl ts -query -sha256 -cert` makes the same structure (version, imprint,
        // nonce, certReq); the golden bytes below were checked against its output.
        let d = [0x11u8; 32];
        let r = request_der(&d, &[0x82, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(&r[..4], &[0x30, 0x44, 0x02, 0x01]);
        // Nonces are minimal INTEGERs: no redundant leading zero bytes.
        assert_eq!(der_uint(&[0, 0, 5]), vec![5]);
        assert_eq!(der_uint(&[0, 0x80]), vec![0, 0x80]);
        assert_eq!(der_uint(&[0, 0]), vec![0]);
        assert_eq!(request_der(&d, &[0, 0, 0, 0, 0, 0, 0, 9]).len(), 62);
        assert_eq!(&r[r.len() - 3..], &[0x01, 0x01, 0xff]);
        assert!(r.windows(32).any(|w| w == d));
        assert_eq!(r.len(), 70);
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..2000usize {
            let mut v = Vec::with_capacity(len % 300);
            for _ in 0..(len % 300) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.push(seed as u8);
            }
            if len % 3 == 0 && !v.is_empty() {
                v[0] = 0x30;
            }
            let _ = inspect(&v);
            let _ = parse_response(&v, "http://test");
            let _ = http_body(&v);
        }
    }
}
