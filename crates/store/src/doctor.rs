//! `athar doctor`: checks, part by part, that an archive's backends answer and may be used —
//! its configuration, the catalog (reachable, schema version, may write), the blob store
//! (reachable, a probe written, read back and removed: never a blob), the custody log (its
//! checkpoint read and its signature verified with the archive's key) — without opening
//! the archive, so that it says which part is wrong when the archive cannot open. It writes
//! nothing an archive holds and needs no lock. Secrets stay out of what it says: a
//! location's password is redacted, and a password written in `athar.toml` is reported.

use std::path::Path;

use athar_core::log::open_checkpoint;
use athar_tlog::Ed25519Verifier;

use crate::backends::{Backends, Part};

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// `config`, `catalog`, `blobs`, `log` or `keys`.
    pub part: &'static str,
    pub ok: bool,
    /// What was found, or why it failed.
    pub detail: String,
}

fn check(part: &'static str, r: Result<String, String>) -> Check {
    match r {
        Ok(detail) => Check {
            part,
            ok: true,
            detail,
        },
        Err(detail) => Check {
            part,
            ok: false,
            detail,
        },
    }
}

/// Runs every check on the archive at `root` (as far as the configuration allows).
pub fn doctor(root: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    let config = match crate::archive::read_config(root) {
        Ok(c) => c,
        Err(e) => {
            out.push(check("config", Err(e.to_string())));
            return out;
        }
    };
    let backends = match Backends::from_config(root, &config.storage) {
        Ok(b) => b,
        Err(e) => {
            out.push(check("config", Err(e.to_string())));
            return out;
        }
    };
    let secret_in_config = config
        .storage
        .catalog
        .as_deref()
        .is_some_and(athar_pg::has_password);
    out.push(check(
        "config",
        if secret_in_config {
            Err(
                "athar.toml holds the catalog's password: move it to PGPASSWORD or ~/.pgpass"
                    .to_owned(),
            )
        } else {
            Ok(format!(
                "{} ({})",
                root.join(crate::archive::CONFIG_FILE).display(),
                if config.encryption.encrypted {
                    "encrypted at rest"
                } else {
                    "not encrypted"
                }
            ))
        },
    ));
    out.push(check(
        "catalog",
        backends
            .probe(Part::Catalog, config.encryption.encrypted)
            .map_err(|e| e.to_string()),
    ));
    out.push(check(
        "blobs",
        backends
            .probe(Part::Blobs, config.encryption.encrypted)
            .map_err(|e| e.to_string()),
    ));
    out.push(check("log", log_check(root, &backends, &config.log.origin)));
    out
}

/// The log's checkpoint, read and verified with the archive's verifier key.
fn log_check(root: &Path, backends: &Backends, origin: &str) -> Result<String, String> {
    let at = backends.location(Part::Log);
    backends.check_part(Part::Log).map_err(|e| e.to_string())?;
    let vkey_path = root.join("keys").join("archive.vkey");
    let vkey =
        std::fs::read_to_string(&vkey_path).map_err(|e| format!("{}: {e}", vkey_path.display()))?;
    let verifier = Ed25519Verifier::from_vkey(vkey.trim())
        .map_err(|e| format!("{}: {e}", vkey_path.display()))?;
    let store = backends.open_log().map_err(|e| format!("{at}: {e}"))?;
    let bytes = store
        .read("checkpoint")
        .map_err(|e| format!("{at}: {e}"))?
        .ok_or_else(|| format!("{at}: no checkpoint"))?;
    let cp = open_checkpoint(&bytes, origin, &verifier).map_err(|e| format!("{at}: {e}"))?;
    Ok(format!(
        "{at}: checkpoint of {} event(s), signed by this archive's key",
        cp.size
    ))
}
