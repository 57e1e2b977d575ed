//! Read, validate and write [BagIt](https://www.rfc-editor.org/rfc/rfc8493) bags.
//!
//! Athar hands evidence over to prosecutors and partner archives as BagIt bags, and takes
//! bags in from them. This crate is the one place that knows the format:
//!
//! * [`validate`] checks a bag directory against BagIt 1.0 (RFC 8493) and 0.97 (also the
//!   older 0.93–0.96 drafts that share its layout) and returns a [`Report`] of errors and
//!   warnings, each naming the file, the line where there is one, and a machine-readable
//!   [`IssueKind`]. Payload files are hashed in constant memory, every algorithm in one read
//!   per file, on all cores.
//! * [`BagWriter`] creates a new bag by streaming payload from any [`std::io::Read`], hashing
//!   SHA-256 and SHA-512 while copying, and writes deterministic tag files;
//!   [`BagWriter::add_payload_files`] places many files at once (hard-linked when allowed),
//!   hashing them on all cores and checking each against its expected SHA-256.
//!
//! What this crate must not do:
//!
//! * depend on any other Athar crate: a receiving party verifies a bag with it alone
//!   (`athar verify-bag`), without an archive;
//! * trust the bag: its contents are hostile input. Parsing never panics, never follows
//!   symbolic links, never opens device files or FIFOs, never touches a path outside the bag,
//!   and never reads a tag file bigger than [`Options::max_tag_file_bytes`] into memory;
//! * fetch anything from the network: `fetch.txt` is reported, never followed;
//! * overwrite anything when writing: a bag is always created in a new directory.
#![forbid(unsafe_code)]

mod encoding;
mod error;
mod hash;
mod parse;
mod validate;
mod writer;

pub use error::{BagError, Issue, IssueKind, Report};
pub use hash::Algorithm;
pub use parse::{
    parse_fetch, parse_manifest, sanitize_relative_path, FetchEntry, ManifestEntry, Version,
};
pub use validate::{validate, Options};
pub use writer::{BagSummary, BagWriter, PayloadEntry, PayloadFile, PayloadSource, PlacedPayload};
