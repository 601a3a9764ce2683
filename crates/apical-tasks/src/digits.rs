//! The UCI 8×8 handwritten digits (Alpaydin & Kaynak 1998), as shipped with scikit-learn.
//!
//! 1,797 grey-level images of 8×8 pixels (values 0–16) of the digits 0–9. The file is vendored
//! in `crates/apical-tasks/data/` with scikit-learn's BSD-3 licence note and its description;
//! it is compiled into the crate, so this task needs no files at run time.

use apical_core::{check, InvalidParameter, SeededRng};
use serde::{Deserialize, Serialize};

use crate::{Dataset, Split, TaskError};

const DIGITS_CSV: &str = include_str!("../data/digits.csv");

/// Number of images in the data set.
pub const N_IMAGES: usize = 1797;
/// Pixels per image (8 × 8).
pub const N_PIXELS: usize = 64;
/// Number of classes.
pub const N_CLASSES: usize = 10;

crate::labelled_task_config! {
    /// The digits task: a fixed, seeded train/test split.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct DigitsConfig {
        /// Fraction of the images held out for testing, in (0, 1).
        #[serde(default = "default_test_fraction")]
        pub test_fraction: f64,
        /// Seed of the train/test split (independent of the training seed, so every run of every
        /// model sees the same split by default).
        #[serde(default)]
        pub split_seed: u64,
    }
}

fn default_test_fraction() -> f64 {
    0.2
}

impl Default for DigitsConfig {
    fn default() -> Self {
        Self {
            test_fraction: default_test_fraction(),
            split_seed: 0,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
    }
}

impl DigitsConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check::in_range("test_fraction", self.test_fraction, 0.0, 1.0, true, false)?;
        self.subset().validate()
    }

    /// Builds the split. Pixels are scaled to [0, 1].
    pub fn build(&self) -> Result<Split, TaskError> {
        self.validate()?;
        let all = load_all()?;
        let n_test = ((N_IMAGES as f64) * self.test_fraction).round() as usize;
        let n_test = n_test.clamp(1, N_IMAGES - 1);
        let mut order: Vec<usize> = (0..N_IMAGES).collect();
        // Fisher–Yates with j = next_u64 mod (i + 1): the split every published digits result
        // of this project was measured on.
        let mut rng = SeededRng::for_trial(self.split_seed, u64::MAX, 0);
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let (test_idx, train_idx) = order.split_at(n_test);
        self.subset().apply(
            Split {
                train: all.subset(train_idx),
                validation: None,
                test: all.subset(test_idx),
            },
            "digits",
        )
    }
}

/// All 1,797 images, in file order, pixels scaled to [0, 1].
pub fn load_all() -> Result<Dataset, TaskError> {
    let malformed = |line_no: usize, what: &str| TaskError::Malformed {
        path: "vendored digits.csv".into(),
        reason: format!("bad {what} on line {}", line_no + 1),
    };
    let mut inputs = Vec::with_capacity(N_IMAGES * N_PIXELS);
    let mut labels = Vec::with_capacity(N_IMAGES);
    for (line_no, line) in DIGITS_CSV.lines().enumerate() {
        let mut fields = line.split(',');
        for _ in 0..N_PIXELS {
            let v: f32 = fields
                .next()
                .and_then(|f| f.trim().parse().ok())
                .ok_or_else(|| malformed(line_no, "pixel"))?;
            inputs.push(v / 16.0);
        }
        let label: usize = fields
            .next()
            .and_then(|f| f.trim().parse().ok())
            .ok_or_else(|| malformed(line_no, "label"))?;
        labels.push(label);
    }
    let data = Dataset {
        inputs,
        n_features: N_PIXELS,
        labels,
        n_classes: N_CLASSES,
        signal: None,
        context: None,
    };
    data.assert_consistent();
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_file_has_the_published_counts() {
        let all = load_all().unwrap();
        assert_eq!(all.len(), N_IMAGES);
        let mut per_class = [0usize; N_CLASSES];
        for &l in &all.labels {
            per_class[l] += 1;
        }
        // Class sizes of the UCI test set as documented by scikit-learn (digits.rst).
        assert_eq!(
            per_class,
            [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        assert!(all.inputs.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn split_is_fixed_by_its_seed_and_disjoint() {
        let a = DigitsConfig::default().build().unwrap();
        let b = DigitsConfig::default().build().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.test.len(), 359);
        assert_eq!(a.train.len() + a.test.len(), N_IMAGES);
        let c = DigitsConfig {
            split_seed: 1,
            ..Default::default()
        }
        .build()
        .unwrap();
        assert_ne!(a.test.labels, c.test.labels);
    }

    #[test]
    fn impossible_fraction_is_refused() {
        let err = DigitsConfig {
            test_fraction: 1.5,
            split_seed: 0,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
        .build()
        .unwrap_err();
        assert!(err.to_string().contains("test_fraction"), "{err}");
    }
}
