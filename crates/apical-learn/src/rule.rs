//! The one interface every learning rule implements, so that a config (or a researcher's own
//! loop) can pick any of them for a network type.

use apical_nn::{Feedforward, GenerativeFeedbackNetwork, SeededRng};
use burn::tensor::{Device, Tensor};

use crate::{
    one_hot, Backprop, Dendritic, ExploratoryHebb, FeedbackAlignment, LayerDiagnostics, Optimizer,
    OptimizerStateError, PcNetwork, PredictiveCoding, RewardBroadcast, StepReport,
};

/// A learning rule for networks of type `N`.
///
/// One [`step`](Self::step) updates the network on a batch and reports the batch loss and, when
/// diagnostics are on, one [`LayerDiagnostics`] per layer (bottom first). Rules that keep state
/// between steps (feedback matrices, cancellation weights, generative weights) expose it as
/// bytes for checkpoints.
///
/// ```
/// use apical_learn::{LearningRule, OptimizerConfig, PcMode, PcSettings, PredictiveCoding};
/// use apical_nn::{ndarray_device, FeedforwardConfig, SeededRng};
/// use burn::tensor::Tensor;
///
/// let device = ndarray_device().autodiff();
/// let net = FeedforwardConfig::new(4, vec![8], 3).init(&device);
/// let settings = PcSettings {
///     mode: PcMode::Discriminative,
///     steps: 5,
///     inference_rate: 0.1,
///     nudge: 1.0,
///     generative_rate: 0.05,
/// };
/// let mut rule: Box<dyn LearningRule<_>> =
///     Box::new(PredictiveCoding::new(&net, settings, 0, &ndarray_device()));
/// let mut optimizer = OptimizerConfig::default().init();
/// let x = Tensor::<2>::ones([2, 4], &device);
/// let (net, report, _) =
///     rule.step(net, &mut optimizer, 1e-3, x, &[0, 2], &mut SeededRng::new(0));
/// assert!(report.loss.is_finite());
/// # let _ = net;
/// ```
pub trait LearningRule<N> {
    /// The rule's config name (`rule.kind`).
    fn name(&self) -> &'static str;

    /// One update of `net` on a batch. `noise` drives the units' noise and any exploration the
    /// rule does.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]` (on the network's device)
    fn step(
        &mut self,
        net: N,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (N, StepReport, Vec<LayerDiagnostics>);

    /// Whether the next steps compare the update with backprop's gradient (an extra backward
    /// pass). Rules without diagnostics ignore it.
    fn set_diagnose(&mut self, on: bool) {
        let _ = on;
    }

    /// The rule's state as bytes (empty when it has none).
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
}

impl<N: apical_nn::Classifier> LearningRule<N> for Backprop {
    fn name(&self) -> &'static str {
        "backprop"
    }

    fn step(
        &mut self,
        net: N,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (N, StepReport, Vec<LayerDiagnostics>) {
        let targets = one_hot(labels, net.n_outputs(), &input.device());
        let before = net.clone();
        let (net, report) = Backprop::step(
            self,
            net,
            optimizer,
            learning_rate,
            input.clone(),
            targets,
            Some(noise),
        );
        (net.after_update(&before, input), report, Vec::new())
    }
}

impl LearningRule<Feedforward> for FeedbackAlignment {
    fn name(&self) -> &'static str {
        if self.is_kolen_pollack() {
            "kolen-pollack"
        } else {
            "feedback-alignment"
        }
    }

    fn step(
        &mut self,
        net: Feedforward,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (Feedforward, StepReport, Vec<LayerDiagnostics>) {
        FeedbackAlignment::step(
            self,
            net,
            optimizer,
            learning_rate,
            input,
            labels,
            Some(noise),
        )
    }

    fn set_diagnose(&mut self, on: bool) {
        self.diagnose = on;
    }

    fn state_bytes(&self) -> Vec<u8> {
        FeedbackAlignment::state_bytes(self)
    }

    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        FeedbackAlignment::load_state_bytes(self, bytes, device)
    }
}

impl LearningRule<Feedforward> for RewardBroadcast {
    fn name(&self) -> &'static str {
        "reward-broadcast"
    }

    fn step(
        &mut self,
        net: Feedforward,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (Feedforward, StepReport, Vec<LayerDiagnostics>) {
        RewardBroadcast::step(self, net, optimizer, learning_rate, input, labels, noise)
    }

    fn set_diagnose(&mut self, on: bool) {
        self.diagnose = on;
    }
}

impl LearningRule<Feedforward> for ExploratoryHebb {
    fn name(&self) -> &'static str {
        "reward-broadcast"
    }

    fn step(
        &mut self,
        net: Feedforward,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (Feedforward, StepReport, Vec<LayerDiagnostics>) {
        ExploratoryHebb::step(self, net, optimizer, learning_rate, input, labels, noise)
    }

    fn set_diagnose(&mut self, on: bool) {
        self.diagnose = on;
    }
}

impl LearningRule<GenerativeFeedbackNetwork> for Dendritic {
    fn name(&self) -> &'static str {
        "dendritic"
    }

    fn step(
        &mut self,
        net: GenerativeFeedbackNetwork,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (GenerativeFeedbackNetwork, StepReport, Vec<LayerDiagnostics>) {
        Dendritic::step(
            self,
            net,
            optimizer,
            learning_rate,
            input,
            labels,
            Some(noise),
        )
    }

    fn set_diagnose(&mut self, on: bool) {
        self.diagnose = on;
    }

    fn state_bytes(&self) -> Vec<u8> {
        Dendritic::state_bytes(self)
    }

    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        Dendritic::load_state_bytes(self, bytes, device)
    }
}

impl<N: PcNetwork> LearningRule<N> for PredictiveCoding {
    fn name(&self) -> &'static str {
        "predictive-coding"
    }

    fn step(
        &mut self,
        net: N,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        labels: &[usize],
        noise: &mut SeededRng,
    ) -> (N, StepReport, Vec<LayerDiagnostics>) {
        PredictiveCoding::step(
            self,
            net,
            optimizer,
            learning_rate,
            input,
            labels,
            Some(noise),
        )
    }

    fn set_diagnose(&mut self, on: bool) {
        self.diagnose = on;
    }

    fn state_bytes(&self) -> Vec<u8> {
        PredictiveCoding::state_bytes(self)
    }

    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        PredictiveCoding::load_state_bytes(self, bytes, device)
    }
}
