//! Errors of task construction and data loading.

use apical_core::InvalidParameter;
use std::path::PathBuf;
use thiserror::Error;

/// What went wrong building a task or reading its data.
#[derive(Debug, Error)]
pub enum TaskError {
    /// A data file the task needs is not there.
    #[error("data file {path} not found ({hint})")]
    MissingFile {
        /// The file looked for.
        path: PathBuf,
        /// What the file should be and where it comes from.
        hint: String,
    },
    /// A data file could not be read.
    #[error("cannot read data file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A data file is not in the expected format (truncated, wrong magic number, …).
    #[error("data file {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A task parameter is impossible (the key as named in configs, e.g. `signal_levels`).
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// The BCI task's baseline block could not calibrate the decoder.
    #[error("BCI calibration failed: {0}")]
    Calibration(#[from] crate::bci::CalibrationError),
}
