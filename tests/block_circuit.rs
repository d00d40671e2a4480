//! The block circuit against native execution: a block executed by the state machine satisfies it,
//! its public inputs are the native roots and commitment, and changing any witness value makes it
//! unsatisfied. The witness is field-level (`Fr` everywhere), so the mutations are what a
//! malicious prover could assign, including coordinated changes of several values (the audited
//! aliasing attack on the chain id is a named regression). Also the constraint budget at depth 32.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustorium::halo2::native::{self, Trace};
use rustorium_circuits::block::NUM_PUBLIC_INPUTS;

use ark_ff::{AdditiveGroup, Field, PrimeField};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
use rustorium::accel::CpuHasher;
use rustorium::state::{StateStore, StoreOptions, dev_secret, execute_block};
use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::block::{BlockCircuit, CircuitShape, tx_commitment};
use rustorium_circuits::transfer::{
    NEW_ACCOUNT_MIN_AMOUNT, NEW_ACCOUNT_MIN_FEE, Recipient, SignedTransfer, Transfer,
};

const CHAIN: u64 = 11;
const DEPTH: usize = 6;
const PRODUCER: u64 = 3;
const HEIGHT: u64 = 1;

fn t(from: u64, to: Recipient, amount: u64, fee: u64, nonce: u64) -> SignedTransfer {
    Transfer {
        chain_id: CHAIN,
        from,
        to,
        amount,
        fee,
        nonce,
    }
    .sign(&dev_secret(from))
}

/// A fresh store with accounts 0..5 (devnet keys, balance 1000·(i+1)) at version 0.
fn store() -> (tempfile::TempDir, StateStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::create(
        &dir.path().join("s.redb"),
        DEPTH,
        CHAIN,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    let genesis: BTreeMap<u64, Account> = (0..5u64)
        .map(|i| (i, Account::new(dev_secret(i).public_key(), 1_000 * (i + 1))))
        .collect();
    store.commit(0, &genesis).expect("genesis");
    (dir, store)
}

/// A block of `txs` executed natively on a fresh store, laid out for `capacity` slots.
fn executed(txs: &[SignedTransfer], capacity: usize) -> BlockCircuit {
    let (_dir, store) = store();
    let block = execute_block(&store, txs, PRODUCER, true).expect("execute");
    assert!(block.rejected.is_empty(), "{:?}", block.rejected);
    let w = block.witness.expect("witness");
    let circuit = BlockCircuit::from_witness(
        &w,
        PRODUCER,
        HEIGHT,
        CircuitShape {
            depth: DEPTH,
            capacity,
        },
    )
    .expect("layout");
    let expected_commitment = tx_commitment(
        CHAIN,
        PRODUCER,
        block
            .applied
            .iter()
            .map(|a| (a.tx.tx.message(), a.to_index)),
    );
    assert_eq!(
        circuit.public_inputs(),
        [
            block.old_root,
            block.new_root,
            expected_commitment,
            Fr::from(CHAIN),
            Fr::from(HEIGHT)
        ]
    );
    circuit
}

fn satisfied(c: &BlockCircuit) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    match c.clone().generate_constraints(cs.clone()) {
        Ok(()) => cs.is_satisfied().expect("check"),
        Err(_) => false,
    }
}

/// Whether `c` satisfies both circuits; they must agree.
fn both(c: &BlockCircuit) -> bool {
    let r1cs = satisfied(c);
    assert_eq!(
        r1cs,
        halo2_satisfied(c),
        "Groth16's and halo2's circuits disagree"
    );
    r1cs
}

/// Whether `c`'s witness satisfies the halo2 circuit of its shape (the chips' rules evaluated
/// directly: every gate, lookup, copy constraint and the instance), and its layout is the
/// shape's, the one keys are made for.
fn halo2_satisfied(c: &BlockCircuit) -> bool {
    let Ok(trace) = native::trace(c) else {
        return false;
    };
    assert_eq!(
        trace.layout,
        halo2_layout(c.shape),
        "a witness changed the layout"
    );
    trace.check(&c.public_inputs()).is_ok()
}

/// The layout of a shape's blank witness (what the keys are made from).
fn halo2_layout(shape: CircuitShape) -> native::Layout {
    native::trace(&BlockCircuit::blank(shape).expect("shape"))
        .expect("layout")
        .layout
}

/// `MockProver` on a trace with `public` as the instance.
fn mock(trace: &Trace, public: &[Fr]) -> bool {
    rustorium::halo2::mock_satisfied(trace, public)
}

fn sample_block() -> Vec<SignedTransfer> {
    vec![
        t(0, Recipient::Index(2), 100, 3, 0),
        t(2, Recipient::NewKey(dev_secret(40).public_key()), 120, 1, 0),
        t(1, Recipient::Index(1), 10, 2, 0), // to self
    ]
}

#[test]
fn executed_blocks_satisfy_the_circuit() {
    assert!(both(&executed(&sample_block(), 4)));
    assert!(both(&executed(&sample_block(), 3)));
    // A block paying the producer, and a new account at exactly the protocol minimums.
    assert!(both(&executed(
        &[t(4, Recipient::Index(PRODUCER), 7, 9, 0)],
        2
    )));
    assert!(both(&executed(
        &[t(
            4,
            Recipient::NewKey(dev_secret(41).public_key()),
            NEW_ACCOUNT_MIN_AMOUNT,
            NEW_ACCOUNT_MIN_FEE,
            0
        )],
        1
    )));
}

/// The halo2 circuit is satisfied by executed blocks with the native roots and commitment as its
/// instance, and by no other instance: by its rules and by halo2's `MockProver`.
#[test]
fn executed_blocks_satisfy_the_halo2_circuit_with_the_native_public_inputs() {
    let good = executed(&sample_block(), 4);
    assert!(halo2_satisfied(&good));
    let trace = native::trace(&good).expect("layout");
    let public = good.public_inputs();
    assert!(mock(&trace, &public));
    for i in 0..NUM_PUBLIC_INPUTS {
        let mut other = public;
        other[i] += Fr::ONE;
        assert!(trace.check(&other).is_err(), "public input {i} changed");
        assert!(!mock(&trace, &other), "public input {i} changed");
    }
}

#[test]
fn blocks_without_transfers_have_no_witness_and_no_satisfying_assignment() {
    let (_dir, store) = store();
    // Native layout refuses an empty block...
    let block = execute_block(&store, &[], PRODUCER, true).expect("execute");
    let shape = CircuitShape {
        depth: DEPTH,
        capacity: 2,
    };
    assert!(
        BlockCircuit::from_witness(&block.witness.expect("w"), PRODUCER, 1, shape).is_err(),
        "an empty block was laid out"
    );
    // ...and a malicious prover's all-padding assignment (old root = new root, an honest fee
    // credit of 0 to the producer) does not satisfy the circuit: it would let a server pad a chain
    // with no-op proofs at later heights.
    let (_dir, store) = self::store();
    let r = store.reader().expect("r");
    let root = r.root(0).expect("root");
    let producer = r.account(PRODUCER, 0).expect("read").expect("producer");
    let mut noop = BlockCircuit::blank(shape).expect("shape");
    noop.chain_id = Fr::from(CHAIN);
    noop.height = Fr::from(2u64);
    noop.producer = Fr::from(PRODUCER);
    noop.producer_leaf = rustorium_circuits::block::LeafFields {
        x: producer.pubkey.0.x,
        y: producer.pubkey.0.y,
        balance: Fr::from(producer.balance),
        nonce: Fr::from(producer.nonce),
    };
    noop.producer_siblings = r.siblings(PRODUCER, 0).expect("siblings");
    noop.old_root = root;
    noop.new_root = root;
    assert!(!both(&noop), "a no-op block satisfies the circuit");
    // Everything else of that assignment is consistent: the producer's path gives the root, so
    // the first-slot rule is what refuses it.
    assert_eq!(
        rustorium_circuits::merkle::root_from_path(
            producer.leaf(),
            PRODUCER,
            &noop.producer_siblings
        ),
        root
    );
}

/// A change to a witness.
type Mutation<'a> = dyn Fn(&mut BlockCircuit) + 'a;

/// `2^k` in the field.
fn pow2(k: u32) -> Fr {
    Fr::from(2u64).pow([u64::from(k)])
}

/// The signed message a slot encodes, computed natively from its field-level values (what the
/// circuit packs).
fn slot_message(c: &BlockCircuit, i: usize) -> Fr {
    let s = &c.slots[i];
    let zero = Fr::ZERO;
    rustorium_circuits::transfer::MessageFields {
        amount: s.amount,
        fee: s.fee,
        nonce: s.sender.nonce,
        from: s.from,
        to_index: if s.new_key { zero } else { s.to_index },
        chain_id: c.chain_id,
        kind: Fr::from(if s.new_key { 2u64 } else { 1 }),
        to: if s.new_key {
            (s.receiver.x, s.receiver.y)
        } else {
            (zero, zero)
        },
    }
    .message()
}

#[test]
fn every_mutated_witness_value_is_unsatisfiable() {
    let good = executed(&sample_block(), 4);
    assert!(satisfied(&good));
    let one = Fr::ONE;
    let mut cases: Vec<(String, BlockCircuit)> = Vec::new();
    let mut m = |name: &str, f: &dyn Fn(&mut BlockCircuit)| {
        let mut c = good.clone();
        f(&mut c);
        cases.push((name.to_string(), c));
    };
    m("old root", &|c| c.old_root += one);
    m("new root", &|c| c.new_root += one);
    m("chain id", &|c| c.chain_id += one);
    m("chain id 2^64", &|c| c.chain_id = pow2(64));
    m("height 2^64", &|c| c.height = pow2(64));
    m("height -1", &|c| c.height = -one);
    m("producer index", &|c| c.producer = Fr::from(2u64));
    m("producer index + 2^depth", &|c| {
        c.producer += pow2(DEPTH as u32)
    });
    m("producer balance", &|c| c.producer_leaf.balance += one);
    m("producer nonce", &|c| c.producer_leaf.nonce += one);
    m("producer key", &|c| c.producer_leaf.x += one);
    for l in 0..DEPTH {
        m(&format!("producer sibling {l}"), &|c| {
            c.producer_siblings[l] += one
        });
    }
    for i in 0..3 {
        m(&format!("slot {i} enabled"), &|c| {
            c.slots[i].enabled = false
        });
        m(&format!("slot {i} new_key"), &|c| {
            c.slots[i].new_key ^= true
        });
        m(&format!("slot {i} from"), &|c| c.slots[i].from += one);
        m(&format!("slot {i} to"), &|c| c.slots[i].to_index += one);
        m(&format!("slot {i} amount"), &|c| c.slots[i].amount += one);
        m(&format!("slot {i} amount -1"), &|c| {
            c.slots[i].amount = -one
        });
        m(&format!("slot {i} fee"), &|c| c.slots[i].fee += one);
        m(&format!("slot {i} fee -1"), &|c| c.slots[i].fee = -one);
        m(&format!("slot {i} R8.x"), &|c| c.slots[i].r8.x += one);
        m(&format!("slot {i} R8.y"), &|c| c.slots[i].r8.y += one);
        m(&format!("slot {i} S"), &|c| c.slots[i].s += 1u32);
        m(&format!("slot {i} sender x"), &|c| {
            c.slots[i].sender.x += one
        });
        m(&format!("slot {i} sender y"), &|c| {
            c.slots[i].sender.y += one
        });
        m(&format!("slot {i} sender balance"), &|c| {
            c.slots[i].sender.balance += one
        });
        m(&format!("slot {i} sender nonce"), &|c| {
            c.slots[i].sender.nonce += one
        });
        m(&format!("slot {i} receiver x"), &|c| {
            c.slots[i].receiver.x += one
        });
        m(&format!("slot {i} receiver y"), &|c| {
            c.slots[i].receiver.y += one
        });
        m(&format!("slot {i} receiver balance"), &|c| {
            c.slots[i].receiver.balance += one
        });
        m(&format!("slot {i} receiver nonce"), &|c| {
            c.slots[i].receiver.nonce += one
        });
        for l in 0..DEPTH {
            m(&format!("slot {i} sender sibling {l}"), &|c| {
                c.slots[i].sender_siblings[l] += one
            });
            m(&format!("slot {i} receiver sibling {l}"), &|c| {
                c.slots[i].receiver_siblings[l] += one
            });
        }
        // Coordinated changes that keep the packed message words (and so the signature) intact:
        // only the 64-bit range checks stand between them and a valid proof.
        let coordinated: [(&str, &Mutation<'_>); 3] = [
            ("amount + 2^64, fee - 1", &|c| {
                c.slots[i].amount += pow2(64);
                c.slots[i].fee -= one;
            }),
            ("fee + 2^64, nonce - 1", &|c| {
                c.slots[i].fee += pow2(64);
                c.slots[i].sender.nonce -= one;
            }),
            ("amount - 1, fee + 2^-64", &|c| {
                c.slots[i].amount -= one;
                c.slots[i].fee += pow2(64).inverse().expect("invertible");
            }),
        ];
        for (name, f) in coordinated {
            let mut c = good.clone();
            f(&mut c);
            assert_eq!(
                slot_message(&c, i),
                slot_message(&good, i),
                "{name}: not an aliasing change"
            );
            m(&format!("slot {i} {name}"), f);
        }
    }
    // Padding: switching a padding slot on, giving it a fee, a gap before a transfer.
    m("padding enabled", &|c| c.slots[3].enabled = true);
    m("padding fee", &|c| c.slots[3].fee = one);
    m("gap before a transfer", &|c| c.slots.swap(2, 3));
    // Reordering transfers changes the roots chain and the commitment.
    m("swap slots", &|c| c.slots.swap(0, 1));
    // A new account below the protocol minimums (slot 1 creates one): amount 0 with the sender's
    // balance compensated, so only the minimum rule is broken.
    m("new account amount 0", &|c| {
        let s = &mut c.slots[1];
        s.sender.balance -= s.amount;
        s.amount = Fr::ZERO;
    });
    // Each case synthesizes a whole block circuit: in parallel.
    use rayon::prelude::*;
    let survivors: Vec<&str> = cases
        .par_iter()
        .filter(|(_, c)| satisfied(c))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        survivors.is_empty(),
        "mutating these left the circuit satisfied: {survivors:?}"
    );
    // The same mutations against the halo2 circuit.
    let survivors: Vec<&str> = cases
        .par_iter()
        .filter(|(_, c)| halo2_satisfied(c))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        survivors.is_empty(),
        "mutating these left the halo2 circuit satisfied: {survivors:?}"
    );
    // halo2's MockProver agrees on a sample (one mutation of each kind of value).
    for name in [
        "old root",
        "producer index",
        "slot 0 S",
        "slot 1 receiver x",
        "slot 2 amount + 2^64, fee - 1",
        "padding fee",
    ] {
        let (_, c) = cases.iter().find(|(n, _)| n == name).expect("case");
        let trace = native::trace(c).expect("layout");
        assert!(
            !mock(&trace, &c.public_inputs()),
            "MockProver accepts {name}"
        );
    }
    assert!(cases.len() > 100);
}

/// The audit's attack: a prover takes Alice's transfer to Bob and credits Mallory instead, by
/// choosing `chain' = chain + (bob - mallory)·2^-64` so that the message packed for Mallory equals
/// the one Alice signed for Bob. Every other value of the witness is honest (the paths of a real
/// transfer to Mallory). With the chain id a 64-bit public input this is unsatisfiable.
#[test]
fn a_prover_cannot_redirect_a_signed_transfer_by_aliasing_the_chain_id() {
    let (alice, bob, mallory) = (0u64, 2u64, 4u64);
    let to_bob = t(alice, Recipient::Index(bob), 500, 3, 0);
    // The honest witness of the transfer Alice never signed (paths, balances, roots).
    let to_mallory = Transfer {
        to: Recipient::Index(mallory),
        ..to_bob.tx
    }
    .sign(&dev_secret(alice));
    let honest_to_mallory = executed(std::slice::from_ref(&to_mallory), 1);
    assert!(both(&honest_to_mallory));
    // Alice's real signature, and the aliasing chain id.
    let mut forged = honest_to_mallory.clone();
    forged.slots[0].r8 = to_bob.sig.r8;
    forged.slots[0].s = to_bob.sig.s.clone();
    let shift = (Fr::from(bob) - Fr::from(mallory)) * pow2(64).inverse().expect("invertible");
    forged.chain_id += shift;
    assert_eq!(
        slot_message(&forged, 0),
        to_bob.tx.message(),
        "the forged slot must pack to the message Alice signed"
    );
    to_bob
        .verify(&dev_secret(alice).public_key())
        .expect("Alice's signature");
    assert!(
        forged.chain_id.into_bigint() > Fr::from(u64::MAX).into_bigint(),
        "the aliasing chain id is not a u64"
    );
    assert!(
        !both(&forged),
        "a prover redirected Alice's transfer to Mallory"
    );
}

#[test]
fn constraint_budget_at_depth_32() {
    let count = |capacity: usize| {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(SynthesisMode::Setup);
        BlockCircuit::blank(CircuitShape {
            depth: 32,
            capacity,
        })
        .expect("shape")
        .generate_constraints(cs.clone())
        .expect("synthesize");
        cs.num_constraints()
    };
    let (one, two) = (count(1), count(2));
    let per_transfer = two - one;
    println!(
        "depth 32: capacity 1 = {one} constraints, per transfer = {per_transfer}, block overhead = {}",
        one - per_transfer
    );
    assert!(
        per_transfer <= 40_000,
        "{per_transfer} constraints per transfer"
    );
    // halo2's rows: the chips keep a depth-32 transfer at about 11.6k rows (four 32-level paths
    // of 67-row hashes, the signature's two scalar multiplications), one transfer in 2^14 rows.
    let rows = |capacity| {
        halo2_layout(CircuitShape {
            depth: 32,
            capacity,
        })
        .rows()
    };
    let (one, two) = (rows(1), rows(2));
    println!(
        "halo2 at depth 32: capacity 1 = {one} rows, per transfer = {}",
        two - one
    );
    assert!(two - one <= 12_500, "{} rows per transfer", two - one);
    let layout = halo2_layout(CircuitShape {
        depth: 32,
        capacity: 1,
    });
    assert_eq!(native::k_of(&layout), 14, "depth 32 x 1 fits 2^14 rows");
}

/// The witness of one transfer to a new key, built leaf by leaf on a store (not by native
/// execution, which refuses transfers below the account-creation minimums): sender 4 pays
/// `amount` and `fee` to a fresh key at index 5, the fee goes to the producer.
fn new_account_witness(amount: u64, fee: u64) -> BlockCircuit {
    use rustorium_circuits::witness::{BlockWitness, LeafUpdate, TransferWitness};
    let (_dir, store) = store();
    let key = dev_secret(77).public_key();
    let tx = t(4, Recipient::NewKey(key), amount, fee, 0);
    let read = |i: u64, v: u64| {
        let r = store.reader().expect("r");
        (
            r.account(i, v).expect("read"),
            r.siblings(i, v).expect("siblings"),
        )
    };
    let old_root = store.reader().expect("r").root(0).expect("root");
    // Each leaf changes in its own version, so that each update's siblings are read as the
    // circuit sees them.
    let update = |version: u64, index: u64, new: Account| {
        let (old, siblings) = read(index, version - 1);
        store
            .commit(version, &BTreeMap::from([(index, new)]))
            .expect("commit");
        LeafUpdate {
            index,
            old,
            new,
            siblings,
        }
    };
    let sender_old = Account::new(dev_secret(4).public_key(), 5_000);
    let sender = update(
        1,
        4,
        Account {
            balance: sender_old.balance - amount - fee,
            nonce: 1,
            ..sender_old
        },
    );
    let receiver = update(2, 5, Account::new(key, amount));
    let producer_old = Account::new(dev_secret(PRODUCER).public_key(), 4_000);
    let fees = update(
        3,
        PRODUCER,
        Account {
            balance: producer_old.balance + fee,
            ..producer_old
        },
    );
    let w = BlockWitness {
        depth: DEPTH,
        chain_id: CHAIN,
        old_root,
        new_root: store.reader().expect("r").root(3).expect("root"),
        transfers: vec![TransferWitness {
            tx,
            sender,
            receiver,
        }],
        fees,
    };
    BlockCircuit::from_witness(
        &w,
        PRODUCER,
        1,
        CircuitShape {
            depth: DEPTH,
            capacity: 1,
        },
    )
    .expect("layout")
}

/// Creating an account below the protocol minimums is unsatisfiable, everything else about the
/// witness being honest; the same construction at the minimums is satisfied (the control).
#[test]
fn account_creation_below_the_minimums_is_unsatisfiable() {
    assert!(both(&new_account_witness(
        NEW_ACCOUNT_MIN_AMOUNT,
        NEW_ACCOUNT_MIN_FEE
    )));
    assert!(
        !both(&new_account_witness(0, NEW_ACCOUNT_MIN_FEE)),
        "a free account (amount 0) was proven"
    );
    assert!(
        !both(&new_account_witness(NEW_ACCOUNT_MIN_AMOUNT, 0)),
        "an account without a fee was proven"
    );
}
