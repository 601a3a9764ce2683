//! Rate nonlinearities φ.

use burn::tensor::{activation, Tensor};
use serde::{Deserialize, Serialize};

/// The rate function φ applied to a unit's somatic input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// tanh(x).
    Tanh,
    /// 1 / (1 + e^(−x)).
    Sigmoid,
    /// The identity (linear units).
    Linear,
}

impl Activation {
    /// Applies φ elementwise.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Tanh => activation::tanh(x),
            // σ(x) = 1 / (1 + e^(−x)): four elementwise passes where burn's default sigmoid
            // (exp ∘ −log(1 + e^(−x))) takes six on ndarray; e^(−x) = ∞ gives exactly 0.
            Activation::Sigmoid => (x.neg().exp() + 1.0).recip(),
            Activation::Linear => x,
        }
    }

    /// φ′ expressed through the rate r = φ(x) (all four functions allow it): relu `1[r > 0]`,
    /// tanh 1 − r², sigmoid r(1 − r), linear 1.
    pub fn derivative_from_rate<const D: usize>(&self, rate: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => rate.greater_elem(0.0).float(),
            Activation::Tanh => rate.clone().powi_scalar(2).neg() + 1.0,
            Activation::Sigmoid => rate.clone() - rate.powi_scalar(2),
            Activation::Linear => rate.ones_like(),
        }
    }

    /// The name used in configs.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Linear => "linear",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndarray_device;
    use burn::tensor::Tolerance;

    #[test]
    fn each_activation_matches_its_formula() {
        let device = ndarray_device();
        let x = Tensor::<1>::from_floats([-2.0, 0.0, 1.5], &device);
        let expect = |a: Activation, v: [f32; 3]| {
            a.forward(x.clone()).into_data().assert_approx_eq::<f32>(
                &Tensor::<1>::from_floats(v, &device).into_data(),
                Tolerance::default(),
            );
        };
        expect(Activation::Relu, [0.0, 0.0, 1.5]);
        expect(Activation::Tanh, [(-2.0f32).tanh(), 0.0, 1.5f32.tanh()]);
        expect(
            Activation::Sigmoid,
            [
                1.0 / (1.0 + 2.0f32.exp()),
                0.5,
                1.0 / (1.0 + (-1.5f32).exp()),
            ],
        );
        expect(Activation::Linear, [-2.0, 0.0, 1.5]);
    }

    #[test]
    fn derivative_from_rate_matches_finite_differences() {
        let device = ndarray_device();
        for a in [
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Linear,
        ] {
            for x in [-1.3f32, 0.4, 2.0] {
                let h = 1e-3f32;
                let f = |v: f32| -> f32 {
                    a.forward(Tensor::<1>::from_floats([v], &device))
                        .into_scalar()
                };
                let numeric = (f(x + h) - f(x - h)) / (2.0 * h);
                let rate = a.forward(Tensor::<1>::from_floats([x], &device));
                let analytic: f32 = a.derivative_from_rate(rate).into_scalar();
                assert!(
                    (numeric - analytic).abs() < 1e-2,
                    "{a:?} at {x}: {numeric} vs {analytic}"
                );
            }
        }
    }
}
