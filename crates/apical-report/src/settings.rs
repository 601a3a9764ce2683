//! The settings of `apical analyze <run-dir>`.

use serde::Serialize;

/// The settings of `apical analyze <run-dir>`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunAnalysisSettings {
    /// Largest unit-subset size for the Fisher information (capped by the active units and the
    /// zero-signal trials).
    pub subset_size: usize,
    /// Number of random subsets.
    pub subsets: usize,
    /// Label shuffles of the decoder's control.
    pub shuffles: usize,
    /// Seed of subsets, folds and shuffles.
    pub seed: u64,
}

impl Default for RunAnalysisSettings {
    fn default() -> Self {
        Self {
            subset_size: 32,
            subsets: 200,
            shuffles: 19,
            seed: 0,
        }
    }
}
