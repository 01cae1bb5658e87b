//! Which process wrote what: a process's identity (pid, start time, boot) so that a
//! reused pid is not mistaken for the writer, and temporary files named after their
//! writer's pid, swept once that writer is dead.
//!
//! Only Linux can tell whether a process lives (through /proc); elsewhere every process
//! is assumed alive, so nothing is declared dead or swept wrongly.

use std::path::{Path, PathBuf};

/// A process as it can be told apart from a later one that reuses its pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    /// When the process started, in clock ticks since boot (/proc/PID/stat field 22).
    pub start_ticks: Option<u64>,
    /// The boot the process ran in (/proc/sys/kernel/random/boot_id): start times count
    /// from boot, so they only compare within one.
    pub boot_id: Option<String>,
}

impl ProcessId {
    /// This process.
    pub fn current() -> ProcessId {
        let pid = std::process::id();
        ProcessId { pid, start_ticks: start_ticks(pid), boot_id: boot_id() }
    }

    /// Whether this process still runs. Without a recorded start time (written by an
    /// older apg-bench) only the pid is checked, as it was then.
    pub fn is_alive(&self) -> bool {
        if !cfg!(target_os = "linux") {
            return true;
        }
        if let (Some(recorded), Some(now)) = (&self.boot_id, boot_id())
            && *recorded != now
        {
            return false;
        }
        if !pid_exists(self.pid) {
            return false;
        }
        match (self.start_ticks, start_ticks(self.pid)) {
            (Some(recorded), Some(now)) => recorded == now,
            _ => true,
        }
    }
}

/// Whether a process with this pid exists (any process: it may be a reuse).
pub fn pid_exists(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

/// Field 22 of /proc/PID/stat. The second field, the command name in parentheses, may
/// itself hold spaces and parentheses: fields are counted after its last `)`.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_ticks(&stat)
}

fn parse_start_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: field 22 is the 20th of them.
    after_name.split_whitespace().nth(22 - 3)?.parse().ok()
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string()).filter(|id| !id.is_empty())
}

/// `path` with `.tmp<PID>` of this process appended (`run.toml.tmp4242`): where to write
/// before renaming over `path`. The pid tells a later sweep whether the writer lives.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

/// The writer's pid of a temporary file named by [`temporary_path`].
pub fn temporary_writer(name: &str) -> Option<u32> {
    let (stem, pid) = name.rsplit_once(".tmp")?;
    if stem.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Removes the temporary files in `dir` (not below) whose writer has died: those named
/// `NAME.tmp<PID>` with no process `PID`. A live pid, even a reused one, keeps its file:
/// a live writer's temporary file is never removed. Returns what was removed; a file that
/// cannot be removed (a read-only folder) is left alone.
pub fn sweep_temporaries(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temporary_writer) else { continue };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && cfg!(target_os = "linux") && !pid_exists(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pid that no process has: one that has just exited.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn the_start_time_is_field_22_even_after_a_name_with_spaces_and_parentheses() {
        // Fields 3..=21 numbered by their own position, then 22 = 777.
        let fields: Vec<String> = (3..=21).map(|n| n.to_string()).collect();
        let stat = format!("42 (a) b (c) {} 777 23 24\n", fields.join(" "));
        assert_eq!(parse_start_ticks(&stat), Some(777));
        assert_eq!(parse_start_ticks("42 (x) S 1 2"), None);
        assert_eq!(parse_start_ticks("no name"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_is_itself_and_not_a_reuse_of_its_pid() {
        let me = ProcessId::current();
        assert!(me.start_ticks.is_some() && me.boot_id.is_some(), "{me:?}");
        assert!(me.is_alive());
        // The same pid with another start time: a process that died, its pid now reused.
        let reused = ProcessId { start_ticks: me.start_ticks.map(|t| t + 1), ..me.clone() };
        assert!(!reused.is_alive());
        // Another boot: whatever the pid and start time, that process is gone.
        let other_boot = ProcessId { boot_id: Some("another-boot".into()), ..me.clone() };
        assert!(!other_boot.is_alive());
        // Recorded without a start time (older manifests): the pid alone decides.
        assert!(ProcessId { pid: me.pid, start_ticks: None, boot_id: None }.is_alive());
        assert!(!ProcessId { pid: dead_pid(), start_ticks: None, boot_id: None }.is_alive());
    }

    #[test]
    fn temporary_names_carry_their_writer() {
        let path = temporary_path(Path::new("runs/x/run.toml"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, format!("run.toml.tmp{}", std::process::id()));
        assert_eq!(temporary_writer(name), Some(std::process::id()));
        assert_eq!(temporary_writer("data.tmp12"), Some(12));
        for not_temporary in ["run.toml", "run.toml.tmp", ".tmp12", "a.tmp12x", "a.tmpx"] {
            assert_eq!(temporary_writer(not_temporary), None, "{not_temporary}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_sweep_removes_dead_writers_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(format!("model.safetensors.tmp{}", dead_pid()));
        let live = temporary_path(&dir.path().join("run.toml"));
        let plain = dir.path().join("metrics.jsonl");
        let folder = dir.path().join(format!("folder.tmp{}", dead_pid()));
        for file in [&dead, &live, &plain] {
            std::fs::write(file, "x").unwrap();
        }
        std::fs::create_dir(&folder).unwrap();
        assert_eq!(sweep_temporaries(dir.path()), vec![dead.clone()]);
        assert!(!dead.exists());
        assert!(live.exists() && plain.exists() && folder.exists());
    }
}
