//! Compute backends: the role traits every backend implements (batch Poseidon, G1 MSM, NTT) and
//! the CPU backend (the native code, arkworks and rayon). CUDA and wgpu backends implement the same
//! traits; the node picks one per operation at run time through a hardware profile
//! ([`hardware`]). This crate is the only one with unsafe code (device memory, SIMD intrinsics)
//! and it knows nothing of the state, the prover or the network.

pub mod cpu;
pub mod cuda;
mod devices;
mod fallback;
pub mod hardware;
pub mod msm;
#[cfg(any(not(feature = "cuda"), not(feature = "wgpu")))]
mod off;
pub mod simd;
pub mod tune;
#[cfg(feature = "wgpu")]
pub mod wgpu;
/// The wgpu backends; this build has none (cargo feature `wgpu` off).
#[cfg(not(feature = "wgpu"))]
#[path = "wgpu_off.rs"]
pub mod wgpu;
pub use cpu::{ArkMsm, ArkNtt, CpuMsm, CpuNtt};
pub use fallback::FallbackHasher;

use rayon::prelude::*;
use rustorium_circuits::poseidon::{self, PoseidonError, PoseidonField};
use thiserror::Error;

/// Errors of a batch operation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AccelError {
    /// The batch does not fit the operation (arity, lengths).
    #[error(transparent)]
    Shape(#[from] PoseidonError),
    /// Inputs of an MSM or NTT have the wrong lengths.
    #[error("bad input lengths: {0}")]
    Length(String),
    /// The device failed; the caller may retry the job on the CPU.
    #[error("{backend} backend failed: {message}")]
    Device {
        /// Backend name.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// Many independent Poseidon hashes at once: the contract every backend implements.
///
/// `inputs` holds `out.len()` messages back to back, `arity` elements each; `out[i]` receives
/// circomlib's `Poseidon(inputs[i * arity..(i + 1) * arity])`.
pub trait BatchHasher<F>: Send + Sync {
    /// Backend name, as logged and exported in metrics.
    fn name(&self) -> &'static str;

    /// Hashes the batch.
    fn hash_batch(&self, arity: usize, inputs: &[F], out: &mut [F]) -> Result<(), AccelError>;

    /// Device time of this backend's kernels so far, as the device measured it (a running
    /// total; see [`KernelClock`]). `None` for backends without a device clock (the CPU).
    fn kernel_time(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Device time spent in a backend's kernels, measured by the device itself: CUDA events recorded
/// on the stream around each call's kernels, wgpu timestamp queries around its compute passes
/// (where the adapter has them). A running total, so a caller reads it before and after an
/// operation and takes the difference (`bench` prints it beside the end-to-end time; the prover
/// reports it per phase). Concurrent calls on one backend add up; the difference is then the
/// device time of all of them.
#[derive(Debug, Default)]
pub struct KernelClock {
    nanos: std::sync::atomic::AtomicU64,
    spans: std::sync::atomic::AtomicU64,
}

impl KernelClock {
    /// Adds one measured span.
    pub fn add(&self, d: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        self.spans.fetch_add(1, Relaxed);
    }

    /// Adds a span given in milliseconds (CUDA's event clock); negative or non-finite values,
    /// which a correct device never reports, count as zero.
    pub fn add_ms(&self, ms: f64) {
        let d = if ms.is_finite() && ms > 0.0 {
            std::time::Duration::from_secs_f64(ms / 1000.0)
        } else {
            std::time::Duration::ZERO
        };
        self.add(d);
    }

    /// The total so far.
    pub fn total(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.nanos.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Spans measured so far.
    pub fn spans(&self) -> u64 {
        self.spans.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Checks a GPU Poseidon batch: arity 2 (width 3, tree nodes) or 4 (width 5, leaves) with
/// `inputs = outputs × arity`. Returns whether it is the wide (arity 4) instance.
#[cfg_attr(not(any(feature = "cuda", feature = "wgpu")), allow(dead_code))]
pub(crate) fn gpu_batch_is_wide(
    backend: &str,
    arity: usize,
    inputs: usize,
    outputs: usize,
) -> Result<bool, AccelError> {
    if arity != 2 && arity != 4 {
        return Err(AccelError::Length(format!(
            "{backend} Poseidon supports arity 2 and 4, not {arity}"
        )));
    }
    if inputs != outputs * arity {
        return Err(AccelError::Length(format!(
            "{inputs} inputs for {outputs} hashes of arity {arity}"
        )));
    }
    Ok(arity == 4)
}

/// An element read back from a device (arkworks' Montgomery limbs), refused unless below the
/// modulus.
#[cfg_attr(not(any(feature = "cuda", feature = "wgpu")), allow(dead_code))]
pub(crate) fn fr_from_device(
    limbs: [u64; 4],
    backend: &'static str,
) -> Result<rustorium_circuits::Fr, AccelError> {
    let x = ark_ff::Fp(ark_ff::BigInt(limbs), core::marker::PhantomData);
    if x.0 >= <rustorium_circuits::Fr as ark_ff::PrimeField>::MODULUS {
        return Err(AccelError::Device {
            backend,
            message: "device returned a non-canonical field element".into(),
        });
    }
    Ok(x)
}

/// Elements of BN254's G1 and its scalar field, as the prover's backends take them.
pub type G1Affine = ark_bn254::G1Affine;
/// G1 in projective coordinates.
pub type G1Projective = ark_bn254::G1Projective;
/// Elements of BN254's G2 (coordinates in Fq2).
pub type G2Affine = ark_bn254::G2Affine;
/// G2 in projective coordinates.
pub type G2Projective = ark_bn254::G2Projective;
/// A scalar in canonical (non-Montgomery) form, as MSMs consume it.
pub type ScalarBigInt = <rustorium_circuits::Fr as ark_ff::PrimeField>::BigInt;

/// Variable-base multi-scalar multiplication over G1: `sum_i scalars[i] * bases[i]`.
pub trait MsmBackend: Send + Sync {
    /// Backend name.
    fn name(&self) -> &'static str;

    /// The MSM; `bases` and `scalars` have equal lengths (a mismatch is a shape error). With an
    /// `id`, a device backend may keep `bases` resident and reuse them on the next call with the
    /// same id (see [`msm::BasesId`]).
    fn msm_g1(
        &self,
        bases: &[G1Affine],
        scalars: &[ScalarBigInt],
        id: Option<msm::BasesId>,
    ) -> Result<G1Projective, AccelError>;

    /// Where [`MsmBackend::msm_g2`] runs: `"cpu"` (arkworks, the default) or the backend's own
    /// name when it has G2 kernels. The prover runs a CPU G2 MSM on a thread of its own,
    /// concurrently with the G1 MSMs, and a device one after them on the device.
    fn g2_backend(&self) -> &'static str {
        "cpu"
    }

    /// The G2 MSM `Σ scalars[i]·bases[i]`: arkworks on the CPU unless the backend has G2 kernels
    /// (see [`MsmBackend::g2_backend`]). `id` as for [`MsmBackend::msm_g1`].
    fn msm_g2(
        &self,
        bases: &[G2Affine],
        scalars: &[ScalarBigInt],
        id: Option<msm::BasesId>,
    ) -> Result<G2Projective, AccelError> {
        let _ = id;
        if bases.len() != scalars.len() {
            return Err(AccelError::Length(format!(
                "{} G2 bases, {} scalars",
                bases.len(),
                scalars.len()
            )));
        }
        Ok(<G2Projective as ark_ec::VariableBaseMSM>::msm_bigint(
            bases, scalars,
        ))
    }

    /// Device time of this backend's kernels so far ([`KernelClock`]); `None` on the CPU.
    fn kernel_time(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Which transform an [`NttBackend`] applies to a vector of length `n` (a power of two) over the
/// subgroup of order `n` (`ω` its generator as arkworks' radix-2 domain picks it) or its coset
/// `g·⟨ω⟩` with `g` = the field's multiplicative generator (5 for BN254): evaluations from
/// coefficients (forward) or coefficients from evaluations (inverse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NttKind {
    /// Coefficients → evaluations on `⟨ω⟩`.
    Forward,
    /// Evaluations on `⟨ω⟩` → coefficients.
    Inverse,
    /// Coefficients → evaluations on `g·⟨ω⟩`.
    CosetForward,
    /// Evaluations on `g·⟨ω⟩` → coefficients.
    CosetInverse,
}

/// Number-theoretic transforms over BN254's scalar field, in place.
pub trait NttBackend: Send + Sync {
    /// Backend name.
    fn name(&self) -> &'static str;

    /// Transforms `data` (length a power of two, at most 2^28).
    fn ntt(&self, data: &mut [rustorium_circuits::Fr], kind: NttKind) -> Result<(), AccelError>;

    /// Device time of this backend's kernels so far ([`KernelClock`]); `None` on the CPU.
    fn kernel_time(&self) -> Option<std::time::Duration> {
        None
    }
}

/// The CPU backend: the native optimized permutation, split across rayon's pool, eight lanes at
/// a time with AVX-512 IFMA when the CPU has it (`simd`), else the scalar code.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuHasher {
    /// Batches smaller than this run on the calling thread (splitting costs more than it saves).
    pub min_parallel: usize,
    /// Use the scalar path even where IFMA exists (benchmarks compare both).
    pub scalar_only: bool,
}

/// How this build multiplies field elements outside our own Poseidon paths (MSM, FFT, the
/// prover's other arithmetic): `arkworks-asm` when built with the `asm` feature and the BMI2 + ADX
/// target features it needs, else `portable` (the `asm` feature alone changes nothing; that build
/// says so).
pub fn field_arithmetic() -> &'static str {
    if cfg!(all(
        feature = "asm",
        target_arch = "x86_64",
        target_feature = "bmi2",
        target_feature = "adx"
    )) {
        "arkworks-asm"
    } else if cfg!(feature = "asm") {
        "portable (asm feature without -C target-feature=+bmi2,+adx: no effect)"
    } else {
        "portable"
    }
}

/// Whether this CPU can run this build: a build made with `-C target-feature=+bmi2,+adx` uses
/// those instructions anywhere, so the binary checks for them before doing any work. `Err` names
/// the missing instructions.
pub fn check_build_target() -> Result<(), &'static str> {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "bmi2",
        target_feature = "adx"
    ))]
    {
        if !(std::is_x86_feature_detected!("bmi2") && std::is_x86_feature_detected!("adx")) {
            return Err("BMI2 and ADX");
        }
    }
    Ok(())
}

/// The CPU path this machine uses for Poseidon batches: `avx512-ifma`, `avx2` or `scalar`,
/// detected at run time; `RUSTORIUM_CPU_PATH=scalar|avx2` forces a slower path (benchmarks, tests).
pub fn cpu_path() -> &'static str {
    match simd_path() {
        SimdPath::Ifma => "avx512-ifma",
        SimdPath::Avx2 => "avx2",
        SimdPath::Scalar => "scalar",
    }
}

/// A vectorized CPU path (see [`cpu_path`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdPath {
    /// AVX-512 IFMA (52-bit multiply-add lanes).
    Ifma,
    /// AVX2.
    Avx2,
    /// No vector code.
    Scalar,
}

fn simd_path() -> SimdPath {
    static PATH: std::sync::OnceLock<SimdPath> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| {
        let forced = std::env::var("RUSTORIUM_CPU_PATH").unwrap_or_default();
        if forced == "scalar" {
            SimdPath::Scalar
        } else if simd::ifma_available() && forced != "avx2" {
            SimdPath::Ifma
        } else if simd::avx2::available() {
            SimdPath::Avx2
        } else {
            SimdPath::Scalar
        }
    })
}

/// A field the CPU hasher can hash: circomlib Poseidon, plus a vectorized path where the field has
/// one. The typed hook by which [`CpuHasher`] reaches the SIMD code of BN254's scalar field
/// without casting generic slices.
pub trait CpuHashField: PoseidonField {
    /// Hashes `out.len()` groups of `arity` inputs on the vectorized `path`; `None` when the field,
    /// arity or path has no vectorized code (the caller then takes the scalar path).
    fn hash_many_simd(
        _path: SimdPath,
        _arity: usize,
        _inputs: &[Self],
        _out: &mut [Self],
    ) -> Option<()> {
        None
    }
}

impl CpuHashField for rustorium_circuits::Fr {
    fn hash_many_simd(
        path: SimdPath,
        arity: usize,
        inputs: &[Self],
        out: &mut [Self],
    ) -> Option<()> {
        match path {
            SimdPath::Scalar => None,
            SimdPath::Ifma => simd::hash_many_ifma(arity, inputs, out),
            _ => simd::avx2::hash_many(arity, inputs, out),
        }
    }
}

/// One chunk on the fastest path.
fn hash_chunk<F: CpuHashField>(
    arity: usize,
    inputs: &[F],
    out: &mut [F],
    scalar_only: bool,
) -> Result<(), PoseidonError> {
    let path = simd_path();
    if !scalar_only
        && path != SimdPath::Scalar
        && (arity == 2 || arity == 4)
        && out.len() >= 4
        && inputs.len() == out.len() * arity
        && F::hash_many_simd(path, arity, inputs, out).is_some()
    {
        return Ok(());
    }
    poseidon::hash_many(arity, inputs, out)
}

impl CpuHasher {
    /// A CPU hasher with the default parallel threshold (64 hashes).
    pub fn new() -> Self {
        Self {
            min_parallel: 64,
            scalar_only: false,
        }
    }

    /// The scalar path only.
    pub fn scalar() -> Self {
        Self {
            min_parallel: 64,
            scalar_only: true,
        }
    }
}

impl<F: CpuHashField> BatchHasher<F> for CpuHasher {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn hash_batch(&self, arity: usize, inputs: &[F], out: &mut [F]) -> Result<(), AccelError> {
        if out.len() < self.min_parallel.max(2) {
            return Ok(hash_chunk(arity, inputs, out, self.scalar_only)?);
        }
        // Validate the shape once, then split into chunks that each satisfy it.
        if arity == 0 || inputs.len() != out.len() * arity {
            poseidon::hash_many(arity, inputs, out)?;
        }
        // Multiples of 8 keep the IFMA path's lanes full.
        let chunk = out
            .len()
            .div_ceil(rayon::current_num_threads() * 4)
            .max(16)
            .next_multiple_of(8);
        out.par_chunks_mut(chunk)
            .zip(inputs.par_chunks(chunk * arity))
            .try_for_each(|(o, i)| hash_chunk(arity, i, o, self.scalar_only))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_std::UniformRand;
    use rustorium_circuits::Fr;

    #[test]
    fn build_flavour_is_reported_and_runs_here() {
        // The test build has neither the `asm` feature nor BMI2/ADX target features.
        let asm_build = cfg!(all(
            feature = "asm",
            target_feature = "bmi2",
            target_feature = "adx"
        ));
        assert_eq!(field_arithmetic() == "arkworks-asm", asm_build);
        if !cfg!(feature = "asm") {
            assert_eq!(field_arithmetic(), "portable");
        }
        assert_eq!(
            check_build_target(),
            Ok(()),
            "this machine runs the test build"
        );
    }

    #[test]
    fn cpu_batch_equals_sequential_hashes() {
        let mut rng = ark_std::test_rng();
        for (arity, n) in [(2usize, 1000usize), (4, 333), (1, 5), (16, 70)] {
            let inputs: Vec<Fr> = (0..arity * n).map(|_| Fr::rand(&mut rng)).collect();
            let mut out = vec![Fr::from(0u64); n];
            CpuHasher::new()
                .hash_batch(arity, &inputs, &mut out)
                .expect("shape fits");
            for (i, o) in out.iter().enumerate() {
                let expect = poseidon::hash(&inputs[i * arity..(i + 1) * arity]).expect("arity");
                assert_eq!(*o, expect);
            }
        }
        let mut out = vec![Fr::from(0u64); 100];
        let err = CpuHasher::new().hash_batch(2, &vec![Fr::from(1u64); 199], &mut out);
        assert!(matches!(err, Err(AccelError::Shape(_))));
    }
}
