//! Comparison of runs or groups of repeats side by side: metrics with deltas, RelaImpr
//! and the noise verdict against a baseline, per-group test AUC, the config keys that
//! differ, and the curves aligned by step or epoch.

use serde::Serialize;

use crate::format::{Format, thousands};
use crate::metrics::rela_impr;
use crate::runs::RunError;
use crate::runs::columns::RunRow;
use crate::runs::diff::{FlatConfig, differing_keys, label, read_flat_config, shown};
use crate::runs::groups::{Group, NOISE_RULE, Noise, Stat, group_label, split_members};
use crate::runs::history::{History, Run};

/// What the curves are aligned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    #[default]
    Step,
    /// The epoch, counted from 1; a run's last record in an epoch stands for it (the mean
    /// for the training loss).
    Epoch,
}

#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Compare groups of repeats rather than single runs.
    pub groups: bool,
    /// The entry deltas are taken against; the first entry when None. Named like the
    /// entries; added in front when it is not one of them.
    pub baseline: Option<String>,
    pub align: Align,
    /// Compare runs trained on different data (another dataset, or the same one changed)
    /// instead of refusing; the comparison then says so first.
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Run,
    Group,
}

/// One column of the comparison: a run, or a group of repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The run id, or `experiment@hash` for a group.
    pub label: String,
    pub kind: EntryKind,
    pub experiment: String,
    pub config_hash: String,
    /// The runs its numbers are over (a group's finished runs).
    pub runs: Vec<String>,
    pub seeds: Vec<u64>,
    /// Runs of a group left out of its numbers, each as `id (why)`: not finished, or a seed
    /// run again later.
    pub excluded: Vec<String>,
    /// The data its runs trained on, one item per distinct dataset fingerprint.
    pub data: Vec<DataUsed>,
}

/// A dataset as the runs recorded it: the fingerprint of its encoded rows (descriptor and
/// source bytes) and the dataset reference of the run's experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataUsed {
    pub dataset: String,
    pub fingerprint: String,
}

impl std::fmt::Display for DataUsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short: String = self.fingerprint.chars().take(12).collect();
        write!(f, "{} (data {short})", self.dataset)
    }
}

/// One metric of one entry, against the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub stat: Option<Stat>,
    /// mean - baseline mean.
    pub delta: Option<f64>,
    /// RelaImpr of the mean AUC against the baseline's, in percent.
    pub rela_impr: Option<f64>,
    pub noise: Option<Noise>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// One metric across the entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    /// The key filters and sorts use for it (`test.auc`, `test.user_activity.cold.auc`).
    pub key: String,
    pub label: String,
    /// Which way is better, for quality metrics (which get the noise verdict).
    pub better: Option<Better>,
    pub format: Format,
    pub cells: Vec<Cell>,
}

/// A config key whose value differs between entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigRow {
    pub key: String,
    pub label: String,
    /// Per entry; None when absent there (or its config.toml is unreadable).
    pub values: Vec<Option<String>>,
}

/// One run's curve, aligned with the others'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCurve {
    pub run: String,
    /// Index of its entry.
    pub entry: usize,
    pub values: Vec<Option<f64>>,
}

/// A metric along training, every series on the same points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// Steps, or epochs from 1.
    pub at: Vec<usize>,
    /// Per entry: the mean over its runs that have a value at that point.
    pub entries: Vec<Vec<Option<f64>>>,
    pub runs: Vec<RunCurve>,
}

impl Curve {
    /// Indices of at most `most` (at least 2) points spread evenly, the first and last
    /// included: a compact view of a long curve.
    pub fn sample(&self, most: usize) -> Vec<usize> {
        let (n, most) = (self.at.len(), most.max(2));
        if n <= most {
            return (0..n).collect();
        }
        (0..most).map(|i| i * (n - 1) / (most - 1)).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Index of the baseline entry.
    pub baseline: usize,
    pub entries: Vec<Entry>,
    pub metrics: Vec<MetricRow>,
    /// Test AUC per value of each group field.
    pub groups: Vec<MetricRow>,
    pub config: Vec<ConfigRow>,
    pub align: Align,
    pub train_loss: Curve,
    pub valid_auc: Curve,
    pub valid_logloss: Curve,
    pub noise_rule: &'static str,
    /// The entries trained on different data (only compared with `force`): their deltas
    /// mix the data's difference with the models'.
    pub data_differs: bool,
    /// What a reader should know: runs left out, hints; a data mismatch comes first.
    pub notes: Vec<String>,
}

struct MetricDef {
    key: &'static str,
    label: &'static str,
    read: fn(&RunRow) -> Option<f64>,
    better: Option<Better>,
    /// RelaImpr applies (an AUC).
    auc: bool,
    format: Format,
}

const METRICS: &[MetricDef] = &[
    MetricDef {
        key: "test.auc",
        label: "test AUC",
        read: |r| r.test_auc,
        better: Some(Better::Higher),
        auc: true,
        format: Format::Metric,
    },
    MetricDef {
        key: "test.logloss",
        label: "test logloss",
        read: |r| r.test_logloss,
        better: Some(Better::Lower),
        auc: false,
        format: Format::Metric,
    },
    MetricDef {
        key: "test.gauc",
        label: "test GAUC",
        read: |r| r.test_gauc,
        better: Some(Better::Higher),
        auc: true,
        format: Format::Metric,
    },
    MetricDef {
        key: "valid.auc",
        label: "best valid AUC",
        read: |r| r.best_valid_auc,
        better: Some(Better::Higher),
        auc: true,
        format: Format::Metric,
    },
    MetricDef {
        key: "valid.step",
        label: "best valid step",
        read: |r| r.best_step.map(|s| s as f64),
        better: None,
        auc: false,
        format: Format::Count,
    },
    MetricDef {
        key: "params",
        label: "parameters",
        read: |r| r.params.map(|p| p as f64),
        better: None,
        auc: false,
        format: Format::Count,
    },
    MetricDef {
        key: "params.dense",
        label: "dense parameters",
        read: |r| r.params_dense.map(|p| p as f64),
        better: None,
        auc: false,
        format: Format::Count,
    },
    MetricDef {
        key: "samples_per_s",
        label: "samples/s",
        read: |r| r.samples_per_s,
        better: None,
        auc: false,
        format: Format::Rate,
    },
    MetricDef {
        key: "wall",
        label: "wall time",
        read: |r| r.wall_s,
        better: None,
        auc: false,
        format: Format::Duration,
    },
];

/// The keys of the metrics a comparison has for every entry (`test.auc`...), in its order.
pub fn metric_keys() -> Vec<&'static str> {
    METRICS.iter().map(|def| def.key).collect()
}

/// The runs of one entry, while the comparison is built.
struct Selected<'h> {
    entry: Entry,
    /// The runs its numbers are over.
    members: Vec<&'h Run>,
    /// A run whose config.toml stands for the entry's configuration.
    representative: &'h Run,
}

/// Compares the runs (or, with `options.groups`, the groups) that `queries` name.
///
/// A run is named by its id or a unique prefix or suffix of it. With `groups`, a query
/// names a group by an experiment name (when all its runs share one configuration), a
/// config-hash prefix, or any of its runs.
pub fn compare(history: &History, queries: &[String], options: &CompareOptions) -> Result<Comparison, RunError> {
    if queries.is_empty() {
        return Err(RunError::NothingToCompare);
    }
    let select = |query: &str| {
        if options.groups { select_group(history, query) } else { select_run(history, query) }
    };
    let mut selected = queries.iter().map(|q| select(q)).collect::<Result<Vec<_>, _>>()?;
    let baseline = match &options.baseline {
        None => 0,
        Some(query) => {
            let base = select(query)?;
            match selected.iter().position(|s| s.entry == base.entry) {
                Some(index) => index,
                None => {
                    selected.insert(0, base);
                    0
                }
            }
        }
    };

    let mut notes = Vec::new();
    let data_differs = trained_on_different_data(&selected);
    if data_differs {
        let what: Vec<String> = selected
            .iter()
            .map(|s| {
                format!(
                    "{}: {}",
                    s.entry.label,
                    s.entry.data.iter().map(DataUsed::to_string).collect::<Vec<_>>().join(" + ")
                )
            })
            .collect();
        if !options.force {
            return Err(RunError::DifferentData { entries: what });
        }
        notes.push(format!(
            "WARNING: these runs trained on different data, so the deltas and RelaImpr mix the data's difference \
             with the models' ({})",
            what.join("; ")
        ));
    }
    for s in &selected {
        if !s.entry.excluded.is_empty() {
            notes.push(format!("{}: left out of its numbers: {}", s.entry.label, s.entry.excluded.join(", ")));
        }
    }
    if !options.groups {
        let with_repeats: Vec<&str> = selected
            .iter()
            .filter(|s| history.repeats_of(s.representative).count() > 1)
            .map(|s| s.entry.label.as_str())
            .collect();
        if !with_repeats.is_empty() {
            notes.push(format!(
                "{} {} repeats under other seeds: compare groups with --group for a noise band",
                with_repeats.join(", "),
                if with_repeats.len() == 1 { "has" } else { "have" }
            ));
        }
    }

    let metrics = METRICS.iter().map(|def| metric_row(&selected, baseline, def)).collect();
    let groups = group_rows(&selected, baseline);
    let config = config_rows(&selected, &mut notes);
    let train_loss = curve(&selected, options.align, |run, align| {
        points(run.curves.train_loss.iter().map(|p| (p.step, p.epoch, p.loss)), align, true)
    });
    let valid_auc = curve(&selected, options.align, |run, align| {
        points(run.curves.valid.iter().filter_map(|p| Some((p.step, p.epoch, p.auc?))), align, false)
    });
    let valid_logloss = curve(&selected, options.align, |run, align| {
        points(run.curves.valid.iter().map(|p| (p.step, p.epoch, p.logloss)), align, false)
    });
    Ok(Comparison {
        baseline,
        entries: selected.into_iter().map(|s| s.entry).collect(),
        metrics,
        groups,
        config,
        align: options.align,
        train_loss,
        valid_auc,
        valid_logloss,
        noise_rule: NOISE_RULE,
        data_differs,
        notes,
    })
}

/// The distinct data of `runs`: fingerprints in first-seen order (a run that never
/// loaded its data has none).
fn data_of(runs: &[&Run]) -> Vec<DataUsed> {
    let mut data: Vec<DataUsed> = Vec::new();
    for run in runs {
        let fingerprint = &run.manifest.dataset_fingerprint;
        if fingerprint.is_empty() || data.iter().any(|d| &d.fingerprint == fingerprint) {
            continue;
        }
        let dataset = run.config.as_ref().map_or_else(|| "?".into(), |c| dataset_name(&c.dataset));
        data.push(DataUsed { dataset, fingerprint: fingerprint.clone() });
    }
    data
}

/// The dataset reference without the folders a run's frozen config adds to it.
fn dataset_name(reference: &str) -> String {
    let path = std::path::Path::new(reference);
    match path.file_name() {
        Some(name) if path.extension().is_some() => name.to_string_lossy().into_owned(),
        _ => reference.to_string(),
    }
}

/// More than one dataset fingerprint among all the runs compared.
fn trained_on_different_data(selected: &[Selected]) -> bool {
    let mut fingerprints = selected.iter().flat_map(|s| &s.entry.data).map(|d| &d.fingerprint);
    let first = fingerprints.next();
    fingerprints.any(|f| Some(f) != first)
}

fn select_run<'h>(history: &'h History, query: &str) -> Result<Selected<'h>, RunError> {
    let run = history.resolve(query)?;
    let entry = Entry {
        label: run.id().to_string(),
        kind: EntryKind::Run,
        experiment: run.manifest.experiment.clone(),
        config_hash: run.manifest.config_hash.clone(),
        runs: vec![run.id().to_string()],
        seeds: vec![run.manifest.seed],
        excluded: Vec::new(),
        data: data_of(&[run]),
    };
    Ok(Selected { entry, members: vec![run], representative: run })
}

fn select_group<'h>(history: &'h History, query: &str) -> Result<Selected<'h>, RunError> {
    let hash = group_hash(history, query)?;
    let runs: Vec<&Run> = history.runs.iter().filter(|r| r.manifest.config_hash == hash).collect();
    let group = Group::of(runs.iter().copied())
        .ok_or_else(|| RunError::NoMatch { query: query.to_string(), folder: history.folder.clone() })?;
    let (members, _) = split_members(&runs);
    let entry = Entry {
        label: group.label,
        kind: EntryKind::Group,
        experiment: group.experiments.join(", "),
        config_hash: group.config_hash,
        runs: group.members,
        seeds: group.seeds,
        excluded: group.excluded,
        data: data_of(&members),
    };
    Ok(Selected { entry, representative: members.first().copied().unwrap_or(runs[0]), members })
}

/// The config hash a group query names: an experiment name whose runs share one
/// configuration, else a prefix of one config hash, else a run of the group.
fn group_hash(history: &History, query: &str) -> Result<String, RunError> {
    let named = hashes_of(history.runs.iter().filter(|r| r.manifest.experiment == query));
    let prefixed = if query.len() >= 4 && query.chars().all(|c| c.is_ascii_hexdigit()) {
        hashes_of(history.runs.iter().filter(|r| r.manifest.config_hash.starts_with(&query.to_ascii_lowercase())))
    } else {
        Vec::new()
    };
    let candidates = if named.is_empty() { prefixed } else { named };
    match candidates.as_slice() {
        [(hash, _)] => Ok(hash.clone()),
        [] => Ok(history.resolve(query)?.manifest.config_hash.clone()),
        many => Err(RunError::AmbiguousGroup {
            query: query.to_string(),
            candidates: many.iter().map(|(_, label)| label.clone()).collect(),
        }),
    }
}

/// The distinct config hashes of `runs`, each with its group's label.
fn hashes_of<'a>(runs: impl Iterator<Item = &'a Run>) -> Vec<(String, String)> {
    let mut hashes: Vec<(String, String)> = Vec::new();
    for run in runs {
        let hash = &run.manifest.config_hash;
        if !hashes.iter().any(|(h, _)| h == hash) {
            hashes.push((hash.clone(), group_label(&run.manifest.experiment, hash)));
        }
    }
    hashes
}

fn cells(
    selected: &[Selected],
    baseline: usize,
    read: impl Fn(&RunRow) -> Option<f64>,
    auc: bool,
    noise: bool,
) -> Vec<Cell> {
    let stats: Vec<Option<Stat>> =
        selected.iter().map(|s| Stat::of(s.members.iter().filter_map(|r| read(&r.row)))).collect();
    let base = stats[baseline];
    stats
        .iter()
        .enumerate()
        .map(|(i, stat)| {
            let against = base.filter(|_| i != baseline).zip(*stat);
            Cell {
                stat: *stat,
                delta: against.map(|(b, s)| s.mean - b.mean),
                rela_impr: against.filter(|_| auc).and_then(|(b, s)| rela_impr(s.mean, b.mean)),
                noise: against.filter(|_| noise).map(|(b, s)| Noise::judge(&b, &s)),
            }
        })
        .collect()
}

fn metric_row(selected: &[Selected], baseline: usize, def: &MetricDef) -> MetricRow {
    MetricRow {
        key: def.key.to_string(),
        label: def.label.to_string(),
        better: def.better,
        format: def.format,
        cells: cells(selected, baseline, def.read, def.auc, def.better.is_some()),
    }
}

/// Test AUC per (field, value), in the order the entries first report them.
fn group_rows(selected: &[Selected], baseline: usize) -> Vec<MetricRow> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for s in selected {
        for run in &s.members {
            for g in &run.row.test_groups {
                if !keys.iter().any(|(f, v)| *f == g.field && *v == g.value) {
                    keys.push((g.field.clone(), g.value.clone()));
                }
            }
        }
    }
    keys.into_iter()
        .map(|(field, value)| {
            let group = |r: &RunRow| r.test_groups.iter().find(|g| g.field == field && g.value == value).cloned();
            let read = |r: &RunRow| group(r)?.auc;
            // How much the AUC rests on, as the first run reporting the group saw it.
            let support = selected
                .iter()
                .flat_map(|s| &s.members)
                .find_map(|run| group(&run.row))
                .and_then(|g| {
                    Some(format!(" ({} of {} positive)", thousands(g.positives? as u64), thousands(g.rows as u64)))
                })
                .unwrap_or_default();
            MetricRow {
                key: format!("test.{field}.{value}.auc"),
                label: format!("test AUC, {field} = {value}{support}"),
                better: Some(Better::Higher),
                format: Format::Metric,
                cells: cells(selected, baseline, read, true, true),
            }
        })
        .collect()
}

/// The config keys whose values are not the same in every entry; a group shows its seeds.
fn config_rows(selected: &[Selected], notes: &mut Vec<String>) -> Vec<ConfigRow> {
    let configs: Vec<Option<FlatConfig>> = selected
        .iter()
        .map(|s| match read_flat_config(&s.representative.dir) {
            Ok(mut flat) => {
                if s.entry.kind == EntryKind::Group {
                    let seeds: Vec<String> = s.entry.seeds.iter().map(u64::to_string).collect();
                    flat.insert("seed".into(), format!("[{}]", seeds.join(", ")));
                }
                Some(flat)
            }
            Err(e) => {
                notes.push(format!("{}: no config to compare: {e}", s.entry.label));
                None
            }
        })
        .collect();
    let present: Vec<&FlatConfig> = configs.iter().flatten().collect();
    differing_keys(&present)
        .into_iter()
        .map(|key| ConfigRow {
            label: label(&key),
            values: configs.iter().map(|c| c.as_ref().and_then(|c| shown(c, &key))).collect(),
            key,
        })
        .collect()
}

/// (x, value) of records given as (step, epoch, value): by step as they are, by epoch
/// (from 1) the last value of each epoch, or their mean when `mean_per_epoch`.
/// A curve of one run: (step or epoch, value), in order.
type Points = Vec<(usize, f64)>;

fn points(records: impl Iterator<Item = (usize, usize, f64)>, align: Align, mean_per_epoch: bool) -> Points {
    let mut out: Vec<(usize, f64, usize)> = Vec::new();
    for (step, epoch, value) in records {
        let x = match align {
            Align::Step => step,
            Align::Epoch => epoch + 1,
        };
        match out.last_mut() {
            Some(last) if last.0 == x => {
                if mean_per_epoch && align == Align::Epoch {
                    last.1 += value;
                    last.2 += 1;
                } else {
                    *last = (x, value, 1);
                }
            }
            _ => out.push((x, value, 1)),
        }
    }
    out.into_iter().map(|(x, sum, n)| (x, sum / n as f64)).collect()
}

fn curve(selected: &[Selected], align: Align, points_of: impl Fn(&Run, Align) -> Points) -> Curve {
    let per_run: Vec<(usize, &Run, Points)> = selected
        .iter()
        .enumerate()
        .flat_map(|(entry, s)| s.members.iter().map(move |run| (entry, *run)))
        .map(|(entry, run)| (entry, run, points_of(run, align)))
        .collect();
    let mut at: Vec<usize> = per_run.iter().flat_map(|(_, _, p)| p.iter().map(|(x, _)| *x)).collect();
    at.sort_unstable();
    at.dedup();
    let aligned = |points: &[(usize, f64)]| -> Vec<Option<f64>> {
        at.iter().map(|x| points.iter().find(|(px, _)| px == x).map(|(_, v)| *v)).collect()
    };
    let runs: Vec<RunCurve> = per_run
        .iter()
        .map(|(entry, run, p)| RunCurve { run: run.id().to_string(), entry: *entry, values: aligned(p) })
        .collect();
    let entries = (0..selected.len())
        .map(|entry| {
            (0..at.len())
                .map(|i| {
                    let values: Vec<f64> =
                        runs.iter().filter(|r| r.entry == entry).filter_map(|r| r.values[i]).collect();
                    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
                })
                .collect()
        })
        .collect();
    Curve { at, entries, runs }
}

/// The number of a metric for a cell of a table: `0.8029 ± 0.0004`, or `0.8029` alone.
pub fn mean_sd(format: Format, stat: &Stat) -> String {
    match stat.sd {
        Some(sd) => format!("{} ± {}", format.value(stat.mean), format.value(sd)),
        None => format.value(stat.mean),
    }
}

/// A cell against the baseline in words: `+0.0217 (RelaImpr +7.75 %), beyond noise`.
pub fn delta_words(format: Format, cell: &Cell) -> Option<String> {
    let delta = cell.delta?;
    let mut words = format.delta(delta);
    if let Some(r) = cell.rela_impr {
        words += &format!(" (RelaImpr {r:+.2} %)");
    }
    if let Some(noise) = cell.noise {
        words += &format!(", {}", noise.words());
    }
    Some(words)
}
