//! Edits of experiment files that keep what the user wrote: [`set_apg`] sets the `[apg]`
//! keys whose values change and leaves every other byte (comments, order, layout, the
//! other tables, the keys that keep their values) as it was. Pure functions on text, plus
//! [`write_atomically`] for putting the result on disk.

use std::path::Path;

use toml_edit::{DocumentMut, InlineTable, Item, Table, TableLike, Value};

use crate::config::experiment::{ApgSpec, Experiment};
use crate::config::{ConfigError, parse_toml};

/// One `[apg]` key whose value differs between two designs.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyChange {
    /// The key's dotted path below the top level, as `apg.rank` or `apg.condition.mode`.
    pub key: String,
    /// The values as TOML spells them (`"v5"`, `[8, 4]`).
    pub old: String,
    pub new: String,
}

/// The `[apg]` settings that `text` (an experiment file, `file` naming it in errors)
/// holds, with the defaults of the keys it leaves out. Checks the TOML and the keys, not
/// the values against the dataset (that is `LoadedExperiment::from_text`).
pub fn apg_of(file: &Path, text: &str) -> Result<ApgSpec, ConfigError> {
    parse_toml::<Experiment>(file, text).map(|experiment| experiment.apg)
}

/// The `[apg]` keys whose values differ from `old` to `new`, in alphabetical order of
/// their paths.
pub fn apg_changes(old: &ApgSpec, new: &ApgSpec) -> Vec<KeyChange> {
    let mut changes = Vec::new();
    for (path, old, new) in differing_keys(old, new) {
        changes.push(KeyChange { key: format!("apg.{}", path.join(".")), old: spelled(&old), new: spelled(&new) });
    }
    changes
}

/// `text` (an experiment file; `file` names it in errors) with the `[apg]` keys whose
/// values differ from `apg` set to `apg`'s values. Keys whose values stay are not touched,
/// even when they are left out and take their default; a changed value keeps the
/// comment after it. A missing `[apg]` or `[apg.condition]` table is added at the end.
/// Inline tables (`apg = { ... }`) and dotted keys (`apg.variant = "v5"`) are kept as
/// such. The result is not validated here: that needs the dataset.
pub fn set_apg(file: &Path, text: &str, apg: &ApgSpec) -> Result<String, ConfigError> {
    let current = apg_of(file, text)?;
    let changes: Vec<(Vec<String>, toml::Value)> = differing_keys(&current, apg)
        .into_iter()
        .map(|(path, _, new)| (std::iter::once("apg".to_string()).chain(path).collect(), new))
        .collect();
    if changes.is_empty() {
        return Ok(text.to_string());
    }
    set_keys(file, text, &changes)
}

/// `text` (a TOML file; `file` names it in errors) with each key path (`["apg", "rank"]`)
/// set to its value, as [`set_apg`] sets them: a value keeps the comment after it,
/// missing tables are added, inline tables and dotted keys stay so, every other byte is
/// kept. Nothing is validated here.
pub fn set_keys(file: &Path, text: &str, keys: &[(Vec<String>, toml::Value)]) -> Result<String, ConfigError> {
    let mut document: DocumentMut =
        text.parse().map_err(|e| ConfigError::whole_file(file, format!("cannot edit: {e}")))?;
    for (path, new) in keys {
        let Some((key, tables)) = path.split_last() else { continue };
        let mut table: &mut dyn TableLike = document.as_table_mut();
        let mut dotted = String::new();
        for name in tables {
            dotted = if dotted.is_empty() { name.to_string() } else { format!("{dotted}.{name}") };
            table = child_table(table, name).ok_or_else(|| {
                ConfigError::at_key(file, text, &dotted, format!("`{dotted}` must be a table to set its keys"))
            })?;
        }
        let mut value = toml_value(new);
        match table.get_mut(key) {
            Some(Item::Value(old)) => {
                *value.decor_mut() = old.decor().clone();
                *old = value;
            }
            Some(_) => {
                let key = path.join(".");
                return Err(ConfigError::at_key(file, text, &key, format!("`{key}` must be a value, not a table")));
            }
            None => {
                table.insert(key, Item::Value(value));
            }
        }
    }
    Ok(document.to_string())
}

/// Writes `text` to `path` through a temporary file beside it and a rename, so that a
/// reader (the file watcher, an editor) sees the old file or the new one, never half.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let temporary = path.with_extension("toml.apg-bench-save");
    std::fs::write(&temporary, text).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        format!("{}: {e}", path.display())
    })
}

/// The table `name` inside `parent`, added (implicit, so that only its own keys give it a
/// header) when missing; `None` when `name` holds a value that is not a table.
fn child_table<'a>(parent: &'a mut dyn TableLike, name: &str) -> Option<&'a mut dyn TableLike> {
    if parent.get(name).is_none() {
        let mut table = Table::new();
        table.set_implicit(true);
        // Into an inline table this becomes an inline table, as `TableLike::insert` converts.
        parent.insert(name, Item::Table(table));
    }
    parent.get_mut(name)?.as_table_like_mut()
}

/// Key paths (below `apg`) whose values differ, with both values; tables are compared key
/// by key, so `condition` yields its own keys.
fn differing_keys(old: &ApgSpec, new: &ApgSpec) -> Vec<(Vec<String>, toml::Value, toml::Value)> {
    let as_table = |apg: &ApgSpec| match toml::Value::try_from(apg) {
        Ok(toml::Value::Table(table)) => table,
        // ApgSpec is a struct of plain values: it always serialises to a table.
        other => unreachable!("ApgSpec serialises to a table, not {other:?}"),
    };
    let mut out = Vec::new();
    compare(&mut Vec::new(), &as_table(old), &as_table(new), &mut out);
    out
}

fn compare(
    path: &mut Vec<String>,
    old: &toml::Table,
    new: &toml::Table,
    out: &mut Vec<(Vec<String>, toml::Value, toml::Value)>,
) {
    for (key, new_value) in new {
        let old_value = old.get(key);
        path.push(key.clone());
        match (old_value, new_value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => compare(path, a, b, out),
            (Some(a), b) if a == b => {}
            (a, b) => out.push((path.clone(), a.cloned().unwrap_or(toml::Value::Array(Vec::new())), b.clone())),
        }
        path.pop();
    }
}

/// A value as the `toml_edit` document holds it.
fn toml_value(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::from(s.as_str()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::from(*b),
        toml::Value::Datetime(d) => Value::from(d.to_string().parse::<toml_edit::Datetime>().expect("a datetime")),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_value).collect()),
        toml::Value::Table(table) => {
            let mut inline = InlineTable::new();
            for (key, value) in table {
                inline.insert(key, toml_value(value));
            }
            Value::InlineTable(inline)
        }
    }
}

/// A value as TOML spells it.
fn spelled(value: &toml::Value) -> String {
    toml_value(value).to_string().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::experiment::{ConditionMode, Variant};

    const FILE: &str = "# An experiment with comments everywhere.\n\
        description = \"APG v5 on the domain\"  # what it is\n\
        dataset = \"data.toml\"\n\
        \n\
        [model]\n\
        hidden = [16, 8]   # the tower\n\
        \n\
        # The APG part.\n\
        [apg]\n\
        variant = \"v5\"     # the variant\n\
        rank = [4, 2]      # K per layer\n\
        generate_bias = true  # explicitly the default\n\
        \n\
        [apg.condition]\n\
        # one field\n\
        mode = \"group\"   # group-wise\n\
        fields = [\"domain\"]  # the domain\n\
        \n\
        [train]\n\
        epochs = 1 # short\n";

    fn path() -> &'static Path {
        Path::new("e.toml")
    }

    /// The lines of `after` that differ from `before`, line by line (same line count).
    fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
        assert_eq!(before.lines().count(), after.lines().count(), "{after}");
        before.lines().zip(after.lines()).filter(|(a, b)| a != b).map(|(a, b)| (a.into(), b.into())).collect()
    }

    #[test]
    fn an_unchanged_design_leaves_the_text_byte_for_byte() {
        let apg = apg_of(path(), FILE).unwrap();
        assert_eq!(set_apg(path(), FILE, &apg).unwrap(), FILE);
    }

    #[test]
    fn only_the_lines_of_changed_keys_change_and_keep_their_comments() {
        let mut apg = apg_of(path(), FILE).unwrap();
        apg.rank = vec![8, 4];
        apg.condition.fields = vec!["device".into()];
        let after = set_apg(path(), FILE, &apg).unwrap();
        assert_eq!(
            changed_lines(FILE, &after),
            vec![
                ("rank = [4, 2]      # K per layer".into(), "rank = [8, 4]      # K per layer".into()),
                ("fields = [\"domain\"]  # the domain".into(), "fields = [\"device\"]  # the domain".into()),
            ]
        );
        let reread = apg_of(path(), &after).unwrap();
        assert_eq!(reread, apg);
    }

    #[test]
    fn a_new_key_is_added_to_its_table_and_defaults_are_not_written() {
        let mut apg = apg_of(path(), FILE).unwrap();
        apg.condition.mode = ConditionMode::Mix;
        apg.condition.fields = vec!["domain".into(), "device".into()];
        apg.generator_hidden = vec![16];
        let after = set_apg(path(), FILE, &apg).unwrap();
        // Two new lines (generator_hidden under [apg]), two changed ones; nothing else.
        let expected = FILE
            .replace(
                "generate_bias = true  # explicitly the default\n",
                "generate_bias = true  # explicitly the default\ngenerator_hidden = [16]\n",
            )
            .replace("mode = \"group\"   # group-wise", "mode = \"mix\"   # group-wise")
            .replace("fields = [\"domain\"]  # the domain", "fields = [\"domain\", \"device\"]  # the domain");
        assert_eq!(after, expected);
        for default_key in ["aggregation", "input_agg", "output_agg", "overparam", "layers", "init"] {
            assert!(!after.contains(default_key), "{default_key} keeps its default and is not written:\n{after}");
        }
    }

    #[test]
    fn missing_tables_are_added_and_dotted_or_inline_tables_stay_so() {
        let bare = "dataset = \"data.toml\"\n[train]\nepochs = 1\n";
        let mut apg = apg_of(path(), bare).unwrap();
        apg.variant = Variant::V4;
        apg.condition.fields = vec!["domain".into()];
        let after = set_apg(path(), bare, &apg).unwrap();
        assert!(after.starts_with(bare), "{after}");
        assert_eq!(apg_of(path(), &after).unwrap(), apg);

        let dotted = "dataset = \"data.toml\"\napg.variant = \"v5\"\napg.condition.fields = [\"domain\"]\n";
        let mut apg = apg_of(path(), dotted).unwrap();
        apg.variant = Variant::V4;
        let after = set_apg(path(), dotted, &apg).unwrap();
        assert_eq!(after, dotted.replace("\"v5\"", "\"v4\""));

        let inline = "dataset = \"data.toml\"\napg = { variant = \"v5\", condition = { fields = [\"domain\"] } }\n";
        let mut apg = apg_of(path(), inline).unwrap();
        apg.condition.fields = vec!["device".into()];
        let after = set_apg(path(), inline, &apg).unwrap();
        assert_eq!(after, inline.replace("[\"domain\"]", "[\"device\"]"));
    }

    #[test]
    fn a_broken_file_is_an_error_with_its_position() {
        let error = set_apg(path(), "dataset = \n", &ApgSpec::default()).unwrap_err();
        assert_eq!(error.position.map(|p| p.0), Some(1), "{error}");
        let error = set_apg(path(), "[apg]\nrank = \"many\"\n", &ApgSpec::default()).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("apg.rank"), "{error}");
    }

    #[test]
    fn changes_name_the_keys_with_both_values() {
        let old = ApgSpec::default();
        let mut new = old.clone();
        new.variant = Variant::V5;
        new.condition.fields = vec!["domain".into()];
        let changes = apg_changes(&old, &new);
        assert_eq!(
            changes,
            vec![
                KeyChange { key: "apg.condition.fields".into(), old: "[]".into(), new: "[\"domain\"]".into() },
                KeyChange { key: "apg.variant".into(), old: "\"static\"".into(), new: "\"v5\"".into() },
            ]
        );
    }
}
