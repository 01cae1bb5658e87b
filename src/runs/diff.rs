//! Config diff: the keys of two runs' config.toml that differ, named in the words a user
//! reads (`condition fields: [domain] -> [domain, user_activity]`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::runs::{CONFIG_FILE, RunError};

/// A resolved experiment as dotted keys (`apg.condition.fields`) and readable values.
pub type FlatConfig = BTreeMap<String, String>;

/// One key whose value differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigChange {
    /// The dotted key, e.g. `apg.condition.fields`.
    pub key: String,
    /// Its name in words, e.g. `condition fields`.
    pub label: String,
    /// None when the key is absent on that side.
    pub before: Option<String>,
    pub after: Option<String>,
}

impl std::fmt::Display for ConfigChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(f, "{}: {} -> {}", self.label, side(&self.before), side(&self.after))
    }
}

/// Reads `dir/config.toml` as flat keys.
pub fn read_flat_config(dir: &Path) -> Result<FlatConfig, RunError> {
    let path = dir.join(CONFIG_FILE);
    let text =
        crate::runs::read_text(&path).map_err(|error| RunError::Io { action: "read", path: path.clone(), error })?;
    let table: toml::Table = crate::config::parse_toml(&path, &text)?;
    let mut flat = FlatConfig::new();
    flatten("", &toml::Value::Table(table), &mut flat);
    Ok(flat)
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut FlatConfig) {
    match value {
        // An empty table (no per-field widths) adds no key: its entries are what differ.
        toml::Value::Table(table) => {
            for (key, value) in table {
                let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&key, value, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), readable(other));
        }
    }
}

/// A TOML value without TOML's quotes: `v5`, `[domain, user_activity]`, `0.002`.
pub fn readable(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => format!("[{}]", items.iter().map(readable).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The keys whose values differ between `before` and `after`, in schema order.
pub fn config_diff(before: &FlatConfig, after: &FlatConfig) -> Vec<ConfigChange> {
    differing_keys(&[before, after])
        .into_iter()
        .map(|key| ConfigChange { label: label(&key), before: shown(before, &key), after: shown(after, &key), key })
        .collect()
}

/// The keys whose values are not the same in all `configs`, in schema order. A key that a
/// model does not use counts as its default there: a static model against an APG one
/// shows the APG keys set away from their defaults, not every APG key.
pub fn differing_keys(configs: &[&FlatConfig]) -> Vec<String> {
    let defaults = defaults();
    let mut keys: Vec<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    keys.sort_by(|a, b| order(a, b));
    keys.dedup();
    let effective = |config: &'_ FlatConfig, key: &str| -> Option<String> {
        if unused(config, key) { defaults.get(key).cloned() } else { config.get(key).cloned() }
    };
    keys.into_iter()
        .filter(|key| configs.windows(2).any(|w| effective(w[0], key) != effective(w[1], key)))
        .cloned()
        .collect()
}

/// The value of `key` as shown: `n/a (static)` where the model does not use it.
pub fn shown(config: &FlatConfig, key: &str) -> Option<String> {
    let value = config.get(key)?;
    if unused(config, key) {
        return Some(format!("n/a ({})", config.get("apg.variant").map_or("", String::as_str)));
    }
    Some(value.clone())
}

/// Whether the model of `config` ignores `key`: every APG key of a static model, P of a
/// variant other than v5.
fn unused(config: &FlatConfig, key: &str) -> bool {
    match config.get("apg.variant").map(String::as_str) {
        Some("static") => key.starts_with("apg.") && key != "apg.variant",
        Some("v5") | None => false,
        Some(_) => key == "apg.overparam",
    }
}

/// The experiment with every key at its default, flat.
fn defaults() -> FlatConfig {
    let mut flat = FlatConfig::new();
    let experiment: Result<crate::config::experiment::Experiment, _> = toml::from_str("");
    if let Some(value) = experiment.ok().and_then(|e| toml::Value::try_from(e).ok()) {
        flatten("", &value, &mut flat);
    }
    flat
}

/// The keys of the experiment schema in the order config.toml lists them, in words.
const KEY_WORDS: &[(&str, &str)] = &[
    ("name", "experiment name"),
    ("description", "description"),
    ("dataset", "dataset"),
    ("seed", "seed"),
    ("device", "device"),
    ("model.base", "base model"),
    ("model.inputs", "input fields"),
    ("model.embedding_dim", "embedding width"),
    ("model.hidden", "hidden layers"),
    ("model.dropout", "dropout"),
    ("model.cross_layers", "cross layers"),
    ("apg.variant", "variant"),
    ("apg.rank", "K (rank)"),
    ("apg.overparam", "P (over-parameterisation)"),
    ("apg.layers", "APG layers"),
    ("apg.generator_hidden", "generator hidden layers"),
    ("apg.generator_dropout", "generator dropout"),
    ("apg.generate_bias", "generated bias"),
    ("apg.identity_init", "S = I start"),
    ("apg.detach_condition", "detached condition"),
    ("apg.condition.mode", "condition mode"),
    ("apg.condition.fields", "condition fields"),
    ("apg.condition.aggregation", "condition aggregation"),
    ("apg.condition.input_agg", "input aggregator"),
    ("apg.condition.output_agg", "output aggregator"),
    ("apg.condition.separate_embedding", "separate condition embeddings"),
    ("apg.condition.embedding_dim", "condition embedding width"),
    ("train.batch_size", "batch size"),
    ("train.epochs", "epochs"),
    ("train.lr", "learning rate"),
    ("train.betas", "Adam betas"),
    ("train.eps", "Adam eps"),
    ("train.weight_decay", "weight decay"),
    ("train.embedding_l2", "embedding L2"),
    ("train.eval_every", "validate every (steps)"),
    ("train.monitor", "monitored metric"),
    ("train.patience", "patience"),
    ("train.max_steps", "max steps"),
    ("train.shuffle", "shuffle"),
    ("train.threads", "threads"),
    ("metrics.gauc_field", "GAUC field"),
    ("metrics.group_fields", "group fields"),
    ("metrics.baseline", "baseline run"),
];

/// A key of the experiment schema in words; keys it does not know stay dotted.
pub fn label(key: &str) -> String {
    if let Some(field) = key.strip_prefix("model.embedding_dims.") {
        return format!("embedding width of {field}");
    }
    KEY_WORDS.iter().find(|(k, _)| *k == key).map_or(key, |(_, words)| words).to_string()
}

/// Where a key sorts: in schema order (per-field widths after the common width), then
/// unknown keys alphabetically.
pub fn order(a: &str, b: &str) -> std::cmp::Ordering {
    let rank = |key: &str| {
        let key = if key.starts_with("model.embedding_dims.") { "model.embedding_dim" } else { key };
        KEY_WORDS.iter().position(|(k, _)| *k == key).unwrap_or(KEY_WORDS.len())
    };
    rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(text: &str) -> FlatConfig {
        let mut out = FlatConfig::new();
        flatten("", &toml::Value::Table(toml::from_str(text).unwrap()), &mut out);
        out
    }

    #[test]
    fn only_differing_keys_in_words() {
        let a = flat(
            "seed = 1\n[apg]\nvariant = \"v4\"\nrank = [8]\n[apg.condition]\nfields = [\"domain\"]\n[model.embedding_dims]\n",
        );
        let b = flat(
            "seed = 1\nextra = true\n[apg]\nvariant = \"v5\"\nrank = [8]\n[apg.condition]\nfields = [\"domain\", \"user_activity\"]\n[model.embedding_dims]\nuser = 8\n",
        );
        let lines: Vec<String> = config_diff(&a, &b).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "embedding width of user: (absent) -> 8",
                "variant: v4 -> v5",
                "condition fields: [domain] -> [domain, user_activity]",
                "extra: (absent) -> true",
            ]
        );
    }

    #[test]
    fn keys_a_static_model_ignores_count_as_defaults() {
        let with = |variant: &str, rest: &str| {
            flat(&format!("[apg]\nvariant = \"{variant}\"\nrank = [32, 16, 8]\ngenerate_bias = true\n{rest}"))
        };
        let a = with("static", "overparam = [4]\n");
        let b = with("v5", "overparam = [64]\n");
        let lines: Vec<String> = config_diff(&a, &b).iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["variant: static -> v5", "P (over-parameterisation): n/a (static) -> [64]"]);
        let c = with("v4", "overparam = [64]\n");
        let lines: Vec<String> = config_diff(&b, &c).iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["variant: v5 -> v4", "P (over-parameterisation): [64] -> n/a (v4)"]);
    }
}
