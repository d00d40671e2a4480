//! G1 MSM on wgpu (`kernels/wgsl/msm.wgsl` over `field.wgsl` instantiated for Fq): the same plan
//! and kernels as the CUDA backend (`accel::msm`), run as three compute passes in one command
//! buffer. Bases stay on the device between calls with the same [`BasesId`], bounded in bytes.

use wgpu::util::DeviceExt;

use super::{PassTimer, build_pipelines, dev, fq_field, open_device, read_back, scoped};
use crate::msm::{
    BasesId, MsmPlan, ResidentCache, bases_limbs, checked_result, jacobian_from_device,
    plan_for_device,
};
use crate::{AccelError, G1Affine, G1Projective, MsmBackend, ScalarBigInt};

const MSM: &str = include_str!("../../kernels/wgsl/msm.wgsl");
const WORKGROUP: u32 = 64;

/// MSMs on a wgpu device.
pub struct WgpuMsm {
    device: wgpu::Device,
    queue: wgpu::Queue,
    layout: wgpu::BindGroupLayout,
    accumulate: wgpu::ComputePipeline,
    combine: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
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
        let limits = device.limits();
        Ok(Self {
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

    /// Uploads (or reuses) the bases and the plan, records the three kernels and submits; the
    /// returned staging buffer receives the segment results, the timer the kernels' device time.
    fn run(
        &self,
        plan: &MsmPlan,
        bases: &[G1Affine],
        id: Option<BasesId>,
    ) -> Result<(wgpu::Buffer, Option<PassTimer>), AccelError> {
        let bases_buf = self
            .resident
            .get_or_upload(id, bases, bases.len() as u64 * 64, || {
                let limbs = bases_limbs(bases);
                Ok(self.storage("bases", bytemuck::cast_slice(&limbs)))
            })?;
        let entries = self.storage("entries", &plan.entries);
        let offsets = self.storage("task_offsets", &plan.task_offsets_u32()?);
        let bucket_tasks = self.storage("bucket_tasks", &plan.bucket_tasks);
        let partial = self.scratch("partial", plan.tasks());
        let buckets = self.scratch("buckets", plan.total_buckets());
        let out = self.scratch("segments", plan.total_segments());
        let out_size = (plan.total_segments() * 96) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: out_size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = |params: &wgpu::Buffer| {
            let bufs = [
                &entries,
                &offsets,
                &bucket_tasks,
                bases_buf.as_ref(),
                &partial,
                &buckets,
                &out,
                params,
            ];
            let entries: Vec<wgpu::BindGroupEntry> = bufs
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: b.as_entire_binding(),
                })
                .collect();
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("msm"),
                layout: &self.layout,
                entries: &entries,
            })
        };
        // Each kernel over its thread count, in dispatches of at most `max_threads`.
        let mut passes = Vec::new();
        for (pipeline, count) in [
            (&self.accumulate, plan.tasks() as u32),
            (&self.combine, plan.total_buckets() as u32),
            (&self.reduce, plan.total_segments() as u32),
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
                            plan.buckets,
                            plan.segments,
                            plan.seg_len,
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
        let Some(plan) = plan_for_device(bases, scalars, self.window_bits)? else {
            return Ok(G1Projective::default());
        };
        let largest = [
            bases.len() as u64 * 64,
            plan.entries.len() as u64 * 4,
            plan.tasks() as u64 * 96,
            plan.total_buckets() as u64 * 96,
        ];
        if largest.iter().any(|b| *b > self.max_binding) {
            return Err(AccelError::Length(format!(
                "an MSM of {} points exceeds this device's buffer limit ({} bytes)",
                bases.len(),
                self.max_binding
            )));
        }
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
        checked_result(plan.finish(&segs)?, "wgpu")
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

    #[test]
    fn wgpu_msm_equals_arkworks_on_random_and_edge_cases() {
        let Some(gpu) = backend(0) else { return };
        for n in [1usize, 70] {
            for (name, bases, scalars) in crate::msm::edge_case_inputs(n, 5) {
                let want = G1Projective::msm_bigint(&bases, &scalars);
                let got = gpu.msm_g1(&bases, &scalars, None).expect("msm");
                assert_eq!(got, want, "{name}, n = {n}");
            }
        }
        // A skewed MSM whose bucket is split into several tasks, and a wider window.
        let (_, bases, _) = crate::msm::edge_case_inputs(2000, 9).remove(0);
        let ones: Vec<ScalarBigInt> = (0..2000)
            .map(|i| ark_ff::PrimeField::into_bigint(ark_bn254::Fr::from((i % 3 == 0) as u64)))
            .collect();
        let want = G1Projective::msm_bigint(&bases, &ones);
        assert_eq!(gpu.msm_g1(&bases, &ones, None).expect("msm"), want);
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
