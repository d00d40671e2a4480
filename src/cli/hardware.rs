//! `rustorium hardware detect|check`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result};
use clap::Subcommand;
use rustorium::hardware::{Profile, detect};

use super::Outcome;

#[derive(Subcommand)]
pub(crate) enum HardwareCommand {
    /// CPU features, CUDA devices, wgpu adapters, and which profile fits.
    Detect {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Measures this machine (batch sizes, threads, GPU MSM windows, backend per operation) and
    /// writes a profile the node loads, plus a markdown report and an SVG plot beside it.
    Tune {
        /// Profile to write (report: same name `.md`, plot: `.svg`).
        #[arg(long, default_value_os_t = rustorium::accel::tune::default_out())]
        out: PathBuf,
        /// Also measure software wgpu adapters (lavapipe).
        #[arg(long)]
        allow_software: bool,
        /// Fewer sizes and shorter runs (tests).
        #[arg(long)]
        quick: bool,
    },
    /// Self-test every backend a profile configures against the CPU: pass or fail per operation.
    Check {
        /// Profile file.
        #[arg(long)]
        profile: PathBuf,
    },
    /// Compiles every CUDA kernel file to a CUBIN (NVRTC) for each architecture into a kernel
    /// cache directory, and prints ptxas's registers, stack and spills per kernel. A GPU server
    /// given that directory (`RUSTORIUM_KERNEL_CACHE`) loads the CUBINs without compiling.
    Kernels {
        /// Architectures (sm_75, sm_80, sm_86, sm_89, sm_90, sm_100).
        #[arg(long, value_delimiter = ',', default_value = "sm_90")]
        arch: Vec<String>,
        /// The kernel cache directory to fill.
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn run(cmd: HardwareCommand) -> Result<Outcome> {
    match cmd {
        HardwareCommand::Detect { json } => {
            let d = detect();
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!(
                    "cpu: {} cores, features: {}",
                    d.cores,
                    d.cpu_features.join(" ")
                );
                if d.cuda.is_empty() {
                    println!("cuda: no device (driver not found or no GPU)");
                }
                for c in &d.cuda {
                    println!(
                        "cuda:{} {} (compute {}.{}, {:.1} GiB)",
                        c.ordinal,
                        c.name,
                        c.compute_capability.0,
                        c.compute_capability.1,
                        c.memory as f64 / (1u64 << 30) as f64
                    );
                }
                if d.wgpu.is_empty() {
                    println!("wgpu: no Vulkan adapter");
                }
                for a in &d.wgpu {
                    println!(
                        "wgpu: {} ({}, {}{})",
                        a.name,
                        a.backend,
                        a.device_type,
                        if a.software {
                            ", software: refused unless allow_software"
                        } else {
                            ""
                        }
                    );
                }
                println!("suggested profile: {}", d.suggested_profile);
            }
            Ok(Outcome::Ok)
        }
        HardwareCommand::Tune {
            out,
            allow_software,
            quick,
        } => {
            let mut bar = |done: usize, total: usize, what: &str| {
                let width = 30;
                let filled = width * done / total.max(1);
                eprint!(
                    "\r[{}{}] {done:>3}/{total} {what:<48}",
                    "#".repeat(filled),
                    ".".repeat(width - filled),
                );
                if done == total {
                    eprintln!();
                }
            };
            let report = rustorium::accel::tune::tune(&out, allow_software, quick, &mut bar)?;
            println!("{report}");
            Ok(Outcome::Ok)
        }
        HardwareCommand::Kernels { arch, out } => {
            use rustorium::accel::cuda::nvrtc::{
                ARCHITECTURES, KERNEL_FILES, compile_cubin, store_cubin,
            };
            println!("| arch | kernel | registers | stack B | spill stores / loads B | shared B |");
            println!("| --- | --- | --- | --- | --- | --- |");
            for a in &arch {
                let arch: &'static str = ARCHITECTURES
                    .iter()
                    .find(|k| **k == a.as_str())
                    .with_context(|| {
                        format!("unknown architecture {a} (one of {ARCHITECTURES:?})")
                    })?;
                for file in KERNEL_FILES {
                    let report = compile_cubin(file, arch)?;
                    for k in &report.kernels {
                        // ptxas reports registers per kernel; a device function the kernels
                        // call (the G2 file's) has its own stack and spills only.
                        let (name, registers) = if k.registers == 0 {
                            (format!("{} (device function)", k.name), "—".to_string())
                        } else {
                            (k.name.clone(), k.registers.to_string())
                        };
                        println!(
                            "| {arch} | {name} | {registers} | {} | {} / {} | {} |",
                            k.stack_bytes, k.spill_stores, k.spill_loads, k.shared_bytes
                        );
                    }
                    store_cubin(&out, file, arch, &report.image)?;
                }
            }
            Ok(Outcome::Ok)
        }
        HardwareCommand::Check { profile } => {
            let p = Profile::load(&profile)?;
            println!("profile {} ({})", p.name, profile.display());
            // Each selection runs its backend's CPU-reference self-check (`Profile::select`):
            // a backend that is returned has passed it.
            let results = [
                (
                    "poseidon",
                    p.poseidon_hasher(Arc::new(AtomicU64::new(0))).map(|r| r.1),
                ),
                ("ntt", p.ntt_backend().map(|r| r.1)),
                ("msm", p.msm_backend().map(|r| r.1)),
            ];
            let mut failed = false;
            for (op, result) in results {
                match result {
                    Ok(name) => println!("{op}: pass ({name})"),
                    Err(e) => {
                        failed = true;
                        println!("{op}: FAIL: {e}");
                    }
                }
            }
            Ok(if failed {
                Outcome::Status(1)
            } else {
                Outcome::Ok
            })
        }
    }
}
