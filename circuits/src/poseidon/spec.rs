//! Poseidon instance parameters: circomlib's round numbers, constants from the reference Grain
//! generator, and the derived constants of the optimized permutation.

use ark_ff::PrimeField;

use super::grain::{Grain, GrainParams};

/// Full rounds for every width (4 before and 4 after the partial rounds).
pub const FULL_ROUNDS: usize = 8;

/// Smallest supported width (one input).
pub const MIN_WIDTH: usize = 2;

/// Largest supported width (sixteen inputs).
pub const MAX_WIDTH: usize = 17;

/// circomlib's partial rounds for t = 2..=17 (`poseidon.circom`, `N_ROUNDS_P`).
pub const PARTIAL_ROUNDS: [usize; 16] = [
    56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68,
];

/// Partial rounds for width `t`, or `None` outside 2..=17.
pub fn partial_rounds(t: usize) -> Option<usize> {
    (MIN_WIDTH..=MAX_WIDTH)
        .contains(&t)
        .then(|| PARTIAL_ROUNDS[t - MIN_WIDTH])
}

/// The parameters of one Poseidon instance (one width over one field), with both the plain
/// constants (as published by circomlib) and the derived constants of the optimized permutation.
#[derive(Clone, Debug)]
pub struct PoseidonSpec<F: PrimeField> {
    /// State width t = inputs + 1.
    pub t: usize,
    /// Number of partial rounds.
    pub partial_rounds: usize,
    /// Round constants, `(8 + partial_rounds) * t` of them, round by round.
    pub round_constants: Vec<F>,
    /// The MDS matrix, row-major: `new[i] = sum_j mds[i][j] * old[j]`.
    pub mds: Vec<Vec<F>>,
    pub(crate) opt: Optimized<F>,
}

/// A partial-round matrix of the form `[[a, v^T], [w, I]]`: a dense first row and first column,
/// identity elsewhere, so applying it costs 2t - 1 multiplications instead of t^2.
#[derive(Clone, Debug)]
pub(crate) struct SparseMatrix<F> {
    /// The first row: `a` then `v` (t entries).
    pub row: Vec<F>,
    /// The first column below the diagonal: `w` (t - 1 entries).
    pub col: Vec<F>,
}

/// Constants of the optimized permutation. See `derive_optimized` for the derivation.
#[derive(Clone, Debug)]
pub(crate) struct Optimized<F> {
    /// Matrix of the last full round before the partial rounds: `diag(1, B_0) * M`.
    pub pre_partial: Vec<Vec<F>>,
    /// One scalar constant per partial round, added to state[0].
    pub partial_constants: Vec<F>,
    /// One sparse matrix per partial round.
    pub sparse: Vec<SparseMatrix<F>>,
    /// Constants of the full rounds after the partial rounds (4 * t); the first round's constants
    /// absorb what the partial rounds pushed forward.
    pub post_constants: Vec<F>,
    /// The partial rounds' constants contiguous, 2t per round: the scalar constant, the sparse
    /// matrix's first row (t), its first column (t − 1). The same values as `partial_constants`
    /// and `sparse`, laid out for the scalar path's loop.
    pub partial_flat: Vec<F>,
}

impl<F: PrimeField> PoseidonSpec<F> {
    /// Generates circomlib's instance for width `t` (x^5 S-box, 8 full rounds, circomlib's partial
    /// rounds) with the Grain LFSR exactly as `generate_parameters_grain.sage` does:
    /// round constants first (rejection sampled), then the Cauchy MDS matrix
    /// `M[i][j] = 1 / (x_i + y_j)` from 2t further (reduced) field elements.
    ///
    /// Returns `None` when `t` is outside 2..=17.
    pub fn circom(t: usize) -> Option<Self> {
        let partial_rounds = partial_rounds(t)?;
        let mut grain = Grain::new(GrainParams {
            field: 1,
            sbox: 0,
            field_bits: F::MODULUS_BIT_SIZE,
            width: t as u32,
            full_rounds: FULL_ROUNDS as u32,
            partial_rounds: partial_rounds as u32,
        });
        let round_constants: Vec<F> = (0..(FULL_ROUNDS + partial_rounds) * t)
            .map(|_| grain.next_field_rejecting())
            .collect();
        let mds = loop {
            let xy: Vec<F> = (0..2 * t).map(|_| grain.next_field_reducing()).collect();
            if let Some(m) = cauchy(&xy[..t], &xy[t..]) {
                break m;
            }
        };
        let opt = derive_optimized(t, partial_rounds, &round_constants, &mds)?;
        Some(Self {
            t,
            partial_rounds,
            round_constants,
            mds,
            opt,
        })
    }

    /// The optimized permutation's constants in one flat array, the layout GPU kernels read
    /// (accel/kernels/cuda/poseidon.cuh, accel/kernels/wgsl): first-half round constants (4t), the pre-partial
    /// matrix (t×t, row-major), the MDS matrix (t×t), the partial-round constants (RP), the sparse
    /// matrices' first rows (RP×t), their first columns below the diagonal (RP×(t−1)), the
    /// second-half round constants (4t).
    pub fn flat_optimized(&self) -> Vec<F> {
        let t = self.t;
        let o = &self.opt;
        let mut out = Vec::new();
        out.extend_from_slice(&self.round_constants[..4 * t]);
        out.extend(o.pre_partial.iter().flatten().copied());
        out.extend(self.mds.iter().flatten().copied());
        out.extend_from_slice(&o.partial_constants);
        out.extend(o.sparse.iter().flat_map(|m| m.row.iter().copied()));
        out.extend(o.sparse.iter().flat_map(|m| m.col.iter().copied()));
        out.extend_from_slice(&o.post_constants);
        out
    }

    /// Number of inputs this instance absorbs (t - 1).
    pub fn arity(&self) -> usize {
        self.t - 1
    }
}

/// The Cauchy matrix `1 / (x_i + y_j)`, or `None` if the 2t values are not distinct or a sum is zero
/// (the script then draws again).
fn cauchy<F: PrimeField>(xs: &[F], ys: &[F]) -> Option<Vec<Vec<F>>> {
    let all: Vec<&F> = xs.iter().chain(ys).collect();
    for (i, a) in all.iter().enumerate() {
        if all[i + 1..].contains(a) {
            return None;
        }
    }
    xs.iter()
        .map(|x| ys.iter().map(|y| (*x + y).inverse()).collect())
        .collect()
}

/// Derives the optimized permutation. The partial rounds are `x <- M * S0(x + c_r)` where `S0`
/// raises only `x[0]` to the fifth power.
///
/// 1. Constants move forward: `S0(x + c) = S0(x + c[0] e0) + (0, c[1..])` because `S0` leaves
///    the other coordinates alone, so `M * (0, c[1..])` is added to the next round's constants. Each
///    partial round keeps a single scalar constant; the remainder lands in the first full round after
///    the partial rounds.
/// 2. Matrices move backward: any `A` with invertible lower-right block `A11` factors as
///    `A = S * diag(1, A11)` with sparse `S = [[a00, a01^T A11^-1], [a10, I]]`. `diag(1, B)`
///    commutes with `S0` and with adding a multiple of `e0`, so it moves into the previous round's
///    matrix. Starting from the last partial round, each round's matrix is `diag(1, B_{r+1}) * M`,
///    and the last full round before the partial rounds multiplies by `diag(1, B_0) * M`.
fn derive_optimized<F: PrimeField>(
    t: usize,
    partial_rounds: usize,
    rc: &[F],
    mds: &[Vec<F>],
) -> Option<Optimized<F>> {
    let half = FULL_ROUNDS / 2;
    // Step 1: constants.
    let mut carry = vec![F::zero(); t];
    let mut partial_constants = Vec::with_capacity(partial_rounds);
    for r in 0..partial_rounds {
        let round = &rc[(half + r) * t..(half + r + 1) * t];
        let mut c: Vec<F> = round.iter().zip(&carry).map(|(a, b)| *a + b).collect();
        partial_constants.push(c[0]);
        c[0] = F::zero();
        carry = mat_vec(mds, &c);
    }
    let mut post_constants = rc[(half + partial_rounds) * t..].to_vec();
    for (p, c) in post_constants.iter_mut().zip(&carry) {
        *p += c;
    }
    // Step 2: matrices.
    let mut sparse = Vec::with_capacity(partial_rounds);
    let mut a = mds.to_vec();
    for _ in 0..partial_rounds {
        let a11: Vec<Vec<F>> = a[1..].iter().map(|row| row[1..].to_vec()).collect();
        let a11_inv = invert(&a11)?;
        // v^T = a01^T * A11^-1
        let v: Vec<F> = (0..t - 1)
            .map(|j| (0..t - 1).map(|k| a[0][k + 1] * a11_inv[k][j]).sum())
            .collect();
        let mut row = vec![a[0][0]];
        row.extend(v);
        let col = a[1..].iter().map(|r| r[0]).collect();
        sparse.push(SparseMatrix { row, col });
        // Next (earlier) round's matrix: diag(1, A11) * M.
        let mut next = mds.to_vec();
        for i in 1..t {
            for j in 0..t {
                next[i][j] = (1..t).map(|k| a11[i - 1][k - 1] * mds[k][j]).sum();
            }
        }
        a = next;
    }
    sparse.reverse();
    let partial_flat = partial_constants
        .iter()
        .zip(&sparse)
        .flat_map(|(c, m)| std::iter::once(c).chain(&m.row).chain(&m.col).copied())
        .collect();
    Some(Optimized {
        pre_partial: a,
        partial_constants,
        sparse,
        post_constants,
        partial_flat,
    })
}

fn mat_vec<F: PrimeField>(m: &[Vec<F>], v: &[F]) -> Vec<F> {
    m.iter()
        .map(|row| row.iter().zip(v).map(|(a, b)| *a * b).sum())
        .collect()
}

/// Gauss-Jordan inversion; `None` if singular.
fn invert<F: PrimeField>(m: &[Vec<F>]) -> Option<Vec<Vec<F>>> {
    let n = m.len();
    let mut a: Vec<Vec<F>> = m.to_vec();
    let mut inv: Vec<Vec<F>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| if i == j { F::one() } else { F::zero() })
                .collect()
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).find(|&r| !a[r][col].is_zero())?;
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p_inv = a[col][col].inverse()?;
        for j in 0..n {
            a[col][j] *= p_inv;
            inv[col][j] *= p_inv;
        }
        for r in 0..n {
            if r != col && !a[r][col].is_zero() {
                let f = a[r][col];
                for j in 0..n {
                    let (x, y) = (a[col][j], inv[col][j]);
                    a[r][j] -= f * x;
                    inv[r][j] -= f * y;
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;
    use ark_std::UniformRand;

    #[test]
    #[allow(clippy::needless_range_loop)] // matrix indices read best as indices
    fn inversion_is_an_inverse() {
        let mut rng = ark_std::test_rng();
        for n in 1..6 {
            let m: Vec<Vec<Fr>> = (0..n)
                .map(|_| (0..n).map(|_| Fr::rand(&mut rng)).collect())
                .collect();
            let inv = invert(&m).expect("random matrix is invertible");
            for i in 0..n {
                for j in 0..n {
                    let e: Fr = (0..n).map(|k| m[i][k] * inv[k][j]).sum();
                    assert_eq!(
                        e,
                        if i == j {
                            Fr::from(1u64)
                        } else {
                            Fr::from(0u64)
                        }
                    );
                }
            }
        }
    }

    #[test]
    fn widths_outside_range_are_refused() {
        assert!(PoseidonSpec::<Fr>::circom(1).is_none());
        assert!(PoseidonSpec::<Fr>::circom(18).is_none());
    }
}
