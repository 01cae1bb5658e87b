//! A run in detail, opened with Enter in the Runs panel: its status and wall time, its
//! metrics (validation at the best step and test: AUC, logloss, GAUC with the groups and
//! rows it averages over), the test metrics per group value, the validation curves (AUC
//! and logloss on their own axes), the experiment as recorded (config.toml) and its log.
//! It owns its state, draws itself and takes the keys while open; the Runs panel only
//! opens it. The numbers are the history's (`crate::runs::Run`), as `apg-bench runs show`
//! prints them.
//!
//! Everything below the header is one document that scrolls (j/k, pages, g/G) and jumps
//! from section to section (←/→). Where the screen is wide and tall enough the curves
//! stand beside it; else they are a section of it.

use std::cell::{Cell, RefCell};
use std::path::Path;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::format::{Format, duration, thousands};
use crate::runs::history::Run;
use crate::runs::{CONFIG_FILE, LOG_FILE};
use crate::train::{EvalMetrics, GroupMetrics};
use crate::tui::keys::Action;
use crate::tui::panels::buffer_lines;
use crate::tui::panels::train::chart;
use crate::tui::theme::Theme;

/// From this size on, the curves stand beside the document.
const CURVES_BESIDE: (u16, u16) = (120, 30);
/// The height of the curves where they are a section of the document.
const CURVES_HEIGHT: u16 = 14;

#[derive(Debug)]
pub struct DetailView {
    /// The run shown; its numbers are looked up in the history at every frame, so a
    /// reload (the run ended) shows at once.
    pub id: String,
    /// config.toml and log.txt as read when the view opened or the history reloaded.
    config: Vec<String>,
    log: Vec<String>,
    /// The first line of the document shown.
    pub scroll: usize,
    /// What the last frame measured, for the keys: the last scroll position, the page
    /// height and where each section starts.
    max_scroll: Cell<usize>,
    page_height: Cell<usize>,
    sections: RefCell<Vec<usize>>,
}

/// What a key asks of the Runs panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailReply {
    Nothing,
    Close,
}

impl DetailView {
    pub fn open(run: &Run) -> DetailView {
        let mut view = DetailView {
            id: run.id().to_string(),
            config: Vec::new(),
            log: Vec::new(),
            scroll: 0,
            max_scroll: Cell::new(0),
            page_height: Cell::new(1),
            sections: RefCell::new(Vec::new()),
        };
        view.reread(&run.dir);
        view
    }

    /// Reads config.toml and log.txt again (the run may still be writing its log).
    pub fn reread(&mut self, dir: &Path) {
        let lines = |file: &str| match crate::toml_error::read_regular(&dir.join(file)) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(error) => vec![format!("({}: {error})", dir.join(file).display())],
        };
        self.config = lines(CONFIG_FILE);
        self.log = lines(LOG_FILE);
    }

    pub fn apply(&mut self, action: Action) -> DetailReply {
        let page = self.page_height.get().max(2) - 1;
        let max = self.max_scroll.get();
        match action {
            Action::Close | Action::Select => return DetailReply::Close,
            Action::Down => self.scroll = (self.scroll + 1).min(max),
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::PageDown => self.scroll = (self.scroll + page).min(max),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(page),
            Action::Top => self.scroll = 0,
            Action::Bottom => self.scroll = max,
            Action::NextSection => {
                let next = self.sections.borrow().iter().copied().find(|&s| s > self.scroll);
                if let Some(start) = next {
                    self.scroll = start.min(max);
                }
            }
            Action::PreviousSection => {
                let previous = self.sections.borrow().iter().copied().rfind(|&s| s < self.scroll);
                self.scroll = previous.unwrap_or(0);
            }
            _ => {}
        }
        DetailReply::Nothing
    }

    /// Draws the run, or says that it is gone from the history.
    pub fn draw(&self, frame: &mut Frame, area: Rect, run: Option<&Run>, theme: &Theme) {
        let Some(run) = run else {
            let text = format!("Run {} is no longer in the history (Esc closes).", self.id);
            frame.render_widget(Paragraph::new(Line::styled(text, theme.bad())).wrap(Wrap { trim: true }), area);
            return;
        };
        let header = header_lines(run, theme);
        let width = area.width.max(1) as usize;
        let rows: usize = header.iter().map(|line| line.width().div_ceil(width).max(1)).sum();
        let header_height = (rows as u16).min(area.height / 2);
        let [header_area, body] = Layout::vertical([Constraint::Length(header_height), Constraint::Min(1)]).areas(area);
        frame.render_widget(Paragraph::new(header).wrap(Wrap { trim: false }), header_area);

        let beside = area.width >= CURVES_BESIDE.0 && area.height >= CURVES_BESIDE.1;
        let (document_area, curves_area) = if beside {
            let [document, curves] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
            (document, Some(curves))
        } else {
            (body, None)
        };
        let width = document_area.width as usize;
        let (lines, sections) = self.document(run, width, curves_area.is_none(), theme);
        *self.sections.borrow_mut() = sections;

        // The last line says where the document is.
        let page = (document_area.height as usize).saturating_sub(1).max(1);
        let max_scroll = lines.len().saturating_sub(page);
        self.max_scroll.set(max_scroll);
        self.page_height.set(page);
        let scroll = self.scroll.min(max_scroll);
        let [text_area, position_area] =
            Layout::vertical([Constraint::Length(page as u16), Constraint::Length(1)]).areas(document_area);
        let total = lines.len();
        let shown: Vec<Line> = lines.into_iter().skip(scroll).take(page).collect();
        frame.render_widget(Paragraph::new(shown), text_area);
        let last = (scroll + page).min(total);
        let position = format!("lines {}-{last} of {total} · j/k PgUp/PgDn g/G scroll · ←/→ sections", scroll + 1);
        frame.render_widget(Paragraph::new(Line::styled(position, theme.dim()).right_aligned()), position_area);
        if let Some(curves_area) = curves_area {
            render_curves(frame.buffer_mut(), run, curves_area, theme, true);
        }
    }

    /// The lines that scroll, each at most `width` wide, and the line where each section
    /// starts.
    fn document(&self, run: &Run, width: usize, with_curves: bool, theme: &Theme) -> (Vec<Line<'static>>, Vec<usize>) {
        let mut lines: Vec<Line<'static>> = Vec::new();
        let mut sections = Vec::new();
        let mut section = |lines: &mut Vec<Line<'static>>, title: String| {
            if !lines.is_empty() {
                lines.push(Line::raw(""));
            }
            sections.push(lines.len());
            lines.push(Line::styled(title, theme.title()));
        };
        section(&mut lines, "Metrics".into());
        lines.extend(metric_lines(run).into_iter().flat_map(|l| wrapped(&l, width, Style::default())));

        let groups = group_rows(run);
        section(&mut lines, format!("Test metrics per group value ({})", groups.len().saturating_sub(1)));
        if groups.len() <= 1 {
            lines.push(Line::styled("no group fields (metrics.group_fields) or no test yet", theme.dim()));
        } else {
            for (i, row) in aligned(&groups).into_iter().enumerate() {
                let style = if i == 0 { theme.dim() } else { Style::default() };
                lines.extend(wrapped(&row, width, style));
            }
        }
        if with_curves {
            section(&mut lines, "Validation curves".into());
            let area = Rect::new(0, 0, width as u16, CURVES_HEIGHT);
            let mut buffer = Buffer::empty(area);
            render_curves(&mut buffer, run, area, theme, false);
            lines.extend(buffer_lines(&buffer));
        }
        section(&mut lines, format!("Configuration as recorded ({CONFIG_FILE})"));
        lines.extend(self.config.iter().flat_map(|l| wrapped(l, width, Style::default())));
        section(&mut lines, format!("Log ({LOG_FILE}, {} lines)", self.log.len()));
        lines.extend(self.log.iter().flat_map(|l| wrapped(l, width, Style::default())));
        (lines, sections)
    }
}

/// The pinned lines: which run, how it ended, when and where.
fn header_lines(run: &Run, theme: &Theme) -> Vec<Line<'static>> {
    let m = &run.manifest;
    let r = &run.row;
    let status_style = match m.status {
        crate::runs::RunStatus::Finished => theme.good(),
        crate::runs::RunStatus::Failed | crate::runs::RunStatus::Interrupted => theme.bad(),
        _ => theme.accent(),
    };
    let mut lines = vec![
        Line::styled(format!("Run {} (Esc closes)", m.id), theme.title()),
        Line::from(vec![
            Span::styled(m.status.name().to_string(), status_style),
            Span::raw(format!(
                " · {} seed {} · wall {} · {} on {} · started {}",
                m.experiment,
                m.seed,
                r.wall_s.map_or("-".into(), duration),
                m.device,
                m.host,
                m.started
            )),
        ]),
        Line::styled(format!("model {}", r.model_label()), theme.dim()),
    ];
    if let Some(error) = &m.error {
        lines.push(Line::styled(format!("error: {error}"), theme.bad()));
    }
    if !m.tags.is_empty() {
        lines.push(Line::raw(format!("tags: {}", m.tags.join(", "))));
    }
    if !m.note.is_empty() {
        lines.push(Line::raw(format!("note: {}", m.note)));
    }
    lines
}

/// The metrics as aligned text: one row per metric, validation (at the best step) and test.
fn metric_lines(run: &Run) -> Vec<String> {
    let summary = run.summary.as_ref();
    let valid = summary.and_then(|s| s.best_valid.as_ref());
    let test = summary.and_then(|s| s.test.as_ref()).or(run.curves.last_test.as_ref());
    let best = run.row.best_step.map_or(String::new(), |s| format!(" (step {s})"));
    let metric = |v: Option<f64>| Format::Metric.maybe(v);
    let gauc_over = |m: Option<&EvalMetrics>| match m.map(|m| (m.gauc, m.gauc_groups, m.gauc_rows)) {
        Some((Some(_), Some(groups), Some(rows))) => {
            format!("{} groups, {} rows", thousands(groups as u64), thousands(rows as u64))
        }
        Some((Some(_), _, _)) => "groups not recorded".into(),
        _ => "-".into(),
    };
    let rows = vec![
        vec!["".into(), format!("valid, best{best}"), "test".into()],
        vec![
            "AUC".into(),
            metric(valid.and_then(|m| m.auc).or(run.row.best_valid_auc)),
            metric(test.and_then(|m| m.auc)),
        ],
        vec![
            "logloss".into(),
            metric(valid.map(|m| m.logloss).or(run.row.best_valid_logloss)),
            metric(test.map(|m| m.logloss)),
        ],
        vec![
            "GAUC".into(),
            metric(valid.and_then(|m| m.gauc).or(run.row.best_valid_gauc)),
            metric(test.and_then(|m| m.gauc)),
        ],
        vec!["GAUC over".into(), gauc_over(valid), gauc_over(test)],
        vec![
            "rows".into(),
            valid.map_or("-".into(), |m| thousands(m.rows as u64)),
            test.map_or("-".into(), |m| thousands(m.rows as u64)),
        ],
    ];
    let mut lines = aligned(&rows);
    if summary.is_none() {
        lines.push("(no summary.json yet: the numbers come from metrics.jsonl)".into());
    }
    lines
}

/// The per-group table: a header, then one row per group value of the test split, with
/// the validation AUC of the same value at the best step beside it.
fn group_rows(run: &Run) -> Vec<Vec<String>> {
    let summary = run.summary.as_ref();
    let valid = summary.and_then(|s| s.best_valid.as_ref()).map_or(&[][..], |m| m.groups.as_slice());
    let test = summary.and_then(|s| s.test.as_ref()).map_or(&run.row.test_groups[..], |m| m.groups.as_slice());
    let metric = |v: Option<f64>| Format::Metric.maybe(v);
    let mut rows =
        vec![["group", "rows", "positives", "valid AUC", "test AUC", "test logloss"].map(String::from).to_vec()];
    for g in test {
        let same = |v: &&GroupMetrics| v.field == g.field && v.value == g.value;
        rows.push(vec![
            format!("{} = {}", g.field, g.value),
            thousands(g.rows as u64),
            g.positives.map_or("-".into(), |p| thousands(p as u64)),
            metric(valid.iter().find(same).and_then(|v| v.auc)),
            metric(g.auc),
            metric(Some(g.logloss)),
        ]);
    }
    rows
}

/// Rows of cells as lines, each column as wide as its widest cell, two spaces between.
/// Numbers (every column but the first) are right-aligned.
fn aligned(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, &w))| if c == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// `text` broken into lines of at most `width` characters, so that nothing is cut off.
fn wrapped(text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![Line::raw("")];
    }
    chars.chunks(width.max(1)).map(|chunk| Line::styled(chunk.iter().collect::<String>(), style)).collect()
}

/// The validation AUC and logloss by step, each on its own axes: one above the other
/// (`stacked`, beside the document) or side by side.
fn render_curves(buffer: &mut Buffer, run: &Run, area: Rect, theme: &Theme, stacked: bool) {
    let valid = &run.curves.valid;
    let auc: Vec<(f64, f64)> = valid.iter().filter_map(|p| p.auc.map(|a| (p.step as f64, a))).collect();
    let logloss: Vec<(f64, f64)> = valid.iter().map(|p| (p.step as f64, p.logloss)).collect();
    let [auc_area, logloss_area] = if stacked {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    } else {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    };
    let label = run.manifest.experiment.as_str();
    for (title, points, chart_area) in [("valid AUC", &auc, auc_area), ("valid logloss", &logloss, logloss_area)] {
        chart(title, &[(label, points.as_slice())], theme).legend_position(None).render(chart_area, buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_long_lines_wrap_without_loss() {
        let rows = vec![vec!["a".to_string(), "1".into()], vec!["long".into(), "1,000".into()]];
        assert_eq!(aligned(&rows), ["a         1", "long  1,000"]);
        let lines: Vec<String> = wrapped("abcdefg", 3, Style::default()).iter().map(|l| l.to_string()).collect();
        assert_eq!(lines, ["abc", "def", "g"]);
    }
}
