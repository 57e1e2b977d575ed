//! Typed errors of the writer, and the issues a validation reports.

use std::fmt;
use std::path::PathBuf;

/// An error while writing a bag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BagError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bag directory already exists; bags are never written over.
    #[error("{}: already exists; a bag is only ever created in a new directory", path.display())]
    AlreadyExists {
        /// The directory that exists.
        path: PathBuf,
    },
    /// A destination path inside the bag was refused.
    #[error("path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given by the caller.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// Two files would land on the same name (exactly, or on a case-insensitive or
    /// Unicode-normalising file system).
    #[error("path {path:?} collides with {existing:?} already in the bag")]
    DuplicatePath {
        /// The path as given by the caller, after sanitising.
        path: String,
        /// The path already in the bag.
        existing: String,
    },
    /// A payload file's bytes do not have the SHA-256 they were expected to have.
    #[error("{path}: expected SHA-256 {expected}, the bytes hash to {actual}")]
    DigestMismatch {
        /// The file's path in the bag.
        path: String,
        /// The SHA-256 the caller expected.
        expected: String,
        /// The SHA-256 of the bytes.
        actual: String,
    },
    /// A bag-info field was refused.
    #[error("bag-info.txt field {label:?}: {reason}")]
    InvalidInfo {
        /// The field's label.
        label: String,
        /// Why it was refused.
        reason: String,
    },
}

impl BagError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BagError::Io {
            path: path.into(),
            source,
        }
    }
}

/// What a validation issue is about. [`IssueKind::as_str`] gives a stable machine-readable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IssueKind {
    /// A file or directory could not be read.
    Io,
    /// The bag path is not a directory.
    NotADirectory,
    /// `bagit.txt` is missing.
    MissingBagitTxt,
    /// `bagit.txt` starts with a byte order mark.
    BagitTxtBom,
    /// `bagit.txt` is malformed (wrong labels, whitespace around values, extra lines).
    InvalidBagitTxt,
    /// `bagit.txt` lacks `Tag-File-Character-Encoding`.
    MissingEncoding,
    /// `BagIt-Version` is not of the form `M.N`.
    InvalidVersion,
    /// `BagIt-Version` is well formed but not a version this crate knows.
    UnsupportedVersion,
    /// The tag file character encoding is not supported.
    UnsupportedEncoding,
    /// A tag file's bytes are not valid in its declared encoding.
    InvalidEncoding,
    /// A tag file other than `bagit.txt` starts with a byte order mark.
    TagFileBom,
    /// A tag file is larger than [`crate::Options::max_tag_file_bytes`].
    TagFileTooLarge,
    /// A line of `bag-info.txt` is malformed.
    InvalidBagInfo,
    /// `Payload-Oxum` is malformed.
    InvalidPayloadOxum,
    /// `Payload-Oxum` does not match the payload.
    PayloadOxumMismatch,
    /// The `data/` payload directory is missing.
    MissingDataDir,
    /// No payload manifest with a supported algorithm.
    NoPayloadManifest,
    /// A manifest uses an algorithm this crate cannot check.
    UnsupportedAlgorithm,
    /// A manifest line is malformed (no path, bad hex, wrong digest length).
    InvalidManifestLine,
    /// A manifest line uses the `*path` binary marker of md5sum-style tools.
    BinaryMarker,
    /// A manifest path starts with `./`.
    DotSlashPrefix,
    /// A path is absolute, climbs out with `..`, uses `~`, backslashes, drive letters, or
    /// empty or `.` components.
    UnsafePath,
    /// A payload manifest or fetch entry is not under `data/`.
    PathOutsidePayload,
    /// A path is listed twice in one manifest with the same digest.
    DuplicateEntry,
    /// A path is listed twice in one manifest with different digests.
    ConflictingDuplicate,
    /// Paths differ only by letter case.
    CaseCollision,
    /// Paths differ only by Unicode normalisation.
    NormalizationCollision,
    /// A file listed in a payload manifest is not in the bag.
    MissingPayloadFile,
    /// A payload file is not listed in a payload manifest.
    PayloadNotInManifest,
    /// A payload file's digest does not match its manifest.
    ChecksumMismatch,
    /// A file listed in a tag manifest is not in the bag.
    MissingTagFile,
    /// A tag file's digest does not match its tag manifest.
    TagChecksumMismatch,
    /// A symbolic link, device file, FIFO or socket in the bag.
    UnsupportedFileType,
    /// A file name is not valid UTF-8.
    NonUtf8FileName,
    /// An operating-system metadata file (`.DS_Store`, `Thumbs.db`, …) in the payload.
    SystemFile,
    /// An operating-system metadata file is listed but absent.
    MissingSystemFile,
    /// The bag has a `fetch.txt`; fetching is not supported.
    FetchNotSupported,
    /// A `fetch.txt` item is not present, so the payload is incomplete.
    UnfetchedItem,
    /// A line of `fetch.txt` is malformed.
    InvalidFetchLine,
}

impl IssueKind {
    /// Stable, machine-readable name (snake case).
    pub fn as_str(self) -> &'static str {
        use IssueKind::*;
        match self {
            Io => "io",
            NotADirectory => "not_a_directory",
            MissingBagitTxt => "missing_bagit_txt",
            BagitTxtBom => "bagit_txt_bom",
            InvalidBagitTxt => "invalid_bagit_txt",
            MissingEncoding => "missing_encoding",
            InvalidVersion => "invalid_version",
            UnsupportedVersion => "unsupported_version",
            UnsupportedEncoding => "unsupported_encoding",
            InvalidEncoding => "invalid_encoding",
            TagFileBom => "tag_file_bom",
            TagFileTooLarge => "tag_file_too_large",
            InvalidBagInfo => "invalid_bag_info",
            InvalidPayloadOxum => "invalid_payload_oxum",
            PayloadOxumMismatch => "payload_oxum_mismatch",
            MissingDataDir => "missing_data_dir",
            NoPayloadManifest => "no_payload_manifest",
            UnsupportedAlgorithm => "unsupported_algorithm",
            InvalidManifestLine => "invalid_manifest_line",
            BinaryMarker => "binary_marker",
            DotSlashPrefix => "dot_slash_prefix",
            UnsafePath => "unsafe_path",
            PathOutsidePayload => "path_outside_payload",
            DuplicateEntry => "duplicate_entry",
            ConflictingDuplicate => "conflicting_duplicate",
            CaseCollision => "case_collision",
            NormalizationCollision => "normalization_collision",
            MissingPayloadFile => "missing_payload_file",
            PayloadNotInManifest => "payload_not_in_manifest",
            ChecksumMismatch => "checksum_mismatch",
            MissingTagFile => "missing_tag_file",
            TagChecksumMismatch => "tag_checksum_mismatch",
            UnsupportedFileType => "unsupported_file_type",
            NonUtf8FileName => "non_utf8_file_name",
            SystemFile => "system_file",
            MissingSystemFile => "missing_system_file",
            FetchNotSupported => "fetch_not_supported",
            UnfetchedItem => "unfetched_item",
            InvalidFetchLine => "invalid_fetch_line",
        }
    }
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One error or warning found by [`crate::validate`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Issue {
    /// The file concerned, relative to the bag root (`"."` for the bag itself).
    pub path: String,
    /// The 1-based line in that file, where the issue is about one line.
    pub line: Option<usize>,
    /// What kind of issue this is.
    pub kind: IssueKind,
    /// Human-readable explanation, naming the field or entry concerned.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: [{}] {}",
                self.path, line, self.kind, self.message
            ),
            None => write!(f, "{}: [{}] {}", self.path, self.kind, self.message),
        }
    }
}

/// The outcome of [`crate::validate`]. The bag is valid when `errors` is empty.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Problems that make the bag invalid.
    pub errors: Vec<Issue>,
    /// Problems that leave the bag valid but deserve attention.
    pub warnings: Vec<Issue>,
    /// The `BagIt-Version` declared, if it could be read.
    pub version: Option<String>,
    /// `bag-info.txt` fields in file order (label, value), continuation lines joined.
    pub bag_info: Vec<(String, String)>,
    /// Number of regular files found under `data/`.
    pub payload_files: u64,
    /// Total bytes of those files.
    pub payload_bytes: u64,
}

impl Report {
    /// True when no error was found.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// True when an error of `kind` was reported.
    pub fn has_error(&self, kind: IssueKind) -> bool {
        self.errors.iter().any(|i| i.kind == kind)
    }

    /// True when a warning of `kind` was reported.
    pub fn has_warning(&self, kind: IssueKind) -> bool {
        self.warnings.iter().any(|i| i.kind == kind)
    }

    pub(crate) fn error(
        &mut self,
        kind: IssueKind,
        path: &str,
        line: Option<usize>,
        message: impl Into<String>,
    ) {
        self.errors.push(Issue {
            path: path.to_owned(),
            line,
            kind,
            message: message.into(),
        });
    }

    pub(crate) fn warn(
        &mut self,
        kind: IssueKind,
        path: &str,
        line: Option<usize>,
        message: impl Into<String>,
    ) {
        self.warnings.push(Issue {
            path: path.to_owned(),
            line,
            kind,
            message: message.into(),
        });
    }
}
