//! Probe recordings: a network's activity on the task's probe set, written as `.npy`.
//!
//! The model's unit noise is on while recording (the same noise model as in training,
//! independent per unit and per step of inference), so trial-to-trial variability has a private
//! part as well as the stimulus noise every unit sees. The noise comes from the seeded stream
//! `(training.seed, STREAM_RECORD + step)`: a recording is a function of the weights, the
//! config and the step it is made at, so a resumed run or `apical record` repeats it exactly.
//!
//! Written per recording: every array the network records (`hidden_<l>`: final rates
//! `[trials, units]`; gfn `layer<l>_<basal|apical|rate|residual>`: `[trials, steps + 1,
//! units]`), `logits.npy`, `labels.npy`, and for perceptual tasks `signal.npy`,
//! `context.npy`. Recordings during learning (`logging.record_at`, `activity/step-<n>/`) keep
//! the rates only (`hidden_<l>`, `layer<l>_rate`), which is what the analyses read; the end
//! of the run (`activity/`) keeps every compartment.

use std::path::Path;

use apical_nn::{Network, SeededRng};
use apical_tasks::Dataset;
use burn::tensor::{Device, Tensor, TensorData};

use apical_store::{npy, recording_files, RunDir};

use crate::RunError;

/// Stream tag of the recording noise (apart from the batch-order and training-noise streams).
pub(crate) const STREAM_RECORD: u64 = 3 << 40;
/// Stream tag of the frozen-noise recording's unit noise.
pub(crate) const STREAM_FROZEN: u64 = 6 << 40;

/// The frozen-noise probe (`logging.frozen_images`): repeated zero-signal images and the image
/// each trial showed.
#[derive(Debug, Clone)]
pub struct FrozenProbe {
    /// The trials (each image `frozen_repeats` times in a row).
    pub data: Dataset,
    /// The image of each trial.
    pub image: Vec<usize>,
}

/// Records `net` on the frozen-noise probe into `dir/frozen/`: the rates (`hidden_<l>`,
/// `layer<l>_rate`), `context.npy` and `image.npy`, with the unit noise of the stream
/// `(seed, STREAM_FROZEN + step)`.
pub fn record_frozen<N: Network>(
    net: &N,
    frozen: &FrozenProbe,
    device: &Device,
    (seed, step): (u64, usize),
    dir: &Path,
) -> Result<Vec<String>, RunError> {
    let out = dir.join(recording_files::FROZEN_DIR);
    std::fs::create_dir_all(&out).map_err(|source| apical_store::StoreError::Write {
        path: out.clone(),
        source,
    })?;
    let n = frozen.data.len();
    let mut noise = SeededRng::for_stream(seed, STREAM_FROZEN + step as u64);
    let input = Tensor::<2>::from_data(
        TensorData::new(frozen.data.inputs.clone(), [n, frozen.data.n_features]),
        device,
    );
    let (_, arrays) = net.record(input, Some(&mut noise));
    let mut written = Vec::new();
    for rec in arrays {
        if !(rec.name.starts_with(recording_files::HIDDEN_STEM)
            || rec.name.ends_with(recording_files::RATE_SUFFIX))
        {
            continue;
        }
        let name = recording_files::array(&rec.name);
        npy::write_f32(&out.join(&name), &rec.shape, &rec.values)?;
        written.push(format!("{}/{name}", recording_files::FROZEN_DIR));
    }
    npy::write_i64(
        &out.join(recording_files::IMAGE),
        &[n],
        &frozen.image.iter().map(|&i| i as i64).collect::<Vec<_>>(),
    )?;
    if let Some(context) = &frozen.data.context {
        npy::write_i64(
            &out.join(recording_files::CONTEXT),
            &[n],
            &context.iter().map(|&c| c as i64).collect::<Vec<_>>(),
        )?;
    }
    written.push(format!(
        "{}/{}",
        recording_files::FROZEN_DIR,
        recording_files::IMAGE
    ));
    Ok(written)
}

/// Which recorded arrays to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every array the network records.
    All,
    /// The rates only (`hidden_<l>`, `layer<l>_rate`).
    Rates,
}

/// Records `net` on `probe` with its unit noise on (drawn from the stream of `(seed, step)`)
/// and writes the arrays into `dir`. Returns the file names written.
pub fn record<N: Network>(
    net: &N,
    probe: &Dataset,
    device: &Device,
    (seed, step): (u64, usize),
    keep: Keep,
    dir: &Path,
) -> Result<Vec<String>, RunError> {
    let n = probe.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut noise = SeededRng::for_stream(seed, STREAM_RECORD + step as u64);
    let input = Tensor::<2>::from_data(
        TensorData::new(probe.inputs.clone(), [n, probe.n_features]),
        device,
    );
    let (logits, arrays) = net.record(input, Some(&mut noise));
    let mut written = Vec::new();
    for rec in arrays {
        if keep == Keep::Rates
            && !(rec.name.starts_with(recording_files::HIDDEN_STEM)
                || rec.name.ends_with(recording_files::RATE_SUFFIX))
        {
            continue;
        }
        let name = recording_files::array(&rec.name);
        npy::write_f32(&dir.join(&name), &rec.shape, &rec.values)?;
        written.push(name);
    }
    let [rows, cols] = logits.dims();
    npy::write_f32(
        &dir.join(recording_files::LOGITS),
        &[rows, cols],
        &logits.into_data().iter::<f32>().collect::<Vec<f32>>(),
    )?;
    written.push(recording_files::LOGITS.into());
    npy::write_i64(
        &dir.join(recording_files::LABELS),
        &[n],
        &probe.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
    )?;
    written.push(recording_files::LABELS.into());
    if let Some(signal) = &probe.signal {
        npy::write_f32(&dir.join(recording_files::SIGNAL), &[n], signal)?;
        written.push(recording_files::SIGNAL.into());
    }
    if let Some(context) = &probe.context {
        npy::write_i64(
            &dir.join(recording_files::CONTEXT),
            &[n],
            &context.iter().map(|&c| c as i64).collect::<Vec<_>>(),
        )?;
        written.push(recording_files::CONTEXT.into());
    }
    Ok(written)
}

/// Records into `activity/step-<n>/` of `run` as a whole: written into a temporary directory beside it
/// and renamed into place (replacing an earlier recording of the same step, which a resumed
/// run repeats exactly), so a killed run never leaves half a recording under the real name.
pub fn record_step<N: Network>(
    net: &N,
    probe: &Dataset,
    frozen: Option<&FrozenProbe>,
    device: &Device,
    (seed, step): (u64, usize),
    run: &RunDir,
) -> Result<(), RunError> {
    let target = run.recording(step);
    let tmp = run.recording_temporary(step);
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| apical_store::StoreError::Write { path, source }
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(wrap(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(wrap(&tmp))?;
    record(net, probe, device, (seed, step), Keep::Rates, &tmp)?;
    if let Some(frozen) = frozen {
        record_frozen(net, frozen, device, (seed, step), &tmp)?;
    }
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(wrap(&target))?;
    }
    std::fs::rename(&tmp, &target).map_err(wrap(&target))?;
    Ok(())
}
