// G1 MSM kernels (see msm.cuh and src/accel/msm.rs): msm_accumulate, msm_combine, msm_reduce.
#include "msm.cuh"

RST_MSM_KERNELS(, Fq)
