//! `rule.kind = "none"`: no learning. The sampling reference model (`model.kind = "sampling"`)
//! is not trained — its config's rule is this one, whether written or left out — and no other
//! model takes it.

use apical_core::InvalidParameter;
use apical_nn::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::RuleSpec;

/// `[rule]` with `kind = "none"` (no keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoRuleConfig {}

impl RuleSpec for NoRuleConfig {
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        match model {
            ModelConfig::Sampling(_) => Ok(()),
            other => Err(InvalidParameter::new(
                "rule.kind",
                format!(
                    "\"none\" trains nothing: only the sampling model (model.kind = \"sampling\") runs without a rule; model.kind = \"{}\" needs one (backprop, feedback-alignment, kolen-pollack, dendritic, predictive-coding, reward-broadcast)",
                    other.kind()
                ),
            )),
        }
    }
}
