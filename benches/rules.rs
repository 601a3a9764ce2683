//! One training step per learning rule, on the same widths (64-128-64-10, batch 32: the digits
//! net), ndarray backend. The gfn runs 3 inference steps; predictive coding runs T = 5. Steps
//! are measured without the comparison with backprop (training computes it every
//! `training.diagnostics_every` steps, 10 by default).
//!
//! ```text
//! cargo bench --profile dev --bench rules
//! ```

use apical::burn::tensor::{Tensor, TensorData};
use apical::learn::{
    one_hot, Backprop, Dendritic, ExploratoryHebb, FeedbackAlignment, FeedbackMode,
    OptimizerConfig, PcMode, PcNetwork, PcSettings, PredictiveCoding, RewardBroadcast,
};
use apical::nn::{
    ndarray_device, Activation, FeedforwardConfig, GenerativeFeedbackConfig, SeededRng, TopDown,
};

fn main() {
    divan::main();
}

const D_IN: usize = 64;
const HIDDEN: [usize; 2] = [128, 64];
const D_OUT: usize = 10;
const BATCH: usize = 32;

fn batch(device: &apical::burn::tensor::Device) -> (Tensor<2>, Vec<usize>) {
    let mut rng = SeededRng::new(0);
    let x: Vec<f32> = (0..BATCH * D_IN).map(|_| rng.uniform() as f32).collect();
    (
        Tensor::from_data(TensorData::new(x, [BATCH, D_IN]), device),
        (0..BATCH).map(|i| i % D_OUT).collect(),
    )
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_backprop(bencher: divan::Bencher) {
    let device = ndarray_device().autodiff();
    let (x, y) = batch(&device);
    let targets = one_hot(&y, D_OUT, &device);
    let mut net = Some(FeedforwardConfig::new(D_IN, HIDDEN.to_vec(), D_OUT).init(&device));
    let mut optim = OptimizerConfig::default().init();
    bencher.bench_local(|| {
        let (next, r) = Backprop.step(
            net.take().unwrap(),
            &mut optim,
            1e-3,
            x.clone(),
            targets.clone(),
            None,
        );
        net = Some(next);
        r.loss
    });
}

fn ff_feedback(bencher: divan::Bencher, mode: FeedbackMode) {
    let device = ndarray_device().autodiff();
    let (x, y) = batch(&device);
    let mut net = Some(FeedforwardConfig::new(D_IN, HIDDEN.to_vec(), D_OUT).init(&device));
    let mut rule = FeedbackAlignment::new(net.as_ref().unwrap(), mode, 0, &ndarray_device());
    rule.diagnose = false;
    let mut optim = OptimizerConfig::default().init();
    bencher.bench_local(|| {
        let (next, r, _) = rule.step(net.take().unwrap(), &mut optim, 1e-3, x.clone(), &y, None);
        net = Some(next);
        r.loss
    });
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_feedback_alignment(bencher: divan::Bencher) {
    ff_feedback(bencher, FeedbackMode::Fixed);
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_kolen_pollack(bencher: divan::Bencher) {
    ff_feedback(bencher, FeedbackMode::KolenPollack { decay: 1e-3 });
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_reward_broadcast(bencher: divan::Bencher) {
    let device = ndarray_device().autodiff();
    let (x, y) = batch(&device);
    let mut net = Some(FeedforwardConfig::new(D_IN, HIDDEN.to_vec(), D_OUT).init(&device));
    let mut optim = OptimizerConfig::default().init();
    let mut rng = SeededRng::new(1);
    let rule = RewardBroadcast {
        sigma: 0.1,
        diagnose: false,
    };
    bencher.bench_local(|| {
        let (next, r, _) = rule.step(
            net.take().unwrap(),
            &mut optim,
            1e-3,
            x.clone(),
            &y,
            &mut rng,
        );
        net = Some(next);
        r.loss
    });
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_exploratory_hebb_k4(bencher: divan::Bencher) {
    let device = ndarray_device().autodiff();
    let (x, y) = batch(&device);
    let mut net = Some(FeedforwardConfig::new(D_IN, HIDDEN.to_vec(), D_OUT).init(&device));
    let mut optim = OptimizerConfig::default().init();
    let mut rng = SeededRng::new(1);
    let mut rule = ExploratoryHebb::new(0.1, 4);
    rule.diagnose = false;
    bencher.bench_local(|| {
        let (next, r, _) = rule.step(
            net.take().unwrap(),
            &mut optim,
            1e-3,
            x.clone(),
            &y,
            &mut rng,
        );
        net = Some(next);
        r.loss
    });
}

fn gfn() -> GenerativeFeedbackConfig {
    GenerativeFeedbackConfig::new(D_IN, HIDDEN.to_vec(), D_OUT)
        .with_steps(3)
        .with_activation(Activation::Sigmoid)
        .with_top_down(TopDown::Tied)
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn gfn_backprop_unrolled(bencher: divan::Bencher) {
    let device = ndarray_device().autodiff();
    let (x, y) = batch(&device);
    let targets = one_hot(&y, D_OUT, &device);
    let mut net = Some(gfn().init(&device));
    let mut optim = OptimizerConfig::default().init();
    bencher.bench_local(|| {
        let (next, r) = Backprop.step(
            net.take().unwrap(),
            &mut optim,
            1e-3,
            x.clone(),
            targets.clone(),
            None,
        );
        net = Some(next);
        r.loss
    });
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn gfn_dendritic(bencher: divan::Bencher) {
    let device = ndarray_device().autodiff();
    let (x, y) = batch(&device);
    let mut net = Some(gfn().init(&device));
    let mut rule = Dendritic::new(net.as_ref().unwrap(), 4.0, 0.01, &ndarray_device());
    rule.diagnose = false;
    let mut optim = OptimizerConfig::default().init();
    bencher.bench_local(|| {
        let (next, r, _) = rule.step(net.take().unwrap(), &mut optim, 1e-3, x.clone(), &y, None);
        net = Some(next);
        r.loss
    });
}

fn predictive_coding<N: PcNetwork>(bencher: divan::Bencher, net: N) {
    let device = ndarray_device().autodiff();
    let (x, y) = batch(&device);
    let settings = PcSettings {
        mode: PcMode::Discriminative,
        steps: 5,
        inference_rate: 0.5,
        nudge: 1.0,
        generative_rate: 0.05,
    };
    let mut rule = PredictiveCoding::new(&net, settings, 0, &ndarray_device());
    rule.diagnose = false;
    let mut net = Some(net);
    let mut optim = OptimizerConfig::default().init();
    bencher.bench_local(|| {
        let (next, r, _) = rule.step(net.take().unwrap(), &mut optim, 1e-3, x.clone(), &y, None);
        net = Some(next);
        r.loss
    });
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_predictive_coding_t5(bencher: divan::Bencher) {
    let device = ndarray_device().autodiff();
    predictive_coding(
        bencher,
        FeedforwardConfig::new(D_IN, HIDDEN.to_vec(), D_OUT).init(&device),
    );
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn gfn_predictive_coding_t5(bencher: divan::Bencher) {
    let device = ndarray_device().autodiff();
    predictive_coding(bencher, gfn().init(&device));
}
