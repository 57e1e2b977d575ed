//! Digest algorithms and hashing several at once in one read.

use std::fmt;
use std::io::{self, Read};

use sha2::digest::DynDigest;

/// Size of the read buffer used when hashing: memory stays constant whatever the file size.
pub(crate) const BUF_SIZE: usize = 1 << 20;

/// A manifest digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// MD5 (legacy; accepted when validating).
    Md5,
    /// SHA-1 (legacy; accepted when validating).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// Parses the name used in `manifest-<name>.txt` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "md5" => Algorithm::Md5,
            "sha1" => Algorithm::Sha1,
            "sha224" => Algorithm::Sha224,
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            _ => return None,
        })
    }

    /// The name used in manifest file names.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha224 => "sha224",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the digest in lowercase hex characters.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha1 => 40,
            Algorithm::Sha224 => 56,
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    fn hasher(self) -> Box<dyn DynDigest + Send> {
        match self {
            Algorithm::Md5 => Box::new(md5::Md5::default()),
            Algorithm::Sha1 => Box::new(sha1::Sha1::default()),
            Algorithm::Sha224 => Box::new(sha2::Sha224::default()),
            Algorithm::Sha256 => Box::new(sha2::Sha256::default()),
            Algorithm::Sha384 => Box::new(sha2::Sha384::default()),
            Algorithm::Sha512 => Box::new(sha2::Sha512::default()),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Several digests fed from the same bytes.
pub(crate) struct MultiHasher {
    hashers: Vec<(Algorithm, Box<dyn DynDigest + Send>)>,
    bytes: u64,
}

impl fmt::Debug for MultiHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algs: Vec<Algorithm> = self.hashers.iter().map(|(a, _)| *a).collect();
        f.debug_struct("MultiHasher")
            .field("algorithms", &algs)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl MultiHasher {
    pub(crate) fn new(algs: &[Algorithm]) -> Self {
        let mut algs = algs.to_vec();
        algs.sort();
        algs.dedup();
        MultiHasher {
            hashers: algs.into_iter().map(|a| (a, a.hasher())).collect(),
            bytes: 0,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        for (_, h) in &mut self.hashers {
            h.update(data);
        }
    }

    /// Lowercase hex digests in algorithm order, and the number of bytes hashed.
    pub(crate) fn finish(self) -> (Vec<(Algorithm, String)>, u64) {
        let digests = self
            .hashers
            .into_iter()
            .map(|(a, h)| (a, hex::encode(h.finalize())))
            .collect();
        (digests, self.bytes)
    }
}

/// Hashes everything `reader` yields with all of `algs`, reading once.
#[cfg(test)]
pub(crate) fn hash_reader(
    reader: impl Read,
    algs: &[Algorithm],
) -> io::Result<(Vec<(Algorithm, String)>, u64)> {
    hash_reader_with(reader, algs, &mut vec![0u8; BUF_SIZE])
}

/// [`hash_reader`] with a caller-provided buffer, reused across files.
pub(crate) fn hash_reader_with(
    mut reader: impl Read,
    algs: &[Algorithm],
    buf: &mut [u8],
) -> io::Result<(Vec<(Algorithm, String)>, u64)> {
    let mut hasher = MultiHasher::new(algs);
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hasher.finish())
}

/// Like [`hash_reader_with`], but splits the algorithms between this thread and a helper
/// thread fed with the same buffers: one large file then keeps two cores busy.
pub(crate) fn hash_reader_split(
    mut reader: impl Read,
    algs: &[Algorithm],
) -> io::Result<(Vec<(Algorithm, String)>, u64)> {
    let mut algs = algs.to_vec();
    algs.sort();
    algs.dedup();
    // The SHA-512 family is the slowest per byte here; give it the helper.
    let (mine, theirs): (Vec<Algorithm>, Vec<Algorithm>) = algs
        .iter()
        .partition(|a| !matches!(a, Algorithm::Sha512 | Algorithm::Sha384));
    if mine.is_empty() || theirs.is_empty() {
        return hash_reader_with(reader, &algs, &mut vec![0u8; BUF_SIZE]);
    }
    const BUFFERS: usize = 4;
    let (to_helper, from_reader) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (to_reader, free) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let helper = s.spawn(move || {
            let mut h = MultiHasher::new(&theirs);
            for (buf, n) in from_reader {
                h.update(buf.get(..n).unwrap_or_default());
                if to_reader.send(buf).is_err() {
                    break;
                }
            }
            h.finish().0
        });
        let mut h = MultiHasher::new(&mine);
        let mut spare: Vec<Vec<u8>> = (0..BUFFERS).map(|_| vec![0u8; BUF_SIZE]).collect();
        let read: io::Result<()> = (|| loop {
            let mut buf = match spare.pop() {
                Some(b) => b,
                None => free
                    .recv()
                    .map_err(|_| io::Error::other("hashing thread stopped"))?,
            };
            let n = loop {
                match reader.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            if n == 0 {
                return Ok(());
            }
            h.update(buf.get(..n).unwrap_or_default());
            to_helper
                .send((buf, n))
                .map_err(|_| io::Error::other("hashing thread stopped"))?;
        })();
        drop(to_helper);
        let other = helper
            .join()
            .map_err(|_| io::Error::other("hashing thread failed"))?;
        read?;
        let (mut digests, bytes) = h.finish();
        digests.extend(other);
        digests.sort();
        Ok((digests, bytes))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_of_empty_input() {
        let (d, n) = hash_reader(&b""[..], &[Algorithm::Sha256, Algorithm::Md5]).unwrap();
        assert_eq!(n, 0);
        assert_eq!(
            d[0],
            (Algorithm::Md5, "d41d8cd98f00b204e9800998ecf8427e".into())
        );
        assert_eq!(
            d[1].1,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn split_hashing_agrees() {
        let data: Vec<u8> = (0..(2 * BUF_SIZE + 5)).map(|i| (i % 253) as u8).collect();
        let all = [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512];
        let one = hash_reader(&data[..], &all).unwrap();
        assert_eq!(hash_reader_split(&data[..], &all).unwrap(), one);
        let only = [Algorithm::Sha512];
        assert_eq!(
            hash_reader_split(&data[..], &only).unwrap(),
            hash_reader(&data[..], &only).unwrap()
        );
    }

    #[test]
    fn names_round_trip() {
        for a in [
            Algorithm::Md5,
            Algorithm::Sha1,
            Algorithm::Sha224,
            Algorithm::Sha256,
            Algorithm::Sha384,
            Algorithm::Sha512,
        ] {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
            let (d, _) = hash_reader(&b"x"[..], &[a]).unwrap();
            assert_eq!(d[0].1.len(), a.hex_len());
        }
        assert_eq!(Algorithm::from_name("SHA256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_name("crc32"), None);
    }
}
