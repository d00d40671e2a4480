//! Block execution: apply signed transfers in order, credit the fees to the producer, commit the
//! resulting leaves as the next version, and (optionally) record the witness the prover needs.
//!
//! Rules, checked in this order for each transfer; a transfer that fails any of them is rejected
//! with a [`TxError`] and changes nothing:
//! 1. `chain_id` equals the store's;
//! 2. the sender index holds an account;
//! 3. the signature verifies against the sender's key;
//! 4. `nonce` equals the sender's nonce (so a replay fails here);
//! 5. `amount + fee` fits in u64 and is at most the sender's balance;
//! 6. the recipient index holds an account, or the new key is a valid subgroup point not already in
//!    the tree, the transfer pays the protocol's account-creation minimums (amount at least
//!    `NEW_ACCOUNT_MIN_AMOUNT`, fee at least `NEW_ACCOUNT_MIN_FEE`; the block circuit enforces the
//!    same) and a free index remains;
//! 7. the recipient's balance plus `amount` fits in u64;
//! 8. the producer's balance plus the block's fees so far plus this fee fits in u64 (so the fee
//!    credit at the end of the block can never overflow).
//!
//! The sender's leaf is updated first (balance − amount − fee, nonce + 1), then the recipient's
//! (balance + amount; a new key gets the next free index with nonce 0). After all transfers the
//! producer's balance grows by the fee total, once.

use std::collections::{BTreeMap, HashMap};

use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::eddsa::{PublicKey, SignatureError};
use rustorium_circuits::field::to_decimal;
use rustorium_circuits::poseidon;
use rustorium_circuits::transfer::{Recipient, SignedTransfer};
use rustorium_circuits::witness::{BlockWitness, LeafUpdate, TransferWitness};
use thiserror::Error;

use super::{StateReader, StateStore, StoreError};

/// Why a transfer was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    /// The transfer names another chain.
    #[error("wrong chain id: expected {expected}, got {got}")]
    WrongChain {
        /// This chain.
        expected: u64,
        /// The transfer's.
        got: u64,
    },
    /// No account at the sender index.
    #[error("unknown sender {0}")]
    UnknownSender(u64),
    /// No account at the recipient index.
    #[error("unknown recipient {0}")]
    UnknownRecipient(u64),
    /// The signature does not verify against the sender's key.
    #[error("bad signature: {0}")]
    BadSignature(SignatureError),
    /// The nonce is not the sender's current nonce (a replay, or a gap).
    #[error("bad nonce: expected {expected}, got {got}")]
    BadNonce {
        /// The sender's nonce.
        expected: u64,
        /// The transfer's.
        got: u64,
    },
    /// The sender cannot pay amount + fee.
    #[error("insufficient balance: have {balance}, need {needed}")]
    InsufficientBalance {
        /// Sender's balance.
        balance: u64,
        /// Amount + fee.
        needed: u128,
    },
    /// A balance or the sum amount + fee would exceed 2^64 − 1.
    #[error("balance overflow")]
    Overflow,
    /// The producer's balance plus the block's fees would exceed 2^64 − 1.
    #[error("producer fee credit would overflow")]
    FeeOverflow,
    /// The new recipient key is not a valid key.
    #[error("invalid recipient key: {0}")]
    InvalidRecipientKey(SignatureError),
    /// The new recipient key already has an account.
    #[error("recipient key already has account {0}")]
    RecipientKeyExists(u64),
    /// No free leaf remains.
    #[error("state tree is full")]
    TreeFull,
    /// A transfer to a new key pays less than the protocol's account-creation minimums.
    #[error(
        "creating an account needs amount >= {} and fee >= {}, got amount {amount} fee {fee}",
        rustorium_circuits::transfer::NEW_ACCOUNT_MIN_AMOUNT,
        rustorium_circuits::transfer::NEW_ACCOUNT_MIN_FEE
    )]
    NewAccountMinimum {
        /// The transfer's amount.
        amount: u64,
        /// The transfer's fee.
        fee: u64,
    },
}

impl TxError {
    /// A short stable label (metrics, API).
    pub fn reason(&self) -> &'static str {
        match self {
            TxError::WrongChain { .. } => "wrong_chain",
            TxError::UnknownSender(_) => "unknown_sender",
            TxError::UnknownRecipient(_) => "unknown_recipient",
            TxError::BadSignature(_) => "bad_signature",
            TxError::BadNonce { .. } => "bad_nonce",
            TxError::InsufficientBalance { .. } => "insufficient_balance",
            TxError::Overflow => "overflow",
            TxError::FeeOverflow => "fee_overflow",
            TxError::InvalidRecipientKey(_) => "invalid_recipient_key",
            TxError::RecipientKeyExists(_) => "recipient_key_exists",
            TxError::TreeFull => "tree_full",
            TxError::NewAccountMinimum { .. } => "new_account_minimum",
        }
    }
}

/// A transfer that was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedTransfer {
    /// The transfer.
    pub tx: SignedTransfer,
    /// The recipient's index (assigned here for a new key).
    pub to_index: u64,
}

/// The outcome of [`execute_block`].
#[derive(Clone, Debug)]
pub struct ExecutedBlock {
    /// The version committed.
    pub version: u64,
    /// Root before.
    pub old_root: Fr,
    /// Root after.
    pub new_root: Fr,
    /// Applied transfers, in order.
    pub applied: Vec<AppliedTransfer>,
    /// Rejected transfers: position in the input and reason.
    pub rejected: Vec<(usize, TxError)>,
    /// Fees credited to the producer.
    pub total_fees: u64,
    /// The prover's witness, when asked for.
    pub witness: Option<BlockWitness>,
}

/// Accounts and (for witnesses) tree nodes changed so far in the block, over a read snapshot.
struct Overlay<'r> {
    reader: &'r StateReader<'r>,
    version: u64,
    depth: usize,
    accounts: BTreeMap<u64, Account>,
    new_keys: HashMap<[u8; 32], u64>,
    next_index: u64,
    nodes: Option<HashMap<(usize, u64), Fr>>,
}

impl Overlay<'_> {
    fn account(&self, index: u64) -> Result<Option<Account>, StoreError> {
        match self.accounts.get(&index) {
            Some(a) => Ok(Some(*a)),
            None => self.reader.account(index, self.version),
        }
    }

    fn index_of(&self, key: &PublicKey) -> Result<Option<u64>, StoreError> {
        match self.new_keys.get(&key.pack()) {
            Some(i) => Ok(Some(*i)),
            None => self.reader.index_of_at(key, self.version),
        }
    }

    fn node(&self, level: usize, index: u64) -> Result<Fr, StoreError> {
        match self.nodes.as_ref().and_then(|n| n.get(&(level, index))) {
            Some(v) => Ok(*v),
            None => self.reader.node(level, index, self.version),
        }
    }

    /// Sets a leaf; with witnesses on, recomputes its path and returns the update.
    fn set(&mut self, index: u64, new: Account) -> Result<Option<LeafUpdate>, StoreError> {
        let old = self.account(index)?;
        self.accounts.insert(index, new);
        if self.nodes.is_none() {
            return Ok(None);
        }
        let siblings: Vec<Fr> = (0..self.depth)
            .map(|l| self.node(l, (index >> l) ^ 1))
            .collect::<Result<_, _>>()?;
        let nodes = self.nodes.as_mut().expect("checked above");
        let mut node = new.leaf();
        nodes.insert((0, index), node);
        for (l, sib) in siblings.iter().enumerate() {
            node = if (index >> l) & 1 == 1 {
                poseidon::hash2(*sib, node)
            } else {
                poseidon::hash2(node, *sib)
            };
            nodes.insert((l + 1, index >> (l + 1)), node);
        }
        Ok(Some(LeafUpdate {
            index,
            old,
            new,
            siblings,
        }))
    }
}

/// A block executed against a base version but not yet committed.
#[derive(Clone, Debug)]
pub struct BlockPlan {
    /// The version the block applies to.
    pub base_version: u64,
    /// Root of the base version.
    pub old_root: Fr,
    /// Applied transfers, in order.
    pub applied: Vec<AppliedTransfer>,
    /// Rejected transfers: position in the input and reason.
    pub rejected: Vec<(usize, TxError)>,
    /// Fees credited to the producer.
    pub total_fees: u64,
    /// Every changed account.
    pub changes: BTreeMap<u64, Account>,
    /// The prover's witness, when asked for.
    pub witness: Option<BlockWitness>,
}

/// Executes `txs` on top of version `base_version` (which must still be readable) with fees to
/// `producer`, without committing. Deterministic: the same inputs give the same plan, which is how
/// a restarted node rebuilds the witness of a block it committed but had not proven.
pub fn plan_block(
    store: &StateStore,
    base_version: u64,
    txs: &[SignedTransfer],
    producer: u64,
    with_witness: bool,
) -> Result<BlockPlan, StoreError> {
    let reader = store.reader()?;
    let version = base_version;
    let old_root = reader.root(version)?;
    let mut ov = Overlay {
        reader: &reader,
        version,
        depth: store.depth(),
        accounts: BTreeMap::new(),
        new_keys: HashMap::new(),
        next_index: reader.next_index(version)?,
        nodes: with_witness.then(HashMap::new),
    };
    if ov.account(producer)?.is_none() {
        return Err(StoreError::UnknownProducer(producer));
    }
    let rules = TransferRules {
        chain_id: store.chain_id(),
        depth: store.depth(),
    };
    let mut applied = Vec::new();
    let mut rejected = Vec::new();
    let mut witnesses = Vec::new();
    let mut total_fees: u64 = 0;
    for (i, stx) in txs.iter().enumerate() {
        match check(&ov, stx, rules, producer, total_fees)? {
            Err(e) => rejected.push((i, e)),
            Ok(plan) => {
                let sender = ov.set(stx.tx.from, plan.sender)?;
                if let Recipient::NewKey(k) = stx.tx.to {
                    ov.new_keys.insert(k.pack(), plan.to_index);
                    ov.next_index += 1;
                }
                let receiver = ov.set(plan.to_index, plan.receiver)?;
                if let (Some(sender), Some(receiver)) = (sender, receiver) {
                    witnesses.push(TransferWitness {
                        tx: stx.clone(),
                        sender,
                        receiver,
                    });
                }
                total_fees += stx.tx.fee;
                applied.push(AppliedTransfer {
                    tx: stx.clone(),
                    to_index: plan.to_index,
                });
            }
        }
    }
    let mut p = ov
        .account(producer)?
        .ok_or(StoreError::UnknownProducer(producer))?;
    p.balance = p
        .balance
        .checked_add(total_fees)
        .ok_or(StoreError::Corrupt(
            "fee credit overflow after check".into(),
        ))?;
    let fees = ov.set(producer, p)?;
    let witness = fees.map(|fees| BlockWitness {
        depth: store.depth(),
        chain_id: store.chain_id(),
        old_root,
        new_root: fees.new_root(),
        transfers: witnesses,
        fees,
    });
    Ok(BlockPlan {
        base_version,
        old_root,
        applied,
        rejected,
        total_fees,
        changes: std::mem::take(&mut ov.accounts),
        witness,
    })
}

/// Applies `txs` on top of the latest version with fees to `producer`, commits the result as the
/// next version, and returns what happened. With `with_witness`, every leaf update's path is
/// recorded and the witness's final root is checked against the committed root.
pub fn execute_block(
    store: &StateStore,
    txs: &[SignedTransfer],
    producer: u64,
    with_witness: bool,
) -> Result<ExecutedBlock, StoreError> {
    execute_block_with(store, txs, producer, with_witness, |_, _, _| Ok(()))
}

/// [`execute_block`], with `extra` writing further tables (the block and its receipts) in the
/// state's commit transaction, given the plan and the new root.
pub fn execute_block_with(
    store: &StateStore,
    txs: &[SignedTransfer],
    producer: u64,
    with_witness: bool,
    extra: impl FnOnce(&redb::WriteTransaction, &BlockPlan, Fr) -> Result<(), StoreError>,
) -> Result<ExecutedBlock, StoreError> {
    let version = store
        .reader()?
        .latest_version()?
        .ok_or(StoreError::UnknownVersion(0))?;
    let plan = plan_block(store, version, txs, producer, with_witness)?;
    commit_plan(store, plan, extra)
}

/// Commits a plan made on the latest version as the next version (with `extra` writing further
/// tables in the same transaction); with a witness, its final root is checked against the
/// committed root first.
pub fn commit_plan(
    store: &StateStore,
    plan: BlockPlan,
    extra: impl FnOnce(&redb::WriteTransaction, &BlockPlan, Fr) -> Result<(), StoreError>,
) -> Result<ExecutedBlock, StoreError> {
    let version = plan.base_version;
    if let Some(w) = &plan.witness {
        // Checked before committing: a mismatch is a bug and must not reach the store.
        let root = store.commit_with(version + 1, &plan.changes, |txn, root| {
            if w.new_root != root {
                return Err(StoreError::RootMismatch {
                    witness: to_decimal(&w.new_root),
                    committed: to_decimal(&root),
                });
            }
            extra(txn, &plan, root)
        })?;
        return Ok(ExecutedBlock::from_plan(plan, root));
    }
    let root = store.commit_with(version + 1, &plan.changes, |txn, root| {
        extra(txn, &plan, root)
    })?;
    Ok(ExecutedBlock::from_plan(plan, root))
}

impl ExecutedBlock {
    fn from_plan(plan: BlockPlan, new_root: Fr) -> Self {
        Self {
            version: plan.base_version + 1,
            old_root: plan.old_root,
            new_root,
            applied: plan.applied,
            rejected: plan.rejected,
            total_fees: plan.total_fees,
            witness: plan.witness,
        }
    }
}

/// How [`validate_transfer`] judges a transfer's nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceRule {
    /// Execution: the nonce must equal the sender's account nonce (rule 4).
    Exact,
    /// Admission: the nonce is not judged here; the mempool orders a sender's pending nonces and
    /// refuses stale ones and gaps, and execution applies rule 4 when the block is made.
    Deferred,
}

/// The state a transfer is checked against: accounts, the key index and the next free leaf.
/// Implemented by a committed version ([`Snapshot`]) for admission and by a block's overlay for
/// execution, so both apply the same rules through [`validate_transfer`].
pub trait AccountSource {
    /// The account at `index`, if any.
    fn account(&self, index: u64) -> Result<Option<Account>, StoreError>;
    /// The index holding `key`, if any.
    fn index_of(&self, key: &PublicKey) -> Result<Option<u64>, StoreError>;
    /// The index a new account would get.
    fn next_index(&self) -> Result<u64, StoreError>;
}

/// One committed version of the state, read as an [`AccountSource`].
pub struct Snapshot<'r> {
    reader: &'r StateReader<'r>,
    version: u64,
}

impl<'r> Snapshot<'r> {
    /// The state at `version` through `reader`.
    pub fn new(reader: &'r StateReader<'r>, version: u64) -> Self {
        Self { reader, version }
    }

    /// The version read.
    pub fn version(&self) -> u64 {
        self.version
    }
}

impl AccountSource for Snapshot<'_> {
    fn account(&self, index: u64) -> Result<Option<Account>, StoreError> {
        self.reader.account(index, self.version)
    }

    fn index_of(&self, key: &PublicKey) -> Result<Option<u64>, StoreError> {
        self.reader.index_of_at(key, self.version)
    }

    fn next_index(&self) -> Result<u64, StoreError> {
        self.reader.next_index(self.version)
    }
}

impl AccountSource for Overlay<'_> {
    fn account(&self, index: u64) -> Result<Option<Account>, StoreError> {
        Overlay::account(self, index)
    }

    fn index_of(&self, key: &PublicKey) -> Result<Option<u64>, StoreError> {
        Overlay::index_of(self, key)
    }

    fn next_index(&self) -> Result<u64, StoreError> {
        Ok(self.next_index)
    }
}

/// The chain-wide parameters a transfer is checked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferRules {
    /// The chain's id (rule 1).
    pub chain_id: u64,
    /// Depth of the account tree: `2^depth` leaves bound the number of accounts (rule 6).
    pub depth: usize,
}

impl TransferRules {
    fn leaves(&self) -> u64 {
        if self.depth >= 64 {
            u64::MAX
        } else {
            1u64 << self.depth
        }
    }
}

/// A transfer that passed rules 1–7: the leaves it would write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidTransfer {
    /// The sender's account before the transfer.
    pub sender_before: Account,
    /// The sender's account after it (balance − amount − fee, nonce + 1).
    pub sender: Account,
    /// The recipient's index (for a new key, the next free index).
    pub to_index: u64,
    /// The recipient's account after it.
    pub receiver: Account,
    /// `amount + fee`, taken from the sender.
    pub debit: u64,
}

/// Rules 1–7 of the module docs for one transfer against `src`: the one function both admission
/// (with [`NonceRule::Deferred`], on the latest committed version) and execution (with
/// [`NonceRule::Exact`], on the block's overlay) apply. The outer error is a store failure, the
/// inner one the transfer's rejection. Rule 8 depends on the block (its producer and the fees
/// before this transfer) and is checked by execution alone.
pub fn validate_transfer(
    src: &impl AccountSource,
    stx: &SignedTransfer,
    rules: TransferRules,
    nonce: NonceRule,
) -> Result<Result<ValidTransfer, TxError>, StoreError> {
    let tx = &stx.tx;
    if tx.chain_id != rules.chain_id {
        return Ok(Err(TxError::WrongChain {
            expected: rules.chain_id,
            got: tx.chain_id,
        }));
    }
    let Some(sender) = src.account(tx.from)? else {
        return Ok(Err(TxError::UnknownSender(tx.from)));
    };
    if let Err(e) = stx.verify(&sender.pubkey) {
        return Ok(Err(TxError::BadSignature(e)));
    }
    if nonce == NonceRule::Exact && tx.nonce != sender.nonce {
        return Ok(Err(TxError::BadNonce {
            expected: sender.nonce,
            got: tx.nonce,
        }));
    }
    let Some(debit) = tx.amount.checked_add(tx.fee) else {
        return Ok(Err(TxError::Overflow));
    };
    if sender.balance < debit {
        return Ok(Err(TxError::InsufficientBalance {
            balance: sender.balance,
            needed: u128::from(debit),
        }));
    }
    let Some(next_nonce) = sender.nonce.checked_add(1) else {
        return Ok(Err(TxError::Overflow));
    };
    let new_sender = Account {
        balance: sender.balance - debit,
        nonce: next_nonce,
        ..sender
    };
    let (to_index, receiver_before) = match tx.to {
        Recipient::Index(j) if j == tx.from => (j, new_sender),
        Recipient::Index(j) => match src.account(j)? {
            Some(a) => (j, a),
            None => return Ok(Err(TxError::UnknownRecipient(j))),
        },
        Recipient::NewKey(k) => {
            if let Err(e) = k.validate() {
                return Ok(Err(TxError::InvalidRecipientKey(e)));
            }
            if !tx.pays_for_new_account() {
                return Ok(Err(TxError::NewAccountMinimum {
                    amount: tx.amount,
                    fee: tx.fee,
                }));
            }
            if let Some(existing) = src.index_of(&k)? {
                return Ok(Err(TxError::RecipientKeyExists(existing)));
            }
            let next = src.next_index()?;
            if next >= rules.leaves() {
                return Ok(Err(TxError::TreeFull));
            }
            (next, Account::new(k, 0))
        }
    };
    let Some(credited) = receiver_before.balance.checked_add(tx.amount) else {
        return Ok(Err(TxError::Overflow));
    };
    Ok(Ok(ValidTransfer {
        sender_before: sender,
        sender: new_sender,
        to_index,
        receiver: Account {
            balance: credited,
            ..receiver_before
        },
        debit,
    }))
}

/// Execution's check of one transfer: [`validate_transfer`] on the block's overlay, then rule 8.
fn check(
    ov: &Overlay<'_>,
    stx: &SignedTransfer,
    rules: TransferRules,
    producer: u64,
    fees_so_far: u64,
) -> Result<Result<ValidTransfer, TxError>, StoreError> {
    let valid = match validate_transfer(ov, stx, rules, NonceRule::Exact)? {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let producer_balance = if producer == valid.to_index {
        valid.receiver.balance
    } else if producer == stx.tx.from {
        valid.sender.balance
    } else {
        ov.account(producer)?.map_or(0, |a| a.balance)
    };
    let pending = u128::from(fees_so_far) + u128::from(stx.tx.fee);
    if u128::from(producer_balance) + pending > u128::from(u64::MAX) {
        return Ok(Err(TxError::FeeOverflow));
    }
    Ok(Ok(valid))
}
