//! Checkpoints: `checkpoints/step-NNNNNNNN/` holding the network (burnpack record), the
//! optimizer state and the loop state. A checkpoint directory is written under a temporary name
//! and renamed into place, so a checkpoint either exists whole or not at all.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{write_atomic, RunError};

/// Loop state saved beside the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Updates completed.
    pub step: usize,
    /// Wall-clock seconds spent training so far (over all sessions).
    pub wall_seconds: f64,
}

/// A checkpoint's contents, as bytes.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Loop state.
    pub state: LoopState,
    /// The network's burnpack record.
    pub model: Vec<u8>,
    /// The optimizer's state bytes.
    pub optimizer: Vec<u8>,
    /// The learning rule's own state (e.g. feedback matrices); empty when it has none.
    pub rule: Vec<u8>,
}

const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bin";
const STATE_FILE: &str = "state.json";
const RULE_FILE: &str = "rule.bin";

fn step_dir(root: &Path, step: usize) -> PathBuf {
    root.join(format!("step-{step:08}"))
}

/// Writes `checkpoint` under `root` and keeps only the newest `keep` checkpoints.
pub fn save(root: &Path, checkpoint: &Checkpoint, keep: usize) -> Result<PathBuf, RunError> {
    let final_dir = step_dir(root, checkpoint.state.step);
    let tmp_dir = root.join(format!(
        ".tmp-step-{:08}-{}",
        checkpoint.state.step,
        std::process::id()
    ));
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Write { path, source }
    };
    if tmp_dir.exists() {
        std::fs::remove_dir_all(&tmp_dir).map_err(wrap(&tmp_dir))?;
    }
    std::fs::create_dir_all(&tmp_dir).map_err(wrap(&tmp_dir))?;
    write_atomic(&tmp_dir.join(MODEL_FILE), &checkpoint.model)?;
    write_atomic(&tmp_dir.join(OPTIMIZER_FILE), &checkpoint.optimizer)?;
    write_atomic(&tmp_dir.join(RULE_FILE), &checkpoint.rule)?;
    write_atomic(
        &tmp_dir.join(STATE_FILE),
        &serde_json::to_vec_pretty(&checkpoint.state).expect("state serialises"),
    )?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(wrap(&final_dir))?;
    }
    std::fs::rename(&tmp_dir, &final_dir).map_err(wrap(&final_dir))?;
    let mut all = list(root)?;
    while all.len() > keep {
        let (_, oldest) = all.remove(0);
        std::fs::remove_dir_all(&oldest).map_err(wrap(&oldest))?;
    }
    Ok(final_dir)
}

/// Complete checkpoints under `root`, oldest first: `(step, dir)`.
pub fn list(root: &Path) -> Result<Vec<(usize, PathBuf)>, RunError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(RunError::Read {
                path: root.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    let mut out: Vec<(usize, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Loads the newest checkpoint under `root`.
pub fn load_latest(root: &Path) -> Result<Checkpoint, RunError> {
    let (_, dir) = list(root)?.pop().ok_or_else(|| RunError::Resume {
        path: root.to_path_buf(),
        message: "no checkpoint found (is this a run directory?)".into(),
    })?;
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| RunError::Resume {
            path,
            message: e.to_string(),
        })
    };
    let state_path = dir.join(STATE_FILE);
    let state: LoopState =
        serde_json::from_slice(&read(STATE_FILE)?).map_err(|e| RunError::Resume {
            path: state_path,
            message: format!("garbled loop state: {e}"),
        })?;
    Ok(Checkpoint {
        state,
        model: read(MODEL_FILE)?,
        optimizer: read(OPTIMIZER_FILE)?,
        rule: read(RULE_FILE)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ck(step: usize) -> Checkpoint {
        Checkpoint {
            state: LoopState {
                step,
                wall_seconds: 1.5,
            },
            model: vec![1, 2, step as u8],
            optimizer: vec![9],
            rule: Vec::new(),
        }
    }

    #[test]
    fn saves_prunes_and_loads_the_newest() {
        let dir = crate::testdir::tempdir().unwrap();
        for step in [10, 20, 30] {
            save(dir.path(), &ck(step), 2).unwrap();
        }
        let steps: Vec<usize> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(steps, vec![20, 30]);
        let latest = load_latest(dir.path()).unwrap();
        assert_eq!(latest.state.step, 30);
        assert_eq!(latest.model, vec![1, 2, 30]);
    }

    #[test]
    fn missing_or_garbled_checkpoints_are_resume_errors() {
        let dir = crate::testdir::tempdir().unwrap();
        assert!(matches!(
            load_latest(dir.path()),
            Err(RunError::Resume { .. })
        ));
        let saved = save(dir.path(), &ck(5), 2).unwrap();
        std::fs::write(saved.join(STATE_FILE), b"{").unwrap();
        let err = load_latest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("garbled"), "{err}");
    }
}
