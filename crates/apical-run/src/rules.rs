//! The learning rule a config names, built for the network it trains.

use apical_learn::{
    Backprop, Dendritic, ExploratoryHebb, FeedbackAlignment, FeedbackMode, LayerDiagnostics,
    LearningRule, Optimizer, OptimizerStateError, PcSettings, PredictiveCoding, RewardBroadcast,
    StepReport,
};
use apical_nn::{Feedforward, GenerativeFeedbackNetwork, SeededRng};
use burn::tensor::{Device, Tensor};

use crate::network::Network;
use crate::{RewardVariant, RuleConfig};

/// Learning rate of the online apical prediction (k, m) of gfn units.
const APICAL_FIT_RATE: f64 = 0.05;

/// A rule for the kind of network the run trains.
pub enum Rule {
    /// A rule for the feedforward network.
    Ff(Box<dyn LearningRule<Feedforward>>),
    /// A rule for the generative-feedback network.
    Gfn(Box<dyn LearningRule<GenerativeFeedbackNetwork>>),
}

impl Rule {
    /// The rule `config` names for `net`; `device` is the network's device without autodiff.
    ///
    /// # Panics
    /// On a combination config validation refuses (e.g. dendritic on ff).
    pub fn build(config: &RuleConfig, net: &Network, seed: u64, device: &Device) -> Self {
        match (config, net) {
            (RuleConfig::Backprop {}, Network::Ff(_)) => Rule::Ff(Box::new(Backprop)),
            (RuleConfig::Backprop {}, Network::Gfn(_)) => Rule::Gfn(Box::new(Backprop)),
            (RuleConfig::FeedbackAlignment {}, Network::Ff(ff)) => Rule::Ff(Box::new(
                FeedbackAlignment::new(ff, FeedbackMode::Fixed, seed, device),
            )),
            (RuleConfig::KolenPollack { decay }, Network::Ff(ff)) => {
                Rule::Ff(Box::new(FeedbackAlignment::new(
                    ff,
                    FeedbackMode::KolenPollack { decay: *decay },
                    seed,
                    device,
                )))
            }
            (
                RuleConfig::RewardBroadcast {
                    sigma,
                    variant,
                    repeats,
                },
                Network::Ff(_),
            ) => match variant {
                RewardVariant::NodePerturbation => Rule::Ff(Box::new(RewardBroadcast {
                    sigma: *sigma,
                    diagnose: true,
                })),
                RewardVariant::ExploratoryHebb => {
                    Rule::Ff(Box::new(ExploratoryHebb::new(*sigma, *repeats)))
                }
            },
            (
                RuleConfig::Dendritic {
                    beta,
                    q_rate,
                    through_inference,
                },
                Network::Gfn(g),
            ) => {
                let mut rule = Dendritic::new(g, *beta, *q_rate, device);
                rule.through_inference = *through_inference;
                Rule::Gfn(Box::new(rule))
            }
            (
                RuleConfig::PredictiveCoding {
                    mode,
                    steps,
                    inference_rate,
                    nudge,
                    generative_rate,
                },
                net,
            ) => {
                let settings = PcSettings {
                    mode: *mode,
                    steps: *steps,
                    inference_rate: *inference_rate,
                    nudge: *nudge,
                    generative_rate: *generative_rate,
                };
                match net {
                    Network::Ff(ff) => {
                        Rule::Ff(Box::new(PredictiveCoding::new(ff, settings, seed, device)))
                    }
                    Network::Gfn(g) => {
                        Rule::Gfn(Box::new(PredictiveCoding::new(g, settings, seed, device)))
                    }
                }
            }
            (rule, net) => panic!(
                "config validation refuses {} on the {} model",
                rule.kind(),
                match net {
                    Network::Ff(_) => "ff",
                    Network::Gfn(_) => "gfn",
                }
            ),
        }
    }

    /// The rule's config name.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Ff(r) => r.name(),
            Rule::Gfn(r) => r.name(),
        }
    }

    /// The rule's state for checkpoints.
    pub fn state_bytes(&self) -> Vec<u8> {
        match self {
            Rule::Ff(r) => r.state_bytes(),
            Rule::Gfn(r) => r.state_bytes(),
        }
    }

    /// Restores the state from a checkpoint.
    pub fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        match self {
            Rule::Ff(r) => r.load_state_bytes(bytes, device),
            Rule::Gfn(r) => r.load_state_bytes(bytes, device),
        }
    }

    /// Whether the coming steps compute the comparison with backprop.
    pub fn set_diagnose(&mut self, on: bool) {
        match self {
            Rule::Ff(r) => r.set_diagnose(on),
            Rule::Gfn(r) => r.set_diagnose(on),
        }
    }

    /// One update of `net`. A gfn's units then move their apical prediction (k, m) one LMS step
    /// toward the apical input they receive, keeping the dendritic residual current.
    pub fn step(
        &mut self,
        net: Network,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (Network, StepReport, Vec<LayerDiagnostics>) {
        match (self, net) {
            (Rule::Ff(rule), Network::Ff(net)) => {
                let (net, report, diagnostics) =
                    rule.step(net, optimizer, learning_rate, input, labels, noise);
                (Network::Ff(net), report, diagnostics)
            }
            (Rule::Gfn(rule), Network::Gfn(net)) => {
                let (net, report, diagnostics) =
                    rule.step(net, optimizer, learning_rate, input.clone(), labels, noise);
                let net = net.fit_apical_predictions(input, APICAL_FIT_RATE);
                (Network::Gfn(net), report, diagnostics)
            }
            _ => unreachable!("Rule::build builds the rule for the network's kind"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelConfig;
    use apical_nn::ndarray_device;

    #[test]
    fn builds_the_rule_each_config_names() {
        let device = ndarray_device();
        let ff = Network::build(&ModelConfig::default(), 4, 3, 0, &device.clone().autodiff());
        for (config, name) in [
            (RuleConfig::Backprop {}, "backprop"),
            (RuleConfig::FeedbackAlignment {}, "feedback-alignment"),
            (RuleConfig::KolenPollack { decay: 1e-3 }, "kolen-pollack"),
            (
                RuleConfig::RewardBroadcast {
                    sigma: 0.1,
                    variant: RewardVariant::NodePerturbation,
                    repeats: 4,
                },
                "reward-broadcast",
            ),
            (
                RuleConfig::RewardBroadcast {
                    sigma: 0.1,
                    variant: RewardVariant::ExploratoryHebb,
                    repeats: 4,
                },
                "reward-broadcast",
            ),
        ] {
            let rule = Rule::build(&config, &ff, 0, &device);
            assert_eq!(rule.name(), name);
            assert_eq!(rule.name(), config.kind());
        }
    }
}
