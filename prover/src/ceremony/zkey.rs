//! snarkjs's Groth16 `.zkey` (binfile magic `zkey`, version 1), read and written section by
//! section:
//!
//! | section | content |
//! | --- | --- |
//! | 1 | protocol: `u32` 1 (Groth16) |
//! | 2 | `n8q`, q, `n8r`, r, `nVars`, `nPublic`, `domainSize` (`u32`s), then α₁, β₁, β₂, γ₂, δ₁, δ₂ |
//! | 3 | IC: `nPublic + 1` G1 points |
//! | 4 | coefficients: `u32` count, then (`u32` matrix 0 = A / 1 = B, `u32` constraint, `u32` signal, 32-byte value) |
//! | 5, 6, 7 | A (G1), B (G1), B (G2): `nVars` points each |
//! | 8 | C ("L"): `nVars − nPublic − 1` G1 points |
//! | 9 | H: `domainSize` G1 points (Lagrange basis of the odd coset, see `ceremony::export`) |
//! | 10 | MPC: 64-byte circuit hash, `u32` count, contributions |
//!
//! A contribution: δ₁ after it, `g1_s`, `g1_sx`, `g2_spx`, its 64-byte transcript hash, `u32` type
//! (0 random, 1 beacon), `u32` parameter length, parameters (1: name, 2: beacon iterations
//! exponent, 3: beacon value; types ascending). Points are LEM ([`super::compat`]).

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ff::{BigInteger, PrimeField};
use rayon::prelude::*;

use super::CeremonyError;
use super::compat::{G1_BYTES, G2_BYTES, g1_from_lem, g1_lem, g2_from_lem, g2_lem};
use crate::circom::{self, CircomError, Cursor};

/// A beacon contribution's public parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Beacon {
    /// The beacon value (at most 255 bytes).
    pub value: Vec<u8>,
    /// SHA-256 is iterated `2^iterations_exp` times over it.
    pub iterations_exp: u8,
}

/// One phase-2 contribution's public record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// δ₁ after this contribution.
    pub delta_after: G1Affine,
    /// A random G1 point `s`.
    pub g1_s: G1Affine,
    /// `s·x` (`x` the contribution's secret).
    pub g1_sx: G1Affine,
    /// `hashToG2(transcript)·x`.
    pub g2_spx: G2Affine,
    /// BLAKE2b-512 of the transcript so far and `g1_s`, `g1_sx`.
    pub transcript: [u8; 64],
    /// Set for a beacon.
    pub beacon: Option<Beacon>,
    /// The contributor's name, if given (at most 64 characters).
    pub name: Option<String>,
}

/// One coefficient of the A or B matrix, as section 4 stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coefficient {
    /// 0 for A, 1 for B.
    pub matrix: u32,
    /// Constraint (row).
    pub constraint: u32,
    /// Signal (wire).
    pub signal: u32,
    /// The value times R² (snarkjs's convention), standard form.
    pub value: Fr,
}

/// A Groth16 `.zkey` in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zkey {
    /// Wires, the constant 1 included.
    pub n_vars: u32,
    /// Public inputs (the constant 1 excluded).
    pub n_public: u32,
    /// The QAP domain size (a power of two).
    pub domain_size: u32,
    /// α₁.
    pub alpha1: G1Affine,
    /// β₁.
    pub beta1: G1Affine,
    /// β₂.
    pub beta2: G2Affine,
    /// γ₂ (the generator: snarkjs's phase 2 keeps γ = 1).
    pub gamma2: G2Affine,
    /// δ₁.
    pub delta1: G1Affine,
    /// δ₂.
    pub delta2: G2Affine,
    /// Section 3.
    pub ic: Vec<G1Affine>,
    /// Section 4.
    pub coefficients: Vec<Coefficient>,
    /// Section 5.
    pub a: Vec<G1Affine>,
    /// Section 6.
    pub b1: Vec<G1Affine>,
    /// Section 7.
    pub b2: Vec<G2Affine>,
    /// Section 8.
    pub c: Vec<G1Affine>,
    /// Section 9.
    pub h: Vec<G1Affine>,
    /// Section 10: the circuit hash.
    pub cs_hash: [u8; 64],
    /// Section 10: the contributions, oldest first.
    pub contributions: Vec<Contribution>,
}

fn bad(what: impl Into<String>) -> CeremonyError {
    CeremonyError::Format(what.into())
}

/// Parses `count` points of `size` bytes each from `bytes` (all of it), in parallel.
pub(crate) fn parse_points<P: Send>(
    bytes: &[u8],
    size: usize,
    parse: fn(&[u8]) -> Option<P>,
    what: &str,
) -> Result<Vec<P>, CeremonyError> {
    if !bytes.len().is_multiple_of(size) {
        return Err(bad(format!(
            "{what}: {} bytes is not a whole number of points",
            bytes.len()
        )));
    }
    bytes
        .par_chunks(size)
        .enumerate()
        .map(|(i, b)| {
            parse(b).ok_or_else(|| bad(format!("{what}: point {i} is not a valid curve point")))
        })
        .collect()
}

fn g1_at(c: &mut Cursor<'_>, what: &'static str) -> Result<G1Affine, CeremonyError> {
    g1_from_lem(c.take(G1_BYTES, what)?).ok_or_else(|| bad(format!("{what}: not a G1 point")))
}

fn g2_at(c: &mut Cursor<'_>, what: &'static str) -> Result<G2Affine, CeremonyError> {
    g2_from_lem(c.take(G2_BYTES, what)?).ok_or_else(|| bad(format!("{what}: not a G2 point")))
}

fn field_header(
    c: &mut Cursor<'_>,
    modulus: &[u8],
    what: &'static str,
) -> Result<(), CeremonyError> {
    if c.u32(what)? != 32 || c.take(32, what)? != modulus {
        return Err(CircomError::Field.into());
    }
    Ok(())
}

fn read_contribution(c: &mut Cursor<'_>) -> Result<Contribution, CeremonyError> {
    let delta_after = g1_at(c, "contribution delta")?;
    let g1_s = g1_at(c, "contribution g1_s")?;
    let g1_sx = g1_at(c, "contribution g1_sx")?;
    let g2_spx = g2_at(c, "contribution g2_spx")?;
    let mut transcript = [0u8; 64];
    transcript.copy_from_slice(c.take(64, "contribution transcript")?);
    let kind = c.u32("contribution type")?;
    let len = c.u32("contribution parameters")? as usize;
    let mut p = Cursor {
        data: c.take(len, "contribution parameters")?,
        pos: 0,
        base: 0,
    };
    let (mut name, mut exp, mut value) = (None, None, None);
    let mut last = 0u8;
    while p.pos < p.data.len() {
        let t = p.take(1, "parameter type")?[0];
        if t <= last {
            return Err(bad("contribution parameters not in ascending order"));
        }
        last = t;
        match t {
            1 => {
                let n = p.take(1, "name length")?[0] as usize;
                let s = std::str::from_utf8(p.take(n, "name")?)
                    .map_err(|_| bad("contribution name is not UTF-8"))?;
                name = Some(s.to_string());
            }
            2 => exp = Some(p.take(1, "beacon exponent")?[0]),
            3 => {
                let n = p.take(1, "beacon length")?[0] as usize;
                value = Some(p.take(n, "beacon value")?.to_vec());
            }
            _ => return Err(bad(format!("unknown contribution parameter {t}"))),
        }
    }
    let beacon = match (kind, exp, value) {
        (0, None, None) => None,
        (1, Some(iterations_exp), Some(value)) => Some(Beacon {
            value,
            iterations_exp,
        }),
        _ => {
            return Err(bad(format!(
                "contribution of type {kind} with mismatched parameters"
            )));
        }
    };
    Ok(Contribution {
        delta_after,
        g1_s,
        g1_sx,
        g2_spx,
        transcript,
        beacon,
        name,
    })
}

fn write_contribution(c: &Contribution, out: &mut Vec<u8>) {
    g1_lem(&c.delta_after, out);
    g1_lem(&c.g1_s, out);
    g1_lem(&c.g1_sx, out);
    g2_lem(&c.g2_spx, out);
    out.extend_from_slice(&c.transcript);
    out.extend_from_slice(&u32::from(c.beacon.is_some()).to_le_bytes());
    let mut params = Vec::new();
    if let Some(name) = &c.name {
        let bytes = name.as_bytes();
        params.push(1);
        params.push(bytes.len() as u8);
        params.extend_from_slice(bytes);
    }
    if let Some(b) = &c.beacon {
        params.extend_from_slice(&[2, b.iterations_exp, 3, b.value.len() as u8]);
        params.extend_from_slice(&b.value);
    }
    out.extend_from_slice(&(params.len() as u32).to_le_bytes());
    out.extend_from_slice(&params);
}

/// A contributor name as the file stores it: at most 64 characters (and so at most 255 bytes).
pub fn clip_name(name: &str) -> String {
    name.chars().take(64).collect()
}

impl Zkey {
    /// Parses a `.zkey`, checking every point (canonical, on its curve, G2 in its subgroup) and
    /// every count; never panics on input.
    pub fn read(data: &[u8]) -> Result<Self, CeremonyError> {
        let sections = circom::read_binfile(data, "zkey", 1..=1)?;
        let mut s1 = circom::section(&sections, 1)?;
        if s1.u32("protocol")? != 1 {
            return Err(bad("not a Groth16 zkey (protocol is not 1)"));
        }
        circom::finished(&s1, "zkey protocol")?;
        let mut h = circom::section(&sections, 2)?;
        field_header(&mut h, &ark_bn254::Fq::MODULUS.to_bytes_le(), "base field")?;
        field_header(&mut h, &Fr::MODULUS.to_bytes_le(), "scalar field")?;
        let n_vars = h.u32("nVars")?;
        let n_public = h.u32("nPublic")?;
        let domain_size = h.u32("domainSize")?;
        if !domain_size.is_power_of_two() || n_public >= n_vars {
            return Err(bad(format!(
                "inconsistent header: {n_vars} wires, {n_public} public, domain {domain_size}"
            )));
        }
        let alpha1 = g1_at(&mut h, "alpha1")?;
        let beta1 = g1_at(&mut h, "beta1")?;
        let beta2 = g2_at(&mut h, "beta2")?;
        let gamma2 = g2_at(&mut h, "gamma2")?;
        let delta1 = g1_at(&mut h, "delta1")?;
        let delta2 = g2_at(&mut h, "delta2")?;
        circom::finished(&h, "zkey header")?;

        let sized =
            |kind: u32, count: usize, size: usize, what: &str| -> Result<&[u8], CeremonyError> {
                let s = circom::section(&sections, kind)?;
                if s.data.len() != count * size {
                    return Err(bad(format!(
                        "{what}: {} bytes, expected {count} points",
                        s.data.len()
                    )));
                }
                Ok(s.data)
            };
        let (nv, np) = (n_vars as usize, n_public as usize);
        let ic = parse_points(
            sized(3, np + 1, G1_BYTES, "IC")?,
            G1_BYTES,
            g1_from_lem,
            "IC",
        )?;
        let a = parse_points(sized(5, nv, G1_BYTES, "A")?, G1_BYTES, g1_from_lem, "A")?;
        let b1 = parse_points(sized(6, nv, G1_BYTES, "B1")?, G1_BYTES, g1_from_lem, "B1")?;
        let b2 = parse_points(sized(7, nv, G2_BYTES, "B2")?, G2_BYTES, g2_from_lem, "B2")?;
        let c = parse_points(
            sized(8, nv - np - 1, G1_BYTES, "C")?,
            G1_BYTES,
            g1_from_lem,
            "C",
        )?;
        let hq = parse_points(
            sized(9, domain_size as usize, G1_BYTES, "H")?,
            G1_BYTES,
            g1_from_lem,
            "H",
        )?;

        let mut s4 = circom::section(&sections, 4)?;
        let n = s4.u32("coefficient count")? as usize;
        if s4.data.len() != 4 + n * 44 {
            return Err(bad(format!(
                "coefficients: {} bytes for {n} entries",
                s4.data.len()
            )));
        }
        let mut coefficients = Vec::with_capacity(n);
        for _ in 0..n {
            let matrix = s4.u32("matrix")?;
            let constraint = s4.u32("constraint")?;
            let signal = s4.u32("signal")?;
            let value = s4.field("coefficient")?;
            if matrix > 1 || constraint >= domain_size || signal >= n_vars {
                return Err(bad(format!(
                    "coefficient ({matrix}, {constraint}, {signal}) out of range"
                )));
            }
            coefficients.push(Coefficient {
                matrix,
                constraint,
                signal,
                value,
            });
        }

        let mut m = circom::section(&sections, 10)?;
        let mut cs_hash = [0u8; 64];
        cs_hash.copy_from_slice(m.take(64, "circuit hash")?);
        let count = m.u32("contribution count")? as usize;
        // A contribution takes at least 328 bytes: refuse counts the section cannot hold.
        if count > m.data.len() / 328 {
            return Err(bad(format!(
                "{count} contributions in {} bytes",
                m.data.len()
            )));
        }
        let contributions = (0..count)
            .map(|_| read_contribution(&mut m))
            .collect::<Result<Vec<_>, _>>()?;
        circom::finished(&m, "contributions")?;
        Ok(Self {
            n_vars,
            n_public,
            domain_size,
            alpha1,
            beta1,
            beta2,
            gamma2,
            delta1,
            delta2,
            ic,
            coefficients,
            a,
            b1,
            b2,
            c,
            h: hq,
            cs_hash,
            contributions,
        })
    }

    /// The file's bytes (sections in numeric order, as `snarkjs zkey contribute` writes them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let g1s = |v: &[G1Affine]| {
            let mut out = Vec::with_capacity(v.len() * G1_BYTES);
            v.iter().for_each(|p| g1_lem(p, &mut out));
            out
        };
        let mut header = Vec::new();
        for modulus in [
            ark_bn254::Fq::MODULUS.to_bytes_le(),
            Fr::MODULUS.to_bytes_le(),
        ] {
            header.extend_from_slice(&32u32.to_le_bytes());
            header.extend_from_slice(&modulus);
        }
        for v in [self.n_vars, self.n_public, self.domain_size] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        g1_lem(&self.alpha1, &mut header);
        g1_lem(&self.beta1, &mut header);
        g2_lem(&self.beta2, &mut header);
        g2_lem(&self.gamma2, &mut header);
        g1_lem(&self.delta1, &mut header);
        g2_lem(&self.delta2, &mut header);
        let mut coeffs = Vec::with_capacity(4 + self.coefficients.len() * 44);
        coeffs.extend_from_slice(&(self.coefficients.len() as u32).to_le_bytes());
        for c in &self.coefficients {
            for v in [c.matrix, c.constraint, c.signal] {
                coeffs.extend_from_slice(&v.to_le_bytes());
            }
            coeffs.extend_from_slice(&c.value.into_bigint().to_bytes_le());
        }
        let mut b2 = Vec::with_capacity(self.b2.len() * G2_BYTES);
        self.b2.iter().for_each(|p| g2_lem(p, &mut b2));
        let mut mpc = self.cs_hash.to_vec();
        mpc.extend_from_slice(&(self.contributions.len() as u32).to_le_bytes());
        self.contributions
            .iter()
            .for_each(|c| write_contribution(c, &mut mpc));
        let sections = vec![
            (1, 1u32.to_le_bytes().to_vec()),
            (2, header),
            (3, g1s(&self.ic)),
            (4, coeffs),
            (5, g1s(&self.a)),
            (6, g1s(&self.b1)),
            (7, b2),
            (8, g1s(&self.c)),
            (9, g1s(&self.h)),
            (10, mpc),
        ];
        let mut out = Vec::new();
        circom::write_binfile(&mut out, b"zkey", 1, &sections)
            .expect("writing to a Vec cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup};

    fn g1(k: u64) -> G1Affine {
        (G1Affine::generator() * Fr::from(k)).into_affine()
    }

    fn g2(k: u64) -> G2Affine {
        (G2Affine::generator() * Fr::from(k)).into_affine()
    }

    fn tiny() -> Zkey {
        Zkey {
            n_vars: 4,
            n_public: 1,
            domain_size: 4,
            alpha1: g1(2),
            beta1: g1(3),
            beta2: g2(3),
            gamma2: g2(1),
            delta1: g1(5),
            delta2: g2(5),
            ic: vec![g1(6), g1(7)],
            coefficients: vec![
                Coefficient {
                    matrix: 0,
                    constraint: 0,
                    signal: 2,
                    value: Fr::from(9u64),
                },
                Coefficient {
                    matrix: 1,
                    constraint: 3,
                    signal: 3,
                    value: -Fr::from(1u64),
                },
            ],
            a: vec![g1(1), G1Affine::zero(), g1(2), g1(3)],
            b1: vec![g1(4), g1(5), G1Affine::zero(), g1(6)],
            b2: vec![g2(4), g2(5), G2Affine::zero(), g2(6)],
            c: vec![g1(8), g1(9)],
            h: vec![g1(10), g1(11), g1(12), g1(13)],
            cs_hash: [7; 64],
            contributions: vec![
                Contribution {
                    delta_after: g1(5),
                    g1_s: g1(14),
                    g1_sx: g1(70),
                    g2_spx: g2(15),
                    transcript: [1; 64],
                    beacon: None,
                    name: Some("ålice".into()),
                },
                Contribution {
                    delta_after: g1(25),
                    g1_s: g1(16),
                    g1_sx: g1(80),
                    g2_spx: g2(17),
                    transcript: [2; 64],
                    beacon: Some(Beacon {
                        value: vec![0xab; 32],
                        iterations_exp: 10,
                    }),
                    name: None,
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        let z = tiny();
        assert_eq!(Zkey::read(&z.to_bytes()).expect("parse"), z);
    }

    #[test]
    fn malformed_files_are_refused_without_panicking() {
        let bytes = tiny().to_bytes();
        // Every truncation is refused.
        for len in 0..bytes.len() {
            assert!(
                Zkey::read(&bytes[..len]).is_err(),
                "truncated to {len} accepted"
            );
        }
        // Any single flipped byte either is refused or parses to a different key; never panics.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            if let Ok(z) = Zkey::read(&b) {
                assert_ne!(z, tiny(), "byte {i} changed nothing");
            }
        }
        let at = |kind: u32| -> usize {
            // Offset of section `kind`'s content: walk the binfile headers.
            let mut p = 12;
            loop {
                let k = u32::from_le_bytes(bytes[p..p + 4].try_into().expect("4 bytes"));
                let size =
                    u64::from_le_bytes(bytes[p + 4..p + 12].try_into().expect("8 bytes")) as usize;
                if k == kind {
                    return p + 12;
                }
                p += 12 + size;
            }
        };
        let expect_err = |b: &[u8], what: &str| {
            let e = Zkey::read(b).expect_err(what).to_string();
            assert!(!e.is_empty());
            e
        };
        // A point off the curve in section A.
        let mut b = bytes.clone();
        b[at(5) + 5] ^= 1;
        assert!(expect_err(&b, "off-curve A").contains("A: point 0"));
        // A coefficient's signal out of range; a non-canonical coefficient value.
        let mut b = bytes.clone();
        b[at(4) + 4 + 8..at(4) + 4 + 12].copy_from_slice(&99u32.to_le_bytes());
        assert!(expect_err(&b, "signal out of range").contains("out of range"));
        let mut b = bytes.clone();
        b[at(4) + 4 + 12..at(4) + 4 + 44].copy_from_slice(&[0xff; 32]);
        assert!(expect_err(&b, "non-canonical").contains("non-canonical"));
        // A count of contributions the section cannot hold.
        let mut b = bytes.clone();
        b[at(10) + 64..at(10) + 68].copy_from_slice(&u32::MAX.to_le_bytes());
        expect_err(&b, "huge contribution count");
    }
}
