//! No silent fallback: a GPU batch that fails is retried on the CPU, logged and counted; the
//! backend name stays the GPU's so metrics show what was configured, and the counter shows how often
//! the CPU stood in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustorium_circuits::Fr;

use super::{AccelError, BatchHasher, CpuHasher};

/// Wraps a GPU hasher with a counted CPU retry.
pub struct FallbackHasher {
    primary: Arc<dyn BatchHasher<Fr>>,
    cpu: CpuHasher,
    fallbacks: Arc<AtomicU64>,
}

impl FallbackHasher {
    /// `primary` with CPU retries counted in `fallbacks`.
    pub fn new(primary: Arc<dyn BatchHasher<Fr>>, fallbacks: Arc<AtomicU64>) -> Self {
        Self {
            primary,
            cpu: CpuHasher::new(),
            fallbacks,
        }
    }

    /// Retries so far.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }
}

impl BatchHasher<Fr> for FallbackHasher {
    fn name(&self) -> &'static str {
        self.primary.name()
    }

    fn hash_batch(&self, arity: usize, inputs: &[Fr], out: &mut [Fr]) -> Result<(), AccelError> {
        match self.primary.hash_batch(arity, inputs, out) {
            Ok(()) => Ok(()),
            Err(AccelError::Device { backend, message }) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(backend, %message, hashes = out.len(), "GPU batch failed; retrying on the CPU");
                self.cpu.hash_batch(arity, inputs, out)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_std::UniformRand;
    use rustorium_circuits::poseidon;

    /// A backend that always fails like a lost device would.
    struct BrokenGpu;

    impl BatchHasher<Fr> for BrokenGpu {
        fn name(&self) -> &'static str {
            "cuda"
        }
        fn hash_batch(&self, _: usize, _: &[Fr], _: &mut [Fr]) -> Result<(), AccelError> {
            Err(AccelError::Device {
                backend: "cuda",
                message: "simulated device loss".into(),
            })
        }
    }

    #[test]
    fn a_failed_gpu_batch_is_retried_on_the_cpu_and_counted() {
        let counter = Arc::new(AtomicU64::new(0));
        let h = FallbackHasher::new(Arc::new(BrokenGpu), counter.clone());
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
}
