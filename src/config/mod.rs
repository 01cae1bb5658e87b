//! Configuration files written by users (dataset descriptors, workspaces, experiments):
//! TOML parsing with errors that name file, line, column and key path.

mod error;
pub mod experiment;
pub mod workspace;

pub use error::{ConfigError, parse_toml};
