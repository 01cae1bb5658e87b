//! How long listing a large run history takes: fabricates 1,000 run folders shaped like
//! real ones (run.toml, config.toml, summary.json with per-group tables, a metrics.jsonl of
//! ~20 kB) in a temporary workspace, then times what `apg-bench runs list --filter ...
//! --sort ...` does (read every folder, derive the columns, filter, sort, group), median of 5.
//!
//! `cargo run --release --example list_bench [RUNS]`

use std::path::Path;
use std::time::Instant;

use apg_bench::config::experiment::Experiment;
use apg_bench::runs::filter::{Filter, SortKey};
use apg_bench::runs::groups::groups;
use apg_bench::runs::{History, Manifest, RunStatus};
use apg_bench::train::{EvalMetrics, GroupMetrics, MetricsRecord, ParamCounts, RunSummary};

fn eval(split: &str, auc: f64) -> EvalMetrics {
    let groups = ["cold", "active", "d0", "d1", "d2", "d3", "d4", "d5"]
        .iter()
        .enumerate()
        .map(|(i, value)| GroupMetrics {
            field: if i < 2 { "user_activity".into() } else { "domain".into() },
            value: value.to_string(),
            rows: 1000 + i * 100,
            auc: Some(auc - 0.01 + i as f64 / 400.0),
            logloss: 0.5,
        })
        .collect();
    EvalMetrics { split: split.into(), rows: 20_000, auc: Some(auc), logloss: 0.52, gauc: Some(auc), groups }
}

fn fabricate(runs: &Path, index: usize) {
    let experiment_name = ["static-dnn", "apg-group", "apg-mix", "apg-self", "ablation-v4"][index % 5];
    let seed = (index / 5 % 3 + 1) as u64;
    let id = format!("20260101-{:06}-{experiment_name}-s{seed}", index);
    let dir = runs.join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = Manifest {
        id: id.clone(),
        experiment: experiment_name.into(),
        experiment_path: format!("experiments/{experiment_name}.toml").into(),
        status: if index % 50 == 7 { RunStatus::Interrupted } else { RunStatus::Finished },
        started: "2026-01-01T10:00:00Z".into(),
        ended: Some("2026-01-01T10:00:12Z".into()),
        host: "bench".into(),
        pid: 1,
        device: "cpu".into(),
        seed,
        version: "0.1.0".into(),
        config_hash: format!("{:016x}", index % 5),
        dataset_fingerprint: "c860726a7525abca".into(),
        parent: String::new(),
        error: None,
        tags: if index.is_multiple_of(10) { vec!["keep".into()] } else { Vec::new() },
        note: String::new(),
    };
    manifest.write(&dir).unwrap();

    let mut experiment: Experiment = toml::from_str("").unwrap();
    experiment.name = experiment_name.into();
    experiment.seed = seed;
    std::fs::write(dir.join("config.toml"), toml::to_string(&experiment).unwrap()).unwrap();

    let auc = 0.78 + (index % 37) as f64 / 1000.0;
    let mut lines = String::new();
    for step in (7..=630).step_by(7) {
        let record = MetricsRecord::Train {
            step,
            epoch: step / 157,
            loss: 0.7 - step as f64 / 3000.0,
            samples_per_s: 60_000.0,
            elapsed_s: step as f64 / 50.0,
        };
        lines += &serde_json::to_string(&record).unwrap();
        lines.push('\n');
        if step.is_multiple_of(157) {
            let record = MetricsRecord::Eval { step, epoch: step / 157, elapsed_s: 1.0, metrics: eval("valid", auc) };
            lines += &serde_json::to_string(&record).unwrap();
            lines.push('\n');
        }
    }
    std::fs::write(dir.join("metrics.jsonl"), lines).unwrap();
    let summary = RunSummary {
        status: "finished".into(),
        steps: 628,
        epochs_done: 4.0,
        best_step: Some(628),
        best_valid: Some(eval("valid", auc)),
        test: Some(eval("test", auc + 0.003)),
        params: ParamCounts { dense: 51_713, embedding: 128_208 },
        train_seconds: 11.0,
        samples_per_s: 60_000.0,
        stopped_early: false,
        baseline: None,
    };
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
}

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let workspace = tempfile::tempdir().unwrap();
    let runs = workspace.path().join("runs");
    let started = Instant::now();
    for index in 0..count {
        fabricate(&runs, index);
    }
    let bytes: u64 = std::fs::read_dir(&runs)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "fabricated {count} run folders ({:.1} MB) in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let filter = Filter::parse("auc > 0.79 and condition.mode = group or tag = keep").unwrap();
    let sort = SortKey::parse("-auc").unwrap();
    let mut timings = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut history = History::load(workspace.path()).unwrap();
        assert_eq!(history.runs.len(), count);
        history.runs.retain(|run| filter.matches(&run.row));
        history.runs.sort_by(|a, b| sort.compare(&a.row, &b.row));
        let groups = groups(&history);
        timings.push(started.elapsed().as_secs_f64());
        std::hint::black_box((history, groups));
    }
    timings.sort_by(f64::total_cmp);
    let shown: Vec<String> = timings.iter().map(|t| format!("{:.0}", t * 1000.0)).collect();
    println!(
        "listing {count} runs (read, derive, filter, sort, group): median {:.0} ms of 5 ({} ms), on {} threads",
        timings[2] * 1000.0,
        shown.join(", "),
        rayon::current_num_threads()
    );
}
