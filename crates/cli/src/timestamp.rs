//! `athar timestamp`: RFC 3161 tokens over the custody log's checkpoint.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use athar_core::CoreError;
use athar_timestamp::SignatureCheck;
use serde_json::json;

use crate::{open_writable, Cli, EXIT_INTERNAL};

/// Checks a stored token over `digest`: its imprint always; its signature against each
/// configured CA until one verifies. Without any CA the signature is reported unchecked.
pub fn check_token(token: &[u8], digest: &[u8; 32], cas: &[PathBuf]) -> Result<String, String> {
    if cas.is_empty() {
        let info = athar_timestamp::verify(token, digest, None).map_err(|e| e.to_string())?;
        return Ok(format!(
            "{} (imprint and signed digests match; signature NOT checked: no ca_file configured)",
            info.gen_time
        ));
    }
    let mut last = String::new();
    for ca in cas {
        match athar_timestamp::verify(token, digest, Some(ca)) {
            Ok(info) if matches!(info.signature, SignatureCheck::ChainVerified { .. }) => {
                return Ok(format!(
                    "{} (signature verified with {})",
                    info.gen_time,
                    ca.display()
                ))
            }
            Ok(_) => {}
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

pub fn command(cli: &Cli, json: bool) -> anyhow::Result<ExitCode> {
    use sha2::Digest;
    let archive = open_writable(cli)?;
    let tsas = archive.config.timestamp.tsa.clone();
    if tsas.is_empty() {
        return Err(CoreError::Input {
            path: archive.root.join("athar.toml"),
            message: "no time-stamping authority configured: add\n[[timestamp.tsa]]\nurl = \"http://…\"\nca_file = \"/path/to/tsa-ca.pem\"".into(),
        }
        .into());
    }
    let log = archive.custody_log()?;
    let checkpoint = log.checkpoint().as_bytes().to_vec();
    let size = log.size();
    let dir = format!("timestamps/{size}");
    match archive.log.read(&format!("{dir}/checkpoint"))? {
        Some(existing) if existing == checkpoint => {}
        Some(_) => anyhow::bail!("{dir}/checkpoint holds another checkpoint for the same size"),
        None => archive
            .log
            .write_new(&format!("{dir}/checkpoint"), &checkpoint)?,
    }
    let digest: [u8; 32] = sha2::Sha256::digest(&checkpoint).into();
    let mut failed = 0;
    for (k, tsa) in tsas.iter().enumerate() {
        let got = athar_timestamp::request(&tsa.url, &digest, Duration::from_secs(30)).and_then(
            |token| {
                athar_timestamp::verify(token.der(), &digest, tsa.ca_file.as_deref())
                    .map(|info| (token, info))
            },
        );
        match got {
            Ok((token, info)) => {
                let file = format!("{dir}/tsa{k}-{}.tsr", info.serial);
                archive.log.write_new(&file, token.der())?;
                let sig = match info.signature {
                    SignatureCheck::ChainVerified { .. } => "signature verified",
                    _ => "signature NOT checked: no ca_file configured",
                };
                if json {
                    println!(
                        "{}",
                        json!({ "ok": true, "url": tsa.url, "log_size": size, "gen_time": info.gen_time, "file": format!("log/{file}"), "signature_verified": sig == "signature verified" })
                    );
                } else {
                    println!(
                        "{}: {} for the checkpoint at {size} events ({sig}); stored as log/{file}",
                        tsa.url, info.gen_time
                    );
                }
            }
            Err(e) => {
                failed += 1;
                if json {
                    println!(
                        "{}",
                        json!({ "ok": false, "url": tsa.url, "error": e.to_string() })
                    );
                }
                eprintln!("athar: {e}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INTERNAL)
    })
}
