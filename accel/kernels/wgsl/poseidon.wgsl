// circomlib Poseidon in its optimized form (field arithmetic: field.wgsl, prepended by the host).
// Constants and layout: see kernels/cuda/poseidon.cuh (`PoseidonSpec::flat_optimized`), each
// element as 8 u32 limbs.

struct Params {
    n: u32,      // hashes (or field-op pairs)
    t: u32,      // Poseidon width (3 or 5)
    rp: u32,     // partial rounds
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> inp: array<u32>;
@group(0) @binding(1) var<storage, read_write> outp: array<u32>;
@group(0) @binding(2) var<storage, read> consts: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

fn load_in(e: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = inp[e * 8u + k];
    }
    return f;
}

fn load_k(e: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = consts[e * 8u + k];
    }
    return f;
}

fn store_out(e: u32, f: Fr) {
    for (var k = 0u; k < 8u; k = k + 1u) {
        outp[e * 8u + k] = f.l[k];
    }
}

fn full_round(s: ptr<function, array<Fr, 5>>, c_off: u32, m_off: u32, t: u32) {
    var old: array<Fr, 5>;
    for (var i = 0u; i < t; i = i + 1u) {
        old[i] = fr_sbox(fr_add((*s)[i], load_k(c_off + i)));
    }
    for (var i = 0u; i < t; i = i + 1u) {
        var acc = fr_mul(old[0], load_k(m_off + i * t));
        for (var j = 1u; j < t; j = j + 1u) {
            acc = fr_add(acc, fr_mul(old[j], load_k(m_off + i * t + j)));
        }
        (*s)[i] = acc;
    }
}

// out[i] = Poseidon(inp[i*(t-1) .. (i+1)*(t-1)]).
@compute @workgroup_size(64)
fn poseidon(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.n) {
        return;
    }
    let t = params.t;
    let rp = params.rp;
    var s: array<Fr, 5>;
    for (var k = 1u; k < t; k = k + 1u) {
        s[k] = load_in(i * (t - 1u) + k - 1u);
    }
    let rc_first = 0u;
    let pre = rc_first + 4u * t;
    let mds = pre + t * t;
    let pc = mds + t * t;
    let rows = pc + rp;
    let cols = rows + rp * t;
    let rc_last = cols + rp * (t - 1u);
    for (var r = 0u; r < 4u; r = r + 1u) {
        full_round(&s, rc_first + r * t, select(mds, pre, r == 3u), t);
    }
    for (var r = 0u; r < rp; r = r + 1u) {
        let x0 = fr_sbox(fr_add(s[0], load_k(pc + r)));
        var acc = fr_mul(x0, load_k(rows + r * t));
        for (var j = 1u; j < t; j = j + 1u) {
            acc = fr_add(acc, fr_mul(s[j], load_k(rows + r * t + j)));
        }
        for (var j = 1u; j < t; j = j + 1u) {
            s[j] = fr_add(s[j], fr_mul(x0, load_k(cols + r * (t - 1u) + j - 1u)));
        }
        s[0] = acc;
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        full_round(&s, rc_last + r * t, mds, t);
    }
    store_out(i, s[0]);
}

// Test entry: for each pair (a, b) = inp[2i], inp[2i+1]: out[3i..3i+3] = a*b, a+b, a-b.
@compute @workgroup_size(64)
fn field_ops(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.n) {
        return;
    }
    let a = load_in(2u * i);
    let b = load_in(2u * i + 1u);
    store_out(3u * i, fr_mul(a, b));
    store_out(3u * i + 1u, fr_add(a, b));
    store_out(3u * i + 2u, fr_sub(a, b));
}
