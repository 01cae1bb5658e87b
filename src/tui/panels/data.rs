//! The Data panel: the workspace's dataset, its splits, the schema table and, for the
//! selected field, rows and label rate per value as bars, the long tail, and (for
//! condition candidates) how much the values differ.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use crate::format::{percent, thousands};
use crate::tui::app::App;
use crate::tui::panels::bar;
use crate::tui::scroll::scrollbar;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = &app.theme;
    let block =
        |title: &str| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    let Some(stats) = &app.data.stats else {
        let text = match (&app.data.error, app.data.loading) {
            (Some(error), _) => vec![
                Line::styled(format!("could not load the dataset: {error}"), theme.bad()),
                Line::raw("press r to retry"),
            ],
            (None, true) => {
                let dataset = app.dataset_reference();
                let seconds = app.data.loading_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
                let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"][(seconds * 10.0) as usize % 10];
                vec![Line::raw(format!("{spinner} loading, encoding and counting {dataset} ... {seconds:.1} s"))]
            }
            (None, false) => vec![Line::raw("no dataset loaded: press r")],
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(block("Data")), area);
        return;
    };
    let [top, bottom] = Layout::vertical([Constraint::Length(5), Constraint::Min(6)]).areas(area);
    let splits: Vec<String> = stats
        .splits
        .iter()
        .map(|s| format!("{} {} ({} clicks)", s.name, thousands(s.rows as u64), percent(s.label_rate)))
        .collect();
    let mut summary = vec![
        Line::from(vec![
            Span::styled(stats.name.clone(), theme.accent()),
            Span::raw(format!(
                "  {} rows, label rate {}   {}",
                thousands(stats.rows as u64),
                percent(stats.label_rate),
                app.data.load_note
            )),
        ]),
        Line::raw(format!("splits: {}", splits.join("  ·  "))),
    ];
    if let Some(bayes) = &stats.bayes {
        summary.push(Line::raw(format!(
            "Bayes-optimal test AUC {} (the true click probability: the headroom)",
            bayes.test_auc.map_or("n/a".into(), |a| format!("{a:.4}"))
        )));
    }
    let title = if app.data.datasets.len() > 1 {
        format!("Dataset {} of {} (d: next)", app.data.current + 1, app.data.datasets.len())
    } else {
        "Dataset".to_string()
    };
    frame.render_widget(Paragraph::new(summary).block(block(&title)), top);

    let [schema, detail] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(bottom);
    // Borders and the header take three rows.
    let shown =
        app.data.fields_view.window(app.data.field, stats.fields.len(), schema.height.saturating_sub(3) as usize);
    let rows: Vec<Row> = stats.fields[shown.clone()]
        .iter()
        .zip(shown.clone())
        .map(|(f, i)| {
            let dense = f.dense.is_some();
            let cells = vec![
                f.name.clone(),
                // Short kinds keep the table readable at 80 columns; * marks derived fields.
                match (f.kind.name(), f.derived) {
                    ("multi_categorical", _) => "multi".to_string(),
                    ("categorical", true) => "derived*".to_string(),
                    (kind, _) => kind.to_string(),
                },
                if dense { "-".into() } else { thousands(f.cardinality as u64) },
                percent(1.0 - f.missing_share),
                if dense { "-".into() } else { percent(f.oov_share_heldout) },
                f.top.first().map_or("-".into(), |v| v.value.clone()),
            ];
            let row = Row::new(cells);
            if i == app.data.field { row.style(theme.selected()) } else { row }
        })
        .collect();
    let widths = [
        Constraint::Min(10),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Min(6),
    ];
    let header = Row::new(["field", "kind", "values", "covered", "OOV h/o", "top value"]).style(theme.title());
    let title = format!("Schema: {} fields", stats.fields.len());
    frame.render_widget(Table::new(rows, widths).header(header).block(block(&title)), schema);
    scrollbar(frame, schema, stats.fields.len(), &shown);

    let Some(field) = stats.fields.get(app.data.field) else { return };
    let mut lines = vec![Line::styled(format!("{} — {}", field.name, field.origin), theme.accent())];
    if let Some([mean, std, min, max]) = field.dense {
        lines.push(Line::raw(format!("mean {mean:.3}, std {std:.3}, range [{min:.3}, {max:.3}]")));
    } else {
        let most = field.top.first().map_or(1, |v| v.rows).max(1);
        let label_width = field.top.iter().map(|v| v.value.chars().count()).max().unwrap_or(4).min(16);
        lines.push(Line::styled(format!("{:label_width$}  rows (bar)  clicks", "value"), theme.dim()));
        // The bar takes what the panel leaves after the name, the count and the rate.
        let inner = detail.width.saturating_sub(2) as usize;
        let bar_cells = inner.saturating_sub(label_width + 18).clamp(3, 12);
        let column = bar_cells + 8;
        for value in &field.top {
            let name: String = value.value.chars().take(label_width).collect();
            lines.push(Line::raw(format!(
                "{name:label_width$}  {:<column$} {:>6}",
                bar(value.rows as f64 / most as f64, bar_cells) + &format!(" {}", thousands(value.rows)),
                percent(value.label_rate)
            )));
        }
        if !field.long_tail.is_empty() {
            let tail: Vec<String> =
                field.long_tail.iter().take(4).map(|(v, r)| format!("{}→{}", percent(*v), percent(*r))).collect();
            lines.push(Line::raw(format!("long tail (top values → rows): {}", tail.join(" "))));
        }
        if let Some(c) = stats.conditions.iter().find(|c| c.field == field.name) {
            lines.push(Line::styled("as an APG condition:", theme.title()));
            lines.push(Line::raw(format!(
                "{} values, rows per value {} / {} / {} (min/median/max)",
                c.values,
                thousands(c.rows_min),
                thousands(c.rows_median),
                thousands(c.rows_max)
            )));
            lines.push(Line::raw(format!(
                "label-rate spread {:.4}, label JS {:.4}, feature JS {:.4}",
                c.label_rate_spread, c.label_divergence, c.mean_field_divergence
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block("Field")), detail);
}
