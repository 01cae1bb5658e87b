//! The weight inspector: what a finished run's APG layers generate. It loads the run's
//! saved model and its dataset, has the generators produce their parts for the rows of a
//! split, and returns plain numbers: per condition value (group-wise) its S, generated
//! bias, deviation from the mean S and the similarity of the groups' S and of their
//! effective weights W = U S V; for every mode the instances' S projected to 2-D (PCA),
//! how much of S's variance each categorical field explains, how far the instances' S
//! move from the mean S, and which condition values get the most distinct S. The CLI
//! (`apg-bench inspect`) prints or exports it, the TUI's Inspect panel draws it.

pub mod linalg;

use std::path::Path;

use dfdx::prelude::*;
use serde::Serialize;

use crate::config::experiment::{ConditionMode, LoadedExperiment, Variant};
use crate::data::{self, Column, EncodedDataset, EncodedKind, LoadOptions};
use crate::metrics;
use crate::model::Model;
use crate::model::layers::Head;
use crate::model::probe::LayerParts;
use crate::runs::{CHECKPOINT_FILE, CONFIG_FILE, History};

/// Rows of the split whose S is computed, by default.
pub const DEFAULT_SAMPLE: usize = 2000;

/// The most generated values (rows x entries) held at once: a v1 layer generates
/// N_in x N_out per row, so fewer rows are sampled there.
const MAX_VALUES: usize = 20_000_000;

/// The largest groups x N_in x N_out for which the effective weights W are formed.
const MAX_WEIGHT_VALUES: usize = 50_000_000;

/// The most groups whose pairwise similarities are computed.
pub const MAX_PAIRWISE_GROUPS: usize = 200;

/// Colour classes of a projection: the most frequent values, the rest as `other`.
pub const MAX_COLOURS: usize = 8;

/// Condition values listed as the most distinct.
const TOP_DISTINCT: usize = 10;

/// What to inspect.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// One tower layer (its index, as in `tower0`); None: every APG layer.
    pub layer: Option<usize>,
    /// train, valid or test.
    pub split: String,
    /// The categorical field whose values colour the projection (and whose share of
    /// S's variance is reported first); None: the first condition field, else the first
    /// of `metrics.group_fields`, else the first categorical field.
    pub colour_by: Option<String>,
    /// Rows of the split whose S is computed (evenly spaced); 0: all of them.
    pub sample: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { layer: None, split: "test".into(), colour_by: None, sample: DEFAULT_SAMPLE }
    }
}

/// Everything the inspector found in one run.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub run: String,
    pub experiment: String,
    /// group, mix or self.
    pub mode: String,
    pub variant: String,
    pub condition_fields: Vec<String>,
    /// The training step of the saved model.
    pub step: Option<usize>,
    pub split: String,
    pub split_rows: usize,
    /// Rows whose S was computed (evenly spaced over the split).
    pub sample_rows: usize,
    pub colour_by: String,
    /// The categorical fields one can colour by.
    pub fields: Vec<String>,
    pub layers: Vec<LayerInspection>,
}

/// One APG layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInspection {
    /// The tower layer's index (`towerN`).
    pub layer: usize,
    pub n_in: usize,
    pub n_out: usize,
    pub rank: usize,
    /// What is compared: `S` (K x K) or, for v1, the whole `W` (N_in x N_out).
    pub generated: String,
    /// The shape of one generator's generated matrix.
    pub shape: (usize, usize),
    /// Generators per layer (several when a mix-wise layer runs once per field); an
    /// instance's S is theirs side by side.
    pub generators: usize,
    /// The mean S over the sampled rows.
    pub mean: Vec<f32>,
    /// ||S_i - mean S|| over the sampled rows.
    pub deviation: Distribution,
    /// Group-wise runs: one row per condition value.
    pub groups: Option<Groups>,
    pub projection: Projection,
    /// Each categorical field's share of S's variance (largest first).
    pub separation: Vec<FieldShare>,
    /// The condition values (of the colour field, for self-wise runs) whose mean S lies
    /// farthest from the mean S.
    pub distinct: Vec<DistinctValue>,
}

/// How a quantity spreads over the sampled rows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distribution {
    pub mean: f64,
    /// Minimum, 10 %, 25 %, median, 75 %, 90 %, maximum.
    pub quantiles: [f64; 7],
    /// Equal-width bins from the minimum to the maximum: (lower edge, rows).
    pub histogram: Vec<(f64, usize)>,
}

/// The condition values of a group-wise run.
#[derive(Debug, Clone, Serialize)]
pub struct Groups {
    /// The condition field(s), joined by `+`.
    pub field: String,
    pub rows: Vec<GroupRow>,
    /// cos(vec S_a, vec S_b), in the order of `rows`; empty above
    /// [`MAX_PAIRWISE_GROUPS`] groups.
    pub core_cosine: Vec<Vec<Option<f64>>>,
    /// cos(vec W_a, vec W_b) with W = U S V; None when too large to form.
    pub weight_cosine: Option<Vec<Vec<Option<f64>>>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub value: String,
    /// S, row-major.
    pub core: Vec<f32>,
    /// The generated bias, when the bias is generated.
    pub bias: Option<Vec<f32>>,
    pub bias_norm: Option<f64>,
    /// ||S - mean S||.
    pub deviation: f64,
    /// Rows of the split with this value, their clicks and the model's AUC on them.
    pub rows: usize,
    pub positives: usize,
    pub auc: Option<f64>,
}

/// The sampled rows' S on the first two principal components.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    pub points: Vec<[f64; 2]>,
    /// Each point's colour class: an index into `legend`.
    pub colours: Vec<usize>,
    /// The colour classes: the colour field's most frequent values, then `other`.
    pub legend: Vec<String>,
    /// The share of S's variance on each component.
    pub explained: [f64; 2],
    /// The share of S's variance the colour field explains.
    pub colour_share: Option<linalg::Share>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldShare {
    pub field: String,
    /// Distinct values among the sampled rows.
    pub values: usize,
    pub share: Option<linalg::Share>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DistinctValue {
    pub field: String,
    pub value: String,
    pub rows: usize,
    /// ||mean S of its rows - mean S||.
    pub distance: f64,
}

/// Inspects run `query` (an id, or a unique prefix or suffix) of `workspace`.
pub fn inspect_run(workspace: &Path, query: &str, options: &Options) -> Result<Inspection, String> {
    let history = History::load(workspace).map_err(|e| e.to_string())?;
    let run = history.resolve(query).map_err(|e| e.to_string())?;
    inspect_folder(&run.dir, options)
}

/// Inspects the run in folder `dir`: its config.toml, model.safetensors and dataset.
pub fn inspect_folder(dir: &Path, options: &Options) -> Result<Inspection, String> {
    let manifest = crate::runs::read_manifest(dir).map_err(|e| e.to_string())?;
    let id = manifest.id.clone();
    let loaded = LoadedExperiment::from_file(&dir.join(CONFIG_FILE)).map_err(|e| e.to_string())?;
    if loaded.experiment.apg.variant == Variant::Static {
        return Err(format!("run {id} trained a static model (apg.variant = static): it generates no weights"));
    }
    let checkpoint = dir.join(CHECKPOINT_FILE);
    if !checkpoint.is_file() {
        return Err(format!(
            "run {id} has no saved model ({}): it ended before its first evaluation",
            checkpoint.display()
        ));
    }
    let (dataset, _) = data::load(&loaded.dataset, &LoadOptions::default()).map_err(|e| e.to_string())?;
    if !manifest.dataset_fingerprint.is_empty() && manifest.dataset_fingerprint != dataset.fingerprint {
        return Err(format!(
            "run {id} trained on other data than {} holds now (fingerprint {} then, {} now): its vocabularies \
             would not match the saved embeddings",
            loaded.dataset.file.display(),
            manifest.dataset_fingerprint,
            dataset.fingerprint
        ));
    }
    let mut model = Model::new(&loaded, &dataset, Cpu::default(), manifest.seed)?;
    let step = crate::model::checkpoint::load(&mut model, &checkpoint)?;
    let mut inspection = analyse(&mut model, &dataset, &loaded, options)?;
    inspection.run = id;
    inspection.step = step;
    Ok(inspection)
}

/// Rows `split` of `dataset`.
fn split_rows<'a>(dataset: &'a EncodedDataset, split: &str) -> Result<&'a [u32], String> {
    match split {
        "train" => Ok(&dataset.split.train),
        "valid" => Ok(&dataset.split.valid),
        "test" => Ok(&dataset.split.test),
        other => Err(format!("no split `{other}`: train, valid or test")),
    }
}

/// `count` rows spread evenly over `rows` (all of them when count is 0 or more).
fn evenly(rows: &[u32], count: usize) -> Vec<u32> {
    if count == 0 || count >= rows.len() {
        return rows.to_vec();
    }
    (0..count).map(|i| rows[i * rows.len() / count]).collect()
}

/// One id per row of a single-valued categorical field.
fn ids<'a>(dataset: &'a EncodedDataset, name: &str) -> Option<(&'a [u32], &'a [String])> {
    let field = dataset.field(name)?;
    match &field.column {
        Column::Ids(ids) => Some((ids, &field.info.vocab)),
        _ => None,
    }
}

/// The inspection of `model` (trained on `dataset` as `experiment` says).
pub fn analyse<D: Device<f32>>(
    model: &mut Model<D>,
    dataset: &EncodedDataset,
    experiment: &LoadedExperiment,
    options: &Options,
) -> Result<Inspection, String> {
    let e = &experiment.experiment;
    let mode = e.apg.condition.mode;
    let mode_name = match mode {
        ConditionMode::Group => "group",
        ConditionMode::Mix => "mix",
        ConditionMode::SelfWise => "self",
    };
    let condition_fields = if mode == ConditionMode::SelfWise { Vec::new() } else { e.apg.condition.fields.clone() };
    let apg_layers = model.apg_layers();
    if apg_layers.is_empty() {
        return Err("the model has no APG layer: it generates no weights".into());
    }
    let layers: Vec<usize> = match options.layer {
        None => apg_layers.clone(),
        Some(l) if apg_layers.contains(&l) => vec![l],
        Some(l) => {
            let list = apg_layers.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
            return Err(format!("layer {l} is not an APG layer: the APG layers are {list}"));
        }
    };
    let fields: Vec<String> = dataset
        .fields
        .iter()
        .filter(|f| f.info.kind == EncodedKind::Categorical)
        .map(|f| f.info.name.clone())
        .collect();
    let colour_by = match &options.colour_by {
        Some(name) if fields.contains(name) => name.clone(),
        Some(name) => {
            return Err(format!(
                "`{name}` is not a single-valued categorical field of {}: one of {}",
                dataset.name,
                fields.join(", ")
            ));
        }
        None => condition_fields
            .iter()
            .chain(&e.metrics.group_fields)
            .find(|f| fields.contains(f))
            .or(fields.first())
            .cloned()
            .ok_or("the dataset has no categorical field to colour by")?,
    };
    let split = split_rows(dataset, &options.split)?;
    if split.is_empty() {
        return Err(format!("the {} split has no rows", options.split));
    }

    // Every layer's parts for the sampled rows (fewer rows where each generates more).
    let shapes = model.generated_parts(dataset, &[]);
    let widest = shapes.iter().map(core_width).max().unwrap_or(1);
    let most = (MAX_VALUES / widest.max(1)).max(1);
    let sample = evenly(split, if options.sample == 0 { most } else { options.sample.min(most) });
    let parts = model.generated_parts(dataset, &sample);

    // Group-wise: one representative row per condition value, and the metrics per value.
    let group_keys = (mode == ConditionMode::Group).then(|| condition_keys(dataset, &condition_fields)).flatten();
    let groups_parts = group_keys.as_ref().map(|keys| model.generated_parts(dataset, &keys.representatives));
    let group_metrics = match &group_keys {
        Some(keys) => {
            let scores = crate::train::run::predict(model, dataset, split);
            Some(keys.metrics(dataset, split, &scores))
        }
        None => None,
    };

    let mut out = Vec::new();
    for (index, layer) in parts.iter().enumerate() {
        if !layers.contains(&layer.layer) {
            continue;
        }
        let d = core_width(layer);
        let cores = row_cores(layer, sample.len());
        let mean = linalg::mean_row(&cores, d);
        let deviations: Vec<f64> = cores.chunks_exact(d).map(|s| linalg::distance(s, &mean)).collect();

        let groups = match (&group_keys, &groups_parts, &group_metrics) {
            (Some(keys), Some(group_parts), Some(metrics)) => {
                let group_layer = &group_parts[index];
                let g_cores = row_cores(group_layer, keys.labels.len());
                let biases = group_layer.head(0, Head::Bias);
                let rows: Vec<GroupRow> = (0..keys.labels.len())
                    .map(|g| {
                        let core = g_cores[g * d..(g + 1) * d].to_vec();
                        let bias = biases.map(|b| b[g * layer.n_out..(g + 1) * layer.n_out].to_vec());
                        let (rows, positives, auc) = metrics[g];
                        GroupRow {
                            value: keys.labels[g].clone(),
                            deviation: linalg::distance(&core, &mean),
                            bias_norm: bias.as_deref().map(linalg::norm),
                            core,
                            bias,
                            rows,
                            positives,
                            auc,
                        }
                    })
                    .collect();
                let pairwise = |vectors: &[Vec<f32>]| -> Vec<Vec<Option<f64>>> {
                    vectors.iter().map(|a| vectors.iter().map(|b| linalg::cosine(a, b)).collect()).collect()
                };
                let few = rows.len() <= MAX_PAIRWISE_GROUPS;
                let core_cosine =
                    if few { pairwise(&rows.iter().map(|r| r.core.clone()).collect::<Vec<_>>()) } else { Vec::new() };
                let weight_cosine = (few && rows.len() * layer.n_in * layer.n_out <= MAX_WEIGHT_VALUES)
                    .then(|| (0..rows.len()).map(|g| effective_weights(group_layer, g)).collect::<Option<Vec<_>>>())
                    .flatten()
                    .map(|w| pairwise(&w));
                Some(Groups { field: condition_fields.join("+"), rows, core_cosine, weight_cosine })
            }
            _ => None,
        };

        // Shares of variance, per categorical field.
        let mut separation: Vec<FieldShare> = fields
            .iter()
            .filter_map(|name| {
                let (column, _) = ids(dataset, name)?;
                let labels: Vec<u32> = sample.iter().map(|&r| column[r as usize]).collect();
                Some(FieldShare {
                    field: name.clone(),
                    values: labels.iter().collect::<std::collections::BTreeSet<_>>().len(),
                    share: linalg::explained_share(&cores, d, &labels),
                })
            })
            .collect();
        let key = |f: &FieldShare| f.share.map_or(-1.0, |s| s.beyond_chance.unwrap_or(0.0));
        separation.sort_by(|a, b| key(b).total_cmp(&key(a)));

        let pca = linalg::pca2(&cores, d);
        let (column, vocab) = ids(dataset, &colour_by).expect("a categorical field");
        let labels: Vec<u32> = sample.iter().map(|&r| column[r as usize]).collect();
        let (colours, legend) = colour_classes(&labels, vocab);
        let explained = if pca.total > 0.0 { pca.variances.map(|v| v / pca.total) } else { [0.0, 0.0] };
        let projection = Projection {
            points: pca.points,
            colours,
            legend,
            explained,
            colour_share: linalg::explained_share(&cores, d, &labels),
        };

        let distinct_fields =
            if condition_fields.is_empty() { vec![colour_by.clone()] } else { condition_fields.clone() };
        let mut distinct: Vec<DistinctValue> = distinct_fields
            .iter()
            .filter_map(|name| ids(dataset, name).map(|(column, vocab)| (name, column, vocab)))
            .flat_map(|(name, column, vocab)| {
                value_means(&cores, d, sample.iter().map(|&r| column[r as usize]))
                    .into_iter()
                    .map(|(id, rows, value_mean)| DistinctValue {
                        field: name.clone(),
                        value: vocab.get(id as usize).cloned().unwrap_or_else(|| format!("#{id}")),
                        rows,
                        distance: value_mean.iter().zip(&mean).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        distinct.sort_by(|a, b| b.distance.total_cmp(&a.distance));
        distinct.truncate(TOP_DISTINCT);

        let v1 = layer.variant == Variant::V1;
        out.push(LayerInspection {
            layer: layer.layer,
            n_in: layer.n_in,
            n_out: layer.n_out,
            rank: layer.rank,
            generated: if v1 { "W".into() } else { "S".into() },
            shape: if v1 { (layer.n_in, layer.n_out) } else { (layer.rank, layer.rank) },
            generators: layer.generators.len(),
            mean: mean.iter().map(|&m| m as f32).collect(),
            deviation: distribution(&deviations),
            groups,
            projection,
            separation,
            distinct,
        });
    }
    Ok(Inspection {
        run: String::new(),
        experiment: e.name.clone(),
        mode: mode_name.into(),
        variant: format!("{:?}", e.apg.variant).to_lowercase(),
        condition_fields,
        step: None,
        split: options.split.clone(),
        split_rows: split.len(),
        sample_rows: sample.len(),
        colour_by,
        fields,
        layers: out,
    })
}

/// The generated head that is compared: S, or W for v1.
fn core_head(layer: &LayerParts) -> Head {
    if layer.variant == Variant::V1 { Head::Full } else { Head::Core }
}

/// The width of one row's compared vector: the compared head of every generator.
fn core_width(layer: &LayerParts) -> usize {
    layer.head_size(core_head(layer)) * layer.generators.len()
}

/// Each row's compared vector: its generators' S side by side (rows x width).
fn row_cores(layer: &LayerParts, rows: usize) -> Vec<f32> {
    let head = core_head(layer);
    let size = layer.head_size(head);
    let heads: Vec<&[f32]> = (0..layer.generators.len()).filter_map(|g| layer.head(g, head)).collect();
    (0..rows).flat_map(|r| heads.iter().flat_map(move |h| h[r * size..(r + 1) * size].iter().copied())).collect()
}

/// W = U S V of row `row` (v4/v5: shared U, V; v2/v3: generated ones; v1: W itself),
/// row-major N_in x N_out, for the first generator.
fn effective_weights(layer: &LayerParts, row: usize) -> Option<Vec<f32>> {
    let (n, m, k) = (layer.n_in, layer.n_out, layer.rank);
    let slice =
        |head: Head| layer.head(0, head).map(|h| &h[row * layer.head_size(head)..(row + 1) * layer.head_size(head)]);
    if layer.variant == Variant::V1 {
        return slice(Head::Full).map(<[f32]>::to_vec);
    }
    let s = slice(Head::Core)?;
    let (u, v): (&[f32], &[f32]) = match &layer.shared_uv {
        Some((u, v)) => (u, v),
        None => (slice(Head::Left)?, slice(Head::Right)?),
    };
    let us = matmul(u, s, n, k, k);
    Some(matmul(&us, v, n, k, m))
}

/// a (r x c) times b (c x m), row-major.
fn matmul(a: &[f32], b: &[f32], r: usize, c: usize, m: usize) -> Vec<f32> {
    let mut out = vec![0f32; r * m];
    for i in 0..r {
        for j in 0..c {
            let x = a[i * c + j];
            if x != 0.0 {
                out[i * m..(i + 1) * m].iter_mut().zip(&b[j * m..(j + 1) * m]).for_each(|(o, y)| *o += x * y);
            }
        }
    }
    out
}

/// Per distinct label: its rows and the mean of their vectors, labels ascending.
fn value_means(cores: &[f32], d: usize, labels: impl Iterator<Item = u32>) -> Vec<(u32, usize, Vec<f64>)> {
    let mut sums: std::collections::BTreeMap<u32, (usize, Vec<f64>)> = Default::default();
    for (row, label) in cores.chunks_exact(d).zip(labels) {
        let (count, sum) = sums.entry(label).or_insert_with(|| (0, vec![0.0; d]));
        *count += 1;
        sum.iter_mut().zip(row).for_each(|(s, &x)| *s += x as f64);
    }
    sums.into_iter()
        .map(|(id, (count, sum))| (id, count, sum.into_iter().map(|s| s / count as f64).collect()))
        .collect()
}

/// Colour classes: the `MAX_COLOURS - 1` most frequent values (all of them when they
/// fit), then `other`.
fn colour_classes(labels: &[u32], vocab: &[String]) -> (Vec<usize>, Vec<String>) {
    let mut counts: std::collections::BTreeMap<u32, usize> = Default::default();
    labels.iter().for_each(|&l| *counts.entry(l).or_default() += 1);
    let mut by_count: Vec<(u32, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let kept = if by_count.len() <= MAX_COLOURS { by_count.len() } else { MAX_COLOURS - 1 };
    let mut legend: Vec<String> =
        by_count[..kept].iter().map(|(id, _)| vocab.get(*id as usize).cloned().unwrap_or_default()).collect();
    let classes: Vec<usize> =
        labels.iter().map(|l| by_count[..kept].iter().position(|(id, _)| id == l).unwrap_or(kept)).collect();
    if kept < by_count.len() {
        legend.push("other".into());
    }
    (classes, legend)
}

fn distribution(values: &[f64]) -> Distribution {
    const BINS: usize = 20;
    let q = linalg::quantiles(values, &[0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]);
    let quantiles = [q[0], q[1], q[2], q[3], q[4], q[5], q[6]];
    let (low, high) = (q[0], q[6]);
    let width = (high - low) / BINS as f64;
    let mut counts = vec![0usize; BINS];
    for &v in values {
        let bin = if width > 0.0 { (((v - low) / width) as usize).min(BINS - 1) } else { 0 };
        counts[bin] += 1;
    }
    let histogram = counts.into_iter().enumerate().map(|(i, c)| (low + i as f64 * width, c)).collect();
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    Distribution { mean, quantiles, histogram }
}

/// The condition values of a group-wise run: each distinct tuple of the condition
/// fields' ids in the data, with one row that has it.
struct ConditionKeys {
    labels: Vec<String>,
    keys: Vec<Vec<u32>>,
    representatives: Vec<u32>,
    columns: Vec<Vec<u32>>,
}

fn condition_keys(dataset: &EncodedDataset, fields: &[String]) -> Option<ConditionKeys> {
    let columns: Vec<(&[u32], &[String])> = fields.iter().map(|f| ids(dataset, f)).collect::<Option<_>>()?;
    let mut first: std::collections::BTreeMap<Vec<u32>, u32> = Default::default();
    for row in 0..dataset.rows() {
        let key: Vec<u32> = columns.iter().map(|(c, _)| c[row]).collect();
        first.entry(key).or_insert(row as u32);
    }
    let labels = first
        .keys()
        .map(|key| {
            key.iter().zip(&columns).map(|(&id, (_, vocab))| vocab[id as usize].clone()).collect::<Vec<_>>().join("+")
        })
        .collect();
    Some(ConditionKeys {
        labels,
        keys: first.keys().cloned().collect(),
        representatives: first.values().copied().collect(),
        columns: columns.iter().map(|(c, _)| c.to_vec()).collect(),
    })
}

impl ConditionKeys {
    /// Rows, clicks and AUC of each condition value on `split`, scored `scores`.
    fn metrics(&self, dataset: &EncodedDataset, split: &[u32], scores: &[f32]) -> Vec<(usize, usize, Option<f64>)> {
        let mut members: Vec<(Vec<f32>, Vec<u8>)> = vec![(Vec::new(), Vec::new()); self.keys.len()];
        for (&row, &score) in split.iter().zip(scores) {
            let key: Vec<u32> = self.columns.iter().map(|c| c[row as usize]).collect();
            if let Ok(g) = self.keys.binary_search(&key) {
                members[g].0.push(score);
                members[g].1.push(dataset.labels[row as usize]);
            }
        }
        members
            .into_iter()
            .map(|(s, l)| (l.len(), l.iter().filter(|&&x| x == 1).count(), metrics::auc(&s, &l)))
            .collect()
    }
}

/// The inspection as one tidy CSV table (`layer,table,row,column,value,label`), for
/// plotting elsewhere: `core` (each group's S, column `i.j`), `bias`, `deviation`,
/// `core_cosine` and `weight_cosine` (row and column are condition values), `projection`
/// (row: the sampled point, column x or y, label its colour value), `share` (row: a field).
pub fn csv(inspection: &Inspection) -> Result<String, String> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(["layer", "table", "row", "column", "value", "label"]).map_err(|e| e.to_string())?;
    let mut put = |layer: usize, table: &str, row: &str, column: &str, value: Option<f64>, label: &str| {
        let value = value.map(|v| v.to_string()).unwrap_or_default();
        writer.write_record([&layer.to_string(), table, row, column, &value, label]).map_err(|e| e.to_string())
    };
    for l in &inspection.layers {
        let (rows, cols) = l.shape;
        if let Some(groups) = &l.groups {
            for g in &groups.rows {
                for (i, v) in g.core.iter().enumerate() {
                    let column = format!("{}.{}", i % (rows * cols) / cols, i % cols);
                    put(l.layer, "core", &g.value, &column, Some(*v as f64), "")?;
                }
                for (j, v) in g.bias.iter().flatten().enumerate() {
                    put(l.layer, "bias", &g.value, &j.to_string(), Some(*v as f64), "")?;
                }
                put(l.layer, "deviation", &g.value, "", Some(g.deviation), "")?;
            }
            let matrices =
                [("core_cosine", Some(&groups.core_cosine)), ("weight_cosine", groups.weight_cosine.as_ref())];
            for (name, matrix) in matrices {
                for (a, row) in matrix.into_iter().flatten().enumerate() {
                    for (b, value) in row.iter().enumerate() {
                        put(l.layer, name, &groups.rows[a].value, &groups.rows[b].value, *value, "")?;
                    }
                }
            }
        }
        let p = &l.projection;
        for (i, (point, &colour)) in p.points.iter().zip(&p.colours).enumerate() {
            let label = &p.legend[colour];
            put(l.layer, "projection", &i.to_string(), "x", Some(point[0]), label)?;
            put(l.layer, "projection", &i.to_string(), "y", Some(point[1]), label)?;
        }
        for share in &l.separation {
            put(l.layer, "share", &share.field, "eta2", share.share.map(|s| s.eta2), "")?;
            let beyond = share.share.and_then(|s| s.beyond_chance);
            put(l.layer, "share", &share.field, "beyond_chance", beyond, "")?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}
