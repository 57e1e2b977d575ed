//! Verification: the message imprint and the signed-attribute digest in pure Rust; the CMS
//! signature and the certificate chain by running `openssl ts -verify` as a child process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::tsp::{self, ParsedToken};
use crate::TsaError;

/// Checks that the signed attribute messageDigest equals the digest of the TSTInfo DER, with
/// the SignerInfo's digest algorithm.
pub(crate) fn check_content_digest(token: &ParsedToken<'_>) -> Result<(), TsaError> {
    let computed: Vec<u8> = match tsp::hash_name(&token.signer_digest_oid).as_str() {
        "sha224" => sha2::Sha224::digest(token.tst_info).to_vec(),
        "sha256" => sha2::Sha256::digest(token.tst_info).to_vec(),
        "sha384" => sha2::Sha384::digest(token.tst_info).to_vec(),
        "sha512" => sha2::Sha512::digest(token.tst_info).to_vec(),
        _ => {
            return Err(TsaError::UnsupportedAlgorithm {
                field: "SignerInfo.digestAlgorithm",
                algorithm: tsp::hash_name(&token.signer_digest_oid),
            })
        }
    };
    if computed != token.message_digest_attr {
        return Err(TsaError::ContentDigestMismatch);
    }
    Ok(())
}

/// Runs `openssl ts -verify` on the token against `ca_file`.
pub(crate) fn openssl_verify(
    token_der: &[u8],
    digest: &[u8; 32],
    ca_file: &Path,
    openssl: &Path,
    timeout: Duration,
    at_time: Option<i64>,
) -> Result<(), TsaError> {
    std::fs::metadata(ca_file)
        .and_then(|m| {
            if m.is_file() {
                Ok(())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a regular file",
                ))
            }
        })
        .map_err(|e| TsaError::CaFile {
            path: ca_file.to_owned(),
            source: e,
        })?;
    // A relative path starting with '-' would be read by openssl as an option.
    let ca_arg: PathBuf = if ca_file.is_relative() {
        Path::new(".").join(ca_file)
    } else {
        ca_file.to_owned()
    };

    let temp_err = |e: std::io::Error| TsaError::TempFile { source: e };
    let mut tmp = tempfile::Builder::new()
        .prefix("athar-tst-")
        .suffix(".der")
        .tempfile()
        .map_err(temp_err)?;
    tmp.write_all(token_der).map_err(temp_err)?;
    tmp.flush().map_err(temp_err)?;

    let spawn_err = |e: std::io::Error| TsaError::Openssl {
        program: openssl.to_owned(),
        source: e,
    };
    let mut child = Command::new(openssl)
        .args(["ts", "-verify", "-digest"])
        .arg(hex::encode(digest))
        .arg("-token_in")
        .arg("-in")
        .arg(tmp.path())
        .arg("-CAfile")
        .arg(&ca_arg)
        .args(
            at_time
                .into_iter()
                .flat_map(|t| ["-attime".to_owned(), t.to_string()]),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    let pipe = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(p) = p {
                let _ = p.take(64 * 1024).read_to_end(&mut out);
            }
            out
        })
    };
    let out_t = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_t = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(spawn_err)? {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TsaError::OpensslTimeout { timeout });
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let stdout = String::from_utf8_lossy(&stdout);
    if status.success() && stdout.lines().any(|l| l.trim() == "Verification: OK") {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&stderr);
    let detail = stderr
        .lines()
        .chain(stdout.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Using configuration"))
        .take(6)
        .collect::<Vec<_>>()
        .join(" | ");
    Err(TsaError::SignatureInvalid {
        ca_file: ca_file.to_owned(),
        detail,
    })
}
