// G1 MSM kernels (see msm.cuh and src/accel/msm.rs): msm_accumulate, msm_combine, msm_reduce; and
// the plan kernels (msm_plan.cuh), which G2 uses too.
#include "msm.cuh"
#include "msm_plan.cuh"

RST_MSM_KERNELS(, Fq)

extern "C" __global__ void msm_plan_count(const unsigned long long* scalars, unsigned int n, unsigned int c,
                                          unsigned int windows, unsigned int buckets, unsigned int* counts) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) rst_plan_count(scalars, c, windows, buckets, counts, i);
}

// One block of at most 256 threads.
extern "C" __global__ void __launch_bounds__(256)
    msm_plan_scan(const unsigned int* counts, unsigned int nbuckets, unsigned long long* entry_start,
                  unsigned int* bucket_tasks) {
    __shared__ unsigned long long sums[2 * 256];
    rst_plan_scan_chunk(counts, nbuckets, blockDim.x, threadIdx.x, sums);
    __syncthreads();
    rst_plan_scan_write(counts, nbuckets, blockDim.x, threadIdx.x, sums, entry_start, bucket_tasks);
}

extern "C" __global__ void msm_plan_scatter(const unsigned long long* scalars, unsigned int n, unsigned int c,
                                            unsigned int windows, unsigned int buckets, unsigned long long* cursor,
                                            unsigned int* entries) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) rst_plan_scatter(scalars, c, windows, buckets, cursor, entries, i);
}

extern "C" __global__ void msm_plan_tasks(const unsigned long long* entry_start, const unsigned int* bucket_tasks,
                                          unsigned int nbuckets, unsigned long long* task_offsets) {
    unsigned int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b < nbuckets) rst_plan_tasks(entry_start, bucket_tasks, nbuckets, task_offsets, b);
}
