//! G1 and G2 MSMs on a CUDA device (`kernels/cuda/msm.cu`, `msm_g2.cu`): the device plans (signed
//! digits and a counting sort of the entries by bucket, `msm_plan.cuh`; the host only uploads the
//! scalars and reads back the task count), accumulates tasks, combines buckets and reduces
//! segments; the host finishes (`accel::msm`). [`CudaMsm::with_host_plan`] plans on the host
//! instead (`MsmPlan`), for comparison. The same plan and kernel templates serve both groups (G2's
//! coordinates are in Fq2). Bases stay on the device between calls with the same [`BasesId`] (the
//! prover passes one per proving-key query), bounded by the profile's memory limit.

#![allow(unsafe_code)] // kernel launches; see the SAFETY notes.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};

use super::launch::{Kernel, KernelSpan};

use super::hasher::dev;
use crate::msm::{
    BasesId, MsmPlan, MsmShape, ResidentCache, bases_limbs, bases_limbs_g2, checked_result,
    jacobian_from_device, jacobian_g2_from_device, shape_for_device,
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

/// The plan kernels (`msm_plan.cuh`).
struct PlanKernels {
    count: Kernel,
    scan: Kernel,
    scatter: Kernel,
    tasks: Kernel,
}

/// A plan in device memory.
struct PlanBuffers {
    entries: CudaSlice<u32>,
    task_offsets: CudaSlice<u64>,
    bucket_tasks: CudaSlice<u32>,
    tasks: u32,
}

/// The CUDA MSM backend.
pub struct CudaMsm {
    stream: Arc<CudaStream>,
    pinned: Arc<super::pinned::PinnedPool>,
    g1: Kernels,
    g2: Kernels,
    plan: PlanKernels,
    plan_on_device: bool,
    window_bits: u32,
    resident: ResidentCache<CudaSlice<u64>>,
    clock: KernelClock,
}

impl CudaMsm {
    /// Opens device `ordinal`, compiles the MSM kernels; `window_bits` 0 picks per size, and at
    /// most `resident_bytes` of bases (G1 and G2 together) stay on the device between calls.
    pub fn new(ordinal: usize, window_bits: u32, resident_bytes: u64) -> Result<Self, AccelError> {
        let ctx = super::DeviceContext::get(ordinal)?;
        let g1 = ctx.module("msm.cu")?;
        Ok(Self {
            plan: PlanKernels {
                count: Kernel::load(&g1, "msm_plan_count")?,
                scan: Kernel::load(&g1, "msm_plan_scan")?,
                scatter: Kernel::load(&g1, "msm_plan_scatter")?,
                tasks: Kernel::load(&g1, "msm_plan_tasks")?,
            },
            plan_on_device: true,
            g1: Kernels::load(&g1, "", 12)?,
            g2: Kernels::load(&ctx.module("msm_g2.cu")?, "_g2", 24)?,
            stream: ctx.stream()?,
            pinned: ctx.pinned(),
            window_bits,
            resident: ResidentCache::new(resident_bytes),
            clock: KernelClock::default(),
        })
    }

    /// Uploads of bases so far (cache misses).
    pub fn uploads(&self) -> u64 {
        self.resident.uploads()
    }

    /// The same backend planning on the host (`MsmPlan`, rayon) instead of the device.
    pub fn with_host_plan(mut self) -> Self {
        self.plan_on_device = false;
        self
    }

    /// Checks the lengths, picks the window and plans: `None` for an empty MSM.
    fn plan(
        &self,
        bases: usize,
        scalars: &[ScalarBigInt],
    ) -> Result<Option<(MsmShape, PlanBuffers)>, AccelError> {
        let Some(shape) = shape_for_device(bases, scalars.len(), self.window_bits)? else {
            return Ok(None);
        };
        let s = &self.stream;
        if !self.plan_on_device {
            let plan = MsmPlan::new(scalars, shape.c)?;
            let buffers = PlanBuffers {
                entries: s.clone_htod(&plan.entries).map_err(dev)?,
                task_offsets: s.clone_htod(&plan.task_offsets).map_err(dev)?,
                bucket_tasks: s.clone_htod(&plan.bucket_tasks).map_err(dev)?,
                tasks: plan.tasks() as u32,
            };
            return Ok(Some((plan.shape(), buffers)));
        }
        let (n, nb) = (scalars.len() as u32, shape.total_buckets());
        let limbs: Vec<u64> = scalars.iter().flat_map(|x| x.0).collect();
        let d_scalars = self.pinned.upload(s, &limbs)?;
        let mut counts = s.alloc_zeros::<u32>(nb).map_err(dev)?;
        let (c, windows, buckets, nb32) = (shape.c, shape.windows, shape.buckets, nb as u32);
        let k = &self.plan;
        let mut l = s.launch_builder(&k.count.func);
        l.arg(&d_scalars)
            .arg(&n)
            .arg(&c)
            .arg(&windows)
            .arg(&buckets)
            .arg(&mut counts);
        // SAFETY: msm_plan_count(scalars, n, c, windows, buckets, counts): `d_scalars` holds n
        // scalars of 4 limbs, `counts` W·B buckets; every digit's bucket index w·B + |d| − 1 is
        // below W·B since |d| ≤ 2^(c−1) = B; threads ≥ n return at once.
        unsafe { l.launch(k.count.config(n)) }.map_err(dev)?;
        let mut entry_start = s.alloc_zeros::<u64>(nb + 1).map_err(dev)?;
        let mut bucket_tasks = s.alloc_zeros::<u32>(nb + 1).map_err(dev)?;
        let mut l = s.launch_builder(&k.scan.func);
        l.arg(&counts)
            .arg(&nb32)
            .arg(&mut entry_start)
            .arg(&mut bucket_tasks);
        // SAFETY: msm_plan_scan(counts, nbuckets, entry_start, bucket_tasks): one block of at
        // most 256 threads (its shared array holds 2 × 256 sums); counts has nbuckets elements,
        // the outputs nbuckets + 1.
        unsafe { l.launch(k.scan.config_blocks(1, nb32)) }.map_err(dev)?;
        let mut cursor = s.clone_dtod(&entry_start).map_err(dev)?;
        let mut entries = s
            .alloc_zeros::<u32>(scalars.len() * windows as usize)
            .map_err(dev)?;
        let mut l = s.launch_builder(&k.scatter.func);
        l.arg(&d_scalars)
            .arg(&n)
            .arg(&c)
            .arg(&windows)
            .arg(&buckets)
            .arg(&mut cursor)
            .arg(&mut entries);
        // SAFETY: msm_plan_scatter(scalars, n, c, windows, buckets, cursor, entries): `cursor`
        // starts at each bucket's offset and each bucket receives exactly the count the first
        // kernel made, so every write lands below the total ≤ n·W = entries.len().
        unsafe { l.launch(k.scatter.config(n)) }.map_err(dev)?;
        let tasks = s
            .clone_dtoh(&bucket_tasks.slice(nb..))
            .map_err(dev)?
            .first()
            .copied()
            .ok_or_else(|| dev("no task count"))?;
        let mut task_offsets = s.alloc_zeros::<u64>(tasks as usize + 1).map_err(dev)?;
        let mut l = s.launch_builder(&k.tasks.func);
        l.arg(&entry_start)
            .arg(&bucket_tasks)
            .arg(&nb32)
            .arg(&mut task_offsets);
        // SAFETY: msm_plan_tasks(entry_start, bucket_tasks, nbuckets, task_offsets): bucket b
        // writes task_offsets[bucket_tasks[b] .. bucket_tasks[b + 1]) and the last bucket also
        // index bucket_tasks[nbuckets] = tasks, all below tasks + 1.
        unsafe { l.launch(k.tasks.config(nb32)) }.map_err(dev)?;
        Ok(Some((
            shape,
            PlanBuffers {
                entries,
                task_offsets,
                bucket_tasks,
                tasks,
            },
        )))
    }

    /// Queues the planned MSM over resident `bases` with group `k`'s kernels; the buffer that
    /// receives the segment results.
    fn run(
        &self,
        k: &Kernels,
        shape: MsmShape,
        plan: &PlanBuffers,
        bases: &CudaSlice<u64>,
    ) -> Result<CudaSlice<u64>, AccelError> {
        let s = &self.stream;
        let (tasks, nbuckets, total) = (
            plan.tasks,
            shape.total_buckets() as u32,
            shape.total_segments() as u32,
        );
        let point = k.point_limbs;
        let mut partial = s
            .alloc_zeros::<u64>(point * tasks.max(1) as usize)
            .map_err(dev)?;
        let mut buckets = s
            .alloc_zeros::<u64>(point * nbuckets as usize)
            .map_err(dev)?;
        let mut out = s.alloc_zeros::<u64>(point * total as usize).map_err(dev)?;
        if tasks > 0 {
            let mut l = s.launch_builder(&k.accumulate.func);
            l.arg(&plan.entries)
                .arg(&plan.task_offsets)
                .arg(bases)
                .arg(&mut partial)
                .arg(&tasks);
            // SAFETY: msm_accumulate[_g2](entries, task_offsets (u64), bases, partial, tasks):
            // task_offsets has tasks + 1 entries bounded by the entries written; every entry
            // indexes a point below the bases' length (the plan was built from scalars of that
            // length); partial holds tasks points of this group; threads ≥ tasks return at once.
            unsafe { l.launch(k.accumulate.config(tasks)) }.map_err(dev)?;
        }
        let mut l = s.launch_builder(&k.combine.func);
        l.arg(&partial)
            .arg(&plan.bucket_tasks)
            .arg(&mut buckets)
            .arg(&nbuckets);
        // SAFETY: msm_combine[_g2](partial, bucket_tasks, buckets, nbuckets): bucket_tasks has
        // nbuckets + 1 entries, each ≤ tasks; buckets holds nbuckets points.
        unsafe { l.launch(k.combine.config(nbuckets)) }.map_err(dev)?;
        let mut l = s.launch_builder(&k.reduce.func);
        l.arg(&buckets)
            .arg(&mut out)
            .arg(&shape.buckets)
            .arg(&shape.segments)
            .arg(&shape.seg_len)
            .arg(&total);
        // SAFETY: msm_reduce[_g2](buckets, out, buckets_per_window, segments, seg_len, total):
        // segment g reads buckets [w·B + s·L, w·B + (s+1)·L) with S·L = B, all below
        // nbuckets = W·B; out holds total = W·S points.
        unsafe { l.launch(k.reduce.config(total)) }.map_err(dev)?;
        Ok(out)
    }

    /// Plans, uploads (or reuses) the bases and runs group `k`; the segment results as limbs.
    fn msm_limbs<B: std::hash::Hash>(
        &self,
        k: &Kernels,
        bases: &[B],
        scalars: &[ScalarBigInt],
        id: Option<BasesId>,
        upload: impl FnOnce() -> Result<CudaSlice<u64>, AccelError>,
    ) -> Result<Option<(MsmShape, Vec<u64>)>, AccelError> {
        let s = &self.stream;
        let span = KernelSpan::start(s)?;
        let Some((shape, plan)) = self.plan(bases.len(), scalars)? else {
            return Ok(None);
        };
        let bytes = bases.len() as u64 * (2 * k.point_limbs as u64 / 3) * 8;
        let d_bases = self.resident.get_or_upload(id, bases, bytes, upload)?;
        let out = self.run(k, shape, &plan, &d_bases)?;
        span.finish(s, &self.clock)?;
        Ok(Some((shape, self.pinned.download(s, &out)?)))
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
        let s = &self.stream;
        let upload = || self.pinned.upload(s, &bases_limbs(bases));
        let Some((shape, host)) = self.msm_limbs(&self.g1, bases, scalars, id, upload)? else {
            return Ok(G1Projective::default());
        };
        let segs = host
            .chunks_exact(12)
            .map(|l| jacobian_from_device(l, "cuda"))
            .collect::<Result<Vec<_>, _>>()?;
        checked_result(shape.finish(&segs)?, "cuda")
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
        let s = &self.stream;
        let upload = || self.pinned.upload(s, &bases_limbs_g2(bases));
        let Some((shape, host)) = self.msm_limbs(&self.g2, bases, scalars, id, upload)? else {
            return Ok(G2Projective::default());
        };
        let segs = host
            .chunks_exact(24)
            .map(|l| jacobian_g2_from_device(l, "cuda"))
            .collect::<Result<Vec<_>, _>>()?;
        checked_result(shape.finish(&segs)?, "cuda")
    }

    fn kernel_time(&self) -> Option<std::time::Duration> {
        Some(self.clock.total())
    }
}
