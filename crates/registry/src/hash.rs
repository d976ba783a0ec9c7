//! SHA-256 Merkle hashes as RFC 6962 defines them (leaf prefix 0x00, node prefix 0x01).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A 32-byte SHA-256 hash: a leaf hash, a node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The root of the empty tree: SHA-256 of the empty string.
    pub fn empty() -> Hash {
        Hash(Sha256::digest([]).into())
    }

    /// The leaf hash of an entry: SHA-256(0x00 || entry).
    pub fn leaf(entry: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(entry);
        Hash(h.finalize().into())
    }

    /// The interior node hash: SHA-256(0x01 || left || right).
    pub fn node(left: &Hash, right: &Hash) -> Hash {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(left.0);
        h.update(right.0);
        Hash(h.finalize().into())
    }

    /// Standard base64, as used in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Parses standard base64 of exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Hash> {
        let bytes = B64
            .decode(s)
            .map_err(|e| Error::malformed("hash", format!("{s:?}: {e}")))?;
        Hash::from_slice(&bytes)
            .ok_or_else(|| Error::malformed("hash", format!("{s:?} is not 32 bytes")))
    }

    /// Copies 32 bytes; `None` when the length differs.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        <[u8; 32]>::try_from(bytes).ok().map(Hash)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// The root of a perfect tree over `hashes` (length a power of two, at least one).
pub(crate) fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    if hashes.len() == 1 {
        return hashes[0];
    }
    let mut level: Vec<Hash> = hashes.chunks(2).map(|p| Hash::node(&p[0], &p[1])).collect();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| Hash::node(&p[0], &p[1])).collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            Hash::empty().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn base64_round_trip_and_errors() {
        let h = Hash::leaf(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        assert!(Hash::from_base64("AAAA").is_err());
        assert!(Hash::from_base64("not base64!").is_err());
    }
}
