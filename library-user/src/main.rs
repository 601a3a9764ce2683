//! A researcher's own program on apical: a feedforward network trained with backprop and with
//! feedback alignment through `Learner`, on a fixed random batch of MNIST-sized inputs.
//! Prints the mean time of a training step and fails if a rule does not lower the loss.

use std::time::Instant;

use apical::prelude::*;

fn batch(device: &Device) -> (Tensor<2>, Vec<usize>) {
    let mut rng = SeededRng::new(1);
    let (n, d) = (64, 784);
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let x: Vec<f32> = (0..n * d)
        .map(|i| (labels[i / d] == (i % d) % 10) as u8 as f32 + 0.1 * rng.normal() as f32)
        .collect();
    (
        Tensor::from_data(TensorData::new(x, [n, d]), device),
        labels,
    )
}

fn train(name: &str, rule: Box<dyn LearningRule<Feedforward>>, device: &Device) -> f64 {
    let net = FeedforwardConfig::new(784, 10, FeedforwardParams::layers(vec![256])).init(device);
    let mut learner = Learner::new(rule, OptimizerConfig::default().init(), 1e-3);
    let (x, y) = batch(device);
    let mut noise = SeededRng::new(0);
    let (mut net, first, _) = learner.step(net, x.clone(), &y, &mut noise, false);
    let steps = 30;
    let started = Instant::now();
    let mut last = first.loss;
    for _ in 0..steps {
        let (next, report, _) = learner.step(net, x.clone(), &y, &mut noise, false);
        net = next;
        last = report.loss;
    }
    let ms = started.elapsed().as_secs_f64() * 1e3 / steps as f64;
    println!(
        "{name}: loss {:.3} → {last:.3}, {ms:.2} ms per step (784-256-10, batch 64)",
        first.loss
    );
    assert!(last < first.loss, "{name} did not lower the loss");
    ms
}

fn main() {
    let device = ndarray_device().autodiff();
    train("backprop", Box::new(Backprop), &device);
    let host = device.clone().without_autodiff();
    let net = FeedforwardConfig::new(784, 10, FeedforwardParams::layers(vec![256])).init(&device);
    let fa = FeedbackAlignment::new(&net, apical::learn::FeedbackMode::Fixed, 0, &host);
    train("feedback-alignment", Box::new(fa), &device);
}
