//! The network a config names (`[model]`, `kind = …`) and what every network offers a training
//! loop ([`Network`]). One variant per model, each holding that model's hyper-parameters with
//! their defaults (`Default`) and checks (`validate`) — their only declaration; the widths the
//! task fixes (inputs, classes) and the seed come at [`config`](FeedforwardParams::config) time.
//!
//! Adding a model: its file in this crate (a `…Params` struct with `Default`, `validate` and
//! `config`, a burn Config holding it, the Module, `impl Classifier` and `impl Network`) and one
//! variant in [`ModelConfig`].

use apical_core::{InvalidParameter, SeededRng};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{
    Activation, BciParams, Classifier, FeedforwardParams, FrameLayout, GfnParams, SamplingParams,
};

/// The network (`model.kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// Feedforward baseline (MLP, no top-down input).
    Ff(FeedforwardParams),
    /// Generative-feedback network of two-compartment (dendritic) layers.
    Gfn(GfnParams),
    /// The recorded layer of a BCI experiment (two-compartment units, trained by reward only
    /// through the closed-loop `bci` task).
    Bci(BciParams),
    /// The sampling reference model of Haefner, Berkes & Fiser (2016): not trained; the
    /// orientation task's probe is sampled and recorded (`sampling.rs`).
    Sampling(SamplingParams),
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Ff(FeedforwardParams::default())
    }
}

/// Default hidden widths of every model: one layer of 128 units.
pub(crate) fn default_hidden() -> Vec<usize> {
    vec![128]
}

impl ModelConfig {
    /// Every model kind's config name.
    pub const KINDS: &'static [&'static str] = &["ff", "gfn", "bci", "sampling"];

    /// Visits the hyper-parameter type of the model kind named `kind` (`None`: no such kind).
    pub fn visit_kind<V: apical_core::KindVisitor>(kind: &str, visitor: V) -> Option<V::Output> {
        Some(match kind {
            "ff" => visitor.visit::<FeedforwardParams>(),
            "gfn" => visitor.visit::<GfnParams>(),
            "bci" => visitor.visit::<BciParams>(),
            "sampling" => visitor.visit::<SamplingParams>(),
            _ => return None,
        })
    }

    /// The config name of the model kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Ff(_) => "ff",
            ModelConfig::Gfn(_) => "gfn",
            ModelConfig::Bci(_) => "bci",
            ModelConfig::Sampling(_) => "sampling",
        }
    }

    /// Checks the hyper-parameters (keys relative to `[model]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        match self {
            ModelConfig::Ff(p) => p.validate(),
            ModelConfig::Gfn(p) => p.validate(),
            ModelConfig::Bci(p) => p.validate(),
            ModelConfig::Sampling(p) => p.validate(),
        }
    }

    /// Private noise after the rate function (`rate_noise`; 0 for models without it).
    pub fn rate_noise(&self) -> f64 {
        match self {
            ModelConfig::Ff(p) => p.rate_noise,
            ModelConfig::Gfn(p) => p.rate_noise,
            ModelConfig::Bci(_) | ModelConfig::Sampling(_) => 0.0,
        }
    }

    /// Hidden-layer widths, bottom to top.
    pub fn hidden(&self) -> &[usize] {
        match self {
            ModelConfig::Ff(p) => &p.hidden,
            ModelConfig::Gfn(p) => &p.hidden,
            ModelConfig::Bci(p) => std::slice::from_ref(&p.units),
            ModelConfig::Sampling(p) => std::slice::from_ref(&p.units),
        }
    }

    /// Trainable scalars of the network this config builds for `d_in` inputs and `d_out`
    /// classes (counted from the widths, without building it; the gfn's context feedback,
    /// which widens the top layer's apical weights, is not counted).
    pub fn n_params(&self, d_in: usize, d_out: usize) -> usize {
        let linear = |a: usize, b: usize| a * b + b;
        match self {
            ModelConfig::Ff(p) => {
                let mut widths = vec![d_in];
                widths.extend(&p.hidden);
                widths.push(d_out);
                let bias = usize::from(p.bias);
                widths.windows(2).map(|w| w[0] * w[1] + bias * w[1]).sum()
            }
            ModelConfig::Gfn(p) => {
                let view = FrameLayout::new(d_in, p.frames.clamp(1, d_in.max(1))).view_width();
                let mut below = view;
                let mut total = 0;
                for (l, &w) in p.hidden.iter().enumerate() {
                    let above = p.hidden.get(l + 1).copied().unwrap_or(d_out);
                    // basal W, b; apical weights; the apical prediction's slope and offset
                    total += linear(below, w) + above * w + 2 * w;
                    below = w;
                }
                total + linear(below, d_out)
            }
            ModelConfig::Bci(p) => linear(d_in, p.units) + 3 * p.units,
            ModelConfig::Sampling(_) => 0,
        }
    }

    /// Rate function of the hidden units.
    pub fn activation(&self) -> Activation {
        match self {
            ModelConfig::Ff(p) => p.activation,
            ModelConfig::Gfn(p) => p.activation,
            ModelConfig::Bci(_) => Activation::Sigmoid,
            ModelConfig::Sampling(_) => Activation::Linear,
        }
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
    /// Activity on a probe batch: the logits, and `hidden_<l>` (final rates) for every network
    /// plus whatever else the model records (per-step compartments for gfn). With a noise
    /// generator the model's unit noise is on, as in training (independent per unit and step,
    /// drawn from `noise` on the host), so trial-to-trial variability has a private part;
    /// without one the recording is deterministic.
    fn record(
        &self,
        input: Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> (Tensor<2>, Vec<Recording>);

    /// Dendritic statistics per hidden layer; empty for networks without dendrites.
    fn dendrite_stats(&self, input: Tensor<2>) -> Vec<DendriteStats> {
        let _ = input;
        Vec::new()
    }
}

/// A matrix's values on the host, row-major.
pub(crate) fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// `hidden_<l>` recordings of per-layer rates.
pub(crate) fn rates(rates: Vec<Tensor<2>>) -> Vec<Recording> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ndarray_device, FeedforwardConfig, Network};

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
    fn a_model_table_without_keys_is_the_default_and_the_network_keeps_its_params() {
        // One source of defaults: the `[model]` table's keys default to `Default`, and the
        // network built from a config carries the very same hyper-parameters.
        let parsed = |text: &str| toml::from_str::<ModelConfig>(text).unwrap();
        assert_eq!(
            parsed("kind = \"ff\""),
            ModelConfig::Ff(FeedforwardParams::default())
        );
        assert_eq!(
            parsed("kind = \"gfn\""),
            ModelConfig::Gfn(GfnParams::default())
        );
        assert_eq!(
            parsed("kind = \"bci\""),
            ModelConfig::Bci(BciParams::default())
        );
        assert_eq!(
            parsed("kind = \"sampling\""),
            ModelConfig::Sampling(SamplingParams::default())
        );
        let g = GfnParams {
            steps: 5,
            noise_std: 0.3,
            ..GfnParams::layers(vec![4])
        };
        let net = g.config(3, 2, 0).init(&ndarray_device());
        assert_eq!(net.params, g);
    }

    #[test]
    fn the_counted_parameters_are_the_built_networks() {
        use burn::module::Module;
        let device = ndarray_device();
        let ff = FeedforwardParams::layers(vec![7, 5]);
        assert_eq!(
            ModelConfig::Ff(ff.clone()).n_params(6, 3),
            ff.config(6, 3, 0).init(&device).num_params()
        );
        let gfn = GfnParams::layers(vec![7, 5]);
        assert_eq!(
            ModelConfig::Gfn(gfn.clone()).n_params(6, 3),
            gfn.config(6, 3, 0).init(&device).num_params()
        );
        let framed = GfnParams {
            frames: 3,
            steps: 2,
            ..GfnParams::layers(vec![4])
        };
        assert_eq!(
            ModelConfig::Gfn(framed.clone()).n_params(14, 2),
            framed.config(14, 2, 0).init(&device).num_params()
        );
        let bci = BciParams::default();
        assert_eq!(
            ModelConfig::Bci(bci.clone()).n_params(9, 1),
            bci.config(9, 1, 0).init(&device).num_params()
        );
    }

    #[test]
    #[should_panic(expected = "noise_std")]
    fn a_network_config_that_fails_its_params_checks_panics_naming_the_key() {
        let bad = FeedforwardParams {
            noise_std: -1.0,
            ..FeedforwardParams::default()
        };
        let _ = FeedforwardConfig::new(2, 2, bad).init(&ndarray_device());
    }

    /// The noise a recording adds is private: identical trials vary, and independently across
    /// units (for ff and gfn alike); without a generator the recording is deterministic.
    #[test]
    fn recording_noise_is_private_to_each_unit() {
        let device = ndarray_device();
        let ff = FeedforwardConfig::new(
            3,
            2,
            FeedforwardParams {
                noise_std: 0.5,
                ..FeedforwardParams::layers(vec![6])
            },
        )
        .init(&device);
        let gfn = GfnParams {
            hidden: vec![6],
            steps: 2,
            noise_std: 0.5,
            ..GfnParams::default()
        }
        .config(3, 2, 0)
        .init(&device);
        check_private(&ff, &device);
        check_private(&gfn, &device);
    }

    fn check_private<N: Network>(net: &N, device: &burn::tensor::Device) {
        {
            let n = 3000;
            let input = Tensor::<2>::ones([n, 3], device);
            let hidden = |noise: Option<&mut SeededRng>| {
                let (_, arrays) = net.record(input.clone(), noise);
                arrays
                    .into_iter()
                    .find(|a| a.name == "hidden_0")
                    .unwrap()
                    .values
            };
            let quiet = hidden(None);
            assert!(quiet.chunks(6).all(|row| row == &quiet[..6]));
            let noisy = hidden(Some(&mut SeededRng::new(3)));
            let column =
                |u: usize| -> Vec<f64> { noisy.chunks(6).map(|row| f64::from(row[u])).collect() };
            let stats = |x: &[f64]| {
                let m = x.iter().sum::<f64>() / x.len() as f64;
                let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / x.len() as f64;
                (m, v)
            };
            for a in 0..6 {
                let (ma, va) = stats(&column(a));
                assert!(va > 1e-4, "unit {a} varies ({va})");
                for b in a + 1..6 {
                    let (mb, vb) = stats(&column(b));
                    let cov = column(a)
                        .iter()
                        .zip(column(b))
                        .map(|(x, y)| (x - ma) * (y - mb))
                        .sum::<f64>()
                        / n as f64;
                    let r = cov / (va * vb).sqrt();
                    assert!(r.abs() < 0.1, "units {a}, {b} correlate: r = {r}");
                }
            }
        }
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
        let (logits, arrays) = net.record(Tensor::ones([4, 3], &device), None);
        assert_eq!(logits.dims(), [4, 2]);
        let residual = arrays.iter().find(|a| a.name == "layer0_residual").unwrap();
        assert_eq!(residual.shape, vec![4, 3, 5]);
        assert_eq!(net.dendrite_stats(Tensor::ones([4, 3], &device)).len(), 1);
    }
}
