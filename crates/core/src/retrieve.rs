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
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Err(e)),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
        sink(&buf[..n]).map_err(Ok)?;
    }
}

/// Re-hashes a stored blob. Returns its digest and size.
pub fn rehash(blobs: &dyn BlobStore, sha256: &Sha256) -> Result<(Sha256, u64), StoreError> {
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
