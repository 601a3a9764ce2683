//! Fisher information of a recorded population across signal levels, contexts and unit subsets
//! (the Liu et al. 2026 pipeline).
//!
//! Trials carry a signed signal level (0 = zero-signal) and optionally a context label. For each
//! magnitude `L` recorded at both `−L` and `+L`, `f′ = (μ₊ − μ₋)/(2L)`; the covariance is either
//! Σ₀ from the zero-signal trials (`liu`) or the within-stimulus covariance pooled over `±L`
//! (`kanitscheider`). Levels are combined with inverse-variance weights evaluated at a common
//! information value, and the combined variance counts the covariance levels share through Σ₀. Moments are computed
//! once for the whole population, so estimates for many random unit subsets only slice them.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{
    kanitscheider_from_moments, liu_cross_from_moments, liu_from_moments, mean_and_covariance,
    CrossNoise, FisherError, FisherEstimate,
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

impl PopulationMoments {
    /// Moments whose covariance is the **within-image** covariance of repeated presentations:
    /// `trial_idx` of `responses` grouped by `image` (the same stimulus, noise included, shown
    /// several times; an image needs at least 2 presentations to count), Σ_w pooled over images
    /// with M·(R − 1) degrees of freedom, stored as the zero-signal Σ₀ with T0 = dof + 1 (so the
    /// Liu et al. bias correction applies unchanged). No signal levels: read f′ from another
    /// set with [`cross_fisher`]`(signal, this, Liu, …)` — the information the units' **own**
    /// (internally generated) variability limits, with the stimulus noise held fixed: units
    /// whose only shared variability is in their input give ≈ 0 redundancy here.
    pub fn within_images(responses: &DMatrix<f64>, image: &[usize], trial_idx: &[usize]) -> Self {
        let n = responses.ncols();
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &t in trial_idx {
            groups.entry(image[t]).or_default().push(t);
        }
        let mut scatter = DMatrix::<f64>::zeros(n, n);
        let mut dof = 0usize;
        for trials in groups.values().filter(|g| g.len() >= 2) {
            let (_, cov) = mean_and_covariance(&rows(responses, trials));
            scatter += cov * (trials.len() - 1) as f64;
            dof += trials.len() - 1;
        }
        let zero = (dof >= 1).then(|| (scatter / dof as f64, dof + 1));
        Self {
            n_units: n,
            zero,
            levels: Vec::new(),
            n_trials: trial_idx.len(),
        }
    }
}

/// Information combined over signal levels, with the per-level estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CombinedFisher {
    /// Bias-corrected information combined over levels (inverse-variance weights evaluated at
    /// one common information value, not at each level's own estimate).
    pub fisher: f64,
    /// Variance of the combined estimate, including the covariance the levels share through
    /// Σ̂₀ (Liu variant).
    pub fisher_variance: f64,
    /// Inverse-variance weighted shuffled information (same weights).
    pub fisher_shuffled: f64,
    /// 100 · (I_shuf − I)/I_shuf of the combined values; null when I_shuf ≤ 0
    /// ([`REDUNDANCY_UNDEFINED`](crate::REDUNDANCY_UNDEFINED)).
    pub redundancy_percent: Option<f64>,
    /// Why `redundancy_percent` is null (absent when it is not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_note: Option<&'static str>,
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

/// A level's design, for combining levels: how its estimate's variance depends on the
/// information, and what it shares with the other levels.
#[derive(Debug, Clone, Copy)]
enum LevelDesign {
    /// Liu et al.: Σ₀ from `t0` zero-signal trials, shared by every level. `noise`: how the
    /// signal trials' noise compares with Σ₀ (None when they are the same trials; see
    /// [`liu_cross_from_moments`](crate::liu_cross_from_moments)).
    Liu {
        t0: f64,
        t1: f64,
        t2: f64,
        ds: f64,
        noise: Option<CrossNoise>,
    },
    /// Kanitscheider et al.: each level's own pooled covariance (independent levels).
    Kanitscheider { t: f64, ds: f64 },
}

impl LevelDesign {
    fn variance_at(&self, info: f64, units: f64) -> f64 {
        match *self {
            LevelDesign::Liu {
                t0,
                t1,
                t2,
                ds,
                noise,
            } => match noise {
                None => crate::liu_variance(info, t0, t1, t2, units, ds),
                Some(noise) => crate::liu_variance_cross(info, t0, t1, t2, units, ds, noise),
            },
            LevelDesign::Kanitscheider { t, ds } => crate::fisher_variance(info, t, units, ds),
        }
    }

    /// Covariance of two levels' estimates through the shared Σ̂₀ (0 for independent levels).
    /// With f̂′ at both levels along f′, Î_L = (k − 2)·q_L/X − c_L·N with one X ~ χ²_k (k = T0 −
    /// N) for both, so Cov = (k − 2)²·E q_a·E q_b·Var(1/X) = 2(I + c_a·N)(I + c_b·N)/(k − 4).
    fn covariance_with(&self, other: &LevelDesign, info: f64, units: f64) -> f64 {
        match (*self, *other) {
            (
                LevelDesign::Liu {
                    t0,
                    t1,
                    t2,
                    ds,
                    noise,
                },
                LevelDesign::Liu {
                    t1: u1,
                    t2: u2,
                    ds: dt,
                    noise: noise_b,
                    ..
                },
            ) => {
                let trace = noise.map_or(units, |n| n.trace);
                let trace_b = noise_b.map_or(units, |n| n.trace);
                let k = t0 - units;
                if k <= 4.0 {
                    return f64::INFINITY;
                }
                let i = info.max(0.0);
                let ca = (t1 + t2) / (t1 * t2 * ds * ds);
                let cb = (u1 + u2) / (u1 * u2 * dt * dt);
                2.0 * (i + ca * trace) * (i + cb * trace_b) / (k - 4.0)
            }
            _ => 0.0,
        }
    }
}

/// Combines the levels' estimates. The weights are inverse variances evaluated at one common
/// information value — the unweighted mean of the levels' estimates — so no level's weight
/// comes from its own estimate (weights from each level's own estimate favour levels whose
/// estimate happens to be low). The combined variance is wᵀCw with C holding each level's
/// variance and, for the Liu variant, the covariance every pair of levels gets from the shared
/// Σ̂₀ (levels are not independent; treating them so understates the variance). Checked by
/// Monte Carlo in the tests.
fn combine(
    per_level: Vec<(f64, FisherEstimate)>,
    designs: &[LevelDesign],
    n_units: usize,
    n_trials: usize,
) -> Result<CombinedFisher, FisherError> {
    if per_level.is_empty() {
        return Err(FisherError::Shape(
            "no signal magnitude was recorded at both signs (need trials at −L and +L)".into(),
        ));
    }
    let units = n_units as f64;
    let common = per_level.iter().map(|(_, e)| e.fisher).sum::<f64>() / per_level.len() as f64;
    let variances: Vec<f64> = designs
        .iter()
        .map(|d| d.variance_at(common, units))
        .collect();
    let raw: Vec<f64> = variances
        .iter()
        .map(|v| {
            if v.is_finite() && *v > 0.0 {
                1.0 / v
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = raw.iter().sum();
    let weights: Vec<f64> = if total > 0.0 {
        raw.iter().map(|w| w / total).collect()
    } else {
        vec![1.0 / per_level.len() as f64; per_level.len()]
    };
    let fisher = per_level
        .iter()
        .zip(&weights)
        .map(|((_, e), w)| w * e.fisher)
        .sum::<f64>();
    let fisher_shuffled = per_level
        .iter()
        .zip(&weights)
        .map(|((_, e), w)| w * e.fisher_shuffled)
        .sum::<f64>();
    let mut fisher_variance = 0.0;
    for (a, (da, wa)) in designs.iter().zip(&weights).enumerate() {
        for (b, (db, wb)) in designs.iter().zip(&weights).enumerate() {
            if *wa == 0.0 || *wb == 0.0 {
                continue;
            }
            let c = if a == b {
                variances[a]
            } else {
                da.covariance_with(db, common, units)
            };
            fisher_variance += wa * wb * c;
        }
    }
    if total == 0.0 {
        fisher_variance = f64::INFINITY;
    }
    Ok(CombinedFisher {
        fisher,
        fisher_variance,
        fisher_shuffled,
        redundancy_percent: crate::redundancy_percent(fisher, fisher_shuffled),
        redundancy_note: crate::redundancy_note(fisher, fisher_shuffled),
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
    let mut designs = Vec::new();
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
                let (t1, t2) = (level.t_minus, level.t_plus);
                if std::ptr::eq(signal_source, covariance_source) {
                    designs.push(LevelDesign::Liu {
                        t0: *t0 as f64,
                        t1: t1 as f64,
                        t2: t2 as f64,
                        ds,
                        noise: None,
                    });
                    liu_from_moments(&sub_mat(cov0, units), *t0, &fprime, t1, t2, ds)?
                } else {
                    // Σ from other trials: f̂′'s noise is this level's own covariance.
                    let (estimate, noise) = liu_cross_from_moments(
                        &sub_mat(cov0, units),
                        *t0,
                        &fprime,
                        &sub_mat(&level.pooled_cov, units),
                        t1,
                        t2,
                        ds,
                    )?;
                    designs.push(LevelDesign::Liu {
                        t0: *t0 as f64,
                        t1: t1 as f64,
                        t2: t2 as f64,
                        ds,
                        noise: Some(noise),
                    });
                    estimate
                }
            }
            FisherMethod::Kanitscheider => {
                // Cross-context: the other context must have recorded this level (never a
                // silent fall-back to this context's own covariance).
                let cov_level = covariance_source
                    .levels
                    .iter()
                    .find(|l| key(l.level) == key(level.level))
                    .ok_or_else(|| {
                        FisherError::Shape(format!(
                            "signal level ±{} has no trials in the covariance's context (cross-context information needs every level in both contexts)",
                            level.level
                        ))
                    })?;
                designs.push(LevelDesign::Kanitscheider {
                    t: (level.t_minus + level.t_plus) as f64 / 2.0,
                    ds,
                });
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
    combine(per_level, &designs, units.len(), signal_source.n_trials)
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

/// How many estimator SDs the information must reach for a redundancy ratio to be reported.
pub const MIN_INFORMATION_SDS: f64 = 10.0;

/// Why a pooled redundancy is null because the information is too small for its estimator.
pub const REDUNDANCY_TOO_UNCERTAIN: &str =
    "the information is below 10 times its estimator SD: the ratio would be noise (read the two informations instead)";

/// Information of many random fixed-size unit subsets.
///
/// The reported redundancy is the **pooled ratio** `100·(1 − Σ_s I_s / Σ_s I_shuf,s)` over the
/// subsets s — an estimate of 1 − E(I)/E(I_shuf), which neither drops subsets nor follows the
/// heavy tail that per-subset ratios have where I_shuf is near 0. It is null where Σ I_shuf ≤ 0,
/// and where the mean information is below [`MIN_INFORMATION_SDS`] times `fisher_sd` (its
/// estimator SD; then read `fisher_mean` and `fisher_shuffled_mean` instead of a ratio). The
/// per-subset distribution (`redundancy_percent`, its median and 16th–84th percentiles) is
/// kept as a diagnostic.
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
    /// Mean bias-corrected information over subsets.
    pub fisher_mean: f64,
    /// Mean shuffled information over subsets.
    pub fisher_shuffled_mean: f64,
    /// The estimator SD of `fisher_mean`: the mean over subsets of each estimate's analytic SD —
    /// an upper bound, since the SD of a mean of correlated estimates is at most the mean SD.
    pub fisher_sd: f64,
    /// The pooled redundancy %, `100·(1 − Σ I / Σ I_shuf)`; null when Σ I_shuf ≤ 0 or the mean
    /// information is below [`MIN_INFORMATION_SDS`]·`fisher_sd`.
    pub redundancy_pooled_percent: Option<f64>,
    /// Why `redundancy_pooled_percent` is null (absent when it is not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_pooled_note: Option<&'static str>,
    /// Per-subset redundancy % over the subsets where it is defined (I_shuf > 0) — a
    /// diagnostic; null when it is defined in none.
    pub redundancy_percent: Option<Spread>,
    /// Subsets whose redundancy is undefined (I_shuf ≤ 0), left out of `redundancy_percent`.
    pub redundancy_undefined: usize,
}

/// The pooled redundancy % of mean informations `info` and `shuffled` whose estimator SD is
/// `sd`, and why it is null when it is (see [`SubsetFisher`]).
pub fn pooled_redundancy(info: f64, shuffled: f64, sd: f64) -> (Option<f64>, Option<&'static str>) {
    match crate::redundancy_percent(info, shuffled) {
        None => (None, Some(crate::REDUNDANCY_UNDEFINED)),
        // (a NaN SD counts as too uncertain)
        Some(r) if info >= MIN_INFORMATION_SDS * sd => (Some(r), None),
        Some(_) => (None, Some(REDUNDANCY_TOO_UNCERTAIN)),
    }
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
    let (mut info, mut shuffled, mut redundancy, mut sd) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        0.0,
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
        sd += est.fisher_variance.max(0.0).sqrt();
        redundancy.extend(est.redundancy_percent);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (fisher_mean, fisher_shuffled_mean) = (mean(&info), mean(&shuffled));
    let fisher_sd = sd / count as f64;
    let (pooled, note) = pooled_redundancy(fisher_mean, fisher_shuffled_mean, fisher_sd);
    Ok(SubsetFisher {
        subset_size: size,
        subsets: count,
        fisher: spread(info),
        fisher_shuffled: spread(shuffled),
        fisher_mean,
        fisher_shuffled_mean,
        fisher_sd,
        redundancy_pooled_percent: pooled,
        redundancy_pooled_note: note,
        redundancy_undefined: count - redundancy.len(),
        redundancy_percent: (!redundancy.is_empty()).then(|| spread(redundancy)),
    })
}

/// The subset sizes of an I(N) curve up to `max`: 2, 4, 8, … and `max` itself.
pub fn curve_sizes(max: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = std::iter::successors(Some(2usize), |s| Some(s * 2))
        .take_while(|&s| s < max)
        .collect();
    if max >= 2 {
        sizes.push(max);
    }
    sizes
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
                est.redundancy_percent.unwrap().abs() < 10.0,
                "{method:?}: {:?}",
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

    /// Units with one common slope `a` per unit of signal, private unit-variance noise, and
    /// information-limiting noise: a shared fluctuation η ~ N(0, ε) along the signal direction
    /// (r = a·(s + η) + ξ). For N units I = N·a²/(1 + ε·N·a²) and, shuffled,
    /// I_shuf = N·a²/(1 + ε·a²).
    fn limited(n_units: usize, a: f64, eps: f64, per_level: usize, seed: u64) -> PopulationMoments {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut data, mut signal) = (Vec::new(), Vec::new());
        for l in [-2.0, -1.0, 0.0, 1.0, 2.0] {
            for _ in 0..per_level {
                let eta = eps.sqrt() * normal(&mut rng);
                for _ in 0..n_units {
                    data.push(a * (l + eta) + normal(&mut rng));
                }
                signal.push(l);
            }
        }
        let r = DMatrix::from_row_slice(signal.len(), n_units, &data);
        PopulationMoments::new(&r, &signal, &(0..signal.len()).collect::<Vec<_>>())
    }

    #[test]
    fn the_pooled_redundancy_matches_information_limiting_correlations() {
        let (a, eps, size) = (0.2, 10.0, 10);
        let m = limited(40, a, eps, 4000, 11);
        let n = size as f64;
        let info = n * a * a / (1.0 + eps * n * a * a);
        let shuffled = n * a * a / (1.0 + eps * a * a);
        let truth = 100.0 * (1.0 - info / shuffled);
        for method in [FisherMethod::Liu, FisherMethod::Kanitscheider] {
            let sub = subset_fisher(&m, &m, method, size, 40, 3).unwrap();
            let pooled = sub.redundancy_pooled_percent.expect("defined");
            assert!(
                (pooled - truth).abs() < 4.0,
                "{method:?}: pooled {pooled:.1}% vs {truth:.1}% (I {:.4} vs {info:.4}, shuffled {:.4} vs {shuffled:.4})",
                sub.fisher_mean,
                sub.fisher_shuffled_mean
            );
            assert!(
                sub.fisher_mean >= MIN_INFORMATION_SDS * sub.fisher_sd,
                "{sub:?}"
            );
            assert!(sub.redundancy_pooled_note.is_none());
            // The per-subset distribution stays as a diagnostic.
            assert!(sub.redundancy_percent.is_some());
        }
        // Information at the level of its own noise: no ratio, and the reason.
        let weak = limited(40, 0.004, eps, 300, 12);
        let sub = subset_fisher(&weak, &weak, FisherMethod::Liu, size, 40, 3).unwrap();
        assert!(
            sub.fisher_mean < MIN_INFORMATION_SDS * sub.fisher_sd,
            "{sub:?}"
        );
        assert_eq!(sub.redundancy_pooled_percent, None);
        assert_eq!(sub.redundancy_pooled_note, Some(REDUNDANCY_TOO_UNCERTAIN));
    }

    #[test]
    fn information_saturates_with_subset_size_under_limiting_correlations() {
        // I(N) = N·a²/(1 + ε·N·a²) rises toward 1/ε; the shuffled information grows linearly.
        let (a, eps) = (0.2, 10.0);
        let m = limited(64, a, eps, 4000, 13);
        let sizes = curve_sizes(32);
        assert_eq!(sizes, vec![2, 4, 8, 16, 32]);
        let curve: Vec<SubsetFisher> = sizes
            .iter()
            .map(|&n| subset_fisher(&m, &m, FisherMethod::Liu, n, 20, 5).unwrap())
            .collect();
        for (sub, &n) in curve.iter().zip(&sizes) {
            let n = n as f64;
            let info = n * a * a / (1.0 + eps * n * a * a);
            assert!(
                (sub.fisher_mean - info).abs() < 0.15 * info + 3.0 * sub.fisher_sd,
                "N = {n}: {:.4} vs {info:.4}",
                sub.fisher_mean
            );
        }
        let red: Vec<f64> = curve
            .iter()
            .map(|s| s.redundancy_pooled_percent.unwrap())
            .collect();
        assert!(
            red.windows(2).all(|w| w[1] > w[0]),
            "redundancy rises with N: {red:?}"
        );
        assert_eq!(curve_sizes(16), vec![2, 4, 8, 16]);
        assert_eq!(curve_sizes(12), vec![2, 4, 8, 12]);
        assert_eq!(curve_sizes(1), Vec::<usize>::new());
    }

    /// Responses r = a·(s + η) + ξ + g·ν: η shared along the signal direction and ξ private,
    /// both drawn afresh at every presentation; ν a stimulus-noise fluctuation fixed per image
    /// (frozen), along another direction g. Repeating images removes ν from the within-image
    /// covariance: the internal information is that of a·η + ξ alone.
    #[test]
    fn within_image_covariance_holds_only_the_internal_variability() {
        let (n, a, eps, images, repeats): (usize, f64, f64, usize, usize) = (8, 0.3, 2.0, 60, 60);
        let mut rng = StdRng::seed_from_u64(17);
        // g has a component along f′ (all units tuned alike): the stimulus noise limits the
        // information of fresh trials, but not the internal information.
        let g: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { 0.5 }).collect();
        let (mut data, mut image, mut signal) = (Vec::new(), Vec::new(), Vec::new());
        // Signal trials (fresh stimulus noise each) for f′, then the frozen images.
        for l in [-2.0, 2.0] {
            for _ in 0..4000 {
                let (eta, nu) = (eps.sqrt() * normal(&mut rng), 3.0 * normal(&mut rng));
                for gi in &g {
                    data.push(a * (l + eta) + normal(&mut rng) + gi * nu);
                }
                signal.push(l);
                image.push(usize::MAX);
            }
        }
        for m in 0..images {
            let nu = 3.0 * normal(&mut rng);
            for _ in 0..repeats {
                let eta = eps.sqrt() * normal(&mut rng);
                for gi in &g {
                    data.push(a * eta + normal(&mut rng) + gi * nu);
                }
                signal.push(0.0);
                image.push(m);
            }
        }
        let r = DMatrix::from_row_slice(signal.len(), n, &data);
        let probe: Vec<usize> = (0..8000).collect();
        let frozen: Vec<usize> = (8000..signal.len()).collect();
        let sig = PopulationMoments::new(&r, &signal, &probe);
        let within = PopulationMoments::within_images(&r, &image, &frozen);
        let (_, t0) = within.zero.as_ref().unwrap();
        assert_eq!(*t0, images * (repeats - 1) + 1);
        let est = cross_fisher(&sig, &within, FisherMethod::Liu, None).unwrap();
        let nf = n as f64;
        let info = nf * a * a / (1.0 + eps * nf * a * a);
        let shuffled = nf * a * a / (1.0 + eps * a * a);
        assert!(
            (est.fisher - info).abs() < 4.0 * est.fisher_variance.sqrt() + 0.05 * info,
            "internal I {:.4} vs {info:.4}",
            est.fisher
        );
        let fresh = population_fisher(&sig, FisherMethod::Kanitscheider, None).unwrap();
        assert!(
            fresh.fisher < 0.5 * est.fisher,
            "the frozen stimulus noise limits fresh trials ({:.4}) but not the internal information ({:.4})",
            fresh.fisher,
            est.fisher
        );
        let truth = 100.0 * (1.0 - info / shuffled);
        let got = est.redundancy_percent.unwrap();
        assert!((got - truth).abs() < 5.0, "{got:.1}% vs {truth:.1}%");
        // Without the shared internal fluctuation (private noise only) the internal redundancy
        // is ≈ 0, whatever the frozen stimulus noise shares.
        let mut quiet = Vec::new();
        let mut rng = StdRng::seed_from_u64(18);
        for _ in 0..images {
            let nu = 3.0 * normal(&mut rng);
            for _ in 0..repeats {
                for gi in &g {
                    quiet.push(normal(&mut rng) + gi * nu);
                }
            }
        }
        let q = DMatrix::from_row_slice(images * repeats, n, &quiet);
        let q_images: Vec<usize> = (0..images * repeats).map(|t| t / repeats).collect();
        let within0 = PopulationMoments::within_images(
            &q,
            &q_images,
            &(0..images * repeats).collect::<Vec<_>>(),
        );
        let est0 = cross_fisher(&sig, &within0, FisherMethod::Liu, None).unwrap();
        let r0 = est0.redundancy_percent.unwrap();
        assert!(r0.abs() < 5.0, "private noise only: {r0:.1}%");
        // Fewer than two presentations per image: no covariance.
        let single = PopulationMoments::within_images(
            &q,
            &(0..images * repeats).collect::<Vec<_>>(),
            &[0, 1, 2],
        );
        assert!(single.zero.is_none());
    }

    /// With few signal trials and strong frozen stimulus noise along f′, f̂′'s noise is far larger
    /// than the within-image Σ: the plain Liu bias (c·N) leaves the internal information biased
    /// up; the cross estimator's c·tr(Σ̂⁻¹Ĉ) removes it (Monte Carlo), and its reported variance
    /// matches the spread.
    #[test]
    fn the_internal_information_is_unbiased_when_the_signal_trials_are_noisier() {
        let (n, a, t, images, repeats) = (6usize, 0.3f64, 40usize, 30usize, 20usize);
        let nu_sd = 1.0; // frozen stimulus noise, along g (with a component along f′)
        let g: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * (i % 2) as f64).collect();
        let truth = n as f64 * a * a; // internal: private unit-variance noise only
        let mut rng = StdRng::seed_from_u64(23);
        let (mut est, mut var, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..1000 {
            let (mut data, mut signal) = (Vec::new(), Vec::new());
            for l in [-1.0, 1.0] {
                for _ in 0..t {
                    let nu = nu_sd * normal(&mut rng);
                    for gi in &g {
                        data.push(a * l + normal(&mut rng) + gi * nu);
                    }
                    signal.push(l);
                }
            }
            let mut frozen = Vec::new();
            for _ in 0..images {
                let nu = nu_sd * normal(&mut rng);
                for _ in 0..repeats {
                    for gi in &g {
                        frozen.push(normal(&mut rng) + gi * nu);
                    }
                }
            }
            let r = DMatrix::from_row_slice(signal.len(), n, &data);
            let f = DMatrix::from_row_slice(images * repeats, n, &frozen);
            let image: Vec<usize> = (0..images * repeats).map(|k| k / repeats).collect();
            let sig = PopulationMoments::new(&r, &signal, &(0..signal.len()).collect::<Vec<_>>());
            let within =
                PopulationMoments::within_images(&f, &image, &(0..image.len()).collect::<Vec<_>>());
            let e = cross_fisher(&sig, &within, FisherMethod::Liu, None).unwrap();
            est.push(e.fisher);
            var.push(e.fisher_variance);
            let (cov0, t0) = within.zero.as_ref().unwrap();
            let level = &sig.levels[0];
            let fprime = (&level.mean_plus - &level.mean_minus) / 2.0;
            plain.push(
                liu_from_moments(cov0, *t0, &fprime, t, t, 2.0)
                    .unwrap()
                    .fisher,
            );
        }
        let m = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mean, mean_plain) = (m(&est), m(&plain));
        let sd =
            (est.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (est.len() - 1) as f64).sqrt();
        let se = sd / (est.len() as f64).sqrt();
        assert!(
            (mean - truth).abs() < 4.0 * se,
            "cross estimator {mean:.4} ± {se:.4} vs truth {truth:.4}"
        );
        assert!(
            mean_plain - truth > 5.0 * se,
            "the plain bias leaves it high: {mean_plain:.4} vs {truth:.4} (se {se:.4})"
        );
        let reported = m(&var).sqrt();
        assert!(
            (reported / sd - 1.0).abs() < 0.3,
            "reported SD {reported:.4} vs the spread {sd:.4}"
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

    /// Levels share Σ̂₀: the combined estimate's reported variance matches its spread over
    /// simulated recordings (and is larger than the independent-levels 1/Σw would say), and the
    /// combination is unbiased.
    #[test]
    fn combined_variance_counts_the_shared_zero_signal_covariance() {
        let (n_units, t) = (10, 40);
        let levels = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0];
        let slope: Vec<f64> = (0..n_units).map(|i| 0.3 + 0.1 * (i % 4) as f64).collect();
        let truth: f64 = slope.iter().map(|x| x * x).sum();
        let mut rng = StdRng::seed_from_u64(21);
        let repeats = 1500;
        let (mut estimates, mut reported, mut independent) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeats {
            let mut data = Vec::new();
            let mut signal = Vec::new();
            for &l in &levels {
                for _ in 0..t {
                    for s in &slope {
                        data.push(s * l + normal(&mut rng));
                    }
                    signal.push(l);
                }
            }
            let r = DMatrix::from_row_slice(signal.len(), n_units, &data);
            let all: Vec<usize> = (0..signal.len()).collect();
            let m = PopulationMoments::new(&r, &signal, &all);
            let est = population_fisher(&m, FisherMethod::Liu, None).unwrap();
            estimates.push(est.fisher);
            reported.push(est.fisher_variance);
            let w: f64 = est
                .per_level
                .iter()
                .map(|(_, e)| 1.0 / e.fisher_variance)
                .sum();
            independent.push(1.0 / w);
        }
        let n = repeats as f64;
        let mean = estimates.iter().sum::<f64>() / n;
        let empirical = estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let reported = reported.iter().sum::<f64>() / n;
        let independent = independent.iter().sum::<f64>() / n;
        let ratio = reported / empirical;
        eprintln!(
            "combined: reported/empirical {ratio:.3}, independent-levels/empirical {:.3}",
            independent / empirical
        );
        assert!(
            (ratio - 1.0).abs() < 0.2,
            "reported {reported:.3} vs empirical {empirical:.3}"
        );
        assert!(
            independent < 0.9 * empirical,
            "{independent} vs {empirical}"
        );
        assert!(
            (mean - truth).abs() < 4.0 * (empirical / n).sqrt(),
            "mean {mean:.3} vs truth {truth:.3}"
        );
    }

    #[test]
    fn cross_context_with_a_missing_level_is_an_error() {
        let (a, sa, _) = population(6, &[-12.0, -6.0, 0.0, 6.0, 12.0], 60, 3);
        let (b, sb, _) = population(6, &[-12.0, 0.0, 12.0], 60, 4);
        let ma = PopulationMoments::new(&a, &sa, &(0..sa.len()).collect::<Vec<_>>());
        let mb = PopulationMoments::new(&b, &sb, &(0..sb.len()).collect::<Vec<_>>());
        let err = cross_fisher(&ma, &mb, FisherMethod::Kanitscheider, None).unwrap_err();
        assert!(err.to_string().contains("±6"), "{err}");
        // The other way round every level of the signal source exists in the covariance's.
        assert!(cross_fisher(&mb, &ma, FisherMethod::Kanitscheider, None).is_ok());
    }
}
