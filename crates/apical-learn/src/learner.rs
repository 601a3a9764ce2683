//! The driver that steps every rule: the rule's update, then the network's own bookkeeping
//! (`Classifier::after_update`: the gfn's top-down weights follow their mode and its units'
//! apical predictions are refitted, so the recorded dendritic residual stays the one the rule
//! learns from). The runner, the benches and a researcher's own loop all step rules through
//! [`Learner`]; it also owns the optimizer, so rule and optimizer state are checkpointed
//! together.

use apical_nn::{Classifier, SeededRng};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use thiserror::Error;

use crate::{LearningRule, Loss, Optimizer, OptimizerStateError, StepContext, StepReport, Update};

/// What the driver refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LearnerError {
    /// The rule needs labels; it cannot learn from a reward alone.
    #[error(
        "rule {rule} needs labels; it cannot learn from a reward alone (use reward-broadcast)"
    )]
    RewardUnsupported {
        /// The rule's config name.
        rule: &'static str,
    },
    /// `reinforce` got a number of rewards other than one per example of the last `act`.
    #[error("reinforce needs one reward per example of the last act ({expected}), got {got}")]
    RewardCount {
        /// Examples in the last act.
        expected: usize,
        /// Rewards given.
        got: usize,
    },
    /// `reinforce` was called without an `act` before it.
    #[error(
        "reinforce needs an act before it (act, then the environment's reward, then reinforce)"
    )]
    NoAction,
}

/// A learning rule with its optimizer and learning rate: the one way to step a rule.
pub struct Learner<N> {
    rule: Box<dyn LearningRule<N>>,
    optimizer: Optimizer,
    learning_rate: f64,
    /// The objective of labelled updates.
    loss: Loss,
    /// The input of the last `act`, for the network's bookkeeping after `reinforce`.
    acted_on: Option<Tensor<2>>,
}

impl<N: Classifier> Learner<N> {
    /// A driver for `rule`, turning its gradients into weight changes with `optimizer` at
    /// `learning_rate`.
    pub fn new(rule: Box<dyn LearningRule<N>>, optimizer: Optimizer, learning_rate: f64) -> Self {
        Self {
            rule,
            optimizer,
            learning_rate,
            loss: Loss::default(),
            acted_on: None,
        }
    }

    /// The same driver descending `loss` instead of the default (cross-entropy, batch mean).
    /// Rules that cannot use it are refused at config time ([`RuleConfig::check_loss`](crate::RuleConfig::check_loss)).
    pub fn with_loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// The objective of labelled updates.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// Holds these parameters fixed: the optimizer drops their updates (`training.freeze`).
    pub fn freeze(&mut self, ids: &[burn::module::ParamId]) {
        self.optimizer.freeze(ids);
    }

    /// The rule's config name.
    pub fn rule_name(&self) -> &'static str {
        self.rule.name()
    }

    /// One supervised update of `net` on a labelled batch; `noise` drives the units' noise and
    /// the rule's exploration; `diagnose` computes per-layer angles to backprop.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]`; labels: `[batch]`
    pub fn step(
        &mut self,
        net: N,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
        diagnose: bool,
    ) -> Update<N> {
        let before = net.clone();
        let mut ctx = StepContext {
            optimizer: &mut self.optimizer,
            learning_rate: self.learning_rate,
            noise,
            diagnose,
            loss: self.loss,
        };
        let (net, report, diagnostics) = self.rule.update(net, &mut ctx, input.clone(), labels);
        (net.after_update(&before, input), report, diagnostics)
    }

    /// Closed loop, first half: the network acts on `input` with the rule's exploration.
    /// Returns the rates of every layer (first hidden first, output last).
    pub fn act(
        &mut self,
        net: &N,
        input: Tensor<2>,
        noise: &mut SeededRng,
    ) -> Result<Vec<Tensor<2>>, LearnerError> {
        let name = self.rule.name();
        let rule = self
            .rule
            .reward_learning()
            .ok_or(LearnerError::RewardUnsupported { rule: name })?;
        let mut ctx = StepContext {
            optimizer: &mut self.optimizer,
            learning_rate: self.learning_rate,
            noise,
            diagnose: false,
            loss: self.loss,
        };
        let rates = rule.act(net, &mut ctx, input.clone());
        self.acted_on = Some(input);
        Ok(rates)
    }

    /// Closed loop, second half: learn from the environment's `reward` (one per example) for
    /// the last [`act`](Self::act). No labels.
    pub fn reinforce(
        &mut self,
        net: N,
        reward: &[f32],
        noise: &mut SeededRng,
    ) -> Result<(N, StepReport), LearnerError> {
        let name = self.rule.name();
        let input = self.acted_on.take().ok_or(LearnerError::NoAction)?;
        let expected = input.dims()[0];
        if reward.len() != expected {
            self.acted_on = Some(input);
            return Err(LearnerError::RewardCount {
                expected,
                got: reward.len(),
            });
        }
        let rule = self
            .rule
            .reward_learning()
            .ok_or(LearnerError::RewardUnsupported { rule: name })?;
        let before = net.clone();
        let mut ctx = StepContext {
            optimizer: &mut self.optimizer,
            learning_rate: self.learning_rate,
            noise,
            diagnose: false,
            loss: self.loss,
        };
        let (net, report) = rule.reinforce(net, &mut ctx, reward);
        Ok((net.after_update(&before, input), report))
    }

    /// Whether the rule learns from a reward alone ([`act`](Self::act) /
    /// [`reinforce`](Self::reinforce) work): what a closed-loop task checks before it starts.
    pub fn learns_from_reward(&mut self) -> bool {
        self.rule.reward_learning().is_some()
    }

    /// The compartments (basal, apical, rate, residual) of the last
    /// [`reinforce`](Self::reinforce), for rules on networks with dendrites; taken once.
    pub fn compartments(&mut self) -> Option<apical_nn::DendriticState> {
        self.rule.reward_learning()?.compartments()
    }

    /// Closed loop, between [`act`](Self::act) and [`reinforce`](Self::reinforce): the
    /// environment's vector feedback — per example and task dimension the error and the
    /// movement toward the target (`[batch·K]` each). Rules that learn from the scalar alone
    /// ignore it.
    pub fn observe_error(&mut self, error: &[f32], movement: &[f32]) -> Result<(), LearnerError> {
        let name = self.rule.name();
        self.rule
            .reward_learning()
            .ok_or(LearnerError::RewardUnsupported { rule: name })?
            .observe_error(error, movement);
        Ok(())
    }

    /// Tells a reward-only rule that the episode (trial) ended, so that nothing (eligibility
    /// traces) carries into the next one.
    pub fn end_episode(&mut self) {
        if let Some(rule) = self.rule.reward_learning() {
            rule.end_episode();
        }
    }

    /// The rule's state bytes (checkpoints).
    pub fn rule_state_bytes(&self) -> Vec<u8> {
        self.rule.state_bytes()
    }

    /// The optimizer's state bytes (checkpoints).
    pub fn optimizer_state_bytes(&self) -> Vec<u8> {
        self.optimizer.state_bytes()
    }

    /// Restores rule and optimizer state written by the two `…_state_bytes` methods; `device`
    /// is the network's device (with autodiff, as trained).
    pub fn load_state_bytes(
        &mut self,
        rule: &[u8],
        optimizer: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        self.optimizer.load_state_bytes(optimizer, device)?;
        self.rule
            .load_state_bytes(rule, &device.clone().without_autodiff())
    }

    /// The first non-finite quantity among the weights of `net` and the rule's state, if any:
    /// what a run that diverged names when it stops.
    pub fn non_finite(&self, net: &N) -> Option<&'static str> {
        if !weights_finite(net) {
            Some("weights")
        } else if !self.rule.state_is_finite() {
            Some("rule state")
        } else {
            None
        }
    }
}

/// Whether every parameter of `module` is finite.
pub fn weights_finite<M: Module>(module: &M) -> bool {
    struct Finite(bool);
    impl ModuleVisitor for Finite {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0 {
                let sum: f32 = param.val().abs().sum().into_scalar();
                self.0 = sum.is_finite();
            }
        }
    }
    let mut visitor = Finite(true);
    module.visit(&mut visitor);
    visitor.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backprop, OptimizerConfig, RewardBroadcast};
    use apical_nn::{
        ndarray_device, Activation, FeedforwardConfig, GenerativeFeedbackConfig, TopDown,
    };
    use apical_nn::{FeedforwardParams, GfnParams};
    use burn::tensor::TensorData;

    #[test]
    fn the_driver_keeps_tied_top_down_weights_current() {
        // Stepping a gfn through the driver leaves its top-down weights the transpose of the
        // forward weights (tied mode): the bookkeeping cannot be skipped.
        let device = ndarray_device().autodiff();
        let net = GenerativeFeedbackConfig::new(
            4,
            3,
            GfnParams {
                top_down: TopDown::Tied,
                ..GfnParams::layers(vec![5])
            },
        )
        .init(&device);
        let mut learner = Learner::new(Box::new(Backprop), OptimizerConfig::default().init(), 0.1);
        let x = Tensor::<2>::from_data(
            TensorData::new((0..8).map(|i| i as f32 / 8.0).collect::<Vec<_>>(), [2, 4]),
            &device,
        );
        let (net, _, _) = learner.step(net, x, &[0, 2], &mut SeededRng::new(0), false);
        let apical = net.layers[0].apical_weight.val().into_data();
        let readout_t = net.weight_above(0).transpose().into_data();
        apical.assert_approx_eq::<f32>(&readout_t, burn::tensor::Tolerance::absolute(1e-6));
    }

    #[test]
    fn labels_only_rules_refuse_reward_learning() {
        let device = ndarray_device().autodiff();
        let net = FeedforwardConfig::new(2, 2, FeedforwardParams::layers(vec![3])).init(&device);
        let mut learner = Learner::new(Box::new(Backprop), OptimizerConfig::default().init(), 0.1);
        let err = learner
            .act(&net, Tensor::ones([1, 2], &device), &mut SeededRng::new(0))
            .unwrap_err();
        assert_eq!(err, LearnerError::RewardUnsupported { rule: "backprop" });
        let mut learner = Learner::new(
            Box::new(RewardBroadcast::new(0.1)),
            OptimizerConfig::default().init(),
            0.1,
        );
        assert_eq!(
            learner.reinforce(net, &[1.0], &mut SeededRng::new(0)).err(),
            Some(LearnerError::NoAction)
        );
    }

    #[test]
    fn node_perturbation_learns_a_closed_loop_task_from_reward_alone() {
        // A cursor task without labels: two inputs, the network's one output is the cursor;
        // the reward is −(cursor − target)² with target +1 for input A and −1 for input B.
        // Only the reward reaches the rule.
        let device = ndarray_device().autodiff();
        let net = FeedforwardConfig::new(
            2,
            1,
            FeedforwardParams {
                activation: Activation::Tanh,
                ..FeedforwardParams::layers(vec![8])
            },
        )
        .with_seed(3)
        .init(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [2, 2]),
            &device,
        );
        let targets = [1.0f32, -1.0];
        let cost = |net: &apical_nn::Feedforward| -> f32 {
            let out: Vec<f32> = net
                .logits(x.clone(), None)
                .into_data()
                .iter::<f32>()
                .collect();
            out.iter()
                .zip(&targets)
                .map(|(o, t)| (o - t).powi(2))
                .sum::<f32>()
                / 2.0
        };
        let before = cost(&net);
        let mut learner = Learner::new(
            Box::new(RewardBroadcast::new(0.2)),
            OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
            }
            .init(),
            0.02,
        );
        let mut net = net;
        let mut noise = SeededRng::new(1);
        for _ in 0..600 {
            let rates = learner.act(&net, x.clone(), &mut noise).unwrap();
            let cursor: Vec<f32> = rates.last().unwrap().to_data().iter::<f32>().collect();
            let reward: Vec<f32> = cursor
                .iter()
                .zip(&targets)
                .map(|(c, t)| -(c - t).powi(2))
                .collect();
            net = learner.reinforce(net, &reward, &mut noise).unwrap().0;
        }
        let after = cost(&net);
        assert!(after < 0.2 * before, "cost {before} → {after}");
        assert!(learner.non_finite(&net).is_none());
    }
}
