//! `autoencoder`: the generative objective trained by backprop — the control for generative
//! pretraining in few-label studies (does predictive coding's pretraining help more than an
//! autoencoder of the same shape?).
//!
//! The ff network's hidden layers are the encoder; a mirrored decoder (the hidden widths in
//! reverse, the same rate function, then a linear layer of the input's width) reconstructs the
//! input, and backprop descends ½‖x − x̂‖² (batch mean) through decoder and encoder:
//!
//! ```text
//! h_0 = φ(x W_0 + b_0), …, h_top                (the network's own hidden layers, unit noise on)
//! x̂ = φ(… φ(h_top D_top + c_top) …) D_0 + c_0    (the decoder, the rule's state)
//! ```
//!
//! Labels and the readout are not used: the readout stays as initialised, as with generative
//! predictive coding, and a later run loads the hidden layers (`training.init_from`,
//! `init_layers`). Basal weights load between ff and gfn, so the encoder also serves a gfn of
//! the same widths. The decoder has its own optimizer of the run's kind (created at the first
//! update from the run's optimizer config); both are checkpointed.

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use apical_core::InvalidParameter;
use apical_nn::{seeded_linear, Activation, Feedforward, ModelConfig, SeededRng};

use crate::registry::{ff_only, BoxedRule, RuleSpec};
#[cfg(test)]
use crate::OptimizerConfig;
use crate::{LearningRule, Optimizer, OptimizerStateError, StepContext, StepReport, Update};

/// `[rule]` with `kind = "autoencoder"` (no keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoencoderConfig {}

/// The decoder: the hidden widths in reverse, then the input's width.
#[derive(Module, Debug)]
pub struct Decoder {
    /// Layers from the top hidden layer down to the input.
    pub layers: Vec<Linear>,
}

/// The rule and its state.
#[derive(Debug)]
pub struct Autoencoder {
    decoder: Decoder,
    activation: Activation,
    /// The decoder's optimizer, of the run's kind: made at the first update from the run's
    /// optimizer config, or restored from a checkpoint.
    optimizer: Option<Optimizer>,
}

impl Autoencoder {
    /// The decoder mirrored on `net`'s hidden layers, drawn from `seed` on the host (PyTorch's
    /// default uniform ±1/√fan-in); `device`: the network's device (with autodiff).
    ///
    /// # Panics
    /// If `net` has no hidden layer (the config check refuses it first).
    pub fn new(net: &Feedforward, seed: u64, device: &Device) -> Self {
        let n_hidden = net.layers.len() - 1;
        assert!(
            n_hidden > 0,
            "Autoencoder: the network needs a hidden layer"
        );
        let mut widths: Vec<usize> = net.layers[..n_hidden]
            .iter()
            .map(|l| l.weight.dims()[1])
            .collect();
        widths.reverse();
        widths.push(net.d_in());
        let mut rng = SeededRng::for_stream(seed, 0xAE);
        let layers = widths
            .windows(2)
            .map(|w| seeded_linear(w[0], w[1], &mut rng, device))
            .collect();
        Self {
            decoder: Decoder { layers },
            activation: net.params.activation,
            optimizer: None,
        }
    }

    /// The reconstruction of `input` (no unit noise), `[batch, d_in]`.
    pub fn reconstruct(&self, net: &Feedforward, input: Tensor<2>) -> Tensor<2> {
        let top = net
            .forward_recorded(input, None)
            .hidden
            .pop()
            .expect("a hidden layer");
        self.decode(top)
    }

    fn decode(&self, mut h: Tensor<2>) -> Tensor<2> {
        let last = self.decoder.layers.len() - 1;
        for (i, layer) in self.decoder.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = self.activation.forward(h);
            }
        }
        h
    }
}

impl RuleSpec for AutoencoderConfig {
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        ff_only("autoencoder", model)?;
        if model.hidden().is_empty() {
            return Err(InvalidParameter::new(
                "model.hidden",
                "the autoencoder needs at least one hidden layer (its encoder)",
            ));
        }
        Ok(())
    }
    fn for_ff(
        &self,
        net: &Feedforward,
        seed: u64,
        device: &Device,
    ) -> Option<BoxedRule<Feedforward>> {
        let on = net.layers[0].weight.val().device();
        let _ = device;
        Some(Box::new(Autoencoder::new(net, seed, &on)))
    }
}

impl LearningRule<Feedforward> for Autoencoder {
    fn name(&self) -> &'static str {
        "autoencoder"
    }

    fn update(
        &mut self,
        net: Feedforward,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        _labels: &[usize],
    ) -> Update<Feedforward> {
        let (optimizer, learning_rate, noise) = ctx.parts();
        if self.optimizer.is_none() {
            self.optimizer = Some(optimizer.config().clone().init());
        }
        let top = net
            .forward_recorded(input.clone(), Some(noise))
            .hidden
            .pop()
            .expect("a hidden layer");
        let error = self.decode(top) - input;
        let loss = error.powi_scalar(2).sum_dim(1).mean() * 0.5;
        let value: f32 = loss.clone().into_scalar();
        let mut grads = loss.backward();
        let encoder = GradientsParams::from_module(&mut grads, &net);
        let decoder = GradientsParams::from_module(&mut grads, &self.decoder);
        let net = optimizer.step(learning_rate, net, encoder);
        let own = self.optimizer.as_mut().expect("created above");
        let layers = std::mem::take(&mut self.decoder.layers);
        self.decoder = own.step(learning_rate, Decoder { layers }, decoder);
        (net, StepReport { loss: value }, Vec::new())
    }

    /// The decoder's weights (JSON shapes line, little-endian f32; biases as one row each),
    /// then its optimizer's state after a length line.
    fn state_bytes(&self) -> Vec<u8> {
        let mut matrices = Vec::new();
        for layer in &self.decoder.layers {
            matrices.push(layer.weight.val().inner());
            let bias = layer
                .bias
                .as_ref()
                .expect("decoder layers have biases")
                .val();
            let width = bias.dims()[0];
            matrices.push(bias.inner().reshape([1, width]));
        }
        let mut bytes = crate::matrices_to_bytes(&matrices);
        let opt = self
            .optimizer
            .as_ref()
            .map(Optimizer::state_bytes)
            .unwrap_or_default();
        let mut out = format!("{}\n", bytes.len()).into_bytes();
        out.append(&mut bytes);
        out.extend_from_slice(&opt);
        out
    }

    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        let malformed = |m: &str| OptimizerStateError::Malformed(format!("autoencoder state: {m}"));
        let newline = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| malformed("no length line"))?;
        let length: usize = std::str::from_utf8(&bytes[..newline])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| malformed("bad length line"))?;
        let body = &bytes[newline + 1..];
        if body.len() < length {
            return Err(malformed("truncated"));
        }
        let expected: Vec<[usize; 2]> = self
            .decoder
            .layers
            .iter()
            .flat_map(|l| {
                let [i, o] = l.weight.dims();
                [[i, o], [1, o]]
            })
            .collect();
        let matrices =
            crate::matrices_from_bytes(&body[..length], &expected, "decoder weights", device)?;
        // Onto the network's (autodiff) device, trainable again.
        let on = self.decoder.layers[0].weight.val().device();
        for (layer, pair) in self.decoder.layers.iter_mut().zip(matrices.chunks(2)) {
            let weight = Tensor::<2>::from_data(pair[0].to_data(), &on);
            let width = pair[1].dims()[1];
            let bias = Tensor::<1>::from_data(pair[1].clone().reshape([width]).to_data(), &on);
            layer.weight = layer.weight.clone().map(|_| weight.clone().require_grad());
            if let Some(b) = layer.bias.as_mut() {
                *b = b.clone().map(|_| bias.clone().require_grad());
            }
        }
        let opt = &body[length..];
        // Checked now, so that a damaged checkpoint is refused on restore, not at the first step.
        self.optimizer = if opt.is_empty() {
            None
        } else {
            Some(Optimizer::from_state_bytes(opt, &on)?)
        };
        Ok(())
    }

    fn state_is_finite(&self) -> bool {
        self.decoder.layers.iter().all(|l| {
            let w: f32 = l.weight.val().inner().abs().sum().into_scalar();
            let b: f32 = l
                .bias
                .as_ref()
                .map_or(0.0, |b| b.val().inner().abs().sum().into_scalar());
            w.is_finite() && b.is_finite()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Learner;
    use apical_nn::{ndarray_device, FeedforwardConfig, FeedforwardParams};

    fn data(device: &Device) -> Tensor<2> {
        // Two prototypes and their noisy copies: reconstructible through 4 hidden units.
        let mut rng = SeededRng::new(3);
        let rows: Vec<f32> = (0..32)
            .flat_map(|r| {
                let proto = r % 2;
                (0..12)
                    .map(|c| {
                        let on = if proto == 0 { c < 6 } else { c >= 6 };
                        (if on { 1.0 } else { 0.0 }) + 0.05 * rng.normal() as f32
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Tensor::from_data(burn::tensor::TensorData::new(rows, [32, 12]), device)
    }

    #[test]
    fn it_learns_to_reconstruct_and_leaves_the_readout_alone() {
        let device = ndarray_device().autodiff();
        let net = FeedforwardConfig::new(12, 3, FeedforwardParams::layers(vec![8, 4]))
            .with_seed(1)
            .init(&device);
        let readout = net.layers[2].weight.val().inner();
        let rule = AutoencoderConfig {}
            .for_ff(&net, 0, &ndarray_device())
            .unwrap();
        let mut learner = Learner::new(rule, OptimizerConfig::default().init(), 0.01);
        let x = data(&device);
        let mut net = net;
        let mut first = None;
        let mut last = 0.0;
        for _ in 0..400 {
            let (next, report, _) =
                learner.step(net, x.clone(), &[0; 32], &mut SeededRng::new(0), false);
            net = next;
            first.get_or_insert(report.loss);
            last = report.loss;
        }
        let first = first.unwrap();
        assert!(last < 0.2 * first, "reconstruction loss {first} → {last}");
        let moved: f32 = (net.layers[2].weight.val().inner() - readout)
            .abs()
            .sum()
            .into_scalar();
        assert_eq!(moved, 0.0, "the readout is not trained");
    }

    #[test]
    fn its_state_round_trips_and_a_restored_rule_continues_identically() {
        let device = ndarray_device().autodiff();
        let make = || {
            FeedforwardConfig::new(12, 3, FeedforwardParams::layers(vec![6]))
                .with_seed(2)
                .init(&device)
        };
        let x = data(&device);
        let step = |rule: &mut Autoencoder, net: Feedforward, opt: &mut Optimizer| {
            let mut noise = SeededRng::new(5);
            let mut ctx = StepContext {
                optimizer: opt,
                learning_rate: 0.01,
                noise: &mut noise,
                diagnose: false,
                loss: crate::Loss::default(),
            };
            rule.update(net, &mut ctx, x.clone(), &[])
        };
        let mut a = Autoencoder::new(&make(), 7, &device);
        let mut opt_a = OptimizerConfig::default().init();
        // Two steps, so that the decoder's optimizer has moments to lose.
        let (net_a, _, _) = step(&mut a, make(), &mut opt_a);
        let (net_a, _, _) = step(&mut a, net_a, &mut opt_a);
        let saved = a.state_bytes();
        let mut b = Autoencoder::new(&make(), 99, &device);
        b.load_state_bytes(&saved, &ndarray_device()).unwrap();
        let mut opt_b = opt_a.clone();
        let mut opt_c = opt_a.clone();
        let before = net_a.clone();
        let (after_a, ra, _) = step(&mut a, net_a.clone(), &mut opt_a);
        let (after_b, rb, _) = step(&mut b, net_a, &mut opt_b);
        assert_eq!(ra.loss, rb.loss);
        let d: f32 = (after_a.layers[0].weight.val().inner()
            - after_b.layers[0].weight.val().inner())
        .abs()
        .sum()
        .into_scalar();
        assert_eq!(d, 0.0);
        // The decoders (weights and their optimizer's moments) continued identically.
        assert_eq!(a.state_bytes(), b.state_bytes());
        // A fresh decoder optimizer (moments lost) would not.
        let mut c = Autoencoder::new(&make(), 99, &device);
        c.load_state_bytes(&saved, &ndarray_device()).unwrap();
        c.optimizer = None;
        let _ = step(&mut c, before, &mut opt_c);
        assert_ne!(c.state_bytes(), a.state_bytes());
        // A damaged optimizer state is refused on restore.
        let mut damaged = saved.clone();
        let at = damaged.len() - 3;
        damaged.truncate(at);
        assert!(Autoencoder::new(&make(), 1, &device)
            .load_state_bytes(&damaged, &ndarray_device())
            .is_err());
        assert!(b.load_state_bytes(&saved[..10], &ndarray_device()).is_err());
    }
}
