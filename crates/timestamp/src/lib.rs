//! athar-timestamp: an RFC 3161 time-stamp client and verifier.
//!
//! Athar asks a Time-Stamping Authority (TSA) to time-stamp the SHA-256 of a signed custody-log
//! checkpoint, so that a court can see that the log's state existed at a given time. This crate:
//!
//! - builds a `TimeStampReq` (version 1, SHA-256 message imprint, random 64-bit nonce,
//!   `certReq` TRUE) and POSTs it with [`request`] over plain HTTP/1.1 (`std::net::TcpStream`);
//! - parses the `TimeStampResp`, refuses anything but `granted`/`grantedWithMods`, and checks
//!   that the token's nonce and message imprint are the ones it asked for;
//! - reads a token's `TSTInfo` ([`inspect`]) and verifies a token ([`verify`]).
//!
//! **Verification.** The message imprint and the CMS signed attribute `messageDigest` (which
//! binds the signature to the `TSTInfo`) are checked in pure Rust. The CMS signature itself and
//! the certificate chain (up to a CA file the caller trusts, with the TSA certificate's
//! critical `timeStamping` extended key usage) are checked by running `openssl ts -verify` as a
//! child process with a timeout. Without a CA file the signature is *not* checked and the result
//! says so ([`SignatureCheck::DigestsOnly`]); that state must never be shown as "verified".
//!
//! **What it must not do.** It does no TLS: `https://` URLs are refused with a clear error (TSAs
//! commonly serve plain HTTP, and the token is signed, so the transport need not be trusted).
//! It must not panic on any input from the network or from files, must not read unbounded
//! responses (at most [`MAX_RESPONSE_BYTES`]), and knows nothing of evidence, archives or the
//! custody log: it time-stamps 32-byte digests. It depends on no other workspace crate.
//!
//! DER is read by a small, strict in-crate reader (definite, minimal lengths; one element per
//! buffer; no trailing data), covering only what RFC 3161 and its CMS wrapping need; its
//! fuzz target is in `crates/timestamp/fuzz`. Feature `testing`: a local TSA (module `testing`:
//! `openssl ts -reply` on 127.0.0.1) for other crates' tests. Only the binary uses this crate.

#![forbid(unsafe_code)]

mod der;
mod http;
#[cfg(feature = "testing")]
pub mod testing;
mod tsp;
mod verify;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest HTTP response (headers and body) [`request`] accepts.
pub const MAX_RESPONSE_BYTES: usize = http::MAX_RESPONSE;

/// Default time limit for the `openssl ts -verify` child process.
pub const DEFAULT_OPENSSL_TIMEOUT: Duration = Duration::from_secs(30);

/// What a time-stamp token says, read from its `TSTInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The time the TSA asserts, RFC 3339 in UTC (e.g. `2026-11-27T01:45:09Z`, with the
    /// fraction the TSA gave, if any).
    pub gen_time: String,
    /// The token's serial number, lowercase hex.
    pub serial: String,
    /// The TSA policy under which the token was issued, dotted OID.
    pub policy: String,
    /// The message imprint's hash algorithm (`sha256`, …; the dotted OID when unknown).
    pub hash_algorithm: String,
    /// The message imprint: the digest that was time-stamped.
    pub message_imprint: Vec<u8>,
    /// The nonce, lowercase hex, if the token has one.
    pub nonce: Option<String>,
    /// The TSA's name, if the token names it (`CN=…,O=…`, `DNS:…`, `URI:…`, `email:…`).
    pub tsa_name: Option<String>,
    /// How much of the token has been checked.
    pub signature: SignatureCheck,
}

/// How much of a token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Only parsed ([`inspect`]): nothing is checked.
    NotChecked,
    /// The message imprint and the signed attribute `messageDigest` match, but the signature
    /// and the certificate chain were **not** checked (no CA file was given). Not verified.
    DigestsOnly,
    /// The imprint, the signed attributes, the CMS signature and the certificate chain up to
    /// `ca_file` were checked (`openssl ts -verify`).
    ChainVerified {
        /// The CA file the chain was checked against.
        ca_file: PathBuf,
    },
}

/// A time-stamp token (a CMS `ContentInfo`, DER) as returned by [`request`].
#[derive(Debug, Clone)]
pub struct Token {
    der: Vec<u8>,
    info: TokenInfo,
}

impl Token {
    /// The token's DER bytes (a CMS `ContentInfo` holding `SignedData`), what `openssl ts`
    /// calls a token (`-token_in`).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The token's DER bytes.
    pub fn into_der(self) -> Vec<u8> {
        self.der
    }

    /// What the token says. Its signature is not checked by [`request`]: use [`verify`].
    pub fn info(&self) -> &TokenInfo {
        &self.info
    }
}

/// How to run `openssl` for [`verify_with`].
#[derive(Debug, Clone)]
pub struct OpensslConfig {
    /// The `openssl` program (looked up in `PATH` when it has no slash).
    pub program: PathBuf,
    /// Time limit for the child process.
    pub timeout: Duration,
    /// When the certificate chain must have been valid.
    pub chain_time: ChainTime,
}

impl Default for OpensslConfig {
    fn default() -> Self {
        OpensslConfig {
            program: PathBuf::from("openssl"),
            timeout: DEFAULT_OPENSSL_TIMEOUT,
            chain_time: ChainTime::GenTime,
        }
    }
}

/// The moment at which certificate validity periods are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainTime {
    /// At the token's `genTime` (`openssl ts -verify -attime`): a token stays verifiable after
    /// the TSA certificate expires, as long-lived evidence needs. The default.
    GenTime,
    /// At the current time.
    Now,
}

/// Errors from requesting, reading or verifying time-stamp tokens.
#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    /// The URL is not a usable `http://` URL (including every `https://` URL).
    #[error("unsupported TSA URL {url:?}: {reason}")]
    UnsupportedUrl { url: String, reason: String },
    /// No connection could be made.
    #[error("cannot connect to TSA {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    /// Reading or writing failed after connecting.
    #[error("I/O error talking to TSA {url}: {source}")]
    Io { url: String, source: std::io::Error },
    /// The whole exchange took longer than allowed.
    #[error("TSA {url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    /// The HTTP response was malformed.
    #[error("bad HTTP response from TSA {url}: {reason}")]
    Http { url: String, reason: String },
    /// The HTTP status was not 200.
    #[error("TSA {url} answered HTTP {status} {reason}")]
    HttpStatus {
        url: String,
        status: u16,
        reason: String,
    },
    /// The response exceeded the size limit.
    #[error("response from TSA {url} exceeds {limit} bytes")]
    TooLarge { url: String, limit: usize },
    /// A DER structure (response or token) is malformed; `field` names the part.
    #[error("{context}: malformed {field}: {reason}")]
    Malformed {
        context: String,
        field: &'static str,
        reason: String,
    },
    /// The TSA refused the request (PKIStatus other than granted / grantedWithMods).
    #[error(
        "TSA {url} refused the request: status {status} ({status_name}){}{}",
        if fail_info.is_empty() { String::new() } else { format!(", failInfo {}", fail_info.join(",")) },
        status_text.as_ref().map(|t| format!(": {t:?}")).unwrap_or_default()
    )]
    Rejected {
        url: String,
        status: u64,
        status_name: &'static str,
        status_text: Option<String>,
        fail_info: Vec<String>,
    },
    /// The token in the response is not for this request.
    #[error("token from TSA {url} does not match the request: {field} differs")]
    ResponseMismatch { url: String, field: &'static str },
    /// The token time-stamps another digest.
    #[error("message imprint mismatch: the token time-stamps {found}, expected {expected}")]
    ImprintMismatch { expected: String, found: String },
    /// A hash algorithm this crate does not handle.
    #[error("unsupported hash algorithm {algorithm} in {field}")]
    UnsupportedAlgorithm {
        field: &'static str,
        algorithm: String,
    },
    /// The signed attribute messageDigest does not match the TSTInfo: the token was altered.
    #[error("signed attribute messageDigest does not match the token's TSTInfo (token altered)")]
    ContentDigestMismatch,
    /// The CA file cannot be used.
    #[error("CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The signature or certificate chain check failed.
    #[error("signature or certificate chain check against CA file {ca_file} failed: {detail}")]
    SignatureInvalid { ca_file: PathBuf, detail: String },
    /// `openssl` could not be run.
    #[error("cannot run {program} (needed to check signatures): {source}")]
    Openssl {
        program: PathBuf,
        source: std::io::Error,
    },
    /// `openssl` did not finish in time.
    #[error("openssl ts -verify did not finish within {timeout:?}")]
    OpensslTimeout { timeout: Duration },
    /// A temporary file for `openssl` could not be written.
    #[error("cannot write a temporary token file for openssl: {source}")]
    TempFile { source: std::io::Error },
    /// The operating system's random source failed.
    #[error("cannot draw a random nonce: {0}")]
    Random(String),
}

fn malformed(context: impl Into<String>) -> impl FnOnce(der::DerError) -> TsaError {
    let context = context.into();
    move |e| TsaError::Malformed {
        context,
        field: e.field,
        reason: e.reason,
    }
}

/// The DER `TimeStampReq` [`request`] sends: version 1, SHA-256 `messageImprint` of `digest`,
/// `nonce`, `certReq` TRUE, no policy, no extensions.
pub fn request_der(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    tsp::encode_request(digest, nonce)
}

/// Asks the TSA at `url` (plain `http://` only) to time-stamp `digest` (a SHA-256), within
/// `timeout` for the whole exchange (name resolution excepted).
///
/// The response must be HTTP 200 with a `TimeStampResp` whose status is granted or
/// grantedWithMods; its token must carry the request's nonce and SHA-256 imprint, and its
/// signed attributes must match its `TSTInfo`. The signature is not checked here: use
/// [`verify`] with the TSA's CA file.
pub fn request(url: &str, digest: &[u8; 32], timeout: Duration) -> Result<Token, TsaError> {
    let mut nonce_bytes = [0u8; 8];
    getrandom::getrandom(&mut nonce_bytes).map_err(|e| TsaError::Random(e.to_string()))?;
    let nonce = u64::from_be_bytes(nonce_bytes);
    let req = tsp::encode_request(digest, nonce);
    let body = http::post(url, "application/timestamp-query", &req, timeout)?;
    read_response(&body, digest, nonce, url)
}

/// Reads a DER `TimeStampResp` answering the request [`request_der`]`(digest, nonce)`, for
/// callers that send the request themselves (another HTTP client, a proxy, a file). `source`
/// (the URL or file it came from) is named in errors.
///
/// The status must be granted or grantedWithMods; the token must carry `nonce` and the SHA-256
/// imprint `digest`, and its signed attributes must match its `TSTInfo`. The signature is not
/// checked here: use [`verify`].
pub fn read_response(
    response_der: &[u8],
    digest: &[u8; 32],
    nonce: u64,
    source: &str,
) -> Result<Token, TsaError> {
    let url = source;
    let body = response_der;
    let resp = tsp::parse_response(body).map_err(malformed(format!("response from TSA {url}")))?;
    if resp.status > 1 {
        return Err(TsaError::Rejected {
            url: url.to_owned(),
            status: resp.status,
            status_name: tsp::status_name(resp.status),
            status_text: resp.status_text,
            fail_info: resp.fail_info,
        });
    }
    let token_der = resp.token.ok_or_else(|| TsaError::Malformed {
        context: format!("response from TSA {url}"),
        field: "timeStampToken",
        reason: "missing although the status is granted".to_owned(),
    })?;
    let parsed = tsp::parse_token(token_der).map_err(malformed(format!("token from TSA {url}")))?;
    let mismatch = |field| TsaError::ResponseMismatch {
        url: url.to_owned(),
        field,
    };
    let same_nonce = parsed.nonce.is_some_and(|m| {
        m.len() <= 8 && m.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)) == nonce
    });
    if !same_nonce {
        return Err(mismatch("nonce"));
    }
    if parsed.info.hash_algorithm != "sha256" {
        return Err(mismatch("messageImprint.hashAlgorithm"));
    }
    if parsed.info.message_imprint != digest {
        return Err(mismatch("messageImprint"));
    }
    verify::check_content_digest(&parsed)?;
    Ok(Token {
        der: token_der.to_vec(),
        info: parsed.info,
    })
}

/// Reads what a token (DER `ContentInfo` / `SignedData` / `TSTInfo`) says, checking nothing
/// but its structure. The result's `signature` is [`SignatureCheck::NotChecked`].
pub fn inspect(token_der: &[u8]) -> Result<TokenInfo, TsaError> {
    Ok(tsp::parse_token(token_der)
        .map_err(malformed("time-stamp token"))?
        .info)
}

/// Verifies a token for `expected_digest` (a SHA-256), with `openssl` from `PATH`.
/// See [`verify_with`].
pub fn verify(
    token_der: &[u8],
    expected_digest: &[u8; 32],
    ca_file: Option<&Path>,
) -> Result<TokenInfo, TsaError> {
    verify_with(
        token_der,
        expected_digest,
        ca_file,
        &OpensslConfig::default(),
    )
}

/// Verifies a token for `expected_digest` (a SHA-256).
///
/// Always, in pure Rust: the token's imprint algorithm is SHA-256 and its imprint equals
/// `expected_digest`; the signed attributes say the content is a `TSTInfo` and their
/// `messageDigest` equals the digest of the `TSTInfo`. With `ca_file`, also the CMS signature
/// and the certificate chain up to `ca_file` (TSA certificate with critical `timeStamping`
/// extended key usage; validity periods checked at the time [`OpensslConfig::chain_time`]
/// says; revocation not checked), by `openssl ts -verify` run as a child process; the result is then
/// [`SignatureCheck::ChainVerified`]. Without `ca_file` the signature is not checked and the
/// result is [`SignatureCheck::DigestsOnly`].
pub fn verify_with(
    token_der: &[u8],
    expected_digest: &[u8; 32],
    ca_file: Option<&Path>,
    openssl: &OpensslConfig,
) -> Result<TokenInfo, TsaError> {
    let parsed = tsp::parse_token(token_der).map_err(malformed("time-stamp token"))?;
    if parsed.info.hash_algorithm != "sha256" {
        return Err(TsaError::UnsupportedAlgorithm {
            field: "messageImprint.hashAlgorithm",
            algorithm: parsed.info.hash_algorithm,
        });
    }
    if parsed.info.message_imprint != expected_digest {
        return Err(TsaError::ImprintMismatch {
            expected: hex::encode(expected_digest),
            found: hex::encode(&parsed.info.message_imprint),
        });
    }
    verify::check_content_digest(&parsed)?;
    let mut info = parsed.info;
    let gen_time = info.gen_time.clone();
    info.signature = match ca_file {
        Some(ca) => {
            let at_time = match openssl.chain_time {
                ChainTime::GenTime => {
                    Some(
                        der::rfc3339_to_unix(&gen_time).ok_or_else(|| TsaError::Malformed {
                            context: "time-stamp token".to_owned(),
                            field: "TSTInfo.genTime",
                            reason: "cannot convert to a Unix time".to_owned(),
                        })?,
                    )
                }
                ChainTime::Now => None,
            };
            verify::openssl_verify(
                token_der,
                expected_digest,
                ca,
                &openssl.program,
                openssl.timeout,
                at_time,
            )?;
            SignatureCheck::ChainVerified {
                ca_file: ca.to_owned(),
            }
        }
        None => SignatureCheck::DigestsOnly,
    };
    Ok(info)
}
