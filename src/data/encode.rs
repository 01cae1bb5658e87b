//! Encoding: the raw table becomes dense integer ids per field, with vocabularies built
//! on the training split only, plus derived fields, labels and the split, column-wise.
//! The encoder streams each raw column (spilled to a file by the loader, see
//! [`crate::data::spill`]) once to count its values and once to write its ids straight
//! into the cache file; it never holds a whole table.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::data::DataError;
use crate::data::array::Array;
use crate::data::cache::{CacheWriter, ColumnSlots, Layout, Slot};
use crate::data::descriptor::{
    DerivedKind, DerivedSpec, Encoding, FieldKind, FieldSpec, LoadedDescriptor, NumericTransform, SplitKind,
};
use crate::data::raw::{ColumnRequest, Interner, Parse, Part, RawColumn, RawTable};
use crate::data::spill::Spill;
use crate::data::transform::{derived_column, field_column, split_column};

/// The label every categorical field reserves id 0 for.
pub const OOV: &str = "<oov>";
pub const MISSING: &str = "<missing>";

/// Row indices of each split, ascending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    pub train: Array<u32>,
    pub valid: Array<u32>,
    pub test: Array<u32>,
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

/// A field's values per row; the arrays are owned or mapped from the cache file.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Ids(Array<u32>),
    Multi { offsets: Array<u32>, ids: Array<u32> },
    Dense(Array<f32>),
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
    pub pooled: Option<Array<u32>>,
}

impl EncodedField {
    /// For each of `rows` (ascending, as a split's are), an id that tells the field's raw
    /// values apart: the encoded id, or for a pooled row one past the vocabulary per raw
    /// value. None for multi-valued and dense fields. One pass over the column, holding
    /// only the ids of `rows`.
    pub fn value_ids(&self, rows: &[u32]) -> Option<Vec<u32>> {
        let Column::Ids(ids) = &self.column else { return None };
        let Some(pooled) = &self.pooled else { return Some(rows.iter().map(|&r| ids[r as usize]).collect()) };
        let vocab = self.info.vocab.len() as u32;
        // The k-th pooled row (in row order) has the k-th raw id: count them on the way.
        let (mut pooled_before, mut scanned) = (0usize, 0usize);
        let mut values = Vec::with_capacity(rows.len());
        for &row in rows {
            let row = row as usize;
            assert!(row >= scanned, "rows are ascending");
            pooled_before += ids[scanned..row].iter().filter(|&&id| id == 0).count();
            scanned = row;
            values.push(match ids[row] {
                0 => vocab + pooled.get(pooled_before).copied().unwrap_or(0),
                id => id,
            });
        }
        Some(values)
    }
}

/// A dataset ready for training and statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedDataset {
    pub name: String,
    pub fingerprint: String,
    pub fields: Vec<EncodedField>,
    /// 0/1 per row.
    pub labels: Array<u8>,
    pub split: Split,
    /// True click probability per row, for generated data.
    pub oracle: Option<Array<f32>>,
}

impl EncodedDataset {
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    pub fn field(&self, name: &str) -> Option<&EncodedField> {
        self.fields.iter().find(|f| f.info.name == name)
    }

    /// Whether the columns are views of a memory-mapped cache file.
    pub fn is_mapped(&self) -> bool {
        self.labels.is_mapped()
    }

    /// The same dataset with every array copied into memory.
    pub fn into_owned(self) -> Self {
        let fields = self
            .fields
            .into_iter()
            .map(|f| EncodedField {
                info: f.info,
                column: match f.column {
                    Column::Ids(ids) => Column::Ids(ids.into_owned()),
                    Column::Multi { offsets, ids } => {
                        Column::Multi { offsets: offsets.into_owned(), ids: ids.into_owned() }
                    }
                    Column::Dense(values) => Column::Dense(values.into_owned()),
                },
                pooled: f.pooled.map(Array::into_owned),
            })
            .collect();
        let split = Split {
            train: self.split.train.into_owned(),
            valid: self.split.valid.into_owned(),
            test: self.split.test.into_owned(),
        };
        EncodedDataset {
            name: self.name,
            fingerprint: self.fingerprint,
            fields,
            labels: self.labels.into_owned(),
            split,
            oracle: self.oracle.map(Array::into_owned),
        }
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

/// Why an encoding stopped: something in the data (for the user), or writing its output.
#[derive(Debug)]
pub enum EncodeError {
    Data(DataError),
    Write(std::io::Error),
}

impl From<DataError> for EncodeError {
    fn from(e: DataError) -> Self {
        EncodeError::Data(e)
    }
}

impl From<std::io::Error> for EncodeError {
    fn from(e: std::io::Error) -> Self {
        EncodeError::Write(e)
    }
}

/// Where each row goes, by [`Part`] (train 0, validation 1, test 2).
type Parts = Vec<u8>;
const TRAIN: u8 = Part::Train as u8;

/// Encodes the raw table into the cache file `out` is writing, one array after the
/// other, and returns the layout that [`CacheWriter::finish`] ends the file with.
pub fn encode(descriptor: &LoadedDescriptor, raw: &RawTable, out: &mut CacheWriter) -> Result<Layout, EncodeError> {
    let d = &descriptor.descriptor;
    let invalid = |message: String| DataError::Invalid { dataset: d.name.clone(), message };
    if raw.rows == 0 {
        return Err(invalid("the source holds no rows".into()).into());
    }
    let column =
        |name: &str, parse: &Parse| &raw.columns[raw.index_of(name, parse).expect("every needed column was requested")];
    let missing = |name: &str, parse: &Parse| raw.missing[raw.index_of(name, parse).expect("requested")];

    let RawColumn::Numbers(label_values) =
        column(&d.label.column, &Parse::Label { binary: d.label.threshold.is_none() })
    else {
        unreachable!("labels are numbers")
    };
    let labels = match d.label.threshold {
        Some(t) => write_mapped(out, label_values, |v| (v >= t) as u8)?,
        None => write_mapped(out, label_values, |v| (v > 0.0) as u8)?,
    };

    let parts = make_split(descriptor, raw)?;
    if !parts.contains(&TRAIN) {
        return Err(invalid("the training split is empty".into()).into());
    }
    let mut split = [Slot { offset: 0, len: 0 }; 3];
    for (part, slot) in split.iter_mut().enumerate() {
        out.begin()?;
        let rows: Vec<u32> = (0..raw.rows as u32).filter(|&r| parts[r as usize] == part as u8).collect();
        out.put(&rows)?;
        *slot = out.end();
    }

    let (mut fields, mut columns, mut pooled) = (Vec::new(), Vec::new(), Vec::new());
    for field in &d.fields {
        let parse = match field.kind {
            FieldKind::Categorical => Parse::Interned,
            FieldKind::Numeric => Parse::Number,
            FieldKind::MultiCategorical => Parse::Multi(field.separator().to_string()),
        };
        let name = field_column(field);
        let source = (column(&name, &parse), missing(&name, &parse));
        let (info, slots, pooled_rows) = encode_field(field, source, &parts, raw.encoding, out)?;
        fields.push(info);
        columns.push(slots);
        pooled.push(pooled_rows);
    }
    for derived in &d.derived {
        let parse = if derived.kind == DerivedKind::Bucket { Parse::Number } else { Parse::Interned };
        let name = derived_column(derived);
        let source = (column(&name, &parse), missing(&name, &parse), raw.encoding);
        let (info, slots) = encode_derived(derived, source, &parts, out)?;
        fields.push(info);
        columns.push(slots);
        pooled.push(None);
    }
    let oracle = raw.oracle.as_ref().map(|oracle| out.array(oracle)).transpose()?;
    Ok(Layout { name: d.name.clone(), rows: raw.rows, fields, columns, pooled, labels, split, oracle })
}

/// Writes `f` of every value of `column` as one array, a chunk at a time.
fn write_mapped<T: bytemuck::Pod, U: bytemuck::Pod>(
    out: &mut CacheWriter,
    column: &Spill<T>,
    f: impl Fn(T) -> U,
) -> std::io::Result<Slot> {
    out.begin()?;
    let mut buffer = Vec::new();
    column.for_each_chunk(|chunk| {
        buffer.clear();
        buffer.extend(chunk.iter().map(|&v| f(v)));
        out.put(&buffer)
    })?;
    Ok(out.end())
}

/// Calls `f` with each row's index and value of `column`.
fn for_each_row<T: bytemuck::Pod>(column: &Spill<T>, mut f: impl FnMut(usize, T)) -> std::io::Result<()> {
    let mut row = 0;
    column.for_each_chunk(|chunk| {
        for &value in chunk {
            f(row, value);
            row += 1;
        }
        Ok(())
    })
}

/// How many rows of `n` go to training and to validation (the rest test), in order.
pub fn cut_sizes(n: usize, [train_share, valid_share, _]: [f64; 3]) -> (usize, usize) {
    let count = |share: f64| ((share * n as f64).round() as usize).min(n);
    let n_train = count(train_share);
    (n_train, count(valid_share).min(n - n_train))
}

/// The part (train, validation, test) of every row.
fn make_split(descriptor: &LoadedDescriptor, raw: &RawTable) -> Result<Parts, EncodeError> {
    let spec = &descriptor.descriptor.split;
    let n = raw.rows;
    let [train_share, valid_share, _] = spec.ratios;
    let count = |share: f64, of: usize| ((share * of as f64).round() as usize).min(of);
    // Cuts rows in `order` into train, validation and test by the shares.
    let cut = |order: Vec<u32>| {
        let (n_train, n_valid) = cut_sizes(n, spec.ratios);
        let mut parts = vec![Part::Test as u8; n];
        for (i, &row) in order.iter().enumerate() {
            if i < n_train {
                parts[row as usize] = TRAIN;
            } else if i < n_train + n_valid {
                parts[row as usize] = Part::Valid as u8;
            }
        }
        parts
    };
    Ok(match spec.kind {
        SplitKind::Random => {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.shuffle(&mut Pcg64::seed_from_u64(spec.seed));
            cut(order)
        }
        SplitKind::Ordered => cut((0..n as u32).collect()),
        SplitKind::Time => {
            let time_column = split_column(spec).unwrap_or_default();
            let index = raw.index_of(&time_column, &Parse::Number).expect("requested");
            let RawColumn::Numbers(times) = &raw.columns[index] else { unreachable!("time is a number column") };
            let times = times.to_vec()?;
            if let Some(row) = times.iter().position(|t| t.is_nan()) {
                return Err(EncodeError::Data(DataError::Invalid {
                    dataset: descriptor.descriptor.name.clone(),
                    message: format!("split.column `{time_column}` is empty in row {}", row + 1),
                }));
            }
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_by(|&a, &b| times[a as usize].total_cmp(&times[b as usize]));
            cut(order)
        }
        SplitKind::Files => {
            let mut parts: Parts = raw.parts.iter().map(|&p| p as u8).collect();
            if spec.valid.is_none() {
                // No validation file: a random share of the training file validates.
                let share = valid_share / (train_share + valid_share);
                let mut train: Vec<u32> = (0..n as u32).filter(|&r| parts[r as usize] == TRAIN).collect();
                train.shuffle(&mut Pcg64::seed_from_u64(spec.seed));
                let n_valid = count(share, train.len());
                for &row in &train[train.len() - n_valid..] {
                    parts[row as usize] = Part::Valid as u8;
                }
            }
            parts
        }
    })
}

/// Counts of each raw id over the training rows.
fn train_counts(ids: &Spill<u32>, values: &Interner, parts: &Parts) -> std::io::Result<Vec<u64>> {
    let mut counts = vec![0u64; values.values.len()];
    for_each_row(ids, |row, id| counts[id as usize] += (parts[row] == TRAIN) as u64)?;
    Ok(counts)
}

/// The training values of a number column that are not missing, in row order.
fn train_values(values: &Spill<f64>, parts: &Parts) -> std::io::Result<Vec<f64>> {
    let mut kept = Vec::new();
    for_each_row(values, |row, v| {
        if parts[row] == TRAIN && !v.is_nan() {
            kept.push(v);
        }
    })?;
    Ok(kept)
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

/// Encodes one field into `out`: its metadata, its column's arrays and, when its
/// vocabulary pools values, the raw ids of the pooled rows.
fn encode_field(
    spec: &FieldSpec,
    (raw_column, missing_rows): (&RawColumn, u64),
    parts: &Parts,
    encoding: Encoding,
    out: &mut CacheWriter,
) -> Result<(FieldInfo, ColumnSlots, Option<Slot>), EncodeError> {
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
    let slots = match raw_column {
        RawColumn::Interned { ids, values } => {
            let counts = train_counts(ids, values, parts)?;
            let (vocab, map) = build_vocab(&counts, values, spec.min_count(), encoding);
            info.vocab = vocab;
            let slot = write_mapped(out, ids, |id| map[id as usize])?;
            // Every interned value occurs in some row: a value mapped to 0 is pooled.
            if map.contains(&0) {
                out.begin()?;
                let mut buffer = Vec::new();
                ids.for_each_chunk(|chunk| {
                    buffer.clear();
                    buffer.extend(chunk.iter().copied().filter(|&id| map[id as usize] == 0));
                    out.put(&buffer)
                })?;
                pooled = Some(out.end());
            }
            ColumnSlots::Ids(slot)
        }
        RawColumn::Multi { offsets, ids, values } => {
            // Multi-valued columns are small (a few values a row): read whole, one at a time.
            let (offsets, mut ids) = (offsets.to_vec()?, ids.to_vec()?);
            let mut counts = vec![0u64; values.values.len()];
            for (row, &part) in parts.iter().enumerate() {
                if part == TRAIN {
                    for &raw_id in &ids[offsets[row] as usize..offsets[row + 1] as usize] {
                        counts[raw_id as usize] += 1;
                    }
                }
            }
            let (vocab, map) = build_vocab(&counts, values, spec.min_count(), encoding);
            info.vocab = vocab;
            info.kind = EncodedKind::MultiCategorical;
            ids.iter_mut().for_each(|id| *id = map[*id as usize]);
            ColumnSlots::Multi { offsets: out.array(&offsets)?, ids: out.array(&ids)? }
        }
        RawColumn::Numbers(values) => match spec.transform.unwrap_or_default() {
            NumericTransform::Quantile if !spec.edges.is_empty() => {
                info.vocab = bucket_labels(&spec.edges, &spec.labels);
                info.origin = format!("column {}, {} fixed buckets", field_column(spec), spec.edges.len() + 1);
                ColumnSlots::Ids(write_mapped(out, values, |v| bucket_of(v, &spec.edges))?)
            }
            NumericTransform::Quantile => {
                let mut train_values = train_values(values, parts)?;
                train_values.sort_by(f64::total_cmp);
                let edges = quantile_edges(&train_values, spec.bins() as usize);
                info.vocab = bucket_labels(&edges, &[]);
                info.origin = format!("column {}, {} quantile bins", spec.column(), edges.len() + 1);
                ColumnSlots::Ids(write_mapped(out, values, |v| bucket_of(v, &edges))?)
            }
            NumericTransform::Scale => {
                let train_values = train_values(values, parts)?;
                let n = train_values.len().max(1) as f64;
                let mean = train_values.iter().sum::<f64>() / n;
                let std = (train_values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-12);
                info.kind = EncodedKind::Dense;
                info.scale = Some((mean, std));
                info.origin = format!("column {}, standardised", spec.column());
                let scaled = |v: f64| if v.is_nan() { 0.0 } else { ((v - mean) / std) as f32 };
                ColumnSlots::Dense(write_mapped(out, values, scaled)?)
            }
        },
    };
    Ok((info, slots, pooled))
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

/// Encodes a derived field from its source (the raw column, its count of empty cells and
/// the file's text encoding) into `out`.
fn encode_derived(
    spec: &DerivedSpec,
    (raw_column, missing_rows, encoding): (&RawColumn, u64, Encoding),
    parts: &Parts,
    out: &mut CacheWriter,
) -> Result<(FieldInfo, ColumnSlots), EncodeError> {
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
    let slot = match (spec.kind, raw_column) {
        (DerivedKind::Bucket, RawColumn::Numbers(values)) => {
            info.vocab = bucket_labels(&spec.edges, &spec.labels);
            info.origin = format!("buckets of {}", spec.column);
            write_mapped(out, values, |v| bucket_of(v, &spec.edges))?
        }
        (DerivedKind::Activity | DerivedKind::Frequency, RawColumn::Interned { ids, values }) => {
            let counts = train_counts(ids, values, parts)?;
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
                    write_mapped(out, ids, |raw_id| bucket_of(counts[raw_id as usize] as f64, &edges))?
                }
                None => {
                    let median = seen.get(seen.len() / 2).copied().unwrap_or(0.0) as u64;
                    let threshold = spec.threshold.unwrap_or(median);
                    info.origin = format!("{what} of {}: cold <= {threshold} training rows < active", spec.column);
                    info.vocab = vec![OOV.to_string(), "cold".into(), "active".into()];
                    write_mapped(out, ids, |raw_id| if counts[raw_id as usize] <= threshold { 1u32 } else { 2 })?
                }
            }
        }
        (DerivedKind::Shuffled, RawColumn::Interned { ids, values }) => {
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
            // A permutation of the whole column: held in memory, one column.
            let mut shuffled: Vec<u32> = ids.to_vec()?.into_iter().map(|id| id + 1).collect();
            shuffled.shuffle(&mut Pcg64::seed_from_u64(seed));
            out.array(&shuffled)?
        }
        _ => unreachable!("derived columns are requested with the parse their kind needs"),
    };
    Ok((info, ColumnSlots::Ids(slot)))
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
    fn value_ids_tell_pooled_rows_apart_by_their_raw_value() {
        let field = EncodedField {
            info: FieldInfo {
                name: "user".into(),
                kind: EncodedKind::Categorical,
                origin: String::new(),
                derived: false,
                vocab: vec![OOV.into(), "a".into(), "b".into(), "c".into()],
                missing_rows: 0,
                min_count: 2,
                scale: None,
            },
            column: Column::Ids(vec![3, 0, 1, 0, 0, 2].into()),
            pooled: Some(vec![7, 8, 9].into()),
        };
        // By hand: pooled rows 1, 3, 4 hold raw ids 7, 8, 9, shown as 4 + raw id.
        assert_eq!(field.value_ids(&[0, 1, 2, 3, 4, 5]), Some(vec![3, 11, 1, 12, 13, 2]));
        assert_eq!(field.value_ids(&[1, 3, 4, 5]), Some(vec![11, 12, 13, 2]));
        assert_eq!(field.value_ids(&[0, 4]), Some(vec![3, 13]));
        assert_eq!(field.value_ids(&[]), Some(vec![]));
    }

    #[test]
    fn count_buckets_name_their_ranges() {
        assert_eq!(count_bucket_labels(&[4.0, 11.0]), vec!["q1 (0-3 rows)", "q2 (4-10 rows)", "q3 (>= 11 rows)"]);
    }
}
