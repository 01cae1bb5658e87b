//! The run history of a workspace: every run folder read back, tolerating partial,
//! interrupted and corrupt runs, which are shown as such and reported by path.

use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::config::experiment::{Experiment, Monitor};
use crate::config::parse_toml;
use crate::runs::columns::RunRow;
use crate::runs::{
    CHECKPOINT_FILE, CONFIG_FILE, MANIFEST_FILE, METRICS_FILE, Manifest, RunError, RunStatus, SUMMARY_FILE,
    read_manifest,
};
use crate::train::{EvalMetrics, MetricsRecord, RunSummary};

/// The folder of a workspace that holds its runs.
pub const RUNS_FOLDER: &str = "runs";
/// Where `runs rm` moves runs to, inside the workspace; `runs restore` brings them back.
pub const TRASH_FOLDER: &str = ".trash";

/// A file of the history that could not be read as it should: the listing goes on
/// without it (or without its bad line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub path: PathBuf,
    /// 1-based line, when the problem is on one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One evaluation of the validation split, as a point of a curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalPoint {
    pub step: usize,
    pub epoch: usize,
    pub auc: Option<f64>,
    pub logloss: f64,
    pub gauc: Option<f64>,
}

/// One training-loss record, as a point of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LossPoint {
    pub step: usize,
    pub epoch: usize,
    pub loss: f64,
}

/// What metrics.jsonl holds, kept small: the curves, and what a run without a summary
/// (running, interrupted, failed) can still tell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    pub train_loss: Vec<LossPoint>,
    pub valid: Vec<EvalPoint>,
    /// The last evaluation of the test split, if any.
    pub last_test: Option<EvalMetrics>,
    /// Throughput of the last training record.
    pub last_samples_per_s: Option<f64>,
    /// Seconds since the run started, at its last record.
    pub last_elapsed_s: Option<f64>,
    pub last_step: Option<usize>,
}

/// One run folder, read back.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// None while running, and for runs that ended without one.
    pub summary: Option<RunSummary>,
    /// The resolved experiment (config.toml); None when missing or unreadable.
    pub config: Option<Experiment>,
    pub curves: Curves,
    /// The derived columns that list, filter and sort use.
    pub row: RunRow,
    /// Files of this run that could not be read (fully).
    pub problems: Vec<Problem>,
}

impl Run {
    /// Reads the run folder `dir`: its manifest must be readable, everything else may be
    /// missing or damaged (reported in `problems`).
    pub fn load(dir: &Path) -> Result<Run, RunError> {
        let manifest = read_manifest(dir)?;
        crate::runs::sweep_run(dir, Some(&manifest));
        let mut problems = Vec::new();
        let summary = read_summary(dir, &manifest, &mut problems);
        let config = read_config(dir, &mut problems);
        let curves = read_curves(&dir.join(METRICS_FILE), &mut problems);
        let monitor = config.as_ref().map_or(Monitor::Auc, |c| c.train.monitor);
        let mut row = RunRow::derive(&manifest, summary.as_ref(), config.as_ref(), &curves, monitor);
        row.checkpoint_step = read_checkpoint_step(dir, &manifest, row.best_step, &mut problems);
        Ok(Run { dir: dir.to_path_buf(), manifest, summary, config, curves, row, problems })
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }
}

fn read_summary(dir: &Path, manifest: &Manifest, problems: &mut Vec<Problem>) -> Option<RunSummary> {
    let path = dir.join(SUMMARY_FILE);
    match crate::runs::read_text(&path) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(summary) => Some(summary),
            Err(e) => {
                problems.push(Problem { path, line: Some(e.line()), message: format!("not a run summary: {e}") });
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use crate::runs::RunStatus::{Finished, Stopped};
            if matches!(manifest.status, Finished | Stopped) {
                let message = format!("missing, though the run is {}", manifest.status.name());
                problems.push(Problem { path, line: None, message });
            }
            None
        }
        Err(e) => {
            problems.push(Problem { path, line: None, message: format!("cannot read: {e}") });
            None
        }
    }
}

/// The step model.safetensors holds. A run that has ended with another best step
/// than its checkpoint's (killed while saving a better model, or unable to save it) is
/// flagged: the model on disk is not the one its metrics describe.
fn read_checkpoint_step(
    dir: &Path,
    manifest: &Manifest,
    best_step: Option<usize>,
    problems: &mut Vec<Problem>,
) -> Option<usize> {
    let path = dir.join(CHECKPOINT_FILE);
    if !path.exists() {
        return None;
    }
    match crate::model::checkpoint::saved_step(&path) {
        Ok(step) => {
            if let (Some(saved), Some(best)) = (step, best_step)
                && saved != best
                && manifest.status != RunStatus::Running
            {
                let message = format!(
                    "holds the model of step {saved}, not of the best step {best}: the run ended before it saved that one"
                );
                problems.push(Problem { path, line: None, message });
            }
            step
        }
        Err(e) => {
            problems.push(Problem { path, line: None, message: format!("not a readable checkpoint: {e}") });
            None
        }
    }
}

fn read_config(dir: &Path, problems: &mut Vec<Problem>) -> Option<Experiment> {
    let path = dir.join(CONFIG_FILE);
    let text = match crate::runs::read_text(&path) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem { path, line: None, message: format!("cannot read: {e}") });
            return None;
        }
    };
    match parse_toml::<Experiment>(&path, &text) {
        Ok(experiment) => Some(experiment),
        Err(e) => {
            problems.push(config_problem(&e));
            None
        }
    }
}

/// A [`ConfigError`](crate::config::ConfigError) as a problem of the history.
fn config_problem(e: &crate::config::ConfigError) -> Problem {
    let key = e.key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default();
    Problem { path: e.file.clone(), line: e.position.map(|(line, _)| line), message: format!("{key}{}", e.message) }
}

/// Reads metrics.jsonl, skipping (and reporting) lines that are not metrics records.
/// A missing file reads as no records: a run may die before writing one.
pub fn read_curves(path: &Path, problems: &mut Vec<Problem>) -> Curves {
    let mut curves = Curves::default();
    let text = match crate::runs::read_text(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return curves,
        Err(e) => {
            problems.push(Problem { path: path.to_path_buf(), line: None, message: format!("cannot read: {e}") });
            return curves;
        }
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = match serde_json::from_str::<MetricsRecord>(line) {
            Ok(record) => record,
            Err(e) => {
                let message = format!("skipped a line that is not a metrics record: {e}");
                problems.push(Problem { path: path.to_path_buf(), line: Some(index + 1), message });
                continue;
            }
        };
        match record {
            MetricsRecord::Train { step, epoch, loss, samples_per_s, elapsed_s } => {
                curves.train_loss.push(LossPoint { step, epoch, loss });
                curves.last_samples_per_s = Some(samples_per_s);
                curves.last_elapsed_s = Some(elapsed_s);
                curves.last_step = Some(step);
            }
            MetricsRecord::Eval { step, epoch, elapsed_s, metrics } => {
                curves.last_elapsed_s = Some(elapsed_s);
                curves.last_step = Some(curves.last_step.map_or(step, |s| s.max(step)));
                match metrics.split.as_str() {
                    "valid" => curves.valid.push(EvalPoint {
                        step,
                        epoch,
                        auc: metrics.auc,
                        logloss: metrics.logloss,
                        gauc: metrics.gauc,
                    }),
                    "test" => curves.last_test = Some(metrics),
                    _ => {}
                }
            }
        }
    }
    curves
}

/// Every run folder of one folder (`runs/` or the trash), in id order, and what could
/// not be read there.
#[derive(Debug, Clone)]
pub struct History {
    /// The folder the runs were read from.
    pub folder: PathBuf,
    pub runs: Vec<Run>,
    /// Folders that are not readable runs (no or a corrupt run.toml); per-run problems
    /// are in each [`Run`].
    pub problems: Vec<Problem>,
}

impl History {
    /// The runs of `workspace` (its `runs/` folder; none if it has none yet).
    pub fn load(workspace: &Path) -> Result<History, RunError> {
        Self::load_folder(workspace, &workspace.join(RUNS_FOLDER))
    }

    /// The runs in the trash of `workspace`.
    pub fn load_trash(workspace: &Path) -> Result<History, RunError> {
        Self::load_folder(workspace, &workspace.join(TRASH_FOLDER))
    }

    fn load_folder(workspace: &Path, folder: &Path) -> Result<History, RunError> {
        if !workspace.is_dir() {
            return Err(RunError::NoWorkspace { path: workspace.to_path_buf() });
        }
        let dirs = run_folders(folder)?;
        let loaded: Vec<Result<Run, Problem>> = dirs
            .par_iter()
            .map(|dir| {
                Run::load(dir).map_err(|e| match e {
                    RunError::Manifest(e) => config_problem(&e),
                    RunError::Io { path, error, .. } if error.kind() == std::io::ErrorKind::NotFound => Problem {
                        path,
                        line: None,
                        message: format!("missing: not a run folder without {MANIFEST_FILE}"),
                    },
                    other => Problem { path: dir.clone(), line: None, message: other.to_string() },
                })
            })
            .collect();
        let mut history = History { folder: folder.to_path_buf(), runs: Vec::new(), problems: Vec::new() };
        for result in loaded {
            match result {
                Ok(run) => history.runs.push(run),
                Err(problem) => history.problems.push(problem),
            }
        }
        Ok(history)
    }

    /// Every problem: unreadable folders first, then each run's, in id order.
    pub fn all_problems(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().chain(self.runs.iter().flat_map(|r| &r.problems))
    }

    /// The run named by `query`: its full id, or a prefix or suffix of exactly one id.
    /// A query that names only a folder that could not be read says why.
    pub fn resolve(&self, query: &str) -> Result<&Run, RunError> {
        let id = match resolve_name(self.runs.iter().map(Run::id), query, &self.folder) {
            Ok(id) => id,
            Err(RunError::NoMatch { .. }) if !query.is_empty() => {
                let named = |p: &&Problem| {
                    let folder = p.path.strip_prefix(&self.folder).ok().and_then(|rest| rest.iter().next());
                    folder.map(|f| f.to_string_lossy()).is_some_and(|f| f.starts_with(query) || f.ends_with(query))
                };
                return Err(match self.problems.iter().find(named) {
                    Some(problem) => RunError::Unreadable { problem: problem.to_string() },
                    None => RunError::NoMatch { query: query.to_string(), folder: self.folder.clone() },
                });
            }
            Err(other) => return Err(other),
        };
        let found = self.runs.iter().find(|r| r.id() == id);
        found.ok_or_else(|| RunError::NoMatch { query: query.to_string(), folder: self.folder.clone() })
    }

    /// Runs sharing `run`'s configuration (its config hash), itself included.
    pub fn repeats_of<'a>(&'a self, run: &'a Run) -> impl Iterator<Item = &'a Run> {
        self.runs.iter().filter(move |r| r.manifest.config_hash == run.manifest.config_hash)
    }
}

/// The sub-folders of `folder`, sorted by name; none when `folder` does not exist.
fn run_folders(folder: &Path) -> Result<Vec<PathBuf>, RunError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(RunError::Io { action: "read", path: folder.to_path_buf(), error }),
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    Ok(dirs)
}

/// The names of the run folders in `folder`, sorted.
pub fn folder_names(folder: &Path) -> Result<Vec<String>, RunError> {
    Ok(run_folders(folder)?.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect())
}

/// The one name among `names` that `query` names: equal to it, else the only name that
/// starts or ends with it. No match, or several, is an error listing the candidates.
pub fn resolve_name<'a>(names: impl Iterator<Item = &'a str>, query: &str, folder: &Path) -> Result<&'a str, RunError> {
    if query.is_empty() {
        return Err(RunError::NoMatch { query: query.to_string(), folder: folder.to_path_buf() });
    }
    let mut candidates = Vec::new();
    for name in names {
        if name == query {
            return Ok(name);
        }
        if name.starts_with(query) || name.ends_with(query) {
            candidates.push(name);
        }
    }
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(RunError::NoMatch { query: query.to_string(), folder: folder.to_path_buf() }),
        many => Err(RunError::Ambiguous {
            query: query.to_string(),
            candidates: many.iter().map(|s| s.to_string()).collect(),
        }),
    }
}
