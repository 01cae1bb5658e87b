//! Temporary files that writers which died left in run folders: found and removed when a
//! run folder is read (`runs list`, `runs show`, the Runs panel) or a new run starts in
//! the workspace, never while their writer lives.

use std::path::{Path, PathBuf};

use crate::runs::{CHECKPOINT_FILE, CONFIG_FILE, MANIFEST_FILE, Manifest, RunStatus, SUMMARY_FILE};

/// Removes the debris of dead writers from the run folder `dir`: temporary files named
/// after a process that no longer runs (`run.toml.tmp4242`), and, when `manifest` says
/// the run has ended, the unnamed temporary files of older apg-bench versions
/// (`model.safetensors.tmp`). Returns what was removed; in a read-only folder nothing is.
pub fn sweep_run(dir: &Path, manifest: Option<&Manifest>) -> Vec<PathBuf> {
    let mut removed = crate::process::sweep_temporaries(dir);
    if manifest.is_some_and(|m| m.status != RunStatus::Running) {
        for file in [MANIFEST_FILE, CONFIG_FILE, SUMMARY_FILE, CHECKPOINT_FILE] {
            let legacy = dir.join(format!("{file}.tmp"));
            if legacy.is_file() && std::fs::remove_file(&legacy).is_ok() {
                removed.push(legacy);
            }
        }
    }
    removed
}

/// [`sweep_run`] on every run folder in `runs`, reading no manifest: only the files of
/// dead processes go.
pub fn sweep_runs_folder(runs: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else { return };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            sweep_run(&entry.path(), None);
        }
    }
}
