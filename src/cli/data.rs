//! `data inspect` and `data fetch`: the data engine's statistics and downloader,
//! printed as tables or JSON.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::cli::table::Table;
use crate::data::stats::{self, ConditionStats, DatasetStats, FieldStats};
use crate::data::{self, LoadOptions, LoadedDescriptor, fetch as fetcher};
use crate::format::{percent, thousands};

/// Values listed by `inspect --field`.
const FIELD_VALUES: usize = 50;

pub fn inspect(reference: &str, field: Option<&str>, json: bool, no_cache: bool) -> anyhow::Result<ExitCode> {
    let descriptor = LoadedDescriptor::open(reference)?;
    let (dataset, report) = data::load(&descriptor, &LoadOptions { no_cache, ..Default::default() })?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let load = json!({
        "from_cache": report.from_cache,
        "cache_note": report.cache_note,
        "cache_file": report.cache_file,
        "seconds": report.seconds,
        "fingerprint": dataset.fingerprint,
    });
    let loaded_line = match (report.from_cache, &report.cache_note) {
        (true, _) => format!("loaded from cache in {:.0} ms", report.seconds * 1e3),
        (false, Some(note)) => format!("encoded from source in {:.0} ms ({note})", report.seconds * 1e3),
        (false, None) => format!("encoded from source in {:.0} ms", report.seconds * 1e3),
    };

    if let Some(name) = field {
        let Some(encoded) = dataset.field(name) else {
            let names: Vec<&str> = dataset.fields.iter().map(|f| f.info.name.as_str()).collect();
            anyhow::bail!("dataset `{}` has no field `{name}`; its fields are: {}", dataset.name, names.join(", "));
        };
        let field_stats = stats::field_stats(&dataset, encoded, FIELD_VALUES);
        let condition = stats::condition_candidates(&dataset)
            .any(|f| f.info.name == name)
            .then(|| stats::condition_stats(&dataset, encoded));
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "load": load, "field": field_stats, "condition": condition }))?
            );
        } else {
            println!("Dataset {} — field `{name}` ({loaded_line})\n", dataset.name);
            print!("{}", render_field(&field_stats, encoded.info.vocab.len()));
            if let Some(condition) = &condition {
                print!("\n{}", render_condition(condition));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }

    let stats = stats::dataset_stats(&dataset);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "load": load, "dataset": stats, "descriptor": descriptor.file }))?
        );
    } else {
        let d = &descriptor.descriptor;
        println!("Dataset {} — {}", d.name, d.description);
        println!("descriptor {}, {loaded_line}", descriptor.file.display());
        if !d.licence.is_empty() {
            println!("licence: {}", d.licence);
        }
        print!("\n{}", render_dataset(&stats));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_dataset(stats: &DatasetStats) -> String {
    let mut out = format!(
        "{} rows, {} positive ({})\n\n",
        thousands(stats.rows as u64),
        thousands(stats.positives as u64),
        percent(stats.label_rate)
    );
    let mut splits = Table::new(&["split", "rows>", "label rate>"]);
    for s in &stats.splits {
        splits.row(vec![s.name.to_string(), thousands(s.rows as u64), percent(s.label_rate)]);
    }
    out += &splits.render();

    out += "\nFields (OOV: rows mapped to the out-of-vocabulary id; held-out: validation + test rows)\n";
    let mut fields = Table::new(&[
        "field",
        "kind",
        "values>",
        "missing>",
        "OOV>",
        "OOV held-out>",
        "top 1% share>",
        "top values (rows, label rate)",
    ]);
    for f in &stats.fields {
        let top = match f.dense {
            Some([mean, std, min, max]) => {
                format!("mean {mean:.2}, std {std:.2}, range [{min:.2}, {max:.2}]")
            }
            None => f
                .top
                .iter()
                .take(3)
                .map(|v| format!("{} ({}, {})", v.value, thousands(v.rows), percent(v.label_rate)))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let kind = if f.derived { format!("{} (derived)", f.kind.name()) } else { f.kind.name().to_string() };
        let dense = f.dense.is_some();
        let dash = || "-".to_string();
        fields.row(vec![
            f.name.clone(),
            kind,
            if dense { dash() } else { thousands(f.cardinality as u64) },
            percent(f.missing_share),
            if dense { dash() } else { percent(f.oov_share) },
            if dense { dash() } else { percent(f.oov_share_heldout) },
            if dense { dash() } else { percent(f.top1pct_share) },
            top,
        ]);
    }
    out += &fields.render();

    out += "\nCondition candidates (training rows; see docs/conditions.md for what the numbers mean)\n";
    let mut conditions = Table::new(&[
        "field",
        "values>",
        "rows min>",
        "median>",
        "max>",
        "label-rate spread>",
        "label JS>",
        "feature JS>",
    ]);
    for c in &stats.conditions {
        conditions.row(vec![
            c.field.clone(),
            c.values.to_string(),
            thousands(c.rows_min),
            thousands(c.rows_median),
            thousands(c.rows_max),
            format!("{:.4}", c.label_rate_spread),
            format!("{:.4}", c.label_divergence),
            format!("{:.4}", c.mean_field_divergence),
        ]);
    }
    out += &conditions.render();

    if let Some(bayes) = &stats.bayes {
        let auc = bayes.test_auc.map_or("n/a".into(), |a| format!("{a:.4}"));
        out += &format!("\nBayes-optimal test AUC (scoring by the true click probability): {auc}\n");
        let mut groups = Table::new(&["field", "value", "test rows>", "Bayes AUC>"]);
        for (field, value, rows, auc) in &bayes.per_group {
            groups.row(vec![
                field.clone(),
                value.clone(),
                thousands(*rows as u64),
                auc.map_or("n/a".into(), |a| format!("{a:.4}")),
            ]);
        }
        out += &groups.render();
    }
    out
}

fn render_field(f: &FieldStats, vocab: usize) -> String {
    let mut out = format!("kind {}, {}\n", f.kind.name(), f.origin);
    if let Some([mean, std, min, max]) = f.dense {
        out += &format!(
            "mean {mean:.4}, std {std:.4}, min {min:.4}, max {max:.4}; missing {}\n",
            percent(f.missing_share)
        );
        return out;
    }
    out += &format!(
        "{} values (+ reserved id 0), min_count {}; missing {}, OOV {} (held-out {})\n",
        thousands(f.cardinality as u64),
        f.min_count,
        percent(f.missing_share),
        percent(f.oov_share),
        percent(f.oov_share_heldout)
    );
    if !f.long_tail.is_empty() {
        let tail: Vec<String> = f
            .long_tail
            .iter()
            .map(|(v, r)| format!("top {} of values -> {} of rows", percent(*v), percent(*r)))
            .collect();
        out += &format!("long tail: {}\n", tail.join("; "));
    }
    let mut table = Table::new(&["value", "rows>", "label rate>"]);
    for v in &f.top {
        table.row(vec![v.value.clone(), thousands(v.rows), percent(v.label_rate)]);
    }
    out += "\n";
    out += &table.render();
    if vocab > f.top.len() + 1 {
        out += &format!("... and {} more values\n", vocab - 1 - f.top.len());
    }
    out
}

fn render_condition(c: &ConditionStats) -> String {
    let mut out = format!(
        "As an APG condition: {} values; training rows per value min {} / median {} / max {}\n\
         label-rate spread {:.4}, label JS divergence {:.4} bits, mean feature JS divergence {:.4} bits\n\n",
        c.values,
        thousands(c.rows_min),
        thousands(c.rows_median),
        thousands(c.rows_max),
        c.label_rate_spread,
        c.label_divergence,
        c.mean_field_divergence
    );
    let mut table = Table::new(&["other field", "JS divergence across values>"]);
    for (field, d) in &c.field_divergence {
        table.row(vec![field.clone(), format!("{d:.4}")]);
    }
    out += &table.render();
    out
}

pub fn fetch(
    name: &str,
    dir: &Path,
    mirror: Option<String>,
    sha256: Option<String>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let remote = fetcher::find(name)?;
    println!("Fetching {name} into {}", dir.join(name).display());
    println!("Licence terms: {}", remote.licence);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut last_report = 0u64;
    let options = fetcher::FetchOptions { mirror, sha256, force };
    let report = fetcher::fetch(name, dir, &options, |url, bytes| {
        if bytes >= last_report + (1 << 20) || bytes < last_report {
            last_report = bytes;
            eprintln!("  {url}: {:.1} MB", bytes as f64 / 1e6);
        }
    })?;
    if report.already_present {
        println!("{} already exists; nothing fetched (use --force to fetch again).", report.folder.display());
        return Ok(ExitCode::SUCCESS);
    }
    for url in &report.verified {
        println!("  checked SHA-256 of {url}");
    }
    for (url, sha) in &report.unverified {
        println!("  {url}: its publisher gives no checksum, so it was NOT verified (SHA-256 {sha})");
    }
    println!("Done: {} files in {}", report.files.len(), report.folder.display());
    Ok(ExitCode::SUCCESS)
}
