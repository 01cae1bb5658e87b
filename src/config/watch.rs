//! The file watcher behind hot reload: it watches a workspace's `experiments/`, its
//! `studies/` and the dataset descriptors in use, and reports each saved file once
//! (experiments and descriptors already parsed and checked; a study by its path, since
//! expanding one is the study module's work).
//!
//! Editors save in different ways (in place; vim renames the old file away and writes a new
//! one; VS Code and others write a temporary file and rename it over the old one), and a
//! single save can reach the debouncer as events in two batches. So the watcher does not
//! interpret event kinds: it takes the paths an event batch touched, reads what those files
//! hold now, and reports a file only when that differs from what it last reported.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::config::ConfigError;
use crate::config::experiment::LoadedExperiment;
use crate::data::descriptor::LoadedDescriptor;

/// How long a file must stay quiet before it is reported. Together with the debouncer's
/// tick (a quarter of this) and the parse, a save is reported within about 0.2 s.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// What the watcher reports. Paths are absolute (`std::path::absolute` of what was given).
// Not boxed: a few events per save go through a channel, and the receiver keeps the values.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// An experiment file was created or saved. An `Err` is the error to show until a later
    /// save fixes it; the last good version stays in use meanwhile.
    ExperimentChanged { path: PathBuf, result: Result<LoadedExperiment, ConfigError> },
    /// An experiment file is gone (deleted, or renamed to a name that is not watched).
    ExperimentRemoved { path: PathBuf },
    /// A watched dataset descriptor was saved, or deleted (an `Err` that it cannot be read).
    DatasetChanged { path: PathBuf, result: Result<LoadedDescriptor, ConfigError> },
    /// A study file (`studies/NAME.toml`) was created, saved or removed.
    StudyChanged { path: PathBuf },
    /// The operating system's watcher failed; changes may have been missed.
    Error(String),
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start the file watcher: {0}")]
    Start(#[source] notify::Error),
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
}

/// Watches a workspace until dropped.
pub struct WorkspaceWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl WorkspaceWatcher {
    /// Starts watching `workspace_root/experiments/*.toml`, `workspace_root/studies/*.toml`
    /// (when that folder exists) and `extra_files` (the dataset descriptors in use; their
    /// folders must exist, the files need not).
    ///
    /// `on_event` runs on the watcher's own thread, which also reads and parses the files,
    /// so the UI thread does no file I/O for it; the TUI passes a closure that forwards each
    /// event into its event channel. A file is reported when what it holds differs from what
    /// was last reported for it (the first change after `start` always is), so a save that
    /// reaches the debouncer in two batches, or one that leaves the text as it was, is not
    /// reported twice. Dropping the watcher stops it (within one tick) and then drops
    /// `on_event`.
    pub fn start(
        workspace_root: &Path,
        extra_files: Vec<PathBuf>,
        mut on_event: impl FnMut(WatchEvent) + Send + 'static,
    ) -> Result<Self, WatchError> {
        let absolute = |path: &Path| {
            std::path::absolute(path).map_err(|e| WatchError::Watch { path: path.to_path_buf(), source: e.into() })
        };
        let experiments_dir = absolute(&workspace_root.join("experiments"))?;
        let extra_files = extra_files.iter().map(|f| absolute(f)).collect::<Result<Vec<_>, _>>()?;

        let studies_dir = absolute(&workspace_root.join("studies"))?;
        let mut folders = vec![experiments_dir.clone()];
        if studies_dir.is_dir() {
            folders.push(studies_dir.clone());
        }
        for file in &extra_files {
            let folder = file.parent().map(Path::to_path_buf).unwrap_or_default();
            if !folders.contains(&folder) {
                folders.push(folder);
            }
        }

        let mut tracker = Tracker { experiments_dir, studies_dir, extra_files, reported: HashMap::new() };
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result| {
            for event in tracker.handle(result) {
                on_event(event);
            }
        })
        .map_err(WatchError::Start)?;
        for folder in folders {
            debouncer
                .watch(&folder, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError::Watch { path: folder, source })?;
        }
        Ok(WorkspaceWatcher { _debouncer: debouncer })
    }
}

/// What a watched file holds at the moment it is looked at.
#[derive(Debug, PartialEq)]
enum Contents {
    Missing,
    Text(String),
    Unreadable(String),
}

impl Contents {
    fn read(path: &Path) -> Self {
        match crate::toml_error::read_regular(path) {
            Ok(text) => Contents::Text(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Contents::Missing,
            Err(e) => Contents::Unreadable(e.to_string()),
        }
    }
}

/// The files the watcher reports on, and what it last reported for each.
struct Tracker {
    experiments_dir: PathBuf,
    studies_dir: PathBuf,
    extra_files: Vec<PathBuf>,
    reported: HashMap<PathBuf, Contents>,
}

impl Tracker {
    /// Turns one debounced batch into at most one event per watched file.
    fn handle(&mut self, result: DebounceEventResult) -> Vec<WatchEvent> {
        let events = match result {
            Ok(events) => events,
            Err(errors) => return errors.iter().map(|e| WatchEvent::Error(e.to_string())).collect(),
        };
        let mut touched = BTreeSet::new();
        for event in &events {
            if event.need_rescan() {
                // The system dropped events: look at everything that could have changed.
                touched.extend(self.reported.keys().cloned());
                touched.extend(self.extra_files.iter().cloned());
                for folder in [&self.experiments_dir, &self.studies_dir] {
                    if let Ok(entries) = std::fs::read_dir(folder) {
                        touched.extend(entries.filter_map(|entry| entry.ok().map(|e| e.path())));
                    }
                }
            } else if !event.kind.is_access() {
                // Access events are opens and closes (our own reads among them); every
                // change of content also arrives as a create, modify, rename or remove.
                touched.extend(event.paths.iter().cloned());
            }
        }
        touched.into_iter().filter_map(|path| self.report(path)).collect()
    }

    /// The event for `path` if it is watched and holds something new since last reported.
    fn report(&mut self, path: PathBuf) -> Option<WatchEvent> {
        let is_dataset = self.extra_files.contains(&path);
        let is_study = toml_in(&self.studies_dir, &path);
        if !is_dataset && !is_study && !toml_in(&self.experiments_dir, &path) {
            return None;
        }
        let contents = Contents::read(&path);
        if self.reported.get(&path) == Some(&contents) {
            return None;
        }
        if is_study {
            self.reported.insert(path.clone(), contents);
            return Some(WatchEvent::StudyChanged { path });
        }
        let text = match &contents {
            Contents::Text(text) => Ok(text.as_str()),
            Contents::Missing if !is_dataset => {
                self.reported.insert(path.clone(), contents);
                return Some(WatchEvent::ExperimentRemoved { path });
            }
            Contents::Missing => Err(ConfigError::whole_file(&path, "cannot read: no such file")),
            Contents::Unreadable(message) => Err(ConfigError::whole_file(&path, format!("cannot read: {message}"))),
        };
        let event = if is_dataset {
            let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let result = text.and_then(|text| LoadedDescriptor::from_text(&path, text, base_dir));
            WatchEvent::DatasetChanged { path: path.clone(), result }
        } else {
            let result = text.and_then(|text| LoadedExperiment::from_text(&path, text));
            WatchEvent::ExperimentChanged { path: path.clone(), result }
        };
        self.reported.insert(path, contents);
        Some(event)
    }
}

/// `folder/NAME.toml`, leaving out hidden files (editors' lock and swap files).
fn toml_in(folder: &Path, path: &Path) -> bool {
    let visible = path.file_name().is_some_and(|name| !name.to_string_lossy().starts_with('.'));
    path.parent() == Some(folder) && path.extension().is_some_and(|ext| ext == "toml") && visible
}
