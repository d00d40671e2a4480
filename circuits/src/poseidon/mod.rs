//! circomlib-compatible Poseidon over any prime field, instantiated for BN254's scalar field.
//!
//! `hash(inputs)` uses width t = inputs + 1, state `[0, inputs...]`, 8 full rounds, circomlib's
//! partial rounds, S-box x^5, and returns `state[0]`. The optimized permutation (sparse partial-round
//! matrices, scalar partial-round constants) is the one in use; [`permute_plain`] is the textbook
//! reference it is tested against.

mod bn254;
mod grain;
mod spec;

use std::sync::OnceLock;

use ark_ff::PrimeField;
use thiserror::Error;

pub use spec::{FULL_ROUNDS, MAX_WIDTH, MIN_WIDTH, PARTIAL_ROUNDS, PoseidonSpec, partial_rounds};

/// Errors of the Poseidon functions.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoseidonError {
    /// The number of inputs is outside 1..=16.
    #[error("Poseidon takes 1 to 16 inputs, got {0}")]
    Arity(usize),
    /// A batch's flat input length is not a multiple of the arity, or the output slice is too short.
    #[error("batch of {inputs} inputs does not split into {outputs} hashes of arity {arity}")]
    BatchShape {
        /// Number of input elements.
        inputs: usize,
        /// Number of output slots.
        outputs: usize,
        /// Inputs per hash.
        arity: usize,
    },
}

/// A prime field with circomlib Poseidon instances: generated once per width and cached.
pub trait PoseidonField: PrimeField {
    /// The instance of width `t`, or `None` outside 2..=17.
    fn poseidon_spec(t: usize) -> Option<&'static PoseidonSpec<Self>>;

    /// The optimized permutation on a state of width `T` (`spec.t == T`). The default is the
    /// field-generic [`permute_generic`]; BN254's scalar field overrides it with arithmetic written
    /// for that field (inlined, lazily reduced rows), with identical results.
    #[inline]
    fn permute_width<const T: usize>(spec: &PoseidonSpec<Self>, state: &mut [Self; T]) {
        permute_generic(spec, state)
    }
}

impl PoseidonField for ark_bn254::Fr {
    fn poseidon_spec(t: usize) -> Option<&'static PoseidonSpec<Self>> {
        static SPECS: [OnceLock<PoseidonSpec<ark_bn254::Fr>>; MAX_WIDTH - MIN_WIDTH + 1] =
            [const { OnceLock::new() }; MAX_WIDTH - MIN_WIDTH + 1];
        let slot = SPECS.get(t.checked_sub(MIN_WIDTH)?)?;
        Some(slot.get_or_init(|| {
            PoseidonSpec::circom(t).expect("every width in 2..=17 has a circomlib instance")
        }))
    }

    #[inline]
    fn permute_width<const T: usize>(spec: &PoseidonSpec<Self>, state: &mut [Self; T]) {
        bn254::permute(spec, state)
    }
}

/// circomlib's `Poseidon(n)` of `inputs` (1..=16 elements).
pub fn hash<F: PoseidonField>(inputs: &[F]) -> Result<F, PoseidonError> {
    let spec = F::poseidon_spec(inputs.len() + 1).ok_or(PoseidonError::Arity(inputs.len()))?;
    Ok(hash_with(spec, inputs))
}

/// Poseidon of two elements (a Merkle node).
#[inline]
pub fn hash2<F: PoseidonField>(a: F, b: F) -> F {
    let spec = F::poseidon_spec(3).expect("width 3 exists");
    let mut s = [F::zero(), a, b];
    F::permute_width(spec, &mut s);
    s[0]
}

/// Poseidon of `inputs` with a given instance (`inputs.len()` must be `spec.t - 1`).
pub fn hash_with<F: PoseidonField>(spec: &PoseidonSpec<F>, inputs: &[F]) -> F {
    assert_eq!(
        inputs.len() + 1,
        spec.t,
        "arity does not match the instance"
    );
    let mut state = [F::zero(); MAX_WIDTH];
    state[1..spec.t].copy_from_slice(inputs);
    permute(spec, &mut state[..spec.t]);
    state[0]
}

/// Hashes `out.len()` independent messages laid out back to back in `inputs`, `arity` each,
/// sequentially. Backends parallelize the same contract.
pub fn hash_many<F: PoseidonField>(
    arity: usize,
    inputs: &[F],
    out: &mut [F],
) -> Result<(), PoseidonError> {
    let spec = F::poseidon_spec(arity + 1).ok_or(PoseidonError::Arity(arity))?;
    if inputs.len() != out.len() * arity {
        return Err(PoseidonError::BatchShape {
            inputs: inputs.len(),
            outputs: out.len(),
            arity,
        });
    }
    for (chunk, o) in inputs.chunks_exact(arity).zip(out.iter_mut()) {
        *o = hash_with(spec, chunk);
    }
    Ok(())
}

/// The optimized permutation on a state of width `spec.t`.
pub fn permute<F: PoseidonField>(spec: &PoseidonSpec<F>, state: &mut [F]) {
    macro_rules! dispatch {
        ($($t:literal),*) => {
            match state.len() {
                $($t => F::permute_width::<$t>(spec, state.try_into().expect("length checked")),)*
                n => panic!("state width {n} does not match a Poseidon instance"),
            }
        };
    }
    assert_eq!(
        state.len(),
        spec.t,
        "state width does not match the instance"
    );
    dispatch!(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)
}

#[inline(always)]
fn sbox<F: PrimeField>(x: &mut F) {
    let x2 = x.square();
    let x4 = x2.square();
    *x *= x4;
}

#[inline(always)]
fn full_round<F: PrimeField, const T: usize>(s: &mut [F; T], c: &[F], m: &[Vec<F>]) {
    for (x, c) in s.iter_mut().zip(c) {
        *x += c;
        sbox(x);
    }
    let old = *s;
    for (x, row) in s.iter_mut().zip(m) {
        let mut acc = old[0] * row[0];
        for j in 1..T {
            acc += old[j] * row[j];
        }
        *x = acc;
    }
}

/// The optimized permutation with arkworks' field arithmetic, for any prime field: the reference
/// the specialized BN254 path is tested against.
pub fn permute_generic<F: PrimeField, const T: usize>(spec: &PoseidonSpec<F>, s: &mut [F; T]) {
    let half = FULL_ROUNDS / 2;
    let rc = &spec.round_constants;
    let opt = &spec.opt;
    for r in 0..half {
        let m = if r == half - 1 {
            &opt.pre_partial
        } else {
            &spec.mds
        };
        full_round(s, &rc[r * T..(r + 1) * T], m);
    }
    for (c, sp) in opt.partial_constants.iter().zip(&opt.sparse) {
        s[0] += c;
        sbox(&mut s[0]);
        let x0 = s[0];
        let mut acc = x0 * sp.row[0];
        for (x, r) in s[1..].iter().zip(&sp.row[1..]) {
            acc += *x * r;
        }
        for (x, c) in s[1..].iter_mut().zip(&sp.col) {
            *x += x0 * c;
        }
        s[0] = acc;
    }
    for r in 0..half {
        full_round(s, &opt.post_constants[r * T..(r + 1) * T], &spec.mds);
    }
}

/// The textbook permutation: every round adds its constants, applies the S-box (to every element in
/// full rounds, to `state[0]` in partial rounds) and multiplies by the MDS matrix.
pub fn permute_plain<F: PrimeField>(spec: &PoseidonSpec<F>, state: &mut [F]) {
    let t = spec.t;
    assert_eq!(state.len(), t, "state width does not match the instance");
    let half = FULL_ROUNDS / 2;
    for r in 0..FULL_ROUNDS + spec.partial_rounds {
        for (x, c) in state
            .iter_mut()
            .zip(&spec.round_constants[r * t..(r + 1) * t])
        {
            *x += c;
        }
        if r < half || r >= half + spec.partial_rounds {
            state.iter_mut().for_each(sbox);
        } else {
            sbox(&mut state[0]);
        }
        let old = state.to_vec();
        for (x, row) in state.iter_mut().zip(&spec.mds) {
            *x = row.iter().zip(&old).map(|(m, v)| *m * v).sum();
        }
    }
}

/// Reference hash through [`permute_plain`].
pub fn hash_plain<F: PoseidonField>(inputs: &[F]) -> Result<F, PoseidonError> {
    let spec = F::poseidon_spec(inputs.len() + 1).ok_or(PoseidonError::Arity(inputs.len()))?;
    let mut state = vec![F::zero()];
    state.extend_from_slice(inputs);
    permute_plain(spec, &mut state);
    Ok(state[0])
}
