//! The analysis front end of apical (`apical analyze`): reads `.npy` recordings — a
//! researcher's own, or a run directory's through [`apical_store::RunDir`] — checks their shapes
//! once, runs `apical-analysis`, and writes JSON and plots. It never imports a training loop.
#![warn(missing_docs)]

pub mod analyze;
pub mod contrasts;
mod error;
pub mod inputs;
pub mod listing;
pub mod redundancy;
pub mod report;
mod settings;

/// Decoder settings, re-exported for the binary.
pub use apical_analysis::DecoderConfig;
pub use error::*;
pub use settings::*;
