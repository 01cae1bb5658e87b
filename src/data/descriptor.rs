//! Dataset descriptors: the TOML files in `datasets/` that say where the data lives,
//! its format, the label, the fields and their kinds, the derived fields and the split.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::synthetic::SyntheticSpec;
use crate::data::time::TimeFormat;
pub use crate::data::time::TimePart;
use crate::toml_error::{ConfigError, parse_toml, read_file};

/// Built-in descriptors, embedded in the binary so they work from any folder.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("synthetic-multidomain", include_str!("../../datasets/synthetic-multidomain.toml")),
    ("movielens-100k", include_str!("../../datasets/movielens-100k.toml")),
    ("frappe", include_str!("../../datasets/frappe.toml")),
    ("example-csv", include_str!("../../datasets/example-csv.toml")),
];

/// Data files of built-in descriptors small enough to ship inside the binary:
/// (dataset name, path relative to the descriptor's base folder, contents). Outside the
/// repository they are written once to the user's cache folder and read from there.
const BUILT_IN_DATA: &[(&str, &str, &str)] =
    &[("example-csv", "example/clicks.csv", include_str!("../../datasets/example/clicks.csv"))];

/// The name of the dataset a workspace uses when it names none.
pub const DEFAULT_DATASET: &str = "synthetic-multidomain";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetDescriptor {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Licence terms shown to users (fetch, inspect).
    #[serde(default)]
    pub licence: String,
    pub source: SourceSpec,
    #[serde(default)]
    pub synthetic: Option<SyntheticSpec>,
    pub label: LabelSpec,
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub derived: Vec<DerivedSpec>,
    #[serde(default)]
    pub split: SplitSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Delimited text with a header row (CSV, TSV, any separator, quoted fields).
    Csv,
    /// The native MovieLens-100K files: u.data, u.user, u.item (latin-1), u.genre.
    #[serde(rename = "movielens-100k")]
    Movielens100k,
    /// libSVM / libFM rows: `label idx:val idx:val ...`, one index per field.
    Libfm,
    /// The built-in deterministic generator (see `[synthetic]`).
    Synthetic,
    /// Apache Parquet files; columns are read by name as in csv.
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "latin-1")]
    Latin1,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub format: Format,
    /// Folders to look for the files in, first existing wins; relative to the
    /// descriptor, `${VAR}` expands environment variables.
    #[serde(default)]
    pub dir: Vec<String>,
    /// The single file of a csv/libfm dataset (relative to `dir`), unless the split
    /// names separate files.
    #[serde(default)]
    pub path: Option<String>,
    /// Column separator of csv files (`"\t"` for TSV); several characters (`"::"`)
    /// split lines without quoting.
    #[serde(default = "default_separator")]
    pub separator: String,
    #[serde(default = "default_quote")]
    pub quote: String,
    #[serde(default = "default_true")]
    pub header: bool,
    #[serde(default)]
    pub encoding: Encoding,
    /// Names of the csv columns: needed without a header row; with one, they replace
    /// the names it gives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// One row per item of a list-valued column (impression logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explode: Option<ExplodeSpec>,
}

/// `[source.explode]`: a row whose `column` holds a list of items becomes one row per
/// item; each item, split at `part_separator`, fills the new columns named by `into`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplodeSpec {
    pub column: String,
    /// Between the items of the list (default one space).
    #[serde(default = "default_explode_separator")]
    pub separator: String,
    /// Names of the columns an item fills, in the order of its parts.
    pub into: Vec<String>,
    /// Between the parts of an item (`N123-1`: `"-"`); needed when `into` names several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_separator: Option<String>,
}

fn default_explode_separator() -> String {
    " ".into()
}

fn default_separator() -> String {
    ",".into()
}
fn default_quote() -> String {
    "\"".into()
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    pub column: String,
    /// `label = value >= threshold`; without it values must be 0/1 (or -1/+1).
    #[serde(default)]
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Categorical,
    Numeric,
    MultiCategorical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericTransform {
    /// Quantile bins computed on the training split; the field becomes categorical.
    #[default]
    Quantile,
    /// Standardised with the training mean and standard deviation; stays dense.
    Scale,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    pub kind: FieldKind,
    /// Source column; defaults to the field's name.
    #[serde(default)]
    pub column: Option<String>,
    /// Values seen fewer times than this in training map to the OOV id.
    #[serde(default)]
    pub min_count: Option<u32>,
    /// Separator of multi-valued categorical cells (default `|`).
    #[serde(default)]
    pub separator: Option<String>,
    #[serde(default)]
    pub transform: Option<NumericTransform>,
    /// Number of quantile bins of a numeric field (default 10).
    #[serde(default)]
    pub bins: Option<u32>,
    /// Several source columns as one multi-valued field (multi_categorical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Values that mean "missing" (`"-124"`, `"NA"`); an empty cell always does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The first N characters of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<u32>,
    /// Characters `[start, end)` of the value, counted from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substring: Option<[u32; 2]>,
    /// The value is a time: a strftime pattern, `epoch_s` or `epoch_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_format: Option<String>,
    /// A part of the time as the value: hour, weekday, day, month or date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_part: Option<TimePart>,
    /// Numeric fields: fixed bucket edges instead of quantile bins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
    /// Numeric fields with `edges`: one label per bucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// The value transforms of a field, a derived field or the split column, applied to
/// the text of a cell in this order: missing markers, then a substring, then a time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValueSpec<'a> {
    pub missing: &'a [String],
    pub prefix: Option<u32>,
    pub substring: Option<[u32; 2]>,
    pub time_format: Option<&'a str>,
    pub time_part: Option<TimePart>,
}

impl ValueSpec<'_> {
    /// Whether the value is the cell's text as it is.
    pub fn is_plain(&self) -> bool {
        *self == ValueSpec::default()
    }
}

impl FieldSpec {
    pub fn column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }
    pub fn min_count(&self) -> u32 {
        self.min_count.unwrap_or(1).max(1)
    }
    pub fn separator(&self) -> &str {
        self.separator.as_deref().unwrap_or("|")
    }
    pub fn bins(&self) -> u32 {
        self.bins.unwrap_or(10)
    }
    /// The source columns: `columns`, else `column`, else the field's name.
    pub fn sources(&self) -> Vec<&str> {
        if self.columns.is_empty() { vec![self.column()] } else { self.columns.iter().map(String::as_str).collect() }
    }
    pub fn value(&self) -> ValueSpec<'_> {
        ValueSpec {
            missing: &self.missing,
            prefix: self.prefix,
            substring: self.substring,
            time_format: self.time_format.as_deref(),
            time_part: self.time_part,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DerivedKind {
    /// Bucket of how many training rows the value (e.g. the user) has: cold/active
    /// by default, or quantile buckets.
    Activity,
    /// Same counting as `activity`, quantile buckets by default: any field's frequency.
    Frequency,
    /// Fixed edges over a numeric column, e.g. age buckets.
    Bucket,
    /// The column's values permuted over the rows (by `seed`): a placebo with the same
    /// values and frequencies and no relation to the label, for control experiments
    /// (APG conditioned on it should not beat the static model).
    Shuffled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedSpec {
    pub name: String,
    pub kind: DerivedKind,
    /// The source column the bucket is computed from.
    pub column: String,
    /// activity/frequency: values with at most this many training rows are "cold"
    /// (default: the median count per value).
    #[serde(default)]
    pub threshold: Option<u64>,
    /// activity/frequency: use this many quantile buckets instead of cold/active.
    #[serde(default)]
    pub quantiles: Option<u32>,
    /// bucket: ascending edges; a value v falls in the first bucket whose edge is > v.
    #[serde(default)]
    pub edges: Vec<f64>,
    /// bucket: one label per bucket (edges + 1); default labels show the ranges.
    #[serde(default)]
    pub labels: Vec<String>,
    /// shuffled: seed of the permutation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Values that mean "missing" (`"-124"`, `"NA"`); an empty cell always does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The first N characters of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<u32>,
    /// Characters `[start, end)` of the value, counted from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substring: Option<[u32; 2]>,
    /// The value is a time: a strftime pattern, `epoch_s` or `epoch_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_format: Option<String>,
    /// A part of the time as the value: hour, weekday, day, month or date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_part: Option<TimePart>,
}

impl DerivedSpec {
    pub fn value(&self) -> ValueSpec<'_> {
        ValueSpec {
            missing: &self.missing,
            prefix: self.prefix,
            substring: self.substring,
            time_format: self.time_format.as_deref(),
            time_part: self.time_part,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    /// Rows shuffled by `seed` and cut by `ratios`.
    #[default]
    Random,
    /// Rows sorted by `column`; the last shares are validation and test.
    Time,
    /// Separate files; without a validation file, a random `ratios[1]` share of train.
    Files,
    /// Rows in file order (logs written in time order without a time column); the last
    /// shares are validation and test.
    Ordered,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    #[serde(default)]
    pub kind: SplitKind,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Train, validation and test shares; they must sum to 1.
    #[serde(default = "default_ratios")]
    pub ratios: [f64; 3],
    /// Time column for `kind = "time"`.
    #[serde(default)]
    pub column: Option<String>,
    /// How the time column's text holds the time (default: a number, e.g. epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_format: Option<String>,
    #[serde(default)]
    pub train: Option<String>,
    #[serde(default)]
    pub valid: Option<String>,
    #[serde(default)]
    pub test: Option<String>,
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec {
            kind: SplitKind::Random,
            seed: default_seed(),
            ratios: default_ratios(),
            column: None,
            time_format: None,
            train: None,
            valid: None,
            test: None,
        }
    }
}

fn default_seed() -> u64 {
    42
}
fn default_ratios() -> [f64; 3] {
    [0.8, 0.1, 0.1]
}

/// A descriptor together with where it came from, so that errors can point into it.
#[derive(Debug, Clone)]
pub struct LoadedDescriptor {
    pub descriptor: DatasetDescriptor,
    /// The file it was read from (`<built-in>/NAME.toml` for embedded ones).
    pub file: PathBuf,
    pub text: String,
    /// Folder that relative paths are resolved against.
    pub base_dir: PathBuf,
}

impl LoadedDescriptor {
    /// Reads a descriptor by path, or by built-in name (`synthetic-multidomain`...).
    /// A path that exists wins over a built-in of the same name.
    pub fn open(reference: &str) -> Result<Self, ConfigError> {
        let path = Path::new(reference);
        if path.exists() {
            return Self::from_file(path);
        }
        let name = reference.trim_end_matches(".toml");
        match BUILT_IN.iter().find(|(n, _)| *n == name) {
            Some((name, text)) => {
                let base_dir = built_in_base_dir(name);
                Self::from_text(&PathBuf::from(format!("<built-in>/{name}.toml")), text, base_dir)
            }
            None => {
                let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
                Err(ConfigError::whole_file(
                    path,
                    format!("no such file, and no built-in dataset of that name (built-in: {})", names.join(", ")),
                ))
            }
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_file(path)?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_text(path, &text, base_dir)
    }

    pub fn from_text(file: &Path, text: &str, base_dir: PathBuf) -> Result<Self, ConfigError> {
        let descriptor: DatasetDescriptor = parse_toml(file, text)?;
        let loaded = LoadedDescriptor { descriptor, file: file.to_path_buf(), text: text.to_string(), base_dir };
        loaded.validate()?;
        Ok(loaded)
    }

    /// An error pointing at `key` in this descriptor.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at_key(&self.file, &self.text, key, message)
    }

    /// Checks what serde cannot: names, references between keys, value ranges.
    fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.descriptor;
        if !is_safe_name(&d.name) {
            return Err(self.error(
                "name",
                format!(
                    "dataset name {:?} must be 1 to {MAX_NAME_LEN} letters, digits, '.', '_' or '-', starting with a \
                     letter or digit (it names the cache file)",
                    d.name
                ),
            ));
        }
        if d.fields.is_empty() {
            return Err(self.error("fields", "a dataset needs at least one field"));
        }
        let mut names: Vec<&str> = Vec::new();
        let all_names =
            d.fields.iter().map(|f| (&f.name, "fields")).chain(d.derived.iter().map(|f| (&f.name, "derived")));
        for (i, (name, table)) in all_names.enumerate() {
            let index = if table == "fields" { i } else { i - d.fields.len() };
            let key = format!("{table}[{index}].name");
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                return Err(self.error(&key, format!("field name {name:?} must be letters, digits, '_' or '-'")));
            }
            if names.contains(&name.as_str()) {
                return Err(self.error(&key, format!("duplicate field name {name:?}")));
            }
            names.push(name);
        }
        self.validate_no_label_leak()?;
        for (i, field) in d.fields.iter().enumerate() {
            let key = |k: &str| format!("fields[{i}].{k}");
            let categorical = matches!(field.kind, FieldKind::Categorical | FieldKind::MultiCategorical);
            if !categorical && field.min_count.is_some() {
                return Err(self.error(&key("min_count"), "min_count applies to categorical fields only"));
            }
            if field.kind != FieldKind::MultiCategorical && field.separator.is_some() {
                return Err(self.error(&key("separator"), "separator applies to multi_categorical fields only"));
            }
            if field.kind != FieldKind::Numeric && (field.transform.is_some() || field.bins.is_some()) {
                let k = if field.transform.is_some() { "transform" } else { "bins" };
                return Err(self.error(&key(k), "transform and bins apply to numeric fields only"));
            }
            if field.bins == Some(0) || field.bins.is_some_and(|b| b > 1000) {
                return Err(self.error(&key("bins"), "bins must be between 1 and 1000"));
            }
            if field.separator.as_deref() == Some("") {
                return Err(self.error(&key("separator"), "separator must not be empty"));
            }
            if !field.columns.is_empty() {
                if field.kind != FieldKind::MultiCategorical {
                    return Err(self.error(
                        &key("columns"),
                        "columns (several source columns as one field) apply to multi_categorical fields only",
                    ));
                }
                if field.column.is_some() {
                    return Err(self.error(&key("columns"), "give either column or columns, not both"));
                }
            }
            self.validate_buckets(&key(""), field)?;
            self.validate_value(&key(""), field.value(), field.kind == FieldKind::Numeric)?;
            if field.kind == FieldKind::MultiCategorical && field.time_format.is_some() {
                return Err(self.error(&key("time_format"), "time_format applies to single-valued fields"));
            }
        }
        for (i, derived) in d.derived.iter().enumerate() {
            let key = |k: &str| format!("derived[{i}].{k}");
            match derived.kind {
                DerivedKind::Bucket => {
                    if derived.edges.is_empty() {
                        return Err(self.error(&key("kind"), "a bucket field needs `edges`"));
                    }
                    if derived.edges.windows(2).any(|w| w[0] >= w[1]) || derived.edges.iter().any(|e| !e.is_finite()) {
                        return Err(self.error(&key("edges"), "edges must be finite and strictly ascending"));
                    }
                    if !derived.labels.is_empty() && derived.labels.len() != derived.edges.len() + 1 {
                        return Err(self.error(
                            &key("labels"),
                            format!(
                                "{} edges make {} buckets, but {} labels are given",
                                derived.edges.len(),
                                derived.edges.len() + 1,
                                derived.labels.len()
                            ),
                        ));
                    }
                    if derived.threshold.is_some() || derived.quantiles.is_some() {
                        return Err(
                            self.error(&key("kind"), "threshold and quantiles apply to activity/frequency fields")
                        );
                    }
                    if derived.seed.is_some() {
                        return Err(self.error(&key("seed"), "seed applies to shuffled fields"));
                    }
                }
                DerivedKind::Shuffled => {
                    if !derived.edges.is_empty() || !derived.labels.is_empty() {
                        return Err(self.error(&key("edges"), "edges and labels apply to bucket fields"));
                    }
                    if derived.threshold.is_some() || derived.quantiles.is_some() {
                        return Err(
                            self.error(&key("kind"), "threshold and quantiles apply to activity/frequency fields")
                        );
                    }
                }
                DerivedKind::Activity | DerivedKind::Frequency => {
                    if !derived.edges.is_empty() || !derived.labels.is_empty() {
                        return Err(self.error(&key("edges"), "edges and labels apply to bucket fields"));
                    }
                    if derived.threshold.is_some() && derived.quantiles.is_some() {
                        return Err(
                            self.error(&key("quantiles"), "give either threshold (cold/active) or quantiles, not both")
                        );
                    }
                    if derived.quantiles.is_some_and(|q| !(2..=100).contains(&q)) {
                        return Err(self.error(&key("quantiles"), "quantiles must be between 2 and 100"));
                    }
                }
            }
        }
        for (i, derived) in d.derived.iter().enumerate() {
            self.validate_value(&format!("derived[{i}]."), derived.value(), derived.kind == DerivedKind::Bucket)?;
        }
        if let Some(t) = d.label.threshold
            && !t.is_finite()
        {
            return Err(self.error("label.threshold", "threshold must be a finite number"));
        }
        self.validate_source()?;
        self.validate_split()
    }

    /// The label's column read as a field, or a derived field computed from it, would
    /// hand the answer to the model (a test AUC near 1 that means nothing).
    fn validate_no_label_leak(&self) -> Result<(), ConfigError> {
        let d = &self.descriptor;
        let label = &d.label.column;
        let leak = |key: String, what: &str| {
            let message = format!(
                "{what} column `{label}`, the label (label.column): an input or condition made from the label gives \
                 the answer away; remove it"
            );
            Err(self.error(&key, message))
        };
        for (i, field) in d.fields.iter().enumerate() {
            if field.sources().contains(&label.as_str()) {
                let key = if !field.columns.is_empty() {
                    "columns"
                } else if field.column.is_some() {
                    "column"
                } else {
                    "name"
                };
                return leak(format!("fields[{i}].{key}"), &format!("field {:?} reads", field.name));
            }
        }
        for (i, derived) in d.derived.iter().enumerate() {
            if derived.column == *label {
                return leak(
                    format!("derived[{i}].column"),
                    &format!("derived field {:?} is computed from", derived.name),
                );
            }
        }
        Ok(())
    }

    fn validate_source(&self) -> Result<(), ConfigError> {
        let d = &self.descriptor;
        let source = &d.source;
        let one_character = source.separator.chars().count() == 1;
        if source.separator.is_empty()
            || source.separator.contains(['\n', '\r'])
            || (one_character && !source.separator.is_ascii())
        {
            return Err(self.error(
                "source.separator",
                format!(
                    "separator must be one ASCII character, or several characters (such as \"::\") without a line \
                     break, got {:?}",
                    source.separator
                ),
            ));
        }
        if source.quote.chars().count() != 1 || !source.quote.is_ascii() {
            return Err(
                self.error("source.quote", format!("quote must be one ASCII character, got {:?}", source.quote))
            );
        }
        if source.format == Format::Csv && !source.header && source.columns.is_empty() {
            return Err(self.error(
                "source.header",
                "a csv file without a header row needs `columns` naming its columns, in order",
            ));
        }
        if source.format != Format::Csv && !source.columns.is_empty() {
            return Err(self.error("source.columns", "columns names the columns of csv files only"));
        }
        if let Some(explode) = &source.explode {
            if !matches!(source.format, Format::Csv | Format::Parquet) {
                return Err(self.error("source.explode", "explode applies to csv and parquet files"));
            }
            if explode.into.is_empty() || explode.into.iter().any(String::is_empty) {
                return Err(self.error("source.explode.into", "name the column(s) each item fills, e.g. [\"item\"]"));
            }
            if explode.separator.is_empty() {
                return Err(self.error("source.explode.separator", "separator must not be empty"));
            }
            match &explode.part_separator {
                Some(s) if s.is_empty() => {
                    return Err(self.error("source.explode.part_separator", "part_separator must not be empty"));
                }
                None if explode.into.len() > 1 => {
                    return Err(self.error(
                        "source.explode.into",
                        format!(
                            "into names {} columns: give part_separator, the text between an item's parts (\"-\" in \
                             N123-1)",
                            explode.into.len()
                        ),
                    ));
                }
                _ => {}
            }
        }
        match source.format {
            Format::Synthetic => match &d.synthetic {
                None => return Err(self.error("source.format", "format \"synthetic\" needs a [synthetic] table")),
                Some(spec) => self.validate_synthetic(spec)?,
            },
            Format::Csv | Format::Libfm | Format::Parquet => {
                if source.path.is_none() && d.split.kind != SplitKind::Files {
                    return Err(self.error("source", "give `path`, or a split of kind \"files\" naming the files"));
                }
            }
            Format::Movielens100k => {}
        }
        if d.synthetic.is_some() && source.format != Format::Synthetic {
            return Err(self.error("synthetic", "[synthetic] is only used with format = \"synthetic\""));
        }
        if source.format != Format::Synthetic && source.dir.is_empty() {
            return Err(self.error("source.dir", "give the folder(s) the data files are in"));
        }
        Ok(())
    }

    /// Bounds the generator's sizes by the memory they take, so that a huge `users` or
    /// `rows` is an error naming the key instead of an aborted allocation.
    fn validate_synthetic(&self, spec: &SyntheticSpec) -> Result<(), ConfigError> {
        let (rows, users, items) = (spec.rows as f64, spec.users as f64, spec.items as f64);
        let (domains, categories) = (spec.domains as f64, spec.categories as f64);
        // Rough bytes per unit: a row's raw and encoded columns with its true
        // probability; a user's or item's name, interned value and hidden traits; a
        // category's traits and its effect in each domain; a domain's effect tables.
        let terms = [
            ("synthetic.rows", rows * 96.0),
            ("synthetic.users", users * 192.0),
            ("synthetic.items", items * 192.0),
            ("synthetic.categories", categories * (160.0 + 8.0 * domains)),
            ("synthetic.domains", domains * 1024.0),
        ];
        let need: f64 = terms.iter().map(|(_, bytes)| bytes).sum();
        if let Err(limit) = crate::limits::fits(need) {
            let key = terms.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map_or("synthetic", |(key, _)| *key);
            return Err(self.error(
                key,
                format!("generating this data would need about {}, {limit}: lower {key}", crate::limits::bytes(need)),
            ));
        }
        Ok(())
    }

    fn validate_split(&self) -> Result<(), ConfigError> {
        let split = &self.descriptor.split;
        if split.ratios.iter().any(|r| !(0.0..=1.0).contains(r))
            || (split.ratios.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return Err(self.error(
                "split.ratios",
                format!("ratios must be shares in [0, 1] summing to 1, got {:?}", split.ratios),
            ));
        }
        if split.ratios[0] <= 0.0 {
            return Err(self.error("split.ratios", "the training share must be positive"));
        }
        if split.time_format.is_some() && split.kind != SplitKind::Time {
            return Err(self.error("split.time_format", "time_format applies to splits of kind \"time\""));
        }
        if let Some(format) = &split.time_format {
            TimeFormat::new(format).map_err(|e| self.error("split.time_format", e))?;
        }
        match split.kind {
            SplitKind::Time if split.column.is_none() => Err(self.error("split.kind", "a time split needs `column`")),
            SplitKind::Random | SplitKind::Files | SplitKind::Ordered if split.column.is_some() => Err(self
                .error("split.column", "column applies to time splits; an ordered split keeps the rows in file order")),
            SplitKind::Files if split.train.is_none() || split.test.is_none() => {
                Err(self.error("split.kind", "a files split needs at least `train` and `test`"))
            }
            SplitKind::Random | SplitKind::Time | SplitKind::Ordered
                if split.train.is_some() || split.valid.is_some() || split.test.is_some() =>
            {
                Err(self.error("split.kind", "train/valid/test files are only used with kind = \"files\""))
            }
            _ => Ok(()),
        }
    }

    /// The keys of a numeric field's fixed buckets; `key` is the field's key prefix
    /// (`fields[3].`).
    fn validate_buckets(&self, key: &str, field: &FieldSpec) -> Result<(), ConfigError> {
        let key = |k: &str| format!("{key}{k}");
        if field.kind != FieldKind::Numeric && (!field.edges.is_empty() || !field.labels.is_empty()) {
            return Err(self.error(&key("edges"), "edges and labels apply to numeric fields only"));
        }
        if field.edges.is_empty() {
            if !field.labels.is_empty() {
                return Err(self.error(&key("labels"), "labels name the buckets of `edges`: give edges too"));
            }
            return Ok(());
        }
        if field.edges.windows(2).any(|w| w[0] >= w[1]) || field.edges.iter().any(|e| !e.is_finite()) {
            return Err(self.error(&key("edges"), "edges must be finite and strictly ascending"));
        }
        if field.transform == Some(NumericTransform::Scale) || field.bins.is_some() {
            let k = if field.bins.is_some() { "bins" } else { "transform" };
            return Err(self.error(&key(k), "fixed edges replace quantile bins and scaling: give edges or this"));
        }
        if !field.labels.is_empty() && field.labels.len() != field.edges.len() + 1 {
            return Err(self.error(
                &key("labels"),
                format!(
                    "{} edges make {} buckets, but {} labels are given",
                    field.edges.len(),
                    field.edges.len() + 1,
                    field.labels.len()
                ),
            ));
        }
        Ok(())
    }

    /// The value transforms of a field or derived field; `key` is its key prefix
    /// (`fields[3].`), `numeric` whether the value must be a number.
    fn validate_value(&self, key: &str, value: ValueSpec, numeric: bool) -> Result<(), ConfigError> {
        let key = |k: &str| format!("{key}{k}");
        if value.prefix.is_some() && value.substring.is_some() {
            return Err(self.error(&key("substring"), "give either prefix or substring, not both"));
        }
        if value.prefix == Some(0) {
            return Err(self.error(&key("prefix"), "prefix must be at least 1 character"));
        }
        if let Some([start, end]) = value.substring
            && start >= end
        {
            return Err(self.error(&key("substring"), format!("substring [{start}, {end}] is empty: start < end")));
        }
        match (value.time_format, value.time_part) {
            (None, Some(_)) => {
                return Err(self.error(&key("time_part"), "time_part needs time_format, how the column holds the time"));
            }
            (Some(format), part) => {
                TimeFormat::new(format).map_err(|e| self.error(&key("time_format"), e))?;
                if let Some(part) = part
                    && numeric
                    && !part.is_number()
                {
                    return Err(self.error(
                        &key("time_part"),
                        format!("time_part {:?} is text, not a number: use it in a categorical field", part.name()),
                    ));
                }
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// The folder holding the data files: the first of `source.dir` that exists.
    pub fn data_dir(&self) -> Result<PathBuf, crate::data::DataError> {
        let mut tried = Vec::new();
        for candidate in &self.descriptor.source.dir {
            let Some(expanded) = expand_env(candidate) else {
                tried.push(format!("{candidate} (variable not set)"));
                continue;
            };
            // A variable holds a path as the user typed it in their shell: relative to
            // the current folder, not to the descriptor.
            let base = if candidate.starts_with("${") {
                std::env::current_dir().unwrap_or_default()
            } else {
                self.base_dir.clone()
            };
            let path = base.join(expanded);
            if path.is_dir() {
                return Ok(path);
            }
            tried.push(path.display().to_string());
        }
        Err(crate::data::DataError::NoDataDir {
            dataset: self.descriptor.name.clone(),
            descriptor: self.file.clone(),
            tried,
            fetchable: crate::data::fetch::CATALOG.iter().any(|r| r.name == self.descriptor.name),
        })
    }
}

/// The folder a built-in descriptor's relative paths start from: `datasets/` of the
/// current folder (a checkout of the repository, or where `data fetch` puts files), or,
/// for a built-in whose data ships in the binary and is not there, a copy of that data
/// in the user's cache folder. When the copy cannot be written, `datasets/` stays and
/// loading says which folders it tried.
fn built_in_base_dir(name: &str) -> PathBuf {
    let local = std::env::current_dir().unwrap_or_default().join("datasets");
    let files: Vec<_> = BUILT_IN_DATA.iter().filter(|(n, _, _)| *n == name).collect();
    if files.is_empty() || files.iter().all(|(_, path, _)| local.join(path).is_file()) {
        return local;
    }
    let shipped = crate::data::user_cache_dir().join("built-in");
    let written = files.iter().all(|(_, path, contents)| {
        let target = shipped.join(path);
        // Written once; a copy that differs (an older binary's) is replaced whole.
        if std::fs::read_to_string(&target).is_ok_and(|t| t == *contents) {
            return true;
        }
        let Some(folder) = target.parent() else { return false };
        let partial = target.with_extension(format!("tmp{}", std::process::id()));
        std::fs::create_dir_all(folder).is_ok()
            && std::fs::write(&partial, contents).is_ok()
            && std::fs::rename(&partial, &target).is_ok()
    });
    if written { shipped } else { local }
}

/// The longest dataset name: it is a file name in the cache folder.
const MAX_NAME_LEN: usize = 64;

/// A dataset name that is safe as a file name: ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit (so no path separator, no `..`, no hidden file).
fn is_safe_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    name.len() <= MAX_NAME_LEN && name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.chars().all(allowed)
}

/// Expands `${VAR}` in a path; None if a variable is unset or empty.
fn expand_env(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = start + rest[start..].find('}')?;
        out.push_str(&rest[..start]);
        let value = std::env::var(&rest[start + 2..end]).ok().filter(|v| !v.is_empty())?;
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found while writing the fuzz harness (an experiment's `dataset = "/dev/zero"`): the descriptor
    /// was read until memory ran out.
    #[test]
    fn a_device_is_no_descriptor() {
        let error = LoadedDescriptor::open("/dev/zero").unwrap_err();
        assert_eq!(error.to_string(), "/dev/zero: cannot read: not a regular file");
    }
}
