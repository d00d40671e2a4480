//! The fixed-depth binary Poseidon Merkle tree: empty subtrees, paths, and account proofs.
//!
//! Levels count from the leaves (level 0) to the root (level `depth`). The node at level `l` on the
//! path of leaf `index` is `index >> l`; it is a right child when bit `l` of `index` is set.
//! `node = Poseidon(left, right)`. An empty leaf is 0 and an empty subtree of height `l` hashes to
//! `E[l]` with `E[0] = 0`, `E[l + 1] = Poseidon(E[l], E[l])`.

use thiserror::Error;

use crate::Fr;
use crate::account::{ACCOUNT_BYTES, Account, AccountError};
use crate::field::{FieldError, from_bytes_le, to_bytes_le};
use crate::poseidon::{self, PoseidonField};

/// Largest supported depth (indices are `u64`).
pub const MAX_DEPTH: usize = 64;

/// Errors of paths and proofs.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MerkleError {
    /// The depth is 0 or above [`MAX_DEPTH`].
    #[error("tree depth must be 1..={MAX_DEPTH}, got {0}")]
    Depth(usize),
    /// The index does not fit in the tree.
    #[error("index {index} does not fit in a tree of depth {depth}")]
    Index {
        /// The index.
        index: u64,
        /// The depth.
        depth: usize,
    },
    /// The number of siblings does not match the bitmap or the depth.
    #[error("proof has {got} siblings, bitmap says {expected}")]
    SiblingCount {
        /// Count implied by the bitmap.
        expected: usize,
        /// Count present.
        got: usize,
    },
    /// The bitmap marks levels at or above the depth.
    #[error("proof bitmap marks levels above the tree depth")]
    Bitmap,
    /// The recomputed root differs from the trusted one.
    #[error("proof does not lead to the trusted root")]
    RootMismatch,
    /// The byte encoding is malformed (length, version or flags).
    #[error("malformed proof encoding: {0}")]
    Encoding(String),
    /// A sibling or key coordinate is not canonical.
    #[error("proof field element: {0}")]
    Field(#[from] FieldError),
    /// The account bytes are invalid.
    #[error("proof account: {0}")]
    Account(#[from] AccountError),
}

/// `E[0..=depth]`, the hashes of empty subtrees by height.
pub fn empty_hashes<F: PoseidonField>(depth: usize) -> Vec<F> {
    let mut e = Vec::with_capacity(depth + 1);
    e.push(F::zero());
    for l in 0..depth {
        let h = poseidon::hash2(e[l], e[l]);
        e.push(h);
    }
    e
}

fn check_shape(depth: usize, index: u64) -> Result<(), MerkleError> {
    if depth == 0 || depth > MAX_DEPTH {
        return Err(MerkleError::Depth(depth));
    }
    if depth < 64 && index >> depth != 0 {
        return Err(MerkleError::Index { index, depth });
    }
    Ok(())
}

/// The root reached from `leaf` at `index` with the full sibling list (leaf level first).
pub fn root_from_path<F: PoseidonField>(leaf: F, index: u64, siblings: &[F]) -> F {
    siblings.iter().enumerate().fold(leaf, |node, (l, sib)| {
        if (index >> l) & 1 == 1 {
            poseidon::hash2(*sib, node)
        } else {
            poseidon::hash2(node, *sib)
        }
    })
}

/// A sibling list with empty subtrees left out: bit `l` of `bitmap` is set when the level-`l`
/// sibling is not `E[l]`, and `siblings` holds those siblings, lowest level first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressedPath<F> {
    /// Which levels have a non-empty sibling.
    pub bitmap: u64,
    /// The non-empty siblings.
    pub siblings: Vec<F>,
}

impl<F: PoseidonField> CompressedPath<F> {
    /// Compresses a full sibling list.
    pub fn compress(full: &[F], empty: &[F]) -> Self {
        let mut bitmap = 0u64;
        let mut siblings = Vec::new();
        for (l, s) in full.iter().enumerate() {
            if *s != empty[l] {
                bitmap |= 1 << l;
                siblings.push(*s);
            }
        }
        Self { bitmap, siblings }
    }

    /// Expands to the full sibling list of a tree of `depth`.
    pub fn expand(&self, depth: usize, empty: &[F]) -> Result<Vec<F>, MerkleError> {
        if depth < 64 && self.bitmap >> depth != 0 {
            return Err(MerkleError::Bitmap);
        }
        let expected = self.bitmap.count_ones() as usize;
        if expected != self.siblings.len() {
            return Err(MerkleError::SiblingCount {
                expected,
                got: self.siblings.len(),
            });
        }
        let mut it = self.siblings.iter();
        Ok((0..depth)
            .map(|l| {
                if self.bitmap >> l & 1 == 1 {
                    *it.next().expect("count checked")
                } else {
                    empty[l]
                }
            })
            .collect())
    }
}

/// Proof that leaf `index` holds `account` (inclusion) or is empty (exclusion) under a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    /// Tree depth.
    pub depth: u8,
    /// Leaf index.
    pub index: u64,
    /// The account, or `None` for an empty leaf.
    pub account: Option<Account>,
    /// Siblings with empty subtrees left out.
    pub path: CompressedPath<Fr>,
}

/// Version byte of the account-proof encoding.
pub const PROOF_VERSION: u8 = 1;

impl AccountProof {
    /// Recomputes the root and compares it with `root`.
    pub fn verify(&self, root: Fr) -> Result<(), MerkleError> {
        let depth = self.depth as usize;
        check_shape(depth, self.index)?;
        let empty = empty_hashes::<Fr>(depth);
        let full = self.path.expand(depth, &empty)?;
        let leaf = self.account.map_or(Fr::from(0u64), |a| a.leaf());
        if root_from_path(leaf, self.index, &full) == root {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        }
    }

    /// Binary encoding:
    /// `version (1) || depth (1) || index (u64 LE) || has_account (1: 0 | 1) || account (80, if 1) ||
    /// bitmap (ceil(depth / 8) bytes, LE) || siblings (32 bytes LE each)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![PROOF_VERSION, self.depth];
        out.extend_from_slice(&self.index.to_le_bytes());
        match &self.account {
            Some(a) => {
                out.push(1);
                out.extend_from_slice(&a.to_bytes());
            }
            None => out.push(0),
        }
        let bitmap_len = (self.depth as usize).div_ceil(8);
        out.extend_from_slice(&self.path.bitmap.to_le_bytes()[..bitmap_len]);
        for s in &self.path.siblings {
            out.extend_from_slice(&to_bytes_le(s));
        }
        out
    }

    /// Decodes [`AccountProof::encode`], refusing anything malformed or non-canonical.
    pub fn decode(bytes: &[u8]) -> Result<Self, MerkleError> {
        let bad = |m: &str| MerkleError::Encoding(m.to_string());
        if bytes.len() < 11 {
            return Err(bad("too short"));
        }
        if bytes[0] != PROOF_VERSION {
            return Err(bad("unknown version"));
        }
        let depth = bytes[1] as usize;
        let index = u64::from_le_bytes(bytes[2..10].try_into().expect("8 bytes"));
        check_shape(depth, index)?;
        let mut at = 11;
        let account = match bytes[10] {
            0 => None,
            1 => {
                let a = bytes
                    .get(at..at + ACCOUNT_BYTES)
                    .ok_or_else(|| bad("truncated account"))?;
                at += ACCOUNT_BYTES;
                Some(Account::from_bytes(a)?)
            }
            _ => return Err(bad("account flag must be 0 or 1")),
        };
        let bitmap_len = depth.div_ceil(8);
        let bm = bytes
            .get(at..at + bitmap_len)
            .ok_or_else(|| bad("truncated bitmap"))?;
        at += bitmap_len;
        let mut b = [0u8; 8];
        b[..bitmap_len].copy_from_slice(bm);
        let bitmap = u64::from_le_bytes(b);
        if depth < 64 && bitmap >> depth != 0 {
            return Err(MerkleError::Bitmap);
        }
        let rest = &bytes[at..];
        let count = bitmap.count_ones() as usize;
        if rest.len() != count * 32 {
            return Err(MerkleError::SiblingCount {
                expected: count,
                got: rest.len() / 32,
            });
        }
        let siblings = rest
            .chunks_exact(32)
            .map(from_bytes_le)
            .collect::<Result<Vec<Fr>, _>>()?;
        Ok(Self {
            depth: depth as u8,
            index,
            account,
            path: CompressedPath { bitmap, siblings },
        })
    }
}
