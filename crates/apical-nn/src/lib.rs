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

pub use activation::*;
pub use dendritic::*;
pub use device::*;
pub use feedforward::*;
pub use gfn::*;
pub use init::*;
