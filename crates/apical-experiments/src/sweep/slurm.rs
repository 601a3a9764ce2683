//! The Slurm executor: one array task per unfinished point, then `apical collect` as a job
//! that depends on the array.
//!
//! ```text
//! <sweep-dir>/slurm/array.sbatch   the array script (absolute paths of apical and the sweep)
//! <sweep-dir>/slurm/tasks.txt      array index → point
//! <sweep-dir>/slurm/jobs.txt       the submitted job ids: array, collect
//! <sweep-dir>/slurm/logs/%A_%a.{out,err}
//! ```
//!
//! Each array task runs `apical sweep-task <sweep-dir> <index>`, which runs, resumes or skips
//! its point exactly as the local executor would. Nothing assumes a shared /tmp or the submit
//! host's environment: the script names every path absolutely and sets the working directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::sweep::{PointState, SweepDir, SweepPlan};
use apical_run::RunError;
use apical_store::write_atomic;

use crate::ExperimentError;

/// `--executor slurm` settings.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// The `apical` binary the tasks run (absolute).
    pub exe: PathBuf,
    /// The working directory of the tasks (configs' relative paths resolve from it).
    pub workdir: PathBuf,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<usize>,
    /// `--mem`.
    pub mem: Option<String>,
    /// At most this many array tasks at once (`%K`).
    pub max_parallel: Option<usize>,
    /// Extra `#SBATCH` arguments, verbatim.
    pub sbatch_args: Vec<String>,
    /// Also resubmit points whose last attempt failed.
    pub retry_failed: bool,
    /// Write the script without submitting.
    pub dry_run: bool,
}

/// What a submission did.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The array script.
    pub script: PathBuf,
    /// Points in the array.
    pub points: usize,
    /// The array job's id (none for a dry run or when every point was finished).
    pub array_job: Option<String>,
    /// The dependent collect job's id.
    pub collect_job: Option<String>,
}

fn slurm_error(what: &str, message: impl Into<String>) -> ExperimentError {
    ExperimentError::Slurm {
        command: what.to_string(),
        message: message.into(),
    }
}

/// Runs `program args…`, returning its standard output; a missing program or a failure is a
/// [`ExperimentError::Slurm`] naming the command.
fn call(program: &str, args: &[String]) -> Result<String, ExperimentError> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        slurm_error(
            program,
            format!("cannot run it ({e}); is Slurm installed and SLURM_CONF set?"),
        )
    })?;
    if !out.status.success() {
        // One line: Slurm's last word, without its own "sbatch: error:" prefix.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed without a message");
        let last = last
            .trim()
            .trim_start_matches(&format!("{program}: "))
            .trim_start_matches("error: ")
            .trim_start_matches("fatal: ");
        return Err(slurm_error(program, format!("failed: {last}")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The array script for `tasks` points.
pub fn array_script(dir: &SweepDir, name: &str, tasks: usize, options: &SlurmOptions) -> String {
    let sweep = absolute(&dir.path);
    let logs = sweep.join("slurm/logs");
    let throttle = options
        .max_parallel
        .map(|k| format!("%{k}"))
        .unwrap_or_default();
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!("#SBATCH --job-name=apical-{name}"),
        format!("#SBATCH --array=0-{}{throttle}", tasks.saturating_sub(1)),
        format!("#SBATCH --output={}/%A_%a.out", logs.display()),
        format!("#SBATCH --error={}/%A_%a.err", logs.display()),
        format!("#SBATCH --chdir={}", absolute(&options.workdir).display()),
    ];
    if let Some(p) = &options.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &options.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    if let Some(c) = options.cpus_per_task {
        lines.push(format!("#SBATCH --cpus-per-task={c}"));
    }
    if let Some(m) = &options.mem {
        lines.push(format!("#SBATCH --mem={m}"));
    }
    for extra in &options.sbatch_args {
        lines.push(format!("#SBATCH {extra}"));
    }
    lines.push("set -euo pipefail".into());
    lines.push(format!(
        "exec {} sweep-task {} \"$SLURM_ARRAY_TASK_ID\"",
        quote(&absolute(&options.exe)),
        quote(&sweep)
    ));
    lines.join("\n") + "\n"
}

/// Writes the array script for the unfinished points of `plan` and (unless a dry run)
/// submits it and a dependent `apical collect`.
pub fn submit(
    dir: &SweepDir,
    plan: &SweepPlan,
    options: &SlurmOptions,
) -> Result<Submission, ExperimentError> {
    // Array indices map to lines of tasks.txt: never rewrite it under a queued array.
    if let Some((array, collect)) = submitted_jobs(dir) {
        let queued = queued(dir)?;
        if !queued.is_empty() {
            return Err(RunError::OutputDir {
                path: dir.path.clone(),
                message: format!(
                    "jobs {array} and {collect} of an earlier submission are still queued; wait for them (apical sweep {} --status --wait) or scancel them",
                    dir.path.display()
                ),
            }.into());
        }
    }
    let tasks: Vec<String> = plan
        .points
        .iter()
        .filter(|p| match dir.state(&p.name) {
            PointState::Done(_) | PointState::Running => false,
            PointState::Failed(_) => options.retry_failed,
            _ => true,
        })
        .map(|p| p.name.clone())
        .collect();
    if tasks.is_empty() {
        return Ok(Submission::default());
    }
    // #SBATCH lines are split at whitespace: every path they carry must be free of it.
    for (what, path) in [
        ("the sweep directory", absolute(&dir.path)),
        ("the working directory", absolute(&options.workdir)),
        ("the apical binary", absolute(&options.exe)),
    ] {
        let text = path.display().to_string();
        if text.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            return Err(RunError::Usage {
                message: format!(
                    "{what} {text:?} holds a space or a quote, which #SBATCH lines cannot carry; use a path without them"
                ),
            }.into());
        }
    }
    let max_array = max_array_size();
    if tasks.len() > max_array {
        return Err(RunError::Usage {
            message: format!(
                "{} unfinished points exceed this cluster's MaxArraySize ({max_array}); split the sweep into smaller files",
                tasks.len()
            ),
        }.into());
    }
    let slurm = dir.path.join("slurm");
    std::fs::create_dir_all(slurm.join("logs")).map_err(|source| {
        apical_store::StoreError::Write {
            path: slurm.join("logs"),
            source,
        }
    })?;
    // The job name: the sweep directory's name (its sweep file is always sweep.toml there).
    let name = absolute(&dir.path)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let script = slurm.join("array.sbatch");
    write_atomic(
        &slurm.join("tasks.txt"),
        (tasks.join("\n") + "\n").as_bytes(),
    )?;
    write_atomic(
        &script,
        array_script(dir, &name, tasks.len(), options).as_bytes(),
    )?;
    let mut submission = Submission {
        script: script.clone(),
        points: tasks.len(),
        ..Submission::default()
    };
    if options.dry_run {
        return Ok(submission);
    }
    // A resubmission starts the failed points afresh: their markers go.
    for t in &tasks {
        let _ = std::fs::remove_file(dir.path.join("failed").join(format!("{t}.txt")));
    }
    let parse_id = |out: String| out.split(';').next().unwrap_or("").trim().to_string();
    let array = parse_id(call(
        "sbatch",
        &["--parsable".into(), absolute(&script).display().to_string()],
    )?);
    // Recorded at once, so that --status and a resubmission see the array even if the collect
    // submission fails.
    write_atomic(
        &slurm.join("jobs.txt"),
        format!("array {array}\ncollect none\n").as_bytes(),
    )?;
    let sweep = absolute(&dir.path);
    let collect_cmd = format!(
        "{} collect {}",
        quote(&absolute(&options.exe)),
        quote(&sweep)
    );
    let mut args = vec![
        "--parsable".to_string(),
        // afterany: collect tabulates whatever finished, failed points included.
        format!("--dependency=afterany:{array}"),
        format!("--job-name=apical-{name}-collect"),
        format!(
            "--output={}/collect_%j.out",
            sweep.join("slurm/logs").display()
        ),
        format!("--chdir={}", absolute(&options.workdir).display()),
    ];
    if let Some(p) = &options.partition {
        args.push(format!("--partition={p}"));
    }
    if let Some(t) = &options.time {
        args.push(format!("--time={t}"));
    }
    if let Some(m) = &options.mem {
        args.push(format!("--mem={m}"));
    }
    args.extend(options.sbatch_args.iter().cloned());
    args.push(format!("--wrap={collect_cmd}"));
    let collect = parse_id(call("sbatch", &args)?);
    write_atomic(
        &slurm.join("jobs.txt"),
        format!("array {array}\ncollect {collect}\n").as_bytes(),
    )?;
    submission.array_job = Some(array);
    submission.collect_job = Some(collect);
    Ok(submission)
}

/// The cluster's `MaxArraySize` (Slurm's default, 1001, when `scontrol` cannot tell): an array
/// holds at most this many tasks.
fn max_array_size() -> usize {
    call("scontrol", &["show".into(), "config".into()])
        .ok()
        .and_then(|out| {
            out.lines().find_map(|l| {
                let (key, value) = l.split_once('=')?;
                (key.trim() == "MaxArraySize")
                    .then(|| value.trim().parse().ok())
                    .flatten()
            })
        })
        .unwrap_or(1001)
}

/// The point of array index `index` (`apical sweep-task`).
pub fn task_point(dir: &SweepDir, index: usize) -> Result<String, ExperimentError> {
    let path = dir.path.join("slurm/tasks.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| apical_store::StoreError::Read {
        path: path.clone(),
        source: e.into(),
    })?;
    Ok(text
        .lines()
        .nth(index)
        .map(str::to_string)
        .filter(|point| !point.trim().is_empty() && dir.config(point).is_file())
        .ok_or_else(|| RunError::read(&path, format!("no point at array index {index}")))?)
}

/// The job ids of the last submission: (array, collect).
pub fn submitted_jobs(dir: &SweepDir) -> Option<(String, String)> {
    let text = std::fs::read_to_string(dir.path.join("slurm/jobs.txt")).ok()?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
    };
    Some((
        get("array ")?,
        get("collect ").unwrap_or_else(|| "none".into()),
    ))
}

/// Queue states of the submission's jobs, `(job id or array task, STATE)`, from `squeue`.
pub fn queued(dir: &SweepDir) -> Result<Vec<(String, String)>, ExperimentError> {
    let Some((array, collect)) = submitted_jobs(dir) else {
        return Ok(Vec::new());
    };
    let out = call(
        "squeue",
        &[
            "-h".into(),
            "-j".into(),
            format!("{array},{collect}"),
            "-o".into(),
            "%i %T".into(),
        ],
    )
    .or_else(|e| match e {
        // squeue refuses ids it no longer knows: nothing is queued.
        ExperimentError::Slurm { ref message, .. } if message.contains("Invalid job id") => {
            Ok(String::new())
        }
        other => Err(other),
    })?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, state)| (id.to_string(), state.to_string()))
        .collect())
}

/// Array indices per queue state from `squeue` ids: `123_4` (one task) and `123_[5-7,9%2]`
/// (pending tasks).
pub fn array_states(array: &str, queued: &[(String, String)]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (id, state) in queued {
        let Some(rest) = id.strip_prefix(&format!("{array}_")) else {
            continue;
        };
        if let Ok(index) = rest.parse::<usize>() {
            out.push((index, state.clone()));
            continue;
        }
        let inner = rest
            .trim_start_matches('[')
            .split(['%', ']'])
            .next()
            .unwrap_or("");
        for part in inner.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                out.extend((a..=b).map(|i| (i, state.clone())));
            }
        }
    }
    out
}

/// The final state of a job Slurm still remembers (`scontrol show job`), e.g. COMPLETED.
pub fn job_state(id: &str) -> Option<String> {
    let out = call(
        "scontrol",
        &["show".into(), "job".into(), id.into(), "-o".into()],
    )
    .ok()?;
    out.split_whitespace()
        .find_map(|f| f.strip_prefix("JobState=").map(str::to_string))
}

/// Blocks until none of the submission's jobs is queued (polling `squeue`).
pub fn wait(dir: &SweepDir, poll: Duration) -> Result<(), ExperimentError> {
    while !queued(dir)?.is_empty() {
        std::thread::sleep(poll);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_ids_give_array_indices() {
        let q = vec![
            ("7_3".to_string(), "RUNNING".to_string()),
            ("7_[4-6,9%2]".to_string(), "PENDING".to_string()),
            ("8".to_string(), "PENDING".to_string()),
        ];
        let states = array_states("7", &q);
        assert_eq!(states[0], (3, "RUNNING".into()));
        let pending: Vec<usize> = states[1..].iter().map(|(i, _)| *i).collect();
        assert_eq!(pending, vec![4, 5, 6, 9]);
    }

    #[test]
    fn the_array_script_names_every_path_absolutely() {
        let dir = SweepDir {
            path: PathBuf::from("sweeps/x"),
        };
        let script = array_script(
            &dir,
            "x",
            8,
            &SlurmOptions {
                exe: PathBuf::from("/opt/apical/bin/apical"),
                workdir: PathBuf::from("/work"),
                partition: Some("cpu".into()),
                time: Some("00:10:00".into()),
                max_parallel: Some(3),
                sbatch_args: vec!["--qos=short".into()],
                ..SlurmOptions::default()
            },
        );
        assert!(script.contains("#SBATCH --array=0-7%3\n"), "{script}");
        assert!(script.contains("#SBATCH --partition=cpu\n"));
        assert!(script.contains("#SBATCH --time=00:10:00\n"));
        assert!(script.contains("#SBATCH --qos=short\n"));
        assert!(script.contains("#SBATCH --chdir=/work\n"));
        let cwd = std::env::current_dir().unwrap();
        assert!(script.contains(&format!(
            "--output={}/sweeps/x/slurm/logs/%A_%a.out",
            cwd.display()
        )));
        assert!(script.contains(&format!(
            "exec '/opt/apical/bin/apical' sweep-task '{}/sweeps/x' \"$SLURM_ARRAY_TASK_ID\"",
            cwd.display()
        )));
    }
}
