// Host build of the CUDA field and Poseidon code (build.rs compiles it with the system C++
// compiler), so that tests compare it with arkworks without a GPU.
#include "poseidon.cuh"
#include "ntt.cuh"
#include "msm.cuh"

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
void rst_host_g1_add(const G1J* a, const G1J* b, G1J* out) { *out = g1_add(*a, *b); }
void rst_host_g1_double(const G1J* a, G1J* out) { *out = g1_double(*a); }
void rst_host_g1_add_mixed(const G1J* a, const Fq* qx, const Fq* qy, int q_infinity, G1J* out) {
    G1A q;
    q.x = *qx;
    q.y = *qy;
    q.infinity = q_infinity != 0;
    *out = g1_add_mixed(*a, q);
}
// The three MSM kernels in sequence, one "thread" at a time (partial: tasks, buckets: nbuckets
// scratch; out: total segment results).
void rst_host_msm(const unsigned int* entries, const unsigned int* task_offsets, unsigned int tasks,
                  const unsigned int* bucket_tasks, unsigned int nbuckets, const Fq* bases,
                  unsigned int buckets_per_window, unsigned int segments, unsigned int seg_len,
                  unsigned int total, G1J* partial, G1J* buckets, G1J* out) {
    for (unsigned int t = 0; t < tasks; t++) partial[t] = rst_msm_task(entries, task_offsets, bases, t);
    for (unsigned int b = 0; b < nbuckets; b++) buckets[b] = rst_msm_bucket(partial, bucket_tasks, b);
    for (unsigned int g = 0; g < total; g++)
        out[g] = rst_msm_segment(buckets, buckets_per_window, segments, seg_len, g);
}
void rst_host_poseidon(int t, const Fr* in, const Fr* k, int rp, Fr* out) {
    if (t == 3) *out = rst_poseidon_hash<3>(in, k, rp);
    if (t == 5) *out = rst_poseidon_hash<5>(in, k, rp);
}
}
