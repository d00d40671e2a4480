//! Block execution: valid transfers move exactly the right amounts and produce a witness that
//! checks; every invalid transfer is rejected with its reason and changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use ark_ec::CurveGroup;
use rustorium::accel::CpuHasher;
use rustorium::state::{StateStore, StoreOptions, TxError, dev_secret, execute_block};
use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::babyjubjub::Point;
use rustorium_circuits::eddsa::{PublicKey, SignatureError};
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer, TransferDecodeError};
use rustorium_circuits::witness::WitnessError;

const CHAIN: u64 = 5;
const PRODUCER: u64 = 3;

/// Accounts 0..=4 with dev keys; 1 is nearly full, 3 (the producer) holds `producer_balance`.
fn setup(depth: usize, producer_balance: u64) -> (tempfile::TempDir, StateStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::create(
        &dir.path().join("s.redb"),
        depth,
        CHAIN,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    let balances = [1_000, u64::MAX - 5, 50, producer_balance, 10];
    let genesis: BTreeMap<u64, Account> = balances
        .iter()
        .enumerate()
        .map(|(i, &b)| (i as u64, Account::new(dev_secret(i as u64).public_key(), b)))
        .collect();
    store.commit(0, &genesis).expect("genesis");
    (dir, store)
}

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

fn accounts(store: &StateStore) -> Vec<Option<Account>> {
    let r = store.reader().expect("reader");
    let v = r.latest_version().expect("latest").expect("some");
    (0..8).map(|i| r.account(i, v).expect("account")).collect()
}

fn total(accs: &[Option<Account>]) -> u128 {
    accs.iter().flatten().map(|a| u128::from(a.balance)).sum()
}

#[test]
fn valid_block_moves_balances_and_its_witness_checks() {
    let (_d, store) = setup(8, 0);
    let before = accounts(&store);
    let newcomer = dev_secret(50).public_key();
    let txs = vec![
        t(0, Recipient::Index(2), 100, 3, 0),
        t(2, Recipient::NewKey(newcomer), 120, 1, 0),
        t(0, Recipient::Index(0), 10, 2, 1), // to self: only the fee leaves
        t(4, Recipient::Index(PRODUCER), 5, 5, 0),
    ];
    let block = execute_block(&store, &txs, PRODUCER, true).expect("execute");
    assert!(block.rejected.is_empty(), "{:?}", block.rejected);
    assert_eq!(block.applied.len(), 4);
    assert_eq!(block.applied[1].to_index, 5);
    assert_eq!(block.total_fees, 11);
    let after = accounts(&store);
    let bal = |i: usize| after[i].expect("present").balance;
    assert_eq!(bal(0), 1_000 - 103 - 2);
    assert_eq!(after[0].expect("present").nonce, 2);
    assert_eq!(bal(2), 50 + 100 - 121);
    assert_eq!(bal(5), 120);
    assert_eq!(after[5].expect("present").pubkey, newcomer);
    assert_eq!(bal(4), 0);
    assert_eq!(bal(3), 5 + 11);
    assert_eq!(
        total(&before),
        total(&after),
        "transfers conserve the supply"
    );
    let w = block.witness.expect("witness");
    assert_eq!(w.check(), Ok(()));
    assert_eq!((w.old_root, w.new_root), (block.old_root, block.new_root));
    assert_eq!(w.transfers.len(), 4);
    assert_eq!(
        store
            .reader()
            .expect("r")
            .index_of(&newcomer)
            .expect("lookup"),
        Some(5)
    );

    // A witness with any value changed no longer checks.
    let mut bad = w.clone();
    bad.transfers[0].sender.siblings[3] += Fr::from(1u64);
    assert!(bad.check().is_err());
    let mut bad = w.clone();
    bad.transfers[1].receiver.new.balance += 1;
    assert!(matches!(bad.check(), Err(WitnessError::Rule(1, _))));
    let mut bad = w.clone();
    bad.fees.new.balance -= 1;
    assert!(bad.check().is_err());
    let mut bad = w.clone();
    bad.transfers[2].tx.tx.amount += 1;
    assert!(matches!(bad.check(), Err(WitnessError::Rule(2, _))));
    let mut bad = w;
    bad.transfers.swap(0, 3);
    assert!(bad.check().is_err());
}

/// Executes one transfer that must be rejected with `expected`; the state must not change.
fn rejected(store: &StateStore, tx: SignedTransfer, expected: TxError) {
    let before = accounts(store);
    let old_root = store.reader().expect("r").root(0).ok();
    let block = execute_block(store, &[tx], PRODUCER, true).expect("execute");
    assert_eq!(block.applied.len(), 0);
    assert_eq!(block.rejected, vec![(0, expected)]);
    assert_eq!(
        block.new_root, block.old_root,
        "a rejected transfer changed the root"
    );
    assert_eq!(accounts(store), before);
    assert!(old_root.is_some());
    assert_eq!(block.witness.expect("witness").check(), Ok(()));
}

#[test]
fn every_invalid_transfer_is_rejected_with_its_reason_and_changes_nothing() {
    let (_d, store) = setup(8, u64::MAX - 3);
    let mut wrong_chain = Transfer {
        chain_id: CHAIN + 1,
        from: 0,
        to: Recipient::Index(1),
        amount: 1,
        fee: 0,
        nonce: 0,
    }
    .sign(&dev_secret(0));
    rejected(
        &store,
        wrong_chain.clone(),
        TxError::WrongChain {
            expected: CHAIN,
            got: CHAIN + 1,
        },
    );
    wrong_chain.tx.chain_id = CHAIN; // now the signature no longer matches
    rejected(
        &store,
        wrong_chain,
        TxError::BadSignature(SignatureError::Mismatch),
    );
    rejected(
        &store,
        t(7, Recipient::Index(1), 1, 0, 0),
        TxError::UnknownSender(7),
    );
    let signed_by_other = Transfer {
        chain_id: CHAIN,
        from: 0,
        to: Recipient::Index(2),
        amount: 1,
        fee: 0,
        nonce: 0,
    }
    .sign(&dev_secret(2));
    rejected(
        &store,
        signed_by_other,
        TxError::BadSignature(SignatureError::Mismatch),
    );
    rejected(
        &store,
        t(0, Recipient::Index(2), 1, 0, 1),
        TxError::BadNonce {
            expected: 0,
            got: 1,
        },
    );
    rejected(
        &store,
        t(0, Recipient::Index(2), 1_000, 1, 0),
        TxError::InsufficientBalance {
            balance: 1_000,
            needed: 1_001,
        },
    );
    rejected(
        &store,
        t(0, Recipient::Index(2), u64::MAX, 1, 0),
        TxError::Overflow,
    );
    rejected(
        &store,
        t(0, Recipient::Index(1), 6, 0, 0),
        TxError::Overflow,
    );
    rejected(
        &store,
        t(0, Recipient::Index(6), 1, 0, 0),
        TxError::UnknownRecipient(6),
    );
    rejected(
        &store,
        t(0, Recipient::Index(2), 1, 4, 0),
        TxError::FeeOverflow,
    );
    let taken = dev_secret(2).public_key();
    rejected(
        &store,
        t(0, Recipient::NewKey(taken), 1, 1, 0),
        TxError::RecipientKeyExists(2),
    );
    // Creating an account is never free: the protocol minimums of amount and fee.
    let fresh = dev_secret(33).public_key();
    rejected(
        &store,
        t(0, Recipient::NewKey(fresh), 0, 1, 0),
        TxError::NewAccountMinimum { amount: 0, fee: 1 },
    );
    rejected(
        &store,
        t(0, Recipient::NewKey(fresh), 1, 0, 0),
        TxError::NewAccountMinimum { amount: 1, fee: 0 },
    );
    let low_order = Point::new_unchecked(Fr::from(0u64), -Fr::from(1u64));
    let mixed = PublicKey((dev_secret(9).public_key().0 + low_order).into_affine());
    rejected(
        &store,
        t(0, Recipient::NewKey(mixed), 1, 0, 0),
        TxError::InvalidRecipientKey(SignatureError::NotInSubgroup("public key")),
    );

    // A replay: the first copy applies, the second is refused.
    let tx = t(0, Recipient::Index(2), 10, 0, 0);
    let block = execute_block(&store, std::slice::from_ref(&tx), PRODUCER, false).expect("execute");
    assert_eq!(block.applied.len(), 1);
    rejected(
        &store,
        tx,
        TxError::BadNonce {
            expected: 1,
            got: 0,
        },
    );
}

#[test]
fn a_full_tree_refuses_new_keys() {
    let (_d, store) = setup(3, 0); // 8 leaves, 5 used
    let txs: Vec<SignedTransfer> = (0..3)
        .map(|n| {
            t(
                0,
                Recipient::NewKey(dev_secret(60 + n).public_key()),
                1,
                1,
                n,
            )
        })
        .collect();
    let block = execute_block(&store, &txs, PRODUCER, true).expect("execute");
    assert_eq!(block.applied.len(), 3);
    assert_eq!(block.witness.expect("witness").check(), Ok(()));
    rejected(
        &store,
        t(0, Recipient::NewKey(dev_secret(70).public_key()), 1, 1, 3),
        TxError::TreeFull,
    );
}

#[test]
fn transfer_encoding_round_trips_and_refuses_malformed_bytes() {
    let txs = [
        t(0, Recipient::Index(2), 100, 3, 0),
        t(2, Recipient::NewKey(dev_secret(50).public_key()), 120, 1, 9),
    ];
    for tx in &txs {
        let bytes = tx.encode().expect("encodes");
        assert_eq!(SignedTransfer::decode(&bytes).as_ref(), Ok(tx));
        assert!(matches!(
            SignedTransfer::decode(&bytes[..bytes.len() - 1]),
            Err(TransferDecodeError::Length { .. })
        ));
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            SignedTransfer::decode(&long),
            Err(TransferDecodeError::Length { .. })
        ));
        let mut v = bytes.clone();
        v[0] = 9;
        assert_eq!(
            SignedTransfer::decode(&v),
            Err(TransferDecodeError::Version(9))
        );
        let mut k = bytes.clone();
        k[1] = 7;
        assert_eq!(
            SignedTransfer::decode(&k),
            Err(TransferDecodeError::Kind(7))
        );
        // Non-canonical R8 y (all ones below the sign bit is above the modulus).
        let mut r = bytes.clone();
        let at = r.len() - 64;
        r[at..at + 32].copy_from_slice(&[0xff; 32]);
        r[at + 31] = 0x7f;
        assert!(matches!(
            SignedTransfer::decode(&r),
            Err(TransferDecodeError::Point(_))
        ));
    }
    // Non-canonical recipient key.
    let mut bytes = txs[1].encode().expect("encodes");
    bytes[18..50].copy_from_slice(&[0xff; 32]);
    bytes[49] = 0x7f;
    assert!(matches!(
        SignedTransfer::decode(&bytes),
        Err(TransferDecodeError::Point(_))
    ));
    assert!(SignedTransfer::decode(&[]).is_err());
}

#[test]
fn unknown_producer_is_an_error_and_commits_nothing() {
    let (_d, store) = setup(8, 0);
    let err = execute_block(&store, &[], 99, false).expect_err("no producer 99");
    assert!(err.to_string().contains("99"));
    assert_eq!(
        store.reader().expect("r").latest_version().expect("v"),
        Some(0)
    );
}
