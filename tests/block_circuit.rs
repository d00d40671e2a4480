//! The block circuit against native execution: a block executed by the state machine satisfies it,
//! its public inputs are the native roots and commitment, and changing any witness value makes it
//! unsatisfied. Also the constraint budget at depth 32.

use std::collections::BTreeMap;
use std::sync::Arc;

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
use rustorium::accel::CpuHasher;
use rustorium::state::{StateStore, StoreOptions, dev_secret, execute_block};
use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::block::{BlockCircuit, CircuitShape, tx_commitment};
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer};

const CHAIN: u64 = 11;
const DEPTH: usize = 6;
const PRODUCER: u64 = 3;

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

/// A block of `txs` executed natively on a fresh store, laid out for `capacity` slots.
fn executed(txs: &[SignedTransfer], capacity: usize) -> BlockCircuit {
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
    let block = execute_block(&store, txs, PRODUCER, true).expect("execute");
    assert!(block.rejected.is_empty(), "{:?}", block.rejected);
    let w = block.witness.expect("witness");
    let circuit = BlockCircuit::from_witness(
        &w,
        PRODUCER,
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
        [block.old_root, block.new_root, expected_commitment]
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

fn sample_block() -> Vec<SignedTransfer> {
    vec![
        t(0, Recipient::Index(2), 100, 3, 0),
        t(2, Recipient::NewKey(dev_secret(40).public_key()), 120, 1, 0),
        t(1, Recipient::Index(1), 10, 2, 0), // to self
    ]
}

#[test]
fn executed_blocks_satisfy_the_circuit() {
    assert!(satisfied(&executed(&sample_block(), 4)));
    assert!(satisfied(&executed(&sample_block(), 3)));
    // An empty block (fee credit of 0 only) and a block paying the producer.
    assert!(satisfied(&executed(&[], 1)));
    assert!(satisfied(&executed(
        &[t(4, Recipient::Index(PRODUCER), 7, 9, 0)],
        2
    )));
}

#[test]
fn every_mutated_witness_value_is_unsatisfiable() {
    let good = executed(&sample_block(), 4);
    assert!(satisfied(&good));
    let one = Fr::from(1u64);
    let mut cases: Vec<(String, BlockCircuit)> = Vec::new();
    let mut m = |name: &str, f: &dyn Fn(&mut BlockCircuit)| {
        let mut c = good.clone();
        f(&mut c);
        cases.push((name.to_string(), c));
    };
    m("old root", &|c| c.old_root += one);
    m("new root", &|c| c.new_root += one);
    m("chain id", &|c| c.chain_id += 1);
    m("producer index", &|c| c.producer = 2);
    m("producer balance", &|c| c.producer_leaf.balance += 1);
    m("producer nonce", &|c| c.producer_leaf.nonce += 1);
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
        m(&format!("slot {i} from"), &|c| c.slots[i].from ^= 1);
        m(&format!("slot {i} to"), &|c| c.slots[i].to_index ^= 1);
        m(&format!("slot {i} amount"), &|c| c.slots[i].amount += 1);
        m(&format!("slot {i} fee"), &|c| c.slots[i].fee += 1);
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
            c.slots[i].sender.balance += 1
        });
        m(&format!("slot {i} sender nonce"), &|c| {
            c.slots[i].sender.nonce += 1
        });
        m(&format!("slot {i} receiver x"), &|c| {
            c.slots[i].receiver.x += one
        });
        m(&format!("slot {i} receiver y"), &|c| {
            c.slots[i].receiver.y += one
        });
        m(&format!("slot {i} receiver balance"), &|c| {
            c.slots[i].receiver.balance += 1
        });
        m(&format!("slot {i} receiver nonce"), &|c| {
            c.slots[i].receiver.nonce += 1
        });
        for l in 0..DEPTH {
            m(&format!("slot {i} sender sibling {l}"), &|c| {
                c.slots[i].sender_siblings[l] += one
            });
            m(&format!("slot {i} receiver sibling {l}"), &|c| {
                c.slots[i].receiver_siblings[l] += one
            });
        }
    }
    // Padding: switching a padding slot on, or giving it a fee.
    m("padding enabled", &|c| c.slots[3].enabled = true);
    m("padding fee", &|c| c.slots[3].fee = 1);
    // Reordering transfers changes the roots chain and the commitment.
    m("swap slots", &|c| c.slots.swap(0, 1));
    for (name, c) in &cases {
        assert!(!satisfied(c), "mutating {name} left the circuit satisfied");
    }
    assert!(cases.len() > 100);
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
}
