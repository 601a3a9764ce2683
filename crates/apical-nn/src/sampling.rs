//! The sampling reference model (`model.kind = "sampling"`): perceptual decision-making as
//! probabilistic inference by neural sampling, after Haefner, Berkes & Fiser (2016, *Neuron*
//! 90:649). Not trained: its one learning-related parameter is the top-down coupling δ from the
//! decision to the sensory layer (δ = 0 "before learning", δ > 0 "after").
//!
//! Generative model, per trial with frames f = 1 … F (images y_f of P pixels):
//!
//! ```text
//! C ∈ {a, b}                         the task's choice (the context's two orientations θ_a, θ_b),
//!                                    p(C = b) = π (`prior_b`)
//! x_f | C ~ N(δ · m_C, τ² I)         sensory layer, N units (`units`) with preferred
//!                                    orientations φ_i = i · 180°/N; m_{C,i} = cos 2(φ_i − θ_C):
//!                                    the belief pushes the units tuned to θ_C up, the others down
//! y_f | x_f ~ N(Gᵀ x_f, σ_y² I)      G: N × P Gabor projective fields (the task's own grating
//!                                    at φ_i), σ_y = `pixel_noise`
//! ```
//!
//! Inference by Gibbs sampling over the frames of a trial, so that the belief about C forms
//! during the trial and feeds back: at frame f, `sweeps` times, alternately
//!
//! ```text
//! x_f | C, y_f ~ N(Σ (δ m_C / τ² + G y_f / σ_y²), Σ),   Σ = (I / τ² + G Gᵀ / σ_y²)⁻¹
//! C | x_1 … x_f:  log p(b)/p(a) = logit π + (δ / τ²) Σ_{k ≤ f} x_kᵀ (m_b − m_a)
//!                                 − f δ² (|m_b|² − |m_a|²) / (2 τ²)
//! ```
//!
//! (earlier frames' samples stay as drawn: the sampler runs forward in time). The last sample
//! of each frame is the population's response in that time bin; the log-odds after the last
//! frame is the decision variable (its sign the choice, and the last sampled C when it is 0).
//! At δ = 0 the image says nothing about C under the model: the log-odds is the prior's, so
//! with π = ½ every choice is the last sampled C (a coin flip), and otherwise the prior's side. Deviations from the paper, stated: the prior on x is
//! Gaussian (the paper's sparse prior makes x | C, y non-Gaussian; the Gaussian keeps the
//! conditionals exact and the closed-form check below possible); one projective field per
//! unit (a single phase); and the past frames' samples are not revisited.
//!
//! With δ = 0, x_f depends only on its own image: over repeated samples of one image it
//! varies with covariance Σ whatever the belief does. With δ > 0, the belief's own trial-to-trial
//! fluctuations move every unit along Σ(m_b − m_a) together — correlated variability along the
//! task direction, the mechanism Liu et al. (2026) invoke for the rise of redundancy.

use apical_core::{check, InvalidParameter, SeededRng};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// `[model]` with `kind = "sampling"` (a key left out takes its value from [`Default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingParams {
    /// Sensory units N (preferred orientations evenly spaced over 180°).
    pub units: usize,
    /// Top-down coupling δ from the belief about the choice to the sensory layer (0: none).
    pub delta: f64,
    /// Prior standard deviation τ of each sensory unit.
    pub prior_sd: f64,
    /// Pixel noise σ_y of the generative model.
    pub pixel_noise: f64,
    /// Gibbs sweeps (x then C) per frame.
    pub sweeps: usize,
    /// Prior probability π of the choice b (the context's second orientation).
    pub prior_b: f64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            units: 32,
            delta: 0.0,
            prior_sd: 0.5,
            pixel_noise: 1.0,
            sweeps: 5,
            prior_b: 0.5,
        }
    }
}

impl SamplingParams {
    /// Checks the parameters (keys relative to `[model]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::at_least_one("units", self.units)?;
        check::at_least_one("sweeps", self.sweeps)?;
        check::non_negative("delta", self.delta)?;
        check::positive("prior_sd", self.prior_sd)?;
        check::positive("pixel_noise", self.pixel_noise)?;
        check::in_range("prior_b", self.prior_b, 0.0, 1.0, true, false)
    }

    /// Preferred orientation φ_i of unit i, in degrees.
    pub fn preferred_deg(&self, i: usize) -> f64 {
        i as f64 * 180.0 / self.units as f64
    }

    /// The top-down mean pattern m_C for a choice at orientation `theta_deg`:
    /// m_{C,i} = cos 2(φ_i − θ_C).
    pub fn mean_pattern(&self, theta_deg: f64) -> DVector<f64> {
        DVector::from_fn(self.units, |i, _| {
            (2.0 * (self.preferred_deg(i) - theta_deg).to_radians()).cos()
        })
    }
}

/// The sampler for one set of projective fields.
#[derive(Debug, Clone)]
pub struct SamplingModel {
    params: SamplingParams,
    /// G, N × P.
    fields: DMatrix<f64>,
    /// Σ = (I/τ² + GGᵀ/σ_y²)⁻¹.
    covariance: DMatrix<f64>,
    /// Lower Cholesky factor of Σ (x = μ + L z).
    factor: DMatrix<f64>,
}

/// What one trial's sampling produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSamples {
    /// The last sample of x in each frame, `[frames][units]`.
    pub x: Vec<Vec<f64>>,
    /// The log-odds log p(b)/p(a) after each frame.
    pub log_odds: Vec<f64>,
    /// The choice sampled last (0 = a, 1 = b).
    pub choice: usize,
}

impl SamplingModel {
    /// The sampler with projective fields `fields` (N × P; N must be `params.units`).
    ///
    /// # Panics
    /// If the shapes disagree (configs are validated and fields built from them).
    pub fn new(params: SamplingParams, fields: DMatrix<f64>) -> Self {
        assert_eq!(
            fields.nrows(),
            params.units,
            "SamplingModel: one projective field per unit"
        );
        let n = params.units;
        let tau2 = params.prior_sd * params.prior_sd;
        let s2 = params.pixel_noise * params.pixel_noise;
        let precision = DMatrix::identity(n, n) / tau2 + &fields * fields.transpose() / s2;
        let covariance = precision
            .cholesky()
            .expect("I/τ² + GGᵀ/σ² is positive definite")
            .inverse();
        let factor = covariance
            .clone()
            .cholesky()
            .expect("a covariance is positive definite")
            .l();
        Self {
            params,
            fields,
            covariance,
            factor,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Σ, the covariance of x given C and one image.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }

    /// The mean of x given choice pattern `m` (m_C) and image `y`.
    pub fn x_mean(&self, m: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
        let p = &self.params;
        let drive = m * (p.delta / (p.prior_sd * p.prior_sd))
            + &self.fields * y / (p.pixel_noise * p.pixel_noise);
        &self.covariance * drive
    }

    fn draw_x(&self, m: &DVector<f64>, y: &DVector<f64>, rng: &mut SeededRng) -> DVector<f64> {
        let z = DVector::from_fn(self.params.units, |_, _| rng.normal());
        self.x_mean(m, y) + &self.factor * z
    }

    /// log p(b)/p(a) given the samples `xs` of the frames so far.
    pub fn log_odds(&self, xs: &[DVector<f64>], m: [&DVector<f64>; 2]) -> f64 {
        let p = &self.params;
        let tau2 = p.prior_sd * p.prior_sd;
        let diff = m[1] - m[0];
        let norms = m[1].norm_squared() - m[0].norm_squared();
        let prior = (p.prior_b / (1.0 - p.prior_b)).ln();
        let evidence: f64 = xs.iter().map(|x| x.dot(&diff)).sum::<f64>() * p.delta / tau2;
        prior + evidence - xs.len() as f64 * p.delta * p.delta * norms / (2.0 * tau2)
    }

    fn draw_choice(&self, log_odds: f64, rng: &mut SeededRng) -> usize {
        usize::from(rng.uniform() < 1.0 / (1.0 + (-log_odds).exp()))
    }

    /// Samples one trial of `frames` (each P pixels), for the choices' patterns `m` = [m_a, m_b].
    pub fn run_trial(
        &self,
        frames: &[&[f32]],
        m: [&DVector<f64>; 2],
        rng: &mut SeededRng,
    ) -> TrialSamples {
        let mut c = self.draw_choice(
            (self.params.prior_b / (1.0 - self.params.prior_b)).ln(),
            rng,
        );
        let mut xs: Vec<DVector<f64>> = Vec::with_capacity(frames.len());
        let mut out = TrialSamples {
            x: Vec::with_capacity(frames.len()),
            log_odds: Vec::with_capacity(frames.len()),
            choice: c,
        };
        for frame in frames {
            let y = DVector::from_iterator(frame.len(), frame.iter().map(|&v| f64::from(v)));
            xs.push(self.draw_x(m[c], &y, rng));
            let mut lo = self.log_odds(&xs, m);
            for sweep in 0..self.params.sweeps {
                c = self.draw_choice(lo, rng);
                if sweep + 1 < self.params.sweeps {
                    let last = xs.len() - 1;
                    xs[last] = self.draw_x(m[c], &y, rng);
                    lo = self.log_odds(&xs, m);
                }
            }
            out.x
                .push(xs.last().expect("drawn").iter().copied().collect());
            out.log_odds.push(lo);
        }
        out.choice = c;
        out
    }

    /// A long Gibbs chain on one image (for checks): `(choice, x)` after every sweep.
    pub fn chain(
        &self,
        y: &DVector<f64>,
        m: [&DVector<f64>; 2],
        sweeps: usize,
        rng: &mut SeededRng,
    ) -> Vec<(usize, DVector<f64>)> {
        let mut c = 0;
        (0..sweeps)
            .map(|_| {
                let x = self.draw_x(m[c], y, rng);
                c = self.draw_choice(self.log_odds(std::slice::from_ref(&x), m), rng);
                (c, x)
            })
            .collect()
    }

    /// The exact posterior p(C = b | y) of one image: y | C ~ N(δ Gᵀ m_C, σ_y² I + τ² GᵀG).
    pub fn choice_posterior(&self, y: &DVector<f64>, m: [&DVector<f64>; 2]) -> f64 {
        let p = &self.params;
        let gt = self.fields.transpose();
        let pixels = y.len();
        let cov = DMatrix::identity(pixels, pixels) * (p.pixel_noise * p.pixel_noise)
            + &gt * &self.fields * (p.prior_sd * p.prior_sd);
        let chol = cov.cholesky().expect("positive definite");
        let loglik = |mc: &DVector<f64>| {
            let r = y - &gt * mc * p.delta;
            -0.5 * r.dot(&chol.solve(&r))
        };
        let lo = (p.prior_b / (1.0 - p.prior_b)).ln() + loglik(m[1]) - loglik(m[0]);
        1.0 / (1.0 + (-lo).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny instance: 3 units, 4 pixels.
    fn tiny(delta: f64) -> (SamplingModel, [DVector<f64>; 2]) {
        let params = SamplingParams {
            units: 3,
            delta,
            prior_sd: 0.8,
            pixel_noise: 0.7,
            ..Default::default()
        };
        let fields = DMatrix::from_row_slice(
            3,
            4,
            &[1.0, 0.5, 0.0, -0.3, 0.2, 1.0, 0.4, 0.0, -0.4, 0.1, 0.9, 0.6],
        );
        let m = [params.mean_pattern(0.0), params.mean_pattern(90.0)];
        (SamplingModel::new(params, fields), m)
    }

    /// Gibbs sampling on one image converges to the closed-form joint posterior: p(C = b | y),
    /// and x's mean given each choice.
    #[test]
    fn gibbs_matches_the_closed_form_posterior() {
        let (model, m) = tiny(1.5);
        let y = DVector::from_row_slice(&[0.3, -0.2, 0.5, 0.1]);
        let exact = model.choice_posterior(&y, [&m[0], &m[1]]);
        assert!(exact > 0.05 && exact < 0.95, "an informative test: {exact}");
        let chain = model.chain(&y, [&m[0], &m[1]], 200_000, &mut SeededRng::new(4));
        let share_b = chain.iter().filter(|(c, _)| *c == 1).count() as f64 / chain.len() as f64;
        assert!(
            (share_b - exact).abs() < 0.01,
            "sampled {share_b}, exact {exact}"
        );
        // x drawn after choice c has the conditional mean given c (chain pairs (c_t, x_{t+1})).
        for (c, mc) in m.iter().enumerate() {
            let follow: Vec<&DVector<f64>> = chain
                .windows(2)
                .filter(|w| w[0].0 == c)
                .map(|w| &w[1].1)
                .collect();
            let mean = follow.iter().fold(DVector::zeros(3), |a, x| a + *x) / follow.len() as f64;
            let want = model.x_mean(mc, &y);
            assert!(
                (mean - &want).amax() < 0.02,
                "choice {c}: mean {want} expected"
            );
        }
    }

    /// δ = 0: x given the image does not depend on the belief — its covariance over repeated
    /// samples of one image is Σ and it is uncorrelated with the sampled choice. δ > 0 adds
    /// variance along the task direction.
    #[test]
    fn without_coupling_x_depends_on_the_image_alone() {
        let y = DVector::from_row_slice(&[0.3, -0.2, 0.5, 0.1]);
        let along = |delta: f64| -> (f64, f64) {
            let (model, m) = tiny(delta);
            let chain = model.chain(&y, [&m[0], &m[1]], 100_000, &mut SeededRng::new(9));
            let w = &m[1] - &m[0];
            let proj: Vec<f64> = chain.iter().map(|(_, x)| x.dot(&w)).collect();
            let choice: Vec<f64> = chain.windows(2).map(|p| p[0].0 as f64).collect();
            let mean = proj.iter().sum::<f64>() / proj.len() as f64;
            let var = proj.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / proj.len() as f64;
            let cm = choice.iter().sum::<f64>() / choice.len() as f64;
            let cov = choice
                .iter()
                .zip(&proj[1..])
                .map(|(c, p)| (c - cm) * (p - mean))
                .sum::<f64>()
                / choice.len() as f64;
            let exact = (w.transpose() * model.covariance() * &w)[(0, 0)];
            (var / exact, cov)
        };
        let (ratio0, cov0) = along(0.0);
        assert!(
            (ratio0 - 1.0).abs() < 0.03,
            "δ = 0: variance ratio {ratio0}"
        );
        assert!(
            cov0.abs() < 0.01,
            "δ = 0: x uncorrelated with the choice ({cov0})"
        );
        let (ratio, cov) = along(2.0);
        assert!(
            ratio > 1.1,
            "δ > 0 adds variance along the task direction ({ratio})"
        );
        assert!(cov > 0.05, "δ > 0: x follows the choice ({cov})");
    }

    #[test]
    fn parameters_are_checked_by_key() {
        for (params, key) in [
            (
                SamplingParams {
                    units: 0,
                    ..Default::default()
                },
                "units",
            ),
            (
                SamplingParams {
                    delta: -1.0,
                    ..Default::default()
                },
                "delta",
            ),
            (
                SamplingParams {
                    prior_b: 1.0,
                    ..Default::default()
                },
                "prior_b",
            ),
        ] {
            assert_eq!(params.validate().unwrap_err().key, key);
        }
    }
}
