#![no_main]
//! Checkpoint bodies: parse arbitrary text; whatever parses must format back to itself.

use athar_tlog::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cp) = Checkpoint::parse(text) {
        assert_eq!(cp.to_text(), text);
        assert_eq!(Checkpoint::parse(&cp.to_text()).ok(), Some(cp));
    }
});
