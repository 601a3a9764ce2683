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
//!   last recording, with an SD and a 95% percentile interval from a bootstrap over probe
//!   trials — the trials resampled with replacement within each context × signal level, the
//!   same draw for the four recordings (they show the same trials), the subsets held fixed;
//!   null when any of the four ratios is not reportable (I below 10 estimator SDs);
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
    /// Bootstrap 95% percentile interval.
    pub learning_x_engagement_interval: Option<[f64; 2]>,
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
        let prepared: Vec<Prepared> = data.iter().map(|d| Prepared::new(d)).collect();
        let groups = context_groups(data[0]);
        let all_trials: Vec<Vec<usize>> = groups.iter().map(|(_, t)| t.clone()).collect();
        let estimate = |trials: &[Vec<usize>]| -> [Option<(f64, f64, f64)>; 4] {
            let mut r = [None; 4];
            for (i, prep) in prepared.iter().enumerate() {
                r[i] = prep.pooled(trials, size, settings);
            }
            r
        };
        let point = estimate(&all_trials);
        let ratio = |x: Option<(f64, f64, f64)>| x.map(|(r, _, _)| r);
        let interaction = |e: &[Option<(f64, f64, f64)>; 4]| -> Option<f64> {
            Some((ratio(e[2])? - ratio(e[3])?) - (ratio(e[0])? - ratio(e[1])?))
        };
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
        let (sd, interval) = spread(&mut replicates);
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
            learning_x_engagement: interaction(&point),
            learning_x_engagement_sd: sd,
            learning_x_engagement_interval: interval,
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

/// (SD, 95% percentile interval) of the replicates; None with fewer than 20.
fn spread(x: &mut [f64]) -> (Option<f64>, Option<[f64; 2]>) {
    if x.len() < 20 {
        return (None, None);
    }
    x.sort_by(f64::total_cmp);
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let at = |q: f64| x[((q * (n - 1.0)).round() as usize).min(x.len() - 1)];
    (Some(sd), Some([at(0.025), at(0.975)]))
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
        let (sd, interval) = spread(&mut x);
        assert!((sd.unwrap() - 29.3).abs() < 0.1, "{sd:?}");
        assert_eq!(interval.unwrap(), [3.0, 98.0]);
        assert_eq!(spread(&mut [1.0, 2.0]), (None, None));
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

    #[test]
    fn trials_are_grouped_by_signal_level() {
        let signal = [0.0, 0.1, -0.1, 0.0, 0.1];
        assert_eq!(
            by_level(&signal, &[0, 1, 2, 3, 4]),
            vec![vec![0, 3], vec![1, 4], vec![2]]
        );
    }
}
