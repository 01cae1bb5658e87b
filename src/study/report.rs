//! A study's table: a row per variant, each metric as mean ± sd over its seeds (n), with
//! the delta, RelaImpr and noise verdict against the baseline variant, and the test AUC
//! of the groups the study names. The numbers come from `runs compare --group`'s engine;
//! Markdown and CSV are written here, JSON is the report serialised.

use serde::Serialize;

use crate::format::Format;
use crate::runs::compare::{Cell, CompareOptions, MetricRow, compare, delta_words, mean_sd};
use crate::runs::groups::NOISE_RULE;
use crate::runs::{History, RunError};
use crate::study::Study;
use crate::study::status::{Counts, slots};

/// One column of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// `test.auc`, or `test.gender.F.auc` for a group.
    pub key: String,
    pub label: String,
    pub format: Format,
}

/// One variant's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub variant: String,
    pub config_hash: String,
    pub baseline: bool,
    /// The finished runs its numbers are over.
    pub runs: Vec<String>,
    pub seeds: Vec<u64>,
    /// Per column; absent numbers where the variant has no finished run.
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub study: String,
    pub description: String,
    pub baseline: String,
    pub counts: Counts,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub noise_rule: &'static str,
    pub notes: Vec<String>,
}

/// An empty cell: a variant without finished runs.
fn none() -> Cell {
    Cell { stat: None, delta: None, rela_impr: None, noise: None }
}

/// The report of `study` over the runs of `history`.
pub fn report(study: &Study, history: &History) -> Result<Report, RunError> {
    let counts = Counts::of(&slots(study, history));
    let ran: Vec<usize> = (0..study.variants.len())
        .filter(|&v| history.runs.iter().any(|r| r.manifest.config_hash == study.variants[v].config_hash))
        .collect();
    let mut notes = Vec::new();
    let baseline_ran = ran.contains(&study.baseline);
    let comparison = if ran.is_empty() {
        None
    } else {
        let queries: Vec<String> = ran.iter().map(|&v| study.variants[v].config_hash.clone()).collect();
        let options = CompareOptions {
            groups: true,
            baseline: baseline_ran.then(|| study.variants[study.baseline].config_hash.clone()),
            force: true,
            ..CompareOptions::default()
        };
        Some(compare(history, &queries, &options)?)
    };
    let wanted = |row: &MetricRow| {
        study.metrics.contains(&row.key) || study.groups.iter().any(|g| row.key.starts_with(&format!("test.{g}.")))
    };
    let mut columns = Vec::new();
    let mut rows: Vec<Row> = study
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| Row {
            variant: v.name.clone(),
            config_hash: v.config_hash.clone(),
            baseline: i == study.baseline,
            runs: Vec::new(),
            seeds: Vec::new(),
            cells: Vec::new(),
        })
        .collect();
    if let Some(c) = &comparison {
        // The study's metrics in its order, then the groups' rows in the comparison's.
        let mut metric_rows: Vec<&MetricRow> =
            study.metrics.iter().filter_map(|key| c.metrics.iter().find(|m| &m.key == key)).collect();
        metric_rows.extend(c.groups.iter().filter(|row| wanted(row)));
        for m in &metric_rows {
            // A group's row is `test.FIELD.VALUE.auc`: its column reads `AUC FIELD=VALUE`.
            let label = match m.key.strip_prefix("test.").and_then(|k| k.strip_suffix(".auc")) {
                Some(group) if !study.metrics.contains(&m.key) => {
                    format!("AUC {}", group.replacen('.', "=", 1))
                }
                _ => m.label.clone(),
            };
            columns.push(Column { key: m.key.clone(), label, format: m.format });
        }
        for (entry_index, entry) in c.entries.iter().enumerate() {
            let Some(row) = rows.iter_mut().find(|r| r.config_hash == entry.config_hash) else { continue };
            row.runs = entry.runs.clone();
            row.seeds = entry.seeds.clone();
            row.cells = metric_rows.iter().map(|m| m.cells[entry_index].clone()).collect();
            if !baseline_ran {
                for cell in &mut row.cells {
                    *cell = Cell { stat: cell.stat, ..none() };
                }
            }
        }
        notes.extend(c.notes.iter().cloned());
    } else {
        for key in &study.metrics {
            columns.push(Column { key: key.clone(), label: key.clone(), format: Format::Metric });
        }
    }
    for row in &mut rows {
        row.cells.resize_with(columns.len(), none);
    }
    if !baseline_ran {
        notes.insert(0, format!("the baseline `{}` has no runs yet: no deltas", study.variants[study.baseline].name));
    }
    if counts.done < counts.total() {
        notes.push(format!(
            "{} of {} runs done ({} running, {} failed, {} queued, {} pending): `apg-bench study run {}` runs the rest",
            counts.done,
            counts.total(),
            counts.running,
            counts.failed,
            counts.queued,
            counts.pending,
            study.name
        ));
    }
    Ok(Report {
        study: study.name.clone(),
        description: study.description.clone(),
        baseline: study.variants[study.baseline].name.clone(),
        counts,
        columns,
        rows,
        noise_rule: NOISE_RULE,
        notes,
    })
}

impl Report {
    /// The header and the cells of the table a person reads: per column the mean ± sd
    /// (n), then its comparison with the baseline.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = vec!["variant".to_string()];
        for column in &self.columns {
            header.push(column.label.clone());
            header.push(format!("vs {}", self.baseline));
        }
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let mut cells = vec![row.variant.clone()];
                for (column, cell) in self.columns.iter().zip(&row.cells) {
                    cells.push(match &cell.stat {
                        Some(stat) => format!("{} ({})", mean_sd(column.format, stat), stat.n),
                        None => "-".into(),
                    });
                    cells.push(if row.baseline {
                        "baseline".into()
                    } else {
                        delta_words(column.format, cell).unwrap_or_else(|| "-".into())
                    });
                }
                cells
            })
            .collect();
        (header, rows)
    }

    /// The report as Markdown: the table, the noise rule and the notes.
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| {
            format!("| {} |\n", cells.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "))
        };
        let (header, rows) = self.table();
        let mut out = format!("## Study {}\n\n", self.study);
        if !self.description.is_empty() {
            out += &format!("{}\n\n", self.description);
        }
        out += &format!("Mean ± sample sd over seeds (n); against `{}`.\n\n", self.baseline);
        out += &line(&header);
        out += &line(&vec!["---".to_string(); header.len()]);
        for row in &rows {
            out += &line(row);
        }
        out += &format!("\nNoise rule: {}.\n", self.noise_rule);
        for note in &self.notes {
            out += &format!("\nNote: {note}.\n");
        }
        out
    }

    /// One line per variant and column, full precision, empty where a number is absent.
    pub fn csv(&self) -> Result<String, csv::Error> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record([
            "variant",
            "config_hash",
            "baseline",
            "metric",
            "n",
            "mean",
            "sd",
            "delta",
            "rela_impr_pct",
            "noise",
            "noise_band",
        ])?;
        let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for row in &self.rows {
            for (column, cell) in self.columns.iter().zip(&row.cells) {
                let band = cell.noise.and_then(|n| n.band());
                writer.write_record([
                    row.variant.clone(),
                    row.config_hash.clone(),
                    row.baseline.to_string(),
                    column.key.clone(),
                    cell.stat.map(|s| s.n.to_string()).unwrap_or_default(),
                    number(cell.stat.map(|s| s.mean)),
                    number(cell.stat.and_then(|s| s.sd)),
                    number(cell.delta),
                    number(cell.rela_impr),
                    cell.noise.map(|n| n.words().to_string()).unwrap_or_default(),
                    number(band),
                ])?;
            }
        }
        let bytes = writer.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
