//! `summary.json`: what a run reports when it ends — completed, or diverged (with the step and
//! the quantity). A sweep reads it back; a complete `summary.json` with `"status": "completed"`
//! marks a finished run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{write_atomic, RunDir, StoreError};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Every step ran and the final outputs were written.
    #[default]
    Completed,
    /// A loss, weight or rule state became non-finite; training stopped there.
    Diverged,
}

/// Test accuracy at one signal level (perceptual tasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalAccuracy {
    /// Signed signal level (%).
    pub signal: f64,
    /// Fraction correct.
    pub accuracy: f64,
    /// Test trials at this level.
    pub n_trials: usize,
}

/// The `summary.json` schema this build writes ([`Summary::write`] stamps it). Files written
/// before the field existed are schema 1 (the same keys). Schema 2: `steps` is the number of
/// updates made (schema 1 wrote the planned number there, even when early stopping ended the
/// run sooner) and `planned_steps` the configured length; [`Summary::read`] fills
/// `planned_steps` of an older file from its `steps`.
pub const SUMMARY_SCHEMA: u32 = 2;

fn schema_before_versions() -> u32 {
    1
}

/// Where, when and with what a run's last session was made (`summary.json`'s `provenance`,
/// schema 2; filled in by the binary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// apical's version (the crates' `version`).
    pub apical_version: String,
    /// The git commit apical was built from ("unknown" outside a git checkout).
    pub git_commit: String,
    /// The command line.
    pub command: String,
    /// The machine's host name.
    pub host: String,
    /// Operating system and architecture (`linux-x86_64`).
    pub platform: String,
    /// CPU cores available to the process.
    pub cpus: usize,
    /// Threads of the CPU kernels.
    pub threads: usize,
    /// The GPU adapter of a wgpu run (`"NVIDIA H100 (Vulkan)"`; lavapipe on machines without a
    /// GPU), absent on the CPU backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// When the session started (UTC, ISO 8601).
    pub started_at: String,
}

/// The contents of `summary.json`: what every run reports, then the part of its protocol —
/// kept flat in the JSON (every key at the top level; where a part does not apply its values
/// are `null`, its counts 0, and `stopped_early_at_step` is left out), so
/// that `apical collect --metric` and scripts read `late_success` or `test_accuracy` directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// The schema of this file ([`SUMMARY_SCHEMA`] when written by this build).
    #[serde(default = "schema_before_versions")]
    pub schema_version: u32,
    /// How the run ended.
    pub status: RunStatus,
    /// Run name.
    pub name: Option<String>,
    /// `task.kind`.
    pub task: String,
    /// `model.kind`.
    pub model: String,
    /// `rule.kind`.
    pub rule: String,
    /// Backend name.
    pub backend: String,
    /// `training.seed`.
    pub seed: u64,
    /// Updates made: the planned number, fewer when early stopping ended the run
    /// (`stopped_early_at_step`) or it diverged (`diverged_at_step`).
    pub steps: usize,
    /// Updates the config asked for (`training.steps`, or `training.epochs` in steps).
    #[serde(default)]
    pub planned_steps: usize,
    /// Epochs made (fractional): `steps` over the steps of one epoch.
    pub epochs: f64,
    /// Trainable scalars.
    pub n_params: usize,
    /// The step whose update diverged (diverged runs).
    pub diverged_at_step: Option<usize>,
    /// What became non-finite: "loss", "weights" or "rule state" (diverged runs).
    pub diverged_quantity: Option<String>,
    /// Wall-clock seconds spent training, over all sessions.
    pub wall_seconds: f64,
    /// Updates per second in the last session.
    pub steps_per_second: f64,
    /// The checkpoint step this session resumed from.
    pub resumed_from_step: Option<usize>,
    /// Files written under `activity/`.
    pub activity: Vec<String>,
    /// Where, when and with what the run was made (absent from files of schema 1, and when
    /// the library is used without the binary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Runs that classify a test set (supervised training, the sampling model).
    #[serde(flatten)]
    pub classifier: ClassifierSummary,
    /// Closed-loop (BCI) runs.
    #[serde(flatten)]
    pub closed_loop: ClosedLoopSummary,
}

/// The part of `summary.json` of runs that classify a test set; `null` (or 0) elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ClassifierSummary {
    /// Training examples.
    #[serde(default)]
    pub n_train: usize,
    /// Test examples.
    #[serde(default)]
    pub n_test: usize,
    /// Final test accuracy (completed runs).
    #[serde(default)]
    pub test_accuracy: Option<f64>,
    /// Wilson 95% interval of `test_accuracy` over the `n_test` test examples (schema 2).
    #[serde(default)]
    pub test_accuracy_ci_low: Option<f64>,
    /// Upper end of that interval.
    #[serde(default)]
    pub test_accuracy_ci_high: Option<f64>,
    /// Final mean test cross-entropy.
    #[serde(default)]
    pub test_loss: Option<f64>,
    /// Final accuracy on the fixed training subset.
    #[serde(default)]
    pub train_accuracy: Option<f64>,
    /// Final loss on the fixed training subset.
    #[serde(default)]
    pub train_loss: Option<f64>,
    /// Final accuracy on the validation split (`task.validation_per_class`).
    #[serde(default)]
    pub validation_accuracy: Option<f64>,
    /// Final mean cross-entropy on the validation split.
    #[serde(default)]
    pub validation_loss: Option<f64>,
    /// Validation examples.
    #[serde(default)]
    pub n_validation: Option<usize>,
    /// The logged evaluation with the highest validation accuracy, ties broken by the lower
    /// validation loss (early stopping's choice).
    #[serde(default)]
    pub best_validation_step: Option<usize>,
    /// Its validation loss.
    #[serde(default)]
    pub best_validation_loss: Option<f64>,
    /// The test accuracy logged at that evaluation (chosen without looking at the test split).
    #[serde(default)]
    pub test_accuracy_at_best_validation: Option<f64>,
    /// The step training stopped at when `training.patience` evaluations passed without a
    /// better validation evaluation (early stopping); absent when it ran every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early_at_step: Option<usize>,
    /// Test accuracy per signal level (perceptual tasks).
    #[serde(default)]
    pub accuracy_by_signal: Option<Vec<SignalAccuracy>>,
    /// The ideal observer's accuracy per signed signal level on the test set (orientation: in
    /// closed form from the stimulus, knowing context and level; averaged over the contexts).
    #[serde(default)]
    pub ideal_accuracy_by_signal: Option<Vec<SignalAccuracy>>,
    /// The ideal observer's accuracy over the test set's trials.
    #[serde(default)]
    pub ideal_accuracy: Option<f64>,
    /// Mean angle to backprop per layer over the logged evaluations (null where undefined,
    /// e.g. a zero or overflowing update).
    #[serde(default)]
    pub mean_angle_to_backprop_deg: Option<Vec<Option<f64>>>,
}

/// The part of `summary.json` of closed-loop (BCI) runs; `null` elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ClosedLoopSummary {
    /// BCI runs: the hit rate of spontaneous activity the threshold was calibrated to.
    #[serde(default)]
    pub chance: Option<f64>,
    /// BCI runs: the hit rate of a fresh untrained closed-loop block at θ (its own noise).
    #[serde(default)]
    pub chance_measured: Option<f64>,
    /// BCI runs: the first trial at which the success rate over the last
    /// `task.criterion_window` trials reached `task.criterion` (null: not reached — censored
    /// at `trials_run`).
    #[serde(default)]
    pub trials_to_criterion: Option<usize>,
    /// BCI runs: the trial at which the exponential learning curve fitted to the outcomes
    /// (the probe trials' where there are probes; the start fixed at `chance_measured`)
    /// reaches `task.criterion` — no window floor (null: the fitted curve does not reach it
    /// within the run; censored at `trials_run`). See `apical_tasks::learning_curve`.
    #[serde(default)]
    pub trials_to_criterion_fit: Option<f64>,
    /// BCI runs: the fitted learning curve's asymptote a.
    #[serde(default)]
    pub fitted_asymptote: Option<f64>,
    /// BCI runs: the fitted learning curve's time constant τ, in trials.
    #[serde(default)]
    pub fitted_tau: Option<f64>,
    /// BCI runs with probe trials: the probes' success per day.
    #[serde(default)]
    pub probe_success_by_day: Option<Vec<f64>>,
    /// BCI runs: trials run (where `trials_to_criterion` is censored).
    #[serde(default)]
    pub trials_run: Option<usize>,
    /// BCI runs: the calibrated threshold θ on the z-scored decoder.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// BCI runs: the fraction of successful trials, per day.
    #[serde(default)]
    pub success_by_day: Option<Vec<f64>>,
    /// BCI runs: rewards (hits) per day.
    #[serde(default)]
    pub rewards_per_day: Option<Vec<usize>>,
    /// BCI runs: mean success of the last two days.
    #[serde(default)]
    pub late_success: Option<f64>,
}

impl Summary {
    /// Writes `summary.json` into `dir` atomically. Non-finite numbers, which JSON cannot hold,
    /// are written as null where the field allows it and refused nowhere: the file always reads
    /// back.
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let stamped = Summary {
            schema_version: SUMMARY_SCHEMA,
            ..self.clone()
        };
        let text = serde_json::to_string_pretty(&stamped).expect("a Summary serialises") + "\n";
        write_atomic(&RunDir::new(dir).summary(), text.as_bytes())
    }

    /// Reads `summary.json` from `dir`.
    pub fn read(dir: &Path) -> Result<Self, StoreError> {
        let path = RunDir::new(dir).summary();
        let text = std::fs::read_to_string(&path).map_err(|e| StoreError::Read {
            path: path.clone(),
            source: e.into(),
        })?;
        let mut summary: Summary = serde_json::from_str(&text).map_err(|e| StoreError::Read {
            path,
            source: e.into(),
        })?;
        if summary.schema_version < 2 {
            // Schema 1 wrote the planned length as `steps`, also when early stopping or
            // divergence ended the run sooner.
            summary.planned_steps = summary.steps;
            let done = summary
                .classifier
                .stopped_early_at_step
                .or(summary.diverged_at_step)
                .unwrap_or(summary.steps);
            if done < summary.steps && summary.steps > 0 {
                summary.epochs *= done as f64 / summary.steps as f64;
                summary.steps = done;
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_from_before_the_schema_field_reads_as_schema_1() {
        let old = r#"{"status": "completed", "name": null, "task": "digits", "model": "ff",
            "rule": "backprop", "backend": "ndarray", "seed": 0, "steps": 10, "epochs": 1.0,
            "n_params": 5, "n_train": 10, "n_test": 5, "diverged_at_step": null,
            "diverged_quantity": null, "test_accuracy": 0.5, "test_loss": 1.0,
            "train_accuracy": 0.5, "train_loss": 1.0, "accuracy_by_signal": null,
            "wall_seconds": 1.0, "steps_per_second": 10.0, "resumed_from_step": null,
            "mean_angle_to_backprop_deg": null, "activity": []}"#;
        let summary: Summary = serde_json::from_str(old).unwrap();
        assert_eq!(summary.schema_version, 1);
        assert_eq!(summary.classifier.test_accuracy, Some(0.5));
        assert_eq!(summary.closed_loop.late_success, None);
        let written = serde_json::to_string(&Summary {
            schema_version: SUMMARY_SCHEMA,
            ..summary
        })
        .unwrap();
        assert!(written.contains(&format!("\"schema_version\":{SUMMARY_SCHEMA}")));
        // Flat: every part's keys at the top level, null where the part does not apply.
        assert!(written.contains("\"test_accuracy\":0.5"), "{written}");
        assert!(written.contains("\"late_success\":null"), "{written}");
        assert!(!written.contains("classifier") && !written.contains("closed_loop"));
        // `write` stamps the schema whatever the value held.
        let dir = crate::testdir::tempdir().unwrap();
        Summary::default().write(dir.path()).unwrap();
        assert_eq!(
            Summary::read(dir.path()).unwrap().schema_version,
            SUMMARY_SCHEMA
        );
        // An older file's `steps` was the planned length: read, it fills `planned_steps`, and
        // an early-stopped run's `steps` and `epochs` become what it made.
        std::fs::write(RunDir::new(dir.path()).summary(), old).unwrap();
        let read = Summary::read(dir.path()).unwrap();
        assert_eq!((read.steps, read.planned_steps), (10, 10));
        let stopped = old.replace(
            "\"activity\": []",
            "\"activity\": [], \"stopped_early_at_step\": 4",
        );
        std::fs::write(RunDir::new(dir.path()).summary(), stopped).unwrap();
        let read = Summary::read(dir.path()).unwrap();
        assert_eq!((read.steps, read.planned_steps), (4, 10));
        assert!((read.epochs - 0.4).abs() < 1e-12);
    }
}
