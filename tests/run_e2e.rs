//! End to end: `apg-bench run` trains a tiny experiment in a temporary workspace and
//! leaves a complete run folder; a signal stops a run and marks it interrupted.
//!
//! The workspace holds `experiments/tiny.toml` and, beside it, `experiments/data.toml`:
//! a copy of the built-in synthetic descriptor cut to 20,000 rows, so the run takes seconds.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::runs::{self, Manifest, RunStatus};
use apg_bench::train::{MetricsRecord, RunEnd, RunSummary};
use assert_cmd::Command;
use serde_json::Value;

const EXPERIMENT: &str = r#"
description = "A tiny APG run for the end-to-end test"
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
epochs = EPOCHS
lr = 0.005

[metrics]
group_fields = ["domain"]
"#;

/// A workspace with the tiny experiment trained for `epochs` epochs.
fn workspace(epochs: usize) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let experiments = root.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/synthetic-multidomain.toml");
    let descriptor = std::fs::read_to_string(builtin).unwrap();
    assert!(descriptor.contains("rows = 200000"), "the built-in descriptor changed: update this test");
    std::fs::write(experiments.join("data.toml"), descriptor.replace("rows = 200000", "rows = 20000")).unwrap();
    let file = experiments.join("tiny.toml");
    std::fs::write(&file, EXPERIMENT.replace("EPOCHS", &epochs.to_string())).unwrap();
    (root, file)
}

fn apg_bench() -> Command {
    let mut command = Command::cargo_bin("apg-bench").unwrap();
    command.env_remove("APG_BENCH_CACHE");
    command
}

/// The one run folder under `workspace/runs/`.
fn only_run(workspace: &Path) -> PathBuf {
    let runs: Vec<PathBuf> =
        std::fs::read_dir(workspace.join("runs")).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.into_iter().next().unwrap()
}

#[test]
fn a_run_leaves_a_complete_folder() {
    let (root, file) = workspace(2);
    let output = apg_bench().args(["run", file.to_str().unwrap(), "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed: {stderr}");

    // stdout is one JSON object and nothing else.
    let report: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    let folder = only_run(root.path());
    let id = folder.file_name().unwrap().to_str().unwrap();
    assert_eq!(report["run_id"], id);
    assert_eq!(Path::new(report["folder"].as_str().unwrap()), folder);
    assert_eq!(report["status"], "finished");
    assert!(id.ends_with("-tiny-s3"), "{id}");

    let mut files: Vec<String> =
        std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["config.toml", "log.txt", "metrics.jsonl", "model.safetensors", "run.toml", "summary.json"]);

    let manifest: Manifest = runs::read_manifest(&folder).unwrap();
    assert_eq!(manifest.status, RunStatus::Finished);
    assert_eq!(manifest.id, id);
    assert_eq!((manifest.seed, manifest.device), (3, apg_bench::config::Device::Cpu));
    assert_eq!(manifest.experiment, "tiny");
    assert_eq!(manifest.experiment_path, Path::new("experiments/tiny.toml"));
    assert!(manifest.ended.is_some());
    assert!(!manifest.dataset_fingerprint.is_empty());
    assert!(manifest.config_hash.len() == 16 && manifest.config_hash.chars().all(|c| c.is_ascii_hexdigit()));

    let summary: RunSummary =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.status, RunEnd::Finished);
    assert_eq!(serde_json::to_value(&summary).unwrap(), report["summary"]);
    let test = summary.test.as_ref().expect("test metrics");
    let auc = test.auc.expect("a test AUC");
    assert!(auc > 0.6, "test AUC {auc}");
    assert!(test.groups.iter().any(|g| g.field == "domain"), "{:?}", test.groups);

    let records: Vec<MetricsRecord> = std::fs::read_to_string(folder.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert!(records.iter().any(|r| matches!(r, MetricsRecord::Train { .. })), "no train lines");
    let eval_of = |split: &str| {
        records.iter().any(|r| matches!(r, MetricsRecord::Eval { metrics, .. } if metrics.split == split))
    };
    assert!(eval_of("valid") && eval_of("test"), "{records:?}");

    let log = std::fs::read_to_string(folder.join("log.txt")).unwrap();
    assert!(log.contains("phase: training") && log.contains("status: finished"), "{log}");
    assert!(std::fs::metadata(folder.join("model.safetensors")).unwrap().len() > 0);

    // config.toml is the experiment as it ran, loadable from the run folder.
    let frozen = LoadedExperiment::from_file(&folder.join("config.toml")).unwrap();
    let original = LoadedExperiment::from_file(&file).unwrap();
    assert_eq!(frozen.experiment.dataset, "../../experiments/data.toml");
    assert_eq!(frozen.experiment.train, original.experiment.train);
    assert_eq!(frozen.dataset.descriptor, original.dataset.descriptor);
}

#[test]
fn a_human_summary_and_a_shared_config_hash_across_seeds() {
    let (root, file) = workspace(1);
    let run = |seed: &str| {
        let output =
            apg_bench().args(["run", file.to_str().unwrap(), "--seed", seed, "--device", "cpu"]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run("11");
    for expected in
        ["finished", "best valid (step", "test: AUC", "positive)", "domain", "positives", "parameters:", "run folder:"]
    {
        assert!(first.contains(expected), "{expected:?} not in\n{first}");
    }
    run("12");
    let manifests: Vec<Manifest> = std::fs::read_dir(root.path().join("runs"))
        .unwrap()
        .map(|entry| runs::read_manifest(&entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(manifests.len(), 2);
    let mut seeds: Vec<u64> = manifests.iter().map(|m| m.seed).collect();
    seeds.sort();
    assert_eq!(seeds, [11, 12]);
    assert_eq!(manifests[0].config_hash, manifests[1].config_hash);
}

#[test]
fn a_diverging_run_is_marked_diverged_and_exits_non_zero() {
    let (root, file) = workspace(1);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("lr = 0.005", "lr = 10")).unwrap();
    let output = apg_bench().args(["run", file.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(" diverged: the mean training loss of step"), "{stdout}");
    assert!(stdout.contains("Lower train.lr (now 10.0)"), "{stdout}");
    assert!(!stdout.contains("test:"), "a diverged run shows no test metrics:\n{stdout}");

    let folder = only_run(root.path());
    let manifest = runs::read_manifest(&folder).unwrap();
    assert_eq!(manifest.status, RunStatus::Diverged);
    assert!(manifest.error.as_deref().is_some_and(|e| e.contains("train.lr")), "{manifest:?}");
    let summary: RunSummary =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary.status, summary.test), (RunEnd::Diverged, None));
    let records = std::fs::read_to_string(folder.join("metrics.jsonl")).unwrap();
    assert!(!records.contains("\"split\":\"test\""), "no test record:\n{records}");

    let list = apg_bench().args(["runs", "list", "--workspace", root.path().to_str().unwrap()]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains(" diverged "), "{list}");
}

#[cfg(unix)]
#[test]
fn a_signal_interrupts_the_run() {
    use std::io::{BufRead, BufReader};

    let (root, file) = workspace(200);
    let binary = assert_cmd::cargo::cargo_bin("apg-bench");
    let mut child = Process::new(binary)
        .args(["run", file.to_str().unwrap()])
        .env_remove("APG_BENCH_CACHE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Wait until it trains (stderr is not a terminal: plain lines, one per phase).
    while !seen.contains("training...") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the run ended before training:\n{seen}");
        seen += &line;
    }
    let status = Process::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("interrupted"), "{rest}");

    let manifest = runs::read_manifest(&only_run(root.path())).unwrap();
    assert_eq!(manifest.status, RunStatus::Interrupted);
    assert!(manifest.ended.is_some());
}

#[test]
fn seeds_past_the_largest_seed_are_refused_before_any_run() {
    let (root, file) = workspace(1);
    let output = apg_bench()
        .args(["run", file.to_str().unwrap(), "--seed", "18446744073709551614", "--seeds", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "ran: {stderr}");
    assert_eq!(
        stderr.trim(),
        "error: --seeds 3 from seed 18446744073709551614 runs past the largest seed (18446744073709551615): \
         start from a smaller --seed"
    );
    assert!(!root.path().join("runs").exists(), "a run folder was made");
}

#[test]
fn a_named_workspace_receives_the_run_and_is_found_from_inside_it() {
    let (home, file) = workspace(1);
    let other = tempfile::tempdir().unwrap();
    apg_bench().args(["--workspace", other.path().to_str().unwrap(), "run", file.to_str().unwrap()]).assert().success();
    let run = only_run(other.path());
    assert!(!home.path().join("runs").exists(), "the run went to the experiment's own workspace");
    let manifest = runs::read_manifest(&run).unwrap();
    assert_eq!(manifest.status, RunStatus::Finished);
    // Outside the workspace it lies in, the experiment is named by its full path.
    assert_eq!(manifest.experiment_path, file);

    // With --workspace, an experiment of that workspace is named by its name alone.
    apg_bench().args(["--workspace", home.path().to_str().unwrap(), "run", "tiny"]).assert().success();
    let manifest = runs::read_manifest(&only_run(home.path())).unwrap();
    assert_eq!(manifest.experiment_path, Path::new("experiments/tiny.toml"));

    // Without --workspace, `runs list` finds the workspace from the current folder upwards.
    let output =
        apg_bench().current_dir(home.path().join("experiments")).args(["runs", "list", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = listed["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [manifest.id.as_str()]);
}

#[test]
fn a_missing_named_workspace_is_an_error_before_any_run() {
    let (home, file) = workspace(1);
    let missing = home.path().join("nowhere");
    let output =
        apg_bench().args(["--workspace", missing.to_str().unwrap(), "run", file.to_str().unwrap()]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nowhere: no such folder"), "{stderr}");
    assert!(!home.path().join("runs").exists() && !missing.exists());
}

/// Drives a recorded run to its end as the TUI does, stopping it first when `stop`.
fn recorded(workspace: &Path, loaded: LoadedExperiment, stop: bool) -> (Manifest, Option<RunSummary>) {
    use apg_bench::runs::recorded::{Next, RecordedRun};
    let seed = loaded.experiment.seed;
    let mut run = RecordedRun::start(workspace, loaded, seed, apg_bench::config::Device::Cpu).unwrap();
    if stop {
        run.control().stop();
    }
    while !matches!(run.next(std::time::Duration::from_secs(60)), Next::Done) {}
    run.finish(false).unwrap()
}

#[test]
fn a_recorded_run_gets_rela_impr_against_its_baseline_and_a_stop_reads_as_stopped() {
    let (root, file) = workspace(1);
    let (baseline, baseline_summary) = recorded(root.path(), LoadedExperiment::from_file(&file).unwrap(), false);
    let baseline_auc = baseline_summary.unwrap().test.unwrap().auc.unwrap();

    let text = std::fs::read_to_string(&file).unwrap().replace("seed = 3", "seed = 4");
    let text = text.replace("[metrics]\n", &format!("[metrics]\nbaseline = \"{}\"\n", baseline.id));
    let second = root.path().join("experiments/second.toml");
    std::fs::write(&second, text).unwrap();
    let (_, summary) = recorded(root.path(), LoadedExperiment::from_file(&second).unwrap(), false);
    let summary = summary.unwrap();
    let auc = summary.test.unwrap().auc.unwrap();
    let comparison = summary.baseline.expect("RelaImpr against the baseline");
    assert_eq!((comparison.run.as_str(), comparison.baseline_auc), (baseline.id.as_str(), baseline_auc));
    let expected = ((auc - 0.5) / (baseline_auc - 0.5) - 1.0) * 100.0;
    assert!((comparison.rela_impr.unwrap() - expected).abs() < 1e-9, "{comparison:?} vs {expected}");

    // A stop asked for (the TUI's `x`) ends the run `stopped`, not `interrupted`.
    let (manifest, _) = recorded(root.path(), LoadedExperiment::from_file(&file).unwrap(), true);
    assert_eq!(manifest.status, RunStatus::Stopped, "{manifest:?}");
}
