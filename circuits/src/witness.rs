//! What block execution hands to the prover: every leaf update with its Merkle path, in order.
//! `BlockWitness::check` re-derives every root natively; it is the reference the block circuit must
//! agree with.

use thiserror::Error;

use crate::Fr;
use crate::account::Account;
use crate::merkle::root_from_path;
use crate::transfer::{Recipient, SignedTransfer};

/// One leaf changing from `old` to `new` under fixed siblings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafUpdate {
    /// Leaf index.
    pub index: u64,
    /// Account before (`None`: empty leaf).
    pub old: Option<Account>,
    /// Account after.
    pub new: Account,
    /// Full sibling list, leaf level first.
    pub siblings: Vec<Fr>,
}

impl LeafUpdate {
    /// Root before the update.
    pub fn old_root(&self) -> Fr {
        root_from_path(
            self.old.map_or(Fr::from(0u64), |a| a.leaf()),
            self.index,
            &self.siblings,
        )
    }

    /// Root after the update.
    pub fn new_root(&self) -> Fr {
        root_from_path(self.new.leaf(), self.index, &self.siblings)
    }
}

/// One applied transfer: the sender's leaf update, then the receiver's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferWitness {
    /// The signed transfer.
    pub tx: SignedTransfer,
    /// Debit of amount + fee and nonce increment.
    pub sender: LeafUpdate,
    /// Credit of amount (fills an empty leaf for a new key).
    pub receiver: LeafUpdate,
}

/// A block's state transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockWitness {
    /// Tree depth.
    pub depth: usize,
    /// Chain id every transfer must carry.
    pub chain_id: u64,
    /// Root before the block.
    pub old_root: Fr,
    /// Root after the block.
    pub new_root: Fr,
    /// Applied transfers in order.
    pub transfers: Vec<TransferWitness>,
    /// Credit of the block's fees to the producer, after all transfers.
    pub fees: LeafUpdate,
}

/// Why a witness is inconsistent.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WitnessError {
    /// An update does not start from the root the previous one ended at.
    #[error("update {0} does not chain from the previous root")]
    Chain(usize),
    /// A transfer's effect on its leaves is not the transfer rule.
    #[error("transfer {0} does not follow the transfer rule: {1}")]
    Rule(usize, &'static str),
    /// The final root differs.
    #[error("final root differs")]
    FinalRoot,
}

impl BlockWitness {
    /// Checks natively what the circuit proves: updates chain from `old_root` to `new_root`, each
    /// transfer is signed, nonces increase by one, balances move by amount and fee without
    /// overflow, new keys fill empty leaves, and the fee total is credited to the producer.
    pub fn check(&self) -> Result<(), WitnessError> {
        let mut root = self.old_root;
        let mut fees: u64 = 0;
        for (i, t) in self.transfers.iter().enumerate() {
            let tx = &t.tx.tx;
            let rule = |m| WitnessError::Rule(i, m);
            let sender_old = t.sender.old.ok_or(rule("sender leaf is empty"))?;
            if tx.chain_id != self.chain_id {
                return Err(rule("chain id"));
            }
            if t.sender.index != tx.from {
                return Err(rule("sender index"));
            }
            t.tx.verify(&sender_old.pubkey)
                .map_err(|_| rule("signature"))?;
            if tx.nonce != sender_old.nonce || t.sender.new.nonce != sender_old.nonce + 1 {
                return Err(rule("nonce"));
            }
            let debit = tx
                .amount
                .checked_add(tx.fee)
                .ok_or(rule("amount + fee overflows"))?;
            let expected = sender_old
                .balance
                .checked_sub(debit)
                .ok_or(rule("insufficient balance"))?;
            if t.sender.new.balance != expected || t.sender.new.pubkey != sender_old.pubkey {
                return Err(rule("sender balance"));
            }
            if t.sender.old_root() != root {
                return Err(WitnessError::Chain(2 * i));
            }
            root = t.sender.new_root();
            match (tx.to, t.receiver.old) {
                (Recipient::Index(j), Some(old)) if j == t.receiver.index => {
                    let credited = old
                        .balance
                        .checked_add(tx.amount)
                        .ok_or(rule("receiver overflow"))?;
                    if t.receiver.new
                        != (Account {
                            balance: credited,
                            ..old
                        })
                    {
                        return Err(rule("receiver update"));
                    }
                }
                (Recipient::NewKey(k), None) => {
                    if !tx.pays_for_new_account() {
                        return Err(rule("new account minimums"));
                    }
                    if t.receiver.new != Account::new(k, tx.amount) {
                        return Err(rule("new account"));
                    }
                }
                _ => return Err(rule("receiver leaf")),
            }
            if t.receiver.old_root() != root {
                return Err(WitnessError::Chain(2 * i + 1));
            }
            root = t.receiver.new_root();
            fees = fees
                .checked_add(tx.fee)
                .ok_or(rule("fee total overflows"))?;
        }
        let producer = self.fees.old.ok_or(WitnessError::Rule(
            self.transfers.len(),
            "producer leaf is empty",
        ))?;
        let credited = producer
            .balance
            .checked_add(fees)
            .ok_or(WitnessError::Rule(
                self.transfers.len(),
                "producer overflow",
            ))?;
        if self.fees.new
            != (Account {
                balance: credited,
                ..producer
            })
        {
            return Err(WitnessError::Rule(self.transfers.len(), "fee credit"));
        }
        if self.fees.old_root() != root {
            return Err(WitnessError::Chain(2 * self.transfers.len()));
        }
        if self.fees.new_root() != self.new_root {
            return Err(WitnessError::FinalRoot);
        }
        Ok(())
    }
}
