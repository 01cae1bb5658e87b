//! Running a study's pending runs on this machine, N at a time, each recorded exactly as
//! `apg-bench run` records it (through [`RecordedRun`]), with the cores divided among them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::data::LoadOptions;
use crate::runs::RunStatus;
use crate::runs::recorded::{Next, RecordedRun};
use crate::study::Study;

/// How often a worker looks at the stop flag while its trainer is quiet.
const POLL: Duration = Duration::from_millis(100);

/// What the workers report as they go, from their threads.
#[derive(Debug, Clone)]
pub enum Progress {
    Started {
        variant: usize,
        seed: u64,
        run: String,
    },
    Ended {
        variant: usize,
        seed: u64,
        run: String,
        status: RunStatus,
        test_auc: Option<f64>,
        seconds: f64,
    },
    /// The run folder could not be made, or its end not recorded.
    Error {
        variant: usize,
        seed: u64,
        error: String,
    },
}

/// The thread count of each of `jobs` runs sharing this machine: its cores divided
/// among them, at least one.
pub fn threads_per_run(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    (cores / jobs.max(1)).max(1)
}

/// Writes each variant's experiment to its file under the study's folder (only files
/// whose text changed are rewritten): the runs name them as their experiment, and a
/// Slurm task runs them as they are.
pub fn write_expanded(study: &Study) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for variant in &study.variants {
        let file = &variant.experiment.file;
        if let Some(folder) = file.parent() {
            std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        }
        if crate::toml_error::read_regular(file).ok().as_deref() != Some(variant.experiment.text.as_str()) {
            crate::config::edit::write_atomically(file, &variant.experiment.text)?;
        }
        written.push(file.clone());
    }
    Ok(written)
}

/// Runs `todo` (variant index, seed) of `study`, `jobs` at a time, each with
/// `threads` threads. `stop` set (a signal): the runs going on are stopped, recorded as
/// interrupted, and no other starts. Returns when every started run has ended.
pub fn execute(
    study: &Study,
    todo: &[(usize, u64)],
    jobs: usize,
    threads: usize,
    stop: &AtomicBool,
    report: &(dyn Fn(Progress) + Sync),
) {
    // Runs started together would each encode the data and write the same cache file:
    // one load first leaves the cache for all of them.
    if jobs > 1 && todo.len() > 1 {
        let mut warmed: Vec<PathBuf> = Vec::new();
        for (variant, _) in todo {
            let dataset = &study.variants[*variant].experiment.dataset;
            if !warmed.contains(&dataset.file) {
                warmed.push(dataset.file.clone());
                let _ = crate::data::load(dataset, &LoadOptions::default());
            }
        }
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(todo.len()) {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let Some(&(variant, seed)) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else { break };
                    run_one(study, variant, seed, threads, stop, report);
                }
            });
        }
    });
}

fn run_one(
    study: &Study,
    variant: usize,
    seed: u64,
    threads: usize,
    stop: &AtomicBool,
    report: &(dyn Fn(Progress) + Sync),
) {
    let mut loaded = study.variants[variant].experiment.clone();
    loaded.experiment.train.threads = threads;
    let device = loaded.experiment.device;
    let started = Instant::now();
    let mut run = match RecordedRun::start(&study.workspace, loaded, seed, device) {
        Ok(run) => run,
        Err(error) => return report(Progress::Error { variant, seed, error: error.to_string() }),
    };
    let id = run.id().to_string();
    report(Progress::Started { variant, seed, run: id.clone() });
    let mut stopped = false;
    loop {
        if stop.load(Ordering::SeqCst) && !stopped {
            run.control().stop();
            stopped = true;
        }
        match run.next(POLL) {
            Next::Done => break,
            Next::Idle | Next::Event(_) => {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    match run.finish(stopped) {
        Ok((manifest, summary)) => report(Progress::Ended {
            variant,
            seed,
            run: id,
            status: manifest.status,
            test_auc: summary.and_then(|s| s.test?.auc),
            seconds,
        }),
        Err(error) => report(Progress::Error { variant, seed, error: error.to_string() }),
    }
}
