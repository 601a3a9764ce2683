//! Learning-rule diagnostics logged at each evaluation: per layer, the angle between the rule's
//! weight update and the backprop gradient on the same batch, and the update's norm (means over
//! the steps since the previous evaluation). Written as `diagnostics.csv`.

use std::fmt::Write as _;

use apical_learn::LayerDiagnostics;

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

/// The CSV header.
pub const DIAGNOSTICS_HEADER: &str = "step,layer,angle_to_backprop_deg,update_norm";

/// All diagnostic rows of a run, plus the running sums since the last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiagnosticsLog {
    /// Logged rows.
    pub rows: Vec<DiagnosticRow>,
    pending: Vec<(f64, f64)>,
    pending_steps: usize,
}

impl DiagnosticsLog {
    /// Adds one step's per-layer diagnostics.
    pub fn accumulate(&mut self, per_layer: &[LayerDiagnostics]) {
        if self.pending.len() != per_layer.len() {
            self.pending = vec![(0.0, 0.0); per_layer.len()];
        }
        for (sum, value) in self.pending.iter_mut().zip(per_layer) {
            sum.0 += value.angle_to_backprop_deg;
            sum.1 += value.update_norm;
        }
        self.pending_steps += 1;
    }

    /// Turns the running sums into rows for `step` (nothing when no step was accumulated).
    pub fn flush(&mut self, step: usize) {
        if self.pending_steps == 0 {
            return;
        }
        let n = self.pending_steps as f64;
        for (layer, (angle, norm)) in self.pending.iter().enumerate() {
            self.rows.push(DiagnosticRow {
                step,
                layer,
                angle_to_backprop_deg: angle / n,
                update_norm: norm / n,
            });
        }
        self.pending.clear();
        self.pending_steps = 0;
    }

    /// CSV text.
    pub fn to_csv(&self) -> String {
        let mut out = format!("{DIAGNOSTICS_HEADER}\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{}",
                r.step, r.layer, r.angle_to_backprop_deg, r.update_norm
            );
        }
        out
    }

    /// Parses [`to_csv`](Self::to_csv) output.
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(DIAGNOSTICS_HEADER) {
            return Err(format!("expected header {DIAGNOSTICS_HEADER:?}"));
        }
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || format!("line {}: expected 4 fields, got {line:?}", i + 2);
            if f.len() != 4 {
                return Err(bad());
            }
            rows.push(DiagnosticRow {
                step: f[0].parse().map_err(|_| bad())?,
                layer: f[1].parse().map_err(|_| bad())?,
                angle_to_backprop_deg: f[2].parse().map_err(|_| bad())?,
                update_norm: f[3].parse().map_err(|_| bad())?,
            });
        }
        Ok(Self {
            rows,
            ..Default::default()
        })
    }

    /// Drops rows logged after `step`.
    pub fn truncate_after(&mut self, step: usize) {
        self.rows.retain(|r| r.step <= step);
    }

    /// TensorBoard scalars: `diagnostics/angle_to_backprop_layer<l>`.
    pub fn scalars(&self) -> Vec<(i64, String, f32)> {
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

    /// Mean angle per layer over all logged evaluations.
    pub fn mean_angles(&self) -> Vec<f64> {
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
        let d = |angle, norm| LayerDiagnostics {
            angle_to_backprop_deg: angle,
            update_norm: norm,
        };
        log.accumulate(&[d(10.0, 1.0), d(0.0, 2.0)]);
        log.accumulate(&[d(20.0, 3.0), d(0.0, 2.0)]);
        log.flush(2);
        assert_eq!(
            log.rows[0],
            DiagnosticRow {
                step: 2,
                layer: 0,
                angle_to_backprop_deg: 15.0,
                update_norm: 2.0
            }
        );
        let parsed = DiagnosticsLog::from_csv(&log.to_csv()).unwrap();
        assert_eq!(parsed.rows, log.rows);
        assert_eq!(log.mean_angles(), vec![15.0, 0.0]);
    }
}
