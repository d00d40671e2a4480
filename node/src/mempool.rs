//! The mempool: pending transfers per sender, ordered by nonce.
//!
//! Rules (each a typed [`MempoolError`] when it refuses):
//! - a transfer whose nonce is below the sender's account nonce is stale;
//! - at most `max_per_sender` transfers per sender, nonces `account nonce ..` without limit on gaps
//!   but at most `max_nonce_gap` ahead of the account nonce;
//! - a transfer with the same `(sender, nonce)` as a pending one replaces it only if its fee is at
//!   least `replace_bump_percent` % higher (and strictly higher);
//! - when the pool holds `max_txs`, a new transfer evicts the cheapest transfer that is last in its
//!   sender's queue (evicting from the middle would strand the later nonces) if it pays more;
//!   otherwise it is refused.
//!
//! The pool also answers what admission needs to refuse transfers that could never all execute:
//! what a sender's pending transfers spend ([`Mempool::pending_spend_of`]) and which new keys
//! pending transfers create ([`Mempool::creates_key`], [`Mempool::pending_new_keys`]).
//!
//! Block selection takes, per sender, the run of consecutive nonces starting at the account nonce,
//! and interleaves senders by fee (highest first) while keeping each sender's nonce order.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use rustorium_circuits::transfer::{Recipient, SignedTransfer};
use thiserror::Error;

/// Limits of the pool.
#[derive(Clone, Copy, Debug)]
pub struct MempoolConfig {
    /// Transfers held at most.
    pub max_txs: usize,
    /// Transfers per sender at most.
    pub max_per_sender: usize,
    /// How far ahead of the account nonce a transfer may be.
    pub max_nonce_gap: u64,
    /// Fee increase (percent) a replacement must pay.
    pub replace_bump_percent: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 10_000,
            max_per_sender: 64,
            max_nonce_gap: 64,
            replace_bump_percent: 10,
        }
    }
}

/// Why the pool refused a transfer.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MempoolError {
    /// The nonce is below the sender's account nonce.
    #[error("stale nonce {got}: account nonce is {account}")]
    StaleNonce {
        /// Transfer nonce.
        got: u64,
        /// Account nonce.
        account: u64,
    },
    /// The nonce is too far ahead.
    #[error("nonce {got} is more than {gap} ahead of account nonce {account}")]
    NonceGap {
        /// Transfer nonce.
        got: u64,
        /// Account nonce.
        account: u64,
        /// Allowed gap.
        gap: u64,
    },
    /// The same transfer is already pending.
    #[error("already pending")]
    Duplicate,
    /// A replacement does not pay enough more.
    #[error("replacement fee {got} below required {required}")]
    Underpriced {
        /// Offered fee.
        got: u64,
        /// Required fee.
        required: u64,
    },
    /// The sender has too many pending transfers.
    #[error("sender has {0} pending transfers (limit)")]
    SenderFull(usize),
    /// The pool is full and the transfer does not pay more than the cheapest evictable one.
    #[error("mempool full")]
    Full,
    /// Another pending transfer already creates the account of this new key.
    #[error("another pending transfer already creates this key's account")]
    KeyPending,
}

impl MempoolError {
    /// A short stable label (metrics, API).
    pub fn reason(&self) -> &'static str {
        match self {
            MempoolError::StaleNonce { .. } => "stale_nonce",
            MempoolError::NonceGap { .. } => "nonce_gap",
            MempoolError::Duplicate => "duplicate",
            MempoolError::Underpriced { .. } => "underpriced",
            MempoolError::SenderFull(_) => "sender_full",
            MempoolError::Full => "mempool_full",
            MempoolError::KeyPending => "key_pending",
        }
    }
}

/// What an insertion did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admitted {
    /// Added.
    Added,
    /// Replaced a pending transfer with the same nonce.
    Replaced,
    /// Added after evicting this transfer (sender, nonce).
    Evicted(u64, u64),
}

/// Pending transfers.
#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    by_sender: HashMap<u64, BTreeMap<u64, SignedTransfer>>,
    len: usize,
    /// Deprioritized transfers (sender, nonce): selected only after every normal one.
    low: std::collections::HashSet<(u64, u64)>,
    /// Packed new keys that pending transfers create, with how many transfers create each.
    new_keys: HashMap<[u8; 32], usize>,
}

fn new_key_of(tx: &SignedTransfer) -> Option<[u8; 32]> {
    match tx.tx.to {
        Recipient::NewKey(k) => Some(k.pack()),
        Recipient::Index(_) => None,
    }
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: MempoolConfig) -> Self {
        Self {
            config,
            by_sender: HashMap::new(),
            len: 0,
            low: Default::default(),
            new_keys: HashMap::new(),
        }
    }

    fn track(&mut self, tx: &SignedTransfer) {
        if let Some(k) = new_key_of(tx) {
            *self.new_keys.entry(k).or_default() += 1;
        }
    }

    fn untrack(&mut self, tx: &SignedTransfer) {
        if let Some(k) = new_key_of(tx)
            && let Some(n) = self.new_keys.get_mut(&k)
        {
            *n -= 1;
            if *n == 0 {
                self.new_keys.remove(&k);
            }
        }
    }

    /// What `sender`'s pending transfers spend (amount + fee), leaving out the one with nonce
    /// `except` (a transfer that a new one would replace).
    pub fn pending_spend_of(&self, sender: u64, except: u64) -> u128 {
        self.by_sender.get(&sender).map_or(0, |q| {
            q.iter()
                .filter(|(n, _)| **n != except)
                .map(|(_, t)| u128::from(t.tx.amount) + u128::from(t.tx.fee))
                .sum()
        })
    }

    /// Whether a pending transfer other than `(sender, nonce)` creates the account of `key`
    /// (packed).
    pub fn creates_key(&self, key: &[u8; 32], sender: u64, nonce: u64) -> bool {
        let replaced = self
            .by_sender
            .get(&sender)
            .and_then(|q| q.get(&nonce))
            .and_then(new_key_of)
            .is_some_and(|k| k == *key);
        self.new_keys.get(key).copied().unwrap_or(0) > usize::from(replaced)
    }

    /// How many accounts pending transfers would create.
    pub fn pending_new_keys(&self) -> u64 {
        self.new_keys.len() as u64
    }

    /// Transfers held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts `tx`, whose sender's account nonce is `account_nonce`.
    pub fn insert(
        &mut self,
        tx: SignedTransfer,
        account_nonce: u64,
    ) -> Result<Admitted, MempoolError> {
        let (sender, nonce, fee) = (tx.tx.from, tx.tx.nonce, tx.tx.fee);
        if nonce < account_nonce {
            return Err(MempoolError::StaleNonce {
                got: nonce,
                account: account_nonce,
            });
        }
        if nonce - account_nonce > self.config.max_nonce_gap {
            return Err(MempoolError::NonceGap {
                got: nonce,
                account: account_nonce,
                gap: self.config.max_nonce_gap,
            });
        }
        if let Some(old) = self.by_sender.get(&sender).and_then(|q| q.get(&nonce)) {
            if *old == tx {
                return Err(MempoolError::Duplicate);
            }
            let required = old
                .tx
                .fee
                .saturating_mul(100 + self.config.replace_bump_percent)
                .div_ceil(100)
                .max(old.tx.fee.saturating_add(1));
            if fee < required {
                return Err(MempoolError::Underpriced { got: fee, required });
            }
            self.track(&tx);
            if let Some(old) = self.by_sender.entry(sender).or_default().insert(nonce, tx) {
                self.untrack(&old);
            }
            return Ok(Admitted::Replaced);
        }
        let queued = self.by_sender.get(&sender).map_or(0, BTreeMap::len);
        if queued >= self.config.max_per_sender {
            return Err(MempoolError::SenderFull(queued));
        }
        let mut outcome = Admitted::Added;
        if self.len >= self.config.max_txs {
            // The cheapest transfer that is last in its sender's queue.
            let victim = self
                .by_sender
                .iter()
                .filter_map(|(s, q)| q.last_key_value().map(|(n, t)| (t.tx.fee, *s, *n)))
                .min();
            match victim {
                Some((victim_fee, s, n)) if victim_fee < fee && s != sender => {
                    self.remove(s, n);
                    outcome = Admitted::Evicted(s, n);
                }
                _ => return Err(MempoolError::Full),
            }
        }
        self.track(&tx);
        self.by_sender.entry(sender).or_default().insert(nonce, tx);
        self.len += 1;
        Ok(outcome)
    }

    /// Marks a pending transfer as deprioritized (the admission policy's decision).
    pub fn mark_low(&mut self, sender: u64, nonce: u64) {
        if self
            .by_sender
            .get(&sender)
            .is_some_and(|q| q.contains_key(&nonce))
        {
            self.low.insert((sender, nonce));
        }
    }

    /// Transfers of `sender` pending.
    pub fn pending_of(&self, sender: u64) -> usize {
        self.by_sender.get(&sender).map_or(0, |q| q.len())
    }

    fn remove(&mut self, sender: u64, nonce: u64) {
        self.low.remove(&(sender, nonce));
        let mut removed = None;
        if let Some(q) = self.by_sender.get_mut(&sender) {
            removed = q.remove(&nonce);
            if removed.is_some() {
                self.len -= 1;
            }
            if q.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
        if let Some(t) = removed {
            self.untrack(&t);
        }
    }

    /// Up to `max` executable transfers: per sender the consecutive run from its account nonce
    /// (`account_nonce(sender)`, `None` for an unknown sender, whose transfers are dropped),
    /// senders interleaved by fee.
    pub fn select(
        &mut self,
        max: usize,
        account_nonce: impl Fn(u64) -> Option<u64>,
    ) -> Vec<SignedTransfer> {
        // Drop stale and orphaned entries first.
        let senders: Vec<u64> = self.by_sender.keys().copied().collect();
        let mut runs: Vec<Vec<SignedTransfer>> = Vec::new();
        for s in senders {
            let Some(account) = account_nonce(s) else {
                let nonces: Vec<u64> = self.by_sender[&s].keys().copied().collect();
                for n in nonces {
                    self.remove(s, n);
                }
                continue;
            };
            let stale: Vec<u64> = self.by_sender[&s]
                .range(..account)
                .map(|(n, _)| *n)
                .collect();
            for n in stale {
                self.remove(s, n);
            }
            if let Some(q) = self.by_sender.get(&s) {
                let run: Vec<SignedTransfer> = q
                    .iter()
                    .zip(account..)
                    .take_while(|((n, _), expected)| *n == expected)
                    .map(|((_, t), _)| t.clone())
                    .collect();
                if !run.is_empty() {
                    runs.push(run);
                }
            }
        }
        // Interleave by the fee of each run's next transfer, deprioritized transfers last.
        let normal = |t: &SignedTransfer| !self.low.contains(&(t.tx.from, t.tx.nonce));
        let mut heap: BinaryHeap<(bool, u64, std::cmp::Reverse<u64>, usize)> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    normal(&r[0]),
                    r[0].tx.fee,
                    std::cmp::Reverse(r[0].tx.from),
                    i,
                )
            })
            .collect();
        let mut pos = vec![0usize; runs.len()];
        let mut out = Vec::new();
        while out.len() < max {
            let Some((_, _, _, i)) = heap.pop() else {
                break;
            };
            out.push(runs[i][pos[i]].clone());
            pos[i] += 1;
            if let Some(next) = runs[i].get(pos[i]) {
                heap.push((
                    normal(next),
                    next.tx.fee,
                    std::cmp::Reverse(next.tx.from),
                    i,
                ));
            }
        }
        out
    }

    /// Removes transfers that a committed block applied or made stale.
    pub fn remove_committed(&mut self, txs: &[SignedTransfer]) {
        for t in txs {
            self.remove(t.tx.from, t.tx.nonce);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustorium_circuits::eddsa::SecretKey;
    use rustorium_circuits::transfer::{Recipient, Transfer};

    fn tx(from: u64, nonce: u64, fee: u64) -> SignedTransfer {
        Transfer {
            chain_id: 1,
            from,
            to: Recipient::Index(0),
            amount: 1,
            fee,
            nonce,
        }
        .sign(&SecretKey([from as u8; 32]))
    }

    #[test]
    fn nonce_rules_replacement_and_selection() {
        let mut p = Mempool::new(MempoolConfig {
            max_txs: 4,
            max_per_sender: 3,
            max_nonce_gap: 5,
            replace_bump_percent: 10,
        });
        assert_eq!(
            p.insert(tx(1, 4, 5), 5),
            Err(MempoolError::StaleNonce { got: 4, account: 5 })
        );
        assert!(matches!(
            p.insert(tx(1, 11, 5), 5),
            Err(MempoolError::NonceGap { .. })
        ));
        assert_eq!(p.insert(tx(1, 5, 10), 5), Ok(Admitted::Added));
        assert_eq!(p.insert(tx(1, 5, 10), 5), Err(MempoolError::Duplicate));
        assert_eq!(
            p.insert(tx(1, 5, 9), 5),
            Err(MempoolError::Underpriced {
                got: 9,
                required: 11
            })
        );
        assert_eq!(p.insert(tx(1, 5, 11), 5), Ok(Admitted::Replaced));
        assert_eq!(p.len(), 1);
        assert_eq!(p.insert(tx(1, 6, 1), 5), Ok(Admitted::Added));
        assert_eq!(p.insert(tx(1, 8, 1), 5), Ok(Admitted::Added)); // gap at 7
        assert_eq!(p.insert(tx(1, 9, 1), 5), Err(MempoolError::SenderFull(3)));
        assert_eq!(p.insert(tx(2, 0, 3), 0), Ok(Admitted::Added));
        // Full: a richer transfer evicts the cheapest queue tail; a poorer one is refused.
        assert_eq!(p.insert(tx(3, 0, 1), 0), Err(MempoolError::Full));
        assert_eq!(p.insert(tx(3, 0, 50), 0), Ok(Admitted::Evicted(1, 8)));
        // Selection: sender 1 runs 5, 6 (7 missing); sender 3 pays most, then 2; nonce order kept.
        let picked = p.select(10, |s| Some(if s == 1 { 5 } else { 0 }));
        let order: Vec<(u64, u64)> = picked.iter().map(|t| (t.tx.from, t.tx.nonce)).collect();
        assert_eq!(order, vec![(3, 0), (1, 5), (2, 0), (1, 6)]);
        assert_eq!(p.select(2, |_| Some(0)).len(), 2);
        p.remove_committed(&picked);
        assert!(p.is_empty());
    }

    #[test]
    fn deprioritized_transfers_come_after_every_normal_one() {
        let mut p = Mempool::new(MempoolConfig::default());
        p.insert(tx(1, 0, 100), 0).expect("insert");
        p.insert(tx(2, 0, 1), 0).expect("insert");
        p.insert(tx(3, 0, 5), 0).expect("insert");
        p.mark_low(1, 0);
        assert_eq!(p.pending_of(1), 1);
        let order: Vec<u64> = p
            .select(10, |_| Some(0))
            .iter()
            .map(|t| t.tx.from)
            .collect();
        assert_eq!(
            order,
            vec![3, 2, 1],
            "the richest transfer was deprioritized"
        );
        p.remove_committed(&[tx(1, 0, 100)]);
        assert!(p.low.is_empty());
    }
}
