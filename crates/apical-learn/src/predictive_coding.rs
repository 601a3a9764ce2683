//! `predictive-coding`: iterative inference on prediction errors with local weight updates
//! (Whittington & Bogacz 2017, *Neural Comput*), on the feedforward network and on the gfn.
//!
//! Value nodes x_l are the hidden units' somatic potentials; each layer predicts the one above,
//! μ_l = φ(x_{l−1})·W_l + b_l (x_{−1}: the input), and ε_l = x_l − μ_l. Inference starts from
//! the bottom-up sweep (x = μ, ε = 0) and runs T steps of gradient descent on the energy:
//!
//! ```text
//! discriminative  E = ½Σ_l ‖ε_l‖² + ν·CE(y, softmax(μ_out))      e_out = ν·(y − softmax(μ_out))
//!                 x_l += α·(−ε_l + φ′(x_l) ⊙ e_{l+1}·F_l)        (e_{l+1} = ε_{l+1} or e_out)
//!                 ΔW_l ∝ φ(x_{l−1})ᵀ·ε_l / ν,   ΔW_out ∝ φ(x_top)ᵀ·e_out / ν
//! generative      unlabelled: the levels above also predict the ones below through generative
//!                 weights G (x̂_in = φ(x_0)·G_in, x̂_l = φ(x_{l+1})·G_l), E adds ½Σ‖δ_l‖² for
//!                 those top-down errors δ, inference descends the whole energy, G learns
//!                 ΔG ∝ φ(x_above)ᵀ·δ (normalised), and W learns to predict the inferred states
//!                 (amortised inference, as in hybrid predictive coding); the readout is left alone
//! ```
//!
//! F_l carries the error of the level above down to layer l: W_{l+1}ᵀ on the feedforward network
//! (exact predictive coding), the network's top-down (apical) weights on the gfn, scaled by
//! (1 − apical inhibition) — so on the gfn the apical compartment carries the prediction error.
//! With F = Wᵀ, a small output weight ν and inference run to equilibrium the updates equal
//! backprop's cross-entropy gradient (tested: cosine > 0.99).

use crate::registry::{labelled_only, BoxedRule, RuleSpec};
use apical_core::{check, InvalidParameter};
use apical_nn::ModelConfig;
use apical_nn::{
    normal_matrix, uniform_matrix, without_autodiff, Activation, Classifier, Feedforward,
    GenerativeFeedbackNetwork, SeededRng,
};
use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{LearningRule, StepContext, Update};

use crate::{
    matrices_from_bytes, matrices_to_bytes, one_hot, LayerDiagnostics, Loss, Optimizer,
    OptimizerStateError, StepReport,
};

/// What the energy contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PcMode {
    /// Supervised: the output is nudged toward the label.
    #[default]
    Discriminative,
    /// Unsupervised: top-down generative predictions of the input and hidden layers; labels are
    /// not used.
    Generative,
}

/// How the inference step size α evolves within one update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InferenceSchedule {
    /// α at every step.
    #[default]
    Fixed,
    /// Song et al. (2024): start at α and halve it after every step that did not lower the
    /// energy E = ½Σ‖ε‖² + ν·loss (the step is kept, not undone); α starts afresh each batch.
    HalveOnRise,
}

/// A layered network predictive coding can train: forward weights, biases, error feedback.
pub trait PcNetwork: Classifier {
    /// The network's layers as predictive coding sees them (on the device without autodiff).
    fn stack(&self) -> PcStack;
    /// Parameter ids of each layer's weight and bias, bottom to top (readout last).
    fn param_ids(&self) -> Vec<(ParamId, Option<ParamId>)>;
    /// Unit noise σ of the hidden layers.
    fn unit_noise(&self) -> f64;
    /// The input the bottom layer is clamped to: the input itself, or with frames presented
    /// over time the mean of every frame (the gfn's last step of inference sees it).
    fn clamped_input(&self, input: Tensor<2>) -> Tensor<2> {
        input
    }
    /// The output error as the top hidden layer's feedback receives it (`input`: the batch as
    /// given): itself, or × the context cue with the gfn's context-specific feedback.
    fn lift_top(&self, error: Tensor<2>, input: &Tensor<2>) -> Tensor<2> {
        let _ = input;
        error
    }
}

/// The weights of a layered network, bottom to top (the last layer is the linear readout).
#[derive(Debug, Clone)]
pub struct PcStack {
    /// W_l, `[d_in_l, d_out_l]`.
    pub weights: Vec<Tensor<2>>,
    /// b_l.
    pub biases: Vec<Option<Tensor<1>>>,
    /// F_l for each hidden layer l: `[d_{l+1}, d_l]`, carries the error above down to l.
    pub feedback: Vec<Tensor<2>>,
    /// Rate function of the hidden units.
    pub activation: Activation,
}

impl PcNetwork for Feedforward {
    fn stack(&self) -> PcStack {
        let net = self.valid();
        let weights: Vec<Tensor<2>> = net.layers.iter().map(|l| l.weight.val()).collect();
        PcStack {
            feedback: weights[1..].iter().map(|w| w.clone().transpose()).collect(),
            biases: net
                .layers
                .iter()
                .map(|l| l.bias.as_ref().map(|b| b.val()))
                .collect(),
            weights,
            activation: net.params.activation,
        }
    }
    fn param_ids(&self) -> Vec<(ParamId, Option<ParamId>)> {
        self.layers
            .iter()
            .map(|l| (l.weight.id, l.bias.as_ref().map(|b| b.id)))
            .collect()
    }
    fn unit_noise(&self) -> f64 {
        self.params.noise_std
    }
}

impl PcNetwork for GenerativeFeedbackNetwork {
    fn stack(&self) -> PcStack {
        let net = self.valid();
        let mut weights: Vec<Tensor<2>> = net.layers.iter().map(|l| l.basal.weight.val()).collect();
        weights.push(net.readout.weight.val());
        let mut biases: Vec<Option<Tensor<1>>> = net
            .layers
            .iter()
            .map(|l| l.basal.bias.as_ref().map(|b| b.val()))
            .collect();
        biases.push(net.readout.bias.as_ref().map(|b| b.val()));
        PcStack {
            weights,
            biases,
            feedback: net
                .layers
                .iter()
                .map(|l| l.apical_weight.val() * (1.0 - l.apical_inhibition))
                .collect(),
            activation: net.layers[0].activation,
        }
    }
    fn param_ids(&self) -> Vec<(ParamId, Option<ParamId>)> {
        let mut ids: Vec<(ParamId, Option<ParamId>)> = self
            .layers
            .iter()
            .map(|l| (l.basal.weight.id, l.basal.bias.as_ref().map(|b| b.id)))
            .collect();
        ids.push((
            self.readout.weight.id,
            self.readout.bias.as_ref().map(|b| b.id),
        ));
        ids
    }
    fn unit_noise(&self) -> f64 {
        self.params.noise_std
    }

    fn clamped_input(&self, input: Tensor<2>) -> Tensor<2> {
        self.frame_view(&input, self.params.steps)
    }
    fn lift_top(&self, error: Tensor<2>, input: &Tensor<2>) -> Tensor<2> {
        GenerativeFeedbackNetwork::lift_top(self, error, input)
    }
}

/// The predictive-coding rule and its state (the generative weights, in generative mode).
#[derive(Debug, Clone)]
pub struct PredictiveCoding {
    /// Discriminative or generative.
    pub mode: PcMode,
    /// Inference steps T per update.
    pub steps: usize,
    /// Inference step size α.
    pub inference_rate: f64,
    /// Weight ν of the output error (discriminative; small ν → backprop's gradient).
    pub nudge: f64,
    /// Step size of the normalised update of the generative weights G (generative mode).
    pub generative_rate: f64,
    /// Fixed α, or halved after each step that did not lower the energy.
    pub inference_schedule: InferenceSchedule,
    /// Compute the per-layer comparison with backprop this step.
    pub diagnose: bool,
    /// The objective whose output error drives inference (discriminative; the driver's, set at
    /// each update).
    pub loss: Loss,
    /// Generative mode: G_in `[d_0, d_in]` then G_l `[d_{l+1}, d_l]` for hidden l below the top.
    generative: Vec<Tensor<2>>,
}

/// Hyper-parameters of [`PredictiveCoding`]; `[rule]` with `kind = "predictive-coding"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcSettings {
    /// "discriminative" (labels nudge the output) or "generative" (unlabelled: the network
    /// learns to predict its input top-down).
    #[serde(default)]
    pub mode: PcMode,
    /// Inference steps T per update.
    #[serde(default = "default_pc_steps")]
    pub steps: usize,
    /// Inference step size α, in (0, 1]. Inference is stable while α·(1 + ‖W‖²·φ′²) < 2: the
    /// default 0.1 suits relu networks, sigmoid units (φ′ ≤ ¼) allow 0.5.
    #[serde(default = "default_inference_rate")]
    pub inference_rate: f64,
    /// Weight ν of the output error (> 0; small ν → backprop's gradient).
    #[serde(default = "default_nudge")]
    pub nudge: f64,
    /// Step size of the generative weights (generative mode), in (0, 2).
    #[serde(default = "default_generative_rate")]
    pub generative_rate: f64,
    /// "fixed" (α every step) or "halve-on-rise" (Song et al. 2024: α halved after each
    /// inference step that did not lower the energy; discriminative mode).
    #[serde(default)]
    pub inference_schedule: InferenceSchedule,
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
fn default_generative_rate() -> f64 {
    0.05
}

impl Default for PcSettings {
    fn default() -> Self {
        Self {
            mode: PcMode::default(),
            steps: default_pc_steps(),
            inference_rate: default_inference_rate(),
            nudge: default_nudge(),
            generative_rate: default_generative_rate(),
            inference_schedule: InferenceSchedule::default(),
        }
    }
}

impl PcSettings {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::at_least_one("steps", self.steps)?;
        check::in_range("inference_rate", self.inference_rate, 0.0, 1.0, true, true)?;
        check::positive("nudge", self.nudge)?;
        if self.inference_schedule == InferenceSchedule::HalveOnRise
            && self.mode == PcMode::Generative
        {
            return Err(InvalidParameter::new(
                "inference_schedule",
                "\"halve-on-rise\" is for discriminative predictive coding (rule.mode = \"discriminative\"); generative mode takes \"fixed\"",
            ));
        }
        check::in_range(
            "generative_rate",
            self.generative_rate,
            0.0,
            2.0,
            true,
            false,
        )
    }
}

impl PredictiveCoding {
    /// The rule for `net`; generative weights (generative mode) are drawn from `seed` on the
    /// host, U(−1/√d, 1/√d). `device` is the network's device without autodiff.
    pub fn new<N: PcNetwork>(net: &N, settings: PcSettings, seed: u64, device: &Device) -> Self {
        assert!(settings.nudge > 0.0, "PredictiveCoding: nudge must be > 0");
        let stack = net.stack();
        let n_hidden = stack.weights.len() - 1;
        let generative = if settings.mode == PcMode::Generative && n_hidden > 0 {
            let mut rng = SeededRng::for_stream(seed, 0x9C);
            // G_l predicts the level below hidden layer l (the input for l = 0) from its rates.
            (0..n_hidden)
                .map(|l| {
                    let [d_below, d_l] = stack.weights[l].dims();
                    uniform_matrix(d_l, d_below, 1.0 / (d_l as f64).sqrt(), &mut rng, device)
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            mode: settings.mode,
            steps: settings.steps,
            inference_rate: settings.inference_rate,
            nudge: settings.nudge,
            generative_rate: settings.generative_rate,
            inference_schedule: settings.inference_schedule,
            diagnose: true,
            loss: Loss::default(),
            generative,
        }
    }

    /// One update of `net` on a batch. In generative mode `labels` are not used.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]` (on the network's device)
    pub(crate) fn step<N: PcNetwork>(
        &mut self,
        net: N,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        mut noise: Option<&mut SeededRng>,
    ) -> (N, StepReport, Vec<LayerDiagnostics>) {
        let given = without_autodiff(input);
        let input = net.clamped_input(given.clone());
        let device = input.device();
        let stack = net.stack();
        let n_layers = stack.weights.len();
        let n_hidden = n_layers - 1;
        let batch = input.dims()[0];
        let b = batch as f64;
        let phi = stack.activation;
        let generative = self.mode == PcMode::Generative && n_hidden > 0;
        let predict = |l: usize, below: Tensor<2>| -> Tensor<2> {
            let mu = below.matmul(stack.weights[l].clone());
            match &stack.biases[l] {
                Some(bias) => mu + bias.clone().unsqueeze::<2>(),
                None => mu,
            }
        };
        // Bottom-up sweep: x = μ (+ unit noise, held fixed through inference).
        let sigma = net.unit_noise();
        let mut noise_terms = Vec::with_capacity(n_hidden);
        let mut x: Vec<Tensor<2>> = Vec::with_capacity(n_hidden);
        let mut rates: Vec<Tensor<2>> = Vec::with_capacity(n_hidden);
        for l in 0..n_hidden {
            let below = if l == 0 {
                input.clone()
            } else {
                rates[l - 1].clone()
            };
            let mut mu = predict(l, below);
            let width = mu.dims()[1];
            let n = match noise.as_deref_mut() {
                Some(rng) if sigma > 0.0 => Some(normal_matrix(batch, width, sigma, rng, &device)),
                _ => None,
            };
            if let Some(n) = &n {
                mu = mu + n.clone();
            }
            noise_terms.push(n);
            rates.push(phi.forward(mu.clone()));
            x.push(mu);
        }
        let top_rate = rates.last().cloned().unwrap_or_else(|| input.clone());
        let logits = predict(n_hidden, top_rate);
        let targets = one_hot(labels, stack.weights[n_hidden].dims()[1], &device);
        let objective = self.loss;
        let loss_labelled: f32 = objective
            .value(logits.clone(), targets.clone())
            .into_scalar();
        let sweep_rates = rates.clone();
        let sweep_logits = logits.clone();
        // Inference.
        let output_error =
            |logits: Tensor<2>| objective.output_error(logits, targets.clone()) * self.nudge;
        let mut eps: Vec<Tensor<2>> = x.iter().map(|t| t.zeros_like()).collect();
        // Generative mode: no label, no output error (the readout is not part of the energy).
        let mut e_out = if generative {
            logits.zeros_like()
        } else {
            output_error(logits)
        };
        let mut td: Vec<Tensor<2>> = Vec::new();
        // α folded into the feedback weights once per update; the bottom layer's prediction
        // (from the clamped input) does not change during inference.
        let alpha = self.inference_rate;
        let feedback: Vec<Tensor<2>> = stack.feedback.iter().map(|f| f.clone() * alpha).collect();
        let generative_t: Vec<Tensor<2>> = self
            .generative
            .iter()
            .map(|g| g.clone().transpose() * alpha)
            .collect();
        let mu_bottom = x.first().cloned();
        // Song et al.'s schedule: α·gain, the gain halved after each step that did not lower
        // the energy (summed over the batch; only its comparisons matter).
        let halving = self.inference_schedule == InferenceSchedule::HalveOnRise && !generative;
        let summed = Loss {
            reduction: crate::Reduction::Sum,
            ..objective
        };
        let energy = |eps: &[Tensor<2>], logits: Tensor<2>| -> f64 {
            let mut e =
                self.nudge * summed.value(logits, targets.clone()).into_scalar::<f32>() as f64;
            for error in eps {
                e += 0.5 * error.clone().powi_scalar(2).sum().into_scalar::<f32>() as f64;
            }
            e
        };
        let mut gain = 1.0f64;
        let mut last_energy = if halving {
            energy(&[], sweep_logits.clone())
        } else {
            0.0
        };
        for t in 0..self.steps {
            if generative {
                td = self.top_down_errors(&input, &x, &rates);
            }
            for l in 0..n_hidden {
                // At the first step the hidden errors are still exactly 0: a hidden layer below
                // another gets no drive from it (the product is skipped, not approximated).
                let silent_above = t == 0 && l + 1 < n_hidden;
                if silent_above && !generative {
                    // x += α·(0 ⊙ φ′(x) − 0): unchanged.
                    continue;
                }
                let mut drive = if silent_above {
                    None
                } else {
                    let error_above = if l + 1 < n_hidden {
                        eps[l + 1].clone()
                    } else {
                        net.lift_top(e_out.clone(), &given)
                    };
                    Some(error_above.matmul(feedback[l].clone()))
                };
                if generative {
                    // Own top-down error (prediction from the layer above) and the error this
                    // layer's generative prediction leaves in the level below.
                    let own = td[l].clone().matmul(generative_t[l].clone());
                    drive = Some(match drive {
                        Some(d) => d + own,
                        None => own,
                    });
                }
                let drive = drive.expect("a drive");
                // x += α·(drive ⊙ φ′(x) − ε  [− δ_{l+1}])
                let mut step =
                    drive * phi.derivative_from_rate(rates[l].clone()) - eps[l].clone() * alpha;
                if generative && l + 1 < n_hidden {
                    step = step - td[l + 1].clone() * alpha;
                }
                if gain != 1.0 {
                    step = step * gain;
                }
                x[l] = x[l].clone() + step;
                rates[l] = phi.forward(x[l].clone());
            }
            for l in 0..n_hidden {
                let mu = if l == 0 {
                    mu_bottom.clone().expect("a hidden layer")
                } else {
                    let mut mu = predict(l, rates[l - 1].clone());
                    if let Some(n) = &noise_terms[l] {
                        mu = mu + n.clone();
                    }
                    mu
                };
                eps[l] = x[l].clone() - mu;
            }
            if !generative {
                let logits = predict(n_hidden, rates[n_hidden - 1].clone());
                if halving {
                    let now = energy(&eps, logits.clone());
                    // Not lower (equal, higher or not a number): halve α for the steps after.
                    if now.partial_cmp(&last_energy) != Some(std::cmp::Ordering::Less) {
                        gain *= 0.5;
                    }
                    last_energy = now;
                }
                e_out = output_error(logits);
            }
        }
        if generative {
            td = self.top_down_errors(&input, &x, &rates);
        }
        // Weight updates (as gradients: −ΔW / batch).
        let ids = net.param_ids();
        let mut grads = GradientsParams::new();
        let mut updates: Vec<Option<Tensor<2>>> = vec![None; n_layers];
        let scale = if generative { 1.0 } else { 1.0 / self.nudge };
        // The batch's share: ÷ batch for a mean (generative mode: always), × 1 for a sum.
        let per_batch = if generative || objective.reduction == crate::Reduction::Mean {
            scale / b
        } else {
            scale
        };
        for l in 0..n_layers {
            let below = if l == 0 {
                input.clone()
            } else {
                rates[l - 1].clone()
            };
            let error = if l < n_hidden {
                eps[l].clone()
            } else if generative {
                continue;
            } else {
                e_out.clone()
            };
            let grad_w = below.transpose().matmul(error.clone()).neg() * per_batch;
            let (weight_id, bias_id) = ids[l];
            if let Some(bias_id) = bias_id {
                grads.register(bias_id, error.sum_dim(0).squeeze::<1>().neg() * per_batch);
            }
            // Kept only for the diagnostics: a second holder of the gradient would make the
            // optimizer's fused update copy it.
            if self.diagnose {
                updates[l] = Some(grad_w.clone());
            }
            grads.register(weight_id, grad_w);
        }
        let loss = if generative {
            let power: f32 = td[0].clone().powi_scalar(2).sum_dim(1).mean().into_scalar();
            // Generative weights: normalised LMS on the inferred rates above.
            for (l, error) in td.iter().enumerate() {
                let above = rates[l].clone();
                let norm: f32 = above.clone().powi_scalar(2).sum_dim(1).mean().into_scalar();
                let delta = above.transpose().matmul(error.clone())
                    * (self.generative_rate / (b * (norm as f64 + 1.0)));
                self.generative[l] = self.generative[l].clone() + delta;
            }
            0.5 * power
        } else {
            loss_labelled
        };
        let diagnostics = if self.diagnose {
            let gradients = backprop_gradients(
                &stack,
                &input,
                &sweep_rates,
                objective.output_gradient(sweep_logits, targets),
            );
            updates
                .iter()
                .zip(&gradients)
                .filter_map(|(u, g)| u.as_ref().map(|u| LayerDiagnostics::compare(u, g)))
                .collect()
        } else {
            Vec::new()
        };
        drop(updates);
        let net = optimizer.step(learning_rate, net, grads);
        (net, StepReport { loss }, diagnostics)
    }

    /// Generative mode: δ_l = (level below hidden layer l) − φ(x_l)·G_l, for every hidden layer
    /// l; the level below is the input for l = 0 and x_{l−1} above that.
    fn top_down_errors(
        &self,
        input: &Tensor<2>,
        x: &[Tensor<2>],
        rates: &[Tensor<2>],
    ) -> Vec<Tensor<2>> {
        (0..self.generative.len())
            .map(|l| {
                let below = if l == 0 {
                    input.clone()
                } else {
                    x[l - 1].clone()
                };
                below - rates[l].clone().matmul(self.generative[l].clone())
            })
            .collect()
    }
}

/// Backprop's gradient (batch mean) of every layer's weights on a bottom-up pass (`rates`:
/// the hidden layers' rates, `output_gradient`: the loss's gradient at the readout's output,
/// [`Loss::output_gradient`]).
pub(crate) fn backprop_gradients(
    stack: &PcStack,
    input: &Tensor<2>,
    rates: &[Tensor<2>],
    output_gradient: Tensor<2>,
) -> Vec<Tensor<2>> {
    let n_layers = stack.weights.len();
    let b = input.dims()[0] as f64;
    let mut delta = output_gradient;
    let mut gradients = vec![delta.zeros_like(); n_layers];
    for l in (0..n_layers).rev() {
        let below = if l == 0 {
            input.clone()
        } else {
            rates[l - 1].clone()
        };
        gradients[l] = below.transpose().matmul(delta.clone()) / b;
        if l > 0 {
            delta = delta.matmul(stack.weights[l].clone().transpose())
                * stack.activation.derivative_from_rate(rates[l - 1].clone());
        }
    }
    gradients
}

impl RuleSpec for PcSettings {
    fn validate(&self) -> Result<(), InvalidParameter> {
        PcSettings::validate(self)
    }
    /// Discriminative mode descends any loss; generative mode uses no label (its objective is
    /// the reconstruction), so a non-default loss there is refused rather than ignored.
    fn trains_with(&self, loss: Loss) -> bool {
        self.mode == PcMode::Discriminative || loss.is_default()
    }
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        labelled_only("predictive-coding", model)?;
        if self.mode == PcMode::Generative && model.hidden().is_empty() {
            return Err(InvalidParameter::new(
                "rule.mode",
                "generative predictive coding needs at least one hidden layer",
            ));
        }
        Ok(())
    }
    fn for_ff(
        &self,
        net: &Feedforward,
        seed: u64,
        device: &Device,
    ) -> Option<BoxedRule<Feedforward>> {
        Some(Box::new(PredictiveCoding::new(net, *self, seed, device)))
    }
    fn for_gfn(
        &self,
        net: &GenerativeFeedbackNetwork,
        seed: u64,
        device: &Device,
    ) -> Option<BoxedRule<GenerativeFeedbackNetwork>> {
        Some(Box::new(PredictiveCoding::new(net, *self, seed, device)))
    }
}

impl<N: PcNetwork> LearningRule<N> for PredictiveCoding {
    fn name(&self) -> &'static str {
        "predictive-coding"
    }

    fn update(
        &mut self,
        net: N,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        labels: &[usize],
    ) -> Update<N> {
        self.diagnose = ctx.diagnose();
        self.loss = ctx.loss();
        let (optimizer, learning_rate, noise) = ctx.parts();
        self.step(net, optimizer, learning_rate, input, labels, Some(noise))
    }

    /// The generative weights as bytes (JSON shapes line, then little-endian f32).
    fn state_bytes(&self) -> Vec<u8> {
        matrices_to_bytes(&self.generative)
    }

    /// Restores the state written by [`state_bytes`](Self::state_bytes) on `device`.
    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        let expected: Vec<[usize; 2]> = self.generative.iter().map(|m| m.dims()).collect();
        self.generative = matrices_from_bytes(bytes, &expected, "generative weights", device)?;
        Ok(())
    }

    /// Whether the rule's state is finite (no NaN or ±inf).
    fn state_is_finite(&self) -> bool {
        crate::matrices_finite(&self.generative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OptimizerConfig;
    use apical_nn::{ndarray_device, FeedforwardConfig, GenerativeFeedbackConfig, TopDown};
    use apical_nn::{FeedforwardParams, GfnParams};

    fn data() -> (Tensor<2>, Vec<usize>) {
        let device = ndarray_device().autodiff();
        let mut rng = SeededRng::new(1);
        let x = normal_matrix(16, 5, 1.0, &mut rng, &device);
        (x, (0..16).map(|i| i % 3).collect())
    }

    fn settings(mode: PcMode, steps: usize, inference_rate: f64, nudge: f64) -> PcSettings {
        PcSettings {
            mode,
            steps,
            inference_rate,
            nudge,
            generative_rate: 0.5,
            inference_schedule: InferenceSchedule::Fixed,
        }
    }

    fn sgd() -> Optimizer {
        OptimizerConfig::Sgd {
            momentum: 0.0,
            weight_decay: 0.0,
        }
        .init()
    }

    fn gfn(inhibition: f64) -> GenerativeFeedbackNetwork {
        GenerativeFeedbackConfig::new(
            5,
            3,
            GfnParams {
                top_down: TopDown::Tied,
                apical_inhibition: inhibition,
                ..GfnParams::layers(vec![7, 6])
            },
        )
        .with_seed(2)
        .init(&ndarray_device().autodiff())
    }

    fn ff(activation: Activation) -> Feedforward {
        FeedforwardConfig::new(
            5,
            3,
            FeedforwardParams {
                activation,
                ..FeedforwardParams::layers(vec![7, 6])
            },
        )
        .with_seed(2)
        .init(&ndarray_device().autodiff())
    }

    /// Whittington & Bogacz 2017: small output weight, inference at equilibrium → backprop.
    #[test]
    fn at_equilibrium_with_a_small_nudge_the_updates_follow_backprop() {
        let (x, y) = data();
        let s = settings(PcMode::Discriminative, 60, 0.3, 1e-3);
        let mut on_ff = PredictiveCoding::new(&ff(Activation::Tanh), s, 0, &ndarray_device());
        let (_, _, diag) = on_ff.step(ff(Activation::Tanh), &mut sgd(), 0.0, x.clone(), &y, None);
        let mut on_gfn = PredictiveCoding::new(&gfn(0.0), s, 0, &ndarray_device());
        let (_, _, diag_gfn) = on_gfn.step(gfn(0.0), &mut sgd(), 0.0, x, &y, None);
        for (name, diag) in [("ff", diag), ("gfn, tied", diag_gfn)] {
            assert_eq!(diag.len(), 3);
            for (l, d) in diag.iter().enumerate() {
                // cosine > 0.99 ⇔ angle < 8.1°
                assert!(
                    d.angle_to_backprop_deg < 8.1,
                    "{name}, layer {l}: {}°",
                    d.angle_to_backprop_deg
                );
            }
        }
        // Far from equilibrium (one step) the lowest layer has received no error yet.
        let mut short = PredictiveCoding::new(
            &ff(Activation::Tanh),
            settings(PcMode::Discriminative, 1, 0.3, 1e-3),
            0,
            &ndarray_device(),
        );
        let (x, y) = data();
        let (_, _, diag) = short.step(ff(Activation::Tanh), &mut sgd(), 0.0, x, &y, None);
        assert_eq!(diag[0].update_norm, 0.0);
    }

    /// Song et al.'s setting: squared error on the linear readout, α = 1 halved after every
    /// step that did not lower the energy. Where fixed α = 1 oscillates (weights × 4: α·‖W‖²
    /// far above the stability bound), the halving still reaches the equilibrium whose updates
    /// are backprop's gradient of the same loss.
    #[test]
    fn halving_the_inference_rate_on_a_rise_reaches_the_backprop_equilibrium_of_the_squared_error()
    {
        let (x, y) = data();
        let loud = || {
            let net = ff(Activation::Tanh);
            let mut net = net.clone();
            for layer in net.layers.iter_mut() {
                layer.weight = layer
                    .weight
                    .clone()
                    .map(|w| (w * 4.0).detach().require_grad());
            }
            net
        };
        let squared = Loss {
            kind: crate::LossKind::SquaredError,
            reduction: crate::Reduction::Sum,
        };
        let angles = |schedule: InferenceSchedule| -> Vec<f64> {
            let s = PcSettings {
                inference_schedule: schedule,
                ..settings(PcMode::Discriminative, 63, 1.0, 1e-3)
            };
            let mut rule = PredictiveCoding::new(&loud(), s, 0, &ndarray_device());
            rule.loss = squared;
            let (_, report, diag) = rule.step(loud(), &mut sgd(), 0.0, x.clone(), &y, None);
            assert!(report.loss.is_finite());
            diag.iter().map(|d| d.angle_to_backprop_deg).collect()
        };
        let halving = angles(InferenceSchedule::HalveOnRise);
        let fixed = angles(InferenceSchedule::Fixed);
        for (l, a) in halving.iter().enumerate() {
            assert!(*a < 8.1, "halve-on-rise, layer {l}: {a}°");
        }
        assert!(
            fixed.iter().any(|a| !a.is_finite() || *a > 20.0),
            "fixed α = 1 was expected to miss the equilibrium: {fixed:?}"
        );
    }

    #[test]
    fn a_summed_loss_makes_the_update_batch_times_the_mean() {
        let (x, y) = data();
        let change = |reduction: crate::Reduction| -> Vec<f32> {
            let s = settings(PcMode::Discriminative, 5, 0.5, 1.0);
            let net = ff(Activation::Sigmoid);
            let before = net.layers[0].weight.val().inner();
            let mut rule = PredictiveCoding::new(&net, s, 0, &ndarray_device());
            rule.loss = Loss {
                kind: crate::LossKind::SquaredError,
                reduction,
            };
            let (after, _, _) = rule.step(net, &mut sgd(), 1.0, x.clone(), &y, None);
            (after.layers[0].weight.val().inner() - before)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()
        };
        let mean = change(crate::Reduction::Mean);
        let sum = change(crate::Reduction::Sum);
        let batch = y.len() as f32;
        assert!(mean.iter().any(|d| *d != 0.0));
        for (m, s) in mean.iter().zip(&sum) {
            // f32 weights: the changes are read back as differences of weights ≈ 0.3.
            assert!(
                (s - batch * m).abs() <= 1e-3 * s.abs() + 1e-6,
                "{s} vs {batch} × {m}"
            );
        }
    }

    #[test]
    fn apical_inhibition_silences_hidden_errors_but_the_readout_still_learns() {
        let (x, y) = data();
        let net = gfn(1.0);
        let before: Vec<Tensor<2>> = net
            .layers
            .iter()
            .map(|l| l.basal.weight.val().inner())
            .collect();
        let readout = net.readout.weight.val().inner();
        let mut rule = PredictiveCoding::new(
            &net,
            settings(PcMode::Discriminative, 5, 0.5, 1.0),
            0,
            &ndarray_device(),
        );
        let (after, _, _) = rule.step(net, &mut sgd(), 0.5, x, &y, None);
        for (l, w) in before.into_iter().enumerate() {
            let change: f32 = (after.layers[l].basal.weight.val().inner() - w)
                .abs()
                .sum()
                .into_scalar();
            assert_eq!(change, 0.0, "hidden layer {l}");
        }
        let change: f32 = (after.readout.weight.val().inner() - readout)
            .abs()
            .sum()
            .into_scalar();
        assert!(change > 0.0);
    }

    #[test]
    fn discriminative_learns_a_small_problem_on_ff_and_gfn() {
        let (x, y) = data();
        let s = settings(PcMode::Discriminative, 5, 0.5, 1.0);
        let mut net = ff(Activation::Relu);
        let mut rule = PredictiveCoding::new(&net, s, 0, &ndarray_device());
        let mut optim = OptimizerConfig::default().init();
        let mut losses = Vec::new();
        for _ in 0..300 {
            let (next, report, _) = rule.step(net, &mut optim, 0.03, x.clone(), &y, None);
            net = next;
            losses.push(report.loss);
        }
        assert!(
            losses[299] < 0.3 * losses[0],
            "ff: {} → {}",
            losses[0],
            losses[299]
        );
        let mut net = gfn(0.0);
        let mut rule = PredictiveCoding::new(&net, s, 0, &ndarray_device());
        let mut optim = OptimizerConfig::default().init();
        let mut losses = Vec::new();
        for _ in 0..600 {
            let (next, report, _) = rule.step(net, &mut optim, 0.02, x.clone(), &y, None);
            net = next;
            losses.push(report.loss);
        }
        assert!(
            losses[599] < 0.5 * losses[0],
            "gfn: {} → {}",
            losses[0],
            losses[599]
        );
    }

    #[test]
    fn generative_mode_learns_to_reconstruct_without_labels() {
        let (x, y) = data();
        let s = settings(PcMode::Generative, 5, 0.2, 1.0);
        let run = |labels: &[usize]| -> (f32, f32, Tensor<2>) {
            let mut net = gfn(0.0);
            let mut rule = PredictiveCoding::new(&net, s, 7, &ndarray_device());
            let mut optim = OptimizerConfig::default().init();
            let mut first = None;
            let mut last = 0.0;
            for _ in 0..400 {
                let (next, report, _) = rule.step(net, &mut optim, 0.03, x.clone(), labels, None);
                net = next;
                first.get_or_insert(report.loss);
                last = report.loss;
            }
            (
                first.unwrap(),
                last,
                net.layers[0].basal.weight.val().inner(),
            )
        };
        let (first, last, w) = run(&y);
        assert!(last < 0.5 * first, "reconstruction energy {first} → {last}");
        // Labels play no part.
        let shuffled: Vec<usize> = y.iter().map(|l| (l + 1) % 3).collect();
        let (_, last_shuffled, w_shuffled) = run(&shuffled);
        assert_eq!(last, last_shuffled);
        let diff: f32 = (w - w_shuffled).abs().sum().into_scalar();
        assert_eq!(diff, 0.0);
    }
}
