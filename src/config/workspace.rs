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
        let settings = match std::fs::read_to_string(&file) {
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
