//! `feedback-alignment` (Lillicrap, Cownden, Tweed & Akerman 2016, *Nat Commun*) and
//! `kolen-pollack` (Kolen & Pollack 1994; Akrout et al. 2019, *NeurIPS*) on the feedforward
//! network.
//!
//! Errors travel down through feedback matrices B instead of the transposed forward weights:
//! `δ_{l−1} = (δ_l · B_l) ⊙ φ′(r_{l−1})`, `ΔW_l ∝ −a_lᵀ δ_l`. With `fixed` feedback B is random
//! and never changes; the forward weights come to align with it. Kolen–Pollack gives B the
//! transpose of every forward update and decays both by λ, so `W − Bᵀ` shrinks as (1 − λ)ᵗ and
//! the rule approaches backprop.

use crate::registry::{ff_only, BoxedRule, RuleSpec};
use apical_core::{check, InvalidParameter};
use apical_nn::ModelConfig;
use apical_nn::{uniform_matrix, without_autodiff, Feedforward, SeededRng};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{LearningRule, StepContext, Update};

use crate::{
    matrices_from_bytes, matrices_to_bytes, one_hot, LayerDiagnostics, Loss, Optimizer,
    OptimizerStateError, StepReport,
};

/// `[rule]` with `kind = "feedback-alignment"` (no hyper-parameters).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackAlignmentConfig {}

/// `[rule]` with `kind = "kolen-pollack"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KolenPollackConfig {
    /// Per-step decay λ of forward and feedback weights, in [0, 1).
    #[serde(default = "default_decay")]
    pub decay: f64,
}

fn default_decay() -> f64 {
    1e-3
}

impl Default for KolenPollackConfig {
    fn default() -> Self {
        Self {
            decay: default_decay(),
        }
    }
}

impl KolenPollackConfig {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::in_range("decay", self.decay, 0.0, 1.0, false, false)
    }
}

/// How the feedback matrices evolve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FeedbackMode {
    /// Fixed random feedback (feedback alignment).
    Fixed,
    /// Kolen–Pollack: B gets the transpose of each forward update; W and B decay by `decay`.
    KolenPollack {
        /// Per-step decay λ applied to both W and B.
        decay: f64,
    },
}

/// The rule's state: one feedback matrix per layer above the first.
#[derive(Debug, Clone)]
pub struct FeedbackAlignment {
    /// Compute the per-layer comparison with backprop this step.
    pub diagnose: bool,
    /// The objective (the driver's, set at each update).
    pub loss: Loss,
    mode: FeedbackMode,
    /// `feedback[l − 1]` = B_l, shape `[d_out_l, d_in_l]`, for layers l = 1 … L − 1.
    feedback: Vec<Tensor<2>>,
}

impl FeedbackAlignment {
    /// Random feedback matrices for `net`, U(−1/√d_in, 1/√d_in) like the forward weights, drawn
    /// from `seed` on the host (identical on every backend). `device` is the network's device
    /// without autodiff.
    pub fn new(net: &Feedforward, mode: FeedbackMode, seed: u64, device: &Device) -> Self {
        let mut rng = SeededRng::for_stream(seed, 0xFB);
        let feedback = net.layers[1..]
            .iter()
            .map(|layer| {
                let [d_in, d_out] = layer.weight.dims();
                uniform_matrix(d_out, d_in, 1.0 / (d_in as f64).sqrt(), &mut rng, device)
            })
            .collect();
        Self {
            diagnose: true,
            loss: Loss::default(),
            mode,
            feedback,
        }
    }

    /// Whether B follows the forward weights (Kolen–Pollack) rather than staying fixed.
    pub fn is_kolen_pollack(&self) -> bool {
        matches!(self.mode, FeedbackMode::KolenPollack { .. })
    }

    /// The feedback matrices (B_1 … B_{L−1}).
    pub fn feedback(&self) -> &[Tensor<2>] {
        &self.feedback
    }

    /// One update of `net` on a batch; also returns per-layer angles to backprop.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]` (on the network's device)
    pub(crate) fn step(
        &mut self,
        net: Feedforward,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: Option<&mut SeededRng>,
    ) -> (Feedforward, StepReport, Vec<LayerDiagnostics>) {
        let input = without_autodiff(input);
        let inner = net.valid();
        let device = input.device();
        let batch = labels.len();
        let objective = self.loss;
        let out = inner.forward_recorded(input.clone(), noise);
        let targets = one_hot(labels, inner.d_out(), &device);
        let loss: f32 = objective
            .value(out.logits.clone(), targets.clone())
            .into_scalar();
        let n_layers = inner.layers.len();
        let mut delta = objective.output_gradient(out.logits, targets);
        let mut delta_bp = delta.clone();
        let mut grads = GradientsParams::new();
        let mut diagnostics = Vec::new();
        let old_weights: Vec<Tensor<2>> = inner.layers.iter().map(|l| l.weight.val()).collect();
        for l in (0..n_layers).rev() {
            let below = if l == 0 {
                input.clone()
            } else {
                out.hidden[l - 1].clone()
            };
            let grad_w = objective.reduce(below.clone().transpose().matmul(delta.clone()), batch);
            let grad_b =
                objective.reduce(delta.clone().sum_dim(0).reshape([delta.dims()[1]]), batch);
            if self.diagnose {
                let grad_bp = objective.reduce(below.transpose().matmul(delta_bp.clone()), batch);
                diagnostics.push(LayerDiagnostics::compare(&grad_w, &grad_bp));
            }
            let layer = &net.layers[l];
            grads.register(layer.weight.id, grad_w);
            if let Some(bias) = &layer.bias {
                grads.register(bias.id, grad_b);
            }
            if l > 0 {
                let derivative = inner
                    .params
                    .activation
                    .derivative_from_rate(out.hidden[l - 1].clone());
                if self.diagnose {
                    delta_bp =
                        delta_bp.matmul(old_weights[l].clone().transpose()) * derivative.clone();
                }
                delta = delta.matmul(self.feedback[l - 1].clone()) * derivative;
            }
        }
        diagnostics.reverse();
        let mut net = optimizer.step(learning_rate, net, grads);
        if let FeedbackMode::KolenPollack { decay } = self.mode {
            let keep = 1.0 - decay;
            for (l, (layer, old_weight)) in net.layers.iter_mut().zip(&old_weights).enumerate() {
                if l > 0 {
                    let delta_w = layer.weight.val().inner() - old_weight.clone();
                    self.feedback[l - 1] =
                        (self.feedback[l - 1].clone() + delta_w.transpose()) * keep;
                }
                layer.weight = layer
                    .weight
                    .clone()
                    .map(|w| (w * keep).detach().require_grad());
            }
        }
        (net, StepReport { loss }, diagnostics)
    }
}

impl RuleSpec for FeedbackAlignmentConfig {
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        ff_only("feedback-alignment", model)
    }
    fn trains_with(&self, _: Loss) -> bool {
        true
    }
    fn for_ff(
        &self,
        net: &Feedforward,
        seed: u64,
        device: &Device,
    ) -> Option<BoxedRule<Feedforward>> {
        Some(Box::new(FeedbackAlignment::new(
            net,
            FeedbackMode::Fixed,
            seed,
            device,
        )))
    }
}

impl RuleSpec for KolenPollackConfig {
    fn validate(&self) -> Result<(), InvalidParameter> {
        KolenPollackConfig::validate(self)
    }
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        ff_only("kolen-pollack", model)
    }
    fn trains_with(&self, _: Loss) -> bool {
        true
    }
    fn for_ff(
        &self,
        net: &Feedforward,
        seed: u64,
        device: &Device,
    ) -> Option<BoxedRule<Feedforward>> {
        Some(Box::new(FeedbackAlignment::new(
            net,
            FeedbackMode::KolenPollack { decay: self.decay },
            seed,
            device,
        )))
    }
}

impl LearningRule<Feedforward> for FeedbackAlignment {
    fn name(&self) -> &'static str {
        if self.is_kolen_pollack() {
            "kolen-pollack"
        } else {
            "feedback-alignment"
        }
    }

    fn update(
        &mut self,
        net: Feedforward,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        labels: &[usize],
    ) -> Update<Feedforward> {
        self.diagnose = ctx.diagnose();
        self.loss = ctx.loss();
        let (optimizer, learning_rate, noise) = ctx.parts();
        self.step(net, optimizer, learning_rate, input, labels, Some(noise))
    }

    /// The feedback matrices as bytes (JSON shapes line, then little-endian f32), for
    /// checkpoints.
    fn state_bytes(&self) -> Vec<u8> {
        matrices_to_bytes(&self.feedback)
    }

    /// Restores the state written by [`state_bytes`](Self::state_bytes) on `device`.
    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        let expected: Vec<[usize; 2]> = self.feedback.iter().map(|m| m.dims()).collect();
        self.feedback = matrices_from_bytes(bytes, &expected, "feedback matrices", device)?;
        Ok(())
    }

    /// Whether the rule's state is finite (no NaN or ±inf).
    fn state_is_finite(&self) -> bool {
        crate::matrices_finite(&self.feedback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{predictions, Backprop, OptimizerConfig};
    use apical_nn::FeedforwardParams;
    use apical_nn::{ndarray_device, FeedforwardConfig};
    use burn::tensor::TensorData;

    fn xor(device: &Device) -> (Tensor<2>, Vec<usize>) {
        (
            Tensor::from_data(
                TensorData::new(vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2]),
                device,
            ),
            vec![0, 1, 1, 0],
        )
    }

    #[test]
    fn with_transposed_weights_as_feedback_the_update_is_backprops() {
        // Set B_l = W_lᵀ: the rule must reproduce the autodiff gradient step exactly.
        let device = ndarray_device().autodiff();
        let net = FeedforwardConfig::new(
            2,
            2,
            FeedforwardParams {
                activation: apical_nn::Activation::Tanh,
                ..FeedforwardParams::layers(vec![8, 6])
            },
        )
        .with_seed(4)
        .init(&device);
        let (x, y) = xor(&device);
        let mut rule = FeedbackAlignment::new(&net, FeedbackMode::Fixed, 0, &ndarray_device());
        rule.feedback = net.layers[1..]
            .iter()
            .map(|l| l.weight.val().inner().transpose())
            .collect();
        let sgd = OptimizerConfig::Sgd {
            momentum: 0.0,
            weight_decay: 0.0,
        };
        let (a, _, diag) = rule.step(net.clone(), &mut sgd.init(), 0.1, x.clone(), &y, None);
        let (b, _) = Backprop.step(net, &mut sgd.init(), 0.1, x, one_hot(&y, 2, &device), None);
        for (la, lb) in a.layers.iter().zip(&b.layers) {
            la.weight.val().into_data().assert_approx_eq::<f32>(
                &lb.weight.val().into_data(),
                burn::tensor::Tolerance::absolute(1e-5),
            );
        }
        assert!(
            diag.iter().all(|d| d.angle_to_backprop_deg < 0.5),
            "{diag:?}"
        );
    }

    #[test]
    fn fixed_random_feedback_learns_xor_and_kolen_pollack_aligns() {
        for mode in [
            FeedbackMode::Fixed,
            FeedbackMode::KolenPollack { decay: 0.01 },
        ] {
            let device = ndarray_device().autodiff();
            let mut net = FeedforwardConfig::new(2, 2, FeedforwardParams::layers(vec![32]))
                .with_seed(2)
                .init(&device);
            let (x, y) = xor(&device);
            let mut rule = FeedbackAlignment::new(&net, mode, 5, &ndarray_device());
            let mut optim = OptimizerConfig::default().init();
            let mut first = None;
            let mut last = (0.0, 0.0);
            for _ in 0..600 {
                let (next, report, diag) = rule.step(net, &mut optim, 0.02, x.clone(), &y, None);
                net = next;
                first.get_or_insert(report.loss);
                last = (report.loss, diag[0].angle_to_backprop_deg);
            }
            assert!(
                last.0 < 0.2 * first.unwrap(),
                "{mode:?}: loss {} → {}",
                first.unwrap(),
                last.0
            );
            assert_eq!(predictions(net.valid().forward(x.inner())), y, "{mode:?}");
            assert!(
                last.1 < 60.0,
                "{mode:?}: hidden-layer angle to backprop {}°",
                last.1
            );
            if let FeedbackMode::KolenPollack { .. } = mode {
                let w = net.layers[1].weight.val().inner().transpose();
                let gap: f32 = (w.clone() - rule.feedback[0].clone())
                    .powi_scalar(2)
                    .sum()
                    .sqrt()
                    .into_scalar();
                let scale: f32 = w.powi_scalar(2).sum().sqrt().into_scalar();
                assert!(
                    gap < 0.05 * scale,
                    "Kolen–Pollack: ‖W − Bᵀ‖ = {gap} vs ‖W‖ = {scale}"
                );
            }
        }
    }

    #[test]
    fn state_round_trips() {
        let device = ndarray_device();
        let net = FeedforwardConfig::new(3, 2, FeedforwardParams::layers(vec![4])).init(&device);
        let rule = FeedbackAlignment::new(&net, FeedbackMode::Fixed, 1, &device);
        let mut other = FeedbackAlignment::new(&net, FeedbackMode::Fixed, 2, &device);
        other
            .load_state_bytes(&rule.state_bytes(), &device)
            .unwrap();
        other.feedback[0]
            .to_data()
            .assert_eq(&rule.feedback[0].to_data(), true);
        assert!(other.load_state_bytes(b"[[9,9]]\n", &device).is_err());
    }
}
