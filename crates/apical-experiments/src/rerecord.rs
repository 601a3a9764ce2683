//! `apical record <run-dir> [--checkpoint step-N] [--set key=value…] --out DIR`: re-records a
//! trained network under other conditions without training — e.g. passive viewing at the same
//! weights (`--set model.engagement=0 --set task.context_cue=false`).
//!
//! For each step recorded during the run (`logging.record_at`; step 0 from the initial weights,
//! the others from the checkpoints pinned at those steps) and for the run's newest checkpoint,
//! the network is rebuilt from the run's config with the overrides, loaded with that step's
//! weights and recorded on the probe set with the same noise streams as the run: with no
//! overrides the recordings equal the run's own. Writes `DIR/activity/step-<n>/` per step,
//! `DIR/activity/` (every compartment) for the newest, `DIR/config.toml` (the run's config with
//! the overrides) and `DIR/record.json`; `apical analyze DIR` reads it like a run.
//!
//! Only keys that leave the weights' shapes alone may be changed ([`RECORD_KEYS`]);
//! `task.context_cue = false` on a network trained with the cue sets the cue inputs to 0
//! (no context information) instead of removing them.

use std::path::{Path, PathBuf};

use apical_learn::{build_network, NetworkVisitor, Trainable};
use apical_tasks::{Dataset, TaskConfig};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use apical_run::recording::{self, Keep};
use apical_run::{checkpoint, ConfigError, ExperimentConfig, ProtocolKind, RunError};
use apical_store::{write_atomic, RunDir};

use crate::ExperimentError;

/// The keys `--set` may change: none of them changes a weight's shape.
pub const RECORD_KEYS: &[&str] = &[
    "model.engagement",
    "model.apical_inhibition",
    "model.noise_std",
    "model.rate_noise",
    "model.steps",
    "task.context_cue",
    "task.noise_std",
    "task.contrast",
    "task.signal_levels",
    "task.seed",
    "logging.probe_examples",
    "training.seed",
];

/// What `apical record` re-records.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    /// The run directory.
    pub run: PathBuf,
    /// One step (`--checkpoint step-N`); every recorded step and the newest when absent.
    pub step: Option<usize>,
    /// `key=value` overrides, each of [`RECORD_KEYS`].
    pub overrides: Vec<String>,
    /// The output directory (must not exist or be empty).
    pub out: PathBuf,
}

/// `record.json`: what was recorded from where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordInfo {
    /// The run re-recorded.
    pub run: String,
    /// The overrides applied.
    pub overrides: Vec<String>,
    /// Steps recorded (`activity/step-<n>/`), oldest first.
    pub steps: Vec<usize>,
    /// The step `activity/` holds.
    pub final_step: usize,
    /// Whether the context cue was set to 0.
    pub cue_removed: bool,
}

fn refuse(key: &str, message: impl Into<String>) -> ExperimentError {
    ConfigError::new(Path::new("--set"), key, message).into()
}

/// The run's config with the overrides (refusing keys outside [`RECORD_KEYS`]), and whether
/// the cue is to be zeroed. The returned config keeps the trained input width.
pub fn record_config(req: &RecordRequest) -> Result<(ExperimentConfig, bool), ExperimentError> {
    let path = RunDir::new(&req.run).config();
    if !path.is_file() {
        return Err(RunError::read(
            &path,
            "missing: not a run directory written by `apical run`",
        )
        .into());
    }
    // `task.context_cue` is applied here, not by the loader: the network keeps its cue inputs
    // and a cue of false sets them to 0 (so checks that need the cue still see it).
    let mut cue_wanted = None;
    let mut overrides = Vec::new();
    for item in &req.overrides {
        let (key, value) = item
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .unwrap_or((item.as_str(), ""));
        if !RECORD_KEYS.contains(&key) {
            return Err(refuse(
                key,
                format!(
                    "cannot be changed when re-recording (the weights fix the rest); one of {}",
                    RECORD_KEYS.join(", ")
                ),
            ));
        }
        if key == "task.context_cue" {
            cue_wanted = Some(match value {
                "true" => true,
                "false" => false,
                other => {
                    return Err(refuse(
                        key,
                        format!("expected true or false, got {other:?}"),
                    ))
                }
            });
        } else {
            overrides.push(item.clone());
        }
    }
    let trained = ExperimentConfig::load(&path, &[])?;
    let why = match ProtocolKind::of(&trained) {
        ProtocolKind::Supervised => None,
        ProtocolKind::ClosedLoop => {
            Some("is a bci run; its recordings are made day by day in the closed loop")
        }
        ProtocolKind::Sampling => Some(
            "is a sampling-model run, which has no weights: run its config again with --set model.delta=… instead",
        ),
    };
    if let Some(why) = why {
        return Err(RunError::read(&req.run, why).into());
    }
    let config = ExperimentConfig::load(&path, &overrides)?;
    let trained_cue = match &trained.task {
        TaskConfig::Orientation(t) => Some(t.context_cue),
        _ => None,
    };
    let cue_removed = match (cue_wanted, trained_cue) {
        (None, _) | (Some(true), Some(true)) | (Some(false), Some(false)) => false,
        (Some(false), Some(true)) => true,
        (Some(true), Some(false)) => {
            return Err(refuse(
                "task.context_cue",
                "the run was trained without the cue; its network has no cue inputs",
            ))
        }
        (Some(_), None) => {
            return Err(refuse(
                "task.context_cue",
                format!(
                    "only the orientation task has a context cue, not task.kind = {:?}",
                    trained.task.kind()
                ),
            ))
        }
    };
    if config.logging.probe_examples == 0 {
        return Err(refuse(
            "logging.probe_examples",
            "must be > 0 to record anything",
        ));
    }
    Ok((config, cue_removed))
}

/// The steps to record and their checkpoints (`None` for step 0: the initial weights).
fn plan(
    req: &RecordRequest,
    trained: &ExperimentConfig,
) -> Result<Vec<(usize, Option<PathBuf>)>, ExperimentError> {
    let root = RunDir::new(&req.run).checkpoints();
    let all = checkpoint::list(&root)?;
    let find = |step: usize| all.iter().find(|(s, _)| *s == step).map(|(_, p)| p.clone());
    if let Some(step) = req.step {
        if step == 0 {
            return Ok(vec![(0, None)]);
        }
        return match find(step) {
            Some(p) => Ok(vec![(step, Some(p))]),
            None => Err(RunError::read(
                &RunDir::new(&req.run).checkpoint(step),
                format!(
                    "no such checkpoint; this run has {}",
                    if all.is_empty() {
                        "none".to_string()
                    } else {
                        all.iter()
                            .map(|(s, _)| format!("step-{s}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )
            .into()),
        };
    }
    let mut steps: Vec<(usize, Option<PathBuf>)> = Vec::new();
    for step in trained.recording_steps() {
        if step == 0 {
            steps.push((0, None));
        } else if let Some(p) = find(step) {
            steps.push((step, Some(p)));
        }
    }
    match all.last() {
        Some((step, p)) if !steps.iter().any(|(s, _)| s == step) => {
            steps.push((*step, Some(p.clone())))
        }
        Some(_) => {}
        None if steps.is_empty() => {
            return Err(
                RunError::read(&root, "no checkpoint and no step-0 recording to re-record").into(),
            )
        }
        None => {}
    }
    Ok(steps)
}

/// Runs `apical record`: checks everything first, then writes `req.out`.
pub fn record_run(req: &RecordRequest, device: &Device) -> Result<RecordInfo, ExperimentError> {
    let (config, cue_removed) = record_config(req)?;
    // The network is the run's (its seed makes the step-0 weights); an overridden
    // training.seed changes only the recording noise.
    let trained = ExperimentConfig::load(&RunDir::new(&req.run).config(), &[])?;
    let steps = plan(req, &trained)?;
    apical_run::check_out_dir(&req.out)?;
    let data = config.task.build()?;
    let mut probe = config.task.probe(&data, config.logging.probe_examples);
    let mut frozen = config.frozen_probe();
    if cue_removed {
        remove_cue(&mut probe);
        if let Some(f) = frozen.as_mut() {
            remove_cue(&mut f.data);
        }
    }
    // Every checkpoint is read (and checked against the network) before anything is written.
    let mut weights = Vec::new();
    for (step, path) in &steps {
        weights.push((*step, path.as_deref().map(checkpoint::load).transpose()?));
    }
    struct Visit<'a> {
        config: &'a ExperimentConfig,
        weights: Vec<(usize, Option<checkpoint::Checkpoint>)>,
        probe: &'a Dataset,
        frozen: Option<&'a recording::FrozenProbe>,
        device: Device,
        root: PathBuf,
        out: PathBuf,
        info: RecordInfo,
    }
    impl NetworkVisitor for Visit<'_> {
        type Output = Result<(), ExperimentError>;
        fn refuse(self, why: apical_core::InvalidParameter) -> Self::Output {
            Err(ConfigError::new(Path::new("config"), &why.key, why.message).into())
        }
        fn visit<N: Trainable>(self, net: N) -> Self::Output {
            let initial = apical_run::runner::initialise(self.config, net)?;
            let mut nets = Vec::new();
            for (step, ck) in self.weights {
                let net = match ck {
                    Some(ck) => checkpoint::load_module(&initial, ck.model, &self.root)?,
                    None => initial.clone(),
                };
                nets.push((step, net));
            }
            // Every network is loaded (its shapes checked) before anything is written.
            std::fs::create_dir_all(&self.out).map_err(|source| {
                apical_store::StoreError::Write {
                    path: self.out.clone(),
                    source,
                }
            })?;
            let lock = apical_store::RunLock::acquire(&self.out)?;
            let note = if self.info.cue_removed {
                "# apical record: task.context_cue = false — the context-cue inputs were set to 0\n# (the network keeps its cue inputs; see record.json).\n"
            } else {
                ""
            };
            write_atomic(
                &RunDir::new(&self.out).config(),
                format!(
                    "{}{note}{}",
                    apical_store::RECORDING_MARKER,
                    self.config.to_toml()
                )
                .as_bytes(),
            )?;
            let host = self.device.clone().without_autodiff();
            let seed = self.config.training.seed;
            let out = RunDir::new(&self.out);
            let activity = out.activity();
            let last = nets.len() - 1;
            for (i, (step, net)) in nets.iter().enumerate() {
                let valid = net.valid();
                recording::record_step(
                    &valid,
                    self.probe,
                    self.frozen,
                    &host,
                    (seed, *step),
                    &out,
                )?;
                if i == last {
                    recording::record(
                        &valid,
                        self.probe,
                        &host,
                        (seed, *step),
                        Keep::All,
                        &activity,
                    )?;
                    if let Some(frozen) = self.frozen {
                        recording::record_frozen(&valid, frozen, &host, (seed, *step), &activity)?;
                    }
                }
            }
            write_atomic(
                &RunDir::new(&self.out).record_json(),
                serde_json::to_string_pretty(&self.info)
                    .expect("serialises")
                    .as_bytes(),
            )?;
            drop(lock);
            Ok(())
        }
    }
    let info = RecordInfo {
        run: req.run.display().to_string(),
        overrides: req.overrides.clone(),
        steps: steps.iter().map(|(s, _)| *s).collect(),
        final_step: steps.last().map(|(s, _)| *s).unwrap_or(0),
        cue_removed,
    };
    build_network(
        &config.model,
        data.train.n_features,
        data.train.n_classes,
        trained.training.seed,
        &device.clone().autodiff(),
        Visit {
            config: &config,
            weights,
            probe: &probe,
            frozen: frozen.as_ref(),
            device: device.clone().autodiff(),
            root: RunDir::new(&req.run).checkpoints(),
            out: req.out.clone(),
            info: info.clone(),
        },
    )?;
    Ok(info)
}

/// Sets the orientation task's context-cue inputs (the last two of each trial) to 0.
fn remove_cue(probe: &mut Dataset) {
    let width = probe.n_features;
    for trial in probe.inputs.chunks_mut(width) {
        trial[width - 2] = 0.0;
        trial[width - 1] = 0.0;
    }
}
