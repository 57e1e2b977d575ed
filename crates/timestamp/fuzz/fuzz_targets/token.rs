//! Any bytes given to `inspect`, `read_response` or `verify` (without a CA file, so no child process) must give
//! a result or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = athar_timestamp::inspect(data);
    let _ = athar_timestamp::verify(data, &[0u8; 32], None);
    let _ = athar_timestamp::read_response(data, &[0u8; 32], 1, "fuzz");
});
