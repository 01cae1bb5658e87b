//! The derived columns of a run (what the list shows and `--json` prints) and the keys
//! that name them in filters and sorts (`auc`, `valid.auc`, `condition.mode`...).

use serde::Serialize;

use crate::config::experiment::{Experiment, Monitor, Variant};
use crate::runs::history::{Curves, EvalPoint};
use crate::runs::{Manifest, RunStatus, UtcTime};
use crate::train::{EvalMetrics, GroupMetrics, RunSummary};

/// A run as one row of the history: everything it can be listed, filtered or sorted by.
/// Metrics come from summary.json, or from metrics.jsonl for a run that has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: String,
    pub experiment: String,
    pub status: RunStatus,
    /// RFC 3339, UTC.
    pub started: String,
    pub ended: Option<String>,
    /// From start to end; for a run without an end, to its last metrics record.
    pub wall_s: Option<f64>,
    pub host: String,
    pub device: String,
    pub seed: u64,
    pub version: String,
    pub config_hash: String,
    pub tags: Vec<String>,
    pub note: String,
    pub error: Option<String>,
    pub steps: Option<usize>,
    /// Best validation AUC (by the monitored metric) and the step it was reached at.
    pub best_valid_auc: Option<f64>,
    pub best_valid_logloss: Option<f64>,
    pub best_valid_gauc: Option<f64>,
    pub best_step: Option<usize>,
    /// The step of the model model.safetensors holds (its metadata); None without one, or
    /// for a checkpoint of an older apg-bench. It differs from `best_step` when the run
    /// ended before it could save its best model.
    pub checkpoint_step: Option<usize>,
    pub test_auc: Option<f64>,
    pub test_logloss: Option<f64>,
    pub test_gauc: Option<f64>,
    /// Test metrics per value of each group field (e.g. user_activity = cold).
    pub test_groups: Vec<GroupMetrics>,
    /// Dense plus embedding parameters.
    pub params: Option<usize>,
    pub params_dense: Option<usize>,
    pub params_embedding: Option<usize>,
    pub samples_per_s: Option<f64>,
    pub base_model: Option<String>,
    /// `static`, `v1`..`v5`.
    pub variant: Option<String>,
    /// `group`, `mix` or `self`; None for a static model, which has no condition.
    pub condition_mode: Option<String>,
    pub condition_fields: Vec<String>,
    /// K per hidden layer as configured (`32,16`, or `8` for every layer); None when static.
    pub rank: Option<String>,
    /// P per hidden layer (v5 only; 2K unless configured).
    pub overparam: Option<String>,
}

impl RunRow {
    pub fn derive(
        manifest: &Manifest,
        summary: Option<&RunSummary>,
        config: Option<&Experiment>,
        curves: &Curves,
        monitor: Monitor,
    ) -> RunRow {
        let m = manifest;
        let wall_s = match (m.ended.as_deref().and_then(UtcTime::parse_rfc3339), UtcTime::parse_rfc3339(&m.started)) {
            (Some(end), Some(start)) => Some(end.seconds_since(&start)),
            _ => curves.last_elapsed_s,
        };
        let mut row = RunRow {
            id: m.id.clone(),
            experiment: m.experiment.clone(),
            status: m.status,
            started: m.started.clone(),
            ended: m.ended.clone(),
            wall_s,
            host: m.host.clone(),
            device: m.device.to_string(),
            seed: m.seed,
            version: m.version.clone(),
            config_hash: m.config_hash.clone(),
            tags: m.tags.clone(),
            note: m.note.clone(),
            error: m.error.clone(),
            steps: curves.last_step,
            best_valid_auc: None,
            best_valid_logloss: None,
            best_valid_gauc: None,
            best_step: None,
            checkpoint_step: None,
            test_auc: None,
            test_logloss: None,
            test_gauc: None,
            test_groups: Vec::new(),
            params: None,
            params_dense: None,
            params_embedding: None,
            samples_per_s: curves.last_samples_per_s,
            base_model: None,
            variant: None,
            condition_mode: None,
            condition_fields: Vec::new(),
            rank: None,
            overparam: None,
        };
        let test = match summary {
            Some(s) => {
                row.steps = Some(s.steps);
                row.best_step = s.best_step;
                row.set_best_valid(s.best_valid.as_ref());
                row.params = Some(s.params.dense + s.params.embedding);
                row.params_dense = Some(s.params.dense);
                row.params_embedding = Some(s.params.embedding);
                row.samples_per_s = Some(s.samples_per_s);
                s.test.as_ref()
            }
            None => {
                let better = |a: &&EvalPoint, b: &&EvalPoint| match monitor {
                    Monitor::Auc => a.auc.unwrap_or(f64::NEG_INFINITY).total_cmp(&b.auc.unwrap_or(f64::NEG_INFINITY)),
                    Monitor::Logloss => b.logloss.total_cmp(&a.logloss),
                };
                // The first of equally good evaluations, as the trainer keeps it.
                if let Some(best) = curves.valid.iter().rev().max_by(better) {
                    row.best_step = Some(best.step);
                    row.best_valid_auc = best.auc;
                    row.best_valid_logloss = Some(best.logloss);
                    row.best_valid_gauc = best.gauc;
                }
                curves.last_test.as_ref()
            }
        };
        if let Some(t) = test {
            row.test_auc = t.auc;
            row.test_logloss = Some(t.logloss);
            row.test_gauc = t.gauc;
            row.test_groups = t.groups.clone();
        }
        if let Some(e) = config {
            row.set_model(e);
        }
        row
    }

    fn set_best_valid(&mut self, valid: Option<&EvalMetrics>) {
        if let Some(v) = valid {
            self.best_valid_auc = v.auc;
            self.best_valid_logloss = Some(v.logloss);
            self.best_valid_gauc = v.gauc;
        }
    }

    fn set_model(&mut self, e: &Experiment) {
        self.base_model = Some(serde_name(&e.model.base));
        self.variant = Some(serde_name(&e.apg.variant));
        if e.apg.variant == Variant::Static {
            return;
        }
        let condition = &e.apg.condition;
        self.condition_mode = Some(serde_name(&condition.mode));
        self.condition_fields = condition.fields.clone();
        let joined = |values: &[usize]| values.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        self.rank = Some(joined(&e.apg.rank));
        if e.apg.variant == Variant::V5 {
            let overparam = if e.apg.overparam.is_empty() {
                e.apg.rank.iter().map(|k| 2 * k).collect()
            } else {
                e.apg.overparam.clone()
            };
            self.overparam = Some(joined(&overparam));
        }
    }

    /// `dnn`, `dnn v5 group[domain] K=32,16 P=64,32`: the model in a few words.
    pub fn model_label(&self) -> String {
        let mut words: Vec<String> = self.base_model.iter().cloned().collect();
        match self.variant.as_deref() {
            None | Some("static") => {}
            Some(variant) => {
                words.push(variant.to_string());
                if let Some(mode) = &self.condition_mode {
                    let fields = if self.condition_fields.is_empty() {
                        String::new()
                    } else {
                        format!("[{}]", self.condition_fields.join(","))
                    };
                    words.push(format!("{mode}{fields}"));
                }
                words.extend(self.rank.as_ref().map(|k| format!("K={k}")));
                words.extend(self.overparam.as_ref().map(|p| format!("P={p}")));
            }
        }
        words.join(" ")
    }
}

/// The name serde gives a unit variant (`v5`, `group`, `self`).
fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// What a key reads from a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Number(f64),
    Text(&'a str),
    /// Several texts (tags, condition fields): `=` holds when one of them is equal.
    List(&'a [String]),
    /// The run has no such value (no summary yet, a static model's condition...).
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
    List,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Number => "number",
            Kind::Text => "text",
            Kind::List => "list",
        }
    }
}

/// A column with its key names.
pub struct Column {
    /// The key, as filters, sorts and the help name it.
    pub name: &'static str,
    /// Other names accepted for it.
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub about: &'static str,
    read: fn(&RunRow) -> Value<'_>,
}

fn number<T: Into<f64>>(value: Option<T>) -> Value<'static> {
    value.map_or(Value::Missing, |v| Value::Number(v.into()))
}

fn count(value: Option<usize>) -> Value<'static> {
    number(value.map(|v| v as f64))
}

fn text(value: Option<&str>) -> Value<'_> {
    value.map_or(Value::Missing, Value::Text)
}

/// Every fixed column. Per-group test metrics have keys of their own (see [`Key`]).
pub const COLUMNS: &[Column] = &[
    Column { name: "id", aliases: &["run"], kind: Kind::Text, about: "the run id", read: |r| Value::Text(&r.id) },
    Column {
        name: "experiment",
        aliases: &[],
        kind: Kind::Text,
        about: "the experiment's name",
        read: |r| Value::Text(&r.experiment),
    },
    Column {
        name: "status",
        aliases: &[],
        kind: Kind::Text,
        about: "running, finished, failed, interrupted or stopped",
        read: |r| Value::Text(r.status.name()),
    },
    Column { name: "test.auc", aliases: &["auc"], kind: Kind::Number, about: "test AUC", read: |r| number(r.test_auc) },
    Column {
        name: "test.logloss",
        aliases: &["logloss"],
        kind: Kind::Number,
        about: "test logloss",
        read: |r| number(r.test_logloss),
    },
    Column {
        name: "test.gauc",
        aliases: &["gauc"],
        kind: Kind::Number,
        about: "test GAUC",
        read: |r| number(r.test_gauc),
    },
    Column {
        name: "valid.auc",
        aliases: &["best_valid_auc"],
        kind: Kind::Number,
        about: "the best validation AUC",
        read: |r| number(r.best_valid_auc),
    },
    Column {
        name: "valid.logloss",
        aliases: &[],
        kind: Kind::Number,
        about: "validation logloss at the best step",
        read: |r| number(r.best_valid_logloss),
    },
    Column {
        name: "valid.gauc",
        aliases: &[],
        kind: Kind::Number,
        about: "validation GAUC at the best step",
        read: |r| number(r.best_valid_gauc),
    },
    Column {
        name: "valid.step",
        aliases: &["best_step"],
        kind: Kind::Number,
        about: "the step of the best validation",
        read: |r| count(r.best_step),
    },
    Column {
        name: "checkpoint.step",
        aliases: &[],
        kind: Kind::Number,
        about: "the step of the model saved in model.safetensors",
        read: |r| count(r.checkpoint_step),
    },
    Column { name: "steps", aliases: &[], kind: Kind::Number, about: "steps trained", read: |r| count(r.steps) },
    Column {
        name: "params",
        aliases: &[],
        kind: Kind::Number,
        about: "parameters, dense and embedding",
        read: |r| count(r.params),
    },
    Column {
        name: "params.dense",
        aliases: &[],
        kind: Kind::Number,
        about: "dense parameters (tower, APG, generator)",
        read: |r| count(r.params_dense),
    },
    Column {
        name: "params.embedding",
        aliases: &[],
        kind: Kind::Number,
        about: "embedding table entries",
        read: |r| count(r.params_embedding),
    },
    Column {
        name: "samples_per_s",
        aliases: &["throughput"],
        kind: Kind::Number,
        about: "training samples per second",
        read: |r| number(r.samples_per_s),
    },
    Column {
        name: "wall",
        aliases: &["wall_s"],
        kind: Kind::Number,
        about: "wall time in seconds",
        read: |r| number(r.wall_s),
    },
    Column {
        name: "model.base",
        aliases: &["base"],
        kind: Kind::Text,
        about: "dnn, wdl, deepfm, dcn or dcnv2",
        read: |r| text(r.base_model.as_deref()),
    },
    Column {
        name: "apg.variant",
        aliases: &["variant"],
        kind: Kind::Text,
        about: "static or v1..v5",
        read: |r| text(r.variant.as_deref()),
    },
    Column {
        name: "condition.mode",
        aliases: &["apg.condition.mode"],
        kind: Kind::Text,
        about: "group, mix or self (missing for static models)",
        read: |r| text(r.condition_mode.as_deref()),
    },
    Column {
        name: "condition.fields",
        aliases: &["apg.condition.fields"],
        kind: Kind::List,
        about: "the condition fields",
        read: |r| Value::List(&r.condition_fields),
    },
    Column {
        name: "apg.rank",
        aliases: &["k", "rank"],
        kind: Kind::Text,
        about: "K per layer as configured, e.g. 8 or \"32,16\"",
        read: |r| text(r.rank.as_deref()),
    },
    Column {
        name: "apg.overparam",
        aliases: &["p", "overparam"],
        kind: Kind::Text,
        about: "P per layer (v5)",
        read: |r| text(r.overparam.as_deref()),
    },
    Column {
        name: "seed",
        aliases: &[],
        kind: Kind::Number,
        about: "the seed",
        read: |r| Value::Number(r.seed as f64),
    },
    Column { name: "device", aliases: &[], kind: Kind::Text, about: "cpu or cuda:N", read: |r| Value::Text(&r.device) },
    Column { name: "host", aliases: &[], kind: Kind::Text, about: "the machine", read: |r| Value::Text(&r.host) },
    Column {
        name: "started",
        aliases: &["start"],
        kind: Kind::Text,
        about: "start time, RFC 3339 UTC (compares as text: started >= 2026-11-29)",
        read: |r| Value::Text(&r.started),
    },
    Column {
        name: "config_hash",
        aliases: &["hash"],
        kind: Kind::Text,
        about: "hash of the configuration without the seed: repeats share it",
        read: |r| Value::Text(&r.config_hash),
    },
    Column {
        name: "tag",
        aliases: &["tags"],
        kind: Kind::List,
        about: "the run's tags",
        read: |r| Value::List(&r.tags),
    },
    Column { name: "note", aliases: &[], kind: Kind::Text, about: "the run's note", read: |r| Value::Text(&r.note) },
    Column {
        name: "version",
        aliases: &[],
        kind: Kind::Text,
        about: "the apg-bench version that ran it",
        read: |r| Value::Text(&r.version),
    },
];

/// A per-group test metric: `test.<field>.<value>.auc` (also `.logloss`, `.rows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub field: String,
    pub value: String,
    pub metric: GroupMetric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMetric {
    Auc,
    Logloss,
    Rows,
}

/// A key of filters and sorts: a fixed column or a per-group test metric.
#[derive(Debug, Clone)]
pub enum KeyName {
    Column(&'static Column),
    Group(GroupKey),
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl GroupMetric {
    pub fn name(self) -> &'static str {
        match self {
            GroupMetric::Auc => "auc",
            GroupMetric::Logloss => "logloss",
            GroupMetric::Rows => "rows",
        }
    }
}

impl KeyName {
    /// The key named `name` (case-insensitive, except a group's field and value), or None.
    pub fn parse(name: &str) -> Option<KeyName> {
        let lower = name.to_ascii_lowercase();
        if let Some(column) = COLUMNS.iter().find(|c| c.name == lower || c.aliases.contains(&lower.as_str())) {
            return Some(KeyName::Column(column));
        }
        if !lower.starts_with("test.") {
            return None;
        }
        let (field_value, metric) = name["test.".len()..].rsplit_once('.')?;
        let metric = [GroupMetric::Auc, GroupMetric::Logloss, GroupMetric::Rows]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(metric))?;
        let (field, value) = field_value.split_once('.')?;
        (!field.is_empty() && !value.is_empty())
            .then(|| KeyName::Group(GroupKey { field: field.to_string(), value: value.to_string(), metric }))
    }

    pub fn kind(&self) -> Kind {
        match self {
            KeyName::Column(c) => c.kind,
            KeyName::Group(_) => Kind::Number,
        }
    }

    pub fn name(&self) -> String {
        match self {
            KeyName::Column(c) => c.name.to_string(),
            KeyName::Group(g) => format!("test.{}.{}.{}", g.field, g.value, g.metric.name()),
        }
    }

    pub fn read<'r>(&self, row: &'r RunRow) -> Value<'r> {
        match self {
            KeyName::Column(c) => (c.read)(row),
            KeyName::Group(g) => {
                let group = row.test_groups.iter().find(|m| m.field == g.field && m.value == g.value);
                match (group, g.metric) {
                    (None, _) => Value::Missing,
                    (Some(m), GroupMetric::Auc) => number(m.auc),
                    (Some(m), GroupMetric::Logloss) => Value::Number(m.logloss),
                    (Some(m), GroupMetric::Rows) => Value::Number(m.rows as f64),
                }
            }
        }
    }
}

/// The keys, for `--help`: one line each.
pub fn keys_help() -> String {
    let mut out = String::from("Keys (for --filter and --sort):\n");
    for c in COLUMNS {
        let names = std::iter::once(c.name).chain(c.aliases.iter().copied()).collect::<Vec<_>>().join(", ");
        out += &format!("  {names:<40} {} ({})\n", c.about, c.kind.name());
    }
    out += "  test.<field>.<value>.auc|logloss|rows    a group's test metric, e.g. test.user_activity.cold.auc\n";
    out
}
