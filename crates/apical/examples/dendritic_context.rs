//! A `DendriticLayer` inside a model of your own, trained with one of apical's rules.
//!
//! The task is context-dependent discrimination: a stimulus s = (s₀, s₁) arrives at the basal
//! dendrites, a context cue (two-way one-hot) at the apical dendrites. In context A the answer
//! is the sign of s₀, in context B the sign of s₁ — the cue must change how the stimulus is
//! read. The model is this file's own burn `Module`; apical supplies the two-compartment layer,
//! the learning rule and the driver (`Learner`), which also keeps the layer's apical prediction
//! (its dendritic residual) current through `Classifier::after_update`.
//!
//! ```text
//! cargo run -p apical --example dendritic_context             # ndarray (CPU)
//! cargo run -p apical --example dendritic_context -- wgpu     # wgpu (GPU, or lavapipe)
//! ```

use apical::burn::nn::{Linear, LinearConfig};
use apical::prelude::*;

/// Stimulus width and context width.
const STIMULUS: usize = 2;
const CONTEXTS: usize = 2;

/// The researcher's own model: a dendritic layer (stimulus → basal, context → apical) and a
/// linear readout.
#[derive(Module, Debug)]
struct ContextModel {
    dendritic: DendriticLayer,
    readout: Linear,
}

impl ContextModel {
    fn new(hidden: usize, device: &Device) -> Self {
        Self {
            dendritic: DendriticLayerConfig::new(STIMULUS, hidden, CONTEXTS)
                .with_seed(1)
                .init(device),
            readout: LinearConfig::new(hidden, 2).init(device),
        }
    }

    /// The layer's state for a batch `[stimulus | context]`.
    fn state(&self, input: Tensor<2>) -> DendriticState {
        let stimulus = input.clone().narrow(1, 0, STIMULUS);
        let context = input.narrow(1, STIMULUS, CONTEXTS);
        self.dendritic.forward(stimulus, Some(context), None)
    }
}

impl Classifier for ContextModel {
    fn logits(&self, input: Tensor<2>, _noise: Option<&mut SeededRng>) -> Tensor<2> {
        self.readout.forward(self.state(input).rate)
    }

    fn n_outputs(&self) -> usize {
        2
    }

    /// After every update, one LMS step of the apical prediction keeps the residual current.
    fn after_update(mut self, _before: &Self, input: Tensor<2>) -> Self {
        let state = self.state(input);
        self.dendritic = self.dendritic.fit_apical_prediction(&state, 0.05);
        self
    }
}

/// `n` trials: rows `[s₀, s₁, context A, context B]` and the labels.
fn trials(n: usize, rng: &mut SeededRng, device: &Device) -> (Tensor<2>, Vec<usize>) {
    let mut rows = Vec::with_capacity(n * (STIMULUS + CONTEXTS));
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let s = [rng.uniform_range(-1.0, 1.0), rng.uniform_range(-1.0, 1.0)];
        let context = rng.below(2);
        labels.push(usize::from(s[context] > 0.0));
        rows.extend([s[0] as f32, s[1] as f32]);
        rows.extend((0..CONTEXTS).map(|c| if c == context { 1.0f32 } else { 0.0 }));
    }
    (
        Tensor::from_data(TensorData::new(rows, [n, STIMULUS + CONTEXTS]), device),
        labels,
    )
}

fn accuracy(model: &ContextModel, input: Tensor<2>, labels: &[usize]) -> f64 {
    let predicted = predictions(model.logits(input, None));
    predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64
}

fn main() {
    let backend = match std::env::args().nth(1).as_deref() {
        Some("wgpu") => BackendKind::Wgpu,
        _ => BackendKind::Ndarray,
    };
    let device = match init_device(backend) {
        Ok(device) => device.autodiff(),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut rng = SeededRng::new(7);
    let (test_x, test_y) = trials(1000, &mut rng, &device);
    let mut model = ContextModel::new(32, &device);
    let before = accuracy(&model, test_x.clone(), &test_y);
    let mut learner = Learner::new(Box::new(Backprop), OptimizerConfig::default().init(), 0.02);
    for step in 0..600 {
        let (x, y) = trials(64, &mut rng, &device);
        let (next, report, _) = learner.step(model, x, &y, &mut rng, false);
        model = next;
        if step % 200 == 0 {
            println!("step {step:4}: batch loss {:.3}", report.loss);
        }
    }
    let after = accuracy(&model, test_x.clone(), &test_y);
    let residual: f32 = model.state(test_x).residual.abs().mean().into_scalar();
    println!(
        "test accuracy {before:.3} → {after:.3} (chance 0.5); mean |dendritic residual| {residual:.4}"
    );
    assert!(after > 0.9, "the context-dependent rule was not learned");
}
