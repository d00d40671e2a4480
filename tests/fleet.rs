//! The proving fleet (issue 17) end to end: a node process with `[fleet]`, a real `nats-server`
//! with JetStream on a free loopback port (Debian's package, installed by scripts/setup.sh; a
//! test fails loudly when it cannot start one) and `rustorium prover` worker processes.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{get, metric, start_node, wait};
use rustls::pki_types::CertificateDer;
use rustorium::fleet::local::NatsServer;
use rustorium::net::quic::Client;
use rustorium_circuits::transfer::Recipient;

/// A node with `[fleet]` on its own NATS server, and the workers a test starts.
struct Harness {
    dir: tempfile::TempDir,
    nats: NatsServer,
    node: Child,
    quic: SocketAddr,
    http: SocketAddr,
    workers: Vec<Child>,
}

impl Harness {
    /// `fleet` holds extra `[fleet]` keys (lease, deliveries) for the test.
    fn start(fleet: &str) -> Self {
        Self::start_with(FAST, fleet)
    }

    /// [`Harness::start`] with `top` as the node's top-level settings.
    fn start_with(top: &str, fleet: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let nats = NatsServer::start(&dir.path().join("nats")).unwrap_or_else(|e| {
            panic!("the fleet tests need nats-server (scripts/setup.sh installs it): {e}")
        });
        let config = fleet_config(dir.path(), &nats, top, fleet);
        let (node, quic, http) = start_node(&config);
        Self {
            dir,
            nats,
            node,
            quic,
            http,
            workers: Vec::new(),
        }
    }

    /// SIGKILLs the node (if it runs) and starts it again with `top` and `fleet`.
    fn crash_and_restart(&mut self, top: &str, fleet: &str) {
        let _ = self.node.kill();
        self.node.wait().expect("reaped");
        let config = fleet_config(self.dir.path(), &self.nats, top, fleet);
        (self.node, self.quic, self.http) = start_node(&config);
    }

    fn keys(&self) -> PathBuf {
        self.dir.path().join("data/keys")
    }

    /// Starts `rustorium prover` named `name` (`misbehave`: a test-only fault).
    fn worker(&mut self, name: &str, misbehave: Option<&str>) -> usize {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustorium"));
        cmd.args(["prover", "--nats", &self.nats.url(), "--name", name])
            .arg("--keys")
            .arg(self.keys())
            .stdout(
                std::fs::File::create(self.dir.path().join(format!("{name}.out"))).expect("out"),
            )
            .stderr(log);
        if let Some(m) = misbehave {
            cmd.args(["--misbehave", m]);
        }
        self.workers.push(cmd.spawn().expect("spawn prover"));
        self.workers.len() - 1
    }

    fn kill_worker(&mut self, i: usize) {
        self.workers[i].kill().expect("SIGKILL worker");
        self.workers[i].wait().expect("reaped");
    }

    /// Submits transfers `nonce` of senders `from` over QUIC; all must be accepted.
    fn submit(&self, from: &[u64], nonce: u64) {
        let txs: Vec<_> = from
            .iter()
            .map(|f| common::dev_transfer(*f, Recipient::Index((f + 1) % 5), 2, 1, nonce))
            .collect();
        let cert = CertificateDer::from(
            std::fs::read(self.dir.path().join("data/tls/cert.der")).expect("cert"),
        );
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let results = rt.block_on(async {
            let c = Client::connect(self.quic, cert).await.expect("connect");
            let r = c.submit(&txs).await.expect("submit");
            c.close().await;
            r
        });
        assert!(results.iter().all(|r| r.accepted), "{results:?}");
    }

    fn status(&self) -> serde_json::Value {
        get(self.http, "/status")
    }

    fn committed(&self) -> u64 {
        self.status()["committed_height"].as_u64().expect("height")
    }

    fn metric(&self, name: &str) -> u64 {
        metric(self.http, name).unwrap_or(0)
    }

    /// Waits until every committed block (at least `min`) is proven.
    fn wait_all_proven(&self, min: u64, secs: u64) -> u64 {
        let mut height = 0;
        wait("every committed block proven", secs, || {
            let s = self.status();
            height = s["committed_height"].as_u64().unwrap_or(0);
            height >= min && s["proven_height"].as_u64() == Some(height)
        });
        height
    }

    /// The worker entry of `/status`.
    fn worker_status(&self, name: &str) -> serde_json::Value {
        self.status()["fleet"]["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .find(|w| w["name"] == name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// `(sender, nonce)` of every transfer applied in blocks `1..=height`, sorted.
    fn applied(&self, height: u64) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = (1..=height)
            .flat_map(|b| {
                get(self.http, &format!("/blocks/{b}"))["transfers"]
                    .as_array()
                    .expect("transfers")
                    .iter()
                    .map(|t| {
                        (
                            t["from"].as_u64().expect("from"),
                            t["nonce"].as_u64().expect("nonce"),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// `rustorium light sync` from genesis to `height`, pinned to the node's key hash.
    fn light_sync(&self, height: u64) {
        light_sync(self.http, self.dir.path(), height);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = self.node.kill();
        let _ = self.node.wait();
    }
}

/// Small blocks made quickly.
const FAST: &str = "capacity = 2\nblock_interval_ms = 100\n";

fn fleet_config(dir: &Path, nats: &NatsServer, top: &str, fleet: &str) -> PathBuf {
    common::node_config(
        dir,
        &format!("{top}[fleet]\nurl = \"{}\"\n{fleet}\n", nats.url()),
    )
}

fn light_sync(http: SocketAddr, dir: &Path, height: u64) {
    common::light_sync(http, &dir.join("genesis.toml"), height);
}

/// The max-deliveries advisory comes while the node is down (so it never sees it): after its
/// restart the node finds the exhausted job still in the queue with nothing pending or leased,
/// buries it as a dead letter and proves the block itself.
#[test]
fn a_dead_letter_announced_while_the_node_was_down_is_still_buried() {
    let fleet = "ack_wait = 2.0\nmax_deliver = 1\nlost_after = 2.0";
    let mut h = Harness::start(fleet);
    let stalled = h.worker("doomed", Some("stall"));
    h.submit(&[0, 1], 0);
    wait("the lease", 60, || h.metric("rustorium_fleet_leases") == 1);
    h.node.kill().expect("SIGKILL node");
    h.node.wait().expect("reaped");
    h.kill_worker(stalled);
    // A worker asks for work: the server finds the job exhausted and announces it to nobody.
    h.worker("next", None);
    std::thread::sleep(Duration::from_secs(5));
    h.crash_and_restart(FAST, fleet);
    h.wait_all_proven(1, 60);
    assert_eq!(h.metric("rustorium_fleet_dead_letters_total"), 1);
    assert_eq!(h.worker_status("next"), serde_json::Value::Null);
    h.light_sync(1);
}

/// With no worker at all, the node proves the waiting jobs itself once a lease and `lost_after`
/// pass (the worker of last resort), and a worker that starts later takes the next ones.
#[test]
fn without_workers_the_node_is_the_prover_of_last_resort() {
    let mut h = Harness::start("ack_wait = 2.0\nlost_after = 1.0");
    h.submit(&[0, 1], 0);
    h.wait_all_proven(1, 120);
    assert_eq!(h.metric("rustorium_proofs_total"), 1);
    assert_eq!(h.metric("rustorium_fleet_dead_letters_total"), 0);
    h.worker("late", None);
    wait("the late worker to ask for jobs", 60, || {
        h.metric("rustorium_fleet_waiting_requests") >= 1
    });
    h.submit(&[0, 1], 1);
    let height = h.wait_all_proven(2, 120);
    assert_eq!(h.worker_status("late")["proofs"].as_u64(), Some(height - 1));
    h.light_sync(height);
}

/// Node + three worker processes prove a stream of blocks; every proof came from a worker and
/// was verified by the node, and the light client verifies the chain from genesis.
#[test]
fn three_workers_prove_a_stream_of_blocks_and_the_light_client_verifies_it() {
    // A long `lost_after`: the node must not step in as the prover of last resort.
    let mut h = Harness::start("ack_wait = 10.0\nlost_after = 60.0");
    for i in 0..3 {
        h.worker(&format!("w{i}"), None);
    }
    for nonce in 0..3 {
        h.submit(&[0, 1, 2, 3, 4], nonce);
    }
    let height = h.wait_all_proven(5, 180);
    let by_workers: u64 = (0..3)
        .map(|i| {
            h.worker_status(&format!("w{i}"))["proofs"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(by_workers, height, "every block proven by a worker");
    assert_eq!(
        h.metric("rustorium_proofs_total"),
        height,
        "one proof stored per block"
    );
    assert_eq!(h.metric("rustorium_fleet_dead_letters_total"), 0);
    assert_eq!(h.applied(height).len(), 15);
    h.light_sync(height);
}

/// A worker SIGKILLed while it holds a job's lease: the lease runs out, another worker proves
/// the block, and exactly one proof is stored.
#[test]
fn a_worker_killed_mid_job_is_replaced_and_the_block_proven_once() {
    // A 3 s lease, extended every second: room for a loaded CI machine.
    let mut h = Harness::start("ack_wait = 3.0\nlost_after = 60.0");
    let stalled = h.worker("doomed", Some("stall"));
    h.submit(&[0, 1], 0);
    wait("the doomed worker to hold the lease", 60, || {
        h.metric("rustorium_fleet_leases") == 1
    });
    // Held well past one lease: its in-progress acknowledgements keep it.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(h.metric("rustorium_fleet_leases"), 1);
    assert_eq!(h.status()["proven_height"], 0);
    h.kill_worker(stalled);
    h.worker("rescuer", None);
    let height = h.wait_all_proven(1, 120);
    assert_eq!(height, 1);
    assert_eq!(h.worker_status("rescuer")["proofs"], 1);
    assert_eq!(
        h.worker_status("doomed"),
        serde_json::Value::Null,
        "no result from the dead"
    );
    assert_eq!(h.metric("rustorium_proofs_total"), 1);
    h.light_sync(1);
}

/// A worker that returns a well-formed but wrong proof and one that returns garbage: every such
/// result is refused and counted per worker, the job queued again, and after `max_rejections`
/// refusals the node proves the block itself; an honest worker then proves the next block.
#[test]
fn wrong_and_garbage_proofs_are_refused_counted_and_the_blocks_still_proven() {
    let mut h = Harness::start("ack_wait = 10.0\nmax_rejections = 3\nlost_after = 60.0");
    let liar = h.worker("liar", Some("wrong-proof"));
    h.submit(&[0, 1], 0);
    h.wait_all_proven(1, 120);
    let refused = |h: &Harness, w: &str, reason: &str| {
        h.metric(&format!(
            "rustorium_fleet_worker_rejected_total{{worker=\"{w}\",reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(refused(&h, "liar", "invalid"), 3);
    assert_eq!(h.worker_status("liar")["proofs"], 0);
    assert_eq!(h.metric("rustorium_fleet_requeued_total"), 2);
    h.kill_worker(liar);

    let garbler = h.worker("garbler", Some("garbage"));
    h.submit(&[0, 1], 1);
    h.wait_all_proven(2, 120);
    assert_eq!(refused(&h, "garbler", "malformed"), 3);
    h.kill_worker(garbler);

    h.worker("honest", None);
    h.submit(&[0, 1], 2);
    let height = h.wait_all_proven(3, 120);
    assert_eq!(
        h.worker_status("honest")["proofs"].as_u64(),
        Some(height - 2)
    );
    assert_eq!(h.metric("rustorium_proofs_total"), height);
    h.light_sync(height);
}

/// A worker stopped with SIGTERM while it holds a job releases the job at once: with a one-minute
/// lease, another worker still proves the block within seconds.
#[test]
fn a_worker_stopped_with_sigterm_releases_its_job_at_once() {
    let mut h = Harness::start("ack_wait = 60.0\nlost_after = 120.0");
    let leaving = h.worker("leaving", Some("stall"));
    h.submit(&[0, 1], 0);
    wait("the leaving worker to hold the lease", 60, || {
        h.metric("rustorium_fleet_leases") == 1
    });
    let status = Command::new("kill")
        .args(["-TERM", &h.workers[leaving].id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = h.workers[leaving].wait().expect("reaped");
    assert!(exit.success(), "a clean exit on SIGTERM: {exit:?}");
    let out = std::fs::read_to_string(h.dir.path().join("leaving.out")).expect("stdout");
    assert!(out.contains("in-flight job released"), "{out}");
    h.worker("next", None);
    // Far inside the 60 s lease: only a released job goes to another worker this soon.
    h.wait_all_proven(1, 30);
    assert_eq!(h.worker_status("next")["proofs"], 1);
}

/// A job whose deliveries are exhausted (`max_deliver = 1`, its only worker killed) becomes a
/// dead letter: moved to the dead-letter stream, counted, and proven in the node's process.
#[test]
fn exhausted_deliveries_make_a_dead_letter_the_node_proves_itself() {
    let mut h = Harness::start("ack_wait = 2.0\nmax_deliver = 1");
    let stalled = h.worker("doomed", Some("stall"));
    h.submit(&[0, 1], 0);
    wait("the lease", 60, || h.metric("rustorium_fleet_leases") == 1);
    h.kill_worker(stalled);
    // The server notices the exhausted job only when someone asks for work; with no worker left,
    // the node asks itself (the worker of last resort) and takes the job over.
    h.wait_all_proven(1, 120);
    assert_eq!(h.metric("rustorium_fleet_dead_letters_total"), 1);
    assert_eq!(h.metric("rustorium_proofs_total"), 1);
    assert_eq!(h.status()["fleet"]["dead_letters"], 1);
    h.light_sync(1);
}

/// `nats-server` SIGKILLed mid-run and restarted on its file store: blocks committed while it was
/// down are published once it is back, no job is lost and no block gets a second proof.
#[test]
fn a_nats_restart_loses_no_job_and_duplicates_no_proof() {
    let mut h = Harness::start("ack_wait = 5.0\nlost_after = 3.0");
    h.worker("w0", None);
    h.worker("w1", None);
    h.submit(&[0, 1, 2, 3, 4], 0);
    h.wait_all_proven(3, 120);
    h.nats.kill();
    h.submit(&[0, 1, 2, 3, 4], 1);
    wait("blocks committed while NATS is down", 60, || {
        h.committed() >= 5
    });
    assert!(h.status()["proven_height"].as_u64() < Some(h.committed()));
    std::thread::sleep(Duration::from_secs(1));
    h.nats.restart().expect("restart nats-server");
    h.submit(&[0, 1, 2, 3, 4], 2);
    let height = h.wait_all_proven(8, 180);
    assert_eq!(
        h.metric("rustorium_proofs_total"),
        height,
        "one proof per block"
    );
    // Every block's proof, checked from genesis.
    h.light_sync(height);
}

/// With `[fleet]`, transfers acknowledged but not yet in a block when the node is SIGKILLed are
/// applied after the restart, each exactly once, and each was in the accepted-transfer stream
/// before its acknowledgement.
#[test]
fn acknowledged_transfers_survive_a_node_crash_with_the_fleet() {
    // No block before the kill: a block needs two transfers, or ten minutes.
    let stalled = "capacity = 2\nblock_interval_ms = 600000\nmax_proving_backlog = 0\n";
    let mut h = Harness::start_with(stalled, "");
    // One transfer: below the capacity of 2, so the stalled producer makes no block.
    h.submit(&[0], 0);
    let accepted = {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let link = rustorium::fleet::Link::connect(
                &h.nats.url(),
                1337,
                "test",
                Duration::from_secs(5),
            )
            .await
            .expect("connect");
            let mut stream = link
                .jetstream()
                .get_stream(rustorium::fleet::ACCEPTED_STREAM)
                .await
                .expect("accepted stream");
            stream.info().await.expect("info").state.messages
        })
    };
    assert_eq!(
        accepted, 1,
        "the transfer is in the accepted-transfer stream"
    );
    assert_eq!(h.committed(), 0, "no block before the kill");
    h.crash_and_restart(FAST, "");
    h.worker("w0", None);
    assert_eq!(h.metric("rustorium_intake_replayed_total"), 1);
    h.submit(&[1], 0);
    let height = h.wait_all_proven(1, 120);
    let applied = h.applied(height);
    assert_eq!(
        applied,
        vec![(0, 0), (1, 0)],
        "each acknowledged transfer exactly once"
    );
    h.light_sync(height);
}

/// Free loopback TCP ports.
fn free_ports(n: usize) -> Vec<u16> {
    let socks: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    socks
        .iter()
        .map(|s| s.local_addr().expect("addr").port())
        .collect()
}

/// A 3-server JetStream cluster on loopback with the streams replicated on all three: one server
/// SIGKILLed mid-run, and jobs keep flowing (RAFT) — every block proven, the chain verified.
#[test]
fn a_three_server_cluster_keeps_jobs_flowing_with_one_server_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = rustorium::fleet::local::find_nats_server()
        .expect("the fleet tests need nats-server (scripts/setup.sh installs it)");
    let ports = free_ports(6);
    let routes: Vec<String> = (0..3)
        .map(|i| format!("nats://127.0.0.1:{}", ports[3 + i]))
        .collect();
    let mut servers = Reaped(
        (0..3)
            .map(|i| {
                let log =
                    std::fs::File::create(dir.path().join(format!("nats{i}.log"))).expect("log");
                Command::new(&binary)
                    .args(["-js", "-a", "127.0.0.1", "-p", &ports[i].to_string()])
                    .args(["-n", &format!("n{i}"), "--cluster_name", "rustorium"])
                    .args(["--cluster", &routes[i], "--routes", &routes.join(",")])
                    .arg("-sd")
                    .arg(dir.path().join(format!("nats{i}")))
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("spawn nats-server")
            })
            .collect(),
    );
    let url = (0..3)
        .map(|i| format!("nats://127.0.0.1:{}", ports[i]))
        .collect::<Vec<_>>()
        .join(",");
    let config = common::node_config(
        dir.path(),
        &format!(
            "{FAST}[fleet]\nurl = \"{url}\"\nreplicas = 3\nack_wait = 5.0\nlost_after = 60.0\n"
        ),
    );
    let (node, quic, http) = start_node(&config);
    servers.0.push(node);
    let log = std::fs::File::create(dir.path().join("w0.log")).expect("log");
    let worker = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args(["prover", "--nats", &url, "--name", "w0", "--keys"])
        .arg(dir.path().join("data/keys"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn prover");
    servers.0.push(worker);
    let cert =
        || CertificateDer::from(std::fs::read(dir.path().join("data/tls/cert.der")).expect("cert"));
    let submit = |nonce: u64| {
        let txs: Vec<_> = (0..4)
            .map(|f| common::dev_transfer(f, Recipient::Index((f + 1) % 5), 2, 1, nonce))
            .collect();
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let results = rt.block_on(async {
            let c = Client::connect(quic, cert()).await.expect("connect");
            let r = c.submit(&txs).await.expect("submit");
            c.close().await;
            r
        });
        assert!(results.iter().all(|r| r.accepted), "{results:?}");
    };
    let all_proven = |min: u64| {
        wait("every committed block proven", 180, || {
            let s = get(http, "/status");
            let c = s["committed_height"].as_u64().unwrap_or(0);
            c >= min && s["proven_height"].as_u64() == Some(c)
        });
    };
    submit(0);
    all_proven(2);
    let by_worker = || metric(http, "rustorium_fleet_worker_proofs_total{worker=\"w0\"}");
    let before = by_worker().unwrap_or(0);
    assert!(before >= 1, "the worker proves through the cluster");
    // The first server, which the node and the worker most likely talk to, dies.
    servers.0[0].kill().expect("SIGKILL nats-server");
    servers.0[0].wait().expect("reaped");
    submit(1);
    submit(2);
    all_proven(6);
    let height = get(http, "/status")["committed_height"]
        .as_u64()
        .expect("height");
    assert_eq!(metric(http, "rustorium_proofs_total"), Some(height));
    assert!(
        by_worker().unwrap_or(0) > before,
        "the worker goes on proving after the server died"
    );
    light_sync(http, dir.path(), height);
}

/// Child processes killed and reaped when dropped, also when a test panics (no nats-server left
/// running after a failed test).
struct Reaped(Vec<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A worker with no keys downloads the node's proving key (`--keys-from`), pinned by the
/// verifying-key hash it is given: a wrong pin is refused before any job is taken; the right one
/// is checked, saved, and proves a block.
#[test]
fn a_worker_downloads_the_proving_key_pinned_by_its_hash() {
    let mut h = Harness::start("lost_after = 60.0");
    let node_url = format!("http://{}", h.http);
    let hash = h.status()["vk_hash"].as_str().expect("vk hash").to_string();
    let keys = h.dir.path().join("downloaded");
    let mut wrong = hash.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let out = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args(["prover", "--nats", &h.nats.url(), "--keys-from", &node_url])
        .args([
            "--vk-hash",
            std::str::from_utf8(&wrong).expect("ascii"),
            "--keys",
        ])
        .arg(&keys)
        .output()
        .expect("prover");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("not the pinned"), "{text}");
    assert!(!keys.join("d5-c2/proving.key").exists(), "nothing saved");

    let log = std::fs::File::create(h.dir.path().join("dl.log")).expect("log");
    let worker = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args(["prover", "--nats", &h.nats.url(), "--name", "dl"])
        .args(["--keys-from", &node_url, "--vk-hash", &hash, "--keys"])
        .arg(&keys)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn prover");
    h.workers.push(worker);
    h.submit(&[0, 1], 0);
    h.wait_all_proven(1, 120);
    assert_eq!(h.worker_status("dl")["proofs"], 1);
    assert!(keys.join("d5-c2/proving.key").exists(), "the key was saved");
}

/// A node that lost its data directory recovers the transfers it had acknowledged from the
/// accepted-transfer stream (`replay_accepted`): they are admitted again and applied, once.
#[test]
fn a_node_that_lost_its_data_replays_the_accepted_transfer_stream() {
    let stalled = "capacity = 2\nblock_interval_ms = 600000\nmax_proving_backlog = 0\n";
    let mut h = Harness::start_with(stalled, "");
    h.submit(&[0], 0);
    h.node.kill().expect("SIGKILL node");
    h.node.wait().expect("reaped");
    std::fs::remove_dir_all(h.dir.path().join("data")).expect("the disk is gone");
    h.crash_and_restart(
        FAST,
        "replay_accepted = true\nlost_after = 1.0\nack_wait = 2.0",
    );
    assert_eq!(h.metric("rustorium_fleet_accepted_replayed_total"), 1);
    assert_eq!(
        h.metric("rustorium_intake_replayed_total"),
        0,
        "nothing local survived"
    );
    h.submit(&[1], 0);
    let height = h.wait_all_proven(1, 120);
    assert_eq!(h.applied(height).len(), 2);
    // A second restart replays the stream again: both transfers are applied already and refused.
    h.crash_and_restart(
        FAST,
        "replay_accepted = true\nlost_after = 1.0\nack_wait = 2.0",
    );
    assert_eq!(h.metric("rustorium_fleet_accepted_replayed_total"), 0);
    assert_eq!(h.metric("rustorium_fleet_accepted_dropped_total"), 2);
}
