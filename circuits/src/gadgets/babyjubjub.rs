//! Baby Jubjub (circomlib form) in R1CS. The addition law is complete (a is a square, d is not),
//! so no input needs special-casing: addition 6 constraints, doubling 5, a 3-bit fixed-base window
//! 3 + an addition, a variable-base bit 13.

use ark_ec::CurveGroup;
use ark_ec::twisted_edwards::TECurveConfig;
use ark_ff::Field;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSystemRef, Namespace, SynthesisError};
use std::borrow::Borrow;

use super::FrVar;
use crate::Fr;
use crate::babyjubjub::{BabyJubjub, Point};

const A: Fr = <BabyJubjub as TECurveConfig>::COEFF_A;
const D: Fr = <BabyJubjub as TECurveConfig>::COEFF_D;

/// A curve point `(x, y)` in circomlib coordinates. Allocation does not check curve membership:
/// callers check it where the point is not already known to be on the curve.
#[derive(Clone, Debug)]
pub struct PointVar {
    /// x coordinate.
    pub x: FrVar,
    /// y coordinate.
    pub y: FrVar,
}

impl AllocVar<Point, Fr> for PointVar {
    fn new_variable<T: Borrow<Point>>(
        cs: impl Into<Namespace<Fr>>,
        f: impl FnOnce() -> Result<T, SynthesisError>,
        mode: AllocationMode,
    ) -> Result<Self, SynthesisError> {
        let ns = cs.into();
        let cs = ns.cs();
        let p = f().map(|p| *p.borrow());
        Ok(Self {
            x: FrVar::new_variable(cs.clone(), || p.map(|p| p.x), mode)?,
            y: FrVar::new_variable(cs, || p.map(|p| p.y), mode)?,
        })
    }
}

fn cs_of(vars: &[&FrVar]) -> ConstraintSystemRef<Fr> {
    vars.iter()
        .fold(ConstraintSystemRef::None, |acc, v| acc.or(v.cs()))
}

impl PointVar {
    /// A constant point.
    pub fn constant(p: Point) -> Self {
        Self {
            x: FrVar::constant(p.x),
            y: FrVar::constant(p.y),
        }
    }

    /// The identity `(0, 1)`.
    pub fn identity() -> Self {
        Self {
            x: FrVar::zero(),
            y: FrVar::one(),
        }
    }

    /// The point's value, when assigned.
    pub fn value(&self) -> Result<Point, SynthesisError> {
        Ok(Point::new_unchecked(self.x.value()?, self.y.value()?))
    }

    fn is_constant(&self) -> bool {
        self.x.is_constant() && self.y.is_constant()
    }

    /// Enforces `a x² + y² = 1 + d x² y²` (3 constraints).
    pub fn enforce_on_curve(&self) -> Result<(), SynthesisError> {
        let xx = self.x.square()?;
        let yy = self.y.square()?;
        let lhs = &xx * A + &yy - Fr::ONE;
        (&xx * D).mul_equals(&yy, &lhs)
    }

    /// `self + other` (6 constraints).
    pub fn add(&self, other: &Self) -> Result<Self, SynthesisError> {
        if self.is_constant() && other.is_constant() {
            let sum = (self.value()? + other.value()?).into_affine();
            return Ok(Self::constant(sum));
        }
        let cs = cs_of(&[&self.x, &self.y, &other.x, &other.y]);
        let beta = &self.x * &other.y;
        let gamma = &self.y * &other.x;
        let delta = (&self.y - &self.x * A) * (&other.x + &other.y);
        let tau = &beta * &gamma;
        let value = || -> Result<Point, SynthesisError> {
            Ok((self.value()? + other.value()?).into_affine())
        };
        let x3 = FrVar::new_witness(cs.clone(), || value().map(|p| p.x))?;
        let y3 = FrVar::new_witness(cs, || value().map(|p| p.y))?;
        x3.mul_equals(&(&tau * D + Fr::ONE), &(&beta + &gamma))?;
        y3.mul_equals(&(FrVar::one() - &tau * D), &(&delta + &beta * A - &gamma))?;
        Ok(Self { x: x3, y: y3 })
    }

    /// `2 · self` (5 constraints).
    pub fn double(&self) -> Result<Self, SynthesisError> {
        if self.is_constant() {
            let p = self.value()?;
            return Ok(Self::constant((p + p).into_affine()));
        }
        let cs = cs_of(&[&self.x, &self.y]);
        let xx = self.x.square()?;
        let yy = self.y.square()?;
        let xy = &self.x * &self.y;
        let value = || -> Result<Point, SynthesisError> {
            let p = self.value()?;
            Ok((p + p).into_affine())
        };
        let x3 = FrVar::new_witness(cs.clone(), || value().map(|p| p.x))?;
        let y3 = FrVar::new_witness(cs, || value().map(|p| p.y))?;
        let axx = &xx * A;
        x3.mul_equals(&(&axx + &yy), &(&xy + &xy))?;
        y3.mul_equals(
            &(FrVar::constant(Fr::from(2u64)) - &axx - &yy),
            &(&yy - &axx),
        )?;
        Ok(Self { x: x3, y: y3 })
    }

    /// `bit ? a : b` (2 constraints).
    pub fn select(bit: &Boolean<Fr>, a: &Self, b: &Self) -> Result<Self, SynthesisError> {
        Ok(Self {
            x: bit.select(&a.x, &b.x)?,
            y: bit.select(&a.y, &b.y)?,
        })
    }

    /// `[k] self` for `k` given by little-endian bits (double-and-add from the top bit).
    pub fn scalar_mul(&self, bits_le: &[Boolean<Fr>]) -> Result<Self, SynthesisError> {
        let mut acc = Self::identity();
        for bit in bits_le.iter().rev() {
            acc = acc.double()?;
            let added = acc.add(self)?;
            acc = Self::select(bit, &added, &acc)?;
        }
        Ok(acc)
    }

    /// Conditionally enforces equality with `other`.
    pub fn conditional_enforce_equal(
        &self,
        other: &Self,
        cond: &Boolean<Fr>,
    ) -> Result<(), SynthesisError> {
        self.x.conditional_enforce_equal(&other.x, cond)?;
        self.y.conditional_enforce_equal(&other.y, cond)
    }
}

/// `[k] base` for a constant `base` and `k` given by little-endian bits, with 3-bit windows over
/// precomputed constant tables: per window a lookup (3 constraints) and an addition.
pub fn fixed_base_mul(base: &Point, bits_le: &[Boolean<Fr>]) -> Result<PointVar, SynthesisError> {
    let mut acc: Option<PointVar> = None;
    let mut window_base = *base; // 8^i · base
    for chunk in bits_le.chunks(3) {
        let mut b = chunk.to_vec();
        b.resize(3, Boolean::FALSE);
        // table[k] = k · window_base
        let mut table = Vec::with_capacity(8);
        let mut p = Point::new_unchecked(Fr::from(0u64), Fr::ONE);
        for _ in 0..8 {
            table.push(p);
            p = (p + window_base).into_affine();
        }
        let b01 = &b[0] & &b[1];
        let lookup = |coord: &dyn Fn(&Point) -> Fr| -> Result<FrVar, SynthesisError> {
            let v: Vec<Fr> = table.iter().map(coord).collect();
            let lo = FrVar::constant(v[0])
                + FrVar::from(b[0].clone()) * (v[1] - v[0])
                + FrVar::from(b[1].clone()) * (v[2] - v[0])
                + FrVar::from(b01.clone()) * (v[3] - v[2] - v[1] + v[0]);
            let hi = FrVar::constant(v[4] - v[0])
                + FrVar::from(b[0].clone()) * (v[5] - v[4] - v[1] + v[0])
                + FrVar::from(b[1].clone()) * (v[6] - v[4] - v[2] + v[0])
                + FrVar::from(b01.clone())
                    * (v[7] - v[6] - v[5] + v[4] - v[3] + v[2] + v[1] - v[0]);
            Ok(lo + FrVar::from(b[2].clone()) * hi)
        };
        let point = PointVar {
            x: lookup(&|p: &Point| p.x)?,
            y: lookup(&|p: &Point| p.y)?,
        };
        acc = Some(match acc {
            None => point,
            Some(a) => a.add(&point)?,
        });
        for _ in 0..3 {
            window_base = (window_base + window_base).into_affine();
        }
    }
    Ok(acc.unwrap_or_else(PointVar::identity))
}

/// The 64-bit limbs (little-endian) of a constant, as `enforce_smaller_or_equal_than_le` takes it.
pub(crate) fn limbs_of(x: &num_bigint::BigUint) -> Vec<u64> {
    let mut limbs = x.to_u64_digits();
    if limbs.is_empty() {
        limbs.push(0);
    }
    limbs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::babyjubjub::{BASE8, Scalar};
    use ark_ff::{BigInteger, PrimeField};
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::UniformRand;

    fn random_point(rng: &mut impl ark_std::rand::Rng) -> Point {
        (BASE8 * Scalar::rand(rng)).into_affine()
    }

    #[test]
    fn add_double_and_muls_equal_native() {
        let mut rng = ark_std::test_rng();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let p = random_point(&mut rng);
        let q = random_point(&mut rng);
        let pv = PointVar::new_witness(cs.clone(), || Ok(p)).expect("alloc");
        let qv = PointVar::new_witness(cs.clone(), || Ok(q)).expect("alloc");
        let before = cs.num_constraints();
        assert_eq!(
            pv.add(&qv).expect("add").value().expect("v"),
            (p + q).into_affine()
        );
        assert_eq!(cs.num_constraints() - before, 6);
        let before = cs.num_constraints();
        assert_eq!(
            pv.double().expect("dbl").value().expect("v"),
            (p + p).into_affine()
        );
        assert_eq!(cs.num_constraints() - before, 5);
        // Identity and equal points go through the same formulas.
        let id = PointVar::new_witness(cs.clone(), || {
            Ok(Point::new_unchecked(Fr::from(0u64), Fr::ONE))
        })
        .expect("alloc");
        assert_eq!(pv.add(&id).expect("add").value().expect("v"), p);
        assert_eq!(
            pv.add(&pv).expect("add").value().expect("v"),
            (p + p).into_affine()
        );
        pv.enforce_on_curve().expect("on curve");

        let k = Scalar::rand(&mut rng);
        let kbits: Vec<bool> = k.into_bigint().to_bits_le();
        let bits: Vec<Boolean<Fr>> = kbits
            .iter()
            .map(|b| Boolean::new_witness(cs.clone(), || Ok(*b)))
            .collect::<Result<_, _>>()
            .expect("alloc");
        assert_eq!(
            pv.scalar_mul(&bits).expect("mul").value().expect("v"),
            (p * k).into_affine()
        );
        assert_eq!(
            fixed_base_mul(&BASE8, &bits)
                .expect("mul")
                .value()
                .expect("v"),
            (BASE8 * k).into_affine()
        );
        assert!(cs.is_satisfied().expect("check"));
    }

    #[test]
    fn an_off_curve_point_fails_the_curve_check() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let p = Point::new_unchecked(Fr::from(3u64), Fr::from(4u64));
        let pv = PointVar::new_witness(cs.clone(), || Ok(p)).expect("alloc");
        pv.enforce_on_curve().expect("synthesize");
        assert!(!cs.is_satisfied().expect("check"));
    }
}
