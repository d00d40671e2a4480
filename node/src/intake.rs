//! Durable intake: no acknowledged transfer is lost. A transfer the node accepts (over QUIC or
//! HTTP) is written to the `intake` table of the state database before the acknowledgement leaves,
//! and deleted in the same write transaction as the block that takes it. After a crash the node
//! replays the table before it serves anything: each row goes through admission again, so a
//! transfer a block already applied is refused as stale and dropped, and the rest return to the
//! mempool. Replay is idempotent.
//!
//! Writes use group commit: a submitter queues its row; whoever finds no commit in progress
//! becomes the leader, writes every queued row in one redb transaction (one fsync) and wakes the
//! others. Concurrent submitters share fsyncs, so throughput holds while each acknowledgement
//! still waits for its own row to be durable.
//!
//! Table: `intake`, key `(sender, nonce)` (a replacement with a higher fee overwrites its row), value
//! the signed transfer's canonical encoding (`SignedTransfer::encode`, docs/protocol.md). Rows of
//! transfers that leave the mempool without a block (evicted, or dropped at execution) are
//! deleted with the next group commit; one left behind by a crash is dropped at replay.

use std::sync::{Condvar, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use rustorium_circuits::transfer::SignedTransfer;

use crate::state::StoreError;

const INTAKE: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("intake");

/// A transfer's intake key.
pub fn key(tx: &SignedTransfer) -> (u64, u64) {
    (tx.tx.from, tx.tx.nonce)
}

enum Op {
    Put((u64, u64), Vec<u8>),
    Forget((u64, u64)),
}

#[derive(Default)]
struct Queue {
    pending: Vec<Op>,
    committing: bool,
    /// The batch the next queued operation joins (the next leader commits it).
    next_batch: u64,
    /// Every batch below this has been committed (or failed).
    done_below: u64,
    /// Recent failed batches and why.
    failed: Vec<(u64, String)>,
}

/// The group-commit queue of the intake table.
#[derive(Default)]
pub struct Intake {
    queue: Mutex<Queue>,
    committed: Condvar,
}

fn db_error(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(e.into())
}

impl Intake {
    /// Makes `tx` durable: returns once a committed write transaction holds its row.
    pub fn put(&self, db: &Database, tx: &SignedTransfer) -> Result<(), StoreError> {
        // Admitted transfers always encode (their key is canonical); refuse rather than guess.
        let bytes = tx
            .encode()
            .ok_or_else(|| StoreError::Corrupt("an admitted transfer does not encode".into()))?;
        self.commit(db, Some(Op::Put(key(tx), bytes)))
    }

    /// Makes several transfers durable with one wait (one group commit for all of them).
    pub fn put_many<'a>(
        &self,
        db: &Database,
        txs: impl IntoIterator<Item = &'a SignedTransfer>,
    ) -> Result<(), StoreError> {
        let mut ops = Vec::new();
        for tx in txs {
            let bytes = tx.encode().ok_or_else(|| {
                StoreError::Corrupt("an admitted transfer does not encode".into())
            })?;
            ops.push(Op::Put(key(tx), bytes));
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.commit_ops(db, ops)
    }

    /// Queues the deletion of rows (transfers that left the mempool without a block); they are
    /// written with the next group commit, without waiting.
    pub fn forget_later(&self, keys: impl IntoIterator<Item = (u64, u64)>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.pending.extend(keys.into_iter().map(Op::Forget));
    }

    /// Commits everything queued now (the queued deletions, at shutdown or after replay).
    pub fn flush(&self, db: &Database) -> Result<(), StoreError> {
        self.commit(db, None)
    }

    fn commit(&self, db: &Database, op: Option<Op>) -> Result<(), StoreError> {
        self.commit_ops(db, op.into_iter().collect())
    }

    fn commit_ops(&self, db: &Database, ops: Vec<Op>) -> Result<(), StoreError> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.pending.extend(ops);
        let mine = q.next_batch;
        loop {
            if q.done_below > mine {
                return match q.failed.iter().find(|(b, _)| *b == mine) {
                    Some((_, e)) => Err(StoreError::Io(format!("intake commit: {e}"))),
                    None => Ok(()),
                };
            }
            if q.committing {
                q = self.committed.wait(q).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Lead: take the batch, write it without the lock, publish the outcome.
            let batch = q.next_batch;
            q.next_batch += 1;
            q.committing = true;
            let ops = std::mem::take(&mut q.pending);
            drop(q);
            let result = write(db, &ops);
            q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = result {
                tracing::error!(error = %e, rows = ops.len(), "intake commit failed");
                q.failed.push((batch, e.to_string()));
                if q.failed.len() > 64 {
                    q.failed.remove(0);
                }
            }
            q.done_below = batch + 1;
            q.committing = false;
            self.committed.notify_all();
        }
    }
}

fn write(db: &Database, ops: &[Op]) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(db_error)?;
    {
        let mut t = txn.open_table(INTAKE).map_err(db_error)?;
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    t.insert(k, v.as_slice()).map_err(db_error)?;
                }
                Op::Forget(k) => {
                    t.remove(k).map_err(db_error)?;
                }
            }
        }
    }
    txn.commit().map_err(db_error)
}

/// Deletes the rows of `txs` inside `txn` (the write transaction that commits their block).
pub fn forget_in(txn: &WriteTransaction, txs: &[SignedTransfer]) -> Result<(), StoreError> {
    let mut t = txn.open_table(INTAKE).map_err(db_error)?;
    for tx in txs {
        t.remove(key(tx)).map_err(db_error)?;
    }
    Ok(())
}

/// Every row, in key order: the transfers accepted but not yet in a block when the last run
/// stopped. A row that does not decode (a damaged file) is returned as its key with the error, so
/// the caller can drop it and count it.
#[allow(clippy::type_complexity)]
pub fn rows(
    db: &Database,
) -> Result<Vec<((u64, u64), Result<SignedTransfer, String>)>, StoreError> {
    let txn = db.begin_read().map_err(db_error)?;
    let t = match txn.open_table(INTAKE) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(db_error(e)),
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(db_error)? {
        let (k, v) = row.map_err(db_error)?;
        let decoded = SignedTransfer::decode(v.value()).map_err(|e| e.to_string());
        out.push((k.value(), decoded));
    }
    Ok(out)
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
        .sign(&SecretKey([from as u8 + 1; 32]))
    }

    /// Rows written by concurrent submitters (group commit) are all durable once `put` returns,
    /// a replacement overwrites its row, deletions apply with the next commit or inside a block's
    /// transaction, and a reopened database holds exactly what was committed.
    #[test]
    fn intake_rows_are_durable_replaced_and_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("intake.redb");
        let db = Database::create(&path).expect("db");
        let intake = Intake::default();
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (db, intake) = (&db, &intake);
                s.spawn(move || {
                    for n in 0..25u64 {
                        intake.put(db, &tx(t, n, 1)).expect("put");
                    }
                });
            }
        });
        assert_eq!(rows(&db).expect("rows").len(), 200);
        // A replacement (same sender and nonce, higher fee) overwrites.
        intake.put(&db, &tx(0, 0, 9)).expect("replace");
        intake.forget_later([(1, 0), (1, 1)]);
        intake.flush(&db).expect("flush");
        let txn = db.begin_write().expect("txn");
        forget_in(&txn, &[tx(2, 0, 1), tx(2, 1, 1)]).expect("forget in");
        txn.commit().expect("commit");
        drop(db);
        let db = Database::open(&path).expect("reopen");
        let r = rows(&db).expect("rows");
        assert_eq!(r.len(), 196);
        let first = r.iter().find(|(k, _)| *k == (0, 0)).expect("row (0, 0)");
        assert_eq!(first.1.as_ref().expect("decodes").tx.fee, 9);
        assert!(!r.iter().any(|(k, _)| *k == (1, 0) || *k == (2, 1)));
    }
}
