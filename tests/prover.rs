//! Our Groth16 prover: proofs verify with ark-groth16, equal ark-groth16's own for the same
//! blinding, never verify against another block's inputs; keys and envelopes round-trip and refuse
//! corruption; light-client chain verification; snarkjs interop. The halo2 proof system on the
//! same blocks: real proofs, their envelopes and a light client syncing a halo2 chain.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, R1CS_PREDICATE_LABEL, SynthesisMode,
};
use ark_std::rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rustorium::accel::CpuHasher;
use rustorium::halo2::{Halo2Prover, Halo2Verifier};
use rustorium::light::{
    BlockData, ChainSpec, LightClient, LightError, verify_account, verify_chain, verify_envelope,
    verify_halo2_envelope,
};
use rustorium::prover::BlockProof;
use rustorium::prover::{
    KeyPair, PreparedKey, ProofEnvelope, Prover, ProverError, dev_setup, load_proving_key,
    load_verifying_key, proof_json, public_json, save_keys, verify, verifying_key_json, vk_hash,
};
use rustorium::state::{StateStore, StoreOptions, dev_secret, execute_block};
use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::block::{BlockCircuit, CircuitShape};
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer};

const CHAIN: u64 = 3;
const SHAPE: CircuitShape = CircuitShape {
    depth: 4,
    capacity: 2,
};
const PRODUCER: u64 = 2;

fn keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(|| dev_setup(SHAPE, 7).expect("setup"))
}

fn t(from: u64, to: Recipient, amount: u64, fee: u64, nonce: u64) -> SignedTransfer {
    Transfer {
        chain_id: CHAIN,
        from,
        to,
        amount,
        fee,
        nonce,
    }
    .sign(&dev_secret(from))
}

/// Three consecutive blocks executed on one store: their circuits, and the store.
fn chain() -> (tempfile::TempDir, StateStore, Vec<BlockCircuit>) {
    let (d, s, blocks) = chain_with_data();
    (d, s, blocks.into_iter().map(|(c, _)| c).collect())
}

/// [`chain`], with each block's light-client data.
fn chain_with_data() -> (
    tempfile::TempDir,
    StateStore,
    Vec<(BlockCircuit, BlockData)>,
) {
    chain_of(
        SHAPE,
        &[
            vec![
                t(0, Recipient::Index(1), 10, 1, 0),
                t(1, Recipient::NewKey(dev_secret(9).public_key()), 5, 2, 0),
            ],
            vec![t(0, Recipient::Index(3), 1, 0, 1)],
            vec![t(2, Recipient::Index(0), 4, 1, 0)],
        ],
    )
}

/// `blocks` executed one after the other on one store, laid out for `shape`.
fn chain_of(
    shape: CircuitShape,
    blocks: &[Vec<SignedTransfer>],
) -> (
    tempfile::TempDir,
    StateStore,
    Vec<(BlockCircuit, BlockData)>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::create(
        &dir.path().join("s.redb"),
        shape.depth,
        CHAIN,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    let genesis: BTreeMap<u64, Account> = (0..3u64)
        .map(|i| (i, Account::new(dev_secret(i).public_key(), 500)))
        .collect();
    store.commit(0, &genesis).expect("genesis");
    let circuits = blocks
        .iter()
        .enumerate()
        .map(|(i, txs)| {
            let height = i as u64 + 1;
            let b = execute_block(&store, txs, PRODUCER, true).expect("execute");
            assert!(b.rejected.is_empty());
            let data = BlockData {
                height,
                producer: PRODUCER,
                transfers: b
                    .applied
                    .iter()
                    .map(|a| (a.tx.clone(), a.to_index))
                    .collect(),
            };
            let c =
                BlockCircuit::from_witness(&b.witness.expect("witness"), PRODUCER, height, shape)
                    .expect("layout");
            (c, data)
        })
        .collect();
    (dir, store, circuits)
}

fn envelope(height: u64, c: &BlockCircuit) -> ProofEnvelope {
    let mut rng = ChaCha20Rng::seed_from_u64(height);
    let (proof, _) = keys()
        .prove(&Prover::cpu(), c.clone(), &mut rng)
        .expect("prove");
    ProofEnvelope::new(
        height,
        CHAIN,
        SHAPE,
        c.public_inputs(),
        proof,
        vk_hash(&keys().pk.vk),
    )
}

#[test]
fn our_proofs_equal_ark_groth16_and_bind_their_inputs() {
    let (_d, _s, circuits) = chain();
    let pk = &keys().pk;
    let c = &circuits[0];
    let r = Fr::from(12345u64);
    let s = Fr::from(678u64);
    let m = keys().matrices().expect("matrices");
    let (ours, timings) = Prover::cpu()
        .prove_with_randomness(pk, &m, c.clone(), r, s)
        .expect("prove");
    assert!(timings.constraints > 10_000);
    // ark-groth16's prover on the same key, circuit and blinding.
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    c.clone()
        .generate_constraints(cs.clone())
        .expect("synthesize");
    cs.finalize();
    let matrices = cs
        .to_matrices()
        .expect("matrices")
        .remove(R1CS_PREDICATE_LABEL)
        .expect("r1cs");
    let z = [
        cs.instance_assignment().expect("x"),
        cs.witness_assignment().expect("w"),
    ]
    .concat();
    let theirs = Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
        pk,
        r,
        s,
        &matrices,
        cs.num_instance_variables(),
        cs.num_constraints(),
        &z,
    )
    .expect("ark prove");
    assert_eq!(ours, theirs, "our prover and ark-groth16 disagree");
    let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &ours, &c.public_inputs()).expect("verify"));
    // Never against another block's inputs, nor with an input changed.
    for other in &circuits[1..] {
        assert!(!verify(&pk.vk, &ours, &other.public_inputs()));
    }
    let mut inputs = c.public_inputs();
    inputs[2] += Fr::from(1u64);
    assert!(!verify(&pk.vk, &ours, &inputs));
    // The key prepared once (what a light client holds) judges alike, a wrong input count
    // included (refused, not a panic).
    let prepared = PreparedKey::new(&pk.vk);
    assert!(prepared.verify(&ours, &c.public_inputs()));
    assert!(!prepared.verify(&ours, &inputs));
    assert!(!prepared.verify(&ours, &c.public_inputs()[1..]));
    assert!(!verify(&pk.vk, &ours, &c.public_inputs()[1..]));
    // A witness that does not satisfy the circuit is refused before any MSM.
    let mut bad = c.clone();
    bad.slots[0].amount += Fr::from(1u64);
    assert!(matches!(
        Prover::cpu().prove_with_randomness(pk, &m, bad, r, s),
        Err(ProverError::Unsatisfied)
    ));
    // A circuit of another shape is refused.
    let other = BlockCircuit::blank(CircuitShape {
        depth: 4,
        capacity: 1,
    })
    .expect("shape");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    assert!(matches!(
        keys().prove(&Prover::cpu(), other, &mut rng),
        Err(ProverError::KeyMismatch(_))
    ));
}

#[test]
fn keys_round_trip_and_refuse_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pk_path, vk_path) = save_keys(dir.path(), keys()).expect("save");
    let loaded = load_proving_key(&pk_path).expect("load pk");
    assert_eq!(loaded.shape, SHAPE);
    assert_eq!(loaded.dev_seed, Some(7));
    assert_eq!(loaded.pk, keys().pk);
    let (shape, vk) = load_verifying_key(&vk_path).expect("load vk");
    assert_eq!((shape, &vk), (SHAPE, &keys().pk.vk));
    // Same seed, same key; another seed, another key.
    assert_eq!(
        vk_hash(&dev_setup(SHAPE, 7).expect("setup").pk.vk),
        vk_hash(&vk)
    );
    // One flipped byte anywhere is caught by the hash.
    let mut bytes = std::fs::read(&pk_path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&pk_path, &bytes).expect("write");
    assert!(
        load_proving_key(&pk_path)
            .expect_err("corrupt")
            .to_string()
            .contains("hash")
    );
    std::fs::write(&pk_path, &bytes[..100]).expect("write");
    assert!(load_proving_key(&pk_path).is_err());
    assert!(
        load_proving_key(&vk_path).is_err(),
        "a verifying key is not a proving key"
    );
}

/// [`chain_with_data`] proven: the store, each block's envelope with its data, and the light
/// client's view of the chain (its chain id, genesis root and the test key's hash).
fn proven_chain() -> (
    tempfile::TempDir,
    StateStore,
    Vec<(ProofEnvelope, BlockData)>,
    ChainSpec,
) {
    let (d, store, blocks) = chain_with_data();
    let chain = blocks
        .iter()
        .enumerate()
        .map(|(i, (c, data))| (envelope(i as u64 + 1, c), data.clone()))
        .collect();
    let spec = ChainSpec {
        chain_id: CHAIN,
        genesis_root: store.reader().expect("r").root(0).expect("root"),
        vk_hash: vk_hash(&keys().pk.vk),
    };
    (d, store, chain, spec)
}

#[test]
fn light_client_verifies_a_chain_and_accounts() {
    let (_d, store, chain, spec) = proven_chain();
    let vk = &keys().pk.vk;
    let (head, root) = verify_chain(spec.clone(), vk, &chain).expect("chain verifies");
    assert_eq!(head, 3);
    assert_eq!(root, store.reader().expect("r").root(3).expect("root"));
    // Envelopes round-trip through bytes.
    for (e, _) in &chain {
        let decoded = ProofEnvelope::decode(&e.encode()).expect("decode");
        assert_eq!(&decoded, e);
        verify_envelope(vk, &decoded).expect("verifies");
    }
    // Gaps and reordering are refused.
    assert!(matches!(
        verify_chain(spec.clone(), vk, &chain[1..]),
        Err(LightError::Height { .. })
    ));
    let mut swapped = chain.clone();
    swapped.swap(0, 1);
    assert!(verify_chain(spec.clone(), vk, &swapped).is_err());
    // A proof is bound to its roots, its height and its chain.
    let mut forged = chain[0].0.clone();
    forged.roots[1] = chain[1].0.new_root();
    assert_eq!(
        verify_envelope(vk, &forged),
        Err(LightError::InvalidProof(1))
    );
    let mut relabelled = chain[0].0.clone();
    relabelled.height = 7;
    assert_eq!(
        verify_envelope(vk, &relabelled),
        Err(LightError::InvalidProof(7))
    );
    let mut other_chain = chain[0].0.clone();
    other_chain.chain_id = CHAIN + 1;
    assert_eq!(
        verify_envelope(vk, &other_chain),
        Err(LightError::InvalidProof(1))
    );
    let other = dev_setup(SHAPE, 8).expect("setup");
    assert_eq!(
        verify_envelope(&other.pk.vk, &chain[0].0),
        Err(LightError::WrongKey(1))
    );
    // Account proofs against the verified head.
    let r = store.reader().expect("r");
    verify_account(&r.proof(3, 3).expect("proof"), root).expect("new account verifies");
    verify_account(&r.proof(9, 3).expect("proof"), root).expect("empty leaf verifies");
    assert!(
        verify_account(&r.proof(3, 1).expect("proof"), root).is_err(),
        "old state against the new root"
    );
    // Malformed envelope bytes, and the unbound version 1.
    let bytes = chain[0].0.encode();
    assert!(ProofEnvelope::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut bad = bytes.clone();
    bad[0] = 1;
    assert!(ProofEnvelope::decode(&bad).is_err());
    let mut bad = bytes.clone();
    bad[130] ^= 0xff;
    assert!(
        ProofEnvelope::decode(&bad).is_err()
            || verify_envelope(vk, &ProofEnvelope::decode(&bad).expect("d")).is_err()
    );
}

/// A lying data source (a dishonest node, or one in between) against the light client: every lie
/// is refused with its reason, and the client's head does not move.
#[test]
fn light_client_refuses_every_lie_about_a_chain() {
    let (_d, _store, chain, spec) = proven_chain();
    let vk = &keys().pk.vk;
    // A key other than the pinned one (the server's own trapdoor).
    let other = dev_setup(SHAPE, 8).expect("setup");
    assert!(matches!(
        LightClient::new(spec.clone(), &other.pk.vk),
        Err(LightError::UnpinnedKey { .. })
    ));
    // A genesis of another chain with the same shape and key: the proofs are bound to chain 3.
    let foreign = ChainSpec {
        chain_id: CHAIN + 1,
        ..spec.clone()
    };
    assert!(matches!(
        verify_chain(foreign, vk, &chain),
        Err(LightError::WrongChain { .. })
    ));
    let mut client = LightClient::new(spec.clone(), vk).expect("client");
    client.apply(&chain[0].0, &chain[0].1).expect("block 1");
    let head = client.head();
    let (env2, data2) = &chain[1];
    let (env3, data3) = &chain[2];
    let lies: Vec<(&str, ProofEnvelope, BlockData)> = vec![
        (
            "a transfer dropped",
            env3.clone(),
            BlockData {
                transfers: vec![],
                ..data3.clone()
            },
        ),
        (
            "another recipient index",
            env2.clone(),
            BlockData {
                transfers: data2
                    .transfers
                    .iter()
                    .map(|(t, to)| (t.clone(), to + 1))
                    .collect(),
                ..data2.clone()
            },
        ),
        (
            "another producer",
            env2.clone(),
            BlockData {
                producer: 1,
                ..data2.clone()
            },
        ),
        (
            "a foreign block's transfers",
            env2.clone(),
            BlockData {
                height: 2,
                ..data3.clone()
            },
        ),
        ("a skipped block", env3.clone(), data3.clone()),
        (
            "the envelope relabelled as the next height",
            ProofEnvelope {
                height: 2,
                ..chain[0].0.clone()
            },
            BlockData {
                height: 2,
                ..chain[0].1.clone()
            },
        ),
        (
            "a transfer of another chain",
            env2.clone(),
            BlockData {
                transfers: data2
                    .transfers
                    .iter()
                    .map(|(t, to)| {
                        let mut t = t.clone();
                        t.tx.chain_id = CHAIN + 1;
                        (t, *to)
                    })
                    .collect(),
                ..data2.clone()
            },
        ),
    ];
    for (what, env, data) in &lies {
        assert!(client.apply(env, data).is_err(), "accepted {what}");
        assert_eq!(client.head(), head, "{what} moved the head");
    }
    // The no-op block a server would pad a chain with: no transfers, old root = new root. Its
    // proof cannot exist (see tests/block_circuit.rs); its data alone is already refused.
    let noop = BlockData {
        height: 2,
        producer: PRODUCER,
        transfers: vec![],
    };
    let mut noop_env = env2.clone();
    noop_env.roots = [head.1, head.1, noop.commitment(CHAIN)];
    assert_eq!(client.apply(&noop_env, &noop), Err(LightError::NoOp(2)));
    // The honest chain continues.
    client.apply(env2, data2).expect("block 2");
    client.apply(env3, data3).expect("block 3");
    assert_eq!(client.head().0, 3);
}

/// snarkjs (npm, installed by the test set-up) verifies our exported proof and refuses a tampered
/// one.
#[test]
fn snarkjs_verifies_exported_proofs() {
    let Some(snarkjs) = snarkjs_cli() else { return };
    let (_d, _s, circuits) = chain();
    let env = envelope(1, &circuits[0]);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, v: serde_json::Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).expect("write");
        p
    };
    let vk = write("verification_key.json", verifying_key_json(&keys().pk.vk));
    let proof = write("proof.json", proof_json(env.groth16().expect("groth16")));
    let public = write("public.json", public_json(&env.public_inputs()));
    let run = |public: &std::path::Path| {
        let out = Command::new("node")
            .arg(&snarkjs)
            .args(["groth16", "verify"])
            .args([&vk, public, &proof])
            .output()
            .expect("node runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, text) = run(&public);
    assert!(
        ok && text.contains("OK"),
        "snarkjs refused our proof: {text}"
    );
    let mut tampered = env.public_inputs();
    tampered[1] += Fr::from(1u64);
    let bad = write("bad_public.json", public_json(&tampered));
    let (ok, text) = run(&bad);
    assert!(
        !ok || !text.contains("OK!"),
        "snarkjs accepted a tampered input: {text}"
    );
    assert!(text.contains("Invalid"), "{text}");
}

/// A block proof made entirely on the wgpu backends (G1 MSMs and the witness map's NTTs; lavapipe
/// in CI) is identical to the CPU's for the same blinding and verifies; through the key pair, the
/// key's bases are uploaded once and stay resident for the next proof.
#[test]
fn a_block_proof_with_the_wgpu_backends_verifies() {
    let (ntt, msm) = match (
        rustorium::accel::wgpu::WgpuNtt::new(true),
        rustorium::accel::wgpu::WgpuMsm::new(true, 0, 1 << 30),
    ) {
        (Ok(n), Ok(m)) => (n, Arc::new(m)),
        (Err(e), _) | (_, Err(e)) => {
            assert!(
                std::env::var_os("RUSTORIUM_SKIP_WGPU").is_some(),
                "no Vulkan adapter: {e}"
            );
            return;
        }
    };
    let (_d, _s, circuits) = chain();
    let prover = Prover::new(msm.clone(), Arc::new(ntt));
    assert_eq!(prover.backends(), ("wgpu", "wgpu"));
    let m = keys().matrices().expect("matrices");
    let (r, s) = (Fr::from(99u64), Fr::from(7u64));
    let (gpu, gt) = prover
        .prove_with_randomness(&keys().pk, &m, circuits[0].clone(), r, s)
        .expect("prove on wgpu");
    let (cpu, ct) = Prover::cpu()
        .prove_with_randomness(&keys().pk, &m, circuits[0].clone(), r, s)
        .expect("prove on the CPU");
    assert_eq!(gpu, cpu);
    // Per-phase timings: the device measured its kernels inside each phase; the CPU has no
    // device clock.
    let (nk, gk) = (gt.ntt_kernels.expect("ntt"), gt.g1_kernels.expect("msm"));
    assert!(
        nk > std::time::Duration::ZERO && nk <= gt.witness_map,
        "{gt}"
    );
    assert!(gk > std::time::Duration::ZERO && gk <= gt.g1_msm, "{gt}");
    assert!(gt.g1_msm <= gt.msm && gt.g2_msm <= gt.msm, "{gt}");
    assert!(ct.ntt_kernels.is_none() && ct.g1_kernels.is_none(), "{ct}");
    assert!(gt.to_string().contains("[kernels") && !ct.to_string().contains("[kernels"));
    assert!(verify(&keys().pk.vk, &gpu, &circuits[0].public_inputs()));
    let uploads = msm.uploads();
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    for c in &circuits[..2] {
        let (proof, _) = keys().prove(&prover, c.clone(), &mut rng).expect("prove");
        assert!(verify(&keys().pk.vk, &proof, &c.public_inputs()));
    }
    assert_eq!(
        msm.uploads(),
        uploads + 4,
        "the four G1 queries are uploaded once, then resident"
    );
}

/// The CUDA MSM kernels, G1 and G2, as the host build runs them (`accel::cuda::host`): a backend
/// with G2 kernels, so the prover takes its device path for G2 (after the G1 MSMs, not on a CPU
/// thread).
struct HostBuiltCudaMsm;

impl rustorium::accel::MsmBackend for HostBuiltCudaMsm {
    fn name(&self) -> &'static str {
        "cuda (host build)"
    }
    fn msm_g1(
        &self,
        bases: &[rustorium::accel::G1Affine],
        scalars: &[rustorium::accel::ScalarBigInt],
        _id: Option<rustorium::accel::msm::BasesId>,
    ) -> Result<rustorium::accel::G1Projective, rustorium::accel::AccelError> {
        let c = rustorium::accel::msm::default_window_bits(bases.len());
        rustorium::accel::cuda::host::msm(bases, scalars, c)
    }
    fn g2_backend(&self) -> &'static str {
        "cuda (host build)"
    }
    fn msm_g2(
        &self,
        bases: &[rustorium::accel::G2Affine],
        scalars: &[rustorium::accel::ScalarBigInt],
        _id: Option<rustorium::accel::msm::BasesId>,
    ) -> Result<rustorium::accel::G2Projective, rustorium::accel::AccelError> {
        let c = rustorium::accel::msm::default_window_bits(bases.len());
        rustorium::accel::cuda::host::msm(bases, scalars, c)
    }
}

/// A proof whose G1 and G2 MSMs run through the CUDA kernels' code (host build) equals the CPU
/// prover's for the same blinding and verifies; the G2 MSM ran on that backend.
#[test]
fn a_block_proof_with_g2_on_the_msm_backend_equals_the_cpu_proof() {
    let (_d, _s, circuits) = chain();
    let m = keys().matrices().expect("matrices");
    let (r, s) = (Fr::from(5u64), Fr::from(11u64));
    let prover = Prover::new(
        Arc::new(HostBuiltCudaMsm),
        Arc::new(rustorium::accel::CpuNtt),
    );
    let (ours, t) = prover
        .prove_with_randomness(&keys().pk, &m, circuits[1].clone(), r, s)
        .expect("prove");
    let (cpu, ct) = Prover::cpu()
        .prove_with_randomness(&keys().pk, &m, circuits[1].clone(), r, s)
        .expect("prove on the CPU");
    assert_eq!(ours, cpu);
    assert!(verify(&keys().pk.vk, &ours, &circuits[1].public_inputs()));
    assert_eq!((t.g2_backend, ct.g2_backend), ("cuda (host build)", "cpu"));
    assert!(t.to_string().contains("G2 MSM") && t.to_string().contains("on cuda (host build)"));
}

/// An MSM backend that fails like a lost device, or returns a wrong point (a miscompiled kernel).
struct BrokenMsm {
    wrong_result: bool,
}

impl rustorium::accel::MsmBackend for BrokenMsm {
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn msm_g1(
        &self,
        bases: &[rustorium::accel::G1Affine],
        scalars: &[rustorium::accel::ScalarBigInt],
        id: Option<rustorium::accel::msm::BasesId>,
    ) -> Result<rustorium::accel::G1Projective, rustorium::accel::AccelError> {
        if self.wrong_result {
            use ark_ec::AdditiveGroup;
            let right = rustorium::accel::CpuMsm.msm_g1(bases, scalars, id)?;
            return Ok(right.double());
        }
        Err(rustorium::accel::AccelError::Device {
            backend: "cuda",
            message: "simulated device loss".into(),
        })
    }
}

/// A GPU MSM that fails, or computes a wrong point, fails that proof job over to the CPU: the
/// proof still verifies and each retry is counted.
#[test]
fn a_failed_or_wrong_gpu_msm_is_retried_on_the_cpu() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let (_d, _s, circuits) = chain();
    let counter = AtomicU64::new(0);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    for wrong_result in [false, true] {
        let broken = Prover::new(
            Arc::new(BrokenMsm { wrong_result }),
            Arc::new(rustorium::accel::CpuNtt),
        );
        let direct = keys().prove(&broken, circuits[0].clone(), &mut rng);
        assert!(
            matches!(
                direct,
                Err(ProverError::Backend(_) | ProverError::SelfCheck { .. })
            ),
            "a broken MSM must not yield a proof: {direct:?}"
        );
        let (proof, _) = rustorium::prover::prove_with_fallback(
            keys(),
            &broken,
            circuits[0].clone(),
            &mut rng,
            &counter,
        )
        .expect("the CPU retry proves");
        assert!(verify(&keys().pk.vk, &proof, &circuits[0].public_inputs()));
    }
    assert_eq!(counter.load(Ordering::Relaxed), 2);
}

/// An NTT backend that fails like a lost device.
struct BrokenNtt;

impl rustorium::accel::NttBackend for BrokenNtt {
    fn name(&self) -> &'static str {
        "wgpu"
    }
    fn ntt(
        &self,
        _: &mut [Fr],
        _: rustorium::accel::NttKind,
    ) -> Result<(), rustorium::accel::AccelError> {
        Err(rustorium::accel::AccelError::Device {
            backend: "wgpu",
            message: "simulated device loss".into(),
        })
    }
}

/// A proving job whose GPU backend fails is retried on the CPU, counted, and still verifies; a
/// witness that does not satisfy the circuit is not retried.
#[test]
fn a_failed_gpu_proof_job_is_retried_on_the_cpu_and_counted() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let (_d, _s, circuits) = chain();
    let broken = Prover::new(Arc::new(rustorium::accel::CpuMsm), Arc::new(BrokenNtt));
    let counter = AtomicU64::new(0);
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (proof, _) = rustorium::prover::prove_with_fallback(
        keys(),
        &broken,
        circuits[0].clone(),
        &mut rng,
        &counter,
    )
    .expect("the CPU retry proves");
    assert!(verify(&keys().pk.vk, &proof, &circuits[0].public_inputs()));
    assert_eq!(counter.load(Ordering::Relaxed), 1);
    let mut bad = circuits[0].clone();
    bad.slots[0].fee += Fr::from(1u64);
    assert!(matches!(
        rustorium::prover::prove_with_fallback(keys(), &broken, bad, &mut rng, &counter),
        Err(ProverError::Unsatisfied)
    ));
    assert_eq!(counter.load(Ordering::Relaxed), 1);
}

/// A proving job (what a fleet worker gets: the block's witness, shape and key, docs/protocol.md)
/// survives its encoding exactly, and the circuit and proof made from the decoded job are the
/// block's; malformed jobs are refused with a typed error, never a panic.
#[test]
fn proving_jobs_round_trip_prove_and_refuse_malformed_bytes() {
    use rustorium::prover::{JobError, ProvingJob};
    let (witness, producer) = rustorium_testkit::demo_witness(SHAPE).expect("witness");
    let job = ProvingJob {
        height: 1,
        producer,
        shape: SHAPE,
        vk_hash: rustorium::prover::vk_hash(&keys().pk.vk),
        witness,
    };
    let bytes = job.encode().expect("encode");
    let back = ProvingJob::decode(&bytes).expect("decode");
    assert_eq!(back, job);
    back.witness.check().expect("the decoded witness holds");
    let circuit = BlockCircuit::from_witness(&back.witness, back.producer, back.height, back.shape)
        .expect("circuit");
    let original = BlockCircuit::from_witness(&job.witness, producer, 1, SHAPE).expect("circuit");
    assert_eq!(circuit.public_inputs(), original.public_inputs());
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let (proof, _) = keys()
        .prove(&Prover::cpu(), circuit, &mut rng)
        .expect("prove");
    assert!(verify(&keys().pk.vk, &proof, &original.public_inputs()));

    // Every truncation and a trailing byte.
    for cut in 0..bytes.len() {
        assert!(ProvingJob::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(ProvingJob::decode(&long), Err(JobError::Trailing(1)));
    // Version, bounds, values.
    let mut v = bytes.clone();
    v[4] = 2;
    assert_eq!(ProvingJob::decode(&v), Err(JobError::Version));
    let at_count = 4 + 1 + 8 + 8 + 1 + 2 + 32 + 8 + 32 + 32;
    let mut many = bytes.clone();
    many[at_count..at_count + 2].copy_from_slice(&3u16.to_le_bytes());
    assert!(matches!(
        ProvingJob::decode(&many),
        Err(JobError::Bounds(_))
    ));
    let mut depth = bytes.clone();
    depth[4 + 1 + 8 + 8] = 0;
    assert!(matches!(
        ProvingJob::decode(&depth),
        Err(JobError::Bounds(_))
    ));
    let at_root = at_count - 64;
    let mut root = bytes.clone();
    root[at_root..at_root + 32].fill(0xff);
    assert!(matches!(
        ProvingJob::decode(&root),
        Err(JobError::Value("old root", _))
    ));
    // The first transfer's sender update: its flag must be 0 or 1.
    let tx_len = u16::from_le_bytes([bytes[at_count + 2], bytes[at_count + 3]]) as usize;
    let at_flag = at_count + 4 + tx_len + 8;
    let mut flag = bytes.clone();
    flag[at_flag] = 7;
    assert!(matches!(
        ProvingJob::decode(&flag),
        Err(JobError::Value("update flag", _))
    ));
    // An account whose key is off the curve.
    let mut key = bytes.clone();
    key[at_flag + 1] ^= 1;
    assert!(matches!(
        ProvingJob::decode(&key),
        Err(JobError::Value("old account", _))
    ));
    // A witness that does not fit its shape is not encoded.
    let mut wrong = job.clone();
    wrong.shape.depth += 1;
    assert!(matches!(wrong.encode(), Err(JobError::Encode(_))));
}

/// The pinned snarkjs CLI (`scripts/js`), or `None` where the interop set-up is skipped on
/// purpose (`RUSTORIUM_SKIP_INTEROP`); otherwise its absence fails the test.
fn snarkjs_cli() -> Option<std::path::PathBuf> {
    let dir_js = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/js");
    let snarkjs = std::path::Path::new(dir_js).join("node_modules/snarkjs/build/cli.cjs");
    if !snarkjs.exists() {
        assert!(
            std::env::var_os("RUSTORIUM_SKIP_INTEROP").is_some(),
            "snarkjs missing: run scripts/test.sh"
        );
        return None;
    }
    Some(snarkjs)
}

/// snarkjs reads our circuit and a block's witness in circom's formats: `r1cs info` prints our
/// wire, constraint and public-input counts, `wtns check` accepts the witness of a real block and
/// refuses it with one internal value changed (issue 19).
#[test]
fn snarkjs_reads_our_r1cs_and_wtns() {
    use rustorium::prover::circom;
    let Some(snarkjs) = snarkjs_cli() else { return };
    let m = keys().matrices().expect("matrices");
    let (_d, _s, circuits) = chain();
    let z = rustorium::prover::assignment(circuits[0].clone()).expect("assignment");
    assert_eq!(z.len(), m.num_inputs + m.num_witness);
    let dir = tempfile::tempdir().expect("tempdir");
    let r1cs = dir.path().join("block.r1cs");
    let mut bytes = Vec::new();
    circom::write_r1cs(&m, &mut bytes).expect("r1cs");
    std::fs::write(&r1cs, &bytes).expect("write");
    let wtns = dir.path().join("block.wtns");
    let mut bytes = Vec::new();
    circom::write_wtns(&z, &mut bytes).expect("wtns");
    std::fs::write(&wtns, &bytes).expect("write");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("node")
            .arg(&snarkjs)
            .args(args)
            .output()
            .expect("node runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, info) = run(&["r1cs".as_ref(), "info".as_ref(), r1cs.as_os_str()]);
    assert!(ok, "snarkjs r1cs info failed: {info}");
    let count = |label: &str| -> usize {
        let line = info
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no `{label}` in {info}"));
        line.rsplit(':')
            .next()
            .unwrap_or("")
            .trim()
            .parse()
            .expect("a count")
    };
    assert_eq!(count("# of Wires"), m.num_inputs + m.num_witness);
    assert_eq!(count("# of Constraints"), m.num_constraints);
    assert_eq!(count("# of Public Inputs"), m.num_inputs - 1);
    assert_eq!(count("# of Outputs"), 0);
    let check = |w: &std::path::Path| {
        run(&[
            "wtns".as_ref(),
            "check".as_ref(),
            r1cs.as_os_str(),
            w.as_os_str(),
        ])
    };
    let (ok, text) = check(&wtns);
    assert!(ok && text.contains("WITNESS IS CORRECT"), "{text}");
    let mut bad = z.clone();
    let last = bad.len() - 1;
    bad[last] += Fr::from(1u64);
    let tampered = dir.path().join("tampered.wtns");
    let mut bytes = Vec::new();
    circom::write_wtns(&bad, &mut bytes).expect("wtns");
    std::fs::write(&tampered, &bytes).expect("write");
    let (ok, text) = check(&tampered);
    assert!(!ok && text.contains("WITNESS IS NOT CORRECT"), "{text}");
    // Our readers give back what we wrote.
    let back = circom::read_r1cs(&std::fs::read(&r1cs).expect("read")).expect("parse");
    assert_eq!(
        (back.num_inputs, back.num_witness, back.num_constraints),
        (m.num_inputs, m.num_witness, m.num_constraints)
    );
    assert_eq!(
        circom::read_wtns(&std::fs::read(&wtns).expect("read")).expect("parse"),
        z
    );
}

/// halo2 on a small chain (depth 4, capacity 1: 2^13 rows): real proofs verify for
/// their own block only; envelopes round-trip and refuse corruption; a light client that derives
/// the verifier itself (no key file) syncs the chain and refuses lies.
#[test]
fn halo2_proofs_verify_for_their_block_only_and_a_light_client_syncs_them() {
    let shape = CircuitShape {
        depth: 4,
        capacity: 1,
    };
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("halo2");
    let (_d, store, blocks) = chain_of(
        shape,
        &[
            vec![t(0, Recipient::Index(1), 10, 1, 0)],
            vec![t(1, Recipient::NewKey(dev_secret(9).public_key()), 5, 2, 0)],
        ],
    );
    let prover = Halo2Prover::new(shape, Some(&cache)).expect("halo2 keys");
    let verifier = prover.verifier();
    let chain: Vec<(ProofEnvelope, BlockData)> = blocks
        .iter()
        .enumerate()
        .map(|(i, (c, data))| {
            let proof = prover.prove(c.clone()).expect("prove");
            let env = ProofEnvelope::with_proof(
                i as u64 + 1,
                CHAIN,
                shape,
                c.public_inputs(),
                BlockProof::Halo2(proof),
                verifier.vk_hash(),
            );
            (env, data.clone())
        })
        .collect();
    let (env1, env2) = (&chain[0].0, &chain[1].0);
    let BlockProof::Halo2(proof1) = &env1.proof else {
        panic!("a halo2 envelope");
    };
    // Its own inputs only: another block's, or any input changed, fail.
    verifier
        .verify(&env1.public_inputs(), proof1)
        .expect("verifies");
    assert!(verifier.verify(&env2.public_inputs(), proof1).is_err());
    for i in 0..5 {
        let mut inputs = env1.public_inputs();
        inputs[i] += Fr::from(1u64);
        assert!(verifier.verify(&inputs, proof1).is_err(), "input {i}");
    }
    // Corrupted proofs are refused, never a panic.
    for at in [0, 1, 100, proof1.len() / 2, proof1.len() - 1] {
        let mut bad = proof1.clone();
        bad[at] ^= 1;
        assert!(
            verifier.verify(&env1.public_inputs(), &bad).is_err(),
            "byte {at}"
        );
    }
    let mut long = proof1.clone();
    long.push(0);
    assert!(verifier.verify(&env1.public_inputs(), &long).is_err());
    assert!(
        verifier
            .verify(&env1.public_inputs(), &proof1[..proof1.len() - 1])
            .is_err()
    );
    assert!(verifier.verify(&env1.public_inputs(), &[]).is_err());
    // Envelope (version 3) round trip; every truncation and a trailing byte are refused.
    let bytes = env1.encode();
    assert_eq!(bytes[0], 3);
    assert_eq!(ProofEnvelope::decode(&bytes).expect("decode"), *env1);
    for n in (0..bytes.len()).step_by(97) {
        assert!(ProofEnvelope::decode(&bytes[..n]).is_err(), "prefix {n}");
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(ProofEnvelope::decode(&trailing).is_err());
    // `rustorium light verify` needs no key file for a halo2 envelope: it derives the key from the
    // envelope's shape, and checks it against a pinned hash when given one.
    let files = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, env: &ProofEnvelope| {
        let path = files.path().join(name);
        std::fs::write(&path, env.encode()).expect("write");
        path.to_str().expect("utf8").to_string()
    };
    let cache_arg = cache.to_str().expect("utf8");
    let light_verify = |file: &str, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustorium"))
            .args([
                "light",
                "verify",
                "--proof",
                file,
                "--params-dir",
                cache_arg,
            ])
            .args(extra)
            .output()
            .expect("run rustorium");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let good = write("block-1.proof", env1);
    let pin = hex::encode(verifier.vk_hash());
    let (code, text) = light_verify(&good, &["--vk-hash", &pin]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("valid: halo2 proof, height 1"), "{text}");
    let (code, text) = light_verify(&good, &["--vk-hash", &"00".repeat(32)]);
    assert_eq!(code, Some(1), "a key hash the chain does not pin: {text}");
    let mut relabelled = env1.clone();
    relabelled.proof = env2.proof.clone();
    let (code, text) = light_verify(&write("relabelled.proof", &relabelled), &[]);
    assert_eq!(
        code,
        Some(1),
        "block 2's proof with block 1's roots: {text}"
    );
    let bytes = env1.encode();
    std::fs::write(files.path().join("short.proof"), &bytes[..bytes.len() / 2]).expect("write");
    let short = files.path().join("short.proof");
    let (code, _) = light_verify(short.to_str().expect("utf8"), &[]);
    assert_eq!(code, Some(2), "a truncated envelope is malformed");

    // A light client derives the verifier itself (transparent: parameters from a public string,
    // the key from the shape) and gets the same key hash as the prover.
    let derived = Halo2Verifier::new(shape, Some(&cache)).expect("derive");
    assert_eq!(derived.vk_hash(), verifier.vk_hash());
    verify_halo2_envelope(&derived, env1).expect("envelope verifies");
    let spec = ChainSpec {
        chain_id: CHAIN,
        genesis_root: store.reader().expect("r").root(0).expect("root"),
        vk_hash: verifier.vk_hash(),
    };
    let derived = Arc::new(derived);
    let mut client = LightClient::halo2(spec.clone(), derived.clone()).expect("client");
    for (env, data) in &chain {
        client.apply(env, data).expect("applies");
    }
    assert_eq!(client.head(), (2, blocks[1].0.public_inputs()[1]));
    // Lies: block 2's proof relabelled with block 1's roots; a Groth16 envelope on a halo2 chain;
    // a verifier of another shape (its key is not the pinned one).
    let mut client = LightClient::halo2(spec.clone(), derived.clone()).expect("client");
    let mut swapped = env1.clone();
    swapped.proof = env2.proof.clone();
    assert!(matches!(
        client.apply(&swapped, &chain[0].1),
        Err(LightError::InvalidProof(1))
    ));
    let (_d2, _s2, groth) = chain_with_data();
    // (Everything but the proof is block 1's.)
    let groth16 = ProofEnvelope {
        proof: envelope(1, &groth[0].0).proof,
        ..env1.clone()
    };
    assert!(matches!(
        client.apply(&groth16, &chain[0].1),
        Err(LightError::WrongSystem { .. })
    ));
    assert!(matches!(
        verify_halo2_envelope(&derived, &groth16),
        Err(LightError::WrongSystem { .. })
    ));
    assert_eq!(client.head().0, 0, "nothing applied");
    client
        .apply(&chain[0].0, &chain[0].1)
        .expect("the true block 1");
    let deeper = CircuitShape { depth: 5, ..shape }; // same k: the same parameters
    let other_shape = Halo2Verifier::new(deeper, Some(&cache)).expect("derive");
    assert_eq!(other_shape.k(), verifier.k());
    assert_ne!(other_shape.vk_hash(), verifier.vk_hash());
    assert!(matches!(
        LightClient::halo2(spec, Arc::new(other_shape)),
        Err(LightError::UnpinnedKey { .. })
    ));
}
