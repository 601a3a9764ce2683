//! `apical config schema`: every key of every section and kind, with its type, its default
//! and what it means. Types and defaults are read from the config types themselves (each kind
//! built from `kind = …` alone and written back out), so they cannot drift; the meanings are
//! the table below, which a test holds to the keys the types have.

use apical_learn::{OptimizerConfig, RuleConfig};
use apical_nn::ModelConfig;
use apical_tasks::TaskConfig;

use crate::ExperimentConfig;

/// One key of the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaKey {
    /// `model.hidden`, `training.steps`.
    pub key: String,
    /// The kinds of its section that take it (`ff, gfn`), empty for untagged sections.
    pub kinds: Vec<String>,
    /// `integer`, `float`, `string`, `boolean`, `array`, `table`.
    pub kind_of_value: String,
    /// The default as TOML, or `(absent)` for an optional key, `(required)` for one without.
    pub default: String,
    /// What it means.
    pub meaning: String,
}

/// Keys that are absent unless set (optional), with their type.
const OPTIONAL: &[(&str, &str)] = &[
    ("name", "string"),
    ("training.steps", "integer"),
    ("training.epochs", "integer"),
    ("training.patience", "integer"),
    ("training.init_from", "string"),
    ("training.init_layers", "array"),
    ("training.freeze", "array"),
    ("training.phases", "array of tables"),
    ("logging.record_at", "array"),
    ("task.train_per_class", "integer or \"all\""),
    ("task.validation_per_class", "integer"),
    ("task.cv_folds", "integer"),
    ("task.cv_fold", "integer"),
];

fn value_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "string",
        toml::Value::Integer(_) => "integer",
        toml::Value::Float(_) => "float",
        toml::Value::Boolean(_) => "boolean",
        toml::Value::Datetime(_) => "datetime",
        toml::Value::Array(_) => "array",
        toml::Value::Table(_) => "table",
    }
}

/// The keys (with defaults) of one kind of a tagged section, read through `T`.
fn kind_keys<T: serde::de::DeserializeOwned + serde::Serialize>(
    kind: &str,
    extra: &str,
) -> toml::Table {
    let text = format!("kind = \"{kind}\"\n{extra}");
    let value: T = toml::from_str(&text).unwrap_or_else(|e| {
        panic!("schema: kind {kind} with only its required keys must parse: {e}")
    });
    let mut table: toml::Table = toml::Value::try_from(&value)
        .expect("a config serialises")
        .try_into()
        .expect("a section is a table");
    table.remove("kind");
    table
}

/// Every key, section by section (tagged sections merged over their kinds).
pub fn schema() -> Vec<SchemaKey> {
    let mut out: Vec<SchemaKey> = Vec::new();
    // Per key, the default of each kind that takes it.
    let mut by_kind: Vec<Vec<(String, String)>> = Vec::new();
    let mut add = |section: &str, kind: Option<&str>, table: toml::Table| {
        for (k, v) in table {
            let key = format!("{section}.{k}");
            let default = v.to_string();
            match out.iter().position(|e| e.key == key) {
                Some(i) => {
                    if let Some(kind) = kind {
                        out[i].kinds.push(kind.to_string());
                        by_kind[i].push((kind.to_string(), default));
                    }
                }
                None => {
                    out.push(SchemaKey {
                        meaning: meaning(&key).to_string(),
                        key,
                        kinds: kind.map(|k| vec![k.to_string()]).unwrap_or_default(),
                        kind_of_value: value_type(&v).to_string(),
                        default: default.clone(),
                    });
                    by_kind.push(
                        kind.map(|k| vec![(k.to_string(), default)])
                            .unwrap_or_default(),
                    );
                }
            }
        }
    };
    let kind_key = |section: &str, kinds: &[&str]| SchemaKey {
        key: format!("{section}.kind"),
        kinds: Vec::new(),
        kind_of_value: "string".into(),
        default: String::new(),
        meaning: format!(
            "{} (one of: {})",
            meaning(&format!("{section}.kind")),
            kinds.join(", ")
        ),
    };
    let mut head = vec![kind_key("task", TaskConfig::KINDS)];
    head[0].default = "(required)".into();
    for &kind in TaskConfig::KINDS {
        let extra = if kind == "idx" {
            "path = \"DIR\"\n"
        } else {
            ""
        };
        add("task", Some(kind), kind_keys::<TaskConfig>(kind, extra));
    }
    let mut model_kind = kind_key("model", ModelConfig::KINDS);
    model_kind.default = "\"ff\"".into();
    for &kind in ModelConfig::KINDS {
        add("model", Some(kind), kind_keys::<ModelConfig>(kind, ""));
    }
    let mut rule_kind = kind_key("rule", RuleConfig::KINDS);
    rule_kind.default = "\"backprop\" (\"none\" for the sampling model)".into();
    for &kind in RuleConfig::KINDS {
        add("rule", Some(kind), kind_keys::<RuleConfig>(kind, ""));
    }
    let mut optimizer_kind = kind_key("optimizer", &["adam", "sgd"]);
    optimizer_kind.default = "\"adam\"".into();
    for kind in ["adam", "sgd"] {
        add(
            "optimizer",
            Some(kind),
            kind_keys::<OptimizerConfig>(kind, ""),
        );
    }
    let base = ExperimentConfig::parse(
        "[task]\nkind = \"digits\"\n",
        std::path::Path::new("schema"),
        &[],
    )
    .expect("the smallest config parses");
    let whole: toml::Table = base.to_toml().parse().expect("a written config parses");
    for section in ["training", "logging", "backend"] {
        if let Some(toml::Value::Table(t)) = whole.get(section) {
            let mut t = t.clone();
            if section == "training" {
                // Written because the smallest config falls back to it: listed as optional.
                t.remove("steps");
            }
            add(section, None, t);
        }
    }
    for (entry, defaults) in out.iter_mut().zip(&by_kind) {
        if defaults.iter().any(|(_, d)| *d != defaults[0].1) {
            entry.default = defaults
                .iter()
                .map(|(k, d)| format!("{k}: {d}"))
                .collect::<Vec<_>>()
                .join(", ");
        }
        if entry.key == "task.path" {
            entry.default = "(required)".into();
        }
    }
    // The kind keys first in their section, the optional keys where they belong.
    for k in [head.remove(0), model_kind, rule_kind, optimizer_kind] {
        let at = out
            .iter()
            .position(|e| {
                e.key
                    .starts_with(&format!("{}.", k.key.split('.').next().unwrap_or("")))
            })
            .unwrap_or(out.len());
        out.insert(at, k);
    }
    for &(key, ty) in OPTIONAL {
        if out.iter().any(|e| e.key == key) {
            continue;
        }
        let section = key.split('.').next().unwrap_or("");
        let at = out
            .iter()
            .rposition(|e| e.key.starts_with(&format!("{section}.")))
            .map_or(0, |i| i + 1);
        out.insert(
            at,
            SchemaKey {
                key: key.to_string(),
                kinds: Vec::new(),
                kind_of_value: ty.to_string(),
                default: if key == "training.steps" {
                    format!(
                        "(absent: {} steps unless training.epochs)",
                        crate::DEFAULT_STEPS
                    )
                } else {
                    "(absent)".into()
                },
                meaning: meaning(key).to_string(),
            },
        );
    }
    out
}

/// The schema as text: one block per key.
pub fn schema_text() -> String {
    let mut out = String::from(
        "# Every config key: type, default, the kinds of its section that take it, meaning.\n\
         # Sections with `kind` (task, model, rule, optimizer) take only their kind's keys.\n",
    );
    let mut section = String::new();
    for k in schema() {
        let s = if k.key.contains('.') {
            k.key.split('.').next().unwrap_or("").to_string()
        } else {
            String::new()
        };
        if s != section {
            section = s;
            if !section.is_empty() {
                out.push_str(&format!("\n[{section}]\n"));
            }
        }
        let kinds = if k.kinds.is_empty() {
            String::new()
        } else {
            format!("  [{}]", k.kinds.join(", "))
        };
        out.push_str(&format!(
            "{}  ({}, default {}){kinds}\n    {}\n",
            k.key, k.kind_of_value, k.default, k.meaning
        ));
    }
    out
}

/// What `key` means ("" for a key the table lacks: a test refuses that).
fn meaning(key: &str) -> &'static str {
    MEANINGS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, m)| m)
}

const MEANINGS: &[(&str, &str)] = &[
    ("optimizer.kind", "The optimizer that turns the rule's updates into weight changes"),
    ("rule.kind", "The learning rule"),
    ("model.kind", "The network"),
    ("task.kind", "The task"),
    ("name", "Run name; names the run directory (default: the config file's stem)."),
    ("task.test_fraction", "Fraction of the images held out for testing, in (0, 1)."),
    ("task.split_seed", "Seed of the train/test split (independent of the training seed, so every run of every model sees the same split by default)."),
    ("task.subset_seed", "Seed of the labelled-subset draw (one draw per seed, nested across train_per_class; \"training\": the run's training.seed)."),
    ("task.image_size", "Image side in pixels."),
    ("task.frames", "Frames per trial (100 ms each)."),
    ("task.contexts", "Contexts trained and tested (\"cardinal\", \"oblique\"); trials alternate between them."),
    ("task.signal_levels", "Signed signal levels in percent; must include 0."),
    ("task.noise_std", "Standard deviation of the white pixel noise."),
    ("task.contrast", "Peak amplitude c of the grating."),
    ("task.wavelength", "Grating wavelength λ in pixels."),
    ("task.envelope_sigma", "Gaussian envelope σ_env in pixels."),
    ("task.context_cue", "Append a one-hot context cue [cardinal, oblique] to each input."),
    ("task.n_train", "Training trials (orientation), or only the first n_train training images (idx, mnist; all when absent)."),
    ("task.n_test", "Test trials (orientation), or only the first n_test test images (idx, mnist; all when absent)."),
    ("task.seed", "Seed of the stimuli (independent of the training seed unless the config says seed = \"training\", which the run-level config resolves to training.seed)."),
    ("task.trials", "Where training trials come from: \"fixed\" (the n_train trials, reused every epoch) or \"stream\" (fresh trials every batch from the seeded generator)."),
    ("task.path", "Directory holding the four IDX files."),
    ("task.layout", "BCI: how the decoder's dimensions make a hit: \"pattern\" (each of the task.dims ensemble pairs at its target level at once) or \"centre-out\" (task.dims = 2: one cursor on the plane, a target direction per trial shown as a cue, reached along it)."),
    ("task.directions", "BCI centre-out: the number of target directions, evenly spaced around the circle (≥ 2)."),
    ("task.targets", "BCI pattern layout: \"up\" (every dimension's target up, every trial) or \"cued\" (a direction ±1 per dimension drawn each trial and shown to the network beside the gratings) or \"mapped\" (a Gaussian cue of task.cue_dims values each trial, directions sign(T·x) for a teacher T drawn from the seed: a large map to learn)."),
    ("task.cue_dims", "BCI with targets = \"mapped\": the width D of each trial's Gaussian cue x (the target directions are sign(T·x) for a teacher T drawn from the seed)."),
    ("task.dims", "BCI: decoder dimensions K (1–32), each read from its own P+ and P− ensembles; the dendritic rule's higher area sends the K-dimensional error."),
    ("task.travel", "BCI: decoder SDs from the start bin's lower edge to the target level θ (the cursor's scale)."),
    ("task.criterion", "BCI: success rate over the last criterion_window trials that counts as learned (trials_to_criterion in summary.json)."),
    ("task.criterion_window", "BCI: trials the criterion's success rate is taken over (probe trials, when task.probe_every > 0)."),
    ("task.probe_every", "BCI: every P-th trial is a probe without plasticity (no update, not recorded in the day arrays; the criterion is then taken over the probes; 0: none)."),
    ("task.p_plus", "Units in P+ (their activity moves the cursor toward the target; per dimension)."),
    ("task.p_minus", "Units in P− (their activity moves it away)."),
    ("task.chance", "Hit rate of spontaneous activity the threshold is calibrated to, in (0, 1)."),
    ("task.days", "Training days."),
    ("task.trials_per_day", "Trials per day."),
    ("task.max_steps", "Steps before a trial times out."),
    ("task.smooth", "Steps the decoder averages over."),
    ("task.bin_deg", "Degrees per cursor bin."),
    ("task.target_deg", "Angle from the start to the target, a whole number of bins."),
    ("task.start_deg", "The grating's start angle."),
    ("task.baseline_trials", "Trials of the baseline block that calibrates the decoder."),
    ("task.channels", "Orientation channels of the visual code."),
    ("task.tuning", "von Mises concentration κ of the channels."),
    ("task.train_per_class", "Labelled training examples per class (None: the whole training split)."),
    ("task.validation_per_class", "Validation examples per class, drawn from the training examples not chosen (for tuning and early stopping."),
    ("task.cv_folds", "Cross-validation inside the labelled set: each class's train_per_class examples split into this many folds (needs cv_fold; not with validation_per_class)."),
    ("task.cv_fold", "The fold held out as the validation split (0 … cv_folds − 1; needs cv_folds)."),
    ("model.hidden", "Hidden-layer widths, bottom to top (may be empty: a linear readout)."),
    ("model.bias", "Whether every layer has a bias (ff; Song et al. 2024's networks have none)."),
    ("model.init", "Initial weights (ff): \"uniform\" (U(±1/√fan_in), weights and biases) or \"xavier\" (Glorot uniform U(±√(6/(fan_in + fan_out))), biases 0)."),
    ("model.activation", "Rate function: \"relu\", \"tanh\", \"sigmoid\" or \"linear\"."),
    ("model.rate_noise", "Private noise after the rate function (ff, gfn; refused with predictive coding, whose inference draws only noise_std), rate-scaled like a spike count's: each hidden rate r becomes r + σ_r·√r·ε at every step, sent up and recorded, whenever unit noise is on (training, recordings); 0: none."),
    ("model.noise_std", "Unit noise σ added to every hidden unit's input (ff) or soma (gfn, bci) during training and in recordings."),
    ("model.steps", "Recurrent inference steps T after the bottom-up sweep."),
    ("model.engagement", "Engagement gain γ: how much top-down input reaches the soma (gfn; 0 = passive) or the higher area's drive to the tuft (bci; 0 = anaesthesia)."),
    ("model.apical_inhibition", "Apical inhibition in [0, 1] (1 = apical compartments silenced)."),
    ("model.top_down", "Top-down (apical) weights: \"generative\" (learned to predict the layer below's basal drive), \"tied\" (Wᵀ of the layer above), \"fixed-random\" or \"kolen-pollack\"."),
    ("model.top_down_rate", "Step size of the generative top-down learning (normalised LMS), in (0, 2)."),
    ("model.top_down_decay", "Per-update decay of the Kolen–Pollack top-down and forward weights, in [0, 1)."),
    ("model.apical_fit_rate", "Step size of the online least-mean-squares fit of each unit's apical prediction (k, m) after every update, in (0, 1]: keeps the dendritic residual current."),
    ("model.frames", "Frames presented over time: 1 shows the whole input at every step of inference; F > 1 splits it into F frames and step t sees the running mean of frames 0 … t (needs steps ≥ F − 1; the orientation task's frames must match)."),
    ("model.context_feedback", "Context-specific feedback: the top layer's apical dendrites receive the belief about the choice times each context-cue input, so the top-down weights can differ by context (needs frames > 1)."),
    ("model.units", "Units: of the recorded layer (bci: P+, P− and P0 together) or sensory units N (sampling: preferred orientations evenly spaced over 180°)."),
    ("model.apical_noise", "Private apical noise σ_a."),
    ("model.bap", "Back-propagating coupling c of the rate into the tuft."),
    ("model.delta", "Top-down coupling δ from the belief about the choice to the sensory layer (0: none)."),
    ("model.prior_sd", "Prior standard deviation τ of each sensory unit."),
    ("model.pixel_noise", "Pixel noise σ_y of the generative model."),
    ("model.sweeps", "Joint samples of (C, x) per frame (C from the exact belief, x given C and the frame)."),
    ("model.samples_per_bin", "The response in a time bin: the mean of the frame's last this many samples of x (1 … sweeps)."),
    ("model.feedback_delay", "Frames by which the top-down signal lags: 0 (the belief including the current frame) or 1 (the belief before it)."),
    ("model.prior_b", "Prior probability π of the choice b (the context's second orientation)."),
    ("rule.decay", "Per-step decay λ of forward and feedback weights, in [0, 1)."),
    ("rule.beta", "Burst sensitivity β (> 0)."),
    ("rule.q_rate", "Step size of the normalised-LMS learning of the cancellation weights Q, used with fixed-random top-down weights (0 ≤ η < 2)."),
    ("rule.through_inference", "Learn from the activity at the end of the T-step inference (engaged feedback included) rather than from the bottom-up sweep."),
    ("rule.credit_rate", "On the bci model: rate α of each unit's credit statistics, from which its top-down weights are learned (0 < α ≤ 1)."),
    ("rule.credit", "On the bci model: whose credit each tuft receives: \"own\" (vectorized) or \"permuted\" (the control: the learned top-down weights permuted across units every step)."),
    ("rule.mode", "\"discriminative\" (labels nudge the output) or \"generative\" (unlabelled: the network learns to predict its input top-down)."),
    ("rule.steps", "Inference steps T per update."),
    ("rule.inference_rate", "Inference step size α, in (0, 1]."),
    ("rule.nudge", "Weight ν of the output error (> 0."),
    ("rule.generative_rate", "Step size of the generative weights (generative mode), in (0, 2)."),
    ("rule.inference_schedule", "\"fixed\" (α every inference step) or \"halve-on-rise\" (Song et al. 2024: α halved after each step that did not lower the energy; discriminative mode)."),
    ("rule.sigma", "Perturbation / exploration noise σ (> 0) added to every unit's input (reward-broadcast)."),
    ("rule.variant", "\"node-perturbation\" (loss change against a clean pass."),
    ("rule.repeats", "Exploratory repeats K of each stimulus (exploratory Hebb), at least 2."),
    ("rule.baseline_rate", "Rate of the running baseline (R̄ of the reward; s̄ of the bci error decrease) in closed-loop (reward-only) learning, in (0, 1]."),
    ("rule.signal", "On the bci model: the scalar broadcast to every unit: \"error-change\" (the summed error decrease every step, less its running mean at rule.baseline_rate) or \"reward\" (1 at a hit, else 0, with eligibility traces)."),
    ("rule.trace_decay", "On the bci model with signal = \"reward\": per-step decay λ of the eligibility traces, in [0, 1)."),
    ("optimizer.beta1", "First-moment decay β₁."),
    ("optimizer.beta2", "Second-moment decay β₂."),
    ("optimizer.epsilon", "ε in the denominator."),
    ("optimizer.weight_decay", "L2 weight decay λ (gradient += λ·w)."),
    ("optimizer.momentum", "Momentum μ in [0, 1)."),
    ("training.batch_size", "Examples per update."),
    ("training.learning_rate", "Learning rate."),
    ("training.loss", "The objective of labelled training: \"cross-entropy\" (of softmax(out)) or \"squared-error\" (½‖out − y‖² on the linear readout, Song et al. 2024); backprop, feedback-alignment, kolen-pollack and discriminative predictive-coding."),
    ("training.loss_reduction", "\"mean\" (the loss averaged over the batch) or \"sum\" (Song et al. 2024: with plain SGD a step is batch_size times a mean's)."),
    ("training.seed", "Seed of the initial weights, batch order and unit noise."),
    ("training.eval_every", "Evaluate (and log) every this many steps, and at the end."),
    ("training.eval_train_examples", "Training examples used for the train-split metrics (a fixed subset)."),
    ("training.checkpoint_every", "Write a checkpoint every this many steps, and at the end."),
    ("training.keep_checkpoints", "Checkpoints kept on disk (the newest ones)."),
    ("training.diagnostics_every", "Compare the rule's update with backprop's gradient every this many steps (the diagnostics cost an extra backward pass."),
    ("training.steps", "Number of updates. Give steps or epochs, not both; a --set of one replaces the other."),
    ("training.epochs", "Number of passes over the training set."),
    ("training.patience", "Early stopping: end training once this many evaluations in a row have not bettered the best validation evaluation (highest validation accuracy, ties broken by the lower validation loss); needs task.validation_per_class."),
    ("training.init_from", "Start from the weights of another run: its directory (the newest checkpoint of a finished run) or one of its checkpoints (<run>/checkpoints/step-N); stored absolute."),
    ("training.init_layers", "The layers init_from loads (0 = the first hidden layer's incoming weights, …, the last = the readout)."),
    ("training.freeze", "Layers that are not trained (numbered like init_layers): every parameter of the layer is held at its initial value."),
    ("training.phases", "A curriculum: consecutive [[training.phases]] of steps each, on the task changed by the phase's task table; the run's length is their sum."),
    ("logging.tensorboard", "Write a TensorBoard event file with the metrics."),
    ("logging.plots", "Write the plots (learning curve; psychometric curve for perceptual tasks; success by day for the BCI) as PNG and SVG."),
    ("logging.probe_examples", "Probe trials whose hidden-unit responses are recorded to activity/*.npy at the end (0 records nothing)."),
    ("logging.frozen_images", "Frozen-noise probe (orientation tasks): zero-signal images per context, each shown logging.frozen_repeats times, recorded beside every probe recording under frozen/ (0: none); apical analyze reads its within-image covariance as internal_redundancy."),
    ("logging.frozen_repeats", "Presentations of each frozen-noise image (at least 2; default 50)."),
    ("logging.record_days", "BCI: write each day's recordings of every trial (activity/day-<d>/, what apical analyze reads); false for tuning runs that need only trials.csv and summary.json."),
    ("logging.record_at", "Training steps at which the probe activity is also recorded, to activity/step-<n>/ (0 = before the first update)."),
    ("backend.kind", "\"ndarray\" (CPU, default) or \"wgpu\" (GPU; Mesa lavapipe on machines without one)."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_meaning_and_every_meaning_a_key() {
        let keys = schema();
        let missing: Vec<&str> = keys
            .iter()
            .filter(|k| k.meaning.is_empty())
            .map(|k| k.key.as_str())
            .collect();
        assert!(missing.is_empty(), "keys without a meaning: {missing:?}");
        for (key, _) in MEANINGS {
            assert!(
                keys.iter().any(|k| k.key == *key),
                "a meaning for no key: {key}"
            );
        }
        let text = schema_text();
        assert!(text.contains("model.hidden") && text.contains("training.patience"));
    }
}
