//! The phase-2 ceremony against snarkjs (issue 19): a chain of contributions made by our CLI,
//! snarkjs and our library, ending in a beacon, verified by both tools; tampering refused by
//! both; the final key exported to our key files, accepted by a non-devnet node, and proofs
//! crossing between our prover and snarkjs in both directions.
//!
//! The Powers of Tau (2^14, enough for the depth-4 × 1 block circuit) is made by snarkjs itself
//! (`powersoftau new`, a beacon, `prepare phase2`: ~4 min here) and cached under the target
//! directory, so only a cold build pays for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ark_std::rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rustorium::accel::CpuHasher;
use rustorium::light::verify_envelope;
use rustorium::prover::ceremony::{self, Zkey};
use rustorium::prover::{
    CircuitMatrices, ProofEnvelope, Prover, circom, load_proving_key, proof_from_json, proof_json,
    public_from_json, public_json, verify, vk_hash,
};
use rustorium::state::{StateStore, StoreOptions, dev_secret, execute_block};
use rustorium_circuits::account::Account;
use rustorium_circuits::block::{BlockCircuit, CircuitShape};
use rustorium_circuits::transfer::{Recipient, Transfer};

const SHAPE: CircuitShape = CircuitShape {
    depth: 4,
    capacity: 1,
};
const CHAIN: u64 = 5;
const BEACON: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn snarkjs() -> Option<PathBuf> {
    let js =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/js/node_modules/snarkjs/build/cli.cjs");
    if !js.exists() {
        assert!(
            std::env::var_os("RUSTORIUM_SKIP_INTEROP").is_some(),
            "snarkjs missing: run scripts/test.sh"
        );
        return None;
    }
    Some(js)
}

/// Runs a command; returns (success, stdout + stderr).
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("command runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn js(snarkjs: &Path, args: &[&str]) -> (bool, String) {
    run(Command::new("node").arg(snarkjs).args(args))
}

fn ours(args: &[&str]) -> (bool, String) {
    run(Command::new(env!("CARGO_BIN_EXE_rustorium")).args(args))
}

/// The 2^14 Powers of Tau, made by snarkjs (`scripts/ceremony-fixture.sh`) once and cached under
/// the target directory. `scripts/test.sh` starts making it before the build; wait for that run
/// (its marker names its PID) or make it here.
fn ptau() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ceremony");
    let out = dir.join("pot14_beacon.ptau");
    let usable =
        |p: &Path| std::fs::read(p).is_ok_and(|bytes| ceremony::Ptau::read(&bytes).is_ok());
    let marker = dir.join("pot14_beacon.ptau.generating");
    let running = || {
        std::fs::read_to_string(&marker)
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    };
    let start = std::time::Instant::now();
    while !out.exists() && running() && start.elapsed() < std::time::Duration::from_secs(1200) {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    if usable(&out) {
        return out;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ceremony-fixture.sh");
    let (ok, text) = run(Command::new(script).arg(&out));
    assert!(ok && usable(&out), "making the powers of tau: {text}");
    out
}

/// A store at depth 4 with three accounts, and the circuit of one block of one transfer.
fn block() -> (tempfile::TempDir, BlockCircuit) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::create(
        &dir.path().join("s.redb"),
        SHAPE.depth,
        CHAIN,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    let genesis: BTreeMap<u64, Account> = (0..3u64)
        .map(|i| (i, Account::new(dev_secret(i).public_key(), 500)))
        .collect();
    store.commit(0, &genesis).expect("genesis");
    let tx = Transfer {
        chain_id: CHAIN,
        from: 0,
        to: Recipient::Index(1),
        amount: 10,
        fee: 1,
        nonce: 0,
    }
    .sign(&dev_secret(0));
    let b = execute_block(&store, &[tx], 2, true).expect("execute");
    assert!(b.rejected.is_empty());
    let c = BlockCircuit::from_witness(&b.witness.expect("witness"), 2, 1, SHAPE).expect("layout");
    (dir, c)
}

/// The contribution hash snarkjs prints (four rows of four hex words after "Contribution Hash:").
fn printed_hash(text: &str) -> String {
    let at = text
        .find("Contribution Hash:")
        .unwrap_or_else(|| panic!("no hash in {text}"));
    text[at..]
        .lines()
        .skip(1)
        .take(4)
        .flat_map(|l| {
            l.split_whitespace()
                .filter(|w| w.len() == 8 && w.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .collect()
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_ceremony_mixing_snarkjs_and_ours_verifies_in_both_and_its_keys_prove_across_tools() {
    let Some(sj) = snarkjs() else { return };
    let ptau = ptau();
    let dir = tempfile::tempdir().expect("tempdir");
    let f = |n: &str| dir.path().join(n).to_str().expect("utf8").to_string();
    let pt = ptau.to_str().expect("utf8");

    // The circuit as snarkjs sees it.
    let m = CircuitMatrices::of(BlockCircuit::blank(SHAPE).expect("shape")).expect("matrices");
    let mut r1cs = Vec::new();
    circom::write_r1cs(&m, &mut r1cs).expect("r1cs");
    std::fs::write(f("block.r1cs"), &r1cs).expect("write");

    // 0: our CLI makes the initial key; 1: our CLI contributes; 2: snarkjs; 3: our library;
    // 4: a beacon, by our CLI and, separately, by snarkjs.
    let (ok, text) = ours(&[
        "ceremony",
        "new",
        "--ptau",
        pt,
        "--shape",
        "4x1",
        "--out",
        &f("c0.zkey"),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = ours(&[
        "ceremony",
        "contribute",
        "--in",
        &f("c0.zkey"),
        "--out",
        &f("c1.zkey"),
        "--name",
        "alice",
        "--entropy",
        "alice's dice",
    ]);
    assert!(ok && text.contains("contribution hash"), "{text}");
    let (ok, bob) = js(
        &sj,
        &[
            "zkey",
            "contribute",
            &f("c1.zkey"),
            &f("c2.zkey"),
            "--name=bob",
            "-e=bob's entropy",
        ],
    );
    assert!(ok, "{bob}");
    let read = |n: &str| Zkey::read(&std::fs::read(f(n)).expect("read")).expect("parse");
    let mut z = read("c2.zkey");
    let carol = ceremony::contribute(&mut z, "carol's entropy", Some("carol")).expect("contribute");
    std::fs::write(f("c3.zkey"), z.to_bytes()).expect("write");
    let (ok, text) = ours(&[
        "ceremony",
        "beacon",
        "--in",
        &f("c3.zkey"),
        "--out",
        &f("c4.zkey"),
        "--beacon",
        BEACON,
        "--iterations-exp",
        "10",
        "--name",
        "beacon",
    ]);
    assert!(ok, "{text}");
    let (ok, text) = js(
        &sj,
        &[
            "zkey",
            "beacon",
            &f("c3.zkey"),
            &f("s4.zkey"),
            BEACON,
            "10",
            "--name=beacon",
        ],
    );
    assert!(ok, "{text}");
    // A beacon is deterministic: both tools derive the same secret and write the same key.
    let fin = read("c4.zkey");
    assert_eq!(fin, read("s4.zkey"), "our beacon differs from snarkjs's");

    // Our verification: four contributions, their names, and the hashes snarkjs printed.
    let init = read("c0.zkey");
    let list = ceremony::verify(&fin, &init).expect("our verify accepts the chain");
    let names: Vec<_> = list
        .iter()
        .map(|c| c.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol", "beacon"]);
    assert_eq!(
        list.iter().map(|c| c.beacon).collect::<Vec<_>>(),
        [false, false, false, true]
    );
    assert_eq!(
        hex(&list[1].hash),
        printed_hash(&bob),
        "bob's hash as snarkjs printed it"
    );
    assert_eq!(list[2].hash, carol);
    // snarkjs's verification from the .r1cs and the .ptau (it rebuilds the initial key itself, so
    // this also checks that our `ceremony new` made exactly snarkjs's).
    let (ok, text) = js(
        &sj,
        &["zkey", "verify", &f("block.r1cs"), pt, &f("c4.zkey")],
    );
    assert!(
        ok && text.contains("ZKey Ok!"),
        "snarkjs refused our chain: {text}"
    );

    // Tampering. A C point replaced by another valid point: both tools refuse.
    let mut bad = fin.clone();
    bad.c[7] = bad.c[8];
    std::fs::write(f("bad_c.zkey"), bad.to_bytes()).expect("write");
    let e = ceremony::verify(&bad, &init)
        .expect_err("tampered C accepted")
        .to_string();
    assert!(e.contains("section C"), "{e}");
    let (ok, text) = js(
        &sj,
        &[
            "zkey",
            "verify",
            "init",
            &f("c0.zkey"),
            pt,
            &f("bad_c.zkey"),
        ],
    );
    assert!(
        !ok || !text.contains("ZKey Ok!"),
        "snarkjs accepted a tampered C: {text}"
    );
    // A contribution's public key changed (as if bob had not known his secret): both refuse.
    let mut bad = fin.clone();
    bad.contributions[1].g1_sx = bad.contributions[0].g1_sx;
    std::fs::write(f("bad_key.zkey"), bad.to_bytes()).expect("write");
    let e = ceremony::verify(&bad, &init)
        .expect_err("tampered key accepted")
        .to_string();
    assert!(e.contains("contribution 2"), "{e}");
    let (ok, text) = js(
        &sj,
        &[
            "zkey",
            "verify",
            "init",
            &f("c0.zkey"),
            pt,
            &f("bad_key.zkey"),
        ],
    );
    assert!(
        !ok || !text.contains("ZKey Ok!"),
        "snarkjs accepted a tampered key: {text}"
    );
    // δ moved without a contribution record: refused.
    let mut bad = fin.clone();
    bad.delta1 = init.delta1;
    assert!(ceremony::verify(&bad, &init).is_err());
    // Our CLI's verify against the initial key: the good chain, then a tampered one (exit 1).
    let (ok, text) = ours(&[
        "ceremony",
        "verify",
        "--init",
        &f("c0.zkey"),
        "--zkey",
        &f("c4.zkey"),
    ]);
    assert!(
        ok && text.contains("valid") && text.contains("#2 bob"),
        "{text}"
    );
    let (ok, text) = ours(&[
        "ceremony",
        "verify",
        "--init",
        &f("c0.zkey"),
        "--zkey",
        &f("bad_c.zkey"),
    ]);
    assert!(!ok && text.contains("invalid"), "{text}");

    // Export to our key files (the CLI verifies the chain first) into a node's key directory.
    let keys_dir = dir.path().join("keys");
    // Against the initial key verified above (the coordinator's published c0, which snarkjs's
    // `zkey verify` rebuilt from the .ptau); it must be this shape's circuit.
    let (ok, text) = ours(&[
        "ceremony",
        "export",
        "--init",
        &f("c0.zkey"),
        "--shape",
        "4x2",
        "--zkey",
        &f("c4.zkey"),
        "--keys-dir",
        keys_dir.to_str().expect("utf8"),
    ]);
    assert!(
        !ok && text.contains("is not the initial key of the 4x2"),
        "{text}"
    );
    let (ok, text) = ours(&[
        "ceremony",
        "export",
        "--init",
        &f("c0.zkey"),
        "--shape",
        "4x1",
        "--zkey",
        &f("c4.zkey"),
        "--keys-dir",
        keys_dir.to_str().expect("utf8"),
    ]);
    assert!(ok, "{text}");
    let keys = load_proving_key(&keys_dir.join("d4-c1/proving.key")).expect("load");
    let transcript = ceremony::transcript_hash(&fin);
    assert_eq!(keys.transcript, Some(transcript));
    assert_eq!(keys.dev_seed, None);
    assert!(text.contains(&hex(&vk_hash(&keys.pk.vk))), "{text}");
    // A node of a chain that is not a devnet accepts it and reports the transcript.
    let node_keys =
        rustorium::node::load_or_make_keys(&keys_dir, SHAPE, 7, false).expect("accepted");
    assert_eq!(
        rustorium::node::key_provenance(&node_keys),
        format!("ceremony:{}", hex(&transcript))
    );

    // Our prover with the exported key; our verifier and snarkjs (with the verification key
    // snarkjs exports from the .zkey itself) accept the proof.
    let (_store, circuit) = block();
    let inputs = circuit.public_inputs();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (proof, _) = keys
        .prove(&Prover::cpu(), circuit.clone(), &mut rng)
        .expect("prove");
    assert!(verify(&keys.pk.vk, &proof, &inputs));
    let (ok, text) = js(
        &sj,
        &[
            "zkey",
            "export",
            "verificationkey",
            &f("c4.zkey"),
            &f("vk.json"),
        ],
    );
    assert!(ok, "{text}");
    std::fs::write(f("proof.json"), proof_json(&proof).to_string()).expect("write");
    std::fs::write(f("public.json"), public_json(&inputs).to_string()).expect("write");
    let (ok, text) = js(
        &sj,
        &[
            "groth16",
            "verify",
            &f("vk.json"),
            &f("public.json"),
            &f("proof.json"),
        ],
    );
    assert!(
        ok && text.contains("OK"),
        "snarkjs refused our proof: {text}"
    );

    // snarkjs proves the same block from the .zkey and our .wtns; our light client's check
    // accepts that proof inside an envelope, and refuses it for other inputs.
    let mut wtns = Vec::new();
    circom::write_wtns(
        &rustorium::prover::assignment(circuit.clone()).expect("assign"),
        &mut wtns,
    )
    .expect("wtns");
    std::fs::write(f("block.wtns"), &wtns).expect("write");
    let (ok, text) = js(
        &sj,
        &[
            "groth16",
            "prove",
            &f("c4.zkey"),
            &f("block.wtns"),
            &f("sproof.json"),
            &f("spublic.json"),
        ],
    );
    assert!(ok, "{text}");
    let json = |n: &str| {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(f(n)).expect("read"))
            .expect("json")
    };
    let sproof = proof_from_json(&json("sproof.json")).expect("snarkjs proof");
    assert_eq!(
        public_from_json(&json("spublic.json")).expect("public"),
        inputs
    );
    let env = ProofEnvelope::new(
        1,
        CHAIN,
        SHAPE,
        inputs,
        sproof.clone(),
        vk_hash(&keys.pk.vk),
    );
    verify_envelope(&keys.pk.vk, &env).expect("our light client accepts snarkjs's proof");
    let mut wrong = inputs;
    wrong[2] += rustorium_circuits::Fr::from(1u64);
    assert!(!verify(&keys.pk.vk, &sproof, &wrong));
}
