//! Radix-2 NTTs on wgpu (`kernels/wgsl/ntt.wgsl`), matching arkworks' radix-2 domain: the same
//! root of unity, natural-order evaluations, cosets at the field's multiplicative generator.
//! Bit reversal, `log n` butterfly stages and the pointwise scalings (coset powers, 1/n) run on the
//! device in one command buffer. Twiddles, scaling factors and stage parameters are computed on
//! the host (O(n)) once per (size, kind) and kept on the device: the prover's repeated NTTs of one
//! domain upload only their data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustorium_circuits::Fr;
use wgpu::util::DeviceExt;

use super::{build_pipelines, dev, from_words, open_device, read_back, words};
use crate::cpu_prover::ntt_plan;
use crate::{AccelError, NttBackend, NttKind};

const NTT: &str = include_str!("../../kernels/wgsl/ntt.wgsl");
const WORKGROUP: u32 = 64;

/// A domain's constants on the device: twiddles, the optional pre- and post-scaling factors, and
/// the uniform parameters of every pass.
struct DevicePlan {
    twiddles: wgpu::Buffer,
    pre: Option<wgpu::Buffer>,
    post: Option<wgpu::Buffer>,
    /// `[n, log n, half, 0]` for the scaling and bit-reversal passes (half 0) and each stage.
    base: wgpu::Buffer,
    stages: Vec<wgpu::Buffer>,
}

/// Domains kept on the device at most (the prover uses one or two sizes).
const MAX_PLANS: usize = 8;

/// NTTs on a wgpu device.
pub struct WgpuNtt {
    device: wgpu::Device,
    queue: wgpu::Queue,
    layout: wgpu::BindGroupLayout,
    bitrev: wgpu::ComputePipeline,
    butterfly: wgpu::ComputePipeline,
    scale: wgpu::ComputePipeline,
    max_len: usize,
    plans: Mutex<HashMap<(usize, NttKind), Arc<DevicePlan>>>,
    plans_built: AtomicU64,
}

impl WgpuNtt {
    /// Opens a Vulkan adapter (software ones only with `allow_software`) and builds the pipelines.
    pub fn new(allow_software: bool) -> Result<Self, AccelError> {
        let (device, queue, _) = open_device(allow_software)?;
        use wgpu::BufferBindingType::{Storage, Uniform};
        let (layout, mut p) = build_pipelines(
            &device,
            "ntt.wgsl",
            super::FIELD,
            NTT,
            &[
                Storage { read_only: false },
                Storage { read_only: true },
                Uniform,
            ],
            &["bitrev", "butterfly", "scale"],
        )?;
        let (scale, butterfly, bitrev) = match (p.pop(), p.pop(), p.pop()) {
            (Some(s), Some(b), Some(r)) => (s, b, r),
            _ => return Err(dev("pipeline missing")),
        };
        let limits = device.limits();
        let max_len = (limits.max_storage_buffer_binding_size as usize / 32)
            .min(limits.max_compute_workgroups_per_dimension as usize * WORKGROUP as usize);
        Ok(Self {
            bitrev,
            butterfly,
            scale,
            device,
            queue,
            layout,
            max_len,
            plans: Mutex::default(),
            plans_built: AtomicU64::new(0),
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
        let params = |half: u32| {
            buf(
                "params",
                &[n as u32, log_n, half, 0],
                wgpu::BufferUsages::UNIFORM,
            )
        };
        let storage = wgpu::BufferUsages::STORAGE;
        let device_plan = Arc::new(DevicePlan {
            twiddles: buf("twiddles", &words(&plan.twiddles), storage),
            pre: plan.pre.map(|f| buf("pre", &words(&f), storage)),
            post: plan.post.map(|f| buf("post", &words(&f), storage)),
            base: params(0),
            stages: (0..log_n).map(|s| params(1 << s)).collect(),
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
        crate::cpu_prover::domain(n)?; // validates n (a power of two with a radix-2 domain)
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
        let data_buf = dv.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("data"),
            contents: bytemuck::cast_slice(&words(data)),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        });
        let staging = dv.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let group = |aux: &wgpu::Buffer, p: &wgpu::Buffer| {
            dv.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("ntt"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: data_buf.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: aux.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: p.as_entire_binding(),
                    },
                ],
            })
        };
        let mut passes: Vec<(&wgpu::ComputePipeline, wgpu::BindGroup, u32)> = Vec::new();
        if let Some(f) = &plan.pre {
            passes.push((&self.scale, group(f, &plan.base), n as u32));
        }
        passes.push((&self.bitrev, group(&plan.twiddles, &plan.base), n as u32));
        for p in &plan.stages {
            passes.push((&self.butterfly, group(&plan.twiddles, p), (n / 2) as u32));
        }
        if let Some(f) = &plan.post {
            passes.push((&self.scale, group(f, &plan.base), n as u32));
        }
        let mut enc =
            dv.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ntt") });
        for (pipeline, bind, threads) in &passes {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("ntt"),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(threads.div_ceil(WORKGROUP), 1, 1);
        }
        enc.copy_buffer_to_buffer(&data_buf, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let out = read_back(dv, &staging)?;
        for (x, c) in data.iter_mut().zip(out.chunks_exact(8)) {
            *x = from_words(c)?;
        }
        Ok(())
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
        for log_n in [1u32, 2, 5, 10, 12] {
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
