//! The run-folder writer: creates `runs/<run-id>/` before training starts and records
//! each trainer event as it arrives, so whatever happens later, what was seen is on disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::Device;
use crate::config::experiment::{Experiment, LoadedExperiment};
use crate::process::ProcessId;
use crate::runs::{Manifest, RunError, RunStatus, UtcTime, hostname, write_atomic};
use crate::train::{EvalMetrics, Event, MetricsRecord, Phase, RunEnd, RunSummary};

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
pub const LOG_FILE: &str = "log.txt";
pub const CHECKPOINT_FILE: &str = "model.safetensors";

/// The workspace an experiment file belongs to: the parent of the `experiments/` folder
/// it lies in, else the folder it lies in.
pub fn workspace_of(experiment_file: &Path) -> PathBuf {
    let non_empty = |p: &Path| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() };
    let folder = non_empty(experiment_file.parent().unwrap_or(Path::new("")));
    match folder.file_name() {
        Some(name) if name == "experiments" => non_empty(folder.parent().unwrap_or(Path::new(""))),
        _ => folder,
    }
}

/// Hex xxh3 of the canonical JSON (sorted keys) of `experiment` with its seed left out,
/// so repeats of one configuration under different seeds share the hash. The thread
/// count is hashed as its default (0): it says how fast a run computes, not what, and a
/// study that runs several experiments at once divides the cores among them.
pub fn config_hash(experiment: &Experiment) -> String {
    let mut experiment = experiment.clone();
    experiment.train.threads = 0;
    let mut value = serde_json::to_value(&experiment).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        fields.remove("seed");
    }
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(value.to_string().as_bytes()))
}

/// The config hash a run of `loaded` recorded in `workspace` gets: that of its experiment
/// as the run folder freezes it, with the dataset file named from the run folder
/// (`../../experiments/data.toml`), however the experiment file names it.
pub fn run_config_hash(workspace: &Path, loaded: &LoadedExperiment) -> String {
    let mut experiment = loaded.experiment.clone();
    // Every run folder lies two levels below the workspace (runs/<id>/).
    if let Some(path) = from_folder(workspace, &loaded.dataset.file) {
        experiment.dataset = Path::new("..").join("..").join(path).to_string_lossy().into_owned();
    }
    config_hash(&experiment)
}

/// How the trainer said the run ended, if it has.
#[derive(Debug)]
enum Outcome {
    Pending,
    /// With the training steps the run took.
    Ended(RunStatus, usize),
    Diverged(String),
    Failed(String),
}

/// The reason recorded for a run stopped before its first training step.
pub const STOPPED_BEFORE_TRAINING: &str = "stopped before training";

/// Bytes held in reserve while a run is written: freed before the last rewrite of
/// run.toml, so that a run on a disk that has filled up can still say that it failed.
const RESERVE_BYTES: usize = 4096;

/// One run folder being written. Create it before the trainer starts, feed it every
/// event, then [`close`](RunWriter::close) it. A writer dropped without closing leaves
/// the run `running` with this process's pid, which readers report as interrupted.
///
/// The first write that fails (a full disk, a file size limit) fails the run: nothing
/// more is written but its end, and no line already written is torn.
#[derive(Debug)]
pub struct RunWriter {
    dir: PathBuf,
    manifest: Manifest,
    metrics: LineFile,
    log: LineFile,
    started: Instant,
    outcome: Outcome,
    /// Why the run failed as it was written: the first write that failed (or the
    /// trainer's failure that came before it).
    write_error: Option<String>,
    /// The reserve file, until it is freed at the end.
    reserve: Option<PathBuf>,
}

impl RunWriter {
    /// Creates `runs/<run-id>/` in the experiment's workspace with run.toml (`running`),
    /// config.toml (the experiment as it will run: this seed and device, its dataset
    /// reference rewritten to work from the run folder), and empty metrics.jsonl and log.txt.
    /// If any of it cannot be written, the folder is removed again and the error says why.
    /// Debris that dead writers left in the workspace's other run folders is swept first.
    pub fn create(loaded: &LoadedExperiment, seed: u64, device: Device) -> Result<Self, RunError> {
        Self::create_in(&workspace_of(&loaded.file), loaded, seed, device)
    }

    /// [`RunWriter::create`] in the runs/ folder of `workspace`, wherever the experiment lies.
    pub fn create_in(workspace: &Path, loaded: &LoadedExperiment, seed: u64, device: Device) -> Result<Self, RunError> {
        let runs = workspace.join("runs");
        std::fs::create_dir_all(&runs).map_err(|error| RunError::Io { action: "create", path: runs.clone(), error })?;
        crate::runs::sweep_runs_folder(&runs);
        let now = UtcTime::now();
        let (id, dir) =
            create_unique_dir(&runs, &format!("{}-{}-s{seed}", now.compact(), slug(&loaded.experiment.name)))?;
        let opened = Opening { loaded, seed, device, workspace, now };
        opened.fill(id, &dir).map_err(|error| {
            let _ = std::fs::remove_dir_all(&dir);
            RunError::NotStarted { dir, error: Box::new(error) }
        })
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the trainer should save the best model.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    /// The write that failed the run, if one has.
    pub fn write_error(&self) -> Option<&str> {
        self.write_error.as_deref()
    }

    /// Records one trainer event in the files it belongs to. An Err is a write that
    /// failed: the run has failed, and later events are not recorded (stop the trainer).
    pub fn record(&mut self, event: &Event) -> Result<(), RunError> {
        if self.write_error.is_some() {
            return Ok(());
        }
        let written = self.write_event(event);
        if let Err(error) = &written {
            // A failure the trainer reported is the cause; a write failing after it (the
            // same full disk) its consequence.
            let reason = match &self.outcome {
                Outcome::Failed(reason) => reason.clone(),
                _ => error.to_string(),
            };
            self.write_error = Some(reason);
        }
        written
    }

    fn write_event(&mut self, event: &Event) -> Result<(), RunError> {
        match event {
            Event::Phase { phase } => self.log(&format!("phase: {}", phase_label(*phase))),
            Event::Log { line } => self.log(line),
            Event::Plan { total_steps, steps_per_epoch, params, dataset_fingerprint } => {
                self.manifest.dataset_fingerprint = dataset_fingerprint.clone();
                self.manifest.write(&self.dir)?;
                self.log(&format!(
                    "plan: {total_steps} steps ({steps_per_epoch} per epoch); {} dense and {} embedding parameters; dataset {dataset_fingerprint}",
                    params.dense, params.embedding
                ))
            }
            Event::Metrics { record } => {
                self.append_metrics(record)?;
                match record {
                    MetricsRecord::Eval { step, metrics, .. } => {
                        self.log(&format!("{} at step {step}: {}", metrics.split, eval_headline(metrics)))
                    }
                    MetricsRecord::Train { .. } => Ok(()),
                }
            }
            Event::Checkpoint { step, path } => {
                let shown = path.strip_prefix(&self.dir).unwrap_or(path).display().to_string();
                self.log(&format!("saved the best model so far (step {step}) to {shown}"))
            }
            Event::Finished { summary } => {
                self.outcome = match summary.status {
                    RunEnd::Finished => Outcome::Ended(RunStatus::Finished, summary.steps),
                    RunEnd::Stopped => Outcome::Ended(RunStatus::Stopped, summary.steps),
                    RunEnd::Diverged => Outcome::Diverged(summary.reason.clone().unwrap_or_default()),
                };
                self.write_summary(summary)?;
                self.log(&format!("{} after {} steps", summary.status.name(), summary.steps))
            }
            Event::Failed { error } => {
                self.outcome = Outcome::Failed(error.clone());
                self.log(&format!("failed: {error}"))
            }
        }
    }

    /// Writes the final status and end time. `interrupted`: a signal ended the run,
    /// whatever the trainer reported. A trainer that reported no end counts as failed, and
    /// so does a run whose files could not be written. A run stopped before its first
    /// training step says so in its reason.
    ///
    /// The reserve is freed first, so that run.toml can be rewritten on a full disk; if
    /// even that fails, the old run.toml stays whole and the error says how the run ended.
    pub fn close(mut self, interrupted: bool) -> Result<Manifest, RunError> {
        let untrained = |steps: usize| (steps == 0).then(|| STOPPED_BEFORE_TRAINING.to_string());
        let (status, error) = match (&self.write_error, interrupted, &self.outcome) {
            (Some(error), _, _) => (RunStatus::Failed, Some(error.clone())),
            (None, true, Outcome::Ended(_, steps)) => (RunStatus::Interrupted, untrained(*steps)),
            (None, true, _) => (RunStatus::Interrupted, None),
            (None, false, Outcome::Ended(status, steps)) => {
                (*status, if *status == RunStatus::Stopped { untrained(*steps) } else { None })
            }
            (None, false, Outcome::Diverged(reason)) => (RunStatus::Diverged, Some(reason.clone())),
            (None, false, Outcome::Failed(error)) => (RunStatus::Failed, Some(error.clone())),
            (None, false, Outcome::Pending) => {
                (RunStatus::Failed, Some("the trainer ended without reporting how the run ended".to_string()))
            }
        };
        self.manifest.status = status;
        self.manifest.error = error;
        self.manifest.ended = Some(UtcTime::now().rfc3339());
        self.free_reserve();
        // The log is best effort: what must be said goes into run.toml.
        if let Some(error) = self.write_error.clone() {
            let _ = self.log(&format!("failed: {error}"));
        }
        let _ = self.log(&format!("status: {}", status.name()));
        // Syncing is best effort too: a disk that cannot take the lines may still take
        // the status.
        let _ = self.metrics.sync().and_then(|()| self.log.sync());
        self.manifest.write(&self.dir).map(|()| self.manifest.clone()).map_err(|error| RunError::EndNotRecorded {
            id: self.manifest.id.clone(),
            status: status.name(),
            reason: self.manifest.error.clone(),
            error: Box::new(error),
        })
    }

    fn free_reserve(&mut self) {
        if let Some(reserve) = self.reserve.take() {
            let _ = std::fs::remove_file(reserve);
        }
    }

    fn log(&mut self, line: &str) -> Result<(), RunError> {
        self.log.append(&format!("[{:>8.1}s] {line}\n", self.started.elapsed().as_secs_f64()))
    }

    /// One JSON object per line.
    fn append_metrics(&mut self, record: &MetricsRecord) -> Result<(), RunError> {
        let mut line = serde_json::to_string(record)
            .map_err(|e| RunError::Encode { path: self.metrics.path.clone(), message: e.to_string() })?;
        line.push('\n');
        self.metrics.append(&line)
    }

    fn write_summary(&self, summary: &RunSummary) -> Result<(), RunError> {
        let path = self.dir.join(SUMMARY_FILE);
        let mut text = serde_json::to_string_pretty(summary)
            .map_err(|e| RunError::Encode { path: path.clone(), message: e.to_string() })?;
        text.push('\n');
        write_atomic(&path, text.as_bytes())
    }
}

impl Drop for RunWriter {
    /// A writer given up without closing (an error in its caller) frees its reserve; the
    /// run stays `running` and reads as interrupted once this process has ended.
    fn drop(&mut self) {
        self.free_reserve();
    }
}

/// What a new run folder is filled from.
struct Opening<'a> {
    loaded: &'a LoadedExperiment,
    seed: u64,
    device: Device,
    workspace: &'a Path,
    now: UtcTime,
}

impl Opening<'_> {
    /// Writes the new folder `dir`'s first files: the reserve, config.toml, run.toml,
    /// metrics.jsonl and log.txt.
    fn fill(&self, id: String, dir: &Path) -> Result<RunWriter, RunError> {
        let reserve = crate::process::temporary_path(&dir.join("space-reserve"));
        std::fs::File::create(&reserve)
            .and_then(|mut file| file.write_all(&[0; RESERVE_BYTES]).and_then(|()| file.sync_all()))
            .map_err(|error| RunError::Io { action: "write", path: reserve.clone(), error })?;

        let mut experiment = self.loaded.experiment.clone();
        experiment.seed = self.seed;
        experiment.device = self.device;
        if let Some(path) = from_folder(dir, &self.loaded.dataset.file) {
            experiment.dataset = path;
        }
        let config_path = dir.join(CONFIG_FILE);
        let config = toml::to_string(&experiment)
            .map_err(|e| RunError::Encode { path: config_path.clone(), message: e.to_string() })?;
        let header = format!("# The experiment as run {id}: frozen at its start, with the seed and device it used.\n");
        write_atomic(&config_path, (header + &config).as_bytes())?;

        let experiment_path = from_folder(self.workspace, &self.loaded.file)
            .filter(|p| !p.starts_with(".."))
            .map_or_else(|| self.loaded.file.clone(), PathBuf::from);
        let me = ProcessId::current();
        let manifest = Manifest {
            id,
            experiment: experiment.name.clone(),
            experiment_path,
            status: RunStatus::Running,
            started: self.now.rfc3339(),
            ended: None,
            host: hostname(),
            pid: me.pid,
            pid_start: me.start_ticks,
            boot_id: me.boot_id,
            device: self.device,
            seed: self.seed,
            version: env!("CARGO_PKG_VERSION").to_string(),
            config_hash: config_hash(&experiment),
            dataset_fingerprint: String::new(),
            parent: String::new(),
            error: None,
            tags: Vec::new(),
            note: String::new(),
        };
        manifest.write(dir)?;
        let metrics = LineFile::open(&dir.join(METRICS_FILE))?;
        let log = LineFile::open(&dir.join(LOG_FILE))?;
        let mut writer = RunWriter {
            dir: dir.to_path_buf(),
            manifest,
            metrics,
            log,
            started: Instant::now(),
            outcome: Outcome::Pending,
            write_error: None,
            reserve: Some(reserve),
        };
        let m = &writer.manifest;
        let opening = format!(
            "run {} of {} (seed {}, device {}, apg-bench {}) on {}",
            m.id,
            m.experiment_path.display(),
            m.seed,
            m.device,
            m.version,
            m.host
        );
        writer.log(&opening)?;
        Ok(writer)
    }
}

/// A file written one whole line at a time. A write that fails (a full disk writes part
/// of a line, then fails) is cut back to the last whole line: no line is ever torn.
#[derive(Debug)]
struct LineFile {
    file: File,
    path: PathBuf,
    /// The length up to the end of the last whole line.
    len: u64,
}

impl LineFile {
    /// Opens `path` for appending, creating it empty if needed.
    fn open(path: &Path) -> Result<Self, RunError> {
        let io = |error| RunError::Io { action: "create", path: path.to_path_buf(), error };
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(LineFile { file, path: path.to_path_buf(), len })
    }

    fn append(&mut self, line: &str) -> Result<(), RunError> {
        match self.file.write_all(line.as_bytes()) {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(error) => {
                let _ = self.file.set_len(self.len);
                Err(RunError::Io { action: "write", path: self.path.clone(), error })
            }
        }
    }

    fn sync(&self) -> Result<(), RunError> {
        self.file.sync_all().map_err(|error| RunError::Io { action: "write", path: self.path.clone(), error })
    }
}

/// AUC, logloss and GAUC of one evaluation, on one line, with the rows and positives
/// they rest on: `AUC 0.7512, logloss 0.5123 (20,000 rows, 6,000 positive); GAUC 0.6801
/// over 1,800 groups, 16,000 rows`.
pub fn eval_headline(m: &EvalMetrics) -> String {
    use crate::format::thousands;
    let auc = m.auc.map_or("n/a".into(), |a| format!("{a:.4}"));
    let positives = m.positives.map(|p| format!(", {} positive", thousands(p as u64))).unwrap_or_default();
    let gauc = match (m.gauc, m.gauc_groups, m.gauc_rows) {
        (Some(g), Some(groups), Some(rows)) => {
            format!("; GAUC {g:.4} over {} groups, {} rows", thousands(groups as u64), thousands(rows as u64))
        }
        (Some(g), ..) => format!("; GAUC {g:.4}"),
        (None, Some(0), _) => "; GAUC n/a (no group holds both classes)".into(),
        (None, ..) => String::new(),
    };
    format!("AUC {auc}, logloss {:.4} ({} rows{positives}){gauc}", m.logloss, thousands(m.rows as u64))
}

/// Words for a phase, in logs and progress lines.
pub fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::LoadingData => "loading data",
        Phase::Building => "building the model",
        Phase::Training => "training",
        Phase::Paused => "paused",
        Phase::Evaluating => "evaluating",
        Phase::Testing => "testing",
        Phase::Finished => "finished",
        Phase::Stopped => "stopped",
        Phase::Diverged => "diverged",
        Phase::Failed => "failed",
    }
}

/// Creates `runs/<base>`, or `<base>-2`, `<base>-3`... if taken: creating the folder is
/// what claims the id, so two runs started in the same second cannot share one.
fn create_unique_dir(runs: &Path, base: &str) -> Result<(String, PathBuf), RunError> {
    let mut n = 1;
    loop {
        let id = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
        let dir = runs.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(error) => return Err(RunError::Io { action: "create", path: dir, error }),
        }
    }
}

/// The experiment name as it may appear in a folder name.
fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(60)
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() { "run".into() } else { slug.to_string() }
}

/// `target` as a relative path from `folder` (`../../experiments/data.toml`); None when
/// either cannot be resolved (a built-in descriptor has no file).
fn from_folder(folder: &Path, target: &Path) -> Option<String> {
    let (folder, target) = (folder.canonicalize().ok()?, target.canonicalize().ok()?);
    let (from, to): (Vec<_>, Vec<_>) = (folder.components().collect(), target.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    path.extend(&to[common..]);
    Some(path.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{MANIFEST_FILE, read_manifest};
    use crate::train::{GroupMetrics, ParamCounts};

    /// A workspace in a temporary folder with one experiment on the built-in dataset.
    fn experiment(text: &str) -> (tempfile::TempDir, LoadedExperiment) {
        let workspace = tempfile::tempdir().unwrap();
        let file = workspace.path().join("experiments").join("tiny one.toml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        let loaded = LoadedExperiment::from_file(&file).unwrap();
        (workspace, loaded)
    }

    fn eval(split: &str, auc: f64) -> EvalMetrics {
        let group = |value: &str, auc| GroupMetrics {
            field: "domain".into(),
            value: value.into(),
            rows: 10,
            positives: Some(4),
            auc,
            logloss: 0.5,
        };
        EvalMetrics {
            split: split.into(),
            rows: 20,
            positives: Some(8),
            auc: Some(auc),
            logloss: 0.51,
            gauc: None,
            gauc_groups: None,
            gauc_rows: None,
            groups: vec![group("d0", Some(auc)), group("d1", None)],
        }
    }

    fn records() -> Vec<MetricsRecord> {
        vec![
            MetricsRecord::Train { step: 10, epoch: 0, loss: 0.69, samples_per_s: 1e4, elapsed_s: 0.5 },
            MetricsRecord::Eval { step: 10, epoch: 0, elapsed_s: 0.6, metrics: eval("valid", 0.7) },
            MetricsRecord::Train { step: 20, epoch: 1, loss: 0.6, samples_per_s: 1.1e4, elapsed_s: 1.0 },
            MetricsRecord::Eval { step: 20, epoch: 1, elapsed_s: 1.1, metrics: eval("test", 0.72) },
        ]
    }

    fn summary(status: RunEnd) -> RunSummary {
        RunSummary {
            status,
            reason: None,
            steps: 20,
            epochs_done: 1.0,
            best_step: Some(10),
            best_valid: Some(eval("valid", 0.7)),
            test: Some(eval("test", 0.72)),
            params: ParamCounts { dense: 100, embedding: 2000 },
            train_seconds: 1.0,
            samples_per_s: 1.1e4,
            stopped_early: false,
            baseline: None,
        }
    }

    /// The events of a run that trains, checkpoints and ends with `last`.
    fn events(writer: &RunWriter, last: Event) -> Vec<Event> {
        let metrics = records().into_iter().map(|record| Event::Metrics { record });
        [
            Event::Phase { phase: Phase::LoadingData },
            Event::Log { line: "loaded 2,000 rows".into() },
            Event::Phase { phase: Phase::Building },
            Event::Plan {
                total_steps: 20,
                steps_per_epoch: 10,
                params: ParamCounts { dense: 100, embedding: 2000 },
                dataset_fingerprint: "f00d".into(),
            },
            Event::Phase { phase: Phase::Training },
        ]
        .into_iter()
        .chain(metrics)
        .chain([Event::Checkpoint { step: 10, path: writer.checkpoint_path() }, last])
        .collect()
    }

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn a_finished_run_leaves_every_file() {
        let (_workspace, loaded) = experiment("[train]\nlr = 0.01\n");
        let mut writer = RunWriter::create(&loaded, 7, Device::Cpu).unwrap();
        let dir = writer.dir().to_path_buf();
        assert_eq!(dir.parent().unwrap(), loaded.file.parent().unwrap().parent().unwrap().join("runs"));
        assert!(writer.id().ends_with("-tiny-one-s7"), "{}", writer.id());
        // Everything exists, and says running, before the first event.
        assert_eq!(read_manifest(&dir).unwrap().status, RunStatus::Running);
        for file in [CONFIG_FILE, METRICS_FILE, LOG_FILE] {
            assert!(dir.join(file).is_file(), "{file}");
        }

        for event in events(&writer, Event::Finished { summary: Box::new(summary(RunEnd::Finished)) }) {
            writer.record(&event).unwrap();
        }
        let closed = writer.close(false).unwrap();

        let manifest = read_manifest(&dir).unwrap();
        assert_eq!(manifest, closed);
        assert_eq!(manifest.status, RunStatus::Finished);
        assert_eq!(manifest.seed, 7);
        assert_eq!(manifest.device, Device::Cpu);
        assert_eq!(manifest.dataset_fingerprint, "f00d");
        assert_eq!(manifest.experiment, "tiny one");
        assert_eq!(manifest.experiment_path, Path::new("experiments/tiny one.toml"));
        assert_eq!(manifest.pid, std::process::id());
        assert_eq!(manifest.error, None);
        assert!(manifest.ended.as_deref().and_then(UtcTime::parse_rfc3339).is_some(), "{manifest:?}");
        assert!(!dir.join(format!("{MANIFEST_FILE}.tmp")).exists());

        let lines: Vec<MetricsRecord> =
            read(&dir, METRICS_FILE).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines, records());
        let written: RunSummary = serde_json::from_str(&read(&dir, SUMMARY_FILE)).unwrap();
        assert_eq!(written, summary(RunEnd::Finished));
        let log = read(&dir, LOG_FILE);
        let expected_lines = [
            "phase: loading data",
            "loaded 2,000 rows",
            "plan: 20 steps",
            "valid at step 10: AUC 0.7000",
            "status: finished",
        ];
        for expected in expected_lines {
            assert!(log.contains(expected), "{expected:?} not in\n{log}");
        }

        // config.toml is the experiment as it ran, and loads again from the run folder.
        let frozen = LoadedExperiment::from_file(&dir.join(CONFIG_FILE)).unwrap();
        let mut expected = loaded.experiment.clone();
        expected.seed = 7;
        assert_eq!(frozen.experiment, expected);
        assert_eq!(manifest.config_hash, config_hash(&frozen.experiment));
    }

    #[test]
    fn a_failed_run_says_why() {
        let (_workspace, loaded) = experiment("");
        let mut writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        let dir = writer.dir().to_path_buf();
        writer.record(&Event::Phase { phase: Phase::LoadingData }).unwrap();
        writer.record(&Event::Failed { error: "no data".into() }).unwrap();
        let manifest = writer.close(false).unwrap();
        assert_eq!(manifest.status, RunStatus::Failed);
        assert_eq!(manifest.error.as_deref(), Some("no data"));
        assert_eq!(read_manifest(&dir).unwrap(), manifest);
        assert!(!dir.join(SUMMARY_FILE).exists());
        assert!(read(&dir, LOG_FILE).contains("failed: no data"));
        assert_eq!(read(&dir, METRICS_FILE), "");
    }

    #[test]
    fn a_trainer_that_reports_no_end_fails_the_run() {
        let (_workspace, loaded) = experiment("");
        let writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        let manifest = writer.close(false).unwrap();
        assert_eq!(manifest.status, RunStatus::Failed);
        assert!(manifest.error.is_some());
    }

    #[test]
    fn a_signal_marks_the_run_interrupted_whatever_the_trainer_says() {
        let (_workspace, loaded) = experiment("");
        let mut writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        for event in events(&writer, Event::Finished { summary: Box::new(summary(RunEnd::Stopped)) }) {
            writer.record(&event).unwrap();
        }
        let dir = writer.dir().to_path_buf();
        assert_eq!(writer.close(true).unwrap().status, RunStatus::Interrupted);
        assert_eq!(read_manifest(&dir).unwrap().status, RunStatus::Interrupted);
        assert!(dir.join(SUMMARY_FILE).is_file());
    }

    #[test]
    fn a_running_run_whose_process_died_reads_as_interrupted() {
        let (_workspace, loaded) = experiment("");
        let mut writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        for event in events(&writer, Event::Log { line: "still going".into() }) {
            writer.record(&event).unwrap();
        }
        let dir = writer.dir().to_path_buf();
        // While this process lives, the run is running.
        assert_eq!(read_manifest(&dir).unwrap().status, RunStatus::Running);

        // The same manifest, written by a process that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let mut manifest = writer.manifest().clone();
        manifest.pid = dead;
        manifest.write(&dir).unwrap();
        drop(writer);
        let read_back = read_manifest(&dir).unwrap();
        let expected = if cfg!(target_os = "linux") { RunStatus::Interrupted } else { RunStatus::Running };
        assert_eq!(read_back.status, expected);
        assert_eq!(read_back.dataset_fingerprint, "f00d");
        assert_eq!(read(&dir, METRICS_FILE).lines().count(), records().len());
    }

    /// The files of `dir`, sorted.
    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_run_stopped_before_its_first_step_says_so() {
        let untrained =
            || RunSummary { steps: 0, best_step: None, best_valid: None, test: None, ..summary(RunEnd::Stopped) };
        for (interrupted, steps, status, reason) in [
            (true, 0, RunStatus::Interrupted, Some(STOPPED_BEFORE_TRAINING)),
            (false, 0, RunStatus::Stopped, Some(STOPPED_BEFORE_TRAINING)),
            (true, 20, RunStatus::Interrupted, None),
            (false, 20, RunStatus::Stopped, None),
        ] {
            let (_workspace, loaded) = experiment("");
            let mut writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
            let dir = writer.dir().to_path_buf();
            writer.record(&Event::Finished { summary: Box::new(RunSummary { steps, ..untrained() }) }).unwrap();
            let manifest = writer.close(interrupted).unwrap();
            assert_eq!((manifest.status, manifest.error.as_deref()), (status, reason), "{interrupted} {steps}");
            assert_eq!(read_manifest(&dir).unwrap(), manifest);
        }
    }

    #[test]
    fn a_write_that_fails_fails_the_run_and_leaves_no_temporary_file() {
        let (_workspace, loaded) = experiment("");
        let mut writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        let dir = writer.dir().to_path_buf();
        // While the run is written, a reserve of space is held for its end.
        let reserve = format!("space-reserve.tmp{}", std::process::id());
        assert_eq!(files(&dir), ["config.toml", "log.txt", "metrics.jsonl", "run.toml", reserve.as_str()]);
        // summary.json cannot be replaced: a folder holds its place.
        std::fs::create_dir(dir.join(SUMMARY_FILE)).unwrap();
        let mut failures = Vec::new();
        for event in events(&writer, Event::Finished { summary: Box::new(summary(RunEnd::Finished)) }) {
            if let Err(error) = writer.record(&event) {
                failures.push(error.to_string());
            }
        }
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("summary.json"), "{failures:?}");
        assert_eq!(writer.write_error(), Some(failures[0].as_str()));
        // Later events are not recorded.
        writer.record(&Event::Log { line: "after the failure".into() }).unwrap();
        let manifest = writer.close(true).unwrap();
        assert_eq!((manifest.status, manifest.error.as_deref()), (RunStatus::Failed, Some(failures[0].as_str())));
        assert_eq!(read_manifest(&dir).unwrap(), manifest);
        assert_eq!(files(&dir), ["config.toml", "log.txt", "metrics.jsonl", "run.toml", "summary.json"]);
        let log = read(&dir, LOG_FILE);
        assert!(!log.contains("after the failure") && log.contains("status: failed"), "{log}");
    }

    #[test]
    fn an_end_that_cannot_be_recorded_is_an_error_that_says_how_the_run_ended() {
        let (_workspace, loaded) = experiment("");
        let mut writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        let dir = writer.dir().to_path_buf();
        writer.record(&Event::Failed { error: "no data".into() }).unwrap();
        // run.toml cannot be replaced: a folder that is not empty holds its place.
        std::fs::remove_file(dir.join(MANIFEST_FILE)).unwrap();
        std::fs::create_dir_all(dir.join(MANIFEST_FILE).join("x")).unwrap();
        let error = writer.close(false).unwrap_err().to_string();
        let expected = format!(
            "run {} failed (no data), but its run.toml could not say so",
            dir.file_name().unwrap().to_str().unwrap()
        );
        assert!(error.starts_with(&expected), "{error}");
        assert_eq!(files(&dir), ["config.toml", "log.txt", "metrics.jsonl", "run.toml"], "no temporary file is left");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_trainer_failure_stays_the_reason_when_its_log_line_cannot_be_written() {
        let (_workspace, loaded) = experiment("");
        let mut writer = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        // log.txt can take no more lines: it is replaced by a handle on /dev/full.
        writer.log.file = File::options().append(true).open("/dev/full").unwrap();
        assert!(writer.record(&Event::Failed { error: "the disk is full".into() }).is_err());
        let manifest = writer.close(false).unwrap();
        assert_eq!(manifest.error.as_deref(), Some("the disk is full"));
    }

    #[test]
    fn runs_started_together_get_distinct_ids() {
        let (_workspace, loaded) = experiment("");
        let first = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        let second = RunWriter::create(&loaded, 1, Device::Cpu).unwrap();
        assert_ne!(first.id(), second.id());
        assert!(first.dir().is_dir() && second.dir().is_dir());
        assert!(first.id() < second.id(), "{} {}", first.id(), second.id());
    }

    #[test]
    fn config_hash_ignores_the_seed_and_the_thread_count() {
        let (_workspace, loaded) = experiment("");
        let base = loaded.experiment.clone();
        let reseeded = Experiment { seed: base.seed + 1, ..base.clone() };
        let mut changed = base.clone();
        changed.train.lr *= 2.0;
        let mut threaded = base.clone();
        threaded.train.threads = 3;
        assert_eq!(config_hash(&base), config_hash(&reseeded));
        assert_eq!(config_hash(&base), config_hash(&threaded), "the thread count is not the configuration");
        assert_ne!(config_hash(&base), config_hash(&changed));
        assert_eq!(config_hash(&base).len(), 16);
    }

    #[test]
    fn the_workspace_is_above_experiments() {
        assert_eq!(workspace_of(Path::new("ws/experiments/a.toml")), Path::new("ws"));
        assert_eq!(workspace_of(Path::new("experiments/a.toml")), Path::new("."));
        assert_eq!(workspace_of(Path::new("elsewhere/a.toml")), Path::new("elsewhere"));
        assert_eq!(workspace_of(Path::new("a.toml")), Path::new("."));
    }

    #[test]
    fn names_become_folder_safe() {
        assert_eq!(slug("tiny one/../x"), "tiny-one----x");
        assert_eq!(slug("../"), "run");
        assert_eq!(slug("apg_v5-K8"), "apg_v5-K8");
    }
}
