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
    /// Most trials the label decoder of a recording is fitted on (a random subset drawn from
    /// `seed` when a recording has more): the decoder is the costly part of a large probe
    /// (≈ 40 s of a 16,000-trial recording), and its accuracy needs far fewer trials than the
    /// Fisher information. 0: every trial.
    pub decode_trials: usize,
    /// Bootstrap replicates over probe trials of the engagement contrasts (`--passive`).
    pub bootstrap: usize,
}

impl Default for RunAnalysisSettings {
    fn default() -> Self {
        Self {
            subset_size: 32,
            subsets: 200,
            shuffles: 19,
            seed: 0,
            decode_trials: 2000,
            bootstrap: 200,
        }
    }
}
