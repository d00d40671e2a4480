// Radix-2 NTT over BN254 Fr (field arithmetic: field.wgsl, prepended by the host).
// The host runs: bitrev, then one `butterfly` dispatch per stage (half = 1, 2, 4, …, n/2), then
// optionally `scale` (pointwise multiplication by a factor array: coset powers, 1/n).

struct NttParams {
    n: u32,
    log_n: u32,
    half: u32,   // butterfly span of this stage
    _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> data: array<u32>;
@group(0) @binding(1) var<storage, read> tw: array<u32>;   // twiddles w^i, i < n/2 (or factors for `scale`)
@group(0) @binding(2) var<uniform> np: NttParams;

fn ld(buf_index: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = data[buf_index * 8u + k];
    }
    return f;
}

fn st(buf_index: u32, f: Fr) {
    for (var k = 0u; k < 8u; k = k + 1u) {
        data[buf_index * 8u + k] = f.l[k];
    }
}

fn tw_at(i: u32) -> Fr {
    var f: Fr;
    for (var k = 0u; k < 8u; k = k + 1u) {
        f.l[k] = tw[i * 8u + k];
    }
    return f;
}

@compute @workgroup_size(64)
fn bitrev(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= np.n) {
        return;
    }
    let r = reverseBits(i) >> (32u - np.log_n);
    if (i < r) {
        let a = ld(i);
        let b = ld(r);
        st(i, b);
        st(r, a);
    }
}

@compute @workgroup_size(64)
fn butterfly(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    if (k >= np.n / 2u) {
        return;
    }
    let half = np.half;
    let j = k % half;
    let i0 = (k / half) * 2u * half + j;
    let i1 = i0 + half;
    // Twiddle w_{2·half}^j = w_n^{j·n/(2·half)}.
    let w = tw_at(j * (np.n / (2u * half)));
    let a = ld(i0);
    let b = fr_mul(ld(i1), w);
    st(i0, fr_add(a, b));
    st(i1, fr_sub(a, b));
}

@compute @workgroup_size(64)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= np.n) {
        return;
    }
    st(i, fr_mul(ld(i), tw_at(i)));
}
