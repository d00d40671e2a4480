//! The IO around the sans-IO [`Driver`]: one thread feeds it the validator transport's messages
//! (decoded here: what does not decode is dropped and counted) and the real clock, and hands
//! what it wants sent to the transport.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustorium_net::peer::{self, Inbound, P2p, PeerId};

use crate::codec::Wire;
use crate::driver::{Driver, EngineConfig, Host, Target};
use crate::types::{ValidatorId, ValidatorSet};

/// The longest the loop sleeps without looking at its host (a stop, a new committed height).
const MAX_WAIT: Duration = Duration::from_millis(50);

/// What the consensus thread needs besides its host.
pub struct Engine {
    /// Chain id.
    pub chain_id: u64,
    /// The validator set.
    pub validators: ValidatorSet,
    /// This validator.
    pub me: ValidatorId,
    /// Its key.
    pub key: ed25519_dalek::SigningKey,
    /// The transport.
    pub p2p: P2p,
    /// Driver settings.
    pub config: EngineConfig,
}

/// The transport's name for a driver's target.
pub fn peer_target(t: Target) -> peer::Target {
    match t {
        Target::All => peer::Target::All,
        Target::One(v) => peer::Target::One(PeerId(v.0)),
    }
}

impl Engine {
    /// Runs consensus for `host` until it drops, `stopping` says so, or the transport closes.
    pub fn run<H: Host>(
        self,
        host: Weak<H>,
        stopping: impl Fn(&H) -> bool,
        inbox: Receiver<Inbound>,
    ) {
        let Some(h) = host.upgrade() else {
            return;
        };
        let mut driver = Driver::new(
            &*h,
            Instant::now(),
            self.chain_id,
            self.validators,
            self.me,
            self.key,
            self.config,
        );
        drop(h);
        let p2p = self.p2p;
        let flush = |driver: &mut Driver| {
            while let Some(t) = driver.poll_transmit() {
                p2p.send(peer_target(t.to), t.bytes);
            }
        };
        let deliver = |driver: &mut Driver, h: &H, m: Inbound| match Wire::decode(&m.bytes) {
            Ok(msg) => driver.handle_message(h, Instant::now(), ValidatorId(m.from.0), msg),
            Err(e) => {
                p2p.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %m.from, error = %e, "malformed validator message dropped");
            }
        };
        loop {
            let Some(h) = host.upgrade() else {
                return;
            };
            if stopping(&h) {
                return;
            }
            driver.handle_timeout(&*h, Instant::now());
            flush(&mut driver);
            let wait = driver
                .poll_timeout()
                .saturating_duration_since(Instant::now())
                .min(MAX_WAIT);
            match inbox.recv_timeout(wait) {
                Ok(m) => {
                    deliver(&mut driver, &h, m);
                    while let Ok(m) = inbox.try_recv() {
                        deliver(&mut driver, &h, m);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            flush(&mut driver);
        }
    }
}
