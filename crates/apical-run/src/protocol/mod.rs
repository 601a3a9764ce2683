//! A protocol per kind of run, chosen once from the config ([`ProtocolKind::of`]). A protocol
//! runs (or continues) one run in a [`Session`], which owns what every run
//! shares: the directory and its lock, signals, checkpoints, divergence and the summary.
//!
//! Adding a protocol: a file here with a type that implements [`Protocol`], a
//! [`ProtocolKind`] variant, and its arms in [`ProtocolKind::of`] and
//! [`ProtocolKind::protocol`]; the compiler then asks `apical compare` and `apical record`
//! (apical-experiments) whether they apply to it. The other protocols are not touched.

mod closed_loop;
mod sampling;
mod supervised;

use apical_nn::ModelConfig;
use apical_tasks::Split;
use burn::tensor::Device;

pub use closed_loop::ClosedLoop;
pub use sampling::Sampling;
pub use supervised::Supervised;

use crate::{ExperimentConfig, RunError, RunSummary, Session};

/// One kind of run: how a network (or model) meets its task and what the run writes.
pub trait Protocol {
    /// Runs `config` in `session` — a new run, or continues the one there when
    /// `session.is_resume()` — and writes its summary.
    fn run(
        &self,
        config: &ExperimentConfig,
        data: &Split,
        device: &Device,
        session: Session<'_>,
    ) -> Result<RunSummary, RunError>;
}

/// The kinds of run apical has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolKind {
    /// Labelled batches (or streamed trials) stepped through a learning rule.
    Supervised,
    /// A closed-loop task that answers each action with a reward (the BCI task).
    ClosedLoop,
    /// The sampling reference model: sampled, not trained.
    Sampling,
}

impl ProtocolKind {
    /// The protocol `config` runs under — decided here and nowhere else.
    pub fn of(config: &ExperimentConfig) -> Self {
        if config.task.is_closed_loop() {
            ProtocolKind::ClosedLoop
        } else if matches!(config.model, ModelConfig::Sampling(_)) {
            ProtocolKind::Sampling
        } else {
            ProtocolKind::Supervised
        }
    }

    /// The protocol itself.
    pub fn protocol(self) -> &'static dyn Protocol {
        match self {
            ProtocolKind::Supervised => &Supervised,
            ProtocolKind::ClosedLoop => &ClosedLoop,
            ProtocolKind::Sampling => &Sampling,
        }
    }
}

/// `plots/psychometric.{png,svg}` of a perceptual run: test accuracy at each signed signal
/// level with its Wilson 95% band, beside the ideal observer's accuracy. Nothing for a task
/// without signal levels.
pub(crate) fn plot_psychometric(
    run: &apical_store::RunDir,
    title: &str,
    summary: &apical_store::ClassifierSummary,
) -> Result<(), RunError> {
    let Some(levels) = &summary.accuracy_by_signal else {
        return Ok(());
    };
    let mut network = apical_store::plot::PlotSeries::line("network (95% Wilson band)", Vec::new());
    for level in levels {
        let correct = (level.accuracy * level.n_trials as f64).round() as usize;
        let (low, high) = apical_analysis::wilson_interval(correct, level.n_trials);
        network.points.push((level.signal, level.accuracy));
        network.band.push((level.signal, low, high));
    }
    let mut series = vec![network];
    if let Some(ideal) = &summary.ideal_accuracy_by_signal {
        series.push(apical_store::plot::PlotSeries::line(
            "ideal observer",
            ideal.iter().map(|l| (l.signal, l.accuracy)).collect(),
        ));
    }
    apical_store::plot::line_plot(
        &run.plots(),
        apical_store::plot_names::PSYCHOMETRIC,
        title,
        "signal level (%)",
        "test accuracy",
        Some((0.0, 1.0)),
        &series,
    )?;
    Ok(())
}
