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

/// Multiply-adds of a network's largest matrix product (batch × fan-in × fan-out) below which
/// [`auto_threads_for`] keeps the matrix products on one thread. Measured on a 2-core VM
/// (benches/README.md): below it, waking a second thread for every product costs more than it
/// saves (784-256-10 at batch 64 and 784-128×3-10 at batch 128: 12.8 M; predictive coding with
/// its many small products 15-20% faster on one thread); from 25.7 M (784-256-10 at batch
/// 128) two threads are as fast or faster, and at 51 M and above 25-40% faster.
pub const ONE_THREAD_BELOW: usize = 20_000_000;

/// The largest matrix product of a network with layer widths `widths` (input, hidden…,
/// output) at `batch` rows, in multiply-adds.
pub fn largest_product(batch: usize, widths: &[usize]) -> usize {
    widths
        .windows(2)
        .map(|w| batch.saturating_mul(w[0]).saturating_mul(w[1]))
        .max()
        .unwrap_or(0)
}

/// The environment variables that choose threads: apical's own, and the matrix library's
/// (matrixmultiply reads `MATMUL_NUM_THREADS` itself, once, at the first product: a library
/// user sets it before any product; the `apical` binary sets it as [`shared_matmul_threads`]
/// and [`auto_threads_for`] decide).
pub const THREAD_VARIABLES: [&str; 2] = ["APICAL_THREADS", "MATMUL_NUM_THREADS"];

/// What `MATMUL_NUM_THREADS` should be set to so that `APICAL_THREADS` also limits the matrix
/// products: `APICAL_THREADS`' value when only it is set (the binary applies it at the start of
/// `main`, before any thread or product).
pub fn shared_matmul_threads(
    apical_threads: Option<&std::ffi::OsStr>,
    matmul_threads: Option<&std::ffi::OsStr>,
) -> Option<std::ffi::OsString> {
    match (apical_threads, matmul_threads) {
        (Some(threads), None) => Some(threads.to_os_string()),
        _ => None,
    }
}

/// The threads of the CPU kernels for a network whose largest matrix product is `macs`
/// multiply-adds, unless the user chose them (`user_set`: `APICAL_THREADS` or
/// `MATMUL_NUM_THREADS` set and not empty): below [`ONE_THREAD_BELOW`] one thread, otherwise
/// the defaults (`None`). The binary sets `MATMUL_NUM_THREADS` to it and calls
/// [`set_threads`], once the config and data are known, before the first product.
pub fn auto_threads_for(macs: usize, user_set: bool) -> Option<usize> {
    (!user_set && macs < ONE_THREAD_BELOW).then_some(1)
}

/// The threads the user asked for in the thread variables' values (`APICAL_THREADS` first,
/// then `MATMUL_NUM_THREADS`; whole numbers > 0 only).
pub fn threads_from(values: [Option<&str>; 2]) -> Option<usize> {
    values
        .iter()
        .find_map(|v| v.and_then(|v| v.trim().parse::<usize>().ok()))
        .filter(|&n| n > 0)
}

static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Sets the threads the fused optimizer may use (the binary: from the thread variables, after
/// its automatic choice). Only the first call of a process (before the first [`threads`])
/// takes effect; returns whether this one did.
pub fn set_threads(threads: usize) -> bool {
    THREADS.set(threads.max(1)).is_ok()
}

/// Threads the fused optimizer may use: what [`set_threads`] set (the `apical` binary:
/// `APICAL_THREADS`, else `MATMUL_NUM_THREADS`, after one thread is chosen for small nets; `apical
/// sweep --jobs N` gives each worker an equal share of the cores), else every core. The matrix
/// products (matrixmultiply) read only `MATMUL_NUM_THREADS` (default: the physical cores, at
/// most 4).
pub fn threads() -> usize {
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_networks_run_their_products_on_one_thread_unless_the_user_chose() {
        // 784-256-10 at batch 64: 64·784·256.
        assert_eq!(largest_product(64, &[784, 256, 10]), 12_845_056);
        assert_eq!(largest_product(256, &[784, 1024, 1024, 10]), 268_435_456);
        assert_eq!(largest_product(8, &[5]), 0);
        assert_eq!(auto_threads_for(12_845_056, false), Some(1));
        assert_eq!(auto_threads_for(12_845_056, true), None);
        assert_eq!(auto_threads_for(25_690_112, false), None);
        assert_eq!(auto_threads_for(268_435_456, false), None);
    }

    #[test]
    fn apical_threads_reach_the_matrix_products_unless_they_have_their_own() {
        let four = std::ffi::OsStr::new("4");
        let two = std::ffi::OsStr::new("2");
        assert_eq!(shared_matmul_threads(Some(four), None), Some(four.into()));
        assert_eq!(shared_matmul_threads(Some(four), Some(two)), None);
        assert_eq!(shared_matmul_threads(None, Some(two)), None);
        assert_eq!(threads_from([Some("3"), Some("2")]), Some(3));
        assert_eq!(threads_from([None, Some(" 2 ")]), Some(2));
        assert_eq!(threads_from([Some("0"), None]), None);
        assert_eq!(threads_from([Some("x"), None]), None);
    }
}
