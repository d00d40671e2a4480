// MSM kernels (see msm.cuh and src/accel/msm.rs): one thread per task, bucket or segment.
#include "msm.cuh"

extern "C" __global__ void msm_accumulate(const unsigned int* entries, const unsigned int* task_offsets,
                                          const Fq* bases, G1J* partial, unsigned int tasks) {
    unsigned int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < tasks) partial[t] = rst_msm_task(entries, task_offsets, bases, t);
}

extern "C" __global__ void msm_combine(const G1J* partial, const unsigned int* bucket_tasks, G1J* buckets,
                                       unsigned int nbuckets) {
    unsigned int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b < nbuckets) buckets[b] = rst_msm_bucket(partial, bucket_tasks, b);
}

extern "C" __global__ void msm_reduce(const G1J* buckets, G1J* out, unsigned int buckets_per_window,
                                      unsigned int segments, unsigned int seg_len, unsigned int total) {
    unsigned int g = blockIdx.x * blockDim.x + threadIdx.x;
    if (g < total) out[g] = rst_msm_segment(buckets, buckets_per_window, segments, seg_len, g);
}
