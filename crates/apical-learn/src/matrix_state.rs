//! Byte format for a rule's matrix-valued state (feedback matrices, cancellation weights) in
//! checkpoints: a JSON line with the shapes, then the values as little-endian f32.

use burn::tensor::{Device, Tensor, TensorData};

use crate::OptimizerStateError;

/// Whether every entry of `matrices` is finite (no NaN or ±inf): rule state a run may keep.
pub fn matrices_finite(matrices: &[Tensor<2>]) -> bool {
    matrices
        .iter()
        .all(|m| m.to_data().iter::<f32>().all(f32::is_finite))
}

/// Encodes `matrices`.
pub fn matrices_to_bytes(matrices: &[Tensor<2>]) -> Vec<u8> {
    let shapes: Vec<[usize; 2]> = matrices.iter().map(|m| m.dims()).collect();
    let mut bytes = serde_json::to_vec(&shapes).expect("shapes serialise");
    bytes.push(b'\n');
    for m in matrices {
        for v in m.to_data().iter::<f32>() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    bytes
}

/// Decodes matrices written by [`matrices_to_bytes`] onto `device`, checking they have the
/// `expected` shapes; `what` names the state in errors.
pub fn matrices_from_bytes(
    bytes: &[u8],
    expected: &[[usize; 2]],
    what: &str,
    device: &Device,
) -> Result<Vec<Tensor<2>>, OptimizerStateError> {
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| OptimizerStateError::Malformed(format!("no header line in {what}")))?;
    let shapes: Vec<[usize; 2]> = serde_json::from_slice(&bytes[..newline])
        .map_err(|e| OptimizerStateError::Malformed(format!("{what}: {e}")))?;
    if shapes != expected {
        return Err(OptimizerStateError::Mismatch(format!(
            "{what} shapes {shapes:?}, network needs {expected:?}"
        )));
    }
    let mut body = &bytes[newline + 1..];
    let total: usize = shapes.iter().map(|[r, c]| r * c * 4).sum();
    if body.len() != total {
        return Err(OptimizerStateError::Malformed(format!(
            "expected {total} bytes of {what}, found {}",
            body.len()
        )));
    }
    let mut out = Vec::with_capacity(shapes.len());
    for [r, c] in shapes {
        let values: Vec<f32> = body[..r * c * 4]
            .chunks_exact(4)
            .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
            .collect();
        body = &body[r * c * 4..];
        out.push(Tensor::from_data(TensorData::new(values, [r, c]), device));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apical_nn::ndarray_device;

    #[test]
    fn round_trips_and_refuses_wrong_shapes_or_lengths() {
        let device = ndarray_device();
        let m = vec![Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, -2.5, 3.0, 0.25, 5.0, 6.0], [2, 3]),
            &device,
        )];
        let bytes = matrices_to_bytes(&m);
        let back = matrices_from_bytes(&bytes, &[[2, 3]], "test state", &device).unwrap();
        back[0].to_data().assert_eq(&m[0].to_data(), true);
        assert!(matches!(
            matrices_from_bytes(&bytes, &[[3, 2]], "test state", &device),
            Err(OptimizerStateError::Mismatch(_))
        ));
        assert!(matches!(
            matrices_from_bytes(&bytes[..bytes.len() - 1], &[[2, 3]], "test state", &device),
            Err(OptimizerStateError::Malformed(_))
        ));
        assert!(matrices_from_bytes(b"nope", &[[2, 3]], "test state", &device).is_err());
    }
}
