//! One CUDA context per device for the whole process, and each kernel file compiled by NVRTC and
//! loaded into it once, on first use. Every CUDA backend (Poseidon, MSM, NTT) takes its context
//! from here and its own stream on it, so a node with all three on one GPU opens one context and
//! runs NVRTC once per kernel file, not once per backend (and not again for `hardware check`'s
//! or the start-up self-checks' instances).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaContext, CudaModule, CudaStream};
use cudarc::nvrtc::Ptx;

use super::hasher::{arch_of, driver_available};
use super::nvrtc::{cached_cubin, kernel_cache_dir};
use crate::AccelError;

fn dev(e: impl std::fmt::Debug) -> AccelError {
    AccelError::Device {
        backend: "cuda",
        message: format!("{e:?}"),
    }
}

static CONTEXTS_OPENED: AtomicU64 = AtomicU64::new(0);
static COMPILATIONS: AtomicU64 = AtomicU64::new(0);

/// CUDA contexts this process has opened (at most one per device).
pub fn contexts_opened() -> u64 {
    CONTEXTS_OPENED.load(Ordering::Relaxed)
}

/// Kernel files this process has compiled with NVRTC (at most one per file and device; none when
/// the on-disk cache holds them).
pub fn compilations() -> u64 {
    COMPILATIONS.load(Ordering::Relaxed)
}

/// A device's context, its identity, and the kernel modules loaded into it so far.
pub struct DeviceContext {
    ordinal: usize,
    ctx: Arc<CudaContext>,
    name: String,
    compute_capability: (i32, i32),
    memory: usize,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    pinned: Arc<super::pinned::PinnedPool>,
}

impl DeviceContext {
    /// The process's context on device `ordinal`, opened on first use.
    pub fn get(ordinal: usize) -> Result<Arc<Self>, AccelError> {
        static CONTEXTS: Mutex<Vec<Arc<DeviceContext>>> = Mutex::new(Vec::new());
        if !driver_available() {
            return Err(dev("CUDA driver (libcuda) not found"));
        }
        let mut contexts = CONTEXTS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = contexts.iter().find(|c| c.ordinal == ordinal) {
            return Ok(c.clone());
        }
        let ctx = CudaContext::new(ordinal).map_err(dev)?;
        let c = Arc::new(Self {
            ordinal,
            name: ctx.name().map_err(dev)?,
            compute_capability: ctx.compute_capability().map_err(dev)?,
            memory: ctx.total_mem().map_err(dev)?,
            pinned: Arc::new(super::pinned::PinnedPool::new(ctx.clone())),
            ctx,
            modules: Mutex::default(),
        });
        CONTEXTS_OPENED.fetch_add(1, Ordering::Relaxed);
        tracing::info!(ordinal, device = %c.name, cc = ?c.compute_capability, "CUDA context opened");
        contexts.push(c.clone());
        Ok(c)
    }

    /// The kernel file `file` (e.g. `msm.cu`) compiled for this device's architecture and loaded,
    /// compiled on the first request only.
    pub fn module(&self, file: &'static str) -> Result<Arc<CudaModule>, AccelError> {
        let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = modules.get(file) {
            return Ok(m.clone());
        }
        // Straight to a CUBIN for this device's exact architecture, loaded as a binary: the
        // driver has no PTX to JIT at start-up.
        // Cached on disk between runs (`nvrtc::cached_cubin`).
        let start = std::time::Instant::now();
        let arch = arch_of(self.compute_capability);
        let (image, cached) = cached_cubin(file, arch, kernel_cache_dir().as_deref())?;
        if !cached {
            COMPILATIONS.fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(
            file,
            arch,
            cached,
            ms = start.elapsed().as_millis() as u64,
            "kernels ready (NVRTC CUBIN)"
        );
        let m = self.ctx.load_module(Ptx::from_binary(image)).map_err(dev)?;
        modules.insert(file, m.clone());
        Ok(m)
    }

    /// A new stream of this context for one backend (backends on one device run concurrently).
    pub fn stream(&self) -> Result<Arc<CudaStream>, AccelError> {
        self.ctx.new_stream().map_err(dev)
    }

    /// The device's pool of pinned host buffers, shared by its backends.
    pub fn pinned(&self) -> Arc<super::pinned::PinnedPool> {
        self.pinned.clone()
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its compute capability.
    pub fn compute_capability(&self) -> (i32, i32) {
        self.compute_capability
    }

    /// Its memory in bytes.
    pub fn memory(&self) -> usize {
        self.memory
    }

    /// The device's ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }
}
