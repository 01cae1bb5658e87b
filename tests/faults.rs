//! Faults: `apg-bench run` killed with SIGKILL at every phase, stopped by SIGINT or
//! SIGTERM while it loads its data, on a full disk and in a read-only workspace, and a
//! run folder whose pid was reused by another process. After each, every run folder must
//! be readable by `runs list --json` and `runs show`, say truly how it ended and why, hold
//! no torn metrics line and, once a later process has looked, no temporary debris.
//!
//! The runs are made to stop at a named point by the hidden `APG_BENCH_PAUSE_AT` hook
//! (src/fault_point.rs), so each kill lands where it should. The data is the built-in
//! synthetic generator cut to a few thousand rows, so a run takes about a second.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::time::{Duration, Instant};

use apg_bench::process::ProcessId;
use apg_bench::runs::{Manifest, RunStatus, hostname, read_manifest};
use apg_bench::train::MetricsRecord;
use serde_json::Value;

/// The tiny experiment: `EPOCHS` epochs of 25 steps, validated every 5 steps, never
/// stopping early, so that there are several checkpoints.
const EXPERIMENT: &str = r#"
dataset = "data.toml"
seed = 3

[model]
embedding_dim = 4
hidden = [16]

[train]
batch_size = 128
epochs = EPOCHS
eval_every = 5
patience = 0
lr = 0.01

[metrics]
group_fields = ["domain"]
"#;

/// A workspace holding `experiments/tiny.toml` over `ROWS` synthetic rows of `USERS`
/// users and items, and its own dataset cache folder (outside `workspace`, which may be
/// a mount of its own).
struct Workspace {
    root: tempfile::TempDir,
    workspace: PathBuf,
}

impl Workspace {
    fn new(epochs: usize) -> Self {
        Self::with(epochs, 4000, 5000)
    }

    fn with(epochs: usize, rows: usize, users: usize) -> Self {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("ws");
        std::fs::create_dir_all(&workspace).unwrap();
        let this = Workspace { root, workspace };
        this.write_experiment(epochs, rows, users);
        this
    }

    fn write_experiment(&self, epochs: usize, rows: usize, users: usize) {
        let experiments = self.workspace.join("experiments");
        std::fs::create_dir_all(&experiments).unwrap();
        let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/synthetic-multidomain.toml");
        let descriptor = std::fs::read_to_string(builtin).unwrap();
        for key in ["rows = 200000", "users = 5000", "items = 3000"] {
            assert!(descriptor.contains(key), "the built-in descriptor changed: update this test");
        }
        let descriptor = descriptor
            .replace("rows = 200000", &format!("rows = {rows}"))
            .replace("users = 5000", &format!("users = {users}"))
            .replace("items = 3000", &format!("items = {}", users.min(3000)));
        std::fs::write(experiments.join("data.toml"), descriptor).unwrap();
        std::fs::write(self.experiment(), EXPERIMENT.replace("EPOCHS", &epochs.to_string())).unwrap();
    }

    fn experiment(&self) -> PathBuf {
        self.workspace.join("experiments").join("tiny.toml")
    }

    fn cache(&self) -> PathBuf {
        self.root.path().join("cache")
    }

    fn runs(&self) -> PathBuf {
        self.workspace.join("runs")
    }

    /// `apg-bench ARGS` in this workspace's setting.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("apg-bench"));
        command.args(args).env("APG_BENCH_CACHE", self.cache()).env_remove("APG_BENCH_PAUSE_AT");
        command.env_remove("APG_BENCH_RESUME").stdin(Stdio::null());
        command
    }

    fn train(&self) -> Command {
        self.command(&["run", self.experiment().to_str().unwrap()])
    }

    /// `apg-bench runs ARGS --workspace` here; it must succeed.
    fn runs_command(&self, args: &[&str]) -> Output {
        let mut all = vec!["--workspace", self.workspace.to_str().unwrap(), "runs"];
        all.extend_from_slice(args);
        let output = self.command(&all).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "runs {args:?} failed: {stderr}");
        output
    }

    /// The rows of `runs list --json`, after `runs show` has read each run too.
    fn listed(&self) -> Vec<Value> {
        let output = self.runs_command(&["list", "--json"]);
        let listing: Value = serde_json::from_slice(&output.stdout).expect("runs list --json is JSON");
        let rows = listing["runs"].as_array().unwrap().clone();
        for row in &rows {
            let id = row["id"].as_str().unwrap();
            let shown: Value = serde_json::from_slice(&self.runs_command(&["show", id, "--json"]).stdout).unwrap();
            assert_eq!(shown["run"]["status"], row["status"], "{id}");
            self.runs_command(&["show", id]);
        }
        rows
    }

    fn run_folders(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.runs()) else { return Vec::new() };
        let mut folders: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        folders.sort();
        folders
    }
}

/// Temporary files (`*.tmp`, `*.tmp<PID>`) anywhere under `dir`.
fn debris(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(debris(&path));
        } else if path.file_name().unwrap().to_string_lossy().contains(".tmp") {
            found.push(path);
        }
    }
    found
}

/// Every line of the run's metrics.jsonl is a whole record, the last one too.
fn assert_no_torn_line(run: &Path) {
    let path = run.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "{}: the last line is torn", path.display());
    for (n, line) in text.lines().enumerate() {
        serde_json::from_str::<MetricsRecord>(line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
    }
}

/// Reads the child's stderr until a line contains `needle`; everything read so far.
fn wait_for(stderr: &mut BufReader<ChildStderr>, needle: &str, seen: &mut String) {
    while !seen.contains(needle) {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the run ended before {needle:?}:\n{seen}");
        *seen += &line;
    }
}

/// Polls until `done` holds (a kill must land after the run folder shows what it tests);
/// gives up loudly after a minute rather than hang.
fn poll(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "waited a minute for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a run that pauses at `point`, and waits until it has.
fn paused_at(ws: &Workspace, point: &str, resume: Option<&Path>) -> (Child, BufReader<ChildStderr>, String) {
    let mut command = ws.train();
    command.env("APG_BENCH_PAUSE_AT", point).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(file) = resume {
        command.env("APG_BENCH_RESUME", file);
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let name = point.split('#').next().unwrap();
    wait_for(&mut stderr, &format!("apg-bench: paused at {name}"), &mut seen);
    (child, stderr, seen)
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// The one run folder created since `before`.
fn new_run(ws: &Workspace, before: &[PathBuf]) -> PathBuf {
    let new: Vec<PathBuf> = ws.run_folders().into_iter().filter(|f| !before.contains(f)).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    new.into_iter().next().unwrap()
}

fn log_of(run: &Path) -> String {
    std::fs::read_to_string(run.join("log.txt")).unwrap_or_default()
}

/// The steps of the lines of log.txt that start with `prefix` and go on with a step.
fn logged_steps(run: &Path, prefix: &str) -> Vec<usize> {
    log_of(run)
        .lines()
        .filter_map(|line| line.split_once("] ").map(|(_, text)| text))
        .filter_map(|text| text.strip_prefix(prefix))
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}

#[test]
fn a_kill_at_every_phase_leaves_readable_interrupted_runs_and_no_debris() {
    let ws = Workspace::new(2);
    let mut killed = Vec::new();
    // The cache first, while there is none: killed with its temporary file written.
    for point in ["cache", "loading_data", "building", "training", "evaluating", "checkpoint#2", "testing"] {
        let before = ws.run_folders();
        let (mut child, _stderr, _) = paused_at(&ws, point, None);
        let pid = child.id();
        let run = new_run(&ws, &before);
        if point == "checkpoint#2" {
            // The evaluation that asked for this checkpoint is on disk before the kill.
            poll("the evaluation of the second checkpoint in log.txt", || {
                let saved = logged_steps(&run, "saved the best model so far (step ");
                let evaluated = logged_steps(&run, "valid at step ");
                saved.len() == 1 && evaluated.last().is_some_and(|step| *step > saved[0])
            });
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // What the kill left: the writer's reserve, and the half-done file of the point.
        let left = debris(&run);
        assert!(left.iter().any(|p| p.ends_with(format!("space-reserve.tmp{pid}"))), "{point}: {left:?}");
        match point {
            "cache" => assert!(!debris(&ws.cache()).is_empty(), "no cache temporary file"),
            "checkpoint#2" => {
                assert!(left.iter().any(|p| p.ends_with(format!("model.safetensors.tmp{pid}"))), "{left:?}");
                assert!(run.join("model.safetensors").is_file(), "the first checkpoint");
            }
            _ => {}
        }
        killed.push((point, run, pid));
    }
    // A later run's data load swept the cache temporary file of the killed one.
    assert_eq!(debris(&ws.cache()), Vec::<PathBuf>::new());

    let rows = ws.listed();
    assert_eq!(rows.len(), killed.len());
    for (point, run, pid) in &killed {
        let id = run.file_name().unwrap().to_str().unwrap();
        let row = rows.iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(row["status"], "interrupted", "{point}");
        assert_eq!(row["error"], format!("its process (pid {pid}) died while it ran"), "{point}");
        assert_eq!(row["test_auc"], Value::Null, "{point}: no test metrics");
        assert_no_torn_line(run);
        assert_eq!(debris(run), Vec::<PathBuf>::new(), "{point}: `runs list` swept the dead writer's files");
    }

    // Killed while saving its second checkpoint: the model on disk is the first one, and
    // `runs show` says so rather than pass it off as the best.
    let (_, run, _) = killed.iter().find(|(point, ..)| *point == "checkpoint#2").unwrap();
    let id = run.file_name().unwrap().to_str().unwrap();
    let saved = logged_steps(run, "saved the best model so far (step ");
    let shown: Value = serde_json::from_slice(&ws.runs_command(&["show", id, "--json"]).stdout).unwrap();
    let best = shown["run"]["best_step"].as_u64().unwrap() as usize;
    assert_eq!(shown["run"]["checkpoint_step"], saved[0]);
    assert!(best > saved[0], "best {best}, saved {saved:?}");
    let problems = shown["problems"].to_string();
    assert!(
        problems.contains(&format!("holds the model of step {}, not of the best step {best}", saved[0])),
        "{problems}"
    );
    let text = String::from_utf8(ws.runs_command(&["show", id]).stdout).unwrap();
    assert!(text.contains(&format!("the model of step {}, NOT of the best step {best}", saved[0])), "{text}");
}

#[test]
fn a_signal_during_the_data_load_records_no_test_metrics() {
    for name in ["-INT", "-TERM"] {
        let ws = Workspace::new(1);
        let resume = ws.root.path().join("resume");
        let (mut child, mut stderr, mut seen) = paused_at(&ws, "loading_data", Some(&resume));
        signal(&child, name);
        wait_for(&mut stderr, "interrupted: stopping", &mut seen);
        std::fs::write(&resume, "").unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let exit = child.wait().unwrap();
        assert_eq!(exit.code(), Some(130), "{name}: {seen}{rest}");

        let run = new_run(&ws, &[]);
        let manifest = read_manifest(&run).unwrap();
        assert_eq!(manifest.status, RunStatus::Interrupted, "{name}");
        assert_eq!(manifest.error.as_deref(), Some("stopped before training"), "{name}");
        let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        assert!(!metrics.contains("\"test\""), "{name}: a test line of an untrained model:\n{metrics}");
        let summary: Value = serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
        assert_eq!((summary["steps"].as_u64(), &summary["test"]), (Some(0), &Value::Null), "{name}");
        assert_eq!(debris(&run), Vec::<PathBuf>::new(), "{name}");

        let rows = ws.listed();
        assert_eq!(rows[0]["error"], "stopped before training");
        // Filters on test metrics do not pick it up.
        let filtered = ws.runs_command(&["list", "--json", "--filter", "test.auc > 0"]);
        let filtered: Value = serde_json::from_slice(&filtered.stdout).unwrap();
        assert_eq!(filtered["runs"], Value::Array(Vec::new()), "{name}");
    }
}

/// A folder mounted for the length of a test (a tmpfs, a read-only bind), unmounted after.
struct Mount(PathBuf);

impl Mount {
    fn try_new(args: &[&str], target: &Path) -> Option<Mount> {
        let status = Command::new("mount").args(args).arg(target).stderr(Stdio::null()).status();
        status.is_ok_and(|s| s.success()).then(|| Mount(target.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// How the disk is made full: a small tmpfs when mounting works (root), else a file-size
/// limit (RLIMIT_FSIZE) on the run's process, under which writes past the limit fail
/// with EFBIG: both are real errors from the kernel.
enum FullDisk {
    /// Unmounted when dropped.
    Tmpfs {
        _mount: Mount,
    },
    SizeLimit,
}

impl FullDisk {
    fn new(ws: &Workspace) -> FullDisk {
        let mount =
            if is_root() { Mount::try_new(&["-t", "tmpfs", "-o", "size=2m", "tmpfs"], &ws.workspace) } else { None };
        match mount {
            Some(mount) => {
                println!("full disk by: a 2 MiB tmpfs mounted on the workspace");
                FullDisk::Tmpfs { _mount: mount }
            }
            None => {
                println!("full disk by: RLIMIT_FSIZE on the run's process (no tmpfs mount here)");
                FullDisk::SizeLimit
            }
        }
    }

    /// Fills the tmpfs but `free` bytes (a no-op under a size limit).
    fn fill(&self, ws: &Workspace, free: u64) {
        let FullDisk::Tmpfs { .. } = self else { return };
        let filler = ws.workspace.join("filler");
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&filler).unwrap();
        let block = vec![1u8; 4096];
        while std::io::Write::write_all(&mut file, &block).is_ok() {}
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(free)).unwrap();
    }

    /// The run command, limited to files of `limit` bytes under a size limit.
    fn train(&self, ws: &Workspace, limit: u64) -> Command {
        let mut command = ws.train();
        if let FullDisk::SizeLimit = self {
            // SAFETY: setrlimit and signal are async-signal-safe, as pre_exec requires.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // Ignored, SIGXFSZ no longer kills the process: the write fails instead.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        command
    }

    fn error_text(&self) -> &'static str {
        match self {
            FullDisk::Tmpfs { .. } => "No space left on device",
            FullDisk::SizeLimit => "File too large",
        }
    }
}

#[test]
fn a_run_that_fills_the_disk_fails_with_the_reason_and_leaves_no_debris() {
    // A few users and items: a small checkpoint, so that the run writes many lines first.
    let ws = Workspace::with(400, 4000, 60);
    let disk = FullDisk::new(&ws);
    ws.write_experiment(400, 4000, 60);
    disk.fill(&ws, 48 * 1024);
    let output = disk.train(&ws, 16 * 1024).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains(disk.error_text()), "{stdout}");

    let run = new_run(&ws, &[]);
    let manifest = read_manifest(&run).unwrap();
    assert_eq!(manifest.status, RunStatus::Failed);
    let reason = manifest.error.unwrap();
    println!("the run failed with: {reason}");
    assert!(reason.contains(disk.error_text()), "{reason}");
    // The failing run itself left nothing behind, before any later process looked.
    assert_eq!(debris(&run), Vec::<PathBuf>::new());
    assert_no_torn_line(&run);
    let rows = ws.listed();
    assert_eq!((&rows[0]["status"], &rows[0]["error"]), (&Value::from("failed"), &Value::from(reason)));
}

#[test]
fn a_run_on_a_full_disk_leaves_no_folder_and_says_why() {
    let ws = Workspace::new(1);
    let disk = FullDisk::new(&ws);
    ws.write_experiment(1, 4000, 5000);
    std::fs::create_dir_all(ws.runs()).unwrap();
    disk.fill(&ws, 0);
    let output = disk.train(&ws, 0).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: cannot") && stderr.contains(disk.error_text()), "{stderr}");
    assert_eq!(ws.run_folders(), Vec::<PathBuf>::new(), "a run folder was left");
    assert_eq!(ws.listed(), Vec::<Value>::new());
}

#[test]
fn a_write_past_the_size_limit_is_cut_back_to_the_last_whole_line() {
    // Under a file-size limit every write that crosses it is cut short by the kernel: the
    // first line to cross it is written in part, then the write fails.
    let ws = Workspace::with(400, 4000, 60);
    let output = FullDisk::SizeLimit.train(&ws, 16 * 1024).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let run = new_run(&ws, &[]);
    let manifest = read_manifest(&run).unwrap();
    assert_eq!(manifest.status, RunStatus::Failed);
    let reason = manifest.error.unwrap();
    assert!(reason.contains("metrics.jsonl") && reason.contains("File too large"), "{reason}");
    let metrics = std::fs::metadata(run.join("metrics.jsonl")).unwrap().len();
    assert!(metrics < 16 * 1024, "{metrics} bytes: the torn end was not cut off");
    assert_no_torn_line(&run);
    assert_eq!(debris(&run), Vec::<PathBuf>::new());
}

#[test]
fn a_read_only_workspace_refuses_a_run_and_still_lists() {
    let ws = Workspace::new(1);
    // A run killed while training: its folder holds a dead writer's reserve file.
    let (mut child, _stderr, _) = paused_at(&ws, "training", None);
    child.kill().unwrap();
    child.wait().unwrap();
    let before = ws.run_folders();
    assert_eq!(before.len(), 1);

    let _read_only = if is_root() {
        // As root, permissions do not stop writes: a read-only bind mount does.
        let Some(bind) = Mount::try_new(&["--bind", ws.workspace.to_str().unwrap()], &ws.workspace) else {
            println!("skipped: cannot bind-mount the workspace here");
            return;
        };
        let ro = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&ws.workspace).status().unwrap();
        assert!(ro.success(), "cannot remount read-only");
        println!("read-only workspace by: a read-only bind mount");
        Some(bind)
    } else {
        println!("read-only workspace by: chmod a-w");
        for dir in [ws.workspace.clone(), ws.runs(), before[0].clone()] {
            let status = Command::new("chmod").arg("a-w").arg(&dir).status().unwrap();
            assert!(status.success());
        }
        None
    };
    let output = ws.train().output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let why = if is_root() { "Read-only file system" } else { "Permission denied" };
    assert!(stderr.contains("cannot create") && stderr.contains(why), "{stderr}");
    assert_eq!(ws.run_folders(), before, "a run folder appeared");

    // Listing works, though it cannot sweep the dead writer's file.
    let rows = ws.listed();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "interrupted");
    assert_no_torn_line(&before[0]);
    if !is_root() {
        for dir in [ws.workspace.clone(), ws.runs(), before[0].clone()] {
            Command::new("chmod").arg("u+w").arg(&dir).status().unwrap();
        }
    }
}

/// Writes a run folder whose manifest says `running` by process `writer`.
fn forge_running(ws: &Workspace, id: &str, writer: &ProcessId) -> PathBuf {
    let dir = ws.runs().join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = Manifest {
        id: id.into(),
        experiment: "tiny".into(),
        experiment_path: "experiments/tiny.toml".into(),
        status: RunStatus::Running,
        started: "2026-01-05T10:00:00Z".into(),
        ended: None,
        host: hostname(),
        pid: writer.pid,
        pid_start: writer.start_ticks,
        boot_id: writer.boot_id.clone(),
        device: apg_bench::config::Device::Cpu,
        seed: 1,
        version: "0.1.0".into(),
        config_hash: "0123456789abcdef".into(),
        dataset_fingerprint: String::new(),
        parent: String::new(),
        error: None,
        tags: Vec::new(),
        note: String::new(),
    };
    manifest.write(&dir).unwrap();
    std::fs::copy(ws.experiment(), dir.join("config.toml")).unwrap();
    dir
}

#[test]
fn a_reused_pid_reads_as_interrupted_and_the_run_can_be_removed() {
    let ws = Workspace::new(1);
    let me = ProcessId::current();
    let start = me.start_ticks.expect("the start time of this process");
    // This test's own pid, live, but started at another time: the writer died and its
    // pid went to this process.
    let reused = forge_running(&ws, "a-reused", &ProcessId { start_ticks: Some(start + 1), ..me.clone() });
    // Another boot: whatever the pid, its writer is gone.
    let rebooted = ProcessId { boot_id: Some("an-earlier-boot".into()), ..me.clone() };
    forge_running(&ws, "b-rebooted", &rebooted);
    // The real writer (this process), and a manifest of an older version without a start
    // time: both running.
    forge_running(&ws, "c-live", &me);
    let legacy = forge_running(&ws, "d-legacy", &ProcessId { start_ticks: None, boot_id: None, ..me.clone() });
    // Debris of an older version beside the legacy manifest: its writer lives, so it stays.
    std::fs::write(legacy.join("model.safetensors.tmp"), "half").unwrap();
    std::fs::write(reused.join("model.safetensors.tmp"), "half").unwrap();

    let rows = ws.listed();
    let status = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap()["status"].as_str().unwrap().to_string();
    assert_eq!(status("a-reused"), "interrupted");
    assert_eq!(status("b-rebooted"), "interrupted");
    assert_eq!(status("c-live"), "running");
    assert_eq!(status("d-legacy"), "running");
    let reason = &rows.iter().find(|r| r["id"] == "a-reused").unwrap()["error"];
    assert_eq!(reason, &Value::from(format!("its process (pid {}) died while it ran", me.pid)));
    assert!(!reused.join("model.safetensors.tmp").exists(), "the dead run's old debris stays");
    assert!(legacy.join("model.safetensors.tmp").exists(), "a live writer's file was removed");

    ws.runs_command(&["rm", "a-reused"]);
    assert!(!reused.exists());
    let refused =
        ws.command(&["--workspace", ws.workspace.to_str().unwrap(), "runs", "rm", "c-live"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is still running"));
}
