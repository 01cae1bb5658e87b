//! Apache Parquet files: the top-level columns by name, read through the row API, only
//! the columns the descriptor uses. Values become the text a CSV file would hold, so the
//! same descriptor keys apply: numbers in decimal, booleans 1/0, dates `YYYY-MM-DD`,
//! timestamps in epoch milliseconds, lists of values joined by `|`, null as missing.
//! Row numbers in messages count from 1 over the file's rows.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;

use crate::data::DataError;
use crate::data::raw::RawTable;

pub fn load(path: &Path, table: &mut RawTable) -> Result<(), DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| DataError::io(path, format!("not a readable Parquet file ({e}); is source.format right?")))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let fields = schema.root_schema().get_fields();
    let header: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    let binding = table.bind(&header, path)?;
    let used = binding.reads(header.len());
    let positions: Vec<usize> = (0..header.len()).filter(|&i| used[i]).collect();
    let projection = Type::group_type_builder(schema.root_schema().name())
        .with_fields(positions.iter().map(|&i| Arc::clone(&fields[i])).collect())
        .build()
        .map_err(|e| DataError::io(path, e))?;
    let rows = reader.get_row_iter(Some(projection)).map_err(|e| DataError::io(path, e))?;
    let mut cells: Vec<Vec<u8>> = vec![Vec::new(); header.len()];
    for (index, row) in rows.enumerate() {
        let line = index as u64 + 1;
        let row = row.map_err(|e| DataError::BadRow { file: path.to_path_buf(), line, message: e.to_string() })?;
        for ((_, field), &position) in row.get_column_iter().zip(&positions) {
            cells[position].clear();
            write_text(field, &mut cells[position]).map_err(|what| DataError::BadRow {
                file: path.to_path_buf(),
                line,
                message: format!("column `{}`: {what}", header[position]),
            })?;
        }
        let row: Vec<&[u8]> = cells.iter().map(Vec::as_slice).collect();
        table.push(&binding, &row[..], path, line)?;
    }
    Ok(())
}

/// Appends a value's text; nested groups and maps are refused.
fn write_text(field: &Field, out: &mut Vec<u8>) -> Result<(), String> {
    let text = match field {
        Field::Null => String::new(),
        Field::Bool(b) => (if *b { "1" } else { "0" }).to_string(),
        Field::Byte(v) => v.to_string(),
        Field::Short(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::Long(v) => v.to_string(),
        Field::UByte(v) => v.to_string(),
        Field::UShort(v) => v.to_string(),
        Field::UInt(v) => v.to_string(),
        Field::ULong(v) => v.to_string(),
        Field::Float16(v) => v.to_string(),
        Field::Float(v) => v.to_string(),
        Field::Double(v) => v.to_string(),
        Field::Decimal(_) => field.to_string(),
        Field::Str(s) => s.clone(),
        Field::Bytes(bytes) => {
            out.extend_from_slice(bytes.data());
            return Ok(());
        }
        Field::Date(days) => chrono::DateTime::from_timestamp(i64::from(*days) * 86_400, 0)
            .map_or_else(|| days.to_string(), |t| t.format("%Y-%m-%d").to_string()),
        Field::TimeMillis(ms) => ms.to_string(),
        Field::TimeMicros(us) => us.div_euclid(1000).to_string(),
        Field::TimestampMillis(ms) => ms.to_string(),
        Field::TimestampMicros(us) => us.div_euclid(1000).to_string(),
        Field::ListInternal(list) => {
            for (i, element) in list.elements().iter().enumerate() {
                if i > 0 {
                    out.push(b'|');
                }
                write_text(element, out)?;
            }
            return Ok(());
        }
        Field::Group(_) | Field::MapInternal(_) => {
            return Err("a nested group or map: apg-bench reads columns of plain values or lists of them".into());
        }
    };
    out.extend_from_slice(text.as_bytes());
    Ok(())
}
