//! Studies: the study file and its errors, expansion of a grid and of named variants,
//! which runs a study still needs (hand-made run folders), and the report's numbers
//! against hand-computed means, sample sds and RelaImpr.
//!
//! The workspace holds `experiments/tiny.toml` and `experiments/data.toml` (the built-in
//! synthetic descriptor); nothing here trains, except the one end-to-end test of
//! `study run`, on 20,000 rows for one epoch.

mod common;

use std::path::Path;

use apg_bench::config::experiment::Variant as ApgVariant;
use apg_bench::runs::{History, RunStatus};
use apg_bench::study::Study;
use apg_bench::study::report::report;
use apg_bench::study::status::{Counts, State, slots, to_run};
use assert_cmd::Command;
use common::studies::{fake_run, workspace};

fn open(studies: &[(&str, &str)]) -> (tempfile::TempDir, Study) {
    let root = workspace(studies);
    let study = Study::open(root.path(), studies[0].0).unwrap();
    (root, study)
}

/// The error `study` gives, as the user reads it, with the workspace's path left out.
fn error(text: &str) -> String {
    let root = workspace(&[("s", text)]);
    let message = Study::open(root.path(), "s").unwrap_err().to_string();
    message.replace(&format!("{}/", root.path().display()), "")
}

#[test]
fn a_grid_expands_to_every_combination_the_first_key_slowest() {
    let (_root, study) = open(&[(
        "grid",
        "base = \"tiny\"\nseeds = 3\nbaseline = \"variant=static,rank=4\"\n\n[grid]\n\
         \"apg.variant\" = [\"static\", \"v4\", \"v5\"]\n\"apg.rank\" = [4, 8]\n",
    )]);
    let names: Vec<&str> = study.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "variant=static,rank=4",
            "variant=static,rank=8",
            "variant=v4,rank=4",
            "variant=v4,rank=8",
            "variant=v5,rank=4",
            "variant=v5,rank=8",
        ]
    );
    let expected = [
        (ApgVariant::Static, 4),
        (ApgVariant::Static, 8),
        (ApgVariant::V4, 4),
        (ApgVariant::V4, 8),
        (ApgVariant::V5, 4),
        (ApgVariant::V5, 8),
    ];
    for (variant, (apg_variant, rank)) in study.variants.iter().zip(expected) {
        let e = &variant.experiment.experiment;
        assert_eq!((e.apg.variant, e.apg.rank.clone()), (apg_variant, vec![rank]), "{}", variant.name);
        // Everything else is the base experiment's.
        assert_eq!(
            (e.model.hidden.clone(), e.train.epochs, e.apg.condition.fields.clone()),
            (vec![32, 16], 1, vec!["domain".to_string()])
        );
        assert_eq!(e.name, format!("grid/{}", variant.name));
    }
    // `seeds = 3` counts from the base experiment's seed.
    assert_eq!(study.seeds, [3, 4, 5]);
    assert_eq!(study.slots().count(), 18);
    assert_eq!(study.baseline, 0);
    // Six configurations, six config hashes.
    let mut hashes: Vec<&str> = study.variants.iter().map(|v| v.config_hash.as_str()).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 6);
}

#[test]
fn named_variants_keep_the_file_order_and_set_only_their_keys() {
    let (root, study) = open(&[(
        "named",
        "base = \"tiny\"\nseeds = [7, 1]\nbaseline = \"static\"\n\n\
         [variants.static]\n\"apg.variant\" = \"static\"\n\n\
         [variants.mix]\n\"apg.condition.mode\" = \"mix\"\n\"apg.condition.fields\" = [\"domain\", \"device\"]\n\n\
         [variants.self]\napg.condition.mode = \"self\"\napg.condition.fields = []\n\"train.lr\" = 0.01\n",
    )]);
    let names: Vec<&str> = study.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["static", "mix", "self"]);
    assert_eq!(study.seeds, [7, 1]);
    assert_eq!(study.baseline, 0);
    let [stat, mix, selfwise] = [0, 1, 2].map(|i| &study.variants[i].experiment.experiment);
    assert_eq!(stat.apg.variant, ApgVariant::Static);
    assert_eq!(mix.apg.variant, ApgVariant::V4);
    assert_eq!(mix.apg.condition.fields, ["domain", "device"]);
    assert_eq!(format!("{:?}", mix.apg.condition.mode), "Mix");
    assert_eq!(format!("{:?}", selfwise.apg.condition.mode), "SelfWise");
    assert_eq!((selfwise.train.lr, mix.train.lr), (0.01, 0.005));
    // Overrides are listed with the study file's values.
    assert_eq!(
        study.variants[2].overrides.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["apg.condition.mode", "apg.condition.fields", "train.lr"]
    );
    // Each expanded experiment lies under the study's folder and finds the dataset.
    let file = &study.variants[1].experiment.file;
    assert_eq!(file, &root.path().join("studies/named/expanded/mix.toml"));
    assert!(study.variants[1].experiment.dataset.file.ends_with("experiments/data.toml"));
}

#[test]
fn an_unknown_key_names_the_study_file_line_column_and_the_nearest_key() {
    assert_eq!(
        error("base = \"tiny\"\n\n[grid]\n\"apg.variant\" = [\"v4\"]\n\"apg.rnak\" = [1, 2]\n"),
        "studies/s.toml:5:1: apg.rnak: no such experiment key; did you mean apg.rank?"
    );
    assert_eq!(
        error("base = \"tiny\"\n[variants.a]\ntrain.epoks = 2\n"),
        "studies/s.toml:3:7: train.epoks: no such experiment key; did you mean train.epochs?"
    );
}

#[test]
fn a_bad_value_is_reported_where_the_study_sets_it() {
    assert_eq!(
        error("base = \"tiny\"\n[grid]\n\"apg.rank\" = [4, 0]\n"),
        "studies/s.toml:3:18: apg.rank[0]: K = 0 must be between 1 and min(N_in, N_out) = min(56, 32) = 32 \
         for hidden layer 0 (variant `rank=0`)"
    );
    let message = error("base = \"tiny\"\n[variants.v9]\n\"apg.variant\" = \"v9\"\n");
    assert!(message.starts_with("studies/s.toml:3:17: apg.variant: unknown variant `v9`"), "{message}");
}

#[test]
fn errors_in_the_study_itself() {
    let message = error("base = \"tiny\"\nseed = 3\n");
    assert!(message.starts_with("studies/s.toml:2:1: unknown field `seed`"), "{message}");
    assert_eq!(
        error("base = \"nothing\"\n"),
        format!(
            "studies/s.toml:1:1: base: no experiment {} (the base is a file in experiments/)",
            "experiments/nothing.toml"
        )
    );
    assert_eq!(
        error("base = \"tiny\"\nbaseline = \"v6\"\n[variants.v5]\n\"apg.variant\" = \"v5\"\n"),
        "studies/s.toml:2:1: baseline: no variant \"v6\" (variants: v5)"
    );
    assert_eq!(
        error("base = \"tiny\"\n[grid]\n\"apg.rank\" = 4\n"),
        "studies/s.toml:3:1: apg.rank: a grid key takes a list of the values to try, e.g. [8, 16, 32]"
    );
    assert_eq!(
        error("base = \"tiny\"\n[grid]\n\"apg.rank\" = [4]\n[variants.a]\n\"apg.rank\" = [4]\n"),
        "studies/s.toml:4:2: variants: a study has a [grid] or [variants], not both"
    );
    assert_eq!(
        error("base = \"tiny\"\n[grid]\n"),
        "studies/s.toml:2:1: grid: [grid] sets no experiment key: name at least one"
    );
    assert_eq!(
        error("base = \"tiny\"\n[variants]\n"),
        "studies/s.toml:2:1: variants: [variants] sets no experiment key: name at least one"
    );
    assert_eq!(error("base = \"tiny\"\nseeds = [1, 2, 1]\n"), "studies/s.toml:2:16: seeds[2]: seed 1 is listed twice");
    assert_eq!(
        error("base = \"tiny\"\ngroups = [\"gender\"]\n"),
        "studies/s.toml:2:11: groups[0]: the runs report no group field \"gender\" (metrics.group_fields: domain)"
    );
    let message = error("base = \"tiny\"\nmetrics = [\"test.acu\"]\n");
    assert!(
        message.starts_with("studies/s.toml:2:12: metrics[0]: no metric \"test.acu\" (metrics: test.auc,"),
        "{message}"
    );
}

const TWO_VARIANTS: &str = "base = \"tiny\"\nseeds = [1, 2, 3]\nbaseline = \"static\"\n\
    metrics = [\"test.auc\", \"test.gauc\", \"test.logloss\"]\ngroups = [\"domain\"]\n\n\
    [variants.apg]\n\"apg.variant\" = \"v4\"\n\n[variants.static]\n\"apg.variant\" = \"static\"\n";

#[test]
fn finished_runs_are_skipped_failed_ones_only_on_request_interrupted_ones_run_again() {
    let (_root, study) = open(&[("two", TWO_VARIANTS)]);
    // apg: seed 1 finished; seed 2 failed; seed 3 interrupted, then finished.
    // static: seed 1 interrupted; seed 2 diverged, then stopped; seed 3 never ran.
    fake_run(&study, 0, 1, 1, RunStatus::Finished, Some(0.80));
    fake_run(&study, 0, 2, 2, RunStatus::Failed, None);
    fake_run(&study, 0, 3, 3, RunStatus::Interrupted, None);
    fake_run(&study, 0, 3, 4, RunStatus::Finished, Some(0.81));
    fake_run(&study, 1, 1, 5, RunStatus::Interrupted, None);
    fake_run(&study, 1, 2, 6, RunStatus::Diverged, None);
    fake_run(&study, 1, 2, 7, RunStatus::Stopped, None);
    let history = History::load(&study.workspace).unwrap();
    let slots = slots(&study, &history);
    let states: Vec<(usize, u64, State)> = slots.iter().map(|s| (s.variant, s.seed, s.state)).collect();
    assert_eq!(
        states,
        [
            (0, 1, State::Done),
            (0, 2, State::Failed),
            (0, 3, State::Done),
            (1, 1, State::Pending),
            (1, 2, State::Pending),
            (1, 3, State::Pending),
        ]
    );
    assert_eq!(slots[2].run.as_deref(), Some("20260105-100400-apg-s3"));
    assert_eq!(to_run(&slots, false), [(1, 1), (1, 2), (1, 3)]);
    assert_eq!(to_run(&slots, true), [(0, 2), (1, 1), (1, 2), (1, 3)]);
    let counts = Counts::of(&slots);
    assert_eq!((counts.done, counts.failed, counts.pending, counts.total()), (2, 1, 3, 6));

    // The command says the same.
    let output = Command::cargo_bin("apg-bench")
        .unwrap()
        .args(["--workspace", study.workspace.to_str().unwrap(), "study", "status", "two", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json[0]["counts"]["done"], 2);
    assert_eq!(json[0]["counts"]["pending"], 3);
    assert_eq!(json[0]["runs"][1]["state"], "failed");
}

#[test]
fn the_report_has_hand_computed_means_sds_and_rela_impr() {
    let (_root, study) = open(&[("two", TWO_VARIANTS)]);
    let apg = [0.80, 0.82, 0.84];
    let stat = [0.70, 0.71, 0.72];
    for (i, seed) in [1u64, 2, 3].into_iter().enumerate() {
        fake_run(&study, 0, seed, i as u32, RunStatus::Finished, Some(apg[i]));
        fake_run(&study, 1, seed, 10 + i as u32, RunStatus::Finished, Some(stat[i]));
    }
    // A run of another seed that failed is not counted.
    fake_run(&study, 1, 9, 20, RunStatus::Failed, None);
    let history = History::load(&study.workspace).unwrap();
    let report = report(&study, &history).unwrap();
    assert_eq!(report.baseline, "static");
    let keys: Vec<&str> = report.columns.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["test.auc", "test.gauc", "test.logloss", "test.domain.d0.auc"]);
    assert_eq!(report.columns[3].label, "AUC domain=d0");
    let (apg_row, static_row) = (&report.rows[0], &report.rows[1]);
    assert_eq!((apg_row.variant.as_str(), static_row.baseline), ("apg", true));

    // By hand: apg mean 0.82, sd sqrt((0.02² + 0 + 0.02²) / 2) = 0.02; static 0.71, sd 0.01.
    let auc = &apg_row.cells[0];
    let s = auc.stat.unwrap();
    assert_eq!(s.n, 3);
    assert!((s.mean - 0.82).abs() < 1e-12 && (s.sd.unwrap() - 0.02).abs() < 1e-12, "{s:?}");
    let b = static_row.cells[0].stat.unwrap();
    assert!((b.mean - 0.71).abs() < 1e-12 && (b.sd.unwrap() - 0.01).abs() < 1e-12, "{b:?}");
    assert!((auc.delta.unwrap() - 0.11).abs() < 1e-12);
    // RelaImpr = ((0.82 - 0.5) / (0.71 - 0.5) - 1) x 100 = 52.380952... %.
    assert!((auc.rela_impr.unwrap() - (0.32 / 0.21 - 1.0) * 100.0).abs() < 1e-9);
    // Pooled sd sqrt((2 x 0.0004 + 2 x 0.0001) / 4) = sqrt(0.00025); band 2 x that x sqrt(2/3).
    let band = 2.0 * 0.00025f64.sqrt() * (2.0f64 / 3.0).sqrt();
    match auc.noise.unwrap() {
        apg_bench::runs::groups::Noise::BeyondNoise { band: got } => assert!((got - band).abs() < 1e-12),
        other => panic!("{other:?}"),
    }
    // Logloss is 1 - AUC: delta -0.11, no RelaImpr (not an AUC).
    let logloss = &apg_row.cells[2];
    assert!((logloss.delta.unwrap() + 0.11).abs() < 1e-12 && logloss.rela_impr.is_none());
    // The group's AUC is 0.02 below: mean 0.80 against 0.69.
    let group = &apg_row.cells[3];
    assert!((group.stat.unwrap().mean - 0.80).abs() < 1e-12 && (group.delta.unwrap() - 0.11).abs() < 1e-12);
    assert!(static_row.cells[0].delta.is_none(), "the baseline has no delta against itself");
    assert_eq!(report.counts.done, 6);

    // The text forms carry the same numbers.
    let markdown = report.markdown();
    assert!(
        markdown.contains("| apg | 0.8200 ± 0.0200 (3) | +0.1100 (RelaImpr +52.38 %), beyond noise |"),
        "{markdown}"
    );
    assert!(markdown.contains("| static | 0.7100 ± 0.0100 (3) | baseline |"), "{markdown}");
    let csv = report.csv().unwrap();
    let line = csv.lines().find(|l| l.starts_with("apg,") && l.contains(",test.auc,")).unwrap();
    let fields: Vec<&str> = line.split(',').collect();
    assert_eq!(fields[4], "3");
    assert!((fields[5].parse::<f64>().unwrap() - 0.82).abs() < 1e-12);
    assert!((fields[8].parse::<f64>().unwrap() - 52.380952380952).abs() < 1e-6);
    assert_eq!(fields[9], "beyond noise");
}

#[test]
fn a_report_before_the_baseline_ran_has_numbers_but_no_deltas() {
    let (_root, study) = open(&[("two", TWO_VARIANTS)]);
    fake_run(&study, 0, 1, 1, RunStatus::Finished, Some(0.8));
    let history = History::load(&study.workspace).unwrap();
    let report = report(&study, &history).unwrap();
    let cell = &report.rows[0].cells[0];
    assert_eq!(cell.stat.map(|s| (s.n, s.mean)), Some((1, 0.8)));
    assert!(cell.delta.is_none() && cell.noise.is_none());
    assert!(report.rows[1].cells[0].stat.is_none());
    assert!(report.notes[0].contains("the baseline `static` has no runs yet"), "{:?}", report.notes);
}

#[test]
fn study_run_records_each_run_then_skips_them() {
    let root = workspace(&[("tiny", "base = \"tiny\"\nseeds = 2\n[grid]\n\"apg.variant\" = [\"static\", \"v4\"]\n")]);
    let run = || {
        Command::cargo_bin("apg-bench")
            .unwrap()
            .env_remove("APG_BENCH_CACHE")
            .args(["--workspace", root.path().to_str().unwrap(), "study", "run", "tiny", "--jobs", "2"])
            .output()
            .unwrap()
    };
    let first = run();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("4 to run, 2 at a time"), "{stderr}");
    assert!(stderr.contains("[4/4]"), "{stderr}");
    let history = History::load(root.path()).unwrap();
    assert_eq!(history.runs.len(), 4);
    let study = Study::open(root.path(), "tiny").unwrap();
    for run in &history.runs {
        assert_eq!(run.manifest.status, RunStatus::Finished, "{}", run.id());
        // Recorded as the study's variant, from the expanded file, with the threads divided.
        assert!(run.manifest.experiment.starts_with("tiny/variant="), "{}", run.manifest.experiment);
        assert!(
            run.manifest.experiment_path.starts_with("studies/tiny/expanded"),
            "{:?}",
            run.manifest.experiment_path
        );
        assert!(study.variants.iter().any(|v| v.config_hash == run.manifest.config_hash));
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        assert_eq!(run.config.as_ref().unwrap().train.threads, (cores / 2).max(1));
    }
    assert!(root.path().join("studies/tiny/expanded/variant=v4.toml").is_file());
    let second = run();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success() && stderr.contains("0 to run") && stderr.contains("nothing to run"), "{stderr}");
    assert_eq!(History::load(root.path()).unwrap().runs.len(), 4);
}

#[test]
fn the_shipped_studies_parse() {
    let ml = Path::new(env!("CARGO_MANIFEST_DIR")).join("workspaces/ml-100k");
    let ablation = Study::open(&ml, "paper-ablation").unwrap();
    let names: Vec<&str> = ablation.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["static", "v1", "v2", "v3", "v4", "v5"]);
    assert_eq!(ablation.slots().count(), 18);
    let conditions = Study::open(&ml, "conditions").unwrap();
    assert_eq!(conditions.variants.len(), 8);
    assert_eq!(conditions.variants[conditions.baseline].name, "static");
}

#[test]
fn the_slurm_script_runs_one_task_per_run_with_the_resources_asked() {
    use apg_bench::study::slurm::{Resources, script};
    let (root, study) = open(&[("two", TWO_VARIANTS)]);
    let resources = Resources { partition: Some("gpu".into()), time: Some("1:00:00".into()), cpus: 4, gpus: 1 };
    let text = script(&study, &[(0, 2), (1, 3)], &resources, Path::new("/opt/it's/apg-bench"), Path::new("/logs"));
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=1:00:00",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --output=/logs/task-%A_%a.out",
        "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-4}\"",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }
    // Task 0 is variant apg under seed 2, task 1 static under seed 3, by absolute paths.
    let tasks: Vec<&str> = text.lines().filter(|l| l.starts_with("  '")).collect();
    let workspace = root.path().canonicalize().unwrap();
    assert_eq!(
        tasks,
        [
            format!("  '{}/studies/two/expanded/apg.toml 2'", workspace.display()),
            format!("  '{}/studies/two/expanded/static.toml 3'", workspace.display()),
        ]
    );
    assert!(
        text.ends_with(&format!(
            "exec '/opt/it'\\''s/apg-bench' --workspace '{}' run \"$experiment\" --seed \"$seed\"\n",
            workspace.display()
        )),
        "{text}"
    );
}

#[test]
fn an_interrupted_study_resumes_where_it_stopped() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let root = workspace(&[("three", "base = \"tiny\"\nseeds = 3\n")]);
    let resume = root.path().join("resume");
    // The second run pauses as it loads its data; the signal comes while it waits.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("apg-bench"))
        .args(["--workspace", root.path().to_str().unwrap(), "study", "run", "three"])
        .env_remove("APG_BENCH_CACHE")
        .env("APG_BENCH_PAUSE_AT", "loading_data#2")
        .env("APG_BENCH_RESUME", &resume)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("apg-bench: paused at loading_data") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "ended before pausing:\n{seen}");
        seen += &line;
    }
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    // Let the handler see the signal before the trainer goes on.
    while !seen.contains("interrupted: stopping") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no word of the signal:\n{seen}");
        seen += &line;
    }
    std::fs::write(&resume, "").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("1 of 3 runs") || rest.contains("2 of 3 runs"), "{seen}{rest}");

    let study = Study::open(root.path(), "three").unwrap();
    let states = |history: &History| slots(&study, history).iter().map(|s| s.state).collect::<Vec<_>>();
    let history = History::load(root.path()).unwrap();
    assert_eq!(states(&history), [State::Done, State::Pending, State::Pending], "{seen}{rest}");
    let interrupted = history.runs.iter().filter(|r| r.manifest.status == RunStatus::Interrupted).count();
    let statuses: Vec<_> = history.runs.iter().map(|r| (r.id().to_string(), r.manifest.status)).collect();
    assert_eq!(interrupted, 1, "{statuses:?}");

    // Run again: the finished seed is skipped, the interrupted one and the third run.
    let again = Command::cargo_bin("apg-bench")
        .unwrap()
        .env_remove("APG_BENCH_CACHE")
        .args(["--workspace", root.path().to_str().unwrap(), "study", "run", "three"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success() && stderr.contains("1 done or skipped") && stderr.contains("2 to run"), "{stderr}");
    let history = History::load(root.path()).unwrap();
    assert_eq!(states(&history), [State::Done, State::Done, State::Done]);
    assert_eq!(history.runs.len(), 4);
}
