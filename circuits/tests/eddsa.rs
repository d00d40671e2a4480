//! EdDSA-Poseidon against the published circomlibjs vector, negative cases, and a live round trip
//! with circomlibjs (signatures made here verify there and the reverse).

use std::io::Write;
use std::process::{Command, Stdio};

use ark_bn254::Fr;
use ark_ec::CurveGroup;
use ark_ff::Field;
use ark_std::UniformRand;
use ark_std::rand::RngCore;
use num_bigint::BigUint;
use rustorium_circuits::babyjubjub::{BASE8, Point, Scalar, pack_point, subgroup_order};
use rustorium_circuits::eddsa::{PublicKey, SecretKey, Signature, SignatureError};
use rustorium_circuits::field::{parse_field, to_decimal};

fn vector() -> serde_json::Value {
    let text = include_str!("../../tests/vectors/circomlib.json");
    let v: serde_json::Value = serde_json::from_str(text).expect("valid json");
    v["eddsa_poseidon_babyjubjub"].clone()
}

fn f(v: &serde_json::Value) -> Fr {
    parse_field(v.as_str().expect("string")).expect("canonical")
}

fn secret_from_hex(h: &str) -> SecretKey {
    SecretKey(hex::decode(h).expect("hex").try_into().expect("32 bytes"))
}

struct Fixture {
    key: PublicKey,
    msg: Fr,
    sig: Signature,
}

fn fixture() -> Fixture {
    let v = vector();
    let secret = secret_from_hex(v["private_key_hex"].as_str().expect("hex"));
    Fixture {
        key: secret.public_key(),
        msg: f(&v["message"]),
        sig: secret.sign(f(&v["message"])),
    }
}

#[test]
fn published_vector_matches() {
    let v = vector();
    let secret = secret_from_hex(v["private_key_hex"].as_str().expect("hex"));
    let key = secret.public_key();
    assert_eq!(key.0.x, f(&v["public_key"]["x"]));
    assert_eq!(key.0.y, f(&v["public_key"]["y"]));
    let msg = f(&v["message"]);
    let sig = secret.sign(msg);
    assert_eq!(sig.r8.x, f(&v["signature"]["r8x"]));
    assert_eq!(sig.r8.y, f(&v["signature"]["r8y"]));
    assert_eq!(sig.s.to_string(), v["signature"]["s"].as_str().expect("s"));
    let packed = sig.pack().expect("S fits");
    assert_eq!(
        hex::encode(packed),
        v["packed_signature_hex"].as_str().expect("hex")
    );
    assert_eq!(Signature::unpack(&packed), Ok(sig.clone()));
    assert_eq!(key.verify(msg, &sig), Ok(()));
    assert_eq!(PublicKey::unpack(&key.pack()), Ok(key));
}

#[test]
fn tampering_with_any_part_is_refused() {
    let Fixture { key, msg, sig } = fixture();
    // Message.
    assert_eq!(
        key.verify(msg + Fr::ONE, &sig),
        Err(SignatureError::Mismatch)
    );
    // S.
    let mut s2 = sig.clone();
    s2.s += 1u32;
    assert_eq!(key.verify(msg, &s2), Err(SignatureError::Mismatch));
    // S + l is the same point multiple but must be refused (malleability).
    let mut s3 = sig.clone();
    s3.s += subgroup_order();
    assert_eq!(key.verify(msg, &s3), Err(SignatureError::ScalarOutOfRange));
    // R8 replaced by another subgroup point.
    let mut s4 = sig.clone();
    s4.r8 = (sig.r8 + BASE8).into_affine();
    assert_eq!(key.verify(msg, &s4), Err(SignatureError::Mismatch));
    // R8 off the curve.
    let mut s5 = sig.clone();
    s5.r8 = Point::new_unchecked(sig.r8.x + Fr::ONE, sig.r8.y);
    assert_eq!(key.verify(msg, &s5), Err(SignatureError::NotOnCurve("R8")));
    // Another key.
    let other = SecretKey([7u8; 32]).public_key();
    assert_eq!(other.verify(msg, &sig), Err(SignatureError::Mismatch));
    // Key off the curve.
    let bad = PublicKey(Point::new_unchecked(key.0.x, key.0.y + Fr::ONE));
    assert_eq!(
        bad.verify(msg, &sig),
        Err(SignatureError::NotOnCurve("public key"))
    );
    // Key with a small-order component: on the curve, outside the subgroup.
    let low_order = Point::new_unchecked(Fr::from(0u64), -Fr::ONE); // (0, -1) has order 2
    assert!(low_order.is_on_curve());
    let mixed = PublicKey((key.0 + low_order).into_affine());
    assert_eq!(
        mixed.verify(msg, &sig),
        Err(SignatureError::NotInSubgroup("public key"))
    );
    // The identity key.
    assert_eq!(
        PublicKey(Point::zero()).validate(),
        Err(SignatureError::IdentityKey)
    );
    // Malformed packed signatures.
    assert_eq!(
        Signature::unpack(&[0u8; 63]),
        Err(SignatureError::Length(63))
    );
}

#[test]
fn random_keys_sign_and_verify() {
    let mut rng = ark_std::test_rng();
    for _ in 0..16 {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let sk = SecretKey(secret);
        let msg = Fr::rand(&mut rng);
        let sig = sk.sign(msg);
        let pk = sk.public_key();
        assert_eq!(pk.verify(msg, &sig), Ok(()));
        assert!(sig.s < subgroup_order());
        // A = Base8 * (s >> 3) and the packed key round-trips.
        assert_eq!(PublicKey::unpack(&pk.pack()), Ok(pk));
        let k = Scalar::from(sk.scalar() >> 3u32);
        assert_eq!((BASE8 * k).into_affine(), pk.0);
        assert_eq!(pack_point(&pk.0), pk.pack());
    }
}

/// Runs `scripts/js/interop.mjs` (circomlibjs). `None` only when the npm packages are missing and
/// RUSTORIUM_SKIP_INTEROP is set; otherwise a missing reference is a failure.
fn circomlibjs(request: &serde_json::Value) -> Option<serde_json::Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/js");
    if !std::path::Path::new(dir)
        .join("node_modules/circomlibjs")
        .exists()
    {
        assert!(
            std::env::var_os("RUSTORIUM_SKIP_INTEROP").is_some(),
            "circomlibjs is not installed in {dir}: run scripts/test.sh (or set RUSTORIUM_SKIP_INTEROP=1)"
        );
        return None;
    }
    let mut child = Command::new("node")
        .arg("interop.mjs")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write request");
    let out = child.wait_with_output().expect("node finishes");
    assert!(out.status.success(), "interop.mjs failed");
    Some(serde_json::from_slice(&out.stdout).expect("json answer"))
}

#[test]
fn signatures_interoperate_with_circomlibjs_both_ways() {
    let mut rng = ark_std::test_rng();
    let cases: Vec<(SecretKey, Fr)> = (0..6)
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            (SecretKey(s), Fr::rand(&mut rng))
        })
        .collect();
    let ours: Vec<(PublicKey, Signature)> = cases
        .iter()
        .map(|(sk, m)| (sk.public_key(), sk.sign(*m)))
        .collect();
    let sign_req: Vec<_> = cases
        .iter()
        .map(|(sk, m)| serde_json::json!({"secret": hex::encode(sk.0), "msg": to_decimal(m)}))
        .collect();
    // Ours, verified by circomlibjs; plus one tampered signature that must fail there too.
    let mut verify_req: Vec<_> = cases
        .iter()
        .zip(&ours)
        .map(|((_, m), (pk, sig))| {
            serde_json::json!({
                "pubkey": [to_decimal(&pk.0.x), to_decimal(&pk.0.y)],
                "msg": to_decimal(m),
                "sig": [to_decimal(&sig.r8.x), to_decimal(&sig.r8.y), sig.s.to_string()],
            })
        })
        .collect();
    let mut tampered = verify_req[0].clone();
    tampered["msg"] = serde_json::json!(to_decimal(&(cases[0].1 + Fr::ONE)));
    verify_req.push(tampered);
    let Some(answer) = circomlibjs(&serde_json::json!({"sign": sign_req, "verify": verify_req}))
    else {
        return;
    };
    let verdicts: Vec<bool> = answer["verify"]
        .as_array()
        .expect("verify")
        .iter()
        .map(|b| b.as_bool().expect("bool"))
        .collect();
    assert_eq!(verdicts.len(), cases.len() + 1);
    assert!(
        verdicts[..cases.len()].iter().all(|&ok| ok),
        "circomlibjs refused one of ours"
    );
    assert!(
        !verdicts[cases.len()],
        "circomlibjs accepted a tampered signature"
    );
    // Theirs, verified here, and bit-identical to ours (signing is deterministic).
    for ((case, (pk, sig)), theirs) in cases
        .iter()
        .zip(&ours)
        .zip(answer["sign"].as_array().expect("sign"))
    {
        let key = PublicKey::from_xy(f(&theirs["pubkey"][0]), f(&theirs["pubkey"][1]))
            .expect("valid key");
        assert_eq!(&key, pk);
        let their_sig = Signature {
            r8: Point::new_unchecked(f(&theirs["sig"][0]), f(&theirs["sig"][1])),
            s: theirs["sig"][2]
                .as_str()
                .expect("s")
                .parse::<BigUint>()
                .expect("integer"),
        };
        assert_eq!(key.verify(case.1, &their_sig), Ok(()));
        assert_eq!(&their_sig, sig);
        assert_eq!(
            theirs["packed"].as_str(),
            Some(hex::encode(sig.pack().expect("fits")).as_str())
        );
    }
}
