//! Tasks and data for apical.
//!
//! - [`orientation`]: orientation discrimination in dynamic noise (Liu et al. 2026 style),
//!   cardinal and oblique contexts, signed signal levels that always include 0.
//! - [`digits`]: the UCI 8×8 handwritten digits (1,797 images, shipped inside this crate).
//! - [`idx`]: MNIST / Fashion-MNIST from a local directory of IDX files.
//! - [`learning_curve`]: the exponential learning curve fitted to trial outcomes (a
//!   floor-free trials-to-criterion).
//!
//! Every task produces a [`Dataset`] pair (train, test): row-major inputs, integer labels and,
//! for perceptual tasks, the signed signal level and context of every trial. Generation is
//! deterministic from the seed. This crate reads user data files (IDX) but never writes.
#![warn(missing_docs)]

pub mod bci;
mod dataset;
pub mod digits;
mod error;
pub mod idx;
pub mod learning_curve;
pub mod mnist;
pub mod orientation;
mod subset;
mod task;

pub use apical_core::InvalidParameter;
pub use dataset::*;
pub use error::*;
pub(crate) use subset::labelled_task_config;
pub use subset::*;
pub use task::*;
