//! What `apical analyze` writes, as types: the JSON of each subcommand and of a run directory's
//! `analysis/analysis.json`. Optional parts are left out of the JSON when they do not apply.

use std::collections::BTreeMap;

use apical_analysis::{
    CombinedFisher, CorrelationSummary, DecodeResult, FisherMethod, GroupVectorisation,
    SubsetFisher,
};
use serde::Serialize;

use crate::RunAnalysisSettings;

/// Information within one context.
#[derive(Debug, Clone, Serialize)]
pub struct ContextFisher {
    /// The whole population (absent when it is too large for this context's trials).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub whole: Option<CombinedFisher>,
    /// Why the whole population could not be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fisher_error: Option<String>,
    /// Over random unit subsets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsets: Option<SubsetFisher>,
}

/// Cross-context information: f′ from one context, the covariance from another.
#[derive(Debug, Clone, Serialize)]
pub struct CrossContextFisher {
    /// The whole population (without subsets).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub whole: Option<CombinedFisher>,
    /// Over random unit subsets (with subsets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsets: Option<SubsetFisher>,
    /// Context label f′ was taken from.
    pub signal_from_context: i64,
    /// Context label the covariance was taken from.
    pub covariance_from_context: i64,
}

/// Information in one time bin.
#[derive(Debug, Clone, Serialize)]
pub struct BinFisher {
    /// Bin index.
    pub bin: usize,
    /// Combined information.
    pub fisher: f64,
    /// Combined shuffled information.
    pub fisher_shuffled: f64,
    /// Redundancy (%); null when the shuffled information is ≤ 0.
    pub redundancy_percent: Option<f64>,
    /// Why `redundancy_percent` is null (absent when it is not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_note: Option<&'static str>,
}

/// `apical analyze fisher`.
#[derive(Debug, Clone, Serialize)]
pub struct FisherReport {
    /// The whole population (responses summed over bins when binned).
    #[serde(flatten)]
    pub whole: CombinedFisher,
    /// Estimator.
    pub method: FisherMethod,
    /// Over random unit subsets (`--subset-size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsets: Option<SubsetFisher>,
    /// Per context label (`--context`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contexts: Option<BTreeMap<String, ContextFisher>>,
    /// Every ordered pair of contexts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_context: Option<Vec<CrossContextFisher>>,
    /// Per time bin (trials × bins × units responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_bins: Option<Vec<BinFisher>>,
    /// Whether `whole` used the responses summed over bins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses_summed_over_bins: Option<bool>,
}

/// `apical analyze residuals`.
#[derive(Debug, Clone, Serialize)]
pub struct ResidualReport {
    /// Trials.
    pub n_trials: usize,
    /// Units.
    pub n_units: usize,
    /// Per unit: slope of apical on soma.
    pub slope: Vec<f64>,
    /// Per unit: intercept.
    pub intercept: Vec<f64>,
    /// Per unit: residual standard deviation.
    pub residual_sd: Vec<f64>,
    /// Decoding of the labels from the z-scored residual vectors (`--labels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode: Option<DecodeResult>,
    /// Per group: residual on error-decrease minus error-increase trials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vectorisation: Option<Vec<GroupVectorisation>>,
}

/// One recorded layer of a run.
#[derive(Debug, Clone, Serialize)]
pub struct LayerAnalysis {
    /// Units recorded.
    pub n_units: usize,
    /// Units whose response varies (the analyses use these).
    pub n_active_units: usize,
    /// Fisher information over random subsets (trials carry signal levels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fisher_subsets: Option<SubsetFisher>,
    /// Why the subsets could not be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fisher_error: Option<String>,
    /// Why the subset size is smaller than asked (the zero-signal trials limit it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subset_size_note: Option<String>,
    /// Noise correlations (trials carry signal levels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlations: Option<CorrelationSummary>,
    /// Decoding of the labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_labels: Option<DecodeResult>,
}

/// `analysis/analysis.json` of a run directory.
#[derive(Debug, Clone, Serialize)]
pub struct RunAnalysis {
    /// The run directory.
    pub run: String,
    /// The settings used.
    pub settings: RunAnalysisSettings,
    /// Per recorded layer (`hidden_<l>`); empty for BCI runs.
    pub layers: BTreeMap<String, LayerAnalysis>,
    /// BCI runs: learning curve, rate changes, vectorization, decoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bci: Option<apical_analysis::bci::BciAnalysis>,
    /// Perceptual runs: redundancy per recording × layer × context, along learning
    /// (`crate::redundancy`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redundancy_by_step: Vec<crate::redundancy::StepRedundancy>,
    /// The last recording's redundancy per step of inference (time bin).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub within_trial: Vec<crate::redundancy::BinRedundancy>,
    /// The last recording's I(N) and redundancy(N) over subset sizes 2, 4, 8, … up to
    /// `redundancy_subset_size`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redundancy_by_size: Vec<crate::redundancy::SizeRedundancy>,
    /// The last recording's internal (frozen-noise) redundancy per layer × context
    /// (`logging.frozen_images`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub internal_redundancy: Vec<crate::redundancy::InternalRedundancy>,
    /// The last recording's top and bottom quartiles of units by task relevance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redundancy_by_relevance: Vec<crate::redundancy::RelevanceRedundancy>,
    /// The last recording's cross-context information (f′ of one context, Σ of the other).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cross_context: Vec<crate::redundancy::CrossContext>,
    /// The unit-subset size of `redundancy_by_step` and `within_trial`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_subset_size: Option<usize>,
    /// Why that size is smaller than asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_note: Option<String>,
    /// With `--passive`: per layer, learning × engagement (bootstrap over trials),
    /// I(active)/I(passive), the within-trial difference-in-differences and relevance ×
    /// engagement (`crate::contrasts`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub engagement_contrasts: Vec<crate::contrasts::EngagementContrast>,
}
