//! The watcher of a workspace's `runs/` folder: it says which runs appeared, went away or
//! changed their status, so that a history on screen follows runs written by another
//! process (`apg-bench run` in a second terminal) without being asked to reload.
//!
//! A run changes its status by rewriting `run.toml` (atomically: a temporary file renamed
//! over it) and writes `summary.json` once at its end; `metrics.jsonl` and `log.txt` grow
//! all the time a run trains and are left out, so a training run costs no reloads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::runs::history::RUNS_FOLDER;
use crate::runs::{MANIFEST_FILE, RunError, SUMMARY_FILE};

/// How long the runs folder must stay quiet before a change is reported: a run's start
/// (folder, run.toml, config.toml) or end (summary.json, run.toml) is one report.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// What the runs watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunsEvent {
    /// These run folders (their ids, sorted) were created, removed, or had their
    /// run.toml or summary.json written.
    Changed { ids: Vec<String> },
    /// The operating system's watcher failed; changes may have been missed.
    Error(String),
}

/// Watches `<workspace>/runs/` until dropped.
pub struct RunsWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl RunsWatcher {
    /// Starts watching the runs of `workspace`, creating its `runs/` folder if it has none
    /// yet (the first run would create it; a folder that does not exist cannot be watched).
    /// `on_event` runs on the watcher's thread; the TUI forwards each event to its loop.
    pub fn start(workspace: &Path, mut on_event: impl FnMut(RunsEvent) + Send + 'static) -> Result<Self, RunError> {
        let folder = std::path::absolute(workspace.join(RUNS_FOLDER)).map_err(|error| RunError::Io {
            action: "resolve",
            path: workspace.join(RUNS_FOLDER),
            error,
        })?;
        std::fs::create_dir_all(&folder).map_err(|error| RunError::Io {
            action: "create",
            path: folder.clone(),
            error,
        })?;
        let watched = folder.clone();
        let watch_error = |e: notify::Error, path: &Path| RunError::Io {
            action: "watch",
            path: path.to_path_buf(),
            error: std::io::Error::other(e.to_string()),
        };
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            if let Some(event) = report(&watched, result) {
                on_event(event);
            }
        })
        .map_err(|e| watch_error(e, &folder))?;
        debouncer.watch(&folder, RecursiveMode::Recursive).map_err(|e| watch_error(e, &folder))?;
        Ok(RunsWatcher { _debouncer: debouncer })
    }
}

/// One debounced batch as at most one event.
fn report(folder: &Path, result: DebounceEventResult) -> Option<RunsEvent> {
    let events = match result {
        Ok(events) => events,
        Err(errors) => {
            let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Some(RunsEvent::Error(messages.join("; ")));
        }
    };
    let mut ids = BTreeSet::new();
    // Events were dropped: something changed, though not known what.
    let mut rescan = false;
    for event in events.iter().filter(|e| !e.kind.is_access()) {
        rescan |= event.need_rescan();
        ids.extend(event.paths.iter().filter_map(|path| run_of(folder, path)));
    }
    (rescan || !ids.is_empty()).then(|| RunsEvent::Changed { ids: ids.into_iter().collect() })
}

/// The run a changed path tells about: the run folder itself, or its run.toml or
/// summary.json; None for the other files and for temporary files.
fn run_of(folder: &Path, path: &Path) -> Option<String> {
    let relative: Vec<PathBuf> = path.strip_prefix(folder).ok()?.iter().map(PathBuf::from).collect();
    let id = relative.first()?.to_string_lossy().into_owned();
    if id.starts_with('.') {
        return None;
    }
    match relative.get(1..) {
        Some([]) => Some(id),
        Some([file]) if file == Path::new(MANIFEST_FILE) || file == Path::new(SUMMARY_FILE) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_manifests_and_summaries_name_a_run() {
        let folder = Path::new("/w/runs");
        let run = |p: &str| run_of(folder, Path::new(p));
        assert_eq!(run("/w/runs/20260101-000000-apg-s1"), Some("20260101-000000-apg-s1".into()));
        assert_eq!(run("/w/runs/20260101-000000-apg-s1/run.toml"), Some("20260101-000000-apg-s1".into()));
        assert_eq!(run("/w/runs/20260101-000000-apg-s1/summary.json"), Some("20260101-000000-apg-s1".into()));
        assert_eq!(run("/w/runs/20260101-000000-apg-s1/metrics.jsonl"), None);
        assert_eq!(run("/w/runs/20260101-000000-apg-s1/log.txt"), None);
        assert_eq!(run("/w/runs/20260101-000000-apg-s1/run.toml.tmp42"), None);
        assert_eq!(run("/w/runs"), None);
        assert_eq!(run("/w/experiments/a.toml"), None);
    }
}
