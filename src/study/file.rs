//! Study files (`<workspace>/studies/NAME.toml`): a base experiment, the keys to vary
//! (a grid or named variants), the seeds, the baseline and what to report. Expanding a
//! study gives one full experiment per variant, each checked by the experiment parser;
//! every error names the study file, line, column and the experiment key.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml_edit::{Item, TableLike};

use crate::config::experiment::{Experiment, LoadedExperiment};
use crate::config::{ConfigError, parse_toml};

/// The metrics a report shows when the study names none.
pub const DEFAULT_METRICS: [&str; 2] = ["test.auc", "test.logloss"];

/// What a study file holds, as serde reads it; the axes are read again from the document
/// for their order and positions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyText {
    #[serde(default)]
    description: String,
    /// The base experiment: the name of a file in the workspace's experiments/ folder.
    base: String,
    #[serde(default)]
    seeds: Option<Seeds>,
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    metrics: Option<Vec<String>>,
    #[serde(default)]
    groups: Vec<String>,
    /// The axes, read from the document (named here so that they are known keys).
    #[serde(default, rename = "grid")]
    _grid: Option<toml::Value>,
    #[serde(default, rename = "variants")]
    _variants: Option<toml::Value>,
}

/// `seeds = 3` (the base experiment's seed and the next two) or `seeds = [1, 5, 9]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

/// One experiment key a variant sets, and where the study file sets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The key's path, as `apg.rank`.
    pub key: String,
    pub value: toml::Value,
    /// Byte offset of the value in the study file.
    pub at: Option<usize>,
}

/// One configuration of a study: the base experiment with its overrides.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `v5` for a named variant, `variant=v5,rank=8` for a point of a grid.
    pub name: String,
    pub overrides: Vec<Override>,
    /// The full experiment, validated; its file is where `study run` writes it
    /// (`studies/NAME/expanded/VARIANT.toml`).
    pub experiment: LoadedExperiment,
    /// The config hash its runs record: the runs of the variant are the runs with this hash.
    pub config_hash: String,
}

/// A study file, parsed and expanded.
#[derive(Debug, Clone)]
pub struct Study {
    pub name: String,
    pub file: PathBuf,
    pub workspace: PathBuf,
    pub description: String,
    /// The base experiment's file.
    pub base: PathBuf,
    pub seeds: Vec<u64>,
    /// Index into `variants`.
    pub baseline: usize,
    /// Metric keys as `runs compare` names them (`test.auc`).
    pub metrics: Vec<String>,
    /// Group fields whose per-value test AUC the report shows.
    pub groups: Vec<String>,
    pub variants: Vec<Variant>,
}

impl Study {
    /// The folder of generated files (expanded experiments, Slurm scripts and jobs).
    pub fn folder(&self) -> PathBuf {
        folder_of(&self.workspace, &self.name)
    }

    /// Every run the study asks for: each variant under each seed.
    pub fn slots(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        (0..self.variants.len()).flat_map(|v| self.seeds.iter().map(move |s| (v, *s)))
    }

    /// Reads and expands `workspace/studies/NAME.toml`.
    pub fn open(workspace: &Path, name: &str) -> Result<Study, ConfigError> {
        let file = workspace.join(STUDIES_FOLDER).join(format!("{name}.toml"));
        let text = crate::toml_error::read_file(&file)?;
        Study::from_text(workspace, &file, &text)
    }

    /// Parses `text` (the study file `file` of `workspace`) and expands it.
    pub fn from_text(workspace: &Path, file: &Path, text: &str) -> Result<Study, ConfigError> {
        let parsed: StudyText = parse_toml(file, text)?;
        let document = toml_edit::Document::parse(text.to_string())
            .map_err(|e| ConfigError::whole_file(file, format!("cannot read: {e}")))?;
        let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let error = |key: &str, message: String| ConfigError::at_key(file, text, key, message);

        let experiments = workspace.join("experiments");
        let base = experiments.join(format!("{}.toml", parsed.base.trim_end_matches(".toml")));
        if !base.is_file() {
            return Err(error(
                "base",
                format!("no experiment {} (the base is a file in experiments/)", base.display()),
            ));
        }
        let base_loaded = LoadedExperiment::from_file(&base)?;
        let seeds = match parsed.seeds {
            None => vec![base_loaded.experiment.seed],
            Some(Seeds::Count(0)) => return Err(error("seeds", "at least one seed".into())),
            Some(Seeds::Count(n)) => {
                let first = base_loaded.experiment.seed;
                let last = first
                    .checked_add(n - 1)
                    .ok_or_else(|| error("seeds", format!("{n} seeds from {first} run past the largest seed")))?;
                (first..=last).collect()
            }
            Some(Seeds::List(list)) if list.is_empty() => return Err(error("seeds", "at least one seed".into())),
            Some(Seeds::List(list)) => {
                if let Some(i) = (1..list.len()).find(|&i| list[..i].contains(&list[i])) {
                    return Err(error(&format!("seeds[{i}]"), format!("seed {} is listed twice", list[i])));
                }
                list
            }
        };

        let schema = schema();
        let points = match (document.get("grid"), document.get("variants")) {
            (Some(_), Some(item)) => {
                return Err(ConfigError::at_offset(
                    file,
                    text,
                    item.span().map(|s| s.start),
                    "variants",
                    "a study has a [grid] or [variants], not both",
                ));
            }
            (Some(grid), None) => grid_points(file, text, grid, &schema)?,
            (None, Some(variants)) => named_variants(file, text, variants, &schema)?,
            (None, None) => vec![(base_loaded.experiment.name.clone(), Vec::new())],
        };
        if points.is_empty() || points.iter().all(|(name, _)| name.is_empty()) {
            let key = if document.contains_key("grid") { "grid" } else { "variants" };
            return Err(error(key, format!("[{key}] sets no experiment key: name at least one")));
        }

        let expanded = folder_of(workspace, &name).join("expanded");
        let mut variants: Vec<Variant> = Vec::new();
        for (variant, overrides) in points {
            let target = expanded.join(format!("{}.toml", file_stem(&variant)));
            if let Some(other) = variants.iter().find(|v| file_stem(&v.name) == file_stem(&variant)) {
                return Err(error("", format!("variants `{}` and `{variant}` need the same file name", other.name)));
            }
            let experiment = expand(&name, &variant, &base_loaded, &overrides, &target, file, text)?;
            let config_hash = crate::runs::run_config_hash(workspace, &experiment);
            variants.push(Variant { name: variant, overrides, experiment, config_hash });
        }

        let baseline = match &parsed.baseline {
            None => 0,
            Some(wanted) => variants.iter().position(|v| &v.name == wanted).ok_or_else(|| {
                let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                error("baseline", format!("no variant {wanted:?} (variants: {})", names.join(", ")))
            })?,
        };
        let metric_keys = crate::runs::compare::metric_keys();
        let metrics = parsed.metrics.unwrap_or_else(|| DEFAULT_METRICS.map(String::from).to_vec());
        for (i, metric) in metrics.iter().enumerate() {
            if !metric_keys.contains(&metric.as_str()) {
                return Err(error(
                    &format!("metrics[{i}]"),
                    format!("no metric {metric:?} (metrics: {})", metric_keys.join(", ")),
                ));
            }
        }
        let reported = &variants[baseline].experiment.experiment.metrics.group_fields;
        for (i, group) in parsed.groups.iter().enumerate() {
            if !reported.contains(group) {
                return Err(error(
                    &format!("groups[{i}]"),
                    format!("the runs report no group field {group:?} (metrics.group_fields: {})", reported.join(", ")),
                ));
            }
        }
        Ok(Study {
            name,
            file: file.to_path_buf(),
            workspace: workspace.to_path_buf(),
            description: parsed.description,
            base,
            seeds,
            baseline,
            metrics,
            groups: parsed.groups,
            variants,
        })
    }
}

/// The folder of a workspace that holds its study files.
pub const STUDIES_FOLDER: &str = "studies";

/// `workspace/studies/NAME/`: what `study run` generates for study NAME.
pub fn folder_of(workspace: &Path, name: &str) -> PathBuf {
    workspace.join(STUDIES_FOLDER).join(name)
}

/// The names of the studies of a workspace, sorted.
pub fn names(workspace: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace.join(STUDIES_FOLDER))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "toml"))
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

/// A variant's name as a file name: letters, digits, `-`, `_`, `.` and `=` kept, the rest `-`.
fn file_stem(variant: &str) -> String {
    variant.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.=".contains(c) { c } else { '-' }).collect()
}

/// What an experiment key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A table; one whose defaults are empty, as `model.embedding_dims`, takes any key below it.
    Table,
    /// A list: a study may give one value for it (`"apg.rank" = [8, 16]` tries K = 8, then 16).
    List,
    Value,
}

/// The experiment keys: every path of the default experiment, as `apg.rank`, with what
/// it holds.
fn schema() -> Vec<(String, Kind)> {
    let defaults: Experiment = parse_toml(Path::new(""), "").expect("every experiment key has a default");
    let mut keys = Vec::new();
    fn walk(prefix: &str, table: &toml::Table, keys: &mut Vec<(String, Kind)>) {
        for (key, value) in table {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            match value {
                toml::Value::Table(inner) => {
                    keys.push((path.clone(), Kind::Table));
                    walk(&path, inner, keys);
                }
                toml::Value::Array(_) => keys.push((path, Kind::List)),
                _ => keys.push((path, Kind::Value)),
            }
        }
    }
    match toml::Value::try_from(&defaults) {
        Ok(toml::Value::Table(table)) => walk("", &table, &mut keys),
        other => unreachable!("an experiment serialises to a table, not {other:?}"),
    }
    keys
}

/// Ok when `key` names an experiment key (or a key below a free-form table), else the
/// message: `no such experiment key; did you mean apg.rank?`.
fn check_key(key: &str, schema: &[(String, Kind)]) -> Result<(), String> {
    if schema.iter().any(|(k, _)| k == key) {
        return Ok(());
    }
    let below_free_table = schema.iter().any(|(k, table)| {
        *table == Kind::Table
            && key.strip_prefix(k.as_str()).is_some_and(|rest| rest.starts_with('.'))
            && !schema.iter().any(|(other, _)| other.starts_with(&format!("{k}.")))
    });
    if below_free_table {
        return Ok(());
    }
    let nearest = schema
        .iter()
        .map(|(k, _)| (edit_distance(key, k), k))
        .filter(|(d, _)| *d <= 2.max(key.len() / 4))
        .min_by_key(|(d, _)| *d);
    Err(match nearest {
        Some((_, k)) => format!("no such experiment key; did you mean {k}?"),
        None => "no such experiment key".into(),
    })
}

/// A single value for a list key (`apg.rank`, one K for every layer) as a list of one.
fn as_list_if_needed(key: &str, value: toml::Value, schema: &[(String, Kind)]) -> toml::Value {
    let list = schema.iter().any(|(k, kind)| k == key && *kind == Kind::List);
    match value {
        toml::Value::Array(_) => value,
        single if list => toml::Value::Array(vec![single]),
        other => other,
    }
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// An item of the study document as a plain TOML value.
fn plain(item: &toml_edit::Value) -> toml::Value {
    let mut bare = item.clone();
    bare.decor_mut().clear();
    let table: toml::Table = toml::from_str(&format!("v = {bare}")).expect("a parsed TOML value prints as TOML");
    table["v"].clone()
}

/// The leaves of an axis table, as (key path, value, offset): nested tables
/// (`apg.variant = ...` written unquoted, `[grid.apg]`) are walked into, quoted keys
/// (`"apg.variant"`) are taken as paths; inline-table values are flattened alike.
fn leaves<'a>(prefix: &str, table: &'a dyn TableLike, out: &mut Vec<(String, &'a Item, Option<Range<usize>>)>) {
    for (key, item) in table.iter() {
        let path = if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
        match item.as_table_like() {
            Some(inner) => leaves(&path, inner, out),
            None => {
                let span = table.get_key_value(key).and_then(|(k, _)| k.span()).or_else(|| item.span());
                out.push((path, item, span));
            }
        }
    }
}

/// `[grid]`: each key takes each of its values, all combinations (the first key varies
/// slowest). Names are `key=value` pairs with the key's last part.
fn grid_points(
    file: &Path,
    text: &str,
    grid: &Item,
    schema: &[(String, Kind)],
) -> Result<Vec<(String, Vec<Override>)>, ConfigError> {
    let table = grid
        .as_table_like()
        .ok_or_else(|| ConfigError::at_offset(file, text, grid.span().map(|s| s.start), "grid", "must be a table"))?;
    let mut axes: Vec<(String, Vec<Override>)> = Vec::new();
    let mut found = Vec::new();
    leaves("", table, &mut found);
    for (key, item, span) in found {
        let at = span.map(|s| s.start);
        check_key(&key, schema).map_err(|message| ConfigError::at_offset(file, text, at, &key, message))?;
        let values = match item.as_array() {
            Some(values) if !values.is_empty() => values,
            _ => {
                let message = "a grid key takes a list of the values to try, e.g. [8, 16, 32]";
                return Err(ConfigError::at_offset(file, text, at, &key, message));
            }
        };
        let overrides = values
            .iter()
            .map(|v| Override {
                key: key.clone(),
                value: as_list_if_needed(&key, plain(v), schema),
                at: v.span().map(|s| s.start).or(at),
            })
            .collect();
        axes.push((key, overrides));
    }
    let short = |key: &str| -> String {
        let last = key.rsplit('.').next().unwrap_or(key);
        let clash = axes.iter().filter(|(k, _)| k.rsplit('.').next() == Some(last)).count() > 1;
        if clash { key.to_string() } else { last.to_string() }
    };
    let mut points: Vec<(String, Vec<Override>)> = vec![(String::new(), Vec::new())];
    for (key, values) in &axes {
        points = points
            .into_iter()
            .flat_map(|(name, overrides)| {
                values.iter().map(move |value| {
                    let pair = format!("{}={}", short(key), spelled(&value.value));
                    let name = if name.is_empty() { pair } else { format!("{name},{pair}") };
                    let mut overrides = overrides.clone();
                    overrides.push(value.clone());
                    (name, overrides)
                })
            })
            .collect();
    }
    Ok(points)
}

/// `[variants.NAME]` tables of overrides, in the file's order.
fn named_variants(
    file: &Path,
    text: &str,
    variants: &Item,
    schema: &[(String, Kind)],
) -> Result<Vec<(String, Vec<Override>)>, ConfigError> {
    let table = variants.as_table_like().ok_or_else(|| {
        ConfigError::at_offset(file, text, variants.span().map(|s| s.start), "variants", "must be a table")
    })?;
    let mut out = Vec::new();
    for (name, item) in table.iter() {
        let at = table.get_key_value(name).and_then(|(k, _)| k.span()).map(|s| s.start);
        let Some(keys) = item.as_table_like() else {
            let message =
                "a variant is a table of the experiment keys it sets, e.g. [variants.v5] with \"apg.variant\" = \"v5\"";
            return Err(ConfigError::at_offset(file, text, at, &format!("variants.{name}"), message));
        };
        let mut found = Vec::new();
        leaves("", keys, &mut found);
        let mut overrides = Vec::new();
        for (key, item, span) in found {
            let at = span.map(|s| s.start);
            check_key(&key, schema).map_err(|message| ConfigError::at_offset(file, text, at, &key, message))?;
            let value = item
                .as_value()
                .map(plain)
                .ok_or_else(|| ConfigError::at_offset(file, text, at, &key, "must be a value"))?;
            let value = as_list_if_needed(&key, value, schema);
            overrides.push(Override { key, value, at: item.span().map(|s| s.start).or(at) });
        }
        out.push((name.to_string(), overrides));
    }
    Ok(out)
}

/// A value in a variant's name: strings bare, lists joined with `+`.
fn spelled(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) if items.is_empty() => "none".into(),
        toml::Value::Array(items) => items.iter().map(spelled).collect::<Vec<_>>().join("+"),
        other => other.to_string(),
    }
}

/// The base experiment with a variant's overrides, named `study/variant`, validated as
/// if it were the file `target`. An error in a value the study sets is reported at that
/// value in the study file; any other at the base experiment.
fn expand(
    study: &str,
    variant: &str,
    base: &LoadedExperiment,
    overrides: &[Override],
    target: &Path,
    study_file: &Path,
    study_text: &str,
) -> Result<LoadedExperiment, ConfigError> {
    let base_dir = base.file.parent().unwrap_or(Path::new("."));
    // A dataset file named relative to experiments/ is named by its absolute path from
    // the expanded file; a built-in name stays as it is.
    let dataset_value = |reference: &str| -> toml::Value {
        let relative = base_dir.join(reference);
        match relative.canonicalize() {
            Ok(path) if relative.is_file() => toml::Value::String(path.to_string_lossy().into_owned()),
            _ => toml::Value::String(reference.to_string()),
        }
    };
    let mut keys: Vec<(Vec<String>, toml::Value)> = vec![
        (vec!["name".into()], toml::Value::String(format!("{study}/{variant}"))),
        (vec!["dataset".into()], dataset_value(&base.experiment.dataset)),
    ];
    for o in overrides {
        let value = match (&o.value, o.key.as_str()) {
            (toml::Value::String(reference), "dataset") => dataset_value(reference),
            (value, _) => value.clone(),
        };
        keys.push((o.key.split('.').map(String::from).collect(), value));
    }
    let in_study = |key: &str, message: String| ConfigError::at_key(study_file, study_text, key, message);
    let text = crate::config::edit::set_keys(&base.file, &base.text, &keys)
        .map_err(|e| in_study("", format!("variant `{variant}`: {e}")))?;
    let text = format!(
        "# Study {study}, variant {variant}: {} with {}.\n# Generated by `apg-bench study run`; edit the study file instead.\n{text}",
        base.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        if overrides.is_empty() {
            "no changes".to_string()
        } else {
            overrides.iter().map(|o| format!("{} = {}", o.key, o.value)).collect::<Vec<_>>().join(", ")
        }
    );
    LoadedExperiment::from_text(target, &text).map_err(|e| {
        if e.file != target {
            return e;
        }
        let key = e.key.clone().unwrap_or_default();
        let set_here = overrides.iter().rev().find(|o| {
            key.strip_prefix(o.key.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        });
        match set_here {
            Some(o) => ConfigError::at_offset(
                study_file,
                study_text,
                o.at,
                &key,
                format!("{} (variant `{variant}`)", e.message),
            ),
            None => ConfigError::at_key(
                &base.file,
                &base.text,
                &key,
                format!("{} (with the overrides of variant `{variant}` of study {study})", e.message),
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_by_hand() {
        assert_eq!(edit_distance("apg.rnak", "apg.rank"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn keys_are_checked_against_the_schema() {
        let schema = schema();
        assert_eq!(check_key("apg.rank", &schema), Ok(()));
        assert_eq!(check_key("apg.condition.fields", &schema), Ok(()));
        assert_eq!(check_key("model.embedding_dims.user", &schema), Ok(()));
        assert_eq!(check_key("apg.rnak", &schema), Err("no such experiment key; did you mean apg.rank?".into()));
        assert_eq!(check_key("apg.condition.nope", &schema).map_err(|e| e.starts_with("no such")), Err(true));
    }
}
