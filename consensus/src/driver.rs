//! The consensus driver, sans IO (in the manner of `quinn-proto`): it owns malachite's Tendermint
//! state machine (`malachitebft_core_consensus::State`) and turns inputs — a peer's message, the
//! passing of time — into actions: messages to send ([`Driver::poll_transmit`]) and the next
//! instant it wants to be woken at ([`Driver::poll_timeout`]). It never reads a clock, opens a
//! socket or spawns a thread: the time is passed in, so the same inputs give the same actions,
//! which is what the deterministic simulation tests (`tests/sim.rs`) rely on. The
//! application — execution, storage, the double-sign guard's records — is reached through
//! [`Host`], which the node implements; the IO loop around it is `crate::engine`.
//!
//! What the driver adds around the algorithm:
//! - **Values**: the proposer asks its host for a block (all transfers applicable, the
//!   post-execution root included); a peer's proposal is fed to consensus only when the host
//!   accepts it (malachite treats a whole-block proposal as valid once fed). No empty blocks: a
//!   proposer whose host has nothing pending waits and asks again on the next tick.
//! - **Decide**: the decided block goes to [`Host::commit`] with its commit certificate.
//! - **Double-sign guard** instead of malachite's write-ahead log: every vote passes
//!   [`Host::guard_vote`] before it is signed (the node persists it: `crate::store`).
//! - **Sync**: the driver announces its committed height every [`STATUS_INTERVAL`]; one that is
//!   behind asks a peer ahead of it for blocks with commit certificates, checks each certificate
//!   (≥ 2f + 1 valid precommits) and hands the block to [`Host::commit`], which re-executes it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use malachitebft_core_consensus::{
    self as mc, Effect, Input, LivenessMsg, Params, Resumable, SignedConsensusMsg,
};
use malachitebft_core_types::{self as mt, SignedMessage, ValidatorSet as _};

use super::codec::Wire;
use super::types::{
    BlockHash, BlockValue, Ctx, Height, Sig, ValidatorId, ValidatorSet, Vote, proposal_sign_bytes,
    sign, verify, verify_commit, vote_sign_bytes,
};

/// How often the committed height is announced to peers.
pub const STATUS_INTERVAL: Duration = Duration::from_millis(500);
/// The least time between two sync requests.
pub const SYNC_RETRY: Duration = Duration::from_millis(300);
/// How often a proposer with nothing to propose asks its host again.
pub const VALUE_RETRY: Duration = Duration::from_millis(50);
/// Blocks sent per sync request.
pub const SYNC_BATCH: u64 = 64;
/// Proposals and votes held for heights ahead of ours (at most [`SYNC_BATCH`] heights ahead).
pub const MAX_FUTURE: usize = 4096;

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

/// What consensus needs of the application. The node implements it on its store and mempool;
/// the simulation tests on an in-memory chain. Every method is called from the driver's thread.
pub trait Host {
    /// Why the host could not do what was asked (logged; consensus carries on).
    type Error: std::fmt::Display;

    /// The highest committed height (0 before the first block).
    fn committed_height(&self) -> u64;

    /// Whether anything is pending that a proposal could carry.
    fn has_pending(&self) -> bool;

    /// A block for `height` on the committed state, crediting fees to `fee_account`; `None` when
    /// nothing applicable is pending.
    fn build_value(&self, height: u64, fee_account: u64)
    -> Result<Option<BlockValue>, Self::Error>;

    /// Accepts a peer's proposed block for `height` only if it executes, on the committed
    /// state, to its stated root.
    fn check_value(&self, height: u64, value: &BlockValue) -> Result<(), Self::Error>;

    /// Commits a decided (or synced, certificate already checked) block with its commit
    /// certificate; a block already committed at its height with the same hash is a no-op.
    fn commit(
        &self,
        value: &BlockValue,
        cert: &mt::CommitCertificate<Ctx>,
    ) -> Result<(), Self::Error>;

    /// A committed block and its certificate, as sync serves it.
    #[allow(clippy::type_complexity)]
    fn decided(
        &self,
        height: u64,
    ) -> Result<Option<(BlockValue, mt::CommitCertificate<Ctx>)>, Self::Error>;

    /// The double-sign guard: records `vote` durably before it is signed, or returns the vote
    /// recorded earlier at the same (height, round, type) if that one differs.
    fn guard_vote(&self, vote: Vote) -> Result<Vote, Self::Error>;

    /// A transfer another validator gossiped.
    fn gossiped(&self, tx: &[u8]);

    /// A round started (for metrics).
    fn round_started(&self, _height: u64, _round: u32) {}

    /// Equivocation evidence was found at `height` (`count` conflicting messages).
    fn equivocation(&self, _height: u64, _count: u64) {}
}

/// Where an outgoing message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every connected validator.
    All,
    /// One validator.
    One(ValidatorId),
}

/// A message the driver wants sent: encoded [`Wire`] bytes (or, under fault injection, garbage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// To whom.
    pub to: Target,
    /// The bytes.
    pub bytes: Vec<u8>,
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

/// What effects leave for the driver (they cannot feed inputs from inside `process!`).
#[derive(Default)]
struct Io {
    timers: BTreeMap<(Instant, u64), mt::Timeout>,
    timer_seq: u64,
    want_value: Option<(Height, mt::Round)>,
    values: HashMap<BlockHash, BlockValue>,
    own_proposals: HashMap<(u64, i64), SignedMessage<Ctx, super::types::Proposal>>,
    finalized: Option<u64>,
    out: VecDeque<Transmit>,
}

impl Io {
    fn send(&mut self, to: Target, msg: &Wire) {
        self.out.push_back(Transmit {
            to,
            bytes: msg.encode(),
        });
    }
}

/// One validator's consensus, without IO. See the module documentation.
pub struct Driver {
    ctx: Ctx,
    vs: ValidatorSet,
    me: ValidatorId,
    key: ed25519_dalek::SigningKey,
    cfg: EngineConfig,
    state: mc::State<Ctx>,
    height: u64,
    inputs: Vec<Input<Ctx>>,
    io: Io,
    /// Messages for heights we have not reached, fed when we get there.
    future: Vec<(ValidatorId, Wire)>,
    peer_heights: BTreeMap<u16, u64>,
    next_status: Instant,
    next_sync_request: Instant,
    next_value_try: Instant,
    /// malachite's per-height step metrics (fresh with each state machine).
    metrics: malachitebft_metrics::Metrics,
}

impl Driver {
    /// A driver for validator `me` (signing with `key`), starting at the height after the
    /// host's committed one, at time `now`.
    pub fn new<H: Host>(
        host: &H,
        now: Instant,
        chain_id: u64,
        vs: ValidatorSet,
        me: ValidatorId,
        key: ed25519_dalek::SigningKey,
        cfg: EngineConfig,
    ) -> Self {
        let ctx = Ctx { chain_id };
        let height = host.committed_height() + 1;
        let state = new_state(&ctx, &vs, me, height);
        let mut d = Self {
            ctx,
            vs,
            me,
            key,
            cfg,
            state,
            height,
            inputs: Vec::new(),
            io: Io::default(),
            future: Vec::new(),
            peer_heights: BTreeMap::new(),
            next_status: now,
            next_sync_request: now,
            next_value_try: now,
            metrics: malachitebft_metrics::Metrics::default(),
        };
        d.inputs.push(d.start_input(height));
        d.step(host, now);
        d
    }

    /// The height consensus is working on.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// A message from an authenticated peer.
    pub fn handle_message<H: Host>(
        &mut self,
        host: &H,
        now: Instant,
        from: ValidatorId,
        msg: Wire,
    ) {
        self.on_message(host, from, msg);
        self.step(host, now);
    }

    /// The passing of time: fires due timers, announces status, requests sync, retries a
    /// proposal. Call it at [`Driver::poll_timeout`] (earlier is harmless).
    pub fn handle_timeout<H: Host>(&mut self, host: &H, now: Instant) {
        while let Some(entry) = self.io.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            self.inputs.insert(0, Input::TimeoutElapsed(entry.remove()));
        }
        if now >= self.next_status {
            self.next_status = now + STATUS_INTERVAL;
            self.io.send(
                Target::All,
                &Wire::Status {
                    committed: self.height - 1,
                },
            );
        }
        if now >= self.next_sync_request
            && let Some((&peer, _)) = self
                .peer_heights
                .iter()
                .filter(|(_, h)| **h >= self.height)
                .max_by_key(|(p, h)| (**h, std::cmp::Reverse(**p)))
        {
            self.next_sync_request = now + SYNC_RETRY;
            self.io.send(
                Target::One(ValidatorId(peer)),
                &Wire::SyncRequest { from: self.height },
            );
        }
        self.step(host, now);
    }

    /// The next instant the driver wants [`Driver::handle_timeout`] called.
    pub fn poll_timeout(&self) -> Instant {
        let mut at = self.next_status;
        if let Some((t, _)) = self.io.timers.keys().next() {
            at = at.min(*t);
        }
        if self.io.want_value.is_some_and(|(h, _)| h.0 == self.height) {
            at = at.min(self.next_value_try);
        }
        if self.peer_heights.values().any(|h| *h >= self.height) {
            at = at.min(self.next_sync_request);
        }
        at
    }

    /// The next message to send, in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.io.out.pop_front()
    }

    /// Runs queued inputs through the state machine, moves to the next height when this one is
    /// finalized or the host committed past it (sync), and proposes when asked to and able to.
    fn step<H: Host>(&mut self, host: &H, now: Instant) {
        loop {
            while let Some(input) = self.inputs.pop() {
                let handler = Handler {
                    host,
                    chain_id: self.ctx.chain_id,
                    vs: &self.vs,
                    me: self.me,
                    key: &self.key,
                    byzantine: self.cfg.byzantine,
                    timeouts: RoundTimeouts {
                        propose_ms: self.cfg.propose_timeout.as_millis() as u64,
                        vote_ms: self.cfg.vote_timeout.as_millis() as u64,
                    },
                    now,
                };
                let io = &mut self.io;
                let result: Result<(), mc::Error<Ctx>> = mc::process!(
                    input: input,
                    state: &mut self.state,
                    metrics: &self.metrics,
                    with: effect => handler.handle(io, effect)
                );
                if let Err(e) = result {
                    tracing::debug!(error = ?e, "consensus input refused");
                }
                if let Some(h) = self.io.finalized.take() {
                    self.advance(host, h + 1);
                }
            }
            let committed = host.committed_height();
            if committed >= self.height {
                self.advance(host, committed + 1);
                continue;
            }
            if let Some((h, r)) = self.io.want_value
                && h.0 == self.height
                && now >= self.next_value_try
            {
                self.next_value_try = now + VALUE_RETRY;
                if !host.has_pending() {
                    break;
                }
                match host.build_value(h.0, self.my_fee_account()) {
                    Ok(Some(value)) => {
                        self.io.want_value = None;
                        self.io.values.insert(value.hash(), value.clone());
                        self.inputs
                            .push(Input::Propose(mc::LocallyProposedValue::new(h, r, value)));
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "building a proposal failed"),
                }
            }
            break;
        }
    }

    /// Starts `next` with a fresh state machine; held messages for it go in after the start.
    fn advance<H: Host>(&mut self, host: &H, next: u64) {
        self.height = next;
        self.state = new_state(&self.ctx, &self.vs, self.me, next);
        self.metrics = malachitebft_metrics::Metrics::default();
        self.io.values.clear();
        self.io.own_proposals.retain(|(h, _), _| *h >= next);
        self.io.want_value = None;
        self.io.timers.clear();
        self.inputs.clear();
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.future)
            .into_iter()
            .partition(|(_, m)| msg_height(m) == Some(next));
        self.future = later;
        for (from, m) in ready {
            if let Some(i) = self.input_for(host, from, m) {
                self.inputs.push(i);
            }
        }
        self.inputs.reverse();
        self.inputs.push(self.start_input(next)); // popped first
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

    /// A peer message: consensus inputs for this height; future ones held; sync served.
    fn on_message<H: Host>(&mut self, host: &H, from: ValidatorId, msg: Wire) {
        match msg {
            Wire::Status { committed } => {
                self.peer_heights.insert(from.0, committed);
            }
            Wire::SyncRequest { from: first } => {
                for h in first..first.saturating_add(SYNC_BATCH) {
                    match host.decided(h) {
                        Ok(Some((v, c))) => self.io.send(Target::One(from), &Wire::SyncBlock(v, c)),
                        _ => break,
                    }
                }
            }
            Wire::SyncBlock(v, c) => {
                let height = self.height;
                if v.height == height && c.height.0 == height && c.value_id == v.hash() {
                    match verify_commit(self.ctx.chain_id, &self.vs, &c) {
                        Ok(()) => {
                            if let Err(e) = host.commit(&v, &c) {
                                tracing::warn!(error = %e, "synced block refused");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(peer = %from, error = %e, "bad commit certificate")
                        }
                    }
                }
            }
            Wire::Tx(bytes) => host.gossiped(&bytes),
            msg => match msg_height(&msg) {
                Some(h) if h == self.height => {
                    if let Some(i) = self.input_for(host, from, msg) {
                        self.inputs.insert(0, i);
                    }
                }
                Some(h)
                    if h > self.height
                        && h < self.height + SYNC_BATCH
                        && self.future.len() < MAX_FUTURE =>
                {
                    self.future.push((from, msg));
                }
                _ => {}
            },
        }
    }

    fn input_for<H: Host>(&mut self, host: &H, from: ValidatorId, msg: Wire) -> Option<Input<Ctx>> {
        match msg {
            Wire::Proposal(p) => {
                // Only the sender may relay its own proposal, and only a block that executes to
                // its stated root on our committed state is handed to consensus. A fresh
                // proposal credits its proposer's fee account. A re-proposal (`pol_round` set:
                // Tendermint's valid value, proposed again in a later round) keeps the block as
                // first proposed, crediting that round's proposer; malachite accepts it only
                // with a polka for it in `pol_round`, which honest validators gave only to a
                // block that passed this check when it was fresh. So a re-proposal must credit
                // some validator, not necessarily the sender.
                let proposer = self.vs.0.get(p.message.proposer.0 as usize)?;
                let producer = p.message.value.producer;
                let credits_ok = if p.message.pol_round.is_defined() {
                    self.vs.0.iter().any(|v| v.fee_account == producer)
                } else {
                    producer == proposer.fee_account
                };
                if p.message.proposer != from || !credits_ok {
                    return None;
                }
                match host.check_value(self.height, &p.message.value) {
                    Ok(()) => {
                        self.io
                            .values
                            .insert(p.message.value.hash(), p.message.value.clone());
                        Some(Input::Proposal(p))
                    }
                    Err(e) => {
                        tracing::warn!(peer = %from, error = %e, "invalid proposal ignored");
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

fn new_state(ctx: &Ctx, vs: &ValidatorSet, me: ValidatorId, height: u64) -> mc::State<Ctx> {
    mc::State::new(
        ctx.clone(),
        Height(height),
        vs.clone(),
        Params {
            address: me,
            threshold_params: Default::default(),
            value_payload: mt::ValuePayload::ProposalOnly,
            enabled: true,
        },
        1024,
        256,
    )
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

/// Why an effect could not be carried out (stops the input that caused it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HostFailed(String);

struct Handler<'a, H> {
    host: &'a H,
    chain_id: u64,
    vs: &'a ValidatorSet,
    me: ValidatorId,
    key: &'a ed25519_dalek::SigningKey,
    byzantine: Byzantine,
    timeouts: RoundTimeouts,
    now: Instant,
}

impl<H: Host> Handler<'_, H> {
    fn handle(&self, io: &mut Io, effect: Effect<Ctx>) -> Result<mc::Resume<Ctx>, HostFailed> {
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
                let at = self.now + self.timeouts.duration_for(t);
                io.timers.insert((at, io.timer_seq), t);
                r.resume_with(())
            }
            Effect::StartRound(h, round, proposer, _, r) => {
                tracing::debug!(height = h.0, round = round.as_i64(), %proposer, "round started");
                self.host
                    .round_started(h.0, round.as_u32().unwrap_or_default());
                r.resume_with(())
            }
            Effect::PublishConsensusMsg(msg, r) => {
                match msg {
                    SignedConsensusMsg::Vote(v) => self.publish_vote(io, &v),
                    SignedConsensusMsg::Proposal(p) => io.send(Target::All, &Wire::Proposal(p)),
                }
                r.resume_with(())
            }
            Effect::PublishLivenessMsg(msg, r) => {
                match msg {
                    LivenessMsg::Vote(v) => io.send(Target::All, &Wire::Vote(v)),
                    LivenessMsg::PolkaCertificate(c) => io.send(Target::All, &Wire::Polka(c)),
                    LivenessMsg::SkipRoundCertificate(c) => io.send(Target::All, &Wire::Round(c)),
                }
                r.resume_with(())
            }
            Effect::RepublishVote(v, r) => {
                io.send(Target::All, &Wire::Vote(v));
                r.resume_with(())
            }
            Effect::RepublishRoundCertificate(c, r) => {
                io.send(Target::All, &Wire::Round(c));
                r.resume_with(())
            }
            Effect::GetValue(h, round, _, r) => {
                io.want_value = Some((h, round));
                r.resume_with(())
            }
            Effect::RestreamProposal(h, round, _, _, _, r) => {
                if let Some(p) = io.own_proposals.get(&(h.0, round.as_i64())).cloned() {
                    io.send(Target::All, &Wire::Proposal(p));
                }
                r.resume_with(())
            }
            Effect::CertVerifiedSyncValue(_, _, r) | Effect::CertRejectedSyncValue(_, _, _, r) => {
                r.resume_with(())
            }
            Effect::Decide(cert, _, r) => {
                match io.values.get(&cert.value_id) {
                    Some(v) => {
                        if let Err(e) = self.host.commit(v, &cert) {
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
                    self.host.equivocation(cert.height.0, n.max(1));
                    tracing::warn!(height = cert.height.0, ?evidence, "equivocation evidence");
                }
                if self.host.committed_height() >= cert.height.0 {
                    io.finalized = Some(cert.height.0);
                }
                r.resume_with(())
            }
            Effect::SignVote(v, r) => {
                let v = self
                    .host
                    .guard_vote(v)
                    .map_err(|e| HostFailed(e.to_string()))?;
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
        sigs: impl Iterator<Item = (ValidatorId, mt::VoteType, mt::NilOrVal<BlockHash>, Sig)>,
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

    fn publish_vote(&self, io: &mut Io, v: &SignedMessage<Ctx, Vote>) {
        io.send(Target::All, &Wire::Vote(v.clone()));
        if self.byzantine != Byzantine::Equivocate {
            return;
        }
        // Fault injection: besides the real vote to everyone, a conflicting one (the other
        // value) to the upper half of the validators, which so see both, and garbage.
        let mut other = v.message.clone();
        other.value = match other.value {
            mt::NilOrVal::Nil => mt::NilOrVal::Val(BlockHash([0xee; 32])),
            mt::NilOrVal::Val(_) => mt::NilOrVal::Nil,
        };
        let sig = sign(self.key, &vote_sign_bytes(self.chain_id, &other));
        let conflicting = Wire::Vote(SignedMessage::new(other, sig));
        for peer in (self.vs.count() / 2) as u16..self.vs.count() as u16 {
            if peer != self.me.0 {
                io.send(Target::One(ValidatorId(peer)), &conflicting);
            }
        }
        io.out.push_back(Transmit {
            to: Target::All,
            bytes: vec![0xff, 0x00, 0x13, 0x37],
        });
    }
}
