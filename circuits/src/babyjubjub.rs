//! Baby Jubjub in circomlib's form: the twisted Edwards curve `a x^2 + y^2 = 1 + d x^2 y^2` with
//! `a = 168700`, `d = 168696` over BN254's scalar field, and circomlib's `Base8` as generator of the
//! prime-order subgroup (order `l`, cofactor 8).
//!
//! ark-ed-on-bn254 describes the same group in a rescaled form (`a = 1`), whose coordinates differ
//! from circomlib's; signatures and keys must be in circomlib's coordinates, so this module gives
//! arkworks' twisted Edwards arithmetic circomlib's parameters.

use ark_ec::CurveConfig;
use ark_ec::twisted_edwards::{Affine, MontCurveConfig, Projective, TECurveConfig};
use ark_ff::{Field, MontFp, PrimeField};
use ark_std::Zero;
use num_bigint::BigUint;
use thiserror::Error;

use crate::Fr;
use crate::field::{from_bytes_le, to_bytes_le};

/// The scalar field of the prime-order subgroup (integers modulo `l`).
pub type Scalar = ark_ed_on_bn254::Fr;

/// A point in circomlib's coordinates.
pub type Point = Affine<BabyJubjub>;

/// A point in projective coordinates.
pub type PointProjective = Projective<BabyJubjub>;

/// circomlib's Baby Jubjub parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BabyJubjub;

/// `Base8 = 8 * Generator`, circomlib's base point for keys and signatures.
pub const BASE8: Point = Point::new_unchecked(
    MontFp!("5299619240641551281634865583518297030282874472190772894086521144482721001553"),
    MontFp!("16950150798460657717958625567821834550301663161624707787222815936182638968203"),
);

impl CurveConfig for BabyJubjub {
    type BaseField = Fr;
    type ScalarField = Scalar;
    const COFACTOR: &'static [u64] = &[8];
    /// 8^-1 mod l.
    const COFACTOR_INV: Scalar =
        MontFp!("2394026564107420727433200628387514462817212225638746351800188703329891451411");
}

impl TECurveConfig for BabyJubjub {
    const COEFF_A: Fr = MontFp!("168700");
    const COEFF_D: Fr = MontFp!("168696");
    const GENERATOR: Point = BASE8;
    type MontCurveConfig = BabyJubjub;
}

impl MontCurveConfig for BabyJubjub {
    /// `2 (a + d) / (a - d)`.
    const COEFF_A: Fr = MontFp!("168698");
    /// `4 / (a - d)`.
    const COEFF_B: Fr = MontFp!("1");
    type TECurveConfig = BabyJubjub;
}

/// Errors decoding a packed point.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PointError {
    /// Not 32 bytes.
    #[error("a packed point is 32 bytes, got {0}")]
    Length(usize),
    /// The y coordinate is not below the field modulus.
    #[error("packed point has a non-canonical y coordinate")]
    NonCanonical,
    /// No point on the curve has this y coordinate (or the sign bit is set with x = 0).
    #[error("no curve point has this encoding")]
    NotOnCurve,
}

/// `(p - 1) / 2`: x coordinates above it are "negative" and set the sign bit.
fn half_modulus() -> BigUint {
    let p: BigUint = Fr::MODULUS.into();
    (p - 1u32) >> 1
}

fn is_negative(x: &Fr) -> bool {
    let v: BigUint = x.into_bigint().into();
    v > half_modulus()
}

/// circomlibjs's `packPoint`: y in 32 little-endian bytes, bit 255 set when x > (p - 1) / 2.
pub fn pack_point(p: &Point) -> [u8; 32] {
    let mut out = to_bytes_le(&p.y);
    if is_negative(&p.x) {
        out[31] |= 0x80;
    }
    out
}

/// circomlibjs's `unpackPoint`, with canonical y required and the result always on the curve.
pub fn unpack_point(bytes: &[u8]) -> Result<Point, PointError> {
    let mut buf: [u8; 32] = bytes
        .try_into()
        .map_err(|_| PointError::Length(bytes.len()))?;
    let negative = buf[31] & 0x80 != 0;
    buf[31] &= 0x7f;
    let y: Fr = from_bytes_le(&buf).map_err(|_| PointError::NonCanonical)?;
    // x^2 = (1 - y^2) / (a - d y^2)
    let y2 = y.square();
    let num = Fr::ONE - y2;
    let den = <BabyJubjub as TECurveConfig>::COEFF_A - <BabyJubjub as TECurveConfig>::COEFF_D * y2;
    let x2 = num * den.inverse().ok_or(PointError::NotOnCurve)?;
    let mut x = x2.sqrt().ok_or(PointError::NotOnCurve)?;
    if is_negative(&x) {
        x = -x;
    }
    if negative {
        if x.is_zero() {
            return Err(PointError::NotOnCurve);
        }
        x = -x;
    }
    let p = Point::new_unchecked(x, y);
    debug_assert!(p.is_on_curve());
    Ok(p)
}

/// `point * k` for an arbitrary-size non-negative integer `k` (not reduced modulo `l`).
pub fn mul_uint(point: &Point, k: &BigUint) -> PointProjective {
    let limbs = k.to_u64_digits();
    ark_ec::AffineRepr::mul_bigint(point, limbs)
}

/// A scalar's canonical integer.
pub fn scalar_to_uint(s: &Scalar) -> BigUint {
    s.into_bigint().into()
}

/// The subgroup order `l`.
pub fn subgroup_order() -> BigUint {
    Scalar::MODULUS.into()
}

/// Little-endian bytes of an integer below 2^256.
pub fn uint_to_le32(v: &BigUint) -> Option<[u8; 32]> {
    let bytes = v.to_bytes_le();
    (bytes.len() <= 32).then(|| {
        let mut out = [0u8; 32];
        out[..bytes.len()].copy_from_slice(&bytes);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_std::UniformRand;

    #[test]
    fn base8_is_on_the_curve_and_has_order_l() {
        assert!(BASE8.is_on_curve());
        assert!(BASE8.is_in_correct_subgroup_assuming_on_curve());
        assert!(!BASE8.is_zero());
        assert!(mul_uint(&BASE8, &subgroup_order()).into_affine().is_zero());
    }

    #[test]
    fn pack_unpack_round_trips_random_points() {
        let mut rng = ark_std::test_rng();
        for _ in 0..32 {
            let k = Scalar::rand(&mut rng);
            let p = (BASE8 * k).into_affine();
            assert_eq!(unpack_point(&pack_point(&p)), Ok(p));
            let n = -p;
            assert_eq!(unpack_point(&pack_point(&n)), Ok(n));
        }
    }

    #[test]
    fn unpack_rejects_bad_encodings() {
        assert_eq!(unpack_point(&[0u8; 31]), Err(PointError::Length(31)));
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        assert_eq!(unpack_point(&p), Err(PointError::NonCanonical));
        // y = 0 gives x^2 = 1 / a, which is not a square for Baby Jubjub? Search for a y with no point.
        let mut found = false;
        for y in 2u64..200 {
            let bytes = to_bytes_le(&Fr::from(y));
            if unpack_point(&bytes) == Err(PointError::NotOnCurve) {
                found = true;
                break;
            }
        }
        assert!(found, "some small y has no curve point");
    }
}
