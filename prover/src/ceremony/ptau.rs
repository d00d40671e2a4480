//! snarkjs's Powers of Tau file (`.ptau`, binfile magic `ptau`, version 1), read-only: the header
//! (`n8`, q, power, ceremony power), τⁱ in G1 (section 2, `2·2^power − 1` points), β₂ (6), α₁ and
//! β₁ as the first points of sections 4 and 5, and the Lagrange-basis sections phase 2 needs
//! (12: τ G1, 13: τ G2, 14: ατ G1, 15: βτ G1; domain `2^k` starts at point `2^k − 1`), which
//! `snarkjs powersoftau prepare phase2` adds.

use std::collections::BTreeMap;

use ark_bn254::{G1Affine, G2Affine};
use ark_ff::{BigInteger, PrimeField};

use super::CeremonyError;
use super::compat::{G1_BYTES, G2_BYTES, g1_from_lem, g2_from_lem};
use super::zkey::parse_points;
use crate::circom;

/// A `.ptau` file over its bytes.
pub struct Ptau<'a> {
    /// `2^power` powers of τ.
    pub power: u32,
    sections: BTreeMap<u32, (usize, &'a [u8])>,
}

impl<'a> Ptau<'a> {
    /// Checks the file's header; sections are read on demand.
    pub fn read(data: &'a [u8]) -> Result<Self, CeremonyError> {
        let sections = circom::read_binfile(data, "ptau", 1..=1)?;
        let mut h = circom::section(&sections, 1)?;
        if h.u32("n8")? != 32 || h.take(32, "q")? != ark_bn254::Fq::MODULUS.to_bytes_le() {
            return Err(CeremonyError::Ptau("not a BN254 powers of tau file".into()));
        }
        let power = h.u32("power")?;
        let _ceremony_power = h.u32("ceremony power")?;
        circom::finished(&h, "ptau header")?;
        if power > 28 {
            return Err(CeremonyError::Ptau(format!(
                "power {power} is above BN254's 2^28"
            )));
        }
        if !sections.contains_key(&12) {
            return Err(CeremonyError::Ptau(
                "no Lagrange sections: run `snarkjs powersoftau prepare phase2` on it first".into(),
            ));
        }
        Ok(Self { power, sections })
    }

    fn range(
        &self,
        kind: u32,
        start: usize,
        count: usize,
        size: usize,
        what: &str,
    ) -> Result<&'a [u8], CeremonyError> {
        let &(_, data) = self
            .sections
            .get(&kind)
            .ok_or_else(|| CeremonyError::Ptau(format!("section {kind} ({what}) missing")))?;
        data.get(start * size..(start + count) * size)
            .ok_or_else(|| CeremonyError::Ptau(format!("{what}: the file holds too few points")))
    }

    /// `count` G1 points of section `kind` from point `start`.
    pub fn g1s(
        &self,
        kind: u32,
        start: usize,
        count: usize,
        what: &str,
    ) -> Result<Vec<G1Affine>, CeremonyError> {
        parse_points(
            self.range(kind, start, count, G1_BYTES, what)?,
            G1_BYTES,
            g1_from_lem,
            what,
        )
    }

    /// `count` G2 points of section `kind` from point `start`.
    pub fn g2s(
        &self,
        kind: u32,
        start: usize,
        count: usize,
        what: &str,
    ) -> Result<Vec<G2Affine>, CeremonyError> {
        parse_points(
            self.range(kind, start, count, G2_BYTES, what)?,
            G2_BYTES,
            g2_from_lem,
            what,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CircuitMatrices;
    use ark_bn254::Fr;

    fn file(power: u32, sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut header = 32u32.to_le_bytes().to_vec();
        header.extend_from_slice(&ark_bn254::Fq::MODULUS.to_bytes_le());
        header.extend_from_slice(&power.to_le_bytes());
        header.extend_from_slice(&power.to_le_bytes());
        let mut all = vec![(1, header)];
        all.extend_from_slice(sections);
        let mut out = Vec::new();
        circom::write_binfile(&mut out, b"ptau", 1, &all).expect("vec");
        out
    }

    #[test]
    fn refuses_unprepared_small_or_damaged_files() {
        // Not prepared for phase 2.
        let e = Ptau::read(&file(2, &[]))
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("prepare phase2"), "{e}");
        // Another curve's modulus.
        let mut other = file(2, &[(12, vec![])]);
        other[12 + 12 + 4] ^= 1;
        assert!(Ptau::read(&other).is_err());
        // Too small for the circuit: one constraint and one public input need 2^2 powers.
        let m = CircuitMatrices {
            matrices: vec![vec![vec![(Fr::from(1u64), 1)]]; 3],
            num_inputs: 2,
            num_witness: 0,
            num_constraints: 3,
        };
        let bytes = file(1, &[(12, vec![0; 64 * 3])]);
        let p = Ptau::read(&bytes).expect("header");
        let e = super::super::new_zkey(&m, &p)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("needs 2^3 powers"), "{e}");
        // Big enough by its header, but the Lagrange section is short.
        let bytes = file(3, &[(12, vec![0; 64 * 3])]);
        let p = Ptau::read(&bytes).expect("header");
        let e = super::super::new_zkey(&m, &p)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("too few points"), "{e}");
        // Truncations never panic.
        let bytes = file(3, &[(12, vec![0; 64 * 3])]);
        for len in 0..bytes.len() {
            assert!(Ptau::read(&bytes[..len]).is_err());
        }
    }
}
