//! Dendritic residual analysis (Francioni et al., *Nature* 2026): the apical signal minus its
//! soma-predicted part, per unit, and its vectorisation across causal groups.

use nalgebra::DMatrix;
use serde::Serialize;

/// Per-unit linear fit of apical on soma and the residuals.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualFit {
    /// Slope a per unit (apical ≈ a·soma + b).
    pub slope: Vec<f64>,
    /// Intercept b per unit.
    pub intercept: Vec<f64>,
    /// apical − (a·soma + b), trials × units.
    pub residual: DMatrix<f64>,
    /// Residuals z-scored per unit (units with zero residual variance stay 0).
    pub z: DMatrix<f64>,
}

/// Fits apical = a·soma + b for each unit by least squares over coincident trials.
///
/// # Panics
/// If the shapes differ (validated at the boundary).
pub fn dendritic_residuals(apical: &DMatrix<f64>, soma: &DMatrix<f64>) -> ResidualFit {
    assert_eq!(
        apical.shape(),
        soma.shape(),
        "dendritic_residuals: apical and soma must both be trials × units"
    );
    let (trials, units) = apical.shape();
    let mut slope = vec![0.0; units];
    let mut intercept = vec![0.0; units];
    let mut residual = DMatrix::zeros(trials, units);
    let mut z = DMatrix::zeros(trials, units);
    for u in 0..units {
        let (x, y) = (soma.column(u), apical.column(u));
        let (mx, my) = (x.mean(), y.mean());
        let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
        let sxy: f64 = x
            .iter()
            .zip(y.iter())
            .map(|(a, b)| (a - mx) * (b - my))
            .sum();
        let a = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let b = my - a * mx;
        slope[u] = a;
        intercept[u] = b;
        for t in 0..trials {
            residual[(t, u)] = y[t] - (a * x[t] + b);
        }
        let col = residual.column(u);
        let (m, sd) = (col.mean(), col.variance().sqrt());
        for t in 0..trials {
            z[(t, u)] = if sd > 0.0 {
                (residual[(t, u)] - m) / sd
            } else {
                0.0
            };
        }
    }
    ResidualFit {
        slope,
        intercept,
        residual,
        z,
    }
}

/// Vectorisation index of one group of units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupVectorisation {
    /// The group label (e.g. 1 = P+, −1 = P−, 0 = P0).
    pub group: i64,
    /// Units in the group.
    pub n_units: usize,
    /// Mean z-residual on error-decrease trials minus error-increase trials.
    pub index: f64,
}

/// Per group: mean z-scored residual on trials where the error decreased (`error_change < 0`)
/// minus trials where it increased (`> 0`). Trials with no change are ignored.
pub fn vectorisation_index(
    z: &DMatrix<f64>,
    error_change: &[f64],
    groups: &[i64],
) -> Vec<GroupVectorisation> {
    assert_eq!(
        z.nrows(),
        error_change.len(),
        "vectorisation_index: one error change per trial"
    );
    assert_eq!(
        z.ncols(),
        groups.len(),
        "vectorisation_index: one group per unit"
    );
    let mut labels: Vec<i64> = groups.to_vec();
    labels.sort_unstable();
    labels.dedup();
    let decrease: Vec<usize> = (0..z.nrows()).filter(|&t| error_change[t] < 0.0).collect();
    let increase: Vec<usize> = (0..z.nrows()).filter(|&t| error_change[t] > 0.0).collect();
    let mean_over = |trials: &[usize], units: &[usize]| {
        let n = (trials.len() * units.len()) as f64;
        if n == 0.0 {
            return f64::NAN;
        }
        trials
            .iter()
            .map(|&t| units.iter().map(|&u| z[(t, u)]).sum::<f64>())
            .sum::<f64>()
            / n
    };
    labels
        .into_iter()
        .map(|g| {
            let units: Vec<usize> = (0..groups.len()).filter(|&u| groups[u] == g).collect();
            GroupVectorisation {
                group: g,
                n_units: units.len(),
                index: mean_over(&decrease, &units) - mean_over(&increase, &units),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn recovers_the_fit_and_the_sign_of_each_groups_teaching_signal() {
        let (trials, units) = (2000, 4);
        let groups = [1, 1, -1, -1];
        let mut rng = StdRng::seed_from_u64(9);
        let error_change: Vec<f64> = (0..trials)
            .map(|t| if t % 2 == 0 { -1.0 } else { 1.0 })
            .collect();
        let soma = DMatrix::from_fn(trials, units, |_, _| rng.random::<f64>() * 4.0);
        // P+ dendrites amplified when error decreases, P− when it increases.
        let apical = DMatrix::from_fn(trials, units, |t, u| {
            2.0 * soma[(t, u)] + 1.0 + 0.5 * (groups[u] as f64) * -error_change[t]
        });
        let fit = dendritic_residuals(&apical, &soma);
        for u in 0..units {
            assert!(
                (fit.slope[u] - 2.0).abs() < 0.05 && (fit.intercept[u] - 1.0).abs() < 0.15,
                "unit {u}: {} {}",
                fit.slope[u],
                fit.intercept[u]
            );
        }
        let index = vectorisation_index(&fit.z, &error_change, &groups);
        assert_eq!(index.len(), 2);
        let minus = index.iter().find(|g| g.group == -1).unwrap();
        let plus = index.iter().find(|g| g.group == 1).unwrap();
        assert!(plus.index > 1.5 && minus.index < -1.5, "{index:?}");
    }
}
