//! Analyses for apical: bias-corrected linear Fisher information and redundancy (Kanitscheider
//! et al. 2015; Liu et al. 2026) over levels, contexts and unit subsets; noise and differential
//! correlations; cross-validated decoders; dendritic residuals (Francioni et al. 2026); classifiers without a learning rule (PCA,
//! a ridge probe, the nearest neighbour: the controls of few-label studies); and statistics over
//! seeds.
//!
//! The functions take responses as nalgebra matrices (`DMatrix<f64>`, trials × units) and
//! per-trial values (signal, context, labels) as plain slices, so they apply equally to apical's
//! recorded activity and to a researcher's own recordings.
#![warn(missing_docs)]

pub mod bci;
mod correlations;
mod decode;
mod fisher;
mod interval;
mod population;
mod rank;
mod residuals;
mod shallow;

pub use correlations::*;
pub use decode::*;
pub use fisher::*;
pub use interval::*;
pub use population::*;
pub use rank::*;
pub use residuals::*;
pub use shallow::*;
