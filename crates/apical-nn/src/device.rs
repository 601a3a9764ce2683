//! The default CPU device, and how many threads its kernels use.

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

/// Whether tensors on `device` live in host memory (ndarray), so that a loop over their data
/// costs no transfer: the optimizers update such parameters in one fused pass.
pub fn is_host(device: &Device) -> bool {
    device.clone().without_autodiff() == ndarray_device()
}

/// Threads the fused optimizer may use: `APICAL_THREADS`, else `MATMUL_NUM_THREADS` (the matrix
/// library's own setting), else every core. The matrix products (matrixmultiply) read only
/// `MATMUL_NUM_THREADS` (default: the physical cores, at most 4); the `apical` binary copies
/// `APICAL_THREADS` into it when it is unset, and `apical sweep --jobs N` sets both for each
/// worker to an equal share of the cores.
pub fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        ["APICAL_THREADS", "MATMUL_NUM_THREADS"]
            .iter()
            .find_map(|var| {
                std::env::var(var)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
            })
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
    })
}
