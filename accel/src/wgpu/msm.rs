//! G1 MSM on wgpu (`kernels/wgsl/msm.wgsl` over `field.wgsl` instantiated for Fq): the same plan
//! and kernels as the CUDA backend (`accel::msm`). The plan is built on the device by default
//! (`msm_plan.wgsl`: digits, a counting sort by bucket, task offsets — the CUDA plan kernels in
//! WGSL), submitted with the task count read back, then the three MSM kernels run as compute
//! passes in one command buffer. [`WgpuMsm::with_host_plan`] plans on the host instead. Bases
//! stay on the device between calls with the same [`BasesId`], bounded in bytes.

use wgpu::util::DeviceExt;

use super::{
    PassTimer, bind_buffers, build_pipelines, dev, fq_field, open_device, read_back, scoped,
};
use crate::msm::{
    BasesId, MsmPlan, MsmShape, ResidentCache, bases_limbs, checked_result, jacobian_from_device,
    shape_for_device,
};
use crate::{AccelError, G1Affine, G1Projective, MsmBackend, ScalarBigInt};

const MSM: &str = include_str!("../../kernels/wgsl/msm.wgsl");
const PLAN: &str = include_str!("../../kernels/wgsl/msm_plan.wgsl");
const WORKGROUP: u32 = 64;

/// A plan in device memory (u32 offsets: WGSL has no 64-bit integers).
struct Plan {
    shape: MsmShape,
    entries: wgpu::Buffer,
    offsets: wgpu::Buffer,
    bucket_tasks: wgpu::Buffer,
    tasks: u32,
}

/// MSMs on a wgpu device.
pub struct WgpuMsm {
    device: wgpu::Device,
    queue: wgpu::Queue,
    layout: wgpu::BindGroupLayout,
    accumulate: wgpu::ComputePipeline,
    combine: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
    plan_layout: wgpu::BindGroupLayout,
    /// count, scan, scatter, tasks (`msm_plan.wgsl`).
    plan_kernels: [wgpu::ComputePipeline; 4],
    plan_on_device: bool,
    window_bits: u32,
    max_threads: u32,
    max_binding: u64,
    resident: ResidentCache<wgpu::Buffer>,
    clock: crate::KernelClock,
}

impl WgpuMsm {
    /// Opens a Vulkan adapter (software ones only with `allow_software`); `window_bits` 0 picks
    /// per size; at most `resident_bytes` of bases stay on the device between calls.
    pub fn new(
        allow_software: bool,
        window_bits: u32,
        resident_bytes: u64,
    ) -> Result<Self, AccelError> {
        let (device, queue, _) = open_device(allow_software)?;
        use wgpu::BufferBindingType::{Storage, Uniform};
        let ro = Storage { read_only: true };
        let rw = Storage { read_only: false };
        let (layout, mut p) = build_pipelines(
            &device,
            "msm.wgsl",
            &fq_field()?,
            MSM,
            &[ro, ro, ro, ro, rw, rw, rw, Uniform],
            &["msm_accumulate", "msm_combine", "msm_reduce"],
        )?;
        let (reduce, combine, accumulate) = match (p.pop(), p.pop(), p.pop()) {
            (Some(r), Some(c), Some(a)) => (r, c, a),
            _ => return Err(dev("pipeline missing")),
        };
        let (plan_layout, k) = build_pipelines(
            &device,
            "msm_plan.wgsl",
            "",
            PLAN,
            &[ro, rw, rw, rw, rw, rw, rw, Uniform],
            &["plan_count", "plan_scan", "plan_scatter", "plan_tasks"],
        )?;
        let plan_kernels: [wgpu::ComputePipeline; 4] =
            k.try_into().map_err(|_| dev("plan pipeline missing"))?;
        let limits = device.limits();
        Ok(Self {
            plan_layout,
            plan_kernels,
            plan_on_device: true,
            max_threads: limits.max_compute_workgroups_per_dimension * WORKGROUP,
            max_binding: limits.max_storage_buffer_binding_size,
            device,
            queue,
            layout,
            accumulate,
            combine,
            reduce,
            window_bits,
            resident: ResidentCache::new(resident_bytes),
            clock: crate::KernelClock::default(),
        })
    }

    /// Uploads of bases so far (cache misses).
    pub fn uploads(&self) -> u64 {
        self.resident.uploads()
    }

    fn storage(&self, label: &str, words: &[u32]) -> wgpu::Buffer {
        let placeholder = [0u32];
        let contents = if words.is_empty() {
            &placeholder[..]
        } else {
            words
        };
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(contents),
                usage: wgpu::BufferUsages::STORAGE,
            })
    }

    fn scratch(&self, label: &str, points: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (points.max(1) * 96) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// The same backend planning on the host (`MsmPlan`) instead of the device.
    pub fn with_host_plan(mut self) -> Self {
        self.plan_on_device = false;
        self
    }

    /// A device buffer of `words` u32 (at least one), zeroed, for the plan kernels.
    fn words(&self, label: &str, words: usize, extra: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (words.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | extra,
            mapped_at_creation: false,
        })
    }

    /// `(offset, count)` dispatches covering `total` threads, at most `max_threads` each.
    fn chunks(&self, total: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..total)
            .step_by(self.max_threads.max(1) as usize)
            .map(move |o| (o, (total - o).min(self.max_threads)))
    }

    /// Builds the plan on the device: the four plan kernels in one submission, then the task
    /// count read back (the one number the host needs: it sizes the partial sums).
    fn device_plan(&self, scalars: &[ScalarBigInt], shape: MsmShape) -> Result<Plan, AccelError> {
        use wgpu::BufferUsages as U;
        let d = &self.device;
        let n = scalars.len() as u32;
        let nb = shape.total_buckets() as u32;
        let words: Vec<u32> = scalars
            .iter()
            .flat_map(|s| s.0)
            .flat_map(|l| [l as u32, (l >> 32) as u32])
            .collect();
        let scalars_buf = self.storage("scalars", &words);
        let counts = self.words("counts", nb as usize, U::empty());
        let entry_start = self.words("entry_start", nb as usize + 1, U::COPY_SRC);
        let bucket_tasks = self.words("bucket_tasks", nb as usize + 1, U::COPY_SRC);
        let cursor = self.words("cursor", nb as usize + 1, U::COPY_DST);
        let entries = self.words("entries", (n * shape.windows) as usize, U::empty());
        // At most one task per 32 entries plus a partial one per bucket, plus the end.
        let max_tasks = (n * shape.windows) / 32 + nb + 1;
        let task_offsets = self.words("task_offsets", max_tasks as usize, U::empty());
        let staging = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("task count"),
            size: 4,
            usage: U::MAP_READ | U::COPY_DST,
            mapped_at_creation: false,
        });
        let buffers = [
            &scalars_buf,
            &counts,
            &entry_start,
            &bucket_tasks,
            &cursor,
            &entries,
            &task_offsets,
        ];
        let group = |count: u32, offset: u32| {
            let params = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("plan params"),
                contents: bytemuck::cast_slice(&[
                    count,
                    offset,
                    n,
                    shape.c,
                    shape.windows,
                    shape.buckets,
                    nb,
                    0,
                ]),
                usage: U::UNIFORM,
            });
            let mut all = buffers.to_vec();
            all.push(&params);
            bind_buffers(d, &self.plan_layout, "msm plan", &all)
        };
        let [count, scan, scatter, tasks] = &self.plan_kernels;
        let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("msm plan"),
        });
        let timer = PassTimer::new(d, &self.queue);
        // (pipeline, bind group, workgroups), with a copy of entry_start into cursor before
        // the scatter.
        let mut first: Vec<(&wgpu::ComputePipeline, wgpu::BindGroup, u32)> = Vec::new();
        for (o, c) in self.chunks(n) {
            first.push((count, group(c, o), c.div_ceil(WORKGROUP)));
        }
        first.push((scan, group(1, 0), 1));
        let mut second: Vec<(&wgpu::ComputePipeline, wgpu::BindGroup, u32)> = Vec::new();
        for (o, c) in self.chunks(n) {
            second.push((scatter, group(c, o), c.div_ceil(WORKGROUP)));
        }
        for (o, c) in self.chunks(nb) {
            second.push((tasks, group(c, o), c.div_ceil(WORKGROUP)));
        }
        let total = first.len() + second.len();
        for (i, (pipeline, bind, groups)) in first.iter().chain(second.iter()).enumerate() {
            if i == first.len() {
                enc.copy_buffer_to_buffer(&entry_start, 0, &cursor, 0, u64::from(nb + 1) * 4);
            }
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("msm plan"),
                timestamp_writes: PassTimer::writes(timer.as_ref(), i, total),
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(*groups, 1, 1);
        }
        if let Some(t) = &timer {
            t.resolve(&mut enc);
        }
        enc.copy_buffer_to_buffer(&bucket_tasks, u64::from(nb) * 4, &staging, 0, 4);
        self.queue.submit([enc.finish()]);
        let tasks = read_back(d, &staging)?
            .first()
            .copied()
            .ok_or_else(|| dev("no task count"))?;
        if let Some(t) = timer {
            t.finish(d, &self.clock)?;
        }
        if tasks >= max_tasks {
            return Err(dev(format!(
                "plan of {tasks} tasks past its bound {max_tasks}"
            )));
        }
        Ok(Plan {
            shape,
            entries,
            offsets: task_offsets,
            bucket_tasks,
            tasks,
        })
    }

    /// The plan on the host, uploaded.
    fn host_plan(&self, scalars: &[ScalarBigInt], c: u32) -> Result<Plan, AccelError> {
        let plan = MsmPlan::new(scalars, c)?;
        Ok(Plan {
            shape: plan.shape(),
            entries: self.storage("entries", &plan.entries),
            offsets: self.storage("task_offsets", &plan.task_offsets_u32()?),
            bucket_tasks: self.storage("bucket_tasks", &plan.bucket_tasks),
            tasks: plan.tasks() as u32,
        })
    }

    /// Uploads (or reuses) the bases, records the three kernels over `plan` and submits; the
    /// returned staging buffer receives the segment results, the timer the kernels' device time.
    fn run(
        &self,
        plan: &Plan,
        bases: &[G1Affine],
        id: Option<BasesId>,
    ) -> Result<(wgpu::Buffer, Option<PassTimer>), AccelError> {
        let bases_buf = self
            .resident
            .get_or_upload(id, bases, bases.len() as u64 * 64, || {
                let limbs = bases_limbs(bases);
                Ok(self.storage("bases", bytemuck::cast_slice(&limbs)))
            })?;
        let (entries, offsets, bucket_tasks) = (&plan.entries, &plan.offsets, &plan.bucket_tasks);
        let shape = plan.shape;
        let partial = self.scratch("partial", plan.tasks as usize);
        let buckets = self.scratch("buckets", shape.total_buckets());
        let out = self.scratch("segments", shape.total_segments());
        let out_size = (shape.total_segments() * 96) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: out_size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = |params: &wgpu::Buffer| {
            let bufs = [
                entries,
                offsets,
                bucket_tasks,
                bases_buf.as_ref(),
                &partial,
                &buckets,
                &out,
                params,
            ];
            bind_buffers(&self.device, &self.layout, "msm", &bufs)
        };
        // Each kernel over its thread count, in dispatches of at most `max_threads`.
        let mut passes = Vec::new();
        for (pipeline, count) in [
            (&self.accumulate, plan.tasks),
            (&self.combine, shape.total_buckets() as u32),
            (&self.reduce, shape.total_segments() as u32),
        ] {
            let mut offset = 0u32;
            while offset < count {
                let n = (count - offset).min(self.max_threads);
                let params = self
                    .device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("params"),
                        contents: bytemuck::cast_slice(&[
                            n,
                            offset,
                            shape.buckets,
                            shape.segments,
                            shape.seg_len,
                            0,
                            0,
                            0,
                        ]),
                        usage: wgpu::BufferUsages::UNIFORM,
                    });
                passes.push((pipeline, bind(&params), n));
                offset += n;
            }
        }
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("msm") });
        let timer = PassTimer::new(&self.device, &self.queue);
        for (i, (pipeline, group, n)) in passes.iter().enumerate() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("msm"),
                timestamp_writes: PassTimer::writes(timer.as_ref(), i, passes.len()),
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(n.div_ceil(WORKGROUP), 1, 1);
        }
        if let Some(t) = &timer {
            t.resolve(&mut enc);
        }
        enc.copy_buffer_to_buffer(&out, 0, &staging, 0, out_size);
        self.queue.submit([enc.finish()]);
        Ok((staging, timer))
    }
}

impl MsmBackend for WgpuMsm {
    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn msm_g1(
        &self,
        bases: &[G1Affine],
        scalars: &[ScalarBigInt],
        id: Option<BasesId>,
    ) -> Result<G1Projective, AccelError> {
        let Some(shape) = shape_for_device(bases.len(), scalars.len(), self.window_bits)? else {
            return Ok(G1Projective::default());
        };
        // The largest buffers: bases, entries (at most n·W; the device plan allocates that
        // bound), partial sums (at most one task per 32 entries plus one per bucket), buckets.
        let entries = bases.len() as u64 * u64::from(shape.windows);
        let largest = [
            bases.len() as u64 * 64,
            entries * 4,
            (entries / 32 + shape.total_buckets() as u64 + 1) * 96,
            shape.total_buckets() as u64 * 96,
        ];
        if largest.iter().any(|b| *b > self.max_binding) {
            return Err(AccelError::Length(format!(
                "an MSM of {} points exceeds this device's buffer limit ({} bytes)",
                bases.len(),
                self.max_binding
            )));
        }
        let plan = scoped(&self.device, || {
            if self.plan_on_device {
                self.device_plan(scalars, shape)
            } else {
                self.host_plan(scalars, shape.c)
            }
        })
        .and_then(|r| r)?;
        let (staging, timer) = scoped(&self.device, || self.run(&plan, bases, id))
            .and_then(|r| r)
            .inspect_err(|_| self.resident.forget(id))?;
        let words = read_back(&self.device, &staging)?;
        if let Some(t) = timer {
            t.finish(&self.device, &self.clock)?;
        }
        let limbs: Vec<u64> = words
            .chunks_exact(2)
            .map(|w| u64::from(w[0]) | (u64::from(w[1]) << 32))
            .collect();
        let segs = limbs
            .chunks_exact(12)
            .map(|l| jacobian_from_device(l, "wgpu"))
            .collect::<Result<Vec<_>, _>>()?;
        checked_result(shape.finish(&segs)?, "wgpu")
    }

    fn kernel_time(&self) -> Option<std::time::Duration> {
        PassTimer::total(&self.device, &self.clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::VariableBaseMSM;

    fn backend(window_bits: u32) -> Option<WgpuMsm> {
        match WgpuMsm::new(true, window_bits, 1 << 30) {
            Ok(b) => Some(b),
            Err(e) => {
                assert!(
                    std::env::var_os("RUSTORIUM_SKIP_WGPU").is_some(),
                    "no Vulkan adapter: {e}"
                );
                None
            }
        }
    }

    /// Both plan paths (device, host) against arkworks on every edge case.
    #[test]
    fn wgpu_msm_equals_arkworks_on_random_and_edge_cases() {
        let Some(gpu) = backend(0) else { return };
        let host_planned = backend(0).expect("second backend").with_host_plan();
        for n in [1usize, 70] {
            for (name, bases, scalars) in crate::msm::edge_case_inputs(n, 5) {
                let want = G1Projective::msm_bigint(&bases, &scalars);
                let got = gpu.msm_g1(&bases, &scalars, None).expect("msm");
                assert_eq!(got, want, "device plan: {name}, n = {n}");
                let got = host_planned.msm_g1(&bases, &scalars, None).expect("msm");
                assert_eq!(got, want, "host plan: {name}, n = {n}");
            }
        }
        // A skewed MSM whose bucket is split into several tasks, and a wider window.
        let (_, bases, _) = crate::msm::edge_case_inputs(2000, 9).remove(0);
        let ones: Vec<ScalarBigInt> = (0..2000)
            .map(|i| ark_ff::PrimeField::into_bigint(ark_bn254::Fr::from((i % 3 == 0) as u64)))
            .collect();
        let want = G1Projective::msm_bigint(&bases, &ones);
        assert_eq!(gpu.msm_g1(&bases, &ones, None).expect("msm"), want);
        assert_eq!(host_planned.msm_g1(&bases, &ones, None).expect("msm"), want);
        assert!(matches!(
            gpu.msm_g1(&bases[..2], &ones[..1], None),
            Err(AccelError::Length(_))
        ));
    }

    #[test]
    fn wgpu_msm_keeps_bases_resident_per_id() {
        let Some(gpu) = backend(5) else { return };
        let mut cases = crate::msm::edge_case_inputs(40, 21);
        let (_, bases, scalars) = cases.remove(0);
        let (_, _, other_scalars) = cases.remove(2);
        let id = Some(BasesId {
            owner: BasesId::new_owner(),
            query: 0,
        });
        for s in [&scalars, &other_scalars, &scalars] {
            let want = G1Projective::msm_bigint(&bases, s);
            assert_eq!(gpu.msm_g1(&bases, s, id).expect("msm"), want);
        }
        assert_eq!(gpu.uploads(), 1, "bases uploaded once for one id");
        let _ = gpu.msm_g1(&bases, &scalars, None).expect("msm");
        assert_eq!(gpu.uploads(), 2, "no id: uploaded per call");
    }
}
