//! The CUDA backend: kernels from `kernels/cuda` compiled at run time by NVRTC through cudarc.
//!
//! The field arithmetic and the Poseidon permutation are shared headers that also compile as host
//! C++ (`build.rs`); `host` exposes that build to tests, which compare it with arkworks.
//!
//! The backends need the `cuda` cargo feature (on by default); without it the same names exist,
//! find no device and refuse to open one (`off.rs`). The host build of the kernels' C++ and the
//! embedded sources are there either way.

pub mod host;
pub mod launch;

#[cfg(feature = "cuda")]
pub mod context;
#[cfg(feature = "cuda")]
mod hasher;
#[cfg(feature = "cuda")]
mod msm;
#[cfg(feature = "cuda")]
mod ntt;
#[cfg(feature = "cuda")]
pub mod nvrtc;
#[cfg(not(feature = "cuda"))]
mod off;
#[cfg(feature = "cuda")]
pub mod pinned;

#[cfg(feature = "cuda")]
pub use context::{DeviceContext, compilations, contexts_opened};
#[cfg(feature = "cuda")]
pub use hasher::{CudaDevice, CudaHasher, driver_available, list_devices};
#[cfg(feature = "cuda")]
pub use msm::CudaMsm;
#[cfg(feature = "cuda")]
pub use ntt::CudaNtt;
#[cfg(not(feature = "cuda"))]
pub use off::{
    CudaDevice, CudaHasher, CudaMsm, CudaNtt, compilations, contexts_opened, driver_available,
    list_devices,
};

/// The largest group of points one CUDA NTT pass holds in shared memory, log2 (`RST_NTT_MAX_K` in
/// `ntt.cuh`; 2^10 points are 32 KiB).
pub const NTT_MAX_K: u32 = 10;

/// The kernel sources, embedded so a deployed binary needs no source tree.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "bn254_field.cuh",
        include_str!("../../kernels/cuda/bn254_field.cuh"),
    ),
    ("g1.cuh", include_str!("../../kernels/cuda/g1.cuh")),
    (
        "poseidon.cuh",
        include_str!("../../kernels/cuda/poseidon.cuh"),
    ),
    ("ntt.cuh", include_str!("../../kernels/cuda/ntt.cuh")),
    (
        "poseidon.cu",
        include_str!("../../kernels/cuda/poseidon.cu"),
    ),
    ("ntt.cu", include_str!("../../kernels/cuda/ntt.cu")),
    ("msm.cuh", include_str!("../../kernels/cuda/msm.cuh")),
    (
        "msm_plan.cuh",
        include_str!("../../kernels/cuda/msm_plan.cuh"),
    ),
    ("msm.cu", include_str!("../../kernels/cuda/msm.cu")),
    ("msm_g2.cu", include_str!("../../kernels/cuda/msm_g2.cu")),
];

/// A `.cu` source with its local `#include "…"` lines replaced by the headers' text (NVRTC then
/// needs no include path).
pub fn flattened(name: &str) -> Option<String> {
    let (_, src) = SOURCES.iter().find(|(n, _)| *n == name)?;
    let mut seen = Vec::new();
    Some(expand(src, &mut seen))
}

fn expand(src: &str, seen: &mut Vec<String>) -> String {
    let mut out = String::new();
    for line in src.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("#include \"") {
            let name = rest.trim_end_matches('"').to_string();
            if !seen.contains(&name) {
                seen.push(name.clone());
                if let Some((_, inc)) = SOURCES.iter().find(|(n, _)| *n == name) {
                    out.push_str(&expand(inc, seen));
                }
            }
            continue;
        }
        if trimmed == "#pragma once" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    /// The Rust constant and the kernel's shared array agree.
    #[test]
    fn ntt_group_size_matches_the_kernel_header() {
        let header = super::SOURCES
            .iter()
            .find(|(n, _)| *n == "ntt.cuh")
            .map(|(_, s)| *s)
            .expect("ntt.cuh");
        assert!(header.contains(&format!("#define RST_NTT_MAX_K {}\n", super::NTT_MAX_K)));
    }
}
