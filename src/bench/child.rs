//! `apg-bench bench-child ...` (hidden): one measurement in a fresh process, so that its
//! peak RSS is its own, printed as one JSON line on stdout. The parent side
//! ([`run_child`]) starts the current executable with these arguments and reads the line.
//!
//! - `load DESCRIPTOR CACHE_DIR [--no-cache]`: load and encode a dataset -> [`LoadFigures`];
//! - `train EXPERIMENT STEPS CACHE_DIR [--no-cache]`: train an experiment for STEPS steps
//!   on the CPU with the trainer -> [`TrainFigures`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::experiment::LoadedExperiment;
use crate::data::{self, Column, EncodedDataset, LoadOptions, LoadedDescriptor};
use crate::train::trainer::{TrainJob, spawn};
use crate::train::{Event, MetricsRecord, Phase};

const USAGE: &str = "usage: apg-bench bench-child load DESCRIPTOR CACHE_DIR [--no-cache]\n       \
                     apg-bench bench-child train EXPERIMENT STEPS CACHE_DIR [--no-cache]";

/// What a `load` child measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadFigures {
    /// Seconds inside `data::load` (process start-up excluded).
    pub seconds: f64,
    /// Peak RSS of the child process, in MB.
    pub peak_rss_mb: f64,
    /// Bytes of the encoded dataset (columns, labels, split), in MB.
    pub encoded_mb: f64,
    pub rows: usize,
    pub from_cache: bool,
}

/// What a `train` child measured; memory in MB (1e6 bytes of counts, 2^20 of RSS, as
/// the kernel reports kB: see [`crate::bench::peak_rss_mb`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainFigures {
    pub experiment: String,
    pub steps: usize,
    pub rows: usize,
    pub from_cache: bool,
    /// RSS before anything is loaded: the binary, its libraries and the allocator.
    pub baseline_rss_mb: f64,
    /// RSS when the data is loaded and encoded (the model is about to be built).
    pub loaded_rss_mb: f64,
    /// Peak RSS up to then: loading's own peak (the raw table before encoding).
    pub load_peak_rss_mb: f64,
    /// RSS when the model is built (parameters and Adam moments allocated).
    pub built_rss_mb: f64,
    /// Largest RSS seen at a training-metrics report (between evaluations).
    pub training_rss_mb: f64,
    /// Peak RSS up to the end of the first evaluation.
    pub eval_peak_rss_mb: f64,
    /// Peak RSS of the whole run.
    pub peak_rss_mb: f64,
    /// The encoded dataset (columns, labels, split, oracle), in MB.
    pub encoded_mb: f64,
    pub dense_params: usize,
    pub embedding_entries: usize,
    /// Dense parameters and their two Adam moments: 3 x 4 bytes each, in MB.
    pub dense_mb: f64,
    /// Embedding tables and their row-wise Adam moments: 3 x 4 bytes an entry, in MB.
    pub embedding_mb: f64,
    /// The copy of the best model kept for the end (dense + tables, 4 bytes each), in MB.
    pub snapshot_mb: f64,
    pub seconds: f64,
}

/// Entry point of `apg-bench bench-child ARGS...`.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    let (task, rest) = args.split_first().with_context(|| format!("bench-child needs a task\n{USAGE}"))?;
    let no_cache = rest.iter().any(|a| a == "--no-cache");
    let positional: Vec<&String> = rest.iter().filter(|a| *a != "--no-cache").collect();
    if let Some(flag) = positional.iter().find(|a| a.starts_with("--")) {
        bail!("bench-child: unknown option {flag}\n{USAGE}");
    }
    let line = match (task.as_str(), positional.as_slice()) {
        ("load", [descriptor, cache_dir]) => {
            serde_json::to_string(&load(Path::new(descriptor), Path::new(cache_dir), no_cache)?)?
        }
        ("train", [experiment, steps, cache_dir]) => {
            let steps: usize =
                steps.parse().with_context(|| format!("bench-child train: STEPS must be a number, got {steps:?}"))?;
            serde_json::to_string(&train(Path::new(experiment), steps, Path::new(cache_dir), no_cache)?)?
        }
        ("load" | "train", _) => bail!("bench-child {task}: wrong arguments {positional:?}\n{USAGE}"),
        _ => bail!("bench-child: unknown task {task:?}\n{USAGE}"),
    };
    println!("{line}");
    Ok(())
}

/// Bytes the encoded dataset holds: its columns, labels (1 byte a row), split (4 bytes a
/// row) and, for generated data, the true click probabilities (4 bytes a row).
pub fn encoded_bytes(dataset: &EncodedDataset) -> usize {
    let columns: usize = dataset
        .fields
        .iter()
        .map(|f| match &f.column {
            Column::Ids(v) => v.len() * 4,
            Column::Multi { offsets, ids } => (offsets.len() + ids.len()) * 4,
            Column::Dense(v) => v.len() * 4,
        })
        .sum();
    let split = (dataset.split.train.len() + dataset.split.valid.len() + dataset.split.test.len()) * 4;
    let oracle = dataset.oracle.as_ref().map_or(0, |o| o.len() * 4);
    columns + dataset.labels.len() + split + oracle
}

/// Current resident set size of this process, in MB (Linux; 0 elsewhere).
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

fn peak_mb() -> f64 {
    crate::bench::peak_rss_mb().unwrap_or(0.0)
}

fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: Option<f64> = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    kb.unwrap_or(0.0) / 1024.0
}

fn load_options(cache_dir: &Path, no_cache: bool) -> LoadOptions {
    LoadOptions { cache_dir: Some(cache_dir.to_path_buf()), no_cache }
}

fn load(descriptor: &Path, cache_dir: &Path, no_cache: bool) -> anyhow::Result<LoadFigures> {
    let descriptor = LoadedDescriptor::from_file(descriptor).map_err(|e| anyhow::anyhow!("{e}"))?;
    let start = Instant::now();
    let (dataset, report) = data::load(&descriptor, &load_options(cache_dir, no_cache))?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(warning) = report.warnings.first() {
        eprintln!("warning: {warning}");
    }
    Ok(LoadFigures {
        seconds,
        peak_rss_mb: peak_mb(),
        encoded_mb: encoded_bytes(&dataset) as f64 / 1e6,
        rows: dataset.rows(),
        from_cache: report.from_cache,
    })
}

fn train(path: &Path, steps: usize, cache_dir: &Path, no_cache: bool) -> anyhow::Result<TrainFigures> {
    let mut figures = TrainFigures { baseline_rss_mb: rss_mb(), steps, ..Default::default() };
    let mut experiment = LoadedExperiment::from_file(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    experiment.experiment.train.max_steps = steps;
    // Enough epochs for the steps; no early stop before them.
    experiment.experiment.train.epochs = experiment.experiment.train.epochs.max(steps);
    experiment.experiment.train.patience = 0;
    figures.experiment = experiment.experiment.name.clone();
    let descriptor = experiment.dataset.clone();
    let seed = experiment.experiment.seed;
    let start = Instant::now();
    let handle = spawn(TrainJob {
        experiment,
        seed,
        device: crate::config::Device::Cpu,
        checkpoint: None,
        load: load_options(cache_dir, no_cache),
    });
    let mut evaluating = false;
    for event in handle.events.iter() {
        match event {
            Event::Phase { phase: Phase::Building } => {
                figures.loaded_rss_mb = rss_mb();
                figures.load_peak_rss_mb = peak_mb();
            }
            Event::Plan { params, .. } => {
                figures.built_rss_mb = rss_mb();
                figures.dense_params = params.dense;
                figures.embedding_entries = params.embedding;
            }
            Event::Metrics { record: MetricsRecord::Train { step, .. } } => {
                figures.training_rss_mb = figures.training_rss_mb.max(rss_mb());
                figures.steps = step;
            }
            Event::Phase { phase: Phase::Evaluating } => evaluating = true,
            Event::Phase { phase: Phase::Training | Phase::Testing } if evaluating => {
                evaluating = false;
                if figures.eval_peak_rss_mb == 0.0 {
                    figures.eval_peak_rss_mb = peak_mb();
                }
            }
            // The trainer says how it loaded the data: "dataset NAME: ... from cache in N ms".
            Event::Log { line } if line.starts_with("dataset ") => {
                figures.from_cache = line.contains(" from cache in ")
            }
            Event::Finished { summary } => figures.steps = summary.steps,
            Event::Failed { error } => bail!("training {} failed: {error}", path.display()),
            _ => {}
        }
    }
    handle.join().map_err(|panic| anyhow::anyhow!("the trainer panicked: {panic}"))?;
    figures.seconds = start.elapsed().as_secs_f64();
    figures.peak_rss_mb = peak_mb();
    // The run is over (its data dropped): load the data again, from the cache the run
    // wrote when it could, to count what the encoded dataset holds.
    let (dataset, _) = data::load(&descriptor, &load_options(cache_dir, no_cache))?;
    figures.rows = dataset.rows();
    figures.encoded_mb = encoded_bytes(&dataset) as f64 / 1e6;
    figures.dense_mb = (figures.dense_params * 3 * 4) as f64 / 1e6;
    figures.embedding_mb = (figures.embedding_entries * 3 * 4) as f64 / 1e6;
    figures.snapshot_mb = ((figures.dense_params + figures.embedding_entries) * 4) as f64 / 1e6;
    Ok(figures)
}

/// Runs `apg-bench bench-child ARGS...` (the current executable) with `threads` rayon
/// threads and returns what it printed; a failed child is an error with its stderr.
pub fn run_child<T: DeserializeOwned>(args: &[OsString], threads: usize) -> anyhow::Result<T> {
    let exe: PathBuf = std::env::current_exe().context("cannot find the current executable")?;
    let shown = || {
        let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        format!("{} bench-child {}", exe.display(), words.join(" "))
    };
    let output = Command::new(&exe)
        .arg("bench-child")
        .args(args)
        .env("RAYON_NUM_THREADS", threads.max(1).to_string())
        .output()
        .with_context(|| format!("cannot start {}", shown()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("{} failed ({}):\n{}", shown(), output.status, tail(&stderr));
    }
    let Some(line) = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')) else {
        bail!(
            "{} printed no JSON line (is {} the apg-bench binary? the data and memory sections measure in child \
             processes of it)\nstdout: {}\nstderr: {}",
            shown(),
            exe.display(),
            tail(&stdout),
            tail(&stderr)
        );
    };
    serde_json::from_str(line).with_context(|| format!("{}: unexpected output {line:?}", shown()))
}

/// The last few lines of a child's output.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
