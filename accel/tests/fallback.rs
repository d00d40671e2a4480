//! The counted CPU fallback: a failed GPU batch is retried on the CPU, counted, and shape errors
//! (the caller's) are not retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ark_std::UniformRand;
use rustorium_accel::{AccelError, BatchHasher, CpuHasher, FallbackHasher};
use rustorium_circuits::{Fr, poseidon};
use rustorium_testkit::FailingHasher;

#[test]
fn a_failed_gpu_batch_is_retried_on_the_cpu_and_counted() {
    let counter = Arc::new(AtomicU64::new(0));
    let h = FallbackHasher::new(Arc::new(FailingHasher), counter.clone());
    let mut rng = ark_std::test_rng();
    let inputs: Vec<Fr> = (0..200).map(|_| Fr::rand(&mut rng)).collect();
    let mut out = vec![Fr::from(0u64); 100];
    h.hash_batch(2, &inputs, &mut out)
        .expect("CPU retry succeeds");
    assert_eq!(out[7], poseidon::hash(&inputs[14..16]).expect("arity"));
    assert_eq!(counter.load(Ordering::Relaxed), 1);
    h.hash_batch(2, &inputs, &mut out).expect("again");
    assert_eq!(h.fallbacks(), 2);
    assert_eq!(
        h.name(),
        "cuda",
        "metrics keep showing the configured backend"
    );
    // Shape errors are the caller's and are not retried.
    let mut short = vec![Fr::from(0u64); 3];
    assert!(matches!(
        FallbackHasher::new(Arc::new(CpuHasher::new()), counter.clone())
            .hash_batch(2, &inputs, &mut short),
        Err(AccelError::Shape(_))
    ));
    assert_eq!(h.fallbacks(), 2);
}
