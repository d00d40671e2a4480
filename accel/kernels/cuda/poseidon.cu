// Batch Poseidon and Merkle-level kernels. One thread per hash.
#include "poseidon.cuh"

// out[i] = Poseidon(in[i*(T-1) .. (i+1)*(T-1)]) for i < n, widths 3 (nodes) and 5 (leaves).
extern "C" __global__ void poseidon_t3(const Fr* in, Fr* out, const Fr* k, int rp, unsigned long long n) {
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = rst_poseidon_hash<3>(in + 2 * i, k, rp);
}

extern "C" __global__ void poseidon_t5(const Fr* in, Fr* out, const Fr* k, int rp, unsigned long long n) {
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = rst_poseidon_hash<5>(in + 4 * i, k, rp);
}
