//! One training step per learning rule, on the same widths (64-128-64-10, batch 32: the digits
//! net), ndarray backend, through the driver the runner uses (`Learner::step`: the rule's
//! update, then the network's bookkeeping — the gfn's top-down weights and apical fit). Each
//! rule is built from its `[rule]` config exactly as `apical run` builds it. The gfn runs 3
//! inference steps; predictive coding runs T = 5. Steps are measured without the comparison
//! with backprop (training computes it every `training.diagnostics_every` steps, 10 by default).
//!
//! ```text
//! cargo bench --profile dev --bench rules
//! ```

use apical::burn::tensor::{Device, Tensor, TensorData};
use apical::prelude::*;

fn main() {
    divan::main();
}

const D_IN: usize = 64;
const HIDDEN: [usize; 2] = [128, 64];
const D_OUT: usize = 10;
const BATCH: usize = 32;

fn batch(device: &Device) -> (Tensor<2>, Vec<usize>) {
    let mut rng = SeededRng::new(0);
    let x: Vec<f32> = (0..BATCH * D_IN).map(|_| rng.uniform() as f32).collect();
    (
        Tensor::from_data(TensorData::new(x, [BATCH, D_IN]), device),
        (0..BATCH).map(|i| i % D_OUT).collect(),
    )
}

/// Steps the network `model` names with the rule `rule` names, as the runner does.
fn bench_rule<'a, 'b>(bencher: divan::Bencher<'a, 'b>, model: ModelConfig, rule: RuleConfig) {
    struct Bench<'a, 'b> {
        bencher: divan::Bencher<'a, 'b>,
        rule: RuleConfig,
    }
    impl NetworkVisitor for Bench<'_, '_> {
        type Output = ();
        fn refuse(self, why: apical::nn::InvalidParameter) {
            panic!("the bench's models are trainable: {why}");
        }
        fn visit<N: Trainable>(self, net: N) {
            let device = ndarray_device().autodiff();
            let (x, y) = batch(&device);
            let rule = N::build_rule(&self.rule, &net, 0, &ndarray_device()).expect("compatible");
            let mut learner = Learner::new(rule, OptimizerConfig::default().init(), 1e-3);
            let mut net = Some(net);
            let mut noise = SeededRng::new(1);
            self.bencher.bench_local(|| {
                let (next, report, _) =
                    learner.step(net.take().unwrap(), x.clone(), &y, &mut noise, false);
                net = Some(next);
                report.loss
            });
        }
    }
    rule.validate_with(&model).expect("a valid combination");
    let device = ndarray_device().autodiff();
    build_network(&model, D_IN, D_OUT, 0, &device, Bench { bencher, rule });
}

fn ff() -> ModelConfig {
    ModelConfig::Ff(FeedforwardParams {
        hidden: HIDDEN.to_vec(),
        ..FeedforwardParams::default()
    })
}

fn gfn() -> ModelConfig {
    ModelConfig::Gfn(GfnParams {
        hidden: HIDDEN.to_vec(),
        steps: 3,
        activation: Activation::Sigmoid,
        top_down: TopDown::Tied,
        ..GfnParams::default()
    })
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_backprop(bencher: divan::Bencher) {
    bench_rule(bencher, ff(), RuleConfig::Backprop(BackpropConfig {}));
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_feedback_alignment(bencher: divan::Bencher) {
    bench_rule(
        bencher,
        ff(),
        RuleConfig::FeedbackAlignment(FeedbackAlignmentConfig {}),
    );
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_kolen_pollack(bencher: divan::Bencher) {
    bench_rule(
        bencher,
        ff(),
        RuleConfig::KolenPollack(KolenPollackConfig::default()),
    );
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_reward_broadcast(bencher: divan::Bencher) {
    bench_rule(
        bencher,
        ff(),
        RuleConfig::RewardBroadcast(RewardBroadcastConfig::default()),
    );
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_exploratory_hebb_k4(bencher: divan::Bencher) {
    bench_rule(
        bencher,
        ff(),
        RuleConfig::RewardBroadcast(RewardBroadcastConfig {
            variant: RewardVariant::ExploratoryHebb,
            repeats: 4,
            ..RewardBroadcastConfig::default()
        }),
    );
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn ff_predictive_coding_t5(bencher: divan::Bencher) {
    bench_rule(
        bencher,
        ff(),
        RuleConfig::PredictiveCoding(PcSettings::default()),
    );
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn gfn_backprop_unrolled(bencher: divan::Bencher) {
    bench_rule(bencher, gfn(), RuleConfig::Backprop(BackpropConfig {}));
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn gfn_dendritic(bencher: divan::Bencher) {
    bench_rule(
        bencher,
        gfn(),
        RuleConfig::Dendritic(DendriticConfig::default()),
    );
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn gfn_predictive_coding_t5(bencher: divan::Bencher) {
    bench_rule(
        bencher,
        gfn(),
        RuleConfig::PredictiveCoding(PcSettings {
            inference_rate: 0.5,
            ..PcSettings::default()
        }),
    );
}
