//! `runs list|show|compare|diff|tag|note|rm|restore`: the run history, headless. Thin
//! callers of the engine in `crate::runs`, each with human output or `--json`.

use std::path::Path;
use std::process::ExitCode;

use clap::{ArgGroup, Subcommand};
use serde_json::json;

use crate::cli::run::render_summary;
use crate::cli::table::Table;
use crate::format::{Format, duration, rate, thousands};
use crate::runs::columns::keys_help;
use crate::runs::compare::{Align, CompareOptions, Comparison, Curve, EntryKind, compare, delta_words, mean_sd};
use crate::runs::diff::{config_diff, read_flat_config};
use crate::runs::export::{csv, markdown};
use crate::runs::filter::{Filter, SortKey};
use crate::runs::groups::{Group, NOISE_RULE, groups};
use crate::runs::history::History;
use crate::runs::{CHECKPOINT_FILE, Run, RunRow, edit};

/// Rows of the compact curve tables.
const CURVE_ROWS: usize = 8;

const FILTER_HELP: &str = "\
Filter: comparisons KEY OP VALUE with OP one of = != < <= > >=, joined by `and` / `or`
(and binds tighter) and grouped with parentheses; VALUE is a number, a 'quoted' or
\"quoted\" string, or a bare word. A run without the key's value (no test AUC yet, the
condition of a static model) never matches. On tags and condition fields, = means
\"one of them is\" and != \"none of them is\".
  apg-bench runs list --filter 'auc > 0.78 and condition.mode = group'
  apg-bench runs list --filter 'tag = keep or (variant = v5 and seed <= 2)' --sort -auc

Sort: --sort KEY ascending, --sort -KEY descending (runs without a value last).";

fn list_help() -> String {
    format!("{FILTER_HELP}\n\n{}", keys_help())
}

const COMPARE_HELP: &str = "\
Entries: each RUN is a run id or a unique prefix or suffix of one. With --group, each names
a group of repeats (the runs sharing a config hash, i.e. the same configuration under
different seeds): by an experiment name whose runs share one configuration, by a prefix
(4+ hex digits) of the config hash, or by any run of the group. A group's numbers are the
mean ± sample standard deviation over its finished runs.

Deltas and RelaImpr are taken against the baseline (the first entry unless --baseline).";

fn compare_help() -> String {
    format!("{COMPARE_HELP}\n\nNoise rule: {NOISE_RULE}.")
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The runs of the workspace as a table, filtered and sorted.
    #[command(after_long_help = list_help())]
    List {
        /// Keep the runs the expression holds for, e.g. 'auc > 0.78 and condition.mode = group' (see --help).
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Order by KEY, or by -KEY descending (default: start time).
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        sort: Option<String>,
        /// Show groups of repeats (runs of one configuration) with mean ± sd instead of runs.
        #[arg(long)]
        groups: bool,
        /// List the runs in the trash instead.
        #[arg(long)]
        trash: bool,
        /// Print JSON (runs, groups, problems) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run in full: manifest, metrics, per-group table, curves, problems.
    Show {
        /// Run id, or a unique prefix or suffix of one.
        run: String,
        #[arg(long)]
        json: bool,
    },
    /// Runs or groups of repeats side by side, with deltas against a baseline.
    #[command(after_long_help = compare_help(), group(ArgGroup::new("format").args(["md", "csv", "json"])))]
    Compare {
        /// Runs (or, with --group, groups) to compare.
        #[arg(required = true, value_name = "RUN")]
        runs: Vec<String>,
        /// The entry to take deltas against (default: the first); added if not listed.
        #[arg(long, value_name = "RUN")]
        baseline: Option<String>,
        /// Compare groups of repeats: each RUN names a group (see --help).
        #[arg(long)]
        group: bool,
        /// Align curves by `step` or `epoch`.
        #[arg(long, default_value = "step", value_parser = ["step", "epoch"])]
        align: String,
        /// Compare runs trained on different data (another dataset, or one whose files changed), which is
        /// refused otherwise; the output then warns first.
        #[arg(long)]
        force: bool,
        /// Print Markdown.
        #[arg(long)]
        md: bool,
        /// Print CSV: one row per entry and metric.
        #[arg(long)]
        csv: bool,
        /// Print JSON, curves included.
        #[arg(long)]
        json: bool,
    },
    /// The config keys that differ between two runs, and their metrics.
    Diff {
        run_a: String,
        run_b: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a tag to a run (stored in its run.toml).
    Tag {
        run: String,
        tag: String,
        /// Remove the tag instead.
        #[arg(long)]
        remove: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a run's note (stored in its run.toml); an empty TEXT clears it.
    Note {
        run: String,
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Move a run to the workspace's trash folder (.trash/), from which `runs restore` brings it back.
    Rm {
        run: String,
        #[arg(long)]
        json: bool,
    },
    /// Bring a run back from the trash.
    Restore {
        run: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(workspace: &Path, command: RunsCommand) -> anyhow::Result<ExitCode> {
    match command {
        RunsCommand::List { filter, sort, groups, trash, json } => {
            list(workspace, filter.as_deref(), sort.as_deref(), groups, trash, json)
        }
        RunsCommand::Show { run, json } => show(workspace, &run, json),
        RunsCommand::Compare { runs, baseline, group, align, force, md, csv, json } => {
            let align = if align == "epoch" { Align::Epoch } else { Align::Step };
            let options = CompareOptions { groups: group, baseline, align, force };
            let format = match (md, csv, json) {
                (true, _, _) => Output::Markdown,
                (_, true, _) => Output::Csv,
                (_, _, true) => Output::Json,
                _ => Output::Text,
            };
            compare_command(workspace, &runs, &options, format)
        }
        RunsCommand::Diff { run_a, run_b, json } => diff(workspace, &run_a, &run_b, json),
        RunsCommand::Tag { run, tag, remove, json } => {
            let manifest = edit::tag(workspace, &run, &tag, remove)?;
            let tags = if manifest.tags.is_empty() { "none".into() } else { manifest.tags.join(", ") };
            report(json, json!({ "run": manifest.id, "tags": manifest.tags }), format!("{}: tags {tags}", manifest.id))
        }
        RunsCommand::Note { run, text, json } => {
            let manifest = edit::note(workspace, &run, &text)?;
            let line = if manifest.note.is_empty() {
                format!("{}: note cleared", manifest.id)
            } else {
                format!("{}: note set", manifest.id)
            };
            report(json, json!({ "run": manifest.id, "note": manifest.note }), line)
        }
        RunsCommand::Rm { run, json } => {
            let to = edit::trash(workspace, &run)?;
            let id = to.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let line = format!("moved {id} to {} (bring it back with `apg-bench runs restore {id}`)", to.display());
            report(json, json!({ "run": id, "moved_to": to }), line)
        }
        RunsCommand::Restore { run, json } => {
            let to = edit::restore(workspace, &run)?;
            let id = to.file_name().unwrap_or_default().to_string_lossy().into_owned();
            report(json, json!({ "run": id, "moved_to": to }), format!("restored {id} to {}", to.display()))
        }
    }
}

fn report(json: bool, value: serde_json::Value, line: String) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Problems go to stderr, so that stdout stays a table or JSON.
fn warn<'a>(problems: impl IntoIterator<Item = &'a crate::runs::Problem>) {
    for problem in problems {
        eprintln!("warning: {problem}");
    }
}

fn list(
    workspace: &Path,
    filter: Option<&str>,
    sort: Option<&str>,
    show_groups: bool,
    trash: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let filter = filter.map(Filter::parse).transpose()?;
    let sort = sort.map(SortKey::parse).transpose()?;
    let mut history = if trash { History::load_trash(workspace)? } else { History::load(workspace)? };
    let total = history.runs.len();
    history.runs.retain(|run| filter.as_ref().is_none_or(|f| f.matches(&run.row)));
    match &sort {
        Some(key) => history.runs.sort_by(|a, b| key.compare(&a.row, &b.row)),
        None => history.runs.sort_by(|a, b| a.row.started.cmp(&b.row.started).then_with(|| a.row.id.cmp(&b.row.id))),
    }
    let groups = groups(&history);
    if json {
        let rows: Vec<&RunRow> = history.runs.iter().map(|r| &r.row).collect();
        let problems: Vec<_> = history.all_problems().collect();
        let value = json!({ "total": total, "runs": rows, "groups": groups, "problems": problems });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    if show_groups {
        print!("{}", groups_table(&groups));
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let (g, r) = (groups.len(), history.runs.len());
        println!("{g} group{} of {r} run{} ({total} in the history)", plural(g), plural(r));
    } else {
        print!("{}", runs_table(history.runs.iter().map(|r| &r.row)));
        println!("{} of {total} runs", history.runs.len());
    }
    warn(history.all_problems());
    Ok(ExitCode::SUCCESS)
}

fn runs_table<'a>(rows: impl Iterator<Item = &'a RunRow>) -> String {
    let mut table = Table::new(&[
        "id",
        "status",
        "experiment",
        "model",
        "seed>",
        "valid AUC>",
        "@step>",
        "test AUC>",
        "logloss>",
        "GAUC>",
        "params>",
        "samples/s>",
        "wall>",
        "tags",
    ]);
    let metric = |v: Option<f64>| Format::Metric.maybe(v);
    for r in rows {
        table.row(vec![
            r.id.clone(),
            r.status.name().to_string(),
            r.experiment.clone(),
            r.model_label(),
            r.seed.to_string(),
            metric(r.best_valid_auc),
            step_column(r),
            metric(r.test_auc),
            metric(r.test_logloss),
            metric(r.test_gauc),
            r.params.map_or("-".into(), |p| thousands(p as u64)),
            r.samples_per_s.map_or("-".into(), rate),
            r.wall_s.map_or("-".into(), duration),
            r.tags.join(","),
        ]);
    }
    table.render()
}

/// The best step, and the checkpoint's when it holds another (`880 (saved 800)`).
fn step_column(r: &RunRow) -> String {
    match (r.best_step, r.checkpoint_step) {
        (None, _) => "-".into(),
        (Some(best), Some(saved)) if saved != best => format!("{best} (saved {saved})"),
        (Some(best), _) => best.to_string(),
    }
}

fn groups_table(groups: &[Group]) -> String {
    let mut table =
        Table::new(&["group", "config hash", "runs>", "seeds", "test AUC>", "test logloss>", "best valid AUC>"]);
    let stat = |s: &Option<crate::runs::groups::Stat>| s.as_ref().map_or("-".into(), |s| mean_sd(Format::Metric, s));
    for g in groups {
        table.row(vec![
            g.label.clone(),
            g.config_hash.clone(),
            format!("{}/{}", g.members.len(), g.runs.len()),
            g.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
            stat(&g.test_auc),
            stat(&g.test_logloss),
            stat(&g.best_valid_auc),
        ]);
    }
    table.render()
}

fn show(workspace: &Path, query: &str, json: bool) -> anyhow::Result<ExitCode> {
    let history = History::load(workspace)?;
    let run = history.resolve(query)?;
    let comparison = compare(&history, &[run.id().to_string()], &CompareOptions::default())?;
    let repeats: Vec<&Run> = history.repeats_of(run).collect();
    if json {
        let value = json!({
            "run": run.row,
            "manifest": run.manifest,
            "summary": run.summary,
            "repeats": repeats.iter().map(|r| r.id()).collect::<Vec<_>>(),
            "train_loss": comparison.train_loss,
            "valid_auc": comparison.valid_auc,
            "problems": run.problems,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let m = &run.manifest;
    let r = &run.row;
    let seeds: Vec<String> = repeats.iter().map(|r| r.manifest.seed.to_string()).collect();
    let mut lines = vec![
        ("experiment", format!("{} ({})", m.experiment, m.experiment_path.display())),
        ("model", if r.base_model.is_some() { r.model_label() } else { "- (no readable config.toml)".into() }),
        ("seed", m.seed.to_string()),
        ("config", format!("{} ({} run(s) of it, seeds {})", m.config_hash, repeats.len(), seeds.join(", "))),
        ("device", format!("{} on {}, apg-bench {}", m.device, m.host, m.version)),
        ("started", m.started.clone()),
        ("ended", m.ended.clone().unwrap_or_else(|| "-".into())),
        ("wall", r.wall_s.map_or("-".into(), duration)),
        ("checkpoint", checkpoint_line(run)),
    ];
    if !m.tags.is_empty() {
        lines.push(("tags", m.tags.join(", ")));
    }
    if !m.note.is_empty() {
        lines.push(("note", m.note.clone()));
    }
    for (label, value) in lines {
        println!("{label:<11} {value}");
    }
    print!("{}", render_summary(m, run.summary.as_ref(), &run.dir.display().to_string()));
    if run.summary.is_none() && (r.best_valid_auc.is_some() || r.test_auc.is_some()) {
        let step = r.best_step.map(|s| format!(" (step {s})")).unwrap_or_default();
        println!(
            "no summary.json; from metrics.jsonl: best valid AUC {}{step}, test AUC {}",
            Format::Metric.maybe(r.best_valid_auc),
            Format::Metric.maybe(r.test_auc)
        );
    }
    print!("{}", curves_text(&comparison));
    warn(&run.problems);
    Ok(ExitCode::SUCCESS)
}

/// What model.safetensors holds, and whether it is the best model the metrics name.
fn checkpoint_line(run: &Run) -> String {
    let r = &run.row;
    match (r.checkpoint_step, r.best_step) {
        (Some(saved), Some(best)) if saved != best => {
            format!("the model of step {saved}, NOT of the best step {best}: the run ended before it saved that one")
        }
        (Some(saved), _) => format!("the model of step {saved}"),
        (None, _) if run.dir.join(CHECKPOINT_FILE).is_file() => "a model of an unrecorded step".into(),
        (None, _) => "none".into(),
    }
}

enum Output {
    Text,
    Markdown,
    Csv,
    Json,
}

fn compare_command(
    workspace: &Path,
    queries: &[String],
    options: &CompareOptions,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let history = History::load(workspace)?;
    let c = compare(&history, queries, options)?;
    match output {
        Output::Markdown => print!("{}", markdown(&c)),
        Output::Csv => print!("{}", csv(&c)?),
        Output::Json => println!("{}", serde_json::to_string_pretty(&c)?),
        Output::Text => print!("{}", comparison_text(&c)),
    }
    if c.data_differs && matches!(output, Output::Csv | Output::Json) {
        // Those formats carry no notes a reader would see.
        eprintln!("warning: these runs trained on different data (forced): deltas mix data and models");
    }
    let involved: Vec<&str> = c.entries.iter().flat_map(|e| e.runs.iter().map(String::as_str)).collect();
    warn(history.runs.iter().filter(|r| involved.contains(&r.id())).flat_map(|r| &r.problems));
    Ok(ExitCode::SUCCESS)
}

fn comparison_text(c: &Comparison) -> String {
    let mut out = String::new();
    let width = c.entries.iter().map(|e| e.label.chars().count()).max().unwrap_or(0);
    for (i, e) in c.entries.iter().enumerate() {
        let role = if i == c.baseline { "baseline" } else { "" };
        let seeds = e.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let what = match e.kind {
            EntryKind::Run => format!("run, seed {seeds}"),
            EntryKind::Group => format!("group of {} finished runs, seeds {seeds}", e.runs.len()),
        };
        out += &format!("{role:<8} {:<width$}  {what}\n", e.label);
    }
    let labels: Vec<String> = c.entries.iter().map(|e| e.label.clone()).collect();
    let metric_table = |title: &str, rows: &[crate::runs::compare::MetricRow]| {
        let header: Vec<&str> = std::iter::once(title).chain(labels.iter().map(String::as_str)).collect();
        let mut table = Table::new(&header);
        for row in rows {
            let values = row.cells.iter().map(|cell| cell.stat.as_ref().map_or("-".into(), |s| mean_sd(row.format, s)));
            table.row(std::iter::once(row.label.clone()).chain(values).collect());
            let deltas: Vec<String> =
                row.cells.iter().map(|cell| delta_words(row.format, cell).unwrap_or_default()).collect();
            if deltas.iter().any(|d| !d.is_empty()) {
                table.row(std::iter::once(String::new()).chain(deltas).collect());
            }
        }
        table.render()
    };
    out += &format!("\n{}", metric_table("metric", &c.metrics));
    if !c.groups.is_empty() {
        out += &format!("\n{}", metric_table("test AUC per group", &c.groups));
    }
    if !c.config.is_empty() {
        let header: Vec<&str> = std::iter::once("config").chain(labels.iter().map(String::as_str)).collect();
        let mut table = Table::new(&header);
        for row in &c.config {
            let values = row.values.iter().map(|v| v.clone().unwrap_or_else(|| "-".into()));
            table.row(std::iter::once(row.label.clone()).chain(values).collect());
        }
        out += &format!("\n{}", table.render());
    }
    out += &curves_text(c);
    out += &format!("\nNoise rule: {}.\n", c.noise_rule);
    for note in &c.notes {
        out += &format!("Note: {note}.\n");
    }
    out
}

/// The curves as small tables: a few points spread over training, one column per entry.
fn curves_text(c: &Comparison) -> String {
    let by = match c.align {
        Align::Step => "step",
        Align::Epoch => "epoch",
    };
    let labels: Vec<&str> = c.entries.iter().map(|e| e.label.as_str()).collect();
    let table = |title: &str, curve: &Curve, format: Format| {
        if curve.at.is_empty() {
            return String::new();
        }
        let header: Vec<String> =
            std::iter::once(format!("{by}>")).chain(labels.iter().map(|l| format!("{l}>"))).collect();
        let mut table = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
        for i in curve.sample(CURVE_ROWS) {
            let values = curve.entries.iter().map(|e| format.maybe(e[i]));
            table.row(std::iter::once(curve.at[i].to_string()).chain(values).collect());
        }
        format!("\n{title} ({} points, {} shown):\n{}", curve.at.len(), curve.sample(CURVE_ROWS).len(), table.render())
    };
    table("train loss", &c.train_loss, Format::Metric) + &table("valid AUC", &c.valid_auc, Format::Metric)
}

fn diff(workspace: &Path, a: &str, b: &str, json: bool) -> anyhow::Result<ExitCode> {
    let history = History::load(workspace)?;
    let (run_a, run_b) = (history.resolve(a)?, history.resolve(b)?);
    let changes = config_diff(&read_flat_config(&run_a.dir)?, &read_flat_config(&run_b.dir)?);
    let c = compare(&history, &[run_a.id().to_string(), run_b.id().to_string()], &CompareOptions::default())?;
    let quality: Vec<_> = c.metrics.iter().filter(|m| m.better.is_some()).collect();
    if json {
        let value = json!({ "a": run_a.id(), "b": run_b.id(), "config": changes, "metrics": quality });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} -> {}", run_a.id(), run_b.id());
    if changes.is_empty() {
        println!("config: the same");
    } else {
        let n = changes.len();
        println!("config ({n} {}):", if n == 1 { "key differs" } else { "keys differ" });
        for change in &changes {
            println!("  {change}");
        }
    }
    println!("metrics:");
    for row in quality {
        let value = |i: usize| row.cells[i].stat.as_ref().map_or("-".into(), |s| mean_sd(row.format, s));
        let delta = delta_words(row.format, &row.cells[1]).map(|d| format!("  {d}")).unwrap_or_default();
        println!("  {}: {} -> {}{delta}", row.label, value(0), value(1));
    }
    Ok(ExitCode::SUCCESS)
}
