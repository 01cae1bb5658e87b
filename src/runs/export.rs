//! A comparison exported as Markdown (for notes and pull requests) or CSV (one row per
//! entry and metric, full precision, for spreadsheets). JSON is the comparison serialised.

use crate::format::Format;
use crate::runs::compare::{Comparison, Curve, EntryKind, MetricRow, delta_words, mean_sd};

/// Rows of the curve tables in exports.
const CURVE_ROWS: usize = 10;

/// The comparison as a Markdown document.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::from("## Comparison\n\n");
    for (i, e) in c.entries.iter().enumerate() {
        let role = if i == c.baseline { " (baseline)" } else { "" };
        let seeds = e.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let runs = e.runs.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ");
        let what = match e.kind {
            EntryKind::Run => format!("run of `{}`, seed {seeds}", e.experiment),
            EntryKind::Group => format!(
                "{} finished run{} of `{}`, seeds {seeds}: {runs}",
                e.runs.len(),
                if e.runs.len() == 1 { "" } else { "s" },
                e.experiment
            ),
        };
        out += &format!("- **{}**{role}: {what}\n", cell(&e.label));
    }
    let header = |first: &str| {
        let names: Vec<String> = c
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| if i == c.baseline { format!("{} (baseline)", e.label) } else { e.label.clone() })
            .collect();
        table_head(first, &names)
    };
    out += &format!("\n### Metrics\n\n{}", header("metric"));
    out += &metric_lines(&c.metrics);
    if !c.groups.is_empty() {
        out += &format!("\n### Test AUC per group\n\n{}", header("group"));
        out += &metric_lines(&c.groups);
    }
    if !c.config.is_empty() {
        out += &format!("\n### Config differences\n\n{}", header("key"));
        for row in &c.config {
            let values: Vec<String> = row.values.iter().map(|v| v.clone().unwrap_or_else(|| "-".into())).collect();
            out += &table_line(&row.label, &values);
        }
    }
    if !c.valid_auc.at.is_empty() {
        let by = serde_json::to_value(c.align).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        out += &format!("\n### Validation AUC by {by} (mean over each entry's runs)\n\n{}", header(&by));
        out += &curve_lines(&c.valid_auc, Format::Metric);
    }
    out += &format!("\nNoise rule: {}.\n", c.noise_rule);
    for note in &c.notes {
        out += &format!("\nNote: {note}.\n");
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn table_head(first: &str, names: &[String]) -> String {
    table_line(first, names) + &table_line("---", &vec!["---".to_string(); names.len()])
}

fn table_line(first: &str, cells: &[String]) -> String {
    let cells: Vec<String> = std::iter::once(first).chain(cells.iter().map(String::as_str)).map(cell).collect();
    format!("| {} |\n", cells.join(" | "))
}

/// `0.8029 ± 0.0004; +0.0217 (RelaImpr +7.75 %), beyond noise` per entry.
pub fn metric_cells(row: &MetricRow) -> Vec<String> {
    row.cells
        .iter()
        .map(|c| match (&c.stat, delta_words(row.format, c)) {
            (None, _) => "-".to_string(),
            (Some(stat), None) => mean_sd(row.format, stat),
            (Some(stat), Some(delta)) => format!("{}; {delta}", mean_sd(row.format, stat)),
        })
        .collect()
}

fn metric_lines(rows: &[MetricRow]) -> String {
    rows.iter().map(|row| table_line(&row.label, &metric_cells(row))).collect()
}

fn curve_lines(curve: &Curve, format: Format) -> String {
    curve
        .sample(CURVE_ROWS)
        .into_iter()
        .map(|i| {
            let values: Vec<String> = curve.entries.iter().map(|e| format.maybe(e[i])).collect();
            table_line(&curve.at[i].to_string(), &values)
        })
        .collect()
}

/// The comparison's numbers as CSV: one row per entry and metric (per-group test AUCs
/// included), full precision, empty where a number is absent.
pub fn csv(c: &Comparison) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "entry",
        "kind",
        "baseline",
        "runs",
        "metric",
        "label",
        "n",
        "mean",
        "sd",
        "delta",
        "rela_impr_pct",
        "noise",
        "noise_band",
    ])?;
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for row in c.metrics.iter().chain(&c.groups) {
        for (i, (entry, cell)) in c.entries.iter().zip(&row.cells).enumerate() {
            let kind = match entry.kind {
                EntryKind::Run => "run",
                EntryKind::Group => "group",
            };
            let verdict = cell.noise.map(|n| n.words().to_string()).unwrap_or_default();
            let band = cell.noise.and_then(|n| n.band());
            writer.write_record([
                entry.label.clone(),
                kind.to_string(),
                (i == c.baseline).to_string(),
                entry.runs.join(" "),
                row.key.clone(),
                row.label.clone(),
                cell.stat.map(|s| s.n.to_string()).unwrap_or_default(),
                number(cell.stat.map(|s| s.mean)),
                number(cell.stat.and_then(|s| s.sd)),
                number(cell.delta),
                number(cell.rela_impr),
                verdict,
                number(band),
            ])?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
