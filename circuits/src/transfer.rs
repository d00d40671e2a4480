//! Transfers: fields, the signed message, and the wire encoding.
//!
//! The signed message is `Poseidon(w0, w1, to.x, to.y)` with
//! - `w0 = amount + fee * 2^64 + nonce * 2^128`
//! - `w1 = from + to_index * 2^64 + chain_id * 2^128 + kind * 2^192`
//!
//! where `kind = 1` for a transfer to an existing account index (`to.x = to.y = 0`) and `kind = 2` for
//! a transfer to a public key not yet in the tree (`to_index = 0`). All parts are below 2^64 (kind
//! below 2^8), so `w0, w1 < 2^200 < p` and the packing is injective.

use ark_ff::Zero;
use num_bigint::BigUint;
use thiserror::Error;

use crate::Fr;
use crate::eddsa::{PublicKey, SecretKey, Signature, SignatureError};
use crate::poseidon;

/// Version byte of the transfer encoding.
pub const TRANSFER_VERSION: u8 = 1;
/// `kind` of a transfer to an existing index.
pub const KIND_TO_INDEX: u8 = 1;
/// `kind` of a transfer to a new key.
pub const KIND_TO_NEW_KEY: u8 = 2;
/// Largest encoded signed transfer.
pub const MAX_TRANSFER_BYTES: usize = 2 + 8 * 2 + 32 + 8 * 3 + 64;
/// Least amount a transfer to a new key must carry (protocol rule, enforced by admission, execution
/// and the block circuit). Every account therefore holds a share of the fixed supply when it is
/// created, which bounds the number of accounts anyone can create by what they own.
pub const NEW_ACCOUNT_MIN_AMOUNT: u64 = 1;
/// Least fee a transfer to a new key must pay (protocol rule, like [`NEW_ACCOUNT_MIN_AMOUNT`]):
/// creating state is never free for the sender.
pub const NEW_ACCOUNT_MIN_FEE: u64 = 1;

/// The parts of the signed message as field elements: what the block circuit packs. Native code
/// fills it from u64s ([`Transfer::message_fields`]); the circuit range-checks every part to 64
/// bits (`kind` is 1 or 2), which is what makes [`MessageFields::inputs`] injective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageFields {
    /// Amount.
    pub amount: Fr,
    /// Fee.
    pub fee: Fr,
    /// Sender nonce.
    pub nonce: Fr,
    /// Sender index.
    pub from: Fr,
    /// Recipient index (0 for a new key).
    pub to_index: Fr,
    /// Chain id.
    pub chain_id: Fr,
    /// [`KIND_TO_INDEX`] or [`KIND_TO_NEW_KEY`].
    pub kind: Fr,
    /// Recipient key (`(0, 0)` for an index).
    pub to: (Fr, Fr),
}

impl MessageFields {
    /// `(w0, w1, to.x, to.y)` with `w0 = amount + fee·2^64 + nonce·2^128` and
    /// `w1 = from + to_index·2^64 + chain_id·2^128 + kind·2^192`.
    pub fn inputs(&self) -> [Fr; 4] {
        let w0 = self.amount + self.fee * pow2(64) + self.nonce * pow2(128);
        let w1 = self.from
            + self.to_index * pow2(64)
            + self.chain_id * pow2(128)
            + self.kind * pow2(192);
        [w0, w1, self.to.0, self.to.1]
    }

    /// The signed message `Poseidon(w0, w1, to.x, to.y)`.
    pub fn message(&self) -> Fr {
        poseidon::hash(&self.inputs()).expect("arity 4 exists")
    }
}

/// Who receives a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// An account already in the tree.
    Index(u64),
    /// A key not yet in the tree; it gets the next free index.
    NewKey(PublicKey),
}

/// An unsigned transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Chain the transfer is valid on.
    pub chain_id: u64,
    /// Sender's account index.
    pub from: u64,
    /// Receiver.
    pub to: Recipient,
    /// Amount moved to the receiver.
    pub amount: u64,
    /// Fee paid to the block producer.
    pub fee: u64,
    /// Must equal the sender's nonce before the transfer.
    pub nonce: u64,
}

/// A transfer with its EdDSA-Poseidon signature over [`Transfer::message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransfer {
    /// The transfer.
    pub tx: Transfer,
    /// The sender's signature.
    pub sig: Signature,
}

/// Errors decoding a transfer.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferDecodeError {
    /// Wrong length for its kind.
    #[error("transfer encoding has {got} bytes, expected {expected}")]
    Length {
        /// Bytes expected for the kind.
        expected: usize,
        /// Bytes seen.
        got: usize,
    },
    /// Unknown version byte.
    #[error("unknown transfer version {0}")]
    Version(u8),
    /// Unknown recipient kind.
    #[error("unknown transfer kind {0}")]
    Kind(u8),
    /// The recipient key or the signature's R8 is malformed or invalid.
    #[error("transfer contains an invalid point: {0}")]
    Point(#[from] SignatureError),
}

fn pow2(bits: u32) -> Fr {
    Fr::from(BigUint::from(1u8) << bits)
}

impl Transfer {
    /// The recipient kind byte.
    pub fn kind(&self) -> u8 {
        match self.to {
            Recipient::Index(_) => KIND_TO_INDEX,
            Recipient::NewKey(_) => KIND_TO_NEW_KEY,
        }
    }

    /// The message parts as field elements.
    pub fn message_fields(&self) -> MessageFields {
        let (to_index, to) = match self.to {
            Recipient::Index(i) => (i, (Fr::zero(), Fr::zero())),
            Recipient::NewKey(k) => (0, (k.0.x, k.0.y)),
        };
        MessageFields {
            amount: Fr::from(self.amount),
            fee: Fr::from(self.fee),
            nonce: Fr::from(self.nonce),
            from: Fr::from(self.from),
            to_index: Fr::from(to_index),
            chain_id: Fr::from(self.chain_id),
            kind: Fr::from(self.kind()),
            to,
        }
    }

    /// `(w0, w1, to.x, to.y)`, the message hash inputs.
    pub fn message_inputs(&self) -> [Fr; 4] {
        self.message_fields().inputs()
    }

    /// The signed message (also the transfer's id).
    pub fn message(&self) -> Fr {
        self.message_fields().message()
    }

    /// Whether the transfer meets the protocol's rules for creating an account
    /// ([`NEW_ACCOUNT_MIN_AMOUNT`], [`NEW_ACCOUNT_MIN_FEE`]); always true for an index recipient.
    pub fn pays_for_new_account(&self) -> bool {
        !matches!(self.to, Recipient::NewKey(_))
            || (self.amount >= NEW_ACCOUNT_MIN_AMOUNT && self.fee >= NEW_ACCOUNT_MIN_FEE)
    }

    /// Signs with `secret`.
    pub fn sign(self, secret: &SecretKey) -> SignedTransfer {
        let sig = secret.sign(self.message());
        SignedTransfer { tx: self, sig }
    }
}

impl SignedTransfer {
    /// Checks the signature against the sender's key.
    pub fn verify(&self, sender: &PublicKey) -> Result<(), SignatureError> {
        sender.verify(self.tx.message(), &self.sig)
    }

    /// Binary encoding (little-endian integers):
    /// `version (1) || kind (1) || chain_id (8) || from (8) || to (8: index | 32: packed key) ||
    /// amount (8) || fee (8) || nonce (8) || signature (64: packed R8 || S)`.
    /// `None` only if S does not fit in 32 bytes (never for signatures made here or decoded).
    pub fn encode(&self) -> Option<Vec<u8>> {
        let t = &self.tx;
        let mut out = Vec::with_capacity(MAX_TRANSFER_BYTES);
        out.push(TRANSFER_VERSION);
        out.push(t.kind());
        out.extend_from_slice(&t.chain_id.to_le_bytes());
        out.extend_from_slice(&t.from.to_le_bytes());
        match t.to {
            Recipient::Index(i) => out.extend_from_slice(&i.to_le_bytes()),
            Recipient::NewKey(k) => out.extend_from_slice(&k.pack()),
        }
        out.extend_from_slice(&t.amount.to_le_bytes());
        out.extend_from_slice(&t.fee.to_le_bytes());
        out.extend_from_slice(&t.nonce.to_le_bytes());
        out.extend_from_slice(&self.sig.pack()?);
        Some(out)
    }

    /// Decodes [`SignedTransfer::encode`]. Refuses trailing bytes, unknown versions and kinds,
    /// non-canonical or invalid points. `S` is range-checked at verification.
    pub fn decode(bytes: &[u8]) -> Result<Self, TransferDecodeError> {
        let short = |expected| TransferDecodeError::Length {
            expected,
            got: bytes.len(),
        };
        if bytes.len() < 2 {
            return Err(short(2));
        }
        if bytes[0] != TRANSFER_VERSION {
            return Err(TransferDecodeError::Version(bytes[0]));
        }
        let to_len = match bytes[1] {
            KIND_TO_INDEX => 8,
            KIND_TO_NEW_KEY => 32,
            k => return Err(TransferDecodeError::Kind(k)),
        };
        let expected = 2 + 16 + to_len + 24 + 64;
        if bytes.len() != expected {
            return Err(short(expected));
        }
        let u = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let to = if to_len == 8 {
            Recipient::Index(u(18))
        } else {
            Recipient::NewKey(PublicKey::unpack(&bytes[18..50])?)
        };
        let rest = 18 + to_len;
        Ok(Self {
            tx: Transfer {
                chain_id: u(2),
                from: u(10),
                to,
                amount: u(rest),
                fee: u(rest + 8),
                nonce: u(rest + 16),
            },
            sig: Signature::unpack(&bytes[rest + 24..])?,
        })
    }
}
