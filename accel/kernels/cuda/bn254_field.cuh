// BN254 fields in Montgomery form: 4 x 64-bit little-endian limbs, R = 2^256: the scalar field Fr
// (state, Poseidon, NTT) and the base field Fq (G1 coordinates). The limbs are exactly arkworks'
// internal representation of `ark_bn254::Fr` / `Fq`, so values move between host and device
// without conversion. One macro defines add, sub and the CIOS Montgomery product for a modulus.
//
// This header compiles both under NVRTC (device code) and as host C++ (the host test build in
// build.rs), so the arithmetic is tested against arkworks on machines without a GPU.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Unrolled loops over a compile-time width keep small arrays in registers (an array indexed by a
// loop variable the compiler does not unroll lives in local memory). Only up to width 4: at width
// 5 the unrolled Poseidon needs more than 255 registers and spills (measured with ptxas, sm_90).
#define RST_UNROLL_WIDTH _Pragma("unroll (T < 5 ? T : 1)")
#define RST_FN __device__ __forceinline__
#else
#define RST_UNROLL_WIDTH
#define RST_FN static inline
#endif

typedef unsigned long long rst_u64;

RST_FN rst_u64 rst_mulhi(rst_u64 a, rst_u64 b) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    return __umul64hi(a, b);
#else
    return (rst_u64)(((unsigned __int128)a * b) >> 64);
#endif
}

// (hi, lo) = a * b + c + d, never overflows 128 bits.
RST_FN rst_u64 rst_mac(rst_u64 a, rst_u64 b, rst_u64 c, rst_u64 d, rst_u64* hi) {
    rst_u64 lo = a * b;
    rst_u64 h = rst_mulhi(a, b);
    lo += c;
    h += (lo < c);
    lo += d;
    h += (lo < d);
    *hi = h;
    return lo;
}

RST_FN rst_u64 rst_adc(rst_u64 a, rst_u64 b, rst_u64* carry) {
    rst_u64 s = a + b;
    rst_u64 c1 = (s < a);
    rst_u64 t = s + *carry;
    rst_u64 c2 = (t < s);
    *carry = c1 + c2;
    return t;
}

RST_FN rst_u64 rst_sbb(rst_u64 a, rst_u64 b, rst_u64* borrow) {
    rst_u64 d = a - b;
    rst_u64 b1 = (a < b);
    rst_u64 t = d - *borrow;
    rst_u64 b2 = (d < *borrow);
    *borrow = b1 + b2;
    return t;
}

// Both moduli are below 2^254, so a + b never overflows 256 bits.
#define RST_DEFINE_FIELD(NAME, PREFIX, P0_, P1_, P2_, P3_, INV_) \
struct NAME { \
    rst_u64 l[4]; \
}; \
 \
RST_FN NAME PREFIX##_reduce_once(NAME a) { \
    rst_u64 borrow = 0; \
    NAME d; \
    d.l[0] = rst_sbb(a.l[0], P0_, &borrow); \
    d.l[1] = rst_sbb(a.l[1], P1_, &borrow); \
    d.l[2] = rst_sbb(a.l[2], P2_, &borrow); \
    d.l[3] = rst_sbb(a.l[3], P3_, &borrow); \
    return borrow ? a : d; \
} \
 \
RST_FN NAME PREFIX##_add(NAME a, NAME b) { \
    rst_u64 c = 0; \
    NAME s; \
    s.l[0] = rst_adc(a.l[0], b.l[0], &c); \
    s.l[1] = rst_adc(a.l[1], b.l[1], &c); \
    s.l[2] = rst_adc(a.l[2], b.l[2], &c); \
    s.l[3] = rst_adc(a.l[3], b.l[3], &c); \
    return PREFIX##_reduce_once(s); \
} \
 \
RST_FN NAME PREFIX##_sub(NAME a, NAME b) { \
    rst_u64 borrow = 0; \
    NAME d; \
    d.l[0] = rst_sbb(a.l[0], b.l[0], &borrow); \
    d.l[1] = rst_sbb(a.l[1], b.l[1], &borrow); \
    d.l[2] = rst_sbb(a.l[2], b.l[2], &borrow); \
    d.l[3] = rst_sbb(a.l[3], b.l[3], &borrow); \
    if (borrow) { \
        rst_u64 c = 0; \
        d.l[0] = rst_adc(d.l[0], P0_, &c); \
        d.l[1] = rst_adc(d.l[1], P1_, &c); \
        d.l[2] = rst_adc(d.l[2], P2_, &c); \
        d.l[3] = rst_adc(d.l[3], P3_, &c); \
    } \
    return d; \
} \
 \
RST_FN NAME PREFIX##_mul(NAME a, NAME b) { \
    const rst_u64 p[4] = {P0_, P1_, P2_, P3_}; \
    rst_u64 t[6] = {0, 0, 0, 0, 0, 0}; \
    for (int i = 0; i < 4; i++) { \
        rst_u64 c = 0; \
        for (int j = 0; j < 4; j++) { \
            t[j] = rst_mac(a.l[j], b.l[i], t[j], c, &c); \
        } \
        rst_u64 c2 = 0; \
        t[4] = rst_adc(t[4], c, &c2); \
        t[5] = c2; \
        rst_u64 m = t[0] * INV_; \
        rst_u64 hi; \
        rst_mac(m, p[0], t[0], 0, &hi); \
        c = hi; \
        for (int j = 1; j < 4; j++) { \
            t[j - 1] = rst_mac(m, p[j], t[j], c, &c); \
        } \
        c2 = 0; \
        t[3] = rst_adc(t[4], c, &c2); \
        t[4] = t[5] + c2; \
    } \
    NAME r; \
    r.l[0] = t[0]; \
    r.l[1] = t[1]; \
    r.l[2] = t[2]; \
    r.l[3] = t[3]; \
    return PREFIX##_reduce_once(r); \
}

// Fr: p = 21888242871839275222246405745257275088548364400416034343698204186575808495617
RST_DEFINE_FIELD(Fr, fr, 0x43e1f593f0000001ULL, 0x2833e84879b97091ULL, 0xb85045b68181585dULL,
                 0x30644e72e131a029ULL, 0xc2e1f593efffffffULL)
// Fq: q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
RST_DEFINE_FIELD(Fq, fq, 0x3c208c16d87cfd47ULL, 0x97816a916871ca8dULL, 0xb85045b68181585dULL,
                 0x30644e72e131a029ULL, 0x87d20782e4866389ULL)

RST_FN Fr fr_sbox(Fr x) {
    Fr x2 = fr_mul(x, x);
    Fr x4 = fr_mul(x2, x2);
    return fr_mul(x4, x);
}
