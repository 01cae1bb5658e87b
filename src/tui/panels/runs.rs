//! The Runs panel: the workspace's run history as a table (sort, filter expression, marks);
//! Enter opens the selected run in detail (`panels::detail`) and `c` the comparison of the
//! marked runs (`panels::compare`), each drawing itself and taking the keys while open;
//! tag, note and trash runs (asked on the top line); export to Markdown or CSV. The engine
//! is `crate::runs`, shared with `apg-bench runs`: the edits are its `edit` functions, the
//! same files and atomic writes as `apg-bench runs tag|note|rm`.

use std::collections::BTreeSet;
use std::path::Path;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Margin, Offset, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use crate::format::{duration, fit_count, fit_decimal};
use crate::runs::compare::Comparison;
use crate::runs::edit;
use crate::runs::filter::{Filter, SortKey};
use crate::runs::history::{History, Run};
use crate::runs::watch::RunsEvent;
use crate::tui::keys::{self, Action, Binding};
use crate::tui::mouse::{Mouse, WHEEL_ROWS, select_in};
use crate::tui::panels::compare::{CompareView, Reply};
use crate::tui::panels::detail::{DetailReply, DetailView};
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
    /// The selected run in detail, while it is open.
    pub detail: Option<DetailView>,
    /// The question on the top line (tag, note, trash), while it is asked.
    pub prompt: Option<Prompt>,
    /// The run marked last, where a range mark (`V`) starts.
    pub anchor: Option<String>,
    /// The part of the run list on screen.
    pub view: Viewport,
}

/// What the top line asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// A tag to add (`-tag` removes it).
    Tag,
    /// The note (empty clears it).
    Note,
    /// y/n: move the runs to the trash.
    Trash,
}

/// A question about some runs, answered on the top line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    /// The runs it is about: the marked ones, else the selected one.
    pub targets: Vec<String>,
    /// What has been typed.
    pub text: String,
}

impl RunsState {
    /// A new history (read at start, on `r`, after an edit, or when the watcher saw a run
    /// appear or change): marks and the selection stay on the same runs, by id.
    pub fn set_history(&mut self, history: Result<History, String>) {
        let selected = self.selected_id();
        match history {
            Ok(history) => {
                self.marked.retain(|id| history.runs.iter().any(|r| r.id() == id));
                if let Some(detail) = &mut self.detail
                    && let Some(run) = history.runs.iter().find(|r| r.id() == detail.id)
                {
                    detail.reread(&run.dir);
                }
                self.history = Some(history);
                self.error = None;
            }
            Err(error) => self.error = Some(error),
        }
        self.refresh();
        if let Some(position) = selected.and_then(|id| self.position_of(&id)) {
            self.selected = position;
        }
    }

    /// Where run `id` is among the visible rows.
    fn position_of(&self, id: &str) -> Option<usize> {
        let history = self.history.as_ref()?;
        self.visible.iter().position(|&i| history.runs[i].id() == id)
    }

    /// Whether keys go to a line being typed (the filter or a prompt) rather than to the
    /// key map.
    /// The runs an edit acts on: the marked ones, else the selected one.
    fn targets(&self) -> Vec<String> {
        if self.marked.is_empty() {
            self.selected_id().into_iter().collect()
        } else {
            self.marked.iter().cloned().collect()
        }
    }

    fn ids_shown(&self) -> Vec<String> {
        let Some(history) = &self.history else { return Vec::new() };
        self.visible.iter().map(|&i| history.runs[i].id().to_string()).collect()
    }

    fn mark(&mut self, id: String) {
        self.anchor = Some(id.clone());
        self.marked.insert(id);
    }

    /// Re-applies the filter and the sort.
    pub fn refresh(&mut self) {
        let Some(history) = &self.history else { return };
        let text = self.filter.trim();
        // An expression (`test.auc > 0.8 and condition.mode = group`), or else one plain
        // word, looked for in the run's id, experiment, tags and note.
        let mut word = None;
        let filter = if text.is_empty() {
            None
        } else {
            match Filter::parse(text) {
                Ok(f) => {
                    self.filter_error = None;
                    Some(f)
                }
                Err(_) if is_plain_word(text) => {
                    self.filter_error = None;
                    word = Some(text.to_lowercase());
                    None
                }
                Err(e) => {
                    self.filter_error = Some(e.to_string().lines().next().unwrap_or_default().to_string());
                    None
                }
            }
        };
        let mentions = |run: &Run, word: &str| {
            let m = &run.manifest;
            [m.id.as_str(), m.experiment.as_str(), m.note.as_str()]
                .into_iter()
                .chain(m.tags.iter().map(String::as_str))
                .any(|text| text.to_lowercase().contains(word))
        };
        let mut visible: Vec<usize> = (0..history.runs.len())
            .filter(|&i| filter.as_ref().is_none_or(|f| f.matches(&history.runs[i].row)))
            .filter(|&i| word.as_deref().is_none_or(|w| mentions(&history.runs[i], w)))
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

    /// The run shown in detail, if it is still in the history.
    fn detail_run(&self) -> Option<&Run> {
        let id = &self.detail.as_ref()?.id;
        self.history.as_ref()?.runs.iter().find(|r| r.id() == id)
    }
}

/// The keys in effect in the Runs panel and what they belong to (for the help): the open
/// detail's, the open comparison's, or the list's.
pub fn bindings(state: &RunsState) -> (Vec<Binding>, &'static str) {
    if state.detail.is_some() {
        (keys::detail_bindings(), "Runs panel, a run in detail")
    } else if state.compare.is_some() {
        (keys::compare_bindings(), "Runs panel, comparison")
    } else {
        (keys::bindings(Panel::Runs), "Runs panel")
    }
}

/// The runs watcher saw run folders change: read the history again (the selection and
/// the marks stay on their runs, see [`RunsState::set_history`]).
pub fn on_watch(shared: &mut Shared, event: RunsEvent) -> Vec<Effect> {
    match event {
        RunsEvent::Changed { .. } => vec![Effect::LoadRuns],
        RunsEvent::Error(error) => {
            shared.fail(format!("runs watcher: {error}"));
            Vec::new()
        }
    }
}

/// A key typed into the filter line or the prompt.
pub fn type_key(state: &mut RunsState, shared: &mut Shared, key: KeyEvent) -> Vec<Effect> {
    if state.editing_filter {
        return state.edit_filter(key);
    }
    let Some(prompt) = &mut state.prompt else { return Vec::new() };
    let answer = match (prompt.kind, key.code) {
        (PromptKind::Trash, KeyCode::Char('y' | 'Y')) => true,
        (PromptKind::Trash, _) | (_, KeyCode::Esc) => {
            state.prompt = None;
            shared.say("cancelled: nothing changed");
            return Vec::new();
        }
        (_, KeyCode::Enter) => true,
        (_, KeyCode::Backspace) => {
            prompt.text.pop();
            false
        }
        (_, KeyCode::Char(c)) => {
            prompt.text.push(c);
            false
        }
        _ => false,
    };
    if !answer {
        return Vec::new();
    }
    let Some(prompt) = state.prompt.take() else { return Vec::new() };
    let (message, failed) = carry_out(&shared.workspace.root, &prompt);
    if failed {
        shared.fail(message)
    } else {
        shared.say(message)
    }
    vec![Effect::LoadRuns]
}

/// Tags, notes or trashes the prompt's runs through the engine, one by one; returns what
/// the status line says: how many were changed and the first error, if any.
fn carry_out(workspace: &Path, prompt: &Prompt) -> (String, bool) {
    let text = prompt.text.trim();
    let (tag, remove) = match text.strip_prefix('-') {
        Some(tag) => (tag, true),
        None => (text, false),
    };
    let mut done = 0;
    let mut errors = Vec::new();
    for id in &prompt.targets {
        let result = match prompt.kind {
            PromptKind::Tag => edit::tag(workspace, id, tag, remove).map(drop),
            PromptKind::Note => edit::note(workspace, id, text).map(drop),
            PromptKind::Trash => edit::trash(workspace, id).map(drop),
        };
        match result {
            Ok(()) => done += 1,
            Err(error) => errors.push(error.to_string()),
        }
    }
    let runs = |n: usize| if n == 1 { "1 run".to_string() } else { format!("{n} runs") };
    let what = match prompt.kind {
        PromptKind::Tag if remove => format!("removed the tag `{tag}` from {}", runs(done)),
        PromptKind::Tag => format!("tagged {} `{tag}`", runs(done)),
        PromptKind::Note if text.is_empty() => format!("cleared the note of {}", runs(done)),
        PromptKind::Note => format!("set the note of {}", runs(done)),
        PromptKind::Trash => {
            format!("moved {} to the trash (.trash/; `apg-bench runs restore ID` brings one back)", runs(done))
        }
    };
    match errors.first() {
        None => (what, false),
        Some(first) if done == 0 => (format!("nothing changed: {}", first.lines().next().unwrap_or_default()), true),
        Some(first) => (format!("{what}; {} failed: {}", errors.len(), first.lines().next().unwrap_or_default()), true),
    }
}

/// Asks about the marked runs (else the selected one).
fn ask(state: &mut RunsState, shared: &mut Shared, kind: PromptKind) {
    let targets = state.targets();
    if targets.is_empty() {
        shared.say("no run to change");
        return;
    }
    // One run's note is edited from what it says now.
    let text = match (kind, targets.as_slice(), &state.history) {
        (PromptKind::Note, [one], Some(history)) => {
            history.runs.iter().find(|r| r.id() == one).map(|r| r.manifest.note.clone()).unwrap_or_default()
        }
        _ => String::new(),
    };
    state.prompt = Some(Prompt { kind, targets, text });
}

impl Component for RunsState {
    fn bindings(&self) -> Vec<Binding> {
        bindings(self).0
    }

    fn takes_text(&self) -> bool {
        self.editing_filter || self.prompt.is_some()
    }

    fn on_text(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        type_key(self, shared, key)
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        apply(self, shared, action)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(self, frame, area, shared)
    }

    /// The wheel scrolls the open detail or comparison, or the list; a click selects a
    /// run, and a click on the selected run opens it in detail (as Enter does).
    fn on_mouse(&mut self, mouse: Mouse, shared: &mut Shared) -> Vec<Effect> {
        if self.takes_text() {
            return Vec::new();
        }
        if self.detail.is_some() || self.compare.is_some() {
            if let Mouse::Wheel { down, .. } = mouse {
                let step = if down { Action::Down } else { Action::Up };
                for _ in 0..WHEEL_ROWS {
                    apply(self, shared, step);
                }
            }
            return Vec::new();
        }
        let before = self.selected;
        if let Some(row) = select_in(&self.view, mouse, self.selected, self.visible.len()) {
            self.selected = row;
            if matches!(mouse, Mouse::Click { .. }) && row == before {
                open_detail(self, shared);
            }
        }
        Vec::new()
    }
}

pub fn apply(state: &mut RunsState, shared: &mut Shared, action: Action) -> Vec<Effect> {
    if let Some(view) = &mut state.detail {
        if view.apply(action) == DetailReply::Close {
            state.detail = None;
        }
        return Vec::new();
    }
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
                state.mark(id);
            }
        }
        Action::MarkDown | Action::MarkUp => {
            if let Some(id) = state.selected_id() {
                state.mark(id);
            }
            let motion = if action == Action::MarkDown { Motion::Down } else { Motion::Up };
            state.selected = state.view.moved(state.selected, state.visible.len(), motion);
            if let Some(id) = state.selected_id() {
                state.mark(id);
            }
        }
        Action::MarkAll => {
            let shown = state.ids_shown();
            shared.say(format!("marked the {} runs shown", shown.len()));
            state.marked.extend(shown);
        }
        Action::ClearMarks => {
            if !state.marked.is_empty() {
                shared.say(format!("cleared {} marks", state.marked.len()));
            }
            state.marked.clear();
            state.anchor = None;
        }
        Action::MarkRange => mark_range(state, shared),
        Action::Tag => ask(state, shared, PromptKind::Tag),
        Action::Note => ask(state, shared, PromptKind::Note),
        Action::Delete => ask(state, shared, PromptKind::Trash),
        Action::Select => open_detail(state, shared),
        Action::Inspect => {
            let run = state.history.as_ref().and_then(|h| state.visible.get(state.selected).map(|&i| &h.runs[i]));
            match run {
                Some(run) => return vec![Effect::OpenInspect { dir: run.dir.clone(), id: run.id().to_string() }],
                None => shared.say("no run to inspect"),
            }
        }
        Action::Compare => open_comparison(state, shared),
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

/// Marks the rows from the last marked one to the cursor (both included).
fn mark_range(state: &mut RunsState, shared: &mut Shared) {
    let from = state.anchor.as_deref().and_then(|id| state.position_of(id));
    let Some(from) = from else {
        shared.say("mark a run with space first: V marks from it to the cursor");
        return;
    };
    let to = state.selected;
    let ids = state.ids_shown();
    let range = &ids[from.min(to)..=from.max(to).min(ids.len().saturating_sub(1))];
    shared.say(format!("marked {} runs", range.len()));
    state.marked.extend(range.iter().cloned());
    state.anchor = state.selected_id();
}

fn open_detail(state: &mut RunsState, shared: &mut Shared) {
    let run = state.selected_id().and_then(|id| state.history.as_ref()?.runs.iter().find(|r| r.id() == id));
    match run {
        Some(run) => {
            shared.say(format!("{}: Esc closes, ←/→ sections, j/k scroll", run.id()));
            state.detail = Some(DetailView::open(run));
        }
        None => shared.say("no run selected"),
    }
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

/// Opens the comparison of the configurations of `runs` (one run each), the first as
/// the baseline, in front of the list (a study's report from the Train panel).
pub fn compare_groups(state: &mut RunsState, shared: &mut Shared, runs: Vec<String>) {
    let Some(history) = &state.history else {
        shared.say("the run history is still loading: try again in a moment");
        return;
    };
    match CompareView::open_groups(history, runs) {
        Ok(view) => {
            shared.say(view.summary());
            state.detail = None;
            state.compare = Some(view);
        }
        Err(e) => shared.fail(format!("cannot compare: {e}")),
    }
}

pub fn draw(state: &RunsState, frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let block =
        |title: String| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    if let Some(view) = &state.detail {
        view.draw(frame, area, state.detail_run(), theme);
        return;
    }
    if let Some(view) = &state.compare {
        view.draw(frame, area, theme);
        return;
    }
    let (title, top_line) = match &state.prompt {
        Some(prompt) => prompt_line(prompt, theme),
        None => ("Filter", filter_line(state, theme)),
    };
    // A question naming many runs wraps over a few lines; the filter line keeps to one.
    let inner = area.width.saturating_sub(2).max(1) as usize;
    // (Wrapping between words may take a line more than the width alone says.)
    let lines = match top_line.width().div_ceil(inner) as u16 {
        n if n > 1 && state.prompt.is_some() => n + 1,
        _ => 1,
    };
    let top_height = lines.clamp(1, 4) + 2;
    let [top_area, table_area] = Layout::vertical([Constraint::Length(top_height), Constraint::Min(5)]).areas(area);
    frame.render_widget(Paragraph::new(top_line).wrap(Wrap { trim: false }).block(block(title.into())), top_area);
    let Some(history) = &state.history else {
        let text = state.error.clone().unwrap_or_else(|| "reading the run history...".into());
        frame.render_widget(Paragraph::new(text).block(block("Runs".into())), table_area);
        return;
    };
    // Borders and the header take three rows.
    let shown = state.view.window(state.selected, state.visible.len(), table_area.height.saturating_sub(3) as usize);
    let runs: Vec<&Run> = state.visible[shown.clone()].iter().map(|&r| &history.runs[r]).collect();
    let columns = plan_columns(&runs, &state.marked, table_area.width.saturating_sub(2) as usize);
    let header = Row::new(columns.iter().map(|c| c.header_text())).style(theme.title());
    let rows: Vec<Row> = (0..runs.len())
        .zip(shown.clone())
        .map(|(row, i)| {
            let line = Row::new(columns.iter().map(|c| c.text(row)));
            if i == state.selected { line.style(theme.selected()) } else { line }
        })
        .collect();
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| if c.header == "model" { Constraint::Fill(1) } else { Constraint::Length(c.width as u16) })
        .collect();
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
    // Inside the border, below the header line.
    state.view.place(table_area.inner(Margin { vertical: 1, horizontal: 1 }).offset(Offset { x: 0, y: 1 }));
}

/// The filter line: the expression being typed, its error, or how to start one.
fn filter_line(state: &RunsState, theme: &crate::tui::theme::Theme) -> Line<'static> {
    match (&state.filter_error, state.editing_filter) {
        (_, true) => Line::from(vec![
            Span::raw(format!("filter: {}", state.filter)),
            Span::styled("▏ (Enter apply, Esc clear)", theme.accent()),
        ]),
        (Some(error), false) => Line::styled(format!("filter: {}  — {error}", state.filter), theme.bad()),
        (None, false) if state.filter.is_empty() => Line::styled(
            format!(
                "/ filter (e.g. test.auc > 0.8 and condition.mode = group, or a word)   sort {}   space mark   c compare",
                SORTS[state.sort]
            ),
            theme.dim(),
        ),
        (None, false) => Line::raw(format!("filter: {}   sort {}", state.filter, SORTS[state.sort])),
    }
}

/// The question asked, naming the runs it is about.
fn prompt_line(prompt: &Prompt, theme: &crate::tui::theme::Theme) -> (&'static str, Line<'static>) {
    let runs = match prompt.targets.as_slice() {
        [one] => one.clone(),
        many => format!("{} marked runs", many.len()),
    };
    match prompt.kind {
        PromptKind::Tag => (
            "Tag",
            Line::from(vec![
                Span::raw(format!("tag {runs}: {}", prompt.text)),
                Span::styled("▏ (Enter apply, -TAG removes it, Esc cancel)", theme.accent()),
            ]),
        ),
        PromptKind::Note => (
            "Note",
            Line::from(vec![
                Span::raw(format!("note for {runs}: {}", prompt.text)),
                Span::styled("▏ (Enter apply, empty clears, Esc cancel)", theme.accent()),
            ]),
        ),
        PromptKind::Trash => {
            let plural = if prompt.targets.len() == 1 { "" } else { "s" };
            let question =
                format!("move {} run{plural} to the trash? y/n: {}", prompt.targets.len(), prompt.targets.join(", "));
            ("Trash", Line::styled(question, theme.bad()))
        }
    }
}

/// A cell of the run table, written to the width its column gets.
enum Cell {
    Text(String),
    /// A metric: four decimals, fewer (rounded) in a narrow column.
    Decimal(Option<f64>),
    /// A whole number with thousands separators, rounded to k or M in a narrow column.
    Count(Option<usize>),
}

impl Cell {
    fn text(&self, width: usize) -> String {
        match self {
            Cell::Text(text) if text.chars().count() > width && width > 0 => {
                let kept: String = text.chars().take(width - 1).collect();
                format!("{kept}…")
            }
            Cell::Text(text) => text.clone(),
            Cell::Decimal(v) => v.map_or("-".into(), |v| fit_decimal(v, 4, width)),
            Cell::Count(n) => n.map_or("-".into(), |n| fit_count(n as u64, width)),
        }
    }

    /// The width it takes when nothing is narrowed.
    fn natural(&self) -> usize {
        self.text(usize::MAX).chars().count()
    }
}

/// A column of the run table for the rows on screen.
struct Column {
    header: &'static str,
    /// The header in a column narrower than `header`.
    short: &'static str,
    cells: Vec<Cell>,
    width: usize,
}

impl Column {
    fn new(header: &'static str, short: &'static str, cells: Vec<Cell>) -> Column {
        let width = cells.iter().map(Cell::natural).max().unwrap_or(0).max(header.chars().count());
        Column { header, short, cells, width }
    }

    fn header_text(&self) -> &'static str {
        if self.header.chars().count() <= self.width { self.header } else { self.short }
    }

    fn text(&self, row: usize) -> String {
        self.cells[row].text(self.width)
    }
}

/// The columns of the run table in `width` cells (one between two columns). What tells
/// runs apart and their numbers always show: experiment, seed, status, validation and
/// test AUC, test logloss; narrow, long experiment names are cut (…), then the metrics
/// drop a decimal (rounded). With room to spare come the start time, GAUC, parameters,
/// wall time and tags; the model description takes what is left.
fn plan_columns(runs: &[&Run], marked: &BTreeSet<String>, width: usize) -> Vec<Column> {
    let text = |f: &dyn Fn(&Run) -> String| runs.iter().map(|r| Cell::Text(f(r))).collect::<Vec<_>>();
    let decimal = |f: &dyn Fn(&Run) -> Option<f64>| runs.iter().map(|r| Cell::Decimal(f(r))).collect::<Vec<_>>();
    let mark = text(&|r| if marked.contains(r.id()) { "●".into() } else { " ".into() });
    let mut required = vec![
        Column::new("", "", mark),
        Column::new("experiment", "exp", text(&|r| r.row.experiment.clone())),
        Column::new("seed", "s", text(&|r| r.row.seed.to_string())),
        Column::new("status", "st", text(&|r| r.row.status.name().to_string())),
        Column::new("vAUC", "vAUC", decimal(&|r| r.row.best_valid_auc)),
        Column::new("tAUC", "tAUC", decimal(&|r| r.row.test_auc)),
        Column::new("logloss", "tLL", decimal(&|r| r.row.test_logloss)),
    ];
    required[1].width = required[1].width.min(28);
    let model = Column::new("model", "model", text(&|r| r.row.model_label()));
    let used = |columns: &[Column]| columns.iter().map(|c| c.width + 1).sum::<usize>();
    // The model column gets at least a few cells.
    let budget = width.saturating_sub(model.width.min(10));
    // Long experiment names give way first, then the metrics (a decimal less, rounded:
    // AUCs differ in the fourth), then the names again.
    for (index, floor) in [(1, 16), (4, 5), (5, 5), (6, 5), (1, 10)] {
        let over = used(&required).saturating_sub(budget);
        let column = &mut required[index];
        column.width = column.width.saturating_sub(over).max(floor.min(column.width));
    }
    let optional = [
        Column::new("started", "started", text(&|r| started_short(&r.row.started))),
        Column::new("GAUC", "GAUC", decimal(&|r| r.row.test_gauc)),
        Column::new("params", "params", runs.iter().map(|r| Cell::Count(r.row.params)).collect()),
        Column::new("wall", "wall", text(&|r| r.row.wall_s.map_or("-".into(), duration))),
        Column::new("tags", "tags", text(&|r| r.row.tags.join(","))),
    ];
    let reserve = model.width.min(24);
    let mut chosen: Vec<Column> = Vec::new();
    for column in optional {
        let fits = used(&required) + used(&chosen) + column.width + 1 + reserve <= width;
        // A column that no run on screen has a value for is left out.
        let wanted = column.cells.iter().any(|c| !matches!(c.text(usize::MAX).as_str(), "" | "-"));
        if fits && wanted {
            chosen.push(column);
        }
    }
    // In reading order: mark, started, experiment, seed, status, the metrics, the rest.
    let mut columns = Vec::new();
    let mut required = required.into_iter();
    columns.extend(required.next());
    if let Some(i) = chosen.iter().position(|c| c.header == "started") {
        columns.push(chosen.remove(i));
    }
    columns.extend(required);
    columns.extend(chosen);
    columns.push(model);
    columns
}

/// `MM-DD HH:MM` of an RFC 3339 time (UTC), or the text as it is.
fn started_short(started: &str) -> String {
    match (started.get(5..10), started.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => started.to_string(),
    }
}

/// One word without the operators of a filter expression: searched as plain text.
fn is_plain_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'))
}
