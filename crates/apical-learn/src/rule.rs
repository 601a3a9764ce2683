//! The one interface every learning rule implements ([`LearningRule`]), and the reward-only
//! interface of rules that can learn in a closed loop without labels ([`RewardLearning`]).
//!
//! Rules are stepped only through the driver [`Learner`](crate::Learner), which does
//! snapshot → the rule's update → the network's own bookkeeping (`Classifier::after_update`:
//! the gfn's top-down weights and apical predictions) in one place; a [`StepContext`] can only
//! be made by the driver, so no caller can skip that bookkeeping by accident.

use apical_nn::SeededRng;
use burn::tensor::{Device, Tensor};

use crate::{LayerDiagnostics, Loss, Optimizer, OptimizerStateError, StepReport};

/// What a rule may use during one update: the optimizer that turns its gradients into weight
/// changes, the learning rate, the seeded noise for this step (units' noise and the rule's
/// exploration) and whether to compute the comparison with backprop. Made only by
/// [`Learner`](crate::Learner).
pub struct StepContext<'a> {
    pub(crate) optimizer: &'a mut Optimizer,
    pub(crate) learning_rate: f64,
    pub(crate) noise: &'a mut SeededRng,
    pub(crate) diagnose: bool,
    pub(crate) loss: Loss,
}

impl StepContext<'_> {
    /// The objective of a labelled update (cross-entropy averaged over the batch unless the
    /// driver was given another, [`Learner::with_loss`](crate::Learner::with_loss)).
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The optimizer, the learning rate and the noise stream, borrowed together.
    pub fn parts(&mut self) -> (&mut Optimizer, f64, &mut SeededRng) {
        (self.optimizer, self.learning_rate, self.noise)
    }

    /// Whether this step computes per-layer angles to backprop (an extra backward pass).
    pub fn diagnose(&self) -> bool {
        self.diagnose
    }
}

/// The result of one update: the new network, the batch loss and, when diagnostics were on,
/// one [`LayerDiagnostics`] per layer (bottom first).
pub type Update<N> = (N, StepReport, Vec<LayerDiagnostics>);

/// A learning rule for networks of type `N`. Implement it for a rule of your own; step it with
/// [`Learner`](crate::Learner).
///
/// ```
/// use apical_learn::{Learner, OptimizerConfig, PcSettings, PredictiveCoding};
/// use apical_nn::{ndarray_device, FeedforwardConfig, FeedforwardParams, SeededRng};
/// use burn::tensor::Tensor;
///
/// let device = ndarray_device().autodiff();
/// let net = FeedforwardConfig::new(4, 3, FeedforwardParams::layers(vec![8])).init(&device);
/// let rule = PredictiveCoding::new(&net, PcSettings::default(), 0, &ndarray_device());
/// let mut learner = Learner::new(Box::new(rule), OptimizerConfig::default().init(), 1e-3);
/// let x = Tensor::<2>::ones([2, 4], &device);
/// let (net, report, _) = learner.step(net, x, &[0, 2], &mut SeededRng::new(0), false);
/// assert!(report.loss.is_finite());
/// # let _ = net;
/// ```
pub trait LearningRule<N> {
    /// The rule's config name (`rule.kind`).
    fn name(&self) -> &'static str;

    /// The rule's own update of `net` on a labelled batch. Called by
    /// [`Learner::step`](crate::Learner::step), which then lets the network bring its derived
    /// weights up to date.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]` (on the network's device)
    /// - labels: `[batch]`
    fn update(
        &mut self,
        net: N,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        labels: &[usize],
    ) -> Update<N>;

    /// The rule's state as bytes (empty when it has none), for checkpoints.
    fn state_bytes(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores [`state_bytes`](Self::state_bytes) on `device` (the network's device without
    /// autodiff).
    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        let _ = (bytes, device);
        Ok(())
    }

    /// Whether the rule's state is finite; a run stops (diverged) when it is not. Rules with
    /// state override it; the default (no state) is `true`.
    fn state_is_finite(&self) -> bool {
        true
    }

    /// The rule's reward-only interface, for tasks that give no labels, only a scalar reward
    /// per example and time step; `None` for rules that need labels.
    fn reward_learning(&mut self) -> Option<&mut dyn RewardLearning<N>> {
        None
    }
}

/// Learning from a scalar reward alone (closed-loop tasks such as the BCI task): the network
/// acts, the environment answers with a reward, the rule learns from it. No labels exist.
pub trait RewardLearning<N> {
    /// Runs `net` on `input` with the rule's exploration (drawn from the context's noise) and
    /// remembers what the coming [`reinforce`](Self::reinforce) needs. Returns the rates of
    /// every layer, the first hidden layer first and the output layer last.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]`; each returned tensor: `[batch, width of that layer]`
    fn act(&mut self, net: &N, ctx: &mut StepContext<'_>, input: Tensor<2>) -> Vec<Tensor<2>>;

    /// Updates `net` from `reward` (one value per example) that followed the last
    /// [`act`](Self::act). The report's loss is the negative mean reward.
    ///
    /// # Panics
    /// If no `act` preceded it, or `reward` does not have one value per example.
    fn reinforce(&mut self, net: N, ctx: &mut StepContext<'_>, reward: &[f32]) -> (N, StepReport);

    /// The environment's vector feedback on the last [`act`](Self::act), before
    /// [`reinforce`](Self::reinforce): per example and task dimension, the error (`error`,
    /// `[batch·K]`, example-major) and the movement toward the target (`movement`, the same
    /// shape). A rule that learns from the scalar alone ignores it (the default).
    fn observe_error(&mut self, error: &[f32], movement: &[f32]) {
        let _ = (error, movement);
    }

    /// The two-compartment state (basal, apical, soma, rate, residual) of the last
    /// [`reinforce`](Self::reinforce), taken once, for networks whose units have dendrites —
    /// what a closed-loop task records, the very quantities the rule learned from. `None` by
    /// default.
    fn compartments(&mut self) -> Option<apical_nn::DendriticState> {
        None
    }

    /// The episode (a trial) ended: state that must not carry into the next one (eligibility
    /// traces) is cleared. Nothing by default.
    fn end_episode(&mut self) {}
}
