//! Command-line interface: clap definitions and the headless subcommands. Every
//! command is a thin caller of the engines and can print `--json`.

mod data;
mod run;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::workspace::Workspace;

#[derive(Debug, Parser)]
#[command(
    name = "apg-bench",
    version,
    about = "A terminal research workbench for APG (Adaptive Parameter Generation) CTR models"
)]
pub struct Cli {
    /// The workspace to open.
    #[arg(long, global = true, default_value = "workspaces/demo")]
    pub workspace: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and fetch datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train one experiment headless and record it in the workspace's runs/ folder.
    Run {
        /// The experiment file (e.g. workspaces/demo/experiments/baseline.toml).
        experiment: PathBuf,
        /// Use this seed instead of the experiment's.
        #[arg(long)]
        seed: Option<u64>,
        /// cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`); overrides the experiment's.
        #[arg(long, value_parser = run::parse_device)]
        device: Option<String>,
        /// Print one JSON object (run id, folder, status, summary) on stdout at the end, and nothing else there.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Statistics of a dataset: splits, fields, condition candidates.
    Inspect {
        /// A descriptor file (datasets/x.toml) or a built-in name (synthetic-multidomain, movielens-100k, frappe, example-csv).
        dataset: String,
        /// Show every value of one field (and its numbers as a condition).
        #[arg(long)]
        field: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Ignore and do not write the encoded-data cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// Download a public dataset into datasets/NAME/ and check its checksum.
    Fetch {
        /// movielens-100k, movielens-1m or frappe.
        name: String,
        /// Folder the dataset folder is created in.
        #[arg(long, default_value = "datasets")]
        dir: PathBuf,
        /// Fetch from this base URL instead of the publisher's (same file names).
        #[arg(long)]
        mirror: Option<String>,
        /// Expected SHA-256 of the (single) file, e.g. for a mirror's copy.
        #[arg(long)]
        sha256: Option<String>,
        /// Fetch again even if the folder exists.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => demo(&cli.workspace),
        Some(Command::Data(DataCommand::Inspect { dataset, field, json, no_cache })) => {
            data::inspect(&dataset, field.as_deref(), json, no_cache)
        }
        Some(Command::Data(DataCommand::Fetch { name, dir, mirror, sha256, force })) => {
            data::fetch(&name, &dir, mirror, sha256, force)
        }
        Some(Command::Run { experiment, seed, device, json }) => run::run(&experiment, seed, device, json),
    }
}

/// The main job until the TUI exists: the workspace's dataset, inspected.
fn demo(workspace: &std::path::Path) -> anyhow::Result<ExitCode> {
    let workspace = Workspace::open(workspace)?;
    println!("apg-bench {} — workspace `{}` ({})", env!("CARGO_PKG_VERSION"), workspace.name, workspace.root.display());
    println!("Headless demo: the dataset this workspace trains on. (The interactive TUI is not built yet.)\n");
    data::inspect(&workspace.dataset_reference(), None, false, false)
}
