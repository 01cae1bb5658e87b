//! Value transforms of a descriptor, applied to each row as a loader reads it: the
//! explode of a list-valued column into one row per item, and the values that fields,
//! derived fields or the time split read through missing markers, a substring, a time
//! format or several columns at once. Each such value is a virtual column appended to
//! the row (named after its source and its transforms), so the raw table reads it as it
//! reads any column.

use std::path::Path;

use crate::data::DataError;
use crate::data::descriptor::{DerivedSpec, FieldKind, FieldSpec, LoadedDescriptor, SplitSpec, ValueSpec};
use crate::data::raw::{Cells, find_column, split_bytes};
use crate::data::time::{TimeFormat, TimePart};
use crate::toml_error::ConfigError;

/// The column a field is read from: its source column, or the virtual column of its
/// transforms.
pub fn field_column(field: &FieldSpec) -> String {
    let multi = field.kind == FieldKind::MultiCategorical;
    if field.columns.is_empty() && field.value().is_plain() {
        return field.column().to_string();
    }
    view_name(&field.sources(), field.value(), multi.then(|| field.separator()))
}

/// The column a derived field is computed from.
pub fn derived_column(derived: &DerivedSpec) -> String {
    if derived.value().is_plain() {
        return derived.column.clone();
    }
    view_name(&[&derived.column], derived.value(), None)
}

/// The column a time split sorts by: seconds when the split names a `time_format`.
pub fn split_column(split: &SplitSpec) -> Option<String> {
    let column = split.column.as_deref()?;
    Some(match split.time_format.as_deref() {
        None => column.to_string(),
        Some(format) => view_name(&[column], split_value(format), None),
    })
}

fn split_value(format: &str) -> ValueSpec<'_> {
    ValueSpec { time_format: Some(format), ..ValueSpec::default() }
}

/// A virtual column's name: its sources and transforms in words, e.g.
/// `hour (time "%y%m%d%H", hour)` or `genre1+genre2 (missing "missing", split "|")`.
fn view_name(sources: &[&str], value: ValueSpec, separator: Option<&str>) -> String {
    let mut steps = Vec::new();
    if !value.missing.is_empty() {
        let markers: Vec<String> = value.missing.iter().map(|m| format!("{m:?}")).collect();
        steps.push(format!("missing {}", markers.join(", ")));
    }
    if let Some(n) = value.prefix {
        steps.push(format!("prefix {n}"));
    }
    if let Some([start, end]) = value.substring {
        steps.push(format!("characters {start}..{end}"));
    }
    if let Some(format) = value.time_format {
        steps.push(format!("time {format:?}"));
    }
    if let Some(part) = value.time_part {
        steps.push(part.name().to_string());
    }
    if let Some(separator) = separator {
        steps.push(format!("split {separator:?}"));
    }
    format!("{} ({})", sources.join("+"), steps.join(", "))
}

/// What is done to each row as it is read.
#[derive(Debug, Default)]
pub struct RowTransform {
    explode: Option<Explode>,
    views: Vec<View>,
}

/// Where the sources of a [`RowTransform`] are in one file's columns.
#[derive(Debug, Clone)]
pub struct BoundRows {
    /// Columns of the file itself; the explode's columns, then the views', follow.
    width: usize,
    explode: Option<usize>,
    sources: Vec<Vec<usize>>,
}

impl RowTransform {
    /// The transforms a descriptor asks for (none for most descriptors).
    pub fn new(descriptor: &LoadedDescriptor) -> Result<Self, ConfigError> {
        let d = &descriptor.descriptor;
        let explode = d.source.explode.as_ref().map(|e| Explode {
            column: e.column.clone(),
            separator: e.separator.as_bytes().to_vec(),
            part_separator: e.part_separator.as_ref().map(|s| s.as_bytes().to_vec()),
            into: e.into.clone(),
        });
        let mut transform = RowTransform { explode, views: Vec::new() };
        for (i, field) in d.fields.iter().enumerate() {
            let multi = field.kind == FieldKind::MultiCategorical;
            if field.columns.is_empty() && field.value().is_plain() {
                continue;
            }
            let steps =
                Steps::new(field.value()).map_err(|e| descriptor.error(&format!("fields[{i}].time_format"), e))?;
            transform.add(View {
                name: field_column(field),
                sources: field.sources().iter().map(|s| s.to_string()).collect(),
                steps,
                multi: multi.then(|| field.separator().as_bytes().to_vec()),
                needed_by: format!("fields[{i}] ({})", field.name),
            });
        }
        for (i, derived) in d.derived.iter().enumerate() {
            if derived.value().is_plain() {
                continue;
            }
            let steps =
                Steps::new(derived.value()).map_err(|e| descriptor.error(&format!("derived[{i}].time_format"), e))?;
            transform.add(View {
                name: derived_column(derived),
                sources: vec![derived.column.clone()],
                steps,
                multi: None,
                needed_by: format!("derived[{i}] ({})", derived.name),
            });
        }
        if let (Some(column), Some(format)) = (&d.split.column, &d.split.time_format) {
            let steps = Steps::new(split_value(format)).map_err(|e| descriptor.error("split.time_format", e))?;
            transform.add(View {
                name: split_column(&d.split).unwrap_or_default(),
                sources: vec![column.clone()],
                steps,
                multi: None,
                needed_by: "split.column".into(),
            });
        }
        Ok(transform)
    }

    fn add(&mut self, view: View) {
        if !self.views.iter().any(|v| v.name == view.name) {
            self.views.push(view);
        }
    }

    /// Whether rows are read as they are.
    pub fn is_none(&self) -> bool {
        self.explode.is_none() && self.views.is_empty()
    }

    /// The file's columns followed by the virtual ones, and where the sources are.
    pub fn bind(&self, header: &[String], file: &Path) -> Result<(Vec<String>, BoundRows), DataError> {
        let mut columns = header.to_vec();
        let mut explode = None;
        if let Some(e) = &self.explode {
            explode = Some(find_column(header, &e.column, "source.explode.column", file)?);
            columns.extend(e.into.iter().cloned());
        }
        let mut sources = Vec::new();
        for view in &self.views {
            let positions = view
                .sources
                .iter()
                .map(|source| find_column(&columns, source, &view.needed_by, file))
                .collect::<Result<Vec<_>, _>>()?;
            sources.push(positions);
        }
        columns.extend(self.views.iter().map(|v| v.name.clone()));
        Ok((columns, BoundRows { width: header.len(), explode, sources }))
    }

    /// The virtual cells of the rows that one row of the file becomes: one row, or one
    /// per item of the exploded column (none when it is empty).
    pub fn rows<C: Cells + ?Sized>(
        &self,
        bound: &BoundRows,
        cells: &C,
        file: &Path,
        line: u64,
    ) -> Result<Vec<Vec<Vec<u8>>>, DataError> {
        let items = match (&self.explode, bound.explode) {
            (Some(explode), Some(at)) => explode.items(cells.cell(at).unwrap_or_default(), file, line)?,
            _ => vec![Vec::new()],
        };
        let mut rows = Vec::with_capacity(items.len());
        for mut extra in items {
            let mut values = Vec::with_capacity(self.views.len());
            {
                let row = Overlay { base: cells, width: bound.width, extra: &extra };
                for (view, positions) in self.views.iter().zip(&bound.sources) {
                    values.push(view.apply(&row, positions, file, line)?);
                }
            }
            extra.extend(values);
            rows.push(extra);
        }
        Ok(rows)
    }
}

/// A row of the file with virtual cells after its own `width` columns.
pub struct Overlay<'a, C: ?Sized> {
    pub base: &'a C,
    pub width: usize,
    pub extra: &'a [Vec<u8>],
}

impl<C: Cells + ?Sized> Cells for Overlay<'_, C> {
    fn cell(&self, index: usize) -> Option<&[u8]> {
        if index < self.width { self.base.cell(index) } else { self.extra.get(index - self.width).map(Vec::as_slice) }
    }
}

impl BoundRows {
    pub fn width(&self) -> usize {
        self.width
    }

    /// The file's columns the transforms read.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.explode.iter().copied().chain(self.sources.iter().flatten().copied())
    }
}

#[derive(Debug)]
struct Explode {
    column: String,
    separator: Vec<u8>,
    part_separator: Option<Vec<u8>>,
    into: Vec<String>,
}

impl Explode {
    /// The items of a cell, each split into its parts (one per `into` column).
    fn items(&self, cell: &[u8], file: &Path, line: u64) -> Result<Vec<Vec<Vec<u8>>>, DataError> {
        let mut items = Vec::new();
        for item in split_bytes(cell, &self.separator) {
            let item = item.trim_ascii();
            if item.is_empty() {
                continue;
            }
            let parts: Vec<Vec<u8>> = match &self.part_separator {
                Some(separator) => split_bytes(item, separator).map(|p| p.trim_ascii().to_vec()).collect(),
                None => vec![item.to_vec()],
            };
            if parts.len() != self.into.len() {
                let separator = self.part_separator.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                return Err(DataError::BadRow {
                    file: file.to_path_buf(),
                    line,
                    message: format!(
                        "column `{}`: item {:?} has {} parts (split at {separator:?}), but source.explode.into names {} ({})",
                        self.column,
                        String::from_utf8_lossy(item),
                        parts.len(),
                        self.into.len(),
                        self.into.join(", ")
                    ),
                });
            }
            items.push(parts);
        }
        Ok(items)
    }
}

/// A virtual column: the value of one field read from its source columns.
#[derive(Debug)]
struct View {
    name: String,
    sources: Vec<String>,
    steps: Steps,
    /// Multi-valued: the separator within a cell and between the values of the result.
    multi: Option<Vec<u8>>,
    needed_by: String,
}

impl View {
    fn apply<C: Cells + ?Sized>(
        &self,
        cells: &C,
        positions: &[usize],
        file: &Path,
        line: u64,
    ) -> Result<Vec<u8>, DataError> {
        let at = |i: usize| cells.cell(positions[i]).unwrap_or_default().trim_ascii();
        let Some(separator) = &self.multi else {
            return self.steps.apply(at(0)).map_err(|format| self.bad_time(at(0), 0, &format, file, line));
        };
        let mut out = Vec::new();
        for (i, _) in positions.iter().enumerate() {
            for value in split_bytes(at(i), separator) {
                let value = value.trim_ascii();
                let value = self.steps.apply(value).map_err(|format| self.bad_time(value, i, &format, file, line))?;
                if !value.is_empty() {
                    if !out.is_empty() {
                        out.extend_from_slice(separator);
                    }
                    out.extend_from_slice(&value);
                }
            }
        }
        Ok(out)
    }

    fn bad_time(&self, value: &[u8], source: usize, format: &str, file: &Path, line: u64) -> DataError {
        // The split has no missing markers: every row needs its time.
        let hint =
            if self.needed_by == "split.column" { "" } else { "; if it marks a missing time, list it in `missing`" };
        let message = format!(
            "column `{}`: {:?} does not match time_format {format:?} (needed by {}){hint}",
            self.sources[source],
            String::from_utf8_lossy(value),
            self.needed_by
        );
        DataError::BadRow { file: file.to_path_buf(), line, message }
    }
}

/// The transforms of one value, in the order they apply.
#[derive(Debug, Default)]
struct Steps {
    missing: Vec<Vec<u8>>,
    /// Characters `[start, end)`.
    slice: Option<(usize, usize)>,
    time: Option<(TimeFormat, Option<TimePart>)>,
}

impl Steps {
    fn new(value: ValueSpec) -> Result<Self, String> {
        let slice = match (value.prefix, value.substring) {
            (Some(n), _) => Some((0, n as usize)),
            (None, Some([start, end])) => Some((start as usize, end as usize)),
            (None, None) => None,
        };
        let time = match value.time_format {
            Some(format) => Some((TimeFormat::new(format)?, value.time_part)),
            None => None,
        };
        Ok(Steps { missing: value.missing.iter().map(|m| m.as_bytes().to_vec()).collect(), slice, time })
    }

    /// The value after the transforms; empty when missing. A time that does not match
    /// the format is an error carrying the format.
    fn apply(&self, value: &[u8]) -> Result<Vec<u8>, String> {
        if value.is_empty() || self.missing.iter().any(|m| m == value) {
            return Ok(Vec::new());
        }
        let value = match self.slice {
            Some((start, end)) => characters(value, start, end),
            None => value,
        };
        let Some((format, part)) = &self.time else { return Ok(value.to_vec()) };
        let seconds = std::str::from_utf8(value).ok().and_then(|text| format.seconds(text));
        let text = match (seconds, part) {
            (Some(seconds), None) => Some(seconds.to_string()),
            (Some(seconds), Some(part)) => part.of(seconds),
            (None, _) => None,
        };
        text.map(String::into_bytes).ok_or_else(|| format.text().to_string())
    }
}

/// Characters `[start, end)` of UTF-8 text (of bytes, for other text: latin-1 has one
/// byte per character).
fn characters(value: &[u8], start: usize, end: usize) -> &[u8] {
    let Ok(text) = std::str::from_utf8(value) else {
        return &value[start.min(value.len())..end.min(value.len())];
    };
    let offset = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
    let (from, to) = (offset(start), offset(end));
    &value[from..to.max(from)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(value: ValueSpec) -> Steps {
        Steps::new(value).unwrap()
    }

    fn text(result: Result<Vec<u8>, String>) -> String {
        String::from_utf8(result.unwrap()).unwrap()
    }

    #[test]
    fn missing_markers_become_empty() {
        let markers = ["-124".to_string(), "NA".to_string()];
        let s = steps(ValueSpec { missing: &markers, ..ValueSpec::default() });
        assert_eq!(text(s.apply(b"-124")), "");
        assert_eq!(text(s.apply(b"NA")), "");
        assert_eq!(text(s.apply(b"-12")), "-12");
        assert_eq!(text(s.apply(b"")), "");
    }

    #[test]
    fn prefixes_and_substrings_count_characters() {
        let s = steps(ValueSpec { prefix: Some(3), ..ValueSpec::default() });
        assert_eq!(text(s.apply(b"55408")), "554");
        assert_eq!(text(s.apply(b"55")), "55");
        assert_eq!(text(s.apply("Zürich".as_bytes())), "Zür");
        let s = steps(ValueSpec { substring: Some([1, 3]), ..ValueSpec::default() });
        assert_eq!(text(s.apply(b"abcdef")), "bc");
        assert_eq!(text(s.apply(b"a")), "");
        assert_eq!(characters(b"Mis\xe9rables", 2, 4), b"s\xe9");
    }

    #[test]
    fn times_become_seconds_or_parts() {
        let s = steps(ValueSpec { time_format: Some("%y%m%d%H"), ..ValueSpec::default() });
        assert_eq!(text(s.apply(b"14102113")), (16_364 * 86_400 + 13 * 3600).to_string());
        let s = steps(ValueSpec {
            time_format: Some("%y%m%d%H"),
            time_part: Some(TimePart::Weekday),
            ..ValueSpec::default()
        });
        assert_eq!(text(s.apply(b"14102113")), "Tue");
        assert_eq!(s.apply(b"2014-10-21").unwrap_err(), "%y%m%d%H");
        // A declared marker is missing, not a bad time.
        let markers = ["unknown".to_string()];
        let s = steps(ValueSpec { missing: &markers, time_format: Some("epoch_s"), ..ValueSpec::default() });
        assert_eq!(text(s.apply(b"unknown")), "");
        assert_eq!(text(s.apply(b"86400")), "86400");
    }

    #[test]
    fn explode_splits_items_into_parts() {
        let explode = Explode {
            column: "impressions".into(),
            separator: b" ".to_vec(),
            part_separator: Some(b"-".to_vec()),
            into: vec!["news".into(), "click".into()],
        };
        let items = explode.items(b"N55689-1 N35729-0  N1-0", Path::new("b.tsv"), 3).unwrap();
        let expected: Vec<Vec<Vec<u8>>> = vec![
            vec![b"N55689".to_vec(), b"1".to_vec()],
            vec![b"N35729".to_vec(), b"0".to_vec()],
            vec![b"N1".to_vec(), b"0".to_vec()],
        ];
        assert_eq!(items, expected);
        assert!(explode.items(b"", Path::new("b.tsv"), 3).unwrap().is_empty());
        let error = explode.items(b"N1-0 N2", Path::new("b.tsv"), 3).unwrap_err().to_string();
        assert_eq!(
            error,
            "b.tsv:3: column `impressions`: item \"N2\" has 1 parts (split at \"-\"), but source.explode.into names 2 (news, click)"
        );
    }

    #[test]
    fn several_columns_make_one_list_without_missing_values() {
        let markers = ["missing".to_string()];
        let view = View {
            name: "genres".into(),
            sources: vec!["genre1".into(), "genre2".into(), "genre3".into()],
            steps: steps(ValueSpec { missing: &markers, ..ValueSpec::default() }),
            multi: Some(b"|".to_vec()),
            needed_by: "fields[0] (genres)".into(),
        };
        let row: [&[u8]; 4] = [b"7", b"comedy", b"missing", b"drama|war"];
        let value = view.apply(&row[..], &[1, 2, 3], Path::new("m.csv"), 2).unwrap();
        assert_eq!(value, b"comedy|drama|war");
    }

    #[test]
    fn names_say_what_was_done() {
        let markers = ["missing".to_string()];
        let value = ValueSpec { missing: &markers, ..ValueSpec::default() };
        assert_eq!(view_name(&["g1", "g2"], value, Some("|")), "g1+g2 (missing \"missing\", split \"|\")");
        let value =
            ValueSpec { time_format: Some("%y%m%d%H"), time_part: Some(TimePart::Hour), ..ValueSpec::default() };
        assert_eq!(view_name(&["hour"], value, None), "hour (time \"%y%m%d%H\", hour)");
    }
}
