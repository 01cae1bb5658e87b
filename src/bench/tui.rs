//! The `tui` section: how long drawing one frame of each panel takes on ratatui's
//! `TestBackend` (200x50), with a realistic state: a workspace generated in the scratch
//! folder (the synthetic dataset's statistics, three experiments, 50 finished runs in the
//! history), a training run of a few hundred metric records in the Train panel, and the
//! comparison of three runs. Each figure is the median of many draws after a warm-up.
//! Consecutive frames are identical, so the backend receives no cells: a figure is the
//! cost of laying out and rendering the widgets into the buffer and diffing it, which is
//! what the event loop pays on every redraw (terminal output comes on top when cells change).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::bench::runs::{eval, fabricate_run};
use crate::bench::{Figure, Options, Sink, median};
use crate::config::experiment::LoadedExperiment;
use crate::config::workspace::Workspace;
use crate::data::descriptor::BUILT_IN;
use crate::data::{self, LoadOptions, LoadedDescriptor};
use crate::runs::History;
use crate::train::{Event, MetricsRecord, ParamCounts, Phase};
use crate::tui::app::{App, ExperimentEntry, Panel};
use crate::tui::keys::Action;
use crate::tui::theme::Theme;
use crate::tui::view::{self, Timing};

const SECTION: &str = "tui";
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
const RUNS: usize = 50;
/// Rows of the synthetic dataset the Data and Conditions panels describe.
const ROWS: usize = 200_000;
const ROWS_QUICK: usize = 20_000;

const EXPERIMENTS: &[(&str, &str)] = &[
    (
        "apg-group",
        "description = \"APG v5, group-wise on the domain\"\ndataset = \"../data.toml\"\n\n[model]\nbase = \"dnn\"\nhidden = [128, 64]\n\n\
         [apg]\nvariant = \"v5\"\nrank = [32, 16]\noverparam = [64, 32]\n\n[apg.condition]\nmode = \"group\"\nfields = [\"domain\"]\n\n\
         [train]\nepochs = 4\nlr = 0.002\nbatch_size = 1024\npatience = 2\n\n\
         [metrics]\ngauc_field = \"user\"\ngroup_fields = [\"user_activity\", \"domain\"]\n",
    ),
    (
        "apg-mix",
        "description = \"APG v5, mix-wise on domain and device\"\ndataset = \"../data.toml\"\n\n[model]\nhidden = [128, 64]\n\n\
         [apg]\nvariant = \"v5\"\nrank = [32, 16]\n\n[apg.condition]\nmode = \"mix\"\nfields = [\"domain\", \"device\"]\n\n\
         [metrics]\ngauc_field = \"user\"\ngroup_fields = [\"user_activity\", \"domain\"]\n",
    ),
    (
        "static-dnn",
        "description = \"Static DNN, tower 128-64\"\ndataset = \"../data.toml\"\n\n[model]\nhidden = [128, 64]\n\n\
         [metrics]\ngauc_field = \"user\"\ngroup_fields = [\"user_activity\", \"domain\"]\n",
    ),
];

pub fn run(options: &Options, sink: &mut Sink) -> anyhow::Result<()> {
    let root = options.scratch.join("tui").join("workspace");
    let _ = std::fs::remove_dir_all(&root);
    let rows = if options.quick { ROWS_QUICK } else { ROWS };
    let setup = Instant::now();
    let mut app =
        build_app(&root, rows).with_context(|| format!("cannot build the TUI state in {}", root.display()))?;
    let setup_s = setup.elapsed().as_secs_f64();

    let draws = if options.quick { 40 } else { 200 };
    let warmup = if options.quick { 5 } else { 20 };
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT))?;
    let timing = Timing { frame_ms: 1.0, key_to_screen_ms: Some(2.0) };
    let mut measure = |app: &App| -> anyhow::Result<Vec<f64>> {
        for _ in 0..warmup {
            terminal.draw(|frame| view::draw(frame, app, timing))?;
        }
        let mut ms = Vec::with_capacity(draws);
        for _ in 0..draws {
            let start = Instant::now();
            terminal.draw(|frame| view::draw(frame, app, timing))?;
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        Ok(ms)
    };
    let context = format!(
        "{WIDTH}x{HEIGHT} TestBackend, median of {draws} draws after {warmup}; {rows}-row dataset, {} training \
         records, {RUNS} runs",
        app.train.loss.len() + app.train.valid_auc.len()
    );
    let push = |sink: &mut Sink, key: &str, label: &str, ms: Vec<f64>| {
        let mut sorted = ms.clone();
        sorted.sort_by(f64::total_cmp);
        let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
        sink.push(Figure::new(SECTION, format!("tui.draw.{key}"), label, median(&ms), "ms").note(format!(
            "{context}; p95 {p95:.2} ms, max {:.2} ms; target well under 16 ms (a frame at 60 Hz)",
            sorted[sorted.len() - 1]
        )));
    };

    for (panel, key) in
        [(Panel::Data, "data"), (Panel::Conditions, "conditions"), (Panel::Train, "train"), (Panel::Runs, "runs")]
    {
        app.apply(Action::GoTo(panel));
        let ms = measure(&app)?;
        push(sink, key, &format!("draw the {} panel", panel.title()), ms);
    }

    // The comparison of three runs (metrics, groups, overlaid curves, config diff).
    app.apply(Action::GoTo(Panel::Runs));
    for _ in 0..3 {
        app.apply(Action::Mark);
        app.apply(Action::Down);
    }
    app.apply(Action::Compare);
    if app.runs.compare.is_some() {
        let ms = measure(&app)?;
        push(sink, "compare", "draw the comparison of three runs (Runs panel)", ms);
        app.apply(Action::Compare);
    } else {
        sink.skip(SECTION, "tui.draw.compare", format!("the comparison did not open: {}", app.status()));
    }

    // The help overlay over the Train panel.
    app.apply(Action::GoTo(Panel::Train));
    app.apply(Action::ToggleHelp);
    let ms = measure(&app)?;
    push(sink, "help", "draw the help over the Train panel", ms);
    app.apply(Action::ToggleHelp);

    sink.push(
        Figure::new(SECTION, "tui.setup", "build the state (load the data, read the history)", setup_s * 1e3, "ms")
            .note("not a frame: generating the workspace, loading its dataset and runs, once"),
    );
    let _ = std::fs::remove_dir_all(options.scratch.join("tui"));
    Ok(())
}

/// A workspace in `root` and the App over it, with data, a training run and a history.
fn build_app(root: &Path, rows: usize) -> anyhow::Result<App> {
    std::fs::create_dir_all(root.join("experiments"))?;
    std::fs::write(root.join("workspace.toml"), "name = \"bench\"\ndataset = \"data.toml\"\n")?;
    let synthetic = BUILT_IN
        .iter()
        .find(|(name, _)| *name == "synthetic-multidomain")
        .context("the built-in synthetic descriptor is missing")?
        .1;
    let descriptor_text = synthetic.replace("rows = 200000", &format!("rows = {rows}"));
    anyhow::ensure!(descriptor_text != synthetic || rows == 200_000, "the synthetic descriptor has no `rows = 200000`");
    std::fs::write(root.join("data.toml"), descriptor_text)?;
    let mut experiments = Vec::new();
    for (name, text) in EXPERIMENTS {
        let path = root.join("experiments").join(format!("{name}.toml"));
        std::fs::write(&path, text)?;
        let good = LoadedExperiment::from_file(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
        experiments.push(ExperimentEntry { path, good: Some(good), error: None });
    }
    for index in 0..RUNS {
        fabricate_run(&root.join("runs"), index)?;
    }

    let workspace = Workspace::open(root).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut app = App::new(workspace, experiments, Theme { color: true });
    let descriptor =
        LoadedDescriptor::open(&app.shared.workspace.dataset_reference()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (dataset, report) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() })?;
    app.shared.stats = Some(data::stats::dataset_stats_keeping(&dataset, data::stats::BROWSE_VALUES));
    app.data.load_note = format!("(encoded in {:.0} ms)", report.seconds * 1e3);
    app.select(app.shared.experiments.iter().position(|e| e.name() == "apg-group").unwrap_or(0));
    feed_training(&mut app);
    app.runs.set_history(Ok(History::load(root)?));
    Ok(app)
}

/// A made-up run of apg-group in progress: 4 epochs of 157 steps, a training record every
/// 2 steps (~300) and a validation every 40 steps, with log lines.
fn feed_training(app: &mut App) {
    app.run_started("apg-group".into(), "20260101-000000-apg-group-s1".into(), crate::config::Device::Cpu);
    app.on_train_event(Event::Phase { phase: Phase::Training });
    app.on_train_event(Event::Plan {
        total_steps: 628,
        steps_per_epoch: 157,
        params: ParamCounts { dense: 51_713, embedding: 128_208 },
        dataset_fingerprint: "f".into(),
    });
    for step in (2..=600).step_by(2) {
        let loss = 0.69 - 0.12 * (1.0 - (-(step as f64) / 150.0).exp()) + 0.01 * ((step as f64) * 0.7).sin();
        app.on_train_event(Event::Metrics {
            record: MetricsRecord::Train {
                step,
                epoch: step / 157,
                loss,
                samples_per_s: 60_000.0 + 500.0 * (step as f64).cos(),
                elapsed_s: step as f64 * 0.02,
            },
        });
        if step % 40 == 0 {
            let auc = 0.70 + 0.08 * (1.0 - (-(step as f64) / 200.0).exp());
            app.on_train_event(Event::Phase { phase: Phase::Evaluating });
            app.on_train_event(Event::Metrics {
                record: MetricsRecord::Eval {
                    step,
                    epoch: step / 157,
                    elapsed_s: step as f64 * 0.02,
                    metrics: eval("valid", auc),
                },
            });
            app.on_train_event(Event::Log { line: format!("best model so far at step {step}") });
            app.on_train_event(Event::Phase { phase: Phase::Training });
        }
    }
}
