//! Anomaly scoring of incoming transfers with an ONNX model (`config/models/scoring.onnx`, made by
//! `scripts/train_scoring_model.py`) on ONNX Runtime through `ort`, loaded at run time
//! (`load-dynamic`: the project venv's onnxruntime 1.31.1, or a path in the config).
//!
//! Score = −(the model's `scores` output) = −`decision_function`: higher is more anomalous, above 0
//! is the model's outlier side. Batched: one `run` for many transfers.
//!
//! The CUDA execution provider is used when the profile asks for it; its registration is built to
//! fail loudly (`error_on_failure`), so a missing CUDA build or device is an error we catch, log,
//! count (`rustorium_scoring_fallbacks_total`) and answer with an explicit CPU session.

pub mod features;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

pub use features::{FEATURES, RawFeatures, features};

/// Scoring errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ScoringError {
    /// The ONNX Runtime library could not be found or loaded.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The model could not be loaded or has an unexpected signature.
    #[error("model {path}: {message}")]
    Model {
        /// Model file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Inference failed.
    #[error("inference: {0}")]
    Inference(String),
}

/// ONNX Runtime is loaded once per process (ort's dynamic loading is process-wide); a failed
/// attempt is not cached, so a later call with a correct path still works.
static ENV: Mutex<Option<&'static ort::environment::Environment>> = Mutex::new(None);

/// Finds `libonnxruntime.so*`: `explicit`, then `$ORT_DYLIB_PATH`, then the project venv
/// (`.venv/lib/python3*/site-packages/onnxruntime/capi/`) under the current directory or the
/// directory holding the executable's workspace.
pub fn discover_runtime(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return Some(PathBuf::from(p));
    }
    let mut roots = vec![std::env::current_dir().ok()?];
    roots.push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")));
    for root in roots {
        let Ok(libs) = std::fs::read_dir(root.join(".venv/lib")) else {
            continue;
        };
        for py in libs.flatten() {
            let capi = py.path().join("site-packages/onnxruntime/capi");
            if let Ok(entries) = std::fs::read_dir(&capi) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with("libonnxruntime.so") {
                        return Some(e.path());
                    }
                }
            }
        }
    }
    None
}

fn environment(runtime: &Path) -> Result<&'static ort::environment::Environment, ScoringError> {
    if !runtime.is_file() {
        return Err(ScoringError::Runtime(format!(
            "{}: not found",
            runtime.display()
        )));
    }
    let mut env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = *env {
        return Ok(e);
    }
    let builder = ort::init_from(runtime)
        .map_err(|e| ScoringError::Runtime(format!("{}: {e}", runtime.display())))?;
    let built = builder
        .with_name("rustorium")
        .build()
        .map_err(|e| ScoringError::Runtime(e.to_string()))?;
    let leaked: &'static ort::environment::Environment = Box::leak(Box::new(built));
    *env = Some(leaked);
    Ok(leaked)
}

/// A loaded model.
pub struct Scorer {
    session: Mutex<ort::session::Session>,
    input: String,
    /// Execution provider in use (`cpu` or `cuda`).
    pub backend: &'static str,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Scorer {
    /// Loads `model` on the runtime at `runtime`; with `cuda`, on the CUDA execution provider if
    /// it registers, otherwise on the CPU (logged, counted in `fallbacks`).
    pub fn load(
        runtime: &Path,
        model: &Path,
        cuda: bool,
        fallbacks: &AtomicU64,
    ) -> Result<Self, ScoringError> {
        let env = environment(runtime)?;
        let model_err = |message: String| ScoringError::Model {
            path: model.display().to_string(),
            message,
        };
        let cpu_session = || -> Result<ort::session::Session, ScoringError> {
            ort::session::Session::builder(env)
                .map_err(|e| model_err(e.to_string()))?
                .with_intra_threads(1)
                .map_err(|e| model_err(e.to_string()))?
                .commit_from_file(model)
                .map_err(|e| model_err(e.to_string()))
        };
        let (session, backend) = if cuda {
            let attempt = ort::session::Session::builder(env)
                .map_err(|e| model_err(e.to_string()))?
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| e.to_string())
                .and_then(|mut b| b.commit_from_file(model).map_err(|e| e.to_string()));
            match attempt {
                Ok(s) => (s, "cuda"),
                Err(e) => {
                    fallbacks.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "CUDA execution provider unavailable: scoring on the CPU");
                    (cpu_session()?, "cpu")
                }
            }
        } else {
            (cpu_session()?, "cpu")
        };
        let input = session
            .inputs()
            .first()
            .map(|i| i.name().to_string())
            .ok_or_else(|| model_err("no input".into()))?;
        if !session.outputs().iter().any(|o| o.name() == "scores") {
            return Err(model_err("no `scores` output".into()));
        }
        Ok(Self {
            session: Mutex::new(session),
            input,
            backend,
        })
    }

    /// Anomaly scores of many feature rows, in one inference.
    pub fn score_batch(&self, rows: &[[f32; FEATURES]]) -> Result<Vec<f32>, ScoringError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let array = ndarray::Array2::from_shape_vec((rows.len(), FEATURES), flat)
            .map_err(|e| ScoringError::Inference(e.to_string()))?;
        let tensor = ort::value::TensorRef::from_array_view(&array)
            .map_err(|e| ScoringError::Inference(e.to_string()))?;
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(|e| ScoringError::Inference(e.to_string()))?;
        let (_, scores) = outputs["scores"]
            .try_extract_tensor::<f32>()
            .map_err(|e| ScoringError::Inference(e.to_string()))?;
        if scores.len() != rows.len() {
            return Err(ScoringError::Inference(format!(
                "{} scores for {} rows",
                scores.len(),
                rows.len()
            )));
        }
        Ok(scores.iter().map(|s| -s).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scorer() -> Option<Scorer> {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/models/scoring.onnx");
        match discover_runtime(None) {
            Some(rt) => {
                Some(Scorer::load(&rt, &model, false, &AtomicU64::new(0)).expect("load the model"))
            }
            None => {
                assert!(
                    std::env::var_os("RUSTORIUM_SKIP_ORT").is_some(),
                    "no ONNX Runtime: run scripts/test.sh (installs onnxruntime into .venv) or set RUSTORIUM_SKIP_ORT=1"
                );
                None
            }
        }
    }

    #[derive(serde::Deserialize)]
    struct Row {
        raw: RawFeatures,
        features: Vec<f32>,
        sklearn_score: f32,
        anomaly: u8,
    }

    #[derive(serde::Deserialize)]
    struct Fixture {
        rows: Vec<Row>,
    }

    #[test]
    fn scoring_matches_the_python_fixture() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/models/scoring_fixture.json"),
        )
        .expect("fixture");
        let fixture: Fixture = serde_json::from_str(&text).expect("fixture JSON");
        let rows: Vec<[f32; FEATURES]> = fixture.rows.iter().map(|r| features(&r.raw)).collect();
        for (r, ours) in fixture.rows.iter().zip(&rows) {
            assert_eq!(
                ours.as_slice(),
                r.features.as_slice(),
                "features of {:?}",
                r.raw
            );
        }
        let Some(s) = scorer() else { return };
        let scores = s.score_batch(&rows).expect("score");
        for (r, got) in fixture.rows.iter().zip(&scores) {
            assert!(
                (got - r.sklearn_score).abs() < 1e-5,
                "score {got} vs sklearn {}",
                r.sklearn_score
            );
        }
        // Batch and single inference agree.
        assert_eq!(s.score_batch(&rows[..1]).expect("one")[0], scores[0]);
        // Obvious anomalies score worse than normal traffic.
        let mean = |a: u8| {
            let v: Vec<f32> = fixture
                .rows
                .iter()
                .zip(&scores)
                .filter(|(r, _)| r.anomaly == a)
                .map(|(_, s)| *s)
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        assert!(
            mean(1) > mean(0) + 0.1,
            "anomalies {} normal {}",
            mean(1),
            mean(0)
        );
        let normal = RawFeatures {
            balance: 50_000,
            amount: 1_000,
            fee: 3,
            nonce_gap: 0,
            sender_nonce: 30,
            pending: 1,
            new_recipient: false,
        };
        let drain = RawFeatures {
            amount: 50_000,
            fee: 90_000,
            nonce_gap: 50,
            sender_nonce: 0,
            pending: 60,
            new_recipient: true,
            ..normal
        };
        let v = s
            .score_batch(&[features(&normal), features(&drain)])
            .expect("score");
        assert!(v[1] > 0.0 && v[0] < 0.0, "{v:?}");
    }

    /// The venv's runtime is a CPU build: asking for CUDA fails registration loudly, and the
    /// scorer says it runs on the CPU and counts the stand-in; its scores are the CPU's.
    #[test]
    fn cuda_without_a_cuda_runtime_is_an_explicit_counted_cpu_fallback() {
        let Some(rt) = discover_runtime(None) else {
            return;
        };
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/models/scoring.onnx");
        let fallbacks = AtomicU64::new(0);
        let s = Scorer::load(&rt, &model, true, &fallbacks).expect("load");
        // scripts/requirements.txt pins the CPU wheel, which has no CUDA execution provider.
        assert_eq!(s.backend, "cpu");
        assert_eq!(fallbacks.load(Ordering::Relaxed), 1);
        let cpu = Scorer::load(&rt, &model, false, &AtomicU64::new(0)).expect("load");
        let row = [features(&RawFeatures {
            balance: 100,
            amount: 99,
            fee: 5000,
            nonce_gap: 40,
            ..Default::default()
        })];
        assert_eq!(
            s.score_batch(&row).expect("score"),
            cpu.score_batch(&row).expect("score")
        );
    }

    #[test]
    fn a_missing_runtime_or_model_is_a_clear_error() {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/models/scoring.onnx");
        if let Some(rt) = discover_runtime(None) {
            let e = Scorer::load(
                &rt,
                Path::new("/nonexistent.onnx"),
                false,
                &AtomicU64::new(0),
            )
            .expect_err("missing model");
            assert!(e.to_string().contains("/nonexistent.onnx"), "{e}");
            let _ = model;
        }
    }
}
