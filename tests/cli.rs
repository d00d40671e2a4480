//! The command line, run as a real process, against the published vectors.

mod common;

use std::process::{Command, Output};

fn rustorium(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("vectors/circomlib.json")).expect("json")
}

#[test]
fn poseidon_prints_the_published_hashes() {
    let v = vectors();
    for case in v["poseidon_circom_bn254"]["vectors"]
        .as_array()
        .expect("vectors")
    {
        let inputs: Vec<&str> = case["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|x| x.as_str().expect("str"))
            .collect();
        let out = rustorium(&[&["crypto", "poseidon"][..], &inputs].concat());
        assert!(out.status.success());
        assert_eq!(stdout(&out), case["output"].as_str().expect("output"));
    }
    let out = rustorium(&["crypto", "poseidon", "0x1", "0x2", "--hex"]);
    assert_eq!(
        stdout(&out),
        "0x115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a"
    );
    let modulus = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
    let out = rustorium(&["crypto", "poseidon", "1", modulus]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-canonical"));
    let out = rustorium(&["crypto", "poseidon", "12z"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn eddsa_commands_match_the_published_vector_and_exit_codes() {
    let v = vectors()["eddsa_poseidon_babyjubjub"].clone();
    let secret = v["private_key_hex"].as_str().expect("hex");
    let msg = v["message"].as_str().expect("msg");
    let out = rustorium(&["crypto", "eddsa", "pubkey", "--secret", secret, "--json"]);
    assert!(out.status.success());
    let pk: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(pk["x"], v["public_key"]["x"]);
    assert_eq!(pk["y"], v["public_key"]["y"]);
    let out = rustorium(&[
        "crypto", "eddsa", "sign", "--secret", secret, "--msg", msg, "--json",
    ]);
    let sig: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(sig, v["signature"]);
    let s = |k: &str| sig[k].as_str().expect("str").to_string();
    let key = format!(
        "{},{}",
        pk["x"].as_str().expect("x"),
        pk["y"].as_str().expect("y")
    );
    let good = format!("{},{},{}", s("r8x"), s("r8y"), s("s"));
    let verify = |m: &str, sig: &str, key: &str| {
        rustorium(&[
            "crypto", "eddsa", "verify", "--pubkey", key, "--msg", m, "--sig", sig,
        ])
    };
    assert_eq!(verify(msg, &good, &key).status.code(), Some(0));
    assert_eq!(verify("43", &good, &key).status.code(), Some(1));
    let tampered = format!("{},{},{}", s("r8x"), s("r8y"), "12345");
    assert_eq!(verify(msg, &tampered, &key).status.code(), Some(1));
    let off_curve = format!("{},{}", pk["x"].as_str().expect("x"), "5");
    assert_eq!(verify(msg, &good, &off_curve).status.code(), Some(1));
    assert_eq!(verify(msg, "1,2", &key).status.code(), Some(2));
    assert_eq!(verify("zz", &good, &key).status.code(), Some(2));
    assert_eq!(
        rustorium(&["crypto", "eddsa", "pubkey", "--secret", "abcd"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn keys_new_and_show_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.json");
    let p = path.to_str().expect("utf8");
    let out = rustorium(&["keys", "new", "--out", p]);
    assert!(out.status.success());
    let packed = stdout(&out);
    assert_eq!(packed.len(), 64);
    let out = rustorium(&["keys", "show", "--key", p, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(shown["packed"].as_str(), Some(packed.as_str()));
    assert!(shown.get("secret").is_none());
    // The file's secret derives the shown key, through the pubkey command.
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let out = rustorium(&[
        "crypto",
        "eddsa",
        "pubkey",
        "--secret",
        file["secret"].as_str().expect("secret"),
        "--json",
    ]);
    let pk: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(pk, shown["pubkey"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }
    // Never overwrites; a corrupted file is refused.
    assert_eq!(
        rustorium(&["keys", "new", "--out", p]).status.code(),
        Some(2)
    );
    let mut bad = file.clone();
    bad["packed"] = serde_json::json!("00".repeat(32));
    let bad_path = dir.path().join("bad.json");
    std::fs::write(&bad_path, bad.to_string()).expect("write");
    let out = rustorium(&["keys", "show", "--key", bad_path.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = concat!(env!("CARGO_MANIFEST_DIR"), "/config/genesis.toml");
    let data = dir.path().join("data");
    let keys = dir.path().join("keys");
    let out = rustorium(&[
        "demo",
        "--genesis",
        genesis,
        "--data",
        data.to_str().expect("utf8"),
        "--keys",
        keys.to_str().expect("utf8"),
        "--capacity",
        "2",
    ]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("rejected tx 1: bad nonce"), "{text}");
    assert!(text.contains("rejected tx 2: bad signature"), "{text}");
    assert!(text.contains("insufficient balance"), "{text}");
    assert!(text.contains("verified against root"), "{text}");
    assert!(text.contains("exclusion proof verified"), "{text}");
    assert_eq!(text.matches("witness checked natively").count(), 3);
    assert_eq!(text.matches("proof of block").count(), 3);
    assert!(
        text.contains("light client: chain of 3 proofs from genesis verified"),
        "{text}"
    );
}

/// The vendored copy of the published vectors is the one in `../shared/vectors` (when present).
#[test]
fn vendored_vectors_match_the_shared_ones() {
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/circomlib.json"
    );
    if let Ok(text) = std::fs::read_to_string(shared) {
        let a: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            a,
            vectors(),
            "tests/vectors/circomlib.json drifted from ../shared/vectors"
        );
    }
}

/// `setup`, `prove` and `light verify` on a small tree: keys with progress, a proven block, and the
/// verifier's exit codes for a valid, a tampered and a malformed envelope.
#[test]
fn setup_prove_and_light_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |p: &str| dir.path().join(p).to_str().expect("utf8").to_string();
    common::small_genesis(dir.path(), 5);
    let out = rustorium(&[
        "setup",
        "--depth",
        "5",
        "--capacity",
        "2",
        "--keys",
        &d("keys"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("INSECURE") && err.contains("done in"), "{err}");
    let out = rustorium(&[
        "prove",
        "--genesis",
        &d("genesis.toml"),
        "--data",
        &d("data"),
        "--keys",
        &d("keys"),
        "--capacity",
        "2",
    ]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("proven and verified"), "{text}");
    let vk = d("keys/d5-c2/verifying.key");
    let proof = d("data/proofs/block-1.proof");
    let verify = |proof: &str| rustorium(&["light", "verify", "--vk", &vk, "--proof", proof]);
    let ok = verify(&proof);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    // Flip a bit of the new root: still well-formed, no longer valid.
    let mut bytes = std::fs::read(&proof).expect("read");
    bytes[62] ^= 1; // the new root is at bytes 54..86 of an envelope
    std::fs::write(d("tampered.proof"), &bytes).expect("write");
    assert_eq!(verify(&d("tampered.proof")).status.code(), Some(1));
    std::fs::write(d("short.proof"), &bytes[..100]).expect("write");
    assert_eq!(verify(&d("short.proof")).status.code(), Some(2));
    // The snarkjs files are there.
    let public: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d("data/proofs/public-1.json")).expect("read"),
    )
    .expect("json");
    // old root, new root, commitment, chain id, height
    assert_eq!(public.as_array().map(|a| a.len()), Some(5));
    assert_eq!(public[3], "1337");
    assert_eq!(public[4], "1");
}

/// Runs `devnet --blocks 2` on a small genesis in `dir` (ephemeral ports, capacity 2) with `extra`
/// arguments.
fn devnet_two_blocks(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let d = |p: &str| dir.join(p).to_str().expect("utf8").to_string();
    common::small_genesis(dir, 6);
    let (genesis, data, keys) = (d("genesis.toml"), d("devnet"), d("keys"));
    let mut args = vec![
        "devnet",
        "--blocks",
        "2",
        "--genesis",
        &genesis,
        "--data",
        &data,
        "--keys",
        &keys,
        "--quic",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--capacity",
        "2",
        "--rate",
        "20",
    ];
    args.extend_from_slice(extra);
    rustorium(&args)
}

/// The README's main job: the devnet proves and light-verifies blocks, then stops by itself.
#[test]
fn devnet_proves_blocks_and_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = devnet_two_blocks(dir.path(), &[]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("devnet summary: 2 blocks proven and verified from genesis"),
        "{text}"
    );
}

/// `devnet --fleet 2`: a local nats-server and two worker processes prove the blocks (the node
/// verifies each proof), the light client verifies them, and the workers are stopped with SIGTERM
/// when the devnet ends.
#[test]
fn devnet_with_a_fleet_proves_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = devnet_two_blocks(dir.path(), &["--fleet", "2"]);
    let text = stdout(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(err.contains("devnet: 2 prover workers"), "{err}");
    assert!(
        text.contains("devnet summary: 2 blocks proven and verified from genesis"),
        "{text}"
    );
    for i in 0..2 {
        let log = std::fs::read_to_string(dir.path().join(format!("devnet/prover-{i}.log")))
            .expect("worker log");
        assert!(log.contains("SIGTERM: stopping"), "{log}");
    }
}

/// `devnet --validators 4`: four validators under BFT consensus finalize the stream; validator 0
/// proves and its light client verifies the chain.
#[test]
fn devnet_with_four_validators_proves_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |p: &str| dir.path().join(p).to_str().expect("utf8").to_string();
    let out = devnet_two_blocks(dir.path(), &["--validators", "4"]);
    let text = stdout(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(err.contains("4 validators under BFT consensus"), "{err}");
    assert!(
        text.contains("devnet summary: 2 blocks proven and verified from genesis"),
        "{text}"
    );
    // Refused below n = 4 (no fault tolerance).
    let out = rustorium(&[
        "devnet",
        "--validators",
        "3",
        "--data",
        &d("x"),
        "--genesis",
        &d("genesis.toml"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// `policy check` type-checks (exit 0 / 1 with the compiler's message); `policy test` prints the
/// decision of the shipped policy for a transfer.
#[test]
fn policy_check_and_test() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = format!("{}/config/policy.glu", env!("CARGO_MANIFEST_DIR"));
    let out = rustorium(&["policy", "check", &shipped]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let bad = dir.path().join("bad.glu");
    std::fs::write(&bad, "\\tx -> if tx.fee then Accept else Accept\n").expect("write");
    let out = rustorium(&["policy", "check", bad.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("Expected the following types to be equal"),
        "{}",
        stdout(&out)
    );
    let tx = dir.path().join("tx.json");
    for (json, want) in [
        (
            r#"{"amount": 5, "score": 0.4}"#,
            r#"{"decision":"reject","reason":"anomaly score above 0.15"}"#,
        ),
        (
            r#"{"amount": 5, "score": 0.05}"#,
            r#"{"decision":"deprioritize"}"#,
        ),
        (
            r#"{"amount": 5, "score": -0.1}"#,
            r#"{"decision":"accept"}"#,
        ),
    ] {
        std::fs::write(&tx, json).expect("write");
        let out = rustorium(&["policy", "test", &shipped, tx.to_str().expect("utf8")]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(stdout(&out).trim(), want);
    }
    std::fs::write(&tx, r#"{"amount": "lots"}"#).expect("write");
    let out = rustorium(&["policy", "test", &shipped, tx.to_str().expect("utf8")]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed transfer is an error"
    );
}

/// `hardware tune` measures, writes a profile that loads and passes its own check, a report and an
/// SVG plot.
#[test]
fn hardware_tune_writes_a_profile_the_node_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("tuned.toml");
    let o = rustorium(&[
        "hardware",
        "tune",
        "--quick",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let profile = rustorium::hardware::Profile::load(&out).expect("the tuned profile loads");
    assert_eq!(profile.name, "tuned");
    let report = std::fs::read_to_string(dir.path().join("tuned.md")).expect("report");
    assert!(
        report.contains("Poseidon(2) throughput") && report.contains("cpu scalar"),
        "{report}"
    );
    let svg = std::fs::read_to_string(dir.path().join("tuned.svg")).expect("plot");
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
    let o = rustorium(&[
        "hardware",
        "check",
        "--profile",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn hardware_detect_and_check() {
    let out = rustorium(&["hardware", "detect", "--json"]);
    assert!(out.status.success());
    let d: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert!(d["cores"].as_u64().expect("cores") >= 1);
    let suggested = d["suggested_profile"]
        .as_str()
        .expect("profile")
        .to_string();
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(&suggested)
            .exists(),
        "{suggested}"
    );
    let profile = |name: &str| format!("{}/hardware/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let out = rustorium(&["hardware", "check", "--profile", &profile("cpu")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("poseidon: pass (cpu)"));
    if d["cuda"].as_array().is_some_and(|a| a.is_empty()) {
        // A GPU-only profile fails its check on a machine without a GPU, naming the reason.
        let out = rustorium(&["hardware", "check", "--profile", &profile("h100")]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stdout(&out).contains("requires a GPU"), "{}", stdout(&out));
    }
    let out = rustorium(&["hardware", "check", "--profile", "/nonexistent.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The lavapipe profile's self-check runs Poseidon, NTT and MSM on wgpu (software Vulkan) against
/// the CPU and arkworks.
#[test]
fn lavapipe_profile_passes_its_check() {
    let profile = format!("{}/hardware/lavapipe.toml", env!("CARGO_MANIFEST_DIR"));
    let out = rustorium(&["hardware", "check", "--profile", &profile]);
    let text = stdout(&out);
    if std::env::var_os("RUSTORIUM_SKIP_WGPU").is_some() && !out.status.success() {
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("poseidon: pass (wgpu"), "{text}");
    assert!(text.contains("ntt: pass (wgpu)"), "{text}");
    assert!(text.contains("msm: pass (wgpu)"), "{text}");
}

/// An installed binary runs anywhere: the devnet started from a directory that holds nothing of
/// the repository uses its built-in genesis, scoring model and policy (the red team's run from
/// another directory failed on `config/models/scoring.onnx … does not exist`), and a light client
/// there verifies the chain against the built-in genesis, pinning the key from it.
#[test]
fn the_binary_runs_from_any_directory_with_built_in_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .current_dir(dir.path())
        .args([
            "devnet",
            "--blocks",
            "1",
            "--quic",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--capacity",
            "1",
            "--rate",
            "20",
        ])
        .output()
        .expect("runs");
    let text = stdout(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(
        text.contains("devnet summary: 1 blocks proven and verified from genesis"),
        "{text}"
    );
    assert!(
        err.contains("scoring on") && err.contains("builtin/policy.glu"),
        "defaults not in use: {err}"
    );
    for f in ["genesis.toml", "policy.glu", "scoring.onnx"] {
        assert!(
            dir.path().join("data/devnet/builtin").join(f).exists(),
            "{f} not written"
        );
    }
}
