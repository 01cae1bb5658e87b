//! The Train panel: pick an experiment and start / pause / resume / stop it, choose the
//! device of the next run; live curves of the training loss and the validation AUC and
//! logloss, per-group AUC bars, progress with samples/s and ETA, the queue and the log tail.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, Gauge, GraphType, List, ListItem, Paragraph};

use crate::config::Device;
use crate::train::{Phase, RunEnd};
use crate::tui::app::App;
use crate::tui::panels::bar;
use crate::tui::scroll::scrollbar;
use crate::tui::theme::Theme;

/// The device of the runs started from the panel, cycled with `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The experiment file's `device`.
    #[default]
    Experiment,
    Cpu,
    /// The first GPU: offered by builds with the `cuda` feature only.
    Cuda,
}

impl DeviceChoice {
    /// The choices this build offers, in the order `d` goes through them.
    pub fn offered() -> &'static [DeviceChoice] {
        if cfg!(feature = "cuda") {
            &[DeviceChoice::Experiment, DeviceChoice::Cpu, DeviceChoice::Cuda]
        } else {
            &[DeviceChoice::Experiment, DeviceChoice::Cpu]
        }
    }

    pub fn next(self) -> DeviceChoice {
        let offered = Self::offered();
        let at = offered.iter().position(|c| *c == self).unwrap_or(0);
        offered[(at + 1) % offered.len()]
    }

    /// The device of a run of an experiment whose file says `own`.
    pub fn device(self, own: Device) -> Device {
        match self {
            DeviceChoice::Experiment => own,
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda => Device::Cuda(0),
        }
    }
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = &app.theme;
    let block =
        |title: String| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    let [left, right] = Layout::horizontal([Constraint::Length(30), Constraint::Min(40)]).areas(area);
    let [list_area, queue_area] = Layout::vertical([Constraint::Min(5), Constraint::Length(6)]).areas(left);

    let shown = experiments_window(app, list_area);
    let items: Vec<ListItem> = app.experiments[shown.clone()]
        .iter()
        .zip(shown.clone())
        .map(|(e, i)| {
            let marker = if e.error.is_some() { "! " } else { "  " };
            let item = ListItem::new(format!("{marker}{}", e.name()));
            if i == app.selected { item.style(theme.selected()) } else { item }
        })
        .collect();
    let title = format!("Experiments ({})", app.experiments.len());
    frame.render_widget(List::new(items).block(block(title)), list_area);
    scrollbar(frame, list_area, app.experiments.len(), &shown);
    let queue: Vec<Line> = if app.train.queue.is_empty() {
        vec![Line::styled("empty (a: add)", theme.dim())]
    } else {
        app.train
            .queue
            .iter()
            .map(|p| Line::raw(p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()))
            .collect()
    };
    frame.render_widget(Paragraph::new(queue).block(block("Queue".into())), queue_area);

    let [status, charts, bottom] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(8), Constraint::Length(8)]).areas(right);
    draw_status(frame, app, status);
    let [loss_area, auc_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let t = &app.train;
    frame.render_widget(chart("train loss", &[("loss", &t.loss)], theme), loss_area);
    frame.render_widget(chart("validation", &[("AUC", &t.valid_auc), ("logloss", &t.valid_logloss)], theme), auc_area);
    let [groups_area, log_area] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    let groups: Vec<Line> = if t.groups.is_empty() {
        vec![Line::styled("per-group AUC appears after the first validation", theme.dim())]
    } else {
        t.groups
            .iter()
            .map(|g| {
                // Bars over [0.5, 1]: the range where AUCs differ. A one-class group has none.
                let (bar, auc) = match g.auc {
                    Some(auc) => (bar((auc - 0.5) * 2.0, 10), format!("{auc:.4}")),
                    None => (String::new(), "n/a   ".into()),
                };
                // How many positives and rows the AUC rests on.
                let support = g.positives.map_or(String::new(), |p| format!(" {p}/{}", g.rows));
                Line::raw(format!("{:>14} {bar:<10} {auc}{support}", truncate(&g.value, 14)))
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(groups).block(block("AUC per group (positives/rows)".into())), groups_area);
    let height = log_area.height.saturating_sub(2) as usize;
    let shown = t.log_view.tail(t.log_back, t.log.len(), height);
    let log: Vec<Line> = t.log.range(shown.clone()).map(|l| Line::raw(l.clone())).collect();
    // Newest lines at the bottom, one screen line each (long lines are cut, not wrapped,
    // so the newest never scroll out of view); [ and ] scroll back and forth.
    let title = if t.log_back > 0 {
        format!("Log: {} lines back (] to return)", t.log.len() - shown.end)
    } else {
        "Log ([ scrolls back)".to_string()
    };
    frame.render_widget(Paragraph::new(log).block(block(title)), log_area);
    scrollbar(frame, log_area, t.log.len(), &shown);
}

/// The experiments on screen in `area`, the selected one among them.
fn experiments_window(app: &App, area: Rect) -> std::ops::Range<usize> {
    let height = area.height.saturating_sub(2) as usize;
    app.train.experiments_view.window(app.selected, app.experiments.len(), height)
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect) {
    let t = &app.train;
    let theme = &app.theme;
    let [line_area, gauge_area] = Layout::vertical([Constraint::Length(3), Constraint::Length(1)]).areas(area);
    let selected = app.selected_experiment();
    let phase = match t.phase {
        None => "idle".to_string(),
        Some(p) => format!("{p:?}").to_lowercase(),
    };
    let mut spans = vec![
        Span::styled(
            t.experiment.clone().unwrap_or_else(|| selected.map(|e| e.name()).unwrap_or_default()),
            theme.accent(),
        ),
        Span::raw(format!("  {phase}  ")),
    ];
    if let Some(run) = &t.run_id {
        spans.push(Span::raw(format!("on {}  ", t.device)));
        spans.push(Span::styled(run.clone(), theme.dim()));
    }
    let mut lines = vec![Line::from(spans), next_device_line(app)];
    if let Some(entry) = selected.filter(|e| e.error.is_some()) {
        lines.push(Line::styled(format!("{}", entry.error.as_ref().expect("filtered")), theme.bad()));
    } else if let Some(summary) = t.summary.as_ref().filter(|s| s.status == RunEnd::Diverged) {
        let reason = summary.reason.as_deref().unwrap_or_default();
        lines.push(Line::styled(format!("diverged: {reason}"), theme.bad()));
    } else if let Some(summary) = &t.summary {
        let test = summary.test.as_ref().and_then(|m| m.auc).map_or("n/a".into(), |a| format!("{a:.4}"));
        lines.push(Line::raw(format!(
            "{}: test AUC {test}, {:.0} samples/s (s: start, a: queue)",
            summary.status.name(),
            summary.samples_per_s
        )));
    } else {
        lines.push(Line::styled(
            "s: start  p: pause/resume  x: stop  a: queue  d: device  e/↑↓: experiment",
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), line_area);
    let ratio = if t.total_steps > 0 { (t.step as f64 / t.total_steps as f64).min(1.0) } else { 0.0 };
    let eta = t.eta_s().map_or(String::new(), |s| format!(", ETA {s:.0}s"));
    let label = match t.phase {
        Some(Phase::Paused) => format!("paused at {}/{}", t.step, t.total_steps),
        _ => format!("{}/{} steps, {:.1}k samples/s{eta}", t.step, t.total_steps, t.samples_per_s / 1e3),
    };
    frame.render_widget(Gauge::default().gauge_style(theme.good()).ratio(ratio).label(label), gauge_area);
}

/// Where the next run will train: the selected experiment's own device or the one `d` chose.
fn next_device_line(app: &App) -> Line<'static> {
    let choice = app.train.next_device;
    let own = app.selected_experiment().and_then(|e| e.good.as_ref()).map(|e| e.experiment.device);
    let (device, how) = match (choice, own) {
        (DeviceChoice::Experiment, None) => ("the experiment's device".to_string(), String::new()),
        (DeviceChoice::Experiment, Some(own)) => (own.to_string(), " (the experiment's)".into()),
        (chosen, _) => (chosen.device(Device::Cpu).to_string(), " (chosen with d)".into()),
    };
    Line::from(vec![
        Span::raw("next run on "),
        Span::styled(device, app.theme.accent()),
        Span::raw(how),
        Span::styled("  d: change", app.theme.dim()),
    ])
}

/// A line chart of one or more series against steps, axes fitted to the data.
pub fn chart<'a>(title: &'a str, series: &[(&'a str, &'a [(f64, f64)])], theme: &Theme) -> Chart<'a> {
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    let pad = ((y_max - y_min) * 0.05).max(1e-3);
    let (y_min, y_max) = (y_min - pad, y_max + pad);
    let datasets = series
        .iter()
        .enumerate()
        .map(|(i, (name, data))| {
            Dataset::default()
                .name(*name)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.series(i))
                .data(data)
        })
        .collect();
    Chart::new(datasets)
        .block(Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title())))
        .x_axis(Axis::default().bounds([0.0, x_max]).labels([Span::raw("0"), Span::raw(format!("{x_max:.0}"))]))
        .y_axis(
            Axis::default()
                .bounds([y_min, y_max])
                .labels([Span::raw(format!("{y_min:.3}")), Span::raw(format!("{y_max:.3}"))]),
        )
}
