//! Wire format of validator messages (sans-IO): one message per QUIC stream, a tag byte then the
//! fields little-endian; lengths are bounded before anything is allocated, so malformed or
//! oversized input is an error, never a panic or a large allocation.

use malachitebft_core_types as mt;
use thiserror::Error;

use super::types::{BlockHash, BlockValue, Ctx, Height, Proposal, Sig, ValidatorId, Vote};

/// Largest message accepted (a full block of 4 KiB transfers fits many times over).
pub const MAX_MESSAGE: usize = 8 << 20;
const MAX_ITEMS: u32 = 1 << 16;

/// A message between validators.
#[derive(Clone, Debug, PartialEq)]
pub enum Wire {
    /// A signed proposal carrying its block.
    Proposal(mt::SignedProposal<Ctx>),
    /// A signed prevote or precommit.
    Vote(mt::SignedVote<Ctx>),
    /// A polka certificate (liveness).
    Polka(mt::PolkaCertificate<Ctx>),
    /// A round certificate (liveness).
    Round(mt::RoundCertificate<Ctx>),
    /// The sender's committed height (sent periodically; drives block sync).
    Status {
        /// Committed height.
        committed: u64,
    },
    /// Asks for committed blocks from `from` on.
    SyncRequest {
        /// First height wanted.
        from: u64,
    },
    /// A committed block with its commit certificate.
    SyncBlock(BlockValue, mt::CommitCertificate<Ctx>),
    /// A transfer accepted by the sender's mempool (gossip).
    Tx(Vec<u8>),
}

/// Why bytes did not decode.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    /// Ran out of bytes.
    #[error("truncated message")]
    Truncated,
    /// Unknown tag or enum value.
    #[error("unknown {0} {1}")]
    Unknown(&'static str, u8),
    /// A count or length above its bound.
    #[error("{0} too large")]
    TooLarge(&'static str),
    /// Bytes left after the message.
    #[error("trailing bytes")]
    Trailing,
}

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, x: u8) {
        self.0.push(x);
    }
    fn u16(&mut self, x: u16) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn round(&mut self, r: mt::Round) {
        self.0.extend_from_slice(&r.as_i64().to_le_bytes());
    }
    fn hash(&mut self, h: &BlockHash) {
        self.0.extend_from_slice(&h.0);
    }
    fn sig(&mut self, s: &Sig) {
        self.0.extend_from_slice(&s.0);
    }
    fn nil_or(&mut self, v: &mt::NilOrVal<BlockHash>) {
        match v {
            mt::NilOrVal::Nil => self.u8(0),
            mt::NilOrVal::Val(h) => {
                self.u8(1);
                self.hash(h);
            }
        }
    }
    fn vote_type(&mut self, t: mt::VoteType) {
        self.u8(match t {
            mt::VoteType::Prevote => 0,
            mt::VoteType::Precommit => 1,
        });
    }
    fn value(&mut self, v: &BlockValue) {
        let mut b = Vec::new();
        v.encode(&mut b);
        self.0.extend_from_slice(&b);
    }
}

struct R<'a>(&'a [u8]);

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn count(&mut self, what: &'static str) -> Result<u32, WireError> {
        let n = self.u32()?;
        if n > MAX_ITEMS {
            return Err(WireError::TooLarge(what));
        }
        Ok(n)
    }
    fn round(&mut self) -> Result<mt::Round, WireError> {
        let r = i64::from_le_bytes(self.arr()?);
        match r {
            -1 => Ok(mt::Round::Nil),
            0..=0xffff_ffff => Ok(mt::Round::new(r as u32)),
            _ => Err(WireError::Unknown("round", 0)),
        }
    }
    fn hash(&mut self) -> Result<BlockHash, WireError> {
        Ok(BlockHash(self.arr()?))
    }
    fn sig(&mut self) -> Result<Sig, WireError> {
        Ok(Sig(self.arr()?))
    }
    fn id(&mut self) -> Result<ValidatorId, WireError> {
        Ok(ValidatorId(self.u16()?))
    }
    fn nil_or(&mut self) -> Result<mt::NilOrVal<BlockHash>, WireError> {
        match self.u8()? {
            0 => Ok(mt::NilOrVal::Nil),
            1 => Ok(mt::NilOrVal::Val(self.hash()?)),
            t => Err(WireError::Unknown("nil-or-value", t)),
        }
    }
    fn vote_type(&mut self) -> Result<mt::VoteType, WireError> {
        match self.u8()? {
            0 => Ok(mt::VoteType::Prevote),
            1 => Ok(mt::VoteType::Precommit),
            t => Err(WireError::Unknown("vote type", t)),
        }
    }
    fn value(&mut self) -> Result<BlockValue, WireError> {
        let height = self.u64()?;
        let timestamp_ms = self.u64()?;
        let producer = self.u64()?;
        let parent_root = self.arr()?;
        let state_root = self.arr()?;
        let n = self.count("transfer count")?;
        let mut txs = Vec::new();
        for _ in 0..n {
            let len = self.u32()? as usize;
            if len > 4096 {
                return Err(WireError::TooLarge("transfer"));
            }
            txs.push(self.take(len)?.to_vec());
        }
        Ok(BlockValue {
            height,
            timestamp_ms,
            producer,
            parent_root,
            state_root,
            txs,
        })
    }
}

fn write_vote(w: &mut W, v: &Vote) {
    w.vote_type(v.kind);
    w.u64(v.height.0);
    w.round(v.round);
    w.nil_or(&v.value);
    w.u16(v.validator.0);
}

fn read_vote(r: &mut R<'_>) -> Result<Vote, WireError> {
    Ok(Vote {
        kind: r.vote_type()?,
        height: Height(r.u64()?),
        round: r.round()?,
        value: r.nil_or()?,
        validator: r.id()?,
    })
}

impl Wire {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = W(Vec::new());
        match self {
            Wire::Proposal(p) => {
                w.u8(1);
                let m = &p.message;
                w.u64(m.height.0);
                w.round(m.round);
                w.round(m.pol_round);
                w.u16(m.proposer.0);
                w.value(&m.value);
                w.sig(&p.signature);
            }
            Wire::Vote(v) => {
                w.u8(2);
                write_vote(&mut w, &v.message);
                w.sig(&v.signature);
            }
            Wire::Polka(c) => {
                w.u8(3);
                w.u64(c.height.0);
                w.round(c.round);
                w.hash(&c.value_id);
                w.u32(c.polka_signatures.len() as u32);
                for s in &c.polka_signatures {
                    w.u16(s.address.0);
                    w.sig(&s.signature);
                }
            }
            Wire::Round(c) => {
                w.u8(4);
                w.u64(c.height.0);
                w.round(c.round);
                w.u8(match c.cert_type {
                    mt::RoundCertificateType::Skip => 0,
                    mt::RoundCertificateType::Precommit => 1,
                });
                w.u32(c.round_signatures.len() as u32);
                for s in &c.round_signatures {
                    w.vote_type(s.vote_type);
                    w.nil_or(&s.value_id);
                    w.u16(s.address.0);
                    w.sig(&s.signature);
                }
            }
            Wire::Status { committed } => {
                w.u8(5);
                w.u64(*committed);
            }
            Wire::SyncRequest { from } => {
                w.u8(6);
                w.u64(*from);
            }
            Wire::SyncBlock(v, c) => {
                w.u8(7);
                w.value(v);
                w.u64(c.height.0);
                w.round(c.round);
                w.hash(&c.value_id);
                w.u32(c.commit_signatures.len() as u32);
                for s in &c.commit_signatures {
                    w.u16(s.address.0);
                    w.sig(&s.signature);
                }
            }
            Wire::Tx(b) => {
                w.u8(8);
                w.u32(b.len() as u32);
                w.0.extend_from_slice(b);
            }
        }
        w.0
    }

    /// Decodes one message; anything malformed is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(WireError::TooLarge("message"));
        }
        let mut r = R(bytes);
        let msg = match r.u8()? {
            1 => {
                let height = Height(r.u64()?);
                let round = r.round()?;
                let pol_round = r.round()?;
                let proposer = r.id()?;
                let value = r.value()?;
                let signature = r.sig()?;
                Wire::Proposal(mt::SignedMessage::new(
                    Proposal {
                        height,
                        round,
                        value,
                        pol_round,
                        proposer,
                    },
                    signature,
                ))
            }
            2 => {
                let v = read_vote(&mut r)?;
                Wire::Vote(mt::SignedMessage::new(v, r.sig()?))
            }
            3 => {
                let height = Height(r.u64()?);
                let round = r.round()?;
                let value_id = r.hash()?;
                let n = r.count("signatures")?;
                let mut sigs = Vec::new();
                for _ in 0..n {
                    sigs.push(mt::PolkaSignature::new(r.id()?, r.sig()?));
                }
                Wire::Polka(mt::PolkaCertificate {
                    height,
                    round,
                    value_id,
                    polka_signatures: sigs,
                })
            }
            4 => {
                let height = Height(r.u64()?);
                let round = r.round()?;
                let cert_type = match r.u8()? {
                    0 => mt::RoundCertificateType::Skip,
                    1 => mt::RoundCertificateType::Precommit,
                    t => return Err(WireError::Unknown("round certificate type", t)),
                };
                let n = r.count("signatures")?;
                let mut sigs = Vec::new();
                for _ in 0..n {
                    let vote_type = r.vote_type()?;
                    let value_id = r.nil_or()?;
                    let address = r.id()?;
                    let signature = r.sig()?;
                    sigs.push(mt::RoundSignature::new(
                        vote_type, value_id, address, signature,
                    ));
                }
                Wire::Round(mt::RoundCertificate {
                    height,
                    round,
                    cert_type,
                    round_signatures: sigs,
                })
            }
            5 => Wire::Status {
                committed: r.u64()?,
            },
            6 => Wire::SyncRequest { from: r.u64()? },
            7 => {
                let v = r.value()?;
                let height = Height(r.u64()?);
                let round = r.round()?;
                let value_id = r.hash()?;
                let n = r.count("signatures")?;
                let mut sigs = Vec::new();
                for _ in 0..n {
                    sigs.push(mt::CommitSignature::new(r.id()?, r.sig()?));
                }
                Wire::SyncBlock(
                    v,
                    mt::CommitCertificate {
                        height,
                        round,
                        value_id,
                        commit_signatures: sigs,
                    },
                )
            }
            8 => {
                let len = r.u32()? as usize;
                if len > 4096 {
                    return Err(WireError::TooLarge("transfer"));
                }
                Wire::Tx(r.take(len)?.to_vec())
            }
            t => return Err(WireError::Unknown("message tag", t)),
        };
        if !r.0.is_empty() {
            return Err(WireError::Trailing);
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Proposal, dev_validator_key, sign, vote_sign_bytes};

    fn samples() -> Vec<Wire> {
        let key = dev_validator_key(0);
        let value = BlockValue {
            height: 3,
            timestamp_ms: 9,
            producer: 1,
            parent_root: [1; 32],
            state_root: [2; 32],
            txs: vec![vec![7; 40], vec![]],
        };
        let vote = Vote {
            kind: mt::VoteType::Precommit,
            height: Height(3),
            round: mt::Round::new(2),
            value: mt::NilOrVal::Val(value.hash()),
            validator: ValidatorId(1),
        };
        let sig = sign(&key, &vote_sign_bytes(5, &vote));
        vec![
            Wire::Proposal(mt::SignedMessage::new(
                Proposal {
                    height: Height(3),
                    round: mt::Round::ZERO,
                    value: value.clone(),
                    pol_round: mt::Round::Nil,
                    proposer: ValidatorId(0),
                },
                sig,
            )),
            Wire::Vote(mt::SignedMessage::new(vote, sig)),
            Wire::Polka(mt::PolkaCertificate {
                height: Height(3),
                round: mt::Round::new(1),
                value_id: value.hash(),
                polka_signatures: vec![mt::PolkaSignature::new(ValidatorId(2), sig)],
            }),
            Wire::Round(mt::RoundCertificate {
                height: Height(3),
                round: mt::Round::new(4),
                cert_type: mt::RoundCertificateType::Skip,
                round_signatures: vec![mt::RoundSignature::new(
                    mt::VoteType::Prevote,
                    mt::NilOrVal::Nil,
                    ValidatorId(3),
                    sig,
                )],
            }),
            Wire::Status { committed: 77 },
            Wire::SyncRequest { from: 5 },
            Wire::SyncBlock(
                value.clone(),
                mt::CommitCertificate {
                    height: Height(3),
                    round: mt::Round::ZERO,
                    value_id: value.hash(),
                    commit_signatures: vec![mt::CommitSignature::new(ValidatorId(0), sig)],
                },
            ),
            Wire::Tx(vec![1, 2, 3]),
        ]
    }

    #[test]
    fn every_message_round_trips_and_malformed_bytes_are_refused() {
        for m in samples() {
            let b = m.encode();
            assert_eq!(Wire::decode(&b).as_ref(), Ok(&m));
            // Every strict prefix is truncated, never a panic or another message.
            for cut in 0..b.len() {
                assert!(Wire::decode(&b[..cut]).is_err(), "{m:?} cut at {cut}");
            }
            let mut long = b.clone();
            long.push(0);
            assert_eq!(Wire::decode(&long), Err(WireError::Trailing));
        }
        assert_eq!(
            Wire::decode(&[99]),
            Err(WireError::Unknown("message tag", 99))
        );
        // A count that would allocate too much is refused from the header.
        let mut huge = vec![3u8];
        huge.extend_from_slice(&[0; 8 + 8 + 32]);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Wire::decode(&huge), Err(WireError::TooLarge("signatures")));
    }
}
