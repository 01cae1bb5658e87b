//! The `runs` section: how long listing a large run history takes. Fabricates run folders
//! shaped like real ones (run.toml, config.toml, summary.json with per-group tables, a
//! metrics.jsonl of ~20 kB) in the scratch folder, then times what `apg-bench runs list
//! --filter ... --sort ...` does: read every folder, derive the columns, filter, sort and
//! group repeats. The TUI section's history is made the same way.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bench::{Figure, Options, Sink, median};
use crate::config::experiment::Experiment;
use crate::runs::filter::{Filter, SortKey};
use crate::runs::groups::groups;
use crate::runs::{History, Manifest, RunStatus};
use crate::train::{EvalMetrics, GroupMetrics, MetricsRecord, ParamCounts, RunEnd, RunSummary};

pub fn run(options: &Options, sink: &mut Sink) -> anyhow::Result<()> {
    let count = if options.quick { 200 } else { 1000 };
    let workspace = options.scratch.join("runs-history");
    let _ = std::fs::remove_dir_all(&workspace);
    for index in 0..count {
        fabricate_run(&workspace.join("runs"), index)?;
    }
    let filter = Filter::parse("auc > 0.79 and condition.mode = group or tag = keep").map_err(anyhow::Error::msg)?;
    let sort = SortKey::parse("-auc").map_err(anyhow::Error::msg)?;
    let mut seconds = Vec::new();
    for _ in 0..options.reps() {
        let started = Instant::now();
        let mut history = History::load(&workspace)?;
        anyhow::ensure!(history.runs.len() == count, "read {} of {count} fabricated runs", history.runs.len());
        history.runs.retain(|run| filter.matches(&run.row));
        history.runs.sort_by(|a, b| sort.compare(&a.row, &b.row));
        std::hint::black_box((groups(&history), history));
        seconds.push(started.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&workspace);
    let ms: Vec<f64> = seconds.iter().map(|s| s * 1e3).collect();
    sink.push(
        Figure::new(
            "runs",
            format!("runs.list.{count}"),
            format!("list {count} runs: read, derive, filter, sort, group"),
            median(&ms),
            "ms",
        )
        .note(format!("median of {}; on {} thread(s)", ms.len(), rayon::current_num_threads()))
        .samples(ms),
    );
    Ok(())
}

/// Validation or test metrics with per-group tables, as a finished run reports them.
pub fn eval(split: &str, auc: f64) -> EvalMetrics {
    let groups = ["cold", "active", "d0", "d1", "d2", "d3", "d4", "d5"]
        .iter()
        .enumerate()
        .map(|(i, value)| GroupMetrics {
            field: if i < 2 { "user_activity".into() } else { "domain".into() },
            value: value.to_string(),
            rows: 1000 + i * 100,
            positives: Some(300 + i * 20),
            auc: Some(auc - 0.01 + i as f64 / 400.0),
            logloss: 0.5,
        })
        .collect();
    EvalMetrics {
        split: split.into(),
        rows: 20_000,
        positives: Some(6_000),
        auc: Some(auc),
        logloss: 0.52,
        gauc: Some(auc),
        gauc_groups: Some(1_800),
        gauc_rows: Some(16_000),
        groups,
    }
}

/// One finished run folder shaped like a real one.
pub fn fabricate_run(runs: &Path, index: usize) -> anyhow::Result<()> {
    let experiment_name = ["static-dnn", "apg-group", "apg-mix"][index % 3];
    let seed = (index / 3 % 3 + 1) as u64;
    let id = format!("20260101-{:06}-{experiment_name}-s{seed}", index * 100);
    let dir: PathBuf = runs.join(&id);
    std::fs::create_dir_all(&dir)?;
    let manifest = Manifest {
        id: id.clone(),
        experiment: experiment_name.into(),
        experiment_path: format!("experiments/{experiment_name}.toml").into(),
        status: if index % 25 == 7 { RunStatus::Interrupted } else { RunStatus::Finished },
        started: format!("2026-01-01T{:02}:{:02}:00Z", index / 60, index % 60),
        ended: Some(format!("2026-01-01T{:02}:{:02}:30Z", index / 60, index % 60)),
        host: "bench".into(),
        pid: 1,
        pid_start: None,
        boot_id: None,
        device: crate::config::Device::Cpu,
        seed,
        version: env!("CARGO_PKG_VERSION").into(),
        config_hash: format!("{:016x}", index % 3),
        dataset_fingerprint: "c860726a7525abca".into(),
        parent: String::new(),
        error: None,
        tags: if index.is_multiple_of(10) { vec!["keep".into()] } else { Vec::new() },
        note: String::new(),
    };
    manifest.write(&dir)?;

    let mut experiment: Experiment = toml::from_str("")?;
    experiment.name = experiment_name.into();
    experiment.seed = seed;
    experiment.model.hidden = vec![128, 64];
    if experiment_name != "static-dnn" {
        experiment.apg.variant = crate::config::experiment::Variant::V5;
        experiment.apg.rank = vec![32, 16];
        experiment.apg.condition.fields = vec!["domain".into()];
    }
    std::fs::write(dir.join("config.toml"), toml::to_string(&experiment)?)?;

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
        lines += &serde_json::to_string(&record)?;
        lines.push('\n');
        if step % 157 < 7 && step >= 157 {
            let valid = auc - 0.02 + step as f64 / 30_000.0;
            let record = MetricsRecord::Eval { step, epoch: step / 157, elapsed_s: 1.0, metrics: eval("valid", valid) };
            lines += &serde_json::to_string(&record)?;
            lines.push('\n');
        }
    }
    std::fs::write(dir.join("metrics.jsonl"), lines)?;
    let summary = RunSummary {
        status: RunEnd::Finished,
        reason: None,
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
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary)?)?;
    Ok(())
}
