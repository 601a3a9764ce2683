//! apical: brain-inspired machine learning on burn 0.22.
//!
//! The facade other models depend on. [`prelude`] has what a model of your own needs: the
//! two-compartment [`DendriticLayer`](nn::DendriticLayer), the networks and their configs, the
//! learning rules and the one driver that steps them ([`Learner`](learn::Learner)), the
//! devices ([`init_device`](nn::init_device): ndarray or wgpu). The crates are also reachable
//! whole: layers and networks ([`nn`]), learning rules and optimizers ([`learn`]), tasks and
//! data ([`tasks`]) and analyses ([`analysis`]).
//!
//! ```
//! use apical::prelude::*;
//!
//! let device = init_device(BackendKind::Ndarray).unwrap().autodiff();
//! let net = FeedforwardConfig::new(64, 10, FeedforwardParams::layers(vec![32])).init(&device);
//! let mut learner = Learner::new(Box::new(Backprop), OptimizerConfig::default().init(), 1e-3);
//! let x = Tensor::<2>::zeros([4, 64], &device);
//! let (net, report, _) = learner.step(net, x, &[0, 1, 2, 3], &mut SeededRng::new(0), false);
//! assert!(report.loss.is_finite());
//! # let _ = net;
//! ```
//!
//! `crates/apical/examples/dendritic_context.rs` puts a `DendriticLayer` inside a model of
//! one's own and trains it (`cargo run -p apical --example dendritic_context`).
#![warn(missing_docs)]

pub use apical_analysis as analysis;
pub use apical_learn as learn;
pub use apical_nn as nn;
pub use apical_tasks as tasks;
pub use burn;

/// The curated public API: `use apical::prelude::*;`.
pub mod prelude {
    pub use apical_learn::{
        build_network, cross_entropy, one_hot, predictions, Backprop, BackpropConfig, Dendritic,
        DendriticConfig, ExploratoryHebb, FeedbackAlignment, FeedbackAlignmentConfig,
        KolenPollackConfig, LayerDiagnostics, Learner, LearnerError, LearningRule, NetworkVisitor,
        Optimizer, OptimizerConfig, PcMode, PcSettings, PredictiveCoding, RewardBroadcast,
        RewardBroadcastConfig, RewardLearning, RewardVariant, RuleConfig, RuleSpec, StepContext,
        StepReport, Trainable, Update,
    };
    pub use apical_nn::{
        init_device, ndarray_device, Activation, BackendKind, Classifier, DendriteStats,
        DendriticLayer, DendriticLayerConfig, DendriticState, Feedforward, FeedforwardConfig,
        FeedforwardParams, GenerativeFeedbackConfig, GenerativeFeedbackNetwork, GfnParams,
        InvalidParameter, ModelConfig, Network, Recording, SeededRng, TopDown,
    };
    pub use apical_tasks::{Dataset, Split, TaskConfig};
    pub use burn::module::Module;
    pub use burn::tensor::{Device, Tensor, TensorData};
}

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
