//! Run-time compilation of the CUDA kernels with NVRTC (through cudarc's dynamic loading: no CUDA
//! toolkit at build time). cudarc panics when it calls into a missing library, so every entry point
//! checks that libnvrtc can be loaded first and reports its absence as an error.

#![allow(unsafe_code)] // cudarc's library probe is an `unsafe fn`; see the SAFETY note.

use super::flattened;
use crate::AccelError;

/// The most stack a kernel may keep per thread, bytes (CI's resource check): none. Every kernel
/// keeps its working state in registers, Poseidon of both widths included (with the former
/// 64-bit field arithmetic width 5 kept 320 B in local memory, since unrolled it spilled).
/// The G2 MSM kernels are the exception, see [`G2_STACK_BUDGET`].
pub const STACK_BUDGET: u32 = 0;

/// Stack and spill budget of the G2 MSM kernels (`*_g2`), bytes. Their point formulas over Fq2
/// do not fit 255 registers inlined (msm_reduce_g2 spilled 2.8 KB and took minutes in ptxas), so
/// the Fq2 product and the point operations are calls (`RST_CALL_FN`): the stack holds call frames
/// and the accumulators the caller keeps (sm_90: 856 B), and a few bytes still spill (8 B stores,
/// 256 B loads in msm_reduce_g2; 76 B in its point addition).
pub const G2_STACK_BUDGET: u32 = 1024;
/// See [`G2_STACK_BUDGET`]: spill stores or loads per G2 kernel at most.
pub const G2_SPILL_BUDGET: u32 = 512;

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

/// A kernel file compiled straight to a CUBIN for one real architecture, with ptxas's resource
/// report per kernel. Loaded as a binary, a CUBIN needs no JIT by the driver at start-up.
#[derive(Clone, Debug)]
pub struct Cubin {
    /// The CUBIN image.
    pub image: Vec<u8>,
    /// ptxas's resources per kernel, in the order it reported them.
    pub kernels: Vec<KernelResources>,
}

/// What ptxas reported for one kernel (`--ptxas-options=-v`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelResources {
    /// The entry point.
    pub name: String,
    /// Registers per thread.
    pub registers: u32,
    /// Stack frame per thread, bytes (local memory for the state a kernel keeps there).
    pub stack_bytes: u32,
    /// Register spill stores per thread, bytes.
    pub spill_stores: u32,
    /// Register spill loads per thread, bytes.
    pub spill_loads: u32,
    /// Static shared memory per block, bytes.
    pub shared_bytes: u32,
}

/// Parses ptxas's `-v` report (NVRTC's program log) into one entry per kernel.
pub fn parse_ptxas_report(log: &str) -> Vec<KernelResources> {
    let number_before = |line: &str, unit: &str| -> Option<u32> {
        let i = line.find(unit)?;
        line[..i].split_whitespace().last()?.parse().ok()
    };
    let mut out: Vec<KernelResources> = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.split("Function properties for ").nth(1) {
            out.push(KernelResources {
                name: rest.trim().to_string(),
                ..Default::default()
            });
        } else if let Some(k) = out.last_mut() {
            if line.contains("bytes stack frame") {
                k.stack_bytes = number_before(line, "bytes stack frame").unwrap_or(0);
                k.spill_stores = number_before(line, "bytes spill stores").unwrap_or(0);
                k.spill_loads = number_before(line, "bytes spill loads").unwrap_or(0);
            } else if line.contains("Used") && line.contains("registers") {
                k.registers = number_before(line, "registers").unwrap_or(0);
                k.shared_bytes = number_before(line, "bytes smem").unwrap_or(0);
            }
        }
    }
    out
}

/// Compiles the kernel file `name` to a CUBIN for the real architecture `arch` (e.g. `sm_90`),
/// with ptxas's resource report.
pub fn compile_cubin(name: &str, arch: &'static str) -> Result<Cubin, AccelError> {
    use std::ffi::{CStr, CString};
    let device = |message: String| AccelError::Device {
        backend: "cuda",
        message,
    };
    if !nvrtc_available() {
        return Err(device("libnvrtc not found".into()));
    }
    let src = flattened(name).ok_or_else(|| device(format!("no kernel source {name}")))?;
    let src = CString::new(src).map_err(|e| device(e.to_string()))?;
    let cname = CString::new(name).map_err(|e| device(e.to_string()))?;
    let prog = cudarc::nvrtc::result::create_program(&src, Some(&cname))
        .map_err(|e| device(format!("NVRTC: {e:?}")))?;
    let options = [
        format!("--gpu-architecture={arch}"),
        "--std=c++17".to_string(),
        "--ptxas-options=-v".to_string(),
    ];
    // SAFETY: `prog` was just created from `src` and `cname`, which outlive it (they are dropped
    // after `destroy_program` below), and it is destroyed exactly once, at the end.
    let result = unsafe {
        let compiled = cudarc::nvrtc::result::compile_program(prog, &options);
        let log = cudarc::nvrtc::result::get_program_log(prog)
            .map(|l| CStr::from_ptr(l.as_ptr()).to_string_lossy().into_owned())
            .unwrap_or_default();
        let image = compiled
            .map_err(|e| format!("NVRTC: {e:?}\n{log}"))
            .and_then(|()| {
                let mut size = 0usize;
                cudarc::nvrtc::sys::nvrtcGetCUBINSize(prog, &mut size)
                    .result()
                    .map_err(|e| format!("no CUBIN: {e:?}"))?;
                let mut image = vec![0u8; size];
                cudarc::nvrtc::sys::nvrtcGetCUBIN(prog, image.as_mut_ptr().cast())
                    .result()
                    .map_err(|e| format!("no CUBIN: {e:?}"))?;
                Ok(image)
            });
        let _ = cudarc::nvrtc::result::destroy_program(prog);
        image.map(|image| (image, log))
    };
    let (image, log) = result.map_err(device)?;
    Ok(Cubin {
        image,
        kernels: parse_ptxas_report(&log),
    })
}

/// NVRTC's version, `(major, minor)`.
pub fn nvrtc_version() -> Result<(i32, i32), AccelError> {
    if !nvrtc_available() {
        return Err(AccelError::Device {
            backend: "cuda",
            message: "libnvrtc not found".into(),
        });
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: libnvrtc is loadable (checked above); nvrtcVersion only writes the two integers
    // it is given pointers to.
    unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| AccelError::Device {
            backend: "cuda",
            message: format!("nvrtcVersion: {e:?}"),
        })?;
    Ok((major, minor))
}

/// Where compiled CUBINs are kept between runs: `$RUSTORIUM_KERNEL_CACHE`, else
/// `$XDG_CACHE_HOME/rustorium/kernels`, else `~/.cache/rustorium/kernels`.
pub fn kernel_cache_dir() -> Option<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("RUSTORIUM_KERNEL_CACHE") {
        return Some(d.into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))?;
    Some(base.join("rustorium").join("kernels"))
}

/// The CUBIN of kernel file `name` for `arch`, from the cache in `dir` when one was made from
/// the same source for the same architecture (the key hashes both) by the same NVRTC version
/// (in the file name); else compiled and stored (written beside and renamed, so a crash never
/// leaves half a file). Without NVRTC on this machine, an entry of any NVRTC version is used:
/// that is how a GPU server runs CUBINs staged by `scripts/gpu-check.sh stage`. Returns the
/// image and whether it came from the cache. A cached file that is not an ELF image is compiled
/// again; a cache that cannot be written is logged, not an error.
pub fn cached_cubin(
    name: &str,
    arch: &'static str,
    dir: Option<&std::path::Path>,
) -> Result<(Vec<u8>, bool), AccelError> {
    let prefix = cache_prefix(name, arch).ok_or_else(|| AccelError::Device {
        backend: "cuda",
        message: format!("no kernel source {name}"),
    })?;
    let version = nvrtc_version().ok();
    let candidates: Vec<std::path::PathBuf> = match dir.and_then(|d| std::fs::read_dir(d).ok()) {
        Some(entries) => {
            let mut c: Vec<_> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let file = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
                    file.ends_with(".cubin")
                        && match version {
                            Some((ma, mi)) => file == format!("{prefix}{ma}.{mi}.cubin"),
                            None => file.starts_with(&prefix),
                        }
                })
                .collect();
            c.sort();
            c
        }
        None => Vec::new(),
    };
    for p in &candidates {
        match std::fs::read(p) {
            Ok(image) if image.starts_with(b"\x7fELF") => return Ok((image, true)),
            _ => tracing::warn!(path = %p.display(), "cached kernel image is not a CUBIN"),
        }
    }
    let image = compile_cubin(name, arch)?.image;
    if let Some(d) = dir
        && let Err(e) = store_cubin(d, name, arch, &image)
    {
        tracing::warn!(dir = %d.display(), error = %e, "kernel cache not written");
    }
    Ok((image, false))
}

/// The cache entry's file name for kernel file `name` on `arch`: the file, the architecture, a
/// hash of the source and the architecture, and the NVRTC version.
fn cache_prefix(name: &str, arch: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let src = flattened(name)?;
    let mut h = Sha256::new();
    h.update(src.as_bytes());
    h.update(arch.as_bytes());
    h.update(b"--std=c++17");
    let key: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(format!(
        "{}-{arch}-{key}-nvrtc",
        name.trim_end_matches(".cu")
    ))
}

/// Stores `image` (compiled from kernel file `name` for `arch` by this machine's NVRTC) in the
/// cache directory `dir`; returns its path.
pub fn store_cubin(
    dir: &std::path::Path,
    name: &str,
    arch: &str,
    image: &[u8],
) -> Result<std::path::PathBuf, AccelError> {
    let err = |message: String| AccelError::Device {
        backend: "cuda",
        message,
    };
    let prefix = cache_prefix(name, arch).ok_or_else(|| err(format!("no kernel source {name}")))?;
    let (major, minor) = nvrtc_version()?;
    let path = dir.join(format!("{prefix}{major}.{minor}.cubin"));
    let tmp = path.with_extension("tmp");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, image))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| err(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// The kernel files and the architectures `hardware kernels` can compile for.
pub const KERNEL_FILES: [&str; 4] = ["poseidon.cu", "ntt.cu", "msm.cu", "msm_g2.cu"];
/// See [`KERNEL_FILES`].
pub const ARCHITECTURES: [&str; 6] = ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100"];

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernels each file defines.
    fn entries(file: &str) -> &'static [&'static str] {
        match file {
            "poseidon.cu" => &["poseidon_t3", "poseidon_t5"],
            "ntt.cu" => &["ntt_pass"],
            "msm.cu" => &[
                "msm_accumulate",
                "msm_combine",
                "msm_reduce",
                "msm_plan_count",
                "msm_plan_scan",
                "msm_plan_scatter",
                "msm_plan_tasks",
            ],
            "msm_g2.cu" => &["msm_accumulate_g2", "msm_combine_g2", "msm_reduce_g2"],
            other => panic!("no expected entries listed for {other}"),
        }
    }

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
            let entries = entries(name);
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

    /// Resource checks without a GPU: every kernel compiled to a CUBIN for sm_80, sm_89 and sm_90
    /// (NVRTC 13.0 from the venv, one thread per architecture), with ptxas's report. For each
    /// kernel the block the launch code picks for its register count fits the register file
    /// (before, every launch used 1024 threads, which the Poseidon and MSM kernels cannot), its
    /// static shared memory fits, and it spills no registers. The stack budget is [`STACK_BUDGET`]
    /// (none).
    #[test]
    fn every_kernel_fits_its_launch_geometry_on_every_target() {
        use super::super::launch::{
            REGISTERS_PER_BLOCK, block_registers, block_size, max_threads_for_registers,
        };
        if !nvrtc_available() {
            assert!(
                std::env::var_os("RUSTORIUM_SKIP_NVRTC").is_some(),
                "libnvrtc is not loadable: run scripts/test.sh (or set RUSTORIUM_SKIP_NVRTC=1)"
            );
            return;
        }
        let reports: Vec<(&str, Vec<(&str, Cubin)>)> = std::thread::scope(|s| {
            let jobs: Vec<_> = ["sm_80", "sm_89", "sm_90"]
                .into_iter()
                .map(|arch| {
                    s.spawn(move || {
                        let cubins = KERNEL_FILES
                            .into_iter()
                            .map(|f| {
                                (
                                    f,
                                    compile_cubin(f, arch)
                                        .unwrap_or_else(|e| panic!("{f} for {arch}: {e}")),
                                )
                            })
                            .collect();
                        (arch, cubins)
                    })
                })
                .collect();
            jobs.into_iter()
                .map(|j| j.join().expect("compile thread"))
                .collect()
        });
        for (arch, cubins) in &reports {
            for (file, cubin) in cubins {
                assert_eq!(
                    &cubin.image[..4],
                    b"\x7fELF",
                    "{file} for {arch} is not a CUBIN"
                );
                let entries = entries(file);
                for entry in entries {
                    let k = cubin
                        .kernels
                        .iter()
                        .find(|k| k.name == *entry)
                        .unwrap_or_else(|| panic!("{arch} {file}: no report for {entry}"));
                    eprintln!("{arch} {k:?}");
                    assert!(k.registers > 0, "{arch} {entry}: no register count");
                    let threads = block_size(max_threads_for_registers(k.registers), 1 << 24);
                    assert!(
                        block_registers(k.registers, threads) <= REGISTERS_PER_BLOCK,
                        "{arch} {entry}: {threads} threads × {} registers",
                        k.registers
                    );
                    assert!(k.shared_bytes <= 48 * 1024, "{arch} {entry}: shared memory");
                }
                // Stack and spills of every function in the report: the kernels and the device
                // functions they call (only the G2 file has any).
                let (stack, spills) = if *file == "msm_g2.cu" {
                    (G2_STACK_BUDGET, G2_SPILL_BUDGET)
                } else {
                    (STACK_BUDGET, 0)
                };
                for k in &cubin.kernels {
                    assert!(
                        k.spill_stores <= spills && k.spill_loads <= spills,
                        "{arch} {}: spills {} B / {} B",
                        k.name,
                        k.spill_stores,
                        k.spill_loads
                    );
                    // The budget is 0 for most files; the comparison stays a budget if raised.
                    #[allow(clippy::absurd_extreme_comparisons)]
                    let within = k.stack_bytes <= stack;
                    assert!(
                        within,
                        "{arch} {}: {} bytes of stack",
                        k.name, k.stack_bytes
                    );
                }
            }
        }
    }

    /// ptxas's report as NVRTC 13.0 writes it.
    #[test]
    fn the_ptxas_report_parses() {
        let log = "ptxas info    : 0 bytes gmem\nptxas info    : Compiling entry function 'poseidon_t3' for 'sm_90'\nptxas info    : Function properties for poseidon_t3\n    192 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\nptxas info    : Used 78 registers, used 0 barriers, 16 bytes smem, 392 bytes cmem[0]\nptxas info    : Function properties for ntt_scale\n    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\nptxas info    : Used 40 registers, 380 bytes cmem[0]\n";
        let k = parse_ptxas_report(log);
        assert_eq!(
            k,
            vec![
                KernelResources {
                    name: "poseidon_t3".into(),
                    registers: 78,
                    stack_bytes: 192,
                    spill_stores: 8,
                    spill_loads: 4,
                    shared_bytes: 16,
                },
                KernelResources {
                    name: "ntt_scale".into(),
                    registers: 40,
                    ..Default::default()
                },
            ]
        );
    }

    /// The CUBIN cache: a miss compiles and stores, the next call reads it back identical, a
    /// damaged file is compiled again (and replaced), another architecture is another entry.
    #[test]
    fn compiled_kernels_are_cached_by_source_architecture_and_nvrtc_version() {
        if !nvrtc_available() {
            assert!(
                std::env::var_os("RUSTORIUM_SKIP_NVRTC").is_some(),
                "libnvrtc not loadable"
            );
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, hit) = cached_cubin("ntt.cu", HOPPER, Some(dir.path())).expect("compile");
        assert!(!hit && first.starts_with(b"\x7fELF"));
        let (again, hit) = cached_cubin("ntt.cu", HOPPER, Some(dir.path())).expect("cached");
        assert!(hit, "the second request compiled again");
        assert_eq!(again, first);
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        std::fs::write(&files[0], b"garbage").expect("damage");
        let (repaired, hit) = cached_cubin("ntt.cu", HOPPER, Some(dir.path())).expect("again");
        assert!(!hit);
        assert_eq!(repaired, first);
        assert_eq!(
            std::fs::read(&files[0]).expect("read"),
            first,
            "not replaced"
        );
        let (_, hit) = cached_cubin("ntt.cu", "sm_80", Some(dir.path())).expect("sm_80");
        assert!(!hit, "another architecture shared an entry");
        assert!(cached_cubin("missing.cu", HOPPER, Some(dir.path())).is_err());
    }
}
