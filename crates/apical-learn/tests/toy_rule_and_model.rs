//! A rule and a model of one's own, added the documented way (ARCHITECTURE.md, "Adding a
//! rule / model"): a model is a burn `Module` that implements `Classifier`; a rule implements
//! `LearningRule<N>` for the networks it trains; both are stepped through `Learner`, which no
//! caller can bypass. The toy model trains with an existing rule (backprop) and the toy rule
//! trains the toy model, each well above chance on a separable problem.

use apical_learn::{
    one_hot, Backprop, Learner, LearningRule, OptimizerConfig, StepContext, StepReport, Update,
};
use apical_nn::{ndarray_device, Classifier, SeededRng};
use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};

/// A toy model: one linear map from inputs to logits, no bias.
#[derive(Module, Debug)]
struct Toy {
    weight: Param<Tensor<2>>,
}

impl Toy {
    fn new(d_in: usize, d_out: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([d_in, d_out], device)),
        }
    }
}

impl Classifier for Toy {
    fn logits(&self, input: Tensor<2>, _noise: Option<&mut SeededRng>) -> Tensor<2> {
        input.matmul(self.weight.val())
    }

    fn n_outputs(&self) -> usize {
        self.weight.dims()[1]
    }
}

/// A toy rule: the delta rule on the softmax output, ΔW = η·xᵀ(target − p)/batch, applied as a
/// local update (no optimizer, no autodiff graph).
struct Delta;

impl LearningRule<Toy> for Delta {
    fn name(&self) -> &'static str {
        "delta"
    }

    fn update(
        &mut self,
        net: Toy,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
        labels: &[usize],
    ) -> Update<Toy> {
        let (_, learning_rate, _) = ctx.parts();
        let device = input.device();
        let logits = net.logits(input.clone(), None);
        let targets = one_hot(labels, net.n_outputs(), &device);
        let p = softmax(logits, 1);
        let total: f32 = (p.clone().log() * targets.clone())
            .sum()
            .neg()
            .into_scalar();
        let loss = total / labels.len() as f32;
        let dw = input.transpose().matmul(targets - p) * (learning_rate / labels.len() as f64);
        let weight = net.weight.map(|w| (w + dw.clone()).detach().require_grad());
        (Toy { weight }, StepReport { loss }, Vec::new())
    }
}

/// Two Gaussian clouds in 4 dimensions, labels 0 and 1, as host tensors.
fn data(n: usize, device: &Device) -> (Tensor<2>, Vec<usize>) {
    let mut rng = SeededRng::new(7);
    let mut x = Vec::with_capacity(n * 4);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let label = i % 2;
        let centre = if label == 0 { -1.0 } else { 1.0 };
        for _ in 0..4 {
            x.push(centre + 0.5 * rng.normal() as f32);
        }
        y.push(label);
    }
    (Tensor::from_data(TensorData::new(x, [n, 4]), device), y)
}

fn accuracy(net: &Toy, x: Tensor<2>, y: &[usize]) -> f64 {
    let predictions = apical_learn::predictions(net.logits(x, None));
    predictions.iter().zip(y).filter(|(p, l)| p == l).count() as f64 / y.len() as f64
}

fn train(rule: Box<dyn LearningRule<Toy>>, learning_rate: f64) -> (f32, f32, f64) {
    let device = ndarray_device().autodiff();
    let (x, y) = data(64, &device);
    let mut learner = Learner::new(rule, OptimizerConfig::default().init(), learning_rate);
    let mut net = Toy::new(4, 2, &device);
    let mut noise = SeededRng::new(0);
    let mut losses = Vec::new();
    for _ in 0..50 {
        let (next, report, _) = learner.step(net, x.clone(), &y, &mut noise, false);
        net = next;
        losses.push(report.loss);
    }
    (losses[0], *losses.last().unwrap(), accuracy(&net, x, &y))
}

#[test]
fn a_toy_model_trains_with_backprop() {
    let (first, last, accuracy) = train(Box::new(Backprop), 0.05);
    assert!(last < 0.5 * first, "loss {first} → {last}");
    assert!(accuracy > 0.9, "accuracy {accuracy}");
}

#[test]
fn a_toy_rule_trains_the_toy_model() {
    let (first, last, accuracy) = train(Box::new(Delta), 0.5);
    assert!(last < 0.5 * first, "loss {first} → {last}");
    assert!(accuracy > 0.9, "accuracy {accuracy}");
}
