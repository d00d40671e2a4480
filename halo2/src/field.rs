//! BN254's scalar field in both libraries: arkworks' `Fr` (the circuits, the state) and
//! halo2curves' `Fr` (halo2). Both store 32 little-endian bytes in canonical form, so conversion
//! is a byte copy, checked both ways by the tests against arithmetic in each library.

use ark_ff::{BigInteger, PrimeField};
use halo2curves::bn256::Fr as H2Fr;
use halo2curves::ff::PrimeField as _;
use rustorium_circuits::Fr;

/// arkworks → halo2curves. Every arkworks `Fr` is canonical, so this cannot fail.
pub fn to_halo2(x: &Fr) -> H2Fr {
    let mut repr = [0u8; 32];
    repr.copy_from_slice(&x.into_bigint().to_bytes_le());
    Option::from(H2Fr::from_repr(repr.into()))
        .expect("a canonical arkworks Fr is a canonical halo2 Fr")
}

/// halo2curves → arkworks.
pub fn to_ark(x: &H2Fr) -> Fr {
    Fr::from_le_bytes_mod_order(x.to_repr().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{Field, UniformRand};
    use ark_std::rand::SeedableRng;
    use halo2curves::ff::Field as _;

    #[test]
    fn conversion_preserves_field_arithmetic() {
        let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let (a, b) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
            let (ha, hb) = (to_halo2(&a), to_halo2(&b));
            assert_eq!(to_halo2(&(a * b)), ha * hb);
            assert_eq!(to_halo2(&(a + b)), ha + hb);
            assert_eq!(to_halo2(&(a - b)), ha - hb);
            assert_eq!(
                to_halo2(&a.inverse().expect("nonzero")),
                ha.invert().expect("nonzero")
            );
            assert_eq!(to_ark(&ha), a);
        }
        assert_eq!(to_halo2(&-Fr::from(1u64)), -H2Fr::ONE);
        assert_eq!(to_halo2(&Fr::from(5u64)), H2Fr::from(5u64));
    }
}
