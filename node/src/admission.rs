//! Admission beyond the state checks: the transfer's anomaly score (ONNX model, micro-batched)
//! and the operator's policy script decide accept, deprioritize or reject.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use serde::Deserialize;

use crate::policy::{Decision, OnError, Policy, PolicyError, PolicyInput, PolicyLimits};
use crate::scoring::{FEATURES, RawFeatures, Scorer, ScoringError, discover_runtime, features};

/// `[scoring]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringSection {
    /// Score incoming transfers.
    pub enabled: bool,
    /// The ONNX model; unset: the built-in model (`builtin::SCORING_MODEL`).
    pub model: Option<PathBuf>,
    /// `libonnxruntime.so`; unset: `$ORT_DYLIB_PATH`, then the project venv.
    pub runtime: Option<PathBuf>,
    /// Refuse to start without a working model (false: run unscored, logged, `/readyz`, metric).
    pub required: bool,
    /// Use ONNX Runtime's CUDA execution provider (registration fails loudly; the CPU stand-in
    /// is logged and counted).
    pub cuda: bool,
    /// Transfers scored in one inference at most.
    pub max_batch: usize,
}

impl Default for ScoringSection {
    fn default() -> Self {
        Self {
            enabled: false,
            model: None,
            runtime: None,
            required: true,
            cuda: false,
            max_batch: 256,
        }
    }
}

/// `[policy]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySection {
    /// The gluon script (unset: no policy).
    pub script: Option<PathBuf>,
    /// Hook events per call.
    pub max_steps: Option<u64>,
    /// Wall-clock milliseconds per call.
    pub max_millis: Option<u64>,
    /// Heap KiB per call.
    pub max_memory_kb: Option<u64>,
    /// `reject` (default) or `accept` when a call fails.
    pub on_error: Option<OnError>,
}

/// Why scoring and policy could not be loaded, or a transfer could not be scored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The built-in scoring model could not be written to the data directory.
    #[error("[scoring] writing the built-in model to {dir}: {source}")]
    BuiltinModel {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Scoring is required and could not be started.
    #[error("[scoring] {0} (set required = false to run unscored)")]
    ScoringRequired(ScoringError),
    /// The policy script could not be loaded.
    #[error("[policy] {0}")]
    Policy(#[from] PolicyError),
    /// The scoring worker thread is gone.
    #[error("scoring worker stopped")]
    WorkerStopped,
    /// The batch this transfer was scored in failed (the error is shared by the batch).
    #[error("{0}")]
    Batch(Arc<ScoringError>),
}

type Request = (
    [f32; FEATURES],
    mpsc::Sender<Result<f32, Arc<ScoringError>>>,
);

/// The scoring worker: requests queued while a batch runs form the next batch.
struct ScoringService {
    tx: mpsc::Sender<Request>,
}

impl ScoringService {
    fn start(scorer: Scorer, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("scoring".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < max_batch.max(1) {
                        match rx.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                    let rows: Vec<[f32; FEATURES]> = batch.iter().map(|(r, _)| *r).collect();
                    match scorer.score_batch(&rows) {
                        Ok(scores) => {
                            for ((_, reply), s) in batch.into_iter().zip(scores) {
                                let _ = reply.send(Ok(s));
                            }
                        }
                        Err(e) => {
                            let e = Arc::new(e);
                            for (_, reply) in batch {
                                let _ = reply.send(Err(e.clone()));
                            }
                        }
                    }
                }
            })
            .ok();
        Self { tx }
    }

    fn score(&self, row: [f32; FEATURES]) -> Result<f32, AdmissionError> {
        let (reply, rx) = mpsc::channel();
        self.tx
            .send((row, reply))
            .map_err(|_| AdmissionError::WorkerStopped)?;
        rx.recv()
            .map_err(|_| AdmissionError::WorkerStopped)?
            .map_err(AdmissionError::Batch)
    }
}

/// Scoring and policy, as the node runs them.
pub struct Admission {
    scorer: Option<ScoringService>,
    policy: Option<Policy>,
    /// `on (cpu)`, `on (cuda)`, `off` or `off: <why>`.
    pub scoring_status: String,
    /// The policy script in use, if any.
    pub policy_script: Option<String>,
    /// Inference errors (the transfer is then judged with score 0).
    pub scoring_errors: AtomicU64,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("scoring", &self.scoring_status)
            .field("policy", &self.policy_script)
            .finish()
    }
}

impl Admission {
    /// Nothing: every transfer passing the state checks is accepted.
    pub fn none() -> Self {
        Self {
            scorer: None,
            policy: None,
            scoring_status: "off".into(),
            policy_script: None,
            scoring_errors: AtomicU64::new(0),
        }
    }

    /// Loads what the config asks for; errors are messages for the operator.
    pub fn load(
        scoring: &ScoringSection,
        policy: &PolicySection,
        cuda_fallbacks: &AtomicU64,
        builtin_dir: &Path,
    ) -> Result<Self, AdmissionError> {
        let mut a = Self::none();
        if scoring.enabled {
            let model = match &scoring.model {
                Some(m) => m.clone(),
                None => crate::builtin::materialize(
                    builtin_dir,
                    crate::builtin::SCORING_MODEL_FILE,
                    crate::builtin::SCORING_MODEL,
                )
                .map_err(|source| AdmissionError::BuiltinModel {
                    dir: builtin_dir.to_path_buf(),
                    source,
                })?,
            };
            let loaded = discover_runtime(scoring.runtime.as_deref())
                .ok_or_else(|| {
                    ScoringError::Runtime("library not found: set [scoring] runtime, $ORT_DYLIB_PATH, or install the project venv (scripts/setup.sh)".to_string())
                })
                .and_then(|rt| Scorer::load(&rt, &model, scoring.cuda, cuda_fallbacks));
            match loaded {
                Ok(s) => {
                    a.scoring_status = format!("on ({})", s.backend);
                    tracing::info!(backend = s.backend, model = %model.display(), "transaction scoring on");
                    a.scorer = Some(ScoringService::start(s, scoring.max_batch));
                }
                Err(e) if scoring.required => return Err(AdmissionError::ScoringRequired(e)),
                Err(e) => {
                    tracing::warn!(error = %e, "transaction scoring OFF: running unscored (required = false)");
                    a.scoring_status = format!("off: {e}");
                }
            }
        }
        if let Some(path) = &policy.script {
            let d = PolicyLimits::default();
            let limits = PolicyLimits {
                max_steps: policy.max_steps.unwrap_or(d.max_steps),
                max_millis: policy.max_millis.unwrap_or(d.max_millis),
                max_memory_kb: policy.max_memory_kb.unwrap_or(d.max_memory_kb),
                on_error: policy.on_error.unwrap_or(d.on_error),
            };
            a.policy = Some(Policy::load(path, limits)?);
            a.policy_script = Some(path.display().to_string());
        }
        Ok(a)
    }

    /// Whether scoring runs.
    pub fn scoring_on(&self) -> bool {
        self.scorer.is_some()
    }

    /// Scores (when on) and decides (when a policy is loaded). Returns the score used.
    pub fn judge(&self, raw: &RawFeatures, from: u64) -> (Option<f32>, Decision) {
        let score = self.scorer.as_ref().map(|s| match s.score(features(raw)) {
            Ok(v) => v,
            Err(e) => {
                self.scoring_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "scoring failed; judging with score 0");
                0.0
            }
        });
        let decision = match &self.policy {
            Some(p) => p.decide(&PolicyInput {
                from,
                amount: raw.amount,
                fee: raw.fee,
                nonce_gap: raw.nonce_gap,
                pending: raw.pending,
                new_recipient: raw.new_recipient,
                score: score.unwrap_or(0.0),
            }),
            None => Decision::Accept,
        };
        (score, decision)
    }
}

/// Resolves a config-relative path.
pub(super) fn rebase(base: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = base.join(&*p);
    }
}
