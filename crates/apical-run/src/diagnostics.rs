//! Learning-rule diagnostics logged at each evaluation: per layer, the angle between the rule's
//! weight update and the backprop gradient on the same batch, and the update's norm (means over
//! the diagnosed steps since the previous evaluation). Written as `diagnostics.csv`.

use apical_learn::LayerDiagnostics;

use apical_store::csv_log::{field, CsvLog, CsvRow};

/// One evaluation's diagnostics for one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticRow {
    /// Updates completed.
    pub step: usize,
    /// Layer index, bottom (0) to readout.
    pub layer: usize,
    /// Mean angle (degrees) to the backprop gradient.
    pub angle_to_backprop_deg: f64,
    /// Mean Frobenius norm of the weight update (gradient before the optimizer).
    pub update_norm: f64,
}

impl CsvRow for DiagnosticRow {
    const HEADER: &'static [&'static str] =
        &["step", "layer", "angle_to_backprop_deg", "update_norm"];

    fn step(&self) -> usize {
        self.step
    }

    fn fields(&self) -> Vec<String> {
        vec![
            self.step.to_string(),
            self.layer.to_string(),
            self.angle_to_backprop_deg.to_string(),
            self.update_norm.to_string(),
        ]
    }

    fn parse(f: &[&str]) -> Option<Self> {
        Some(Self {
            step: field(f[0])?,
            layer: field(f[1])?,
            angle_to_backprop_deg: field(f[2])?,
            update_norm: field(f[3])?,
        })
    }
}

/// All diagnostic rows of a run (`diagnostics.csv`).
pub type DiagnosticsLog = CsvLog<DiagnosticRow>;

/// Running sums of per-layer diagnostics since the last evaluation (checkpointed with the loop
/// state, so a run resumed between evaluations logs the same means).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiagnosticsAccumulator {
    #[serde(with = "exact_floats")]
    sums: Vec<(f64, f64)>,
    steps: usize,
}

/// The sums as their bit patterns: exact, and NaN or ±inf survive the JSON of the loop state.
mod exact_floats {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(sums: &[(f64, f64)], s: S) -> Result<S::Ok, S::Error> {
        let bits: Vec<(u64, u64)> = sums
            .iter()
            .map(|(a, b)| (a.to_bits(), b.to_bits()))
            .collect();
        bits.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
        let bits = Vec::<(u64, u64)>::deserialize(d)?;
        Ok(bits
            .into_iter()
            .map(|(a, b)| (f64::from_bits(a), f64::from_bits(b)))
            .collect())
    }
}

impl DiagnosticsAccumulator {
    /// Adds one step's per-layer diagnostics.
    pub fn add(&mut self, per_layer: &[LayerDiagnostics]) {
        if self.sums.len() != per_layer.len() {
            self.sums = vec![(0.0, 0.0); per_layer.len()];
        }
        for (sum, value) in self.sums.iter_mut().zip(per_layer) {
            sum.0 += value.angle_to_backprop_deg;
            sum.1 += value.update_norm;
        }
        self.steps += 1;
    }

    /// Turns the sums into rows of `log` for `step` and starts over (nothing when no step was
    /// added).
    pub fn flush_into(&mut self, log: &mut DiagnosticsLog, step: usize) {
        if self.steps == 0 {
            return;
        }
        let n = self.steps as f64;
        for (layer, (angle, norm)) in self.sums.iter().enumerate() {
            log.rows.push(DiagnosticRow {
                step,
                layer,
                angle_to_backprop_deg: angle / n,
                update_norm: norm / n,
            });
        }
        *self = Self::default();
    }
}

/// What the runner reads off the diagnostics log.
pub trait DiagnosticsSummary {
    /// TensorBoard scalars: `diagnostics/angle_to_backprop_layer<l>`.
    fn scalars(&self) -> Vec<(i64, String, f32)>;
    /// Mean angle per layer over all logged evaluations.
    fn mean_angles(&self) -> Vec<f64>;
}

impl DiagnosticsSummary for CsvLog<DiagnosticRow> {
    fn scalars(&self) -> Vec<(i64, String, f32)> {
        self.rows
            .iter()
            .map(|r| {
                (
                    r.step as i64,
                    format!("diagnostics/angle_to_backprop_layer{}", r.layer),
                    r.angle_to_backprop_deg as f32,
                )
            })
            .collect()
    }

    fn mean_angles(&self) -> Vec<f64> {
        let layers = self.rows.iter().map(|r| r.layer + 1).max().unwrap_or(0);
        (0..layers)
            .map(|l| {
                let v: Vec<f64> = self
                    .rows
                    .iter()
                    .filter(|r| r.layer == l)
                    .map(|r| r.angle_to_backprop_deg)
                    .collect();
                v.iter().sum::<f64>() / v.len().max(1) as f64
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_means_and_round_trips() {
        let mut log = DiagnosticsLog::default();
        let mut acc = DiagnosticsAccumulator::default();
        let d = |angle, norm| LayerDiagnostics {
            angle_to_backprop_deg: angle,
            update_norm: norm,
        };
        acc.add(&[d(10.0, 1.0), d(0.0, 2.0)]);
        acc.add(&[d(20.0, 3.0), d(0.0, 2.0)]);
        acc.flush_into(&mut log, 2);
        acc.flush_into(&mut log, 3);
        assert_eq!(
            log.rows[0],
            DiagnosticRow {
                step: 2,
                layer: 0,
                angle_to_backprop_deg: 15.0,
                update_norm: 2.0
            }
        );
        assert_eq!(log.rows.len(), 2);
        let parsed = DiagnosticsLog::from_csv(&log.to_csv()).unwrap();
        assert_eq!(parsed.rows, log.rows);
        assert_eq!(log.mean_angles(), vec![15.0, 0.0]);
    }

    #[test]
    fn pending_sums_survive_a_checkpoint_exactly() {
        let mut acc = DiagnosticsAccumulator::default();
        acc.add(&[LayerDiagnostics {
            angle_to_backprop_deg: 0.1 + 0.2,
            update_norm: f64::NAN,
        }]);
        let json = serde_json::to_string(&acc).unwrap();
        let back: DiagnosticsAccumulator = serde_json::from_str(&json).unwrap();
        assert_eq!(back.sums[0].0.to_bits(), acc.sums[0].0.to_bits());
        assert!(back.sums[0].1.is_nan());
        assert_eq!(back.steps, 1);
    }
}
