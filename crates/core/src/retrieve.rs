//! Retrieval: the original bytes of an item, re-verified against their digest.

use std::io::{Read, Write};

use sha2::Digest;

use crate::error::{CoreError, StoreError};
use crate::model::{Item, Sha256};
use crate::storage::BlobStore;

/// Blobs up to this size are verified completely before any byte is written out.
const VERIFY_FIRST: u64 = 16 << 20;

/// Writes an item's bytes to `out`, checking them against the item's digest.
///
/// Blobs up to 16 MiB are checked before anything is written; larger ones are checked
/// while streaming, and a mismatch ends with [`CoreError::Altered`] (the caller must treat
/// what was written as void).
pub fn copy_item(
    blobs: &dyn BlobStore,
    item: &Item,
    out: &mut dyn Write,
) -> Result<u64, CoreError> {
    let altered = || CoreError::Altered {
        sha256: item.sha256.to_hex(),
    };
    let stored_size = blobs.size(&item.sha256)?;
    if stored_size != item.size {
        return Err(altered());
    }
    let mut reader = blobs.open(&item.sha256)?;
    let read_err = |e: std::io::Error| {
        CoreError::Store(StoreError::Io {
            path: format!("blob {}", item.sha256).into(),
            source: e,
        })
    };
    let write_err = |e: std::io::Error| {
        CoreError::Store(StoreError::Io {
            path: "standard output".into(),
            source: e,
        })
    };
    let mut hasher = sha2::Sha256::new();
    if item.size <= VERIFY_FIRST {
        let mut all = Vec::with_capacity(item.size as usize);
        reader.read_to_end(&mut all).map_err(read_err)?;
        hasher.update(&all);
        if Sha256(hasher.finalize().into()) != item.sha256 || all.len() as u64 != item.size {
            return Err(altered());
        }
        out.write_all(&all).map_err(write_err)?;
        return Ok(all.len() as u64);
    }
    let total = stream(&mut reader, &mut hasher, |chunk| {
        out.write_all(chunk).map_err(write_err)
    })
    .map_err(|e| e.unwrap_or_else(read_err))?;
    if total != item.size || Sha256(hasher.finalize().into()) != item.sha256 {
        return Err(altered());
    }
    Ok(total)
}

/// Reads `reader` to the end, hashing every chunk and handing it to `sink`; returns the
/// byte count. A failure of the sink comes back as `Err(Ok(e))`, a read error as `Err(Err(io))`.
fn stream<E>(
    reader: &mut dyn Read,
    hasher: &mut sha2::Sha256,
    mut sink: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, Result<E, std::io::Error>> {
    // One buffer per thread, reused: a fresh 1 MiB buffer per blob (zeroed, then faulted
    // in) cost a fifth of a verification of many small blobs.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| {
        let mut taken = cell.take();
        taken.resize(1 << 20, 0);
        let mut total = 0u64;
        let result = loop {
            let n = match reader.read(&mut taken) {
                Ok(0) => break Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(Err(e)),
            };
            hasher.update(&taken[..n]);
            total += n as u64;
            if let Err(e) = sink(&taken[..n]) {
                break Err(Ok(e));
            }
        };
        cell.replace(taken);
        result
    })
}

/// Blobs from this size are read (and, sealed, decrypted) on a second thread while the
/// first hashes.
const PIPELINE_FROM: u64 = 8 << 20;

/// Re-hashes a stored blob. Returns its digest and size.
pub fn rehash(blobs: &dyn BlobStore, sha256: &Sha256) -> Result<(Sha256, u64), StoreError> {
    rehash_sized(blobs, sha256, None)
}

/// [`rehash`] of a blob expected to be `size` bytes: from [`PIPELINE_FROM`] on, reading
/// (and decrypting) runs on a second thread, overlapped with hashing.
pub fn rehash_sized(
    blobs: &dyn BlobStore,
    sha256: &Sha256,
    size: Option<u64>,
) -> Result<(Sha256, u64), StoreError> {
    let io_err = |io| StoreError::Io {
        path: format!("blob {sha256}").into(),
        source: io,
    };
    if size.is_some_and(|s| s >= PIPELINE_FROM) {
        return rehash_pipelined(blobs.open(sha256)?).map_err(io_err);
    }
    let mut reader = blobs.open(sha256)?;
    let mut hasher = sha2::Sha256::new();
    let total = stream(&mut reader, &mut hasher, |_| Ok::<(), StoreError>(())).map_err(|e| {
        e.unwrap_or_else(|io| StoreError::Io {
            path: format!("blob {sha256}").into(),
            source: io,
        })
    })?;
    Ok((Sha256(hasher.finalize().into()), total))
}

/// Reads `reader` on a second thread in 1 MiB chunks (a few in flight) and hashes them here.
fn rehash_pipelined(mut reader: Box<dyn Read + Send>) -> Result<(Sha256, u64), std::io::Error> {
    const CHUNK: usize = 1 << 20;
    const IN_FLIGHT: usize = 4;
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(IN_FLIGHT);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || loop {
            let mut buf = empty_rx.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
            let mut filled = 0;
            // Whole chunks (but the last), so the hasher is handed large slices.
            while filled < CHUNK {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        return;
                    }
                }
            }
            buf.truncate(filled);
            let last = filled < CHUNK;
            if full_tx.send(Ok(buf)).is_err() || last {
                return;
            }
        });
        let mut hasher = sha2::Sha256::new();
        let mut total = 0u64;
        for chunk in full_rx {
            let chunk = chunk?;
            if chunk.is_empty() {
                break;
            }
            hasher.update(&chunk);
            total += chunk.len() as u64;
            let _ = empty_tx.send(chunk);
        }
        Ok((Sha256(hasher.finalize().into()), total))
    })
}

#[cfg(test)]
mod pipeline_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A reader that hands out a few bytes at a time, then (optionally) fails.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        fail_at: Option<usize>,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.fail_at.is_some_and(|f| self.at >= f) {
                return Err(std::io::Error::other("the disk went away"));
            }
            let n = buf.len().min(70_001).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn pipelined_rehash_matches_a_plain_hash_and_passes_errors_on() {
        for len in [0, 1, (1 << 20) - 1, 1 << 20, (9 << 20) + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let want = Sha256(sha2::Sha256::digest(&data).into());
            let reader = Box::new(Trickle {
                data,
                at: 0,
                fail_at: None,
            });
            assert_eq!(
                rehash_pipelined(reader).unwrap(),
                (want, len as u64),
                "{len}"
            );
        }
        let failing = Box::new(Trickle {
            data: vec![1; 5 << 20],
            at: 0,
            fail_at: Some(3 << 20),
        });
        assert!(rehash_pipelined(failing).is_err());
    }
}
