//! Encoding: the raw table becomes dense integer ids per field, with vocabularies built
//! on the training split only, plus derived fields, labels and the split, column-wise.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::data::DataError;
use crate::data::descriptor::{
    DerivedKind, DerivedSpec, Encoding, FieldKind, FieldSpec, LoadedDescriptor, NumericTransform, SplitKind,
};
use crate::data::raw::{ColumnRequest, Interner, Parse, Part, RawColumn, RawTable};
use crate::data::transform::{derived_column, field_column, split_column};

/// The label every categorical field reserves id 0 for.
pub const OOV: &str = "<oov>";
pub const MISSING: &str = "<missing>";

/// Row indices of each split, ascending.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
    pub test: Vec<u32>,
}

impl Split {
    pub fn parts(&self) -> [(&'static str, &[u32]); 3] {
        [("train", &self.train), ("valid", &self.valid), ("test", &self.test)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodedKind {
    /// One id per row (categorical fields, bucketised numbers, derived buckets).
    Categorical,
    /// Several ids per row (e.g. a movie's genres).
    MultiCategorical,
    /// A standardised number per row.
    Dense,
}

impl EncodedKind {
    pub fn name(self) -> &'static str {
        match self {
            EncodedKind::Categorical => "categorical",
            EncodedKind::MultiCategorical => "multi_categorical",
            EncodedKind::Dense => "dense",
        }
    }
}

/// Field metadata: everything but the column itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldInfo {
    pub name: String,
    pub kind: EncodedKind,
    /// Where it comes from, in words: `column user`, `activity of user (cold <= 11 rows)`.
    pub origin: String,
    pub derived: bool,
    /// Id -> value; id 0 is the reserved OOV (or missing) id. Empty for dense fields.
    pub vocab: Vec<String>,
    /// Rows whose source cell was empty.
    pub missing_rows: u64,
    pub min_count: u32,
    /// Training mean and standard deviation of a dense field.
    pub scale: Option<(f64, f64)>,
}

impl FieldInfo {
    /// Number of ids including the reserved id 0.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Ids(Vec<u32>),
    Multi { offsets: Vec<u32>, ids: Vec<u32> },
    Dense(Vec<f32>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EncodedField {
    pub info: FieldInfo,
    pub column: Column,
    /// For a single-valued categorical field whose vocabulary pools some values into the
    /// OOV id (unseen in training or below `min_count`): the raw value id of each pooled
    /// row, in row order. Per-value metrics such as GAUC tell pooled users apart by it,
    /// where the ids would make every cold user one. Only the pooled rows are kept (the
    /// other rows' ids already tell their values apart); None when no row is pooled.
    pub pooled: Option<Vec<u32>>,
}

impl EncodedField {
    /// Per row, an id that tells the field's raw values apart: the encoded id, or for a
    /// pooled row one past the vocabulary per raw value. None for multi-valued and dense
    /// fields.
    pub fn value_ids(&self) -> Option<std::borrow::Cow<'_, [u32]>> {
        let Column::Ids(ids) = &self.column else { return None };
        let Some(pooled) = &self.pooled else { return Some(std::borrow::Cow::Borrowed(ids)) };
        let vocab = self.info.vocab.len() as u32;
        let mut raw = pooled.iter();
        let values = ids
            .iter()
            .map(|&id| match id {
                0 => vocab + raw.next().copied().unwrap_or(0),
                id => id,
            })
            .collect();
        Some(std::borrow::Cow::Owned(values))
    }
}

/// A dataset ready for training and statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedDataset {
    pub name: String,
    pub fingerprint: String,
    pub fields: Vec<EncodedField>,
    /// 0/1 per row.
    pub labels: Vec<u8>,
    pub split: Split,
    /// True click probability per row, for generated data.
    pub oracle: Option<Vec<f32>>,
}

impl EncodedDataset {
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    pub fn field(&self, name: &str) -> Option<&EncodedField> {
        self.fields.iter().find(|f| f.info.name == name)
    }
}

/// The source columns a descriptor needs, each parsed once.
pub fn requests(descriptor: &LoadedDescriptor) -> Vec<ColumnRequest> {
    let d = &descriptor.descriptor;
    let mut requests: Vec<ColumnRequest> = Vec::new();
    let mut add = |column: &str, parse: Parse, needed_by: String| {
        if !requests.iter().any(|r| r.column == column && r.parse == parse) {
            requests.push(ColumnRequest { column: column.to_string(), parse, needed_by });
        }
    };
    add(&d.label.column, Parse::Label { binary: d.label.threshold.is_none() }, "label.column".into());
    for (i, field) in d.fields.iter().enumerate() {
        let parse = match field.kind {
            FieldKind::Categorical => Parse::Interned,
            FieldKind::Numeric => Parse::Number,
            FieldKind::MultiCategorical => Parse::Multi(field.separator().to_string()),
        };
        add(&field_column(field), parse, format!("fields[{i}] ({})", field.name));
    }
    for (i, derived) in d.derived.iter().enumerate() {
        let parse = if derived.kind == DerivedKind::Bucket { Parse::Number } else { Parse::Interned };
        add(&derived_column(derived), parse, format!("derived[{i}] ({})", derived.name));
    }
    if let (SplitKind::Time, Some(column)) = (d.split.kind, split_column(&d.split)) {
        add(&column, Parse::Number, "split.column".into());
    }
    requests
}

/// Turns the raw table into the encoded dataset.
pub fn encode(descriptor: &LoadedDescriptor, raw: RawTable, fingerprint: String) -> Result<EncodedDataset, DataError> {
    let d = &descriptor.descriptor;
    let invalid = |message: String| DataError::Invalid { dataset: d.name.clone(), message };
    if raw.rows == 0 {
        return Err(invalid("the source holds no rows".into()));
    }
    let column = |name: &str, parse: &Parse| raw.index_of(name, parse).expect("every needed column was requested");

    let label_index = column(&d.label.column, &Parse::Label { binary: d.label.threshold.is_none() });
    let RawColumn::Numbers(label_values) = &raw.columns[label_index] else { unreachable!("labels are numbers") };
    let labels: Vec<u8> = match d.label.threshold {
        Some(t) => label_values.iter().map(|&v| (v >= t) as u8).collect(),
        None => label_values.iter().map(|&v| (v > 0.0) as u8).collect(),
    };

    let split = make_split(descriptor, &raw)?;
    if split.train.is_empty() {
        return Err(invalid("the training split is empty".into()));
    }

    // Derived fields first: they read raw columns that the fields below then consume.
    let mut derived_fields = Vec::new();
    for derived in &d.derived {
        let parse = if derived.kind == DerivedKind::Bucket { Parse::Number } else { Parse::Interned };
        let index = column(&derived_column(derived), &parse);
        let source = (&raw.columns[index], raw.missing[index], raw.encoding);
        derived_fields.push(encode_derived(derived, source, &split.train));
    }
    let field_columns: Vec<usize> = d
        .fields
        .iter()
        .map(|field| {
            let parse = match field.kind {
                FieldKind::Categorical => Parse::Interned,
                FieldKind::Numeric => Parse::Number,
                FieldKind::MultiCategorical => Parse::Multi(field.separator().to_string()),
            };
            column(&field_column(field), &parse)
        })
        .collect();
    let (encoding, missing, oracle) = (raw.encoding, raw.missing, raw.oracle);
    let mut raw_columns: Vec<Option<RawColumn>> = raw.columns.into_iter().map(Some).collect();
    let mut fields = Vec::new();
    for (position, (field, &index)) in d.fields.iter().zip(&field_columns).enumerate() {
        // The last user of a raw column takes it and encodes in place; earlier ones copy.
        let last_user = !field_columns[position + 1..].contains(&index);
        let raw_column = if last_user { raw_columns[index].take() } else { raw_columns[index].clone() };
        let raw_column = raw_column.expect("a raw column is taken by its last user only");
        fields.push(encode_field(field, raw_column, missing[index], &split.train, encoding));
    }
    fields.extend(derived_fields);
    Ok(EncodedDataset { name: d.name.clone(), fingerprint, fields, labels, split, oracle })
}

/// How many rows of `n` go to training and to validation (the rest test), in order.
pub fn cut_sizes(n: usize, [train_share, valid_share, _]: [f64; 3]) -> (usize, usize) {
    let count = |share: f64| ((share * n as f64).round() as usize).min(n);
    let n_train = count(train_share);
    (n_train, count(valid_share).min(n - n_train))
}

fn make_split(descriptor: &LoadedDescriptor, raw: &RawTable) -> Result<Split, DataError> {
    let spec = &descriptor.descriptor.split;
    let n = raw.rows;
    let [train_share, valid_share, _] = spec.ratios;
    let count = |share: f64, of: usize| ((share * of as f64).round() as usize).min(of);
    // Cuts rows in `order` into train, validation and test by the shares.
    let cut = |order: Vec<u32>| {
        let (n_train, n_valid) = cut_sizes(n, spec.ratios);
        Split {
            train: order[..n_train].to_vec(),
            valid: order[n_train..n_train + n_valid].to_vec(),
            test: order[n_train + n_valid..].to_vec(),
        }
    };
    let mut split = Split::default();
    match spec.kind {
        SplitKind::Random => {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.shuffle(&mut Pcg64::seed_from_u64(spec.seed));
            split = cut(order);
        }
        SplitKind::Ordered => split = cut((0..n as u32).collect()),
        SplitKind::Time => {
            let time_column = split_column(spec).unwrap_or_default();
            let RawColumn::Numbers(times) =
                &raw.columns[raw.index_of(&time_column, &Parse::Number).expect("requested")]
            else {
                unreachable!("time is a number column")
            };
            if let Some(row) = times.iter().position(|t| t.is_nan()) {
                return Err(DataError::Invalid {
                    dataset: descriptor.descriptor.name.clone(),
                    message: format!("split.column `{time_column}` is empty in row {}", row + 1),
                });
            }
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_by(|&a, &b| times[a as usize].total_cmp(&times[b as usize]));
            split = cut(order);
        }
        SplitKind::Files => {
            for (row, part) in raw.parts.iter().enumerate() {
                match part {
                    Part::Train => split.train.push(row as u32),
                    Part::Valid => split.valid.push(row as u32),
                    Part::Test => split.test.push(row as u32),
                }
            }
            if spec.valid.is_none() {
                // No validation file: a random share of the training file validates.
                let share = valid_share / (train_share + valid_share);
                split.train.shuffle(&mut Pcg64::seed_from_u64(spec.seed));
                let n_valid = count(share, split.train.len());
                split.valid = split.train.split_off(split.train.len() - n_valid);
            }
        }
    }
    for part in [&mut split.train, &mut split.valid, &mut split.test] {
        part.sort_unstable();
    }
    Ok(split)
}

/// Counts of each raw id over the training rows.
fn train_counts(ids: &[u32], values: &Interner, train: &[u32]) -> Vec<u64> {
    let mut counts = vec![0u64; values.values.len()];
    for &row in train {
        counts[ids[row as usize] as usize] += 1;
    }
    counts
}

/// Vocabulary from training counts: ids by descending count (ties by first
/// appearance), values below `min_count` left out; returns raw id -> id (0 = OOV).
fn build_vocab(counts: &[u64], values: &Interner, min_count: u32, encoding: Encoding) -> (Vec<String>, Vec<u32>) {
    let mut kept: Vec<usize> = (0..counts.len()).filter(|&v| counts[v] >= min_count as u64).collect();
    kept.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let mut map = vec![0u32; counts.len()];
    let mut vocab = vec![OOV.to_string()];
    for (id, &value) in kept.iter().enumerate() {
        map[value] = id as u32 + 1;
        let text = values.text(value as u32, encoding);
        vocab.push(if text.is_empty() { MISSING.to_string() } else { text });
    }
    (vocab, map)
}

fn encode_field(
    spec: &FieldSpec,
    raw_column: RawColumn,
    missing_rows: u64,
    train: &[u32],
    encoding: Encoding,
) -> EncodedField {
    let mut info = FieldInfo {
        name: spec.name.clone(),
        kind: EncodedKind::Categorical,
        origin: format!("column {}", field_column(spec)),
        derived: false,
        vocab: Vec::new(),
        missing_rows,
        min_count: spec.min_count(),
        scale: None,
    };
    let mut pooled = None;
    let column = match raw_column {
        RawColumn::Interned { ids, values } => {
            let counts = train_counts(&ids, &values, train);
            let (vocab, map) = build_vocab(&counts, &values, spec.min_count(), encoding);
            info.vocab = vocab;
            // Every interned value occurs in some row: a value mapped to 0 is pooled.
            if map.contains(&0) {
                pooled = Some(ids.iter().copied().filter(|&id| map[id as usize] == 0).collect());
            }
            let mut ids = ids;
            ids.iter_mut().for_each(|id| *id = map[*id as usize]);
            Column::Ids(ids)
        }
        RawColumn::Multi { offsets, ids, values } => {
            let mut counts = vec![0u64; values.values.len()];
            for &row in train {
                let (start, end) = (offsets[row as usize] as usize, offsets[row as usize + 1] as usize);
                for &raw_id in &ids[start..end] {
                    counts[raw_id as usize] += 1;
                }
            }
            let (vocab, map) = build_vocab(&counts, &values, spec.min_count(), encoding);
            info.vocab = vocab;
            info.kind = EncodedKind::MultiCategorical;
            let mut ids = ids;
            ids.iter_mut().for_each(|id| *id = map[*id as usize]);
            Column::Multi { offsets, ids }
        }
        RawColumn::Numbers(values) => match spec.transform.unwrap_or_default() {
            NumericTransform::Quantile if !spec.edges.is_empty() => {
                info.vocab = bucket_labels(&spec.edges, &spec.labels);
                info.origin = format!("column {}, {} fixed buckets", field_column(spec), spec.edges.len() + 1);
                Column::Ids(values.iter().map(|&v| bucket_of(v, &spec.edges)).collect())
            }
            NumericTransform::Quantile => {
                let mut train_values: Vec<f64> =
                    train.iter().map(|&r| values[r as usize]).filter(|v| !v.is_nan()).collect();
                train_values.sort_by(f64::total_cmp);
                let edges = quantile_edges(&train_values, spec.bins() as usize);
                info.vocab = bucket_labels(&edges, &[]);
                info.origin = format!("column {}, {} quantile bins", spec.column(), edges.len() + 1);
                Column::Ids(values.iter().map(|&v| bucket_of(v, &edges)).collect())
            }
            NumericTransform::Scale => {
                let train_values: Vec<f64> =
                    train.iter().map(|&r| values[r as usize]).filter(|v| !v.is_nan()).collect();
                let n = train_values.len().max(1) as f64;
                let mean = train_values.iter().sum::<f64>() / n;
                let std = (train_values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-12);
                info.kind = EncodedKind::Dense;
                info.scale = Some((mean, std));
                info.origin = format!("column {}, standardised", spec.column());
                Column::Dense(
                    values.iter().map(|&v| if v.is_nan() { 0.0 } else { ((v - mean) / std) as f32 }).collect(),
                )
            }
        },
    };
    EncodedField { info, column, pooled }
}

/// Interior quantile edges of sorted values, without duplicates.
fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    let mut edges: Vec<f64> = Vec::new();
    if sorted.is_empty() {
        return edges;
    }
    for i in 1..bins {
        let edge = sorted[(i * sorted.len() / bins).min(sorted.len() - 1)];
        if edges.last().is_none_or(|&last| edge > last) && edge > sorted[0] {
            edges.push(edge);
        }
    }
    edges
}

/// Id of `value` among buckets split at `edges` (1-based; 0 for missing).
fn bucket_of(value: f64, edges: &[f64]) -> u32 {
    if value.is_nan() { 0 } else { edges.partition_point(|&e| e <= value) as u32 + 1 }
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}").trim_end_matches('0').to_string()
    }
}

/// Labels of buckets split at `edges`: the given ones, or ranges like `[18, 25)`.
fn bucket_labels(edges: &[f64], labels: &[String]) -> Vec<String> {
    let mut vocab = vec![MISSING.to_string()];
    if !labels.is_empty() {
        vocab.extend(labels.iter().cloned());
        return vocab;
    }
    if edges.is_empty() {
        vocab.push("all".into());
        return vocab;
    }
    vocab.push(format!("< {}", format_number(edges[0])));
    for pair in edges.windows(2) {
        vocab.push(format!("[{}, {})", format_number(pair[0]), format_number(pair[1])));
    }
    vocab.push(format!(">= {}", format_number(edges[edges.len() - 1])));
    vocab
}

/// A derived field from its source: the raw column, its count of empty cells and the
/// file's text encoding.
fn encode_derived(
    spec: &DerivedSpec,
    (raw_column, missing_rows, encoding): (&RawColumn, u64, Encoding),
    train: &[u32],
) -> EncodedField {
    let mut info = FieldInfo {
        name: spec.name.clone(),
        kind: EncodedKind::Categorical,
        origin: String::new(),
        derived: true,
        vocab: Vec::new(),
        missing_rows,
        min_count: 1,
        scale: None,
    };
    let column = match (spec.kind, raw_column) {
        (DerivedKind::Bucket, RawColumn::Numbers(values)) => {
            info.vocab = bucket_labels(&spec.edges, &spec.labels);
            info.origin = format!("buckets of {}", spec.column);
            Column::Ids(values.iter().map(|&v| bucket_of(v, &spec.edges)).collect())
        }
        (DerivedKind::Activity | DerivedKind::Frequency, RawColumn::Interned { ids, values }) => {
            let counts = train_counts(ids, values, train);
            let mut seen: Vec<f64> = counts.iter().filter(|&&c| c > 0).map(|&c| c as f64).collect();
            seen.sort_by(f64::total_cmp);
            let what = if spec.kind == DerivedKind::Activity { "activity" } else { "frequency" };
            let quantiles = spec.quantiles.or((spec.kind == DerivedKind::Frequency).then_some(4));
            match quantiles {
                Some(q) => {
                    let edges = quantile_edges(&seen, q as usize);
                    let labels = count_bucket_labels(&edges);
                    info.origin = format!(
                        "{what} of {}: {} quantile buckets of training rows per value",
                        spec.column,
                        labels.len()
                    );
                    info.vocab = std::iter::once(OOV.to_string()).chain(labels).collect();
                    Column::Ids(ids.iter().map(|&raw_id| bucket_of(counts[raw_id as usize] as f64, &edges)).collect())
                }
                None => {
                    let median = seen.get(seen.len() / 2).copied().unwrap_or(0.0) as u64;
                    let threshold = spec.threshold.unwrap_or(median);
                    info.origin = format!("{what} of {}: cold <= {threshold} training rows < active", spec.column);
                    info.vocab = vec![OOV.to_string(), "cold".into(), "active".into()];
                    Column::Ids(
                        ids.iter().map(|&raw_id| if counts[raw_id as usize] <= threshold { 1 } else { 2 }).collect(),
                    )
                }
            }
        }
        (DerivedKind::Shuffled, RawColumn::Interned { ids, values }) => {
            use rand::SeedableRng;
            use rand::seq::SliceRandom;
            let seed = spec.seed.unwrap_or(0);
            info.origin = format!("{} shuffled over the rows (seed {seed}): a placebo", spec.column);
            // Index 0 is the out-of-vocabulary id, as in every other field; values are
            // decoded and empty cells named as a categorical field of the column has them.
            info.vocab = std::iter::once(OOV.to_string())
                .chain((0..values.values.len() as u32).map(|id| {
                    let text = values.text(id, encoding);
                    if text.is_empty() { MISSING.to_string() } else { text }
                }))
                .collect();
            let mut shuffled: Vec<u32> = ids.iter().map(|&id| id + 1).collect();
            shuffled.shuffle(&mut rand_pcg::Pcg64::seed_from_u64(seed));
            Column::Ids(shuffled)
        }
        _ => unreachable!("derived columns are requested with the parse their kind needs"),
    };
    EncodedField { info, column, pooled: None }
}

/// Labels of count buckets: `q1 (0-3 rows)`, `q2 (4-10 rows)`, ... `q4 (>= 57 rows)`.
fn count_bucket_labels(edges: &[f64]) -> Vec<String> {
    let mut labels = Vec::new();
    let mut low = 0u64;
    for (i, &edge) in edges.iter().enumerate() {
        labels.push(format!("q{} ({}-{} rows)", i + 1, low, edge as u64 - 1));
        low = edge as u64;
    }
    labels.push(format!("q{} (>= {} rows)", edges.len() + 1, low));
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_edges_skip_duplicates() {
        let sorted = [1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_edges(&sorted, 4), vec![2.0, 4.0]);
        assert_eq!(quantile_edges(&[7.0; 5], 4), Vec::<f64>::new());
    }

    #[test]
    fn buckets_are_half_open() {
        let edges = [18.0, 25.0];
        assert_eq!([17.0, 18.0, 24.9, 25.0, 90.0].map(|v| bucket_of(v, &edges)), [1, 2, 2, 3, 3]);
        assert_eq!(bucket_of(f64::NAN, &edges), 0);
        assert_eq!(bucket_labels(&edges, &[]), vec![MISSING, "< 18", "[18, 25)", ">= 25"]);
    }

    #[test]
    fn count_buckets_name_their_ranges() {
        assert_eq!(count_bucket_labels(&[4.0, 11.0]), vec!["q1 (0-3 rows)", "q2 (4-10 rows)", "q3 (>= 11 rows)"]);
    }
}
