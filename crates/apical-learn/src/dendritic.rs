//! `dendritic`: per-unit apical teaching signals in one phase, in the burstprop / BurstCCN family
//! (Payeur et al. 2021, *Nat Neurosci*; Greedy et al. 2022, *NeurIPS*), on the generative-
//! feedback network.
//!
//! With sigmoid units, on the bottom-up sweep:
//!
//! ```text
//! event rate      e_l = σ(W_l·e_{l−1} + b_l)                 (output: e_L = σ(logits))
//! output bursts   p_L = p0·[(y − e_L)(1 − e_L) + 1]
//! apical          a_l = (1 − inhibition)·(b_{l+1}·Y_l − e_{l+1}·Q_l),   b = p ⊙ e (burst rate)
//! burst prob.     p_l = σ(β·a_l ⊙ (1 − e_l))                 (p0 = σ(0) = ½)
//! plasticity      ΔW_l ∝ e_{l−1}ᵀ·[(p_l − p0) ⊙ e_l],   Δb_l ∝ (p_l − p0) ⊙ e_l
//! cancellation    ΔQ_l ∝ e_{l+1}ᵀ·a_l                         (Q learns to cancel Y·p0·e)
//!                 (with tied Y = W_{l+1}ᵀ, which moves every step, Q = p0·Y is applied exactly)
//! ```
//!
//! Each unit's teaching signal is its own apical input — a vector, not a broadcast scalar. For
//! the output layer `(p_L − p0)·e_L = p0·(y − e_L)·σ′`, the MSE gradient; with `Y_l = W_{l+1}ᵀ`,
//! `Q_l = p0·Y_l` and small β the hidden updates approach backprop's (tested). With
//! `inhibition = 1` the hidden layers receive no teaching signal and only the readout learns.

use crate::registry::{BoxedRule, RuleSpec};
use apical_core::{check, InvalidParameter};
use apical_nn::{without_autodiff, GenerativeFeedbackNetwork, SeededRng, TopDown};
use apical_nn::{Activation, ModelConfig};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{activation, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{LearningRule, StepContext, Update};

use crate::{
    matrices_from_bytes, matrices_to_bytes, one_hot, LayerDiagnostics, Optimizer,
    OptimizerStateError, StepReport,
};

/// `[rule]` with `kind = "dendritic"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DendriticConfig {
    /// Burst sensitivity β (> 0).
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// Step size of the normalised-LMS learning of the cancellation weights Q, used with
    /// fixed-random top-down weights (0 ≤ η < 2).
    #[serde(default = "default_q_rate")]
    pub q_rate: f64,
    /// Learn from the activity at the end of the T-step inference (engaged feedback included)
    /// rather than from the bottom-up sweep.
    #[serde(default)]
    pub through_inference: bool,
    /// On the bci model: rate α of each unit's credit statistics, from which its top-down
    /// weight is learned (0 < α ≤ 1; see `VectorizedCredit`). Unused on gfn.
    #[serde(default = "default_credit_rate")]
    pub credit_rate: f64,
    /// On the bci model: whose credit each tuft receives — `"own"` (the vectorized rule) or
    /// `"permuted"` (the control: the learned top-down weights permuted across units at every
    /// step, so credit still learns but reaches the wrong tufts). Unused on gfn.
    #[serde(default)]
    pub credit: crate::CreditTarget,
}

fn default_credit_rate() -> f64 {
    0.02
}

fn default_beta() -> f64 {
    4.0
}
fn default_q_rate() -> f64 {
    0.01
}

impl Default for DendriticConfig {
    fn default() -> Self {
        Self {
            beta: default_beta(),
            q_rate: default_q_rate(),
            through_inference: false,
            credit_rate: default_credit_rate(),
            credit: crate::CreditTarget::Own,
        }
    }
}

impl DendriticConfig {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::positive("beta", self.beta)?;
        check::in_range("q_rate", self.q_rate, 0.0, 2.0, false, false)?;
        check::in_range("credit_rate", self.credit_rate, 0.0, 1.0, true, true)
    }

    /// The rule for `net` (`device`: the network's device without autodiff).
    pub fn init(&self, net: &GenerativeFeedbackNetwork, device: &Device) -> Dendritic {
        let mut rule = Dendritic::new(net, self.beta, self.q_rate, device);
        rule.through_inference = self.through_inference;
        rule
    }
}

/// The dendritic rule and its state (the cancellation weights Q).
#[derive(Debug, Clone)]
pub struct Dendritic {
    /// Burst sensitivity β.
    pub beta: f64,
    /// Step size η_Q of the normalised-LMS update of Q for fixed-random top-down weights
    /// (0 ≤ η_Q < 2; 0 freezes Q at its initial p0·Y).
    pub q_rate: f64,
    /// Compute the per-layer comparison with backprop (an extra backward pass) this step.
    pub diagnose: bool,
    /// Take the event rates from the end of the network's T-step inference (with its engaged
    /// top-down feedback) instead of the bottom-up sweep, so that learning sees the activity
    /// evaluation will see. Costs the T inference steps.
    pub through_inference: bool,
    /// The network's top-down mode (Q is learned only for fixed-random top-down weights).
    top_down: TopDown,
    /// `q[l]`: cancellation weights of hidden layer l, shape of its apical weights.
    q: Vec<Tensor<2>>,
}

const P0: f64 = 0.5;

impl Dendritic {
    /// The rule for `net`, with Q initialised to p0·Y (apical input cancelled on average).
    /// `device` is the network's device without autodiff. The teaching signals travel through
    /// the network's own top-down weights Y (its [`TopDown`] mode decides how they evolve).
    pub fn new(net: &GenerativeFeedbackNetwork, beta: f64, q_rate: f64, device: &Device) -> Self {
        let net = net.valid();
        let q = net
            .layers
            .iter()
            .map(|layer| layer.apical_weight.val().to_device(device) * P0)
            .collect();
        Self {
            beta,
            q_rate,
            diagnose: true,
            through_inference: false,
            top_down: net.params.top_down,
            q,
        }
    }

    /// One update of `net` on a batch (the network should use sigmoid units).
    pub(crate) fn step(
        &mut self,
        net: GenerativeFeedbackNetwork,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: Option<&mut SeededRng>,
    ) -> (GenerativeFeedbackNetwork, StepReport, Vec<LayerDiagnostics>) {
        let input = without_autodiff(input);
        let inner = net.valid();
        let device = input.device();
        let batch = labels.len() as f64;
        let n_hidden = inner.layers.len();
        // Bottom-up sweep: event rates.
        let events: Vec<Tensor<2>> = if self.through_inference {
            inner.forward_recorded(input.clone(), noise).final_rates()
        } else {
            // With frames over time: the sweep of the whole trial's evidence (the frames' mean).
            inner
                .sweep_view(input.clone(), inner.params.steps, noise)
                .into_iter()
                .map(|s| s.rate)
                .collect()
        };
        let logits = inner.readout.forward(events[n_hidden - 1].clone());
        let e_out = activation::sigmoid(logits);
        let y = one_hot(labels, inner.d_out(), &device);
        let loss: f32 = (y.clone() - e_out.clone())
            .powi_scalar(2)
            .sum_dim(1)
            .mean()
            .into_scalar::<f32>()
            * 0.5;
        // Output bursts, then top-down through the hidden layers.
        let p_out = ((y.clone() - e_out.clone()) * (e_out.clone().neg() + 1.0) + 1.0) * P0;
        let mut signal_above = (p_out.clone() - P0) * e_out.clone(); // (p − p0) ⊙ e of the layer above
                                                                     // What reaches the top layer's apical dendrites (× the context cue with
                                                                     // context-specific feedback).
        let mut bursts_above = inner.lift_top(p_out * e_out.clone(), &input);
        let mut events_above = inner.lift_top(e_out.clone(), &input);
        let mut grads = GradientsParams::new();
        let mut diagnostics = Vec::new();
        // Backprop's MSE gradient on the same sweep, for the diagnostics.
        let mut delta_bp = (e_out.clone() - y) * (e_out.clone() * (e_out.neg() + 1.0));
        // Readout.
        let top = events[n_hidden - 1].clone();
        let grad_w = top.clone().transpose().matmul(signal_above.clone()).neg() / batch;
        if self.diagnose {
            let grad_bp = top.transpose().matmul(delta_bp.clone()) / batch;
            diagnostics.push(LayerDiagnostics::compare(&grad_w, &grad_bp));
        }
        grads.register(net.readout.weight.id, grad_w);
        if let Some(bias) = &net.readout.bias {
            grads.register(
                bias.id,
                signal_above.clone().sum_dim(0).squeeze::<1>().neg() / batch,
            );
        }
        let mut q_updates = Vec::with_capacity(n_hidden);
        for l in (0..n_hidden).rev() {
            let layer = &inner.layers[l];
            let y_l = layer.apical_weight.val();
            if self.top_down != TopDown::FixedRandom {
                // Top-down weights that move with learning: the cancellation that Q learns for
                // fixed weights (Q → p0·Y) is applied exactly (an online Q chasing a moving Y
                // absorbs the teaching signal).
                self.q[l] = y_l.clone() * P0;
            }
            let apical = (bursts_above.clone().matmul(y_l)
                - events_above.clone().matmul(self.q[l].clone()))
                * (1.0 - layer.apical_inhibition);
            let e = events[l].clone();
            // p − p0 = σ(x) − ½ = ½·tanh(x/2): exact for small x in f32.
            let excess =
                (apical.clone() * (e.clone().neg() + 1.0) * (self.beta / 2.0)).tanh() * 0.5;
            let p = excess.clone() + P0;
            let signal = excess * e.clone();
            let below = if l == 0 {
                // What the bottom layer saw (with frames over time: the mean of every frame, at
                // the last step of inference and in the learning sweep alike).
                inner.frame_view(&input, inner.params.steps)
            } else {
                events[l - 1].clone()
            };
            let grad_w = below.clone().transpose().matmul(signal.clone()).neg() / batch;
            if self.diagnose {
                delta_bp = delta_bp.matmul(inner.weight_above(l).transpose())
                    * (e.clone() * (e.clone().neg() + 1.0));
                let grad_bp = below.transpose().matmul(delta_bp.clone()) / batch;
                diagnostics.push(LayerDiagnostics::compare(&grad_w, &grad_bp));
            }
            grads.register(net.layers[l].basal.weight.id, grad_w);
            if let Some(bias) = &net.layers[l].basal.bias {
                grads.register(
                    bias.id,
                    signal.clone().sum_dim(0).squeeze::<1>().neg() / batch,
                );
            }
            if self.top_down == TopDown::FixedRandom && self.q_rate > 0.0 {
                // Normalised LMS on the regressor e_above: stable whatever the rates' scale.
                let power: f32 = events_above
                    .clone()
                    .powi_scalar(2)
                    .sum_dim(1)
                    .mean()
                    .into_scalar();
                q_updates.push((
                    l,
                    events_above.clone().transpose().matmul(apical)
                        / (batch * (power as f64 + 1.0)),
                ));
            }
            signal_above = signal;
            bursts_above = p * e.clone();
            events_above = e;
        }
        let _ = signal_above;
        let net = optimizer.step(learning_rate, net, grads);
        for (l, dq) in q_updates {
            self.q[l] = self.q[l].clone() + dq * self.q_rate;
        }
        // The driver (`Learner`) then moves the top-down weights as the network's mode says, so
        // inference and the next teaching signals use them.
        diagnostics.reverse();
        (net, StepReport { loss }, diagnostics)
    }
}

impl RuleSpec for DendriticConfig {
    fn validate(&self) -> Result<(), InvalidParameter> {
        DendriticConfig::validate(self)
    }
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        match model {
            ModelConfig::Gfn(g) if g.activation != Activation::Sigmoid => Err(InvalidParameter::new(
                "model.activation",
                "the dendritic rule needs sigmoid units (event rates in [0, 1]); set model.activation = \"sigmoid\"",
            )),
            ModelConfig::Gfn(_) | ModelConfig::Bci(_) => Ok(()),
            _ => Err(InvalidParameter::new(
                "rule.kind",
                "dendritic needs two-compartment units; use model.kind = \"gfn\"",
            )),
        }
    }
    fn for_bci(
        &self,
        net: &apical_nn::BciNetwork,
        device: &Device,
    ) -> Option<BoxedRule<apical_nn::BciNetwork>> {
        Some(Box::new(
            crate::VectorizedCredit::new(net, self.credit_rate, device).with_credit(self.credit),
        ))
    }
    fn for_gfn(
        &self,
        net: &GenerativeFeedbackNetwork,
        _: u64,
        device: &Device,
    ) -> Option<BoxedRule<GenerativeFeedbackNetwork>> {
        Some(Box::new(self.init(net, device)))
    }
}

impl LearningRule<GenerativeFeedbackNetwork> for Dendritic {
    fn name(&self) -> &'static str {
        "dendritic"
    }

    fn update(
        &mut self,
        net: GenerativeFeedbackNetwork,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        labels: &[usize],
    ) -> Update<GenerativeFeedbackNetwork> {
        self.diagnose = ctx.diagnose();
        let (optimizer, learning_rate, noise) = ctx.parts();
        self.step(net, optimizer, learning_rate, input, labels, Some(noise))
    }

    /// Q as bytes (JSON shapes line, then little-endian f32), for checkpoints.
    fn state_bytes(&self) -> Vec<u8> {
        matrices_to_bytes(&self.q)
    }

    /// Restores the state written by [`state_bytes`](Self::state_bytes) on `device`.
    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        let expected: Vec<[usize; 2]> = self.q.iter().map(|m| m.dims()).collect();
        self.q = matrices_from_bytes(bytes, &expected, "cancellation weights Q", device)?;
        Ok(())
    }

    /// Whether the rule's state is finite (no NaN or ±inf).
    fn state_is_finite(&self) -> bool {
        crate::matrices_finite(&self.q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OptimizerConfig;
    use apical_nn::GfnParams;
    use apical_nn::{ndarray_device, normal_matrix, GenerativeFeedbackConfig};

    fn setup(inhibition: f64) -> (GenerativeFeedbackNetwork, Tensor<2>, Vec<usize>) {
        let device = ndarray_device().autodiff();
        let net = GenerativeFeedbackConfig::new(
            5,
            3,
            GfnParams {
                top_down: TopDown::Tied,
                apical_inhibition: inhibition,
                ..GfnParams::layers(vec![7, 6])
            },
        )
        .with_seed(2)
        .init(&device);
        let mut rng = SeededRng::new(1);
        let x = normal_matrix(16, 5, 1.0, &mut rng, &device);
        (net, x, (0..16).map(|i| i % 3).collect())
    }

    #[test]
    fn with_tied_feedback_and_small_beta_the_updates_follow_backprop() {
        let (net, x, y) = setup(0.0);
        let mut rule = Dendritic::new(&net, 1e-3, 0.0, &ndarray_device());
        let (_, _, diag) = rule.step(
            net,
            &mut OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
            }
            .init(),
            0.0,
            x,
            &y,
            None,
        );
        for (l, d) in diag.iter().enumerate() {
            // cosine > 0.99 ⇔ angle < 8.1°
            assert!(
                d.angle_to_backprop_deg < 8.1,
                "layer {l}: {}°",
                d.angle_to_backprop_deg
            );
        }
    }

    #[test]
    fn apical_inhibition_silences_hidden_teaching_but_the_readout_still_learns() {
        let (net, x, y) = setup(1.0);
        let before: Vec<Tensor<2>> = net
            .layers
            .iter()
            .map(|l| l.basal.weight.val().inner())
            .collect();
        let readout_before = net.readout.weight.val().inner();
        let mut rule = Dendritic::new(&net, 1.0, 1.0, &ndarray_device());
        let (after, _, _) = rule.step(
            net,
            &mut OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
            }
            .init(),
            0.5,
            x,
            &y,
            None,
        );
        for (l, b) in before.iter().enumerate() {
            let change: f32 = (after.layers[l].basal.weight.val().inner() - b.clone())
                .abs()
                .sum()
                .into_scalar();
            assert!(change == 0.0, "hidden layer {l} changed by {change}");
        }
        let readout_change: f32 = (after.readout.weight.val().inner() - readout_before)
            .abs()
            .sum()
            .into_scalar();
        assert!(readout_change > 0.0);
    }

    #[test]
    fn learns_a_small_problem() {
        let (mut net, x, y) = setup(0.0);
        let mut rule = Dendritic::new(&net, 4.0, 1.0, &ndarray_device());
        let mut optim = OptimizerConfig::default().init();
        let mut first = None;
        let mut last = 0.0;
        for _ in 0..1500 {
            let (next, report, _) = rule.step(net, &mut optim, 0.05, x.clone(), &y, None);
            net = next;
            first.get_or_insert(report.loss);
            last = report.loss;
        }
        assert!(
            last < 0.5 * first.unwrap(),
            "MSE {} → {last}",
            first.unwrap()
        );
    }

    #[test]
    fn learning_through_inference_sees_the_feedback_and_equals_the_sweep_without_it() {
        let device = ndarray_device().autodiff();
        let mut rng = SeededRng::new(1);
        let x = normal_matrix(16, 5, 1.0, &mut rng, &device);
        let y: Vec<usize> = (0..16).map(|i| i % 3).collect();
        let updated = |engagement: f64, through_inference: bool| -> Tensor<2> {
            let net = GenerativeFeedbackConfig::new(
                5,
                3,
                GfnParams {
                    engagement,
                    ..GfnParams::layers(vec![7, 6])
                },
            )
            .with_seed(2)
            .init(&device);
            let mut rule = Dendritic::new(&net, 4.0, 0.0, &ndarray_device());
            rule.through_inference = through_inference;
            let mut sgd = OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
            }
            .init();
            let before = net.layers[0].basal.weight.val().inner();
            let (net, _, _) = rule.step(net, &mut sgd, 1.0, x.clone(), &y, None);
            net.layers[0].basal.weight.val().inner() - before
        };
        let gap = |a: Tensor<2>, b: Tensor<2>| -> f32 {
            let scale: f32 = b.clone().abs().max().into_scalar();
            let diff: f32 = (a - b).abs().max().into_scalar();
            diff / scale
        };
        assert_eq!(gap(updated(0.0, true), updated(0.0, false)), 0.0);
        let engaged = gap(updated(1.0, true), updated(1.0, false));
        assert!(engaged > 0.01, "relative change {engaged}");
    }
}
