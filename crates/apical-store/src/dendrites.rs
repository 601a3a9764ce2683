//! Dendritic-compartment statistics of a gfn logged at each evaluation: per hidden layer, the
//! mean |apical input| and the mean and spread of the dendritic residual over the feedback
//! steps of inference on the test set. Written as `dendrites.csv`.

use crate::csv_log::{field, CsvLog, CsvRow};

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

impl CsvRow for DendriteRow {
    const HEADER: &'static [&'static str] = &[
        "step",
        "layer",
        "apical_magnitude",
        "residual_mean",
        "residual_std",
    ];

    fn step(&self) -> usize {
        self.step
    }

    fn fields(&self) -> Vec<String> {
        vec![
            self.step.to_string(),
            self.layer.to_string(),
            self.apical_magnitude.to_string(),
            self.residual_mean.to_string(),
            self.residual_std.to_string(),
        ]
    }

    fn parse(f: &[&str]) -> Option<Self> {
        Some(Self {
            step: field(f[0])?,
            layer: field(f[1])?,
            apical_magnitude: field(f[2])?,
            residual_mean: field(f[3])?,
            residual_std: field(f[4])?,
        })
    }
}

/// All rows of a run (`dendrites.csv`).
pub type DendriteLog = CsvLog<DendriteRow>;

impl CsvLog<DendriteRow> {
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
