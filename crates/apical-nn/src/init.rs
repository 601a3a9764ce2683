//! Seeded, backend-independent parameter initialisation.
//!
//! burn's own initialisers draw from the device's random generator, which differs between
//! backends. apical draws initial weights on the host from a seeded generator instead, so the
//! same seed gives the same network on ndarray and on wgpu.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};

pub use apical_core::SeededRng;

/// A `rows × cols` matrix with entries U(−bound, bound), on `device`.
pub fn uniform_matrix(
    rows: usize,
    cols: usize,
    bound: f64,
    rng: &mut SeededRng,
    device: &Device,
) -> Tensor<2> {
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| rng.uniform_range(-bound, bound) as f32)
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A linear map `d_in → d_out` with burn's default (Kaiming-uniform, k = 1/√d_in) scale, drawn
/// from `rng` so that it is identical on every backend.
pub fn seeded_linear(d_in: usize, d_out: usize, rng: &mut SeededRng, device: &Device) -> Linear {
    let bound = 1.0 / (d_in as f64).sqrt();
    let weight = uniform_matrix(d_in, d_out, bound, rng, device);
    let bias_values: Vec<f32> = (0..d_out)
        .map(|_| rng.uniform_range(-bound, bound) as f32)
        .collect();
    let bias = Tensor::<1>::from_data(TensorData::new(bias_values, [d_out]), device);
    Linear {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
    }
}

/// A `rows × cols` matrix of independent N(0, std²) values, drawn on the host.
pub fn normal_matrix(
    rows: usize,
    cols: usize,
    std: f64,
    rng: &mut SeededRng,
    device: &Device,
) -> Tensor<2> {
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| (std * rng.normal()) as f32)
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}
