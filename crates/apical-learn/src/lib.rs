//! Learning rules for apical networks.
//!
//! Rules are functional, like `optim.step(lr, model, grads)` in burn: a rule takes the network
//! and a batch and returns the updated network. Every rule implements [`LearningRule`] for the
//! network types it can train (`backprop` and `predictive-coding` for both, the feedback and
//! broadcast rules for `Feedforward`, `dendritic` for `GenerativeFeedbackNetwork`). This crate currently provides the baseline every
//! figure compares with, `backprop` (burn autodiff, cross-entropy), `feedback-alignment` and
//! `kolen-pollack` (with per-layer angles to backprop), and the optimizers (Adam, SGD with
//! momentum) whose state is checkpointed exactly so that resumed runs are identical.
#![warn(missing_docs)]

mod backprop;
mod dendritic;
mod diagnostics;
mod exploratory_hebb;
mod feedback_alignment;
mod loss;
mod matrix_state;
mod optimizer;
mod predictive_coding;
mod reward_broadcast;
mod rule;

pub use backprop::*;
pub use dendritic::*;
pub use diagnostics::*;
pub use exploratory_hebb::*;
pub use feedback_alignment::*;
pub use loss::*;
pub use matrix_state::*;
pub use optimizer::*;
pub use predictive_coding::*;
pub use reward_broadcast::*;
pub use rule::*;
