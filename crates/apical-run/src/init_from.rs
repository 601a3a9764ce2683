//! Starting a network from another run's weights (`training.init_from`, `training.init_layers`)
//! and holding layers fixed (`training.freeze`).
//!
//! Layers are numbered as the models name them ([`apical_nn::layer_slots`]): the config's
//! `hidden` list, then the readout. The basal weights and biases load between ff and gfn
//! networks alike; a gfn's apical weights and prediction load only from a gfn (from an ff they
//! keep their initial values).
//!
//! Shapes are checked before anything is written: a mismatch is refused with both shapes named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use apical_nn::{layer_slots as slots, LayerSlot as Slot};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Tensor, TensorData};

use crate::{checkpoint, ConfigError, RunError};

const KEY: &str = "training.init_from";

/// Collects every float parameter of a module: path, id and (when asked) values.
#[derive(Default)]
struct Collect {
    path: Vec<String>,
    values: bool,
    found: Vec<(String, ParamId, Vec<usize>, Option<TensorData>)>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.path.join(".");
        let shape = param.lazy_shape().to_vec();
        let data = self.values.then(|| param.val().into_data());
        self.found.push((path, param.id, shape, data));
    }
}

fn collect<M: Module>(
    module: &M,
    values: bool,
) -> Vec<(String, ParamId, Vec<usize>, Option<TensorData>)> {
    let mut c = Collect {
        values,
        ..Collect::default()
    };
    module.visit(&mut c);
    c.found
}

/// Replaces the parameters named in `values` (by path), keeping ids and `require_grad`.
struct Replace<'a> {
    path: Vec<String>,
    values: &'a BTreeMap<String, TensorData>,
}

impl ModuleMapper for Replace<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(data) = self.values.get(&self.path.join(".")) else {
            return param;
        };
        param.map(|old| {
            let grad = old.is_require_grad();
            let new = Tensor::<D>::from_data(data.clone(), &old.device());
            if grad {
                new.require_grad()
            } else {
                new
            }
        })
    }
}

fn replace<M: Module>(module: M, values: &BTreeMap<String, TensorData>) -> M {
    module.map(&mut Replace {
        path: Vec::new(),
        values,
    })
}

/// The weights of another run, read from one of its checkpoints.
#[derive(Debug, Clone)]
pub struct InitSource {
    /// The checkpoint read.
    pub checkpoint: PathBuf,
    tensors: BTreeMap<Slot, TensorData>,
}

fn refuse(message: impl Into<String>) -> RunError {
    ConfigError::new(Path::new("config"), KEY, message).into()
}

impl InitSource {
    /// Reads the checkpoint `from` names: a checkpoint directory, or a finished run's newest
    /// checkpoint.
    pub fn load(from: &Path) -> Result<Self, RunError> {
        // `checkpoints/step-1800` names the folder `step-00001800` (names are zero-padded).
        let padded = from
            .file_name()
            .and_then(|n| apical_store::parse_step_name(&n.to_string_lossy()))
            .map(|step| from.with_file_name(apical_store::step_name(step)))
            .filter(|p| !from.exists() && p.exists());
        let from = padded.as_deref().unwrap_or(from);
        let run = apical_store::RunDir::new(from);
        let checkpoint = if from.join(checkpoint::MANIFEST_FILE).is_file() {
            from.to_path_buf()
        } else if run.checkpoints().is_dir() {
            match crate::Summary::read(from) {
                Err(_) => {
                    return Err(refuse(format!(
                        "{} has not finished (no summary.json); name one of its checkpoints, {}/checkpoints/step-N",
                        from.display(),
                        from.display()
                    )))
                }
                Ok(s) if s.status != crate::RunStatus::Completed => {
                    return Err(refuse(format!(
                        "{} diverged at step {}; its newest checkpoint is not a finished run (name one of its checkpoints to use it anyway)",
                        from.display(),
                        s.diverged_at_step.unwrap_or(0)
                    )))
                }
                Ok(_) => {}
            }
            let all = checkpoint::list(&run.checkpoints())?;
            match all.last() {
                Some((_, dir)) => dir.clone(),
                None => {
                    return Err(refuse(format!(
                        "{} has no checkpoint to load",
                        from.display()
                    )))
                }
            }
        } else {
            return Err(refuse(format!(
                "{} is neither a run directory (with checkpoints/) nor a checkpoint (with manifest.json)",
                from.display()
            )));
        };
        let ck = checkpoint::load(&checkpoint)?;
        let reader = burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(ck.model))
            .and_then(|r| r.into_tensors())
            .map_err(|e| {
                refuse(format!(
                    "{}: unreadable model record: {e}",
                    checkpoint.display()
                ))
            })?;
        let mut by_path = BTreeMap::new();
        for t in reader {
            let (path, dtype, shape, _, bytes) = t.into_parts().map_err(|e| {
                refuse(format!(
                    "{}: unreadable model record: {e}",
                    checkpoint.display()
                ))
            })?;
            by_path.insert(path, TensorData::from_bytes(bytes, shape, dtype));
        }
        let paths: Vec<String> = by_path.keys().cloned().collect();
        let tensors = slots(&paths)
            .into_iter()
            .filter_map(|(path, slot)| by_path.remove(&path).map(|d| (slot, d)))
            .collect();
        Ok(Self {
            checkpoint,
            tensors,
        })
    }

    /// Layers the source holds.
    pub fn n_layers(&self) -> usize {
        self.tensors.keys().map(|(l, _)| l + 1).max().unwrap_or(0)
    }

    /// `net` with the source's weights in `layers` (every layer when `None`). Refuses, naming
    /// both shapes, a parameter whose shape differs, and a requested layer the source lacks.
    pub fn apply<M: Module>(&self, net: M, layers: Option<&[usize]>) -> Result<M, RunError> {
        let params = collect(&net, false);
        let paths: Vec<String> = params.iter().map(|p| p.0.clone()).collect();
        let slot_of = slots(&paths);
        let n_target = slot_of.values().map(|(l, _)| l + 1).max().unwrap_or(0);
        let wanted: Vec<usize> = layers.map_or_else(|| (0..n_target).collect(), <[usize]>::to_vec);
        let mut values = BTreeMap::new();
        for &layer in &wanted {
            if layer >= self.n_layers() {
                return Err(refuse(format!(
                    "layer {layer}: {} has layers 0..={} only",
                    self.checkpoint.display(),
                    self.n_layers().saturating_sub(1)
                )));
            }
            let mut loaded = 0;
            for (path, _, shape, _) in &params {
                let Some(slot) = slot_of.get(path).filter(|s| s.0 == layer) else {
                    continue;
                };
                let Some(data) = self.tensors.get(slot) else {
                    continue; // a gfn-only parameter, from an ff run: keeps its initial value
                };
                if data.shape().as_slice() != shape.as_slice() {
                    return Err(refuse(format!(
                        "layer {layer} {}: {} has shape {:?}, this model {:?}",
                        slot.1,
                        self.checkpoint.display(),
                        data.shape().as_slice(),
                        shape
                    )));
                }
                values.insert(path.clone(), data.clone());
                loaded += 1;
            }
            if loaded == 0 {
                return Err(refuse(format!(
                    "layer {layer}: nothing in {} fits this model's layer",
                    self.checkpoint.display()
                )));
            }
        }
        Ok(replace(net, &values))
    }
}

/// Layers held at their values (`training.freeze`): every parameter of those layers.
#[derive(Debug, Clone)]
pub struct Frozen {
    values: BTreeMap<String, TensorData>,
    ids: Vec<ParamId>,
}

impl Frozen {
    /// Captures `layers` of `net` as they are now.
    pub fn capture<M: Module>(net: &M, layers: &[usize]) -> Self {
        let params = collect(net, true);
        let paths: Vec<String> = params.iter().map(|p| p.0.clone()).collect();
        let slot_of = slots(&paths);
        let mut values = BTreeMap::new();
        let mut ids = Vec::new();
        for (path, id, _, data) in params {
            if slot_of.get(&path).is_some_and(|s| layers.contains(&s.0)) {
                ids.push(id);
                values.insert(path, data.expect("values collected"));
            }
        }
        Self { values, ids }
    }

    /// The frozen parameters' ids (the optimizer skips them).
    pub fn ids(&self) -> &[ParamId] {
        &self.ids
    }

    /// `net` with the frozen layers put back (what the network's own bookkeeping moved).
    pub fn restore<M: Module>(&self, net: M) -> M {
        replace(net, &self.values)
    }
}
