//! Mean and confidence interval across seeds (few-shot and accuracy tables).

use serde::Serialize;

/// Mean with a two-sided 95% Student-t confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanInterval {
    /// Sample mean.
    pub mean: f64,
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end of the 95% interval.
    pub high: f64,
    /// Number of values.
    pub n: usize,
}

/// Two-sided 97.5% quantile of Student's t with `dof` degrees of freedom.
pub fn t_quantile_975(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        0 => f64::INFINITY,
        d if d <= 30 => TABLE[d - 1],
        // Cornish–Fisher expansion around the normal quantile; error < 1e-3 for dof > 30.
        d => {
            let z: f64 = 1.959_964;
            let v = d as f64;
            z + (z.powi(3) + z) / (4.0 * v)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        }
    }
}

/// Mean and 95% t-interval of `values`. With one value the interval is infinite.
///
/// # Panics
/// If `values` is empty.
pub fn mean_interval(values: &[f64]) -> MeanInterval {
    assert!(!values.is_empty(), "mean_interval: no values");
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return MeanInterval {
            mean,
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
            n,
        };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t_quantile_975(n - 1) * (var / n as f64).sqrt();
    MeanInterval {
        mean,
        low: mean - half,
        high: mean + half,
        n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_matches_hand_computation() {
        // values 1..=5: mean 3, sd √2.5, half-width t(4)·√(2.5/5) = 2.776·0.7071.
        let r = mean_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((r.mean - 3.0).abs() < 1e-12);
        assert!((r.high - 3.0 - 2.776 * 0.5f64.sqrt()).abs() < 1e-9);
        assert!((t_quantile_975(120) - 1.980).abs() < 2e-3);
    }
}
