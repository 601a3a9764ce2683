//! One training step (forward, backward, Adam update) of the feedforward baseline.
//!
//! ```text
//! cargo bench -p apical-benches --bench train_step                 # ndarray, and wgpu if an adapter exists
//! cargo bench -p apical-benches --bench train_step -- ndarray      # one backend
//! ```
//! GPU timings read the loss back to the host each step (as training does), which synchronises
//! the device before the clock stops.

use apical::prelude::*;

fn main() {
    divan::main();
}

struct Setup {
    net: Option<Feedforward>,
    learner: Learner<Feedforward>,
    input: Tensor<2>,
    labels: Vec<usize>,
    noise: SeededRng,
}

fn setup(device: &Device, d_in: usize, hidden: Vec<usize>, d_out: usize, batch: usize) -> Setup {
    let device = device.clone().autodiff();
    let mut rng = SeededRng::new(0);
    let x: Vec<f32> = (0..batch * d_in).map(|_| rng.uniform() as f32).collect();
    Setup {
        net: Some(
            FeedforwardConfig::new(d_in, d_out, FeedforwardParams::layers(hidden)).init(&device),
        ),
        learner: Learner::new(Box::new(Backprop), OptimizerConfig::default().init(), 1e-3),
        input: Tensor::from_data(TensorData::new(x, [batch, d_in]), &device),
        labels: (0..batch).map(|i| i % d_out).collect(),
        noise: SeededRng::new(1),
    }
}

impl Setup {
    /// One step through the driver the runner uses.
    fn step(&mut self) -> f32 {
        let (net, report, _) = self.learner.step(
            self.net.take().unwrap(),
            self.input.clone(),
            &self.labels,
            &mut self.noise,
            false,
        );
        self.net = Some(net);
        report.loss
    }
}

fn bench_step(
    bencher: divan::Bencher,
    backend: BackendKind,
    d_in: usize,
    hidden: Vec<usize>,
    d_out: usize,
    batch: usize,
) {
    let Ok(device) = init_device(backend) else {
        eprintln!("skipping {}: no adapter", backend.name());
        return;
    };
    let mut s = setup(&device, d_in, hidden, d_out, batch);
    // Warm-up (shader compilation on wgpu).
    for _ in 0..3 {
        s.step();
    }
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| s.step());
}

const BACKENDS: [&str; 2] = ["ndarray", "wgpu"];

fn kind(name: &str) -> BackendKind {
    name.parse().expect("known backend")
}

/// 784-256-10, batch 64 (MNIST-sized).
#[divan::bench(args = BACKENDS, sample_count = 30, sample_size = 5)]
fn mnist_784_256_10_batch64(bencher: divan::Bencher, backend: &str) {
    bench_step(bencher, kind(backend), 784, vec![256], 10, 64);
}

/// The quickstart digits net: 64-128-64-10, batch 32.
#[divan::bench(args = BACKENDS, sample_count = 30, sample_size = 20)]
fn digits_64_128_64_10_batch32(bencher: divan::Bencher, backend: &str) {
    bench_step(bencher, kind(backend), 64, vec![128, 64], 10, 32);
}
