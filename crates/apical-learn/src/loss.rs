//! Losses and batch statistics.
//!
//! [`Loss`] is the objective a labelled run descends (`training.loss`, `training.loss_reduction`):
//! the cross-entropy of softmax(logits) (the default) or Song et al. (2024)'s squared error on
//! the linear readout, ½‖out − y‖², each averaged over the batch (the default) or summed over
//! it. The sum makes a plain-SGD step `batch` times larger at the same learning rate, which is
//! how Song et al.'s learning-rate grid is stated.

use burn::tensor::{activation, Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The per-example objective (`training.loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// −Σ_k y_k·log softmax(out)_k.
    #[default]
    CrossEntropy,
    /// ½·Σ_k (out_k − y_k)² on the linear readout (Song et al. 2024).
    SquaredError,
}

/// How the per-example losses of a batch are combined (`training.loss_reduction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// The batch mean.
    #[default]
    Mean,
    /// The batch sum (Song et al. 2024: a step is `batch` times a mean's).
    Sum,
}

/// The objective of a labelled run: a per-example loss and its batch reduction. Rules that
/// compute their own output error ask it for that error ([`output_error`](Self::output_error))
/// and for the batch factor of their weight updates ([`reduce`](Self::reduce)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loss {
    /// The per-example loss.
    pub kind: LossKind,
    /// Mean or sum over the batch.
    pub reduction: Reduction,
}

impl Loss {
    /// The batch loss of `logits` against one-hot `targets` (differentiable on an autodiff
    /// device). The default (cross-entropy, mean) is [`cross_entropy`] itself.
    ///
    /// # Shapes
    /// - logits, targets: `[batch, n_classes]`
    /// - output: `[1]`
    pub fn value(&self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        match (self.kind, self.reduction) {
            (LossKind::CrossEntropy, Reduction::Mean) => cross_entropy(logits, targets),
            (LossKind::CrossEntropy, Reduction::Sum) => {
                let log_p = activation::log_softmax(logits, 1);
                (log_p * targets).sum().neg()
            }
            (LossKind::SquaredError, reduction) => {
                assert_eq!(
                    logits.dims(),
                    targets.dims(),
                    "squared error: outputs and targets must have the same shape"
                );
                let batch = logits.dims()[0] as f64;
                let total = (logits - targets).powi_scalar(2).sum() * 0.5;
                match reduction {
                    Reduction::Mean => total / batch,
                    Reduction::Sum => total,
                }
            }
        }
    }

    /// The output error every example sends down, −∂loss_example/∂out: y − softmax(out)
    /// (cross-entropy) or y − out (squared error).
    ///
    /// # Shapes
    /// - logits, targets, output: `[batch, n_classes]`
    pub fn output_error(&self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<2> {
        match self.kind {
            LossKind::CrossEntropy => targets - activation::softmax(logits, 1),
            LossKind::SquaredError => targets - logits,
        }
    }

    /// The gradient of every example's loss with respect to its outputs, ∂loss_example/∂out:
    /// softmax(out) − y (cross-entropy) or out − y (squared error) — what backprop sends down.
    ///
    /// # Shapes
    /// - logits, targets, output: `[batch, n_classes]`
    pub fn output_gradient(&self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<2> {
        match self.kind {
            LossKind::CrossEntropy => activation::softmax(logits, 1) - targets,
            LossKind::SquaredError => logits - targets,
        }
    }

    /// A sum over the batch's examples turned into the batch loss's: divided by `batch` (mean)
    /// or left (sum).
    pub fn reduce<const D: usize>(&self, summed: Tensor<D>, batch: usize) -> Tensor<D> {
        match self.reduction {
            Reduction::Mean => summed / batch as f64,
            Reduction::Sum => summed,
        }
    }

    /// Whether this is the default objective (cross-entropy, batch mean).
    pub fn is_default(&self) -> bool {
        *self == Loss::default()
    }

    /// The per-example loss averaged over a batch, whatever the reduction (what evaluations
    /// report, so that numbers compare across batch sizes).
    pub fn per_example(&self) -> Loss {
        Loss {
            kind: self.kind,
            reduction: Reduction::Mean,
        }
    }
}

/// One-hot targets `[batch, n_classes]` built on the host.
///
/// # Panics
/// If a label is not below `n_classes`.
pub fn one_hot(labels: &[usize], n_classes: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; labels.len() * n_classes];
    for (row, &label) in labels.iter().enumerate() {
        assert!(
            label < n_classes,
            "one_hot: label {label} is not below n_classes = {n_classes}"
        );
        values[row * n_classes + label] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [labels.len(), n_classes]), device)
}

/// Mean cross-entropy of softmax(logits) against one-hot `targets`.
///
/// # Shapes
/// - logits, targets: `[batch, n_classes]`
/// - output: `[1]`
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    assert_eq!(
        logits.dims(),
        targets.dims(),
        "cross_entropy: logits and targets must have the same shape"
    );
    let log_p = activation::log_softmax(logits, 1);
    (log_p * targets).sum_dim(1).mean().neg()
}

/// Predicted class per row (argmax of the logits), read back to the host.
pub fn predictions(logits: Tensor<2>) -> Vec<usize> {
    let idx: Tensor<2, Int> = logits.argmax(1);
    idx.into_data().iter::<i64>().map(|v| v as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use apical_nn::ndarray_device;

    #[test]
    fn cross_entropy_matches_closed_form() {
        let device = ndarray_device();
        // logits [0, ln 3] → p = [1/4, 3/4]; label 1 → loss = −ln(3/4).
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 3.0f32.ln()], [1, 2]), &device);
        let loss: f32 = cross_entropy(logits, one_hot(&[1], 2, &device)).into_scalar();
        assert!((loss - (4.0f32 / 3.0).ln()).abs() < 1e-5, "loss {loss}");
    }

    #[test]
    fn squared_error_and_its_output_error_match_the_closed_form() {
        let device = ndarray_device();
        let out = Tensor::<2>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 2.0, 0.0], [2, 2]),
            &device,
        );
        let y = one_hot(&[0, 0], 2, &device);
        // ½·((0.5−1)² + 1² + (2−1)² + 0²) = 1.125 summed; 0.5625 averaged over the 2 examples.
        let sum = Loss {
            kind: LossKind::SquaredError,
            reduction: Reduction::Sum,
        };
        let total: f32 = sum.value(out.clone(), y.clone()).into_scalar();
        assert!((total - 1.125).abs() < 1e-6, "sum {total}");
        let mean: f32 = sum
            .per_example()
            .value(out.clone(), y.clone())
            .into_scalar();
        assert!((mean - 0.5625).abs() < 1e-6, "mean {mean}");
        let error: Vec<f32> = sum
            .output_error(out, y)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(error, vec![0.5, 1.0, -1.0, 0.0]);
    }

    #[test]
    fn the_default_loss_is_cross_entropy_and_its_sum_is_batch_times_the_mean() {
        let device = ndarray_device();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.1f32, 0.9, -0.3, 2.0, -1.0, 0.5], [2, 3]),
            &device,
        );
        let y = one_hot(&[1, 0], 3, &device);
        let mean: f32 = Loss::default()
            .value(logits.clone(), y.clone())
            .into_scalar();
        let ce: f32 = cross_entropy(logits.clone(), y.clone()).into_scalar();
        assert_eq!(mean, ce);
        let sum = Loss {
            reduction: Reduction::Sum,
            ..Loss::default()
        };
        let total: f32 = sum.value(logits, y).into_scalar();
        assert!((total - 2.0 * mean).abs() < 1e-5, "{total} vs 2 × {mean}");
    }

    #[test]
    fn predictions_are_row_argmax() {
        let device = ndarray_device();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.1f32, 0.9, 0.0, 2.0, -1.0, 0.5], [2, 3]),
            &device,
        );
        assert_eq!(predictions(logits), vec![1, 0]);
    }
}
