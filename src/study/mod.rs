//! Studies: a grid or list of variants of one experiment, each run under several seeds,
//! read as one table with noise bands. The study file and its expansion (`file`), where
//! its runs stand in the history (`status`), running them here (`execute`) or on a
//! Slurm cluster (`slurm`), and the report (`report`). Runs are recorded exactly as
//! `apg-bench run` records them; a study finds its runs by config hash and seed.

pub mod execute;
mod file;
pub mod report;
pub mod slurm;
pub mod status;

pub use file::{DEFAULT_METRICS, Override, STUDIES_FOLDER, Study, Variant, folder_of, names};
