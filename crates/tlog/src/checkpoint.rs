//! C2SP tlog-checkpoint note bodies (<https://c2sp.org/tlog-checkpoint>).

use crate::rfc6962::Hash;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

/// Errors from parsing a checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The body does not end in a newline.
    #[error("checkpoint does not end in newline")]
    NoFinalNewline,
    /// Fewer than three lines.
    #[error("checkpoint has fewer than three lines")]
    TooFewLines,
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// The tree size is not a canonical decimal number that fits in 64 bits.
    #[error("checkpoint tree size is malformed")]
    BadSize,
    /// The root hash is not the canonical base64 of 32 bytes.
    #[error("checkpoint root hash is malformed")]
    BadRoot,
    /// An extension line is empty.
    #[error("checkpoint extension line is empty")]
    EmptyExtension,
    /// The text holds control characters other than newline.
    #[error("checkpoint contains control characters")]
    BadText,
}

/// A checkpoint body: origin, tree size, root hash, optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Log identity, first line.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash at `size`.
    pub root: Hash,
    /// Opaque extension lines (not recommended), each non-empty.
    pub extensions: Vec<String>,
}

/// Parses a decimal `u64` with no sign and no leading zeros (except `0` itself).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Decodes canonical standard base64 of exactly 32 bytes.
pub(crate) fn parse_hash_b64(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    B64.decode(s).ok()?.try_into().ok()
}

impl Checkpoint {
    /// Parses a checkpoint body (a note text, ending in a newline).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        if text.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(CheckpointError::BadText);
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::NoFinalNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooFewLines);
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_decimal(size).ok_or(CheckpointError::BadSize)?;
        let root = parse_hash_b64(root).ok_or(CheckpointError::BadRoot)?;
        let extensions = lines
            .map(|l| {
                if l.is_empty() {
                    Err(CheckpointError::EmptyExtension)
                } else {
                    Ok(l.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Formats the checkpoint body, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }
}
