//! RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.
//!
//! Hashes of complete subtrees are addressed by a *stored hash index*, the same numbering
//! as Go's `golang.org/x/mod/sumdb/tlog`: the hashes are laid out in the order an
//! append-only log writes them (leaf 0, leaf 1, node(0,1), leaf 2, ...). Storage is reached
//! only through the [`HashReader`] trait.
//!
//! Subtree proofs ([`verify_subtree_inclusion`], [`verify_subtree_consistency`]) follow the
//! Merkle Tree Certificates draft (draft-ietf-plants-merkle-tree-certs, section 4): a
//! subtree `[start, end)` is valid when `start < end` and `start` is a multiple of the
//! smallest power of two that is `>= end - start`.

use sha2::{Digest, Sha256};

/// Size in bytes of a SHA-256 hash.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 Merkle tree hash.
pub type Hash = [u8; HASH_SIZE];

/// Errors from verifying a proof. Each variant says *why* a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree (or subtree).
    #[error("index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The first tree size is larger than the second one.
    #[error("tree size {size1} is larger than tree size {size2}")]
    SizeOrder { size1: u64, size2: u64 },
    /// A consistency proof from the empty tree proves nothing and is refused.
    #[error("consistency proof from the empty tree is meaningless")]
    EmptyTree,
    /// `[start, end)` is not a valid subtree.
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree { start: u64, end: u64 },
    /// The subtree does not lie inside the tree.
    #[error("subtree end {end} is beyond tree size {size}")]
    SubtreeOutOfRange { end: u64, size: u64 },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("wrong proof length {got}, want {want}")]
    WrongProofLength { got: usize, want: usize },
    /// The proof has the right shape but does not lead to the expected root.
    #[error("computed root does not match the expected root")]
    RootMismatch,
}

/// Errors from building hashes or proofs out of stored hashes.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The storage has no hash at this stored hash index.
    #[error("no stored hash at index {0}")]
    NotFound(u64),
    /// The storage failed.
    #[error("storage error: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A reader returned a different number of hashes than asked for.
    #[error("hash reader returned {got} hashes, want {want}")]
    ReaderCount { got: usize, want: usize },
    /// The requested index is not inside the tree.
    #[error("index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The requested tree sizes are not usable for this operation.
    #[error("invalid tree sizes {size1} and {size2}")]
    InvalidSizes { size1: u64, size2: u64 },
    /// The requested subtree is not valid.
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree { start: u64, end: u64 },
    /// A tile needed to answer the read was malformed.
    #[error("bad tile: {0}")]
    Tile(String),
}

/// Read access to stored hashes, addressed by stored hash index (see [`stored_hash_index`]).
///
/// Implementations return exactly one hash per requested index, in the same order.
/// Callers batch all the indexes one operation needs into a single call.
pub trait HashReader {
    /// Returns the hashes stored at `indexes`.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError>;
}

/// A slice of all stored hashes, in stored hash index order, is a `HashReader`.
impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|u| self.get(u))
                    .copied()
                    .ok_or(TreeError::NotFound(i))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.as_slice().read_hashes(indexes)
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        (**self).read_hashes(indexes)
    }
}

/// The RFC 6962 leaf hash: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256 initial state (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
///
/// The 65-byte message and its padding always fill exactly two blocks, so they are laid
/// out here and fed to the compression function directly (the hottest path of proof
/// generation from tiles).
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    use sha2::digest::generic_array::GenericArray;
    let mut blocks = [GenericArray::default(), GenericArray::default()];
    let [b1, b2] = &mut blocks;
    b1[0] = 1;
    b1[1..1 + HASH_SIZE].copy_from_slice(left);
    b1[1 + HASH_SIZE..].copy_from_slice(&right[..HASH_SIZE - 1]);
    b2[0] = right[HASH_SIZE - 1];
    b2[1] = 0x80;
    // Message length in bits, big-endian: 65 * 8 = 520.
    b2[56..].copy_from_slice(&520u64.to_be_bytes());
    let mut state = SHA256_IV;
    sha2::compress256(&mut state, &blocks);
    let mut out = [0u8; HASH_SIZE];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// The root hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (the RFC 6962 split point `k`).
/// Returns 0 for `n < 2`.
pub fn split_point(n: u64) -> u64 {
    if n < 2 {
        return 0;
    }
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The largest power of two `<= n`, for `n >= 1`, as `(k, log2 k)`. Returns `(0, 0)` for 0.
fn max_pow2_le(n: u64) -> (u64, u8) {
    if n == 0 {
        return (0, 0);
    }
    let l = 63 - n.leading_zeros();
    (1u64 << l, l as u8)
}

/// Root hash (RFC 6962 MTH) of a list of leaf hashes.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split_point(leaves.len() as u64) as usize;
            let (l, r) = leaves.split_at(k.min(leaves.len()));
            node_hash(&root_from_leaf_hashes(l), &root_from_leaf_hashes(r))
        }
    }
}

/// The stored hash index of the `n`-th hash at `level` (level 0 holds leaf hashes; the
/// `n`-th hash at level `l` covers leaves `[n << l, (n + 1) << l)`).
///
/// Meaningful for `level < 64` and `(n + 1) << level` below 2^62; larger inputs wrap
/// around instead of panicking.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // The last leaf covered by the node, at level 0, is ((n + 1) << level) - 1; everything
    // stored before that leaf's own hash is 2m - popcount(m) hashes, then `level` parents.
    let shift = u32::from(level.min(63));
    let m = n.wrapping_add(1).wrapping_shl(shift).wrapping_sub(1);
    m.wrapping_mul(2)
        .wrapping_sub(u64::from(m.count_ones()))
        .wrapping_add(u64::from(level))
}

/// Inverse of [`stored_hash_index`]: `(level, n)`.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // The leaf n whose block of hashes contains `index` satisfies
    // index/2 <= n <= index/2 + 32, since stored_hash_index(0, n) = 2n - popcount(n).
    // Start at index/2 (where stored_hash_index(0, n) <= index) and walk forward a
    // bounded number of steps.
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    for _ in 0..=64 {
        let next = index_n
            .checked_add(1)
            .and_then(|x| x.checked_add(u64::from(n.wrapping_add(1).trailing_zeros())));
        match next {
            Some(x) if x <= index => {
                n += 1;
                index_n = x;
            }
            _ => break,
        }
    }
    let level = (index - index_n).min(63) as u8;
    (level, n >> level)
}

/// Number of hashes stored for a tree of `n` leaves.
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // Hashes of leaf n-1 and its completed parents, plus everything before.
    stored_hash_index(0, n - 1) + 1 + u64::from((n - 1).trailing_ones())
}

/// The hashes to store when appending the leaf with hash `leaf` as leaf number `n`
/// (0-based), in stored hash index order starting at `stored_hash_index(0, n)`.
///
/// Reads the left siblings it needs from `r` in one call. To append many leaves at once
/// without reads, use [`Frontier`].
pub fn stored_hashes(n: u64, leaf: Hash, r: &impl HashReader) -> Result<Vec<Hash>, TreeError> {
    let m = n.wrapping_add(1).trailing_zeros() as u8;
    // Left siblings, from the highest level down so the indexes are sorted.
    let indexes: Vec<u64> = (0..m)
        .rev()
        .map(|i| stored_hash_index(i, (n >> i) - 1))
        .collect();
    let old = read_exact(r, &indexes)?;
    let mut out = Vec::with_capacity(usize::from(m) + 1);
    let mut h = leaf;
    out.push(h);
    for sibling in old.iter().rev() {
        h = node_hash(sibling, &h);
        out.push(h);
    }
    Ok(out)
}

fn read_exact(r: &impl HashReader, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let got = r.read_hashes(indexes)?;
    if got.len() != indexes.len() {
        return Err(TreeError::ReaderCount {
            got: got.len(),
            want: indexes.len(),
        });
    }
    Ok(got)
}

/// The right edge of a tree: the roots of its maximal complete subtrees. Appending leaves
/// to a frontier yields the hashes to store, with no reads, at about two SHA-256
/// computations per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Roots of the complete subtrees, largest (leftmost) first.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads the frontier of a tree of `size` leaves from storage (one read).
    pub fn from_reader(size: u64, r: &impl HashReader) -> Result<Self, TreeError> {
        let indexes = sub_tree_index(0, size, Vec::new());
        let nodes = read_exact(r, &indexes)?;
        Ok(Frontier { size, nodes })
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash, pushing the new stored hashes (the leaf hash first, then the
    /// parents it completes) onto `out`. Their first stored index is
    /// `stored_hash_index(0, self.size())` taken before the call.
    pub fn append(&mut self, leaf: Hash, out: &mut Vec<Hash>) {
        let mut h = leaf;
        out.push(h);
        let mut n = self.size;
        while n & 1 == 1 {
            match self.nodes.pop() {
                Some(left) => {
                    h = node_hash(&left, &h);
                    out.push(h);
                }
                None => break,
            }
            n >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// The root hash of the tree.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// Stored hash indexes of the complete subtrees covering `[lo, hi)`, left to right.
/// `lo` must be aligned so that each chunk is a complete subtree, which holds for every
/// range the RFC 6962 recursion produces.
fn sub_tree_index(mut lo: u64, hi: u64, mut need: Vec<u64>) -> Vec<u64> {
    while lo < hi {
        let (k, level) = max_pow2_le(hi - lo);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
    need
}

/// Combines the hashes of the complete subtrees covering `[lo, hi)` (as consumed from
/// `hashes`) into MTH(D[lo:hi]).
fn sub_tree_hash(mut lo: u64, hi: u64, hashes: &mut std::slice::Iter<'_, Hash>) -> Option<Hash> {
    let mut parts: [Hash; 64] = [[0; HASH_SIZE]; 64];
    let mut count = 0usize;
    while lo < hi {
        let (k, _) = max_pow2_le(hi - lo);
        *parts.get_mut(count)? = *hashes.next()?;
        count += 1;
        lo += k;
    }
    let mut it = parts.get(..count)?.iter().rev();
    let last = *it.next()?;
    Some(it.fold(last, |acc, left| node_hash(left, &acc)))
}

/// Root hash of the tree of size `n`, from stored hashes (one read).
pub fn tree_hash(n: u64, r: &impl HashReader) -> Result<Hash, TreeError> {
    if n == 0 {
        return Ok(empty_root());
    }
    let indexes = sub_tree_index(0, n, Vec::new());
    let hashes = read_exact(r, &indexes)?;
    sub_tree_hash(0, n, &mut hashes.iter()).ok_or(TreeError::ReaderCount {
        got: hashes.len(),
        want: indexes.len(),
    })
}

fn leaf_proof_index(mut lo: u64, mut hi: u64, n: u64, need: &mut Vec<u64>) {
    // Walk down from the root; the sibling subtrees are emitted bottom-up later, so record
    // them top-down here and reverse the groups in `leaf_proof`.
    while lo + 1 < hi {
        let k = split_point(hi - lo);
        if n < lo + k {
            let v = sub_tree_index(lo + k, hi, std::mem::take(need));
            *need = v;
            hi = lo + k;
        } else {
            let v = sub_tree_index(lo, lo + k, std::mem::take(need));
            *need = v;
            lo += k;
        }
    }
}

/// Inclusion proof for leaf `index` in the tree of size `size`, from stored hashes (one
/// read). The proof lists hashes from the leaf's sibling up to the root's child.
pub fn inclusion_proof(size: u64, index: u64, r: &impl HashReader) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut indexes = Vec::with_capacity(64);
    leaf_proof_index(0, size, index, &mut indexes);
    let hashes = read_exact(r, &indexes)?;
    // Replay the same walk, combining each sibling group into one hash.
    let mut it = hashes.iter();
    let mut proof = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, size);
    let short = || TreeError::ReaderCount {
        got: hashes.len(),
        want: indexes.len(),
    };
    while lo + 1 < hi {
        let k = split_point(hi - lo);
        if index < lo + k {
            proof.push(sub_tree_hash(lo + k, hi, &mut it).ok_or_else(short)?);
            hi = lo + k;
        } else {
            proof.push(sub_tree_hash(lo, lo + k, &mut it).ok_or_else(short)?);
            lo += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Consistency proof from the tree of size `size1` to the tree of size `size2`, from
/// stored hashes (one read). Requires `0 < size1 <= size2`.
pub fn consistency_proof(
    size1: u64,
    size2: u64,
    r: &impl HashReader,
) -> Result<Vec<Hash>, TreeError> {
    if size1 == 0 || size1 > size2 {
        return Err(TreeError::InvalidSizes { size1, size2 });
    }
    // Walk of PROOF(m, D[0:n]) from RFC 6962 2.1.2, recording the subtrees it emits
    // top-down; the proof lists them bottom-up.
    let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, size2);
    loop {
        if size1 == hi {
            if lo != 0 {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if size1 <= lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    let mut indexes = Vec::with_capacity(128);
    for &(a, b) in &ranges {
        indexes = sub_tree_index(a, b, indexes);
    }
    let hashes = read_exact(r, &indexes)?;
    let mut it = hashes.iter();
    let mut proof = Vec::with_capacity(ranges.len());
    for &(a, b) in &ranges {
        proof.push(sub_tree_hash(a, b, &mut it).ok_or(TreeError::ReaderCount {
            got: hashes.len(),
            want: indexes.len(),
        })?);
    }
    proof.reverse();
    Ok(proof)
}

/// MTH(D[lo:hi]) for any aligned range the RFC 6962 recursion produces, from stored
/// hashes (one read).
pub fn range_hash(lo: u64, hi: u64, r: &impl HashReader) -> Result<Hash, TreeError> {
    if lo >= hi {
        return Err(TreeError::InvalidSizes {
            size1: lo,
            size2: hi,
        });
    }
    let indexes = sub_tree_index(lo, hi, Vec::new());
    let hashes = read_exact(r, &indexes)?;
    sub_tree_hash(lo, hi, &mut hashes.iter()).ok_or(TreeError::ReaderCount {
        got: hashes.len(),
        want: indexes.len(),
    })
}

// ---------------------------------------------------------------------------------------
// Verification (RFC 9162 2.1.3.2 and 2.1.4.2).

/// Number of proof hashes below and on the tree's right border: `(inner, border)`.
fn decomp_incl_proof(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// The number of hashes in an inclusion proof for `index` in a tree of `size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Option<usize> {
    if index >= size {
        return None;
    }
    let (inner, border) = decomp_incl_proof(index, size);
    Some((inner + border) as usize)
}

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 0 {
            seed = node_hash(&seed, h);
        } else {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(seed, |acc, h| node_hash(h, &acc))
}

/// The root hash an inclusion proof leads to.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decomp_incl_proof(index, size);
    let want = (inner + border) as usize;
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let (inner_part, border_part) = proof.split_at(inner as usize);
    let res = chain_inner(*leaf, inner_part, index);
    Ok(chain_border_right(res, border_part))
}

/// Verifies that `leaf` is the leaf hash at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let got = root_from_inclusion_proof(index, size, leaf, proof)?;
    matches(&got, root)
}

fn matches(got: &Hash, want: &Hash) -> Result<(), ProofError> {
    // Proof verification works on public data; a constant-time compare is not needed.
    if got == want {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The number of hashes in a consistency proof from `size1` to `size2`
/// (`0 < size1 <= size2`).
pub fn consistency_proof_len(size1: u64, size2: u64) -> Option<usize> {
    if size1 == 0 || size1 > size2 {
        return None;
    }
    if size1 == size2 {
        return Some(0);
    }
    let (inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros();
    let inner = inner.saturating_sub(shift);
    let start = u32::from(size1 != 1u64 << shift);
    Some((start + inner + border) as usize)
}

/// Verifies that the tree of `size1` with `root1` is a prefix of the tree of `size2` with
/// `root2`. A proof from the empty tree is refused ([`ProofError::EmptyTree`]).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizeOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        return matches(root1, root2);
    }
    let (inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros();
    let inner = inner.saturating_sub(shift);
    // The proof starts with the hash of the subtree of size 2^shift holding leaf size1-1,
    // unless size1 is exactly that power of two (then the verifier knows it: root1).
    let power_of_two = size1 == 1u64 << shift;
    let start = usize::from(!power_of_two);
    let want = start + (inner + border) as usize;
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let (seed, rest) = if power_of_two {
        (*root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(ProofError::WrongProofLength { got: 0, want }),
        }
    };
    let (inner_part, border_part) = rest.split_at((inner as usize).min(rest.len()));
    let mask = (size1 - 1) >> shift;
    let hash1 = chain_border_right(chain_inner_right(seed, inner_part, mask), border_part);
    matches(&hash1, root1)?;
    let hash2 = chain_border_right(chain_inner(seed, inner_part, mask), border_part);
    matches(&hash2, root2)
}

/// Whether `[start, end)` is a valid subtree: non-empty, and `start` is a multiple of the
/// smallest power of two `>= end - start`.
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    let width = end - start;
    match width.checked_next_power_of_two() {
        Some(p) => start % p == 0,
        // width > 2^63: only start == 0 is aligned, and then end <= u64::MAX is fine.
        None => start == 0,
    }
}

/// The number of hashes in a subtree consistency proof (draft-ietf-plants-merkle-tree-certs
/// 4.4.1) for the valid subtree `[start, end)` of a tree of `size >= end`.
pub fn subtree_consistency_proof_len(start: u64, end: u64, size: u64) -> Option<usize> {
    if !is_valid_subtree(start, end) || end > size {
        return None;
    }
    let (mut start, mut end, mut n, mut known) = (start, end, size, true);
    let mut len = 0usize;
    loop {
        if start == 0 && end == n {
            return Some(len + usize::from(!known));
        }
        let k = split_point(n);
        len += 1;
        if end <= k {
            n = k;
        } else if start >= k {
            start -= k;
            end -= k;
            n -= k;
        } else {
            // start == 0 < k < end
            end -= k;
            n -= k;
            known = false;
        }
    }
}

/// Verifies an inclusion proof of the leaf at absolute `index` into the subtree
/// `[start, end)` whose hash is `subtree_root` (draft-ietf-plants-merkle-tree-certs 4.3).
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    subtree_root: &Hash,
) -> Result<(), ProofError> {
    if !is_valid_subtree(start, end) {
        return Err(ProofError::InvalidSubtree { start, end });
    }
    if index < start || index >= end {
        return Err(ProofError::IndexOutOfRange { index, size: end });
    }
    // An inclusion proof into a valid subtree is the RFC 6962 proof for the subtree's
    // leaves alone.
    verify_inclusion(index - start, end - start, leaf, proof, subtree_root)
}

/// Verifies that the subtree `[start, end)` with hash `subtree_root` is contained in the
/// tree of `size` with `root` (draft-ietf-plants-merkle-tree-certs 4.4.3).
///
/// The empty subtree (`start == end`) is accepted, with an empty proof, exactly when
/// `subtree_root` is the empty-tree hash and `end <= size`; it says nothing about `root`.
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    proof: &[Hash],
    subtree_root: &Hash,
    root: &Hash,
) -> Result<(), ProofError> {
    if start == end {
        if end > size {
            return Err(ProofError::SubtreeOutOfRange { end, size });
        }
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        return matches(subtree_root, &empty_root());
    }
    if !is_valid_subtree(start, end) {
        return Err(ProofError::InvalidSubtree { start, end });
    }
    if end > size {
        return Err(ProofError::SubtreeOutOfRange { end, size });
    }
    let want = subtree_consistency_proof_len(start, end, size).unwrap_or(0);
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let (mut fn_, mut sn, mut tn) = (start, end - 1, size - 1);
    if sn == tn {
        while fn_ != sn {
            fn_ >>= 1;
            sn >>= 1;
            tn >>= 1;
        }
    } else {
        while fn_ != sn && sn & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
            tn >>= 1;
        }
    }
    let mut rest = proof;
    let (mut fr, mut sr) = if fn_ == sn {
        (*subtree_root, *subtree_root)
    } else {
        match rest.split_first() {
            Some((first, tail)) => {
                rest = tail;
                (*first, *first)
            }
            None => return Err(ProofError::WrongProofLength { got: 0, want }),
        }
    };
    for c in rest {
        if tn == 0 {
            return Err(ProofError::RootMismatch);
        }
        if sn & 1 == 1 || sn == tn {
            if fn_ < sn {
                fr = node_hash(c, &fr);
            }
            sr = node_hash(c, &sr);
            while sn & 1 == 0 && sn != 0 {
                fn_ >>= 1;
                sn >>= 1;
                tn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
        tn >>= 1;
    }
    if tn != 0 {
        return Err(ProofError::RootMismatch);
    }
    matches(&fr, subtree_root)?;
    matches(&sr, root)
}

// ---------------------------------------------------------------------------------------
// Generic proof construction from a subtree-hash oracle (used for subtree proofs).

/// Builds PATH(index - lo, D[lo:hi]) with `mth(a, b)` returning MTH(D[a:b]).
pub(crate) fn path_with<E>(
    index: u64,
    mut lo: u64,
    mut hi: u64,
    mth: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut proof = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            proof.push(mth(lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(mth(lo, lo + k)?);
            lo += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Builds SUBTREE_PROOF(start, end, D_n) with `mth(a, b)` returning MTH(D[a:b]).
/// The caller checks that the subtree is valid and `end <= n`.
pub(crate) fn subtree_proof_with<E>(
    start: u64,
    end: u64,
    n: u64,
    mth: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    // Work in absolute coordinates: the current node is D[base:base+n].
    let (mut start, mut end, mut n, mut base, mut known) = (start, end, n, 0u64, true);
    let mut proof = Vec::new();
    loop {
        if start == 0 && end == n {
            if !known {
                proof.push(mth(base, base + n)?);
            }
            break;
        }
        let k = split_point(n);
        if end <= k {
            proof.push(mth(base + k, base + n)?);
            n = k;
        } else if start >= k {
            proof.push(mth(base, base + k)?);
            start -= k;
            end -= k;
            n -= k;
            base += k;
        } else {
            proof.push(mth(base, base + k)?);
            end -= k;
            n -= k;
            base += k;
            known = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Subtree inclusion proof for the leaf at `index` in the valid subtree `[start, end)`,
/// from stored hashes. `end` must not exceed the tree size the storage holds.
pub fn subtree_inclusion_proof(
    index: u64,
    start: u64,
    end: u64,
    r: &impl HashReader,
) -> Result<Vec<Hash>, TreeError> {
    if !is_valid_subtree(start, end) {
        return Err(TreeError::InvalidSubtree { start, end });
    }
    if index < start || index >= end {
        return Err(TreeError::IndexOutOfRange { index, size: end });
    }
    path_with(index, start, end, &mut |a, b| range_hash(a, b, r))
}

/// Subtree consistency proof for the valid subtree `[start, end)` in the tree of `size`,
/// from stored hashes.
pub fn subtree_consistency_proof(
    start: u64,
    end: u64,
    size: u64,
    r: &impl HashReader,
) -> Result<Vec<Hash>, TreeError> {
    if !is_valid_subtree(start, end) {
        return Err(TreeError::InvalidSubtree { start, end });
    }
    if end > size {
        return Err(TreeError::InvalidSizes {
            size1: end,
            size2: size,
        });
    }
    subtree_proof_with(start, end, size, &mut |a, b| range_hash(a, b, r))
}

// ---------------------------------------------------------------------------------------

/// An in-memory tree: keeps every leaf hash and every stored hash. For tests and small
/// tools; its proofs follow the recursive RFC 6962 definitions directly, so they serve as
/// an independent reference for the stored-hash and tile code paths.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    leaves: Vec<Hash>,
    stored: Vec<Hash>,
    frontier: Frontier,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends entry bytes (hashed with [`leaf_hash`]); returns the new leaf's index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Appends a leaf hash; returns the new leaf's index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.frontier.size();
        self.leaves.push(leaf);
        self.frontier.append(leaf, &mut self.stored);
        index
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// All leaf hashes.
    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.leaves
    }

    /// All stored hashes, in stored hash index order.
    pub fn stored_hashes(&self) -> &[Hash] {
        &self.stored
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    fn range(&self, lo: u64, hi: u64) -> Option<&[Hash]> {
        self.leaves
            .get(usize::try_from(lo).ok()?..usize::try_from(hi).ok()?)
    }

    /// MTH(D[lo:hi]) computed from the leaves (`None` when out of range or empty).
    pub fn range_hash(&self, lo: u64, hi: u64) -> Option<Hash> {
        if lo >= hi {
            return None;
        }
        Some(root_from_leaf_hashes(self.range(lo, hi)?))
    }

    /// Root hash of the tree's first `size` leaves.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size == 0 {
            return Some(empty_root());
        }
        self.range_hash(0, size)
    }

    fn mth(&self, lo: u64, hi: u64) -> Result<Hash, TreeError> {
        self.range_hash(lo, hi).ok_or(TreeError::IndexOutOfRange {
            index: hi,
            size: self.size(),
        })
    }

    /// PATH(index, D[0:size]) from RFC 6962 2.1.1.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        if index >= size || size > self.size() {
            return Err(TreeError::IndexOutOfRange { index, size });
        }
        path_with(index, 0, size, &mut |a, b| self.mth(a, b))
    }

    /// PROOF(size1, D[0:size2]) from RFC 6962 2.1.2.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, TreeError> {
        if size1 == 0 || size1 > size2 || size2 > self.size() {
            return Err(TreeError::InvalidSizes { size1, size2 });
        }
        // With start = 0, SUBTREE_PROOF is exactly PROOF.
        subtree_proof_with(0, size1, size2, &mut |a, b| self.mth(a, b))
    }

    /// Subtree inclusion proof (draft-ietf-plants-merkle-tree-certs 4.3.1).
    pub fn subtree_inclusion_proof(
        &self,
        index: u64,
        start: u64,
        end: u64,
    ) -> Result<Vec<Hash>, TreeError> {
        if !is_valid_subtree(start, end) || end > self.size() {
            return Err(TreeError::InvalidSubtree { start, end });
        }
        if index < start || index >= end {
            return Err(TreeError::IndexOutOfRange { index, size: end });
        }
        path_with(index, start, end, &mut |a, b| self.mth(a, b))
    }

    /// Subtree consistency proof (draft-ietf-plants-merkle-tree-certs 4.4.1).
    pub fn subtree_consistency_proof(
        &self,
        start: u64,
        end: u64,
        size: u64,
    ) -> Result<Vec<Hash>, TreeError> {
        if !is_valid_subtree(start, end) || end > size || size > self.size() {
            return Err(TreeError::InvalidSubtree { start, end });
        }
        subtree_proof_with(start, end, size, &mut |a, b| self.mth(a, b))
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.stored.read_hashes(indexes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_stored_hash_index_terminates_on_extreme_indexes() {
        // Found by the robustness test: this used to loop forever.
        for index in [u64::MAX, u64::MAX - 1, u64::MAX / 2, 1 << 63] {
            let (level, _) = split_stored_hash_index(index);
            assert!(level < 64);
        }
    }

    #[test]
    fn node_hash_matches_plain_sha256() {
        for i in 0..50u8 {
            let l = [i; HASH_SIZE];
            let r = [i.wrapping_mul(7) ^ 0x5a; HASH_SIZE];
            let mut buf = vec![1u8];
            buf.extend_from_slice(&l);
            buf.extend_from_slice(&r);
            let want: Hash = Sha256::digest(&buf).into();
            assert_eq!(node_hash(&l, &r), want);
        }
    }
}
