//! The metric log: one row per evaluation and split, written as `metrics.csv`.

use std::fmt::Write as _;

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

/// The CSV header.
pub const METRICS_HEADER: &str = "step,epoch,split,loss,accuracy";

/// All rows of a run, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricLog {
    /// The rows.
    pub rows: Vec<MetricRow>,
}

impl MetricLog {
    /// The log as CSV text (header + rows; floats in shortest round-trip form).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(METRICS_HEADER);
        out.push('\n');
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                r.step, r.epoch, r.split, r.loss, r.accuracy
            );
        }
        out
    }

    /// Parses CSV written by [`to_csv`](Self::to_csv).
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        match lines.next() {
            Some(h) if h.trim() == METRICS_HEADER => {}
            other => {
                return Err(format!(
                    "expected header {METRICS_HEADER:?}, found {:?}",
                    other.unwrap_or("")
                ))
            }
        }
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || {
                format!(
                    "line {}: expected 5 fields step,epoch,split,loss,accuracy, got {line:?}",
                    i + 2
                )
            };
            if f.len() != 5 {
                return Err(bad());
            }
            rows.push(MetricRow {
                step: f[0].parse().map_err(|_| bad())?,
                epoch: f[1].parse().map_err(|_| bad())?,
                split: f[2].to_string(),
                loss: f[3].parse().map_err(|_| bad())?,
                accuracy: f[4].parse().map_err(|_| bad())?,
            });
        }
        Ok(Self { rows })
    }

    /// Drops rows logged after `step` (used when resuming from a checkpoint at `step`).
    pub fn truncate_after(&mut self, step: usize) {
        self.rows.retain(|r| r.step <= step);
    }

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
        assert!(MetricLog::from_csv("nope\n").is_err());
        assert!(MetricLog::from_csv(&format!("{METRICS_HEADER}\n1,2,train\n")).is_err());
    }
}
