//! libSVM / libFM rows, `label idx:val idx:val ...` with one index per field (Frappe).
//! Columns are named `label` and `c1`..`cN` in row order; values must be 1. As strict as
//! the CSV reader: every token is checked, and every row of every file of the dataset
//! has as many features as its first row.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::data::DataError;
use crate::data::raw::RawTable;

/// The row that fixed the number of fields: the first row of the dataset's first file.
#[derive(Debug, Clone)]
pub struct Width {
    features: usize,
    file: PathBuf,
    line: u64,
}

/// Reads one libFM file into `table`; `width` carries the number of fields from file
/// to file (None before the first).
pub fn load(path: &Path, table: &mut RawTable, width: &mut Option<Width>) -> Result<(), DataError> {
    let reader = super::open(path)?;
    let mut binding = None;
    for (index, line) in reader.split(b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let line = line.map_err(|e| DataError::io(path, e))?;
        let bad = |message: String| DataError::BadRow { file: path.to_path_buf(), line: line_number, message };
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let mut tokens = text.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        let label = tokens.next().expect("a non-blank line has a token");
        if label.contains(&b':') {
            return Err(bad(format!(
                "the row starts with the feature {:?}; every row starts with its label",
                String::from_utf8_lossy(label)
            )));
        }
        let mut cells: Vec<&[u8]> = vec![label];
        for token in tokens {
            cells.push(feature_index(token).map_err(bad)?);
        }
        let features = cells.len() - 1;
        if features == 0 {
            return Err(bad("a label without features; every row needs one feature per field".into()));
        }
        let width = width.get_or_insert_with(|| Width { features, file: path.to_path_buf(), line: line_number });
        if features != width.features {
            let first = if width.file == path {
                format!("line {}", width.line)
            } else {
                format!("{}:{}", width.file.display(), width.line)
            };
            return Err(bad(format!(
                "{features} features, but {first} has {}; every row needs one feature per field",
                width.features
            )));
        }
        let binding = match &binding {
            Some(b) => b,
            None => {
                // libFM files have no header: the columns are named by position.
                let header: Vec<String> =
                    std::iter::once("label".to_string()).chain((1..=features).map(|i| format!("c{i}"))).collect();
                binding.insert(table.bind(&header, path)?)
            }
        };
        table.push(binding, cells.as_slice(), path, line_number)?;
    }
    Ok(())
}

/// The index of a binary feature token `index:1`, or why the token is malformed.
fn feature_index(token: &[u8]) -> Result<&[u8], String> {
    let shown = || String::from_utf8_lossy(token).into_owned();
    let mut parts = token.split(|&b| b == b':');
    let (Some(index), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("feature {:?} is not `index:value`", shown()));
    };
    if index.is_empty() || !index.iter().all(u8::is_ascii_digit) {
        return Err(format!("feature {:?}: the index is not a whole number", shown()));
    }
    let value: Option<f64> = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
    if value != Some(1.0) {
        return Err(format!("feature {:?}: only binary features (value 1) are supported", shown()));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::feature_index;

    #[test]
    fn feature_tokens_are_checked() {
        assert_eq!(feature_index(b"266:1"), Ok(&b"266"[..]));
        assert_eq!(feature_index(b"7:1.0"), Ok(&b"7"[..]));
        assert_eq!(feature_index(b"266"), Err("feature \"266\" is not `index:value`".into()));
        assert_eq!(feature_index(b"1:1:1"), Err("feature \"1:1:1\" is not `index:value`".into()));
        for token in ["abc:1", ":1", "-3:1", "1.5:1", "+2:1"] {
            let expected = format!("feature {token:?}: the index is not a whole number");
            assert_eq!(feature_index(token.as_bytes()), Err(expected));
        }
        assert_eq!(
            feature_index(b"6:0.5"),
            Err("feature \"6:0.5\": only binary features (value 1) are supported".into())
        );
        assert_eq!(feature_index(b"6:"), Err("feature \"6:\": only binary features (value 1) are supported".into()));
    }
}
