//! Operator admission policy in gluon (`config/policy.glu`): a sandboxed script decides, per
//! transfer, **accept**, **deprioritize** or **reject with a reason** from the transfer's fields
//! and its anomaly score. docs/policy.md describes the script interface.
//!
//! The script is an expression of type `Tx -> Decision`; the node wraps it in a fixed prelude
//! (the `Tx` record and the `Decision` type) and type-checks the whole at load, so a script with a
//! type error is refused before the node starts. Each call runs under three limits:
//! - **steps**: a VM hook counts line and call events; past `max_steps` the call fails;
//! - **wall clock**: the same hook checks a deadline (`max_millis`), and a watchdog thread
//!   interrupts the VM if a call outlives twice that (a builtin that never reaches a hook);
//! - **memory**: the VM's heap limit (`max_memory_kb`) makes allocations beyond it fail.
//!
//! A failing call (limit, runtime error) never stalls the node: it yields the configured
//! `on_error` decision (reject with the error as reason, or accept), counted by reason.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use gluon::vm::api::OwnedFunction;
use gluon::vm::thread::{HookFlags, ThreadInternal};
use gluon::{RootedThread, ThreadExt};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Lines the prelude adds before the script (error positions are shifted by this much).
const PRELUDE: &str = "type Decision = | Accept | Deprioritize | Reject String
type Tx = { from : Int, amount : Int, fee : Int, nonce_gap : Int, pending : Int, new_recipient : Bool, score : Float }
let policy : Tx -> Decision =
";

const EPILOGUE: &str = "
let decide from amount fee nonce_gap pending new_recipient score =
    match policy { from, amount, fee, nonce_gap, pending, new_recipient, score } with
    | Accept -> (0, \"\")
    | Deprioritize -> (1, \"\")
    | Reject reason -> (2, reason)
decide
";

/// What the policy sees of a transfer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyInput {
    /// Sender index.
    pub from: u64,
    /// Amount.
    pub amount: u64,
    /// Fee.
    pub fee: u64,
    /// Transfer nonce minus the sender's account nonce.
    pub nonce_gap: u64,
    /// The sender's transfers already pending.
    pub pending: u64,
    /// The transfer creates an account.
    pub new_recipient: bool,
    /// Anomaly score (docs/scoring.md; 0 when scoring is off).
    pub score: f32,
}

/// A decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", content = "reason", rename_all = "lowercase")]
pub enum Decision {
    /// Admit normally.
    Accept,
    /// Admit behind every normally admitted transfer.
    Deprioritize,
    /// Refuse, with a reason for the client.
    Reject(String),
}

/// What a failing call decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Reject, with the error as the reason (default: fail closed).
    #[default]
    Reject,
    /// Accept.
    Accept,
}

/// Limits of one call.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyLimits {
    /// VM hook events (lines and calls).
    pub max_steps: u64,
    /// Wall-clock milliseconds.
    pub max_millis: u64,
    /// Heap, KiB (on top of what the compiled script holds).
    pub max_memory_kb: u64,
    /// Decision on error.
    pub on_error: OnError,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        Self {
            max_steps: 100_000,
            max_millis: 20,
            max_memory_kb: 16 * 1024,
            on_error: OnError::Reject,
        }
    }
}

/// Policy errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The script file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Script file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Parse or type error (positions count from the script's first line).
    #[error("{path}: {message}")]
    Compile {
        /// Script file.
        path: String,
        /// Compiler message.
        message: String,
    },
    /// A call failed (limit reached or runtime error).
    #[error("policy call failed: {0}")]
    Call(String),
}

struct Guard {
    steps: AtomicU64,
    max_steps: AtomicU64,
    deadline: Mutex<Instant>,
    running: AtomicBool,
    /// The VM the watchdog interrupts (replaced when the VM is rebuilt).
    vm: Mutex<Option<RootedThread>>,
}

/// One watchdog thread per policy: while a call runs past twice its wall-clock limit (code that
/// never reaches a hook), it interrupts the VM. It polls at the limit's pace and exits with the
/// policy.
fn watchdog(guard: std::sync::Weak<Guard>, limit: Duration) {
    let _ = std::thread::Builder::new()
        .name("policy-watchdog".into())
        .spawn(move || {
            loop {
                std::thread::sleep(limit.max(Duration::from_millis(1)));
                let Some(g) = guard.upgrade() else { return };
                if !g.running.load(Ordering::Acquire) {
                    continue;
                }
                let deadline = *g.deadline.lock().unwrap_or_else(|e| e.into_inner());
                if Instant::now() > deadline + limit
                    && let Some(vm) = g.vm.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                {
                    vm.interrupt();
                }
            }
        });
}

type DecideFn = fn(i64, i64, i64, i64, i64, bool, f64) -> (i64, String);

struct Compiled {
    vm: RootedThread,
    decide: OwnedFunction<DecideFn>,
}

/// A loaded policy.
pub struct Policy {
    origin: String,
    source: String,
    inner: Mutex<Compiled>,
    guard: Arc<Guard>,
    limits: PolicyLimits,
    /// Calls that failed, by short reason (`steps`, `time`, `memory`, `error`).
    pub failures: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("limits", &self.limits)
            .finish()
    }
}

fn i(x: u64) -> i64 {
    x.min(i64::MAX as u64) as i64
}

impl Policy {
    /// Reads and compiles `path`.
    pub fn load(path: &std::path::Path, limits: PolicyLimits) -> Result<Self, PolicyError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: p.clone(),
            source,
        })?;
        Self::compile(&p, &text, limits)
    }

    /// Compiles a script; `origin` names it in errors.
    pub fn compile(origin: &str, script: &str, limits: PolicyLimits) -> Result<Self, PolicyError> {
        let guard = Arc::new(Guard {
            steps: AtomicU64::new(0),
            max_steps: AtomicU64::new(limits.max_steps),
            deadline: Mutex::new(Instant::now()),
            running: AtomicBool::new(false),
            vm: Mutex::new(None),
        });
        let inner = Self::build(origin, script, &limits, &guard)?;
        watchdog(
            Arc::downgrade(&guard),
            Duration::from_millis(limits.max_millis),
        );
        Ok(Self {
            origin: origin.to_string(),
            source: script.to_string(),
            inner: Mutex::new(inner),
            guard,
            limits,
            failures: Mutex::new(Default::default()),
        })
    }

    /// A VM with the compiled script, its hook and its memory limit.
    fn build(
        origin: &str,
        script: &str,
        limits: &PolicyLimits,
        guard: &Arc<Guard>,
    ) -> Result<Compiled, PolicyError> {
        let vm = gluon::new_vm();
        let indented: String = script.lines().map(|l| format!("    {l}\n")).collect();
        let program = format!("{PRELUDE}{indented}{EPILOGUE}");
        let (decide, _) = vm
            .run_expr::<OwnedFunction<DecideFn>>(origin, &program)
            .map_err(|e| PolicyError::Compile {
                path: origin.to_string(),
                message: e.to_string(),
            })?;
        {
            let g = guard.clone();
            let mut context = vm.context();
            context.set_hook(Some(Box::new(move |_, _| {
                let steps = g.steps.fetch_add(1, Ordering::Relaxed) + 1;
                if steps > g.max_steps.load(Ordering::Relaxed) {
                    return Poll::Ready(Err(gluon::vm::Error::Message(
                        "policy step limit reached".into(),
                    )));
                }
                if steps.is_multiple_of(64) {
                    let deadline = *g.deadline.lock().unwrap_or_else(|e| e.into_inner());
                    if Instant::now() > deadline {
                        return Poll::Ready(Err(gluon::vm::Error::Message(
                            "policy wall-clock limit reached".into(),
                        )));
                    }
                }
                Poll::Ready(Ok(()))
            })));
            context.set_hook_mask(HookFlags::LINE_FLAG | HookFlags::CALL_FLAG);
        }
        // The limit counts everything the VM holds: what the compiled script uses now, plus
        // the per-call budget.
        vm.set_memory_limit(vm.allocated_memory() + (limits.max_memory_kb as usize) * 1024);
        *guard.vm.lock().unwrap_or_else(|e| e.into_inner()) = Some(vm.clone());
        Ok(Compiled { vm, decide })
    }

    /// Type-checks a script without keeping it (`rustorium policy check`).
    pub fn check(origin: &str, script: &str) -> Result<(), PolicyError> {
        Self::compile(origin, script, PolicyLimits::default()).map(|_| ())
    }

    /// Runs the script on one transfer under the limits. Errors are returned (the caller applies
    /// `on_error`, see [`Policy::decide`]).
    pub fn try_decide(&self, tx: &PolicyInput) -> Result<Decision, PolicyError> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.guard.steps.store(0, Ordering::Relaxed);
        *self
            .guard
            .deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner()) =
            Instant::now() + Duration::from_millis(self.limits.max_millis);
        self.guard.running.store(true, Ordering::Release);
        let result = inner.decide.call(
            i(tx.from),
            i(tx.amount),
            i(tx.fee),
            i(tx.nonce_gap),
            i(tx.pending),
            tx.new_recipient,
            f64::from(tx.score),
        );
        self.guard.running.store(false, Ordering::Release);
        if result.is_err() || inner.vm.interrupted() {
            // A call cut short leaves the VM's stack (and an interrupt flag) behind: start a fresh
            // VM from the same script (tens of ms; failures are the exception, and the caller
            // already has its on_error decision).
            match Self::build(&self.origin, &self.source, &self.limits, &self.guard) {
                Ok(fresh) => *inner = fresh,
                Err(e) => tracing::error!(error = %e, "rebuilding the policy VM failed"),
            }
        }
        match result {
            Ok((0, _)) => Ok(Decision::Accept),
            Ok((1, _)) => Ok(Decision::Deprioritize),
            Ok((_, reason)) => Ok(Decision::Reject(reason)),
            Err(e) => Err(PolicyError::Call(e.to_string())),
        }
    }

    /// The decision, with a failing call turned into the configured `on_error` decision (and
    /// counted by kind).
    pub fn decide(&self, tx: &PolicyInput) -> Decision {
        match self.try_decide(tx) {
            Ok(d) => d,
            Err(e) => {
                let msg = e.to_string();
                let kind = if msg.contains("step limit") {
                    "steps"
                } else if msg.contains("wall-clock") || msg.contains("nterrupt") {
                    "time"
                } else if msg.to_lowercase().contains("memory") {
                    "memory"
                } else {
                    "error"
                };
                *self
                    .failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(kind)
                    .or_default() += 1;
                tracing::warn!(error = %msg, kind, "policy call failed");
                match self.limits.on_error {
                    OnError::Reject => Decision::Reject(format!("policy failed ({kind}): {msg}")),
                    OnError::Accept => Decision::Accept,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(amount: u64, score: f32) -> PolicyInput {
        PolicyInput {
            from: 1,
            amount,
            fee: 1,
            nonce_gap: 0,
            pending: 0,
            new_recipient: false,
            score,
        }
    }

    #[test]
    fn the_shipped_policy_rejects_by_score_and_deprioritizes_borderline() {
        let p = Policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/policy.glu"),
            PolicyLimits::default(),
        )
        .expect("shipped policy compiles");
        assert_eq!(p.decide(&tx(10, -0.2)), Decision::Accept);
        assert_eq!(p.decide(&tx(10, 0.05)), Decision::Deprioritize);
        assert_eq!(
            p.decide(&tx(10, 0.3)),
            Decision::Reject("anomaly score above 0.15".into())
        );
        let mut far = tx(10, -0.2);
        far.nonce_gap = 40;
        assert_eq!(
            p.decide(&far),
            Decision::Reject("nonce too far ahead".into())
        );
    }

    #[test]
    fn a_type_error_is_refused_at_load() {
        let e = Policy::check("bad.glu", "\\tx -> if tx.amount then Accept else Accept")
            .expect_err("Int is not Bool");
        assert!(matches!(e, PolicyError::Compile { .. }), "{e}");
        assert!(
            Policy::check("bad.glu", "\\tx -> 42").is_err(),
            "wrong result type"
        );
        assert!(
            Policy::check("bad.glu", "\\tx -> Reject").is_err(),
            "missing reason"
        );
        assert!(Policy::check("ok.glu", "\\tx -> Accept").is_ok());
    }

    const LOOP: &str = "\\tx ->\n    let spin n : Int -> Int = spin (n + 1)\n    if spin 0 == 0 then Accept else Accept";

    #[test]
    fn an_infinite_loop_is_stopped_by_the_step_limit() {
        let limits = PolicyLimits {
            max_steps: 10_000,
            max_millis: 60_000,
            ..PolicyLimits::default()
        };
        let p = Policy::compile("loop.glu", LOOP, limits).expect("compiles");
        let start = Instant::now();
        match p.decide(&tx(1, 0.0)) {
            Decision::Reject(r) => assert!(r.contains("steps"), "{r}"),
            d => panic!("{d:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(p.failures.lock().expect("lock").get("steps"), Some(&1));
    }

    #[test]
    fn an_infinite_loop_is_stopped_by_the_wall_clock_limit_and_the_policy_recovers() {
        let limits = PolicyLimits {
            max_steps: u64::MAX,
            max_millis: 50,
            on_error: OnError::Accept,
            ..PolicyLimits::default()
        };
        let script = "\\tx ->\n    let spin n : Int -> Int = spin (n + 1)\n    if tx.amount > 100 then (if spin 0 == 0 then Accept else Accept) else Reject \"small\"";
        let p = Policy::compile("loop.glu", script, limits).expect("compiles");
        let start = Instant::now();
        // on_error = accept: the loop is cut and the transfer accepted.
        assert_eq!(p.decide(&tx(1000, 0.0)), Decision::Accept);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(p.failures.lock().expect("lock").get("time"), Some(&1));
        // The next call runs normally.
        assert_eq!(
            p.try_decide(&tx(5, 0.0)).map_err(|e| e.to_string()),
            Ok(Decision::Reject("small".into()))
        );
    }

    #[test]
    fn a_memory_bomb_is_stopped_by_the_memory_limit() {
        let limits = PolicyLimits {
            max_steps: u64::MAX,
            max_millis: 60_000,
            max_memory_kb: 1024,
            ..PolicyLimits::default()
        };
        let script = "\\tx ->\n    let array = import! std.array\n    let grow xs : Array Int -> Array Int = grow (array.append xs xs)\n    if array.len (grow [1, 2, 3, 4]) > 0 then Accept else Accept";
        let p = Policy::compile("bomb.glu", script, limits).expect("compiles");
        let start = Instant::now();
        match p.decide(&tx(1, 0.0)) {
            Decision::Reject(r) => assert!(r.contains("memory"), "{r}"),
            d => panic!("{d:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
