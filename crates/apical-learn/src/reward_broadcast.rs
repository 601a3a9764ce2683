//! `reward-broadcast`: node perturbation (Williams 1992; Fiete & Seung 2006) — every unit's
//! input is jittered by ξ ~ N(0, σ²), and one scalar per trial, the change in loss the jitter
//! caused, is broadcast to every synapse: `ΔW_l ∝ −(L_perturbed − L_clean)/σ² · a_lᵀ ξ_l`.
//! An unbiased but noisy estimate of the gradient; the neuromodulator contrast to rules with
//! vectorised, per-unit teaching signals.

use crate::registry::{ff_only, BoxedRule, RuleSpec};
use crate::ExploratoryHebb;
use apical_core::{check, InvalidParameter};
use apical_nn::ModelConfig;
use apical_nn::{normal_matrix, without_autodiff, Feedforward, SeededRng};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use burn::tensor::{activation, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{LearningRule, Update};

use crate::{
    one_hot, LayerDiagnostics, Optimizer, OptimizerStateError, RewardLearning, StepContext,
    StepReport,
};

/// `[rule]` with `kind = "reward-broadcast"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardBroadcastConfig {
    /// Perturbation / exploration noise σ (> 0) added to every unit's input.
    #[serde(default = "default_sigma")]
    pub sigma: f64,
    /// "node-perturbation" (loss change against a clean pass; Fiete & Seung 2006) or
    /// "exploratory-hebb" (activity and reward relative to their averages over repeats of the
    /// stimulus; Legenstein et al. 2010).
    #[serde(default)]
    pub variant: RewardVariant,
    /// Exploratory repeats K of each stimulus (exploratory Hebb), at least 2.
    #[serde(default = "default_repeats")]
    pub repeats: usize,
    /// Rate of the running reward baseline R̄ in closed-loop (reward-only) learning, in (0, 1].
    #[serde(default = "default_baseline_rate")]
    pub baseline_rate: f64,
    /// On the bci model: the scalar broadcast to every unit — "error-change" (the error
    /// decrease every step, the same signal the dendritic rule's tufts receive) or "reward"
    /// (1 at a hit, else 0: a neuromodulator; credit through eligibility traces).
    #[serde(default)]
    pub signal: ClosedLoopSignal,
    /// On the bci model with `signal = "reward"`: per-step decay λ of the eligibility traces,
    /// in [0, 1).
    #[serde(default = "default_trace_decay")]
    pub trace_decay: f64,
}

/// The scalar a closed-loop task hands a reward-only rule each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ClosedLoopSignal {
    /// The error decrease of this step.
    #[default]
    ErrorChange,
    /// The reward of this step (1 at a hit, 0 otherwise).
    Reward,
}

fn default_trace_decay() -> f64 {
    0.9
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

fn default_sigma() -> f64 {
    0.1
}
fn default_repeats() -> usize {
    4
}
fn default_baseline_rate() -> f64 {
    0.05
}

impl Default for RewardBroadcastConfig {
    fn default() -> Self {
        Self {
            sigma: default_sigma(),
            variant: RewardVariant::default(),
            repeats: default_repeats(),
            baseline_rate: default_baseline_rate(),
            signal: ClosedLoopSignal::default(),
            trace_decay: default_trace_decay(),
        }
    }
}

impl RewardBroadcastConfig {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::positive("sigma", self.sigma)?;
        if self.repeats < 2 {
            return Err(InvalidParameter::new(
                "repeats",
                format!("must be at least 2, got {}", self.repeats),
            ));
        }
        check::in_range("baseline_rate", self.baseline_rate, 0.0, 1.0, true, true)?;
        check::in_range("trace_decay", self.trace_decay, 0.0, 1.0, false, false)
    }
}

/// Node perturbation with perturbation size σ. With labels ([`LearningRule`](crate::LearningRule)) the reward is
/// the loss change the jitter caused; in a closed loop ([`RewardLearning`]) it is whatever the
/// environment returns ([`RewardLearning`]), compared with a running baseline R̄:
/// `ΔW_l ∝ (R − R̄)/σ² · a_lᵀ ξ_l` (REINFORCE with a baseline; Williams 1992).
#[derive(Debug, Clone)]
pub struct RewardBroadcast {
    /// Standard deviation σ of the perturbation added to every unit's input.
    pub sigma: f64,
    /// Compute the per-layer comparison with backprop this step.
    pub diagnose: bool,
    /// Rate of the running reward baseline R̄ in closed-loop learning, in (0, 1].
    pub baseline_rate: f64,
    /// The running baseline R̄ (none before the first reward).
    baseline: Option<f64>,
    /// What the last `act` jittered: each layer's input a_l and perturbation ξ_l.
    pending: Option<(Vec<Tensor<2>>, Vec<Tensor<2>>)>,
}

impl RewardBroadcast {
    /// Node perturbation with perturbation σ (> 0) and the default baseline rate.
    pub fn new(sigma: f64) -> Self {
        assert!(sigma > 0.0, "RewardBroadcast: sigma must be > 0");
        Self {
            sigma,
            diagnose: true,
            baseline_rate: default_baseline_rate(),
            baseline: None,
            pending: None,
        }
    }

    /// The running reward baseline R̄ of closed-loop learning (none before the first reward).
    pub fn baseline(&self) -> Option<f64> {
        self.baseline
    }
}

impl RewardLearning<Feedforward> for RewardBroadcast {
    fn act(
        &mut self,
        net: &Feedforward,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
    ) -> Vec<Tensor<2>> {
        let input = without_autodiff(input);
        let inner = net.valid();
        let device = input.device();
        let batch = input.dims()[0];
        let n_layers = inner.layers.len();
        let (_, _, rng) = ctx.parts();
        let mut a = input;
        let mut inputs = Vec::with_capacity(n_layers);
        let mut perturbations = Vec::with_capacity(n_layers);
        let mut rates = Vec::with_capacity(n_layers);
        for (l, layer) in inner.layers.iter().enumerate() {
            let width = layer.weight.dims()[1];
            let xi = normal_matrix(batch, width, self.sigma, rng, &device);
            let z = layer.forward(a.clone()) + xi.clone();
            inputs.push(a);
            perturbations.push(xi);
            a = if l + 1 == n_layers {
                z
            } else {
                inner.params.activation.forward(z)
            };
            rates.push(a.clone());
        }
        self.pending = Some((inputs, perturbations));
        rates
    }

    fn reinforce(
        &mut self,
        net: Feedforward,
        ctx: &mut StepContext<'_>,
        reward: &[f32],
    ) -> (Feedforward, StepReport) {
        let (inputs, perturbations) = self
            .pending
            .take()
            .expect("RewardBroadcast::reinforce: call act first");
        let batch = inputs[0].dims()[0];
        assert_eq!(
            reward.len(),
            batch,
            "RewardBroadcast::reinforce: one reward per example expected"
        );
        let mean_reward = reward.iter().map(|&r| r as f64).sum::<f64>() / batch as f64;
        let baseline = self.baseline.unwrap_or(mean_reward);
        let device = inputs[0].device();
        // Gradient *descent* direction: minus the reward-weighted correlation.
        let advantage: Vec<f32> = reward
            .iter()
            .map(|&r| ((baseline - r as f64) / (self.sigma * self.sigma)) as f32)
            .collect();
        let advantage = Tensor::<1>::from_data(TensorData::new(advantage, [batch]), &device)
            .unsqueeze_dim::<2>(1);
        let mut grads = GradientsParams::new();
        for (l, (a, xi)) in inputs.iter().zip(&perturbations).enumerate() {
            let modulated = xi.clone() * advantage.clone();
            grads.register(
                net.layers[l].weight.id,
                a.clone().transpose().matmul(modulated.clone()) / batch as f64,
            );
            if let Some(bias) = &net.layers[l].bias {
                grads.register(
                    bias.id,
                    modulated.sum_dim(0).squeeze_dim::<1>(0) / batch as f64,
                );
            }
        }
        let (optimizer, learning_rate, _) = ctx.parts();
        let net = optimizer.step(learning_rate, net, grads);
        self.baseline = Some(baseline + self.baseline_rate * (mean_reward - baseline));
        (
            net,
            StepReport {
                loss: -mean_reward as f32,
            },
        )
    }
}

/// Per-trial cross-entropy `[batch]`.
fn per_trial_loss(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (activation::log_softmax(logits, 1) * targets)
        .sum_dim(1)
        .squeeze::<1>()
        .neg()
}

impl RewardBroadcast {
    /// One update of `net`; `rng` draws the perturbations (and the units' own noise, if any).
    ///
    /// # Shapes
    /// - input: `[batch, d_in]` (on the network's device)
    pub(crate) fn step(
        &self,
        net: Feedforward,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        rng: &mut SeededRng,
    ) -> (Feedforward, StepReport, Vec<LayerDiagnostics>) {
        assert!(self.sigma > 0.0, "RewardBroadcast: sigma must be > 0");
        let input = without_autodiff(input);
        let inner = net.valid();
        let device = input.device();
        let batch = labels.len();
        let targets = one_hot(labels, inner.d_out(), &device);
        let n_layers = inner.layers.len();
        // Clean and perturbed passes, keeping each layer's input a_l, pre-activation z_l and ξ_l.
        let mut a = input.clone();
        let mut a_pert = input;
        let mut inputs = Vec::with_capacity(n_layers);
        let mut pre = Vec::with_capacity(n_layers);
        let mut perturbations = Vec::with_capacity(n_layers);
        let mut logits = None;
        let mut logits_pert = None;
        for (l, layer) in inner.layers.iter().enumerate() {
            let width = layer.weight.dims()[1];
            let xi = normal_matrix(batch, width, self.sigma, rng, &device);
            let z = layer.forward(a.clone());
            let z_pert = layer.forward(a_pert.clone()) + xi.clone();
            inputs.push(a_pert.clone());
            pre.push(z.clone());
            perturbations.push(xi);
            if l + 1 == n_layers {
                logits = Some(z);
                logits_pert = Some(z_pert);
            } else {
                a = inner.params.activation.forward(z);
                a_pert = inner.params.activation.forward(z_pert);
            }
        }
        let logits = logits.expect("a readout layer");
        let clean = per_trial_loss(logits.clone(), targets.clone());
        let perturbed = per_trial_loss(logits_pert.expect("a readout layer"), targets.clone());
        let loss: f32 = clean.clone().mean().into_scalar();
        // One scalar per trial, broadcast to every unit.
        let reward_signal = ((perturbed - clean) / (self.sigma * self.sigma)).unsqueeze_dim::<2>(1);
        // Backprop's gradient on the clean pass, for the diagnostics.
        let mut delta_bp = activation::softmax(logits, 1) - targets;
        let mut grads = GradientsParams::new();
        let mut diagnostics = Vec::new();
        for l in (0..n_layers).rev() {
            let modulated = perturbations[l].clone() * reward_signal.clone();
            let grad_w = inputs[l].clone().transpose().matmul(modulated.clone()) / batch as f64;
            let grad_b = modulated.sum_dim(0).squeeze::<1>() / batch as f64;
            if self.diagnose {
                let below_clean = if l == 0 {
                    inputs[0].clone()
                } else {
                    inner.params.activation.forward(pre[l - 1].clone())
                };
                let grad_bp =
                    below_clean.clone().transpose().matmul(delta_bp.clone()) / batch as f64;
                diagnostics.push(LayerDiagnostics::compare(&grad_w, &grad_bp));
                if l > 0 {
                    let derivative = inner.params.activation.derivative_from_rate(below_clean);
                    delta_bp =
                        delta_bp.matmul(inner.layers[l].weight.val().transpose()) * derivative;
                }
            }
            grads.register(net.layers[l].weight.id, grad_w);
            if let Some(bias) = &net.layers[l].bias {
                grads.register(bias.id, grad_b);
            }
        }
        let net = optimizer.step(learning_rate, net, grads);
        diagnostics.reverse();
        (net, StepReport { loss }, diagnostics)
    }
}

impl RuleSpec for RewardBroadcastConfig {
    fn validate(&self) -> Result<(), InvalidParameter> {
        RewardBroadcastConfig::validate(self)
    }
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        match model {
            ModelConfig::Bci(_) if self.variant != RewardVariant::NodePerturbation => {
                Err(InvalidParameter::new(
                    "rule.variant",
                    "the bci model learns by node perturbation; set rule.variant = \"node-perturbation\"",
                ))
            }
            ModelConfig::Bci(_) => Ok(()),
            _ => ff_only("reward-broadcast", model),
        }
    }
    fn for_bci(
        &self,
        net: &apical_nn::BciNetwork,
        _: &Device,
    ) -> Option<BoxedRule<apical_nn::BciNetwork>> {
        (self.variant == RewardVariant::NodePerturbation).then(|| {
            Box::new(crate::BroadcastCredit::new(
                net,
                self.signal,
                self.trace_decay,
                self.baseline_rate,
            )) as BoxedRule<_>
        })
    }
    fn for_ff(&self, _: &Feedforward, _: u64, _: &Device) -> Option<BoxedRule<Feedforward>> {
        Some(match self.variant {
            RewardVariant::NodePerturbation => {
                let mut rule = RewardBroadcast::new(self.sigma);
                rule.baseline_rate = self.baseline_rate;
                Box::new(rule)
            }
            RewardVariant::ExploratoryHebb => {
                Box::new(ExploratoryHebb::new(self.sigma, self.repeats))
            }
        })
    }
}

impl LearningRule<Feedforward> for RewardBroadcast {
    fn name(&self) -> &'static str {
        "reward-broadcast"
    }

    fn update(
        &mut self,
        net: Feedforward,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        labels: &[usize],
    ) -> Update<Feedforward> {
        self.diagnose = ctx.diagnose();
        let (optimizer, learning_rate, noise) = ctx.parts();
        self.step(net, optimizer, learning_rate, input, labels, noise)
    }

    /// The baseline as bytes (empty before the first reward), for checkpoints.
    fn state_bytes(&self) -> Vec<u8> {
        self.baseline
            .map(|b| b.to_le_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Restores [`state_bytes`](Self::state_bytes).
    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        _device: &burn::tensor::Device,
    ) -> Result<(), OptimizerStateError> {
        self.baseline = match bytes.len() {
            0 => None,
            8 => Some(f64::from_le_bytes(bytes.try_into().expect("8 bytes"))),
            n => {
                return Err(OptimizerStateError::Malformed(format!(
                    "reward baseline: expected 0 or 8 bytes, got {n}"
                )))
            }
        };
        Ok(())
    }

    fn state_is_finite(&self) -> bool {
        self.baseline().is_none_or(f64::is_finite)
    }

    fn reward_learning(&mut self) -> Option<&mut dyn RewardLearning<Feedforward>> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{angle_deg, OptimizerConfig};
    use apical_nn::FeedforwardParams;
    use apical_nn::{ndarray_device, FeedforwardConfig};
    use burn::tensor::TensorData;

    #[test]
    fn averaged_over_many_perturbations_the_update_points_along_the_gradient() {
        // Node perturbation is an unbiased gradient estimator: its mean over many draws lines up
        // with backprop's gradient.
        let device = ndarray_device().autodiff();
        let net = FeedforwardConfig::new(
            4,
            3,
            FeedforwardParams {
                activation: apical_nn::Activation::Tanh,
                ..FeedforwardParams::layers(vec![6])
            },
        )
        .with_seed(1)
        .init(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..32)
                    .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
                    .collect::<Vec<_>>(),
                [8, 4],
            ),
            &device,
        );
        let y = [0usize, 1, 2, 0, 1, 2, 0, 1];
        let rule = RewardBroadcast::new(0.05);
        let mut rng = SeededRng::new(3);
        let mut mean_angle = 0.0;
        let mut sum: Option<Tensor<2>> = None;
        let draws = 400;
        for _ in 0..draws {
            // A plain SGD step with lr 1 from the same weights gives −gradient estimate as ΔW.
            let (next, _, diag) = rule.step(
                net.clone(),
                &mut OptimizerConfig::Sgd {
                    momentum: 0.0,
                    weight_decay: 0.0,
                }
                .init(),
                1.0,
                x.clone(),
                &y,
                &mut rng,
            );
            let delta = net.layers[0].weight.val().inner() - next.layers[0].weight.val().inner();
            sum = Some(match sum {
                Some(s) => s + delta,
                None => delta,
            });
            mean_angle += diag[0].angle_to_backprop_deg / draws as f64;
        }
        // Backprop's gradient for layer 0.
        let grads = {
            let logits = net.forward(x.clone());
            let loss = crate::cross_entropy(logits, one_hot(&y, 3, &device));
            GradientsParams::from_grads(loss.backward(), &net)
        };
        let bp: Tensor<2> = grads.get::<2>(net.layers[0].weight.id).expect("gradient");
        let averaged_angle = angle_deg(&sum.expect("draws"), &bp);
        assert!(
            averaged_angle < 30.0,
            "mean update vs gradient: {averaged_angle}°"
        );
        assert!(
            mean_angle > averaged_angle,
            "single draws are noisier ({mean_angle}° on average)"
        );
    }
}
