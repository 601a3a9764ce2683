//! The engagement contrasts of `apical analyze <run-dir> --passive <dir>`: what feedback adds
//! at identical input, from a run's recordings and their passive re-recording (`apical record
//! <run> --set model.engagement=0 --out <dir>`: the same weights, probe trials and noise
//! streams, the top-down input off at the soma, the context cue kept).
//!
//! Per hidden layer, with R the pooled redundancy `100·(1 − Σ I / Σ I_shuffled)` over the
//! subsets and the contexts (the subsets and estimator of `redundancy_by_step`):
//!
//! - **learning × engagement** (the primary endpoint of the redundancy experiment):
//!   (R_active − R_passive after learning) − (R_active − R_passive before), the first and the
//!   last recording, with an SD and a 95% basic interval (2θ̂ − the replicates' 97.5th and
//!   2.5th percentiles: the bias-corrected estimator re-run on resampled trials is shifted
//!   from θ̂, and the basic interval undoes the shift; the replicates' mean is reported beside
//!   it) from a bootstrap over probe trials — the trials resampled with replacement within
//!   each context × signal level, the same draw for the four recordings (they show the same
//!   trials), the subsets held fixed; null when any of the four ratios is not reportable (I
//!   below 10 estimator SDs), and the interval null with fewer than 20 defined replicates;
//! - **I(active) / I(passive)** after learning (mean over contexts): feedback should not cost
//!   information;
//! - **within-trial difference-in-differences**: the least-squares slope of R over the steps
//!   of inference (per step, points), active minus passive, last recording — single-unit
//!   information grows within a trial without feedback too (steps see the running mean of
//!   the frames), so only the difference speaks to feedback;
//! - **relevance × engagement**: (R_top − R_bottom quartile) active minus passive, last
//!   recording.

use std::path::Path;

use apical_analysis::{FisherMethod, PopulationMoments};
use apical_core::SeededRng;
use nalgebra::DMatrix;
use serde::Serialize;

use crate::redundancy::{
    active_units, columns, context_groups, from_moments, read_recordings, LayerData, Redundancy,
};
use crate::{ReportError, RunAnalysisSettings};

/// One recording's (pooled redundancy %, mean I, mean I_shuffled); None when not reportable.
type Cell = Option<(f64, f64, f64)>;

/// The stream of the bootstrap's trial resampling.
const BOOTSTRAP_STREAM: u64 = 0xb0075;

/// One hidden layer's engagement contrasts.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct EngagementContrast {
    /// Hidden layer (0 = bottom).
    pub layer: usize,
    /// The recording "before" (the first) and "after" (the last) learning.
    pub before_step: usize,
    /// See `before_step`.
    pub after_step: usize,
    /// Pooled redundancy %, active, before learning.
    pub active_before: Option<f64>,
    /// Pooled redundancy %, passive, before learning.
    pub passive_before: Option<f64>,
    /// Pooled redundancy %, active, after learning.
    pub active_after: Option<f64>,
    /// Pooled redundancy %, passive, after learning.
    pub passive_after: Option<f64>,
    /// (active − passive after) − (active − passive before), points.
    pub learning_x_engagement: Option<f64>,
    /// Bootstrap SD of `learning_x_engagement` over probe trials.
    pub learning_x_engagement_sd: Option<f64>,
    /// Bootstrap 95% basic interval [2θ̂ − q₉₇.₅, 2θ̂ − q₂.₅].
    pub learning_x_engagement_interval: Option<[f64; 2]>,
    /// The mean of the defined bootstrap replicates (beside θ̂: the resampling's shift).
    pub learning_x_engagement_bootstrap_mean: Option<f64>,
    /// Bootstrap replicates in which all four ratios were reportable (of `bootstrap`).
    pub bootstrap_defined: usize,
    /// Bootstrap replicates drawn.
    pub bootstrap: usize,
    /// I(active) / I(passive) after learning (mean information over contexts).
    pub information_ratio_after: Option<f64>,
    /// Slope of R over the steps of inference, active minus passive (points per step).
    pub within_trial_did: Option<f64>,
    /// (R_top − R_bottom quartile), active minus passive (points).
    pub relevance_x_engagement: Option<f64>,
    /// Why a contrast is null where the data do not explain it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The contrasts of `run` (active) against `passive`, whose redundancy analyses are `active`
/// and `passive_analysis` (for the within-trial and relevance entries).
pub fn engagement_contrasts(
    run: &Path,
    passive: &Path,
    active: &Redundancy,
    passive_analysis: &Redundancy,
    settings: &RunAnalysisSettings,
) -> Result<Vec<EngagementContrast>, ReportError> {
    let bootstrap = settings.bootstrap;
    let a = read_recordings(run)?;
    let p = read_recordings(passive)?;
    let (Some(first), Some(last)) = (
        a.iter().map(|d| d.step).min(),
        a.iter().map(|d| d.step).max(),
    ) else {
        return Ok(Vec::new());
    };
    let find = |set: &[LayerData], step: usize, layer: usize| {
        set.iter().position(|d| d.step == step && d.layer == layer)
    };
    let size = active.subset_size;
    let mut out = Vec::new();
    let layers: Vec<usize> = {
        let mut l: Vec<usize> = a.iter().map(|d| d.layer).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    for layer in layers {
        let cells = [
            (find(&a, first, layer), &a),
            (find(&p, first, layer), &p),
            (find(&a, last, layer), &a),
            (find(&p, last, layer), &p),
        ];
        if cells.iter().any(|(i, _)| i.is_none()) {
            return Err(ReportError::Analysis {
                message: format!(
                    "{}: the passive recordings lack layer {layer} at step {first} or {last} (re-record the run with `apical record`)",
                    passive.display()
                ),
            });
        }
        let data: Vec<&LayerData> = cells.iter().map(|(i, set)| &set[i.unwrap()]).collect();
        for d in &data[1..] {
            if d.signal != data[0].signal || d.context != data[0].context {
                return Err(ReportError::Analysis {
                    message: format!(
                        "{}: the passive recording's probe trials differ from the run's (signal or context); re-record it from this run",
                        passive.display()
                    ),
                });
            }
        }
        let cells = [data[0], data[1], data[2], data[3]];
        let (point, mut replicates) =
            interaction_with_bootstrap(cells, size, settings, layer, bootstrap);
        let ratio = |x: Cell| x.map(|(r, _, _)| r);
        let point_interaction = interaction(&point);
        let (sd, mean, interval) = match (spread(&mut replicates), point_interaction) {
            ((Some(sd), Some(mean), Some([lo, hi])), Some(theta)) => (
                Some(sd),
                Some(mean),
                Some([2.0 * theta - hi, 2.0 * theta - lo]),
            ),
            ((sd, mean, _), _) => (sd, mean, None),
        };
        let info_ratio = match (point[2], point[3]) {
            (Some((_, ia, _)), Some((_, ip, _))) if ip > 0.0 => Some(ia / ip),
            _ => None,
        };
        let passive_last = passive_analysis.within_trial.iter().map(|b| b.step).max();
        let note = passive_last.filter(|&s| s != last).map(|s| {
            format!(
                "the passive analysis's last recording is step {s}, the run's {last}: no within-trial or relevance contrast (record the run's last step: logging.record_at)"
            )
        });
        out.push(EngagementContrast {
            note,
            layer,
            before_step: first,
            after_step: last,
            active_before: ratio(point[0]),
            passive_before: ratio(point[1]),
            active_after: ratio(point[2]),
            passive_after: ratio(point[3]),
            learning_x_engagement: point_interaction,
            learning_x_engagement_sd: sd,
            learning_x_engagement_interval: interval,
            learning_x_engagement_bootstrap_mean: mean,
            bootstrap_defined: replicates.len(),
            bootstrap,
            information_ratio_after: info_ratio,
            within_trial_did: within_slope(active, last, layer)
                .zip(within_slope(passive_analysis, last, layer))
                .map(|(a, p)| a - p),
            relevance_x_engagement: relevance_gap(active, last, layer)
                .zip(relevance_gap(passive_analysis, last, layer))
                .map(|(a, p)| a - p),
        });
    }
    Ok(out)
}

/// The four recordings' (pooled redundancy, mean I, mean I_shuffled) — active before,
/// passive before, active after, passive after — and the interaction of each bootstrap
/// replicate where all four are reportable.
fn interaction_with_bootstrap(
    data: [&LayerData; 4],
    size: usize,
    settings: &RunAnalysisSettings,
    layer: usize,
    bootstrap: usize,
) -> ([Cell; 4], Vec<f64>) {
    let prepared: Vec<Prepared> = data.iter().map(|d| Prepared::new(d)).collect();
    let all_trials: Vec<Vec<usize>> = context_groups(data[0])
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let estimate = |trials: &[Vec<usize>]| -> [Cell; 4] {
        let mut r = [None; 4];
        for (i, prep) in prepared.iter().enumerate() {
            r[i] = prep.pooled(trials, size, settings);
        }
        r
    };
    let point = estimate(&all_trials);
    let mut replicates = Vec::new();
    let mut rng = SeededRng::for_stream(settings.seed, BOOTSTRAP_STREAM + layer as u64);
    let strata: Vec<Vec<Vec<usize>>> = all_trials
        .iter()
        .map(|t| by_level(&data[0].signal, t))
        .collect();
    for _ in 0..bootstrap {
        let resampled: Vec<Vec<usize>> = strata
            .iter()
            .map(|levels| {
                levels
                    .iter()
                    .flat_map(|trials| {
                        (0..trials.len())
                            .map(|_| trials[rng.below(trials.len())])
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
            .collect();
        if let Some(x) = interaction(&estimate(&resampled)) {
            replicates.push(x);
        }
    }
    (point, replicates)
}

/// (R_active − R_passive after) − (R_active − R_passive before) from the four cells.
fn interaction(e: &[Cell; 4]) -> Option<f64> {
    let ratio = |i: usize| e[i].map(|(r, _, _)| r);
    Some((ratio(2)? - ratio(3)?) - (ratio(0)? - ratio(1)?))
}

/// A recording's active units' rates (the same units in every replicate).
struct Prepared<'a> {
    rates: DMatrix<f64>,
    data: &'a LayerData,
}

impl<'a> Prepared<'a> {
    fn new(data: &'a LayerData) -> Self {
        Self {
            rates: columns(&data.rates, &active_units(&data.rates)),
            data,
        }
    }

    /// (pooled redundancy %, mean I over contexts, mean I_shuffled) on the trials of each
    /// context; None where a context's ratio is not reportable.
    fn pooled(
        &self,
        trials: &[Vec<usize>],
        size: usize,
        settings: &RunAnalysisSettings,
    ) -> Option<(f64, f64, f64)> {
        let (mut info, mut shuffled) = (0.0, 0.0);
        for t in trials {
            let moments = PopulationMoments::new(&self.rates, &self.data.signal, t);
            let r = from_moments(&moments, size, settings, FisherMethod::Liu).ok()?;
            r.redundancy_pooled_percent?;
            info += r.fisher_mean;
            shuffled += r.fisher_shuffled_mean;
        }
        (shuffled > 0.0).then(|| {
            let n = trials.len() as f64;
            (100.0 * (1.0 - info / shuffled), info / n, shuffled / n)
        })
    }
}

/// The trials of each signal level.
fn by_level(signal: &[f64], trials: &[usize]) -> Vec<Vec<usize>> {
    let mut levels: Vec<(f64, Vec<usize>)> = Vec::new();
    for &t in trials {
        match levels.iter_mut().find(|(l, _)| *l == signal[t]) {
            Some((_, v)) => v.push(t),
            None => levels.push((signal[t], vec![t])),
        }
    }
    levels.into_iter().map(|(_, v)| v).collect()
}

/// (SD, mean, [2.5th, 97.5th percentile]) of the replicates; None with fewer than 20.
fn spread(x: &mut [f64]) -> (Option<f64>, Option<f64>, Option<[f64; 2]>) {
    if x.len() < 20 {
        return (None, None, None);
    }
    x.sort_by(f64::total_cmp);
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let at = |q: f64| x[((q * (n - 1.0)).round() as usize).min(x.len() - 1)];
    (Some(sd), Some(mean), Some([at(0.025), at(0.975)]))
}

/// Pooled over contexts (Σ I / Σ I_shuffled), `None` when any context has no ratio.
fn pool<'a>(entries: impl Iterator<Item = &'a crate::redundancy::SubsetEstimate>) -> Option<f64> {
    let (mut info, mut shuffled, mut n) = (0.0, 0.0, 0);
    for e in entries {
        e.redundancy_percent?;
        info += e.fisher?;
        shuffled += e.fisher_shuffled?;
        n += 1;
    }
    (n > 0 && shuffled > 0.0).then(|| 100.0 * (1.0 - info / shuffled))
}

/// The least-squares slope of the pooled redundancy over the steps of inference.
fn within_slope(r: &Redundancy, step: usize, layer: usize) -> Option<f64> {
    let mut bins: Vec<usize> = r
        .within_trial
        .iter()
        .filter(|b| b.step == step && b.layer == layer)
        .map(|b| b.bin)
        .collect();
    bins.sort_unstable();
    bins.dedup();
    if bins.len() < 2 {
        return None;
    }
    let points: Vec<(f64, f64)> = bins
        .iter()
        .map(|&bin| {
            pool(
                r.within_trial
                    .iter()
                    .filter(|b| b.step == step && b.layer == layer && b.bin == bin)
                    .map(|b| &b.estimate),
            )
            .map(|y| (bin as f64, y))
        })
        .collect::<Option<_>>()?;
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    Some(sxy / sxx)
}

/// R(top quartile) − R(bottom quartile), pooled over contexts.
fn relevance_gap(r: &Redundancy, step: usize, layer: usize) -> Option<f64> {
    let quartile = |q: &str| {
        pool(
            r.by_relevance
                .iter()
                .filter(|e| e.step == step && e.layer == layer && e.quartile == q)
                .map(|e| &e.estimate),
        )
    };
    Some(quartile("top")? - quartile("bottom")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redundancy::{BinRedundancy, RelevanceRedundancy, SubsetEstimate};

    #[test]
    fn the_spread_is_the_sample_sd_and_the_percentiles() {
        let mut x: Vec<f64> = (0..=100).map(f64::from).collect();
        let (sd, mean, interval) = spread(&mut x);
        assert!((sd.unwrap() - 29.3).abs() < 0.1, "{sd:?}");
        assert_eq!(mean, Some(50.0));
        assert_eq!(interval.unwrap(), [3.0, 98.0]);
        assert_eq!(spread(&mut [1.0, 2.0]), (None, None, None));
    }

    fn estimate(info: f64, shuffled: f64) -> SubsetEstimate {
        SubsetEstimate {
            fisher: Some(info),
            fisher_shuffled: Some(shuffled),
            fisher_sd: Some(info / 100.0),
            redundancy_percent: Some(100.0 * (1.0 - info / shuffled)),
            ..Default::default()
        }
    }

    #[test]
    fn the_within_trial_slope_and_the_relevance_gap_pool_the_contexts() {
        // Two contexts; per bin b the pooled R = 100·(1 − Σ I / Σ I_sh) = 10·b points.
        let mut r = Redundancy::default();
        for bin in 0..3 {
            for context in [0, 1] {
                let shuffled = 1.0 + context as f64;
                r.within_trial.push(BinRedundancy {
                    step: 40,
                    layer: 0,
                    context: Some(context),
                    bin,
                    estimate: estimate(shuffled * (1.0 - 0.1 * bin as f64), shuffled),
                });
            }
        }
        assert!((within_slope(&r, 40, 0).unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(within_slope(&r, 20, 0), None);
        // One context's ratio not reportable: no slope.
        r.within_trial[1].estimate.redundancy_percent = None;
        assert_eq!(within_slope(&r, 40, 0), None);
        for (quartile, info) in [("top", 0.4), ("bottom", 0.9)] {
            r.by_relevance.push(RelevanceRedundancy {
                step: 40,
                layer: 0,
                context: Some(0),
                quartile: quartile.into(),
                quartile_units: 3,
                units: 3,
                estimate: estimate(info, 1.0),
                error: None,
            });
        }
        // 60% − 10%.
        assert!((relevance_gap(&r, 40, 0).unwrap() - 50.0).abs() < 1e-9);
    }

    /// 6 units, 3,000 trials (signal −1, 0, +1 × 1,000): r = f·s + c·ξ·f + private noise, ξ
    /// shared along f′ (information-limiting, so redundant) with weight `shared`.
    fn recording(step: usize, shared: f64, seed: u64) -> LayerData {
        let mut rng = SeededRng::new(seed);
        let f = [1.0, 0.8, -0.6, 0.5, -0.9, 0.7];
        let (trials, units) = (3000, f.len());
        let signal: Vec<f64> = (0..trials).map(|t| (t % 3) as f64 - 1.0).collect();
        let mut rates = DMatrix::zeros(trials, units);
        for t in 0..trials {
            let xi = rng.normal();
            for u in 0..units {
                rates[(t, u)] = f[u] * (signal[t] + shared * xi) + rng.normal();
            }
        }
        LayerData::synthetic(step, rates, signal)
    }

    #[test]
    fn the_interaction_finds_redundancy_added_only_where_engaged_after_learning() {
        let settings = RunAnalysisSettings {
            subsets: 10,
            ..RunAnalysisSettings::default()
        };
        // Before: active = passive (the same recording); after: the active responses share
        // noise along f′, the passive ones do not.
        let before = recording(0, 0.2, 1);
        let active_after = recording(40, 1.0, 2);
        let passive_after = recording(40, 0.2, 3);
        let (point, mut replicates) = interaction_with_bootstrap(
            [&before, &before, &active_after, &passive_after],
            6,
            &settings,
            0,
            40,
        );
        let r: Vec<f64> = point.iter().map(|p| p.unwrap().0).collect();
        assert_eq!(r[0], r[1]);
        assert!(r[2] > r[3] + 20.0, "{r:?}");
        let theta = interaction(&point).unwrap();
        assert!((theta - ((r[2] - r[3]) - (r[0] - r[1]))).abs() < 1e-12);
        // Every replicate defined, the basic interval around θ̂ and clear of 0.
        assert_eq!(replicates.len(), 40);
        let (sd, _, q) = spread(&mut replicates);
        let [lo, hi] = q.unwrap();
        let (lo, hi) = (2.0 * theta - hi, 2.0 * theta - lo);
        assert!(
            sd.unwrap() > 0.0 && lo < theta && theta < hi && lo > 0.0,
            "{lo} {theta} {hi}"
        );
        // The same recordings everywhere: no interaction, and an interval that holds 0.
        let (null_point, mut null) = interaction_with_bootstrap(
            [&before, &before, &passive_after, &passive_after],
            6,
            &settings,
            0,
            40,
        );
        assert_eq!(interaction(&null_point), Some(0.0));
        assert!(null.iter().all(|&x| x == 0.0));
        assert_eq!(spread(&mut null).0, Some(0.0));
    }

    #[test]
    fn trials_are_grouped_by_signal_level() {
        let signal = [0.0, 0.1, -0.1, 0.0, 0.1];
        assert_eq!(
            by_level(&signal, &[0, 1, 2, 3, 4]),
            vec![vec![0, 3], vec![1, 4], vec![2]]
        );
    }
}
