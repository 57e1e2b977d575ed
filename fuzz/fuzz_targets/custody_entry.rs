#![no_main]
//! Custody log entries (leaves of the archive's log, read back from tiles and bundles): parse
//! arbitrary bytes; what parses is canonical, so it encodes back to exactly those bytes.

use athar_core::custody::{LogEntry, MAX_ENTRY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = LogEntry::parse(data) {
        assert!(data.len() <= MAX_ENTRY);
        assert_eq!(entry.encode(), data);
        assert_eq!(LogEntry::parse(&entry.encode()).ok(), Some(entry));
    }
});
