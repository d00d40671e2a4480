// BN254 G1 (y^2 = x^3 + 3 over Fq) and G2 (y^2 = x^3 + 3/(9+u) over Fq2) in Jacobian coordinates
// (X, Y, Z) ~ (X/Z^2, Y/Z^3), Z = 0 the point at infinity. The formulas for a = 0
// (hyperelliptic.org EFD: dbl-2009-l, add-2007-bl, madd-2007-bl) do not use b, so one template
// over the coordinate field serves both groups; the exceptional cases (infinity, P = Q, P = −Q)
// are handled explicitly. Each field provides f_add, f_sub, f_mul, f_is_zero, f_eq and f_one.
#pragma once
#include "bn254_field.cuh"

RST_FN bool f_is_zero(Fq a) { return (a.l[0] | a.l[1] | a.l[2] | a.l[3]) == 0; }
RST_FN bool f_eq(Fq a, Fq b) {
    return a.l[0] == b.l[0] && a.l[1] == b.l[1] && a.l[2] == b.l[2] && a.l[3] == b.l[3];
}
RST_FN Fq f_add(Fq a, Fq b) { return fq_add(a, b); }
RST_FN Fq f_sub(Fq a, Fq b) { return fq_sub(a, b); }
RST_FN Fq f_mul(Fq a, Fq b) { return fq_mul(a, b); }
RST_FN Fq f_zero(Fq) {
    Fq r;
    r.l[0] = r.l[1] = r.l[2] = r.l[3] = 0;
    return r;
}
// 1 in Montgomery form: R mod q.
RST_FN Fq f_one(Fq) {
    Fq r;
    r.l[0] = 0xd35d438dc58f0d9dULL;
    r.l[1] = 0x0a78eb28f5c70b3dULL;
    r.l[2] = 0x666ea36f7879462cULL;
    r.l[3] = 0x0e0a77c19a07df2fULL;
    return r;
}

// Fq2 = Fq[u] / (u^2 + 1), arkworks' layout (c0, c1).
struct Fq2 {
    Fq c0, c1;
};
RST_FN bool f_is_zero(Fq2 a) { return f_is_zero(a.c0) && f_is_zero(a.c1); }
RST_FN bool f_eq(Fq2 a, Fq2 b) { return f_eq(a.c0, b.c0) && f_eq(a.c1, b.c1); }
RST_FN Fq2 f_add(Fq2 a, Fq2 b) {
    Fq2 r;
    r.c0 = fq_add(a.c0, b.c0);
    r.c1 = fq_add(a.c1, b.c1);
    return r;
}
RST_FN Fq2 f_sub(Fq2 a, Fq2 b) {
    Fq2 r;
    r.c0 = fq_sub(a.c0, b.c0);
    r.c1 = fq_sub(a.c1, b.c1);
    return r;
}
// Karatsuba: three Fq products. A real call on the device (see RST_CALL_FN): inlined into the G2
// point formulas it needs more than 255 registers.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define RST_CALL_FN __device__ __noinline__
#else
#define RST_CALL_FN static
#endif
RST_CALL_FN Fq2 f_mul(Fq2 a, Fq2 b) {
    Fq v0 = fq_mul(a.c0, b.c0);
    Fq v1 = fq_mul(a.c1, b.c1);
    Fq s = fq_mul(fq_add(a.c0, a.c1), fq_add(b.c0, b.c1));
    Fq2 r;
    r.c0 = fq_sub(v0, v1);
    r.c1 = fq_sub(fq_sub(s, v0), v1);
    return r;
}
RST_FN Fq2 f_zero(Fq2) {
    Fq2 r;
    r.c0 = f_zero(Fq());
    r.c1 = r.c0;
    return r;
}
RST_FN Fq2 f_one(Fq2) {
    Fq2 r;
    r.c0 = f_one(Fq());
    r.c1 = f_zero(Fq());
    return r;
}

template <typename F>
RST_FN F f_dbl(F a) {
    return f_add(a, a);
}

template <typename F>
RST_FN F f_neg(F a) {
    return f_sub(f_zero(a), a);
}

template <typename F>
struct Jac {
    F x, y, z;
};

template <typename F>
struct Aff {
    F x, y;
    bool infinity;
};

typedef Jac<Fq> G1J;
typedef Aff<Fq> G1A;
typedef Jac<Fq2> G2J;
typedef Aff<Fq2> G2A;

template <typename F>
RST_FN Jac<F> jac_infinity() {
    Jac<F> r;
    r.x = r.y = r.z = f_zero(F());
    return r;
}

// dbl-2009-l (a = 0).
template <typename F>
RST_FN Jac<F> jac_double(Jac<F> p) {
    if (f_is_zero(p.z)) return p;
    F a = f_mul(p.x, p.x);
    F b = f_mul(p.y, p.y);
    F c = f_mul(b, b);
    F t = f_add(p.x, b);
    F d = f_dbl(f_sub(f_sub(f_mul(t, t), a), c));
    F e = f_add(f_dbl(a), a);
    F f = f_mul(e, e);
    Jac<F> r;
    r.x = f_sub(f, f_dbl(d));
    F c8 = f_dbl(f_dbl(f_dbl(c)));
    r.y = f_sub(f_mul(e, f_sub(d, r.x)), c8);
    r.z = f_dbl(f_mul(p.y, p.z));
    return r;
}

// add-2007-bl.
template <typename F>
RST_FN Jac<F> jac_add(Jac<F> p, Jac<F> q) {
    if (f_is_zero(p.z)) return q;
    if (f_is_zero(q.z)) return p;
    F z1z1 = f_mul(p.z, p.z);
    F z2z2 = f_mul(q.z, q.z);
    F u1 = f_mul(p.x, z2z2);
    F u2 = f_mul(q.x, z1z1);
    F s1 = f_mul(f_mul(p.y, q.z), z2z2);
    F s2 = f_mul(f_mul(q.y, p.z), z1z1);
    if (f_eq(u1, u2)) {
        if (f_eq(s1, s2)) return jac_double(p);
        return jac_infinity<F>();
    }
    F h = f_sub(u2, u1);
    F i = f_dbl(h);
    i = f_mul(i, i);
    F j = f_mul(h, i);
    F r = f_dbl(f_sub(s2, s1));
    F v = f_mul(u1, i);
    Jac<F> o;
    o.x = f_sub(f_sub(f_mul(r, r), j), f_dbl(v));
    o.y = f_sub(f_mul(r, f_sub(v, o.x)), f_dbl(f_mul(s1, j)));
    F zs = f_add(p.z, q.z);
    o.z = f_mul(f_sub(f_sub(f_mul(zs, zs), z1z1), z2z2), h);
    return o;
}

// madd-2007-bl: P Jacobian, Q affine.
template <typename F>
RST_FN Jac<F> jac_add_mixed(Jac<F> p, Aff<F> q) {
    if (q.infinity) return p;
    if (f_is_zero(p.z)) {
        Jac<F> r;
        r.x = q.x;
        r.y = q.y;
        r.z = f_one(F());
        return r;
    }
    F z1z1 = f_mul(p.z, p.z);
    F u2 = f_mul(q.x, z1z1);
    F s2 = f_mul(f_mul(q.y, p.z), z1z1);
    if (f_eq(p.x, u2)) {
        if (f_eq(p.y, s2)) return jac_double(p);
        return jac_infinity<F>();
    }
    F h = f_sub(u2, p.x);
    F hh = f_mul(h, h);
    F i = f_dbl(f_dbl(hh));
    F j = f_mul(h, i);
    F r = f_dbl(f_sub(s2, p.y));
    F v = f_mul(p.x, i);
    Jac<F> o;
    o.x = f_sub(f_sub(f_mul(r, r), j), f_dbl(v));
    o.y = f_sub(f_mul(r, f_sub(v, o.x)), f_dbl(f_mul(p.y, j)));
    F zh = f_add(p.z, h);
    o.z = f_sub(f_sub(f_mul(zh, zh), z1z1), hh);
    return o;
}
