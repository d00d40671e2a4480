//! G1 MSM on a CUDA device (`kernels/cuda/msm.cu`): the host plans (signed digits, bucket sort,
//! tasks; `accel::msm`), the device accumulates tasks, combines buckets and reduces segments, the
//! host finishes. Bases stay on the device between calls with the same [`BasesId`] (the prover
//! passes one per proving-key query), bounded by the profile's memory limit.

#![allow(unsafe_code)] // kernel launches; see the SAFETY notes.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};

use super::launch::{Kernel, KernelSpan};

use super::hasher::dev;
use crate::msm::{
    BasesId, ResidentCache, bases_limbs, checked_result, jacobian_from_device, plan_for_device,
};
use crate::{AccelError, G1Affine, G1Projective, KernelClock, MsmBackend, ScalarBigInt};

/// The CUDA MSM backend.
pub struct CudaMsm {
    stream: Arc<CudaStream>,
    accumulate: Kernel,
    combine: Kernel,
    reduce: Kernel,
    window_bits: u32,
    resident: ResidentCache<CudaSlice<u64>>,
    clock: KernelClock,
}

impl CudaMsm {
    /// Opens device `ordinal`, compiles the MSM kernels; `window_bits` 0 picks per size, and at
    /// most `resident_bytes` of bases stay on the device between calls.
    pub fn new(ordinal: usize, window_bits: u32, resident_bytes: u64) -> Result<Self, AccelError> {
        let ctx = super::DeviceContext::get(ordinal)?;
        let module = ctx.module("msm.cu")?;
        Ok(Self {
            accumulate: Kernel::load(&module, "msm_accumulate")?,
            combine: Kernel::load(&module, "msm_combine")?,
            reduce: Kernel::load(&module, "msm_reduce")?,
            stream: ctx.stream()?,
            window_bits,
            resident: ResidentCache::new(resident_bytes),
            clock: KernelClock::default(),
        })
    }

    /// Uploads of bases so far (cache misses).
    pub fn uploads(&self) -> u64 {
        self.resident.uploads()
    }
}

impl MsmBackend for CudaMsm {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn msm_g1(
        &self,
        bases: &[G1Affine],
        scalars: &[ScalarBigInt],
        id: Option<BasesId>,
    ) -> Result<G1Projective, AccelError> {
        let Some(plan) = plan_for_device(bases, scalars, self.window_bits)? else {
            return Ok(G1Projective::default());
        };
        let s = &self.stream;
        let d_bases = self
            .resident
            .get_or_upload(id, bases, bases.len() as u64 * 64, || {
                s.clone_htod(&bases_limbs(bases)).map_err(dev)
            })?;
        let entries = s.clone_htod(&plan.entries).map_err(dev)?;
        let offsets = s.clone_htod(&plan.task_offsets).map_err(dev)?;
        let bucket_tasks = s.clone_htod(&plan.bucket_tasks).map_err(dev)?;
        let (tasks, nbuckets, total) = (
            plan.tasks() as u32,
            plan.total_buckets() as u32,
            plan.total_segments() as u32,
        );
        let mut partial = s
            .alloc_zeros::<u64>(12 * tasks.max(1) as usize)
            .map_err(dev)?;
        let mut buckets = s.alloc_zeros::<u64>(12 * nbuckets as usize).map_err(dev)?;
        let mut out = s.alloc_zeros::<u64>(12 * total as usize).map_err(dev)?;
        let span = KernelSpan::start(s)?;
        if tasks > 0 {
            let mut l = s.launch_builder(&self.accumulate.func);
            l.arg(&entries)
                .arg(&offsets)
                .arg(d_bases.as_ref())
                .arg(&mut partial)
                .arg(&tasks);
            // SAFETY: msm_accumulate(entries, task_offsets, bases, partial, tasks): task_offsets
            // has tasks + 1 entries bounded by entries.len(); every entry indexes a point below
            // bases.len() (the plan was built from scalars of that length); partial holds tasks
            // Jacobian points; threads ≥ tasks return at once.
            unsafe { l.launch(self.accumulate.config(tasks)) }.map_err(dev)?;
        }
        let mut l = s.launch_builder(&self.combine.func);
        l.arg(&partial)
            .arg(&bucket_tasks)
            .arg(&mut buckets)
            .arg(&nbuckets);
        // SAFETY: msm_combine(partial, bucket_tasks, buckets, nbuckets): bucket_tasks has
        // nbuckets + 1 entries, each ≤ tasks; buckets holds nbuckets points.
        unsafe { l.launch(self.combine.config(nbuckets)) }.map_err(dev)?;
        let mut l = s.launch_builder(&self.reduce.func);
        l.arg(&buckets)
            .arg(&mut out)
            .arg(&plan.buckets)
            .arg(&plan.segments)
            .arg(&plan.seg_len)
            .arg(&total);
        // SAFETY: msm_reduce(buckets, out, buckets_per_window, segments, seg_len, total): segment
        // g reads buckets [w·B + s·L, w·B + (s+1)·L) with S·L = B, all below nbuckets = W·B; out
        // holds total = W·S points.
        unsafe { l.launch(self.reduce.config(total)) }.map_err(dev)?;
        span.finish(s, &self.clock)?;
        let host = s.clone_dtoh(&out).map_err(dev)?;
        let segs = host
            .chunks_exact(12)
            .map(|l| jacobian_from_device(l, "cuda"))
            .collect::<Result<Vec<_>, _>>()?;
        checked_result(plan.finish(&segs)?, "cuda")
    }

    fn kernel_time(&self) -> Option<std::time::Duration> {
        Some(self.clock.total())
    }
}
