//! Shared helpers for the conformance tests.

use std::path::PathBuf;

/// The shared conformance data directory, or `None` (after printing a
/// notice) when it is absent. Under `CI=true` absence is a failure.
pub fn testdata() -> Option<PathBuf> {
    let dir = match std::env::var_os("ATHAR_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "conformance data not found at {} (set ATHAR_TESTDATA)",
            dir.display()
        );
    }
    eprintln!(
        "NOTICE: conformance data not found at {}; skipping (set ATHAR_TESTDATA)",
        dir.display()
    );
    None
}

#[allow(dead_code)]
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}
