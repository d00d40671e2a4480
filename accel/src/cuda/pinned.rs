//! Page-locked (pinned) host staging for transfers, one pool per device. A copy from pageable
//! memory goes through a driver bounce buffer and blocks the host; from pinned memory it is a
//! DMA the stream runs asynchronously, which is what lets a copy on one stream overlap a kernel on
//! another (the Poseidon hasher's chunk pipeline) and roughly doubles transfer bandwidth.
//!
//! Buffers are kept per exact length (a prover's transfers repeat: one NTT size, one MSM size per
//! key query, full hasher chunks), at most [`POOL_BYTES`] of free buffers in all. Reusing a buffer
//! waits on the event of its last copy (cudarc records one per use), so a buffer is never
//! overwritten while a copy still reads it.

#![allow(unsafe_code)] // page-locked allocation and uninitialised device buffers; see SAFETY.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaContext, CudaSlice, CudaStream, PinnedHostSlice};

use super::hasher::dev;
use crate::AccelError;

/// Free pinned bytes a pool keeps at most; larger transfers still use pinned memory, allocated
/// for the call and freed after it.
pub const POOL_BYTES: usize = 512 << 20;

/// Free bytes held, and the free buffers by length.
type Free = (usize, HashMap<usize, Vec<PinnedHostSlice<u64>>>);

/// A device's pool of pinned host buffers.
pub struct PinnedPool {
    ctx: Arc<CudaContext>,
    free: Mutex<Free>,
}

impl PinnedPool {
    /// An empty pool on `ctx`.
    pub fn new(ctx: Arc<CudaContext>) -> Self {
        Self {
            ctx,
            free: Mutex::new((0, HashMap::new())),
        }
    }

    /// A pinned buffer of exactly `len` limbs, from the pool or newly allocated.
    pub fn take(&self, len: usize) -> Result<PinnedHostSlice<u64>, AccelError> {
        {
            let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(b) = g.1.get_mut(&len).and_then(Vec::pop) {
                g.0 -= len * 8;
                return Ok(b);
            }
        }
        // SAFETY: the memory is uninitialised; every caller writes all `len` limbs (an upload
        // fills it, a download copies into it) before anything reads it.
        unsafe { self.ctx.alloc_pinned_with_flags::<u64>(len.max(1), 0) }.map_err(dev)
    }

    /// Returns a buffer to the pool (freed instead when the pool is full).
    pub fn give(&self, buf: PinnedHostSlice<u64>) {
        let bytes = buf.len() * 8;
        let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 + bytes <= POOL_BYTES {
            g.0 += bytes;
            g.1.entry(buf.len()).or_default().push(buf);
        }
    }

    /// Copies `data` into a new device buffer through a pinned buffer, queued on `stream`: the
    /// call returns once the copy is queued (the host copy into pinned memory is synchronous).
    pub fn upload(
        &self,
        stream: &Arc<CudaStream>,
        data: &[u64],
    ) -> Result<CudaSlice<u64>, AccelError> {
        if data.is_empty() {
            return stream.alloc_zeros::<u64>(1).map_err(dev);
        }
        let mut pinned = self.take(data.len())?;
        pinned.as_mut_slice().map_err(dev)?.copy_from_slice(data);
        // SAFETY: the buffer is fully overwritten by the copy queued right after, on the same
        // stream, before any kernel can read it.
        let mut d = unsafe { stream.alloc::<u64>(data.len()) }.map_err(dev)?;
        stream.memcpy_htod(&pinned, &mut d).map_err(dev)?;
        self.give(pinned);
        Ok(d)
    }

    /// Queues a copy of `src` into a pinned buffer on `stream`; [`Self::finish_download`] waits
    /// for it and returns the limbs.
    pub fn start_download(
        &self,
        stream: &Arc<CudaStream>,
        src: &CudaSlice<u64>,
    ) -> Result<PinnedHostSlice<u64>, AccelError> {
        let mut pinned = self.take(src.len())?;
        stream.memcpy_dtoh(src, &mut pinned).map_err(dev)?;
        Ok(pinned)
    }

    /// Waits for a download and returns its limbs (the buffer goes back to the pool).
    pub fn finish_download(&self, pinned: PinnedHostSlice<u64>) -> Result<Vec<u64>, AccelError> {
        let v = pinned.as_slice().map_err(dev)?.to_vec();
        self.give(pinned);
        Ok(v)
    }

    /// Copies `src` to the host through a pinned buffer and waits for it.
    pub fn download(
        &self,
        stream: &Arc<CudaStream>,
        src: &CudaSlice<u64>,
    ) -> Result<Vec<u64>, AccelError> {
        let p = self.start_download(stream, src)?;
        self.finish_download(p)
    }
}
