//! Hand-over packages: BagIt bags whose tag files carry each item's custody history with
//! C2SP proofs, so a receiver can check them offline, without Athar or with it.
//!
//! ```text
//! data/<item id>/<original name>            the preserved bytes
//! athar/README.txt                          how to verify, in plain language
//! athar/log.vkey                            the custody log's verifier key (also get it out of band)
//! athar/checkpoint                          the signed checkpoint every proof below verifies against
//! athar/items/<item id>/item.json           the item and its custody events (catalog records)
//! athar/items/<item id>/<seq>.entry         each event's exact log entry
//! athar/items/<item id>/<seq>.tlog-proof    its C2SP tlog-proof (extra = the entry)
//! athar/timestamps/<size>/checkpoint        a time-stamped checkpoint of the log
//! athar/timestamps/<size>/*.tsr             its RFC 3161 tokens
//! athar/timestamps/<size>/consistency       consistency proof between it and athar/checkpoint
//! athar/records.jsonl                       with `records`: the case's documentation records
//! athar/records/<id>/...                    their custody events, entries and proofs (see `records`)
//! ```
//!
//! A bag is pinned to the log size that ends with the last custody event it carries, and
//! carries no `export` events, so exporting the same items again gives the same bytes
//! (see [`export()`]).
//!
//! The work is split by direction: `export` writes bags, `verify` checks them with no
//! archive, `import` takes them into this archive. The types they share are here.

mod export;
mod import;
mod records;
mod verify;

pub use export::export;
pub use import::import_bag;
pub use records::{one_pass_order, RecordCheck, RecordState, RECORDS_DIR, RECORDS_FILE};
pub use verify::verify_bag;

use serde::Serialize;

/// Who is handing over, to whom, and how.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    pub to: Option<String>,
    pub organisation: String,
    /// The person exporting: the bag's contact, and the actor of the export events.
    pub contact: String,
    pub description: Option<String>,
    /// Copy the payload bytes even where the bag could hard-link the archive's blobs.
    pub copy: bool,
    /// Compute every SHA-512 from the bytes, and check it against the one recorded in the
    /// catalog (by the `sha512` job or an earlier export), instead of using the recorded one.
    pub recompute_sha512: bool,
    /// The case handed over, when it is a case's hand-over: the bag then carries only the
    /// custody events of that case (see [`crate::scope`]), never another case's sightings,
    /// accesses or exports of the same bytes, and the export events name it.
    pub case: Option<String>,
    /// Why it is handed over (the export events and `bag-info.txt` record it).
    pub purpose: Option<String>,
    /// Carry the case's documentation records (`athar/records.jsonl`) with their custody
    /// history; only for a case's hand-over.
    pub records: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub items: u64,
    pub bytes: u64,
    /// Custody events carried in the bag, each with its entry and proof.
    pub events: u64,
    /// The log size the bag is pinned to: its checkpoint and every proof are for this size.
    pub log_size: u64,
    /// Payload files that are hard links to the archive's blobs (the others were copied).
    pub linked: u64,
    /// SHA-512 digests computed by this export (the others had been recorded by jobs).
    pub sha512_computed: u64,
    /// The `export` custody events recorded for this hand-over, one per item.
    pub export_events: Vec<u64>,
    /// Documentation records carried (`athar/records.jsonl`).
    pub records: u64,
    /// Custody events of those records carried, each with its entry and proof.
    pub record_events: u64,
}

/// What a receiver learns about one item of a bag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Bytes intact, and every custody event proved in the log under a trusted key.
    Verified,
    /// The bytes differ from what the log recorded (or from the bag's manifest).
    Altered,
    /// The payload file is gone.
    Missing,
    /// The bytes match the bag's manifest, but custody cannot be checked (no proofs,
    /// no trusted key, or proofs that do not verify).
    Unverifiable,
}

/// One item's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ItemCheck {
    /// The payload path (`data/...`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub state: ItemState,
    /// Why, in words.
    pub detail: String,
}

/// The outcome of checking a bag.
#[derive(Debug, Clone, Serialize)]
pub struct BagCheck {
    /// True only when the bag is valid BagIt, every item is verified, and every record is
    /// verified or (a non-public source) withheld.
    pub ok: bool,
    pub bagit_valid: bool,
    pub bagit_errors: Vec<String>,
    pub bagit_warnings: Vec<String>,
    /// The checkpoint's tree size, when it verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_size: Option<u64>,
    pub items: Vec<ItemCheck>,
    /// The records file's records, when the bag carries one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordCheck>,
    /// RFC 3161 tokens over earlier checkpoints of the log, each with what was checked.
    pub timestamps: Vec<TimestampCheck>,
}

/// One time-stamp token in a bag.
#[derive(Debug, Clone, Serialize)]
pub struct TimestampCheck {
    pub file: String,
    /// The log size of the checkpoint it covers.
    pub log_size: u64,
    pub ok: bool,
    /// What the token attests, or why it fails.
    pub detail: String,
}

/// What an import brought in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub items: u64,
    pub new_items: u64,
    pub sender_events: u64,
    /// True when every item's sender custody was proved against a trusted key.
    pub sender_custody_verified: bool,
    /// The case the bag names, which its items and records were taken into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// Records in the bag's records file.
    pub records: u64,
    /// Of those, records written here (each a `record` custody event of this archive).
    pub new_records: u64,
    /// Of those, records this archive already held as they are (nothing written).
    pub unchanged_records: u64,
}
