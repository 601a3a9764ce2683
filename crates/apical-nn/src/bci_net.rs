//! The network a brain–computer-interface experiment records from (`model.kind = "bci"`): one
//! layer of two-compartment units whose basal input is the visual scene (the grating the
//! decoder moves) and whose apical tuft receives a higher area's signal about the task's error
//! change through per-unit top-down weights.
//!
//! ```text
//! basal    = x · W + b                                   (x: the visual input)
//! soma     = basal + σ·ξ                                 (ξ ~ N(0, 1) per unit and step)
//! rate     = sigmoid(soma)
//! apical   = (1 − inhibition)·(γ·t·U + c·rate) + σ_a·ζ   (t: the higher area's signal, K values)
//! residual = apical − (k ⊙ rate + m)
//! ```
//!
//! Each step has two phases: the basal phase ([`BciNetwork::basal_phase`]) gives the rates the
//! experimenter's decoder reads; the environment answers, and the higher area sends its signal
//! t (`[batch, K]`: the K-dimensional error of a task with K decoder dimensions); the apical
//! phase ([`BciNetwork::apical_phase`]) is the tuft's response to it. `U` (the layer's
//! `apical_weight`, `[K, units]`) holds the per-unit top-down weights — zero until a rule
//! learns them from experience; [`BciNetwork::apical_phase_driven`] takes a top-down drive per
//! unit directly (a broadcast: the same scalar to every tuft). `c` is the back-propagating coupling of the unit's own activity into
//! its tuft (what the "soma-predicted part" of a recorded dendritic signal is); `k`, `m` are
//! the unit's prediction of its apical signal from its rate, fitted by least squares on the
//! baseline block ([`BciNetwork::with_soma_prediction`]), so that the residual is the
//! non-somatic part.
//!
//! In this model the apical compartment teaches but does not drive the soma: the closed loop
//! changes behaviour only through learning, never by the top-down signal amplifying the
//! activity that moved the cursor. γ (engagement) scales the higher area's drive to the tuft:
//! γ = 0 is anaesthesia (no top-down drive); `apical_inhibition = 1` silences the tuft (the
//! layer-1 interneuron activation of Francioni et al. 2026).

use apical_core::{check, InvalidParameter};
use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{
    normal_matrix, Activation, Classifier, DendriticLayer, DendriticLayerConfig, DendriticState,
    SeededRng,
};

/// Configuration of a [`BciNetwork`]. The hyper-parameters are the `[model]` table's
/// ([`BciParams`]), declared, defaulted and checked there once.
#[derive(Config, Debug)]
pub struct BciNetworkConfig {
    /// Width of the visual input.
    pub d_in: usize,
    /// Units, engagement, inhibition, noise levels and coupling.
    pub params: BciParams,
    /// Seed of the basal weights.
    #[config(default = 0)]
    pub seed: u64,
    /// K: width of the higher area's signal (the task's decoder dimensions).
    #[config(default = 1)]
    pub top_down_dims: usize,
}

impl BciNetworkConfig {
    /// Builds the network on `device`; the top-down weights start at zero.
    ///
    /// # Panics
    /// If the hyper-parameters fail [`BciParams::validate`] (configs are validated earlier).
    pub fn init(&self, device: &Device) -> BciNetwork {
        let p = &self.params;
        if let Err(e) = p.validate() {
            panic!("BciNetworkConfig: {e}");
        }
        let mut layer = DendriticLayerConfig::new(self.d_in, p.units, self.top_down_dims)
            .with_engagement(p.engagement)
            .with_apical_inhibition(p.apical_inhibition)
            .with_activation(Activation::Sigmoid)
            .with_seed(self.seed)
            .init(device);
        layer.apical_weight =
            Param::from_tensor(Tensor::zeros([self.top_down_dims, p.units], device))
                .set_require_grad(false);
        BciNetwork {
            layer,
            params: p.clone(),
        }
    }
}

/// The recorded layer of a BCI experiment. Build it with [`BciNetworkConfig::init`].
#[derive(Module, Debug)]
pub struct BciNetwork {
    /// The two-compartment layer: basal W, b; top-down U (`apical_weight`, `[K, units]`);
    /// soma prediction k, m.
    pub layer: DendriticLayer,
    /// Hyper-parameters: σ (somatic noise), σ_a (apical noise), c (back-propagating coupling);
    /// the layer holds its own engagement and inhibition.
    #[module(skip)]
    pub params: BciParams,
}

/// The basal phase of one step, each `[batch, units]`.
#[derive(Debug, Clone)]
pub struct BasalPhase {
    /// x·W + b.
    pub basal: Tensor<2>,
    /// basal + σ·ξ.
    pub soma: Tensor<2>,
    /// sigmoid(soma).
    pub rate: Tensor<2>,
    /// sigmoid(basal): the rate the basal input alone predicts; `rate − drive` is the unit's
    /// private fluctuation (what node perturbation and credit learning correlate with reward).
    pub drive: Tensor<2>,
}

impl BciNetwork {
    /// Units in the recorded layer.
    pub fn units(&self) -> usize {
        self.layer.d_out()
    }

    /// K: width of the higher area's signal.
    pub fn top_down_dims(&self) -> usize {
        self.layer.apical_weight.dims()[0]
    }

    /// Width of the visual input.
    pub fn d_in(&self) -> usize {
        self.layer.basal.weight.dims()[0]
    }

    /// The basal phase: rates with private noise drawn from `noise` (none: noise-free).
    ///
    /// # Shapes
    /// - input: `[batch, d_in]`
    pub fn basal_phase(&self, input: Tensor<2>, noise: Option<&mut SeededRng>) -> BasalPhase {
        let basal = self.layer.basal.forward(input);
        let [batch, units] = basal.dims();
        let soma = match noise {
            Some(rng) if self.params.noise_std > 0.0 => {
                basal.clone()
                    + normal_matrix(batch, units, self.params.noise_std, rng, &basal.device())
            }
            _ => basal.clone(),
        };
        let rate = Activation::Sigmoid.forward(soma.clone());
        let drive = Activation::Sigmoid.forward(basal.clone());
        BasalPhase {
            basal,
            soma,
            rate,
            drive,
        }
    }

    /// The apical phase: the tuft's response to the higher area's signal `signal` (`[batch, K]`)
    /// through the top-down weights U, with private apical noise from `noise`. Returns the
    /// whole step's state.
    pub fn apical_phase(
        &self,
        basal: &BasalPhase,
        signal: Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> DendriticState {
        let batch = basal.rate.dims()[0];
        let k = self.top_down_dims();
        assert_eq!(
            signal.dims(),
            [batch, k],
            "BciNetwork::apical_phase: expected the signal as [{batch}, {k}], got {:?}",
            signal.dims()
        );
        let drive = signal.matmul(self.layer.apical_weight.val());
        self.apical_phase_driven(basal, drive, noise)
    }

    /// The apical phase with the top-down drive given per unit (`[batch, units]`, before the
    /// engagement γ): what a broadcast sends — one scalar to every tuft.
    pub fn apical_phase_driven(
        &self,
        basal: &BasalPhase,
        drive: Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> DendriticState {
        let [batch, units] = basal.rate.dims();
        assert_eq!(
            drive.dims(),
            [batch, units],
            "BciNetwork::apical_phase_driven: expected the drive as [{batch}, {units}], got {:?}",
            drive.dims()
        );
        let top_down = drive * self.layer.engagement;
        let mut apical = (top_down + basal.rate.clone() * self.params.bap)
            * (1.0 - self.layer.apical_inhibition);
        if let Some(rng) = noise {
            if self.params.apical_noise > 0.0 {
                apical = apical
                    + normal_matrix(
                        batch,
                        units,
                        self.params.apical_noise,
                        rng,
                        &basal.rate.device(),
                    );
            }
        }
        let predicted = basal.rate.clone() * self.layer.prediction_slope.val().unsqueeze::<2>()
            + self.layer.prediction_offset.val().unsqueeze::<2>();
        DendriticState {
            basal: basal.basal.clone(),
            residual: apical.clone() - predicted,
            apical,
            soma: basal.soma.clone(),
            rate: basal.rate.clone(),
        }
    }

    /// Sets the soma-predicted part k ⊙ rate + m (`[units]` each) — fitted by least squares on
    /// the baseline block, before learning, where no error signal reaches the tuft.
    pub fn with_soma_prediction(mut self, slope: Tensor<1>, offset: Tensor<1>) -> Self {
        let (slope, offset) = (slope.detach(), offset.detach());
        self.layer.prediction_slope = self.layer.prediction_slope.map(|_| slope);
        self.layer.prediction_offset = self.layer.prediction_offset.map(|_| offset);
        self
    }

    /// The top-down weights U, `[K, units]`.
    pub fn top_down(&self) -> Tensor<2> {
        self.layer.apical_weight.val()
    }

    /// Replaces the top-down weights U (`[K, units]`).
    pub fn with_top_down(mut self, u: Tensor<2>) -> Self {
        let u = u.detach();
        self.layer.apical_weight = self.layer.apical_weight.map(|_| u);
        self
    }
}

impl Classifier for BciNetwork {
    /// The recorded layer's rates (the "outputs" a decoder reads).
    fn logits(&self, input: Tensor<2>, noise: Option<&mut SeededRng>) -> Tensor<2> {
        self.basal_phase(input, noise).rate
    }

    fn n_outputs(&self) -> usize {
        self.units()
    }
}

/// `[model]` of `kind = "bci"`: the recorded layer of a BCI experiment.
/// A key left out takes its value from [`Default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BciParams {
    /// Units in the recorded layer (P+, P− and P0 together).
    pub units: usize,
    /// γ: the higher area's drive to the apical tuft (0 = anaesthesia).
    pub engagement: f64,
    /// Apical inhibition in [0, 1] (1 = tuft silenced).
    pub apical_inhibition: f64,
    /// Private somatic noise σ (spontaneous fluctuations: what gives chance hits).
    pub noise_std: f64,
    /// Private apical noise σ_a.
    pub apical_noise: f64,
    /// Back-propagating coupling c of the rate into the tuft.
    pub bap: f64,
}

impl Default for BciParams {
    fn default() -> Self {
        Self {
            units: 32,
            engagement: 1.0,
            apical_inhibition: 0.0,
            noise_std: 1.0,
            apical_noise: 0.2,
            bap: 0.5,
        }
    }
}

impl BciParams {
    /// Checks the hyper-parameters (keys relative to `[model]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::at_least_one("units", self.units)?;
        check::non_negative("engagement", self.engagement)?;
        check::in_range(
            "apical_inhibition",
            self.apical_inhibition,
            0.0,
            1.0,
            false,
            true,
        )?;
        check::positive("noise_std", self.noise_std)?;
        check::non_negative("apical_noise", self.apical_noise)?;
        check::non_negative("bap", self.bap)
    }

    /// The network config for a visual input of `d_in` values and a higher-area signal of
    /// `top_down_dims` values.
    pub fn config(&self, d_in: usize, top_down_dims: usize, seed: u64) -> BciNetworkConfig {
        BciNetworkConfig::new(d_in, self.clone())
            .with_seed(seed)
            .with_top_down_dims(top_down_dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndarray_device;

    fn host2(t: Tensor<2>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[test]
    fn the_residual_is_the_top_down_part_once_the_soma_prediction_is_set() {
        let device = ndarray_device();
        let net = BciParams {
            units: 3,
            apical_noise: 0.0,
            ..BciParams::default()
        }
        .config(5, 1, 0)
        .init(&device)
        .with_soma_prediction(
            Tensor::from_floats([0.5, 0.5, 0.5], &device),
            Tensor::zeros([3], &device),
        )
        .with_top_down(Tensor::from_floats([[1.0, -2.0, 0.0]], &device));
        let mut rng = SeededRng::new(1);
        let b = net.basal_phase(Tensor::<2>::ones([64, 5], &device), Some(&mut rng));
        let signal = Tensor::<2>::ones([64, 1], &device) * 0.5;
        let state = net.apical_phase(&b, signal, None);
        let residual: Vec<f32> = state.residual.mean_dim(0).into_data().iter().collect();
        for (r, want) in residual.iter().zip([0.5, -1.0, 0.0]) {
            assert!((r - want).abs() < 1e-5, "residual {r}, want {want}");
        }
        assert_eq!(host2(net.top_down()), vec![1.0, -2.0, 0.0]);
    }

    #[test]
    fn a_k_dimensional_signal_reaches_each_tuft_through_its_own_weights() {
        let device = ndarray_device();
        let net = BciParams {
            units: 3,
            apical_noise: 0.0,
            bap: 0.0,
            ..BciParams::default()
        }
        .config(2, 2, 0)
        .init(&device)
        .with_top_down(Tensor::from_floats(
            [[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]],
            &device,
        ));
        assert_eq!(net.top_down_dims(), 2);
        let b = net.basal_phase(Tensor::<2>::ones([1, 2], &device), None);
        let state = net.apical_phase(&b, Tensor::from_floats([[0.5, 1.0]], &device), None);
        let apical: Vec<f32> = state.apical.into_data().iter().collect();
        assert_eq!(apical, vec![0.5, 2.0, 0.5]);
    }

    #[test]
    fn inhibition_silences_the_tuft_and_anaesthesia_the_drive() {
        let device = ndarray_device();
        for (engagement, inhibition) in [(0.0, 0.0), (1.0, 1.0)] {
            let net = BciParams {
                engagement,
                apical_inhibition: inhibition,
                apical_noise: 0.0,
                bap: 0.0,
                units: 4,
                ..BciParams::default()
            }
            .config(2, 1, 0)
            .init(&device)
            .with_top_down(Tensor::ones([1, 4], &device));
            let b = net.basal_phase(Tensor::ones([3, 2], &device), None);
            let state = net.apical_phase(&b, Tensor::ones([3, 1], &device), None);
            let max = state.apical.abs().max().into_scalar::<f32>();
            assert_eq!(max, 0.0, "γ = {engagement}, inhibition = {inhibition}");
        }
    }
}
