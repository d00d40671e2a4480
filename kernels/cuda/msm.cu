// G1 kernels for the MSM (work in progress: the bucket accumulation comes next). For now: a batch
// of independent Jacobian additions, the building block of bucket reduction.
#include "g1.cuh"

extern "C" __global__ void g1_add_batch(const G1J* a, const G1J* b, G1J* out, unsigned int n) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = g1_add(a[i], b[i]);
}
