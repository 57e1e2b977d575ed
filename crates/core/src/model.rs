//! Domain types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The version string recorded with every custody event this build writes.
pub const TOOL_VERSION: &str = concat!("athar ", env!("CARGO_PKG_VERSION"));

/// A SHA-256 digest. Displays and parses as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The digest of a file's bytes, read in 1 MiB pieces.
    pub fn of_file(p: &std::path::Path) -> std::io::Result<Sha256> {
        use sha2::Digest;
        use std::io::Read;
        let mut f = std::fs::File::open(p)?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(Sha256(h.finalize().into()))
    }

    /// Lowercase hex form.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        out
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

/// Why a string is not a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 digest (64 lowercase hex digits): {0:?}")]
pub struct ParseShaError(pub String);

impl FromStr for Sha256 {
    type Err = ParseShaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ParseShaError(s.to_owned()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseShaError(s.to_owned()))?;
        Ok(Sha256(out))
    }
}

impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An item's identifier: 26 characters of Crockford base32 (48 bits of milliseconds since
/// the Unix epoch, then 80 random bits), so ids sort by creation time.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(String);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl ItemId {
    /// A fresh id for the current time.
    pub fn generate() -> Result<ItemId, getrandom::Error> {
        let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let millis = u128::try_from(millis).unwrap_or(0) & ((1u128 << 48) - 1);
        let mut rnd = [0u8; 10];
        getrandom::getrandom(&mut rnd)?;
        let mut value = millis << 80;
        for (i, b) in rnd.iter().enumerate() {
            value |= u128::from(*b) << (8 * (9 - i));
        }
        let mut s = String::with_capacity(26);
        for i in (0..26).rev() {
            let idx = ((value >> (5 * i)) & 31) as usize;
            s.push(char::from(CROCKFORD[idx]));
        }
        Ok(ItemId(s))
    }

    /// Wraps a stored id; checks its form.
    pub fn parse(s: &str) -> Option<ItemId> {
        if s.len() == 26 && s.bytes().all(|b| CROCKFORD.contains(&b)) {
            Some(ItemId(s.to_owned()))
        } else {
            None
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemId({})", self.0)
    }
}

/// A case name as given on the command line.
pub type CaseName = String;

/// A preserved piece of evidence: one distinct sequence of bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub sha256: Sha256,
    pub size: u64,
    /// Media type detected from the content (magic bytes), not from the file name.
    pub media_type: String,
    /// When the bytes were first preserved (RFC 3339, UTC).
    pub created_at: String,
}

/// The kind of a custody event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The bytes were collected and preserved for the first time.
    Ingest,
    /// Bytes already preserved were collected again (another name, path or source).
    Sighting,
    /// The bytes are a file of a web capture (its WACZ, a screenshot, the media…): collected
    /// from the address its sighting names, new or not.
    Capture,
    /// Someone retrieved the item's content.
    Access,
    /// The item was handed over in a package (a BagIt bag).
    Export,
    /// The item was received in a package from another archive.
    Transfer,
    /// The item was made by Athar from another item (e.g. a review image).
    Derived,
    /// A documentation record (case, incident, person…) was created, changed or deleted;
    /// the event's subject is the record, not an item.
    Record,
    /// The item or record was erased with its case (`athar case erase --crypto`): its
    /// content and records made unreadable for good; the disposition step of custody.
    Erase,
}

impl EventKind {
    /// Stable name used in storage and output.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Ingest => "ingest",
            EventKind::Sighting => "sighting",
            EventKind::Capture => "capture",
            EventKind::Access => "access",
            EventKind::Export => "export",
            EventKind::Transfer => "transfer",
            EventKind::Derived => "derived",
            EventKind::Record => "record",
            EventKind::Erase => "erase",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "ingest" => Some(EventKind::Ingest),
            "sighting" => Some(EventKind::Sighting),
            "capture" => Some(EventKind::Capture),
            "access" => Some(EventKind::Access),
            "export" => Some(EventKind::Export),
            "transfer" => Some(EventKind::Transfer),
            "derived" => Some(EventKind::Derived),
            "record" => Some(EventKind::Record),
            "erase" => Some(EventKind::Erase),
            _ => None,
        }
    }
}

/// Where and how a copy of the bytes was collected: recorded with every ingest or sighting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// File name as found.
    pub original_name: String,
    /// Path as found (absolute when it could be resolved).
    pub original_path: String,
    /// The file's modification time (RFC 3339, UTC), when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file_mtime: Option<String>,
    /// Who collected it.
    pub collector: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case: Option<CaseName>,
    /// The software that collected it.
    pub tool_version: String,
    /// For a file of a web capture: the address and what the file is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub capture: Option<CaptureOrigin>,
}

/// Where a web capture's file came from: recorded on its `capture` custody event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureOrigin {
    /// The address captured.
    pub url: String,
    /// What the file is in the bundle (`wacz`, `screenshot`, `media`…).
    pub role: String,
    /// When the capture started (RFC 3339, UTC).
    pub started: String,
}

/// Who retrieved an item's content, how and why: recorded with every access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// How the content left the archive (e.g. `athar cat`).
    pub via: String,
    /// Why, when the person said.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub purpose: Option<String>,
    /// The software that handed it out.
    pub tool_version: String,
    /// The cases it was made under: those of the item's cases the person is on (all of
    /// them for an admin). Empty for the archive's own commands.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cases: Vec<CaseName>,
}

/// What was handed over, to whom: recorded with every export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The recipient, as the person exporting named them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<String>,
    /// The package's folder name.
    pub package: String,
    /// Items in the package.
    pub items: u64,
    /// The software that made it.
    pub tool_version: String,
    /// The log size the package's checkpoint and proofs are pinned to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_size: Option<u64>,
    /// SHA-256 of the package's `tagmanifest-sha256.txt`, which fixes every byte of it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tagmanifest_sha256: Option<String>,
    /// The case handed over, when a case was (not a choice of items).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case: Option<CaseName>,
    /// Why it was handed over, as the person exporting said.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub purpose: Option<String>,
    /// Documentation records of the case carried in the package, when it carries them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub records: Option<u64>,
}

/// Where a received item came from: recorded with every transfer into the archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The package's folder name.
    pub package: String,
    /// The sending organisation, as the package names it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<String>,
    /// The sender's custody log origin, when the package carries one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sender_log: Option<String>,
    /// Custody events of the sender kept with the item.
    pub sender_events: u64,
    /// Whether they were proved against a trusted key of the sender.
    pub sender_custody_verified: bool,
    pub tool_version: String,
    /// The case it was received into, when one was named.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case: Option<CaseName>,
}

/// What an item was made from and how: recorded with every derived item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    /// The item it was made from.
    pub source: ItemId,
    /// What it is, e.g. `review-thumbnail-blurred`.
    pub role: String,
    /// The software that made it.
    pub tool_version: String,
}

/// A change to a documentation record: recorded with every create, edit and delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordChange {
    /// `create`, `edit` or `delete`.
    pub action: String,
    /// The record's kind (`person`, `incident`…).
    pub record_kind: String,
    pub case: String,
    /// The value the log entry names: the new value's hash, or for a delete the last one's.
    pub digest: Sha256,
    /// SHA-256 of the record's canonical JSON before the change.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub old: Option<Sha256>,
    /// SHA-256 of the record's canonical JSON after the change.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new: Option<Sha256>,
    pub tool_version: String,
}

/// An erasure: recorded on each item and record of an erased case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub case: String,
    /// How: `crypto` (the case's key destroyed, its rows deleted).
    pub method: String,
    /// The content's SHA-256 (an item) or the last value's (a record): what the log
    /// entry commits to.
    pub digest: Sha256,
    pub tool_version: String,
}

/// What an event records beyond who and when; its shape follows the event kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EventDetails {
    /// For `ingest` and `sighting`.
    Sighting(Sighting),
    /// For `access`.
    Access(Access),
    /// For `export`.
    Export(Export),
    /// For `transfer`.
    Transfer(Transfer),
    /// For `derived`.
    Derived(Derived),
    /// For `record`.
    Record(RecordChange),
    /// For `erase`.
    Erase(Erasure),
}

impl EventDetails {
    /// The canonical stored form (the custody log hashes exactly these bytes).
    pub fn to_json(&self) -> String {
        match self {
            EventDetails::Sighting(s) => serde_json::to_string(s),
            EventDetails::Access(a) => serde_json::to_string(a),
            EventDetails::Export(e) => serde_json::to_string(e),
            EventDetails::Transfer(t) => serde_json::to_string(t),
            EventDetails::Derived(d) => serde_json::to_string(d),
            EventDetails::Record(r) => serde_json::to_string(r),
            EventDetails::Erase(e) => serde_json::to_string(e),
        }
        .unwrap_or_default()
    }

    /// Parses a stored record of an event of `kind`.
    pub fn from_json(kind: EventKind, json: &str) -> Option<EventDetails> {
        match kind {
            EventKind::Ingest | EventKind::Sighting | EventKind::Capture => {
                serde_json::from_str(json).ok().map(EventDetails::Sighting)
            }
            EventKind::Access => serde_json::from_str(json).ok().map(EventDetails::Access),
            EventKind::Export => serde_json::from_str(json).ok().map(EventDetails::Export),
            EventKind::Transfer => serde_json::from_str(json).ok().map(EventDetails::Transfer),
            EventKind::Derived => serde_json::from_str(json).ok().map(EventDetails::Derived),
            EventKind::Record => serde_json::from_str(json).ok().map(EventDetails::Record),
            EventKind::Erase => serde_json::from_str(json).ok().map(EventDetails::Erase),
        }
    }
}

/// One entry of an item's chain of custody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustodyEvent {
    /// Position in the archive's single sequence of events, from 1, without gaps.
    pub seq: u64,
    pub item: ItemId,
    pub kind: EventKind,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    pub actor: String,
    pub details: EventDetails,
    /// The salt of its v2 log entry (None for an event logged as v1). Not serialized: it
    /// opens the entry's commitments, so it is handed out only with proofs and bags.
    #[serde(skip)]
    pub salt: Option<crate::custody::Salt>,
}

/// An item about to be recorded, with the sighting that brought it.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub sha256: Sha256,
    pub size: u64,
    pub media_type: String,
    /// For collected files: how they were found (the collector is the event's actor).
    pub sighting: Sighting,
    /// For files Athar made from another item (review images): what and from which.
    pub derived: Option<Derived>,
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_round_trip_and_rejects() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let s: Sha256 = hex.parse().unwrap();
        assert_eq!(s.to_string(), hex);
        for bad in [
            "",
            "E3B0",
            &hex.to_uppercase(),
            &hex[1..],
            &format!("{hex}0"),
            &hex.replace('e', "g"),
        ] {
            assert!(bad.parse::<Sha256>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn item_ids_are_well_formed_and_sort_by_time() {
        let a = ItemId::generate().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ItemId::generate().unwrap();
        assert!(ItemId::parse(a.as_str()).is_some());
        assert!(a < b, "{a} !< {b}");
        assert!(ItemId::parse("0123").is_none());
        assert!(ItemId::parse("01234567890123456789012345I").is_none());
    }
}
