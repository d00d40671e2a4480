//! Poseidon against the published circomlib vectors and constants, against light-poseidon, and the
//! optimized permutation against the plain one.

use ark_bn254::Fr;
use ark_std::UniformRand;
use rustorium_circuits::field::{FieldError, parse_field, to_decimal};
use rustorium_circuits::poseidon::{self, PoseidonError, PoseidonField};

fn shared_vectors() -> serde_json::Value {
    let text = include_str!("../../tests/vectors/circomlib.json");
    serde_json::from_str(text).expect("valid json")
}

#[test]
fn every_published_vector_matches() {
    let v = shared_vectors();
    let list = v["poseidon_circom_bn254"]["vectors"]
        .as_array()
        .expect("vectors");
    assert!(list.len() >= 7);
    for case in list {
        let inputs: Vec<Fr> = case["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|x| parse_field(x.as_str().expect("string")).expect("canonical"))
            .collect();
        let expected = case["output"].as_str().expect("output");
        assert_eq!(
            to_decimal(&poseidon::hash(&inputs).expect("arity")),
            expected,
            "{inputs:?}"
        );
        assert_eq!(
            to_decimal(&poseidon::hash_plain(&inputs).expect("arity")),
            expected
        );
    }
}

/// The generated constants equal the ones circomlibjs publishes (`poseidon_constants.json`), for
/// every width 2..=17. Needs the npm packages of `scripts/js` (the test set-up installs them).
#[test]
fn generated_constants_equal_circomlibjs_published_constants() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/js/node_modules/circomlibjs/src/poseidon_constants.json"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        assert!(
            std::env::var_os("RUSTORIUM_SKIP_INTEROP").is_some(),
            "{path} is missing: run scripts/test.sh (or set RUSTORIUM_SKIP_INTEROP=1)"
        );
        return;
    };
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    let parse = |v: &serde_json::Value| -> Fr {
        parse_field(v.as_str().expect("hex string")).expect("canonical")
    };
    for t in 2..=17 {
        let spec = Fr::poseidon_spec(t).expect("width exists");
        let c: Vec<Fr> = json["C"][t - 2]
            .as_array()
            .expect("C")
            .iter()
            .map(parse)
            .collect();
        assert_eq!(c, spec.round_constants, "round constants, t = {t}");
        let m: Vec<Vec<Fr>> = json["M"][t - 2]
            .as_array()
            .expect("M")
            .iter()
            .map(|row| row.as_array().expect("row").iter().map(parse).collect())
            .collect();
        assert_eq!(m, spec.mds, "MDS matrix, t = {t}");
    }
}

#[test]
fn optimized_equals_plain_on_random_inputs_for_every_width() {
    let mut rng = ark_std::test_rng();
    for arity in 1..=16 {
        for _ in 0..8 {
            let inputs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
            assert_eq!(
                poseidon::hash(&inputs),
                poseidon::hash_plain(&inputs),
                "arity {arity}"
            );
        }
    }
}

#[test]
fn agrees_with_light_poseidon_on_random_inputs() {
    use light_poseidon::{Poseidon, PoseidonHasher};
    let mut rng = ark_std::test_rng();
    // light-poseidon supports widths up to 13 (12 inputs).
    for arity in 1..=12 {
        let mut reference = Poseidon::<Fr>::new_circom(arity).expect("light-poseidon width");
        for _ in 0..8 {
            let inputs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
            assert_eq!(
                poseidon::hash(&inputs).expect("arity"),
                reference.hash(&inputs).expect("hash")
            );
        }
    }
    let a = Fr::rand(&mut rng);
    let b = Fr::rand(&mut rng);
    assert_eq!(
        poseidon::hash2(a, b),
        poseidon::hash(&[a, b]).expect("arity")
    );
}

#[test]
fn bad_arity_and_non_canonical_inputs_are_errors() {
    assert_eq!(poseidon::hash::<Fr>(&[]), Err(PoseidonError::Arity(0)));
    assert_eq!(
        poseidon::hash(&[Fr::from(1u64); 17]),
        Err(PoseidonError::Arity(17))
    );
    let p = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
    assert!(matches!(
        parse_field::<Fr>(p),
        Err(FieldError::NonCanonical(_))
    ));
    let mut out = [Fr::from(0u64); 2];
    assert!(matches!(
        poseidon::hash_many(2, &[Fr::from(1u64); 5], &mut out),
        Err(PoseidonError::BatchShape { .. })
    ));
    poseidon::hash_many(
        2,
        &[
            Fr::from(1u64),
            Fr::from(2u64),
            Fr::from(3u64),
            Fr::from(4u64),
        ],
        &mut out,
    )
    .expect("shape fits");
    assert_eq!(
        out[1],
        poseidon::hash(&[Fr::from(3u64), Fr::from(4u64)]).expect("arity")
    );
}
