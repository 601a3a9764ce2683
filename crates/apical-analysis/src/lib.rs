//! Analyses for apical: population statistics over seeds and trials.
#![warn(missing_docs)]

mod interval;

pub use interval::*;
