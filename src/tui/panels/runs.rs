//! The Runs panel: the workspace's run history as a table (sort, filter expression, mark
//! with space); `c` opens the comparison of the marked runs (`panels::compare`, which
//! draws itself and takes the keys while open); export to Markdown or CSV. The engine is
//! `crate::runs`, shared with `apg-bench runs`.

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use crate::runs::compare::Comparison;
use crate::runs::filter::{Filter, SortKey};
use crate::runs::history::History;
use crate::tui::keys::{self, Action, Binding};
use crate::tui::panels::compare::{CompareView, Reply};
use crate::tui::scroll::{Motion, Viewport, scrollbar};
use crate::tui::shared::{Component, Effect, Panel, Shared};

/// Sort orders `o` cycles through.
const SORTS: [&str; 4] = ["-started", "-test.auc", "-valid.auc", "experiment"];

#[derive(Debug, Default)]
pub struct RunsState {
    pub history: Option<History>,
    pub error: Option<String>,
    /// Indices into `history.runs` after filtering and sorting.
    pub visible: Vec<usize>,
    pub selected: usize,
    pub marked: BTreeSet<String>,
    pub filter: String,
    pub filter_error: Option<String>,
    pub editing_filter: bool,
    pub sort: usize,
    /// The comparison of the marked runs, while it is open.
    pub compare: Option<CompareView>,
    /// The part of the run list on screen.
    pub view: Viewport,
}

impl RunsState {
    pub fn set_history(&mut self, history: Result<History, String>) {
        match history {
            Ok(history) => {
                self.marked.retain(|id| history.runs.iter().any(|r| r.id() == id));
                self.history = Some(history);
                self.error = None;
            }
            Err(error) => self.error = Some(error),
        }
        self.refresh();
    }

    /// Re-applies the filter and the sort.
    pub fn refresh(&mut self) {
        let Some(history) = &self.history else { return };
        let filter = if self.filter.trim().is_empty() {
            None
        } else {
            match Filter::parse(&self.filter) {
                Ok(f) => {
                    self.filter_error = None;
                    Some(f)
                }
                Err(e) => {
                    self.filter_error = Some(e.to_string().lines().next().unwrap_or_default().to_string());
                    None
                }
            }
        };
        let mut visible: Vec<usize> = (0..history.runs.len())
            .filter(|&i| filter.as_ref().is_none_or(|f| f.matches(&history.runs[i].row)))
            .collect();
        if let Ok(key) = SortKey::parse(SORTS[self.sort]) {
            visible.sort_by(|&a, &b| key.compare(&history.runs[a].row, &history.runs[b].row));
        }
        self.visible = visible;
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    /// Typing into the filter line: Enter applies, Esc cancels.
    pub fn edit_filter(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Enter => {
                self.editing_filter = false;
                self.refresh();
            }
            KeyCode::Esc => {
                self.editing_filter = false;
                self.filter.clear();
                self.filter_error = None;
                self.refresh();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => {}
        }
        Vec::new()
    }

    /// The open comparison's numbers.
    pub fn comparison(&self) -> Option<&Comparison> {
        self.compare.as_ref().map(|view| &view.comparison)
    }

    fn selected_id(&self) -> Option<String> {
        let history = self.history.as_ref()?;
        self.visible.get(self.selected).map(|&i| history.runs[i].id().to_string())
    }
}

impl Component for RunsState {
    fn bindings(&self) -> Vec<Binding> {
        if self.compare.is_some() { keys::compare_bindings() } else { keys::bindings(Panel::Runs) }
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        apply(self, shared, action)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(self, frame, area, shared)
    }
}

pub fn apply(state: &mut RunsState, shared: &mut Shared, action: Action) -> Vec<Effect> {
    if let (Some(view), Some(history)) = (&mut state.compare, &state.history) {
        match view.apply(action, history) {
            Reply::Nothing => {}
            Reply::Close => state.compare = None,
            Reply::Say(message) => shared.say(message),
            Reply::Export { markdown } => return vec![Effect::Export { markdown }],
        }
        return Vec::new();
    }
    match action {
        _ if Motion::of(action).is_some() => {
            if let Some(motion) = Motion::of(action) {
                state.selected = state.view.moved(state.selected, state.visible.len(), motion);
            }
        }
        Action::Mark => {
            if let Some(id) = state.selected_id()
                && !state.marked.remove(&id)
            {
                state.marked.insert(id);
            }
        }
        Action::Compare | Action::Select => open_comparison(state, shared),
        Action::EditFilter => state.editing_filter = true,
        Action::CycleSort => {
            state.sort = (state.sort + 1) % SORTS.len();
            state.refresh();
            shared.say(format!("sorted by {}", SORTS[state.sort]));
        }
        Action::Refresh => return vec![Effect::LoadRuns],
        Action::ExportMarkdown | Action::ExportCsv => {
            shared.say("mark runs with space and compare them (c) first");
        }
        _ => {}
    }
    Vec::new()
}

fn open_comparison(state: &mut RunsState, shared: &mut Shared) {
    let Some(history) = &state.history else { return };
    if state.marked.len() < 2 {
        shared.say("mark two or more runs with space, then press c");
        return;
    }
    match CompareView::open(history, state.marked.iter().cloned().collect()) {
        Ok(view) => {
            shared.say(view.summary());
            state.compare = Some(view);
        }
        Err(e) => shared.fail(format!("cannot compare: {e}")),
    }
}

pub fn draw(state: &RunsState, frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let block =
        |title: String| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    if let Some(view) = &state.compare {
        view.draw(frame, area, theme);
        return;
    }
    let [filter_area, table_area] = Layout::vertical([Constraint::Length(3), Constraint::Min(5)]).areas(area);
    let filter_line = match (&state.filter_error, state.editing_filter) {
        (_, true) => Line::from(vec![
            Span::raw(format!("filter: {}", state.filter)),
            Span::styled("▏ (Enter apply, Esc clear)", theme.accent()),
        ]),
        (Some(error), false) => Line::styled(format!("filter: {}  — {error}", state.filter), theme.bad()),
        (None, false) if state.filter.is_empty() => Line::styled(
            format!(
                "/ filter (e.g. test.auc > 0.8 and condition.mode = group)   sort {}   space mark   c compare",
                SORTS[state.sort]
            ),
            theme.dim(),
        ),
        (None, false) => Line::raw(format!("filter: {}   sort {}", state.filter, SORTS[state.sort])),
    };
    frame.render_widget(Paragraph::new(filter_line).block(block("Filter".into())), filter_area);
    let Some(history) = &state.history else {
        let text = state.error.clone().unwrap_or_else(|| "reading the run history...".into());
        frame.render_widget(Paragraph::new(text).block(block("Runs".into())), table_area);
        return;
    };
    let auc = |v: Option<f64>| v.map_or("-".to_string(), |a| format!("{a:.4}"));
    // Borders and the header take three rows.
    let shown = state.view.window(state.selected, state.visible.len(), table_area.height.saturating_sub(3) as usize);
    let rows: Vec<Row> = state.visible[shown.clone()]
        .iter()
        .zip(shown.clone())
        .map(|(&r, i)| {
            let run = &history.runs[r];
            let row = &run.row;
            let mark = if state.marked.contains(run.id()) { "●" } else { " " };
            let cells = vec![
                mark.to_string(),
                started_short(&row.started),
                row.experiment.clone(),
                row.seed.to_string(),
                row.status.name().to_string(),
                auc(row.best_valid_auc),
                auc(row.test_auc),
                row.test_logloss.map_or("-".into(), |l| format!("{l:.4}")),
                row.model_label(),
            ];
            let line = Row::new(cells);
            if i == state.selected { line.style(theme.selected()) } else { line }
        })
        .collect();
    // What tells runs apart comes first and is never cut: when, which experiment, which
    // seed, how it ended and its numbers; the model description takes what is left.
    let experiment_width = state.visible[shown.clone()]
        .iter()
        .map(|&r| history.runs[r].row.experiment.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(10, 28) as u16;
    let widths = [
        Constraint::Length(1),
        Constraint::Length(11),
        Constraint::Length(experiment_width),
        Constraint::Length(4),
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Fill(1),
    ];
    let header = Row::new(["", "started", "experiment", "seed", "status", "vAUC", "tAUC", "logloss", "model"])
        .style(theme.title());
    let problems = history.all_problems().count();
    let title = format!(
        "Runs: {} of {} shown, {} marked{}",
        state.visible.len(),
        history.runs.len(),
        state.marked.len(),
        if problems > 0 { format!(", {problems} unreadable files (see `apg-bench runs list`)") } else { String::new() }
    );
    frame.render_widget(Table::new(rows, widths).header(header).block(block(title)), table_area);
    scrollbar(frame, table_area, state.visible.len(), &shown);
}

/// `MM-DD HH:MM` of an RFC 3339 time (UTC), or the text as it is.
fn started_short(started: &str) -> String {
    match (started.get(5..10), started.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => started.to_string(),
    }
}
