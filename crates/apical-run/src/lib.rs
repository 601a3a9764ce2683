//! One run: the experiment config, the training loops and everything a run writes while it
//! trains (checkpoints, recordings, `training.init_from`).
//!
//! Text becomes a checked [`ExperimentConfig`] (unknown keys, wrong types and impossible values
//! are refused with the key named), then [`start`] or [`resume`] trains and writes a run
//! directory (its layout: [`apical_store::RunDir`]). Every file is written atomically
//! (temporary file + rename).
#![warn(missing_docs)]

pub mod checkpoint;
mod config;
pub mod diagnostics;
mod error;
pub mod init_from;
pub mod protocol;
mod provenance;
pub mod recording;
pub mod runner;
mod session;
mod summary;

pub use apical_nn::{init_device, wgpu_compiled, BackendError, BackendKind};
pub use apical_store::{
    write_atomic, RunDir, RunLock, RunStatus, SignalAccuracy, StoreError, Summary,
};
pub use apical_tasks::Split;
pub use config::*;
pub use error::*;
pub use protocol::{Protocol, ProtocolKind};
pub use provenance::{iso8601_utc, provenance, APICAL_VERSION, GIT_COMMIT};
pub use runner::{
    auto_threads, build_data, check_init, check_memory, check_out_dir, check_resumable,
    memory_needed, resume, start, RunOptions, RunSummary, BYTES_PER_PARAMETER,
};
pub use session::Session;
pub use summary::summary_of_run;
