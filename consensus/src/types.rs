//! Our instance of malachite's `Context`: heights, validator indices as addresses, Ed25519
//! signatures, and the block value validators agree on.

use std::fmt;

use ed25519_dalek::Signer;
use malachitebft_core_types as mt;
use sha2::{Digest, Sha256};

/// A block height (the state version the block produces).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mt::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its index in the genesis validator list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorId(pub u16);

impl fmt::Display for ValidatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl mt::Address for ValidatorId {}

/// SHA-256 of a block value: what votes refer to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub [u8; 32]);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(&self.0[..8]))
    }
}

/// The value consensus decides: a block with its post-execution state root.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlockValue {
    /// Height.
    pub height: u64,
    /// Proposer's clock, ms since the Unix epoch (informational).
    pub timestamp_ms: u64,
    /// Account credited with the fees (the proposer's fee account).
    pub producer: u64,
    /// State root before the block (little-endian canonical field bytes).
    pub parent_root: [u8; 32],
    /// State root after executing `txs` in order.
    pub state_root: [u8; 32],
    /// Encoded signed transfers, all of which apply.
    pub txs: Vec<Vec<u8>>,
}

impl BlockValue {
    /// Canonical encoding (hashed for the id, sent inside proposals).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&self.producer.to_le_bytes());
        out.extend_from_slice(&self.parent_root);
        out.extend_from_slice(&self.state_root);
        out.extend_from_slice(&(self.txs.len() as u32).to_le_bytes());
        for t in &self.txs {
            out.extend_from_slice(&(t.len() as u32).to_le_bytes());
            out.extend_from_slice(t);
        }
    }

    /// The block hash.
    pub fn hash(&self) -> BlockHash {
        let mut b = Vec::new();
        self.encode(&mut b);
        BlockHash(Sha256::digest(&b).into())
    }
}

impl mt::Value for BlockValue {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        self.hash()
    }
}

/// A proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: mt::Round,
    /// The block.
    pub value: BlockValue,
    /// Proof-of-lock round (`Nil` for none).
    pub pol_round: mt::Round,
    /// Proposer.
    pub proposer: ValidatorId,
}

impl mt::Proposal<Ctx> for Proposal {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> mt::Round {
        self.round
    }
    fn value(&self) -> &BlockValue {
        &self.value
    }
    fn take_value(self) -> BlockValue {
        self.value
    }
    fn pol_round(&self) -> mt::Round {
        self.pol_round
    }
    fn validator_address(&self) -> &ValidatorId {
        &self.proposer
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: mt::VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: mt::Round,
    /// The block voted for, or nil.
    pub value: mt::NilOrVal<BlockHash>,
    /// Voter.
    pub validator: ValidatorId,
}

impl mt::Vote<Ctx> for Vote {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> mt::Round {
        self.round
    }
    fn value(&self) -> &mt::NilOrVal<BlockHash> {
        &self.value
    }
    fn take_value(self) -> mt::NilOrVal<BlockHash> {
        self.value
    }
    fn vote_type(&self) -> mt::VoteType {
        self.kind
    }
    fn validator_address(&self) -> &ValidatorId {
        &self.validator
    }
    fn extension(&self) -> Option<&mt::SignedExtension<Ctx>> {
        None
    }
    fn take_extension(&mut self) -> Option<mt::SignedExtension<Ctx>> {
        None
    }
    fn extend(self, _: mt::SignedExtension<Ctx>) -> Self {
        self // vote extensions are disabled
    }
}

/// Proposal parts are not used (proposals carry the whole block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoParts;

impl mt::ProposalPart<Ctx> for NoParts {
    fn is_first(&self) -> bool {
        true
    }
    fn is_last(&self) -> bool {
        true
    }
}

/// An Ed25519 signature (ordered, as malachite requires).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sig(pub [u8; 64]);

/// Why signature or key bytes do not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyDecodeError {
    /// A signature is 64 bytes.
    #[error("signature is {0} bytes, not 64")]
    SignatureLength(usize),
    /// A public key is 32 bytes.
    #[error("public key is {0} bytes, not 32")]
    KeyLength(usize),
    /// The 32 bytes are not a valid Ed25519 point.
    #[error("public key is not a valid Ed25519 point")]
    InvalidKey,
}

/// Why a commit certificate is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// A signature names a validator outside the set.
    #[error("unknown validator {0}")]
    UnknownValidator(ValidatorId),
    /// A precommit signature does not verify.
    #[error("bad precommit signature of {0}")]
    BadSignature(ValidatorId),
    /// Fewer distinct valid signers than the quorum.
    #[error("{got} signatures, {needed} needed")]
    NoQuorum {
        /// Distinct valid signers.
        got: usize,
        /// 2f + 1.
        needed: usize,
    },
}

/// Ed25519 as malachite's signing scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

impl mt::SigningScheme for Ed25519 {
    type DecodingError = KeyDecodeError;
    type Signature = Sig;
    type PublicKey = ed25519_dalek::VerifyingKey;
    type PrivateKey = ed25519_dalek::SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Sig, KeyDecodeError> {
        let b: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyDecodeError::SignatureLength(bytes.len()))?;
        Ok(Sig(b))
    }
    fn encode_signature(s: &Sig) -> Vec<u8> {
        s.0.to_vec()
    }
    fn decode_public_key(bytes: &[u8]) -> Result<Self::PublicKey, KeyDecodeError> {
        let b: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyDecodeError::KeyLength(bytes.len()))?;
        ed25519_dalek::VerifyingKey::from_bytes(&b).map_err(|_| KeyDecodeError::InvalidKey)
    }
    fn encode_public_key(k: &Self::PublicKey) -> Vec<u8> {
        k.to_bytes().to_vec()
    }
}

/// A validator: index, key, voting power 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Index.
    pub id: ValidatorId,
    /// Ed25519 public key.
    pub key: ed25519_dalek::VerifyingKey,
    /// Account credited with the fees of the blocks it proposes.
    pub fee_account: u64,
}

impl mt::Validator<Ctx> for Validator {
    fn address(&self) -> &ValidatorId {
        &self.id
    }
    fn public_key(&self) -> &ed25519_dalek::VerifyingKey {
        &self.key
    }
    fn voting_power(&self) -> mt::VotingPower {
        1
    }
}

/// The validator set (fixed at genesis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet(pub Vec<Validator>);

impl mt::ValidatorSet<Ctx> for ValidatorSet {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn total_voting_power(&self) -> mt::VotingPower {
        self.0.len() as u64
    }
    fn get_by_address(&self, a: &ValidatorId) -> Option<&Validator> {
        self.0.get(a.0 as usize)
    }
    fn get_by_index(&self, i: usize) -> Option<&Validator> {
        self.0.get(i)
    }
}

impl ValidatorSet {
    /// The largest number of faulty validators tolerated, `f = ⌊(n − 1) / 3⌋`.
    pub fn max_faulty(&self) -> usize {
        self.0.len().saturating_sub(1) / 3
    }
}

/// Our consensus context; `chain_id` separates signatures of different chains.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Chain id (in every signed message).
    pub chain_id: u64,
}

impl mt::Context for Ctx {
    type Address = ValidatorId;
    type Height = Height;
    type ProposalPart = NoParts;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = mt::LinearTimeouts;
    type Value = BlockValue;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round-robin: `(height + round) mod n`.
    fn select_proposer<'a>(
        &self,
        vs: &'a ValidatorSet,
        height: Height,
        round: mt::Round,
    ) -> &'a Validator {
        let n = vs.0.len().max(1) as u64;
        let r = round.as_u32().unwrap_or(0) as u64;
        &vs.0[((height.0 + r) % n) as usize]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: mt::Round,
        value: BlockValue,
        pol_round: mt::Round,
        address: ValidatorId,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: mt::Round,
        value: mt::NilOrVal<BlockHash>,
        address: ValidatorId,
    ) -> Vote {
        Vote {
            kind: mt::VoteType::Prevote,
            height,
            round,
            value,
            validator: address,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: mt::Round,
        value: mt::NilOrVal<BlockHash>,
        address: ValidatorId,
    ) -> Vote {
        Vote {
            kind: mt::VoteType::Precommit,
            height,
            round,
            value,
            validator: address,
        }
    }
}

/// Domain-separated bytes a validator signs for a vote.
pub fn vote_sign_bytes(chain_id: u64, v: &Vote) -> Vec<u8> {
    let mut b = b"rustorium/vote/v1".to_vec();
    b.extend_from_slice(&chain_id.to_le_bytes());
    b.push(match v.kind {
        mt::VoteType::Prevote => 0,
        mt::VoteType::Precommit => 1,
    });
    b.extend_from_slice(&v.height.0.to_le_bytes());
    b.extend_from_slice(&v.round.as_i64().to_le_bytes());
    match &v.value {
        mt::NilOrVal::Nil => b.push(0),
        mt::NilOrVal::Val(h) => {
            b.push(1);
            b.extend_from_slice(&h.0);
        }
    }
    b.extend_from_slice(&v.validator.0.to_le_bytes());
    b
}

/// Domain-separated bytes a validator signs for a proposal (the block by its hash).
pub fn proposal_sign_bytes(chain_id: u64, p: &Proposal) -> Vec<u8> {
    let mut b = b"rustorium/proposal/v1".to_vec();
    b.extend_from_slice(&chain_id.to_le_bytes());
    b.extend_from_slice(&p.height.0.to_le_bytes());
    b.extend_from_slice(&p.round.as_i64().to_le_bytes());
    b.extend_from_slice(&p.pol_round.as_i64().to_le_bytes());
    b.extend_from_slice(&p.value.hash().0);
    b.extend_from_slice(&p.proposer.0.to_le_bytes());
    b
}

/// Signs `bytes`.
pub fn sign(key: &ed25519_dalek::SigningKey, bytes: &[u8]) -> Sig {
    Sig(key.sign(bytes).to_bytes())
}

/// Verifies `sig` on `bytes` (strict verification: no malleable signatures).
pub fn verify(key: &ed25519_dalek::VerifyingKey, bytes: &[u8], sig: &Sig) -> bool {
    let s = ed25519_dalek::Signature::from_bytes(&sig.0);
    key.verify_strict(bytes, &s).is_ok()
}

/// A commit certificate: ≥ 2f + 1 distinct validators' valid precommits for `value_id` at
/// (height, round). Checked by block sync before a synced block is applied.
pub fn verify_commit(
    chain_id: u64,
    vs: &ValidatorSet,
    cert: &mt::CommitCertificate<Ctx>,
) -> Result<(), CertificateError> {
    let mut seen = std::collections::BTreeSet::new();
    for s in &cert.commit_signatures {
        let v =
            vs.0.get(s.address.0 as usize)
                .ok_or(CertificateError::UnknownValidator(s.address))?;
        let vote = Vote {
            kind: mt::VoteType::Precommit,
            height: cert.height,
            round: cert.round,
            value: mt::NilOrVal::Val(cert.value_id),
            validator: s.address,
        };
        if !verify(&v.key, &vote_sign_bytes(chain_id, &vote), &s.signature) {
            return Err(CertificateError::BadSignature(s.address));
        }
        seen.insert(s.address);
    }
    let quorum = 2 * vs.max_faulty() + 1;
    if seen.len() < quorum {
        return Err(CertificateError::NoQuorum {
            got: seen.len(),
            needed: quorum,
        });
    }
    Ok(())
}

pub use rustorium_state::dev_validator_key;

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: u64 = 1337;

    fn validators(n: u16) -> ValidatorSet {
        ValidatorSet(
            (0..n)
                .map(|i| Validator {
                    id: ValidatorId(i),
                    key: dev_validator_key(i.into()).verifying_key(),
                    fee_account: i.into(),
                })
                .collect(),
        )
    }

    /// Validator `signer`'s precommit for `value` at height 7, round 1, signed for `chain`.
    fn precommit(chain: u64, signer: u16, value: BlockHash) -> mt::CommitSignature<Ctx> {
        let vote = Vote {
            kind: mt::VoteType::Precommit,
            height: Height(7),
            round: mt::Round::new(1),
            value: mt::NilOrVal::Val(value),
            validator: ValidatorId(signer),
        };
        let key = dev_validator_key(signer.into());
        mt::CommitSignature::new(
            ValidatorId(signer),
            sign(&key, &vote_sign_bytes(chain, &vote)),
        )
    }

    fn certificate(sigs: Vec<mt::CommitSignature<Ctx>>) -> mt::CommitCertificate<Ctx> {
        mt::CommitCertificate {
            height: Height(7),
            round: mt::Round::new(1),
            value_id: BlockHash([9; 32]),
            commit_signatures: sigs,
        }
    }

    /// A commit certificate counts distinct valid precommits of known validators against
    /// `2f + 1`; every way to fall short is refused with its own error.
    #[test]
    fn commit_certificates_need_a_quorum_of_distinct_valid_precommits() {
        let vs = validators(4); // f = 1: 3 signatures needed
        let value = BlockHash([9; 32]);
        let good = |i| precommit(CHAIN, i, value);
        assert_eq!(
            verify_commit(CHAIN, &vs, &certificate(vec![good(0), good(1), good(3)])),
            Ok(())
        );
        assert_eq!(
            verify_commit(CHAIN, &vs, &certificate(vec![good(0), good(1)])),
            Err(CertificateError::NoQuorum { got: 2, needed: 3 })
        );
        // A validator signing twice is counted once.
        assert_eq!(
            verify_commit(CHAIN, &vs, &certificate(vec![good(0), good(1), good(1)])),
            Err(CertificateError::NoQuorum { got: 2, needed: 3 })
        );
        // Another block's precommit, another chain's, or another signer's key: bad signature.
        let other_value = precommit(CHAIN, 2, BlockHash([8; 32]));
        let other_chain = precommit(CHAIN + 1, 2, value);
        let mut stolen = good(2);
        stolen.address = ValidatorId(1);
        for (bad, signer) in [(other_value, 2), (other_chain, 2), (stolen, 1)] {
            assert_eq!(
                verify_commit(CHAIN, &vs, &certificate(vec![good(0), good(3), bad])),
                Err(CertificateError::BadSignature(ValidatorId(signer)))
            );
        }
        let mut outsider = precommit(CHAIN, 4, value);
        outsider.address = ValidatorId(4);
        assert_eq!(
            verify_commit(CHAIN, &vs, &certificate(vec![good(0), good(1), outsider])),
            Err(CertificateError::UnknownValidator(ValidatorId(4)))
        );
    }

    /// Signatures and keys of the wrong length or off the curve do not decode.
    #[test]
    fn malformed_keys_and_signatures_are_typed_errors() {
        use mt::SigningScheme;
        assert_eq!(
            Ed25519::decode_signature(&[0; 63]),
            Err(KeyDecodeError::SignatureLength(63))
        );
        assert_eq!(
            Ed25519::decode_public_key(&[0; 33]).err(),
            Some(KeyDecodeError::KeyLength(33))
        );
        let key = dev_validator_key(0).verifying_key();
        assert_eq!(Ed25519::decode_public_key(&key.to_bytes()).ok(), Some(key));
        // An encoding that ed25519-dalek itself cannot decompress (about half of all y are off
        // the curve).
        let off_curve = (2u8..)
            .map(|y| {
                let mut b = [0u8; 32];
                b[0] = y;
                b
            })
            .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
            .expect("some small y is off the curve");
        assert_eq!(
            Ed25519::decode_public_key(&off_curve).err(),
            Some(KeyDecodeError::InvalidKey)
        );
    }
}
