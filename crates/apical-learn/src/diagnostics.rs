//! How a rule's update compares with backprop's gradient on the same batch.

use burn::tensor::Tensor;
use serde::Serialize;

/// Per-layer diagnostics of one update, bottom layer first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayerDiagnostics {
    /// Angle (degrees) between this rule's weight gradient and backprop's on the same batch.
    pub angle_to_backprop_deg: f64,
    /// Frobenius norm of this rule's weight gradient.
    pub update_norm: f64,
}

impl LayerDiagnostics {
    /// Compares a rule's weight `update` (gradient-like, before the optimizer) with backprop's
    /// `gradient` on the same batch.
    pub fn compare(update: &Tensor<2>, gradient: &Tensor<2>) -> Self {
        Self {
            angle_to_backprop_deg: angle_deg(update, gradient),
            update_norm: update
                .clone()
                .powi_scalar(2)
                .sum()
                .sqrt()
                .into_scalar::<f32>() as f64,
        }
    }
}

/// Angle in degrees between two weight updates (90° when either is zero).
pub fn angle_deg(a: &Tensor<2>, b: &Tensor<2>) -> f64 {
    let dot: f32 = (a.clone() * b.clone()).sum().into_scalar();
    let na: f32 = a.clone().powi_scalar(2).sum().sqrt().into_scalar();
    let nb: f32 = b.clone().powi_scalar(2).sum().sqrt().into_scalar();
    if na == 0.0 || nb == 0.0 {
        return 90.0;
    }
    ((dot / (na * nb)).clamp(-1.0, 1.0) as f64)
        .acos()
        .to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;
    use apical_nn::ndarray_device;
    use burn::tensor::TensorData;

    #[test]
    fn angles_of_known_pairs() {
        let device = ndarray_device();
        let m = |v: [f32; 2]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 2]), &device);
        assert!((angle_deg(&m([1.0, 0.0]), &m([0.0, 2.0])) - 90.0).abs() < 1e-4);
        assert!((angle_deg(&m([1.0, 1.0]), &m([2.0, 2.0]))).abs() < 1e-2);
        assert!((angle_deg(&m([1.0, 0.0]), &m([1.0, 1.0])) - 45.0).abs() < 1e-3);
        assert_eq!(angle_deg(&m([0.0, 0.0]), &m([1.0, 1.0])), 90.0);
    }
}
