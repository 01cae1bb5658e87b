//! The key map: every binding with the action it sends and the words the help shows.
//! Help and the command hints are generated from these lists, so they never go stale.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::shared::Panel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    NextPanel,
    PreviousPanel,
    GoTo(Panel),
    ToggleHelp,
    /// Open the whole status message (or configuration error) in a popup.
    ShowMessage,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    /// The first row of the list.
    Top,
    /// The last row of the list.
    Bottom,
    /// Enter: open / apply the selected thing.
    Select,
    /// `/`: search the panel's list.
    Search,
    // Train
    StartTraining,
    PauseResume,
    StopTraining,
    QueueRun,
    /// Take the selected experiment out of the queue / empty the queue.
    Unqueue,
    ClearQueue,
    NextExperiment,
    /// Scroll the log back (older lines) / forward (newer).
    LogBack,
    LogForward,
    /// Scroll the per-group AUC table up / down by a page.
    GroupsBack,
    GroupsForward,
    CycleDevice,
    // Conditions
    CycleMode,
    ToggleField,
    CycleVariant,
    CycleAggregation,
    RankUp,
    RankDown,
    OverparamUp,
    OverparamDown,
    CycleGenerator,
    ToggleBias,
    Save,
    /// Answers of the panel's questions.
    Confirm,
    KeepMine,
    TakeTheirs,
    // Runs
    Mark,
    Compare,
    ExportMarkdown,
    ExportCsv,
    EditFilter,
    CycleSort,
    Refresh,
    NextDataset,
    /// Mark every run shown / clear the marks / mark from the last marked row to here.
    MarkAll,
    ClearMarks,
    MarkRange,
    /// Mark the run and the one below (above), moving there.
    MarkDown,
    MarkUp,
    Tag,
    Note,
    Delete,
    /// The previous / next section of a run's detail.
    PreviousSection,
    NextSection,
    // The comparison
    Close,
    CycleBaseline,
    ToggleGroups,
    /// Runs: open the selected run in the Inspect panel.
    Inspect,
    // Inspect
    NextLayer,
    NextColour,
    ToggleSimilarity,
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    pub action: Action,
    pub help: &'static str,
}

const fn key(code: KeyCode, action: Action, help: &'static str) -> Binding {
    Binding { code, modifiers: KeyModifiers::NONE, action, help }
}

const fn ctrl(c: char, action: Action, help: &'static str) -> Binding {
    Binding { code: KeyCode::Char(c), modifiers: KeyModifiers::CONTROL, action, help }
}

/// Keys that work in every panel.
pub const GLOBAL: &[Binding] = &[
    key(KeyCode::Char('q'), Action::Quit, "quit (asks while training or unsaved)"),
    ctrl('c', Action::Quit, "quit (twice: at once)"),
    key(KeyCode::Tab, Action::NextPanel, "next panel"),
    key(KeyCode::BackTab, Action::PreviousPanel, "previous panel"),
    key(KeyCode::Char('1'), Action::GoTo(Panel::Data), "Data panel"),
    key(KeyCode::Char('2'), Action::GoTo(Panel::Conditions), "Conditions panel"),
    key(KeyCode::Char('3'), Action::GoTo(Panel::Train), "Train panel"),
    key(KeyCode::Char('4'), Action::GoTo(Panel::Runs), "Runs panel"),
    key(KeyCode::Char('5'), Action::GoTo(Panel::Inspect), "Inspect panel"),
    key(KeyCode::Char('?'), Action::ToggleHelp, "help"),
    key(KeyCode::Char('!'), Action::ShowMessage, "the whole message or error"),
];

/// Moving a selection up and down a list, in the panels that have one.
const MOVES: &[Binding] = &[
    key(KeyCode::Up, Action::Up, "move up"),
    key(KeyCode::Char('k'), Action::Up, "move up"),
    key(KeyCode::Down, Action::Down, "move down"),
    key(KeyCode::Char('j'), Action::Down, "move down"),
];

/// Paging and both ends, in the panels whose lists can be long.
const PAGES: &[Binding] = &[
    key(KeyCode::PageUp, Action::PageUp, "page up"),
    key(KeyCode::PageDown, Action::PageDown, "page down"),
    key(KeyCode::Home, Action::Top, "first row"),
    key(KeyCode::End, Action::Bottom, "last row"),
];

/// Vim's first / last row, in the panels where g and G mean nothing else.
const ENDS: &[Binding] =
    &[key(KeyCode::Char('g'), Action::Top, "first row"), key(KeyCode::Char('G'), Action::Bottom, "last row")];

const DATA: &[Binding] = &[
    key(KeyCode::Char('/'), Action::Search, "search the fields"),
    key(KeyCode::Char('d'), Action::NextDataset, "next dataset of the workspace"),
    key(KeyCode::Char('r'), Action::Refresh, "reload the dataset"),
    key(KeyCode::Right, Action::Right, "move to the field's values (the keys scroll them)"),
    key(KeyCode::Char('l'), Action::Right, "move to the field's values (the keys scroll them)"),
    key(KeyCode::Left, Action::Left, "back to the field list"),
    key(KeyCode::Char('h'), Action::Left, "back to the field list"),
];

const CONDITIONS: &[Binding] = &[
    key(KeyCode::Char('/'), Action::Search, "search the fields"),
    key(KeyCode::Char('e'), Action::NextExperiment, "next experiment (asks if unsaved)"),
    key(KeyCode::Char('m'), Action::CycleMode, "condition mode: group / mix / self"),
    key(KeyCode::Char(' '), Action::ToggleField, "tick / untick the field"),
    key(KeyCode::Char('v'), Action::CycleVariant, "APG variant"),
    key(KeyCode::Char('a'), Action::CycleAggregation, "aggregation"),
    key(KeyCode::Char('+'), Action::RankUp, "K x2, at most min(N_in, N_out)"),
    key(KeyCode::Char('-'), Action::RankDown, "K / 2, at least 1"),
    key(KeyCode::Char('>'), Action::OverparamUp, "P x2 (v5), at most the layer width"),
    key(KeyCode::Char('<'), Action::OverparamDown, "P / 2 (v5), at least K"),
    key(KeyCode::Char('g'), Action::CycleGenerator, "generator hidden units"),
    key(KeyCode::Char('b'), Action::ToggleBias, "generate the bias or not"),
    key(KeyCode::Char('w'), Action::Save, "write the changed keys (checked)"),
    key(KeyCode::Char('y'), Action::Confirm, "asked: yes, discard unsaved changes"),
    key(KeyCode::Char('o'), Action::KeepMine, "asked: overwrite the file with mine"),
    key(KeyCode::Char('t'), Action::TakeTheirs, "asked: take the file, drop mine"),
];

const TRAIN: &[Binding] = &[
    key(KeyCode::Char('/'), Action::Search, "search the experiments"),
    key(KeyCode::Char('e'), Action::NextExperiment, "next experiment"),
    key(KeyCode::Char('s'), Action::StartTraining, "start training"),
    key(KeyCode::Char('p'), Action::PauseResume, "pause / resume"),
    key(KeyCode::Char('x'), Action::StopTraining, "stop"),
    key(KeyCode::Char('a'), Action::QueueRun, "add to the queue"),
    key(KeyCode::Char('u'), Action::Unqueue, "take the selected experiment out of the queue"),
    key(KeyCode::Char('c'), Action::Compare, "the selected study's report, in the Runs panel"),
    key(KeyCode::Char('U'), Action::ClearQueue, "empty the queue"),
    key(KeyCode::Char('d'), Action::CycleDevice, "device of the next run"),
    key(KeyCode::Char('['), Action::LogBack, "scroll the log back"),
    key(KeyCode::Char(']'), Action::LogForward, "scroll the log forward (to the newest line)"),
    key(KeyCode::Char('{'), Action::GroupsBack, "scroll the per-group AUC up"),
    key(KeyCode::Char('}'), Action::GroupsForward, "scroll the per-group AUC down"),
];

const RUNS: &[Binding] = &[
    key(KeyCode::Char(' '), Action::Mark, "mark / unmark"),
    key(KeyCode::Char('c'), Action::Compare, "compare the marked runs"),
    key(KeyCode::Enter, Action::Select, "the run in detail"),
    key(KeyCode::Char('i'), Action::Inspect, "inspect the run's generated weights"),
    key(KeyCode::Char('t'), Action::Tag, "tag the marked runs (or the selected)"),
    key(KeyCode::Char('n'), Action::Note, "note the marked runs (or the selected)"),
    key(KeyCode::Char('x'), Action::Delete, "trash the marked runs (or the selected)"),
    key(KeyCode::Char('*'), Action::MarkAll, "mark every run shown"),
    key(KeyCode::Char('A'), Action::MarkAll, "mark every run shown"),
    key(KeyCode::Char('u'), Action::ClearMarks, "clear the marks"),
    key(KeyCode::Esc, Action::ClearMarks, "clear the marks"),
    key(KeyCode::Char('V'), Action::MarkRange, "mark from the last marked run to here"),
    key(KeyCode::Char('J'), Action::MarkDown, "mark and move down"),
    key(KeyCode::Char('K'), Action::MarkUp, "mark and move up"),
    key(KeyCode::Char('D'), Action::Delete, "trash the marked runs (or the selected)"),
    key(KeyCode::Char('/'), Action::EditFilter, "filter"),
    key(KeyCode::Char('o'), Action::CycleSort, "sort"),
    key(KeyCode::Char('M'), Action::ExportMarkdown, "export the comparison as Markdown"),
    key(KeyCode::Char('C'), Action::ExportCsv, "export the comparison as CSV"),
    key(KeyCode::Char('r'), Action::Refresh, "reload the history"),
];

const INSPECT: &[Binding] = &[
    key(KeyCode::Char('n'), Action::NextLayer, "next APG layer"),
    key(KeyCode::Char('f'), Action::NextColour, "colour by the next field"),
    key(KeyCode::Char('w'), Action::ToggleSimilarity, "heatmap: cos S / cos W"),
    key(KeyCode::Char('r'), Action::Refresh, "compute again"),
    key(KeyCode::Up, Action::Up, "heatmap cursor up"),
    key(KeyCode::Char('k'), Action::Up, "heatmap cursor up"),
    key(KeyCode::Down, Action::Down, "heatmap cursor down"),
    key(KeyCode::Char('j'), Action::Down, "heatmap cursor down"),
    key(KeyCode::Left, Action::Left, "heatmap cursor left"),
    key(KeyCode::Char('h'), Action::Left, "heatmap cursor left"),
    key(KeyCode::Right, Action::Right, "heatmap cursor right"),
    key(KeyCode::Char('l'), Action::Right, "heatmap cursor right"),
];

/// Scrolling a view that has no selection (the comparison, a run's detail).
const SCROLLING: &[Binding] = &[
    key(KeyCode::Down, Action::Down, "scroll down"),
    key(KeyCode::Char('j'), Action::Down, "scroll down"),
    key(KeyCode::Up, Action::Up, "scroll up"),
    key(KeyCode::Char('k'), Action::Up, "scroll up"),
    key(KeyCode::PageDown, Action::PageDown, "scroll a page down"),
    key(KeyCode::PageUp, Action::PageUp, "scroll a page up"),
    key(KeyCode::Char('g'), Action::Top, "scroll to the top"),
    key(KeyCode::Char('G'), Action::Bottom, "scroll to the bottom"),
];

/// The comparison view of the Runs panel, while it is open (and [`SCROLLING`]).
const COMPARE: &[Binding] = &[
    key(KeyCode::Esc, Action::Close, "close the comparison"),
    key(KeyCode::Char('b'), Action::CycleBaseline, "next entry as the baseline"),
    key(KeyCode::Char('s'), Action::ToggleGroups, "groups of seeds / single runs"),
    key(KeyCode::Left, Action::Left, "previous entries (when paged)"),
    key(KeyCode::Char('h'), Action::Left, "previous entries (when paged)"),
    key(KeyCode::Right, Action::Right, "next entries (when paged)"),
    key(KeyCode::Char('l'), Action::Right, "next entries (when paged)"),
    key(KeyCode::Char('M'), Action::ExportMarkdown, "export the comparison as Markdown"),
    key(KeyCode::Char('C'), Action::ExportCsv, "export the comparison as CSV"),
    key(KeyCode::Char('c'), Action::Close, "close the comparison"),
    key(KeyCode::Enter, Action::Close, "close the comparison"),
];

/// A run's detail view in the Runs panel, while it is open (and [`SCROLLING`]).
const DETAIL: &[Binding] = &[
    key(KeyCode::Esc, Action::Close, "close"),
    key(KeyCode::Enter, Action::Close, "close"),
    key(KeyCode::Right, Action::NextSection, "next section"),
    key(KeyCode::Char('l'), Action::NextSection, "next section"),
    key(KeyCode::Left, Action::PreviousSection, "previous section"),
    key(KeyCode::Char('h'), Action::PreviousSection, "previous section"),
];

/// The bindings of a panel, global ones last: only keys that act in that panel.
pub fn bindings(panel: Panel) -> Vec<Binding> {
    let parts: &[&[Binding]] = match panel {
        Panel::Data => &[DATA, MOVES, PAGES, ENDS],
        // The field list is short: up and down only.
        Panel::Conditions => &[CONDITIONS, MOVES],
        Panel::Train => &[TRAIN, MOVES, PAGES, ENDS],
        Panel::Runs => &[RUNS, MOVES, PAGES, ENDS],
        Panel::Inspect => &[INSPECT],
    };
    let own: Vec<Binding> = parts.iter().flat_map(|p| p.iter()).copied().collect();
    layered(&own)
}

/// The bindings of the comparison view, global ones last.
pub fn compare_bindings() -> Vec<Binding> {
    layered(&[COMPARE, SCROLLING].concat())
}

/// The bindings of a run's detail view, global ones last.
pub fn detail_bindings() -> Vec<Binding> {
    layered(&[DETAIL, SCROLLING].concat())
}

/// `own` bindings, then the global ones whose keys `own` does not take.
fn layered(own: &[Binding]) -> Vec<Binding> {
    let taken = |g: &Binding| own.iter().any(|b| b.code == g.code && b.modifiers == g.modifiers);
    own.iter().copied().chain(GLOBAL.iter().filter(|g| !taken(g)).copied()).collect()
}

/// The action a key sends in `panel`, if any.
pub fn action_for(panel: Panel, event: KeyEvent) -> Option<Action> {
    action_in(&bindings(panel), event)
}

/// The action a key sends under `bindings`, if any.
pub fn action_in(bindings: &[Binding], event: KeyEvent) -> Option<Action> {
    let modifiers = event.modifiers - KeyModifiers::SHIFT;
    bindings.iter().find(|b| b.code == event.code && b.modifiers == modifiers).map(|b| b.action)
}

/// How a binding's key reads in help.
pub fn key_label(binding: &Binding) -> String {
    let name = match binding.code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        other => format!("{other:?}"),
    };
    if binding.modifiers.contains(KeyModifiers::CONTROL) { format!("Ctrl-{name}") } else { name }
}

/// `key: words` for each of `actions` (its first key under `bindings`), for the hints a
/// panel shows; actions without a key are left out.
pub fn hints(bindings: &[Binding], actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| bindings.iter().find(|b| b.action == *action))
        .map(|b| format!("{}: {}", key_label(b), b.help))
        .collect()
}

/// The hints that fit in `width` cells, whole, two spaces apart, in order.
pub fn fit_hints(hints: &[String], width: usize) -> String {
    let mut line = String::new();
    for hint in hints {
        let needed =
            if line.is_empty() { hint.chars().count() } else { line.chars().count() + 2 + hint.chars().count() };
        if needed > width {
            break;
        }
        if !line.is_empty() {
            line.push_str("  ");
        }
        line.push_str(hint);
    }
    line
}
