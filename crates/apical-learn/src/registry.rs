//! The rule a config names (`[rule]`, `kind = …`) and which networks it trains.
//!
//! Every rule's config type implements [`RuleSpec`] in the rule's own file: its checks, the
//! models it can train, and how to build it for each network type. [`RuleConfig`] lists them,
//! one line each in the `rules!` table below: adding a rule = its file + one line there.
//! [`Trainable`] is the network side: a network type the runner can train asks the config for
//! a boxed rule of its own type.

use apical_core::InvalidParameter;
use apical_nn::{BciNetwork, Feedforward, GenerativeFeedbackNetwork, ModelConfig, Network};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::{
    AutoencoderConfig, BackpropConfig, DendriticConfig, FeedbackAlignmentConfig,
    KolenPollackConfig, LearningRule, Loss, LossKind, NoRuleConfig, PcSettings,
    RewardBroadcastConfig,
};

/// A boxed rule for networks of type `N`.
pub type BoxedRule<N> = Box<dyn LearningRule<N>>;

/// What every rule's config provides. The `for_…` builders return `None` for networks the
/// rule cannot train; [`check_model`](Self::check_model) says why, at config time.
pub trait RuleSpec {
    /// Checks the hyper-parameters (keys relative to `[rule]`).
    fn validate(&self) -> Result<(), InvalidParameter> {
        Ok(())
    }

    /// Refuses a model the rule cannot train (the key names the model setting to change).
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter>;

    /// Whether the rule descends `loss` (it reads [`StepContext::loss`](crate::StepContext::loss)).
    /// The default: only cross-entropy averaged over the batch, the objective the rule was
    /// written for.
    fn trains_with(&self, loss: Loss) -> bool {
        loss.is_default()
    }

    /// The rule for a feedforward network (`device`: the network's device without autodiff).
    fn for_ff(
        &self,
        net: &Feedforward,
        seed: u64,
        device: &Device,
    ) -> Option<BoxedRule<Feedforward>> {
        let _ = (net, seed, device);
        None
    }

    /// The rule for the recorded layer of a BCI experiment (reward-only rules).
    fn for_bci(&self, net: &BciNetwork, device: &Device) -> Option<BoxedRule<BciNetwork>> {
        let _ = (net, device);
        None
    }

    /// The rule for a generative-feedback network.
    fn for_gfn(
        &self,
        net: &GenerativeFeedbackNetwork,
        seed: u64,
        device: &Device,
    ) -> Option<BoxedRule<GenerativeFeedbackNetwork>> {
        let _ = (net, seed, device);
        None
    }
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $variant:ident($config:ty) = $kind:literal; )*) => {
        /// The learning rule (`rule.kind`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum RuleConfig {
            $( $(#[$doc])* #[serde(rename = $kind)] $variant($config), )*
        }

        impl RuleConfig {
            /// Every rule's config name, in the table's order.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The config name of the rule.
            pub fn kind(&self) -> &'static str {
                match self { $( RuleConfig::$variant(_) => $kind, )* }
            }

            /// The rule's own config, as a [`RuleSpec`].
            pub fn spec(&self) -> &dyn RuleSpec {
                match self { $( RuleConfig::$variant(c) => c, )* }
            }

            /// Visits the config type of the rule named `kind` (`None`: no such rule).
            pub fn visit_kind<V: apical_core::KindVisitor>(
                kind: &str,
                visitor: V,
            ) -> Option<V::Output> {
                match kind {
                    $( $kind => Some(visitor.visit::<$config>()), )*
                    _ => None,
                }
            }
        }
    };
}

rules! {
    /// Error backpropagation (burn autodiff) on a cross-entropy loss.
    Backprop(BackpropConfig) = "backprop";
    /// Feedback alignment (Lillicrap et al. 2016): errors sent down through fixed random
    /// feedback matrices.
    FeedbackAlignment(FeedbackAlignmentConfig) = "feedback-alignment";
    /// Kolen–Pollack: feedback matrices receive the transposed forward updates; both decay.
    KolenPollack(KolenPollackConfig) = "kolen-pollack";
    /// Per-unit apical teaching signals in one phase (burstprop / BurstCCN family) on `gfn`.
    Dendritic(DendriticConfig) = "dendritic";
    /// Predictive coding (Whittington & Bogacz 2017), discriminative or generative.
    PredictiveCoding(PcSettings) = "predictive-coding";
    /// An autoencoder of the ff network's shape trained by backprop on the reconstruction (no
    /// labels): the control for generative pretraining.
    Autoencoder(AutoencoderConfig) = "autoencoder";
    /// Reward broadcast: one scalar per trial for every synapse.
    RewardBroadcast(RewardBroadcastConfig) = "reward-broadcast";
    /// No learning: the sampling reference model's rule (it is not trained).
    Untrained(NoRuleConfig) = "none";
}

impl RuleConfig {
    /// The scalar a closed-loop task hands this rule each step: the broadcast rule's
    /// `signal`; the error decrease for every other rule.
    pub fn closed_loop_signal(&self) -> crate::ClosedLoopSignal {
        match self {
            RuleConfig::RewardBroadcast(c) => c.signal,
            _ => crate::ClosedLoopSignal::ErrorChange,
        }
    }
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig::Backprop(BackpropConfig {})
    }
}

/// Refuses the models that give no labels (the closed-loop bci model) for the rule `kind`,
/// which learns from labels (shared by the supervised rules' `check_model`).
pub(crate) fn labelled_only(kind: &str, model: &ModelConfig) -> Result<(), InvalidParameter> {
    match model {
        ModelConfig::Bci(_) => Err(InvalidParameter::new(
            "rule.kind",
            format!(
                "the bci model learns from reward alone; {kind} needs labels (use dendritic or reward-broadcast)"
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuses a model other than ff for the rule `kind` (shared by the ff-only rules).
pub(crate) fn ff_only(kind: &str, model: &ModelConfig) -> Result<(), InvalidParameter> {
    labelled_only(kind, model)?;
    match model {
        ModelConfig::Ff(_) => Ok(()),
        _ => Err(InvalidParameter::new(
            "rule.kind",
            format!(
                "{kind} trains the ff model only; train {} with backprop, dendritic or predictive-coding",
                model.kind()
            ),
        )),
    }
}

impl RuleConfig {
    /// Checks the rule's hyper-parameters and that it can train `model`. The key is relative
    /// to the run config (`rule.beta`, `model.activation`, …).
    pub fn validate_with(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        self.spec().validate().map_err(|e| e.in_section("rule"))?;
        if matches!(model, ModelConfig::Sampling(_)) {
            // Not trained: no rule applies to it.
            return Ok(());
        }
        if self.kind() == "predictive-coding" && model.rate_noise() > 0.0 {
            // Its inference draws the unit noise itself (noise_std only).
            return Err(InvalidParameter::new(
                "model.rate_noise",
                format!(
                    "predictive-coding's inference adds only model.noise_std; rate noise ({}) would be in the recordings but not in training: set it to 0 or use another rule",
                    model.rate_noise()
                ),
            ));
        }
        self.spec().check_model(model)
    }

    /// Refuses an objective the rule cannot descend, naming `training.loss` (or
    /// `training.loss_reduction`).
    pub fn check_loss(&self, loss: Loss) -> Result<(), InvalidParameter> {
        if self.spec().trains_with(loss) {
            return Ok(());
        }
        let (key, value) = if loss.kind != LossKind::CrossEntropy {
            ("training.loss", "squared-error")
        } else {
            ("training.loss_reduction", "sum")
        };
        Err(InvalidParameter::new(
            key,
            format!(
                "rule {} does not take {key} = \"{value}\" (it uses the default, cross-entropy averaged over the batch, or no labels at all); only backprop, feedback-alignment, kolen-pollack and discriminative predictive-coding do",
                self.kind()
            ),
        ))
    }
}

/// A network type the rules can train: the runner is generic over it.
pub trait Trainable: Network + Sized + 'static {
    /// The rule `config` names, built for `net` (`device`: the network's device without
    /// autodiff). Refuses a rule that cannot train this network (configs are checked earlier
    /// with [`RuleConfig::validate_with`], so a run never gets here with one).
    fn build_rule(
        config: &RuleConfig,
        net: &Self,
        seed: u64,
        device: &Device,
    ) -> Result<BoxedRule<Self>, InvalidParameter>;
}

fn cannot_train(config: &RuleConfig, model: &str) -> InvalidParameter {
    InvalidParameter::new(
        "rule.kind",
        format!("{} cannot train the {model} model", config.kind()),
    )
}

impl Trainable for Feedforward {
    fn build_rule(
        config: &RuleConfig,
        net: &Self,
        seed: u64,
        device: &Device,
    ) -> Result<BoxedRule<Self>, InvalidParameter> {
        config
            .spec()
            .for_ff(net, seed, device)
            .ok_or_else(|| cannot_train(config, "ff"))
    }
}

impl Trainable for GenerativeFeedbackNetwork {
    fn build_rule(
        config: &RuleConfig,
        net: &Self,
        seed: u64,
        device: &Device,
    ) -> Result<BoxedRule<Self>, InvalidParameter> {
        config
            .spec()
            .for_gfn(net, seed, device)
            .ok_or_else(|| cannot_train(config, "gfn"))
    }
}

/// Builds the rule `config` names for the BCI network (reward-only rules).
pub fn build_bci_rule(
    config: &RuleConfig,
    net: &BciNetwork,
    device: &Device,
) -> Result<BoxedRule<BciNetwork>, InvalidParameter> {
    config
        .spec()
        .for_bci(net, device)
        .ok_or_else(|| cannot_train(config, "bci"))
}

/// Generic code over the trainable network types (a training loop): [`build_network`] builds
/// the network a config names and calls [`visit`](Self::visit) with it, so the model kind is
/// matched once, there.
pub trait NetworkVisitor {
    /// What the visit returns.
    type Output;
    /// Called with the built network.
    fn visit<N: Trainable>(self, net: N) -> Self::Output;
    /// Called instead of [`visit`](Self::visit) when the model cannot be trained this way
    /// (configs are checked earlier, so a run never gets here).
    fn refuse(self, why: InvalidParameter) -> Self::Output;
}

/// Builds the network `model` names for `d_in` inputs and `d_out` classes on `device` and
/// passes it to `visitor`. Adding a model: one arm here.
pub fn build_network<V: NetworkVisitor>(
    model: &ModelConfig,
    d_in: usize,
    d_out: usize,
    seed: u64,
    device: &Device,
    visitor: V,
) -> V::Output {
    match model {
        ModelConfig::Ff(p) => visitor.visit(p.config(d_in, d_out, seed).init(device)),
        ModelConfig::Gfn(p) => visitor.visit(p.config(d_in, d_out, seed).init(device)),
        ModelConfig::Bci(_) => visitor.refuse(InvalidParameter::new(
            "model.kind",
            "the bci model is trained in a closed loop: use it with task.kind = \"bci\"",
        )),
        ModelConfig::Sampling(_) => visitor.refuse(InvalidParameter::new(
            "model.kind",
            "the sampling model is not trained: it samples the orientation task's trials",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RewardVariant;
    use apical_nn::{ndarray_device, Activation, FeedforwardParams, GfnParams};

    fn every_rule() -> Vec<RuleConfig> {
        vec![
            RuleConfig::Backprop(BackpropConfig {}),
            RuleConfig::FeedbackAlignment(FeedbackAlignmentConfig {}),
            RuleConfig::KolenPollack(KolenPollackConfig::default()),
            RuleConfig::Dendritic(DendriticConfig::default()),
            RuleConfig::PredictiveCoding(PcSettings::default()),
            RuleConfig::RewardBroadcast(RewardBroadcastConfig::default()),
            RuleConfig::RewardBroadcast(RewardBroadcastConfig {
                variant: RewardVariant::ExploratoryHebb,
                ..RewardBroadcastConfig::default()
            }),
        ]
    }

    #[test]
    fn config_time_compatibility_matches_what_can_be_built() {
        // The compatibility check and the builders agree for every rule × model: what
        // validation accepts builds, what it refuses has no builder.
        let device = ndarray_device();
        let ff_model = ModelConfig::Ff(FeedforwardParams::default());
        let gfn_model = ModelConfig::Gfn(GfnParams::default());
        let ff = FeedforwardParams::default().config(4, 3, 0).init(&device);
        let gfn = GfnParams::default().config(4, 3, 0).init(&device);
        for rule in every_rule() {
            let ok = rule.validate_with(&ff_model).is_ok();
            let built = Feedforward::build_rule(&rule, &ff, 0, &device);
            assert_eq!(ok, built.is_ok(), "{} on ff", rule.kind());
            if let Ok(built) = built {
                assert_eq!(built.name(), rule.kind());
            }
            let ok = rule.validate_with(&gfn_model).is_ok();
            let built = GenerativeFeedbackNetwork::build_rule(&rule, &gfn, 0, &device);
            assert_eq!(ok, built.is_ok(), "{} on gfn", rule.kind());
        }
    }

    #[test]
    fn refusals_name_the_key_to_change() {
        let relu_gfn = ModelConfig::Gfn(GfnParams {
            activation: Activation::Relu,
            ..GfnParams::default()
        });
        let dendritic = RuleConfig::Dendritic(DendriticConfig::default());
        assert_eq!(
            dendritic.validate_with(&relu_gfn).unwrap_err().key,
            "model.activation"
        );
        let bad_beta = RuleConfig::Dendritic(DendriticConfig {
            beta: 0.0,
            ..DendriticConfig::default()
        });
        assert_eq!(
            bad_beta
                .validate_with(&ModelConfig::Gfn(GfnParams::default()))
                .unwrap_err()
                .key,
            "rule.beta"
        );
    }
}
