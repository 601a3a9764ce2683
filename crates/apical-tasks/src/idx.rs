//! MNIST / Fashion-MNIST from a local directory of IDX files (LeCun et al.'s format).
//!
//! The directory must hold the four standard, uncompressed files:
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte` (gunzip the `.gz` downloads first). Images are 8-bit, scaled to
//! [0, 1]; labels must be below 10.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use apical_core::InvalidParameter;

use crate::{Dataset, Split, TaskError};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The standard file names: (train images, train labels, test images, test labels).
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

crate::labelled_task_config! {
    /// An IDX data set (MNIST, Fashion-MNIST, or anything in the same layout).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct IdxConfig {
        /// Directory holding the four IDX files.
        pub path: PathBuf,
        /// Use only the first `n_train` training images (all when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub n_train: Option<usize>,
        /// Use only the first `n_test` test images (all when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub n_test: Option<usize>,
    }
}

impl IdxConfig {
    /// Checks the parameters (the files themselves are checked by [`build`](Self::build)).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if self.path.as_os_str().is_empty() {
            return Err(InvalidParameter::new(
                "path",
                "must name the directory holding the IDX files",
            ));
        }
        for (key, n) in [("n_train", self.n_train), ("n_test", self.n_test)] {
            if n == Some(0) {
                return Err(InvalidParameter::new(key, "must be at least 1"));
            }
        }
        self.subset().validate()
    }

    /// Reads and checks the four files.
    pub fn build(&self) -> Result<Split, TaskError> {
        if !self.path.is_dir() {
            return Err(TaskError::MissingFile {
                path: self.path.clone(),
                hint: "task.path must be a directory holding the four MNIST-format IDX files"
                    .into(),
            });
        }
        let train = read_pair(
            &self.path.join(FILE_NAMES[0]),
            &self.path.join(FILE_NAMES[1]),
            self.n_train,
        )?;
        let test = read_pair(
            &self.path.join(FILE_NAMES[2]),
            &self.path.join(FILE_NAMES[3]),
            self.n_test,
        )?;
        if train.n_features != test.n_features {
            return Err(TaskError::Malformed {
                path: self.path.join(FILE_NAMES[2]),
                reason: format!(
                    "test images have {} pixels, training images {}",
                    test.n_features, train.n_features
                ),
            });
        }
        self.subset().apply(
            Split {
                train,
                validation: None,
                test,
            },
            "idx",
        )
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TaskError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(TaskError::MissingFile {
            path: path.to_path_buf(),
            hint: "expected an uncompressed MNIST-format IDX file; gunzip the .gz download into this directory".into(),
        }),
        Err(source) => Err(TaskError::Io { path: path.to_path_buf(), source }),
    }
}

fn read_pair(images: &Path, labels: &Path, limit: Option<usize>) -> Result<Dataset, TaskError> {
    dataset_from_bytes(
        (&read_file(images)?, images),
        (&read_file(labels)?, labels),
        limit,
    )
}

/// A data set from the bytes of an IDX image file and its label file (the paths only name them
/// in errors), the first `limit` images when given; pixels scaled to [0, 1].
pub(crate) fn dataset_from_bytes(
    (image_bytes, images): (&[u8], &Path),
    (label_bytes, labels): (&[u8], &Path),
    limit: Option<usize>,
) -> Result<Dataset, TaskError> {
    let (n_images, rows, cols, pixels) = parse_images(image_bytes, images)?;
    let label_values = parse_labels(label_bytes, labels)?;
    if label_values.len() != n_images {
        return Err(TaskError::Malformed {
            path: labels.to_path_buf(),
            reason: format!(
                "holds {} labels but {} holds {n_images} images",
                label_values.len(),
                images.display()
            ),
        });
    }
    let n = limit.map_or(n_images, |l| l.min(n_images));
    let n_features = rows * cols;
    let inputs = pixels[..n * n_features]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect();
    let data = Dataset {
        inputs,
        n_features,
        labels: label_values[..n].to_vec(),
        n_classes: 10,
        signal: None,
        context: None,
    };
    data.assert_consistent();
    Ok(data)
}

fn header(bytes: &[u8], path: &Path, dims: usize, magic: u32) -> Result<Vec<usize>, TaskError> {
    let malformed = |reason: String| TaskError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let need = 4 + 4 * dims;
    let word = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    if bytes.len() >= 4 && word(0) != magic {
        return Err(malformed(format!(
            "magic number {:#010x}, expected {magic:#010x}",
            word(0)
        )));
    }
    if bytes.len() < need {
        return Err(malformed(format!(
            "truncated header: {} bytes, need {need}",
            bytes.len()
        )));
    }
    Ok((1..=dims).map(|i| word(i) as usize).collect())
}

/// Parses an IDX image file: `(n, rows, cols, pixels)`. `path` only names the file in errors.
pub fn parse_images(
    bytes: &[u8],
    path: &Path,
) -> Result<(usize, usize, usize, Vec<u8>), TaskError> {
    let dims = header(bytes, path, 3, IMAGES_MAGIC)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    let expected = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .unwrap_or(usize::MAX);
    let body = &bytes[16..];
    if body.len() != expected || rows == 0 || cols == 0 {
        return Err(TaskError::Malformed {
            path: path.to_path_buf(),
            reason: format!("header says {n} images of {rows}×{cols} ({expected} bytes) but the file holds {} bytes of pixels", body.len()),
        });
    }
    Ok((n, rows, cols, body.to_vec()))
}

/// Parses an IDX label file. `path` only names the file in errors.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<usize>, TaskError> {
    let n = header(bytes, path, 1, LABELS_MAGIC)?[0];
    let body = &bytes[8..];
    if body.len() != n {
        return Err(TaskError::Malformed {
            path: path.to_path_buf(),
            reason: format!("header says {n} labels but the file holds {}", body.len()),
        });
    }
    if let Some(bad) = body.iter().find(|&&l| l > 9) {
        return Err(TaskError::Malformed {
            path: path.to_path_buf(),
            reason: format!("label {bad} is not a digit class 0–9"),
        });
    }
    Ok(body.iter().map(|&l| l as usize).collect())
}

/// Encodes images as an IDX file (for tests and for exporting data sets).
pub fn encode_images(n: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    assert_eq!(pixels.len(), n * rows * cols, "encode_images: pixel count");
    let mut out = Vec::with_capacity(16 + pixels.len());
    for w in [IMAGES_MAGIC, n as u32, rows as u32, cols as u32] {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an IDX file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    for w in [LABELS_MAGIC, labels.len() as u32] {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_set(dir: &Path, n_train: usize, n_test: usize) {
        let px = |n: usize| (0..n * 4 * 4).map(|i| (i % 256) as u8).collect::<Vec<_>>();
        let lb = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
        std::fs::write(
            dir.join(FILE_NAMES[0]),
            encode_images(n_train, 4, 4, &px(n_train)),
        )
        .unwrap();
        std::fs::write(dir.join(FILE_NAMES[1]), encode_labels(&lb(n_train))).unwrap();
        std::fs::write(
            dir.join(FILE_NAMES[2]),
            encode_images(n_test, 4, 4, &px(n_test)),
        )
        .unwrap();
        std::fs::write(dir.join(FILE_NAMES[3]), encode_labels(&lb(n_test))).unwrap();
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("apical-idx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_what_it_writes() {
        let dir = temp_dir("ok");
        write_set(&dir, 12, 5);
        let split = IdxConfig {
            path: dir.clone(),
            n_train: Some(10),
            n_test: None,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
        .build()
        .unwrap();
        assert_eq!(
            (split.train.len(), split.test.len(), split.train.n_features),
            (10, 5, 16)
        );
        assert_eq!(split.train.labels[3], 3);
        assert!((split.train.inputs[17] - 17.0 / 255.0).abs() < 1e-7);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn truncated_and_garbled_files_name_the_file() {
        let dir = temp_dir("bad");
        write_set(&dir, 6, 3);
        let images = dir.join(FILE_NAMES[0]);
        let bytes = std::fs::read(&images).unwrap();
        std::fs::write(&images, &bytes[..bytes.len() - 7]).unwrap();
        let err = IdxConfig {
            path: dir.clone(),
            n_train: None,
            n_test: None,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("train-images-idx3-ubyte") && err.contains("malformed"),
            "{err}"
        );

        std::fs::write(&images, [0u8, 0, 8, 3, 0, 0]).unwrap();
        let err = IdxConfig {
            path: dir.clone(),
            n_train: None,
            n_test: None,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("train-images-idx3-ubyte") && err.contains("header"),
            "{err}"
        );

        std::fs::write(&images, encode_labels(&[1, 2])).unwrap();
        let err = IdxConfig {
            path: dir.clone(),
            n_train: None,
            n_test: None,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(err.contains("magic number"), "{err}");

        std::fs::remove_file(&images).unwrap();
        let err = IdxConfig {
            path: dir.clone(),
            n_train: None,
            n_test: None,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("not found") && err.contains("train-images-idx3-ubyte"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn label_count_must_match_images() {
        let dir = temp_dir("count");
        write_set(&dir, 6, 3);
        std::fs::write(dir.join(FILE_NAMES[3]), encode_labels(&[1, 2])).unwrap();
        let err = IdxConfig {
            path: dir.clone(),
            n_train: None,
            n_test: None,
            train_per_class: None,
            validation_per_class: None,
            subset_seed: 0,
            cv_folds: None,
            cv_fold: None,
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("t10k-labels-idx1-ubyte") && err.contains("2 labels"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
