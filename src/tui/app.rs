//! The application state and its update: keys become actions, actions and background
//! events change the state, and side effects are returned as [`Effect`]s for the event
//! loop to carry out. Nothing here touches the terminal, so it is tested directly.

use std::collections::VecDeque;
use std::path::PathBuf;

use ratatui::crossterm::event::KeyEvent;

use crate::config::experiment::LoadedExperiment;
use crate::config::workspace::Workspace;
use crate::config::{ConfigError, Device};
use crate::data::stats::DatasetStats;
use crate::train::{EvalMetrics, Event, GroupMetrics, MetricsRecord, Phase, RunSummary};
use crate::tui::keys::{self, Action};
use crate::tui::panels::conditions::ConditionsState;
use crate::tui::panels::runs::RunsState;
use crate::tui::panels::train::DeviceChoice;
use crate::tui::scroll::{Motion, Viewport};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Data,
    Conditions,
    Train,
    Runs,
}

impl Panel {
    pub const ALL: [Panel; 4] = [Panel::Data, Panel::Conditions, Panel::Train, Panel::Runs];

    pub fn title(self) -> &'static str {
        match self {
            Panel::Data => "Data",
            Panel::Conditions => "Conditions",
            Panel::Train => "Train",
            Panel::Runs => "Runs",
        }
    }

    fn index(self) -> usize {
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

/// What the Data panel shows.
#[derive(Debug, Clone, Default)]
pub struct DataState {
    /// The datasets of the workspace: its default, then those its experiments use
    /// (built-in names or descriptor paths), without repeats.
    pub datasets: Vec<String>,
    /// Which of them is shown.
    pub current: usize,
    pub loading: bool,
    /// When the current load started, for the progress indicator.
    pub loading_since: Option<std::time::Instant>,
    pub stats: Option<DatasetStats>,
    pub error: Option<String>,
    pub load_note: String,
    pub field: usize,
    /// The part of the field list on screen.
    pub fields_view: Viewport,
}

/// The live view of the run in progress (or the last one).
#[derive(Debug, Clone, Default)]
pub struct TrainState {
    pub experiment: Option<String>,
    pub run_id: Option<String>,
    pub phase: Option<Phase>,
    pub step: usize,
    pub total_steps: usize,
    pub samples_per_s: f64,
    pub elapsed_s: f64,
    pub loss: Vec<(f64, f64)>,
    pub valid_auc: Vec<(f64, f64)>,
    pub valid_logloss: Vec<(f64, f64)>,
    pub groups: Vec<GroupMetrics>,
    pub last_eval: Option<EvalMetrics>,
    pub summary: Option<RunSummary>,
    pub log: VecDeque<String>,
    pub queue: VecDeque<PathBuf>,
    /// The device of the run shown.
    pub device: Device,
    /// The device of the runs started from now on (`d`).
    pub next_device: DeviceChoice,
    /// The part of the experiment list on screen.
    pub experiments_view: Viewport,
    /// How many lines the log is scrolled back from its newest (0: it follows new lines).
    pub log_back: usize,
    pub log_view: Viewport,
}

const LOG_LINES: usize = 200;

impl TrainState {
    pub fn active(&self) -> bool {
        matches!(
            self.phase,
            Some(
                Phase::LoadingData
                    | Phase::Building
                    | Phase::Training
                    | Phase::Paused
                    | Phase::Evaluating
                    | Phase::Testing
            )
        )
    }

    fn log(&mut self, line: String) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
        // Scrolled back, the view stays on the lines being read.
        if self.log_back > 0 {
            self.log_back = (self.log_back + 1).min(self.log.len());
        }
    }

    /// Seconds left at the current pace.
    pub fn eta_s(&self) -> Option<f64> {
        (self.step > 0 && self.total_steps > self.step)
            .then(|| self.elapsed_s / self.step as f64 * (self.total_steps - self.step) as f64)
    }
}

/// Side effects the event loop carries out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadData,
    /// Parse every experiment again (their dataset changed).
    RecheckExperiments,
    StartTraining(PathBuf),
    Pause,
    Resume,
    Stop,
    SaveExperiment(PathBuf),
    LoadRuns,
    Export {
        markdown: bool,
    },
}

pub struct App {
    pub workspace: Workspace,
    pub theme: Theme,
    pub panel: Panel,
    pub help: bool,
    pub quit: bool,
    /// A short message for the status bar.
    pub status: String,
    pub experiments: Vec<ExperimentEntry>,
    pub selected: usize,
    pub data: DataState,
    pub conditions: ConditionsState,
    pub train: TrainState,
    pub runs: RunsState,
}

impl App {
    pub fn new(workspace: Workspace, experiments: Vec<ExperimentEntry>, theme: Theme) -> Self {
        let mut app = App {
            workspace,
            theme,
            panel: Panel::Data,
            help: false,
            quit: false,
            status: String::new(),
            experiments,
            selected: 0,
            data: DataState::default(),
            conditions: ConditionsState::default(),
            train: TrainState::default(),
            runs: RunsState::default(),
        };
        app.experiments.sort_by(|a, b| a.path.cmp(&b.path));
        app.sync_conditions();
        app.data.datasets = app.dataset_references();
        app
    }

    /// The workspace's dataset first, then every other dataset an experiment uses.
    fn dataset_references(&self) -> Vec<String> {
        let mut references = vec![self.workspace.dataset_reference()];
        for experiment in self.experiments.iter().filter_map(|e| e.good.as_ref()) {
            let file = &experiment.dataset.file;
            let reference = match file.strip_prefix("<built-in>") {
                Ok(name) => name.with_extension("").display().to_string(),
                Err(_) => file.display().to_string(),
            };
            // Descriptor files compare by their real path (`a/../b.toml` is `b.toml`).
            let real = |r: &str| std::fs::canonicalize(r).ok();
            let same = |r: &String| *r == reference || (real(r).is_some() && real(r) == real(&reference));
            if !references.iter().any(same) {
                references.push(reference);
            }
        }
        references
    }

    /// The dataset the Data panel shows.
    pub fn dataset_reference(&self) -> String {
        self.data.datasets.get(self.data.current).cloned().unwrap_or_else(|| self.workspace.dataset_reference())
    }

    pub fn selected_experiment(&self) -> Option<&ExperimentEntry> {
        self.experiments.get(self.selected)
    }

    /// The newest configuration error of any experiment, for the status bar.
    pub fn config_error(&self) -> Option<&ConfigError> {
        self.experiments.iter().find_map(|e| e.error.as_ref())
    }

    /// Translates a key press in the current panel (or the runs filter editor).
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        // Any key closes the help (bound or not); Ctrl-C still quits.
        if self.help && keys::action_for(self.panel, key) != Some(Action::Quit) {
            self.help = false;
            return Vec::new();
        }
        if self.panel == Panel::Runs && self.runs.takes_text() {
            return crate::tui::panels::runs::type_key(self, key);
        }
        if self.panel == Panel::Conditions && self.conditions.prompt.is_some() {
            return crate::tui::panels::conditions::answer(self, key);
        }
        match keys::action_in(&self.bindings(), key) {
            Some(action) => self.apply(action),
            None => Vec::new(),
        }
    }

    /// The keys in effect now: the panel's, or those of a view the Runs panel opened.
    pub fn bindings(&self) -> Vec<keys::Binding> {
        if self.panel == Panel::Runs {
            return crate::tui::panels::runs::bindings(&self.runs).0;
        }
        keys::bindings(self.panel)
    }

    /// What the keys in effect belong to, for the help.
    pub fn keys_title(&self) -> String {
        if self.panel == Panel::Runs {
            return crate::tui::panels::runs::bindings(&self.runs).1.into();
        }
        format!("{} panel", self.panel.title())
    }

    pub fn apply(&mut self, action: Action) -> Vec<Effect> {
        if self.help && !matches!(action, Action::ToggleHelp | Action::Quit) {
            self.help = false;
            return Vec::new();
        }
        match action {
            Action::Quit => {
                self.quit = true;
                if self.train.active() {
                    return vec![Effect::Stop];
                }
            }
            Action::ToggleHelp => self.help = !self.help,
            Action::NextPanel => self.panel = Panel::ALL[(self.panel.index() + 1) % Panel::ALL.len()],
            Action::PreviousPanel => {
                self.panel = Panel::ALL[(self.panel.index() + Panel::ALL.len() - 1) % Panel::ALL.len()]
            }
            Action::GoTo(panel) => self.panel = panel,
            _ => return self.apply_in_panel(action),
        }
        Vec::new()
    }

    fn apply_in_panel(&mut self, action: Action) -> Vec<Effect> {
        match self.panel {
            Panel::Data => match action {
                _ if Motion::of(action).is_some() => {
                    let fields = self.data.stats.as_ref().map_or(0, |s| s.fields.len());
                    if let Some(motion) = Motion::of(action) {
                        self.data.field = self.data.fields_view.moved(self.data.field, fields, motion);
                    }
                }
                Action::Refresh => return vec![Effect::LoadData],
                Action::NextDataset if self.data.datasets.len() > 1 => {
                    self.data.current = (self.data.current + 1) % self.data.datasets.len();
                    self.data.stats = None;
                    self.data.field = 0;
                    return vec![Effect::LoadData];
                }
                Action::NextDataset => self.status = "this workspace uses one dataset".into(),
                _ => {}
            },
            Panel::Conditions => return crate::tui::panels::conditions::apply(self, action),
            Panel::Train => match action {
                _ if Motion::of(action).is_some() => {
                    if let Some(motion) = Motion::of(action) {
                        self.selected =
                            self.train.experiments_view.moved(self.selected, self.experiments.len(), motion);
                        self.sync_conditions();
                    }
                }
                Action::NextExperiment => self.next_experiment(),
                Action::LogBack => {
                    let most = self.train.log.len().saturating_sub(self.train.log_view.page());
                    self.train.log_back = (self.train.log_back + self.train.log_view.page()).min(most);
                }
                Action::LogForward => {
                    self.train.log_back = self.train.log_back.saturating_sub(self.train.log_view.page())
                }
                Action::StartTraining => return self.start_or_queue(false),
                Action::QueueRun => return self.start_or_queue(true),
                Action::PauseResume => match self.train.phase {
                    Some(Phase::Paused) => return vec![Effect::Resume],
                    _ if self.train.active() => return vec![Effect::Pause],
                    _ => self.status = "nothing is training".into(),
                },
                Action::StopTraining if self.train.active() => return vec![Effect::Stop],
                Action::CycleDevice => self.train.next_device = self.train.next_device.next(),
                _ => {}
            },
            Panel::Runs => return crate::tui::panels::runs::apply(self, action),
        }
        Vec::new()
    }

    pub fn next_experiment(&mut self) {
        if !self.experiments.is_empty() {
            self.selected = (self.selected + 1) % self.experiments.len();
        }
        self.sync_conditions();
    }

    /// Points the Conditions panel at the selected experiment.
    pub fn sync_conditions(&mut self) {
        let experiment = self.experiments.get(self.selected).and_then(|e| e.good.clone());
        self.conditions.load(experiment);
    }

    fn start_or_queue(&mut self, queue: bool) -> Vec<Effect> {
        let Some(entry) = self.selected_experiment() else {
            self.status = "no experiment in this workspace".into();
            return Vec::new();
        };
        if entry.good.is_none() {
            self.status = format!("{} has an error: fix it first", entry.name());
            return Vec::new();
        }
        let path = entry.path.clone();
        if self.train.active() || queue {
            self.status = format!("queued {}", entry.name());
            self.train.queue.push_back(path);
            return Vec::new();
        }
        vec![Effect::StartTraining(path)]
    }

    /// The device a run of `experiment` started now trains on.
    pub fn run_device(&self, experiment: &LoadedExperiment) -> Device {
        self.train.next_device.device(experiment.experiment.device)
    }

    /// A new run started (the event loop spawned it).
    pub fn run_started(&mut self, experiment: String, run_id: String, device: Device) {
        self.train = TrainState {
            queue: std::mem::take(&mut self.train.queue),
            next_device: self.train.next_device,
            experiments_view: std::mem::take(&mut self.train.experiments_view),
            device,
            ..Default::default()
        };
        self.train.log(format!("run {run_id} of {experiment}"));
        // A new run replaces the last one's news (a failure, say) in the status bar.
        self.status = format!("{experiment} started on {}", self.train.device);
        self.train.experiment = Some(experiment);
        self.train.run_id = Some(run_id);
        self.train.phase = Some(Phase::LoadingData);
        self.panel = Panel::Train;
    }

    /// A training event of the run in progress.
    pub fn on_train_event(&mut self, event: Event) {
        let t = &mut self.train;
        match event {
            Event::Phase { phase } => t.phase = Some(phase),
            Event::Log { line } => t.log(line),
            Event::Plan { total_steps, .. } => t.total_steps = total_steps,
            Event::Metrics { record: MetricsRecord::Train { step, loss, samples_per_s, elapsed_s, .. } } => {
                t.step = step;
                t.samples_per_s = samples_per_s;
                t.elapsed_s = elapsed_s;
                t.loss.push((step as f64, loss));
            }
            Event::Metrics { record: MetricsRecord::Eval { step, metrics, .. } } => {
                if metrics.split == "valid" {
                    if let Some(auc) = metrics.auc {
                        t.valid_auc.push((step as f64, auc));
                    }
                    t.valid_logloss.push((step as f64, metrics.logloss));
                }
                t.log(format!("{} at step {step}: {}", metrics.split, crate::runs::eval_headline(&metrics)));
                t.groups = metrics.groups.clone();
                t.last_eval = Some(metrics);
            }
            Event::Checkpoint { step, .. } => t.log(format!("best model so far saved at step {step}")),
            Event::Finished { summary } => {
                if let Some(reason) = &summary.reason {
                    self.status = format!("run {}: {reason}", summary.status.name());
                }
                t.log(format!(
                    "run {}: {}",
                    summary.status.name(),
                    summary
                        .test
                        .as_ref()
                        .and_then(|m| m.auc)
                        .map_or("no test AUC".into(), |a| format!("test AUC {a:.4}"))
                ));
                t.summary = Some(*summary);
            }
            Event::Failed { error } => {
                t.log(format!("failed: {error}"));
                t.phase = Some(Phase::Failed);
                self.status = format!("training failed: {error}");
                // The CLI's advice (--device cpu) has a key here; put it first, where
                // a long error cannot push it off the screen.
                if t.device.is_cuda() {
                    let advice = format!("{} failed: choose cpu with d, then s", t.device);
                    t.log(advice.clone());
                    self.status = format!("{advice} · {error}");
                }
            }
        }
    }

    /// The run's folder is complete: reload the history, start the next queued run.
    pub fn run_ended(&mut self) -> Vec<Effect> {
        let mut effects = vec![Effect::LoadRuns];
        if let Some(next) = self.train.queue.pop_front() {
            effects.push(Effect::StartTraining(next));
        }
        effects
    }

    /// A watched experiment file changed: keep the last good version on error.
    pub fn experiment_changed(&mut self, path: PathBuf, result: Result<LoadedExperiment, ConfigError>) {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let running = self.train.active() && self.train.experiment.as_deref() == Some(name.as_str());
        let index = match self.experiments.iter().position(|e| e.path == path) {
            Some(i) => i,
            None => {
                self.experiments.push(ExperimentEntry { path: path.clone(), good: None, error: None });
                self.experiments.sort_by(|a, b| a.path.cmp(&b.path));
                self.experiments.iter().position(|e| e.path == path).unwrap_or(0)
            }
        };
        let entry = &mut self.experiments[index];
        match result {
            Ok(experiment) => {
                entry.good = Some(experiment);
                entry.error = None;
                self.status = if running {
                    format!("{name} reloaded: the change applies to the next run")
                } else {
                    format!("{name} reloaded")
                };
            }
            Err(error) => {
                self.status = format!("{name}: invalid, keeping the last good version");
                entry.error = Some(error);
            }
        }
        if index == self.selected {
            self.sync_conditions();
        }
    }

    pub fn experiment_removed(&mut self, path: &PathBuf) {
        self.experiments.retain(|e| &e.path != path);
        self.selected = self.selected.min(self.experiments.len().saturating_sub(1));
        self.status = format!("{} was removed", path.display());
        self.sync_conditions();
    }
}
