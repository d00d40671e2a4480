// Radix-2 NTT steps over BN254 Fr, one thread per element or per butterfly. The host runs: an
// optional pointwise pre-scaling (coset powers), bit reversal, log2(n) butterfly stages
// (half = 1, 2, …, n/2), an optional post-scaling (1/n, coset inverse powers). Twiddles are
// w^i for i < n/2. These bodies are shared by the kernels (ntt.cu) and the host test build.
#pragma once
#include "bn254_field.cuh"

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

RST_FN void rst_ntt_bitrev(Fr* data, unsigned int log_n, unsigned int i) {
    unsigned int r = rst_bitrev32(i) >> (32 - log_n);
    if (i < r) {
        Fr t = data[i];
        data[i] = data[r];
        data[r] = t;
    }
}

RST_FN void rst_ntt_butterfly(Fr* data, const Fr* tw, unsigned int n, unsigned int half, unsigned int k) {
    unsigned int j = k % half;
    unsigned int i0 = (k / half) * 2 * half + j;
    unsigned int i1 = i0 + half;
    Fr w = tw[j * (n / (2 * half))];
    Fr a = data[i0];
    Fr b = fr_mul(data[i1], w);
    data[i0] = fr_add(a, b);
    data[i1] = fr_sub(a, b);
}

RST_FN void rst_ntt_scale(Fr* data, const Fr* factors, unsigned int i) {
    data[i] = fr_mul(data[i], factors[i]);
}
