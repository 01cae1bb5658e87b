//! The raw table: source columns parsed once into compact form (values interned to
//! raw ids, numbers parsed) before any vocabulary exists. Every loader fills one. Its
//! columns spill to temporary files in chunks when given a folder ([`RawTable::spill_to`]),
//! so that only the interned values stay in memory.

use std::path::Path;

use rustc_hash::FxHashMap;

use crate::data::DataError;
use crate::data::descriptor::Encoding;
use crate::data::spill::Spill;
use crate::data::transform::{BoundRows, Overlay, RowTransform};

/// How the encoder wants a source column parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Parse {
    /// Each cell is one categorical value.
    Interned,
    /// Each cell is a number; empty cells are missing (NaN).
    Number,
    /// Each cell holds several values separated by the given string.
    Multi(String),
    /// The label: a number; `binary` labels must be 0/1 or -1/+1.
    Label { binary: bool },
}

/// One source column the descriptor asks for.
#[derive(Debug, Clone)]
pub struct ColumnRequest {
    pub column: String,
    pub parse: Parse,
    /// Which descriptor entry needs it, for messages (`fields[2] (age)`).
    pub needed_by: String,
}

/// Values interned to raw ids in order of first appearance.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    index: FxHashMap<Box<[u8]>, u32>,
    pub values: Vec<Box<[u8]>>,
}

impl Interner {
    /// The raw id of `value`, if it was interned before.
    pub fn id(&self, value: &[u8]) -> Option<u32> {
        self.index.get(value).copied()
    }

    pub fn intern(&mut self, value: &[u8]) -> u32 {
        if let Some(&id) = self.index.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.into());
        self.index.insert(value.into(), id);
        id
    }

    /// The value of raw id `id` as text in the source's encoding.
    pub fn text(&self, id: u32, encoding: Encoding) -> String {
        decode(&self.values[id as usize], encoding)
    }
}

/// Checks that a value is text in `encoding`: UTF-8 must be valid (a lossy decoding
/// would make different values look alike); any byte is a latin-1 character.
/// `place` says where the value is (`column `title``), for the message.
pub fn check_text(
    bytes: &[u8],
    encoding: Encoding,
    file: &Path,
    line: u64,
    place: impl FnOnce() -> String,
) -> Result<(), DataError> {
    match (encoding, std::str::from_utf8(bytes)) {
        (Encoding::Utf8, Err(e)) => Err(DataError::NotUtf8 {
            file: file.to_path_buf(),
            line,
            place: place(),
            value: escaped(bytes),
            offset: e.valid_up_to(),
        }),
        _ => Ok(()),
    }
}

/// The bytes as UTF-8 text with every invalid byte written `\xNN`.
fn escaped(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

pub fn decode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// A parsed source column.
#[derive(Debug)]
pub enum RawColumn {
    Interned { ids: Spill<u32>, values: Interner },
    Numbers(Spill<f64>),
    Multi { offsets: Spill<u32>, ids: Spill<u32>, values: Interner },
}

/// Where a row came from when a split names separate files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Part {
    Train = 0,
    Valid = 1,
    Test = 2,
}

/// Cells of one row, by column index.
pub trait Cells {
    fn cell(&self, index: usize) -> Option<&[u8]>;
}

impl Cells for csv::ByteRecord {
    fn cell(&self, index: usize) -> Option<&[u8]> {
        self.get(index)
    }
}

impl Cells for [&[u8]] {
    fn cell(&self, index: usize) -> Option<&[u8]> {
        self.get(index).copied()
    }
}

/// Which column of the current file each request reads.
#[derive(Debug, Clone)]
pub struct Binding {
    positions: Vec<usize>,
    /// Where the row transforms read, when there are any.
    rows: Option<BoundRows>,
}

impl Binding {
    /// Per column of the file, whether anything reads it (loaders may skip the rest).
    pub fn reads(&self, width: usize) -> Vec<bool> {
        let mut used = vec![false; width];
        let mut mark = |i: usize| {
            if i < width {
                used[i] = true;
            }
        };
        self.positions.iter().for_each(|&i| mark(i));
        if let Some(rows) = &self.rows {
            rows.positions().for_each(mark);
        }
        used
    }
}

/// The position of `column` in `header`; absent or present twice is an error naming the
/// file and what needs the column.
pub fn find_column(header: &[String], column: &str, needed_by: &str, file: &Path) -> Result<usize, DataError> {
    let mut found = header.iter().enumerate().filter(|(_, h)| *h == column).map(|(i, _)| i);
    let first = found.next().ok_or_else(|| DataError::MissingColumn {
        file: file.to_path_buf(),
        line: 1,
        column: column.to_string(),
        needed_by: needed_by.to_string(),
        available: header.to_vec(),
    })?;
    match found.next() {
        None => Ok(first),
        Some(second) => Err(DataError::DuplicateColumn {
            file: file.to_path_buf(),
            line: 1,
            column: column.to_string(),
            first: first + 1,
            second: second + 1,
            needed_by: needed_by.to_string(),
        }),
    }
}

#[derive(Debug)]
pub struct RawTable {
    pub requests: Vec<ColumnRequest>,
    pub columns: Vec<RawColumn>,
    /// Missing (empty) cells per column.
    pub missing: Vec<u64>,
    pub rows: usize,
    /// Source part of every row, when the split names files.
    pub parts: Vec<Part>,
    /// The true click probability of each row, for generated data.
    pub oracle: Option<Vec<f32>>,
    pub encoding: Encoding,
    /// What is done to each row before its cells are read (explode, value transforms).
    pub transform: RowTransform,
}

impl RawTable {
    pub fn new(requests: Vec<ColumnRequest>, encoding: Encoding) -> Self {
        let columns = requests
            .iter()
            .map(|r| match &r.parse {
                Parse::Interned => RawColumn::Interned { ids: Spill::default(), values: Interner::default() },
                Parse::Number | Parse::Label { .. } => RawColumn::Numbers(Spill::default()),
                Parse::Multi(_) => {
                    RawColumn::Multi { offsets: vec![0].into(), ids: Spill::default(), values: Interner::default() }
                }
            })
            .collect();
        let missing = vec![0; requests.len()];
        RawTable {
            requests,
            columns,
            missing,
            rows: 0,
            parts: Vec::new(),
            oracle: None,
            encoding,
            transform: RowTransform::default(),
        }
    }

    /// Lets the columns spill to temporary files in `dir` named after `stem`; called
    /// before the first row.
    pub fn spill_to(&mut self, dir: &Path, stem: &str) {
        for column in &mut self.columns {
            match column {
                RawColumn::Interned { ids, .. } => *ids = Spill::in_folder(dir, stem),
                RawColumn::Numbers(numbers) => *numbers = Spill::in_folder(dir, stem),
                RawColumn::Multi { offsets, ids, .. } => {
                    *offsets = Spill::in_folder(dir, stem);
                    offsets.push(0);
                    *ids = Spill::in_folder(dir, stem);
                }
            }
        }
    }

    /// Reports the first error of writing a spilled column, once every row is in.
    pub fn flush(&mut self) -> std::io::Result<()> {
        for column in &mut self.columns {
            match column {
                RawColumn::Interned { ids, .. } => ids.flush()?,
                RawColumn::Numbers(numbers) => numbers.flush()?,
                RawColumn::Multi { offsets, ids, .. } => {
                    offsets.flush()?;
                    ids.flush()?;
                }
            }
        }
        Ok(())
    }

    /// Maps each request onto the header of a file (and the virtual columns of the row
    /// transforms); a requested column that the file lacks, or has twice, is an error
    /// naming the file and the descriptor entry.
    pub fn bind(&self, header: &[String], file: &Path) -> Result<Binding, DataError> {
        let (columns, rows) = if self.transform.is_none() {
            (header.to_vec(), None)
        } else {
            let (columns, rows) = self.transform.bind(header, file)?;
            (columns, Some(rows))
        };
        let positions = self
            .requests
            .iter()
            .map(|request| find_column(&columns, &request.column, &request.needed_by, file))
            .collect::<Result<_, _>>()?;
        Ok(Binding { positions, rows })
    }

    pub fn index_of(&self, column: &str, parse: &Parse) -> Option<usize> {
        self.requests.iter().position(|r| r.column == column && r.parse == *parse)
    }

    /// Appends one row of the file (several when a column is exploded, none when its
    /// list is empty). `line` is the 1-based line in `file`, for messages.
    pub fn push<C: Cells + ?Sized>(
        &mut self,
        binding: &Binding,
        cells: &C,
        file: &Path,
        line: u64,
    ) -> Result<(), DataError> {
        let Some(rows) = &binding.rows else { return self.push_cells(&binding.positions, cells, file, line) };
        for extra in self.transform.rows(rows, cells, file, line)? {
            let row = Overlay { base: cells, width: rows.width(), extra: &extra };
            self.push_cells(&binding.positions, &row, file, line)?;
        }
        Ok(())
    }

    fn push_cells<C: Cells + ?Sized>(
        &mut self,
        positions: &[usize],
        cells: &C,
        file: &Path,
        line: u64,
    ) -> Result<(), DataError> {
        for (c, &position) in positions.iter().enumerate() {
            let cell = cells.cell(position).unwrap_or_default();
            let cell = trim_ascii(cell);
            let missing = cell.is_empty();
            self.missing[c] += missing as u64;
            // A value is checked once, when it is first seen.
            let place = || format!("column `{}`", self.requests[c].column);
            match &mut self.columns[c] {
                RawColumn::Interned { ids, values } => {
                    let id = match values.id(cell) {
                        Some(id) => id,
                        None => {
                            check_text(cell, self.encoding, file, line, place)?;
                            values.intern(cell)
                        }
                    };
                    ids.push(id);
                }
                RawColumn::Numbers(numbers) => {
                    let request = &self.requests[c];
                    let is_label = matches!(request.parse, Parse::Label { .. });
                    let value = if missing && !is_label { Some(f64::NAN) } else { parse_number(cell) };
                    let valid_label = match request.parse {
                        Parse::Label { binary: true } => value.is_some_and(|v| v == 0.0 || v == 1.0 || v == -1.0),
                        _ => true,
                    };
                    match value {
                        Some(value) if valid_label => numbers.push(value),
                        _ => {
                            let (column, value) = (request.column.clone(), decode(cell, self.encoding));
                            let file = file.to_path_buf();
                            let binary = matches!(request.parse, Parse::Label { binary: true });
                            return Err(if binary {
                                DataError::BadLabel { file, line, column, value }
                            } else if request.needed_by == "split.column" {
                                let message = format!(
                                    "column `{column}`: {value:?} is not a number: a time split sorts numbers (e.g. \
                                     epoch seconds); for times written as text give split.time_format (e.g. \
                                     \"%Y-%m-%d %H:%M:%S\")"
                                );
                                DataError::BadRow { file, line, message }
                            } else {
                                DataError::BadNumber { file, line, column, value }
                            });
                        }
                    }
                }
                RawColumn::Multi { offsets, ids, values } => {
                    let Parse::Multi(separator) = &self.requests[c].parse else {
                        unreachable!("multi column without separator")
                    };
                    if !missing {
                        for value in split_bytes(cell, separator.as_bytes()) {
                            let value = trim_ascii(value);
                            if value.is_empty() {
                                continue;
                            }
                            let id = match values.id(value) {
                                Some(id) => id,
                                None => {
                                    check_text(value, self.encoding, file, line, place)?;
                                    values.intern(value)
                                }
                            };
                            ids.push(id);
                        }
                    }
                    offsets.push(ids.len() as u32);
                }
            }
        }
        self.rows += 1;
        Ok(())
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

fn parse_number(cell: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(cell).ok()?.parse().ok()?;
    value.is_finite().then_some(value)
}

pub(crate) fn split_bytes<'a>(cell: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(cell);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.windows(separator.len()).position(|w| w == separator) {
            Some(i) => {
                rest = Some(&current[i + separator.len()..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_multi_byte_separators() {
        let parts: Vec<&[u8]> = split_bytes(b"a::b::c", b"::").collect();
        assert_eq!(parts, vec![&b"a"[..], b"b", b"c"]);
        let parts: Vec<&[u8]> = split_bytes(b"a", b"|").collect();
        assert_eq!(parts, vec![&b"a"[..]]);
    }

    #[test]
    fn interns_in_order_of_first_appearance() {
        let mut interner = Interner::default();
        assert_eq!([interner.intern(b"x"), interner.intern(b"y"), interner.intern(b"x")], [0, 1, 0]);
        assert_eq!(interner.text(1, Encoding::Utf8), "y");
    }

    #[test]
    fn latin1_decodes_every_byte() {
        assert_eq!(decode(b"Mis\xe9rables", Encoding::Latin1), "Misérables");
    }
}
