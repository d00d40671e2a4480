//! The CUDA backends in a build without the `cuda` feature (see `crate::off`).

use crate::AccelError;
use crate::off::{Never, not_built, unbuilt_backend};

/// Whether the CUDA driver can be loaded: never, in this build.
pub fn driver_available() -> bool {
    false
}

pub use crate::devices::CudaDevice;

/// No devices in this build.
pub fn list_devices() -> Vec<CudaDevice> {
    Vec::new()
}

/// CUDA contexts opened: none in this build.
pub fn contexts_opened() -> u64 {
    0
}

/// NVRTC compilations: none in this build.
pub fn compilations() -> u64 {
    0
}

/// The CUDA batch hasher (not in this build).
pub struct CudaHasher {
    never: Never,
}

impl CudaHasher {
    /// Refuses: this build has no CUDA support.
    pub fn new(_ordinal: usize, _max_batch: usize) -> Result<Self, AccelError> {
        Err(not_built("cuda"))
    }

    /// The device's name.
    pub fn device_name(&self) -> &str {
        match self.never {}
    }
}

/// The CUDA MSM (not in this build).
pub struct CudaMsm {
    never: Never,
}

impl CudaMsm {
    /// Refuses: this build has no CUDA support.
    pub fn new(
        _ordinal: usize,
        _window_bits: u32,
        _resident_bytes: u64,
    ) -> Result<Self, AccelError> {
        Err(not_built("cuda"))
    }
}

/// The CUDA NTT (not in this build).
pub struct CudaNtt {
    never: Never,
}

impl CudaNtt {
    /// Refuses: this build has no CUDA support.
    pub fn new(_ordinal: usize) -> Result<Self, AccelError> {
        Err(not_built("cuda"))
    }
}

unbuilt_backend!(CudaHasher, "cuda", hasher);
unbuilt_backend!(CudaMsm, "cuda", msm);
unbuilt_backend!(CudaNtt, "cuda", ntt);
