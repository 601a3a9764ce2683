//! The part of `summary.json` every run takes from its config.

use apical_store::{RunStatus, Summary};

use crate::ExperimentConfig;

/// A completed run's summary with the fields every run shares — name, task, model, rule,
/// backend, seed — taken from its config; the loop fills in the rest.
pub fn summary_of_run(config: &ExperimentConfig) -> Summary {
    Summary {
        schema_version: apical_store::SUMMARY_SCHEMA,
        status: RunStatus::Completed,
        name: config.name.clone(),
        task: config.task.kind().into(),
        model: config.model.kind().into(),
        rule: config.rule.kind().into(),
        backend: config.backend.kind.name().into(),
        seed: config.training.seed,
        ..Summary::default()
    }
}
