//! The layout of a run directory, in one place: every file and folder name a run writes and
//! every reader (resume, `apical analyze`, `apical record`, sweeps, `apical fewshot`,
//! `apical collect`) looks for. Nothing else spells these names.
//!
//! ```text
//! <run>/
//!   config.toml            the resolved config
//!   summary.json           written last: a complete one marks a finished run
//!   metrics.csv            evaluations (supervised) or one row per day (closed loop)
//!   diagnostics.csv        rule-vs-backprop angles
//!   dendrites.csv          apical magnitude and residual statistics
//!   trials.csv             closed loop: one row per trial
//!   calibration.json       closed loop: the baseline block's calibration
//!   ensembles.npy          closed loop: +1 P+ / −1 P− / 0 P0 per unit
//!   events.out.tfevents.*  TensorBoard
//!   activity/              the recording at the end of the run
//!   activity/step-<n>/     recordings during learning (n zero-padded to 8 digits)
//!   activity/day-<NN>/     closed loop: one day's recordings (NN from 01)
//!   plots/                 PNG and SVG figures
//!   analysis/              what `apical analyze <run>` writes
//!   checkpoints/step-<n>/  what `apical resume` continues from
//!   checkpoints/damaged-step-<n>/  a damaged checkpoint resume set aside
//!   record.json            `apical record`: what the directory was re-recorded from
//!   .lock                  held while a process writes the directory
//! ```

use std::path::{Path, PathBuf};

/// File names inside a recording folder (`activity/`, `activity/step-<n>/`). The network's
/// own arrays are named by the network (`hidden_<l>`, `layer<l>_<compartment>`) plus `.npy`.
pub mod recording_files {
    /// Output units' logits, `[trials, classes]`.
    pub const LOGITS: &str = "logits.npy";
    /// Class labels, `[trials]`.
    pub const LABELS: &str = "labels.npy";
    /// Signed signal levels (perceptual tasks), `[trials]`.
    pub const SIGNAL: &str = "signal.npy";
    /// Context indices (perceptual tasks), `[trials]`.
    pub const CONTEXT: &str = "context.npy";
    /// The prefix of the hidden layers' final rates, `hidden_<l>.npy`.
    pub const HIDDEN_PREFIX: &str = HIDDEN_STEM;
    /// The stem of the hidden layers' arrays, `hidden_<l>`.
    pub const HIDDEN_STEM: &str = "hidden_";
    /// The end of a per-step rate array's name, `layer<l>_rate`.
    pub const RATE_SUFFIX: &str = "_rate";
    /// The ending of every array file.
    pub const NPY: &str = ".npy";
    /// The frozen-noise recording inside a recording folder (`logging.frozen_images`): the
    /// rates on repeated zero-signal images, with `context.npy` and [`IMAGE`].
    pub const FROZEN_DIR: &str = "frozen";
    /// The image each frozen-noise trial showed, `[trials]` (trials of one image are
    /// identical stimuli, noise included).
    pub const IMAGE: &str = "image.npy";

    /// `hidden_<layer>.npy`: the final rates of hidden layer `layer`, `[trials, units]`.
    pub fn hidden(layer: usize) -> String {
        format!("{HIDDEN_STEM}{layer}{NPY}")
    }

    /// `layer<layer>_rate.npy`: the rates at every step of inference, `[trials, steps, units]`.
    pub fn layer_rate(layer: usize) -> String {
        format!("layer{layer}{RATE_SUFFIX}{NPY}")
    }

    /// The file of a recorded array named `name`.
    pub fn array(name: &str) -> String {
        format!("{name}{NPY}")
    }
}

/// The first line of the `config.toml` that `apical record` writes (before anything else).
pub const RECORDING_MARKER: &str =
    "# written by `apical record`: re-recordings of a trained network, not a training run\n";

/// The file stems of the figures under `plots/` (each written as `.png` and `.svg`).
pub mod plot_names {
    /// Supervised runs: loss and accuracy along training.
    pub const LEARNING_CURVE: &str = "learning_curve";
    /// Closed-loop runs (and `apical analyze` on them): success per day.
    pub const SUCCESS_BY_DAY: &str = "success_by_day";
    /// Perceptual runs: test accuracy against the signal level, with the ideal observer's.
    pub const PSYCHOMETRIC: &str = "psychometric";
}

/// File names inside a closed-loop day folder (`activity/day-NN/`).
pub mod day_files {
    /// Per unit, `[trials, max_steps, units]`, NaN after a trial ended.
    pub const UNIT_ARRAYS: [&str; 4] = ["basal", "apical", "rate", "residual"];
    /// Per step, `[trials, max_steps]`, NaN after a trial ended.
    pub const STEP_ARRAYS: [&str; 4] = ["decoder", "angle", "error", "error_change"];
    /// 1 where a step ran, `[trials, max_steps]`.
    pub const MASK: &str = "mask.npy";
    /// The apical compartment.
    pub const APICAL: &str = "apical.npy";
    /// The rates.
    pub const RATE: &str = "rate.npy";
    /// The cursor's error.
    pub const ERROR: &str = "error.npy";
    /// The error's change per step.
    pub const ERROR_CHANGE: &str = "error_change.npy";
}

/// A run directory: the paths of everything in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

const STEP_PREFIX: &str = "step-";
const DAY_PREFIX: &str = "day-";

/// The name of the folder of step `step` (`step-<n>`, zero-padded to 8 digits so that names
/// sort by step): recordings during learning and checkpoints.
pub fn step_name(step: usize) -> String {
    format!("{STEP_PREFIX}{step:08}")
}

/// The step of a `step-<n>` folder name.
pub fn parse_step_name(name: &str) -> Option<usize> {
    name.strip_prefix(STEP_PREFIX)?.parse().ok()
}

/// The name of the folder of closed-loop day `day` (0-based; `day-01` is the first).
pub fn day_name(day: usize) -> String {
    format!("{DAY_PREFIX}{:02}", day + 1)
}

/// `(step, path)` of every `step-<n>` folder in `dir`, by step; an absent `dir` has none.
pub fn list_steps(dir: &Path) -> std::io::Result<Vec<(usize, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out: Vec<(usize, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let step = parse_step_name(&e.file_name().to_string_lossy())?;
            Some((step, e.path()))
        })
        .collect();
    out.sort();
    Ok(out)
}

impl RunDir {
    /// The run directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`: the resolved config.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `summary.json`: written last.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }

    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }

    /// `diagnostics.csv`.
    pub fn diagnostics(&self) -> PathBuf {
        self.root.join("diagnostics.csv")
    }

    /// `dendrites.csv`.
    pub fn dendrites(&self) -> PathBuf {
        self.root.join("dendrites.csv")
    }

    /// `trials.csv` (closed loop).
    pub fn trials(&self) -> PathBuf {
        self.root.join("trials.csv")
    }

    /// `calibration.json` (closed loop).
    pub fn calibration(&self) -> PathBuf {
        self.root.join("calibration.json")
    }

    /// `ensembles.npy` (closed loop).
    pub fn ensembles(&self) -> PathBuf {
        self.root.join("ensembles.npy")
    }

    /// `activity/`: the recording at the end of the run.
    pub fn activity(&self) -> PathBuf {
        self.root.join("activity")
    }

    /// `activity/step-<n>/`: the recording made at training step `step`.
    pub fn recording(&self, step: usize) -> PathBuf {
        self.activity().join(step_name(step))
    }

    /// The hidden folder a recording of `step` is written into before it is renamed into place.
    pub fn recording_temporary(&self, step: usize) -> PathBuf {
        self.activity().join(format!(".{}.tmp", step_name(step)))
    }

    /// `(step, path)` of every recording made during learning, by step.
    pub fn recordings(&self) -> std::io::Result<Vec<(usize, PathBuf)>> {
        list_steps(&self.activity())
    }

    /// `activity/day-NN/`: the recordings of closed-loop day `day` (0-based).
    pub fn day(&self, day: usize) -> PathBuf {
        self.activity().join(day_name(day))
    }

    /// Whether the directory was written by the closed loop (a calibration or a first day).
    pub fn is_closed_loop(&self) -> bool {
        self.calibration().exists() || self.day(0).exists()
    }

    /// Every `activity/day-*` folder, sorted by name.
    pub fn days(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut days: Vec<PathBuf> = std::fs::read_dir(self.activity())?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(DAY_PREFIX))
            })
            .collect();
        days.sort();
        Ok(days)
    }

    /// `plots/`.
    pub fn plots(&self) -> PathBuf {
        self.root.join("plots")
    }

    /// `analysis/`: what `apical analyze <run>` writes.
    pub fn analysis(&self) -> PathBuf {
        self.root.join("analysis")
    }

    /// `analysis/analysis.json`.
    pub fn analysis_json(&self) -> PathBuf {
        self.analysis().join("analysis.json")
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// `checkpoints/step-<n>/`.
    pub fn checkpoint(&self, step: usize) -> PathBuf {
        self.checkpoints().join(step_name(step))
    }

    /// `.lock`.
    pub fn lock(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// `checkpoints/damaged-<name>`: where resume sets aside the damaged checkpoint `name`.
    pub fn set_aside_checkpoint(&self, name: &str) -> PathBuf {
        self.checkpoints().join(format!("damaged-{name}"))
    }

    /// Whether `apical record` wrote this directory (a re-recording, not a training run): it
    /// has `record.json`, or — when the recording was stopped before that was written — a
    /// `config.toml` that starts with [`RECORDING_MARKER`].
    pub fn is_recording(&self) -> bool {
        self.record_json().is_file()
            || std::fs::read_to_string(self.config())
                .is_ok_and(|text| text.starts_with(RECORDING_MARKER))
    }

    /// `record.json`: what `apical record` wrote the directory from.
    pub fn record_json(&self) -> PathBuf {
        self.root.join("record.json")
    }

    /// Removes the hidden temporaries an interrupted write left (`.<name>.tmp-<pid>` files,
    /// `.step-<n>.tmp` recordings) in the directory, `activity/`, `plots/` and `analysis/`.
    /// (Checkpoints clean their own folder.)
    pub fn remove_temporaries(&self) {
        for sub in [
            self.root.clone(),
            self.activity(),
            self.plots(),
            self.analysis(),
        ] {
            if let Ok(entries) = std::fs::read_dir(&sub) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') && name.contains(".tmp-") {
                        let _ = std::fs::remove_file(e.path());
                    } else if name.starts_with(&format!(".{STEP_PREFIX}")) && name.ends_with(".tmp")
                    {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_day_names_round_trip_and_sort_by_number() {
        assert_eq!(step_name(42), "step-00000042");
        assert_eq!(parse_step_name(&step_name(42)), Some(42));
        assert_eq!(parse_step_name("step-x"), None);
        assert_eq!(parse_step_name("day-01"), None);
        assert!(step_name(9) < step_name(10));
        assert_eq!(day_name(0), "day-01");
        assert!(day_name(8) < day_name(9));
        let run = RunDir::new("r");
        assert_eq!(run.recording(3), Path::new("r/activity/step-00000003"));
        assert_eq!(run.checkpoint(3), Path::new("r/checkpoints/step-00000003"));
        assert_eq!(run.day(0), Path::new("r/activity/day-01"));
    }
}
