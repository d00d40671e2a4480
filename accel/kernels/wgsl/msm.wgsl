// Pippenger MSM over BN254 G1 (the plan: src/accel/msm.rs; the same kernels as
// kernels/cuda/msm.cuh). The host prepends field.wgsl instantiated for the base field Fq
// (`Fq`, `fq_*`), then this file. Points: affine bases as (x, y), 16 words, the identity stored as
// all zeros; Jacobian (X, Y, Z) results, 24 words, Z = 0 the identity. Formulas for a = 0 (EFD):
// dbl-2009-l, add-2007-bl, madd-2007-bl, with the exceptional cases handled explicitly.

struct G1J { x: Fq, y: Fq, z: Fq }

struct MsmParams {
    count: u32,              // threads of this dispatch
    offset: u32,             // index of its first thread
    buckets_per_window: u32,
    segments: u32,
    seg_len: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<storage, read> entries: array<u32>;
@group(0) @binding(1) var<storage, read> task_offsets: array<u32>;
@group(0) @binding(2) var<storage, read> bucket_tasks: array<u32>;
@group(0) @binding(3) var<storage, read> bases: array<u32>;
@group(0) @binding(4) var<storage, read_write> partial: array<u32>;
@group(0) @binding(5) var<storage, read_write> buckets: array<u32>;
@group(0) @binding(6) var<storage, read_write> seg_out: array<u32>;
@group(0) @binding(7) var<uniform> mp: MsmParams;

const NEGATE: u32 = 0x80000000u;

fn fq_zero() -> Fq {
    var z: Fq;
    for (var i = 0u; i < 8u; i = i + 1u) {
        z.l[i] = 0u;
    }
    return z;
}

fn fq_one() -> Fq {
    // R mod q (Montgomery form of 1).
    var o: Fq;
    o.l = array<u32, 8>(0xc58f0d9du, 0xd35d438du, 0xf5c70b3du, 0x0a78eb28u,
                        0x7879462cu, 0x666ea36fu, 0x9a07df2fu, 0x0e0a77c1u);
    return o;
}

fn fq_is_zero(a: Fq) -> bool {
    var acc = 0u;
    for (var i = 0u; i < 8u; i = i + 1u) {
        acc = acc | a.l[i];
    }
    return acc == 0u;
}

fn fq_eq(a: Fq, b: Fq) -> bool {
    var acc = 0u;
    for (var i = 0u; i < 8u; i = i + 1u) {
        acc = acc | (a.l[i] ^ b.l[i]);
    }
    return acc == 0u;
}

fn fq_dbl(a: Fq) -> Fq {
    return fq_add(a, a);
}

fn g1_infinity() -> G1J {
    return G1J(fq_zero(), fq_zero(), fq_zero());
}

fn g1_double(p: G1J) -> G1J {
    if (fq_is_zero(p.z)) {
        return p;
    }
    let a = fq_mul(p.x, p.x);
    let b = fq_mul(p.y, p.y);
    let c = fq_mul(b, b);
    let t = fq_add(p.x, b);
    let d = fq_dbl(fq_sub(fq_sub(fq_mul(t, t), a), c));
    let e = fq_add(fq_dbl(a), a);
    let f = fq_mul(e, e);
    let x = fq_sub(f, fq_dbl(d));
    let c8 = fq_dbl(fq_dbl(fq_dbl(c)));
    let y = fq_sub(fq_mul(e, fq_sub(d, x)), c8);
    let z = fq_dbl(fq_mul(p.y, p.z));
    return G1J(x, y, z);
}

fn g1_add(p: G1J, q: G1J) -> G1J {
    if (fq_is_zero(p.z)) {
        return q;
    }
    if (fq_is_zero(q.z)) {
        return p;
    }
    let z1z1 = fq_mul(p.z, p.z);
    let z2z2 = fq_mul(q.z, q.z);
    let u1 = fq_mul(p.x, z2z2);
    let u2 = fq_mul(q.x, z1z1);
    let s1 = fq_mul(fq_mul(p.y, q.z), z2z2);
    let s2 = fq_mul(fq_mul(q.y, p.z), z1z1);
    if (fq_eq(u1, u2)) {
        if (fq_eq(s1, s2)) {
            return g1_double(p);
        }
        return g1_infinity();
    }
    let h = fq_sub(u2, u1);
    var i = fq_dbl(h);
    i = fq_mul(i, i);
    let j = fq_mul(h, i);
    let r = fq_dbl(fq_sub(s2, s1));
    let v = fq_mul(u1, i);
    let x = fq_sub(fq_sub(fq_mul(r, r), j), fq_dbl(v));
    let y = fq_sub(fq_mul(r, fq_sub(v, x)), fq_dbl(fq_mul(s1, j)));
    let zs = fq_add(p.z, q.z);
    let z = fq_mul(fq_sub(fq_sub(fq_mul(zs, zs), z1z1), z2z2), h);
    return G1J(x, y, z);
}

// P Jacobian + (qx, qy) affine (not the identity).
fn g1_add_mixed(p: G1J, qx: Fq, qy: Fq) -> G1J {
    if (fq_is_zero(p.z)) {
        return G1J(qx, qy, fq_one());
    }
    let z1z1 = fq_mul(p.z, p.z);
    let u2 = fq_mul(qx, z1z1);
    let s2 = fq_mul(fq_mul(qy, p.z), z1z1);
    if (fq_eq(p.x, u2)) {
        if (fq_eq(p.y, s2)) {
            return g1_double(p);
        }
        return g1_infinity();
    }
    let h = fq_sub(u2, p.x);
    let hh = fq_mul(h, h);
    let i = fq_dbl(fq_dbl(hh));
    let j = fq_mul(h, i);
    let r = fq_dbl(fq_sub(s2, p.y));
    let v = fq_mul(p.x, i);
    let x = fq_sub(fq_sub(fq_mul(r, r), j), fq_dbl(v));
    let y = fq_sub(fq_mul(r, fq_sub(v, x)), fq_dbl(fq_mul(p.y, j)));
    let zh = fq_add(p.z, h);
    let z = fq_sub(fq_sub(fq_mul(zh, zh), z1z1), hh);
    return G1J(x, y, z);
}

fn base_coord(point: u32, which: u32) -> Fq {
    var f: Fq;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = bases[point * 16u + which * 8u + k];
    }
    return f;
}

fn load_j(idx: u32, from_partial: bool) -> G1J {
    var p: G1J;
    for (var k = 0u; k < 8u; k = k + 1u) {
        if (from_partial) {
            p.x.l[k] = partial[idx * 24u + k];
            p.y.l[k] = partial[idx * 24u + 8u + k];
            p.z.l[k] = partial[idx * 24u + 16u + k];
        } else {
            p.x.l[k] = buckets[idx * 24u + k];
            p.y.l[k] = buckets[idx * 24u + 8u + k];
            p.z.l[k] = buckets[idx * 24u + 16u + k];
        }
    }
    return p;
}

// Kernel 1: one thread per task, the sum of its (possibly negated) points.
@compute @workgroup_size(64)
fn msm_accumulate(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= mp.count) {
        return;
    }
    let t = gid.x + mp.offset;
    var acc = g1_infinity();
    for (var e = task_offsets[t]; e < task_offsets[t + 1u]; e = e + 1u) {
        let entry = entries[e];
        let i = entry & ~NEGATE;
        var y = base_coord(i, 1u);
        if (fq_is_zero(y)) {
            continue; // the identity
        }
        if ((entry & NEGATE) != 0u) {
            y = fq_sub(fq_zero(), y);
        }
        acc = g1_add_mixed(acc, base_coord(i, 0u), y);
    }
    for (var k = 0u; k < 8u; k = k + 1u) {
        partial[t * 24u + k] = acc.x.l[k];
        partial[t * 24u + 8u + k] = acc.y.l[k];
        partial[t * 24u + 16u + k] = acc.z.l[k];
    }
}

// Kernel 2: one thread per bucket, the sum of its tasks' partial sums.
@compute @workgroup_size(64)
fn msm_combine(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= mp.count) {
        return;
    }
    let b = gid.x + mp.offset;
    var acc = g1_infinity();
    for (var t = bucket_tasks[b]; t < bucket_tasks[b + 1u]; t = t + 1u) {
        acc = g1_add(acc, load_j(t, true));
    }
    for (var k = 0u; k < 8u; k = k + 1u) {
        buckets[b * 24u + k] = acc.x.l[k];
        buckets[b * 24u + 8u + k] = acc.y.l[k];
        buckets[b * 24u + 16u + k] = acc.z.l[k];
    }
}

// Kernel 3: one thread per segment g = window · segments + s:
// Σ_{k in segment} (k + 1)·bucket_k = (running-sum total) + lo · (Σ bucket_k).
// Written as one loop around a single `g1_add` call site (doubling is `g1_add(P, P)`): shader
// compilers inline every call, and one copy of the addition keeps compile time on software
// drivers (lavapipe) in seconds instead of minutes.
@compute @workgroup_size(64)
fn msm_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= mp.count) {
        return;
    }
    let g = gid.x + mp.offset;
    let w = g / mp.segments;
    let lo = (g % mp.segments) * mp.seg_len;
    let first = w * mp.buckets_per_window + lo;
    let sums = 2u * mp.seg_len;           // running += b_k; sum += running, k from the top
    let bits = 32u - countLeadingZeros(lo);
    let steps = sums + 2u * bits + 1u;    // then scaled = lo · running, then sum + scaled
    var running = g1_infinity();
    var sum = g1_infinity();
    var scaled = g1_infinity();
    for (var s = 0u; s < steps; s = s + 1u) {
        var a: G1J;
        var b: G1J;
        var dst = 0u; // 0: running, 1: sum, 2: scaled
        if (s < sums) {
            if ((s & 1u) == 0u) {
                a = running;
                b = load_j(first + mp.seg_len - 1u - s / 2u, false);
            } else {
                a = sum;
                b = running;
                dst = 1u;
            }
        } else if (s < steps - 1u) {
            let j = s - sums;
            let bit = bits - 1u - j / 2u;
            a = scaled;
            dst = 2u;
            if ((j & 1u) == 0u) {
                b = scaled;
            } else if (((lo >> bit) & 1u) != 0u) {
                b = running;
            } else {
                b = g1_infinity();
            }
        } else {
            a = sum;
            b = scaled;
            dst = 1u;
        }
        let r = g1_add(a, b);
        if (dst == 0u) {
            running = r;
        } else if (dst == 1u) {
            sum = r;
        } else {
            scaled = r;
        }
    }
    for (var k = 0u; k < 8u; k = k + 1u) {
        seg_out[g * 24u + k] = sum.x.l[k];
        seg_out[g * 24u + 8u + k] = sum.y.l[k];
        seg_out[g * 24u + 16u + k] = sum.z.l[k];
    }
}
