//! Closed-form checks: populations with known Fisher information.

use super::*;
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `trials` draws of N(mean, cov), row-major.
fn sample(mean: &DVector<f64>, cov: &DMatrix<f64>, trials: usize, rng: &mut StdRng) -> Vec<f64> {
    let l = cov.clone().cholesky().expect("positive definite").l();
    let n = mean.len();
    let mut out = Vec::with_capacity(trials * n);
    for _ in 0..trials {
        let z = DVector::from_iterator(n, (0..n).map(|_| normal(rng)));
        let x = mean + &l * z;
        out.extend(x.iter());
    }
    out
}

struct Population {
    fprime: DVector<f64>,
    cov: DMatrix<f64>,
}

impl Population {
    fn independent(n: usize) -> Self {
        let fprime = DVector::from_iterator(n, (0..n).map(|i| 0.5 + 0.1 * (i % 5) as f64));
        let cov = DMatrix::from_diagonal(&DVector::from_iterator(
            n,
            (0..n).map(|i| 1.0 + 0.2 * (i % 3) as f64),
        ));
        Self { fprime, cov }
    }

    fn truth(&self) -> f64 {
        let solved = self.cov.clone().cholesky().unwrap().solve(&self.fprime);
        self.fprime.dot(&solved)
    }

    fn shuffled_truth(&self) -> f64 {
        (0..self.fprime.len())
            .map(|i| self.fprime[i].powi(2) / self.cov[(i, i)])
            .sum()
    }

    /// Trials at s0 ∓ ds/2 (means ∓ f′·ds/2).
    fn draw(&self, ds: f64, trials: usize, rng: &mut StdRng) -> (Vec<f64>, Vec<f64>) {
        let half = &self.fprime * (ds / 2.0);
        let minus = sample(&(-half.clone()), &self.cov, trials, rng);
        let plus = sample(&half, &self.cov, trials, rng);
        (minus, plus)
    }
}

#[test]
fn independent_population_information_is_the_sum_and_redundancy_is_zero() {
    let pop = Population::independent(10);
    let mut rng = StdRng::seed_from_u64(1);
    let (minus, plus) = pop.draw(1.0, 20_000, &mut rng);
    let n = 10;
    let est = fisher_kanitscheider(
        Responses {
            data: &minus,
            units: n,
        },
        Responses {
            data: &plus,
            units: n,
        },
        1.0,
    )
    .unwrap();
    let truth = pop.shuffled_truth();
    assert!(
        (est.fisher - truth).abs() < 0.03 * truth,
        "I = {} vs Σ f′²/σ² = {truth}",
        est.fisher
    );
    assert!((est.fisher_shuffled - truth).abs() < 0.03 * truth);
    assert!(
        est.redundancy_percent.unwrap().abs() < 2.0,
        "redundancy {:?}%",
        est.redundancy_percent
    );
}

#[test]
fn differential_correlations_limit_information_to_the_closed_form() {
    // Σ = Σ₀ + ε f′f′ᵀ ⇒ I = I₀/(1 + ε I₀) (Moreno-Bote et al. 2014).
    let base = Population::independent(12);
    let i0 = base.truth();
    let eps = 0.1;
    let cov = &base.cov + &base.fprime * base.fprime.transpose() * eps;
    let pop = Population {
        fprime: base.fprime.clone(),
        cov,
    };
    let expected = i0 / (1.0 + eps * i0);
    assert!(
        (pop.truth() - expected).abs() < 1e-9 * expected,
        "closed form sanity"
    );
    let mut rng = StdRng::seed_from_u64(2);
    let (minus, plus) = pop.draw(1.0, 40_000, &mut rng);
    let est = fisher_kanitscheider(
        Responses {
            data: &minus,
            units: 12,
        },
        Responses {
            data: &plus,
            units: 12,
        },
        1.0,
    )
    .unwrap();
    assert!(
        (est.fisher - expected).abs() < 0.05 * expected,
        "I = {} vs I₀/(1 + εI₀) = {expected}",
        est.fisher
    );
    let shuffled = pop.shuffled_truth();
    let redundancy = 100.0 * (shuffled - expected) / shuffled;
    assert!(
        (est.redundancy_percent.unwrap() - redundancy).abs() < 3.0,
        "redundancy {:?} vs {redundancy}",
        est.redundancy_percent
    );
    assert!(
        redundancy > 20.0,
        "the test population is substantially redundant ({redundancy}%)"
    );
}

#[test]
fn bias_correction_removes_the_small_sample_bias() {
    // 20 units, 40 trials per stimulus: the naive estimate is inflated by (2T−2)/(2T−N−3) ≈ 1.4.
    let pop = Population::independent(20);
    let truth = pop.truth();
    let mut rng = StdRng::seed_from_u64(3);
    let (mut corrected, mut naive) = (0.0, 0.0);
    let reps = 400;
    for _ in 0..reps {
        let (minus, plus) = pop.draw(1.0, 40, &mut rng);
        let est = fisher_kanitscheider(
            Responses {
                data: &minus,
                units: 20,
            },
            Responses {
                data: &plus,
                units: 20,
            },
            1.0,
        )
        .unwrap();
        corrected += est.fisher / reps as f64;
        naive += est.fisher_naive / reps as f64;
    }
    assert!(
        (corrected - truth).abs() < 0.05 * truth,
        "mean corrected {corrected} vs truth {truth}"
    );
    assert!(
        (naive - truth).abs() > 0.2 * truth,
        "mean naive {naive} vs truth {truth}"
    );
}

#[test]
fn liu_variant_matches_the_truth_with_covariance_from_zero_signal_trials() {
    let base = Population::independent(8);
    let cov = &base.cov + &base.fprime * base.fprime.transpose() * 0.2;
    let pop = Population {
        fprime: base.fprime.clone(),
        cov,
    };
    let truth = pop.truth();
    let mut rng = StdRng::seed_from_u64(4);
    let zero_mean = DVector::zeros(8);
    let mut mean_est = 0.0;
    let reps = 200;
    for _ in 0..reps {
        let zero = sample(&zero_mean, &pop.cov, 60, &mut rng);
        let (minus, plus) = pop.draw(1.0, 30, &mut rng);
        let est = fisher_liu(
            Responses {
                data: &zero,
                units: 8,
            },
            Responses {
                data: &minus,
                units: 8,
            },
            Responses {
                data: &plus,
                units: 8,
            },
            1.0,
        )
        .unwrap();
        mean_est += est.fisher / reps as f64;
    }
    assert!(
        (mean_est - truth).abs() < 0.05 * truth,
        "mean Liu estimate {mean_est} vs truth {truth}"
    );
}

#[test]
fn too_few_trials_and_singular_covariance_are_errors_not_nan() {
    fn r(d: &[f64]) -> Responses<'_> {
        Responses { data: d, units: 4 }
    }
    let zero = vec![0.0; 5 * 4];
    let small = [1.0, 2.0, 3.0, 4.0, 1.5, 2.5, 3.5, 4.5];
    let err = fisher_liu(r(&zero), r(&small), r(&small), 1.0).unwrap_err();
    assert!(
        matches!(err, FisherError::TooFewTrials { needed: 8, .. }),
        "{err}"
    );
    // A unit that never varies.
    let mut rng = StdRng::seed_from_u64(5);
    let mut flat: Vec<f64> = (0..40 * 4).map(|_| normal(&mut rng)).collect();
    for row in flat.chunks_mut(4) {
        row[2] = 1.0;
    }
    let err = fisher_liu(r(&flat), r(&small), r(&small), 1.0).unwrap_err();
    assert_eq!(err, FisherError::SingularCovariance);
    assert!(matches!(
        fisher_liu(r(&flat), r(&small), r(&small), 0.0),
        Err(FisherError::BadDs(_))
    ));
    // A unit that copies another up to rounding-sized noise (1 − R² ≈ 1e-8): numerically
    // singular, refused; with a real private part (1 − R² ≈ 1e-2) it is estimated.
    for (jitter, singular) in [(1e-4, true), (0.1, false)] {
        let copy: Vec<f64> = flat
            .chunks(4)
            .flat_map(|row| {
                let mut row = row.to_vec();
                row[2] = row[0] + jitter * normal(&mut rng);
                row
            })
            .collect();
        let result = fisher_liu(r(&copy), r(&small), r(&small), 1.0);
        assert_eq!(
            matches!(result, Err(FisherError::SingularCovariance)),
            singular,
            "jitter {jitter}: {result:?}"
        );
    }
}

/// The Liu variant's reported variance against the empirical variance of the estimate over
/// simulated populations (Σ₀ from T0 zero-signal trials, f′ from T1 = T2 = T0 trials at ±ds/2).
fn liu_variance_matches_monte_carlo(n: usize, t0: usize, scale: f64, repeats: usize, seed: u64) {
    let base = Population::independent(n);
    // Correlated noise: Σ = D + 0.3·uuᵀ, so the covariance matters.
    let u = DVector::from_iterator(n, (0..n).map(|i| ((i as f64) * 0.7).sin()));
    let pop = Population {
        fprime: &base.fprime * scale,
        cov: &base.cov + &u * u.transpose() * 0.3,
    };
    let truth = pop.truth();
    let zero_mean = DVector::zeros(n);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut estimates = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let zero = sample(&zero_mean, &pop.cov, t0, &mut rng);
        let (minus, plus) = pop.draw(1.0, t0, &mut rng);
        let (_, cov0) = mean_and_covariance(&DMatrix::from_row_slice(t0, n, &zero));
        let (m1, _) = mean_and_covariance(&DMatrix::from_row_slice(t0, n, &minus));
        let (m2, _) = mean_and_covariance(&DMatrix::from_row_slice(t0, n, &plus));
        let fprime = m2 - m1;
        estimates.push(
            liu_from_moments(&cov0, t0, &fprime, t0, t0, 1.0)
                .unwrap()
                .fisher,
        );
    }
    let r = repeats as f64;
    let mean = estimates.iter().sum::<f64>() / r;
    let empirical = estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (r - 1.0);
    let (tf, nf) = (t0 as f64, n as f64);
    let reported = liu_variance(truth, tf, tf, tf, nf, 1.0);
    let ratio = reported / empirical;
    assert!(
        (ratio - 1.0).abs() < 0.15,
        "N = {n}, T0 = {t0}, I = {truth:.2}: reported {reported:.3} vs empirical {empirical:.3} (ratio {ratio:.3})"
    );
    // Unbiased, as the correction promises (within 4 standard errors of the mean).
    assert!(
        (mean - truth).abs() < 4.0 * (empirical / r).sqrt(),
        "mean {mean:.3} vs truth {truth:.3}"
    );
    // The old formula (Kanitscheider's 2T − N − 5 with T = T0) underestimates it.
    let old = fisher_variance(truth, tf, nf, 1.0);
    eprintln!(
        "N = {n}, T0 = {t0}, I = {truth:.2}: reported/empirical {ratio:.3}, old formula/empirical {:.3}",
        old / empirical
    );
    assert!(old < empirical, "old {old:.3} vs empirical {empirical:.3}");
}

#[test]
fn liu_variance_matches_monte_carlo_at_n10_t40() {
    liu_variance_matches_monte_carlo(10, 40, 0.5, 2000, 11);
    liu_variance_matches_monte_carlo(10, 40, 2.0, 2000, 12);
}

#[test]
fn liu_variance_matches_monte_carlo_at_n30_t80() {
    liu_variance_matches_monte_carlo(30, 80, 0.5, 1000, 13);
    liu_variance_matches_monte_carlo(30, 80, 1.5, 1000, 14);
}

#[test]
fn redundancy_is_null_with_a_reason_when_the_shuffled_information_is_not_positive() {
    assert_eq!(redundancy_percent(1.0, -0.5), None);
    assert_eq!(redundancy_percent(1.0, 0.0), None);
    assert_eq!(redundancy_note(1.0, 0.0), Some(REDUNDANCY_UNDEFINED));
    assert_eq!(redundancy_percent(1.0, 2.0), Some(50.0));
    assert_eq!(redundancy_note(1.0, 2.0), None);
    // An estimate from pure noise (no tuning) often has I_shuf ≤ 0: it is then null, never a
    // sign-flipped percentage.
    let n = 5;
    let cov = DMatrix::<f64>::identity(n, n);
    let fprime = DVector::zeros(n);
    let e = liu_from_moments(&cov, 40, &fprime, 40, 40, 1.0).unwrap();
    assert!(e.fisher_shuffled <= 0.0);
    assert_eq!(e.redundancy_percent, None);
    let json = serde_json::to_value(e).unwrap();
    assert!(json["redundancy_percent"].is_null());
    assert!(json["redundancy_note"].as_str().unwrap().contains("≤ 0"));
}
