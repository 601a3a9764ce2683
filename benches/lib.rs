//! What the benches, the profiling loop and the peer comparison share: the sizes peers publish,
//! every rule as `apical run` builds it, and one training step through the runner's driver
//! ([`Learner::step`]).
//!
//! ```text
//! cargo bench --profile dev -p apical-benches --bench peers           # every rule × size
//! cargo run --profile dev -p apical-benches --example peer_round -- --rule bp --net 784-256-10 --batch 64
//! ```

use std::time::Instant;

use apical::burn::tensor::{Device, Tensor, TensorData};
use apical::prelude::*;

/// A network's widths and the batch it is stepped with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    /// Input width.
    pub d_in: usize,
    /// Hidden widths, bottom first.
    pub hidden: Vec<usize>,
    /// Classes.
    pub d_out: usize,
    /// Examples per step.
    pub batch: usize,
}

impl Size {
    /// `"784-256-10"` with a batch.
    pub fn parse(net: &str, batch: usize) -> Result<Size, String> {
        let widths: Vec<usize> = net
            .split('-')
            .map(|w| w.parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("--net: expected widths like 784-256-10, got {net:?}"))?;
        if widths.len() < 3 || widths.contains(&0) || batch == 0 {
            return Err(format!(
                "--net: expected at least input-hidden-output widths > 0 and a batch > 0, got {net:?} batch {batch}"
            ));
        }
        Ok(Size {
            d_in: widths[0],
            hidden: widths[1..widths.len() - 1].to_vec(),
            d_out: widths[widths.len() - 1],
            batch,
        })
    }

    /// Layer widths: input, hidden…, output.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.d_in)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.d_out))
            .collect()
    }

    /// The net as "784-256-10".
    pub fn net(&self) -> String {
        self.widths()
            .into_iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Multiply-adds of one forward pass through the weights, × 2 (FLOPs).
    pub fn forward_flops(&self) -> f64 {
        self.widths()
            .windows(2)
            .map(|w| 2.0 * (self.batch * w[0] * w[1]) as f64)
            .sum()
    }
}

/// The sizes peers publish: MNIST-sized (784-256-10, batch 64), PCX's MLP (784-128×3-10, batch
/// 128) and a wide net (784-1024-1024-10, batch 256) whose step is dominated by matrix products.
pub fn peer_sizes() -> Vec<(&'static str, Size)> {
    vec![
        (
            "784-256-10 b64",
            Size::parse("784-256-10", 64).expect("valid"),
        ),
        (
            "784-128x3-10 b128",
            Size::parse("784-128-128-128-10", 128).expect("valid"),
        ),
        (
            "784-1024x2-10 b256",
            Size::parse("784-1024-1024-10", 256).expect("valid"),
        ),
    ]
}

/// A rule on the network it trains, by its bench name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchRule {
    /// ff, backprop (relu).
    Backprop,
    /// ff, feedback alignment.
    FeedbackAlignment,
    /// ff, Kolen–Pollack.
    KolenPollack,
    /// ff, reward broadcast (node perturbation: two forward passes).
    RewardBroadcast,
    /// ff, predictive coding, T = 5.
    PredictiveCoding,
    /// gfn (3 inference steps, sigmoid, tied top-down), dendritic rule + bookkeeping.
    Dendritic,
    /// gfn, predictive coding T = 5 (α = 0.5) + bookkeeping.
    GfnPredictiveCoding,
    /// gfn, backprop through the 3 unrolled inference steps.
    GfnBackprop,
}

impl BenchRule {
    /// Every rule, in the order the benches report them.
    pub const ALL: [BenchRule; 8] = [
        BenchRule::Backprop,
        BenchRule::FeedbackAlignment,
        BenchRule::KolenPollack,
        BenchRule::RewardBroadcast,
        BenchRule::PredictiveCoding,
        BenchRule::Dendritic,
        BenchRule::GfnPredictiveCoding,
        BenchRule::GfnBackprop,
    ];

    /// The short name (`--rule`).
    pub fn name(self) -> &'static str {
        match self {
            BenchRule::Backprop => "bp",
            BenchRule::FeedbackAlignment => "fa",
            BenchRule::KolenPollack => "kp",
            BenchRule::RewardBroadcast => "reward",
            BenchRule::PredictiveCoding => "pc",
            BenchRule::Dendritic => "dendritic",
            BenchRule::GfnPredictiveCoding => "gfn-pc",
            BenchRule::GfnBackprop => "gfn-bp",
        }
    }

    /// The rule a short name names.
    pub fn parse(name: &str) -> Result<BenchRule, String> {
        BenchRule::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = BenchRule::ALL.iter().map(|r| r.name()).collect();
                format!("--rule: expected one of {}, got {name:?}", names.join(", "))
            })
    }

    /// The model and `[rule]` config, as a run's config would give them.
    pub fn configs(self, hidden: &[usize]) -> (ModelConfig, RuleConfig) {
        let ff = ModelConfig::Ff(FeedforwardParams {
            hidden: hidden.to_vec(),
            ..FeedforwardParams::default()
        });
        let gfn = ModelConfig::Gfn(GfnParams {
            hidden: hidden.to_vec(),
            steps: 3,
            activation: Activation::Sigmoid,
            top_down: TopDown::Tied,
            ..GfnParams::default()
        });
        match self {
            BenchRule::Backprop => (ff, RuleConfig::Backprop(BackpropConfig {})),
            BenchRule::FeedbackAlignment => (
                ff,
                RuleConfig::FeedbackAlignment(FeedbackAlignmentConfig {}),
            ),
            BenchRule::KolenPollack => {
                (ff, RuleConfig::KolenPollack(KolenPollackConfig::default()))
            }
            BenchRule::RewardBroadcast => (
                ff,
                RuleConfig::RewardBroadcast(RewardBroadcastConfig::default()),
            ),
            BenchRule::PredictiveCoding => {
                (ff, RuleConfig::PredictiveCoding(PcSettings::default()))
            }
            BenchRule::Dendritic => (gfn, RuleConfig::Dendritic(DendriticConfig::default())),
            BenchRule::GfnPredictiveCoding => (
                gfn,
                RuleConfig::PredictiveCoding(PcSettings {
                    inference_rate: 0.5,
                    ..PcSettings::default()
                }),
            ),
            BenchRule::GfnBackprop => (gfn, RuleConfig::Backprop(BackpropConfig {})),
        }
    }
}

/// One training step, as a closure returning the batch's loss (read back to the host, which
/// synchronises the device).
pub type Step = Box<dyn FnMut() -> f32>;

/// A fixed batch: inputs U[0, 1), labels i mod d_out.
fn batch(size: &Size, device: &Device) -> (Tensor<2>, Vec<usize>) {
    let mut rng = SeededRng::new(0);
    let x: Vec<f32> = (0..size.batch * size.d_in)
        .map(|_| rng.uniform() as f32)
        .collect();
    (
        Tensor::from_data(TensorData::new(x, [size.batch, size.d_in]), device),
        (0..size.batch).map(|i| i % size.d_out).collect(),
    )
}

/// A step of `rule` at `size` on `backend` (Adam, learning rate 10⁻³), built from its configs
/// exactly as `apical run` builds it and stepped through [`Learner::step`] without the
/// diagnostics (training computes those every `training.diagnostics_every` steps).
pub fn stepper(rule: BenchRule, size: &Size, backend: BackendKind) -> Result<Step, String> {
    // A bench is a binary of its own: like `apical run`, the fused optimizer takes the thread
    // variables (`APICAL_THREADS`, else `MATMUL_NUM_THREADS`; the first call of a process
    // decides).
    let [apical_threads, matmul_threads] =
        apical::nn::THREAD_VARIABLES.map(|var| std::env::var(var).ok());
    if let Some(n) =
        apical::nn::threads_from([apical_threads.as_deref(), matmul_threads.as_deref()])
    {
        apical::nn::set_threads(n);
    }
    struct Visit {
        rule: RuleConfig,
        size: Size,
        device: Device,
    }
    impl NetworkVisitor for Visit {
        type Output = Result<Step, String>;
        fn refuse(self, why: InvalidParameter) -> Self::Output {
            Err(why.to_string())
        }
        fn visit<N: Trainable>(self, net: N) -> Self::Output {
            let train = self.device.clone().autodiff();
            let (x, y) = batch(&self.size, &train);
            let rule =
                N::build_rule(&self.rule, &net, 0, &self.device).map_err(|e| e.to_string())?;
            let mut learner = Learner::new(rule, OptimizerConfig::default().init(), 1e-3);
            let mut net = Some(net);
            let mut noise = SeededRng::new(1);
            Ok(Box::new(move || {
                let (next, report, _) = learner.step(
                    net.take().expect("stepped"),
                    x.clone(),
                    &y,
                    &mut noise,
                    false,
                );
                net = Some(next);
                report.loss
            }))
        }
    }
    let device = init_device(backend).map_err(|e| e.to_string())?;
    let (model, rule) = rule.configs(&size.hidden);
    rule.validate_with(&model).map_err(|e| e.to_string())?;
    let visit = Visit {
        rule,
        size: size.clone(),
        device: device.clone(),
    };
    build_network(&model, size.d_in, size.d_out, 0, &device.autodiff(), visit)
}

/// The matrix-product rate of this backend's matrix library, in GFLOP/s: the median of
/// `repeats` products of two n × n matrices (f32; the result read back, which synchronises).
pub fn sgemm_gflops(backend: BackendKind, n: usize, repeats: usize) -> Result<f64, String> {
    let device = init_device(backend).map_err(|e| e.to_string())?;
    let (a, b) = sgemm_operands(n, &device);
    let mut times = Vec::with_capacity(repeats);
    for i in 0..repeats + 1 {
        let start = Instant::now();
        let c = a.clone().matmul(b.clone());
        let _: f32 = c.slice([0..1, 0..1]).into_scalar();
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(2.0 * (n as f64).powi(3) / median / 1e9)
}

/// Two n × n matrices of U[0, 1) values (seeded), the operands of the sgemm measurements.
pub fn sgemm_operands(n: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let mut rng = SeededRng::new(7);
    let mut matrix = || {
        let v: Vec<f32> = (0..n * n).map(|_| rng.uniform() as f32).collect();
        Tensor::<2>::from_data(TensorData::new(v, [n, n]), device)
    };
    (matrix(), matrix())
}
