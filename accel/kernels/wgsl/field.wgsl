// BN254 scalar field in Montgomery form (R = 2^256) with 8 x 32-bit little-endian limbs: the
// arithmetic shared by every WGSL kernel (the host prepends this file to each kernel file).
// u32 arithmetic only (no 64-bit integers: they are missing on GL, browsers and some drivers);
// 32x32-bit products are built from 16-bit halves. Limbs are arkworks' Montgomery limbs split in
// halves, so values cross to the device without conversion.

struct Fr { l: array<u32, 8> }

var<private> P: array<u32, 8> = array<u32, 8>(
    0xf0000001u, 0x43e1f593u, 0x79b97091u, 0x2833e848u,
    0x8181585du, 0xb85045b6u, 0xe131a029u, 0x30644e72u);
const INV: u32 = 0xefffffffu; // -p^-1 mod 2^32

// a * b as (lo, hi).
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = p01 + p10;
    let mid_carry = select(0u, 0x10000u, mid < p01);
    let lo = p00 + (mid << 16u);
    let lo_carry = select(0u, 1u, lo < p00);
    let hi = p11 + (mid >> 16u) + mid_carry + lo_carry;
    return vec2<u32>(lo, hi);
}

// a * b + c + d as (lo, hi); never overflows 64 bits.
fn mac(a: u32, b: u32, c: u32, d: u32) -> vec2<u32> {
    let r = mul_wide(a, b);
    let lo1 = r.x + c;
    var hi = r.y + select(0u, 1u, lo1 < c);
    let lo2 = lo1 + d;
    hi = hi + select(0u, 1u, lo2 < d);
    return vec2<u32>(lo2, hi);
}

fn fr_reduce_once(a: Fr) -> Fr {
    var d: Fr;
    var borrow = 0u;
    for (var i = 0u; i < 8u; i = i + 1u) {
        let x = a.l[i] - P[i];
        let b1 = select(0u, 1u, a.l[i] < P[i]);
        let y = x - borrow;
        let b2 = select(0u, 1u, x < borrow);
        d.l[i] = y;
        borrow = b1 + b2;
    }
    if (borrow != 0u) {
        return a;
    }
    return d;
}

fn fr_add(a: Fr, b: Fr) -> Fr {
    var s: Fr;
    var carry = 0u;
    for (var i = 0u; i < 8u; i = i + 1u) {
        let x = a.l[i] + b.l[i];
        let c1 = select(0u, 1u, x < a.l[i]);
        let y = x + carry;
        let c2 = select(0u, 1u, y < x);
        s.l[i] = y;
        carry = c1 + c2;
    }
    return fr_reduce_once(s);
}

fn fr_sub(a: Fr, b: Fr) -> Fr {
    var d: Fr;
    var borrow = 0u;
    for (var i = 0u; i < 8u; i = i + 1u) {
        let x = a.l[i] - b.l[i];
        let b1 = select(0u, 1u, a.l[i] < b.l[i]);
        let y = x - borrow;
        let b2 = select(0u, 1u, x < borrow);
        d.l[i] = y;
        borrow = b1 + b2;
    }
    if (borrow != 0u) {
        var carry = 0u;
        for (var i = 0u; i < 8u; i = i + 1u) {
            let x = d.l[i] + P[i];
            let c1 = select(0u, 1u, x < d.l[i]);
            let y = x + carry;
            let c2 = select(0u, 1u, y < x);
            d.l[i] = y;
            carry = c1 + c2;
        }
    }
    return d;
}

// Montgomery product (CIOS, 8 limbs).
fn fr_mul(a: Fr, b: Fr) -> Fr {
    var t: array<u32, 10>;
    for (var k = 0u; k < 10u; k = k + 1u) {
        t[k] = 0u;
    }
    for (var i = 0u; i < 8u; i = i + 1u) {
        var c = 0u;
        for (var j = 0u; j < 8u; j = j + 1u) {
            let r = mac(a.l[j], b.l[i], t[j], c);
            t[j] = r.x;
            c = r.y;
        }
        let s = t[8] + c;
        t[9] = select(0u, 1u, s < c);
        t[8] = s;
        let m = t[0] * INV;
        var r = mac(m, P[0], t[0], 0u);
        c = r.y;
        for (var j = 1u; j < 8u; j = j + 1u) {
            r = mac(m, P[j], t[j], c);
            t[j - 1u] = r.x;
            c = r.y;
        }
        let s2 = t[8] + c;
        let c2 = select(0u, 1u, s2 < c);
        t[7] = s2;
        t[8] = t[9] + c2;
    }
    var out: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        out.l[k] = t[k];
    }
    return fr_reduce_once(out);
}

fn fr_sbox(x: Fr) -> Fr {
    let x2 = fr_mul(x, x);
    let x4 = fr_mul(x2, x2);
    return fr_mul(x4, x);
}

