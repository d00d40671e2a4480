//! Merkle paths in R1CS: the root reached from a leaf, its index bits and its siblings. One
//! constraint per level chooses the order of (node, sibling); the hash is Poseidon(2).

use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::SynthesisError;

use super::FrVar;
use super::poseidon::poseidon;
use crate::Fr;

/// The root from `leaf` at the index whose little-endian bits are `index_bits` (one per level),
/// equal to [`crate::merkle::root_from_path`].
pub fn root_from_path(
    leaf: &FrVar,
    index_bits: &[Boolean<Fr>],
    siblings: &[FrVar],
) -> Result<FrVar, SynthesisError> {
    assert_eq!(index_bits.len(), siblings.len(), "one index bit per level");
    let mut node = leaf.clone();
    for (bit, sib) in index_bits.iter().zip(siblings) {
        // bit = 1: node is the right child.
        let left = bit.select(sib, &node)?;
        let right = sib + &node - &left;
        node = poseidon(&[left, right])?;
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle;
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::UniformRand;
    use ark_std::rand::RngCore;

    #[test]
    fn gadget_equals_native_on_random_paths() {
        let mut rng = ark_std::test_rng();
        for depth in [1usize, 4, 8] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let leaf = Fr::rand(&mut rng);
            let index = rng.next_u64() & ((1 << depth) - 1);
            let sibs: Vec<Fr> = (0..depth).map(|_| Fr::rand(&mut rng)).collect();
            let leaf_var = FrVar::new_witness(cs.clone(), || Ok(leaf)).expect("alloc");
            let bits: Vec<Boolean<Fr>> = (0..depth)
                .map(|l| Boolean::new_witness(cs.clone(), || Ok((index >> l) & 1 == 1)))
                .collect::<Result<_, _>>()
                .expect("alloc");
            let sib_vars: Vec<FrVar> = sibs
                .iter()
                .map(|s| FrVar::new_witness(cs.clone(), || Ok(*s)))
                .collect::<Result<_, _>>()
                .expect("alloc");
            let root = root_from_path(&leaf_var, &bits, &sib_vars).expect("synthesize");
            assert_eq!(
                root.value().expect("value"),
                merkle::root_from_path(leaf, index, &sibs)
            );
            assert!(cs.is_satisfied().expect("check"));
        }
    }
}
