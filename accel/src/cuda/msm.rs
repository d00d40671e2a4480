//! G1 and G2 MSMs on a CUDA device (`kernels/cuda/msm.cu`, `msm_g2.cu`): the host plans (signed
//! digits, bucket sort, tasks; `accel::msm`), the device accumulates tasks, combines buckets and
//! reduces segments, the host finishes. The same plan and kernel templates serve both groups (G2's
//! coordinates are in Fq2). Bases stay on the device between calls with the same [`BasesId`] (the
//! prover passes one per proving-key query), bounded by the profile's memory limit.

#![allow(unsafe_code)] // kernel launches; see the SAFETY notes.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};

use super::launch::{Kernel, KernelSpan};

use super::hasher::dev;
use crate::msm::{
    BasesId, MsmPlan, ResidentCache, bases_limbs, bases_limbs_g2, checked_result,
    jacobian_from_device, jacobian_g2_from_device, plan_for_device,
};
use crate::{
    AccelError, G1Affine, G1Projective, G2Affine, G2Projective, KernelClock, MsmBackend,
    ScalarBigInt,
};

/// The three kernels of one group.
struct Kernels {
    accumulate: Kernel,
    combine: Kernel,
    reduce: Kernel,
    /// u64 limbs of one Jacobian point (12 for G1, 24 for G2).
    point_limbs: usize,
}

impl Kernels {
    fn load(
        module: &Arc<cudarc::driver::CudaModule>,
        suffix: &str,
        point_limbs: usize,
    ) -> Result<Self, AccelError> {
        Ok(Self {
            accumulate: Kernel::load(module, &format!("msm_accumulate{suffix}"))?,
            combine: Kernel::load(module, &format!("msm_combine{suffix}"))?,
            reduce: Kernel::load(module, &format!("msm_reduce{suffix}"))?,
            point_limbs,
        })
    }
}

/// The CUDA MSM backend.
pub struct CudaMsm {
    stream: Arc<CudaStream>,
    g1: Kernels,
    g2: Kernels,
    window_bits: u32,
    resident: ResidentCache<CudaSlice<u64>>,
    clock: KernelClock,
}

impl CudaMsm {
    /// Opens device `ordinal`, compiles the MSM kernels; `window_bits` 0 picks per size, and at
    /// most `resident_bytes` of bases (G1 and G2 together) stay on the device between calls.
    pub fn new(ordinal: usize, window_bits: u32, resident_bytes: u64) -> Result<Self, AccelError> {
        let ctx = super::DeviceContext::get(ordinal)?;
        Ok(Self {
            g1: Kernels::load(&ctx.module("msm.cu")?, "", 12)?,
            g2: Kernels::load(&ctx.module("msm_g2.cu")?, "_g2", 24)?,
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

    /// Runs `plan` over resident `bases` with group `k`'s kernels; the segment results as limbs.
    fn run(
        &self,
        k: &Kernels,
        plan: &MsmPlan,
        bases: &CudaSlice<u64>,
    ) -> Result<Vec<u64>, AccelError> {
        let s = &self.stream;
        let entries = s.clone_htod(&plan.entries).map_err(dev)?;
        let offsets = s.clone_htod(&plan.task_offsets).map_err(dev)?;
        let bucket_tasks = s.clone_htod(&plan.bucket_tasks).map_err(dev)?;
        let (tasks, nbuckets, total) = (
            plan.tasks() as u32,
            plan.total_buckets() as u32,
            plan.total_segments() as u32,
        );
        let point = k.point_limbs;
        let mut partial = s
            .alloc_zeros::<u64>(point * tasks.max(1) as usize)
            .map_err(dev)?;
        let mut buckets = s
            .alloc_zeros::<u64>(point * nbuckets as usize)
            .map_err(dev)?;
        let mut out = s.alloc_zeros::<u64>(point * total as usize).map_err(dev)?;
        let span = KernelSpan::start(s)?;
        if tasks > 0 {
            let mut l = s.launch_builder(&k.accumulate.func);
            l.arg(&entries)
                .arg(&offsets)
                .arg(bases)
                .arg(&mut partial)
                .arg(&tasks);
            // SAFETY: msm_accumulate[_g2](entries, task_offsets (u64), bases, partial, tasks):
            // task_offsets has tasks + 1 entries bounded by entries.len(); every entry indexes a
            // point below the bases' length (the plan was built from scalars of that length);
            // partial holds tasks points of this group; threads ≥ tasks return at once.
            unsafe { l.launch(k.accumulate.config(tasks)) }.map_err(dev)?;
        }
        let mut l = s.launch_builder(&k.combine.func);
        l.arg(&partial)
            .arg(&bucket_tasks)
            .arg(&mut buckets)
            .arg(&nbuckets);
        // SAFETY: msm_combine[_g2](partial, bucket_tasks, buckets, nbuckets): bucket_tasks has
        // nbuckets + 1 entries, each ≤ tasks; buckets holds nbuckets points.
        unsafe { l.launch(k.combine.config(nbuckets)) }.map_err(dev)?;
        let mut l = s.launch_builder(&k.reduce.func);
        l.arg(&buckets)
            .arg(&mut out)
            .arg(&plan.buckets)
            .arg(&plan.segments)
            .arg(&plan.seg_len)
            .arg(&total);
        // SAFETY: msm_reduce[_g2](buckets, out, buckets_per_window, segments, seg_len, total):
        // segment g reads buckets [w·B + s·L, w·B + (s+1)·L) with S·L = B, all below
        // nbuckets = W·B; out holds total = W·S points.
        unsafe { l.launch(k.reduce.config(total)) }.map_err(dev)?;
        span.finish(s, &self.clock)?;
        s.clone_dtoh(&out).map_err(dev)
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
        let host = self.run(&self.g1, &plan, &d_bases)?;
        let segs = host
            .chunks_exact(12)
            .map(|l| jacobian_from_device(l, "cuda"))
            .collect::<Result<Vec<_>, _>>()?;
        checked_result(plan.finish(&segs)?, "cuda")
    }

    fn g2_backend(&self) -> &'static str {
        "cuda"
    }

    fn msm_g2(
        &self,
        bases: &[G2Affine],
        scalars: &[ScalarBigInt],
        id: Option<BasesId>,
    ) -> Result<G2Projective, AccelError> {
        let Some(plan) = plan_for_device(bases, scalars, self.window_bits)? else {
            return Ok(G2Projective::default());
        };
        let s = &self.stream;
        let d_bases = self
            .resident
            .get_or_upload(id, bases, bases.len() as u64 * 128, || {
                s.clone_htod(&bases_limbs_g2(bases)).map_err(dev)
            })?;
        let host = self.run(&self.g2, &plan, &d_bases)?;
        let segs = host
            .chunks_exact(24)
            .map(|l| jacobian_g2_from_device(l, "cuda"))
            .collect::<Result<Vec<_>, _>>()?;
        checked_result(plan.finish(&segs)?, "cuda")
    }

    fn kernel_time(&self) -> Option<std::time::Duration> {
        Some(self.clock.total())
    }
}
