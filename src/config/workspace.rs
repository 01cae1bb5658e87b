//! `workspace.toml`: a workspace's name and the defaults its experiments share.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{ConfigError, parse_toml};
use crate::data::descriptor::DEFAULT_DATASET;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceFile {
    #[serde(default)]
    pub name: Option<String>,
    /// Dataset descriptor (path relative to the workspace, or a built-in name).
    #[serde(default)]
    pub dataset: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub name: String,
    pub dataset: String,
}

impl Workspace {
    /// Opens a workspace folder; `workspace.toml` is optional.
    pub fn open(root: &Path) -> Result<Self, ConfigError> {
        if !root.is_dir() {
            return Err(ConfigError::whole_file(root, "no such workspace folder"));
        }
        let file = root.join("workspace.toml");
        let settings = match crate::toml_error::read_regular(&file) {
            Ok(text) => parse_toml::<WorkspaceFile>(&file, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => WorkspaceFile { name: None, dataset: None },
            Err(e) => return Err(ConfigError::whole_file(&file, format!("cannot read: {e}"))),
        };
        let folder_name =
            root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "workspace".into());
        Ok(Workspace {
            root: root.to_path_buf(),
            name: settings.name.unwrap_or(folder_name),
            dataset: settings.dataset.unwrap_or_else(|| DEFAULT_DATASET.to_string()),
        })
    }

    /// The dataset reference resolved against the workspace: a path if one exists
    /// there, else the name as given (a built-in or a path from the current folder).
    pub fn dataset_reference(&self) -> String {
        let in_workspace = self.root.join(&self.dataset);
        if in_workspace.exists() { in_workspace.display().to_string() } else { self.dataset.clone() }
    }
}

/// The workspace a command uses when none is named: the nearest folder from `start`
/// upwards that is one (like git finds its repository), else the demo workspace under
/// `start`, which is how the workbench opens from the project's own folder.
pub fn discover(start: &Path) -> Result<PathBuf, ConfigError> {
    if let Some(found) = start.ancestors().find(|folder| is_workspace(folder)) {
        return Ok(found.to_path_buf());
    }
    let demo = start.join(DEMO_WORKSPACE);
    if demo.is_dir() {
        return Ok(demo);
    }
    Err(ConfigError::whole_file(
        start,
        format!(
            "no workspace here or in any folder above (a workspace holds workspace.toml, experiments/ or \
             runs/): pass --workspace PATH, or run from inside one (the demo is {DEMO_WORKSPACE} in the \
             apg-bench folder)"
        ),
    ))
}

/// Where the demo workspace lies in the apg-bench folder.
pub const DEMO_WORKSPACE: &str = "workspaces/demo";

/// A folder is a workspace when it has its settings file, experiments or runs.
fn is_workspace(folder: &Path) -> bool {
    folder.join("workspace.toml").is_file() || folder.join("experiments").is_dir() || folder.join("runs").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_workspace_upwards_is_found() {
        let root = tempfile::tempdir().unwrap();
        let outer = root.path().join("outer");
        let inner = outer.join("projects/inner");
        std::fs::create_dir_all(inner.join("experiments/deep/er")).unwrap();
        std::fs::write(outer.join("workspace.toml"), "").unwrap();
        assert_eq!(discover(&inner.join("experiments/deep/er")).unwrap(), inner);
        assert_eq!(discover(&outer.join("projects")).unwrap(), outer);
        assert_eq!(discover(&outer).unwrap(), outer);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_in_place_of_workspace_toml_is_an_error_not_a_hang() {
        let root = tempfile::tempdir().unwrap();
        let fifo =
            std::ffi::CString::new(root.path().join("workspace.toml").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let (sender, receiver) = std::sync::mpsc::channel();
        let path = root.path().to_path_buf();
        std::thread::spawn(move || sender.send(Workspace::open(&path).map(|_| ()).map_err(|e| e.to_string())));
        let opened = receiver.recv_timeout(std::time::Duration::from_secs(20)).expect("opening hung on the FIFO");
        assert!(opened.unwrap_err().contains("not a regular file"));
    }

    #[test]
    fn a_runs_folder_marks_a_workspace_too() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("w/runs/20260101-000000-x-s1")).unwrap();
        let run = root.path().join("w/runs/20260101-000000-x-s1");
        assert_eq!(discover(&run).unwrap(), root.path().join("w"));
    }

    #[test]
    fn the_demo_is_the_fallback_and_otherwise_the_error_says_what_to_do() {
        let root = tempfile::tempdir().unwrap();
        assert!(
            !root.path().ancestors().any(is_workspace),
            "a folder above {} looks like a workspace: this test needs a clean temporary folder",
            root.path().display()
        );
        let error = discover(root.path()).unwrap_err().to_string();
        assert!(error.contains("--workspace"), "{error}");
        std::fs::create_dir_all(root.path().join(DEMO_WORKSPACE)).unwrap();
        assert_eq!(discover(root.path()).unwrap(), root.path().join(DEMO_WORKSPACE));
    }
}
