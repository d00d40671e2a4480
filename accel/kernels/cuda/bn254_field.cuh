// BN254 fields in Montgomery form: 4 x 64-bit little-endian limbs, R = 2^256: the scalar field Fr
// (state, Poseidon, NTT) and the base field Fq (G1 coordinates). The limbs are exactly arkworks'
// internal representation of `ark_bn254::Fr` / `Fq`, so values move between host and device
// without conversion. One macro defines add, sub and the CIOS Montgomery product for a modulus, all
// running on 32-bit carry chains (see the primitives below).
//
// This header compiles both under NVRTC (device code) and as host C++ (the host test build in
// build.rs), so the arithmetic is tested against arkworks on machines without a GPU.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Unrolled loops over a compile-time width keep small arrays in registers (an array indexed by a
// loop variable the compiler does not unroll lives in local memory). With the 32-bit field
// arithmetic below both Poseidon widths unroll with a stack frame of 0 (sm_90, ptxas: t3 64
// registers, t5 96; with the former 64-bit arithmetic t5 needed 255 and spilled).
#define RST_UNROLL_WIDTH _Pragma("unroll")
#define RST_FN __device__ __forceinline__
#else
#define RST_UNROLL_WIDTH
#define RST_FN static inline
#endif

typedef unsigned long long rst_u64;
typedef unsigned int rst_u32;

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define RST_UNROLL _Pragma("unroll")
#else
#define RST_UNROLL
#endif

// 32-bit carry-chain primitives. On the device each is one PTX instruction using the carry flag
// (CC.CF): `add.cc`, `addc.cc`, `sub.cc`, `mad.lo.cc`, `madc.hi.cc`, … — the chains the hardware
// runs natively (a 32 × 32 multiply-add with carry-in and carry-out per instruction; the 64-bit
// version needed 64-bit multiplies emulated from 32-bit ones and compare-and-select carries,
// ~700 SASS instructions per product). On the host the same macros spell the instruction's
// semantics with an explicit flag `rst_cf` (declared by RST_CC at the top of each function), so
// the one carry sequence every field function is written as is tested against arkworks by the
// host build. Suffix `_cc` writes the flag, a leading `c` (addc, madc) reads it; `sub` sets the
// flag to the borrow and `subc` subtracts it.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define RST_CC
#define RST_ADD_CC(d, a, b) asm volatile("add.cc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b))
#define RST_ADDC_CC(d, a, b) asm volatile("addc.cc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b))
#define RST_ADDC(d, a, b) asm volatile("addc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b))
#define RST_SUB_CC(d, a, b) asm volatile("sub.cc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b))
#define RST_SUBC_CC(d, a, b) asm volatile("subc.cc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b))
#define RST_SUBC(d, a, b) asm volatile("subc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b))
#define RST_MAD_LO_CC(d, a, b, c) \
    asm volatile("mad.lo.cc.u32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c))
#define RST_MADC_LO_CC(d, a, b, c) \
    asm volatile("madc.lo.cc.u32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c))
#define RST_MAD_HI_CC(d, a, b, c) \
    asm volatile("mad.hi.cc.u32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c))
#define RST_MADC_HI_CC(d, a, b, c) \
    asm volatile("madc.hi.cc.u32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c))
#else
#define RST_CC rst_u32 rst_cf = 0; (void)rst_cf
#define RST_CARRY_(d, s) do { rst_u64 s_ = (s); d = (rst_u32)s_; rst_cf = (rst_u32)(s_ >> 32); } while (0)
#define RST_ADD_CC(d, a, b) RST_CARRY_(d, (rst_u64)(a) + (b))
#define RST_ADDC_CC(d, a, b) RST_CARRY_(d, (rst_u64)(a) + (b) + rst_cf)
#define RST_ADDC(d, a, b) do { d = (rst_u32)((rst_u64)(a) + (b) + rst_cf); } while (0)
#define RST_SUB_CC(d, a, b) do { rst_u32 a_ = (a), b_ = (b); d = a_ - b_; rst_cf = a_ < b_; } while (0)
#define RST_SUBC_CC(d, a, b) \
    do { rst_u64 a_ = (a), b_ = (rst_u64)(b) + rst_cf; d = (rst_u32)(a_ - b_); rst_cf = a_ < b_; } while (0)
#define RST_SUBC(d, a, b) do { d = (rst_u32)((a) - (b) - rst_cf); } while (0)
#define RST_LO_(a, b) ((rst_u32)((rst_u64)(a) * (b)))
#define RST_HI_(a, b) ((rst_u32)(((rst_u64)(a) * (b)) >> 32))
#define RST_MAD_LO_CC(d, a, b, c) RST_CARRY_(d, (rst_u64)RST_LO_(a, b) + (c))
#define RST_MADC_LO_CC(d, a, b, c) RST_CARRY_(d, (rst_u64)RST_LO_(a, b) + (c) + rst_cf)
#define RST_MAD_HI_CC(d, a, b, c) RST_CARRY_(d, (rst_u64)RST_HI_(a, b) + (c))
#define RST_MADC_HI_CC(d, a, b, c) RST_CARRY_(d, (rst_u64)RST_HI_(a, b) + (c) + rst_cf)
#endif

// A 256-bit value as eight 32-bit words, little-endian: word 2i is the low half of 64-bit limb i.
RST_FN void rst_split(const rst_u64* l, rst_u32* w) {
    RST_UNROLL
    for (int i = 0; i < 4; i++) {
        w[2 * i] = (rst_u32)l[i];
        w[2 * i + 1] = (rst_u32)(l[i] >> 32);
    }
}

RST_FN void rst_join(const rst_u32* w, rst_u64* l) {
    RST_UNROLL
    for (int i = 0; i < 4; i++) l[i] = (rst_u64)w[2 * i] | ((rst_u64)w[2 * i + 1] << 32);
}

// w = w - p if w ≥ p (w < 2p): a borrow chain, then a select on the final borrow.
RST_FN void rst_reduce_once32(rst_u32* w, const rst_u32* p) {
    RST_CC;
    rst_u32 d[8];
    RST_SUB_CC(d[0], w[0], p[0]);
    RST_UNROLL
    for (int i = 1; i < 8; i++) RST_SUBC_CC(d[i], w[i], p[i]);
    rst_u32 borrow;
    RST_SUBC(borrow, 0u, 0u);  // 0 or 0xffffffff
    RST_UNROLL
    for (int i = 0; i < 8; i++) w[i] = borrow ? w[i] : d[i];
}

// s = a + b mod p (a, b < p < 2^255: the sum never leaves 256 bits).
RST_FN void rst_add32(const rst_u32* a, const rst_u32* b, rst_u32* s, const rst_u32* p) {
    RST_CC;
    RST_ADD_CC(s[0], a[0], b[0]);
    RST_UNROLL
    for (int i = 1; i < 7; i++) RST_ADDC_CC(s[i], a[i], b[i]);
    RST_ADDC(s[7], a[7], b[7]);
    rst_reduce_once32(s, p);
}

// d = a − b mod p: a borrow chain, then p added back under the borrow.
RST_FN void rst_sub32(const rst_u32* a, const rst_u32* b, rst_u32* d, const rst_u32* p) {
    RST_CC;
    RST_SUB_CC(d[0], a[0], b[0]);
    RST_UNROLL
    for (int i = 1; i < 8; i++) RST_SUBC_CC(d[i], a[i], b[i]);
    rst_u32 borrow;
    RST_SUBC(borrow, 0u, 0u);
    rst_u32 q[8];
    RST_UNROLL
    for (int i = 0; i < 8; i++) q[i] = p[i] & borrow;
    RST_ADD_CC(d[0], d[0], q[0]);
    RST_UNROLL
    for (int i = 1; i < 7; i++) RST_ADDC_CC(d[i], d[i], q[i]);
    RST_ADDC(d[7], d[7], q[7]);
}

// r = a · b · 2^-256 mod p: CIOS Montgomery over 32-bit words. Per word b_i two multiply-add
// chains add a·b_i (low halves at word j, high halves at word j + 1), then m = t_0 · (−p⁻¹) mod
// 2^32 and two more chains add m·p, which clears word 0; the accumulator shifts down one word.
// With a, b < p < 2^254 every intermediate t stays below 2p < 2^255, so t_8 and t_9 only carry
// transiently and one conditional subtraction ends it.
RST_FN void rst_mont_mul32(const rst_u32* a, const rst_u32* b, rst_u32* r, const rst_u32* p,
                           rst_u32 inv) {
    RST_CC;
    rst_u32 t[10];
    RST_UNROLL
    for (int j = 0; j < 10; j++) t[j] = 0;
    RST_UNROLL
    for (int i = 0; i < 8; i++) {
        rst_u32 bi = b[i];
        RST_MAD_LO_CC(t[0], a[0], bi, t[0]);
        RST_UNROLL
        for (int j = 1; j < 8; j++) RST_MADC_LO_CC(t[j], a[j], bi, t[j]);
        RST_ADDC_CC(t[8], t[8], 0u);
        RST_ADDC(t[9], 0u, 0u);
        RST_MAD_HI_CC(t[1], a[0], bi, t[1]);
        RST_UNROLL
        for (int j = 1; j < 8; j++) RST_MADC_HI_CC(t[j + 1], a[j], bi, t[j + 1]);
        RST_ADDC(t[9], t[9], 0u);
        rst_u32 m = t[0] * inv;
        RST_MAD_LO_CC(t[0], m, p[0], t[0]);
        RST_UNROLL
        for (int j = 1; j < 8; j++) RST_MADC_LO_CC(t[j], m, p[j], t[j]);
        RST_ADDC_CC(t[8], t[8], 0u);
        RST_ADDC(t[9], t[9], 0u);
        RST_MAD_HI_CC(t[1], m, p[0], t[1]);
        RST_UNROLL
        for (int j = 1; j < 8; j++) RST_MADC_HI_CC(t[j + 1], m, p[j], t[j + 1]);
        RST_ADDC(t[9], t[9], 0u);
        RST_UNROLL
        for (int j = 0; j < 9; j++) t[j] = t[j + 1];
        t[9] = 0;
    }
    RST_UNROLL
    for (int j = 0; j < 8; j++) r[j] = t[j];
    rst_reduce_once32(r, p);
}

// A field of 4 × 64-bit Montgomery limbs (arkworks' layout in memory) whose arithmetic runs on
// the 32-bit chains above. `P32_` lists p's eight words, `INV32_` is −p⁻¹ mod 2^32.
#define RST_DEFINE_FIELD(NAME, PREFIX, P0_, P1_, P2_, P3_, P4_, P5_, P6_, P7_, INV32_) \
struct NAME { \
    rst_u64 l[4]; \
}; \
 \
RST_FN NAME PREFIX##_add(NAME a, NAME b) { \
    const rst_u32 p[8] = {P0_, P1_, P2_, P3_, P4_, P5_, P6_, P7_}; \
    rst_u32 x[8], y[8], z[8]; \
    rst_split(a.l, x); \
    rst_split(b.l, y); \
    rst_add32(x, y, z, p); \
    NAME r; \
    rst_join(z, r.l); \
    return r; \
} \
 \
RST_FN NAME PREFIX##_sub(NAME a, NAME b) { \
    const rst_u32 p[8] = {P0_, P1_, P2_, P3_, P4_, P5_, P6_, P7_}; \
    rst_u32 x[8], y[8], z[8]; \
    rst_split(a.l, x); \
    rst_split(b.l, y); \
    rst_sub32(x, y, z, p); \
    NAME r; \
    rst_join(z, r.l); \
    return r; \
} \
 \
RST_FN NAME PREFIX##_mul(NAME a, NAME b) { \
    const rst_u32 p[8] = {P0_, P1_, P2_, P3_, P4_, P5_, P6_, P7_}; \
    rst_u32 x[8], y[8], z[8]; \
    rst_split(a.l, x); \
    rst_split(b.l, y); \
    rst_mont_mul32(x, y, z, p, INV32_); \
    NAME r; \
    rst_join(z, r.l); \
    return r; \
}

// Fr: p = 21888242871839275222246405745257275088548364400416034343698204186575808495617
RST_DEFINE_FIELD(Fr, fr, 0xf0000001u, 0x43e1f593u, 0x79b97091u, 0x2833e848u, 0x8181585du, 0xb85045b6u,
                 0xe131a029u, 0x30644e72u, 0xefffffffu)
// Fq: q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
RST_DEFINE_FIELD(Fq, fq, 0xd87cfd47u, 0x3c208c16u, 0x6871ca8du, 0x97816a91u, 0x8181585du, 0xb85045b6u,
                 0xe131a029u, 0x30644e72u, 0xe4866389u)

RST_FN Fr fr_sbox(Fr x) {
    Fr x2 = fr_mul(x, x);
    Fr x4 = fr_mul(x2, x2);
    return fr_mul(x4, x);
}
