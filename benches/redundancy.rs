//! The redundancy analysis at recording scale: 256 units × 2,000 trials (5 signal levels incl.
//! zero-signal), 1,000 random subsets of 32 units, Liu et al. estimator.
//!
//! ```text
//! cargo bench --profile dev -p apical-benches --bench redundancy
//! ```

use apical::analysis::{subset_fisher, FisherMethod, PopulationMoments};
use apical::nn::SeededRng;
use nalgebra::DMatrix;

fn main() {
    divan::main();
}

fn population() -> (DMatrix<f64>, Vec<f64>) {
    let (units, per_level) = (256, 400);
    let levels = [-12.0, -6.0, 0.0, 6.0, 12.0];
    let mut rng = SeededRng::new(0);
    let slope: Vec<f64> = (0..units).map(|_| 0.01 + 0.02 * rng.uniform()).collect();
    let signal: Vec<f64> = levels
        .iter()
        .flat_map(|&l| std::iter::repeat_n(l, per_level))
        .collect();
    let responses = DMatrix::from_fn(signal.len(), units, |t, u| {
        slope[u] * signal[t] + rng.normal()
    });
    (responses, signal)
}

/// Moments of the whole population plus 1,000 subsets of 32 units.
#[divan::bench(sample_count = 10)]
fn redundancy_256_units_2000_trials_1000_subsets_of_32(bencher: divan::Bencher) {
    let (responses, signal) = population();
    let all: Vec<usize> = (0..signal.len()).collect();
    bencher.bench(|| {
        let moments = PopulationMoments::new(&responses, &signal, &all);
        subset_fisher(&moments, &moments, FisherMethod::Liu, 32, 1000, 0).expect("enough trials")
    });
}
