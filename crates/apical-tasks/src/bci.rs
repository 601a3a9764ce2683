//! The BCI credit-assignment task (`task.kind = "bci"`), after Francioni et al. (Nature 2026):
//! a closed loop in discrete time steps in which a few units of the network's recorded layer
//! move a grating toward a target orientation.
//!
//! - **Ensembles**: P+ (`p_plus` units) and P− (`p_minus` units) drawn at random from the
//!   recorded layer (seeded); the rest is P0. Written as `ensembles.npy` (+1 / −1 / 0).
//! - **Decoder** (fixed, the experimenter's): per step d_t = mean z(r)[P+] − mean z(r)[P−], z
//!   with each unit's baseline mean and standard deviation; D_t = the mean of d over the last
//!   `smooth` steps of the trial, z-scored with the baseline block's mean and SD of D.
//! - **Cursor**: the grating's angle = start + bin·`bin_deg`, bin = clamp(⌊K·D/θ⌋, 0, K) with
//!   K = `target_deg`/`bin_deg` bins (default 6 × 15° to a target 90° away); bin K — D ≥ θ —
//!   is a hit: the trial ends with reward 1. After `max_steps` steps without one the trial is a
//!   miss (timeout, no reward).
//! - **Calibration**: on a baseline block of `baseline_trials` trials of `max_steps` steps (no
//!   learning, the same network and noise) the units' and D's statistics are taken with the
//!   grating held at the start ([`Calibration::from_baseline`], which also gives the open-loop
//!   θ: the (1 − `chance`) quantile of the per-trial maxima of D); the run then sets θ in closed
//!   loop — the grating moving, as in training — so that spontaneous fluctuations alone hit in
//!   a fraction `chance` of the baseline trials ([`Calibration::closed_loop`], by bisection, on hit rates the run measures).
//! - **Visual feedback**: the network sees the current grating as a compact population code —
//!   `channels` orientation channels with preferred angles k·180°/`channels` and von Mises
//!   tuning exp(κ·(cos 2(θ − φ_k) − 1)), κ = `tuning` — rather than rendered pixels.
//! - **The error signal**: the error is the angular distance to the target in bins; the
//!   environment reports its change each step (negative when the cursor moved toward the
//!   target); the higher area passes on the error decrease (its negative). That scalar is all
//!   a learning rule is given; no labels exist.
//!
//! Training is organised in `days` of `trials_per_day` trials.

use apical_core::{check, InvalidParameter, SeededRng};
use serde::{Deserialize, Serialize};

/// `[task]` with `kind = "bci"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BciConfig {
    /// Units in P+ (their activity moves the cursor toward the target).
    #[serde(default = "default_ensemble")]
    pub p_plus: usize,
    /// Units in P− (their activity moves it away).
    #[serde(default = "default_ensemble")]
    pub p_minus: usize,
    /// Hit rate of spontaneous activity the threshold is calibrated to, in (0, 1).
    #[serde(default = "default_chance")]
    pub chance: f64,
    /// Training days.
    #[serde(default = "default_days")]
    pub days: usize,
    /// Trials per day.
    #[serde(default = "default_trials_per_day")]
    pub trials_per_day: usize,
    /// Steps before a trial times out.
    #[serde(default = "default_max_steps")]
    pub max_steps: usize,
    /// Steps the decoder averages over.
    #[serde(default = "default_smooth")]
    pub smooth: usize,
    /// Degrees per cursor bin.
    #[serde(default = "default_bin_deg")]
    pub bin_deg: f64,
    /// Angle from the start to the target, a whole number of bins.
    #[serde(default = "default_target_deg")]
    pub target_deg: f64,
    /// The grating's start angle.
    #[serde(default)]
    pub start_deg: f64,
    /// Trials of the baseline block that calibrates the decoder.
    #[serde(default = "default_baseline_trials")]
    pub baseline_trials: usize,
    /// Orientation channels of the visual code.
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// von Mises concentration κ of the channels.
    #[serde(default = "default_tuning")]
    pub tuning: f64,
}

fn default_ensemble() -> usize {
    4
}
fn default_chance() -> f64 {
    0.3
}
fn default_days() -> usize {
    10
}
fn default_trials_per_day() -> usize {
    100
}
fn default_max_steps() -> usize {
    30
}
fn default_smooth() -> usize {
    3
}
fn default_bin_deg() -> f64 {
    15.0
}
fn default_target_deg() -> f64 {
    90.0
}
fn default_baseline_trials() -> usize {
    400
}
fn default_channels() -> usize {
    8
}
fn default_tuning() -> f64 {
    2.0
}

impl Default for BciConfig {
    fn default() -> Self {
        Self {
            p_plus: default_ensemble(),
            p_minus: default_ensemble(),
            chance: default_chance(),
            days: default_days(),
            trials_per_day: default_trials_per_day(),
            max_steps: default_max_steps(),
            smooth: default_smooth(),
            bin_deg: default_bin_deg(),
            target_deg: default_target_deg(),
            start_deg: 0.0,
            baseline_trials: default_baseline_trials(),
            channels: default_channels(),
            tuning: default_tuning(),
        }
    }
}

impl BciConfig {
    /// Checks the parameters (keys relative to `[task]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::at_least_one("p_plus", self.p_plus)?;
        check::at_least_one("p_minus", self.p_minus)?;
        check::in_range("chance", self.chance, 0.0, 1.0, true, false)?;
        check::at_least_one("days", self.days)?;
        check::at_least_one("trials_per_day", self.trials_per_day)?;
        check::at_least_one("max_steps", self.max_steps)?;
        check::at_least_one("smooth", self.smooth)?;
        check::positive("bin_deg", self.bin_deg)?;
        check::positive("target_deg", self.target_deg)?;
        let bins = self.target_deg / self.bin_deg;
        if (bins - bins.round()).abs() > 1e-9 || bins.round() < 1.0 {
            return Err(InvalidParameter::new(
                "target_deg",
                format!(
                    "must be a whole number (≥ 1) of bins of bin_deg = {}, got {}",
                    self.bin_deg, self.target_deg
                ),
            ));
        }
        if !self.start_deg.is_finite() {
            return Err(InvalidParameter::new("start_deg", "must be a finite angle"));
        }
        if self.baseline_trials < 10 {
            return Err(InvalidParameter::new(
                "baseline_trials",
                format!(
                    "needs at least 10 trials to calibrate the decoder, got {}",
                    self.baseline_trials
                ),
            ));
        }
        let rarer = self.chance.min(1.0 - self.chance);
        if (self.baseline_trials as f64) * rarer < 5.0 {
            return Err(InvalidParameter::new(
                "chance",
                format!(
                    "{} cannot be calibrated on {} baseline trials (≥ 5 trials of the rarer outcome: task.baseline_trials ≥ {})",
                    self.chance,
                    self.baseline_trials,
                    (5.0 / rarer).ceil()
                ),
            ));
        }
        if self.channels < 2 {
            return Err(InvalidParameter::new(
                "channels",
                format!(
                    "needs at least 2 orientation channels, got {}",
                    self.channels
                ),
            ));
        }
        check::positive("tuning", self.tuning)
    }

    /// Checks the ensembles fit a recorded layer of `units` units (key relative to `[task]`).
    pub fn check_units(&self, units: usize) -> Result<(), InvalidParameter> {
        if self.p_plus + self.p_minus > units {
            return Err(InvalidParameter::new(
                "p_plus",
                format!(
                    "p_plus + p_minus = {} units, but the recorded layer has model.units = {units}",
                    self.p_plus + self.p_minus
                ),
            ));
        }
        Ok(())
    }

    /// K: cursor bins from the start to the target.
    pub fn bins(&self) -> usize {
        (self.target_deg / self.bin_deg).round() as usize
    }

    /// The width of the visual input.
    pub fn input_width(&self) -> usize {
        self.channels
    }

    /// Total training trials.
    pub fn total_trials(&self) -> usize {
        self.days * self.trials_per_day
    }

    /// The visual code of a grating at `angle_deg` (`channels` values in (0, 1]).
    pub fn visual_input(&self, angle_deg: f64) -> Vec<f32> {
        (0..self.channels)
            .map(|k| {
                let preferred = k as f64 * 180.0 / self.channels as f64;
                let delta = 2.0 * (angle_deg - preferred).to_radians();
                (self.tuning * (delta.cos() - 1.0)).exp() as f32
            })
            .collect()
    }

    /// The grating's angle at cursor bin `bin`.
    pub fn angle(&self, bin: usize) -> f64 {
        self.start_deg + bin as f64 * self.bin_deg
    }

    /// Draws the ensembles for a recorded layer of `units` units: +1 (P+), −1 (P−), 0 (P0).
    pub fn ensembles(&self, units: usize, seed: u64) -> Vec<i8> {
        let mut order: Vec<usize> = (0..units).collect();
        SeededRng::for_stream(seed, 0xB0C1).shuffle(&mut order);
        let mut membership = vec![0i8; units];
        for (i, &unit) in order.iter().take(self.p_plus + self.p_minus).enumerate() {
            membership[unit] = if i < self.p_plus { 1 } else { -1 };
        }
        membership
    }
}

/// The decoder's statistics from the baseline block, and the threshold θ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Per-unit baseline mean rate.
    pub unit_mean: Vec<f64>,
    /// Per-unit baseline standard deviation.
    pub unit_std: Vec<f64>,
    /// Baseline mean of the smoothed decoder D (before z-scoring).
    pub decoder_mean: f64,
    /// Baseline standard deviation of D.
    pub decoder_std: f64,
    /// θ: the hit threshold on the z-scored D.
    pub threshold: f64,
    /// The fraction of baseline trials whose D reached θ.
    pub baseline_hit_rate: f64,
}

/// Why a baseline block cannot calibrate the decoder.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// A decoder unit (or D itself) did not vary during the baseline block.
    #[error("{0} did not vary during the baseline block (raise model.noise_std)")]
    Constant(String),
    /// The quantile fell at or below zero: spontaneous activity already hits too often.
    #[error("the calibrated threshold is {0:.3} ≤ 0: task.chance is too high for the decoder to have room; lower it")]
    Threshold(f64),
}

/// The raw (un-z-scored) decoder value d of one step.
fn raw_decoder(rates: &[f32], ensembles: &[i8], mean: &[f64], std: &[f64]) -> f64 {
    let (mut plus, mut n_plus, mut minus, mut n_minus) = (0.0, 0usize, 0.0, 0usize);
    for (i, &r) in rates.iter().enumerate() {
        let z = (r as f64 - mean[i]) / std[i];
        match ensembles[i] {
            1 => {
                plus += z;
                n_plus += 1;
            }
            -1 => {
                minus += z;
                n_minus += 1;
            }
            _ => {}
        }
    }
    plus / n_plus.max(1) as f64 - minus / n_minus.max(1) as f64
}

/// The running mean of the last `smooth` values of `history` (the whole of it when shorter).
fn smoothed(history: &[f64], smooth: usize) -> f64 {
    let tail = &history[history.len().saturating_sub(smooth)..];
    tail.iter().sum::<f64>() / tail.len() as f64
}

fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

impl Calibration {
    /// Calibrates from the baseline block's rates: `trials[t][s]` is the rate vector of step s
    /// of baseline trial t (every trial `max_steps` long).
    pub fn from_baseline(
        task: &BciConfig,
        ensembles: &[i8],
        trials: &[Vec<Vec<f32>>],
    ) -> Result<Self, CalibrationError> {
        let units = ensembles.len();
        let all = || trials.iter().flatten();
        let mut unit_mean = Vec::with_capacity(units);
        let mut unit_std = Vec::with_capacity(units);
        for i in 0..units {
            let (m, s) = mean_std(all().map(move |r| r[i] as f64));
            if ensembles[i] != 0 && s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return Err(CalibrationError::Constant(format!("unit {i}'s rate")));
            }
            unit_mean.push(m);
            unit_std.push(if s > 0.0 { s } else { 1.0 });
        }
        let smoothed_trials: Vec<Vec<f64>> = trials
            .iter()
            .map(|trial| {
                let mut history = Vec::with_capacity(trial.len());
                trial
                    .iter()
                    .map(|r| {
                        history.push(raw_decoder(r, ensembles, &unit_mean, &unit_std));
                        smoothed(&history, task.smooth)
                    })
                    .collect()
            })
            .collect();
        let (decoder_mean, decoder_std) = mean_std(smoothed_trials.iter().flatten().copied());
        if decoder_std.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(CalibrationError::Constant("the decoder D".into()));
        }
        let mut maxima: Vec<f64> = smoothed_trials
            .iter()
            .map(|t| {
                t.iter()
                    .map(|d| (d - decoder_mean) / decoder_std)
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        maxima.sort_by(f64::total_cmp);
        let threshold = quantile(&maxima, 1.0 - task.chance);
        if threshold <= 0.0 {
            return Err(CalibrationError::Threshold(threshold));
        }
        let hits = maxima.iter().filter(|&&m| m >= threshold).count();
        Ok(Self {
            unit_mean,
            unit_std,
            decoder_mean,
            decoder_std,
            threshold,
            baseline_hit_rate: hits as f64 / maxima.len() as f64,
        })
    }
}

/// Bisection steps of the closed-loop threshold (θ to ~10⁻⁴ of its bracket).
const CALIBRATION_BISECTIONS: usize = 14;

impl Calibration {
    /// The same calibration with θ set in closed loop: bisects θ (between 0 and twice the
    /// largest open-loop value, doubling the bracket while it still hits too often) for the
    /// closed-loop hit rate closest to `chance`. `hit_rate(calibration)` runs the baseline
    /// trials without learning with the grating moving (the same noise for every θ: common
    /// random numbers); its error (a stop signal) ends the search.
    pub fn closed_loop<E>(
        self,
        chance: f64,
        mut hit_rate: impl FnMut(&Calibration) -> Result<f64, E>,
    ) -> Result<Calibration, E> {
        let open_loop = self;
        let with = |threshold: f64| Calibration {
            threshold,
            ..open_loop.clone()
        };
        let (mut lo, mut hi) = (0.0, 2.0 * open_loop.threshold.max(1.0));
        let (mut rate_lo, mut rate_hi) = (1.0, hit_rate(&with(hi))?);
        while rate_hi > chance && hi < 1e3 {
            (lo, rate_lo) = (hi, rate_hi);
            hi *= 2.0;
            rate_hi = hit_rate(&with(hi))?;
        }
        for _ in 0..CALIBRATION_BISECTIONS {
            let mid = 0.5 * (lo + hi);
            let rate = hit_rate(&with(mid))?;
            if rate > chance {
                (lo, rate_lo) = (mid, rate);
            } else {
                (hi, rate_hi) = (mid, rate);
            }
        }
        let (threshold, rate) = if (rate_lo - chance).abs() < (rate_hi - chance).abs() && lo > 0.0 {
            (lo, rate_lo)
        } else {
            (hi, rate_hi)
        };
        Ok(Calibration {
            threshold,
            baseline_hit_rate: rate,
            ..open_loop
        })
    }
}

/// Per-unit least squares y = k·x + m, accumulated step by step (the baseline block's fit of
/// each unit's apical input on its rate: the soma-predicted part the residual is taken from).
#[derive(Debug, Clone)]
pub struct PerUnitFit {
    n: f64,
    sums: Vec<[f64; 4]>, // Σx, Σy, Σxx, Σxy
}

impl PerUnitFit {
    /// An empty fit of `units` units.
    pub fn new(units: usize) -> Self {
        Self {
            n: 0.0,
            sums: vec![[0.0; 4]; units],
        }
    }

    /// Adds one step: `x[i]`, `y[i]` of every unit.
    pub fn add(&mut self, x: &[f32], y: &[f32]) {
        self.n += 1.0;
        for ((s, &x), &y) in self.sums.iter_mut().zip(x).zip(y) {
            let (x, y) = (x as f64, y as f64);
            s[0] += x;
            s[1] += y;
            s[2] += x * x;
            s[3] += x * y;
        }
    }

    /// (k, m) per unit; k = 0 where x did not vary.
    pub fn solve(&self) -> (Vec<f32>, Vec<f32>) {
        self.sums
            .iter()
            .map(|s| {
                let (mx, my) = (s[0] / self.n, s[1] / self.n);
                let var = s[2] / self.n - mx * mx;
                let k = if var > 1e-12 {
                    (s[3] / self.n - mx * my) / var
                } else {
                    0.0
                };
                (k as f32, (my - k * mx) as f32)
            })
            .unzip()
    }
}

/// Linear-interpolation quantile q of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// What one step of a trial did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BciStep {
    /// The z-scored, smoothed decoder D.
    pub decoder: f64,
    /// Cursor bin (0 = start, K = target).
    pub bin: usize,
    /// The grating's angle (degrees).
    pub angle_deg: f64,
    /// Angular distance to the target (degrees).
    pub error_deg: f64,
    /// Change of the error in bins since the previous step (negative: toward the target).
    pub error_change: f64,
    /// Whether the cursor reached the target (the trial ends, reward 1).
    pub hit: bool,
}

/// One trial in progress.
#[derive(Debug, Clone)]
pub struct BciTrial {
    history: Vec<f64>,
    bin: usize,
}

impl Default for BciTrial {
    fn default() -> Self {
        Self::new()
    }
}

impl BciTrial {
    /// A trial with the grating at the start.
    pub fn new() -> Self {
        Self {
            history: Vec::new(),
            bin: 0,
        }
    }

    /// The cursor bin the network currently sees.
    pub fn bin(&self) -> usize {
        self.bin
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.history.len()
    }

    /// The decoder reads `rates` (the recorded layer, one step); the cursor moves.
    pub fn observe(
        &mut self,
        task: &BciConfig,
        calibration: &Calibration,
        ensembles: &[i8],
        rates: &[f32],
    ) -> BciStep {
        self.history.push(raw_decoder(
            rates,
            ensembles,
            &calibration.unit_mean,
            &calibration.unit_std,
        ));
        let decoder = (smoothed(&self.history, task.smooth) - calibration.decoder_mean)
            / calibration.decoder_std;
        let k = task.bins();
        let position = (k as f64 * decoder / calibration.threshold).floor();
        let bin = if position.is_nan() {
            0
        } else {
            position.clamp(0.0, k as f64) as usize
        };
        let error_change = self.bin as f64 - bin as f64;
        self.bin = bin;
        BciStep {
            decoder,
            bin,
            angle_deg: task.angle(bin),
            error_deg: (k - bin) as f64 * task.bin_deg,
            error_change,
            hit: bin == k,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_per_unit_fit_recovers_a_line_and_leaves_a_constant_unit_flat() {
        let mut fit = PerUnitFit::new(2);
        for i in 0..10 {
            let x = i as f32;
            fit.add(&[x, 1.0], &[2.0 * x + 1.0, 3.0]);
        }
        let (k, m) = fit.solve();
        assert!(
            (k[0] - 2.0).abs() < 1e-5 && (m[0] - 1.0).abs() < 1e-5,
            "{k:?} {m:?}"
        );
        assert_eq!(k[1], 0.0);
        assert!((m[1] - 3.0).abs() < 1e-6);
    }

    #[test]
    fn the_closed_loop_threshold_meets_the_chance_rate() {
        // A hit rate that falls with θ as exp(−θ): chance 0.3 is met at θ = ln(1/0.3).
        let open = Calibration {
            unit_mean: Vec::new(),
            unit_std: Vec::new(),
            decoder_mean: 0.0,
            decoder_std: 1.0,
            threshold: 0.5,
            baseline_hit_rate: 0.5,
        };
        let closed = open
            .clone()
            .closed_loop(0.3, |c| Ok::<f64, ()>((-c.threshold).exp()))
            .unwrap();
        assert!(
            (closed.threshold - (1.0f64 / 0.3).ln()).abs() < 1e-3,
            "{closed:?}"
        );
        assert!((closed.baseline_hit_rate - 0.3).abs() < 1e-3, "{closed:?}");
        // A rate still above chance at the first bracket doubles it; an error ends the search.
        let high = open
            .clone()
            .closed_loop(0.01, |c| Ok::<f64, ()>((-c.threshold).exp()))
            .unwrap();
        assert!((high.threshold - 100f64.ln()).abs() < 1e-2, "{high:?}");
        assert_eq!(
            open.closed_loop(0.3, |_| Err::<f64, &str>("stop")),
            Err("stop")
        );
    }

    use super::*;

    fn noise_trials(task: &BciConfig, units: usize, n: usize, seed: u64) -> Vec<Vec<Vec<f32>>> {
        let mut rng = SeededRng::new(seed);
        (0..n)
            .map(|_| {
                (0..task.max_steps)
                    .map(|_| {
                        (0..units)
                            .map(|_| 0.5 + 0.1 * rng.normal() as f32)
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn ensembles_are_seeded_and_sized() {
        let task = BciConfig {
            p_plus: 3,
            p_minus: 5,
            ..BciConfig::default()
        };
        let e = task.ensembles(20, 7);
        assert_eq!(e, task.ensembles(20, 7));
        assert_ne!(e, task.ensembles(20, 8));
        assert_eq!(e.iter().filter(|&&m| m == 1).count(), 3);
        assert_eq!(e.iter().filter(|&&m| m == -1).count(), 5);
    }

    #[test]
    fn the_threshold_gives_the_chance_hit_rate_on_fresh_spontaneous_activity() {
        // Calibrate on one baseline block, then replay fresh noise through the closed-loop
        // decoder: the hit rate of pure fluctuations matches `chance`.
        let task = BciConfig {
            baseline_trials: 400,
            ..BciConfig::default()
        };
        let units = 16;
        let ensembles = task.ensembles(units, 1);
        let calibration =
            Calibration::from_baseline(&task, &ensembles, &noise_trials(&task, units, 400, 2))
                .unwrap();
        assert!((calibration.baseline_hit_rate - 0.3).abs() < 0.01);
        let fresh = noise_trials(&task, units, 2000, 3);
        let hits = fresh
            .iter()
            .filter(|trial| {
                let mut t = BciTrial::new();
                trial
                    .iter()
                    .any(|r| t.observe(&task, &calibration, &ensembles, r).hit)
            })
            .count() as f64
            / 2000.0;
        assert!((hits - 0.3).abs() < 0.04, "fresh hit rate {hits}");
    }

    #[test]
    fn raising_p_plus_moves_the_cursor_to_the_target() {
        let task = BciConfig::default();
        let units = 10;
        let ensembles = task.ensembles(units, 0);
        let calibration =
            Calibration::from_baseline(&task, &ensembles, &noise_trials(&task, units, 100, 4))
                .unwrap();
        let mut trial = BciTrial::new();
        let rates: Vec<f32> = ensembles.iter().map(|&m| 0.5 + 0.3 * m as f32).collect();
        let mut total = 0.0;
        let mut last = None;
        for _ in 0..task.smooth {
            let step = trial.observe(&task, &calibration, &ensembles, &rates);
            total += step.error_change;
            last = Some(step);
        }
        let last = last.unwrap();
        assert!(last.hit && last.error_deg == 0.0 && last.angle_deg == 90.0);
        assert_eq!(total, -(task.bins() as f64));
    }

    #[test]
    fn the_visual_code_peaks_at_the_preferred_channel() {
        let task = BciConfig::default();
        let x = task.visual_input(45.0);
        let best = (0..x.len()).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap();
        assert_eq!(best, 2); // channels at 0, 22.5, 45, …
        assert!((x[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = BciConfig {
            target_deg: 100.0,
            ..BciConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().key, "target_deg");
        for chance in [1.0, 0.01] {
            let bad = BciConfig {
                chance,
                ..BciConfig::default()
            };
            assert_eq!(bad.validate().unwrap_err().key, "chance", "{chance}");
        }
        let bad = BciConfig {
            target_deg: 0.0,
            ..BciConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().key, "target_deg");
        assert_eq!(
            BciConfig::default().check_units(6).unwrap_err().key,
            "p_plus"
        );
    }
}
