//! `apical collect`: one table of a sweep's runs (`results.csv`), the same aggregated over
//! seeds with 95% t-intervals (`aggregate.csv`), and a plot of a metric against the first axis
//! with one line (and interval band) per group.

use std::collections::BTreeMap;
use std::path::Path;

use apical_analysis::bootstrap_mean_interval;
pub use apical_analysis::MIN_FOR_INTERVAL;

use crate::sweep::csv;
use crate::sweep::SEED_KEY;
use apical_run::RunError;
use apical_store::plot::{line_plot, PlotSeries};
use apical_store::{write_atomic, ClassifierSummary, ClosedLoopSummary, Summary};

use crate::ExperimentError;

/// The runs of one group of `aggregate.csv`.
#[derive(Debug, Clone, Default)]
struct GroupRuns {
    completed: usize,
    diverged: usize,
    not_finished: usize,
    /// Per metric, the values of the completed runs.
    values: Vec<Vec<f64>>,
}

/// A group's mean with its 95% interval: (mean, low, high).
type Interval = (f64, f64, f64);

/// What `apical collect` computes.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Group by these swept keys (default: every swept key but the seed).
    pub by: Option<Vec<String>>,
    /// Metrics to aggregate and plot (the first is plotted).
    pub metrics: Vec<String>,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self {
            by: None,
            metrics: vec!["test_accuracy".into(), "test_loss".into()],
        }
    }
}

/// What `collect` found.
#[derive(Debug, Clone, Default)]
pub struct CollectOutcome {
    /// Runs in `results.csv`.
    pub runs: usize,
    /// Runs with a summary.
    pub finished: usize,
    /// Groups in `aggregate.csv`.
    pub groups: usize,
    /// Groups (by their `--by` values) with a metric of fewer than three finished runs: no
    /// interval for them.
    pub without_interval: Vec<String>,
}

/// A JSON object's entries in the order written (serde_json's own map sorts them).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// A summary's fields in declaration order.
fn fields(summary: &Summary) -> Vec<(String, serde_json::Value)> {
    let text = serde_json::to_string(summary).expect("a Summary serialises");
    serde_json::from_str::<Ordered>(&text)
        .expect("a serialised Summary is an object")
        .0
}

/// The scalar fields of `summary.json`, in declaration order: those that are not lists even
/// when every list is present (the file's `schema_version` is not a result).
fn scalar_names() -> Vec<String> {
    let template = Summary {
        classifier: ClassifierSummary {
            accuracy_by_signal: Some(Vec::new()),
            mean_angle_to_backprop_deg: Some(Vec::new()),
            ..ClassifierSummary::default()
        },
        closed_loop: ClosedLoopSummary {
            success_by_day: Some(Vec::new()),
            rewards_per_day: Some(Vec::new()),
            ..ClosedLoopSummary::default()
        },
        ..Summary::default()
    };
    fields(&template)
        .into_iter()
        .filter(|(k, v)| !v.is_array() && !v.is_object() && k != "schema_version")
        .map(|(k, _)| k)
        .collect()
}

/// The numeric scalar fields of `summary.json` (what `--metric` may name).
fn numeric_names() -> Vec<String> {
    let template = Summary {
        diverged_at_step: Some(0),
        resumed_from_step: Some(0),
        classifier: ClassifierSummary {
            test_accuracy: Some(0.0),
            test_loss: Some(0.0),
            train_accuracy: Some(0.0),
            train_loss: Some(0.0),
            validation_accuracy: Some(0.0),
            validation_loss: Some(0.0),
            n_validation: Some(0),
            best_validation_step: Some(0),
            best_validation_loss: Some(0.0),
            test_accuracy_at_best_validation: Some(0.0),
            ..ClassifierSummary::default()
        },
        closed_loop: ClosedLoopSummary {
            chance: Some(0.0),
            threshold: Some(0.0),
            late_success: Some(0.0),
            ..ClosedLoopSummary::default()
        },
        ..Summary::default()
    };
    let scalar = scalar_names();
    fields(&template)
        .into_iter()
        .filter(|(k, v)| v.is_number() && scalar.contains(k))
        .map(|(k, _)| k)
        .collect()
}

/// `summary`'s value of each of `names`, as CSV text (empty for none).
fn scalars(summary: &Summary, names: &[String]) -> Vec<(String, String)> {
    let all: BTreeMap<String, serde_json::Value> = fields(summary).into_iter().collect();
    names
        .iter()
        .map(|name| {
            let text = match all.get(name) {
                Some(serde_json::Value::Bool(b)) => b.to_string(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            (name.clone(), text)
        })
        .collect()
}

/// Reads `points.csv` and every run's `summary.json` in `sweep_dir`; writes `results.csv`,
/// `aggregate.csv` and `<metric>.png|svg` there.
pub fn collect(
    sweep_dir: &Path,
    options: &CollectOptions,
) -> Result<CollectOutcome, ExperimentError> {
    let points_path = sweep_dir.join("points.csv");
    let text =
        std::fs::read_to_string(&points_path).map_err(|e| apical_store::StoreError::Read {
            path: points_path.clone(),
            source: format!("{e} (is this a sweep directory written by `apical sweep`?)").into(),
        })?;
    let rows = csv::parse(&text);
    let Some((header, points)) = rows.split_first() else {
        return Err(RunError::read(&points_path, "empty").into());
    };
    if header.first().map(String::as_str) != Some("point")
        || header.last().map(String::as_str) != Some("overrides")
    {
        return Err(RunError::read(
            &points_path,
            "expected the header point,<swept keys>,overrides",
        )
        .into());
    }
    let keys: Vec<String> = header[1..header.len() - 1].to_vec();
    let by: Vec<String> = match &options.by {
        Some(by) => {
            for k in by {
                if !keys.contains(k) {
                    return Err(RunError::Usage {
                        message: format!(
                            "--by {k}: not a swept key of this sweep (swept: {})",
                            keys.join(", ")
                        ),
                    }
                    .into());
                }
            }
            by.clone()
        }
        None => keys.iter().filter(|k| *k != SEED_KEY).cloned().collect(),
    };
    let names = scalar_names();
    let numeric = numeric_names();
    let mut metrics: Vec<String> = Vec::new();
    for m in &options.metrics {
        if !metrics.contains(m) {
            metrics.push(m.clone());
        }
    }
    let options = &CollectOptions {
        by: options.by.as_ref().map(|by| {
            let mut unique: Vec<String> = Vec::new();
            for k in by {
                if !unique.contains(k) {
                    unique.push(k.clone());
                }
            }
            unique
        }),
        metrics,
    };
    if options.metrics.is_empty() {
        return Err(RunError::Usage {
            message: "--metric: name at least one scalar of summary.json (e.g. test_accuracy)"
                .into(),
        }
        .into());
    }
    for m in &options.metrics {
        if !numeric.contains(m) {
            return Err(RunError::Usage {
                message: format!(
                    "--metric {m}: not a numeric field of summary.json (one of: {})",
                    numeric.join(", ")
                ),
            }
            .into());
        }
    }
    // results.csv
    let mut out_header = vec!["point".to_string()];
    out_header.extend(keys.iter().cloned());
    out_header.extend(names.iter().cloned());
    let mut results = csv::line(&out_header);
    // group (values of `by`) → metric → values
    let mut groups: BTreeMap<Vec<String>, GroupRuns> = BTreeMap::new();
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut outcome = CollectOutcome::default();
    for row in points {
        if row.len() != header.len() {
            return Err(RunError::read(
                &points_path,
                format!(
                    "row {:?} has {} cells, the header {}",
                    row.first(),
                    row.len(),
                    header.len()
                ),
            )
            .into());
        }
        let point = &row[0];
        let values = &row[1..row.len() - 1];
        let summary = Summary::read(&sweep_dir.join("runs").join(point)).ok();
        let mut line = vec![point.clone()];
        line.extend(values.iter().cloned());
        match &summary {
            Some(s) => line.extend(scalars(s, &names).into_iter().map(|(_, v)| v)),
            None => line.extend(names.iter().map(|n| {
                if n == "status" {
                    "not-finished".to_string()
                } else {
                    String::new()
                }
            })),
        }
        results.push_str(&csv::line(&line));
        outcome.runs += 1;
        let group: Vec<String> = by
            .iter()
            .map(|k| values[keys.iter().position(|x| x == k).expect("checked")].clone())
            .collect();
        if !groups.contains_key(&group) {
            order.push(group.clone());
        }
        let entry = groups.entry(group).or_insert_with(|| GroupRuns {
            values: vec![Vec::new(); options.metrics.len()],
            ..GroupRuns::default()
        });
        match &summary {
            None => entry.not_finished += 1,
            Some(s) if s.status == apical_store::RunStatus::Diverged => {
                outcome.finished += 1;
                entry.diverged += 1;
            }
            Some(_) => {
                outcome.finished += 1;
                entry.completed += 1;
            }
        }
        if let Some(s) = summary
            .as_ref()
            .filter(|s| s.status == apical_store::RunStatus::Completed)
        {
            let scalars: BTreeMap<String, String> = scalars(s, &names).into_iter().collect();
            for (i, m) in options.metrics.iter().enumerate() {
                if let Some(v) = scalars
                    .get(m)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                {
                    entry.values[i].push(v);
                }
            }
        }
    }
    write_atomic(&sweep_dir.join("results.csv"), results.as_bytes())?;
    // aggregate.csv
    let mut agg_header: Vec<String> = by.clone();
    // n: completed runs (the statistics are over these); diverged and unfinished runs are
    // counted beside them, never silently dropped.
    agg_header.extend([
        "n".to_string(),
        "n_diverged".into(),
        "n_not_finished".into(),
    ]);
    for m in &options.metrics {
        for suffix in ["mean", "sd", "ci_low", "ci_high"] {
            agg_header.push(format!("{m}_{suffix}"));
        }
    }
    let mut aggregate = csv::line(&agg_header);
    let fmt = |v: f64| {
        if v.is_finite() {
            v.to_string()
        } else {
            String::new()
        }
    };
    let mut stats: Vec<(Vec<String>, Vec<Option<Interval>>)> = Vec::new();
    for group in &order {
        let runs = &groups[group];
        let per_metric = &runs.values;
        let mut line = group.clone();
        line.extend([
            runs.completed.to_string(),
            runs.diverged.to_string(),
            runs.not_finished.to_string(),
        ]);
        let mut group_stats = Vec::new();
        for values in per_metric {
            if values.is_empty() {
                line.extend(std::iter::repeat_n(String::new(), 4));
                group_stats.push(None);
                continue;
            }
            if values.len() < MIN_FOR_INTERVAL {
                outcome.without_interval.push(group.join(","));
            }
            let mi = bootstrap_mean_interval(values);
            let sd = if values.len() > 1 {
                (values.iter().map(|v| (v - mi.mean).powi(2)).sum::<f64>()
                    / (values.len() - 1) as f64)
                    .sqrt()
            } else {
                f64::NAN
            };
            line.extend([fmt(mi.mean), fmt(sd), fmt(mi.low), fmt(mi.high)]);
            group_stats.push(Some((mi.mean, mi.low, mi.high)));
        }
        aggregate.push_str(&csv::line(&line));
        stats.push((group.clone(), group_stats));
    }
    write_atomic(&sweep_dir.join("aggregate.csv"), aggregate.as_bytes())?;
    outcome.groups = order.len();
    // The plot: the first metric against the first grouping key, one line per group of the rest.
    if let (Some(metric), Some(x_key)) = (options.metrics.first(), by.first()) {
        let x_values: Vec<String> = {
            let mut v: Vec<String> = Vec::new();
            for g in &order {
                if !v.contains(&g[0]) {
                    v.push(g[0].clone());
                }
            }
            v
        };
        let numeric = x_values.iter().all(|v| v.parse::<f64>().is_ok());
        let x_of = |v: &str| -> f64 {
            if numeric {
                v.parse().expect("checked numeric")
            } else {
                x_values.iter().position(|x| x == v).expect("listed") as f64
            }
        };
        let mut lines: BTreeMap<Vec<String>, PlotSeries> = BTreeMap::new();
        for (group, group_stats) in &stats {
            let Some((mean, low, high)) = group_stats[0] else {
                continue;
            };
            let rest = group[1..].to_vec();
            let name = if rest.is_empty() {
                metric.clone()
            } else {
                by[1..]
                    .iter()
                    .zip(&rest)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let series = lines.entry(rest).or_insert_with(|| PlotSeries {
                name,
                ..PlotSeries::default()
            });
            let x = x_of(&group[0]);
            series.points.push((x, mean));
            series.band.push((x, low, high));
        }
        let mut series: Vec<PlotSeries> = lines.into_values().collect();
        for s in &mut series {
            s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            s.band.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let x_desc = if numeric {
            x_key.clone()
        } else {
            format!(
                "{x_key}: {}",
                x_values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("{i} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        line_plot(
            sweep_dir,
            metric,
            &format!("{metric}: mean and 95% bootstrap interval over the runs of each group"),
            &x_desc,
            metric,
            None,
            &series,
        )?;
    }
    Ok(outcome)
}
