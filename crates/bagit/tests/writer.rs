//! BagWriter: written bags validate, output is deterministic, paths cannot escape, and the
//! validator catches tampering with a written bag.

// Helpers shared by the tests below unwrap like the tests themselves (clippy.toml allows it
// only inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use athar_bagit::{validate, BagError, BagWriter, IssueKind, Options, Report};

const TAG_FILES: &[&str] = &[
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "manifest-sha512.txt",
    "tagmanifest-sha256.txt",
    "tagmanifest-sha512.txt",
];

fn big() -> Vec<u8> {
    (0..3_000_017u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// Writes the same synthetic bag every time.
fn write_bag(dir: &Path) -> PathBuf {
    let root = dir.join("bag");
    let mut w = BagWriter::create(&root).unwrap();
    w.add_info("Source-Organization", "Synthetic Test Archive")
        .unwrap();
    w.add_info("External-Identifier", "test-0001").unwrap();
    w.set_bagging_date("2026-01-02").unwrap();
    w.add_payload("witness/statement.txt", &b"synthetic statement\n"[..])
        .unwrap();
    w.add_payload("video/clip.bin", &big()[..]).unwrap();
    w.add_payload("empty", &b""[..]).unwrap();
    let e = w
        .add_payload("odd name: 50% \"sure\"?.txt", &b"x"[..])
        .unwrap();
    assert_eq!(e.path, "data/odd name_ 50_ _sure__.txt");
    w.add_tag_file("athar/proof.json", &b"{}"[..]).unwrap();
    let s = w.finish().unwrap();
    assert_eq!((s.payload_files, s.payload_bytes), (4, 20 + 3_000_017 + 1));
    root
}

fn check(report: &Report, error: Option<IssueKind>) {
    match error {
        None => assert!(report.is_valid(), "{:#?}", report.errors),
        Some(kind) => assert!(report.has_error(kind), "no {kind}: {:#?}", report.errors),
    }
}

#[test]
fn written_bag_validates_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let root = write_bag(dir.path());
    let r = validate(&root, &Options::default());
    check(&r, None);
    assert!(r.warnings.is_empty(), "{:#?}", r.warnings);
    assert_eq!(r.version.as_deref(), Some("1.0"));
    assert_eq!((r.payload_files, r.payload_bytes), (4, 3_000_038));
    let manifest = fs::read_to_string(root.join("manifest-sha256.txt")).unwrap();
    assert!(
        manifest.contains("  data/odd name_ 50_ _sure__.txt\n"),
        "{manifest}"
    );
    let tags = fs::read_to_string(root.join("tagmanifest-sha512.txt")).unwrap();
    assert!(tags.contains("  athar/proof.json\n"));
    let info = fs::read_to_string(root.join("bag-info.txt")).unwrap();
    assert_eq!(
        info,
        "Source-Organization: Synthetic Test Archive\nExternal-Identifier: test-0001\n\
         Bagging-Date: 2026-01-02\nPayload-Oxum: 3000038.4\n"
    );
}

#[test]
fn output_is_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ra, rb) = (write_bag(a.path()), write_bag(b.path()));
    for name in TAG_FILES {
        assert_eq!(
            fs::read(ra.join(name)).unwrap(),
            fs::read(rb.join(name)).unwrap(),
            "{name} differs"
        );
    }
}

#[test]
fn refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        BagWriter::create(dir.path()),
        Err(BagError::AlreadyExists { .. })
    ));
}

#[test]
fn refuses_escaping_and_colliding_paths() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = BagWriter::create(dir.path().join("bag")).unwrap();
    for bad in ["../x", "a/../../x", "", "/", "./."] {
        assert!(
            matches!(
                w.add_payload(bad, &b""[..]),
                Err(BagError::InvalidPath { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        w.add_payload("/abs/x", &b""[..]).unwrap().path,
        "data/abs/x"
    );
    w.add_payload("dir/File.txt", &b""[..]).unwrap();
    for clash in ["dir/file.TXT", "dir/File.txt/inner", "abs", "dir\\File.txt"] {
        assert!(
            matches!(
                w.add_payload(clash, &b""[..]),
                Err(BagError::DuplicatePath { .. })
            ),
            "{clash:?}"
        );
    }
    // NFD and NFC spellings of the same name.
    w.add_payload("Nu\u{301}n\u{303}ez", &b""[..]).unwrap();
    assert!(w.add_payload("Núñez", &b""[..]).is_err());
    for reserved in [
        "bagit.txt",
        "manifest-md5.txt",
        "data/x",
        "Tagmanifest-sha1.txt",
    ] {
        assert!(w.add_tag_file(reserved, &b""[..]).is_err(), "{reserved:?}");
    }
    assert!(w.add_info("Payload-Oxum", "1.1").is_err());
    assert!(w.add_info("Bad:Label", "v").is_err());
    assert!(w.add_info("Label", "two\nlines").is_err());
    assert!(w.set_bagging_date("2026-1-2").is_err());
    // The writer left nothing half-written behind: the bag still validates.
    w.finish().unwrap();
    check(&validate(dir.path().join("bag"), &Options::default()), None);
}

#[test]
fn failed_reader_leaves_no_partial_file() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("source vanished"))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut w = BagWriter::create(dir.path().join("bag")).unwrap();
    let err = w.add_payload("x", Failing).unwrap_err();
    assert!(err.to_string().contains("data/x"), "{err}");
    assert!(!dir.path().join("bag/data/x").exists());
    w.add_payload("x", &b"ok"[..]).unwrap();
}

/// (what to do to a written bag, the error the validator must report)
type Tamper = (&'static str, fn(&Path), IssueKind);

#[test]
fn tampering_is_detected() {
    let cases: &[Tamper] = &[
        (
            "payload changed",
            |r| fs::write(r.join("data/empty"), "x").unwrap(),
            IssueKind::ChecksumMismatch,
        ),
        (
            "payload removed",
            |r| fs::remove_file(r.join("data/empty")).unwrap(),
            IssueKind::MissingPayloadFile,
        ),
        (
            "payload added",
            |r| fs::write(r.join("data/extra"), "").unwrap(),
            IssueKind::PayloadNotInManifest,
        ),
        (
            "bag-info changed",
            |r| {
                let p = r.join("bag-info.txt");
                let s = fs::read_to_string(&p)
                    .unwrap()
                    .replace("test-0001", "test-0002");
                fs::write(p, s).unwrap();
            },
            IssueKind::TagChecksumMismatch,
        ),
        (
            "oxum wrong",
            |r| {
                let p = r.join("bag-info.txt");
                let s = fs::read_to_string(&p).unwrap().replace(".4\n", ".5\n");
                fs::write(p, s).unwrap();
            },
            IssueKind::PayloadOxumMismatch,
        ),
        (
            "symlink in payload",
            |r| std::os::unix::fs::symlink("/etc/passwd", r.join("data/link")).unwrap(),
            IssueKind::UnsupportedFileType,
        ),
        (
            "data is a symlink",
            |r| {
                fs::rename(r.join("data"), r.join("real")).unwrap();
                std::os::unix::fs::symlink("real", r.join("data")).unwrap();
            },
            IssueKind::UnsupportedFileType,
        ),
        (
            "manifest escapes",
            |r| {
                let p = r.join("manifest-sha256.txt");
                let mut s = fs::read_to_string(&p).unwrap();
                s.push_str(&format!("{}  data/../../etc/passwd\n", "0".repeat(64)));
                fs::write(p, s).unwrap();
            },
            IssueKind::UnsafePath,
        ),
        (
            "payload renamed to differ in case only",
            |r| fs::rename(r.join("data/empty"), r.join("data/EMPTY")).unwrap(),
            IssueKind::MissingPayloadFile,
        ),
        (
            "bagit.txt removed",
            |r| fs::remove_file(r.join("bagit.txt")).unwrap(),
            IssueKind::MissingBagitTxt,
        ),
        (
            "unknown version",
            |r| {
                fs::write(
                    r.join("bagit.txt"),
                    "BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n",
                )
                .unwrap()
            },
            IssueKind::UnsupportedVersion,
        ),
        (
            "truncated manifest line",
            |r| fs::write(r.join("manifest-sha256.txt"), "abc\n").unwrap(),
            IssueKind::InvalidManifestLine,
        ),
        (
            "garbage tag file encoding",
            |r| fs::write(r.join("bag-info.txt"), b"A: \xff\xfe\n").unwrap(),
            IssueKind::InvalidEncoding,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let pristine = write_bag(dir.path());
    for (i, (what, tamper, kind)) in cases.iter().enumerate() {
        let root = dir.path().join(format!("case{i}"));
        copy_dir(&pristine, &root);
        tamper(&root);
        let r = validate(&root, &Options::default());
        assert!(r.has_error(*kind), "{what}: no {kind} in {:#?}", r.errors);
    }
}

#[test]
fn fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let root = write_bag(dir.path());
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("data/pipe"))
        .status();
    if !matches!(made, Ok(s) if s.success()) {
        eprintln!("NOTICE: mkfifo unavailable; FIFO case skipped");
        return;
    }
    check(
        &validate(&root, &Options::default()),
        Some(IssueKind::UnsupportedFileType),
    );
}

#[test]
fn percent_encoded_line_breaks_in_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bag");
    fs::create_dir_all(root.join("data")).unwrap();
    fs::write(
        root.join("bagit.txt"),
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
    )
    .unwrap();
    fs::write(root.join("data/a\nb%c\rd"), "").unwrap();
    let empty_md5 = "d41d8cd98f00b204e9800998ecf8427e";
    fs::write(
        root.join("manifest-md5.txt"),
        format!("{empty_md5}  data/a%0Ab%25c%0dd\n"),
    )
    .unwrap();
    check(&validate(&root, &Options::default()), None);
}

#[test]
fn checksums_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = write_bag(dir.path());
    // Same size, different content: only hashing can tell.
    fs::write(
        root.join("data/witness/statement.txt"),
        "SYNTHETIC STATEMENT\n",
    )
    .unwrap();
    let fast = Options {
        verify_checksums: false,
        ..Options::default()
    };
    check(&validate(&root, &fast), None);
    let one_thread = Options {
        threads: 1,
        ..Options::default()
    };
    check(
        &validate(&root, &one_thread),
        Some(IssueKind::ChecksumMismatch),
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Synthetic file contents of a given length.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn sha512_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha512::digest(b))
}

#[test]
fn many_files_at_once_link_or_copy_and_hash_like_one_by_one() {
    use athar_bagit::{PayloadFile, PayloadSource};
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    // Sizes around the hashing slice and buffer, and an empty file.
    let lens = [0usize, 1, 1 << 20, (70 << 20) + 3, 5000, 3_000_017];
    let contents: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| bytes(n, i as u32))
        .collect();
    for (i, c) in contents.iter().enumerate() {
        fs::write(src.join(format!("f{i}")), c).unwrap();
    }
    let files = |known: bool| -> Vec<PayloadFile> {
        contents
            .iter()
            .enumerate()
            .map(|(i, c)| PayloadFile {
                rel: format!("d{i}/f{i}.bin"),
                // One stream among the files: copied whatever the mode.
                source: if i == 4 {
                    PayloadSource::Reader(Box::new(std::io::Cursor::new(c.clone())))
                } else {
                    PayloadSource::File(src.join(format!("f{i}")))
                },
                size_hint: c.len() as u64,
                sha256: Some(sha256_hex(c)),
                sha512: known.then(|| sha512_hex(c)),
            })
            .collect()
    };
    for (name, link, known) in [("linked", true, false), ("copied", false, true)] {
        let root = dir.path().join(name);
        let mut w = BagWriter::create(&root).unwrap();
        w.set_bagging_date("2026-01-02").unwrap();
        let placed = w.add_payload_files(files(known), link).unwrap();
        assert_eq!(placed.len(), contents.len());
        for (i, (p, c)) in placed.iter().zip(&contents).enumerate() {
            assert_eq!(p.entry.path, format!("data/d{i}/f{i}.bin"));
            assert_eq!(p.entry.bytes, c.len() as u64);
            assert_eq!(p.entry.sha256, sha256_hex(c));
            assert_eq!(p.entry.sha512, sha512_hex(c));
            assert_eq!(p.linked, link && i != 4, "{name} {i}");
            assert_eq!(p.sha512_computed, !known);
            let a = fs::metadata(root.join(&p.entry.path)).unwrap();
            let b = fs::metadata(src.join(format!("f{i}"))).unwrap();
            assert_eq!(a.ino() == b.ino(), p.linked, "{name} {i}");
            assert_eq!(fs::read(root.join(&p.entry.path)).unwrap(), *c);
        }
        w.finish().unwrap();
        check(&validate(&root, &Options::default()), None);
    }
    // Both bags list the same payload, byte for byte.
    for m in ["manifest-sha256.txt", "manifest-sha512.txt", "bag-info.txt"] {
        assert_eq!(
            fs::read(dir.path().join("linked").join(m)).unwrap(),
            fs::read(dir.path().join("copied").join(m)).unwrap(),
            "{m}"
        );
    }
}

#[test]
fn many_files_at_once_refuse_bytes_that_do_not_match() {
    use athar_bagit::{PayloadFile, PayloadSource};
    let dir = tempfile::tempdir().unwrap();
    let good = bytes(100_000, 1);
    let bad = bytes(100_000, 2);
    fs::write(dir.path().join("good"), &good).unwrap();
    fs::write(dir.path().join("bad"), &bad).unwrap();
    for link in [true, false] {
        let root = dir.path().join(format!("bag-{link}"));
        let mut w = BagWriter::create(&root).unwrap();
        let files = vec![
            PayloadFile {
                rel: "good".into(),
                source: PayloadSource::File(dir.path().join("good")),
                size_hint: 0,
                sha256: Some(sha256_hex(&good)),
                sha512: None,
            },
            PayloadFile {
                rel: "bad".into(),
                source: PayloadSource::File(dir.path().join("bad")),
                size_hint: 0,
                // Claims the good file's digests: the known SHA-512 must not save it.
                sha256: Some(sha256_hex(&good)),
                sha512: Some(sha512_hex(&good)),
            },
        ];
        match w.add_payload_files(files, link) {
            Err(BagError::DigestMismatch {
                path,
                expected,
                actual,
            }) => {
                assert_eq!(path, "data/bad");
                assert_eq!(expected, sha256_hex(&good));
                assert_eq!(actual, sha256_hex(&bad));
            }
            other => panic!("expected a digest mismatch, got {other:?}"),
        }
    }
}

#[test]
fn a_file_on_another_file_system_is_copied_when_it_cannot_be_linked() {
    use athar_bagit::{PayloadFile, PayloadSource};
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
        eprintln!("notice: no /dev/shm; skipped");
        return;
    };
    if fs::metadata(other.path()).unwrap().dev() == fs::metadata(dir.path()).unwrap().dev() {
        eprintln!("notice: /dev/shm is on the same file system; skipped");
        return;
    }
    let content = bytes(300_000, 9);
    let src = other.path().join("clip.bin");
    fs::write(&src, &content).unwrap();
    let root = dir.path().join("bag");
    let mut w = BagWriter::create(&root).unwrap();
    let placed = w
        .add_payload_files(
            vec![PayloadFile {
                rel: "clip.bin".into(),
                source: PayloadSource::File(src),
                size_hint: content.len() as u64,
                sha256: Some(sha256_hex(&content)),
                sha512: None,
            }],
            true,
        )
        .unwrap();
    assert!(!placed[0].linked);
    assert_eq!(placed[0].entry.sha512, sha512_hex(&content));
    assert_eq!(fs::read(root.join("data/clip.bin")).unwrap(), content);
    w.finish().unwrap();
    check(&validate(&root, &Options::default()), None);
}
