//! The native MovieLens-100K files, joined into one table of ratings:
//! u.data (TAB) with u.user and u.item (`|`, latin-1) and the genre names of u.genre.
//! Columns: user, item, rating, timestamp, age, gender, occupation, zip, zip_prefix,
//! title, release_date, release_year, genres (`|`-separated names).

use std::io::BufRead;
use std::path::Path;

use rustc_hash::FxHashMap;

use crate::data::DataError;
use crate::data::load::SourceFile;
use crate::data::raw::RawTable;

pub const FILES: [&str; 4] = ["u.data", "u.user", "u.item", "u.genre"];

const COLUMNS: [&str; 13] = [
    "user",
    "item",
    "rating",
    "timestamp",
    "age",
    "gender",
    "occupation",
    "zip",
    "zip_prefix",
    "title",
    "release_date",
    "release_year",
    "genres",
];

/// Lines of a file split on `separator`, with 1-based line numbers; blank lines skipped.
/// A line number with the line's cells.
type Line = (u64, Vec<Vec<u8>>);

fn rows(path: &Path, separator: u8) -> Result<Vec<Line>, DataError> {
    let mut out = Vec::new();
    for (index, line) in super::open(path)?.split(b'\n').enumerate() {
        let line = line.map_err(|e| DataError::io(path, e))?;
        let line = line.trim_ascii_end();
        if !line.is_empty() {
            out.push((index as u64 + 1, line.split(|&b| b == separator).map(<[u8]>::to_vec).collect()));
        }
    }
    Ok(out)
}

fn expect_width(path: &Path, line: u64, cells: &[Vec<u8>], width: usize) -> Result<(), DataError> {
    if cells.len() == width {
        Ok(())
    } else {
        let message = format!("{} `|`-separated values, expected {width}", cells.len());
        Err(DataError::BadRow { file: path.to_path_buf(), line, message })
    }
}

pub fn load(files: &[SourceFile], table: &mut RawTable) -> Result<(), DataError> {
    let path_of =
        |name: &str| files.iter().find(|f| f.path.ends_with(name)).map(|f| f.path.clone()).unwrap_or_default();
    let (data_path, user_path, item_path, genre_path) =
        (path_of("u.data"), path_of("u.user"), path_of("u.item"), path_of("u.genre"));

    let genres: Vec<Vec<u8>> =
        rows(&genre_path, b'|')?.into_iter().map(|(_, mut cells)| cells.swap_remove(0)).collect();

    let mut users: FxHashMap<Vec<u8>, [Vec<u8>; 5]> = FxHashMap::default();
    for (line, cells) in rows(&user_path, b'|')? {
        expect_width(&user_path, line, &cells, 5)?;
        let [id, age, gender, occupation, zip]: [Vec<u8>; 5] = cells.try_into().expect("width checked");
        let prefix = zip.iter().take(2).copied().collect();
        users.insert(id, [age, gender, occupation, zip, prefix]);
    }

    let mut items: FxHashMap<Vec<u8>, [Vec<u8>; 4]> = FxHashMap::default();
    for (line, cells) in rows(&item_path, b'|')? {
        expect_width(&item_path, line, &cells, 5 + genres.len())?;
        let flags = &cells[5..];
        let mut names = Vec::new();
        for (flag, name) in flags.iter().zip(&genres) {
            if flag.as_slice() == b"1" {
                if !names.is_empty() {
                    names.push(b'|');
                }
                names.extend_from_slice(name);
            }
        }
        let date = cells[2].clone();
        let year = if date.len() >= 4 { date[date.len() - 4..].to_vec() } else { Vec::new() };
        items.insert(cells[0].clone(), [cells[1].clone(), date, year, names]);
    }

    let header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let binding = table.bind(&header, &data_path)?;
    for (index, line) in super::open(&data_path)?.split(b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let line = line.map_err(|e| DataError::io(&data_path, e))?;
        if line.trim_ascii().is_empty() {
            continue;
        }
        let cells: Vec<&[u8]> = line.trim_ascii_end().split(|&b| b == b'\t').collect();
        if cells.len() != 4 {
            return Err(DataError::BadRow {
                file: data_path.clone(),
                line: line_number,
                message: format!("{} tab-separated values, expected 4 (user, item, rating, timestamp)", cells.len()),
            });
        }
        let missing = |what: &str, id: &[u8], file: &Path| DataError::BadRow {
            file: data_path.clone(),
            line: line_number,
            message: format!("{what} {} is not in {}", String::from_utf8_lossy(id), file.display()),
        };
        let user = users.get(cells[0]).ok_or_else(|| missing("user", cells[0], &user_path))?;
        let item = items.get(cells[1]).ok_or_else(|| missing("item", cells[1], &item_path))?;
        let row: [&[u8]; 13] = [
            cells[0], cells[1], cells[2], cells[3], &user[0], &user[1], &user[2], &user[3], &user[4], &item[0],
            &item[1], &item[2], &item[3],
        ];
        table.push(&binding, &row[..], &data_path, line_number)?;
    }
    Ok(())
}
