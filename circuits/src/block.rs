//! The block circuit: applying a block's transfers in order to `old_root` yields `new_root`.
//!
//! Public inputs (in order, [`NUM_PUBLIC_INPUTS`]): `old_root`, `new_root`, `commitment`,
//! `chain_id`, `height`, where `commitment = c_N` with `c_0 = Poseidon(chain_id, producer)` and,
//! for each applied transfer in order, `c_{i+1} = Poseidon(c_i, msg_i, to_index_i)` (`msg_i` the
//! signed message, `to_index_i` the recipient's leaf index, assigned for new keys). `chain_id` and
//! `height` are range-checked to 64 bits: the chain id is packed into every signed message, and
//! only a 64-bit chain id keeps that packing injective (otherwise a prover could pick a chain id
//! that makes a message for one recipient equal to the message signed for another).
//!
//! Each of the `capacity` slots is either a transfer or padding (`enabled = 0`); transfers fill a
//! prefix of the slots and the first slot is always a transfer, so a proof never shows a block
//! without transfers. A transfer slot proves: the sender's leaf is in the current root; its key
//! signed `msg`; the transfer nonce is the leaf's; `balance − amount − fee` and `nonce + 1` fit in
//! 64 bits (so nothing goes below zero); the new sender leaf gives the next root with the same
//! siblings; the recipient's leaf (an account, or an empty leaf for a new key, whose key must be on
//! the curve and not of small order, with amount and fee at least the protocol minimums) is in that
//! root and `balance + amount` fits in 64 bits; the new recipient leaf gives the next root. Amounts
//! and fees are 64-bit. A padding slot's fee is 0 and it changes neither root nor commitment. After
//! the slots, the producer's leaf receives the fee total (64-bit checked) and the final root must be
//! `new_root`.
//!
//! Every value of the witness is a field element ([`BlockCircuit`] holds `Fr`, not `u64`), so that
//! soundness tests can assign whatever a malicious prover could; the range checks are what make
//! them integers.
//!
//! What the circuit does not restate from native execution (documented in docs/circuit.md): that a
//! new key takes the *next* free index and is not already in the tree, the prime-order subgroup
//! check of a new key beyond `8·key ≠ O`, and the per-transfer producer fee-overflow rule (the final
//! credit is range-checked).

use ark_ff::{BigInteger, Field, PrimeField};
use ark_r1cs_std::prelude::*;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use num_bigint::BigUint;
use thiserror::Error;

use crate::Fr;
use crate::account::Account;
use crate::babyjubjub::Point;
use crate::gadgets::FrVar;
use crate::gadgets::babyjubjub::PointVar;
use crate::gadgets::eddsa::{alloc_s_bits, verify};
use crate::gadgets::merkle::root_from_path;
use crate::gadgets::poseidon::poseidon;
use crate::merkle::MAX_DEPTH;
use crate::poseidon;
use crate::transfer::{
    KIND_TO_INDEX, KIND_TO_NEW_KEY, MessageFields, NEW_ACCOUNT_MIN_AMOUNT, NEW_ACCOUNT_MIN_FEE,
    Recipient,
};
use crate::witness::{BlockWitness, LeafUpdate};

/// Number of public inputs: old root, new root, commitment, chain id, height.
pub const NUM_PUBLIC_INPUTS: usize = 5;

/// The shape a proving key is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CircuitShape {
    /// Tree depth.
    pub depth: usize,
    /// Transfer slots.
    pub capacity: usize,
}

/// Why a witness cannot be laid out for a circuit shape.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitError {
    /// More transfers than slots.
    #[error("block has {transfers} transfers, the circuit has {capacity} slots")]
    Capacity {
        /// Transfers in the block.
        transfers: usize,
        /// Slots.
        capacity: usize,
    },
    /// The witness's tree depth differs from the circuit's.
    #[error("witness depth {witness} differs from circuit depth {circuit}")]
    Depth {
        /// Witness depth.
        witness: usize,
        /// Circuit depth.
        circuit: usize,
    },
    /// The shape is out of range.
    #[error("unsupported circuit shape: depth {0}, capacity {1}")]
    Shape(usize, usize),
    /// A block without transfers has no proof (the circuit refuses no-op blocks).
    #[error("a block without transfers cannot be proven")]
    Empty,
}

/// Leaf fields as field elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafFields {
    /// Key x.
    pub x: Fr,
    /// Key y.
    pub y: Fr,
    /// Balance.
    pub balance: Fr,
    /// Nonce.
    pub nonce: Fr,
}

impl LeafFields {
    fn of(a: &Account) -> Self {
        Self {
            x: a.pubkey.0.x,
            y: a.pubkey.0.y,
            balance: Fr::from(a.balance),
            nonce: Fr::from(a.nonce),
        }
    }

    /// The identity key with zero balance and nonce: the values of padding slots.
    pub fn padding() -> Self {
        Self {
            x: Fr::from(0u64),
            y: Fr::ONE,
            balance: Fr::from(0u64),
            nonce: Fr::from(0u64),
        }
    }
}

/// The values of one slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// A transfer (`true`) or padding.
    pub enabled: bool,
    /// Sender index.
    pub from: Fr,
    /// Recipient leaf index.
    pub to_index: Fr,
    /// The recipient is a new key.
    pub new_key: bool,
    /// Amount.
    pub amount: Fr,
    /// Fee.
    pub fee: Fr,
    /// Signature R8.
    pub r8: Point,
    /// Signature S.
    pub s: BigUint,
    /// Sender leaf before.
    pub sender: LeafFields,
    /// Sender siblings.
    pub sender_siblings: Vec<Fr>,
    /// Recipient leaf before (for a new key: the key, balance 0, nonce 0; the leaf itself is empty).
    pub receiver: LeafFields,
    /// Recipient siblings (after the sender's update).
    pub receiver_siblings: Vec<Fr>,
}

impl Slot {
    fn padding(depth: usize) -> Self {
        Self {
            enabled: false,
            from: Fr::from(0u64),
            to_index: Fr::from(0u64),
            new_key: false,
            amount: Fr::from(0u64),
            fee: Fr::from(0u64),
            r8: Point::new_unchecked(Fr::from(0u64), Fr::ONE),
            s: BigUint::from(0u32),
            sender: LeafFields::padding(),
            sender_siblings: vec![Fr::from(0u64); depth],
            receiver: LeafFields::padding(),
            receiver_siblings: vec![Fr::from(0u64); depth],
        }
    }
}

/// Every value the circuit needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCircuit {
    /// Shape.
    pub shape: CircuitShape,
    /// Chain id (public input).
    pub chain_id: Fr,
    /// Block height (public input).
    pub height: Fr,
    /// Producer index.
    pub producer: Fr,
    /// Producer leaf before the fee credit.
    pub producer_leaf: LeafFields,
    /// Producer siblings.
    pub producer_siblings: Vec<Fr>,
    /// Root before.
    pub old_root: Fr,
    /// Root after.
    pub new_root: Fr,
    /// Slots, `capacity` of them.
    pub slots: Vec<Slot>,
}

/// `Poseidon(chain_id, producer)` then `Poseidon(c, msg, to_index)` per applied transfer: what a
/// light client recomputes from a block's data.
pub fn tx_commitment(
    chain_id: u64,
    producer: u64,
    transfers: impl IntoIterator<Item = (Fr, u64)>,
) -> Fr {
    commitment_of(
        Fr::from(chain_id),
        Fr::from(producer),
        transfers.into_iter().map(|(m, to)| (m, Fr::from(to))),
    )
}

fn commitment_of(chain_id: Fr, producer: Fr, transfers: impl IntoIterator<Item = (Fr, Fr)>) -> Fr {
    transfers
        .into_iter()
        .fold(poseidon::hash2(chain_id, producer), |c, (msg, to)| {
            poseidon::hash(&[c, msg, to]).expect("arity 3 exists")
        })
}

impl BlockCircuit {
    fn check_shape(shape: CircuitShape) -> Result<(), CircuitError> {
        if shape.depth == 0 || shape.depth > MAX_DEPTH.min(62) || shape.capacity == 0 {
            return Err(CircuitError::Shape(shape.depth, shape.capacity));
        }
        Ok(())
    }

    /// A circuit of `shape` with every slot padding: for key generation (its values are never
    /// proven).
    pub fn blank(shape: CircuitShape) -> Result<Self, CircuitError> {
        Self::check_shape(shape)?;
        Ok(Self {
            shape,
            chain_id: Fr::from(0u64),
            height: Fr::from(0u64),
            producer: Fr::from(0u64),
            producer_leaf: LeafFields::padding(),
            producer_siblings: vec![Fr::from(0u64); shape.depth],
            old_root: Fr::from(0u64),
            new_root: Fr::from(0u64),
            slots: vec![Slot::padding(shape.depth); shape.capacity],
        })
    }

    /// Lays out the witness of the executed block at `height` for `shape`, padding unused slots.
    pub fn from_witness(
        w: &BlockWitness,
        producer: u64,
        height: u64,
        shape: CircuitShape,
    ) -> Result<Self, CircuitError> {
        Self::check_shape(shape)?;
        if w.transfers.is_empty() {
            return Err(CircuitError::Empty);
        }
        if w.depth != shape.depth {
            return Err(CircuitError::Depth {
                witness: w.depth,
                circuit: shape.depth,
            });
        }
        if w.transfers.len() > shape.capacity {
            return Err(CircuitError::Capacity {
                transfers: w.transfers.len(),
                capacity: shape.capacity,
            });
        }
        let mut slots: Vec<Slot> = w
            .transfers
            .iter()
            .map(|t| {
                let tx = &t.tx.tx;
                let new_key = matches!(tx.to, Recipient::NewKey(_));
                Slot {
                    enabled: true,
                    from: Fr::from(tx.from),
                    to_index: Fr::from(t.receiver.index),
                    new_key,
                    amount: Fr::from(tx.amount),
                    fee: Fr::from(tx.fee),
                    r8: t.tx.sig.r8,
                    s: t.tx.sig.s.clone(),
                    sender: t
                        .sender
                        .old
                        .map_or(LeafFields::padding(), |a| LeafFields::of(&a)),
                    sender_siblings: t.sender.siblings.clone(),
                    receiver: match t.receiver.old {
                        Some(a) => LeafFields::of(&a),
                        None => LeafFields {
                            balance: Fr::from(0u64),
                            nonce: Fr::from(0u64),
                            ..LeafFields::of(&t.receiver.new)
                        },
                    },
                    receiver_siblings: t.receiver.siblings.clone(),
                }
            })
            .collect();
        slots.resize(shape.capacity, Slot::padding(shape.depth));
        let LeafUpdate { old, siblings, .. } = &w.fees;
        Ok(Self {
            shape,
            chain_id: Fr::from(w.chain_id),
            height: Fr::from(height),
            producer: Fr::from(producer),
            producer_leaf: old.map_or(LeafFields::padding(), |a| LeafFields::of(&a)),
            producer_siblings: siblings.clone(),
            old_root: w.old_root,
            new_root: w.new_root,
            slots,
        })
    }

    /// The public inputs, in order: old root, new root, commitment, chain id, height.
    pub fn public_inputs(&self) -> [Fr; NUM_PUBLIC_INPUTS] {
        [
            self.old_root,
            self.new_root,
            self.commitment(),
            self.chain_id,
            self.height,
        ]
    }

    /// The transaction commitment of the enabled slots.
    pub fn commitment(&self) -> Fr {
        commitment_of(
            self.chain_id,
            self.producer,
            self.slots
                .iter()
                .filter(|s| s.enabled)
                .map(|s| (slot_message(self.chain_id, s), s.to_index)),
        )
    }
}

/// The slot's signed message as the circuit builds it, from field-level values.
fn slot_message(chain_id: Fr, s: &Slot) -> Fr {
    let zero = Fr::from(0u64);
    MessageFields {
        amount: s.amount,
        fee: s.fee,
        nonce: s.sender.nonce,
        from: s.from,
        to_index: if s.new_key { zero } else { s.to_index },
        chain_id,
        kind: Fr::from(if s.new_key {
            KIND_TO_NEW_KEY
        } else {
            KIND_TO_INDEX
        }),
        to: if s.new_key {
            (s.receiver.x, s.receiver.y)
        } else {
            (zero, zero)
        },
    }
    .message()
}

/// Allocates a witness and range-checks it to 64 bits (65 constraints).
fn alloc_u64(cs: &ConstraintSystemRef<Fr>, v: Fr) -> Result<FrVar, SynthesisError> {
    let x = FrVar::new_witness(cs.clone(), || Ok(v))?;
    range64(&x)?;
    Ok(x)
}

/// Enforces `0 <= x < 2^64`.
fn range64(x: &FrVar) -> Result<(), SynthesisError> {
    x.to_bits_le_with_top_bits_zero(64).map(|_| ())
}

/// Allocates an index as `depth` bits (the low bits of `v`; the index variable is their sum, so it
/// is below `2^depth` whatever `v` is).
fn alloc_index(
    cs: &ConstraintSystemRef<Fr>,
    v: Fr,
    depth: usize,
) -> Result<(FrVar, Vec<Boolean<Fr>>), SynthesisError> {
    let v = v.into_bigint();
    let bits: Vec<Boolean<Fr>> = (0..depth)
        .map(|l| Boolean::new_witness(cs.clone(), || Ok(v.get_bit(l))))
        .collect::<Result<_, _>>()?;
    Ok((Boolean::le_bits_to_fp(&bits)?, bits))
}

fn alloc_frs(cs: &ConstraintSystemRef<Fr>, v: &[Fr]) -> Result<Vec<FrVar>, SynthesisError> {
    v.iter()
        .map(|x| FrVar::new_witness(cs.clone(), || Ok(*x)))
        .collect()
}

struct LeafVars {
    x: FrVar,
    y: FrVar,
    balance: FrVar,
    nonce: FrVar,
}

fn alloc_leaf(cs: &ConstraintSystemRef<Fr>, l: &LeafFields) -> Result<LeafVars, SynthesisError> {
    Ok(LeafVars {
        x: FrVar::new_witness(cs.clone(), || Ok(l.x))?,
        y: FrVar::new_witness(cs.clone(), || Ok(l.y))?,
        balance: FrVar::new_witness(cs.clone(), || Ok(l.balance))?,
        nonce: FrVar::new_witness(cs.clone(), || Ok(l.nonce))?,
    })
}

fn leaf_hash(
    x: &FrVar,
    y: &FrVar,
    balance: &FrVar,
    nonce: &FrVar,
) -> Result<FrVar, SynthesisError> {
    poseidon(&[x.clone(), y.clone(), balance.clone(), nonce.clone()])
}

fn pow2(bits: u32) -> Fr {
    Fr::from(BigUint::from(1u8) << bits)
}

impl ConstraintSynthesizer<Fr> for BlockCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let depth = self.shape.depth;
        if self.slots.len() != self.shape.capacity
            || self.producer_siblings.len() != depth
            || self
                .slots
                .iter()
                .any(|s| s.sender_siblings.len() != depth || s.receiver_siblings.len() != depth)
        {
            return Err(SynthesisError::Unsatisfiable);
        }
        let commitment_value = self.commitment();
        let old_root = FrVar::new_input(cs.clone(), || Ok(self.old_root))?;
        let new_root = FrVar::new_input(cs.clone(), || Ok(self.new_root))?;
        let commitment = FrVar::new_input(cs.clone(), || Ok(commitment_value))?;
        let chain_id = FrVar::new_input(cs.clone(), || Ok(self.chain_id))?;
        let height = FrVar::new_input(cs.clone(), || Ok(self.height))?;
        // Both are u64s: the chain id's packing into the signed message is injective only then.
        range64(&chain_id)?;
        range64(&height)?;

        let (producer, producer_bits) = alloc_index(&cs, self.producer, depth)?;
        let mut c = poseidon(&[chain_id.clone(), producer])?;
        let mut root = old_root;
        let mut fees = FrVar::zero();
        // Transfers fill a prefix of the slots, starting with the first: no block without one.
        let mut previous_enabled = Boolean::TRUE;

        for (i, slot) in self.slots.iter().enumerate() {
            let enabled = Boolean::new_witness(cs.clone(), || Ok(slot.enabled))?;
            if i == 0 {
                enabled.enforce_equal(&Boolean::TRUE)?;
            } else {
                previous_enabled.conditional_enforce_equal(&Boolean::TRUE, &enabled)?;
            }
            previous_enabled = enabled.clone();
            let new_key = Boolean::new_witness(cs.clone(), || Ok(slot.new_key))?;
            let (from, from_bits) = alloc_index(&cs, slot.from, depth)?;
            let (to_index, to_bits) = alloc_index(&cs, slot.to_index, depth)?;
            let amount = alloc_u64(&cs, slot.amount)?;
            let fee = alloc_u64(&cs, slot.fee)?;
            fee.conditional_enforce_equal(&FrVar::zero(), &!&enabled)?;

            // Sender: in the current root, signed, debited.
            let sender = alloc_leaf(&cs, &slot.sender)?;
            let sender_sibs = alloc_frs(&cs, &slot.sender_siblings)?;
            let old_leaf = leaf_hash(&sender.x, &sender.y, &sender.balance, &sender.nonce)?;
            root_from_path(&old_leaf, &from_bits, &sender_sibs)?
                .conditional_enforce_equal(&root, &enabled)?;
            let debited = &sender.balance - &amount - &fee;
            range64(&debited)?;
            let bumped = &sender.nonce + Fr::ONE;
            range64(&bumped)?;
            let new_leaf = leaf_hash(&sender.x, &sender.y, &debited, &bumped)?;
            let after_sender = root_from_path(&new_leaf, &from_bits, &sender_sibs)?;

            // Recipient: an account in that root, or an empty leaf taking a valid new key.
            let recv = alloc_leaf(&cs, &slot.receiver)?;
            let recv_sibs = alloc_frs(&cs, &slot.receiver_siblings)?;
            let key = PointVar {
                x: recv.x.clone(),
                y: recv.y.clone(),
            };
            key.enforce_on_curve()?;
            let cleared = key.double()?.double()?.double()?;
            let fresh = &enabled & &new_key;
            // Creating an account pays the protocol minimums (amount and fee; u64 minus a bit).
            range64(&(&amount - FrVar::from(fresh.clone()) * Fr::from(NEW_ACCOUNT_MIN_AMOUNT)))?;
            range64(&(&fee - FrVar::from(fresh.clone()) * Fr::from(NEW_ACCOUNT_MIN_FEE)))?;
            let inv = FrVar::new_witness(cs.clone(), || {
                Ok(if slot.enabled && slot.new_key {
                    cleared.x.value()?.inverse().unwrap_or(Fr::from(0u64))
                } else {
                    Fr::from(0u64)
                })
            })?;
            // fresh ⇒ 8·key ≠ O (whose x is 0).
            cleared.x.mul_equals(&inv, &FrVar::from(fresh))?;
            recv.balance
                .conditional_enforce_equal(&FrVar::zero(), &new_key)?;
            recv.nonce
                .conditional_enforce_equal(&FrVar::zero(), &new_key)?;
            let recv_leaf = leaf_hash(&recv.x, &recv.y, &recv.balance, &recv.nonce)?;
            let recv_old = new_key.select(&FrVar::zero(), &recv_leaf)?;
            root_from_path(&recv_old, &to_bits, &recv_sibs)?
                .conditional_enforce_equal(&after_sender, &enabled)?;
            let credited = &recv.balance + &amount;
            range64(&credited)?;
            let recv_new = leaf_hash(&recv.x, &recv.y, &credited, &recv.nonce)?;
            let after_recv = root_from_path(&recv_new, &to_bits, &recv_sibs)?;

            // The signed message and the signature.
            let kind = FrVar::from(new_key.clone()) + Fr::ONE;
            let msg_to_index = new_key.select(&FrVar::zero(), &to_index)?;
            let w0 = &amount + &fee * pow2(64) + &sender.nonce * pow2(128);
            let w1 = &from + &msg_to_index * pow2(64) + &chain_id * pow2(128) + &kind * pow2(192);
            let to_x = new_key.select(&recv.x, &FrVar::zero())?;
            let to_y = new_key.select(&recv.y, &FrVar::zero())?;
            let msg = poseidon(&[w0, w1, to_x, to_y])?;
            let a = PointVar {
                x: sender.x.clone(),
                y: sender.y.clone(),
            };
            let r8 = PointVar::new_witness(cs.clone(), || Ok(slot.r8))?;
            // Not needed for soundness (the verification equation fixes R8), but cheap.
            r8.enforce_on_curve()?;
            let s_bits = alloc_s_bits(cs.clone(), Some(&slot.s))?;
            verify(&enabled, &a, &r8, &s_bits, &msg)?;

            root = enabled.select(&after_recv, &root)?;
            let next_c = poseidon(&[c.clone(), msg, to_index])?;
            c = enabled.select(&next_c, &c)?;
            fees += &fee;
        }

        // Fees to the producer.
        let p = alloc_leaf(&cs, &self.producer_leaf)?;
        let p_sibs = alloc_frs(&cs, &self.producer_siblings)?;
        let p_old = leaf_hash(&p.x, &p.y, &p.balance, &p.nonce)?;
        root_from_path(&p_old, &producer_bits, &p_sibs)?.enforce_equal(&root)?;
        let credited = &p.balance + &fees;
        range64(&credited)?;
        let p_new = leaf_hash(&p.x, &p.y, &credited, &p.nonce)?;
        root_from_path(&p_new, &producer_bits, &p_sibs)?.enforce_equal(&new_root)?;
        c.enforce_equal(&commitment)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::ConstraintSystem;

    fn in_range(v: Fr) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let x = FrVar::new_witness(cs.clone(), || Ok(v)).expect("alloc");
        range64(&x).expect("synthesize");
        cs.is_satisfied().expect("check")
    }

    #[test]
    fn range_check_is_exactly_64_bits() {
        assert!(in_range(Fr::from(0u64)));
        assert!(in_range(Fr::from(u64::MAX)));
        assert!(!in_range(Fr::from(u64::MAX) + Fr::ONE), "2^64");
        assert!(!in_range(-Fr::ONE), "a negative balance wraps to p - 1");
        assert!(!in_range(Fr::from(0u64) - Fr::from(5u64)));
    }

    #[test]
    fn shapes_and_layouts_are_checked() {
        assert!(
            BlockCircuit::blank(CircuitShape {
                depth: 0,
                capacity: 1
            })
            .is_err()
        );
        assert!(
            BlockCircuit::blank(CircuitShape {
                depth: 4,
                capacity: 0
            })
            .is_err()
        );
        let blank = BlockCircuit::blank(CircuitShape {
            depth: 4,
            capacity: 2,
        })
        .expect("shape");
        let mut broken = blank.clone();
        broken.slots.pop();
        let cs = ConstraintSystem::<Fr>::new_ref();
        assert!(broken.generate_constraints(cs).is_err());
        // A blank circuit's commitment covers no transfer.
        assert_eq!(blank.commitment(), tx_commitment(0, 0, []));
    }
}
