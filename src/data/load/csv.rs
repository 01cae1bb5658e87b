//! Delimited text: CSV, TSV or any one-byte separator with quoted fields, or a separator
//! of several characters (`::`) without quoting; a header row, or column names given by
//! the descriptor.

use std::io::BufRead;
use std::path::Path;

use crate::data::DataError;
use crate::data::descriptor::SourceSpec;
use crate::data::raw::{RawTable, check_text, decode, split_bytes};

pub fn load(source: &SourceSpec, path: &Path, table: &mut RawTable) -> Result<(), DataError> {
    if source.separator.len() > 1 {
        return load_split(source, path, table);
    }
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
    let header = if source.header {
        if !reader.read_byte_record(&mut record).map_err(csv_error)? {
            return Err(empty(path));
        }
        header_names(source, &record.iter().collect::<Vec<_>>(), path, table)?
    } else {
        source.columns.clone()
    };
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

/// Lines split at a separator of several characters (MovieLens-1M's `::`); no quoting.
fn load_split(source: &SourceSpec, path: &Path, table: &mut RawTable) -> Result<(), DataError> {
    let separator = source.separator.as_bytes();
    let mut lines = super::open(path)?.split(b'\n').enumerate();
    let mut next_line = || -> Result<Option<(u64, Vec<u8>)>, DataError> {
        for (index, line) in lines.by_ref() {
            let mut line = line.map_err(|e| DataError::io(path, e))?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !line.trim_ascii().is_empty() {
                return Ok(Some((index as u64 + 1, line)));
            }
        }
        Ok(None)
    };
    let header = if source.header {
        let Some((_, line)) = next_line()? else { return Err(empty(path)) };
        header_names(source, &split_bytes(&line, separator).collect::<Vec<_>>(), path, table)?
    } else {
        source.columns.clone()
    };
    let binding = table.bind(&header, path)?;
    while let Some((line_number, line)) = next_line()? {
        let cells: Vec<&[u8]> = split_bytes(&line, separator).collect();
        if cells.len() != header.len() {
            return Err(DataError::RowWidth {
                file: path.to_path_buf(),
                line: line_number,
                expected: header.len(),
                found: cells.len(),
            });
        }
        table.push(&binding, &cells[..], path, line_number)?;
    }
    Ok(())
}

fn empty(path: &Path) -> DataError {
    DataError::BadRow { file: path.to_path_buf(), line: 1, message: "the file is empty: expected a header row".into() }
}

/// The column names of a file with a header row: the header's, or the descriptor's
/// `columns` in their place (as many as the header has).
fn header_names(source: &SourceSpec, row: &[&[u8]], path: &Path, table: &RawTable) -> Result<Vec<String>, DataError> {
    if !source.columns.is_empty() {
        if source.columns.len() != row.len() {
            return Err(DataError::BadRow {
                file: path.to_path_buf(),
                line: 1,
                message: format!(
                    "the header has {} columns but source.columns names {}: name every column, in order",
                    row.len(),
                    source.columns.len()
                ),
            });
        }
        return Ok(source.columns.clone());
    }
    for (i, name) in row.iter().enumerate() {
        check_text(name, table.encoding, path, 1, || format!("the header's column {}", i + 1))?;
    }
    Ok(row.iter().map(|c| decode(c.trim_ascii(), table.encoding)).collect())
}
