//! `athar log …`: the custody log's keys, checkpoints and proofs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use athar_core::custody::LogEntry;
use athar_core::log::LogError;
use athar_core::StoreError;
use athar_store::Access;
use athar_tlog::note::NoteVerifier as _;
use athar_tlog::{Ed25519Verifier, TlogProof, Verifiers};
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
        LogCommand::VerifyProof { file, vkey, json } => verify_proof(file, vkey, *json),
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
    let proof = log.proof(chosen.seq - 1)?;
    print!("{}", proof.to_text());
    Ok(ExitCode::SUCCESS)
}

/// `athar log verify-proof`.
fn verify_proof(file: &Path, vkey: &str, json: bool) -> anyhow::Result<ExitCode> {
    let verifier = read_vkey(vkey)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let outcome = (|| -> Result<(LogEntry, u64, u64), String> {
        let proof = TlogProof::parse(&bytes).map_err(|e| format!("not a valid tlog-proof: {e}"))?;
        let extra = proof
            .extra
            .as_deref()
            .ok_or("the proof carries no entry (extra line)")?;
        let known = Verifiers::new(&[&verifier]);
        let (cp, _) = proof
            .verify_entry(verifier.name(), &known, extra)
            .map_err(|e| e.to_string())?;
        let entry = LogEntry::parse(extra)
            .map_err(|e| format!("the logged entry is not a custody entry: {e}"))?;
        Ok((entry, proof.index, cp.size))
    })();
    match outcome {
        Ok((entry, index, size)) => {
            if json {
                println!(
                    "{}",
                    json!({
                        "ok": true, "index": index, "tree_size": size,
                        "event": entry.kind.as_str(), "item": entry.item, "sha256": entry.sha256,
                        "time": entry.time, "actor": entry.actor, "prev": entry.prev,
                        "details": entry.details,
                    })
                );
            } else {
                println!(
                    "OK: leaf {index} of {size} in log {} (signature and inclusion verified)",
                    verifier.name()
                );
                println!("  event   {}", term(entry.kind.as_str()));
                println!("  item    {}", term(&entry.item));
                println!("  sha256  {}", term(&entry.sha256));
                println!("  time    {}", term(&entry.time));
                println!("  actor   {}", term(&entry.actor));
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
