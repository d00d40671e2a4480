//! EdDSA-Poseidon verification in R1CS, the twin of [`crate::eddsa::PublicKey::verify`]:
//! `S < l` (from its 251 bits), `hm = Poseidon(R8, A, msg)` decomposed strictly (254 bits, below p),
//! and `Base8·S = R8 + 8·(hm·A)` when `enabled`.
//!
//! The key `A` is not checked here: in the block circuit it comes from a tree leaf, and keys enter
//! the tree only through checked paths. `R8` needs no check: the equation forces
//! `R8 = Base8·S − 8·hm·A`.

use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigUint;

use super::FrVar;
use super::babyjubjub::{PointVar, fixed_base_mul, limbs_of};
use super::poseidon::poseidon;
use crate::Fr;
use crate::babyjubjub::{BASE8, subgroup_order};

/// Bits of `S` (l < 2^251).
pub const S_BITS: usize = 251;

/// Allocates the bits of `S` (little-endian) as witnesses. Values of 2^251 or more cannot be
/// represented and are refused with `AssignmentMissing`.
pub fn alloc_s_bits(
    cs: ConstraintSystemRef<Fr>,
    s: Option<&BigUint>,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    if let Some(s) = s
        && s.bits() as usize > S_BITS
    {
        return Err(SynthesisError::AssignmentMissing);
    }
    (0..S_BITS)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                s.map(|s| s.bit(i as u64))
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect()
}

/// Enforces, when `enabled`, that `(r8, s_bits)` is a valid signature of `msg` under `a`.
pub fn verify(
    enabled: &Boolean<Fr>,
    a: &PointVar,
    r8: &PointVar,
    s_bits: &[Boolean<Fr>],
    msg: &FrVar,
) -> Result<(), SynthesisError> {
    assert_eq!(s_bits.len(), S_BITS);
    let l_minus_1 = subgroup_order() - 1u32;
    Boolean::enforce_smaller_or_equal_than_le(s_bits, limbs_of(&l_minus_1))?;
    let hm = poseidon(&[
        r8.x.clone(),
        r8.y.clone(),
        a.x.clone(),
        a.y.clone(),
        msg.clone(),
    ])?;
    let hm_bits = hm.to_bits_le()?;
    let left = fixed_base_mul(&BASE8, s_bits)?;
    let right = r8.add(&a.scalar_mul(&hm_bits)?.double()?.double()?.double()?)?;
    left.conditional_enforce_equal(&right, enabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::SecretKey;
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::UniformRand;
    use ark_std::rand::RngCore;

    fn run(
        secret: [u8; 32],
        msg: Fr,
        tamper: impl Fn(&mut crate::eddsa::Signature, &mut Fr),
    ) -> (bool, usize) {
        let sk = SecretKey(secret);
        let pk = sk.public_key();
        let mut sig = sk.sign(msg);
        let mut m = msg;
        tamper(&mut sig, &mut m);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let enabled = Boolean::new_witness(cs.clone(), || Ok(true)).expect("alloc");
        let a = PointVar::new_witness(cs.clone(), || Ok(pk.0)).expect("alloc");
        let r8 = PointVar::new_witness(cs.clone(), || Ok(sig.r8)).expect("alloc");
        let m = FrVar::new_witness(cs.clone(), || Ok(m)).expect("alloc");
        match alloc_s_bits(cs.clone(), Some(&sig.s)) {
            Ok(bits) => {
                verify(&enabled, &a, &r8, &bits, &m).expect("synthesize");
                (cs.is_satisfied().expect("check"), cs.num_constraints())
            }
            Err(_) => (false, 0),
        }
    }

    #[test]
    fn gadget_accepts_exactly_what_native_accepts() {
        let mut rng = ark_std::test_rng();
        for _ in 0..3 {
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            let msg = Fr::rand(&mut rng);
            let (ok, n) = run(secret, msg, |_, _| {});
            assert!(ok, "a valid signature must satisfy the gadget");
            assert!(n < 6_000, "EdDSA gadget uses {n} constraints");
            assert!(!run(secret, msg, |_, m| *m += Fr::from(1u64)).0, "message");
            assert!(!run(secret, msg, |s, _| s.s += 1u32).0, "S");
            assert!(!run(secret, msg, |s, _| s.s += subgroup_order()).0, "S + l");
            assert!(!run(secret, msg, |s, _| s.r8.x += Fr::from(1u64)).0, "R8");
        }
    }
}
