//! The node: mempool, block production, the proving pipeline, chain storage and recovery. Network
//! front ends (QUIC ingestion in `net`, HTTP in `api`) call into [`Node`].
//!
//! Pipeline: transfers are checked against the latest state and admitted to the mempool; a producer
//! thread makes a block when the mempool holds a full block or when `block_interval_ms` has passed
//! with transfers pending; the block is executed and committed together with its record in one
//! redb transaction; its height goes to the proving queue, which `prover_workers` threads drain
//! without ever blocking ingestion or production. A prover rebuilds the block's witness by
//! re-executing its transfers on the previous version (deterministic), proves, verifies and stores
//! the envelope. On start-up every committed block without a proof is queued again, so a crash at
//! any moment loses no committed transfer and leaves no block unproven.

pub mod admission;
pub mod builtin;
pub mod chain;
mod config;
pub mod devnet;
mod fleet;
pub mod intake;
pub mod light;
pub mod mempool;
pub mod metrics;
pub mod policy;
pub mod scoring;
mod validator;

pub use config::{ConsensusSection, FleetSection, HttpLimits, MempoolSection, NodeConfig};

// The crates below, under the names the node's modules use for them.
use rustorium_accel as accel;
use rustorium_accel::hardware;
use rustorium_consensus as consensus;
use rustorium_net as net;
use rustorium_prover as prover;
use rustorium_state as state;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ark_std::rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rustorium_circuits::block::{BlockCircuit, CircuitShape};
use rustorium_circuits::transfer::{Recipient, SignedTransfer, TransferDecodeError};
use rustorium_circuits::witness::BlockWitness;
use thiserror::Error;

use crate::accel::CpuHasher;
use crate::hardware::Profile;
use crate::prover::{
    BlockProof, KeyError, KeyPair, ProofEnvelope, ProofSystem, Prover, ProverError, dev_setup,
    load_proving_key, save_keys, vk_hash,
};
use crate::state::{
    BlockPlan, ExecutedBlock, Genesis, GenesisError, NonceRule, Snapshot, StateReader, StateStore,
    StoreError, StoreOptions, TransferRules, TxError, commit_plan, plan_block, validate_transfer,
};
use chain::Block;
use mempool::{Mempool, MempoolError};
use metrics::Metrics;
use rustorium_halo2::Halo2Prover;

/// Errors of the node.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The configuration is invalid.
    #[error("config: {0}")]
    Config(String),
    /// Genesis could not be read.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Keys could not be loaded or made.
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    /// Proving failed.
    #[error("prover: {0}")]
    Prover(#[from] ProverError),
    /// The halo2 prover failed (parameters, keys, a proof).
    #[error("halo2: {0}")]
    Halo2(#[from] rustorium_halo2::Halo2Error),
    /// The stored chain is inconsistent.
    #[error("chain: {0}")]
    Chain(String),
}

/// Why a submitted transfer was not admitted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The bytes are not a transfer.
    #[error("malformed transfer: {0}")]
    Decode(#[from] TransferDecodeError),
    /// The transfer is invalid against the latest state.
    #[error("invalid transfer: {0}")]
    Invalid(#[from] TxError),
    /// The mempool refused it.
    #[error("mempool: {0}")]
    Mempool(#[from] MempoolError),
    /// The admission hook (policy) refused it.
    #[error("refused by policy: {0}")]
    Policy(String),
    /// The node failed while checking it.
    #[error("internal error: {0}")]
    Store(#[from] StoreError),
}

impl SubmitError {
    /// A short stable label (metrics).
    pub fn reason(&self) -> &'static str {
        match self {
            SubmitError::Decode(_) => "malformed",
            SubmitError::Invalid(e) => e.reason(),
            SubmitError::Mempool(e) => e.reason(),
            SubmitError::Policy(_) => "policy",
            SubmitError::Store(_) => "internal",
        }
    }
}

/// An admission hook's refusal: the reason shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A policy consulted before a transfer enters the mempool (the scoring and scripting layers plug
/// in here). It sees transfers that already passed the state checks.
pub trait AdmissionHook: Send + Sync {
    /// `Ok(())` admits; `Err` rejects with a reason shown to the client and counted in metrics as
    /// `policy`.
    fn admit(&self, tx: &SignedTransfer) -> Result<(), Refused>;
}

/// A running node's shared state. Its parts are private: the API, the CLI and tests read the
/// chain through [`Node::reader`], [`Node::block`] and [`Node::proof`], and change it only
/// through submission and consensus, never by writing to the store.
pub struct Node {
    config: NodeConfig,
    genesis: Genesis,
    store: StateStore,
    /// Groth16 keys (`proof_system = "groth16"` with proving on).
    keys: Option<KeyPair>,
    /// The halo2 prover (`proof_system = "halo2"` with proving on).
    halo2: Option<Arc<Halo2Prover>>,
    metrics: Metrics,
    mempool: Mutex<Mempool>,
    /// Accepted transfers not yet in a block, durable before their acknowledgement.
    intake: intake::Intake,
    prover: Prover,
    hook: Mutex<Option<Arc<dyn AdmissionHook>>>,
    queue: Mutex<Option<Sender<u64>>>,
    /// The proving fleet, with `[fleet]`: committed blocks go to it instead of `queue`.
    fleet: std::sync::OnceLock<Arc<fleet::Fleet>>,
    /// The proving-key file served to fleet workers, made once.
    pk_file: std::sync::OnceLock<Arc<Vec<u8>>>,
    stop: AtomicBool,
    ready: AtomicBool,
    p2p: std::sync::OnceLock<crate::net::peer::P2p>,
    /// Validator mode: the plans of blocks this node built or checked at the current height, by
    /// block hash, kept until one of them is decided and committed.
    plans: Mutex<validator::KeptPlans>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    admission: admission::Admission,
    head: tokio::sync::watch::Sender<ChainHead>,
    wake: Wake,
}

/// The chain's head as this node sees it. Published through a watch channel
/// ([`Node::watch_head`]): the producer, consensus, the API and tools read it instead of metrics,
/// and waiters are woken by its changes instead of polling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainHead {
    /// The last committed height (0: genesis only).
    pub committed: u64,
    /// The highest height with every block up to it proven.
    pub proven: u64,
}

/// Wakes the producer thread: a transfer was admitted, a proof stored, or the node is stopping.
#[derive(Default)]
struct Wake {
    pending: Mutex<bool>,
    cond: std::sync::Condvar,
}

impl Wake {
    fn notify(&self) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }

    /// Waits until notified or `timeout` passes; consumes the notification.
    fn wait(&self, timeout: Duration) {
        let guard = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (mut guard, _) = self
            .cond
            .wait_timeout_while(guard, timeout, |pending| !*pending)
            .unwrap_or_else(|e| e.into_inner());
        *guard = false;
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("config", &self.config)
            .finish()
    }
}

/// The accepted-transfer stream's message id of a transfer: its encoding's SHA-256 (so a
/// replacement with the same nonce is a new message, and a republication is not).
fn fleet_msg_id(encoded: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(encoded))
}

/// Takes a runtime out of its slot and shuts it down without waiting (its tasks are dropped).
fn stop_runtime(slot: &Mutex<Option<tokio::runtime::Runtime>>) {
    let rt = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(rt) = rt {
        rt.shutdown_background();
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Node {
    /// The configuration it was started with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The chain's genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The Groth16 proving keys (`None` when proving is off or the chain is proven with halo2).
    pub fn keys(&self) -> Option<&KeyPair> {
        self.keys.as_ref()
    }

    /// The halo2 prover (`None` when proving is off or the chain is proven with Groth16).
    pub fn halo2(&self) -> Option<&Arc<Halo2Prover>> {
        self.halo2.as_ref()
    }

    /// Whether this node proves blocks (with either system).
    pub fn proving(&self) -> bool {
        self.keys.is_some() || self.halo2.is_some()
    }

    /// The hash of the verifying key its proofs are for (either system), when proving.
    pub fn vk_hash(&self) -> Option<[u8; 32]> {
        match (&self.keys, &self.halo2) {
            (Some(k), _) => Some(vk_hash(&k.pk.vk)),
            (None, Some(h)) => Some(h.verifier().vk_hash()),
            (None, None) => None,
        }
    }

    /// Where its proving key comes from ([`key_provenance`]; `transparent` for halo2: no setup).
    pub fn key_provenance(&self) -> Option<String> {
        match (&self.keys, &self.halo2) {
            (Some(k), _) => Some(key_provenance(k)),
            (None, Some(_)) => Some("transparent".into()),
            (None, None) => None,
        }
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Scoring and policy as loaded.
    pub fn admission(&self) -> &admission::Admission {
        &self.admission
    }

    /// A consistent read view of the state and chain at the moment of the call.
    pub fn reader(&self) -> Result<StateReader<'_>, StoreError> {
        self.store.reader()
    }

    /// The committed block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<chain::Block>, StoreError> {
        chain::block(&self.store, height)
    }

    /// The stored proof envelope of block `height`.
    pub fn proof(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        chain::proof(&self.store, height)
    }

    /// Whether the store was repaired when it was opened (an unclean shutdown).
    pub fn store_recovered(&self) -> bool {
        self.store.recovered()
    }

    /// What executing `txs` as the next block, crediting fees to `producer`, would do, without
    /// committing anything (a dry run on the latest version).
    pub fn dry_run(&self, txs: &[SignedTransfer], producer: u64) -> Result<BlockPlan, StoreError> {
        let latest = self.store.reader()?.latest_version()?.unwrap_or(0);
        plan_block(&self.store, latest, txs, producer, false)
    }

    /// Binds QUIC ingestion (`net::quic`, the node's certificate in `<data_dir>/tls/`) on `addr`
    /// and serves it on the current tokio runtime; returns the bound address (port 0 picks a
    /// free port).
    pub fn serve_ingestion(
        self: &Arc<Self>,
        addr: std::net::SocketAddr,
    ) -> Result<std::net::SocketAddr, net::quic::QuicError> {
        let endpoint = net::quic::server_endpoint(addr, &self.config.data_dir.join("tls"))?;
        let bound = endpoint.local_addr()?;
        tokio::spawn(net::quic::serve(endpoint, self.clone()));
        Ok(bound)
    }
}

impl Node {
    /// Opens (or creates from genesis) the store, loads or makes keys, and starts the producer and
    /// prover threads. Committed but unproven blocks are queued for proving.
    pub fn start(config: NodeConfig) -> Result<Arc<Self>, NodeError> {
        let genesis = Genesis::load(&config.genesis)?;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| NodeError::Config(format!("{}: {e}", config.data_dir.display())))?;
        let metrics = Metrics::default();
        let backends = Backends::select(&config, &metrics)?;
        let store = open_store(&config, &genesis, backends.hasher.clone())?;
        let (keys, halo2) = match config.proof_system {
            ProofSystem::Groth16 => (load_keys(&config, &genesis)?, None),
            ProofSystem::Halo2 => (None, load_halo2(&config, &genesis)?),
        };
        let admission = load_admission(&config, backends.profile.as_ref(), &metrics)?;
        let node = Arc::new(Self {
            mempool: Mutex::new(Mempool::new(config.mempool.into())),
            intake: intake::Intake::default(),
            prover: backends.prover,
            hook: Mutex::new(None),
            config,
            genesis,
            store,
            keys,
            halo2,
            metrics,
            queue: Mutex::new(None),
            fleet: std::sync::OnceLock::new(),
            pk_file: std::sync::OnceLock::new(),
            stop: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            p2p: std::sync::OnceLock::new(),
            plans: Mutex::default(),
            runtime: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
            admission,
            head: tokio::sync::watch::Sender::new(ChainHead::default()),
            wake: Wake::default(),
        });
        node.replay_intake()?;
        let latest = node.store.reader()?.latest_version()?.unwrap_or(0);
        let proven = chain::proven_height(&node.store)?;
        node.set_head(|h| {
            h.committed = latest;
            h.proven = proven;
        });
        if node.proving() {
            node.start_provers(proven, latest)?;
        } else if node.config.fleet.is_some() {
            return Err(NodeError::Config(
                "[fleet] needs proving on (prove = true)".into(),
            ));
        }
        if !node.start_validator()? {
            node.spawn(|n| n.producer_loop());
        }
        node.ready.store(true, Ordering::Relaxed);
        Ok(node)
    }

    fn spawn(self: &Arc<Self>, f: impl FnOnce(Arc<Self>) + Send + 'static) {
        let n = self.clone();
        let h = std::thread::spawn(move || f(n));
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(h);
    }

    /// The prover threads, and the committed blocks left unproven by the last run queued for them.
    fn start_provers(self: &Arc<Self>, proven: u64, latest: u64) -> Result<(), NodeError> {
        // Block `proven + 1` re-executes on version `proven`: never prune it.
        self.store.hold_from(proven);
        let (tx, rx) = channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..self.config.prover_workers.max(1) {
            let rx = rx.clone();
            self.spawn(move |n| n.prover_loop(&rx));
        }
        *self.queue.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        if let Some(section) = self.config.fleet.clone() {
            let replay = section.replay_accepted;
            let fleet = fleet::Fleet::start(self, section)?;
            if replay {
                fleet.replay_accepted(self)?;
            }
            let _ = self.fleet.set(fleet);
        }
        let pending = chain::unproven(&self.store, proven + 1, latest)?;
        if !pending.is_empty() {
            tracing::warn!(
                blocks = pending.len(),
                "re-queueing committed blocks without proofs"
            );
        }
        for h in pending {
            self.to_prove(h);
        }
        Ok(())
    }

    /// The chain head now.
    pub fn head(&self) -> ChainHead {
        *self.head.borrow()
    }

    /// A receiver of every change of the chain head.
    pub fn watch_head(&self) -> tokio::sync::watch::Receiver<ChainHead> {
        self.head.subscribe()
    }

    /// Updates the head, its metrics, and wakes whoever waits on it.
    fn set_head(&self, change: impl FnOnce(&mut ChainHead)) {
        self.head.send_modify(|h| {
            change(h);
            self.metrics
                .committed_height
                .store(h.committed, Ordering::Relaxed);
            self.metrics
                .proven_height
                .store(h.proven, Ordering::Relaxed);
        });
        self.wake.notify();
    }

    /// Installs the admission hook.
    pub fn set_admission_hook(&self, hook: Arc<dyn AdmissionHook>) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// Asks the threads to stop.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify();
        stop_runtime(&self.runtime);
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(f) = self.fleet.get() {
            f.stop();
        }
    }

    /// Graceful shutdown: [`Node::shutdown`], then waits up to `wait` for the producer and the
    /// provers to finish what they are doing (an in-flight proof is completed and stored) and for
    /// every other holder of the node to let go (the caller stops its servers first), and closes
    /// the database, so that the next start needs no repair. Returns false if something still held
    /// the node after `wait`; the database is then closed by the process exit and repaired by redb
    /// on the next start (nothing committed is lost).
    pub fn close(self: Arc<Self>, wait: Duration) -> bool {
        self.shutdown();
        let deadline = Instant::now() + wait;
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
        let mut node = self;
        loop {
            match Arc::try_unwrap(node) {
                Ok(n) => {
                    drop(n);
                    return true;
                }
                Err(still_shared) if Instant::now() < deadline => {
                    node = still_shared;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => return false,
            }
        }
    }

    /// The bytes of this node's `proving.key` file (what fleet workers download and pin by its
    /// verifying-key hash), serialized once from the key in memory; `None` when proving is off.
    pub fn proving_key_file(&self) -> Option<Result<Arc<Vec<u8>>, NodeError>> {
        let keys = self.keys.as_ref()?;
        if let Some(b) = self.pk_file.get() {
            return Some(Ok(b.clone()));
        }
        Some(
            crate::prover::proving_key_file(keys)
                .map(|b| self.pk_file.get_or_init(|| Arc::new(b)).clone())
                .map_err(NodeError::from),
        )
    }

    /// Keys, store and backends are loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Circuit shape (depth, capacity).
    pub fn shape(&self) -> CircuitShape {
        CircuitShape {
            depth: self.genesis.depth,
            capacity: self.config.capacity,
        }
    }

    /// Mempool size.
    pub fn mempool_len(&self) -> usize {
        self.mempool.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Checks a transfer against the latest state, admits it to the mempool and makes it durable
    /// (the intake table, group-committed): when this returns `Ok`, the transfer survives a crash.
    pub fn submit(&self, tx: SignedTransfer) -> Result<(), SubmitError> {
        self.submit_many(vec![Ok(tx)]).remove(0).map(|_| ())
    }

    /// [`Node::submit`] for several transfers (decoded, or why not), answered in order: each is
    /// admitted, then the admitted ones are made durable together (one group commit), then
    /// acknowledged. If that commit fails, none of them is accepted (they leave the pool).
    pub fn submit_many(
        &self,
        txs: Vec<Result<SignedTransfer, SubmitError>>,
    ) -> Vec<Result<SignedTransfer, SubmitError>> {
        let mut results: Vec<Result<SignedTransfer, SubmitError>> = txs
            .into_iter()
            .map(|t| t.and_then(|tx| self.admit(tx.clone()).map(|()| tx)))
            .collect();
        let admitted: Vec<&SignedTransfer> =
            results.iter().filter_map(|r| r.as_ref().ok()).collect();
        if let Err(e) = self
            .intake
            .put_many(self.store.database(), admitted.iter().copied())
        {
            // Not durable, so not accepted: take them back out of the pool.
            let back: Vec<SignedTransfer> = admitted.into_iter().cloned().collect();
            self.mempool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove_committed(&back);
            let reason = e.to_string();
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(SubmitError::Store(StoreError::Io(format!(
                    "not made durable: {reason}"
                ))));
            }
        }
        if let Some(f) = self.fleet.get() {
            let accepted: Vec<(String, Vec<u8>)> = results
                .iter()
                .filter_map(|r| r.as_ref().ok())
                .filter_map(|tx| tx.encode())
                .map(|b| (fleet_msg_id(&b), b))
                .collect();
            f.publish_accepted(self, &accepted);
        }
        for r in &results {
            match r {
                Ok(tx) => {
                    self.metrics.tx_accepted.fetch_add(1, Ordering::Relaxed);
                    self.gossip(tx);
                }
                Err(e) => self.metrics.reject(e.reason()),
            }
        }
        if results.iter().any(Result::is_ok) {
            self.wake.notify();
        }
        results
    }

    /// Decodes and submits.
    pub fn submit_bytes(&self, bytes: &[u8]) -> Result<SignedTransfer, SubmitError> {
        self.submit_many(vec![SignedTransfer::decode(bytes).map_err(Into::into)])
            .remove(0)
    }

    fn admit(&self, tx: SignedTransfer) -> Result<(), SubmitError> {
        let t = &tx.tx;
        let reader = self.store.reader()?;
        let version = reader.latest_version()?.unwrap_or(0);
        // The execution rules themselves (state/exec.rs), on the latest committed version; the
        // nonce is the mempool's to judge, and what is already pending is checked below.
        let rules = TransferRules {
            chain_id: self.genesis.chain_id,
            depth: self.genesis.depth,
        };
        let judge = |reader: &crate::state::StateReader<'_>, version: u64| {
            validate_transfer(
                &Snapshot::new(reader, version),
                &tx,
                rules,
                NonceRule::Deferred,
            )
        };
        let valid = judge(&reader, version)??;
        let sender = valid.sender_before;
        let new_recipient = matches!(t.to, Recipient::NewKey(_));
        let pending = self
            .mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending_of(t.from) as u64;
        let raw = crate::scoring::RawFeatures {
            balance: sender.balance,
            amount: t.amount,
            fee: t.fee,
            nonce_gap: t.nonce.saturating_sub(sender.nonce),
            sender_nonce: sender.nonce,
            pending,
            new_recipient,
        };
        let (score, decision) = self.admission.judge(&raw, t.from);
        if let Some(s) = score {
            self.metrics.observe_score(s);
        }
        let low = match decision {
            crate::policy::Decision::Reject(reason) => {
                self.metrics.decision("reject", &reason);
                return Err(SubmitError::Policy(reason));
            }
            crate::policy::Decision::Deprioritize => true,
            crate::policy::Decision::Accept => false,
        };
        let hook = self.hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(hook) = hook {
            hook.admit(&tx).map_err(|r| SubmitError::Policy(r.0))?;
        }
        let (from, nonce) = (t.from, t.nonce);
        let (mut reader, mut version, mut valid) = (reader, version, valid);
        let mut pool = loop {
            let pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            // A block committed since the snapshot above may already have taken its transfers
            // out of the pool: judge again on the new version, so that a replay of a transfer
            // that just committed is refused as stale instead of admitted. With the lock held and
            // the version unchanged, a block now committing still has its transfers in the pool.
            let latest = self.store.reader()?.latest_version()?.unwrap_or(0);
            if latest == version {
                break pool;
            }
            drop(pool);
            reader = self.store.reader()?;
            version = latest;
            valid = judge(&reader, version)??;
        };
        let sender = valid.sender_before;
        // Checked under the pool's lock, with what is already pending: the sender's other
        // transfers must leave enough for this one, and new accounts must stay unique and fit.
        let needed = u128::from(valid.debit) + pool.pending_spend_of(from, nonce);
        if u128::from(sender.balance) < needed {
            return Err(TxError::InsufficientBalance {
                balance: sender.balance,
                needed,
            }
            .into());
        }
        if let Recipient::NewKey(k) = t.to {
            if pool.creates_key(&k.pack(), from, nonce) {
                return Err(MempoolError::KeyPending.into());
            }
            let leaves = 1u128 << self.genesis.depth.min(64);
            let used =
                u128::from(reader.next_index(version)?) + u128::from(pool.pending_new_keys());
            if used >= leaves {
                return Err(TxError::TreeFull.into());
            }
        }
        if let mempool::Admitted::Evicted(s, n) = pool.insert(tx, sender.nonce)? {
            // The pool's own policy dropped that one: its intake row goes too.
            self.intake.forget_later([(s, n)]);
        }
        if low {
            pool.mark_low(from, nonce);
        }
        self.metrics
            .decision(if low { "deprioritize" } else { "accept" }, "");
        self.metrics
            .mempool_size
            .store(pool.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Puts the transfers the last run accepted but did not put in a block back into the mempool
    /// (the intake table, see [`intake`]): each goes through admission again, so one a block
    /// already applied is refused as stale and its row dropped, like any row that no longer
    /// passes. Runs before the node serves anything.
    fn replay_intake(&self) -> Result<(), NodeError> {
        let db = self.store.database();
        let rows = intake::rows(db)?;
        if rows.is_empty() {
            return Ok(());
        }
        let (mut replayed, mut dropped) = (0u64, 0u64);
        let mut gone = Vec::new();
        for (key, tx) in rows {
            match tx
                .map_err(|e| e.to_string())
                .and_then(|tx| self.admit(tx).map_err(|e| e.to_string()))
            {
                Ok(()) => replayed += 1,
                Err(reason) => {
                    tracing::debug!(from = key.0, nonce = key.1, %reason, "intake row dropped at replay");
                    dropped += 1;
                    gone.push(key);
                }
            }
        }
        self.intake.forget_later(gone);
        self.intake.flush(db)?;
        self.metrics
            .intake_replayed
            .fetch_add(replayed, Ordering::Relaxed);
        self.metrics
            .intake_dropped
            .fetch_add(dropped, Ordering::Relaxed);
        tracing::info!(
            replayed,
            dropped,
            "accepted transfers replayed from the intake table"
        );
        Ok(())
    }

    /// Makes a block from the mempool now (if it holds anything). Returns the block.
    pub fn produce_block(&self) -> Result<Option<Block>, NodeError> {
        let reader = self.store.reader()?;
        let version = reader.latest_version()?.unwrap_or(0);
        let txs = {
            let mut pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            pool.select(self.config.capacity, |s| {
                reader.account(s, version).ok().flatten().map(|a| a.nonce)
            })
        };
        drop(reader);
        if txs.is_empty() {
            return Ok(None);
        }
        let chain_id = self.genesis.chain_id;
        let producer = self.config.producer;
        let plan = plan_block(&self.store, version, &txs, producer, false)?;
        if plan.applied.is_empty() {
            // No block (and no proof) for transfers that all fail: they leave the pool, counted
            // and logged, and cost nothing but this check.
            let mut pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            pool.remove_committed(&txs);
            self.intake.forget_later(txs.iter().map(intake::key));
            self.metrics
                .mempool_size
                .store(pool.len() as u64, Ordering::Relaxed);
            for (i, e) in &plan.rejected {
                self.metrics.reject(e.reason());
                tracing::info!(from = txs[*i].tx.from, nonce = txs[*i].tx.nonce, reason = %e, "transfer dropped at execution");
            }
            return Ok(None);
        }
        let mut record = None;
        let executed = commit_plan(&self.store, plan, |txn, plan, root| {
            let block = Block::from_plan(
                plan.base_version + 1,
                now_ms(),
                producer,
                chain_id,
                plan,
                &txs,
                root,
            );
            chain::put_block(txn, &block)?;
            intake::forget_in(txn, &txs)?;
            record = Some(block);
            Ok(())
        })?;
        let block = record.ok_or_else(|| NodeError::Chain("block record not written".into()))?;
        self.after_commit(&block, &txs, &executed);
        Ok(Some(block))
    }

    /// Bookkeeping after a block is committed: mempool, metrics, log, proving queue.
    fn after_commit(&self, block: &Block, txs: &[SignedTransfer], executed: &ExecutedBlock) {
        {
            let mut pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            pool.remove_committed(txs);
            self.metrics
                .mempool_size
                .store(pool.len() as u64, Ordering::Relaxed);
        }
        for (_, e) in &executed.rejected {
            self.metrics.reject(e.reason());
        }
        self.metrics.blocks.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .tx_applied
            .fetch_add(executed.applied.len() as u64, Ordering::Relaxed);
        self.set_head(|h| h.committed = block.height);
        tracing::info!(
            height = block.height,
            applied = executed.applied.len(),
            rejected = executed.rejected.len(),
            "block committed"
        );
        self.to_prove(block.height);
    }

    /// Sends a committed block to be proven: to the fleet with `[fleet]`, else to the prover
    /// threads.
    fn to_prove(&self, height: u64) {
        match self.fleet.get() {
            Some(f) => {
                self.note_unproven(height);
                f.submit(height);
            }
            None => self.prove_locally(height),
        }
    }

    /// Queues block `height` for the node's own prover threads.
    fn prove_locally(&self, height: u64) {
        if let Some(q) = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            self.enqueue(q, height);
        }
    }

    fn note_unproven(&self, height: u64) {
        let oldest = self.metrics.oldest_unproven.load(Ordering::Relaxed);
        if oldest == 0 || height < oldest {
            self.metrics
                .oldest_unproven
                .store(height, Ordering::Relaxed);
        }
    }

    fn enqueue(&self, q: &Sender<u64>, height: u64) {
        self.metrics.proving_queue.fetch_add(1, Ordering::Relaxed);
        self.note_unproven(height);
        let _ = q.send(height);
    }

    /// Committed blocks waiting for proofs, when that many pause production
    /// (`max_proving_backlog`); `None` otherwise.
    fn proving_backlog_full(&self) -> Option<u64> {
        let max = self.config.max_proving_backlog;
        if !self.proving() || max == 0 {
            return None;
        }
        let head = self.head();
        let backlog = head.committed.saturating_sub(head.proven);
        (backlog >= max).then_some(backlog)
    }

    fn producer_loop(self: Arc<Self>) {
        let interval = Duration::from_millis(self.config.block_interval_ms.max(1));
        let mut last = Instant::now();
        let mut paused = false;
        // Woken by admissions, proofs and shutdown; otherwise asleep until the interval of a
        // non-empty pool runs out (an idle node does no work).
        let mut timeout = interval;
        while !self.stop.load(Ordering::Relaxed) {
            self.wake.wait(timeout);
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            timeout = interval;
            match self.proving_backlog_full() {
                Some(backlog) => {
                    if !paused {
                        tracing::warn!(backlog, "block production paused: proving backlog");
                    }
                    paused = true;
                    self.metrics.production_paused.store(1, Ordering::Relaxed);
                    continue;
                }
                None if paused => {
                    paused = false;
                    self.metrics.production_paused.store(0, Ordering::Relaxed);
                    tracing::info!("block production resumed");
                }
                None => {}
            }
            let len = self.mempool_len();
            if len == 0 {
                continue;
            }
            if len < self.config.capacity && last.elapsed() < interval {
                timeout = interval - last.elapsed();
                continue;
            }
            last = Instant::now();
            if let Err(e) = self.produce_block() {
                tracing::error!(error = %e, "block production failed");
            }
        }
    }

    fn prover_loop(self: Arc<Self>, rx: &Mutex<Receiver<u64>>) {
        loop {
            let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
            let Ok(height) = next else { return };
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            match self.prove_height(height) {
                Ok(()) => {}
                Err(e) => {
                    self.metrics.proof_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(height, error = %e, "proving failed");
                }
            }
            self.metrics.proving_queue.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Block `height`'s circuit (its witness rebuilt by re-executing its transfers on the previous
    /// version, which must reproduce the committed root) and producer.
    fn block_circuit(&self, height: u64) -> Result<(BlockCircuit, BlockWitness), NodeError> {
        if !self.proving() {
            return Err(NodeError::Config("proving is off".into()));
        }
        let block = chain::block(&self.store, height)?
            .ok_or_else(|| NodeError::Chain(format!("no block {height}")))?;
        let txs: Vec<SignedTransfer> = block.applied.iter().map(|(t, _)| t.clone()).collect();
        let plan = plan_block(&self.store, height - 1, &txs, block.producer, true)?;
        let w = plan
            .witness
            .ok_or_else(|| NodeError::Chain("no witness".into()))?;
        if w.new_root != block.new_root || !plan.rejected.is_empty() {
            return Err(NodeError::Chain(format!(
                "re-execution of block {height} does not reproduce it"
            )));
        }
        let circuit = BlockCircuit::from_witness(&w, block.producer, height, self.shape())
            .map_err(|e| NodeError::Chain(e.to_string()))?;
        Ok((circuit, w))
    }

    /// Block `height`'s proving job for the fleet, and the public inputs its proof must have.
    fn proving_job(
        &self,
        height: u64,
    ) -> Result<(crate::prover::ProvingJob, [rustorium_circuits::Fr; 5]), NodeError> {
        let keys = self
            .keys
            .as_ref()
            .ok_or_else(|| NodeError::Config("proving is off".into()))?;
        let (circuit, witness) = self.block_circuit(height)?;
        let producer = chain::block(&self.store, height)?
            .ok_or_else(|| NodeError::Chain(format!("no block {height}")))?
            .producer;
        let job = crate::prover::ProvingJob {
            height,
            producer,
            shape: keys.shape,
            vk_hash: vk_hash(&keys.pk.vk),
            witness,
        };
        Ok((job, circuit.public_inputs()))
    }

    /// Proves block `height` (rebuilding its witness from the previous version) and stores the
    /// envelope.
    pub fn prove_height(&self, height: u64) -> Result<(), NodeError> {
        if let Some(h2) = &self.halo2 {
            return self.prove_height_halo2(h2, height);
        }
        let keys = self
            .keys
            .as_ref()
            .ok_or_else(|| NodeError::Config("proving is off".into()))?;
        let (circuit, _) = self.block_circuit(height)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| NodeError::Chain(format!("OS random source: {e}")))?;
        let start = Instant::now();
        let mut rng = ChaCha20Rng::from_seed(seed);
        // A GPU failure fails this job over to the CPU, logged and counted.
        let (proof, timings) = crate::prover::prove_with_fallback(
            keys,
            &self.prover,
            circuit.clone(),
            &mut rng,
            &self.metrics.gpu_fallbacks,
        )?;
        let secs = start.elapsed().as_secs_f64();
        tracing::debug!(height, secs, phases = %timings, "block proven");
        let env = ProofEnvelope::new(
            height,
            self.genesis.chain_id,
            keys.shape,
            circuit.public_inputs(),
            proof,
            vk_hash(&keys.pk.vk),
        );
        self.store_proof(&env, secs)?;
        Ok(())
    }

    /// [`Node::prove_height`] with halo2 (on the CPU: halo2_proofs' own MSM and FFT). The proof is
    /// verified before it is stored ([`Halo2Prover::prove`]).
    fn prove_height_halo2(&self, h2: &Halo2Prover, height: u64) -> Result<(), NodeError> {
        let (circuit, _) = self.block_circuit(height)?;
        let start = Instant::now();
        let proof = h2.prove(circuit.clone())?;
        let secs = start.elapsed().as_secs_f64();
        let env = ProofEnvelope::with_proof(
            height,
            self.genesis.chain_id,
            h2.verifier().shape(),
            circuit.public_inputs(),
            BlockProof::Halo2(proof),
            h2.verifier().vk_hash(),
        );
        self.store_proof(&env, secs)?;
        Ok(())
    }

    /// Stores a verified proof unless the block has one already (returns whether it stored it),
    /// advances the proven height over every proven block in order, and records `secs` as the
    /// proof's time.
    fn store_proof(&self, env: &ProofEnvelope, secs: f64) -> Result<bool, NodeError> {
        Ok(self.store_proofs(std::slice::from_ref(env), &[secs])?[0])
    }

    /// [`Node::store_proof`] for several verified proofs in one write transaction.
    fn store_proofs(&self, envs: &[ProofEnvelope], secs: &[f64]) -> Result<Vec<bool>, NodeError> {
        let (proven, stored) = chain::put_proofs(&self.store, envs)?;
        for ((env, fresh), secs) in envs.iter().zip(&stored).zip(secs) {
            let height = env.height;
            if let Some(f) = self.fleet.get() {
                f.proven(height);
            }
            if !fresh {
                tracing::debug!(height, "block already proven: second proof dropped");
                continue;
            }
            self.metrics.observe_proof(*secs);
            self.metrics.proofs.fetch_add(1, Ordering::Relaxed);
            tracing::info!(height, secs, proven, "block proven");
        }
        self.store.hold_from(proven);
        // Stores from several threads commit in some order: the head only moves forward.
        self.set_head(|h| h.proven = h.proven.max(proven));
        let committed = self.head().committed;
        self.metrics.oldest_unproven.store(
            if proven < committed { proven + 1 } else { 0 },
            Ordering::Relaxed,
        );
        Ok(stored)
    }
}

impl crate::net::quic::Ingest for Node {
    type Error = SubmitError;

    fn submit_encoded(&self, bytes: &[u8]) -> Result<SignedTransfer, SubmitError> {
        self.submit_bytes(bytes)
    }

    fn submit_batch(&self, frames: &[Vec<u8>]) -> Vec<Result<SignedTransfer, SubmitError>> {
        self.submit_many(
            frames
                .iter()
                .map(|f| SignedTransfer::decode(f).map_err(Into::into))
                .collect(),
        )
    }

    fn malformed_frame(&self) {
        self.metrics.reject("malformed_frame");
    }
}

/// Why a chain that is not a devnet refuses `what` (a missing key, a devnet key): the message
/// the node, `rustorium prove` and `rustorium demo` give.
pub fn devnet_refusal(what: &str) -> String {
    format!(
        "{what}, and the genesis does not mark this chain `devnet = true`: anyone could forge proofs for devnet keys. Prove with the keys of a ceremony (docs/ceremony.md), or mark a test chain as a devnet"
    )
}

/// Loads the keys of `shape` under `dir`, or, on a devnet (`devnet`: the genesis says so), makes
/// insecure devnet keys from `seed`. Outside a devnet it neither makes nor accepts devnet keys:
/// a missing key or a devnet key is an error naming the file.
pub fn load_or_make_keys(
    dir: &Path,
    shape: CircuitShape,
    seed: u64,
    devnet: bool,
) -> Result<KeyPair, NodeError> {
    let sub = dir.join(format!("d{}-c{}", shape.depth, shape.capacity));
    let pk = sub.join("proving.key");
    let not_devnet = |what: String| NodeError::Config(devnet_refusal(&what));
    if pk.exists() {
        let k = match load_proving_key(&pk) {
            Err(KeyError::Statement {
                devnet: true,
                found,
                ..
            }) if devnet => {
                tracing::warn!(
                    path = %pk.display(),
                    found,
                    "devnet key of an older statement version: generating new devnet keys"
                );
                let k = dev_setup(shape, seed)?;
                save_keys(&sub, &k)?;
                return Ok(k);
            }
            other => other?,
        };
        // The verifying key beside it is what light clients download: it must be this key's.
        let vk_path = sub.join("verifying.key");
        if vk_path.exists() {
            let (vk_shape, vk) = crate::prover::load_verifying_key(&vk_path)?;
            if vk_shape != shape || vk != k.pk.vk {
                return Err(NodeError::Config(format!(
                    "{} is not the verifying key of {} (replace it with the output of `rustorium setup`, or delete it to have it rewritten)",
                    vk_path.display(),
                    pk.display()
                )));
            }
        } else {
            tracing::warn!(path = %vk_path.display(), "verifying key missing: writing it from the proving key");
            save_keys(&sub, &k)?;
        }
        if k.shape != shape {
            return Err(NodeError::Config(format!(
                "{} is for {:?}",
                pk.display(),
                k.shape
            )));
        }
        if let (Some(seed), false) = (k.dev_seed, devnet) {
            return Err(not_devnet(format!(
                "{} is an insecure devnet key (public seed {seed:#x})",
                pk.display()
            )));
        }
        return Ok(k);
    }
    if !devnet {
        return Err(not_devnet(format!("no proving key at {}", pk.display())));
    }
    tracing::warn!(seed, "generating INSECURE devnet keys from a public seed");
    let k = dev_setup(shape, seed)?;
    save_keys(&sub, &k)?;
    Ok(k)
}
/// The compute backends a node runs on: the hardware profile's selection (each self-checked by
/// `Profile::select`), or the checked CPU path without a profile.
struct Backends {
    profile: Option<Profile>,
    prover: Prover,
    hasher: Arc<dyn crate::accel::BatchHasher<rustorium_circuits::Fr>>,
}

impl Backends {
    fn select(config: &NodeConfig, metrics: &Metrics) -> Result<Self, NodeError> {
        let cfg = |e: &dyn std::fmt::Display| NodeError::Config(e.to_string());
        let profile = config
            .hardware
            .as_deref()
            .map(Profile::load)
            .transpose()
            .map_err(|e| cfg(&e))?;
        let (prover, hasher, names) = match &profile {
            Some(profile) => {
                let (ntt, ntt_name) = profile.ntt_backend().map_err(|e| cfg(&e))?;
                let (msm, msm_name) = profile.msm_backend().map_err(|e| cfg(&e))?;
                if profile.cpu.threads > 0 {
                    // Only the first pool configuration of a process takes effect.
                    let _ = rayon::ThreadPoolBuilder::new()
                        .num_threads(profile.cpu.threads)
                        .build_global();
                }
                let (hasher, poseidon_name) = profile
                    .poseidon_hasher(metrics.gpu_fallbacks.clone())
                    .map_err(|e| cfg(&e))?;
                (
                    Prover::new(msm, ntt),
                    hasher,
                    [poseidon_name, msm_name, ntt_name],
                )
            }
            None => {
                // The start-up self-check of the CPU path (a profile's selection checks whatever
                // it selects): the SIMD code must agree with the native permutation.
                let cpu = Arc::new(CpuHasher::new());
                crate::hardware::self_check(cpu.as_ref()).map_err(|e| cfg(&e))?;
                (
                    Prover::cpu(),
                    cpu as _,
                    ["cpu".into(), "cpu".into(), "cpu".into()],
                )
            }
        };
        for (op, backend) in ["poseidon", "msm", "ntt"].into_iter().zip(&names) {
            metrics.set_backend(op, backend);
            tracing::info!(op, backend = backend.as_str(), "backend selected");
        }
        tracing::info!(
            cpu_path = crate::accel::cpu_path(),
            field_arithmetic = crate::accel::field_arithmetic(),
            prover_field = crate::accel::cpu::field_path().name(),
            "CPU arithmetic"
        );
        Ok(Self {
            profile,
            prover,
            hasher,
        })
    }
}

/// Opens the node's store (or creates it from the genesis), refusing one of another chain, depth
/// or genesis, and a producer that is not an account.
fn open_store(
    config: &NodeConfig,
    genesis: &Genesis,
    hasher: Arc<dyn crate::accel::BatchHasher<rustorium_circuits::Fr>>,
) -> Result<StateStore, NodeError> {
    let path = config.data_dir.join("state.redb");
    let options = StoreOptions {
        keep_versions: config.keep_versions,
    };
    let in_file = |e: StoreError| NodeError::Config(format!("{}: {e}", path.display()));
    let store = if path.exists() {
        let s = StateStore::open(&path, hasher, options).map_err(in_file)?;
        if s.depth() != genesis.depth || s.chain_id() != genesis.chain_id {
            return Err(NodeError::Config(format!(
                "{} belongs to another chain or depth than {}",
                path.display(),
                config.genesis.display()
            )));
        }
        match s.genesis_hash().map_err(in_file)? {
            Some(h) if h != genesis.state_hash() => {
                return Err(NodeError::Config(format!(
                    "{} was created from another genesis than {} (accounts or balances differ)",
                    path.display(),
                    config.genesis.display()
                )));
            }
            Some(_) => {}
            None => tracing::warn!(
                path = %path.display(),
                "store made before genesis hashes were recorded: cannot check it against the genesis file"
            ),
        }
        s
    } else {
        StateStore::create_from_genesis(&path, genesis, hasher, options).map_err(in_file)?
    };
    let reader = store.reader()?;
    if reader
        .account(config.producer, reader.latest_version()?.unwrap_or(0))?
        .is_none()
    {
        return Err(NodeError::Config(format!(
            "producer {} is not an account",
            config.producer
        )));
    }
    drop(reader);
    Ok(store)
}

/// Where a proving key comes from, as logged and exported (`/status`): `devnet-seed` (insecure,
/// derived from a public seed), `ceremony:<transcript hash, hex>` (made by a phase-2 ceremony and
/// exported by `rustorium ceremony export`), or `external` (made elsewhere, no transcript recorded).
pub fn key_provenance(k: &KeyPair) -> String {
    match (k.dev_seed, &k.transcript) {
        (Some(_), _) => "devnet-seed".into(),
        (None, Some(t)) => format!(
            "ceremony:{}",
            t.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        (None, None) => "external".into(),
    }
}

/// The proving keys when proving is on, checked against the key the genesis pins.
fn load_keys(config: &NodeConfig, genesis: &Genesis) -> Result<Option<KeyPair>, NodeError> {
    if !config.prove {
        return Ok(None);
    }
    let k = load_or_make_keys(
        &config.keys_dir,
        CircuitShape {
            depth: genesis.depth,
            capacity: config.capacity,
        },
        config.key_seed,
        genesis.devnet,
    )
    .map_err(|e| match e {
        NodeError::Config(m) => NodeError::Config(format!("{m} ({})", config.genesis.display())),
        other => other,
    })?;
    tracing::info!(
        provenance = key_provenance(&k),
        vk_hash = %hex::encode(vk_hash(&k.pk.vk)),
        devnet = genesis.devnet,
        "proving key"
    );
    let got = vk_hash(&k.pk.vk);
    if let Some(pinned) = genesis.pinned_vk(config.capacity)
        && pinned != got
    {
        return Err(NodeError::Config(format!(
            "the verifying key in {} (hash {}) is not the key {} pins for capacity {} ({})",
            config.keys_dir.display(),
            hex::encode(got),
            config.genesis.display(),
            config.capacity,
            hex::encode(pinned)
        )));
    }
    k.matrices()?;
    Ok(Some(k))
}

/// The halo2 prover when proving is on with `proof_system = "halo2"`: parameters derived from the
/// public string (cached under `<keys_dir>/halo2/`), keys derived from the shape, the key's hash
/// checked against the one the genesis pins.
fn load_halo2(
    config: &NodeConfig,
    genesis: &Genesis,
) -> Result<Option<Arc<Halo2Prover>>, NodeError> {
    if !config.prove {
        return Ok(None);
    }
    if config.fleet.is_some() {
        return Err(NodeError::Config(
            "[fleet] workers prove Groth16 only: use proof_system = \"groth16\" with a fleet"
                .into(),
        ));
    }
    let shape = CircuitShape {
        depth: genesis.depth,
        capacity: config.capacity,
    };
    let start = Instant::now();
    let h2 = Halo2Prover::new(shape, Some(&config.keys_dir.join("halo2")))?;
    let got = h2.verifier().vk_hash();
    tracing::info!(
        system = "halo2",
        provenance = "transparent",
        vk_hash = %hex::encode(got),
        k = h2.verifier().k(),
        rows = h2.layout().rows(),
        secs = start.elapsed().as_secs_f64(),
        "halo2 keys derived"
    );
    if let Some(pinned) = genesis.pinned_halo2_vk(config.capacity)
        && pinned != got
    {
        return Err(NodeError::Config(format!(
            "the halo2 verifying key for capacity {} (hash {}) is not the key {} pins ({})",
            config.capacity,
            hex::encode(got),
            config.genesis.display(),
            hex::encode(pinned)
        )));
    }
    Ok(Some(Arc::new(h2)))
}

/// Scoring (on the profile's backend) and policy.
fn load_admission(
    config: &NodeConfig,
    profile: Option<&Profile>,
    metrics: &Metrics,
) -> Result<admission::Admission, NodeError> {
    let mut scoring = config.scoring.clone();
    if let Some(profile) = profile {
        scoring.cuda |= profile.backends.scoring == crate::hardware::Backend::Cuda;
    }
    let admission = admission::Admission::load(
        &scoring,
        &config.policy,
        &metrics.scoring_fallbacks,
        &crate::builtin::dir(&config.data_dir),
    )
    .map_err(|e| NodeError::Config(e.to_string()))?;
    metrics
        .scoring_enabled
        .store(u64::from(admission.scoring_on()), Ordering::Relaxed);
    Ok(admission)
}
