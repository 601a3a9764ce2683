//! The metric log: one row per evaluation and split, written as `metrics.csv`.

use crate::csv_log::{field, CsvLog, CsvRow};

/// One logged evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Updates completed.
    pub step: usize,
    /// Epochs completed (fractional).
    pub epoch: f64,
    /// "train" (fixed training subset) or "test".
    pub split: String,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction correct.
    pub accuracy: f64,
}

impl CsvRow for MetricRow {
    const HEADER: &'static [&'static str] = &["step", "epoch", "split", "loss", "accuracy"];

    fn step(&self) -> usize {
        self.step
    }

    fn fields(&self) -> Vec<String> {
        vec![
            self.step.to_string(),
            self.epoch.to_string(),
            self.split.clone(),
            self.loss.to_string(),
            self.accuracy.to_string(),
        ]
    }

    fn parse(f: &[&str]) -> Option<Self> {
        Some(Self {
            step: field(f[0])?,
            epoch: field(f[1])?,
            split: f[2].to_string(),
            loss: field(f[3])?,
            accuracy: field(f[4])?,
        })
    }
}

/// All evaluations of a run (`metrics.csv`).
pub type MetricLog = CsvLog<MetricRow>;

impl CsvLog<MetricRow> {
    /// `(step, value)` series of `metric` ("loss" or "accuracy") for `split`.
    pub fn series(&self, split: &str, metric: &str) -> Vec<(f64, f64)> {
        self.rows
            .iter()
            .filter(|r| r.split == split)
            .map(|r| {
                (
                    r.step as f64,
                    if metric == "loss" { r.loss } else { r.accuracy },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_log::CsvError;

    #[test]
    fn csv_round_trips_and_truncates() {
        let mut log = MetricLog::default();
        for step in [10, 20] {
            for split in ["train", "test"] {
                log.rows.push(MetricRow {
                    step,
                    epoch: step as f64 / 7.0,
                    split: split.into(),
                    loss: 0.1 / step as f64,
                    accuracy: 0.9,
                });
            }
        }
        let parsed = MetricLog::from_csv(&log.to_csv()).unwrap();
        assert_eq!(parsed, log);
        let mut cut = parsed;
        cut.truncate_after(10);
        assert_eq!(cut.rows.len(), 2);
        assert_eq!(
            log.series("test", "loss"),
            vec![(10.0, 0.01), (20.0, 0.005)]
        );
        assert!(matches!(
            MetricLog::from_csv("nope\n"),
            Err(CsvError::Header { .. })
        ));
        let header = MetricLog::header();
        assert!(matches!(
            MetricLog::from_csv(&format!("{header}\n1,2,train\n")),
            Err(CsvError::Row { line: 2, .. })
        ));
        assert!(MetricLog::from_csv(&format!("{header}\n1,x,train,0.1,0.2\n")).is_err());
    }
}
