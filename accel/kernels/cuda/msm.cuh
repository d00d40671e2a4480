// Pippenger MSM over BN254 G1, the device side of the plan in src/accel/msm.rs: per-thread bodies
// of the three kernels (accumulate tasks, combine a bucket's tasks, reduce a segment of buckets).
// Shared by msm.cu (one GPU thread per call) and the host test build (a loop per kernel).
//
// Layouts: bases are affine (x, y) pairs of Fq in Montgomery form, the identity stored as (0, 0)
// (no point of G1 has y = 0: the group has odd order). Entries are point indices with bit 31 set
// for a negated point. Jacobian results use g1.cuh's G1J.
#pragma once
#include "g1.cuh"

#define RST_MSM_NEGATE 0x80000000u

RST_FN Fq fq_neg(Fq a) {
    Fq zero;
    for (int i = 0; i < 4; i++) zero.l[i] = 0;
    return fq_sub(zero, a);
}

RST_FN G1A rst_msm_base(const Fq* bases, unsigned int entry) {
    unsigned int i = entry & ~RST_MSM_NEGATE;
    G1A p;
    p.x = bases[2 * i];
    p.y = bases[2 * i + 1];
    p.infinity = fq_is_zero(p.y);
    if (entry & RST_MSM_NEGATE) p.y = fq_neg(p.y);
    return p;
}

// Kernel 1, thread `t`: the sum of task t's points.
RST_FN G1J rst_msm_task(const unsigned int* entries, const unsigned int* task_offsets, const Fq* bases,
                        unsigned int t) {
    G1J acc = g1_infinity();
    for (unsigned int e = task_offsets[t]; e < task_offsets[t + 1]; e++)
        acc = g1_add_mixed(acc, rst_msm_base(bases, entries[e]));
    return acc;
}

// Kernel 2, thread `b`: bucket b, the sum of its tasks' partial sums.
RST_FN G1J rst_msm_bucket(const G1J* partial, const unsigned int* bucket_tasks, unsigned int b) {
    G1J acc = g1_infinity();
    for (unsigned int t = bucket_tasks[b]; t < bucket_tasks[b + 1]; t++) acc = g1_add(acc, partial[t]);
    return acc;
}

// k·P for a small k (a segment's first bucket index), double-and-add from the top bit.
RST_FN G1J rst_g1_mul_small(G1J p, unsigned int k) {
    G1J acc = g1_infinity();
    for (int bit = 31; bit >= 0; bit--) {
        acc = g1_double(acc);
        if ((k >> bit) & 1u) acc = g1_add(acc, p);
    }
    return acc;
}

// Kernel 3, thread `g` = window · segments + s: Σ_{k in segment} (k + 1)·bucket_k with a running
// sum from the top bucket down (2·seg_len additions), plus lo·(Σ bucket_k) for the offset.
RST_FN G1J rst_msm_segment(const G1J* buckets, unsigned int buckets_per_window, unsigned int segments,
                           unsigned int seg_len, unsigned int g) {
    unsigned int w = g / segments;
    unsigned int lo = (g % segments) * seg_len;
    const G1J* b = buckets + (unsigned long long)w * buckets_per_window + lo;
    G1J running = g1_infinity();
    G1J sum = g1_infinity();
    for (unsigned int k = seg_len; k-- > 0;) {
        running = g1_add(running, b[k]);
        sum = g1_add(sum, running);
    }
    return g1_add(sum, rst_g1_mul_small(running, lo));
}
