//! Sealed blobs: age files whose file key is wrapped by a symmetric stanza.
//!
//! ```text
//! -> athar-key <key id>
//! <base64: nonce (24) ‖ XChaCha20-Poly1305(blob key, file key) (16 + 16)>
//! ```
//!
//! The rest is the age format unchanged (header MAC, STREAM payload in 64 KiB chunks), so
//! any byte range is read by decrypting the chunks it touches.

use std::collections::HashSet;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};

use age::secrecy::ExposeSecret as _;
use age::{DecryptError, EncryptError};
use age_core::format::{FileKey, Stanza};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;

use crate::{random, Key};

/// The stanza tag of a file key wrapped under a blob key.
pub const STANZA_TAG: &str = "athar-key";
const STANZA_AAD: &[u8] = b"athar blob file key v1";

/// The key that seals blobs (and the recipient and identity it acts as in age).
#[derive(Debug, Clone)]
pub struct BlobKey {
    key: Key,
    id: String,
}

impl BlobKey {
    pub fn new(key: Key) -> BlobKey {
        let id = key.id();
        BlobKey { key, id }
    }

    /// The key's id, as written in each blob's stanza.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Wraps `output`: what is written to the returned writer is sealed into `output`.
    /// [`age::stream::StreamWriter::finish`] must be called to write the last chunk.
    pub fn seal_to<W: Write>(&self, output: W) -> std::io::Result<age::stream::StreamWriter<W>> {
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(self as &dyn age::Recipient))
                .map_err(std::io::Error::other)?;
        encryptor.wrap_output(output)
    }

    /// Opens a sealed blob for reading (and seeking, when `input` seeks).
    pub fn open<R: BufRead>(&self, input: R) -> Result<SealedReader<R>, DecryptError> {
        open_with(std::slice::from_ref(self), input)
    }
}

/// Opens a blob sealed under any of `keys` (the stanza names which). The header is parsed
/// from `input`'s buffer (parsing it from an unbuffered reader costs a read per few bytes).
pub fn open_with<R: BufRead>(keys: &[BlobKey], input: R) -> Result<SealedReader<R>, DecryptError> {
    let d = age::Decryptor::new_buffered(input)?;
    let inner = d.decrypt(keys.iter().map(|k| k as &dyn age::Identity))?;
    Ok(SealedReader { inner })
}

impl age::Recipient for BlobKey {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let nonce: [u8; 24] = random().map_err(|e| EncryptError::Io(std::io::Error::other(e)))?;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(self.key.expose()));
        let wrapped = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: file_key.expose_secret(),
                    aad: STANZA_AAD,
                },
            )
            .map_err(|_| EncryptError::Io(std::io::Error::other("wrapping the file key")))?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&wrapped);
        let stanza = Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![self.id.clone()],
            body,
        };
        Ok((vec![stanza], HashSet::new()))
    }
}

impl age::Identity for BlobKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        if stanza.tag != STANZA_TAG || stanza.args.first() != Some(&self.id) {
            return None;
        }
        if stanza.body.len() != 24 + 16 + 16 {
            return Some(Err(DecryptError::InvalidHeader));
        }
        let (nonce, body) = stanza.body.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(self.key.expose()));
        let plain = cipher.decrypt(
            &nonce.into(),
            Payload {
                msg: body,
                aad: STANZA_AAD,
            },
        );
        Some(match plain {
            Ok(p) if p.len() == 16 => Ok(FileKey::init_with_mut(|k| {
                k.copy_from_slice(&p);
            })),
            _ => Err(DecryptError::DecryptionFailed),
        })
    }
}

/// A sealed blob's plaintext, readable and (over a seekable file) seekable.
pub struct SealedReader<R> {
    inner: age::stream::StreamReader<R>,
}

impl<R> std::fmt::Debug for SealedReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedReader")
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Read + Seek> Seek for SealedReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl<R: Read + Seek> SealedReader<R> {
    /// The plaintext's length (authenticates the last chunk), leaving the position at 0.
    pub fn plain_len(&mut self) -> std::io::Result<u64> {
        let len = self.inner.seek(SeekFrom::End(0))?;
        self.inner.seek(SeekFrom::Start(0))?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn seal(k: &BlobKey, plain: &[u8]) -> Vec<u8> {
        let mut w = k.seal_to(Vec::new()).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap()
    }

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn sealed_blobs_read_back_and_hide_their_bytes() {
        let k = BlobKey::new(Key::random().unwrap());
        for n in [0, 1, 65_535, 65_536, 65_537, 300_000] {
            let plain = bytes(n);
            let sealed = seal(&k, &plain);
            assert!(sealed.starts_with(b"age-encryption.org/v1\n-> athar-key "));
            if n >= 64 {
                assert!(!sealed.windows(64).any(|w| w == &plain[..64]));
            }
            let mut back = Vec::new();
            k.open(&sealed[..]).unwrap().read_to_end(&mut back).unwrap();
            assert_eq!(back, plain, "{n} bytes");
            let mut r = k.open(Cursor::new(&sealed)).unwrap();
            assert_eq!(r.plain_len().unwrap(), n as u64);
        }
    }

    #[test]
    fn a_sealed_blob_seeks_to_any_offset() {
        let k = BlobKey::new(Key::random().unwrap());
        let plain = bytes(1_000_000);
        let sealed = seal(&k, &plain);
        let mut r = k.open(Cursor::new(&sealed)).unwrap();
        for off in [0u64, 1, 65_535, 65_536, 500_000, 999_999] {
            r.seek(SeekFrom::Start(off)).unwrap();
            let mut buf = vec![0u8; 1000];
            let n = r.read(&mut buf).unwrap();
            assert!(n > 0);
            assert_eq!(&buf[..n], &plain[off as usize..off as usize + n]);
        }
    }

    #[test]
    fn another_key_or_a_changed_byte_is_refused() {
        let k = BlobKey::new(Key::random().unwrap());
        let sealed = seal(&k, &bytes(200_000));
        let other = BlobKey::new(Key::random().unwrap());
        assert!(other.open(&sealed[..]).is_err());
        let mut t = sealed.clone();
        let last = t.len() - 100;
        t[last] ^= 1;
        let mut out = Vec::new();
        let res = k.open(&t[..]).and_then(|mut r| {
            r.read_to_end(&mut out)
                .map_err(|e| DecryptError::Io(std::io::Error::other(e)))
        });
        assert!(
            res.is_err(),
            "a flipped payload byte must fail authentication"
        );
    }
}
