//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared test data directory: `$ATHAR_TESTDATA`, else `../../../shared/testdata`
/// relative to this crate. Returns `None` (after printing a notice) when it is absent,
/// except under `CI=true`, where absence fails the test.
pub fn testdata_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("ATHAR_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("test data not found at {} (CI=true)", dir.display());
    }
    eprintln!(
        "notice: test data not found at {}; set ATHAR_TESTDATA to run these tests",
        dir.display()
    );
    None
}
