//! Delimited text with a header row: CSV, TSV or any one-byte separator, quoted fields.

use std::path::Path;

use crate::data::DataError;
use crate::data::descriptor::SourceSpec;
use crate::data::raw::{RawTable, check_text, decode};

pub fn load(source: &SourceSpec, path: &Path, table: &mut RawTable) -> Result<(), DataError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(source.separator.as_bytes()[0])
        .quote(source.quote.as_bytes()[0])
        .has_headers(false)
        .flexible(true)
        .from_reader(super::open(path)?);
    let mut record = ::csv::ByteRecord::new();
    let csv_error = |e: ::csv::Error| match e.position() {
        Some(p) => DataError::BadRow { file: path.to_path_buf(), line: p.line(), message: e.to_string() },
        None => DataError::io(path, e),
    };
    if !source.header {
        return Err(DataError::BadRow {
            file: path.to_path_buf(),
            line: 1,
            message: "csv files need a header row naming the columns".into(),
        });
    }
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(DataError::BadRow {
            file: path.to_path_buf(),
            line: 1,
            message: "the file is empty: expected a header row".into(),
        });
    }
    for (i, name) in record.iter().enumerate() {
        check_text(name, table.encoding, path, 1, || format!("the header's column {}", i + 1))?;
    }
    let header: Vec<String> = record.iter().map(|c| decode(c.trim_ascii(), table.encoding)).collect();
    let binding = table.bind(&header, path)?;
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            if record.len() == 1 && record[0].trim_ascii().is_empty() {
                continue; // a blank line
            }
            // A quote that is never closed swallows the following lines into one value.
            if record.iter().any(|c| c.contains(&b'\n')) {
                return Err(DataError::BadRow {
                    file: path.to_path_buf(),
                    line,
                    message: format!(
                        "{} values but the header has {} columns: a quoted value opened on this line runs on over the following lines; is a closing `{}` missing?",
                        record.len(),
                        header.len(),
                        source.quote
                    ),
                });
            }
            return Err(DataError::RowWidth {
                file: path.to_path_buf(),
                line,
                expected: header.len(),
                found: record.len(),
            });
        }
        table.push(&binding, &record, path, line)?;
    }
    Ok(())
}
