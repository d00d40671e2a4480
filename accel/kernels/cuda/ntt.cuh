// Radix-2 NTT over BN254 Fr in passes of up to 2^k points held in shared memory (the habit of
// sppark and ICICLE: a few global-memory passes instead of one per stage).
//
// The transform is decimation in time: bit reversal, then log2(n) butterfly stages (half = 1, 2,
// …, n/2) with twiddles w^i (i < n/2). The stages s .. s+k−1 only mix points whose indices agree
// outside bits s .. s+k−1, so they split into n / 2^k independent groups of 2^k points, 2^s apart;
// a pass gives each group to one thread block, which loads it into shared memory, runs the k
// stages there and stores it back. The host splits the log2(n) stages into passes as evenly as
// it can (`cpu::ntt_passes`), so 2^20 points take two passes of ten stages.
//
// The first pass also does the bit reversal and the optional pre-scaling (coset powers) while it
// loads, reading the input buffer out of place; the last pass does the optional post-scaling
// (1/n, inverse coset powers) while it stores. These bodies are shared by the kernel (ntt.cu)
// and the host test build, which runs a block's threads one after another.
#pragma once
#include "bn254_field.cuh"

// The largest group a pass holds: 2^10 points, 32 KiB of shared memory per block.
#define RST_NTT_MAX_K 10
// Pass flags: load from the input in bit-reversed order, pre-scale on load, post-scale on store.
#define RST_NTT_FIRST 1u
#define RST_NTT_PRE 2u
#define RST_NTT_POST 4u

RST_FN unsigned int rst_bitrev32(unsigned int x) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    return __brev(x);
#else
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
#endif
}

// Index of point e (e < 2^k) of group g in a pass over the stages s .. s+k−1.
RST_FN unsigned int rst_ntt_index(unsigned int g, unsigned int s, unsigned int k, unsigned int e) {
    unsigned int lo = g & ((1u << s) - 1u);
    return ((g >> s) << (s + k)) + lo + (e << s);
}

// Point e of group g as the pass starts: from `data` in place, or (first pass) from the input
// `src` at the bit-reversed index, times the pre-scaling factor there.
RST_FN Fr rst_ntt_load(const Fr* src, const Fr* data, const Fr* pre, unsigned int log_n,
                       unsigned int flags, unsigned int g, unsigned int s, unsigned int k,
                       unsigned int e) {
    unsigned int i = rst_ntt_index(g, s, k, e);
    if (!(flags & RST_NTT_FIRST)) return data[i];
    unsigned int r = rst_bitrev32(i) >> (32 - log_n);
    Fr x = src[r];
    if (flags & RST_NTT_PRE) x = fr_mul(x, pre[r]);
    return x;
}

RST_FN void rst_ntt_store(Fr* data, const Fr* post, unsigned int flags, unsigned int g,
                          unsigned int s, unsigned int k, unsigned int e, Fr x) {
    unsigned int i = rst_ntt_index(g, s, k, e);
    if (flags & RST_NTT_POST) x = fr_mul(x, post[i]);
    data[i] = x;
}

// Butterfly b (b < 2^(k−1)) of local stage t (global half 2^(s+t)) on group g's points `sh`.
// Its global position within the half is j = (local j)·2^s + (g's low s bits), so its twiddle is
// w^(j · n / 2^(s+t+1)).
RST_FN void rst_ntt_butterfly(Fr* sh, const Fr* tw, unsigned int log_n, unsigned int g,
                              unsigned int s, unsigned int t, unsigned int b) {
    unsigned int lh = 1u << t;
    unsigned int jl = b & (lh - 1u);
    unsigned int i0 = ((b >> t) << (t + 1)) + jl;
    unsigned int j = (jl << s) + (g & ((1u << s) - 1u));
    Fr w = tw[j << (log_n - s - t - 1)];
    Fr a = sh[i0];
    Fr x = fr_mul(sh[i0 + lh], w);
    sh[i0] = fr_add(a, x);
    sh[i0 + lh] = fr_sub(a, x);
}
