//! Groth16 phase-2 ceremony over snarkjs's `.ptau` and `.zkey` files (issue 19): make the
//! initial key of a circuit from a Powers of Tau file ([`new_zkey`]), add contributions
//! ([`contribute`], [`beacon`]), verify a whole chain ([`verify`]) and turn the final key into our
//! proving key ([`export`]). Every step is bit-compatible with snarkjs 0.7 (`snarkjs zkey new |
//! contribute | beacon | verify`), so contributors can use either tool; docs/ceremony.md is the
//! operator's procedure.
//!
//! **What a chain proves.** Each contribution multiplies δ by a secret `x` and divides the C and
//! H sections by it, and publishes `(g1_s, g1_s·x, hashToG2(transcript)·x)`: pairings show that
//! δ moved by the same `x` the contributor knows, and the transcript hash chains every
//! contribution to the circuit hash and to the ones before. One honest contributor who destroys
//! `x` makes the key sound.
//!
//! **Transcript hash** ([`transcript_hash`]): BLAKE2b-512 over the circuit hash and every
//! contribution's public key (what the next contributor would chain to). It is what our key files
//! record and the node reports as the key's provenance.

pub mod compat;
mod ptau;
pub mod zkey;

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{Field, One, UniformRand, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use blake2::{Blake2b512, Digest};
use rayon::prelude::*;

use self::compat::{JsChaCha, g1_u, g2_u, hash_to_g2, same_ratio};
pub use self::ptau::Ptau;
pub use self::zkey::{Beacon, Coefficient, Contribution, Zkey};
use crate::CircuitMatrices;
use crate::circom::{self, CircomError};

/// Why a ceremony step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CeremonyError {
    /// The file is not a well-formed binfile of its kind (see [`CircomError`]).
    #[error(transparent)]
    File(#[from] CircomError),
    /// A `.zkey` or `.ptau` that parses as a binfile but whose content is malformed.
    #[error("malformed file: {0}")]
    Format(String),
    /// The Powers of Tau file cannot serve this circuit (too small, not prepared for phase 2).
    #[error("powers of tau: {0}")]
    Ptau(String),
    /// The chain of contributions, or the key's sections, do not check out.
    #[error("verification failed: {0}")]
    Invalid(String),
    /// A parameter outside what the ceremony allows (beacon size or iterations, a zero secret).
    #[error("bad parameter: {0}")]
    Parameter(String),
}

fn hash_pub_key(h: &mut Blake2b512, c: &Contribution) {
    h.update(g1_u(&c.delta_after));
    h.update(g1_u(&c.g1_s));
    h.update(g1_u(&c.g1_sx));
    h.update(g2_u(&c.g2_spx));
    h.update(c.transcript);
}

/// The hasher state a new contribution chains to: the circuit hash, then every contribution.
fn chain_hasher(z: &Zkey) -> Blake2b512 {
    let mut h = Blake2b512::new();
    h.update(z.cs_hash);
    z.contributions.iter().for_each(|c| hash_pub_key(&mut h, c));
    h
}

/// The ceremony transcript hash of `z` (see the module docs).
pub fn transcript_hash(z: &Zkey) -> [u8; 64] {
    chain_hasher(z).finalize().into()
}

/// A contribution's hash, the one snarkjs prints and contributors publish: BLAKE2b-512 of its
/// public key.
pub fn contribution_hash(c: &Contribution) -> [u8; 64] {
    let mut h = Blake2b512::new();
    hash_pub_key(&mut h, c);
    h.finalize().into()
}

/// A 64-byte hash as snarkjs prints it: sixteen 8-digit hex words in four rows.
pub fn format_hash(h: &[u8; 64]) -> String {
    h.chunks(16)
        .map(|row| {
            row.chunks(4)
                .map(|w| w.iter().map(|b| format!("{b:02x}")).collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Σ coef · bases[b][row]` for each target's `(b, row, coef)` terms, in parallel.
fn combine<A: AffineRepr<ScalarField = Fr>>(
    targets: &[Vec<(usize, usize, Fr)>],
    bases: &[&[A]],
) -> Vec<A> {
    let proj: Vec<A::Group> = targets
        .par_iter()
        .map(|terms| {
            terms.iter().fold(A::Group::zero(), |acc, &(b, row, c)| {
                acc + bases[b][row] * c
            })
        })
        .collect();
    A::Group::normalize_batch(&proj)
}

/// Section 4 of the circuit `m`'s `.zkey`: every A and B entry as snarkjs stores it (value · R²,
/// R = 2^256 mod r), then the public inputs' extra A rows. It depends on the circuit only, so it
/// ties a `.zkey` to a circuit without the Powers of Tau.
pub fn coefficients_of(m: &CircuitMatrices) -> Vec<Coefficient> {
    let r = Fr::from(2u64).pow([256]);
    let r2 = r * r;
    let mut out = Vec::new();
    for c in 0..m.num_constraints {
        for (matrix, rows) in m.matrices.iter().enumerate().take(2) {
            for (s, coef) in circom::merged(&rows[c]) {
                out.push(Coefficient {
                    matrix: matrix as u32,
                    constraint: c as u32,
                    signal: s as u32,
                    value: coef * r2,
                });
            }
        }
    }
    for s in 0..m.num_inputs {
        out.push(Coefficient {
            matrix: 0,
            constraint: (m.num_constraints + s) as u32,
            signal: s as u32,
            value: r2,
        });
    }
    out
}

/// The initial key of the circuit `m` over `ptau` (snarkjs's `zkey new` / `groth16 setup`):
/// byte for byte the file snarkjs makes from our `.r1cs`, circuit hash included.
pub fn new_zkey(m: &CircuitMatrices, ptau: &Ptau<'_>) -> Result<Zkey, CeremonyError> {
    let n_public = m.num_inputs - 1;
    let n_vars = m.num_inputs + m.num_witness;
    let n = (m.num_constraints + n_public + 1).next_power_of_two();
    let k = n.trailing_zeros();
    if k > ptau.power {
        return Err(CeremonyError::Ptau(format!(
            "the circuit needs 2^{k} powers ({} constraints, {n_public} public inputs); the file has 2^{}",
            m.num_constraints, ptau.power
        )));
    }
    const L1: usize = 0;
    const ALPHA: usize = 1;
    const BETA: usize = 2;
    let l1 = ptau.g1s(12, n - 1, n, "Lagrange tau G1")?;
    let l2 = ptau.g2s(13, n - 1, n, "Lagrange tau G2")?;
    let la = ptau.g1s(14, n - 1, n, "Lagrange alpha tau G1")?;
    let lb = ptau.g1s(15, n - 1, n, "Lagrange beta tau G1")?;
    let h2 = ptau.g1s(
        12,
        2 * n - 1,
        2 * n,
        "Lagrange tau G1 of the doubled domain",
    )?;
    let alpha1 = ptau.g1s(4, 0, 1, "alpha tau G1")?[0];
    let beta1 = ptau.g1s(5, 0, 1, "beta tau G1")?[0];
    let beta2 = ptau.g2s(6, 0, 1, "beta G2")?[0];

    let mut a = vec![Vec::new(); n_vars];
    let mut b1 = vec![Vec::new(); n_vars];
    let mut icc = vec![Vec::new(); n_vars];
    for c in 0..m.num_constraints {
        for (matrix, rows) in m.matrices.iter().enumerate() {
            for (s, coef) in circom::merged(&rows[c]) {
                match matrix {
                    0 => {
                        a[s].push((L1, c, coef));
                        icc[s].push((BETA, c, coef));
                    }
                    1 => {
                        b1[s].push((L1, c, coef));
                        icc[s].push((ALPHA, c, coef));
                    }
                    _ => icc[s].push((L1, c, coef)),
                }
            }
        }
    }
    // The public inputs' extra constraints (their A polynomials must be independent).
    for s in 0..=n_public {
        let c = m.num_constraints + s;
        a[s].push((L1, c, Fr::one()));
        icc[s].push((BETA, c, Fr::one()));
    }
    let coefficients = coefficients_of(m);
    let a_pts = combine(&a, &[&l1]);
    let b1_pts = combine(&b1, &[&l1]);
    let b2_pts = combine(&b1, &[&l2]);
    let mut ic = combine(&icc, &[&l1, &la, &lb]);
    let c_pts = ic.split_off(n_public + 1);
    let h: Vec<G1Affine> = (0..n).map(|i| h2[2 * i + 1]).collect();

    // The circuit hash: the header points, then each point section (U form, a big-endian u32
    // count first) in snarkjs's order; H is hashed in monomial form, τ^i·(τ^n − 1).
    let mut hasher = Blake2b512::new();
    let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
    for p in [
        g1_u(&alpha1),
        g1_u(&beta1),
        g2_u(&beta2),
        g2_u(&g2),
        g1_u(&g1),
        g2_u(&g2),
    ] {
        hasher.update(p);
    }
    let hash_g1s = |hasher: &mut Blake2b512, pts: &[G1Affine]| {
        hasher.update((pts.len() as u32).to_be_bytes());
        pts.iter().for_each(|p| hasher.update(g1_u(p)));
    };
    hash_g1s(&mut hasher, &ic);
    hasher.update(((n - 1) as u32).to_be_bytes());
    // snarkjs hashes chunks of min(n − 1, 2^14) points from 0 while below n − 1: n points when
    // n > 2^14 (one more than its count says); reproduced exactly.
    let chunk = (n - 1).min(1 << 14);
    let hashed = (0..n - 1).step_by(chunk.max(1)).count() * chunk;
    let tau = ptau.g1s(2, 0, hashed + n, "tau G1")?;
    let mono: Vec<G1Projective> = (0..hashed)
        .into_par_iter()
        .map(|i| tau[i + n].into_group() - tau[i])
        .collect();
    G1Projective::normalize_batch(&mono)
        .iter()
        .for_each(|p| hasher.update(g1_u(p)));
    hash_g1s(&mut hasher, &c_pts);
    hash_g1s(&mut hasher, &a_pts);
    hash_g1s(&mut hasher, &b1_pts);
    hasher.update((b2_pts.len() as u32).to_be_bytes());
    b2_pts.iter().for_each(|p| hasher.update(g2_u(p)));

    Ok(Zkey {
        n_vars: n_vars as u32,
        n_public: n_public as u32,
        domain_size: n as u32,
        alpha1,
        beta1,
        beta2,
        gamma2: g2,
        delta1: g1,
        delta2: g2,
        ic,
        coefficients,
        a: a_pts,
        b1: b1_pts,
        b2: b2_pts,
        c: c_pts,
        h,
        cs_hash: hasher.finalize().into(),
        contributions: Vec::new(),
    })
}

/// Applies a contribution whose secret and `g1_s` come from `rng`; returns its hash.
fn apply(
    z: &mut Zkey,
    rng: &mut JsChaCha,
    beacon: Option<Beacon>,
    name: Option<&str>,
) -> Result<[u8; 64], CeremonyError> {
    let mut hasher = chain_hasher(z);
    let x = rng.fr();
    let inv = x
        .inverse()
        .ok_or_else(|| CeremonyError::Parameter("the secret drawn is zero".into()))?;
    let g1_s = rng.g1();
    let g1_sx = (g1_s * x).into_affine();
    hasher.update(g1_u(&g1_s));
    hasher.update(g1_u(&g1_sx));
    let transcript: [u8; 64] = hasher.finalize().into();
    let g2_spx = (hash_to_g2(&transcript) * x).into_affine();
    z.delta1 = (z.delta1 * x).into_affine();
    z.delta2 = (z.delta2 * x).into_affine();
    for section in [&mut z.c, &mut z.h] {
        let scaled: Vec<G1Projective> = section.par_iter().map(|p| *p * inv).collect();
        *section = G1Projective::normalize_batch(&scaled);
    }
    let c = Contribution {
        delta_after: z.delta1,
        g1_s,
        g1_sx,
        g2_spx,
        transcript,
        beacon,
        name: name.map(zkey::clip_name),
    };
    let hash = contribution_hash(&c);
    z.contributions.push(c);
    Ok(hash)
}

/// Adds a contribution with fresh randomness: 64 bytes from the operating system and `entropy`
/// (any text the contributor adds), hashed as snarkjs does. Returns the contribution hash.
pub fn contribute(
    z: &mut Zkey,
    entropy: &str,
    name: Option<&str>,
) -> Result<[u8; 64], CeremonyError> {
    let mut os = [0u8; 64];
    getrandom::fill(&mut os)
        .map_err(|e| CeremonyError::Parameter(format!("no randomness from the OS: {e}")))?;
    let mut rng = compat::entropy_rng(&os, entropy);
    apply(z, &mut rng, None, name)
}

/// Applies a public random beacon (a value announced in advance, e.g. a future block hash): the
/// contribution's secret is derived from `value` by `2^iterations_exp` SHA-256 iterations, so
/// anyone can recompute it. snarkjs's limits apply: 1–255 bytes, exponent 10–63.
pub fn beacon(
    z: &mut Zkey,
    value: &[u8],
    iterations_exp: u8,
    name: Option<&str>,
) -> Result<[u8; 64], CeremonyError> {
    if value.is_empty() || value.len() > 255 || !(10..=63).contains(&iterations_exp) {
        return Err(CeremonyError::Parameter(
            "a beacon is 1–255 bytes with an iterations exponent of 10–63".into(),
        ));
    }
    let mut rng = compat::beacon_rng(value, iterations_exp);
    let b = Beacon {
        value: value.to_vec(),
        iterations_exp,
    };
    apply(z, &mut rng, Some(b), name)
}

/// One verified contribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Its contributor's name, if given.
    pub name: Option<String>,
    /// Whether it is a beacon.
    pub beacon: bool,
    /// Its contribution hash.
    pub hash: [u8; 64],
}

fn random_combination(
    a: &[G1Affine],
    b: &[G1Affine],
) -> Result<(G1Affine, G1Affine), CeremonyError> {
    use ark_std::rand::SeedableRng;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| CeremonyError::Parameter(format!("no randomness from the OS: {e}")))?;
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    let r: Vec<Fr> = (0..a.len())
        .map(|_| Fr::from(u128::rand(&mut rng)))
        .collect();
    let ra = G1Projective::msm(a, &r).expect("equal lengths");
    let rb = G1Projective::msm(b, &r).expect("equal lengths");
    Ok((ra.into_affine(), rb.into_affine()))
}

/// Verifies `z` against `init`, the initial key made by [`new_zkey`] from the circuit and the
/// Powers of Tau: every contribution's proof of knowledge and its place in the transcript, each
/// beacon's derivation, the sections no contribution may change (IC, coefficients, A, B) and the
/// ones scaled by δ⁻¹ (C and H, by random linear combinations). Returns the contributions,
/// oldest first.
pub fn verify(z: &Zkey, init: &Zkey) -> Result<Vec<Verified>, CeremonyError> {
    let invalid = |m: String| Err(CeremonyError::Invalid(m));
    if z.cs_hash != init.cs_hash {
        return invalid(
            "the circuit hash differs from the one of this circuit and powers of tau".into(),
        );
    }
    let mut hasher = Blake2b512::new();
    hasher.update(z.cs_hash);
    let mut cur = G1Affine::generator();
    let mut out = Vec::new();
    for (i, c) in z.contributions.iter().enumerate() {
        let mut ours = hasher.clone();
        ours.update(g1_u(&c.g1_s));
        ours.update(g1_u(&c.g1_sx));
        if ours.finalize().as_slice() != c.transcript {
            return invalid(format!(
                "contribution {}: its transcript hash does not follow the chain",
                i + 1
            ));
        }
        let sp = hash_to_g2(&c.transcript);
        if !same_ratio(&c.g1_s, &c.g1_sx, &sp, &c.g2_spx) {
            return invalid(format!(
                "contribution {}: the G1 and G2 public keys have different secrets",
                i + 1
            ));
        }
        if !same_ratio(&cur, &c.delta_after, &sp, &c.g2_spx) {
            return invalid(format!(
                "contribution {}: delta did not move by the contributor's secret",
                i + 1
            ));
        }
        if let Some(b) = &c.beacon {
            let mut rng = compat::beacon_rng(&b.value, b.iterations_exp);
            let x = rng.fr();
            let s = rng.g1();
            if s != c.g1_s || (s * x).into_affine() != c.g1_sx {
                return invalid(format!(
                    "contribution {}: the beacon's key is not the one its value derives",
                    i + 1
                ));
            }
        }
        hash_pub_key(&mut hasher, c);
        out.push(Verified {
            name: c.name.clone(),
            beacon: c.beacon.is_some(),
            hash: contribution_hash(c),
        });
        cur = c.delta_after;
    }
    if (z.n_vars, z.n_public, z.domain_size) != (init.n_vars, init.n_public, init.domain_size) {
        return invalid("wire, public input or domain counts differ from the circuit's".into());
    }
    if (z.alpha1, z.beta1, z.beta2, z.gamma2) != (init.alpha1, init.beta1, init.beta2, init.gamma2)
    {
        return invalid("alpha, beta or gamma differ from the powers of tau".into());
    }
    if z.delta1 != cur {
        return invalid("delta1 is not the last contribution's".into());
    }
    if !same_ratio(
        &G1Affine::generator(),
        &cur,
        &G2Affine::generator(),
        &z.delta2,
    ) {
        return invalid("delta2 does not match delta1".into());
    }
    for (name, same) in [
        ("IC", z.ic == init.ic),
        ("coefficients", z.coefficients == init.coefficients),
        ("A", z.a == init.a),
        ("B1", z.b1 == init.b1),
        ("B2", z.b2 == init.b2),
    ] {
        if !same {
            return invalid(format!("section {name} differs from the circuit's"));
        }
    }
    for (name, fin, ini) in [("C", &z.c, &init.c), ("H", &z.h, &init.h)] {
        if fin.len() != ini.len() {
            return invalid(format!("section {name} has the wrong size"));
        }
        if fin.is_empty() {
            continue;
        }
        let (r_init, r_fin) = random_combination(ini, fin)?;
        // fin = init / δ: e(init, δ₂^init) == e(fin, δ₂).
        if r_init.is_zero() && r_fin.is_zero() {
            continue;
        }
        if !same_ratio(&r_fin, &r_init, &init.delta2, &z.delta2) {
            return invalid(format!(
                "section {name} is not the circuit's divided by delta"
            ));
        }
    }
    Ok(out)
}

/// Our proving key from a verified final `.zkey`. Everything maps one to one except H: snarkjs
/// stores `L_{2i+1}(τ)/δ` (the Lagrange basis of the doubled domain at the odd points `x_i = g·ωⁱ`,
/// `g` a primitive `2n`-th root), our prover (like arkworks) `τʲ·Z(τ)/δ`. Since
/// `L_{2i+1}(X) = −Z(X)·ℓᵢ(X)/2` (`ℓᵢ` the basis of the coset), `τʲ·Z(τ)/δ = −2·gʲ·Σᵢ ωⁱʲ·Hᵢ`:
/// one FFT over the points.
pub fn export(z: &Zkey) -> Result<ProvingKey<ark_bn254::Bn254>, CeremonyError> {
    let n = z.domain_size as usize;
    let domain = Radix2EvaluationDomain::<Fr>::new(n)
        .ok_or_else(|| CeremonyError::Format(format!("no FFT domain of size {n}")))?;
    let g = Radix2EvaluationDomain::<Fr>::new(2 * n)
        .ok_or_else(|| CeremonyError::Format(format!("no FFT domain of size {}", 2 * n)))?
        .group_gen;
    let mut pts: Vec<G1Projective> = z.h.iter().map(|p| p.into_group()).collect();
    domain.fft_in_place(&mut pts);
    let minus_two = -Fr::from(2u64);
    let scalars: Vec<Fr> = (0..n - 1)
        .scan(minus_two, |s, _| {
            let out = *s;
            *s *= g;
            Some(out)
        })
        .collect();
    let h: Vec<G1Projective> = pts[..n - 1]
        .par_iter()
        .zip(scalars.par_iter())
        .map(|(p, s)| *p * s)
        .collect();
    Ok(ProvingKey {
        vk: VerifyingKey {
            alpha_g1: z.alpha1,
            beta_g2: z.beta2,
            gamma_g2: z.gamma2,
            delta_g2: z.delta2,
            gamma_abc_g1: z.ic.clone(),
        },
        beta_g1: z.beta1,
        delta_g1: z.delta1,
        a_query: z.a.clone(),
        b_g1_query: z.b1.clone(),
        b_g2_query: z.b2.clone(),
        h_query: G1Projective::normalize_batch(&h),
        l_query: z.c.clone(),
    })
}
