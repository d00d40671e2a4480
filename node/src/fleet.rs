//! The node's side of the proving fleet (`[fleet]`, issue 17): it publishes one job per committed
//! block, judges every result a worker sends back (its own verifying key, its own public inputs
//! of the block: a worker is never trusted), stores at most one proof per height, and watches the
//! queue: refused and lost jobs are published again, jobs whose deliveries are exhausted are
//! moved to the dead-letter subject and proven in the node's process.
//!
//! Four tasks on the fleet's own tokio runtime: the publisher (heights to jobs, retried until the
//! stream acknowledges them, so a NATS outage delays jobs and loses none), the results reader,
//! the max-deliveries advisory listener, and a watchdog (queue metrics each second; a job gone
//! from the queue without a result for `lost_after` is published again).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rayon::prelude::*;
use rustorium_circuits::Fr;
use rustorium_circuits::block::NUM_PUBLIC_INPUTS;
use rustorium_fleet::{
    FleetError, HEIGHT_HEADER, Link, ProofResult, QueueSettings, WORKER_HEADER, advisory_sequence,
    dead_subject, max_deliveries_advisory, valid_worker_name,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::config::FleetSection;
use crate::prover::{PreparedKey, ProvingJob, vk_hash};
use crate::{Node, NodeError};
use rustorium_circuits::transfer::SignedTransfer;

/// A published job the node waits on.
#[derive(Debug)]
struct Pending {
    /// The block's public inputs, from the node's own re-execution.
    inputs: [Fr; NUM_PUBLIC_INPUTS],
    /// When it was first published (latency per worker).
    first: Instant,
    /// Its sequence in the jobs stream, once acknowledged.
    sequence: Option<u64>,
    /// Publications so far (0: not yet published).
    attempt: u32,
    /// Times it was published again (refused results, and jobs gone without a result).
    retries: u32,
    /// Since when the queue no longer holds it (acknowledged by a worker) with no result.
    gone_since: Option<Instant>,
    /// Since when the queue holds it while the consumer has nothing pending or leased: its
    /// deliveries are exhausted and the advisory was missed (the node was down when it came).
    stuck_since: Option<Instant>,
}

/// The fleet link of a running node.
pub(crate) struct Fleet {
    link: Link,
    section: FleetSection,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    publish: UnboundedSender<u64>,
    pending: Mutex<BTreeMap<u64, Pending>>,
    prepared: PreparedKey,
    vk_hash: [u8; 32],
}

/// Why a result was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Not a result.
    Malformed,
    /// A result whose envelope is not a valid proof of the node's block.
    Invalid,
    /// A height the node has not committed.
    UnknownBlock,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Invalid => "invalid",
            Refusal::UnknownBlock => "unknown_block",
        }
    }
}

impl Fleet {
    /// Connects, creates the streams and the jobs consumer of the node's shape, and starts the
    /// fleet's tasks. Fails (the node does not start) when NATS cannot be reached in 10 s or
    /// JetStream does not answer in 30 s.
    pub(crate) fn start(node: &Arc<Node>, section: FleetSection) -> Result<Arc<Self>, NodeError> {
        let keys = node
            .keys
            .as_ref()
            .ok_or_else(|| NodeError::Config("[fleet] needs proving on (prove = true)".into()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fleet")
            .enable_all()
            .build()
            .map_err(|e| NodeError::Config(format!("fleet runtime: {e}")))?;
        let chain = node.genesis.chain_id;
        let settings = QueueSettings {
            ack_wait: section.ack_wait,
            max_deliver: section.max_deliver,
            replicas: section.replicas,
            ..QueueSettings::default()
        };
        let shape = node.shape();
        let name = section
            .name
            .clone()
            .unwrap_or_else(|| format!("node-{}", node.config.producer));
        if !valid_worker_name(&name) {
            return Err(NodeError::Config(format!(
                "[fleet] name {name:?}: 1 to 64 of A-Z a-z 0-9 . _ -"
            )));
        }
        let (link, results) = runtime
            .block_on(async {
                let link = Link::connect(
                    &section.url,
                    chain,
                    &format!("rustorium-{name}"),
                    Duration::from_secs(10),
                )
                .await?;
                // A cluster that is still electing its JetStream leader refuses for a moment.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                loop {
                    let setup = async {
                        link.ensure_streams(&settings).await?;
                        link.ensure_jobs_consumer(shape, &settings).await?;
                        link.results_consumer(&name).await
                    };
                    match setup.await {
                        Ok(results) => return Ok::<_, FleetError>((link, results)),
                        Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                        Err(e) => {
                            tracing::info!(error = %e, "JetStream not ready; retrying");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                }
            })
            .map_err(|e| NodeError::Config(format!("[fleet]: {e}")))?;
        let (tx, rx) = unbounded_channel();
        let fleet = Arc::new(Self {
            link,
            section,
            runtime: Mutex::new(None),
            publish: tx,
            pending: Mutex::new(BTreeMap::new()),
            prepared: PreparedKey::new(&keys.pk.vk),
            vk_hash: vk_hash(&keys.pk.vk),
        });
        runtime.spawn(publisher(node.clone(), fleet.clone(), rx));
        runtime.spawn(read_results(node.clone(), fleet.clone(), results));
        runtime.spawn(dead_letters(node.clone(), fleet.clone()));
        runtime.spawn(watchdog(node.clone(), fleet.clone()));
        *fleet.runtime.lock().unwrap_or_else(|e| e.into_inner()) = Some(runtime);
        tracing::info!(
            url = fleet.section.url.as_str(),
            consumer = name.as_str(),
            "proving fleet connected"
        );
        Ok(fleet)
    }

    /// Admits again every transfer of the accepted-transfer stream (`[fleet] replay_accepted`):
    /// what admission refuses (already applied: a stale nonce) is dropped and counted, the rest
    /// is made durable in the intake table like any accepted transfer.
    pub(crate) fn replay_accepted(&self, node: &Node) -> Result<(), NodeError> {
        let Some(handle) = self.handle() else {
            return Ok(());
        };
        let link = self.link.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        handle.spawn(async move {
            let _ = tx.send(link.accepted_transfers().await);
        });
        let payloads = rx
            .recv()
            .map_err(|_| NodeError::Config("fleet runtime stopped".into()))?
            .map_err(|e| NodeError::Config(format!("[fleet] replay_accepted: {e}")))?;
        let (mut replayed, mut dropped) = (0u64, 0u64);
        let mut admitted = Vec::new();
        for bytes in payloads {
            match SignedTransfer::decode(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|tx| {
                    node.admit(tx.clone())
                        .map(|()| tx)
                        .map_err(|e| e.to_string())
                }) {
                Ok(tx) => {
                    replayed += 1;
                    admitted.push(tx);
                }
                Err(reason) => {
                    tracing::debug!(%reason, "accepted transfer not admitted again");
                    dropped += 1;
                }
            }
        }
        node.intake
            .put_many(node.store.database(), admitted.iter())?;
        node.metrics
            .fleet_accepted_replayed
            .fetch_add(replayed, Ordering::Relaxed);
        node.metrics
            .fleet_accepted_dropped
            .fetch_add(dropped, Ordering::Relaxed);
        tracing::info!(replayed, dropped, "accepted-transfer stream replayed");
        Ok(())
    }

    /// Queues block `height` for the fleet.
    pub(crate) fn submit(&self, height: u64) {
        let _ = self.publish.send(height);
    }

    /// Stops the fleet's tasks (they hold the node).
    pub(crate) fn stop(&self) {
        crate::stop_runtime(&self.runtime);
    }

    /// The fleet runtime's handle while it runs.
    fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|rt| rt.handle().clone())
    }

    /// Forgets a block once its proof is stored (by a worker or in-process).
    pub(crate) fn proven(&self, height: u64) {
        self.lock().remove(&height);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes block `height`'s job again (a refused result or a lost job); after
    /// `max_rejections` such retries the node proves it itself (a job every worker refuses, say
    /// one whose witness does not satisfy the circuit, cannot circulate for ever).
    fn requeue(&self, node: &Node, height: u64) {
        let local = {
            let mut p = self.lock();
            let Some(e) = p.get_mut(&height) else { return };
            e.sequence = None;
            e.gone_since = None;
            e.stuck_since = None;
            e.retries += 1;
            if e.retries >= self.section.max_rejections {
                p.remove(&height);
                true
            } else {
                false
            }
        };
        if local {
            tracing::warn!(height, "job retried too often: proving in-process");
            node.prove_locally(height);
        } else {
            node.metrics.fleet_requeued.fetch_add(1, Ordering::Relaxed);
            self.submit(height);
        }
    }

    /// Publishes accepted transfers to the accepted-transfer stream and waits (up to 2 s) for
    /// the stream's acknowledgements; what it does not acknowledge in time is counted (the
    /// transfers are durable in the intake table regardless).
    pub(crate) fn publish_accepted(&self, node: &Node, txs: &[(String, Vec<u8>)]) {
        if !self.section.accepted_stream || txs.is_empty() {
            return;
        }
        // NATS unreachable: do not hold acknowledgements for the timeout (the intake table has
        // made the transfers durable); counted.
        if self.link.client().connection_state() != async_nats::connection::State::Connected {
            node.metrics
                .fleet_accept_unpublished
                .fetch_add(txs.len() as u64, Ordering::Relaxed);
            return;
        }
        let Some(handle) = self.handle() else {
            return;
        };
        let link = self.link.clone();
        let subject = rustorium_fleet::accepted_subject(link.chain());
        let txs = txs.to_vec();
        let n = txs.len() as u64;
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        handle.spawn(async move {
            let publish = futures_util::future::join_all(txs.into_iter().map(|(id, bytes)| {
                let (link, subject) = (link.clone(), subject.clone());
                async move { link.publish(subject, &id, &[], bytes).await.is_ok() }
            }));
            let ok = match tokio::time::timeout(Duration::from_secs(2), publish).await {
                Ok(r) => r.into_iter().filter(|ok| *ok).count() as u64,
                Err(_) => 0,
            };
            let _ = done_tx.send(ok);
        });
        let ok = done_rx.recv_timeout(Duration::from_secs(3)).unwrap_or(0);
        if ok < n {
            node.metrics
                .fleet_accept_unpublished
                .fetch_add(n - ok, Ordering::Relaxed);
        }
    }

    /// Judges results that arrived together: decode each, match it with the node's own block,
    /// verify the proofs in parallel, and store the valid ones in one write transaction.
    fn judge(&self, node: &Node, batch: &[Incoming]) {
        let mut claims = Vec::with_capacity(batch.len());
        for item in batch {
            match ProofResult::decode(&item.payload) {
                Ok(r) => claims.push(r),
                Err(e) => {
                    tracing::warn!(worker = item.worker.as_str(), error = %e, "refused a malformed result");
                    node.metrics
                        .worker_rejected(&item.worker, Refusal::Malformed.reason());
                    if let Some(h) = item.height {
                        self.requeue(node, h);
                    }
                }
            }
        }
        let mut checks = Vec::with_capacity(claims.len());
        for result in claims {
            let height = result.envelope.height;
            if matches!(crate::chain::proof(&node.store, height), Ok(Some(_))) {
                node.metrics
                    .fleet_duplicates
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let known = self.lock().get(&height).map(|p| (p.inputs, p.first));
            let (inputs, first) = match known {
                Some(k) => k,
                // A result of a job published before this node restarted: the inputs again.
                None if height >= 1 && height <= node.head().committed => {
                    match node.block_circuit(height) {
                        Ok((circuit, _)) => (circuit.public_inputs(), Instant::now()),
                        Err(e) => {
                            tracing::error!(height, error = %e, "cannot rebuild a block to judge its result");
                            continue;
                        }
                    }
                }
                None => {
                    tracing::warn!(
                        worker = result.worker.as_str(),
                        height,
                        "refused a result for a block not committed here"
                    );
                    node.metrics
                        .worker_rejected(&result.worker, Refusal::UnknownBlock.reason());
                    continue;
                }
            };
            checks.push((result, inputs, first));
        }
        let chain_id = node.genesis.chain_id;
        let shape = node.shape();
        let verdicts: Vec<bool> = checks
            .par_iter()
            .map(|(r, inputs, _)| {
                let env = &r.envelope;
                env.chain_id == chain_id
                    && env.shape == shape
                    && env.vk_hash == self.vk_hash
                    && env.public_inputs() == *inputs
                    && env
                        .groth16()
                        .is_some_and(|p| self.prepared.verify(p, inputs))
            })
            .collect();
        let mut valid = Vec::new();
        for ((result, _, first), ok) in checks.into_iter().zip(verdicts) {
            if ok {
                valid.push((result, first.elapsed().as_secs_f64()));
            } else {
                let height = result.envelope.height;
                tracing::warn!(
                    worker = result.worker.as_str(),
                    height,
                    "refused a proof that does not verify for this block"
                );
                node.metrics
                    .worker_rejected(&result.worker, Refusal::Invalid.reason());
                self.requeue(node, height);
            }
        }
        if valid.is_empty() {
            return;
        }
        let envs: Vec<_> = valid.iter().map(|(r, _)| r.envelope.clone()).collect();
        let secs: Vec<f64> = valid.iter().map(|(_, s)| *s).collect();
        match node.store_proofs(&envs, &secs) {
            Ok(stored) => {
                for ((result, latency), fresh) in valid.iter().zip(stored) {
                    if fresh {
                        node.metrics.worker_proof(&result.worker, *latency);
                    } else {
                        node.metrics
                            .fleet_duplicates
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "storing verified proofs failed"),
        }
    }
}

/// A result as it arrived, with what its headers claim.
struct Incoming {
    payload: bytes::Bytes,
    worker: String,
    height: Option<u64>,
}

/// Most results judged together (one parallel verification, one write transaction).
const JUDGE_BATCH: usize = 64;

/// Heights to jobs: each is re-executed, encoded and published until the stream acknowledges it.
async fn publisher(node: Arc<Node>, fleet: Arc<Fleet>, mut rx: UnboundedReceiver<u64>) {
    let shape = node.shape();
    while let Some(height) = rx.recv().await {
        if matches!(crate::chain::proof(&node.store, height), Ok(Some(_))) {
            fleet.proven(height);
            continue;
        }
        let built = {
            let node = node.clone();
            tokio::task::spawn_blocking(move || node.proving_job(height)).await
        };
        let (job, inputs) = match built {
            Ok(Ok(j)) => j,
            Ok(Err(e)) => {
                tracing::error!(height, error = %e, "cannot make the proving job: proving in-process");
                node.prove_locally(height);
                continue;
            }
            Err(e) => {
                tracing::error!(height, error = %e, "job task failed");
                continue;
            }
        };
        let bytes = match job.encode() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(height, error = %e, "cannot encode the proving job: proving in-process");
                node.prove_locally(height);
                continue;
            }
        };
        let attempt = {
            let mut p = fleet.lock();
            let e = p.entry(height).or_insert_with(|| Pending {
                inputs,
                first: Instant::now(),
                sequence: None,
                attempt: 0,
                retries: 0,
                gone_since: None,
                stuck_since: None,
            });
            e.inputs = inputs;
            e.attempt
        };
        let mut backoff = Duration::from_millis(200);
        let published = loop {
            match fleet
                .link
                .publish_job(shape, height, attempt, bytes.clone())
                .await
            {
                Ok(p) => break p,
                Err(e) => {
                    tracing::warn!(height, error = %e, "publishing a job failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        if let Some(e) = fleet.lock().get_mut(&height) {
            e.sequence = Some(published.sequence);
            e.attempt = attempt + 1;
        }
        tracing::debug!(
            height,
            seq = published.sequence,
            duplicate = published.duplicate,
            "job published"
        );
    }
}

/// Reads results through the node's durable consumer: what has arrived (up to [`JUDGE_BATCH`])
/// is judged together, then acknowledged.
async fn read_results(node: Arc<Node>, fleet: Arc<Fleet>, consumer: JobsConsumer) {
    loop {
        let mut messages = match consumer.messages().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "reading results failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(first) = messages.next().await {
            let mut msgs = vec![first];
            // Whatever else has already arrived, without waiting.
            while msgs.len() < JUDGE_BATCH {
                match tokio::time::timeout(Duration::ZERO, messages.next()).await {
                    Ok(Some(m)) => msgs.push(m),
                    _ => break,
                }
            }
            let msgs: Vec<_> = msgs
                .into_iter()
                .filter_map(|m| {
                    m.map_err(|e| tracing::warn!(error = %e, "receiving a result failed"))
                        .ok()
                })
                .collect();
            let batch: Vec<Incoming> = msgs
                .iter()
                .map(|msg| {
                    let header = |name: &str| {
                        msg.headers
                            .as_ref()
                            .and_then(|h| h.get(name))
                            .map(|v| v.as_str().to_string())
                    };
                    Incoming {
                        payload: msg.payload.clone(),
                        worker: header(WORKER_HEADER)
                            .filter(|w| valid_worker_name(w))
                            .unwrap_or_else(|| "unknown".into()),
                        height: header(HEIGHT_HEADER).and_then(|h| h.parse().ok()),
                    }
                })
                .collect();
            let (n, f) = (node.clone(), fleet.clone());
            if let Err(e) = tokio::task::spawn_blocking(move || f.judge(&n, &batch)).await {
                tracing::error!(error = %e, "judging results failed");
            }
            let acks = futures_util::future::join_all(msgs.iter().map(|m| m.double_ack())).await;
            if acks.iter().any(Result::is_err) {
                tracing::warn!("acknowledging results failed (they will be judged again)");
            }
        }
    }
}

/// The server's max-deliveries advisories: the job goes to the dead-letter subject and is proven
/// in the node's process.
async fn dead_letters(node: Arc<Node>, fleet: Arc<Fleet>) {
    let subject = max_deliveries_advisory(fleet.link.chain(), node.shape());
    let mut sub = loop {
        match fleet.link.client().subscribe(subject.clone()).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, "subscribing to advisories failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    while let Some(msg) = sub.next().await {
        if let Some(seq) = advisory_sequence(&msg.payload) {
            bury(&node, &fleet, seq).await;
        }
    }
}

/// Moves job `seq` from the queue to the dead-letter subject, counts it, and proves its block in
/// the node's process.
async fn bury(node: &Node, fleet: &Fleet, seq: u64) {
    {
        let job = match fleet.link.take_job(seq).await {
            Ok(Some(j)) => j,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(seq, error = %e, "cannot take a dead job from the queue");
                return;
            }
        };
        let height = ProvingJob::decode(&job).map(|j| j.height);
        let id = format!("{}-dead-{seq}", fleet.link.chain());
        if let Err(e) = fleet
            .link
            .publish(dead_subject(fleet.link.chain()), &id, &[], job)
            .await
        {
            tracing::warn!(seq, error = %e, "publishing a dead letter failed");
        }
        node.metrics
            .fleet_dead_letters
            .fetch_add(1, Ordering::Relaxed);
        match height {
            Ok(h) => {
                tracing::warn!(
                    height = h,
                    "job deliveries exhausted: dead letter, proving in-process"
                );
                fleet.proven(h);
                node.prove_locally(h);
            }
            Err(e) => tracing::error!(seq, error = %e, "a dead job does not decode"),
        }
    }
}

/// The node as the worker of last resort: when jobs wait and no worker has asked for one for a
/// lease and `lost_after` (none runs, or all are busy that long), the node takes one job and
/// proves it in its own process. Its pull
/// request also makes the server announce jobs whose deliveries are exhausted (it notices them
/// only when someone asks for work), which [`dead_letters`] then buries.
async fn last_resort(node: &Node, consumer: &JobsConsumer) {
    let batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(1))
        .messages()
        .await;
    let Ok(mut batch) = batch else { return };
    while let Some(Ok(msg)) = batch.next().await {
        match ProvingJob::decode(&msg.payload) {
            Ok(job) => {
                tracing::warn!(
                    height = job.height,
                    "no fleet worker is asking for jobs: proving in-process"
                );
                // Acknowledged before the proof: if the node dies first, the restarted node finds
                // the block unproven and publishes it again.
                let _ = msg.double_ack().await;
                node.prove_locally(job.height);
            }
            Err(e) => {
                tracing::error!(error = %e, "a job in the queue does not decode: terminated");
                let _ = msg.ack_with(async_nats::jetstream::AckKind::Term).await;
            }
        }
    }
}

type JobsConsumer =
    async_nats::jetstream::consumer::Consumer<async_nats::jetstream::consumer::pull::Config>;

/// Queue metrics each second, jobs gone from the queue without a result published again, and
/// the worker of last resort.
async fn watchdog(node: Arc<Node>, fleet: Arc<Fleet>) {
    let shape = node.shape();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut unserved_since: Option<Instant> = None;
    let mut consumer: Option<JobsConsumer> = None;
    loop {
        tick.tick().await;
        let mut idle = false;
        if let Ok(s) = fleet.link.queue_stats(shape).await {
            idle = s.pending == 0 && s.in_flight == 0;
            // Jobs wait (or sit leased past their deliveries) and no worker asks for one.
            // (Busy workers have no request waiting either: only after a whole lease and
            // `lost_after` does the node step in, for one job at a time.)
            if s.waiting == 0 && (s.pending > 0 || s.in_flight > 0) {
                let since = *unserved_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= fleet.section.lost_after.max(fleet.section.ack_wait) {
                    if consumer.is_none() {
                        consumer = fleet.link.jobs_consumer(shape, Duration::ZERO).await.ok();
                    }
                    if let Some(c) = &consumer {
                        last_resort(&node, c).await;
                    }
                    unserved_since = None;
                }
            } else {
                unserved_since = None;
            }
            node.metrics
                .fleet_queue_depth
                .store(s.pending, Ordering::Relaxed);
            node.metrics
                .fleet_leases
                .store(s.in_flight, Ordering::Relaxed);
            node.metrics
                .fleet_waiting
                .store(s.waiting, Ordering::Relaxed);
            node.metrics
                .fleet_redelivered
                .store(s.redelivered, Ordering::Relaxed);
        }
        // The oldest published jobs first, a bounded number per pass.
        let watched: Vec<(u64, u64)> = fleet
            .lock()
            .iter()
            .filter_map(|(h, p)| p.sequence.map(|s| (*h, s)))
            .take(64)
            .collect();
        for (height, seq) in watched {
            let Ok(queued) = fleet.link.job_queued(seq).await else {
                break;
            };
            let (lost, stuck) = {
                let mut p = fleet.lock();
                let Some(e) = p.get_mut(&height) else {
                    continue;
                };
                if e.sequence != Some(seq) {
                    e.gone_since = None;
                    e.stuck_since = None;
                    (false, false)
                } else if queued {
                    e.gone_since = None;
                    if idle {
                        let since = *e.stuck_since.get_or_insert_with(Instant::now);
                        (false, since.elapsed() >= fleet.section.lost_after)
                    } else {
                        e.stuck_since = None;
                        (false, false)
                    }
                } else {
                    e.stuck_since = None;
                    let since = *e.gone_since.get_or_insert_with(Instant::now);
                    (since.elapsed() >= fleet.section.lost_after, false)
                }
            };
            if stuck {
                tracing::warn!(
                    height,
                    "job neither pending nor leased: its deliveries are exhausted"
                );
                bury(&node, &fleet, seq).await;
                continue;
            }
            if lost && !matches!(crate::chain::proof(&node.store, height), Ok(Some(_))) {
                tracing::warn!(
                    height,
                    "job acknowledged without a result reaching the node: publishing it again"
                );
                fleet.requeue(&node, height);
            }
        }
    }
}
