//! Checkpoints: `checkpoints/step-NNNNNNNN/` holding the network (burnpack record), the
//! optimizer state, the rule's state and the loop state, plus `manifest.json` with each file's
//! length and FNV-1a hash. A checkpoint directory is written under a temporary name and renamed
//! into place, so a checkpoint either exists whole or not at all; the manifest catches one
//! damaged afterwards (truncated, overwritten), and `apical resume` then falls back to the
//! previous checkpoint.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use apical_store::write_atomic;

use crate::RunError;

/// The checkpoint format this build writes and reads. Checkpoints written before the field
/// existed are format 1 (the same files); another format is refused with a one-line error.
pub const CHECKPOINT_FORMAT: u32 = 1;

fn format_before_versions() -> u32 {
    1
}

/// Loop state saved beside the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// The checkpoint format ([`CHECKPOINT_FORMAT`] when written by this build).
    #[serde(default = "format_before_versions")]
    pub format_version: u32,
    /// Updates completed.
    pub step: usize,
    /// Wall-clock seconds spent training so far (over all sessions).
    pub wall_seconds: f64,
    /// Rule diagnostics accumulated since the last evaluation.
    #[serde(default)]
    pub diagnostics_pending: crate::diagnostics::DiagnosticsAccumulator,
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
/// The file that lists a checkpoint's files with their lengths and hashes.
pub const MANIFEST_FILE: &str = "manifest.json";

/// 64-bit FNV-1a hash of `bytes`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// File name → (length, FNV-1a hash).
type Manifest = std::collections::BTreeMap<String, (usize, u64)>;

fn step_dir(root: &Path, step: usize) -> PathBuf {
    root.join(apical_store::step_name(step))
}

/// `module`'s weights as a burnpack record (what a checkpoint's `model` holds); `root` names
/// the checkpoints directory in errors.
pub fn module_bytes<M: burn::module::Module>(module: &M, root: &Path) -> Result<Vec<u8>, RunError> {
    Ok(module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| apical_store::StoreError::Write {
            path: root.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?
        .to_vec())
}

/// `module` with the weights of a checkpoint's `model` bytes; refuses a garbled record or one
/// that does not fit the module (`root` names the checkpoints directory in errors).
pub fn load_module<M: burn::module::Module>(
    module: &M,
    bytes: Vec<u8>,
    root: &Path,
) -> Result<M, RunError> {
    use burn::store::ModuleRecord;
    let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| RunError::resume(root, format!("garbled model record: {e}")))?;
    module
        .clone()
        .try_load_record(record)
        .map_err(|e| RunError::resume(root, format!("model record does not fit the config: {e}")))
}

/// Writes `checkpoint` under `root` and keeps only the newest `keep` checkpoints besides the
/// `pinned` steps' (kept whatever their age: `logging.record_at` steps, which `apical record`
/// re-records).
pub fn save(
    root: &Path,
    checkpoint: &Checkpoint,
    keep: usize,
    pinned: &[usize],
) -> Result<PathBuf, RunError> {
    let final_dir = step_dir(root, checkpoint.state.step);
    let tmp_dir = root.join(format!(
        ".tmp-step-{:08}-{}",
        checkpoint.state.step,
        std::process::id()
    ));
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| apical_store::StoreError::Write { path, source }
    };
    if tmp_dir.exists() {
        std::fs::remove_dir_all(&tmp_dir).map_err(wrap(&tmp_dir))?;
    }
    std::fs::create_dir_all(&tmp_dir).map_err(wrap(&tmp_dir))?;
    let written = write_files(&tmp_dir, checkpoint);
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp_dir);
    }
    written?;
    if final_dir.exists() {
        discard(root, &final_dir)?;
    }
    std::fs::rename(&tmp_dir, &final_dir).map_err(wrap(&final_dir))?;
    let mut all: Vec<(usize, PathBuf)> = list(root)?
        .into_iter()
        .filter(|(step, _)| !pinned.contains(step))
        .collect();
    while all.len() > keep {
        let (_, oldest) = all.remove(0);
        discard(root, &oldest)?;
    }
    Ok(final_dir)
}

/// Removes a checkpoint directory so that it is never seen half-deleted: it is first renamed
/// to a hidden name (atomic), then deleted.
fn discard(root: &Path, dir: &Path) -> Result<(), RunError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hidden = root.join(format!(".tmp-discard-{name}-{}", std::process::id()));
    std::fs::rename(dir, &hidden).map_err(|source| apical_store::StoreError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    std::fs::remove_dir_all(&hidden).map_err(|source| apical_store::StoreError::Write {
        path: hidden,
        source,
    })?;
    Ok(())
}

/// The checkpoint's files, each written atomically, then the manifest.
fn write_files(tmp_dir: &Path, checkpoint: &Checkpoint) -> Result<(), RunError> {
    write_atomic(&tmp_dir.join(MODEL_FILE), &checkpoint.model)?;
    write_atomic(&tmp_dir.join(OPTIMIZER_FILE), &checkpoint.optimizer)?;
    write_atomic(&tmp_dir.join(RULE_FILE), &checkpoint.rule)?;
    let state = serde_json::to_vec_pretty(&checkpoint.state).expect("state serialises");
    write_atomic(&tmp_dir.join(STATE_FILE), &state)?;
    let manifest: Manifest = [
        (MODEL_FILE, &checkpoint.model),
        (OPTIMIZER_FILE, &checkpoint.optimizer),
        (RULE_FILE, &checkpoint.rule),
        (STATE_FILE, &state),
    ]
    .into_iter()
    .map(|(name, bytes)| (name.to_string(), (bytes.len(), fnv1a(bytes))))
    .collect();
    write_atomic(
        &tmp_dir.join(MANIFEST_FILE),
        &serde_json::to_vec_pretty(&manifest).expect("manifest serialises"),
    )?;
    Ok(())
}

/// Complete checkpoints under `root`, oldest first: `(step, dir)`.
pub fn list(root: &Path) -> Result<Vec<(usize, PathBuf)>, RunError> {
    Ok(
        apical_store::list_steps(root).map_err(|e| apical_store::StoreError::Read {
            path: root.to_path_buf(),
            source: e.into(),
        })?,
    )
}

/// Removes what an interrupted save or prune left behind (`.tmp-step-*`, `.tmp-discard-*`).
pub fn remove_temporaries(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn other_format(dir: &Path, format: u64) -> RunError {
    RunError::resume(
        dir,
        format!("checkpoint format {format}, written by another version of apical (this one reads format {CHECKPOINT_FORMAT}); use that version, or start the run again"),
    )
}

/// Refuses a checkpoint of another format (read from its `state.json` before any checksum, so
/// that a newer checkpoint is never mistaken for a damaged one). A missing or garbled
/// `state.json` passes: [`load`] names the damage.
pub fn check_format(dir: &Path) -> Result<(), RunError> {
    let format = std::fs::read(dir.join(STATE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|state| state.get("format_version").and_then(|v| v.as_u64()));
    match format {
        Some(format) if format != u64::from(CHECKPOINT_FORMAT) => Err(other_format(dir, format)),
        _ => Ok(()),
    }
}

/// Loads the checkpoint in `dir`, checking every file against the manifest. The error names
/// the damaged file.
pub fn load(dir: &Path) -> Result<Checkpoint, RunError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| apical_store::StoreError::Resume {
            path,
            source: e.into(),
        })
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest: Manifest = serde_json::from_slice(&read(MANIFEST_FILE)?).map_err(|e| {
        apical_store::StoreError::Resume {
            path: manifest_path.clone(),
            source: format!("garbled manifest: {e}").into(),
        }
    })?;
    let checked = |name: &str| -> Result<Vec<u8>, RunError> {
        let bytes = read(name)?;
        let (len, hash) = manifest.get(name).copied().ok_or_else(|| {
            RunError::resume(&manifest_path, format!("manifest does not list {name}"))
        })?;
        if bytes.len() != len {
            return Err(RunError::resume(
                &dir.join(name),
                format!(
                    "truncated or extended: {} bytes, expected {len}",
                    bytes.len()
                ),
            ));
        }
        if fnv1a(&bytes) != hash {
            return Err(RunError::resume(
                &dir.join(name),
                "contents differ from the checksum written with it (damaged)",
            ));
        }
        Ok(bytes)
    };
    let state_bytes = checked(STATE_FILE)?;
    let state: LoopState =
        serde_json::from_slice(&state_bytes).map_err(|e| apical_store::StoreError::Resume {
            path: dir.join(STATE_FILE),
            source: format!("garbled loop state: {e}").into(),
        })?;
    if state.format_version != CHECKPOINT_FORMAT {
        return Err(other_format(dir, state.format_version.into()));
    }
    Ok(Checkpoint {
        state,
        model: checked(MODEL_FILE)?,
        optimizer: checked(OPTIMIZER_FILE)?,
        rule: checked(RULE_FILE)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ck(step: usize) -> Checkpoint {
        Checkpoint {
            state: LoopState {
                format_version: CHECKPOINT_FORMAT,
                step,
                wall_seconds: 1.5,
                diagnostics_pending: Default::default(),
            },
            model: vec![1, 2, step as u8],
            optimizer: vec![9],
            rule: Vec::new(),
        }
    }

    #[test]
    fn saves_prunes_and_loads_the_newest() {
        let dir = apical_store::testdir::tempdir().unwrap();
        for step in [10, 20, 30] {
            save(dir.path(), &ck(step), 2, &[]).unwrap();
        }
        let steps: Vec<usize> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(steps, vec![20, 30]);
        let latest = load(&list(dir.path()).unwrap().pop().unwrap().1).unwrap();
        assert_eq!(latest.state.step, 30);
        assert_eq!(latest.model, vec![1, 2, 30]);
    }

    #[test]
    fn pinned_steps_outlive_pruning() {
        let dir = apical_store::testdir::tempdir().unwrap();
        for step in [10, 20, 30, 40, 50] {
            save(dir.path(), &ck(step), 2, &[20]).unwrap();
        }
        let steps: Vec<usize> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(steps, vec![20, 40, 50]);
    }

    #[test]
    fn damaged_files_are_named() {
        let dir = apical_store::testdir::tempdir().unwrap();
        let saved = save(dir.path(), &ck(5), 2, &[]).unwrap();
        std::fs::write(saved.join(MODEL_FILE), [1, 2]).unwrap();
        let err = load(&saved).unwrap_err().to_string();
        assert!(
            err.contains("model.bpk") && err.contains("truncated"),
            "{err}"
        );
        std::fs::write(saved.join(MODEL_FILE), [1, 2, 6]).unwrap();
        let err = load(&saved).unwrap_err().to_string();
        assert!(
            err.contains("model.bpk") && err.contains("checksum"),
            "{err}"
        );
        std::fs::remove_file(saved.join(MANIFEST_FILE)).unwrap();
        assert!(load(&saved).unwrap_err().to_string().contains("manifest"));
    }

    #[test]
    fn another_format_is_refused_and_an_unversioned_one_is_read() {
        let dir = apical_store::testdir::tempdir().unwrap();
        let mut newer = ck(5);
        newer.state.format_version = CHECKPOINT_FORMAT + 1;
        let saved = save(dir.path(), &newer, 2, &[]).unwrap();
        let err = load(&saved).unwrap_err().to_string();
        assert!(
            err.contains(&format!("checkpoint format {}", CHECKPOINT_FORMAT + 1)),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(
            check_format(&saved).unwrap_err().to_string(),
            err,
            "refused before any checksum"
        );
        assert!(check_format(&save(dir.path(), &ck(6), 2, &[]).unwrap()).is_ok());
        // A checkpoint from before the field: its state.json has no format_version.
        let state: LoopState = serde_json::from_str(r#"{"step": 3, "wall_seconds": 1.0}"#).unwrap();
        assert_eq!(state.format_version, 1);
    }
}
