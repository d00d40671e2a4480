//! Export in snarkjs's JSON formats (`verification_key.json`, `proof.json`, `public.json`) so that
//! `snarkjs groth16 verify` checks our proofs, and import of snarkjs's `proof.json` and
//! `public.json` (so our verifier and light client check proofs snarkjs or rapidsnark made of our
//! circuit from a ceremony key). Points are affine, coordinates in decimal, G2
//! coordinates as `[c0, c1]`, with snarkjs's projective `z` (`"1"`, or `["1", "0"]`).

use ark_bn254::{Bn254, Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Proof, VerifyingKey};
use num_bigint::BigUint;
use rustorium_circuits::Fr;
use serde_json::{Value, json};

fn dec<F: PrimeField>(x: &F) -> String {
    BigUint::from_bytes_le(&x.into_bigint().to_bytes_le()).to_string()
}

fn g1(p: &G1Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([dec(&x), dec(&y), "1"]),
        None => json!(["0", "1", "0"]),
    }
}

fn g2(p: &G2Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([
            [dec(&x.c0), dec(&x.c1)],
            [dec(&y.c0), dec(&y.c1)],
            ["1", "0"]
        ]),
        None => json!([["0", "0"], ["1", "0"], ["0", "0"]]),
    }
}

/// `verification_key.json`.
pub fn verifying_key_json(vk: &VerifyingKey<Bn254>) -> Value {
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len() - 1,
        "vk_alpha_1": g1(&vk.alpha_g1),
        "vk_beta_2": g2(&vk.beta_g2),
        "vk_gamma_2": g2(&vk.gamma_g2),
        "vk_delta_2": g2(&vk.delta_g2),
        "IC": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
    })
}

/// `proof.json`.
pub fn proof_json(proof: &Proof<Bn254>) -> Value {
    json!({
        "pi_a": g1(&proof.a),
        "pi_b": g2(&proof.b),
        "pi_c": g1(&proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
}

/// `public.json`.
pub fn public_json(inputs: &[Fr]) -> Value {
    Value::Array(inputs.iter().map(|x| Value::String(dec(x))).collect())
}

/// Why a snarkjs JSON file was refused.
#[derive(Debug, thiserror::Error)]
#[error("snarkjs JSON: {0}")]
pub struct SnarkjsJsonError(String);

fn field<F: PrimeField>(v: &Value, what: &str) -> Result<F, SnarkjsJsonError> {
    let s = v
        .as_str()
        .ok_or_else(|| SnarkjsJsonError(format!("{what} is not a decimal string")))?;
    let n: BigUint = s
        .parse()
        .map_err(|_| SnarkjsJsonError(format!("{what} is not a decimal number")))?;
    let modulus: BigUint = F::MODULUS.into();
    if n >= modulus {
        return Err(SnarkjsJsonError(format!(
            "{what} is not below the field modulus"
        )));
    }
    Ok(F::from_le_bytes_mod_order(&n.to_bytes_le()))
}

fn at<'a>(v: &'a Value, i: usize, what: &str) -> Result<&'a Value, SnarkjsJsonError> {
    v.get(i)
        .ok_or_else(|| SnarkjsJsonError(format!("{what} has no element {i}")))
}

fn g1_from(v: &Value, what: &str) -> Result<G1Affine, SnarkjsJsonError> {
    let z: Fq = field(at(v, 2, what)?, what)?;
    if z != Fq::from(1u64) {
        return Err(SnarkjsJsonError(format!(
            "{what} is not an affine point (z != 1)"
        )));
    }
    let p = G1Affine::new_unchecked(field(at(v, 0, what)?, what)?, field(at(v, 1, what)?, what)?);
    if !p.is_on_curve() {
        return Err(SnarkjsJsonError(format!("{what} is not on the curve")));
    }
    Ok(p)
}

fn fq2_from(v: &Value, what: &str) -> Result<Fq2, SnarkjsJsonError> {
    Ok(Fq2::new(
        field(at(v, 0, what)?, what)?,
        field(at(v, 1, what)?, what)?,
    ))
}

fn g2_from(v: &Value, what: &str) -> Result<G2Affine, SnarkjsJsonError> {
    if fq2_from(at(v, 2, what)?, what)? != Fq2::from(1u64) {
        return Err(SnarkjsJsonError(format!(
            "{what} is not an affine point (z != 1)"
        )));
    }
    let p = G2Affine::new_unchecked(
        fq2_from(at(v, 0, what)?, what)?,
        fq2_from(at(v, 1, what)?, what)?,
    );
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(SnarkjsJsonError(format!("{what} is not a G2 point")));
    }
    Ok(p)
}

/// A Groth16 proof from snarkjs's `proof.json` (points checked on their curves and G2 in its
/// subgroup; the point at infinity is refused: no honest proof has one).
pub fn proof_from_json(v: &Value) -> Result<Proof<Bn254>, SnarkjsJsonError> {
    if v.get("protocol").and_then(Value::as_str) != Some("groth16") {
        return Err(SnarkjsJsonError("not a groth16 proof".into()));
    }
    Ok(Proof {
        a: g1_from(&v["pi_a"], "pi_a")?,
        b: g2_from(&v["pi_b"], "pi_b")?,
        c: g1_from(&v["pi_c"], "pi_c")?,
    })
}

/// Public inputs from snarkjs's `public.json` (canonical decimal field elements).
pub fn public_from_json(v: &Value) -> Result<Vec<Fr>, SnarkjsJsonError> {
    v.as_array()
        .ok_or_else(|| SnarkjsJsonError("public.json is not an array".into()))?
        .iter()
        .enumerate()
        .map(|(i, x)| field(x, &format!("public input {i}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;

    #[test]
    fn proofs_and_inputs_round_trip_and_bad_ones_are_refused() {
        let proof = Proof::<Bn254> {
            a: (G1Affine::generator() * Fr::from(3u64)).into_affine(),
            b: (G2Affine::generator() * Fr::from(5u64)).into_affine(),
            c: (G1Affine::generator() * Fr::from(7u64)).into_affine(),
        };
        let v = proof_json(&proof);
        assert_eq!(proof_from_json(&v).expect("parse"), proof);
        let inputs = vec![Fr::from(1u64), -Fr::from(2u64)];
        assert_eq!(
            public_from_json(&public_json(&inputs)).expect("parse"),
            inputs
        );

        let mut off = v.clone();
        off["pi_a"][1] = json!("5");
        assert!(
            proof_from_json(&off)
                .expect_err("refused")
                .to_string()
                .contains("pi_a is not on the curve")
        );
        let mut big = v.clone();
        big["pi_c"][0] = json!(BigUint::from(Fq::MODULUS).to_string());
        assert!(
            proof_from_json(&big)
                .expect_err("refused")
                .to_string()
                .contains("modulus")
        );
        let mut proj = v.clone();
        proj["pi_a"][2] = json!("2");
        assert!(proof_from_json(&proj).is_err());
        let mut short = v.clone();
        short["pi_b"] = json!([["1", "2"]]);
        assert!(proof_from_json(&short).is_err());
        let mut plonk = v;
        plonk["protocol"] = json!("plonk");
        assert!(proof_from_json(&plonk).is_err());
        assert!(public_from_json(&json!(["1", "x"])).is_err());
        assert!(public_from_json(&json!({"a": 1})).is_err());
    }
}
