//! Encryption at rest for Athar archives.
//!
//! One random **archive key** per encrypted archive. It is never written unwrapped: the
//! [`keyring`] holds it sealed under a passphrase (argon2id) and under any number of age
//! recipients, so changing a passphrase or adding a recipient rewrites one slot and never
//! the data. Every other key is derived from it ([`Key::derive`]) or sealed under it (a
//! case's own key): the catalog's SQLCipher key, the key that names blobs, the key that
//! seals the files beside the catalog (signing key, pseudonym secret).
//!
//! Blobs are age files ([`blob`]): the payload is age's STREAM (64 KiB chunks,
//! ChaCha20-Poly1305), so a reader seeks to any offset by decrypting one chunk; the file key
//! is wrapped by a symmetric stanza under the blob key. A blob's file name is a keyed
//! permutation of its SHA-256 ([`KeyedName`]): without the key the name says nothing about
//! the content, with it the store can still list what it holds.
//!
//! Key material lives in [`zeroize::Zeroizing`] buffers, zeroed when dropped.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

pub mod blob;
pub mod keyring;

pub use blob::{BlobKey, SealedReader};
pub use keyring::{Keyring, KeyringError, Slot, Unlock};

type HmacSha256 = Hmac<sha2::Sha256>;

/// Why sealed bytes could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    /// The bytes were not sealed under this key, or were changed since.
    #[error("{what}: cannot be opened with this key (wrong key, or the bytes were changed)")]
    Open { what: String },
    /// Sealed bytes too short or malformed.
    #[error("{what}: not sealed data ({why})")]
    Format { what: String, why: &'static str },
    /// The system's random source failed.
    #[error("no randomness from the system: {0}")]
    Random(String),
}

/// A 256-bit secret key, zeroed when dropped; its `Debug` shows only its id.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id())
    }
}

/// `N` random bytes from the system.
pub fn random<const N: usize>() -> Result<[u8; N], CryptError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| CryptError::Random(e.to_string()))?;
    Ok(b)
}

impl Key {
    /// A new random key.
    pub fn random() -> Result<Key, CryptError> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(k.as_mut()).map_err(|e| CryptError::Random(e.to_string()))?;
        Ok(Key(k))
    }

    /// The key with these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(Zeroizing::new(bytes))
    }

    /// The raw bytes (for a cipher that takes them).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        #[allow(clippy::expect_used)] // HMAC takes keys of any length
        let mut m = <HmacSha256 as Mac>::new_from_slice(self.0.as_ref()).expect("HMAC key");
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// A key for one purpose, derived from this one (HMAC-SHA-256 with a label), so that
    /// keys for different purposes never coincide.
    pub fn derive(&self, label: &str) -> Key {
        Key(Zeroizing::new(
            self.mac(&[b"athar derived key v1", label.as_bytes()]),
        ))
    }

    /// 16 hex digits naming the key (an HMAC of a fixed label, so it reveals nothing).
    pub fn id(&self) -> String {
        hex::encode(&self.mac(&[b"athar key id v1"])[..8])
    }

    /// Seals `plain` (XChaCha20-Poly1305, random nonce), bound to `context` (for example
    /// the file or field it is stored in): `nonce (24) ‖ ciphertext ‖ tag (16)`.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>, CryptError> {
        let nonce: [u8; 24] = random()?;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(self.0.as_ref()));
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptError::Random("sealing failed".into()))?;
        let mut out = Vec::with_capacity(24 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`Key::seal`] made with the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptError> {
        if sealed.len() < 24 + 16 {
            return Err(CryptError::Format {
                what: context.to_owned(),
                why: "too short",
            });
        }
        let (nonce, body) = sealed.split_at(24);
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(self.0.as_ref()));
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptError::Format {
            what: context.to_owned(),
            why: "nonce",
        })?;
        cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptError::Open {
                what: context.to_owned(),
            })
    }
}

/// A keyed permutation of 32-byte values (a four-round Feistel network whose round function
/// is HMAC-SHA-256): blob names that reveal nothing about the content's SHA-256 without the
/// key, and that the key holder turns back into the SHA-256 (to list what a store holds).
#[derive(Debug, Clone)]
pub struct KeyedName {
    key: Key,
}

impl KeyedName {
    /// Names under `key` (a key derived for naming, not used for anything else).
    pub fn new(key: Key) -> KeyedName {
        KeyedName { key }
    }

    fn round(&self, round: u8, half: &[u8; 16]) -> [u8; 16] {
        let m = self.key.mac(&[b"athar blob name v1", &[round], half]);
        let mut out = [0u8; 16];
        out.copy_from_slice(&m[..16]);
        out
    }

    /// The name of the value `sha256`.
    pub fn encode(&self, sha256: &[u8; 32]) -> [u8; 32] {
        let (mut l, mut r) = split(sha256);
        for round in 0..4u8 {
            let f = self.round(round, &r);
            let next = xor(&l, &f);
            l = r;
            r = next;
        }
        join(&l, &r)
    }

    /// The value whose name is `name`.
    pub fn decode(&self, name: &[u8; 32]) -> [u8; 32] {
        let (mut l, mut r) = split(name);
        for round in (0..4u8).rev() {
            let f = self.round(round, &l);
            let prev = xor(&r, &f);
            r = l;
            l = prev;
        }
        join(&l, &r)
    }
}

fn split(v: &[u8; 32]) -> ([u8; 16], [u8; 16]) {
    let mut l = [0u8; 16];
    let mut r = [0u8; 16];
    l.copy_from_slice(&v[..16]);
    r.copy_from_slice(&v[16..]);
    (l, r)
}

fn join(l: &[u8; 16], r: &[u8; 16]) -> [u8; 32] {
    let mut v = [0u8; 32];
    v[..16].copy_from_slice(l);
    v[16..].copy_from_slice(r);
    v
}

fn xor(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut o = [0u8; 16];
    for i in 0..16 {
        o[i] = a[i] ^ b[i];
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_label_and_are_stable() {
        let k = Key::from_bytes([7; 32]);
        assert_eq!(k.derive("catalog").expose(), k.derive("catalog").expose());
        assert_ne!(k.derive("catalog").expose(), k.derive("blobs").expose());
        assert_ne!(k.derive("catalog").expose(), k.expose());
        assert_eq!(k.id().len(), 16);
        assert!(!format!("{k:?}").contains("0707"));
    }

    #[test]
    fn sealed_bytes_open_only_with_the_same_key_and_context() {
        let k = Key::random().unwrap();
        let s = k.seal("keys/pseudonym.key", b"secret").unwrap();
        assert_eq!(&k.open("keys/pseudonym.key", &s).unwrap()[..], b"secret");
        assert!(k.open("keys/archive.key", &s).is_err());
        assert!(Key::random()
            .unwrap()
            .open("keys/pseudonym.key", &s)
            .is_err());
        let mut t = s.clone();
        *t.last_mut().unwrap() ^= 1;
        assert!(matches!(
            k.open("keys/pseudonym.key", &t),
            Err(CryptError::Open { .. })
        ));
        assert!(matches!(
            k.open("x", &s[..10]),
            Err(CryptError::Format { .. })
        ));
    }

    #[test]
    fn keyed_names_round_trip_and_hide_the_value() {
        let n = KeyedName::new(Key::from_bytes([1; 32]));
        let other = KeyedName::new(Key::from_bytes([2; 32]));
        for seed in 0u8..50 {
            let v: [u8; 32] = std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8));
            let name = n.encode(&v);
            assert_ne!(name, v);
            assert_ne!(name, other.encode(&v));
            assert_eq!(n.decode(&name), v);
            // No half of the value shows through.
            assert_ne!(name[..16], v[..16]);
            assert_ne!(name[16..], v[16..]);
        }
    }
}
