//! Errors of reading and writing a run directory's files.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// A boxed cause, kept as the error's `source`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A file of a run directory that cannot be written or read.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Writing an output failed (disk full, permissions, …).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading an input file failed or the file is malformed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Cause,
    },
    /// A file a resumed run continues from is garbled.
    #[error("cannot resume from {path}: {source}")]
    Resume {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Cause,
    },
    /// Another process is writing to the run directory.
    #[error("run directory {path} is in use by another apical process (pid {holder}); wait for it or pick another --out")]
    Locked {
        /// The directory.
        path: PathBuf,
        /// The process holding it, as recorded in its lock file.
        holder: String,
    },
}

impl StoreError {
    /// A read error with a message as its cause.
    pub fn read(path: &Path, message: impl Into<String>) -> Self {
        StoreError::Read {
            path: path.to_path_buf(),
            source: message.into().into(),
        }
    }
}
