//! libSVM / libFM rows, `label idx:val idx:val ...` with one index per field (Frappe).
//! Columns are named `label` and `c1`..`cN` in row order; values must be 1.

use std::io::BufRead;
use std::path::Path;

use crate::data::DataError;
use crate::data::raw::RawTable;

pub fn load(path: &Path, table: &mut RawTable) -> Result<(), DataError> {
    let reader = super::open(path)?;
    let mut binding = None;
    let mut width = 0;
    let mut first_line = 0;
    for (index, line) in reader.split(b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let line = line.map_err(|e| DataError::io(path, e))?;
        let bad = |message: String| DataError::BadRow { file: path.to_path_buf(), line: line_number, message };
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let mut cells: Vec<&[u8]> = Vec::with_capacity(width + 1);
        for (position, token) in text.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty()).enumerate() {
            if position == 0 {
                cells.push(token);
                continue;
            }
            let Some(colon) = token.iter().position(|&b| b == b':') else {
                return Err(bad(format!("feature {:?} is not `index:value`", String::from_utf8_lossy(token))));
            };
            let value = &token[colon + 1..];
            if value.parse_f64() != Some(1.0) {
                return Err(bad(format!(
                    "feature {:?}: only binary features (value 1) are supported",
                    String::from_utf8_lossy(token)
                )));
            }
            cells.push(&token[..colon]);
        }
        let binding = match &binding {
            Some(b) => b,
            None => {
                width = cells.len();
                first_line = line_number;
                let header: Vec<String> =
                    std::iter::once("label".to_string()).chain((1..width).map(|i| format!("c{i}"))).collect();
                binding.insert(table.bind(&header, path)?)
            }
        };
        if cells.len() != width {
            // libFM files have no header: the first row fixes the number of fields.
            return Err(bad(format!(
                "{} features, but line {first_line} has {}; every row needs one feature per field",
                cells.len().saturating_sub(1),
                width - 1
            )));
        }
        table.push(binding, cells.as_slice(), path, line_number)?;
    }
    Ok(())
}

trait ParseF64 {
    fn parse_f64(&self) -> Option<f64>;
}

impl ParseF64 for [u8] {
    fn parse_f64(&self) -> Option<f64> {
        std::str::from_utf8(self).ok()?.parse().ok()
    }
}
