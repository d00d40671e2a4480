//! The stateless prover worker (`rustorium prover --nats URL`): pulls jobs for the shapes it has
//! keys for, holds its lease with in-progress acknowledgements while it proves, publishes the proof
//! to the results stream and only then acknowledges the job. On stop (SIGTERM) an in-flight job is
//! released at once (negative acknowledgement) so that another worker takes it without waiting
//! for the lease to run out. A worker keeps no state: it may die at any moment, and the job it
//! held is delivered again when its lease runs out.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use ark_ec::AffineRepr;
use ark_std::rand::{RngCore, SeedableRng};
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{Consumer, pull};
use futures_util::StreamExt;
use rand_chacha::ChaCha20Rng;
use rustorium_circuits::block::BlockCircuit;
use rustorium_prover::{KeyPair, ProofEnvelope, Prover, ProvingJob, VkHash, vk_hash};

use crate::{FleetError, HEIGHT_HEADER, Link, ProofResult, WORKER_HEADER, results_subject};

/// Test-only misbehaviour (`rustorium prover --misbehave`): what a faulty or hostile worker could
/// send, so that tests show the node refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehave {
    /// A well-formed result whose proof does not verify (the honest proof with `A` moved by the
    /// generator: valid points, wrong proof).
    WrongProof,
    /// Random bytes instead of a result.
    Garbage,
    /// Proves, then hangs before publishing while still extending its lease (a worker that is
    /// killed mid-job: the tests SIGKILL it while it holds the lease).
    Stall,
}

/// The coordination benchmark's worker mode: no proving; each job waits `proof_time` and answers
/// a proof made in advance for its height (which the node still verifies).
#[derive(Debug, Default)]
pub struct Simulated {
    /// The fixed time a job takes.
    pub proof_time: Duration,
    /// Precomputed envelopes by height.
    pub proofs: HashMap<u64, ProofEnvelope>,
}

/// A worker's configuration.
pub struct WorkerOptions {
    /// NATS URL (comma-separated for a cluster).
    pub url: String,
    /// The chain whose jobs it takes.
    pub chain: u64,
    /// Its name in results, metrics and `/status`.
    pub name: String,
    /// The keys it proves with: one jobs consumer per key's shape.
    pub keys: Vec<Arc<KeyPair>>,
    /// The prover (backends of the worker's hardware profile).
    pub prover: Prover,
    /// Test-only misbehaviour.
    pub misbehave: Option<Misbehave>,
    /// Simulated mode (benchmark only).
    pub simulated: Option<Arc<Simulated>>,
    /// GPU proofs that failed and were made again on the CPU.
    pub fallbacks: Arc<AtomicU64>,
    /// How long to wait for the NATS server at start.
    pub connect_timeout: Duration,
}

/// What a worker did before it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Results published and their jobs acknowledged.
    pub proven: u64,
    /// Jobs it could not use (malformed, no key, unsatisfied witness).
    pub refused: u64,
    /// An in-flight job was released at stop.
    pub released: bool,
}

/// One job consumer with its lease length.
struct Queue {
    consumer: Consumer<pull::Config>,
    ack_wait: Duration,
}

/// Runs a worker until `stop` completes. Returns an error only when it cannot start (no NATS,
/// no keys); a failed job is logged and left to its lease.
pub async fn run(
    opts: WorkerOptions,
    stop: impl Future<Output = ()>,
) -> Result<WorkerReport, FleetError> {
    if !crate::valid_worker_name(&opts.name) {
        return Err(FleetError::Config(format!(
            "worker name {:?}: 1 to 64 of A-Z a-z 0-9 . _ -",
            opts.name
        )));
    }
    if opts.keys.is_empty() {
        return Err(FleetError::Config("no proving keys".into()));
    }
    let link = Link::connect(
        &opts.url,
        opts.chain,
        &format!("rustorium-prover-{}", opts.name),
        opts.connect_timeout,
    )
    .await?;
    tokio::pin!(stop);
    let mut queues = Vec::new();
    for k in &opts.keys {
        let consumer = tokio::select! {
            _ = &mut stop => return Ok(WorkerReport::default()),
            c = wait_for_consumer(&link, k) => c,
        };
        let ack_wait = consumer.cached_info().config.ack_wait;
        queues.push(Queue { consumer, ack_wait });
    }
    let keys: Vec<(VkHash, Arc<KeyPair>)> = opts
        .keys
        .iter()
        .map(|k| (vk_hash(&k.pk.vk), k.clone()))
        .collect();
    tracing::info!(
        worker = opts.name.as_str(),
        shapes = keys.len(),
        simulated = opts.simulated.is_some(),
        "prover worker ready"
    );
    let mut report = WorkerReport::default();
    loop {
        for q in &queues {
            let batch = tokio::select! {
                _ = &mut stop => return Ok(report),
                b = q.consumer.fetch().max_messages(1).expires(Duration::from_secs(2)).messages() => b,
            };
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "fetching jobs failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            while let Some(msg) = batch.next().await {
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "receiving a job failed");
                        continue;
                    }
                };
                match handle(&opts, &link, &keys, q.ack_wait, &msg, &mut stop).await {
                    Outcome::Proven => report.proven += 1,
                    Outcome::Refused => report.refused += 1,
                    Outcome::Left => {}
                    Outcome::Released => {
                        report.released = true;
                        return Ok(report);
                    }
                }
            }
        }
    }
}

/// Waits (logging now and then) until the node has created the jobs consumer of `k`'s shape.
async fn wait_for_consumer(link: &Link, k: &KeyPair) -> Consumer<pull::Config> {
    loop {
        match link.jobs_consumer(k.shape, Duration::from_secs(10)).await {
            Ok(c) => return c,
            Err(e) => tracing::info!(error = %e, "waiting for the node's jobs consumer"),
        }
    }
}

enum Outcome {
    Proven,
    Refused,
    /// Not handled now; the lease will give the job to a worker again.
    Left,
    Released,
}

async fn handle(
    opts: &WorkerOptions,
    link: &Link,
    keys: &[(VkHash, Arc<KeyPair>)],
    ack_wait: Duration,
    msg: &async_nats::jetstream::Message,
    stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Outcome {
    let refuse = |why: String| async move {
        tracing::warn!(reason = why.as_str(), "refusing a job");
        let _ = msg.ack_with(AckKind::Term).await;
        Outcome::Refused
    };
    let job = match ProvingJob::decode(&msg.payload) {
        Ok(j) => j,
        Err(e) => return refuse(format!("malformed job: {e}")).await,
    };
    let Some((_, key)) = keys.iter().find(|(h, _)| *h == job.vk_hash) else {
        // Another worker may have the key: released after a pause (each release is a delivery;
        // if none has it, the job becomes a dead letter the node proves itself).
        tracing::error!(
            height = job.height,
            vk_hash = hex_short(&job.vk_hash).as_str(),
            "no key with this verifying-key hash: is --keys the chain's key directory?"
        );
        let _ = msg
            .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
            .await;
        return Outcome::Refused;
    };
    let height = job.height;
    let start = Instant::now();
    let task = {
        let (key, prover, sim, fallbacks, misbehave) = (
            key.clone(),
            opts.prover.clone(),
            opts.simulated.clone(),
            opts.fallbacks.clone(),
            opts.misbehave,
        );
        tokio::task::spawn_blocking(move || match sim {
            Some(sim) => simulate(&sim, &job),
            None => prove_job(&key, &prover, &job, misbehave, &fallbacks),
        })
    };
    tokio::pin!(task);
    // In-progress acknowledgements at a third of the lease keep it while the proof takes longer.
    let mut tick = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(100)));
    tick.tick().await;
    let proven = loop {
        tokio::select! {
            _ = stop.as_mut() => {
                // Confirmed by the server before the process goes (a plain NAK could still sit
                // in the client's buffer at exit, and the job would wait out its lease).
                let released = tokio::time::timeout(
                    Duration::from_secs(2),
                    msg.double_ack_with(AckKind::Nak(None)),
                )
                .await;
                if !matches!(released, Ok(Ok(()))) {
                    tracing::warn!(height, "releasing the in-flight job failed: it returns when its lease runs out");
                }
                tracing::info!(height, "stopping: in-flight job released");
                return Outcome::Released;
            }
            _ = tick.tick() => {
                if let Err(e) = msg.ack_with(AckKind::Progress).await {
                    tracing::warn!(height, error = %e, "extending the lease failed");
                }
            }
            r = &mut task => break r,
        }
    };
    let envelope = match proven {
        Ok(Ok(env)) => env,
        Ok(Err(e)) => return refuse(format!("block {height}: {e}")).await,
        Err(e) => {
            tracing::error!(height, error = %e, "proving task failed");
            return Outcome::Left;
        }
    };
    let prove_ms = u32::try_from(start.elapsed().as_millis()).unwrap_or(u32::MAX);
    let payload = match opts.misbehave {
        Some(Misbehave::Garbage) => {
            let mut junk = vec![0u8; 300];
            ChaCha20Rng::from_seed(seed()).fill_bytes(&mut junk);
            junk
        }
        _ => ProofResult {
            worker: opts.name.clone(),
            prove_ms,
            envelope,
        }
        .encode(),
    };
    let id = format!(
        "{}-{height}-{}-{}",
        link.chain(),
        opts.name,
        hex_short(&seed())
    );
    let published = link
        .publish(
            results_subject(link.chain()),
            &id,
            &[
                (WORKER_HEADER, opts.name.clone()),
                (HEIGHT_HEADER, height.to_string()),
            ],
            payload,
        )
        .await;
    if let Err(e) = published {
        tracing::warn!(height, error = %e, "publishing the proof failed: releasing the job");
        let _ = msg.ack_with(AckKind::Nak(None)).await;
        return Outcome::Left;
    }
    // Acknowledged only now that the results stream holds the proof: a crash in between makes a
    // second proof of the block, which the node stores at most once.
    if let Err(e) = msg.double_ack().await {
        tracing::warn!(height, error = %e, "acknowledging the job failed (it may be proven twice)");
    }
    tracing::info!(height, ms = prove_ms, "block proven and published");
    Outcome::Proven
}

fn seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    if getrandom::fill(&mut s).is_err() {
        // Only message ids and junk bytes use this: the time is unique enough for them.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        s[..16].copy_from_slice(&t.to_le_bytes());
    }
    s
}

fn hex_short(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

/// Proves one job with the worker's key and backends (a GPU failure is retried on the CPU).
fn prove_job(
    key: &KeyPair,
    prover: &Prover,
    job: &ProvingJob,
    misbehave: Option<Misbehave>,
    fallbacks: &AtomicU64,
) -> Result<ProofEnvelope, FleetError> {
    let circuit = BlockCircuit::from_witness(&job.witness, job.producer, job.height, key.shape)
        .map_err(|e| FleetError::Config(format!("witness does not fit the shape: {e}")))?;
    let mut rng = ChaCha20Rng::from_seed(seed());
    let (mut proof, _timings) =
        rustorium_prover::prove_with_fallback(key, prover, circuit.clone(), &mut rng, fallbacks)?;
    match misbehave {
        Some(Misbehave::WrongProof) => {
            proof.a = (proof.a + ark_bn254::G1Affine::generator()).into()
        }
        Some(Misbehave::Stall) => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        _ => {}
    }
    Ok(ProofEnvelope::new(
        job.height,
        job.witness.chain_id,
        key.shape,
        circuit.public_inputs(),
        proof,
        job.vk_hash,
    ))
}

fn simulate(sim: &Simulated, job: &ProvingJob) -> Result<ProofEnvelope, FleetError> {
    std::thread::sleep(sim.proof_time);
    sim.proofs
        .get(&job.height)
        .cloned()
        .ok_or_else(|| FleetError::Config(format!("no simulated proof for block {}", job.height)))
}
