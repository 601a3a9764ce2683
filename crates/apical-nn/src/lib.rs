//! Units, layers and networks for apical.
//!
//! Every network here is a burn [`Module`](burn::module::Module) built from a `…Config` (the only
//! way to build it). Forward passes are pure: they take inputs (and, for noisy units, the noise)
//! and return activity; learning lives in `apical-learn`.
//!
//! burn 0.22 has no backend type parameter: tensors are `Tensor<D>` and the backend is the
//! runtime [`Device`](burn::tensor::Device) the module was built on.
#![warn(missing_docs)]

mod activation;
mod backend;
mod bci_net;
mod dendritic;
mod device;
mod feedforward;
mod gfn;
mod init;
mod layer_slots;
mod model;
mod sampling;
mod top_down;

pub use activation::*;
pub use apical_core::InvalidParameter;
pub use backend::*;
pub use bci_net::*;
pub use dendritic::*;
pub use device::*;
pub use feedforward::*;
pub use gfn::*;
pub use init::*;
pub use layer_slots::*;
pub use model::*;
pub use sampling::*;
pub use top_down::*;

/// A network that maps inputs to class logits; what the runner and the learning rules train.
pub trait Classifier: burn::module::Module + Sized {
    /// Logits for `input` (`[batch, d_in]` → `[batch, d_out]`), with unit noise drawn from
    /// `noise` when given.
    fn logits(
        &self,
        input: burn::tensor::Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> burn::tensor::Tensor<2>;

    /// Number of outputs (classes).
    fn n_outputs(&self) -> usize;

    /// Called by the training driver (`apical_learn::Learner`) after every rule's update
    /// (`before`: the network before the update; `input`: the batch), so that what is derived
    /// from the weights stays current — the gfn's top-down weights ([`TopDown`]) and its units'
    /// apical predictions (the dendritic residual). The default does nothing.
    fn after_update(self, before: &Self, input: burn::tensor::Tensor<2>) -> Self {
        let _ = (before, input);
        self
    }
}

impl Classifier for Feedforward {
    fn logits(
        &self,
        input: burn::tensor::Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> burn::tensor::Tensor<2> {
        self.forward_recorded(input, noise).logits
    }

    fn n_outputs(&self) -> usize {
        self.d_out()
    }
}

impl Classifier for GenerativeFeedbackNetwork {
    fn logits(
        &self,
        input: burn::tensor::Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> burn::tensor::Tensor<2> {
        self.forward_recorded(input, noise).logits
    }

    fn n_outputs(&self) -> usize {
        self.d_out()
    }

    fn after_update(self, before: &Self, input: burn::tensor::Tensor<2>) -> Self {
        let snapshot = before.snapshot_top_down();
        let rate = self.params.apical_fit_rate;
        self.update_top_down(&snapshot, input.clone())
            .fit_apical_predictions(input, rate)
    }
}
