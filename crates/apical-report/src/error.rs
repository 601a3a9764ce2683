//! Errors of `apical analyze`: an input that cannot be read or analysed, an output that cannot
//! be written.

use std::path::{Path, PathBuf};

use apical_store::{Cause, StoreError};
use thiserror::Error;

/// Why an analysis could not be made.
#[derive(Debug, Error)]
pub enum ReportError {
    /// An input file is missing or malformed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Cause,
    },
    /// Writing an output failed (disk full, permissions, …).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An analysis cannot be computed from the given data (too few trials, singular covariance,
    /// inconsistent inputs) or with the given settings.
    #[error("analysis: {message}")]
    Analysis {
        /// What is wrong and what would fix it.
        message: String,
    },
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Write { path, source } => ReportError::Write { path, source },
            StoreError::Read { path, source } | StoreError::Resume { path, source } => {
                ReportError::Read { path, source }
            }
            // The report takes no lock; should a reader ever meet one, it is a read error.
            StoreError::Locked { path, holder } => ReportError::Read {
                source: format!("in use by another apical process (pid {holder})").into(),
                path,
            },
        }
    }
}

impl ReportError {
    /// A read error with a message as its cause.
    pub fn read(path: &Path, message: impl Into<String>) -> Self {
        ReportError::Read {
            path: path.to_path_buf(),
            source: message.into().into(),
        }
    }

    /// The process exit code: 1 when an output could not be written, 2 otherwise (the input or
    /// the settings are at fault).
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::Write { .. } => 1,
            _ => 2,
        }
    }
}
