//! Key-level behaviour of the TUI's router and of the Data and Train panels: keys (and
//! background events) in, state out, on the `App` without a terminal.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apg_bench::config::Device;
use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::config::workspace::Workspace;
use apg_bench::train::{Event, MetricsRecord, Phase};
use apg_bench::tui::app::{App, Effect, ExperimentEntry, Panel, Queued};
use apg_bench::tui::keys::{self, Action};
use apg_bench::tui::theme::Theme;
use apg_bench::tui::view::{self, Timing};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const WORKSPACE: &str = "tests/fixtures/tui/workspace";

fn entry(path: PathBuf) -> ExperimentEntry {
    match LoadedExperiment::from_file(&path) {
        Ok(e) => ExperimentEntry { path, good: Some(e), error: None },
        Err(e) => ExperimentEntry { path, good: None, error: Some(e) },
    }
}

fn app() -> App {
    let workspace = Workspace::open(Path::new(WORKSPACE)).unwrap();
    let experiments = ["apg-group", "broken"]
        .iter()
        .map(|n| entry(PathBuf::from(format!("{WORKSPACE}/experiments/{n}.toml"))))
        .collect();
    App::new(workspace, experiments, Theme { color: false })
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl_c() -> KeyEvent {
    KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app, Timing { frame_ms: 1.0, key_to_screen_ms: None })).unwrap();
    terminal.backend().to_string()
}

fn select(app: &mut App, name: &str) {
    let index = app.shared.experiments.iter().position(|e| e.name() == name).unwrap();
    app.select(index);
}

fn start_run(app: &mut App) {
    app.run_started("apg-group".into(), "20260101-000000-apg-group-s1".into(), Device::Cpu);
    app.on_train_event(Event::Phase { phase: Phase::Training });
}

fn train_record(step: usize, elapsed_s: f64) -> Event {
    Event::Metrics { record: MetricsRecord::Train { step, epoch: 0, loss: 0.5, samples_per_s: 1000.0, elapsed_s } }
}

#[test]
fn q_quits_at_once_when_nothing_is_at_stake() {
    let mut app = app();
    assert!(app.on_key(key(KeyCode::Char('q'))).is_empty());
    assert!(app.quit);
}

#[test]
fn q_asks_while_a_run_trains_and_only_y_quits() {
    let mut app = app();
    start_run(&mut app);
    assert!(app.on_key(key(KeyCode::Char('q'))).is_empty());
    assert!(!app.quit && app.asking_quit, "{}", app.status());
    assert!(app.status().contains("a run is training"), "{}", app.status());
    app.on_key(key(KeyCode::Char('n')));
    assert!(!app.quit && !app.asking_quit, "any other key cancels");
    app.on_key(key(KeyCode::Char('q')));
    assert_eq!(app.on_key(key(KeyCode::Char('y'))), vec![Effect::Stop]);
    assert!(app.quit);
}

#[test]
fn ctrl_c_asks_once_and_a_second_ctrl_c_quits() {
    let mut app = app();
    start_run(&mut app);
    app.on_key(ctrl_c());
    assert!(!app.quit && app.asking_quit);
    assert_eq!(app.on_key(ctrl_c()), vec![Effect::Stop]);
    assert!(app.quit);
}

#[test]
fn q_asks_while_the_design_is_unsaved() {
    let mut app = app();
    select(&mut app, "apg-group");
    app.apply(Action::GoTo(Panel::Conditions));
    app.on_key(key(KeyCode::Char('b')));
    assert!(app.conditions.dirty);
    app.on_key(key(KeyCode::Char('q')));
    assert!(!app.quit && app.status().contains("unsaved"), "{}", app.status());
    assert!(app.on_key(key(KeyCode::Char('y'))).is_empty());
    assert!(app.quit);
}

#[test]
fn the_eta_leaves_out_paused_time_and_goes_when_the_run_ends() {
    let mut app = app();
    start_run(&mut app);
    app.on_train_event(Event::Plan {
        total_steps: 40,
        steps_per_epoch: 40,
        params: Default::default(),
        dataset_fingerprint: "f".into(),
    });
    app.on_train_event(train_record(10, 10.0));
    assert_eq!(app.train.eta_s(), Some(30.0), "1 s a step, 30 steps to go");
    app.on_train_event(Event::Phase { phase: Phase::Paused });
    assert_eq!(app.train.eta_s(), None, "no ETA while paused");
    app.on_train_event(Event::Phase { phase: Phase::Training });
    // 100 s paused, then 10 more steps at 1 s each: 120 s on the run's clock.
    app.on_train_event(train_record(20, 120.0));
    assert_eq!(app.train.eta_s(), Some(20.0));
    app.on_train_event(train_record(30, 130.0));
    assert_eq!(app.train.eta_s(), Some(10.0));
    app.on_train_event(Event::Phase { phase: Phase::Stopped });
    assert_eq!(app.train.eta_s(), None);
    let screen = render(&app, 100, 30);
    assert!(!screen.contains("ETA"), "{screen}");
}

#[test]
fn messages_expire_and_errors_stay_until_a_key() {
    let mut app = app();
    let t0 = Instant::now();
    app.shared.say("sorted by -started");
    app.tick(t0);
    app.tick(t0 + Duration::from_secs(7));
    assert_eq!(app.status(), "sorted by -started");
    app.tick(t0 + Duration::from_secs(9));
    assert_eq!(app.status(), "", "information goes after 8 s");

    app.shared.fail("training failed: boom");
    app.tick(t0);
    app.tick(t0 + Duration::from_secs(60));
    assert_eq!(app.status(), "training failed: boom", "errors do not time out");
    app.on_key(key(KeyCode::Char('j')));
    assert!(!app.shared.status.is_error(), "a key press acknowledges the error");
    let t1 = t0 + Duration::from_secs(61);
    app.tick(t1);
    app.tick(t1 + Duration::from_secs(7));
    assert_eq!(app.status(), "training failed: boom", "seen, it still shows for a while");
    app.tick(t1 + Duration::from_secs(9));
    assert_eq!(app.status(), "");
}

#[test]
fn a_bad_filter_message_goes_when_esc_cancels_the_filter() {
    let mut app = app();
    let empty = tempfile::tempdir().unwrap();
    app.runs.set_history(Ok(apg_bench::runs::history::History::load(empty.path()).unwrap()));
    app.apply(Action::GoTo(Panel::Runs));
    app.on_key(key(KeyCode::Char('/')));
    for c in "test.auc >".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    assert!(app.runs.filter_error.is_some());
    app.on_key(key(KeyCode::Char('/')));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.runs.filter_error, None);
    assert!(!render(&app, 80, 24).contains("—"), "no error on the filter line");
}

#[test]
fn bang_shows_a_long_error_whole_and_scrolls() {
    let mut app = app();
    let tail = "THE-END-OF-THE-MESSAGE";
    let long = format!("training failed: {} {tail}", "a very long reason ".repeat(30));
    app.shared.fail(long.clone());
    let screen = render(&app, 80, 24);
    assert!(!screen.contains(tail) && screen.contains("(! reads all)"), "{screen}");
    app.on_key(key(KeyCode::Char('!')));
    let message = app.message.clone().unwrap();
    assert!(message.starts_with(&long), "the message first, then the config error: {message}");
    assert!(message.contains("unknown field `hiden`"), "{message}");
    let screen = render(&app, 80, 24);
    assert!(screen.contains(tail), "{screen}");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.message_scroll, 1);
    app.on_key(key(KeyCode::Char('x')));
    assert!(app.message.is_none(), "any other key closes");
}

#[test]
fn footer_hints_are_whole_items() {
    let hints: Vec<String> = ["d next dataset", "r reload the dataset", "g first row"].map(String::from).to_vec();
    assert_eq!(keys::fit_hints(&hints, 35), "d next dataset", "the second would be cut");
    assert_eq!(keys::fit_hints(&hints, 36), "d next dataset  r reload the dataset");
    assert_eq!(keys::fit_hints(&hints, 10), "");
    let app = app();
    let screen = render(&app, 80, 24);
    let footer = screen.lines().nth(23).unwrap().trim_matches('"');
    let left = footer.split("hot reload").next().unwrap().trim_end();
    let bindings = app.bindings();
    let whole: Vec<String> = bindings.iter().map(|b| format!("{} {}", keys::key_label(b), b.help)).collect();
    for item in left.split("  ").filter(|s| !s.is_empty()) {
        assert!(whole.iter().any(|w| w == item), "{item:?} is cut: {footer}");
    }
}

#[test]
fn removing_the_selected_experiment_selects_nothing_so_s_trains_nothing() {
    let mut app = app();
    app.apply(Action::GoTo(Panel::Train));
    select(&mut app, "apg-group");
    let path = app.selected_experiment().unwrap().path.clone();
    app.experiment_removed(&path);
    assert_eq!(app.shared.selected, None);
    assert!(app.status().contains("was removed"), "{}", app.status());
    assert!(app.on_key(key(KeyCode::Char('s'))).is_empty(), "s trains nothing");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.selected_experiment().map(|e| e.name()).as_deref(), Some("broken"));
}

#[test]
fn removing_another_experiment_keeps_the_selection_on_its_file() {
    let mut app = app();
    select(&mut app, "broken");
    let other = app.shared.experiments[0].path.clone();
    app.experiment_removed(&other);
    assert_eq!(app.selected_experiment().map(|e| e.name()).as_deref(), Some("broken"));
}

#[test]
fn s_refuses_an_experiment_whose_file_has_an_error_even_with_a_last_good_version() {
    let mut app = app();
    app.apply(Action::GoTo(Panel::Train));
    select(&mut app, "apg-group");
    let broken = LoadedExperiment::from_file(Path::new(&format!("{WORKSPACE}/experiments/broken.toml"))).unwrap_err();
    let path = app.selected_experiment().unwrap().path.clone();
    app.experiment_changed(path, Err(broken));
    assert!(app.selected_experiment().unwrap().good.is_some(), "the last good version stays");
    assert!(app.on_key(key(KeyCode::Char('s'))).is_empty());
    assert!(app.status().contains("has an error"), "{}", app.status());
    assert!(app.on_key(key(KeyCode::Char('a'))).is_empty());
    assert!(app.train.queue.is_empty(), "nor is it queued");
}

#[test]
fn s_takes_the_experiment_out_of_the_queue_and_u_and_shift_u_edit_it() {
    let mut app = app();
    app.apply(Action::GoTo(Panel::Train));
    select(&mut app, "apg-group");
    let path = app.selected_experiment().unwrap().path.clone();
    app.on_key(key(KeyCode::Char('a')));
    assert_eq!(app.train.queue.len(), 1);
    assert_eq!(app.train.queue[0], Queued::Experiment(path.clone()));
    assert_eq!(app.on_key(key(KeyCode::Char('s'))), vec![Effect::StartTraining(Queued::Experiment(path.clone()))]);
    assert!(app.train.queue.is_empty(), "started, it is no longer queued");
    start_run(&mut app);
    app.on_key(key(KeyCode::Char('a')));
    app.on_key(key(KeyCode::Char('a')));
    assert_eq!(app.train.queue.len(), 2);
    assert!(render(&app, 80, 24).contains("Queue (2)"));
    app.on_key(key(KeyCode::Char('u')));
    assert_eq!(app.train.queue.len(), 1);
    app.on_key(key(KeyCode::Char('U')));
    assert!(app.train.queue.is_empty());
    app.on_train_event(Event::Phase { phase: Phase::Finished });
    assert_eq!(app.run_ended(), vec![Effect::LoadRuns], "nothing left to train");
}

#[test]
fn the_data_panels_datasets_follow_the_experiments() {
    let mut app = app();
    assert_eq!(app.data.datasets.len(), 1, "{:?}", app.data.datasets);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("builtin.toml");
    std::fs::write(&path, "dataset = \"synthetic-multidomain\"\n").unwrap();
    let loaded = LoadedExperiment::from_file(&path).unwrap();
    app.experiment_changed(path.clone(), Ok(loaded));
    assert_eq!(app.data.datasets.last().map(String::as_str), Some("synthetic-multidomain"), "{:?}", app.data.datasets);
    // Showing it, then its experiment goes: back to the workspace's dataset.
    app.apply(Action::GoTo(Panel::Data));
    assert_eq!(app.on_key(key(KeyCode::Char('d'))), vec![Effect::LoadData]);
    assert_eq!(app.dataset_reference(), "synthetic-multidomain");
    assert_eq!(app.experiment_removed(&path), vec![Effect::LoadData]);
    assert_eq!(app.data.datasets.len(), 1);
    assert_eq!(app.dataset_reference(), app.shared.workspace.dataset_reference());
}

#[test]
fn the_help_lists_only_keys_that_act_in_the_panel() {
    // The Data panel's ← and → move the keys between its field list and the values.
    for panel in [Panel::Conditions, Panel::Train] {
        let actions: Vec<Action> = keys::bindings(panel).iter().map(|b| b.action).collect();
        assert!(!actions.contains(&Action::Left) && !actions.contains(&Action::Right), "{panel:?}");
    }
    let conditions: Vec<Action> = keys::bindings(Panel::Conditions).iter().map(|b| b.action).collect();
    assert!(!conditions.contains(&Action::PageDown), "the Conditions panel does not page");
}

#[test]
fn every_key_of_the_help_shows_at_80x24() {
    let mut app = app();
    app.apply(Action::GoTo(Panel::Train));
    app.apply(Action::ToggleHelp);
    let screen = render(&app, 80, 24);
    let bindings = app.bindings();
    assert!(bindings.len() > 20, "more keys than rows: the test needs two columns");
    for binding in &bindings {
        let start: String = binding.help.chars().take(12).collect();
        assert!(screen.contains(&start), "{:?} is missing:\n{screen}", binding.help);
    }
}
