//! `apg-bench inspect RUN`: what a finished run's APG layers generate, as text, JSON or
//! one tidy CSV table. A thin caller of `crate::inspect`.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::table::Table;
use crate::format::{Format, percent, thousands};
use crate::inspect::{self, Inspection, LayerInspection, Options};

pub fn run(workspace: &Path, query: &str, options: &Options, json: bool, csv: bool) -> anyhow::Result<ExitCode> {
    let inspection = inspect::inspect_run(workspace, query, options).map_err(anyhow::Error::msg)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else if csv {
        print!("{}", inspect::csv(&inspection).map_err(anyhow::Error::msg)?);
    } else {
        print!("{}", text(&inspection));
    }
    Ok(ExitCode::SUCCESS)
}

/// Three decimals, or `-` for a number that does not exist.
fn num(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.3}"))
}

/// The inspection in words and tables.
pub fn text(i: &Inspection) -> String {
    let mut out = String::new();
    let step = i.step.map_or("an unrecorded step".into(), |s| format!("step {s}"));
    out += &format!("run {} ({}): the model of {step}\n", i.run, i.experiment);
    let condition = match i.mode.as_str() {
        "self" => "self-wise (each layer's input)".to_string(),
        mode => format!("{mode}-wise on {}", i.condition_fields.join(", ")),
    };
    out += &format!(
        "APG {}, {condition}; {} split: {} rows, S of {} rows (evenly spaced)\n",
        i.variant,
        i.split,
        thousands(i.split_rows as u64),
        thousands(i.sample_rows as u64)
    );
    for layer in &i.layers {
        out += &layer_text(i, layer);
    }
    out
}

fn layer_text(i: &Inspection, l: &LayerInspection) -> String {
    let s = &l.generated;
    let mut out = format!(
        "\nLayer {} (tower{}: {} -> {}, K = {}; {s} is {} x {}{})\n",
        l.layer,
        l.layer,
        l.n_in,
        l.n_out,
        l.rank,
        l.shape.0,
        l.shape.1,
        if l.generators > 1 { format!(", {} generators side by side", l.generators) } else { String::new() }
    );
    let q = &l.deviation.quantiles;
    out += &format!(
        "  ||{s}_i - mean {s}|| over the rows: mean {:.3}; min {:.3}, 10% {:.3}, median {:.3}, 90% {:.3}, max {:.3}\n",
        l.deviation.mean, q[0], q[1], q[3], q[5], q[6]
    );
    if let Some(groups) = &l.groups {
        let mut table = Table::new(&["value", "rows>", "AUC>", &format!("||{s} - mean||>"), "|bias|>"]);
        for g in &groups.rows {
            table.row(vec![
                g.value.clone(),
                thousands(g.rows as u64),
                Format::Metric.maybe(g.auc),
                format!("{:.3}", g.deviation),
                num(g.bias_norm),
            ]);
        }
        out += &format!("\n  Groups ({}), {} split:\n", groups.field, i.split);
        out += &indent(&table.render());
        let names: Vec<&str> = groups.rows.iter().map(|r| r.value.as_str()).collect();
        if groups.core_cosine.is_empty() {
            let most = crate::inspect::MAX_PAIRWISE_GROUPS;
            out += &format!("\n  cos({s}_a, {s}_b): not computed for {} groups (at most {most})\n", names.len());
            return out + &projection_text(i, l);
        }
        out += &format!("\n  cos(vec {s}_a, vec {s}_b):\n");
        out += &indent(&matrix(&names, &groups.core_cosine));
        match &groups.weight_cosine {
            Some(w) if s == "S" => {
                out += "\n  cos(vec W_a, vec W_b), W = U S V:\n";
                out += &indent(&matrix(&names, w));
            }
            Some(_) => {}
            None => out += "\n  cos(W_a, W_b): not formed (the groups' W would be too large)\n",
        }
    }
    out + &projection_text(i, l)
}

/// The projection, the fields' shares and the most distinct values.
fn projection_text(i: &Inspection, l: &LayerInspection) -> String {
    let s = &l.generated;
    let mut out = String::new();
    let p = &l.projection;
    out += &format!(
        "\n  PCA of {s}: PC1 {}, PC2 {} of its variance; coloured by {}{}\n",
        percent(p.explained[0]),
        percent(p.explained[1]),
        i.colour_by,
        p.colour_share.map_or(String::new(), |share| format!(", which explains {} of it", percent(share.eta2)))
    );
    out += &format!(
        "\n  Share of {s}'s variance each field explains (beyond chance: less what its values explain by chance):\n"
    );
    let mut table = Table::new(&["field", "values>", "share>", "beyond chance>"]);
    for f in &l.separation {
        table.row(vec![
            f.field.clone(),
            thousands(f.values as u64),
            f.share.map_or("-".into(), |s| percent(s.eta2)),
            f.share.and_then(|s| s.beyond_chance).map_or("-".into(), percent),
        ]);
    }
    out += &indent(&table.render());
    if !l.distinct.is_empty() {
        out += &format!("\n  Most distinct {s} (||mean {s} of the value's rows - mean {s}||):\n");
        let mut table = Table::new(&["field", "value", "rows>", "distance>"]);
        for d in &l.distinct {
            table.row(vec![d.field.clone(), d.value.clone(), thousands(d.rows as u64), format!("{:.3}", d.distance)]);
        }
        out += &indent(&table.render());
    }
    out
}

fn matrix(names: &[&str], values: &[Vec<Option<f64>>]) -> String {
    let mut header = vec![""];
    let columns: Vec<String> = names.iter().map(|n| format!("{n}>")).collect();
    header.extend(columns.iter().map(String::as_str));
    let mut table = Table::new(&header);
    for (name, row) in names.iter().zip(values) {
        table.row(std::iter::once(name.to_string()).chain(row.iter().map(|v| num(*v))).collect());
    }
    table.render()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
