//! Four validators (real `rustorium node` processes) under BFT consensus on loopback: transfers
//! are finalized; a killed validator does not stop the other three and catches up after a
//! restart; an equivocating validator that also sends garbage does not make two blocks final at
//! one height; a partition into two halves stops progress and healing resumes it. Every wait is
//! bounded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustorium::state::dev_secret;
use rustorium_circuits::transfer::{Recipient, Transfer};
use serde_json::Value;

const CHAIN: u64 = 31;
const N: usize = 4;

/// One network at a time: four processes each already fill this machine.
static SERIAL: Mutex<()> = Mutex::new(());

struct Net {
    _dir: tempfile::TempDir,
    cfgs: Vec<PathBuf>,
    http: Vec<SocketAddr>,
    procs: Vec<Option<Child>>,
    nonces: Vec<u64>,
}

fn free_udp() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("udp")
        .local_addr()
        .expect("addr")
        .port()
}

fn free_tcp() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("tcp")
        .local_addr()
        .expect("addr")
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into()
}

impl Net {
    fn new(byzantine: Option<usize>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut genesis = format!("chain_id = {CHAIN}\ndepth = 6\ndevnet = true\n");
        for i in 0..8 {
            genesis += &format!("[[accounts]]\ndev_key = {i}\nbalance = 1000000\n");
        }
        for i in 0..N {
            genesis += &format!("[[validators]]\ndev_key = {i}\nfee_account = {i}\n");
        }
        std::fs::write(dir.path().join("genesis.toml"), genesis).expect("genesis");
        let consensus: Vec<String> = (0..N)
            .map(|_| format!("127.0.0.1:{}", free_udp()))
            .collect();
        let peers = consensus
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut cfgs = Vec::new();
        let mut http = Vec::new();
        for (i, listen) in consensus.iter().enumerate() {
            let h: SocketAddr = format!("127.0.0.1:{}", free_tcp()).parse().expect("addr");
            let byz = if byzantine == Some(i) {
                "equivocate"
            } else {
                "none"
            };
            let cfg = format!(
                "data_dir = \"v{i}\"\ngenesis = \"genesis.toml\"\nproducer = {i}\nquic_listen = \"127.0.0.1:{}\"\nhttp_listen = \"{h}\"\ncapacity = 4\nprove = false\n\n[consensus]\nvalidator = {i}\ndev_key = {i}\nlisten = \"{}\"\npeers = [{peers}]\npropose_timeout_ms = 800\nvote_timeout_ms = 300\nfault_injection = true\nbyzantine = \"{byz}\"\n",
                free_udp(),
                listen
            );
            let path = dir.path().join(format!("v{i}.toml"));
            std::fs::write(&path, cfg).expect("config");
            cfgs.push(path);
            http.push(h);
        }
        let mut net = Self {
            _dir: dir,
            cfgs,
            http,
            procs: (0..N).map(|_| None).collect(),
            nonces: vec![0; 8],
        };
        for i in 0..N {
            net.spawn(i);
        }
        for i in 0..N {
            assert!(
                net.wait(Duration::from_secs(30), |n| n.status(i).is_some()),
                "validator {i} did not start"
            );
        }
        net
    }

    fn spawn(&mut self, i: usize) {
        let child = Command::new(env!("CARGO_BIN_EXE_rustorium"))
            .args(["node", "--config"])
            .arg(&self.cfgs[i])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn node");
        self.procs[i] = Some(child);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.procs[i].take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    fn get(&self, i: usize, path: &str) -> Option<Value> {
        let mut r = agent()
            .get(&format!("http://{}{path}", self.http[i]))
            .call()
            .ok()?;
        if r.status() != 200 {
            return None;
        }
        serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()
    }

    fn post(&self, i: usize, path: &str, body: &str) -> Option<u16> {
        agent()
            .post(&format!("http://{}{path}", self.http[i]))
            .send(body)
            .ok()
            .map(|r| r.status().as_u16())
    }

    /// A counter or gauge from validator `i`'s `/metrics`.
    fn metric(&self, i: usize, name: &str) -> u64 {
        agent()
            .get(&format!("http://{}/metrics", self.http[i]))
            .call()
            .expect("metrics")
            .body_mut()
            .read_to_string()
            .expect("text")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    fn status(&self, i: usize) -> Option<Value> {
        self.get(i, "/status")
    }

    fn committed(&self, i: usize) -> u64 {
        self.status(i)
            .and_then(|s| s["committed_height"].as_u64())
            .unwrap_or(0)
    }

    /// Submits a transfer from account `from` (4..8) to validator `via`.
    fn transfer(&mut self, via: usize, from: u64) {
        let nonce = self.nonces[from as usize];
        let tx = Transfer {
            chain_id: CHAIN,
            from,
            to: Recipient::Index((from + 1) % 8),
            amount: 3,
            fee: 1,
            nonce,
        }
        .sign(&dev_secret(from));
        let body = format!(
            r#"{{"transfer":"{}"}}"#,
            hex::encode(tx.encode().expect("encode"))
        );
        assert_eq!(self.post(via, "/tx", &body), Some(200), "submit via {via}");
        self.nonces[from as usize] += 1;
    }

    fn wait(&self, limit: Duration, mut ok: impl FnMut(&Self) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if ok(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Transfers applied in blocks 1..=h as validator `i` stores them.
    fn applied(&self, i: usize, h: u64) -> usize {
        (1..=h)
            .map(|k| {
                self.get(i, &format!("/blocks/{k}"))
                    .and_then(|b| b["transfers"].as_array().map(Vec::len))
                    .unwrap_or(0)
            })
            .sum()
    }

    /// No two validators hold different blocks at any height both committed.
    fn assert_agreement(&self, live: &[usize]) {
        let top = live.iter().map(|i| self.committed(*i)).min().unwrap_or(0);
        for h in 1..=top {
            let hashes: Vec<String> = live
                .iter()
                .map(|i| {
                    self.get(*i, &format!("/blocks/{h}")).expect("block")["decided_hash"]
                        .as_str()
                        .expect("decided hash")
                        .to_string()
                })
                .collect();
            assert!(
                hashes.windows(2).all(|w| w[0] == w[1]),
                "validators disagree at height {h}: {hashes:?}"
            );
        }
    }

    fn partition(&self, i: usize, block: &[usize]) {
        let body = format!("{{\"block\": {block:?}}}");
        assert_eq!(self.post(i, "/admin/partition", &body), Some(200));
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..N {
            self.kill(i);
        }
    }
}

#[test]
fn four_validators_finalize_a_stream_of_transfers() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Net::new(None);
    for k in 0..12u64 {
        net.transfer((k % 4) as usize, 4 + k % 4);
    }
    assert!(
        net.wait(Duration::from_secs(60), |n| {
            let h = n.committed(0);
            h > 0 && n.applied(0, h) == 12 && (1..N).all(|i| n.committed(i) >= h)
        }),
        "12 transfers were not finalized by all validators"
    );
    net.assert_agreement(&[0, 1, 2, 3]);
    // Every validator's state root is the same at the common height.
    let h = (0..N).map(|i| net.committed(i)).min().unwrap_or(0);
    let roots: Vec<Value> = (0..N)
        .map(|i| net.get(i, &format!("/blocks/{h}")).expect("block")["new_root"].clone())
        .collect();
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "{roots:?}");
    // Every committed block was executed once, when it was built or checked: the decided one is
    // committed from that plan (a block that arrived only by sync is planned again).
    for i in 0..N {
        let committed = net.metric(i, "rustorium_committed_height");
        let reused = net.metric(i, "rustorium_block_plans_reused_total");
        let replanned = net.metric(i, "rustorium_block_plans_replanned_total");
        assert_eq!(reused + replanned, committed, "validator {i}");
        assert!(reused > 0, "validator {i} re-executed every decided block");
    }
}

#[test]
fn a_killed_validator_does_not_stop_the_others_and_catches_up() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Net::new(None);
    net.transfer(0, 4);
    assert!(net.wait(Duration::from_secs(60), |n| {
        (0..N).all(|i| n.committed(i) >= 1)
    }));
    net.kill(3);
    let before = net.committed(0);
    for k in 0..6u64 {
        net.transfer((k % 3) as usize, 5 + k % 3);
    }
    assert!(
        net.wait(Duration::from_secs(60), |n| {
            let h = n.committed(0);
            h > before && n.applied(0, h) == 7 && (1..3).all(|i| n.committed(i) >= h)
        }),
        "the three live validators did not finalize the transfers"
    );
    net.assert_agreement(&[0, 1, 2]);
    let target = net.committed(0);
    net.spawn(3);
    assert!(
        net.wait(Duration::from_secs(60), |n| n.committed(3) >= target),
        "the restarted validator did not catch up to {target}"
    );
    // And it takes part again: a new transfer is final everywhere.
    net.transfer(3, 4);
    assert!(net.wait(Duration::from_secs(60), |n| {
        let h = n.committed(0);
        n.applied(0, h) == 8 && (0..N).all(|i| n.committed(i) >= h)
    }));
    net.assert_agreement(&[0, 1, 2, 3]);
}

#[test]
fn an_equivocating_validator_breaks_neither_safety_nor_progress() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Net::new(Some(3));
    for k in 0..8u64 {
        net.transfer((k % 3) as usize, 4 + k % 4);
    }
    assert!(
        net.wait(Duration::from_secs(90), |n| {
            let h = n.committed(0);
            n.applied(0, h) == 8 && (1..3).all(|i| n.committed(i) >= h)
        }),
        "honest validators did not finalize the transfers"
    );
    net.assert_agreement(&[0, 1, 2, 3]);
    // The garbage it sent was dropped and counted by the honest validators (it sends garbage on
    // its own schedule, which a fast finalization may precede: wait for it).
    let malformed = || net.metric(0, "rustorium_peer_malformed_total");
    let start = std::time::Instant::now();
    while malformed() == 0 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        malformed() > 0,
        "garbage from the faulty validator was not counted"
    );
}

#[test]
fn a_healed_partition_resumes_progress() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Net::new(None);
    net.transfer(0, 4);
    assert!(net.wait(Duration::from_secs(60), |n| {
        (0..N).all(|i| n.committed(i) >= 1)
    }));
    // {0, 1} | {2, 3}: neither side has the 3 votes a decision needs.
    for (i, other) in [(0, [2, 3]), (1, [2, 3]), (2, [0, 1]), (3, [0, 1])] {
        net.partition(i, &other);
    }
    let h = (0..N).map(|i| net.committed(i)).max().unwrap_or(0);
    net.transfer(0, 5);
    net.transfer(2, 6);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        (0..N).all(|i| net.committed(i) <= h),
        "a minority side decided a block"
    );
    for i in 0..N {
        net.partition(i, &[]);
    }
    assert!(
        net.wait(Duration::from_secs(60), |n| {
            let top = n.committed(0);
            top > h && n.applied(0, top) == 3 && (1..N).all(|i| n.committed(i) >= top)
        }),
        "progress did not resume after the partition healed"
    );
    net.assert_agreement(&[0, 1, 2, 3]);
}
