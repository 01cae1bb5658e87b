//! A workspace for study tests: a tiny APG experiment on 20,000 synthetic rows, study
//! files, and hand-made run folders of a study's variants.

use std::path::{Path, PathBuf};

use apg_bench::config::Device;
use apg_bench::runs::{Manifest, RunStatus};
use apg_bench::study::Study;
use apg_bench::train::{EvalMetrics, GroupMetrics, ParamCounts, RunEnd, RunSummary};

pub const EXPERIMENT: &str = r#"
description = "A tiny APG experiment, base of the studies"
dataset = "data.toml"
seed = 3

[model]
embedding_dim = 8
hidden = [32, 16]

[apg]
variant = "v4"
rank = [4]

[apg.condition]
fields = ["domain"]

[train]
batch_size = 256
epochs = 1
lr = 0.005

[metrics]
group_fields = ["domain"]
"#;

/// A workspace with the tiny experiment and the study files given as (name, text).
pub fn workspace(studies: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let experiments = root.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    std::fs::create_dir_all(root.path().join("studies")).unwrap();
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/synthetic-multidomain.toml");
    let descriptor = std::fs::read_to_string(builtin).unwrap();
    assert!(descriptor.contains("rows = 200000"), "the built-in descriptor changed: update this test");
    std::fs::write(experiments.join("data.toml"), descriptor.replace("rows = 200000", "rows = 20000")).unwrap();
    std::fs::write(experiments.join("tiny.toml"), EXPERIMENT).unwrap();
    for (name, text) in studies {
        std::fs::write(root.path().join("studies").join(format!("{name}.toml")), text).unwrap();
    }
    root
}

/// Test metrics of a hand-made run: the AUC given, logloss 1 - AUC, GAUC AUC - 0.01, and
/// the group domain=d0 at AUC - 0.02.
pub fn test_metrics(auc: f64) -> EvalMetrics {
    EvalMetrics {
        split: "test".into(),
        rows: 1000,
        positives: Some(250),
        auc: Some(auc),
        logloss: 1.0 - auc,
        gauc: Some(auc - 0.01),
        gauc_groups: Some(10),
        gauc_rows: Some(900),
        groups: vec![GroupMetrics {
            field: "domain".into(),
            value: "d0".into(),
            rows: 300,
            positives: Some(80),
            auc: Some(auc - 0.02),
            logloss: 0.5,
        }],
    }
}

/// Writes a run folder of `study`'s variant `variant` under `seed`, started at `minute`
/// (which orders the runs): run.toml, config.toml and, for a finished run with a test
/// AUC, summary.json.
pub fn fake_run(study: &Study, variant: usize, seed: u64, minute: u32, status: RunStatus, auc: Option<f64>) -> PathBuf {
    let v = &study.variants[variant];
    let id = format!("20260105-10{minute:02}00-{}-s{seed}", v.name.replace(['=', ','], "-"));
    let dir = study.workspace.join("runs").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = Manifest {
        id,
        experiment: v.experiment.experiment.name.clone(),
        experiment_path: v.experiment.file.clone(),
        status,
        started: format!("2026-01-05T10:{minute:02}:00Z"),
        ended: Some(format!("2026-01-05T10:{minute:02}:30Z")),
        host: "lab".into(),
        pid: 1,
        pid_start: None,
        boot_id: None,
        device: Device::Cpu,
        seed,
        version: "0.1.0".into(),
        config_hash: v.config_hash.clone(),
        dataset_fingerprint: "f00d".into(),
        parent: String::new(),
        error: None,
        tags: Vec::new(),
        note: String::new(),
    };
    manifest.write(&dir).unwrap();
    let mut experiment = v.experiment.experiment.clone();
    experiment.seed = seed;
    std::fs::write(dir.join("config.toml"), toml::to_string(&experiment).unwrap()).unwrap();
    if let Some(auc) = auc {
        let summary = RunSummary {
            status: RunEnd::Finished,
            reason: None,
            steps: 10,
            epochs_done: 1.0,
            best_step: Some(10),
            best_valid: None,
            test: Some(test_metrics(auc)),
            params: ParamCounts { dense: 100, embedding: 1000 },
            train_seconds: 2.0,
            samples_per_s: 1000.0,
            stopped_early: false,
            baseline: None,
        };
        std::fs::write(dir.join("summary.json"), serde_json::to_string(&summary).unwrap()).unwrap();
    }
    dir
}
