//! Radix-2 NTTs on wgpu (`kernels/wgsl/ntt.wgsl`), matching arkworks' radix-2 domain: the same
//! root of unity, natural-order evaluations, cosets at the field's multiplicative generator.
//! The structure of the CUDA backend: a few passes, each over groups of up to 2^9 points held in
//! workgroup memory (`cpu::ntt_passes`), the first reading the input out of place in
//! bit-reversed order and pre-scaling, the last post-scaling; all in one command buffer.
//! Twiddles, scaling factors and pass parameters are computed on the host (O(n)) once per (size,
//! kind) and kept on the device: the prover's repeated NTTs of one domain upload only their data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustorium_circuits::Fr;
use wgpu::util::DeviceExt;

use super::{
    PassTimer, bind_buffers, build_pipelines, dev, from_words, open_device, read_back, words,
};
use crate::cpu::{ntt_passes, ntt_plan};
use crate::{AccelError, NttBackend, NttKind};

const NTT: &str = include_str!("../../kernels/wgsl/ntt.wgsl");
/// log2 of the largest group a pass holds (`MAX_GROUP` in ntt.wgsl: 2^9 points, 16 KiB).
pub const NTT_MAX_K: u32 = 9;

/// A domain's constants on the device: twiddles, the optional pre- and post-scaling factors, and
/// the uniform parameters of every pass.
struct DevicePlan {
    twiddles: wgpu::Buffer,
    pre: Option<wgpu::Buffer>,
    post: Option<wgpu::Buffer>,
    /// Per pass: `[n, log n, s, k, flags, 0, 0, 0]` and its number of groups.
    passes: Vec<(wgpu::Buffer, u32)>,
}

/// Domains kept on the device at most (the prover uses one or two sizes).
const MAX_PLANS: usize = 8;

/// NTTs on a wgpu device.
pub struct WgpuNtt {
    device: wgpu::Device,
    queue: wgpu::Queue,
    layout: wgpu::BindGroupLayout,
    pass: wgpu::ComputePipeline,
    max_len: usize,
    plans: Mutex<HashMap<(usize, NttKind), Arc<DevicePlan>>>,
    plans_built: AtomicU64,
    clock: crate::KernelClock,
}

impl WgpuNtt {
    /// Opens a Vulkan adapter (software ones only with `allow_software`) and builds the pipeline.
    pub fn new(allow_software: bool) -> Result<Self, AccelError> {
        let (device, queue, _) = open_device(allow_software)?;
        use wgpu::BufferBindingType::{Storage, Uniform};
        let read = Storage { read_only: true };
        let (layout, mut p) = build_pipelines(
            &device,
            "ntt.wgsl",
            super::FIELD,
            NTT,
            &[
                read,
                Storage { read_only: false },
                read,
                read,
                read,
                Uniform,
            ],
            &["ntt_pass"],
        )?;
        let pass = p.pop().ok_or_else(|| dev("pipeline missing"))?;
        let limits = device.limits();
        // One workgroup per group: the smallest pass has at least 2^(log n / passes) points.
        let max_len = (limits.max_storage_buffer_binding_size as usize / 32)
            .min((limits.max_compute_workgroups_per_dimension as usize) << (NTT_MAX_K - 2));
        Ok(Self {
            pass,
            device,
            queue,
            layout,
            max_len,
            plans: Mutex::default(),
            plans_built: AtomicU64::new(0),
            clock: crate::KernelClock::default(),
        })
    }

    /// Domain plans built and uploaded so far (one per size and kind used, unless evicted).
    pub fn plans_built(&self) -> u64 {
        self.plans_built.load(Ordering::Relaxed)
    }

    /// The device plan for `n` points of `kind`, built and uploaded on first use.
    fn plan(&self, n: usize, kind: NttKind) -> Result<Arc<DevicePlan>, AccelError> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = plans.get(&(n, kind)) {
            return Ok(p.clone());
        }
        let plan = ntt_plan(n, kind)?;
        let log_n = n.trailing_zeros();
        let dv = &self.device;
        let buf = |label: &str, v: &[u32], usage: wgpu::BufferUsages| {
            dv.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(v),
                usage,
            })
        };
        let split = ntt_passes(log_n, NTT_MAX_K);
        let last = split.len().saturating_sub(1);
        let max_groups = self.device.limits().max_compute_workgroups_per_dimension;
        let mut passes = Vec::with_capacity(split.len());
        for (i, (s, k)) in split.into_iter().enumerate() {
            let mut flags = 0;
            if i == 0 {
                flags |= 1 | if plan.pre.is_some() { 2 } else { 0 };
            }
            if i == last && plan.post.is_some() {
                flags |= 4;
            }
            let groups = 1u32 << (log_n - k);
            if groups > max_groups {
                return Err(AccelError::Length(format!(
                    "NTT of {n}: {groups} workgroups exceed this device's {max_groups}"
                )));
            }
            let params = [n as u32, log_n, s, k, flags, 0, 0, 0];
            passes.push((buf("params", &params, wgpu::BufferUsages::UNIFORM), groups));
        }
        let storage = wgpu::BufferUsages::STORAGE;
        let device_plan = Arc::new(DevicePlan {
            twiddles: buf("twiddles", &words(&plan.twiddles), storage),
            pre: plan.pre.map(|f| buf("pre", &words(&f), storage)),
            post: plan.post.map(|f| buf("post", &words(&f), storage)),
            passes,
        });
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert((n, kind), device_plan.clone());
        self.plans_built.fetch_add(1, Ordering::Relaxed);
        Ok(device_plan)
    }
}

impl NttBackend for WgpuNtt {
    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn ntt(&self, data: &mut [Fr], kind: NttKind) -> Result<(), AccelError> {
        let n = data.len();
        crate::cpu::domain(n)?; // validates n (a power of two with a radix-2 domain)
        if n > self.max_len {
            return Err(AccelError::Length(format!(
                "NTT of {n} exceeds this device's buffer limit ({})",
                self.max_len
            )));
        }
        if n == 1 {
            return Ok(());
        }
        let plan = self.plan(n, kind)?;
        let dv = &self.device;
        let size = (n * 32) as u64;
        let src = dv.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("input"),
            contents: bytemuck::cast_slice(&words(data)),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let out = dv.create_buffer(&wgpu::BufferDescriptor {
            label: Some("data"),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = dv.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // Unused factor bindings point at the twiddles; the flags keep them unread.
        let pre = plan.pre.as_ref().unwrap_or(&plan.twiddles);
        let post = plan.post.as_ref().unwrap_or(&plan.twiddles);
        let mut enc =
            dv.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ntt") });
        let timer = PassTimer::new(dv, &self.queue);
        for (i, (params, groups)) in plan.passes.iter().enumerate() {
            let buffers = [&src, &out, &plan.twiddles, pre, post, params];
            let bind = bind_buffers(dv, &self.layout, "ntt", &buffers);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("ntt"),
                timestamp_writes: PassTimer::writes(timer.as_ref(), i, plan.passes.len()),
            });
            pass.set_pipeline(&self.pass);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(*groups, 1, 1);
        }
        if let Some(t) = &timer {
            t.resolve(&mut enc);
        }
        enc.copy_buffer_to_buffer(&out, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let out = read_back(dv, &staging)?;
        if let Some(t) = timer {
            t.finish(dv, &self.clock)?;
        }
        for (x, c) in data.iter_mut().zip(out.chunks_exact(8)) {
            *x = from_words(c)?;
        }
        Ok(())
    }

    fn kernel_time(&self) -> Option<std::time::Duration> {
        PassTimer::total(&self.device, &self.clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuNtt;
    use ark_std::UniformRand;

    fn backend() -> Option<WgpuNtt> {
        match WgpuNtt::new(true) {
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

    /// A domain's constants go to the device once per (size, kind): repeated transforms reuse
    /// them and still equal arkworks, another kind builds its own.
    #[test]
    fn domain_constants_are_uploaded_once_per_size_and_kind() {
        let Some(gpu) = backend() else { return };
        let mut rng = ark_std::test_rng();
        for round in 0..3 {
            for kind in [NttKind::CosetForward, NttKind::Inverse] {
                let input: Vec<Fr> = (0..256).map(|_| Fr::rand(&mut rng)).collect();
                let mut want = input.clone();
                CpuNtt.ntt(&mut want, kind).expect("cpu");
                let mut got = input;
                gpu.ntt(&mut got, kind).expect("gpu");
                assert_eq!(got, want, "round {round}, {kind:?}");
            }
        }
        assert_eq!(gpu.plans_built(), 2);
    }

    #[test]
    fn wgpu_ntt_equals_arkworks_for_every_kind() {
        let Some(gpu) = backend() else { return };
        let mut rng = ark_std::test_rng();
        // One pass (2^1 .. 2^9), two (2^10 .. 2^18), uneven ones (2^11: 6 + 5).
        for log_n in [1u32, 2, 5, 9, 10, 11, 12] {
            let n = 1usize << log_n;
            let input: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            for kind in [
                NttKind::Forward,
                NttKind::Inverse,
                NttKind::CosetForward,
                NttKind::CosetInverse,
            ] {
                let mut a = input.clone();
                let mut b = input.clone();
                gpu.ntt(&mut a, kind).expect("gpu");
                CpuNtt.ntt(&mut b, kind).expect("cpu");
                assert_eq!(a, b, "{kind:?} at 2^{log_n}");
            }
            // Round trip.
            let mut a = input.clone();
            gpu.ntt(&mut a, NttKind::CosetForward).expect("gpu");
            gpu.ntt(&mut a, NttKind::CosetInverse).expect("gpu");
            assert_eq!(a, input);
        }
        let mut bad = vec![Fr::from(1u64); 3];
        assert!(matches!(
            gpu.ntt(&mut bad, NttKind::Forward),
            Err(AccelError::Length(_))
        ));
    }
}
