//! `[[training.phases]]`: a curriculum — consecutive blocks of training steps, each on the
//! `[task]` changed by its own `task` table (e.g. the cardinal context, then the oblique one,
//! then both interleaved). Phases draw fresh trials from the task's stream (`task.trials =
//! "stream"`); the test set and the recording probe stay the `[task]`'s own, so every
//! evaluation and recording compares across phases. The end of every phase is recorded
//! (`activity/step-<n>/`) and checkpointed like a `logging.record_at` step.

use apical_core::InvalidParameter;
use apical_tasks::TaskConfig;
use serde::{Deserialize, Serialize};

/// One phase of a curriculum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Training steps of the phase.
    pub steps: usize,
    /// Task keys changed during this phase (only keys that keep the trials' shape:
    /// [`PHASE_TASK_KEYS`]); empty: the `[task]` as written.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub task: toml::Table,
}

/// The task keys a phase may change.
pub const PHASE_TASK_KEYS: &[&str] = &["contexts", "signal_levels", "noise_std", "contrast"];

/// The task each phase trains on, as `(first step, end step, task)`, checked. Keys are named
/// `training.phases[i]…` in errors.
pub fn phase_tasks(
    task: &TaskConfig,
    phases: &[Phase],
) -> Result<Vec<(usize, usize, TaskConfig)>, InvalidParameter> {
    let mut out = Vec::with_capacity(phases.len());
    let mut start = 0;
    for (i, phase) in phases.iter().enumerate() {
        let key = |k: &str| format!("training.phases[{i}].{k}");
        if phase.steps == 0 {
            return Err(InvalidParameter::new(key("steps"), "must be at least 1"));
        }
        if !task.streams_training_trials() {
            return Err(InvalidParameter::new(
                key("task"),
                "phases draw fresh trials from the task's stream: set task.trials = \"stream\" (orientation)",
            ));
        }
        let mut table = toml::Table::try_from(task).expect("a task serialises to a table");
        for (k, v) in &phase.task {
            if !PHASE_TASK_KEYS.contains(&k.as_str()) {
                return Err(InvalidParameter::new(
                    key(&format!("task.{k}")),
                    format!(
                        "cannot change within a run (the network's input is fixed); a phase may change {}",
                        PHASE_TASK_KEYS.join(", ")
                    ),
                ));
            }
            table.insert(k.clone(), v.clone());
        }
        let changed: TaskConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    InvalidParameter::new(key("task"), e.message().trim().to_string())
                })?;
        changed
            .validate()
            .map_err(|e| InvalidParameter::new(key(&format!("task.{}", e.key)), e.message))?;
        out.push((start, start + phase.steps, changed));
        start += phase.steps;
    }
    Ok(out)
}
