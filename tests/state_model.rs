//! The state store against a model: random batch sequences applied to the redb store and to a
//! `BTreeMap`, with the root recomputed naively from the whole map; roots, accounts and proofs at
//! every retained version must agree, pruned versions must be refused.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use common::naive_root;
use proptest::prelude::*;
use rustorium::accel::CpuHasher;
use rustorium::state::{StateStore, StoreError, StoreOptions};
use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::eddsa::PublicKey;
use rustorium_circuits::merkle::{AccountProof, MerkleError};
use rustorium_testkit::workload_keys;

const DEPTH: usize = 6;

fn keys() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| workload_keys(1 << DEPTH))
}

fn store(dir: &tempfile::TempDir, keep: u64) -> StateStore {
    StateStore::create(
        &dir.path().join("s.redb"),
        DEPTH,
        9,
        Arc::new(CpuHasher::new()),
        StoreOptions {
            keep_versions: keep,
        },
    )
    .expect("create")
}

fn batch_strategy() -> impl Strategy<Value = Vec<(u64, u64, u64)>> {
    prop::collection::vec((0u64..(1 << DEPTH), any::<u64>(), 0u64..5), 0..20)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(batches in prop::collection::vec(batch_strategy(), 1..8), keep in 0u64..4) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir, keep);
        let mut model = BTreeMap::new();
        let mut history = Vec::new();
        for (version, batch) in batches.iter().enumerate() {
            let changes: BTreeMap<u64, Account> = batch
                .iter()
                .map(|&(i, balance, nonce)| (i, Account { pubkey: keys()[i as usize], balance, nonce }))
                .collect();
            model.extend(changes.clone());
            let root = s.commit(version as u64, &changes).expect("commit");
            prop_assert_eq!(root, naive_root(&model, DEPTH));
            history.push((model.clone(), root));
        }
        let r = s.reader().expect("reader");
        let latest = (batches.len() - 1) as u64;
        prop_assert_eq!(r.latest_version().expect("latest"), Some(latest));
        for (v, (snapshot, root)) in history.iter().enumerate() {
            let v = v as u64;
            let retained = keep == 0 || v + keep > latest;
            if !retained {
                let pruned = matches!(r.root(v), Err(StoreError::VersionPruned { .. }));
                prop_assert!(pruned);
                continue;
            }
            prop_assert_eq!(r.root(v).expect("root"), *root);
            for index in [0u64, 1, 17, 63] {
                prop_assert_eq!(r.account(index, v).expect("account"), snapshot.get(&index).copied());
                let proof = r.proof(index, v).expect("proof");
                prop_assert_eq!(proof.account, snapshot.get(&index).copied());
                prop_assert_eq!(proof.verify(*root), Ok(()));
                let decoded = AccountProof::decode(&proof.encode()).expect("decode");
                prop_assert_eq!(&decoded, &proof);
            }
        }
    }
}

#[test]
fn out_of_order_versions_and_bad_indices_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, 0);
    let one = |i: u64| BTreeMap::from([(i, Account::new(keys()[i as usize], 5))]);
    assert!(matches!(
        s.commit(1, &one(1)),
        Err(StoreError::VersionOrder {
            expected: 0,
            got: 1
        })
    ));
    let root0 = s.commit(0, &one(1)).expect("commit");
    assert!(matches!(
        s.commit(0, &one(2)),
        Err(StoreError::VersionOrder {
            expected: 1,
            got: 0
        })
    ));
    let too_far = BTreeMap::from([(1u64 << DEPTH, Account::new(keys()[0], 1))]);
    assert!(matches!(
        s.commit(1, &too_far),
        Err(StoreError::Merkle(MerkleError::Index { .. }))
    ));
    // The same key at a second index is refused and the batch leaves no trace.
    let dup = BTreeMap::from([
        (3u64, Account::new(keys()[1], 1)),
        (4u64, Account::new(keys()[4], 1)),
    ]);
    assert!(matches!(
        s.commit(1, &dup),
        Err(StoreError::DuplicateKey {
            index: 3,
            existing: 1
        })
    ));
    let r = s.reader().expect("reader");
    assert_eq!(r.latest_version().expect("latest"), Some(0));
    assert_eq!(r.root(0).expect("root"), root0);
    assert_eq!(r.account(4, 0).expect("account"), None);
    assert_eq!(r.index_of(&keys()[4]).expect("lookup"), None);
    assert!(matches!(r.root(1), Err(StoreError::UnknownVersion(1))));
}

#[test]
fn reopened_store_serves_the_same_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.redb");
    let changes = BTreeMap::from([(5u64, Account::new(keys()[5], 77))]);
    let root = {
        let s = store(&dir, 0);
        s.commit(0, &changes).expect("commit")
    };
    let s =
        StateStore::open(&path, Arc::new(CpuHasher::new()), StoreOptions::default()).expect("open");
    assert_eq!(s.depth(), DEPTH);
    assert_eq!(s.chain_id(), 9);
    let r = s.reader().expect("reader");
    assert_eq!(r.root(0).expect("root"), root);
    assert_eq!(r.index_of(&keys()[5]).expect("lookup"), Some(5));
    assert_eq!(r.next_index(0).expect("next"), 6);
    assert!(matches!(
        StateStore::create(
            &path,
            DEPTH,
            9,
            Arc::new(CpuHasher::new()),
            StoreOptions::default()
        ),
        Err(StoreError::AlreadyExists(_))
    ));
}

#[test]
fn tampered_proofs_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, 0);
    let changes: BTreeMap<u64, Account> = (0..10u64)
        .map(|i| (i * 5, Account::new(keys()[(i * 5) as usize], i)))
        .collect();
    let root = s.commit(0, &changes).expect("commit");
    let r = s.reader().expect("reader");
    let proof = r.proof(10, 0).expect("proof");
    assert_eq!(proof.verify(root), Ok(()));
    let mut p = proof.clone();
    p.account.as_mut().expect("present").balance += 1;
    assert_eq!(p.verify(root), Err(MerkleError::RootMismatch));
    let mut p = proof.clone();
    p.index = 11;
    assert_eq!(p.verify(root), Err(MerkleError::RootMismatch));
    let mut p = proof.clone();
    p.path.siblings[0] += Fr::from(1u64);
    assert_eq!(p.verify(root), Err(MerkleError::RootMismatch));
    let mut p = proof.clone();
    p.path.siblings.pop();
    assert!(matches!(
        p.verify(root),
        Err(MerkleError::SiblingCount { .. })
    ));
    // Claiming the leaf is empty fails; so does an exclusion proof for an occupied leaf.
    let mut p = proof.clone();
    p.account = None;
    assert_eq!(p.verify(root), Err(MerkleError::RootMismatch));
    // Encodings: truncation, trailing bytes, bad flag, non-canonical sibling.
    let bytes = proof.encode();
    assert!(AccountProof::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut long = bytes.clone();
    long.push(0);
    assert!(AccountProof::decode(&long).is_err());
    let mut flag = bytes.clone();
    flag[10] = 2;
    assert!(AccountProof::decode(&flag).is_err());
    let mut big = bytes.clone();
    let n = big.len();
    big[n - 32..].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        AccountProof::decode(&big),
        Err(MerkleError::Field(_))
    ));
}
