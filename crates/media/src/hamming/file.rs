//! The persisted index format: little-endian words with a running checksum.

use std::io::{self, Read, Write};

use super::mih::{widths_for, Tables};
use super::{HammingIndex, IndexKind, Segment, Store, MIN_SUBSTRINGS};

impl HammingIndex {
    /// Writes the index (hashes, segments and tables) in its own little-endian format, in
    /// many small writes (give it a buffered writer).
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let mut w = Checksummed::new(w);
        w.put(MAGIC)?;
        w.u32(FORMAT)?;
        w.u32(self.kind().code())?;
        w.u32(self.substrings)?;
        w.u64(self.hashes.len() as u64)?;
        for h in self.hashes.iter() {
            for x in h {
                w.u64(x)?;
            }
        }
        w.u32(self.segments.len() as u32)?;
        for s in &self.segments {
            w.u32(s.start)?;
            w.u32(s.end)?;
            match &s.tables {
                None => w.u32(0)?,
                Some(t) => {
                    w.u32(t.widths.len() as u32)?;
                    for (off, ids) in t.offsets.iter().zip(&t.ids) {
                        w.u32s(off)?;
                        w.u32s(ids)?;
                    }
                }
            }
        }
        let sum = w.sum;
        w.u64(sum)
    }

    /// Reads what [`write_to`](Self::write_to) wrote, checking its structure and checksum;
    /// reads no further (give it a buffered reader).
    pub fn read_from(r: &mut impl Read) -> Result<HammingIndex, IndexFileError> {
        let mut r = Checked::new(r);
        let mut magic = [0u8; 8];
        r.take(&mut magic)?;
        if &magic != MAGIC {
            return Err(IndexFileError::Invalid("not an Athar hash index"));
        }
        if r.u32()? != FORMAT {
            return Err(IndexFileError::Invalid("unknown index format version"));
        }
        let kind = match r.u32()? {
            0 => IndexKind::Mih,
            1 => IndexKind::Compact,
            _ => return Err(IndexFileError::Invalid("unknown index kind")),
        };
        let substrings = r.u32()?;
        if substrings != 0 && !(MIN_SUBSTRINGS..=32).contains(&substrings) {
            return Err(IndexFileError::Invalid("substring count"));
        }
        let n = r.u64()?;
        let n = u32::try_from(n).map_err(|_| IndexFileError::Invalid("hash count"))?;
        let mut hashes = Store::empty(kind);
        hashes
            .try_reserve_exact(n as usize)
            .map_err(|_| IndexFileError::Invalid("hash count"))?;
        let mut buf = vec![0u8; 32 * 4096];
        let mut left = n as usize;
        while left > 0 {
            let k = left.min(4096);
            r.take(&mut buf[..k * 32])?;
            for c in buf[..k * 32].chunks_exact(32) {
                let mut h = [0u64; 4];
                for (x, b) in h.iter_mut().zip(c.chunks_exact(8)) {
                    *x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    r.sum = mix(r.sum, *x);
                }
                hashes.push(&h);
            }
            left -= k;
        }
        let count = r.u32()?;
        if kind == IndexKind::Compact && count != 0 {
            return Err(IndexFileError::Invalid("segments in a compact index"));
        }
        let mut segments = Vec::new();
        let mut expect = 0u32;
        for _ in 0..count {
            let (start, end) = (r.u32()?, r.u32()?);
            if start != expect || end <= start || end > n {
                return Err(IndexFileError::Invalid("segment bounds"));
            }
            expect = end;
            let m = r.u32()?;
            let tables = if m == 0 {
                None
            } else {
                if !(MIN_SUBSTRINGS..=32).contains(&m) {
                    return Err(IndexFileError::Invalid("substring count"));
                }
                let widths = widths_for(m);
                let len = (end - start) as usize;
                let mut offsets = Vec::new();
                let mut ids = Vec::new();
                for &width in &widths {
                    let off = r.u32s((1usize << width) + 1)?;
                    let sorted = off.windows(2).all(|p| p[0] <= p[1]);
                    if off[0] != 0 || !sorted || off.last().copied() != Some(len as u32) {
                        return Err(IndexFileError::Invalid("table offsets"));
                    }
                    let table = r.u32s(len)?;
                    if table.iter().any(|&id| id < start || id >= end) {
                        return Err(IndexFileError::Invalid("table ids"));
                    }
                    offsets.push(off);
                    ids.push(table);
                }
                let tables = Tables {
                    widths,
                    offsets,
                    ids,
                };
                if !tables.agree_with(&hashes, start) {
                    return Err(IndexFileError::Invalid("tables do not match the hashes"));
                }
                Some(tables)
            };
            segments.push(Segment { start, end, tables });
        }
        if kind == IndexKind::Mih && expect != n {
            return Err(IndexFileError::Invalid("segments do not cover the hashes"));
        }
        let sum = r.sum;
        if r.u64()? != sum {
            return Err(IndexFileError::Invalid("checksum mismatch"));
        }
        Ok(HammingIndex {
            hashes,
            segments,
            substrings,
        })
    }
}

const MAGIC: &[u8; 8] = b"ATHARHIX";
/// Format 2 added the index kind after the version (a file of format 1 is refused, so the
/// archive's cache is rebuilt from the catalog once).
const FORMAT: u32 = 2;

/// Why a persisted index could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexFileError {
    #[error("reading the hash index: {0}")]
    Io(#[from] io::Error),
    #[error("damaged hash index: {0}")]
    Invalid(&'static str),
}

/// A running checksum over the little-endian words written or read (FNV-style mixing of
/// 64-bit words; it detects damage, it is not a cryptographic seal).
fn mix(sum: u64, x: u64) -> u64 {
    (sum ^ x)
        .wrapping_mul(0x0000_0100_0000_01b3)
        .rotate_left(29)
}

/// Writes little-endian words, keeping a checksum (unbuffered: give it a buffered writer).
pub(crate) struct Checksummed<'a, W: Write> {
    w: &'a mut W,
    pub(crate) sum: u64,
}

impl<'a, W: Write> Checksummed<'a, W> {
    pub(crate) fn new(w: &'a mut W) -> Self {
        Checksummed {
            w,
            sum: 0xcbf2_9ce4_8422_2325,
        }
    }
    pub(crate) fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)
    }
    pub(crate) fn u32(&mut self, x: u32) -> io::Result<()> {
        self.sum = mix(self.sum, u64::from(x));
        self.w.write_all(&x.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, x: u64) -> io::Result<()> {
        self.sum = mix(self.sum, x);
        self.w.write_all(&x.to_le_bytes())
    }
    fn u32s(&mut self, xs: &[u32]) -> io::Result<()> {
        for &x in xs {
            self.u32(x)?;
        }
        Ok(())
    }
}

/// Reads what [`Checksummed`] wrote, keeping the same checksum (unbuffered: give it a
/// buffered reader).
pub(crate) struct Checked<'a, R: Read> {
    r: &'a mut R,
    pub(crate) sum: u64,
}

impl<'a, R: Read> Checked<'a, R> {
    pub(crate) fn new(r: &'a mut R) -> Self {
        Checked {
            r,
            sum: 0xcbf2_9ce4_8422_2325,
        }
    }
    pub(crate) fn take(&mut self, b: &mut [u8]) -> io::Result<()> {
        self.r.read_exact(b)
    }
    pub(crate) fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.r.read_exact(&mut b)?;
        let x = u32::from_le_bytes(b);
        self.sum = mix(self.sum, u64::from(x));
        Ok(x)
    }
    pub(crate) fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.r.read_exact(&mut b)?;
        let x = u64::from_le_bytes(b);
        self.sum = mix(self.sum, x);
        Ok(x)
    }
    fn u32s(&mut self, n: usize) -> io::Result<Vec<u32>> {
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0u8; 4 * n.min(65_536)];
        let mut left = n;
        while left > 0 {
            let k = left.min(65_536);
            self.r.read_exact(&mut buf[..4 * k])?;
            for c in buf[..4 * k].chunks_exact(4) {
                let x = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                self.sum = mix(self.sum, u64::from(x));
                out.push(x);
            }
            left -= k;
        }
        Ok(out)
    }
}
