//! Slurm scale-out: a study's pending runs as one sbatch job array (a task per run, each
//! calling the headless `apg-bench run` on the variant's expanded experiment file), the
//! submitted jobs recorded in the study's folder, and what `squeue`/`sacct` say of them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::study::Study;
use crate::study::status::{Slot, State};

/// The file, in the study's `slurm/` folder, that lists the jobs submitted for it.
const JOBS_FILE: &str = "jobs.json";

/// What the tasks of a job array ask Slurm for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub partition: Option<String>,
    /// Slurm's time limit, as `1:00:00`.
    pub time: Option<String>,
    /// CPUs per task (the run's threads).
    pub cpus: usize,
    /// GPUs per task; the experiments' `device` decides whether a run uses one.
    pub gpus: usize,
}

/// One submitted job array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub script: PathBuf,
    /// RFC 3339, UTC.
    pub submitted: String,
    /// Task i runs `tasks[i]`.
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub variant: String,
    pub seed: u64,
}

/// The folder of a study's scripts, task logs and job list.
pub fn folder(study: &Study) -> PathBuf {
    study.folder().join("slurm")
}

/// A string as one word of a shell command.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The sbatch script that runs `todo` (variant index, seed) of `study` as a job array,
/// calling `program` (this apg-bench); its task logs go to `logs` (`%A` job, `%a` task).
pub fn script(study: &Study, todo: &[(usize, u64)], resources: &Resources, program: &Path, logs: &Path) -> String {
    let mut out = format!(
        "#!/bin/bash\n# Study {}: {} runs as a Slurm job array, written by `apg-bench study run {} --slurm`.\n",
        study.name,
        todo.len(),
        study.name
    );
    out += &format!("#SBATCH --job-name=apg-{}\n", study.name);
    out += &format!("#SBATCH --array=0-{}\n", todo.len().saturating_sub(1));
    out += &format!("#SBATCH --cpus-per-task={}\n", resources.cpus.max(1));
    out += &format!("#SBATCH --output={}\n", logs.join("task-%A_%a.out").display());
    if let Some(partition) = &resources.partition {
        out += &format!("#SBATCH --partition={partition}\n");
    }
    if let Some(time) = &resources.time {
        out += &format!("#SBATCH --time={time}\n");
    }
    if resources.gpus > 0 {
        out += &format!("#SBATCH --gres=gpu:{}\n", resources.gpus);
    }
    out += "set -eu\n# Task i: the expanded experiment file and the seed.\ntasks=(\n";
    // Absolute paths: a task starts wherever Slurm starts it.
    let absolute = |path: &Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    for &(variant, seed) in todo {
        let file = absolute(&study.variants[variant].experiment.file);
        out += &format!("  {}\n", quoted(&format!("{} {seed}", file.display())));
    }
    out += ")\n";
    out += "task=\"${tasks[$SLURM_ARRAY_TASK_ID]}\"\nexperiment=\"${task% *}\"\nseed=\"${task##* }\"\n";
    out += &format!(
        "# The run's threads: the CPUs Slurm gave the task.\nexport RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-{}}}\"\n",
        resources.cpus.max(1)
    );
    out += &format!(
        "exec {} --workspace {} run \"$experiment\" --seed \"$seed\"\n",
        quoted(&program.display().to_string()),
        quoted(&absolute(&study.workspace).display().to_string())
    );
    out
}

/// The jobs submitted for `study` so far (none when it has no job list).
pub fn jobs(study: &Study) -> Result<Vec<Job>, String> {
    let path = folder(study).join(JOBS_FILE);
    match crate::toml_error::read_regular(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: not a job list: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the script for `todo`, submits it with `sbatch` and adds the job to the
/// study's job list. Returns the job.
pub fn submit(study: &Study, todo: &[(usize, u64)], resources: &Resources) -> Result<Job, String> {
    let folder = folder(study);
    std::fs::create_dir_all(&folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let program = std::env::current_exe().map_err(|e| format!("cannot tell where apg-bench is: {e}"))?;
    let now = crate::runs::UtcTime::now();
    let path = folder.join(format!("{}.sbatch", now.compact()));
    let folder = folder.canonicalize().unwrap_or(folder);
    std::fs::write(&path, script(study, todo, resources, &program, &folder))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let output = Command::new("sbatch").arg("--parsable").arg(&path).output().map_err(|e| {
        format!("cannot run sbatch: {e} (is Slurm installed? scripts/slurm-local.sh starts a one-node cluster)")
    })?;
    if !output.status.success() {
        return Err(format!("sbatch {} failed: {}", path.display(), String::from_utf8_lossy(&output.stderr).trim()));
    }
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let printed = String::from_utf8_lossy(&output.stdout);
    let id = printed.trim().split(';').next().unwrap_or_default().to_string();
    if id.is_empty() {
        return Err(format!("sbatch {} printed no job id", path.display()));
    }
    let tasks =
        todo.iter().map(|&(variant, seed)| Task { variant: study.variants[variant].name.clone(), seed }).collect();
    let job = Job { id, script: path, submitted: now.rfc3339(), tasks };
    let mut all = jobs(study)?;
    all.push(job.clone());
    let text = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
    crate::config::edit::write_atomically(&folder.join(JOBS_FILE), &text)?;
    Ok(job)
}

/// The state Slurm reports for each task of `jobs` it still knows, as
/// (job id, task index, state: `PENDING`, `RUNNING`, `FAILED`...): `squeue` for the
/// queued and running tasks, `sacct` (where accounting is on) for the ended ones.
pub fn task_states(jobs: &[Job]) -> Result<Vec<(String, usize, String)>, String> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let squeue = Command::new("squeue")
        .args(["-h", "-r", "-o", "%i %T", "-j", &ids.join(",")])
        .output()
        .map_err(|e| format!("cannot run squeue: {e}"))?;
    let mut states = Vec::new();
    // squeue fails for ids it no longer knows; that is every task having ended.
    if squeue.status.success() {
        parse_states(&String::from_utf8_lossy(&squeue.stdout), ' ', &mut states);
    }
    if let Ok(sacct) = Command::new("sacct").args(["-n", "-P", "-o", "JobID,State", "-j", &ids.join(",")]).output()
        && sacct.status.success()
    {
        let mut ended = Vec::new();
        parse_states(&String::from_utf8_lossy(&sacct.stdout), '|', &mut ended);
        for state in ended {
            if !states.iter().any(|(job, task, _)| *job == state.0 && *task == state.1) {
                states.push(state);
            }
        }
    }
    Ok(states)
}

/// Lines `JOB_TASK<separator>STATE` (other lines, such as job steps, skipped).
fn parse_states(text: &str, separator: char, out: &mut Vec<(String, usize, String)>) {
    for line in text.lines() {
        let Some((id, state)) = line.trim().split_once(separator) else { continue };
        let Some((job, task)) = id.split_once('_') else { continue };
        if let Ok(task) = task.parse() {
            let state = state.split_whitespace().next().unwrap_or_default().to_string();
            out.push((job.to_string(), task, state));
        }
    }
}

/// Pending slots whose task Slurm still has queued or running (it has not made its run
/// folder yet) become queued.
pub fn mark_queued(study: &Study, slots: &mut [Slot], jobs: &[Job], states: &[(String, usize, String)]) {
    for (job_id, task, state) in states {
        if !matches!(state.as_str(), "PENDING" | "RUNNING" | "CONFIGURING" | "REQUEUED") {
            continue;
        }
        let Some(t) = jobs.iter().find(|j| &j.id == job_id).and_then(|j| j.tasks.get(*task)) else { continue };
        let slot = slots
            .iter_mut()
            .find(|s| s.seed == t.seed && study.variants[s.variant].name == t.variant && s.state == State::Pending);
        if let Some(slot) = slot {
            slot.state = State::Queued;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_and_sacct_lines_are_read() {
        let mut states = Vec::new();
        parse_states("12_0 RUNNING\n12_1 PENDING\n", ' ', &mut states);
        parse_states("12_2|FAILED\n12_2.batch|FAILED\n13|COMPLETED\n", '|', &mut states);
        assert_eq!(
            states,
            vec![
                ("12".into(), 0, "RUNNING".into()),
                ("12".into(), 1, "PENDING".into()),
                ("12".into(), 2, "FAILED".into()),
            ]
        );
        assert_eq!(quoted("it's"), "'it'\\''s'");
    }
}
