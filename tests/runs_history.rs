//! The run history (`apg-bench runs ...` and the engine in `apg_bench::runs`): listing,
//! sorting, filtering, groups of seeds, deltas, RelaImpr and the noise rule, config diff,
//! Markdown/CSV/JSON export, tags, notes and the trash; on hand-made run folders (with an
//! interrupted run, a corrupt metrics line, a missing summary and a corrupt run.toml) and
//! on folders made by real tiny runs.

use std::path::{Path, PathBuf};

use apg_bench::config::experiment::Experiment;
use apg_bench::runs::compare::{CompareOptions, compare};
use apg_bench::runs::filter::{Filter, SortKey};
use apg_bench::runs::groups::{Noise, groups};
use apg_bench::runs::{History, Manifest, RunStatus, hostname};
use apg_bench::train::{EvalMetrics, GroupMetrics, MetricsRecord, ParamCounts, RunEnd, RunSummary};
use assert_cmd::Command;
use serde_json::Value;

/// One hand-made run folder.
struct Spec {
    /// Minutes after 10:00 on 2026-01-05 that it started (orders the runs).
    minute: u32,
    experiment: &'static str,
    seed: u64,
    hash: &'static str,
    status: RunStatus,
    variant: &'static str,
    /// Validation AUC at the end of each epoch.
    valid: Vec<f64>,
    /// Test AUC, written with the summary; None: no test evaluation.
    test: Option<f64>,
    /// Whether summary.json exists.
    summary: bool,
    /// A line of metrics.jsonl (1-based) replaced by garbage.
    corrupt_line: Option<usize>,
    tags: Vec<&'static str>,
    pid: u32,
    ended: bool,
    /// The dataset fingerprint its manifest records.
    data: &'static str,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            minute: 0,
            experiment: "static",
            seed: 1,
            hash: "aaaa1111aaaa1111",
            status: RunStatus::Finished,
            variant: "static",
            valid: vec![0.75, 0.77, 0.775],
            test: Some(0.78),
            summary: true,
            corrupt_line: None,
            tags: Vec::new(),
            pid: 1,
            ended: true,
            data: "f00d",
        }
    }
}

fn id_of(spec: &Spec) -> String {
    format!("20260105-10{:02}00-{}-s{}", spec.minute, spec.experiment, spec.seed)
}

fn eval(split: &str, auc: f64) -> EvalMetrics {
    let group = |value: &str, auc: f64, rows| GroupMetrics {
        field: "user_activity".into(),
        value: value.into(),
        rows,
        positives: Some(rows / 4),
        auc: Some(auc),
        logloss: 0.6 - auc / 2.0,
    };
    EvalMetrics {
        split: split.into(),
        rows: 1000,
        positives: Some(250),
        auc: Some(auc),
        logloss: 0.9 - auc / 2.0,
        gauc: Some(auc - 0.01),
        gauc_groups: Some(120),
        gauc_rows: Some(700),
        groups: vec![group("cold", auc - 0.02, 200), group("active", auc + 0.005, 800)],
    }
}

/// Writes the run folder of `spec` under `workspace/runs/`.
fn fake_run(workspace: &Path, spec: &Spec) -> PathBuf {
    let id = id_of(spec);
    let dir = workspace.join("runs").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let started = format!("2026-01-05T10:{:02}:00Z", spec.minute);
    let manifest = Manifest {
        id: id.clone(),
        experiment: spec.experiment.into(),
        experiment_path: format!("experiments/{}.toml", spec.experiment).into(),
        status: spec.status,
        started,
        ended: spec.ended.then(|| format!("2026-01-05T10:{:02}:30Z", spec.minute)),
        // Only a run said to be running needs this host: the reader checks its pid here.
        host: if spec.status == RunStatus::Running { hostname() } else { "lab".into() },
        pid: spec.pid,
        pid_start: None,
        boot_id: None,
        device: apg_bench::config::Device::Cpu,
        seed: spec.seed,
        version: "0.1.0".into(),
        config_hash: spec.hash.into(),
        dataset_fingerprint: spec.data.into(),
        parent: String::new(),
        error: (spec.status == RunStatus::Failed).then(|| "the loss became NaN".to_string()),
        tags: spec.tags.iter().map(|t| t.to_string()).collect(),
        note: String::new(),
    };
    manifest.write(&dir).unwrap();

    let condition = if spec.variant == "static" { "" } else { "[apg.condition]\nfields = [\"domain\"]\n" };
    let text = format!(
        "name = \"{}\"\nseed = {}\n[model]\nhidden = [32, 16]\n[apg]\nvariant = \"{}\"\nrank = [8, 4]\n{condition}\
         [train]\nepochs = 3\nbatch_size = 256\n[metrics]\ngroup_fields = [\"user_activity\"]\n",
        spec.experiment, spec.seed, spec.variant
    );
    let experiment: Experiment = toml::from_str(&text).unwrap();
    std::fs::write(dir.join("config.toml"), toml::to_string(&experiment).unwrap()).unwrap();

    let mut records = Vec::new();
    for (epoch, &auc) in spec.valid.iter().enumerate() {
        let step = (epoch + 1) * 10;
        for (offset, loss) in [(5, 0.7 - 0.05 * epoch as f64), (0, 0.68 - 0.05 * epoch as f64)] {
            let elapsed_s = (step - offset) as f64;
            records.push(MetricsRecord::Train { step: step - offset, epoch, loss, samples_per_s: 50_000.0, elapsed_s });
        }
        records.push(MetricsRecord::Eval { step, epoch, elapsed_s: step as f64 + 0.5, metrics: eval("valid", auc) });
    }
    let best = spec.valid.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
    if let Some(test) = spec.test {
        let step = spec.valid.len() * 10;
        let metrics = eval("test", test);
        records.push(MetricsRecord::Eval { step, epoch: spec.valid.len() - 1, elapsed_s: step as f64 + 1.0, metrics });
    }
    let mut lines: Vec<String> = records.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    if let Some(line) = spec.corrupt_line {
        lines[line - 1] = "{\"kind\":\"train\",\"step\":".into();
    }
    std::fs::write(dir.join("metrics.jsonl"), lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();

    if spec.summary {
        let dense = if spec.variant == "static" { 1000 } else { 1500 };
        let summary = RunSummary {
            status: RunEnd::Finished,
            reason: None,
            steps: spec.valid.len() * 10,
            epochs_done: spec.valid.len() as f64,
            best_step: best.map(|(epoch, _)| (epoch + 1) * 10),
            best_valid: best.map(|(_, &auc)| eval("valid", auc)),
            test: spec.test.map(|auc| eval("test", auc)),
            params: ParamCounts { dense, embedding: 20_000 },
            train_seconds: 25.0,
            samples_per_s: 48_000.0,
            stopped_early: false,
            baseline: None,
        };
        std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    }
    dir
}

/// A pid that no process has: that of a child that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// The hand-made workspace: three groups of three seeds (static; APG v5, clearly better;
/// APG v4, within noise of static), an interrupted run (listed `running` by a process that
/// died; a corrupt metrics line), a finished run without summary.json, a failed run, a
/// corrupt run.toml, and a corrupt metrics line in a finished run.
fn hand_made() -> tempfile::TempDir {
    let workspace = tempfile::tempdir().unwrap();
    let mut minute = 0;
    let mut next = || {
        minute += 1;
        minute
    };
    for (seed, test) in [(1, 0.780), (2, 0.782), (3, 0.784)] {
        let corrupt_line = (seed == 2).then_some(3);
        fake_run(workspace.path(), &Spec { minute: next(), seed, test: Some(test), corrupt_line, ..Spec::default() });
    }
    for (seed, test) in [(1, 0.790), (2, 0.791), (3, 0.792)] {
        let tags = if seed == 1 { vec!["keep", "paper"] } else { Vec::new() };
        let valid = vec![0.76, 0.785, 0.788 + seed as f64 / 1000.0];
        let spec = Spec {
            minute: next(),
            experiment: "apg-v5",
            seed,
            hash: "bbbb2222bbbb2222",
            variant: "v5",
            valid,
            test: Some(test),
            tags,
            ..Spec::default()
        };
        fake_run(workspace.path(), &spec);
    }
    for (seed, test) in [(1, 0.781), (2, 0.783), (3, 0.785)] {
        let spec = Spec {
            minute: next(),
            experiment: "apg-v4",
            seed,
            hash: "cccc3333cccc3333",
            variant: "v4",
            test: Some(test),
            ..Spec::default()
        };
        fake_run(workspace.path(), &spec);
    }
    let interrupted = Spec {
        minute: next(),
        experiment: "apg-v5",
        seed: 4,
        hash: "bbbb2222bbbb2222",
        variant: "v5",
        status: RunStatus::Running,
        valid: vec![0.77, 0.79],
        test: None,
        summary: false,
        corrupt_line: Some(4),
        pid: dead_pid(),
        ended: false,
        ..Spec::default()
    };
    fake_run(workspace.path(), &interrupted);
    let no_summary = Spec {
        minute: next(),
        experiment: "lost",
        hash: "dddd4444dddd4444",
        summary: false,
        test: None,
        ..Spec::default()
    };
    fake_run(workspace.path(), &no_summary);
    let failed = Spec {
        minute: next(),
        experiment: "broken",
        hash: "eeee5555eeee5555",
        status: RunStatus::Failed,
        valid: Vec::new(),
        test: None,
        summary: false,
        ..Spec::default()
    };
    fake_run(workspace.path(), &failed);
    let garbled = workspace.path().join("runs/20260105-102000-garbled-s1");
    std::fs::create_dir_all(&garbled).unwrap();
    std::fs::write(garbled.join("run.toml"), "id = \"20260105-102000-garbled-s1\"\nstatus = finished\n").unwrap();
    workspace
}

fn apg_bench(workspace: &Path) -> Command {
    let mut command = Command::cargo_bin("apg-bench").unwrap();
    command.env_remove("APG_BENCH_CACHE").arg("--workspace").arg(workspace);
    command
}

/// Runs the binary and returns (exit code, stdout, stderr) with the workspace path as `[ws]`.
fn output(workspace: &Path, args: &[&str]) -> (i32, String, String) {
    let out = apg_bench(workspace).args(args).output().unwrap();
    let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&workspace.display().to_string(), "[ws]");
    (out.status.code().unwrap_or(-1), clean(&out.stdout), clean(&out.stderr))
}

fn stdout_of(workspace: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = output(workspace, args);
    assert_eq!(code, 0, "{args:?} failed:\n{stderr}");
    stdout
}

fn ids(history: &History) -> Vec<String> {
    history.runs.iter().map(|r| r.id().to_string()).collect()
}

#[test]
fn listing_tolerates_partial_interrupted_and_corrupt_runs() {
    let workspace = hand_made();
    let history = History::load(workspace.path()).unwrap();
    assert_eq!(history.runs.len(), 12, "{:?}", ids(&history));
    let run = |suffix: &str| history.resolve(suffix).unwrap();

    // A `running` run whose process died reads as interrupted; its best validation comes
    // from metrics.jsonl (the corrupt line skipped); no summary, no test metrics.
    let interrupted = run("apg-v5-s4");
    assert_eq!(interrupted.row.status, RunStatus::Interrupted);
    assert_eq!((interrupted.row.best_valid_auc, interrupted.row.best_step), (Some(0.79), Some(20)));
    assert_eq!((interrupted.row.test_auc, interrupted.row.params), (None, None));
    assert_eq!(interrupted.row.wall_s, Some(20.5), "to its last record");
    assert_eq!(interrupted.curves.train_loss.len(), 3, "one of four train lines is corrupt");

    // A finished run without summary.json: status shown, metrics from metrics.jsonl.
    let lost = run("lost-s1");
    assert_eq!(lost.row.status, RunStatus::Finished);
    assert!(lost.summary.is_none());
    assert_eq!(lost.row.best_valid_auc, Some(0.775));
    assert_eq!(lost.row.test_auc, None);

    let failed = run("broken-s1");
    assert_eq!(failed.row.status, RunStatus::Failed);
    assert_eq!(failed.row.error.as_deref(), Some("the loss became NaN"));
    assert_eq!((failed.row.best_valid_auc, failed.row.steps), (None, None));

    // Every problem, by path (and line).
    let ws = workspace.path().display().to_string();
    let problems: Vec<String> = history.all_problems().map(|p| p.to_string().replace(&ws, "[ws]")).collect();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert_eq!(
        problems,
        [
            "[ws]/runs/20260105-102000-garbled-s1/run.toml:2: invalid boolean, expected `false`",
            "[ws]/runs/20260105-100200-static-s2/metrics.jsonl:3: skipped a line that is not a metrics record: EOF while parsing a value at line 1 column 23",
            "[ws]/runs/20260105-101000-apg-v5-s4/metrics.jsonl:4: skipped a line that is not a metrics record: EOF while parsing a value at line 1 column 23",
            "[ws]/runs/20260105-101100-lost-s1/summary.json: missing, though the run is finished",
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_a_run_file_is_a_problem_not_a_hang() {
    let workspace = hand_made();
    let history = History::load(workspace.path()).unwrap();
    let dir = history.resolve("static-s1").unwrap().dir.clone();
    let metrics = dir.join("metrics.jsonl");
    std::fs::remove_file(&metrics).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&metrics).status().unwrap().success());
    // Reading the FIFO would wait for a writer for ever: the listing must not open it.
    let (code, stdout, _) = output(workspace.path(), &["runs", "list", "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let name = dir.file_name().unwrap().to_string_lossy();
    let problem = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"].as_str().is_some_and(|path| path.ends_with(&format!("{name}/metrics.jsonl"))))
        .unwrap_or_else(|| panic!("no problem for the FIFO: {}", json["problems"]));
    assert_eq!(problem["message"], "cannot read: not a regular file");
}

#[test]
fn a_live_run_lists_as_running_and_cannot_be_changed() {
    let workspace = tempfile::tempdir().unwrap();
    let spec = Spec {
        status: RunStatus::Running,
        pid: std::process::id(),
        ended: false,
        summary: false,
        test: None,
        ..Spec::default()
    };
    fake_run(workspace.path(), &spec);
    let history = History::load(workspace.path()).unwrap();
    assert_eq!(history.runs[0].row.status, RunStatus::Running);
    let (code, _, stderr) = output(workspace.path(), &["runs", "tag", "static-s1", "x"]);
    assert_eq!(code, 1);
    let host = hostname();
    let expected = format!(
        "error: run 20260105-100000-static-s1 is still running (pid {} on {host}): change it once it has ended\n",
        std::process::id()
    );
    assert_eq!(stderr, expected);
}

#[test]
fn the_list_as_a_table_and_as_json() {
    let workspace = hand_made();
    let (code, stdout, stderr) = output(workspace.path(), &["runs", "list"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("list_table", stdout);
    insta::assert_snapshot!("list_warnings", stderr);

    let json: Value = serde_json::from_str(&stdout_of(workspace.path(), &["runs", "list", "--json"])).unwrap();
    assert_eq!(json["total"], 12);
    assert_eq!(json["runs"].as_array().unwrap().len(), 12);
    assert_eq!(json["problems"].as_array().unwrap().len(), 4);
    let first = &json["runs"][0];
    assert_eq!(first["id"], "20260105-100100-static-s1");
    assert_eq!(first["test_auc"], 0.78);
    assert_eq!(first["best_valid_auc"], 0.775);
    assert_eq!(first["best_step"], 30);
    assert_eq!(first["wall_s"], 30.0);
    assert_eq!(first["params"], 21_000);
    assert_eq!(first["variant"], "static");
    assert_eq!(first["condition_mode"], Value::Null);
    let apg = &json["runs"][3];
    assert_eq!(apg["condition_mode"], "group");
    assert_eq!(apg["condition_fields"], serde_json::json!(["domain"]));
    assert_eq!((apg["rank"].as_str(), apg["overparam"].as_str()), (Some("8,4"), Some("16,8")));
    assert_eq!(apg["tags"], serde_json::json!(["keep", "paper"]));
}

#[test]
fn sorting() {
    let workspace = hand_made();
    let history = History::load(workspace.path()).unwrap();
    let sorted = |key: &str| {
        let key = SortKey::parse(key).unwrap();
        let mut rows: Vec<_> = history.runs.iter().map(|r| &r.row).collect();
        rows.sort_by(|a, b| key.compare(a, b));
        rows.iter().map(|r| r.id.split('-').skip(2).collect::<Vec<_>>().join("-")).collect::<Vec<_>>()
    };
    // Descending test AUC; runs without one last, in id order.
    assert_eq!(
        sorted("-auc"),
        [
            "apg-v5-s3",
            "apg-v5-s2",
            "apg-v5-s1",
            "apg-v4-s3",
            "static-s3",
            "apg-v4-s2",
            "static-s2",
            "apg-v4-s1",
            "static-s1",
            "apg-v5-s4",
            "lost-s1",
            "broken-s1"
        ]
    );
    assert_eq!(sorted("test.auc")[..3], ["static-s1", "apg-v4-s1", "static-s2"]);
    assert_eq!(sorted("test.auc")[9..], ["apg-v5-s4", "lost-s1", "broken-s1"]);
    assert_eq!(sorted("-status")[..2], ["apg-v5-s4", "static-s1"]);
    assert_eq!(sorted("-test.user_activity.cold.auc")[0], "apg-v5-s3");

    // The command: --sort -KEY and --sort=-KEY both work.
    let table = stdout_of(workspace.path(), &["runs", "list", "--sort", "-valid.auc"]);
    let first_row = table.lines().nth(2).unwrap();
    assert!(first_row.starts_with("20260105-100600-apg-v5-s3"), "{table}");
    assert_eq!(table, stdout_of(workspace.path(), &["runs", "list", "--sort=-valid.auc"]));
    let (code, _, stderr) = output(workspace.path(), &["runs", "list", "--sort", "tags"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: bad sort key at position 1: `tag` holds several values and cannot be sorted by\n  tags\n  ^\n")
    );
}

#[test]
fn filtering() {
    let workspace = hand_made();
    let history = History::load(workspace.path()).unwrap();
    let matching = |expression: &str| {
        let filter = Filter::parse(expression).unwrap_or_else(|e| panic!("{e}"));
        let mut names: Vec<String> = history
            .runs
            .iter()
            .filter(|r| filter.matches(&r.row))
            .map(|r| r.id().split('-').skip(2).collect::<Vec<_>>().join("-"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(matching("auc > 0.7895"), ["apg-v5-s1", "apg-v5-s2", "apg-v5-s3"]);
    assert_eq!(matching("auc >= 0.783 and condition.mode = group and variant != v5"), ["apg-v4-s2", "apg-v4-s3"]);
    assert_eq!(matching("tag = keep or (experiment = 'static' and seed <= 1)"), ["apg-v5-s1", "static-s1"]);
    assert_eq!(matching("status = interrupted or status = \"failed\""), ["apg-v5-s4", "broken-s1"]);
    assert_eq!(matching("TAG != keep AND variant = v5"), ["apg-v5-s2", "apg-v5-s3", "apg-v5-s4"]);
    assert_eq!(matching("condition.fields = domain and apg.rank = \"8,4\" and p = '16,8' and seed = 4"), ["apg-v5-s4"]);
    assert_eq!(matching("valid.auc > 0.7895 and valid.step = 30"), ["apg-v5-s2", "apg-v5-s3"]);
    assert_eq!(matching("test.user_activity.cold.auc < 0.7605"), ["static-s1"]);
    // A run without the value never matches, whatever the operator.
    assert_eq!(matching("auc != 0.78").len(), 8);
    assert_eq!(matching("started >= 2026-01-05T10:11:00Z"), ["broken-s1", "lost-s1"]);
    assert_eq!(matching("wall = 30 and params.dense = 1500 and samples_per_s > 1000").len(), 6);

    let (code, stdout, stderr) =
        output(workspace.path(), &["runs", "list", "--filter", "auc > 0.78 and (condition.mode = group or tag =)"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "error: bad filter at position 48: expected a value after `=`, found `)`\n\
         \x20 auc > 0.78 and (condition.mode = group or tag =)\n\
         \x20                                                ^\n"
    );
    let (code, _, stderr) = output(workspace.path(), &["runs", "list", "--filter", "acu > 0.78"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.lines().next().unwrap(),
        "error: bad filter at position 1: unknown key `acu` (did you mean `auc`?); `apg-bench runs list --help` lists the keys"
    );
    let listed = stdout_of(workspace.path(), &["runs", "list", "--filter", "tag = paper"]);
    assert!(listed.ends_with("1 of 12 runs\n"), "{listed}");
}

#[test]
fn groups_of_seeds_have_a_mean_and_a_sample_sd() {
    let workspace = hand_made();
    let history = History::load(workspace.path()).unwrap();
    let groups = groups(&history);
    let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(labels, ["static@aaaa1111", "apg-v5@bbbb2222", "apg-v4@cccc3333", "lost@dddd4444", "broken@eeee5555"]);
    let apg = &groups[1];
    assert_eq!(apg.runs.len(), 4);
    assert_eq!(apg.members.len(), 3, "the interrupted run is left out");
    assert_eq!(apg.seeds, [1, 2, 3]);
    let auc = apg.test_auc.unwrap();
    assert_eq!(auc.n, 3);
    assert!((auc.mean - 0.791).abs() < 1e-12);
    assert!((auc.sd.unwrap() - 0.001).abs() < 1e-12);
    let stat = groups[0].test_auc.unwrap();
    assert!((stat.mean - 0.782).abs() < 1e-12 && (stat.sd.unwrap() - 0.002).abs() < 1e-12);
    assert_eq!(groups[3].test_auc, None);

    let table = stdout_of(workspace.path(), &["runs", "list", "--groups"]);
    insta::assert_snapshot!("groups_table", table);
}

#[test]
fn a_seed_run_again_counts_once() {
    let workspace = tempfile::tempdir().unwrap();
    for (minute, seed, test) in [(1, 1, 0.78), (2, 2, 0.79), (3, 1, 0.80)] {
        fake_run(workspace.path(), &Spec { minute, seed, test: Some(test), ..Spec::default() });
    }
    let history = History::load(workspace.path()).unwrap();
    let group = &groups(&history)[0];
    assert_eq!(group.members, ["20260105-100200-static-s2", "20260105-100300-static-s1"]);
    assert_eq!(group.seeds, [2, 1]);
    assert_eq!(group.excluded, ["20260105-100100-static-s1 (seed 1 run again as 20260105-100300-static-s1)"]);
    assert!((group.test_auc.unwrap().mean - 0.795).abs() < 1e-12);
}

#[test]
fn deltas_rela_impr_and_the_noise_rule() {
    let workspace = hand_made();
    let history = History::load(workspace.path()).unwrap();
    let queries = ["static", "bbbb", "apg-v4-s2"].map(String::from);
    let c = compare(&history, &queries, &CompareOptions { groups: true, ..Default::default() }).unwrap();
    let labels: Vec<&str> = c.entries.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["static@aaaa1111", "apg-v5@bbbb2222", "apg-v4@cccc3333"]);
    let auc = c.metrics.iter().find(|m| m.key == "test.auc").unwrap();
    // v5: +0.009; RelaImpr ((0.791 - 0.5) / (0.782 - 0.5) - 1) x 100 = +3.19 %.
    let v5 = &auc.cells[1];
    assert!((v5.delta.unwrap() - 0.009).abs() < 1e-12);
    assert!((v5.rela_impr.unwrap() - (0.291 / 0.282 - 1.0) * 100.0).abs() < 1e-9);
    // Pooled s^2 = (2 x 0.002^2 + 2 x 0.001^2) / 4; band = 2 sqrt(s^2 (1/3 + 1/3)) = 0.00258.
    let band = 2.0 * ((2.0 * 0.002f64.powi(2) + 2.0 * 0.001f64.powi(2)) / 4.0 * (2.0 / 3.0)).sqrt();
    match v5.noise {
        Some(Noise::BeyondNoise { band: b }) => assert!((b - band).abs() < 1e-12, "{b} {band}"),
        other => panic!("{other:?}"),
    }
    // v4: +0.001 with a band of 2 x 0.002 x sqrt(2/3) = 0.00327: within noise.
    match auc.cells[2].noise {
        Some(Noise::WithinNoise { band }) => assert!((band - 2.0 * 0.002 * (2.0f64 / 3.0).sqrt()).abs() < 1e-12),
        other => panic!("{other:?}"),
    }
    assert_eq!((auc.cells[0].delta, auc.cells[0].noise), (None, None), "the baseline has no delta");
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("apg-v5@bbbb2222: left out of its numbers: 20260105-101000-apg-v5-s4 (interrupted)"))
    );

    // Per-group AUC side by side.
    let cold = c.groups.iter().find(|g| g.key == "test.user_activity.cold.auc").unwrap();
    assert!((cold.cells[1].stat.unwrap().mean - 0.771).abs() < 1e-12);

    // --baseline picks another entry, or adds one.
    let options = CompareOptions { groups: true, baseline: Some("apg-v5".into()), ..Default::default() };
    let c = compare(&history, &queries[..1], &options).unwrap();
    assert_eq!(c.entries.len(), 2);
    assert_eq!((c.baseline, c.entries[0].label.as_str()), (0, "apg-v5@bbbb2222"));

    // Single runs carry no noise band, and the comparison says why.
    let queries = ["static-s1", "apg-v5-s1"].map(String::from);
    let c = compare(&history, &queries, &CompareOptions::default()).unwrap();
    let auc = c.metrics.iter().find(|m| m.key == "test.auc").unwrap();
    assert_eq!(auc.cells[1].noise, Some(Noise::Unknown));
    assert!(c.noise_rule.contains("paired bootstrap over the same test rows is not possible"));
    assert!(
        c.notes.iter().any(|n| n.contains("repeats under other seeds: compare groups with --group")),
        "{:?}",
        c.notes
    );
}

#[test]
fn runs_are_named_by_a_unique_prefix_or_suffix() {
    let workspace = hand_made();
    let history = History::load(workspace.path()).unwrap();
    assert_eq!(history.resolve("static-s2").unwrap().id(), "20260105-100200-static-s2");
    assert_eq!(history.resolve("20260105-1003").unwrap().id(), "20260105-100300-static-s3");
    let (code, _, stderr) = output(workspace.path(), &["runs", "show", "s1"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: `s1` matches 5 runs; give more of the id:\n  20260105-100100-static-s1\n  20260105-100400-apg-v5-s1\n  \
         20260105-100700-apg-v4-s1\n  20260105-101100-lost-s1\n  20260105-101200-broken-s1\n"
    );
    let (code, _, stderr) = output(workspace.path(), &["runs", "show", "garbled-s1"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "error: the run cannot be read: [ws]/runs/20260105-102000-garbled-s1/run.toml:2: invalid boolean, expected `false`\n"
        )
    );
    let (code, _, stderr) = output(workspace.path(), &["runs", "show", "nothing"]);
    assert_eq!((code, stderr.as_str()), (1, "error: no run matches `nothing` in [ws]/runs\n"));
    let (code, _, stderr) = output(workspace.path(), &["runs", "compare", "--group", "ab"]);
    assert_eq!((code, stderr.as_str()), (1, "error: no run matches `ab` in [ws]/runs\n"));
}

#[test]
fn config_diff_in_words() {
    let workspace = hand_made();
    let diff = stdout_of(workspace.path(), &["runs", "diff", "static-s1", "apg-v5-s2"]);
    insta::assert_snapshot!("diff_text", diff);
    let json: Value =
        serde_json::from_str(&stdout_of(workspace.path(), &["runs", "diff", "apg-v4-s1", "apg-v5-s1", "--json"]))
            .unwrap();
    let changes: Vec<String> = json["config"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}: {} -> {}",
                c["label"].as_str().unwrap(),
                c["before"].as_str().unwrap(),
                c["after"].as_str().unwrap()
            )
        })
        .collect();
    // P is unused by v4 and left at its default (2K) by v5: no difference.
    assert_eq!(changes, ["experiment name: apg-v4 -> apg-v5", "variant: v4 -> v5"]);
    assert_eq!(json["metrics"][0]["key"], "test.auc");
    let same = stdout_of(workspace.path(), &["runs", "diff", "static-s1", "static-s3"]);
    assert!(same.contains("config (1 key differs):\n  seed: 1 -> 3\n"), "{same}");
}

#[test]
fn comparison_exports() {
    let workspace = hand_made();
    let args = ["runs", "compare", "--group", "static", "apg-v5", "apg-v4"];
    let with = |format: &str| stdout_of(workspace.path(), &[&args[..], &[format]].concat());
    insta::assert_snapshot!("compare_markdown", with("--md"));
    insta::assert_snapshot!("compare_csv", with("--csv"));
    insta::assert_snapshot!("compare_json", with("--json"));
    insta::assert_snapshot!("compare_text", stdout_of(workspace.path(), &args));
    let by_epoch = stdout_of(workspace.path(), &[&args[..], &["--align", "epoch", "--json"]].concat());
    let json: Value = serde_json::from_str(&by_epoch).unwrap();
    assert_eq!(json["valid_auc"]["at"], serde_json::json!([1, 2, 3]));
    assert_eq!(json["train_loss"]["at"], serde_json::json!([1, 2, 3]));
    // Epoch 1's loss is the mean of its two records, 0.70 and 0.68.
    assert!((json["train_loss"]["entries"][0][0].as_f64().unwrap() - 0.69).abs() < 1e-12);
    let (code, _, stderr) = output(workspace.path(), &[&args[..], &["--md", "--csv"]].concat());
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn show_a_run() {
    let workspace = hand_made();
    let shown = stdout_of(workspace.path(), &["runs", "show", "apg-v5-s1"]);
    insta::assert_snapshot!("show_text", shown);
    let (code, interrupted, stderr) = output(workspace.path(), &["runs", "show", "apg-v5-s4"]);
    assert_eq!(code, 0);
    // Its process died: the reason says so.
    assert!(interrupted.contains("Run 20260105-101000-apg-v5-s4 interrupted: its process (pid "), "{interrupted}");
    assert!(interrupted.contains(") died while it ran\n"), "{interrupted}");
    assert!(
        interrupted.contains("no summary.json; from metrics.jsonl: best valid AUC 0.7900 (step 20), test AUC -"),
        "{interrupted}"
    );
    assert_eq!(
        stderr,
        "warning: [ws]/runs/20260105-101000-apg-v5-s4/metrics.jsonl:4: skipped a line that is not a metrics record: EOF while parsing a value at line 1 column 23\n"
    );
    let json: Value =
        serde_json::from_str(&stdout_of(workspace.path(), &["runs", "show", "apg-v5-s4", "--json"])).unwrap();
    assert_eq!(json["run"]["status"], "interrupted");
    assert_eq!(json["summary"], Value::Null);
    assert_eq!(json["problems"][0]["line"], 4);
    assert_eq!(json["repeats"].as_array().unwrap().len(), 4);
}

#[test]
fn tags_notes_and_the_trash() {
    let workspace = hand_made();
    let ws = workspace.path();
    // A manifest written before tags existed (no tags, no note) reads and keeps its keys.
    let dir = ws.join("runs/20260105-100100-static-s1");
    let old = std::fs::read_to_string(dir.join("run.toml")).unwrap();
    assert!(!old.contains("tags") && !old.contains("note"), "{old}");

    assert_eq!(stdout_of(ws, &["runs", "tag", "static-s1", "baseline"]), "20260105-100100-static-s1: tags baseline\n");
    assert_eq!(stdout_of(ws, &["runs", "tag", "static-s1", "baseline"]), "20260105-100100-static-s1: tags baseline\n");
    stdout_of(ws, &["runs", "tag", "static-s1", "draft"]);
    assert_eq!(
        stdout_of(ws, &["runs", "tag", "static-s1", "draft", "--remove"]),
        "20260105-100100-static-s1: tags baseline\n"
    );
    assert_eq!(
        stdout_of(ws, &["runs", "note", "static-s1", "the reference: seed 1 of 3"]),
        "20260105-100100-static-s1: note set\n"
    );
    let manifest = apg_bench::runs::read_manifest(&dir).unwrap();
    assert_eq!((manifest.tags, manifest.note.as_str()), (vec!["baseline".to_string()], "the reference: seed 1 of 3"));
    let text = std::fs::read_to_string(dir.join("run.toml")).unwrap();
    assert!(text.starts_with(&old), "the other keys are kept as they were:\n{text}");
    let listed = stdout_of(ws, &["runs", "list", "--filter", "tag = baseline and note = 'the reference: seed 1 of 3'"]);
    assert!(listed.ends_with("1 of 12 runs\n"), "{listed}");
    let (code, _, stderr) = output(ws, &["runs", "tag", "static-s1", "two words"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: bad tag \"two words\": a tag is one word, without spaces or commas\n")
    );

    // rm moves the run to .trash/, restore brings it back; a corrupt folder can be trashed.
    let moved = stdout_of(ws, &["runs", "rm", "static-s1"]);
    assert_eq!(
        moved,
        "moved 20260105-100100-static-s1 to [ws]/.trash/20260105-100100-static-s1 (bring it back with `apg-bench runs restore 20260105-100100-static-s1`)\n"
    );
    assert!(!dir.exists() && ws.join(".trash/20260105-100100-static-s1/run.toml").is_file());
    assert!(stdout_of(ws, &["runs", "list"]).ends_with("11 of 11 runs\n"));
    let trash = stdout_of(ws, &["runs", "list", "--trash"]);
    assert!(trash.contains("20260105-100100-static-s1") && trash.ends_with("1 of 1 runs\n"), "{trash}");
    stdout_of(ws, &["runs", "rm", "garbled-s1"]);
    assert!(ws.join(".trash/20260105-102000-garbled-s1").is_dir());
    let (_, _, warnings) = output(ws, &["runs", "list"]);
    assert!(!warnings.contains("garbled"), "{warnings}");

    // A run of the same id back in runs/ blocks the restore rather than being overwritten.
    std::fs::create_dir_all(&dir).unwrap();
    let (code, _, stderr) = output(ws, &["runs", "restore", "static-s1"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "error: [ws]/runs/20260105-100100-static-s1 exists already: move or delete it first\n")
    );
    std::fs::remove_dir(&dir).unwrap();
    let json: Value = serde_json::from_str(&stdout_of(ws, &["runs", "restore", "static-s1", "--json"])).unwrap();
    assert_eq!(json["run"], "20260105-100100-static-s1");
    assert_eq!(apg_bench::runs::read_manifest(&dir).unwrap().tags, ["baseline"]);
}

// ---- Folders made by real runs ----

const EXPERIMENT: &str = r#"
dataset = "data.toml"
seed = 5

[model]
embedding_dim = 8
hidden = [32, 16]

[apg]
variant = "VARIANT"
rank = [4]

[apg.condition]
fields = ["domain"]

[train]
batch_size = 256
epochs = 1
lr = 0.005

[metrics]
group_fields = ["user_activity"]
"#;

/// A workspace with two experiments, static and APG v4, on 20,000 synthetic rows.
fn real_workspace() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let experiments = root.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/synthetic-multidomain.toml");
    let descriptor = std::fs::read_to_string(builtin).unwrap();
    assert!(descriptor.contains("rows = 200000"), "the built-in descriptor changed: update this test");
    std::fs::write(experiments.join("data.toml"), descriptor.replace("rows = 200000", "rows = 20000")).unwrap();
    for variant in ["static", "v4"] {
        std::fs::write(experiments.join(format!("{variant}.toml")), EXPERIMENT.replace("VARIANT", variant)).unwrap();
    }
    root
}

#[test]
fn real_runs_with_seeds_form_groups_that_compare() {
    let workspace = real_workspace();
    let ws = workspace.path();
    for variant in ["static", "v4"] {
        let file = ws.join(format!("experiments/{variant}.toml"));
        let out = Command::cargo_bin("apg-bench")
            .unwrap()
            .env_remove("APG_BENCH_CACHE")
            .args(["run", file.to_str().unwrap(), "--seeds", "2"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let summary = stdout.lines().rev().nth(1).unwrap();
        assert!(summary.starts_with(&format!("2 seeds of {variant} (config ")), "{stdout}");
        assert!(
            summary.contains("): test AUC 0.") && summary.ends_with(" (mean ± sample sd of 2 finished runs)"),
            "{summary}"
        );
    }
    let history = History::load(ws).unwrap();
    assert_eq!(history.runs.len(), 4);
    assert_eq!(history.all_problems().count(), 0, "{:?}", history.all_problems().collect::<Vec<_>>());
    let seeds: Vec<u64> = history.runs.iter().map(|r| r.row.seed).collect();
    assert_eq!(seeds, [5, 6, 5, 6]);
    for run in &history.runs {
        let r = &run.row;
        assert_eq!(r.status, RunStatus::Finished);
        assert!(r.test_auc.is_some_and(|a| a > 0.6) && r.best_valid_auc.is_some() && r.best_step.is_some(), "{r:?}");
        assert!(r.params.is_some() && r.samples_per_s.is_some() && r.wall_s.is_some());
        assert!(!run.curves.train_loss.is_empty() && !run.curves.valid.is_empty());
    }
    assert_eq!(history.runs[2].row.model_label(), "dnn v4 group[domain] K=4");

    let groups = groups(&history);
    assert_eq!(groups.len(), 2);
    for g in &groups {
        let auc = g.test_auc.unwrap();
        assert_eq!((auc.n, g.seeds.as_slice()), (2, &[5, 6][..]));
        assert!(auc.sd.is_some());
    }

    let json: Value =
        serde_json::from_str(&stdout_of(ws, &["runs", "compare", "--group", "static", "v4", "--json"])).unwrap();
    let auc = &json["metrics"][0];
    assert_eq!(auc["key"], "test.auc");
    let verdict = auc["cells"][1]["noise"]["verdict"].as_str().unwrap();
    assert!(verdict == "within_noise" || verdict == "beyond_noise", "{verdict}");
    assert!(auc["cells"][1]["rela_impr"].is_f64());
    assert_eq!(json["config"][1]["label"], "variant");
    assert_eq!(json["config"][1]["values"], serde_json::json!(["static", "v4"]));
    let steps = json["valid_auc"]["at"].as_array().unwrap();
    assert!(!steps.is_empty());
    assert_eq!(json["valid_auc"]["runs"].as_array().unwrap().len(), 4);

    let markdown = stdout_of(ws, &["runs", "compare", "--group", "static", "v4", "--md"]);
    assert!(markdown.contains("| test AUC | 0.") && markdown.contains("| variant | static | v4 |"), "{markdown}");
    let diff = stdout_of(ws, &["runs", "diff", "static-s5", "v4-s6"]);
    assert!(diff.contains("  variant: static -> v4\n") && diff.contains("  seed: 5 -> 6\n"), "{diff}");
    let filtered = stdout_of(ws, &["runs", "list", "--filter", "variant = v4 and auc > 0.5", "--sort", "-seed"]);
    assert!(filtered.ends_with("2 of 4 runs\n") && filtered.lines().nth(2).unwrap().contains("-v4-s6"), "{filtered}");
}

#[test]
fn runs_on_different_data_are_compared_only_when_forced_and_then_with_a_warning() {
    let workspace = tempfile::tempdir().unwrap();
    fake_run(workspace.path(), &Spec { minute: 1, test: Some(0.70), ..Spec::default() });
    let other = Spec { minute: 2, experiment: "apg", hash: "bbbb2222bbbb2222", data: "beef", ..Spec::default() };
    fake_run(workspace.path(), &Spec { test: Some(0.80), variant: "v5", ..other });
    let history = History::load(workspace.path()).unwrap();
    let queries = ["static-s1", "apg-s1"].map(String::from);

    let refused = compare(&history, &queries, &CompareOptions::default()).unwrap_err().to_string();
    assert!(refused.contains("trained on different data") && refused.contains("--force"), "{refused}");
    assert!(refused.contains("20260105-100100-static-s1: ") && refused.contains("(data beef)"), "{refused}");
    let (code, stdout, stderr) = output(workspace.path(), &["runs", "compare", "static-s1", "apg-s1"]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");

    let forced = compare(&history, &queries, &CompareOptions { force: true, ..Default::default() }).unwrap();
    assert!(forced.data_differs);
    assert!(forced.notes[0].starts_with("WARNING: these runs trained on different data"), "{:?}", forced.notes);
    assert_eq!(forced.entries[1].data[0].fingerprint, "beef");
    let (code, stdout, _) = output(workspace.path(), &["runs", "compare", "static-s1", "apg-s1", "--force"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Note: WARNING: these runs trained on different data"), "{stdout}");

    // A group whose repeats saw different data is no noise band over one dataset either.
    fake_run(workspace.path(), &Spec { minute: 3, seed: 2, data: "cafe", ..Spec::default() });
    let history = History::load(workspace.path()).unwrap();
    let group = compare(&history, &["static".to_string()], &CompareOptions { groups: true, ..Default::default() });
    let refused = group.unwrap_err().to_string();
    assert!(
        refused.contains("static@aaaa1111: synthetic-multidomain (data f00d) + synthetic-multidomain (data cafe)"),
        "{refused}"
    );

    // Runs on the same data compare as before, without a warning.
    fake_run(
        workspace.path(),
        &Spec { minute: 4, experiment: "apg", hash: "cccc3333cccc3333", variant: "v5", ..Spec::default() },
    );
    let history = History::load(workspace.path()).unwrap();
    let c =
        compare(&history, &["static-s1".to_string(), "100400-apg-s1".to_string()], &CompareOptions::default()).unwrap();
    assert!(!c.data_differs && c.notes.iter().all(|n| !n.starts_with("WARNING")), "{:?}", c.notes);
}
