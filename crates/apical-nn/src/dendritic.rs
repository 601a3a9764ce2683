//! Two-compartment unit layer (`DendriticLayer`): basal input from below, apical input from
//! above, and a per-unit dendritic error channel.
//!
//! ```text
//! basal    = r_below · W + b
//! apical   = (1 − inhibition) · (above · Y)
//! soma     = basal + γ · apical (+ σ·η)
//! rate     = φ(soma)
//! residual = apical − (k ⊙ rate + m)
//! ```
//!
//! `γ` (engagement) scales how much the apical compartment drives the soma: γ = 0 models passive
//! viewing or anaesthesia. `inhibition` ∈ [0, 1] scales the apical compartment itself toward 0
//! (layer-1 NDNF interneuron activation in Francioni et al. 2026). `k`, `m` are a per-unit
//! linear prediction of apical from the unit's own rate, kept up to date online by
//! [`DendriticLayer::fit_apical_prediction`]; the residual — the apical signal minus its
//! soma-predicted part — is the unit's own teaching signal.
//!
//! The layer can be used on its own inside any burn model:
//!
//! ```
//! use apical_nn::{ndarray_device, DendriticLayerConfig};
//! use burn::tensor::Tensor;
//!
//! let device = ndarray_device();
//! let layer = DendriticLayerConfig::new(16, 8, 4).with_engagement(0.5).init(&device);
//! let below = Tensor::<2>::ones([2, 16], &device);
//! let above = Tensor::<2>::ones([2, 4], &device);
//! let state = layer.forward(below, Some(above), None);
//! assert_eq!(state.rate.dims(), [2, 8]);
//! assert_eq!(state.residual.dims(), [2, 8]);
//! ```

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::{seeded_linear, uniform_matrix, Activation, SeededRng};

/// Configuration of a [`DendriticLayer`].
#[derive(Config, Debug)]
pub struct DendriticLayerConfig {
    /// Units in the layer below (basal input width).
    pub d_in: usize,
    /// Units in this layer.
    pub d_out: usize,
    /// Units in the layer above (apical input width).
    pub d_above: usize,
    /// Engagement gain γ: scales apical input into the soma (0 = passive).
    #[config(default = 1.0)]
    pub engagement: f64,
    /// Apical inhibition in [0, 1]: scales the apical compartment toward 0 (1 = silenced).
    #[config(default = 0.0)]
    pub apical_inhibition: f64,
    /// Rate function φ.
    #[config(default = "Activation::Sigmoid")]
    pub activation: Activation,
    /// Seed of the basal and apical weights (drawn on the host: identical on every backend).
    #[config(default = 0)]
    pub seed: u64,
}

impl DendriticLayerConfig {
    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If a width is zero, or γ or the inhibition is out of range (validated earlier in configs).
    pub fn init(&self, device: &Device) -> DendriticLayer {
        assert!(
            self.d_in > 0 && self.d_out > 0 && self.d_above > 0,
            "DendriticLayerConfig: widths must be positive"
        );
        assert!(
            self.engagement.is_finite() && self.engagement >= 0.0,
            "DendriticLayerConfig: engagement must be ≥ 0, got {}",
            self.engagement
        );
        assert!(
            (0.0..=1.0).contains(&self.apical_inhibition),
            "DendriticLayerConfig: apical_inhibition must be in [0, 1], got {}",
            self.apical_inhibition
        );
        let mut rng = SeededRng::for_stream(self.seed, 0xDE);
        let basal = seeded_linear(self.d_in, self.d_out, &mut rng, device);
        let apical = uniform_matrix(
            self.d_above,
            self.d_out,
            1.0 / (self.d_above as f64).sqrt(),
            &mut rng,
            device,
        );
        DendriticLayer {
            basal,
            // Never trained by gradient: the network's top-down mode moves it (top_down.rs).
            apical_weight: Param::from_tensor(apical).set_require_grad(false),
            prediction_slope: Param::from_tensor(Tensor::zeros([self.d_out], device))
                .set_require_grad(false),
            prediction_offset: Param::from_tensor(Tensor::zeros([self.d_out], device))
                .set_require_grad(false),
            engagement: self.engagement,
            apical_inhibition: self.apical_inhibition,
            activation: self.activation,
        }
    }
}

/// Two-compartment unit layer. Build it with [`DendriticLayerConfig::init`].
#[derive(Module, Debug)]
pub struct DendriticLayer {
    /// Basal synapses W (`[d_in, d_out]`) and bias b.
    pub basal: Linear,
    /// Apical synapses Y from the layer above, `[d_above, d_out]`. Not trained by gradient
    /// (`require_grad` is off): a network moves them by its top-down mode.
    pub apical_weight: Param<Tensor<2>>,
    /// k: per-unit slope of the apical prediction from the rate.
    pub prediction_slope: Param<Tensor<1>>,
    /// m: per-unit offset of the apical prediction.
    pub prediction_offset: Param<Tensor<1>>,
    /// Engagement gain γ.
    #[module(skip)]
    pub engagement: f64,
    /// Apical inhibition in [0, 1].
    #[module(skip)]
    pub apical_inhibition: f64,
    /// Rate function φ.
    #[module(skip)]
    pub activation: Activation,
}

/// Everything a [`DendriticLayer`] computed for one inference step, each `[batch, d_out]`.
#[derive(Debug, Clone)]
pub struct DendriticState {
    /// Basal input W·r_below + b.
    pub basal: Tensor<2>,
    /// Apical input after inhibition.
    pub apical: Tensor<2>,
    /// Somatic input basal + γ·apical (+ noise).
    pub soma: Tensor<2>,
    /// Rate φ(soma).
    pub rate: Tensor<2>,
    /// Dendritic residual apical − (k ⊙ rate + m).
    pub residual: Tensor<2>,
}

impl DendriticLayer {
    /// Units in this layer.
    pub fn d_out(&self) -> usize {
        self.basal.weight.dims()[1]
    }

    /// One step of the layer.
    ///
    /// # Shapes
    /// - below: `[batch, d_in]`
    /// - above: `[batch, d_above]` (None: no top-down input, apical = 0)
    /// - noise: `[batch, d_out]`, added to the soma
    pub fn forward(
        &self,
        below: Tensor<2>,
        above: Option<Tensor<2>>,
        noise: Option<Tensor<2>>,
    ) -> DendriticState {
        let [_, d_in] = below.dims();
        let expected = self.basal.weight.dims()[0];
        assert_eq!(
            d_in, expected,
            "DendriticLayer: expected basal input width {expected}, got {d_in}"
        );
        self.forward_from_basal(self.basal.forward(below), above, noise)
    }

    /// [`forward`](Self::forward) with the basal drive already computed (inference reuses the
    /// bottom layer's drive while its view of the input does not change).
    pub fn forward_from_basal(
        &self,
        basal: Tensor<2>,
        above: Option<Tensor<2>>,
        noise: Option<Tensor<2>>,
    ) -> DendriticState {
        let [batch, _] = basal.dims();
        let apical = match above {
            Some(above) => {
                let d_above = self.apical_weight.dims()[0];
                assert_eq!(
                    above.dims(),
                    [batch, d_above],
                    "DendriticLayer: expected apical input [{batch}, {d_above}], got {:?}",
                    above.dims()
                );
                above.matmul(self.apical_weight.val()) * (1.0 - self.apical_inhibition)
            }
            None => basal.zeros_like(),
        };
        let mut soma = basal.clone() + apical.clone() * self.engagement;
        if let Some(noise) = noise {
            soma = soma + noise;
        }
        let rate = self.activation.forward(soma.clone());
        let predicted = rate.clone() * self.prediction_slope.val().unsqueeze::<2>()
            + self.prediction_offset.val().unsqueeze::<2>();
        let residual = apical.clone() - predicted;
        DendriticState {
            basal,
            apical,
            soma,
            rate,
            residual,
        }
    }

    /// One normalised least-mean-squares step of the apical prediction (k, m) toward `state`'s
    /// apical input, per unit: with the regressor x = (rate, 1),
    /// `k += η·mean(residual ⊙ rate)/(mean(rate²) + 1)`, `m += η·mean(residual)/(mean(rate²) + 1)`
    /// (stable for 0 < η < 2 whatever the rates' scale). Returns the updated layer.
    pub fn fit_apical_prediction(mut self, state: &DendriticState, learning_rate: f64) -> Self {
        let batch = state.rate.dims()[0] as f64;
        let power = state.rate.clone().powi_scalar(2).sum_dim(0).squeeze::<1>() / batch + 1.0;
        let dk = (state.residual.clone() * state.rate.clone())
            .sum_dim(0)
            .squeeze::<1>()
            / batch
            / power.clone()
            * learning_rate;
        let dm = state.residual.clone().sum_dim(0).squeeze::<1>() / batch / power * learning_rate;
        // The state may come from inference off the autodiff graph (the gfn's bookkeeping).
        let on_params = |d: Tensor<1>| {
            if self.prediction_slope.val().device().is_autodiff() && !d.device().is_autodiff() {
                Tensor::from_inner(d)
            } else {
                d.detach()
            }
        };
        let (dk, dm) = (on_params(dk), on_params(dm));
        self.prediction_slope = self.prediction_slope.map(|k| (k + dk).detach());
        self.prediction_offset = self.prediction_offset.map(|m| (m + dm).detach());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndarray_device;
    use burn::tensor::{TensorData, Tolerance};

    fn inputs(device: &Device) -> (Tensor<2>, Tensor<2>) {
        let mut rng = SeededRng::new(3);
        (
            crate::normal_matrix(5, 6, 1.0, &mut rng, device),
            crate::normal_matrix(5, 3, 1.0, &mut rng, device),
        )
    }

    #[test]
    fn zero_engagement_gives_the_feedforward_rates() {
        let device = ndarray_device();
        let layer = DendriticLayerConfig::new(6, 4, 3)
            .with_engagement(0.0)
            .init(&device);
        let (below, above) = inputs(&device);
        let with_feedback = layer.forward(below.clone(), Some(above), None);
        let plain = layer.activation.forward(layer.basal.forward(below));
        with_feedback
            .rate
            .into_data()
            .assert_approx_eq::<f32>(&plain.into_data(), Tolerance::default());
        let apical_norm: f32 = with_feedback.apical.abs().sum().into_scalar();
        assert!(
            apical_norm > 0.0,
            "the apical compartment still receives input at γ = 0"
        );
    }

    #[test]
    fn engagement_lets_apical_input_drive_the_soma_and_inhibition_silences_it() {
        let device = ndarray_device();
        let (below, above) = inputs(&device);
        let engaged = DendriticLayerConfig::new(6, 4, 3).init(&device);
        let s = engaged.forward(below.clone(), Some(above.clone()), None);
        (s.soma.clone() - s.basal.clone())
            .into_data()
            .assert_approx_eq::<f32>(&s.apical.clone().into_data(), Tolerance::default());
        let silenced = DendriticLayerConfig::new(6, 4, 3)
            .with_apical_inhibition(1.0)
            .init(&device);
        let s = silenced.forward(below, Some(above), None);
        s.apical
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::zeros::<f32, _>([5, 4]), Tolerance::default());
        s.soma
            .into_data()
            .assert_approx_eq::<f32>(&s.basal.into_data(), Tolerance::default());
    }

    #[test]
    fn online_fit_learns_the_soma_predicted_part_of_the_apical_input() {
        // Apical input built as 2·rate − 0.5 + noise-free: after fitting, the residual vanishes.
        let device = ndarray_device();
        let mut layer = DendriticLayerConfig::new(6, 4, 3)
            .with_engagement(0.0)
            .init(&device);
        let mut rng = SeededRng::new(8);
        for _ in 0..3000 {
            let below = crate::normal_matrix(32, 6, 1.0, &mut rng, &device);
            let mut state = layer.forward(below, None, None);
            state.apical = state.rate.clone() * 2.0 - 0.5;
            let predicted = state.rate.clone() * layer.prediction_slope.val().unsqueeze::<2>()
                + layer.prediction_offset.val().unsqueeze::<2>();
            state.residual = state.apical.clone() - predicted;
            layer = layer.fit_apical_prediction(&state, 0.5);
        }
        let k: Vec<f32> = layer
            .prediction_slope
            .val()
            .into_data()
            .iter::<f32>()
            .collect();
        let m: Vec<f32> = layer
            .prediction_offset
            .val()
            .into_data()
            .iter::<f32>()
            .collect();
        assert!(k.iter().all(|&v| (v - 2.0).abs() < 0.05), "k = {k:?}");
        assert!(m.iter().all(|&v| (v + 0.5).abs() < 0.05), "m = {m:?}");
    }

    #[test]
    #[should_panic(expected = "expected apical input")]
    fn wrong_apical_width_panics_with_message() {
        let device = ndarray_device();
        let layer = DendriticLayerConfig::new(6, 4, 3).init(&device);
        let _ = layer.forward(
            Tensor::zeros([2, 6], &device),
            Some(Tensor::zeros([2, 5], &device)),
            None,
        );
    }
}
