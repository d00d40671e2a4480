//! `rustorium bench fleet`: the proving fleet's throughput (issue 17).
//!
//! Every run uses a real node (in-process) with `[fleet]`, a real `nats-server` (JetStream, file
//! store) on loopback and workers on the same machine, and the node verifies every proof:
//!
//! 1. **Real provers.** `K` blocks proven by 1, 2 … CPU workers, beside the node's own prover
//!    threads (no fleet) on the same blocks: proven blocks/s.
//! 2. **Coordination (simulated workers, labelled).** Each job waits a fixed proof time and
//!    answers a proof made in advance for its block (phase 0 proves the chain once in-process; the
//!    chain is rebuilt identically for each run, so those proofs verify). Throughput against the
//!    worker count shows what the queue itself costs: the per-job coordination overhead is
//!    `T·W/K − proof time` (the time a worker spends per job beyond the proof).
//!
//! Jobs are queued before the workers start, so a run measures the fleet, not block production.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use rustorium::fleet::local::NatsServer;
use rustorium::fleet::worker::{self, Simulated, WorkerOptions};
use rustorium::node::{FleetSection, Node, NodeConfig};
use rustorium::prover::{KeyPair, ProofEnvelope, Prover};
use rustorium_circuits::transfer::SignedTransfer;

const CHAIN: u64 = 7;
const SENDERS: u64 = 32;

struct Bench {
    dir: PathBuf,
    depth: usize,
    capacity: usize,
    txs: Vec<SignedTransfer>,
    blocks: usize,
}

impl Bench {
    fn config(&self, data: &str, fleet: Option<String>, prover_workers: usize) -> NodeConfig {
        NodeConfig {
            proof_system: Default::default(),
            data_dir: self.dir.join(data),
            genesis: self.dir.join("genesis.toml"),
            producer: 0,
            quic_listen: "127.0.0.1:0".into(),
            http_listen: "127.0.0.1:0".into(),
            // Only full blocks: the chain is the same in every run.
            block_interval_ms: 3_600_000,
            capacity: self.capacity,
            keys_dir: self.dir.join("keys"),
            key_seed: 11,
            prover_workers,
            keep_versions: 0,
            max_proving_backlog: 0,
            http: Default::default(),
            prove: true,
            mempool: Default::default(),
            hardware: None,
            consensus: None,
            // A long `lost_after`: the node must not step in as the prover of last resort while
            // workers are busy.
            fleet: fleet.map(|url| FleetSection {
                ack_wait: Duration::from_secs(60),
                lost_after: Duration::from_secs(600),
                accepted_stream: false,
                ..FleetSection::new(url)
            }),
            scoring: Default::default(),
            policy: Default::default(),
        }
    }

    /// Commits the benchmark's blocks, one full block at a time (identical in every run).
    fn fill(&self, node: &Node) -> Result<()> {
        for (b, chunk) in self.txs.chunks(self.capacity).enumerate() {
            for tx in chunk {
                node.submit(tx.clone())
                    .map_err(|e| anyhow::anyhow!("transfer refused: {e}"))?;
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            while node.head().committed < b as u64 + 1 {
                ensure!(Instant::now() < deadline, "block {} not committed", b + 1);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    fn wait_proven(&self, node: &Node, limit: Duration) -> Result<Duration> {
        self.wait_proven_from(node, limit, Instant::now(), 0)
            .map(|(t, _)| t)
    }

    /// Waits until every block is proven; returns the time since `start` and, with `first > 0`,
    /// when `first` proofs were stored and how many were stored then (the steady state starts
    /// there: the workers' first round has ended).
    fn wait_proven_from(
        &self,
        node: &Node,
        limit: Duration,
        start: Instant,
        first: u64,
    ) -> Result<(Duration, Option<(Duration, u64)>)> {
        let mut round = None;
        while node.head().proven < self.blocks as u64 {
            let done = node
                .metrics()
                .proofs
                .load(std::sync::atomic::Ordering::Relaxed);
            if first > 0 && round.is_none() && done >= first {
                round = Some((start.elapsed(), done));
            }
            ensure!(
                start.elapsed() < limit,
                "proven {} of {} after {limit:?}",
                node.head().proven,
                self.blocks
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok((start.elapsed(), round))
    }

    /// Phase 0 and the reference: the node's own prover threads prove the chain; returns the
    /// time and every envelope by height.
    fn in_process(&self, threads: usize) -> Result<(Duration, Vec<(u64, ProofEnvelope)>)> {
        let data = format!("in-process-{threads}");
        let mut config = self.config(&data, None, threads);
        // Commit first, prove after: the same measurement as the fleet's (queued jobs).
        config.prove = false;
        let node = Node::start(config)?;
        self.fill(&node)?;
        ensure!(node.close(Duration::from_secs(30)), "node did not close");
        let node = Node::start(self.config(&data, None, threads))?;
        let t = self.wait_proven(&node, Duration::from_secs(3600))?;
        let mut proofs = Vec::new();
        for h in 1..=self.blocks as u64 {
            let bytes = node.proof(h)?.context("proof missing")?;
            proofs.push((h, ProofEnvelope::decode(&bytes)?));
        }
        ensure!(node.close(Duration::from_secs(30)), "node did not close");
        Ok((t, proofs))
    }

    /// One fleet run with `workers` workers (`simulated`: their mode); returns the time from the
    /// workers' start to every block proven, and the steady state: the jobs proven after the
    /// workers' first round and the time they took.
    fn fleet_run(
        &self,
        run: &str,
        workers: usize,
        keys: &Arc<KeyPair>,
        simulated: Option<Arc<Simulated>>,
    ) -> Result<(Duration, Option<(u64, Duration)>)> {
        let nats = NatsServer::start(&self.dir.join(format!("nats-{run}")))?;
        let node = Node::start(self.config(&format!("fleet-{run}"), Some(nats.url()), 1))?;
        self.fill(&node)?;
        // Every job queued before the workers start.
        let deadline = Instant::now() + Duration::from_secs(120);
        while node
            .metrics()
            .fleet_queue_depth
            .load(std::sync::atomic::Ordering::Relaxed)
            < self.blocks as u64
        {
            ensure!(Instant::now() < deadline, "jobs not queued");
            std::thread::sleep(Duration::from_millis(20));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let mut stops = Vec::new();
        let start = Instant::now();
        for i in 0..workers {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            stops.push(tx);
            let opts = WorkerOptions {
                url: nats.url(),
                chain: CHAIN,
                name: format!("{run}-w{i}"),
                keys: vec![keys.clone()],
                prover: Prover::cpu(),
                misbehave: None,
                simulated: simulated.clone(),
                fallbacks: Arc::default(),
                connect_timeout: Duration::from_secs(10),
            };
            rt.spawn(worker::run(opts, async {
                let _ = rx.await;
            }));
        }
        let proven = self.wait_proven_from(&node, Duration::from_secs(3600), start, workers as u64);
        let t = start.elapsed();
        drop(stops);
        rt.shutdown_timeout(Duration::from_secs(5));
        let m = node.metrics().render();
        let stored = m
            .lines()
            .find_map(|l| l.strip_prefix("rustorium_proofs_total "))
            .and_then(|v| v.trim().parse::<u64>().ok());
        ensure!(node.close(Duration::from_secs(30)), "node did not close");
        drop(nats);
        let (_, round) = proven?;
        ensure!(
            stored == Some(self.blocks as u64),
            "{stored:?} proofs stored for {} blocks",
            self.blocks
        );
        let steady = round
            .filter(|(_, done)| *done < self.blocks as u64)
            .map(|(at, done)| (self.blocks as u64 - done, t.saturating_sub(at)));
        Ok((t, steady))
    }
}

fn genesis(dir: &Path, depth: usize) -> Result<()> {
    let mut g = format!("chain_id = {CHAIN}\ndepth = {depth}\ndevnet = true\n");
    for i in 0..SENDERS {
        g += &format!("[[accounts]]\ndev_key = {i}\nbalance = 1000000000\n");
    }
    std::fs::write(dir.join("genesis.toml"), g)?;
    Ok(())
}

/// `bench fleet`.
pub fn fleet_bench(
    real: &[usize],
    real_blocks: usize,
    simulated: &[usize],
    proof_ms: u64,
    jobs_per_worker: usize,
    depth: usize,
    capacity: usize,
) -> Result<()> {
    let real: Vec<usize> = real.iter().copied().filter(|w| *w > 0).collect();
    let simulated: Vec<usize> = simulated.iter().copied().filter(|w| *w > 0).collect();
    let (real, simulated) = (&real[..], &simulated[..]);
    ensure!(
        rustorium::fleet::local::find_nats_server().is_some(),
        "nats-server is not installed (scripts/setup.sh installs it)"
    );
    let dir = std::env::temp_dir().join(format!("rustorium-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    genesis(&dir, depth)?;
    let shape = format!("depth {depth}, capacity {capacity}");
    println!(
        "Proving fleet on this machine ({} cores), {shape}; every proof verified by the node.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let bench = |blocks: usize| Bench {
        dir: dir.clone(),
        depth,
        capacity,
        txs: ring_transfers((blocks * capacity) as u64),
        blocks,
    };

    // Real provers.
    if !real.is_empty() {
        let b = bench(real_blocks);
        let (reference, _) = b.in_process(1)?;
        let keys = Arc::new(load_keys(&b)?);
        println!("| provers | blocks | time | proven blocks/s | × node's own prover thread |");
        println!("| --- | --- | --- | --- | --- |");
        let rate = |t: Duration| real_blocks as f64 / t.as_secs_f64();
        println!(
            "| node's prover thread (no fleet; reference) | {real_blocks} | {:.2} s | {:.2} | 1.00 |",
            reference.as_secs_f64(),
            rate(reference)
        );
        for &w in real {
            let (t, _) = b.fleet_run(&format!("real{w}"), w, &keys, None)?;
            println!(
                "| {w} CPU worker{} | {real_blocks} | {:.2} s | {:.2} | {:.2} |",
                if w == 1 { "" } else { "s" },
                t.as_secs_f64(),
                rate(t),
                rate(t) / rate(reference)
            );
        }
        println!();
    }

    // Coordination with simulated workers.
    if !simulated.is_empty() {
        let max = *simulated.iter().max().unwrap_or(&1);
        let blocks = (max * jobs_per_worker).max(16);
        let b = bench(blocks);
        eprintln!(
            "fleet bench: proving {blocks} blocks once in-process for the simulated workers…"
        );
        let (_, proofs) = b.in_process(2)?;
        let keys = Arc::new(load_keys(&b)?);
        let sim = Arc::new(Simulated {
            proof_time: Duration::from_millis(proof_ms),
            proofs: proofs.into_iter().collect(),
        });
        println!(
            "SIMULATED workers: each job waits {proof_ms} ms and answers a proof made in advance (verified by the node).\n"
        );
        println!(
            "Steady state: the jobs proven after the workers' first round, over the time they took (start-up excluded); ideal: W / proof time; overhead per job: W / (steady jobs/s) − proof time.\n"
        );
        println!(
            "| workers | jobs | whole run | steady jobs/s | ideal jobs/s | × linear | overhead per job |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        for &w in simulated {
            let jobs = (w * jobs_per_worker).max(16).min(blocks);
            let run = Bench {
                blocks: jobs,
                txs: b.txs[..jobs * capacity].to_vec(),
                ..bench(0)
            };
            let (t, steady) = run.fleet_run(&format!("sim{w}"), w, &keys, Some(sim.clone()))?;
            let ideal = w as f64 / (proof_ms as f64 / 1e3);
            let Some((n, dt)) = steady else {
                println!(
                    "| {w} | {jobs} | {:.2} s | – | {ideal:.1} | – | – |",
                    t.as_secs_f64()
                );
                continue;
            };
            let rate = n as f64 / dt.as_secs_f64();
            let overhead_ms = (w as f64 / rate - proof_ms as f64 / 1e3) * 1e3;
            println!(
                "| {w} | {jobs} | {:.2} s | {rate:.1} | {ideal:.1} | {:.3} | {overhead_ms:.1} ms |",
                t.as_secs_f64(),
                rate / ideal
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn load_keys(b: &Bench) -> Result<KeyPair> {
    let path = b
        .dir
        .join(format!("keys/d{}-c{}/proving.key", b.depth, b.capacity));
    Ok(rustorium::prover::load_proving_key(&path)?)
}

fn ring_transfers(n: u64) -> Vec<SignedTransfer> {
    super::ring_transfers(n, SENDERS)
}
