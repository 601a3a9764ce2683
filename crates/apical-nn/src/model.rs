//! The network a config names (`[model]`, `kind = …`) and what every network offers a training
//! loop ([`Network`]). One variant per model, each holding that model's hyper-parameters with
//! their defaults and checks; the widths the task fixes (inputs, classes) and the seed come at
//! [`init`](FeedforwardParams::init) time.
//!
//! Adding a model: its file in this crate (Config + Module), a `…Params` struct here with
//! `validate` and `init`, an `impl Network`, and one variant in [`ModelConfig`].

use apical_core::{check, InvalidParameter};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{
    feedforward_defaults as ffd, gfn_defaults as gd, Activation, Classifier, DendriticState,
    Feedforward, FeedforwardConfig, GenerativeFeedbackConfig, GenerativeFeedbackNetwork, TopDown,
};

/// The network (`model.kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// Feedforward baseline (MLP, no top-down input).
    Ff(FeedforwardParams),
    /// Generative-feedback network of two-compartment (dendritic) layers.
    Gfn(GfnParams),
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Ff(FeedforwardParams::default())
    }
}

impl ModelConfig {
    /// The config name of the model kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Ff(_) => "ff",
            ModelConfig::Gfn(_) => "gfn",
        }
    }

    /// Checks the hyper-parameters (keys relative to `[model]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        match self {
            ModelConfig::Ff(p) => p.validate(),
            ModelConfig::Gfn(p) => p.validate(),
        }
    }

    /// Hidden-layer widths, bottom to top.
    pub fn hidden(&self) -> &[usize] {
        match self {
            ModelConfig::Ff(p) => &p.hidden,
            ModelConfig::Gfn(p) => &p.hidden,
        }
    }

    /// Rate function of the hidden units.
    pub fn activation(&self) -> Activation {
        match self {
            ModelConfig::Ff(p) => p.activation,
            ModelConfig::Gfn(p) => p.activation,
        }
    }
}

fn default_hidden() -> Vec<usize> {
    vec![128]
}

/// `[model]` with `kind = "ff"`: the feedforward baseline's hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedforwardParams {
    /// Hidden-layer widths, bottom to top (may be empty: a linear readout).
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Rate function: "relu", "tanh", "sigmoid" or "linear".
    #[serde(default = "ffd::activation")]
    pub activation: Activation,
    /// Unit noise σ added to each hidden unit's input during training.
    #[serde(default)]
    pub noise_std: f64,
}

impl Default for FeedforwardParams {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            activation: ffd::activation(),
            noise_std: 0.0,
        }
    }
}

impl FeedforwardParams {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if self.hidden.contains(&0) {
            return Err(InvalidParameter::new(
                "hidden",
                format!("every width must be at least 1, got {:?}", self.hidden),
            ));
        }
        check::non_negative("noise_std", self.noise_std)
    }

    /// The layer config for `d_in` inputs and `d_out` classes.
    pub fn config(&self, d_in: usize, d_out: usize, seed: u64) -> FeedforwardConfig {
        FeedforwardConfig::new(d_in, self.hidden.clone(), d_out)
            .with_activation(self.activation)
            .with_noise_std(self.noise_std)
            .with_seed(seed)
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
    #[serde(default = "gd::steps")]
    pub steps: usize,
    /// Engagement gain γ (0 = passive: top-down input does not reach the soma).
    #[serde(default = "gd::engagement")]
    pub engagement: f64,
    /// Apical inhibition in [0, 1] (1 = apical compartments silenced).
    #[serde(default)]
    pub apical_inhibition: f64,
    /// Rate function.
    #[serde(default = "gd::activation")]
    pub activation: Activation,
    /// Unit noise σ added to every hidden soma at every step during training.
    #[serde(default)]
    pub noise_std: f64,
    /// Top-down (apical) weights: "generative" (learned to predict the layer below's basal
    /// drive), "tied" (Wᵀ of the layer above), "fixed-random" or "kolen-pollack".
    #[serde(default)]
    pub top_down: TopDown,
    /// Step size of the generative top-down learning (normalised LMS), in (0, 2).
    #[serde(default = "gd::top_down_rate")]
    pub top_down_rate: f64,
    /// Per-update decay of the Kolen–Pollack top-down and forward weights, in [0, 1).
    #[serde(default = "gd::top_down_decay")]
    pub top_down_decay: f64,
    /// Step size of the online least-mean-squares fit of each unit's apical prediction (k, m)
    /// after every update, in (0, 1]: keeps the dendritic residual current.
    #[serde(default = "gd::apical_fit_rate")]
    pub apical_fit_rate: f64,
}

impl Default for GfnParams {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            steps: gd::steps(),
            engagement: gd::engagement(),
            apical_inhibition: 0.0,
            activation: gd::activation(),
            noise_std: 0.0,
            top_down: TopDown::default(),
            top_down_rate: gd::top_down_rate(),
            top_down_decay: gd::top_down_decay(),
            apical_fit_rate: gd::apical_fit_rate(),
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

/// A named array recorded on a probe set: file stem, shape, values (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// File stem (`hidden_0`, `layer0_residual`, …).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// Per hidden layer of a network with dendrites: mean |apical input| and the dendritic
/// residual's mean and standard deviation over the feedback steps of noise-free inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DendriteStats {
    /// Mean |apical input|.
    pub apical_magnitude: f64,
    /// Mean dendritic residual.
    pub residual_mean: f64,
    /// Standard deviation of the dendritic residual.
    pub residual_std: f64,
}

/// What a training loop needs of any network besides its logits: recordings of its activity
/// and, for networks with dendrites, residual statistics.
pub trait Network: Classifier + std::fmt::Debug {
    /// Activity on a probe batch without noise: the logits, and `hidden_<l>` (final rates) for
    /// every network plus whatever else the model records (per-step compartments for gfn).
    fn record(&self, input: Tensor<2>) -> (Tensor<2>, Vec<Recording>);

    /// Dendritic statistics per hidden layer; empty for networks without dendrites.
    fn dendrite_stats(&self, input: Tensor<2>) -> Vec<DendriteStats> {
        let _ = input;
        Vec::new()
    }
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn rates(rates: Vec<Tensor<2>>) -> Vec<Recording> {
    rates
        .into_iter()
        .enumerate()
        .map(|(l, r)| Recording {
            name: format!("hidden_{l}"),
            shape: r.dims().to_vec(),
            values: host(r),
        })
        .collect()
}

impl Network for Feedforward {
    fn record(&self, input: Tensor<2>) -> (Tensor<2>, Vec<Recording>) {
        let out = self.forward_recorded(input, None);
        (out.logits, rates(out.hidden))
    }
}

impl Network for GenerativeFeedbackNetwork {
    /// Adds `layer<l>_<basal|apical|rate|residual>` with shape `[trials, steps + 1, units]`.
    fn record(&self, input: Tensor<2>) -> (Tensor<2>, Vec<Recording>) {
        let n = input.dims()[0];
        let out = self.forward_recorded(input, None);
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

    #[test]
    fn validation_names_the_key() {
        let mut g = GfnParams::default();
        g.hidden.clear();
        assert_eq!(g.validate().unwrap_err().key, "hidden");
        let g = GfnParams {
            apical_inhibition: 1.5,
            ..GfnParams::default()
        };
        assert_eq!(g.validate().unwrap_err().key, "apical_inhibition");
        let f = FeedforwardParams {
            noise_std: -1.0,
            ..FeedforwardParams::default()
        };
        assert_eq!(f.validate().unwrap_err().key, "noise_std");
        assert!(ModelConfig::default().validate().is_ok());
    }

    #[test]
    fn defaults_are_the_layer_configs_defaults() {
        // One source of defaults: the params built with no keys give the same config as the
        // layer's own builder.
        let g = GfnParams::default().config(4, 2, 0);
        let direct = GenerativeFeedbackConfig::new(4, vec![128], 2);
        assert_eq!(g.steps, direct.steps);
        assert_eq!(g.engagement, direct.engagement);
        assert_eq!(g.top_down_rate, direct.top_down_rate);
        assert_eq!(g.apical_fit_rate, direct.apical_fit_rate);
        assert_eq!(g.activation, direct.activation);
        let f = FeedforwardParams::default().config(4, 2, 0);
        assert_eq!(
            f.activation,
            FeedforwardConfig::new(4, vec![], 2).activation
        );
    }

    #[test]
    fn gfn_records_every_compartment_per_step() {
        let device = ndarray_device();
        let net = GfnParams {
            hidden: vec![5],
            steps: 2,
            ..GfnParams::default()
        }
        .config(3, 2, 0)
        .init(&device);
        let (logits, arrays) = net.record(Tensor::ones([4, 3], &device));
        assert_eq!(logits.dims(), [4, 2]);
        let residual = arrays.iter().find(|a| a.name == "layer0_residual").unwrap();
        assert_eq!(residual.shape, vec![4, 3, 5]);
        assert_eq!(net.dendrite_stats(Tensor::ones([4, 3], &device)).len(), 1);
    }
}
