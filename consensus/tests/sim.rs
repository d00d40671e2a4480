//! Deterministic simulation of consensus: four validators' sans-IO drivers
//! (`rustorium_consensus::Driver`), each on an in-memory host, on a simulated network with
//! seeded message delays and losses and a virtual clock. Nothing here reads the real clock or
//! opens a socket, so a seed replays exactly (checked below), and many seeds run in seconds.
//!
//! Faults: a validator that crashes and restarts (its driver is rebuilt from the host's durable
//! records: committed blocks and signed votes), an equivocating validator (conflicting votes and
//! garbage), and network partitions (2|2: no quorum; 3|1: the majority goes on). Every run
//! checks safety (no two validators commit different blocks at one height, every commit
//! certificate verifies) and liveness (every honest validator reaches the target height once the
//! fault heals).
//!
//! `SIM_SEEDS=n` runs `n` seeds per scenario (default 16); a failure names its seed, and
//! `SIM_TRACE=debug` prints malachite's and the driver's logs of a run.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

use malachitebft_core_types as mt;
use rustorium_consensus::codec::Wire;
use rustorium_consensus::types::{
    BlockHash, BlockValue, Ctx, Validator, ValidatorId, ValidatorSet, Vote, dev_validator_key,
    verify_commit,
};
use rustorium_consensus::{Byzantine, Driver, EngineConfig, Host, Target};
use rustorium_testkit::SplitMix;
use sha2::{Digest, Sha256};

const CHAIN: u64 = 77;
const N: u16 = 4;

type Cert = mt::CommitCertificate<Ctx>;

/// One validator's durable state: its chain and the votes it signed. Survives a crash.
struct SimHost {
    me: u16,
    target: u64,
    chain: RefCell<Vec<(BlockValue, Cert)>>,
    votes: RefCell<BTreeMap<(u64, i64, u8), Vote>>,
    equivocations: Cell<u64>,
    /// (virtual ms, height) of each commit, for the determinism check.
    commits: RefCell<Vec<(u64, u64, BlockHash)>>,
    clock_ms: Cell<u64>,
}

fn root_after(parent: &[u8; 32], txs: &[Vec<u8>]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(parent);
    for t in txs {
        h.update((t.len() as u32).to_le_bytes());
        h.update(t);
    }
    h.finalize().into()
}

impl SimHost {
    fn new(me: u16, target: u64) -> Self {
        Self {
            me,
            target,
            chain: RefCell::default(),
            votes: RefCell::default(),
            equivocations: Cell::new(0),
            commits: RefCell::default(),
            clock_ms: Cell::new(0),
        }
    }

    fn tip_root(&self) -> [u8; 32] {
        self.chain
            .borrow()
            .last()
            .map_or([0; 32], |(v, _)| v.state_root)
    }
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Host for SimHost {
    type Error = Refused;

    fn committed_height(&self) -> u64 {
        self.chain.borrow().len() as u64
    }

    fn has_pending(&self) -> bool {
        self.committed_height() < self.target
    }

    fn build_value(&self, height: u64, fee_account: u64) -> Result<Option<BlockValue>, Refused> {
        if height != self.committed_height() + 1 {
            return Ok(None);
        }
        let parent_root = self.tip_root();
        let txs = vec![format!("tx {height} from v{}", self.me).into_bytes()];
        Ok(Some(BlockValue {
            height,
            timestamp_ms: self.clock_ms.get(),
            producer: fee_account,
            parent_root,
            state_root: root_after(&parent_root, &txs),
            txs,
        }))
    }

    fn check_value(&self, height: u64, v: &BlockValue) -> Result<(), Refused> {
        if v.height != height || height != self.committed_height() + 1 {
            return Err(Refused(format!("block {} at height {height}", v.height)));
        }
        if v.parent_root != self.tip_root() || v.txs.is_empty() {
            return Err(Refused("wrong parent or empty".into()));
        }
        if v.state_root != root_after(&v.parent_root, &v.txs) {
            return Err(Refused("state root differs from execution".into()));
        }
        Ok(())
    }

    fn commit(&self, v: &BlockValue, cert: &Cert) -> Result<(), Refused> {
        let committed = self.committed_height();
        if v.height <= committed {
            let same = self.chain.borrow()[v.height as usize - 1].0.hash() == v.hash();
            return if same {
                Ok(())
            } else {
                Err(Refused(format!("height {} holds another block", v.height)))
            };
        }
        self.check_value(committed + 1, v)?;
        self.chain.borrow_mut().push((v.clone(), cert.clone()));
        self.commits
            .borrow_mut()
            .push((self.clock_ms.get(), v.height, v.hash()));
        Ok(())
    }

    fn decided(&self, height: u64) -> Result<Option<(BlockValue, Cert)>, Refused> {
        Ok(height
            .checked_sub(1)
            .and_then(|i| self.chain.borrow().get(i as usize).cloned()))
    }

    fn guard_vote(&self, vote: Vote) -> Result<Vote, Refused> {
        let key = (
            vote.height.0,
            vote.round.as_i64(),
            matches!(vote.kind, mt::VoteType::Precommit) as u8,
        );
        Ok(self.votes.borrow_mut().entry(key).or_insert(vote).clone())
    }

    fn gossiped(&self, _tx: &[u8]) {}

    fn equivocation(&self, _height: u64, count: u64) {
        self.equivocations.set(self.equivocations.get() + count);
    }
}

/// A fault the scenario injects.
#[derive(Clone, Debug)]
enum Fault {
    None,
    /// Validator down during [from, to) ms: its driver is dropped and rebuilt from its host.
    Crash {
        who: u16,
        from: u64,
        to: u64,
    },
    /// Validator sends conflicting votes and garbage throughout.
    Equivocate {
        who: u16,
    },
    /// Links between `side` and the rest are cut during [from, to) ms.
    Partition {
        side: Vec<u16>,
        from: u64,
        to: u64,
    },
}

struct Outcome {
    hosts: Vec<SimHost>,
    garbage: u64,
    /// Heights at the partition's start and end, per validator (partition scenarios).
    at_partition: Option<(Vec<u64>, Vec<u64>)>,
}

/// A message on the simulated network: (deliver at ms, sequence, from, to, bytes).
type InFlight = (u64, u64, u16, u16, Vec<u8>);

fn validators() -> ValidatorSet {
    ValidatorSet(
        (0..N)
            .map(|i| Validator {
                id: ValidatorId(i),
                key: dev_validator_key(u64::from(i)).verifying_key(),
                fee_account: u64::from(i) + 100,
            })
            .collect(),
    )
}

fn config(byzantine: bool) -> EngineConfig {
    EngineConfig {
        propose_timeout: Duration::from_millis(300),
        vote_timeout: Duration::from_millis(150),
        byzantine: if byzantine {
            Byzantine::Equivocate
        } else {
            Byzantine::None
        },
    }
}

/// Runs four validators for `duration_ms` of virtual time; messages take 1–25 ms and 3 % are
/// lost.
fn simulate(seed: u64, fault: &Fault, target: u64, duration_ms: u64) -> Outcome {
    if let Ok(filter) = std::env::var("SIM_TRACE") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let ms_of = |i: Instant| i.saturating_duration_since(t0).as_millis() as u64;
    let mut rng = SplitMix(seed);
    let hosts: Vec<SimHost> = (0..N).map(|i| SimHost::new(i, target)).collect();
    let byzantine = |i: u16| matches!(fault, Fault::Equivocate { who } if *who == i);
    let new_driver = |i: u16, now_ms: u64, hosts: &[SimHost]| {
        Driver::new(
            &hosts[i as usize],
            at(now_ms),
            CHAIN,
            validators(),
            ValidatorId(i),
            dev_validator_key(u64::from(i)),
            config(byzantine(i)),
        )
    };
    let mut drivers: Vec<Option<Driver>> = (0..N).map(|i| Some(new_driver(i, 0, &hosts))).collect();
    let mut net: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut garbage = 0u64;
    let mut at_partition = None;
    let (mut start_heights, mut now) = (None, 0u64);
    let cut = |a: u16, b: u16, t: u64| match fault {
        Fault::Partition { side, from, to } => {
            t >= *from && t < *to && side.contains(&a) != side.contains(&b)
        }
        _ => false,
    };
    loop {
        // Next event: a delivery, a driver's timer, or a fault's edge.
        let mut next = net.peek().map_or(u64::MAX, |Reverse(m)| m.0);
        for d in drivers.iter().flatten() {
            next = next.min(ms_of(d.poll_timeout()).max(now));
        }
        match fault {
            Fault::Crash { from, to, .. } | Fault::Partition { from, to, .. } => {
                for edge in [*from, *to] {
                    if edge > now || (edge == now && now == 0) {
                        next = next.min(edge);
                    }
                }
            }
            _ => {}
        }
        let healed = match fault {
            Fault::Crash { to, .. } | Fault::Partition { to, .. } => now >= *to,
            _ => true,
        };
        if next > duration_ms || (healed && hosts.iter().all(|h| h.committed_height() == target)) {
            break;
        }
        now = next;
        for h in &hosts {
            h.clock_ms.set(now);
        }
        match fault {
            Fault::Crash { who, from, to } => {
                let w = *who as usize;
                if now >= *from && now < *to {
                    drivers[w] = None;
                } else if now >= *to && drivers[w].is_none() {
                    drivers[w] = Some(new_driver(*who, now, &hosts));
                }
            }
            Fault::Partition { from, to, .. } => {
                let heights = || hosts.iter().map(|h| h.committed_height()).collect();
                if now >= *from && start_heights.is_none() {
                    start_heights = Some(heights());
                }
                if now >= *to && at_partition.is_none() {
                    at_partition = start_heights.clone().map(|s| (s, heights()));
                }
            }
            _ => {}
        }
        // Deliveries due now.
        while net.peek().is_some_and(|Reverse(m)| m.0 <= now) {
            let Some(Reverse((_, _, from, to, bytes))) = net.pop() else {
                break;
            };
            let Some(d) = drivers[to as usize].as_mut() else {
                continue; // crashed: lost
            };
            match Wire::decode(&bytes) {
                Ok(msg) => d.handle_message(&hosts[to as usize], at(now), ValidatorId(from), msg),
                Err(_) => garbage += 1,
            }
        }
        // Timers due now; then everything the drivers want sent.
        for (i, d) in drivers.iter_mut().enumerate() {
            let Some(d) = d.as_mut() else { continue };
            if ms_of(d.poll_timeout()) <= now {
                d.handle_timeout(&hosts[i], at(now));
            }
            while let Some(t) = d.poll_transmit() {
                let to: Vec<u16> = match t.to {
                    Target::All => (0..N).filter(|p| *p != i as u16).collect(),
                    Target::One(v) => vec![v.0],
                };
                for p in to {
                    if rng.next_u64() % 100 < 3 || cut(i as u16, p, now) {
                        continue;
                    }
                    seq += 1;
                    let delay = 1 + rng.next_u64() % 25;
                    net.push(Reverse((now + delay, seq, i as u16, p, t.bytes.clone())));
                }
            }
        }
    }
    Outcome {
        hosts,
        garbage,
        at_partition,
    }
}

/// Safety: at every height, every validator that committed it holds the same block, with a
/// commit certificate that verifies against the validator set.
fn assert_safe(seed: u64, out: &Outcome) {
    let vs = validators();
    let mut by_height: BTreeMap<u64, BlockHash> = BTreeMap::new();
    for h in &out.hosts {
        for (v, cert) in h.chain.borrow().iter() {
            let hash = *by_height.entry(v.height).or_insert(v.hash());
            assert_eq!(
                hash,
                v.hash(),
                "seed {seed}: two blocks committed at height {}",
                v.height
            );
            assert_eq!(
                cert.value_id,
                v.hash(),
                "seed {seed}: certificate of another block"
            );
            verify_commit(CHAIN, &vs, cert)
                .unwrap_or_else(|e| panic!("seed {seed}: certificate at {}: {e}", v.height));
        }
    }
}

fn assert_live(seed: u64, out: &Outcome, honest: &[u16], target: u64) {
    for &i in honest {
        assert_eq!(
            out.hosts[i as usize].committed_height(),
            target,
            "seed {seed}: validator {i} did not reach height {target}"
        );
    }
}

fn seeds() -> impl Iterator<Item = u64> {
    let n = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16u64);
    (0..n).map(|i| 0x5eed_0000 + i)
}

const TARGET: u64 = 12;
const DURATION_MS: u64 = 60_000;

/// No faults beyond lost and delayed messages: every validator commits every height.
#[test]
fn four_honest_validators_agree_on_every_height() {
    for seed in seeds() {
        let out = simulate(seed, &Fault::None, TARGET, DURATION_MS);
        assert_safe(seed, &out);
        assert_live(seed, &out, &[0, 1, 2, 3], TARGET);
        assert_eq!(
            out.garbage, 0,
            "seed {seed}: honest validators sent garbage"
        );
    }
}

/// A validator that crashes for 3 s and restarts from its durable records (chain, signed votes)
/// never forks the chain; the other three carry on, and it catches up by block sync.
#[test]
fn a_crashed_validator_restarts_and_catches_up() {
    for seed in seeds() {
        let who = (seed % 4) as u16;
        let fault = Fault::Crash {
            who,
            from: 200 + seed % 300,
            to: 3_200,
        };
        let out = simulate(seed, &fault, TARGET, DURATION_MS);
        assert_safe(seed, &out);
        assert_live(seed, &out, &[0, 1, 2, 3], TARGET);
    }
}

/// One equivocating validator (f = 1) breaks neither safety nor progress, and the honest ones
/// see evidence of it; its garbage is refused by the codec.
#[test]
fn an_equivocating_validator_breaks_neither_safety_nor_progress() {
    for seed in seeds() {
        let who = (seed % 4) as u16;
        let out = simulate(seed, &Fault::Equivocate { who }, TARGET, DURATION_MS);
        assert_safe(seed, &out);
        let honest: Vec<u16> = (0..N).filter(|i| *i != who).collect();
        assert_live(seed, &out, &honest, TARGET);
        assert!(out.garbage > 0, "seed {seed}: no garbage arrived");
        let seen: u64 = honest
            .iter()
            .map(|i| out.hosts[*i as usize].equivocations.get())
            .sum();
        assert!(seen > 0, "seed {seed}: no honest validator saw evidence");
    }
}

/// A 2|2 partition has no quorum on either side: nothing is committed while it lasts (beyond a
/// height whose quorum formed before the cut), and everything resumes after it heals.
#[test]
fn a_two_two_partition_stalls_safely_and_heals() {
    for seed in seeds() {
        let fault = Fault::Partition {
            side: vec![0, (1 + seed % 3) as u16],
            from: 100 + seed % 200,
            to: 4_000,
        };
        let out = simulate(seed, &fault, 40, DURATION_MS);
        assert_safe(seed, &out);
        assert_live(seed, &out, &[0, 1, 2, 3], 40);
        let (start, end) = out.at_partition.expect("partition edges seen");
        for i in 0..N as usize {
            assert!(
                end[i] <= start.iter().max().copied().unwrap_or(0) + 1,
                "seed {seed}: validator {i} went from {} to {} without a quorum",
                start[i],
                end[i]
            );
        }
    }
}

/// A 3|1 partition: the majority keeps committing while it lasts; the isolated validator
/// catches up after it heals.
#[test]
fn a_three_one_partition_keeps_the_majority_going() {
    for seed in seeds() {
        let alone = (seed % 4) as u16;
        let fault = Fault::Partition {
            side: vec![alone],
            from: 100,
            to: 6_000,
        };
        let out = simulate(seed, &fault, 40, DURATION_MS);
        assert_safe(seed, &out);
        assert_live(seed, &out, &[0, 1, 2, 3], 40);
        let (start, end) = out.at_partition.expect("partition edges seen");
        for i in (0..N).filter(|i| *i != alone) {
            assert!(
                end[i as usize] > start[i as usize],
                "seed {seed}: the majority validator {i} made no progress ({start:?} → {end:?})"
            );
        }
    }
}

/// A seed replays exactly: the same commits at the same virtual times; another seed differs.
#[test]
fn a_seed_replays_exactly() {
    let fault = Fault::Crash {
        who: 2,
        from: 150,
        to: 2_000,
    };
    let trace = |seed| {
        let out = simulate(seed, &fault, TARGET, DURATION_MS);
        out.hosts
            .iter()
            .map(|h| h.commits.borrow().clone())
            .collect::<Vec<_>>()
    };
    let a = trace(41);
    assert_eq!(a, trace(41), "one seed, two different runs");
    assert_ne!(a, trace(42), "the seed does not reach the schedule");
}
