//! Validation of a bag directory.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::encoding::{self, TagEncoding};
use crate::error::{IssueKind, Report};
use crate::hash::{self, Algorithm};
use crate::parse::{self, Version};

/// How [`validate`] works.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads hashing files; 0 means one per available core.
    pub threads: usize,
    /// Hash files and compare with the manifests. When false only completeness, structure
    /// and paths are checked (fast, but says nothing about content).
    pub verify_checksums: bool,
    /// Tag files (manifests, `bag-info.txt`, …) are read into memory; a bigger one is an
    /// error rather than an allocation an attacker chooses.
    pub max_tag_file_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 0,
            verify_checksums: true,
            max_tag_file_bytes: 512 << 20,
        }
    }
}

/// Validates the bag in `dir` against BagIt 1.0 (RFC 8493) or 0.9x, as its `bagit.txt`
/// declares. Never panics and never fails: every problem, including I/O errors, is an
/// [`crate::Issue`] in the report. The bag is valid when [`Report::is_valid`].
pub fn validate(dir: impl AsRef<Path>, opts: &Options) -> Report {
    let mut v = Validator {
        root: dir.as_ref().to_path_buf(),
        opts,
        report: Report::default(),
        version: None,
        encoding: TagEncoding::Utf8,
        missing_system_files: 0,
    };
    v.run();
    let mut report = v.report;
    report.errors.sort();
    report.errors.dedup();
    report.warnings.sort();
    report.warnings.dedup();
    report
}

/// One digest a manifest line expects.
#[derive(Debug, Clone)]
struct Expect {
    alg: Algorithm,
    digest: String,
    manifest: String,
    line: usize,
    listed_as: String,
}

/// One parsed manifest: path → (digest, line).
#[derive(Debug)]
struct Manifest {
    name: String,
    alg: Algorithm,
    entries: BTreeMap<String, (String, usize)>,
}

#[derive(Debug)]
struct Job {
    rel: String,
    size: u64,
    tag: bool,
    expect: Vec<Expect>,
}

enum TagRead {
    Missing,
    Bad,
    Bytes(Vec<u8>),
}

struct Validator<'a> {
    root: PathBuf,
    opts: &'a Options,
    report: Report,
    version: Option<Version>,
    encoding: TagEncoding,
    /// Listed OS metadata files that are absent (tolerated, see `reconcile_payload`).
    missing_system_files: u64,
}

impl Validator<'_> {
    /// Bags older than 1.0 tolerate a few things 1.0 forbids. An unknown version is
    /// treated as 1.0, the strict reading.
    fn lenient(&self) -> bool {
        self.version.is_some_and(|v| v < Version::V1_0)
    }

    fn run(&mut self) {
        match fs::metadata(&self.root) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                self.report.error(
                    IssueKind::NotADirectory,
                    ".",
                    None,
                    "the bag is not a directory",
                );
                return;
            }
            Err(e) => {
                self.report.error(
                    IssueKind::Io,
                    ".",
                    None,
                    format!("cannot open the bag: {e}"),
                );
                return;
            }
        }
        self.read_bagit_txt();
        let oxum = self.read_bag_info();
        let (payload_names, tag_names, has_fetch) = self.list_root();
        let disk = self.walk_data();
        self.report.payload_files = disk.len() as u64;
        self.report.payload_bytes = disk.values().sum();

        let payload: Vec<Manifest> = payload_names
            .into_iter()
            .map(|(n, a)| self.parse_manifest(n, a, true))
            .collect();
        if payload.is_empty() {
            self.report.error(
                IssueKind::NoPayloadManifest,
                ".",
                None,
                "no payload manifest (manifest-<algorithm>.txt) with a supported algorithm",
            );
        }
        let tags: Vec<Manifest> = tag_names
            .into_iter()
            .map(|(n, a)| self.parse_manifest(n, a, false))
            .collect();
        let fetch = if has_fetch {
            self.read_fetch()
        } else {
            BTreeMap::new()
        };

        let mut jobs = self.reconcile_payload(&payload, &disk, &fetch);
        let unfetched = self.report.has_error(IssueKind::UnfetchedItem);
        jobs.extend(self.tag_jobs(&tags));

        if let Some((bytes, count, line)) = oxum {
            let (real_bytes, real_count) = (self.report.payload_bytes, self.report.payload_files);
            let msg = format!(
                "Payload-Oxum says {bytes} bytes in {count} files; the payload has \
                 {real_bytes} bytes in {real_count} files"
            );
            let absent = self.missing_system_files;
            if unfetched || (bytes, count) == (real_bytes, real_count) {
                // Consistent, or already reported as an incomplete payload.
            } else if absent > 0 && count == real_count + absent && bytes >= real_bytes {
                self.report.warn(
                    IssueKind::PayloadOxumMismatch,
                    "bag-info.txt",
                    Some(line),
                    format!("{msg}: explained by the absent OS metadata files"),
                );
            } else {
                self.report.error(
                    IssueKind::PayloadOxumMismatch,
                    "bag-info.txt",
                    Some(line),
                    msg,
                );
            }
        }
        if self.opts.verify_checksums {
            self.hash_and_compare(jobs);
        }
    }

    /// Reads a tag file at the bag root without following links or opening special files.
    fn read_tag_file(&mut self, rel: &str) -> TagRead {
        let path = self.root.join(rel);
        let md = match fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return TagRead::Missing,
            Err(e) => {
                self.report
                    .error(IssueKind::Io, rel, None, format!("cannot read: {e}"));
                return TagRead::Bad;
            }
        };
        if !md.is_file() {
            self.report.error(
                IssueKind::UnsupportedFileType,
                rel,
                None,
                "a tag file must be a regular file (not a link, directory or special file)",
            );
            return TagRead::Bad;
        }
        if md.len() > self.opts.max_tag_file_bytes {
            self.report.error(
                IssueKind::TagFileTooLarge,
                rel,
                None,
                format!(
                    "{} bytes, more than the {} allowed",
                    md.len(),
                    self.opts.max_tag_file_bytes
                ),
            );
            return TagRead::Bad;
        }
        let read = open_regular(&path).and_then(|f| {
            let mut b = Vec::new();
            f.take(self.opts.max_tag_file_bytes).read_to_end(&mut b)?;
            Ok(b)
        });
        match read {
            Ok(b) => TagRead::Bytes(b),
            Err(e) => {
                self.report
                    .error(IssueKind::Io, rel, None, format!("cannot read: {e}"));
                TagRead::Bad
            }
        }
    }

    /// Decodes a tag file other than `bagit.txt` in the declared encoding.
    fn decode_tag(&mut self, rel: &str, bytes: &[u8]) -> String {
        let d = encoding::decode(bytes, self.encoding);
        if d.had_bom {
            self.report.warn(
                IssueKind::TagFileBom,
                rel,
                Some(1),
                "starts with a byte order mark; ignored",
            );
        }
        if d.invalid {
            self.report.error(
                IssueKind::InvalidEncoding,
                rel,
                None,
                format!("not valid {:?} text", self.encoding),
            );
        }
        d.text
    }

    fn read_bagit_txt(&mut self) {
        const NAME: &str = "bagit.txt";
        let bytes = match self.read_tag_file(NAME) {
            TagRead::Bytes(b) => b,
            TagRead::Bad => return,
            TagRead::Missing => {
                self.report.error(
                    IssueKind::MissingBagitTxt,
                    NAME,
                    None,
                    "bagit.txt is missing: this is not a bag",
                );
                return;
            }
        };
        let body = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => {
                self.report.error(
                    IssueKind::BagitTxtBom,
                    NAME,
                    Some(1),
                    "bagit.txt must not start with a byte order mark",
                );
                rest
            }
            None => &bytes[..],
        };
        let text = match std::str::from_utf8(body) {
            Ok(t) => t.to_owned(),
            Err(e) => {
                self.report.error(
                    IssueKind::InvalidEncoding,
                    NAME,
                    None,
                    format!("bagit.txt must be UTF-8: {e}"),
                );
                String::from_utf8_lossy(body).into_owned()
            }
        };
        let mut version = None;
        let mut enc = None;
        for (n, line) in encoding::lines(&text) {
            let Some(field) = parse::strict_field(line) else {
                self.report.error(
                    IssueKind::InvalidBagitTxt,
                    NAME,
                    Some(n),
                    format!("{line:?} is not a `Label: value` line"),
                );
                continue;
            };
            if let Some(defect) = field.defect {
                self.report.error(
                    IssueKind::InvalidBagitTxt,
                    NAME,
                    Some(n),
                    format!("field {:?}: {defect}", field.label),
                );
            }
            let expected_line = match field.label {
                "BagIt-Version" => {
                    version = Some((field.value.to_owned(), n));
                    1
                }
                "Tag-File-Character-Encoding" => {
                    enc = Some((field.value.to_owned(), n));
                    2
                }
                other => {
                    self.report.error(
                        IssueKind::InvalidBagitTxt,
                        NAME,
                        Some(n),
                        format!("unexpected field {other:?}; bagit.txt has exactly two fields"),
                    );
                    continue;
                }
            };
            if n != expected_line {
                self.report.error(
                    IssueKind::InvalidBagitTxt,
                    NAME,
                    Some(n),
                    format!("field {:?} must be on line {expected_line}", field.label),
                );
            }
        }
        match version {
            None => self.report.error(
                IssueKind::InvalidBagitTxt,
                NAME,
                None,
                "field \"BagIt-Version\" is missing",
            ),
            Some((v, n)) => {
                self.report.version = Some(v.clone());
                match Version::parse(&v) {
                    None => self.report.error(
                        IssueKind::InvalidVersion,
                        NAME,
                        Some(n),
                        format!("BagIt-Version {v:?} is not of the form M.N"),
                    ),
                    Some(ver) => {
                        if !ver.is_supported() {
                            self.report.error(
                                IssueKind::UnsupportedVersion,
                                NAME,
                                Some(n),
                                format!("BagIt-Version {v} is not 0.93-0.97 or 1.0"),
                            );
                        }
                        self.version = Some(ver);
                    }
                }
            }
        }
        match enc {
            None => self.report.error(
                IssueKind::MissingEncoding,
                NAME,
                None,
                "field \"Tag-File-Character-Encoding\" is missing",
            ),
            Some((e, n)) => match TagEncoding::from_name(&e) {
                Some(te) => self.encoding = te,
                None => self.report.error(
                    IssueKind::UnsupportedEncoding,
                    NAME,
                    Some(n),
                    format!("Tag-File-Character-Encoding {e:?} is not supported"),
                ),
            },
        }
    }

    /// Parses `bag-info.txt` (optional) and returns Payload-Oxum (bytes, count, line).
    fn read_bag_info(&mut self) -> Option<(u64, u64, usize)> {
        const NAME: &str = "bag-info.txt";
        let bytes = match self.read_tag_file(NAME) {
            TagRead::Bytes(b) => b,
            TagRead::Missing | TagRead::Bad => return None,
        };
        let text = self.decode_tag(NAME, &bytes);
        let mut fields: Vec<(String, String, usize)> = Vec::new();
        for (n, line) in encoding::lines(&text) {
            if line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                match fields.last_mut() {
                    Some(last) => {
                        last.1.push(' ');
                        last.1.push_str(line.trim());
                    }
                    None => self.report.error(
                        IssueKind::InvalidBagInfo,
                        NAME,
                        Some(n),
                        "continuation line with no field before it",
                    ),
                }
                continue;
            }
            if line.trim().is_empty() {
                self.report
                    .warn(IssueKind::InvalidBagInfo, NAME, Some(n), "blank line");
                continue;
            }
            match line.split_once(':') {
                Some((label, value)) if !label.trim().is_empty() => {
                    fields.push((label.trim().to_owned(), value.trim().to_owned(), n));
                }
                _ => self.report.error(
                    IssueKind::InvalidBagInfo,
                    NAME,
                    Some(n),
                    format!("{line:?} is not a `Label: value` line"),
                ),
            }
        }
        let mut oxum = None;
        for (label, value, n) in &fields {
            if !label.eq_ignore_ascii_case("Payload-Oxum") {
                continue;
            }
            if oxum.is_some() {
                self.report.error(
                    IssueKind::InvalidPayloadOxum,
                    NAME,
                    Some(*n),
                    "Payload-Oxum given more than once",
                );
                continue;
            }
            let parsed = value.split_once('.').and_then(|(b, c)| {
                let ok = |s: &str| !s.is_empty() && s.bytes().all(|x| x.is_ascii_digit());
                if ok(b) && ok(c) {
                    Some((b.parse::<u64>().ok()?, c.parse::<u64>().ok()?))
                } else {
                    None
                }
            });
            match parsed {
                Some((b, c)) => oxum = Some((b, c, *n)),
                None => self.report.error(
                    IssueKind::InvalidPayloadOxum,
                    NAME,
                    Some(*n),
                    format!("Payload-Oxum {value:?} is not <octets>.<file count>"),
                ),
            }
        }
        self.report.bag_info = fields.into_iter().map(|(l, v, _)| (l, v)).collect();
        oxum
    }

    /// Lists the bag root: payload manifests, tag manifests, whether there is a fetch.txt.
    #[allow(clippy::type_complexity)]
    fn list_root(&mut self) -> (Vec<(String, Algorithm)>, Vec<(String, Algorithm)>, bool) {
        let mut payload = Vec::new();
        let mut tags = Vec::new();
        let mut fetch = false;
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) => {
                self.report.error(
                    IssueKind::Io,
                    ".",
                    None,
                    format!("cannot list the bag: {e}"),
                );
                return (payload, tags, fetch);
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.report.error(
                        IssueKind::Io,
                        ".",
                        None,
                        format!("cannot list the bag: {e}"),
                    );
                    continue;
                }
            };
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                self.report.error(
                    IssueKind::NonUtf8FileName,
                    &entry.file_name().to_string_lossy(),
                    None,
                    "file name is not valid UTF-8",
                );
                continue;
            };
            let ft = match entry.file_type() {
                Ok(ft) => ft,
                Err(e) => {
                    self.report
                        .error(IssueKind::Io, &name, None, format!("cannot stat: {e}"));
                    continue;
                }
            };
            if ft.is_symlink() {
                self.report.error(
                    IssueKind::UnsupportedFileType,
                    &name,
                    None,
                    "symbolic link; a bag must not contain links",
                );
                continue;
            }
            if ft.is_dir() {
                continue;
            }
            if !ft.is_file() {
                self.report.error(
                    IssueKind::UnsupportedFileType,
                    &name,
                    None,
                    "device file, FIFO or socket; a bag holds regular files only",
                );
                continue;
            }
            if name == "fetch.txt" {
                fetch = true;
                continue;
            }
            let (list, alg_name) = if let Some(a) = name
                .strip_prefix("tagmanifest-")
                .and_then(|r| r.strip_suffix(".txt"))
            {
                (&mut tags, a)
            } else if let Some(a) = name
                .strip_prefix("manifest-")
                .and_then(|r| r.strip_suffix(".txt"))
            {
                (&mut payload, a)
            } else {
                continue;
            };
            match Algorithm::from_name(alg_name) {
                Some(alg) => list.push((name.clone(), alg)),
                None => self.report.warn(
                    IssueKind::UnsupportedAlgorithm,
                    &name,
                    None,
                    format!(
                        "algorithm {alg_name:?} is not supported; this manifest is not checked"
                    ),
                ),
            }
        }
        payload.sort();
        tags.sort();
        (payload, tags, fetch)
    }

    /// Walks `data/` without following links; returns path ("data/…") → size.
    fn walk_data(&mut self) -> BTreeMap<String, u64> {
        let mut files = BTreeMap::new();
        let data = self.root.join("data");
        match fs::symlink_metadata(&data) {
            Ok(md) if md.is_dir() => {}
            Ok(md) if md.file_type().is_symlink() => {
                self.report.error(
                    IssueKind::UnsupportedFileType,
                    "data",
                    None,
                    "data/ is a symbolic link; a bag must not contain links",
                );
                return files;
            }
            Ok(_) => {
                self.report.error(
                    IssueKind::MissingDataDir,
                    "data",
                    None,
                    "data/ is not a directory",
                );
                return files;
            }
            Err(e) => {
                let kind = if e.kind() == io::ErrorKind::NotFound {
                    IssueKind::MissingDataDir
                } else {
                    IssueKind::Io
                };
                self.report
                    .error(kind, "data", None, format!("payload directory data/: {e}"));
                return files;
            }
        }
        let mut stack = vec![(data, "data".to_owned())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    self.report
                        .error(IssueKind::Io, &rel, None, format!("cannot list: {e}"));
                    continue;
                }
            };
            for entry in entries {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        self.report
                            .error(IssueKind::Io, &rel, None, format!("cannot list: {e}"));
                        continue;
                    }
                };
                let os_name = entry.file_name();
                let Some(name) = os_name.to_str() else {
                    self.report.error(
                        IssueKind::NonUtf8FileName,
                        &format!("{rel}/{}", os_name.to_string_lossy()),
                        None,
                        "file name is not valid UTF-8; it cannot be listed in a manifest",
                    );
                    continue;
                };
                let child = format!("{rel}/{name}");
                let md = match entry.metadata() {
                    Ok(md) => md,
                    Err(e) => {
                        self.report
                            .error(IssueKind::Io, &child, None, format!("cannot stat: {e}"));
                        continue;
                    }
                };
                let ft = md.file_type();
                if ft.is_symlink() {
                    self.report.error(
                        IssueKind::UnsupportedFileType,
                        &child,
                        None,
                        "symbolic link; a bag must not contain links",
                    );
                } else if ft.is_dir() {
                    stack.push((entry.path(), child));
                } else if ft.is_file() {
                    files.insert(child, md.len());
                } else {
                    self.report.error(
                        IssueKind::UnsupportedFileType,
                        &child,
                        None,
                        "device file, FIFO or socket; a bag holds regular files only",
                    );
                }
            }
        }
        files
    }

    fn parse_manifest(&mut self, name: String, alg: Algorithm, payload: bool) -> Manifest {
        let mut m = Manifest {
            name,
            alg,
            entries: BTreeMap::new(),
        };
        let bytes = match self.read_tag_file(&m.name) {
            TagRead::Bytes(b) => b,
            TagRead::Missing | TagRead::Bad => return m,
        };
        let text = self.decode_tag(&m.name, &bytes);
        let name = m.name.clone();
        for (n, line) in encoding::lines(&text) {
            if line.trim().is_empty() {
                continue;
            }
            let ml = match parse::manifest_line(line, alg.hex_len()) {
                Ok(ml) => ml,
                Err(msg) => {
                    self.report
                        .error(IssueKind::InvalidManifestLine, &name, Some(n), msg);
                    continue;
                }
            };
            if ml.binary_marker {
                self.report.warn(
                    IssueKind::BinaryMarker,
                    &name,
                    Some(n),
                    "`*` before the path is the md5sum binary-mode marker, not part of the \
                     name; ignored",
                );
            }
            let checked = match parse::check_bag_path(&ml.raw_path) {
                Ok(c) => c,
                Err(msg) => {
                    self.report
                        .error(IssueKind::UnsafePath, &name, Some(n), msg);
                    continue;
                }
            };
            if checked.had_dot_slash {
                self.report.warn(
                    IssueKind::DotSlashPrefix,
                    &name,
                    Some(n),
                    format!("{:?}: leading `./` ignored", ml.raw_path),
                );
            }
            let path = checked.path;
            if payload && !path.starts_with("data/") {
                self.report.error(
                    IssueKind::PathOutsidePayload,
                    &name,
                    Some(n),
                    format!("{path:?} is not under data/"),
                );
                continue;
            }
            if let Some((digest, first)) = m.entries.get(&path) {
                if *digest != ml.digest {
                    self.report.error(
                        IssueKind::ConflictingDuplicate,
                        &name,
                        Some(n),
                        format!(
                            "{path:?} listed again with a different digest (first on line {first})"
                        ),
                    );
                } else {
                    // The conformance suite puts the same bag in v0.97/warning and in
                    // v1.0/invalid: a repeated identical entry is tolerated (warning) before
                    // 1.0 and an error under RFC 8493, whose manifests list each file once.
                    let msg = format!("{path:?} listed again (first on line {first})");
                    if self.lenient() {
                        self.report
                            .warn(IssueKind::DuplicateEntry, &name, Some(n), msg);
                    } else {
                        self.report
                            .error(IssueKind::DuplicateEntry, &name, Some(n), msg);
                    }
                }
                continue;
            }
            m.entries.insert(path, (ml.digest, n));
        }
        m
    }

    /// Parses fetch.txt; returns path → line. Nothing is ever fetched.
    fn read_fetch(&mut self) -> BTreeMap<String, usize> {
        const NAME: &str = "fetch.txt";
        let mut out = BTreeMap::new();
        let bytes = match self.read_tag_file(NAME) {
            TagRead::Bytes(b) => b,
            TagRead::Missing | TagRead::Bad => return out,
        };
        let text = self.decode_tag(NAME, &bytes);
        for (n, line) in encoding::lines(&text) {
            if line.trim().is_empty() {
                continue;
            }
            let fl = match parse::fetch_line(line) {
                Ok(f) => f,
                Err(msg) => {
                    self.report
                        .error(IssueKind::InvalidFetchLine, NAME, Some(n), msg);
                    continue;
                }
            };
            match parse::check_bag_path(&fl.raw_path) {
                Err(msg) => self.report.error(IssueKind::UnsafePath, NAME, Some(n), msg),
                Ok(c) if !c.path.starts_with("data/") => self.report.error(
                    IssueKind::PathOutsidePayload,
                    NAME,
                    Some(n),
                    format!("{:?} is not under data/", c.path),
                ),
                Ok(c) => {
                    out.insert(c.path, n);
                }
            }
            let _ = (fl.url, fl.length);
        }
        self.report.warn(
            IssueKind::FetchNotSupported,
            NAME,
            None,
            format!(
                "fetch.txt lists {} item(s); fetching is not supported: items present are \
                 checked, absent ones are errors",
                out.len()
            ),
        );
        out
    }

    /// Matches manifest entries with files on disk; returns the hashing jobs.
    fn reconcile_payload(
        &mut self,
        manifests: &[Manifest],
        disk: &BTreeMap<String, u64>,
        fetch: &BTreeMap<String, usize>,
    ) -> Vec<Job> {
        let mut nfc: HashMap<String, Vec<&String>> = HashMap::new();
        let mut fold: HashMap<String, Vec<&String>> = HashMap::new();
        for p in disk.keys() {
            nfc.entry(parse::nfc_key(p)).or_default().push(p);
            fold.entry(parse::fold_key(p)).or_default().push(p);
        }
        // A listed name that is not on disk, but that a normalising file system (macOS) would
        // open as a file that is on disk, is that file. The same goes for a name differing
        // only in case (as on macOS and Windows), but only when the manifest also lists the
        // file under its exact name: the suite's warning case is such a double listing, and
        // a lone wrong-case name stays an error. Either way the file is still hashed against
        // every listing, so a different file cannot pass for it.
        let resolve = |p: &String| -> Option<(String, Option<IssueKind>)> {
            if disk.contains_key(p) {
                return Some((p.clone(), None));
            }
            if let Some([only]) = nfc.get(&parse::nfc_key(p)).map(Vec::as_slice) {
                return Some(((*only).clone(), Some(IssueKind::NormalizationCollision)));
            }
            if let Some([only]) = fold.get(&parse::fold_key(p)).map(Vec::as_slice) {
                return Some(((*only).clone(), Some(IssueKind::CaseCollision)));
            }
            None
        };

        let mut expected: BTreeMap<String, Vec<Expect>> = BTreeMap::new();
        let mut coverage: Vec<HashSet<String>> = Vec::new();
        let mut reported_missing = BTreeSet::new();
        let mut warned_groups = HashSet::new();
        for m in manifests {
            let mut covered = HashSet::new();
            // Entries of one manifest that name the same file on a case-insensitive or
            // normalising file system.
            self.warn_name_groups(m, &mut warned_groups);
            for (p, (digest, line)) in &m.entries {
                let resolved = resolve(p).filter(|(d, how)| {
                    *how != Some(IssueKind::CaseCollision) || m.entries.contains_key(d)
                });
                match resolved {
                    Some((d, how)) => {
                        if let Some(kind) = how {
                            self.report.warn(
                                kind,
                                &m.name,
                                Some(*line),
                                format!(
                                    "{p:?} is not on disk under that exact name; {d:?} is, \
                                     and is checked in its place"
                                ),
                            );
                        }
                        expected.entry(d.clone()).or_default().push(Expect {
                            alg: m.alg,
                            digest: digest.clone(),
                            manifest: m.name.clone(),
                            line: *line,
                            listed_as: p.clone(),
                        });
                        covered.insert(d);
                    }
                    None => {
                        if reported_missing.insert(p.clone()) {
                            self.report_missing(m, p, *line, fetch);
                        }
                    }
                }
            }
            coverage.push(covered);
        }
        self.report_unlisted(manifests, disk, &coverage);
        expected
            .into_iter()
            .map(|(rel, expect)| Job {
                size: disk.get(&rel).copied().unwrap_or(0),
                rel,
                tag: false,
                expect,
            })
            .collect()
    }

    /// Warns, once per group across all manifests, about entries of manifest `m` that name
    /// the same file on a case-insensitive or normalising file system.
    fn warn_name_groups(&mut self, m: &Manifest, warned_groups: &mut HashSet<String>) {
        let mut groups: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for p in m.entries.keys() {
            groups.entry(parse::fold_key(p)).or_default().push(p);
        }
        for (key, members) in &groups {
            if members.len() > 1 && warned_groups.insert(key.clone()) {
                let first = members.first().map(|x| parse::nfc_key(x));
                let same_nfc = members.iter().all(|x| Some(parse::nfc_key(x)) == first);
                let kind = if same_nfc {
                    IssueKind::NormalizationCollision
                } else {
                    IssueKind::CaseCollision
                };
                let line = members.get(1).and_then(|p| m.entries.get(*p)).map(|e| e.1);
                self.report.warn(
                    kind,
                    &m.name,
                    line,
                    format!(
                        "{members:?} name the same file on case-insensitive or \
                         Unicode-normalising file systems"
                    ),
                );
            }
        }
    }

    /// Reports a payload path listed on `line` of manifest `m` that is not in the bag.
    fn report_missing(
        &mut self,
        m: &Manifest,
        p: &str,
        line: usize,
        fetch: &BTreeMap<String, usize>,
    ) {
        if let Some(fl) = fetch.get(p) {
            self.report.error(
                IssueKind::UnfetchedItem,
                "fetch.txt",
                Some(*fl),
                format!("{p:?} is to be fetched and is absent: payload incomplete"),
            );
        } else if parse::is_system_file(p) {
            // Copying tools and version control routinely drop these
            // (.DS_Store, Thumbs.db); they hold no payload content.
            self.missing_system_files += 1;
            self.report.warn(
                IssueKind::MissingSystemFile,
                &m.name,
                Some(line),
                format!("{p:?} (operating-system metadata) is listed but absent"),
            );
        } else {
            self.report.error(
                IssueKind::MissingPayloadFile,
                &m.name,
                Some(line),
                format!("{p:?} is listed but not in the bag"),
            );
        }
    }

    /// Reports payload files on disk that a manifest does not cover, and operating-system
    /// metadata files in the payload.
    fn report_unlisted(
        &mut self,
        manifests: &[Manifest],
        disk: &BTreeMap<String, u64>,
        coverage: &[HashSet<String>],
    ) {
        for p in disk.keys() {
            for (m, covered) in manifests.iter().zip(coverage) {
                if !covered.contains(p) {
                    self.report.error(
                        IssueKind::PayloadNotInManifest,
                        p,
                        None,
                        format!("payload file not listed in {}", m.name),
                    );
                }
            }
            if parse::is_system_file(p) {
                self.report.warn(
                    IssueKind::SystemFile,
                    p,
                    None,
                    "operating-system metadata file in the payload",
                );
            }
        }
    }

    fn tag_jobs(&mut self, manifests: &[Manifest]) -> Vec<Job> {
        let mut expected: BTreeMap<String, Vec<Expect>> = BTreeMap::new();
        let mut sizes = HashMap::new();
        for m in manifests {
            for (p, (digest, line)) in &m.entries {
                match fs::symlink_metadata(self.root.join(p)) {
                    Ok(md) if md.is_file() => {
                        sizes.insert(p.clone(), md.len());
                        expected.entry(p.clone()).or_default().push(Expect {
                            alg: m.alg,
                            digest: digest.clone(),
                            manifest: m.name.clone(),
                            line: *line,
                            listed_as: p.clone(),
                        });
                    }
                    Ok(_) => self.report.error(
                        IssueKind::UnsupportedFileType,
                        &m.name,
                        Some(*line),
                        format!("{p:?} is not a regular file"),
                    ),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => self.report.error(
                        IssueKind::MissingTagFile,
                        &m.name,
                        Some(*line),
                        format!("{p:?} is listed but not in the bag"),
                    ),
                    Err(e) => self.report.error(
                        IssueKind::Io,
                        &m.name,
                        Some(*line),
                        format!("{p:?}: {e}"),
                    ),
                }
            }
        }
        expected
            .into_iter()
            .map(|(rel, expect)| Job {
                size: sizes.get(&rel).copied().unwrap_or(0),
                rel,
                tag: true,
                expect,
            })
            .collect()
    }

    fn hash_and_compare(&mut self, mut jobs: Vec<Job>) {
        // Largest first, so the last file to finish is a small one.
        jobs.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.rel.cmp(&b.rel)));
        let results = hash_parallel(&self.root, &jobs, self.opts.threads);
        for (job, result) in jobs.iter().zip(results) {
            let digests = match result {
                Ok(d) => d,
                Err(e) => {
                    self.report
                        .error(IssueKind::Io, &job.rel, None, format!("cannot hash: {e}"));
                    continue;
                }
            };
            for ex in &job.expect {
                let actual = digests.iter().find(|(a, _)| *a == ex.alg).map(|(_, d)| d);
                if actual == Some(&ex.digest) {
                    continue;
                }
                let kind = if job.tag {
                    IssueKind::TagChecksumMismatch
                } else {
                    IssueKind::ChecksumMismatch
                };
                self.report.error(
                    kind,
                    &ex.manifest,
                    Some(ex.line),
                    format!(
                        "{:?}: {} is {}, manifest says {}",
                        ex.listed_as,
                        ex.alg,
                        actual.map(String::as_str).unwrap_or("unknown"),
                        ex.digest
                    ),
                );
            }
        }
    }
}

type HashResult = io::Result<Vec<(Algorithm, String)>>;

/// Hashes every job's file with its algorithms, one read per file, on `threads` threads.
fn hash_parallel(root: &Path, jobs: &[Job], threads: usize) -> Vec<HashResult> {
    let threads = if threads == 0 {
        thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
    .clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<HashResult>> = (0..jobs.len()).map(|_| None).collect();
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; hash::BUF_SIZE];
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        out.push((i, hash_file(&root.join(&job.rel), job, &mut buf)));
                    }
                    out
                })
            })
            .collect();
        for w in workers {
            if let Ok(out) = w.join() {
                for (i, r) in out {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("hashing thread failed"))))
        .collect()
}

/// Files at least this big are hashed on two threads when there are several algorithms.
const SPLIT_FROM: u64 = 64 << 20;

fn hash_file(path: &Path, job: &Job, buf: &mut [u8]) -> HashResult {
    let algs: Vec<Algorithm> = job.expect.iter().map(|e| e.alg).collect();
    let file = open_regular(path)?;
    if job.size >= SPLIT_FROM {
        hash::hash_reader_split(file, &algs).map(|(d, _)| d)
    } else {
        hash::hash_reader_with(file, &algs, buf).map(|(d, _)| d)
    }
}

/// Opens a file for reading without following a symbolic link and without blocking on a
/// FIFO (in case the bag changed since it was listed); refuses anything not a regular file.
fn open_regular(path: &Path) -> io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        opts.custom_flags(flags.bits() as i32);
    }
    let file = opts.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}
