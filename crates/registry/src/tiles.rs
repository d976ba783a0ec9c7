//! C2SP tlog-tiles layout: tile paths, the in-memory right edge of the tree (one partial tile
//! per level), and appending leaves to it.

use crate::error::{Error, Result};
use crate::hash::{Hash, perfect_root};

/// Hashes in a full tile (and entries in a full bundle).
pub const TILE_WIDTH: u64 = 256;

/// Encodes a tile index as zero-padded 3-digit path elements, all but the last with an `x`
/// prefix: 1234067 becomes `x001/x234/067`.
pub fn encode_index(n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        parts.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

fn suffix(width: u64) -> String {
    if width == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// The path of hash tile `n` at tile level `level` with `width` hashes (256 = full).
pub fn tile_path(level: u8, n: u64, width: u64) -> String {
    format!("tile/{level}/{}{}", encode_index(n), suffix(width))
}

/// The path of entry bundle `n` with `width` entries (256 = full).
pub fn bundle_path(n: u64, width: u64) -> String {
    format!("tile/entries/{}{}", encode_index(n), suffix(width))
}

/// `256^level`, saturating (levels above 7 only matter for trees beyond 2^64).
pub(crate) fn pow256(level: u8) -> u64 {
    if level >= 8 {
        u64::MAX
    } else {
        1u64 << (8 * u32::from(level))
    }
}

/// The tiles (level, index, width) that exist for a tree of `size`: every full tile and, at
/// each level, the partial tile when it is not empty.
pub fn tile_partials(size: u64) -> Vec<(u8, u64, u64)> {
    let mut out = Vec::new();
    let mut level = 0u8;
    while level < 8 && size / pow256(level) > 0 {
        let count = size / pow256(level);
        let w = count % TILE_WIDTH;
        if w > 0 {
            out.push((level, count / TILE_WIDTH, w));
        }
        level += 1;
    }
    out
}

/// Splits tile bytes into hashes, checking the width.
pub(crate) fn parse_tile(path: &str, data: &[u8], width: u64) -> Result<Vec<Hash>> {
    if data.len() as u64 != width * 32 {
        return Err(Error::Inconsistent(format!(
            "tile {path} has {} bytes, expected {}",
            data.len(),
            width * 32
        )));
    }
    Ok(data
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().unwrap_or([0; 32])))
        .collect())
}

/// Concatenates hashes into tile bytes.
pub(crate) fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// Parses an entry bundle (big-endian u16 length-prefixed entries).
pub fn parse_bundle(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 2 {
            return Err(Error::malformed("entry bundle", "truncated length prefix"));
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() < 2 + len {
            return Err(Error::malformed(
                "entry bundle",
                format!("entry {} is truncated", out.len()),
            ));
        }
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
        if out.len() as u64 > TILE_WIDTH {
            return Err(Error::LimitExceeded {
                what: "entries in a bundle",
                limit: TILE_WIDTH,
            });
        }
    }
    Ok(out)
}

/// Serialises entries as a bundle.
pub(crate) fn bundle_bytes(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The right edge of the tree: for each tile level, the hashes of the partial tile. Together
/// they determine the root, and appending only ever touches them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edge {
    size: u64,
    partial: Vec<Vec<Hash>>,
}

/// A full tile completed while appending: write it, it never changes again.
#[derive(Debug, Clone)]
pub struct FullTile {
    /// Tile level.
    pub level: u8,
    /// Tile index.
    pub index: u64,
    /// Its 256 hashes.
    pub hashes: Vec<Hash>,
}

impl Edge {
    /// The edge of the empty tree.
    pub fn new() -> Self {
        Edge::default()
    }

    /// Rebuilds an edge from the partial tiles of a tree of `size` (as [`tile_partials`]
    /// lists them, in that order).
    pub fn from_partials(size: u64, partials: Vec<Vec<Hash>>) -> Result<Self> {
        let expected = tile_partials(size);
        let mut partial = Vec::new();
        let mut it = partials.into_iter();
        let mut level = 0u8;
        while level < 8 && size / pow256(level) > 0 {
            let w = (size / pow256(level)) % TILE_WIDTH;
            let hashes = if w > 0 {
                it.next().unwrap_or_default()
            } else {
                Vec::new()
            };
            if hashes.len() as u64 != w {
                return Err(Error::Inconsistent(format!(
                    "partial tile at level {level} has {} hashes, expected {w} (tiles {expected:?})",
                    hashes.len()
                )));
            }
            partial.push(hashes);
            level += 1;
        }
        Ok(Edge { size, partial })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The partial tile hashes at a level (empty when none).
    pub fn partial(&self, level: u8) -> &[Hash] {
        self.partial
            .get(usize::from(level))
            .map_or(&[], Vec::as_slice)
    }

    /// Appends one leaf hash; returns the full tiles it completed (lowest level first).
    pub fn push(&mut self, leaf: Hash, completed: &mut Vec<FullTile>) {
        self.size += 1;
        let mut carry = leaf;
        let mut level = 0usize;
        loop {
            if self.partial.len() <= level {
                self.partial.push(Vec::new());
            }
            self.partial[level].push(carry);
            if self.partial[level].len() as u64 == TILE_WIDTH {
                let hashes = std::mem::take(&mut self.partial[level]);
                carry = perfect_root(&hashes);
                let index = self.size / pow256(level as u8 + 1) - 1;
                completed.push(FullTile {
                    level: level as u8,
                    index,
                    hashes,
                });
                level += 1;
            } else {
                break;
            }
        }
    }

    /// The complete subtrees covering the tree, left to right, as (level, hash).
    fn peaks(&self) -> Vec<Hash> {
        let mut out = Vec::new();
        for (level, hashes) in self.partial.iter().enumerate().rev() {
            let _ = level;
            let mut off = 0usize;
            for bit in (0..8).rev() {
                let n = 1usize << bit;
                if hashes.len() & n != 0 {
                    out.push(perfect_root(&hashes[off..off + n]));
                    off += n;
                }
            }
        }
        out
    }

    /// The tree's root hash.
    pub fn root(&self) -> Hash {
        let peaks = self.peaks();
        let Some((last, rest)) = peaks.split_last() else {
            return Hash::empty();
        };
        rest.iter().rev().fold(*last, |acc, p| Hash::node(p, &acc))
    }

    /// The hash of a complete subtree if it lies within the right edge (a partial tile).
    pub(crate) fn subtree_in_partial(&self, level: u8, index: u64) -> Option<Hash> {
        let tl = level / 8;
        let k = level % 8;
        let hashes = self.partial.get(usize::from(tl))?;
        let first = index << k;
        let tile = first / TILE_WIDTH;
        if tile != (self.size / pow256(tl)) / TILE_WIDTH {
            return None;
        }
        let off = (first % TILE_WIDTH) as usize;
        let n = 1usize << k;
        hashes.get(off..off + n).map(perfect_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryTree;

    #[test]
    fn index_encoding_matches_the_spec() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(tile_path(0, 5, 256), "tile/0/005");
        assert_eq!(tile_path(1, 0, 17), "tile/1/000.p/17");
        assert_eq!(bundle_path(1_234_067, 3), "tile/entries/x001/x234/067.p/3");
    }

    #[test]
    fn partial_tiles_for_the_spec_example() {
        // "a tree of size 70,000 ... one partial level 0 tile of width 112, ... one partial level
        // 1 tile of width 17, and one partial level 2 tile of width 1."
        assert_eq!(
            tile_partials(70_000),
            vec![(0, 273, 112), (1, 1, 17), (2, 0, 1)]
        );
        assert_eq!(tile_partials(256), vec![(1, 0, 1)]);
        assert!(tile_partials(0).is_empty());
    }

    #[test]
    fn edge_root_matches_memory_tree() {
        let mut edge = Edge::new();
        let mut mem = MemoryTree::default();
        let mut done = Vec::new();
        for i in 0..70_000u32 {
            let h = Hash::leaf(&i.to_be_bytes());
            edge.push(h, &mut done);
            mem.push(h);
            if [1, 2, 255, 256, 257, 65_535, 65_536, 65_537, 70_000].contains(&(i + 1)) {
                assert_eq!(
                    edge.root(),
                    mem.root(u64::from(i) + 1).unwrap(),
                    "size {}",
                    i + 1
                );
            }
        }
        assert_eq!(done.iter().filter(|t| t.level == 0).count(), 273);
        assert_eq!(done.iter().filter(|t| t.level == 1).count(), 1);
    }

    #[test]
    fn bundles_round_trip_and_reject_truncation() {
        let e = vec![b"a".to_vec(), vec![], vec![7; 300]];
        let b = bundle_bytes(&e);
        assert_eq!(parse_bundle(&b).unwrap(), e);
        assert!(parse_bundle(&b[..b.len() - 1]).is_err());
        assert!(parse_bundle(&[0]).is_err());
    }
}
