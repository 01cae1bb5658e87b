//! `run EXPERIMENT.toml`: trains one experiment headless, records it in a run folder,
//! shows progress on stderr (a bar on a terminal, plain lines otherwise) and ends with a
//! summary, or with one JSON object on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::table::Table;
use crate::config::experiment::LoadedExperiment;
use crate::config::{ConfigError, Device};
use crate::format::{Format, duration, rate, thousands};
use crate::runs::compare::mean_sd;
use crate::runs::groups::Stat;
use crate::runs::recorded::{Next, RecordedRun};
use crate::runs::{Manifest, RunStatus, eval_headline, phase_label, workspace_of};
use crate::train::{Event, MetricsRecord, Phase, RunSummary};

/// How often the event loop looks at the signal flag while the trainer is quiet.
const POLL: Duration = Duration::from_millis(100);

/// Exit code of a run ended by a signal (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

const NO_CUDA: &str = "this apg-bench was built without CUDA support; build it with \
                       `cargo build --release --features cuda` (needs the CUDA toolkit)";

/// `--device`: `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(device: &str) -> Result<Device, String> {
    device.parse().map_err(|_| "use cpu, cuda or cuda:N".into())
}

/// What `run` trains and where it records the runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub file: PathBuf,
    /// The workspace whose runs/ folder receives the run folders.
    pub workspace: PathBuf,
}

impl Target {
    /// The experiment `named` (a file, or with a `workspace`, the name of one in its
    /// experiments/ folder) and the workspace its runs go to: `workspace` when given,
    /// else the one the file lies in.
    pub fn resolve(named: &Path, workspace: Option<&Path>) -> anyhow::Result<Target> {
        let Some(workspace) = workspace else {
            return Ok(Target { file: named.to_path_buf(), workspace: workspace_of(named) });
        };
        if !workspace.is_dir() {
            anyhow::bail!("--workspace {}: no such folder", workspace.display());
        }
        let mut with_extension = named.as_os_str().to_os_string();
        with_extension.push(".toml");
        let in_workspace = workspace.join("experiments");
        let file = [named.to_path_buf(), in_workspace.join(named), in_workspace.join(with_extension)]
            .into_iter()
            .find(|candidate| candidate.is_file())
            .unwrap_or_else(|| named.to_path_buf());
        Ok(Target { file, workspace: workspace.to_path_buf() })
    }
}

pub fn run(target: &Target, seed: Option<u64>, device_flag: Option<Device>, json: bool) -> anyhow::Result<ExitCode> {
    let ended = run_once(target, seed, device_flag)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&ended.report())?);
    } else {
        print!("{}", ended.render());
    }
    Ok(ended.exit_code())
}

/// `run --seeds N`: the experiment N times under seeds `first..first + N` (`first` from
/// `--seed`, else the experiment's), one run folder each, then the group's mean ± sample
/// sd test AUC. A signal ends the series after the run it stopped.
pub fn run_seeds(
    target: &Target,
    first: Option<u64>,
    count: u64,
    device_flag: Option<Device>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let first = match first {
        Some(seed) => seed,
        None => LoadedExperiment::from_file(&target.file)?.experiment.seed,
    };
    // The last seed must exist: a saturating range would silently run fewer seeds.
    let Some(last) = first.checked_add(count.saturating_sub(1)) else {
        anyhow::bail!(
            "--seeds {count} from seed {first} runs past the largest seed ({}): start from a smaller --seed",
            u64::MAX
        );
    };
    let mut ended = Vec::new();
    for seed in first..=last {
        let one = run_once(target, Some(seed), device_flag)?;
        if !json {
            print!("{}", one.render());
        }
        let interrupted = one.manifest.status == RunStatus::Interrupted;
        ended.push(one);
        if interrupted {
            break;
        }
    }
    let finished: Vec<&Ended> = ended.iter().filter(|e| e.manifest.status == RunStatus::Finished).collect();
    let test_auc = Stat::of(finished.iter().filter_map(|e| e.summary.as_ref()?.test.as_ref()?.auc));
    let hash = ended.first().map(|e| e.manifest.config_hash.clone()).unwrap_or_default();
    if json {
        let report = json!({
            "config_hash": hash,
            "runs": ended.iter().map(Ended::report).collect::<Vec<_>>(),
            "test_auc": test_auc,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let auc = match test_auc {
            Some(stat) => {
                format!("test AUC {} (mean ± sample sd of {} finished runs)", mean_sd(Format::Metric, &stat), stat.n)
            }
            None => "no finished run with a test AUC".into(),
        };
        let experiment = ended.first().map(|e| e.manifest.experiment.as_str()).unwrap_or_default();
        println!(
            "\n{} seeds of {experiment} (config {hash}): {auc}\ncompare with other configurations: apg-bench runs compare --group {} ...",
            ended.len(),
            &hash[..hash.len().min(8)]
        );
    }
    let failed = ended.iter().map(Ended::exit_code).find(|code| *code != ExitCode::SUCCESS);
    Ok(failed.unwrap_or(ExitCode::SUCCESS))
}

/// A run that has ended, as the commands report it.
struct Ended {
    manifest: Manifest,
    summary: Option<RunSummary>,
    folder: std::path::PathBuf,
}

impl Ended {
    fn report(&self) -> serde_json::Value {
        json!({
            "run_id": self.manifest.id,
            "folder": self.folder,
            "status": self.manifest.status,
            "error": self.manifest.error,
            "summary": self.summary,
        })
    }

    fn render(&self) -> String {
        render_summary(&self.manifest, self.summary.as_ref(), &self.folder.display().to_string())
    }

    fn exit_code(&self) -> ExitCode {
        match self.manifest.status {
            RunStatus::Finished => ExitCode::SUCCESS,
            RunStatus::Failed | RunStatus::Diverged | RunStatus::Running => ExitCode::FAILURE,
            RunStatus::Interrupted | RunStatus::Stopped => ExitCode::from(EXIT_INTERRUPTED),
        }
    }
}

/// Signals this process has received, counted by a handler installed once: `--seeds`
/// runs several experiments in one process, and ctrlc takes one handler per process.
fn signals() -> anyhow::Result<Arc<AtomicUsize>> {
    static SIGNALS: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    if let Some(signals) = SIGNALS.get() {
        return Ok(signals.clone());
    }
    let signals = Arc::new(AtomicUsize::new(0));
    let handler_signals = signals.clone();
    ctrlc::set_handler(move || {
        // The first signal stops the run gracefully; a second one quits at once, leaving
        // the run `running` with a dead pid, which readers report as interrupted.
        if handler_signals.fetch_add(1, Ordering::SeqCst) > 0 {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })?;
    Ok(SIGNALS.get_or_init(|| signals).clone())
}

fn run_once(target: &Target, seed: Option<u64>, device_flag: Option<Device>) -> anyhow::Result<Ended> {
    let loaded = LoadedExperiment::from_file(&target.file)?;
    let seed = seed.unwrap_or(loaded.experiment.seed);
    let device = match device_flag {
        Some(device) => {
            if device.is_cuda() && !cfg!(feature = "cuda") {
                anyhow::bail!("--device {device} needs CUDA, but {NO_CUDA}");
            }
            device
        }
        None => {
            let device = loaded.experiment.device;
            if device.is_cuda() && !cfg!(feature = "cuda") {
                let message = format!("\"{device}\" needs CUDA, but {NO_CUDA}, or run with --device cpu");
                return Err(ConfigError::at_key(&loaded.file, &loaded.text, "device", message).into());
            }
            device
        }
    };

    let signals = signals()?;
    let mut run = RecordedRun::start(&target.workspace, loaded, seed, device)?;
    let mut progress = Progress::new(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    progress.line(&format!("run {} in {}", run.id(), run.dir().display()));
    let control = run.control();
    let mut stop_asked = false;
    loop {
        if signals.load(Ordering::SeqCst) > 0 && !stop_asked {
            control.stop();
            stop_asked = true;
            progress.line("interrupted: stopping after the current step (press Ctrl-C again to quit at once)");
        }
        let failed_before = run.write_error().is_some();
        match run.next(POLL) {
            Next::Idle => continue,
            Next::Done => break,
            // After a failed write the run has failed: what the trainer does while it
            // stops (testing) is neither recorded nor shown.
            Next::Event(_) if failed_before => {}
            Next::Event(event) => match run.write_error() {
                Some(error) => progress.line(&format!("error: {error}: the run fails")),
                None => progress.show(&event),
            },
        }
    }
    progress.finish();
    let folder = run.dir().to_path_buf();
    let (manifest, summary) = run.finish(stop_asked)?;
    Ok(Ended { manifest, summary, folder })
}

/// Progress on stderr: a bar with step/total, loss, samples/s and ETA on a terminal;
/// otherwise a line per evaluation and about every tenth of the steps.
struct Progress {
    terminal: bool,
    bar: Option<ProgressBar>,
    total_steps: usize,
    /// The step from which the next plain progress line is due.
    next_line: usize,
    /// The phase shown last: training resumes after each evaluation without a new line.
    phase: Option<Phase>,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        Progress { terminal, bar: None, total_steps: 0, next_line: 0, phase: None }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn show(&mut self, event: &Event) {
        match event {
            // Evaluations print their own line; the end prints the summary.
            Event::Phase {
                phase: Phase::Evaluating | Phase::Finished | Phase::Stopped | Phase::Diverged | Phase::Failed,
            } => {}
            Event::Phase { phase } if self.phase != Some(*phase) => {
                self.phase = Some(*phase);
                match &self.bar {
                    Some(bar) => bar.set_prefix(phase_label(*phase)),
                    None => self.line(&format!("{}...", phase_label(*phase))),
                }
            }
            Event::Phase { .. } => {}
            Event::Log { line } => self.line(line),
            Event::Plan { total_steps, steps_per_epoch, params, .. } => {
                self.total_steps = *total_steps;
                self.next_line = total_steps.div_ceil(10);
                self.line(&format!(
                    "{} steps ({} per epoch); {} dense and {} embedding parameters",
                    thousands(*total_steps as u64),
                    thousands(*steps_per_epoch as u64),
                    thousands(params.dense as u64),
                    thousands(params.embedding as u64)
                ));
                if self.terminal {
                    let style = ProgressStyle::with_template("{prefix:>9} [{wide_bar}] {pos}/{len}  {msg}  ETA {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                    let bar = ProgressBar::new(*total_steps as u64).with_style(style).with_prefix("training");
                    bar.enable_steady_tick(Duration::from_millis(250));
                    self.bar = Some(bar);
                }
            }
            Event::Metrics { record: MetricsRecord::Train { step, epoch, loss, samples_per_s, elapsed_s } } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(*step as u64);
                    bar.set_message(format!("loss {loss:.4}  {} samples/s", rate(*samples_per_s)));
                } else if *step >= self.next_line {
                    let total = self.total_steps.max(1);
                    self.next_line = (step / total.div_ceil(10) + 1) * total.div_ceil(10);
                    let eta = elapsed_s / *step.max(&1) as f64 * total.saturating_sub(*step) as f64;
                    self.line(&format!(
                        "step {step}/{total} ({:.0}%), epoch {epoch}: loss {loss:.4}, {} samples/s, ETA {}",
                        100.0 * *step as f64 / total as f64,
                        rate(*samples_per_s),
                        duration(eta)
                    ));
                }
            }
            Event::Metrics { record: MetricsRecord::Eval { step, metrics, .. } } => {
                self.line(&format!("{} at step {step}: {}", metrics.split, eval_headline(metrics)));
            }
            Event::Checkpoint { .. } => {}
            Event::Finished { .. } | Event::Failed { .. } => self.finish(),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The human end of a run: status, best validation, test metrics per group, sizes.
pub(super) fn render_summary(manifest: &Manifest, summary: Option<&RunSummary>, folder: &str) -> String {
    let mut out = format!("\nRun {} {}", manifest.id, manifest.status.name());
    if let Some(error) = &manifest.error {
        out += &format!(": {error}");
    }
    out += "\n";
    if let Some(s) = summary {
        out += &format!(
            "{} steps ({:.2} epochs) in {}, {} samples/s{}\n",
            thousands(s.steps as u64),
            s.epochs_done,
            duration(s.train_seconds),
            rate(s.samples_per_s),
            if s.stopped_early { "; stopped early (no improvement within the patience)" } else { "" }
        );
        if let Some(valid) = &s.best_valid {
            let step = s.best_step.map(|step| format!(" (step {step})")).unwrap_or_default();
            out += &format!("best valid{step}: {}\n", eval_headline(valid));
        }
        if let Some(test) = &s.test {
            out += &format!("test: {}\n", eval_headline(test));
            if let Some(b) = &s.baseline {
                out += &match (b.rela_impr, &b.refused) {
                    (_, Some(why)) => format!("RelaImpr vs {}: refused, {why}\n", b.run),
                    (Some(r), None) => format!("RelaImpr vs {} (test AUC {:.4}): {r:+.2} %\n", b.run, b.baseline_auc),
                    (None, None) => format!(
                        "RelaImpr vs {}: none, its test AUC {:.4} is no better than chance\n",
                        b.run, b.baseline_auc
                    ),
                };
            }
            if !test.groups.is_empty() {
                let mut table = Table::new(&["group", "value", "rows>", "positives>", "test AUC>", "logloss>"]);
                for g in &test.groups {
                    table.row(vec![
                        g.field.clone(),
                        g.value.clone(),
                        thousands(g.rows as u64),
                        g.positives.map_or("-".into(), |p| thousands(p as u64)),
                        g.auc.map_or("n/a".into(), |a| format!("{a:.4}")),
                        format!("{:.4}", g.logloss),
                    ]);
                }
                out += &format!("\n{}\n", table.render());
            }
        }
        out += &format!(
            "parameters: {} dense, {} embedding\n",
            thousands(s.params.dense as u64),
            thousands(s.params.embedding as u64)
        );
    }
    out + &format!("run folder: {folder}\n")
}
