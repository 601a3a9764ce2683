//! Noise correlations, differential correlations and single-unit task relevance.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::population::percentile;

/// Noise-correlation structure of a population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationSummary {
    /// Units.
    pub n_units: usize,
    /// Trials.
    pub n_trials: usize,
    /// Unit pairs with a defined correlation (both units vary).
    pub n_pairs: usize,
    /// Mean pairwise noise correlation r.
    pub mean_r: f64,
    /// Percentiles 5, 25, 50, 75, 95 of the pairwise r.
    pub r_percentiles: [f64; 5],
    /// Histogram of r: counts in 20 bins of width 0.1 over [−1, 1].
    pub r_histogram: Vec<usize>,
    /// Fraction of the noise variance along f′ (f̂ᵀΣf̂ / tr Σ); 1/N for isotropic noise.
    /// None when the signal has no ±L pair.
    pub fraction_variance_along_fprime: Option<f64>,
    /// Per unit: single-unit Fisher information f′ᵢ²/σᵢ² (task relevance). Empty without a
    /// ±L pair.
    pub single_unit_information: Vec<f64>,
}

fn key(x: f64) -> i64 {
    (x * 1e6).round() as i64
}

/// Residuals after subtracting each condition's mean: `conditions[t]` labels trial t's
/// stimulus (signal level and context).
pub fn noise_residuals(responses: &DMatrix<f64>, conditions: &[i64]) -> DMatrix<f64> {
    assert_eq!(
        responses.nrows(),
        conditions.len(),
        "noise_residuals: one condition per trial"
    );
    let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (t, &c) in conditions.iter().enumerate() {
        groups.entry(c).or_default().push(t);
    }
    let mut out = responses.clone();
    for idx in groups.values() {
        for u in 0..responses.ncols() {
            let mean = idx.iter().map(|&t| responses[(t, u)]).sum::<f64>() / idx.len() as f64;
            for &t in idx {
                out[(t, u)] -= mean;
            }
        }
    }
    out
}

/// Noise correlations within conditions (signal level × context), with differential-correlation
/// and task-relevance measures taken at the widest ±L signal pair.
///
/// # Panics
/// If the lengths disagree (validated at the boundary).
pub fn noise_correlations(
    responses: &DMatrix<f64>,
    signal: &[f64],
    context: Option<&[f64]>,
) -> CorrelationSummary {
    let (trials, units) = responses.shape();
    assert_eq!(
        signal.len(),
        trials,
        "noise_correlations: one signal value per trial"
    );
    let conditions: Vec<i64> = (0..trials)
        .map(|t| {
            key(signal[t])
                .wrapping_mul(1_000_003)
                .wrapping_add(context.map_or(0, |c| key(c[t])))
        })
        .collect();
    let residuals = noise_residuals(responses, &conditions);
    let n_conditions = conditions
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let dof = (trials.saturating_sub(n_conditions)).max(1) as f64;
    let cov = residuals.transpose() * &residuals / dof;
    let sd: Vec<f64> = (0..units).map(|u| cov[(u, u)].sqrt()).collect();
    let mut rs = Vec::new();
    for i in 0..units {
        for j in (i + 1)..units {
            if sd[i] > 0.0 && sd[j] > 0.0 {
                rs.push((cov[(i, j)] / (sd[i] * sd[j])).clamp(-1.0, 1.0));
            }
        }
    }
    let mut histogram = vec![0usize; 20];
    for &r in &rs {
        histogram[(((r + 1.0) / 0.1) as usize).min(19)] += 1;
    }
    let mean_r = if rs.is_empty() {
        f64::NAN
    } else {
        rs.iter().sum::<f64>() / rs.len() as f64
    };
    let mut sorted = rs.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let r_percentiles = if sorted.is_empty() {
        [f64::NAN; 5]
    } else {
        [5.0, 25.0, 50.0, 75.0, 95.0].map(|q| percentile(&sorted, q))
    };

    // f′ from the widest level recorded at both signs.
    let widest = signal
        .iter()
        .filter(|&&s| s > 0.0 && signal.iter().any(|&o| key(o) == -key(s)))
        .fold(None, |acc: Option<f64>, &s| {
            Some(acc.map_or(s, |a| a.max(s)))
        });
    let (fraction, single) = match widest {
        Some(level) => {
            let mean_at = |target: f64| {
                let idx: Vec<usize> = (0..trials)
                    .filter(|&t| key(signal[t]) == key(target))
                    .collect();
                DVector::from_iterator(
                    units,
                    (0..units).map(|u| {
                        idx.iter().map(|&t| responses[(t, u)]).sum::<f64>() / idx.len() as f64
                    }),
                )
            };
            let fprime = (mean_at(level) - mean_at(-level)) / (2.0 * level);
            let norm = fprime.norm();
            let trace: f64 = (0..units).map(|u| cov[(u, u)]).sum();
            let fraction = (norm > 0.0 && trace > 0.0).then(|| {
                let f_hat = &fprime / norm;
                (f_hat.transpose() * &cov * &f_hat)[(0, 0)] / trace
            });
            let single = (0..units)
                .map(|u| {
                    if cov[(u, u)] > 0.0 {
                        fprime[u] * fprime[u] / cov[(u, u)]
                    } else {
                        0.0
                    }
                })
                .collect();
            (fraction, single)
        }
        None => (None, Vec::new()),
    };
    CorrelationSummary {
        n_units: units,
        n_trials: trials,
        n_pairs: rs.len(),
        mean_r,
        r_percentiles,
        r_histogram: histogram,
        fraction_variance_along_fprime: fraction,
        single_unit_information: single,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn normal(rng: &mut StdRng) -> f64 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    #[test]
    fn shared_noise_gives_the_closed_form_correlation_and_stimulus_does_not_count() {
        // x_i = slope·s + √c·z + √(1−c)·e_i  ⇒  noise correlation c between every pair.
        let (units, c) = (6, 0.3f64);
        let mut rng = StdRng::seed_from_u64(3);
        let mut data = Vec::new();
        let mut signal = Vec::new();
        for t in 0..6000 {
            let s = [-10.0, 0.0, 10.0][t % 3];
            let z = normal(&mut rng);
            for _ in 0..units {
                data.push(0.5 * s + c.sqrt() * z + (1.0 - c).sqrt() * normal(&mut rng));
            }
            signal.push(s);
        }
        let r = DMatrix::from_row_slice(signal.len(), units, &data);
        let summary = noise_correlations(&r, &signal, None);
        assert_eq!(summary.n_pairs, 15);
        assert!(
            (summary.mean_r - c).abs() < 0.03,
            "mean r {}",
            summary.mean_r
        );
        // Shared noise lies along the all-ones direction, which is f′ here: f̂ᵀΣf̂/trΣ = (1 + 5c)/6.
        let expected = (1.0 + 5.0 * c) / 6.0;
        assert!((summary.fraction_variance_along_fprime.unwrap() - expected).abs() < 0.03);
        // Single-unit information 0.5² / 1.
        assert!(
            summary
                .single_unit_information
                .iter()
                .all(|&i| (i - 0.25).abs() < 0.03),
            "{:?}",
            summary.single_unit_information
        );
    }
}
