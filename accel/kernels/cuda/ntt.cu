// The NTT pass kernel (see ntt.cuh): one block per group of 2^k points, any number of threads
// (each loads, butterflies and stores with a stride of blockDim.x). Launched with at most 256
// threads, the cap `__launch_bounds__` states.
#include "ntt.cuh"

extern "C" __global__ void __launch_bounds__(256)
    ntt_pass(const Fr* src, Fr* data, const Fr* tw, const Fr* pre, const Fr* post, unsigned int log_n,
             unsigned int s, unsigned int k, unsigned int flags) {
    __shared__ Fr sh[1u << RST_NTT_MAX_K];
    unsigned int g = blockIdx.x;
    unsigned int size = 1u << k;
    for (unsigned int e = threadIdx.x; e < size; e += blockDim.x)
        sh[e] = rst_ntt_load(src, data, pre, log_n, flags, g, s, k, e);
    __syncthreads();
    for (unsigned int t = 0; t < k; t++) {
        for (unsigned int b = threadIdx.x; b < size / 2; b += blockDim.x)
            rst_ntt_butterfly(sh, tw, log_n, g, s, t, b);
        __syncthreads();
    }
    for (unsigned int e = threadIdx.x; e < size; e += blockDim.x)
        rst_ntt_store(data, post, flags, g, s, k, e, sh[e]);
}
