//! The Data panel: the workspace's dataset, its splits, the schema table and, for the
//! selected field, rows and label rate per value as bars (a list that scrolls through
//! every value the statistics keep), the long tail, and (for condition candidates) how
//! much the values differ. The datasets it offers follow the
//! experiments: the workspace's own, then every other one an experiment uses.

use std::path::Path;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use crate::data::stats::FieldStats;
use crate::format::{percent, thousands};
use crate::tui::keys::{self, Action, Binding};
use crate::tui::mouse::{Mouse, select_in};
use crate::tui::panels::bar;
use crate::tui::panels::{rows_area, search_prompt};
use crate::tui::scroll::{Motion, Viewport, scrollbar};
use crate::tui::search::{Search, SearchReply};
use crate::tui::shared::{Component, Effect, ExperimentEntry, Panel, Shared};

/// What the Data panel shows besides the statistics (those are shared).
#[derive(Debug, Clone, Default)]
pub struct DataState {
    /// The datasets of the workspace: its default, then those its experiments use
    /// (built-in names or descriptor paths), without repeats.
    pub datasets: Vec<String>,
    pub loading: bool,
    /// When the current load started, for the progress indicator.
    pub loading_since: Option<std::time::Instant>,
    pub error: Option<String>,
    pub load_note: String,
    pub field: usize,
    /// The part of the field list on screen.
    pub fields_view: Viewport,
    /// `/` over the field names.
    pub search: Search,
    /// The keys move through the selected field's values (→) instead of the fields (←).
    pub values_focus: bool,
    /// The selected row of the field's values.
    pub value: usize,
    /// The part of the field's values on screen.
    pub values_view: Viewport,
}

impl DataState {
    /// The dataset list for `shared`'s experiments; the one shown stays shown while an
    /// experiment still uses it, else the panel goes back to the workspace's dataset.
    pub fn sync_datasets(&mut self, shared: &mut Shared) -> Vec<Effect> {
        self.datasets = dataset_references(&shared.workspace.dataset_reference(), &shared.experiments);
        if self.datasets.contains(&shared.dataset) {
            return Vec::new();
        }
        self.show(0, shared)
    }

    fn current(&self, shared: &Shared) -> usize {
        self.datasets.iter().position(|d| *d == shared.dataset).unwrap_or(0)
    }

    fn show(&mut self, index: usize, shared: &mut Shared) -> Vec<Effect> {
        shared.dataset = self.datasets.get(index).cloned().unwrap_or_else(|| shared.workspace.dataset_reference());
        shared.stats = None;
        self.field = 0;
        self.value = 0;
        self.values_focus = false;
        vec![Effect::LoadData]
    }
}

/// The workspace's dataset first, then every other dataset an experiment uses.
pub fn dataset_references(workspace_dataset: &str, experiments: &[ExperimentEntry]) -> Vec<String> {
    let mut references = vec![workspace_dataset.to_string()];
    for experiment in experiments.iter().filter_map(|e| e.good.as_ref()) {
        let file = &experiment.dataset.file;
        let reference = match file.strip_prefix("<built-in>") {
            Ok(name) => name.with_extension("").display().to_string(),
            Err(_) => file.display().to_string(),
        };
        // Descriptor files compare by their real path (`a/../b.toml` is `b.toml`).
        let real = |r: &str| std::fs::canonicalize(Path::new(r)).ok();
        let same = |r: &String| *r == reference || (real(r).is_some() && real(r) == real(&reference));
        if !references.iter().any(same) {
            references.push(reference);
        }
    }
    references
}

impl Component for DataState {
    fn bindings(&self) -> Vec<Binding> {
        keys::bindings(Panel::Data)
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        let field = shared.stats.as_ref().and_then(|s| s.fields.get(self.field));
        let values = field.map_or(0, |f| f.top.len());
        if let Some(motion) = Motion::of(action) {
            if self.values_focus {
                self.value = self.values_view.moved(self.value, values, motion);
            } else {
                let fields = shared.stats.as_ref().map_or(0, |s| s.fields.len());
                let moved = self.fields_view.moved(self.field, fields, motion);
                // Another field's values start from the top.
                if moved != self.field {
                    self.value = 0;
                }
                self.field = moved;
            }
            return Vec::new();
        }
        match action {
            Action::Search => {
                self.values_focus = false;
                self.search.open(self.field);
            }
            Action::Right if values > 0 => self.values_focus = true,
            Action::Right if field.is_some() => shared.say("this field has no values to scroll (a dense field)"),
            Action::Left => self.values_focus = false,
            Action::Refresh => return vec![Effect::LoadData],
            Action::NextDataset if self.datasets.len() > 1 => {
                let next = (self.current(shared) + 1) % self.datasets.len();
                return self.show(next, shared);
            }
            Action::NextDataset => shared.say("this workspace uses one dataset"),
            _ => {}
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(self, frame, area, shared)
    }

    fn takes_text(&self) -> bool {
        self.search.active
    }

    fn on_text(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        let names: Vec<String> =
            shared.stats.as_ref().map_or(Vec::new(), |s| s.fields.iter().map(|f| f.name.clone()).collect());
        if let SearchReply::MoveTo(row) = self.search.on_key(key, &names, self.field) {
            if row != self.field {
                self.value = 0;
            }
            self.field = row;
        }
        Vec::new()
    }

    /// A click or the wheel on the fields moves through them, on the values through
    /// those (and the keys follow to the list the pointer was on).
    fn on_mouse(&mut self, mouse: Mouse, shared: &mut Shared) -> Vec<Effect> {
        let Some(stats) = shared.stats.as_ref() else { return Vec::new() };
        if let Some(row) = select_in(&self.fields_view, mouse, self.field, stats.fields.len()) {
            if row != self.field {
                self.value = 0;
            }
            self.field = row;
            self.values_focus = false;
        } else {
            let values = stats.fields.get(self.field).map_or(0, |f| f.top.len());
            if let Some(row) = select_in(&self.values_view, mouse, self.value, values) {
                self.value = row;
                self.values_focus = true;
            }
        }
        Vec::new()
    }
}

fn draw(state: &DataState, frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let block =
        |title: &str| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    let Some(stats) = &shared.stats else {
        let text = match (&state.error, state.loading) {
            (Some(error), _) => vec![
                Line::styled(format!("could not load the dataset: {error}"), theme.bad()),
                Line::raw("press r to retry"),
            ],
            (None, true) => {
                let dataset = shared.dataset.clone();
                let seconds = state.loading_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
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
                state.load_note
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
    let title = if state.datasets.len() > 1 {
        format!("Dataset {} of {} (d: next)", state.current(shared) + 1, state.datasets.len())
    } else {
        "Dataset".to_string()
    };
    frame.render_widget(Paragraph::new(summary).block(block(&title)), top);

    let [schema, detail] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(bottom);
    // Borders and the header take three rows.
    let shown = state.fields_view.window(state.field, stats.fields.len(), schema.height.saturating_sub(3) as usize);
    // Narrow (80 columns): no top value, and names cut in the middle so that
    // `user_activity` and `user_activity_q` stay apart.
    let wide = schema.width >= 62;
    let fixed = if wide { 8 + 7 + 7 + 7 + 10 + 5 } else { 8 + 7 + 7 + 7 + 4 };
    let longest = stats.fields.iter().map(|f| f.name.chars().count()).max().unwrap_or(0).max(5);
    let name_width = (schema.width.saturating_sub(2 + fixed) as usize).clamp(6, longest.max(6));
    let rows: Vec<Row> = stats.fields[shown.clone()]
        .iter()
        .zip(shown.clone())
        .map(|(f, i)| {
            let dense = f.dense.is_some();
            let mut cells = vec![
                middle_cut(&f.name, name_width),
                // Short kinds keep the table readable at 80 columns; * marks derived fields.
                match (f.kind.name(), f.derived) {
                    ("multi_categorical", _) => "multi".to_string(),
                    ("categorical", true) => "derived*".to_string(),
                    ("categorical", false) => "categ.".to_string(),
                    (kind, _) => kind.to_string(),
                },
                if dense { "-".into() } else { thousands(f.cardinality as u64) },
                percent(1.0 - f.missing_share),
                if dense { "-".into() } else { percent(f.oov_share_heldout) },
            ];
            if wide {
                cells.push(f.top.first().map_or("-".into(), |v| v.value.clone()));
            }
            let row = Row::new(cells);
            if i == state.field { row.style(theme.selected()) } else { row }
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(name_width as u16),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    let mut header = vec!["field", "kind", "values", "covered", "OOV h/o"];
    if wide {
        widths.push(Constraint::Min(10));
        header.push("top value");
    }
    let header = Row::new(header).style(theme.title());
    let title = format!("Schema: {} fields", stats.fields.len());
    frame.render_widget(Table::new(rows, widths).header(header).block(block(&title)), schema);
    scrollbar(frame, schema, stats.fields.len(), &shown);
    state.fields_view.place(rows_area(schema, 1));
    if state.search.active {
        search_prompt(frame, schema, &state.search, theme);
    }

    let Some(field) = stats.fields.get(state.field) else { return };
    let heading = Line::styled(format!("{} — {}", field.name, field.origin), theme.accent());
    if let Some([mean, std, min, max]) = field.dense {
        let lines = vec![heading, Line::raw(format!("mean {mean:.3}, std {std:.3}, range [{min:.3}, {max:.3}]"))];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block("Field")), detail);
        return;
    }
    let mut about = vec![heading];
    if !field.long_tail.is_empty() {
        let tail: Vec<String> =
            field.long_tail.iter().take(4).map(|(v, r)| format!("{}→{}", percent(*v), percent(*r))).collect();
        about.push(Line::raw(format!("long tail (top values → rows): {}", tail.join(" "))));
    }
    if let Some(c) = stats.conditions.iter().find(|c| c.field == field.name) {
        about.push(Line::styled("as an APG condition:", theme.title()));
        about.push(Line::raw(format!(
            "{} values, rows per value {} / {} / {} (min/median/max)",
            c.values,
            thousands(c.rows_min),
            thousands(c.rows_median),
            thousands(c.rows_max)
        )));
        about.push(Line::raw(format!(
            "label-rate spread {:.4}, label JS {:.4}, feature JS {:.4}",
            c.label_rate_spread, c.label_divergence, c.mean_field_divergence
        )));
    }
    // The values take what the field's description leaves, at least a few rows.
    let inner = detail.width.saturating_sub(2).max(1) as usize;
    let about_height: usize = about.iter().map(|l| l.width().div_ceil(inner).max(1)).sum::<usize>() + 2;
    let [values_area, about_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(about_height as u16)]).areas(detail);
    draw_values(state, frame, values_area, field, shared);
    frame.render_widget(Paragraph::new(about).wrap(Wrap { trim: false }).block(block("Field")), about_area);
}

/// The selected field's values, most frequent first, with rows and click rate: a list
/// that scrolls once → has moved the keys to it.
fn draw_values(state: &DataState, frame: &mut Frame, area: Rect, field: &FieldStats, shared: &Shared) {
    let theme = &shared.theme;
    let values = &field.top;
    // Borders and the header take three rows.
    let shown = state.values_view.window(state.value, values.len(), area.height.saturating_sub(3) as usize);
    state.values_view.place(Rect::new(area.x + 1, area.y + 2, area.width.saturating_sub(2), shown.len() as u16));
    let count = if values.is_empty() {
        "No values".to_string()
    } else {
        format!("Values {}-{} of {}", shown.start + 1, shown.end, thousands(values.len() as u64))
    };
    // The statistics hold the most frequent values only: say how many there are in all.
    let held = if field.distinct > values.len() {
        format!(" ({} in all)", thousands(field.distinct as u64))
    } else {
        String::new()
    };
    let hint = match (state.values_focus, shown.len() < values.len()) {
        (true, _) => " (← fields)",
        (false, true) => " (→ scrolls)",
        (false, false) => "",
    };
    let border = if state.values_focus { theme.accent() } else { Style::default() };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(format!(" {count}{held}{hint} "), theme.title()));

    let most = values.first().map_or(1, |v| v.rows).max(1);
    let label_width = values.iter().map(|v| v.value.chars().count()).max().unwrap_or(4).clamp(5, 16);
    // The bar takes what the panel leaves after the name, the count and the rate.
    let inner = area.width.saturating_sub(2) as usize;
    let bar_cells = inner.saturating_sub(label_width + 18).clamp(3, 12);
    let column = bar_cells + 8;
    let mut lines = vec![Line::styled(format!("{:label_width$}  rows (bar)  clicks", "value"), theme.dim())];
    for (value, i) in values[shown.clone()].iter().zip(shown.clone()) {
        let name: String = value.value.chars().take(label_width).collect();
        let line = Line::raw(format!(
            "{name:label_width$}  {:<column$} {:>6}",
            bar(value.rows as f64 / most as f64, bar_cells) + &format!(" {}", thousands(value.rows)),
            percent(value.label_rate)
        ));
        lines.push(if state.values_focus && i == state.value { line.style(theme.selected()) } else { line });
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
    scrollbar(frame, area, values.len(), &shown);
}

/// `text` in at most `width` characters: whole when it fits, else its start and its end
/// around a `…`, so that names sharing a prefix stay apart.
fn middle_cut(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_string();
    }
    if width < 3 {
        return chars[..width].iter().collect();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{start}…{end}")
}

#[cfg(test)]
mod tests {
    use super::middle_cut;

    #[test]
    fn long_names_keep_their_start_and_end() {
        assert_eq!(middle_cut("user", 10), "user");
        assert_eq!(middle_cut("user_activity", 10), "user_…vity");
        assert_eq!(middle_cut("user_activity_q", 10), "user_…ty_q");
        assert_eq!(middle_cut("user_activity_q", 10).chars().count(), 10);
    }
}
