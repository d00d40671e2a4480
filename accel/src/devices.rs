//! What discovery reports about devices, whether or not the backend that drives them is built.

/// A CUDA device as discovery reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CudaDevice {
    /// Ordinal.
    pub ordinal: usize,
    /// Name.
    pub name: String,
    /// Compute capability.
    pub compute_capability: (i32, i32),
    /// Memory in bytes.
    pub memory: usize,
}

/// A wgpu adapter as discovery reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    /// Name.
    pub name: String,
    /// Graphics backend.
    pub backend: String,
    /// Device type (`Cpu` means a software rasterizer such as lavapipe).
    pub device_type: String,
    /// A software adapter.
    pub software: bool,
}
