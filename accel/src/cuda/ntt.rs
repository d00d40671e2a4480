//! NTTs on a CUDA device (`kernels/cuda/ntt.cu`): the same plan as the wgpu backend and the host
//! test build (`cpu_prover::ntt_plan`), run as kernels on one stream. A domain's twiddles and
//! scaling factors are computed and uploaded once per (size, kind) and stay on the device.

#![allow(unsafe_code)] // kernel launches; see the SAFETY notes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};

use super::launch::Kernel;
use rustorium_circuits::Fr;

use super::hasher::{dev, limbs};
use crate::cpu_prover::ntt_plan;
use crate::{AccelError, NttBackend, NttKind, fr_from_device};

/// A domain's constants on the device.
struct DevicePlan {
    twiddles: CudaSlice<u64>,
    pre: Option<CudaSlice<u64>>,
    post: Option<CudaSlice<u64>>,
}

/// Domains kept on the device at most (the prover uses one or two sizes).
const MAX_PLANS: usize = 8;

/// The CUDA NTT backend.
pub struct CudaNtt {
    stream: Arc<CudaStream>,
    bitrev: Kernel,
    butterfly: Kernel,
    scale: Kernel,
    plans: Mutex<HashMap<(usize, NttKind), Arc<DevicePlan>>>,
}

impl CudaNtt {
    /// Opens device `ordinal` and compiles the NTT kernels for it.
    pub fn new(ordinal: usize) -> Result<Self, AccelError> {
        let ctx = super::DeviceContext::get(ordinal)?;
        let module = ctx.module("ntt.cu")?;
        Ok(Self {
            bitrev: Kernel::load(&module, "ntt_bitrev")?,
            butterfly: Kernel::load(&module, "ntt_butterfly")?,
            scale: Kernel::load(&module, "ntt_scale")?,
            stream: ctx.stream()?,
            plans: Mutex::default(),
        })
    }

    /// The device plan for `n` points of `kind`, computed and uploaded on first use.
    fn plan(&self, n: usize, kind: NttKind) -> Result<Arc<DevicePlan>, AccelError> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = plans.get(&(n, kind)) {
            return Ok(p.clone());
        }
        let plan = ntt_plan(n, kind)?;
        let up = |v: &[Fr]| self.stream.clone_htod(&limbs(v)).map_err(dev);
        let device_plan = Arc::new(DevicePlan {
            twiddles: up(&plan.twiddles)?,
            pre: plan.pre.as_deref().map(up).transpose()?,
            post: plan.post.as_deref().map(up).transpose()?,
        });
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert((n, kind), device_plan.clone());
        Ok(device_plan)
    }

    fn scale_by(
        &self,
        data: &mut CudaSlice<u64>,
        factors: &CudaSlice<u64>,
        n: u32,
    ) -> Result<(), AccelError> {
        let mut l = self.stream.launch_builder(&self.scale.func);
        l.arg(data).arg(factors).arg(&n);
        // SAFETY: ntt_scale(Fr* data, const Fr* factors, unsigned n): both buffers hold n elements
        // (the plan's factors are made for this n) and threads with index ≥ n return at once.
        unsafe { l.launch(self.scale.config(n)) }.map_err(dev)?;
        Ok(())
    }
}

impl NttBackend for CudaNtt {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn ntt(&self, data: &mut [Fr], kind: NttKind) -> Result<(), AccelError> {
        crate::cpu_prover::domain(data.len())?;
        let n = data.len() as u32;
        if n <= 1 {
            return Ok(());
        }
        let plan = self.plan(data.len(), kind)?;
        let tw = &plan.twiddles;
        let log_n = n.trailing_zeros();
        let mut d = self.stream.clone_htod(&limbs(data)).map_err(dev)?;
        if let Some(pre) = &plan.pre {
            self.scale_by(&mut d, pre, n)?;
        }
        let mut l = self.stream.launch_builder(&self.bitrev.func);
        l.arg(&mut d).arg(&n).arg(&log_n);
        // SAFETY: ntt_bitrev(Fr* data, unsigned n, unsigned log_n): `d` holds n = 2^log_n elements;
        // each thread swaps two in-range elements, each pair exactly once.
        unsafe { l.launch(self.bitrev.config(n)) }.map_err(dev)?;
        let mut half = 1u32;
        while half < n {
            let mut l = self.stream.launch_builder(&self.butterfly.func);
            l.arg(&mut d).arg(tw).arg(&n).arg(&half);
            // SAFETY: ntt_butterfly(Fr* data, const Fr* tw, unsigned n, unsigned half): n/2
            // threads touch disjoint pairs (i0, i0 + half) below n; twiddle indices are below n/2.
            // Launches on one stream run in order, so stages never overlap.
            unsafe { l.launch(self.butterfly.config(n / 2)) }.map_err(dev)?;
            half *= 2;
        }
        if let Some(post) = &plan.post {
            self.scale_by(&mut d, post, n)?;
        }
        let host = self.stream.clone_dtoh(&d).map_err(dev)?;
        for (x, l) in data.iter_mut().zip(host.chunks_exact(4)) {
            let limbs: [u64; 4] = l.try_into().map_err(|_| dev("short result"))?;
            *x = fr_from_device(limbs, "cuda")?;
        }
        Ok(())
    }
}
