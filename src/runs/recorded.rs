//! A recorded run: one experiment trained on the trainer thread, every event written to
//! its run folder as it comes. This is the one way a run is made; the CLI and the TUI
//! only drive it (stop, pause) and show the events it hands them.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::config::experiment::LoadedExperiment;
use crate::config::{ConfigError, Device};
use crate::data::LoadOptions;
use crate::runs::{Manifest, RunError, RunWriter, read_manifest};
use crate::train::trainer::{self, Control, TrainJob, TrainerHandle};
use crate::train::{BaselineComparison, Event, RunEnd, RunSummary};

/// The run named by `metrics.baseline`, as the new run's RelaImpr needs it.
#[derive(Debug, Clone, PartialEq)]
struct Baseline {
    run: String,
    auc: f64,
    /// The data it trained on; RelaImpr across different data is refused.
    fingerprint: String,
}

/// What [`RecordedRun::next`] saw.
#[derive(Debug)]
pub enum Next {
    /// An event of the trainer, already recorded (unless the run folder failed).
    Event(Event),
    /// Nothing within the timeout.
    Idle,
    /// The trainer has ended: call [`RecordedRun::finish`].
    Done,
}

pub struct RecordedRun {
    writer: RunWriter,
    trainer: TrainerHandle,
    baseline: Option<Baseline>,
    summary: Option<RunSummary>,
}

impl RecordedRun {
    /// Checks the experiment's `metrics.baseline` against the runs of `workspace`,
    /// creates the run folder there and starts training.
    pub fn start(workspace: &Path, loaded: LoadedExperiment, seed: u64, device: Device) -> Result<Self, RunError> {
        let baseline = match loaded.experiment.metrics.baseline.as_deref() {
            None => None,
            Some(id) => Some(
                baseline(workspace, id)
                    .map_err(|why| ConfigError::at_key(&loaded.file, &loaded.text, "metrics.baseline", why))?,
            ),
        };
        let writer = RunWriter::create_in(workspace, &loaded, seed, device)?;
        let checkpoint = Some(writer.checkpoint_path());
        let trainer =
            trainer::spawn(TrainJob { experiment: loaded, seed, device, checkpoint, load: LoadOptions::default() });
        Ok(RecordedRun { writer, trainer, baseline, summary: None })
    }

    pub fn id(&self) -> &str {
        self.writer.id()
    }

    pub fn dir(&self) -> &Path {
        self.writer.dir()
    }

    /// Pauses, resumes and stops the trainer (from another thread too).
    pub fn control(&self) -> Arc<Control> {
        self.trainer.control()
    }

    /// Why the run folder could not be written, once that happened: the run has failed,
    /// the trainer was asked to stop, and nothing more is recorded.
    pub fn write_error(&self) -> Option<&str> {
        self.writer.write_error()
    }

    /// The trainer's next event, recorded in the run folder first (with RelaImpr against
    /// the baseline added to the summary).
    pub fn next(&mut self, timeout: Duration) -> Next {
        let mut event = match self.trainer.events.recv_timeout(timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => return Next::Idle,
            Err(RecvTimeoutError::Disconnected) => return Next::Done,
        };
        if let (Event::Finished { summary }, Some(baseline)) = (&mut event, &self.baseline) {
            summary.baseline = compare_with(baseline, summary, &self.writer.manifest().dataset_fingerprint);
        }
        if self.writer.record(&event).is_err() {
            // The run has failed; the trainer stops after its step, and finish says why.
            self.trainer.stop();
        }
        if let Event::Finished { summary } = &event
            && self.writer.write_error().is_none()
        {
            self.summary = Some((**summary).clone());
        }
        Next::Event(event)
    }

    /// Waits for the trainer (a panic is recorded as the failure it is) and writes the
    /// run's end. `signalled`: a signal asked the run to stop, which makes it interrupted
    /// unless the trainer had already finished (or diverged) by then.
    pub fn finish(self, signalled: bool) -> Result<(Manifest, Option<RunSummary>), RunError> {
        let RecordedRun { mut writer, trainer, summary, .. } = self;
        if let Err(panic) = trainer.join() {
            let _ = writer.record(&Event::Failed { error: format!("the trainer panicked: {panic}") });
        }
        let completed = summary.as_ref().is_some_and(|s| s.status != RunEnd::Stopped);
        let manifest = writer.close(signalled && !completed)?;
        Ok((manifest, summary))
    }
}

/// The test AUC and data of run `id` in `workspace`.
fn baseline(workspace: &Path, id: &str) -> Result<Baseline, String> {
    let auc = crate::runs::baseline_auc(workspace, id)?;
    let dir = workspace.join("runs").join(id);
    let fingerprint = read_manifest(&dir).map(|m| m.dataset_fingerprint).unwrap_or_default();
    Ok(Baseline { run: id.to_string(), auc, fingerprint })
}

/// RelaImpr of the run's test AUC against the baseline's, refused (with the reason) when
/// the two trained on different data.
fn compare_with(baseline: &Baseline, summary: &RunSummary, fingerprint: &str) -> Option<BaselineComparison> {
    let auc = summary.test.as_ref()?.auc?;
    let same_data = baseline.fingerprint.is_empty() || baseline.fingerprint == fingerprint;
    let (rela_impr, refused) = if same_data {
        (crate::metrics::rela_impr(auc, baseline.auc), None)
    } else {
        (None, Some(format!("run {} trained on different data (fingerprint {})", baseline.run, baseline.fingerprint)))
    };
    Some(BaselineComparison { run: baseline.run.clone(), baseline_auc: baseline.auc, rela_impr, refused })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{EvalMetrics, ParamCounts};

    fn summary(test_auc: f64) -> RunSummary {
        let test = EvalMetrics {
            split: "test".into(),
            rows: 10,
            positives: Some(5),
            auc: Some(test_auc),
            logloss: 0.5,
            gauc: None,
            gauc_groups: None,
            gauc_rows: None,
            groups: Vec::new(),
        };
        RunSummary {
            status: RunEnd::Finished,
            reason: None,
            steps: 1,
            epochs_done: 1.0,
            best_step: Some(1),
            best_valid: None,
            test: Some(test),
            params: ParamCounts { dense: 1, embedding: 1 },
            train_seconds: 1.0,
            samples_per_s: 1.0,
            stopped_early: false,
            baseline: None,
        }
    }

    #[test]
    fn rela_impr_only_on_the_same_data() {
        let baseline = Baseline { run: "b".into(), auc: 0.7, fingerprint: "f00d".into() };
        let same = compare_with(&baseline, &summary(0.8), "f00d").unwrap();
        // ((0.8 - 0.5) / (0.7 - 0.5) - 1) x 100 = 50 %.
        assert!((same.rela_impr.unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(same.refused, None);
        let other = compare_with(&baseline, &summary(0.8), "beef").unwrap();
        assert_eq!(other.rela_impr, None);
        assert_eq!(other.refused.as_deref(), Some("run b trained on different data (fingerprint f00d)"));
        // A baseline recorded before fingerprints existed is taken at its word.
        let old = Baseline { fingerprint: String::new(), ..baseline };
        assert!(compare_with(&old, &summary(0.8), "beef").unwrap().rela_impr.is_some());
    }
}
