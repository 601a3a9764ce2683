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
/// [`auto_threads`] keeps the matrix products on one thread. Measured on a 2-core VM
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

/// Copies `APICAL_THREADS` into `MATMUL_NUM_THREADS` when only the former is set, so that it
/// also limits the matrix products (matrixmultiply reads only its own variable, at the first
/// product). Call at the start of `main`, before any thread or product.
pub fn share_apical_threads() {
    if let Some(threads) = std::env::var_os("APICAL_THREADS") {
        if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
            std::env::set_var("MATMUL_NUM_THREADS", threads);
        }
    }
}

/// Chooses the threads of the CPU kernels for a network whose largest matrix product is
/// `macs` multiply-adds, unless the user chose them (`APICAL_THREADS` or `MATMUL_NUM_THREADS`
/// set): below [`ONE_THREAD_BELOW`] one thread (sets `MATMUL_NUM_THREADS=1`, which
/// [`threads`] then reads too), otherwise the defaults. Takes effect only when called before
/// the first matrix product and the first [`threads`] call of the process; the `apical`
/// binary calls it once the config and data are known, before building the network. Returns
/// the threads set, or `None` when it left the defaults or the user's choice alone.
pub fn auto_threads(macs: usize) -> Option<usize> {
    let user_set = ["APICAL_THREADS", "MATMUL_NUM_THREADS"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    let chosen = auto_threads_for(macs, user_set);
    if let Some(n) = chosen {
        std::env::set_var("MATMUL_NUM_THREADS", n.to_string());
    }
    chosen
}

/// [`auto_threads`]'s decision, without the environment.
fn auto_threads_for(macs: usize, user_set: bool) -> Option<usize> {
    (!user_set && macs < ONE_THREAD_BELOW).then_some(1)
}

/// Threads the fused optimizer may use: `APICAL_THREADS`, else `MATMUL_NUM_THREADS` (the matrix
/// library's own setting), else every core. The matrix products (matrixmultiply) read only
/// `MATMUL_NUM_THREADS` (default: the physical cores, at most 4); the `apical` binary copies
/// `APICAL_THREADS` into it when it is unset, [`auto_threads`] sets it to 1 for small nets when
/// neither is set (so the fused optimizer then runs on one thread too), and `apical sweep
/// --jobs N` sets both for each worker to an equal share of the cores.
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
}
