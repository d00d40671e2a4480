// G2 MSM kernels, coordinates in Fq2 (see msm.cuh and src/accel/msm.rs): msm_accumulate_g2,
// msm_combine_g2, msm_reduce_g2. A file of its own, so its module compiles only where G2 runs.
#include "msm.cuh"

RST_MSM_KERNELS(_g2, Fq2)
