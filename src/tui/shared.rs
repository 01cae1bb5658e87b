//! What the panels share and the shape every panel has. A panel is a component: it owns
//! its state, handles the actions of its keys and draws itself, and reaches the rest of
//! the workbench only through [`Shared`] (workspace, experiments and the selection, the
//! dataset statistics, the status line, the theme). What it cannot do itself (start a
//! run, load a dataset, show another panel) it asks for with an [`Effect`], which the
//! router (`app`) or the event loop carries out. So panels never see `App`, and `App`
//! is only the router.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use crate::config::ConfigError;
use crate::config::experiment::LoadedExperiment;
use crate::config::workspace::Workspace;
use crate::data::stats::DatasetStats;
use crate::study::status::Overview;
use crate::tui::keys::{Action, Binding};
use crate::tui::mouse::Mouse;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Data,
    Conditions,
    Train,
    Runs,
    Inspect,
}

impl Panel {
    pub const ALL: [Panel; 5] = [Panel::Data, Panel::Conditions, Panel::Train, Panel::Runs, Panel::Inspect];

    pub fn title(self) -> &'static str {
        match self {
            Panel::Data => "Data",
            Panel::Conditions => "Conditions",
            Panel::Train => "Train",
            Panel::Runs => "Runs",
            Panel::Inspect => "Inspect",
        }
    }

    pub fn index(self) -> usize {
        Panel::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// One experiment file of the workspace: the last good version and the current error.
#[derive(Debug, Clone)]
pub struct ExperimentEntry {
    pub path: PathBuf,
    pub good: Option<LoadedExperiment>,
    pub error: Option<ConfigError>,
}

impl ExperimentEntry {
    pub fn name(&self) -> String {
        self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// A run waiting in the Train panel's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// An experiment file, run with its own seed.
    Experiment(PathBuf),
    /// One run of a study: a variant's experiment under one of the study's seeds.
    Study { study: String, variant: String, seed: u64 },
}

impl Queued {
    /// How the queue and the messages name it: `apg-group`, `paper-ablation/v4 s2`.
    pub fn label(&self) -> String {
        match self {
            Queued::Experiment(path) => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            Queued::Study { study, variant, seed } => format!("{study}/{variant} s{seed}"),
        }
    }
}

/// Side effects: most are carried out by the event loop (threads, files); the router
/// takes the ones that concern other panels (`SelectionChanged`, `Show`).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadData,
    /// Parse every experiment again (their dataset changed).
    RecheckExperiments,
    StartTraining(Queued),
    Pause,
    Resume,
    Stop,
    SaveExperiment(PathBuf),
    LoadRuns,
    Export {
        markdown: bool,
    },
    /// The selected experiment changed: the Conditions panel follows it.
    SelectionChanged,
    /// Bring a panel to the front.
    Show(Panel),
    /// Open the comparison of these runs' configurations, the first one's as the
    /// baseline (a study's report in the Runs panel).
    Compare(Vec<String>),
    /// Open run `id` (folder `dir`) in the Inspect panel.
    OpenInspect {
        dir: PathBuf,
        id: String,
    },
    /// Compute the inspection of the run in `dir` on a worker (answer to `request`).
    Inspect {
        request: u64,
        dir: PathBuf,
        options: crate::inspect::Options,
    },
}

/// How long an information message stays in the status bar. An error stays until a key
/// is pressed (the user has seen it then), and then for as long again, unless another
/// message replaces it.
pub const MESSAGE_LIFETIME: Duration = Duration::from_secs(8);

/// The status bar's message.
#[derive(Debug, Clone, Default)]
pub struct Status {
    text: String,
    error: bool,
    /// When the message was first on screen (the event loop's clock, see `App::tick`).
    shown_at: Option<Instant>,
}

impl Status {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_error(&self) -> bool {
        self.error
    }

    fn set(&mut self, text: String, error: bool) {
        *self = Status { text, error, shown_at: None };
    }

    /// A key was pressed: an error has been seen, and from now on goes like any message.
    pub fn acknowledge(&mut self) {
        if self.error {
            self.error = false;
            self.shown_at = None;
        }
    }

    pub fn clear(&mut self) {
        *self = Status::default();
    }

    /// Time passes: an information message goes `MESSAGE_LIFETIME` after it first showed.
    pub fn tick(&mut self, now: Instant) {
        match self.shown_at {
            None => self.shown_at = Some(now),
            Some(at) if !self.error && now.saturating_duration_since(at) >= MESSAGE_LIFETIME => self.clear(),
            Some(_) => {}
        }
    }
}

/// What every panel may read and change.
pub struct Shared {
    pub workspace: Workspace,
    pub theme: Theme,
    /// The workspace's experiment files, sorted by path.
    pub experiments: Vec<ExperimentEntry>,
    /// The selected experiment; none until the user picks one again after the selected
    /// file was removed, so that a key meant for it never acts on its neighbour.
    pub selected: Option<usize>,
    /// The dataset the Data panel shows (a built-in name or a descriptor path) and its
    /// statistics once loaded; the Conditions panel reads them too.
    pub dataset: String,
    pub stats: Option<DatasetStats>,
    /// The workspace's studies and where their runs stand (reloaded with the run history).
    pub studies: Vec<Overview>,
    pub status: Status,
}

impl Shared {
    /// An information message for the status bar (it goes after a few seconds).
    pub fn say(&mut self, text: impl Into<String>) {
        self.status.set(text.into(), false);
    }

    /// An error for the status bar (it stays until a key is pressed, then goes like
    /// any message).
    pub fn fail(&mut self, text: impl Into<String>) {
        self.status.set(text.into(), true);
    }

    pub fn selected_experiment(&self) -> Option<&ExperimentEntry> {
        self.experiments.get(self.selected?)
    }

    /// The last good version of the selected experiment.
    pub fn selected_good(&self) -> Option<LoadedExperiment> {
        self.selected_experiment().and_then(|e| e.good.clone())
    }

    /// Selects the next experiment (the first when none is selected), wrapping around.
    pub fn next_experiment(&mut self) {
        if !self.experiments.is_empty() {
            self.selected = Some(self.selected.map_or(0, |i| (i + 1) % self.experiments.len()));
        }
    }
}

/// A panel: it owns its state, turns actions into changes and effects, and draws itself.
pub trait Component {
    /// The keys in effect in this panel now (the global ones included), for the key
    /// handling, the help and the footer hints.
    fn bindings(&self) -> Vec<Binding>;

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect>;

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared);

    /// Whether the panel takes every key as text now (a search, a prompt, a filter line).
    fn takes_text(&self) -> bool {
        false
    }

    /// A key while [`Component::takes_text`] holds.
    fn on_text(&mut self, _key: KeyEvent, _shared: &mut Shared) -> Vec<Effect> {
        Vec::new()
    }

    /// A click or a wheel notch inside the panel (its lists know where they were drawn).
    fn on_mouse(&mut self, _mouse: Mouse, _shared: &mut Shared) -> Vec<Effect> {
        Vec::new()
    }
}
