//! Blocks, receipts and proofs, in the state's redb database so that a block and the state it
//! produces commit in one transaction.
//!
//! Tables: `blocks` (height → block record), `proofs` (height → proof envelope),
//! `chain_meta` (`"proven"` → highest height such that every block up to it is proven).
//!
//! Block record (little-endian):
//! ```text
//! version u8 = 1 | height u64 | timestamp_ms u64 | producer u64
//! old_root 32 B | new_root 32 B | commitment 32 B
//! applied u32, then per transfer: to_index u64 | length u16 | signed transfer bytes
//! rejected u32, then per transfer: length u16 | signed transfer bytes | reason length u16 | reason
//! ```

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use rustorium_circuits::Fr;
use rustorium_circuits::block::tx_commitment;
use rustorium_circuits::field::{from_bytes_le, to_bytes_le};
use rustorium_circuits::transfer::SignedTransfer;

use crate::prover::ProofEnvelope;
use crate::state::{BlockPlan, StateStore, StoreError};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const PROOFS: TableDefinition<u64, &[u8]> = TableDefinition::new("proofs");
const CHAIN_META: TableDefinition<&str, u64> = TableDefinition::new("chain_meta");

/// A committed block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Height (= state version).
    pub height: u64,
    /// Production time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Producer's account index (receives the fees).
    pub producer: u64,
    /// Root before.
    pub old_root: Fr,
    /// Root after.
    pub new_root: Fr,
    /// The proof's commitment to the applied transfers.
    pub commitment: Fr,
    /// Applied transfers with their recipient index.
    pub applied: Vec<(SignedTransfer, u64)>,
    /// Transfers taken from the mempool but rejected at execution, with the reason (receipts).
    pub rejected: Vec<(SignedTransfer, String)>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("block record: {what}"))
}

impl Block {
    /// What a light client needs of this block besides its proof.
    pub fn light_data(&self) -> crate::light::BlockData {
        crate::light::BlockData {
            height: self.height,
            producer: self.producer,
            transfers: self.applied.clone(),
        }
    }

    /// Builds the record of an executed plan.
    pub fn from_plan(
        height: u64,
        timestamp_ms: u64,
        producer: u64,
        chain_id: u64,
        plan: &BlockPlan,
        txs: &[SignedTransfer],
        new_root: Fr,
    ) -> Self {
        Self {
            height,
            timestamp_ms,
            producer,
            old_root: plan.old_root,
            new_root,
            commitment: tx_commitment(
                chain_id,
                producer,
                plan.applied.iter().map(|a| (a.tx.tx.message(), a.to_index)),
            ),
            applied: plan
                .applied
                .iter()
                .map(|a| (a.tx.clone(), a.to_index))
                .collect(),
            rejected: plan
                .rejected
                .iter()
                .map(|(i, e)| (txs[*i].clone(), e.to_string()))
                .collect(),
        }
    }

    /// Binary record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![1u8];
        for v in [self.height, self.timestamp_ms, self.producer] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for r in [&self.old_root, &self.new_root, &self.commitment] {
            out.extend_from_slice(&to_bytes_le(r));
        }
        let put = |out: &mut Vec<u8>, bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            out.extend_from_slice(bytes);
        };
        out.extend_from_slice(&(self.applied.len() as u32).to_le_bytes());
        for (tx, to) in &self.applied {
            out.extend_from_slice(&to.to_le_bytes());
            put(&mut out, &tx.encode().unwrap_or_default());
        }
        out.extend_from_slice(&(self.rejected.len() as u32).to_le_bytes());
        for (tx, reason) in &self.rejected {
            put(&mut out, &tx.encode().unwrap_or_default());
            put(&mut out, reason.as_bytes());
        }
        out
    }

    /// Decodes a record.
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], StoreError> {
            let s = bytes.get(at..at + n).ok_or_else(|| corrupt("truncated"))?;
            at += n;
            Ok(s)
        };
        if take(1)?[0] != 1 {
            return Err(corrupt("version"));
        }
        let mut u64s = [0u64; 3];
        for v in &mut u64s {
            *v = u64::from_le_bytes(take(8)?.try_into().expect("8"));
        }
        let mut roots = [Fr::from(0u64); 3];
        for r in &mut roots {
            *r = from_bytes_le(take(32)?).map_err(|_| corrupt("root"))?;
        }
        let n = u32::from_le_bytes(take(4)?.try_into().expect("4"));
        let mut applied = Vec::new();
        for _ in 0..n {
            let to = u64::from_le_bytes(take(8)?.try_into().expect("8"));
            let len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
            let tx = SignedTransfer::decode(take(len)?).map_err(|_| corrupt("transfer"))?;
            applied.push((tx, to));
        }
        let n = u32::from_le_bytes(take(4)?.try_into().expect("4"));
        let mut rejected = Vec::new();
        for _ in 0..n {
            let len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
            let tx = SignedTransfer::decode(take(len)?).map_err(|_| corrupt("transfer"))?;
            let len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
            let reason = String::from_utf8(take(len)?.to_vec()).map_err(|_| corrupt("reason"))?;
            rejected.push((tx, reason));
        }
        if at != bytes.len() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Self {
            height: u64s[0],
            timestamp_ms: u64s[1],
            producer: u64s[2],
            old_root: roots[0],
            new_root: roots[1],
            commitment: roots[2],
            applied,
            rejected,
        })
    }
}

/// Writes a block record inside the state's commit transaction.
pub fn put_block(txn: &WriteTransaction, block: &Block) -> Result<(), StoreError> {
    txn.open_table(BLOCKS)?
        .insert(block.height, block.encode().as_slice())?;
    Ok(())
}

/// Reads a block.
pub fn block(store: &StateStore, height: u64) -> Result<Option<Block>, StoreError> {
    let txn = store.database().begin_read()?;
    let table = match txn.open_table(BLOCKS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    table
        .get(height)?
        .map(|g| Block::decode(g.value()))
        .transpose()
}

/// Stores a proof unless the block has one (the first proof stays: exactly one per height), and
/// advances the contiguous proven height; returns it and whether this proof was stored.
pub fn put_proof(store: &StateStore, env: &ProofEnvelope) -> Result<(u64, bool), StoreError> {
    let (proven, stored) = put_proofs(store, std::slice::from_ref(env))?;
    Ok((proven, stored[0]))
}

/// [`put_proof`] for several proofs in one write transaction (one fsync): returns the proven
/// height and, per proof, whether it was stored (not if its block had one, or an earlier proof of
/// the same block in `envs` was stored).
pub fn put_proofs(
    store: &StateStore,
    envs: &[ProofEnvelope],
) -> Result<(u64, Vec<bool>), StoreError> {
    let txn = store.database().begin_write()?;
    let (proven, stored) = {
        let mut proofs = txn.open_table(PROOFS)?;
        let mut stored = Vec::with_capacity(envs.len());
        for env in envs {
            let fresh = proofs.get(env.height)?.is_none();
            if fresh {
                proofs.insert(env.height, env.encode().as_slice())?;
            }
            stored.push(fresh);
        }
        let mut meta = txn.open_table(CHAIN_META)?;
        let mut proven = meta.get("proven")?.map_or(0, |g| g.value());
        while proofs.get(proven + 1)?.is_some() {
            proven += 1;
        }
        meta.insert("proven", proven)?;
        (proven, stored)
    };
    txn.commit()?;
    Ok((proven, stored))
}

/// A block's proof envelope bytes.
pub fn proof(store: &StateStore, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let txn = store.database().begin_read()?;
    let table = match txn.open_table(PROOFS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(table.get(height)?.map(|g| g.value().to_vec()))
}

/// Highest height up to which every block is proven (0: none).
pub fn proven_height(store: &StateStore) -> Result<u64, StoreError> {
    let txn = store.database().begin_read()?;
    let table = match txn.open_table(CHAIN_META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    Ok(table.get("proven")?.map_or(0, |g| g.value()))
}

/// Heights in `from..=to` that have a block but no proof.
pub fn unproven(store: &StateStore, from: u64, to: u64) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    for h in from..=to {
        if proof(store, h)?.is_none() {
            out.push(h);
        }
    }
    Ok(out)
}
