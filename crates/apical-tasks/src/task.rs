//! The task a config names (`[task]`, `kind = …`): one variant per task, each holding that
//! task's own config. Adding a task = its file here + one variant.

use apical_core::InvalidParameter;
use serde::{Deserialize, Serialize};

use crate::digits::DigitsConfig;
use crate::idx::IdxConfig;
use crate::orientation::OrientationConfig;
use crate::{Split, TaskError};

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
}

impl TaskConfig {
    /// The config name of the task kind.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskConfig::Digits(_) => "digits",
            TaskConfig::Orientation(_) => "orientation",
            TaskConfig::Idx(_) => "idx",
        }
    }

    /// Checks the task's parameters (the key is relative to `[task]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        match self {
            TaskConfig::Digits(c) => c.validate(),
            TaskConfig::Orientation(c) => c.validate(),
            TaskConfig::Idx(c) => c.validate(),
        }
    }

    /// Builds the train and test sets. Fails on missing or malformed data files.
    pub fn build(&self) -> Result<Split, TaskError> {
        match self {
            TaskConfig::Digits(c) => c.build(),
            TaskConfig::Orientation(c) => c.build(),
            TaskConfig::Idx(c) => c.build(),
        }
    }
}
