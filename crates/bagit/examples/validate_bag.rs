//! Validates a bag with [`athar_bagit::validate`] and prints the report; used by
//! `bench/bagit.sh`. Exit status: 0 valid, 1 invalid, 2 usage error.
//!
//! ```text
//! cargo run --release -p athar-bagit --example validate_bag -- BAG_DIR
//! ```

use athar_bagit::{validate, Options};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: validate_bag BAG_DIR");
        std::process::exit(2);
    };
    let report = validate(&dir, &Options::default());
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "{}: {} ({} payload files, {} bytes, {} errors, {} warnings)",
        dir,
        if report.is_valid() {
            "valid"
        } else {
            "INVALID"
        },
        report.payload_files,
        report.payload_bytes,
        report.errors.len(),
        report.warnings.len()
    );
    std::process::exit(if report.is_valid() { 0 } else { 1 });
}
