//! Statistics of an encoded dataset: the engine behind `data inspect` and the Data and
//! Conditions panels. Per field: kind, cardinality, OOV and missing shares, top values
//! with label rates, long tail. Per candidate condition field: rows per value, label
//! rate per value, and how much the label and the other fields' distributions differ
//! across its values (see [`ConditionStats`]).

use serde::Serialize;

use crate::data::encode::{Column, EncodedDataset, EncodedField, EncodedKind};
use crate::metrics;

/// Categorical fields with at most this many values are condition candidates.
pub const MAX_CONDITION_VALUES: usize = 200;
/// Values of the other field kept apart when measuring divergence; the rest pooled.
const DIVERGENCE_TOP: usize = 64;

#[derive(Debug, Clone, Serialize)]
pub struct DatasetStats {
    pub name: String,
    pub rows: usize,
    pub positives: usize,
    pub label_rate: f64,
    pub splits: Vec<SplitStats>,
    pub fields: Vec<FieldStats>,
    pub conditions: Vec<ConditionStats>,
    /// For generated data: the AUC of the true click probability on the test split.
    pub bayes: Option<BayesStats>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitStats {
    pub name: &'static str,
    pub rows: usize,
    pub label_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueStats {
    pub value: String,
    pub rows: u64,
    pub label_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldStats {
    pub name: String,
    pub kind: EncodedKind,
    pub origin: String,
    pub derived: bool,
    /// Distinct values in the vocabulary, not counting the reserved id 0.
    pub cardinality: usize,
    pub min_count: u32,
    /// Share of rows (value occurrences for multi-valued fields) mapped to the OOV id.
    pub oov_share: f64,
    /// The same over validation and test rows only: how often unseen values arrive.
    pub oov_share_heldout: f64,
    pub missing_share: f64,
    /// The most frequent values, with rows and label rate, as many as the caller kept.
    pub top: Vec<ValueStats>,
    /// Values with at least one row (the OOV id not counted): how many `top` could hold.
    pub distinct: usize,
    /// Share of rows taken by the most frequent 1 % of values (at least one value).
    pub top1pct_share: f64,
    /// Cumulative share of rows covered by the top 1, 5, 10, 25, 50, 100 % of values.
    pub long_tail: Vec<(f64, f64)>,
    /// Mean, standard deviation, min and max of a dense field (after scaling).
    pub dense: Option<[f64; 4]>,
}

/// How useful a field is as an APG condition: APG generates different weights per
/// value, which pays off when the values hold enough rows and behave differently.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionStats {
    pub field: String,
    /// Values with at least one training row.
    pub values: usize,
    pub rows_min: u64,
    pub rows_median: u64,
    pub rows_max: u64,
    /// Every value, most frequent first.
    pub per_value: Vec<ValueStats>,
    /// Row-weighted standard deviation of the label rate across values.
    pub label_rate_spread: f64,
    /// Row-weighted Jensen-Shannon divergence (bits, 0..1) between the label
    /// distribution of each value and the overall one.
    pub label_divergence: f64,
    /// Per other categorical field: the same divergence of its value distribution.
    pub field_divergence: Vec<(String, f64)>,
    /// Mean of `field_divergence`: how much the inputs shift across values.
    pub mean_field_divergence: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BayesStats {
    pub test_auc: Option<f64>,
    /// Per value of small condition fields: (field, value, test rows, Bayes AUC).
    pub per_group: Vec<(String, String, usize, Option<f64>)>,
}

/// Top values kept per field for `data inspect` (its table and `--json`).
pub const TOP_VALUES: usize = 10;
/// Top values kept per field for the workbench, which scrolls through them: enough for
/// every value of most fields without holding a whole large vocabulary.
pub const BROWSE_VALUES: usize = 1000;

/// The statistics `data inspect` prints, with the top [`TOP_VALUES`] values per field.
pub fn dataset_stats(dataset: &EncodedDataset) -> DatasetStats {
    dataset_stats_keeping(dataset, TOP_VALUES)
}

/// The statistics with up to `top` values per field (the rest only counted).
pub fn dataset_stats_keeping(dataset: &EncodedDataset, top: usize) -> DatasetStats {
    let rows = dataset.rows();
    let positives = dataset.labels.iter().filter(|&&l| l == 1).count();
    let rate = |part: &[u32]| {
        let pos = part.iter().filter(|&&r| dataset.labels[r as usize] == 1).count();
        pos as f64 / part.len().max(1) as f64
    };
    let splits = dataset
        .split
        .parts()
        .into_iter()
        .map(|(name, part)| SplitStats { name, rows: part.len(), label_rate: rate(part) })
        .collect();
    let fields = dataset.fields.iter().map(|f| field_stats(dataset, f, top)).collect();
    let conditions = condition_candidates(dataset).map(|f| condition_stats(dataset, f)).collect();
    DatasetStats {
        name: dataset.name.clone(),
        rows,
        positives,
        label_rate: positives as f64 / rows.max(1) as f64,
        splits,
        fields,
        conditions,
        bayes: bayes_stats(dataset),
    }
}

/// Single-id fields small enough to condition on.
pub fn condition_candidates(dataset: &EncodedDataset) -> impl Iterator<Item = &EncodedField> {
    dataset
        .fields
        .iter()
        .filter(|f| matches!(f.column, Column::Ids(_)) && (3..=MAX_CONDITION_VALUES + 1).contains(&f.info.vocab.len()))
}

/// Rows and positives per id over `rows` (None: all rows), in one pass that holds
/// nothing per row.
fn counts_per_id(field: &EncodedField, labels: &[u8], rows: Option<&[u32]>) -> (Vec<u64>, Vec<u64>) {
    let n = field.info.vocab.len().max(1);
    let (mut count, mut positive) = (vec![0u64; n], vec![0u64; n]);
    let mut add = |row: usize, id: u32| {
        count[id as usize] += 1;
        positive[id as usize] += labels[row] as u64;
    };
    let rows: Box<dyn Iterator<Item = usize>> = match rows {
        Some(rows) => Box::new(rows.iter().map(|&r| r as usize)),
        None => Box::new(0..labels.len()),
    };
    match &field.column {
        Column::Ids(ids) => rows.for_each(|r| add(r, ids[r])),
        Column::Multi { offsets, ids } => {
            for r in rows {
                for &id in &ids[offsets[r] as usize..offsets[r + 1] as usize] {
                    add(r, id);
                }
            }
        }
        Column::Dense(_) => {}
    }
    (count, positive)
}

fn value_stats(field: &EncodedField, id: usize, count: &[u64], positive: &[u64]) -> ValueStats {
    ValueStats {
        value: field.info.vocab[id].clone(),
        rows: count[id],
        label_rate: positive[id] as f64 / count[id].max(1) as f64,
    }
}

/// Statistics of one field, keeping its `top` most frequent values.
pub fn field_stats(dataset: &EncodedDataset, field: &EncodedField, top: usize) -> FieldStats {
    let rows = dataset.rows().max(1) as f64;
    let mut stats = FieldStats {
        name: field.info.name.clone(),
        kind: field.info.kind,
        origin: field.info.origin.clone(),
        derived: field.info.derived,
        cardinality: field.info.vocab.len().saturating_sub(1),
        min_count: field.info.min_count,
        oov_share: 0.0,
        oov_share_heldout: 0.0,
        missing_share: field.info.missing_rows as f64 / rows,
        top: Vec::new(),
        distinct: 0,
        top1pct_share: 0.0,
        long_tail: Vec::new(),
        dense: None,
    };
    if let Column::Dense(values) = &field.column {
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        let min = values.iter().fold(f64::INFINITY, |m, &v| m.min(v as f64));
        let max = values.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        stats.dense = Some([mean, std, min, max]);
        return stats;
    }
    let (count, positive) = counts_per_id(field, &dataset.labels, None);
    let occurrences = count.iter().sum::<u64>().max(1) as f64;
    stats.oov_share = count[0] as f64 / occurrences;
    let (valid_count, _) = counts_per_id(field, &dataset.labels, Some(&dataset.split.valid));
    let (test_count, _) = counts_per_id(field, &dataset.labels, Some(&dataset.split.test));
    let heldout: u64 = valid_count.iter().chain(&test_count).sum();
    stats.oov_share_heldout = (valid_count[0] + test_count[0]) as f64 / heldout.max(1) as f64;

    // Ids 1.. are sorted by training count, not by count over all rows: sort again.
    let mut order: Vec<usize> = (1..count.len()).filter(|&id| count[id] > 0).collect();
    order.sort_by(|&a, &b| count[b].cmp(&count[a]).then(a.cmp(&b)));
    stats.distinct = order.len();
    stats.top = order.iter().take(top).map(|&id| value_stats(field, id, &count, &positive)).collect();
    let in_vocab: f64 = order.iter().map(|&id| count[id] as f64).sum::<f64>().max(1.0);
    let covered = |share: f64| {
        let k = ((order.len() as f64 * share).ceil() as usize).clamp(1, order.len().max(1));
        order.iter().take(k).map(|&id| count[id] as f64).sum::<f64>() / in_vocab
    };
    if !order.is_empty() {
        stats.top1pct_share = covered(0.01);
        stats.long_tail = [0.01, 0.05, 0.10, 0.25, 0.50, 1.0].iter().map(|&s| (s, covered(s))).collect();
    }
    stats
}

/// Jensen-Shannon divergence in bits between two distributions given as counts.
fn js_divergence(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    if sp == 0.0 || sq == 0.0 {
        return 0.0;
    }
    let kl = |a: f64, m: f64| if a > 0.0 { a * (a / m).log2() } else { 0.0 };
    p.iter()
        .zip(q)
        .map(|(&a, &b)| {
            let (a, b) = (a / sp, b / sq);
            let m = (a + b) / 2.0;
            0.5 * kl(a, m) + 0.5 * kl(b, m)
        })
        .sum()
}

/// Row-weighted mean JS divergence between the distribution of `other` (its value of a
/// row, below `n_other`) within each group and its overall distribution, over the
/// training rows.
fn divergence(groups: &[u32], n_groups: usize, other: impl Fn(usize) -> u32, n_other: usize, train: &[u32]) -> f64 {
    let mut table = vec![0f64; n_groups * n_other];
    let mut overall = vec![0f64; n_other];
    for &r in train {
        let (g, o) = (groups[r as usize] as usize, other(r as usize) as usize);
        table[g * n_other + o] += 1.0;
        overall[o] += 1.0;
    }
    let total: f64 = overall.iter().sum();
    (0..n_groups)
        .map(|g| {
            let row = &table[g * n_other..(g + 1) * n_other];
            row.iter().sum::<f64>() / total.max(1.0) * js_divergence(row, &overall)
        })
        .sum()
}

/// Maps ids to 0..=top, pooling all but the `top` most frequent into one bucket: the
/// map from id, and how many values it maps to.
fn pooled(ids: &[u32], vocab: usize, top: usize) -> (Vec<u32>, usize) {
    if vocab <= top + 1 {
        return ((0..vocab as u32).collect(), vocab);
    }
    let mut count = vec![0u64; vocab];
    ids.iter().for_each(|&id| count[id as usize] += 1);
    let mut order: Vec<usize> = (0..vocab).collect();
    order.sort_by(|&a, &b| count[b].cmp(&count[a]));
    let mut map = vec![top as u32; vocab];
    for (rank, &id) in order.iter().take(top).enumerate() {
        map[id] = rank as u32;
    }
    (map, top + 1)
}

pub fn condition_stats(dataset: &EncodedDataset, field: &EncodedField) -> ConditionStats {
    let train = &dataset.split.train;
    let Column::Ids(groups) = &field.column else {
        panic!("condition fields hold one id per row");
    };
    let n_groups = field.info.vocab.len();
    let (count, positive) = counts_per_id(field, &dataset.labels, Some(train));
    let mut present: Vec<usize> = (0..n_groups).filter(|&g| count[g] > 0).collect();
    present.sort_by(|&a, &b| count[b].cmp(&count[a]).then(a.cmp(&b)));
    let mut sizes: Vec<u64> = present.iter().map(|&g| count[g]).collect();
    sizes.sort_unstable();
    let total = train.len().max(1) as f64;
    let overall_rate = positive.iter().sum::<u64>() as f64 / total;
    let spread = present
        .iter()
        .map(|&g| count[g] as f64 / total * (positive[g] as f64 / count[g] as f64 - overall_rate).powi(2))
        .sum::<f64>()
        .sqrt();
    let label_divergence = divergence(groups, n_groups, |r| dataset.labels[r] as u32, 2, train);
    let field_divergence: Vec<(String, f64)> = dataset
        .fields
        .iter()
        .filter(|other| other.info.name != field.info.name)
        .filter_map(|other| match &other.column {
            Column::Ids(ids) => {
                let (map, n) = pooled(ids, other.info.vocab.len(), DIVERGENCE_TOP);
                let value = |r: usize| map[ids[r] as usize];
                Some((other.info.name.clone(), divergence(groups, n_groups, value, n, train)))
            }
            _ => None,
        })
        .collect();
    let mean_field_divergence =
        field_divergence.iter().map(|(_, d)| d).sum::<f64>() / field_divergence.len().max(1) as f64;
    ConditionStats {
        field: field.info.name.clone(),
        values: present.len(),
        rows_min: sizes.first().copied().unwrap_or(0),
        rows_median: sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        rows_max: sizes.last().copied().unwrap_or(0),
        per_value: present.iter().map(|&g| value_stats(field, g, &count, &positive)).collect(),
        label_rate_spread: spread,
        label_divergence,
        field_divergence,
        mean_field_divergence,
    }
}

/// Fields with at most this many values get a per-value Bayes AUC.
const BAYES_GROUP_VALUES: usize = 8;

fn bayes_stats(dataset: &EncodedDataset) -> Option<BayesStats> {
    let oracle = dataset.oracle.as_ref()?;
    let test = &dataset.split.test;
    let subset_auc = |rows: &[u32]| {
        let scores: Vec<f32> = rows.iter().map(|&r| oracle[r as usize]).collect();
        let labels: Vec<u8> = rows.iter().map(|&r| dataset.labels[r as usize]).collect();
        metrics::auc(&scores, &labels)
    };
    let mut per_group = Vec::new();
    for field in condition_candidates(dataset).filter(|f| f.info.vocab.len() <= BAYES_GROUP_VALUES + 1) {
        let Column::Ids(ids) = &field.column else {
            continue;
        };
        for (id, value) in field.info.vocab.iter().enumerate() {
            let rows: Vec<u32> = test.iter().copied().filter(|&r| ids[r as usize] == id as u32).collect();
            if !rows.is_empty() {
                per_group.push((field.info.name.clone(), value.clone(), rows.len(), subset_auc(&rows)));
            }
        }
    }
    Some(BayesStats { test_auc: subset_auc(test), per_group })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_divergence_bounds() {
        assert_eq!(js_divergence(&[1.0, 1.0], &[5.0, 5.0]), 0.0);
        assert!((js_divergence(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn divergence_is_zero_for_independent_fields() {
        // Group and other field independent: every group has the same mix.
        let groups = [0, 0, 1, 1];
        let other = [0, 1, 0, 1];
        assert_eq!(divergence(&groups, 2, |r| other[r], 2, &[0, 1, 2, 3]), 0.0);
        // Perfectly dependent: each group sees one value; JS(point, uniform) = 0.311 bits.
        let other = [0, 0, 1, 1];
        let d = divergence(&groups, 2, |r| other[r], 2, &[0, 1, 2, 3]);
        assert!((d - 0.311_278).abs() < 1e-5, "{d}");
    }

    #[test]
    fn pooling_keeps_the_most_frequent() {
        let ids = [3, 3, 3, 1, 1, 2, 0];
        let (map, n) = pooled(&ids, 4, 2);
        assert_eq!(n, 3);
        assert_eq!(ids.map(|id| map[id as usize]), [0, 0, 0, 1, 1, 2, 2]);
    }
}
