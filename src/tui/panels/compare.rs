//! The comparison view of the Runs panel: the marked runs' groups of seeds (or the single
//! runs) against a chosen baseline, one row per metric and per group value with the delta,
//! RelaImpr and the noise verdict in words, the config keys that differ, and the
//! validation curves (AUC and logloss on their own axes). It owns its state, draws itself
//! and handles its keys; the Runs panel only opens it. The numbers are
//! `crate::runs::compare`'s, as `apg-bench runs compare --group` prints them.
//!
//! Nothing is cut: cells wrap between their parts (`0.7950 ± 0.0012`, `+0.0150`,
//! `RelaImpr +5.36 %`, `beyond noise`), entry columns that do not fit side by side are
//! paged (←/→) with the baseline always shown, and the rows scroll.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::runs::compare::{
    Align, Better, Cell as MetricCell, CompareOptions, Comparison, EntryKind, MetricRow, compare, mean_sd,
};
use crate::runs::groups::Noise;
use crate::runs::history::History;
use crate::tui::keys::Action;
use crate::tui::panels::buffer_lines;
use crate::tui::panels::train::chart;
use crate::tui::theme::Theme;

/// Columns between two table columns.
const GAP: usize = 2;
/// The narrowest an entry column gets before the entries are paged.
const MIN_ENTRY_WIDTH: usize = 24;
/// From this width on, the curves stand beside the table.
const CURVES_BESIDE: u16 = 160;
/// From this height on (and narrower than [`CURVES_BESIDE`]), they stand below it; on
/// smaller screens they scroll with the rows.
const CURVES_BELOW: u16 = 34;
/// The height of the curves where they scroll with the rows.
const CURVES_HEIGHT: u16 = 14;

/// What a key asks of the Runs panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Nothing,
    Close,
    Say(String),
    Export { markdown: bool },
}

#[derive(Debug)]
pub struct CompareView {
    /// The marked runs, oldest first.
    marked: Vec<String>,
    /// Whether the entries are the marked runs' groups of seeds (else the runs).
    pub grouped: bool,
    pub comparison: Comparison,
    /// The first line of the rows shown.
    pub scroll: usize,
    /// Index (among the entries other than the baseline) of the first one shown.
    pub first: usize,
    /// What the last frame measured, for the keys: the last scroll position, the height
    /// of the rows, and how many entries besides the baseline fit side by side.
    max_scroll: Cell<usize>,
    page_height: Cell<usize>,
    per_page: Cell<usize>,
}

impl CompareView {
    /// Compares the runs `marked` (two or more): as groups of seeds when they belong to two
    /// or more configurations, else as single runs.
    pub fn open(history: &History, mut marked: Vec<String>) -> Result<CompareView, String> {
        // Oldest first: the first configuration marked in time order is the baseline.
        marked.sort();
        let grouped = one_per_config(history, &marked).len() >= 2;
        let comparison = build(history, &marked, grouped, 0)?;
        Ok(CompareView::new(marked, grouped, comparison))
    }

    /// Compares the configurations of `runs` (one run each, in the order given) as
    /// groups of seeds, the first one's as the baseline: a study's report.
    pub fn open_groups(history: &History, runs: Vec<String>) -> Result<CompareView, String> {
        let comparison = build(history, &runs, true, 0)?;
        Ok(CompareView::new(runs, true, comparison))
    }

    fn new(marked: Vec<String>, grouped: bool, comparison: Comparison) -> CompareView {
        CompareView {
            marked,
            grouped,
            comparison,
            scroll: 0,
            first: 0,
            max_scroll: Cell::new(0),
            page_height: Cell::new(1),
            per_page: Cell::new(usize::MAX),
        }
    }

    /// How the status bar introduces the view.
    pub fn summary(&self) -> String {
        let c = &self.comparison;
        let what = if self.grouped { "groups of seeds" } else { "runs" };
        let mut text = format!("comparing {} {what}, baseline {}", c.entries.len(), labels(c)[c.baseline]);
        if c.data_differs {
            text = format!("warning: these runs trained on different data (see the warning) · {text}");
        }
        text
    }

    pub fn apply(&mut self, action: Action, history: &History) -> Reply {
        let others = self.comparison.entries.len().saturating_sub(1);
        match action {
            Action::Close | Action::Compare | Action::Select => return Reply::Close,
            Action::ExportMarkdown => return Reply::Export { markdown: true },
            Action::ExportCsv => return Reply::Export { markdown: false },
            Action::Down => self.scroll = (self.scroll + 1).min(self.max_scroll.get()),
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::PageDown => {
                self.scroll = (self.scroll + self.page_height.get().max(2) - 1).min(self.max_scroll.get())
            }
            Action::PageUp => self.scroll = self.scroll.saturating_sub(self.page_height.get().max(2) - 1),
            Action::Top => self.scroll = 0,
            Action::Bottom => self.scroll = self.max_scroll.get(),
            Action::Right => {
                let step = self.per_page.get().max(1);
                if self.first + step < others {
                    self.first += step;
                }
            }
            Action::Left => self.first = self.first.saturating_sub(self.per_page.get().max(1)),
            Action::CycleBaseline => {
                let next = (self.comparison.baseline + 1) % self.comparison.entries.len().max(1);
                return self.rebuild(history, self.grouped, next);
            }
            Action::ToggleGroups => {
                if !self.grouped && one_per_config(history, &self.marked).len() < 2 {
                    return Reply::Say(
                        "the marked runs share one configuration: as groups there is nothing to compare".into(),
                    );
                }
                return self.rebuild(history, !self.grouped, 0);
            }
            _ => {}
        }
        Reply::Nothing
    }

    fn rebuild(&mut self, history: &History, grouped: bool, baseline: usize) -> Reply {
        match build(history, &self.marked, grouped, baseline) {
            Ok(comparison) => {
                let regrouped = grouped != self.grouped;
                (self.grouped, self.comparison) = (grouped, comparison);
                if regrouped {
                    (self.scroll, self.first) = (0, 0);
                }
                Reply::Say(self.summary())
            }
            Err(error) => Reply::Say(format!("cannot compare: {error}")),
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let c = &self.comparison;
        let labels = labels(c);
        // The curves get a place of their own where there is room; else they scroll with
        // the rows, after the config diff.
        let (table_area, curves_area) = if area.width >= CURVES_BESIDE {
            let [table, curves] =
                Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
            (table, Some(curves))
        } else if area.height >= CURVES_BELOW {
            let height = area.height / 3;
            let [table, curves] = Layout::vertical([Constraint::Min(6), Constraint::Length(height)]).areas(area);
            (table, Some(curves))
        } else {
            (area, None)
        };
        let width = table_area.width as usize;

        let columns = Columns::plan(c, &labels, width, self.first);
        self.per_page.set(columns.per_page);
        let mut pinned = text_lines(&self.title(&labels, &columns, theme), width);
        // A data mismatch stays in sight however far the rows scroll.
        for warning in c.notes.iter().filter(|n| n.starts_with("WARNING")) {
            pinned.extend(text_lines(&words(warning, theme.bad()), width));
        }
        pinned.extend(columns.row(&header_cells(c, &labels, &columns, theme)));
        let curves = if curves_area.is_none() { Some(curve_lines(c, &labels, width, theme)) } else { None };
        let rows = document(c, &columns, theme, width, curves);

        let pinned_height = (pinned.len() as u16).min(table_area.height.saturating_sub(1));
        let available = table_area.height.saturating_sub(pinned_height) as usize;
        // Rows longer than the screen scroll, and a line under them says where they are.
        let overflow = rows.len() > available;
        let page = if overflow { available.saturating_sub(1).max(1) } else { available };
        let max_scroll = rows.len().saturating_sub(page);
        self.max_scroll.set(max_scroll);
        self.page_height.set(page);
        let scroll = self.scroll.min(max_scroll);
        let [pinned_area, rows_area, position_area] = Layout::vertical([
            Constraint::Length(pinned_height),
            Constraint::Length(page as u16),
            Constraint::Length(u16::from(overflow)),
        ])
        .areas(table_area);
        frame.render_widget(Paragraph::new(pinned.into_iter().map(Line::from).collect::<Vec<_>>()), pinned_area);
        let total = rows.len();
        let shown: Vec<Line> = rows.into_iter().skip(scroll).take(page).map(Line::from).collect();
        frame.render_widget(Paragraph::new(shown), rows_area);
        let last = (scroll + page).min(total);
        let position = format!("lines {}-{last} of {total} · j/k PgUp/PgDn g/G scroll", scroll + 1);
        frame.render_widget(Paragraph::new(Line::styled(position, theme.dim()).right_aligned()), position_area);
        if let Some(curves_area) = curves_area {
            render_curves(frame.buffer_mut(), c, &labels, curves_area, theme);
        }
    }

    /// The title: what is compared, and where the view is when it scrolls or pages.
    fn title(&self, labels: &[String], columns: &Columns, theme: &Theme) -> Vec<Chunk> {
        let c = &self.comparison;
        let what = if self.grouped { "groups of seeds (s: single runs)" } else { "runs (s: groups of seeds)" };
        let mut title = vec![Chunk::new(format!("Comparison of {} {what},", c.entries.len()), theme.title())];
        title.extend(words(&format!("baseline {} (b: next).", labels[c.baseline]), theme.title()));
        if columns.per_page < c.entries.len() - 1 {
            let last = (self.first + columns.per_page).min(c.entries.len() - 1);
            let text =
                format!("Entries {}-{} of {} besides the baseline (←/→).", self.first + 1, last, c.entries.len() - 1);
            title.extend(words(&text, theme.accent()));
        }
        title
    }
}

/// One marked run per configuration, in the order given.
fn one_per_config(history: &History, marked: &[String]) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut runs = Vec::new();
    for id in marked {
        let Some(run) = history.runs.iter().find(|r| r.id() == id) else { continue };
        if !seen.contains(&run.manifest.config_hash.as_str()) {
            seen.push(&run.manifest.config_hash);
            runs.push(id.clone());
        }
    }
    runs
}

/// The comparison of the marked runs (or of their groups) against entry `baseline`.
fn build(history: &History, marked: &[String], grouped: bool, baseline: usize) -> Result<Comparison, String> {
    let queries = if grouped { one_per_config(history, marked) } else { marked.to_vec() };
    // Runs on different data are compared, under the comparison's warning.
    let options =
        CompareOptions { groups: grouped, baseline: queries.get(baseline).cloned(), align: Align::Step, force: true };
    compare(history, &queries, &options).map_err(|e| e.to_string())
}

/// How each entry is named: `apg (3 seeds)` for a group, `apg s2` for a run, with the start
/// of the config hash (groups) or the run's start time (runs) where two would read alike.
pub fn labels(c: &Comparison) -> Vec<String> {
    let plain = |e: &crate::runs::compare::Entry| match e.kind {
        EntryKind::Group => e.experiment.clone(),
        EntryKind::Run => format!("{} s{}", e.experiment, e.seeds.first().copied().unwrap_or_default()),
    };
    let names: Vec<String> = c.entries.iter().map(plain).collect();
    c.entries
        .iter()
        .zip(&names)
        .map(|(e, name)| {
            let alike = names.iter().filter(|n| *n == name).count() > 1;
            match e.kind {
                EntryKind::Group => {
                    let seeds = if e.seeds.len() == 1 { "1 seed".into() } else { format!("{} seeds", e.seeds.len()) };
                    let hash: String = e.config_hash.chars().take(6).collect();
                    if alike { format!("{name}@{hash} ({seeds})") } else { format!("{name} ({seeds})") }
                }
                EntryKind::Run => {
                    // Run ids are `YYYYMMDD-HHMMSS-experiment-sN`.
                    let time = e
                        .label
                        .split('-')
                        .nth(1)
                        .filter(|t| t.len() == 6)
                        .map(|t| format!("{}:{}:{}", &t[..2], &t[2..4], &t[4..]));
                    match (alike, time) {
                        (true, Some(time)) => format!("{name} {time}"),
                        (true, None) => e.label.clone(),
                        (false, _) => name.clone(),
                    }
                }
            }
        })
        .collect()
}

/// A piece of text kept on one line (unless it alone is wider than the line).
#[derive(Debug, Clone)]
struct Chunk {
    text: String,
    style: Style,
}

impl Chunk {
    fn new(text: impl Into<String>, style: Style) -> Chunk {
        Chunk { text: text.into(), style }
    }

    /// Ends the line here.
    fn line_break() -> Chunk {
        Chunk::new("\n", Style::default())
    }

    fn width(&self) -> usize {
        Span::raw(self.text.as_str()).width()
    }
}

/// Text as chunks of one word each, so that it wraps between words.
fn words(text: &str, style: Style) -> Vec<Chunk> {
    text.split_whitespace().map(|w| Chunk::new(w, style)).collect()
}

/// The width of `chunks` on one line, a space between two.
fn one_line(chunks: &[Chunk]) -> usize {
    chunks.iter().map(Chunk::width).sum::<usize>() + chunks.len().saturating_sub(1)
}

/// Lays `chunks` out in lines of at most `width` columns, a space between two chunks; a
/// chunk wider than a line alone is broken where the line ends, so nothing is lost.
fn wrap(chunks: &[Chunk], width: usize) -> Vec<Vec<Chunk>> {
    let width = width.max(1);
    let mut lines: Vec<Vec<Chunk>> = Vec::new();
    let mut current: Vec<Chunk> = Vec::new();
    for chunk in chunks {
        if chunk.text == "\n" {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            continue;
        }
        let mut rest = chunk.clone();
        loop {
            let used = one_line(&current);
            let need = if current.is_empty() { rest.width() } else { used + 1 + rest.width() };
            if need <= width {
                current.push(rest);
                break;
            }
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            let (head, tail) = split_at_width(&rest.text, width);
            lines.push(vec![Chunk::new(head, rest.style)]);
            rest.text = tail;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// `text` cut after `width` columns (at least one character), and the rest.
fn split_at_width(text: &str, width: usize) -> (String, String) {
    let mut used = 0;
    for (i, ch) in text.char_indices() {
        let w = Span::raw(ch.to_string()).width();
        if used + w > width && i > 0 {
            return (text[..i].to_string(), text[i..].to_string());
        }
        used += w;
    }
    (text.to_string(), String::new())
}

/// A line of chunks as spans, padded with spaces to `width` when given.
fn spans(chunks: &[Chunk], width: Option<usize>) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            out.push(Span::raw(" "));
        }
        out.push(Span::styled(chunk.text.clone(), chunk.style));
    }
    if let Some(width) = width {
        out.push(Span::raw(" ".repeat(width.saturating_sub(one_line(chunks)))));
    }
    out
}

/// One line of the view, as spans.
type Spans = Vec<Span<'static>>;

/// Wrapped text as lines of spans.
fn text_lines(chunks: &[Chunk], width: usize) -> Vec<Spans> {
    wrap(chunks, width).iter().map(|l| spans(l, None)).collect()
}

/// The table's columns at a width: the label, the baseline, and the entries shown beside it.
struct Columns {
    label: usize,
    /// (entry index, width), the baseline first.
    entries: Vec<(usize, usize)>,
    /// How many entries besides the baseline are shown at once.
    per_page: usize,
}

impl Columns {
    fn plan(c: &Comparison, labels: &[String], width: usize, first: usize) -> Columns {
        let natural = |entry: usize| {
            let mut widest = one_line(&words(&labels[entry], Style::default()));
            for metric in c.metrics.iter().chain(&c.groups) {
                widest = widest.max(one_line(&cell_chunks(c, metric, entry, &Theme { color: false })));
            }
            for config in &c.config {
                widest = widest.max(one_line(&config_chunks(&config.values[entry], Style::default())));
            }
            widest
        };
        let row_labels = c
            .metrics
            .iter()
            .chain(&c.groups)
            .map(|m| row_label(m).chars().count())
            .chain(c.config.iter().map(|r| r.label.chars().count()));
        let label = row_labels.max().unwrap_or(10).min((width * 3 / 10).max(14));
        let rest = width.saturating_sub(label + GAP);
        let base = natural(c.baseline).min((rest / 3).max(16));
        let room = rest.saturating_sub(base + GAP);
        let others: Vec<usize> = (0..c.entries.len()).filter(|&e| e != c.baseline).collect();
        let wanted: Vec<usize> = others.iter().map(|&e| natural(e)).collect();
        let mut entries = vec![(c.baseline, base)];
        if wanted.iter().sum::<usize>() + GAP * others.len().saturating_sub(1) <= room {
            entries.extend(others.iter().zip(&wanted).map(|(&e, &w)| (e, w)));
            return Columns { label, entries, per_page: others.len() };
        }
        let per_page = ((room + GAP) / (MIN_ENTRY_WIDTH + GAP)).max(1);
        let each = (room.saturating_sub(GAP * (per_page - 1)) / per_page).max(1);
        let first = first.min(others.len().saturating_sub(1));
        for (&e, &w) in others.iter().zip(&wanted).skip(first).take(per_page) {
            entries.push((e, w.min(each)));
        }
        Columns { label, entries, per_page }
    }

    /// The lines of one row: the label and one cell per entry shown, each wrapped to its
    /// column.
    fn row(&self, cells: &[Vec<Chunk>]) -> Vec<Spans> {
        let widths: Vec<usize> = std::iter::once(self.label).chain(self.entries.iter().map(|(_, w)| *w)).collect();
        let wrapped: Vec<Vec<Vec<Chunk>>> = cells.iter().zip(&widths).map(|(cell, &w)| wrap(cell, w)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        (0..height)
            .map(|i| {
                let mut out = Vec::new();
                for (column, (lines, &w)) in wrapped.iter().zip(&widths).enumerate() {
                    if column > 0 {
                        out.push(Span::raw(" ".repeat(GAP)));
                    }
                    let part = lines.get(i).map_or(&[][..], Vec::as_slice);
                    out.extend(spans(part, Some(w)));
                }
                out
            })
            .collect()
    }
}

fn header_cells(c: &Comparison, labels: &[String], columns: &Columns, theme: &Theme) -> Vec<Vec<Chunk>> {
    let mut cells = vec![vec![Chunk::new("", Style::default())]];
    for &(e, _) in &columns.entries {
        let entry = &c.entries[e];
        let mut cell = words(&labels[e], theme.series(e).add_modifier(Modifier::BOLD));
        if entry.kind == EntryKind::Group {
            let seeds: Vec<String> = entry.seeds.iter().map(u64::to_string).collect();
            cell.push(Chunk::line_break());
            cell.extend(words(&format!("seeds {}", seeds.join(", ")), theme.dim()));
        }
        if e == c.baseline {
            cell.push(Chunk::line_break());
            cell.push(Chunk::new("(baseline)", theme.accent()));
        }
        cells.push(cell);
    }
    cells
}

/// The label of a metric row; a per-group row without its `test AUC, ` (its section says it).
fn row_label(metric: &MetricRow) -> &str {
    metric.label.strip_prefix("test AUC, ").unwrap_or(&metric.label)
}

/// A metric of one entry: `0.7950 ± 0.0012`, then against the baseline `+0.0150`,
/// `RelaImpr +5.36 %` and the noise verdict.
fn cell_chunks(c: &Comparison, metric: &MetricRow, entry: usize, theme: &Theme) -> Vec<Chunk> {
    let cell: &MetricCell = &metric.cells[entry];
    let Some(stat) = &cell.stat else { return vec![Chunk::new("-", theme.dim())] };
    let mut chunks = vec![Chunk::new(mean_sd(metric.format, stat), Style::default())];
    // A group's number over fewer runs than it has says so.
    if c.entries[entry].kind == EntryKind::Group && stat.n != c.entries[entry].runs.len() {
        chunks.push(Chunk::new(format!("(n={})", stat.n), theme.dim()));
    }
    let Some(delta) = cell.delta else { return chunks };
    let improved = match metric.better {
        Some(Better::Higher) => Some(delta > 0.0),
        Some(Better::Lower) => Some(delta < 0.0),
        None => None,
    };
    let direction = match improved {
        Some(true) => theme.good(),
        Some(false) => theme.bad(),
        None => Style::default(),
    };
    chunks.push(Chunk::new(metric.format.delta(delta), direction));
    if let Some(r) = cell.rela_impr {
        chunks.push(Chunk::new(format!("RelaImpr {r:+.2} %"), direction));
    }
    match cell.noise {
        Some(Noise::BeyondNoise { .. }) => {
            chunks.push(Chunk::new("beyond noise", direction.add_modifier(Modifier::BOLD)))
        }
        Some(Noise::WithinNoise { .. }) => chunks.push(Chunk::new("within noise", theme.dim())),
        Some(Noise::Unknown) => chunks.push(Chunk::new("noise unknown (n=1)", theme.dim())),
        None => {}
    }
    chunks
}

fn config_chunks(value: &Option<String>, style: Style) -> Vec<Chunk> {
    match value {
        Some(v) => words(v, style),
        None => vec![Chunk::new("(absent)", style)],
    }
}

/// The rows that scroll: metrics, test AUC per group value, cost, the config keys that
/// differ, and the notes.
fn document(c: &Comparison, columns: &Columns, theme: &Theme, width: usize, curves: Option<Vec<Spans>>) -> Vec<Spans> {
    let mut out: Vec<Spans> = Vec::new();
    let section = |out: &mut Vec<Spans>, title: &str| {
        if !out.is_empty() {
            out.push(Vec::new());
        }
        out.extend(text_lines(&words(title, theme.title()), width));
    };
    let metric_rows = |out: &mut Vec<Spans>, rows: &mut dyn Iterator<Item = &MetricRow>| {
        for metric in rows.filter(|m| m.cells.iter().any(|cell| cell.stat.is_some())) {
            let mut cells = vec![words(row_label(metric), Style::default())];
            cells.extend(columns.entries.iter().map(|&(e, _)| cell_chunks(c, metric, e, theme)));
            out.extend(columns.row(&cells));
        }
    };
    section(&mut out, "Metrics against the baseline (delta, RelaImpr, noise verdict)");
    metric_rows(&mut out, &mut c.metrics.iter().filter(|m| m.better.is_some()));
    if !c.groups.is_empty() {
        section(&mut out, "Test AUC per group value");
        metric_rows(&mut out, &mut c.groups.iter());
    }
    section(&mut out, "Cost");
    metric_rows(&mut out, &mut c.metrics.iter().filter(|m| m.better.is_none()));
    section(&mut out, "Configuration: the keys that differ");
    if c.config.is_empty() {
        out.push(vec![Span::styled("none", theme.dim())]);
    }
    for config in &c.config {
        let mut cells = vec![words(&config.label, Style::default())];
        cells.extend(columns.entries.iter().map(|&(e, _)| config_chunks(&config.values[e], Style::default())));
        out.extend(columns.row(&cells));
    }
    if let Some(curves) = curves {
        out.push(Vec::new());
        out.extend(curves);
    }
    section(&mut out, "Notes");
    for note in c.notes.iter().filter(|n| !n.starts_with("WARNING")) {
        out.extend(text_lines(&words(note, Style::default()), width));
    }
    out.extend(text_lines(&words(&format!("Noise: {}.", c.noise_rule), theme.dim()), width));
    out
}

/// The curves drawn off screen, as lines that scroll with the rows.
fn curve_lines(c: &Comparison, labels: &[String], width: usize, theme: &Theme) -> Vec<Spans> {
    let area = Rect::new(0, 0, width as u16, CURVES_HEIGHT);
    let mut buffer = Buffer::empty(area);
    render_curves(&mut buffer, c, labels, area, theme);
    buffer_lines(&buffer).into_iter().map(|line| line.spans).collect()
}

/// The validation AUC and logloss of every entry (the mean over its runs), each on its own
/// axes, under a legend of their own so that no label covers a curve.
fn render_curves(buffer: &mut Buffer, c: &Comparison, labels: &[String], area: Rect, theme: &Theme) {
    let by = match c.align {
        Align::Step => "step",
        Align::Epoch => "epoch",
    };
    let mut legend = words(&format!("Validation curves by {by}, the mean over each entry's runs:"), theme.title());
    for (e, label) in labels.iter().enumerate() {
        legend.push(Chunk::new(format!("── {label}"), theme.series(e)));
    }
    let legend = text_lines(&legend, area.width as usize);
    let legend_height = (legend.len() as u16).min(area.height.saturating_sub(5).max(1));
    let [legend_area, charts] = Layout::vertical([Constraint::Length(legend_height), Constraint::Min(3)]).areas(area);
    Paragraph::new(legend.into_iter().map(Line::from).collect::<Vec<_>>()).render(legend_area, buffer);
    // Side by side unless that leaves each too narrow and there is height to stack them.
    let [auc_area, logloss_area] = if charts.width < 60 && charts.height >= 16 {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts)
    } else {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts)
    };
    for (title, curve, chart_area) in
        [("valid AUC", &c.valid_auc, auc_area), ("valid logloss", &c.valid_logloss, logloss_area)]
    {
        let series: Vec<Vec<(f64, f64)>> = curve
            .entries
            .iter()
            .map(|values| curve.at.iter().zip(values).filter_map(|(&at, v)| v.map(|v| (at as f64, v))).collect())
            .collect();
        let named: Vec<(&str, &[(f64, f64)])> =
            labels.iter().zip(&series).map(|(l, s)| (l.as_str(), s.as_slice())).collect();
        chart(title, &named, theme).legend_position(None).render(chart_area, buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Vec<Chunk>]) -> Vec<String> {
        lines.iter().map(|l| l.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ")).collect()
    }

    #[test]
    fn wrapping_keeps_chunks_whole_and_loses_nothing() {
        let style = Style::default();
        let chunks =
            vec![Chunk::new("0.7950 ± 0.0012", style), Chunk::new("+0.0150", style), Chunk::new("beyond noise", style)];
        assert_eq!(texts(&wrap(&chunks, 40)), ["0.7950 ± 0.0012 +0.0150 beyond noise"]);
        assert_eq!(texts(&wrap(&chunks, 23)), ["0.7950 ± 0.0012 +0.0150", "beyond noise"]);
        assert_eq!(texts(&wrap(&chunks, 12)), ["0.7950 ± 0.0", "012 +0.0150", "beyond noise"]);
        assert_eq!(texts(&wrap(&[], 5)), [""]);
    }
}
