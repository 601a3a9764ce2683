//! `reward-broadcast` with `variant = "exploratory-hebb"` (Legenstein, Chase, Schwartz & Maass
//! 2010, *J Neurosci* — the rule proposed for BCI learning): every unit explores with noise
//! ξ ~ N(0, σ²) on its input, and a synapse changes by its presynaptic rate times the unit's
//! deviation from its average activity times the deviation of the reward from the average
//! reward:
//!
//! ```text
//! Δw_ij = η · a_j · (z_i − z̄_i) · (R − R̄) / σ² · K/(K − 1),    R = −cross-entropy
//! ```
//!
//! In Legenstein et al. z̄ and R̄ are running averages (low-pass filters) of recent activity and
//! reward, in a task with few targets. With many different stimuli (digits), a running average
//! across them lets the input-driven part of z − z̄ and R − R̄ swamp the exploration (tried here:
//! the training loss rose). So here each stimulus is presented K times with fresh exploration
//! noise (`repeats`), and z̄, R̄ are the averages over those repeats — still averages a neuron and
//! a neuromodulatory system could keep. Unlike node perturbation
//! the rule needs no noise-free reference pass and no knowledge of the noise itself; it is
//! noisier, since each repeat's deviation includes the other repeats' noise.

use apical_nn::{normal_matrix, without_autodiff, Feedforward, SeededRng};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{activation, Tensor};

use crate::{
    backprop_gradients, one_hot, LayerDiagnostics, LearningRule, Optimizer, PcNetwork, StepContext,
    StepReport, Update,
};

/// Exploratory Hebb with exploration noise σ and K repeats per trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExploratoryHebb {
    /// Standard deviation σ of the exploration noise on every unit's input.
    pub sigma: f64,
    /// Exploratory repeats K of each stimulus (≥ 2) over which activity and reward are averaged.
    pub repeats: usize,
    /// Compute the per-layer comparison with backprop this step.
    pub diagnose: bool,
}

/// `[K·B, W]` → deviation of each repeat from the mean over the K repeats of its trial.
fn deviation_from_trial_mean(t: Tensor<2>, repeats: usize) -> Tensor<2> {
    let [rows, width] = t.dims();
    let batch = rows / repeats;
    let t3 = t.reshape([repeats, batch, width]);
    let mean = t3.clone().mean_dim(0);
    (t3 - mean).reshape([rows, width])
}

impl ExploratoryHebb {
    /// The rule.
    pub fn new(sigma: f64, repeats: usize) -> Self {
        assert!(sigma > 0.0, "ExploratoryHebb: sigma must be > 0");
        assert!(repeats >= 2, "ExploratoryHebb: repeats must be ≥ 2");
        Self {
            sigma,
            repeats,
            diagnose: true,
        }
    }

    /// One update of `net`; `rng` draws the exploration noise.
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
        let input = without_autodiff(input);
        let inner = net.valid();
        let device = input.device();
        let k = self.repeats;
        let rows = labels.len() * k;
        let n_layers = inner.layers.len();
        let targets = one_hot(labels, inner.d_out(), &device);
        // K noisy passes of the batch at once (repeat r of trial i is row r·B + i).
        let mut a = input.clone().repeat_dim(0, k);
        let mut inputs = Vec::with_capacity(n_layers);
        let mut somas = Vec::with_capacity(n_layers);
        for (l, layer) in inner.layers.iter().enumerate() {
            let width = layer.weight.dims()[1];
            let z = layer.forward(a.clone()) + normal_matrix(rows, width, self.sigma, rng, &device);
            inputs.push(a.clone());
            somas.push(z.clone());
            if l + 1 < n_layers {
                a = inner.params.activation.forward(z);
            }
        }
        let trial_loss = (activation::log_softmax(somas[n_layers - 1].clone(), 1)
            * targets.clone().repeat_dim(0, k))
        .sum_dim(1)
        .neg(); // [K·B, 1]
        let loss: f32 = trial_loss.clone().mean().into_scalar();
        // −(R − R̄) = L − L̄: one scalar per repeat, broadcast to every synapse.
        let loss_excess = deviation_from_trial_mean(trial_loss, k);
        let scale = k as f64 / ((k - 1) as f64 * self.sigma * self.sigma * rows as f64);
        let mut grads = GradientsParams::new();
        let mut updates = Vec::with_capacity(n_layers);
        for l in 0..n_layers {
            let modulated = deviation_from_trial_mean(somas[l].clone(), k) * loss_excess.clone();
            let grad_w = inputs[l].clone().transpose().matmul(modulated.clone()) * scale;
            let layer = &net.layers[l];
            if let Some(bias) = &layer.bias {
                grads.register(bias.id, modulated.sum_dim(0).squeeze::<1>() * scale);
            }
            updates.push(grad_w.clone());
            grads.register(layer.weight.id, grad_w);
        }
        let diagnostics = if self.diagnose {
            let clean = inner.forward_recorded(input.clone(), None);
            backprop_gradients(
                &inner.stack(),
                &input,
                &clean.hidden,
                crate::Loss::default().output_gradient(clean.logits, targets),
            )
            .iter()
            .zip(&updates)
            .map(|(g, u)| LayerDiagnostics::compare(u, g))
            .collect()
        } else {
            Vec::new()
        };
        let net = optimizer.step(learning_rate, net, grads);
        (net, StepReport { loss }, diagnostics)
    }
}

impl LearningRule<Feedforward> for ExploratoryHebb {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cross_entropy, OptimizerConfig};
    use apical_nn::FeedforwardParams;
    use apical_nn::{ndarray_device, Activation, FeedforwardConfig};

    #[test]
    fn learns_a_small_problem_from_a_broadcast_reward() {
        let device = ndarray_device().autodiff();
        let mut rng = SeededRng::new(4);
        let x = normal_matrix(32, 5, 1.0, &mut rng, &device);
        let y: Vec<usize> = (0..32).map(|i| i % 3).collect();
        let mut net = FeedforwardConfig::new(
            5,
            3,
            FeedforwardParams {
                activation: Activation::Tanh,
                ..FeedforwardParams::layers(vec![16])
            },
        )
        .with_seed(1)
        .init(&device);
        let clean_loss = |net: &Feedforward| -> f32 {
            cross_entropy(
                net.valid().forward(without_autodiff(x.clone())),
                one_hot(&y, 3, &ndarray_device()),
            )
            .into_scalar()
        };
        let rule = ExploratoryHebb::new(0.1, 4);
        let mut optim = OptimizerConfig::default().init();
        let start = clean_loss(&net);
        for _ in 0..600 {
            let (next, _, _) = rule.step(net, &mut optim, 0.01, x.clone(), &y, &mut rng);
            net = next;
        }
        let end = clean_loss(&net);
        assert!(end < 0.7 * start, "loss {start} → {end}");
    }
}
