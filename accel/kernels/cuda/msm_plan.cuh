// The MSM plan built on the device (the CUDA backend's default; src/accel/msm.rs builds the same
// plan on the host): a counting sort of (bucket, point) pairs, the one-pass radix sort whose
// radix is the bucket count. Four kernels, each body shared with the host test build:
//   1. count:   one thread per scalar: its W signed digits (the host's `signed_digits`), one
//               atomic increment per nonzero digit of that digit's bucket;
//   2. scan:    one block: exclusive prefix sums of the bucket sizes (entry offsets) and of the
//               buckets' task counts (task offsets), with the totals at the end;
//   3. scatter: one thread per scalar: each nonzero digit's entry (point index, bit 31 for a
//               negative digit) written at its bucket's cursor (atomic), so within a bucket the
//               order is whatever the atomics give: sums do not depend on it;
//   4. tasks:   one thread per bucket: its tasks' entry offsets (runs of max(32, ⌊√m⌋)).
// No per-scalar host work: the host uploads the scalars and reads back two totals.
#pragma once
#include "bn254_field.cuh"
#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#include <math.h>
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
RST_FN unsigned int rst_atomic_inc(unsigned int* p) { return atomicAdd(p, 1u); }
#else
RST_FN unsigned int rst_atomic_inc(unsigned int* p) { return (*p)++; }
#endif

// Digit w of the scalar with limbs s (canonical, little-endian), signed: in [−2^(c−1)+1, 2^(c−1)],
// with the carry of the windows below (recomputed from window 0: W ≤ 128 steps of a few ops).
RST_FN int rst_msm_digit_carry(const unsigned long long* s, unsigned int c, unsigned int w, int* carry) {
    unsigned int start = w * c;
    unsigned int idx = start / 64, off = start % 64;
    unsigned long long lo = idx < 4 ? s[idx] >> off : 0;
    unsigned long long hi = (idx + 1 < 4 && off + c > 64) ? s[idx + 1] << (64 - off) : 0;
    long long v = (long long)((lo | hi) & ((1ull << c) - 1)) + *carry;
    long long half = 1ll << (c - 1);
    if (v > half) {
        *carry = 1;
        return (int)(v - (1ll << c));
    }
    *carry = 0;
    return (int)v;
}

// ⌊√m⌋ exactly (a float estimate, corrected).
RST_FN unsigned int rst_isqrt(unsigned int m) {
    unsigned long long r = (unsigned long long)sqrt((double)m);
    while (r * r > m) r--;
    while ((r + 1) * (r + 1) <= m) r++;
    return (unsigned int)r;
}

// Entries per task of a bucket of m entries, and its number of tasks (the host's `task_len`).
RST_FN unsigned int rst_task_len(unsigned int m) {
    unsigned int t = rst_isqrt(m);
    return t < 32 ? 32 : t;
}
RST_FN unsigned int rst_task_count(unsigned int m) { return (m + rst_task_len(m) - 1) / rst_task_len(m); }

// Kernel 1, thread i.
RST_FN void rst_plan_count(const unsigned long long* scalars, unsigned int c, unsigned int windows,
                           unsigned int buckets, unsigned int* counts, unsigned int i) {
    const unsigned long long* s = scalars + 4ull * i;
    int carry = 0;
    for (unsigned int w = 0; w < windows; w++) {
        int d = rst_msm_digit_carry(s, c, w, &carry);
        if (d != 0) rst_atomic_inc(&counts[w * buckets + (unsigned int)(d < 0 ? -d : d) - 1]);
    }
}

// Kernel 2 (one block of `threads` threads; thread `tid` owns a contiguous chunk): entry_start
// and bucket_tasks get nbuckets + 1 values each, the exclusive prefix sums of the bucket sizes
// and of their task counts; `partial` is 2 × threads scratch (shared memory on the device).
RST_FN void rst_plan_scan_chunk(const unsigned int* counts, unsigned int nbuckets, unsigned int threads,
                                unsigned int tid, unsigned long long* sums) {
    unsigned int per = (nbuckets + threads - 1) / threads;
    unsigned int lo = tid * per, hi = lo + per < nbuckets ? lo + per : nbuckets;
    unsigned long long e = 0, t = 0;
    for (unsigned int b = lo; b < hi; b++) {
        e += counts[b];
        t += rst_task_count(counts[b]);
    }
    sums[2 * tid] = e;
    sums[2 * tid + 1] = t;
}

RST_FN void rst_plan_scan_write(const unsigned int* counts, unsigned int nbuckets, unsigned int threads,
                                unsigned int tid, const unsigned long long* sums,
                                unsigned long long* entry_start, unsigned int* bucket_tasks) {
    unsigned int per = (nbuckets + threads - 1) / threads;
    unsigned int lo = tid * per, hi = lo + per < nbuckets ? lo + per : nbuckets;
    unsigned long long e = 0, t = 0;
    for (unsigned int j = 0; j < tid; j++) {
        e += sums[2 * j];
        t += sums[2 * j + 1];
    }
    for (unsigned int b = lo; b < hi; b++) {
        entry_start[b] = e;
        bucket_tasks[b] = (unsigned int)t;
        e += counts[b];
        t += rst_task_count(counts[b]);
    }
    if (tid == threads - 1) {
        entry_start[nbuckets] = e;
        bucket_tasks[nbuckets] = (unsigned int)t;
    }
}

// Kernel 3, thread i: `cursor` starts as a copy of entry_start.
RST_FN void rst_plan_scatter(const unsigned long long* scalars, unsigned int c, unsigned int windows,
                             unsigned int buckets, unsigned long long* cursor, unsigned int* entries,
                             unsigned int i) {
    const unsigned long long* s = scalars + 4ull * i;
    int carry = 0;
    for (unsigned int w = 0; w < windows; w++) {
        int d = rst_msm_digit_carry(s, c, w, &carry);
        if (d == 0) continue;
        unsigned int b = w * buckets + (unsigned int)(d < 0 ? -d : d) - 1;
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
        unsigned long long at = atomicAdd(&cursor[b], 1ull);
#else
        unsigned long long at = cursor[b]++;
#endif
        entries[at] = i | (d < 0 ? 0x80000000u : 0u);
    }
}

// Kernel 4, thread b: task offsets of bucket b (and the final end offset).
RST_FN void rst_plan_tasks(const unsigned long long* entry_start, const unsigned int* bucket_tasks,
                           unsigned int nbuckets, unsigned long long* task_offsets, unsigned int b) {
    unsigned int m = (unsigned int)(entry_start[b + 1] - entry_start[b]);
    unsigned int len = rst_task_len(m);
    unsigned int first = bucket_tasks[b];
    for (unsigned int j = 0; first + j < bucket_tasks[b + 1]; j++)
        task_offsets[first + j] = entry_start[b] + (unsigned long long)j * len;
    if (b == nbuckets - 1) task_offsets[bucket_tasks[nbuckets]] = entry_start[nbuckets];
}
