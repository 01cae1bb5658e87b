//! Studies in the workbench: the Train panel lists them under the experiments with their
//! progress, `s` queues the runs a study still needs (and starts the first), `u` takes
//! them out again, `c` opens the report in the Runs panel's comparison with the study's
//! baseline first, and a broken study file shows its error. Run folders are hand-made;
//! nothing trains.

mod common;

use std::path::{Path, PathBuf};

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::config::watch::{WatchEvent, WorkspaceWatcher};
use apg_bench::config::workspace::Workspace;
use apg_bench::runs::{History, RunStatus};
use apg_bench::study::Study;
use apg_bench::study::status::overview;
use apg_bench::tui::app::{App, Effect, ExperimentEntry, Panel, Queued};
use apg_bench::tui::panels::compare::labels;
use apg_bench::tui::theme::Theme;
use apg_bench::tui::view::{self, Timing};
use common::studies::{fake_run, workspace};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Two variants, three seeds: six runs, `static` the baseline.
const STUDY: &str = "base = \"tiny\"\nseeds = [1, 2, 3]\nbaseline = \"static\"\n\n\
    [variants.apg]\n\"apg.variant\" = \"v4\"\n\n[variants.static]\n\"apg.variant\" = \"static\"\n";

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app, Timing { frame_ms: 1.0, key_to_screen_ms: None })).unwrap();
    terminal.backend().to_string()
}

/// The workbench on `root` (its one experiment, `tiny`), in the Train panel, with the
/// studies and the history as the event loop would load them.
fn app(root: &Path) -> App {
    let path = root.join("experiments/tiny.toml");
    let experiment = LoadedExperiment::from_file(&path).unwrap();
    let entry = ExperimentEntry { path, good: Some(experiment), error: None };
    let mut app = App::new(Workspace::open(root).unwrap(), vec![entry], Theme { color: false });
    app.panel = Panel::Train;
    reload(&mut app, root);
    app
}

fn reload(app: &mut App, root: &Path) {
    let history = History::load(root).unwrap();
    app.set_studies(overview(root, &history));
    app.runs.set_history(Ok(history));
}

fn study_run(variant: &str, seed: u64) -> Queued {
    Queued::Study { study: "two".into(), variant: variant.into(), seed }
}

/// apg seed 1 and static seed 1 finished, static seed 2 failed.
fn with_some_runs() -> (tempfile::TempDir, Study) {
    let root = workspace(&[("two", STUDY)]);
    let study = Study::open(root.path(), "two").unwrap();
    fake_run(&study, 0, 1, 1, RunStatus::Finished, Some(0.70));
    fake_run(&study, 1, 1, 2, RunStatus::Finished, Some(0.68));
    fake_run(&study, 1, 2, 3, RunStatus::Failed, None);
    (root, study)
}

#[test]
fn a_study_shows_under_the_experiments_with_its_progress() {
    let (root, _) = with_some_runs();
    let mut app = app(root.path());
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Studies (1)"), "{screen}");
    assert!(screen.lines().any(|l| l.contains("two") && l.contains("2/6")), "{screen}");
    let c = |b: &apg_bench::tui::keys::Binding| b.code == KeyCode::Char('c') && b.modifiers == KeyModifiers::NONE;
    assert!(app.bindings().iter().any(c), "a workspace with studies offers c");

    // ↓ from the last experiment goes to the study; its standing shows beside the run.
    assert!(app.on_key(key(KeyCode::Down)).is_empty());
    assert_eq!(app.train.studies.cursor, Some(0));
    let screen = render(&app, 140, 40);
    assert!(screen.contains("study two: 2/6 done, 1 failed, ~2m00s left, 2 variants x 3 seeds"), "{screen}");
    // The workspace is a temporary folder: its name (always as long) is made the same.
    let name = root.path().file_name().unwrap().to_string_lossy().into_owned();
    let same = |screen: String| screen.replace(&name, &"x".repeat(name.len()));
    insta::assert_snapshot!("train_panel_with_a_study_140x40", same(screen));
    insta::assert_snapshot!("train_panel_with_a_study_80x24", same(render(&app, 80, 24)));
    // ↑ goes back to the experiment.
    app.on_key(key(KeyCode::Up));
    assert_eq!((app.train.studies.cursor, app.shared.selected), (None, Some(0)));
}

#[test]
fn s_queues_the_runs_a_study_still_needs_and_starts_the_first() {
    let (root, _) = with_some_runs();
    let mut app = app(root.path());
    app.on_key(key(KeyCode::Down));
    let effects = app.on_key(key(KeyCode::Char('s')));
    // Variants in file order, each under every seed: the done ones are left out, the
    // failed one runs again.
    assert_eq!(effects, vec![Effect::StartTraining(study_run("apg", 2))]);
    let queue: Vec<Queued> = app.train.queue.iter().cloned().collect();
    assert_eq!(queue, vec![study_run("apg", 3), study_run("static", 2), study_run("static", 3)]);
    assert!(app.status().contains("queued 4 of the 6 runs of study two"), "{}", app.status());

    // Again: everything is queued or starting already.
    assert!(app.on_key(key(KeyCode::Char('s'))).is_empty());
    assert_eq!(app.train.queue.len(), 3);
    assert!(app.status().contains("every run of two is done, running or queued"), "{}", app.status());

    // The run to start is the variant's expanded experiment under the queued seed.
    let (experiment, seed) = app.queued_experiment(&study_run("apg", 2)).unwrap();
    assert_eq!((experiment.experiment.name.as_str(), seed), ("two/apg", 2));
    assert!(experiment.file.is_file(), "the expanded experiment is written: {}", experiment.file.display());

    // `u` on the study takes its runs out of the queue.
    app.on_key(key(KeyCode::Char('u')));
    assert!(app.train.queue.is_empty());
    assert!(app.status().contains("took the 3 queued runs of two out of the queue"), "{}", app.status());
}

#[test]
fn c_opens_the_report_in_the_comparison_with_the_baseline_first() {
    let (root, study) = with_some_runs();
    fake_run(&study, 0, 2, 4, RunStatus::Finished, Some(0.72));
    fake_run(&study, 1, 3, 5, RunStatus::Finished, Some(0.66));
    let mut app = app(root.path());
    app.on_key(key(KeyCode::Down));
    assert!(app.on_key(key(KeyCode::Char('c'))).is_empty());
    assert_eq!(app.panel, Panel::Runs);
    let comparison = app.runs.comparison().expect("the comparison is open");
    let names = labels(comparison);
    assert_eq!(names[comparison.baseline], "two/static (2 seeds)");
    assert_eq!(comparison.entries.len(), 2);
    assert!(names.contains(&"two/apg (2 seeds)".to_string()), "{names:?}");
    // The test AUC row: the baseline's mean (0.68 + 0.66) / 2 and apg's (0.70 + 0.72) / 2.
    let auc = comparison.metrics.iter().find(|m| m.key == "test.auc").unwrap();
    let means: Vec<f64> = auc.cells.iter().map(|c| c.stat.unwrap().mean).collect();
    let apg = 1 - comparison.baseline;
    assert!((means[comparison.baseline] - 0.67).abs() < 1e-9 && (means[apg] - 0.71).abs() < 1e-9, "{means:?}");
}

#[test]
fn c_before_the_baseline_finished_says_so() {
    let root = workspace(&[("two", STUDY)]);
    let study = Study::open(root.path(), "two").unwrap();
    fake_run(&study, 0, 1, 1, RunStatus::Finished, Some(0.70));
    let mut app = app(root.path());
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Char('c')));
    assert_eq!(app.panel, Panel::Train);
    assert!(app.status().contains("the baseline static of two has no finished run yet"), "{}", app.status());
}

#[test]
fn a_broken_study_file_shows_its_error_and_queues_nothing() {
    let root = workspace(&[("two", STUDY), ("bad", "base = \"tiny\"\n[variants.x]\n\"apg.rnak\" = [8]\n")]);
    let mut app = app(root.path());
    assert!(app.status().starts_with("study bad: "), "{}", app.status());
    assert!(app.status().contains("apg.rnak"), "{}", app.status());
    let screen = render(&app, 80, 24);
    assert!(screen.contains("! bad"), "{screen}");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.shared.studies[0].name, "bad");
    assert!(app.on_key(key(KeyCode::Char('s'))).is_empty());
    assert!(app.train.queue.is_empty());
    assert!(app.status().contains("bad has an error: fix it first"), "{}", app.status());
}

#[test]
fn without_studies_the_panel_has_no_study_list_and_no_c_key() {
    let root = workspace(&[]);
    let app = app(root.path());
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("Studies"), "{screen}");
    let c = |b: &apg_bench::tui::keys::Binding| b.code == KeyCode::Char('c') && b.modifiers == KeyModifiers::NONE;
    assert!(!app.bindings().iter().any(c));
}

#[test]
fn the_watcher_reports_a_saved_study_file() {
    let root = workspace(&[("two", STUDY)]);
    let (sender, receiver) = std::sync::mpsc::channel();
    let _watcher = WorkspaceWatcher::start(root.path(), Vec::new(), move |event| {
        let _ = sender.send(event);
    })
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let file = root.path().join("studies/two.toml");
    std::fs::write(&file, STUDY.replace("[1, 2, 3]", "[1, 2]")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen: Vec<PathBuf> = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(WatchEvent::StudyChanged { path }) = receiver.recv_timeout(std::time::Duration::from_millis(100)) {
            seen.push(path);
            break;
        }
    }
    assert_eq!(seen, vec![std::path::absolute(&file).unwrap()]);
}
