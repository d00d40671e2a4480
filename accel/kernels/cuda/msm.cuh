// Pippenger MSM over BN254 G1 and G2, the device side of the plan in src/accel/msm.rs: per-thread
// bodies of the three kernels (accumulate tasks, combine a bucket's tasks, reduce a segment of
// buckets), templated over the coordinate field (Fq for G1, Fq2 for G2; the plan depends only on
// the scalars). Shared by msm.cu / msm_g2.cu (one GPU thread per call) and the host test build (a
// loop per kernel).
//
// Layouts: bases are affine (x, y) pairs of F in Montgomery form, the identity stored as (0, 0)
// (no point of either prime-order group has y = 0: the order is odd). Entries are point indices
// with bit 31 set for a negated point. Jacobian results use g1.cuh's Jac<F>.
#pragma once
#include "g1.cuh"

#define RST_MSM_NEGATE 0x80000000u

// The point operations the kernels call, in place on an accumulator. G1's are inlined. G2's are
// real calls taking pointers: inlined, every jac_add over Fq2 is ~30k instructions, the reduce
// kernel needed 255 registers and spilled 2.8 KB (sm_90), and ptxas took minutes; as calls the
// code exists once per kernel, and the operands the caller keeps live stay in its stack frame
// instead of registers.
RST_FN void pt_add(G1J* acc, const G1J* q) { *acc = jac_add(*acc, *q); }
RST_FN void pt_double(G1J* acc) { *acc = jac_double(*acc); }
RST_FN void pt_add_mixed(G1J* acc, const G1A* q) { *acc = jac_add_mixed(*acc, *q); }
RST_CALL_FN void pt_add(G2J* acc, const G2J* q) { *acc = jac_add(*acc, *q); }
RST_CALL_FN void pt_double(G2J* acc) { *acc = jac_double(*acc); }
RST_CALL_FN void pt_add_mixed(G2J* acc, const G2A* q) { *acc = jac_add_mixed(*acc, *q); }

template <typename F>
RST_FN Aff<F> rst_msm_base(const F* bases, unsigned int entry) {
    unsigned int i = entry & ~RST_MSM_NEGATE;
    Aff<F> p;
    p.x = bases[2 * (unsigned long long)i];
    p.y = bases[2 * (unsigned long long)i + 1];
    p.infinity = f_is_zero(p.y);
    if (entry & RST_MSM_NEGATE) p.y = f_neg(p.y);
    return p;
}

// Kernel 1, thread `t`: the sum of task t's points (64-bit offsets: a plan may pass 2^32 entries).
template <typename F>
RST_FN Jac<F> rst_msm_task(const unsigned int* entries, const unsigned long long* task_offsets,
                           const F* bases, unsigned int t) {
    Jac<F> acc = jac_infinity<F>();
    for (unsigned long long e = task_offsets[t]; e < task_offsets[t + 1]; e++) {
        Aff<F> q = rst_msm_base(bases, entries[e]);
        pt_add_mixed(&acc, &q);
    }
    return acc;
}

// Kernel 2, thread `b`: bucket b, the sum of its tasks' partial sums.
template <typename F>
RST_FN Jac<F> rst_msm_bucket(const Jac<F>* partial, const unsigned int* bucket_tasks, unsigned int b) {
    Jac<F> acc = jac_infinity<F>();
    for (unsigned int t = bucket_tasks[b]; t < bucket_tasks[b + 1]; t++) pt_add(&acc, &partial[t]);
    return acc;
}

// k·P for a small k (a segment's first bucket index), double-and-add from the top bit.
template <typename F>
RST_FN Jac<F> rst_mul_small(Jac<F> p, unsigned int k) {
    Jac<F> acc = jac_infinity<F>();
    for (int bit = 31; bit >= 0; bit--) {
        pt_double(&acc);
        if ((k >> bit) & 1u) pt_add(&acc, &p);
    }
    return acc;
}

// Kernel 3, thread `g` = window · segments + s: Σ_{k in segment} (k + 1)·bucket_k with a running
// sum from the top bucket down (2·seg_len additions), plus lo·(Σ bucket_k) for the offset.
template <typename F>
RST_FN Jac<F> rst_msm_segment(const Jac<F>* buckets, unsigned int buckets_per_window,
                              unsigned int segments, unsigned int seg_len, unsigned int g) {
    unsigned int w = g / segments;
    unsigned int lo = (g % segments) * seg_len;
    const Jac<F>* b = buckets + (unsigned long long)w * buckets_per_window + lo;
    Jac<F> running = jac_infinity<F>();
    Jac<F> sum = jac_infinity<F>();
    for (unsigned int k = seg_len; k-- > 0;) {
        pt_add(&running, &b[k]);
        pt_add(&sum, &running);
    }
    Jac<F> offset = rst_mul_small(running, lo);
    pt_add(&sum, &offset);
    return sum;
}

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// The three kernels for field F, named msm_accumulate##SUFFIX etc.: one thread per task, bucket
// or segment (msm.cu: G1, msm_g2.cu: G2).
#define RST_MSM_KERNELS(SUFFIX, F)                                                                    \
    extern "C" __global__ void msm_accumulate##SUFFIX(const unsigned int* entries,                     \
                                                      const unsigned long long* task_offsets,          \
                                                      const F* bases, Jac<F>* partial,                 \
                                                      unsigned int tasks) {                            \
        unsigned int t = blockIdx.x * blockDim.x + threadIdx.x;                                        \
        if (t < tasks) partial[t] = rst_msm_task(entries, task_offsets, bases, t);                     \
    }                                                                                                  \
    extern "C" __global__ void msm_combine##SUFFIX(const Jac<F>* partial, const unsigned int* bucket_tasks, \
                                                   Jac<F>* buckets, unsigned int nbuckets) {           \
        unsigned int b = blockIdx.x * blockDim.x + threadIdx.x;                                        \
        if (b < nbuckets) buckets[b] = rst_msm_bucket(partial, bucket_tasks, b);                       \
    }                                                                                                  \
    extern "C" __global__ void msm_reduce##SUFFIX(const Jac<F>* buckets, Jac<F>* out,                  \
                                                  unsigned int buckets_per_window, unsigned int segments, \
                                                  unsigned int seg_len, unsigned int total) {          \
        unsigned int g = blockIdx.x * blockDim.x + threadIdx.x;                                        \
        if (g < total) out[g] = rst_msm_segment(buckets, buckets_per_window, segments, seg_len, g);    \
    }
#endif
