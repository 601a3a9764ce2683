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
//! Inference by sampling over the frames of a trial, so that the belief about C forms during
//! the trial and feeds back. The belief is the exact posterior over C given the frames seen,
//! with x marginalised (frames are independent given C):
//!
//! ```text
//! y_f | C ~ N(δ Gᵀ m_C, σ_y² I + τ² GᵀG)
//! log p(b)/p(a) after frame f = logit π + Σ_{k ≤ f} [log N(y_k; δGᵀm_b, ·) − log N(y_k; δGᵀm_a, ·)]
//! ```
//!
//! and at frame f, `sweeps` times, C is drawn from that belief (from the belief before frame f
//! with `feedback_delay = 1`: the top-down signal arrives a frame late) and x_f from
//!
//! ```text
//! x_f | C, y_f ~ N(Σ (δ m_C / τ² + G y_f / σ_y²), Σ),   Σ = (I / τ² + G Gᵀ / σ_y²)⁻¹
//! ```
//!
//! — exact joint samples of (C, x_f) given the frames, with no sample counted as evidence for
//! the C that produced it (a chain that updated the belief from its own samples of x would
//! reinforce whichever C it drew). The population's response in a time bin is the mean of the
//! last `samples_per_bin` samples of x in that frame; the log-odds after the last frame is the
//! decision variable (its sign the choice, and the last sampled C when it is 0). At δ = 0 the
//! image says nothing about C under the model: the log-odds is the prior's. Deviations from the
//! paper, stated: the prior on x is Gaussian (the paper's sparse prior makes x | C, y
//! non-Gaussian; the Gaussian keeps the conditionals exact); one projective field per unit (a
//! single phase).
//!
//! Scale: the images are s·grating + noise, so x — the grating amplitudes of the units' fields —
//! lives in stimulus units: |s| ≤ 0.12 for signals up to 12%. A prior τ ≈ 0.05 fits those
//! stimuli and keeps the prior, not the likelihood, in charge of each x (as in Haefner et al.'s
//! own settings); δ is the amplitude the belief adds, ≈ 0.015–0.03 (a 1.5–3% grating).
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
    /// Samples of (C, x) per frame.
    pub sweeps: usize,
    /// The response in a time bin: the mean of the frame's last this many samples of x
    /// (1 … sweeps).
    pub samples_per_bin: usize,
    /// Frames by which the top-down signal lags: 0 (C drawn from the belief including the
    /// current frame) or 1 (from the belief before it).
    pub feedback_delay: usize,
    /// Prior probability π of the choice b (the context's second orientation).
    pub prior_b: f64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            units: 32,
            delta: 0.0,
            prior_sd: 0.05,
            pixel_noise: 1.0,
            sweeps: 1,
            samples_per_bin: 1,
            feedback_delay: 0,
            prior_b: 0.5,
        }
    }
}

impl SamplingParams {
    /// Checks the parameters (keys relative to `[model]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::at_least_one("units", self.units)?;
        check::at_least_one("sweeps", self.sweeps)?;
        check::at_least_one("samples_per_bin", self.samples_per_bin)?;
        if self.samples_per_bin > self.sweeps {
            return Err(InvalidParameter::new(
                "samples_per_bin",
                format!(
                    "must be at most sweeps = {} (the samples drawn per frame), got {}",
                    self.sweeps, self.samples_per_bin
                ),
            ));
        }
        if self.feedback_delay > 1 {
            return Err(InvalidParameter::new(
                "feedback_delay",
                format!("must be 0 or 1 (frames), got {}", self.feedback_delay),
            ));
        }
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
    /// Cholesky factor of the covariance of one frame given C, σ_y² I + τ² GᵀG (P × P).
    frame_covariance: nalgebra::Cholesky<f64, nalgebra::Dyn>,
}

/// The per-frame evidence for one context's pair of patterns, as a linear form of the image.
#[derive(Debug, Clone)]
pub struct FrameWeights {
    /// δ(u_b − u_a), `[pixels]`.
    pub direction: DVector<f64>,
    /// −½δ²(m_bᵀG u_b − m_aᵀG u_a).
    pub offset: f64,
}

/// What one trial's sampling produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSamples {
    /// The response in each frame (the mean of its last `samples_per_bin` samples of x),
    /// `[frames][units]`.
    pub x: Vec<Vec<f64>>,
    /// The belief's log-odds log p(b)/p(a) after each frame (exact, given the frames).
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
        let pixels = fields.ncols();
        let frame_covariance = (DMatrix::identity(pixels, pixels) * s2
            + fields.transpose() * &fields * tau2)
            .cholesky()
            .expect("σ²I + τ²GᵀG is positive definite");
        Self {
            params,
            fields,
            covariance,
            factor,
            frame_covariance,
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

    /// The log-likelihood ratio of one frame, log p(y | b) − log p(y | a), from the weights
    /// [`frame_weights`](Self::frame_weights) of the context's patterns.
    pub fn frame_evidence(&self, y: &DVector<f64>, weights: &FrameWeights) -> f64 {
        weights.direction.dot(y) + weights.offset
    }

    /// The linear form of the per-frame evidence for the patterns `m` = [m_a, m_b]:
    /// δ(u_b − u_a)ᵀy − ½δ²(m_bᵀG u_b − m_aᵀG u_a), u_c = (σ²I + τ²GᵀG)⁻¹ Gᵀ m_c.
    pub fn frame_weights(&self, m: [&DVector<f64>; 2]) -> FrameWeights {
        let delta = self.params.delta;
        let gt = self.fields.transpose();
        let u: Vec<DVector<f64>> = m
            .iter()
            .map(|mc| self.frame_covariance.solve(&(&gt * *mc)))
            .collect();
        let quad = |c: usize| (&gt * m[c]).dot(&u[c]);
        FrameWeights {
            direction: (&u[1] - &u[0]) * delta,
            offset: -0.5 * delta * delta * (quad(1) - quad(0)),
        }
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
        let p = &self.params;
        let weights = self.frame_weights(m);
        let prior = (p.prior_b / (1.0 - p.prior_b)).ln();
        let mut belief = prior;
        let mut c = self.draw_choice(prior, rng);
        let mut out = TrialSamples {
            x: Vec::with_capacity(frames.len()),
            log_odds: Vec::with_capacity(frames.len()),
            choice: c,
        };
        let kept_from = p.sweeps - p.samples_per_bin.min(p.sweeps);
        for frame in frames {
            let y = DVector::from_iterator(frame.len(), frame.iter().map(|&v| f64::from(v)));
            let before = belief;
            belief += self.frame_evidence(&y, &weights);
            let feedback = if p.feedback_delay == 0 {
                belief
            } else {
                before
            };
            let mut response = DVector::zeros(p.units);
            for sweep in 0..p.sweeps {
                c = self.draw_choice(feedback, rng);
                let x = self.draw_x(m[c], &y, rng);
                if sweep >= kept_from {
                    response += x;
                }
            }
            response /= (p.sweeps - kept_from) as f64;
            out.x.push(response.iter().copied().collect());
            out.log_odds.push(belief);
        }
        out.choice = c;
        out
    }

    /// Joint samples of (C, x) on one image (for checks): `(choice, x)` per draw, C from the
    /// exact posterior given the image, x given C and the image.
    pub fn chain(
        &self,
        y: &DVector<f64>,
        m: [&DVector<f64>; 2],
        draws: usize,
        rng: &mut SeededRng,
    ) -> Vec<(usize, DVector<f64>)> {
        let weights = self.frame_weights(m);
        let p = &self.params;
        let belief = (p.prior_b / (1.0 - p.prior_b)).ln() + self.frame_evidence(y, &weights);
        (0..draws)
            .map(|_| {
                let c = self.draw_choice(belief, rng);
                (c, self.draw_x(m[c], y, rng))
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

    /// The joint samples on one image follow the closed-form posterior: p(C = b | y) (computed
    /// independently by `choice_posterior`), and x's mean given each choice.
    #[test]
    fn joint_samples_match_the_closed_form_posterior() {
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
        for (c, mc) in m.iter().enumerate() {
            let given: Vec<&DVector<f64>> =
                chain.iter().filter(|d| d.0 == c).map(|d| &d.1).collect();
            let mean = given.iter().fold(DVector::zeros(3), |a, x| a + *x) / given.len() as f64;
            let want = model.x_mean(mc, &y);
            assert!(
                (mean - &want).amax() < 0.02,
                "choice {c}: mean {want} expected"
            );
        }
    }

    /// The belief after a trial is the exact posterior given all its frames: the sum of each
    /// frame's evidence, as `choice_posterior` computes it frame by frame through the full
    /// pixel covariance — whatever C and x the sampler drew on the way (no sample is counted
    /// as evidence).
    #[test]
    fn the_belief_is_the_exact_posterior_of_the_frames_seen() {
        let (model, m) = tiny(1.2);
        let frames: Vec<Vec<f32>> = vec![
            vec![0.3, -0.2, 0.5, 0.1],
            vec![-0.4, 0.6, 0.0, 0.2],
            vec![0.1, 0.1, -0.3, 0.9],
        ];
        let refs: Vec<&[f32]> = frames.iter().map(|f| f.as_slice()).collect();
        let logit = |p: f64| (p / (1.0 - p)).ln();
        let mut want = 0.0;
        for (f, frame) in frames.iter().enumerate() {
            let y = DVector::from_iterator(4, frame.iter().map(|&v| v as f64));
            want += logit(model.choice_posterior(&y, [&m[0], &m[1]]));
            for seed in 0..3 {
                let trial = model.run_trial(&refs[..=f], [&m[0], &m[1]], &mut SeededRng::new(seed));
                assert!(
                    (trial.log_odds[f] - want).abs() < 1e-9,
                    "frame {f}, seed {seed}: {} vs {want}",
                    trial.log_odds[f]
                );
            }
        }
    }

    /// A time bin's response is the mean of its samples: at δ = 0 its variance over trials of
    /// one image is Σ / samples_per_bin.
    #[test]
    fn a_bin_averages_its_samples() {
        let variance = |k: usize| -> f64 {
            let params = SamplingParams {
                sweeps: 8,
                samples_per_bin: k,
                ..tiny(0.0).0.params().clone()
            };
            let (model, m) = {
                let (t, m) = tiny(0.0);
                (SamplingModel::new(params, t.fields.clone()), m)
            };
            let frame = [0.3f32, -0.2, 0.5, 0.1];
            let xs: Vec<f64> = (0..20_000)
                .map(|s| {
                    model
                        .run_trial(&[&frame], [&m[0], &m[1]], &mut SeededRng::new(s))
                        .x[0][0]
                })
                .collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            xs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / xs.len() as f64
        };
        let (one, eight) = (variance(1), variance(8));
        let (model, _) = tiny(0.0);
        let sigma = model.covariance()[(0, 0)];
        assert!((one / sigma - 1.0).abs() < 0.05, "{one} vs Σ = {sigma}");
        assert!((eight * 8.0 / sigma - 1.0).abs() < 0.05, "{eight} vs Σ/8");
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
            let choice: Vec<f64> = chain.iter().map(|p| p.0 as f64).collect();
            let mean = proj.iter().sum::<f64>() / proj.len() as f64;
            let var = proj.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / proj.len() as f64;
            let cm = choice.iter().sum::<f64>() / choice.len() as f64;
            let cov = choice
                .iter()
                .zip(&proj)
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
            (
                SamplingParams {
                    samples_per_bin: 11,
                    ..Default::default()
                },
                "samples_per_bin",
            ),
            (
                SamplingParams {
                    feedback_delay: 2,
                    ..Default::default()
                },
                "feedback_delay",
            ),
        ] {
            assert_eq!(params.validate().unwrap_err().key, key);
        }
    }
}
