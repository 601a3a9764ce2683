//! Errors of the run layer. Bad input (config, data, backend) is told apart from failures while
//! running so the binary can exit with 2 or 1.

use std::path::{Path, PathBuf};

use apical_store::StoreError;
use apical_tasks::TaskError;
use thiserror::Error;

/// A config file that cannot be used: names the file, the key and what was expected.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{}: {}{message}", file.display(), if key.is_empty() { String::new() } else { format!("key `{key}`: ") })]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// The dotted key (empty when the file as a whole is at fault).
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    /// The same error named against `file` (for errors found after loading, which name the
    /// placeholder "config").
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = file.to_path_buf();
        self
    }

    /// A new error about `key` in `file`.
    pub fn new(file: &Path, key: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// Everything that can stop a run.
#[derive(Debug, Error)]
pub enum RunError {
    /// The config is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The task's data is missing or malformed.
    #[error(transparent)]
    Data(#[from] TaskError),
    /// The requested backend cannot run here.
    #[error(transparent)]
    Backend(#[from] crate::BackendError),
    /// The output directory cannot be used.
    #[error("output directory {path}: {message}")]
    OutputDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file of the run directory cannot be written or read, the directory is locked by
    /// another process, or a file to resume from is garbled (`StoreError`'s messages).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A command-line argument or combination of arguments is not usable.
    #[error("{message}")]
    Usage {
        /// Which argument, what was expected.
        message: String,
    },
    /// Training produced a non-finite loss, weight or rule state. The run directory keeps the
    /// metrics, the last good checkpoint and a `summary.json` with `"status": "diverged"`.
    #[error(
        "training diverged at step {step}: {quantity} not finite (lower training.learning_rate?)"
    )]
    Diverged {
        /// The step whose update produced it.
        step: usize,
        /// What became non-finite: "loss", "weights" or "rule state".
        quantity: &'static str,
    },
    /// The run was stopped by a signal after writing a checkpoint; `apical resume` continues.
    #[error("stopped by signal {signal} after step {step} (checkpoint written); continue with `apical resume {}`", dir.display())]
    Interrupted {
        /// The signal number (2 = SIGINT, 15 = SIGTERM).
        signal: i32,
        /// The last completed step.
        step: usize,
        /// The run directory.
        dir: PathBuf,
    },
    /// The run was stopped on request after a step (`--halt-after`, used to test resuming).
    #[error("run halted after step {step} as requested; continue it with `apical resume {}`", dir.display())]
    Halted {
        /// The last completed step.
        step: usize,
        /// The run directory.
        dir: PathBuf,
    },
}

impl RunError {
    /// Whether the user's input (config, data files, arguments, environment) is at fault, as
    /// opposed to a failure while running. The binary exits with 2 for these, 1 otherwise.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RunError::Config(_)
                | RunError::Data(_)
                | RunError::Backend(_)
                | RunError::OutputDir { .. }
                | RunError::Usage { .. }
        ) || matches!(self, RunError::Store(e) if !matches!(e, StoreError::Write { .. }))
    }

    /// The process exit code: 2 bad input, 128 + signal when stopped by a signal, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Interrupted { signal, .. } => (128 + signal).clamp(0, 255) as u8,
            e if e.is_bad_input() => 2,
            _ => 1,
        }
    }

    /// A read error with a message as its cause.
    pub fn read(path: &Path, message: impl Into<String>) -> Self {
        StoreError::read(path, message).into()
    }

    /// A resume error with a message as its cause.
    pub fn resume(path: &Path, message: impl Into<String>) -> Self {
        StoreError::Resume {
            path: path.to_path_buf(),
            source: message.into().into(),
        }
        .into()
    }
}
