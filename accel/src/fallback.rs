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

    fn kernel_time(&self) -> Option<std::time::Duration> {
        self.primary.kernel_time()
    }
}
