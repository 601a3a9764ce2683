//! The experiment config: TOML → checked [`ExperimentConfig`], with `--set key.path=value`
//! overrides. Validation happens here, once, before any work starts.

use std::path::{Path, PathBuf};

use apical_learn::{OptimizerConfig, PcMode};
use apical_nn::{Activation, TopDown};
use apical_tasks::digits::DigitsConfig;
use apical_tasks::idx::IdxConfig;
use apical_tasks::orientation::OrientationConfig;
use apical_tasks::TaskError;
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
}

/// The task (`task.kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TaskConfig {
    /// UCI 8×8 digits (vendored).
    Digits(DigitsConfig),
    /// Orientation discrimination in dynamic noise.
    Orientation(OrientationConfig),
    /// MNIST / Fashion-MNIST from a directory of IDX files.
    Idx(IdxConfig),
}

impl TaskConfig {
    /// The config name of the task kind.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskConfig::Digits(_) => "digits",
            TaskConfig::Orientation(_) => "orientation",
            TaskConfig::Idx(_) => "idx",
        }
    }
}

/// The network (`model.kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// Feedforward baseline (MLP, no top-down input).
    Ff(FeedforwardSection),
    /// Generative-feedback network of two-compartment (dendritic) layers.
    Gfn(GfnSection),
}

/// `[model]` with `kind = "gfn"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GfnSection {
    /// Hidden-layer widths, bottom to top (at least one).
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Recurrent inference steps T after the bottom-up sweep.
    #[serde(default = "default_gfn_steps")]
    pub steps: usize,
    /// Engagement gain γ (0 = passive: top-down input does not reach the soma).
    #[serde(default = "default_engagement")]
    pub engagement: f64,
    /// Apical inhibition in [0, 1] (1 = apical compartments silenced).
    #[serde(default)]
    pub apical_inhibition: f64,
    /// Rate function.
    #[serde(default = "default_gfn_activation")]
    pub activation: Activation,
    /// Unit noise σ added to every hidden soma at every step during training.
    #[serde(default)]
    pub noise_std: f64,
    /// Top-down (apical) weights: "generative" (learned to predict the layer below's basal
    /// drive), "tied" (Wᵀ of the layer above), "fixed-random" or "kolen-pollack".
    #[serde(default)]
    pub top_down: TopDown,
    /// Step size of the generative top-down learning (normalised LMS), in (0, 2).
    #[serde(default = "default_top_down_rate")]
    pub top_down_rate: f64,
    /// Per-update decay of the Kolen–Pollack top-down and forward weights, in [0, 1).
    #[serde(default = "default_kp_decay")]
    pub top_down_decay: f64,
}

fn default_top_down_rate() -> f64 {
    0.05
}

fn default_gfn_steps() -> usize {
    3
}
fn default_engagement() -> f64 {
    1.0
}
fn default_gfn_activation() -> Activation {
    Activation::Sigmoid
}

impl ModelConfig {
    /// The config name of the model kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Ff(_) => "ff",
            ModelConfig::Gfn(_) => "gfn",
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Ff(FeedforwardSection::default())
    }
}

/// `[model]` with `kind = "ff"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedforwardSection {
    /// Hidden-layer widths, bottom to top.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Rate function: "relu", "tanh", "sigmoid" or "linear".
    #[serde(default)]
    pub activation: Activation,
    /// Unit noise σ added to each hidden unit's input during training.
    #[serde(default)]
    pub noise_std: f64,
}

fn default_hidden() -> Vec<usize> {
    vec![128]
}

impl Default for FeedforwardSection {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            activation: Activation::Relu,
            noise_std: 0.0,
        }
    }
}

/// The learning rule (`rule.kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RuleConfig {
    /// Error backpropagation (burn autodiff) on a cross-entropy loss.
    Backprop {},
    /// Feedback alignment (Lillicrap et al. 2016): errors sent down through fixed random
    /// feedback matrices.
    FeedbackAlignment {},
    /// Kolen–Pollack: feedback matrices receive the transposed forward updates; forward and
    /// feedback weights decay by `decay` per step.
    KolenPollack {
        /// Per-step decay λ of forward and feedback weights, in [0, 1).
        #[serde(default = "default_kp_decay")]
        decay: f64,
    },
    /// Per-unit apical teaching signals in one phase (burstprop / BurstCCN family) on `gfn`.
    Dendritic {
        /// Burst sensitivity β.
        #[serde(default = "default_beta")]
        beta: f64,
        /// Step size of the normalised-LMS learning of the cancellation weights Q, used with
        /// fixed-random top-down weights (0 ≤ η < 2).
        #[serde(default = "default_q_rate")]
        q_rate: f64,
        /// Learn from the activity at the end of the T-step inference (engaged feedback
        /// included) rather than from the bottom-up sweep.
        #[serde(default)]
        through_inference: bool,
    },
    /// Predictive coding (Whittington & Bogacz 2017): inference on prediction errors, local
    /// updates; on ff (errors through Wᵀ) or gfn (errors through the top-down weights).
    PredictiveCoding {
        /// "discriminative" (labels nudge the output) or "generative" (unlabelled: the network
        /// learns to predict its input top-down).
        #[serde(default)]
        mode: PcMode,
        /// Inference steps T per update.
        #[serde(default = "default_pc_steps")]
        steps: usize,
        /// Inference step size α, in (0, 1]. Inference is stable while α·(1 + ‖W‖²·φ′²) < 2:
        /// the default 0.1 suits relu networks, sigmoid units (φ′ ≤ ¼) allow 0.5.
        #[serde(default = "default_inference_rate")]
        inference_rate: f64,
        /// Weight ν of the output error (> 0; small ν → backprop's gradient).
        #[serde(default = "default_nudge")]
        nudge: f64,
        /// Step size of the generative weights (generative mode), in (0, 2).
        #[serde(default = "default_top_down_rate")]
        generative_rate: f64,
    },
    /// Reward broadcast: one scalar per trial for every synapse.
    RewardBroadcast {
        /// Perturbation / exploration noise σ (> 0) added to every unit's input.
        #[serde(default = "default_perturbation")]
        sigma: f64,
        /// "node-perturbation" (loss change against a clean pass; Fiete & Seung 2006) or
        /// "exploratory-hebb" (activity and reward relative to their averages over repeats of
        /// the stimulus; Legenstein et al. 2010).
        #[serde(default)]
        variant: RewardVariant,
        /// Exploratory repeats K of each stimulus (exploratory Hebb), at least 2.
        #[serde(default = "default_repeats")]
        repeats: usize,
    },
}

fn default_beta() -> f64 {
    4.0
}
fn default_q_rate() -> f64 {
    0.01
}
/// How `reward-broadcast` turns the reward into an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RewardVariant {
    /// Node perturbation.
    #[default]
    NodePerturbation,
    /// Exploratory Hebb.
    ExploratoryHebb,
}

fn default_repeats() -> usize {
    4
}

fn default_pc_steps() -> usize {
    5
}
fn default_inference_rate() -> f64 {
    0.1
}
fn default_nudge() -> f64 {
    1.0
}

fn default_perturbation() -> f64 {
    0.1
}

fn default_kp_decay() -> f64 {
    1e-3
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig::Backprop {}
    }
}

impl RuleConfig {
    /// The config name of the rule.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleConfig::Backprop {} => "backprop",
            RuleConfig::FeedbackAlignment {} => "feedback-alignment",
            RuleConfig::KolenPollack { .. } => "kolen-pollack",
            RuleConfig::RewardBroadcast { .. } => "reward-broadcast",
            RuleConfig::Dendritic { .. } => "dendritic",
            RuleConfig::PredictiveCoding { .. } => "predictive-coding",
        }
    }
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
            seed: 0,
            eval_every: default_eval_every(),
            eval_train_examples: default_eval_train_examples(),
            checkpoint_every: default_checkpoint_every(),
            keep_checkpoints: default_keep_checkpoints(),
            diagnostics_every: default_diagnostics_every(),
        }
    }
}

/// Default length when neither `steps` nor `epochs` is given.
pub const DEFAULT_STEPS: usize = 1000;

impl TrainingConfig {
    /// Total updates for a training set of `n_train` examples.
    pub fn total_steps(&self, n_train: usize) -> usize {
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
    /// Test examples whose hidden-unit responses are recorded to `activity/*.npy` at the end
    /// (0 records nothing).
    #[serde(default = "default_probe_examples")]
    pub probe_examples: usize,
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
        for item in overrides {
            apply_override(&mut table, item)
                .map_err(|(key, message)| ConfigError::new(path, &key, message))?;
        }
        default_tags(&mut table);
        let config: ExperimentConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                let key = e.path().to_string();
                let key = if key == "." { String::new() } else { key };
                ConfigError::new(
                    path,
                    &key,
                    e.into_inner().message().trim().replace('\n', " "),
                )
            })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::new(path, &key, message))?;
        Ok(config)
    }

    /// Checks values serde cannot: positive sizes and rates, signal levels with 0, … Returns the
    /// dotted key and what was expected.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |key: &str, message: String| Err((key.to_string(), message));
        let task_err = |e: TaskError| match e {
            TaskError::InvalidParameter { key, message } => (format!("task.{key}"), message),
            other => ("task".to_string(), other.to_string()),
        };
        match &self.task {
            TaskConfig::Digits(d) => d.validate().map_err(task_err)?,
            TaskConfig::Orientation(o) => o.validate().map_err(task_err)?,
            TaskConfig::Idx(i) => {
                if i.path.as_os_str().is_empty() {
                    return err(
                        "task.path",
                        "must name the directory holding the IDX files".into(),
                    );
                }
                if i.n_train == Some(0) || i.n_test == Some(0) {
                    return err(
                        if i.n_train == Some(0) {
                            "task.n_train"
                        } else {
                            "task.n_test"
                        },
                        "must be at least 1".into(),
                    );
                }
            }
        }
        match &self.model {
            ModelConfig::Gfn(g) => {
                if g.hidden.is_empty() || g.hidden.contains(&0) {
                    return err(
                        "model.hidden",
                        format!(
                            "needs at least one layer and every width ≥ 1, got {:?}",
                            g.hidden
                        ),
                    );
                }
                if !(g.engagement.is_finite() && g.engagement >= 0.0) {
                    return err(
                        "model.engagement",
                        format!("must be a finite number ≥ 0, got {}", g.engagement),
                    );
                }
                if !(0.0..=1.0).contains(&g.apical_inhibition) {
                    return err(
                        "model.apical_inhibition",
                        format!("must be in [0, 1], got {}", g.apical_inhibition),
                    );
                }
                if !(g.noise_std.is_finite() && g.noise_std >= 0.0) {
                    return err(
                        "model.noise_std",
                        format!("must be a finite number ≥ 0, got {}", g.noise_std),
                    );
                }
                if !(g.top_down_rate > 0.0 && g.top_down_rate < 2.0) {
                    return err(
                        "model.top_down_rate",
                        format!("must be in (0, 2), got {}", g.top_down_rate),
                    );
                }
                if !(0.0..1.0).contains(&g.top_down_decay) {
                    return err(
                        "model.top_down_decay",
                        format!("must be in [0, 1), got {}", g.top_down_decay),
                    );
                }
                match self.rule {
                    RuleConfig::Backprop {} | RuleConfig::PredictiveCoding { .. } => {}
                    RuleConfig::Dendritic { .. } => {
                        if g.activation != Activation::Sigmoid {
                            return err("model.activation", "the dendritic rule needs sigmoid units (event rates in [0, 1]); set model.activation = \"sigmoid\"".into());
                        }
                    }
                    _ => {
                        return err(
                            "rule.kind",
                            format!(
                                "{} trains the ff model only; train gfn with backprop, dendritic or predictive-coding",
                                self.rule.kind()
                            ),
                        )
                    }
                }
            }
            ModelConfig::Ff(ff) => {
                if matches!(self.rule, RuleConfig::Dendritic { .. }) {
                    return err(
                        "rule.kind",
                        "dendritic needs two-compartment units; use model.kind = \"gfn\"".into(),
                    );
                }
                if ff.hidden.contains(&0) {
                    return err(
                        "model.hidden",
                        format!("every width must be at least 1, got {:?}", ff.hidden),
                    );
                }
                if !(ff.noise_std.is_finite() && ff.noise_std >= 0.0) {
                    return err(
                        "model.noise_std",
                        format!("must be a finite number ≥ 0, got {}", ff.noise_std),
                    );
                }
            }
        }
        if let RuleConfig::Dendritic { beta, q_rate, .. } = self.rule {
            if !(beta.is_finite() && beta > 0.0) {
                return err(
                    "rule.beta",
                    format!("must be a finite number > 0, got {beta}"),
                );
            }
            if !(0.0..2.0).contains(&q_rate) {
                return err("rule.q_rate", format!("must be in [0, 2), got {q_rate}"));
            }
        }
        if let RuleConfig::PredictiveCoding {
            mode,
            steps,
            inference_rate,
            nudge,
            generative_rate,
        } = self.rule
        {
            if steps == 0 {
                return err("rule.steps", "must be at least 1".into());
            }
            if !(inference_rate > 0.0 && inference_rate <= 1.0) {
                return err(
                    "rule.inference_rate",
                    format!("must be in (0, 1], got {inference_rate}"),
                );
            }
            if !(nudge.is_finite() && nudge > 0.0) {
                return err(
                    "rule.nudge",
                    format!("must be a finite number > 0, got {nudge}"),
                );
            }
            if !(generative_rate > 0.0 && generative_rate < 2.0) {
                return err(
                    "rule.generative_rate",
                    format!("must be in (0, 2), got {generative_rate}"),
                );
            }
            let hidden = match &self.model {
                ModelConfig::Ff(ff) => ff.hidden.len(),
                ModelConfig::Gfn(g) => g.hidden.len(),
            };
            if mode == PcMode::Generative && hidden == 0 {
                return err(
                    "rule.mode",
                    "generative predictive coding needs at least one hidden layer".into(),
                );
            }
        }
        if let RuleConfig::RewardBroadcast { sigma, repeats, .. } = self.rule {
            if !(sigma.is_finite() && sigma > 0.0) {
                return err(
                    "rule.sigma",
                    format!("must be a finite number > 0, got {sigma}"),
                );
            }
            if repeats < 2 {
                return err("rule.repeats", format!("must be at least 2, got {repeats}"));
            }
        }
        if let RuleConfig::KolenPollack { decay } = self.rule {
            if !(0.0..1.0).contains(&decay) {
                return err("rule.decay", format!("must be in [0, 1), got {decay}"));
            }
        }
        self.optimizer
            .validate()
            .map_err(|(key, message)| (format!("optimizer.{key}"), message))?;
        let t = &self.training;
        if t.steps.is_some() && t.epochs.is_some() {
            return err(
                "training.steps",
                "give training.steps or training.epochs, not both".into(),
            );
        }
        if t.steps == Some(0) {
            return err("training.steps", "must be at least 1".into());
        }
        if t.epochs == Some(0) {
            return err("training.epochs", "must be at least 1".into());
        }
        if t.batch_size == 0 {
            return err("training.batch_size", "must be at least 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return err(
                "training.learning_rate",
                format!("must be a finite number > 0, got {}", t.learning_rate),
            );
        }
        for (key, value) in [
            ("training.eval_every", t.eval_every),
            ("training.checkpoint_every", t.checkpoint_every),
            ("training.keep_checkpoints", t.keep_checkpoints),
            ("training.diagnostics_every", t.diagnostics_every),
            ("training.eval_train_examples", t.eval_train_examples),
        ] {
            if value == 0 {
                return err(key, "must be at least 1".into());
            }
        }
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return err(
                    "name",
                    format!(
                        "must be a plain file name (no '/', not starting with '.'), got {name:?}"
                    ),
                );
            }
        }
        Ok(())
    }

    /// The resolved config as TOML, every default filled in.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an ExperimentConfig always serialises to TOML")
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

/// Sections whose `kind` may be left out: `[model]` defaults to "ff", `[rule]` to "backprop",
/// `[optimizer]` to "adam" (so `--set model.hidden=[64]` works on a config without `[model]`).
fn default_tags(table: &mut toml::Table) {
    for (section, kind) in [("model", "ff"), ("rule", "backprop"), ("optimizer", "adam")] {
        if let Some(toml::Value::Table(t)) = table.get_mut(section) {
            t.entry("kind")
                .or_insert_with(|| toml::Value::String(kind.to_string()));
        }
    }
}

/// Applies one `key.path=value` override to a TOML table.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), (String, String)> {
    let Some((key, raw)) = item.split_once('=') else {
        return Err((item.to_string(), "--set expects key.path=value".into()));
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err((
            key.to_string(),
            "--set expects a dotted key such as training.steps".into(),
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
                return Err((
                    parts[..=depth].join("."),
                    "is a value, not a section; cannot set a key inside it".into(),
                ))
            }
        };
    }
    current.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
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

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
