//! The BCI credit-assignment task (`task.kind = "bci"`), after Francioni et al. (Nature 2026):
//! a closed loop in discrete time steps in which a few units of the network's recorded layer
//! move a grating toward a target orientation.
//!
//! - **Dimensions** (`dims` = K, `layout = "pattern"`): K decoder dimensions, each read from
//!   its own ensembles — P+_k (`p_plus` units) and P−_k (`p_minus` units), drawn at random from
//!   the recorded layer (seeded); the rest is P0. Written as `ensembles.npy`: +(k+1) for P+_k,
//!   −(k+1) for P−_k, 0 for P0 (K = 1: +1 / −1 / 0). Each of the K ensemble pairs must reach its
//!   target level at the same time; K = 1 is the one-dimensional task of the paper.
//! - **Decoder** (fixed, the experimenter's): per step and dimension
//!   d_k = mean z(r)[P+_k] − mean z(r)[P−_k], z with each unit's baseline mean and standard
//!   deviation; D_k = the mean of d_k over the last `smooth` steps of the trial, z-scored with
//!   the baseline block's mean and SD of D_k.
//! - **Cursor**: per dimension a grating whose angle = start + bin_k·`bin_deg`, with
//!   bin_k = clamp(⌊B·(D_k − θ + w)/w⌋, 0, B), B = `target_deg`/`bin_deg` bins (default 6 × 15°
//!   to a target 90° away) and w = `travel` (decoder SDs from the start bin's edge to the
//!   target); bin B — D_k ≥ θ — is the target level. All K at the target is a hit: the trial
//!   ends with reward 1. After `max_steps` steps without one the trial is a miss (timeout, no
//!   reward).
//! - **Centre-out** (`layout = "centre-out"`, K = 2): one cursor on the plane of the two
//!   decoder dimensions; each trial a target in one of `directions` directions u (evenly
//!   spaced, drawn per trial and shown as the cue (cos φ, sin φ) beside the one grating, whose
//!   angle shows the progress); the cursor's bin is read from the projection u·D as above, and
//!   reaching θ along u is a hit. The feedback vectors are u·(B − bin) and u·Δbin.
//! - **Targets** (`targets`, pattern layout): `"up"` — every trial, every dimension's target is D_k ≥ θ (the
//!   paper's task: a fixed direction, learned by shifting rates); `"cued"` — each trial draws
//!   a direction σ_k = ±1 per dimension (seeded per trial) and dimension k's cursor reads
//!   σ_k·D_k; the network sees the cue σ (K values) beside the gratings, so it must learn a map
//!   from cue to activity pattern (a weight matrix, not a shift: the regime of Werfel, Xie &
//!   Seung 2005); `"mapped"` — each trial draws a cue x ~ N(0, I) of `cue_dims` values (shown
//!   to the network) and σ_k = sign(T_k·x) for a teacher T (K × `cue_dims`, drawn from the
//!   run's seed): a linear-threshold map from a high-dimensional cue to the pattern, which must
//!   be learned from many trials.
//! - **Calibration**: on a baseline block of `baseline_trials` trials of `max_steps` steps (no
//!   learning, the same network and noise) the units' and D's statistics are taken with the
//!   grating held at the start ([`Calibration::from_baseline`], which also gives the open-loop
//!   θ: the (1 − `chance`) quantile of the per-trial maxima of min_k D_k); the run then sets θ
//!   in closed loop — the grating moving, as in training — so that spontaneous fluctuations alone hit in
//!   a fraction `chance` of the baseline trials ([`Calibration::closed_loop`], by bisection, on hit rates the run measures).
//! - **Visual feedback**: the network sees each dimension's current grating as a compact
//!   population code (K codes side by side) — `channels` orientation channels with preferred angles k·180°/`channels` and von Mises
//!   tuning exp(κ·(cos 2(θ − φ_k) − 1)), κ = `tuning` — rather than rendered pixels.
//! - **The error signal**: per dimension the error e_k is the distance to the target in bins
//!   (B − bin_k), the scalar error Σ_k e_k and its change Σ_k (bins moved away). The vector
//!   feedback is in the decoder's frame: `error` σ_k·e_k (the direction D_k must move) and
//!   `movement` σ_k·Δbin_k (how far D_k moved, in bins), so that a unit's effect on the cursor
//!   does not depend on the trial's target. A broadcast rule is given one scalar (the error
//!   decrease, or the reward); the vectorized dendritic rule the K-dimensional error and
//!   movement. No labels exist.
//! - **Criterion** (fixed before any run): the first trial at which the success rate over the
//!   last `criterion_window` trials reaches `criterion` ([`trials_to_criterion`]); never
//!   reached is censored at the run's length.
//! - **Probe trials** (`probe_every` = P > 0): every P-th trial runs without plasticity (no
//!   update, no credit learning, not recorded in the day arrays); the criterion is then taken
//!   over the probe trials alone — what the network has stored, which plasticity steering the
//!   cursor within a trial cannot pass for — and reported as the trial at which it was met.
//!
//! Training is organised in `days` of `trials_per_day` trials.

use apical_core::{check, InvalidParameter, SeededRng};
use serde::{Deserialize, Serialize};

/// `[task]` with `kind = "bci"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BciConfig {
    /// How the decoder's dimensions make a hit: `"pattern"` (each of the `dims` ensemble pairs
    /// at its target level at once) or `"centre-out"` (two dimensions, one cursor, a target
    /// direction per trial).
    #[serde(default)]
    pub layout: BciLayout,
    /// The targets: `"up"` (every dimension up, every trial) or `"cued"` (a direction ±1 per
    /// dimension drawn each trial and shown to the network).
    #[serde(default)]
    pub targets: BciTargets,
    /// Mapped targets: the cue's width D (≥ 1).
    #[serde(default = "default_cue_dims")]
    pub cue_dims: usize,
    /// Centre-out: the number of target directions, evenly spaced (≥ 2).
    #[serde(default = "default_directions")]
    pub directions: usize,
    /// K: decoder dimensions, each with its own P+ and P− ensembles (1–32).
    #[serde(default = "default_dims")]
    pub dims: usize,
    /// w: decoder SDs from the start bin's lower edge to the target level θ.
    #[serde(default = "default_travel")]
    pub travel: f64,
    /// Success rate over the last `criterion_window` trials that counts as learned.
    #[serde(default = "default_criterion")]
    pub criterion: f64,
    /// Trials the criterion's success rate is taken over (probe trials, when there are any).
    #[serde(default = "default_criterion_window")]
    pub criterion_window: usize,
    /// P: every P-th trial is a probe without plasticity (0: none).
    #[serde(default)]
    pub probe_every: usize,
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

/// How the decoder's dimensions make a hit (`task.layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BciLayout {
    /// Each of the K ensemble pairs must reach its target level at the same step.
    #[default]
    Pattern,
    /// Two dimensions, one cursor, a target direction per trial.
    CentreOut,
}

/// Which way each dimension's target lies (`task.targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BciTargets {
    /// Every dimension's target is up (D_k ≥ θ), every trial.
    #[default]
    Up,
    /// Each trial a direction ±1 per dimension, drawn at random and shown as a cue.
    Cued,
    /// Each trial a Gaussian cue x (`cue_dims` values, shown) and σ = sign(T·x) for a teacher T
    /// drawn from the seed.
    Mapped,
}

/// One trial's target: the directions σ (pattern, ±1 per dimension) or u (centre-out), and the
/// cue the network sees (empty with `targets = "up"`).
#[derive(Debug, Clone, PartialEq)]
pub struct BciTarget {
    /// σ per dimension, or the unit vector u.
    pub directions: Vec<f64>,
    /// What the network is shown of the target.
    pub cue: Vec<f64>,
}

/// The most decoder dimensions (`task.dims`; ensembles are written as ±(k + 1) in an i8).
pub const MAX_DIMS: usize = 32;

fn default_dims() -> usize {
    1
}
fn default_directions() -> usize {
    8
}
fn default_cue_dims() -> usize {
    16
}
fn default_travel() -> f64 {
    2.0
}
fn default_criterion() -> f64 {
    0.7
}
fn default_criterion_window() -> usize {
    20
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
            layout: BciLayout::Pattern,
            targets: BciTargets::Up,
            directions: default_directions(),
            cue_dims: default_cue_dims(),
            dims: default_dims(),
            travel: default_travel(),
            criterion: default_criterion(),
            criterion_window: default_criterion_window(),
            probe_every: 0,
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
        if !(1..=MAX_DIMS).contains(&self.dims) {
            return Err(InvalidParameter::new(
                "dims",
                format!(
                    "must be 1 to {MAX_DIMS} decoder dimensions, got {}",
                    self.dims
                ),
            ));
        }
        if self.layout == BciLayout::CentreOut {
            if self.dims != 2 {
                return Err(InvalidParameter::new(
                    "dims",
                    format!(
                        "must be 2 with layout = \"centre-out\" (a cursor on a plane), got {}",
                        self.dims
                    ),
                ));
            }
            if self.directions < 2 {
                return Err(InvalidParameter::new(
                    "directions",
                    format!(
                        "needs at least 2 target directions, got {}",
                        self.directions
                    ),
                ));
            }
        }
        check::at_least_one("cue_dims", self.cue_dims)?;
        check::positive("travel", self.travel)?;
        check::in_range("criterion", self.criterion, 0.0, 1.0, true, true)?;
        check::at_least_one("criterion_window", self.criterion_window)?;
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
        let needed = self.dims * (self.p_plus + self.p_minus);
        if needed > units {
            return Err(InvalidParameter::new(
                "p_plus",
                format!(
                    "dims × (p_plus + p_minus) = {needed} units, but the recorded layer has model.units = {units}"
                ),
            ));
        }
        Ok(())
    }

    /// K: cursor bins from the start to the target.
    pub fn bins(&self) -> usize {
        (self.target_deg / self.bin_deg).round() as usize
    }

    /// The width of the visual input: a code of `channels` values per cursor, and the cue.
    pub fn input_width(&self) -> usize {
        self.cursors() * self.channels + self.cue_width()
    }

    /// Values of the cue: K (cued), 2 (centre-out), `cue_dims` (mapped), 0 (up).
    pub fn cue_width(&self) -> usize {
        match (self.layout, self.targets) {
            (BciLayout::CentreOut, _) => self.dims,
            (BciLayout::Pattern, BciTargets::Up) => 0,
            (BciLayout::Pattern, BciTargets::Cued) => self.dims,
            (BciLayout::Pattern, BciTargets::Mapped) => self.cue_dims,
        }
    }

    /// The mapped targets' teacher T (K × `cue_dims`, row-major, N(0, 1/D) entries), drawn
    /// from the run's seed; empty for the other targets.
    pub fn teacher(&self, seed: u64) -> Vec<f64> {
        if self.targets != BciTargets::Mapped || self.layout != BciLayout::Pattern {
            return Vec::new();
        }
        let mut rng = SeededRng::for_stream(seed, 0x7EAC_4E12);
        let scale = 1.0 / (self.cue_dims as f64).sqrt();
        (0..self.dims * self.cue_dims)
            .map(|_| scale * rng.normal())
            .collect()
    }

    /// A trial's target from `rng` (and, mapped, the `teacher`).
    pub fn target(&self, teacher: &[f64], rng: &mut SeededRng) -> BciTarget {
        if self.layout == BciLayout::Pattern && self.targets == BciTargets::Mapped {
            let cue: Vec<f64> = (0..self.cue_dims).map(|_| rng.normal()).collect();
            let directions = teacher
                .chunks(self.cue_dims)
                .map(|row| {
                    let v: f64 = row.iter().zip(&cue).map(|(t, x)| t * x).sum();
                    if v < 0.0 {
                        -1.0
                    } else {
                        1.0
                    }
                })
                .collect();
            return BciTarget { directions, cue };
        }
        let directions = self.directions(rng);
        let cue = if self.cue_width() > 0 {
            directions.clone()
        } else {
            Vec::new()
        };
        BciTarget { directions, cue }
    }

    /// Cursors the network sees: one per dimension (pattern), one on the plane (centre-out).
    pub fn cursors(&self) -> usize {
        match self.layout {
            BciLayout::Pattern => self.dims,
            BciLayout::CentreOut => 1,
        }
    }

    /// Whether the trial's target is shown as a cue (cued pattern targets; centre-out always).
    pub fn cued(&self) -> bool {
        self.layout == BciLayout::CentreOut || self.targets == BciTargets::Cued
    }

    /// Trial `index`'s target directions σ_k (±1 per dimension): all +1 with `targets = "up"`;
    /// drawn from `rng` (one draw per dimension) with `"cued"`.
    pub fn directions(&self, rng: &mut SeededRng) -> Vec<f64> {
        match (self.layout, self.targets) {
            (BciLayout::CentreOut, _) => {
                let phi = std::f64::consts::TAU * rng.below(self.directions) as f64
                    / self.directions as f64;
                vec![phi.cos(), phi.sin()]
            }
            (BciLayout::Pattern, BciTargets::Up) => vec![1.0; self.dims],
            (BciLayout::Pattern, BciTargets::Cued | BciTargets::Mapped) => (0..self.dims)
                .map(|_| if rng.uniform() < 0.5 { -1.0 } else { 1.0 })
                .collect(),
        }
    }

    /// Whether trial `index` (0-based, over the run) is a probe without plasticity.
    pub fn is_probe(&self, index: usize) -> bool {
        self.probe_every > 0 && (index + 1).is_multiple_of(self.probe_every)
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

    /// The visual input of the cursors at `bins` with the target's `cue`: the gratings' codes
    /// side by side, then the cue.
    pub fn scene(&self, bins: &[usize], cue: &[f64]) -> Vec<f32> {
        let mut x: Vec<f32> = bins
            .iter()
            .flat_map(|&b| self.visual_input(self.angle(b)))
            .collect();
        x.extend(cue.iter().map(|&d| d as f32));
        x
    }

    /// The grating's angle at cursor bin `bin`.
    pub fn angle(&self, bin: usize) -> f64 {
        self.start_deg + bin as f64 * self.bin_deg
    }

    /// Draws the ensembles for a recorded layer of `units` units: +(k+1) (P+ of dimension k),
    /// −(k+1) (P− of dimension k), 0 (P0).
    pub fn ensembles(&self, units: usize, seed: u64) -> Vec<i8> {
        let mut order: Vec<usize> = (0..units).collect();
        SeededRng::for_stream(seed, 0xB0C1).shuffle(&mut order);
        let mut membership = vec![0i8; units];
        let per_dim = self.p_plus + self.p_minus;
        for (i, &unit) in order.iter().take(self.dims * per_dim).enumerate() {
            let (k, j) = (i / per_dim, i % per_dim);
            let label = (k + 1) as i8;
            membership[unit] = if j < self.p_plus { label } else { -label };
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
    /// Per dimension: baseline mean of the smoothed decoder D_k (before z-scoring).
    pub decoder_mean: Vec<f64>,
    /// Per dimension: baseline standard deviation of D_k.
    pub decoder_std: Vec<f64>,
    /// θ: the target level on every z-scored D_k.
    pub threshold: f64,
    /// The fraction of baseline trials that hit.
    pub baseline_hit_rate: f64,
}

/// Why a baseline block cannot calibrate the decoder.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// A decoder unit (or D itself) did not vary during the baseline block.
    #[error("{0} did not vary during the baseline block (raise model.noise_std)")]
    Constant(String),
}

/// The raw (un-z-scored) decoder value d_k of one step for every dimension.
fn raw_decoder(
    rates: &[f32],
    ensembles: &[i8],
    mean: &[f64],
    std: &[f64],
    dims: usize,
) -> Vec<f64> {
    let mut sums = vec![[0.0f64, 0.0]; dims];
    let mut counts = vec![[0usize, 0]; dims];
    for (i, &r) in rates.iter().enumerate() {
        let m = ensembles[i];
        if m == 0 {
            continue;
        }
        let k = m.unsigned_abs() as usize - 1;
        let side = usize::from(m < 0);
        sums[k][side] += (r as f64 - mean[i]) / std[i];
        counts[k][side] += 1;
    }
    sums.iter()
        .zip(&counts)
        .map(|(s, n)| s[0] / n[0].max(1) as f64 - s[1] / n[1].max(1) as f64)
        .collect()
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
        let dims = task.dims;
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
        // smoothed_trials[t][s][k]: D_k at step s of trial t, before z-scoring.
        let smoothed_trials: Vec<Vec<Vec<f64>>> = trials
            .iter()
            .map(|trial| {
                let mut history = vec![Vec::with_capacity(trial.len()); dims];
                trial
                    .iter()
                    .map(|r| {
                        let d = raw_decoder(r, ensembles, &unit_mean, &unit_std, dims);
                        history
                            .iter_mut()
                            .zip(d)
                            .map(|(h, d)| {
                                h.push(d);
                                smoothed(h, task.smooth)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut decoder_mean = Vec::with_capacity(dims);
        let mut decoder_std = Vec::with_capacity(dims);
        for k in 0..dims {
            let (m, s) = mean_std(smoothed_trials.iter().flatten().map(move |d| d[k]));
            if s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                let what = if dims == 1 {
                    "the decoder D".to_string()
                } else {
                    format!("the decoder's dimension {k}")
                };
                return Err(CalibrationError::Constant(what));
            }
            decoder_mean.push(m);
            decoder_std.push(s);
        }
        // A hit needs every D_k ≥ θ at one step: the trial's best step by its smallest D_k
        // (targets up). For other targets this open-loop θ only starts the closed-loop
        // bisection (`closed_loop`), which sets θ on the task as it is played.
        let mut maxima: Vec<f64> = smoothed_trials
            .iter()
            .map(|t| {
                t.iter()
                    .map(|d| {
                        (0..dims)
                            .map(|k| (d[k] - decoder_mean[k]) / decoder_std[k])
                            .fold(f64::INFINITY, f64::min)
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        maxima.sort_by(f64::total_cmp);
        let threshold = quantile(&maxima, 1.0 - task.chance);
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
    /// The same calibration with θ set in closed loop: brackets θ around the open-loop value
    /// (widening the bracket, doubling its step, while an end is on the wrong side), then
    /// bisects for the closed-loop hit rate closest to `chance`. `hit_rate(calibration)` runs
    /// the baseline trials without learning with the cursor moving (the same noise for every
    /// θ: common random numbers); its error (a stop signal) ends the search. θ may be negative
    /// (with many dimensions all K decoders must be at the target at once).
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
        const LIMIT: f64 = 1e3;
        let (mut lo, mut hi) = (open_loop.threshold - 1.0, open_loop.threshold + 1.0);
        let mut rate_hi = hit_rate(&with(hi))?;
        let mut step = 1.0;
        while rate_hi > chance && hi < LIMIT {
            lo = hi;
            step *= 2.0;
            hi += step;
            rate_hi = hit_rate(&with(hi))?;
        }
        let mut rate_lo = hit_rate(&with(lo))?;
        step = 1.0;
        while rate_lo <= chance && lo > -LIMIT {
            (hi, rate_hi) = (lo, rate_lo);
            step *= 2.0;
            lo -= step;
            rate_lo = hit_rate(&with(lo))?;
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
        let (threshold, rate) = if (rate_lo - chance).abs() < (rate_hi - chance).abs() {
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
#[derive(Debug, Clone, PartialEq)]
pub struct BciStep {
    /// Per dimension: the z-scored, smoothed decoder D_k.
    pub decoder: Vec<f64>,
    /// Per cursor (one per dimension; one on the plane for centre-out): its bin (0 = start,
    /// B = the target level).
    pub bins: Vec<usize>,
    /// The statistic a hit needs at θ or above: min_k σ_k·D_k (pattern) or u·D (centre-out).
    pub progress: f64,
    /// Per dimension, in the decoder's frame: σ_k·(B − bin_k), the bins D_k must still move
    /// (up when positive).
    pub error: Vec<f64>,
    /// Per dimension, in the decoder's frame: σ_k·Δbin_k, the bins D_k moved this step (up
    /// when positive; toward the target when of σ_k's sign).
    pub movement: Vec<f64>,
    /// The gratings' mean angle (degrees).
    pub angle_deg: f64,
    /// The error summed over dimensions, in degrees.
    pub error_deg: f64,
    /// Change of the summed error in bins since the previous step (negative: toward the
    /// target).
    pub error_change: f64,
    /// Whether every dimension reached its target (the trial ends, reward 1).
    pub hit: bool,
}

/// One trial in progress.
#[derive(Debug, Clone)]
pub struct BciTrial {
    history: Vec<Vec<f64>>,
    bins: Vec<usize>,
    directions: Vec<f64>,
    cue: Vec<f64>,
}

impl BciTrial {
    /// A trial of `task`'s dimensions with every cursor at the start and every target up.
    pub fn new(task: &BciConfig) -> Self {
        Self::toward(task, vec![1.0; task.dims])
    }

    /// A trial with the targets in `directions` (±1 per dimension; centre-out: the unit
    /// vector u).
    pub fn toward(task: &BciConfig, directions: Vec<f64>) -> Self {
        let cue = if task.cue_width() == task.dims {
            directions.clone()
        } else {
            Vec::new()
        };
        Self::for_target(task, BciTarget { directions, cue })
    }

    /// A trial toward `target`.
    pub fn for_target(task: &BciConfig, target: BciTarget) -> Self {
        assert_eq!(
            target.directions.len(),
            task.dims,
            "BciTrial: one direction per dimension"
        );
        Self {
            history: vec![Vec::new(); task.dims],
            bins: vec![0; task.cursors()],
            directions: target.directions,
            cue: target.cue,
        }
    }

    /// The cursor bins the network currently sees.
    pub fn bins(&self) -> &[usize] {
        &self.bins
    }

    /// The targets' directions (±1 per dimension).
    pub fn directions(&self) -> &[f64] {
        &self.directions
    }

    /// The network's input now: the gratings at the cursor bins (and the cue).
    pub fn scene(&self, task: &BciConfig) -> Vec<f32> {
        task.scene(&self.bins, &self.cue)
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.history[0].len()
    }

    /// The decoder reads `rates` (the recorded layer, one step); the cursors move.
    pub fn observe(
        &mut self,
        task: &BciConfig,
        calibration: &Calibration,
        ensembles: &[i8],
        rates: &[f32],
    ) -> BciStep {
        let raw = raw_decoder(
            rates,
            ensembles,
            &calibration.unit_mean,
            &calibration.unit_std,
            task.dims,
        );
        let b = task.bins() as f64;
        let bin_at = |progress: f64| -> usize {
            let position =
                (b * (progress - calibration.threshold + task.travel) / task.travel).floor();
            if position.is_nan() {
                0
            } else {
                position.clamp(0.0, b) as usize
            }
        };
        let decoder: Vec<f64> = raw
            .into_iter()
            .enumerate()
            .map(|(k, d)| {
                self.history[k].push(d);
                (smoothed(&self.history[k], task.smooth) - calibration.decoder_mean[k])
                    / calibration.decoder_std[k]
            })
            .collect();
        let before = self.bins.clone();
        // In the decoder's frame: which way D must still move, and how far it moved.
        let (progress, error, movement) = match task.layout {
            BciLayout::Pattern => {
                let mut progress = f64::INFINITY;
                let (mut error, mut movement) = (Vec::new(), Vec::new());
                for (k, &z) in decoder.iter().enumerate() {
                    let sigma = self.directions[k];
                    progress = progress.min(sigma * z);
                    let bin = bin_at(sigma * z);
                    movement.push(sigma * (bin as f64 - self.bins[k] as f64));
                    error.push(sigma * (b - bin as f64));
                    self.bins[k] = bin;
                }
                (progress, error, movement)
            }
            BciLayout::CentreOut => {
                let u = &self.directions;
                let progress: f64 = u.iter().zip(&decoder).map(|(u, z)| u * z).sum();
                let bin = bin_at(progress);
                let moved = bin as f64 - self.bins[0] as f64;
                self.bins[0] = bin;
                (
                    progress,
                    u.iter().map(|u| u * (b - bin as f64)).collect(),
                    u.iter().map(|u| u * moved).collect(),
                )
            }
        };
        let total_error: f64 = self.bins.iter().map(|&bin| b - bin as f64).sum();
        let angle_deg =
            self.bins.iter().map(|&bin| task.angle(bin)).sum::<f64>() / self.bins.len() as f64;
        BciStep {
            hit: total_error == 0.0,
            error_deg: total_error * task.bin_deg,
            error_change: before
                .iter()
                .zip(&self.bins)
                .map(|(&old, &new)| old as f64 - new as f64)
                .sum(),
            angle_deg,
            progress,
            decoder,
            bins: self.bins.clone(),
            error,
            movement,
        }
    }
}

/// The criterion (fixed before any run): the 1-based index of the first trial at which the
/// success rate over the last `window` trials (that trial included) reaches `level`; `None`
/// if no such trial (censored at the run's length). Needs `window` trials: nothing scores
/// below `window`.
pub fn trials_to_criterion(successes: &[bool], window: usize, level: f64) -> Option<usize> {
    if window == 0 || successes.len() < window {
        return None;
    }
    let need = (level * window as f64 - 1e-9).ceil().max(0.0) as usize;
    let mut hits = successes[..window].iter().filter(|&&s| s).count();
    if hits >= need {
        return Some(window);
    }
    for t in window..successes.len() {
        hits += usize::from(successes[t]);
        hits -= usize::from(successes[t - window]);
        if hits >= need {
            return Some(t + 1);
        }
    }
    None
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
            decoder_mean: vec![0.0],
            decoder_std: vec![1.0],
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
        // A rate still at or below chance at θ = 0 moves the bracket down: θ < 0.
        let negative = open
            .clone()
            .closed_loop(0.3, |c| Ok::<f64, ()>(0.1 * (-c.threshold).exp()))
            .unwrap();
        assert!(
            (negative.threshold - (0.1f64 / 0.3).ln()).abs() < 1e-3,
            "{negative:?}"
        );
        assert_eq!(
            open.closed_loop(0.3, |_| Err::<f64, &str>("stop")),
            Err("stop")
        );
    }

    #[test]
    fn the_criterion_is_the_first_full_window_at_the_level_and_none_when_never() {
        let s = |bits: &str| bits.chars().map(|c| c == '1').collect::<Vec<_>>();
        // 7 of 10 at trial 10 (the first full window).
        assert_eq!(trials_to_criterion(&s("1111111000"), 10, 0.7), Some(10));
        // The window slides: trial 12 is the first whose last 10 hold 7 hits.
        assert_eq!(
            trials_to_criterion(&s("000001111111000"), 10, 0.7),
            Some(12)
        );
        assert_eq!(trials_to_criterion(&s("0101010101010101"), 10, 0.7), None);
        // Fewer trials than the window: censored.
        assert_eq!(trials_to_criterion(&s("11111"), 10, 0.7), None);
    }

    #[test]
    fn a_cued_target_reads_the_cursor_in_its_direction_and_reports_in_the_decoders_frame() {
        let task = BciConfig {
            dims: 2,
            p_plus: 2,
            p_minus: 2,
            targets: BciTargets::Cued,
            ..BciConfig::default()
        };
        let units = 12;
        let ensembles = task.ensembles(units, 3);
        let calibration =
            Calibration::from_baseline(&task, &ensembles, &noise_trials(&task, units, 100, 4))
                .unwrap();
        // Directions are ±1, seeded, and both occur.
        let mut rng = SeededRng::new(9);
        let drawn: Vec<Vec<f64>> = (0..50).map(|_| task.directions(&mut rng)).collect();
        assert!(drawn.iter().flatten().all(|&d| d == 1.0 || d == -1.0));
        assert!(drawn.iter().any(|d| d[0] < 0.0) && drawn.iter().any(|d| d[0] > 0.0));
        assert_eq!(task.input_width(), 2 * task.channels + 2);
        // Dimension 1 down, dimension 2 up: P+_1 low and P+_2 high is a hit.
        let rates: Vec<f32> = ensembles
            .iter()
            .map(|&m| match m {
                1 | -2 => 0.2,
                -1 | 2 => 0.8,
                _ => 0.5,
            })
            .collect();
        let mut trial = BciTrial::toward(&task, vec![-1.0, 1.0]);
        let x = trial.scene(&task);
        assert_eq!(&x[x.len() - 2..], &[-1.0, 1.0]);
        let (mut moved, mut last) = (vec![0.0; 2], None);
        for _ in 0..task.smooth {
            let step = trial.observe(&task, &calibration, &ensembles, &rates);
            moved[0] += step.movement[0];
            moved[1] += step.movement[1];
            last = Some(step);
        }
        let last = last.unwrap();
        assert!(last.hit, "{last:?}");
        // In the decoder's frame: D_1 moved down, D_2 up; the summed error fell by 2B.
        let b = task.bins() as f64;
        assert_eq!(moved, vec![-b, b]);
        // The same rates toward the opposite targets: no hit, and the error points back.
        let mut wrong = BciTrial::toward(&task, vec![1.0, -1.0]);
        let step = (0..task.smooth)
            .map(|_| wrong.observe(&task, &calibration, &ensembles, &rates))
            .last()
            .unwrap();
        assert!(!step.hit);
        assert_eq!(step.error, vec![b, -b]);
        assert_eq!(step.error_deg, 2.0 * b * task.bin_deg);
    }

    #[test]
    fn a_centre_out_cursor_moves_along_the_trials_direction() {
        let task = BciConfig {
            layout: BciLayout::CentreOut,
            dims: 2,
            p_plus: 2,
            p_minus: 2,
            ..BciConfig::default()
        };
        task.validate().unwrap();
        assert_eq!(task.input_width(), task.channels + 2);
        let units = 12;
        let ensembles = task.ensembles(units, 3);
        let calibration =
            Calibration::from_baseline(&task, &ensembles, &noise_trials(&task, units, 100, 4))
                .unwrap();
        // Eight evenly spaced unit directions.
        let mut rng = SeededRng::new(2);
        for _ in 0..20 {
            let u = task.directions(&mut rng);
            assert!((u[0].hypot(u[1]) - 1.0).abs() < 1e-12, "{u:?}");
            let phi = u[1].atan2(u[0]).rem_euclid(std::f64::consts::TAU);
            let steps = phi / (std::f64::consts::TAU / 8.0);
            assert!((steps - steps.round()).abs() < 1e-9, "{phi}");
        }
        // Dimension 2 up (P+_2 high, P−_2 low), dimension 1 at rest: a hit toward +y only.
        let rates: Vec<f32> = ensembles
            .iter()
            .map(|&m| match m {
                2 => 0.8,
                -2 => 0.2,
                _ => 0.5,
            })
            .collect();
        let run = |u: Vec<f64>| {
            let mut trial = BciTrial::toward(&task, u);
            assert_eq!(trial.bins().len(), 1);
            (0..task.smooth)
                .map(|_| trial.observe(&task, &calibration, &ensembles, &rates))
                .last()
                .unwrap()
        };
        let up = run(vec![0.0, 1.0]);
        assert!(up.hit, "{up:?}");
        assert_eq!(up.error, vec![0.0, 0.0]);
        let right = run(vec![1.0, 0.0]);
        assert!(!right.hit);
        let b = task.bins() as f64;
        // Still the whole way to go along x: the error points along u.
        assert!(right.error[0] > 0.0 && right.error[1] == 0.0, "{right:?}");
        assert!(right.error[0] <= b);
        let bad = BciConfig {
            layout: BciLayout::CentreOut,
            dims: 3,
            ..BciConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().key, "dims");
    }

    #[test]
    fn mapped_targets_follow_the_seeds_teacher_and_show_the_cue() {
        let task = BciConfig {
            dims: 3,
            targets: BciTargets::Mapped,
            cue_dims: 5,
            ..BciConfig::default()
        };
        task.validate().unwrap();
        assert_eq!(task.input_width(), 3 * task.channels + 5);
        let teacher = task.teacher(7);
        assert_eq!(teacher.len(), 15);
        assert_eq!(teacher, task.teacher(7));
        assert_ne!(teacher, task.teacher(8));
        let mut rng = SeededRng::new(1);
        let (mut up, mut down) = (0, 0);
        for _ in 0..200 {
            let t = task.target(&teacher, &mut rng);
            assert_eq!(t.cue.len(), 5);
            for (k, &sigma) in t.directions.iter().enumerate() {
                let v: f64 = (0..5).map(|j| teacher[k * 5 + j] * t.cue[j]).sum();
                assert_eq!(sigma, if v < 0.0 { -1.0 } else { 1.0 });
                if sigma > 0.0 {
                    up += 1
                } else {
                    down += 1
                }
            }
            let trial = BciTrial::for_target(&task, t.clone());
            let x = trial.scene(&task);
            let shown: Vec<f64> = x[x.len() - 5..].iter().map(|&v| v as f64).collect();
            for (a, b) in shown.iter().zip(&t.cue) {
                assert!((a - b).abs() < 1e-6);
            }
        }
        assert!(
            up > 200 && down > 200,
            "both directions: {up} up, {down} down"
        );
        // No teacher and no cue for the other targets.
        assert!(BciConfig::default().teacher(7).is_empty());
        assert!(BciConfig::default().target(&[], &mut rng).cue.is_empty());
    }

    #[test]
    fn a_pattern_hit_needs_every_dimension_at_its_target() {
        let task = BciConfig {
            dims: 2,
            p_plus: 2,
            p_minus: 2,
            ..BciConfig::default()
        };
        let units = 12;
        let ensembles = task.ensembles(units, 3);
        for k in 1..=2i8 {
            assert_eq!(ensembles.iter().filter(|&&m| m == k).count(), 2);
            assert_eq!(ensembles.iter().filter(|&&m| m == -k).count(), 2);
        }
        let calibration =
            Calibration::from_baseline(&task, &ensembles, &noise_trials(&task, units, 100, 4))
                .unwrap();
        assert_eq!(calibration.decoder_mean.len(), 2);
        let drive = |dims: &[i8]| -> Vec<f32> {
            ensembles
                .iter()
                .map(|&m| {
                    let on = dims.contains(&(m.unsigned_abs() as i8));
                    0.5 + if on { 0.3 * m.signum() as f32 } else { 0.0 }
                })
                .collect()
        };
        // Dimension 1 alone at its target: no hit; its error is 0, dimension 2's is not.
        let mut trial = BciTrial::new(&task);
        let mut last = None;
        let mut moved = 0.0;
        for _ in 0..task.smooth {
            let step = trial.observe(&task, &calibration, &ensembles, &drive(&[1]));
            moved += step.movement[0];
            last = Some(step);
        }
        let one = last.unwrap();
        assert!(!one.hit);
        assert_eq!(one.error[0], 0.0);
        assert!(one.error[1] > 0.0, "{one:?}");
        assert_eq!(moved, task.bins() as f64);
        // Both: a hit.
        let mut trial = BciTrial::new(&task);
        let mut hit = false;
        for _ in 0..task.smooth {
            hit = trial
                .observe(&task, &calibration, &ensembles, &drive(&[1, 2]))
                .hit;
        }
        assert!(hit);
        assert_eq!(task.input_width(), 2 * task.channels);
        assert_eq!(task.scene(&[0, 6], &[]).len(), 2 * task.channels);
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
                let mut t = BciTrial::new(&task);
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
        let mut trial = BciTrial::new(&task);
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
        assert_eq!(last.decoder.len(), 1);
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
        for dims in [0, MAX_DIMS + 1] {
            let bad = BciConfig {
                dims,
                ..BciConfig::default()
            };
            assert_eq!(bad.validate().unwrap_err().key, "dims");
        }
        let four = BciConfig {
            dims: 4,
            ..BciConfig::default()
        };
        assert_eq!(four.check_units(31).unwrap_err().key, "p_plus");
        assert!(four.check_units(32).is_ok());
    }
}
