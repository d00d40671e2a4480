//! The block statement on the native chips: the rules of `rustorium_circuits::block`, stated
//! again rule for rule (same public inputs, same order of checks), with Poseidon rounds, curve
//! additions, swaps and byte lookups as gates instead of R1CS constraints.

use ark_ff::{AdditiveGroup, Field, PrimeField};
use num_bigint::BigUint;
use rustorium_circuits::Fr;
use rustorium_circuits::babyjubjub::{BASE8, subgroup_order};
use rustorium_circuits::block::{BlockCircuit, LeafFields};
use rustorium_circuits::gadgets::eddsa::S_BITS;
use rustorium_circuits::transfer::{NEW_ACCOUNT_MIN_AMOUNT, NEW_ACCOUNT_MIN_FEE};

use super::builder::{Builder, PointVar, Trace, Var};

/// Why a witness cannot be laid out (the same cases the R1CS synthesizer refuses).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Slot or sibling counts differ from the shape.
    #[error("the witness does not have the shape's slots and paths")]
    Shape,
    /// A signature's `S` has more than 251 bits.
    #[error("slot {0}: signature S has more than {S_BITS} bits")]
    SignatureS(usize),
}

struct Leaf {
    x: Var,
    y: Var,
    balance: Var,
    nonce: Var,
}

fn leaf(b: &mut Builder, l: &LeafFields) -> Leaf {
    let [x, y, balance, nonce] = [l.x, l.y, l.balance, l.nonce].map(|v| b.witness(v));
    Leaf {
        x,
        y,
        balance,
        nonce,
    }
}

fn u64_var(b: &mut Builder, v: Fr) -> Var {
    let x = b.witness(v);
    b.range64(x);
    x
}

fn pow2(bits: u32) -> Fr {
    Fr::from(BigUint::from(1u8) << bits)
}

fn root_from_path(b: &mut Builder, leaf: Var, bits: &[Var], siblings: &[Var]) -> Var {
    bits.iter().zip(siblings).fold(leaf, |node, (bit, sib)| {
        let (left, right) = b.swap(*bit, *sib, node);
        b.poseidon(&[left, right])
    })
}

fn double(b: &mut Builder, p: PointVar) -> PointVar {
    b.ec_add(p, p)
}

/// Lays out `c` on the native chips.
///
/// # Errors
/// [`LayoutError`] where the R1CS synthesizer refuses the witness too.
pub fn trace(c: &BlockCircuit) -> Result<Trace, LayoutError> {
    let depth = c.shape.depth;
    if c.slots.len() != c.shape.capacity
        || c.producer_siblings.len() != depth
        || c.slots
            .iter()
            .any(|s| s.sender_siblings.len() != depth || s.receiver_siblings.len() != depth)
    {
        return Err(LayoutError::Shape);
    }
    if let Some(i) = c.slots.iter().position(|s| s.s.bits() as usize > S_BITS) {
        return Err(LayoutError::SignatureS(i));
    }
    let mut b = Builder::new();
    let [old_root, new_root, commitment, chain_id, height] =
        c.public_inputs().map(|v| b.witness(v));
    for v in [old_root, new_root, commitment, chain_id, height] {
        b.public(v);
    }
    // Both are u64s: the chain id's packing into the signed message is injective only then.
    b.range64(chain_id);
    b.range64(height);
    let zero = b.constant(Fr::ZERO);
    let one = b.constant(Fr::ONE);
    let l_minus_1 = subgroup_order() - 1u32;
    let p_minus_1: BigUint = BigUint::from(Fr::MODULUS) - 1u32;

    let (producer_bits, producer) = b.bits(c.producer, depth);
    let mut com = b.poseidon(&[chain_id, producer]);
    let mut root = old_root;
    let mut fees = zero;
    let mut previous_enabled = one;
    for (i, slot) in c.slots.iter().enumerate() {
        let enabled = b.boolean(slot.enabled);
        if i == 0 {
            b.equal(enabled, one);
        } else {
            b.equal_if(enabled, previous_enabled, one);
        }
        previous_enabled = enabled;
        let new_key = b.boolean(slot.new_key);
        let (from_bits, from) = b.bits(slot.from, depth);
        let (to_bits, to_index) = b.bits(slot.to_index, depth);
        let amount = u64_var(&mut b, slot.amount);
        let fee = u64_var(&mut b, slot.fee);
        b.zero_unless(enabled, fee);

        // Sender: in the current root, signed, debited.
        let sender = leaf(&mut b, &slot.sender);
        let sender_sibs: Vec<Var> = slot.sender_siblings.iter().map(|s| b.witness(*s)).collect();
        let old_leaf = b.poseidon(&[sender.x, sender.y, sender.balance, sender.nonce]);
        let r = root_from_path(&mut b, old_leaf, &from_bits, &sender_sibs);
        b.equal_if(enabled, r, root);
        let debited = b.lin(
            &[
                (Fr::ONE, sender.balance),
                (-Fr::ONE, amount),
                (-Fr::ONE, fee),
            ],
            Fr::ZERO,
        );
        b.range64(debited);
        let bumped = b.lin(&[(Fr::ONE, sender.nonce)], Fr::ONE);
        b.range64(bumped);
        let new_leaf = b.poseidon(&[sender.x, sender.y, debited, bumped]);
        let after_sender = root_from_path(&mut b, new_leaf, &from_bits, &sender_sibs);

        // Recipient: an account in that root, or an empty leaf taking a valid new key.
        let recv = leaf(&mut b, &slot.receiver);
        let recv_sibs: Vec<Var> = slot
            .receiver_siblings
            .iter()
            .map(|s| b.witness(*s))
            .collect();
        let key = PointVar {
            x: recv.x,
            y: recv.y,
        };
        b.on_curve(key);
        let cleared = double(&mut b, key);
        let cleared = double(&mut b, cleared);
        let cleared = double(&mut b, cleared);
        let fresh = b.mul(enabled, new_key);
        // Creating an account pays the protocol minimums (amount and fee; u64 minus a bit).
        for (v, min) in [(amount, NEW_ACCOUNT_MIN_AMOUNT), (fee, NEW_ACCOUNT_MIN_FEE)] {
            let rest = b.lin(&[(Fr::ONE, v), (-Fr::from(min), fresh)], Fr::ZERO);
            b.range64(rest);
        }
        let inv = b.witness(if slot.enabled && slot.new_key {
            cleared.x.value.inverse().unwrap_or(Fr::ZERO)
        } else {
            Fr::ZERO
        });
        // fresh ⇒ 8·key ≠ O (whose x is 0).
        b.mul_equals(cleared.x, inv, fresh);
        b.mul_zero(new_key, recv.balance);
        b.mul_zero(new_key, recv.nonce);
        let recv_leaf = b.poseidon(&[recv.x, recv.y, recv.balance, recv.nonce]);
        let recv_old = b.select(new_key, zero, recv_leaf);
        let r = root_from_path(&mut b, recv_old, &to_bits, &recv_sibs);
        b.equal_if(enabled, r, after_sender);
        let credited = b.add(recv.balance, amount);
        b.range64(credited);
        let recv_new = b.poseidon(&[recv.x, recv.y, credited, recv.nonce]);
        let after_recv = root_from_path(&mut b, recv_new, &to_bits, &recv_sibs);

        // The signed message (kind = new_key + 1) and the signature.
        let msg_to_index = b.select(new_key, zero, to_index);
        let w0 = b.lin(
            &[
                (Fr::ONE, amount),
                (pow2(64), fee),
                (pow2(128), sender.nonce),
            ],
            Fr::ZERO,
        );
        let w1 = b.lin(
            &[
                (Fr::ONE, from),
                (pow2(64), msg_to_index),
                (pow2(128), chain_id),
                (pow2(192), new_key),
            ],
            pow2(192),
        );
        let to_x = b.select(new_key, recv.x, zero);
        let to_y = b.select(new_key, recv.y, zero);
        let msg = b.poseidon(&[w0, w1, to_x, to_y]);
        let a = PointVar {
            x: sender.x,
            y: sender.y,
        };
        let r8 = b.point(slot.r8);
        // Not needed for soundness (the verification equation fixes R8), but cheap.
        b.on_curve(r8);
        let (s_bits, _) = b.bits(Fr::from(slot.s.clone()), S_BITS);
        b.leq_const(&s_bits, &l_minus_1);
        let hm = b.poseidon(&[r8.x, r8.y, a.x, a.y, msg]);
        // The hash's canonical bits: 254 of them, at most p − 1.
        let (hm_bits, hm_value) = b.bits(hm.value, Fr::MODULUS_BIT_SIZE as usize);
        b.equal(hm_value, hm);
        b.leq_const(&hm_bits, &p_minus_1);
        let left = b.fixed_base_mul(&s_bits, BASE8);
        let ha = b.scalar_mul(&hm_bits, a);
        let ha = double(&mut b, ha);
        let ha = double(&mut b, ha);
        let ha = double(&mut b, ha);
        let right = b.ec_add(r8, ha);
        b.equal_if(enabled, left.x, right.x);
        b.equal_if(enabled, left.y, right.y);

        root = b.select(enabled, after_recv, root);
        let next_c = b.poseidon(&[com, msg, to_index]);
        com = b.select(enabled, next_c, com);
        fees = b.add(fees, fee);
    }

    // Fees to the producer.
    let p = leaf(&mut b, &c.producer_leaf);
    let p_sibs: Vec<Var> = c.producer_siblings.iter().map(|s| b.witness(*s)).collect();
    let p_old = b.poseidon(&[p.x, p.y, p.balance, p.nonce]);
    let r = root_from_path(&mut b, p_old, &producer_bits, &p_sibs);
    b.equal(r, root);
    let credited = b.add(p.balance, fees);
    b.range64(credited);
    let p_new = b.poseidon(&[p.x, p.y, credited, p.nonce]);
    let r = root_from_path(&mut b, p_new, &producer_bits, &p_sibs);
    b.equal(r, new_root);
    b.equal(com, commitment);
    Ok(b.finish())
}
