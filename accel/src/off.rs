//! What a GPU backend module exports when its cargo feature is off: the same names, with no
//! device ever found and every constructor refusing with a clear error, so selection, discovery
//! and `hardware check` work unchanged and report "built without …". The backend types are
//! uninhabited: no value of them can exist, so their trait methods are unreachable.

use crate::AccelError;

/// The uninhabited part of a backend type built without its feature.
#[derive(Clone, Copy, Debug)]
pub enum Never {}

pub(crate) fn not_built(backend: &'static str) -> AccelError {
    AccelError::Device {
        backend,
        message: format!("this build has no {backend} support (cargo feature `{backend}` off)"),
    }
}

/// Implements the backend traits for an uninhabited type.
macro_rules! unbuilt_backend {
    ($ty:ty, $name:literal, hasher) => {
        impl crate::BatchHasher<rustorium_circuits::Fr> for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn hash_batch(
                &self,
                _: usize,
                _: &[rustorium_circuits::Fr],
                _: &mut [rustorium_circuits::Fr],
            ) -> Result<(), AccelError> {
                match self.never {}
            }
        }
    };
    ($ty:ty, $name:literal, msm) => {
        impl crate::MsmBackend for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn msm_g1(
                &self,
                _: &[crate::G1Affine],
                _: &[crate::ScalarBigInt],
                _: Option<crate::msm::BasesId>,
            ) -> Result<crate::G1Projective, AccelError> {
                match self.never {}
            }
        }
        impl $ty {
            /// Uploads of bases so far (never: nothing exists).
            pub fn uploads(&self) -> u64 {
                match self.never {}
            }
        }
    };
    ($ty:ty, $name:literal, ntt) => {
        impl crate::NttBackend for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn ntt(
                &self,
                _: &mut [rustorium_circuits::Fr],
                _: crate::NttKind,
            ) -> Result<(), AccelError> {
                match self.never {}
            }
        }
    };
}
pub(crate) use unbuilt_backend;

/// A build with neither GPU feature: `auto` selects the CPU for every operation (after its
/// self-check), discovery finds nothing, and a profile that requires a GPU backend fails saying
/// the build lacks it. Run by `scripts/test.sh` (`cargo test -p rustorium-accel --no-default-features --lib`).
#[cfg(all(test, not(feature = "cuda"), not(feature = "wgpu")))]
mod tests {
    use std::sync::Arc;

    use crate::hardware::Profile;

    fn profile(backend: &str, require_gpu: bool) -> Profile {
        Profile::parse(
            &format!(
                "name = \"x\"\nrequire_gpu = {require_gpu}\n[backends]\nposeidon = \"{backend}\"\nmsm = \"{backend}\"\nntt = \"{backend}\"\n"
            ),
            "test",
        )
        .expect("profile")
    }

    #[test]
    fn without_gpu_features_auto_is_the_cpu_and_named_gpus_say_why() {
        assert!(crate::cuda::list_devices().is_empty());
        assert!(crate::wgpu::list_adapters().is_empty());
        let auto = profile("auto", false);
        assert_eq!(auto.msm_backend().expect("msm").1, "cpu");
        assert_eq!(auto.ntt_backend().expect("ntt").1, "cpu");
        let (_, name) = auto.poseidon_hasher(Arc::default()).expect("poseidon");
        assert_eq!(name, "cpu");
        for backend in ["cuda", "wgpu"] {
            // Named without `require_gpu`: the CPU, with the reason logged.
            assert_eq!(profile(backend, false).msm_backend().expect("msm").1, "cpu");
            // With it: refused, saying the build lacks the backend.
            let named = profile(backend, true);
            let e = named.msm_backend().err().expect("refused").to_string();
            assert!(
                e.contains(&format!("cargo feature `{backend}` off")),
                "{backend}: {e}"
            );
            assert!(named.ntt_backend().is_err());
            assert!(named.poseidon_hasher(Arc::default()).is_err());
        }
    }
}
