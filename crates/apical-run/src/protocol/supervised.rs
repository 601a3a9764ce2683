//! Supervised training (`ProtocolKind::Supervised`): every task with labels — a fixed training
//! set in seeded batches, or fresh trials streamed from the task — stepped through the rule's
//! `Learner`, evaluated every `training.eval_every` steps, with early stopping on the
//! validation split, recordings during learning and at the end.
//!
//! Writes, besides `config.toml`: `metrics.csv`, `diagnostics.csv`, `dendrites.csv`,
//! TensorBoard events, `activity/` (and `activity/step-<n>/`), `plots/learning_curve.*`,
//! `checkpoints/step-*/` and `summary.json` (layout: `apical_store::RunDir`).
//!
//! Everything is a function of the config and its seeds: batch order, initial weights and unit
//! noise are drawn from seeded streams indexed by step, so a resumed run repeats the
//! uninterrupted one exactly.

use std::path::Path;
use std::time::Instant;

use apical_learn::{build_network, one_hot, predictions, Learner, NetworkVisitor, Trainable};
use apical_nn::SeededRng;
use apical_store::dendrites::{DendriteLog, DendriteRow};
use apical_store::{
    plot, ClassifierSummary, EventFile, MetricLog, MetricRow, RunDir, SignalAccuracy, Summary,
};
use apical_tasks::orientation::accuracy_by_signal;
use apical_tasks::{Dataset, Split};
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::checkpoint::LoopState;
use crate::diagnostics::{DiagnosticsAccumulator, DiagnosticsLog, DiagnosticsSummary};
use crate::init_from::Frozen;
use crate::runner::initialise;
use crate::{ExperimentConfig, Protocol, RunError, RunSummary, Session};

/// Supervised training.
pub struct Supervised;

impl Protocol for Supervised {
    fn run(
        &self,
        config: &ExperimentConfig,
        data: &Split,
        device: &Device,
        session: Session<'_>,
    ) -> Result<RunSummary, RunError> {
        Context {
            config,
            data,
            device: device.clone().autodiff(),
            session,
        }
        .run()
    }
}

/// Everything a run needs before its network exists.
struct Context<'a> {
    config: &'a ExperimentConfig,
    data: &'a Split,
    device: Device,
    session: Session<'a>,
}

impl Context<'_> {
    /// Builds the network the config names (the model kind is matched once, in
    /// `build_network`) and trains it.
    fn run(self) -> Result<RunSummary, RunError> {
        let (d_in, d_out) = (self.data.train.n_features, self.data.train.n_classes);
        let (model, seed, device) = (
            self.config.model.clone(),
            self.config.training.seed,
            self.device.clone(),
        );
        build_network(&model, d_in, d_out, seed, &device, self)
    }
}

impl NetworkVisitor for Context<'_> {
    type Output = Result<RunSummary, RunError>;

    fn refuse(self, why: apical_core::InvalidParameter) -> Self::Output {
        Err(crate::ConfigError::new(Path::new("config"), &why.key, why.message).into())
    }

    fn visit<N: Trainable>(self, net: N) -> Self::Output {
        let resume = self.session.is_resume();
        // `training.init_from` is applied before the rule is built from the network (a rule's
        // state, e.g. the dendritic rule's Q, starts from the loaded weights) — also when a
        // resumed run has no checkpoint yet, so that it repeats the uninterrupted run.
        let has_checkpoint = resume && self.session.has_checkpoint()?;
        let net = if has_checkpoint {
            net
        } else {
            initialise(self.config, net)?
        };
        let mut trainer = Trainer::new(self, net)?;
        if resume {
            trainer.restore()?;
        }
        trainer.freeze();
        trainer.run()
    }
}

/// The training loop over any trainable network.
struct Trainer<'a, N> {
    context: Context<'a>,
    net: N,
    learner: Learner<N>,
    log: MetricLog,
    diagnostics: DiagnosticsLog,
    pending: DiagnosticsAccumulator,
    dendrites: DendriteLog,
    events: Option<EventFile>,
    total_steps: usize,
    steps_per_epoch: usize,
    start_step: usize,
    wall_before: f64,
    resumed_from: Option<usize>,
    frozen: Option<Frozen>,
    stopped_early: Option<usize>,
    /// The probe set recordings are made on (`TaskConfig::probe`).
    probe: Dataset,
    /// The frozen-noise probe recorded beside it (`logging.frozen_images`).
    frozen_probe: Option<crate::recording::FrozenProbe>,
    /// Steps recorded to `activity/step-<n>/` (record_at and the ends of the phases).
    recording_steps: Vec<usize>,
    /// The curriculum: `(first step, end step, task)` per phase; empty without phases.
    phases: Vec<(usize, usize, apical_tasks::TaskConfig)>,
}

/// Stream tags of the seeded generators (kept apart so changing one never shifts another).
const STREAM_BATCH_ORDER: u64 = 1 << 40;
const STREAM_NOISE: u64 = 2 << 40;

fn host_tensor(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

impl<'a, N: Trainable> Trainer<'a, N> {
    fn new(context: Context<'a>, net: N) -> Result<Self, RunError> {
        let config = context.config;
        let host = context.device.clone().without_autodiff();
        let rule = N::build_rule(&config.rule, &net, config.training.seed, &host)
            .map_err(|e| crate::ConfigError::new(Path::new("config"), &e.key, e.message))?;
        let learner = Learner::new(rule, config.optimizer.init(), config.training.learning_rate)
            .with_loss(config.training.objective());
        let events = config
            .logging
            .tensorboard
            .then(|| EventFile::in_dir(context.session.dir().root()));
        let n_train = context.data.train.len();
        Ok(Self {
            net,
            learner,
            log: MetricLog::default(),
            diagnostics: DiagnosticsLog::default(),
            pending: DiagnosticsAccumulator::default(),
            dendrites: DendriteLog::default(),
            events,
            total_steps: config.training.total_steps(n_train),
            steps_per_epoch: n_train.div_ceil(config.training.batch_size),
            start_step: 0,
            wall_before: 0.0,
            resumed_from: None,
            frozen: None,
            stopped_early: None,
            probe: config
                .task
                .probe(context.data, config.logging.probe_examples),
            frozen_probe: config.frozen_probe(),
            recording_steps: config.recording_steps(),
            phases: config.phase_tasks(),
            context,
        })
    }

    fn config(&self) -> &'a ExperimentConfig {
        self.context.config
    }

    fn data(&self) -> &'a Split {
        self.context.data
    }

    fn session(&self) -> &Session<'a> {
        &self.context.session
    }

    fn dir(&self) -> &Path {
        self.session().dir().root()
    }

    fn run_dir(&self) -> &RunDir {
        self.session().dir()
    }

    fn device(&self) -> &Device {
        &self.context.device
    }

    /// `training.freeze`: the optimizer skips the frozen layers' parameters and whatever the
    /// network's own bookkeeping moves in them is put back after every step.
    fn freeze(&mut self) {
        let layers = &self.config().training.freeze;
        if !layers.is_empty() {
            let frozen = Frozen::capture(&self.net, layers);
            self.learner.freeze(frozen.ids());
            self.frozen = Some(frozen);
        }
    }

    /// Loads the newest usable checkpoint (falling back past damaged ones) and the logs up to
    /// its step. A run without checkpoints starts from step 0.
    fn restore(&mut self) -> Result<(), RunError> {
        let session = &self.context.session;
        let (net, learner, device) = (&mut self.net, &mut self.learner, &self.context.device);
        let mut loop_state = None;
        let restored = session.restore(|ck| {
            let state = ck.state.clone();
            *net = session.load_learning(net, learner, ck, device)?;
            loop_state = Some(state);
            Ok(())
        })?;
        if let (Some(step), Some(state)) = (restored, loop_state) {
            self.wall_before = state.wall_seconds;
            self.pending = state.diagnostics_pending;
            self.start_step = step;
            self.resumed_from = Some(step);
        }
        self.reload_logs(self.start_step)
    }

    fn reload_logs(&mut self, step: usize) -> Result<(), RunError> {
        let run = self.run_dir().clone();
        self.log = MetricLog::reload(&run.metrics(), step)?;
        self.diagnostics = DiagnosticsLog::reload(&run.diagnostics(), step)?;
        self.dendrites = DendriteLog::reload(&run.dendrites(), step)?;
        Ok(())
    }

    /// Indices of the batch for `step` (0-based): a seeded permutation per epoch.
    fn batch_indices(&self, step: usize, cache: &mut Option<(usize, Vec<usize>)>) -> Vec<usize> {
        let n = self.data().train.len();
        let b = self.config().training.batch_size.min(n);
        let epoch = step / self.steps_per_epoch;
        let pos = step % self.steps_per_epoch;
        if cache.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let mut order: Vec<usize> = (0..n).collect();
            SeededRng::for_stream(
                self.config().training.seed,
                STREAM_BATCH_ORDER + epoch as u64,
            )
            .shuffle(&mut order);
            *cache = Some((epoch, order));
        }
        let order = &cache.as_ref().expect("filled above").1;
        let start = (pos * b).min(n);
        let end = ((pos + 1) * b).min(n);
        if end > start {
            order[start..end].to_vec()
        } else {
            order[..b].to_vec()
        }
    }

    /// The batch for `step`: fresh trials from the task's stream (`task.trials = "stream"`:
    /// trials step·b … (step+1)·b − 1), or the fixed training set's seeded permutation.
    fn batch(
        &self,
        step: usize,
        cache: &mut Option<(usize, Vec<usize>)>,
    ) -> (Vec<f32>, Vec<usize>) {
        let b = self.config().training.batch_size;
        let task = self
            .phases
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&step))
            .map(|(_, _, task)| task)
            .unwrap_or(&self.config().task);
        match task.streamed_batch(step * b, b) {
            Some(trials) => (trials.inputs, trials.labels),
            None => {
                let idx = self.batch_indices(step, cache);
                self.data().train.batch(&idx)
            }
        }
    }

    /// Records the probe activity at `step` into `activity/step-<n>/` when `logging.record_at`
    /// lists it or a curriculum phase ends there.
    fn record_if_due(&self, step: usize) -> Result<(), RunError> {
        if !self.recording_steps.contains(&step) {
            return Ok(());
        }
        crate::recording::record_step(
            &self.net.valid(),
            &self.probe,
            self.frozen_probe.as_ref(),
            &self.device().clone().without_autodiff(),
            (self.config().training.seed, step),
            self.run_dir(),
        )
    }

    /// Mean loss (the run's per-example loss, averaged), accuracy and predictions of the
    /// current network on `data` (no noise).
    fn evaluate(&self, data: &Dataset, limit: usize) -> (f64, f64, Vec<usize>) {
        let objective = self.config().training.objective().per_example();
        let net = self.net.valid();
        let device = self.device().clone().without_autodiff();
        let n = data.len().min(limit);
        let mut total_loss = 0.0;
        let mut preds = Vec::with_capacity(n);
        let chunk = 512;
        for start in (0..n).step_by(chunk) {
            let idx: Vec<usize> = (start..(start + chunk).min(n)).collect();
            let (x, y) = data.batch(&idx);
            let logits = net.logits(host_tensor(x, idx.len(), data.n_features, &device), None);
            let loss: f32 = objective
                .value(logits.clone(), one_hot(&y, data.n_classes, &device))
                .into_scalar();
            total_loss += loss as f64 * idx.len() as f64;
            preds.extend(predictions(logits));
        }
        let correct = preds
            .iter()
            .zip(&data.labels)
            .filter(|(p, l)| p == l)
            .count();
        (total_loss / n as f64, correct as f64 / n as f64, preds)
    }

    fn log_evaluation(&mut self, step: usize) -> Result<(), RunError> {
        let epoch = step as f64 / self.steps_per_epoch as f64;
        let (train_loss, train_acc, _) = self.evaluate(
            &self.data().train,
            self.config().training.eval_train_examples,
        );
        let (test_loss, test_acc, _) = self.evaluate(&self.data().test, usize::MAX);
        let mut rows = vec![
            ("train", train_loss, train_acc),
            ("test", test_loss, test_acc),
        ];
        if let Some(validation) = &self.data().validation {
            let (loss, accuracy, _) = self.evaluate(validation, usize::MAX);
            rows.push(("validation", loss, accuracy));
        }
        for (split, loss, accuracy) in rows {
            self.log.rows.push(MetricRow {
                step,
                epoch,
                split: split.into(),
                loss,
                accuracy,
            });
        }
        self.pending.flush_into(&mut self.diagnostics, step);
        self.log_dendrites(step);
        self.write_logs()
    }

    /// The validation evaluation early stopping keeps: the highest validation accuracy, ties
    /// broken by the lower validation loss, then the earlier step.
    fn best_validation(&self) -> Option<&MetricRow> {
        self.log
            .rows
            .iter()
            .filter(|r| r.split == "validation")
            .min_by(|a, b| {
                b.accuracy
                    .total_cmp(&a.accuracy)
                    .then(a.loss.total_cmp(&b.loss))
                    .then(a.step.cmp(&b.step))
            })
    }

    /// Evaluations logged since the best one (early stopping's patience).
    fn evaluations_since_best(&self) -> usize {
        let Some(best) = self.best_validation().map(|r| r.step) else {
            return 0;
        };
        self.log
            .rows
            .iter()
            .filter(|r| r.split == "validation" && r.step > best)
            .count()
    }

    /// Writes every log file (each atomically).
    fn write_logs(&self) -> Result<(), RunError> {
        let run = self.run_dir();
        self.log.write(&run.metrics())?;
        if !self.diagnostics.rows.is_empty() {
            self.diagnostics.write(&run.diagnostics())?;
        }
        if !self.dendrites.rows.is_empty() {
            self.dendrites.write(&run.dendrites())?;
        }
        if let Some(events) = &self.events {
            let mut scalars = self.diagnostics.scalars();
            scalars.extend(self.dendrites.scalars());
            events.write(&self.log, &scalars)?;
        }
        Ok(())
    }

    /// Networks with dendrites: apical magnitude and residual statistics per hidden layer on
    /// (up to) 512 test examples.
    fn log_dendrites(&mut self, step: usize) {
        let n = self.data().test.len().min(512);
        let (x, _) = self.data().test.batch(&(0..n).collect::<Vec<_>>());
        let device = self.device().clone().without_autodiff();
        let probe = host_tensor(x, n, self.data().test.n_features, &device);
        for (layer, stats) in self
            .net
            .valid()
            .dendrite_stats(probe)
            .into_iter()
            .enumerate()
        {
            self.dendrites.rows.push(DendriteRow {
                step,
                layer,
                apical_magnitude: stats.apical_magnitude,
                residual_mean: stats.residual_mean,
                residual_std: stats.residual_std,
            });
        }
    }

    fn save_checkpoint(&self, step: usize, wall_seconds: f64) -> Result<(), RunError> {
        let state = LoopState {
            format_version: crate::checkpoint::CHECKPOINT_FORMAT,
            step,
            wall_seconds,
            diagnostics_pending: self.pending.clone(),
        };
        self.session()
            .save_checkpoint(&self.net, &self.learner, state, &self.recording_steps)
    }

    fn progress_bar(&self) -> ProgressBar {
        let bar = if self.session().options().progress {
            ProgressBar::with_draw_target(
                Some(self.total_steps as u64),
                ProgressDrawTarget::stderr(),
            )
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} steps ({rate}, eta {eta})",
            )
            .expect("valid template")
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let rate = state.per_sec();
                    let _ = if rate >= 10.0 {
                        write!(w, "{rate:.0} steps/s")
                    } else {
                        write!(w, "{rate:.1} steps/s")
                    };
                },
            )
            .progress_chars("=> "),
        );
        bar.set_position(self.start_step as u64);
        bar
    }

    fn run(mut self) -> Result<RunSummary, RunError> {
        let t = &self.config().training;
        let started = Instant::now();
        let bar = self.progress_bar();
        let mut order_cache = None;
        let n_features = self.data().train.n_features;
        let mut last_checkpoint = self.start_step;
        // A resumed run whose last evaluation had already used up its patience (stopped, then
        // interrupted before its summary) stops where it stood.
        if t.patience
            .is_some_and(|p| self.start_step > 0 && self.evaluations_since_best() >= p)
        {
            self.stopped_early = Some(self.start_step);
        }
        let end = if self.stopped_early.is_some() {
            self.start_step
        } else {
            self.total_steps
        };
        if self.start_step == 0 {
            self.record_if_due(0)?;
        }
        for step in self.start_step..end {
            if let Some(signal) = self.session().stop_signal() {
                bar.abandon();
                return self.interrupted(signal, step, last_checkpoint, started);
            }
            let (x, y) = self.batch(step, &mut order_cache);
            let input = host_tensor(x, y.len(), n_features, self.device());
            let mut noise = SeededRng::for_stream(t.seed, STREAM_NOISE + step as u64);
            let diagnose = step % t.diagnostics_every == 0;
            let (net, report, per_layer) =
                self.learner.step(self.net, input, &y, &mut noise, diagnose);
            self.net = match &self.frozen {
                Some(frozen) => frozen.restore(net),
                None => net,
            };
            let done = step + 1;
            let non_finite = if report.loss.is_finite() {
                self.learner.non_finite(&self.net)
            } else {
                Some("loss")
            };
            if let Some(quantity) = non_finite {
                bar.abandon();
                return self.diverged(done, quantity, started);
            }
            if !per_layer.is_empty() {
                self.pending.add(&per_layer);
            }
            let mut stop_early = false;
            if done % t.eval_every == 0 || done == self.total_steps {
                self.log_evaluation(done)?;
                if let Some(last) = self.log.rows.last() {
                    bar.set_message(format!("test acc {:.3}", last.accuracy));
                }
                stop_early = t
                    .patience
                    .is_some_and(|p| self.evaluations_since_best() >= p);
            }
            if stop_early {
                self.stopped_early = Some(done);
            }
            // Before the checkpoint of the same step: a run killed while recording resumes from
            // an earlier checkpoint and records this step again.
            self.record_if_due(done)?;
            let recorded = self.recording_steps.contains(&done);
            if done % t.checkpoint_every == 0 || done == self.total_steps || stop_early || recorded
            {
                self.save_checkpoint(done, self.wall_before + started.elapsed().as_secs_f64())?;
                last_checkpoint = done;
            }
            bar.inc(1);
            if let Err(halted) = self.session().check_halt(done, self.total_steps) {
                bar.abandon();
                return Err(halted);
            }
            if stop_early {
                break;
            }
        }
        bar.finish_and_clear();
        let session_seconds = started.elapsed().as_secs_f64();
        let wall_seconds = self.wall_before + session_seconds;
        self.finish(wall_seconds, session_seconds)
    }

    /// A signal asked the run to stop before `step`: checkpoint what is done, flush the logs.
    fn interrupted(
        self,
        signal: i32,
        step: usize,
        last_checkpoint: usize,
        started: Instant,
    ) -> Result<RunSummary, RunError> {
        if step > last_checkpoint || step == 0 {
            self.save_checkpoint(step, self.wall_before + started.elapsed().as_secs_f64())?;
        }
        self.write_logs()?;
        Err(self.session().interrupted(signal, step))
    }

    /// `quantity` became non-finite in the update of `step`: keep the logs and the last good
    /// checkpoint, write a diverged summary, stop.
    fn diverged(
        mut self,
        step: usize,
        quantity: &'static str,
        started: Instant,
    ) -> Result<RunSummary, RunError> {
        self.pending.flush_into(&mut self.diagnostics, step);
        self.write_logs()?;
        let session_seconds = started.elapsed().as_secs_f64();
        let summary = self.summary_base(self.wall_before + session_seconds, session_seconds, step);
        self.session().diverged(summary, step, quantity)
    }

    /// The recording at the end of the run (`activity/`, every compartment), made at the step
    /// the run ended.
    fn record_probe(&self, step: usize) -> Result<Vec<String>, RunError> {
        let device = self.device().clone().without_autodiff();
        let net = self.net.valid();
        let seed = self.config().training.seed;
        let dir = self.run_dir().activity();
        let mut written = crate::recording::record(
            &net,
            &self.probe,
            &device,
            (seed, step),
            crate::recording::Keep::All,
            &dir,
        )?;
        if let Some(frozen) = &self.frozen_probe {
            written.extend(crate::recording::record_frozen(
                &net,
                frozen,
                &device,
                (seed, step),
                &dir,
            )?);
        }
        Ok(written)
    }

    /// The summary's fields known at any point of the run.
    fn summary_base(&self, wall_seconds: f64, session_seconds: f64, steps_done: usize) -> Summary {
        let config = self.config();
        let steps_this_session = steps_done.saturating_sub(self.start_step);
        Summary {
            steps: steps_done,
            planned_steps: self.total_steps,
            epochs: steps_done as f64 / self.steps_per_epoch as f64,
            n_params: self.net.num_params(),
            wall_seconds,
            steps_per_second: if session_seconds > 0.0 {
                steps_this_session as f64 / session_seconds
            } else {
                0.0
            },
            resumed_from_step: self.resumed_from,
            classifier: ClassifierSummary {
                n_train: self.data().train.len(),
                n_test: self.data().test.len(),
                mean_angle_to_backprop_deg: (!self.diagnostics.rows.is_empty()).then(|| {
                    self.diagnostics
                        .mean_angles()
                        .into_iter()
                        .map(|a| a.is_finite().then_some(a))
                        .collect()
                }),
                ..ClassifierSummary::default()
            },
            ..crate::summary_of_run(config)
        }
    }

    fn finish(self, wall_seconds: f64, session_seconds: f64) -> Result<RunSummary, RunError> {
        let (test_loss, test_accuracy, preds) = self.evaluate(&self.data().test, usize::MAX);
        let (train_loss, train_accuracy, _) = self.evaluate(
            &self.data().train,
            self.config().training.eval_train_examples,
        );
        let steps_done = self.stopped_early.unwrap_or(self.total_steps);
        let activity = self.record_probe(steps_done)?;
        if self.config().logging.plots {
            let title = format!(
                "{} — {} on {}",
                self.dir()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                self.config().rule.kind(),
                self.config().task.kind()
            );
            plot::learning_curve(
                &self.run_dir().plots(),
                apical_store::plot_names::LEARNING_CURVE,
                &self.log,
                &title,
            )?;
        }
        let mut summary = self.summary_base(wall_seconds, session_seconds, steps_done);
        summary.classifier.stopped_early_at_step = self.stopped_early;
        summary.classifier.test_accuracy = Some(test_accuracy);
        let n_test = self.data().test.len();
        let (low, high) = apical_analysis::wilson_interval(
            (test_accuracy * n_test as f64).round() as usize,
            n_test,
        );
        summary.classifier.test_accuracy_ci_low = Some(low);
        summary.classifier.test_accuracy_ci_high = Some(high);
        summary.classifier.test_loss = Some(test_loss);
        summary.classifier.train_accuracy = Some(train_accuracy);
        summary.classifier.train_loss = Some(train_loss);
        if let Some(validation) = &self.data().validation {
            let (loss, accuracy, _) = self.evaluate(validation, usize::MAX);
            summary.classifier.validation_accuracy = Some(accuracy);
            summary.classifier.validation_loss = Some(loss);
            summary.classifier.n_validation = Some(validation.len());
            // Early stopping's choice (the test split is never used to choose).
            if let Some(best) = self.best_validation() {
                summary.classifier.best_validation_step = Some(best.step);
                summary.classifier.best_validation_loss = Some(best.loss);
                summary.classifier.test_accuracy_at_best_validation = self
                    .log
                    .rows
                    .iter()
                    .find(|r| r.split == "test" && r.step == best.step)
                    .map(|r| r.accuracy);
            }
        }
        summary.classifier.accuracy_by_signal = self.data().test.signal.as_ref().map(|_| {
            accuracy_by_signal(&self.data().test, &preds)
                .into_iter()
                .map(|(signal, accuracy, n_trials)| SignalAccuracy {
                    signal: f64::from(signal),
                    accuracy,
                    n_trials,
                })
                .collect()
        });
        if let Some(ideal) = self
            .config()
            .task
            .ideal_accuracy_by_signal(&self.data().test)
        {
            summary.classifier.ideal_accuracy = Some(
                ideal.iter().map(|&(_, a, n)| a * n as f64).sum::<f64>()
                    / ideal.iter().map(|&(_, _, n)| n as f64).sum::<f64>(),
            );
            summary.classifier.ideal_accuracy_by_signal = Some(
                ideal
                    .into_iter()
                    .map(|(signal, accuracy, n_trials)| SignalAccuracy {
                        signal: f64::from(signal),
                        accuracy,
                        n_trials,
                    })
                    .collect(),
            );
        }
        summary.activity = activity;
        if self.config().logging.plots {
            super::plot_psychometric(
                self.run_dir(),
                &format!("Psychometric curve — {}", self.config().rule.kind()),
                &summary.classifier,
            )?;
        }
        self.session().finish(summary)
    }
}
