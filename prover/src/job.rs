//! Proving jobs and their results as bytes: what a prover on another machine needs to prove a
//! block without the state (issue 17's fleet), and what it sends back. The encodings are versioned
//! and documented in docs/protocol.md ("Proving jobs"); decoding is strict, since a job or a
//! result crosses machines: every length is checked against the shape before anything is
//! allocated, field elements must be canonical, account keys on the curve, and nothing may
//! follow the last field. A decoded job is still only a claim: the worker's proof is checked by
//! the node against its own verifying key and the block's public inputs before it is stored.
//!
//! Job, version 1 (little-endian integers):
//! ```text
//! magic "RSTJ" | version u8 = 1 | height u64 | producer u64 | depth u8 | capacity u16
//! | vk_hash 32 B | chain_id u64 | old_root 32 B | new_root 32 B
//! | transfers u16 (≤ capacity), each: length u16 | signed transfer (SignedTransfer::encode)
//!                                       | sender update | receiver update
//! | fees update
//! update: index u64 | has_old u8 (0 or 1) | [old account 80 B] | new account 80 B
//!         | depth siblings, 32 B each (leaf level first)
//! ```

use rustorium_circuits::Fr;
use rustorium_circuits::account::{ACCOUNT_BYTES, Account};
use rustorium_circuits::block::CircuitShape;
use rustorium_circuits::field::{from_bytes_le, to_bytes_le};
use rustorium_circuits::transfer::SignedTransfer;
use rustorium_circuits::witness::{BlockWitness, LeafUpdate, TransferWitness};
use thiserror::Error;

use crate::VkHash;

/// The job encoding's magic and version.
pub const JOB_MAGIC: &[u8; 4] = b"RSTJ";
/// Current job version.
pub const JOB_VERSION: u8 = 1;
/// Deepest tree a job may carry (the circuit's depth field is one byte; 64 is the most any shape
/// uses).
pub const MAX_JOB_DEPTH: usize = 64;

/// One block to prove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvingJob {
    /// Block height (a public input).
    pub height: u64,
    /// The producer's account (receives the fees).
    pub producer: u64,
    /// The circuit shape to prove with.
    pub shape: CircuitShape,
    /// The verifying key the proof must check under.
    pub vk_hash: VkHash,
    /// The block's state transition.
    pub witness: BlockWitness,
}

/// Why bytes are not a job.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobError {
    /// Not a job (wrong magic) or a version this build does not read.
    #[error("not a version-{JOB_VERSION} proving job")]
    Version,
    /// The bytes end inside a field.
    #[error("truncated at {0}")]
    Truncated(&'static str),
    /// Bytes follow the last field.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A count or length outside what the shape allows.
    #[error("{0}")]
    Bounds(String),
    /// A field element is not canonical, or an account not on the curve.
    #[error("{0}: {1}")]
    Value(&'static str, String),
    /// The job cannot be encoded (a witness that does not fit its shape).
    #[error("cannot encode: {0}")]
    Encode(String),
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], JobError> {
        if self.b.len() < n {
            return Err(JobError::Truncated(what));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, JobError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, JobError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, JobError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(a))
    }
    fn fr(&mut self, what: &'static str) -> Result<Fr, JobError> {
        from_bytes_le(self.take(32, what)?).map_err(|e| JobError::Value(what, e.to_string()))
    }
    fn account(&mut self, what: &'static str) -> Result<Account, JobError> {
        Account::from_bytes(self.take(ACCOUNT_BYTES, what)?)
            .map_err(|e| JobError::Value(what, e.to_string()))
    }
    fn update(&mut self, depth: usize) -> Result<LeafUpdate, JobError> {
        let index = self.u64("update index")?;
        let old = match self.u8("update flag")? {
            0 => None,
            1 => Some(self.account("old account")?),
            f => return Err(JobError::Value("update flag", f.to_string())),
        };
        let new = self.account("new account")?;
        let siblings = (0..depth)
            .map(|_| self.fr("sibling"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LeafUpdate {
            index,
            old,
            new,
            siblings,
        })
    }
}

fn put_update(out: &mut Vec<u8>, u: &LeafUpdate, depth: usize) -> Result<(), JobError> {
    if u.siblings.len() != depth {
        return Err(JobError::Encode(format!(
            "{} siblings at depth {depth}",
            u.siblings.len()
        )));
    }
    out.extend_from_slice(&u.index.to_le_bytes());
    match &u.old {
        Some(a) => {
            out.push(1);
            out.extend_from_slice(&a.to_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(&u.new.to_bytes());
    for s in &u.siblings {
        out.extend_from_slice(&to_bytes_le(s));
    }
    Ok(())
}

impl ProvingJob {
    /// The version-1 encoding (module docs).
    pub fn encode(&self) -> Result<Vec<u8>, JobError> {
        let (depth, capacity) = (self.shape.depth, self.shape.capacity);
        let w = &self.witness;
        if depth == 0 || depth > MAX_JOB_DEPTH || w.depth != depth {
            return Err(JobError::Encode(format!(
                "witness depth {} for shape depth {depth}",
                w.depth
            )));
        }
        let capacity16 = u16::try_from(capacity)
            .map_err(|_| JobError::Encode(format!("capacity {capacity}")))?;
        if w.transfers.len() > capacity {
            return Err(JobError::Encode(format!(
                "{} transfers for capacity {capacity}",
                w.transfers.len()
            )));
        }
        let mut out = Vec::new();
        out.extend_from_slice(JOB_MAGIC);
        out.push(JOB_VERSION);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.producer.to_le_bytes());
        out.push(depth as u8);
        out.extend_from_slice(&capacity16.to_le_bytes());
        out.extend_from_slice(&self.vk_hash);
        out.extend_from_slice(&w.chain_id.to_le_bytes());
        out.extend_from_slice(&to_bytes_le(&w.old_root));
        out.extend_from_slice(&to_bytes_le(&w.new_root));
        out.extend_from_slice(&(w.transfers.len() as u16).to_le_bytes());
        for t in &w.transfers {
            let tx =
                t.tx.encode()
                    .ok_or_else(|| JobError::Encode("a transfer does not encode".into()))?;
            out.extend_from_slice(&(tx.len() as u16).to_le_bytes());
            out.extend_from_slice(&tx);
            put_update(&mut out, &t.sender, depth)?;
            put_update(&mut out, &t.receiver, depth)?;
        }
        put_update(&mut out, &w.fees, depth)?;
        Ok(out)
    }

    /// Decodes [`ProvingJob::encode`] strictly (module docs).
    pub fn decode(bytes: &[u8]) -> Result<Self, JobError> {
        let mut r = Reader { b: bytes };
        if r.take(4, "magic")? != JOB_MAGIC || r.u8("version")? != JOB_VERSION {
            return Err(JobError::Version);
        }
        let height = r.u64("height")?;
        let producer = r.u64("producer")?;
        let depth = usize::from(r.u8("depth")?);
        if depth == 0 || depth > MAX_JOB_DEPTH {
            return Err(JobError::Bounds(format!("depth {depth}")));
        }
        let capacity = usize::from(r.u16("capacity")?);
        if capacity == 0 {
            return Err(JobError::Bounds("capacity 0".into()));
        }
        let mut vk_hash = [0u8; 32];
        vk_hash.copy_from_slice(r.take(32, "vk hash")?);
        let chain_id = r.u64("chain id")?;
        let old_root = r.fr("old root")?;
        let new_root = r.fr("new root")?;
        let n = usize::from(r.u16("transfer count")?);
        if n > capacity {
            return Err(JobError::Bounds(format!(
                "{n} transfers for capacity {capacity}"
            )));
        }
        let mut transfers = Vec::with_capacity(n);
        for _ in 0..n {
            let len = usize::from(r.u16("transfer length")?);
            let tx = SignedTransfer::decode(r.take(len, "transfer")?)
                .map_err(|e| JobError::Value("transfer", e.to_string()))?;
            let sender = r.update(depth)?;
            let receiver = r.update(depth)?;
            transfers.push(TransferWitness {
                tx,
                sender,
                receiver,
            });
        }
        let fees = r.update(depth)?;
        if !r.b.is_empty() {
            return Err(JobError::Trailing(r.b.len()));
        }
        Ok(Self {
            height,
            producer,
            shape: CircuitShape { depth, capacity },
            vk_hash,
            witness: BlockWitness {
                depth,
                chain_id,
                old_root,
                new_root,
                transfers,
                fees,
            },
        })
    }
}
