//! Analyses for apical: bias-corrected linear Fisher information and redundancy (Kanitscheider
//! et al. 2015; Liu et al. 2026), and statistics over seeds.
//!
//! The functions take plain slices (trials × units, row-major), so they apply equally to
//! apical's recorded activity and to a researcher's own recordings.
#![warn(missing_docs)]

mod fisher;
mod interval;
mod population;

pub use fisher::*;
pub use interval::*;
pub use population::*;
