//! A run of the sampling reference model (`ProtocolKind::Sampling`: `model.kind = "sampling"`, `apical_nn::SamplingModel`)
//! on the orientation task. Nothing is trained: the sampler's projective fields are the task's
//! own gratings at the units' preferred orientations, and each trial of the probe and test sets
//! is sampled frame by frame with the trial's context known (the choice's two orientations).
//!
//! Writes `config.toml`, `activity/step-00000000/` and `activity/` (the same recording: the
//! model has one state, δ; `hidden_0.npy` = the last frame's sample `[trials, units]`,
//! `layer0_rate.npy` = every frame's `[trials, frames, units]`, `logits.npy` = ±½ the final
//! log-odds, `labels`, `signal`, `context`), `metrics.csv` (one test row at step 0) and
//! `summary.json` (test accuracy of the choice — the sign of the final log-odds, the last
//! sampled C when it is 0 — per signal level, and the ideal observer's). Every trial's samples come from their own seeded stream, so a rerun (or
//! `apical resume`) gives identical files.

use std::path::Path;
use std::time::Instant;

use apical_nn::{ModelConfig, SamplingModel, SeededRng};
use apical_tasks::orientation::{accuracy_by_signal, OrientationConfig, OrientationContext};
use apical_tasks::{Dataset, TaskConfig};
use nalgebra::{DMatrix, DVector};

use apical_store::{npy, ClassifierSummary, MetricLog, MetricRow, SignalAccuracy, Summary};
use apical_tasks::Split;
use burn::tensor::Device;

use crate::{ConfigError, ExperimentConfig, Protocol, RunError, RunSummary, Session};

/// Split tags of the sampler's noise streams (probe, test, frozen-noise probe).
const PROBE_SAMPLES: u64 = 11;
const TEST_SAMPLES: u64 = 12;
const FROZEN_SAMPLES: u64 = 13;

/// What the sampler produced for a data set.
struct Sampled {
    /// `[trials][frames][units]`.
    x: Vec<Vec<Vec<f64>>>,
    /// Final log-odds per trial.
    log_odds: Vec<f64>,
    /// The choice: the sign of the final log-odds, or the last sampled C when it is 0.
    choice: Vec<usize>,
}

fn context_of(index: usize) -> OrientationContext {
    if index == OrientationContext::Oblique.index() {
        OrientationContext::Oblique
    } else {
        OrientationContext::Cardinal
    }
}

fn sample(
    model: &SamplingModel,
    task: &OrientationConfig,
    data: &Dataset,
    (seed, tag): (u64, u64),
) -> Sampled {
    let params = model.params();
    let pixels = task.image_size * task.image_size;
    let context = data
        .context
        .as_ref()
        .expect("orientation trials carry contexts");
    let patterns: Vec<[DVector<f64>; 2]> =
        [OrientationContext::Cardinal, OrientationContext::Oblique]
            .iter()
            .map(|c| {
                let [a, b] = c.orientations_deg();
                [params.mean_pattern(a), params.mean_pattern(b)]
            })
            .collect();
    let mut out = Sampled {
        x: Vec::with_capacity(data.len()),
        log_odds: Vec::with_capacity(data.len()),
        choice: Vec::with_capacity(data.len()),
    };
    for trial in 0..data.len() {
        let input = data.input(trial);
        let frames: Vec<&[f32]> = (0..task.frames)
            .map(|f| &input[f * pixels..(f + 1) * pixels])
            .collect();
        let m = &patterns[context_of(context[trial]).index()];
        let mut rng = SeededRng::for_trial(seed, tag, trial as u64);
        let samples = model.run_trial(&frames, [&m[0], &m[1]], &mut rng);
        let lo = *samples.log_odds.last().expect("at least one frame");
        out.choice.push(if lo == 0.0 {
            samples.choice
        } else {
            usize::from(lo > 0.0)
        });
        out.log_odds.push(lo);
        out.x.push(samples.x);
    }
    out
}

/// The frozen-noise recording (`logging.frozen_images`) into `dir/frozen/`: the samples as the
/// rates (`hidden_0`, `layer0_rate`), `context.npy`, `image.npy`.
fn write_frozen(
    dir: &Path,
    frozen: &crate::recording::FrozenProbe,
    s: &Sampled,
) -> Result<(), RunError> {
    use apical_store::recording_files::{hidden, layer_rate, CONTEXT, FROZEN_DIR, IMAGE};
    let out = dir.join(FROZEN_DIR);
    std::fs::create_dir_all(&out).map_err(|source| apical_store::StoreError::Write {
        path: out.clone(),
        source,
    })?;
    let n = frozen.data.len();
    let (last, all, frames, units) = rates(s);
    npy::write_f32(&out.join(hidden(0)), &[n, units], &last)?;
    npy::write_f32(&out.join(layer_rate(0)), &[n, frames, units], &all)?;
    let ints = |v: &[usize]| v.iter().map(|&c| c as i64).collect::<Vec<_>>();
    npy::write_i64(&out.join(IMAGE), &[n], &ints(&frozen.image))?;
    let context = frozen
        .data
        .context
        .as_ref()
        .expect("orientation trials carry contexts");
    npy::write_i64(&out.join(CONTEXT), &[n], &ints(context))?;
    Ok(())
}

/// The last frame's samples `[trials, units]`, every frame's `[trials, frames, units]`, and the
/// frames and units.
fn rates(s: &Sampled) -> (Vec<f32>, Vec<f32>, usize, usize) {
    let frames = s.x.first().map(|x| x.len()).unwrap_or(0);
    let units =
        s.x.first()
            .and_then(|x| x.first())
            .map(|v| v.len())
            .unwrap_or(0);
    let last: Vec<f32> =
        s.x.iter()
            .flat_map(|t| t.last().expect("a frame").iter().map(|&v| v as f32))
            .collect();
    let all: Vec<f32> =
        s.x.iter()
            .flat_map(|t| t.iter().flat_map(|f| f.iter().map(|&v| v as f32)))
            .collect();
    (last, all, frames, units)
}

fn write_recording(dir: &Path, probe: &Dataset, s: &Sampled) -> Result<Vec<String>, RunError> {
    let n = probe.len();
    let (last, all, frames, units) = rates(s);
    let logits: Vec<f32> = s
        .log_odds
        .iter()
        .flat_map(|&lo| [(-lo / 2.0) as f32, (lo / 2.0) as f32])
        .collect();
    use apical_store::recording_files::{hidden, layer_rate, CONTEXT, LABELS, LOGITS, SIGNAL};
    let names = [
        hidden(0),
        layer_rate(0),
        LOGITS.into(),
        LABELS.into(),
        SIGNAL.into(),
        CONTEXT.into(),
    ];
    npy::write_f32(&dir.join(&names[0]), &[n, units], &last)?;
    npy::write_f32(&dir.join(&names[1]), &[n, frames, units], &all)?;
    npy::write_f32(&dir.join(LOGITS), &[n, 2], &logits)?;
    npy::write_i64(
        &dir.join(LABELS),
        &[n],
        &probe.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
    )?;
    npy::write_f32(
        &dir.join(SIGNAL),
        &[n],
        probe
            .signal
            .as_ref()
            .expect("orientation trials carry signals"),
    )?;
    npy::write_i64(
        &dir.join(CONTEXT),
        &[n],
        &probe
            .context
            .as_ref()
            .expect("orientation trials carry contexts")
            .iter()
            .map(|&c| c as i64)
            .collect::<Vec<_>>(),
    )?;
    Ok(names.to_vec())
}

/// The sampling reference model: nothing is trained; a resumed run samples again, with the
/// same seeds.
pub struct Sampling;

impl Protocol for Sampling {
    fn run(
        &self,
        config: &ExperimentConfig,
        _data: &Split,
        _device: &Device,
        session: Session<'_>,
    ) -> Result<RunSummary, RunError> {
        run(config, session)
    }
}

/// Runs the sampler on the probe and test sets and writes the run directory.
fn run(config: &ExperimentConfig, session: Session<'_>) -> Result<RunSummary, RunError> {
    let (TaskConfig::Orientation(task), ModelConfig::Sampling(params)) =
        (&config.task, &config.model)
    else {
        return Err(ConfigError::new(
            Path::new("config"),
            "model.kind",
            "the sampling model runs on task.kind = \"orientation\"",
        )
        .into());
    };
    let started = Instant::now();
    let fields = DMatrix::from_fn(params.units, task.image_size * task.image_size, |i, p| {
        f64::from(task.grating(params.preferred_deg(i))[p])
    });
    let model = SamplingModel::new(params.clone(), fields);
    let seed = config.training.seed;
    let split = config.task.build()?;
    let probe = config.task.probe(&split, config.logging.probe_examples);
    let mut activity = Vec::new();
    if !probe.is_empty() {
        let sampled = sample(&model, task, &probe, (seed, PROBE_SAMPLES));
        let run = session.dir();
        write_recording(&run.recording(0), &probe, &sampled)?;
        activity = write_recording(&run.activity(), &probe, &sampled)?;
        if let Some(frozen) = config.frozen_probe() {
            let sampled = sample(&model, task, &frozen.data, (seed, FROZEN_SAMPLES));
            write_frozen(&run.recording(0), &frozen, &sampled)?;
            write_frozen(&run.activity(), &frozen, &sampled)?;
            activity.push(format!("{}/", apical_store::recording_files::FROZEN_DIR));
        }
    }
    let test = sample(&model, task, &split.test, (seed, TEST_SAMPLES));
    let predictions = test.choice.clone();
    let correct = predictions
        .iter()
        .zip(&split.test.labels)
        .filter(|(p, l)| p == l)
        .count();
    let accuracy = correct as f64 / split.test.len() as f64;
    // Cross-entropy of the sampler's final belief p(b) = σ(log-odds).
    let loss = test
        .log_odds
        .iter()
        .zip(&split.test.labels)
        .map(|(&lo, &l)| {
            // −log σ(signed), stable for any magnitude of the log-odds.
            let signed = if l == 1 { lo } else { -lo };
            (-signed).max(0.0) + (-signed.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / split.test.len() as f64;
    let mut log = MetricLog::default();
    log.rows.push(MetricRow {
        step: 0,
        epoch: 0.0,
        split: "test".into(),
        loss,
        accuracy,
    });
    log.write(&session.dir().metrics())?;
    let ideal = config
        .task
        .ideal_accuracy_by_signal(&split.test)
        .expect("orientation has an ideal observer");
    let as_rows = |rows: Vec<(f32, f64, usize)>| -> Vec<SignalAccuracy> {
        rows.into_iter()
            .map(|(signal, accuracy, n_trials)| SignalAccuracy {
                signal: f64::from(signal),
                accuracy,
                n_trials,
            })
            .collect()
    };
    let wall = started.elapsed().as_secs_f64();
    let n_test = split.test.len();
    let ci = apical_analysis::wilson_interval((accuracy * n_test as f64).round() as usize, n_test);
    let summary = Summary {
        rule: "none".into(),
        steps: 0,
        classifier: ClassifierSummary {
            n_train: 0,
            n_test: split.test.len(),
            test_accuracy: Some(accuracy),
            test_accuracy_ci_low: Some(ci.0),
            test_accuracy_ci_high: Some(ci.1),
            test_loss: Some(loss),
            accuracy_by_signal: Some(as_rows(accuracy_by_signal(&split.test, &predictions))),
            ideal_accuracy: Some(
                ideal.iter().map(|&(_, a, n)| a * n as f64).sum::<f64>()
                    / ideal.iter().map(|&(_, _, n)| n as f64).sum::<f64>(),
            ),
            ideal_accuracy_by_signal: Some(as_rows(ideal)),
            ..ClassifierSummary::default()
        },
        wall_seconds: wall,
        activity,
        ..crate::summary_of_run(config)
    };
    if config.logging.plots {
        super::plot_psychometric(
            session.dir(),
            "Psychometric curve — sampling model",
            &summary.classifier,
        )?;
    }
    session.finish(summary)
}
