//! Reading `.npy` inputs for the analyses: shapes checked once, values finite, with the file
//! named in every error.

use std::path::Path;

use apical_store::npy;
use nalgebra::DMatrix;

use crate::ReportError;

/// The largest unit-subset size whose Liu estimate stays clear of the T0 − N − 4 edge for
/// `t0` zero-signal trials: (T0 − 4)/2.
pub fn max_subset_size(t0: usize) -> usize {
    t0.saturating_sub(4) / 2
}

pub(crate) fn bad(path: &Path, message: impl Into<String>) -> ReportError {
    ReportError::read(path, message)
}

pub(crate) fn analysis_error(message: impl std::fmt::Display) -> ReportError {
    ReportError::Analysis {
        message: message.to_string(),
    }
}

/// A trials × units matrix (2-D array), or each time bin of a trials × bins × units array.
pub enum Responses {
    /// `[trials, units]`.
    Matrix(DMatrix<f64>),
    /// One `[trials, units]` matrix per time bin of a `[trials, bins, units]` array.
    Binned(Vec<DMatrix<f64>>),
}

/// Reads a 2-D or 3-D array of finite responses.
pub fn read_responses(path: &Path) -> Result<Responses, ReportError> {
    let a = npy::read(path)?;
    if a.data.iter().any(|v| !v.is_finite()) {
        return Err(bad(path, "contains NaN or infinite values"));
    }
    match a.shape.as_slice() {
        [t, u] if *t > 0 && *u > 0 => Ok(Responses::Matrix(DMatrix::from_row_slice(*t, *u, &a.data))),
        [t, b, u] if *t > 0 && *b > 0 && *u > 0 => Ok(Responses::Binned(
            (0..*b).map(|bin| DMatrix::from_fn(*t, *u, |trial, unit| a.data[(trial * b + bin) * u + unit])).collect(),
        )),
        other => Err(bad(path, format!("expected trials × units (2-D) or trials × time bins × units (3-D), got shape {other:?}"))),
    }
}

/// Reads a 2-D `[trials, units]` array of finite responses.
pub fn read_matrix(path: &Path) -> Result<DMatrix<f64>, ReportError> {
    match read_responses(path)? {
        Responses::Matrix(m) => Ok(m),
        Responses::Binned(_) => Err(bad(path, "expected a 2-D trials × units array")),
    }
}

/// Reads one finite value per trial (shape `(trials,)` or `(trials, 1)`).
pub fn read_vector(path: &Path, trials: usize) -> Result<Vec<f64>, ReportError> {
    let a = npy::read(path)?;
    let ok_shape = matches!(a.shape.as_slice(), [n] if *n == trials)
        || matches!(a.shape.as_slice(), [n, 1] if *n == trials);
    if !ok_shape {
        return Err(bad(
            path,
            format!(
                "expected one value per trial (shape ({trials},)), got shape {:?}",
                a.shape
            ),
        ));
    }
    if a.data.iter().any(|v| !v.is_finite()) {
        return Err(bad(path, "contains NaN or infinite values"));
    }
    Ok(a.data)
}

/// Reads integer class labels, one per trial, as indices of the distinct labels (at least two).
pub fn read_labels(path: &Path, trials: usize) -> Result<Vec<usize>, ReportError> {
    let values = read_vector(path, trials)?;
    if values.iter().any(|v| v.fract() != 0.0) {
        return Err(bad(path, "labels must be integers (class indices)"));
    }
    let mut distinct: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(bad(path, "labels must contain at least two classes"));
    }
    Ok(values
        .iter()
        .map(|&v| distinct.binary_search(&(v as i64)).expect("present"))
        .collect())
}
