//! The BCI experiment's analyses (Francioni et al., *Nature* 2026) on one run's recordings:
//! learning curve, rate changes of the ensembles, vectorization of the dendritic residual (the
//! per-unit slope of the residual on the task error, over the run and by day), whether a
//! unit's day-1 slope predicts its change in rate over learning, and decoding of reward and
//! outcome from residual vectors.
//!
//! The residual is recomputed here as the experimenters did, not taken from the model: per
//! unit, apical = a·rate + b is fitted by least squares on every recorded step (coincident
//! activity), and the residual apical − (a·rate + b) is z-scored per unit.

use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use crate::{decode, dendritic_residuals, mean_interval, DecoderConfig};

/// One run's BCI recordings, every step that ran, in order.
#[derive(Debug, Clone)]
pub struct BciSteps {
    /// Apical signal, steps × units.
    pub apical: DMatrix<f64>,
    /// Rates, steps × units.
    pub rate: DMatrix<f64>,
    /// Error change of each step (negative: toward the target).
    pub error_change: Vec<f64>,
    /// The error after each step (what the higher area sends the tufts; summed over the
    /// task's dimensions).
    pub error: Vec<f64>,
    /// The trial each step belongs to.
    pub trial: Vec<usize>,
    /// Per trial: its day (0-based) and whether it was a hit.
    pub trials: Vec<(usize, bool)>,
    /// Per unit: +1 P+, −1 P−, 0 P0.
    pub ensembles: Vec<i64>,
}

/// A mean with its 95% t-interval over units, and the per-unit values (for pooling runs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStat {
    /// Mean over the group's units.
    pub mean: f64,
    /// Lower end of the 95% interval (null with fewer than two units).
    pub ci_low: Option<f64>,
    /// Upper end.
    pub ci_high: Option<f64>,
    /// Per-unit values.
    pub units: Vec<f64>,
}

/// One statistic for P+, P− and P0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Groups {
    /// P+.
    pub p_plus: GroupStat,
    /// P−.
    pub p_minus: GroupStat,
    /// P0.
    pub p0: GroupStat,
}

/// Cross-validated decoding with its shuffle control (classes balanced by subsampling).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BciDecode {
    /// Cross-validated accuracy.
    pub accuracy: f64,
    /// Lower end of its 95% (Wilson) interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Mean accuracy with shuffled labels.
    pub shuffled: f64,
    /// Trials decoded (half of each class, matched within days).
    pub n_trials: usize,
}

/// Everything `apical analyze` reports for a BCI run (under the key `bci`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BciAnalysis {
    /// Fraction of hits per day.
    pub success_by_day: Vec<f64>,
    /// Per-unit mean rate on the last two days minus day 1.
    pub rate_change: Groups,
    /// Per-unit slope of the z-residual on the error (z per unit of error): signed by each
    /// unit's causal role where the teaching signal is vectorized.
    pub vectorization: Groups,
    /// The same slope per day: mean over each group's units (P+, P−, P0).
    pub vectorization_by_day: Vec<[f64; 3]>,
    /// Spearman ρ over units between a unit's day-1 slope and its rate change (the last two
    /// days minus day 1): whether the teaching signal predicts what the unit learns (null with
    /// one day or a constant ranking; the reason in `notes`).
    pub slope_predicts_rate_change: Option<f64>,
    /// Rewarded vs unrewarded trials from the residual vector at the outcome step, classes
    /// balanced within each day (null with fewer than `MIN_PER_CLASS` matched pairs, with the
    /// reason in `notes`).
    pub decode_reward: Option<BciDecode>,
    /// Hits vs misses from the mean residual vector over the `window` steps before the
    /// outcome step (trials with at least one such step: hits on the first step are left
    /// out), balanced within days.
    pub decode_outcome_before: Option<BciDecode>,
    /// Steps before the outcome averaged for `decode_outcome_before`.
    pub window: usize,
    /// Nested models: what the residuals add to the somatic rates. Cross-validated accuracy
    /// of the same trials and folds from the rates alone and from the rates and residuals
    /// together, for the reward at the outcome and the outcome before it (null where too few
    /// trials).
    pub residual_added: Option<ResidualAdded>,
    /// Why a field is null, if one is.
    pub notes: Vec<String>,
}

/// Accuracies of nested decoders (rates ⊂ rates + residuals) on the same balanced trials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResidualAdded {
    /// Reward at the outcome step from the rates alone.
    pub reward_rates: f64,
    /// The same from rates and residuals.
    pub reward_rates_residuals: f64,
    /// Outcome from the `window` steps before it, rates alone.
    pub outcome_rates: Option<f64>,
    /// The same from rates and residuals.
    pub outcome_rates_residuals: Option<f64>,
}

/// Fewest matched (hit, miss) pairs for a decoding.
pub const MIN_PER_CLASS: usize = 10;

fn group_stat(values: Vec<f64>) -> GroupStat {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return GroupStat {
            mean: f64::NAN,
            ci_low: None,
            ci_high: None,
            units: values,
        };
    }
    let m = mean_interval(&finite);
    let two = finite.len() >= 2;
    GroupStat {
        mean: m.mean,
        ci_low: two.then_some(m.low),
        ci_high: two.then_some(m.high),
        units: values,
    }
}

fn groups(per_unit: &[f64], ensembles: &[i64]) -> Groups {
    let pick = |g: i64| {
        group_stat(
            per_unit
                .iter()
                .zip(ensembles)
                .filter(|(_, &e)| e == g)
                .map(|(&v, _)| v)
                .collect(),
        )
    };
    Groups {
        p_plus: pick(1),
        p_minus: pick(-1),
        p0: pick(0),
    }
}

/// Too few trials of each outcome, once matched within days, to decode the outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pairs} matched pairs within days ({first} trials of one class and {second} of the other); at least {MIN_PER_CLASS} are needed")]
pub struct TooFewTrials {
    /// Pairs matched within days.
    pub pairs: usize,
    /// Trials of the first class.
    pub first: usize,
    /// Trials of the second class.
    pub second: usize,
}

/// Decodes `labels` (0/1) from `features` after balancing the classes by subsampling within
/// each `day` (so that the class is not confounded with the day's weights).
fn balanced_decode(
    features: &DMatrix<f64>,
    labels: &[usize],
    days: &[usize],
    config: &DecoderConfig,
) -> Result<BciDecode, TooFewTrials> {
    let n_days = days.iter().max().map_or(0, |d| d + 1);
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut rows = Vec::new();
    let mut totals = [0usize; 2];
    for day in 0..n_days {
        let mut by_class = [Vec::new(), Vec::new()];
        for (i, &l) in labels.iter().enumerate() {
            if days[i] == day {
                by_class[l.min(1)].push(i);
            }
        }
        totals[0] += by_class[0].len();
        totals[1] += by_class[1].len();
        let n = by_class[0].len().min(by_class[1].len());
        for class in &mut by_class {
            class.shuffle(&mut rng);
            rows.extend_from_slice(&class[..n]);
        }
    }
    if rows.len() < 2 * MIN_PER_CLASS {
        return Err(TooFewTrials {
            pairs: rows.len() / 2,
            first: totals[0],
            second: totals[1],
        });
    }
    rows.sort_unstable();
    let x = DMatrix::from_fn(rows.len(), features.ncols(), |r, c| features[(rows[r], c)]);
    let y: Vec<usize> = rows.iter().map(|&r| labels[r]).collect();
    let d = decode(&x, &y, config);
    Ok(BciDecode {
        accuracy: d.accuracy,
        ci_low: d.accuracy_low,
        ci_high: d.accuracy_high,
        shuffled: d.shuffled_accuracy_mean,
        n_trials: rows.len(),
    })
}

/// Runs every BCI analysis on `steps`; `window` steps before the outcome feed the
/// before-outcome decoder.
///
/// # Panics
/// If the shapes disagree (checked at the boundary).
pub fn analyze_bci(steps: &BciSteps, window: usize, config: &DecoderConfig) -> BciAnalysis {
    let (n_steps, units) = steps.rate.shape();
    assert_eq!(
        steps.apical.shape(),
        (n_steps, units),
        "analyze_bci: shapes"
    );
    assert_eq!(
        steps.error_change.len(),
        n_steps,
        "analyze_bci: error_change"
    );
    assert_eq!(steps.error.len(), n_steps, "analyze_bci: error");
    assert_eq!(steps.trial.len(), n_steps, "analyze_bci: trial");
    assert_eq!(steps.ensembles.len(), units, "analyze_bci: ensembles");
    let days = steps.trials.iter().map(|t| t.0 + 1).max().unwrap_or(0);
    let success_by_day: Vec<f64> = (0..days)
        .map(|d| {
            let today: Vec<bool> = steps
                .trials
                .iter()
                .filter(|t| t.0 == d)
                .map(|t| t.1)
                .collect();
            today.iter().filter(|&&h| h).count() as f64 / today.len().max(1) as f64
        })
        .collect();

    // Rate change: late days (the last two) vs day 1, per unit.
    let day_of_step = |s: usize| steps.trials[steps.trial[s]].0;
    let late_from = days.saturating_sub(2).max(1);
    let mean_rate = |keep: &dyn Fn(usize) -> bool, u: usize| {
        let (sum, n) = (0..n_steps)
            .filter(|&s| keep(day_of_step(s)))
            .fold((0.0, 0usize), |(a, n), s| (a + steps.rate[(s, u)], n + 1));
        if n == 0 {
            f64::NAN
        } else {
            sum / n as f64
        }
    };
    let rate_change: Vec<f64> = (0..units)
        .map(|u| mean_rate(&|d| d >= late_from, u) - mean_rate(&|d| d == 0, u))
        .collect();

    // Vectorization: the slope of each unit's z-residual on the error, over a set of steps.
    let fit = dendritic_residuals(&steps.apical, &steps.rate);
    let slope = |rows: &[usize], u: usize| {
        let n = rows.len() as f64;
        if rows.len() < 3 {
            return f64::NAN;
        }
        let me = rows.iter().map(|&s| steps.error[s]).sum::<f64>() / n;
        let mz = rows.iter().map(|&s| fit.z[(s, u)]).sum::<f64>() / n;
        let (mut cov, mut var) = (0.0, 0.0);
        for &s in rows {
            let de = steps.error[s] - me;
            cov += de * (fit.z[(s, u)] - mz);
            var += de * de;
        }
        if var > 0.0 {
            cov / var
        } else {
            f64::NAN
        }
    };
    let all_rows: Vec<usize> = (0..n_steps).collect();
    let vectorization: Vec<f64> = (0..units).map(|u| slope(&all_rows, u)).collect();
    let rows_of_day: Vec<Vec<usize>> = (0..days)
        .map(|d| (0..n_steps).filter(|&s| day_of_step(s) == d).collect())
        .collect();
    let slope_by_day: Vec<Vec<f64>> = rows_of_day
        .iter()
        .map(|rows| (0..units).map(|u| slope(rows, u)).collect())
        .collect();
    let group_mean = |values: &[f64], g: i64| {
        let picked: Vec<f64> = values
            .iter()
            .zip(&steps.ensembles)
            .filter(|(v, &e)| e == g && v.is_finite())
            .map(|(&v, _)| v)
            .collect();
        picked.iter().sum::<f64>() / picked.len() as f64
    };
    let vectorization_by_day: Vec<[f64; 3]> = slope_by_day
        .iter()
        .map(|day| [group_mean(day, 1), group_mean(day, -1), group_mean(day, 0)])
        .collect();
    let slope_predicts_rate_change = if days >= 2 {
        crate::spearman(&slope_by_day[0], &rate_change)
    } else {
        None
    };

    // Residual vectors per trial: at the outcome, and before it.
    let n_trials = steps.trials.len();
    let mut rows_of_trial = vec![Vec::new(); n_trials];
    for s in 0..n_steps {
        rows_of_trial[steps.trial[s]].push(s);
    }
    let (mut at_outcome, mut outcome_labels, mut outcome_days) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut before, mut before_labels, mut before_days) = (Vec::new(), Vec::new(), Vec::new());
    // The rates at the same steps (the nested decoders' base model).
    let (mut rates_at_outcome, mut rates_before) = (Vec::new(), Vec::new());
    for (t, rows) in rows_of_trial.iter().enumerate() {
        let Some((&last, earlier)) = rows.split_last() else {
            continue;
        };
        let label = usize::from(steps.trials[t].1);
        at_outcome.push((0..units).map(|u| fit.z[(last, u)]).collect::<Vec<_>>());
        rates_at_outcome.push(
            (0..units)
                .map(|u| steps.rate[(last, u)])
                .collect::<Vec<_>>(),
        );
        outcome_labels.push(label);
        outcome_days.push(steps.trials[t].0);
        let window_rows = &earlier[earlier.len().saturating_sub(window)..];
        if !window_rows.is_empty() {
            before.push(
                (0..units)
                    .map(|u| {
                        window_rows.iter().map(|&s| fit.z[(s, u)]).sum::<f64>()
                            / window_rows.len() as f64
                    })
                    .collect::<Vec<_>>(),
            );
            before_labels.push(label);
            before_days.push(steps.trials[t].0);
            rates_before.push(
                (0..units)
                    .map(|u| {
                        window_rows.iter().map(|&s| steps.rate[(s, u)]).sum::<f64>()
                            / window_rows.len() as f64
                    })
                    .collect::<Vec<_>>(),
            );
        }
    }
    let matrix = |rows: &[Vec<f64>]| DMatrix::from_fn(rows.len(), units, |r, c| rows[r][c]);
    let mut notes = Vec::new();
    if vectorization.iter().all(|v| !v.is_finite()) {
        notes.push("vectorization: the error never varied; a slope needs it to".into());
    }
    if days >= 2 && slope_predicts_rate_change.is_none() {
        notes.push(
            "slope_predicts_rate_change: a ranking was constant (or a value not finite)".into(),
        );
    }
    for (g, name) in [(1, "P+"), (-1, "P-"), (0, "P0")] {
        if !steps.ensembles.contains(&g) {
            notes.push(format!("{name} has no units: its statistics are null"));
        }
    }
    if days < 2 {
        notes.push("rate_change: one day only; it compares the last two days with day 1".into());
    }
    let decode_reward =
        balanced_decode(&matrix(&at_outcome), &outcome_labels, &outcome_days, config)
            .map_err(|why| notes.push(format!("decode_reward: {why}")))
            .ok();
    let decode_outcome_before =
        balanced_decode(&matrix(&before), &before_labels, &before_days, config)
            .map_err(|why| notes.push(format!("decode_outcome_before: {why}")))
            .ok();
    // Nested: rates (z-scored per unit, as the residuals are) vs rates and residuals, on the
    // same balanced trials and folds (the same seed); no shuffles needed for the difference.
    let nested = DecoderConfig {
        shuffles: 0,
        ..*config
    };
    let standardise = |rows: &[Vec<f64>]| -> Vec<Vec<f64>> {
        let n = rows.len().max(1) as f64;
        let mean: Vec<f64> = (0..units)
            .map(|u| rows.iter().map(|r| r[u]).sum::<f64>() / n)
            .collect();
        let sd: Vec<f64> = (0..units)
            .map(|u| {
                let v = rows.iter().map(|r| (r[u] - mean[u]).powi(2)).sum::<f64>() / n;
                if v > 0.0 {
                    v.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        rows.iter()
            .map(|r| (0..units).map(|u| (r[u] - mean[u]) / sd[u]).collect())
            .collect()
    };
    let joined = |a: &[Vec<f64>], b: &[Vec<f64>]| -> DMatrix<f64> {
        DMatrix::from_fn(a.len(), 2 * units, |r, c| {
            if c < units {
                a[r][c]
            } else {
                b[r][c - units]
            }
        })
    };
    let pair = |rates: &[Vec<f64>], residuals: &[Vec<f64>], labels: &[usize], days: &[usize]| {
        let rates = standardise(rates);
        let alone = balanced_decode(&matrix(&rates), labels, days, &nested).ok()?;
        let both = balanced_decode(&joined(&rates, residuals), labels, days, &nested).ok()?;
        Some((alone.accuracy, both.accuracy))
    };
    let residual_added = pair(
        &rates_at_outcome,
        &at_outcome,
        &outcome_labels,
        &outcome_days,
    )
    .map(|(reward_rates, reward_rates_residuals)| {
        let outcome = pair(&rates_before, &before, &before_labels, &before_days);
        ResidualAdded {
            reward_rates,
            reward_rates_residuals,
            outcome_rates: outcome.map(|o| o.0),
            outcome_rates_residuals: outcome.map(|o| o.1),
        }
    });
    BciAnalysis {
        success_by_day,
        rate_change: groups(&rate_change, &steps.ensembles),
        vectorization: groups(&vectorization, &steps.ensembles),
        vectorization_by_day,
        slope_predicts_rate_change,
        decode_reward,
        decode_outcome_before,
        window,
        residual_added,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// A synthetic run: P+ apical follows the error, P− its negative, P0 neither; hits end
    /// with the error falling to 0.
    fn synthetic(signed: bool) -> BciSteps {
        let mut rng = StdRng::seed_from_u64(3);
        let ensembles = vec![1, 1, -1, -1, 0, 0];
        let units = ensembles.len();
        let (mut apical, mut rate, mut error_change, mut trial, mut trials) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut errors = Vec::new();
        for t in 0..200 {
            let hit = t % 2 == 0;
            let day = t / 100;
            trials.push((day, hit));
            let mut error = 4.0;
            for s in 0..6 {
                let change = if hit && s >= 3 {
                    -error / (6 - s) as f64
                } else {
                    [-1.0, 0.0, 1.0][rng.random_range(0..3)]
                };
                error += change;
                errors.push(error);
                for (u, &g) in ensembles.iter().enumerate() {
                    let r = 0.5 + 0.1 * rng.random::<f64>() + 0.1 * (day as f64) * g as f64;
                    let top = if signed { 0.5 * g as f64 * error } else { 0.0 };
                    rate.push(r);
                    apical.push(0.5 * r + top + 0.3 * rng.random::<f64>());
                    let _ = u;
                }
                error_change.push(change);
                trial.push(t);
            }
        }
        let n = error_change.len();
        BciSteps {
            apical: DMatrix::from_row_slice(n, units, &apical),
            rate: DMatrix::from_row_slice(n, units, &rate),
            error_change,
            error: errors,
            trial,
            trials,
            ensembles,
        }
    }

    #[test]
    fn a_signed_teaching_signal_shows_as_vectorization_and_decodes_the_outcome() {
        let config = DecoderConfig {
            shuffles: 5,
            ..Default::default()
        };
        let a = analyze_bci(&synthetic(true), 3, &config);
        assert_eq!(a.success_by_day, vec![0.5, 0.5]);
        assert!(
            a.vectorization.p_plus.ci_low.unwrap() > 0.0,
            "{:?}",
            a.vectorization
        );
        assert!(a.vectorization.p_minus.ci_high.unwrap() < 0.0);
        assert!(a.rate_change.p_plus.mean > 0.05 && a.rate_change.p_minus.mean < -0.05);
        assert!(a.rate_change.p0.mean.abs() < 0.03);
        assert_eq!(a.vectorization_by_day.len(), 2);
        assert!(a.vectorization_by_day[0][0] > 0.0 && a.vectorization_by_day[0][1] < 0.0);
        // Day-1 slopes signed as the rate changes: ρ over the 6 units is high.
        let rho = a.slope_predicts_rate_change.unwrap();
        assert!(rho > 0.7, "{rho}");
        let before = a.decode_outcome_before.unwrap();
        assert!(before.accuracy > 0.65, "{before:?}");
        // The rates carry no outcome here; the residuals add it.
        let added = a.residual_added.clone().unwrap();
        assert!(
            added.outcome_rates_residuals.unwrap() > added.outcome_rates.unwrap() + 0.1,
            "{added:?}"
        );
        assert!((before.shuffled - 0.5).abs() < 0.1);

        // Without the signal: no vectorization, outcome not decodable.
        let a = analyze_bci(&synthetic(false), 3, &config);
        let v = &a.vectorization.p_plus;
        assert!(v.ci_low.unwrap() < 0.0 && v.ci_high.unwrap() > 0.0, "{v:?}");
        assert!(a.decode_outcome_before.unwrap().accuracy < 0.65);
    }
}
