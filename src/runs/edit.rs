//! What a user changes in the history: tags and a note in a run's run.toml, and deletion
//! to the workspace's trash folder, from which a run can be restored.

use std::path::{Path, PathBuf};

use crate::runs::history::{RUNS_FOLDER, TRASH_FOLDER, folder_names, resolve_name};
use crate::runs::{Manifest, RunError, RunStatus, read_manifest};

/// The folder of the run `query` names in `folder` (`runs/` or the trash).
fn find(workspace: &Path, folder: &str, query: &str) -> Result<PathBuf, RunError> {
    if !workspace.is_dir() {
        return Err(RunError::NoWorkspace { path: workspace.to_path_buf() });
    }
    let folder = workspace.join(folder);
    let names = folder_names(&folder)?;
    let name = resolve_name(names.iter().map(String::as_str), query, &folder)?;
    Ok(folder.join(name))
}

/// The manifest of a run that may be changed: not one that is still running, whose writer
/// would overwrite the change.
fn editable(dir: &Path) -> Result<Manifest, RunError> {
    let manifest = read_manifest(dir)?;
    if manifest.status == RunStatus::Running {
        return Err(RunError::StillRunning { id: manifest.id, pid: manifest.pid, host: manifest.host });
    }
    Ok(manifest)
}

/// Adds `tag` to the run (or removes it, with `remove`); returns the manifest as written.
pub fn tag(workspace: &Path, query: &str, tag: &str, remove: bool) -> Result<Manifest, RunError> {
    if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c == ',') {
        return Err(RunError::BadTag { tag: tag.to_string() });
    }
    let dir = find(workspace, RUNS_FOLDER, query)?;
    let mut manifest = editable(&dir)?;
    if remove {
        manifest.tags.retain(|t| t != tag);
    } else if !manifest.tags.iter().any(|t| t == tag) {
        manifest.tags.push(tag.to_string());
    }
    manifest.write(&dir)?;
    Ok(manifest)
}

/// Replaces the run's note (an empty text clears it); returns the manifest as written.
pub fn note(workspace: &Path, query: &str, text: &str) -> Result<Manifest, RunError> {
    let dir = find(workspace, RUNS_FOLDER, query)?;
    let mut manifest = editable(&dir)?;
    manifest.note = text.trim().to_string();
    manifest.write(&dir)?;
    Ok(manifest)
}

/// Moves the run to `<workspace>/.trash/<id>`; returns where it went. A folder whose
/// run.toml is unreadable may be trashed too: that is how a broken run is cleared away.
pub fn trash(workspace: &Path, query: &str) -> Result<PathBuf, RunError> {
    let dir = find(workspace, RUNS_FOLDER, query)?;
    match editable(&dir) {
        Ok(_) | Err(RunError::Manifest(_) | RunError::Io { .. }) => {}
        Err(other) => return Err(other),
    }
    move_run(&dir, &workspace.join(TRASH_FOLDER))
}

/// Moves a run from the trash back to `runs/`; returns where it went.
pub fn restore(workspace: &Path, query: &str) -> Result<PathBuf, RunError> {
    let dir = find(workspace, TRASH_FOLDER, query)?;
    move_run(&dir, &workspace.join(RUNS_FOLDER))
}

fn move_run(dir: &Path, to_folder: &Path) -> Result<PathBuf, RunError> {
    std::fs::create_dir_all(to_folder).map_err(|error| RunError::Io {
        action: "create",
        path: to_folder.to_path_buf(),
        error,
    })?;
    let target = to_folder.join(dir.file_name().unwrap_or_default());
    if target.exists() {
        return Err(RunError::Occupied { path: target });
    }
    std::fs::rename(dir, &target).map_err(|error| RunError::Io { action: "move", path: dir.to_path_buf(), error })?;
    Ok(target)
}
