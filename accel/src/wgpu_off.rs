//! The wgpu backends in a build without the `wgpu` feature (see `crate::off`).

use rustorium_circuits::Fr;

use crate::AccelError;
use crate::off::{Never, not_built, unbuilt_backend};

pub use crate::devices::AdapterSummary;

/// No adapters in this build.
pub fn list_adapters() -> Vec<AdapterSummary> {
    Vec::new()
}

/// wgpu devices opened: none in this build.
pub fn devices_opened() -> u64 {
    0
}

/// The wgpu batch hasher (not in this build).
pub struct WgpuHasher {
    /// The adapter in use.
    pub adapter: AdapterSummary,
    never: Never,
}

impl WgpuHasher {
    /// Refuses: this build has no wgpu support.
    pub fn new(_allow_software: bool, _max_batch: usize) -> Result<Self, AccelError> {
        Err(not_built("wgpu"))
    }

    /// Field multiplication, addition and subtraction of each pair on the device.
    pub fn field_ops(&self, _pairs: &[(Fr, Fr)]) -> Result<Vec<(Fr, Fr, Fr)>, AccelError> {
        match self.never {}
    }
}

/// The wgpu MSM (not in this build).
pub struct WgpuMsm {
    never: Never,
}

impl WgpuMsm {
    /// Refuses: this build has no wgpu support.
    pub fn new(
        _allow_software: bool,
        _window_bits: u32,
        _resident_bytes: u64,
    ) -> Result<Self, AccelError> {
        Err(not_built("wgpu"))
    }
}

/// The wgpu NTT (not in this build).
pub struct WgpuNtt {
    never: Never,
}

impl WgpuNtt {
    /// Refuses: this build has no wgpu support.
    pub fn new(_allow_software: bool) -> Result<Self, AccelError> {
        Err(not_built("wgpu"))
    }
}

unbuilt_backend!(WgpuHasher, "wgpu", hasher);
unbuilt_backend!(WgpuMsm, "wgpu", msm);
unbuilt_backend!(WgpuNtt, "wgpu", ntt);
