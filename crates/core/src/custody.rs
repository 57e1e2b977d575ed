//! The custody log's entry format: what one leaf of the archive's transparency log says
//! about one custody event. Documented in `docs/custody-log.md`.
//!
//! An entry is canonical text: fixed lines in a fixed order, each `key value`, each ending
//! in a newline. It holds no personal data in clear: the actor appears as a pseudonym and
//! the event's details (names, paths, sources, notes) only through a digest of their
//! catalog record, so checkpoints and tiles can be handed to a witness without disclosing
//! evidence, sources or victims.
//!
//! Two versions exist, told apart by the first line:
//! - `athar.custody/v1` names the content's SHA-256 and the details record's SHA-256 in
//!   clear. Anyone holding a copy of the bytes (or guessing the details) can confirm them.
//! - `athar.custody/v2` (every new event) names instead salted commitments to both
//!   ([`Commitment`]), with a random 32-byte [`Salt`] per event kept in the catalog. The
//!   log confirms nothing about which content the archive holds; whoever is handed the salt
//!   (with a proof, or in a bag) checks the bytes and the details against it.
//!
//! Which version an entry is follows from its [`Digests`]: v1 digests and v2 commitments
//! are different types, so one cannot be taken for the other.

use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use crate::model::{EventKind, ItemId, Sha256};
use crate::storage::EventRecord;

/// The first line of every version 1 entry.
pub const ENTRY_V1: &str = "athar.custody/v1";
/// The first line of every version 2 entry.
pub const ENTRY_V2: &str = "athar.custody/v2";
/// Entries are never larger than this (C2SP entry bundles allow up to 64 KiB).
pub const MAX_ENTRY: usize = 4096;
/// Domain separation of the content commitment of a v2 entry.
pub const CONTENT_DOMAIN: &[u8] = b"athar.custody/v2 content\n";
/// Domain separation of the details commitment of a v2 entry.
pub const DETAILS_DOMAIN: &[u8] = b"athar.custody/v2 details\n";

/// The random value a v2 entry's commitments are made with: 32 bytes per event, kept in
/// the catalog with the event and revealed only with proofs and bags.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    /// A new salt from the operating system's random source.
    pub fn random() -> Result<Salt, getrandom::Error> {
        let mut b = [0u8; 32];
        getrandom::getrandom(&mut b)?;
        Ok(Salt(b))
    }

    /// Lowercase hex form.
    pub fn to_hex(&self) -> String {
        Sha256(self.0).to_hex()
    }
}

impl fmt::Display for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A salt opens commitments: never in debug output (logs, panics).
        f.write_str("Salt(..)")
    }
}

/// Why a string is not a salt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a salt (64 lowercase hex digits)")]
pub struct ParseSaltError;

impl FromStr for Salt {
    type Err = ParseSaltError;
    fn from_str(s: &str) -> Result<Salt, ParseSaltError> {
        s.parse::<Sha256>()
            .map(|h| Salt(h.0))
            .map_err(|_| ParseSaltError)
    }
}

/// A salted commitment of a v2 entry: SHA-256 over a domain string, the salt and a digest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Commitment(pub [u8; 32]);

impl Commitment {
    /// The commitment to an item's content digest.
    pub fn content(salt: &Salt, sha256: &Sha256) -> Commitment {
        Commitment::make(CONTENT_DOMAIN, salt, sha256)
    }

    /// The commitment to the SHA-256 of an event's details record.
    pub fn details(salt: &Salt, details: &Sha256) -> Commitment {
        Commitment::make(DETAILS_DOMAIN, salt, details)
    }

    fn make(domain: &[u8], salt: &Salt, digest: &Sha256) -> Commitment {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(domain);
        h.update(salt.0);
        h.update(digest.0);
        Commitment(h.finalize().into())
    }
}

impl fmt::Display for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Sha256(self.0).to_hex())
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({self})")
    }
}

impl FromStr for Commitment {
    type Err = crate::model::ParseShaError;
    fn from_str(s: &str) -> Result<Commitment, Self::Err> {
        s.parse::<Sha256>().map(|h| Commitment(h.0))
    }
}

/// What an entry says about the content and the details: the version's own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digests {
    /// Version 1: the digests in clear.
    V1 {
        /// The item's content digest.
        sha256: Sha256,
        /// SHA-256 of the event's detail record as stored in the catalog.
        details: Sha256,
    },
    /// Version 2: salted commitments to the same digests.
    V2 {
        /// [`Commitment::content`] of the item's content digest.
        content: Commitment,
        /// [`Commitment::details`] of the SHA-256 of the event's detail record.
        details: Commitment,
    },
}

impl Digests {
    /// Text form kept in the catalog for an erased event: `v1 <sha256> <details>` or
    /// `v2 <content commitment> <details commitment>`.
    pub fn to_text(&self) -> String {
        match self {
            Digests::V1 { sha256, details } => format!("v1 {sha256} {details}"),
            Digests::V2 { content, details } => format!("v2 {content} {details}"),
        }
    }

    /// Parses [`Digests::to_text`].
    pub fn from_text(s: &str) -> Option<Digests> {
        let mut parts = s.split(' ');
        let (v, a, b) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        match v {
            "v1" => Some(Digests::V1 {
                sha256: a.parse().ok()?,
                details: b.parse().ok()?,
            }),
            "v2" => Some(Digests::V2 {
                content: a.parse().ok()?,
                details: b.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// One custody event as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub kind: EventKind,
    pub item: ItemId,
    /// When the event happened (RFC 3339, UTC).
    pub time: String,
    /// The actor's pseudonym (see [`pseudonym`]).
    pub actor: String,
    /// Index of the previous leaf for the same item, if any.
    pub prev: Option<u64>,
    /// The content and details, in clear (v1) or committed to (v2).
    pub digests: Digests,
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

/// Why an entry does not match the content, details and salt it is checked against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("the entry is version 2 and no salt is given to open its commitments")]
    NoSalt,
    #[error("the entry is version 1 and takes no salt")]
    UnexpectedSalt,
    #[error("the entry names other content")]
    Content,
    #[error("the entry names other details")]
    Details,
}

const KEYS_V1: [&str; 7] = [
    "event", "item", "sha256", "time", "actor", "prev", "details",
];
const KEYS_V2: [&str; 7] = [
    "event", "item", "content", "time", "actor", "prev", "details",
];

impl LogEntry {
    /// The entry's format version (1 or 2).
    pub fn version(&self) -> u8 {
        match self.digests {
            Digests::V1 { .. } => 1,
            Digests::V2 { .. } => 2,
        }
    }

    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(320);
        let prev = self.prev.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let (first, key, content, details) = match &self.digests {
            Digests::V1 { sha256, details } => {
                (ENTRY_V1, "sha256", sha256.to_hex(), details.to_hex())
            }
            Digests::V2 { content, details } => (
                ENTRY_V2,
                "content",
                content.to_string(),
                details.to_string(),
            ),
        };
        let _ = write!(
            s,
            "{first}\nevent {}\nitem {}\n{key} {content}\ntime {}\nactor {}\nprev {prev}\ndetails {details}\n",
            self.kind.as_str(),
            self.item,
            self.time,
            self.actor,
        );
        s.into_bytes()
    }

    /// Parses canonical bytes of either version; anything else is rejected.
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
        let (v2, keys) = match lines.next() {
            Some(ENTRY_V1) => (false, &KEYS_V1),
            Some(ENTRY_V2) => (true, &KEYS_V2),
            _ => {
                return Err(EntryError::Line {
                    line: 1,
                    expected: "athar.custody/v1 or athar.custody/v2",
                })
            }
        };
        let mut values = [""; 7];
        for (i, key) in keys.iter().enumerate() {
            let line = lines.next().ok_or(EntryError::Line {
                line: i + 2,
                expected: key,
            })?;
            values[i] = line
                .strip_prefix(key)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or(EntryError::Line {
                    line: i + 2,
                    expected: key,
                })?;
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
        let digests = if v2 {
            Digests::V2 {
                content: values[2].parse().map_err(|_| field("content", values[2]))?,
                details: values[6].parse().map_err(|_| field("details", values[6]))?,
            }
        } else {
            Digests::V1 {
                sha256: values[2].parse().map_err(|_| field("sha256", values[2]))?,
                details: values[6].parse().map_err(|_| field("details", values[6]))?,
            }
        };
        let entry = LogEntry {
            kind: EventKind::parse(values[0]).ok_or_else(|| field("event", values[0]))?,
            item: ItemId::parse(values[1]).ok_or_else(|| field("item", values[1]))?,
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
            digests,
        };
        if entry.encode() != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }

    /// Checks that the entry is about content `sha256` and the details record whose
    /// SHA-256 is `details`: a v1 entry names them (and takes no salt), a v2 entry's
    /// commitments must open with `salt` to them. The content is checked first.
    pub fn check(
        &self,
        salt: Option<&Salt>,
        sha256: &Sha256,
        details: &Sha256,
    ) -> Result<(), Mismatch> {
        self.check_content(salt, sha256)?;
        self.check_details(salt, details)
    }

    /// The content half of [`LogEntry::check`].
    pub fn check_content(&self, salt: Option<&Salt>, sha256: &Sha256) -> Result<(), Mismatch> {
        let ok = match (&self.digests, salt) {
            (Digests::V1 { .. }, Some(_)) => return Err(Mismatch::UnexpectedSalt),
            (Digests::V2 { .. }, None) => return Err(Mismatch::NoSalt),
            (Digests::V1 { sha256: s, .. }, None) => s == sha256,
            (Digests::V2 { content, .. }, Some(salt)) => {
                *content == Commitment::content(salt, sha256)
            }
        };
        ok.then_some(()).ok_or(Mismatch::Content)
    }

    /// The details half of [`LogEntry::check`]: `details` is the SHA-256 of the record.
    pub fn check_details(&self, salt: Option<&Salt>, details: &Sha256) -> Result<(), Mismatch> {
        let ok = match (&self.digests, salt) {
            (Digests::V1 { .. }, Some(_)) => return Err(Mismatch::UnexpectedSalt),
            (Digests::V2 { .. }, None) => return Err(Mismatch::NoSalt),
            (Digests::V1 { details: d, .. }, None) => d == details,
            (Digests::V2 { details: d, .. }, Some(salt)) => {
                *d == Commitment::details(salt, details)
            }
        };
        ok.then_some(()).ok_or(Mismatch::Details)
    }

    /// The content digest a v1 entry names in clear (None for v2: it names none).
    pub fn clear_sha256(&self) -> Option<Sha256> {
        match self.digests {
            Digests::V1 { sha256, .. } => Some(sha256),
            Digests::V2 { .. } => None,
        }
    }
}

/// SHA-256 of a detail record exactly as stored (what both versions are about).
pub fn details_digest(details: &str) -> Sha256 {
    use sha2::Digest;
    Sha256(sha2::Sha256::digest(details.as_bytes()).into())
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
/// row holds an unknown event kind). An event with a salt gets a v2 entry, one without (an
/// event recorded before v2 existed) the v1 entry it was logged with.
pub fn entry_for(r: &EventRecord, secret: &[u8]) -> Result<LogEntry, String> {
    entry_for_actor(r, |actor| pseudonym(secret, actor))
}

/// [`entry_for`] with the actor's pseudonym made by `pseudonym` (a caller making many
/// entries for one actor computes it once).
pub fn entry_for_actor<'a>(
    r: &'a EventRecord,
    pseudonym: impl FnOnce(&'a str) -> String,
) -> Result<LogEntry, String> {
    let kind = EventKind::parse(&r.kind)
        .ok_or_else(|| format!("custody event #{} has unknown kind {:?}", r.seq, r.kind))?;
    Ok(LogEntry {
        kind,
        item: r.item.clone(),
        time: r.at.clone(),
        actor: pseudonym(&r.actor),
        prev: r.prev.map(|p| p.saturating_sub(1)),
        digests: digests_of(r)?,
    })
}

/// What the log entry of a catalog event says of its content and details: the digests it
/// was frozen with when its subject was erased, else made from the catalog's digests (in
/// clear for v1, committed with the event's salt for v2).
pub fn digests_of(r: &EventRecord) -> Result<Digests, String> {
    if let Some(frozen) = r.frozen {
        return Ok(frozen);
    }
    let sha256 = r.sha256.ok_or_else(|| {
        format!(
            "custody event #{} names item {}, which is not in the catalog",
            r.seq, r.item
        )
    })?;
    let details = details_digest(&r.details);
    Ok(match &r.salt {
        None => Digests::V1 { sha256, details },
        Some(salt) => Digests::V2 {
            content: Commitment::content(salt, &sha256),
            details: Commitment::details(salt, &details),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "3327d0c23446434767c9240b8ab230eca516ec788db1f82869a20fb51294b56c";
    const DETAILS: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn salt() -> Salt {
        let mut b = [0u8; 32];
        for (i, v) in b.iter_mut().enumerate() {
            *v = i as u8;
        }
        Salt(b)
    }

    fn sample() -> LogEntry {
        LogEntry {
            kind: EventKind::Sighting,
            item: ItemId::parse("01M8D5WSET03EZGE5SXSJFSYZ3").unwrap(),
            time: "2026-11-27T00:18:43.608432Z".to_owned(),
            actor: pseudonym(b"secret", "Investigator A"),
            prev: Some(10),
            digests: Digests::V1 {
                sha256: SHA.parse().unwrap(),
                details: DETAILS.parse().unwrap(),
            },
        }
    }

    fn sample_v2() -> LogEntry {
        LogEntry {
            digests: Digests::V2 {
                content: Commitment::content(&salt(), &SHA.parse().unwrap()),
                details: Commitment::details(&salt(), &DETAILS.parse().unwrap()),
            },
            ..sample()
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
        assert_eq!(e.version(), 1);
    }

    /// The salt is bytes 0x00..0x1f; the commitments are SHA-256 over the domain string,
    /// the salt and the digest (checked independently with Python's hashlib).
    #[test]
    fn golden_encoding_v2() {
        let expected = "athar.custody/v2\nevent sighting\nitem 01M8D5WSET03EZGE5SXSJFSYZ3\n\
content 15eeb1f24f0de38b0b2819083c647dfec935f09e917fd54f87cf379071a893dc\n\
time 2026-11-27T00:18:43.608432Z\nactor 3a7208108643531b\nprev 10\n\
details 36ed259c3ca95c81839f18a78b8c9e496e6eaee02b560d7f8af739142049c677\n";
        let e = sample_v2();
        assert_eq!(
            salt().to_hex(),
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        assert_eq!(String::from_utf8(e.encode()).unwrap(), expected);
        assert_eq!(LogEntry::parse(expected.as_bytes()).unwrap(), e);
        assert_eq!(e.version(), 2);
        assert_eq!(e.clear_sha256(), None);
    }

    #[test]
    fn a_v2_entry_reveals_neither_hash() {
        let text = String::from_utf8(sample_v2().encode()).unwrap();
        for hex in [SHA, DETAILS] {
            assert!(!text.contains(hex), "{hex} in clear in {text}");
        }
        assert!(
            !text.contains(&salt().to_hex()),
            "salt in the entry: {text}"
        );
    }

    #[test]
    fn check_opens_commitments_with_the_salt_only() {
        let (sha, details): (Sha256, Sha256) = (SHA.parse().unwrap(), DETAILS.parse().unwrap());
        let other = Sha256([7; 32]);
        let v2 = sample_v2();
        assert_eq!(v2.check(Some(&salt()), &sha, &details), Ok(()));
        assert_eq!(v2.check(None, &sha, &details), Err(Mismatch::NoSalt));
        let mut tampered = salt();
        tampered.0[31] ^= 1;
        assert_eq!(
            v2.check(Some(&tampered), &sha, &details),
            Err(Mismatch::Content)
        );
        assert_eq!(
            v2.check(Some(&salt()), &other, &details),
            Err(Mismatch::Content)
        );
        assert_eq!(
            v2.check(Some(&salt()), &sha, &other),
            Err(Mismatch::Details)
        );
        let v1 = sample();
        assert_eq!(v1.check(None, &sha, &details), Ok(()));
        assert_eq!(
            v1.check(Some(&salt()), &sha, &details),
            Err(Mismatch::UnexpectedSalt)
        );
        assert_eq!(v1.check(None, &other, &details), Err(Mismatch::Content));
        assert_eq!(v1.check(None, &sha, &other), Err(Mismatch::Details));
    }

    #[test]
    fn entry_for_makes_v2_with_a_salt_and_v1_without() {
        let record = EventRecord {
            seq: 12,
            item: sample().item,
            sha256: Some(SHA.parse().unwrap()),
            kind: "sighting".into(),
            at: sample().time,
            actor: "Investigator A".into(),
            details: String::new(),
            prev: Some(11),
            salt: None,
            frozen: None,
        };
        assert_eq!(entry_for(&record, b"secret").unwrap(), sample());
        let salted = EventRecord {
            salt: Some(salt()),
            ..record
        };
        assert_eq!(entry_for(&salted, b"secret").unwrap(), sample_v2());
        // Frozen digests stand in for everything erased: no item, no salt, no details.
        let frozen = EventRecord {
            sha256: None,
            salt: None,
            details: String::new(),
            frozen: Some(sample_v2().digests),
            ..salted
        };
        assert_eq!(entry_for(&frozen, b"secret").unwrap(), sample_v2());
        let text = sample_v2().digests.to_text();
        assert_eq!(Digests::from_text(&text), Some(sample_v2().digests));
        assert_eq!(
            Digests::from_text(&sample().digests.to_text()),
            Some(sample().digests)
        );
        assert_eq!(Digests::from_text("v3 a b"), None);
    }

    #[test]
    fn salt_parsing_and_debug() {
        assert_eq!(salt().to_hex().parse::<Salt>(), Ok(salt()));
        for bad in ["", "00", &salt().to_hex().to_uppercase(), &"g".repeat(64)] {
            assert!(bad.parse::<Salt>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(format!("{:?}", salt()), "Salt(..)");
        assert_ne!(Salt::random().unwrap(), Salt::random().unwrap());
    }

    #[test]
    fn rejects_non_canonical_and_malformed() {
        let good = String::from_utf8(sample().encode()).unwrap();
        let good2 = String::from_utf8(sample_v2().encode()).unwrap();
        let cases: Vec<(String, &str)> = vec![
            (
                good.replace("athar.custody/v1", "athar.custody/v3"),
                "line 1",
            ),
            // A version line that does not match the fields.
            (
                good.replace("athar.custody/v1", "athar.custody/v2"),
                "content",
            ),
            (
                good2.replace("athar.custody/v2", "athar.custody/v1"),
                "sha256",
            ),
            (good.replace("prev 10", "prev 010"), "prev"),
            (good.replace("prev 10", "prev -1"), "prev"),
            (good.replace("event sighting", "event shred"), "event"),
            (good.replace("Z\n", "+00:00\n"), "time"),
            (good.trim_end().to_owned(), "final newline"),
            (format!("{good}extra line\n"), "end of entry"),
            (good.replace("actor ", "actor  "), "actor"),
            (good.replace("\nitem", "\nitem "), "item"),
            (good.replace("sha256 3327", "sha256 3327 "), "sha256"),
            (good2.replace("content 15ee", "content 15EE"), "content"),
            (good2.replace("details 36ed", "details 36ED"), "details"),
            (good2.replace("prev 10", "prev 010"), "prev"),
            (format!("{good2}\n"), "end of entry"),
            ("x".repeat(MAX_ENTRY + 1), "larger"),
        ];
        for (input, reason) in cases {
            let err = LogEntry::parse(input.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(reason), "{input:?}: {err} (expected {reason})");
        }
    }
}
