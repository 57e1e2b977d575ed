//! `athar log …`: the custody log's keys, checkpoints and proofs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use athar_core::custody_proof::CustodyProof;
use athar_core::log::LogError;
use athar_core::StoreError;
use athar_store::Access;
use athar_tlog::note::NoteVerifier as _;
use athar_tlog::Ed25519Verifier;
use base64::Engine as _;
use serde_json::json;

use crate::output::term;
use crate::{open, Cli, LogCommand, EXIT_PROBLEM};

/// A vkey given inline or as a file holding one.
pub fn read_vkey(arg: &str) -> anyhow::Result<Ed25519Verifier> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("reading verifier key file {arg}"))?
    } else {
        arg.to_owned()
    };
    Ed25519Verifier::from_vkey(text.trim()).map_err(|e| {
        anyhow::Error::new(StoreError::NotFound(format!(
            "a valid verifier key in {arg:?} ({e})"
        )))
    })
}

pub fn log_command(cli: &Cli, cmd: &LogCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCommand::Vkey => vkey(cli),
        LogCommand::Checkpoint => checkpoint(cli),
        LogCommand::Proof { item, event } => proof(cli, item, *event),
        LogCommand::VerifyProof {
            file,
            vkey,
            content,
            json,
        } => verify_proof(file, vkey, content.as_deref(), *json),
        LogCommand::Consistency {
            old_checkpoint,
            json,
        } => consistency(cli, old_checkpoint, *json),
    }
}

/// `athar log vkey`.
fn vkey(cli: &Cli) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    println!("{}", archive.verifier().vkey());
    Ok(ExitCode::SUCCESS)
}

/// `athar log checkpoint`.
fn checkpoint(cli: &Cli) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    let log = archive.custody_log()?;
    print!("{}", log.checkpoint());
    Ok(ExitCode::SUCCESS)
}

/// `athar log proof`.
fn proof(cli: &Cli, item: &str, event: Option<u64>) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    let item = archive.catalog.resolve(item)?;
    let events = archive.catalog.events(&item.id)?;
    let chosen = match event {
        Some(seq) => events.iter().find(|e| e.seq == seq).with_context(|| {
            StoreError::NotFound(format!("custody event #{seq} of item {}", item.id))
        })?,
        None => events
            .last()
            .with_context(|| format!("item {} has no custody event", item.id))?,
    };
    let log = archive.custody_log()?;
    if chosen.seq > log.size() {
        bail!(
            "custody event #{} is not in the custody log yet (run `athar verify`)",
            chosen.seq
        );
    }
    let proof = athar_core::custody_proof::event_proof(&log, archive.catalog.as_ref(), chosen.seq)?;
    print!("{}", proof.to_text());
    Ok(ExitCode::SUCCESS)
}

/// `athar log verify-proof`.
fn verify_proof(
    file: &Path,
    vkey: &str,
    content: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let verifier = read_vkey(vkey)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let content_sha = match content {
        Some(p) => Some(
            athar_core::Sha256::of_file(p).with_context(|| format!("reading {}", p.display()))?,
        ),
        None => None,
    };
    let outcome = CustodyProof::parse(&bytes)
        .and_then(|p| p.verify(&verifier))
        .and_then(|v| match content_sha {
            Some(sha) if sha != v.sha256 => Err(format!(
                "the content file is not the content of the logged entry (it hashes to {sha})"
            )),
            _ => Ok(v),
        });
    match outcome {
        Ok(v) => {
            let e = &v.entry;
            let content_checked = content_sha.is_some();
            if json {
                println!(
                    "{}",
                    json!({
                        "ok": true, "index": v.index, "tree_size": v.tree_size,
                        "version": e.version(),
                        "event": e.kind.as_str(), "item": e.item, "sha256": v.sha256,
                        "time": e.time, "actor": e.actor, "prev": e.prev,
                        "details": v.details, "content_checked": content_checked,
                    })
                );
            } else {
                println!(
                    "OK: leaf {} of {} in log {} (signature and inclusion verified)",
                    v.index,
                    v.tree_size,
                    verifier.name()
                );
                println!("  version {}", e.version());
                println!("  event   {}", term(e.kind.as_str()));
                println!("  item    {}", term(&e.item));
                println!("  sha256  {}", term(v.sha256));
                println!("  time    {}", term(&e.time));
                println!("  actor   {}", term(&e.actor));
                if content_checked {
                    println!("  content checked: the file's bytes are those the entry is about");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(msg) => {
            if json {
                println!("{}", json!({ "ok": false, "error": msg }));
            } else {
                println!("FAILED: {}: {}", term(file.display()), term(&msg));
            }
            Ok(ExitCode::from(EXIT_PROBLEM))
        }
    }
}

/// `athar log consistency`.
fn consistency(cli: &Cli, old_checkpoint: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    let verifier = archive.verifier();
    let bytes = std::fs::read(old_checkpoint)
        .with_context(|| format!("reading {}", old_checkpoint.display()))?;
    let failed = |msg: String| {
        if json {
            println!("{}", json!({ "ok": false, "error": msg }));
        } else {
            println!("FAILED: {}", term(msg));
        }
        Ok(ExitCode::from(EXIT_PROBLEM))
    };
    let old = match athar_core::log::open_checkpoint(&bytes, verifier.name(), &verifier) {
        Ok(cp) => cp,
        Err(e) => return failed(format!("{}: {e}", old_checkpoint.display())),
    };
    let smaller = |size: u64| {
        format!(
            "the log is smaller than the checkpoint you hold: it was rolled back or \
             replaced (your checkpoint has {} events, the log's checkpoint {size})",
            old.size
        )
    };
    let log = match archive.custody_log() {
        Ok(log) => log,
        // A log that does not open on its own checkpoint was tampered with: that is
        // what this check is for, not an internal failure.
        Err(LogError::RolledBack { size, signed }) if old.size > size => {
            return failed(format!(
                "{}; it had signed {signed} events before",
                smaller(size)
            ))
        }
        Err(LogError::Store(e)) => return Err(e.into()),
        Err(e) => return failed(format!("the custody log cannot be trusted: {e}")),
    };
    let new_size = log.size();
    let checked = if old.size > new_size {
        Err(smaller(new_size))
    } else if old.size == 0 {
        Ok(Vec::new())
    } else {
        let proof = log.consistency(old.size)?;
        athar_tlog::rfc6962::verify_consistency(old.size, new_size, &proof, &old.root, &log.root())
            .map(|()| proof)
            .map_err(|e| format!("the log does not extend the old checkpoint: {e}"))
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    match checked {
        Ok(proof) => {
            let hashes: Vec<String> = proof.iter().map(|h| b64.encode(h)).collect();
            if json {
                println!(
                    "{}",
                    json!({ "ok": true, "old_size": old.size, "new_size": new_size, "proof": hashes, "checkpoint": log.checkpoint() })
                );
            } else {
                println!(
                    "OK: the log at {new_size} events extends the checkpoint at {} events",
                    old.size
                );
                println!("Consistency proof ({} hashes):", hashes.len());
                for h in hashes {
                    println!("{h}");
                }
                println!("Current checkpoint:\n{}", log.checkpoint());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(msg) => failed(msg),
    }
}
