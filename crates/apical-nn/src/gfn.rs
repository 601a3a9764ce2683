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

/// Configuration of a [`GenerativeFeedbackNetwork`]. The hyper-parameters are the `[model]`
/// table's ([`GfnParams`]), declared, defaulted and checked there once.
#[derive(Config, Debug)]
pub struct GenerativeFeedbackConfig {
    /// Input width.
    pub d_in: usize,
    /// Output width (classes).
    pub d_out: usize,
    /// Widths, inference steps, engagement, top-down mode, noise, frames.
    pub params: GfnParams,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

impl GenerativeFeedbackConfig {
    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If the hyper-parameters fail [`GfnParams::validate`] or do not fit the input width
    /// (configs are validated earlier).
    pub fn init(&self, device: &Device) -> GenerativeFeedbackNetwork {
        let p = &self.params;
        if let Err(e) = p.validate() {
            panic!("GenerativeFeedbackConfig: {e}");
        }
        assert!(
            self.d_in >= p.frames,
            "GenerativeFeedbackConfig: frames must be between 1 and the input width"
        );
        let layout = FrameLayout::new(self.d_in, p.frames);
        assert!(
            !p.context_feedback || layout.extra > 0,
            "GenerativeFeedbackConfig: context_feedback needs extra (cue) inputs after the frames"
        );
        let top_above = if p.context_feedback {
            self.d_out * layout.extra
        } else {
            self.d_out
        };
        let mut layers = Vec::with_capacity(p.hidden.len());
        for (l, &width) in p.hidden.iter().enumerate() {
            let d_in = if l == 0 {
                layout.view_width()
            } else {
                p.hidden[l - 1]
            };
            let d_above = p.hidden.get(l + 1).copied().unwrap_or(top_above);
            layers.push(
                DendriticLayerConfig::new(d_in, width, d_above)
                    .with_engagement(p.engagement)
                    .with_apical_inhibition(p.apical_inhibition)
                    .with_activation(p.activation)
                    .with_seed(self.seed.wrapping_add(l as u64 + 1))
                    .init(device),
            );
        }
        let mut rng = SeededRng::for_stream(self.seed, 0x6F);
        let readout = seeded_linear(
            *p.hidden.last().expect("validate() proved a hidden layer"),
            self.d_out,
            &mut rng,
            device,
        );
        let net = GenerativeFeedbackNetwork {
            layers,
            readout,
            params: p.clone(),
            layout,
        };
        if p.top_down == TopDown::Tied {
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
    /// Hyper-parameters: inference steps, unit noise, the top-down mode and its rates,
    /// context feedback (the layers hold their own engagement and inhibition).
    #[module(skip)]
    pub params: GfnParams,
    /// How the input's frames are presented over the steps of inference.
    #[module(skip)]
    pub layout: FrameLayout,
}

/// A trial's frames in the input (`[frame 0 | … | frame F−1 | extra]`) and what each step of
/// inference sees of them: the running mean of the frames so far, with the extra inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// Width of the whole input.
    pub width: usize,
    /// Frames F (1: the input as a whole at every step).
    pub frames: usize,
    /// Inputs per frame.
    pub frame_width: usize,
    /// Extra inputs after the frames (fewer than F), shown at every step.
    pub extra: usize,
}

impl FrameLayout {
    /// The layout of a `width`-wide input holding `frames` frames.
    pub fn new(width: usize, frames: usize) -> Self {
        let frame_width = width / frames;
        Self {
            width,
            frames,
            frame_width,
            extra: width - frames * frame_width,
        }
    }

    /// Width of what one step sees (one frame's worth plus the extra inputs).
    pub fn view_width(&self) -> usize {
        if self.frames == 1 {
            self.width
        } else {
            self.frame_width + self.extra
        }
    }

    /// Which view step `step` sees: steps with the same index see the same input.
    pub fn view_index(&self, step: usize) -> usize {
        step.min(self.frames - 1)
    }

    /// What step `step` of inference sees of `input` (`[batch, width]`): the running mean of
    /// frames 0 … min(step, F − 1), then the extra inputs; the input itself when F = 1.
    pub fn view(&self, input: &Tensor<2>, step: usize) -> Tensor<2> {
        if self.frames == 1 {
            return input.clone();
        }
        let [batch, _] = input.dims();
        let last = step.min(self.frames - 1);
        let fw = self.frame_width;
        let mut sum = input.clone().slice([0..batch, 0..fw]);
        for k in 1..=last {
            sum = sum + input.clone().slice([0..batch, k * fw..(k + 1) * fw]);
        }
        let mean = sum / (last + 1) as f64;
        if self.extra == 0 {
            mean
        } else {
            let start = self.frames * fw;
            Tensor::cat(
                vec![mean, input.clone().slice([0..batch, start..self.width])],
                1,
            )
        }
    }
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
    /// Input width (all frames, with `frames` > 1).
    pub fn d_in(&self) -> usize {
        self.layout.width
    }

    /// What the top hidden layer's apical dendrites receive for a signal `x` about the choice
    /// (`[batch, d_out]`: the belief, or a rule's output burst): `x` itself, or with
    /// `context_feedback` x ⊗ cue (`[batch, d_out · cue]`, entry i·cue + j = x_i · cue_j).
    pub fn lift_top(&self, x: Tensor<2>, input: &Tensor<2>) -> Tensor<2> {
        if !self.params.context_feedback {
            return x;
        }
        let [batch, d] = x.dims();
        let c = self.layout.extra;
        let cue = input
            .clone()
            .slice([0..batch, self.layout.width - c..self.layout.width]);
        (x.unsqueeze_dim::<3>(2) * cue.unsqueeze_dim::<3>(1)).reshape([batch, d * c])
    }

    /// What inference step `step` feeds the bottom layer (see [`FrameLayout::view`]); the
    /// last step's view (`self.params.steps`) integrates every frame.
    pub fn frame_view(&self, input: &Tensor<2>, step: usize) -> Tensor<2> {
        self.layout.view(input, step)
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

    /// A bottom-up sweep (no apical input) of what step `view` of inference sees of the input:
    /// with frames over time, `view = steps` sweeps the mean of every frame — the whole trial's
    /// evidence, which the local rules and the generative top-down learning learn from. The
    /// same as [`sweep`](Self::sweep) for a network without frames.
    pub fn sweep_view(
        &self,
        input: Tensor<2>,
        view: usize,
        mut noise: Option<&mut SeededRng>,
    ) -> Vec<DendriticState> {
        self.check_input(&input);
        let viewed = self.frame_view(&input, view);
        self.sweep_from(viewed, &mut noise)
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
            Some(rng) if self.params.noise_std > 0.0 => Some(normal_matrix(
                batch,
                width,
                self.params.noise_std,
                rng,
                device,
            )),
            _ => None,
        }
    }

    /// `state` with the private rate noise added to its rate (drawn after the layer's soma
    /// noise, so σ_r = 0 leaves every draw as it was).
    fn spike(
        &self,
        mut state: DendriticState,
        noise: &mut Option<&mut SeededRng>,
    ) -> DendriticState {
        if let Some(rng) = noise.as_deref_mut() {
            state.rate = crate::rate_noise(state.rate, self.params.rate_noise, rng);
        }
        state
    }

    fn sweep_with(
        &self,
        input: Tensor<2>,
        noise: &mut Option<&mut SeededRng>,
    ) -> Vec<DendriticState> {
        let viewed = self.frame_view(&input, 0);
        self.sweep_from(viewed, noise)
    }

    /// The bottom-up sweep from the bottom layer's view of the input.
    fn sweep_from(
        &self,
        viewed: Tensor<2>,
        noise: &mut Option<&mut SeededRng>,
    ) -> Vec<DendriticState> {
        let [batch, _] = viewed.dims();
        let device = viewed.device();
        let mut sweep: Vec<DendriticState> = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let below = if l == 0 {
                viewed.clone()
            } else {
                sweep[l - 1].rate.clone()
            };
            let state = layer.forward(
                below,
                None,
                self.draw_noise(batch, layer.d_out(), &device, noise),
            );
            sweep.push(self.spike(state, noise));
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
        let mut states: Vec<Vec<DendriticState>> = Vec::with_capacity(self.params.steps + 1);
        // Step 0: bottom-up sweep.
        let sweep = self.sweep_with(input.clone(), &mut noise);
        let [batch, _] = input.dims();
        let device = input.device();
        let mut logits = self
            .readout
            .forward(sweep.last().expect("a hidden layer").rate.clone());
        states.push(sweep);
        // The bottom layer's basal drive depends only on its view of the input: off the
        // autodiff graph it is computed once per view (once per trial without frames) — the
        // same product, so the same numbers. Backprop through the unrolled steps keeps one
        // product per step, so its gradient sums over steps exactly as before.
        let reuse = !device.is_autodiff();
        let mut bottom = (0, states[0][0].basal.clone());
        for step in 1..=self.params.steps {
            let previous = states.last().expect("previous step");
            let belief = activation::softmax(logits.clone(), 1);
            let mut current: Vec<DendriticState> = Vec::with_capacity(self.layers.len());
            for (l, layer) in self.layers.iter().enumerate() {
                let above = if l + 1 < self.layers.len() {
                    previous[l + 1].rate.clone()
                } else {
                    self.lift_top(belief.clone(), &input)
                };
                let soma_noise = self.draw_noise(batch, layer.d_out(), &device, &mut noise);
                let state = if l > 0 {
                    layer.forward(current[l - 1].rate.clone(), Some(above), soma_noise)
                } else if reuse {
                    let view = self.layout.view_index(step);
                    if view != bottom.0 {
                        bottom = (view, layer.basal.forward(self.frame_view(&input, step)));
                    }
                    layer.forward_from_basal(bottom.1.clone(), Some(above), soma_noise)
                } else {
                    layer.forward(self.frame_view(&input, step), Some(above), soma_noise)
                };
                current.push(self.spike(state, &mut noise));
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
        // Nothing here is differentiated: on an autodiff device, infer off the graph.
        let out = if input.device().is_autodiff() {
            self.valid().forward_recorded(input.inner(), None)
        } else {
            self.forward_recorded(input, None)
        };
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

/// `[model]` with `kind = "gfn"`: the generative-feedback network's hyper-parameters (a key
/// left out takes its value from [`Default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GfnParams {
    /// Hidden-layer widths, bottom to top (at least one).
    pub hidden: Vec<usize>,
    /// Recurrent inference steps T after the bottom-up sweep.
    pub steps: usize,
    /// Engagement gain γ (0 = passive: top-down input does not reach the soma).
    pub engagement: f64,
    /// Apical inhibition in [0, 1] (1 = apical compartments silenced).
    pub apical_inhibition: f64,
    /// Rate function.
    pub activation: Activation,
    /// Unit noise σ added to every hidden soma at every step during training.
    pub noise_std: f64,
    /// Private noise after the rate function, rate-scaled (Poisson-like): each hidden rate
    /// becomes r + σ_r·√r·ε at every step (what the layer above receives and the recordings
    /// hold), whenever a noise generator is given, as `noise_std` (0: none).
    pub rate_noise: f64,
    /// Top-down (apical) weights: "generative" (learned to predict the layer below's basal
    /// drive), "tied" (Wᵀ of the layer above), "fixed-random" or "kolen-pollack".
    pub top_down: TopDown,
    /// Step size of the generative top-down learning (normalised LMS), in (0, 2).
    pub top_down_rate: f64,
    /// Per-update decay of the Kolen–Pollack top-down and forward weights, in [0, 1).
    pub top_down_decay: f64,
    /// Step size of the online least-mean-squares fit of each unit's apical prediction (k, m)
    /// after every update, in (0, 1]: keeps the dendritic residual current.
    pub apical_fit_rate: f64,
    /// Frames presented over time: 1 (default) shows the whole input at every step of
    /// inference; F > 1 splits it into F frames (plus fewer than F extra inputs, e.g. a
    /// context cue) and step t sees the running mean of frames 0 … t, so that per-step
    /// recordings are within-trial time bins (needs steps ≥ F − 1; the orientation task's
    /// `frames` must match).
    pub frames: usize,
    /// Context-specific feedback: the top layer's apical dendrites receive the belief about
    /// the choice times each context-cue input — a (context, choice) belief — so the top-down
    /// weights can differ by context, and without a cue (passive viewing: the cue set to 0)
    /// no belief feeds back. Needs `frames` > 1 (the cue follows the frames) and a top-down
    /// mode that learns its own weights ("generative" or "fixed-random").
    pub context_feedback: bool,
}

impl Default for GfnParams {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            steps: 3,
            engagement: 1.0,
            apical_inhibition: 0.0,
            activation: Activation::Sigmoid,
            noise_std: 0.0,
            rate_noise: 0.0,
            top_down: TopDown::default(),
            top_down_rate: 0.05,
            top_down_decay: 1e-3,
            apical_fit_rate: 0.05,
            frames: 1,
            context_feedback: false,
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
        check::non_negative("rate_noise", self.rate_noise)?;
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
        )?;
        if self.frames == 0 {
            return Err(InvalidParameter::new("frames", "must be at least 1"));
        }
        if self.context_feedback && self.frames < 2 {
            return Err(InvalidParameter::new(
                "context_feedback",
                "needs frames > 1: the context cue is the inputs after the frames",
            ));
        }
        if self.context_feedback && matches!(self.top_down, TopDown::Tied | TopDown::KolenPollack) {
            return Err(InvalidParameter::new(
                "context_feedback",
                "needs top_down = \"generative\" or \"fixed-random\" (tied and kolen-pollack top-down weights mirror the readout, which has no context)",
            ));
        }
        if self.frames > self.steps + 1 {
            return Err(InvalidParameter::new(
                "frames",
                format!(
                    "{} frames need steps ≥ frames − 1 = {} (one frame per step of inference), got steps = {}",
                    self.frames,
                    self.frames - 1,
                    self.steps
                ),
            ));
        }
        Ok(())
    }

    /// These hyper-parameters with `hidden` as the hidden widths and every other key at its
    /// default.
    pub fn layers(hidden: Vec<usize>) -> Self {
        Self {
            hidden,
            ..Self::default()
        }
    }

    /// The network config for `d_in` inputs and `d_out` classes.
    pub fn config(&self, d_in: usize, d_out: usize, seed: u64) -> GenerativeFeedbackConfig {
        GenerativeFeedbackConfig::new(d_in, d_out, self.clone()).with_seed(seed)
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
    use burn::tensor::{TensorData, Tolerance};

    /// With frames over time, step t sees the running mean of frames 0 … t: changing the last
    /// frame leaves every earlier step of inference exactly as it was.
    #[test]
    fn frames_over_time_are_causal_and_integrate() {
        let device = ndarray_device();
        // 3 frames of 4 inputs, then 2 extra (cue) inputs.
        let net = GenerativeFeedbackConfig::new(
            14,
            2,
            GfnParams {
                steps: 2,
                frames: 3,
                ..GfnParams::layers(vec![5, 4])
            },
        )
        .init(&device);
        assert_eq!(net.d_in(), 14);
        assert_eq!(net.layers[0].basal.weight.dims(), [6, 5]);
        let base: Vec<f32> = (0..14).map(|i| i as f32 * 0.1).collect();
        let mut changed = base.clone();
        for v in &mut changed[8..12] {
            *v += 1.0;
        }
        let run = |x: &[f32]| {
            net.forward_recorded(
                Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, 14]), &device),
                None,
            )
        };
        let (a, b) = (run(&base), run(&changed));
        for t in 0..2 {
            for l in 0..2 {
                a.states[t][l]
                    .rate
                    .clone()
                    .into_data()
                    .assert_eq(&b.states[t][l].rate.clone().into_data(), true);
            }
        }
        let last: f32 = (a.states[2][0].rate.clone() - b.states[2][0].rate.clone())
            .abs()
            .sum()
            .into_scalar();
        assert!(last > 0.0, "the last step sees the last frame");
        // The view: the mean of frames 0..=t, then the cue.
        let view = net.frame_view(
            &Tensor::<2>::from_data(TensorData::new(base.clone(), [1, 14]), &device),
            1,
        );
        let v: Vec<f32> = view.into_data().iter::<f32>().collect();
        let want: Vec<f32> = (0..4)
            .map(|i| (base[i] + base[4 + i]) / 2.0)
            .chain([base[12], base[13]])
            .collect();
        for (x, y) in v.iter().zip(&want) {
            assert!((x - y).abs() < 1e-6, "{v:?} vs {want:?}");
        }
    }

    /// Context-specific feedback: the top layer's apical input is the belief × the cue, so it
    /// differs between contexts with the same frames, and vanishes without a cue.
    #[test]
    fn context_feedback_is_belief_times_cue() {
        let device = ndarray_device();
        let net = GenerativeFeedbackConfig::new(
            14,
            2,
            GfnParams {
                steps: 2,
                frames: 3,
                context_feedback: true,
                ..GfnParams::layers(vec![5])
            },
        )
        .init(&device);
        assert_eq!(
            net.layers[0].apical_weight.dims(),
            [4, 5],
            "(choice × context) above"
        );
        let frames: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        let trial = |cue: [f32; 2]| {
            let mut x = frames.clone();
            x.extend_from_slice(&cue);
            Tensor::<2>::from_data(TensorData::new(x, [1, 14]), &device)
        };
        let lifted: Vec<f32> = net
            .lift_top(
                Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.75], [1, 2]), &device),
                &trial([0.0, 1.0]),
            )
            .into_data()
            .iter::<f32>()
            .collect();
        assert_eq!(lifted, vec![0.0, 0.25, 0.0, 0.75]);
        let apical = |cue| -> Vec<f32> {
            net.forward_recorded(trial(cue), None).states[2][0]
                .apical
                .clone()
                .into_data()
                .iter::<f32>()
                .collect()
        };
        let (a, b, none) = (apical([1.0, 0.0]), apical([0.0, 1.0]), apical([0.0, 0.0]));
        assert_ne!(a, b, "feedback differs by context");
        assert!(
            none.iter().all(|&v| v == 0.0),
            "no cue, no feedback: {none:?}"
        );
    }

    #[test]
    fn records_every_step_and_layer() {
        let device = ndarray_device();
        let net = GenerativeFeedbackConfig::new(
            6,
            3,
            GfnParams {
                steps: 2,
                ..GfnParams::layers(vec![5, 4])
            },
        )
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
        let net = GenerativeFeedbackConfig::new(
            6,
            3,
            GfnParams {
                steps: 4,
                engagement: 0.0,
                ..GfnParams::layers(vec![5, 4])
            },
        )
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
        let mut net = GenerativeFeedbackConfig::new(
            6,
            3,
            GfnParams {
                steps: 2,
                ..GfnParams::layers(vec![5])
            },
        )
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
        let engaged = GenerativeFeedbackConfig::new(
            6,
            3,
            GfnParams {
                steps: 2,
                ..GfnParams::layers(vec![5])
            },
        )
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
        let inhibited = GenerativeFeedbackConfig::new(
            6,
            3,
            GfnParams {
                steps: 2,
                apical_inhibition: 1.0,
                ..GfnParams::layers(vec![5])
            },
        )
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
