// The MSM plan built on the device: the CUDA kernels of kernels/cuda/msm_plan.cuh in WGSL (the
// comments there explain the counting sort). u32 offsets: a wgpu plan never passes 2^32 entries
// (the entries buffer must fit one storage binding). Scalars are canonical, 8 u32 words each.

struct PlanParams {
    count: u32,     // threads of this dispatch
    offset: u32,    // index of its first thread
    n: u32,         // scalars
    c: u32,         // window size
    windows: u32,
    buckets: u32,   // per window, 2^(c−1)
    nbuckets: u32,  // windows · buckets
    _p0: u32,
}

@group(0) @binding(0) var<storage, read> scalars: array<u32>;
@group(0) @binding(1) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> entry_start: array<u32>;
@group(0) @binding(3) var<storage, read_write> bucket_tasks: array<u32>;
@group(0) @binding(4) var<storage, read_write> cursor: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> entries: array<u32>;
@group(0) @binding(6) var<storage, read_write> task_offsets: array<u32>;
@group(0) @binding(7) var<uniform> pp: PlanParams;

const SCAN_THREADS: u32 = 256u;
var<workgroup> sums: array<u32, 512>;

// Digit w (in window order) of scalar i: the c bits at w·c plus the carry, made signed.
struct Digit { d: i32, carry: u32 }

fn digit(i: u32, w: u32, carry: u32) -> Digit {
    let start = w * pp.c;
    let idx = start / 32u;
    let off = start % 32u;
    var bits = 0u;
    if (idx < 8u) {
        bits = scalars[i * 8u + idx] >> off;
    }
    if (off + pp.c > 32u && idx + 1u < 8u) {
        bits = bits | (scalars[i * 8u + idx + 1u] << (32u - off));
    }
    let v = (bits & ((1u << pp.c) - 1u)) + carry;
    let half = 1u << (pp.c - 1u);
    if (v > half) {
        return Digit(i32(v) - i32(1u << pp.c), 1u);
    }
    return Digit(i32(v), 0u);
}

fn bucket_of(w: u32, d: i32) -> u32 {
    return w * pp.buckets + u32(abs(d)) - 1u;
}

// ⌊√m⌋ exactly, and the host's task length max(32, ⌊√m⌋).
fn task_len(m: u32) -> u32 {
    var r = u32(sqrt(f32(m)));
    while (r > 0u && r > m / r) {
        r = r - 1u;
    }
    while (r + 1u <= m / (r + 1u)) {
        r = r + 1u;
    }
    return max(r, 32u);
}

fn task_count(m: u32) -> u32 {
    let t = task_len(m);
    return (m + t - 1u) / t;
}

@compute @workgroup_size(64)
fn plan_count(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= pp.count) {
        return;
    }
    let i = pp.offset + gid.x;
    var carry = 0u;
    for (var w = 0u; w < pp.windows; w = w + 1u) {
        let dg = digit(i, w, carry);
        carry = dg.carry;
        if (dg.d != 0) {
            atomicAdd(&counts[bucket_of(w, dg.d)], 1u);
        }
    }
}

// One workgroup: exclusive prefix sums of the bucket sizes and of their task counts.
@compute @workgroup_size(256)
fn plan_scan(@builtin(local_invocation_index) tid: u32) {
    let per = (pp.nbuckets + SCAN_THREADS - 1u) / SCAN_THREADS;
    let lo = min(tid * per, pp.nbuckets);
    let hi = min(lo + per, pp.nbuckets);
    var e = 0u;
    var t = 0u;
    for (var b = lo; b < hi; b = b + 1u) {
        let m = atomicLoad(&counts[b]);
        e = e + m;
        t = t + task_count(m);
    }
    sums[2u * tid] = e;
    sums[2u * tid + 1u] = t;
    workgroupBarrier();
    e = 0u;
    t = 0u;
    for (var j = 0u; j < tid; j = j + 1u) {
        e = e + sums[2u * j];
        t = t + sums[2u * j + 1u];
    }
    for (var b = lo; b < hi; b = b + 1u) {
        let m = atomicLoad(&counts[b]);
        entry_start[b] = e;
        bucket_tasks[b] = t;
        e = e + m;
        t = t + task_count(m);
    }
    if (tid == SCAN_THREADS - 1u) {
        entry_start[pp.nbuckets] = e;
        bucket_tasks[pp.nbuckets] = t;
    }
}

// `cursor` starts as a copy of entry_start.
@compute @workgroup_size(64)
fn plan_scatter(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= pp.count) {
        return;
    }
    let i = pp.offset + gid.x;
    var carry = 0u;
    for (var w = 0u; w < pp.windows; w = w + 1u) {
        let dg = digit(i, w, carry);
        carry = dg.carry;
        if (dg.d != 0) {
            let at = atomicAdd(&cursor[bucket_of(w, dg.d)], 1u);
            entries[at] = i | select(0u, 0x80000000u, dg.d < 0);
        }
    }
}

@compute @workgroup_size(64)
fn plan_tasks(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= pp.count) {
        return;
    }
    let b = pp.offset + gid.x;
    let m = entry_start[b + 1u] - entry_start[b];
    let len = task_len(m);
    let first = bucket_tasks[b];
    for (var j = 0u; first + j < bucket_tasks[b + 1u]; j = j + 1u) {
        task_offsets[first + j] = entry_start[b] + j * len;
    }
    if (b == pp.nbuckets - 1u) {
        task_offsets[bucket_tasks[pp.nbuckets]] = entry_start[pp.nbuckets];
    }
}
