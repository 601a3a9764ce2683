//! The few-shot tables: the choice per seed on the validation split, then means with 95%
//! t-intervals, paired differences between conditions with sign-flip p-values, the area under
//! the error-vs-log(n) curve, and the plot.
//!
//! - `fewshot.csv` — one row per condition × n × seed: the chosen tuning values, the validation
//!   error and loss at the run's best-validation step, the test error at that step
//!   (`test_error`), Song et al.'s minimum test error over training (`min_test_error`; uses the
//!   test split, so for comparison with their figure only), the step, the examples.
//! - `fewshot_summary.csv` — per n × condition: mean test error with its 95% t-interval across
//!   seeds (`mean_test_error, ci_low, ci_high`), sd, seeds, mean validation and minimum test
//!   errors.
//! - `fewshot_paired.csv` — per n (and `auc`) × pair of conditions, on the seeds both have:
//!   mean difference a − b of the test error, its interval, the sign-flip p-value (exact up to
//!   16 seeds).
//! - `fewshot_auc.csv` — per condition: the area under test error vs ln n over the numeric n,
//!   divided by the ln n range (a mean error over log n), with its interval across seeds.
//! - `fewshot.{png,svg}` — test error vs log10 n, one line per condition, interval bands.

use std::collections::BTreeMap;
use std::path::Path;

use apical_analysis::{bootstrap_mean_interval, paired_comparison};

use super::{Condition, PerClass};
use crate::sweep::csv;
use apical_run::RunError;
use apical_store::plot::{line_plot, PlotSeries};
use apical_store::{write_atomic, RunDir, RunStatus, Summary};

use crate::ExperimentError;

/// The chosen run of one condition, n and seed.
#[derive(Debug, Clone)]
pub struct FewshotRow {
    /// Examples per class.
    pub n: PerClass,
    /// Config stem.
    pub config: String,
    /// Rule.
    pub rule: String,
    /// Model kind.
    pub model: String,
    /// Fine-tuned from the pretraining.
    pub pretrained: bool,
    /// Seed.
    pub seed: u64,
    /// The chosen value of each tuned key (as written in the sweep).
    pub chosen: Vec<String>,
    /// Validation error at the best-validation step (NaN when every grid point diverged).
    pub val_error: f64,
    /// Validation loss there.
    pub val_loss: f64,
    /// Test error at that step.
    pub test_error: f64,
    /// Lowest test error over the evaluations (Song et al.'s measure).
    pub min_test_error: f64,
    /// The best-validation step.
    pub best_step: usize,
    /// Labelled training examples.
    pub n_train: usize,
    /// Grid points that diverged or did not finish.
    pub failed_points: usize,
}

/// A condition's label: config, and `+pretrained`.
fn label(config: &str, pretrained: bool) -> String {
    if pretrained {
        format!("{config}+pretrained")
    } else {
        config.to_string()
    }
}

impl FewshotRow {
    /// The condition this row belongs to.
    fn key(&self) -> Key {
        (
            self.config.clone(),
            self.rule.clone(),
            self.model.clone(),
            self.pretrained,
        )
    }

    /// The condition's label.
    pub fn label(&self) -> String {
        label(&self.config, self.pretrained)
    }
}

/// Everything the tables hold.
#[derive(Debug, Clone)]
pub struct FewshotTables {
    /// The tuned keys (columns of `fewshot.csv`).
    pub tune_keys: Vec<String>,
    /// One row per condition × n × seed.
    pub rows: Vec<FewshotRow>,
    /// The n asked for.
    pub n: Vec<PerClass>,
}

/// What one finished run gives the protocol.
struct RunResult {
    val_error: f64,
    val_loss: f64,
    test_error: f64,
    min_test_error: f64,
    best_step: usize,
    n_train: usize,
}

fn read_run(dir: &Path) -> Result<Option<RunResult>, ExperimentError> {
    let summary = Summary::read(dir)?;
    if summary.status != RunStatus::Completed {
        return Ok(None);
    }
    let metrics = RunDir::new(dir).metrics();
    let text =
        std::fs::read_to_string(&metrics).map_err(|source| apical_store::StoreError::Read {
            path: metrics.clone(),
            source: source.into(),
        })?;
    let table = csv::parse(&text);
    let header = table.first().cloned().unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(step), Some(split), Some(loss), Some(accuracy)) =
        (col("step"), col("split"), col("loss"), col("accuracy"))
    else {
        return Err(
            RunError::resume(&metrics, "expected step, split, loss and accuracy columns").into(),
        );
    };
    let mut val: Vec<(usize, f64, f64)> = Vec::new();
    let mut test: BTreeMap<usize, f64> = BTreeMap::new();
    for row in table.iter().skip(1) {
        let (Some(s), Some(l), Some(a)) = (
            row.get(step).and_then(|v| v.parse::<usize>().ok()),
            row.get(loss).and_then(|v| v.parse::<f64>().ok()),
            row.get(accuracy).and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        match row.get(split).map(String::as_str) {
            Some("validation") => val.push((s, l, a)),
            Some("test") => {
                test.insert(s, a);
            }
            _ => {}
        }
    }
    // Early stopping's choice, as the run made it (summary.json's best_validation_step): the
    // highest validation accuracy, ties broken by the lower loss, then the earlier step.
    let Some(&(best_step, val_loss, val_acc)) = val.iter().min_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(a.1.total_cmp(&b.1))
            .then(a.0.cmp(&b.0))
    }) else {
        return Err(RunError::resume(
            &metrics,
            "no validation evaluations (the protocol needs task.validation_per_class)",
        )
        .into());
    };
    let Some(&test_acc) = test.get(&best_step) else {
        return Err(
            RunError::resume(&metrics, format!("no test evaluation at step {best_step}")).into(),
        );
    };
    let max_test = test.values().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok(Some(RunResult {
        val_error: 1.0 - val_acc,
        val_loss,
        test_error: 1.0 - test_acc,
        min_test_error: 1.0 - max_test,
        best_step,
        n_train: summary.classifier.n_train,
    }))
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads every finished run and makes the choice per condition, n and seed.
pub fn tabulate(
    conditions: &[Condition],
    n: &[PerClass],
    tune_keys: &[String],
) -> Result<FewshotTables, ExperimentError> {
    let mut rows = Vec::new();
    for c in conditions {
        for (seed, dir, plan) in &c.sweeps {
            for &per_class in n {
                let mut best: Option<(Vec<String>, RunResult)> = None;
                let mut failed_points = 0;
                for point in &plan.points {
                    let n_value = point
                        .swept
                        .iter()
                        .find(|(k, _)| k == "task.train_per_class")
                        .map(|(_, v)| value_text(v));
                    if n_value.as_deref() != Some(per_class.label().as_str()) {
                        continue;
                    }
                    let chosen: Vec<String> = tune_keys
                        .iter()
                        .map(|k| {
                            point
                                .swept
                                .iter()
                                .find(|(key, _)| key == k)
                                .map(|(_, v)| value_text(v))
                                .unwrap_or_default()
                        })
                        .collect();
                    match read_run(&dir.run_dir(&point.name))? {
                        None => failed_points += 1,
                        Some(r) => {
                            let better = best.as_ref().is_none_or(|(_, b)| {
                                (r.val_error, r.val_loss) < (b.val_error, b.val_loss)
                            });
                            if better {
                                best = Some((chosen, r));
                            }
                        }
                    }
                }
                let (chosen, r) = match best {
                    Some(b) => b,
                    None => (
                        vec![String::new(); tune_keys.len()],
                        RunResult {
                            val_error: f64::NAN,
                            val_loss: f64::NAN,
                            test_error: f64::NAN,
                            min_test_error: f64::NAN,
                            best_step: 0,
                            n_train: 0,
                        },
                    ),
                };
                rows.push(FewshotRow {
                    n: per_class,
                    config: c.config.clone(),
                    rule: c.rule.clone(),
                    model: c.model.clone(),
                    pretrained: c.pretrained,
                    seed: *seed,
                    chosen,
                    val_error: r.val_error,
                    val_loss: r.val_loss,
                    test_error: r.test_error,
                    min_test_error: r.min_test_error,
                    best_step: r.best_step,
                    n_train: r.n_train,
                    failed_points,
                });
            }
        }
    }
    Ok(FewshotTables {
        tune_keys: tune_keys.to_vec(),
        rows,
        n: n.to_vec(),
    })
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        String::new()
    }
}

/// Per condition: (config, rule, model, pretrained) in first-seen order.
type Key = (String, String, String, bool);

/// A condition's columns as the tables write them: rule, model, config, pretrained.
fn condition_cells(key: &Key) -> Vec<String> {
    vec![
        key.1.clone(),
        key.2.clone(),
        key.0.clone(),
        key.3.to_string(),
    ]
}

impl FewshotTables {
    fn conditions(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = Vec::new();
        for r in &self.rows {
            let k = r.key();
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }

    /// A condition's rows at n with a result (some grid point finished).
    fn finished(&self, key: &Key, n: PerClass) -> Vec<&FewshotRow> {
        self.rows
            .iter()
            .filter(|r| r.n == n && r.config == key.0 && r.pretrained == key.3)
            .filter(|r| r.test_error.is_finite())
            .collect()
    }

    /// Test errors per seed of a condition at n (finite only).
    fn errors(&self, key: &Key, n: PerClass) -> BTreeMap<u64, f64> {
        self.finished(key, n)
            .into_iter()
            .map(|r| (r.seed, r.test_error))
            .collect()
    }

    /// Per seed: the area under test error vs ln n (numeric n only), over the ln n range.
    fn auc(&self, key: &Key) -> BTreeMap<u64, f64> {
        let counts: Vec<usize> = self
            .n
            .iter()
            .filter_map(|n| match n {
                PerClass::Count(c) => Some(*c),
                PerClass::All => None,
            })
            .collect();
        let mut out = BTreeMap::new();
        if counts.len() < 2 {
            return out;
        }
        let per_n: Vec<BTreeMap<u64, f64>> = counts
            .iter()
            .map(|&c| self.errors(key, PerClass::Count(c)))
            .collect();
        let span = (counts[counts.len() - 1] as f64).ln() - (counts[0] as f64).ln();
        for seed in per_n[0].keys() {
            let ys: Option<Vec<f64>> = per_n.iter().map(|m| m.get(seed).copied()).collect();
            let Some(ys) = ys else { continue };
            let area: f64 = counts
                .windows(2)
                .zip(ys.windows(2))
                .map(|(c, y)| ((c[1] as f64).ln() - (c[0] as f64).ln()) * (y[0] + y[1]) / 2.0)
                .sum();
            out.insert(*seed, area / span);
        }
        out
    }

    /// `fewshot.csv`.
    pub fn rows_csv(&self) -> String {
        let mut header: Vec<String> = ["n", "rule", "model", "config", "pretrained", "seed"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        header.extend(self.tune_keys.iter().cloned());
        header.extend(
            [
                "val_error",
                "val_loss",
                "test_error",
                "min_test_error",
                "best_step",
                "n_train",
                "failed_points",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let mut out = csv::line(&header);
        for r in &self.rows {
            let mut cells = vec![r.n.label()];
            cells.extend(condition_cells(&r.key()));
            cells.push(r.seed.to_string());
            cells.extend(r.chosen.iter().cloned());
            cells.extend([
                num(r.val_error),
                num(r.val_loss),
                num(r.test_error),
                num(r.min_test_error),
                r.best_step.to_string(),
                r.n_train.to_string(),
                r.failed_points.to_string(),
            ]);
            out.push_str(&csv::line(&cells));
        }
        out
    }

    /// `fewshot_summary.csv`.
    pub fn summary_csv(&self) -> String {
        let mut out = csv::line(&[
            "n",
            "rule",
            "model",
            "config",
            "pretrained",
            "mean_test_error",
            "ci_low",
            "ci_high",
            "sd",
            "seeds",
            "mean_val_error",
            "mean_min_test_error",
            "mean_n_train",
        ]);
        for &n in &self.n {
            for key in self.conditions() {
                let rows = self.finished(&key, n);
                if rows.is_empty() {
                    continue;
                }
                let test: Vec<f64> = rows.iter().map(|r| r.test_error).collect();
                let m = bootstrap_mean_interval(&test);
                let mean = |f: fn(&FewshotRow) -> f64| {
                    rows.iter().map(|r| f(r)).sum::<f64>() / rows.len() as f64
                };
                let sd = if test.len() > 1 {
                    (test.iter().map(|t| (t - m.mean).powi(2)).sum::<f64>()
                        / (test.len() - 1) as f64)
                        .sqrt()
                } else {
                    f64::NAN
                };
                let mut cells = vec![n.label()];
                cells.extend(condition_cells(&key));
                cells.extend([
                    num(m.mean),
                    num(m.low),
                    num(m.high),
                    num(sd),
                    rows.len().to_string(),
                    num(mean(|r| r.val_error)),
                    num(mean(|r| r.min_test_error)),
                    num(mean(|r| r.n_train as f64)),
                ]);
                out.push_str(&csv::line(&cells));
            }
        }
        out
    }

    /// `fewshot_paired.csv`: every pair of conditions at every n, and on the AUC.
    pub fn paired_csv(&self) -> String {
        let mut out = csv::line(&[
            "n",
            "a",
            "b",
            "mean_difference",
            "ci_low",
            "ci_high",
            "p_sign_flip",
            "seeds",
        ]);
        let conditions = self.conditions();
        let mut measures: Vec<(String, Vec<BTreeMap<u64, f64>>)> = self
            .n
            .iter()
            .map(|&n| {
                (
                    n.label(),
                    conditions.iter().map(|k| self.errors(k, n)).collect(),
                )
            })
            .collect();
        measures.push((
            "auc".into(),
            conditions.iter().map(|k| self.auc(k)).collect(),
        ));
        for (n, per_condition) in measures {
            for i in 0..conditions.len() {
                for j in i + 1..conditions.len() {
                    let (a, b) = (&per_condition[i], &per_condition[j]);
                    let seeds: Vec<u64> = a.keys().filter(|s| b.contains_key(s)).copied().collect();
                    if seeds.len() < 2 {
                        continue;
                    }
                    let xa: Vec<f64> = seeds.iter().map(|s| a[s]).collect();
                    let xb: Vec<f64> = seeds.iter().map(|s| b[s]).collect();
                    let c = paired_comparison(&xa, &xb);
                    out.push_str(&csv::line(&[
                        n.clone(),
                        label(&conditions[i].0, conditions[i].3),
                        label(&conditions[j].0, conditions[j].3),
                        num(c.difference.mean),
                        num(c.difference.low),
                        num(c.difference.high),
                        num(c.p_value),
                        seeds.len().to_string(),
                    ]));
                }
            }
        }
        out
    }

    /// `fewshot_auc.csv`.
    pub fn auc_csv(&self) -> String {
        let mut out = csv::line(&[
            "rule",
            "model",
            "config",
            "pretrained",
            "auc",
            "ci_low",
            "ci_high",
            "seeds",
        ]);
        for key in self.conditions() {
            let values: Vec<f64> = self.auc(&key).into_values().collect();
            if values.is_empty() {
                continue;
            }
            let m = bootstrap_mean_interval(&values);
            let mut cells = condition_cells(&key);
            cells.extend([
                num(m.mean),
                num(m.low),
                num(m.high),
                values.len().to_string(),
            ]);
            out.push_str(&csv::line(&cells));
        }
        out
    }

    /// Writes the four tables and the plot into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), ExperimentError> {
        write_atomic(&dir.join("fewshot.csv"), self.rows_csv().as_bytes())?;
        write_atomic(
            &dir.join("fewshot_summary.csv"),
            self.summary_csv().as_bytes(),
        )?;
        write_atomic(
            &dir.join("fewshot_paired.csv"),
            self.paired_csv().as_bytes(),
        )?;
        write_atomic(&dir.join("fewshot_auc.csv"), self.auc_csv().as_bytes())?;
        let mut series = Vec::new();
        for key in self.conditions() {
            let mut s = PlotSeries::line(label(&key.0, key.3), Vec::new());
            for &n in &self.n {
                let rows = self.finished(&key, n);
                if rows.is_empty() {
                    continue;
                }
                // "all" sits at its mean examples per class.
                let x = match n {
                    PerClass::Count(c) => c as f64,
                    PerClass::All => {
                        rows.iter().map(|r| r.n_train as f64).sum::<f64>()
                            / rows.len() as f64
                            / self.n_classes(&key).max(1) as f64
                    }
                };
                let test: Vec<f64> = rows.iter().map(|r| r.test_error).collect();
                let m = bootstrap_mean_interval(&test);
                s.points.push((x.log10(), m.mean));
                s.band.push((x.log10(), m.low, m.high));
            }
            series.push(s);
        }
        Ok(line_plot(
            dir,
            "fewshot",
            "few-shot learning: test error at the best-validation step",
            "labelled examples per class (log10)",
            "test error",
            Some((0.0, 1.0)),
            &series,
        )?)
    }

    /// Classes of a condition's task, from its rows: n_train / n at a numeric n.
    fn n_classes(&self, key: &Key) -> usize {
        self.rows
            .iter()
            .filter(|r| r.config == key.0 && r.pretrained == key.3 && r.n_train > 0)
            .find_map(|r| match r.n {
                PerClass::Count(c) if c > 0 => Some(r.n_train / c),
                _ => None,
            })
            .unwrap_or(1)
    }
}
