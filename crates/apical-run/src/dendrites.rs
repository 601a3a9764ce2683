//! Dendritic-compartment statistics of a gfn logged at each evaluation: per hidden layer, the
//! mean |apical input| and the mean and spread of the dendritic residual over the feedback
//! steps of inference on the test set. Written as `dendrites.csv`.

use std::fmt::Write as _;

/// One evaluation's statistics for one hidden layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DendriteRow {
    /// Updates completed.
    pub step: usize,
    /// Hidden layer, bottom (0) up.
    pub layer: usize,
    /// Mean |apical input|.
    pub apical_magnitude: f64,
    /// Mean dendritic residual.
    pub residual_mean: f64,
    /// Standard deviation of the dendritic residual.
    pub residual_std: f64,
}

/// The CSV header.
pub const DENDRITES_HEADER: &str = "step,layer,apical_magnitude,residual_mean,residual_std";

/// All rows of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DendriteLog {
    /// Logged rows.
    pub rows: Vec<DendriteRow>,
}

impl DendriteLog {
    /// CSV text.
    pub fn to_csv(&self) -> String {
        let mut out = format!("{DENDRITES_HEADER}\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                r.step, r.layer, r.apical_magnitude, r.residual_mean, r.residual_std
            );
        }
        out
    }

    /// Parses [`to_csv`](Self::to_csv) output.
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(DENDRITES_HEADER) {
            return Err(format!("expected header {DENDRITES_HEADER:?}"));
        }
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || format!("line {}: expected 5 fields, got {line:?}", i + 2);
            if f.len() != 5 {
                return Err(bad());
            }
            rows.push(DendriteRow {
                step: f[0].parse().map_err(|_| bad())?,
                layer: f[1].parse().map_err(|_| bad())?,
                apical_magnitude: f[2].parse().map_err(|_| bad())?,
                residual_mean: f[3].parse().map_err(|_| bad())?,
                residual_std: f[4].parse().map_err(|_| bad())?,
            });
        }
        Ok(Self { rows })
    }

    /// Drops rows logged after `step`.
    pub fn truncate_after(&mut self, step: usize) {
        self.rows.retain(|r| r.step <= step);
    }

    /// TensorBoard scalars: `dendrites/{apical_magnitude,residual_mean,residual_std}_layer<l>`.
    pub fn scalars(&self) -> Vec<(i64, String, f32)> {
        self.rows
            .iter()
            .flat_map(|r| {
                [
                    ("apical_magnitude", r.apical_magnitude),
                    ("residual_mean", r.residual_mean),
                    ("residual_std", r.residual_std),
                ]
                .map(|(name, v)| {
                    (
                        r.step as i64,
                        format!("dendrites/{name}_layer{}", r.layer),
                        v as f32,
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_truncates() {
        let row = |step| DendriteRow {
            step,
            layer: 1,
            apical_magnitude: 0.5,
            residual_mean: -0.25,
            residual_std: 1.5,
        };
        let mut log = DendriteLog {
            rows: vec![row(10), row(20)],
        };
        assert_eq!(DendriteLog::from_csv(&log.to_csv()).unwrap(), log);
        assert_eq!(log.scalars().len(), 6);
        log.truncate_after(10);
        assert_eq!(log.rows, vec![row(10)]);
        assert!(DendriteLog::from_csv("step,layer\n").is_err());
    }
}
