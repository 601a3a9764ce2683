//! Starting and resuming a run: the checks that need the data (`training.init_from`,
//! `logging.record_at`), the output directory, the lock, then the config's protocol
//! ([`ProtocolKind`]) in a [`Session`]. The run directory's layout: [`apical_store::RunDir`].

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use apical_learn::{build_network, NetworkVisitor, Trainable};
use apical_store::{RunDir, RunLock, Summary, LOCK_FILE};
use apical_tasks::Split;
use burn::tensor::Device;

use crate::checkpoint;
use crate::init_from::InitSource;
use crate::{ExperimentConfig, ProtocolKind, RunError, Session};

/// How the caller wants the run to behave (not part of the experiment's identity).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Stop with [`RunError::Halted`] right after this step (after its evaluation and
    /// checkpoint, if due). Used to test `resume`.
    pub halt_after: Option<usize>,
    /// Set to a signal number (SIGINT 2, SIGTERM 15) to ask the run to stop: it writes a
    /// checkpoint and returns [`RunError::Interrupted`]. The binary sets it from its signal
    /// handlers.
    pub stop: Option<Arc<AtomicUsize>>,
    /// What `summary.json` records of where and how the run was made (the binary fills it
    /// in; see [`provenance`](crate::provenance)).
    pub provenance: Option<apical_store::Provenance>,
}

/// What a finished run reports (also written as `summary.json`).
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run directory.
    pub dir: PathBuf,
    /// The summary.
    pub summary: Summary,
}

/// Builds the task's data. Fails on missing or malformed data files.
pub fn build_data(config: &ExperimentConfig) -> Result<Split, RunError> {
    Ok(config.task.build()?)
}

/// The CPU kernels' threads for this config's network ([`apical_nn::auto_threads_for`]: one
/// thread for small nets unless the user chose them, `user_set`), from its training batch: the
/// per-step products, which dominate a run. (Evaluation and the dendrite logs multiply
/// 512-row chunks, which two threads would do faster; the matrix library reads its setting
/// once per process, so the training step decides.) The binary applies it after [`build_data`]
/// and before the first tensor operation or thread. `None`: leave the defaults.
pub fn auto_threads(config: &ExperimentConfig, data: &Split, user_set: bool) -> Option<usize> {
    let mut widths = vec![data.train.n_features];
    widths.extend_from_slice(config.model.hidden());
    widths.push(data.train.n_classes);
    let batch = config.training.batch_size.min(data.train.len());
    apical_nn::auto_threads_for(apical_nn::largest_product(batch, &widths), user_set)
}

/// Bytes of memory a training run holds per trainable scalar: the weights, their gradients,
/// the optimizer's two moments, the autodiff graph's copies and the rule's state (measured:
/// ≈ 34 bytes for an ff network with Adam, hidden = [2000, 2000] and [4000, 4000]).
pub const BYTES_PER_PARAMETER: u64 = 36;

/// An estimate of the memory that training `config` on `data` needs: its parameters at
/// [`BYTES_PER_PARAMETER`] and a batch's activations at every step of inference.
pub fn memory_needed(config: &ExperimentConfig, data: &Split) -> u64 {
    let (d_in, d_out) = (data.train.n_features, data.train.n_classes);
    let params = config.model.n_params(d_in, d_out) as u64;
    let steps = match &config.model {
        apical_nn::ModelConfig::Gfn(p) => p.steps as u64 + 1,
        _ => 1,
    };
    let widths = (d_in + d_out + config.model.hidden().iter().sum::<usize>()) as u64;
    let batch = config.training.batch_size.min(data.train.len().max(1)) as u64;
    params * BYTES_PER_PARAMETER + batch * widths * steps * 4 * 8
}

/// Refuses, before anything is written, a network whose training would need more memory than
/// `available` bytes (what the machine or the process's memory limit leaves; the binary reads
/// it): such a run would be killed by the allocator (an abort, not an error) part way through.
/// The message names the key to change and both sizes.
pub fn check_memory(
    config: &ExperimentConfig,
    data: &Split,
    available: u64,
) -> Result<(), RunError> {
    let needed = memory_needed(config, data);
    if needed <= available {
        return Ok(());
    }
    let key = match &config.model {
        apical_nn::ModelConfig::Bci(_) | apical_nn::ModelConfig::Sampling(_) => "model.units",
        _ => "model.hidden",
    };
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Err(crate::ConfigError::new(
        Path::new("config"),
        key,
        format!(
            "this network has {} parameters; training it needs about {:.1} GiB of memory and {:.1} GiB is available (the machine's free memory or this process's limit); use narrower layers",
            config.model.n_params(data.train.n_features, data.train.n_classes),
            gib(needed),
            gib(available)
        ),
    )
    .into())
}

/// Refuses an output directory that exists and is not empty (a lock file alone does not
/// count), or that another process is writing (naming its pid).
pub fn check_out_dir(dir: &Path) -> Result<(), RunError> {
    if let Some(holder) = apical_store::held_by(dir) {
        return Err(apical_store::StoreError::Locked {
            path: dir.to_path_buf(),
            holder,
        }
        .into());
    }
    check_empty(dir)
}

/// Refuses an output directory that exists and is not empty (a lock file alone does not
/// count).
fn check_empty(dir: &Path) -> Result<(), RunError> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(RunError::OutputDir {
                path: dir.to_path_buf(),
                message: "exists and is not a directory".into(),
            });
        }
        let non_empty = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().any(|e| e.file_name() != LOCK_FILE))
            .unwrap_or(true);
        if non_empty {
            return Err(RunError::OutputDir { path: dir.to_path_buf(), message: "already exists and is not empty; pick another --out, or continue it with `apical resume`".into() });
        }
    }
    Ok(())
}

/// Starts a new run in `dir` (which must not exist or be empty) on `device`.
pub fn start(
    config: &ExperimentConfig,
    data: &Split,
    device: &Device,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    check_out_dir(dir)?;
    // The weights to start from are read (and their shapes checked) before anything is written.
    check_init(config, data, device)?;
    std::fs::create_dir_all(dir).map_err(|source| apical_store::StoreError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let lock = RunLock::acquire(dir)?;
    // Another run may have started (and ended) between the check and the lock.
    check_empty(dir)?;
    apical_store::write_atomic(
        &RunDir::new(dir).config(),
        config.to_documented_toml().as_bytes(),
    )?;
    let session = Session::new(dir, options, false, config.training.keep_checkpoints, lock);
    ProtocolKind::of(config)
        .protocol()
        .run(config, data, device, session)
}

/// Whether `dir` is a training run that `resume` may continue: it has the `config.toml` that
/// `apical run` writes first, and it is not a re-recording (`apical record` writes a
/// `config.toml` too, but no checkpoints: resuming it would train a fresh network over its
/// recordings). Nothing is read beyond the two names.
pub fn check_resumable(dir: &Path) -> Result<(), RunError> {
    let run = RunDir::new(dir);
    if run.is_recording() {
        return Err(RunError::resume(
            dir,
            "this directory was written by `apical record` (it has record.json): it holds re-recordings, not a training run, and there is nothing to resume; resume the run it was recorded from (named in record.json) or record again into a new --out",
        ));
    }
    if !run.config().is_file() {
        return Err(RunError::resume(
            dir,
            "no config.toml here (is this a run directory written by `apical run`?)",
        ));
    }
    Ok(())
}

/// Continues the run in `dir` from its newest usable checkpoint (from step 0 when it has none
/// yet). `config` is the run's own `config.toml`; `device` must be the backend it names.
/// Refuses a directory [`check_resumable`] refuses, before anything is written.
pub fn resume(
    config: &ExperimentConfig,
    data: &Split,
    device: &Device,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    check_resumable(dir)?;
    let lock = RunLock::acquire(dir)?;
    RunDir::new(dir).remove_temporaries();
    checkpoint::remove_temporaries(&RunDir::new(dir).checkpoints());
    let session = Session::new(dir, options, true, config.training.keep_checkpoints, lock);
    ProtocolKind::of(config)
        .protocol()
        .run(config, data, device, session)
}

/// The run `training.init_from` names, read.
fn init_source(config: &ExperimentConfig) -> Result<Option<InitSource>, RunError> {
    config
        .training
        .init_from
        .as_deref()
        .map(InitSource::load)
        .transpose()
}

/// `training.init_from`: `net` with the named layers of the other run's weights.
pub fn initialise<N: Trainable>(config: &ExperimentConfig, net: N) -> Result<N, RunError> {
    match init_source(config)? {
        Some(init) => init.apply(net, config.training.init_layers.as_deref()),
        None => Ok(net),
    }
}

/// The checks that need the data: `logging.record_at` within the run's length, and
/// `training.init_from` (reads the other run's weights and builds the network once to check
/// that the layers asked for fit it, both shapes named if not). Nothing is written.
pub fn check_init(
    config: &ExperimentConfig,
    data: &Split,
    device: &Device,
) -> Result<(), RunError> {
    // Recording steps past the run's end (its length may depend on the data: epochs).
    let total = config.training.total_steps(data.train.len());
    if let Some(&last) = config.logging.record_at.iter().find(|&&s| s > total) {
        return Err(crate::ConfigError::new(
            Path::new("config"),
            "logging.record_at",
            format!("step {last} is past the run's end (it runs {total} steps)"),
        )
        .into());
    }
    let Some(init) = init_source(config)? else {
        return Ok(());
    };
    struct Check<'a>(&'a InitSource, Option<&'a [usize]>);
    impl NetworkVisitor for Check<'_> {
        type Output = Result<(), RunError>;
        fn refuse(self, why: apical_core::InvalidParameter) -> Self::Output {
            Err(crate::ConfigError::new(Path::new("config"), &why.key, why.message).into())
        }
        fn visit<N: Trainable>(self, net: N) -> Self::Output {
            self.0.apply(net, self.1).map(|_| ())
        }
    }
    let layers = config.training.init_layers.as_deref();
    build_network(
        &config.model,
        data.train.n_features,
        data.train.n_classes,
        config.training.seed,
        device,
        Check(&init, layers),
    )
}
