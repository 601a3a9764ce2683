//! Linear Fisher information of a population code, bias-corrected.
//!
//! - [`fisher_kanitscheider`]: Kanitscheider, Coen-Cagli, Kohn & Pouget (2015), *PLoS Comput
//!   Biol* 11:e1004218. `T` trials at each of `s0 ± ds/2`, pooled covariance Σ:
//!   `I_bc = f′ᵀΣ⁻¹f′ · (2T − N − 3)/(2T − 2) − 2N/(T·ds²)`, shuffled
//!   `I_sh,bc = Σ f′ᵢ²/σᵢ² · (T − 2)/(T − 1) − 2N/(T·ds²)`, and the estimator's variance
//!   `Var = 2I²/(2T − N − 5) · [1 + 4(2T − 3)/(T·I·ds²) + 4N(2T − 3)/(T·I·ds²)²]`.
//! - [`fisher_liu`]: the variant of Liu, Pletenev, Haefner & Snyder (2026), *Science*: covariance
//!   Σ₀ from `T0` zero-signal trials, `f′` from `T1` and `T2` trials at the two signed levels:
//!   `I = f′ᵀΣ₀⁻¹f′ · (T0 − N − 2)/(T0 − 1) − (T1 + T2)·N/(T1·T2·ds²)`,
//!   `I_shuf = Σ f′ᵢ²/Σ₀,ᵢᵢ · (T0 − 3)/(T0 − 1) − (T1 + T2)·N/(T1·T2·ds²)`.
//!
//! **Redundancy** (Liu et al.): `100 · (I_shuf − I)/I_shuf` percent — the share of the
//! information the units carry individually that is shared with other units.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;
use thiserror::Error;

/// Why an information estimate cannot be computed.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum FisherError {
    /// Too few trials for the number of units: the covariance estimate is singular or the
    /// bias correction undefined.
    #[error("too few trials: {trials} {what} for {units} units (need at least {needed}); record more trials or analyse fewer units (subsets)")]
    TooFewTrials {
        /// Trials available.
        trials: usize,
        /// Which trials ("per stimulus", "zero-signal").
        what: &'static str,
        /// Units.
        units: usize,
        /// Trials needed.
        needed: usize,
    },
    /// The covariance is not positive definite (e.g. a unit that never varies, or units that
    /// are exact copies of each other).
    #[error("the noise covariance is singular or nearly so: a unit with zero variance, or one that is a linear combination of the others (over 99.9999% of its variance explained by them); drop such units")]
    SingularCovariance,
    /// Inputs disagree in shape.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// `ds` is not a positive finite number.
    #[error("stimulus difference ds must be a positive finite number, got {0}")]
    BadDs(f64),
}

/// Trials × units responses, row-major.
#[derive(Debug, Clone, Copy)]
pub struct Responses<'a> {
    /// Values, `[trials, units]` row-major.
    pub data: &'a [f64],
    /// Number of units (columns).
    pub units: usize,
}

impl Responses<'_> {
    /// Number of trials (rows).
    pub fn trials(&self) -> usize {
        self.data.len().checked_div(self.units).unwrap_or(0)
    }

    fn check(&self, name: &str) -> Result<(), FisherError> {
        if self.units == 0 || !self.data.len().is_multiple_of(self.units) {
            return Err(FisherError::Shape(format!(
                "{name}: {} values are not a whole number of rows of {} units",
                self.data.len(),
                self.units
            )));
        }
        Ok(())
    }

    fn matrix(&self) -> DMatrix<f64> {
        DMatrix::from_row_slice(self.trials(), self.units, self.data)
    }
}

/// An information estimate with and without correlations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FisherEstimate {
    /// Bias-corrected linear Fisher information (correlations included).
    pub fisher: f64,
    /// Its sampling variance (Kanitscheider et al. 2015, eq. 12; for the Liu variant
    /// [`liu_variance`], derived for covariance and f′ from separate trials).
    pub fisher_variance: f64,
    /// Bias-corrected information with correlations removed (shuffled / diagonal covariance).
    pub fisher_shuffled: f64,
    /// 100 · (I_shuf − I)/I_shuf; null when I_shuf ≤ 0 (there is no information to share, and
    /// the ratio would flip sign) — see [`redundancy_percent`].
    pub redundancy_percent: Option<f64>,
    /// Why `redundancy_percent` is null (absent when it is not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_note: Option<&'static str>,
    /// Units.
    pub n_units: usize,
    /// Trials used.
    pub n_trials: usize,
    /// Uncorrected f′ᵀΣ⁻¹f′ (for reference; biased upwards with few trials).
    pub fisher_naive: f64,
}

fn mean_and_centered(m: &DMatrix<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let mean = m.row_mean().transpose();
    let mut centered = m.clone();
    for mut row in centered.row_iter_mut() {
        row -= mean.transpose();
    }
    (mean, centered)
}

/// The smallest share of a unit's variance not explained linearly by the units before it
/// (1 − R²) that a covariance may have: recordings are float32 (relative precision 6·10⁻⁸), so
/// below this the inverse is set by rounding, not by the data.
pub const MIN_UNEXPLAINED_VARIANCE: f64 = 1e-6;

/// Quadratic form f′ᵀΣ⁻¹f′ by Cholesky of the correlation matrix R = D^{-1/2} Σ D^{-1/2}
/// (f′ᵀΣ⁻¹f′ = gᵀR⁻¹g with g = D^{-1/2} f′). R's Cholesky diagonal squared is each unit's
/// variance left unexplained by the units before it (1 − R²); a covariance where some unit is
/// a linear combination of the others to within [`MIN_UNEXPLAINED_VARIANCE`] is refused as
/// singular rather than inverted into a meaningless number.
fn quad_form(cov: DMatrix<f64>, fprime: &DVector<f64>) -> Result<f64, FisherError> {
    let n = fprime.len();
    let scale: Vec<f64> = (0..n).map(|i| cov[(i, i)].sqrt()).collect();
    if scale.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
        return Err(FisherError::SingularCovariance);
    }
    let corr = DMatrix::from_fn(n, n, |i, j| cov[(i, j)] / (scale[i] * scale[j]));
    let chol = corr.cholesky().ok_or(FisherError::SingularCovariance)?;
    let l = chol.l();
    if (0..n).any(|i| l[(i, i)] * l[(i, i)] < MIN_UNEXPLAINED_VARIANCE) {
        return Err(FisherError::SingularCovariance);
    }
    let g = DVector::from_fn(n, |i, _| fprime[i] / scale[i]);
    let solved = chol.solve(&g);
    Ok(g.dot(&solved))
}

/// Sampling variance of the bias-corrected estimate (Kanitscheider et al. 2015, eq. 12), in the
/// expanded form `2/(2T−N−5)·[I² + 4(2T−3)·I/(T·ds²) + 4N(2T−3)/(T·ds²)²]`, which stays finite
/// (and positive) when the estimate is near or below zero.
pub fn fisher_variance(info: f64, trials: f64, units: f64, ds: f64) -> f64 {
    let denom = 2.0 * trials - units - 5.0;
    if denom <= 0.0 {
        return f64::INFINITY;
    }
    let i = info.max(0.0);
    let a = trials * ds * ds;
    2.0 / denom
        * (i * i
            + 4.0 * (2.0 * trials - 3.0) * i / a
            + 4.0 * units * (2.0 * trials - 3.0) / (a * a))
}

/// Sampling variance of the Liu et al. estimate `Î = f̂′ᵀΣ̂₀⁻¹f̂′·(T0 − N − 2)/(T0 − 1) − c·N`,
/// derived for its own design: Σ̂₀ from `t0` zero-signal trials (T0 − 1 degrees of freedom) is
/// independent of f̂′ ~ N(f′, c·Σ), c = (T1 + T2)/(T1·T2·ds²). With q = f̂′ᵀΣ⁻¹f̂′ (q/c a
/// noncentral χ²_N with noncentrality I/c: E q = I + cN, Var q = 2Nc² + 4cI) and
/// f̂′ᵀΣ̂₀⁻¹f̂′ = (T0 − 1)·q/X, X ~ χ²_k independent of q, k = T0 − N:
///
/// ```text
/// Var Î = [(k − 2)·(2Nc² + 4cI) + 2·(I + cN)²] / (k − 4)
/// ```
///
/// (infinite for k ≤ 4). `info` is the information the variance is evaluated at (clamped at 0);
/// checked against Monte Carlo in the tests.
pub fn liu_variance(info: f64, t0: f64, t1: f64, t2: f64, units: f64, ds: f64) -> f64 {
    let k = t0 - units;
    if k <= 4.0 {
        return f64::INFINITY;
    }
    let i = info.max(0.0);
    let c = (t1 + t2) / (t1 * t2 * ds * ds);
    ((k - 2.0) * (2.0 * units * c * c + 4.0 * c * i) + 2.0 * (i + c * units).powi(2)) / (k - 4.0)
}

/// Why a redundancy is null.
pub const REDUNDANCY_UNDEFINED: &str =
    "redundancy is undefined when the shuffled information is ≤ 0 (no information to share)";

/// [`REDUNDANCY_UNDEFINED`] when [`redundancy_percent`] is null.
pub fn redundancy_note(info: f64, shuffled: f64) -> Option<&'static str> {
    redundancy_percent(info, shuffled)
        .is_none()
        .then_some(REDUNDANCY_UNDEFINED)
}

/// 100 · (I_shuf − I)/I_shuf, or `None` when I_shuf ≤ 0 (or not finite): the ratio is then not
/// a share of anything, and its sign would flip ([`REDUNDANCY_UNDEFINED`]).
pub fn redundancy_percent(info: f64, shuffled: f64) -> Option<f64> {
    (shuffled > 0.0 && shuffled.is_finite() && info.is_finite())
        .then(|| 100.0 * (shuffled - info) / shuffled)
}

/// The Liu et al. estimator from moments: `cov0` from `t0` zero-signal trials, `fprime` from
/// `t1` and `t2` trials at the two signal levels `ds` apart.
pub fn liu_from_moments(
    cov0: &DMatrix<f64>,
    t0: usize,
    fprime: &DVector<f64>,
    t1: usize,
    t2: usize,
    ds: f64,
) -> Result<FisherEstimate, FisherError> {
    let n = fprime.len();
    if cov0.nrows() != n || cov0.ncols() != n {
        return Err(FisherError::Shape(format!(
            "covariance is {}×{}, f′ has {n} units",
            cov0.nrows(),
            cov0.ncols()
        )));
    }
    if !(ds.is_finite() && ds > 0.0) {
        return Err(FisherError::BadDs(ds));
    }
    if t0 < n + 4 {
        return Err(FisherError::TooFewTrials {
            trials: t0,
            what: "zero-signal",
            units: n,
            needed: n + 4,
        });
    }
    if t1 < 2 || t2 < 2 {
        return Err(FisherError::TooFewTrials {
            trials: t1.min(t2),
            what: "at a signal level",
            units: n,
            needed: 2,
        });
    }
    let diag: Vec<f64> = (0..n).map(|i| cov0[(i, i)]).collect();
    if diag.iter().any(|&v| v <= 0.0 || !v.is_finite()) {
        return Err(FisherError::SingularCovariance);
    }
    let naive = quad_form(cov0.clone(), fprime)?;
    let (nf, t0f, t1f, t2f) = (n as f64, t0 as f64, t1 as f64, t2 as f64);
    let bias = (t1f + t2f) * nf / (t1f * t2f * ds * ds);
    let fisher = naive * (t0f - nf - 2.0) / (t0f - 1.0) - bias;
    let shuffled_naive: f64 = (0..n).map(|i| fprime[i] * fprime[i] / diag[i]).sum();
    let fisher_shuffled = shuffled_naive * (t0f - 3.0) / (t0f - 1.0) - bias;
    Ok(FisherEstimate {
        fisher,
        fisher_variance: liu_variance(fisher, t0f, t1f, t2f, nf, ds),
        fisher_shuffled,
        redundancy_percent: redundancy_percent(fisher, fisher_shuffled),
        redundancy_note: redundancy_note(fisher, fisher_shuffled),
        n_units: n,
        n_trials: t0 + t1 + t2,
        fisher_naive: naive,
    })
}

/// The Liu et al. estimator when Σ̂ comes from other trials than f̂′ and those trials' noise
/// differs: `noise_cov` Ĉ is the covariance of the signal trials (their pooled within-level
/// covariance), so f̂′ ~ N(f′, c·C) rather than N(f′, c·Σ). Then E[f̂′ᵀΣ̂⁻¹f̂′]·(ν − N − 1)/ν =
/// I + c·tr(Σ⁻¹C) (ν = T0 − 1), and the bias subtracted is c·tr(Σ̂⁻¹Ĉ)·(ν − N − 1)/ν — unbiased,
/// since Ĉ is independent of Σ̂ (and c·N when C = Σ, the plain estimator's). The shuffled value
/// subtracts c·Σᵢ (Ĉᵢᵢ/Σ̂ᵢᵢ)·(ν − 2)/ν. Used for the internal (frozen-noise) information, whose
/// Σ is the within-image covariance while f′'s noise includes the stimulus noise, and for
/// cross-context information. Returns the estimate and the noise ratios its variance depends
/// on ([`CrossNoise`], [`liu_variance_cross`]).
pub fn liu_cross_from_moments(
    cov0: &DMatrix<f64>,
    t0: usize,
    fprime: &DVector<f64>,
    noise_cov: &DMatrix<f64>,
    t1: usize,
    t2: usize,
    ds: f64,
) -> Result<(FisherEstimate, CrossNoise), FisherError> {
    let plain = liu_from_moments(cov0, t0, fprime, t1, t2, ds)?;
    let n = fprime.len();
    if noise_cov.nrows() != n || noise_cov.ncols() != n {
        return Err(FisherError::Shape(format!(
            "the signal trials' covariance is {}×{}, f′ has {n} units",
            noise_cov.nrows(),
            noise_cov.ncols()
        )));
    }
    let chol = cov0
        .clone()
        .cholesky()
        .ok_or(FisherError::SingularCovariance)?;
    let a = chol.solve(noise_cov);
    // The noise ratio along the estimated f′: f̂′ᵀΣ̂⁻¹ĈΣ̂⁻¹f̂′ / f̂′ᵀΣ̂⁻¹f̂′ (C may be far larger
    // along some directions than on average).
    let w = chol.solve(fprime);
    let q = fprime.dot(&w);
    let (nf, nu) = (n as f64, t0 as f64 - 1.0);
    let along = if q > 0.0 {
        w.dot(&(noise_cov * &w)) / q
    } else {
        a.trace() / nf
    };
    let c = (t1 + t2) as f64 / ((t1 * t2) as f64 * ds * ds);
    let trace = a.trace() * (nu - nf - 1.0) / nu;
    let trace2 = (&a * &a).trace();
    let diag_ratio: f64 = (0..n)
        .map(|i| noise_cov[(i, i)] / cov0[(i, i)])
        .sum::<f64>()
        * (nu - 2.0)
        / nu;
    // The plain estimator subtracted c·N from both.
    let fisher = plain.fisher + c * nf - c * trace;
    let fisher_shuffled = plain.fisher_shuffled + c * nf - c * diag_ratio;
    let estimate = FisherEstimate {
        fisher,
        fisher_variance: liu_variance_cross(
            fisher,
            t0 as f64,
            t1 as f64,
            t2 as f64,
            nf,
            ds,
            CrossNoise {
                trace,
                trace2,
                along,
            },
        ),
        fisher_shuffled,
        redundancy_percent: redundancy_percent(fisher, fisher_shuffled),
        redundancy_note: redundancy_note(fisher, fisher_shuffled),
        ..plain
    };
    Ok((
        estimate,
        CrossNoise {
            trace,
            trace2,
            along,
        },
    ))
}

/// How the signal trials' noise C compares with the Σ an estimate inverts (A = Σ⁻¹C):
/// tr A, tr A², and the ratio along f′ (f′ᵀΣ⁻¹CΣ⁻¹f′ / f′ᵀΣ⁻¹f′). All N, N, 1 when C = Σ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossNoise {
    /// tr(Σ⁻¹C), bias-corrected for Σ̂.
    pub trace: f64,
    /// tr((Σ̂⁻¹Ĉ)²), plugged in.
    pub trace2: f64,
    /// The noise ratio along the estimated f′.
    pub along: f64,
}

/// [`liu_variance`] when f̂′'s noise is c·C rather than c·Σ: with A = Σ⁻¹C, q = f̂′ᵀΣ⁻¹f̂′ has
/// E q = I + c·tr A and Var q = 2c²·tr A² + 4c·f′ᵀΣ⁻¹CΣ⁻¹f′ = 2c²·tr A² + 4c·along·I; the
/// Wishart part as in [`liu_variance`]; and the bias term c·tr(Σ̂⁻¹Ĉ) is itself estimated, from
/// Ĉ with m = t1 + t2 − 2 degrees of freedom (variance 2c²·tr A²/m):
/// `Var Î = [(k − 2)·(2c²·tr A² + 4c·along·I) + 2·(I + c·tr A)²] / (k − 4) + 2c²·tr A²/m`.
/// Checked against Monte Carlo in the tests.
pub fn liu_variance_cross(
    info: f64,
    t0: f64,
    t1: f64,
    t2: f64,
    units: f64,
    ds: f64,
    noise: CrossNoise,
) -> f64 {
    let k = t0 - units;
    let m = t1 + t2 - 2.0;
    if k <= 4.0 || m <= 0.0 {
        return f64::INFINITY;
    }
    let i = info.max(0.0);
    let c = (t1 + t2) / (t1 * t2 * ds * ds);
    let CrossNoise {
        trace,
        trace2,
        along,
    } = noise;
    ((k - 2.0) * (2.0 * c * c * trace2 + 4.0 * c * along * i) + 2.0 * (i + c * trace).powi(2))
        / (k - 4.0)
        + 2.0 * c * c * trace2 / m
}

/// The Kanitscheider et al. estimator from moments: `pooled_cov` (within-stimulus covariance
/// pooled over both stimuli), `fprime`, and the trial counts at each stimulus.
pub fn kanitscheider_from_moments(
    pooled_cov: &DMatrix<f64>,
    fprime: &DVector<f64>,
    t_minus: usize,
    t_plus: usize,
    ds: f64,
) -> Result<FisherEstimate, FisherError> {
    let n = fprime.len();
    if pooled_cov.nrows() != n || pooled_cov.ncols() != n {
        return Err(FisherError::Shape(format!(
            "covariance is {}×{}, f′ has {n} units",
            pooled_cov.nrows(),
            pooled_cov.ncols()
        )));
    }
    if !(ds.is_finite() && ds > 0.0) {
        return Err(FisherError::BadDs(ds));
    }
    let needed = (n + 5).div_ceil(2) + 1;
    if t_minus.min(t_plus) < needed {
        return Err(FisherError::TooFewTrials {
            trials: t_minus.min(t_plus),
            what: "per stimulus",
            units: n,
            needed,
        });
    }
    let diag: Vec<f64> = (0..n).map(|i| pooled_cov[(i, i)]).collect();
    if diag.iter().any(|&v| v <= 0.0 || !v.is_finite()) {
        return Err(FisherError::SingularCovariance);
    }
    let naive = quad_form(pooled_cov.clone(), fprime)?;
    let nf = n as f64;
    let t = (t_minus + t_plus) as f64 / 2.0;
    let bias = 2.0 * nf / (t * ds * ds);
    let fisher = naive * (2.0 * t - nf - 3.0) / (2.0 * t - 2.0) - bias;
    let shuffled_naive: f64 = (0..n).map(|i| fprime[i] * fprime[i] / diag[i]).sum();
    let fisher_shuffled = shuffled_naive * (t - 2.0) / (t - 1.0) - bias;
    Ok(FisherEstimate {
        fisher,
        fisher_variance: fisher_variance(fisher, t, nf, ds),
        fisher_shuffled,
        redundancy_percent: redundancy_percent(fisher, fisher_shuffled),
        redundancy_note: redundancy_note(fisher, fisher_shuffled),
        n_units: n,
        n_trials: t_minus + t_plus,
        fisher_naive: naive,
    })
}

/// Mean (per unit) and unbiased covariance of trials × units data.
pub fn mean_and_covariance(m: &DMatrix<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let (mean, centered) = mean_and_centered(m);
    let denom = (m.nrows().max(2) - 1) as f64;
    (mean, centered.transpose() * &centered / denom)
}

/// Kanitscheider et al. (2015) estimator from `T` trials at `s0 − ds/2` (`minus`) and `T` at
/// `s0 + ds/2` (`plus`). Unequal trial counts use their mean as T.
pub fn fisher_kanitscheider(
    minus: Responses,
    plus: Responses,
    ds: f64,
) -> Result<FisherEstimate, FisherError> {
    minus.check("minus")?;
    plus.check("plus")?;
    if minus.units != plus.units {
        return Err(FisherError::Shape(format!(
            "minus has {} units, plus {}",
            minus.units, plus.units
        )));
    }
    let (tm, tp) = (minus.trials(), plus.trials());
    if tm < 2 || tp < 2 {
        return Err(FisherError::TooFewTrials {
            trials: tm.min(tp),
            what: "per stimulus",
            units: minus.units,
            needed: (minus.units + 5).div_ceil(2) + 1,
        });
    }
    let (mu_m, c_m) = mean_and_centered(&minus.matrix());
    let (mu_p, c_p) = mean_and_centered(&plus.matrix());
    let cov = (c_m.transpose() * &c_m + c_p.transpose() * &c_p) / ((tm - 1 + tp - 1) as f64);
    kanitscheider_from_moments(&cov, &((mu_p - mu_m) / ds), tm, tp, ds)
}

/// Liu et al. (2026) estimator: covariance from zero-signal trials (`zero`), f′ from the trials
/// at the negative (`minus`) and positive (`plus`) signal levels, `ds` apart.
pub fn fisher_liu(
    zero: Responses,
    minus: Responses,
    plus: Responses,
    ds: f64,
) -> Result<FisherEstimate, FisherError> {
    for (name, r) in [("zero", zero), ("minus", minus), ("plus", plus)] {
        r.check(name)?;
    }
    if minus.units != zero.units || plus.units != zero.units {
        return Err(FisherError::Shape(format!(
            "unit counts differ: zero {}, minus {}, plus {}",
            zero.units, minus.units, plus.units
        )));
    }
    let n = zero.units;
    if zero.trials() < n + 4 {
        return Err(FisherError::TooFewTrials {
            trials: zero.trials(),
            what: "zero-signal",
            units: n,
            needed: n + 4,
        });
    }
    let (_, cov0) = mean_and_covariance(&zero.matrix());
    let mu_m = minus.matrix().row_mean().transpose();
    let mu_p = plus.matrix().row_mean().transpose();
    liu_from_moments(
        &cov0,
        zero.trials(),
        &((mu_p - mu_m) / ds),
        minus.trials(),
        plus.trials(),
        ds,
    )
}

#[cfg(test)]
mod tests;
