//! The Runs panel without a terminal: a run in detail (Enter, sections, scrolling, Esc),
//! tag / note / trash from the panel through the same engine as `apg-bench runs`, the
//! marks (all, clear, range, shift+j/k), selection and marks kept over a reload, the runs
//! watcher reporting a run written by another process, and numbers in narrow columns
//! rounded, not cut. Fixtures are hand-made run folders in a temporary workspace.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use apg_bench::config::Device;
use apg_bench::config::workspace::Workspace;
use apg_bench::runs::watch::{RunsEvent, RunsWatcher};
use apg_bench::runs::{History, Manifest, RunStatus, read_manifest};
use apg_bench::train::{EvalMetrics, GroupMetrics, MetricsRecord, ParamCounts, RunEnd, RunSummary};
use apg_bench::tui::app::{App, Effect, Panel};
use apg_bench::tui::keys::Action;
use apg_bench::tui::panels::runs::PromptKind;
use apg_bench::tui::theme::Theme;
use apg_bench::tui::view::{self, Timing};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One hand-made run.
struct Spec {
    minute: u32,
    experiment: &'static str,
    seed: u64,
    status: RunStatus,
    /// Best validation AUC; the test AUC is 0.01 above it.
    valid: f64,
}

fn spec(minute: u32, experiment: &'static str, seed: u64, valid: f64) -> Spec {
    Spec { minute, experiment, seed, status: RunStatus::Finished, valid }
}

fn id_of(spec: &Spec) -> String {
    format!("20260105-10{:02}00-{}-s{}", spec.minute, spec.experiment, spec.seed)
}

fn eval(split: &str, auc: f64) -> EvalMetrics {
    let group = |value: &str, auc: f64, rows: usize| GroupMetrics {
        field: "user_activity".into(),
        value: value.into(),
        rows,
        positives: Some(rows / 4),
        auc: Some(auc),
        logloss: 0.6 - auc / 2.0,
    };
    EvalMetrics {
        split: split.into(),
        rows: 10_041,
        positives: Some(2_510),
        auc: Some(auc),
        logloss: 0.9 - auc / 2.0,
        gauc: Some(auc - 0.05),
        gauc_groups: Some(321),
        gauc_rows: Some(9_876),
        groups: vec![group("cold", auc - 0.1, 2_041), group("active", auc + 0.01, 8_000)],
    }
}

fn manifest(spec: &Spec) -> Manifest {
    let id = id_of(spec);
    Manifest {
        id,
        experiment: spec.experiment.into(),
        experiment_path: format!("experiments/{}.toml", spec.experiment).into(),
        status: spec.status,
        started: format!("2026-01-05T10:{:02}:00Z", spec.minute),
        ended: Some(format!("2026-01-05T10:{:02}:30Z", spec.minute)),
        host: "lab".into(),
        pid: 1,
        pid_start: None,
        boot_id: None,
        device: Device::Cpu,
        seed: spec.seed,
        version: "0.1.0".into(),
        config_hash: format!("hash-{}", spec.experiment),
        dataset_fingerprint: "f00d".into(),
        parent: String::new(),
        error: None,
        tags: Vec::new(),
        note: String::new(),
    }
}

fn fake_run(workspace: &Path, spec: &Spec) {
    let dir = workspace.join("runs").join(id_of(spec));
    std::fs::create_dir_all(&dir).unwrap();
    manifest(spec).write(&dir).unwrap();
    let config = format!(
        "name = \"{}\"\nseed = {}\n[model]\nhidden = [32, 16]\n[train]\nepochs = 3\n[metrics]\ngroup_fields = [\"user_activity\"]\n",
        spec.experiment, spec.seed
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let mut records = Vec::new();
    for epoch in 0..3 {
        let step = (epoch + 1) * 10;
        records.push(MetricsRecord::Train { step, epoch, loss: 0.7, samples_per_s: 50_000.0, elapsed_s: step as f64 });
        let metrics = eval("valid", spec.valid - 0.02 + 0.01 * epoch as f64);
        records.push(MetricsRecord::Eval { step, epoch, elapsed_s: step as f64, metrics });
    }
    let lines: String = records.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    std::fs::write(dir.join("metrics.jsonl"), lines).unwrap();
    let log: String = (1..=60).map(|i| format!("log line {i:02} of {}\n", spec.experiment)).collect();
    std::fs::write(dir.join("log.txt"), log).unwrap();
    let summary = RunSummary {
        status: RunEnd::Finished,
        reason: None,
        steps: 30,
        epochs_done: 3.0,
        best_step: Some(30),
        best_valid: Some(eval("valid", spec.valid)),
        test: Some(eval("test", spec.valid + 0.01)),
        params: ParamCounts { dense: 1_000, embedding: 9_041 },
        train_seconds: 25.0,
        samples_per_s: 48_000.0,
        stopped_early: false,
        baseline: None,
    };
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
}

/// The Runs panel of a temporary workspace holding `specs` (newest run first on screen).
fn app_with(specs: &[Spec]) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    for spec in specs {
        fake_run(dir.path(), spec);
    }
    std::fs::write(dir.path().join("workspace.toml"), "name = \"runs-test\"\n").unwrap();
    let workspace = Workspace::open(dir.path()).unwrap();
    let mut app = App::new(workspace, Vec::new(), Theme { color: false });
    reload(&mut app);
    app.apply(Action::GoTo(Panel::Runs));
    (dir, app)
}

fn reload(app: &mut App) {
    let history = History::load(&app.shared.workspace.root).map_err(|e| e.to_string());
    app.runs.set_history(history);
}

fn three_runs() -> Vec<Spec> {
    vec![spec(0, "static", 1, 0.78), spec(1, "static", 2, 0.781), spec(10, "apg", 1, 0.795)]
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn shift(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT)
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in text.chars() {
        effects.extend(app.on_key(key(KeyCode::Char(c))));
    }
    effects
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app, Timing { frame_ms: 1.0, key_to_screen_ms: Some(2.0) })).unwrap();
    terminal.backend().to_string()
}

fn selected_id(app: &App) -> String {
    app.runs.history.as_ref().unwrap().runs[app.runs.visible[app.runs.selected]].id().to_string()
}

fn marked(app: &App) -> Vec<String> {
    app.runs.marked.iter().cloned().collect()
}

#[test]
fn enter_opens_the_run_in_detail_and_esc_closes_it() {
    let (_dir, mut app) = app_with(&three_runs());
    // Newest first: the apg run is selected.
    assert_eq!(selected_id(&app), "20260105-101000-apg-s1");
    app.on_key(key(KeyCode::Enter));
    let view = app.runs.detail.as_ref().expect("Enter opens the detail");
    assert_eq!(view.id, "20260105-101000-apg-s1");
    assert!(app.runs.compare.is_none(), "Enter no longer compares");

    let screen = render(&app, 80, 24);
    for words in [
        "Run 20260105-101000-apg-s1",
        "finished",
        "wall 30.0s",
        "valid, best (step 30)",
        // valid AUC 0.795, test 0.805; logloss 0.9 - AUC / 2; GAUC 0.05 under the AUC.
        "0.7950",
        "0.8050",
        "0.5025",
        "0.4975",
        "0.7450",
        "321 groups, 9,876 rows",
        "10,041",
    ] {
        assert!(screen.contains(words), "{words}:\n{screen}");
    }
    insta::assert_snapshot!("detail_80x24", screen);

    // The keys in effect are the detail's, and the help lists them.
    app.on_key(key(KeyCode::Char('?')));
    let help = render(&app, 80, 40);
    assert!(help.contains("Keys: Runs panel, a run in detail") && help.contains("next section"), "{help}");
    app.on_key(key(KeyCode::Char('?')));

    // → jumps from section to section: groups, curves, config, log.
    let mut tops = Vec::new();
    for _ in 0..4 {
        app.on_key(key(KeyCode::Right));
        tops.push(app.runs.detail.as_ref().unwrap().scroll);
        render(&app, 80, 24);
    }
    assert!(tops.windows(2).all(|w| w[0] < w[1]), "each section starts further down: {tops:?}");
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Log (log.txt, 60 lines)"), "{screen}");
    app.on_key(key(KeyCode::Left));
    assert_eq!(app.runs.detail.as_ref().unwrap().scroll, tops[2], "← goes back a section");
    assert!(render(&app, 80, 24).contains("Configuration as recorded (config.toml)"));
    app.on_key(key(KeyCode::Char('G')));
    let bottom = render(&app, 80, 24);
    assert!(bottom.contains("log line 60 of apg"), "the log scrolls to its end:\n{bottom}");
    app.on_key(key(KeyCode::Char('g')));
    assert_eq!(app.runs.detail.as_ref().unwrap().scroll, 0);
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.runs.detail.as_ref().unwrap().scroll, 1);

    app.on_key(key(KeyCode::Esc));
    assert!(app.runs.detail.is_none());
    // c still compares the marked runs.
    app.on_key(key(KeyCode::Char(' ')));
    app.on_key(key(KeyCode::Char('j')));
    app.on_key(key(KeyCode::Char(' ')));
    app.on_key(key(KeyCode::Char('c')));
    assert!(app.runs.compare.is_some(), "{}", app.status());
}

#[test]
fn snapshot_detail_140x40() {
    let (_dir, mut app) = app_with(&three_runs());
    app.on_key(key(KeyCode::Enter));
    let screen = render(&app, 140, 40);
    // Wide and tall, the curves stand beside the metrics and the per-group table.
    for words in ["valid AUC", "valid logloss", "user_activity = cold", "user_activity = active", "0.7050", "0.8150"] {
        assert!(screen.contains(words), "{words}:\n{screen}");
    }
    insta::assert_snapshot!("detail_140x40", screen);
}

#[test]
fn tag_note_and_trash_write_the_run_folders() {
    let (dir, mut app) = app_with(&three_runs());
    let run_toml = |id: &str| read_manifest(&dir.path().join("runs").join(id)).unwrap();
    let (apg, static1, static2) = ("20260105-101000-apg-s1", "20260105-100000-static-s1", "20260105-100100-static-s2");

    // Marked runs: both are tagged.
    app.runs.marked.extend([static1.to_string(), static2.to_string()]);
    app.on_key(key(KeyCode::Char('t')));
    assert_eq!(app.runs.prompt.as_ref().unwrap().kind, PromptKind::Tag);
    assert!(render(&app, 80, 24).contains("tag 2 marked runs:"));
    type_text(&mut app, "keep");
    assert_eq!(app.on_key(key(KeyCode::Enter)), vec![Effect::LoadRuns]);
    assert_eq!(app.status(), "tagged 2 runs `keep`");
    assert_eq!(run_toml(static1).tags, ["keep"]);
    assert_eq!(run_toml(static2).tags, ["keep"]);
    assert!(run_toml(apg).tags.is_empty(), "the unmarked run is left alone");
    // -TAG removes it.
    app.on_key(key(KeyCode::Char('t')));
    type_text(&mut app, "-keep");
    app.on_key(key(KeyCode::Enter));
    assert!(run_toml(static1).tags.is_empty() && run_toml(static2).tags.is_empty(), "{}", app.status());
    // A bad tag changes nothing and says why.
    app.on_key(key(KeyCode::Char('t')));
    type_text(&mut app, "two words");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.status(), "nothing changed: bad tag \"two words\": a tag is one word, without spaces or commas");
    // Esc cancels.
    app.on_key(key(KeyCode::Char('t')));
    type_text(&mut app, "x");
    assert!(app.on_key(key(KeyCode::Esc)).is_empty());
    assert!(app.runs.prompt.is_none() && run_toml(static1).tags.is_empty());

    // No marks: the selected run. Its note starts from what it says now.
    app.on_key(key(KeyCode::Char('u')));
    assert!(app.runs.marked.is_empty());
    app.on_key(key(KeyCode::Char('n')));
    type_text(&mut app, "lr too high");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(run_toml(apg).note, "lr too high");
    reload(&mut app);
    app.on_key(key(KeyCode::Char('n')));
    assert_eq!(app.runs.prompt.as_ref().unwrap().text, "lr too high");
    for _ in 0.."lr too high".len() {
        app.on_key(key(KeyCode::Backspace));
    }
    app.on_key(key(KeyCode::Enter));
    assert_eq!(run_toml(apg).note, "", "an empty note clears it");
    assert_eq!(app.status(), "cleared the note of 1 run");

    // A run still running is refused by the engine, and the status line says so.
    let mut running = run_toml(static2);
    running.status = RunStatus::Running;
    running.pid = std::process::id();
    running.write(&dir.path().join("runs").join(static2)).unwrap();
    reload(&mut app);
    app.runs.marked.insert(static2.to_string());
    app.on_key(key(KeyCode::Char('t')));
    type_text(&mut app, "keep");
    app.on_key(key(KeyCode::Enter));
    assert!(
        app.status().starts_with("nothing changed: run 20260105-100100-static-s2 is still running"),
        "{}",
        app.status()
    );

    // Trash: a y/n question naming the runs; anything but y keeps them.
    app.runs.marked.clear();
    app.runs.marked.extend([static1.to_string(), apg.to_string()]);
    app.on_key(key(KeyCode::Char('x')));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("move 2 runs to the trash? y/n:") && screen.contains(static1), "{screen}");
    app.on_key(key(KeyCode::Char('n')));
    assert!(dir.path().join("runs").join(static1).is_dir());
    assert_eq!(app.status(), "cancelled: nothing changed");
    app.on_key(shift('D'));
    assert_eq!(app.on_key(key(KeyCode::Char('y'))), vec![Effect::LoadRuns]);
    assert!(app.status().starts_with("moved 2 runs to the trash"), "{}", app.status());
    for id in [static1, apg] {
        assert!(!dir.path().join("runs").join(id).exists());
        assert!(dir.path().join(".trash").join(id).join("run.toml").is_file());
    }
    reload(&mut app);
    assert_eq!(app.runs.history.as_ref().unwrap().runs.len(), 1);
    assert!(app.runs.marked.is_empty(), "marks of runs gone are dropped");
}

#[test]
fn marks_all_clear_range_and_shift_moves() {
    let specs: Vec<Spec> = (0..6).map(|i| spec(i, "run", u64::from(i) + 1, 0.7)).collect();
    let (_dir, mut app) = app_with(&specs);
    let ids: Vec<String> =
        (0..6).map(|i| app.runs.history.as_ref().unwrap().runs[app.runs.visible[i]].id().to_string()).collect();

    app.on_key(key(KeyCode::Char('*')));
    assert_eq!(app.runs.marked.len(), 6);
    app.on_key(key(KeyCode::Char('u')));
    assert!(app.runs.marked.is_empty());
    app.on_key(shift('A'));
    assert_eq!(app.runs.marked.len(), 6);
    app.on_key(key(KeyCode::Esc));
    assert!(app.runs.marked.is_empty(), "Esc clears the marks");

    // Only the runs shown: a filter leaves two.
    app.on_key(key(KeyCode::Char('/')));
    type_text(&mut app, "seed <= 2");
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Char('*')));
    assert_eq!(app.runs.marked.len(), 2);
    app.on_key(key(KeyCode::Char('/')));
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('u')));

    // V marks from the last marked row to the cursor, either way.
    app.on_key(shift('V'));
    assert!(app.runs.marked.is_empty(), "nothing marked yet: {}", app.status());
    app.on_key(key(KeyCode::Char('j')));
    app.on_key(key(KeyCode::Char(' ')));
    for _ in 0..3 {
        app.on_key(key(KeyCode::Char('j')));
    }
    app.on_key(shift('V'));
    assert_eq!(marked(&app), sorted(&ids[1..=4]));
    app.on_key(key(KeyCode::Char('u')));
    app.on_key(key(KeyCode::Char(' ')));
    app.on_key(key(KeyCode::Char('k')));
    app.on_key(key(KeyCode::Char('k')));
    app.on_key(shift('V'));
    assert_eq!(marked(&app), sorted(&ids[2..=4]), "upwards too");

    // shift+j / shift+k mark as they move.
    app.on_key(key(KeyCode::Char('u')));
    app.on_key(key(KeyCode::Char('g')));
    app.on_key(shift('J'));
    app.on_key(shift('J'));
    assert_eq!(app.runs.selected, 2);
    assert_eq!(marked(&app), sorted(&ids[0..=2]));
    app.on_key(key(KeyCode::Char('G')));
    app.on_key(shift('K'));
    assert_eq!(marked(&app), sorted(&[&ids[0..=2], &ids[4..=5]].concat()));

    // Every key is in the help.
    app.on_key(key(KeyCode::Char('?')));
    let help = render(&app, 80, 60);
    for words in [
        "*/A",
        "mark every run shown",
        "u/Esc",
        "clear the marks",
        "mark from the last marked run to here",
        "mark and move down",
        "tag the marked runs (or the selected)",
        "x/D",
        "the run in detail",
    ] {
        assert!(help.contains(words), "{words}:\n{help}");
    }
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids
}

#[test]
fn a_reload_keeps_the_selection_and_the_marks_on_their_runs() {
    let (dir, mut app) = app_with(&three_runs());
    app.on_key(key(KeyCode::Char('j')));
    let selected = selected_id(&app);
    app.on_key(key(KeyCode::Char(' ')));
    // A newer run (another process's) comes first in the list.
    fake_run(dir.path(), &spec(30, "new", 1, 0.8));
    let effects = apg_bench::tui::panels::runs::on_watch(&mut app.shared, RunsEvent::Changed { ids: vec!["x".into()] });
    assert_eq!(effects, vec![Effect::LoadRuns]);
    reload(&mut app);
    assert_eq!(app.runs.visible.len(), 4);
    assert_eq!(selected_id(&app), selected, "the cursor stays on its run");
    assert_eq!(marked(&app), [selected.as_str()]);
    assert_eq!(app.runs.selected, 2);
}

#[test]
fn the_watcher_reports_runs_written_by_another_process() {
    const WAIT: Duration = Duration::from_secs(5);
    let dir = tempfile::tempdir().unwrap();
    let (sender, events) = mpsc::channel();
    let _watcher = RunsWatcher::start(dir.path(), move |event| {
        let _ = sender.send(event);
    })
    .unwrap();
    assert!(dir.path().join("runs").is_dir(), "the runs folder is made to be watched");

    // A new run folder: its id arrives.
    let mut new = spec(0, "cli", 1, 0.7);
    new.status = RunStatus::Running;
    let id = id_of(&new);
    let run_dir = dir.path().join("runs").join(&id);
    std::fs::create_dir_all(&run_dir).unwrap();
    manifest(&new).write(&run_dir).unwrap();
    assert_eq!(changed_ids(&events, WAIT), [id.as_str()]);

    // Appending metrics is no news; the status changing is.
    std::fs::write(run_dir.join("metrics.jsonl"), "{}\n").unwrap();
    std::fs::write(run_dir.join("log.txt"), "a line\n").unwrap();
    match events.recv_timeout(Duration::from_millis(900)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("metrics and log lines are not reported: {other:?}"),
    }
    new.status = RunStatus::Finished;
    manifest(&new).write(&run_dir).unwrap();
    assert_eq!(changed_ids(&events, WAIT), [id.as_str()]);

    // A run removed (runs rm) is news too.
    std::fs::rename(&run_dir, dir.path().join("gone")).unwrap();
    assert_eq!(changed_ids(&events, WAIT), [id]);
}

/// The ids of the next change the watcher reports, with those of any further reports of
/// the same change (one save can reach the debouncer in two batches), until it is quiet.
fn changed_ids(events: &mpsc::Receiver<RunsEvent>, wait: Duration) -> Vec<String> {
    let mut ids = match events.recv_timeout(wait) {
        Ok(RunsEvent::Changed { ids }) => ids,
        other => panic!("expected a change within {wait:?}, got {other:?}"),
    };
    while let Ok(event) = events.recv_timeout(Duration::from_millis(900)) {
        match event {
            RunsEvent::Changed { ids: more } => ids.extend(more),
            RunsEvent::Error(error) => panic!("{error}"),
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn narrow_columns_keep_every_digit_of_the_metrics() {
    // A long name, a five-digit seed, an interrupted status and a long model description
    // at 80 columns: the name gives way (cut with …), the metrics keep four decimals.
    let mut long = spec(0, "a-rather-long-experiment-nam", 10_041, 0.80059);
    long.status = RunStatus::Interrupted;
    let (dir, mut app) = app_with(&[long, spec(1, "apg", 2, 0.7)]);
    let config = dir.path().join("runs/20260105-100000-a-rather-long-experiment-nam-s10041/config.toml");
    let apg = "[apg]\nvariant = \"v5\"\nrank = [8, 4]\n[apg.condition]\nfields = [\"domain\"]\n";
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap() + apg).unwrap();
    reload(&mut app);
    let screen = render(&app, 80, 24);
    let row = screen.lines().find(|l| l.contains("a-rather-long-experiment")).unwrap_or_else(|| panic!("{screen}"));
    // 28 characters less the 3 the row lacks: 24 and the ellipsis.
    assert!(row.contains("a-rather-long-experiment… 10041 interrupted"), "{row}");
    // valid AUC 0.80059, test AUC 0.81059, test logloss 0.9 - 0.81059 / 2 = 0.494705.
    assert!(row.contains("0.8006 0.8106 0.4947"), "{row}");
    assert!(!row.contains("0.810 ") && !row.contains("0.800 "), "cut instead of rounded: {row}");
    // Wide, everything has room: the whole name, the start, GAUC and the parameters.
    let wide = render(&app, 140, 40);
    let row = wide.lines().find(|l| l.contains("a-rather-long-experiment-nam")).unwrap_or_else(|| panic!("{wide}"));
    for words in ["01-05 10:00", "0.8006", "0.8106", "0.7606", "10,041", "v5"] {
        assert!(row.contains(words), "{words}: {row}");
    }
}

/// The mouse: a click selects the run under it (found on the drawn screen), a second
/// click on it opens the detail, and the wheel scrolls the detail.
#[test]
fn clicks_select_and_open_a_run_and_the_wheel_scrolls_its_detail() {
    use apg_bench::tui::mouse::Mouse;
    let (_dir, mut app) = app_with(&three_runs());
    let screen = render(&app, 100, 30);
    // The oldest run (static, seed 1) is the last row under the default newest-first sort.
    let (row, line) = screen.lines().enumerate().filter(|(_, l)| l.contains("static")).last().unwrap();
    let column = line.find("static").map(|b| line[..b].chars().count()).unwrap() as u16;
    app.on_mouse(Mouse::Click { column, row: row as u16 });
    let selected = app.runs.visible[app.runs.selected];
    let run = &app.runs.history.as_ref().unwrap().runs[selected];
    assert_eq!((run.manifest.experiment.as_str(), run.manifest.seed), ("static", 1));
    assert!(app.runs.detail.is_none(), "the first click only selects");
    app.on_mouse(Mouse::Click { column, row: row as u16 });
    assert!(app.runs.detail.is_some(), "a click on the selected run opens it");
    render(&app, 100, 30);
    app.on_mouse(Mouse::Wheel { column, row: 10, down: true });
    assert_eq!(app.runs.detail.as_ref().unwrap().scroll, 3);
    app.on_mouse(Mouse::Wheel { column, row: 10, down: false });
    assert_eq!(app.runs.detail.as_ref().unwrap().scroll, 0);
}

/// `/` with one plain word looks for it in the runs' ids, experiments, tags and notes;
/// an expression with a mistake is still an error, not a word.
#[test]
fn a_plain_word_filters_by_name_and_a_broken_expression_stays_an_error() {
    let (_dir, mut app) = app_with(&three_runs());
    app.on_key(key(KeyCode::Char('/')));
    type_text(&mut app, "APG");
    app.on_key(key(KeyCode::Enter));
    assert!(app.runs.filter_error.is_none(), "{:?}", app.runs.filter_error);
    let shown: Vec<String> =
        app.runs.visible.iter().map(|&i| app.runs.history.as_ref().unwrap().runs[i].id().to_string()).collect();
    assert_eq!(shown, ["20260105-101000-apg-s1"]);

    app.on_key(key(KeyCode::Char('/')));
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('/')));
    type_text(&mut app, "test.auc >");
    app.on_key(key(KeyCode::Enter));
    assert!(app.runs.filter_error.is_some(), "an unfinished expression is reported");
    assert_eq!(app.runs.visible.len(), 3, "and filters nothing");
}
