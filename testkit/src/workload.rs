//! A deterministic synthetic workload of leaf batches, shared by the crash test, the benchmarks and
//! `rustorium debug commit-loop`, so that a test can recompute what a killed process committed.
//!
//! Batch `n` of seed `s` touches `size` distinct pseudo-random indices below `2^depth`; the account
//! at index `i` always carries devnet key `i` (keys never move between indices) with a pseudo-random
//! balance and nonce.

use std::collections::BTreeMap;

use rustorium_circuits::account::Account;
use rustorium_circuits::eddsa::PublicKey;

use rustorium_state::dev_secret;

/// SplitMix64: tiny, seedable, good enough for workloads.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Keys for indices `0..n` (devnet keys), computed once per workload.
pub fn workload_keys(n: usize) -> Vec<PublicKey> {
    use rayon::prelude::*;
    (0..n as u64)
        .into_par_iter()
        .map(|i| dev_secret(i).public_key())
        .collect()
}

/// Batch `n` of the workload. `keys` must cover every index below `min(2^depth, keys.len())`; indices
/// are drawn below that bound.
pub fn workload_batch(
    seed: u64,
    n: u64,
    size: usize,
    keys: &[PublicKey],
) -> BTreeMap<u64, Account> {
    let mut rng = SplitMix(seed ^ n.wrapping_mul(0xa076_1d64_78bd_642f));
    let bound = keys.len() as u64;
    let mut out = BTreeMap::new();
    let size = size.min(keys.len());
    while out.len() < size {
        let index = rng.next_u64() % bound;
        out.insert(
            index,
            Account {
                pubkey: keys[index as usize],
                balance: rng.next_u64(),
                nonce: rng.next_u64() % 1000,
            },
        );
    }
    out
}
