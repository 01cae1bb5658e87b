//! Command-line interface: clap definitions and the headless subcommands. Every
//! command is a thin caller of the engines and can print `--json`.

mod bench;
mod data;
mod inspect;
mod run;
mod runs;
mod study;
pub mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::workspace::{self, Workspace};

#[derive(Debug, Parser)]
#[command(
    name = "apg-bench",
    version,
    about = "A terminal research workbench for APG (Adaptive Parameter Generation) CTR models"
)]
pub struct Cli {
    /// The workspace to open. Default: the nearest folder from the current one upwards
    /// that holds workspace.toml, experiments/ or runs/, else workspaces/demo. `run`
    /// records its runs here (default: the experiment file's own workspace).
    #[arg(long, global = true)]
    pub workspace: Option<PathBuf>,
    /// Leave the mouse to the terminal (its own text selection) instead of clicking tabs
    /// and rows and scrolling lists with the wheel. Also APG_BENCH_NO_MOUSE=1.
    #[arg(long)]
    pub no_mouse: bool,
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
        /// The experiment file (e.g. workspaces/demo/experiments/apg-group.toml), or the name of one in
        /// the workspace's experiments/ folder (apg-group) when --workspace is given.
        experiment: PathBuf,
        /// Use this seed instead of the experiment's.
        #[arg(long)]
        seed: Option<u64>,
        /// cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`); overrides the experiment's.
        #[arg(long, value_parser = run::parse_device)]
        device: Option<crate::config::Device>,
        /// Run N times, under seeds SEED..SEED+N-1 (SEED from --seed, else the experiment's), one run folder
        /// each, then print the group's mean ± sample sd test AUC. With --json: one object with every run.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        seeds: Option<u64>,
        /// Print one JSON object (run id, folder, status, summary) on stdout at the end, and nothing else there.
        #[arg(long)]
        json: bool,
    },
    /// The workspace's run history: list, show, compare, diff, tag, note, rm, restore.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// What a finished run's APG layers generate: per condition value its S, bias and distance from the mean
    /// S, the groups' similarities, the instances' S projected to 2-D (PCA) and the share of S's variance each
    /// field explains (README, "Inspect").
    Inspect {
        /// The run: its id, or a unique prefix or suffix of it.
        run: String,
        /// Only this tower layer (0 is the first hidden layer); default: every APG layer.
        #[arg(long)]
        layer: Option<usize>,
        /// The split whose rows are scored and sampled: train, valid or test.
        #[arg(long, default_value = "test", value_parser = ["train", "valid", "test"])]
        split: String,
        /// The categorical field that colours the projection; default: the first condition field.
        #[arg(long, value_name = "FIELD")]
        colour_by: Option<String>,
        /// Rows of the split whose S is computed, evenly spaced; 0: all.
        #[arg(long, default_value_t = crate::inspect::DEFAULT_SAMPLE)]
        sample: usize,
        /// Print JSON (every number, S and bias included).
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print one tidy CSV table (layer,table,row,column,value,label): the groups' S, biases and
        /// similarity matrices, the projection's points, the fields' shares.
        #[arg(long)]
        csv: bool,
    },
    /// Studies (workspace's studies/NAME.toml): a grid or list of variants of an experiment, each under
    /// several seeds: run them (here or on Slurm), see where they stand, report one table.
    #[command(subcommand)]
    Study(study::StudyCommand),
    /// Measure training/inference throughput, GEMM peak, embedding, data and TUI speed (use a release build).
    Bench(bench::BenchArgs),
    /// Internal: one measurement in a fresh process (peak memory is its own).
    #[command(hide = true)]
    BenchChild {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
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
    let workspace = || -> anyhow::Result<PathBuf> {
        match &cli.workspace {
            Some(named) => Ok(named.clone()),
            None => Ok(workspace::discover(&std::env::current_dir()?)?),
        }
    };
    match cli.command {
        // The workbench on a terminal; the headless summary when piped or scripted.
        None if std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
            crate::tui::run(&workspace()?, crate::tui::Options { no_mouse: cli.no_mouse })?;
            Ok(ExitCode::SUCCESS)
        }
        None => demo(&workspace()?),
        Some(Command::Data(DataCommand::Inspect { dataset, field, json, no_cache })) => {
            data::inspect(&dataset, field.as_deref(), json, no_cache)
        }
        Some(Command::Data(DataCommand::Fetch { name, dir, mirror, sha256, force })) => {
            data::fetch(&name, &dir, mirror, sha256, force)
        }
        Some(Command::Run { experiment, seed, device, seeds, json }) => {
            let target = run::Target::resolve(&experiment, cli.workspace.as_deref())?;
            match seeds {
                None => run::run(&target, seed, device, json),
                Some(count) => run::run_seeds(&target, seed, count, device, json),
            }
        }
        Some(Command::Runs(command)) => runs::run(&workspace()?, command),
        Some(Command::Inspect { run, layer, split, colour_by, sample, json, csv }) => {
            let options = crate::inspect::Options { layer, split, colour_by, sample };
            inspect::run(&workspace()?, &run, &options, json, csv)
        }
        Some(Command::Study(command)) => study::run(&workspace()?, command),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::BenchChild { args }) => {
            crate::bench::child::main(&args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Without a terminal: the workspace's dataset, inspected.
fn demo(workspace: &std::path::Path) -> anyhow::Result<ExitCode> {
    let workspace = Workspace::open(workspace)?;
    println!("apg-bench {} — workspace `{}` ({})", env!("CARGO_PKG_VERSION"), workspace.name, workspace.root.display());
    println!("Not on a terminal, so no TUI: the dataset this workspace trains on.\n");
    data::inspect(&workspace.dataset_reference(), None, false, false)
}
