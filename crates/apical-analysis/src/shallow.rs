//! Classifiers without a learning rule, the controls of a few-label study: principal components
//! fitted on an unlabelled pool, a closed-form ridge probe, and the nearest neighbour.
//!
//! - [`Pca::fit`]: the pool's mean and the leading eigenvectors of its covariance (examples in
//!   rows); [`Pca::project`] onto the first k of them.
//! - [`RidgeProbe::fit`]: a linear readout onto one-hot targets, W = (XᵀX + λI)⁻¹XᵀY on centred
//!   features (the intercept is the targets' mean, not penalised); predicts the largest output.
//! - [`nearest_neighbour`]: the label of the closest training example (Euclidean; ties to the
//!   earlier example).
//! - [`cv_fold_of`]: the fold of each example for k-fold cross-validation that keeps every class
//!   in every fold while a class has ≥ k examples (the i-th example of a class → fold i mod k).

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Principal components of a pool of examples.
#[derive(Debug, Clone)]
pub struct Pca {
    /// The pool's mean, `[features]`.
    pub mean: DVector<f64>,
    /// Components in columns, `[features, k]`, by decreasing variance.
    pub components: DMatrix<f64>,
    /// The variance along each component.
    pub variances: Vec<f64>,
}

impl Pca {
    /// The first `k` principal components of `pool` (`[examples, features]`).
    ///
    /// # Panics
    /// If `k` is 0 or above the number of features, or the pool has fewer than 2 examples.
    pub fn fit(pool: &DMatrix<f64>, k: usize) -> Pca {
        let (n, d) = pool.shape();
        assert!(
            n >= 2,
            "Pca::fit: the pool needs at least 2 examples, got {n}"
        );
        assert!(
            (1..=d).contains(&k),
            "Pca::fit: k must be in 1..={d}, got {k}"
        );
        let mean = pool.row_mean().transpose();
        let centred = pool - DVector::from_element(n, 1.0) * mean.transpose();
        let covariance = (centred.transpose() * &centred) / (n as f64 - 1.0);
        let eigen = SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let components = DMatrix::from_fn(d, k, |row, col| eigen.eigenvectors[(row, order[col])]);
        let variances = order[..k].iter().map(|&i| eigen.eigenvalues[i]).collect();
        Pca {
            mean,
            components,
            variances,
        }
    }

    /// `x` (`[examples, features]`) projected onto the first `k` components: `[examples, k]`.
    ///
    /// # Panics
    /// If `k` exceeds the fitted components or `x` has another width.
    pub fn project(&self, x: &DMatrix<f64>, k: usize) -> DMatrix<f64> {
        assert!(
            k <= self.components.ncols(),
            "Pca::project: {k} components asked, {} fitted",
            self.components.ncols()
        );
        assert_eq!(x.ncols(), self.mean.len(), "Pca::project: feature count");
        let centred = x - DVector::from_element(x.nrows(), 1.0) * self.mean.transpose();
        centred * self.components.columns(0, k)
    }
}

/// A linear readout fitted in closed form.
#[derive(Debug, Clone)]
pub struct RidgeProbe {
    mean: DVector<f64>,
    weights: DMatrix<f64>,
    intercept: DVector<f64>,
}

impl RidgeProbe {
    /// Fits one-hot targets of `labels` (below `n_classes`) from `x` (`[examples, features]`)
    /// with penalty `lambda` > 0.
    ///
    /// # Panics
    /// If the lengths disagree, a label is out of range or `lambda` is not positive.
    pub fn fit(x: &DMatrix<f64>, labels: &[usize], n_classes: usize, lambda: f64) -> RidgeProbe {
        assert_eq!(
            x.nrows(),
            labels.len(),
            "RidgeProbe::fit: one label per row"
        );
        assert!(lambda > 0.0, "RidgeProbe::fit: lambda must be > 0");
        let n = x.nrows();
        let mean = x.row_mean().transpose();
        let centred = x - DVector::from_element(n, 1.0) * mean.transpose();
        let mut y = DMatrix::zeros(n, n_classes);
        for (row, &label) in labels.iter().enumerate() {
            assert!(
                label < n_classes,
                "RidgeProbe::fit: label {label} ≥ {n_classes}"
            );
            y[(row, label)] = 1.0;
        }
        let intercept = y.row_mean().transpose();
        let yc = &y - DVector::from_element(n, 1.0) * intercept.transpose();
        let d = x.ncols();
        // The dual form when there are fewer examples than features: W = Xᵀ(XXᵀ + λI)⁻¹Y.
        let weights = if n < d {
            let gram = &centred * centred.transpose() + DMatrix::identity(n, n) * lambda;
            let alpha = gram
                .cholesky()
                .expect("XXᵀ + λI is positive definite")
                .solve(&yc);
            centred.transpose() * alpha
        } else {
            let gram = centred.transpose() * &centred + DMatrix::identity(d, d) * lambda;
            gram.cholesky()
                .expect("XᵀX + λI is positive definite")
                .solve(&(centred.transpose() * yc))
        };
        RidgeProbe {
            mean,
            weights,
            intercept,
        }
    }

    /// The class with the largest output for each row of `x`.
    pub fn predict(&self, x: &DMatrix<f64>) -> Vec<usize> {
        let centred = x - DVector::from_element(x.nrows(), 1.0) * self.mean.transpose();
        let out = centred * &self.weights;
        (0..out.nrows())
            .map(|r| {
                let row = out.row(r);
                let mut best = 0;
                for c in 1..row.len() {
                    if row[c] + self.intercept[c] > row[best] + self.intercept[best] {
                        best = c;
                    }
                }
                best
            })
            .collect()
    }
}

/// The label of each `test` row's nearest `train` row (squared Euclidean distance; ties to the
/// earlier training example).
///
/// # Panics
/// If the widths or the label count disagree, or there is no training example.
pub fn nearest_neighbour(
    train: &DMatrix<f64>,
    labels: &[usize],
    test: &DMatrix<f64>,
) -> Vec<usize> {
    assert_eq!(
        train.nrows(),
        labels.len(),
        "nearest_neighbour: one label per row"
    );
    assert!(train.nrows() > 0, "nearest_neighbour: no training example");
    assert_eq!(
        train.ncols(),
        test.ncols(),
        "nearest_neighbour: feature count"
    );
    // ‖a − b‖² = ‖a‖² − 2a·b + ‖b‖²; ‖a‖² is the same for every candidate of a test row.
    let cross = test * train.transpose();
    let norms: Vec<f64> = train.row_iter().map(|r| r.norm_squared()).collect();
    (0..test.nrows())
        .map(|t| {
            let mut best = (f64::INFINITY, 0);
            for (j, norm) in norms.iter().enumerate() {
                let d = norm - 2.0 * cross[(t, j)];
                if d < best.0 {
                    best = (d, j);
                }
            }
            labels[best.1]
        })
        .collect()
}

/// The fraction of `predicted` that differ from `labels`.
pub fn error_rate(predicted: &[usize], labels: &[usize]) -> f64 {
    assert_eq!(predicted.len(), labels.len(), "error_rate: lengths");
    if labels.is_empty() {
        return f64::NAN;
    }
    predicted.iter().zip(labels).filter(|(p, l)| p != l).count() as f64 / labels.len() as f64
}

/// The fold (0 … k − 1) of each example: the i-th example of each class goes to fold i mod k.
pub fn cv_fold_of(labels: &[usize], k: usize) -> Vec<usize> {
    assert!(k >= 2, "cv_fold_of: k must be at least 2");
    let mut seen = std::collections::HashMap::new();
    labels
        .iter()
        .map(|&l| {
            let i = seen.entry(l).or_insert(0usize);
            let fold = *i % k;
            *i += 1;
            fold
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_direction_of_largest_variance() {
        // Points along (1, 1)/√2 with a little spread across it.
        let pool = DMatrix::from_fn(200, 2, |r, c| {
            let t = r as f64 / 10.0 - 10.0;
            let across = if r % 2 == 0 { 0.1 } else { -0.1 };
            t + if c == 0 { across } else { -across }
        });
        let pca = Pca::fit(&pool, 1);
        let v = pca.components.column(0);
        assert!((v[0].abs() - 0.5f64.sqrt()).abs() < 1e-3, "{v}");
        assert!((v[0] - v[1]).abs() < 1e-3, "{v}");
        let projected = pca.project(&pool, 1);
        assert_eq!(projected.shape(), (200, 1));
        assert!(pca.variances[0] > 60.0);
    }

    #[test]
    fn the_ridge_probe_and_the_nearest_neighbour_separate_clusters() {
        let centre = |c: usize| [[0.0, 0.0, 1.0], [3.0, 0.0, 1.0], [0.0, 3.0, 1.0]][c];
        let x = DMatrix::from_fn(30, 3, |r, f| {
            centre(r % 3)[f] + ((r * 7 + f) % 5) as f64 * 0.1
        });
        let labels: Vec<usize> = (0..30).map(|r| r % 3).collect();
        let test = DMatrix::from_fn(9, 3, |r, f| centre(r % 3)[f] + 0.05);
        let truth: Vec<usize> = (0..9).map(|r| r % 3).collect();
        let probe = RidgeProbe::fit(&x, &labels, 3, 1e-3);
        assert_eq!(error_rate(&probe.predict(&test), &truth), 0.0);
        assert_eq!(
            error_rate(&nearest_neighbour(&x, &labels, &test), &truth),
            0.0
        );
        // Fewer examples than features: the dual form gives the same separation.
        let wide = DMatrix::from_fn(6, 10, |r, f| if f == r % 3 { 1.0 } else { 0.01 * f as f64 });
        let wide_labels: Vec<usize> = (0..6).map(|r| r % 3).collect();
        let p = RidgeProbe::fit(&wide, &wide_labels, 3, 1e-2);
        assert_eq!(p.predict(&wide), wide_labels);
    }

    #[test]
    fn folds_keep_every_class_in_every_fold() {
        let labels = [0, 1, 0, 1, 0, 1, 2, 2, 2];
        let folds = cv_fold_of(&labels, 3);
        for fold in 0..3 {
            let classes: std::collections::BTreeSet<usize> = labels
                .iter()
                .zip(&folds)
                .filter(|(_, f)| **f == fold)
                .map(|(l, _)| *l)
                .collect();
            assert_eq!(classes.len(), 3, "fold {fold}");
        }
    }
}
