//! `apg-bench bench`: runs the measurements of `crate::bench` and prints them as a
//! table, or as JSON with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::bench::{self, Figure, Options, Report, SECTIONS};
use crate::cli::table::Table;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print the report as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Fewer repetitions, steps and models: a quick look at every section.
    #[arg(long)]
    pub quick: bool,
    /// Threads of the matrix kernels, 1 to 1024 (default: all cores).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Only these sections (comma separated): gemm, model, embedding, data, runs, tui, memory.
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(SECTIONS))]
    pub only: Vec<String>,
    /// Only these models in the model section (comma separated), e.g. mlp,apg-v5-group or paper/mlp.
    #[arg(long, value_delimiter = ',')]
    pub model: Vec<String>,
    /// Only training or only inference figures in the model section.
    #[arg(long, value_parser = ["train", "infer"])]
    pub what: Option<String>,
    /// Batch sizes of the model section (comma separated, 1 to 100000; default 1024,4096).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: Vec<u32>,
    /// The shared datasets folder, for the ml-100k figures (default: $APG_BENCH_DATA).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Rows of the Criteo-shaped CSV of the data section (default 2000000, 200000 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1000..=1_000_000_000))]
    pub criteo_rows: Option<u64>,
}

/// Bounded when the arguments are read: every measurement starts a thread pool of this
/// size, and an absurd count would start threads until the process runs out of them.
fn parse_threads(text: &str) -> Result<usize, String> {
    let threads: usize = text.parse().map_err(|_| format!("{text:?} is not a whole number"))?;
    if threads == 0 {
        return Err("give at least 1 thread (leave --threads out for one per core)".into());
    }
    crate::limits::check_threads(threads)?;
    Ok(threads)
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; dfdx is ~100x slower: use `cargo run --release -- bench`");
    }
    let scratch = std::env::temp_dir().join(format!("apg-bench-bench-{}", std::process::id()));
    let options = Options {
        quick: args.quick,
        threads,
        only: args.only,
        models: args.model,
        what: args.what,
        batches: args.batch.into_iter().map(|b| b as usize).collect(),
        data_dir: args.data_dir.or_else(|| std::env::var_os("APG_BENCH_DATA").map(PathBuf::from)),
        scratch: scratch.clone(),
        criteo_rows: args.criteo_rows.map(|r| r as usize),
    };
    let json = args.json;
    let mut progress = |figure: &Figure| {
        let line = format!("  {:<58} {:>14} {}", figure.label, crate::format::figure(figure.value), figure.unit);
        eprintln!("{line}{}", figure.note.as_ref().map(|n| format!("  ({n})")).unwrap_or_default());
    };
    eprintln!("apg-bench bench: {threads} thread(s){}", if options.quick { ", quick" } else { "" });
    let report = bench::run(&options, &mut progress);
    let _ = std::fs::remove_dir_all(&scratch);
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(report: &Report) {
    let m = &report.machine;
    println!("{} — {} logical CPU(s), {} thread(s), {} build\n", m.cpu, m.logical_cpus, m.threads, m.build);
    let mut table = Table::new(&["section", "figure", "value", "unit", "note"]);
    for f in &report.figures {
        table.row(vec![
            f.section.to_string(),
            f.label.clone(),
            crate::format::figure(f.value),
            f.unit.to_string(),
            f.note.clone().unwrap_or_default(),
        ]);
    }
    print!("{}", table.render());
    for s in &report.skipped {
        println!("skipped: {} {}: {}", s.section, s.what, s.why);
    }
}
