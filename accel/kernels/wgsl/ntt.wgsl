// Radix-2 NTT over BN254 Fr (field arithmetic: field.wgsl, prepended by the host), in passes of up
// to 2^9 points held in workgroup memory: the structure of the CUDA kernel (kernels/cuda/ntt.cuh
// explains it), with groups of 2^9 points, since 16 KiB is the workgroup memory every WebGPU
// device offers. The first pass reads the input out of place in bit-reversed order (and
// pre-scales: coset powers), the last post-scales as it stores (1/n, inverse coset powers).

struct NttParams {
    n: u32,
    log_n: u32,
    s: u32,      // first stage of this pass
    k: u32,      // stages in this pass: groups of 2^k points
    flags: u32,  // 1: first pass (bit reversal from `src`), 2: pre-scale, 4: post-scale
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

const MAX_GROUP: u32 = 512u;
const THREADS: u32 = 256u;

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read> tw: array<u32>;    // twiddles w^i, i < n/2
@group(0) @binding(3) var<storage, read> pre: array<u32>;   // factors (when flag 2)
@group(0) @binding(4) var<storage, read> post: array<u32>;  // factors (when flag 4)
@group(0) @binding(5) var<uniform> np: NttParams;

var<workgroup> sh: array<Fr, MAX_GROUP>;

fn ld_src(i: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = src[i * 8u + k];
    }
    return f;
}

fn ld_data(i: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = data[i * 8u + k];
    }
    return f;
}

fn ld_tw(i: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = tw[i * 8u + k];
    }
    return f;
}

fn ld_pre(i: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = pre[i * 8u + k];
    }
    return f;
}

fn ld_post(i: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = post[i * 8u + k];
    }
    return f;
}

fn st(i: u32, f: Fr) {
    for (var k = 0u; k < 8u; k = k + 1u) {
        data[i * 8u + k] = f.l[k];
    }
}

// Index of point e of group g in a pass over stages s .. s+k−1.
fn group_index(g: u32, e: u32) -> u32 {
    let lo = g & ((1u << np.s) - 1u);
    return ((g >> np.s) << (np.s + np.k)) + lo + (e << np.s);
}

@compute @workgroup_size(256)
fn ntt_pass(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = wid.x;
    let size = 1u << np.k;
    for (var e = lid; e < size; e = e + THREADS) {
        let i = group_index(g, e);
        if ((np.flags & 1u) != 0u) {
            let r = reverseBits(i) >> (32u - np.log_n);
            var x = ld_src(r);
            if ((np.flags & 2u) != 0u) {
                x = fr_mul(x, ld_pre(r));
            }
            sh[e] = x;
        } else {
            sh[e] = ld_data(i);
        }
    }
    workgroupBarrier();
    let lo = g & ((1u << np.s) - 1u);
    for (var t = 0u; t < np.k; t = t + 1u) {
        let lh = 1u << t;
        for (var b = lid; b < size / 2u; b = b + THREADS) {
            let jl = b & (lh - 1u);
            let i0 = ((b >> t) << (t + 1u)) + jl;
            // Global position within the half 2^(s+t), and its twiddle w^(j · n / 2^(s+t+1)).
            let j = (jl << np.s) + lo;
            let w = ld_tw(j << (np.log_n - np.s - t - 1u));
            let a = sh[i0];
            let x = fr_mul(sh[i0 + lh], w);
            sh[i0] = fr_add(a, x);
            sh[i0 + lh] = fr_sub(a, x);
        }
        workgroupBarrier();
    }
    for (var e = lid; e < size; e = e + THREADS) {
        let i = group_index(g, e);
        var x = sh[e];
        if ((np.flags & 4u) != 0u) {
            x = fr_mul(x, ld_post(i));
        }
        st(i, x);
    }
}
