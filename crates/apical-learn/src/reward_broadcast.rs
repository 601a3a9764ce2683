//! `reward-broadcast`: node perturbation (Williams 1992; Fiete & Seung 2006) — every unit's
//! input is jittered by ξ ~ N(0, σ²), and one scalar per trial, the change in loss the jitter
//! caused, is broadcast to every synapse: `ΔW_l ∝ −(L_perturbed − L_clean)/σ² · a_lᵀ ξ_l`.
//! An unbiased but noisy estimate of the gradient; the neuromodulator contrast to rules with
//! vectorised, per-unit teaching signals.

use apical_nn::{normal_matrix, without_autodiff, Feedforward, SeededRng};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{activation, Tensor};

use crate::{one_hot, LayerDiagnostics, Optimizer, StepReport};

/// Node perturbation with perturbation size σ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardBroadcast {
    /// Standard deviation σ of the perturbation added to every unit's input.
    pub sigma: f64,
    /// Compute the per-layer comparison with backprop this step.
    pub diagnose: bool,
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
    pub fn step(
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
                a = inner.activation.forward(z);
                a_pert = inner.activation.forward(z_pert);
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
                    inner.activation.forward(pre[l - 1].clone())
                };
                let grad_bp =
                    below_clean.clone().transpose().matmul(delta_bp.clone()) / batch as f64;
                diagnostics.push(LayerDiagnostics::compare(&grad_w, &grad_bp));
                if l > 0 {
                    let derivative = inner.activation.derivative_from_rate(below_clean);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{angle_deg, OptimizerConfig};
    use apical_nn::{ndarray_device, FeedforwardConfig};
    use burn::tensor::TensorData;

    #[test]
    fn averaged_over_many_perturbations_the_update_points_along_the_gradient() {
        // Node perturbation is an unbiased gradient estimator: its mean over many draws lines up
        // with backprop's gradient.
        let device = ndarray_device().autodiff();
        let net = FeedforwardConfig::new(4, vec![6], 3)
            .with_activation(apical_nn::Activation::Tanh)
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
        let rule = RewardBroadcast {
            sigma: 0.05,
            diagnose: true,
        };
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
