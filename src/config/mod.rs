//! Configuration files written by users (dataset descriptors, workspaces, experiments):
//! TOML parsing with errors that name file, line, column and key path, and the watcher
//! that hot-reloads them.

pub mod experiment;
pub mod watch;
pub mod workspace;

pub use crate::toml_error::{ConfigError, parse_toml};
