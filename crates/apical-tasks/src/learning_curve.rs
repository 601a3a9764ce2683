//! A floor-free learning speed: the exponential learning curve fitted to a run's trial
//! outcomes by maximum likelihood, and the trial at which the fitted curve reaches the
//! criterion.
//!
//! The moving-window criterion ([`crate::bci::trials_to_criterion`]) cannot score below its
//! window (with probe trials every P trials, below P·window): two rules that both learn
//! within it tie. The fitted curve has no such floor. The model, with c the run's measured
//! chance (fixed, not fitted: the untrained network's hit rate),
//!
//! p(t) = a − (a − c)·exp(−t/τ),
//!
//! is fitted to the outcomes y_i at trials t_i (1-based) by maximising
//! Σ y_i ln p(t_i) + (1 − y_i) ln(1 − p(t_i)) over the asymptote a ∈ [0.001, 0.999] and the
//! time constant τ (a log grid of ratio 1.02 from 0.25 trials to 100 horizons; for each τ the
//! log-likelihood is concave in a, maximised by ternary search). The trials to criterion are
//! t* = τ·ln((a − c)/(a − level)) when a > level > c, and `None` (censored) when the fitted
//! asymptote does not reach the level or t* lies beyond `horizon`. The curve is not resolved
//! before the first observed trial t₁ (with probes every P trials, t₁ = P): t* is reported as
//! at least t₁ (and as t₁ when c ≥ level) — a floor of one probe interval, not of a window.

use serde::{Deserialize, Serialize};

/// A fitted exponential learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearningCurveFit {
    /// c: the success rate at t = 0 (the measured chance; fixed).
    pub chance: f64,
    /// a: the fitted asymptote.
    pub asymptote: f64,
    /// τ: the fitted time constant, in trials.
    pub tau: f64,
    /// t*: the trial at which the fitted curve reaches the level (fractional); `None` when it
    /// never does within the horizon (censored).
    pub trials_to_criterion: Option<f64>,
}

impl LearningCurveFit {
    /// The fitted success rate at trial `t`.
    pub fn at(&self, t: f64) -> f64 {
        self.asymptote - (self.asymptote - self.chance) * (-t / self.tau).exp()
    }
}

const A_LOW: f64 = 0.001;
const A_HIGH: f64 = 0.999;
const TAU_LOW: f64 = 0.25;
const TAU_RATIO: f64 = 1.02;

/// Fits the curve to `outcomes` (trial index from 1, success) with the start fixed at
/// `chance`, and reads the trial at which it reaches `level` (censored beyond `horizon`
/// trials). `None` when there is nothing to fit (no outcomes, or a chance or level outside
/// (0, 1)).
pub fn fit_learning_curve(
    outcomes: &[(f64, bool)],
    chance: f64,
    level: f64,
    horizon: f64,
) -> Option<LearningCurveFit> {
    let open = |x: f64| x.is_finite() && x > 0.0 && x < 1.0;
    if outcomes.is_empty() || !open(chance) || !open(level) || horizon.is_nan() || horizon <= 0.0 {
        return None;
    }
    let log_likelihood = |a: f64, decay: &[f64]| -> f64 {
        outcomes
            .iter()
            .zip(decay)
            .map(|(&(_, y), &e)| {
                let p = (a - (a - chance) * e).clamp(1e-9, 1.0 - 1e-9);
                if y {
                    p.ln()
                } else {
                    (1.0 - p).ln()
                }
            })
            .sum()
    };
    let tau_high = 100.0 * horizon.max(1.0);
    let mut best = (f64::NEG_INFINITY, chance, TAU_LOW);
    let mut decay = vec![0.0; outcomes.len()];
    let mut tau = TAU_LOW;
    while tau <= tau_high {
        for (e, &(t, _)) in decay.iter_mut().zip(outcomes) {
            *e = (-t / tau).exp();
        }
        // Concave in a (p is linear in a, the Bernoulli log-likelihood concave in p).
        let (mut lo, mut hi) = (A_LOW, A_HIGH);
        for _ in 0..60 {
            let m1 = lo + (hi - lo) / 3.0;
            let m2 = hi - (hi - lo) / 3.0;
            if log_likelihood(m1, &decay) < log_likelihood(m2, &decay) {
                lo = m1;
            } else {
                hi = m2;
            }
        }
        let a = 0.5 * (lo + hi);
        let ll = log_likelihood(a, &decay);
        if ll > best.0 {
            best = (ll, a, tau);
        }
        tau *= TAU_RATIO;
    }
    let (_, asymptote, tau) = best;
    let first = outcomes
        .iter()
        .map(|&(t, _)| t)
        .fold(f64::INFINITY, f64::min);
    let trials_to_criterion = if chance >= level {
        Some(first)
    } else if asymptote > level {
        Some(tau * ((asymptote - chance) / (asymptote - level)).ln())
            .filter(|&t| t <= horizon)
            .map(|t| t.max(first))
    } else {
        None
    };
    Some(LearningCurveFit {
        chance,
        asymptote,
        tau,
        trials_to_criterion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use apical_core::SeededRng;

    /// A true curve to simulate from (its crossing is not used).
    fn curve(chance: f64, asymptote: f64, tau: f64) -> LearningCurveFit {
        LearningCurveFit {
            chance,
            asymptote,
            tau,
            trials_to_criterion: None,
        }
    }

    fn simulate(
        curve: &LearningCurveFit,
        every: usize,
        trials: usize,
        seed: u64,
    ) -> Vec<(f64, bool)> {
        let mut rng = SeededRng::new(seed);
        (1..=trials)
            .filter(|t| t % every == 0)
            .map(|t| {
                let t = t as f64;
                (t, rng.uniform() < curve.at(t))
            })
            .collect()
    }

    #[test]
    fn the_fit_recovers_a_known_curve_and_its_crossing() {
        let truth = curve(0.3, 0.85, 40.0);
        // t* = 40·ln(0.55/0.15) ≈ 52.0.
        let crossing = 40.0 * (0.55f64 / 0.15).ln();
        let fit = fit_learning_curve(&simulate(&truth, 1, 4000, 3), 0.3, 0.7, 4000.0).unwrap();
        assert!((fit.asymptote - 0.85).abs() < 0.02, "{fit:?}");
        assert!((fit.tau / 40.0 - 1.0).abs() < 0.25, "{fit:?}");
        let t = fit.trials_to_criterion.unwrap();
        assert!((t / crossing - 1.0).abs() < 0.25, "{t} vs {crossing}");
    }

    #[test]
    fn a_faster_learner_crosses_earlier_below_any_window_floor() {
        // Both learn within the first 20 probes (every 5 trials: the window's floor is trial
        // 100), the fast one 4× faster: the fit separates them, and neither is floored.
        let learner = |tau| curve(0.3, 0.9, tau);
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for seed in 0..15 {
            let f = fit_learning_curve(&simulate(&learner(5.0), 5, 500, seed), 0.3, 0.7, 500.0);
            let s = fit_learning_curve(
                &simulate(&learner(20.0), 5, 500, seed + 100),
                0.3,
                0.7,
                500.0,
            );
            fast.push(f.unwrap().trials_to_criterion.unwrap());
            slow.push(s.unwrap().trials_to_criterion.unwrap());
        }
        fast.sort_by(f64::total_cmp);
        slow.sort_by(f64::total_cmp);
        let (f, s) = (fast[7], slow[7]);
        // True crossings: 5·ln(3) ≈ 5.5 and 20·ln(3) ≈ 22.
        assert!(
            f < 12.0 && s > 12.0 && s < 40.0,
            "median fast {f}, slow {s}"
        );
        assert!(s / f > 2.0, "median fast {f}, slow {s}");
    }

    #[test]
    fn no_learning_is_censored_and_bad_input_fits_nothing() {
        let flat = curve(0.3, 0.3, 1.0);
        let fit = fit_learning_curve(&simulate(&flat, 5, 500, 1), 0.3, 0.7, 500.0).unwrap();
        assert_eq!(fit.trials_to_criterion, None, "{fit:?}");
        assert!(fit.asymptote < 0.5, "{fit:?}");
        // The horizon censors: the same outcomes (true crossing 150·ln 3 ≈ 165) cross within
        // a 600-trial horizon and are censored with a 100-trial one, asymptote and τ alike.
        let outcomes = simulate(&curve(0.3, 0.9, 150.0), 1, 600, 2);
        let within = fit_learning_curve(&outcomes, 0.3, 0.7, 600.0).unwrap();
        let t = within
            .trials_to_criterion
            .expect("crosses within 600 trials");
        assert!(t > 100.0 && t < 300.0, "{within:?}");
        let short = fit_learning_curve(&outcomes, 0.3, 0.7, 100.0).unwrap();
        assert!(short.asymptote > 0.7, "{short:?}");
        assert_eq!(short.trials_to_criterion, None, "{short:?}");
        assert_eq!(fit_learning_curve(&[], 0.3, 0.7, 500.0), None);
        assert_eq!(fit_learning_curve(&[(1.0, true)], 0.0, 0.7, 500.0), None);
        assert_eq!(fit_learning_curve(&[(1.0, true)], 0.3, 1.0, 500.0), None);
        // Chance already at the level: reached at the first observation.
        let at_once = fit_learning_curve(&[(5.0, true)], 0.8, 0.7, 500.0).unwrap();
        assert_eq!(at_once.trials_to_criterion, Some(5.0));
        // Learned before the first probe: not resolved earlier than it.
        let instant = curve(0.3, 0.95, 0.5);
        let fit = fit_learning_curve(&simulate(&instant, 5, 500, 4), 0.3, 0.7, 500.0).unwrap();
        assert_eq!(fit.trials_to_criterion, Some(5.0), "{fit:?}");
    }
}
