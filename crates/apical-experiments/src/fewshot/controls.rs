//! `apical fewshot-controls`: the few-label controls that learn no features — raw-pixel nearest
//! neighbour, and principal components fitted on the unlabelled pool (every training image of
//! the task, no labels) read out by the nearest neighbour or by a closed-form ridge probe.
//!
//! For each seed and n, the labelled set is the same draw `apical fewshot` trains on
//! (`task.train_per_class = n`, `task.subset_seed = seed`), and the test split is the task's.
//! Hyper-parameters (the number of components; the ridge penalty) are chosen by 3-fold
//! cross-validation inside the labelled set (each class in every fold; ties to the earlier grid
//! point); below 3 per class, where folds cannot hold every class, the choice made at n = 3 for
//! the same seed is used (and the row says so). The test split is never used for a choice.
//! Writes `controls.csv` (one row per n × method × seed) and `controls_summary.csv` (mean test
//! error with its bootstrap interval over seeds, none under 3 seeds).

use std::path::Path;

use apical_analysis::{
    bootstrap_mean_interval, cv_fold_of, error_rate, nearest_neighbour, Pca, RidgeProbe,
};
use apical_run::{ConfigError, ExperimentConfig, RunError};
use apical_store::write_atomic;
use apical_tasks::Dataset;
use nalgebra::DMatrix;

use crate::ExperimentError;

/// Components tried by the PCA controls (capped at the pool's width).
pub const PCA_DIMS: [usize; 5] = [5, 10, 20, 50, 100];
/// Ridge penalties tried by the probe.
pub const LAMBDAS: [f64; 5] = [0.01, 0.1, 1.0, 10.0, 100.0];
/// Folds of the cross-validation inside the labelled set.
pub const FOLDS: usize = 3;

/// The three controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Control {
    /// Nearest neighbour on the raw pixels (nothing to choose).
    PixelNearestNeighbour,
    /// Nearest neighbour on the pool's first k principal components (k chosen).
    PcaNearestNeighbour,
    /// Ridge probe on the pool's first k principal components (k and λ chosen).
    PcaRidgeProbe,
}

impl Control {
    /// Every control, in table order.
    pub const ALL: [Control; 3] = [
        Control::PixelNearestNeighbour,
        Control::PcaNearestNeighbour,
        Control::PcaRidgeProbe,
    ];

    /// The name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Control::PixelNearestNeighbour => "pixel-1nn",
            Control::PcaNearestNeighbour => "pca-1nn",
            Control::PcaRidgeProbe => "pca-ridge-probe",
        }
    }
}

/// One control on one labelled set.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlRow {
    /// Labelled examples per class.
    pub n: usize,
    /// The control.
    pub control: Control,
    /// The seed of the labelled draw.
    pub seed: u64,
    /// Test error of the control fitted on the whole labelled set with the chosen settings.
    pub test_error: f64,
    /// Principal components used (PCA controls).
    pub pca_dim: Option<usize>,
    /// Ridge penalty used (the probe).
    pub lambda: Option<f64>,
    /// The cross-validated error of the choice (`None` where nothing was chosen or the choice
    /// came from n = 3).
    pub cv_error: Option<f64>,
    /// Where the settings came from: "cv", "n=3" (too few per class for folds) or "none".
    pub chosen_by: &'static str,
}

fn matrix(data: &Dataset) -> DMatrix<f64> {
    DMatrix::from_fn(data.len(), data.n_features, |r, c| {
        data.inputs[r * data.n_features + c] as f64
    })
}

fn rows(x: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    x.select_rows(idx)
}

/// Settings of one control: (components, penalty).
type Setting = (Option<usize>, Option<f64>);

fn grid(control: Control, max_dim: usize) -> Vec<Setting> {
    let dims: Vec<usize> = PCA_DIMS.iter().copied().filter(|&k| k <= max_dim).collect();
    match control {
        Control::PixelNearestNeighbour => vec![(None, None)],
        Control::PcaNearestNeighbour => dims.iter().map(|&k| (Some(k), None)).collect(),
        Control::PcaRidgeProbe => dims
            .iter()
            .flat_map(|&k| LAMBDAS.iter().map(move |&l| (Some(k), Some(l))))
            .collect(),
    }
}

/// Test error of `control` with `setting`, fitted on (`train`, `labels`).
fn evaluate(
    control: Control,
    setting: Setting,
    pca: &Pca,
    (train, labels): (&DMatrix<f64>, &[usize]),
    (test, truth): (&DMatrix<f64>, &[usize]),
    n_classes: usize,
) -> f64 {
    let predicted = match (control, setting) {
        (Control::PixelNearestNeighbour, _) => nearest_neighbour(train, labels, test),
        (Control::PcaNearestNeighbour, (Some(k), _)) => {
            nearest_neighbour(&pca.project(train, k), labels, &pca.project(test, k))
        }
        (Control::PcaRidgeProbe, (Some(k), Some(lambda))) => {
            RidgeProbe::fit(&pca.project(train, k), labels, n_classes, lambda)
                .predict(&pca.project(test, k))
        }
        _ => unreachable!("a setting for every control"),
    };
    error_rate(&predicted, truth)
}

/// The setting with the lowest mean error over the folds of the labelled set.
fn cross_validate(
    control: Control,
    pca: &Pca,
    x: &DMatrix<f64>,
    labels: &[usize],
    n_classes: usize,
) -> (Setting, f64) {
    let folds = cv_fold_of(labels, FOLDS);
    let mut best: Option<(Setting, f64)> = None;
    for setting in grid(control, pca.components.ncols()) {
        let mut total = 0.0;
        for fold in 0..FOLDS {
            let (held, kept): (Vec<usize>, Vec<usize>) =
                (0..labels.len()).partition(|&i| folds[i] == fold);
            let pick = |idx: &[usize]| idx.iter().map(|&i| labels[i]).collect::<Vec<_>>();
            total += evaluate(
                control,
                setting,
                pca,
                (&rows(x, &kept), &pick(&kept)),
                (&rows(x, &held), &pick(&held)),
                n_classes,
            );
        }
        let error = total / FOLDS as f64;
        if best.is_none_or(|(_, e)| error < e) {
            best = Some((setting, error));
        }
    }
    best.expect("a non-empty grid")
}

/// The config at `path` with `overrides`, for labelled set n of seed `seed` (`None`: the pool,
/// every training image).
fn config_for(
    path: &Path,
    overrides: &[String],
    subset: Option<(usize, u64)>,
) -> Result<ExperimentConfig, RunError> {
    let mut set = overrides.to_vec();
    if let Some((n, seed)) = subset {
        set.push(format!("task.train_per_class={n}"));
        set.push(format!("task.subset_seed={seed}"));
    }
    let mut config = ExperimentConfig::load(path, &set)?;
    if subset.is_none() {
        config.task.clear_subset();
    }
    Ok(config)
}

/// Runs the controls for every n and seed on the task of the config at `path` (with `overrides`)
/// and writes the two tables into `out`. Returns the rows.
pub fn run_controls(
    path: &Path,
    overrides: &[String],
    n: &[usize],
    seeds: &[u64],
    out: &Path,
) -> Result<Vec<ControlRow>, ExperimentError> {
    let pool_config = config_for(path, overrides, None)?;
    if pool_config.task.is_closed_loop() {
        return Err(ConfigError::new(
            path,
            "task.kind",
            "fewshot-controls needs a labelled task (digits, idx, mnist, orientation), not the closed-loop bci task",
        )
        .into());
    }
    // Every labelled set is checked before any work (a class with too few examples is refused
    // naming the key).
    let mut plan = Vec::new();
    for &seed in seeds {
        for &count in n {
            plan.push((
                count,
                seed,
                config_for(path, overrides, Some((count, seed)))?,
            ));
        }
    }
    let pool = pool_config.task.build()?;
    let pool_x = matrix(&pool.train);
    let max_dim = PCA_DIMS
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .min(pool_x.ncols());
    let pca = Pca::fit(&pool_x, max_dim);
    let test_x = matrix(&pool.test);
    let n_classes = pool.train.n_classes;
    let mut rows_out = Vec::new();
    let mut at_three: std::collections::HashMap<(u64, Control), Setting> = Default::default();
    // n = 3 first for each seed, so that smaller n can take its choice.
    let mut order: Vec<usize> = (0..plan.len()).collect();
    order.sort_by_key(|&i| (plan[i].1, plan[i].0 < FOLDS, plan[i].0));
    for i in order {
        let (count, seed, config) = &plan[i];
        let split = config.task.build()?;
        let x = matrix(&split.train);
        for control in Control::ALL {
            let (setting, cv_error, chosen_by) = if control == Control::PixelNearestNeighbour {
                ((None, None), None, "none")
            } else if *count >= FOLDS {
                let (s, e) = cross_validate(control, &pca, &x, &split.train.labels, n_classes);
                if *count == FOLDS {
                    at_three.insert((*seed, control), s);
                }
                (s, Some(e), "cv")
            } else {
                let s = match at_three.get(&(*seed, control)) {
                    Some(s) => *s,
                    None => {
                        let three = config_for(path, overrides, Some((FOLDS, *seed)))?
                            .task
                            .build()?;
                        let s = cross_validate(
                            control,
                            &pca,
                            &matrix(&three.train),
                            &three.train.labels,
                            n_classes,
                        )
                        .0;
                        at_three.insert((*seed, control), s);
                        s
                    }
                };
                (s, None, "n=3")
            };
            let test_error = evaluate(
                control,
                setting,
                &pca,
                (&x, &split.train.labels),
                (&test_x, &pool.test.labels),
                n_classes,
            );
            rows_out.push(ControlRow {
                n: *count,
                control,
                seed: *seed,
                test_error,
                pca_dim: setting.0,
                lambda: setting.1,
                cv_error,
                chosen_by,
            });
        }
    }
    rows_out.sort_by_key(|r| (r.n, r.control, r.seed));
    std::fs::create_dir_all(out).map_err(|source| apical_store::StoreError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    write_atomic(
        &out.join("controls.csv"),
        controls_csv(&rows_out).as_bytes(),
    )?;
    write_atomic(
        &out.join("controls_summary.csv"),
        summary_csv(&rows_out).as_bytes(),
    )?;
    Ok(rows_out)
}

fn num(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| format!("{v}"))
        .unwrap_or_default()
}

/// `controls.csv`.
pub fn controls_csv(rows: &[ControlRow]) -> String {
    let mut out = String::from("n,control,seed,test_error,pca_dim,lambda,cv_error,chosen_by\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.n,
            r.control.name(),
            r.seed,
            r.test_error,
            r.pca_dim.map(|k| k.to_string()).unwrap_or_default(),
            num(r.lambda),
            num(r.cv_error),
            r.chosen_by
        ));
    }
    out
}

/// `controls_summary.csv`: per n × control, the mean test error and its interval over seeds.
pub fn summary_csv(rows: &[ControlRow]) -> String {
    let mut out = String::from("n,control,mean_test_error,ci_low,ci_high,seeds\n");
    let mut keys: Vec<(usize, Control)> = rows.iter().map(|r| (r.n, r.control)).collect();
    keys.dedup();
    keys.sort();
    keys.dedup();
    for (n, control) in keys {
        let errors: Vec<f64> = rows
            .iter()
            .filter(|r| r.n == n && r.control == control)
            .map(|r| r.test_error)
            .collect();
        // No interval under 3 seeds (the bootstrap's NaN → an empty cell).
        let m = bootstrap_mean_interval(&errors);
        out.push_str(&format!(
            "{n},{},{},{},{},{}\n",
            control.name(),
            m.mean,
            num(Some(m.low)),
            num(Some(m.high)),
            errors.len()
        ));
    }
    out
}
