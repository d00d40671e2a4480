//! Accounts and their leaf hash.
//!
//! Leaf = `Poseidon(pubkey.x, pubkey.y, balance, nonce)` (width 5); an empty leaf is 0.
//! Byte encoding (80 bytes): `x (32 LE) || y (32 LE) || balance (u64 LE) || nonce (u64 LE)`.

use thiserror::Error;

use crate::Fr;
use crate::babyjubjub::Point;
use crate::eddsa::PublicKey;
use crate::field::{FieldError, from_bytes_le, to_bytes_le};
use crate::poseidon;

/// Length of [`Account::to_bytes`].
pub const ACCOUNT_BYTES: usize = 80;

/// One account: a leaf of the state tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    /// The owner's EdDSA-Poseidon key.
    pub pubkey: PublicKey,
    /// Balance in base units.
    pub balance: u64,
    /// Number of transfers sent so far; the next transfer must carry this value.
    pub nonce: u64,
}

/// Errors decoding an account.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountError {
    /// Not [`ACCOUNT_BYTES`] long.
    #[error("an account is {ACCOUNT_BYTES} bytes, got {0}")]
    Length(usize),
    /// A coordinate is not a canonical field element.
    #[error("account key coordinate: {0}")]
    Field(#[from] FieldError),
    /// The key is not on the curve.
    #[error("account key is not on the curve")]
    NotOnCurve,
}

impl Account {
    /// A new account with nonce 0.
    pub fn new(pubkey: PublicKey, balance: u64) -> Self {
        Self {
            pubkey,
            balance,
            nonce: 0,
        }
    }

    /// The leaf hash.
    pub fn leaf(&self) -> Fr {
        poseidon::hash(&self.leaf_inputs()).expect("arity 4 exists")
    }

    /// The four leaf-hash inputs, in order.
    pub fn leaf_inputs(&self) -> [Fr; 4] {
        [
            self.pubkey.0.x,
            self.pubkey.0.y,
            Fr::from(self.balance),
            Fr::from(self.nonce),
        ]
    }

    /// The 80-byte encoding.
    pub fn to_bytes(&self) -> [u8; ACCOUNT_BYTES] {
        let mut out = [0u8; ACCOUNT_BYTES];
        out[..32].copy_from_slice(&to_bytes_le(&self.pubkey.0.x));
        out[32..64].copy_from_slice(&to_bytes_le(&self.pubkey.0.y));
        out[64..72].copy_from_slice(&self.balance.to_le_bytes());
        out[72..].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Decodes [`Account::to_bytes`], requiring canonical coordinates on the curve. (Subgroup
    /// membership is enforced when a key enters the tree, not on every read.)
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AccountError> {
        if bytes.len() != ACCOUNT_BYTES {
            return Err(AccountError::Length(bytes.len()));
        }
        let point =
            Point::new_unchecked(from_bytes_le(&bytes[..32])?, from_bytes_le(&bytes[32..64])?);
        if !point.is_on_curve() {
            return Err(AccountError::NotOnCurve);
        }
        let u = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        Ok(Self {
            pubkey: PublicKey(point),
            balance: u(&bytes[64..72]),
            nonce: u(&bytes[72..80]),
        })
    }
}
