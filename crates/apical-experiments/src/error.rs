//! Errors of sweeps, the few-shot protocol, comparisons and re-recordings: a run's errors, and
//! the ones only orchestration has.

use std::path::PathBuf;

use apical_run::{ConfigError, RunError};
use apical_store::StoreError;
use apical_tasks::TaskError;
use thiserror::Error;

/// Everything that can stop a sweep, a few-shot protocol, a comparison or a re-recording.
#[derive(Debug, Error)]
pub enum ExperimentError {
    /// One run's error (config, data, output, a run stopped or diverged).
    #[error(transparent)]
    Run(#[from] RunError),
    /// A Slurm command failed or is missing.
    #[error("{command}: {message}")]
    Slurm {
        /// The command (`sbatch`, `squeue`, …).
        command: String,
        /// What it said.
        message: String,
    },
    /// A sweep was stopped by a signal; its workers checkpointed (or were killed after a grace
    /// period) and continue when the sweep is rerun.
    #[error("sweep stopped by signal {signal}; rerun `apical sweep {}` to continue", dir.display())]
    SweepInterrupted {
        /// The signal number.
        signal: i32,
        /// The sweep directory.
        dir: PathBuf,
    },
    /// `apical fewshot` was stopped by a signal; its runs checkpointed and continue when the same
    /// command is rerun.
    #[error("few-shot protocol stopped by signal {signal}; rerun the same `apical fewshot` command (--out {}) to continue", dir.display())]
    FewshotInterrupted {
        /// The signal number.
        signal: i32,
        /// The output directory.
        dir: PathBuf,
    },
    /// A generative pretraining run of `apical fewshot` diverged; nothing was fine-tuned.
    #[error("the generative pretraining {} diverged at step {step}; nothing was fine-tuned from it (lower its learning rate: --pretrain-set training.learning_rate=…)", run.display())]
    PretrainingDiverged {
        /// The pretraining run.
        run: PathBuf,
        /// The step.
        step: usize,
    },
    /// Some points of a sweep failed (the others ran).
    #[error("{} point(s) of the sweep in {} failed: {}; rerun with --retry-failed", failed.len(), dir.display(), failed.join(", "))]
    SweepFailed {
        /// The failed points.
        failed: Vec<String>,
        /// The sweep directory.
        dir: PathBuf,
    },
}

impl From<StoreError> for ExperimentError {
    fn from(e: StoreError) -> Self {
        ExperimentError::Run(e.into())
    }
}

impl From<ConfigError> for ExperimentError {
    fn from(e: ConfigError) -> Self {
        ExperimentError::Run(e.into())
    }
}

impl From<apical_nn::BackendError> for ExperimentError {
    fn from(e: apical_nn::BackendError) -> Self {
        ExperimentError::Run(e.into())
    }
}

impl From<TaskError> for ExperimentError {
    fn from(e: TaskError) -> Self {
        ExperimentError::Run(e.into())
    }
}

impl ExperimentError {
    /// A usage error (a command-line argument or combination that is not usable).
    pub fn usage(message: impl Into<String>) -> Self {
        ExperimentError::Run(RunError::Usage {
            message: message.into(),
        })
    }

    /// The process exit code: 2 bad input, 128 + signal when stopped by a signal, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExperimentError::Run(e) => e.exit_code(),
            ExperimentError::SweepInterrupted { signal, .. }
            | ExperimentError::FewshotInterrupted { signal, .. } => {
                (128 + signal).clamp(0, 255) as u8
            }
            _ => 1,
        }
    }
}
