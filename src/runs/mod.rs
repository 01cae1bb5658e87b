//! Run folders (`<workspace>/runs/<run-id>/`): the writer that turns a trainer's events
//! into files as they happen, and the history that reads them back to list, filter,
//! group, compare, diff and export them. Nothing here knows of the terminal: the headless
//! `runs` commands and the TUI's Runs panel are front ends of the same functions.

pub mod columns;
pub mod compare;
mod debris;
pub mod diff;
pub mod edit;
pub mod export;
pub mod filter;
pub mod groups;
pub mod history;
mod manifest;
pub mod recorded;
mod time;
pub mod watch;
mod writer;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use columns::RunRow;
pub use debris::{sweep_run, sweep_runs_folder};
pub use history::{History, Problem, Run, resolve_name};
pub use manifest::{MANIFEST_FILE, Manifest, RunStatus, hostname, read_manifest};
pub use time::UtcTime;
pub use writer::{
    CHECKPOINT_FILE, CONFIG_FILE, LOG_FILE, METRICS_FILE, RunWriter, STOPPED_BEFORE_TRAINING, SUMMARY_FILE,
    config_hash, eval_headline, phase_label, run_config_hash, workspace_of,
};

/// Reads a run file as text, refusing anything but a regular file: a FIFO put in place
/// of metrics.jsonl would block `read_to_string` until a writer comes, hanging every
/// listing of the history. A missing file is still NotFound.
pub(crate) fn read_text(path: &Path) -> std::io::Result<String> {
    crate::toml_error::read_regular(path)
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Manifest(#[from] crate::config::ConfigError),

    #[error("cannot {action} {}: {error}", path.display())]
    Io { action: &'static str, path: PathBuf, error: std::io::Error },

    #[error("cannot encode {}: {message}", path.display())]
    Encode { path: PathBuf, message: String },

    #[error("no workspace folder {}", path.display())]
    NoWorkspace { path: PathBuf },

    #[error("no run matches `{query}` in {}", folder.display())]
    NoMatch { query: String, folder: PathBuf },

    #[error("the run cannot be read: {problem}")]
    Unreadable { problem: String },

    #[error("`{query}` matches {} runs; give more of the id:\n  {}", candidates.len(), candidates.join("\n  "))]
    Ambiguous { query: String, candidates: Vec<String> },

    #[error("`{query}` names {} configurations; name one by its config hash (or one of its runs):\n  {}", candidates.len(), candidates.join("\n  "))]
    AmbiguousGroup { query: String, candidates: Vec<String> },

    #[error(
        "these runs trained on different data, so their deltas would mix the data's difference with the \
         models' (pass --force to compare them anyway):\n  {}",
        entries.join("\n  ")
    )]
    DifferentData { entries: Vec<String> },

    #[error("nothing to compare: name runs (or groups with --group)")]
    NothingToCompare,

    #[error("run {id} is still running (pid {pid} on {host}): change it once it has ended")]
    StillRunning { id: String, pid: u32, host: String },

    #[error("{} exists already: move or delete it first", path.display())]
    Occupied { path: PathBuf },

    #[error("bad tag {tag:?}: a tag is one word, without spaces or commas")]
    BadTag { tag: String },

    #[error("cannot start a run in {}: {error} (its partial folder was removed)", dir.display())]
    NotStarted { dir: PathBuf, error: Box<RunError> },

    #[error("run {id} {status}{}, but its {MANIFEST_FILE} could not say so ({error}); it reads as interrupted once this process has ended", reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    EndNotRecorded { id: String, status: &'static str, reason: Option<String>, error: Box<RunError> },
}

/// Replaces `path` by `bytes` all at once: a temporary file beside it (named after this
/// process, see [`crate::process::temporary_path`]), synced, then renamed over it, so a
/// crash leaves the old contents or the new, never a mixture. A failed write removes its
/// temporary file: a full disk leaves the old file as it was and nothing else.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let temporary = crate::process::temporary_path(path);
    let io = |action, path: &Path, error| RunError::Io { action, path: path.to_path_buf(), error };
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(|e| io("write", &temporary, e))
        .and_then(|()| std::fs::rename(&temporary, path).map_err(|e| io("replace", path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The test AUC of run `id` in `workspace`, for RelaImpr against it.
pub fn baseline_auc(workspace: &std::path::Path, id: &str) -> Result<f64, String> {
    let path = workspace.join("runs").join(id).join(SUMMARY_FILE);
    let text = read_text(&path).map_err(|e| format!("no summary of run `{id}` ({}: {e})", path.display()))?;
    let summary: crate::train::RunSummary =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a run summary: {e}", path.display()))?;
    summary.test.and_then(|t| t.auc).ok_or_else(|| format!("run `{id}` has no test AUC"))
}
