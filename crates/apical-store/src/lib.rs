//! The run directory: its layout ([`RunDir`], the one place its file names are spelled) and
//! the files in it — atomic writes, the one-writer lock, `.npy` arrays, the CSV logs,
//! `summary.json`, TensorBoard events and plots. No training, no analysis: the run, report and
//! experiments crates write and read run directories through this crate.
#![warn(missing_docs)]

mod atomic;
pub mod csv_log;
pub mod dendrites;
mod error;
mod lock;
mod metrics;
pub mod npy;
pub mod plot;
mod run_dir;
mod summary;
pub mod tensorboard;
#[doc(hidden)]
pub mod testdir;

pub use atomic::*;
pub use error::*;
pub use lock::{held_by, is_held, RunLock};
pub use metrics::*;
pub use run_dir::*;
pub use summary::*;
pub use tensorboard::EventFile;
