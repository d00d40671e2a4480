//! The Grain LFSR of the Poseidon reference implementation (`generate_parameters_grain.sage`),
//! which circomlib used to generate its round constants and MDS matrices.
//!
//! The 80-bit register is seeded with the instance parameters (field type, S-box type, field size,
//! width, full and partial rounds, then 30 one-bits), clocked 160 times and discarded; afterwards bits
//! are produced in pairs and the second bit of a pair is kept only when the first is 1.

use ark_ff::{BigInteger, PrimeField};

/// Instance parameters that seed the register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GrainParams {
    /// 1 for a prime field.
    pub field: u32,
    /// 0 for the x^alpha S-box.
    pub sbox: u32,
    /// Field size in bits.
    pub field_bits: u32,
    /// State width t.
    pub width: u32,
    /// Number of full rounds.
    pub full_rounds: u32,
    /// Number of partial rounds.
    pub partial_rounds: u32,
}

/// The self-shrinking Grain LFSR.
pub(crate) struct Grain {
    /// Bit `i` of the register is the sage script's `bit_sequence[i]`.
    state: u128,
}

impl Grain {
    pub(crate) fn new(p: GrainParams) -> Self {
        let mut bits: Vec<bool> = Vec::with_capacity(80);
        let mut push = |value: u32, width: u32| {
            for i in (0..width).rev() {
                bits.push((value >> i) & 1 == 1);
            }
        };
        push(p.field, 2);
        push(p.sbox, 4);
        push(p.field_bits, 12);
        push(p.width, 12);
        push(p.full_rounds, 10);
        push(p.partial_rounds, 10);
        push(0x3fff_ffff, 30);
        let state = bits
            .iter()
            .enumerate()
            .fold(0u128, |acc, (i, &b)| acc | (u128::from(b) << i));
        let mut grain = Self { state };
        for _ in 0..160 {
            grain.clock();
        }
        grain
    }

    fn clock(&mut self) -> bool {
        let s = self.state;
        let new = ((s >> 62) ^ (s >> 51) ^ (s >> 38) ^ (s >> 23) ^ (s >> 13) ^ s) & 1;
        self.state = (s >> 1) | (new << 79);
        new == 1
    }

    fn next_bit(&mut self) -> bool {
        loop {
            let keep = self.clock();
            let bit = self.clock();
            if keep {
                return bit;
            }
        }
    }

    /// `n` bits, most significant first, as big-endian bytes.
    fn next_bytes_be(&mut self, n: u32) -> Vec<u8> {
        let len = n.div_ceil(8) as usize;
        let mut out = vec![0u8; len];
        for i in 0..n {
            if self.next_bit() {
                let pos = (n - 1 - i) as usize; // bit position counted from the least significant bit
                out[len - 1 - pos / 8] |= 1 << (pos % 8);
            }
        }
        out
    }

    /// A field element by rejection sampling (the script's round constants).
    pub(crate) fn next_field_rejecting<F: PrimeField>(&mut self) -> F {
        let modulus = F::MODULUS.to_bytes_be();
        loop {
            let bytes = self.next_bytes_be(F::MODULUS_BIT_SIZE);
            // Same length: both are ceil(bits / 8) bytes, so a lexicographic comparison is numeric.
            let padded = pad_be(&bytes, modulus.len());
            if padded < modulus {
                return F::from_be_bytes_mod_order(&bytes);
            }
        }
    }

    /// A field element reduced modulo p (the script's `F(grain_random_bits(n))` for the MDS matrix).
    pub(crate) fn next_field_reducing<F: PrimeField>(&mut self) -> F {
        F::from_be_bytes_mod_order(&self.next_bytes_be(F::MODULUS_BIT_SIZE))
    }
}

fn pad_be(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len.saturating_sub(bytes.len())];
    out.extend_from_slice(bytes);
    out
}
