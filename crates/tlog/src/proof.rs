//! C2SP tlog-proof files (`.tlog-proof`, <https://c2sp.org/tlog-proof>): an index, an
//! inclusion proof and the checkpoint it leads to, verifiable offline.

use crate::checkpoint::{parse_decimal, parse_hash_b64, Checkpoint, CheckpointError};
use crate::note::{self, NoteError, Verifiers};
use crate::rfc6962::{leaf_hash, verify_inclusion, Hash, ProofError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

/// First line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Most inclusion proof hashes accepted (a tree of 2^64 leaves needs at most 64).
pub const MAX_PROOF_HASHES: usize = 64;

/// Errors from parsing or verifying a tlog proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    /// The file is malformed.
    #[error("malformed tlog proof: {0}")]
    Malformed(&'static str),
    /// The checkpoint note did not verify.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The checkpoint body is malformed.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint is from another log.
    #[error("checkpoint origin {got:?} is not the expected {want:?}")]
    WrongOrigin { got: String, want: String },
    /// The inclusion proof does not verify.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
}

/// A parsed tlog proof. `checkpoint` is the signed checkpoint note, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// Index of the entry in the log.
    pub index: u64,
    /// Inclusion proof, from the leaf's sibling up.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl TlogProof {
    /// Parses a proof. The embedded checkpoint must at least parse as a signed note; it is
    /// not verified here.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, TlogProofError> {
        if bytes.len() > note::MAX_NOTE_SIZE + 4096 {
            return Err(TlogProofError::Malformed("too large"));
        }
        let s = std::str::from_utf8(bytes).map_err(|_| TlogProofError::Malformed("not UTF-8"))?;
        let rest = s
            .strip_prefix(HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(TlogProofError::Malformed("bad header line"))?;
        let (mut line, mut rest) = rest
            .split_once('\n')
            .ok_or(TlogProofError::Malformed("truncated"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b64)
                    .map_err(|_| TlogProofError::Malformed("extra is not base64"))?,
            );
            (line, rest) = rest
                .split_once('\n')
                .ok_or(TlogProofError::Malformed("truncated"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(TlogProofError::Malformed("bad index line"))?;
        let mut hashes = Vec::new();
        loop {
            let (l, r) = rest
                .split_once('\n')
                .ok_or(TlogProofError::Malformed("missing blank line"))?;
            rest = r;
            if l.is_empty() {
                break;
            }
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::Malformed("too many proof hashes"));
            }
            hashes.push(parse_hash_b64(l).ok_or(TlogProofError::Malformed("bad proof hash"))?);
        }
        note::Note::parse(rest.as_bytes())?;
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: rest.to_owned(),
        })
    }

    /// Formats the proof.
    pub fn to_text(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Verifies the proof for a leaf hash: the checkpoint must come from `origin`, carry a
    /// valid signature from at least one of `known` (every known signature must be valid),
    /// and the inclusion proof must lead from `leaf` at `index` to its root.
    ///
    /// Returns the verified checkpoint and the note's signature lists, so that the caller
    /// can apply a witness policy (e.g. k of n known cosigners).
    pub fn verify(
        &self,
        origin: &str,
        known: &Verifiers<'_>,
        leaf: &Hash,
    ) -> Result<(Checkpoint, note::VerifiedNote), TlogProofError> {
        let n = note::open(self.checkpoint.as_bytes(), known)?;
        let cp = Checkpoint::parse(&n.text)?;
        if cp.origin != origin {
            return Err(TlogProofError::WrongOrigin {
                got: cp.origin,
                want: origin.to_owned(),
            });
        }
        verify_inclusion(self.index, cp.size, leaf, &self.hashes, &cp.root)?;
        Ok((cp, n))
    }

    /// Like [`TlogProof::verify`], for the entry bytes (hashed as an RFC 6962 leaf).
    pub fn verify_entry(
        &self,
        origin: &str,
        known: &Verifiers<'_>,
        entry: &[u8],
    ) -> Result<(Checkpoint, note::VerifiedNote), TlogProofError> {
        self.verify(origin, known, &leaf_hash(entry))
    }
}
