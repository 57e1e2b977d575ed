//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! [`Note::parse`] splits a note into text and signature lines without trusting anything;
//! [`open`] additionally verifies it against a set of known keys.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Largest note accepted, in bytes.
pub const MAX_NOTE_SIZE: usize = 1 << 20;
/// Most signature lines accepted in one note (the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// Signature type byte for Ed25519.
pub const ALG_ED25519: u8 = 0x01;

const SIG_PREFIX: &str = "\u{2014} ";

/// Errors about notes and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("note is too large")]
    TooLarge,
    /// The note has more than [`MAX_SIGNATURES`] signatures.
    #[error("note has too many signatures")]
    TooManySignatures,
    /// The note is not valid UTF-8 or contains control characters other than newline.
    #[error("note is not valid UTF-8 text without control characters")]
    BadText,
    /// The note does not have the shape text, blank line, signature lines.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A key name is empty or contains a space or `+`.
    #[error("invalid key name")]
    BadKeyName,
    /// A verifier or signer key string is malformed.
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    /// A signature from a known key did not verify.
    #[error("invalid signature by {name}")]
    InvalidSignature { name: String },
    /// No signature from a known key is present.
    #[error("note has no signature from a known key")]
    UnverifiedNote,
    /// The same known key signed the note twice.
    #[error("duplicate signature by {name}")]
    DuplicateSignature { name: String },
}

/// One signature line: key name, key ID and the signature bytes after the key ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID (first four bytes of the decoded signature, big-endian).
    pub key_id: u32,
    /// The signature itself, without the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, without the final newline.
    pub fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}", self.name, B64.encode(raw))
    }
}

/// A parsed (not yet verified) signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The note text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

/// Whether `name` is a valid key name: non-empty, no Unicode space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn check_text(bytes: &[u8]) -> Result<&str, NoteError> {
    let s = std::str::from_utf8(bytes).map_err(|_| NoteError::BadText)?;
    if s.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::BadText);
    }
    Ok(s)
}

impl Note {
    /// Parses a signed note, enforcing the size, character and shape rules of the spec.
    /// Nothing is verified.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge);
        }
        let s = check_text(bytes)?;
        // The text is separated from the signatures by the last empty line.
        let split = s
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before signatures"))?;
        let (text, sigs) = s.split_at(split + 1);
        let sigs = sigs.strip_prefix('\n').unwrap_or(sigs);
        if sigs.is_empty() {
            return Err(NoteError::Malformed("no signatures"));
        }
        let body = sigs
            .strip_suffix('\n')
            .ok_or(NoteError::Malformed("signatures do not end in newline"))?;
        let mut signatures = Vec::new();
        for line in body.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Formats the note: text, blank line, one line per signature.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
            out.push('\n');
        }
        out
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or(NoteError::Malformed("signature line without em dash"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(NoteError::Malformed("signature line without space"))?;
    if !is_valid_key_name(name) {
        return Err(NoteError::BadKeyName);
    }
    let raw = B64
        .decode(b64)
        .map_err(|_| NoteError::Malformed("signature is not base64"))?;
    let (id, sig) = raw
        .split_first_chunk::<4>()
        .ok_or(NoteError::Malformed("signature too short"))?;
    if sig.is_empty() {
        return Err(NoteError::Malformed("signature too short"));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes(*id),
        signature: sig.to_vec(),
    })
}

/// A key that can verify note signatures.
pub trait NoteVerifier {
    /// Key name.
    fn name(&self) -> &str;
    /// Key ID.
    fn key_id(&self) -> u32;
    /// Whether `signature` is a valid signature of `msg`.
    fn verify(&self, msg: &[u8], signature: &[u8]) -> bool;
}

/// A key that can sign notes.
pub trait NoteSigner {
    /// Key name.
    fn name(&self) -> &str;
    /// Key ID.
    fn key_id(&self) -> u32;
    /// Signs `msg`.
    fn sign(&self, msg: &[u8]) -> Vec<u8>;
}

/// The key ID of a key: `SHA-256(name || 0x0A || alg || public key)[:4]`, big-endian.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// An Ed25519 note verifier.
#[derive(Debug, Clone)]
pub struct Ed25519Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// A verifier for `name` and the 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::BadKeyName);
        }
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| NoteError::BadKey("invalid Ed25519 public key"))?;
        Ok(Ed25519Verifier {
            name: name.to_owned(),
            id: key_id(name, ALG_ED25519, public_key),
            key,
        })
    }

    /// Parses a verifier key string `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        // The base64 key may itself contain '+': split off the first two fields only.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey("want <name>+<id>+<key>"));
        };
        let id = parse_key_id(id)?;
        let raw = B64
            .decode(key)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        let pk: &[u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, pk)) => pk
                .try_into()
                .map_err(|_| NoteError::BadKey("wrong Ed25519 key length"))?,
            _ => return Err(NoteError::BadKey("unsupported key type")),
        };
        let v = Ed25519Verifier::new(name, pk)?;
        if v.id != id {
            return Err(NoteError::BadKey("key ID does not match key"));
        }
        Ok(v)
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

fn parse_key_id(s: &str) -> Result<u32, NoteError> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteError::BadKey("key ID is not 8 lowercase hex digits"));
    }
    u32::from_str_radix(s, 16).map_err(|_| NoteError::BadKey("bad key ID"))
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// An Ed25519 note signer. Its `Debug` output never shows the private key.
#[derive(Clone)]
pub struct Ed25519Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl Ed25519Signer {
    /// A signer for `name` from a 32-byte Ed25519 seed. The caller supplies the
    /// randomness (this crate does no I/O).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::BadKeyName);
        }
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(Ed25519Signer {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses a signer key string `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadKey("missing PRIVATE+KEY+ prefix"))?;
        // The base64 key may itself contain '+': split off the first two fields only.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey("want PRIVATE+KEY+<name>+<id>+<key>"));
        };
        let id = parse_key_id(id)?;
        let mut raw = B64
            .decode(key)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        let seed: Result<[u8; 32], NoteError> = match raw.split_first() {
            Some((&ALG_ED25519, seed)) => seed
                .try_into()
                .map_err(|_| NoteError::BadKey("wrong Ed25519 seed length")),
            _ => Err(NoteError::BadKey("unsupported key type")),
        };
        raw.fill(0); // best effort; the SigningKey itself zeroizes on drop
        let mut seed = seed?;
        let s = Ed25519Signer::from_seed(name, &seed);
        seed.fill(0);
        let s = s?;
        if s.id != id {
            return Err(NoteError::BadKey("key ID does not match key"));
        }
        Ok(s)
    }

    /// The signer key string. It holds the private key: keep it secret.
    pub fn skey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        let out = format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(&raw)
        );
        raw.fill(0);
        out
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).to_bytes().to_vec()
    }
}

/// A set of known verifier keys, looked up by name and key ID.
#[derive(Default)]
pub struct Verifiers<'a> {
    keys: Vec<&'a dyn NoteVerifier>,
}

impl std::fmt::Debug for Verifiers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (k.name(), k.key_id())))
            .finish()
    }
}

impl<'a> Verifiers<'a> {
    /// A set of keys.
    pub fn new(keys: &[&'a dyn NoteVerifier]) -> Self {
        Verifiers {
            keys: keys.to_vec(),
        }
    }

    /// Adds a key.
    pub fn push(&mut self, key: &'a dyn NoteVerifier) {
        self.keys.push(key);
    }

    fn find(&self, name: &str, id: u32) -> Option<&'a dyn NoteVerifier> {
        self.keys
            .iter()
            .find(|k| k.key_id() == id && k.name() == name)
            .copied()
    }
}

/// A note whose signatures were checked: `verified` are the signatures from known keys
/// (all valid), `unverified` those from unknown keys (ignored, kept for the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The note text.
    pub text: String,
    /// Valid signatures from known keys.
    pub verified: Vec<NoteSignature>,
    /// Signatures from unknown keys.
    pub unverified: Vec<NoteSignature>,
}

/// Parses and verifies a signed note. Signatures from unknown keys are ignored; every
/// signature from a known key must verify; at least one must be present.
pub fn open(bytes: &[u8], known: &Verifiers<'_>) -> Result<VerifiedNote, NoteError> {
    let note = Note::parse(bytes)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unverified = Vec::new();
    for sig in note.signatures {
        match known.find(&sig.name, sig.key_id) {
            None => unverified.push(sig),
            Some(k) => {
                if verified
                    .iter()
                    .any(|v| v.key_id == sig.key_id && v.name == sig.name)
                {
                    return Err(NoteError::DuplicateSignature { name: sig.name });
                }
                if !k.verify(note.text.as_bytes(), &sig.signature) {
                    return Err(NoteError::InvalidSignature { name: sig.name });
                }
                verified.push(sig);
            }
        }
    }
    if verified.is_empty() {
        return Err(NoteError::UnverifiedNote);
    }
    Ok(VerifiedNote {
        text: note.text,
        verified,
        unverified,
    })
}

/// Signs `text` (which must end in a newline and be valid note text) with each signer and
/// returns the signed note.
pub fn sign(text: &str, signers: &[&dyn NoteSigner]) -> Result<String, NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text does not end in newline"));
    }
    check_text(text.as_bytes())?;
    if signers.is_empty() {
        return Err(NoteError::Malformed("no signers"));
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }
    let signatures = signers
        .iter()
        .map(|s| {
            if !is_valid_key_name(s.name()) {
                return Err(NoteError::BadKeyName);
            }
            Ok(NoteSignature {
                name: s.name().to_owned(),
                key_id: s.key_id(),
                signature: s.sign(text.as_bytes()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = Note {
        text: text.to_owned(),
        signatures,
    }
    .to_text();
    if out.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge);
    }
    Ok(out)
}
