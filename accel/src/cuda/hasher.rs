//! Batch Poseidon on a CUDA device: widths 3 and 5, one thread per hash, constants resident on the
//! device, inputs processed in chunks bounded by the profile's batch size (so memory stays bounded
//! and out-of-memory is an error from the allocation, never a crash).

#![allow(unsafe_code)] // kernel launches and the driver probe; see the SAFETY notes.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};

use super::launch::{EndedSpan, Kernel, KernelSpan};
use rustorium_circuits::Fr;
use rustorium_circuits::poseidon::PoseidonField;

use crate::{AccelError, BatchHasher, KernelClock, fr_from_device, gpu_batch_is_wide};

pub(super) fn dev(message: impl std::fmt::Display) -> AccelError {
    AccelError::Device {
        backend: "cuda",
        message: message.to_string(),
    }
}

/// Whether the CUDA driver library can be loaded.
pub fn driver_available() -> bool {
    // SAFETY: the probe only `dlopen`s libcuda's candidate names and drops the handles.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

pub use crate::devices::CudaDevice;

/// Lists CUDA devices; empty when the driver or a device is missing (never panics).
pub fn list_devices() -> Vec<CudaDevice> {
    if !driver_available() {
        return Vec::new();
    }
    let n = cudarc::driver::CudaContext::device_count()
        .unwrap_or(0)
        .max(0) as usize;
    (0..n)
        .filter_map(|i| {
            let ctx = super::DeviceContext::get(i).ok()?;
            Some(CudaDevice {
                ordinal: i,
                name: ctx.name().to_string(),
                compute_capability: ctx.compute_capability(),
                memory: ctx.memory(),
            })
        })
        .collect()
}

/// The NVRTC target for a compute capability.
pub(super) fn arch_of(cc: (i32, i32)) -> &'static str {
    match cc {
        (10, _) => "sm_100",
        (9, _) => "sm_90",
        (8, 9) => "sm_89",
        (8, 6) => "sm_86",
        (8, _) => "sm_80",
        _ => "sm_75",
    }
}

/// The CUDA batch hasher. A batch larger than `max_batch` runs as a pipeline of chunks on two
/// streams through pinned buffers: while one stream's kernel hashes a chunk, the other copies the
/// next chunk in and the previous one out.
pub struct CudaHasher {
    stream: Arc<CudaStream>,
    second: Arc<CudaStream>,
    pinned: Arc<super::pinned::PinnedPool>,
    t3: Kernel,
    t5: Kernel,
    k3: CudaSlice<u64>,
    k5: CudaSlice<u64>,
    rp3: i32,
    rp5: i32,
    max_batch: usize,
    name: String,
    clock: KernelClock,
}

/// Elements as arkworks' Montgomery limbs, the kernels' representation.
pub(super) fn limbs(xs: &[Fr]) -> Vec<u64> {
    xs.iter().flat_map(|x| (x.0).0).collect()
}

impl CudaHasher {
    /// Opens device `ordinal`, compiles the kernels for it (NVRTC) and uploads the constants.
    /// `max_batch` bounds the hashes per launch.
    pub fn new(ordinal: usize, max_batch: usize) -> Result<Self, AccelError> {
        let ctx = super::DeviceContext::get(ordinal)?;
        let name = ctx.name().to_string();
        let module = ctx.module("poseidon.cu")?;
        let stream = ctx.stream()?;
        let spec3 = Fr::poseidon_spec(3).ok_or_else(|| dev("no width 3"))?;
        let spec5 = Fr::poseidon_spec(5).ok_or_else(|| dev("no width 5"))?;
        Ok(Self {
            t3: Kernel::load(&module, "poseidon_t3")?,
            t5: Kernel::load(&module, "poseidon_t5")?,
            k3: stream
                .clone_htod(&limbs(&spec3.flat_optimized()))
                .map_err(dev)?,
            k5: stream
                .clone_htod(&limbs(&spec5.flat_optimized()))
                .map_err(dev)?,
            rp3: spec3.partial_rounds as i32,
            rp5: spec5.partial_rounds as i32,
            second: ctx.stream()?,
            pinned: ctx.pinned(),
            stream,
            max_batch: max_batch.max(1),
            name: format!("cuda:{ordinal} {name}"),
            clock: KernelClock::default(),
        })
    }

    /// The device's name.
    pub fn device_name(&self) -> &str {
        &self.name
    }
}

impl BatchHasher<Fr> for CudaHasher {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn hash_batch(&self, arity: usize, inputs: &[Fr], out: &mut [Fr]) -> Result<(), AccelError> {
        let (func, k, rp) = if gpu_batch_is_wide("CUDA", arity, inputs.len(), out.len())? {
            (&self.t5, &self.k5, self.rp5)
        } else {
            (&self.t3, &self.k3, self.rp3)
        };
        type Pending = (
            std::ops::Range<usize>,
            cudarc::driver::PinnedHostSlice<u64>,
            EndedSpan,
            CudaSlice<u64>,
            CudaSlice<u64>,
        );
        // Results of a queued chunk, once its stream reaches them.
        let collect = |(range, pinned, span, _d_in, _d_out): Pending, out: &mut [Fr]| {
            span.add_to(&self.clock)?;
            let host = self.pinned.finish_download(pinned)?;
            for (o, l) in out[range].iter_mut().zip(host.chunks_exact(4)) {
                let limbs: [u64; 4] = l.try_into().map_err(|_| dev("short result"))?;
                *o = fr_from_device(limbs, "cuda")?;
            }
            Ok::<(), AccelError>(())
        };
        let mut pending: std::collections::VecDeque<Pending> = Default::default();
        let chunk = self.max_batch;
        for (i, ins) in inputs.chunks(chunk * arity).enumerate() {
            let stream = if i % 2 == 0 {
                &self.stream
            } else {
                &self.second
            };
            // Two chunks in flight at most: the one queued on this stream before must be read
            // before its buffers are reused.
            if pending.len() == 2
                && let Some(done) = pending.pop_front()
            {
                collect(done, out)?;
            }
            let n_out = ins.len() / arity;
            let n = n_out as u64;
            let d_in = self.pinned.upload(stream, &limbs(ins))?;
            let mut d_out = stream.alloc_zeros::<u64>(n_out * 4).map_err(dev)?;
            let mut launch = stream.launch_builder(&func.func);
            launch.arg(&d_in).arg(&mut d_out).arg(k).arg(&rp).arg(&n);
            let cfg = func.config(n_out as u32);
            let span = KernelSpan::start(stream)?;
            // SAFETY: the kernel's signature is (const Fr*, Fr*, const Fr*, int, u64); `d_in` holds
            // n·arity elements, `d_out` n elements, `k` the width's whole constant array (made on
            // the first stream and read-only), `rp` its partial-round count, and threads with
            // index ≥ n return at once.
            unsafe { launch.launch(cfg) }.map_err(dev)?;
            let span = span.end(stream)?;
            let pinned = self.pinned.start_download(stream, &d_out)?;
            pending.push_back((i * chunk..i * chunk + n_out, pinned, span, d_in, d_out));
        }
        while let Some(done) = pending.pop_front() {
            collect(done, out)?;
        }
        Ok(())
    }

    fn kernel_time(&self) -> Option<std::time::Duration> {
        Some(self.clock.total())
    }
}
