//! MNIST-10k (`task.kind = "mnist"`): 10,000 real MNIST digits vendored with apical and compiled
//! into it — a fixed split of 8,000 training images (663–927 per class) and 2,000 test images
//! (200 per class), classes interleaved so that the first N images hold every class. Origin,
//! licences, the conversion and the files' SHA-256:
//! `crates/apical-tasks/data/mnist10k/README.md`. The same subset and validation keys as every
//! labelled task; `n_train` / `n_test` take the first images of each set.

use std::path::Path;

use serde::{Deserialize, Serialize};

use apical_core::InvalidParameter;

use crate::idx::{dataset_from_bytes, parse_images, FILE_NAMES};
use crate::{Split, TaskError};

const TRAIN_IMAGES: &[u8] = include_bytes!("../data/mnist10k/train-images-idx3-ubyte");
const TRAIN_LABELS: &[u8] = include_bytes!("../data/mnist10k/train-labels-idx1-ubyte");
const TEST_IMAGES: &[u8] = include_bytes!("../data/mnist10k/t10k-images-idx3-ubyte");
const TEST_LABELS: &[u8] = include_bytes!("../data/mnist10k/t10k-labels-idx1-ubyte");

/// Training images in the vendored set.
pub const N_TRAIN: usize = 8_000;
/// Test images in the vendored set (200 per class).
pub const N_TEST: usize = 2_000;

crate::labelled_task_config! {
    /// `[task]` with `kind = "mnist"`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct MnistConfig {
        /// Use only the first `n_train` training images (all 8,000 when absent; classes are
        /// interleaved, so the first images hold every class).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub n_train: Option<usize>,
        /// Use only the first `n_test` test images (all 2,000 when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub n_test: Option<usize>,
    }
}

impl MnistConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        for (key, n, max) in [
            ("n_train", self.n_train, N_TRAIN),
            ("n_test", self.n_test, N_TEST),
        ] {
            if let Some(n) = n {
                if n == 0 || n > max {
                    return Err(InvalidParameter::new(
                        key,
                        format!("must be between 1 and {max} (the vendored set), got {n}"),
                    ));
                }
            }
        }
        self.subset().validate()
    }

    /// The split, from the vendored files. Pixels are scaled to [0, 1].
    pub fn build(&self) -> Result<Split, TaskError> {
        self.validate()?;
        let name = |i: usize| Path::new("mnist10k").join(FILE_NAMES[i]);
        let train = dataset_from_bytes(
            (TRAIN_IMAGES, &name(0)),
            (TRAIN_LABELS, &name(1)),
            self.n_train,
        )?;
        let test = dataset_from_bytes(
            (TEST_IMAGES, &name(2)),
            (TEST_LABELS, &name(3)),
            self.n_test,
        )?;
        self.subset().apply(
            Split {
                train,
                validation: None,
                test,
            },
            "mnist",
        )
    }
}

#[cfg(test)]
mod overlap_tests {
    use super::*;
    use crate::idx::encode_images;

    #[test]
    fn the_overlap_is_counted_image_by_image() {
        let dir = std::env::temp_dir().join(format!("apical-overlap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (_, _, _, train) = parse_images(TRAIN_IMAGES, Path::new("t")).unwrap();
        let (_, _, _, test) = parse_images(TEST_IMAGES, Path::new("t")).unwrap();
        // "Official" training set: 5 vendored training images + 3 vendored test images + a blank;
        // "official" test set: 2 vendored training images.
        let mut official_train = train[..5 * 784].to_vec();
        official_train.extend_from_slice(&test[..3 * 784]);
        official_train.extend_from_slice(&[7u8; 784]);
        let official_test = train[10 * 784..12 * 784].to_vec();
        std::fs::write(
            dir.join(FILE_NAMES[0]),
            encode_images(9, 28, 28, &official_train),
        )
        .unwrap();
        std::fs::write(
            dir.join(FILE_NAMES[2]),
            encode_images(2, 28, 28, &official_test),
        )
        .unwrap();
        let o = overlap_with(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // (MNIST-10k holds a few exact duplicates, so count with ≥ where an image may repeat.)
        assert!(o.in_official_train >= 8, "{o:?}");
        assert!(o.in_official_test >= 2, "{o:?}");
        assert!(o.vendored_test_in_official_train >= 3, "{o:?}");
        assert_eq!(
            o.in_official_train + o.in_official_test + o.in_neither,
            10_000,
            "{o:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_set_has_its_documented_split() {
        let split = MnistConfig::default().build().unwrap();
        assert_eq!((split.train.len(), split.test.len()), (N_TRAIN, N_TEST));
        assert_eq!(split.train.n_features, 784);
        let count = |labels: &[usize], c: usize| labels.iter().filter(|&&l| l == c).count();
        // Per class: 200 test images, the rest of the package's file for training.
        let per_class = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        for (c, &total) in per_class.iter().enumerate() {
            assert_eq!(count(&split.test.labels, c), 200, "class {c}");
            assert_eq!(count(&split.train.labels, c), total - 200, "class {c}");
        }
        // Real digits: grey values in [0, 1] with mostly black background and some full ink.
        let ink = split.train.inputs.iter().filter(|&&v| v > 0.5).count() as f64
            / split.train.inputs.len() as f64;
        assert!(ink > 0.05 && ink < 0.25, "{ink}");
        assert!(split.train.inputs.iter().all(|&v| (0.0..=1.0).contains(&v)));
        // Classes interleaved: the first 20 images of each set hold every class twice.
        for labels in [&split.train.labels, &split.test.labels] {
            assert_eq!(
                labels[..20],
                [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
            );
        }
    }

    #[test]
    fn subsets_and_sizes_are_checked() {
        let few = MnistConfig {
            train_per_class: Some(5),
            validation_per_class: Some(10),
            ..MnistConfig::default()
        }
        .build()
        .unwrap();
        assert_eq!(few.train.len(), 50);
        assert_eq!(few.validation.as_ref().map(|v| v.len()), Some(100));
        let too_many = MnistConfig {
            train_per_class: Some(700),
            ..MnistConfig::default()
        };
        assert!(too_many.build().is_err(), "class 5 has 663 training images");
        let err = MnistConfig {
            n_test: Some(5000),
            ..MnistConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.key, "n_test");
    }
}

/// How many of MNIST-10k's images (byte for byte) are in a full MNIST set a user has fetched.
/// The counts overlap where an image is in both official sets (the three sum to 10,000 or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// Vendored images (training and test alike) found in the official training images.
    pub in_official_train: usize,
    /// Vendored images found in the official test images.
    pub in_official_test: usize,
    /// Vendored images in neither.
    pub in_neither: usize,
    /// Vendored test images (the 2,000 of the fixed split) found in the official training set:
    /// a model trained on full MNIST has seen them.
    pub vendored_test_in_official_train: usize,
}

/// Compares MNIST-10k's 10,000 images with the uncompressed IDX image files of a full MNIST set
/// in `dir` (`train-images-idx3-ubyte`, `t10k-images-idx3-ubyte`, as `apical data fetch mnist`
/// leaves them), image by image on the exact bytes.
pub fn overlap_with(dir: &Path) -> Result<Overlap, TaskError> {
    use std::collections::HashSet;
    let official = |i: usize| -> Result<HashSet<Vec<u8>>, TaskError> {
        let path = dir.join(FILE_NAMES[i]);
        let bytes = std::fs::read(&path).map_err(|source| TaskError::Io {
            path: path.clone(),
            source,
        })?;
        let (_, rows, cols, pixels) = parse_images(&bytes, &path)?;
        Ok(pixels.chunks(rows * cols).map(<[u8]>::to_vec).collect())
    };
    let (train, test) = (official(0)?, official(2)?);
    let vendored = |bytes: &[u8], i: usize| -> Result<Vec<Vec<u8>>, TaskError> {
        let (_, rows, cols, pixels) =
            parse_images(bytes, &Path::new("mnist10k").join(FILE_NAMES[i]))?;
        Ok(pixels.chunks(rows * cols).map(<[u8]>::to_vec).collect())
    };
    let ours_train = vendored(TRAIN_IMAGES, 0)?;
    let ours_test = vendored(TEST_IMAGES, 2)?;
    let mut overlap = Overlap {
        in_official_train: 0,
        in_official_test: 0,
        in_neither: 0,
        vendored_test_in_official_train: 0,
    };
    for (k, image) in ours_train.iter().chain(&ours_test).enumerate() {
        let (a, b) = (train.contains(image), test.contains(image));
        overlap.in_official_train += a as usize;
        overlap.in_official_test += b as usize;
        overlap.in_neither += (!a && !b) as usize;
        if k >= ours_train.len() && a {
            overlap.vendored_test_in_official_train += 1;
        }
    }
    Ok(overlap)
}
