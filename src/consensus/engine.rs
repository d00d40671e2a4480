//! The IO around the sans-IO [`Driver`]: one thread feeds it the transport's messages and the
//! real clock, and hands what it wants sent to the transport.

use std::sync::Weak;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::driver::{Driver, EngineConfig, Host};
use super::p2p::{Inbound, P2p};
use super::types::{ValidatorId, ValidatorSet};

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
        loop {
            let Some(h) = host.upgrade() else {
                return;
            };
            if stopping(&h) {
                return;
            }
            driver.handle_timeout(&*h, Instant::now());
            while let Some(t) = driver.poll_transmit() {
                self.p2p.send_raw(t.to, t.bytes);
            }
            let now = Instant::now();
            let wait = driver
                .poll_timeout()
                .saturating_duration_since(now)
                .min(MAX_WAIT);
            match inbox.recv_timeout(wait) {
                Ok(m) => {
                    driver.handle_message(&*h, Instant::now(), m.from, m.msg);
                    while let Ok(m) = inbox.try_recv() {
                        driver.handle_message(&*h, Instant::now(), m.from, m.msg);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Some(t) = driver.poll_transmit() {
                self.p2p.send_raw(t.to, t.bytes);
            }
        }
    }
}
