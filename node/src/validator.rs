//! Validator mode: what the consensus driver asks of the node — build a proposal from the
//! mempool, check a peer's proposal, commit a decided block with its certificate, serve blocks
//! to syncing peers, refuse to sign conflicting votes — and its start-up.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use malachitebft_core_types as mt;
use rustorium_circuits::field::{from_bytes_le, to_bytes_le};
use rustorium_circuits::transfer::SignedTransfer;

use super::chain::{self, Block};
use super::{Node, NodeError, SubmitError};
use crate::consensus::codec::Wire;
use crate::consensus::engine::Engine;
use crate::consensus::store::{self as cstore, ConsensusStoreError};
use crate::consensus::types::{
    BlockHash, BlockValue, Ctx, Validator, ValidatorId, ValidatorSet, Vote, dev_validator_key,
};
use crate::consensus::{EngineConfig, Host};
use crate::net::peer::{P2p, P2pConfig, PeerId, Target};
use crate::state::{BlockPlan, StoreError, commit_plan, plan_block};
use std::collections::HashMap;

/// Checked block plans kept until commit (validator mode): a block is executed once, when it is
/// built or checked; committing the decided one reuses that plan instead of executing (and
/// verifying every signature of) the block again. Bounded: the proposals of one height.
#[derive(Default)]
pub(crate) struct KeptPlans(HashMap<BlockHash, BlockPlan>);

impl KeptPlans {
    const MAX: usize = 16;

    fn keep(&mut self, hash: BlockHash, plan: BlockPlan) {
        self.0.retain(|_, p| p.base_version == plan.base_version);
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(hash, plan);
    }

    fn take(&mut self, hash: &BlockHash, base_version: u64) -> Option<BlockPlan> {
        let plan = self
            .0
            .remove(hash)
            .filter(|p| p.base_version == base_version);
        self.0.clear();
        plan
    }
}

fn chain_err(e: impl std::fmt::Display) -> NodeError {
    NodeError::Chain(e.to_string())
}

impl Node {
    /// Whether the node is shutting down.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The genesis validator set.
    pub fn validator_set(&self) -> ValidatorSet {
        ValidatorSet(
            self.genesis
                .validators
                .iter()
                .enumerate()
                .map(|(i, (key, fee))| Validator {
                    id: ValidatorId(i as u16),
                    key: *key,
                    fee_account: *fee,
                })
                .collect(),
        )
    }

    /// Starts validator mode (transport + consensus thread) when `[consensus]` is configured.
    pub(super) fn start_validator(self: &Arc<Self>) -> Result<bool, NodeError> {
        let Some(c) = self.config.consensus.clone() else {
            return Ok(false);
        };
        let cfg_err = |m: String| NodeError::Config(format!("[consensus] {m}"));
        let vs = self.validator_set();
        if vs.0.is_empty() {
            return Err(cfg_err("the genesis has no [[validators]]".into()));
        }
        let me =
            vs.0.get(c.validator as usize)
                .ok_or_else(|| cfg_err(format!("validator {} is not in the genesis", c.validator)))?
                .clone();
        let key = match (c.dev_key, &c.key_file) {
            (Some(n), None) => dev_validator_key(n),
            (None, Some(p)) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| cfg_err(format!("{}: {e}", p.display())))?;
                let b: [u8; 32] = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| cfg_err(format!("{}: not 32 bytes of hex", p.display())))?;
                ed25519_dalek::SigningKey::from_bytes(&b)
            }
            _ => return Err(cfg_err("give exactly one of dev_key and key_file".into())),
        };
        if key.verifying_key() != me.key {
            return Err(cfg_err(format!(
                "the key does not belong to validator {}",
                c.validator
            )));
        }
        if c.byzantine != crate::consensus::Byzantine::None && !c.fault_injection {
            return Err(cfg_err("byzantine needs fault_injection = true".into()));
        }
        let parse = |a: &str| {
            a.parse::<std::net::SocketAddr>()
                .map_err(|e| cfg_err(format!("address {a}: {e}")))
        };
        if c.peers.len() != vs.0.len() {
            return Err(cfg_err(format!(
                "peers lists {} addresses for {} validators",
                c.peers.len(),
                vs.0.len()
            )));
        }
        let peers = c
            .peers
            .iter()
            .enumerate()
            .map(|(i, a)| Ok((PeerId(i as u16), parse(a)?)))
            .collect::<Result<Vec<_>, NodeError>>()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("validator-net")
            .enable_all()
            .build()
            .map_err(|e| cfg_err(e.to_string()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let p2p = P2p::start(
            rt.handle(),
            P2pConfig {
                me: PeerId(me.id.0),
                key: key.clone(),
                validators: vs.0.iter().map(|v| v.key).collect(),
                chain_id: self.genesis.chain_id,
                listen: parse(&c.listen)?,
                peers,
                max_message: crate::consensus::codec::MAX_MESSAGE,
                malformed: self.metrics.peer_malformed.clone(),
            },
            tx,
        )
        .map_err(|e| cfg_err(e.to_string()))?;
        self.metrics.peer_malformed.store(0, Ordering::Relaxed);
        let _ = self.p2p.set(p2p.clone());
        *self.runtime.lock().unwrap_or_else(|e| e.into_inner()) = Some(rt);
        let engine = Engine {
            chain_id: self.genesis.chain_id,
            validators: vs,
            me: me.id,
            key,
            p2p,
            config: EngineConfig {
                propose_timeout: std::time::Duration::from_millis(c.propose_timeout_ms.max(10)),
                vote_timeout: std::time::Duration::from_millis(c.vote_timeout_ms.max(10)),
                byzantine: c.byzantine,
            },
        };
        let node = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("consensus".into())
            .spawn(move || engine.run(node, Node::stopping, rx))
            .map_err(|e| cfg_err(e.to_string()))?;
        tracing::info!(validator = c.validator, "validator mode: consensus started");
        Ok(true)
    }

    /// The validator transport, in validator mode.
    pub fn p2p(&self) -> Option<&P2p> {
        self.p2p.get()
    }

    /// Sends an accepted transfer to the other validators.
    pub(super) fn gossip(&self, tx: &SignedTransfer) {
        if let (Some(p), Some(bytes)) = (self.p2p.get(), tx.encode()) {
            p.send(Target::All, Wire::Tx(bytes).encode());
        }
    }

    /// Admits a transfer another validator gossiped (not gossiped again).
    pub fn submit_gossiped(&self, bytes: &[u8]) -> Result<(), SubmitError> {
        let tx = SignedTransfer::decode(bytes)?;
        self.admit(tx)
    }

    fn decode_txs(v: &BlockValue) -> Result<Vec<SignedTransfer>, NodeError> {
        v.txs
            .iter()
            .map(|b| SignedTransfer::decode(b).map_err(chain_err))
            .collect()
    }

    /// A block for `height` from the mempool on the committed state: every transfer applies, the
    /// post-execution root included. `None` when nothing applicable is pending.
    pub fn build_proposal_value(
        &self,
        height: u64,
        fee_account: u64,
    ) -> Result<Option<BlockValue>, NodeError> {
        let reader = self.store.reader()?;
        let base = reader.latest_version()?.unwrap_or(0);
        if base + 1 != height {
            return Ok(None);
        }
        let mut txs = {
            let mut pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            pool.select(self.config.capacity, |s| {
                reader.account(s, base).ok().flatten().map(|a| a.nonce)
            })
        };
        drop(reader);
        let mut plan = plan_block(&self.store, base, &txs, fee_account, false)?;
        if !plan.rejected.is_empty() {
            let bad: Vec<usize> = plan.rejected.iter().map(|(i, _)| *i).collect();
            let dropped: Vec<SignedTransfer> = bad.iter().map(|i| txs[*i].clone()).collect();
            txs = txs
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !bad.contains(i))
                .map(|(_, t)| t)
                .collect();
            let mut pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            pool.remove_committed(&dropped);
            drop(pool);
            plan = plan_block(&self.store, base, &txs, fee_account, false)?;
        }
        if txs.is_empty() || !plan.rejected.is_empty() {
            return Ok(None);
        }
        let root = self.store.root_after(base, &plan.changes)?;
        let value = BlockValue {
            height,
            timestamp_ms: super::now_ms(),
            producer: fee_account,
            parent_root: to_bytes_le(&plan.old_root),
            state_root: to_bytes_le(&root),
            txs: txs.iter().filter_map(|t| t.encode()).collect(),
        };
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keep(value.hash(), plan);
        Ok(Some(value))
    }

    /// Checks a proposed block against the committed state: right height and parent root, at
    /// most `capacity` decodable transfers that all apply, and the stated post-execution root.
    pub fn check_proposal_value(&self, height: u64, v: &BlockValue) -> Result<(), NodeError> {
        let reader = self.store.reader()?;
        let base = reader.latest_version()?.unwrap_or(0);
        if v.height != height || base + 1 != height {
            return Err(chain_err(format!("block {} at height {height}", v.height)));
        }
        if from_bytes_le::<rustorium_circuits::Fr>(&v.parent_root).ok() != Some(reader.root(base)?)
        {
            return Err(chain_err("parent root differs from ours"));
        }
        drop(reader);
        if v.txs.is_empty() || v.txs.len() > self.config.capacity {
            return Err(chain_err(format!("{} transfers", v.txs.len())));
        }
        let txs = Self::decode_txs(v)?;
        let plan = plan_block(&self.store, base, &txs, v.producer, false)?;
        if !plan.rejected.is_empty() {
            return Err(chain_err("a transfer does not apply"));
        }
        if to_bytes_le(&self.store.root_after(base, &plan.changes)?) != v.state_root {
            return Err(chain_err("state root differs from execution"));
        }
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keep(v.hash(), plan);
        Ok(())
    }

    /// Commits a decided block (with its commit certificate, for sync) in one transaction; a
    /// block already committed at that height with the same hash is a no-op.
    pub fn commit_decided(
        &self,
        v: &BlockValue,
        cert: &mt::CommitCertificate<Ctx>,
    ) -> Result<(), NodeError> {
        let committed = self.store.reader()?.latest_version()?.unwrap_or(0);
        if v.height <= committed {
            return match self.synced_block(v.height)? {
                Some((ours, _)) if ours.hash() == v.hash() => Ok(()),
                _ => Err(chain_err(format!(
                    "height {} is committed with another block",
                    v.height
                ))),
            };
        }
        if v.height != committed + 1 {
            return Err(chain_err(format!(
                "block {} is not next after {committed}",
                v.height
            )));
        }
        let txs = Self::decode_txs(v)?;
        let chain_id = self.genesis.chain_id;
        let mut block = None;
        // The plan checked when the block was built or proposed to us, if we hold it; a block
        // that reached us only by sync (or after a restart) is planned here.
        let kept = self
            .plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&v.hash(), committed);
        let plan = match kept {
            Some(plan) => {
                self.metrics.plans_reused.fetch_add(1, Ordering::Relaxed);
                plan
            }
            None => {
                self.metrics.plans_replanned.fetch_add(1, Ordering::Relaxed);
                plan_block(&self.store, committed, &txs, v.producer, false)?
            }
        };
        let executed = commit_plan(&self.store, plan, |txn, plan, root| {
            if !plan.rejected.is_empty() || to_bytes_le(&root) != v.state_root {
                return Err(StoreError::Corrupt(
                    "decided block does not execute to its root".into(),
                ));
            }
            let b = Block::from_plan(
                v.height,
                v.timestamp_ms,
                v.producer,
                chain_id,
                plan,
                &txs,
                root,
            );
            chain::put_block(txn, &b)?;
            crate::intake::forget_in(txn, &txs)?;
            cstore::record_decided(txn, v, cert).map_err(|e| match e {
                ConsensusStoreError::Db(e) => StoreError::Db(e),
                e => StoreError::Corrupt(e.to_string()),
            })?;
            block = Some(b);
            Ok(())
        })?;
        let block = block.ok_or_else(|| chain_err("block record not written"))?;
        self.after_commit(&block, &txs, &executed);
        Ok(())
    }

    /// A decided block and its certificate, as sync serves it.
    pub fn synced_block(
        &self,
        height: u64,
    ) -> Result<Option<(BlockValue, mt::CommitCertificate<Ctx>)>, NodeError> {
        cstore::decided(self.store.database(), height).map_err(chain_err)
    }
}

/// Consensus reaches the node through this: values from the mempool on the committed state,
/// commits with certificates, the double-sign guard on the node's database.
impl Host for Node {
    type Error = NodeError;

    fn committed_height(&self) -> u64 {
        self.head().committed
    }

    fn has_pending(&self) -> bool {
        self.mempool_len() > 0
    }

    fn build_value(&self, height: u64, fee_account: u64) -> Result<Option<BlockValue>, NodeError> {
        self.build_proposal_value(height, fee_account)
    }

    fn check_value(&self, height: u64, value: &BlockValue) -> Result<(), NodeError> {
        self.check_proposal_value(height, value)
    }

    fn commit(
        &self,
        value: &BlockValue,
        cert: &mt::CommitCertificate<Ctx>,
    ) -> Result<(), NodeError> {
        self.commit_decided(value, cert)
    }

    fn decided(
        &self,
        height: u64,
    ) -> Result<Option<(BlockValue, mt::CommitCertificate<Ctx>)>, NodeError> {
        self.synced_block(height)
    }

    fn guard_vote(&self, vote: Vote) -> Result<Vote, NodeError> {
        cstore::guard_vote(self.store.database(), vote).map_err(chain_err)
    }

    fn gossiped(&self, tx: &[u8]) {
        let _ = self.submit_gossiped(tx);
    }

    fn round_started(&self, _height: u64, round: u32) {
        self.metrics
            .consensus_round
            .store(u64::from(round), Ordering::Relaxed);
    }

    fn equivocation(&self, _height: u64, count: u64) {
        self.metrics
            .equivocations
            .fetch_add(count, Ordering::Relaxed);
    }
}
