//! apg-bench: a terminal research workbench for APG (Adaptive Parameter Generation)
//! CTR models. The engines (data, model, training, runs) know nothing of the terminal;
//! the headless commands in `cli` and the TUI are thin front ends over them. The module
//! stack, threads and run folders: docs/architecture.md; the models: docs/model.md.

pub mod bench;
pub mod cli;
pub mod config;
pub mod data;
pub mod fault_point;
pub mod format;
pub mod inspect;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod process;
pub mod runs;
pub mod study;
pub mod toml_error;
pub mod train;
pub mod tui;
