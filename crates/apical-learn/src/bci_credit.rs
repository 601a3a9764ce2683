//! Reward-only rules for the BCI network ([`BciNetwork`]): what `rule.kind = "dendritic"` and
//! `"reward-broadcast"` mean on `model.kind = "bci"`. Both see, per time step, one scalar from
//! the environment: the error change s (positive when the cursor moved toward the target); no
//! labels exist. Both are stepped through [`Learner::act`](crate::Learner::act) /
//! [`reinforce`](crate::Learner::reinforce).
//!
//! Shared notation, per unit i and step t: x the visual input, r = sigmoid(basal + σξ) the
//! rate, d = sigmoid(basal) the rate the basal input alone predicts, δ = r − d the unit's own
//! fluctuation (the somatic-minus-dendritic-prediction term of Urbanczik & Senn 2014).
//!
//! **`dendritic` (vectorized, [`VectorizedCredit`])**. Each unit's tuft receives the higher
//! area's error change through its own top-down weight u_i; the residual ρ_i (apical minus its
//! soma-predicted part — the recorded quantity) is the teaching signal of the basal synapses:
//!
//! ```text
//! apical          a_i = (1 − inhibition)·(γ·s·u_i + c·r_i) + σ_a·ζ
//! residual        ρ_i = a_i − (k_i·r_i + m_i)
//! basal           ΔW_ij = η·ρ_i·r_i(1 − r_i)·x_j,   Δb_i = η·ρ_i·r_i(1 − r_i)
//! credit          C_i ← (1 − α)·C_i + α·(s − s̄)·(δ_i − δ̄_i),   V_i ← (1 − α)·V_i + α·(δ_i − δ̄_i)²,
//!                 u_i = C_i / (V_i + ε)    (s̄, δ̄_i: running means at the same rate α; ε = 10⁻³)
//! ```
//!
//! u_i is learned from experience — the regression of the error change on the unit's own
//! fluctuation, i.e. a node-perturbation estimate of the unit's causal effect on the cursor,
//! accumulated in the top-down synapse (learned feedback weights: Lansdell, Prakash & Kording
//! 2020, *ICLR*, "Learning to solve the credit assignment problem"; node perturbation: Fiete &
//! Seung 2006). Nothing reads the decoder's ensembles. Over a trial the error decreases on net
//! (a hit ends it at zero error), so ρ_i's mean has the sign of u_i: helpful units are pushed
//! up, harmful ones down, in proportion to the progress the trial made. γ = 0 (anaesthesia)
//! silences both the teaching signal and the credit learning (the top-down synapses see no
//! input); inhibition = 1 silences the teaching signal.
//!
//! **`reward-broadcast` (control, [`BroadcastCredit`])**: node perturbation with the same
//! scalar for every unit (Williams 1992; Fiete & Seung 2006). With `rule.signal =
//! "error-change"` (default) the scalar is the error decrease s of each step:
//! `ΔW_ij = η·s·δ_i·x_j`, `Δb_i = η·s·δ_i`. With `rule.signal = "reward"` it is the reward R
//! alone (1 at a hit) — a neuromodulator — and credit reaches back through eligibility traces:
//! `E_ij ← λ·E_ij + δ_i·x_j`, `ΔW_ij = η·(R − R̄)·E_ij` (the three-factor rule of Frémaux &
//! Gerstner 2016), traces cleared at the end of each trial. Unbiased, but each update is a
//! one-sample estimate corrupted by every other unit's fluctuation. The scalar reaches every
//! unit's tuft with the same weight (u = 1), so the residuals carry it unsigned by any unit's
//! causal role.

use apical_nn::{without_autodiff, BasalPhase, BciNetwork, DendriticState};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::{
    matrices_finite, matrices_from_bytes, matrices_to_bytes, ClosedLoopSignal, LearningRule,
    OptimizerStateError, RewardLearning, StepContext, StepReport, Update,
};

/// ε of the credit regression u = C / (V + ε) (fluctuation variances are ~10⁻² at mid-range
/// rates with the default noise).
const CREDIT_RIDGE: f64 = 1e-3;

/// What `act` leaves for `reinforce`.
struct Pending {
    input: Tensor<2>,
    basal: BasalPhase,
}

/// The network's own device is autodiff (the optimizer's convention); the rules compute on
/// its inner backend (`valid()`), where the optimizer expects the updates.
///
/// The one-element signal tensor `[batch, 1]` from the environment's per-example values.
fn signal_tensor(reward: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(reward.to_vec(), [reward.len(), 1]), device)
}

/// Registers `−xᵀ·g` and `−Σ g` (gradient-descent convention: the optimizer subtracts) as the
/// basal weight and bias "gradients" of `net` for the per-unit factor `g` (`[batch, units]`).
fn basal_update(net: &BciNetwork, input: Tensor<2>, factor: Tensor<2>) -> GradientsParams {
    let batch = factor.dims()[0] as f64;
    let mut grads = GradientsParams::new();
    grads.register(
        net.layer.basal.weight.id,
        input.transpose().matmul(factor.clone()).neg() / batch,
    );
    if let Some(bias) = &net.layer.basal.bias {
        grads.register(bias.id, factor.sum_dim(0).squeeze_dim::<1>(0).neg() / batch);
    }
    grads
}

/// The basal phase both rules act with (on the inner backend, with the context's noise): the
/// rates, and what `reinforce` needs.
fn basal_act(
    net: &BciNetwork,
    ctx: &mut StepContext<'_>,
    input: Tensor<2>,
) -> (Pending, Vec<Tensor<2>>) {
    let input = without_autodiff(input);
    let basal = net
        .valid()
        .basal_phase(input.clone(), Some(&mut *ctx.noise));
    let rate = basal.rate.clone();
    (Pending { input, basal }, vec![rate])
}

/// The report of a reward-only step: the loss is the negative mean reward.
fn reward_report(reward: &[f32]) -> StepReport {
    let mean = reward.iter().map(|&r| r as f64).sum::<f64>() / reward.len() as f64;
    StepReport { loss: -mean as f32 }
}

fn refuse_labels(net: BciNetwork) -> Update<BciNetwork> {
    // The BCI rules learn from reward only; the runner never steps them with labels
    // (`Learner::step`). A labelled update changes nothing and reports a NaN loss, which a
    // run's divergence check stops on.
    (net, StepReport { loss: f32::NAN }, Vec::new())
}

/// `dendritic` on the BCI network: per-unit teaching signals through learned top-down weights.
pub struct VectorizedCredit {
    /// α: rate of the credit statistics C, V.
    pub credit_rate: f64,
    /// C: running covariance of the error change with each unit's fluctuation, `[units]`.
    covariance: Tensor<1>,
    /// V: running variance of each unit's fluctuation, `[units]`.
    variance: Tensor<1>,
    /// δ̄: running mean of each unit's fluctuation, `[units]`.
    mean_fluctuation: Tensor<1>,
    /// s̄: running mean of the error decrease, `[1]`.
    mean_drive: Tensor<1>,
    pending: Option<Pending>,
    last: Option<DendriticState>,
}

impl VectorizedCredit {
    /// The rule for `net` with credit rate α (`device`: the network's device).
    pub fn new(net: &BciNetwork, credit_rate: f64, device: &Device) -> Self {
        let units = net.units();
        Self {
            credit_rate,
            covariance: Tensor::zeros([units], device),
            variance: Tensor::ones([units], device) * 1e-2,
            mean_fluctuation: Tensor::zeros([units], device),
            mean_drive: Tensor::zeros([1], device),
            pending: None,
            last: None,
        }
    }
}

impl VectorizedCredit {
    /// C, V, δ̄, s̄ as one-row matrices (checkpoints, finiteness).
    fn state_rows(&self) -> Vec<Tensor<2>> {
        [
            &self.covariance,
            &self.variance,
            &self.mean_fluctuation,
            &self.mean_drive,
        ]
        .into_iter()
        .map(|t| t.clone().unsqueeze_dim::<2>(0))
        .collect()
    }
}

impl LearningRule<BciNetwork> for VectorizedCredit {
    fn name(&self) -> &'static str {
        "dendritic"
    }

    fn update(
        &mut self,
        net: BciNetwork,
        _: &mut StepContext<'_>,
        _: Tensor<2>,
        _: &[usize],
    ) -> Update<BciNetwork> {
        refuse_labels(net)
    }

    fn state_bytes(&self) -> Vec<u8> {
        matrices_to_bytes(&self.state_rows())
    }

    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        let units = self.covariance.dims()[0];
        let shapes = [[1, units], [1, units], [1, units], [1, 1]];
        let m = matrices_from_bytes(bytes, &shapes, "credit statistics", device)?;
        let [c, v, f, d]: [Tensor<2>; 4] = m.try_into().expect("four matrices");
        self.covariance = c.squeeze_dim::<1>(0);
        self.variance = v.squeeze_dim::<1>(0);
        self.mean_fluctuation = f.squeeze_dim::<1>(0);
        self.mean_drive = d.squeeze_dim::<1>(0);
        Ok(())
    }

    fn state_is_finite(&self) -> bool {
        matrices_finite(&self.state_rows())
    }

    fn reward_learning(&mut self) -> Option<&mut dyn RewardLearning<BciNetwork>> {
        Some(self)
    }
}

impl RewardLearning<BciNetwork> for VectorizedCredit {
    fn act(
        &mut self,
        net: &BciNetwork,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
    ) -> Vec<Tensor<2>> {
        let (pending, rates) = basal_act(net, ctx, input);
        self.pending = Some(pending);
        rates
    }

    fn reinforce(
        &mut self,
        net: BciNetwork,
        ctx: &mut StepContext<'_>,
        reward: &[f32],
    ) -> (BciNetwork, StepReport) {
        let Pending { input, basal } = self
            .pending
            .take()
            .expect("VectorizedCredit::reinforce: call act first");
        let device = input.device();
        let signal = signal_tensor(reward, &device);
        // The tuft answers with the top-down weights it has now.
        let state = net
            .valid()
            .apical_phase(&basal, signal.clone(), Some(&mut *ctx.noise));
        let derivative = state.rate.clone() - state.rate.clone().powi_scalar(2);
        let grads = basal_update(&net, input, state.residual.clone() * derivative);
        let (optimizer, learning_rate, _) = ctx.parts();
        let net = optimizer.step(learning_rate, net, grads);
        // Credit: the regression of the error decrease on the unit's fluctuation.
        let batch = reward.len() as f64;
        let fluctuation = basal.rate - basal.drive;
        let drive = signal;
        let alpha = self.credit_rate;
        if net.layer.engagement == 0.0 {
            // Anaesthesia: the higher area is silent; the top-down synapses see nothing.
            self.last = Some(state);
            return (net, reward_report(reward));
        }
        // Centred on running means: the fluctuation of a saturating unit has a non-zero mean
        // (Jensen), and the error change has a positive one, whose product is no credit.
        let mean_fluctuation = fluctuation.clone().sum_dim(0).squeeze_dim::<1>(0) / batch;
        let mean_drive = drive.clone().sum_dim(0).squeeze_dim::<1>(0) / batch;
        self.mean_fluctuation =
            self.mean_fluctuation.clone() * (1.0 - alpha) + mean_fluctuation * alpha;
        self.mean_drive = self.mean_drive.clone() * (1.0 - alpha) + mean_drive * alpha;
        let centred = fluctuation - self.mean_fluctuation.clone().unsqueeze_dim::<2>(0);
        let drive = drive - self.mean_drive.clone().unsqueeze_dim::<2>(0);
        let cov = (centred.clone() * drive).sum_dim(0).squeeze_dim::<1>(0) / batch;
        let var = centred.powi_scalar(2).sum_dim(0).squeeze_dim::<1>(0) / batch;
        self.covariance = self.covariance.clone() * (1.0 - alpha) + cov * alpha;
        self.variance = self.variance.clone() * (1.0 - alpha) + var * alpha;
        // Ridge ε: a unit saturated by learning hardly fluctuates (V → 0), and the plain ratio
        // of two vanishing estimates would give it an arbitrary, possibly huge, credit.
        let u = self.covariance.clone() / (self.variance.clone() + CREDIT_RIDGE);
        let net = net.with_top_down(Tensor::from_inner(u));
        self.last = Some(state);
        (net, reward_report(reward))
    }

    fn compartments(&mut self) -> Option<DendriticState> {
        self.last.take()
    }
}

/// `reward-broadcast` on the BCI network: node perturbation with one scalar for every unit.
pub struct BroadcastCredit {
    signal: ClosedLoopSignal,
    /// λ: per-step decay of the eligibility traces (`signal = reward`).
    pub trace_decay: f64,
    /// Rate of the running reward baseline R̄ (`signal = reward`).
    pub baseline_rate: f64,
    /// Eligibility traces of the basal weights `[d_in, units]` and biases `[1, units]`, and
    /// the baseline R̄ `[1, 1]` (`signal = reward`; created on the first step).
    traces: Option<[Tensor<2>; 3]>,
    /// The traces' shapes.
    shapes: [[usize; 2]; 3],
    pending: Option<Pending>,
    last: Option<DendriticState>,
}

impl BroadcastCredit {
    /// Node perturbation on `signal`: with the error change, `ΔW = η·s·δ·xᵀ` each step; with
    /// the reward, eligibility traces `E ← λ·E + δ·xᵀ` and `ΔW = η·(R − R̄)·E` (a three-factor
    /// rule with eligibility traces: Frémaux & Gerstner 2016).
    pub fn new(
        net: &BciNetwork,
        signal: ClosedLoopSignal,
        trace_decay: f64,
        baseline_rate: f64,
    ) -> Self {
        let (d_in, units) = (net.d_in(), net.units());
        Self {
            signal,
            trace_decay,
            baseline_rate,
            traces: None,
            shapes: [[d_in, units], [1, units], [1, 1]],
            pending: None,
            last: None,
        }
    }
}

impl LearningRule<BciNetwork> for BroadcastCredit {
    fn name(&self) -> &'static str {
        "reward-broadcast"
    }

    fn state_bytes(&self) -> Vec<u8> {
        self.traces
            .as_ref()
            .map(|t| matrices_to_bytes(t))
            .unwrap_or_default()
    }

    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        if bytes.is_empty() {
            self.traces = None;
            return Ok(());
        }
        let m = matrices_from_bytes(bytes, &self.shapes, "eligibility traces", device)?;
        self.traces = Some(m.try_into().map_err(|_| {
            OptimizerStateError::Malformed("expected three eligibility matrices".into())
        })?);
        Ok(())
    }

    fn state_is_finite(&self) -> bool {
        self.traces.as_ref().is_none_or(|t| matrices_finite(t))
    }

    fn update(
        &mut self,
        net: BciNetwork,
        _: &mut StepContext<'_>,
        _: Tensor<2>,
        _: &[usize],
    ) -> Update<BciNetwork> {
        refuse_labels(net)
    }

    fn reward_learning(&mut self) -> Option<&mut dyn RewardLearning<BciNetwork>> {
        Some(self)
    }
}

impl RewardLearning<BciNetwork> for BroadcastCredit {
    fn act(
        &mut self,
        net: &BciNetwork,
        ctx: &mut StepContext<'_>,
        input: Tensor<2>,
    ) -> Vec<Tensor<2>> {
        let (pending, rates) = basal_act(net, ctx, input);
        self.pending = Some(pending);
        rates
    }

    fn reinforce(
        &mut self,
        net: BciNetwork,
        ctx: &mut StepContext<'_>,
        reward: &[f32],
    ) -> (BciNetwork, StepReport) {
        let Pending { input, basal } = self
            .pending
            .take()
            .expect("BroadcastCredit::reinforce: call act first");
        let device = input.device();
        let signal = signal_tensor(reward, &device);
        // The broadcast reaches every tuft with the same weight (1): its residuals carry the
        // scalar, unsigned by any unit's role.
        let units = net.units();
        let tuft_device = net.layer.basal.weight.device();
        let net = net.with_top_down(Tensor::ones([units], &tuft_device));
        let state = net
            .valid()
            .apical_phase(&basal, signal.clone(), Some(&mut *ctx.noise));
        let fluctuation = basal.rate - basal.drive;
        let grads = match self.signal {
            ClosedLoopSignal::ErrorChange => basal_update(&net, input, fluctuation * signal),
            ClosedLoopSignal::Reward => {
                let batch = reward.len() as f64;
                let eligibility_w = input.transpose().matmul(fluctuation.clone()) / batch;
                let eligibility_b = fluctuation.sum_dim(0) / batch;
                let lambda = self.trace_decay;
                let [trace_w, trace_b, baseline] = match self.traces.take() {
                    Some([w, b, r]) => [w * lambda + eligibility_w, b * lambda + eligibility_b, r],
                    None => [eligibility_w, eligibility_b, Tensor::zeros([1, 1], &device)],
                };
                let mean_reward = signal.mean_dim(0);
                let advantage = mean_reward.clone() - baseline.clone();
                let baseline = baseline.clone() + (mean_reward - baseline) * self.baseline_rate;
                let mut grads = GradientsParams::new();
                grads.register(
                    net.layer.basal.weight.id,
                    (trace_w.clone() * advantage.clone()).neg(),
                );
                if let Some(bias) = &net.layer.basal.bias {
                    grads.register(
                        bias.id,
                        (trace_b.clone() * advantage).squeeze_dim::<1>(0).neg(),
                    );
                }
                self.traces = Some([trace_w, trace_b, baseline]);
                grads
            }
        };
        let (optimizer, learning_rate, _) = ctx.parts();
        let net = optimizer.step(learning_rate, net, grads);
        self.last = Some(state);
        (net, reward_report(reward))
    }

    fn compartments(&mut self) -> Option<DendriticState> {
        self.last.take()
    }

    fn end_episode(&mut self) {
        // Traces do not carry a trial's activity into the next trial's reward; R̄ does.
        if let Some([w, b, _]) = &mut self.traces {
            *w = w.zeros_like();
            *b = b.zeros_like();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Learner, OptimizerConfig};
    use apical_nn::{ndarray_device, BciParams, SeededRng};

    /// A closed loop whose "error decrease" is unit 0's rate minus unit 1's (units 2, 3 do not
    /// matter), stepped `steps` times through the Learner; returns the network.
    fn closed_loop(
        rule: BoxedRule,
        learning_rate: f64,
        steps: usize,
    ) -> (BciNetwork, Learner<BciNetwork>) {
        closed_loop_with(rule, learning_rate, steps, |r| 4.0 * (r[0] - r[1]))
    }

    /// The same with the scalar `signal` computes from the rates.
    fn closed_loop_with(
        rule: BoxedRule,
        learning_rate: f64,
        steps: usize,
        signal: impl Fn(&[f32]) -> f32,
    ) -> (BciNetwork, Learner<BciNetwork>) {
        let device = ndarray_device().autodiff();
        let mut net = BciParams {
            units: 4,
            ..BciParams::default()
        }
        .config(3, 0)
        .init(&device);
        let mut learner = Learner::new(
            rule,
            OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
            }
            .init(),
            learning_rate,
        );
        let mut rng = SeededRng::new(5);
        let x = Tensor::<2>::ones([1, 3], &device);
        for _ in 0..steps {
            let rates = learner.act(&net, x.clone(), &mut rng).unwrap();
            let r: Vec<f32> = rates[0].clone().into_data().iter::<f32>().collect();
            net = learner.reinforce(net, &[signal(&r)], &mut rng).unwrap().0;
            assert!(learner.compartments().is_some());
        }
        (net, learner)
    }

    type BoxedRule = Box<dyn LearningRule<BciNetwork>>;

    fn host(t: Tensor<1>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[test]
    fn the_credit_weights_learn_each_units_causal_sign_from_fluctuations() {
        let device = ndarray_device();
        let probe = BciParams {
            units: 4,
            ..BciParams::default()
        }
        .config(3, 0)
        .init(&device);
        let rule = VectorizedCredit::new(&probe, 0.01, &device);
        // A tiny learning rate: the credit forms while the basal weights hardly move.
        let (net, learner) = closed_loop(Box::new(rule), 1e-6, 3000);
        let u = host(net.top_down());
        assert!(
            u[0] > 1.0 && u[1] < -1.0,
            "helpful unit +, harmful unit −: {u:?}"
        );
        // Units without effect: only the estimate's noise (an average over ~1/α = 100 steps).
        let scale = u[0].min(-u[1]);
        assert!(
            u[2].abs() < 0.25 * scale && u[3].abs() < 0.25 * scale,
            "units without effect ≈ 0: {u:?}"
        );
        // The credit statistics survive a checkpoint.
        let bytes = learner.rule_state_bytes();
        let mut restored = VectorizedCredit::new(&probe, 0.01, &device);
        restored.load_state_bytes(&bytes, &device).unwrap();
        assert_eq!(restored.state_bytes(), bytes);
        assert!(restored.state_is_finite());
    }

    #[test]
    fn broadcast_node_perturbation_moves_the_biases_along_the_reward() {
        let device = ndarray_device();
        let probe = BciParams {
            units: 4,
            ..BciParams::default()
        }
        .config(3, 0)
        .init(&device);
        let b = |n: &BciNetwork| host(n.layer.basal.bias.as_ref().unwrap().val());
        for signal in [ClosedLoopSignal::ErrorChange, ClosedLoopSignal::Reward] {
            let rule = || BroadcastCredit::new(&probe, signal, 0.5, 0.05);
            // The error change, or a reward (1) when unit 0 leads unit 1 clearly.
            let environment = |r: &[f32]| match signal {
                ClosedLoopSignal::ErrorChange => 4.0 * (r[0] - r[1]),
                ClosedLoopSignal::Reward => f32::from(u8::from(r[0] - r[1] > 0.2)),
            };
            let (before, _) = closed_loop_with(Box::new(rule()), 0.0, 1, environment);
            let (after, learner) = closed_loop_with(Box::new(rule()), 0.05, 3000, environment);
            let (b0, b1) = (b(&before), b(&after));
            assert!(
                b1[0] - b0[0] > 0.2,
                "{signal:?}: helpful unit up: {b0:?} → {b1:?}"
            );
            assert!(
                b1[1] - b0[1] < -0.2,
                "{signal:?}: harmful unit down: {b0:?} → {b1:?}"
            );
            let bytes = learner.rule_state_bytes();
            let mut restored = rule();
            restored.load_state_bytes(&bytes, &device).unwrap();
            assert_eq!(restored.state_bytes(), bytes, "{signal:?}");
        }
    }
}
