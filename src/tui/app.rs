//! The router: which panel is in front, the help, quitting, the global keys, and the
//! background events (training, file changes) handed to the panels they concern. The
//! panels are components (`shared::Component`) that own their state; `App` holds them
//! and [`Shared`], turns keys into actions for the panel in front, and returns the
//! side effects for the event loop. Nothing here touches the terminal, so it is tested
//! directly.

use std::path::{Path, PathBuf};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::ConfigError;
use crate::config::Device;
use crate::config::experiment::LoadedExperiment;
use crate::config::workspace::Workspace;
use crate::train::Event;
use crate::tui::keys::{self, Action};
use crate::tui::mouse::Mouse;
use crate::tui::panels::conditions::ConditionsState;
use crate::tui::panels::data::DataState;
use crate::tui::panels::inspect::InspectState;
use crate::tui::panels::runs::RunsState;
use crate::tui::panels::train::TrainState;
use crate::tui::shared::Component;
pub use crate::tui::shared::{Effect, ExperimentEntry, Panel, Queued, Shared};
use crate::tui::theme::Theme;

pub struct App {
    pub shared: Shared,
    pub panel: Panel,
    pub help: bool,
    pub quit: bool,
    /// `q` was pressed while a run trains or a design is unsaved: `y` quits.
    pub asking_quit: bool,
    /// The whole status message or configuration error, opened with `!`, and how far it
    /// is scrolled.
    pub message: Option<String>,
    pub message_scroll: u16,
    pub data: DataState,
    pub conditions: ConditionsState,
    pub train: TrainState,
    pub runs: RunsState,
    pub inspect: InspectState,
}

impl App {
    pub fn new(workspace: Workspace, mut experiments: Vec<ExperimentEntry>, theme: Theme) -> Self {
        experiments.sort_by(|a, b| a.path.cmp(&b.path));
        let dataset = workspace.dataset_reference();
        let selected = (!experiments.is_empty()).then_some(0);
        let mut app = App {
            shared: Shared {
                workspace,
                theme,
                experiments,
                selected,
                dataset,
                stats: None,
                studies: Vec::new(),
                status: Default::default(),
            },
            panel: Panel::Data,
            help: false,
            quit: false,
            asking_quit: false,
            message: None,
            message_scroll: 0,
            data: DataState::default(),
            conditions: ConditionsState::default(),
            train: TrainState::default(),
            runs: RunsState::default(),
            inspect: InspectState::default(),
        };
        app.sync_conditions();
        app.data.sync_datasets(&mut app.shared);
        app
    }

    /// The status bar's message.
    pub fn status(&self) -> &str {
        self.shared.status.text()
    }

    /// Time passes (the event loop's clock): old information messages go.
    /// Says whether the status bar changed.
    pub fn tick(&mut self, now: std::time::Instant) -> bool {
        let before = self.status().len();
        self.shared.status.tick(now);
        before != self.status().len()
    }

    /// The dataset the Data panel shows.
    pub fn dataset_reference(&self) -> String {
        self.shared.dataset.clone()
    }

    pub fn selected_experiment(&self) -> Option<&ExperimentEntry> {
        self.shared.selected_experiment()
    }

    /// The first configuration error of any experiment, for the status bar.
    pub fn config_error(&self) -> Option<&ConfigError> {
        self.shared.experiments.iter().find_map(|e| e.error.as_ref())
    }

    fn component(&self) -> &dyn Component {
        match self.panel {
            Panel::Data => &self.data,
            Panel::Conditions => &self.conditions,
            Panel::Train => &self.train,
            Panel::Runs => &self.runs,
            Panel::Inspect => &self.inspect,
        }
    }

    /// Translates a key press in the current panel (or the runs filter editor).
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if self.asking_quit {
            // `y` or a second Ctrl-C quits; anything else stays.
            self.asking_quit = false;
            if ctrl_c || key.code == KeyCode::Char('y') {
                return self.quit_now();
            }
            self.shared.say("not quitting");
            return Vec::new();
        }
        // An error stays until a key shows it was seen (`!` reads it whole first).
        if key.code != KeyCode::Char('!') {
            self.shared.status.acknowledge();
        }
        // Any key closes the help (bound or not); Ctrl-C still quits.
        if self.help && !ctrl_c {
            self.help = false;
            return Vec::new();
        }
        if ctrl_c {
            return self.apply(Action::Quit);
        }
        if self.message.is_some() {
            // The message popup scrolls with the move keys; any other key closes it.
            match keys::action_in(&self.bindings(), key) {
                Some(Action::Down) => self.message_scroll = self.message_scroll.saturating_add(1),
                Some(Action::Up) => self.message_scroll = self.message_scroll.saturating_sub(1),
                _ => self.message = None,
            }
            return Vec::new();
        }
        if self.component().takes_text() {
            let shared = &mut self.shared;
            let effects = match self.panel {
                Panel::Data => self.data.on_text(key, shared),
                Panel::Conditions => self.conditions.on_text(key, shared),
                Panel::Train => self.train.on_text(key, shared),
                Panel::Runs => self.runs.on_text(key, shared),
                Panel::Inspect => self.inspect.on_text(key, shared),
            };
            return self.route(effects);
        }
        if self.panel == Panel::Conditions && self.conditions.prompt.is_some() {
            let effects = self.conditions.answer(key, &mut self.shared);
            return self.route(effects);
        }
        match keys::action_in(&self.bindings(), key) {
            Some(action) => self.apply(action),
            None => Vec::new(),
        }
    }

    /// A click or a wheel notch: the tab bar switches panels, the rest goes to the panel
    /// in front. Like a key, it closes the help first.
    pub fn on_mouse(&mut self, mouse: Mouse) -> Vec<Effect> {
        if self.help {
            self.help = false;
            return Vec::new();
        }
        if let Mouse::Click { column, row: 0 } = mouse {
            if let Some(panel) = crate::tui::view::tab_at(column) {
                self.panel = panel;
            }
            return Vec::new();
        }
        let shared = &mut self.shared;
        let effects = match self.panel {
            Panel::Data => self.data.on_mouse(mouse, shared),
            Panel::Conditions => self.conditions.on_mouse(mouse, shared),
            Panel::Train => self.train.on_mouse(mouse, shared),
            Panel::Runs => self.runs.on_mouse(mouse, shared),
            Panel::Inspect => self.inspect.on_mouse(mouse, shared),
        };
        self.route(effects)
    }

    /// The keys in effect now: those of the panel in front.
    pub fn bindings(&self) -> Vec<keys::Binding> {
        self.component().bindings()
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
                let why = match (self.train.active(), self.conditions.dirty) {
                    (true, _) => "a run is training (it stops)",
                    (false, true) => "the Conditions panel has unsaved changes (they are lost)",
                    (false, false) => return self.quit_now(),
                };
                self.asking_quit = true;
                self.shared.say(format!("quit? {why}: y quits, any other key stays"));
            }
            Action::ShowMessage => {
                // The message, then the configuration error (the status bar shows only one).
                let config = self.config_error().map(|e| format!("config error: {e}"));
                let text = [Some(self.status().to_string()), config]
                    .into_iter()
                    .flatten()
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                if text.is_empty() {
                    self.shared.say("no message to show");
                } else {
                    self.message = Some(text);
                    self.message_scroll = 0;
                }
            }
            Action::ToggleHelp => self.help = !self.help,
            Action::NextPanel => self.panel = Panel::ALL[(self.panel.index() + 1) % Panel::ALL.len()],
            Action::PreviousPanel => {
                self.panel = Panel::ALL[(self.panel.index() + Panel::ALL.len() - 1) % Panel::ALL.len()]
            }
            Action::GoTo(panel) => self.panel = panel,
            _ => {
                let shared = &mut self.shared;
                let effects = match self.panel {
                    Panel::Data => self.data.on_action(action, shared),
                    Panel::Conditions => self.conditions.on_action(action, shared),
                    Panel::Train => self.train.on_action(action, shared),
                    Panel::Runs => self.runs.on_action(action, shared),
                    Panel::Inspect => self.inspect.on_action(action, shared),
                };
                return self.route(effects);
            }
        }
        Vec::new()
    }

    fn quit_now(&mut self) -> Vec<Effect> {
        self.quit = true;
        if self.train.active() { vec![Effect::Stop] } else { Vec::new() }
    }

    /// Carries out the effects that concern other panels; returns the rest for the
    /// event loop.
    fn route(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let mut rest = Vec::new();
        for effect in effects {
            match effect {
                Effect::SelectionChanged => self.sync_conditions(),
                Effect::Show(panel) => self.panel = panel,
                Effect::Compare(runs) => {
                    crate::tui::panels::runs::compare_groups(&mut self.runs, &mut self.shared, runs);
                    self.panel = Panel::Runs;
                }
                Effect::OpenInspect { dir, id } => {
                    self.shared.say(format!("inspecting {id}"));
                    rest.push(self.inspect.open(dir, id));
                    self.panel = Panel::Inspect;
                }
                other => rest.push(other),
            }
        }
        rest
    }

    /// Points the Conditions panel at the selected experiment.
    pub fn sync_conditions(&mut self) {
        self.conditions.load(self.shared.selected_good());
    }

    /// Selects the experiment at `index` (tests and the benchmark set up screens so).
    pub fn select(&mut self, index: usize) {
        self.shared.selected = Some(index);
        self.sync_conditions();
    }

    /// The device a run of `experiment` started now trains on.
    pub fn run_device(&self, experiment: &LoadedExperiment) -> Device {
        self.train.run_device(experiment)
    }

    /// A new run started (the event loop spawned it).
    pub fn run_started(&mut self, experiment: String, run_id: String, device: Device) {
        self.train.run_started(experiment, run_id, device, &mut self.shared);
        self.panel = Panel::Train;
    }

    /// A training event of the run in progress.
    pub fn on_train_event(&mut self, event: Event) {
        self.train.on_event(event, &mut self.shared);
    }

    /// The run's folder is complete: reload the history, start the next queued run.
    pub fn run_ended(&mut self) -> Vec<Effect> {
        self.train.run_ended()
    }

    /// The studies' standing arrived (with each history load). A study file that has
    /// become broken says so in the status bar.
    pub fn set_studies(&mut self, studies: Vec<crate::study::status::Overview>) {
        for study in &studies {
            let Err(error) = &study.study else { continue };
            let before = self.shared.studies.iter().find(|s| s.name == study.name).and_then(|s| s.study.as_ref().err());
            if before.map(|e| e.to_string()) != Some(error.to_string()) {
                self.shared.fail(format!("study {}: {error}", study.name));
            }
        }
        self.shared.studies = studies;
        self.train.studies_changed(&self.shared);
    }

    /// The experiment and seed of a queued run: the experiment file as it is now, or the
    /// study variant's expanded experiment (written to the study's folder, where a run's
    /// experiment path points).
    pub fn queued_experiment(&self, queued: &Queued) -> Result<(LoadedExperiment, u64), String> {
        match queued {
            Queued::Experiment(path) => {
                let entry = self.shared.experiments.iter().find(|e| e.path == *path).ok_or("the file is gone")?;
                let experiment = entry.good.clone().filter(|_| entry.error.is_none()).ok_or("the file is not valid")?;
                let seed = experiment.experiment.seed;
                Ok((experiment, seed))
            }
            Queued::Study { study, variant, seed } => {
                let overview = self.shared.studies.iter().find(|s| s.name == *study).ok_or("the study is gone")?;
                let expanded = overview.study.as_ref().map_err(|e| format!("the study has an error: {e}"))?;
                let found = expanded.variants.iter().find(|v| v.name == *variant).ok_or("no such variant any more")?;
                crate::study::execute::write_expanded(expanded)?;
                Ok((found.experiment.clone(), *seed))
            }
        }
    }

    /// `w`, carried out by the event loop.
    pub fn save_experiment(&mut self, path: &Path) {
        self.conditions.save(path, &mut self.shared);
    }

    /// A watched experiment file changed: keep the last good version on error.
    pub fn experiment_changed(&mut self, path: PathBuf, result: Result<LoadedExperiment, ConfigError>) -> Vec<Effect> {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let running = self.train.active() && self.train.experiment.as_deref() == Some(name.as_str());
        let shared = &mut self.shared;
        let selected_path = shared.selected_experiment().map(|e| e.path.clone());
        let index = match shared.experiments.iter().position(|e| e.path == path) {
            Some(i) => i,
            None => {
                shared.experiments.push(ExperimentEntry { path: path.clone(), good: None, error: None });
                shared.experiments.sort_by(|a, b| a.path.cmp(&b.path));
                // The selection stays on the experiment it was on.
                shared.selected =
                    selected_path.and_then(|p| shared.experiments.iter().position(|e| e.path == p)).or(shared.selected);
                shared.experiments.iter().position(|e| e.path == path).unwrap_or(0)
            }
        };
        let entry = &mut shared.experiments[index];
        match result {
            Ok(experiment) => {
                entry.good = Some(experiment);
                entry.error = None;
                shared.say(if running {
                    format!("{name} reloaded: the change applies to the next run")
                } else {
                    format!("{name} reloaded")
                });
            }
            Err(error) => {
                entry.error = Some(error);
                shared.fail(format!("{name}: invalid, keeping the last good version"));
            }
        }
        if shared.selected == Some(index) {
            self.sync_conditions();
        }
        self.data.sync_datasets(&mut self.shared)
    }

    /// A watched experiment file was removed. If it was the selected one, nothing is
    /// selected until the user picks again: a key meant for it must not act on the
    /// neighbour that would take its row.
    pub fn experiment_removed(&mut self, path: &Path) -> Vec<Effect> {
        let shared = &mut self.shared;
        let selected_path = shared.selected_experiment().map(|e| e.path.clone());
        shared.experiments.retain(|e| e.path != path);
        shared.selected = selected_path.as_ref().and_then(|p| shared.experiments.iter().position(|e| e.path == *p));
        if selected_path.is_some() && shared.selected.is_none() {
            shared.say(format!("{} was removed: select an experiment (↑/↓)", path.display()));
        } else {
            shared.say(format!("{} was removed", path.display()));
        }
        self.sync_conditions();
        self.data.sync_datasets(&mut self.shared)
    }
}
