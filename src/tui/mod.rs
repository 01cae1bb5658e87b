//! The TUI: `apg-bench` in a terminal. One `App` state, keys turned into actions, one
//! update, and `draw` that only reads; data loading, training, run history and the
//! file watcher run on their own threads and send events into one channel that this
//! loop drains, so a frame is never blocked by work.

pub mod app;
pub mod keys;
pub mod mouse;
pub mod panels;
pub mod scroll;
pub mod search;
pub mod shared;
pub mod theme;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent, KeyEventKind};

use crate::config::experiment::LoadedExperiment;
use crate::config::watch::{WatchEvent, WorkspaceWatcher};
use crate::config::workspace::Workspace;
use crate::data::stats::{self, DatasetStats};
use crate::data::{self, LoadOptions, LoadedDescriptor};
use crate::runs::history::History;
use crate::runs::recorded::{Next, RecordedRun};
use crate::runs::watch::{RunsEvent, RunsWatcher};
use crate::runs::{RunStatus, export};
use crate::study::status::{Overview, overview};
use crate::train::Event;
use crate::train::trainer::Control;
use app::{App, Effect, ExperimentEntry};
use shared::Queued;
use theme::Theme;
use view::Timing;

/// Everything that reaches the UI thread.
pub enum AppEvent {
    Key(KeyEvent, Instant),
    Mouse(mouse::Mouse),
    Resize,
    Data(Result<(DatasetStats, String), String>),
    Runs(Result<History, String>),
    Train(Event),
    TrainDone,
    Watch(Box<WatchEvent>),
    /// Run folders appeared, went or changed status (another process's runs too).
    RunsWatch(RunsEvent),
    /// The workspace's studies and where their runs stand (sent after each history load).
    Studies(Vec<Overview>),
    /// The inspection computed for a request of the Inspect panel.
    Inspected(u64, Box<Result<crate::inspect::Inspection, String>>),
}

/// Opens the workbench on `workspace` until the user quits.
pub fn run(workspace: &Path, options: Options) -> anyhow::Result<()> {
    // Absolute paths, as the file watcher reports them, so that a change finds its entry.
    let root =
        std::path::absolute(workspace).with_context(|| format!("{}: cannot resolve the path", workspace.display()))?;
    let workspace = Workspace::open(&root)?;
    let experiments = read_experiments(&workspace.root);
    let mut app = App::new(workspace, experiments, Theme::from_env());
    let (sender, receiver) = channel();
    let mut runtime = Runtime { sender: sender.clone(), control: None, _watcher: None, _runs_watcher: None };
    runtime._watcher = start_watcher(&app, &sender);
    runtime._runs_watcher = start_runs_watcher(&app, &sender);
    spawn_input(sender.clone());
    runtime.carry_out(&mut app, vec![Effect::LoadData, Effect::LoadRuns]);

    // ratatui::init enters the alternate screen and raw mode and installs a panic hook
    // that restores the terminal before the panic message prints.
    let mut terminal = ratatui::init();
    let mouse = mouse::wanted(options.no_mouse);
    if mouse {
        capture_mouse();
    }
    let result = event_loop(&mut terminal, &mut app, &receiver, &mut runtime);
    if mouse {
        release_mouse();
    }
    ratatui::restore();
    result
}

/// How the workbench is opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Leave the mouse to the terminal (its own text selection) instead of capturing it.
    pub no_mouse: bool,
}

/// Turns mouse reporting on, and off again before a panic message prints (ratatui's
/// own hook restores the rest of the terminal), so a crash never leaves the shell
/// printing escape codes on every mouse move.
fn capture_mouse() {
    let _ = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::event::EnableMouseCapture);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        release_mouse();
        previous(info);
    }));
}

fn release_mouse() {
    let _ = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::event::DisableMouseCapture);
}

fn read_experiments(root: &Path) -> Vec<ExperimentEntry> {
    let folder = root.join("experiments");
    let Ok(entries) = std::fs::read_dir(&folder) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| match LoadedExperiment::from_file(&path) {
            Ok(experiment) => ExperimentEntry { path, good: Some(experiment), error: None },
            Err(error) => ExperimentEntry { path, good: None, error: Some(error) },
        })
        .collect()
}

fn start_watcher(app: &App, sender: &Sender<AppEvent>) -> Option<WorkspaceWatcher> {
    let descriptor = app.shared.workspace.root.join(&app.shared.workspace.dataset);
    let extra = if descriptor.is_file() { vec![descriptor] } else { Vec::new() };
    let forward = sender.clone();
    let watcher = WorkspaceWatcher::start(&app.shared.workspace.root, extra, move |event| {
        let _ = forward.send(AppEvent::Watch(Box::new(event)));
    });
    match watcher {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            // Shown in the status bar: without it edits are not picked up live.
            let _ = sender.send(AppEvent::Watch(Box::new(WatchEvent::Error(format!("hot reload is off: {error}")))));
            None
        }
    }
}

/// Watches the workspace's runs/ so that runs written by another process show up.
fn start_runs_watcher(app: &App, sender: &Sender<AppEvent>) -> Option<RunsWatcher> {
    let forward = sender.clone();
    match RunsWatcher::start(&app.shared.workspace.root, move |event| {
        let _ = forward.send(AppEvent::RunsWatch(event));
    }) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            let message = format!("new runs show on r only: {error}");
            let _ = sender.send(AppEvent::RunsWatch(RunsEvent::Error(message)));
            None
        }
    }
}

/// Key presses and resizes, read on their own thread.
fn spawn_input(sender: Sender<AppEvent>) {
    std::thread::spawn(move || {
        loop {
            let event = match event::read() {
                Ok(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => AppEvent::Key(key, Instant::now()),
                Ok(TermEvent::Resize(..)) => AppEvent::Resize,
                Ok(TermEvent::Mouse(event)) => match mouse::Mouse::from_event(event) {
                    Some(mouse) => AppEvent::Mouse(mouse),
                    None => continue,
                },
                Ok(_) => continue,
                Err(_) => return,
            };
            if sender.send(event).is_err() {
                return;
            }
        }
    });
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    receiver: &Receiver<AppEvent>,
    runtime: &mut Runtime,
) -> anyhow::Result<()> {
    let mut timing = Timing::default();
    let mut pending_key: Option<Instant> = None;
    let mut dirty = true;
    let mut last_draw = Instant::now();
    while !app.quit {
        dirty |= app.tick(Instant::now());
        // Redraw when something changed: at once after a key, otherwise at most ~60 times
        // a second (training sends many events).
        if dirty && (pending_key.is_some() || last_draw.elapsed() >= Duration::from_millis(16)) {
            let start = Instant::now();
            terminal.draw(|frame| view::draw(frame, app, timing)).context("cannot draw")?;
            let now = Instant::now();
            timing.frame_ms = timing.frame_ms * 0.8 + (now - start).as_secs_f64() * 1e3 * 0.2;
            if let Some(pressed) = pending_key.take() {
                timing.key_to_screen_ms = Some((now - pressed).as_secs_f64() * 1e3);
            }
            last_draw = now;
            dirty = false;
        }
        let event = match receiver.recv_timeout(Duration::from_millis(16)) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                // The loading indicator moves even when no event arrives.
                dirty |= app.data.loading && app.shared.stats.is_none();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        dirty = true;
        let effects = match event {
            AppEvent::Key(key, at) => {
                pending_key.get_or_insert(at);
                app.on_key(key)
            }
            AppEvent::Mouse(mouse) => app.on_mouse(mouse),
            AppEvent::Resize => Vec::new(),
            AppEvent::Data(result) => {
                app.data.loading = false;
                match result {
                    Ok((stats, note)) => {
                        app.shared.stats = Some(stats);
                        app.data.load_note = note;
                        app.data.error = None;
                    }
                    Err(error) => app.data.error = Some(error),
                }
                Vec::new()
            }
            AppEvent::Runs(history) => {
                app.runs.set_history(history);
                Vec::new()
            }
            AppEvent::Train(event) => {
                app.on_train_event(event);
                Vec::new()
            }
            AppEvent::TrainDone => {
                runtime.control = None;
                app.run_ended()
            }
            AppEvent::Watch(event) => match *event {
                WatchEvent::ExperimentChanged { path, result } => app.experiment_changed(path, result),
                WatchEvent::ExperimentRemoved { path } => app.experiment_removed(&path),
                WatchEvent::DatasetChanged { result: Ok(_), .. } => {
                    app.shared.say("dataset descriptor changed: reloading");
                    vec![Effect::LoadData, Effect::RecheckExperiments]
                }
                WatchEvent::DatasetChanged { result: Err(error), .. } => {
                    app.shared.fail(format!("dataset descriptor: {error}"));
                    Vec::new()
                }
                WatchEvent::StudyChanged { .. } => vec![Effect::LoadRuns],
                WatchEvent::Error(error) => {
                    app.shared.fail(format!("file watcher: {error}"));
                    Vec::new()
                }
            },
            AppEvent::RunsWatch(event) => panels::runs::on_watch(&mut app.shared, event),
            AppEvent::Studies(studies) => {
                app.set_studies(studies);
                Vec::new()
            }
            AppEvent::Inspected(request, result) => {
                app.inspect.finished(request, *result);
                Vec::new()
            }
        };
        runtime.carry_out(app, effects);
    }
    // Quitting while training: the trainer was asked to stop; give it a moment to write
    // its run folder before the process exits.
    if let Some(control) = &runtime.control {
        control.stop();
        let deadline = Instant::now() + Duration::from_secs(5);
        while runtime.control.is_some() && Instant::now() < deadline {
            if let Ok(AppEvent::TrainDone) = receiver.recv_timeout(Duration::from_millis(50)) {
                runtime.control = None;
            }
        }
    }
    Ok(())
}

/// Carries out effects: threads for slow work, direct calls for quick ones.
struct Runtime {
    sender: Sender<AppEvent>,
    control: Option<Arc<Control>>,
    _watcher: Option<WorkspaceWatcher>,
    _runs_watcher: Option<RunsWatcher>,
}

impl Runtime {
    fn carry_out(&mut self, app: &mut App, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::LoadData => {
                    app.data.loading = true;
                    app.data.loading_since = Some(Instant::now());
                    let sender = self.sender.clone();
                    let reference = app.dataset_reference();
                    std::thread::spawn(move || {
                        let _ = sender.send(AppEvent::Data(load_stats(&reference)));
                    });
                }
                Effect::RecheckExperiments => {
                    // Experiments are validated against their dataset: parse them again
                    // on a worker, and let the results arrive like any other file change.
                    let sender = self.sender.clone();
                    let root = app.shared.workspace.root.clone();
                    std::thread::spawn(move || {
                        for entry in read_experiments(&root) {
                            let result = match (entry.good, entry.error) {
                                (_, Some(error)) => Err(error),
                                (Some(good), None) => Ok(good),
                                (None, None) => continue,
                            };
                            let event = WatchEvent::ExperimentChanged { path: entry.path, result };
                            let _ = sender.send(AppEvent::Watch(Box::new(event)));
                        }
                    });
                }
                Effect::LoadRuns => {
                    let sender = self.sender.clone();
                    let root = app.shared.workspace.root.clone();
                    std::thread::spawn(move || {
                        let history = History::load(&root).map_err(|e| e.to_string());
                        // The studies' standing is read from the same history.
                        let studies = history.as_ref().map(|h| overview(&root, h)).ok();
                        let _ = sender.send(AppEvent::Runs(history));
                        if let Some(studies) = studies {
                            let _ = sender.send(AppEvent::Studies(studies));
                        }
                    });
                }
                Effect::StartTraining(run) => self.start_training(app, &run),
                Effect::Pause => self.control.iter().for_each(|c| c.pause()),
                Effect::Resume => self.control.iter().for_each(|c| c.resume()),
                Effect::Stop => self.control.iter().for_each(|c| c.stop()),
                Effect::SaveExperiment(path) => app.save_experiment(&path),
                Effect::Export { markdown } => match export_comparison(app, markdown) {
                    Ok(message) => app.shared.say(message),
                    Err(message) => app.shared.fail(message),
                },
                Effect::Inspect { request, dir, options } => {
                    let sender = self.sender.clone();
                    std::thread::spawn(move || {
                        let result = crate::inspect::inspect_folder(&dir, &options);
                        let _ = sender.send(AppEvent::Inspected(request, Box::new(result)));
                    });
                }
                // The router takes these before they get here.
                Effect::SelectionChanged | Effect::Show(_) | Effect::Compare(_) | Effect::OpenInspect { .. } => {}
            }
        }
    }

    fn start_training(&mut self, app: &mut App, queued: &Queued) {
        let (experiment, seed) = match app.queued_experiment(queued) {
            Ok(found) => found,
            Err(error) => {
                app.shared.fail(format!("{}: {error}: not started", queued.label()));
                // The queue goes on: one broken entry does not hold up the rest.
                let next = app.run_ended();
                return self.carry_out(app, next.into_iter().filter(|e| *e != Effect::LoadRuns).collect());
            }
        };
        let device = app.run_device(&experiment);
        let name = experiment.experiment.name.clone();
        let mut run = match RecordedRun::start(&app.shared.workspace.root, experiment, seed, device) {
            Ok(run) => run,
            Err(error) => {
                app.shared.fail(format!("cannot start the run: {error}"));
                return;
            }
        };
        app.run_started(name, run.id().to_string(), device);
        self.control = Some(run.control());
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            let mut failure_shown = false;
            loop {
                let failed_before = run.write_error().is_some();
                match run.next(Duration::from_secs(3600)) {
                    Next::Idle => continue,
                    Next::Done => break,
                    Next::Event(event) => {
                        if let (false, Some(error)) = (failed_before, run.write_error()) {
                            let line = format!("run folder: {error}: the run fails");
                            let _ = sender.send(AppEvent::Train(Event::Log { line }));
                        }
                        failure_shown |= matches!(event, Event::Failed { .. });
                        let _ = sender.send(AppEvent::Train(event));
                    }
                }
            }
            // No signal ends a TUI run: the trainer's own end (finished, stopped on
            // request, diverged) is the run's status.
            match run.finish(false) {
                Ok((manifest, _)) if manifest.status == RunStatus::Failed && !failure_shown => {
                    let error = manifest.error.unwrap_or_else(|| "the run failed".into());
                    let _ = sender.send(AppEvent::Train(Event::Failed { error }));
                }
                Ok(_) => {}
                Err(error) => {
                    let line = format!("run folder: {error}");
                    let _ = sender.send(AppEvent::Train(Event::Log { line }));
                }
            }
            let _ = sender.send(AppEvent::TrainDone);
        });
    }
}

/// Loads the dataset and computes its statistics (on a worker thread).
fn load_stats(reference: &str) -> Result<(DatasetStats, String), String> {
    let descriptor = LoadedDescriptor::open(reference).map_err(|e| e.to_string())?;
    let (dataset, report) = data::load(&descriptor, &LoadOptions::default()).map_err(|e| e.to_string())?;
    let note = if report.from_cache {
        format!("(from cache, {:.0} ms)", report.seconds * 1e3)
    } else {
        format!("(encoded in {:.0} ms)", report.seconds * 1e3)
    };
    Ok((stats::dataset_stats_keeping(&dataset, stats::BROWSE_VALUES), note))
}

/// Writes the open comparison to `<workspace>/exports/`; says where, or why not.
fn export_comparison(app: &App, markdown: bool) -> Result<String, String> {
    let Some(comparison) = app.runs.comparison() else { return Ok("nothing to export".into()) };
    let (text, extension) = if markdown {
        (Ok(export::markdown(comparison)), "md")
    } else {
        (export::csv(comparison).map_err(|e| e.to_string()), "csv")
    };
    let text = text.map_err(|error| format!("export failed: {error}"))?;
    let folder = app.shared.workspace.root.join("exports");
    let file = folder.join(format!("compare-{}.{extension}", crate::runs::UtcTime::now().compact()));
    match std::fs::create_dir_all(&folder).and_then(|()| std::fs::write(&file, text)) {
        Ok(()) => Ok(format!("exported to {}", file.display())),
        Err(error) => Err(format!("export failed: {}: {error}", file.display())),
    }
}
