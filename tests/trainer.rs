//! The trainer thread: the same config and seed give identical metrics; pause, resume
//! and stop work while it trains; a bad device is refused with a clear message.

use std::path::Path;
use std::time::Duration;

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::train::trainer::{TrainJob, TrainerHandle, spawn};
use apg_bench::train::{Event, Phase, RunSummary};

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
    TrainJob { experiment, seed, device: "cpu".into(), checkpoint: None, load: Default::default() }
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
    assert_eq!(summary.status, "stopped");
    assert!(summary.steps < 200 * 24, "stopped early: {} steps", summary.steps);
    assert!(summary.test.is_some(), "the best model so far is still tested");
    assert!(events.iter().any(|e| matches!(e, Event::Phase { phase: Phase::Stopped })));
}

#[test]
fn an_unavailable_device_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = job(dir.path(), 1, 1);
    job.device = "cuda:0".into();
    let handle = spawn(job);
    let events: Vec<Event> = handle.events.iter().collect();
    handle.join().unwrap();
    let error = events.iter().find_map(|e| match e {
        Event::Failed { error } => Some(error.clone()),
        _ => None,
    });
    if !cfg!(feature = "cuda") {
        assert_eq!(
            error.as_deref(),
            Some(
                "device \"cuda:0\" needs a build with CUDA: cargo build --release --features cuda (see the README), or use --device cpu"
            )
        );
    }
}
