//! Every rule at the sizes peers publish, through the runner's driver (`Learner::step`), on
//! ndarray and on wgpu where an adapter exists; and the matrix library's own product rate, which
//! the wide net's backprop step is judged against.
//!
//! ```text
//! cargo bench --profile dev -p apical-benches --bench peers -- ndarray      # CPU only
//! cargo bench --profile dev -p apical-benches --bench peers                 # + wgpu
//! ```
//! Counters: steps/s for the rules; FLOP/s (shown as item/s) for `sgemm` and for backprop on the
//! wide net (3 × the forward pass's multiply-adds × 2: forward, and the two backward products).

use apical::prelude::BackendKind;
use apical_benches::{peer_sizes, stepper, BenchRule, Size};

fn main() {
    divan::main();
}

const CASES: [&str; 6] = [
    "ndarray 784-256-10 b64",
    "ndarray 784-128x3-10 b128",
    "ndarray 784-1024x2-10 b256",
    "wgpu 784-256-10 b64",
    "wgpu 784-128x3-10 b128",
    "wgpu 784-1024x2-10 b256",
];

fn case(name: &str) -> (BackendKind, Size) {
    let (backend, size) = name.split_once(' ').expect("backend size");
    let size = peer_sizes()
        .into_iter()
        .find(|(n, _)| *n == size)
        .expect("a peer size")
        .1;
    (backend.parse().expect("a backend"), size)
}

fn bench(bencher: divan::Bencher, rule: BenchRule, name: &str) {
    let (backend, size) = case(name);
    let mut step = match stepper(rule, &size, backend) {
        Ok(step) => step,
        Err(why) => {
            eprintln!("skipping {} {name}: {why}", rule.name());
            return;
        }
    };
    // Warm-up (shader compilation on wgpu; first allocations).
    for _ in 0..3 {
        step();
    }
    let flops = (3.0 * size.forward_flops()) as u64;
    if rule == BenchRule::Backprop && size.hidden == [1024, 1024] {
        bencher
            .counter(divan::counter::ItemsCount::new(flops))
            .bench_local(&mut step);
    } else {
        bencher
            .counter(divan::counter::ItemsCount::new(1usize))
            .bench_local(&mut step);
    }
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn backprop(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::Backprop, case);
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn feedback_alignment(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::FeedbackAlignment, case);
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn kolen_pollack(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::KolenPollack, case);
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn reward_broadcast(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::RewardBroadcast, case);
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn predictive_coding_t5(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::PredictiveCoding, case);
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn gfn_dendritic(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::Dendritic, case);
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn gfn_predictive_coding_t5(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::GfnPredictiveCoding, case);
}

#[divan::bench(args = CASES, sample_count = 20, sample_size = 5)]
fn gfn_backprop_unrolled(bencher: divan::Bencher, case: &str) {
    bench(bencher, BenchRule::GfnBackprop, case);
}

/// The matrix library's product of two 1024 × 1024 f32 matrices (FLOP/s shown as item/s).
#[divan::bench(args = ["ndarray", "wgpu"], sample_count = 20, sample_size = 3)]
fn sgemm_1024(bencher: divan::Bencher, backend: &str) {
    use apical::prelude::*;
    let Ok(device) = init_device(backend.parse().expect("a backend")) else {
        eprintln!("skipping sgemm on {backend}: no adapter");
        return;
    };
    let n: usize = 1024;
    let (a, b) = apical_benches::sgemm_operands(n, &device);
    bencher
        .counter(divan::counter::ItemsCount::new(2 * n * n * n))
        .bench_local(|| -> f32 {
            a.clone()
                .matmul(b.clone())
                .slice([0..1, 0..1])
                .into_scalar()
        });
}
