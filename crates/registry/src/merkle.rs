//! RFC 6962 / RFC 9162 Merkle tree algorithms: tree hashes, inclusion and consistency proofs,
//! built over any source of complete-subtree hashes and verified without one.

use crate::error::{Error, Result};
use crate::hash::Hash;

/// The most proof hashes a tree of 2^64 leaves can need; longer proofs are hostile input.
pub const MAX_PROOF_HASHES: usize = 64;

/// Something that knows the hash of every complete, aligned subtree of a tree: the subtree of
/// `2^level` leaves starting at leaf `index * 2^level`.
pub trait SubtreeSource {
    /// The hash of that subtree. Only called for subtrees wholly inside the tree being proved.
    fn complete_subtree(&self, level: u8, index: u64) -> Result<Hash>;
}

/// Largest power of two strictly smaller than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[start : start + n]) for a subtree whose start is aligned the way RFC 6962's recursion
/// produces it.
pub(crate) fn subtree_hash(src: &dyn SubtreeSource, start: u64, n: u64) -> Result<Hash> {
    if n == 0 {
        return Ok(Hash::empty());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.complete_subtree(n.trailing_zeros() as u8, start / n);
    }
    let k = split_point(n);
    let left = subtree_hash(src, start, k)?;
    let right = subtree_hash(src, start + k, n - k)?;
    Ok(Hash::node(&left, &right))
}

/// The root hash of the tree of `size` leaves.
pub fn tree_hash(src: &dyn SubtreeSource, size: u64) -> Result<Hash> {
    subtree_hash(src, 0, size)
}

/// The inclusion proof (RFC 6962 PATH) of leaf `index` in the tree of `size` leaves, leaf's
/// sibling first.
pub fn inclusion_proof(src: &dyn SubtreeSource, index: u64, size: u64) -> Result<Vec<Hash>> {
    if index >= size {
        return Err(Error::OutOfRange(format!(
            "leaf {index} is not in a tree of size {size}"
        )));
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(out)
}

fn path(src: &dyn SubtreeSource, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) -> Result<()> {
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, start, k, out)?;
        out.push(subtree_hash(src, start + k, n - k)?);
    } else {
        path(src, m - k, start + k, n - k, out)?;
        out.push(subtree_hash(src, start, k)?);
    }
    Ok(())
}

/// The consistency proof (RFC 6962 PROOF) from the tree of `old` leaves to the tree of `new`.
/// Empty when `old` is 0 or equals `new`.
pub fn consistency_proof(src: &dyn SubtreeSource, old: u64, new: u64) -> Result<Vec<Hash>> {
    if old > new {
        return Err(Error::OutOfRange(format!(
            "old size {old} is larger than new size {new}"
        )));
    }
    let mut out = Vec::new();
    if old == 0 || old == new {
        return Ok(out);
    }
    subproof(src, old, 0, new, true, &mut out)?;
    Ok(out)
}

fn subproof(
    src: &dyn SubtreeSource,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<()> {
    if m == n {
        if !whole {
            out.push(subtree_hash(src, start, n)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, k, whole, out)?;
        out.push(subtree_hash(src, start + k, n - k)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(subtree_hash(src, start, k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    let fail = |why: &str| {
        Err(Error::BadProof(format!(
            "inclusion of leaf {index} in tree of size {size}: {why}"
        )))
    };
    if index >= size {
        return fail("index is outside the tree");
    }
    if proof.len() > MAX_PROOF_HASHES {
        return fail("proof is too long");
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return fail("proof is too long");
        }
        if f & 1 == 1 || f == s {
            r = Hash::node(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = Hash::node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return fail("proof is too short");
    }
    if r != *root {
        return fail("computed root does not match");
    }
    Ok(())
}

/// Verifies a consistency proof between two tree heads (RFC 9162 section 2.1.4.2). The empty
/// tree is consistent with every tree (with an empty proof).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<()> {
    let fail = |why: &str| {
        Err(Error::BadProof(format!(
            "consistency from size {old_size} to {new_size}: {why}"
        )))
    };
    if old_size > new_size {
        return fail("old size is larger than new size");
    }
    if proof.len() > MAX_PROOF_HASHES {
        return fail("proof is too long");
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return fail("proof from the empty tree must be empty");
        }
        if *old_root != Hash::empty() {
            return fail("old root is not the empty-tree hash");
        }
        return Ok(());
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return fail("proof between equal sizes must be empty");
        }
        if old_root != new_root {
            return fail("same size, different roots");
        }
        return Ok(());
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    if path.is_empty() {
        return fail("proof is empty");
    }
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return fail("proof is too long");
        }
        if f & 1 == 1 || f == s {
            fr = Hash::node(c, &fr);
            sr = Hash::node(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = Hash::node(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return fail("proof is too short");
    }
    if fr != *old_root {
        return fail("old root does not match");
    }
    if sr != *new_root {
        return fail("new root does not match");
    }
    Ok(())
}

/// An in-memory source over all leaf hashes; for tests, benchmarks and small trees.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    leaves: Vec<Hash>,
}

impl MemoryTree {
    /// A tree over these leaf hashes.
    pub fn new(leaves: Vec<Hash>) -> Self {
        MemoryTree { leaves }
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// True when there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The root over the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash> {
        tree_hash(self, size)
    }
}

impl SubtreeSource for MemoryTree {
    fn complete_subtree(&self, level: u8, index: u64) -> Result<Hash> {
        let start =
            usize::try_from(index << level).map_err(|_| Error::OutOfRange("subtree".into()))?;
        let end = start + (1usize << level);
        let slice = self
            .leaves
            .get(start..end)
            .ok_or_else(|| Error::OutOfRange(format!("subtree {level}/{index}")))?;
        Ok(crate::hash::perfect_root(slice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(n: usize) -> MemoryTree {
        MemoryTree::new((0..n).map(|i| Hash::leaf(&[i as u8])).collect())
    }

    /// Reference definition straight from RFC 6962 section 2.1, without any shortcut.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Hash::empty(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                Hash::node(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_rfc_definition() {
        for n in 0..70 {
            let t = tree(n);
            assert_eq!(t.root(n as u64).unwrap(), mth(&t.leaves), "n={n}");
        }
    }

    #[test]
    fn every_proof_verifies_for_small_trees() {
        let t = tree(40);
        for n in 1..=40u64 {
            let root = t.root(n).unwrap();
            for i in 0..n {
                let p = inclusion_proof(&t, i, n).unwrap();
                verify_inclusion(&t.leaves[i as usize], i, n, &p, &root).unwrap();
            }
            for m in 0..=n {
                let p = consistency_proof(&t, m, n).unwrap();
                verify_consistency(m, n, &t.root(m).unwrap(), &root, &p).unwrap();
            }
        }
    }

    #[test]
    fn wrong_inputs_fail() {
        let t = tree(7);
        let root = t.root(7).unwrap();
        let p = inclusion_proof(&t, 3, 7).unwrap();
        assert!(verify_inclusion(&t.leaves[3], 4, 7, &p, &root).is_err());
        assert!(verify_inclusion(&t.leaves[3], 3, 4, &p, &root).is_err());
        assert!(verify_inclusion(&t.leaves[3], 3, 7, &p[..2], &root).is_err());
        assert!(verify_inclusion(&t.leaves[3], 7, 7, &p, &root).is_err());
        let c = consistency_proof(&t, 3, 7).unwrap();
        assert!(verify_consistency(3, 7, &t.root(4).unwrap(), &root, &c).is_err());
        assert!(verify_consistency(8, 7, &root, &root, &c).is_err());
        assert!(inclusion_proof(&t, 7, 7).is_err());
    }
}
