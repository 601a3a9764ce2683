//! Losses and batch statistics.

use burn::tensor::{activation, Device, Int, Tensor, TensorData};

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
    fn predictions_are_row_argmax() {
        let device = ndarray_device();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.1f32, 0.9, 0.0, 2.0, -1.0, 0.5], [2, 3]),
            &device,
        );
        assert_eq!(predictions(logits), vec![1, 0]);
    }
}
