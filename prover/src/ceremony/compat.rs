//! What a ceremony file shares with snarkjs bit for bit: point encodings, the deterministic
//! random generator snarkjs (ffjavascript) seeds from hashes, and the derivations built on it
//! (`hashToG2`, a beacon's key). Contributions made by either tool verify in the other only if
//! these agree exactly; `tests/ceremony.rs` checks them against snarkjs itself.
//!
//! Encodings:
//! - **LEM** (in `.zkey`/`.ptau` sections): affine coordinates in Montgomery form, 32-byte
//!   little-endian limbs, `Fq2` as `c0` then `c1`; the point at infinity is all zeros.
//! - **U** (what transcripts hash): standard form, big-endian; an `Fq2` is the big-endian reverse
//!   of its LEM bytes, so `c1` then `c0`; infinity is all zeros.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine, g2};
use ark_ec::{AffineRepr, CurveConfig, CurveGroup, short_weierstrass::SWCurveConfig};
use ark_ff::{BigInt, BigInteger, Field, PrimeField, Zero};
use blake2::{Blake2b512, Digest};

/// Bytes of a G1 point in LEM or U form.
pub const G1_BYTES: usize = 64;
/// Bytes of a G2 point in LEM or U form.
pub const G2_BYTES: usize = 128;

fn limbs_le(b: &[u8]) -> BigInt<4> {
    let mut l = [0u64; 4];
    for (i, w) in l.iter_mut().enumerate() {
        *w = u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    }
    BigInt(l)
}

/// An `Fq` from 32 Montgomery-form little-endian bytes; `None` when not below the modulus.
pub fn fq_from_lem(b: &[u8]) -> Option<Fq> {
    let big = limbs_le(b);
    (big < Fq::MODULUS).then(|| Fq::new_unchecked(big))
}

fn fq_lem(x: &Fq, out: &mut Vec<u8>) {
    for w in x.0.0 {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

fn fq_be(x: &Fq, out: &mut Vec<u8>) {
    out.extend_from_slice(&x.into_bigint().to_bytes_be());
}

/// A G1 point from LEM bytes: `None` when a coordinate is non-canonical or the point is not on
/// the curve (G1 has cofactor 1, so on the curve is in the group).
pub fn g1_from_lem(b: &[u8]) -> Option<G1Affine> {
    if b.iter().all(|&x| x == 0) {
        return Some(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(fq_from_lem(&b[..32])?, fq_from_lem(&b[32..64])?);
    p.is_on_curve().then_some(p)
}

/// A G2 point from LEM bytes: `None` when non-canonical, off the curve or outside the
/// prime-order subgroup.
pub fn g2_from_lem(b: &[u8]) -> Option<G2Affine> {
    if b.iter().all(|&x| x == 0) {
        return Some(G2Affine::zero());
    }
    let f = |o: usize| {
        Some(Fq2::new(
            fq_from_lem(&b[o..o + 32])?,
            fq_from_lem(&b[o + 32..o + 64])?,
        ))
    };
    let p = G2Affine::new_unchecked(f(0)?, f(64)?);
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

/// Appends a G1 point's LEM bytes.
pub fn g1_lem(p: &G1Affine, out: &mut Vec<u8>) {
    match p.xy() {
        Some((x, y)) => {
            fq_lem(&x, out);
            fq_lem(&y, out);
        }
        None => out.extend_from_slice(&[0; G1_BYTES]),
    }
}

/// Appends a G2 point's LEM bytes.
pub fn g2_lem(p: &G2Affine, out: &mut Vec<u8>) {
    match p.xy() {
        Some((x, y)) => {
            for c in [x.c0, x.c1, y.c0, y.c1] {
                fq_lem(&c, out);
            }
        }
        None => out.extend_from_slice(&[0; G2_BYTES]),
    }
}

/// A G1 point's U bytes (what transcripts hash).
pub fn g1_u(p: &G1Affine) -> Vec<u8> {
    let mut out = Vec::with_capacity(G1_BYTES);
    match p.xy() {
        Some((x, y)) => {
            fq_be(&x, &mut out);
            fq_be(&y, &mut out);
        }
        None => out.extend_from_slice(&[0; G1_BYTES]),
    }
    out
}

/// A G2 point's U bytes.
pub fn g2_u(p: &G2Affine) -> Vec<u8> {
    let mut out = Vec::with_capacity(G2_BYTES);
    match p.xy() {
        Some((x, y)) => {
            for c in [x.c1, x.c0, y.c1, y.c0] {
                fq_be(&c, &mut out);
            }
        }
        None => out.extend_from_slice(&[0; G2_BYTES]),
    }
    out
}

/// ffjavascript's ChaCha generator: ChaCha20's block function over a key of eight words (a
/// 64-bit counter in words 12–15 starting at zero, no nonce), words consumed in order.
pub struct JsChaCha {
    state: [u32; 16],
    block: [u32; 16],
    idx: usize,
}

impl JsChaCha {
    /// Seeded with eight words.
    pub fn new(seed: [u32; 8]) -> Self {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&[0x6170_7865, 0x3320_646E, 0x7962_2D32, 0x6B20_6574]);
        state[4..12].copy_from_slice(&seed);
        Self {
            state,
            block: [0; 16],
            idx: 16,
        }
    }

    /// Seeded with the first 32 bytes of `hash` read as big-endian words (how snarkjs seeds it
    /// from a transcript, a beacon or entropy).
    pub fn from_hash(hash: &[u8]) -> Self {
        let mut seed = [0u32; 8];
        for (i, w) in seed.iter_mut().enumerate() {
            *w = u32::from_be_bytes(hash[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        }
        Self::new(seed)
    }

    fn refill(&mut self) {
        fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
            s[a] = s[a].wrapping_add(s[b]);
            s[d] = (s[d] ^ s[a]).rotate_left(16);
            s[c] = s[c].wrapping_add(s[d]);
            s[b] = (s[b] ^ s[c]).rotate_left(12);
            s[a] = s[a].wrapping_add(s[b]);
            s[d] = (s[d] ^ s[a]).rotate_left(8);
            s[c] = s[c].wrapping_add(s[d]);
            s[b] = (s[b] ^ s[c]).rotate_left(7);
        }
        let mut b = self.state;
        for _ in 0..10 {
            quarter(&mut b, 0, 4, 8, 12);
            quarter(&mut b, 1, 5, 9, 13);
            quarter(&mut b, 2, 6, 10, 14);
            quarter(&mut b, 3, 7, 11, 15);
            quarter(&mut b, 0, 5, 10, 15);
            quarter(&mut b, 1, 6, 11, 12);
            quarter(&mut b, 2, 7, 8, 13);
            quarter(&mut b, 3, 4, 9, 14);
        }
        for (o, s) in b.iter_mut().zip(self.state) {
            *o = o.wrapping_add(s);
        }
        self.block = b;
        self.idx = 0;
        for w in &mut self.state[12..16] {
            *w = w.wrapping_add(1);
            if *w != 0 {
                break;
            }
        }
    }

    /// The next word.
    pub fn next_u32(&mut self) -> u32 {
        if self.idx == 16 {
            self.refill();
        }
        self.idx += 1;
        self.block[self.idx - 1]
    }

    /// Two words, the first the high half.
    pub fn next_u64(&mut self) -> u64 {
        (u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())
    }

    fn next_bool(&mut self) -> bool {
        self.next_u32() & 1 == 1
    }

    /// ffjavascript's `F.fromRng`: four 64-bit words (least significant first) masked to the
    /// modulus' bit length, rejected until below the modulus, and taken as the element's
    /// **Montgomery** representation.
    fn montgomery_limbs(&mut self, modulus: BigInt<4>, bits: u32) -> BigInt<4> {
        loop {
            let mut l = [0u64; 4];
            for w in &mut l {
                *w = self.next_u64();
            }
            let top = bits - 192;
            l[3] &= (1u64 << top) - 1;
            let v = BigInt(l);
            if v < modulus {
                return v;
            }
        }
    }

    /// `Fr.fromRng` (a contribution's secret).
    pub fn fr(&mut self) -> Fr {
        Fr::new_unchecked(self.montgomery_limbs(Fr::MODULUS, Fr::MODULUS_BIT_SIZE))
    }

    fn fq(&mut self) -> Fq {
        Fq::new_unchecked(self.montgomery_limbs(Fq::MODULUS, Fq::MODULUS_BIT_SIZE))
    }

    /// `G1.fromRng`: `x` from the generator, a sign bit, retried until `x³ + b` is a square;
    /// `y` the root whose "negative" flag (standard value above `(q−1)/2`) equals the sign bit.
    pub fn g1(&mut self) -> G1Affine {
        loop {
            let x = self.fq();
            let greatest = self.next_bool();
            let rhs = x * x * x + ark_bn254::g1::Config::COEFF_B;
            if let Some(y) = rhs.sqrt() {
                let y = if fq_negative(&y) != greatest { -y } else { y };
                return G1Affine::new_unchecked(x, y);
            }
        }
    }

    /// `G2.fromRng`: as [`Self::g1`] over `Fq2` (`c0` drawn first; negative means `c1`'s flag,
    /// or `c0`'s when `c1` is zero), then multiplied by G2's cofactor.
    pub fn g2(&mut self) -> G2Affine {
        loop {
            let x = Fq2::new(self.fq(), self.fq());
            let greatest = self.next_bool();
            let rhs = x * x * x + g2::Config::COEFF_B;
            if let Some(y) = rhs.sqrt() {
                let neg = if y.c1.is_zero() {
                    fq_negative(&y.c0)
                } else {
                    fq_negative(&y.c1)
                };
                let y = if neg != greatest { -y } else { y };
                let p = G2Affine::new_unchecked(x, y);
                return p.mul_bigint(g2::Config::COFACTOR).into_affine();
            }
        }
    }
}

fn fq_negative(x: &Fq) -> bool {
    x.into_bigint() > Fq::MODULUS_MINUS_ONE_DIV_TWO
}

/// snarkjs's `hashToG2`: the G2 point a contribution's secret is proven against, derived from
/// its transcript hash.
pub fn hash_to_g2(transcript: &[u8; 64]) -> G2Affine {
    JsChaCha::from_hash(transcript).g2()
}

/// snarkjs's `rngFromBeaconParams`: SHA-256 iterated `2^iterations_exp` times over the beacon
/// value, then the generator seeded from the result.
pub fn beacon_rng(beacon: &[u8], iterations_exp: u8) -> JsChaCha {
    use sha2::Sha256;
    let mut cur = beacon.to_vec();
    let total = 1u128 << iterations_exp;
    let mut i = 0u128;
    while i < total {
        cur = Sha256::digest(&cur).to_vec();
        i += 1;
    }
    JsChaCha::from_hash(&cur)
}

/// snarkjs's `getRandomRng(entropy)`: BLAKE2b-512 over 64 bytes from the OS and the text.
pub fn entropy_rng(os: &[u8; 64], text: &str) -> JsChaCha {
    let mut h = Blake2b512::new();
    h.update(os);
    h.update(text.as_bytes());
    JsChaCha::from_hash(&h.finalize())
}

/// `e(a1, b2) == e(b1, a2)` with none of the four points at infinity: `b` is `a` times the same
/// secret in both groups.
pub fn same_ratio(a1: &G1Affine, b1: &G1Affine, a2: &G2Affine, b2: &G2Affine) -> bool {
    use ark_ec::pairing::Pairing;
    if a1.is_zero() || b1.is_zero() || a2.is_zero() || b2.is_zero() {
        return false;
    }
    ark_bn254::Bn254::multi_pairing([*a1, -*b1], [*b2, *a2]).is_zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip_and_refuse_bad_points() {
        let g1 = G1Affine::generator();
        let g2 = G2Affine::generator();
        let mut b = Vec::new();
        g1_lem(&g1, &mut b);
        g2_lem(&g2, &mut b);
        assert_eq!(g1_from_lem(&b[..64]), Some(g1));
        assert_eq!(g2_from_lem(&b[64..]), Some(g2));
        // Off the curve.
        let mut bad = b.clone();
        bad[40] ^= 1;
        assert_eq!(g1_from_lem(&bad[..64]), None);
        // Non-canonical coordinate.
        let mut nc = b.clone();
        nc[..32].copy_from_slice(&[0xff; 32]);
        assert_eq!(g1_from_lem(&nc[..64]), None);
        // The U form is big-endian standard coordinates: the generator is (1, 2).
        let u = g1_u(&g1);
        assert_eq!(u[31], 1);
        assert_eq!(u[63], 2);
        assert!(u[..31].iter().all(|&x| x == 0));
    }

    #[test]
    fn chacha_matches_the_reference_chacha20_keystream() {
        // Same constants, key words and counter layout as `rand_chacha`'s ChaCha20 with a zero
        // stream id, so the keystreams must agree word for word (across a block boundary too).
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        let mut key = [0u8; 32];
        for (i, k) in key.iter_mut().enumerate() {
            *k = i as u8;
        }
        let mut seed = [0u32; 8];
        for (i, w) in seed.iter_mut().enumerate() {
            *w = u32::from_le_bytes(key[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        }
        let mut ours = JsChaCha::new(seed);
        let mut reference = rand_chacha::ChaCha20Rng::from_seed(key);
        for _ in 0..40 {
            assert_eq!(ours.next_u32(), reference.next_u32());
        }
    }
}
