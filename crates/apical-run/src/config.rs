//! The experiment config: TOML → checked [`ExperimentConfig`], with `--set key.path=value`
//! overrides. Validation happens here, once, before any work starts.
//!
//! Only the run-level schema lives here (`[training]`, `[logging]`, `[backend]`); the task,
//! model, rule and optimizer sections are the configs of those concepts, defined (with their
//! defaults and checks) in apical-tasks, apical-nn and apical-learn.

use std::path::{Path, PathBuf};

use apical_core::{check, InvalidParameter};
use apical_learn::{Loss, LossKind, OptimizerConfig, Reduction, RuleConfig};
use apical_nn::ModelConfig;
use apical_tasks::TaskConfig;
use serde::{Deserialize, Serialize};

use crate::{BackendKind, ConfigError};

/// One runnable experiment: what `configs/*.toml` files hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Run name (defaults to the config file's stem); names the run directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The task and its data.
    pub task: TaskConfig,
    /// The network.
    #[serde(default)]
    pub model: ModelConfig,
    /// The learning rule.
    #[serde(default)]
    pub rule: RuleConfig,
    /// The optimizer that turns the rule's updates into weight changes.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// Length, batching, learning rate, seed, evaluation and checkpoint cadence.
    #[serde(default)]
    pub training: TrainingConfig,
    /// What the run writes besides metrics.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Where tensors live.
    #[serde(default)]
    pub backend: BackendConfig,
    /// What loading changed or will ignore, for the binary to say before it starts (keys a
    /// `--set` of the kind or of the run's length dropped; see [`notices`](Self::notices)).
    #[serde(skip)]
    pub notes: Vec<String>,
}

/// `[training]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Number of updates. Give `steps` or `epochs`, not both (default: 1000 steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Number of passes over the training set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Examples per update.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Learning rate.
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// The objective of labelled training: "cross-entropy" (of softmax(out)) or
    /// "squared-error" (½‖out − y‖² on the linear readout, Song et al. 2024).
    #[serde(default)]
    pub loss: LossKind,
    /// "mean" (the loss averaged over the batch) or "sum" (Song et al. 2024: with plain SGD a
    /// step is batch_size times a mean's).
    #[serde(default)]
    pub loss_reduction: Reduction,
    /// Seed of the initial weights, batch order and unit noise.
    #[serde(default)]
    pub seed: u64,
    /// Evaluate (and log) every this many steps, and at the end.
    #[serde(default = "default_eval_every")]
    pub eval_every: usize,
    /// Training examples used for the train-split metrics (a fixed subset).
    #[serde(default = "default_eval_train_examples")]
    pub eval_train_examples: usize,
    /// Write a checkpoint every this many steps, and at the end.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: usize,
    /// Checkpoints kept on disk (the newest ones).
    #[serde(default = "default_keep_checkpoints")]
    pub keep_checkpoints: usize,
    /// Compare the rule's update with backprop's gradient every this many steps (the
    /// diagnostics cost an extra backward pass; their means are logged at each evaluation).
    #[serde(default = "default_diagnostics_every")]
    pub diagnostics_every: usize,
    /// Early stopping: end training once this many evaluations in a row have not bettered the
    /// best validation evaluation (highest validation accuracy, ties broken by the lower
    /// validation loss; needs a validation split, `task.validation_per_class`); absent: run every
    /// step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Start from the weights of another run: its directory (the newest checkpoint of a
    /// finished run) or one of its checkpoints (`<run>/checkpoints/step-N`). Relative paths are
    /// taken from the working directory and stored absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
    /// The layers `init_from` loads (0 = the first hidden layer's incoming weights, …, the
    /// last = the readout); default every layer. A layer's basal weights and bias load between
    /// `ff` and `gfn` networks alike; a gfn layer's apical weights and prediction only from a
    /// gfn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_layers: Option<Vec<usize>>,
    /// Layers that are not trained (numbered like `init_layers`): every parameter of the layer
    /// is held at its initial value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freeze: Vec<usize>,
    /// A curriculum: consecutive phases of `steps` each on the task changed by the phase's
    /// `task` table (`phases.rs`); the run's length is their sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
}

fn default_diagnostics_every() -> usize {
    10
}

fn default_batch_size() -> usize {
    64
}
fn default_learning_rate() -> f64 {
    1e-3
}
fn default_eval_every() -> usize {
    100
}
fn default_eval_train_examples() -> usize {
    1000
}
fn default_checkpoint_every() -> usize {
    500
}
fn default_keep_checkpoints() -> usize {
    2
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            steps: None,
            epochs: None,
            batch_size: default_batch_size(),
            learning_rate: default_learning_rate(),
            loss: LossKind::default(),
            loss_reduction: Reduction::default(),
            seed: 0,
            eval_every: default_eval_every(),
            eval_train_examples: default_eval_train_examples(),
            checkpoint_every: default_checkpoint_every(),
            keep_checkpoints: default_keep_checkpoints(),
            phases: Vec::new(),
            diagnostics_every: default_diagnostics_every(),
            patience: None,
            init_from: None,
            init_layers: None,
            freeze: Vec::new(),
        }
    }
}

/// Default length when neither `steps` nor `epochs` is given.
pub const DEFAULT_STEPS: usize = 1000;

impl TrainingConfig {
    /// The objective the rule descends (`loss`, `loss_reduction`).
    pub fn objective(&self) -> Loss {
        Loss {
            kind: self.loss,
            reduction: self.loss_reduction,
        }
    }

    /// Checks the loop settings (keys relative to `[training]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if self.steps.is_some() && self.epochs.is_some() {
            return Err(InvalidParameter::new(
                "steps",
                "give training.steps or training.epochs, not both (a --set of either replaces the other)",
            ));
        }
        if let Some(steps) = self.steps {
            check::at_least_one("steps", steps)?;
        }
        if let Some(epochs) = self.epochs {
            check::at_least_one("epochs", epochs)?;
        }
        check::at_least_one("batch_size", self.batch_size)?;
        // 0 (no learning) is refused for every task but the closed loop's untrained baseline
        // (`ExperimentConfig::validate`).
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return Err(InvalidParameter::new(
                "learning_rate",
                format!(
                    "must be > 0 (0 only for the bci task's untrained baseline), got {}",
                    self.learning_rate
                ),
            ));
        }
        for (key, value) in [
            ("eval_every", self.eval_every),
            ("checkpoint_every", self.checkpoint_every),
            ("keep_checkpoints", self.keep_checkpoints),
            ("diagnostics_every", self.diagnostics_every),
            ("eval_train_examples", self.eval_train_examples),
        ] {
            check::at_least_one(key, value)?;
        }
        if let Some(patience) = self.patience {
            check::at_least_one("patience", patience)?;
        }
        if self.init_layers.is_some() && self.init_from.is_none() {
            return Err(InvalidParameter::new(
                "init_layers",
                "needs training.init_from (the run to load the layers from)",
            ));
        }
        if self.init_layers.as_ref().is_some_and(|l| l.is_empty()) {
            return Err(InvalidParameter::new(
                "init_layers",
                "is empty; leave it out to load every layer",
            ));
        }
        Ok(())
    }

    /// Checks the layer numbers of `init_layers` and `freeze` against a network with
    /// `n_layers` layers (hidden layers + readout).
    pub fn validate_layers(&self, n_layers: usize) -> Result<(), InvalidParameter> {
        let lists = [
            ("init_layers", self.init_layers.as_deref().unwrap_or(&[])),
            ("freeze", self.freeze.as_slice()),
        ];
        for (key, layers) in lists {
            for (i, &l) in layers.iter().enumerate() {
                if l >= n_layers {
                    return Err(InvalidParameter::new(
                        key,
                        format!(
                            "layer {l} does not exist: the model has layers 0..={} (hidden layers, then the readout)",
                            n_layers - 1
                        ),
                    ));
                }
                if layers[..i].contains(&l) {
                    return Err(InvalidParameter::new(
                        key,
                        format!("layer {l} is listed twice"),
                    ));
                }
            }
        }
        if self.freeze.len() == n_layers {
            return Err(InvalidParameter::new(
                "freeze",
                "freezes every layer; nothing would be trained",
            ));
        }
        Ok(())
    }

    /// Total updates for a training set of `n_train` examples.
    pub fn total_steps(&self, n_train: usize) -> usize {
        if !self.phases.is_empty() {
            return self.phases.iter().map(|p| p.steps).sum();
        }
        match (self.steps, self.epochs) {
            (Some(steps), _) => steps,
            (None, Some(epochs)) => epochs * n_train.div_ceil(self.batch_size),
            (None, None) => DEFAULT_STEPS,
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Write a TensorBoard event file with the metrics.
    #[serde(default = "default_true")]
    pub tensorboard: bool,
    /// Write the learning-curve plot (PNG and SVG).
    #[serde(default = "default_true")]
    pub plots: bool,
    /// Probe trials whose hidden-unit responses are recorded to `activity/*.npy` at the end
    /// (0 records nothing): the first test examples, or the orientation task's probe design
    /// (half of it zero-signal, contexts alternating).
    #[serde(default = "default_probe_examples")]
    pub probe_examples: usize,
    /// Training steps at which the probe activity is also recorded, to
    /// `activity/step-<n>/` (0 = before the first update). Empty: only at the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_at: Vec<usize>,
    /// The frozen-noise probe (orientation tasks): zero-signal images per context, each shown
    /// `frozen_repeats` times, recorded beside every probe recording under `frozen/` (0: none).
    /// Its within-image covariance holds only the variability the network generates itself.
    #[serde(default)]
    pub frozen_images: usize,
    /// Presentations of each frozen-noise image.
    #[serde(default = "default_frozen_repeats")]
    pub frozen_repeats: usize,
    /// BCI runs: write each day's recordings of every trial (`activity/day-<d>/`, what
    /// `apical analyze` reads). Off for tuning runs that need only the outcomes
    /// (`trials.csv`, `summary.json`): they are faster and ≈ 100× smaller on disk.
    #[serde(default = "default_true")]
    pub record_days: bool,
}

fn default_frozen_repeats() -> usize {
    50
}

fn default_true() -> bool {
    true
}
fn default_probe_examples() -> usize {
    256
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            tensorboard: true,
            plots: true,
            probe_examples: default_probe_examples(),
            record_at: Vec::new(),
            frozen_images: 0,
            frozen_repeats: default_frozen_repeats(),
            record_days: true,
        }
    }
}

/// `[backend]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// "ndarray" (CPU, default) or "wgpu" (GPU; Mesa lavapipe without one).
    #[serde(default)]
    pub kind: BackendKind,
}

impl ExperimentConfig {
    /// Reads `path`, applies `overrides` (`key.path=value`, value in TOML syntax, bare words
    /// taken as strings) and validates. Every error names the file and the key.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(path, "", format!("cannot read the config file: {e}")))?;
        Self::parse(&text, path, overrides)
    }

    /// Like [`load`](Self::load) for text already in memory; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            let place = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            ConfigError::new(
                path,
                "",
                format!("not valid TOML{place}: {}", e.message().trim()),
            )
        })?;
        let file = table.clone();
        for item in overrides {
            apply_override(&mut table, item)
                .map_err(|e| ConfigError::new(&set_source(path, item), &e.key, e.message))?;
        }
        let set_keys: Vec<&str> = overrides
            .iter()
            .filter_map(|o| o.split_once('=').map(|(k, _)| k.trim()))
            .collect();
        let source = |key: &str| -> PathBuf { blame(path, overrides, key) };
        default_tags(&mut table);
        link_seeds(&mut table).map_err(|e| ConfigError::new(&source(&e.key), &e.key, e.message))?;
        let mut notes = replace_by_set(&mut table, &file, &set_keys);
        let deserialized: Result<ExperimentConfig, _> =
            serde_path_to_error::deserialize(toml::Value::Table(table.clone()));
        let mut config = deserialized.map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            let message = e.into_inner().message().trim().replace('\n', " ");
            let (key, message) = inside_section(&table, key, message);
            ConfigError::new(&source(&key), &key, message)
        })?;
        config.notes.append(&mut notes);
        config
            .validate()
            .map_err(|e| ConfigError::new(&source(&e.key), &e.key, e.message))?;
        // Relative paths (`training.init_from`, `task.path`) name files from the current
        // directory; they are stored absolute, so that the run directory's config names the
        // same files whichever directory `apical resume` or `apical record` runs from.
        let mut config = config;
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                if let Ok(a) = std::path::absolute(&*p) {
                    *p = a;
                }
            }
        };
        if let Some(from) = config.training.init_from.as_mut() {
            absolute(from);
        }
        if let Some(data) = config.task.data_path_mut() {
            absolute(data);
        }
        Ok(config)
    }

    /// Checks values serde cannot (positive sizes and rates, signal levels with 0, a rule that
    /// can train the model, …). The error's key is the dotted path in the file.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        self.task.validate().map_err(|e| e.in_section("task"))?;
        self.model.validate().map_err(|e| e.in_section("model"))?;
        if self.training.learning_rate == 0.0 && !self.task.is_closed_loop() {
            return Err(InvalidParameter::new(
                "training.learning_rate",
                "must be > 0 (0, no learning, is only meaningful for the bci task's untrained baseline)",
            ));
        }
        match (&self.task, &self.model) {
            (TaskConfig::Bci(task), ModelConfig::Bci(model)) => task
                .check_units(model.units)
                .map_err(|e| e.in_section("task"))?,
            (TaskConfig::Bci(_), _) => {
                return Err(InvalidParameter::new(
                    "model.kind",
                    format!(
                        "the bci task needs model.kind = \"bci\" (its recorded layer), got {:?}",
                        self.model.kind()
                    ),
                ))
            }
            (_, ModelConfig::Bci(_)) => {
                return Err(InvalidParameter::new(
                    "model.kind",
                    format!(
                        "the bci model is trained in the closed-loop task.kind = \"bci\", not {:?}",
                        self.task.kind()
                    ),
                ))
            }
            _ => {}
        }
        self.validate_frames()?;
        self.validate_sampling()?;
        if !self.training.phases.is_empty() {
            phases::phase_tasks(&self.task, &self.training.phases)?;
            let total: usize = self.training.phases.iter().map(|p| p.steps).sum();
            if self.training.epochs.is_some() || self.training.steps.is_some_and(|s| s != total) {
                return Err(InvalidParameter::new(
                    "training.phases",
                    format!("the phases' steps add up to {total}: leave training.steps and training.epochs out (or set steps = {total})"),
                ));
            }
        }
        self.rule.validate_with(&self.model)?;
        self.rule.check_loss(self.training.objective())?;
        self.optimizer
            .validate()
            .map_err(|e| e.in_section("optimizer"))?;
        self.training
            .validate()
            .map_err(|e| e.in_section("training"))?;
        let has_validation = self
            .task
            .subset()
            .is_some_and(|s| s.validation_per_class.is_some());
        if self.training.patience.is_some() && !has_validation {
            return Err(InvalidParameter::new(
                "training.patience",
                "early stopping watches the validation split: set task.validation_per_class too",
            ));
        }
        let uses_layers = self.training.init_from.is_some() || !self.training.freeze.is_empty();
        if uses_layers && self.task.is_closed_loop() {
            return Err(InvalidParameter::new(
                if self.training.init_from.is_some() {
                    "training.init_from"
                } else {
                    "training.freeze"
                },
                "is for the supervised tasks; the bci task's network is not initialised from another run",
            ));
        }
        self.validate_record_at()?;
        self.validate_frozen()?;
        self.training
            .validate_layers(self.model.hidden().len() + 1)
            .map_err(|e| e.in_section("training"))?;
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(InvalidParameter::new(
                    "name",
                    format!(
                        "must be a plain file name (no '/', not starting with '.'), got {name:?}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `model.frames` > 1 splits the input into the task's frames: the orientation task with as
    /// many frames, and fewer extra inputs (its two-input context cue) than frames.
    fn validate_frames(&self) -> Result<(), InvalidParameter> {
        let ModelConfig::Gfn(gfn) = &self.model else {
            return Ok(());
        };
        if gfn.frames <= 1 {
            return Ok(());
        }
        let key = "model.frames";
        match &self.task {
            TaskConfig::Orientation(task) if task.frames != gfn.frames => Err(InvalidParameter::new(
                key,
                format!(
                    "must equal task.frames = {} (one frame per step of inference), got {}",
                    task.frames, gfn.frames
                ),
            )),
            TaskConfig::Orientation(task) if task.context_cue && gfn.frames < 3 => {
                Err(InvalidParameter::new(
                    key,
                    "with the context cue (2 inputs after the frames) needs at least 3 frames",
                ))
            }
            TaskConfig::Orientation(task) if gfn.context_feedback && !task.context_cue => {
                Err(InvalidParameter::new(
                    "model.context_feedback",
                    "needs the context cue (task.context_cue = true): the cue is what the belief is multiplied by",
                ))
            }
            TaskConfig::Orientation(_) => Ok(()),
            other => Err(InvalidParameter::new(
                key,
                format!(
                    "presents the orientation task's frames over time; task.kind = {:?} has no frames (use 1)",
                    other.kind()
                ),
            )),
        }
    }

    /// The sampling model: the orientation task, nothing of training but the seed.
    fn validate_sampling(&self) -> Result<(), InvalidParameter> {
        if !matches!(self.model, ModelConfig::Sampling(_)) {
            return Ok(());
        }
        if !matches!(self.task, TaskConfig::Orientation(_)) {
            return Err(InvalidParameter::new(
                "model.kind",
                format!(
                    "the sampling model samples the orientation task's trials, not task.kind = {:?}",
                    self.task.kind()
                ),
            ));
        }
        if self.rule.kind() != "none" {
            return Err(InvalidParameter::new(
                "rule.kind",
                format!(
                    "the sampling model is not trained: leave out [rule] (its rule is \"none\"), not \"{}\"",
                    self.rule.kind()
                ),
            ));
        }
        let t = &self.training;
        for (key, set) in [
            ("training.phases", !t.phases.is_empty()),
            ("training.init_from", t.init_from.is_some()),
            ("training.freeze", !t.freeze.is_empty()),
            ("training.patience", t.patience.is_some()),
        ] {
            if set {
                return Err(InvalidParameter::new(
                    key,
                    "does not apply to the sampling model, which is not trained (its top-down coupling is model.delta)",
                ));
            }
        }
        if self.logging.record_at.iter().any(|&s| s != 0) {
            return Err(InvalidParameter::new(
                "logging.record_at",
                "the sampling model is not trained: it is recorded at step 0 only (record_at = [0])",
            ));
        }
        Ok(())
    }

    /// `logging.frozen_images` / `frozen_repeats`: an orientation task, at least two
    /// presentations, and the ordinary probe to read the signal from.
    fn validate_frozen(&self) -> Result<(), InvalidParameter> {
        if self.logging.frozen_images == 0 {
            return Ok(());
        }
        let key = "logging.frozen_images";
        if !matches!(self.task, TaskConfig::Orientation(_)) {
            return Err(InvalidParameter::new(
                key,
                "needs task.kind = \"orientation\" (repeated zero-signal images with frozen noise)",
            ));
        }
        if self.logging.frozen_repeats < 2 {
            return Err(InvalidParameter::new(
                "logging.frozen_repeats",
                format!(
                    "must be at least 2 (a within-image covariance needs repeats), got {}",
                    self.logging.frozen_repeats
                ),
            ));
        }
        if self.logging.probe_examples == 0 {
            return Err(InvalidParameter::new(
                key,
                "needs the ordinary probe too (its signal levels give f′): set logging.probe_examples > 0",
            ));
        }
        Ok(())
    }

    /// The frozen-noise probe of `logging.frozen_images` (None without one).
    pub fn frozen_probe(&self) -> Option<crate::recording::FrozenProbe> {
        match &self.task {
            TaskConfig::Orientation(c) if self.logging.frozen_images > 0 => {
                let (data, image) =
                    c.frozen_probe(self.logging.frozen_images, self.logging.frozen_repeats);
                Some(crate::recording::FrozenProbe { data, image })
            }
            _ => None,
        }
    }

    /// `logging.record_at`: increasing steps within the run, with probe trials to record, on a
    /// task with a fixed probe set.
    fn validate_record_at(&self) -> Result<(), InvalidParameter> {
        let record_at = &self.logging.record_at;
        if record_at.is_empty() {
            return Ok(());
        }
        let key = "logging.record_at";
        if self.task.is_closed_loop() {
            return Err(InvalidParameter::new(
                key,
                "is for the supervised tasks; the bci task records every day under activity/day-NN/",
            ));
        }
        if self.logging.probe_examples == 0 {
            return Err(InvalidParameter::new(
                key,
                "needs probe trials to record: set logging.probe_examples > 0",
            ));
        }
        if record_at.windows(2).any(|w| w[0] >= w[1]) {
            return Err(InvalidParameter::new(
                key,
                format!("must list steps in increasing order without repeats, got {record_at:?}"),
            ));
        }
        let steps = if self.training.phases.is_empty() {
            self.training.steps
        } else {
            Some(self.training.phases.iter().map(|p| p.steps).sum())
        };
        if let Some(steps) = steps {
            if let Some(&last) = record_at.last().filter(|&&s| s > steps) {
                return Err(InvalidParameter::new(
                    key,
                    format!("step {last} is past the run's training.steps = {steps}"),
                ));
            }
        }
        Ok(())
    }

    /// The steps recorded to `activity/step-<n>/` (and checkpointed, kept): `logging.record_at`
    /// and the end of every curriculum phase, in order.
    pub fn recording_steps(&self) -> Vec<usize> {
        let mut steps = self.logging.record_at.clone();
        let mut end = 0;
        for phase in &self.training.phases {
            end += phase.steps;
            steps.push(end);
        }
        steps.sort_unstable();
        steps.dedup();
        if self.logging.probe_examples == 0 {
            steps.clear();
        }
        steps
    }

    /// The task of each curriculum phase: `(first step, end step, task)`; empty without phases.
    pub fn phase_tasks(&self) -> Vec<(usize, usize, TaskConfig)> {
        phases::phase_tasks(&self.task, &self.training.phases)
            .expect("phases are checked when the config is loaded")
    }

    /// The resolved config as TOML, every default filled in.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an ExperimentConfig always serialises to TOML")
    }

    /// What the binary should say before it starts: the [`notes`](Self::notes) of loading,
    /// and settings accepted but ignored or clamped on this data (`n_train` training examples):
    /// `training.steps` or `epochs` on the closed-loop task (its length is days × trials),
    /// a `batch_size` larger than the training set (full batches), an `eval_every` longer than
    /// the run (one evaluation, at the end).
    pub fn notices(&self, n_train: usize) -> Vec<String> {
        let mut out = self.notes.clone();
        let t = &self.training;
        if self.task.is_closed_loop() {
            for (key, set) in [("steps", t.steps.is_some()), ("epochs", t.epochs.is_some())] {
                if set {
                    out.push(format!(
                        "training.{key} is not used by the closed-loop task: every day runs (its length is task.days × task.trials_per_day)"
                    ));
                }
            }
            return out;
        }
        if matches!(self.model, ModelConfig::Sampling(_)) {
            return out;
        }
        if n_train > 0 && t.batch_size > n_train && !self.task.streams_training_trials() {
            out.push(format!(
                "training.batch_size = {} is larger than the {n_train} training examples: every batch is the whole training set",
                t.batch_size
            ));
        }
        let total = t.total_steps(n_train);
        if t.eval_every > total {
            out.push(format!(
                "training.eval_every = {} is longer than the run ({total} step{}): it is evaluated once, at the end",
                t.eval_every,
                if total == 1 { "" } else { "s" }
            ));
        }
        out
    }

    /// [`to_toml`](Self::to_toml) followed by the optional keys it leaves out, as comments
    /// saying what their absence means (what `config.toml` and `apical config show` hold; the
    /// comments read back as nothing).
    pub fn to_documented_toml(&self) -> String {
        let t = &self.training;
        let absent: Vec<(&str, bool)> = vec![
            ("training.epochs", t.epochs.is_none() && t.steps.is_some()),
            ("training.patience", t.patience.is_none()),
            ("training.init_from", t.init_from.is_none()),
            ("training.init_layers", t.init_layers.is_none()),
            ("training.freeze", t.freeze.is_empty()),
            ("training.phases", t.phases.is_empty()),
            ("logging.record_at", self.logging.record_at.is_empty()),
        ];
        let mut out = self.to_toml();
        let keys = schema::schema();
        let lines: Vec<String> = absent
            .into_iter()
            .filter(|(_, is_absent)| *is_absent)
            .map(|(key, _)| {
                let meaning = keys
                    .iter()
                    .find(|k| k.key == key)
                    .map(|k| k.meaning.as_str())
                    .unwrap_or_default();
                format!("# {key:<22} (not set) {meaning}\n")
            })
            .collect();
        if !lines.is_empty() {
            out.push_str(
                "\n# Optional keys not set here (`apical config schema` lists every key):\n",
            );
            for line in lines {
                out.push_str(&line);
            }
        }
        out
    }

    /// The run name: `name`, or the file stem of `path`.
    pub fn run_name(&self, path: &Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into())
        })
    }
}

/// The task's seeds that may follow the run's seed.
const LINKED_SEEDS: [&str; 2] = ["seed", "subset_seed"];
/// The value that links a task seed to `training.seed`.
const TRAINING_SEED: &str = "training";

/// `task.seed = "training"` / `task.subset_seed = "training"`: the task's random streams (the
/// stimuli, the labelled-subset draw) take the run's `training.seed` (after `--set`), so a sweep
/// over `training.seed` varies every stream. The one place a task seed is linked; the resolved
/// config (`config.toml`) holds the number.
fn link_seeds(table: &mut toml::Table) -> Result<(), InvalidParameter> {
    let training_seed = match table
        .get("training")
        .and_then(|t| t.as_table())
        .and_then(|t| t.get("seed"))
    {
        None => 0,
        Some(toml::Value::Integer(seed)) if *seed >= 0 => *seed,
        // Not a whole number: serde names training.seed below (the task seeds are left alone).
        Some(_) => return Ok(()),
    };
    let Some(toml::Value::Table(task)) = table.get_mut("task") else {
        return Ok(());
    };
    for key in LINKED_SEEDS {
        match task.get(key) {
            Some(toml::Value::String(s)) if s == TRAINING_SEED => {
                task.insert(key.to_string(), toml::Value::Integer(training_seed));
            }
            Some(toml::Value::String(other)) => {
                return Err(InvalidParameter::new(
                    format!("task.{key}"),
                    format!("expected a whole number or \"{TRAINING_SEED}\" (the run's training.seed), got {other:?}"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Sections whose `kind` may be left out: `[model]` defaults to "ff", `[rule]` to "backprop",
/// `[optimizer]` to "adam" (so `--set model.hidden=[64]` works on a config without `[model]`).
fn default_tags(table: &mut toml::Table) {
    // The sampling model is not trained: its rule is "none" unless the file says otherwise
    // (which `validate` then refuses).
    let sampling = table
        .get("model")
        .and_then(|m| m.get("kind"))
        .and_then(toml::Value::as_str)
        == Some("sampling");
    if sampling && !table.contains_key("rule") {
        table.insert("rule".into(), toml::Value::Table(toml::Table::new()));
    }
    let rule = if sampling { "none" } else { "backprop" };
    for (section, kind) in [("model", "ff"), ("rule", rule), ("optimizer", "adam")] {
        if let Some(toml::Value::Table(t)) = table.get_mut(section) {
            t.entry("kind")
                .or_insert_with(|| toml::Value::String(kind.to_string()));
        }
    }
}

/// Where an error about `key` comes from: the `--set` that wrote the key (or a section's kind
/// that changed what the key means), else the file.
fn blame(file: &Path, overrides: &[String], key: &str) -> PathBuf {
    let section = key.split('.').next().unwrap_or("");
    let set_key = |item: &String| {
        item.split_once('=')
            .map_or("", |(k, _)| k.trim())
            .to_string()
    };
    let exact = |set: &str| {
        !set.is_empty()
            && (key == set
                || key.starts_with(&format!("{set}."))
                || key.starts_with(&format!("{set}[")))
    };
    // The --set of the key itself (the last, as it wins); else one that changed the section's
    // kind (and so what the key means).
    overrides
        .iter()
        .rev()
        .find(|item| exact(&set_key(item)))
        .or_else(|| {
            overrides
                .iter()
                .rev()
                .find(|item| set_key(item) == format!("{section}.kind"))
        })
        .map_or_else(|| file.to_path_buf(), |item| set_source(file, item))
}

/// How an error names a `--set` as its source: `exp.toml (--set a.b=1)`.
fn set_source(file: &Path, item: &str) -> PathBuf {
    PathBuf::from(format!("{} (--set {item})", file.display()))
}

/// A section's keys read by its kind's type: fine, or (the key's path inside the section, what
/// serde said).
type Probed = Result<(), (String, String)>;

/// Reads `section`'s keys into the config type of its `kind` alone, giving (path, message) of
/// the first error: serde cannot follow a path through a tagged section.
struct SectionProbe(toml::Table);

impl apical_core::KindVisitor for SectionProbe {
    type Output = Probed;
    fn visit<T: serde::de::DeserializeOwned>(self) -> Self::Output {
        let mut keys = self.0;
        keys.remove("kind");
        serde_path_to_error::deserialize::<_, T>(toml::Value::Table(keys))
            .map(|_| ())
            .map_err(|e| {
                let path = e.path().to_string();
                (path, e.into_inner().message().trim().replace('\n', " "))
            })
    }
}

/// The section's kind, and its keys read by the config type of that kind.
fn probe_section(table: &toml::Table, section: &str) -> Option<(String, Probed)> {
    let keys = table.get(section)?.as_table()?.clone();
    let kind = keys.get("kind")?.as_str()?.to_string();
    let probe = SectionProbe(keys);
    let result = match section {
        "model" => ModelConfig::visit_kind(&kind, probe),
        "task" => TaskConfig::visit_kind(&kind, probe),
        "rule" => RuleConfig::visit_kind(&kind, probe),
        _ => None,
    };
    let result = match result {
        Some(r) => r,
        // A kind this section does not have: the error is the kind's.
        None if ["model", "task", "rule"].contains(&section) => Err(("kind".into(), String::new())),
        // A section whose kinds carry their keys inline (the optimizer): no probe.
        None => return None,
    };
    Some((kind, result))
}

/// An error serde placed at a whole tagged section (`model`, `task`, `rule`), placed at the key
/// inside it: `model.activation`, `task.contexts[0]`, `rule.beta`.
fn inside_section(table: &toml::Table, key: String, message: String) -> (String, String) {
    let Some((kind, Err((inner, inner_message)))) = probe_section(table, &key) else {
        // Without a probe, an unknown key is still named by serde's message.
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
            .filter(|_| !key.is_empty() && !key.contains('.'))
            .map(str::to_string);
        return match unknown {
            Some(field) => (format!("{key}.{field}"), message),
            None => (key, message),
        };
    };
    if inner == "kind" {
        // An unknown kind: serde's message lists the kinds.
        return (format!("{key}.kind"), message);
    }
    let inner_message = if inner_message.ends_with("there are no fields") {
        format!(
            "{key}.kind = \"{kind}\" takes no other keys ({})",
            inner_message.trim_end_matches(", there are no fields")
        )
    } else {
        inner_message
    };
    let full = if inner.is_empty() || inner == "." {
        key
    } else {
        format!("{key}.{inner}")
    };
    (full, inner_message)
}

/// A `--set` replaces what the file says where the file's other keys would contradict it:
/// `--set <section>.kind=…` drops the file's keys of that section the new kind does not take,
/// and `--set training.epochs` drops the file's `training.steps` (and the reverse). Returns a
/// note for each key dropped.
fn replace_by_set(table: &mut toml::Table, file: &toml::Table, set_keys: &[&str]) -> Vec<String> {
    let mut notes = Vec::new();
    for (mine, other) in [("epochs", "steps"), ("steps", "epochs")] {
        let set_mine = set_keys.contains(&format!("training.{mine}").as_str());
        let set_other = set_keys.contains(&format!("training.{other}").as_str());
        let in_file = file.get("training").and_then(|t| t.get(other)).is_some();
        if set_mine && !set_other && in_file {
            if let Some(toml::Value::Table(t)) = table.get_mut("training") {
                t.remove(other);
                notes.push(format!(
                    "--set training.{mine} replaces the file's training.{other}"
                ));
            }
        }
    }
    for (section, default_kind) in [("model", "ff"), ("task", ""), ("rule", "backprop")] {
        let kind_key = format!("{section}.kind");
        // The file's kind, or the kind a section without one defaults to.
        let file_kind = match file.get(section) {
            Some(t) => t
                .get("kind")
                .and_then(toml::Value::as_str)
                .unwrap_or(default_kind)
                .to_string(),
            None => continue,
        };
        if !set_keys.contains(&kind_key.as_str()) || file_kind.is_empty() {
            continue;
        }
        let Some(toml::Value::Table(keys)) = table.get(section).cloned() else {
            continue;
        };
        let Some(kind) = keys
            .get("kind")
            .and_then(toml::Value::as_str)
            .map(str::to_string)
        else {
            continue;
        };
        // Each key of the file alone with the new kind: the ones it reports as unknown are the
        // old kind's (a key the user set is kept, and refused as usual if wrong).
        let mut dropped = Vec::new();
        for (field, value) in &keys {
            let full = format!("{section}.{field}");
            if field == "kind" || set_keys.contains(&full.as_str()) {
                continue;
            }
            let mut alone = toml::Table::new();
            alone.insert("kind".into(), toml::Value::String(kind.clone()));
            alone.insert(field.clone(), value.clone());
            let mut probe_table = toml::Table::new();
            probe_table.insert(section.into(), toml::Value::Table(alone));
            let unknown = matches!(
                probe_section(&probe_table, section),
                Some((_, Err((_, message)))) if message.starts_with(&format!("unknown field `{field}`"))
            );
            if unknown {
                if let Some(toml::Value::Table(t)) = table.get_mut(section) {
                    t.remove(field);
                }
                dropped.push(full);
            }
        }
        if !dropped.is_empty() {
            notes.push(format!(
                "--set {kind_key}={kind}: dropped the file's {} ({} of {file_kind} that {kind} does not take)",
                dropped.join(", "),
                if dropped.len() == 1 { "a key" } else { "keys" },
            ));
        }
    }
    notes
}

/// Applies one `key.path=value` override to a TOML table.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), InvalidParameter> {
    let Some((key, raw)) = item.split_once('=') else {
        return Err(InvalidParameter::new(item, "--set expects key.path=value"));
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err(InvalidParameter::new(
            key,
            "--set expects a dotted key such as training.steps",
        ));
    }
    let value = parse_value(raw.trim());
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    let mut current = table;
    for (depth, part) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(InvalidParameter::new(
                    parts[..=depth].join("."),
                    "is a value, not a section; cannot set a key inside it",
                ))
            }
        };
    }
    current.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// A `--set key.path=value` item as (key, TOML value) — what a sweep file's `[set]` holds.
pub fn split_override(item: &str) -> Result<(String, toml::Value), InvalidParameter> {
    let mut probe = toml::Table::new();
    apply_override(&mut probe, item)?;
    let (key, raw) = item.split_once('=').expect("checked by apply_override");
    Ok((key.trim().to_string(), parse_value(raw.trim())))
}

/// A `--set` value: TOML syntax (`3`, `1e-3`, `true`, `[64, 32]`, `"x"`), else a bare string.
fn parse_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// The default run directory: `runs/<name>-<UTC timestamp>`.
pub fn default_run_dir(name: &str) -> PathBuf {
    PathBuf::from("runs").join(format!("{name}-{}", utc_timestamp()))
}

/// `YYYYMMDD-HHMMSS` in UTC, now.
pub fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::provenance::compact_utc(secs)
}

mod phases;
pub mod schema;
pub use phases::{Phase, PHASE_TASK_KEYS};

#[cfg(test)]
mod tests;
