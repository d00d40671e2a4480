//! `rustorium node`, `rustorium devnet`, `rustorium tx transfer`, `rustorium light sync|account`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use rustls::pki_types::CertificateDer;
use rustorium::accel::CpuHasher;
use rustorium::halo2::Halo2Verifier;
use rustorium::light::{BlockData, ChainSpec, LightClient, verify_account};
use rustorium::net::quic::Client;
use rustorium::node::{Node, NodeConfig};
use rustorium::prover::{ProofEnvelope, parse_verifying_key, vk_hash};
use rustorium::state::{Genesis, StateStore, StoreOptions, dev_secret};
use rustorium_circuits::Fr;
use rustorium_circuits::block::CircuitShape;
use rustorium_circuits::field::{parse_field, to_decimal};
use rustorium_circuits::merkle::AccountProof;
use rustorium_circuits::transfer::{Recipient, Transfer};

use super::Outcome;
use super::keys::load_key;

#[derive(Args)]
pub(crate) struct NodeArgs {
    /// Node configuration.
    #[arg(long, default_value = "config/node.toml")]
    config: PathBuf,
}

#[derive(Args)]
pub(crate) struct DevnetArgs {
    /// Stop after this many blocks are proven and verified by the built-in light client.
    #[arg(long)]
    blocks: Option<u64>,
    /// Data directory (wiped at start; keys are kept in `<data>/../keys`).
    #[arg(long, default_value = "data/devnet")]
    data: PathBuf,
    /// Genesis (funded demo accounts with dev keys; default: the built-in devnet genesis,
    /// `config/genesis.toml`, written to `<data>/builtin/`).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Proof system: `groth16` (devnet keys) or `halo2` (transparent, no keys; docs/circuit.md).
    #[arg(long, default_value = "groth16")]
    proof_system: rustorium::prover::ProofSystem,
    /// Transfers per block (circuit capacity).
    #[arg(long, default_value_t = 4)]
    capacity: usize,
    /// Target submissions per second (the generator also waits while the proving queue is long).
    #[arg(long, default_value_t = 4.0)]
    rate: f64,
    /// HTTP API address.
    #[arg(long, default_value = "127.0.0.1:7701")]
    http: SocketAddr,
    /// QUIC ingestion address.
    #[arg(long, default_value = "127.0.0.1:7700")]
    quic: SocketAddr,
    /// Key directory.
    #[arg(long, default_value = "data/keys")]
    keys: PathBuf,
    /// Validators: 1 runs a single producer; n ≥ 4 runs n validators in this process under BFT
    /// consensus over QUIC on loopback (validator 0 serves the API and proves; the genesis gets
    /// `[[validators]]` with devnet keys 0..n).
    #[arg(long, default_value_t = 1)]
    validators: u16,
    /// The transaction scoring model (ONNX; docs/scoring.md; default: the built-in model).
    #[arg(long)]
    scoring_model: Option<PathBuf>,
    /// Run without transaction scoring.
    #[arg(long)]
    no_scoring: bool,
    /// The admission policy script (gluon; docs/policy.md; default: the built-in policy,
    /// `config/policy.glu`, written to `<data>/builtin/`).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Run without an admission policy.
    #[arg(long)]
    no_policy: bool,
    /// Prove through a proving fleet: start `nats-server` (JetStream, store in `<data>/nats`) and
    /// this many local `rustorium prover` workers; the node publishes jobs and verifies their
    /// proofs (0: prove in the node's process).
    #[arg(long, default_value_t = 0)]
    fleet: usize,
}

/// `devnet --fleet N`: the local NATS server and worker processes, stopped when dropped (workers
/// with SIGTERM, so that an in-flight job is released).
struct LocalFleet {
    nats: rustorium::fleet::local::NatsServer,
    workers: Vec<std::process::Child>,
}

impl LocalFleet {
    fn start_workers(&mut self, n: usize, a: &DevnetArgs, chain: u64) -> Result<()> {
        let exe = std::env::current_exe().context("locating this executable")?;
        for i in 0..n {
            let log = std::fs::File::create(a.data.join(format!("prover-{i}.log")))?;
            let child = std::process::Command::new(&exe)
                .args([
                    "prover",
                    "--nats",
                    &self.nats.url(),
                    "--chain",
                    &chain.to_string(),
                ])
                .arg("--keys")
                .arg(&a.keys)
                .args(["--name", &format!("devnet-w{i}")])
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting a prover worker")?;
            self.workers.push(child);
        }
        Ok(())
    }
}

impl Drop for LocalFleet {
    fn drop(&mut self) {
        for w in &self.workers {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &w.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for w in &mut self.workers {
            while Instant::now() < deadline && matches!(w.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = w.kill();
            let _ = w.wait();
        }
        self.nats.kill();
    }
}

/// Starts the devnet's nodes: one producer, or `a.validators` validators (the first is the API
/// and proving node).
fn start_devnet_nodes(a: &DevnetArgs, fleet: Option<String>) -> Result<Vec<Arc<Node>>> {
    let mut config = devnet_config(a);
    config.fleet = fleet.map(rustorium::node::FleetSection::new);
    if a.validators <= 1 {
        return Ok(vec![Node::start(config)?]);
    }
    let nodes = rustorium::node::devnet::start_validators(
        a.genesis.as_deref().expect("resolved by run_devnet"),
        &a.data,
        a.validators as usize,
        config,
        true,
    )?;
    eprintln!("{} validators under BFT consensus", nodes.len());
    Ok(nodes)
}

#[derive(Subcommand)]
pub(crate) enum TxCommand {
    /// Sign a transfer and submit it over QUIC.
    Transfer(TransferArgs),
}

#[derive(Args)]
pub(crate) struct TransferArgs {
    /// Node QUIC address.
    #[arg(long, default_value = "127.0.0.1:7700")]
    node: SocketAddr,
    /// The node's TLS certificate (`<data>/tls/cert.der`).
    #[arg(long, default_value = "data/devnet/tls/cert.der")]
    cert: PathBuf,
    /// Key file of the sender.
    #[arg(long, conflicts_with = "dev_key")]
    key: Option<PathBuf>,
    /// Insecure devnet key number of the sender.
    #[arg(long)]
    dev_key: Option<u64>,
    /// Sender index.
    #[arg(long)]
    from: u64,
    /// Recipient index.
    #[arg(long, conflicts_with = "to_key")]
    to: Option<u64>,
    /// Recipient packed public key (hex), for a key not yet in the tree.
    #[arg(long)]
    to_key: Option<String>,
    /// Amount.
    #[arg(long)]
    amount: u64,
    /// Fee.
    #[arg(long, default_value_t = 1)]
    fee: u64,
    /// The sender's current nonce.
    #[arg(long)]
    nonce: u64,
    /// Chain id.
    #[arg(long, default_value_t = 1337)]
    chain_id: u64,
}

#[derive(Args)]
pub(crate) struct LightArgs {
    /// Node HTTP URL.
    #[arg(long, default_value = "http://127.0.0.1:7701")]
    node: String,
    /// Genesis file: the genesis root is computed locally, not trusted from the node (default:
    /// the built-in devnet genesis, `config/genesis.toml`).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Expected verifying-key hash (hex); by default the hash the genesis file pins for the
    /// node's capacity (`[[verifying_keys]]`).
    #[arg(long)]
    vk_hash: Option<String>,
    /// Accept the node's verifying key when neither the genesis nor `--vk-hash` pins one. A
    /// dishonest node can then prove anything: for experiments only.
    #[arg(long)]
    trust_node_key: bool,
    /// Where halo2 parameters are cached (a halo2 chain: derived from a public string, so the
    /// cache holds nothing secret; default `$HOME/.cache/rustorium/halo2`).
    #[arg(long)]
    params_dir: Option<PathBuf>,
}

impl LightArgs {
    fn params_dir(&self) -> PathBuf {
        self.params_dir
            .clone()
            .unwrap_or_else(super::halo2_params_dir)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn serve(
    node: Arc<Node>,
    quic_addr: SocketAddr,
    http_addr: SocketAddr,
) -> Result<(SocketAddr, SocketAddr)> {
    rustorium::start_servers(node, quic_addr, http_addr)
        .await
        .with_context(|| format!("binding QUIC {quic_addr} / HTTP {http_addr}"))
}

pub(crate) fn run_node(a: NodeArgs) -> Result<Outcome> {
    let config = NodeConfig::load(&a.config)?;
    let quic_addr: SocketAddr = config.quic_listen.parse().context("quic_listen")?;
    let http_addr: SocketAddr = config.http_listen.parse().context("http_listen")?;
    eprintln!(
        "starting node: data {}, genesis {}",
        config.data_dir.display(),
        config.genesis.display()
    );
    let node = Node::start(config)?;
    if node.store_recovered() {
        tracing::warn!("the data directory was not closed cleanly last time: redb repaired it");
    }
    let rt = runtime()?;
    let served = rt.block_on(async {
        let (q, h) = serve(node.clone(), quic_addr, http_addr).await?;
        println!(
            "node ready: quic {q} http http://{h} (cert {})",
            node.config().data_dir.join("tls/cert.der").display()
        );
        let signal = shutdown_signal().await?;
        eprintln!("{signal}: shutting down (intake stopped, finishing in-flight work)");
        anyhow::Ok(())
    });
    close(node, rt);
    served?;
    Ok(Outcome::Ok)
}

/// Waits for SIGINT or SIGTERM; returns its name.
pub(crate) async fn shutdown_signal() -> Result<&'static str> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => { r?; Ok("SIGINT") }
        _ = term.recv() => Ok("SIGTERM"),
    }
}

/// Stops the servers (dropping their tasks), then closes the node and its database.
fn close(node: Arc<Node>, rt: tokio::runtime::Runtime) {
    node.shutdown();
    rt.shutdown_timeout(Duration::from_secs(2));
    if node.close(Duration::from_secs(120)) {
        eprintln!("shut down cleanly: database closed");
    } else {
        eprintln!(
            "warning: in-flight work did not finish in time; the database will be repaired on the next start"
        );
    }
}

fn devnet_config(a: &DevnetArgs) -> NodeConfig {
    NodeConfig {
        data_dir: a.data.clone(),
        genesis: a.genesis.clone().expect("resolved by run_devnet"),
        producer: 3,
        quic_listen: a.quic.to_string(),
        http_listen: a.http.to_string(),
        block_interval_ms: 1000,
        capacity: a.capacity,
        keys_dir: a.keys.clone(),
        key_seed: super::prove::DEV_SEED,
        prover_workers: 1,
        keep_versions: 1024,
        max_proving_backlog: 64,
        http: Default::default(),
        prove: true,
        mempool: Default::default(),
        hardware: None,
        fleet: None,
        proof_system: a.proof_system,
        consensus: None,
        scoring: rustorium::node::admission::ScoringSection {
            enabled: !a.no_scoring,
            model: a.scoring_model.clone(),
            ..Default::default()
        },
        policy: rustorium::node::admission::PolicySection {
            script: if a.no_policy { None } else { a.policy.clone() },
            ..Default::default()
        },
    }
}

pub(crate) fn run_devnet(mut a: DevnetArgs) -> Result<Outcome> {
    if a.data.join("state.redb").exists() {
        std::fs::remove_dir_all(&a.data).with_context(|| format!("wiping {}", a.data.display()))?;
    }
    // Built-in defaults, so that the binary runs from any directory.
    let builtin = rustorium::builtin::dir(&a.data);
    let write = |name: &str, bytes: &[u8]| {
        rustorium::builtin::materialize(&builtin, name, bytes)
            .with_context(|| format!("writing {}", builtin.join(name).display()))
    };
    if a.genesis.is_none() {
        a.genesis = Some(write(
            rustorium::builtin::GENESIS_FILE,
            rustorium::builtin::GENESIS.as_bytes(),
        )?);
    }
    if a.policy.is_none() && !a.no_policy {
        a.policy = Some(write(
            rustorium::builtin::POLICY_FILE,
            rustorium::builtin::POLICY.as_bytes(),
        )?);
    }
    let genesis = Genesis::load(a.genesis.as_deref().expect("resolved above"))?;
    let senders: Vec<u64> = (0..genesis.accounts.len() as u64)
        .filter(|i| genesis.accounts[*i as usize].pubkey == dev_secret(*i).public_key())
        .collect();
    if senders.is_empty() {
        bail!("the devnet needs genesis accounts with dev keys (dev_key = N at index N)");
    }
    eprintln!(
        "devnet: fresh data dir {}, {} funded dev accounts, capacity {}",
        a.data.display(),
        senders.len(),
        a.capacity
    );
    let mut fleet = if a.fleet > 0 {
        let nats = rustorium::fleet::local::NatsServer::start(&a.data.join("nats"))?;
        eprintln!("devnet: nats-server (JetStream) at {}", nats.url());
        Some(LocalFleet {
            nats,
            workers: Vec::new(),
        })
    } else {
        None
    };
    let nodes = start_devnet_nodes(&a, fleet.as_ref().map(|f| f.nats.url()))?;
    let node = nodes[0].clone();
    if let Some(f) = fleet.as_mut() {
        f.start_workers(a.fleet, &a, node.genesis().chain_id)?;
        eprintln!(
            "devnet: {} prover workers (logs {}/prover-*.log)",
            a.fleet,
            a.data.display()
        );
    }
    eprintln!(
        "devnet: proof system {}, verifying key {} ({})",
        node.config().proof_system,
        node.vk_hash().map_or("-".into(), hex::encode),
        node.key_provenance().unwrap_or_default()
    );
    eprintln!(
        "devnet: scoring {}, policy {}",
        node.admission().scoring_status,
        node.admission().policy_script.as_deref().unwrap_or("off")
    );
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        let (quic_addr, http_addr) = serve(node.clone(), a.quic, a.http).await?;
        let cert = CertificateDer::from(std::fs::read(node.config().data_dir.join("tls/cert.der"))?);
        println!("devnet: QUIC {quic_addr}, HTTP http://{http_addr}; Ctrl-C to stop");
        let mut client = Client::connect(quic_addr, cert.clone()).await?;
        let genesis_root = node.reader()?.root(0)?;
        let spec = ChainSpec {
            chain_id: node.genesis().chain_id,
            genesis_root,
            vk_hash: node.vk_hash().context("proving is off")?,
        };
        let mut light = match node.halo2() {
            Some(h2) => LightClient::halo2(spec, Arc::new(h2.verifier().clone()))?,
            None => LightClient::new(spec, &node.keys().context("keys")?.pk.vk)?,
        };
        let mut nonces: BTreeMap<u64, u64> = senders.iter().map(|s| (*s, 0)).collect();
        let (mut verified_h, mut verified_root) = (0u64, genesis_root);
        let start = Instant::now();
        let mut last_report = Instant::now();
        let mut sent = 0u64;
        let mut k = 0u64;
        let period = Duration::from_secs_f64(1.0 / a.rate.max(0.1));
        let mut stop_signal = Box::pin(shutdown_signal());
        loop {
            // Back-pressure: do not run ahead of the provers.
            let head = node.head();
            if head.committed.saturating_sub(head.proven) < 3 * a.fleet.max(1) as u64 {
                let from = senders[(k % senders.len() as u64) as usize];
                let to = senders[((k + 1) % senders.len() as u64) as usize];
                k += 1;
                let nonce = nonces[&from];
                let tx = Transfer { chain_id: node.genesis().chain_id, from, to: Recipient::Index(to), amount: 1 + k % 7, fee: 1, nonce }
                    .sign(&dev_secret(from));
                // The load generator never ends the devnet: a failed submission (a connection
                // that timed out while the node was busy proving, say) reconnects and goes on.
                let res = match client.submit(std::slice::from_ref(&tx)).await {
                    Ok(res) => res,
                    Err(e) => {
                        eprintln!("devnet: load generator: {e}; reconnecting");
                        client.close().await;
                        client = loop {
                            match Client::connect(quic_addr, cert.clone()).await {
                                Ok(c) => break c,
                                Err(e) => {
                                    eprintln!("devnet: reconnecting: {e}");
                                    tokio::time::sleep(Duration::from_secs(1)).await;
                                }
                            }
                        };
                        Vec::new()
                    }
                };
                if res.first().is_some_and(|r| r.accepted) {
                    nonces.insert(from, nonce + 1);
                    sent += 1;
                } else {
                    // Resynchronize with the committed state.
                    let r = node.reader()?;
                    let v = r.latest_version()?.unwrap_or(0);
                    if let Some(acc) = r.account(from, v)? {
                        nonces.insert(from, acc.nonce);
                    }
                }
            }
            // The built-in light client follows the proven chain.
            let proven = node.head().proven;
            for h in verified_h + 1..=proven {
                let bytes = node.proof(h)?.context("proof missing")?;
                let block = node.block(h)?.context("block missing")?;
                light.apply(&ProofEnvelope::decode(&bytes)?, &block.light_data())?;
                (verified_h, verified_root) = light.head();
            }
            if last_report.elapsed() >= Duration::from_secs(2) || a.blocks.is_some_and(|b| verified_h >= b) {
                last_report = Instant::now();
                let m = node.metrics();
                let secs = start.elapsed().as_secs_f64();
                let heights: Vec<u64> = nodes.iter().map(|n| n.head().committed).collect();
                if nodes.len() > 1 {
                    println!("[{secs:6.1} s] validators committed {heights:?}");
                }
                println!(
                    "[{secs:6.1} s] committed {} proven {} light-verified {} | submitted {sent} ({:.1} tx/s) applied {} | mempool {} queue {} | last proofs avg {:.2} s",
                    m.committed_height.load(Ordering::Relaxed),
                    proven,
                    verified_h,
                    sent as f64 / secs,
                    m.tx_applied.load(Ordering::Relaxed),
                    node.mempool_len(),
                    head.committed.saturating_sub(head.proven),
                    avg_proof_secs(&node),
                );
            }
            if let Some(b) = a.blocks
                && verified_h >= b
            {
                println!(
                    "devnet summary: {verified_h} blocks proven and verified from genesis in {:.1} s; {} transfers applied; head root {}",
                    start.elapsed().as_secs_f64(),
                    node.metrics().tx_applied.load(Ordering::Relaxed),
                    to_decimal(&verified_root)
                );
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                signal = &mut stop_signal => {
                    println!("stopping ({})", signal.unwrap_or("signal"));
                    break;
                }
            }
        }
        client.close().await;
        anyhow::Ok(Outcome::Ok)
    });
    drop(node);
    for n in &nodes {
        n.shutdown();
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    for n in nodes {
        if !n.close(Duration::from_secs(120)) {
            eprintln!("warning: a devnet node did not shut down in time");
        }
    }
    drop(fleet);
    outcome
}

fn avg_proof_secs(node: &Node) -> f64 {
    let text = node.metrics().render();
    let get = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    let n = get("rustorium_proof_seconds_count ");
    if n > 0.0 {
        get("rustorium_proof_seconds_sum ") / n
    } else {
        0.0
    }
}

pub(crate) fn run_tx(cmd: TxCommand) -> Result<Outcome> {
    let TxCommand::Transfer(a) = cmd;
    let secret = match (&a.key, a.dev_key) {
        (Some(p), None) => load_key(p)?,
        (None, Some(n)) => dev_secret(n),
        _ => bail!("give --key FILE or --dev-key N"),
    };
    let to = match (a.to, &a.to_key) {
        (Some(i), None) => Recipient::Index(i),
        (None, Some(k)) => Recipient::NewKey(rustorium_circuits::eddsa::PublicKey::unpack(
            &hex::decode(k)?,
        )?),
        _ => bail!("give --to INDEX or --to-key HEX"),
    };
    let tx = Transfer {
        chain_id: a.chain_id,
        from: a.from,
        to,
        amount: a.amount,
        fee: a.fee,
        nonce: a.nonce,
    }
    .sign(&secret);
    let cert = CertificateDer::from(
        std::fs::read(&a.cert).with_context(|| format!("reading {}", a.cert.display()))?,
    );
    let res = runtime()?.block_on(async {
        let client = Client::connect(a.node, cert).await?;
        let r = client.submit(&[tx]).await;
        client.close().await;
        r
    })?;
    let r = res.first().context("no answer")?;
    if r.accepted {
        println!("accepted {}", hex::encode(r.tx_id));
        Ok(Outcome::Ok)
    } else {
        println!("rejected: {}", r.reason);
        Ok(Outcome::Status(1))
    }
}

fn get_json(url: &str) -> Result<serde_json::Value> {
    let mut resp = ureq::get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let text = resp.body_mut().read_to_string()?;
    serde_json::from_str(&text).with_context(|| format!("GET {url}: not JSON"))
}

/// Computes the genesis root locally (in a temporary store).
fn local_genesis_root(g: &Genesis) -> Result<Fr> {
    let dir = std::env::temp_dir().join(format!("rustorium-light-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = StateStore::create_from_genesis(
        &dir.join("g.redb"),
        g,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )?;
    let root = store.reader()?.root(0)?;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(root)
}

/// Downloads and verifies the proof chain; returns the verified head.
fn sync(a: &LightArgs) -> Result<(u64, Fr)> {
    let base = a.node.trim_end_matches('/');
    let genesis = super::load_genesis(a.genesis.as_deref())?;
    let genesis_root = local_genesis_root(&genesis)?;
    let g = get_json(&format!("{base}/genesis"))?;
    let node_root = parse_field::<Fr>(g["root"].as_str().context("genesis root")?)?;
    if node_root != genesis_root {
        bail!(
            "the node's genesis root differs from {}",
            super::genesis_name(a.genesis.as_deref())
        );
    }
    let vk_json = get_json(&format!("{base}/vk"))?;
    // Groth16: the node's key file (checked against the pinned hash below). halo2: only the
    // shape comes from the node; the key is derived here.
    enum Key {
        Groth16(Box<ark_groth16::VerifyingKey<ark_bn254::Bn254>>),
        Halo2(Arc<Halo2Verifier>),
    }
    let (shape, key, hash) = if vk_json["system"] == "halo2" {
        let dim = |k: &str| {
            vk_json[k]
                .as_u64()
                .with_context(|| format!("node /vk: {k}"))
                .map(|v| v as usize)
        };
        let shape = CircuitShape {
            depth: dim("depth")?,
            capacity: dim("capacity")?,
        };
        let v = Arc::new(Halo2Verifier::new(shape, Some(&a.params_dir()))?);
        let hash = v.vk_hash();
        (shape, Key::Halo2(v), hash)
    } else {
        let (shape, vk) = parse_verifying_key(
            &hex::decode(vk_json["file"].as_str().context("vk file")?)?,
            "node /vk",
        )?;
        let hash = vk_hash(&vk);
        (shape, Key::Groth16(Box::new(vk)), hash)
    };
    let genesis_pin = match key {
        Key::Halo2(_) => genesis.pinned_halo2_vk(shape.capacity),
        Key::Groth16(_) => genesis.pinned_vk(shape.capacity),
    };
    let pinned = match (&a.vk_hash, genesis_pin) {
        (Some(h), _) => {
            let h: [u8; 32] = hex::decode(h.trim_start_matches("0x"))
                .ok()
                .and_then(|b| b.try_into().ok())
                .context("--vk-hash: not 32 bytes of hex")?;
            h
        }
        (None, Some(h)) => h,
        (None, None) if a.trust_node_key => {
            eprintln!(
                "WARNING: trusting the node's verifying key {} (--trust-node-key)",
                hex::encode(hash)
            );
            hash
        }
        (None, None) => bail!(
            "{} pins no verifying key for capacity {}: pass --vk-hash (or --trust-node-key)",
            super::genesis_name(a.genesis.as_deref()),
            shape.capacity
        ),
    };
    if shape.depth != genesis.depth {
        bail!(
            "the node's key is for depth {}, the genesis says {}",
            shape.depth,
            genesis.depth
        );
    }
    let spec = ChainSpec {
        chain_id: genesis.chain_id,
        genesis_root,
        vk_hash: pinned,
    };
    let mut light = match key {
        Key::Groth16(vk) => LightClient::new(spec, &vk)?,
        Key::Halo2(v) => LightClient::halo2(spec, v)?,
    };
    let proven = get_json(&format!("{base}/proven/latest"))?["height"]
        .as_u64()
        .context("height")?;
    for h in 1..=proven {
        // One request per block: `/blocks/{h}` carries the envelope beside the block data.
        let b = get_json(&format!("{base}/blocks/{h}"))?;
        let envelope = b["proof"]
            .as_str()
            .with_context(|| format!("block {h} from {base} has no proof"))?;
        let env = ProofEnvelope::decode(&hex::decode(envelope)?)?;
        light
            .apply(&env, &block_data(&b)?)
            .with_context(|| format!("block {h} from {base}"))?;
    }
    Ok(light.head())
}

/// The light-client view of a `/blocks/{h}` answer: producer and the applied transfers (decoded
/// from their bytes) with recipient indices.
fn block_data(b: &serde_json::Value) -> Result<BlockData> {
    let transfers = b["transfers"]
        .as_array()
        .context("block: transfers")?
        .iter()
        .map(|t| {
            let bytes = hex::decode(t["bytes"].as_str().context("transfer bytes")?)?;
            let tx = rustorium_circuits::transfer::SignedTransfer::decode(&bytes)?;
            Ok((tx, t["to_index"].as_u64().context("transfer to_index")?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(BlockData {
        height: b["height"].as_u64().context("block: height")?,
        producer: b["producer"].as_u64().context("block: producer")?,
        transfers,
    })
}

#[derive(Subcommand)]
pub(crate) enum LightNodeCommand {
    /// Download headers and proofs, verify the chain from genesis, print the verified head.
    Sync(LightArgs),
    /// Verify an account's proof against the verified head.
    Account {
        /// Account index.
        index: u64,
        #[command(flatten)]
        light: LightArgs,
    },
}

pub(crate) fn run_light(cmd: LightNodeCommand) -> Result<Outcome> {
    match cmd {
        LightNodeCommand::Sync(a) => {
            let (h, root) = sync(&a)?;
            println!("verified head: height {h} root {}", to_decimal(&root));
        }
        LightNodeCommand::Account { index, light } => {
            let (h, root) = sync(&light)?;
            let base = light.node.trim_end_matches('/');
            let v = get_json(&format!("{base}/accounts/{index}?height={h}"))?;
            let proof = AccountProof::decode(&hex::decode(v["proof"].as_str().context("proof")?)?)?;
            if proof.index != index {
                bail!("the node answered for index {}", proof.index);
            }
            verify_account(&proof, root)?;
            match proof.account {
                Some(acc) => println!(
                    "account {index} at verified height {h}: balance {} nonce {} key {} (proof verified)",
                    acc.balance,
                    acc.nonce,
                    hex::encode(acc.pubkey.pack())
                ),
                None => println!(
                    "account {index} is empty at verified height {h} (exclusion proof verified)"
                ),
            }
        }
    }
    Ok(Outcome::Ok)
}
