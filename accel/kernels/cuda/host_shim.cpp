// Host build of the CUDA field and Poseidon code (build.rs compiles it with the system C++
// compiler), so that tests compare it with arkworks without a GPU.
#include "poseidon.cuh"
#include "ntt.cuh"
#include "msm.cuh"

extern "C" {
void rst_host_fr_mul(const Fr* a, const Fr* b, Fr* out) { *out = fr_mul(*a, *b); }
void rst_host_fr_add(const Fr* a, const Fr* b, Fr* out) { *out = fr_add(*a, *b); }
void rst_host_fr_sub(const Fr* a, const Fr* b, Fr* out) { *out = fr_sub(*a, *b); }
// The kernels' sequence, one "thread" at a time: pre-scale (if pre), bit reversal, stages,
// post-scale (if post).
void rst_host_ntt(Fr* data, const Fr* tw, const Fr* pre, const Fr* post, unsigned int n, unsigned int log_n) {
    if (pre) for (unsigned int i = 0; i < n; i++) rst_ntt_scale(data, pre, i);
    for (unsigned int i = 0; i < n; i++) rst_ntt_bitrev(data, log_n, i);
    for (unsigned int half = 1; half < n; half *= 2)
        for (unsigned int k = 0; k < n / 2; k++) rst_ntt_butterfly(data, tw, n, half, k);
    if (post) for (unsigned int i = 0; i < n; i++) rst_ntt_scale(data, post, i);
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
