//! athar-media: perceptual fingerprints of evidence media.
//!
//! This crate computes PDQ image hashes (bit-compatible with Meta ThreatExchange's reference
//! implementation) and vPDQ video hashes, and compares them under the reference matching
//! rules, so the rest of Athar can find re-uploads, crops and re-encodes of the same picture
//! or footage. `athar pdq` and `athar vpdq` expose the hashes without an archive.
//!
//! - [`pdq`], [`vpdq`]: the hashes; video frames come from one FFmpeg child per video.
//! - [`variants`] (with [`borders`]): Athar's own extra hashes per video frame, from the same
//!   decoded frames as the reference hashes (the picture inside its borders, mirrored,
//!   cropped, clear of logos and captions, averaged onto PDQ's grid, a centre window), stored
//!   as their own fingerprint kind beside the unchanged reference `vpdq` record, and the search
//!   that pairs them so letterboxed, padded, mirrored, cropped and logo-stamped copies match,
//!   naming the transform.
//! - [`windows`]: copies cropped at an unknown offset, found by laying a grid of windows over
//!   a query video's frames (computed for queries, never stored).
//! - [`hamming`]: [`hamming::HammingIndex`], exact radius search over packed 256-bit hashes,
//!   of two kinds ([`hamming::IndexKind`], chosen by `[similar] index` in `athar.toml`: the
//!   default multi-index kind, or the compact kind that holds exactly the hashes; tests check
//!   both against a plain scan), and a checksummed file format holding either.
//! - [`local`]: local binary features (FAST corners over a pyramid, oriented 256-bit
//!   BRIEF descriptors that fit the Hamming index) and their geometric verification
//!   (seeded RANSAC, similarity and homography): copies shown picture-in-picture, rotated,
//!   deeply cropped or filmed off a screen, with where one picture sits in the other.
//! - [`local_match`]: those features as an archive keeps them: frames sampled from the vPDQ
//!   decode (a few a video, a few hundred features each), a compact text record, and an index
//!   that finds candidate frames by descriptor votes and verifies them, describing the
//!   transform (picture-in-picture, rotation, crop, perspective).
//! - [`similar`]: that index with postings (item, frame, time, dihedral variant), vPDQ-style
//!   per-item shares and aligned segments.
//! - [`metadata`]: ffprobe JSON parsed into typed fields, ISO 6709 locations, image EXIF.
//! - [`review`]: blurred, greyscale and clear JPEG thumbnails and contact sheets.
//!
//! What it must not do:
//! - run media decoders written in C inside the calling process. Video is
//!   decoded only by FFmpeg running as a supervised child process with a
//!   wall-clock time limit and a memory limit ([`Limits`]), streaming raw frames over a
//!   pipe; a hostile file can crash or hang only that child.
//! - decode images with anything but the pure-Rust `image` crate (in-process,
//!   memory-safe), or decode one without [`image_rgb::open_image`]: the one
//!   pixel and memory budget, [`DECODE_BUDGET`], checked on the header's
//!   dimensions before decoding and enforced by the decoders' limits, or parse EXIF with anything
//!   but the pure-Rust `kamadak-exif` crate. Only regular files are read
//!   (devices and FIFOs can be endless).
//! - panic on untrusted input: every failure is a [`MediaError`] naming the
//!   file. No `unsafe` code (forbidden workspace-wide).
//! - know about the catalog, the blob store or the custody log: it takes
//!   paths or pixels and returns hashes. It depends on no other workspace crate.

pub mod borders;
pub mod hamming;
pub mod image_rgb;
pub mod local;
pub mod local_match;
pub mod metadata;
pub mod pdq;
mod process;
pub mod review;
pub mod similar;
pub mod variants;
pub mod vpdq;
pub mod windows;

use std::path::{Path, PathBuf};

pub use image_rgb::{DecodeBudget, DECODE_BUDGET};
pub use metadata::{probe_metadata, MediaMetadata};
pub use pdq::{hamming_distance, PdqHash, PdqResult};
pub use process::Limits;
pub use vpdq::{VpdqFrame, VpdqOptions};

/// Errors of this crate. Variants that concern a file carry its path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error("{}: file not found", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot decode image: {source}", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("{}: cannot encode review image: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    /// The header declares a picture over the decoding budget
    /// ([`image_rgb::DECODE_BUDGET`]); nothing was decoded.
    #[error("{}: image of {width}x{height} pixels is too large to decode ({reason})", path.display())]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        reason: String,
    },
    #[error("{}: unsupported media: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("pixel buffer of {len} bytes does not hold {width}x{height} RGB pixels")]
    BadBuffer {
        len: usize,
        width: usize,
        height: usize,
    },
    #[error("malformed PDQ hash {0:?}")]
    BadHash(String),
    #[error("{}: {tool} is not installed or not on PATH", path.display())]
    ToolMissing { path: PathBuf, tool: String },
    #[error("{}: {tool} failed ({status}): {stderr}", path.display())]
    ToolFailed {
        path: PathBuf,
        tool: String,
        status: String,
        stderr: String,
    },
    #[error("{}: {tool} exceeded its time limit of {limit_s} s", path.display())]
    Timeout {
        path: PathBuf,
        tool: String,
        limit_s: u64,
    },
    #[error("{}: {reason}", path.display())]
    BadVideo { path: PathBuf, reason: String },
    #[error("vPDQ line {line}: {reason}")]
    BadVpdqLine { line: usize, reason: String },
}

impl MediaError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            MediaError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            MediaError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    /// True when the error means the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, MediaError::NotFound { .. })
    }
}

/// Checks that `path` is a regular file (following symbolic links) and
/// returns its size. Devices, FIFOs and folders are refused: they can be
/// endless or block forever.
pub(crate) fn regular_file(path: &Path) -> Result<u64, MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    if !meta.is_file() {
        return Err(MediaError::Unsupported {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    Ok(meta.len())
}
