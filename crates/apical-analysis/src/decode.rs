//! Cross-validated linear decoders (multinomial logistic regression, L2) with a label-shuffle
//! control and a confidence interval.

use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

/// Decoder settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecoderConfig {
    /// Cross-validation folds (≥ 2; use the number of trials for leave-one-out).
    pub folds: usize,
    /// L2 penalty λ on the weights.
    pub l2: f64,
    /// Gradient-descent iterations.
    pub iterations: usize,
    /// Label-shuffle repetitions for the control.
    pub shuffles: usize,
    /// Seed of the fold assignment and shuffles.
    pub seed: u64,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self {
            folds: 5,
            l2: 1e-2,
            iterations: 300,
            shuffles: 20,
            seed: 0,
        }
    }
}

/// Cross-validated accuracy with its interval and the shuffle control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodeResult {
    /// Fraction of held-out trials decoded correctly.
    pub accuracy: f64,
    /// Wilson 95% interval of the accuracy.
    pub accuracy_low: f64,
    /// Upper end of the interval.
    pub accuracy_high: f64,
    /// Mean accuracy with shuffled labels (chance level as measured).
    pub shuffled_accuracy_mean: f64,
    /// 95th percentile of shuffled accuracies (a one-sided 5% test threshold).
    pub shuffled_accuracy_p95: f64,
    /// Fraction of shuffles reaching the real accuracy (permutation p-value, +1 corrected).
    pub p_value: f64,
    /// The smallest p-value these shuffles can give, 1 / (shuffles + 1): a `p_value` equal to
    /// it means "no shuffle reached the real accuracy", not p = that value.
    pub p_value_floor: f64,
    /// Chance by class frequency (the majority class's share).
    pub majority_baseline: f64,
    /// Trials, features and classes.
    pub n_trials: usize,
    /// Features per trial.
    pub n_features: usize,
    /// Distinct classes.
    pub n_classes: usize,
}

/// Wilson score 95% interval for `correct` successes out of `n`.
pub fn wilson_interval(correct: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_964f64;
    let p = correct as f64 / n as f64;
    let nf = n as f64;
    let centre = (p + z * z / (2.0 * nf)) / (1.0 + z * z / nf);
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / (1.0 + z * z / nf);
    (centre - half, centre + half)
}

/// Fits softmax regression on standardised features and returns a predictor.
fn fit(
    x: &DMatrix<f64>,
    y: &[usize],
    n_classes: usize,
    config: &DecoderConfig,
) -> impl Fn(&DMatrix<f64>) -> Vec<usize> {
    let (n, d) = x.shape();
    let mean: Vec<f64> = (0..d).map(|j| x.column(j).mean()).collect();
    let sd: Vec<f64> = (0..d)
        .map(|j| x.column(j).variance().sqrt().max(1e-12))
        .collect();
    let standardise = move |m: &DMatrix<f64>| {
        let mut out = m.clone();
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                out[(i, j)] = (m[(i, j)] - mean[j]) / sd[j];
            }
        }
        out.insert_column(m.ncols(), 1.0)
    };
    let xs = standardise(x);
    let mut w = DMatrix::<f64>::zeros(d + 1, n_classes);
    let mut targets = DMatrix::<f64>::zeros(n, n_classes);
    for (i, &c) in y.iter().enumerate() {
        targets[(i, c)] = 1.0;
    }
    // Step size from the Lipschitz bound of the softmax loss: ‖X‖² / (2n) + λ.
    let lipschitz = xs.norm_squared() / (2.0 * n as f64) + config.l2;
    let step = 1.0 / lipschitz.max(1e-12);
    for _ in 0..config.iterations {
        let mut p = &xs * &w;
        for mut row in p.row_iter_mut() {
            let max = row.max();
            row.apply(|v| *v = (*v - max).exp());
            let sum = row.sum();
            row /= sum;
        }
        let mut grad = xs.transpose() * (p - &targets) / n as f64;
        let mut penalty = w.clone() * config.l2;
        penalty.row_mut(d).fill(0.0);
        grad += penalty;
        w -= grad * step;
    }
    move |m: &DMatrix<f64>| {
        let scores = standardise(m) * &w;
        scores
            .row_iter()
            .map(|r| r.transpose().argmax().0)
            .collect()
    }
}

fn cv_correct(
    x: &DMatrix<f64>,
    y: &[usize],
    n_classes: usize,
    config: &DecoderConfig,
    rng: &mut StdRng,
) -> usize {
    let n = y.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let folds = config.folds.min(n);
    let mut correct = 0;
    for f in 0..folds {
        let test: Vec<usize> = order.iter().copied().skip(f).step_by(folds).collect();
        let train: Vec<usize> = order
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| i % folds != f)
            .map(|(_, t)| t)
            .collect();
        let pick = |idx: &[usize]| DMatrix::from_fn(idx.len(), x.ncols(), |r, c| x[(idx[r], c)]);
        let train_y: Vec<usize> = train.iter().map(|&t| y[t]).collect();
        let predict = fit(&pick(&train), &train_y, n_classes, config);
        let predicted = predict(&pick(&test));
        correct += test
            .iter()
            .zip(predicted)
            .filter(|(&t, p)| y[t] == *p)
            .count();
    }
    correct
}

/// Cross-validated decoding of `labels` (class indices) from `features` (trials × features).
///
/// # Panics
/// If lengths disagree or `folds < 2` (validated at the boundary).
pub fn decode(features: &DMatrix<f64>, labels: &[usize], config: &DecoderConfig) -> DecodeResult {
    let n = labels.len();
    assert_eq!(features.nrows(), n, "decode: one label per trial");
    assert!(config.folds >= 2, "decode: at least 2 folds");
    let n_classes = labels.iter().max().map_or(1, |m| m + 1);
    let mut rng = StdRng::seed_from_u64(config.seed);
    let correct = cv_correct(features, labels, n_classes, config, &mut rng);
    let accuracy = correct as f64 / n as f64;
    let (low, high) = wilson_interval(correct, n);
    let mut shuffled_acc = Vec::with_capacity(config.shuffles);
    let mut permuted = labels.to_vec();
    for _ in 0..config.shuffles {
        permuted.shuffle(&mut rng);
        shuffled_acc
            .push(cv_correct(features, &permuted, n_classes, config, &mut rng) as f64 / n as f64);
    }
    let mut sorted = shuffled_acc.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        counts[l] += 1;
    }
    DecodeResult {
        accuracy,
        accuracy_low: low,
        accuracy_high: high,
        shuffled_accuracy_mean: if sorted.is_empty() {
            f64::NAN
        } else {
            sorted.iter().sum::<f64>() / sorted.len() as f64
        },
        shuffled_accuracy_p95: if sorted.is_empty() {
            f64::NAN
        } else {
            crate::percentile(&sorted, 95.0)
        },
        p_value: (1 + shuffled_acc.iter().filter(|&&a| a >= accuracy).count()) as f64
            / (1 + shuffled_acc.len()) as f64,
        p_value_floor: 1.0 / (1 + shuffled_acc.len()) as f64,
        majority_baseline: counts.iter().copied().max().unwrap_or(0) as f64 / n as f64,
        n_trials: n,
        n_features: features.ncols(),
        n_classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn blobs(n: usize, separation: f64, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let x = DMatrix::from_fn(n, 5, |r, c| {
            let shift = if c == 0 {
                separation * (labels[r] as f64 - 0.5)
            } else {
                0.0
            };
            shift + (rng.random::<f64>() - 0.5) * 2.0
        });
        (x, labels)
    }

    #[test]
    fn separable_data_decodes_near_perfectly_and_shuffled_labels_at_chance() {
        let (x, y) = blobs(200, 6.0, 1);
        let result = decode(&x, &y, &DecoderConfig::default());
        assert!(result.accuracy > 0.97, "{result:?}");
        assert!(
            (result.shuffled_accuracy_mean - 0.5).abs() < 0.1,
            "{result:?}"
        );
        assert!(result.p_value < 0.06);
        assert!(
            result.accuracy_low < result.accuracy && result.accuracy <= result.accuracy_high + 1e-9
        );
    }

    #[test]
    fn uninformative_features_decode_at_chance() {
        let (x, y) = blobs(300, 0.0, 2);
        let result = decode(
            &x,
            &y,
            &DecoderConfig {
                shuffles: 5,
                ..Default::default()
            },
        );
        assert!((result.accuracy - 0.5).abs() < 0.1, "{result:?}");
    }

    #[test]
    fn wilson_interval_matches_reference_values() {
        // 80/100: Wilson 95% interval [0.7112, 0.8666].
        let (lo, hi) = wilson_interval(80, 100);
        assert!(
            (lo - 0.7112).abs() < 1e-3 && (hi - 0.8666).abs() < 1e-3,
            "{lo} {hi}"
        );
    }
}
