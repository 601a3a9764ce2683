//! `backprop`: error backpropagation through burn autodiff — the baseline every rule is judged
//! against.

use crate::registry::{labelled_only, BoxedRule, RuleSpec};
use apical_core::InvalidParameter;
use apical_nn::{Classifier, SeededRng};
use apical_nn::{Feedforward, GenerativeFeedbackNetwork, ModelConfig};
use burn::optim::GradientsParams;
use burn::tensor::Device;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{one_hot, LearningRule, StepContext, Update};

use crate::Loss;
#[cfg(test)]
use crate::Optimizer;

/// `[rule]` with `kind = "backprop"` (no hyper-parameters).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackpropConfig {}

/// Error backpropagation of the run's loss on the readout (cross-entropy unless `training.loss`
/// says otherwise).
#[derive(Debug, Clone, Copy, Default)]
pub struct Backprop;

/// What one training step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Training loss on the batch (as the run's loss reduces it), before the update.
    pub loss: f32,
}

impl Backprop {
    /// The gradients of `loss` on a batch for `net` (any [`Classifier`]: the ff network, or the
    /// gfn unrolled over its inference steps), and the batch loss. `net` must live on an
    /// autodiff device; `noise`, when given, drives the units' noise for this step.
    ///
    /// # Shapes
    /// - input: `[batch, d_in]`
    /// - targets: `[batch, d_out]` (one-hot)
    pub(crate) fn gradients<M: Classifier>(
        &self,
        net: &M,
        input: Tensor<2>,
        targets: Tensor<2>,
        noise: Option<&mut SeededRng>,
        loss: Loss,
    ) -> (GradientsParams, StepReport) {
        assert!(input.device().is_autodiff(), "Backprop::step: the network and batch must be on an autodiff device (device.autodiff())");
        let logits = net.logits(input, noise);
        let loss = loss.value(logits, targets);
        let loss_value: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), net);
        (grads, StepReport { loss: loss_value })
    }

    /// One update of `net` on a batch with the default loss (cross-entropy, batch mean).
    #[cfg(test)]
    pub(crate) fn step<M: Classifier>(
        &self,
        net: M,
        optimizer: &mut Optimizer,
        learning_rate: f64,
        input: Tensor<2>,
        targets: Tensor<2>,
        noise: Option<&mut SeededRng>,
    ) -> (M, StepReport) {
        let (grads, report) = self.gradients(&net, input, targets, noise, Loss::default());
        (optimizer.step(learning_rate, net, grads), report)
    }
}

impl RuleSpec for BackpropConfig {
    fn check_model(&self, model: &ModelConfig) -> Result<(), InvalidParameter> {
        labelled_only("backprop", model)
    }
    fn trains_with(&self, _: Loss) -> bool {
        true
    }
    fn for_ff(&self, _: &Feedforward, _: u64, _: &Device) -> Option<BoxedRule<Feedforward>> {
        Some(Box::new(Backprop))
    }
    fn for_gfn(
        &self,
        _: &GenerativeFeedbackNetwork,
        _: u64,
        _: &Device,
    ) -> Option<BoxedRule<GenerativeFeedbackNetwork>> {
        Some(Box::new(Backprop))
    }
}

impl<N: apical_nn::Classifier> LearningRule<N> for Backprop {
    fn name(&self) -> &'static str {
        "backprop"
    }

    fn update(
        &mut self,
        net: N,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        labels: &[usize],
    ) -> Update<N> {
        let targets = one_hot(labels, net.n_outputs(), &input.device());
        let loss = ctx.loss();
        let (optimizer, learning_rate, noise) = ctx.parts();
        let (grads, report) = self.gradients(&net, input, targets, Some(noise), loss);
        (
            optimizer.step(learning_rate, net, grads),
            report,
            Vec::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{one_hot, predictions, OptimizerConfig};
    use apical_nn::ndarray_device;
    use apical_nn::FeedforwardConfig;
    use apical_nn::FeedforwardParams;
    use burn::tensor::TensorData;

    /// XOR is not linearly separable: learning it needs the hidden layer's gradient.
    #[test]
    fn backprop_learns_xor() {
        let device = ndarray_device().autodiff();
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2]),
            &device,
        );
        let labels = [0usize, 1, 1, 0];
        let targets = one_hot(&labels, 2, &device);
        let mut net = FeedforwardConfig::new(2, 2, FeedforwardParams::layers(vec![16]))
            .with_seed(1)
            .init(&device);
        let mut optim = OptimizerConfig::default().init();
        let mut first = None;
        let mut last = 0.0;
        for _ in 0..300 {
            let (next, report) =
                Backprop.step(net, &mut optim, 0.05, x.clone(), targets.clone(), None);
            net = next;
            first.get_or_insert(report.loss);
            last = report.loss;
        }
        assert!(
            last < 0.1 * first.unwrap(),
            "loss {} → {last}",
            first.unwrap()
        );
        assert_eq!(predictions(net.forward(x)), labels.to_vec());
    }
}
