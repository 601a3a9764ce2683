//! The training loop and everything a run writes.
//!
//! A run directory holds:
//! - `config.toml` — the resolved config (every default filled in);
//! - `metrics.csv` — step, epoch, split, loss, accuracy at every evaluation;
//! - `events.out.tfevents.*` — the same scalars for TensorBoard;
//! - `diagnostics.csv`, `dendrites.csv` — rule-vs-backprop angles; gfn apical magnitude and
//!   residual statistics per evaluation;
//! - `summary.json` — final accuracies (per signal level for perceptual tasks), backend, seed,
//!   steps, wall time;
//! - `activity/*.npy` — hidden-unit responses on a fixed probe set, with its labels (and
//!   signal levels and contexts);
//! - `plots/learning_curve.{png,svg}`;
//! - `checkpoints/step-*/` — what `apical resume` continues from.
//!
//! Everything is a function of the config and its seeds: batch order, initial weights and unit
//! noise are drawn from seeded streams indexed by step, so a resumed run repeats the
//! uninterrupted one exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use apical_learn::{cross_entropy, one_hot, predictions, Optimizer};
use apical_nn::SeededRng;

use crate::network::Network;
use crate::rules::Rule;
use apical_tasks::orientation::accuracy_by_signal;
use apical_tasks::{Dataset, Split};
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::checkpoint::{self, Checkpoint, LoopState};
use crate::dendrites::{DendriteLog, DendriteRow};
use crate::diagnostics::DiagnosticsLog;
use crate::{
    npy, plot, write_atomic, EventFile, ExperimentConfig, MetricLog, MetricRow, RunError,
    TaskConfig,
};

/// How the caller wants the run to behave (not part of the experiment's identity).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Stop with [`RunError::Halted`] right after this step (after its evaluation and
    /// checkpoint, if due). Used to test `resume`.
    pub halt_after: Option<usize>,
}

/// What a finished run reports (also written as `summary.json`).
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run directory.
    pub dir: PathBuf,
    /// The summary JSON.
    pub json: serde_json::Value,
}

/// Builds the task's data. Fails on missing or malformed data files.
pub fn build_data(config: &ExperimentConfig) -> Result<Split, RunError> {
    let split = match &config.task {
        TaskConfig::Digits(d) => d.build()?,
        TaskConfig::Orientation(o) => o.build()?,
        TaskConfig::Idx(i) => i.build()?,
    };
    Ok(split)
}

/// Refuses an output directory that exists and is not empty.
pub fn check_out_dir(dir: &Path) -> Result<(), RunError> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(RunError::OutputDir {
                path: dir.to_path_buf(),
                message: "exists and is not a directory".into(),
            });
        }
        let non_empty = std::fs::read_dir(dir)
            .map(|mut e| e.next().is_some())
            .unwrap_or(true);
        if non_empty {
            return Err(RunError::OutputDir { path: dir.to_path_buf(), message: "already exists and is not empty; pick another --out, or continue it with `apical resume`".into() });
        }
    }
    Ok(())
}

/// Starts a new run in `dir` (which must not exist or be empty) on `device`.
pub fn start(
    config: &ExperimentConfig,
    data: &Split,
    device: &Device,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    check_out_dir(dir)?;
    std::fs::create_dir_all(dir).map_err(|source| RunError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write_atomic(&dir.join("config.toml"), config.to_toml().as_bytes())?;
    let trainer = Trainer::new(config, data, device, dir)?;
    trainer.run(options)
}

/// Continues the run in `dir` from its newest checkpoint. `config` is the run's own
/// `config.toml`; `device` must be the backend it names.
pub fn resume(
    config: &ExperimentConfig,
    data: &Split,
    device: &Device,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let ck = checkpoint::load_latest(&dir.join("checkpoints"))?;
    let mut trainer = Trainer::new(config, data, device, dir)?;
    trainer.net = trainer
        .net
        .clone()
        .load_record_bytes(ck.model)
        .map_err(|message| RunError::Resume {
            path: dir.join("checkpoints"),
            message,
        })?;
    trainer
        .optimizer
        .load_state_bytes(&ck.optimizer, &trainer.device)
        .map_err(|e| RunError::Resume {
            path: dir.join("checkpoints"),
            message: e.to_string(),
        })?;
    let metrics_path = dir.join("metrics.csv");
    let text = std::fs::read_to_string(&metrics_path).map_err(|e| RunError::Resume {
        path: metrics_path.clone(),
        message: e.to_string(),
    })?;
    let mut log = MetricLog::from_csv(&text).map_err(|message| RunError::Resume {
        path: metrics_path,
        message,
    })?;
    log.truncate_after(ck.state.step);
    trainer.log = log;
    let host = trainer.device.clone().without_autodiff();
    trainer
        .rule
        .load_state_bytes(&ck.rule, &host)
        .map_err(|e| RunError::Resume {
            path: dir.join("checkpoints"),
            message: e.to_string(),
        })?;
    {
        let diagnostics_path = dir.join("diagnostics.csv");
        if diagnostics_path.exists() {
            let text =
                std::fs::read_to_string(&diagnostics_path).map_err(|e| RunError::Resume {
                    path: diagnostics_path.clone(),
                    message: e.to_string(),
                })?;
            let mut diagnostics =
                DiagnosticsLog::from_csv(&text).map_err(|message| RunError::Resume {
                    path: diagnostics_path,
                    message,
                })?;
            diagnostics.truncate_after(ck.state.step);
            trainer.diagnostics = diagnostics;
        }
        let dendrites_path = dir.join("dendrites.csv");
        if dendrites_path.exists() {
            let text = std::fs::read_to_string(&dendrites_path).map_err(|e| RunError::Resume {
                path: dendrites_path.clone(),
                message: e.to_string(),
            })?;
            let mut dendrites =
                DendriteLog::from_csv(&text).map_err(|message| RunError::Resume {
                    path: dendrites_path,
                    message,
                })?;
            dendrites.truncate_after(ck.state.step);
            trainer.dendrites = dendrites;
        }
    }
    trainer.start_step = ck.state.step;
    trainer.wall_before = ck.state.wall_seconds;
    trainer.resumed_from = Some(ck.state.step as u64);
    trainer.run(options)
}

struct Trainer<'a> {
    config: &'a ExperimentConfig,
    data: &'a Split,
    device: Device,
    dir: PathBuf,
    net: Network,
    optimizer: Optimizer,
    rule: Rule,
    log: MetricLog,
    diagnostics: DiagnosticsLog,
    dendrites: DendriteLog,
    events: Option<EventFile>,
    total_steps: usize,
    steps_per_epoch: usize,
    start_step: usize,
    wall_before: f64,
    resumed_from: Option<u64>,
}

/// Stream tags of the seeded generators (kept apart so changing one never shifts another).
const STREAM_BATCH_ORDER: u64 = 1 << 40;
const STREAM_NOISE: u64 = 2 << 40;

impl<'a> Trainer<'a> {
    fn new(
        config: &'a ExperimentConfig,
        data: &'a Split,
        device: &Device,
        dir: &Path,
    ) -> Result<Self, RunError> {
        let device = device.clone().autodiff();
        let seed = config.training.seed;
        let net = Network::build(
            &config.model,
            data.train.n_features,
            data.train.n_classes,
            seed,
            &device,
        );
        let events = config.logging.tensorboard.then(|| EventFile::in_dir(dir));
        let host_device = device.clone().without_autodiff();
        let rule = Rule::build(&config.rule, &net, seed, &host_device);
        Ok(Self {
            config,
            data,
            device,
            dir: dir.to_path_buf(),
            net,
            optimizer: config.optimizer.init(),
            rule,
            log: MetricLog::default(),
            diagnostics: DiagnosticsLog::default(),
            dendrites: DendriteLog::default(),
            events,
            total_steps: config.training.total_steps(data.train.len()),
            steps_per_epoch: data.train.len().div_ceil(config.training.batch_size),
            start_step: 0,
            wall_before: 0.0,
            resumed_from: None,
        })
    }

    /// Indices of the batch for `step` (0-based): a seeded permutation per epoch.
    fn batch_indices(&self, step: usize, cache: &mut Option<(usize, Vec<usize>)>) -> Vec<usize> {
        let n = self.data.train.len();
        let b = self.config.training.batch_size.min(n);
        let epoch = step / self.steps_per_epoch;
        let pos = step % self.steps_per_epoch;
        if cache.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let mut order: Vec<usize> = (0..n).collect();
            SeededRng::for_stream(self.config.training.seed, STREAM_BATCH_ORDER + epoch as u64)
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

    fn tensor(&self, inputs: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(inputs, [rows, cols]), device)
    }

    /// Mean loss, accuracy and predictions of the current network on `data` (no noise).
    fn evaluate(&self, data: &Dataset, limit: usize) -> (f64, f64, Vec<usize>) {
        let net = self.net.valid();
        let device = self.device.clone().without_autodiff();
        let n = data.len().min(limit);
        let mut total_loss = 0.0;
        let mut preds = Vec::with_capacity(n);
        let chunk = 512;
        for start in (0..n).step_by(chunk) {
            let idx: Vec<usize> = (start..(start + chunk).min(n)).collect();
            let (x, y) = data.batch(&idx);
            let logits = net.logits(self.tensor(x, idx.len(), data.n_features, &device), None);
            let loss: f32 =
                cross_entropy(logits.clone(), one_hot(&y, data.n_classes, &device)).into_scalar();
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
        let (train_loss, train_acc, _) =
            self.evaluate(&self.data.train, self.config.training.eval_train_examples);
        let (test_loss, test_acc, _) = self.evaluate(&self.data.test, usize::MAX);
        self.log.rows.push(MetricRow {
            step,
            epoch,
            split: "train".into(),
            loss: train_loss,
            accuracy: train_acc,
        });
        self.log.rows.push(MetricRow {
            step,
            epoch,
            split: "test".into(),
            loss: test_loss,
            accuracy: test_acc,
        });
        write_atomic(&self.dir.join("metrics.csv"), self.log.to_csv().as_bytes())?;
        self.diagnostics.flush(step);
        if !self.diagnostics.rows.is_empty() {
            write_atomic(
                &self.dir.join("diagnostics.csv"),
                self.diagnostics.to_csv().as_bytes(),
            )?;
        }
        self.log_dendrites(step)?;
        if let Some(events) = &self.events {
            let mut scalars = self.diagnostics.scalars();
            scalars.extend(self.dendrites.scalars());
            events.write(&self.log, &scalars)?;
        }
        Ok(())
    }

    /// gfn only: apical magnitude and residual statistics per hidden layer on (up to) 512 test
    /// examples, appended to `dendrites.csv`.
    fn log_dendrites(&mut self, step: usize) -> Result<(), RunError> {
        if !matches!(self.net, Network::Gfn(_)) {
            return Ok(());
        }
        let n = self.data.test.len().min(512);
        let idx: Vec<usize> = (0..n).collect();
        let (x, _) = self.data.test.batch(&idx);
        let device = self.device.clone().without_autodiff();
        let probe = self.tensor(x, n, self.data.test.n_features, &device);
        let stats = self.net.valid().dendrite_stats(probe).unwrap_or_default();
        for (layer, (apical_magnitude, residual_mean, residual_std)) in
            stats.into_iter().enumerate()
        {
            self.dendrites.rows.push(DendriteRow {
                step,
                layer,
                apical_magnitude,
                residual_mean,
                residual_std,
            });
        }
        write_atomic(
            &self.dir.join("dendrites.csv"),
            self.dendrites.to_csv().as_bytes(),
        )
    }

    fn save_checkpoint(&self, step: usize, wall_seconds: f64) -> Result<(), RunError> {
        let model = self.net.record_bytes().map_err(|e| RunError::Write {
            path: self.dir.join("checkpoints"),
            source: std::io::Error::other(e),
        })?;
        let ck = Checkpoint {
            state: LoopState { step, wall_seconds },
            model,
            optimizer: self.optimizer.state_bytes(),
            rule: self.rule.state_bytes(),
        };
        checkpoint::save(
            &self.dir.join("checkpoints"),
            &ck,
            self.config.training.keep_checkpoints,
        )?;
        Ok(())
    }

    fn run(mut self, options: &RunOptions) -> Result<RunSummary, RunError> {
        let t = &self.config.training;
        let started = Instant::now();
        let bar = if options.progress {
            ProgressBar::with_draw_target(
                Some(self.total_steps as u64),
                ProgressDrawTarget::stderr(),
            )
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} steps ({per_sec}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_position(self.start_step as u64);
        let mut order_cache = None;
        let n_features = self.data.train.n_features;
        for step in self.start_step..self.total_steps {
            let idx = self.batch_indices(step, &mut order_cache);
            let (x, y) = self.data.train.batch(&idx);
            let input = self.tensor(x, idx.len(), n_features, &self.device);
            let mut noise = SeededRng::for_stream(t.seed, STREAM_NOISE + step as u64);
            self.rule.set_diagnose(step % t.diagnostics_every == 0);
            let (net, report, per_layer) = self.rule.step(
                self.net,
                &mut self.optimizer,
                t.learning_rate,
                input,
                &y,
                &mut noise,
            );
            self.net = net;
            if !per_layer.is_empty() {
                self.diagnostics.accumulate(&per_layer);
            }
            if !report.loss.is_finite() {
                return Err(RunError::Diverged {
                    step: step + 1,
                    loss: report.loss,
                });
            }
            let done = step + 1;
            if done % t.eval_every == 0 || done == self.total_steps {
                self.log_evaluation(done)?;
                if let Some(last) = self.log.rows.last() {
                    bar.set_message(format!("test acc {:.3}", last.accuracy));
                }
            }
            if done % t.checkpoint_every == 0 || done == self.total_steps {
                self.save_checkpoint(done, self.wall_before + started.elapsed().as_secs_f64())?;
            }
            bar.inc(1);
            if options.halt_after == Some(done) && done < self.total_steps {
                bar.abandon();
                return Err(RunError::Halted {
                    step: done,
                    dir: self.dir.clone(),
                });
            }
        }
        bar.finish_and_clear();
        let session_seconds = started.elapsed().as_secs_f64();
        let wall_seconds = self.wall_before + session_seconds;
        self.finish(wall_seconds, session_seconds)
    }

    fn record_probe(&self) -> Result<Vec<String>, RunError> {
        let n = self.config.logging.probe_examples.min(self.data.test.len());
        if n == 0 {
            return Ok(Vec::new());
        }
        let dir = self.dir.join("activity");
        let probe = self.data.test.subset(&(0..n).collect::<Vec<_>>());
        let net = self.net.valid();
        let device = self.device.clone().without_autodiff();
        let (logits, arrays) =
            net.record_probe(self.tensor(probe.inputs.clone(), n, probe.n_features, &device));
        let mut written = Vec::new();
        for (stem, shape, values) in arrays {
            let name = format!("{stem}.npy");
            npy::write_f32(&dir.join(&name), &shape, &values)?;
            written.push(name);
        }
        let [rows, cols] = logits.dims();
        npy::write_f32(
            &dir.join("logits.npy"),
            &[rows, cols],
            &logits.into_data().iter::<f32>().collect::<Vec<f32>>(),
        )?;
        written.push("logits.npy".into());
        npy::write_i64(
            &dir.join("labels.npy"),
            &[n],
            &probe.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
        )?;
        written.push("labels.npy".into());
        if let Some(signal) = &probe.signal {
            npy::write_f32(&dir.join("signal.npy"), &[n], signal)?;
            written.push("signal.npy".into());
        }
        if let Some(context) = &probe.context {
            npy::write_i64(
                &dir.join("context.npy"),
                &[n],
                &context.iter().map(|&c| c as i64).collect::<Vec<_>>(),
            )?;
            written.push("context.npy".into());
        }
        Ok(written)
    }

    fn finish(self, wall_seconds: f64, session_seconds: f64) -> Result<RunSummary, RunError> {
        let (test_loss, test_accuracy, preds) = self.evaluate(&self.data.test, usize::MAX);
        let (train_loss, train_accuracy, _) =
            self.evaluate(&self.data.train, self.config.training.eval_train_examples);
        let activity = self.record_probe()?;
        if self.config.logging.plots {
            let title = format!(
                "{} — {} on {}",
                self.dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                self.config.rule.kind(),
                self.config.task.kind()
            );
            plot::learning_curve(&self.dir.join("plots"), "learning_curve", &self.log, &title)?;
        }
        let by_signal = self.data.test.signal.as_ref().map(|_| {
            accuracy_by_signal(&self.data.test, &preds).into_iter().map(|(level, accuracy, n)| json!({"signal": level, "accuracy": accuracy, "n_trials": n})).collect::<Vec<_>>()
        });
        let steps_this_session = self.total_steps - self.start_step;
        let json = json!({
            "name": self.config.name,
            "task": self.config.task.kind(),
            "model": self.config.model.kind(),
            "rule": self.config.rule.kind(),
            "backend": self.config.backend.kind.name(),
            "seed": self.config.training.seed,
            "steps": self.total_steps,
            "epochs": self.total_steps as f64 / self.steps_per_epoch as f64,
            "n_params": self.net.num_params(),
            "n_train": self.data.train.len(),
            "n_test": self.data.test.len(),
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            "train_accuracy": train_accuracy,
            "train_loss": train_loss,
            "accuracy_by_signal": by_signal,
            "wall_seconds": wall_seconds,
            "steps_per_second": if session_seconds > 0.0 { steps_this_session as f64 / session_seconds } else { 0.0 },
            "resumed_from_step": self.resumed_from,
            "mean_angle_to_backprop_deg": if self.diagnostics.rows.is_empty() { None } else { Some(self.diagnostics.mean_angles()) },
            "activity": activity,
        });
        write_atomic(
            &self.dir.join("summary.json"),
            serde_json::to_string_pretty(&json)
                .expect("json")
                .as_bytes(),
        )?;
        Ok(RunSummary {
            dir: self.dir.clone(),
            json,
        })
    }
}
