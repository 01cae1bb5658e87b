//! The TUI without a terminal: keys -> actions -> state, and snapshots of every panel,
//! the help, an invalid-config banner, a comparison and NO_COLOR on ratatui's
//! TestBackend. Fixtures: tests/fixtures/tui/workspace (a 3,000-row synthetic dataset,
//! one valid and one broken experiment) and hand-made run folders.

use std::path::{Path, PathBuf};

use apg_bench::config::Device;
use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::config::workspace::Workspace;
use apg_bench::data::{self, LoadOptions, LoadedDescriptor};
use apg_bench::runs::history::History;
use apg_bench::train::{EvalMetrics, Event, GroupMetrics, MetricsRecord, Phase};
use apg_bench::tui::app::{App, Effect, ExperimentEntry, Panel, Queued};
use apg_bench::tui::keys::Action;
use apg_bench::tui::panels::train::DeviceChoice;
use apg_bench::tui::theme::Theme;
use apg_bench::tui::view::{self, Timing};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

const WORKSPACE: &str = "tests/fixtures/tui/workspace";

fn experiments() -> Vec<ExperimentEntry> {
    let mut entries: Vec<ExperimentEntry> = ["apg-group", "broken"]
        .iter()
        .map(|name| {
            let path = PathBuf::from(format!("{WORKSPACE}/experiments/{name}.toml"));
            match LoadedExperiment::from_file(&path) {
                Ok(e) => ExperimentEntry { path, good: Some(e), error: None },
                Err(e) => ExperimentEntry { path, good: None, error: Some(e) },
            }
        })
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

fn app(color: bool) -> App {
    let workspace = Workspace::open(Path::new(WORKSPACE)).unwrap();
    let mut app = App::new(workspace, experiments(), Theme { color });
    let descriptor = LoadedDescriptor::open(&app.shared.workspace.dataset_reference()).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    // As many values per field as the workbench keeps.
    app.shared.stats = Some(data::stats::dataset_stats_keeping(&dataset, data::stats::BROWSE_VALUES));
    app.data.load_note = "(test)".into();
    app.sync_conditions();
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app, Timing { frame_ms: 1.0, key_to_screen_ms: Some(2.0) })).unwrap();
    terminal.backend().to_string()
}

/// A made-up run of the apg-group experiment, as the trainer would report it.
fn feed_training(app: &mut App) {
    app.run_started("apg-group".into(), "20260101-000000-apg-group-s1".into(), Device::Cpu);
    app.on_train_event(Event::Phase { phase: Phase::Training });
    app.on_train_event(Event::Plan {
        total_steps: 100,
        steps_per_epoch: 100,
        params: Default::default(),
        dataset_fingerprint: "f".into(),
    });
    for step in (10..=60).step_by(10) {
        let loss = 0.7 - step as f64 * 0.003;
        app.on_train_event(Event::Metrics {
            record: MetricsRecord::Train {
                step,
                epoch: 0,
                loss,
                samples_per_s: 50_000.0,
                elapsed_s: step as f64 * 0.02,
            },
        });
    }
    let groups = vec![
        GroupMetrics {
            field: "user_activity".into(),
            value: "cold".into(),
            rows: 50,
            positives: Some(12),
            auc: Some(0.71),
            logloss: 0.6,
        },
        GroupMetrics {
            field: "user_activity".into(),
            value: "active".into(),
            rows: 250,
            positives: Some(90),
            auc: Some(0.76),
            logloss: 0.55,
        },
    ];
    for (step, auc) in [(30, 0.72), (60, 0.75)] {
        let metrics = EvalMetrics {
            split: "valid".into(),
            rows: 300,
            positives: Some(102),
            auc: Some(auc),
            logloss: 0.56,
            gauc: None,
            gauc_groups: None,
            gauc_rows: None,
            groups: groups.clone(),
        };
        app.on_train_event(Event::Metrics { record: MetricsRecord::Eval { step, epoch: 0, elapsed_s: 1.0, metrics } });
    }
}

#[test]
fn keys_switch_panels_and_open_help() {
    let mut app = app(true);
    assert_eq!(app.panel, Panel::Data);
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.panel, Panel::Conditions);
    app.on_key(key(KeyCode::BackTab));
    assert_eq!(app.panel, Panel::Data);
    app.on_key(key(KeyCode::Char('4')));
    assert_eq!(app.panel, Panel::Runs);
    app.on_key(key(KeyCode::Char('?')));
    assert!(app.help);
    // Any key closes the help without acting.
    app.on_key(key(KeyCode::Char('1')));
    assert!(!app.help);
    assert_eq!(app.panel, Panel::Runs);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn d_cycles_through_the_datasets_of_the_workspace() {
    let mut app = app(true);
    // The fixture's experiment names the same descriptor as the workspace: one dataset.
    assert_eq!(app.data.datasets.len(), 1, "{:?}", app.data.datasets);
    assert!(app.on_key(key(KeyCode::Char('d'))).is_empty());
    assert_eq!(app.status(), "this workspace uses one dataset");
    // A second dataset (a built-in one) joins the list; d moves to it and reloads.
    app.data.datasets.push("example-csv".into());
    assert_eq!(app.on_key(key(KeyCode::Char('d'))), vec![Effect::LoadData]);
    assert_eq!(app.dataset_reference(), "example-csv");
    assert!(app.shared.stats.is_none(), "the old statistics are not shown for the new dataset");
}

#[test]
fn train_keys_start_queue_pause_and_stop() {
    let mut app = app(true);
    app.apply(Action::GoTo(Panel::Train));
    // The broken experiment cannot start.
    app.select(app.shared.experiments.iter().position(|e| e.name() == "broken").unwrap());
    assert!(app.on_key(key(KeyCode::Char('s'))).is_empty());
    assert!(app.status().contains("has an error"));
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    let effects = app.on_key(key(KeyCode::Char('s')));
    assert_eq!(
        effects,
        vec![Effect::StartTraining(Queued::Experiment(PathBuf::from(format!(
            "{WORKSPACE}/experiments/apg-group.toml"
        ))))]
    );
    feed_training(&mut app);
    // While it trains, s queues; p pauses; x stops.
    assert!(app.on_key(key(KeyCode::Char('s'))).is_empty());
    assert_eq!(app.train.queue.len(), 1);
    assert_eq!(app.on_key(key(KeyCode::Char('p'))), vec![Effect::Pause]);
    app.on_train_event(Event::Phase { phase: Phase::Paused });
    assert_eq!(app.on_key(key(KeyCode::Char('p'))), vec![Effect::Resume]);
    assert_eq!(app.on_key(key(KeyCode::Char('x'))), vec![Effect::Stop]);
    // When the run's folder is complete the history reloads and the queue moves on.
    let effects = app.run_ended();
    assert_eq!(effects[0], Effect::LoadRuns);
    assert!(matches!(effects[1], Effect::StartTraining(_)));
    assert_eq!(app.train.valid_auc, vec![(30.0, 0.72), (60.0, 0.75)]);
}

#[test]
fn d_cycles_the_device_of_the_next_run() {
    let mut app = app(true);
    app.apply(Action::GoTo(Panel::Train));
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    let experiment = app.selected_experiment().unwrap().good.clone().unwrap();
    assert_eq!(experiment.experiment.device, Device::Cpu);
    assert_eq!(app.train.next_device, DeviceChoice::Experiment);
    assert_eq!(app.run_device(&experiment), Device::Cpu);
    assert!(render(&app, 120, 32).contains("next run on cpu (the experiment's)  d: change"));
    app.on_key(key(KeyCode::Char('d')));
    assert_eq!(app.train.next_device, DeviceChoice::Cpu);
    assert_eq!(app.run_device(&experiment), Device::Cpu);
    assert!(render(&app, 120, 32).contains("next run on cpu (chosen with d)"));
    app.on_key(key(KeyCode::Char('d')));
    // cuda:0 is offered by CUDA builds only.
    if cfg!(feature = "cuda") {
        assert_eq!(app.train.next_device, DeviceChoice::Cuda);
        assert_eq!(app.run_device(&experiment), Device::Cuda(0));
        assert!(render(&app, 120, 32).contains("next run on cuda:0 (chosen with d)"));
        app.on_key(key(KeyCode::Char('d')));
    }
    assert_eq!(app.train.next_device, DeviceChoice::Experiment, "the cycle wraps around");
    // The choice outlives the runs it starts.
    app.on_key(key(KeyCode::Char('d')));
    app.run_started("apg-group".into(), "20260101-000000-apg-group-s1".into(), app.run_device(&experiment));
    assert_eq!(app.train.next_device, DeviceChoice::Cpu);
    assert_eq!(app.train.device, Device::Cpu);
}

/// A CUDA run on a machine without a usable GPU, failing as the trainer reports it.
fn fail_on_gpu(app: &mut App) {
    app.run_started("apg-group".into(), "20260101-000000-apg-group-s1".into(), Device::Cuda(0));
    app.on_train_event(Event::Log { line: "dataset tui-test: 3000 rows".into() });
    app.on_train_event(Event::Failed {
        error: "no usable GPU \"cuda:0\" (Driver(DriverError(CUDA_ERROR_NO_DEVICE, \"no CUDA-capable device is \
                detected\"))): train with --device cpu"
            .into(),
    });
}

#[test]
fn a_failed_gpu_run_says_which_key_picks_the_cpu() {
    let mut app = app(true);
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    fail_on_gpu(&mut app);
    assert_eq!(app.train.phase, Some(Phase::Failed));
    assert!(app.status().starts_with("cuda:0 failed: choose cpu with d, then s · no usable GPU"), "{}", app.status());
    assert!(app.train.log.iter().any(|l| l.starts_with("failed: no usable GPU")), "{:?}", app.train.log);
    // A CPU run that fails gets no device advice.
    app.run_started("apg-group".into(), "20260101-000100-apg-group-s1".into(), Device::Cpu);
    assert_eq!(app.status(), "apg-group started on cpu", "a new run clears the old failure");
    app.on_train_event(Event::Failed { error: "the training loss became NaN".into() });
    assert_eq!(app.status(), "training failed: the training loss became NaN");
}

#[test]
fn condition_keys_edit_the_design() {
    let mut app = app(true);
    app.apply(Action::GoTo(Panel::Conditions));
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    app.sync_conditions();
    assert_eq!(app.conditions.apg.condition.fields, vec!["domain"]);
    app.on_key(key(KeyCode::Char('m'))); // group -> mix
    let device = app.shared.stats.as_ref().unwrap().conditions.iter().position(|c| c.field == "device").unwrap();
    app.conditions.cursor = device;
    app.on_key(key(KeyCode::Char(' ')));
    assert_eq!(app.conditions.apg.condition.fields, vec!["domain", "device"]);
    app.on_key(key(KeyCode::Char('+')));
    assert_eq!(app.conditions.apg.rank, vec![8, 4]);
    app.on_key(key(KeyCode::Char('>')));
    assert_eq!(app.conditions.apg.overparam, vec![32, 16], "P starts from 2 K, then doubles");
    app.on_key(key(KeyCode::Char('<')));
    app.on_key(key(KeyCode::Char('<')));
    assert_eq!(app.conditions.apg.overparam, vec![8, 4], "P never falls below K");
    app.on_key(key(KeyCode::Char('g')));
    assert_eq!(app.conditions.apg.generator_hidden, vec![16]);
    assert!(app.conditions.dirty);
    let effects = app.on_key(key(KeyCode::Char('w')));
    assert_eq!(effects, vec![Effect::SaveExperiment(PathBuf::from(format!("{WORKSPACE}/experiments/apg-group.toml")))]);
}

#[test]
fn saving_keeps_comments_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.toml");
    std::fs::copy(format!("{WORKSPACE}/experiments/apg-group.toml"), &file).unwrap();
    std::fs::copy(format!("{WORKSPACE}/data.toml"), dir.path().join("data.toml")).unwrap();
    let text = std::fs::read_to_string(&file).unwrap().replace("../data.toml", "data.toml");
    std::fs::write(&file, &text).unwrap();
    let mut apg = LoadedExperiment::from_file(&file).unwrap().experiment.apg;
    apg.condition.mode = apg_bench::config::experiment::ConditionMode::Mix;
    apg.condition.fields = vec!["domain".into(), "device".into()];
    apg.rank = vec![8, 4];
    apg.overparam = vec![16, 8];
    apg.generator_hidden = vec![16];
    let saved = apg_bench::config::edit::set_apg(&file, &text, &apg).unwrap();
    std::fs::write(&file, &saved).unwrap();
    assert!(saved.starts_with("# An APG experiment for the TUI tests.\n"), "{saved}");
    assert!(saved.contains("[train]\nepochs = 1"), "{saved}");
    let reloaded = LoadedExperiment::from_file(&file).unwrap().experiment.apg;
    assert_eq!(reloaded.condition.fields, vec!["domain", "device"]);
    assert_eq!(reloaded.rank, vec![8, 4]);
    assert_eq!(reloaded.overparam, vec![16, 8]);
    assert_eq!(reloaded.generator_hidden, vec![16]);
}

#[test]
fn hot_reload_keeps_the_last_good_version_on_error() {
    let mut app = app(true);
    let path = PathBuf::from(format!("{WORKSPACE}/experiments/apg-group.toml"));
    let error = LoadedExperiment::from_file(Path::new(&format!("{WORKSPACE}/experiments/broken.toml"))).unwrap_err();
    app.experiment_changed(path.clone(), Err(error));
    let entry = app.shared.experiments.iter().find(|e| e.path == path).unwrap();
    assert!(entry.good.is_some(), "the last good version stays in use");
    assert!(entry.error.is_some());
    let good = LoadedExperiment::from_file(&path).unwrap();
    app.experiment_changed(path.clone(), Ok(good));
    assert!(app.shared.experiments.iter().find(|e| e.path == path).unwrap().error.is_none());
}

#[test]
fn snapshot_data_panel() {
    insta::assert_snapshot!(render(&app(true), 120, 32));
}

#[test]
fn snapshot_conditions_panel() {
    let mut app = app(true);
    app.apply(Action::GoTo(Panel::Conditions));
    insta::assert_snapshot!(render(&app, 120, 32));
}

#[test]
fn snapshot_train_panel_while_training() {
    let mut app = app(true);
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    feed_training(&mut app);
    insta::assert_snapshot!(render(&app, 120, 32));
}

#[test]
fn snapshot_train_panel_after_a_gpu_failure() {
    let mut app = app(true);
    // Without the broken experiment, whose error would take the status bar.
    app.shared.experiments.retain(|e| e.error.is_none());
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    fail_on_gpu(&mut app);
    app.on_key(key(KeyCode::Char('d')));
    insta::assert_snapshot!(render(&app, 120, 32));
}

#[test]
fn snapshot_help() {
    let mut app = app(true);
    app.apply(Action::GoTo(Panel::Train));
    app.apply(Action::ToggleHelp);
    insta::assert_snapshot!(render(&app, 100, 30));
}

#[test]
fn snapshot_invalid_config_banner() {
    let mut app = app(true);
    app.apply(Action::GoTo(Panel::Train));
    app.select(app.shared.experiments.iter().position(|e| e.name() == "broken").unwrap());
    insta::assert_snapshot!(render(&app, 120, 30));
}

#[test]
fn snapshot_too_small_terminal() {
    insta::assert_snapshot!(render(&app(true), 60, 10));
}

/// Two hand-made finished runs in a temp workspace.
fn history() -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    for (id, seed, auc, variant) in
        [("20260101-000000-static-s1", 1, 0.74, "static"), ("20260101-000100-apg-s1", 1, 0.76, "v5")]
    {
        let run = dir.path().join("runs").join(id);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("run.toml"),
            format!(
                "id = \"{id}\"\nexperiment = \"{}\"\nexperiment_path = \"experiments/x.toml\"\nstatus = \"finished\"\nstarted = \"2026-01-01T00:00:00Z\"\nended = \"2026-01-01T00:00:10Z\"\nhost = \"h\"\npid = 1\ndevice = \"cpu\"\nseed = {seed}\nversion = \"0.1.0\"\nconfig_hash = \"{variant}\"\ndataset_fingerprint = \"f\"\nparent = \"\"\n",
                id.split('-').nth(2).unwrap()
            ),
        )
        .unwrap();
        std::fs::write(
            run.join("config.toml"),
            format!("dataset = \"synthetic-multidomain\"\n[apg]\nvariant = \"{variant}\"\n"),
        )
        .unwrap();
        let summary = serde_json::json!({
            "status": "finished", "steps": 100, "epochs_done": 1.0, "best_step": 100,
            "best_valid": {"split": "valid", "rows": 10, "auc": auc - 0.01, "logloss": 0.55, "gauc": null, "groups": []},
            "test": {"split": "test", "rows": 10, "auc": auc, "logloss": 0.54, "gauc": null, "groups": []},
            "params": {"dense": 100, "embedding": 1000}, "train_seconds": 2.0, "samples_per_s": 50000.0, "stopped_early": false
        });
        std::fs::write(run.join("summary.json"), summary.to_string()).unwrap();
        let lines: String = (1..=4)
            .map(|i| {
                format!(
                    "{{\"kind\":\"eval\",\"step\":{},\"epoch\":0,\"elapsed_s\":1.0,\"metrics\":{{\"split\":\"valid\",\"rows\":10,\"auc\":{},\"logloss\":0.5,\"gauc\":null,\"groups\":[]}}}}\n",
                    i * 25,
                    auc - 0.04 + i as f64 * 0.0075
                )
            })
            .collect();
        std::fs::write(run.join("metrics.jsonl"), lines).unwrap();
    }
    let history = History::load(dir.path()).unwrap();
    (dir, history)
}

#[test]
fn snapshot_runs_and_compare() {
    let mut app = app(true);
    let (_dir, history) = history();
    app.runs.set_history(Ok(history));
    app.apply(Action::GoTo(Panel::Runs));
    app.on_key(key(KeyCode::Char(' ')));
    app.on_key(key(KeyCode::Char('j')));
    app.on_key(key(KeyCode::Char(' ')));
    assert_eq!(app.runs.marked.len(), 2);
    insta::assert_snapshot!("runs_table", render(&app, 120, 24));
    app.on_key(key(KeyCode::Char('c')));
    assert!(app.runs.compare.is_some(), "{}", app.status());
    insta::assert_snapshot!("runs_compare", render(&app, 120, 30));
    // A bad filter says where it is wrong and keeps every run.
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Char('/')));
    for c in "test.auc >".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    assert!(app.runs.filter_error.is_some());
    assert_eq!(app.runs.visible.len(), 2);
}

#[test]
fn no_color_uses_no_colours() {
    let mut app = app(false);
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    feed_training(&mut app);
    for panel in Panel::ALL {
        app.panel = panel;
        let mut terminal = Terminal::new(TestBackend::new(120, 32)).unwrap();
        terminal.draw(|frame| view::draw(frame, &app, Timing::default())).unwrap();
        let buffer = terminal.backend().buffer();
        for cell in buffer.content() {
            assert!(
                matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
                "{panel:?}: a coloured cell {cell:?}"
            );
        }
    }
    // With colour some cells are coloured (so the check above can fail).
    let coloured = app_with_colour_has_colour();
    assert!(coloured);
}

fn app_with_colour_has_colour() -> bool {
    let app = app(true);
    let mut terminal = Terminal::new(TestBackend::new(120, 32)).unwrap();
    terminal.draw(|frame| view::draw(frame, &app, Timing::default())).unwrap();
    terminal.backend().buffer().content().iter().any(|c| !matches!(c.fg, Color::Reset))
}

#[test]
fn every_panel_draws_at_80x24_and_at_odd_sizes() {
    let mut app = app(true);
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    feed_training(&mut app);
    let (_dir, history) = history();
    app.runs.set_history(Ok(history));
    for panel in Panel::ALL {
        app.panel = panel;
        for (w, h) in [(80, 24), (81, 25), (200, 60), (79, 24), (1, 1)] {
            let screen = render(&app, w, h);
            if w < 80 || h < 24 {
                assert!(screen.contains("needs at least") || w < 20, "{panel:?} {w}x{h}");
            } else {
                assert!(screen.contains(panel.title()), "{panel:?} {w}x{h}:\n{screen}");
            }
        }
    }
}

/// `n` finished runs named `run-NN`, oldest first.
fn many_runs(n: usize) -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let id = format!("20260101-00{:02}{:02}-run-{i:02}-s1", i / 60, i % 60);
        let run = dir.path().join("runs").join(&id);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("run.toml"),
            format!(
                "id = \"{id}\"\nexperiment = \"run-{i:02}\"\nexperiment_path = \"experiments/x.toml\"\nstatus = \"finished\"\nstarted = \"2026-01-01T00:{:02}:{:02}Z\"\nended = \"2026-01-01T01:00:00Z\"\nhost = \"h\"\npid = 1\ndevice = \"cpu\"\nseed = 1\nversion = \"0.1.0\"\nconfig_hash = \"h{i}\"\ndataset_fingerprint = \"f\"\nparent = \"\"\n",
                i / 60,
                i % 60
            ),
        )
        .unwrap();
    }
    let history = History::load(dir.path()).unwrap();
    assert_eq!(history.runs.len(), n);
    (dir, history)
}

#[test]
fn a_long_run_list_scrolls_with_the_selection_and_never_wraps() {
    let mut app = app(false);
    let (_dir, history) = many_runs(50);
    app.runs.set_history(Ok(history));
    app.apply(Action::GoTo(Panel::Runs));
    // Rows show the experiment (here named after the run) and its seed, not the id.
    let selected_id =
        |app: &App| app.runs.history.as_ref().unwrap().runs[app.runs.visible[app.runs.selected]].row.experiment.clone();
    let first = selected_id(&app);
    let screen = render(&app, 80, 24);
    assert!(screen.contains(&first), "{screen}");

    app.on_key(key(KeyCode::Char('G')));
    assert_eq!(app.runs.selected, 49);
    let last = selected_id(&app);
    let screen = render(&app, 80, 24);
    assert!(screen.contains(&last), "the last run is drawn:\n{screen}");
    assert!(!screen.contains(&first), "the first run scrolled away:\n{screen}");
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.runs.selected, 49, "j at the bottom stays there");

    // A page is what the screen shows: 24 rows less the tabs, filter, borders, header, status.
    app.on_key(key(KeyCode::PageUp));
    let page = 49 - app.runs.selected;
    assert!((10..=20).contains(&page), "paged by {page}");
    assert!(render(&app, 80, 24).contains(&selected_id(&app)));
    app.on_key(key(KeyCode::Home));
    assert_eq!(app.runs.selected, 0);
    app.on_key(key(KeyCode::Char('k')));
    assert_eq!(app.runs.selected, 0);
    app.on_key(key(KeyCode::End));
    app.on_key(key(KeyCode::Char('g')));
    assert_eq!(app.runs.selected, 0);
}

#[test]
fn a_long_experiment_list_scrolls_and_the_log_scrolls_back() {
    let workspace = Workspace::open(Path::new(WORKSPACE)).unwrap();
    let entries: Vec<ExperimentEntry> = (0..35)
        .map(|i| ExperimentEntry { path: PathBuf::from(format!("exp-{i:02}.toml")), good: None, error: None })
        .collect();
    let mut app = App::new(workspace, entries, Theme { color: false });
    app.apply(Action::GoTo(Panel::Train));
    render(&app, 80, 24);
    app.on_key(key(KeyCode::End));
    assert_eq!(app.shared.selected, Some(34));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("exp-34") && !screen.contains("exp-00"), "{screen}");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.shared.selected, Some(34), "down at the bottom does not wrap to the top");

    for i in 0..100 {
        app.on_train_event(Event::Log { line: format!("log line {i:03}") });
    }
    let screen = render(&app, 120, 40);
    assert!(screen.contains("log line 099") && !screen.contains("log line 050"), "{screen}");
    app.on_key(key(KeyCode::Char('[')));
    assert!(app.train.log_back > 0);
    let back = render(&app, 120, 40);
    assert!(!back.contains("log line 099") && back.contains("lines back"), "{back}");
    // New lines keep a scrolled-back log where it is.
    app.on_train_event(Event::Log { line: "log line 100".into() });
    assert_eq!(
        render(&app, 120, 40).lines().filter(|l| l.contains("log line")).count(),
        back.lines().filter(|l| l.contains("log line")).count()
    );
    assert!(!render(&app, 120, 40).contains("log line 100"));
    for _ in 0..20 {
        app.on_key(key(KeyCode::Char(']')));
    }
    assert_eq!(app.train.log_back, 0);
    assert!(render(&app, 120, 40).contains("log line 100"));
}

/// The Data panel: → moves the keys from the field list to the selected field's values,
/// which scroll through every value (the user field has 336) with the rows shown counted
/// in the title; ← gives the keys back to the fields.
#[test]
fn the_values_of_a_field_scroll_once_right_moves_the_keys_to_them() {
    let mut app = app(false);
    let user = app.shared.stats.as_ref().unwrap().fields[0].clone();
    assert_eq!((user.name.as_str(), user.cardinality, user.top.len()), ("user", 336, 336));
    let (first, last) = (user.top[0].value.clone(), user.top[335].value.clone());
    // 120x32: 16 values fit under the field's description.
    let screen = render(&app, 120, 32);
    assert!(screen.contains("Values 1-16 of 336 (→ scrolls)"), "{screen}");
    assert!(screen.contains(&first) && !screen.contains(&last), "{screen}");

    app.on_key(key(KeyCode::Char('l')));
    assert!(app.data.values_focus);
    app.on_key(key(KeyCode::Char('G')));
    assert_eq!((app.data.field, app.data.value), (0, 335), "G goes to the last value, the field stays");
    let screen = render(&app, 120, 32);
    assert!(screen.contains("Values 321-336 of 336 (← fields)"), "{screen}");
    assert!(screen.contains(&last), "{screen}");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.data.value, 335, "no wrap to the top");
    app.on_key(key(KeyCode::Char('g')));
    render(&app, 120, 32);
    app.on_key(key(KeyCode::PageDown));
    assert_eq!(app.data.value, 16, "a page is the 16 rows drawn");
    assert!(render(&app, 120, 32).contains("Values 2-17 of 336"));

    app.on_key(key(KeyCode::Left));
    assert!(!app.data.values_focus);
    app.on_key(key(KeyCode::Down));
    assert_eq!((app.data.field, app.data.value), (1, 0), "the next field's values start at the top");
    let item = &app.shared.stats.as_ref().unwrap().fields[1];
    assert!(render(&app, 120, 32).contains(&format!("Values 1-16 of {}", item.top.len())));
}

/// Statistics that hold fewer values than the field has say how many there are in all.
#[test]
fn a_field_with_more_values_than_kept_says_how_many_in_all() {
    let mut app = app(false);
    let descriptor = LoadedDescriptor::open(&app.shared.workspace.dataset_reference()).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    app.shared.stats = Some(data::stats::dataset_stats(&dataset));
    let screen = render(&app, 120, 32);
    assert!(screen.contains("Values 1-10 of 10 (336 in all)"), "{screen}");
}

#[test]
fn snapshot_data_values_scrolled_at_80x24() {
    let mut app = app(true);
    app.on_key(key(KeyCode::Right));
    for _ in 0..3 {
        // Each page is the height drawn last.
        render(&app, 80, 24);
        app.on_key(key(KeyCode::PageDown));
    }
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// The Train panel's per-group AUC shows the groups a page at a time: { and } scroll,
/// and the bottom border says which show.
#[test]
fn the_per_group_auc_scrolls_by_pages() {
    let mut app = app(false);
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap());
    app.apply(Action::GoTo(Panel::Train));
    feed_training(&mut app);
    let groups: Vec<GroupMetrics> = (1..=21)
        .map(|i| GroupMetrics {
            field: "item_category".into(),
            value: format!("group-{i:02}"),
            rows: 100,
            positives: Some(30),
            auc: Some(0.6),
            logloss: 0.6,
        })
        .collect();
    let metrics = EvalMetrics {
        split: "valid".into(),
        rows: 2100,
        positives: Some(630),
        auc: Some(0.6),
        logloss: 0.6,
        gauc: None,
        gauc_groups: None,
        gauc_rows: None,
        groups,
    };
    app.on_train_event(Event::Metrics { record: MetricsRecord::Eval { step: 90, epoch: 0, elapsed_s: 2.0, metrics } });
    // 120x32: the table holds 6 rows.
    let screen = render(&app, 120, 32);
    assert!(screen.contains("groups 1-6 of 21 {/}"), "{screen}");
    assert!(screen.contains("group-06") && !screen.contains("group-07"), "{screen}");
    app.on_key(key(KeyCode::Char('}')));
    let screen = render(&app, 120, 32);
    assert!(screen.contains("groups 7-12 of 21"), "{screen}");
    assert!(screen.contains("group-07") && !screen.contains("group-06"), "{screen}");
    for _ in 0..5 {
        app.on_key(key(KeyCode::Char('}')));
    }
    let screen = render(&app, 120, 32);
    assert!(screen.contains("groups 16-21 of 21") && screen.contains("group-21"), "a full last page: {screen}");
    app.on_key(key(KeyCode::Char('{')));
    assert!(render(&app, 120, 32).contains("groups 10-15 of 21"));
    for _ in 0..5 {
        app.on_key(key(KeyCode::Char('{')));
    }
    assert!(render(&app, 120, 32).contains("groups 1-6 of 21"));
    // The keys of the experiment list still move the selection, not the groups.
    assert_eq!(app.train.groups_from, 0);
    // The wheel over the table scrolls it by three rows; found on the drawn screen.
    let screen = render(&app, 120, 32);
    let (row, line) = screen.lines().enumerate().find(|(_, l)| l.contains("group-03")).unwrap();
    let column = line.find("group-03").map(|b| line[..b].chars().count()).unwrap() as u16;
    app.on_mouse(apg_bench::tui::mouse::Mouse::Wheel { column, row: row as u16, down: true });
    assert!(render(&app, 120, 32).contains("groups 4-9 of 21"));
}
