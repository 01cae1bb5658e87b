//! Loaders, one per source format; each fills a [`RawTable`] from the files a
//! descriptor names. [`source_files`] lists those files for fingerprinting.

mod csv;
mod file;
mod libfm;
mod movielens;
mod parquet;

use std::path::{Path, PathBuf};

use crate::data::DataError;
use crate::data::descriptor::{Encoding, Format, LoadedDescriptor, SplitKind};
use crate::data::raw::{ColumnRequest, Part, RawTable};
use crate::data::synthetic;
use crate::data::transform::RowTransform;
use file::open;

/// A file to read, the split part it feeds (for file splits) and the key naming it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub part: Option<Part>,
    pub needed_by: String,
}

/// Every file the dataset is read from, checked to exist.
pub fn source_files(descriptor: &LoadedDescriptor) -> Result<Vec<SourceFile>, DataError> {
    let d = &descriptor.descriptor;
    if d.source.format == Format::Synthetic {
        return Ok(Vec::new());
    }
    let dir = descriptor.data_dir()?;
    let mut files = Vec::new();
    let mut patterns = Vec::new();
    let mut add = |name: &str, part: Option<Part>, needed_by: &str| {
        if is_pattern(name) {
            patterns.push((files.len(), part, needed_by.to_string()));
        }
        files.push(SourceFile { path: dir.join(name), part, needed_by: needed_by.to_string() });
    };
    match d.source.format {
        Format::Movielens100k => {
            for name in movielens::FILES {
                add(name, None, "source.format = \"movielens-100k\"");
            }
        }
        Format::Csv | Format::Libfm | Format::Parquet if d.split.kind == SplitKind::Files => {
            let split = &d.split;
            let parts = [
                (&split.train, Part::Train, "split.train"),
                (&split.valid, Part::Valid, "split.valid"),
                (&split.test, Part::Test, "split.test"),
            ];
            for (name, part, key) in parts {
                if let Some(name) = name {
                    add(name, Some(part), key);
                }
            }
        }
        Format::Csv | Format::Libfm | Format::Parquet => {
            add(d.source.path.as_deref().unwrap_or_default(), None, "source.path")
        }
        Format::Synthetic => unreachable!("handled above"),
    }
    // A pattern stands for the files it matches, in the order of their names.
    for (index, part, needed_by) in patterns.into_iter().rev() {
        let pattern = files[index].path.clone();
        let matched = glob_files(&dir, &pattern).map_err(|e| DataError::io(&pattern, e))?;
        if matched.is_empty() {
            let needed_by = format!("{needed_by} in {}", descriptor.file.display());
            return Err(DataError::NoMatch { pattern, needed_by });
        }
        let matched = matched.into_iter().map(|path| SourceFile { path, part, needed_by: needed_by.clone() });
        files.splice(index..=index, matched);
    }
    for file in &files {
        if !file.path.is_file() {
            return Err(DataError::MissingFile {
                path: file.path.clone(),
                needed_by: format!("{} in {}", file.needed_by, descriptor.file.display()),
            });
        }
    }
    Ok(files)
}

/// Reads the dataset's source into a raw table holding the requested columns; with
/// `spill` (a folder and a file stem) its columns spill to temporary files there.
pub fn load_raw(
    descriptor: &LoadedDescriptor,
    files: &[SourceFile],
    requests: Vec<ColumnRequest>,
    spill: Option<(&Path, &str)>,
) -> Result<RawTable, DataError> {
    let d = &descriptor.descriptor;
    // The MovieLens-100K files are latin-1 as published, whatever the descriptor says.
    let encoding = if d.source.format == Format::Movielens100k { Encoding::Latin1 } else { d.source.encoding };
    let mut table = RawTable::new(requests, encoding);
    table.transform = RowTransform::new(descriptor)?;
    if let Some((dir, stem)) = spill {
        table.spill_to(dir, stem);
    }
    match d.source.format {
        Format::Synthetic => {
            let spec =
                d.synthetic.as_ref().ok_or_else(|| descriptor.error("synthetic", "missing [synthetic] table"))?;
            synthetic::generate(spec, &mut table)?;
        }
        Format::Movielens100k => movielens::load(files, &mut table)?,
        Format::Csv | Format::Libfm | Format::Parquet => {
            let mut libfm_width = None;
            for file in files {
                let before = table.rows;
                match d.source.format {
                    Format::Csv => csv::load(&d.source, &file.path, &mut table)?,
                    Format::Parquet => parquet::load(&file.path, &mut table)?,
                    _ => libfm::load(&file.path, &mut table, &mut libfm_width)?,
                }
                if let Some(part) = file.part {
                    table.parts.resize(table.rows, part);
                }
                if table.rows == before {
                    return Err(DataError::Invalid {
                        dataset: d.name.clone(),
                        message: format!("{} holds no rows", file.path.display()),
                    });
                }
            }
        }
    }
    Ok(table)
}

/// Whether a file name is a glob pattern (`*`, `?` or `[`).
fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// The regular files matching `pattern` (a path under `dir`, whose own name is taken
/// literally), sorted by path.
fn glob_files(dir: &std::path::Path, pattern: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    let relative = pattern.strip_prefix(dir).unwrap_or(pattern).to_string_lossy().into_owned();
    let full = format!("{}/{relative}", glob::Pattern::escape(&dir.to_string_lossy()));
    let mut found = Vec::new();
    for entry in glob::glob(&full).map_err(|e| format!("not a valid file pattern: {e}"))? {
        let path = entry.map_err(|e| e.to_string())?;
        if path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
