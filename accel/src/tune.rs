//! Hardware tuning (`rustorium hardware tune`): measures this machine's backends and writes a
//! hardware profile the node loads (through serde: [`Profile::to_toml`]), with a markdown report
//! and an SVG plot of Poseidon throughput against batch size per backend. It lives beside the
//! profiles and the backends it measures; the CLI only draws the progress bar.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ark_std::UniformRand;
use ark_std::rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rustorium_circuits::Fr;

use crate::hardware::{HardwareError, Profile};
use crate::{AccelError, BatchHasher, CpuHasher, CpuNtt, MsmBackend, NttBackend, NttKind};

/// Why tuning stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TuneError {
    /// A backend failed while being measured.
    #[error(transparent)]
    Accel(#[from] AccelError),
    /// The profile or its report could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A thread pool for the thread-count measurement could not be built.
    #[error("thread pool: {0}")]
    ThreadPool(#[from] rayon::ThreadPoolBuildError),
    /// The chosen profile did not serialize to a profile that loads.
    #[error("the tuned profile does not load: {0}")]
    Profile(#[from] HardwareError),
    /// Nothing could be measured.
    #[error("no backend could be measured")]
    NoBackend,
}

type Result<T, E = TuneError> = std::result::Result<T, E>;

/// Opens an MSM backend with a given window size.
type MakeMsm = Box<dyn Fn(u32) -> Result<Arc<dyn MsmBackend>, AccelError>>;

/// A measured series: backend → (log2 batch, hashes/s).
type Series = Vec<(String, Vec<(u32, f64)>)>;

struct Progress<'a> {
    done: usize,
    total: usize,
    report: &'a mut dyn FnMut(usize, usize, &str),
}

impl Progress<'_> {
    fn step(&mut self, what: &str) {
        self.done += 1;
        (self.report)(self.done, self.total, what);
    }
}

fn rate(mut f: impl FnMut() -> Result<()>, items: usize, budget: Duration) -> Result<f64> {
    f()?; // warm-up (compilation, uploads)
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 2 || start.elapsed() < budget {
        f()?;
        runs += 1;
    }
    Ok(items as f64 * f64::from(runs) / start.elapsed().as_secs_f64())
}

/// Measures, chooses, and writes the profile `out`, its report `out.md` and plot `out.svg`;
/// returns the report. `progress(done, total, step)` is called after each measurement.
/// `allow_software` lets wgpu measure a software adapter (lavapipe); `quick` measures fewer sizes
/// for less time.
pub fn tune(
    out: &Path,
    allow_software: bool,
    quick: bool,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<String> {
    let logs: Vec<u32> = if quick {
        vec![8, 10, 12]
    } else {
        vec![8, 10, 12, 14, 16]
    };
    let budget = Duration::from_millis(if quick { 150 } else { 600 });
    let mut hashers: Vec<(String, &'static str, Arc<dyn BatchHasher<Fr>>)> =
        vec![("cpu scalar".into(), "cpu", Arc::new(CpuHasher::scalar()))];
    if crate::simd::ifma_available() {
        hashers.push(("cpu avx512-ifma".into(), "cpu", Arc::new(CpuHasher::new())));
    }
    if let Ok(h) = crate::cuda::CudaHasher::new(0, 1 << 22) {
        hashers.push((format!("cuda {}", h.device_name()), "cuda", Arc::new(h)));
    }
    if let Ok(h) = crate::wgpu::WgpuHasher::new(allow_software, 1 << 22) {
        hashers.push((format!("wgpu {}", h.adapter.name), "wgpu", Arc::new(h)));
    }
    let mut msms: Vec<(&'static str, MakeMsm)> = Vec::new();
    if crate::cuda::driver_available() {
        msms.push((
            "cuda",
            Box::new(|c| {
                Ok(Arc::new(crate::cuda::CudaMsm::new(0, c, u64::MAX)?) as Arc<dyn MsmBackend>)
            }),
        ));
    }
    if crate::wgpu::WgpuMsm::new(allow_software, 4, 0).is_ok() {
        msms.push((
            "wgpu",
            Box::new(move |c| {
                Ok(
                    Arc::new(crate::wgpu::WgpuMsm::new(allow_software, c, u64::MAX)?)
                        as Arc<dyn MsmBackend>,
                )
            }),
        ));
    }
    let windows: Vec<u32> = if quick {
        vec![6, 8]
    } else {
        vec![6, 8, 10, 12]
    };
    let threads = rayon::current_num_threads();
    let mut p = Progress {
        done: 0,
        total: hashers.len() * logs.len() + 2 + msms.len() * windows.len() + 2,
        report: progress,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(3);

    // Poseidon(2) throughput per backend and batch size.
    let mut series: Series = Vec::new();
    for (name, _, h) in &hashers {
        let mut pts = Vec::new();
        for &k in &logs {
            let n = 1usize << k;
            let inputs: Vec<Fr> = (0..2 * n).map(|_| Fr::rand(&mut rng)).collect();
            let mut outv = vec![Fr::from(0u64); n];
            let r = rate(|| Ok(h.hash_batch(2, &inputs, &mut outv)?), n, budget)?;
            pts.push((k, r));
            p.step(&format!("poseidon {name} 2^{k}"));
        }
        series.push((name.clone(), pts));
    }
    // CPU threads: one against all, at the largest batch.
    let n = 1usize << logs[logs.len() - 1];
    let inputs: Vec<Fr> = (0..2 * n).map(|_| Fr::rand(&mut rng)).collect();
    let mut outv = vec![Fr::from(0u64); n];
    let mut thread_rates = Vec::new();
    for t in [1usize, threads] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
        let r = pool.install(|| {
            rate(
                || Ok(CpuHasher::new().hash_batch(2, &inputs, &mut outv)?),
                n,
                budget,
            )
        })?;
        thread_rates.push((t, r));
        p.step(&format!("cpu threads {t}"));
    }
    // GPU MSM window sizes (2^12 points).
    let (_, bases, scalars) = crate::msm::edge_case_inputs(1 << 12, 5).remove(0);
    let mut msm_rows = Vec::new();
    for (name, make) in &msms {
        for &c in &windows {
            let b = make(c)?;
            let r = rate(
                || Ok(b.msm_g1(&bases, &scalars, None).map(|_| ())?),
                1,
                budget,
            )?;
            msm_rows.push((*name, c, 1e3 / r));
            p.step(&format!("msm {name} c={c}"));
        }
    }
    // NTT: CPU against the first GPU backend that opens (2^12).
    let ntt_in: Vec<Fr> = (0..1 << 12).map(|_| Fr::rand(&mut rng)).collect();
    let mut ntt_rows = Vec::new();
    let mut ntts: Vec<(&'static str, Arc<dyn NttBackend>)> = vec![("cpu", Arc::new(CpuNtt))];
    if let Ok(n) = crate::cuda::CudaNtt::new(0) {
        ntts.push(("cuda", Arc::new(n)));
    } else if let Ok(n) = crate::wgpu::WgpuNtt::new(allow_software) {
        ntts.push(("wgpu", Arc::new(n)));
    }
    for (name, b) in ntts.iter().take(2) {
        let r = rate(
            || {
                let mut v = ntt_in.clone();
                Ok(b.ntt(&mut v, NttKind::Forward)?)
            },
            1,
            budget,
        )?;
        ntt_rows.push((*name, 1e3 / r));
        p.step(&format!("ntt {name}"));
    }
    while p.done < p.total {
        p.step("done");
    }

    // Choices.
    let top = |pts: &Vec<(u32, f64)>| pts.iter().map(|x| x.1).fold(0.0, f64::max);
    let best = hashers
        .iter()
        .zip(&series)
        .max_by(|a, b| top(&a.1.1).total_cmp(&top(&b.1.1)))
        .ok_or(TuneError::NoBackend)?;
    let poseidon_backend = best.0.1;
    let best_pts = &best.1.1;
    let peak = top(best_pts);
    let batch_log = best_pts
        .iter()
        .find(|(_, r)| *r >= 0.95 * peak)
        .map_or(logs[0], |x| x.0);
    let best_threads = thread_rates
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |x| x.0);
    let msm_choice = msm_rows
        .iter()
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(n, c, _)| (*n, *c));
    let ntt_choice = ntt_rows
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("cpu", |x| x.0);
    let name = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("tuned")
        .to_string();
    let software = hashers.iter().any(|(n, _, _)| n.contains("llvmpipe"));
    let backend = |name: &str| {
        crate::hardware::Backend::from_name(name).ok_or_else(|| {
            TuneError::Accel(AccelError::Device {
                backend: "tune",
                message: format!("unknown backend {name}"),
            })
        })
    };
    let chosen = Profile {
        name: name.clone(),
        require_gpu: false,
        backends: crate::hardware::Backends {
            poseidon: backend(poseidon_backend)?,
            msm: backend(msm_choice.map_or("cpu", |m| m.0))?,
            ntt: backend(ntt_choice)?,
            scoring: crate::hardware::Backend::Cpu,
        },
        cuda: crate::hardware::CudaSection {
            batch: 1usize << batch_log.max(10),
            ..Default::default()
        },
        wgpu: crate::hardware::WgpuSection {
            allow_software: software,
            ..Default::default()
        },
        msm: crate::hardware::MsmSection {
            window_bits: msm_choice.map_or(0, |m| m.1),
        },
        cpu: crate::hardware::CpuSection {
            threads: if best_threads == threads {
                0
            } else {
                best_threads
            },
        },
    };
    let profile = chosen.to_toml(&format!(
        "Written by `rustorium hardware tune` on {} ({} threads); report: {name}.md, plot: {name}.svg.",
        std::env::consts::ARCH,
        threads
    ))?;
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|source| TuneError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| TuneError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write(out, profile.as_bytes())?;
    let svg_path = out.with_extension("svg");
    write(&svg_path, svg(&series).as_bytes())?;
    let mut md = format!(
        "# Hardware tune: {name}\n\nProfile: `{}`. Plot: `{}`.\n\n## Poseidon(2) throughput (hashes/s)\n\n| backend |",
        out.display(),
        svg_path.display()
    );
    for k in &logs {
        md += &format!(" 2^{k} |");
    }
    md += "\n| --- |";
    for _ in &logs {
        md += " --- |";
    }
    md += "\n";
    for (n, pts) in &series {
        md += &format!("| {n} |");
        for (_, r) in pts {
            md += &format!(" {r:.0} |");
        }
        md += "\n";
    }
    md +=
        "\n## CPU threads (Poseidon(2), largest batch)\n\n| threads | hashes/s |\n| --- | --- |\n";
    for (t, r) in &thread_rates {
        md += &format!("| {t} | {r:.0} |\n");
    }
    md += "\n## GPU MSM window (2^12 points)\n\n| backend | window | ms |\n| --- | --- | --- |\n";
    for (n, c, ms) in &msm_rows {
        md += &format!("| {n} | {c} | {ms:.1} |\n");
    }
    if msm_rows.is_empty() {
        md += "| (no GPU MSM backend here) | | |\n";
    }
    md += "\n## NTT 2^12 (forward)\n\n| backend | ms |\n| --- | --- |\n";
    for (n, ms) in &ntt_rows {
        md += &format!("| {n} | {ms:.2} |\n");
    }
    md += &format!("\n## Chosen\n\n```toml\n{profile}```\n");
    write(&out.with_extension("md"), md.as_bytes())?;
    Ok(md)
}

/// A line chart: x = log2 batch, y = throughput, one polyline per backend.
fn svg(series: &Series) -> String {
    let (w, h, m) = (640.0, 400.0, 50.0);
    let xs: Vec<u32> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.0))
        .collect();
    let (x0, x1) = (
        f64::from(*xs.iter().min().unwrap_or(&0)),
        f64::from(*xs.iter().max().unwrap_or(&1)),
    );
    let ymax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(1.0, f64::max);
    let px = |x: u32| m + (f64::from(x) - x0) / (x1 - x0).max(1.0) * (w - 2.0 * m);
    let py = |y: f64| h - m - y / ymax * (h - 2.0 * m);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{m}\" y=\"20\">Poseidon(2) throughput (hashes/s) against batch size</text>\n<line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n<text x=\"{m}\" y=\"{}\">0</text><text x=\"4\" y=\"{}\">{ymax:.0}</text>\n",
        h - m,
        w - m,
        h - m,
        h - m,
        h - m + 14.0,
        m + 4.0
    );
    for x in x0 as u32..=x1 as u32 {
        s += &format!(
            "<text x=\"{}\" y=\"{}\">2^{x}</text>\n",
            px(x) - 10.0,
            h - m + 28.0
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = colors[i % colors.len()];
        let points: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        s += &format!(
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\n",
            points.join(" ")
        );
        s += &format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{c}\">{name}</text>\n",
            w - m - 150.0,
            m + 16.0 * i as f64
        );
    }
    s += "</svg>\n";
    s
}

/// Default output path.
pub fn default_out() -> PathBuf {
    PathBuf::from("hardware/tuned.toml")
}
