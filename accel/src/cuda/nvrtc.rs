//! Run-time compilation of the CUDA kernels with NVRTC (through cudarc's dynamic loading: no CUDA
//! toolkit at build time). cudarc panics when it calls into a missing library, so every entry point
//! checks that libnvrtc can be loaded first and reports its absence as an error.

#![allow(unsafe_code)] // cudarc's library probe is an `unsafe fn`; see the SAFETY note.

use super::flattened;
use crate::AccelError;

/// Architecture compiled for on the target GPU servers (Hopper: H100, H200).
pub const HOPPER: &str = "sm_90";

/// Whether libnvrtc can be loaded (from the library path, e.g. the project venv's
/// `nvidia/cu13/lib`).
pub fn nvrtc_available() -> bool {
    // SAFETY: the probe only tries `dlopen` on libnvrtc's candidate names and drops the handles;
    // loading NVRTC runs no initialisation code with preconditions of ours.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compiles the kernel file `name` (e.g. `poseidon.cu`) to PTX for `arch`.
pub fn compile_ptx(name: &str, arch: &'static str) -> Result<String, AccelError> {
    let device = |message: String| AccelError::Device {
        backend: "cuda",
        message,
    };
    if !nvrtc_available() {
        return Err(device(
            "libnvrtc not found (install nvidia-cuda-nvrtc and put it on LD_LIBRARY_PATH)".into(),
        ));
    }
    let src = flattened(name).ok_or_else(|| device(format!("no kernel source {name}")))?;
    let opts = cudarc::nvrtc::CompileOptions {
        arch: Some(arch),
        name: Some(name.to_string()),
        options: vec!["--std=c++17".into()],
        ..Default::default()
    };
    let ptx = cudarc::nvrtc::compile_ptx_with_opts(src, opts)
        .map_err(|e| device(format!("NVRTC: {e:?}")))?;
    Ok(ptx.to_src())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.cu` file compiles to PTX for Hopper with NVRTC 13.0 (the test set-up installs
    /// nvidia-cuda-nvrtc==13.0.88 into the project venv). Runs without a GPU.
    #[test]
    fn every_kernel_file_compiles_to_ptx() {
        if !nvrtc_available() {
            assert!(
                std::env::var_os("RUSTORIUM_SKIP_NVRTC").is_some(),
                "libnvrtc is not loadable: run scripts/test.sh (or set RUSTORIUM_SKIP_NVRTC=1)"
            );
            return;
        }
        for (name, _) in super::super::SOURCES
            .iter()
            .filter(|(n, _)| n.ends_with(".cu"))
        {
            let ptx = compile_ptx(name, HOPPER).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                ptx.contains(".target sm_90"),
                "{name}: {}",
                &ptx[..200.min(ptx.len())]
            );
            let entries: &[&str] = match *name {
                "poseidon.cu" => &["poseidon_t3", "poseidon_t5"],
                "ntt.cu" => &["ntt_bitrev", "ntt_butterfly", "ntt_scale"],
                "msm.cu" => &["msm_accumulate", "msm_combine", "msm_reduce"],
                other => panic!("no expected entries listed for {other}"),
            };
            for entry in entries {
                assert!(
                    ptx.contains(&format!(".entry {entry}")),
                    "{name} lacks {entry}"
                );
            }
        }
        // Every kernel file in the tree is embedded (and so compiled above).
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/cuda");
        for entry in std::fs::read_dir(dir).expect("kernels/cuda") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".cu") || name.ends_with(".cuh") {
                assert!(
                    super::super::SOURCES.iter().any(|(n, _)| *n == name),
                    "{name} is not in SOURCES"
                );
            }
        }
        assert!(compile_ptx("missing.cu", HOPPER).is_err());
    }
}
