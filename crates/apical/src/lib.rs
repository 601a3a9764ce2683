//! apical: brain-inspired machine learning on burn 0.22.
//!
//! The facade other models depend on. It re-exports the layers and networks ([`nn`]), learning
//! rules and optimizers ([`learn`]), tasks and data ([`tasks`]) and analyses ([`analysis`]).
//!
//! ```
//! use apical::burn::tensor::Tensor;
//! use apical::nn::{ndarray_device, FeedforwardConfig};
//!
//! let device = ndarray_device();
//! let net = FeedforwardConfig::new(64, vec![32], 10).init(&device);
//! let logits = net.forward(Tensor::zeros([4, 64], &device));
//! assert_eq!(logits.dims(), [4, 10]);
//! ```
#![warn(missing_docs)]

pub use apical_analysis as analysis;
pub use apical_learn as learn;
pub use apical_nn as nn;
pub use apical_tasks as tasks;
pub use burn;

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
