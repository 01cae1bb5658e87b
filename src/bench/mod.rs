//! `apg-bench bench`: the performance figures of BENCHMARKS.md, measured in this process after
//! warm-up, each the median of several repetitions. Sections:
//! - `gemm`: this machine's f32 GEMM peak through dfdx's matmul (the yardstick);
//! - `model`: training and inference samples/s of the static MLP and APG v3/v4/v5 with
//!   group-, mix- and self-wise conditions, on the probe shape and the paper's shape;
//! - `embedding`: the cost of one embedding step at 10k and 1M ids per field;
//! - `data`: ml-100k load cold and cached, rows/s of a 2,000,000-row CSV, encoding a
//!   Criteo-shaped CSV and training from its mapped cache against a copy in memory;
//! - `runs`: listing a history of 1,000 run folders;
//! - `tui`: time to draw each panel on a 200x50 TestBackend;
//! - `memory`: peak RSS of a training run against what it must hold.
//!
//! Figures are printed, never asserted: targets live in BENCHMARKS.md.

pub mod child;
pub mod data;
pub mod embedding;
pub mod gemm;
pub mod memory;
pub mod models;
pub mod quiet;
pub mod runs;
pub mod tui;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

/// The sections, in the order they run.
pub const SECTIONS: &[&str] = &["gemm", "model", "embedding", "data", "runs", "tui", "memory"];

/// What to measure and how hard.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fewer repetitions and steps, fewer shapes: a smoke run of every section.
    pub quick: bool,
    /// Threads for dfdx's matmul (rayon); the rest is single-threaded.
    pub threads: usize,
    /// Sections to run (all of [`SECTIONS`] when empty).
    pub only: Vec<String>,
    /// Model names to run in the `model` section (all when empty), e.g. `mlp`, `apg-v5-group`.
    pub models: Vec<String>,
    /// Only "train" or only "infer" figures in the model section (both when None).
    pub what: Option<String>,
    /// Batch sizes of the model section (1024 and 4096 when empty).
    pub batches: Vec<usize>,
    /// The shared datasets folder (APG_BENCH_DATA), for ml-100k.
    pub data_dir: Option<PathBuf>,
    /// Scratch folder for generated data and caches.
    pub scratch: PathBuf,
    /// Rows of the Criteo-shaped CSV of the data section (None: 2,000,000, or 200,000
    /// with `quick`).
    pub criteo_rows: Option<usize>,
}

impl Options {
    pub fn runs(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }

    /// Repetitions of a measurement (its median is reported).
    pub fn reps(&self) -> usize {
        if self.quick { 3 } else { 5 }
    }
}

/// One measured figure. `key` is stable and machine-readable
/// (`model.train.probe.apg-v5.group.b1024`); the optional fields repeat its parts.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub section: &'static str,
    pub key: String,
    /// What was measured, in words.
    pub label: String,
    pub value: f64,
    pub unit: &'static str,
    /// Context: a percentage of the GEMM peak, a ratio, a reason for a skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// "train" or "infer".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Every repetition, for the spread.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<f64>,
}

impl Figure {
    pub fn new(
        section: &'static str,
        key: impl Into<String>,
        label: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Figure {
            section,
            key: key.into(),
            label: label.into(),
            value,
            unit,
            note: None,
            shape: None,
            model: None,
            variant: None,
            condition: None,
            what: None,
            batch: None,
            samples: Vec::new(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn samples(mut self, samples: Vec<f64>) -> Self {
        self.samples = samples;
        self
    }
}

/// A section that could not run, and why (printed, and kept in the JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub section: &'static str,
    pub what: String,
    pub why: String,
}

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    pub threads: usize,
    pub os: String,
    pub apg_bench: String,
    pub build: &'static str,
}

impl Machine {
    pub fn here(threads: usize) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpu,
            logical_cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            threads,
            os: std::env::consts::OS.to_string(),
            apg_bench: env!("CARGO_PKG_VERSION").to_string(),
            build: if cfg!(debug_assertions) { "debug (figures are meaningless: use --release)" } else { "release" },
        }
    }
}

/// Everything one `bench` call measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    pub figures: Vec<Figure>,
    pub skipped: Vec<Skipped>,
}

impl Report {
    pub fn figure(&self, key: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.key == key)
    }
}

/// Runs the sections `options` asks for, calling `progress` with each figure as it is
/// measured.
pub fn run(options: &Options, progress: &mut (dyn FnMut(&Figure) + Send)) -> anyhow::Result<Report> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(options.threads).build()?;
    let mut report = Report {
        machine: Machine::here(options.threads),
        quick: options.quick,
        figures: Vec::new(),
        skipped: Vec::new(),
    };
    std::fs::create_dir_all(&options.scratch)?;
    pool.install(|| -> anyhow::Result<()> {
        let mut sink = Sink { report: &mut report, progress };
        if options.runs("gemm") {
            gemm::run(options, &mut sink);
        }
        if options.runs("model") {
            models::run(options, &mut sink)?;
        }
        if options.runs("embedding") {
            embedding::run(options, &mut sink);
        }
        if options.runs("data") {
            data::run(options, &mut sink)?;
        }
        if options.runs("runs") {
            runs::run(options, &mut sink)?;
        }
        if options.runs("tui") {
            tui::run(options, &mut sink)?;
        }
        if options.runs("memory") {
            memory::run(options, &mut sink)?;
        }
        Ok(())
    })?;
    Ok(report)
}

/// Where sections put their figures.
pub struct Sink<'a> {
    pub report: &'a mut Report,
    pub progress: &'a mut (dyn FnMut(&Figure) + Send),
}

impl Sink<'_> {
    pub fn push(&mut self, figure: Figure) {
        (self.progress)(&figure);
        self.report.figures.push(figure);
    }

    pub fn skip(&mut self, section: &'static str, what: impl Into<String>, why: impl Into<String>) {
        self.report.skipped.push(Skipped { section, what: what.into(), why: why.into() });
    }

    /// The GEMM peak measured earlier in this call, in GFLOP/s.
    pub fn gemm_peak(&self) -> Option<f64> {
        self.report.figure(gemm::PEAK_KEY).map(|f| f.value)
    }
}

/// Seconds of each of `reps` calls of `f`, after `warmup` calls.
pub fn time_reps(warmup: usize, reps: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        f();
    }
    (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect()
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Peak resident set size of this process so far, in MB (Linux; None elsewhere).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
