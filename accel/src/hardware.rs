//! Hardware profiles (`hardware/*.toml`): which backend runs each operation, device, memory and
//! batch limits, threads. Schema below; unknown keys and bad values are refused with the file and
//! key named. Detection (`rustorium hardware detect`) and the self-check (`hardware check`, also run
//! by the node at start-up) live here too.
//!
//! ```toml
//! name = "h100"
//! require_gpu = true            # refuse to start without every configured GPU backend
//! [backends]                    # per operation: "cuda" | "wgpu" | "cpu" | "auto"
//! poseidon = "cuda"
//! msm = "cpu"
//! ntt = "cpu"
//! scoring = "cpu"              # "cuda": ONNX Runtime CUDA EP (fails loudly, counted CPU stand-in)
//! [msm]
//! window_bits = 0               # Pippenger window c (2..=20); 0: by MSM size
//! [wgpu]
//! allow_software = false       # accept lavapipe-like CPU adapters (tests only)
//! memory_limit_mb = 0           # device memory we may use, MiB (0: no limit of ours)
//! [cuda]
//! device = 0
//! memory_limit_mb = 65536       # 0: no limit of ours
//! batch = 4194304               # hashes per launch (also bounded by memory_limit_mb)
//! [cpu]
//! threads = 0                   # rayon threads, 0: all cores
//! ```

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use ark_std::UniformRand;
use ark_std::rand::SeedableRng;
use rustorium_circuits::Fr;
use rustorium_circuits::poseidon;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cuda::{CudaHasher, CudaMsm, CudaNtt, list_devices};
use crate::wgpu::{AdapterSummary, WgpuHasher, WgpuMsm, WgpuNtt, list_adapters};
use crate::{
    AccelError, BatchHasher, CpuHasher, CpuMsm, CpuNtt, FallbackHasher, MsmBackend, NttBackend,
};

/// A backend choice.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// NVIDIA GPU through cudarc.
    Cuda,
    /// Portable GPU compute through wgpu (Vulkan).
    Wgpu,
    /// The CPU.
    Cpu,
    /// CUDA if a device works, then a non-software wgpu adapter, else the CPU (logged).
    Auto,
}

/// `[backends]`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backends {
    /// Poseidon batches (tree updates).
    pub poseidon: Backend,
    /// Prover MSMs.
    pub msm: Backend,
    /// Prover NTTs.
    pub ntt: Backend,
    /// Transaction scoring (ONNX Runtime): `cuda` registers the CUDA execution provider (failing
    /// loudly, then an explicit, counted CPU session); anything else runs on the CPU.
    #[serde(default = "cpu_backend")]
    pub scoring: Backend,
}

fn cpu_backend() -> Backend {
    Backend::Cpu
}

/// `[cuda]`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CudaSection {
    /// Device ordinal.
    pub device: usize,
    /// Memory we may use, MiB (0: no limit of ours).
    pub memory_limit_mb: u64,
    /// Hashes per launch.
    pub batch: usize,
}

impl Default for CudaSection {
    fn default() -> Self {
        Self {
            device: 0,
            memory_limit_mb: 0,
            batch: 1 << 20,
        }
    }
}

/// `[wgpu]`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WgpuSection {
    /// Accept a software adapter (lavapipe): for tests, never for production.
    pub allow_software: bool,
    /// Device memory we may use, MiB (0: no limit of ours).
    pub memory_limit_mb: u64,
}

/// `[msm]`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsmSection {
    /// Pippenger window size `c` for the GPU MSMs (2..=20); 0 picks by MSM size
    /// (`accel::msm::default_window_bits`).
    pub window_bits: u32,
}

/// `[cpu]`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpuSection {
    /// rayon threads (0: all cores).
    pub threads: usize,
}

/// A hardware profile.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// Refuse to start unless every GPU backend configured works.
    #[serde(default)]
    pub require_gpu: bool,
    /// Backend per operation.
    pub backends: Backends,
    /// CUDA settings.
    #[serde(default)]
    pub cuda: CudaSection,
    /// wgpu settings.
    #[serde(default)]
    pub wgpu: WgpuSection,
    /// MSM settings.
    #[serde(default)]
    pub msm: MsmSection,
    /// CPU settings.
    #[serde(default)]
    pub cpu: CpuSection,
}

/// Profile and backend errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HardwareError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Syntax, unknown key or bad value (the message names the key).
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A required GPU backend is unavailable.
    #[error("profile {profile} requires a GPU for {op}, but {reason}")]
    GpuRequired {
        /// Profile.
        profile: String,
        /// Operation.
        op: &'static str,
        /// Why the GPU backend is unavailable.
        reason: String,
    },
}

impl Backend {
    /// The backend a profile names `name` (`cuda`, `wgpu`, `cpu`, `auto`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "cuda" => Some(Self::Cuda),
            "wgpu" => Some(Self::Wgpu),
            "cpu" => Some(Self::Cpu),
            "auto" => Some(Self::Auto),
            _ => None,
        }
    }
}

/// Bytes one hash occupies on the device (inputs of arity 4 + output).
const BYTES_PER_HASH: u64 = 5 * 32;

impl Profile {
    /// Reads and validates a profile.
    pub fn load(path: &Path) -> Result<Self, HardwareError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| HardwareError::Io {
            path: p.clone(),
            source,
        })?;
        Self::parse(&text, &p)
    }

    /// Parses a profile; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, HardwareError> {
        let profile: Self = toml::from_str(text).map_err(|e| HardwareError::Invalid {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        if profile.msm.window_bits != 0 && !(2..=20).contains(&profile.msm.window_bits) {
            return Err(HardwareError::Invalid {
                path: origin.to_string(),
                message: format!(
                    "msm.window_bits must be 0 (by size) or 2..=20, not {}",
                    profile.msm.window_bits
                ),
            });
        }
        if profile.cuda.batch == 0 {
            return Err(HardwareError::Invalid {
                path: origin.to_string(),
                message: "cuda.batch must be at least 1".into(),
            });
        }
        Ok(profile)
    }

    /// The profile as TOML (serde, the same schema `parse` reads), after `comment` lines (each
    /// prefixed with `# `). The text is parsed back before it is returned, so what is written is
    /// always a valid profile.
    pub fn to_toml(&self, comment: &str) -> Result<String, HardwareError> {
        let body = toml::to_string(self).map_err(|e| HardwareError::Invalid {
            path: self.name.clone(),
            message: e.to_string(),
        })?;
        let mut text: String = comment.lines().map(|l| format!("# {l}\n")).collect();
        text += &body;
        Self::parse(&text, &self.name)?;
        Ok(text)
    }

    /// Hashes per CUDA launch: `cuda.batch`, lowered to fit `cuda.memory_limit_mb`.
    pub fn cuda_batch(&self) -> usize {
        let limit = self.cuda.memory_limit_mb * (1 << 20) / BYTES_PER_HASH;
        if self.cuda.memory_limit_mb == 0 {
            self.cuda.batch
        } else {
            self.cuda.batch.min(limit.max(1) as usize)
        }
    }

    /// The one backend selection of every operation. `choice` names the backend; `auto` tries
    /// CUDA, then a hardware wgpu adapter (software adapters only where `wgpu` is named and
    /// `wgpu.allow_software` is set), then the CPU. Whatever is chosen, the CPU included, passes
    /// `check` (a comparison with the CPU reference) before it is returned: a device that answers
    /// wrong is an error, never used. No working device is an error under `require_gpu`, otherwise
    /// the CPU is used and the reasons are logged.
    fn select<T: ?Sized>(
        &self,
        op: &'static str,
        choice: Backend,
        open: impl Fn(Backend, bool) -> Result<(Arc<T>, String), AccelError>,
        check: impl Fn(&Arc<T>) -> Result<(), SelfCheckError>,
        cpu: impl Fn() -> Arc<T>,
    ) -> Result<(Arc<T>, String), HardwareError> {
        let candidates: &[(Backend, bool)] = match choice {
            Backend::Cpu => &[],
            Backend::Cuda => &[(Backend::Cuda, false)],
            Backend::Wgpu => &[(Backend::Wgpu, self.wgpu.allow_software)],
            Backend::Auto => &[(Backend::Cuda, false), (Backend::Wgpu, false)],
        };
        let failed = |backend: String, e: SelfCheckError| HardwareError::GpuRequired {
            profile: self.name.clone(),
            op,
            reason: format!("{backend} failed its self-check: {e}"),
        };
        let mut reasons = Vec::new();
        for &(backend, software) in candidates {
            match open(backend, software) {
                Ok((device, name)) => {
                    check(&device).map_err(|e| failed(name.clone(), e))?;
                    tracing::info!(profile = %self.name, op, backend = %name, "backend selected and checked");
                    return Ok((device, name));
                }
                Err(e) => reasons.push(e.to_string()),
            }
        }
        if !reasons.is_empty() {
            let reason = reasons.join("; ");
            if self.require_gpu {
                return Err(HardwareError::GpuRequired {
                    profile: self.name.clone(),
                    op,
                    reason,
                });
            }
            tracing::warn!(profile = %self.name, op, %reason, "no GPU: using the CPU");
        }
        let device = cpu();
        check(&device).map_err(|e| failed("cpu".into(), e))?;
        Ok((device, "cpu".into()))
    }

    /// The Poseidon batch hasher this profile selects (see `select`), wrapped with the counted CPU
    /// retry when it is a GPU; with the backend's name.
    pub fn poseidon_hasher(
        &self,
        fallbacks: Arc<AtomicU64>,
    ) -> Result<(Arc<dyn BatchHasher<Fr>>, String), HardwareError> {
        let batch = self.cuda_batch();
        let (hasher, name) = self.select::<dyn BatchHasher<Fr>>(
            "poseidon",
            self.backends.poseidon,
            |backend, software| match backend {
                Backend::Cuda => {
                    let h = CudaHasher::new(self.cuda.device, batch)?;
                    let name = h.device_name().to_string();
                    Ok((Arc::new(h), name))
                }
                _ => {
                    let h = WgpuHasher::new(software, batch)?;
                    let name = format!("wgpu {} ({})", h.adapter.name, h.adapter.device_type);
                    Ok((Arc::new(h), name))
                }
            },
            |h| self_check(h.as_ref()),
            || Arc::new(CpuHasher::new()),
        )?;
        if name == "cpu" {
            return Ok((hasher, name));
        }
        Ok((Arc::new(FallbackHasher::new(hasher, fallbacks)), name))
    }

    /// The prover's NTT backend this profile selects (see `select`), with its name.
    pub fn ntt_backend(&self) -> Result<(Arc<dyn NttBackend>, String), HardwareError> {
        self.select::<dyn NttBackend>(
            "ntt",
            self.backends.ntt,
            |backend, software| match backend {
                Backend::Cuda => Ok((Arc::new(CudaNtt::new(self.cuda.device)?), "cuda".into())),
                _ => Ok((Arc::new(WgpuNtt::new(software)?), "wgpu".into())),
            },
            |n| ntt_self_check(n.as_ref()),
            || Arc::new(CpuNtt),
        )
    }

    /// The prover's G1 MSM backend this profile selects (see `select`), with its name.
    pub fn msm_backend(&self) -> Result<(Arc<dyn MsmBackend>, String), HardwareError> {
        self.select::<dyn MsmBackend>(
            "msm",
            self.backends.msm,
            |backend, software| match backend {
                Backend::Cuda => Ok((
                    Arc::new(CudaMsm::new(
                        self.cuda.device,
                        self.msm.window_bits,
                        resident_budget(self.cuda.memory_limit_mb),
                    )?),
                    "cuda".into(),
                )),
                _ => Ok((
                    Arc::new(WgpuMsm::new(
                        software,
                        self.msm.window_bits,
                        resident_budget(self.wgpu.memory_limit_mb),
                    )?),
                    "wgpu".into(),
                )),
            },
            |m| msm_self_check(m.as_ref()),
            || Arc::new(CpuMsm),
        )
    }
}

/// Bytes of proving-key bases a device backend may keep resident: half the memory limit (the rest
/// is for each MSM's plan and scratch buffers, about `n · (4·W + 96·W/32)` bytes); no limit of ours
/// (0) keeps every key's bases.
fn resident_budget(memory_limit_mb: u64) -> u64 {
    if memory_limit_mb == 0 {
        u64::MAX
    } else {
        memory_limit_mb * (1 << 20) / 2
    }
}

/// Why a backend failed its comparison with the CPU reference.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SelfCheckError {
    /// The backend returned an error instead of a result.
    #[error("{backend}: {source}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// Its error.
        source: AccelError,
    },
    /// The backend's result differs from the reference.
    #[error("{backend} differs from {reference} ({case})")]
    Mismatch {
        /// The backend's name.
        backend: String,
        /// What it was compared with.
        reference: &'static str,
        /// Which input.
        case: String,
    },
}

fn backend_err(backend: &str) -> impl FnOnce(AccelError) -> SelfCheckError + '_ {
    move |source| SelfCheckError::Backend {
        backend: backend.to_string(),
        source,
    }
}

/// A randomized comparison of an MSM backend with arkworks (random scalars, and the 0/1 skew of
/// real witnesses), 256 points.
pub fn msm_self_check(m: &dyn MsmBackend) -> Result<(), SelfCheckError> {
    use ark_ec::VariableBaseMSM;
    for (name, bases, scalars) in crate::msm::edge_case_inputs(256, 0x3a3)
        .into_iter()
        .filter(|(n, _, _)| n == "random" || n.starts_with("small"))
    {
        let got = m
            .msm_g1(&bases, &scalars, None)
            .map_err(backend_err(m.name()))?;
        if got != crate::G1Projective::msm_bigint(&bases, &scalars) {
            return Err(SelfCheckError::Mismatch {
                backend: format!("{} MSM", m.name()),
                reference: "arkworks",
                case: name,
            });
        }
    }
    Ok(())
}

/// A small randomized comparison of an NTT backend with arkworks (every kind, 2^10).
pub fn ntt_self_check(n: &dyn NttBackend) -> Result<(), SelfCheckError> {
    use crate::NttKind;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x477);
    let input: Vec<Fr> = (0..1024).map(|_| Fr::rand(&mut rng)).collect();
    for kind in [
        NttKind::Forward,
        NttKind::Inverse,
        NttKind::CosetForward,
        NttKind::CosetInverse,
    ] {
        let (mut a, mut b) = (input.clone(), input.clone());
        n.ntt(&mut a, kind).map_err(backend_err(n.name()))?;
        CpuNtt.ntt(&mut b, kind).map_err(backend_err("cpu"))?;
        if a != b {
            return Err(SelfCheckError::Mismatch {
                backend: n.name().to_string(),
                reference: "arkworks",
                case: format!("{kind:?}"),
            });
        }
    }
    Ok(())
}

/// A small randomized comparison of a batch hasher with the native code (both widths).
pub fn self_check(h: &dyn BatchHasher<Fr>) -> Result<(), SelfCheckError> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x5e1f);
    for arity in [2usize, 4] {
        let n = 257;
        let inputs: Vec<Fr> = (0..n * arity).map(|_| Fr::rand(&mut rng)).collect();
        let mut out = vec![Fr::from(0u64); n];
        h.hash_batch(arity, &inputs, &mut out)
            .map_err(backend_err(h.name()))?;
        for (i, o) in out.iter().enumerate() {
            let want = poseidon::hash(&inputs[i * arity..(i + 1) * arity])
                .map_err(|e| backend_err("native")(AccelError::from(e)))?;
            if *o != want {
                return Err(SelfCheckError::Mismatch {
                    backend: h.name().to_string(),
                    reference: "the CPU",
                    case: format!("hash {i} of arity {arity}"),
                });
            }
        }
    }
    Ok(())
}

/// What `hardware detect` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Detected {
    /// Logical cores.
    pub cores: usize,
    /// CPU features that matter to the field arithmetic.
    pub cpu_features: Vec<String>,
    /// CUDA devices.
    pub cuda: Vec<crate::cuda::CudaDevice>,
    /// wgpu (Vulkan) adapters; `software` marks CPU emulations such as lavapipe.
    pub wgpu: Vec<AdapterSummary>,
    /// The shipped profile that fits.
    pub suggested_profile: String,
}

/// Detects this machine's compute resources.
pub fn detect() -> Detected {
    let mut cpu_features = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        for (name, on) in [
            ("avx2", std::is_x86_feature_detected!("avx2")),
            ("avx512f", std::is_x86_feature_detected!("avx512f")),
            ("avx512ifma", std::is_x86_feature_detected!("avx512ifma")),
            ("adx", std::is_x86_feature_detected!("adx")),
            ("bmi2", std::is_x86_feature_detected!("bmi2")),
        ] {
            if on {
                cpu_features.push(name.to_string());
            }
        }
    }
    let cuda = list_devices();
    let suggested = match cuda.first().map(|d| d.name.to_uppercase()) {
        Some(n) if n.contains("H200") => "hardware/h200.toml",
        Some(n) if n.contains("H100") => "hardware/h100.toml",
        Some(_) => "hardware/nvidia.toml",
        None => "hardware/cpu.toml",
    };
    let wgpu = list_adapters();
    Detected {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_features,
        cuda,
        wgpu,
        suggested_profile: suggested.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Profiles are written with serde: every shipped profile written by `to_toml` reads back
    /// as the same profile, with the comment on top.
    #[test]
    fn profiles_round_trip_through_to_toml() {
        for name in ["cpu", "h100", "h200", "lavapipe", "nvidia"] {
            let path = format!("{}/../hardware/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let p = Profile::load(Path::new(&path)).expect("shipped profile");
            let text = p.to_toml("written by a test\nsecond line").expect("writes");
            assert!(
                text.starts_with("# written by a test\n# second line\n"),
                "{text}"
            );
            let back = Profile::parse(&text, "round trip").expect("reads back");
            assert_eq!(format!("{back:?}"), format!("{p:?}"), "{name}");
        }
        assert_eq!(Backend::from_name("wgpu"), Some(Backend::Wgpu));
        assert_eq!(Backend::from_name("gpu"), None);
    }

    #[test]
    fn shipped_profiles_parse_and_bad_ones_name_the_key() {
        for name in ["cpu", "h100", "h200", "nvidia", "lavapipe"] {
            let path = format!("{}/../hardware/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let p = Profile::load(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, name);
        }
        let e = Profile::parse(
            "name = \"x\"\n[backends]\nposeidon = \"tpu\"\nmsm = \"cpu\"\nntt = \"cpu\"\n",
            "x.toml",
        )
        .expect_err("bad value")
        .to_string();
        assert!(e.contains("x.toml") && e.contains("poseidon"), "{e}");
        let e = Profile::parse("name = \"x\"\nturbo = true\n[backends]\nposeidon = \"cpu\"\nmsm = \"cpu\"\nntt = \"cpu\"\n", "y.toml")
            .expect_err("unknown key")
            .to_string();
        assert!(e.contains("turbo"), "{e}");
        let e = Profile::parse("name = \"x\"\n[backends]\nposeidon = \"cpu\"\nmsm = \"cpu\"\nntt = \"cpu\"\n[cuda]\nbatch = 0\n", "z.toml")
            .expect_err("zero batch")
            .to_string();
        assert!(e.contains("cuda.batch"), "{e}");
    }

    #[test]
    fn batch_is_bounded_by_the_memory_limit() {
        let mut p = Profile::parse(
            "name = \"x\"\n[backends]\nposeidon = \"cpu\"\nmsm = \"cpu\"\nntt = \"cpu\"\n",
            "x",
        )
        .expect("valid");
        p.cuda.batch = 1 << 24;
        p.cuda.memory_limit_mb = 16;
        assert_eq!(p.cuda_batch(), (16 << 20) / 160);
        p.cuda.memory_limit_mb = 0;
        assert_eq!(p.cuda_batch(), 1 << 24);
    }

    /// One selection for every operation: `auto` means CUDA, then a hardware wgpu adapter, then
    /// the CPU, for Poseidon, NTT and MSM alike (a software adapter only where `wgpu` is named and
    /// allowed); with `require_gpu` every operation refuses alike, naming why each device failed;
    /// a named wgpu backend (lavapipe here) is selected and self-checked for every operation.
    #[cfg(feature = "wgpu")] // lavapipe
    #[test]
    fn every_operation_is_selected_by_one_rule() {
        if !list_devices().is_empty() {
            return; // on a CUDA machine `auto` selects the GPU: covered by `hardware check`
        }
        let profile = |require_gpu: bool, backend: &str| {
            Profile::parse(
                &format!(
                    "name = \"t\"\nrequire_gpu = {require_gpu}\n[backends]\nposeidon = \"{backend}\"\nmsm = \"{backend}\"\nntt = \"{backend}\"\n[wgpu]\nallow_software = true\n"
                ),
                "test",
            )
            .expect("profile")
        };
        let names = |p: &Profile| -> Vec<Result<String, String>> {
            vec![
                p.poseidon_hasher(Arc::new(AtomicU64::new(0)))
                    .map(|(_, n)| n)
                    .map_err(|e| e.to_string()),
                p.ntt_backend().map(|(_, n)| n).map_err(|e| e.to_string()),
                p.msm_backend().map(|(_, n)| n).map_err(|e| e.to_string()),
            ]
        };
        // auto: no CUDA here and lavapipe is a software adapter, so the CPU for all three (the
        // NTT used to take lavapipe under `auto` while MSM refused it).
        assert_eq!(
            names(&profile(false, "auto")),
            vec![Ok("cpu".to_string()); 3]
        );
        for got in names(&profile(true, "auto")) {
            let e = got.expect_err("require_gpu refuses");
            assert!(
                e.contains("requires a GPU") && e.contains("cuda") && e.contains("wgpu"),
                "{e}"
            );
        }
        if list_adapters().is_empty() {
            assert!(
                std::env::var_os("RUSTORIUM_SKIP_WGPU").is_some(),
                "no Vulkan adapter: run scripts/test.sh (installs mesa-vulkan-drivers) or set RUSTORIUM_SKIP_WGPU=1"
            );
            return;
        }
        let named = names(&profile(true, "wgpu"));
        assert!(
            named
                .iter()
                .all(|n| n.as_ref().is_ok_and(|n| n.starts_with("wgpu"))),
            "{named:?}"
        );
    }

    #[test]
    fn selection_is_explicit_without_a_gpu() {
        let counter = Arc::new(AtomicU64::new(0));
        let cpu = Profile::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../hardware/cpu.toml"
        )))
        .expect("cpu");
        let (h, name) = cpu.poseidon_hasher(counter.clone()).expect("cpu works");
        assert_eq!((h.name(), name.as_str()), ("cpu", "cpu"));
        assert!(self_check(h.as_ref()).is_ok(), "CPU passes its own check");
        if list_devices().is_empty() {
            // require_gpu refuses to start without one.
            let h100 = Profile::load(Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../hardware/h100.toml"
            )))
            .expect("h100");
            assert!(h100.require_gpu);
            assert!(matches!(
                h100.poseidon_hasher(counter.clone()),
                Err(HardwareError::GpuRequired { .. })
            ));
            // auto without require_gpu falls back at start-up, explicitly.
            let mut auto = h100.clone();
            auto.require_gpu = false;
            auto.backends.poseidon = Backend::Auto;
            assert_eq!(auto.poseidon_hasher(counter).expect("falls back").1, "cpu");
        }
    }
}
