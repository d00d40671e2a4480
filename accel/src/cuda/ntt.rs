//! NTTs on a CUDA device (`kernels/cuda/ntt.cu`): the same plan as the wgpu backend and the host
//! test build (`cpu::ntt_plan`), run as a few shared-memory passes of up to 2^10 stages'
//! worth of points (`cpu::ntt_passes`; 2^20 points: two passes) on one stream. The first
//! pass reads the input out of place in bit-reversed order (and pre-scales it), the last
//! post-scales as it stores. A domain's twiddles and scaling factors are computed and uploaded
//! once per (size, kind) and stay on the device.

#![allow(unsafe_code)] // kernel launches; see the SAFETY notes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};

use super::launch::{Kernel, KernelSpan};
use rustorium_circuits::Fr;

use super::hasher::{dev, limbs};
use crate::cpu::{ntt_passes, ntt_plan};
use crate::{AccelError, KernelClock, NttBackend, NttKind, fr_from_device};

/// A domain's constants on the device.
struct DevicePlan {
    twiddles: CudaSlice<u64>,
    pre: Option<CudaSlice<u64>>,
    post: Option<CudaSlice<u64>>,
}

/// Domains kept on the device at most (the prover uses one or two sizes).
const MAX_PLANS: usize = 8;
/// Pass flags of `ntt.cuh`.
const FIRST: u32 = 1;
const PRE: u32 = 2;
const POST: u32 = 4;

/// The CUDA NTT backend.
pub struct CudaNtt {
    stream: Arc<CudaStream>,
    pinned: Arc<super::pinned::PinnedPool>,
    pass: Kernel,
    plans: Mutex<HashMap<(usize, NttKind), Arc<DevicePlan>>>,
    clock: KernelClock,
}

impl CudaNtt {
    /// Opens device `ordinal` and compiles the NTT kernel for it.
    pub fn new(ordinal: usize) -> Result<Self, AccelError> {
        let ctx = super::DeviceContext::get(ordinal)?;
        let module = ctx.module("ntt.cu")?;
        Ok(Self {
            pass: Kernel::load(&module, "ntt_pass")?,
            stream: ctx.stream()?,
            pinned: ctx.pinned(),
            plans: Mutex::default(),
            clock: KernelClock::default(),
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
}

impl NttBackend for CudaNtt {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn ntt(&self, data: &mut [Fr], kind: NttKind) -> Result<(), AccelError> {
        crate::cpu::domain(data.len())?;
        if data.len() <= 1 {
            return Ok(());
        }
        let plan = self.plan(data.len(), kind)?;
        let log_n = data.len().trailing_zeros();
        let passes = ntt_passes(log_n, super::NTT_MAX_K);
        let src = self.pinned.upload(&self.stream, &limbs(data))?;
        let mut d = self
            .stream
            .alloc_zeros::<u64>(4 * data.len())
            .map_err(dev)?;
        let tw = &plan.twiddles;
        let span = KernelSpan::start(&self.stream)?;
        for (i, &(s, k)) in passes.iter().enumerate() {
            let mut flags = 0;
            if i == 0 {
                flags |= FIRST | if plan.pre.is_some() { PRE } else { 0 };
            }
            if i + 1 == passes.len() && plan.post.is_some() {
                flags |= POST;
            }
            // Unused factor arguments point at the twiddles; the flags keep them unread.
            let pre = plan.pre.as_ref().unwrap_or(tw);
            let post = plan.post.as_ref().unwrap_or(tw);
            let mut l = self.stream.launch_builder(&self.pass.func);
            l.arg(&src)
                .arg(&mut d)
                .arg(tw)
                .arg(pre)
                .arg(post)
                .arg(&log_n)
                .arg(&s)
                .arg(&k)
                .arg(&flags);
            let groups = 1u32 << (log_n - k);
            // SAFETY: ntt_pass(src, data, tw, pre, post, log_n, s, k, flags): `src` and `d` hold
            // n = 2^log_n elements, the twiddles n/2, `pre`/`post` n when their flag is set (the
            // plan made them for this n). Block g touches only the 2^k indices of its group
            // (below n) and its 2^k ≤ 2^RST_NTT_MAX_K shared elements; groups are disjoint, and
            // passes on one stream run in order.
            unsafe { l.launch(self.pass.config_blocks(groups, 1 << (k - 1))) }.map_err(dev)?;
        }
        span.finish(&self.stream, &self.clock)?;
        let host = self.pinned.download(&self.stream, &d)?;
        for (x, l) in data.iter_mut().zip(host.chunks_exact(4)) {
            let limbs: [u64; 4] = l.try_into().map_err(|_| dev("short result"))?;
            *x = fr_from_device(limbs, "cuda")?;
        }
        Ok(())
    }

    fn kernel_time(&self) -> Option<std::time::Duration> {
        Some(self.clock.total())
    }
}
