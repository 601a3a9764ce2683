//! The feedforward baseline (`ff`): an MLP with optional unit noise and no top-down input.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use apical_core::{check, InvalidParameter};
use serde::{Deserialize, Serialize};

use crate::model::rates;
use crate::{
    default_hidden, normal_matrix, seeded_linear_with, Activation, Network, Recording, SeededRng,
    WeightInit,
};

/// Feedforward baseline: `d_in → hidden[0] → … → d_out`, rate units φ on every hidden layer and
/// a linear readout (logits). The hyper-parameters are the `[model]` table's
/// ([`FeedforwardParams`]), declared, defaulted and checked there once.
#[derive(Config, Debug)]
pub struct FeedforwardConfig {
    /// Input width.
    pub d_in: usize,
    /// Output width (number of classes).
    pub d_out: usize,
    /// Hidden widths, rate function and unit noise.
    pub params: FeedforwardParams,
    /// Seed of the initial weights (drawn on the host: identical on every backend).
    #[config(default = 0)]
    pub seed: u64,
}

impl FeedforwardConfig {
    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If a width is zero or the hyper-parameters fail [`FeedforwardParams::validate`]
    /// (configs are validated before this).
    pub fn init(&self, device: &Device) -> Feedforward {
        assert!(
            self.d_in > 0 && self.d_out > 0,
            "FeedforwardConfig: widths must be positive"
        );
        if let Err(e) = self.params.validate() {
            panic!("FeedforwardConfig: {e}");
        }
        let mut rng = SeededRng::for_stream(self.seed, 0x1417);
        let mut widths = vec![self.d_in];
        widths.extend(&self.params.hidden);
        widths.push(self.d_out);
        let layers = widths
            .windows(2)
            .map(|w| {
                seeded_linear_with(
                    w[0],
                    w[1],
                    self.params.init,
                    self.params.bias,
                    &mut rng,
                    device,
                )
            })
            .collect();
        Feedforward {
            layers,
            params: self.params.clone(),
        }
    }
}

/// The feedforward baseline network. Build it with [`FeedforwardConfig::init`].
#[derive(Module, Debug)]
pub struct Feedforward {
    /// Hidden layers followed by the readout.
    pub layers: Vec<Linear>,
    /// Hyper-parameters (rate function, unit noise σ).
    #[module(skip)]
    pub params: FeedforwardParams,
}

/// What a forward pass recorded.
#[derive(Debug, Clone)]
pub struct FeedforwardOutput {
    /// Readout (logits), `[batch, d_out]`.
    pub logits: Tensor<2>,
    /// Rates of each hidden layer, bottom to top, each `[batch, width]`.
    pub hidden: Vec<Tensor<2>>,
}

impl Feedforward {
    /// Input width.
    pub fn d_in(&self) -> usize {
        self.layers[0].weight.dims()[0]
    }

    /// Output width.
    pub fn d_out(&self) -> usize {
        self.layers[self.layers.len() - 1].weight.dims()[1]
    }

    /// Hidden-layer widths, bottom to top.
    pub fn hidden_widths(&self) -> Vec<usize> {
        self.layers[..self.layers.len() - 1]
            .iter()
            .map(|l| l.weight.dims()[1])
            .collect()
    }

    /// Deterministic forward pass (no unit noise).
    ///
    /// # Shapes
    /// - input: `[batch, d_in]`
    /// - output: `[batch, d_out]` (logits)
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward_recorded(input, None).logits
    }

    /// Forward pass that also returns every hidden layer's rates. With `noise = Some(rng)`, each
    /// hidden unit's input gets N(0, σ²) noise drawn from `rng` (on the host, so the same
    /// generator state gives the same noise on every backend).
    ///
    /// # Shapes
    /// - input: `[batch, d_in]`
    pub fn forward_recorded(
        &self,
        input: Tensor<2>,
        mut noise: Option<&mut SeededRng>,
    ) -> FeedforwardOutput {
        let [batch, d_in] = input.dims();
        assert_eq!(
            d_in,
            self.d_in(),
            "Feedforward: expected input width {}, got {d_in}",
            self.d_in()
        );
        let device = input.device();
        let (readout, hidden_layers) = self
            .layers
            .split_last()
            .expect("Feedforward: at least the readout layer (build it with FeedforwardConfig)");
        let mut x = input;
        let mut hidden = Vec::with_capacity(hidden_layers.len());
        for layer in hidden_layers {
            let mut pre = layer.forward(x);
            if let Some(rng) = noise.as_deref_mut() {
                if self.params.noise_std > 0.0 {
                    let width = pre.dims()[1];
                    pre = pre + normal_matrix(batch, width, self.params.noise_std, rng, &device);
                }
            }
            x = self.params.activation.forward(pre);
            if let Some(rng) = noise.as_deref_mut() {
                x = crate::rate_noise(x, self.params.rate_noise, rng);
            }
            hidden.push(x.clone());
        }
        FeedforwardOutput {
            logits: readout.forward(x),
            hidden,
        }
    }
}

/// `[model]` with `kind = "ff"`: the feedforward baseline's hyper-parameters (a key left out
/// takes its value from [`Default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedforwardParams {
    /// Hidden-layer widths, bottom to top (may be empty: a linear readout).
    pub hidden: Vec<usize>,
    /// Rate function: "relu", "tanh", "sigmoid" or "linear".
    pub activation: Activation,
    /// Unit noise σ added to each hidden unit's input during training (and whenever a noise
    /// generator is passed to the forward pass).
    pub noise_std: f64,
    /// Private noise after the rate function, rate-scaled (Poisson-like): each hidden rate
    /// becomes r + σ_r·√r·ε (what the next layer receives and the recordings hold), whenever a
    /// noise generator is given, as `noise_std` (0: none).
    pub rate_noise: f64,
    /// Whether every layer has a bias (Song et al. 2024's networks have none).
    pub bias: bool,
    /// Initial weights: "uniform" (U(±1/√fan_in), weights and biases) or "xavier" (Glorot
    /// uniform U(±√(6/(fan_in + fan_out))), biases 0).
    pub init: WeightInit,
}

impl Default for FeedforwardParams {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            activation: Activation::Relu,
            noise_std: 0.0,
            rate_noise: 0.0,
            bias: true,
            init: WeightInit::Uniform,
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
        check::non_negative("noise_std", self.noise_std)?;
        check::non_negative("rate_noise", self.rate_noise)
    }

    /// These hyper-parameters with `hidden` as the hidden widths and every other key at its
    /// default.
    pub fn layers(hidden: Vec<usize>) -> Self {
        Self {
            hidden,
            ..Self::default()
        }
    }

    /// The layer config for `d_in` inputs and `d_out` classes.
    pub fn config(&self, d_in: usize, d_out: usize, seed: u64) -> FeedforwardConfig {
        FeedforwardConfig::new(d_in, d_out, self.clone()).with_seed(seed)
    }
}

impl Network for Feedforward {
    fn record(
        &self,
        input: Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> (Tensor<2>, Vec<Recording>) {
        let out = self.forward_recorded(input, noise);
        (out.logits, rates(out.hidden))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndarray_device;
    use burn::tensor::{TensorData, Tolerance};

    #[test]
    fn shapes_and_recorded_layers() {
        let device = ndarray_device();
        let net = FeedforwardConfig::new(6, 3, FeedforwardParams::layers(vec![5, 4])).init(&device);
        assert_eq!(net.hidden_widths(), vec![5, 4]);
        let out = net.forward_recorded(Tensor::zeros([2, 6], &device), None);
        assert_eq!(out.logits.dims(), [2, 3]);
        assert_eq!(
            out.hidden.iter().map(|h| h.dims()).collect::<Vec<_>>(),
            vec![[2, 5], [2, 4]]
        );
    }

    #[test]
    fn forward_matches_hand_computation() {
        let device = ndarray_device();
        let mut net =
            FeedforwardConfig::new(2, 1, FeedforwardParams::layers(vec![2])).init(&device);
        // W1 = [[1, -1], [2, 0.5]] (d_in × d_out), b1 = [0, -1]; W2 = [[1], [-2]], b2 = [0.5].
        net.layers[0].weight = burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![1.0f32, -1.0, 2.0, 0.5], [2, 2]),
            &device,
        ));
        net.layers[0].bias = Some(burn::module::Param::from_tensor(Tensor::from_floats(
            [0.0, -1.0],
            &device,
        )));
        net.layers[1].weight = burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![1.0f32, -2.0], [2, 1]),
            &device,
        ));
        net.layers[1].bias = Some(burn::module::Param::from_tensor(Tensor::from_floats(
            [0.5],
            &device,
        )));
        // x = [1, 2]: pre1 = [1·1 + 2·2, 1·(−1) + 2·0.5 − 1] = [5, −1]; relu → [5, 0]; out = 5 + 0.5.
        let out = net.forward(Tensor::from_data(
            TensorData::new(vec![1.0f32, 2.0], [1, 2]),
            &device,
        ));
        out.into_data()
            .assert_approx_eq::<f32>(&TensorData::new(vec![5.5f32], [1, 1]), Tolerance::default());
    }

    #[test]
    fn same_seed_same_weights_and_noise_changes_rates() {
        let device = ndarray_device();
        let config = FeedforwardConfig::new(
            4,
            2,
            FeedforwardParams {
                noise_std: 0.5,
                ..FeedforwardParams::layers(vec![8])
            },
        )
        .with_seed(3);
        let a = config.init(&device);
        let b = config.init(&device);
        a.layers[0]
            .weight
            .val()
            .into_data()
            .assert_eq(&b.layers[0].weight.val().into_data(), true);
        let x = Tensor::<2>::ones([3, 4], &device);
        let quiet = a.forward_recorded(x.clone(), None).hidden[0].clone();
        let mut rng = SeededRng::new(1);
        let noisy = a.forward_recorded(x, Some(&mut rng)).hidden[0].clone();
        let diff: f32 = (quiet - noisy).abs().sum().into_scalar();
        assert!(
            diff > 0.1,
            "noise should change the hidden rates (|Δ| = {diff})"
        );
    }

    #[test]
    fn rate_noise_is_private_scaled_by_the_rate_and_leaves_the_soma_noise_as_it_was() {
        let device = ndarray_device();
        // Variance σ²·r per unit; none where the rate is 0.
        let rows = 4000;
        let rates: Vec<f32> = (0..rows).flat_map(|_| [0.0f32, 0.25, 1.0]).collect();
        let rate = Tensor::<2>::from_data(TensorData::new(rates, [rows, 3]), &device);
        let mut rng = SeededRng::new(5);
        let noisy: Vec<f32> = crate::rate_noise(rate, 0.5, &mut rng)
            .into_data()
            .iter::<f32>()
            .collect();
        for (col, r) in [0.0f64, 0.25, 1.0].into_iter().enumerate() {
            let v: Vec<f64> = (0..rows).map(|t| noisy[t * 3 + col] as f64).collect();
            let mean = v.iter().sum::<f64>() / rows as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / rows as f64;
            assert!((mean - r).abs() < 0.03, "column {col}: mean {mean}");
            assert!(
                (var - 0.25 * r).abs() < 0.1 * 0.25 * r + 1e-12,
                "column {col}: var {var}"
            );
        }
        // Off (σ_r = 0) the forward pass draws exactly what it drew before: the same rates.
        let config = |rate_noise| {
            FeedforwardConfig::new(
                4,
                2,
                FeedforwardParams {
                    noise_std: 0.5,
                    rate_noise,
                    ..FeedforwardParams::layers(vec![8, 8])
                },
            )
            .with_seed(3)
        };
        let net = config(0.0).init(&device);
        let x = Tensor::<2>::ones([3, 4], &device);
        let with_soma_noise = |net: &Feedforward| {
            let mut rng = SeededRng::new(1);
            let hidden = net.forward_recorded(x.clone(), Some(&mut rng)).hidden;
            (hidden, rng.next_u64())
        };
        let (a, after) = with_soma_noise(&net);
        // Exactly the soma noise was drawn: 2 layers × 3 trials × 8 units.
        let mut soma_only = SeededRng::new(1);
        for _ in 0..48 {
            soma_only.normal();
        }
        assert_eq!(after, soma_only.next_u64());
        // On, it changes the rates, and without a generator nothing is added.
        let loud = config(0.3).init(&device);
        let (c, _) = with_soma_noise(&loud);
        let diff: f32 = (a[0].clone() - c[0].clone()).abs().sum().into_scalar();
        assert!(diff > 0.01, "rate noise should change the rates ({diff})");
        let quiet_a = net.forward_recorded(x.clone(), None).hidden;
        let quiet_c = loud.forward_recorded(x.clone(), None).hidden;
        quiet_a[1]
            .clone()
            .into_data()
            .assert_eq(&quiet_c[1].clone().into_data(), true);
    }

    #[test]
    fn bias_free_and_xavier_layers_are_drawn_as_asked() {
        let device = ndarray_device();
        // The default draws are the uniform ones with biases, unchanged.
        let default = FeedforwardParams::layers(vec![8])
            .config(4, 3, 5)
            .init(&device);
        let mut rng = SeededRng::for_stream(5, 0x1417);
        let first = crate::seeded_linear(4, 8, &mut rng, &device);
        default.layers[0]
            .weight
            .val()
            .into_data()
            .assert_eq(&first.weight.val().into_data(), true);
        // Song et al.'s layers: Xavier weights within ±√(6/(in + out)), no biases.
        let song = FeedforwardParams {
            bias: false,
            init: WeightInit::Xavier,
            activation: Activation::Sigmoid,
            ..FeedforwardParams::layers(vec![32, 32])
        };
        let net = song.config(784, 10, 0).init(&device);
        assert!(net.layers.iter().all(|l| l.bias.is_none()));
        assert_eq!(
            burn::module::Module::num_params(&net),
            784 * 32 + 32 * 32 + 32 * 10
        );
        let w: Vec<f32> = net.layers[0]
            .weight
            .val()
            .into_data()
            .iter::<f32>()
            .collect();
        let bound = (6.0f32 / (784.0 + 32.0)).sqrt();
        assert!(w.iter().all(|v| v.abs() <= bound));
        let var = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
        assert!((var / (bound * bound / 3.0) - 1.0).abs() < 0.05, "{var}");
        // It still computes logits.
        let out = net.forward(Tensor::ones([2, 784], &device));
        assert_eq!(out.dims(), [2, 10]);
    }

    #[test]
    #[should_panic(expected = "expected input width 4")]
    fn wrong_input_width_panics_with_message() {
        let device = ndarray_device();
        let net = FeedforwardConfig::new(4, 2, FeedforwardParams::layers(vec![3])).init(&device);
        let _ = net.forward(Tensor::zeros([1, 5], &device));
    }
}
