// Host build of the CUDA field and Poseidon code (build.rs compiles it with the system C++
// compiler), so that tests compare it with arkworks without a GPU.
#include "poseidon.cuh"
#include "ntt.cuh"
#include "msm.cuh"
#include "msm_plan.cuh"

// Point operations: G1 when g2 == 0 (pointers to Jac<Fq>), else G2 (Jac<Fq2>); the affine
// operand of the mixed addition is given as (qx, qy) with an infinity flag.
template <typename F>
static void host_point_op(int op, const void* a, const void* b, const void* qx, const void* qy, int q_inf, void* out) {
    const Jac<F>* p = (const Jac<F>*)a;
    Jac<F>* o = (Jac<F>*)out;
    if (op == 0) *o = jac_add(*p, *(const Jac<F>*)b);
    if (op == 1) *o = jac_double(*p);
    if (op == 2) {
        Aff<F> q;
        q.x = *(const F*)qx;
        q.y = *(const F*)qy;
        q.infinity = q_inf != 0;
        *o = jac_add_mixed(*p, q);
    }
}
// The three MSM kernels in sequence, one "thread" at a time (partial: tasks, buckets: nbuckets
// scratch; out: total segment results), for G1 (g2 == 0) or G2.
template <typename F>
static void host_msm(const unsigned int* entries, const unsigned long long* task_offsets, unsigned int tasks,
                     const unsigned int* bucket_tasks, unsigned int nbuckets, const void* bases,
                     unsigned int buckets_per_window, unsigned int segments, unsigned int seg_len,
                     unsigned int total, void* partial_, void* buckets_, void* out_) {
    Jac<F>* partial = (Jac<F>*)partial_;
    Jac<F>* buckets = (Jac<F>*)buckets_;
    Jac<F>* out = (Jac<F>*)out_;
    for (unsigned int t = 0; t < tasks; t++) partial[t] = rst_msm_task(entries, task_offsets, (const F*)bases, t);
    for (unsigned int b = 0; b < nbuckets; b++) buckets[b] = rst_msm_bucket(partial, bucket_tasks, b);
    for (unsigned int g = 0; g < total; g++)
        out[g] = rst_msm_segment(buckets, buckets_per_window, segments, seg_len, g);
}
extern "C" {
void rst_host_fr_mul(const Fr* a, const Fr* b, Fr* out) { *out = fr_mul(*a, *b); }
void rst_host_fr_add(const Fr* a, const Fr* b, Fr* out) { *out = fr_add(*a, *b); }
void rst_host_fr_sub(const Fr* a, const Fr* b, Fr* out) { *out = fr_sub(*a, *b); }
// The NTT as the kernel runs it: per pass (first stage s[i], k[i] stages), per group a block
// whose threads run one after another. `data` receives the result; `src` is the input.
void rst_host_ntt(const Fr* src, Fr* data, const Fr* tw, const Fr* pre, const Fr* post, unsigned int log_n,
                  const unsigned int* pass_s, const unsigned int* pass_k, unsigned int passes) {
    Fr sh[1u << RST_NTT_MAX_K];  // 32 KiB on the calling thread's stack, like a block's shared memory
    for (unsigned int p = 0; p < passes; p++) {
        unsigned int s = pass_s[p], k = pass_k[p], size = 1u << k;
        unsigned int flags = (p == 0 ? RST_NTT_FIRST | (pre ? RST_NTT_PRE : 0u) : 0u) |
                             (p + 1 == passes && post ? RST_NTT_POST : 0u);
        for (unsigned int g = 0; g < (1u << log_n) >> k; g++) {
            for (unsigned int e = 0; e < size; e++) sh[e] = rst_ntt_load(src, data, pre, log_n, flags, g, s, k, e);
            for (unsigned int t = 0; t < k; t++)
                for (unsigned int b = 0; b < size / 2; b++) rst_ntt_butterfly(sh, tw, log_n, g, s, t, b);
            for (unsigned int e = 0; e < size; e++) rst_ntt_store(data, post, flags, g, s, k, e, sh[e]);
        }
    }
}
void rst_host_fq_mul(const Fq* a, const Fq* b, Fq* out) { *out = fq_mul(*a, *b); }
void rst_host_fq2_mul(const Fq2* a, const Fq2* b, Fq2* out) { *out = f_mul(*a, *b); }

void rst_host_point_op(int g2, int op, const void* a, const void* b, const void* qx, const void* qy, int q_inf,
                       void* out) {
    if (g2) host_point_op<Fq2>(op, a, b, qx, qy, q_inf, out);
    else host_point_op<Fq>(op, a, b, qx, qy, q_inf, out);
}

void rst_host_msm(int g2, const unsigned int* entries, const unsigned long long* task_offsets, unsigned int tasks,
                  const unsigned int* bucket_tasks, unsigned int nbuckets, const void* bases,
                  unsigned int buckets_per_window, unsigned int segments, unsigned int seg_len,
                  unsigned int total, void* partial, void* buckets, void* out) {
    if (g2)
        host_msm<Fq2>(entries, task_offsets, tasks, bucket_tasks, nbuckets, bases, buckets_per_window, segments,
                      seg_len, total, partial, buckets, out);
    else
        host_msm<Fq>(entries, task_offsets, tasks, bucket_tasks, nbuckets, bases, buckets_per_window, segments,
                     seg_len, total, partial, buckets, out);
}
// The plan kernels in sequence, one "thread" at a time (scan: one block of `threads`):
// counts (nbuckets, zeroed here), entry_start and bucket_tasks (nbuckets + 1), entries (at least
// the total), task_offsets (at least tasks + 1). Returns the number of tasks.
unsigned int rst_host_msm_plan(const unsigned long long* scalars, unsigned int n, unsigned int c,
                               unsigned int windows, unsigned int buckets, unsigned int threads,
                               unsigned int* counts, unsigned long long* entry_start,
                               unsigned int* bucket_tasks, unsigned long long* cursor, unsigned int* entries,
                               unsigned long long* task_offsets, unsigned long long* sums) {
    unsigned int nbuckets = windows * buckets;
    for (unsigned int b = 0; b < nbuckets; b++) counts[b] = 0;
    for (unsigned int i = 0; i < n; i++) rst_plan_count(scalars, c, windows, buckets, counts, i);
    for (unsigned int t = 0; t < threads; t++) rst_plan_scan_chunk(counts, nbuckets, threads, t, sums);
    for (unsigned int t = 0; t < threads; t++)
        rst_plan_scan_write(counts, nbuckets, threads, t, sums, entry_start, bucket_tasks);
    for (unsigned int b = 0; b <= nbuckets; b++) cursor[b] = entry_start[b];
    // Scalars in reverse, so the host build does not just reproduce the host plan's order.
    for (unsigned int i = n; i-- > 0;) rst_plan_scatter(scalars, c, windows, buckets, cursor, entries, i);
    for (unsigned int b = 0; b < nbuckets; b++) rst_plan_tasks(entry_start, bucket_tasks, nbuckets, task_offsets, b);
    return bucket_tasks[nbuckets];
}
void rst_host_poseidon(int t, const Fr* in, const Fr* k, int rp, Fr* out) {
    if (t == 3) *out = rst_poseidon_hash<3>(in, k, rp);
    if (t == 5) *out = rst_poseidon_hash<5>(in, k, rp);
}
}
