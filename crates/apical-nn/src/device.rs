//! The default CPU device.

use burn::tensor::Device;

/// The burn-ndarray CPU device: apical's default backend.
///
/// burn 0.22 marks ndarray deprecated in favour of `flex`; the project keeps ndarray as the
/// default (it is what the owner asked for and what CI exercises), so the deprecation is
/// acknowledged here, in one place.
#[allow(deprecated)]
pub fn ndarray_device() -> Device {
    Device::ndarray()
}

/// `t` without the autodiff wrapper (unchanged when its device has none): what local learning
/// rules compute with, since they never call `backward`. An internal of the rules, public only
/// because they live in another crate.
#[doc(hidden)]
pub fn without_autodiff<const D: usize>(t: burn::tensor::Tensor<D>) -> burn::tensor::Tensor<D> {
    if t.device().is_autodiff() {
        t.inner()
    } else {
        t
    }
}
