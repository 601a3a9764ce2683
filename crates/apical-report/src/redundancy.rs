//! Redundancy along learning and within the trial, from a run's recordings: what
//! `apical analyze <run-dir>` writes as `redundancy_by_step`, `within_trial` and
//! `redundancy_by_size`.
//!
//! For every recording (`activity/step-<n>/`, or `activity/` alone when the run recorded only
//! at its end), every recorded layer (`hidden_<l>.npy`, the rates at the end of inference) and
//! every context (`context.npy`; all trials together without one): the bias-corrected linear
//! Fisher information of the Liu et al. (2026) variant (Σ from the zero-signal trials, the
//! signal from each ±level pair, combined over levels) and its trial-shuffled counterpart, over
//! random unit subsets of one size. Reported ([`SubsetEstimate`]): the mean informations over
//! subsets with the estimator SD of the mean, and the pooled redundancy
//! `100 · (1 − Σ I / Σ I_shuffled)` over subsets — null where Σ I_shuffled ≤ 0, or where the
//! information is below 10× its SD (then the two informations are the result, not a ratio);
//! the per-subset ratios' median and 16th–84th percentiles as a diagnostic. `by_step` adds the
//! Kanitscheider et al. (2015) estimate on the same subsets (Σ pooled within each ±level pair:
//! it does not assume Σ(±L) = Σ₀). The subset size is one for the whole run — the asked size,
//! lowered to the fewest active units of any layer and to (T0 − 4)/2 for the fewest
//! zero-signal trials of any context (clear of the T0 − N − 4 edge) — so that steps, layers
//! and contexts compare; pass the same `--subset-size` to compare runs.
//!
//! `redundancy_by_size`: for the last recording, I(N), I_shuffled(N) and the pooled redundancy
//! for subsets of 2, 4, 8, … units up to that size (redundancy depends on N; one N alone does
//! not describe a population).
//!
//! `within_trial`: for the last recording, the same per step of inference (`layer<l>_rate.npy`,
//! trials × steps × units; the gfn's recordings): `bin` 0 is the bottom-up sweep.
//!
//! `cross_context`: for the last recording, per layer, the information of one context's signal
//! (f′) read through the other context's zero-signal covariance (Σ₀), over the same subsets.
//!
//! `redundancy_by_relevance`: for the last recording, the top and bottom quartiles of units by
//! task relevance (single-unit d′ between the largest positive and negative level, over the
//! zero-signal standard deviation), ranked on one half of each context's trials (every other
//! trial of each level) and estimated on the other half, in subsets of at most a quartile.

use std::path::{Path, PathBuf};

use apical_analysis::{
    curve_sizes, subset_fisher, FisherError, FisherMethod, PopulationMoments, SubsetFisher,
};
use nalgebra::DMatrix;
use serde::Serialize;

use apical_store::{recording_files, RunDir, Summary};

use crate::inputs::{max_subset_size, read_responses, read_vector, Responses};
use crate::{ReportError, RunAnalysisSettings};

/// The estimate over unit subsets that every entry carries (flattened into it): the mean
/// informations over subsets, the estimator SD of the mean, and the **pooled** redundancy
/// `100·(1 − Σ I / Σ I_shuf)` — null where Σ I_shuf ≤ 0 or the information is below 10× its SD
/// (`redundancy_note` says which); the per-subset ratios' median and 16th–84th percentiles are
/// a diagnostic of how the subsets differ, not an interval of the estimate.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SubsetEstimate {
    /// Mean bias-corrected information over subsets.
    pub fisher: Option<f64>,
    /// Mean shuffled information over subsets.
    pub fisher_shuffled: Option<f64>,
    /// Estimator SD of `fisher` (the mean of the subsets' analytic SDs: an upper bound).
    pub fisher_sd: Option<f64>,
    /// Pooled redundancy %, `100·(1 − Σ I / Σ I_shuf)` over subsets.
    pub redundancy_percent: Option<f64>,
    /// Why `redundancy_percent` is null (absent when it is not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_note: Option<&'static str>,
    /// Median of the per-subset redundancies (subsets with I_shuf > 0; diagnostic).
    pub subset_median_percent: Option<f64>,
    /// 16th percentile of the per-subset redundancies (diagnostic).
    pub subset_p16: Option<f64>,
    /// 84th percentile of the per-subset redundancies (diagnostic).
    pub subset_p84: Option<f64>,
}

impl From<&SubsetFisher> for SubsetEstimate {
    fn from(r: &SubsetFisher) -> Self {
        Self {
            fisher: Some(r.fisher_mean),
            fisher_shuffled: Some(r.fisher_shuffled_mean),
            fisher_sd: Some(r.fisher_sd),
            redundancy_percent: r.redundancy_pooled_percent,
            redundancy_note: r.redundancy_pooled_note,
            subset_median_percent: r.redundancy_percent.map(|s| s.median),
            subset_p16: r.redundancy_percent.map(|s| s.p16),
            subset_p84: r.redundancy_percent.map(|s| s.p84),
        }
    }
}

/// One recording × layer × context.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepRedundancy {
    /// Training step of the recording.
    pub step: usize,
    /// Hidden layer (0 = bottom).
    pub layer: usize,
    /// Context index (`context.npy`); null when the recording has none.
    pub context: Option<i64>,
    /// The Liu et al. estimate (Σ from the zero-signal trials) over subsets.
    #[serde(flatten)]
    pub estimate: SubsetEstimate,
    /// The Kanitscheider et al. estimate (Σ pooled within each ±level pair) over the same
    /// subsets: it does not assume that the covariance at ±L is the zero-signal one.
    pub kanitscheider: Option<SubsetEstimate>,
    /// Units per subset.
    pub units: usize,
    /// Subsets drawn.
    pub subsets: usize,
    /// Subsets without a redundancy (I_shuffled ≤ 0).
    pub redundancy_undefined: usize,
    /// Why nothing could be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One step of inference (time bin) of the last recording × layer × context.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinRedundancy {
    /// Training step of the recording.
    pub step: usize,
    /// Hidden layer.
    pub layer: usize,
    /// Context index; null when the recording has none.
    pub context: Option<i64>,
    /// Step of inference (0 = the bottom-up sweep).
    pub bin: usize,
    /// The estimate over subsets (null fields when none could be made).
    #[serde(flatten)]
    pub estimate: SubsetEstimate,
}

/// The last recording's internal (frozen-noise) information: f′ from the probe's signal
/// levels, Σ from the within-image covariance of repeated zero-signal images (`frozen/`) —
/// only the variability the network adds, the stimulus noise held fixed. Feedforward units whose
/// only shared variability is in their input give ≈ 0 redundancy here.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InternalRedundancy {
    /// Training step of the recording.
    pub step: usize,
    /// Hidden layer.
    pub layer: usize,
    /// Context index; null when the recording has none.
    pub context: Option<i64>,
    /// Units per subset.
    pub units: usize,
    /// Frozen images of this context shown at least twice.
    pub images: usize,
    /// Degrees of freedom of the within-image covariance (Σ (presentations − 1)).
    pub dof: usize,
    /// The estimate over subsets.
    #[serde(flatten)]
    pub estimate: SubsetEstimate,
    /// Why nothing could be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The last recording's information and redundancy against the number of units (I(N),
/// redundancy(N)): subsets of 2, 4, 8, … units up to the run's subset size.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SizeRedundancy {
    /// Training step of the recording.
    pub step: usize,
    /// Hidden layer.
    pub layer: usize,
    /// Context index; null when the recording has none.
    pub context: Option<i64>,
    /// Units per subset.
    pub units: usize,
    /// The estimate over subsets of this size.
    #[serde(flatten)]
    pub estimate: SubsetEstimate,
    /// Why nothing could be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The last recording's most and least task-relevant units.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RelevanceRedundancy {
    /// Training step of the recording.
    pub step: usize,
    /// Hidden layer.
    pub layer: usize,
    /// Context index; null when the recording has none.
    pub context: Option<i64>,
    /// "top" or "bottom" quartile of units by task relevance.
    pub quartile: String,
    /// Units in the quartile.
    pub quartile_units: usize,
    /// Units per subset (at most the quartile).
    pub units: usize,
    /// The estimate over subsets.
    #[serde(flatten)]
    pub estimate: SubsetEstimate,
    /// Why nothing could be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The last recording's cross-context information: the signal (f′) of one context read through
/// the noise covariance of the other.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CrossContext {
    /// Training step of the recording.
    pub step: usize,
    /// Hidden layer.
    pub layer: usize,
    /// The context f′ comes from.
    pub signal_from_context: i64,
    /// The context Σ (zero-signal trials) comes from.
    pub covariance_from_context: i64,
    /// Mean cross-context information over subsets.
    pub fisher: Option<f64>,
    /// Mean shuffled (diagonal-Σ) cross-context information over subsets.
    pub fisher_shuffled: Option<f64>,
    /// Estimator SD of `fisher` (an upper bound, as in [`SubsetEstimate`]).
    pub fisher_sd: Option<f64>,
    /// Units per subset.
    pub units: usize,
    /// Why nothing could be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Redundancy along learning and within the trial.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Redundancy {
    /// One per recording × layer × context, by step.
    pub by_step: Vec<StepRedundancy>,
    /// The last recording per step of inference.
    pub within_trial: Vec<BinRedundancy>,
    /// The last recording's I(N) and redundancy(N) over subset sizes.
    pub by_size: Vec<SizeRedundancy>,
    /// The last recording's internal (frozen-noise) redundancy, when it has `frozen/`.
    pub internal: Vec<InternalRedundancy>,
    /// The last recording's top and bottom quartiles of units by task relevance (ranked on
    /// one half of the trials, estimated on the other).
    pub by_relevance: Vec<RelevanceRedundancy>,
    /// The last recording's cross-context information, per layer and ordered pair of contexts.
    pub cross_context: Vec<CrossContext>,
    /// The subset size used throughout.
    pub subset_size: usize,
    /// Why the subset size is smaller than asked.
    pub note: Option<String>,
}

/// One recording directory and its step.
struct Recording {
    step: usize,
    dir: PathBuf,
}

/// The recordings of a run: `activity/step-<n>/` by step, or `activity/` alone at the step the
/// run (or `apical record`) ended.
fn recordings(run: &Path) -> Vec<Recording> {
    let activity = RunDir::new(run).activity();
    let mut steps: Vec<Recording> = RunDir::new(run)
        .recordings()
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, dir)| dir.is_dir())
        .map(|(step, dir)| Recording { step, dir })
        .collect();
    if steps.is_empty() {
        let step = Summary::read(run)
            .map(|s| s.classifier.stopped_early_at_step.unwrap_or(s.steps))
            .unwrap_or(0);
        steps.push(Recording {
            step,
            dir: activity,
        });
    }
    steps
}

/// A layer's responses in one recording, with the trials' signal and context.
pub(crate) struct LayerData {
    pub(crate) step: usize,
    pub(crate) layer: usize,
    pub(crate) rates: DMatrix<f64>,
    per_step: Option<Vec<DMatrix<f64>>>,
    pub(crate) signal: Vec<f64>,
    pub(crate) context: Option<Vec<i64>>,
    frozen: Option<Frozen>,
}

#[cfg(test)]
impl LayerData {
    /// A recording of one layer without contexts, per-step rates or a frozen probe (tests).
    pub(crate) fn synthetic(step: usize, rates: DMatrix<f64>, signal: Vec<f64>) -> Self {
        Self {
            step,
            layer: 0,
            rates,
            per_step: None,
            signal,
            context: None,
            frozen: None,
        }
    }
}

/// A layer's frozen-noise recording: rates `[trials, units]`, each trial's image and context.
struct Frozen {
    rates: DMatrix<f64>,
    image: Vec<usize>,
    context: Option<Vec<i64>>,
}

/// Reads `dir/frozen/` for layer `l` (None when the recording has none).
fn read_frozen(dir: &Path, l: usize, units: usize) -> Result<Option<Frozen>, ReportError> {
    let dir = dir.join(recording_files::FROZEN_DIR);
    let path = dir.join(recording_files::hidden(l));
    if !path.exists() {
        return Ok(None);
    }
    let rates = match read_responses(&path)? {
        Responses::Matrix(m) if m.ncols() == units => m,
        _ => {
            return Err(ReportError::read(
                &path,
                format!("expected a 2-D trials × {units} units array (the probe's units)"),
            ))
        }
    };
    let image = read_vector(&dir.join(recording_files::IMAGE), rates.nrows())?
        .iter()
        .map(|&v| v.round() as usize)
        .collect();
    let context_path = dir.join(recording_files::CONTEXT);
    let context = context_path
        .exists()
        .then(|| read_vector(&context_path, rates.nrows()))
        .transpose()?
        .map(|c| c.iter().map(|v| v.round() as i64).collect());
    Ok(Some(Frozen {
        rates,
        image,
        context,
    }))
}

fn read_recording(rec: &Recording) -> Result<Vec<LayerData>, ReportError> {
    let mut layers = Vec::new();
    let signal_path = rec.dir.join(recording_files::SIGNAL);
    if !signal_path.exists() {
        return Ok(layers);
    }
    for l in 0.. {
        let path = rec.dir.join(recording_files::hidden(l));
        if !path.exists() {
            break;
        }
        let rates = match read_responses(&path)? {
            Responses::Matrix(m) => m,
            Responses::Binned(_) => {
                return Err(ReportError::read(
                    &path,
                    "expected a 2-D trials × units array",
                ))
            }
        };
        let signal = read_vector(&signal_path, rates.nrows())?;
        let context_path = rec.dir.join(recording_files::CONTEXT);
        let context = context_path
            .exists()
            .then(|| read_vector(&context_path, rates.nrows()))
            .transpose()?
            .map(|c| c.iter().map(|v| v.round() as i64).collect());
        let rate_path = rec.dir.join(recording_files::layer_rate(l));
        let per_step = if rate_path.exists() {
            match read_responses(&rate_path)? {
                Responses::Binned(b) if b[0].shape() == rates.shape() => Some(b),
                _ => {
                    return Err(ReportError::read(
                        &rate_path,
                        format!(
                            "expected trials × steps × units with {} trials and {} units",
                            rates.nrows(),
                            rates.ncols()
                        ),
                    ))
                }
            }
        } else {
            None
        };
        let frozen = read_frozen(&rec.dir, l, rates.ncols())?;
        layers.push(LayerData {
            step: rec.step,
            layer: l,
            rates,
            per_step,
            signal,
            context,
            frozen,
        });
    }
    Ok(layers)
}

/// The trials of each context (one group of every trial without contexts).
pub(crate) fn context_groups(data: &LayerData) -> Vec<(Option<i64>, Vec<usize>)> {
    match &data.context {
        None => vec![(None, (0..data.signal.len()).collect())],
        Some(c) => {
            let mut labels = c.clone();
            labels.sort_unstable();
            labels.dedup();
            labels
                .into_iter()
                .map(|label| {
                    (
                        Some(label),
                        (0..c.len()).filter(|&t| c[t] == label).collect(),
                    )
                })
                .collect()
        }
    }
}

fn zero_signal(signal: &[f64], trials: &[usize]) -> usize {
    trials.iter().filter(|&&t| signal[t] == 0.0).count()
}

/// Units whose response varies in this recording (silent units make Σ singular).
pub(crate) fn active_units(m: &DMatrix<f64>) -> Vec<usize> {
    (0..m.ncols())
        .filter(|&u| m.column(u).variance() > 1e-12)
        .collect()
}

pub(crate) fn columns(m: &DMatrix<f64>, keep: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(m.nrows(), keep.len(), |t, j| m[(t, keep[j])])
}

fn estimate(
    responses: &DMatrix<f64>,
    signal: &[f64],
    trials: &[usize],
    size: usize,
    settings: &RunAnalysisSettings,
) -> Result<SubsetFisher, FisherError> {
    let moments = PopulationMoments::new(responses, signal, trials);
    from_moments(&moments, size, settings, FisherMethod::Liu)
}

/// The subsets' estimate by `method` from moments computed once (the moments are the costly
/// part: every trial of the context).
pub(crate) fn from_moments(
    moments: &PopulationMoments,
    size: usize,
    settings: &RunAnalysisSettings,
    method: FisherMethod,
) -> Result<SubsetFisher, FisherError> {
    subset_fisher(
        moments,
        moments,
        method,
        size,
        settings.subsets,
        settings.seed,
    )
}

/// Every layer of every recording of `run` (empty when they carry no signal levels).
pub(crate) fn read_recordings(run: &Path) -> Result<Vec<LayerData>, ReportError> {
    let mut all = Vec::new();
    for rec in &recordings(run) {
        all.extend(read_recording(rec)?);
    }
    Ok(all)
}

/// Redundancy along learning (and within the trial for the last recording) of the run in
/// `run`; `None` when its recordings carry no signal levels.
pub fn analyze_redundancy(
    run: &Path,
    settings: &RunAnalysisSettings,
) -> Result<Option<Redundancy>, ReportError> {
    let all = read_recordings(run)?;
    if all.is_empty() {
        return Ok(None);
    }
    // One subset size for the run: the asked one, within every layer's active units and clear
    // of the T0 − N − 4 edge in every context.
    let mut size = settings.subset_size;
    let mut limits = Vec::new();
    for data in &all {
        let active = active_units(&data.rates).len();
        if active < size {
            size = active;
            limits.push(format!(
                "layer {} at step {} has {active} active units",
                data.layer, data.step
            ));
        }
        for (context, trials) in context_groups(data) {
            let t0 = zero_signal(&data.signal, &trials);
            let clear = max_subset_size(t0);
            if clear < size {
                size = clear;
                limits.push(format!(
                    "{t0} zero-signal trials{} allow at most (T0 − 4)/2 = {clear} units clear of the T0 − N − 4 edge",
                    context.map(|c| format!(" in context {c}")).unwrap_or_default()
                ));
            }
        }
    }
    let note = (size < settings.subset_size).then(|| {
        format!(
            "subsets of {size} units, not {}: {}",
            settings.subset_size,
            limits.last().cloned().unwrap_or_default()
        )
    });
    let mut out = Redundancy {
        subset_size: size,
        note,
        ..Default::default()
    };
    let last_step = all.iter().map(|d| d.step).max().expect("not empty");
    for data in &all {
        let active = active_units(&data.rates);
        let rates = columns(&data.rates, &active);
        for (context, trials) in context_groups(data) {
            let moments = PopulationMoments::new(&rates, &data.signal, &trials);
            let result = if size >= 2 {
                from_moments(&moments, size, settings, FisherMethod::Liu).map_err(|e| e.to_string())
            } else {
                Err(format!(
                    "subsets of {size} unit(s): too few zero-signal trials or active units (needs T0 ≥ 8)"
                ))
            };
            let kanitscheider = (size >= 2)
                .then(|| from_moments(&moments, size, settings, FisherMethod::Kanitscheider).ok())
                .flatten();
            out.by_step.push(step_entry(
                data,
                context,
                size,
                settings,
                result,
                kanitscheider.as_ref(),
            ));
            if data.step != last_step || size < 2 {
                continue;
            }
            if let Some(frozen) = &data.frozen {
                out.internal.push(internal_entry(
                    data, frozen, &active, &moments, context, size, settings,
                ));
            }
            for units in curve_sizes(size) {
                let result = from_moments(&moments, units, settings, FisherMethod::Liu);
                out.by_size.push(SizeRedundancy {
                    step: data.step,
                    layer: data.layer,
                    context,
                    units,
                    estimate: result
                        .as_ref()
                        .map(SubsetEstimate::from)
                        .unwrap_or_default(),
                    error: result.err().map(|e| e.to_string()),
                });
            }
            out.by_relevance.extend(relevance_quartiles(
                data, &rates, context, &trials, size, settings,
            ));
            // f′ of this context through Σ of every other one.
            for (other, other_trials) in context_groups(data) {
                let (Some(a), Some(b)) = (context, other) else {
                    continue;
                };
                if a == b {
                    continue;
                }
                let noise = PopulationMoments::new(&rates, &data.signal, &other_trials);
                let result = subset_fisher(
                    &moments,
                    &noise,
                    FisherMethod::Liu,
                    size,
                    settings.subsets,
                    settings.seed,
                );
                let (fisher, shuffled, sd, error) = match result {
                    Ok(r) => (
                        Some(r.fisher_mean),
                        Some(r.fisher_shuffled_mean),
                        Some(r.fisher_sd),
                        None,
                    ),
                    Err(e) => (None, None, None, Some(e.to_string())),
                };
                out.cross_context.push(CrossContext {
                    step: data.step,
                    layer: data.layer,
                    signal_from_context: a,
                    covariance_from_context: b,
                    fisher,
                    fisher_shuffled: shuffled,
                    fisher_sd: sd,
                    units: size,
                    error,
                });
            }
            for (bin, m) in data.per_step.iter().flatten().enumerate() {
                let m = columns(m, &active);
                let result = estimate(&m, &data.signal, &trials, size, settings).ok();
                out.within_trial.push(BinRedundancy {
                    step: data.step,
                    layer: data.layer,
                    context,
                    bin,
                    estimate: result
                        .as_ref()
                        .map(SubsetEstimate::from)
                        .unwrap_or_default(),
                });
            }
        }
    }
    Ok(Some(out))
}

/// Task relevance of each unit on `trials`: |mean at the largest positive level − mean at the
/// largest negative level| / the zero-signal standard deviation (a single-unit d′).
fn relevance(rates: &DMatrix<f64>, signal: &[f64], trials: &[usize]) -> Option<Vec<f64>> {
    let max = trials.iter().map(|&t| signal[t]).fold(f64::MIN, f64::max);
    let min = trials.iter().map(|&t| signal[t]).fold(f64::MAX, f64::min);
    if !(max > 0.0 && min < 0.0) {
        return None;
    }
    let mean = |level: f64, u: usize| -> f64 {
        let v: Vec<f64> = trials
            .iter()
            .filter(|&&t| signal[t] == level)
            .map(|&t| rates[(t, u)])
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let zero: Vec<usize> = trials
        .iter()
        .copied()
        .filter(|&t| signal[t] == 0.0)
        .collect();
    if zero.len() < 2 {
        return None;
    }
    Some(
        (0..rates.ncols())
            .map(|u| {
                let z: Vec<f64> = zero.iter().map(|&t| rates[(t, u)]).collect();
                let m = z.iter().sum::<f64>() / z.len() as f64;
                let sd =
                    (z.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (z.len() - 1) as f64).sqrt();
                (mean(max, u) - mean(min, u)).abs() / sd.max(f64::MIN_POSITIVE)
            })
            .collect(),
    )
}

/// Redundancy of the top and bottom quartiles of units by task relevance: units ranked on one
/// half of the context's trials (every other trial of each signal level), information estimated
/// on the other half (so the ranking does not select the estimate's own noise).
fn relevance_quartiles(
    data: &LayerData,
    rates: &DMatrix<f64>,
    context: Option<i64>,
    trials: &[usize],
    size: usize,
    settings: &RunAnalysisSettings,
) -> Vec<RelevanceRedundancy> {
    // Alternate each signal level's trials between the halves, so both hold every level.
    let (mut rank_on, mut estimate_on) = (Vec::new(), Vec::new());
    let mut seen: Vec<(f64, usize)> = Vec::new();
    for &t in trials {
        let level = data.signal[t];
        let count = match seen.iter_mut().find(|(l, _)| *l == level) {
            Some((_, c)) => {
                *c += 1;
                *c
            }
            None => {
                seen.push((level, 0));
                0
            }
        };
        if count % 2 == 0 {
            rank_on.push(t);
        } else {
            estimate_on.push(t);
        }
    }
    let Some(score) = relevance(rates, &data.signal, &rank_on) else {
        return Vec::new();
    };
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let quarter = order.len() / 4;
    if quarter < 2 {
        return Vec::new();
    }
    let t0 = zero_signal(&data.signal, &estimate_on);
    let units = size.min(quarter).min(max_subset_size(t0));
    [
        ("top", &order[..quarter]),
        ("bottom", &order[order.len() - quarter..]),
    ]
    .into_iter()
    .map(|(name, keep)| {
        let m = columns(rates, keep);
        let result = if units >= 2 {
            estimate(&m, &data.signal, &estimate_on, units, settings).map_err(|e| e.to_string())
        } else {
            Err(format!(
                "{t0} zero-signal trials in the estimation half are too few"
            ))
        };
        RelevanceRedundancy {
            step: data.step,
            layer: data.layer,
            context,
            quartile: name.into(),
            quartile_units: quarter,
            units,
            estimate: result
                .as_ref()
                .map(SubsetEstimate::from)
                .unwrap_or_default(),
            error: result.err(),
        }
    })
    .collect()
}

/// The internal (frozen-noise) redundancy of one layer × context: f′ from the probe's
/// `moments`, Σ from the context's frozen trials' within-image covariance.
fn internal_entry(
    data: &LayerData,
    frozen: &Frozen,
    active: &[usize],
    moments: &PopulationMoments,
    context: Option<i64>,
    size: usize,
    settings: &RunAnalysisSettings,
) -> InternalRedundancy {
    let trials: Vec<usize> = (0..frozen.rates.nrows())
        .filter(|&t| match (&frozen.context, context) {
            (Some(c), Some(want)) => c[t] == want,
            _ => true,
        })
        .collect();
    let rates = columns(&frozen.rates, active);
    let within = PopulationMoments::within_images(&rates, &frozen.image, &trials);
    // Images shown at least twice (the ones the within-image covariance uses).
    let mut shown: std::collections::BTreeMap<usize, usize> = Default::default();
    for &t in &trials {
        *shown.entry(frozen.image[t]).or_default() += 1;
    }
    let images: Vec<usize> = shown
        .into_iter()
        .filter(|&(_, k)| k >= 2)
        .map(|(i, _)| i)
        .collect();
    let dof = within.zero.as_ref().map_or(0, |(_, t0)| t0 - 1);
    let result = if size >= 2 {
        subset_fisher(
            moments,
            &within,
            FisherMethod::Liu,
            size,
            settings.subsets,
            settings.seed,
        )
        .map_err(|e| e.to_string())
    } else {
        Err(format!("subsets of {size} unit(s)"))
    };
    InternalRedundancy {
        step: data.step,
        layer: data.layer,
        context,
        units: size,
        images: images.len(),
        dof,
        estimate: result
            .as_ref()
            .map(SubsetEstimate::from)
            .unwrap_or_default(),
        error: result.err(),
    }
}

fn step_entry(
    data: &LayerData,
    context: Option<i64>,
    size: usize,
    settings: &RunAnalysisSettings,
    result: Result<SubsetFisher, String>,
    kanitscheider: Option<&SubsetFisher>,
) -> StepRedundancy {
    StepRedundancy {
        step: data.step,
        layer: data.layer,
        context,
        estimate: result
            .as_ref()
            .map(SubsetEstimate::from)
            .unwrap_or_default(),
        kanitscheider: kanitscheider.map(SubsetEstimate::from),
        units: size,
        subsets: settings.subsets,
        redundancy_undefined: result.as_ref().map_or(0, |r| r.redundancy_undefined),
        error: result.err(),
    }
}
