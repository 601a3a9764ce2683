//! Foundations shared by every apical crate (no tensors, no files): the seeded random stream
//! ([`SeededRng`]) that makes runs reproducible on every backend, and the error every validated
//! config returns ([`InvalidParameter`]).
#![warn(missing_docs)]

mod kind;
mod param;
mod rng;

pub use kind::*;
pub use param::*;
pub use rng::*;
