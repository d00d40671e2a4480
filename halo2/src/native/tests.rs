//! The chips against independent references (native Poseidon and circomlib's published vectors,
//! arkworks' curve arithmetic), and the gates' halo2 encoding against the direct rules
//! ([`Trace::check`]) on tampered traces.

use ark_ec::CurveGroup;
use ark_ff::{AdditiveGroup, Field, PrimeField, UniformRand};
use ark_std::rand::{Rng, SeedableRng, rngs::StdRng};
use num_bigint::BigUint;
use rustorium_circuits::Fr;
use rustorium_circuits::babyjubjub::{BASE8, Point, mul_uint, subgroup_order};
use rustorium_circuits::field::parse_field;
use rustorium_circuits::poseidon;

use super::builder::{Builder, Trace, Var};
use crate::mock_satisfied;

fn rng() -> StdRng {
    StdRng::seed_from_u64(21)
}

fn ok(t: &Trace) -> bool {
    let direct = t.check(&[]).is_ok();
    assert_eq!(direct, mock_satisfied(t, &[]), "MockProver disagrees");
    direct
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../tests/vectors/circomlib.json")).expect("json")
}

#[test]
fn poseidon_chip_matches_circomlibs_vectors_and_the_native_hash() {
    let v = vectors();
    let mut widths = std::collections::BTreeSet::new();
    for case in v["poseidon_circom_bn254"]["vectors"]
        .as_array()
        .expect("vectors")
    {
        let inputs: Vec<Fr> = case["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|x| parse_field(x.as_str().expect("string")).expect("canonical"))
            .collect();
        if !(2..=5).contains(&inputs.len()) {
            continue; // widths 3..=6 are laid out
        }
        let expected: Fr = parse_field(case["output"].as_str().expect("output")).expect("field");
        let mut b = Builder::new();
        let vars: Vec<Var> = inputs.iter().map(|x| b.witness(*x)).collect();
        let out = b.poseidon(&vars);
        assert_eq!(out.value, expected, "{inputs:?}");
        let t = b.finish();
        // MockProver once per width.
        if widths.insert(inputs.len()) {
            assert!(ok(&t));
        } else {
            assert!(t.check(&[]).is_ok());
        }
    }
    assert_eq!(widths.len(), 4, "a vector for each width 3..=6");
    let mut rng = rng();
    for n in 2..=5 {
        let inputs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        let mut b = Builder::new();
        let vars: Vec<Var> = inputs.iter().map(|x| b.witness(*x)).collect();
        let out = b.poseidon(&vars);
        assert_eq!(out.value, poseidon::hash(&inputs).expect("arity"));
        // The output is bound: claiming another value breaks the trace.
        let claimed = b.witness(out.value + Fr::ONE);
        b.equal(out, claimed);
        assert!(!ok(&b.finish()));
    }
}

fn range_trace(x: Fr) -> Trace {
    let mut b = Builder::new();
    let v = b.witness(x);
    b.range64(v);
    b.finish()
}

#[test]
fn range_lookup_is_exactly_64_bits() {
    let two64 = Fr::from(BigUint::from(1u8) << 64);
    assert!(ok(&range_trace(Fr::ZERO)));
    assert!(ok(&range_trace(Fr::from(u64::MAX))));
    assert!(ok(&range_trace(Fr::from(0x0123_4567_89ab_cdefu64))));
    assert!(!ok(&range_trace(two64)), "2^64");
    assert!(!ok(&range_trace(-Fr::ONE)), "p - 1");
    assert!(!ok(&range_trace(-Fr::from(5u64))));
    assert!(!ok(&range_trace(two64 * two64)), "2^128");
}

#[test]
fn bits_and_comparison_with_a_constant() {
    let c = subgroup_order() - 1u32;
    let check = |x: &BigUint, n: usize| {
        let mut b = Builder::new();
        let v = b.witness(Fr::from(x.clone()));
        let (bits, value) = b.bits(v.value, n);
        b.equal(value, v);
        b.leq_const(&bits, &c);
        ok(&b.finish())
    };
    assert!(check(&c, 251));
    assert!(check(&(c.clone() - 1u32), 251));
    assert!(check(&BigUint::from(0u8), 251));
    assert!(!check(&(c.clone() + 1u32), 251), "l");
    assert!(!check(&(c.clone() + 2u32), 253), "l + 1");
    // A value wider than the bits is not its decomposition.
    assert!(!check(&(BigUint::from(1u8) << 10), 10));
    // Little-endian bits.
    let mut b = Builder::new();
    let (bits, value) = b.bits(Fr::from(0b1011_0110_0111u64), 12);
    let got: Vec<u64> = bits
        .iter()
        .map(|v| if v.value == Fr::ONE { 1 } else { 0 })
        .collect();
    assert_eq!(got, vec![1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1]);
    assert_eq!(value.value, Fr::from(0b1011_0110_0111u64));
}

fn random_point(rng: &mut StdRng) -> Point {
    let k = BigUint::from(rng.r#gen::<u64>()) + 1u32;
    mul_uint(&BASE8, &k).into_affine()
}

#[test]
fn curve_chips_match_arkworks() {
    let mut rng = rng();
    let (p, q) = (random_point(&mut rng), random_point(&mut rng));
    let mut b = Builder::new();
    let (pv, qv) = (b.point(p), b.point(q));
    b.on_curve(pv);
    let sum = b.ec_add(pv, qv);
    assert_eq!((sum.x.value, sum.y.value), {
        let s = (p + q).into_affine();
        (s.x, s.y)
    });
    let dbl = b.ec_add(pv, pv);
    let d = (p + p).into_affine();
    assert_eq!((dbl.x.value, dbl.y.value), (d.x, d.y));
    let k = rustorium_circuits::babyjubjub::Scalar::rand(&mut rng);
    let kv = b.witness(Fr::from(k.into_bigint()));
    let (bits, _) = b.bits(kv.value, 251);
    let var = b.scalar_mul(&bits, pv);
    let expected = (p * k).into_affine();
    assert_eq!((var.x.value, var.y.value), (expected.x, expected.y));
    let fixed = b.fixed_base_mul(&bits, BASE8);
    let expected = (BASE8 * k).into_affine();
    assert_eq!((fixed.x.value, fixed.y.value), (expected.x, expected.y));
    assert!(ok(&b.finish()));

    let mut b = Builder::new();
    let off = b.point(Point::new_unchecked(Fr::from(3u64), Fr::from(4u64)));
    b.on_curve(off);
    assert!(!ok(&b.finish()), "an off-curve point");
}

/// A trace with every gate: the direct rules and halo2's MockProver must agree on it and on every
/// tampered copy of it.
fn every_gate() -> Trace {
    let mut rng = rng();
    let mut b = Builder::new();
    let x = b.witness(Fr::rand(&mut rng));
    let y = b.witness(Fr::from(77u64));
    let h = b.poseidon(&[x, y]);
    let h4 = b.poseidon(&[x, y, h]);
    b.range64(y);
    let bit = b.boolean(true);
    let (l, r) = b.swap(bit, x, h4);
    let s = b.lin(&[(Fr::from(3u64), l), (-Fr::ONE, r)], Fr::from(9u64));
    let m = b.mul(s, y);
    let (bits, value) = b.bits(Fr::from(45u64), 6);
    let claimed = b.witness(Fr::from(45u64));
    b.equal(value, claimed);
    let p = b.point(random_point(&mut rng));
    let q = b.scalar_mul(&bits, p);
    let out = b.ec_add(q, p);
    let _ = (m, out);
    b.finish()
}

#[test]
fn tampered_cells_fail_the_rules_and_the_mock_prover_alike() {
    let good = every_gate();
    assert!(ok(&good));
    let mut rng = rng();
    let mut caught = 0;
    for _ in 0..40 {
        let mut t = good.clone();
        let row = rng.gen_range(0..t.values.len());
        let col = rng.gen_range(0..super::builder::W);
        t.values[row][col] += Fr::ONE;
        if !ok(&t) {
            caught += 1;
        }
    }
    assert!(
        caught > 20,
        "only {caught} of 40 tampered cells broke a rule"
    );
}
