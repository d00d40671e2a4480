// NTT kernels (see ntt.cuh for the sequence the host runs).
#include "ntt.cuh"

extern "C" __global__ void ntt_bitrev(Fr* data, unsigned int n, unsigned int log_n) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) rst_ntt_bitrev(data, log_n, i);
}

extern "C" __global__ void ntt_butterfly(Fr* data, const Fr* tw, unsigned int n, unsigned int half) {
    unsigned int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n / 2) rst_ntt_butterfly(data, tw, n, half, k);
}

extern "C" __global__ void ntt_scale(Fr* data, const Fr* factors, unsigned int n) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) rst_ntt_scale(data, factors, i);
}
