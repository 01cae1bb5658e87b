//! Configuration files written by users (workspaces, experiments), validated against
//! their dataset, the edits the TUI makes to experiment files, and the watcher that
//! hot-reloads them (and the dataset descriptors). TOML parsing and its file:line:col
//! errors live in [`crate::toml_error`], below `data`.

pub mod device;
pub mod edit;
pub mod experiment;
pub mod watch;
pub mod workspace;

pub use crate::toml_error::{ConfigError, parse_toml};
pub use device::Device;
