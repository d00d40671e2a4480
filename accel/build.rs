//! Compiles the CUDA field and Poseidon code of `kernels/cuda` as host C++ (no GPU, no CUDA
//! toolkit needed), so tests compare it with arkworks on every machine.

fn main() {
    println!("cargo:rerun-if-changed=kernels/cuda");
    cc::Build::new()
        .cpp(true)
        .file("kernels/cuda/host_shim.cpp")
        .include("kernels/cuda")
        .flag_if_supported("-std=c++17")
        .opt_level(2)
        .warnings(true)
        .compile("rustorium_cuda_host");
}
