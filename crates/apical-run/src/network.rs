//! The network a run trains: the feedforward baseline or the generative-feedback network.

use apical_nn::{
    Classifier, Feedforward, FeedforwardConfig, GenerativeFeedbackConfig,
    GenerativeFeedbackNetwork, SeededRng,
};
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};

use crate::ModelConfig;

/// One of the models a config can name.
#[derive(Debug, Clone)]
pub enum Network {
    /// `model.kind = "ff"`.
    Ff(Feedforward),
    /// `model.kind = "gfn"`.
    Gfn(GenerativeFeedbackNetwork),
}

/// A named array recorded on the probe set: (file stem, shape, values row-major).
pub type Recording = (String, Vec<usize>, Vec<f32>);

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

impl Network {
    /// Builds the model `config` describes for `n_features` inputs and `n_classes` outputs.
    pub fn build(
        config: &ModelConfig,
        n_features: usize,
        n_classes: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        match config {
            ModelConfig::Ff(ff) => Network::Ff(
                FeedforwardConfig::new(n_features, ff.hidden.clone(), n_classes)
                    .with_activation(ff.activation)
                    .with_noise_std(ff.noise_std)
                    .with_seed(seed)
                    .init(device),
            ),
            ModelConfig::Gfn(g) => Network::Gfn(
                GenerativeFeedbackConfig::new(n_features, g.hidden.clone(), n_classes)
                    .with_steps(g.steps)
                    .with_engagement(g.engagement)
                    .with_apical_inhibition(g.apical_inhibition)
                    .with_activation(g.activation)
                    .with_noise_std(g.noise_std)
                    .with_top_down(g.top_down)
                    .with_top_down_rate(g.top_down_rate)
                    .with_top_down_decay(g.top_down_decay)
                    .with_seed(seed)
                    .init(device),
            ),
        }
    }

    /// The same network on the device without autodiff (for evaluation).
    pub fn valid(&self) -> Self {
        match self {
            Network::Ff(n) => Network::Ff(n.valid()),
            Network::Gfn(n) => Network::Gfn(n.valid()),
        }
    }

    /// Logits for a batch.
    pub fn logits(&self, input: Tensor<2>, noise: Option<&mut SeededRng>) -> Tensor<2> {
        match self {
            Network::Ff(n) => n.logits(input, noise),
            Network::Gfn(n) => n.logits(input, noise),
        }
    }

    /// Number of trainable scalars.
    pub fn num_params(&self) -> usize {
        match self {
            Network::Ff(n) => n.num_params(),
            Network::Gfn(n) => n.num_params(),
        }
    }

    /// The parameters as a burnpack record.
    pub fn record_bytes(&self) -> Result<Vec<u8>, String> {
        let record = match self {
            Network::Ff(n) => n.clone().into_record(),
            Network::Gfn(n) => n.clone().into_record(),
        };
        record
            .into_bytes()
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }

    /// Loads parameters written by [`record_bytes`](Self::record_bytes).
    pub fn load_record_bytes(self, bytes: Vec<u8>) -> Result<Self, String> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| format!("garbled model record: {e}"))?;
        let fit =
            |e: burn::store::RecordError| format!("model record does not fit the config: {e}");
        Ok(match self {
            Network::Ff(n) => Network::Ff(n.try_load_record(record).map_err(fit)?),
            Network::Gfn(n) => Network::Gfn(n.try_load_record(record).map_err(fit)?),
        })
    }

    /// gfn only: per hidden layer, (mean |apical|, residual mean, residual std) over the
    /// feedback steps of noise-free inference on `input`.
    pub fn dendrite_stats(&self, input: Tensor<2>) -> Option<Vec<(f64, f64, f64)>> {
        let Network::Gfn(net) = self else {
            return None;
        };
        let out = net.forward_recorded(input, None);
        let feedback = &out.states[1.min(out.states.len() - 1)..];
        Some(
            (0..net.layers.len())
                .map(|l| {
                    let apical: Vec<Tensor<2>> =
                        feedback.iter().map(|s| s[l].apical.clone()).collect();
                    let residual: Vec<Tensor<2>> =
                        feedback.iter().map(|s| s[l].residual.clone()).collect();
                    let apical = Tensor::cat(apical, 0);
                    let residual = Tensor::cat(residual, 0);
                    let magnitude: f32 = apical.abs().mean().into_scalar();
                    let mean: f32 = residual.clone().mean().into_scalar();
                    let var: f32 = (residual - mean).powi_scalar(2).mean().into_scalar();
                    (magnitude as f64, mean as f64, (var as f64).sqrt())
                })
                .collect(),
        )
    }

    /// Activity on a probe batch (no noise): `hidden_<l>` (final rates) for every model, and
    /// for gfn `layer<l>_<basal|apical|rate|residual>` with shape `[trials, steps + 1, units]`.
    pub fn record_probe(&self, input: Tensor<2>) -> (Tensor<2>, Vec<Recording>) {
        let n = input.dims()[0];
        match self {
            Network::Ff(net) => {
                let out = net.forward_recorded(input, None);
                let arrays = out
                    .hidden
                    .into_iter()
                    .enumerate()
                    .map(|(l, r)| (format!("hidden_{l}"), r.dims().to_vec(), host(r)))
                    .collect();
                (out.logits, arrays)
            }
            Network::Gfn(net) => {
                let out = net.forward_recorded(input, None);
                let mut arrays: Vec<Recording> = out
                    .final_rates()
                    .into_iter()
                    .enumerate()
                    .map(|(l, r)| (format!("hidden_{l}"), r.dims().to_vec(), host(r)))
                    .collect();
                let steps = out.states.len();
                for l in 0..net.layers.len() {
                    let units = net.layers[l].d_out();
                    for (name, pick) in [
                        (
                            "basal",
                            (|s: &apical_nn::DendriticState| s.basal.clone())
                                as fn(&apical_nn::DendriticState) -> Tensor<2>,
                        ),
                        ("apical", |s| s.apical.clone()),
                        ("rate", |s| s.rate.clone()),
                        ("residual", |s| s.residual.clone()),
                    ] {
                        // [steps][n × units] → [n, steps, units]
                        let per_step: Vec<Vec<f32>> =
                            out.states.iter().map(|step| host(pick(&step[l]))).collect();
                        let mut values = Vec::with_capacity(n * steps * units);
                        for trial in 0..n {
                            for step in &per_step {
                                values.extend_from_slice(&step[trial * units..(trial + 1) * units]);
                            }
                        }
                        arrays.push((format!("layer{l}_{name}"), vec![n, steps, units], values));
                    }
                }
                (out.logits, arrays)
            }
        }
    }
}
