//! What a training run reports, through a channel, to whoever watches it: the headless
//! progress output, the run folder writer and the TUI all consume the same events.

use serde::{Deserialize, Serialize};

use crate::model::ParamCounts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    LoadingData,
    Building,
    Training,
    Paused,
    Evaluating,
    Testing,
    Finished,
    Stopped,
    /// The training loss became non-finite or exploded (see [`RunEnd::Diverged`]).
    Diverged,
    Failed,
}

/// AUC / logloss / rows for one value of a group field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    pub field: String,
    pub value: String,
    pub rows: usize,
    /// Rows labelled 1: how much the AUC rests on. None in runs recorded before it was kept.
    #[serde(default)]
    pub positives: Option<usize>,
    /// None when the group holds one class only.
    pub auc: Option<f64>,
    pub logloss: f64,
}

/// Metrics of one evaluation of a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    pub split: String,
    pub rows: usize,
    /// Rows labelled 1. None in runs recorded before it was kept.
    #[serde(default)]
    pub positives: Option<usize>,
    pub auc: Option<f64>,
    pub logloss: f64,
    /// GAUC over the raw values of `metrics.gauc_field`: users unseen in training count
    /// one by one, not as the one OOV id.
    pub gauc: Option<f64>,
    /// The values (e.g. users) holding both classes, which GAUC averages over, and their
    /// rows. None without a GAUC field, and in runs recorded before they were kept.
    #[serde(default)]
    pub gauc_groups: Option<usize>,
    #[serde(default)]
    pub gauc_rows: Option<usize>,
    pub groups: Vec<GroupMetrics>,
}

/// One line of metrics.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricsRecord {
    /// Training loss averaged since the previous record.
    Train {
        step: usize,
        epoch: usize,
        loss: f64,
        samples_per_s: f64,
        elapsed_s: f64,
    },
    Eval {
        step: usize,
        epoch: usize,
        elapsed_s: f64,
        metrics: EvalMetrics,
    },
}

/// RelaImpr of this run's test AUC against a named baseline run (docs/model.md, "Loss
/// and metrics").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    pub run: String,
    pub baseline_auc: f64,
    /// ((AUC - 0.5) / (AUC_base - 0.5) - 1) x 100 %.
    /// None when the baseline's AUC is no better than chance, or when refused.
    pub rela_impr: Option<f64>,
    /// Why no RelaImpr is given although both AUCs exist (the baseline trained on other data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// How a run that reached its end ended (a run that could not train reports
/// [`Event::Failed`] instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// Trained to its end, or stopped early on the monitored metric; tested.
    Finished,
    /// Stopped on request; tested on the best model so far.
    Stopped,
    /// The training loss became non-finite or exploded (docs/model.md, "Divergence");
    /// not tested: its numbers mean nothing.
    Diverged,
}

impl RunEnd {
    pub fn name(self) -> &'static str {
        match self {
            RunEnd::Finished => "finished",
            RunEnd::Stopped => "stopped",
            RunEnd::Diverged => "diverged",
        }
    }
}

/// The end of a run: what summary.json holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub status: RunEnd,
    /// Why a diverged run diverged: the step, the loss and the keys to look at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub steps: usize,
    pub epochs_done: f64,
    pub best_step: Option<usize>,
    pub best_valid: Option<EvalMetrics>,
    pub test: Option<EvalMetrics>,
    pub params: ParamCounts,
    pub train_seconds: f64,
    pub samples_per_s: f64,
    pub stopped_early: bool,
    /// Set when the experiment names `metrics.baseline`.
    #[serde(default)]
    pub baseline: Option<BaselineComparison>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Phase {
        phase: Phase,
    },
    /// A human-readable line for log.txt and the log tail.
    Log {
        line: String,
    },
    /// Total steps the run plans (epochs x batches, or max_steps).
    Plan {
        total_steps: usize,
        steps_per_epoch: usize,
        params: ParamCounts,
        dataset_fingerprint: String,
    },
    Metrics {
        record: MetricsRecord,
    },
    /// The best model so far (by the monitored validation metric) was saved.
    Checkpoint {
        step: usize,
        path: std::path::PathBuf,
    },
    Finished {
        summary: Box<RunSummary>,
    },
    Failed {
        error: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// metrics.jsonl and summary.json lines written before positives and GAUC's support
    /// were kept still load, with those numbers unknown rather than zero.
    #[test]
    fn records_of_earlier_versions_load() {
        let line = r#"{"kind":"eval","step":10,"epoch":0,"elapsed_s":1.0,"metrics":{"split":"test","rows":10,
            "auc":0.7,"logloss":0.5,"gauc":0.68,"groups":[{"field":"domain","value":"d0","rows":4,"auc":null,
            "logloss":0.6}]}}"#;
        let MetricsRecord::Eval { metrics, .. } = serde_json::from_str(line).unwrap() else { panic!("an eval") };
        assert_eq!((metrics.positives, metrics.gauc_groups, metrics.gauc_rows), (None, None, None));
        assert_eq!(metrics.gauc, Some(0.68));
        assert_eq!(metrics.groups[0].positives, None);
        let summary = r#"{"status":"stopped","steps":3,"epochs_done":0.1,"best_step":null,"best_valid":null,
            "test":null,"params":{"dense":1,"embedding":2},"train_seconds":1.0,"samples_per_s":3.0,
            "stopped_early":false}"#;
        let summary: RunSummary = serde_json::from_str(summary).unwrap();
        assert_eq!((summary.status, summary.reason), (RunEnd::Stopped, None));
    }
}
