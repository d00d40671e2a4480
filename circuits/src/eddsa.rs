//! EdDSA-Poseidon over Baby Jubjub, exactly as circomlibjs (`eddsa.js`, `signPoseidon`):
//!
//! - `h = BLAKE-512(secret)` (the SHA-3 finalist BLAKE, not BLAKE2b); `s` is `h[0..32]` pruned
//!   (`h[0] &= 0xf8; h[31] &= 0x7f; h[31] |= 0x40`) read little-endian;
//! - public key `A = Base8 * (s >> 3)`;
//! - nonce `r = BLAKE-512(h[32..64] || msg as 32 LE bytes) mod l`, `R8 = Base8 * r`;
//! - challenge `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`, `S = (r + hm * s) mod l`;
//! - valid iff `S < l`, `R8` and `A` are on the curve and in the prime-order subgroup, `A` is not
//!   the identity, and `Base8 * S == R8 + A * (8 * hm)`.
//!
//! circomlibjs checks only that the points are on the curve; the subgroup and identity checks here
//! are stricter and never reject a signature that circomlibjs produces.

use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use blake_hash::{Blake512, Digest};
use num_bigint::BigUint;
use thiserror::Error;

use crate::Fr;
use crate::babyjubjub::{
    BASE8, Point, PointError, Scalar, mul_uint, pack_point, scalar_to_uint, subgroup_order,
    uint_to_le32, unpack_point,
};
use crate::field::to_bytes_le;
use crate::poseidon;

/// Why a signature or key was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// A point is not on the curve.
    #[error("{0} is not on the Baby Jubjub curve")]
    NotOnCurve(&'static str),
    /// A point is on the curve but outside the prime-order subgroup.
    #[error("{0} is not in the prime-order subgroup")]
    NotInSubgroup(&'static str),
    /// The public key is the identity, for which anything verifies.
    #[error("the public key is the identity point")]
    IdentityKey,
    /// `S` is not below the subgroup order.
    #[error("signature scalar S is not below the subgroup order")]
    ScalarOutOfRange,
    /// The verification equation does not hold.
    #[error("signature does not match message and key")]
    Mismatch,
    /// A packed point or signature could not be decoded.
    #[error("malformed encoding: {0}")]
    Encoding(#[from] PointError),
    /// A packed signature is not 64 bytes.
    #[error("a packed signature is 64 bytes, got {0}")]
    Length(usize),
}

/// A 32-byte secret key. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A public key: a point of the prime-order subgroup, in circomlib's coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicKey(pub Point);

/// A signature `(R8, S)`. `s` is kept as the integer it was given as, so that out-of-range values
/// can be represented and refused by [`PublicKey::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The nonce point `R8`.
    pub r8: Point,
    /// The scalar `S` (valid only below the subgroup order).
    pub s: BigUint,
}

fn blake512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Blake512::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(&h.finalize());
    out
}

impl SecretKey {
    /// `h = BLAKE-512(secret)` with the first half pruned.
    fn expand(&self) -> [u8; 64] {
        let mut h = blake512(&[&self.0]);
        h[0] &= 0xf8;
        h[31] &= 0x7f;
        h[31] |= 0x40;
        h
    }

    /// The pruned scalar `s` (a multiple of 8 in [2^254, 2^255)).
    pub fn scalar(&self) -> BigUint {
        BigUint::from_bytes_le(&self.expand()[..32])
    }

    /// `A = Base8 * (s >> 3)`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(mul_uint(&BASE8, &(self.scalar() >> 3u32)).into_affine())
    }

    /// circomlibjs's `signPoseidon(secret, msg)`: deterministic.
    pub fn sign(&self, msg: Fr) -> Signature {
        let h = self.expand();
        let s = BigUint::from_bytes_le(&h[..32]);
        let a = mul_uint(&BASE8, &(&s >> 3u32)).into_affine();
        let r = Scalar::from_le_bytes_mod_order(&blake512(&[&h[32..], &to_bytes_le(&msg)]));
        let r8 = (BASE8 * r).into_affine();
        let hm = challenge(&r8, &a, msg);
        let hm_l = Scalar::from(BigUint::from(hm.into_bigint()));
        let s_l = Scalar::from(s);
        Signature {
            r8,
            s: scalar_to_uint(&(r + hm_l * s_l)),
        }
    }
}

/// `Poseidon(R8.x, R8.y, A.x, A.y, msg)`.
fn challenge(r8: &Point, a: &Point, msg: Fr) -> Fr {
    poseidon::hash(&[r8.x, r8.y, a.x, a.y, msg]).expect("arity 5 exists")
}

fn check_point(p: &Point, what: &'static str) -> Result<(), SignatureError> {
    if !p.is_on_curve() {
        return Err(SignatureError::NotOnCurve(what));
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(SignatureError::NotInSubgroup(what));
    }
    Ok(())
}

impl PublicKey {
    /// Checks that the key is on the curve, in the subgroup, and not the identity.
    pub fn validate(&self) -> Result<(), SignatureError> {
        check_point(&self.0, "public key")?;
        if self.0.is_zero() {
            return Err(SignatureError::IdentityKey);
        }
        Ok(())
    }

    /// Verifies `sig` on `msg` (circomlibjs's `verifyPoseidon`, with the stricter point checks).
    pub fn verify(&self, msg: Fr, sig: &Signature) -> Result<(), SignatureError> {
        self.validate()?;
        check_point(&sig.r8, "R8")?;
        if sig.s >= subgroup_order() {
            return Err(SignatureError::ScalarOutOfRange);
        }
        let hm = challenge(&sig.r8, &self.0, msg);
        let left = mul_uint(&BASE8, &sig.s);
        let hm8 = BigUint::from(hm.into_bigint()) << 3u32;
        let right = mul_uint(&self.0, &hm8) + sig.r8;
        if left == right {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// circomlibjs's `packPoint` of the key.
    pub fn pack(&self) -> [u8; 32] {
        pack_point(&self.0)
    }

    /// Decodes a packed key and validates it.
    pub fn unpack(bytes: &[u8]) -> Result<Self, SignatureError> {
        let key = Self(unpack_point(bytes)?);
        key.validate()?;
        Ok(key)
    }

    /// Builds a key from coordinates, validating it.
    pub fn from_xy(x: Fr, y: Fr) -> Result<Self, SignatureError> {
        let key = Self(Point::new_unchecked(x, y));
        key.validate()?;
        Ok(key)
    }
}

impl Signature {
    /// circomlibjs's `packSignature`: packed `R8` then `S` as 32 little-endian bytes. `None` if `S`
    /// does not fit in 32 bytes.
    pub fn pack(&self) -> Option<[u8; 64]> {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&pack_point(&self.r8));
        out[32..].copy_from_slice(&uint_to_le32(&self.s)?);
        Some(out)
    }

    /// circomlibjs's `unpackSignature`. `S` is not range-checked here; verification refuses it.
    pub fn unpack(bytes: &[u8]) -> Result<Self, SignatureError> {
        if bytes.len() != 64 {
            return Err(SignatureError::Length(bytes.len()));
        }
        Ok(Self {
            r8: unpack_point(&bytes[..32])?,
            s: BigUint::from_bytes_le(&bytes[32..]),
        })
    }
}
