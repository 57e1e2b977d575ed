//! The custody log's entry format: what one leaf of the archive's transparency log says
//! about one custody event. Documented in `docs/custody-log.md`.
//!
//! An entry is canonical text: fixed lines in a fixed order, each `key value`, each ending
//! in a newline. It names the item and its content digest but holds no personal data in
//! clear: the actor appears as a pseudonym and the event's details (names, paths, sources,
//! notes) only as a SHA-256 of their catalog record, so checkpoints and tiles can be handed
//! to a witness without disclosing evidence, sources or victims.

use std::fmt::Write as _;

use crate::model::{EventKind, ItemId, Sha256};
use crate::storage::EventRecord;

/// The first line of every entry of this version.
pub const ENTRY_V1: &str = "athar.custody/v1";
/// Entries are never larger than this (C2SP entry bundles allow up to 64 KiB).
pub const MAX_ENTRY: usize = 4096;

/// One custody event as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub kind: EventKind,
    pub item: ItemId,
    /// The item's content digest.
    pub sha256: Sha256,
    /// When the event happened (RFC 3339, UTC).
    pub time: String,
    /// The actor's pseudonym (see [`pseudonym`]).
    pub actor: String,
    /// Index of the previous leaf for the same item, if any.
    pub prev: Option<u64>,
    /// SHA-256 of the event's detail record as stored in the catalog.
    pub details: Sha256,
}

/// Why bytes are not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("entry is larger than {MAX_ENTRY} bytes")]
    TooLarge,
    #[error("entry is not UTF-8 text")]
    NotText,
    #[error("entry line {line}: expected {expected:?}")]
    Line { line: usize, expected: &'static str },
    #[error("entry field {field}: invalid value {value:?}")]
    Field { field: &'static str, value: String },
    #[error("entry is not canonical (it does not re-encode to the same bytes)")]
    NotCanonical,
}

const KEYS: [&str; 7] = [
    "event", "item", "sha256", "time", "actor", "prev", "details",
];

impl LogEntry {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(320);
        let prev = self.prev.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let _ = write!(
            s,
            "{ENTRY_V1}\nevent {}\nitem {}\nsha256 {}\ntime {}\nactor {}\nprev {prev}\ndetails {}\n",
            self.kind.as_str(),
            self.item,
            self.sha256,
            self.time,
            self.actor,
            self.details
        );
        s.into_bytes()
    }

    /// Parses canonical bytes; anything else is rejected.
    pub fn parse(bytes: &[u8]) -> Result<LogEntry, EntryError> {
        if bytes.len() > MAX_ENTRY {
            return Err(EntryError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| EntryError::NotText)?;
        let body = text.strip_suffix('\n').ok_or(EntryError::Line {
            line: 8,
            expected: "final newline",
        })?;
        let mut lines = body.split('\n');
        if lines.next() != Some(ENTRY_V1) {
            return Err(EntryError::Line {
                line: 1,
                expected: ENTRY_V1,
            });
        }
        let mut values = [""; 7];
        for (i, key) in KEYS.iter().enumerate() {
            let line = lines.next().ok_or(EntryError::Line {
                line: i + 2,
                expected: key,
            })?;
            let value = line
                .strip_prefix(key)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or(EntryError::Line {
                    line: i + 2,
                    expected: key,
                })?;
            values[i] = value;
        }
        if lines.next().is_some() {
            return Err(EntryError::Line {
                line: 9,
                expected: "end of entry",
            });
        }
        let field = |field: &'static str, value: &str| EntryError::Field {
            field,
            value: value.to_owned(),
        };
        let entry = LogEntry {
            kind: EventKind::parse(values[0]).ok_or_else(|| field("event", values[0]))?,
            item: ItemId::parse(values[1]).ok_or_else(|| field("item", values[1]))?,
            sha256: values[2].parse().map_err(|_| field("sha256", values[2]))?,
            time: valid_time(values[3]).ok_or_else(|| field("time", values[3]))?,
            actor: valid_pseudonym(values[4]).ok_or_else(|| field("actor", values[4]))?,
            prev: match values[5] {
                "-" => None,
                v => Some(
                    v.parse()
                        .ok()
                        .filter(|_| canonical_decimal(v))
                        .ok_or_else(|| field("prev", v))?,
                ),
            },
            details: values[6].parse().map_err(|_| field("details", values[6]))?,
        };
        if entry.encode() != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }
}

fn canonical_decimal(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && (v == "0" || !v.starts_with('0'))
}

fn valid_time(v: &str) -> Option<String> {
    let fmt = time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(v, &fmt).ok()?;
    (t.offset().is_utc() && v.ends_with('Z')).then(|| v.to_owned())
}

fn valid_pseudonym(v: &str) -> Option<String> {
    (v.len() == 16
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| v.to_owned())
}

/// The actor's pseudonym: 16 hex digits of SHA-256 over a secret of the archive and the
/// actor's name. Stable for one archive, meaningless without the secret.
pub fn pseudonym(secret: &[u8], actor: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"athar actor pseudonym\n");
    h.update((secret.len() as u64).to_be_bytes());
    h.update(secret);
    h.update(actor.as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// The log entry of a catalog event, or why none can be made (its item row is gone, or the
/// row holds an unknown event kind).
pub fn entry_for(r: &EventRecord, secret: &[u8]) -> Result<LogEntry, String> {
    entry_for_actor(r, |actor| pseudonym(secret, actor))
}

/// [`entry_for`] with the actor's pseudonym made by `pseudonym` (a caller making many
/// entries for one actor computes it once).
pub fn entry_for_actor<'a>(
    r: &'a EventRecord,
    pseudonym: impl FnOnce(&'a str) -> String,
) -> Result<LogEntry, String> {
    use sha2::Digest;
    let sha256 = r.sha256.ok_or_else(|| {
        format!(
            "custody event #{} names item {}, which is not in the catalog",
            r.seq, r.item
        )
    })?;
    let kind = EventKind::parse(&r.kind)
        .ok_or_else(|| format!("custody event #{} has unknown kind {:?}", r.seq, r.kind))?;
    Ok(LogEntry {
        kind,
        item: r.item.clone(),
        sha256,
        time: r.at.clone(),
        actor: pseudonym(&r.actor),
        prev: r.prev.map(|p| p.saturating_sub(1)),
        details: Sha256(sha2::Sha256::digest(r.details.as_bytes()).into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogEntry {
        LogEntry {
            kind: EventKind::Sighting,
            item: ItemId::parse("01M8D5WSET03EZGE5SXSJFSYZ3").unwrap(),
            sha256: "3327d0c23446434767c9240b8ab230eca516ec788db1f82869a20fb51294b56c"
                .parse()
                .unwrap(),
            time: "2026-11-27T00:18:43.608432Z".to_owned(),
            actor: pseudonym(b"secret", "Investigator A"),
            prev: Some(10),
            details: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse()
                .unwrap(),
        }
    }

    #[test]
    fn golden_encoding() {
        let expected = "athar.custody/v1\nevent sighting\nitem 01M8D5WSET03EZGE5SXSJFSYZ3\n\
sha256 3327d0c23446434767c9240b8ab230eca516ec788db1f82869a20fb51294b56c\n\
time 2026-11-27T00:18:43.608432Z\nactor 3a7208108643531b\nprev 10\n\
details e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";
        let e = sample();
        assert_eq!(e.actor, "3a7208108643531b", "pseudonym derivation changed");
        assert_eq!(String::from_utf8(e.encode()).unwrap(), expected);
        assert_eq!(LogEntry::parse(expected.as_bytes()).unwrap(), e);
    }

    #[test]
    fn rejects_non_canonical_and_malformed() {
        let good = String::from_utf8(sample().encode()).unwrap();
        let cases: Vec<(String, &str)> = vec![
            (
                good.replace("athar.custody/v1", "athar.custody/v2"),
                "line 1",
            ),
            (good.replace("prev 10", "prev 010"), "prev"),
            (good.replace("prev 10", "prev -1"), "prev"),
            (good.replace("event sighting", "event erase"), "event"),
            (good.replace("Z\n", "+00:00\n"), "time"),
            (good.trim_end().to_owned(), "final newline"),
            (format!("{good}extra line\n"), "end of entry"),
            (good.replace("actor ", "actor  "), "actor"),
            (good.replace("\nitem", "\nitem "), "item"),
            (good.replace("sha256 3327", "sha256 3327 "), "sha256"),
            ("x".repeat(MAX_ENTRY + 1), "larger"),
        ];
        for (input, reason) in cases {
            let err = LogEntry::parse(input.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(reason), "{input:?}: {err} (expected {reason})");
        }
    }
}
