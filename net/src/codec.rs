//! The ingestion wire protocol, sans IO: frames and an incremental decoder. Sockets live in
//! `net::quic`; everything here is testable with byte slices.
//!
//! ```text
//! frame   = version (u8 = 1) || kind (u8) || length (u32 LE) || payload (length bytes)
//! kinds   0x01 SUBMIT   payload = a signed transfer (docs/protocol.md)
//!         0x02 RESULT   payload = status (u8: 0 accepted, 1 rejected) || tx id (32 B LE field
//!                       element: the transfer's message hash; zero if the transfer did not decode)
//!                       || reason (UTF-8, rest of the payload; empty when accepted)
//!         0x03 ERROR    payload = reason (UTF-8); the sender closes the stream after it
//! ```
//! A client opens a bidirectional stream, writes SUBMIT frames and reads one RESULT per SUBMIT, in
//! order. Payloads above the receiver's limit (`MAX_PAYLOAD`, 4 KiB) are refused before they are
//! buffered.

use thiserror::Error;

/// Protocol version.
pub const VERSION: u8 = 1;
/// Frame header length.
pub const HEADER: usize = 6;
/// Largest payload accepted.
pub const MAX_PAYLOAD: usize = 4096;

/// Frame kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A transfer to admit.
    Submit = 1,
    /// The answer to a SUBMIT.
    Result = 2,
    /// A protocol error; the stream ends.
    Error = 3,
}

/// A decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Kind.
    pub kind: Kind,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Protocol errors.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// Unknown protocol version.
    #[error("unsupported protocol version {0}")]
    Version(u8),
    /// Unknown frame kind.
    #[error("unknown frame kind {0}")]
    Kind(u8),
    /// The payload is larger than allowed.
    #[error("frame payload of {0} bytes exceeds the limit of {MAX_PAYLOAD}")]
    Oversized(usize),
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame")]
    Truncated,
    /// A RESULT payload is malformed.
    #[error("malformed result payload")]
    BadResult,
}

impl Frame {
    /// Encodes the frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.payload.len());
        out.push(VERSION);
        out.push(self.kind as u8);
        out.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Incremental decoder: feed bytes as they arrive, take whole frames out.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes needed before the next frame can complete (at least 1 when nothing is buffered).
    pub fn wanted(&self) -> usize {
        if self.buf.len() < HEADER {
            return HEADER - self.buf.len();
        }
        let len = u32::from_le_bytes(self.buf[2..6].try_into().expect("4 bytes")) as usize;
        (HEADER + len).saturating_sub(self.buf.len()).max(1)
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed, or an error as soon as the
    /// header shows the frame is unacceptable (before its payload is buffered).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CodecError> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        if self.buf[0] != VERSION {
            return Err(CodecError::Version(self.buf[0]));
        }
        let kind = match self.buf[1] {
            1 => Kind::Submit,
            2 => Kind::Result,
            3 => Kind::Error,
            k => return Err(CodecError::Kind(k)),
        };
        let len = u32::from_le_bytes(self.buf[2..6].try_into().expect("4 bytes")) as usize;
        if len > MAX_PAYLOAD {
            return Err(CodecError::Oversized(len));
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER..HEADER + len].to_vec();
        self.buf.drain(..HEADER + len);
        Ok(Some(Frame { kind, payload }))
    }

    /// Called at end of stream: an error if a partial frame is buffered.
    pub fn finish(&self) -> Result<(), CodecError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(CodecError::Truncated)
        }
    }
}

/// A RESULT payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitResult {
    /// Accepted into the mempool.
    pub accepted: bool,
    /// The transfer id (message hash, 32 bytes LE), zeros if it did not decode.
    pub tx_id: [u8; 32],
    /// Why it was rejected.
    pub reason: String,
}

impl SubmitResult {
    /// As a frame.
    pub fn to_frame(&self) -> Frame {
        let mut payload = vec![u8::from(!self.accepted)];
        payload.extend_from_slice(&self.tx_id);
        payload.extend_from_slice(self.reason.as_bytes());
        Frame {
            kind: Kind::Result,
            payload,
        }
    }

    /// From a RESULT payload.
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        if payload.len() < 33 || payload[0] > 1 {
            return Err(CodecError::BadResult);
        }
        Ok(Self {
            accepted: payload[0] == 0,
            tx_id: payload[1..33].try_into().expect("32 bytes"),
            reason: String::from_utf8(payload[33..].to_vec()).map_err(|_| CodecError::BadResult)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decode_byte_by_byte_and_in_bulk() {
        let a = Frame {
            kind: Kind::Submit,
            payload: vec![7; 100],
        };
        let b = SubmitResult {
            accepted: false,
            tx_id: [3; 32],
            reason: "bad nonce".into(),
        }
        .to_frame();
        let bytes = [a.encode(), b.encode()].concat();
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for byte in &bytes {
            d.push(std::slice::from_ref(byte));
            while let Some(f) = d.next_frame().expect("valid") {
                got.push(f);
            }
        }
        assert_eq!(got, vec![a.clone(), b.clone()]);
        d.finish().expect("nothing left");
        let mut d = Decoder::new();
        d.push(&bytes);
        assert_eq!(d.next_frame(), Ok(Some(a)));
        assert_eq!(d.next_frame(), Ok(Some(b.clone())));
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(
            SubmitResult::decode(&b.payload).expect("result").reason,
            "bad nonce"
        );
    }

    #[test]
    fn bad_frames_are_refused_early() {
        let mut d = Decoder::new();
        d.push(&[2, 1, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(CodecError::Version(2)));
        let mut d = Decoder::new();
        d.push(&[1, 9, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(CodecError::Kind(9)));
        let mut d = Decoder::new();
        d.push(&[1, 1]);
        d.push(&(u32::MAX).to_le_bytes());
        assert_eq!(
            d.next_frame(),
            Err(CodecError::Oversized(u32::MAX as usize))
        );
        let mut d = Decoder::new();
        d.push(&[1, 1, 10, 0, 0, 0, 1, 2]);
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.wanted(), 8);
        assert_eq!(d.finish(), Err(CodecError::Truncated));
        assert_eq!(SubmitResult::decode(&[0; 10]), Err(CodecError::BadResult));
        assert_eq!(SubmitResult::decode(&[5; 40]), Err(CodecError::BadResult));
    }
}
