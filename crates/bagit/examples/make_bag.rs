//! Makes a BagIt bag of a directory with [`athar_bagit::BagWriter`]; used by
//! `bench/bagit.sh` to compare with bagit-python.
//!
//! ```text
//! cargo run --release -p athar-bagit --example make_bag -- SRC_DIR NEW_BAG_DIR [--validate]
//! ```
//!
//! Files are copied from `SRC_DIR` (which is left untouched) into `NEW_BAG_DIR/data/`.
//! Symbolic links and special files in `SRC_DIR` are refused. With `--validate`, the bag
//! is then validated with [`athar_bagit::validate`].

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use athar_bagit::{validate, BagWriter, Options};

fn main() {
    if let Err(e) = run() {
        eprintln!("make_bag: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--validate");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [src, dest] = paths.as_slice() else {
        return Err("usage: make_bag SRC_DIR NEW_BAG_DIR [--validate]".into());
    };
    let src = Path::new(src.as_str());
    let start = Instant::now();
    let mut files = Vec::new();
    walk(src, src, &mut files)?;
    files.sort();
    let mut bag = BagWriter::create(dest.as_str())?;
    bag.add_info("Source-Organization", "Athar benchmark")?;
    for rel in &files {
        let file = fs::File::open(src.join(rel))?;
        bag.add_payload(rel, file)?;
    }
    let copied = start.elapsed();
    let summary = bag.finish()?;
    eprintln!(
        "bagged {} files, {} bytes in {:.2?} (copy and hash {:.2?}, tag files and flush {:.2?})",
        summary.payload_files,
        summary.payload_bytes,
        start.elapsed(),
        copied,
        start.elapsed() - copied
    );
    if check {
        let start = Instant::now();
        let report = validate(dest.as_str(), &Options::default());
        for issue in report.errors.iter().chain(&report.warnings) {
            eprintln!("{issue}");
        }
        eprintln!("validated in {:.2?}", start.elapsed());
        if !report.is_valid() {
            return Err("the bag just written does not validate".into());
        }
    }
    Ok(())
}

/// Collects regular files under `dir` as `/`-separated paths relative to `base`.
fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let path: PathBuf = entry.path();
        if ft.is_dir() {
            walk(base, &path, out)?;
        } else if ft.is_file() {
            let rel = path.strip_prefix(base)?;
            let rel = rel.to_str().ok_or("file name is not UTF-8")?;
            out.push(rel.replace(std::path::MAIN_SEPARATOR, "/"));
        } else {
            return Err(format!("{}: not a regular file", path.display()).into());
        }
    }
    Ok(())
}
