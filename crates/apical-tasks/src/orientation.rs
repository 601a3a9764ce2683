//! Orientation discrimination in dynamic noise (the task of Liu et al., *Science* 2026).
//!
//! A trial is `frames` images (100 ms each) of `image_size × image_size` pixels. Each frame is a
//! Gabor grating at one of the context's two orientations mixed with fresh white noise:
//!
//! ```text
//! frame = |s| · G_θ + (1 − |s|) · σ_noise · η,   η ~ N(0, 1) per pixel and frame,
//! G_θ(x, y) = c · exp(−r² / 2σ_env²) · cos(2π (x cos θ + y sin θ) / λ)
//! ```
//!
//! where `s` is the signed signal level (percent / 100): `s > 0` shows the context's second
//! orientation (class 1), `s < 0` the first (class 0), and `s = 0` is pure noise whose label is a
//! fair coin (these zero-signal trials give the noise covariance in the Fisher-information
//! analysis, so the level list must contain 0). Contexts: **cardinal** (0° vs 90°) and
//! **oblique** (45° vs 135°). With `context_cue`, a one-hot cue `[cardinal, oblique]` is
//! appended to the flattened frames. Trials are balanced over levels and contexts and every
//! trial's noise comes from its own seeded stream, so the data set is a pure function of the
//! config.

use serde::{Deserialize, Serialize};

use crate::{Dataset, Split, TaskError};
use apical_core::{InvalidParameter, SeededRng};

/// A task context: which pair of orientations is discriminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrientationContext {
    /// 0° vs 90°.
    Cardinal,
    /// 45° vs 135°.
    Oblique,
}

impl OrientationContext {
    /// The two orientations (degrees) of class 0 and class 1.
    pub fn orientations_deg(&self) -> [f64; 2] {
        match self {
            OrientationContext::Cardinal => [0.0, 90.0],
            OrientationContext::Oblique => [45.0, 135.0],
        }
    }

    /// Index of the context in the cue vector and in [`Dataset::context`].
    pub fn index(&self) -> usize {
        match self {
            OrientationContext::Cardinal => 0,
            OrientationContext::Oblique => 1,
        }
    }
}

crate::labelled_task_config! {
    /// The orientation-discrimination task.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OrientationConfig {
        /// Image side in pixels.
        #[serde(default = "default_image_size")]
        pub image_size: usize,
        /// Frames per trial (100 ms each).
        #[serde(default = "default_frames")]
        pub frames: usize,
        /// Contexts trained and tested; trials alternate between them.
        #[serde(default = "default_contexts")]
        pub contexts: Vec<OrientationContext>,
        /// Signed signal levels in percent; must include 0.
        #[serde(default = "default_signal_levels")]
        pub signal_levels: Vec<f64>,
        /// Standard deviation of the white pixel noise.
        #[serde(default = "default_noise_std")]
        pub noise_std: f64,
        /// Peak amplitude c of the grating.
        #[serde(default = "default_contrast")]
        pub contrast: f64,
        /// Grating wavelength λ in pixels.
        #[serde(default = "default_wavelength")]
        pub wavelength: f64,
        /// Gaussian envelope σ_env in pixels.
        #[serde(default = "default_envelope")]
        pub envelope_sigma: f64,
        /// Append a one-hot context cue `[cardinal, oblique]` to each input.
        #[serde(default = "default_true")]
        pub context_cue: bool,
        /// Training trials.
        #[serde(default = "default_n_train")]
        pub n_train: usize,
        /// Test trials.
        #[serde(default = "default_n_test")]
        pub n_test: usize,
        /// Seed of the stimuli (independent of the training seed unless the config says
        /// `seed = "training"`, which the run-level config resolves to `training.seed`).
        #[serde(default)]
        pub seed: u64,
        /// Where training trials come from: `"fixed"` (the `n_train` trials, reused every epoch)
        /// or `"stream"` (fresh trials every batch from the seeded generator: batch k holds trials
        /// k·b … (k+1)·b − 1 of the training stream; `n_train` then only sizes the sample the
        /// training accuracy is measured on). The test set is fixed either way.
        #[serde(default)]
        pub trials: TrialSource,
    }
}

/// Where the orientation task's training trials come from (`task.trials`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrialSource {
    /// A fixed set of `n_train` trials.
    #[default]
    Fixed,
    /// Fresh trials every batch.
    Stream,
}

fn default_image_size() -> usize {
    32
}
fn default_frames() -> usize {
    5
}
fn default_contexts() -> Vec<OrientationContext> {
    vec![OrientationContext::Cardinal]
}
fn default_signal_levels() -> Vec<f64> {
    vec![-12.0, -9.0, -6.0, -3.0, 0.0, 3.0, 6.0, 9.0, 12.0]
}
fn default_noise_std() -> f64 {
    1.0
}
fn default_contrast() -> f64 {
    1.0
}
fn default_wavelength() -> f64 {
    8.0
}
fn default_envelope() -> f64 {
    6.0
}
fn default_true() -> bool {
    true
}
fn default_n_train() -> usize {
    4000
}
fn default_n_test() -> usize {
    1800
}

impl Default for OrientationConfig {
    fn default() -> Self {
        Self {
            image_size: default_image_size(),
            frames: default_frames(),
            contexts: default_contexts(),
            signal_levels: default_signal_levels(),
            noise_std: default_noise_std(),
            contrast: default_contrast(),
            wavelength: default_wavelength(),
            envelope_sigma: default_envelope(),
            context_cue: true,
            n_train: default_n_train(),
            n_test: default_n_test(),
            seed: 0,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
            trials: TrialSource::Fixed,
        }
    }
}

fn invalid(key: &'static str, message: String) -> InvalidParameter {
    InvalidParameter::new(key, message)
}

impl OrientationConfig {
    /// Checks every parameter; the error names the parameter and what was expected.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if self.signal_levels.is_empty() || !self.signal_levels.contains(&0.0) {
            return Err(invalid(
                "signal_levels",
                format!(
                    "must include 0 (zero-signal trials give the covariance), got {:?}",
                    self.signal_levels
                ),
            ));
        }
        if let Some(bad) = self
            .signal_levels
            .iter()
            .find(|l| !(l.is_finite() && l.abs() <= 100.0))
        {
            return Err(invalid(
                "signal_levels",
                format!("levels are percent in [-100, 100], got {bad}"),
            ));
        }
        if self.contexts.is_empty() {
            return Err(invalid(
                "contexts",
                "must list at least one of \"cardinal\", \"oblique\"".into(),
            ));
        }
        if self.contexts.len() == 2 && self.contexts[0] == self.contexts[1] {
            return Err(invalid("contexts", "must not repeat a context".into()));
        }
        if self.contexts.len() > 2 {
            return Err(invalid(
                "contexts",
                format!(
                    "at most the two contexts \"cardinal\", \"oblique\", got {}",
                    self.contexts.len()
                ),
            ));
        }
        if self.image_size < 4 {
            return Err(invalid(
                "image_size",
                format!("must be at least 4 pixels, got {}", self.image_size),
            ));
        }
        if self.frames == 0 {
            return Err(invalid("frames", "must be at least 1".into()));
        }
        for (key, value) in [("noise_std", self.noise_std), ("contrast", self.contrast)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(invalid(
                    key,
                    format!("must be a finite number ≥ 0, got {value}"),
                ));
            }
        }
        for (key, value) in [
            ("wavelength", self.wavelength),
            ("envelope_sigma", self.envelope_sigma),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(invalid(key, format!("must be > 0 pixels, got {value}")));
            }
        }
        let per_cycle = self.signal_levels.len() * self.contexts.len();
        for (key, value) in [("n_train", self.n_train), ("n_test", self.n_test)] {
            if value < per_cycle {
                return Err(invalid(key, format!("must be at least levels × contexts = {per_cycle} so every condition appears, got {value}")));
            }
        }
        if self.is_streamed()
            && (self.train_per_class.is_some() || self.validation_per_class.is_some())
        {
            return Err(invalid(
                "trials",
                "\"stream\" draws fresh training trials every batch, so it cannot be combined with train_per_class / validation_per_class (use \"fixed\")".into(),
            ));
        }
        self.subset().validate()
    }

    /// Width of one input: frames × image_size² (+ 2 with the context cue).
    pub fn n_features(&self) -> usize {
        self.frames * self.image_size * self.image_size + if self.context_cue { 2 } else { 0 }
    }

    /// The noise-free grating G_θ for orientation `theta_deg`, row-major `[image_size²]`.
    pub fn grating(&self, theta_deg: f64) -> Vec<f32> {
        let n = self.image_size;
        let centre = (n as f64 - 1.0) / 2.0;
        let (sin, cos) = theta_deg.to_radians().sin_cos();
        let mut image = Vec::with_capacity(n * n);
        for row in 0..n {
            for col in 0..n {
                let x = col as f64 - centre;
                let y = centre - row as f64;
                let r2 = x * x + y * y;
                let envelope = (-r2 / (2.0 * self.envelope_sigma * self.envelope_sigma)).exp();
                let phase = std::f64::consts::TAU * (x * cos + y * sin) / self.wavelength;
                image.push((self.contrast * envelope * phase.cos()) as f32);
            }
        }
        image
    }

    /// Builds the train and test sets (and the labelled subsets `train_per_class` /
    /// `validation_per_class` ask for: trials per choice).
    pub fn build(&self) -> Result<Split, TaskError> {
        self.validate()?;
        self.subset().apply(
            Split {
                train: self.generate(0, self.n_train),
                validation: None,
                test: self.generate(1, self.n_test),
            },
            "orientation",
        )
    }

    /// `n` trials of split `split_tag` (0 train, 1 test, 2 probe, others free), balanced over
    /// levels and contexts: trial `i` shows level `i mod levels` in context
    /// `(i / levels) mod contexts`.
    pub fn generate(&self, split_tag: u64, n: usize) -> Dataset {
        self.generate_range(split_tag, 0, n)
    }

    /// Trials `start .. start + n` of split `split_tag` (the same trials [`generate`] gives at
    /// those indices): a streamed batch.
    ///
    /// [`generate`]: Self::generate
    pub fn generate_range(&self, split_tag: u64, start: usize, n: usize) -> Dataset {
        let n_levels = self.signal_levels.len();
        self.trials(
            split_tag,
            (start..start + n).map(|trial| {
                let level = self.signal_levels[trial % n_levels];
                let ctx_pos = (trial / n_levels) % self.contexts.len();
                (trial, level, ctx_pos)
            }),
        )
    }

    /// The probe set the recordings use (split 2): half of its `n` trials have zero signal
    /// (the noise covariance of the Fisher-information analysis needs many), the other half
    /// cycle through the nonzero levels; contexts alternate, so each context holds `n / 4`
    /// zero-signal trials with two contexts (`n / 2` with one).
    pub fn probe(&self, n: usize) -> Dataset {
        let nonzero: Vec<f64> = self
            .signal_levels
            .iter()
            .copied()
            .filter(|&l| l != 0.0)
            .collect();
        let n_ctx = self.contexts.len();
        self.trials(
            2,
            (0..n).map(|trial| {
                let pair = trial / 2;
                let ctx_pos = pair % n_ctx;
                let level = if trial % 2 == 0 || nonzero.is_empty() {
                    0.0
                } else {
                    nonzero[(pair / n_ctx) % nonzero.len()]
                };
                (trial, level, ctx_pos)
            }),
        )
    }

    /// The frozen-noise probe (split 3): `images` zero-signal images per context, each shown
    /// `repeats` times in a row — the same trial, so the same pixels, noise included; what
    /// varies between repeats is only what the network adds. Returns the set and each trial's
    /// image index (context-major: image k of context c is `c·images + k`).
    pub fn frozen_probe(&self, images: usize, repeats: usize) -> (Dataset, Vec<usize>) {
        let n_ctx = self.contexts.len();
        let n = n_ctx * images * repeats;
        let image: Vec<usize> = (0..n).map(|t| t / repeats).collect();
        let data = self.trials(
            3,
            image
                .clone()
                .into_iter()
                .map(|img| (img, 0.0, img / images.max(1))),
        );
        (data, image)
    }

    /// Zero-signal trials per context in a probe set of `n` trials ([`probe`](Self::probe)).
    pub fn probe_zero_signal_per_context(&self, n: usize) -> usize {
        // Trial i is zero-signal when i is even; its context is (i / 2) mod contexts.
        (0..n)
            .step_by(2)
            .filter(|&i| (i / 2) % self.contexts.len() == 0)
            .count()
    }

    /// The trials `(index, level, context position)` of split `split_tag`; each trial's noise
    /// comes from its own seeded stream `(seed, split_tag, index)`.
    fn trials(
        &self,
        split_tag: u64,
        design: impl ExactSizeIterator<Item = (usize, f64, usize)>,
    ) -> Dataset {
        let n = design.len();
        let pixels = self.image_size * self.image_size;
        let templates: Vec<[Vec<f32>; 2]> = self
            .contexts
            .iter()
            .map(|c| {
                let [a, b] = c.orientations_deg();
                [self.grating(a), self.grating(b)]
            })
            .collect();
        let n_features = self.n_features();
        let mut inputs = Vec::with_capacity(n * n_features);
        let mut labels = Vec::with_capacity(n);
        let mut signal = Vec::with_capacity(n);
        let mut context = Vec::with_capacity(n);
        for (trial, level, ctx_pos) in design {
            let mut rng = SeededRng::for_trial(self.seed, split_tag, trial as u64);
            let ctx = self.contexts[ctx_pos];
            let label = if level > 0.0 {
                1
            } else if level < 0.0 {
                0
            } else {
                (rng.next_u64() & 1) as usize
            };
            let s = (level / 100.0).abs();
            let template = &templates[ctx_pos][label];
            for _ in 0..self.frames {
                for &g in template.iter().take(pixels) {
                    let noise = self.noise_std * rng.normal();
                    inputs.push((s * g as f64 + (1.0 - s) * noise) as f32);
                }
            }
            if self.context_cue {
                let mut cue = [0.0f32; 2];
                cue[ctx.index()] = 1.0;
                inputs.extend_from_slice(&cue);
            }
            labels.push(label);
            signal.push(level as f32);
            context.push(ctx.index());
        }
        let data = Dataset {
            inputs,
            n_features,
            labels,
            n_classes: 2,
            signal: Some(signal),
            context: Some(context),
        };
        data.assert_consistent();
        data
    }

    /// The ideal observer's accuracy at signed level `level` (percent) in `context`, in closed
    /// form. It knows the context, the level and the two templates; the frames are independent
    /// given the class, so its log-likelihood ratio is linear in the frames' sum:
    ///
    /// ```text
    /// d = G_b − G_a,   u = Σ_f d·x_f ~ N(F·s·d·G_c, F·(1 − s)²·σ²·|d|²)  under class c,
    /// choose b when u > F·s·(d·G_a + d·G_b)/2,
    /// accuracy = ½ [Φ((μ_b − θ)/σ_u) + Φ((θ − μ_a)/σ_u)] = Φ(√F · s · |d| / (2 (1 − s) σ))
    /// ```
    ///
    /// (the last form because θ lies midway). Zero signal gives ½; no noise (σ = 0 or s = 1)
    /// gives 1 unless the templates coincide.
    pub fn ideal_accuracy(&self, level: f64, context: OrientationContext) -> f64 {
        let s = (level / 100.0).abs();
        if s == 0.0 {
            return 0.5;
        }
        let [a, b] = context.orientations_deg();
        let (ga, gb) = (self.grating(a), self.grating(b));
        let d2: f64 = ga
            .iter()
            .zip(&gb)
            .map(|(&x, &y)| (f64::from(y) - f64::from(x)).powi(2))
            .sum();
        if d2 == 0.0 {
            return 0.5;
        }
        let noise = (1.0 - s) * self.noise_std;
        if noise == 0.0 {
            return 1.0;
        }
        normal_cdf((self.frames as f64).sqrt() * s * d2.sqrt() / (2.0 * noise))
    }

    /// The ideal observer's accuracy per signed level on `data` (trials of this task):
    /// `(level, mean accuracy over the level's trials and their contexts, trials)`.
    pub fn ideal_accuracy_by_signal(&self, data: &Dataset) -> Vec<(f32, f64, usize)> {
        let signal = data
            .signal
            .as_ref()
            .expect("orientation trials carry their signal");
        let context = data
            .context
            .as_ref()
            .expect("orientation trials carry their context");
        let per_context: Vec<(usize, OrientationContext)> =
            self.contexts.iter().map(|c| (c.index(), *c)).collect();
        let mut levels: Vec<f32> = signal.clone();
        levels.sort_by(|a, b| a.total_cmp(b));
        levels.dedup();
        levels
            .into_iter()
            .map(|level| {
                let accs: Vec<f64> = (0..data.len())
                    .filter(|&i| signal[i] == level)
                    .map(|i| {
                        let ctx = per_context
                            .iter()
                            .find(|(index, _)| *index == context[i])
                            .map(|(_, c)| *c)
                            .expect("a trial's context is one of the task's");
                        self.ideal_accuracy(f64::from(level), ctx)
                    })
                    .collect();
                (
                    level,
                    accs.iter().sum::<f64>() / accs.len() as f64,
                    accs.len(),
                )
            })
            .collect()
    }

    /// Whether training draws fresh trials every batch (`trials = "stream"`).
    pub fn is_streamed(&self) -> bool {
        self.trials == TrialSource::Stream
    }
}

/// The standard normal cumulative distribution Φ (via erfc, |error| < 1.2e-7).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Accuracy per signed signal level: `(level, accuracy, n_trials)` sorted by level.
///
/// # Panics
/// If `data` has no signal levels or `predictions` has the wrong length.
pub fn accuracy_by_signal(data: &Dataset, predictions: &[usize]) -> Vec<(f32, f64, usize)> {
    let signal = data
        .signal
        .as_ref()
        .expect("accuracy_by_signal: the data set has no signal levels");
    assert_eq!(
        predictions.len(),
        data.len(),
        "accuracy_by_signal: one prediction per trial"
    );
    let mut levels: Vec<f32> = signal.clone();
    levels.sort_by(|a, b| a.partial_cmp(b).expect("finite levels"));
    levels.dedup();
    levels
        .into_iter()
        .map(|level| {
            let idx: Vec<usize> = (0..data.len()).filter(|&i| signal[i] == level).collect();
            let correct = idx
                .iter()
                .filter(|&&i| predictions[i] == data.labels[i])
                .count();
            (level, correct as f64 / idx.len() as f64, idx.len())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> OrientationConfig {
        OrientationConfig {
            image_size: 8,
            frames: 2,
            n_train: 90,
            n_test: 45,
            contexts: vec![OrientationContext::Cardinal, OrientationContext::Oblique],
            ..Default::default()
        }
    }

    #[test]
    fn deterministic_from_seed_and_balanced() {
        let a = small().build().unwrap();
        assert_eq!(a, small().build().unwrap());
        let b = OrientationConfig { seed: 1, ..small() }.build().unwrap();
        assert_ne!(a.train.inputs, b.train.inputs);
        assert_eq!(a.train.n_features, 2 * 64 + 2);
        let signal = a.train.signal.as_ref().unwrap();
        for level in &small().signal_levels {
            assert_eq!(signal.iter().filter(|&&s| s as f64 == *level).count(), 10);
        }
        let ctx = a.train.context.as_ref().unwrap();
        assert_eq!(ctx.iter().filter(|&&c| c == 1).count(), 45);
        // The cue matches the context.
        for i in 0..a.train.len() {
            let x = a.train.input(i);
            assert_eq!(x[128 + ctx[i]], 1.0);
        }
    }

    #[test]
    fn labels_follow_the_sign_of_the_signal() {
        let data = small().build().unwrap().train;
        let signal = data.signal.as_ref().unwrap();
        for (i, &s) in signal.iter().enumerate() {
            if s > 0.0 {
                assert_eq!(data.labels[i], 1);
            } else if s < 0.0 {
                assert_eq!(data.labels[i], 0);
            }
        }
        let zero_labels: Vec<usize> = (0..data.len())
            .filter(|&i| signal[i] == 0.0)
            .map(|i| data.labels[i])
            .collect();
        assert!(
            zero_labels.contains(&0) && zero_labels.contains(&1),
            "zero-signal labels are coin flips"
        );
    }

    #[test]
    fn full_signal_frame_is_the_grating_and_gratings_are_orthogonal() {
        let config = OrientationConfig {
            signal_levels: vec![-100.0, 0.0, 100.0],
            image_size: 16,
            frames: 1,
            context_cue: false,
            n_train: 3,
            n_test: 3,
            ..Default::default()
        };
        let data = config.build().unwrap().train;
        assert_eq!(data.input(2), config.grating(90.0).as_slice());
        assert_eq!(data.input(0), config.grating(0.0).as_slice());
        let (g0, g90) = (config.grating(0.0), config.grating(90.0));
        let dot: f32 = g0.iter().zip(&g90).map(|(a, b)| a * b).sum();
        let norm: f32 = g0.iter().map(|a| a * a).sum();
        assert!(
            dot.abs() < 0.2 * norm,
            "0° and 90° gratings are nearly orthogonal ({dot} vs {norm})"
        );
    }

    #[test]
    fn zero_signal_trials_are_pure_noise_with_the_configured_spread() {
        let config = OrientationConfig {
            signal_levels: vec![0.0],
            image_size: 16,
            frames: 4,
            noise_std: 2.0,
            context_cue: false,
            n_train: 20,
            n_test: 1,
            ..Default::default()
        };
        let data = config.build().unwrap().train;
        let n = data.inputs.len() as f64;
        let mean = data.inputs.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = data
            .inputs
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(
            mean.abs() < 0.05 && (var.sqrt() - 2.0).abs() < 0.05,
            "mean {mean}, sd {}",
            var.sqrt()
        );
    }

    #[test]
    fn impossible_parameters_are_refused_with_the_key() {
        let cases = [
            (
                OrientationConfig {
                    signal_levels: vec![3.0, 6.0],
                    ..small()
                },
                "signal_levels",
            ),
            (
                OrientationConfig {
                    signal_levels: vec![0.0, 300.0],
                    ..small()
                },
                "signal_levels",
            ),
            (
                OrientationConfig {
                    contexts: vec![],
                    ..small()
                },
                "contexts",
            ),
            (
                OrientationConfig {
                    frames: 0,
                    ..small()
                },
                "frames",
            ),
            (
                OrientationConfig {
                    noise_std: -1.0,
                    ..small()
                },
                "noise_std",
            ),
            (
                OrientationConfig {
                    n_train: 3,
                    ..small()
                },
                "n_train",
            ),
        ];
        for (config, key) in cases {
            let err = config.build().unwrap_err().to_string();
            assert!(err.starts_with(key), "{err}");
        }
    }

    #[test]
    fn the_stream_is_the_generator_at_those_indices() {
        let config = OrientationConfig {
            trials: TrialSource::Stream,
            ..small()
        };
        let all = config.generate(0, 40);
        let batch = config.generate_range(0, 13, 9);
        assert_eq!(
            batch.inputs,
            all.inputs[13 * all.n_features..22 * all.n_features]
        );
        assert_eq!(batch.labels, all.labels[13..22]);
        assert_eq!(
            batch.signal.as_ref().unwrap(),
            &all.signal.as_ref().unwrap()[13..22]
        );
    }

    #[test]
    fn stream_refuses_labelled_subsets() {
        let config = OrientationConfig {
            trials: TrialSource::Stream,
            train_per_class: Some(5),
            ..small()
        };
        assert_eq!(config.validate().unwrap_err().key, "trials");
    }

    #[test]
    fn the_frozen_probe_repeats_each_image_exactly() {
        let (data, image) = small().frozen_probe(3, 4);
        assert_eq!(data.len(), 2 * 3 * 4);
        assert_eq!(image.len(), data.len());
        let row = |t: usize| &data.inputs[t * data.n_features..(t + 1) * data.n_features];
        for (t, &img) in image.iter().enumerate() {
            assert_eq!(img, t / 4);
            assert_eq!(data.signal.as_ref().unwrap()[t], 0.0);
            assert_eq!(data.context.as_ref().unwrap()[t], img / 3);
            // Identical within an image (noise included), different across images.
            assert_eq!(row(t), row(img * 4), "trial {t}");
        }
        assert_ne!(row(0), row(4));
        assert_ne!(row(0), row(12), "the other context's first image");
    }

    #[test]
    fn probe_is_half_zero_signal_with_contexts_alternating() {
        let config = small();
        let probe = config.probe(1600);
        let signal = probe.signal.as_ref().unwrap();
        let context = probe.context.as_ref().unwrap();
        for ctx in 0..2 {
            let zero = (0..1600)
                .filter(|&i| signal[i] == 0.0 && context[i] == ctx)
                .count();
            assert_eq!(zero, 400);
            assert_eq!(config.probe_zero_signal_per_context(1600), 400);
            for level in [-12.0f32, -3.0, 3.0, 12.0] {
                let n = (0..1600)
                    .filter(|&i| signal[i] == level && context[i] == ctx)
                    .count();
                assert_eq!(n, 50, "level {level} context {ctx}");
            }
        }
        // Its own trials, not the test set's.
        assert_ne!(probe.input(0), config.generate(1, 1).input(0));
    }

    /// The closed-form ideal observer equals the accuracy of the optimal template-matching
    /// decision on simulated trials.
    #[test]
    fn ideal_observer_matches_simulation() {
        let config = OrientationConfig {
            image_size: 12,
            frames: 3,
            context_cue: false,
            wavelength: 6.0,
            envelope_sigma: 3.0,
            signal_levels: vec![-6.0, 0.0, 6.0],
            ..small()
        };
        for ctx in [OrientationContext::Cardinal, OrientationContext::Oblique] {
            let [a, b] = ctx.orientations_deg();
            let (ga, gb) = (config.grating(a), config.grating(b));
            let d: Vec<f64> = ga.iter().zip(&gb).map(|(x, y)| f64::from(y - x)).collect();
            let s = 0.06;
            let f = config.frames as f64;
            // θ: midway between the two classes' mean projections.
            let proj = |g: &[f32]| -> f64 { d.iter().zip(g).map(|(d, &x)| d * f64::from(x)).sum() };
            let theta = f * s * (proj(&ga) + proj(&gb)) / 2.0;
            let mut rng = SeededRng::for_trial(7, 0, 0);
            let (mut correct, n) = (0usize, 20_000usize);
            for trial in 0..n {
                let label = trial % 2;
                let g = if label == 1 { &gb } else { &ga };
                let mut u = 0.0;
                for _ in 0..config.frames {
                    for (k, &gk) in g.iter().enumerate() {
                        let x = s * f64::from(gk) + (1.0 - s) * config.noise_std * rng.normal();
                        u += d[k] * x;
                    }
                }
                if (u > theta) == (label == 1) {
                    correct += 1;
                }
            }
            let simulated = correct as f64 / n as f64;
            let closed = config.ideal_accuracy(6.0, ctx);
            assert!(
                (simulated - closed).abs() < 0.012,
                "{ctx:?}: simulated {simulated}, closed form {closed}"
            );
            assert!(closed > 0.6 && closed < 0.95, "{closed}");
        }
        assert_eq!(
            config.ideal_accuracy(0.0, OrientationContext::Cardinal),
            0.5
        );
        let noiseless = OrientationConfig {
            noise_std: 0.0,
            ..config.clone()
        };
        assert_eq!(
            noiseless.ideal_accuracy(3.0, OrientationContext::Cardinal),
            1.0
        );
    }

    #[test]
    fn normal_cdf_is_accurate() {
        for (x, want) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.96, 0.024_997_895),
            (3.0, 0.998_650_102),
        ] {
            assert!(
                (normal_cdf(x) - want).abs() < 2e-7,
                "Φ({x}) = {}",
                normal_cdf(x)
            );
        }
    }

    #[test]
    fn accuracy_by_signal_counts_per_level() {
        let data = small().build().unwrap().test;
        let accs = accuracy_by_signal(&data, &data.labels);
        assert_eq!(accs.len(), 9);
        assert!(accs.iter().all(|&(_, a, n)| a == 1.0 && n == 5));
    }
}
