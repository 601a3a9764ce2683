//! `apical compare`: one config trained on several backends (ndarray and wgpu), one run
//! directory each under the comparison's directory, then their speed and how far their logged
//! losses drift apart — the check a user with a GPU runs before trusting GPU sweeps.
//!
//! Writes `compare.json` (machine-readable) and `compare.md` (the table printed to stdout):
//!
//! ```text
//! {"config": …, "steps": 500, "reference": "ndarray",
//!  "backends": [{"backend": "ndarray", "run_dir": …, "steps": 500, "wall_seconds": 2.1,
//!                "steps_per_second": 238.1, "status": "completed", "final_test_loss": 0.31}, …],
//!  "differences": [{"backend": "wgpu", "max_relative_difference": 3.1e-6, "column": "loss",
//!                   "row": 4, "values_compared": 10}]}
//! ```
//!
//! The losses compared are every column of `metrics.csv` whose name contains "loss", row by row
//! (the evaluations at `training.eval_every`; a run that diverges or stops early is compared
//! over the rows both logged, with a note); the relative difference of
//! two values a, b is |a − b| / max(|a|, |b|, 10⁻¹²). Steps per second are end to end: the run's
//! wall time, evaluations and outputs included.

use std::path::{Path, PathBuf};

use apical_nn::{init_device, BackendKind};
use serde::Serialize;

use apical_run::{start, ExperimentConfig, ProtocolKind, RunError, RunOptions, Split};
use apical_store::{write_atomic, RunDir, Summary};

use crate::ExperimentError;

fn usage(message: String) -> ExperimentError {
    ExperimentError::usage(message)
}

/// One backend's run.
#[derive(Debug, Clone, Serialize)]
pub struct BackendRun {
    /// The backend's name.
    pub backend: String,
    /// Its run directory.
    pub run_dir: PathBuf,
    /// Training steps completed.
    pub steps: usize,
    /// Wall time of the whole run, seconds.
    pub wall_seconds: f64,
    /// `steps / wall_seconds`.
    pub steps_per_second: f64,
    /// How the run ended (`completed`, `diverged`, …).
    pub status: String,
    /// The last evaluation's test loss, when the task has one.
    pub final_test_loss: Option<f64>,
}

/// How far one backend's logged losses are from the reference's (the first backend).
#[derive(Debug, Clone, Serialize)]
pub struct LossDifference {
    /// The backend compared with the reference.
    pub backend: String,
    /// The largest relative difference over every logged loss.
    pub max_relative_difference: f64,
    /// The column where it occurred.
    pub column: String,
    /// Its data row (0-based) in `metrics.csv`.
    pub row: usize,
    /// How many values were compared.
    pub values_compared: usize,
    /// Why fewer values than logged were compared (runs of different lengths, e.g. one
    /// diverged or stopped early, or different columns), when that happened.
    pub note: Option<String>,
}

/// What `compare.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The config file compared.
    pub config: PathBuf,
    /// Training steps of every run.
    pub steps: usize,
    /// The backend the others are compared with.
    pub reference: String,
    /// One entry per backend, in the order given.
    pub backends: Vec<BackendRun>,
    /// One entry per backend after the first.
    pub differences: Vec<LossDifference>,
}

impl Comparison {
    /// The table `apical compare` prints and writes to `compare.md`.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} — {} steps per backend; losses compared with {}\n\n| backend | steps/s | wall s | final test loss | max rel. loss difference |\n|---|---|---|---|---|\n",
            self.config.display(),
            self.steps,
            self.reference
        );
        for run in &self.backends {
            let difference = self
                .differences
                .iter()
                .find(|d| d.backend == run.backend)
                .map(|d| {
                    let note = d
                        .note
                        .as_deref()
                        .map(|n| format!("; {n}"))
                        .unwrap_or_default();
                    if d.values_compared == 0 {
                        format!("nothing compared{note}")
                    } else {
                        format!(
                            "{:.2e} ({} values; worst: {} row {}{note})",
                            d.max_relative_difference, d.values_compared, d.column, d.row
                        )
                    }
                })
                .unwrap_or_else(|| "reference".into());
            let loss = run
                .final_test_loss
                .map(|l| format!("{l:.6}"))
                .unwrap_or_else(|| "—".into());
            out.push_str(&format!(
                "| {} | {:.1} | {:.2} | {loss} | {difference} |\n",
                run.backend, run.steps_per_second, run.wall_seconds
            ));
        }
        out
    }
}

/// The backends named by `--backends`: known names, no repeats, at least two.
pub fn parse_backends(list: &[String]) -> Result<Vec<BackendKind>, ExperimentError> {
    let mut kinds: Vec<BackendKind> = Vec::new();
    for name in list {
        let kind: BackendKind = name.trim().parse().map_err(|_| {
            usage(format!(
                "--backends: expected ndarray or wgpu, got {:?}",
                name.trim()
            ))
        })?;
        if kinds.contains(&kind) {
            return Err(usage(format!("--backends: {} is named twice", kind.name())));
        }
        kinds.push(kind);
    }
    if kinds.len() < 2 {
        return Err(usage(
            "--backends: expected at least two backends to compare, e.g. ndarray,wgpu".into(),
        ));
    }
    Ok(kinds)
}

/// `config`, checked for comparison, with its length set to `steps` (refused when phases set
/// the length). Closed-loop (BCI) tasks and the sampling model are refused: the first logs no
/// loss, the second runs on the host whatever the backend.
pub fn with_steps(
    mut config: ExperimentConfig,
    steps: Option<usize>,
) -> Result<ExperimentConfig, ExperimentError> {
    match ProtocolKind::of(&config) {
        ProtocolKind::Supervised => {}
        ProtocolKind::ClosedLoop => {
            return Err(usage(
                "compare: closed-loop (BCI) tasks log no loss to compare; compare a supervised config"
                    .into(),
            ))
        }
        ProtocolKind::Sampling => {
            return Err(usage(
                "compare: model.kind = \"sampling\" runs on the host whatever the backend; nothing to compare"
                    .into(),
            ))
        }
    }
    let Some(steps) = steps else {
        return Ok(config);
    };
    if steps == 0 {
        return Err(usage("--steps: expected at least 1".into()));
    }
    if !config.training.phases.is_empty() {
        return Err(usage(
            "--steps: this config's training.phases set the run's length; drop --steps or the phases"
                .into(),
        ));
    }
    config.training.steps = Some(steps);
    config.training.epochs = None;
    Ok(config)
}

/// Trains `config` once per backend into `out/<backend>/` and compares the runs. Every
/// backend's device is initialised before any training, so a missing GPU adapter fails at once.
pub fn compare(
    config_path: &Path,
    config: &ExperimentConfig,
    data: &Split,
    backends: &[BackendKind],
    out: &Path,
    options: &RunOptions,
) -> Result<Comparison, ExperimentError> {
    apical_run::check_out_dir(out)?;
    // The caller built `data` (`apical_run::build_data`) and chose the threads from it
    // (`apical_run::auto_threads`) before any device starts threads of its own.
    let devices = backends
        .iter()
        .map(|&kind| init_device(kind).map(|device| (kind, device)))
        .collect::<Result<Vec<_>, _>>()?;
    for (_, device) in &devices {
        apical_run::check_init(config, data, device)?;
    }
    std::fs::create_dir_all(out).map_err(|source| apical_store::StoreError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let mut runs = Vec::with_capacity(devices.len());
    let mut metrics = Vec::with_capacity(devices.len());
    for (kind, device) in &devices {
        let mut config = config.clone();
        config.backend.kind = *kind;
        let dir = out.join(kind.name());
        eprintln!(
            "apical: compare: training on {} → {}",
            kind.name(),
            dir.display()
        );
        // The GPU run names its adapter in its provenance.
        let mut options = options.clone();
        if *kind == apical_run::BackendKind::Wgpu {
            if let Some(p) = options.provenance.as_mut() {
                p.adapter = apical_nn::wgpu_adapter_name();
            }
        }
        // A run that diverges still has its summary and metrics: report it and go on.
        let summary = match start(&config, data, device, &dir, &options) {
            Ok(run) => run.summary,
            Err(RunError::Diverged { step, quantity }) => {
                eprintln!(
                    "apical: compare: {} diverged at step {step} ({quantity})",
                    kind.name()
                );
                Summary::read(&dir)?
            }
            Err(other) => return Err(other.into()),
        };
        runs.push(backend_run(kind.name(), &dir, &summary));
        metrics.push(read_metrics(&dir)?);
    }
    let reference = &metrics[0];
    let differences = runs
        .iter()
        .zip(&metrics)
        .skip(1)
        .map(|(run, other)| loss_difference(&run.backend, reference, other))
        .collect();
    let comparison = Comparison {
        config: config_path.to_path_buf(),
        steps: runs[0].steps,
        reference: runs[0].backend.clone(),
        backends: runs,
        differences,
    };
    let json = serde_json::to_vec_pretty(&comparison).expect("the comparison serialises");
    write_atomic(&out.join("compare.json"), &json)?;
    write_atomic(&out.join("compare.md"), comparison.table().as_bytes())?;
    Ok(comparison)
}

fn backend_run(backend: &str, dir: &Path, summary: &Summary) -> BackendRun {
    let steps = summary.diverged_at_step.unwrap_or(summary.steps);
    BackendRun {
        backend: backend.to_string(),
        run_dir: dir.to_path_buf(),
        steps,
        wall_seconds: summary.wall_seconds,
        steps_per_second: steps as f64 / summary.wall_seconds.max(1e-9),
        status: format!("{:?}", summary.status).to_lowercase(),
        final_test_loss: summary.classifier.test_loss,
    }
}

/// `metrics.csv`: its header and rows of fields.
struct Metrics {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read_metrics(dir: &Path) -> Result<Metrics, ExperimentError> {
    let path = RunDir::new(dir).metrics();
    let text = std::fs::read_to_string(&path).map_err(|e| RunError::read(&path, e.to_string()))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    Ok(Metrics { header, rows })
}

/// The largest relative difference over every loss column, row by row (over the rows both runs
/// logged; a note says when they differ).
fn loss_difference(backend: &str, reference: &Metrics, other: &Metrics) -> LossDifference {
    let mut worst = LossDifference {
        backend: backend.to_string(),
        max_relative_difference: 0.0,
        column: String::new(),
        row: 0,
        values_compared: 0,
        note: None,
    };
    if reference.header != other.header {
        worst.note = Some("metrics.csv has other columns than the reference's".into());
        return worst;
    }
    if reference.rows.len() != other.rows.len() {
        worst.note = Some(format!(
            "{} rows logged vs the reference's {}; the first {} compared",
            other.rows.len(),
            reference.rows.len(),
            other.rows.len().min(reference.rows.len())
        ));
    }
    for (c, name) in reference.header.iter().enumerate() {
        if !name.contains("loss") {
            continue;
        }
        for (r, (a, b)) in reference.rows.iter().zip(&other.rows).enumerate() {
            let (Some(a), Some(b)) = (number(a.get(c)), number(b.get(c))) else {
                continue;
            };
            let difference = relative_difference(a, b);
            worst.values_compared += 1;
            if difference > worst.max_relative_difference || worst.column.is_empty() {
                worst.max_relative_difference = difference;
                worst.column = name.clone();
                worst.row = r;
            }
        }
    }
    worst
}

fn number(field: Option<&String>) -> Option<f64> {
    field.and_then(|f| f.trim().parse::<f64>().ok())
}

/// |a − b| / max(|a|, |b|, 10⁻¹²); infinite when exactly one is not finite.
pub fn relative_difference(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    if !(a.is_finite() && b.is_finite()) {
        return f64::INFINITY;
    }
    (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(rows: &[[&str; 3]]) -> Metrics {
        Metrics {
            header: vec!["step".into(), "split".into(), "loss".into()],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn the_largest_relative_loss_difference_is_found_and_located() {
        let a = metrics(&[
            ["10", "train", "2.0"],
            ["10", "test", "1.0"],
            ["20", "test", "0.5"],
        ]);
        let b = metrics(&[
            ["10", "train", "2.0"],
            ["10", "test", "1.001"],
            ["20", "test", "0.5"],
        ]);
        let d = loss_difference("wgpu", &a, &b);
        assert_eq!(d.values_compared, 3);
        assert_eq!((d.column.as_str(), d.row), ("loss", 1));
        assert!((d.max_relative_difference - 0.001 / 1.001).abs() < 1e-12);
        assert_eq!(d.note, None);
        let short = metrics(&[["10", "train", "2.5"]]);
        let d = loss_difference("wgpu", &a, &short);
        assert_eq!(d.values_compared, 1);
        assert!((d.max_relative_difference - 0.2).abs() < 1e-12);
        assert_eq!(
            d.note.as_deref(),
            Some("1 rows logged vs the reference's 3; the first 1 compared")
        );
        assert_eq!(relative_difference(1.0, f64::NAN), f64::INFINITY);
    }

    #[test]
    fn backends_must_be_known_distinct_and_at_least_two() {
        let names = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_backends(&names(&["ndarray", "wgpu"])).unwrap(),
            vec![BackendKind::Ndarray, BackendKind::Wgpu]
        );
        for (bad, says) in [
            (vec!["ndarray"], "at least two"),
            (vec!["ndarray", "ndarray"], "named twice"),
            (vec!["ndarray", "cuda"], "\"cuda\""),
        ] {
            let e = parse_backends(&names(&bad)).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("--backends"), "{e}");
        }
    }
}
