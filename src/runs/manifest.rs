//! `run.toml`: what a run is (experiment, seed, device, hashes) and how it stands.
//! Written atomically on every change, so a reader never sees half a manifest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::parse_toml;
use crate::process::ProcessId;
use crate::runs::{RunError, write_atomic};

pub const MANIFEST_FILE: &str = "run.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    /// Ended by a signal, or its process died while it was running.
    Interrupted,
    /// Stopped on request (the TUI's stop); tested on the best model so far.
    Stopped,
    /// The training loss became non-finite or exploded; not tested (`error` says where).
    Diverged,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Stopped => "stopped",
            RunStatus::Diverged => "diverged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The run folder's name.
    pub id: String,
    /// The experiment's name.
    pub experiment: String,
    /// The experiment file, relative to the workspace when it lies inside it.
    pub experiment_path: PathBuf,
    pub status: RunStatus,
    /// RFC 3339, UTC.
    pub started: String,
    /// RFC 3339, UTC; absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    pub host: String,
    /// The process that writes the run: a `running` run whose process is gone was interrupted.
    pub pid: u32,
    /// When that process started (clock ticks since boot, Linux's /proc/PID/stat field
    /// 22), and the boot it ran in: together with the pid they tell the writer from a
    /// later process that reuses its pid. Absent from manifests of older versions (the
    /// pid alone is checked then) and where the system cannot tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    pub device: crate::config::Device,
    pub seed: u64,
    /// The apg-bench version that ran it.
    pub version: String,
    /// Hex hash of the resolved experiment without its seed: repeats share it.
    pub config_hash: String,
    /// Fingerprint of the encoded dataset; empty until the data is loaded.
    #[serde(default)]
    pub dataset_fingerprint: String,
    /// The run this one continues or derives from; empty for none.
    #[serde(default)]
    pub parent: String,
    /// Why a failed run failed, where a diverged run diverged, or why a run ended early
    /// (its process died, it was stopped before training).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Labels a user gave the run (`runs tag`); absent from manifests written before tags existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A user's free-text note (`runs note`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Manifest {
    pub fn write(&self, dir: &Path) -> Result<(), RunError> {
        let path = dir.join(MANIFEST_FILE);
        let text =
            toml::to_string(self).map_err(|e| RunError::Encode { path: path.clone(), message: e.to_string() })?;
        write_atomic(&path, text.as_bytes())
    }

    /// The process that writes the run, as far as the manifest tells.
    pub fn writer(&self) -> ProcessId {
        ProcessId { pid: self.pid, start_ticks: self.pid_start, boot_id: self.boot_id.clone() }
    }
}

/// Reads `dir/run.toml`. A run that says `running` but whose process no longer runs on
/// this host (no process with its pid, or one started at another time or boot: the pid
/// was reused) died without closing its folder: it is reported as `interrupted`, with why.
pub fn read_manifest(dir: &Path) -> Result<Manifest, RunError> {
    let path = dir.join(MANIFEST_FILE);
    let text =
        crate::runs::read_text(&path).map_err(|error| RunError::Io { action: "read", path: path.clone(), error })?;
    let mut manifest: Manifest = parse_toml(&path, &text)?;
    if manifest.status == RunStatus::Running && manifest.host == hostname() && !manifest.writer().is_alive() {
        manifest.status = RunStatus::Interrupted;
        if manifest.error.is_none() {
            manifest.error = Some(format!("its process (pid {}) died while it ran", manifest.pid));
        }
    }
    Ok(manifest)
}

/// This machine's name, as far as it can be learnt without a system call.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
