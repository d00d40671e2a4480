//! `rustorium-bench` (also reached as `rustorium bench …`, which forwards here): measurements too
//! large for criterion's repetition counts, always beside the reference measured in the same run,
//! printed as markdown tables. The benchmark harnesses and their references (light-poseidon,
//! arkworks, ark-groth16) live in this crate, out of the node's dependencies; the criterion
//! benches are in `benches/`.

use std::time::{Duration, Instant};

mod fleet;

use anyhow::{Context, Result};
use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef};
use ark_std::UniformRand;
use ark_std::rand::SeedableRng;
use clap::{Parser, Subcommand};
use rand_chacha::ChaCha20Rng;
use rustorium::prover::{Prover, dev_setup, verify};
use rustorium_circuits::Fr;
use rustorium_circuits::block::{BlockCircuit, CircuitShape};
use rustorium_circuits::eddsa::SecretKey;
use rustorium_circuits::gadgets::FrVar;
use rustorium_circuits::gadgets::babyjubjub::PointVar;
use rustorium_circuits::gadgets::{eddsa, merkle, poseidon};

use rustorium_testkit::demo_block as demo_witness;

#[derive(Parser)]
#[command(
    name = "rustorium-bench",
    version,
    about = "Benchmarks with their references side by side (markdown tables)"
)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    rustorium::logging::init_stderr();
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Constraint counts per component of the block circuit.
    Circuit {
        /// Tree depth.
        #[arg(long, default_value_t = 32)]
        depth: usize,
    },
    /// Load on loopback: accepted tx/s over QUIC, submit→commit latency, proven tx/s.
    Load {
        /// Transfers to submit.
        #[arg(long, default_value_t = 128)]
        txs: usize,
        /// Circuit capacity.
        #[arg(long, default_value_t = 16)]
        capacity: usize,
        /// Tree depth.
        #[arg(long, default_value_t = 16)]
        depth: usize,
        /// Block interval (ms).
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
        /// Prove through the proving fleet with this many in-process CPU workers (a local
        /// nats-server; accepted transfers also go to the accepted-transfer stream before their
        /// acknowledgement). 0: the node's own prover thread.
        #[arg(long, default_value_t = 0)]
        fleet: usize,
        /// With `--fleet`: do not publish accepted transfers to the accepted-transfer stream (to
        /// measure what the stream costs).
        #[arg(long)]
        no_accepted_stream: bool,
        /// Stop once every transfer is committed (ingestion and commit only; proven tx/s not
        /// measured).
        #[arg(long)]
        no_wait_proven: bool,
    },
    /// BFT consensus on loopback: submit→final latency (p50, p99) and throughput with `validators`
    /// in-process validators (proving off: this measures consensus, not the prover).
    Consensus {
        /// Validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Transfers to submit.
        #[arg(long, default_value_t = 400)]
        txs: usize,
        /// Submission rate, transfers per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Circuit capacity (transfers per block).
        #[arg(long, default_value_t = 16)]
        capacity: usize,
    },
    /// The whole suite in one run, each measurement beside its reference (light-poseidon,
    /// arkworks MSM and FFT, ark-groth16): a markdown table, printed and written to `--out`.
    Report {
        /// Markdown file to write.
        #[arg(long, default_value = "bench-report.md")]
        out: std::path::PathBuf,
    },
    /// Admission cost: ONNX scoring throughput per batch size, the policy script per transfer,
    /// and score + policy per transfer at batch 256.
    Admission {
        /// Scoring batch sizes.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64,256,1024,4096")]
        batches: Vec<usize>,
        /// The model.
        #[arg(long, default_value = "config/models/scoring.onnx")]
        model: std::path::PathBuf,
        /// The policy script.
        #[arg(long, default_value = "config/policy.glu")]
        policy: std::path::PathBuf,
    },
    /// Poseidon(2) batches and depth-32 tree batch updates per available backend, beside the CPU,
    /// with every GPU result checked against the CPU's.
    Accel {
        /// Batch sizes as powers of two.
        #[arg(long, value_delimiter = ',', default_value = "16,18")]
        log_sizes: Vec<u32>,
        /// Leaves per tree batch update (depth 32).
        #[arg(long, value_delimiter = ',', default_value = "10000")]
        leaves: Vec<usize>,
        /// Also use software wgpu adapters (lavapipe: correctness, not speed).
        #[arg(long)]
        allow_software: bool,
    },
    /// G1 MSM and NTT per backend beside arkworks (`--kernel-log-sizes`), then setup, prove (ours
    /// on the CPU, ours on the profile's backends with `--profile`, and ark-groth16's, interleaved)
    /// and verify times for block circuits.
    Prove {
        /// MSM and NTT sizes as powers of two (empty: skip the kernel table).
        #[arg(long, value_delimiter = ',', default_value = "16,18")]
        kernel_log_sizes: Vec<u32>,
        /// Also use software wgpu adapters (lavapipe: correctness, not speed).
        #[arg(long)]
        allow_software: bool,
        /// Hardware profile whose MSM/NTT backends make a third prover column.
        #[arg(long)]
        profile: Option<std::path::PathBuf>,
        /// Skip the end-to-end proving table.
        #[arg(long)]
        kernels_only: bool,
        /// Skip the kernel table.
        #[arg(long)]
        proofs_only: bool,
        /// Tree depths.
        #[arg(long, value_delimiter = ',', default_value = "32")]
        depth: Vec<usize>,
        /// Capacities.
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        capacity: Vec<usize>,
        /// Proofs per prover and shape.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Groth16 beside halo2 on the same blocks: setup (Groth16: a dev key; halo2: parameters,
    /// cached under `--params-dir`, and key generation), prove, proof size, verify, and each
    /// system's peak memory (resident set, reset before each system).
    Systems {
        /// Tree depths.
        #[arg(long, value_delimiter = ',', default_value = "32")]
        depth: Vec<usize>,
        /// Capacities.
        #[arg(long, value_delimiter = ',', default_value = "1")]
        capacity: Vec<usize>,
        /// Proofs per system and shape.
        #[arg(long, default_value_t = 2)]
        runs: usize,
        /// halo2 parameter cache.
        #[arg(long, default_value = "data/keys/halo2")]
        params_dir: std::path::PathBuf,
    },
    /// The proving fleet (NATS JetStream, a real nats-server on loopback, every proof verified
    /// by the node): proven blocks/s with real CPU workers beside the node's own prover thread,
    /// then the coordination benchmark with SIMULATED workers (fixed proof time, proofs made in
    /// advance): throughput against the worker count and the overhead per job.
    Fleet {
        /// Real CPU worker counts (`0`: skip).
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        real: Vec<usize>,
        /// Blocks per real-prover run.
        #[arg(long, default_value_t = 6)]
        real_blocks: usize,
        /// Simulated worker counts (`0`: skip).
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64")]
        simulated: Vec<usize>,
        /// A simulated job's proof time, ms.
        #[arg(long, default_value_t = 200)]
        proof_ms: u64,
        /// Jobs per simulated worker in a run (at least 16 jobs).
        #[arg(long, default_value_t = 8)]
        jobs_per_worker: usize,
        /// Tree depth.
        #[arg(long, default_value_t = 16)]
        depth: usize,
        /// Capacity.
        #[arg(long, default_value_t = 2)]
        capacity: usize,
    },
}

fn count(f: impl FnOnce(ConstraintSystemRef<Fr>) -> Result<()>) -> Result<usize> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    f(cs.clone())?;
    anyhow::ensure!(cs.is_satisfied()?, "component check is not satisfied");
    Ok(cs.num_constraints())
}

fn witnesses(cs: &ConstraintSystemRef<Fr>, n: usize, rng: &mut ChaCha20Rng) -> Result<Vec<FrVar>> {
    (0..n)
        .map(|_| FrVar::new_witness(cs.clone(), || Ok(Fr::rand(rng))).map_err(Into::into))
        .collect()
}

fn block_constraints(shape: CircuitShape) -> Result<usize> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    BlockCircuit::blank(shape)?.generate_constraints(cs.clone())?;
    Ok(cs.num_constraints())
}

fn circuit_table(depth: usize) -> Result<()> {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut rows: Vec<(String, usize)> = Vec::new();
    for arity in [2usize, 3, 4] {
        let n = count(|cs| {
            let xs = witnesses(&cs, arity, &mut rng)?;
            let _ = poseidon::poseidon(&xs)?;
            Ok(())
        })?;
        rows.push((format!("Poseidon({arity})"), n));
    }
    let n = count(|cs| {
        let leaf = witnesses(&cs, 1, &mut rng)?;
        let sibs = witnesses(&cs, depth, &mut rng)?;
        let bits = (0..depth)
            .map(|l| Boolean::new_witness(cs.clone(), || Ok(l % 3 == 0)))
            .collect::<Result<Vec<_>, _>>()?;
        let _ = merkle::root_from_path(&leaf[0], &bits, &sibs)?;
        Ok(())
    })?;
    rows.push((format!("Merkle path, depth {depth}"), n));
    let n = count(|cs| {
        let sk = SecretKey([3u8; 32]);
        let msg = Fr::from(42u64);
        let sig = sk.sign(msg);
        let enabled = Boolean::new_witness(cs.clone(), || Ok(true))?;
        let a = PointVar::new_witness(cs.clone(), || Ok(sk.public_key().0))?;
        let r8 = PointVar::new_witness(cs.clone(), || Ok(sig.r8))?;
        let m = FrVar::new_witness(cs.clone(), || Ok(msg))?;
        let bits = eddsa::alloc_s_bits(cs.clone(), Some(&sig.s))?;
        eddsa::verify(&enabled, &a, &r8, &bits, &m)?;
        Ok(())
    })?;
    rows.push(("EdDSA-Poseidon verification".into(), n));
    let n = count(|cs| {
        let x = FrVar::new_witness(cs.clone(), || Ok(Fr::from(u64::MAX)))?;
        let _ = x.to_bits_le_with_top_bits_zero(64)?;
        Ok(())
    })?;
    rows.push(("64-bit range check".into(), n));
    let one = block_constraints(CircuitShape { depth, capacity: 1 })?;
    let two = block_constraints(CircuitShape { depth, capacity: 2 })?;
    rows.push((
        "**per transfer slot** (capacity 2 − capacity 1)".into(),
        two - one,
    ));
    rows.push((
        "per block (fee credit, commitment start)".into(),
        one - (two - one),
    ));
    for capacity in [1usize, 4, 16] {
        let n = if capacity <= 2 {
            [one, two][capacity - 1]
        } else {
            one + (capacity - 1) * (two - one)
        };
        rows.push((format!("block circuit, capacity {capacity}"), n));
    }
    println!("| component (depth {depth}) | constraints |\n| --- | --- |");
    for (name, n) in rows {
        println!("| {name} | {n} |");
    }
    Ok(())
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The device time between two readings of a backend's kernel clock, for a table cell ("—" for a
/// backend without one).
fn kernel_ms(before: Option<Duration>, after: Option<Duration>) -> String {
    match (before, after) {
        (Some(b), Some(a)) => format!("{:.2} ms", a.saturating_sub(b).as_secs_f64() * 1e3),
        _ => "—".into(),
    }
}

/// MSM (random scalars, bases resident as in proving) and forward NTT per backend, each beside
/// arkworks in the same run; every device result is compared with arkworks'.
fn kernel_table(log_sizes: &[u32], allow_software: bool) -> Result<()> {
    use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
    use ark_ff::PrimeField;
    use rustorium::accel::msm::BasesId;
    use rustorium::accel::{
        ArkMsm, ArkNtt, CpuMsm, CpuNtt, G1Affine, G1Projective, MsmBackend, NttBackend, NttKind,
    };
    use std::sync::Arc;
    let cpu = format!("cpu, ours ({})", rustorium::accel::cpu::field_path().name());
    let mut msms: Vec<(String, Arc<dyn MsmBackend>)> = vec![
        ("arkworks (rayon)".into(), Arc::new(ArkMsm)),
        (cpu.clone(), Arc::new(CpuMsm)),
    ];
    let mut ntts: Vec<(String, Arc<dyn NttBackend>)> = vec![
        ("arkworks (radix-2)".into(), Arc::new(ArkNtt)),
        (cpu, Arc::new(CpuNtt)),
    ];
    match rustorium::accel::cuda::CudaMsm::new(0, 0, u64::MAX) {
        Ok(m) => msms.push(("cuda (device plan)".into(), Arc::new(m))),
        Err(e) => eprintln!("cuda msm: unavailable ({e})"),
    }
    if let Ok(m) = rustorium::accel::cuda::CudaMsm::new(0, 0, u64::MAX) {
        msms.push(("cuda (host plan)".into(), Arc::new(m.with_host_plan())));
    }
    match rustorium::accel::cuda::CudaNtt::new(0) {
        Ok(n) => ntts.push(("cuda".into(), Arc::new(n))),
        Err(e) => eprintln!("cuda ntt: unavailable ({e})"),
    }
    match rustorium::accel::wgpu::WgpuMsm::new(allow_software, 0, u64::MAX) {
        Ok(m) => msms.push(("wgpu (device plan)".into(), Arc::new(m))),
        Err(e) => eprintln!("wgpu msm: unavailable ({e})"),
    }
    if let Ok(m) = rustorium::accel::wgpu::WgpuMsm::new(allow_software, 0, u64::MAX) {
        msms.push(("wgpu (host plan)".into(), Arc::new(m.with_host_plan())));
    }
    match rustorium::accel::wgpu::WgpuNtt::new(allow_software) {
        Ok(n) => ntts.push(("wgpu".into(), Arc::new(n))),
        Err(e) => eprintln!("wgpu ntt: unavailable ({e})"),
    }
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    println!(
        "| operation | size | backend | time (end to end) | kernels (device clock) | vs arkworks | equal to arkworks |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for &k in log_sizes {
        let n = 1usize << k;
        // Bases: a random start point plus multiples of the generator (one addition each).
        let g = G1Projective::generator();
        let mut p = G1Projective::rand(&mut rng);
        let proj: Vec<G1Projective> = (0..n)
            .map(|_| {
                p += g;
                p
            })
            .collect();
        let bases: Vec<G1Affine> = G1Projective::normalize_batch(&proj);
        let scalars: Vec<_> = (0..n).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
        let id = Some(BasesId {
            owner: BasesId::new_owner(),
            query: 0,
        });
        let want = G1Projective::msm_bigint(&bases, &scalars);
        let mut reference = Duration::ZERO;
        for (name, m) in &msms {
            let got = m.msm_g1(&bases, &scalars, id)?; // warm-up: compilation, bases upload
            anyhow::ensure!(got == want, "{name} MSM differs from arkworks at 2^{k}");
            let clock = m.kernel_time();
            let start = Instant::now();
            let got = m.msm_g1(&bases, &scalars, id)?;
            let t = start.elapsed();
            let kernels = kernel_ms(clock, m.kernel_time());
            anyhow::ensure!(got == want, "{name} MSM differs from arkworks at 2^{k}");
            if reference.is_zero() {
                reference = t;
            }
            println!(
                "| G1 MSM | 2^{k} | {name} | {:.1} ms | {kernels} | {:.2}× | true |",
                t.as_secs_f64() * 1e3,
                reference.as_secs_f64() / t.as_secs_f64()
            );
        }
        // The GPU MSMs' host-side work (signed digits, bucket sort, tasks) at the window the
        // backends pick, beside arkworks' whole CPU MSM: "vs arkworks" here is the plan's share
        // of that time (the goal at 2^20: under 10 %).
        let c = rustorium::accel::msm::default_window_bits(n);
        let start = Instant::now();
        let plan = rustorium::accel::msm::MsmPlan::new(&scalars, c)?;
        let t = start.elapsed();
        anyhow::ensure!(plan.entries.len() <= n * plan.windows as usize, "plan size");
        println!(
            "| MSM host plan (GPU backends), c = {c} | 2^{k} | host | {:.1} ms | — | {:.1} % of arkworks | — |",
            t.as_secs_f64() * 1e3,
            100.0 * t.as_secs_f64() / reference.as_secs_f64()
        );
        let input: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        let mut want = input.clone();
        ArkNtt.ntt(&mut want, NttKind::Forward)?;
        let mut reference = Duration::ZERO;
        for (name, b) in &ntts {
            let mut v = input.clone();
            b.ntt(&mut v, NttKind::Forward)?; // warm-up
            let mut v = input.clone();
            let clock = b.kernel_time();
            let start = Instant::now();
            b.ntt(&mut v, NttKind::Forward)?;
            let t = start.elapsed();
            let kernels = kernel_ms(clock, b.kernel_time());
            anyhow::ensure!(v == want, "{name} NTT differs from arkworks at 2^{k}");
            if reference.is_zero() {
                reference = t;
            }
            println!(
                "| NTT (forward) | 2^{k} | {name} | {:.1} ms | {kernels} | {:.2}× | true |",
                t.as_secs_f64() * 1e3,
                reference.as_secs_f64() / t.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn prove_table(
    depths: &[usize],
    capacities: &[usize],
    runs: usize,
    gpu: Option<&Prover>,
) -> Result<()> {
    let gpu_cols = gpu.map_or(String::new(), |p| {
        let (m, n) = p.backends();
        format!(" ours, msm={m} ntt={n} (median) | that / ark |")
    });
    println!(
        "| depth | capacity | constraints | setup | proving key | ours (median of {runs}) | ark-groth16 (median of {runs}) | ours / ark |{gpu_cols} verify |\n| --- | --- | --- | --- | --- | --- | --- | --- |{} --- |",
        if gpu.is_some() { " --- | --- |" } else { "" }
    );
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut all_phases = Vec::new();
    for &depth in depths {
        for &capacity in capacities {
            let shape = CircuitShape { depth, capacity };
            let start = Instant::now();
            let keys = dev_setup(shape, 9)?;
            let setup = start.elapsed();
            let mut pk_bytes = Vec::new();
            ark_serialize::CanonicalSerialize::serialize_uncompressed(&keys.pk, &mut pk_bytes)?;
            let circuit = demo_witness(shape).context("demo block")?;
            keys.matrices()?; // built once per shape, like the node does at start-up
            let inputs = circuit.public_inputs();
            let prover = Prover::cpu();
            let (mut ours, mut theirs, mut verifies) = (Vec::new(), Vec::new(), Vec::new());
            let mut on_gpu = Vec::new();
            let mut constraints = 0;
            let mut phases = Vec::new();
            for run in 0..runs {
                let start = Instant::now();
                let (proof, t) = keys.prove(&prover, circuit.clone(), &mut rng)?;
                ours.push(start.elapsed());
                constraints = t.constraints;
                if run + 1 == runs {
                    phases.push(("cpu".to_string(), t));
                }
                if let Some(g) = gpu {
                    let start = Instant::now();
                    let (p, t) = keys.prove(g, circuit.clone(), &mut rng)?;
                    on_gpu.push(start.elapsed());
                    if run + 1 == runs {
                        let (m, n) = g.backends();
                        phases.push((format!("msm={m} ntt={n}"), t));
                    }
                    anyhow::ensure!(
                        verify(&keys.pk.vk, &p, &inputs),
                        "GPU proof does not verify"
                    );
                }
                let start = Instant::now();
                let theirs_proof = Groth16::<Bn254>::create_random_proof_with_reduction(
                    circuit.clone(),
                    &keys.pk,
                    &mut rng,
                )?;
                theirs.push(start.elapsed());
                let start = Instant::now();
                anyhow::ensure!(
                    verify(&keys.pk.vk, &proof, &inputs),
                    "our proof does not verify"
                );
                verifies.push(start.elapsed());
                anyhow::ensure!(
                    verify(&keys.pk.vk, &theirs_proof, &inputs),
                    "ark's proof does not verify"
                );
            }
            let (o, t) = (median(ours), median(theirs));
            let gpu_cells = if on_gpu.is_empty() {
                String::new()
            } else {
                let g = median(on_gpu);
                format!(" {} | {:.2} |", secs(g), g.as_secs_f64() / t.as_secs_f64())
            };
            println!(
                "| {depth} | {capacity} | {constraints} | {} | {:.1} MB | {} | {} | {:.2} |{gpu_cells} {:.2} ms |",
                secs(setup),
                pk_bytes.len() as f64 / 1e6,
                secs(o),
                secs(t),
                o.as_secs_f64() / t.as_secs_f64(),
                median(verifies).as_secs_f64() * 1e3
            );
            all_phases.extend(phases.into_iter().map(|(who, t)| (depth, capacity, who, t)));
        }
    }
    // Where the time of each prover's last proof went, kernel times from the device's clock.
    println!(
        "\n| depth | capacity | prover | synthesis | witness map | NTT kernels | G1 MSMs | MSM kernels | G2 MSM | G2 on | self-check |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let opt = |d: Option<Duration>| d.map_or("—".to_string(), ms);
    for (depth, capacity, who, t) in all_phases {
        println!(
            "| {depth} | {capacity} | {who} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ms(t.synthesis),
            ms(t.witness_map),
            opt(t.ntt_kernels),
            ms(t.g1_msm),
            opt(t.g1_kernels),
            ms(t.g2_msm),
            t.g2_backend,
            ms(t.verify)
        );
    }
    Ok(())
}

/// Peak resident memory since the last [`reset_peak_rss`], MiB (Linux; 0 elsewhere).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak resident memory (`/proc/self/clear_refs`, value 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn systems_table(
    depths: &[usize],
    capacities: &[usize],
    runs: usize,
    params_dir: &std::path::Path,
) -> Result<()> {
    use rustorium::halo2::Halo2Prover;
    println!(
        "| depth | capacity | system | setup | prove (median of {runs}) | proof | verify | peak memory |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for &depth in depths {
        for &capacity in capacities {
            let shape = CircuitShape { depth, capacity };
            let circuit = demo_witness(shape).context("demo block")?;
            let inputs = circuit.public_inputs();
            reset_peak_rss();
            let start = Instant::now();
            let keys = dev_setup(shape, 9)?;
            keys.matrices()?;
            let setup = start.elapsed();
            let prover = Prover::cpu();
            let (mut proves, mut verifies) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let start = Instant::now();
                let (proof, _) = keys.prove(&prover, circuit.clone(), &mut rng)?;
                proves.push(start.elapsed());
                let pvk = rustorium::prover::PreparedKey::new(&keys.pk.vk);
                let start = Instant::now();
                anyhow::ensure!(pvk.verify(&proof, &inputs), "Groth16 proof does not verify");
                verifies.push(start.elapsed());
            }
            println!(
                "| {depth} | {capacity} | Groth16 | {:.1} s (dev key) | {:.2} s | 128 B | {:.2} ms | {:.0} MiB |",
                setup.as_secs_f64(),
                median(proves).as_secs_f64(),
                median(verifies).as_secs_f64() * 1e3,
                peak_rss_mib()
            );
            drop(keys);
            reset_peak_rss();
            let start = Instant::now();
            let h2 = Halo2Prover::new(shape, Some(params_dir))?;
            let setup = start.elapsed();
            let (mut proves, mut verifies, mut size) = (Vec::new(), Vec::new(), 0);
            for _ in 0..runs {
                let start = Instant::now();
                let proof = h2.prove(circuit.clone())?; // includes its own verification
                proves.push(start.elapsed());
                size = proof.len();
                let start = Instant::now();
                h2.verifier().verify(&inputs, &proof)?;
                verifies.push(start.elapsed());
            }
            let verify = median(verifies);
            println!(
                "| {depth} | {capacity} | halo2 (k = {}, {} rows) | {:.1} s (parameters + keys) | {:.2} s (incl. a {:.2} s self-check) | {} B | {:.2} ms | {:.0} MiB |",
                h2.verifier().k(),
                h2.layout().rows(),
                setup.as_secs_f64(),
                median(proves).as_secs_f64(),
                verify.as_secs_f64(),
                size,
                verify.as_secs_f64() * 1e3,
                peak_rss_mib()
            );
        }
    }
    Ok(())
}

fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Systems {
            depth,
            capacity,
            runs,
            params_dir,
        } => systems_table(&depth, &capacity, runs.max(1), &params_dir)?,
        BenchCommand::Circuit { depth } => circuit_table(depth)?,
        BenchCommand::Prove {
            kernel_log_sizes,
            allow_software,
            profile,
            kernels_only,
            proofs_only,
            depth,
            capacity,
            runs,
        } => {
            if !proofs_only {
                kernel_table(&kernel_log_sizes, allow_software)?;
            }
            if !kernels_only {
                let gpu = match profile {
                    Some(p) => {
                        let prof = rustorium::hardware::Profile::load(&p)?;
                        let (msm, _) = prof.msm_backend()?;
                        let (ntt, _) = prof.ntt_backend()?;
                        Some(Prover::new(msm, ntt))
                    }
                    None => None,
                };
                prove_table(&depth, &capacity, runs.max(1), gpu.as_ref())?
            }
        }
        BenchCommand::Accel {
            log_sizes,
            leaves,
            allow_software,
        } => accel(&log_sizes, &leaves, allow_software)?,
        BenchCommand::Report { out } => report(&out)?,
        BenchCommand::Fleet {
            real,
            real_blocks,
            simulated,
            proof_ms,
            jobs_per_worker,
            depth,
            capacity,
        } => fleet::fleet_bench(
            &real,
            real_blocks,
            &simulated,
            proof_ms,
            jobs_per_worker,
            depth,
            capacity,
        )?,
        BenchCommand::Admission {
            batches,
            model,
            policy,
        } => admission_bench(&batches, &model, &policy)?,
        BenchCommand::Consensus {
            validators,
            txs,
            rate,
            capacity,
        } => consensus_bench(validators, txs, rate, capacity)?,
        BenchCommand::Load {
            txs,
            capacity,
            depth,
            interval_ms,
            fleet,
            no_accepted_stream,
            no_wait_proven,
        } => load(
            txs,
            capacity,
            depth,
            interval_ms,
            fleet,
            !no_accepted_stream,
            !no_wait_proven,
        )?,
    }
    Ok(())
}

/// For each transfer in the committed blocks `heights`, the time since it was submitted (keyed by
/// its message hash in decimal): the load and consensus benchmarks' latency.
fn record_latencies(
    node: &rustorium::node::Node,
    heights: std::ops::RangeInclusive<u64>,
    submitted_at: &std::collections::HashMap<String, Instant>,
    latencies: &mut Vec<Duration>,
) -> Result<()> {
    for h in heights {
        let b = node.block(h)?.context("block")?;
        let now = Instant::now();
        for (tx, _) in &b.applied {
            if let Some(t) =
                submitted_at.get(&rustorium_circuits::field::to_decimal(&tx.tx.message()))
            {
                latencies.push(now - *t);
            }
        }
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Mean seconds per call of `f` over at least `min` calls and 0.5 s.
fn per_call(mut f: impl FnMut() -> Result<()>, min: u32) -> Result<f64> {
    f()?;
    let start = Instant::now();
    let mut n = 0u32;
    while n < min || start.elapsed() < Duration::from_millis(500) {
        f()?;
        n += 1;
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(n))
}

/// The whole suite, references side by side.
fn report(out: &std::path::Path) -> Result<()> {
    use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
    use ark_ff::PrimeField;
    use light_poseidon::{Poseidon, PoseidonHasher};
    use rustorium::accel::{BatchHasher, CpuHasher, CpuNtt, G1Projective, NttBackend, NttKind};
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let mut rows: Vec<(String, String, f64, String, f64)> = Vec::new();
    let fmt = |s: f64| -> String {
        if s < 1e-3 {
            format!("{:.2} µs", s * 1e6)
        } else if s < 1.0 {
            format!("{:.2} ms", s * 1e3)
        } else {
            format!("{s:.2} s")
        }
    };
    // Poseidon(2), one hash.
    let x = [Fr::rand(&mut rng), Fr::rand(&mut rng)];
    let ours = per_call(
        || {
            std::hint::black_box(rustorium_circuits::poseidon::hash(&x)?);
            Ok(())
        },
        1000,
    )?;
    let mut lp = Poseidon::<Fr>::new_circom(2).map_err(|e| anyhow::anyhow!("{e}"))?;
    let theirs = per_call(
        || {
            std::hint::black_box(lp.hash(&x).map_err(|e| anyhow::anyhow!("{e}"))?);
            Ok(())
        },
        1000,
    )?;
    rows.push((
        "Poseidon(2), one hash (scalar)".into(),
        "1".into(),
        ours,
        "light-poseidon".into(),
        theirs,
    ));
    // Poseidon(2) batch, one core.
    let n = 4096;
    let inputs: Vec<Fr> = (0..2 * n).map(|_| Fr::rand(&mut rng)).collect();
    let mut o = vec![Fr::from(0u64); n];
    let theirs = per_call(
        || {
            for (q, pair) in o.iter_mut().zip(inputs.chunks_exact(2)) {
                *q = lp.hash(pair).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok(())
        },
        2,
    )? / n as f64;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let ours = pool
        .install(|| per_call(|| Ok(CpuHasher::new().hash_batch(2, &inputs, &mut o)?), 2))?
        / n as f64;
    rows.push((
        format!(
            "Poseidon(2) batch, 1 core ({})",
            rustorium::accel::cpu_path()
        ),
        "4096".into(),
        ours,
        "light-poseidon".into(),
        theirs,
    ));
    if rustorium::accel::simd::avx2::available() {
        let avx2 = pool.install(|| {
            per_call(
                || {
                    rustorium::accel::simd::avx2::hash_many(2, &inputs, &mut o).context("avx2")?;
                    Ok(())
                },
                2,
            )
        })? / n as f64;
        rows.push((
            "Poseidon(2) batch, 1 core (avx2)".into(),
            "4096".into(),
            avx2,
            "light-poseidon".into(),
            theirs,
        ));
    }
    let scalar = pool.install(|| {
        per_call(
            || Ok(CpuHasher::scalar().hash_batch(2, &inputs, &mut o)?),
            2,
        )
    })? / n as f64;
    rows.push((
        "Poseidon(2) batch, 1 core (scalar)".into(),
        "4096".into(),
        scalar,
        "light-poseidon".into(),
        theirs,
    ));
    // Tree update, depth 32.
    {
        use rustorium::state::{StateStore, StoreOptions};
        use rustorium_testkit::{workload_batch, workload_keys};
        let dir = std::env::temp_dir().join(format!("rustorium-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let keys = workload_keys(1024);
        let mk = |name: &str, h: CpuHasher| {
            StateStore::create(
                &dir.join(name),
                32,
                1,
                std::sync::Arc::new(h),
                StoreOptions::default(),
            )
        };
        let (fast, slow) = (
            mk("f.redb", CpuHasher::new())?,
            mk("s.redb", CpuHasher::scalar())?,
        );
        let mut v = 0u64;
        let ours = per_call(
            || {
                fast.commit(v, &workload_batch(3, v, 10_000, &keys))?;
                v += 1;
                Ok(())
            },
            2,
        )?;
        let mut w = 0u64;
        let theirs = per_call(
            || {
                slow.commit(w, &workload_batch(3, w, 10_000, &keys))?;
                w += 1;
                Ok(())
            },
            2,
        )?;
        rows.push((
            format!(
                "tree batch update, depth 32 ({})",
                rustorium::accel::cpu_path()
            ),
            "10,000 updates, 1,024 accounts".into(),
            ours,
            "our scalar path".into(),
            theirs,
        ));
        drop((fast, slow));
        let _ = std::fs::remove_dir_all(&dir);
    }
    // MSM and NTT at 2^16 and 2^20: our CPU backends beside arkworks (random scalars), each result
    // checked against arkworks'.
    use rustorium::accel::{ArkMsm, ArkNtt, CpuMsm, MsmBackend};
    let field = rustorium::accel::cpu::field_path().name();
    for log in [16u32, 20] {
        let k = 1usize << log;
        let g = G1Projective::generator();
        let mut p = G1Projective::rand(&mut rng);
        let bases = G1Projective::normalize_batch(
            &(0..k)
                .map(|_| {
                    p += g;
                    p
                })
                .collect::<Vec<_>>(),
        );
        let scalars: Vec<_> = (0..k).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
        anyhow::ensure!(
            CpuMsm.msm_g1(&bases, &scalars, None)? == G1Projective::msm_bigint(&bases, &scalars),
            "our MSM differs from arkworks' at 2^{log}"
        );
        let runs = if log > 16 { 1 } else { 2 };
        let theirs = per_call(
            || {
                let _ = std::hint::black_box(ArkMsm.msm_g1(&bases, &scalars, None)?);
                Ok(())
            },
            runs,
        )?;
        let ours = per_call(
            || {
                let _ = std::hint::black_box(CpuMsm.msm_g1(&bases, &scalars, None)?);
                Ok(())
            },
            runs,
        )?;
        rows.push((
            format!("G1 MSM, random scalars (cpu, ours, {field})"),
            format!("2^{log}"),
            ours,
            "arkworks".into(),
            theirs,
        ));
        let data: Vec<Fr> = (0..k).map(|_| Fr::rand(&mut rng)).collect();
        let mut want = data.clone();
        ArkNtt.ntt(&mut want, NttKind::Forward)?;
        let mut got = data.clone();
        CpuNtt.ntt(&mut got, NttKind::Forward)?;
        anyhow::ensure!(got == want, "our NTT differs from arkworks' FFT at 2^{log}");
        let ours = per_call(
            || {
                let mut v = data.clone();
                CpuNtt.ntt(&mut v, NttKind::Forward)?;
                Ok(())
            },
            3,
        )?;
        let theirs = per_call(
            || {
                let mut v = data.clone();
                ArkNtt.ntt(&mut v, NttKind::Forward)?;
                Ok(())
            },
            3,
        )?;
        rows.push((
            format!("NTT forward (cpu, ours, {field})"),
            format!("2^{log}"),
            ours,
            "arkworks Radix2 FFT".into(),
            theirs,
        ));
    }
    // A real block proof, depth 32 × 4 transfers: the whole proof beside ark-groth16, and its
    // phases beside the same prover on arkworks' MSM and FFT (the G1 MSMs of the H, L, A and B1
    // queries; the G2 MSM; the witness map's seven NTTs).
    {
        let shape = CircuitShape {
            depth: 32,
            capacity: 4,
        };
        let keys = dev_setup(shape, 11)?;
        let circuit = demo_witness(shape).context("demo block")?;
        keys.matrices()?;
        let timed = |prover: &Prover| -> Result<(f64, rustorium::prover::ProofTimings)> {
            let mut last = None;
            let t = per_call(
                || {
                    last = Some(keys.prove(prover, circuit.clone(), &mut rng.clone())?.1);
                    Ok(())
                },
                2,
            )?;
            Ok((t, last.context("timings")?))
        };
        let (ours, ot) = timed(&Prover::cpu())?;
        let (_, at) = timed(&Prover::new(
            std::sync::Arc::new(ArkMsm),
            std::sync::Arc::new(ArkNtt),
        ))?;
        let theirs = per_call(
            || {
                Groth16::<Bn254>::create_random_proof_with_reduction(
                    circuit.clone(),
                    &keys.pk,
                    &mut rng.clone(),
                )?;
                Ok(())
            },
            2,
        )?;
        let size = format!("{} constraints", ot.constraints);
        rows.push((
            "Groth16 prove, block depth 32 × 4 transfers (cpu, ours)".into(),
            size.clone(),
            ours,
            "ark-groth16".into(),
            theirs,
        ));
        rows.push((
            "  its G1 MSMs (H, L, A, B1 queries)".into(),
            size.clone(),
            ot.g1_msm.as_secs_f64(),
            "the same on arkworks' MSM".into(),
            at.g1_msm.as_secs_f64(),
        ));
        rows.push((
            "  its G2 MSM (B2 query)".into(),
            size.clone(),
            ot.g2_msm.as_secs_f64(),
            "the same on arkworks' MSM".into(),
            at.g2_msm.as_secs_f64(),
        ));
        rows.push((
            "  its witness map (7 NTTs)".into(),
            size,
            ot.witness_map.as_secs_f64(),
            "the same on arkworks' FFT".into(),
            at.witness_map.as_secs_f64(),
        ));
        eprintln!("depth 32 × 4, ours: {ot}");
        eprintln!("depth 32 × 4, arkworks backends: {at}");
    }
    // Prove and verify (depth 16, capacity 1).
    let shape = CircuitShape {
        depth: 16,
        capacity: 1,
    };
    let keys = dev_setup(shape, 9)?;
    let circuit = demo_witness(shape).context("demo block")?;
    keys.matrices()?;
    let prover = Prover::cpu();
    let mut proof = None;
    let ours = per_call(
        || {
            proof = Some(keys.prove(&prover, circuit.clone(), &mut rng.clone())?.0);
            Ok(())
        },
        2,
    )?;
    let theirs = per_call(
        || {
            Groth16::<Bn254>::create_random_proof_with_reduction(
                circuit.clone(),
                &keys.pk,
                &mut rng.clone(),
            )?;
            Ok(())
        },
        2,
    )?;
    rows.push((
        "Groth16 prove, block depth 16 × 1 transfer".into(),
        "one proof".into(),
        ours,
        "ark-groth16".into(),
        theirs,
    ));
    let proof = proof.context("proof")?;
    let inputs = circuit.public_inputs();
    // As a light client verifies: the key prepared once per chain (`PreparedKey`, what
    // `LightClient` holds), beside ark-groth16's own prepared-key verification.
    let prepared = rustorium::prover::PreparedKey::new(&keys.pk.vk);
    anyhow::ensure!(
        verify(&keys.pk.vk, &proof, &inputs) && prepared.verify(&proof, &inputs),
        "the proof does not verify"
    );
    let ours = per_call(
        || {
            anyhow::ensure!(prepared.verify(&proof, &inputs));
            Ok(())
        },
        20,
    )?;
    let pvk = ark_groth16::prepare_verifying_key(&keys.pk.vk);
    let theirs = per_call(
        || {
            anyhow::ensure!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &inputs)?);
            Ok(())
        },
        20,
    )?;
    rows.push((
        "Groth16 verify, key prepared once (light client)".into(),
        "one proof".into(),
        ours,
        "ark-groth16 (prepared key)".into(),
        theirs,
    ));
    // Admission has no outside reference: its row is set against the goal (50 µs per transfer).
    match AdmissionBench::load(
        std::path::Path::new("config/models/scoring.onnx"),
        std::path::Path::new("config/policy.glu"),
    )
    .and_then(|b| b.per_transfer())
    {
        Ok(per) => rows.push((
            "admission: ONNX score + policy per transfer".into(),
            "batch 256".into(),
            per,
            "goal".into(),
            50e-6,
        )),
        Err(e) => eprintln!("admission row skipped: {e:#}"),
    }
    let mut md = format!(
        "Machine: {} threads, {}; CPU path {}; field arithmetic {} (arkworks), {} (ours); `rustorium bench report` (release).\n\n| operation | size | ours | reference | reference time | ours / reference |\n| --- | --- | --- | --- | --- | --- |\n",
        rayon::current_num_threads(),
        std::env::consts::ARCH,
        rustorium::accel::cpu_path(),
        rustorium::accel::field_arithmetic(),
        rustorium::accel::cpu::field_path().name()
    );
    for (op, size, ours, refname, theirs) in &rows {
        md += &format!(
            "| {op} | {size} | {} | {refname} | {} | {:.2} |\n",
            fmt(*ours),
            fmt(*theirs),
            ours / theirs
        );
    }
    md += "\nAdmission by batch size: `rustorium bench admission`; consensus latency: `rustorium bench consensus`.\n";
    std::fs::write(out, &md)?;
    println!("{md}");
    Ok(())
}

/// Scoring throughput per batch size, policy cost, and both per transfer at batch 256.
/// What the admission benchmarks run on: the scorer, the policy and 4,096 plausible transfers
/// (raw features and model inputs).
struct AdmissionBench {
    scorer: rustorium::scoring::Scorer,
    policy: rustorium::policy::Policy,
    raws: Vec<rustorium::scoring::RawFeatures>,
    rows: Vec<[f32; rustorium::scoring::FEATURES]>,
}

impl AdmissionBench {
    fn load(model: &std::path::Path, policy: &std::path::Path) -> Result<Self> {
        use rustorium::policy::{Policy, PolicyLimits};
        use rustorium::scoring::{RawFeatures, Scorer, discover_runtime, features};
        let runtime = discover_runtime(None)
            .context("ONNX Runtime not found (scripts/setup.sh installs it)")?;
        let scorer = Scorer::load(
            &runtime,
            model,
            false,
            &std::sync::atomic::AtomicU64::new(0),
        )?;
        let policy = Policy::load(policy, PolicyLimits::default())?;
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        use ark_std::rand::Rng;
        let raws: Vec<RawFeatures> = (0..4096)
            .map(|_| RawFeatures {
                balance: rng.gen_range(1_000..10_000_000),
                amount: rng.gen_range(1..10_000),
                fee: rng.gen_range(1..10),
                nonce_gap: rng.gen_range(0..2),
                sender_nonce: rng.gen_range(0..100),
                pending: rng.gen_range(0..3),
                new_recipient: rng.gen_bool(0.05),
            })
            .collect();
        let rows = raws.iter().map(features).collect();
        Ok(Self {
            scorer,
            policy,
            raws,
            rows,
        })
    }

    fn input(r: &rustorium::scoring::RawFeatures, score: f32) -> rustorium::policy::PolicyInput {
        rustorium::policy::PolicyInput {
            from: 1,
            amount: r.amount,
            fee: r.fee,
            nonce_gap: r.nonce_gap,
            pending: r.pending,
            new_recipient: r.new_recipient,
            score,
        }
    }

    /// Seconds per transfer for scoring (batches of 256) plus the policy.
    fn per_transfer(&self) -> Result<f64> {
        let rounds = 40;
        let start = Instant::now();
        for k in 0..rounds {
            let at = (k * 256) % 3840;
            let scores = self.scorer.score_batch(&self.rows[at..at + 256])?;
            for (j, s) in scores.iter().enumerate() {
                let _ = self.policy.decide(&Self::input(&self.raws[at + j], *s));
            }
        }
        Ok(start.elapsed().as_secs_f64() / (rounds * 256) as f64)
    }
}

fn admission_bench(
    batches: &[usize],
    model: &std::path::Path,
    policy: &std::path::Path,
) -> Result<()> {
    let bench = AdmissionBench::load(model, policy)?;
    let (scorer, policy, raws, rows) = (&bench.scorer, &bench.policy, &bench.raws, &bench.rows);
    println!("| measurement | batch | per transfer | transfers/s |\n| --- | --- | --- | --- |");
    for &b in batches {
        let b = b.clamp(1, rows.len());
        let total = 8192usize.max(b);
        scorer.score_batch(&rows[..b])?; // warm-up
        let start = Instant::now();
        let mut done = 0;
        while done < total {
            scorer.score_batch(&rows[..b])?;
            done += b;
        }
        let per = start.elapsed().as_secs_f64() / done as f64;
        println!(
            "| ONNX scoring (IsolationForest, 100 trees) | {b} | {:.2} µs | {:.0} |",
            per * 1e6,
            1.0 / per
        );
    }
    let n = 20_000;
    let start = Instant::now();
    for i in 0..n {
        let _ = policy.decide(&AdmissionBench::input(&raws[i % raws.len()], -0.1));
    }
    let per_policy = start.elapsed().as_secs_f64() / n as f64;
    println!(
        "| policy script (config/policy.glu) | 1 | {:.2} µs | {:.0} |",
        per_policy * 1e6,
        1.0 / per_policy
    );
    let per = bench.per_transfer()?;
    println!(
        "| admission = scoring + policy | 256 | {:.2} µs | {:.0} |",
        per * 1e6,
        1.0 / per
    );
    Ok(())
}

/// `n` signed transfers of 1 (fee 1, chain 7) from dev accounts `0..senders` in turn, each to the
/// next account, with consecutive nonces per sender: the load of `bench load` and `bench consensus`.
fn ring_transfers(n: u64, senders: u64) -> Vec<rustorium_circuits::transfer::SignedTransfer> {
    use rustorium::state::dev_secret;
    use rustorium_circuits::transfer::{Recipient, Transfer};
    (0..n)
        .map(|i| {
            let from = i % senders;
            Transfer {
                chain_id: 7,
                from,
                to: Recipient::Index((from + 1) % senders),
                amount: 1,
                fee: 1,
                nonce: i / senders,
            }
            .sign(&dev_secret(from))
        })
        .collect()
}

/// Submit→final latency and throughput of `n` in-process validators on loopback.
fn consensus_bench(n: usize, count: usize, rate: f64, capacity: usize) -> Result<()> {
    use rustorium::node::NodeConfig;

    let senders = 32u64;
    let dir = std::env::temp_dir().join(format!("rustorium-consensus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut genesis = "chain_id = 7\ndepth = 16\ndevnet = true\n".to_string();
    for i in 0..senders {
        genesis += &format!("[[accounts]]\ndev_key = {i}\nbalance = 1000000000\n");
    }
    std::fs::write(dir.join("genesis.src.toml"), genesis)?;
    let base = NodeConfig {
        data_dir: dir.join("v0"),
        genesis: dir.join("genesis.src.toml"),
        producer: 0,
        quic_listen: "127.0.0.1:0".into(),
        http_listen: "127.0.0.1:0".into(),
        block_interval_ms: 200,
        capacity,
        keys_dir: dir.join("keys"),
        key_seed: 1,
        prover_workers: 1,
        keep_versions: 0,
        max_proving_backlog: 0,
        http: Default::default(),
        prove: false,
        mempool: Default::default(),
        hardware: None,
        consensus: None,
        fleet: None,
        proof_system: Default::default(),
        scoring: Default::default(),
        policy: Default::default(),
    };
    let nodes = rustorium::node::devnet::start_validators(
        &dir.join("genesis.src.toml"),
        &dir,
        n,
        base,
        false,
    )?;
    let node = nodes[0].clone();
    let txs = ring_transfers(count as u64, senders);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (quic, _) = rustorium::start_servers(node.clone(), "127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?).await?;
        let cert = rustls::pki_types::CertificateDer::from(std::fs::read(dir.join("v0/tls/cert.der"))?);
        let client = rustorium::net::quic::Client::connect(quic, cert).await?;
        // Wait until the validators are connected.
        let t0 = Instant::now();
        while node.p2p().map_or(0, |p| p.connected().len()) + 1 < n {
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(30), "validators did not connect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let start = Instant::now();
        let period = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let mut submitted_at = std::collections::HashMap::new();
        let mut latencies = Vec::new();
        let mut seen = node.head().committed;
        let first_height = seen;
        let mut next = 0usize;
        while latencies.len() < count {
            if next < count && start.elapsed() >= period * next as u32 {
                let tx = &txs[next];
                let res = client.submit(std::slice::from_ref(tx)).await?;
                anyhow::ensure!(res.iter().all(|r| r.accepted), "a transfer was rejected: {res:?}");
                submitted_at.insert(rustorium_circuits::field::to_decimal(&tx.tx.message()), Instant::now());
                next += 1;
            }
            let committed = node.head().committed;
            record_latencies(&node, seen + 1..=committed, &submitted_at, &mut latencies)?;
            seen = committed;
            anyhow::ensure!(start.elapsed() < Duration::from_secs(600), "consensus run timed out");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let total = start.elapsed();
        latencies.sort();
        println!("| validators | transfers | offered rate | submit→final p50 | p99 | max | final tx/s | blocks |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        println!(
            "| {n} | {count} | {rate:.0} tx/s | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} | {} |",
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            count as f64 / total.as_secs_f64(),
            seen - first_height,
        );
        client.close().await;
        for n in &nodes {
            n.shutdown();
        }
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A bounded load run against an in-process node on loopback (fresh temporary data directory).
fn load(
    n: usize,
    capacity: usize,
    depth: usize,
    interval_ms: u64,
    fleet: usize,
    accepted_stream: bool,
    wait_proven: bool,
) -> Result<()> {
    use rustorium::node::{Node, NodeConfig};

    let senders = 32u64;
    let dir = std::env::temp_dir().join(format!("rustorium-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut genesis = format!("chain_id = 7\ndepth = {depth}\ndevnet = true\n");
    for i in 0..senders {
        genesis += &format!("[[accounts]]\ndev_key = {i}\nbalance = 1000000000\n");
    }
    std::fs::write(dir.join("genesis.toml"), genesis)?;
    let nats = if fleet > 0 {
        Some(rustorium::fleet::local::NatsServer::start(
            &dir.join("nats"),
        )?)
    } else {
        None
    };
    let config = NodeConfig {
        proof_system: Default::default(),
        data_dir: dir.join("data"),
        genesis: dir.join("genesis.toml"),
        producer: 0,
        quic_listen: "127.0.0.1:0".into(),
        http_listen: "127.0.0.1:0".into(),
        block_interval_ms: interval_ms,
        capacity,
        keys_dir: dir.join("keys"),
        key_seed: 1,
        prover_workers: 1,
        keep_versions: 0,
        max_proving_backlog: 0,
        http: Default::default(),
        prove: true,
        mempool: Default::default(),
        hardware: None,
        consensus: None,
        fleet: nats.as_ref().map(|n| rustorium::node::FleetSection {
            ack_wait: Duration::from_secs(60),
            lost_after: Duration::from_secs(600),
            accepted_stream,
            ..rustorium::node::FleetSection::new(n.url())
        }),
        scoring: Default::default(),
        policy: Default::default(),
    };
    eprintln!(
        "load: {n} transfers from {senders} senders, depth {depth}, capacity {capacity} (key generation first)"
    );
    let node = Node::start(config)?;
    let txs = ring_transfers(n as u64, senders);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(nats) = &nats {
        let keys = std::sync::Arc::new(rustorium::prover::load_proving_key(
            &dir.join(format!("keys/d{depth}-c{capacity}/proving.key")),
        )?);
        for i in 0..fleet {
            let opts = rustorium::fleet::worker::WorkerOptions {
                url: nats.url(),
                chain: 7,
                name: format!("load-w{i}"),
                keys: vec![keys.clone()],
                prover: rustorium::prover::Prover::cpu(),
                misbehave: None,
                simulated: None,
                fallbacks: Default::default(),
                connect_timeout: Duration::from_secs(10),
            };
            rt.spawn(rustorium::fleet::worker::run(opts, std::future::pending()));
        }
    }
    rt.block_on(async {
        let (quic, _) = rustorium::start_servers(node.clone(), "127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?).await?;
        let cert = rustls::pki_types::CertificateDer::from(std::fs::read(dir.join("data/tls/cert.der"))?);
        let client = rustorium::net::quic::Client::connect(quic, cert).await?;
        let start = Instant::now();
        let mut submitted_at = std::collections::HashMap::new();
        for chunk in txs.chunks(16) {
            let t = Instant::now();
            let res = client.submit(chunk).await?;
            anyhow::ensure!(res.iter().all(|r| r.accepted), "a load transfer was rejected: {res:?}");
            for tx in chunk {
                submitted_at.insert(rustorium_circuits::field::to_decimal(&tx.tx.message()), t);
            }
        }
        let ingest = start.elapsed();
        let mut latencies = Vec::new();
        let mut seen = 0u64;
        while latencies.len() < n {
            let committed = node.head().committed;
            record_latencies(&node, seen + 1..=committed, &submitted_at, &mut latencies)?;
            seen = committed;
            anyhow::ensure!(start.elapsed() < Duration::from_secs(600), "load run timed out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let committed_all = start.elapsed();
        let mut head = node.watch_head();
        let proven_all = if wait_proven {
            tokio::time::timeout(Duration::from_secs(1800), head.wait_for(|h| h.proven >= seen))
                .await
                .context("proving timed out")?
                .context("node stopped")?;
            Some(start.elapsed())
        } else {
            None
        };
        latencies.sort();
        println!("| transfers | provers | accepted tx/s (QUIC, 16 per stream) | submit→commit p50 | p99 | committed tx/s | proven tx/s | blocks |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        println!(
            "| {n} | {} | {:.0} | {:.0} ms | {:.0} ms | {:.1} | {} | {seen} |",
            match (fleet, accepted_stream) {
                (0, _) => "node thread".to_string(),
                (w, true) => format!("fleet: {w} CPU workers, accepted-transfer stream"),
                (w, false) => format!("fleet: {w} CPU workers, no accepted-transfer stream"),
            },
            n as f64 / ingest.as_secs_f64(),
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            n as f64 / committed_all.as_secs_f64(),
            proven_all.map_or("–".to_string(), |t| format!("{:.2}", n as f64 / t.as_secs_f64())),
        );
        client.close().await;
        node.shutdown();
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Per-backend Poseidon and tree-update throughput, each GPU result compared with the CPU's.
fn accel(log_sizes: &[u32], leaves: &[usize], allow_software: bool) -> Result<()> {
    use rustorium::accel::{BatchHasher, CpuHasher};
    use rustorium::state::{StateStore, StoreOptions};
    use rustorium_testkit::{workload_batch, workload_keys};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    let mut backends: Vec<(String, Arc<dyn BatchHasher<Fr>>)> =
        vec![("cpu (rayon)".into(), Arc::new(CpuHasher::new()))];
    match rustorium::accel::cuda::CudaHasher::new(0, 1 << 22) {
        Ok(h) => backends.push((h.device_name().to_string(), Arc::new(h))),
        Err(e) => eprintln!("cuda: unavailable ({e})"),
    }
    match rustorium::accel::wgpu::WgpuHasher::new(allow_software, 1 << 22) {
        Ok(h) => backends.push((
            format!("wgpu {} ({})", h.adapter.name, h.adapter.device_type),
            Arc::new(h),
        )),
        Err(e) => eprintln!("wgpu: unavailable ({e})"),
    }
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    println!(
        "| operation | size | backend | time (end to end) | kernels (device clock) | throughput | equal to CPU |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for &k in log_sizes {
        let n = 1usize << k;
        let inputs: Vec<Fr> = (0..2 * n).map(|_| Fr::rand(&mut rng)).collect();
        let mut reference = vec![Fr::from(0u64); n];
        for (name, h) in &backends {
            let mut out = vec![Fr::from(0u64); n];
            h.hash_batch(2, &inputs, &mut out)?; // warm-up (compilation, uploads)
            let clock = h.kernel_time();
            let start = Instant::now();
            h.hash_batch(2, &inputs, &mut out)?;
            let t = start.elapsed();
            let kernels = kernel_ms(clock, h.kernel_time());
            if name.starts_with("cpu") {
                reference.clone_from(&out);
            }
            let equal = out == reference;
            anyhow::ensure!(equal, "{name} differs from the CPU at 2^{k}");
            println!(
                "| Poseidon(2) batch | 2^{k} | {name} | {} | {kernels} | {:.2} M hashes/s | {equal} |",
                secs(t),
                n as f64 / t.as_secs_f64() / 1e6
            );
        }
    }
    // One account per leaf updated (indices are distinct): as many keys as the largest batch.
    let keys = workload_keys(leaves.iter().copied().max().unwrap_or(0).max(1 << 14));
    for &n in leaves {
        let mut roots = Vec::new();
        for (name, h) in &backends {
            let dir = std::env::temp_dir().join(format!("rustorium-accel-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let store = StateStore::create(
                &dir.join("t.redb"),
                32,
                1,
                h.clone(),
                StoreOptions::default(),
            )?;
            let genesis: BTreeMap<u64, _> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (i as u64, rustorium_circuits::account::Account::new(*k, 1)))
                .collect();
            store.commit(0, &genesis)?;
            // n leaves: spread over the existing accounts (distinct indices, cycling batches).
            let batch = workload_batch(9, 1, n, &keys);
            anyhow::ensure!(batch.len() == n, "{} leaves updated, not {n}", batch.len());
            let clock = h.kernel_time();
            let start = Instant::now();
            let root = store.commit(1, &batch)?;
            let t = start.elapsed();
            let kernels = kernel_ms(clock, h.kernel_time());
            roots.push(root);
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
            println!(
                "| tree batch update, depth 32 | {} leaves | {name} | {} | {kernels} | {:.0} leaves/s | {} |",
                batch.len(),
                secs(t),
                batch.len() as f64 / t.as_secs_f64(),
                roots[0] == root
            );
        }
        anyhow::ensure!(
            roots.iter().all(|r| *r == roots[0]),
            "backends disagree on the root"
        );
    }
    Ok(())
}
