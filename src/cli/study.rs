//! `study run|status|report`: a study's runs made here (N at a time) or on Slurm, where
//! they stand, and the table of their results. Thin: the engine is `crate::study`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::{ArgGroup, Subcommand};

use crate::cli::table::Table;
use crate::format::duration;
use crate::runs::{History, RunStatus};
use crate::study::execute::{Progress, execute, threads_per_run, write_expanded};
use crate::study::report::report;
use crate::study::slurm::{self, Resources};
use crate::study::status::{Counts, Slot, current, to_run};
use crate::study::{STUDIES_FOLDER, Study, names};

/// Exit code of a study ended by a signal (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Subcommand)]
pub enum StudyCommand {
    /// Run the study's pending runs (finished ones are skipped): here, N at a time, or on Slurm.
    Run {
        /// The study: studies/NAME.toml in the workspace.
        name: String,
        /// Runs at a time on this machine; each gets max(1, cores / N) threads.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
        jobs: u64,
        /// Run the failed (and diverged) runs again too.
        #[arg(long)]
        retry_failed: bool,
        /// Submit the pending runs as an sbatch job array instead of running them here.
        #[arg(long)]
        slurm: bool,
        /// Slurm partition.
        #[arg(long, requires = "slurm")]
        partition: Option<String>,
        /// Slurm time limit per run, e.g. 1:00:00.
        #[arg(long, requires = "slurm")]
        time: Option<String>,
        /// CPUs per Slurm task (the run's threads).
        #[arg(long, requires = "slurm", default_value_t = 1)]
        cpus: usize,
        /// GPUs per Slurm task (the experiments' `device` decides whether a run uses one).
        #[arg(long, requires = "slurm", default_value_t = 0)]
        gpus: usize,
    },
    /// Done / running / failed / queued / pending runs of one study, or of every study of the workspace.
    Status {
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One table: a row per variant, mean ± sd over seeds, delta, RelaImpr and noise verdict against the baseline.
    #[command(group(ArgGroup::new("format").args(["md", "csv", "json"])))]
    Report {
        name: String,
        #[arg(long)]
        md: bool,
        #[arg(long)]
        csv: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(workspace: &Path, command: StudyCommand) -> anyhow::Result<ExitCode> {
    match command {
        StudyCommand::Run { name, jobs, retry_failed, slurm, partition, time, cpus, gpus } => {
            let study = Study::open(workspace, &name)?;
            if slurm {
                submit(&study, retry_failed, Resources { partition, time, cpus, gpus })
            } else {
                run_here(&study, jobs as usize, retry_failed)
            }
        }
        StudyCommand::Status { name, json } => status(workspace, name.as_deref(), json),
        StudyCommand::Report { name, md, csv, json } => {
            let study = Study::open(workspace, &name)?;
            let history = History::load(workspace)?;
            let report = report(&study, &history)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if md {
                print!("{}", report.markdown());
            } else if csv {
                print!("{}", report.csv()?);
            } else {
                let (header, rows) = report.table();
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                let mut table = Table::new(&header);
                for row in rows {
                    table.row(row);
                }
                println!(
                    "Study {} against {} (mean ± sd over seeds (n)):\n\n{}",
                    report.study,
                    report.baseline,
                    table.render()
                );
                for note in &report.notes {
                    println!("note: {note}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The study's slots, with the Slurm tasks still queued marked so.
fn current_slots(study: &Study, history: &History) -> anyhow::Result<(Vec<Slot>, Vec<String>)> {
    current(study, history).map_err(anyhow::Error::msg)
}

fn run_here(study: &Study, jobs: usize, retry_failed: bool) -> anyhow::Result<ExitCode> {
    let history = History::load(&study.workspace)?;
    let (slots, _) = current_slots(study, &history)?;
    let todo = to_run(&slots, retry_failed);
    let counts = Counts::of(&slots);
    let total = counts.total();
    let skipped = total - todo.len();
    let jobs = jobs.min(todo.len()).max(1);
    let threads = threads_per_run(jobs);
    eprintln!(
        "study {}: {total} runs ({} variants x {} seeds); {skipped} done or skipped ({} failed{}), {} to run, {jobs} at a time with {threads} thread(s) each",
        study.name,
        study.variants.len(),
        study.seeds.len(),
        counts.failed,
        if retry_failed || counts.failed == 0 { "" } else { ", --retry-failed runs them again" },
        todo.len()
    );
    if todo.is_empty() {
        eprintln!("nothing to run: `apg-bench study report {}` shows the table", study.name);
        return Ok(ExitCode::SUCCESS);
    }
    write_expanded(study).map_err(anyhow::Error::msg)?;

    let stop = Arc::new(AtomicBool::new(false));
    let signals = Arc::new(AtomicUsize::new(0));
    let (handler_stop, handler_signals) = (stop.clone(), signals.clone());
    ctrlc::set_handler(move || {
        // The first signal stops the runs going on (recorded as interrupted; the next
        // `study run` runs them again); a second quits at once.
        if handler_signals.fetch_add(1, Ordering::SeqCst) > 0 {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        handler_stop.store(true, Ordering::SeqCst);
        eprintln!("interrupted: stopping the runs going on (Ctrl-C again to quit at once)");
    })?;

    let started = Instant::now();
    let ended = Mutex::new((0usize, 0usize)); // (ended, failed)
    let on_progress = |progress: Progress| {
        let name = |variant: usize| study.variants[variant].name.clone();
        match progress {
            Progress::Started { variant, seed, run } => eprintln!("started {} seed {seed}: run {run}", name(variant)),
            Progress::Ended { variant, seed, run, status, test_auc, seconds } => {
                let Ok(mut ended) = ended.lock() else { return };
                ended.0 += 1;
                if status != RunStatus::Finished && status != RunStatus::Interrupted {
                    ended.1 += 1;
                }
                let left = todo.len() - ended.0;
                // Wall time per ended run so far (with N at a time), times the runs left.
                let per_run = started.elapsed().as_secs_f64() / ended.0 as f64;
                let eta = if left == 0 { String::new() } else { format!(", ETA {}", duration(per_run * left as f64)) };
                let auc = test_auc.map(|a| format!(", test AUC {a:.4}")).unwrap_or_default();
                eprintln!(
                    "[{}/{}] {} seed {seed} {} in {}{auc} (run {run}){eta}",
                    skipped + ended.0,
                    total,
                    name(variant),
                    status.name(),
                    duration(seconds)
                );
            }
            Progress::Error { variant, seed, error } => {
                if let Ok(mut ended) = ended.lock() {
                    ended.0 += 1;
                    ended.1 += 1;
                }
                eprintln!("{} seed {seed}: {error}", name(variant));
            }
        }
    };
    execute(study, &todo, jobs, threads, &stop, &on_progress);
    let (done, failed) = ended.into_inner().unwrap_or_default();
    eprintln!(
        "study {}: {done} of {} runs ended in {} ({failed} failed); `apg-bench study report {}` shows the table",
        study.name,
        todo.len(),
        duration(started.elapsed().as_secs_f64()),
        study.name
    );
    Ok(if stop.load(Ordering::SeqCst) {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn submit(study: &Study, retry_failed: bool, resources: Resources) -> anyhow::Result<ExitCode> {
    let history = History::load(&study.workspace)?;
    let (slots, warnings) = current_slots(study, &history)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let todo = to_run(&slots, retry_failed);
    if todo.is_empty() {
        eprintln!("study {}: nothing to submit (every run is done, running, queued or failed)", study.name);
        return Ok(ExitCode::SUCCESS);
    }
    write_expanded(study).map_err(anyhow::Error::msg)?;
    let job = slurm::submit(study, &todo, &resources).map_err(anyhow::Error::msg)?;
    println!(
        "submitted job {} ({} runs of study {}): {}\n`apg-bench study status {}` follows it",
        job.id,
        todo.len(),
        study.name,
        job.script.display(),
        study.name
    );
    Ok(ExitCode::SUCCESS)
}

fn status(workspace: &Path, name: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let single = name.is_some();
    let names = match name {
        Some(name) => vec![name.to_string()],
        None => names(workspace),
    };
    if names.is_empty() {
        println!("no studies in {}", workspace.join(STUDIES_FOLDER).display());
        return Ok(ExitCode::SUCCESS);
    }
    let history = History::load(workspace)?;
    let mut table = Table::new(&["study", "runs>", "done>", "running>", "failed>", "queued>", "pending>"]);
    let mut reports = Vec::new();
    let mut broken = false;
    for name in &names {
        let study = match Study::open(workspace, name) {
            Ok(study) => study,
            Err(e) if single => return Err(e.into()),
            Err(e) => {
                eprintln!("error: {e}");
                broken = true;
                continue;
            }
        };
        let (slots, warnings) = current_slots(&study, &history)?;
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
        let c = Counts::of(&slots);
        table.row(
            [name.clone()]
                .into_iter()
                .chain([c.total(), c.done, c.running, c.failed, c.queued, c.pending].map(|n| n.to_string()))
                .collect(),
        );
        reports.push(serde_json::json!({ "study": name, "counts": c, "runs": slots_json(&study, &slots) }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        println!("{}", table.render());
    }
    Ok(if broken { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn slots_json(study: &Study, slots: &[Slot]) -> Vec<serde_json::Value> {
    slots
        .iter()
        .map(|s| {
            serde_json::json!({
                "variant": study.variants[s.variant].name,
                "seed": s.seed,
                "state": s.state,
                "run": s.run,
            })
        })
        .collect()
}
