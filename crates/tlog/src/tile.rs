//! C2SP tlog-tiles: tile coordinates and paths, tile contents, reading hashes from tiles,
//! and entry bundles.
//!
//! Tiles have height 8 (256 hashes wide). A tile at level `L` holds hashes of tree level
//! `8 * L`; hashes at the levels in between are recomputed from the tile's hashes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::rfc6962::{
    node_hash, split_stored_hash_index, stored_hash_index, Hash, HashReader, TreeError, HASH_SIZE,
};

/// Tile height: each tile spans 8 tree levels.
pub const TILE_HEIGHT: u8 = 8;
/// Full tile width in hashes (and full entry bundle width in entries).
pub const TILE_WIDTH: u16 = 256;
/// Highest tile level the path syntax allows.
pub const MAX_TILE_LEVEL: u8 = 63;
/// Largest entry an entry bundle can hold (uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Errors about tiles, tile paths and entry bundles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The path is not a valid tile or entry bundle path.
    #[error("malformed tile path: {0}")]
    BadPath(&'static str),
    /// Tile coordinates are out of range (level > 63, width 0 or > 256, index too big).
    #[error("invalid tile coordinates")]
    InvalidTile,
    /// Tile data does not have the size its width requires.
    #[error("tile data has {got} bytes, want {want}")]
    BadTileSize { got: usize, want: usize },
    /// The stored hash is not inside this tile.
    #[error("hash index {0} is not in this tile")]
    NotInTile(u64),
    /// An entry is too large for a bundle.
    #[error("entry of {0} bytes is too large for an entry bundle")]
    EntryTooLarge(usize),
    /// An entry bundle is truncated or holds too many entries.
    #[error("malformed entry bundle: {0}")]
    BadBundle(&'static str),
}

/// A Merkle tree tile: `level` (0..=63), `index` within the level, `width` (1..=256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Tile level; holds tree level `8 * level`.
    pub level: u8,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes in the tile, 256 for a full tile.
    pub width: u16,
}

/// A parsed tile path: a hash tile or an entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`
    Hashes(Tile),
    /// `tile/entries/<N>[.p/<W>]`; `level` is always 0.
    Entries(Tile),
}

impl Tile {
    /// A tile, checking the coordinate ranges.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Tile, TileError> {
        if level > MAX_TILE_LEVEL || width == 0 || width > TILE_WIDTH {
            return Err(TileError::InvalidTile);
        }
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// `tile/<L>/<N>[.p/<W>]`
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.index_suffix())
    }

    /// `tile/entries/<N>[.p/<W>]` (meaningful for level 0 tiles).
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.index_suffix())
    }

    fn index_suffix(&self) -> String {
        let mut s = format_tile_index(self.index);
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Byte length of the tile's data.
    pub fn data_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }
}

/// Encodes a tile index as zero-padded 3-digit path elements, all but the last prefixed
/// with `x`: 1234067 becomes `x001/x234/067`.
pub fn format_tile_index(mut n: u64) -> String {
    let mut parts = Vec::with_capacity(7);
    parts.push(format!("{:03}", n % 1000));
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

fn parse_small_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    let v: u64 = s.parse().ok()?;
    (v <= max).then_some(v)
}

/// Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, strictly: canonical
/// numbers only, no full tile written as partial.
pub fn parse_tile_path(path: &str) -> Result<TilePath, TileError> {
    let rest = path
        .strip_prefix("tile/")
        .ok_or(TileError::BadPath("missing tile/ prefix"))?;
    let (level, rest) = rest
        .split_once('/')
        .ok_or(TileError::BadPath("missing level"))?;
    let entries = level == "entries";
    let level = if entries {
        0
    } else {
        parse_small_decimal(level, u64::from(MAX_TILE_LEVEL))
            .ok_or(TileError::BadPath("bad level"))? as u8
    };
    let mut elems: Vec<&str> = rest.split('/').collect();
    // Partial suffix: last element is W, the one before ends with ".p".
    let mut width = TILE_WIDTH;
    if elems.len() >= 2 {
        let n = elems.len();
        if let Some(stem) = elems.get(n - 2).and_then(|e| e.strip_suffix(".p")) {
            let w = elems.get(n - 1).copied().unwrap_or("");
            width = parse_small_decimal(w, u64::from(TILE_WIDTH) - 1)
                .filter(|&w| w >= 1)
                .ok_or(TileError::BadPath("bad partial width"))? as u16;
            elems.truncate(n - 1);
            if let Some(last) = elems.last_mut() {
                *last = stem;
            }
        }
    }
    if elems.len() > 7 {
        return Err(TileError::BadPath("index too long"));
    }
    let mut index: u64 = 0;
    let count = elems.len();
    for (i, e) in elems.iter().enumerate() {
        let digits = if i + 1 < count {
            e.strip_prefix('x')
                .ok_or(TileError::BadPath("index element without x"))?
        } else {
            e
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::BadPath("index element not 3 digits"));
        }
        if i == 0 && count > 1 && digits == "000" {
            return Err(TileError::BadPath("index has leading zero element"));
        }
        let d: u64 = digits
            .parse()
            .map_err(|_| TileError::BadPath("bad index digits"))?;
        index = index
            .checked_mul(1000)
            .and_then(|v| v.checked_add(d))
            .ok_or(TileError::BadPath("index overflows"))?;
    }
    let tile = Tile::new(level, index, width)?;
    Ok(if entries {
        TilePath::Entries(tile)
    } else {
        TilePath::Hashes(tile)
    })
}

/// The smallest tile holding stored hash `index`, with the byte range of the data that
/// hashes to it. The returned tile's width is just large enough to hold that data.
pub fn tile_for_index(index: u64) -> (Tile, usize, usize) {
    let (level, n) = split_stored_hash_index(index);
    let tile_level = level / TILE_HEIGHT;
    let sub = level % TILE_HEIGHT; // level inside the tile
    let tile_index = (n << sub) >> TILE_HEIGHT;
    // Index inside the tile at level `sub`; below 256 >> sub.
    let n_in = n.wrapping_sub((tile_index << TILE_HEIGHT) >> sub) & 0xff;
    let width = ((n_in + 1) << sub).min(u64::from(TILE_WIDTH)) as u16;
    let start = (n_in << sub) as usize * HASH_SIZE;
    let end = usize::from(width) * HASH_SIZE;
    (
        Tile {
            level: tile_level,
            index: tile_index,
            width,
        },
        start,
        end,
    )
}

/// MTH of a run of concatenated hashes whose count is a power of two.
fn tile_hash(data: &[u8]) -> Option<Hash> {
    if data.len() == HASH_SIZE {
        return data.try_into().ok();
    }
    if data.len() < HASH_SIZE {
        return None;
    }
    let (l, r) = data.split_at(data.len() / 2);
    Some(node_hash(&tile_hash(l)?, &tile_hash(r)?))
}

/// Reads stored hash `index` out of the data of `tile`.
pub fn hash_from_tile(tile: &Tile, data: &[u8], index: u64) -> Result<Hash, TileError> {
    if tile.level > MAX_TILE_LEVEL || tile.width == 0 || tile.width > TILE_WIDTH {
        return Err(TileError::InvalidTile);
    }
    if data.len() != tile.data_len() {
        return Err(TileError::BadTileSize {
            got: data.len(),
            want: tile.data_len(),
        });
    }
    let (t, start, end) = tile_for_index(index);
    if t.level != tile.level || t.index != tile.index || t.width > tile.width {
        return Err(TileError::NotInTile(index));
    }
    data.get(start..end)
        .and_then(tile_hash)
        .ok_or(TileError::NotInTile(index))
}

/// The tiles that must be written when the tree grows from `old_size` to `new_size`
/// leaves: every tile that is new or wider, lowest level first.
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<Tile> {
    let mut tiles = Vec::new();
    let h = u32::from(TILE_HEIGHT);
    let mut level: u32 = 0;
    while level <= u32::from(MAX_TILE_LEVEL) {
        let shift = h * level;
        let new_n = new_size.checked_shr(shift).unwrap_or(0);
        if new_n == 0 {
            break;
        }
        let old_n = old_size.checked_shr(shift).unwrap_or(0);
        if old_n != new_n {
            for n in (old_n >> h)..(new_n >> h) {
                tiles.push(Tile {
                    level: level as u8,
                    index: n,
                    width: TILE_WIDTH,
                });
            }
            let n = new_n >> h;
            let w = new_n - (n << h);
            if w > 0 {
                tiles.push(Tile {
                    level: level as u8,
                    index: n,
                    width: w as u16,
                });
            }
        }
        level += 1;
    }
    tiles
}

/// Builds a tile's data (its hashes, concatenated) from stored hashes (one read).
pub fn read_tile_data(tile: &Tile, r: &impl HashReader) -> Result<Vec<u8>, TreeError> {
    let level = tile.level.saturating_mul(TILE_HEIGHT);
    let start = tile.index << TILE_HEIGHT;
    let indexes: Vec<u64> = (0..u64::from(tile.width))
        .map(|i| stored_hash_index(level, start + i))
        .collect();
    let hashes = r.read_hashes(&indexes)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::ReaderCount {
            got: hashes.len(),
            want: indexes.len(),
        });
    }
    Ok(hashes.concat())
}

/// The width of tile (`level`, `index`) in a tree of `size` leaves; 0 when it is empty.
pub fn tile_width_at(level: u8, index: u64, size: u64) -> u16 {
    let n = size
        .checked_shr(u32::from(TILE_HEIGHT) * u32::from(level))
        .unwrap_or(0);
    let first = index.saturating_mul(u64::from(TILE_WIDTH));
    n.saturating_sub(first).min(u64::from(TILE_WIDTH)) as u16
}

/// Storage of tile data. Returns one data buffer per requested tile, of exactly
/// `tile.data_len()` bytes, in order.
pub trait TileReader {
    /// Reads the data of `tiles`.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError>;
}

/// Default number of tiles (of level 1 and above) whose inner hashes a
/// [`TileHashReader`] keeps: at most 1024 * 16 KiB = 16 MiB.
pub const DEFAULT_TILE_CACHE: usize = 1024;

/// The complete-subtree hashes inside one tile: `levels[j]` holds the hashes of tree
/// level `8 * tile.level + j` that the tile covers.
#[derive(Debug)]
struct TileTree {
    levels: Vec<Vec<Hash>>,
}

impl TileTree {
    fn build(data: &[u8]) -> Option<TileTree> {
        let mut level: Vec<Hash> = data
            .chunks_exact(HASH_SIZE)
            .map(|c| c.try_into().ok())
            .collect::<Option<Vec<Hash>>>()?;
        let mut levels = Vec::with_capacity(usize::from(TILE_HEIGHT));
        while !level.is_empty() {
            let next: Vec<Hash> = level
                .chunks_exact(2)
                .map(|p| match p {
                    [l, r] => node_hash(l, r),
                    _ => [0; HASH_SIZE],
                })
                .collect();
            levels.push(level);
            level = next;
        }
        Some(TileTree { levels })
    }

    fn get(&self, sub: u8, n_in: u64) -> Option<Hash> {
        self.levels
            .get(usize::from(sub))?
            .get(usize::try_from(n_in).ok()?)
            .copied()
    }
}

#[derive(Debug, Default)]
struct TileCache {
    tiles: HashMap<Tile, Arc<TileTree>>,
}

/// A [`HashReader`] over tiles for a tree of a given size: each read fetches every tile it
/// needs once, in a single [`TileReader::read_tiles`] call.
///
/// Tiles of level 1 and above are few (each covers 65,536 leaves) and are needed by almost
/// every proof, so the reader keeps the inner hashes of up to a bounded number of them
/// (see [`TileHashReader::with_cache_capacity`]); reuse one reader per tree size.
///
/// The tile data is trusted as it comes (it is the log's own storage). A client holding
/// tiles from elsewhere checks the proofs it builds against a verified checkpoint.
#[derive(Debug)]
pub struct TileHashReader<R> {
    size: u64,
    reader: R,
    capacity: usize,
    cache: Mutex<TileCache>,
}

impl<R: TileReader> TileHashReader<R> {
    /// Reads hashes of the tree of `size` leaves through `reader`, caching up to
    /// [`DEFAULT_TILE_CACHE`] tiles.
    pub fn new(size: u64, reader: R) -> Self {
        Self::with_cache_capacity(size, reader, DEFAULT_TILE_CACHE)
    }

    /// Like [`TileHashReader::new`], keeping the inner hashes of at most `capacity` tiles
    /// of level 1 and above (0 disables the cache).
    pub fn with_cache_capacity(size: u64, reader: R, capacity: usize) -> Self {
        TileHashReader {
            size,
            reader,
            capacity,
            cache: Mutex::new(TileCache::default()),
        }
    }

    fn cached(&self, t: &Tile) -> Option<Arc<TileTree>> {
        if self.capacity == 0 || t.level == 0 {
            return None;
        }
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.tiles.get(t).cloned()
    }

    fn remember(&self, t: Tile, tree: Arc<TileTree>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.tiles.len() >= self.capacity {
            cache.tiles.clear();
        }
        cache.tiles.insert(t, tree);
    }
}

impl<R: TileReader> HashReader for TileHashReader<R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        // For each index: its tile (sized for this tree), level inside the tile, position.
        let mut located: Vec<(Tile, u8, u64)> = Vec::with_capacity(indexes.len());
        let mut out: Vec<Option<Hash>> = vec![None; indexes.len()];
        let mut trees: Vec<(Tile, Arc<TileTree>)> = Vec::new();
        let mut fetch: Vec<Tile> = Vec::new();
        for (slot, &x) in out.iter_mut().zip(indexes) {
            let (level, n) = split_stored_hash_index(x);
            let (t, _, _) = tile_for_index(x);
            let width = tile_width_at(t.level, t.index, self.size);
            if width < t.width {
                return Err(TreeError::NotFound(x));
            }
            let t = Tile { width, ..t };
            let sub = level % TILE_HEIGHT;
            let n_in = n.wrapping_sub((t.index << TILE_HEIGHT) >> sub);
            located.push((t, sub, n_in));
            if let Some(tree) = trees.iter().find(|(u, _)| *u == t).map(|(_, tr)| tr) {
                *slot = tree.get(sub, n_in);
            } else if let Some(tree) = self.cached(&t) {
                *slot = tree.get(sub, n_in);
                trees.push((t, tree));
            } else if !fetch.contains(&t) {
                fetch.push(t);
            }
        }
        if fetch.is_empty() {
            return out
                .iter()
                .zip(indexes)
                .map(|(h, &x)| h.ok_or(TreeError::NotFound(x)))
                .collect();
        }
        let data = self.reader.read_tiles(&fetch)?;
        if data.len() != fetch.len() {
            return Err(TreeError::ReaderCount {
                got: data.len(),
                want: fetch.len(),
            });
        }
        for (t, d) in fetch.iter().zip(&data) {
            if d.len() != t.data_len() {
                return Err(TreeError::Tile(
                    TileError::BadTileSize {
                        got: d.len(),
                        want: t.data_len(),
                    }
                    .to_string(),
                ));
            }
            if t.level > 0 && self.capacity > 0 {
                let tree = Arc::new(TileTree::build(d).ok_or_else(|| TreeError::Tile(t.path()))?);
                self.remember(*t, Arc::clone(&tree));
                trees.push((*t, tree));
            }
        }
        out.iter()
            .zip(indexes)
            .zip(&located)
            .map(|((h, &x), (t, sub, n_in))| {
                if let Some(h) = h {
                    return Ok(*h);
                }
                if let Some((_, tree)) = trees.iter().find(|(u, _)| u == t) {
                    return tree.get(*sub, *n_in).ok_or(TreeError::NotFound(x));
                }
                let pos = fetch
                    .iter()
                    .position(|u| u == t)
                    .ok_or(TreeError::NotFound(x))?;
                let d = data.get(pos).ok_or(TreeError::NotFound(x))?;
                hash_from_tile(t, d, x).map_err(|e| TreeError::Tile(e.to_string()))
            })
            .collect()
    }
}

/// Appends one entry, with its big-endian uint16 length prefix, to an entry bundle.
pub fn append_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), TileError> {
    let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge(entry.len()))?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// Encodes an entry bundle.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(TileError::BadBundle("more than 256 entries"));
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for e in entries {
        append_bundle_entry(&mut out, e.as_ref())?;
    }
    Ok(out)
}

/// Decodes an entry bundle into its entries (1 to 256 of them).
pub fn decode_entry_bundle(data: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if out.len() == usize::from(TILE_WIDTH) {
            return Err(TileError::BadBundle("more than 256 entries"));
        }
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(TileError::BadBundle("truncated length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TileError::BadBundle("truncated entry"));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    if out.is_empty() {
        return Err(TileError::BadBundle("empty bundle"));
    }
    Ok(out)
}
