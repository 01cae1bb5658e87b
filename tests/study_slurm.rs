//! `study run --slurm` end to end on the one-node cluster of scripts/slurm-local.sh: a
//! tiny study of 4 runs goes out as a job array, each task records its run with the
//! headless `apg-bench run`, and the study's status and report read them back; the same
//! study run here gives the same runs and metrics. Skipped,
//! saying why, when no cluster answers (`.ci/run` starts one first).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use apg_bench::runs::{History, RunStatus};
use assert_cmd::Command;
use serde_json::Value;

const STUDY: &str = "base = \"tiny\"\nseeds = 2\nbaseline = \"static\"\n\
    [variants.static]\n\"apg.variant\" = \"static\"\n[variants.v4]\n\"apg.variant\" = \"v4\"\n";

/// Whether the local cluster is up, and if not what the script says.
fn cluster() -> Result<(), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh");
    match std::process::Command::new(&script).arg("status").output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(String::from_utf8_lossy(&output.stderr).trim().to_string()),
        Err(e) => Err(format!("cannot run {}: {e}", script.display())),
    }
}

fn apg_bench(workspace: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("apg-bench")
        .unwrap()
        .env_remove("APG_BENCH_CACHE")
        .arg("--workspace")
        .arg(workspace)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_study_runs_as_a_slurm_job_array() {
    if let Err(why) = cluster() {
        return common::skip(
            &format!("no local Slurm cluster ({why})"),
            "start one with scripts/slurm-local.sh (as root; it installs slurm-wlm and munge)",
        );
    }
    let root = common::studies::workspace(&[("tiny", STUDY)]);

    let submitted = apg_bench(root.path(), &["study", "run", "tiny", "--slurm", "--cpus", "1"]);
    let stdout = String::from_utf8_lossy(&submitted.stdout);
    assert!(submitted.status.success(), "{stdout}{}", String::from_utf8_lossy(&submitted.stderr));
    assert!(stdout.starts_with("submitted job ") && stdout.contains("(4 runs of study tiny)"), "{stdout}");
    let jobs: Value =
        serde_json::from_str(&std::fs::read_to_string(root.path().join("studies/tiny/slurm/jobs.json")).unwrap())
            .unwrap();
    assert_eq!(jobs[0]["tasks"].as_array().unwrap().len(), 4);

    // Wait for the array (a few seconds of training each); a hang fails after 5 minutes.
    let deadline = Instant::now() + Duration::from_secs(300);
    let counts = loop {
        let status = apg_bench(root.path(), &["study", "status", "tiny", "--json"]);
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        let json: Value = serde_json::from_slice(&status.stdout).unwrap();
        let counts = json[0]["counts"].clone();
        let busy = ["running", "queued", "pending"].iter().map(|k| counts[k].as_u64().unwrap()).sum::<u64>();
        if busy == 0 || Instant::now() > deadline {
            break counts;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let logs = std::fs::read_dir(root.path().join("studies/tiny/slurm"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "out"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n---\n");
    assert_eq!(counts["done"], 4, "{counts}\ntask logs:\n{logs}");

    let history = History::load(root.path()).unwrap();
    assert_eq!(history.runs.len(), 4);
    for run in &history.runs {
        assert_eq!(run.manifest.status, RunStatus::Finished, "{}", run.id());
        assert!(run.manifest.experiment.starts_with("tiny/"), "{}", run.manifest.experiment);
    }
    let report = apg_bench(root.path(), &["study", "report", "tiny", "--json"]);
    let json: Value = serde_json::from_slice(&report.stdout).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["cells"][0]["stat"]["n"], 2, "{row}");
    }
    assert!(rows[1]["cells"][0]["delta"].is_number(), "{}", rows[1]);

    // Nothing is left to submit.
    let again = apg_bench(root.path(), &["study", "run", "tiny", "--slurm"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to submit"));

    // The same study run here, one thread a run as each Slurm task had, gives the same
    // runs: the same experiments, seeds and configurations, and the same metrics.
    let here = tempfile::tempdir().unwrap();
    for folder in ["experiments", "studies"] {
        std::fs::create_dir_all(here.path().join(folder)).unwrap();
    }
    for file in ["experiments/data.toml", "experiments/tiny.toml", "studies/tiny.toml"] {
        std::fs::copy(root.path().join(file), here.path().join(file)).unwrap();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).to_string();
    let local = apg_bench(here.path(), &["study", "run", "tiny", "--jobs", &cores]);
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    assert_eq!(outcomes(here.path()), outcomes(root.path()));
}

/// Each run of a workspace as (experiment, seed, config hash, status, test AUC, test
/// logloss), sorted.
fn outcomes(workspace: &Path) -> Vec<(String, u64, String, RunStatus, String, String)> {
    let history = History::load(workspace).unwrap();
    let mut outcomes: Vec<_> = history
        .runs
        .iter()
        .map(|run| {
            let test = run.summary.as_ref().and_then(|s| s.test.clone()).expect("a finished run has test metrics");
            let m = &run.manifest;
            // Printed in full: equal text is equal numbers.
            (
                m.experiment.clone(),
                m.seed,
                m.config_hash.clone(),
                m.status,
                format!("{:?}", test.auc),
                format!("{:?}", test.logloss),
            )
        })
        .collect();
    outcomes.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    outcomes
}
