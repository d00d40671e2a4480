//! The host-compiled build of the CUDA arithmetic (see `build.rs`), for tests against arkworks.
//! `Fr` values cross the boundary as arkworks' Montgomery limbs, the kernels' representation.

#![allow(unsafe_code)] // FFI to the host build of the kernel headers; see the SAFETY notes.

use ark_ff::{BigInt, PrimeField};
use rustorium_circuits::Fr;
use rustorium_circuits::poseidon::PoseidonField;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Limbs([u64; 4]);

unsafe extern "C" {
    fn rst_host_fr_mul(a: *const Limbs, b: *const Limbs, out: *mut Limbs);
    fn rst_host_fr_add(a: *const Limbs, b: *const Limbs, out: *mut Limbs);
    fn rst_host_fr_sub(a: *const Limbs, b: *const Limbs, out: *mut Limbs);
    fn rst_host_poseidon(t: i32, input: *const Limbs, k: *const Limbs, rp: i32, out: *mut Limbs);
    fn rst_host_fq_mul(a: *const Limbs, b: *const Limbs, out: *mut Limbs);
    fn rst_host_g1_add(a: *const [Limbs; 3], b: *const [Limbs; 3], out: *mut [Limbs; 3]);
    fn rst_host_g1_double(a: *const [Limbs; 3], out: *mut [Limbs; 3]);
    fn rst_host_g1_add_mixed(
        a: *const [Limbs; 3],
        qx: *const Limbs,
        qy: *const Limbs,
        q_infinity: i32,
        out: *mut [Limbs; 3],
    );
    fn rst_host_msm(
        entries: *const u32,
        task_offsets: *const u32,
        tasks: u32,
        bucket_tasks: *const u32,
        nbuckets: u32,
        bases: *const u64,
        buckets_per_window: u32,
        segments: u32,
        seg_len: u32,
        total: u32,
        partial: *mut [Limbs; 3],
        buckets: *mut [Limbs; 3],
        out: *mut [Limbs; 3],
    );
    fn rst_host_ntt(
        src: *const Limbs,
        data: *mut Limbs,
        tw: *const Limbs,
        pre: *const Limbs,
        post: *const Limbs,
        log_n: u32,
        pass_s: *const u32,
        pass_k: *const u32,
        passes: u32,
    );
}

fn limbs(x: &Fr) -> Limbs {
    Limbs((x.0).0)
}

fn from_limbs(l: Limbs) -> Fr {
    ark_ff::Fp(BigInt(l.0), core::marker::PhantomData)
}

/// Which host-built operation to run.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Montgomery multiplication.
    Mul,
    /// Addition.
    Add,
    /// Subtraction.
    Sub,
}

/// Runs a field operation through the host build of `bn254_fr.cuh`.
pub fn field_op(op: Op, a: &Fr, b: &Fr) -> Fr {
    let (a, b) = (limbs(a), limbs(b));
    let mut out = Limbs::default();
    // SAFETY: all three pointers point to live, properly aligned `[u64; 4]` values for the whole
    // call; the C functions read two of them and write the third, nothing else.
    unsafe {
        match op {
            Op::Mul => rst_host_fr_mul(&a, &b, &mut out),
            Op::Add => rst_host_fr_add(&a, &b, &mut out),
            Op::Sub => rst_host_fr_sub(&a, &b, &mut out),
        }
    }
    from_limbs(out)
}

/// Poseidon of `inputs` (2 or 4 of them) through the host build of `poseidon.cuh`.
pub fn poseidon(inputs: &[Fr]) -> Option<Fr> {
    let t = inputs.len() + 1;
    if t != 3 && t != 5 {
        return None;
    }
    let spec = Fr::poseidon_spec(t)?;
    let k: Vec<Limbs> = spec.flat_optimized().iter().map(limbs).collect();
    let input: Vec<Limbs> = inputs.iter().map(limbs).collect();
    let mut out = Limbs::default();
    // SAFETY: `input` holds t − 1 elements and `k` the whole flat constant array for width t with
    // `spec.partial_rounds` partial rounds, exactly what `rst_host_poseidon` reads for this `t`;
    // `out` is one writable element. The vectors outlive the call.
    unsafe {
        rst_host_poseidon(
            t as i32,
            input.as_ptr(),
            k.as_ptr(),
            spec.partial_rounds as i32,
            &mut out,
        )
    };
    Some(from_limbs(out))
}

/// The NTT kernel's passes run on the host build of `ntt.cuh` (each block's threads one after
/// another), with the same host-side preparation (twiddles, coset powers, 1/n) and the same pass
/// split the CUDA backend uses for groups of up to 2^`max_k` points.
pub fn ntt(data: &mut [Fr], kind: crate::NttKind, max_k: u32) -> Result<(), crate::AccelError> {
    let plan = crate::cpu_prover::ntt_plan(data.len(), kind)?;
    if data.len() <= 1 {
        return Ok(());
    }
    let log_n = data.len().trailing_zeros();
    let passes = crate::cpu_prover::ntt_passes(log_n, max_k.min(super::NTT_MAX_K));
    let (pass_s, pass_k): (Vec<u32>, Vec<u32>) = passes.into_iter().unzip();
    let src: Vec<Limbs> = data.iter().map(limbs).collect();
    let mut d = vec![Limbs::default(); data.len()];
    let tw: Vec<Limbs> = plan.twiddles.iter().map(limbs).collect();
    let pre: Option<Vec<Limbs>> = plan.pre.as_ref().map(|v| v.iter().map(limbs).collect());
    let post: Option<Vec<Limbs>> = plan.post.as_ref().map(|v| v.iter().map(limbs).collect());
    // SAFETY: `src` and `d` hold n = 2^log_n elements, `tw` n/2, `pre`/`post` n each or null;
    // the passes cover stages 0..log_n with k ≤ NTT_MAX_K = RST_NTT_MAX_K, so the C function touches
    // only indices below n (twiddle indices below n/2) and its 2^10-element local group.
    unsafe {
        rst_host_ntt(
            src.as_ptr(),
            d.as_mut_ptr(),
            tw.as_ptr(),
            pre.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            post.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            log_n,
            pass_s.as_ptr(),
            pass_k.as_ptr(),
            pass_s.len() as u32,
        )
    };
    for (x, l) in data.iter_mut().zip(d) {
        *x = from_limbs(l);
    }
    Ok(())
}

type G1 = ark_bn254::G1Projective;

fn jacobian(p: &G1) -> [Limbs; 3] {
    [Limbs((p.x.0).0), Limbs((p.y.0).0), Limbs((p.z.0).0)]
}

fn from_jacobian(l: [Limbs; 3]) -> G1 {
    let f = |l: Limbs| ark_bn254::Fq::new_unchecked(BigInt(l.0));
    G1::new_unchecked(f(l[0]), f(l[1]), f(l[2]))
}

/// Which host-built G1 operation to run.
#[derive(Clone, Copy, Debug)]
pub enum G1Op {
    /// Jacobian + Jacobian.
    Add,
    /// 2 · P.
    Double,
    /// Jacobian + affine.
    AddMixed,
}

/// Runs a G1 operation through the host build of `g1.cuh` (arkworks' projective G1 is Jacobian
/// with Montgomery limbs, the kernels' layout).
pub fn g1_op(op: G1Op, p: &G1, q: &G1) -> G1 {
    use ark_ec::CurveGroup;
    let a = jacobian(p);
    let b = jacobian(q);
    let mut out = [Limbs::default(); 3];
    // SAFETY: every pointer points to live, aligned values of the C layout (three and one 4-limb
    // elements) for the whole call; the C functions write only `out`.
    unsafe {
        match op {
            G1Op::Add => rst_host_g1_add(&a, &b, &mut out),
            G1Op::Double => rst_host_g1_double(&a, &mut out),
            G1Op::AddMixed => {
                let qa = q.into_affine();
                let (qx, qy) = (Limbs((qa.x.0).0), Limbs((qa.y.0).0));
                rst_host_g1_add_mixed(
                    &a,
                    &qx,
                    &qy,
                    i32::from(ark_ec::AffineRepr::is_zero(&qa)),
                    &mut out,
                )
            }
        }
    }
    from_jacobian(out)
}

/// An MSM through the host build of `msm.cuh`: the CUDA backend's plan and kernels, each kernel
/// a loop over its threads, then the plan's host finish.
pub fn msm(
    bases: &[ark_bn254::G1Affine],
    scalars: &[crate::ScalarBigInt],
    c: u32,
) -> Result<G1, crate::AccelError> {
    use crate::msm::{MsmPlan, bases_limbs};
    if bases.len() != scalars.len() {
        return Err(crate::AccelError::Length("length mismatch".into()));
    }
    let plan = MsmPlan::new(scalars, c)?;
    let b = bases_limbs(bases);
    let mut partial = vec![[Limbs::default(); 3]; plan.tasks()];
    let mut buckets = vec![[Limbs::default(); 3]; plan.total_buckets()];
    let mut out = vec![[Limbs::default(); 3]; plan.total_segments()];
    // SAFETY: every array has the length the plan gives it (entries indexed through
    // task_offsets ≤ entries.len(), bucket_tasks of nbuckets + 1, bases of 8 limbs per point and
    // entries below bases.len()), and the C function writes only partial, buckets and out within
    // tasks, nbuckets and total elements.
    unsafe {
        rst_host_msm(
            plan.entries.as_ptr(),
            plan.task_offsets.as_ptr(),
            plan.tasks() as u32,
            plan.bucket_tasks.as_ptr(),
            plan.total_buckets() as u32,
            b.as_ptr(),
            plan.buckets,
            plan.segments,
            plan.seg_len,
            plan.total_segments() as u32,
            partial.as_mut_ptr(),
            buckets.as_mut_ptr(),
            out.as_mut_ptr(),
        )
    };
    let segs: Vec<G1> = out.into_iter().map(from_jacobian).collect();
    plan.finish(&segs)
}

/// Montgomery multiplication in Fq through the host build.
pub fn fq_mul(a: &ark_bn254::Fq, b: &ark_bn254::Fq) -> ark_bn254::Fq {
    let (x, y) = (Limbs((a.0).0), Limbs((b.0).0));
    let mut out = Limbs::default();
    // SAFETY: three live, aligned 4-limb values; the C function writes only `out`.
    unsafe { rst_host_fq_mul(&x, &y, &mut out) };
    ark_bn254::Fq::new_unchecked(BigInt(out.0))
}

/// Canonical check used by tests: the limbs the kernels produce are reduced (below p).
pub fn is_reduced(x: &Fr) -> bool {
    (x.0) < Fr::MODULUS
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_std::UniformRand;
    use rustorium_circuits::poseidon as native;

    #[test]
    fn host_built_field_arithmetic_equals_arkworks() {
        let mut rng = ark_std::test_rng();
        let edge = [
            Fr::from(0u64),
            Fr::from(1u64),
            -Fr::from(1u64),
            -Fr::from(2u64),
            Fr::from(u64::MAX),
        ];
        let mut values: Vec<Fr> = (0..2000).map(|_| Fr::rand(&mut rng)).collect();
        values.extend_from_slice(&edge);
        for (i, a) in values.iter().enumerate() {
            for b in edge
                .iter()
                .chain(std::iter::once(&values[(i * 7 + 3) % values.len()]))
            {
                let m = field_op(Op::Mul, a, b);
                assert_eq!(m, *a * b, "mul");
                assert!(is_reduced(&m));
                assert_eq!(field_op(Op::Add, a, b), *a + b, "add");
                assert_eq!(field_op(Op::Sub, a, b), *a - b, "sub");
            }
        }
    }

    #[test]
    fn host_built_ntt_equals_arkworks_for_every_kind() {
        use crate::{CpuNtt, NttBackend, NttKind};
        let mut rng = ark_std::test_rng();
        // Group sizes 2^1 (a pass per stage), 2^3 (uneven passes), 2^10 (the kernel's).
        for log_n in [0u32, 1, 3, 8, 11, 13] {
            let input: Vec<Fr> = (0..1usize << log_n).map(|_| Fr::rand(&mut rng)).collect();
            for kind in [
                NttKind::Forward,
                NttKind::Inverse,
                NttKind::CosetForward,
                NttKind::CosetInverse,
            ] {
                let mut want = input.clone();
                CpuNtt.ntt(&mut want, kind).expect("cpu");
                for max_k in [1, 3, 10] {
                    let mut a = input.clone();
                    ntt(&mut a, kind, max_k).expect("host ntt");
                    assert_eq!(a, want, "{kind:?} at 2^{log_n}, groups of 2^{max_k}");
                }
            }
        }
    }

    #[test]
    fn host_built_g1_arithmetic_equals_arkworks() {
        use ark_ec::PrimeGroup;
        use ark_ff::AdditiveGroup;
        use ark_std::Zero;
        let mut rng = ark_std::test_rng();
        for _ in 0..200 {
            let (a, b) = (ark_bn254::Fq::rand(&mut rng), ark_bn254::Fq::rand(&mut rng));
            assert_eq!(fq_mul(&a, &b), a * b);
        }
        let g = G1::generator();
        let points: Vec<G1> = (0..40).map(|_| G1::rand(&mut rng)).collect();
        for p in &points {
            for q in points.iter().take(8) {
                assert_eq!(g1_op(G1Op::Add, p, q), *p + q, "add");
                assert_eq!(g1_op(G1Op::AddMixed, p, q), *p + q, "mixed add");
            }
            assert_eq!(g1_op(G1Op::Double, p, p), p.double(), "double");
            // Exceptional cases: P + P, P + (-P), with infinity on either side.
            assert_eq!(g1_op(G1Op::Add, p, p), p.double());
            assert_eq!(g1_op(G1Op::AddMixed, p, p), p.double());
            assert!(g1_op(G1Op::Add, p, &-*p).is_zero());
            assert!(g1_op(G1Op::AddMixed, p, &-*p).is_zero());
            assert_eq!(g1_op(G1Op::Add, &G1::zero(), p), *p);
            assert_eq!(g1_op(G1Op::Add, p, &G1::zero()), *p);
            assert_eq!(g1_op(G1Op::AddMixed, &G1::zero(), p), *p);
            assert_eq!(g1_op(G1Op::AddMixed, p, &G1::zero()), *p);
        }
        assert!(g1_op(G1Op::Double, &G1::zero(), &g).is_zero());
    }

    #[test]
    fn host_built_msm_kernels_equal_arkworks_on_edge_cases() {
        use ark_ec::VariableBaseMSM;
        for n in [1usize, 33, 300] {
            for (name, bases, scalars) in crate::msm::edge_case_inputs(n, 11) {
                let want = G1::msm_bigint(&bases, &scalars);
                for c in [3u32, 8, crate::msm::default_window_bits(n)] {
                    assert_eq!(
                        msm(&bases, &scalars, c).expect("msm"),
                        want,
                        "{name}, n = {n}, c = {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn host_built_poseidon_equals_native() {
        let mut rng = ark_std::test_rng();
        for arity in [2usize, 4] {
            for _ in 0..50 {
                let xs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
                assert_eq!(poseidon(&xs), Some(native::hash(&xs).expect("arity")));
            }
        }
        // circomlib's published vector Poseidon(1, 2).
        assert_eq!(
            poseidon(&[Fr::from(1u64), Fr::from(2u64)]),
            Some(native::hash(&[Fr::from(1u64), Fr::from(2u64)]).expect("arity"))
        );
        assert_eq!(poseidon(&[Fr::from(1u64)]), None);
    }
}
