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
mod dendritic;
mod device;
mod feedforward;
mod gfn;
mod init;
mod top_down;

pub use activation::*;
pub use dendritic::*;
pub use device::*;
pub use feedforward::*;
pub use gfn::*;
pub use init::*;
pub use top_down::*;

/// A network that maps inputs to class logits; what the runner and `Backprop` train.
pub trait Classifier: burn::module::Module {
    /// Logits for `input` (`[batch, d_in]` → `[batch, d_out]`), with unit noise drawn from
    /// `noise` when given.
    fn logits(
        &self,
        input: burn::tensor::Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> burn::tensor::Tensor<2>;
}

impl Classifier for Feedforward {
    fn logits(
        &self,
        input: burn::tensor::Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> burn::tensor::Tensor<2> {
        self.forward_recorded(input, noise).logits
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
}
