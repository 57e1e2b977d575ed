//! The proof of one custody event as Athar hands it out (`athar log proof`, the server's
//! proof route): a C2SP tlog-proof whose `extra` is the entry, preceded for a version 2
//! entry by its *opening*, the salt with the digests it commits to:
//!
//! ```text
//! athar.custody-opening/v2
//! salt <64 hex>
//! sha256 <64 hex: the content's SHA-256>
//! details <64 hex: SHA-256 of the event's details record>
//!
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the entry>
//! …
//! ```
//!
//! With the proof, the log's verifier key and the bytes, anyone checks offline that the
//! bytes are those the logged entry commits to ([`CustodyProof::verify`]). A v1 entry names
//! its digests in clear and its proof is a plain tlog-proof. Dropping the lines up to the
//! first blank line leaves a plain tlog-proof any C2SP verifier accepts.

use athar_tlog::note::NoteVerifier as _;
use athar_tlog::{Ed25519Verifier, TlogProof, Verifiers};

use crate::custody::{details_digest, Digests, LogEntry, Salt};
use crate::log::{CustodyLog, LogError};
use crate::model::Sha256;
use crate::storage::Catalog;

/// The first line of a v2 entry's opening.
pub const OPENING_V2: &str = "athar.custody-opening/v2";

/// What a v2 entry's commitments open to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub salt: Salt,
    /// The content's SHA-256.
    pub sha256: Sha256,
    /// SHA-256 of the event's details record as stored.
    pub details: Sha256,
}

/// One event's proof: the tlog-proof, with the opening when the entry is version 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyProof {
    pub opening: Option<Opening>,
    pub proof: TlogProof,
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    pub entry: LogEntry,
    pub index: u64,
    pub tree_size: u64,
    /// The content's SHA-256: named by a v1 entry, opened from a v2 entry's commitment.
    pub sha256: Sha256,
    /// SHA-256 of the details record, likewise.
    pub details: Sha256,
}

impl CustodyProof {
    /// The text form.
    pub fn to_text(&self) -> String {
        let proof = self.proof.to_text();
        match &self.opening {
            None => proof,
            Some(o) => format!(
                "{OPENING_V2}\nsalt {}\nsha256 {}\ndetails {}\n\n{proof}",
                o.salt, o.sha256, o.details
            ),
        }
    }

    /// Parses the text form (a plain tlog-proof is one without an opening).
    pub fn parse(bytes: &[u8]) -> Result<CustodyProof, String> {
        let prefix = format!("{OPENING_V2}\n");
        let Some(rest) = bytes.strip_prefix(prefix.as_bytes()) else {
            let proof =
                TlogProof::parse(bytes).map_err(|e| format!("not a valid tlog-proof: {e}"))?;
            return Ok(CustodyProof {
                opening: None,
                proof,
            });
        };
        let text = std::str::from_utf8(rest).map_err(|_| "the opening is not UTF-8 text")?;
        let (head, proof) = text
            .split_once("\n\n")
            .ok_or("the opening is not followed by a blank line and a tlog-proof")?;
        let mut lines = head.split('\n');
        let mut field = |key: &'static str| -> Result<Sha256, String> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(key))
                .and_then(|l| l.strip_prefix(' '))
                .and_then(|v| v.parse::<Sha256>().ok())
                .ok_or_else(|| format!("opening field {key}: expected `{key} <64 lowercase hex>`"))
        };
        let opening = Opening {
            salt: Salt(field("salt")?.0),
            sha256: field("sha256")?,
            details: field("details")?,
        };
        if lines.next().is_some() {
            return Err("the opening has lines after details".into());
        }
        let proof = TlogProof::parse(proof.as_bytes())
            .map_err(|e| format!("not a valid tlog-proof: {e}"))?;
        Ok(CustodyProof {
            opening: Some(opening),
            proof,
        })
    }

    /// Checks the proof under `verifier` alone: the checkpoint's signature, the entry's
    /// inclusion, that it is a custody entry, and that a v2 entry's commitments open with
    /// the opening (a v1 entry must come without one, a v2 entry with one).
    pub fn verify(&self, verifier: &Ed25519Verifier) -> Result<VerifiedProof, String> {
        let extra = self
            .proof
            .extra
            .as_deref()
            .ok_or("the proof carries no entry (extra line)")?;
        let known = Verifiers::new(&[verifier]);
        let (cp, _) = self
            .proof
            .verify_entry(verifier.name(), &known, extra)
            .map_err(|e| e.to_string())?;
        let entry = LogEntry::parse(extra)
            .map_err(|e| format!("the logged entry is not a custody entry: {e}"))?;
        let (sha256, details) = match (&entry.digests, &self.opening) {
            (Digests::V1 { sha256, details }, None) => (*sha256, *details),
            (Digests::V1 { .. }, Some(_)) => {
                return Err("the logged entry is version 1 and takes no opening".into())
            }
            (Digests::V2 { .. }, None) => {
                return Err(
                    "the logged entry is version 2 and the proof carries no opening (salt)".into(),
                )
            }
            (Digests::V2 { .. }, Some(o)) => {
                entry
                    .check(Some(&o.salt), &o.sha256, &o.details)
                    .map_err(|e| format!("the opening does not open the logged entry: {e}"))?;
                (o.sha256, o.details)
            }
        };
        Ok(VerifiedProof {
            entry,
            index: self.proof.index,
            tree_size: cp.size,
            sha256,
            details,
        })
    }
}

/// The proof of custody event `seq` against the log's latest checkpoint, with the
/// opening of a v2 entry from the catalog. Refuses (rather than hand out a proof that will
/// not verify) when the catalog's event does not match its entry.
pub fn event_proof(
    log: &CustodyLog<'_>,
    catalog: &dyn Catalog,
    seq: u64,
) -> Result<CustodyProof, LogError> {
    let index = seq
        .checked_sub(1)
        .ok_or_else(|| LogError::Invalid("there is no custody event #0".into()))?;
    let record = catalog
        .event_records(index, 1)?
        .into_iter()
        .next()
        .filter(|r| r.seq == seq)
        .ok_or_else(|| LogError::Invalid(format!("custody event #{seq} is not in the catalog")))?;
    let proof = log.proof(index)?;
    let entry = crate::log::parse_entry(index, proof.extra.as_deref().unwrap_or_default())?;
    let sha256 = record.sha256.ok_or_else(|| {
        LogError::Invalid(format!(
            "custody event #{seq} names item {}, which is not in the catalog",
            record.item
        ))
    })?;
    let details = details_digest(&record.details);
    entry
        .check(record.salt.as_ref(), &sha256, &details)
        .map_err(|e| {
            LogError::Invalid(format!(
                "custody event #{seq} does not match its log entry ({e}); run `athar verify`"
            ))
        })?;
    Ok(CustodyProof {
        opening: record.salt.map(|salt| Opening {
            salt,
            sha256,
            details,
        }),
        proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(opening: Option<Opening>) -> CustodyProof {
        let signer = athar_tlog::Ed25519Signer::from_seed("athar/test-log", &[9; 32]).unwrap();
        let text = athar_tlog::Checkpoint {
            origin: "athar/test-log".into(),
            size: 1,
            root: athar_tlog::rfc6962::leaf_hash(b"entry"),
            extensions: Vec::new(),
        }
        .to_text();
        let checkpoint = athar_tlog::note::sign(&text, &[&signer]).unwrap();
        CustodyProof {
            opening,
            proof: TlogProof {
                extra: Some(b"entry".to_vec()),
                index: 0,
                hashes: Vec::new(),
                checkpoint,
            },
        }
    }

    #[test]
    fn text_round_trip_with_and_without_opening() {
        let opening = Opening {
            salt: Salt([1; 32]),
            sha256: Sha256([2; 32]),
            details: Sha256([3; 32]),
        };
        for p in [proof(None), proof(Some(opening))] {
            let text = p.to_text();
            assert_eq!(CustodyProof::parse(text.as_bytes()).unwrap(), p);
        }
        let v2 = proof(Some(Opening {
            salt: Salt([1; 32]),
            sha256: Sha256([2; 32]),
            details: Sha256([3; 32]),
        }))
        .to_text();
        assert!(v2.starts_with(&format!("{OPENING_V2}\nsalt {}\n", "01".repeat(32))));
        // Without the opening it is a plain tlog-proof.
        let plain = v2.split_once("\n\n").unwrap().1;
        assert_eq!(
            TlogProof::parse(plain.as_bytes()).unwrap(),
            proof(None).proof
        );
    }

    #[test]
    fn malformed_openings_are_refused_naming_the_field() {
        let good = proof(Some(Opening {
            salt: Salt([1; 32]),
            sha256: Sha256([2; 32]),
            details: Sha256([3; 32]),
        }))
        .to_text();
        let cases = [
            (good.replacen("salt 01", "salt 1", 1), "salt"),
            (good.replacen("sha256 02", "sha256 0X", 1), "sha256"),
            (good.replacen("details ", "detail ", 1), "details"),
            (good.replacen("\n\n", "\nextra 1\n\n", 1), "after details"),
            (good.replacen("\n\n", "\n", 1), "after details"),
            (good.split_once("\n\n").unwrap().0.to_owned(), "blank line"),
        ];
        for (input, reason) in cases {
            let err = CustodyProof::parse(input.as_bytes()).unwrap_err();
            assert!(err.contains(reason), "{err} (expected {reason})");
        }
    }
}
