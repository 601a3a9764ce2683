//! `apical analyze`: the analysis toolkit on `.npy` files (a researcher's recordings or
//! apical's own runs). Reads inputs, checks their shapes once, runs `apical-analysis`, and
//! returns JSON; [`analyze_run`] also writes into the run directory.

use std::path::{Path, PathBuf};

use apical_analysis::{
    cross_fisher, decode, dendritic_residuals, noise_correlations, population_fisher,
    subset_fisher, vectorisation_index, CorrelationSummary, DecodeResult, DecoderConfig,
    FisherMethod, PopulationMoments,
};
use nalgebra::DMatrix;
use std::collections::BTreeMap;

use apical_store::{day_files, npy, plot, recording_files, write_atomic, RunDir, Summary};

use crate::inputs::*;
use crate::report::*;
use crate::{ReportError, RunAnalysisSettings};

/// What `apical analyze fisher` computes.
#[derive(Debug, Clone)]
pub struct FisherRequest {
    /// trials × units (or trials × bins × units) responses.
    pub responses: PathBuf,
    /// Signed signal per trial (0 = zero-signal).
    pub signal: PathBuf,
    /// Optional context label per trial.
    pub context: Option<PathBuf>,
    /// Estimator.
    pub method: FisherMethod,
    /// Units per random subset (None: the whole population).
    pub subset_size: Option<usize>,
    /// Number of subsets.
    pub subsets: usize,
    /// Seed of the subsets.
    pub seed: u64,
}

fn fisher_of(
    responses: &DMatrix<f64>,
    signal: &[f64],
    context: Option<&[f64]>,
    req: &FisherRequest,
) -> Result<FisherReport, ReportError> {
    let all: Vec<usize> = (0..signal.len()).collect();
    let moments = PopulationMoments::new(responses, signal, &all);
    let whole = population_fisher(&moments, req.method, None).map_err(analysis_error)?;
    let subsets = match req.subset_size {
        Some(size) => Some(
            subset_fisher(&moments, &moments, req.method, size, req.subsets, req.seed)
                .map_err(analysis_error)?,
        ),
        None => None,
    };
    let mut report = FisherReport {
        whole,
        method: req.method,
        subsets,
        contexts: None,
        cross_context: None,
        time_bins: None,
        responses_summed_over_bins: None,
    };
    if let Some(context) = context {
        let mut labels: Vec<i64> = context.iter().map(|&c| c.round() as i64).collect();
        labels.sort_unstable();
        labels.dedup();
        let per: Vec<(i64, PopulationMoments)> = labels
            .iter()
            .map(|&label| {
                let idx: Vec<usize> = (0..signal.len())
                    .filter(|&t| context[t].round() as i64 == label)
                    .collect();
                (label, PopulationMoments::new(responses, signal, &idx))
            })
            .collect();
        let mut contexts = BTreeMap::new();
        for (label, m) in &per {
            let (whole, fisher_error) = match population_fisher(m, req.method, None) {
                Ok(c) => (Some(c), None),
                // With subsets requested, the whole population may be too large for this
                // context's trials while every subset is fine: report both.
                Err(e) if req.subset_size.is_some() => (None, Some(e.to_string())),
                Err(e) => return Err(analysis_error(format!("context {label}: {e}"))),
            };
            let subsets = match req.subset_size {
                Some(size) => Some(
                    subset_fisher(m, m, req.method, size, req.subsets, req.seed)
                        .map_err(analysis_error)?,
                ),
                None => None,
            };
            contexts.insert(
                label.to_string(),
                ContextFisher {
                    whole,
                    fisher_error,
                    subsets,
                },
            );
        }
        report.contexts = Some(contexts);
        let mut cross = Vec::new();
        for (a, ma) in &per {
            for (b, mb) in &per {
                if a == b {
                    continue;
                }
                let context_error = |e: apical_analysis::FisherError| {
                    analysis_error(format!("cross-context {a}→{b}: {e}"))
                };
                let (whole, subsets) = match req.subset_size {
                    Some(size) => (
                        None,
                        Some(
                            subset_fisher(ma, mb, req.method, size, req.subsets, req.seed)
                                .map_err(context_error)?,
                        ),
                    ),
                    None => (
                        Some(cross_fisher(ma, mb, req.method, None).map_err(context_error)?),
                        None,
                    ),
                };
                cross.push(CrossContextFisher {
                    whole,
                    subsets,
                    signal_from_context: *a,
                    covariance_from_context: *b,
                });
            }
        }
        report.cross_context = Some(cross);
    }
    Ok(report)
}

/// Runs `apical analyze fisher`.
pub fn analyze_fisher(req: &FisherRequest) -> Result<FisherReport, ReportError> {
    let responses = read_responses(&req.responses)?;
    let trials = match &responses {
        Responses::Matrix(m) => m.nrows(),
        Responses::Binned(b) => b[0].nrows(),
    };
    let signal = read_vector(&req.signal, trials)?;
    if !signal.contains(&0.0) && req.method == FisherMethod::Liu {
        return Err(bad(&req.signal, "has no zero-signal trials (signal 0), which the liu method needs for the covariance; record them or use --method kanitscheider"));
    }
    let context = req
        .context
        .as_ref()
        .map(|p| read_vector(p, trials))
        .transpose()?;
    match responses {
        Responses::Matrix(m) => fisher_of(&m, &signal, context.as_deref(), req),
        Responses::Binned(bins) => {
            let sum = bins.iter().skip(1).fold(bins[0].clone(), |acc, b| acc + b);
            let mut report = fisher_of(&sum, &signal, context.as_deref(), req)?;
            let all: Vec<usize> = (0..signal.len()).collect();
            let per_bin = bins
                .iter()
                .enumerate()
                .map(|(bin, b)| {
                    let c = population_fisher(
                        &PopulationMoments::new(b, &signal, &all),
                        req.method,
                        None,
                    )
                    .map_err(|e| analysis_error(format!("time bin {bin}: {e}")))?;
                    Ok(BinFisher {
                        bin,
                        fisher: c.fisher,
                        fisher_shuffled: c.fisher_shuffled,
                        redundancy_percent: c.redundancy_percent,
                        redundancy_note: c.redundancy_note,
                    })
                })
                .collect::<Result<Vec<_>, ReportError>>()?;
            report.time_bins = Some(per_bin);
            report.responses_summed_over_bins = Some(true);
            Ok(report)
        }
    }
}

/// Runs `apical analyze correlations`.
pub fn analyze_correlations(
    responses: &Path,
    signal: &Path,
    context: Option<&Path>,
) -> Result<CorrelationSummary, ReportError> {
    let r = read_matrix(responses)?;
    let s = read_vector(signal, r.nrows())?;
    let c = context.map(|p| read_vector(p, r.nrows())).transpose()?;
    Ok(noise_correlations(&r, &s, c.as_deref()))
}

/// Runs `apical analyze decode`.
pub fn analyze_decode(
    responses: &Path,
    labels: &Path,
    config: &DecoderConfig,
) -> Result<DecodeResult, ReportError> {
    let r = read_matrix(responses)?;
    let y = read_labels(labels, r.nrows())?;
    if config.folds < 2 || config.folds > r.nrows() {
        return Err(analysis_error(format!(
            "--folds must be between 2 and the {} trials, got {}",
            r.nrows(),
            config.folds
        )));
    }
    Ok(decode(&r, &y, config))
}

/// Inputs of `apical analyze residuals`.
#[derive(Debug, Clone)]
pub struct ResidualRequest {
    /// Apical activity, trials × units.
    pub apical: PathBuf,
    /// Somatic activity, trials × units.
    pub soma: PathBuf,
    /// Optional per-trial label to decode from the residual vectors (e.g. reward).
    pub labels: Option<PathBuf>,
    /// Optional per-trial error change (negative = error decreased).
    pub error_change: Option<PathBuf>,
    /// Optional per-unit group (e.g. 1 = P+, −1 = P−, 0 = P0), with `error_change`.
    pub groups: Option<PathBuf>,
    /// Decoder settings.
    pub decoder: DecoderConfig,
}

/// Runs `apical analyze residuals`.
pub fn analyze_residuals(req: &ResidualRequest) -> Result<ResidualReport, ReportError> {
    let apical = read_matrix(&req.apical)?;
    let soma = read_matrix(&req.soma)?;
    if apical.shape() != soma.shape() {
        return Err(bad(
            &req.soma,
            format!(
                "shape {:?} differs from the apical array's {:?}",
                soma.shape(),
                apical.shape()
            ),
        ));
    }
    let fit = dendritic_residuals(&apical, &soma);
    let mut out = ResidualReport {
        n_trials: apical.nrows(),
        n_units: apical.ncols(),
        slope: fit.slope.clone(),
        intercept: fit.intercept.clone(),
        residual_sd: (0..fit.residual.ncols())
            .map(|u| fit.residual.column(u).variance().sqrt())
            .collect(),
        decode: None,
        vectorisation: None,
    };
    if let Some(labels) = &req.labels {
        let y = read_labels(labels, apical.nrows())?;
        out.decode = Some(decode(&fit.z, &y, &req.decoder));
    }
    match (&req.error_change, &req.groups) {
        (Some(e), Some(g)) => {
            let change = read_vector(e, apical.nrows())?;
            let groups = npy::read(g)?;
            if groups.shape.as_slice() != [apical.ncols()] {
                return Err(bad(
                    g,
                    format!(
                        "expected one group per unit (shape ({},)), got {:?}",
                        apical.ncols(),
                        groups.shape
                    ),
                ));
            }
            let groups: Vec<i64> = groups.data.iter().map(|v| v.round() as i64).collect();
            out.vectorisation = Some(vectorisation_index(&fit.z, &change, &groups));
        }
        (None, None) => {}
        _ => return Err(analysis_error("--error-change and --groups go together")),
    }
    Ok(out)
}

fn layer_files(activity: &Path) -> Vec<(String, PathBuf)> {
    let mut layers: Vec<(String, PathBuf)> = std::fs::read_dir(activity)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        n.to_string_lossy()
                            .starts_with(recording_files::HIDDEN_PREFIX)
                            && n.to_string_lossy().ends_with(recording_files::NPY)
                    })
                })
                .map(|p| {
                    (
                        p.file_stem().expect("file").to_string_lossy().into_owned(),
                        p,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    layers.sort();
    layers
}

/// `apical analyze <run-dir>`: the analyses that fit what the run recorded, written to
/// `analysis/analysis.json` and `analysis/*.png|svg`.
pub fn analyze_run(dir: &Path, settings: &RunAnalysisSettings) -> Result<RunAnalysis, ReportError> {
    analyze_run_against(dir, None, settings)
}

/// [`analyze_run`], and with `passive` (the run re-recorded passively by `apical record`) the
/// engagement contrasts ([`crate::contrasts`]) under `engagement_contrasts`.
pub fn analyze_run_against(
    dir: &Path,
    passive: Option<&Path>,
    settings: &RunAnalysisSettings,
) -> Result<RunAnalysis, ReportError> {
    let run = RunDir::new(dir);
    if let Some(p) = passive {
        if !RunDir::new(p).config().is_file() {
            return Err(bad(
                p,
                "--passive: not a recording directory (no config.toml): give the output of `apical record <run> --set model.engagement=0 --out DIR`",
            ));
        }
    }
    if !dir.is_dir() {
        return Err(bad(dir, "no such run directory"));
    }
    if !run.config().is_file() {
        return Err(bad(
            dir,
            "not a run directory (no config.toml): give a directory written by `apical run` or `apical record`",
        ));
    }
    let is_record = run.is_recording();
    if !is_record && !run.summary().is_file() && !run.is_closed_loop() {
        let resume = if apical_store::is_held(dir) {
            "it is still running; analyse it when it ends"
        } else {
            "it was stopped; finish it with `apical resume` first"
        };
        return Err(bad(
            dir,
            format!("the run has not finished (no summary.json): {resume}"),
        ));
    }
    if run.ensembles().exists() {
        if let Some(p) = passive {
            return Err(bad(
                p,
                "--passive compares perceptual recordings; a BCI run has none (leave --passive out)",
            ));
        }
        return analyze_bci_run(dir, settings);
    }
    if run.is_closed_loop() {
        return Err(bad(
            &run.ensembles(),
            "missing: a BCI run directory needs ensembles.npy (written before day 1)",
        ));
    }
    let activity = run.activity();
    let layers = layer_files(&activity);
    if layers.is_empty() {
        return Err(bad(&activity, "no recorded activity (hidden_*.npy); is this a run directory with logging.probe_examples > 0?"));
    }
    let signal_path = activity.join(recording_files::SIGNAL);
    let labels_path = activity.join(recording_files::LABELS);
    let mut result = BTreeMap::new();
    let mut info_series = Vec::new();
    let mut decode_points = Vec::new();
    for (index, (name, path)) in layers.iter().enumerate() {
        let r = read_matrix(path)?;
        let mut entry = LayerAnalysis {
            n_units: r.ncols(),
            n_active_units: 0,
            fisher_subsets: None,
            fisher_error: None,
            subset_size_note: None,
            correlations: None,
            decode_labels: None,
        };
        // Units that never vary (silent ReLUs) carry no information and make Σ singular.
        let active: Vec<usize> = (0..r.ncols())
            .filter(|&u| r.column(u).variance() > 1e-12)
            .collect();
        let r_active = DMatrix::from_fn(r.nrows(), active.len(), |t, j| r[(t, active[j])]);
        entry.n_active_units = active.len();
        if signal_path.exists() {
            let signal = read_vector(&signal_path, r.nrows())?;
            let t0 = signal.iter().filter(|&&s| s == 0.0).count();
            // Clear of the T0 − N − 4 edge, where the Liu estimate's variance is unbounded:
            // N ≤ (T0 − 4)/2 keeps T0 − N − 4 ≥ N (the variance's 1/(T0 − N − 4) factor ≤ 1/N).
            let clear = max_subset_size(t0);
            let size = active.len().min(clear).min(settings.subset_size);
            if size < settings.subset_size.min(active.len()) {
                entry.subset_size_note = Some(format!(
                    "subsets of {size} units, not {}: {t0} zero-signal trials allow at most (T0 − 4)/2 = {clear} units clear of the T0 − N − 4 edge",
                    settings.subset_size.min(active.len())
                ));
            }
            if size < 2 {
                entry.fisher_error = Some(format!(
                    "{t0} zero-signal trials are too few for subsets of 2 or more units clear of the T0 − N − 4 edge (needs T0 ≥ 8)"
                ));
            }
            let all: Vec<usize> = (0..signal.len()).collect();
            let moments = PopulationMoments::new(&r_active, &signal, &all);
            if size >= 2 {
                match subset_fisher(
                    &moments,
                    &moments,
                    FisherMethod::Liu,
                    size,
                    settings.subsets,
                    settings.seed,
                ) {
                    Ok(s) => entry.fisher_subsets = Some(s),
                    Err(e) => entry.fisher_error = Some(e.to_string()),
                }
                let subset: Vec<usize> = (0..size).collect();
                if let Ok(c) = population_fisher(&moments, FisherMethod::Liu, Some(&subset)) {
                    info_series.push((
                        format!("{name} ({size} units)"),
                        c.per_level
                            .iter()
                            .map(|(l, e)| (*l, e.fisher))
                            .collect::<Vec<_>>(),
                    ));
                }
            }
            entry.correlations = Some(noise_correlations(&r_active, &signal, None));
        }
        if labels_path.exists() {
            let y = read_labels(&labels_path, r.nrows())?;
            let (r_decoded, y) = decoded_trials(&r_active, &y, settings);
            let d = decode(
                &r_decoded,
                &y,
                &DecoderConfig {
                    shuffles: settings.shuffles,
                    seed: settings.seed,
                    ..Default::default()
                },
            );
            decode_points.push((index as f64, d.accuracy));
            entry.decode_labels = Some(d);
        }
        result.insert(name.clone(), entry);
    }
    let out_dir = run.analysis();
    let redundancy = crate::redundancy::analyze_redundancy(dir, settings)?.unwrap_or_default();
    let engagement_contrasts = match passive {
        Some(p) => {
            let passive_redundancy =
                crate::redundancy::analyze_redundancy(p, settings)?.unwrap_or_default();
            crate::contrasts::engagement_contrasts(
                dir,
                p,
                &redundancy,
                &passive_redundancy,
                settings,
            )?
        }
        None => Vec::new(),
    };
    let value = RunAnalysis {
        engagement_contrasts,
        run: dir.display().to_string(),
        settings: *settings,
        layers: result,
        bci: None,
        redundancy_subset_size: (!redundancy.by_step.is_empty()).then_some(redundancy.subset_size),
        redundancy_note: redundancy.note,
        redundancy_by_step: redundancy.by_step,
        within_trial: redundancy.within_trial,
        redundancy_by_size: redundancy.by_size,
        internal_redundancy: redundancy.internal,
        redundancy_by_relevance: redundancy.by_relevance,
        cross_context: redundancy.cross_context,
    };
    write_atomic(
        &run.analysis_json(),
        serde_json::to_string_pretty(&value)
            .expect("an analysis serialises")
            .as_bytes(),
    )?;
    if !info_series.is_empty() {
        plot::line_plot(
            &out_dir,
            "fisher_by_signal",
            "Fisher information per signal level (first units of each layer)",
            "signal magnitude L",
            "I (bias-corrected)",
            None,
            &info_series
                .into_iter()
                .map(|(name, points)| plot::PlotSeries::line(name, points))
                .collect::<Vec<_>>(),
        )?;
    }
    if !decode_points.is_empty() {
        plot::line_plot(
            &out_dir,
            "decoding_by_layer",
            "Cross-validated decoding of the label",
            "hidden layer",
            "accuracy",
            Some((0.0, 1.0)),
            &[plot::PlotSeries::line("decoder", decode_points)],
        )?;
    }
    Ok(value)
}

/// The trials the label decoder is fitted on: all of them, or `settings.decode_trials`
/// drawn at random (without replacement, in their order) from `settings.seed`.
fn decoded_trials(
    r: &DMatrix<f64>,
    y: &[usize],
    settings: &RunAnalysisSettings,
) -> (DMatrix<f64>, Vec<usize>) {
    let n = r.nrows();
    if settings.decode_trials == 0 || n <= settings.decode_trials {
        return (r.clone(), y.to_vec());
    }
    let mut rng = apical_core::SeededRng::for_stream(settings.seed, DECODE_SUBSAMPLE_STREAM);
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..settings.decode_trials {
        let j = i + rng.below(n - i);
        order.swap(i, j);
    }
    let mut keep = order[..settings.decode_trials].to_vec();
    keep.sort_unstable();
    (
        DMatrix::from_fn(keep.len(), r.ncols(), |t, j| r[(keep[t], j)]),
        keep.iter().map(|&t| y[t]).collect(),
    )
}

/// The stream of the decoder's trial subsample (apart from the subsets', folds' and shuffles').
const DECODE_SUBSAMPLE_STREAM: u64 = 0xdec0de;

/// Steps before the outcome that `decode_outcome_before` averages.
const BCI_WINDOW: usize = 5;

/// Reads a BCI run's `activity/day-*/` recordings (every step that ran, in order).
fn read_bci_steps(dir: &Path) -> Result<apical_analysis::bci::BciSteps, ReportError> {
    let run = RunDir::new(dir);
    let ens_path = run.ensembles();
    let ens = npy::read(&ens_path)?;
    let units = match ens.shape.as_slice() {
        [u] if *u > 0 => *u,
        other => {
            return Err(bad(
                &ens_path,
                format!("expected one value per unit, got shape {other:?}"),
            ))
        }
    };
    let labels: Vec<i64> = ens.data.iter().map(|&v| v as i64).collect();
    // ±(k + 1) for decoder dimension k (apical_tasks::bci::MAX_DIMS = 32 dimensions).
    if labels.iter().any(|e| e.unsigned_abs() > 32) {
        return Err(bad(
            &ens_path,
            "ensemble labels must be ±(k + 1) for decoder dimension k < 32, or 0",
        ));
    }
    // The analyses group units by causal sign: P+ of any dimension, P− of any, P0.
    let ensembles: Vec<i64> = labels.iter().map(|e| e.signum()).collect();
    // No activity/ at all (logging.record_days = false): no days, said below.
    let day_dirs: Vec<PathBuf> = if run.activity().exists() {
        run.days().map_err(|e| ReportError::Read {
            path: run.activity(),
            source: e.into(),
        })?
    } else {
        Vec::new()
    };
    if day_dirs.is_empty() {
        return Err(bad(
            &run.activity(),
            "no day-*/ recordings; has the run finished a day (and was it run with logging.record_days = true)?",
        ));
    }
    // Days must run day-01 … day-NN without a gap (a missing day would silently shift the
    // learning curve), and be as many as the summary reports when the run has ended.
    for (i, d) in day_dirs.iter().enumerate() {
        let want = run.day(i);
        if *d != want {
            return Err(bad(
                &want,
                "missing: the day recordings must run from day-01 without a gap",
            ));
        }
    }
    if let Ok(summary) = Summary::read(dir) {
        if let Some(days) = summary.closed_loop.success_by_day.as_ref().map(Vec::len) {
            if days != day_dirs.len() {
                return Err(bad(
                    &run.activity(),
                    format!(
                        "{} day recordings, but summary.json reports {days} days",
                        day_dirs.len()
                    ),
                ));
            }
        }
    }
    let (mut apical, mut rate, mut error_change, mut trial, mut trials) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut error = Vec::new();
    for (day, day_dir) in day_dirs.iter().enumerate() {
        let read = |name: &str| npy::read(&day_dir.join(name));
        let (a, r, e, err, mask) = (
            read(day_files::APICAL)?,
            read(day_files::RATE)?,
            read(day_files::ERROR_CHANGE)?,
            read(day_files::ERROR)?,
            read(day_files::MASK)?,
        );
        let [n_trials, steps] = match mask.shape.as_slice() {
            [t, s] => [*t, *s],
            other => {
                return Err(bad(
                    &day_dir.join(day_files::MASK),
                    format!("expected trials × steps, got shape {other:?}"),
                ))
            }
        };
        for (name, arr, want) in [
            (day_files::APICAL, &a, vec![n_trials, steps, units]),
            (day_files::RATE, &r, vec![n_trials, steps, units]),
            (day_files::ERROR_CHANGE, &e, vec![n_trials, steps]),
            (day_files::ERROR, &err, vec![n_trials, steps]),
        ] {
            if arr.shape != want {
                return Err(bad(
                    &day_dir.join(name),
                    format!(
                        "expected shape {want:?} (from mask.npy and ensembles.npy), got {:?}",
                        arr.shape
                    ),
                ));
            }
        }
        for t in 0..n_trials {
            let index = trials.len();
            let mut last_error = f64::NAN;
            for s in 0..steps {
                let at = t * steps + s;
                if mask.data[at] == 0.0 {
                    continue;
                }
                let row = at * units..(at + 1) * units;
                if a.data[row.clone()]
                    .iter()
                    .chain(&r.data[row.clone()])
                    .any(|v| !v.is_finite())
                    || !e.data[at].is_finite()
                    || !err.data[at].is_finite()
                {
                    return Err(bad(
                        day_dir,
                        format!("trial {t} step {s} is marked as run in mask.npy but holds NaN"),
                    ));
                }
                apical.extend_from_slice(&a.data[row.clone()]);
                rate.extend_from_slice(&r.data[row]);
                error_change.push(e.data[at]);
                error.push(err.data[at]);
                trial.push(index);
                last_error = err.data[at];
            }
            // A trial with no recorded step (a probe without plasticity) is not a trial here.
            if last_error.is_finite() {
                trials.push((day, last_error == 0.0));
            }
        }
    }
    let n = error_change.len();
    Ok(apical_analysis::bci::BciSteps {
        apical: DMatrix::from_row_slice(n, units, &apical),
        rate: DMatrix::from_row_slice(n, units, &rate),
        error_change,
        error,
        trial,
        trials,
        ensembles,
    })
}

/// `apical analyze <bci-run>`: learning curve, rate changes, vectorization, decoding; writes
/// `analysis/analysis.json` (key `bci`) and plots.
fn analyze_bci_run(dir: &Path, settings: &RunAnalysisSettings) -> Result<RunAnalysis, ReportError> {
    let steps = read_bci_steps(dir)?;
    let decoder = DecoderConfig {
        shuffles: settings.shuffles,
        seed: settings.seed,
        ..Default::default()
    };
    let bci = apical_analysis::bci::analyze_bci(&steps, BCI_WINDOW, &decoder);
    let run = RunDir::new(dir);
    let out_dir = run.analysis();
    let value = RunAnalysis {
        run: dir.display().to_string(),
        settings: *settings,
        layers: BTreeMap::new(),
        bci: Some(bci.clone()),
        engagement_contrasts: Vec::new(),
        redundancy_by_step: Vec::new(),
        within_trial: Vec::new(),
        redundancy_by_size: Vec::new(),
        internal_redundancy: Vec::new(),
        redundancy_by_relevance: Vec::new(),
        cross_context: Vec::new(),
        redundancy_subset_size: None,
        redundancy_note: None,
    };
    write_atomic(
        &run.analysis_json(),
        serde_json::to_string_pretty(&value)
            .expect("an analysis serialises")
            .as_bytes(),
    )?;
    let by_day: Vec<(f64, f64)> = bci
        .success_by_day
        .iter()
        .enumerate()
        .map(|(d, &s)| (d as f64 + 1.0, s))
        .collect();
    plot::line_plot(
        &out_dir,
        apical_store::plot_names::SUCCESS_BY_DAY,
        "BCI learning curve",
        "day",
        "fraction of successful trials",
        Some((0.0, 1.0)),
        &[plot::PlotSeries::line("success", by_day)],
    )?;
    let group_points = |g: &apical_analysis::bci::Groups| -> plot::PlotSeries {
        let mut series = plot::PlotSeries::line("", Vec::new());
        for (x, stat) in [(-1.0, &g.p_minus), (0.0, &g.p0), (1.0, &g.p_plus)] {
            series.points.push((x, stat.mean));
            if let (Some(lo), Some(hi)) = (stat.ci_low, stat.ci_high) {
                series.band.push((x, lo, hi));
            }
        }
        series
    };
    let mut vec_series = group_points(&bci.vectorization);
    vec_series.name = "vectorization (95% interval over units)".into();
    plot::line_plot(
        &out_dir,
        "vectorization",
        "Residual on error decrease − increase, by ensemble (−1 = P−, 0 = P0, +1 = P+)",
        "ensemble",
        "Δ z-residual",
        None,
        &[vec_series],
    )?;
    let mut rate_series = group_points(&bci.rate_change);
    rate_series.name = "rate change, late days − day 1".into();
    plot::line_plot(
        &out_dir,
        "rate_change",
        "Rate change by ensemble (−1 = P−, 0 = P0, +1 = P+)",
        "ensemble",
        "Δ rate",
        None,
        &[rate_series],
    )?;
    Ok(value)
}
