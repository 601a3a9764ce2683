//! `apical ls [DIR]`: one line per run directory — its name, how far it got, its key settings
//! and headline metric — read from the files each run writes (`config.toml`, `summary.json`,
//! its checkpoints and lock), without loading a network.

use std::path::{Path, PathBuf};

use apical_store::{is_held, list_steps, RunDir, RunStatus, Summary};

use crate::ReportError;

/// One run directory, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunListing {
    /// The directory.
    pub dir: PathBuf,
    /// `completed`, `diverged`, `running`, `stopped` (killed or halted: `apical resume`
    /// continues it) or `recorded` (written by `apical record`).
    pub status: String,
    /// Steps done and planned (`12/1800`); days for the closed-loop task.
    pub progress: String,
    /// `task.kind`.
    pub task: String,
    /// `model.kind` with its hidden widths (`gfn [128, 64]`).
    pub model: String,
    /// `rule.kind`.
    pub rule: String,
    /// `training.seed`.
    pub seed: String,
    /// The headline metric: `test_accuracy` (classifiers) or `late_success` (the BCI), with
    /// its name; empty while there is none.
    pub metric: String,
    /// When the last session started (from `summary.json`'s provenance), if known.
    pub started: String,
}

/// The run directories in `dir` (or `dir` itself, when it is one), sorted by name. A run
/// directory is one with a `config.toml`; other entries are passed over.
pub fn list_runs(dir: &Path) -> Result<Vec<RunListing>, ReportError> {
    if !dir.is_dir() {
        return Err(crate::inputs::bad(dir, "no such directory"));
    }
    if RunDir::new(dir).config().is_file() {
        return Ok(vec![listing(dir)]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| crate::inputs::bad(dir, e.to_string()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| RunDir::new(p).config().is_file())
        .collect();
    dirs.sort();
    Ok(dirs.iter().map(|d| listing(d)).collect())
}

/// What one run directory's files say.
fn listing(dir: &Path) -> RunListing {
    let run = RunDir::new(dir);
    let config: toml::Table = std::fs::read_to_string(run.config())
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let get = |section: &str, key: &str| -> Option<&toml::Value> {
        config.get(section).and_then(|s| s.get(key))
    };
    let text = |v: Option<&toml::Value>| -> String {
        match v {
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    };
    let model = match get("model", "hidden").or_else(|| get("model", "units")) {
        Some(widths) => format!("{} {widths}", text(get("model", "kind"))),
        None => text(get("model", "kind")),
    };
    let summary = Summary::read(dir).ok();
    let checkpoint = list_steps(&run.checkpoints())
        .ok()
        .and_then(|steps| steps.last().map(|(s, _)| *s));
    let closed_loop = text(get("task", "kind")) == "bci";
    let unit = if closed_loop { " days" } else { "" };
    let planned = || {
        if closed_loop {
            text(get("task", "days"))
        } else if let Some(steps) = get("training", "steps") {
            steps.to_string()
        } else if let Some(epochs) = get("training", "epochs") {
            format!("{epochs} epochs")
        } else {
            "?".into()
        }
    };
    let (status, progress) = if run.is_recording() {
        ("recorded".to_string(), String::new())
    } else if let Some(s) = &summary {
        let status = match s.status {
            RunStatus::Completed => "completed",
            RunStatus::Diverged => "diverged",
        };
        let done = s.diverged_at_step.unwrap_or(s.steps);
        let progress = if closed_loop {
            format!(
                "{}{unit}",
                s.closed_loop.success_by_day.as_ref().map_or(0, Vec::len)
            )
        } else {
            format!("{done}/{}", s.planned_steps.max(done))
        };
        (status.to_string(), progress)
    } else {
        let status = if is_held(dir) { "running" } else { "stopped" };
        (
            status.to_string(),
            format!("{}/{}{unit}", checkpoint.unwrap_or(0), planned()),
        )
    };
    let metric = summary.as_ref().map_or_else(String::new, |s| {
        if let Some(late) = s.closed_loop.late_success {
            format!("late_success {late:.3}")
        } else if let Some(acc) = s.classifier.test_accuracy {
            format!("test_accuracy {acc:.4}")
        } else {
            String::new()
        }
    });
    RunListing {
        dir: dir.to_path_buf(),
        status,
        progress,
        task: text(get("task", "kind")),
        model,
        rule: text(get("rule", "kind")),
        seed: text(get("training", "seed")),
        metric,
        started: summary
            .and_then(|s| s.provenance)
            .map_or_else(String::new, |p| p.started_at),
    }
}

/// The listing as an aligned text table with a header line.
pub fn format_table(rows: &[RunListing]) -> String {
    let header = [
        "run", "status", "progress", "task", "model", "rule", "seed", "metric", "started",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.dir.file_name().map_or_else(
                    || r.dir.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                r.status.clone(),
                r.progress.clone(),
                r.task.clone(),
                r.model.clone(),
                r.rule.clone(),
                r.seed.clone(),
                r.metric.clone(),
                r.started.clone(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &cells {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
