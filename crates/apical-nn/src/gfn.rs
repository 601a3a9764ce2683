//! Generative-feedback network (`gfn`): a stack of [`DendriticLayer`]s with a decision layer on
//! top, run for T recurrent inference steps.
//!
//! Step 0 is a bottom-up sweep (no apical input). At every later step t, hidden layer l receives
//! basal input from layer l − 1 at step t (the input image for l = 0) and apical input from
//! layer l + 1 at step t − 1; the top hidden layer's apical input is the decision layer's belief
//! softmax(logits) at t − 1. Through the top-down weights the higher layers' belief feeds back
//! into the lower layers' activity; with engagement γ = 0 it does not reach the somata and the
//! network computes exactly a feedforward pass.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{activation, Device, Tensor};

use apical_core::{check, InvalidParameter};
use serde::{Deserialize, Serialize};

use crate::model::{host, rates};
use crate::{
    default_hidden, normal_matrix, seeded_linear, Activation, DendriteStats, DendriticLayer,
    DendriticLayerConfig, DendriticState, Network, Recording, SeededRng, TopDown,
};

/// Default hyper-parameters of the gfn, shared by [`GenerativeFeedbackConfig`] and the
/// config-file form [`GfnParams`](crate::GfnParams) (one source of defaults).
pub mod gfn_defaults {
    use crate::Activation;

    /// Recurrent inference steps T.
    pub fn steps() -> usize {
        3
    }
    /// Engagement gain γ.
    pub fn engagement() -> f64 {
        1.0
    }
    /// Rate function.
    pub fn activation() -> Activation {
        Activation::Sigmoid
    }
    /// Step size of the generative top-down learning.
    pub fn top_down_rate() -> f64 {
        0.05
    }
    /// Decay of the Kolen–Pollack top-down weights.
    pub fn top_down_decay() -> f64 {
        1e-3
    }
    /// Step size of the apical-prediction fit.
    pub fn apical_fit_rate() -> f64 {
        0.05
    }
}

/// Configuration of a [`GenerativeFeedbackNetwork`].
#[derive(Config, Debug)]
pub struct GenerativeFeedbackConfig {
    /// Input width.
    pub d_in: usize,
    /// Hidden-layer widths, bottom to top (at least one).
    pub hidden: Vec<usize>,
    /// Output width (classes).
    pub d_out: usize,
    /// Recurrent inference steps T after the bottom-up sweep.
    #[config(default = "gfn_defaults::steps()")]
    pub steps: usize,
    /// Engagement gain γ of every hidden layer.
    #[config(default = "gfn_defaults::engagement()")]
    pub engagement: f64,
    /// Apical inhibition of every hidden layer, in [0, 1].
    #[config(default = 0.0)]
    pub apical_inhibition: f64,
    /// Rate function of the hidden units.
    #[config(default = "gfn_defaults::activation()")]
    pub activation: Activation,
    /// Unit noise σ added to every hidden soma at every step (when a noise generator is given).
    #[config(default = 0.0)]
    pub noise_std: f64,
    /// How the top-down (apical) weights evolve.
    #[config(default = "TopDown::Generative")]
    pub top_down: TopDown,
    /// Step size η of the `generative` top-down learning (normalised LMS, 0 < η < 2).
    #[config(default = "gfn_defaults::top_down_rate()")]
    pub top_down_rate: f64,
    /// Per-update decay λ of the `kolen-pollack` top-down and forward weights, in [0, 1).
    #[config(default = "gfn_defaults::top_down_decay()")]
    pub top_down_decay: f64,
    /// Step size of the online LMS fit of each unit's apical prediction (k, m) that follows
    /// every update ([`fit_apical_predictions`](GenerativeFeedbackNetwork::fit_apical_predictions)).
    #[config(default = "gfn_defaults::apical_fit_rate()")]
    pub apical_fit_rate: f64,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

impl GenerativeFeedbackConfig {
    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If there is no hidden layer or a width is zero (configs are validated earlier).
    pub fn init(&self, device: &Device) -> GenerativeFeedbackNetwork {
        assert!(
            !self.hidden.is_empty(),
            "GenerativeFeedbackConfig: at least one hidden layer"
        );
        assert!(
            self.noise_std >= 0.0,
            "GenerativeFeedbackConfig: noise_std must be ≥ 0"
        );
        let mut layers = Vec::with_capacity(self.hidden.len());
        for (l, &width) in self.hidden.iter().enumerate() {
            let d_in = if l == 0 {
                self.d_in
            } else {
                self.hidden[l - 1]
            };
            let d_above = self.hidden.get(l + 1).copied().unwrap_or(self.d_out);
            layers.push(
                DendriticLayerConfig::new(d_in, width, d_above)
                    .with_engagement(self.engagement)
                    .with_apical_inhibition(self.apical_inhibition)
                    .with_activation(self.activation)
                    .with_seed(self.seed.wrapping_add(l as u64 + 1))
                    .init(device),
            );
        }
        let mut rng = SeededRng::for_stream(self.seed, 0x6F);
        let readout = seeded_linear(
            *self.hidden.last().expect("non-empty"),
            self.d_out,
            &mut rng,
            device,
        );
        let net = GenerativeFeedbackNetwork {
            layers,
            readout,
            steps: self.steps,
            noise_std: self.noise_std,
            top_down: self.top_down,
            top_down_rate: self.top_down_rate,
            top_down_decay: self.top_down_decay,
            apical_fit_rate: self.apical_fit_rate,
        };
        if self.top_down == TopDown::Tied {
            net.tie_top_down()
        } else {
            net
        }
    }
}

/// The generative-feedback network. Build it with [`GenerativeFeedbackConfig::init`].
#[derive(Module, Debug)]
pub struct GenerativeFeedbackNetwork {
    /// Hidden two-compartment layers, bottom to top.
    pub layers: Vec<DendriticLayer>,
    /// Decision layer (logits) on the top hidden layer's rates.
    pub readout: Linear,
    /// Recurrent inference steps after the bottom-up sweep.
    #[module(skip)]
    pub steps: usize,
    /// Unit noise σ.
    #[module(skip)]
    pub noise_std: f64,
    /// How the top-down weights evolve ([`update_top_down`](Self::update_top_down)).
    #[module(skip)]
    pub top_down: TopDown,
    /// Step size of the `generative` top-down learning.
    #[module(skip)]
    pub top_down_rate: f64,
    /// Decay of the `kolen-pollack` mode.
    #[module(skip)]
    pub top_down_decay: f64,
    /// Step size of the apical-prediction fit after every update.
    #[module(skip)]
    pub apical_fit_rate: f64,
}

/// What inference recorded.
#[derive(Debug, Clone)]
pub struct GfnOutput {
    /// Logits after the last step, `[batch, d_out]`.
    pub logits: Tensor<2>,
    /// `states[t][l]`: layer l at step t (t = 0 is the bottom-up sweep).
    pub states: Vec<Vec<DendriticState>>,
}

impl GfnOutput {
    /// Rates of each hidden layer at the last step.
    pub fn final_rates(&self) -> Vec<Tensor<2>> {
        self.states
            .last()
            .expect("at least the bottom-up step")
            .iter()
            .map(|s| s.rate.clone())
            .collect()
    }
}

impl GenerativeFeedbackNetwork {
    /// Input width.
    pub fn d_in(&self) -> usize {
        self.layers[0].basal.weight.dims()[0]
    }

    /// Output width.
    pub fn d_out(&self) -> usize {
        self.readout.weight.dims()[1]
    }

    /// Hidden widths, bottom to top.
    pub fn hidden_widths(&self) -> Vec<usize> {
        self.layers.iter().map(|l| l.d_out()).collect()
    }

    /// Logits after inference, without noise.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]`
    /// - output: `[batch, d_out]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward_recorded(input, None).logits
    }

    /// The bottom-up sweep alone (step 0 of inference: no apical input), one state per layer.
    pub fn sweep(
        &self,
        input: Tensor<2>,
        mut noise: Option<&mut SeededRng>,
    ) -> Vec<DendriticState> {
        self.check_input(&input);
        self.sweep_with(input, &mut noise)
    }

    fn check_input(&self, input: &Tensor<2>) {
        let d_in = input.dims()[1];
        assert_eq!(
            d_in,
            self.d_in(),
            "GenerativeFeedbackNetwork: expected input width {}, got {d_in}",
            self.d_in()
        );
    }

    /// Soma noise `[batch, width]` for one layer and step, when a generator is given and σ > 0.
    fn draw_noise(
        &self,
        batch: usize,
        width: usize,
        device: &Device,
        noise: &mut Option<&mut SeededRng>,
    ) -> Option<Tensor<2>> {
        match noise.as_deref_mut() {
            Some(rng) if self.noise_std > 0.0 => {
                Some(normal_matrix(batch, width, self.noise_std, rng, device))
            }
            _ => None,
        }
    }

    fn sweep_with(
        &self,
        input: Tensor<2>,
        noise: &mut Option<&mut SeededRng>,
    ) -> Vec<DendriticState> {
        let [batch, _] = input.dims();
        let device = input.device();
        let mut sweep: Vec<DendriticState> = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let below = if l == 0 {
                input.clone()
            } else {
                sweep[l - 1].rate.clone()
            };
            sweep.push(layer.forward(
                below,
                None,
                self.draw_noise(batch, layer.d_out(), &device, noise),
            ));
        }
        sweep
    }

    /// Inference with every step's basal, apical, soma, rate and residual recorded. With a noise
    /// generator, each hidden soma gets N(0, σ²) noise at every step (drawn on the host).
    pub fn forward_recorded(
        &self,
        input: Tensor<2>,
        mut noise: Option<&mut SeededRng>,
    ) -> GfnOutput {
        self.check_input(&input);
        let mut states: Vec<Vec<DendriticState>> = Vec::with_capacity(self.steps + 1);
        // Step 0: bottom-up sweep.
        let sweep = self.sweep_with(input.clone(), &mut noise);
        let [batch, _] = input.dims();
        let device = input.device();
        let mut logits = self
            .readout
            .forward(sweep.last().expect("a hidden layer").rate.clone());
        states.push(sweep);
        for _ in 0..self.steps {
            let previous = states.last().expect("previous step");
            let belief = activation::softmax(logits.clone(), 1);
            let mut current: Vec<DendriticState> = Vec::with_capacity(self.layers.len());
            for (l, layer) in self.layers.iter().enumerate() {
                let below = if l == 0 {
                    input.clone()
                } else {
                    current[l - 1].rate.clone()
                };
                let above = if l + 1 < self.layers.len() {
                    previous[l + 1].rate.clone()
                } else {
                    belief.clone()
                };
                current.push(layer.forward(
                    below,
                    Some(above),
                    self.draw_noise(batch, layer.d_out(), &device, &mut noise),
                ));
            }
            logits = self
                .readout
                .forward(current.last().expect("a hidden layer").rate.clone());
            states.push(current);
        }
        GfnOutput { logits, states }
    }
}

impl GenerativeFeedbackNetwork {
    /// Runs inference on `input` (no noise) and moves every layer's apical prediction (k, m)
    /// one least-mean-squares step toward the apical input it received at each feedback step,
    /// keeping the dendritic residual = apical − (k ⊙ rate + m) current as the weights learn.
    pub fn fit_apical_predictions(mut self, input: Tensor<2>, learning_rate: f64) -> Self {
        let out = self.forward_recorded(input, None);
        for step in out.states.iter().skip(1) {
            let layers = std::mem::take(&mut self.layers);
            self.layers = layers
                .into_iter()
                .zip(step)
                .map(|(layer, state)| layer.fit_apical_prediction(state, learning_rate))
                .collect();
        }
        self
    }
}

/// `[model]` with `kind = "gfn"`: the generative-feedback network's hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GfnParams {
    /// Hidden-layer widths, bottom to top (at least one).
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Recurrent inference steps T after the bottom-up sweep.
    #[serde(default = "gfn_defaults::steps")]
    pub steps: usize,
    /// Engagement gain γ (0 = passive: top-down input does not reach the soma).
    #[serde(default = "gfn_defaults::engagement")]
    pub engagement: f64,
    /// Apical inhibition in [0, 1] (1 = apical compartments silenced).
    #[serde(default)]
    pub apical_inhibition: f64,
    /// Rate function.
    #[serde(default = "gfn_defaults::activation")]
    pub activation: Activation,
    /// Unit noise σ added to every hidden soma at every step during training.
    #[serde(default)]
    pub noise_std: f64,
    /// Top-down (apical) weights: "generative" (learned to predict the layer below's basal
    /// drive), "tied" (Wᵀ of the layer above), "fixed-random" or "kolen-pollack".
    #[serde(default)]
    pub top_down: TopDown,
    /// Step size of the generative top-down learning (normalised LMS), in (0, 2).
    #[serde(default = "gfn_defaults::top_down_rate")]
    pub top_down_rate: f64,
    /// Per-update decay of the Kolen–Pollack top-down and forward weights, in [0, 1).
    #[serde(default = "gfn_defaults::top_down_decay")]
    pub top_down_decay: f64,
    /// Step size of the online least-mean-squares fit of each unit's apical prediction (k, m)
    /// after every update, in (0, 1]: keeps the dendritic residual current.
    #[serde(default = "gfn_defaults::apical_fit_rate")]
    pub apical_fit_rate: f64,
}

impl Default for GfnParams {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            steps: gfn_defaults::steps(),
            engagement: gfn_defaults::engagement(),
            apical_inhibition: 0.0,
            activation: gfn_defaults::activation(),
            noise_std: 0.0,
            top_down: TopDown::default(),
            top_down_rate: gfn_defaults::top_down_rate(),
            top_down_decay: gfn_defaults::top_down_decay(),
            apical_fit_rate: gfn_defaults::apical_fit_rate(),
        }
    }
}

impl GfnParams {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(InvalidParameter::new(
                "hidden",
                format!(
                    "needs at least one layer and every width ≥ 1, got {:?}",
                    self.hidden
                ),
            ));
        }
        check::non_negative("engagement", self.engagement)?;
        check::in_range(
            "apical_inhibition",
            self.apical_inhibition,
            0.0,
            1.0,
            false,
            true,
        )?;
        check::non_negative("noise_std", self.noise_std)?;
        check::in_range("top_down_rate", self.top_down_rate, 0.0, 2.0, true, false)?;
        check::in_range(
            "top_down_decay",
            self.top_down_decay,
            0.0,
            1.0,
            false,
            false,
        )?;
        check::in_range(
            "apical_fit_rate",
            self.apical_fit_rate,
            0.0,
            1.0,
            true,
            true,
        )
    }

    /// The network config for `d_in` inputs and `d_out` classes.
    pub fn config(&self, d_in: usize, d_out: usize, seed: u64) -> GenerativeFeedbackConfig {
        GenerativeFeedbackConfig::new(d_in, self.hidden.clone(), d_out)
            .with_steps(self.steps)
            .with_engagement(self.engagement)
            .with_apical_inhibition(self.apical_inhibition)
            .with_activation(self.activation)
            .with_noise_std(self.noise_std)
            .with_top_down(self.top_down)
            .with_top_down_rate(self.top_down_rate)
            .with_top_down_decay(self.top_down_decay)
            .with_apical_fit_rate(self.apical_fit_rate)
            .with_seed(seed)
    }
}

impl Network for GenerativeFeedbackNetwork {
    /// Adds `layer<l>_<basal|apical|rate|residual>` with shape `[trials, steps + 1, units]`.
    fn record(
        &self,
        input: Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> (Tensor<2>, Vec<Recording>) {
        let n = input.dims()[0];
        let out = self.forward_recorded(input, noise);
        let mut arrays = rates(out.final_rates());
        let steps = out.states.len();
        type Pick = fn(&DendriticState) -> Tensor<2>;
        let picks: [(&str, Pick); 4] = [
            ("basal", |s| s.basal.clone()),
            ("apical", |s| s.apical.clone()),
            ("rate", |s| s.rate.clone()),
            ("residual", |s| s.residual.clone()),
        ];
        for l in 0..self.layers.len() {
            let units = self.layers[l].d_out();
            for (name, pick) in picks {
                // [steps][n × units] → [n, steps, units]
                let per_step: Vec<Vec<f32>> =
                    out.states.iter().map(|step| host(pick(&step[l]))).collect();
                let mut values = Vec::with_capacity(n * steps * units);
                for trial in 0..n {
                    for step in &per_step {
                        values.extend_from_slice(&step[trial * units..(trial + 1) * units]);
                    }
                }
                arrays.push(Recording {
                    name: format!("layer{l}_{name}"),
                    shape: vec![n, steps, units],
                    values,
                });
            }
        }
        (out.logits, arrays)
    }

    fn dendrite_stats(&self, input: Tensor<2>) -> Vec<DendriteStats> {
        let out = self.forward_recorded(input, None);
        let feedback = &out.states[1.min(out.states.len() - 1)..];
        (0..self.layers.len())
            .map(|l| {
                let apical = Tensor::cat(feedback.iter().map(|s| s[l].apical.clone()).collect(), 0);
                let residual =
                    Tensor::cat(feedback.iter().map(|s| s[l].residual.clone()).collect(), 0);
                let magnitude: f32 = apical.abs().mean().into_scalar();
                let mean: f32 = residual.clone().mean().into_scalar();
                let var: f32 = (residual - mean).powi_scalar(2).mean().into_scalar();
                DendriteStats {
                    apical_magnitude: magnitude as f64,
                    residual_mean: mean as f64,
                    residual_std: (var as f64).sqrt(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndarray_device;
    use burn::tensor::Tolerance;

    #[test]
    fn records_every_step_and_layer() {
        let device = ndarray_device();
        let net = GenerativeFeedbackConfig::new(6, vec![5, 4], 3)
            .with_steps(2)
            .init(&device);
        let out = net.forward_recorded(Tensor::ones([2, 6], &device), None);
        assert_eq!(out.states.len(), 3);
        assert_eq!(
            out.states[1]
                .iter()
                .map(|s| s.apical.dims())
                .collect::<Vec<_>>(),
            vec![[2, 5], [2, 4]]
        );
        assert_eq!(out.logits.dims(), [2, 3]);
    }

    #[test]
    fn without_engagement_the_network_is_feedforward() {
        let device = ndarray_device();
        let mut rng = SeededRng::new(4);
        let x = normal_matrix(3, 6, 1.0, &mut rng, &device);
        let net = GenerativeFeedbackConfig::new(6, vec![5, 4], 3)
            .with_steps(4)
            .with_engagement(0.0)
            .init(&device);
        let out = net.forward_recorded(x.clone(), None);
        // A plain feedforward pass through the same weights.
        let mut r = x;
        for layer in &net.layers {
            r = layer.activation.forward(layer.basal.forward(r));
        }
        out.final_rates()[1]
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(&r.clone().into_data(), Tolerance::default());
        out.logits
            .into_data()
            .assert_approx_eq::<f32>(&net.readout.forward(r).into_data(), Tolerance::default());
    }

    #[test]
    fn fitting_the_apical_prediction_shrinks_the_residual() {
        let device = ndarray_device();
        let mut rng = SeededRng::new(6);
        let x = normal_matrix(64, 6, 1.0, &mut rng, &device);
        let mut net = GenerativeFeedbackConfig::new(6, vec![5], 3)
            .with_steps(2)
            .init(&device);
        let spread = |net: &GenerativeFeedbackNetwork| -> f32 {
            net.forward_recorded(x.clone(), None).states[2][0]
                .residual
                .clone()
                .powi_scalar(2)
                .mean()
                .into_scalar()
        };
        let before = spread(&net);
        for _ in 0..300 {
            net = net.fit_apical_predictions(x.clone(), 0.2);
        }
        let after = spread(&net);
        assert!(after < 0.5 * before, "residual power {before} → {after}");
    }

    #[test]
    fn with_engagement_feedback_changes_the_rates_unless_apical_is_inhibited() {
        let device = ndarray_device();
        let mut rng = SeededRng::new(5);
        let x = normal_matrix(3, 6, 1.0, &mut rng, &device);
        let engaged = GenerativeFeedbackConfig::new(6, vec![5], 3)
            .with_steps(2)
            .init(&device);
        let out = engaged.forward_recorded(x.clone(), None);
        let change: f32 = (out.states[2][0].rate.clone() - out.states[0][0].rate.clone())
            .abs()
            .sum()
            .into_scalar();
        assert!(
            change > 1e-3,
            "top-down belief should move the rates ({change})"
        );
        let inhibited = GenerativeFeedbackConfig::new(6, vec![5], 3)
            .with_steps(2)
            .with_apical_inhibition(1.0)
            .init(&device);
        let out = inhibited.forward_recorded(x, None);
        out.states[2][0]
            .rate
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(
                &out.states[0][0].rate.clone().into_data(),
                Tolerance::default(),
            );
    }
}
