//! The BagIt conformance suite (`bagit-conformance`, Library of Congress), data-driven.
//!
//! Data: `$ATHAR_TESTDATA/bagit-conformance`, by default `/work/shared/testdata` reached from
//! this crate as `../../../shared/testdata`. Absent data skips with a notice, except under
//! `CI=true`, where it fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

use athar_bagit::{validate, IssueKind, Options, Report};

/// What a suite case must produce.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// No errors.
    Valid,
    /// Rejected, with at least this error kind among the errors.
    Invalid(IssueKind),
    /// No errors, and at least this warning kind.
    Warning(IssueKind),
}
use Expect::*;
use IssueKind as K;

/// Every case of the suite, with the reason its folder name and README give, mapped to our
/// error kind. Readings that needed a choice are explained inline.
const CASES: &[(&str, Expect)] = &[
    ("v0.97/valid/ISO-8859-1-encoded-tag-files", Valid),
    ("v0.97/valid/UTF-16-encoded-tag-files", Valid),
    ("v0.97/valid/bag-in-a-bag", Valid),
    ("v0.97/valid/bag-with-encoded-names", Valid),
    ("v0.97/valid/bag-with-escapable-characters", Valid),
    ("v0.97/valid/bag-with-leading-dot-slash-in-manifest", Valid),
    ("v0.97/valid/bag-with-space", Valid),
    ("v0.97/valid/basic-bag", Valid),
    ("v0.97/valid/duplicate-metadata-entries", Valid),
    ("v0.97/valid/holey-bag", Valid),
    ("v0.97/valid/minimal-bag", Valid),
    ("v0.97/valid/uncommon-metadata-separators", Valid),
    ("v1.0/valid/basicBag", Valid),
    // The name says "baginfo", but the defect is in bagit.txt: it has no
    // Tag-File-Character-Encoding line (bag-info.txt never declares an encoding).
    (
        "v0.97/invalid/baginfo-missing-encoding",
        Invalid(K::MissingEncoding),
    ),
    ("v0.97/invalid/bom-in-bagit.txt", Invalid(K::BagitTxtBom)),
    (
        "v0.97/invalid/corrupt-data-file",
        Invalid(K::ChecksumMismatch),
    ),
    (
        "v0.97/invalid/corrupt-tag-file",
        Invalid(K::TagChecksumMismatch),
    ),
    (
        "v0.97/invalid/extra-file-in-bag",
        Invalid(K::PayloadNotInManifest),
    ),
    (
        "v0.97/invalid/invalid-version-number",
        Invalid(K::InvalidVersion),
    ),
    // bag-info.txt is optional in both 0.97 and RFC 8493 (v1.0/valid/basicBag has none);
    // this bag is invalid because its tag manifest lists the bag-info.txt that is missing.
    ("v0.97/invalid/missing-baginfo", Invalid(K::MissingTagFile)),
    (
        "v0.97/invalid/missing-bagit.txt",
        Invalid(K::MissingBagitTxt),
    ),
    (
        "v0.97/invalid/out-of-scope-file-paths-using-dot-notation",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/invalid/out-of-scope-file-paths-using-dot-notation-for-fetch",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/invalid/same-filename-listed-twice-with-different-hashes",
        Invalid(K::ConflictingDuplicate),
    ),
    (
        "v1.0/invalid/bagit-with-invalid-whitespace",
        Invalid(K::InvalidBagitTxt),
    ),
    (
        "v1.0/invalid/notAllManifestsListAllFiles",
        Invalid(K::PayloadNotInManifest),
    ),
    // This bag's bagit.txt also has a trailing space after "1.0" (InvalidBagitTxt too); the
    // reason the suite names is the conflicting entry, which is what we assert.
    (
        "v1.0/invalid/same-filename-listed-twice-with-different-hashes",
        Invalid(K::ConflictingDuplicate),
    ),
    // Ambiguous: its README says implementations may accept it with a warning, but the suite
    // files it under v1.0/invalid while the identical 0.97 bag is under warning. We follow
    // the folders: an identical repeated entry is an error in 1.0, a warning before.
    (
        "v1.0/invalid/same-filename-listed-twice-with-the-same-hash",
        Invalid(K::DuplicateEntry),
    ),
    (
        "v0.97/linux-only/out-of-scope-file-paths-using-absolute-path",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/linux-only/out-of-scope-file-paths-using-absolute-path-for-fetch",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/linux-only/out-of-scope-file-paths-using-shortcut",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/linux-only/out-of-scope-file-paths-using-shortcut-for-fetch",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/linux-only/out-of-scope-file-paths-using-shortcut-username",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/linux-only/out-of-scope-file-paths-using-shortcut-username-for-fetch",
        Invalid(K::UnsafePath),
    ),
    // Windows-only cases are rejected on every system: a bag is handed over to recipients
    // on any OS, and backslash or drive-letter paths would escape the bag on Windows.
    (
        "v0.97/windows-only/out-of-scope-file-paths-using-absolute-path",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/windows-only/out-of-scope-file-paths-using-absolute-path-for-fetch",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/windows-only/out-of-scope-file-paths-using-shortcut",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/windows-only/out-of-scope-file-paths-using-shortcut-for-fetch",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/windows-only/out-of-scope-file-paths-using-unc",
        Invalid(K::UnsafePath),
    ),
    (
        "v0.97/windows-only/out-of-scope-file-paths-using-unc-for-fetch",
        Invalid(K::UnsafePath),
    ),
    // Lists data/hello.txt and data/HELLO.txt; only hello.txt exists (the bag was made on a
    // case-insensitive file system). HELLO.txt is checked against hello.txt, with a warning.
    (
        "v0.97/warning/duplicate-file-with-different-case",
        Warning(K::CaseCollision),
    ),
    (
        "v0.97/warning/made-with-md5sum-tools",
        Warning(K::BinaryMarker),
    ),
    ("v0.97/warning/relative-path", Warning(K::DotSlashPrefix)),
    // Declares BagIt-Version 0.96, which we accept with the 0.97 rules.
    (
        "v0.97/warning/same-filename-listed-twice-with-different-normalization",
        Warning(K::NormalizationCollision),
    ),
    (
        "v0.97/warning/same-filename-listed-twice-with-the-same-hash",
        Warning(K::DuplicateEntry),
    ),
    // Lists data/.DS_Store and data/Thumbs.db. The suite's copy lacks .DS_Store (stripped
    // by version control, as copying tools often do); a listed but absent OS metadata file
    // is a warning (MissingSystemFile), and the present one is warned about as SystemFile.
    ("v0.97/warning/special-system-files", Warning(K::SystemFile)),
];

fn suite_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("ATHAR_TESTDATA") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    let dir = base.join("bagit-conformance");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("conformance suite not found at {} (CI=true)", dir.display());
    }
    eprintln!(
        "NOTICE: BagIt conformance suite not found at {}; set ATHAR_TESTDATA. Skipping.",
        dir.display()
    );
    None
}

fn summary(r: &Report) -> String {
    let mut s = String::new();
    for e in &r.errors {
        s.push_str(&format!("  error   {e}\n"));
    }
    for w in &r.warnings {
        s.push_str(&format!("  warning {w}\n"));
    }
    s
}

/// Checks one case; returns a failure description.
fn check(root: &std::path::Path, case: &str, expect: Expect) -> Option<String> {
    let r = validate(root.join(case), &Options::default());
    let ok = match expect {
        Valid => r.is_valid(),
        Invalid(kind) => r.has_error(kind),
        Warning(kind) => r.is_valid() && r.has_warning(kind),
    };
    (!ok).then(|| format!("{case}: expected {expect:?}, got\n{}", summary(&r)))
}

#[test]
fn conformance_suite() {
    let Some(root) = suite_dir() else { return };
    // Every case of the table is in the suite: a missing case would pass or fail for the
    // wrong reason, and an emptied suite would run nothing.
    let missing: Vec<&str> = CASES
        .iter()
        .map(|(case, _)| *case)
        .filter(|case| !root.join(case).is_dir())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} cases not found in {}: {missing:?}",
        missing.len(),
        CASES.len(),
        root.display()
    );
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(case, expect)| check(&root, case, *expect))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every case in the suite is in the table, so a new case cannot be skipped silently.
#[test]
fn every_suite_case_is_in_the_table() {
    let Some(root) = suite_dir() else { return };
    let known: BTreeSet<&str> = CASES.iter().map(|(c, _)| *c).collect();
    let mut missing = Vec::new();
    for version in std::fs::read_dir(&root).unwrap().flatten() {
        if !version.path().is_dir() {
            continue;
        }
        for group in std::fs::read_dir(version.path()).unwrap().flatten() {
            if !group.path().is_dir() {
                continue;
            }
            for case in std::fs::read_dir(group.path()).unwrap().flatten() {
                if !case.path().is_dir() {
                    continue;
                }
                let name = format!(
                    "{}/{}/{}",
                    version.file_name().to_string_lossy(),
                    group.file_name().to_string_lossy(),
                    case.file_name().to_string_lossy()
                );
                if !known.contains(name.as_str()) {
                    missing.push(name);
                }
            }
        }
    }
    assert!(missing.is_empty(), "cases not in the table: {missing:?}");
}

/// Prints every case's report; run with `--nocapture` to review messages.
#[test]
fn reports_name_file_and_line() {
    let Some(root) = suite_dir() else { return };
    let r = validate(
        root.join("v0.97/invalid/corrupt-data-file"),
        &Options::default(),
    );
    let e = r
        .errors
        .iter()
        .find(|e| e.kind == IssueKind::ChecksumMismatch)
        .unwrap();
    assert_eq!(e.path, "manifest-md5.txt");
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("data/bare-filename"), "{e}");
    assert_eq!((r.payload_files, r.payload_bytes), (2, 66));
}
