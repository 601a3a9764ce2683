//! Fisher information of a recorded population across signal levels, contexts and unit subsets
//! (the Liu et al. 2026 pipeline).
//!
//! Trials carry a signed signal level (0 = zero-signal) and optionally a context label. For each
//! magnitude `L` recorded at both `−L` and `+L`, `f′ = (μ₊ − μ₋)/(2L)`; the covariance is either
//! Σ₀ from the zero-signal trials (`liu`) or the within-stimulus covariance pooled over `±L`
//! (`kanitscheider`). Levels are combined by inverse-variance weighting. Moments are computed
//! once for the whole population, so estimates for many random unit subsets only slice them.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{
    kanitscheider_from_moments, liu_from_moments, mean_and_covariance, FisherError, FisherEstimate,
};

/// Which estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FisherMethod {
    /// Covariance from zero-signal trials, Liu et al. (2026) corrections.
    #[default]
    Liu,
    /// Covariance pooled within the two stimuli, Kanitscheider et al. (2015) corrections.
    Kanitscheider,
}

impl std::str::FromStr for FisherMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "liu" => Ok(FisherMethod::Liu),
            "kanitscheider" => Ok(FisherMethod::Kanitscheider),
            other => Err(format!(
                "unknown method {other:?}, expected \"liu\" or \"kanitscheider\""
            )),
        }
    }
}

/// Moments at one signal magnitude `L`.
#[derive(Debug, Clone)]
pub struct LevelMoments {
    /// The magnitude L (trials at −L and +L).
    pub level: f64,
    /// Mean response at −L.
    pub mean_minus: DVector<f64>,
    /// Mean response at +L.
    pub mean_plus: DVector<f64>,
    /// Trials at −L.
    pub t_minus: usize,
    /// Trials at +L.
    pub t_plus: usize,
    /// Within-stimulus covariance pooled over ±L.
    pub pooled_cov: DMatrix<f64>,
}

/// Everything the estimators need from one set of trials (one context).
#[derive(Debug, Clone)]
pub struct PopulationMoments {
    /// Units.
    pub n_units: usize,
    /// Σ₀ and T0 from the zero-signal trials (None without at least 2 of them).
    pub zero: Option<(DMatrix<f64>, usize)>,
    /// One entry per magnitude recorded at both signs, ascending.
    pub levels: Vec<LevelMoments>,
    /// Trials used.
    pub n_trials: usize,
}

fn key(x: f64) -> i64 {
    (x * 1e6).round() as i64
}

fn rows(responses: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(idx.len(), responses.ncols(), |r, c| responses[(idx[r], c)])
}

impl PopulationMoments {
    /// Moments of the trials `trial_idx` of `responses` (trials × units) with signed `signal`.
    pub fn new(responses: &DMatrix<f64>, signal: &[f64], trial_idx: &[usize]) -> Self {
        let mut by_level: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for &t in trial_idx {
            by_level.entry(key(signal[t])).or_default().push(t);
        }
        let zero = by_level
            .get(&0)
            .filter(|z| z.len() >= 2)
            .map(|z| (mean_and_covariance(&rows(responses, z)).1, z.len()));
        let mut levels = Vec::new();
        for (&k, plus) in by_level.range(1..) {
            let Some(minus) = by_level.get(&-k) else {
                continue;
            };
            if plus.len() < 2 || minus.len() < 2 {
                continue;
            }
            let (mean_minus, cov_minus) = mean_and_covariance(&rows(responses, minus));
            let (mean_plus, cov_plus) = mean_and_covariance(&rows(responses, plus));
            let (tm, tp) = (minus.len(), plus.len());
            let pooled_cov =
                (cov_minus * (tm - 1) as f64 + cov_plus * (tp - 1) as f64) / (tm + tp - 2) as f64;
            levels.push(LevelMoments {
                level: k as f64 / 1e6,
                mean_minus,
                mean_plus,
                t_minus: tm,
                t_plus: tp,
                pooled_cov,
            });
        }
        Self {
            n_units: responses.ncols(),
            zero,
            levels,
            n_trials: trial_idx.len(),
        }
    }
}

/// Information combined over signal levels, with the per-level estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CombinedFisher {
    /// Inverse-variance weighted bias-corrected information.
    pub fisher: f64,
    /// Variance of the combined estimate (1 / Σ weights).
    pub fisher_variance: f64,
    /// Inverse-variance weighted shuffled information (same weights).
    pub fisher_shuffled: f64,
    /// 100 · (I_shuf − I)/I_shuf of the combined values.
    pub redundancy_percent: f64,
    /// Units.
    pub n_units: usize,
    /// Trials used.
    pub n_trials: usize,
    /// Per magnitude: (L, estimate with ds = 2L); in JSON, objects with the level as `signal`.
    #[serde(serialize_with = "levels_as_objects")]
    pub per_level: Vec<(f64, FisherEstimate)>,
}

/// `per_level` as `[{"signal": L, "fisher": …, …}, …]` rather than pairs.
fn levels_as_objects<S: serde::Serializer>(
    levels: &[(f64, FisherEstimate)],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Level<'a> {
        signal: f64,
        #[serde(flatten)]
        estimate: &'a FisherEstimate,
    }
    s.collect_seq(levels.iter().map(|(signal, estimate)| Level {
        signal: *signal,
        estimate,
    }))
}

fn sub_vec(v: &DVector<f64>, units: &[usize]) -> DVector<f64> {
    DVector::from_iterator(units.len(), units.iter().map(|&u| v[u]))
}

fn sub_mat(m: &DMatrix<f64>, units: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(units.len(), units.len(), |r, c| m[(units[r], units[c])])
}

fn combine(
    per_level: Vec<(f64, FisherEstimate)>,
    n_units: usize,
    n_trials: usize,
) -> Result<CombinedFisher, FisherError> {
    if per_level.is_empty() {
        return Err(FisherError::Shape(
            "no signal magnitude was recorded at both signs (need trials at −L and +L)".into(),
        ));
    }
    let weights: Vec<f64> = per_level
        .iter()
        .map(|(_, e)| 1.0 / e.fisher_variance)
        .collect();
    let total: f64 = weights.iter().sum();
    let fisher = per_level
        .iter()
        .zip(&weights)
        .map(|((_, e), w)| w * e.fisher)
        .sum::<f64>()
        / total;
    let fisher_shuffled = per_level
        .iter()
        .zip(&weights)
        .map(|((_, e), w)| w * e.fisher_shuffled)
        .sum::<f64>()
        / total;
    Ok(CombinedFisher {
        fisher,
        fisher_variance: 1.0 / total,
        fisher_shuffled,
        redundancy_percent: 100.0 * (fisher_shuffled - fisher) / fisher_shuffled,
        n_units,
        n_trials,
        per_level,
    })
}

/// Information of the units `units` (all when None) in `moments`.
pub fn population_fisher(
    moments: &PopulationMoments,
    method: FisherMethod,
    units: Option<&[usize]>,
) -> Result<CombinedFisher, FisherError> {
    cross_fisher(moments, moments, method, units)
}

/// Cross-context information: f′ from `signal_source`, covariance (Σ₀, or the pooled
/// covariance for `kanitscheider`) from `covariance_source`. With the same moments twice this
/// is [`population_fisher`].
pub fn cross_fisher(
    signal_source: &PopulationMoments,
    covariance_source: &PopulationMoments,
    method: FisherMethod,
    units: Option<&[usize]>,
) -> Result<CombinedFisher, FisherError> {
    let all: Vec<usize> = (0..signal_source.n_units).collect();
    let units = units.unwrap_or(&all);
    let mut per_level = Vec::new();
    for level in &signal_source.levels {
        let ds = 2.0 * level.level;
        let fprime = (sub_vec(&level.mean_plus, units) - sub_vec(&level.mean_minus, units)) / ds;
        let estimate = match method {
            FisherMethod::Liu => {
                let (cov0, t0) =
                    covariance_source
                        .zero
                        .as_ref()
                        .ok_or(FisherError::TooFewTrials {
                            trials: 0,
                            what: "zero-signal",
                            units: units.len(),
                            needed: units.len() + 4,
                        })?;
                liu_from_moments(
                    &sub_mat(cov0, units),
                    *t0,
                    &fprime,
                    level.t_minus,
                    level.t_plus,
                    ds,
                )?
            }
            FisherMethod::Kanitscheider => {
                let cov_level = covariance_source
                    .levels
                    .iter()
                    .find(|l| key(l.level) == key(level.level))
                    .unwrap_or(level);
                kanitscheider_from_moments(
                    &sub_mat(&cov_level.pooled_cov, units),
                    &fprime,
                    level.t_minus,
                    level.t_plus,
                    ds,
                )?
            }
        };
        per_level.push((level.level, estimate));
    }
    combine(per_level, units.len(), signal_source.n_trials)
}

/// Median and central 68% (16th–84th percentiles) of a quantity over subsets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// 16th percentile.
    pub p16: f64,
    /// 84th percentile.
    pub p84: f64,
}

/// Percentile by linear interpolation between order statistics (numpy's default).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of nothing");
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn spread(mut values: Vec<f64>) -> Spread {
    values.sort_by(|a, b| a.total_cmp(b));
    Spread {
        median: percentile(&values, 50.0),
        p16: percentile(&values, 16.0),
        p84: percentile(&values, 84.0),
    }
}

/// Information of many random fixed-size unit subsets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubsetFisher {
    /// Units per subset.
    pub subset_size: usize,
    /// Subsets drawn.
    pub subsets: usize,
    /// Bias-corrected information over subsets.
    pub fisher: Spread,
    /// Shuffled information over subsets.
    pub fisher_shuffled: Spread,
    /// Redundancy % over subsets.
    pub redundancy_percent: Spread,
}

/// Estimates for `count` random subsets of `size` units (drawn without replacement, seeded).
pub fn subset_fisher(
    signal_source: &PopulationMoments,
    covariance_source: &PopulationMoments,
    method: FisherMethod,
    size: usize,
    count: usize,
    seed: u64,
) -> Result<SubsetFisher, FisherError> {
    let n = signal_source.n_units;
    if size == 0 || size > n {
        return Err(FisherError::Shape(format!(
            "subset size must be between 1 and the {n} units, got {size}"
        )));
    }
    if count == 0 {
        return Err(FisherError::Shape(
            "the number of subsets must be at least 1".into(),
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pool: Vec<usize> = (0..n).collect();
    let (mut info, mut shuffled, mut redundancy) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    for _ in 0..count {
        for i in 0..size {
            let j = rng.random_range(i..n);
            pool.swap(i, j);
        }
        let mut subset = pool[..size].to_vec();
        subset.sort_unstable();
        let est = cross_fisher(signal_source, covariance_source, method, Some(&subset))?;
        info.push(est.fisher);
        shuffled.push(est.fisher_shuffled);
        redundancy.push(est.redundancy_percent);
    }
    Ok(SubsetFisher {
        subset_size: size,
        subsets: count,
        fisher: spread(info),
        fisher_shuffled: spread(shuffled),
        redundancy_percent: spread(redundancy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(rng: &mut StdRng) -> f64 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Independent units with unit variance and tuning slope `slope[i]` per unit of signal:
    /// the information about the signal is Σ slope².
    fn population(
        n_units: usize,
        levels: &[f64],
        trials_per_level: usize,
        seed: u64,
    ) -> (DMatrix<f64>, Vec<f64>, Vec<f64>) {
        let slope: Vec<f64> = (0..n_units).map(|i| 0.02 + 0.01 * (i % 4) as f64).collect();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut data = Vec::new();
        let mut signal = Vec::new();
        for &l in levels {
            for _ in 0..trials_per_level {
                for s in &slope {
                    data.push(s * l + normal(&mut rng));
                }
                signal.push(l);
            }
        }
        let trials = signal.len();
        (
            DMatrix::from_row_slice(trials, n_units, &data),
            signal,
            slope,
        )
    }

    #[test]
    fn combined_information_matches_the_tuning_and_subsets_scale_with_size() {
        let levels = [-12.0, -6.0, 0.0, 6.0, 12.0];
        let (r, s, slope) = population(40, &levels, 800, 1);
        let all: Vec<usize> = (0..s.len()).collect();
        let m = PopulationMoments::new(&r, &s, &all);
        assert_eq!(m.levels.len(), 2);
        let truth: f64 = slope.iter().map(|x| x * x).sum();
        for method in [FisherMethod::Liu, FisherMethod::Kanitscheider] {
            let est = population_fisher(&m, method, None).unwrap();
            assert!(
                (est.fisher - truth).abs() < 0.1 * truth,
                "{method:?}: {} vs {truth}",
                est.fisher
            );
            assert!(
                est.redundancy_percent.abs() < 10.0,
                "{method:?}: {}",
                est.redundancy_percent
            );
        }
        let sub = subset_fisher(&m, &m, FisherMethod::Liu, 10, 50, 7).unwrap();
        // A quarter of the units carries about a quarter of the information.
        assert!(
            (sub.fisher.median - truth / 4.0).abs() < 0.25 * truth / 4.0,
            "{} vs {}",
            sub.fisher.median,
            truth / 4.0
        );
        assert!(sub.fisher.p16 <= sub.fisher.median && sub.fisher.median <= sub.fisher.p84);
        assert_eq!(
            sub,
            subset_fisher(&m, &m, FisherMethod::Liu, 10, 50, 7).unwrap(),
            "seeded"
        );
    }

    #[test]
    fn missing_opposite_level_or_zero_trials_is_an_error() {
        let (r, s, _) = population(5, &[0.0, 6.0], 50, 2);
        let all: Vec<usize> = (0..s.len()).collect();
        let m = PopulationMoments::new(&r, &s, &all);
        assert!(population_fisher(&m, FisherMethod::Liu, None).is_err());
        let (r, s, _) = population(5, &[-6.0, 6.0], 50, 2);
        let m = PopulationMoments::new(&r, &s, &(0..s.len()).collect::<Vec<_>>());
        assert!(matches!(
            population_fisher(&m, FisherMethod::Liu, None),
            Err(FisherError::TooFewTrials { .. })
        ));
        assert!(population_fisher(&m, FisherMethod::Kanitscheider, None).is_ok());
    }

    #[test]
    fn percentile_matches_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 50.0), 2.5);
        assert!((percentile(&v, 16.0) - 1.48).abs() < 1e-12);
    }
}
