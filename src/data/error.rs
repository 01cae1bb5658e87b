//! Errors of loading data: every message names the file and, where it applies, the
//! line and column of the data, or the descriptor key that asked for it.

use std::path::PathBuf;

use crate::toml_error::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },

    #[error("dataset `{dataset}`: no data folder found (looked in: {}); {}edit source.dir in {}", tried.join(", "), if *fetchable { format!("run `apg-bench data fetch {dataset}` or ") } else { String::new() }, descriptor.display())]
    NoDataDir { dataset: String, descriptor: PathBuf, tried: Vec<String>, fetchable: bool },

    #[error("{}: missing file (needed by {needed_by})", path.display())]
    MissingFile { path: PathBuf, needed_by: String },

    #[error("{}: no file matches this pattern (needed by {needed_by})", pattern.display())]
    NoMatch { pattern: PathBuf, needed_by: String },

    #[error("{}:{line}: no column `{column}` (needed by {needed_by}); the columns are: {}", file.display(), available.join(", "))]
    MissingColumn { file: PathBuf, line: u64, column: String, needed_by: String, available: Vec<String> },

    #[error("{}:{line}: column `{column}` appears twice in the header, as columns {first} and {second} (needed by {needed_by}): rename one of them", file.display())]
    DuplicateColumn { file: PathBuf, line: u64, column: String, first: usize, second: usize, needed_by: String },

    #[error("{}:{line}: {place}: \"{value}\" is not valid UTF-8 (byte {offset} of the value); source.encoding is \"utf-8\": if the file is latin-1, say encoding = \"latin-1\", else convert it to UTF-8", file.display())]
    NotUtf8 { file: PathBuf, line: u64, place: String, value: String, offset: usize },

    #[error("{}:{line}: {found} values but the header has {expected} columns", file.display())]
    RowWidth { file: PathBuf, line: u64, expected: usize, found: usize },

    #[error("{}:{line}: column `{column}`: {value:?} is not a number", file.display())]
    BadNumber { file: PathBuf, line: u64, column: String, value: String },

    #[error("{}:{line}: column `{column}`: label {value:?} is not 0/1 or -1/+1 (set label.threshold to binarise other values)", file.display())]
    BadLabel { file: PathBuf, line: u64, column: String, value: String },

    #[error("{}:{line}: {message}", file.display())]
    BadRow { file: PathBuf, line: u64, message: String },

    #[error("dataset `{dataset}`: {message}")]
    Invalid { dataset: String, message: String },
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>, error: impl std::fmt::Display) -> Self {
        DataError::Io { path: path.into(), message: error.to_string() }
    }
}
