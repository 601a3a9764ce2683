//! Running a sweep's points: the sweep directory, each point's state read from its run
//! directory, and the local executor (N worker processes of the `apical` binary).
//!
//! ```text
//! <sweep-dir>/sweep.toml          the resolved sweep file
//! <sweep-dir>/points.csv          point → swept values and overrides
//! <sweep-dir>/configs/<point>.toml  each point's resolved config
//! <sweep-dir>/runs/<point>/       each point's run directory (see `runner`)
//! <sweep-dir>/logs/<point>.log    each worker's stderr
//! <sweep-dir>/failed/<point>.txt  the error of a point whose last attempt failed
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sweep::SweepPlan;
use apical_run::{ExperimentConfig, RunError};
use apical_store::{write_atomic, RunDir, RunStatus, Summary};

use crate::ExperimentError;

/// Where a point stands, read from the sweep directory.
#[derive(Debug, Clone, PartialEq)]
pub enum PointState {
    /// Not started.
    New,
    /// Started (its run directory holds a config) and not finished: resume it.
    Interrupted,
    /// Being run now by another process (its run directory is locked).
    Running,
    /// The last attempt failed (`failed/<point>.txt` holds why).
    Failed(String),
    /// Finished: its `summary.json` is complete (completed or diverged).
    Done(Box<Summary>),
}

impl PointState {
    /// A short word for tables: new, interrupted, failed, completed, diverged.
    pub fn word(&self) -> &'static str {
        match self {
            PointState::New => "new",
            PointState::Interrupted => "interrupted",
            PointState::Running => "running",
            PointState::Failed(_) => "failed",
            PointState::Done(s) if s.status == RunStatus::Diverged => "diverged",
            PointState::Done(_) => "completed",
        }
    }
}

/// A sweep directory.
#[derive(Debug, Clone)]
pub struct SweepDir {
    /// Its path.
    pub path: PathBuf,
}

impl SweepDir {
    /// The run directory of `point`.
    pub fn run_dir(&self, point: &str) -> PathBuf {
        self.path.join("runs").join(point)
    }

    /// The resolved config of `point`.
    pub fn config(&self, point: &str) -> PathBuf {
        self.path.join("configs").join(format!("{point}.toml"))
    }

    fn log(&self, point: &str) -> PathBuf {
        self.path.join("logs").join(format!("{point}.log"))
    }

    /// The failure marker of `point`.
    pub fn failed(&self, point: &str) -> PathBuf {
        self.path.join("failed").join(format!("{point}.txt"))
    }

    /// Writes `sweep.toml`, `points.csv` and every point's config; refuses a directory that
    /// holds a different sweep (the resolved files differ).
    pub fn prepare(path: &Path, plan: &SweepPlan) -> Result<Self, ExperimentError> {
        Self::prepare_as(path, plan, false)
    }

    /// Like [`prepare`](Self::prepare), but a directory whose sweep had other grid values is
    /// taken over (its `sweep.toml` rewritten) as long as every point that ran there is a point
    /// of `plan` with the same config: how `apical fewshot` adds seeds or n values to a study.
    pub fn prepare_extending(path: &Path, plan: &SweepPlan) -> Result<Self, ExperimentError> {
        Self::prepare_as(path, plan, true)
    }

    fn prepare_as(path: &Path, plan: &SweepPlan, extending: bool) -> Result<Self, ExperimentError> {
        let dir = Self {
            path: path.to_path_buf(),
        };
        let sweep_file = path.join("sweep.toml");
        if let Ok(existing) = std::fs::read_to_string(&sweep_file) {
            if existing != plan.resolved && !extending {
                return Err(RunError::OutputDir {
                    path: path.to_path_buf(),
                    message: format!(
                        "holds a different sweep (its sweep.toml differs from {}); pick another --out",
                        plan.file.display()
                    ),
                }.into());
            }
        } else if path.exists() && std::fs::read_dir(path).is_ok_and(|mut e| e.next().is_some()) {
            return Err(RunError::OutputDir {
                path: path.to_path_buf(),
                message: "exists, is not empty and is not a sweep directory; pick another --out"
                    .into(),
            }
            .into());
        }
        // A point that already ran must have run this very config (an edited base changes it).
        for p in &plan.points {
            let ran = RunDir::new(dir.run_dir(&p.name)).config();
            if let Ok(text) = std::fs::read_to_string(&ran) {
                // Compared as configs: the run's config.toml read back (its comments, and keys
                // an older apical did not write, taking their defaults) against this point's.
                let same = ExperimentConfig::parse(&text, &ran, &[])
                    .is_ok_and(|ran_config| ran_config.to_toml() == p.config.to_toml());
                if !same {
                    return Err(RunError::OutputDir {
                        path: path.to_path_buf(),
                        message: format!(
                            "point {} ran with a different config than the sweep now gives ({} differs; was the base config edited?); pick another --out",
                            p.name,
                            ran.display()
                        ),
                    }.into());
                }
            }
        }
        write_atomic(&sweep_file, plan.resolved.as_bytes())?;
        write_atomic(&path.join("points.csv"), plan.points_csv().as_bytes())?;
        for p in &plan.points {
            write_atomic(&dir.config(&p.name), p.config.to_toml().as_bytes())?;
        }
        Ok(dir)
    }

    /// The state of `point`.
    pub fn state(&self, point: &str) -> PointState {
        let run = self.run_dir(point);
        if let Ok(summary) = Summary::read(&run) {
            return PointState::Done(Box::new(summary));
        }
        if let Ok(reason) = std::fs::read_to_string(self.failed(point)) {
            return PointState::Failed(reason.trim().to_string());
        }
        if apical_store::is_held(&run) {
            PointState::Running
        } else if RunDir::new(&run).config().is_file() {
            PointState::Interrupted
        } else {
            PointState::New
        }
    }
}

/// How `apical sweep` runs locally.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The `apical` binary the workers run.
    pub exe: PathBuf,
    /// Worker processes at once.
    pub jobs: usize,
    /// Also run points whose last attempt failed.
    pub retry_failed: bool,
    /// Draw a progress bar.
    pub progress: bool,
    /// Set to a signal number to stop: running workers are stopped (they resume next time).
    pub stop: Option<Arc<AtomicUsize>>,
    /// The threads the user chose (`APICAL_THREADS`, else `MATMUL_NUM_THREADS`, as the binary
    /// read them): every worker gets them; `None`: each gets an equal share of the cores.
    pub user_threads: Option<std::ffi::OsString>,
}

/// What a local sweep did.
#[derive(Debug, Clone, Default)]
pub struct SweepOutcome {
    /// Points finished before this invocation (skipped).
    pub skipped: usize,
    /// Points that finished now.
    pub finished: usize,
    /// Points that failed (now, or before and not retried), with why.
    pub failed: Vec<(String, String)>,
}

struct Worker {
    /// Which sweep (index into the list being run).
    sweep: usize,
    point: String,
    child: Child,
    started: Instant,
}

/// The last non-empty line of a worker's log: its error.
fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "exited without a message".into())
}

/// The `apical` arguments that continue `point` whatever happened before: `resume` when its run
/// directory holds a config (started, interrupted, or failed part-way), else `run` (a directory
/// left without a config by an attempt killed at its very start is removed first).
pub fn worker_args(dir: &SweepDir, point: &str) -> Vec<std::ffi::OsString> {
    let run = dir.run_dir(point);
    if RunDir::new(&run).config().is_file() {
        vec!["resume".into(), run.into_os_string()]
    } else {
        if run.exists() {
            let _ = std::fs::remove_dir_all(&run);
        }
        vec![
            "run".into(),
            dir.config(point).into_os_string(),
            "--out".into(),
            run.into_os_string(),
        ]
    }
}

/// Runs every unfinished point of `plan` in `dir` with `options.jobs` workers. Finished points
/// are skipped, interrupted ones resumed from their checkpoint, failed ones retried only with
/// `retry_failed`; a failing point never stops the others.
pub fn run_local(
    dir: &SweepDir,
    plan: &SweepPlan,
    options: &LocalOptions,
) -> Result<SweepOutcome, ExperimentError> {
    let mut outcomes = run_local_many(&[(dir, plan)], options)?;
    Ok(outcomes.pop().unwrap_or_default())
}

/// [`run_local`] for several sweeps sharing one pool of `options.jobs` workers (no worker idles
/// at the end of one sweep while another has points left). Progress lines name each point by
/// its sweep directory when there is more than one. One outcome per sweep, in order.
pub fn run_local_many(
    sweeps: &[(&SweepDir, &SweepPlan)],
    options: &LocalOptions,
) -> Result<Vec<SweepOutcome>, ExperimentError> {
    let mut outcomes = vec![SweepOutcome::default(); sweeps.len()];
    let mut queue: Vec<(usize, String)> = Vec::new();
    for (i, (dir, plan)) in sweeps.iter().enumerate() {
        for p in &plan.points {
            match dir.state(&p.name) {
                PointState::Done(_) => outcomes[i].skipped += 1,
                // Another process runs it; it counts as theirs.
                PointState::Running => outcomes[i].skipped += 1,
                PointState::Failed(reason) if !options.retry_failed => {
                    outcomes[i].failed.push((p.name.clone(), reason));
                }
                _ => queue.push((i, p.name.clone())),
            }
        }
    }
    let total: usize = sweeps.iter().map(|(_, p)| p.points.len()).sum();
    let bar = if options.progress {
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} sweep [{bar:30}] {pos}/{len} points ({elapsed}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let already: usize = outcomes.iter().map(|o| o.skipped + o.failed.len()).sum();
    bar.set_position(already as u64);
    // Points this invocation has ended, and when it started: the ETA of the log lines.
    let ran_here = std::cell::Cell::new(0u64);
    let sweep_started = Instant::now();
    let say = |line: String| {
        if options.progress {
            bar.println(line);
        } else {
            eprintln!("{line}");
        }
    };
    let name = |sweep: usize, point: &str| {
        if sweeps.len() > 1 {
            format!("{}/{point}", sweeps[sweep].0.path.display())
        } else {
            point.to_string()
        }
    };
    let mut pending = queue.into_iter();
    let mut running: Vec<Worker> = Vec::new();
    let jobs = options.jobs.max(1);
    let stop_signal = || {
        options
            .stop
            .as_ref()
            .map(|s| s.load(Ordering::SeqCst))
            .filter(|&s| s != 0)
    };
    // When a stop was asked for: SIGTERM to every worker (they checkpoint and exit), SIGKILL
    // after a grace period.
    let mut stop_sent: Option<Instant> = None;
    loop {
        let stopping = stop_signal().is_some();
        while !stopping && running.len() < jobs {
            let Some((sweep, point)) = pending.next() else {
                break;
            };
            running.push(spawn(sweeps[sweep].0, sweep, &point, options)?);
        }
        if running.is_empty() {
            break;
        }
        if stopping {
            match stop_sent {
                None => {
                    for w in &running {
                        let _ = Command::new("kill")
                            .args(["-TERM", &w.child.id().to_string()])
                            .stderr(Stdio::null())
                            .status();
                    }
                    stop_sent = Some(Instant::now());
                }
                Some(t) if t.elapsed() > STOP_GRACE => {
                    for w in &mut running {
                        let _ = w.child.kill();
                    }
                }
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut i = 0;
        while i < running.len() {
            let dir = sweeps[running[i].sweep].0;
            let Some(status) =
                running[i]
                    .child
                    .try_wait()
                    .map_err(|source| apical_store::StoreError::Write {
                        path: dir.path.clone(),
                        source,
                    })?
            else {
                i += 1;
                continue;
            };
            let w = running.swap_remove(i);
            let secs = w.started.elapsed().as_secs_f64();
            let shown = name(w.sweep, &w.point);
            // Stopped by a signal (killed, or checkpointed and exited 130 / 143): it resumes next
            // time; never a failure.
            let signalled = status.code().is_none_or(|c| c == 130 || c == 143);
            match dir.state(&w.point) {
                PointState::Done(summary) => {
                    let _ = std::fs::remove_file(dir.failed(&w.point));
                    outcomes[w.sweep].finished += 1;
                    let what = match (summary.status, summary.classifier.test_accuracy) {
                        (RunStatus::Diverged, _) => {
                            format!("diverged at step {}", summary.diverged_at_step.unwrap_or(0))
                        }
                        (_, Some(acc)) => format!("test accuracy {acc:.4}"),
                        _ => "done".into(),
                    };
                    say(format!(
                        "done    {shown} ({what}, {secs:.1} s) {}",
                        progress_note(bar.position() + 1, total as u64, &ran_here, sweep_started)
                    ));
                }
                _ if signalled || stop_signal().is_some() => {
                    say(format!(
                        "stopped {shown} (continues when the sweep is rerun)"
                    ));
                }
                _ => {
                    let reason = last_line(&dir.log(&w.point));
                    write_atomic(&dir.failed(&w.point), format!("{reason}\n").as_bytes())?;
                    say(format!(
                        "FAILED  {shown}: {reason} {}",
                        progress_note(bar.position() + 1, total as u64, &ran_here, sweep_started)
                    ));
                    outcomes[w.sweep].failed.push((w.point, reason));
                }
            }
            bar.inc(1);
            ran_here.set(ran_here.get() + 1);
        }
    }
    bar.finish_and_clear();
    if let Some(signal) = stop_signal() {
        return Err(ExperimentError::SweepInterrupted {
            signal: signal as i32,
            dir: sweeps
                .first()
                .map(|(d, _)| d.path.clone())
                .unwrap_or_default(),
        });
    }
    Ok(outcomes)
}

/// Threads per worker when `jobs` workers share this machine's cores (at least one).
pub fn worker_threads(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (cores / jobs.max(1)).max(1)
}

/// How long stopped workers get to checkpoint before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

fn spawn(
    dir: &SweepDir,
    sweep: usize,
    point: &str,
    options: &LocalOptions,
) -> Result<Worker, ExperimentError> {
    let mut cmd = Command::new(&options.exe);
    cmd.args(worker_args(dir, point));
    // Each of the `jobs` workers gets an equal share of the cores for its kernels (the matrix
    // products' threads and the fused optimizer), unless the user set the threads: then both
    // variables take the user's value.
    let threads = options
        .user_threads
        .clone()
        .unwrap_or_else(|| worker_threads(options.jobs).to_string().into());
    cmd.env("APICAL_THREADS", &threads)
        .env("MATMUL_NUM_THREADS", &threads);
    let log = dir.log(point);
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent).map_err(|source| apical_store::StoreError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|source| apical_store::StoreError::Write {
            path: log.clone(),
            source,
        })?;
    let err_file = file
        .try_clone()
        .map_err(|source| apical_store::StoreError::Write {
            path: log.clone(),
            source,
        })?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .spawn()
        .map_err(|source| apical_store::StoreError::Write {
            path: options.exe.clone(),
            source,
        })?;
    Ok(Worker {
        sweep,
        point: point.to_string(),
        child,
        started: Instant::now(),
    })
}

/// `[3/12 points, eta 1m20s]`: where a sweep stands after a point ended (`done` of `total`),
/// with the time left at the pace of the `ran` points this invocation has ended since
/// `started` (none before the first).
fn progress_note(done: u64, total: u64, ran: &std::cell::Cell<u64>, started: Instant) -> String {
    let ran = ran.get() + 1;
    let left = total.saturating_sub(done);
    if left == 0 {
        return format!("[{done}/{total} points]");
    }
    let per_point = started.elapsed().as_secs_f64() / ran as f64;
    format!(
        "[{done}/{total} points, eta {}]",
        short_duration(per_point * left as f64)
    )
}

/// `45s`, `3m05s`, `2h10m`.
fn short_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    #[test]
    fn durations_and_progress_notes_read_well() {
        assert_eq!(short_duration(44.6), "45s");
        assert_eq!(short_duration(185.0), "3m05s");
        assert_eq!(short_duration(7800.0), "2h10m");
        let ran = std::cell::Cell::new(0);
        let note = progress_note(1, 4, &ran, Instant::now());
        assert!(note.starts_with("[1/4 points, eta "), "{note}");
        assert_eq!(progress_note(4, 4, &ran, Instant::now()), "[4/4 points]");
    }
}
