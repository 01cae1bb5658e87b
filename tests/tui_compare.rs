//! The comparison view of the Runs panel without a terminal: its keys (close, baseline,
//! groups / single runs, scrolling, paging) and snapshots at 80x24 and 140x40 of two
//! groups of three seeds, built from hand-made run folders, with the noise verdicts, the
//! entries and the per-group values on screen in full.

use std::path::Path;

use apg_bench::config::experiment::Experiment;
use apg_bench::config::workspace::Workspace;
use apg_bench::runs::groups::{Noise, Stat};
use apg_bench::runs::{History, Manifest, RunStatus};
use apg_bench::train::{EvalMetrics, GroupMetrics, MetricsRecord, ParamCounts, RunEnd, RunSummary};
use apg_bench::tui::app::{App, Effect, Panel};
use apg_bench::tui::keys::Action;
use apg_bench::tui::theme::Theme;
use apg_bench::tui::view::{self, Timing};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One hand-made finished run: its test AUC overall and for the cold and active users.
struct Spec {
    minute: u32,
    experiment: &'static str,
    seed: u64,
    hash: &'static str,
    variant: &'static str,
    test: f64,
    cold: f64,
    active: f64,
    data: &'static str,
}

/// static: test AUC 0.780 ± 0.002, cold 0.700 ± 0.010, active 0.790 ± 0.002.
/// apg:    test AUC 0.795 ± 0.002 (beyond noise), cold 0.705 ± 0.010 (within noise),
///         active 0.800 ± 0.002 (beyond noise).
const STATIC: [(f64, f64, f64); 3] = [(0.780, 0.700, 0.790), (0.782, 0.710, 0.792), (0.778, 0.690, 0.788)];
const APG: [(f64, f64, f64); 3] = [(0.795, 0.705, 0.800), (0.797, 0.715, 0.802), (0.793, 0.695, 0.798)];

fn specs() -> Vec<Spec> {
    let mut specs = Vec::new();
    for (i, &(test, cold, active)) in STATIC.iter().enumerate() {
        let (minute, seed) = (i as u32, i as u64 + 1);
        specs.push(Spec {
            minute,
            experiment: "static",
            seed,
            hash: "aaaa1111",
            variant: "static",
            test,
            cold,
            active,
            data: "f00d",
        });
    }
    for (i, &(test, cold, active)) in APG.iter().enumerate() {
        let (minute, seed) = (10 + i as u32, i as u64 + 1);
        specs.push(Spec {
            minute,
            experiment: "apg",
            seed,
            hash: "bbbb2222",
            variant: "v5",
            test,
            cold,
            active,
            data: "f00d",
        });
    }
    specs
}

fn eval(split: &str, auc: f64, cold: f64, active: f64) -> EvalMetrics {
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
        rows: 1000,
        positives: Some(250),
        auc: Some(auc),
        logloss: 0.9 - auc / 2.0,
        gauc: None,
        gauc_groups: None,
        gauc_rows: None,
        groups: vec![group("cold", cold, 200), group("active", active, 800)],
    }
}

fn fake_run(workspace: &Path, spec: &Spec) {
    let id = format!("20260105-10{:02}00-{}-s{}", spec.minute, spec.experiment, spec.seed);
    let dir = workspace.join("runs").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = Manifest {
        id: id.clone(),
        experiment: spec.experiment.into(),
        experiment_path: format!("experiments/{}.toml", spec.experiment).into(),
        status: RunStatus::Finished,
        started: format!("2026-01-05T10:{:02}:00Z", spec.minute),
        ended: Some(format!("2026-01-05T10:{:02}:30Z", spec.minute)),
        host: "lab".into(),
        pid: 1,
        pid_start: None,
        boot_id: None,
        device: apg_bench::config::Device::Cpu,
        seed: spec.seed,
        version: "0.1.0".into(),
        config_hash: spec.hash.into(),
        dataset_fingerprint: spec.data.into(),
        parent: String::new(),
        error: None,
        tags: Vec::new(),
        note: String::new(),
    };
    manifest.write(&dir).unwrap();
    let condition = if spec.variant == "static" { "" } else { "[apg.condition]\nfields = [\"domain\"]\n" };
    let text = format!(
        "name = \"{}\"\nseed = {}\n[model]\nhidden = [32, 16]\n[apg]\nvariant = \"{}\"\nrank = [8, 4]\n{condition}\
         [train]\nepochs = 3\nbatch_size = 256\n[metrics]\ngroup_fields = [\"user_activity\"]\n",
        spec.experiment, spec.seed, spec.variant
    );
    let experiment: Experiment = toml::from_str(&text).unwrap();
    std::fs::write(dir.join("config.toml"), toml::to_string(&experiment).unwrap()).unwrap();
    let mut records = Vec::new();
    for epoch in 0..3 {
        let step = (epoch + 1) * 10;
        let auc = spec.test - 0.03 + 0.01 * epoch as f64;
        let train = MetricsRecord::Train { step, epoch, loss: 0.7, samples_per_s: 50_000.0, elapsed_s: step as f64 };
        records.push(train);
        let metrics = eval("valid", auc, spec.cold, spec.active);
        records.push(MetricsRecord::Eval { step, epoch, elapsed_s: step as f64 + 0.5, metrics });
    }
    let lines: String = records.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    std::fs::write(dir.join("metrics.jsonl"), lines).unwrap();
    let summary = RunSummary {
        status: RunEnd::Finished,
        reason: None,
        steps: 30,
        epochs_done: 3.0,
        best_step: Some(30),
        best_valid: Some(eval("valid", spec.test - 0.01, spec.cold, spec.active)),
        test: Some(eval("test", spec.test, spec.cold, spec.active)),
        params: ParamCounts { dense: if spec.variant == "static" { 1000 } else { 1500 }, embedding: 20_000 },
        train_seconds: 25.0,
        samples_per_s: 48_000.0,
        stopped_early: false,
        baseline: None,
    };
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
}

/// The Runs panel over `specs`, with the first static run and the first apg run marked.
fn app_with(specs: &[Spec]) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    for spec in specs {
        fake_run(dir.path(), spec);
    }
    let workspace = Workspace::open(Path::new("tests/fixtures/tui/workspace")).unwrap();
    let mut app = App::new(workspace, Vec::new(), Theme { color: true });
    app.runs.set_history(Ok(History::load(dir.path()).unwrap()));
    app.apply(Action::GoTo(Panel::Runs));
    for id in ["20260105-100000-static-s1", "20260105-101000-apg-s1"] {
        app.runs.marked.insert(id.into());
    }
    (dir, app)
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app, Timing { frame_ms: 1.0, key_to_screen_ms: Some(2.0) })).unwrap();
    terminal.backend().to_string()
}

/// Everything the comparison shows at a size, scrolling page by page to the end.
fn every_page(app: &mut App, width: u16, height: u16) -> String {
    app.on_key(key(KeyCode::Char('g')));
    let mut screens = vec![render(app, width, height)];
    for _ in 0..20 {
        let before = app.runs.compare.as_ref().unwrap().scroll;
        app.on_key(key(KeyCode::PageDown));
        if app.runs.compare.as_ref().unwrap().scroll == before {
            break;
        }
        screens.push(render(app, width, height));
    }
    screens.join("\n")
}

/// Mean and sample sd by hand, as the screen should write them.
fn mean_sd(values: [f64; 3]) -> String {
    let mean = values.iter().sum::<f64>() / 3.0;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    format!("{mean:.4} ± {sd:.4}")
}

#[test]
fn the_verdicts_by_hand_are_the_ones_the_fixture_means() {
    // The fixture is built so that the test AUC and the active users' AUC differ beyond
    // the noise and the cold users' within it; checked here with the engine's rule.
    let stat =
        |column: fn(&(f64, f64, f64)) -> f64, runs: &[(f64, f64, f64); 3]| Stat::of(runs.iter().map(column)).unwrap();
    let verdict =
        |column: fn(&(f64, f64, f64)) -> f64| Noise::judge(&stat(column, &STATIC), &stat(column, &APG)).words();
    assert_eq!(verdict(|r| r.0), "beyond noise");
    assert_eq!(verdict(|r| r.1), "within noise");
    assert_eq!(verdict(|r| r.2), "beyond noise");
}

#[test]
fn compare_opens_groups_of_seeds_and_the_keys_drive_it() {
    let (_dir, mut app) = app_with(&specs());
    app.on_key(key(KeyCode::Char('c')));
    let view = app.runs.compare.as_ref().expect("the comparison opens");
    assert!(view.grouped, "two configurations: their groups are compared");
    let c = &view.comparison;
    assert_eq!(c.entries.len(), 2);
    assert_eq!(c.entries.iter().map(|e| e.seeds.clone()).collect::<Vec<_>>(), [[1, 2, 3], [1, 2, 3]]);
    assert_eq!(c.baseline, 0);
    assert_eq!(app.status(), "comparing 2 groups of seeds, baseline static (3 seeds)");
    // The keys in effect are the comparison's, and the help lists them.
    render(&app, 80, 24);
    app.on_key(key(KeyCode::Char('?')));
    let help = render(&app, 80, 40);
    for words in ["Keys: Runs panel, comparison", "next entry as the baseline", "groups of seeds / single runs"] {
        assert!(help.contains(words), "{words}:\n{help}");
    }
    app.on_key(key(KeyCode::Char('x')));

    // b: the next entry is the baseline; the deltas turn round.
    app.on_key(key(KeyCode::Char('b')));
    let c = &app.runs.compare.as_ref().unwrap().comparison;
    assert_eq!(c.baseline, 1);
    assert_eq!(app.status(), "comparing 2 groups of seeds, baseline apg (3 seeds)");
    let delta = c.metrics[0].cells[0].delta.unwrap();
    assert!((delta - (0.780 - 0.795)).abs() < 1e-9, "{delta}");
    app.on_key(key(KeyCode::Char('b')));
    assert_eq!(app.runs.compare.as_ref().unwrap().comparison.baseline, 0, "b cycles");

    // s: the two marked runs alone, then the groups again.
    app.on_key(key(KeyCode::Char('s')));
    let view = app.runs.compare.as_ref().unwrap();
    assert!(!view.grouped);
    assert_eq!(
        view.comparison.entries.iter().map(|e| e.label.as_str()).collect::<Vec<_>>(),
        ["20260105-100000-static-s1", "20260105-101000-apg-s1"]
    );
    let screen = render(&app, 140, 40);
    assert!(screen.contains("static s1") && screen.contains("apg s1"), "{screen}");
    assert!(screen.contains("noise unknown (n=1)"), "{screen}");
    app.on_key(key(KeyCode::Char('s')));
    assert!(app.runs.compare.as_ref().unwrap().grouped);

    // Scrolling: j/k, PgDn/PgUp, G/g, within what the last frame had to show.
    render(&app, 80, 24);
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.runs.compare.as_ref().unwrap().scroll, 1);
    app.on_key(key(KeyCode::Char('k')));
    app.on_key(key(KeyCode::Char('k')));
    assert_eq!(app.runs.compare.as_ref().unwrap().scroll, 0, "k stops at the top");
    app.on_key(key(KeyCode::PageDown));
    let page = app.runs.compare.as_ref().unwrap().scroll;
    assert!(page > 3, "a page is more than a few lines: {page}");
    app.on_key(key(KeyCode::Char('G')));
    let bottom = app.runs.compare.as_ref().unwrap().scroll;
    assert!(bottom > page, "{bottom} {page}");
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.runs.compare.as_ref().unwrap().scroll, bottom, "j stops at the bottom");
    assert!(render(&app, 80, 24).contains("Noise: a difference of means"), "the end shows the noise rule");
    app.on_key(key(KeyCode::PageUp));
    assert_eq!(app.runs.compare.as_ref().unwrap().scroll, bottom - page);
    app.on_key(key(KeyCode::Char('g')));
    assert_eq!(app.runs.compare.as_ref().unwrap().scroll, 0);

    // Export still works from the comparison; Esc closes it, and the panel's keys return.
    assert_eq!(app.on_key(key(KeyCode::Char('M'))), vec![Effect::Export { markdown: true }]);
    app.on_key(key(KeyCode::Esc));
    assert!(app.runs.compare.is_none());
    app.on_key(key(KeyCode::Char('j')));
    assert_eq!(app.runs.selected, 1, "j moves in the run list again");
}

#[test]
fn marked_runs_of_one_configuration_compare_as_runs() {
    let (_dir, mut app) = app_with(&specs());
    app.runs.marked.clear();
    for id in ["20260105-100000-static-s1", "20260105-100100-static-s2"] {
        app.runs.marked.insert(id.into());
    }
    app.on_key(key(KeyCode::Char('c')));
    let view = app.runs.compare.as_ref().unwrap();
    assert!(!view.grouped);
    app.on_key(key(KeyCode::Char('s')));
    assert!(!app.runs.compare.as_ref().unwrap().grouped);
    assert_eq!(app.status(), "the marked runs share one configuration: as groups there is nothing to compare");
}

#[test]
fn narrow_terminals_page_the_entries_and_keep_the_baseline() {
    // Three groups at 80 columns: the baseline and one more entry fit; → shows the next.
    let mut specs = specs();
    for seed in 1..=3 {
        let (test, cold, active) = (0.80, 0.70, 0.81);
        let minute = 20 + seed as u32;
        specs.push(Spec {
            minute,
            experiment: "mix",
            seed,
            hash: "cccc3333",
            variant: "v3",
            test,
            cold,
            active,
            data: "f00d",
        });
    }
    let (_dir, mut app) = app_with(&specs);
    app.runs.marked.insert("20260105-102100-mix-s1".into());
    app.on_key(key(KeyCode::Char('c')));
    assert_eq!(app.runs.compare.as_ref().unwrap().comparison.entries.len(), 3);
    let first = render(&app, 80, 24);
    assert!(first.contains("static (3 seeds)") && first.contains("apg (3 seeds)"), "{first}");
    assert!(!first.contains("mix (3 seeds)"), "{first}");
    assert!(first.contains("Entries 1-1 of 2 besides the baseline (←/→)."), "{first}");
    app.on_key(key(KeyCode::Right));
    let second = render(&app, 80, 24);
    assert!(second.contains("static (3 seeds)") && second.contains("mix (3 seeds)"), "{second}");
    assert!(!second.contains("apg (3 seeds)"), "{second}");
    app.on_key(key(KeyCode::Right));
    assert_eq!(app.runs.compare.as_ref().unwrap().first, 1, "→ stops at the last page");
    app.on_key(key(KeyCode::Left));
    assert_eq!(app.runs.compare.as_ref().unwrap().first, 0);
    // Wide enough, all three stand side by side.
    let wide = render(&app, 200, 50);
    assert!(["static (3 seeds)", "apg (3 seeds)", "mix (3 seeds)"].iter().all(|l| wide.contains(l)), "{wide}");
}

#[test]
fn a_data_mismatch_warning_stays_in_sight() {
    let mut specs = specs();
    for spec in specs.iter_mut().filter(|s| s.experiment == "apg") {
        spec.data = "beef";
    }
    let (_dir, mut app) = app_with(&specs);
    app.on_key(key(KeyCode::Char('c')));
    assert!(app.runs.compare.as_ref().unwrap().comparison.data_differs);
    assert!(app.status().starts_with("warning: these runs trained on different data"), "{}", app.status());
    let top = render(&app, 80, 24);
    assert!(top.contains("WARNING: these runs trained on different data"), "{top}");
    app.on_key(key(KeyCode::Char('G')));
    let bottom = render(&app, 80, 24);
    assert!(bottom.contains("WARNING: these runs trained on different data"), "{bottom}");
}

fn assert_all_shown(screens: &str) {
    for words in [
        "static (3 seeds)",
        "apg (3 seeds)",
        "seeds 1, 2, 3",
        "beyond noise",
        "within noise",
        "user_activity = cold",
        "user_activity = active",
        &mean_sd([STATIC[0].1, STATIC[1].1, STATIC[2].1]),
        &mean_sd([APG[0].1, APG[1].1, APG[2].1]),
        &mean_sd([STATIC[0].2, STATIC[1].2, STATIC[2].2]),
        &mean_sd([APG[0].2, APG[1].2, APG[2].2]),
        "RelaImpr +5.36 %",
        "valid AUC",
        "valid logloss",
    ] {
        assert!(screens.contains(words), "{words} is not on screen:\n{screens}");
    }
}

#[test]
fn snapshot_compare_groups_80x24() {
    let (_dir, mut app) = app_with(&specs());
    app.on_key(key(KeyCode::Char('c')));
    let screens = every_page(&mut app, 80, 24);
    assert_all_shown(&screens);
    app.on_key(key(KeyCode::Char('g')));
    insta::assert_snapshot!("compare_groups_80x24_top", render(&app, 80, 24));
    app.on_key(key(KeyCode::PageDown));
    insta::assert_snapshot!("compare_groups_80x24_page2", render(&app, 80, 24));
}

#[test]
fn snapshot_compare_groups_140x40() {
    let (_dir, mut app) = app_with(&specs());
    app.on_key(key(KeyCode::Char('c')));
    let screen = render(&app, 140, 40);
    // At 140x40 the metrics and every group value fit on the first screen.
    assert_all_shown(&screen);
    insta::assert_snapshot!("compare_groups_140x40", screen);
}
