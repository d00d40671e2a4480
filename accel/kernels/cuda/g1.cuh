// BN254 G1 (y^2 = x^3 + 3 over Fq) in Jacobian coordinates (X, Y, Z) ~ (X/Z^2, Y/Z^3), Z = 0 the
// point at infinity. Formulas for a = 0 (hyperelliptic.org EFD): dbl-2009-l, add-2007-bl,
// madd-2007-bl, with the exceptional cases (infinity, P = Q, P = -Q) handled explicitly.
#pragma once
#include "bn254_field.cuh"

struct G1J {
    Fq x, y, z;
};

struct G1A {
    Fq x, y;
    bool infinity;
};

RST_FN bool fq_is_zero(Fq a) { return (a.l[0] | a.l[1] | a.l[2] | a.l[3]) == 0; }

RST_FN bool fq_eq(Fq a, Fq b) {
    return a.l[0] == b.l[0] && a.l[1] == b.l[1] && a.l[2] == b.l[2] && a.l[3] == b.l[3];
}

RST_FN Fq fq_dbl(Fq a) { return fq_add(a, a); }

RST_FN G1J g1_infinity() {
    G1J r;
    for (int i = 0; i < 4; i++) r.x.l[i] = r.y.l[i] = r.z.l[i] = 0;
    return r;
}

// dbl-2009-l (a = 0).
RST_FN G1J g1_double(G1J p) {
    if (fq_is_zero(p.z)) return p;
    Fq a = fq_mul(p.x, p.x);
    Fq b = fq_mul(p.y, p.y);
    Fq c = fq_mul(b, b);
    Fq t = fq_add(p.x, b);
    Fq d = fq_dbl(fq_sub(fq_sub(fq_mul(t, t), a), c));
    Fq e = fq_add(fq_dbl(a), a);
    Fq f = fq_mul(e, e);
    G1J r;
    r.x = fq_sub(f, fq_dbl(d));
    Fq c8 = fq_dbl(fq_dbl(fq_dbl(c)));
    r.y = fq_sub(fq_mul(e, fq_sub(d, r.x)), c8);
    r.z = fq_dbl(fq_mul(p.y, p.z));
    return r;
}

// add-2007-bl.
RST_FN G1J g1_add(G1J p, G1J q) {
    if (fq_is_zero(p.z)) return q;
    if (fq_is_zero(q.z)) return p;
    Fq z1z1 = fq_mul(p.z, p.z);
    Fq z2z2 = fq_mul(q.z, q.z);
    Fq u1 = fq_mul(p.x, z2z2);
    Fq u2 = fq_mul(q.x, z1z1);
    Fq s1 = fq_mul(fq_mul(p.y, q.z), z2z2);
    Fq s2 = fq_mul(fq_mul(q.y, p.z), z1z1);
    if (fq_eq(u1, u2)) {
        if (fq_eq(s1, s2)) return g1_double(p);
        return g1_infinity();
    }
    Fq h = fq_sub(u2, u1);
    Fq i = fq_dbl(h);
    i = fq_mul(i, i);
    Fq j = fq_mul(h, i);
    Fq r = fq_dbl(fq_sub(s2, s1));
    Fq v = fq_mul(u1, i);
    G1J o;
    o.x = fq_sub(fq_sub(fq_mul(r, r), j), fq_dbl(v));
    o.y = fq_sub(fq_mul(r, fq_sub(v, o.x)), fq_dbl(fq_mul(s1, j)));
    Fq zs = fq_add(p.z, q.z);
    o.z = fq_mul(fq_sub(fq_sub(fq_mul(zs, zs), z1z1), z2z2), h);
    return o;
}

// madd-2007-bl: P Jacobian, Q affine.
RST_FN G1J g1_add_mixed(G1J p, G1A q) {
    if (q.infinity) return p;
    if (fq_is_zero(p.z)) {
        G1J r;
        r.x = q.x;
        r.y = q.y;
        // Z = 1, which in Montgomery form is R mod q.
        r.z.l[0] = 0xd35d438dc58f0d9dULL;
        r.z.l[1] = 0x0a78eb28f5c70b3dULL;
        r.z.l[2] = 0x666ea36f7879462cULL;
        r.z.l[3] = 0x0e0a77c19a07df2fULL;
        return r;
    }
    Fq z1z1 = fq_mul(p.z, p.z);
    Fq u2 = fq_mul(q.x, z1z1);
    Fq s2 = fq_mul(fq_mul(q.y, p.z), z1z1);
    if (fq_eq(p.x, u2)) {
        if (fq_eq(p.y, s2)) return g1_double(p);
        return g1_infinity();
    }
    Fq h = fq_sub(u2, p.x);
    Fq hh = fq_mul(h, h);
    Fq i = fq_dbl(fq_dbl(hh));
    Fq j = fq_mul(h, i);
    Fq r = fq_dbl(fq_sub(s2, p.y));
    Fq v = fq_mul(p.x, i);
    G1J o;
    o.x = fq_sub(fq_sub(fq_mul(r, r), j), fq_dbl(v));
    o.y = fq_sub(fq_mul(r, fq_sub(v, o.x)), fq_dbl(fq_mul(p.y, j)));
    Fq zh = fq_add(p.z, h);
    o.z = fq_sub(fq_sub(fq_mul(zh, zh), z1z1), hh);
    return o;
}
