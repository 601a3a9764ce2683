//! Backends: the runtime [`Device`] a run uses, chosen once by the caller (the `apical` binary,
//! or a researcher's own program through the facade).

use crate::ndarray_device;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which burn backend runs the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// burn-ndarray on the CPU (default; always available).
    #[default]
    Ndarray,
    /// burn-wgpu (Vulkan, Metal, DX12). On a machine without a GPU, Mesa's lavapipe
    /// (`mesa-vulkan-drivers`) provides a CPU Vulkan device.
    Wgpu,
}

impl BackendKind {
    /// The config / CLI name.
    pub fn name(&self) -> &'static str {
        match self {
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ndarray" => Ok(BackendKind::Ndarray),
            "wgpu" => Ok(BackendKind::Wgpu),
            other => Err(format!(
                "unknown backend {other:?}, expected \"ndarray\" or \"wgpu\""
            )),
        }
    }
}

/// The requested backend cannot be used on this machine.
#[derive(Debug, Error)]
pub enum BackendError {
    /// wgpu found no adapter.
    #[error("backend wgpu: no usable GPU adapter ({0}); install a Vulkan driver (on Debian/Ubuntu without a GPU: `apt-get install mesa-vulkan-drivers` gives the CPU device lavapipe) or run with --backend ndarray")]
    NoAdapter(String),
    /// This build was compiled without the wgpu backend.
    #[error("backend wgpu: this build of apical was compiled without the `wgpu` feature; rebuild with default features or run with --backend ndarray")]
    NotCompiled,
}

/// Initialises the device for `kind` (without autodiff). Fails cleanly, without panicking,
/// when wgpu has no adapter.
pub fn init_device(kind: BackendKind) -> Result<Device, BackendError> {
    match kind {
        BackendKind::Ndarray => Ok(ndarray_device()),
        BackendKind::Wgpu => init_wgpu(),
    }
}

/// burn initialises its wgpu runtime once per process (a second `init` is refused), so the
/// outcome of the first attempt is kept and handed to every later caller.
#[cfg(feature = "wgpu")]
fn init_wgpu() -> Result<Device, BackendError> {
    static WGPU: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    WGPU.get_or_init(|| {
        Device::wgpu_options().init().map_err(|e| {
            e.to_string()
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
    })
    .clone()
    .map_err(BackendError::NoAdapter)
}

#[cfg(not(feature = "wgpu"))]
fn init_wgpu() -> Result<Device, BackendError> {
    Err(BackendError::NotCompiled)
}

/// The name of the adapter a wgpu device comes up on (`"llvmpipe (LLVM 19.1.7, 256 bits)
/// (Vulkan)"`, `"NVIDIA H100 (Vulkan)"`), as burn's wgpu runtime chooses it: the first graphics
/// API (Vulkan, then DX12, then OpenGL; Metal on macOS) with a hardware adapter, else the first
/// with any. `None` without one, or in a build without wgpu.
pub fn wgpu_adapter_name() -> Option<String> {
    #[cfg(feature = "wgpu")]
    {
        let chain: &[wgpu::Backend] = if cfg!(target_os = "macos") {
            &[wgpu::Backend::Metal]
        } else {
            &[
                wgpu::Backend::Vulkan,
                wgpu::Backend::Dx12,
                wgpu::Backend::Gl,
            ]
        };
        let mut software = None;
        for &api in chain {
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends: api.into(),
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            let infos: Vec<wgpu::AdapterInfo> = block_on(instance.enumerate_adapters(api.into()))
                .iter()
                .map(wgpu::Adapter::get_info)
                .collect();
            let named = |i: &wgpu::AdapterInfo| format!("{} ({:?})", i.name, i.backend);
            if let Some(hardware) = infos
                .iter()
                .find(|i| i.device_type != wgpu::DeviceType::Cpu)
            {
                return Some(named(hardware));
            }
            if software.is_none() {
                software = infos.first().map(named);
            }
        }
        software
    }
    #[cfg(not(feature = "wgpu"))]
    None
}

/// Runs a future that needs no reactor to completion (wgpu's native adapter query is ready
/// at once).
#[cfg(feature = "wgpu")]
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut context) {
            return out;
        }
        std::thread::yield_now();
    }
}

/// Whether this build includes the wgpu backend.
pub fn wgpu_compiled() -> bool {
    cfg!(feature = "wgpu")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndarray_always_initialises_and_wgpu_twice_gives_the_same_answer() {
        assert!(init_device(BackendKind::Ndarray).is_ok());
        let first = init_device(BackendKind::Wgpu)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let second = init_device(BackendKind::Wgpu)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(first, second);
        assert_eq!("wgpu".parse::<BackendKind>(), Ok(BackendKind::Wgpu));
        assert!("cuda".parse::<BackendKind>().is_err());
    }
}
