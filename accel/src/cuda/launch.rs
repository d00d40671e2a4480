//! Launch geometry from the compiled kernel, not a constant: a kernel's threads per block are
//! what its loaded function allows (the driver's `CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK`, which
//! accounts for its registers), at most [`BLOCK_CAP`], a whole number of warps. The same rule is
//! checked without a GPU against ptxas's register report of every kernel (`nvrtc` tests).

/// The most threads per block we launch with: enough warps to hide latency, small enough that a
/// register-heavy kernel still fits and several blocks share an SM.
pub const BLOCK_CAP: u32 = 256;
/// Registers per SM (and so per block at most) on every architecture we compile for (sm_75 to
/// sm_100).
pub const REGISTERS_PER_BLOCK: u32 = 65_536;
/// Register allocation unit per warp.
const REGISTER_UNIT: u32 = 256;

/// Threads per block for a kernel whose function allows at most `max_threads` (the driver's
/// attribute), launched over `n` work items: a multiple of 32, at most [`BLOCK_CAP`], no larger
/// than the work needs.
pub fn block_size(max_threads: u32, n: u32) -> u32 {
    let warps_allowed = (max_threads.min(BLOCK_CAP) / 32).max(1);
    let warps_needed = n.div_ceil(32).max(1);
    32 * warps_allowed.min(warps_needed)
}

/// The threads per block a kernel using `registers` registers per thread can launch with: what
/// the driver reports as its maximum (registers are allocated per warp in units of 256; a block
/// may use the SM's 65,536), at most 1024.
pub fn max_threads_for_registers(registers: u32) -> u32 {
    let per_warp = (registers.max(1) * 32).div_ceil(REGISTER_UNIT) * REGISTER_UNIT;
    (REGISTERS_PER_BLOCK / per_warp * 32).min(1024)
}

/// Registers a block of `threads` threads of a kernel using `registers` per thread takes.
pub fn block_registers(registers: u32, threads: u32) -> u32 {
    (registers.max(1) * 32).div_ceil(REGISTER_UNIT) * REGISTER_UNIT * threads.div_ceil(32)
}

#[cfg(feature = "cuda")]
pub use device::{EndedSpan, Kernel, KernelSpan};

#[cfg(feature = "cuda")]
mod device {
    use std::sync::Arc;

    use cudarc::driver::sys::{CUevent_flags, CUfunction_attribute_enum};
    use cudarc::driver::{CudaEvent, CudaFunction, CudaModule, CudaStream, LaunchConfig};

    use super::block_size;
    use crate::{AccelError, KernelClock};

    /// The device time of the kernels a call enqueues on its stream between [`KernelSpan::start`]
    /// and [`KernelSpan::finish`], measured with two timing events.
    pub struct KernelSpan(CudaEvent);

    fn event_error(e: cudarc::driver::DriverError) -> AccelError {
        AccelError::Device {
            backend: "cuda",
            message: format!("timing event: {e:?}"),
        }
    }

    impl KernelSpan {
        /// Records the start event on `stream` (before the call's first kernel).
        pub fn start(stream: &CudaStream) -> Result<Self, AccelError> {
            stream
                .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
                .map(Self)
                .map_err(event_error)
        }

        /// Records the end event (after the call's last kernel), waits for it and adds the span
        /// to `clock`.
        pub fn finish(self, stream: &CudaStream, clock: &KernelClock) -> Result<(), AccelError> {
            self.end(stream)?.add_to(clock)
        }

        /// Records the end event without waiting (a pipeline reads it later).
        pub fn end(self, stream: &CudaStream) -> Result<EndedSpan, AccelError> {
            let end = stream
                .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(event_error)?;
            Ok(EndedSpan(self.0, end))
        }
    }

    /// A span whose end is recorded: [`EndedSpan::add_to`] waits for it.
    pub struct EndedSpan(CudaEvent, CudaEvent);

    impl EndedSpan {
        /// Waits for the end event and adds the span to `clock`.
        pub fn add_to(self, clock: &KernelClock) -> Result<(), AccelError> {
            let ms = self.0.elapsed_ms(&self.1).map_err(event_error)?;
            clock.add_ms(f64::from(ms));
            Ok(())
        }
    }

    /// A loaded kernel with the most threads per block its function allows.
    pub struct Kernel {
        /// The function.
        pub func: CudaFunction,
        max_threads: u32,
    }

    impl Kernel {
        /// Loads `name` from `module` and reads its limit from the driver.
        pub fn load(module: &Arc<CudaModule>, name: &str) -> Result<Self, AccelError> {
            let dev = |e: cudarc::driver::DriverError| AccelError::Device {
                backend: "cuda",
                message: format!("{name}: {e:?}"),
            };
            let func = module.load_function(name).map_err(dev)?;
            let max = func
                .get_attribute(CUfunction_attribute_enum::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
                .map_err(dev)?;
            Ok(Self {
                func,
                max_threads: u32::try_from(max).unwrap_or(32).max(32),
            })
        }

        /// The launch over `n` work items (one thread each): [`block_size`] threads per block.
        pub fn config(&self, n: u32) -> LaunchConfig {
            let block = block_size(self.max_threads, n);
            LaunchConfig {
                grid_dim: (n.div_ceil(block).max(1), 1, 1),
                block_dim: (block, 1, 1),
                shared_mem_bytes: 0,
            }
        }

        /// The launch of `blocks` blocks whose work is `per_block` items each (a kernel that
        /// strides its threads over them): [`block_size`] threads per block.
        pub fn config_blocks(&self, blocks: u32, per_block: u32) -> LaunchConfig {
            LaunchConfig {
                grid_dim: (blocks.max(1), 1, 1),
                block_dim: (block_size(self.max_threads, per_block), 1, 1),
                shared_mem_bytes: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule against the hardware's arithmetic: a 64-register kernel can use 1024 threads, a
    /// 78-register one (today's Poseidon t3) at most 800, a 254-register one 256; blocks are
    /// whole warps, never above the cap or the work.
    #[test]
    fn blocks_fit_the_register_file_and_the_work() {
        assert_eq!(max_threads_for_registers(64), 1024);
        assert_eq!(max_threads_for_registers(78), 800);
        assert_eq!(max_threads_for_registers(128), 512);
        assert_eq!(max_threads_for_registers(254), 256);
        assert_eq!(block_size(1024, 1 << 20), BLOCK_CAP);
        assert_eq!(block_size(96, 1 << 20), 96);
        assert_eq!(block_size(1024, 40), 64);
        assert_eq!(block_size(1024, 0), 32);
        for regs in 1..=255 {
            let t = block_size(max_threads_for_registers(regs), 1 << 24);
            assert!(t.is_multiple_of(32) && t <= BLOCK_CAP);
            assert!(
                block_registers(regs, t) <= REGISTERS_PER_BLOCK,
                "{regs} registers"
            );
        }
        // What the code did before: 1024 threads whatever the kernel.
        assert!(block_registers(78, 1024) > REGISTERS_PER_BLOCK);
    }
}
