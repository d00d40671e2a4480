//! Node metrics in the Prometheus text format (hand-rolled: a handful of counters, gauges and one
//! histogram do not justify a registry dependency).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the proof-time histogram.
const PROOF_BUCKETS: [f64; 10] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The node's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Blocks committed.
    pub blocks: AtomicU64,
    /// Blocks proven.
    pub proofs: AtomicU64,
    /// Transfers admitted to the mempool.
    pub tx_accepted: AtomicU64,
    /// Transfers applied in blocks.
    pub tx_applied: AtomicU64,
    /// Mempool size.
    pub mempool_size: AtomicU64,
    /// Blocks waiting for a proof.
    pub proving_queue: AtomicU64,
    /// Height of the oldest unproven block (0: none).
    pub oldest_unproven: AtomicU64,
    /// 1 while block production waits for the prover (`max_proving_backlog`).
    pub production_paused: AtomicU64,
    /// Latest committed height.
    pub committed_height: AtomicU64,
    /// Latest proven height.
    pub proven_height: AtomicU64,
    /// Accepted transfers put back into the mempool from the intake table at start.
    pub intake_replayed: AtomicU64,
    /// Intake rows dropped at start (already applied, or no longer valid).
    pub intake_dropped: AtomicU64,
    /// GPU jobs that failed and were retried on the CPU (shared with the fallback wrappers).
    pub gpu_fallbacks: std::sync::Arc<AtomicU64>,
    /// Proofs that failed.
    pub proof_failures: AtomicU64,
    /// Current consensus round (validator mode).
    pub consensus_round: AtomicU64,
    /// Equivocation evidence records seen (validator mode).
    pub equivocations: AtomicU64,
    /// Validator messages dropped as malformed (validator mode).
    pub peer_malformed: std::sync::Arc<AtomicU64>,
    /// Decided blocks committed from the plan made when they were built or checked (validator
    /// mode), without executing them again.
    pub plans_reused: AtomicU64,
    /// Decided or synced blocks that had to be planned again at commit (validator mode).
    pub plans_replanned: AtomicU64,
    /// 1 while transaction scoring runs.
    pub scoring_enabled: AtomicU64,
    /// Scoring sessions that asked for CUDA and run on the CPU.
    pub scoring_fallbacks: AtomicU64,
    /// Fleet: jobs waiting in the jobs stream for a worker (the consumer's count).
    pub fleet_queue_depth: AtomicU64,
    /// Fleet: jobs leased to workers and not yet acknowledged.
    pub fleet_leases: AtomicU64,
    /// Fleet: leased jobs delivered more than once (the consumer's count).
    pub fleet_redelivered: AtomicU64,
    /// Fleet: workers' pull requests waiting for a job (idle workers).
    pub fleet_waiting: AtomicU64,
    /// Fleet: jobs the node published again (a rejected result, or a job gone without a result).
    pub fleet_requeued: AtomicU64,
    /// Fleet: jobs whose deliveries were exhausted (moved to the dead-letter subject and proven in
    /// the node's process).
    pub fleet_dead_letters: AtomicU64,
    /// Fleet: results for blocks already proven (a second worker's proof), dropped.
    pub fleet_duplicates: AtomicU64,
    /// Fleet: accepted transfers the accepted-transfer stream did not acknowledge in time (they
    /// are durable in the intake table regardless).
    pub fleet_accept_unpublished: AtomicU64,
    /// Fleet: transfers admitted again from the accepted-transfer stream at start.
    pub fleet_accepted_replayed: AtomicU64,
    /// Fleet: transfers of the accepted-transfer stream refused at start (applied already, or no
    /// longer valid).
    pub fleet_accepted_dropped: AtomicU64,
    workers: Mutex<BTreeMap<String, WorkerStats>>,
    score_hist: Mutex<(Vec<u64>, f64, u64)>,
    decisions: Mutex<BTreeMap<(String, String), u64>>,
    rejected: Mutex<BTreeMap<String, u64>>,
    backends: Mutex<BTreeMap<String, String>>,
    proof_hist: Mutex<(Vec<u64>, f64, u64)>,
}

/// What the node saw of one fleet worker (by the name it gives itself).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerStats {
    /// Proofs of this worker stored.
    pub proofs: u64,
    /// Results refused, by reason (`malformed`, `invalid`, `unknown_block`).
    pub rejected: BTreeMap<String, u64>,
    /// Sum of the latencies of its stored proofs (job first published to result verified), s.
    pub latency_sum: f64,
    /// Unix time of its last result, ms.
    pub last_seen_ms: u64,
}

/// Most distinct worker names tracked (a flood of invented names cannot grow the map further;
/// later names are counted under `other`).
const MAX_WORKERS: usize = 1024;

/// Upper bounds of the anomaly-score histogram.
const SCORE_BUCKETS: [f64; 9] = [-0.3, -0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.3];

impl Metrics {
    /// Records an anomaly score.
    pub fn observe_score(&self, score: f32) {
        let mut h = self.score_hist.lock().unwrap_or_else(|e| e.into_inner());
        if h.0.is_empty() {
            h.0 = vec![0; SCORE_BUCKETS.len()];
        }
        for (i, b) in SCORE_BUCKETS.iter().enumerate() {
            if f64::from(score) <= *b {
                h.0[i] += 1;
            }
        }
        h.1 += f64::from(score);
        h.2 += 1;
    }

    /// Counts an admission decision (`accept`, `deprioritize`, `reject`) with its reason (cut
    /// to 64 characters so labels stay bounded).
    pub fn decision(&self, decision: &str, reason: &str) {
        let reason: String = reason
            .chars()
            .take(64)
            .map(|c| {
                if c == '"' || c == '\\' || c == '\n' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        *self
            .decisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((decision.to_string(), reason))
            .or_default() += 1;
    }

    /// Backend per operation, as recorded at start-up.
    pub fn backends(&self) -> BTreeMap<String, String> {
        self.backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts a rejected transfer by reason.
    pub fn reject(&self, reason: &str) {
        let mut m = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(reason.to_string()).or_default() += 1;
    }

    /// Rejections by reason.
    pub fn rejected(&self) -> BTreeMap<String, u64> {
        self.rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records the backend of an operation.
    pub fn set_backend(&self, op: &str, backend: &str) {
        self.backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(op.to_string(), backend.to_string());
    }

    fn worker(&self, name: &str, f: impl FnOnce(&mut WorkerStats)) {
        let mut m = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        let key = if m.contains_key(name) || m.len() < MAX_WORKERS {
            name
        } else {
            "other"
        };
        let w = m.entry(key.to_string()).or_default();
        w.last_seen_ms = crate::now_ms();
        f(w);
    }

    /// Counts a stored proof of fleet worker `name` with its latency.
    pub fn worker_proof(&self, name: &str, latency_secs: f64) {
        self.worker(name, |w| {
            w.proofs += 1;
            w.latency_sum += latency_secs;
        });
    }

    /// Counts a refused result of fleet worker `name`.
    pub fn worker_rejected(&self, name: &str, reason: &str) {
        self.worker(name, |w| {
            *w.rejected.entry(reason.to_string()).or_default() += 1
        });
    }

    /// Every fleet worker seen, by name.
    pub fn workers(&self) -> BTreeMap<String, WorkerStats> {
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records a proof time.
    pub fn observe_proof(&self, secs: f64) {
        let mut h = self.proof_hist.lock().unwrap_or_else(|e| e.into_inner());
        if h.0.is_empty() {
            h.0 = vec![0; PROOF_BUCKETS.len()];
        }
        for (i, b) in PROOF_BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.0[i] += 1;
            }
        }
        h.1 += secs;
        h.2 += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let g = |out: &mut String, name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        g(
            &mut out,
            "rustorium_blocks_total",
            "counter",
            "Blocks committed.",
            l(&self.blocks),
        );
        g(
            &mut out,
            "rustorium_proofs_total",
            "counter",
            "Blocks proven.",
            l(&self.proofs),
        );
        g(
            &mut out,
            "rustorium_proof_failures_total",
            "counter",
            "Proof jobs that failed.",
            l(&self.proof_failures),
        );
        g(
            &mut out,
            "rustorium_tx_accepted_total",
            "counter",
            "Transfers admitted to the mempool.",
            l(&self.tx_accepted),
        );
        g(
            &mut out,
            "rustorium_tx_applied_total",
            "counter",
            "Transfers applied in blocks.",
            l(&self.tx_applied),
        );
        g(
            &mut out,
            "rustorium_mempool_size",
            "gauge",
            "Transfers in the mempool.",
            l(&self.mempool_size),
        );
        g(
            &mut out,
            "rustorium_proving_queue_depth",
            "gauge",
            "Blocks waiting for a proof.",
            l(&self.proving_queue),
        );
        g(
            &mut out,
            "rustorium_oldest_unproven_height",
            "gauge",
            "Oldest block without a proof (0: none).",
            l(&self.oldest_unproven),
        );
        g(
            &mut out,
            "rustorium_production_paused",
            "gauge",
            "1 while block production waits for the proving backlog to shrink.",
            l(&self.production_paused),
        );
        g(
            &mut out,
            "rustorium_committed_height",
            "gauge",
            "Latest committed block.",
            l(&self.committed_height),
        );
        g(
            &mut out,
            "rustorium_proven_height",
            "gauge",
            "Latest block such that every block up to it is proven.",
            l(&self.proven_height),
        );
        g(
            &mut out,
            "rustorium_consensus_round",
            "gauge",
            "Consensus round at the current height (validators).",
            l(&self.consensus_round),
        );
        g(
            &mut out,
            "rustorium_equivocations_total",
            "counter",
            "Equivocation evidence records (conflicting proposals or votes) seen.",
            l(&self.equivocations),
        );
        g(
            &mut out,
            "rustorium_block_plans_reused_total",
            "counter",
            "Decided blocks committed from the plan checked at proposal time.",
            l(&self.plans_reused),
        );
        g(
            &mut out,
            "rustorium_block_plans_replanned_total",
            "counter",
            "Decided or synced blocks executed again at commit (no kept plan).",
            l(&self.plans_replanned),
        );
        g(
            &mut out,
            "rustorium_peer_malformed_total",
            "counter",
            "Validator messages dropped because they did not decode.",
            l(&self.peer_malformed),
        );
        g(
            &mut out,
            "rustorium_scoring_enabled",
            "gauge",
            "1 while transaction scoring runs.",
            l(&self.scoring_enabled),
        );
        g(
            &mut out,
            "rustorium_scoring_fallbacks_total",
            "counter",
            "Scoring sessions that asked for CUDA and run on the CPU.",
            l(&self.scoring_fallbacks),
        );
        {
            let h = self.score_hist.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(
                out,
                "# HELP rustorium_tx_score Anomaly scores of incoming transfers.\n# TYPE rustorium_tx_score histogram"
            );
            for (i, b) in SCORE_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "rustorium_tx_score_bucket{{le=\"{b}\"}} {}",
                    h.0.get(i).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(out, "rustorium_tx_score_bucket{{le=\"+Inf\"}} {}", h.2);
            let _ = writeln!(out, "rustorium_tx_score_sum {}", h.1);
            let _ = writeln!(out, "rustorium_tx_score_count {}", h.2);
            let d = self.decisions.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(
                out,
                "# HELP rustorium_admission_decisions_total Admission decisions by reason.\n# TYPE rustorium_admission_decisions_total counter"
            );
            for ((decision, reason), n) in d.iter() {
                let _ = writeln!(
                    out,
                    "rustorium_admission_decisions_total{{decision=\"{decision}\",reason=\"{reason}\"}} {n}"
                );
            }
        }
        g(
            &mut out,
            "rustorium_intake_replayed_total",
            "counter",
            "Accepted transfers put back into the mempool from the intake table at start.",
            l(&self.intake_replayed),
        );
        g(
            &mut out,
            "rustorium_intake_dropped_total",
            "counter",
            "Intake rows dropped at start: already applied, or no longer valid.",
            l(&self.intake_dropped),
        );
        g(
            &mut out,
            "rustorium_gpu_fallbacks_total",
            "counter",
            "GPU jobs retried on the CPU.",
            l(&self.gpu_fallbacks),
        );
        let _ = writeln!(
            out,
            "# HELP rustorium_tx_rejected_total Transfers rejected, by reason.\n# TYPE rustorium_tx_rejected_total counter"
        );
        for (reason, n) in self.rejected() {
            let _ = writeln!(
                out,
                "rustorium_tx_rejected_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP rustorium_backend Backend in use per operation.\n# TYPE rustorium_backend gauge"
        );
        for (op, b) in self
            .backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(out, "rustorium_backend{{op=\"{op}\",backend=\"{b}\"}} 1");
        }
        for (name, help, v) in [
            (
                "rustorium_fleet_queue_depth",
                "Fleet jobs waiting for a worker.",
                &self.fleet_queue_depth,
            ),
            (
                "rustorium_fleet_leases",
                "Fleet jobs leased to workers, not yet acknowledged.",
                &self.fleet_leases,
            ),
            (
                "rustorium_fleet_redelivered",
                "Leased fleet jobs delivered more than once.",
                &self.fleet_redelivered,
            ),
            (
                "rustorium_fleet_waiting_requests",
                "Pull requests of idle fleet workers waiting for a job.",
                &self.fleet_waiting,
            ),
        ] {
            g(&mut out, name, "gauge", help, l(v));
        }
        for (name, help, v) in [
            (
                "rustorium_fleet_requeued_total",
                "Fleet jobs published again (rejected result, or gone without one).",
                &self.fleet_requeued,
            ),
            (
                "rustorium_fleet_dead_letters_total",
                "Fleet jobs whose deliveries were exhausted, proven in-process.",
                &self.fleet_dead_letters,
            ),
            (
                "rustorium_fleet_duplicate_results_total",
                "Fleet results for blocks already proven, dropped.",
                &self.fleet_duplicates,
            ),
            (
                "rustorium_fleet_accepted_replayed_total",
                "Transfers admitted again from the accepted-transfer stream at start.",
                &self.fleet_accepted_replayed,
            ),
            (
                "rustorium_fleet_accepted_dropped_total",
                "Transfers of the accepted-transfer stream refused at start (applied already, or invalid).",
                &self.fleet_accepted_dropped,
            ),
            (
                "rustorium_fleet_accept_unpublished_total",
                "Accepted transfers the accepted-transfer stream did not acknowledge in time.",
                &self.fleet_accept_unpublished,
            ),
        ] {
            g(&mut out, name, "counter", help, l(v));
        }
        {
            let workers = self.workers();
            let _ = writeln!(
                out,
                "# HELP rustorium_fleet_worker_proofs_total Proofs stored per fleet worker.\n# TYPE rustorium_fleet_worker_proofs_total counter"
            );
            for (w, s) in &workers {
                let _ = writeln!(
                    out,
                    "rustorium_fleet_worker_proofs_total{{worker=\"{w}\"}} {}",
                    s.proofs
                );
            }
            let _ = writeln!(
                out,
                "# HELP rustorium_fleet_worker_rejected_total Results refused per fleet worker and reason.\n# TYPE rustorium_fleet_worker_rejected_total counter"
            );
            for (w, s) in &workers {
                for (reason, n) in &s.rejected {
                    let _ = writeln!(
                        out,
                        "rustorium_fleet_worker_rejected_total{{worker=\"{w}\",reason=\"{reason}\"}} {n}"
                    );
                }
            }
            let _ = writeln!(
                out,
                "# HELP rustorium_fleet_worker_latency_seconds Job publication to verified proof, per fleet worker.\n# TYPE rustorium_fleet_worker_latency_seconds summary"
            );
            for (w, s) in &workers {
                let _ = writeln!(
                    out,
                    "rustorium_fleet_worker_latency_seconds_sum{{worker=\"{w}\"}} {}\nrustorium_fleet_worker_latency_seconds_count{{worker=\"{w}\"}} {}",
                    s.latency_sum, s.proofs
                );
            }
        }
        let h = self.proof_hist.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP rustorium_proof_seconds Time to prove a block.\n# TYPE rustorium_proof_seconds histogram"
        );
        for (i, b) in PROOF_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "rustorium_proof_seconds_bucket{{le=\"{b}\"}} {}",
                h.0.get(i).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(out, "rustorium_proof_seconds_bucket{{le=\"+Inf\"}} {}", h.2);
        let _ = writeln!(out, "rustorium_proof_seconds_sum {}", h.1);
        let _ = writeln!(out, "rustorium_proof_seconds_count {}", h.2);
        out
    }
}
