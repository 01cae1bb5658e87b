//! The trainer thread: the same config and seed give identical metrics; pause, resume
//! and stop work while it trains; a bad device is refused with a clear message; the
//! learning rate decays on validation plateaus.

use std::path::Path;
use std::time::Duration;

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::train::trainer::{TrainJob, TrainerHandle, spawn};
use apg_bench::train::{Event, MetricsRecord, Phase, RunEnd, RunSummary};

fn job(dir: &Path, epochs: usize, seed: u64) -> TrainJob {
    let builtin = apg_bench::data::descriptor::BUILT_IN.iter().find(|(n, _)| *n == "synthetic-multidomain").unwrap().1;
    std::fs::write(dir.join("data.toml"), builtin.replace("rows = 200000", "rows = 8000")).unwrap();
    let file = dir.join("e.toml");
    let text = format!(
        "dataset = \"data.toml\"\n[model]\nhidden = [16, 8]\n[apg]\nvariant = \"v5\"\nrank = [4, 2]\n\
         [apg.condition]\nmode = \"mix\"\nfields = [\"domain\", \"user_activity\"]\n\
         [train]\nepochs = {epochs}\nbatch_size = 256\npatience = 0\neval_every = 10\n\
         [metrics]\ngauc_field = \"user\"\ngroup_fields = [\"user_activity\"]\n"
    );
    std::fs::write(&file, text).unwrap();
    let experiment = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    TrainJob { experiment, seed, device: apg_bench::config::Device::Cpu, checkpoint: None, load: Default::default() }
}

fn summary_of(handle: TrainerHandle) -> (Vec<Event>, RunSummary) {
    let events: Vec<Event> = handle.events.iter().collect();
    handle.join().unwrap();
    let summary = events
        .iter()
        .find_map(|e| match e {
            Event::Finished { summary } => Some((**summary).clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Finished event in {events:?}"));
    (events, summary)
}

#[test]
fn the_same_config_and_seed_give_identical_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (_, a) = summary_of(spawn(job(dir.path(), 2, 5)));
    let (_, b) = summary_of(spawn(job(dir.path(), 2, 5)));
    let (_, c) = summary_of(spawn(job(dir.path(), 2, 6)));
    assert_eq!(a.test, b.test, "same seed, same test metrics");
    assert_eq!(a.best_valid, b.best_valid);
    assert_ne!(a.test, c.test, "another seed, other metrics");
    assert!(a.test.unwrap().gauc.is_some());
}

#[test]
fn pause_resume_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let handle = spawn(job(dir.path(), 200, 1));
    // Wait until it trains, then pause.
    loop {
        match handle.events.recv_timeout(Duration::from_secs(60)).expect("events arrive") {
            Event::Phase { phase: Phase::Training } => break,
            Event::Failed { error } => panic!("{error}"),
            _ => {}
        }
    }
    handle.pause();
    loop {
        if let Event::Phase { phase: Phase::Paused } =
            handle.events.recv_timeout(Duration::from_secs(60)).expect("events arrive")
        {
            break;
        }
    }
    // While paused no steps are taken.
    std::thread::sleep(Duration::from_millis(200));
    assert!(handle.events.try_iter().all(|e| !matches!(e, Event::Metrics { .. })), "no metrics while paused");
    handle.resume();
    loop {
        if let Event::Phase { phase: Phase::Training } =
            handle.events.recv_timeout(Duration::from_secs(60)).expect("events arrive")
        {
            break;
        }
    }
    handle.stop();
    let (events, summary) = summary_of(handle);
    assert_eq!(summary.status, RunEnd::Stopped);
    assert!(summary.steps < 200 * 24, "stopped early: {} steps", summary.steps);
    assert!(summary.test.is_some(), "the best model so far is still tested");
    assert!(events.iter().any(|e| matches!(e, Event::Phase { phase: Phase::Stopped })));
}

#[test]
fn an_unavailable_device_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = job(dir.path(), 1, 1);
    job.device = apg_bench::config::Device::Cuda(0);
    let handle = spawn(job);
    let events: Vec<Event> = handle.events.iter().collect();
    handle.join().unwrap();
    let error = events.iter().find_map(|e| match e {
        Event::Failed { error } => Some(error.clone()),
        _ => None,
    });
    if cfg!(feature = "cuda") {
        // A CUDA build trains where the machine has a GPU and otherwise says to use the CPU.
        let finished = events.iter().any(|e| matches!(e, Event::Finished { .. }));
        match error {
            None => assert!(finished, "neither finished nor failed"),
            Some(error) => assert!(error.starts_with("no usable GPU \"cuda:0\""), "{error}"),
        }
    } else {
        assert_eq!(
            error.as_deref(),
            Some(
                "device \"cuda:0\" needs a build with CUDA: cargo build --release --features cuda (see the README), or use --device cpu"
            )
        );
    }
}

/// The learning rates of the plateau log lines ("... learning rate A -> B") of a run of
/// `train` (the [train] table's lines) on a tiny table, and how many validations it made.
fn plateau_run(dir: &Path, train: &str) -> (Vec<(f64, f64)>, usize) {
    // Time split: rows 0-31 train, 32-35 validation, 36-39 test. Every validation row
    // is a non-click, so the validation AUC is undefined and scores 0.5 at every
    // evaluation: after the first, none improves, whatever the training does.
    let mut csv = String::from("user,item,ts,y\n");
    for i in 0..40 {
        let y = if (32..36).contains(&i) { 0 } else { (i * 7 % 3 == 0) as u8 };
        csv += &format!("u{},i{},{i},{y}\n", i % 5, i % 7);
    }
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    std::fs::write(
        dir.join("data.toml"),
        "name = \"plateau\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"data.csv\"\n[label]\ncolumn = \"y\"\n\
         [[fields]]\nname = \"user\"\nkind = \"categorical\"\n[[fields]]\nname = \"item\"\nkind = \"categorical\"\n\
         [split]\nkind = \"time\"\ncolumn = \"ts\"\nratios = [0.8, 0.1, 0.1]\n",
    )
    .unwrap();
    let file = dir.join("e.toml");
    std::fs::write(&file, format!("dataset = \"data.toml\"\n[model]\nhidden = [4]\n[train]\n{train}")).unwrap();
    let experiment = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let load = apg_bench::data::LoadOptions { no_cache: true, ..Default::default() };
    let (events, summary) =
        summary_of(spawn(TrainJob { experiment, seed: 1, device: apg_bench::config::Device::Cpu, checkpoint: None, load }));
    let mut rates = Vec::new();
    let mut validations = 0;
    for event in &events {
        match event {
            Event::Log { line } if line.contains("learning rate") => {
                let (_, rates_text) = line.split_once("learning rate ").unwrap();
                let (from, to) = rates_text.split_once(" -> ").unwrap_or_else(|| panic!("{line}"));
                rates.push((from.parse().unwrap(), to.parse().unwrap()));
            }
            Event::Metrics { record: MetricsRecord::Eval { metrics, .. } } if metrics.split == "valid" => {
                assert_eq!(metrics.auc, None, "one class: no validation AUC");
                validations += 1;
            }
            _ => {}
        }
    }
    assert_eq!(summary.best_step, Some(1), "the first validation stays the best");
    (rates, validations)
}

/// `train.lr_plateau_factor = 0.5`: each evaluation without improvement halves the
/// learning rate, 1e-5 -> 5e-6 -> 2.5e-6 -> 1.25e-6, then 1e-6 (the floor, not
/// 6.25e-7), and the remaining evaluations without improvement leave it there silently.
/// With the default factor 1 nothing decays.
#[test]
fn the_learning_rate_decays_geometrically_on_plateaus_down_to_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    // 4 rows a batch: 8 steps an epoch; a validation after each of 10 steps.
    let train = "batch_size = 4\nepochs = 2\nmax_steps = 10\neval_every = 1\npatience = 0\nthreads = 1\nlr = 1e-5\n";
    let (rates, validations) = plateau_run(dir.path(), &format!("{train}lr_plateau_factor = 0.5\n"));
    assert_eq!(validations, 10, "one validation per step, 9 without improvement");
    let expected = [(1e-5, 5e-6), (5e-6, 2.5e-6), (2.5e-6, 1.25e-6), (1.25e-6, 1e-6)];
    assert_eq!(rates.len(), expected.len(), "{rates:?}");
    for ((from, to), (expected_from, expected_to)) in rates.iter().zip(expected) {
        // The log prints 4 significant digits.
        assert!((from / expected_from - 1.0).abs() < 1e-3 && (to / expected_to - 1.0).abs() < 1e-3, "{rates:?}");
    }
    let (rates, validations) = plateau_run(dir.path(), train);
    assert_eq!((rates, validations), (vec![], 10), "factor 1: a constant learning rate");
}
