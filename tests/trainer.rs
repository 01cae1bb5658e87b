//! The trainer thread: the same config and seed give identical metrics; pause, resume
//! and stop work while it trains; a bad device is refused with a clear message; the
//! learning rate decays on validation plateaus; splits that cannot validate or test are
//! refused before training; a diverging run ends `diverged` without test metrics; GAUC
//! counts users unseen in training one by one.

use std::path::Path;
use std::time::Duration;

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::train::trainer::{TrainJob, TrainerHandle, spawn};
use apg_bench::train::{Event, MetricsRecord, Phase, RunEnd, RunSummary};

fn job(dir: &Path, epochs: usize, seed: u64) -> TrainJob {
    job_with(dir, epochs, seed, "")
}

/// [`job`] with more `[train]` lines.
fn job_with(dir: &Path, epochs: usize, seed: u64, train: &str) -> TrainJob {
    let builtin = apg_bench::data::descriptor::BUILT_IN.iter().find(|(n, _)| *n == "synthetic-multidomain").unwrap().1;
    std::fs::write(dir.join("data.toml"), builtin.replace("rows = 200000", "rows = 8000")).unwrap();
    let file = dir.join("e.toml");
    let text = format!(
        "dataset = \"data.toml\"\n[model]\nhidden = [16, 8]\n[apg]\nvariant = \"v5\"\nrank = [4, 2]\n\
         [apg.condition]\nmode = \"mix\"\nfields = [\"domain\", \"user_activity\"]\n\
         [train]\nepochs = {epochs}\nbatch_size = 256\npatience = 0\neval_every = 10\n{train}\
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
    // Time split: rows 0-31 train, 32-35 validation, 36-39 test. The validation rows
    // hold both classes but share one user and one item: the model (without dropout)
    // gives them one score, so their AUC is exactly 0.5 at every evaluation and, after
    // the first, none improves, whatever the training does.
    let mut csv = String::from("user,item,ts,y\n");
    for i in 0..40 {
        let (user, item) = if (32..36).contains(&i) { (0, 0) } else { (i % 5, i % 7) };
        let y = if (32..36).contains(&i) { i % 2 } else { (i * 7 % 3 == 0) as usize };
        csv += &format!("u{user},i{item},{i},{y}\n");
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
    let (events, summary) = summary_of(spawn(TrainJob {
        experiment,
        seed: 1,
        device: apg_bench::config::Device::Cpu,
        checkpoint: None,
        load,
    }));
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
                assert_eq!(metrics.auc, Some(0.5), "one score for every validation row");
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

/// The error the trainer reports for `job`, after checking that it trained no step.
fn failure_of(job: TrainJob) -> String {
    let handle = spawn(job);
    let events: Vec<Event> = handle.events.iter().collect();
    handle.join().unwrap();
    assert!(!events.iter().any(|e| matches!(e, Event::Metrics { .. })), "it trained: {events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::Finished { .. })), "it finished: {events:?}");
    events
        .iter()
        .find_map(|e| match e {
            Event::Failed { error } => Some(error.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Failed event in {events:?}"))
}

/// [`job`] on the synthetic data with `from` replaced by `to` in its descriptor.
fn job_on_changed_data(dir: &Path, from: &str, to: &str) -> TrainJob {
    let job = job(dir, 1, 1);
    let descriptor = dir.join("data.toml");
    let text = std::fs::read_to_string(&descriptor).unwrap();
    assert!(text.contains(from), "the built-in descriptor changed: update this test");
    std::fs::write(&descriptor, text.replacen(from, to, 1)).unwrap();
    let experiment = LoadedExperiment::from_file(&job.experiment.file).unwrap_or_else(|e| panic!("{e}"));
    TrainJob { experiment, load: apg_bench::data::LoadOptions { no_cache: true, ..Default::default() }, ..job }
}

#[test]
fn an_empty_validation_split_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let error = failure_of(job_on_changed_data(dir.path(), "ratios = [0.8, 0.1, 0.1]", "ratios = [0.9, 0.0, 0.1]"));
    let file = dir.path().join("data.toml");
    assert_eq!(
        error,
        format!(
            "{}:73:1: split.ratios: the validation split holds no rows (AUC, early stopping and the choice of the \
             best model need both classes): give it a share in split.ratios (now [0.9, 0.0, 0.1])",
            file.display()
        )
    );
}

#[test]
fn an_empty_test_split_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let error = failure_of(job_on_changed_data(dir.path(), "ratios = [0.8, 0.1, 0.1]", "ratios = [0.8, 0.2, 0.0]"));
    assert!(
        error.ends_with(
            "split.ratios: the test split holds no rows (the run would end without test metrics): give it a share \
             in split.ratios (now [0.8, 0.2, 0.0])"
        ),
        "{error}"
    );
}

#[test]
fn a_label_threshold_that_leaves_one_class_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let error = failure_of(job_on_changed_data(dir.path(), "column = \"click\"", "column = \"click\"\nthreshold = 2"));
    // 8,000 rows: 6,400 train, all labelled 0 once a click must be >= 2.
    assert!(
        error.ends_with(
            "label.threshold: the training split holds one class only (6400 rows: 0 positive, 6400 negative); the \
             model learns nothing from one class. Every label of the dataset is 0 with label.threshold = 2: change it"
        ),
        "{error}"
    );
}

#[test]
fn a_one_class_validation_split_is_refused_before_training() {
    // Time split: rows 0-31 train (both classes), 32-35 validation (all 0), 36-39 test.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("user,item,ts,y\n");
    for i in 0..40 {
        let y = if (32..36).contains(&i) { 0 } else { (i * 7 % 3 == 0) as u8 };
        csv += &format!("u{},i{},{i},{y}\n", i % 5, i % 7);
    }
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("data.toml"),
        "name = \"one-class\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"data.csv\"\n[label]\ncolumn = \"y\"\n\
         [[fields]]\nname = \"user\"\nkind = \"categorical\"\n\
         [split]\nkind = \"time\"\ncolumn = \"ts\"\nratios = [0.8, 0.1, 0.1]\n",
    )
    .unwrap();
    let file = dir.path().join("e.toml");
    std::fs::write(&file, "dataset = \"data.toml\"\n[model]\nhidden = [4]\n").unwrap();
    let experiment = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let load = apg_bench::data::LoadOptions { no_cache: true, ..Default::default() };
    let error =
        failure_of(TrainJob { experiment, seed: 1, device: apg_bench::config::Device::Cpu, checkpoint: None, load });
    assert_eq!(
        error,
        format!(
            "{}:14:1: split.ratios: the validation split holds one class only (4 rows: 0 positive, 4 negative); AUC, \
             early stopping and the choice of the best model need both classes. Change split.ratios (now [0.8, 0.1, \
             0.1]) so that it holds both",
            dir.path().join("data.toml").display()
        )
    );
}

/// `train.lr = 10`, the largest an experiment accepts, makes the loss explode: the run
/// ends `diverged` at once, names the step and train.lr, and is not tested.
#[test]
fn a_diverging_run_ends_diverged_without_a_test() {
    let dir = tempfile::tempdir().unwrap();
    let (events, summary) = summary_of(spawn(job_with(dir.path(), 3, 1, "lr = 10\n")));
    assert_eq!(summary.status, RunEnd::Diverged);
    assert_eq!(summary.test, None, "a diverged model is not tested");
    let reason = summary.reason.expect("a diverged run says why");
    assert!(reason.contains("Lower train.lr (now 10.0)"), "{reason}");
    assert!(summary.steps < 3 * 25, "it stopped at the divergence: {} steps", summary.steps);
    assert!(events.iter().any(|e| matches!(e, Event::Phase { phase: Phase::Diverged })));
    assert!(!events.iter().any(|e| matches!(e, Event::Phase { phase: Phase::Testing })));
    // The last loss it reported is the window mean above the bound.
    let last = events.iter().rev().find_map(|e| match e {
        Event::Metrics { record: MetricsRecord::Train { loss, .. } } => Some(*loss),
        _ => None,
    });
    assert!(reason.starts_with("the mean training loss of step"), "{reason}");
    assert!(last.is_some_and(|loss| loss > apg_bench::train::run::divergence_bound(0.0)), "{last:?}");
}

/// GAUC over a test split whose users never appear in training: each user is a group
/// of its own, as a plain loop over the raw user names computes it, not one OOV group.
#[test]
fn gauc_counts_cold_users_one_by_one() {
    use apg_bench::model::Model;
    use apg_bench::train::run::{evaluate, predict};
    use dfdx::prelude::*;

    // Time split of 100 rows: 60 train (users t0-t5), 20 validation (t0-t5), 20 test
    // (users c0-c4, unseen in training, four rows each with both classes but c4).
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("user,item,ts,y\n");
    let mut users = Vec::new();
    for i in 0..100usize {
        let user = if i < 80 { format!("t{}", i % 6) } else { format!("c{}", (i - 80) / 4) };
        let y = if user == "c4" { 1 } else { usize::from(i % 3 == 0 || i % 4 == 1) };
        csv += &format!("{user},i{},{i},{y}\n", i % 7);
        users.push(user);
    }
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("data.toml"),
        "name = \"cold\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"data.csv\"\n[label]\ncolumn = \"y\"\n\
         [[fields]]\nname = \"user\"\nkind = \"categorical\"\n[[fields]]\nname = \"item\"\nkind = \"categorical\"\n\
         [split]\nkind = \"time\"\ncolumn = \"ts\"\nratios = [0.6, 0.2, 0.2]\n",
    )
    .unwrap();
    let file = dir.path().join("e.toml");
    std::fs::write(
        &file,
        "dataset = \"data.toml\"\n[model]\nhidden = [8]\nembedding_std = 0.5\n\
         [metrics]\ngauc_field = \"user\"\ngroup_fields = [\"item\"]\n",
    )
    .unwrap();
    let experiment = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let load = apg_bench::data::LoadOptions { no_cache: true, ..Default::default() };
    let (dataset, _) = apg_bench::data::load(&experiment.dataset, &load).unwrap();
    let test = dataset.split.test.clone();
    assert_eq!(test, (80..100).collect::<Vec<u32>>());
    let mut model = Model::new(&experiment, &dataset, Cpu::seed_from_u64(7), 7).unwrap();
    let job = TrainJob { experiment, seed: 7, device: apg_bench::config::Device::Cpu, checkpoint: None, load };
    let metrics = evaluate(&mut model, &dataset, &test, "test", &job);
    let scores = predict(&mut model, &dataset, &test);

    // The plain loop: per raw user, the share of (positive, negative) pairs ordered
    // right (ties 1/2), weighted by the user's rows, over users with both classes.
    let labels: Vec<u8> = test.iter().map(|&r| dataset.labels[r as usize]).collect();
    let (mut weighted, mut groups, mut rows) = (0.0, 0, 0);
    let mut names: Vec<&String> = test.iter().map(|&r| &users[r as usize]).collect();
    names.dedup();
    for name in names {
        let members: Vec<usize> = (0..test.len()).filter(|&i| &users[test[i] as usize] == name).collect();
        let (mut pairs, mut right) = (0.0, 0.0);
        for &p in members.iter().filter(|&&i| labels[i] == 1) {
            for &n in members.iter().filter(|&&i| labels[i] == 0) {
                pairs += 1.0;
                right += if scores[p] > scores[n] {
                    1.0
                } else if scores[p] == scores[n] {
                    0.5
                } else {
                    0.0
                };
            }
        }
        if pairs > 0.0 {
            weighted += right / pairs * members.len() as f64;
            groups += 1;
            rows += members.len();
        }
    }
    let expected = weighted / rows as f64;
    assert_eq!((metrics.gauc_groups, metrics.gauc_rows), (Some(4), Some(16)), "c4 holds one class only");
    assert!((metrics.gauc.unwrap() - expected).abs() < 1e-12, "{metrics:?} vs {expected}");
    assert_eq!(groups, 4);
    // Pooled into one OOV user, GAUC would be the split's AUC: the data tells them apart.
    assert!((expected - metrics.auc.unwrap()).abs() > 1e-3, "{expected} vs AUC {:?}", metrics.auc);

    // Positives: of the split and of each item, against plain counts.
    assert_eq!(metrics.positives, Some(labels.iter().filter(|&&l| l == 1).count()));
    for group in &metrics.groups {
        let members = (0..test.len()).filter(|&i| test[i] as usize % 7 == group.value[1..].parse::<usize>().unwrap());
        let positives = members.clone().filter(|&i| labels[i] == 1).count();
        assert_eq!((group.rows, group.positives), (members.count(), Some(positives)), "{group:?}");
    }
}
