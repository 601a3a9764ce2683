//! What every run shares, whatever its protocol: the run directory and its lock, the caller's
//! options (the signal flag, `--halt-after`, the progress bar), checkpoints (save, restore with
//! fallback past damaged ones, the network and learner state in them), and the run's end —
//! completed or diverged — written as `summary.json`.

use std::path::Path;
use std::sync::atomic::Ordering;

use apical_learn::Learner;
use apical_store::{RunDir, RunLock, RunStatus, Summary};
use burn::tensor::Device;

use crate::checkpoint::{self, Checkpoint, LoopState};
use crate::{RunError, RunOptions, RunSummary};

/// One run in its directory: held (locked) for as long as the session lives.
pub struct Session<'a> {
    dir: RunDir,
    options: &'a RunOptions,
    resume: bool,
    keep_checkpoints: usize,
    _lock: RunLock,
}

impl<'a> Session<'a> {
    /// A session in `dir`, whose `lock` the caller holds; `resume` continues what is there.
    pub fn new(
        dir: &Path,
        options: &'a RunOptions,
        resume: bool,
        keep_checkpoints: usize,
        lock: RunLock,
    ) -> Self {
        Self {
            dir: RunDir::new(dir),
            options,
            resume,
            keep_checkpoints,
            _lock: lock,
        }
    }

    /// The run directory.
    pub fn dir(&self) -> &RunDir {
        &self.dir
    }

    /// The caller's options.
    pub fn options(&self) -> &'a RunOptions {
        self.options
    }

    /// Whether this session continues a run (`apical resume`).
    pub fn is_resume(&self) -> bool {
        self.resume
    }

    /// The signal (SIGINT 2, SIGTERM 15) that asked the run to stop, if one did.
    pub fn stop_signal(&self) -> Option<i32> {
        self.options
            .stop
            .as_ref()
            .map(|s| s.load(Ordering::SeqCst) as i32)
            .filter(|&s| s != 0)
    }

    /// The error of a run stopped by `signal` before `step`.
    pub fn interrupted(&self, signal: i32, step: usize) -> RunError {
        RunError::Interrupted {
            signal,
            step,
            dir: self.dir.root().to_path_buf(),
        }
    }

    /// `Err(Interrupted)` once a signal asked the run to stop (before `step`).
    pub fn check_stop(&self, step: usize) -> Result<(), RunError> {
        match self.stop_signal() {
            Some(signal) => Err(self.interrupted(signal, step)),
            None => Ok(()),
        }
    }

    /// `Err(Halted)` right after `done` of `total` units of work (steps, days) when
    /// `--halt-after` asked for it.
    pub fn check_halt(&self, done: usize, total: usize) -> Result<(), RunError> {
        if self.options.halt_after == Some(done) && done < total {
            return Err(RunError::Halted {
                step: done,
                dir: self.dir.root().to_path_buf(),
            });
        }
        Ok(())
    }

    /// Whether the run has any checkpoint. The newest one of another format (written by another
    /// version of apical) is refused here, before a protocol does any work to continue it.
    pub fn has_checkpoint(&self) -> Result<bool, RunError> {
        let all = checkpoint::list(&self.dir.checkpoints())?;
        if let Some((_, newest)) = all.last() {
            checkpoint::check_format(newest)?;
        }
        Ok(!all.is_empty())
    }

    /// Loads the newest usable checkpoint through `apply`, falling back past damaged ones
    /// (saying which, and setting them aside so that pruning never keeps them in place of good
    /// ones). Returns its step; `None` when the run has no checkpoint yet; an error when every
    /// one is damaged, or at once when one is of another checkpoint format (written by another
    /// version of apical: never set aside as damaged).
    pub fn restore(
        &self,
        mut apply: impl FnMut(Checkpoint) -> Result<(), RunError>,
    ) -> Result<Option<usize>, RunError> {
        let root = self.dir.checkpoints();
        let all = checkpoint::list(&root)?;
        if all.is_empty() {
            eprintln!(
                "apical: no checkpoint yet in {}; starting from step 0",
                root.display()
            );
            return Ok(None);
        }
        for (i, (step, path)) in all.iter().enumerate().rev() {
            checkpoint::check_format(path)?;
            match checkpoint::load(path).and_then(&mut apply) {
                Ok(()) => {
                    if i + 1 < all.len() {
                        eprintln!(
                            "apical: resuming from the older checkpoint {}",
                            path.display()
                        );
                        for (_, damaged) in &all[i + 1..] {
                            let name = damaged
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            let aside = self.dir.set_aside_checkpoint(&name);
                            if std::fs::rename(damaged, &aside).is_ok() {
                                eprintln!(
                                    "apical: kept the damaged checkpoint as {}",
                                    aside.display()
                                );
                            }
                        }
                    }
                    return Ok(Some(*step));
                }
                Err(e) => eprintln!(
                    "apical: warning: checkpoint {} is unusable: {e}",
                    path.display()
                ),
            }
        }
        Err(RunError::resume(
            &root,
            "no usable checkpoint (every one is damaged); start the run again",
        ))
    }

    /// `net` with the checkpoint's weights, and `learner` with its optimizer and rule state
    /// (on `device`).
    pub fn load_learning<N: apical_nn::Classifier>(
        &self,
        net: &N,
        learner: &mut Learner<N>,
        ck: Checkpoint,
        device: &Device,
    ) -> Result<N, RunError> {
        let path = self.dir.checkpoints();
        let net = checkpoint::load_module(net, ck.model, &path)?;
        learner
            .load_state_bytes(&ck.rule, &ck.optimizer, device)
            .map_err(|e| apical_store::StoreError::Resume {
                path,
                source: e.into(),
            })?;
        Ok(net)
    }

    /// Writes a checkpoint of `net`, `learner` and the loop's `state`, keeping the newest
    /// `training.keep_checkpoints` besides the `pinned` steps'.
    pub fn save_checkpoint<N: apical_nn::Classifier>(
        &self,
        net: &N,
        learner: &Learner<N>,
        state: LoopState,
        pinned: &[usize],
    ) -> Result<(), RunError> {
        let root = self.dir.checkpoints();
        let ck = Checkpoint {
            state,
            model: checkpoint::module_bytes(net, &root)?,
            optimizer: learner.optimizer_state_bytes(),
            rule: learner.rule_state_bytes(),
        };
        checkpoint::save(&root, &ck, self.keep_checkpoints, pinned)?;
        Ok(())
    }

    /// Ends a run whose `quantity` became non-finite at `step`: writes `summary` marked
    /// diverged and returns the error.
    pub fn diverged(
        &self,
        mut summary: Summary,
        step: usize,
        quantity: &'static str,
    ) -> Result<RunSummary, RunError> {
        summary.provenance = self.options.provenance.clone();
        summary.status = RunStatus::Diverged;
        summary.diverged_at_step = Some(step);
        summary.diverged_quantity = Some(quantity.to_string());
        summary.write(self.dir.root())?;
        Err(RunError::Diverged { step, quantity })
    }

    /// Ends a completed run: writes `summary.json` (last: a complete one marks a finished run).
    pub fn finish(&self, mut summary: Summary) -> Result<RunSummary, RunError> {
        summary.provenance = self.options.provenance.clone();
        summary.write(self.dir.root())?;
        Ok(RunSummary {
            dir: self.dir.root().to_path_buf(),
            summary,
        })
    }
}
