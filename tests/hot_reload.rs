//! Hot reload: the workspace watcher reports each save of an experiment or of a watched
//! dataset descriptor exactly once, whether the editor writes in place or through a
//! temporary file and a rename, and reports invalid files with their line.
//!
//! Each test starts a watcher on its own temporary workspace, changes one file, waits for
//! the event (up to 3 s), then listens a little longer to check that nothing else comes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use apg_bench::config::watch::{WatchEvent, WorkspaceWatcher};
use apg_bench::data::descriptor::BUILT_IN;

const WAIT: Duration = Duration::from_secs(3);
/// Longer than the debounce window, so a duplicate from the same save would show up.
const QUIET: Duration = Duration::from_millis(400);

/// A temporary workspace with `experiments/base.toml` and `datasets/d.toml`, watched.
struct Workspace {
    _dir: tempfile::TempDir,
    root: PathBuf,
    events: Receiver<WatchEvent>,
    _watcher: WorkspaceWatcher,
}

fn experiment(seed: u64) -> String {
    format!("dataset = \"synthetic-multidomain\"\nseed = {seed}\n\n[train]\nepochs = 1\n")
}

fn descriptor() -> &'static str {
    BUILT_IN.iter().find(|(name, _)| *name == "synthetic-multidomain").map(|(_, text)| *text).unwrap()
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::create_dir_all(root.join("experiments")).unwrap();
        fs::create_dir_all(root.join("datasets")).unwrap();
        fs::write(root.join("experiments/base.toml"), experiment(1)).unwrap();
        fs::write(root.join("datasets/d.toml"), descriptor()).unwrap();
        let (sender, events) = mpsc::channel();
        let watcher = WorkspaceWatcher::start(&root, vec![root.join("datasets/d.toml")], move |event| {
            let _ = sender.send(event);
        })
        .unwrap();
        Workspace { _dir: dir, root, events, _watcher: watcher }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The next event, then a check that no other event follows it.
    fn only_event(&self) -> WatchEvent {
        let event = self.events.recv_timeout(WAIT).expect("no event within 3 s");
        self.expect_quiet();
        event
    }

    fn expect_quiet(&self) {
        match self.events.recv_timeout(QUIET) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("unexpected event: {other:?}"),
        }
    }
}

fn changed_experiment(event: WatchEvent, expected: &Path) -> Result<u64, String> {
    match event {
        WatchEvent::ExperimentChanged { path, result } => {
            assert_eq!(path, expected);
            result.map(|loaded| loaded.experiment.seed).map_err(|e| e.to_string())
        }
        other => panic!("expected ExperimentChanged for {}, got {other:?}", expected.display()),
    }
}

#[test]
fn rewrite_in_place_is_reported_once_and_quickly() {
    let ws = Workspace::new();
    let file = ws.path("experiments/base.toml");
    let saved = Instant::now();
    fs::write(&file, experiment(7)).unwrap();
    let event = ws.events.recv_timeout(WAIT).expect("no event within 3 s");
    let latency = saved.elapsed();
    assert!(latency < Duration::from_millis(500), "save-to-event latency {latency:?}");
    assert_eq!(changed_experiment(event, &file), Ok(7));
    ws.expect_quiet();
}

/// A writer that truncates, writes and closes with pauses: its events reach the debouncer
/// in two batches, and the second must not repeat the first.
#[test]
fn slow_write_in_place_is_reported_once() {
    let ws = Workspace::new();
    let file = ws.path("experiments/base.toml");
    let mut writer = fs::OpenOptions::new().write(true).truncate(true).open(&file).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    writer.write_all(experiment(5).as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    drop(writer);
    assert_eq!(changed_experiment(ws.only_event(), &file), Ok(5));
}

#[test]
fn replace_by_rename_is_reported_once_for_the_target() {
    let ws = Workspace::new();
    let file = ws.path("experiments/base.toml");
    let temporary = ws.path("experiments/base.toml.tmp");
    fs::write(&temporary, experiment(8)).unwrap();
    fs::rename(&temporary, &file).unwrap();
    assert_eq!(changed_experiment(ws.only_event(), &file), Ok(8));
}

#[test]
fn vim_style_backup_and_rewrite_is_reported_once() {
    let ws = Workspace::new();
    let file = ws.path("experiments/base.toml");
    let backup = ws.path("experiments/base.toml~");
    fs::rename(&file, &backup).unwrap();
    fs::write(&file, experiment(9)).unwrap();
    fs::remove_file(&backup).unwrap();
    assert_eq!(changed_experiment(ws.only_event(), &file), Ok(9));
}

#[test]
fn invalid_file_is_reported_with_its_line() {
    let ws = Workspace::new();
    let file = ws.path("experiments/base.toml");
    fs::write(&file, "dataset = \"synthetic-multidomain\"\nseed = 2\ncolour = \"red\"\n").unwrap();
    let message = changed_experiment(ws.only_event(), &file).unwrap_err();
    assert!(message.starts_with(&format!("{}:3:", file.display())), "{message}");
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn new_file_is_reported_once() {
    let ws = Workspace::new();
    let file = ws.path("experiments/new.toml");
    fs::write(&file, experiment(3)).unwrap();
    assert_eq!(changed_experiment(ws.only_event(), &file), Ok(3));
}

#[test]
fn deleted_file_is_reported_as_removed() {
    let ws = Workspace::new();
    let file = ws.path("experiments/base.toml");
    fs::remove_file(&file).unwrap();
    match ws.only_event() {
        WatchEvent::ExperimentRemoved { path } => assert_eq!(path, file),
        other => panic!("expected ExperimentRemoved, got {other:?}"),
    }
}

#[test]
fn watched_descriptor_outside_experiments_is_reported() {
    let ws = Workspace::new();
    let file = ws.path("datasets/d.toml");
    let edited = descriptor().replace("description = \"", "description = \"Edited: ");
    fs::write(&file, edited).unwrap();
    match ws.only_event() {
        WatchEvent::DatasetChanged { path, result } => {
            assert_eq!(path, file);
            let loaded = result.unwrap();
            assert!(loaded.descriptor.description.starts_with("Edited: "), "{}", loaded.descriptor.description);
        }
        other => panic!("expected DatasetChanged, got {other:?}"),
    }
}

#[test]
fn unrelated_files_are_ignored() {
    let ws = Workspace::new();
    fs::write(ws.path("experiments/notes.txt"), "not an experiment").unwrap();
    fs::write(ws.path("experiments/.base.toml.swp"), "editor swap file").unwrap();
    fs::write(ws.path("datasets/other.toml"), descriptor()).unwrap();
    fs::write(ws.path("workspace.toml"), "name = \"w\"\n").unwrap();
    ws.expect_quiet();
    // The positive control: the same watcher still reports an experiment save, so the
    // silence above came from filtering, not from a watcher that reports nothing.
    let file = ws.path("experiments/base.toml");
    fs::write(&file, experiment(5)).unwrap();
    assert_eq!(changed_experiment(ws.only_event(), &file), Ok(5));
}
