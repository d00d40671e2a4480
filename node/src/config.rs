//! `config/node.toml`: the node's configuration. Unknown keys are refused with the key named;
//! relative paths are relative to the config file's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::NodeError;
use super::mempool::MempoolConfig;
use crate::prover::ProofSystem;

fn default_quic() -> String {
    "127.0.0.1:7700".into()
}
fn default_http() -> String {
    "127.0.0.1:7701".into()
}
fn default_interval() -> u64 {
    1000
}
fn default_capacity() -> usize {
    4
}
fn default_workers() -> usize {
    1
}
fn default_keep() -> u64 {
    256
}
fn default_backlog() -> u64 {
    64
}
fn default_true() -> bool {
    true
}
fn default_seed() -> u64 {
    0x5275_7374_6f72_6975
}

/// Node configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Data directory (state, chain, TLS certificate).
    pub data_dir: PathBuf,
    /// Genesis file.
    pub genesis: PathBuf,
    /// Account index of this node's producer (receives the fees).
    pub producer: u64,
    /// QUIC ingestion address.
    #[serde(default = "default_quic")]
    pub quic_listen: String,
    /// HTTP API address.
    #[serde(default = "default_http")]
    pub http_listen: String,
    /// A block is made at least this often while transfers are pending (and at once when a full
    /// block is pending).
    #[serde(default = "default_interval")]
    pub block_interval_ms: u64,
    /// Transfers per block (the circuit capacity).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// Key directory.
    #[serde(default)]
    pub keys_dir: PathBuf,
    /// Seed of the insecure devnet keys made when none exist.
    #[serde(default = "default_seed")]
    pub key_seed: u64,
    /// Prover threads.
    #[serde(default = "default_workers")]
    pub prover_workers: usize,
    /// State versions kept readable (0: all). Versions that unproven blocks need are kept
    /// regardless, so a slow prover never loses the state it needs.
    #[serde(default = "default_keep")]
    pub keep_versions: u64,
    /// With proving on, block production pauses while this many committed blocks wait for their
    /// proofs (back-pressure: the mempool then fills and admission refuses with `mempool full`).
    /// 0: never pause. Single-producer mode only: validators follow consensus.
    #[serde(default = "default_backlog")]
    pub max_proving_backlog: u64,
    /// Prove blocks.
    #[serde(default = "default_true")]
    pub prove: bool,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolSection,
    /// Hardware profile (`hardware/*.toml`); none: everything on the CPU.
    #[serde(default)]
    pub hardware: Option<PathBuf>,
    /// Validator mode (BFT consensus with the genesis validators); absent: single producer.
    #[serde(default)]
    pub consensus: Option<ConsensusSection>,
    /// Transaction scoring (ONNX); absent: off.
    #[serde(default)]
    pub scoring: super::admission::ScoringSection,
    /// Admission policy script (gluon); absent: none.
    #[serde(default)]
    pub policy: super::admission::PolicySection,
    /// HTTP server limits (`[http]`: connections, timeouts in seconds, body bytes).
    #[serde(default)]
    pub http: HttpLimits,
    /// The proving fleet (`[fleet]`: jobs to prover workers through NATS JetStream); absent: the
    /// node proves in its own process (`prover_workers` threads).
    #[serde(default)]
    pub fleet: Option<FleetSection>,
    /// The proof system: `"groth16"` (default: 128-byte proofs, a trusted setup per shape) or
    /// `"halo2"` (transparent: no setup, keys derived from the shape; larger proofs, slower
    /// verification; docs/circuit.md). A genesis pins the verifying key's hash of either.
    #[serde(default, deserialize_with = "proof_system")]
    pub proof_system: ProofSystem,
}

fn proof_system<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ProofSystem, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// `[fleet]`: prove through workers on other machines (docs/operations.md, "The proving fleet").
/// The node's own `prover_workers` threads then prove only dead letters and blocks whose results
/// were refused `max_rejections` times.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    /// NATS URL; comma-separated for a cluster (`nats://a:4222,nats://b:4222`).
    pub url: String,
    /// A worker's lease: a job neither acknowledged nor extended this long goes to another
    /// worker. Seconds.
    #[serde(default = "default_ack_wait", with = "secs")]
    pub ack_wait: Duration,
    /// Deliveries of one job before it is a dead letter.
    #[serde(default = "default_max_deliver")]
    pub max_deliver: i64,
    /// Stream replicas: 1 on one server, 3 on a 3-server cluster.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Retries of one block's job (refused results, or the job gone without a result) before the
    /// node proves it itself.
    #[serde(default = "default_max_rejections")]
    pub max_rejections: u32,
    /// A job that left the queue (acknowledged by a worker) without a result reaching the node
    /// within this many seconds is published again.
    #[serde(default = "default_lost_after", with = "secs")]
    pub lost_after: Duration,
    /// The node's durable results consumer (one per node of a chain). Default `node-<producer>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Publish every accepted transfer to the accepted-transfer stream before acknowledging it.
    #[serde(default = "default_true")]
    pub accepted_stream: bool,
    /// At start, admit again every transfer the accepted-transfer stream holds for the chain
    /// (recovery of a node that lost its data directory; already-applied transfers are refused
    /// as stale and counted, never applied twice).
    #[serde(default)]
    pub replay_accepted: bool,
}

impl FleetSection {
    /// `[fleet]` with `url` and every other key at its default.
    pub fn new(url: String) -> Self {
        Self {
            url,
            ack_wait: default_ack_wait(),
            max_deliver: default_max_deliver(),
            replicas: default_replicas(),
            max_rejections: default_max_rejections(),
            lost_after: default_lost_after(),
            name: None,
            accepted_stream: true,
            replay_accepted: false,
        }
    }
}

fn default_ack_wait() -> Duration {
    Duration::from_secs(30)
}
fn default_max_deliver() -> i64 {
    5
}
fn default_replicas() -> usize {
    1
}
fn default_max_rejections() -> u32 {
    3
}
fn default_lost_after() -> Duration {
    Duration::from_secs(10)
}

/// `[consensus]`: run as validator `validator` of the genesis validator set.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusSection {
    /// Index in the genesis `[[validators]]`.
    pub validator: u16,
    /// Number of the insecure devnet validator key (exactly one of this and `key_file`).
    pub dev_key: Option<u64>,
    /// File holding the Ed25519 secret key, 32 bytes hex.
    pub key_file: Option<PathBuf>,
    /// Validator transport listen address (QUIC).
    pub listen: String,
    /// Every validator's transport address, by validator index (the own entry is ignored).
    pub peers: Vec<String>,
    /// Propose-step timeout at round 0, ms.
    #[serde(default = "default_propose_ms")]
    pub propose_timeout_ms: u64,
    /// Prevote/precommit timeout at round 0, ms.
    #[serde(default = "default_vote_ms")]
    pub vote_timeout_ms: u64,
    /// Test-only fault injection: `POST /admin/partition` and `byzantine`. Never in production.
    #[serde(default)]
    pub fault_injection: bool,
    /// Test-only misbehaviour (needs `fault_injection`).
    #[serde(default = "default_byzantine")]
    pub byzantine: crate::consensus::Byzantine,
}

fn default_propose_ms() -> u64 {
    1000
}
fn default_vote_ms() -> u64 {
    400
}
fn default_byzantine() -> crate::consensus::Byzantine {
    crate::consensus::Byzantine::None
}

/// `[mempool]`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolSection {
    /// Transfers held at most.
    pub max_txs: usize,
    /// Per sender at most.
    pub max_per_sender: usize,
    /// Nonce distance ahead of the account allowed.
    pub max_nonce_gap: u64,
    /// Replacement fee bump, percent.
    pub replace_bump_percent: u64,
}

impl Default for MempoolSection {
    fn default() -> Self {
        let d = MempoolConfig::default();
        Self {
            max_txs: d.max_txs,
            max_per_sender: d.max_per_sender,
            max_nonce_gap: d.max_nonce_gap,
            replace_bump_percent: d.replace_bump_percent,
        }
    }
}

impl From<MempoolSection> for MempoolConfig {
    fn from(s: MempoolSection) -> Self {
        Self {
            max_txs: s.max_txs,
            max_per_sender: s.max_per_sender,
            max_nonce_gap: s.max_nonce_gap,
            replace_bump_percent: s.replace_bump_percent,
        }
    }
}

impl NodeConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<Self, NodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))?;
        let mut c: Self = toml::from_str(&text)
            .map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let key_file = c.consensus.as_mut().and_then(|s| s.key_file.as_mut());
        for p in [&mut c.data_dir, &mut c.genesis, &mut c.keys_dir]
            .into_iter()
            .chain(c.hardware.as_mut())
            .chain(key_file)
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(m) = c.scoring.model.as_mut() {
            super::admission::rebase(base, m);
        }
        if let Some(r) = c.scoring.runtime.as_mut() {
            super::admission::rebase(base, r);
        }
        if let Some(p) = c.policy.script.as_mut() {
            super::admission::rebase(base, p);
        }
        if c.keys_dir == base {
            c.keys_dir = c.data_dir.join("keys");
        }
        if c.capacity == 0 {
            return Err(NodeError::Config(format!(
                "{}: capacity must be at least 1",
                path.display()
            )));
        }
        Ok(c)
    }
}

/// Limits of the HTTP server (`rustorium-api`; defaults in [`HttpLimits::default`]); the node
/// config's `[http]` section sets them (seconds and bytes there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Connections served at once from one IP address.
    pub max_connections_per_ip: usize,
    /// A connection silent this long (no byte either way) is closed.
    #[serde(with = "secs")]
    pub idle_timeout: Duration,
    /// Request headers must be complete this soon after the request starts.
    #[serde(with = "secs")]
    pub header_timeout: Duration,
    /// A request must be answered this soon (body included).
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Test-only fault injection, never in production: `GET /blocks/{h}/proof` at this height
    /// serves a tampered snarkjs proof (so browser tests see the light client refuse it).
    #[serde(default)]
    pub fault_tamper_proof_at: Option<u64>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_connections_per_ip: 64,
            idle_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body: 16 * 1024,
            fault_tamper_proof_at: None,
        }
    }
}

/// Durations in (fractional) seconds.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
    }
}
