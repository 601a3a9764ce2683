//! One training step (forward, backward, Adam update) of the feedforward baseline.
//!
//! ```text
//! cargo bench -p apical-benches --bench train_step                 # ndarray, and wgpu if an adapter exists
//! cargo bench -p apical-benches --bench train_step -- ndarray      # one backend
//! ```
//! GPU timings read the loss back to the host each step (as training does), which synchronises
//! the device before the clock stops.

use apical::burn::tensor::{Device, Tensor, TensorData};
use apical::learn::{one_hot, Backprop, Optimizer, OptimizerConfig};
use apical::nn::{Feedforward, FeedforwardConfig, SeededRng};
use apical_run::{init_device, BackendKind};

fn main() {
    divan::main();
}

struct Setup {
    net: Option<Feedforward>,
    optimizer: Optimizer,
    input: Tensor<2>,
    targets: Tensor<2>,
}

fn setup(device: &Device, d_in: usize, hidden: Vec<usize>, d_out: usize, batch: usize) -> Setup {
    let device = device.clone().autodiff();
    let mut rng = SeededRng::new(0);
    let x: Vec<f32> = (0..batch * d_in).map(|_| rng.uniform() as f32).collect();
    let labels: Vec<usize> = (0..batch).map(|i| i % d_out).collect();
    Setup {
        net: Some(FeedforwardConfig::new(d_in, hidden, d_out).init(&device)),
        optimizer: OptimizerConfig::default().init(),
        input: Tensor::from_data(TensorData::new(x, [batch, d_in]), &device),
        targets: one_hot(&labels, d_out, &device),
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
        let (net, _) = Backprop.step(
            s.net.take().unwrap(),
            &mut s.optimizer,
            1e-3,
            s.input.clone(),
            s.targets.clone(),
            None,
        );
        s.net = Some(net);
    }
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| {
            let (net, report) = Backprop.step(
                s.net.take().unwrap(),
                &mut s.optimizer,
                1e-3,
                s.input.clone(),
                s.targets.clone(),
                None,
            );
            s.net = Some(net);
            report.loss
        });
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
