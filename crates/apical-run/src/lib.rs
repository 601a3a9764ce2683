//! Experiment configs, the training runner, logging and checkpoints.
//!
//! This is the only apical crate that writes files. Text becomes a checked
//! [`ExperimentConfig`] (unknown keys, wrong types and impossible values are refused with the
//! key named), then [`start`] or [`resume`] trains and writes a run directory (see
//! [`runner`] for its layout). Every file is written atomically (temporary file + rename).
#![warn(missing_docs)]

pub mod analysis_report;
pub mod analyze;
mod atomic;
pub mod bci_run;
pub mod checkpoint;
pub mod compare;
mod config;
pub mod csv_log;
pub mod dendrites;
pub mod diagnostics;
mod error;
pub mod fewshot;
pub mod init_from;
mod lock;
mod metrics;
pub mod npy;
pub mod plot;
pub mod recording;
pub mod redundancy;
pub mod rerecord;
pub mod runner;
mod sampling_run;
mod summary;
pub mod sweep;
pub mod tensorboard;
#[cfg(test)]
mod testdir;

/// Decoder settings, re-exported for the binary.
pub use apical_analysis::DecoderConfig;
pub use apical_nn::{init_device, share_apical_threads, wgpu_compiled, BackendError, BackendKind};
pub use atomic::*;
pub use config::*;
pub use error::*;
pub use lock::{is_held, RunLock};
pub use metrics::*;
pub use runner::{
    auto_threads, build_data, check_init, check_out_dir, resume, start, RunOptions, RunSummary,
};
pub use summary::*;
pub use tensorboard::EventFile;
