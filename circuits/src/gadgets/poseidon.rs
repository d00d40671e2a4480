//! circomlib Poseidon in R1CS. Only the S-boxes cost constraints (3 each: x², x⁴, x⁵); round
//! constants and the MDS layer are linear combinations. Width 3: 81 S-boxes, the first on the
//! constant capacity element, so 240 constraints.

use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::SynthesisError;

use super::FrVar;
use crate::Fr;
use crate::poseidon::{FULL_ROUNDS, PoseidonField};

fn sbox(x: &FrVar) -> Result<FrVar, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(&x4 * x)
}

/// `Poseidon(inputs)` in-circuit (1..=16 inputs), equal to [`crate::poseidon::hash`].
pub fn poseidon(inputs: &[FrVar]) -> Result<FrVar, SynthesisError> {
    // An arity outside 1..=16 is a bug in the circuit, reported as unsatisfiable.
    let spec = Fr::poseidon_spec(inputs.len() + 1).ok_or(SynthesisError::Unsatisfiable)?;
    let t = spec.t;
    let mut state: Vec<FrVar> = Vec::with_capacity(t);
    state.push(FrVar::zero());
    state.extend(inputs.iter().cloned());
    let half = FULL_ROUNDS / 2;
    for r in 0..FULL_ROUNDS + spec.partial_rounds {
        let full = r < half || r >= half + spec.partial_rounds;
        for (i, s) in state.iter_mut().enumerate() {
            *s += spec.round_constants[r * t + i];
            if full || i == 0 {
                *s = sbox(s)?;
            }
        }
        let next: Vec<FrVar> = spec
            .mds
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&state)
                    .fold(FrVar::zero(), |acc, (m, s)| acc + s * *m)
            })
            .collect();
        state = next;
    }
    Ok(state.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poseidon;
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::UniformRand;

    #[test]
    fn gadget_equals_native_on_random_inputs() {
        let mut rng = ark_std::test_rng();
        for arity in [1usize, 2, 4, 5] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let xs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
            let vars: Vec<FrVar> = xs
                .iter()
                .map(|x| FrVar::new_witness(cs.clone(), || Ok(*x)))
                .collect::<Result<_, _>>()
                .expect("alloc");
            let h = poseidon(&vars).expect("synthesize");
            assert_eq!(
                h.value().expect("value"),
                poseidon::hash(&xs).expect("arity")
            );
            assert!(cs.is_satisfied().expect("check"));
            let sboxes = 8 * (arity + 1) + poseidon::partial_rounds(arity + 1).expect("width");
            // The first S-box acts on the constant capacity element and costs nothing.
            assert_eq!(cs.num_constraints(), 3 * (sboxes - 1), "arity {arity}");
        }
    }
}
