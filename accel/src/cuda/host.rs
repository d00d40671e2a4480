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
    fn rst_host_fq2_mul(a: *const [Limbs; 2], b: *const [Limbs; 2], out: *mut [Limbs; 2]);
    fn rst_host_point_op(
        g2: i32,
        op: i32,
        a: *const u64,
        b: *const u64,
        qx: *const u64,
        qy: *const u64,
        q_infinity: i32,
        out: *mut u64,
    );
    fn rst_host_msm(
        g2: i32,
        entries: *const u32,
        task_offsets: *const u64,
        tasks: u32,
        bucket_tasks: *const u32,
        nbuckets: u32,
        bases: *const u64,
        buckets_per_window: u32,
        segments: u32,
        seg_len: u32,
        total: u32,
        partial: *mut u64,
        buckets: *mut u64,
        out: *mut u64,
    );
    fn rst_host_msm_plan(
        scalars: *const u64,
        n: u32,
        c: u32,
        windows: u32,
        buckets: u32,
        threads: u32,
        counts: *mut u32,
        entry_start: *mut u64,
        bucket_tasks: *mut u32,
        cursor: *mut u64,
        entries: *mut u32,
        task_offsets: *mut u64,
        sums: *mut u64,
    ) -> u32;
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
    let plan = crate::cpu::ntt_plan(data.len(), kind)?;
    if data.len() <= 1 {
        return Ok(());
    }
    let log_n = data.len().trailing_zeros();
    let passes = crate::cpu::ntt_passes(log_n, max_k.min(super::NTT_MAX_K));
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

/// A coordinate field of the kernels' curves, as the device lays it out: Fq as 4 limbs, Fq2 as
/// c0 then c1.
pub trait DeviceField: ark_ff::Field {
    /// u64 limbs per element.
    const LIMBS: usize;
    /// Appends the Montgomery limbs.
    fn put(&self, out: &mut Vec<u64>);
    /// From Montgomery limbs (`LIMBS` of them; not reduced: tests check the results).
    fn take(l: &[u64]) -> Self;
}

impl DeviceField for ark_bn254::Fq {
    const LIMBS: usize = 4;
    fn put(&self, out: &mut Vec<u64>) {
        out.extend_from_slice(&(self.0).0);
    }
    fn take(l: &[u64]) -> Self {
        Self::new_unchecked(BigInt([l[0], l[1], l[2], l[3]]))
    }
}

impl DeviceField for ark_bn254::Fq2 {
    const LIMBS: usize = 8;
    fn put(&self, out: &mut Vec<u64>) {
        self.c0.put(out);
        self.c1.put(out);
    }
    fn take(l: &[u64]) -> Self {
        Self::new(ark_bn254::Fq::take(&l[..4]), ark_bn254::Fq::take(&l[4..8]))
    }
}

/// BN254's G1 (`G2 = false`) or G2 as the host build takes them.
pub trait HostCurve: ark_ec::short_weierstrass::SWCurveConfig<BaseField: DeviceField> {
    /// The kernels' group selector.
    const G2: bool;
}

impl HostCurve for ark_bn254::g1::Config {
    const G2: bool = false;
}

impl HostCurve for ark_bn254::g2::Config {
    const G2: bool = true;
}

type Jacobian<C> = ark_ec::short_weierstrass::Projective<C>;
type Affine<C> = ark_ec::short_weierstrass::Affine<C>;

fn jacobian_limbs<C: HostCurve>(p: &Jacobian<C>) -> Vec<u64> {
    let mut out = Vec::with_capacity(3 * C::BaseField::LIMBS);
    for c in [p.x, p.y, p.z] {
        c.put(&mut out);
    }
    out
}

fn from_jacobian_limbs<C: HostCurve>(l: &[u64]) -> Jacobian<C> {
    let n = C::BaseField::LIMBS;
    Jacobian::<C>::new_unchecked(
        C::BaseField::take(&l[..n]),
        C::BaseField::take(&l[n..2 * n]),
        C::BaseField::take(&l[2 * n..3 * n]),
    )
}

/// Which host-built point operation to run.
#[derive(Clone, Copy, Debug)]
pub enum PointOp {
    /// Jacobian + Jacobian.
    Add = 0,
    /// 2 · P.
    Double = 1,
    /// Jacobian + affine.
    AddMixed = 2,
}

/// Runs a point operation of G1 or G2 through the host build of `g1.cuh` (arkworks' projective
/// points are Jacobian with Montgomery limbs, the kernels' layout).
pub fn point_op<C: HostCurve>(op: PointOp, p: &Jacobian<C>, q: &Jacobian<C>) -> Jacobian<C> {
    use ark_ec::{AffineRepr, CurveGroup};
    let a = jacobian_limbs(p);
    let b = jacobian_limbs(q);
    let qa = q.into_affine();
    let (mut qx, mut qy) = (Vec::new(), Vec::new());
    qa.x.put(&mut qx);
    qa.y.put(&mut qy);
    let mut out = vec![0u64; a.len()];
    // SAFETY: `a`, `b` and `out` hold one Jacobian point of the selected group (3 coordinates of
    // LIMBS limbs), `qx`/`qy` one coordinate each; the C function reads those and writes only
    // `out`, all live for the call.
    unsafe {
        rst_host_point_op(
            i32::from(C::G2),
            op as i32,
            a.as_ptr(),
            b.as_ptr(),
            qx.as_ptr(),
            qy.as_ptr(),
            i32::from(qa.is_zero()),
            out.as_mut_ptr(),
        )
    };
    from_jacobian_limbs(&out)
}

/// An MSM of G1 or G2 through the host build of `msm.cuh`: the CUDA backend's plan and kernels,
/// each kernel a loop over its threads, then the plan's host finish.
pub fn msm<C: HostCurve>(
    bases: &[Affine<C>],
    scalars: &[crate::ScalarBigInt],
    c: u32,
) -> Result<Jacobian<C>, crate::AccelError> {
    use crate::msm::MsmPlan;
    if bases.len() != scalars.len() {
        return Err(crate::AccelError::Length("length mismatch".into()));
    }
    let plan = MsmPlan::new(scalars, c)?;
    run_host_msm(
        plan.shape(),
        &plan.entries,
        &plan.task_offsets,
        &plan.bucket_tasks,
        bases,
    )
}

/// The three MSM kernels of `msm.cuh` through the host build over a plan (host- or
/// device-built), then the host finish.
fn run_host_msm<C: HostCurve>(
    shape: crate::msm::MsmShape,
    entries: &[u32],
    task_offsets: &[u64],
    bucket_tasks: &[u32],
    bases: &[Affine<C>],
) -> Result<Jacobian<C>, crate::AccelError> {
    let b = base_limbs(bases);
    let point = 3 * C::BaseField::LIMBS;
    let tasks = task_offsets.len().saturating_sub(1);
    if bucket_tasks.len() != shape.total_buckets() + 1
        || entries
            .iter()
            .any(|e| (e & !crate::msm::NEGATE) as usize >= bases.len())
    {
        return Err(crate::AccelError::Length(
            "plan does not fit the bases".into(),
        ));
    }
    let mut partial = vec![0u64; point * tasks];
    let mut buckets = vec![0u64; point * shape.total_buckets()];
    let mut out = vec![0u64; point * shape.total_segments()];
    // SAFETY: every array has the length the plan gives it (entries indexed through
    // task_offsets ≤ entries.len(), bucket_tasks of nbuckets + 1 (checked), bases of two
    // coordinates per point and every entry below bases.len() (checked)), and the C function
    // writes only partial, buckets and out within tasks, nbuckets and total points of the
    // selected group.
    unsafe {
        rst_host_msm(
            i32::from(C::G2),
            entries.as_ptr(),
            task_offsets.as_ptr(),
            tasks as u32,
            bucket_tasks.as_ptr(),
            shape.total_buckets() as u32,
            b.as_ptr(),
            shape.buckets,
            shape.segments,
            shape.seg_len,
            shape.total_segments() as u32,
            partial.as_mut_ptr(),
            buckets.as_mut_ptr(),
            out.as_mut_ptr(),
        )
    };
    let segs: Vec<Jacobian<C>> = out.chunks_exact(point).map(from_jacobian_limbs).collect();
    shape.finish(&segs)
}

/// A plan built by the device plan kernels (`msm_plan.cuh`) as the host build runs them, with a
/// scan block of `threads` threads: entries (bucket order, within a bucket as the atomics gave
/// it), task offsets and bucket tasks, like [`crate::msm::MsmPlan`]'s.
pub struct DevicePlan {
    /// The dimensions.
    pub shape: crate::msm::MsmShape,
    /// Entries, grouped by bucket.
    pub entries: Vec<u32>,
    /// Task offsets (tasks + 1).
    pub task_offsets: Vec<u64>,
    /// Bucket tasks (buckets + 1).
    pub bucket_tasks: Vec<u32>,
}

/// Runs the device plan kernels through the host build.
pub fn device_plan(
    scalars: &[crate::ScalarBigInt],
    c: u32,
    threads: u32,
) -> Result<DevicePlan, crate::AccelError> {
    let shape = crate::msm::MsmShape::new(c)?;
    let n = scalars.len();
    let nb = shape.total_buckets();
    let limbs: Vec<u64> = scalars.iter().flat_map(|s| s.0).collect();
    let threads = threads.max(1);
    let mut counts = vec![0u32; nb];
    let mut entry_start = vec![0u64; nb + 1];
    let mut bucket_tasks = vec![0u32; nb + 1];
    let mut cursor = vec![0u64; nb + 1];
    let mut entries = vec![0u32; n * shape.windows as usize];
    // At most one task per 32 entries, plus one partial task per bucket, plus the end.
    let mut task_offsets = vec![0u64; entries.len() / 32 + nb + 1];
    let mut sums = vec![0u64; 2 * threads as usize];
    // SAFETY: `limbs` holds n scalars of 4 limbs; counts has nbuckets = W·B elements,
    // entry_start/bucket_tasks/cursor nbuckets + 1; entries n·W (every point has at most W
    // nonzero digits), task_offsets the bound above; sums 2 · threads. The C function writes
    // within those bounds.
    let tasks = unsafe {
        rst_host_msm_plan(
            limbs.as_ptr(),
            n as u32,
            c,
            shape.windows,
            shape.buckets,
            threads,
            counts.as_mut_ptr(),
            entry_start.as_mut_ptr(),
            bucket_tasks.as_mut_ptr(),
            cursor.as_mut_ptr(),
            entries.as_mut_ptr(),
            task_offsets.as_mut_ptr(),
            sums.as_mut_ptr(),
        )
    } as usize;
    entries.truncate(entry_start[nb] as usize);
    task_offsets.truncate(tasks + 1);
    Ok(DevicePlan {
        shape,
        entries,
        task_offsets,
        bucket_tasks,
    })
}

/// An MSM of G1 or G2 entirely through the host build, plan included: the device plan kernels,
/// then the three MSM kernels, then the host finish (the CUDA backend's default path).
pub fn msm_planned_on_device<C: HostCurve>(
    bases: &[Affine<C>],
    scalars: &[crate::ScalarBigInt],
    c: u32,
) -> Result<Jacobian<C>, crate::AccelError> {
    if bases.len() != scalars.len() {
        return Err(crate::AccelError::Length("length mismatch".into()));
    }
    let plan = device_plan(scalars, c, 7)?;
    run_host_msm(
        plan.shape,
        &plan.entries,
        &plan.task_offsets,
        &plan.bucket_tasks,
        bases,
    )
}

fn base_limbs<C: HostCurve>(bases: &[Affine<C>]) -> Vec<u64> {
    let coord = C::BaseField::LIMBS;
    let mut b = Vec::with_capacity(bases.len() * 2 * coord);
    for p in bases {
        if ark_ec::AffineRepr::is_zero(p) {
            b.resize(b.len() + 2 * coord, 0);
        } else {
            p.x.put(&mut b);
            p.y.put(&mut b);
        }
    }
    b
}

/// Multiplication in Fq2 through the host build.
pub fn fq2_mul(a: &ark_bn254::Fq2, b: &ark_bn254::Fq2) -> ark_bn254::Fq2 {
    let l = |x: &ark_bn254::Fq2| [Limbs((x.c0.0).0), Limbs((x.c1.0).0)];
    let (x, y) = (l(a), l(b));
    let mut out = [Limbs::default(); 2];
    // SAFETY: three live, aligned 8-limb values; the C function writes only `out`.
    unsafe { rst_host_fq2_mul(&x, &y, &mut out) };
    let f = |l: Limbs| ark_bn254::Fq::new_unchecked(BigInt(l.0));
    ark_bn254::Fq2::new(f(out[0]), f(out[1]))
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

    type G1 = ark_bn254::G1Projective;
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

    /// Every point operation of the kernels' template in group `C` against arkworks, the
    /// exceptional cases included.
    fn check_point_ops<C: HostCurve>() {
        use ark_ec::PrimeGroup;
        use ark_ff::AdditiveGroup;
        use ark_std::Zero;
        let mut rng = ark_std::test_rng();
        let g = Jacobian::<C>::generator();
        let zero = Jacobian::<C>::zero();
        let points: Vec<Jacobian<C>> = (0..40).map(|_| Jacobian::<C>::rand(&mut rng)).collect();
        let group = if C::G2 { "G2" } else { "G1" };
        for p in &points {
            for q in points.iter().take(8) {
                assert_eq!(point_op(PointOp::Add, p, q), *p + q, "{group} add");
                assert_eq!(
                    point_op(PointOp::AddMixed, p, q),
                    *p + q,
                    "{group} mixed add"
                );
            }
            assert_eq!(
                point_op(PointOp::Double, p, p),
                p.double(),
                "{group} double"
            );
            // Exceptional cases: P + P, P + (-P), with infinity on either side.
            assert_eq!(point_op(PointOp::Add, p, p), p.double());
            assert_eq!(point_op(PointOp::AddMixed, p, p), p.double());
            assert!(point_op(PointOp::Add, p, &-*p).is_zero());
            assert!(point_op(PointOp::AddMixed, p, &-*p).is_zero());
            assert_eq!(point_op(PointOp::Add, &zero, p), *p);
            assert_eq!(point_op(PointOp::Add, p, &zero), *p);
            assert_eq!(point_op(PointOp::AddMixed, &zero, p), *p);
            assert_eq!(point_op(PointOp::AddMixed, p, &zero), *p);
        }
        assert!(point_op(PointOp::Double, &zero, &g).is_zero());
    }

    #[test]
    fn host_built_g1_and_g2_arithmetic_equals_arkworks() {
        let mut rng = ark_std::test_rng();
        for _ in 0..200 {
            let (a, b) = (ark_bn254::Fq::rand(&mut rng), ark_bn254::Fq::rand(&mut rng));
            assert_eq!(fq_mul(&a, &b), a * b);
            let (a, b) = (
                ark_bn254::Fq2::rand(&mut rng),
                ark_bn254::Fq2::rand(&mut rng),
            );
            assert_eq!(fq2_mul(&a, &b), a * b);
        }
        let minus_one = -ark_bn254::Fq::from(1u64);
        assert_eq!(fq_mul(&minus_one, &minus_one), ark_bn254::Fq::from(1u64));
        let u = ark_bn254::Fq2::new(ark_bn254::Fq::from(0u64), ark_bn254::Fq::from(1u64));
        assert_eq!(fq2_mul(&u, &u), -ark_bn254::Fq2::from(1u64), "u² = −1");
        check_point_ops::<ark_bn254::g1::Config>();
        check_point_ops::<ark_bn254::g2::Config>();
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
                        "G1 {name}, n = {n}, c = {c}"
                    );
                }
            }
        }
        type G2 = ark_bn254::G2Projective;
        for n in [1usize, 33, 120] {
            for (name, bases, scalars) in crate::msm::edge_case_inputs_in::<G2>(n, 12) {
                let want = G2::msm_bigint(&bases, &scalars);
                for c in [3u32, crate::msm::default_window_bits(n)] {
                    assert_eq!(
                        msm(&bases, &scalars, c).expect("msm"),
                        want,
                        "G2 {name}, n = {n}, c = {c}"
                    );
                }
            }
        }
    }

    /// The plan built by the device kernels equals the host's: the same bucket sizes, task
    /// offsets and bucket tasks, the same entries per bucket (in whatever order the atomics
    /// gave), whatever the scan block's size; and MSMs over it equal arkworks', G1 and G2.
    #[test]
    fn host_built_device_plan_equals_the_host_plan_and_arkworks() {
        use ark_ec::VariableBaseMSM;
        for n in [1usize, 33, 300] {
            for (name, bases, scalars) in crate::msm::edge_case_inputs(n, 13) {
                for c in [3u32, 8, crate::msm::default_window_bits(n)] {
                    let host = crate::msm::MsmPlan::new(&scalars, c).expect("host plan");
                    for threads in [1, 7, 256] {
                        let dev = device_plan(&scalars, c, threads).expect("device plan");
                        assert_eq!(dev.shape, host.shape());
                        assert_eq!(dev.task_offsets, host.task_offsets, "{name} c = {c}");
                        assert_eq!(dev.bucket_tasks, host.bucket_tasks, "{name} c = {c}");
                        assert_eq!(dev.entries.len(), host.entries.len());
                        for r in host.bucket_tasks.windows(2) {
                            let a = host.task_offsets[r[0] as usize] as usize;
                            let b = host.task_offsets[r[1] as usize] as usize;
                            let mut x = dev.entries[a..b].to_vec();
                            let mut y = host.entries[a..b].to_vec();
                            x.sort_unstable();
                            y.sort_unstable();
                            assert_eq!(x, y, "{name} c = {c}: a bucket's entries");
                        }
                    }
                    assert_eq!(
                        msm_planned_on_device(&bases, &scalars, c).expect("msm"),
                        G1::msm_bigint(&bases, &scalars),
                        "G1 {name}, n = {n}, c = {c}"
                    );
                }
            }
        }
        type G2 = ark_bn254::G2Projective;
        for (name, bases, scalars) in crate::msm::edge_case_inputs_in::<G2>(40, 14) {
            assert_eq!(
                msm_planned_on_device(&bases, &scalars, 4).expect("msm"),
                G2::msm_bigint(&bases, &scalars),
                "G2 {name}"
            );
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
