//! The consensus driver: one thread owns malachite's Tendermint state machine
//! (`malachitebft_core_consensus::State`), feeds it inputs (peer messages, timer expiries, our
//! proposals) and carries out its effects (sign, verify, publish, schedule timers, decide).
//!
//! What the node adds around the algorithm:
//! - **Values**: the proposer builds a block from its mempool on the committed state (all
//!   transfers applicable, post-execution root included); validators execute a proposal on their
//!   committed state and feed it to consensus only when the root matches (malachite treats a
//!   whole-block proposal as valid once fed). No empty blocks: a proposer with an empty mempool
//!   waits (transfers are gossiped to every validator, so the next proposer has them).
//! - **Decide**: the decided block is committed in one redb transaction with its record and
//!   its commit certificate (block sync serves both), then proving is queued.
//! - **Double-sign guard** instead of malachite's write-ahead log: before signing a vote, the
//!   (height, round, type) → value is persisted; after a restart a request to sign a different
//!   value there is answered with the recorded vote, so a restarted validator never equivocates.
//! - **Sync**: validators broadcast their committed height twice a second; one that is behind asks
//!   a peer ahead of it for blocks with commit certificates, checks each certificate (≥ 2f + 1
//!   valid precommits) and re-executes the block before committing it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use malachitebft_core_consensus::{
    self as mc, Effect, Input, LivenessMsg, Params, Resumable, SignedConsensusMsg,
};
use malachitebft_core_types::{self as mt, SignedMessage, ValidatorSet as _};

use super::codec::Wire;
use super::p2p::{Inbound, P2p, Target};
use super::types::{
    BlockHash, BlockValue, Ctx, Height, ValidatorId, ValidatorSet, Vote, proposal_sign_bytes, sign,
    verify, verify_commit, vote_sign_bytes,
};
use crate::node::{Node, NodeError};

/// Test-only misbehaviour of a validator (fault injection; never set in production configs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Byzantine {
    /// Honest.
    None,
    /// Sends every vote to everyone and a conflicting one (the other value) to the upper half of
    /// the validators, plus a garbage message.
    Equivocate,
}

/// Settings of the driver.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Timeout of the propose step (round 0; +50 % per round, at most 4×).
    pub propose_timeout: Duration,
    /// Timeout of the prevote and precommit steps (round 0; +50 % per round, at most 4×).
    pub vote_timeout: Duration,
    /// Fault injection.
    pub byzantine: Byzantine,
}

/// Timeouts: `base · (1 + r/2)` capped at 4 × base, so an idle network keeps cycling rounds at
/// a bounded pace and a transfer arriving after a long idle period still lands within a few
/// seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RoundTimeouts {
    propose_ms: u64,
    vote_ms: u64,
}

impl mt::Timeouts<Ctx> for RoundTimeouts {
    fn duration_for(&self, t: mt::Timeout) -> Duration {
        let r = u64::from(t.round.as_u32().unwrap_or(0)).min(6);
        let scale = |base: u64| Duration::from_millis(base + base * r / 2);
        match t.kind {
            mt::TimeoutKind::Propose => scale(self.propose_ms),
            mt::TimeoutKind::Prevote | mt::TimeoutKind::Precommit => scale(self.vote_ms),
            mt::TimeoutKind::Rebroadcast => scale(self.propose_ms + 2 * self.vote_ms),
            mt::TimeoutKind::FinalizeHeight(d) => d,
        }
    }
}

/// Work the effect handler leaves for the loop (it cannot feed inputs from inside `process!`).
#[derive(Default)]
struct Io {
    timers: BTreeMap<(Instant, u64), mt::Timeout>,
    timer_seq: u64,
    want_value: Option<(Height, mt::Round)>,
    values: HashMap<BlockHash, BlockValue>,
    own_proposals: HashMap<(u64, i64), SignedMessage<Ctx, super::types::Proposal>>,
    finalized: Option<u64>,
}

pub(crate) struct Engine {
    node: Weak<Node>,
    ctx: Ctx,
    vs: ValidatorSet,
    me: ValidatorId,
    key: ed25519_dalek::SigningKey,
    p2p: P2p,
    cfg: EngineConfig,
    io: Io,
    /// Proposals for heights we have not reached, validated when we get there.
    future: Vec<Inbound>,
    peer_heights: HashMap<u16, u64>,
    last_status: Instant,
    last_sync_request: Instant,
    /// malachite's per-height step metrics (fresh with each state machine).
    metrics: malachitebft_metrics::Metrics,
}

fn timeouts(cfg: &EngineConfig) -> RoundTimeouts {
    RoundTimeouts {
        propose_ms: cfg.propose_timeout.as_millis() as u64,
        vote_ms: cfg.vote_timeout.as_millis() as u64,
    }
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        node: Weak<Node>,
        chain_id: u64,
        vs: ValidatorSet,
        me: ValidatorId,
        key: ed25519_dalek::SigningKey,
        p2p: P2p,
        cfg: EngineConfig,
    ) -> Self {
        Self {
            node,
            ctx: Ctx { chain_id },
            vs,
            me,
            key,
            p2p,
            cfg,
            io: Io::default(),
            future: Vec::new(),
            peer_heights: HashMap::new(),
            last_status: Instant::now(),
            last_sync_request: Instant::now() - Duration::from_secs(10),
            metrics: malachitebft_metrics::Metrics::default(),
        }
    }

    fn new_state(&self, height: u64) -> mc::State<Ctx> {
        mc::State::new(
            self.ctx.clone(),
            Height(height),
            self.vs.clone(),
            Params {
                address: self.me,
                threshold_params: Default::default(),
                value_payload: mt::ValuePayload::ProposalOnly,
                enabled: true,
            },
            1024,
            256,
        )
    }

    /// Runs until the node stops or drops.
    pub(crate) fn run(mut self, inbox: Receiver<Inbound>) {
        let Some(node) = self.node.upgrade() else {
            return;
        };
        let mut height = node.head().committed + 1;
        drop(node);
        let mut state = self.new_state(height);
        let mut inputs = vec![self.start_input(height)];
        loop {
            let Some(node) = self.node.upgrade() else {
                return;
            };
            if node.stopping() {
                return;
            }
            // Feed queued inputs (each may queue more through the effect handler).
            while let Some(input) = inputs.pop() {
                let io = &mut self.io;
                let ctx = Handler {
                    node: &node,
                    chain_id: self.ctx.chain_id,
                    vs: &self.vs,
                    me: self.me,
                    key: &self.key,
                    p2p: &self.p2p,
                    byzantine: self.cfg.byzantine,
                    timeouts: timeouts(&self.cfg),
                };
                let result: Result<(), mc::Error<Ctx>> = mc::process!(
                    input: input,
                    state: &mut state,
                    metrics: &self.metrics,
                    with: effect => ctx.handle(io, effect)
                );
                if let Err(e) = result {
                    tracing::debug!(error = ?e, "consensus input refused");
                }
                if let Some(h) = self.io.finalized.take() {
                    self.advance(&node, &mut state, &mut height, &mut inputs, h + 1);
                }
            }
            // Our proposal, once the mempool has something.
            if let Some((h, r)) = self.io.want_value
                && h.0 == height
                && node.mempool_len() > 0
            {
                self.io.want_value = None;
                match node.build_proposal_value(h.0, self.my_fee_account()) {
                    Ok(Some(value)) => {
                        self.io.values.insert(value.hash(), value.clone());
                        inputs.push(Input::Propose(mc::LocallyProposedValue::new(h, r, value)));
                        continue;
                    }
                    Ok(None) => self.io.want_value = Some((h, r)),
                    Err(e) => tracing::error!(error = %e, "building a proposal failed"),
                }
            }
            // Status and sync.
            if self.last_status.elapsed() > Duration::from_millis(500) {
                self.last_status = Instant::now();
                self.p2p.send(
                    Target::All,
                    &Wire::Status {
                        committed: height - 1,
                    },
                );
            }
            if let Some((&peer, &h)) = self.peer_heights.iter().max_by_key(|(_, h)| **h)
                && h >= height
                && self.last_sync_request.elapsed() > Duration::from_millis(300)
            {
                self.last_sync_request = Instant::now();
                self.p2p.send(
                    Target::One(ValidatorId(peer)),
                    &Wire::SyncRequest { from: height },
                );
            }
            // Wait for a message or the next timer.
            let now = Instant::now();
            let next = self
                .io
                .timers
                .keys()
                .next()
                .map(|(t, _)| *t)
                .unwrap_or(now + Duration::from_millis(50))
                .min(now + Duration::from_millis(50));
            match inbox.recv_timeout(next.saturating_duration_since(now)) {
                Ok(m) => {
                    if let Some(i) = self.on_message(&node, height, m) {
                        inputs.push(i);
                    }
                    while let Ok(m) = inbox.try_recv() {
                        if let Some(i) = self.on_message(&node, height, m) {
                            inputs.insert(0, i);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            while let Some(entry) = self.io.timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                inputs.insert(0, Input::TimeoutElapsed(entry.remove()));
            }
            // Blocks committed by sync move us past the height consensus was working on.
            let committed = node.head().committed;
            if committed >= height {
                self.advance(&node, &mut state, &mut height, &mut inputs, committed + 1);
            }
        }
    }

    /// Starts `next` with a fresh state machine; held messages for it go in after the start.
    fn advance(
        &mut self,
        node: &Node,
        state: &mut mc::State<Ctx>,
        height: &mut u64,
        inputs: &mut Vec<Input<Ctx>>,
        next: u64,
    ) {
        *height = next;
        *state = self.new_state(next);
        self.metrics = malachitebft_metrics::Metrics::default();
        self.io.values.clear();
        self.io.own_proposals.retain(|(h, _), _| *h >= next);
        self.io.want_value = None;
        self.io.timers.clear();
        inputs.clear();
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.future)
            .into_iter()
            .partition(|m| msg_height(&m.msg) == Some(next));
        self.future = later;
        for m in now {
            if let Some(i) = self.input_for(node, next, m) {
                inputs.push(i);
            }
        }
        inputs.reverse();
        inputs.push(self.start_input(next)); // popped first
    }

    fn my_fee_account(&self) -> u64 {
        self.vs.0[self.me.0 as usize].fee_account
    }

    fn start_input(&self, height: u64) -> Input<Ctx> {
        Input::StartHeight(
            Height(height),
            self.vs.clone(),
            false,
            None,
            mt::VoteExtensionPolicy::Disabled,
        )
    }

    /// A peer message: consensus inputs for this height; future proposals held; sync served.
    fn on_message(&mut self, node: &Node, height: u64, m: Inbound) -> Option<Input<Ctx>> {
        match &m.msg {
            Wire::Status { committed } => {
                self.peer_heights.insert(m.from.0, *committed);
                None
            }
            Wire::SyncRequest { from } => {
                for h in *from..from.saturating_add(64) {
                    match node.synced_block(h) {
                        Ok(Some((v, c))) => {
                            self.p2p.send(Target::One(m.from), &Wire::SyncBlock(v, c))
                        }
                        _ => break,
                    }
                }
                None
            }
            Wire::SyncBlock(v, c) => {
                if v.height == height && c.height.0 == height && c.value_id == v.hash() {
                    match verify_commit(self.ctx.chain_id, &self.vs, c) {
                        Ok(()) => {
                            if let Err(e) = node.commit_decided(v, c) {
                                tracing::warn!(error = %e, "synced block refused");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(peer = %m.from, error = %e, "bad commit certificate")
                        }
                    }
                }
                None
            }
            Wire::Tx(bytes) => {
                let _ = node.submit_gossiped(bytes);
                None
            }
            _ => match msg_height(&m.msg) {
                Some(h) if h == height => self.input_for(node, height, m),
                Some(h) if h > height && h < height + 64 => {
                    if self.future.len() < 4096 {
                        self.future.push(m);
                    }
                    None
                }
                _ => None,
            },
        }
    }

    fn input_for(&mut self, node: &Node, height: u64, m: Inbound) -> Option<Input<Ctx>> {
        match m.msg {
            Wire::Proposal(p) => {
                // Only the sender may relay its own proposal, and only a block that executes to
                // its stated root on our committed state is handed to consensus.
                let fee = self.vs.0.get(p.message.proposer.0 as usize)?.fee_account;
                if p.message.proposer != m.from || p.message.value.producer != fee {
                    return None;
                }
                match node.check_proposal_value(height, &p.message.value) {
                    Ok(()) => {
                        self.io
                            .values
                            .insert(p.message.value.hash(), p.message.value.clone());
                        Some(Input::Proposal(p))
                    }
                    Err(e) => {
                        tracing::warn!(peer = %m.from, error = %e, "invalid proposal ignored");
                        None
                    }
                }
            }
            Wire::Vote(v) => Some(Input::Vote(v)),
            Wire::Polka(c) => Some(Input::PolkaCertificate(c)),
            Wire::Round(c) => Some(Input::RoundCertificate(c)),
            _ => None,
        }
    }
}

fn msg_height(w: &Wire) -> Option<u64> {
    match w {
        Wire::Proposal(p) => Some(p.message.height.0),
        Wire::Vote(v) => Some(v.message.height.0),
        Wire::Polka(c) => Some(c.height.0),
        Wire::Round(c) => Some(c.height.0),
        _ => None,
    }
}

struct Handler<'a> {
    node: &'a Node,
    chain_id: u64,
    vs: &'a ValidatorSet,
    me: ValidatorId,
    key: &'a ed25519_dalek::SigningKey,
    p2p: &'a P2p,
    byzantine: Byzantine,
    timeouts: RoundTimeouts,
}

impl Handler<'_> {
    fn handle(&self, io: &mut Io, effect: Effect<Ctx>) -> Result<mc::Resume<Ctx>, NodeError> {
        use mt::Timeouts as _;
        Ok(match effect {
            Effect::CancelAllTimeouts(r) => {
                io.timers.clear();
                r.resume_with(())
            }
            Effect::CancelTimeout(t, r) => {
                io.timers.retain(|_, v| *v != t);
                r.resume_with(())
            }
            Effect::ScheduleTimeout(t, r) => {
                io.timer_seq += 1;
                let at = Instant::now() + self.timeouts.duration_for(t);
                io.timers.insert((at, io.timer_seq), t);
                r.resume_with(())
            }
            Effect::StartRound(h, round, proposer, _, r) => {
                tracing::debug!(height = h.0, round = round.as_i64(), %proposer, "round started");
                self.node
                    .metrics
                    .consensus_round
                    .store(round.as_i64().max(0) as u64, Ordering::Relaxed);
                r.resume_with(())
            }
            Effect::PublishConsensusMsg(msg, r) => {
                match msg {
                    SignedConsensusMsg::Vote(v) => {
                        self.publish_vote(&v);
                    }
                    SignedConsensusMsg::Proposal(p) => {
                        self.p2p.send(Target::All, &Wire::Proposal(p));
                    }
                }
                r.resume_with(())
            }
            Effect::PublishLivenessMsg(msg, r) => {
                match msg {
                    LivenessMsg::Vote(v) => self.p2p.send(Target::All, &Wire::Vote(v)),
                    LivenessMsg::PolkaCertificate(c) => self.p2p.send(Target::All, &Wire::Polka(c)),
                    LivenessMsg::SkipRoundCertificate(c) => {
                        self.p2p.send(Target::All, &Wire::Round(c))
                    }
                }
                r.resume_with(())
            }
            Effect::RepublishVote(v, r) => {
                self.p2p.send(Target::All, &Wire::Vote(v));
                r.resume_with(())
            }
            Effect::RepublishRoundCertificate(c, r) => {
                self.p2p.send(Target::All, &Wire::Round(c));
                r.resume_with(())
            }
            Effect::GetValue(h, round, _, r) => {
                io.want_value = Some((h, round));
                r.resume_with(())
            }
            Effect::RestreamProposal(h, round, _, _, _, r) => {
                if let Some(p) = io.own_proposals.get(&(h.0, round.as_i64())) {
                    self.p2p.send(Target::All, &Wire::Proposal(p.clone()));
                }
                r.resume_with(())
            }
            Effect::CertVerifiedSyncValue(_, _, r) | Effect::CertRejectedSyncValue(_, _, _, r) => {
                r.resume_with(())
            }
            Effect::Decide(cert, _, r) => {
                match io.values.get(&cert.value_id) {
                    Some(v) => {
                        if let Err(e) = self.node.commit_decided(v, &cert) {
                            tracing::error!(height = cert.height.0, error = %e, "committing a decided block failed");
                        }
                    }
                    None => tracing::warn!(
                        height = cert.height.0,
                        "decided a block we do not hold; block sync will fetch it"
                    ),
                }
                r.resume_with(())
            }
            Effect::Finalize(cert, _, evidence, r) => {
                if !evidence.is_empty() {
                    let n =
                        (evidence.proposals.iter().count() + evidence.votes.iter().count()) as u64;
                    self.node
                        .metrics
                        .equivocations
                        .fetch_add(n.max(1), Ordering::Relaxed);
                    tracing::warn!(height = cert.height.0, ?evidence, "equivocation evidence");
                }
                if self.node.head().committed >= cert.height.0 {
                    io.finalized = Some(cert.height.0);
                }
                r.resume_with(())
            }
            Effect::SignVote(v, r) => {
                let v = self.node.guard_vote(v)?;
                let sig = sign(self.key, &vote_sign_bytes(self.chain_id, &v));
                r.resume_with(SignedMessage::new(v, sig))
            }
            Effect::SignProposal(p, r) => {
                let sig = sign(self.key, &proposal_sign_bytes(self.chain_id, &p));
                let signed = SignedMessage::new(p, sig);
                io.own_proposals.insert(
                    (signed.message.height.0, signed.message.round.as_i64()),
                    signed.clone(),
                );
                r.resume_with(signed)
            }
            Effect::VerifySignature(msg, key, r) => {
                let ok = match &msg.message {
                    mc::ConsensusMsg::Vote(v) => {
                        verify(&key, &vote_sign_bytes(self.chain_id, v), &msg.signature)
                    }
                    mc::ConsensusMsg::Proposal(p) => {
                        verify(&key, &proposal_sign_bytes(self.chain_id, p), &msg.signature)
                    }
                };
                r.resume_with(ok)
            }
            Effect::VerifyCommitCertificate(c, _, _, r) => {
                let res = verify_commit(self.chain_id, self.vs, &c).map_err(|_| self.rejected());
                r.resume_with(res)
            }
            Effect::VerifyExtendedCommitCertificate(_, _, _, _, r) => {
                r.resume_with(Err(mt::CertificateError::NotEnoughVotingPower {
                    signed: 0,
                    total: 0,
                    expected: 1,
                }))
            }
            Effect::VerifyPolkaCertificate(c, _, _, r) => {
                let ok = self.check_sigs(
                    c.polka_signatures.iter().map(|s| {
                        (
                            s.address,
                            mt::VoteType::Prevote,
                            mt::NilOrVal::Val(c.value_id),
                            s.signature,
                        )
                    }),
                    c.height,
                    c.round,
                );
                r.resume_with(ok.map_err(|_| self.rejected()))
            }
            Effect::VerifyRoundCertificate(c, _, _, r) => {
                let ok = self.check_sigs(
                    c.round_signatures
                        .iter()
                        .map(|s| (s.address, s.vote_type, s.value_id, s.signature)),
                    c.height,
                    c.round,
                );
                r.resume_with(ok.map_err(|_| self.rejected()))
            }
            Effect::WalAppend(_, _, r) => r.resume_with(()),
            Effect::ExtendVote(_, _, _, _, r) => r.resume_with(None),
            Effect::VerifyVoteExtension(_, _, _, _, _, _, r) => r.resume_with(Ok(())),
        })
    }

    /// How a certificate that fails our checks is reported to the driver (malachite has no
    /// "bad signature" variant; the certificate counts as carrying no voting power).
    fn rejected(&self) -> mt::CertificateError<Ctx> {
        mt::CertificateError::NotEnoughVotingPower {
            signed: 0,
            total: self.vs.total_voting_power(),
            expected: 0,
        }
    }

    /// Every signature in a certificate is a valid vote of a distinct known validator.
    fn check_sigs(
        &self,
        sigs: impl Iterator<
            Item = (
                ValidatorId,
                mt::VoteType,
                mt::NilOrVal<BlockHash>,
                super::types::Sig,
            ),
        >,
        height: Height,
        round: mt::Round,
    ) -> Result<(), ()> {
        let mut seen = std::collections::BTreeSet::new();
        for (address, kind, value, sig) in sigs {
            let v = self.vs.0.get(address.0 as usize).ok_or(())?;
            let vote = Vote {
                kind,
                height,
                round,
                value,
                validator: address,
            };
            if !verify(&v.key, &vote_sign_bytes(self.chain_id, &vote), &sig)
                || !seen.insert(address)
            {
                return Err(());
            }
        }
        Ok(())
    }

    fn publish_vote(&self, v: &SignedMessage<Ctx, Vote>) {
        if self.byzantine != Byzantine::Equivocate {
            self.p2p.send(Target::All, &Wire::Vote(v.clone()));
            return;
        }
        // Fault injection: the real vote to everyone, and a conflicting one (the other value)
        // to the upper half of the validators, which so see both.
        let mut other = v.message.clone();
        other.value = match other.value {
            mt::NilOrVal::Nil => mt::NilOrVal::Val(BlockHash([0xee; 32])),
            mt::NilOrVal::Val(_) => mt::NilOrVal::Nil,
        };
        let sig = sign(self.key, &vote_sign_bytes(self.chain_id, &other));
        let conflicting = SignedMessage::new(other, sig);
        self.p2p.send(Target::All, &Wire::Vote(v.clone()));
        for peer in (self.vs.count() / 2) as u16..self.vs.count() as u16 {
            if peer != self.me.0 {
                self.p2p.send(
                    Target::One(ValidatorId(peer)),
                    &Wire::Vote(conflicting.clone()),
                );
            }
        }
        self.p2p.send_raw(Target::All, vec![0xff, 0x00, 0x13, 0x37]);
    }
}
