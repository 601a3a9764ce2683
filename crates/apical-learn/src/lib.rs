//! Learning rules for apical networks.
//!
//! Rules are functional, like `optim.step(lr, model, grads)` in burn: a rule takes the network
//! and a batch and returns the updated network. Every rule implements [`LearningRule`] for the
//! network types it can train and is stepped through the one driver, [`Learner`], which also
//! keeps the network's derived weights current. The rules: `backprop` (burn autodiff,
//! cross-entropy), `feedback-alignment` and `kolen-pollack`, `dendritic` (burstprop family, on
//! the gfn), `predictive-coding` (discriminative and generative, on ff and gfn), `autoencoder` (the
//! generative objective by backprop: pretraining's control) and
//! `reward-broadcast` (node perturbation, exploratory Hebb; node perturbation also learns from
//! reward alone in a closed loop, [`RewardLearning`]). Each reports per-layer angles to
//! backprop on request. [`RuleConfig`] is the `[rule]` section of a config; optimizers (Adam,
//! SGD with momentum) keep exactly checkpointable state so resumed runs are identical.
#![warn(missing_docs)]

mod autoencoder;
mod backprop;
mod bci_credit;
mod dendritic;
mod diagnostics;
mod exploratory_hebb;
mod feedback_alignment;
mod learner;
mod loss;
mod matrix_state;
mod no_rule;
mod optimizer;
mod predictive_coding;
mod registry;
mod reward_broadcast;
mod rule;

pub use autoencoder::*;
pub use backprop::*;
pub use bci_credit::*;
pub use dendritic::*;
pub use diagnostics::*;
pub use exploratory_hebb::*;
pub use feedback_alignment::*;
pub use learner::*;
pub use loss::*;
pub(crate) use matrix_state::*;
pub use no_rule::*;
pub use optimizer::*;
pub use predictive_coding::*;
pub use registry::*;
pub use reward_broadcast::*;
pub use rule::*;
