//! Where a study stands: each of its runs (a variant under a seed) looked up in the
//! workspace's run history by config hash and seed, as done, running, failed or pending.

use std::path::Path;

use serde::Serialize;

use crate::config::ConfigError;
use crate::runs::{History, RunStatus};
use crate::study::{Study, names, slurm};

/// How one run of a study stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A finished run exists.
    Done,
    /// A run is going on (here, or on another host that has not ended it).
    Running,
    /// Its latest run failed or diverged: `study run --retry-failed` runs it again.
    Failed,
    /// Submitted to Slurm, not started yet.
    Queued,
    /// Never run, or interrupted or stopped: the next `study run` runs it.
    Pending,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Running => "running",
            State::Failed => "failed",
            State::Queued => "queued",
            State::Pending => "pending",
        }
    }
}

/// One run a study asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// Index into the study's variants.
    pub variant: usize,
    pub seed: u64,
    pub state: State,
    /// The run that decided the state: the finished one, else the latest.
    pub run: Option<String>,
}

/// The runs of each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub done: usize,
    pub running: usize,
    pub failed: usize,
    pub queued: usize,
    pub pending: usize,
}

impl Counts {
    pub fn of(slots: &[Slot]) -> Counts {
        let mut counts = Counts::default();
        for slot in slots {
            *match slot.state {
                State::Done => &mut counts.done,
                State::Running => &mut counts.running,
                State::Failed => &mut counts.failed,
                State::Queued => &mut counts.queued,
                State::Pending => &mut counts.pending,
            } += 1;
        }
        counts
    }

    pub fn total(&self) -> usize {
        self.done + self.running + self.failed + self.queued + self.pending
    }
}

/// Every run of `study` (variants in order, each under every seed), as the history
/// shows it. A finished run anywhere makes it done; else a running one makes it running;
/// else the latest decides: failed or diverged is failed, interrupted or stopped is pending.
pub fn slots(study: &Study, history: &History) -> Vec<Slot> {
    study
        .slots()
        .map(|(variant, seed)| {
            let hash = &study.variants[variant].config_hash;
            // The history lists runs in id order, so the last one is the latest.
            let runs: Vec<_> =
                history.runs.iter().filter(|r| &r.manifest.config_hash == hash && r.manifest.seed == seed).collect();
            let with = |status: RunStatus| runs.iter().rev().find(|r| r.manifest.status == status);
            let (state, run) = if let Some(run) = with(RunStatus::Finished) {
                (State::Done, Some(run))
            } else if let Some(run) = with(RunStatus::Running) {
                (State::Running, Some(run))
            } else {
                match runs.last() {
                    Some(run) if matches!(run.manifest.status, RunStatus::Failed | RunStatus::Diverged) => {
                        (State::Failed, Some(run))
                    }
                    latest => (State::Pending, latest),
                }
            };
            Slot { variant, seed, state, run: run.map(|r| r.id().to_string()) }
        })
        .collect()
}

/// The runs `study run` should make: the pending ones, and the failed ones when asked to
/// retry them.
pub fn to_run(slots: &[Slot], retry_failed: bool) -> Vec<(usize, u64)> {
    slots
        .iter()
        .filter(|s| s.state == State::Pending || (retry_failed && s.state == State::Failed))
        .map(|s| (s.variant, s.seed))
        .collect()
}

/// The study's slots with its Slurm tasks still waiting marked queued, and what could
/// not be asked of Slurm (the slots then show those runs as pending).
pub fn current(study: &Study, history: &History) -> Result<(Vec<Slot>, Vec<String>), String> {
    let mut slots = slots(study, history);
    let mut warnings = Vec::new();
    let jobs = slurm::jobs(study)?;
    if !jobs.is_empty() {
        match slurm::task_states(&jobs) {
            Ok(states) => slurm::mark_queued(study, &mut slots, &jobs, &states),
            Err(e) => warnings
                .push(format!("Slurm jobs {}: {e}", jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>().join(", "))),
        }
    }
    Ok((slots, warnings))
}

/// One study of a workspace as a list shows it.
#[derive(Debug, Clone)]
pub struct Overview {
    pub name: String,
    /// The expanded study, or why its file does not expand.
    pub study: Result<Study, ConfigError>,
    pub slots: Vec<Slot>,
    /// Mean wall seconds of its finished runs, for an estimate of the time left.
    pub mean_run_s: Option<f64>,
    pub warnings: Vec<String>,
}

impl Overview {
    pub fn counts(&self) -> Counts {
        Counts::of(&self.slots)
    }

    /// Seconds the runs not done yet would take one after another at the pace of the
    /// finished ones.
    pub fn eta_s(&self) -> Option<f64> {
        let c = self.counts();
        let left = c.total() - c.done;
        (left > 0).then_some(self.mean_run_s? * left as f64)
    }
}

/// Every study of `workspace`, in name order, with where its runs stand in `history`.
pub fn overview(workspace: &Path, history: &History) -> Vec<Overview> {
    names(workspace)
        .into_iter()
        .map(|name| {
            let study = Study::open(workspace, &name);
            let (slots, mean_run_s, warnings) = match &study {
                Ok(study) => {
                    let (slots, warnings) =
                        current(study, history).unwrap_or_else(|e| (slots(study, history), vec![e]));
                    let walls: Vec<f64> = slots
                        .iter()
                        .filter(|s| s.state == State::Done)
                        .filter_map(|s| history.runs.iter().find(|r| Some(r.id()) == s.run.as_deref())?.row.wall_s)
                        .collect();
                    let mean = (!walls.is_empty()).then(|| walls.iter().sum::<f64>() / walls.len() as f64);
                    (slots, mean, warnings)
                }
                Err(_) => (Vec::new(), None, Vec::new()),
            };
            Overview { name, study, slots, mean_run_s, warnings }
        })
        .collect()
}
