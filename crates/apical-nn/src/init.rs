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

/// How a layer's initial weights are drawn (`model.init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightInit {
    /// burn's default scale: weights and biases U(±1/√fan_in).
    #[default]
    Uniform,
    /// Glorot & Bengio (2010) uniform ("Xavier", PyTorch's `xavier_uniform_`): weights
    /// U(±√(6 / (fan_in + fan_out))), biases 0 — the initialisation of Song et al. (2024).
    Xavier,
}

/// A linear map `d_in → d_out` drawn with `init` from `rng`, with a bias or without. With
/// [`WeightInit::Uniform`] and a bias it is [`seeded_linear`] exactly (the same draws).
pub fn seeded_linear_with(
    d_in: usize,
    d_out: usize,
    init: WeightInit,
    bias: bool,
    rng: &mut SeededRng,
    device: &Device,
) -> Linear {
    match (init, bias) {
        (WeightInit::Uniform, true) => seeded_linear(d_in, d_out, rng, device),
        (WeightInit::Uniform, false) => Linear {
            weight: Param::from_tensor(uniform_matrix(
                d_in,
                d_out,
                1.0 / (d_in as f64).sqrt(),
                rng,
                device,
            )),
            bias: None,
        },
        (WeightInit::Xavier, bias) => {
            let bound = (6.0 / (d_in + d_out) as f64).sqrt();
            Linear {
                weight: Param::from_tensor(uniform_matrix(d_in, d_out, bound, rng, device)),
                bias: bias.then(|| Param::from_tensor(Tensor::<1>::zeros([d_out], device))),
            }
        }
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

/// Private noise after the rate function, rate-scaled (Poisson-like): `rate + σ·√max(rate, 0)·ε`,
/// ε ~ N(0, 1) per unit drawn from `rng` (variance σ²·rate, as a spike count's is ∝ its mean).
/// σ = 0 draws nothing and returns `rate` unchanged.
pub fn rate_noise(rate: Tensor<2>, sigma: f64, rng: &mut SeededRng) -> Tensor<2> {
    if sigma <= 0.0 {
        return rate;
    }
    let [rows, cols] = rate.dims();
    let eps = normal_matrix(rows, cols, sigma, rng, &rate.device());
    // The scale is a constant to the gradient: d√r/dr is unbounded at r = 0.
    rate.clone() + rate.clamp_min(0.0).sqrt().detach() * eps
}
