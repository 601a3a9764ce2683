//! Reward-only rules for the BCI network ([`BciNetwork`]): what `rule.kind = "dendritic"` and
//! `"reward-broadcast"` mean on `model.kind = "bci"`. No labels exist: after each action the
//! environment reports, per decoder dimension k = 1…K, the error e_k (distance to the target
//! level, as a fraction of the travel) and the movement m_k toward the target
//! ([`Learner::observe_error`](crate::Learner::observe_error)), and one scalar — the summed
//! error decrease s = Σ_k m_k, or the reward ([`Learner::reinforce`](crate::Learner::reinforce)).
//!
//! Shared notation, per unit i and step t: x the visual input, r = sigmoid(basal + σξ) the
//! rate, d = sigmoid(basal) the rate the basal input alone predicts, δ = r − d the unit's own
//! fluctuation (the somatic-minus-dendritic-prediction term of Urbanczik & Senn 2014).
//!
//! **`dendritic` (vectorized, [`VectorizedCredit`])**. The higher area sends the K-dimensional
//! error e to the tufts through learned per-unit top-down weights U (`[K, units]`; learned
//! feedback weights: Lansdell, Prakash & Kording 2020, *ICLR*); the residual ρ_i (apical minus
//! its soma-predicted part — the recorded quantity) is the teaching signal of the basal
//! synapses:
//!
//! ```text
//! apical          a_i = (1 − inhibition)·(γ·Σ_k e_k·U_ki + c·r_i) + σ_a·ζ
//! residual        ρ_i = a_i − (k_i·r_i + m_i)
//! basal           ΔW_ij = η·ρ_i·r_i(1 − r_i)·x_j,   Δb_i = η·ρ_i·r_i(1 − r_i)
//! credit          C_ki ← (1 − α)·C_ki + α·(m_k − m̄_k)·(δ_i − δ̄_i),   V_i ← (1 − α)·V_i + α·(δ_i − δ̄_i)²,
//!                 U_ki = C_ki / (V_i + ε)    (m̄_k, δ̄_i: running means at the same rate α; ε = 10⁻³)
//! ```
//!
//! U_ki is the regression of dimension k's cursor movement on the unit's own fluctuation — a
//! node-perturbation estimate of ∂(cursor_k)/∂r_i (Fiete & Seung 2006) accumulated in the
//! top-down synapse. With it the mean teaching signal U·e is minus the gradient of ½|e|² with
//! respect to the rates: each unit moves along its own effect on the error, and the update
//! has no drift — a unit that does not move any cursor learns U ≈ 0 and receives no teaching
//! signal, whatever the error (nothing reads the decoder's ensembles). γ = 0 (anaesthesia)
//! silences the teaching signal and the credit learning (the top-down synapses see no input);
//! inhibition = 1 silences the teaching signal. With `rule.credit = "permuted"` (the control)
//! U is learned the same way but each step the tufts receive U with its units permuted at
//! random (from a generator derived from the step's noise generator, which it does not
//! advance: the noise is the paired runs'): credit that exists but reaches the wrong units.
//!
//! **`reward-broadcast` (control, [`BroadcastCredit`])**: node perturbation with the same
//! scalar for every unit (Williams 1992; Fiete & Seung 2006). With `rule.signal =
//! "error-change"` (default) the scalar is the error decrease s of each step, less its running
//! mean s̄ (rate `rule.baseline_rate`): `ΔW_ij = η·(s − s̄)·δ_i·x_j`, `Δb_i = η·(s − s̄)·δ_i`.
//! With `rule.signal = "reward"` it is the reward R alone (1 at a hit) — a neuromodulator —
//! and credit reaches back through eligibility traces: `E_ij ← λ·E_ij + δ_i·x_j`,
//! `ΔW_ij = η·(R − R̄)·E_ij` (the three-factor rule of Frémaux & Gerstner 2016), traces cleared
//! at the end of each trial. Unbiased, but each update is a one-sample estimate corrupted by
//! every other unit's fluctuation — the more decoder dimensions, the more such noise (Werfel,
//! Xie & Seung 2005). The scalar reaches every unit's tuft with the same weight, so the
//! residuals carry it unsigned by any unit's causal role.

use apical_nn::{without_autodiff, BasalPhase, BciNetwork, DendriticState};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{
    matrices_finite, matrices_from_bytes, matrices_to_bytes, ClosedLoopSignal, LearningRule,
    OptimizerStateError, RewardLearning, StepContext, StepReport, Update,
};

/// The version of the BCI rules' saved state, its first matrix (`[1, 1]`): 2 since the
/// K-dimensional rules (the credit regressed on the cursor's movement; the error-decrease
/// baseline). A checkpoint of an earlier version is refused rather than resumed under
/// another rule.
const STATE_VERSION: f32 = 2.0;

/// The version matrix, and the check of one read back.
fn version_row(device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(vec![STATE_VERSION], [1, 1]), device)
}

fn check_version(version: &Tensor<2>) -> Result<(), OptimizerStateError> {
    let v: f32 = version
        .clone()
        .into_data()
        .iter::<f32>()
        .next()
        .unwrap_or(f32::NAN);
    if v == STATE_VERSION {
        Ok(())
    } else {
        Err(OptimizerStateError::Mismatch(format!(
            "the BCI rule's state is version {v}, this build reads version {STATE_VERSION} (the rule changed: start the run again)"
        )))
    }
}

fn old_state() -> OptimizerStateError {
    OptimizerStateError::Mismatch(
        "the BCI rule's state was written by an earlier apical (another rule): start the run again"
            .into(),
    )
}

/// Stream tag of the permuted control's permutations.
const STREAM_PERMUTATION: u64 = 0x9E3D_0B1C;

/// A generator for this step's permutation, derived from (not drawn from) the step's noise
/// generator: the noise stream is left as the paired runs of the same seed see it.
fn permutation_stream(noise: &apical_nn::SeededRng) -> apical_nn::SeededRng {
    let mut peek = noise.clone();
    apical_nn::SeededRng::for_stream(peek.next_u64(), STREAM_PERMUTATION)
}

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

/// Whose credit each tuft receives (`rule.credit`, on the bci model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CreditTarget {
    /// Its own: the vectorized rule.
    #[default]
    Own,
    /// Another unit's: the learned top-down weights permuted across units at every step (a
    /// control that must learn worse than `own` wherever credit matters).
    Permuted,
}

/// The K-dimensional feedback `observe_error` leaves for `reinforce`: error and movement,
/// each `[batch, K]`.
struct Feedback {
    error: Tensor<2>,
    movement: Tensor<2>,
}

/// `dendritic` on the BCI network: per-unit teaching signals through learned top-down weights.
pub struct VectorizedCredit {
    /// α: rate of the credit statistics C, V.
    pub credit_rate: f64,
    /// Whose credit each tuft receives.
    pub credit: CreditTarget,
    /// C: running covariance of each dimension's movement with each unit's fluctuation,
    /// `[K, units]`.
    covariance: Tensor<2>,
    /// V: running variance of each unit's fluctuation, `[1, units]`.
    variance: Tensor<2>,
    /// δ̄: running mean of each unit's fluctuation, `[1, units]`.
    mean_fluctuation: Tensor<2>,
    /// m̄: running mean of each dimension's movement, `[1, K]`.
    mean_movement: Tensor<2>,
    pending: Option<Pending>,
    feedback: Option<Feedback>,
    last: Option<DendriticState>,
}

impl VectorizedCredit {
    /// The rule for `net` with credit rate α (`device`: the network's device).
    pub fn new(net: &BciNetwork, credit_rate: f64, device: &Device) -> Self {
        let (units, k) = (net.units(), net.top_down_dims());
        Self {
            credit_rate,
            credit: CreditTarget::Own,
            covariance: Tensor::zeros([k, units], device),
            variance: Tensor::ones([1, units], device) * 1e-2,
            mean_fluctuation: Tensor::zeros([1, units], device),
            mean_movement: Tensor::zeros([1, k], device),
            pending: None,
            feedback: None,
            last: None,
        }
    }

    /// The same rule with the tufts receiving `credit`'s credit.
    pub fn with_credit(mut self, credit: CreditTarget) -> Self {
        self.credit = credit;
        self
    }

    /// The version, C, V, δ̄, m̄ (checkpoints, finiteness).
    fn state_rows(&self) -> Vec<Tensor<2>> {
        vec![
            version_row(&self.covariance.device()),
            self.covariance.clone(),
            self.variance.clone(),
            self.mean_fluctuation.clone(),
            self.mean_movement.clone(),
        ]
    }

    /// U with its units (columns) permuted at random (the `permuted` control).
    fn permuted(u: Tensor<2>, rng: &mut apical_nn::SeededRng) -> Tensor<2> {
        let [k, units] = u.dims();
        let device = u.device();
        let values: Vec<f32> = u.into_data().iter::<f32>().collect();
        let mut order: Vec<usize> = (0..units).collect();
        rng.shuffle(&mut order);
        let permuted: Vec<f32> = (0..k)
            .flat_map(|row| order.iter().map(move |&j| (row, j)))
            .map(|(row, j)| values[row * units + j])
            .collect();
        Tensor::from_data(TensorData::new(permuted, [k, units]), &device)
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
        let [k, units] = self.covariance.dims();
        let shapes = [[1, 1], [k, units], [1, units], [1, units], [1, k]];
        let m = matrices_from_bytes(bytes, &shapes, "credit statistics", device)
            .map_err(|_| old_state())?;
        let [version, c, v, f, d]: [Tensor<2>; 5] = m.try_into().expect("five matrices");
        check_version(&version)?;
        (
            self.covariance,
            self.variance,
            self.mean_fluctuation,
            self.mean_movement,
        ) = (c, v, f, d);
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

    fn observe_error(&mut self, error: &[f32], movement: &[f32]) {
        let device = self.covariance.device();
        let k = self.covariance.dims()[0];
        assert!(
            error.len() == movement.len() && error.len().is_multiple_of(k) && !error.is_empty(),
            "VectorizedCredit::observe_error: expected [batch·{k}] errors and movements, got {} and {}",
            error.len(),
            movement.len()
        );
        let batch = error.len() / k;
        let tensor =
            |v: &[f32]| Tensor::from_data(TensorData::new(v.to_vec(), [batch, k]), &device);
        self.feedback = Some(Feedback {
            error: tensor(error),
            movement: tensor(movement),
        });
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
        let Feedback { error, movement } = self.feedback.take().expect(
            "VectorizedCredit::reinforce: the environment's error comes first (observe_error)",
        );
        // The tufts receive the error through the top-down weights they have now (or, in the
        // permuted control, through another unit's).
        let learned = net.top_down();
        let tufts = match self.credit {
            CreditTarget::Own => net.valid(),
            CreditTarget::Permuted => net.valid().with_top_down(Self::permuted(
                learned.inner(),
                &mut permutation_stream(ctx.noise),
            )),
        };
        let state = tufts.apical_phase(&basal, error, Some(&mut *ctx.noise));
        let derivative = state.rate.clone() - state.rate.clone().powi_scalar(2);
        let grads = basal_update(&net, input, state.residual.clone() * derivative);
        let (optimizer, learning_rate, _) = ctx.parts();
        let net = optimizer.step(learning_rate, net, grads);
        self.last = Some(state);
        if net.layer.engagement == 0.0 {
            // Anaesthesia: the higher area is silent; the top-down synapses see nothing.
            return (net, reward_report(reward));
        }
        // Credit: the regression of each dimension's movement on the unit's fluctuation,
        // centred on running means (the fluctuation of a saturating unit has a non-zero mean,
        // Jensen, and so may the movement; their product is no credit).
        let batch = reward.len() as f64;
        let alpha = self.credit_rate;
        let fluctuation = basal.rate - basal.drive;
        self.mean_fluctuation = self.mean_fluctuation.clone() * (1.0 - alpha)
            + fluctuation.clone().sum_dim(0) * (alpha / batch);
        self.mean_movement = self.mean_movement.clone() * (1.0 - alpha)
            + movement.clone().sum_dim(0) * (alpha / batch);
        let centred = fluctuation - self.mean_fluctuation.clone();
        let moved = movement - self.mean_movement.clone();
        let cov = moved.transpose().matmul(centred.clone()) / batch;
        let var = centred.powi_scalar(2).sum_dim(0) / batch;
        self.covariance = self.covariance.clone() * (1.0 - alpha) + cov * alpha;
        self.variance = self.variance.clone() * (1.0 - alpha) + var * alpha;
        // Ridge ε: a unit saturated by learning hardly fluctuates (V → 0), and the plain ratio
        // of two vanishing estimates would give it an arbitrary, possibly huge, credit.
        let u = self.covariance.clone() / (self.variance.clone() + CREDIT_RIDGE);
        let net = net.with_top_down(Tensor::from_inner(u));
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
    /// s̄: the running mean of the error decrease (`signal = error-change`), `[1, 1]`.
    mean_signal: Option<Tensor<2>>,
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
            mean_signal: None,
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
        match (self.signal, &self.traces) {
            (ClosedLoopSignal::Reward, Some(t)) => matrices_to_bytes(t),
            (ClosedLoopSignal::Reward, None) => Vec::new(),
            (ClosedLoopSignal::ErrorChange, _) => {
                // Always written (the baseline starts at 0): an empty state is an old one.
                let device = apical_nn::ndarray_device();
                let baseline = self
                    .mean_signal
                    .clone()
                    .unwrap_or_else(|| Tensor::zeros([1, 1], &device));
                matrices_to_bytes(&[version_row(&baseline.device()), baseline])
            }
        }
    }

    fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(), OptimizerStateError> {
        if self.signal == ClosedLoopSignal::ErrorChange {
            let m =
                matrices_from_bytes(bytes, &[[1, 1], [1, 1]], "error-decrease baseline", device)
                    .map_err(|_| old_state())?;
            let [version, baseline]: [Tensor<2>; 2] = m.try_into().expect("two matrices");
            check_version(&version)?;
            self.mean_signal = Some(baseline);
            return Ok(());
        }
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
            && self
                .mean_signal
                .as_ref()
                .is_none_or(|m| matrices_finite(std::slice::from_ref(m)))
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
        let drive = signal.clone().matmul(Tensor::ones([1, units], &device));
        let state = net
            .valid()
            .apical_phase_driven(&basal, drive, Some(&mut *ctx.noise));
        let fluctuation = basal.rate - basal.drive;
        let grads = match self.signal {
            ClosedLoopSignal::ErrorChange => {
                // Less its running mean: a unit's fluctuation has a non-zero mean where the
                // rate saturates (Jensen), and the error decrease a positive one; their product
                // would drift the weights whatever the unit's role.
                let mean = signal.clone().mean_dim(0);
                let baseline = self
                    .mean_signal
                    .take()
                    .unwrap_or_else(|| Tensor::zeros([1, 1], &device));
                let advantage = signal - baseline.clone();
                self.mean_signal = Some(baseline.clone() + (mean - baseline) * self.baseline_rate);
                basal_update(&net, input, fluctuation * advantage)
            }
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

    type BoxedRule = Box<dyn LearningRule<BciNetwork>>;

    /// What the environment answers to one step's rates: per dimension the error and the
    /// movement, and the scalar the rule is given.
    struct Answer {
        error: Vec<f32>,
        movement: Vec<f32>,
        scalar: f32,
    }

    /// A network whose soma-predicted apical part is set, as the closed loop's baseline block
    /// sets it: k = c (the back-propagating coupling), m = 0.
    fn network(units: usize, dims: usize, device: &Device) -> BciNetwork {
        let params = BciParams {
            units,
            ..BciParams::default()
        };
        let slope = Tensor::ones([units], device) * params.bap;
        params
            .config(3, dims, 0)
            .init(device)
            .with_soma_prediction(slope, Tensor::zeros([units], device))
    }

    /// A closed loop of `steps` steps through the Learner on a 4-unit network with `dims`
    /// task dimensions; `environment(rates, rng)` answers each step. Returns the network.
    fn closed_loop(
        rule: BoxedRule,
        dims: usize,
        learning_rate: f64,
        steps: usize,
        environment: impl Fn(&[f32], &mut SeededRng) -> Answer,
    ) -> (BciNetwork, Learner<BciNetwork>) {
        closed_loop_of(4, rule, dims, learning_rate, steps, environment)
    }

    /// The same on `units` units.
    fn closed_loop_of(
        units: usize,
        rule: BoxedRule,
        dims: usize,
        learning_rate: f64,
        steps: usize,
        environment: impl Fn(&[f32], &mut SeededRng) -> Answer,
    ) -> (BciNetwork, Learner<BciNetwork>) {
        let device = ndarray_device().autodiff();
        let mut net = network(units, dims, &device);
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
        let mut world = SeededRng::new(6);
        let x = Tensor::<2>::ones([1, 3], &device);
        for _ in 0..steps {
            let rates = learner.act(&net, x.clone(), &mut rng).unwrap();
            let r: Vec<f32> = rates[0].clone().into_data().iter::<f32>().collect();
            let answer = environment(&r, &mut world);
            learner
                .observe_error(&answer.error, &answer.movement)
                .unwrap();
            net = learner
                .reinforce(net, &[answer.scalar], &mut rng)
                .unwrap()
                .0;
            assert!(learner.compartments().is_some());
        }
        (net, learner)
    }

    /// Two dimensions: unit 0 moves dimension 0 toward its target, unit 1 away; unit 2 moves
    /// dimension 1; unit 3 moves nothing. The error stays at 1 on both.
    fn causal(r: &[f32], _: &mut SeededRng) -> Answer {
        let movement = vec![4.0 * (r[0] - r[1]), 4.0 * (r[2] - 0.5)];
        Answer {
            error: vec![1.0, 1.0],
            scalar: movement.iter().sum(),
            movement,
        }
    }

    /// The decoder disconnected: random movements and errors, random rewards.
    fn disconnected(_: &[f32], world: &mut SeededRng) -> Answer {
        let movement = vec![world.normal() as f32, world.normal() as f32];
        Answer {
            error: vec![world.uniform() as f32, world.uniform() as f32],
            scalar: f32::from(u8::from(world.uniform() < 0.3)) + movement[0],
            movement,
        }
    }

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    fn bias(net: &BciNetwork) -> Vec<f32> {
        net.layer
            .basal
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .iter::<f32>()
            .collect()
    }

    fn vectorized_of(units: usize, credit: CreditTarget) -> BoxedRule {
        let device = ndarray_device();
        Box::new(
            VectorizedCredit::new(&network(units, 2, &device), 0.01, &device).with_credit(credit),
        )
    }

    fn vectorized(credit: CreditTarget) -> BoxedRule {
        vectorized_of(4, credit)
    }

    #[test]
    fn the_credit_weights_learn_each_units_causal_effect_on_each_dimension() {
        // A tiny learning rate: the credit forms while the basal weights hardly move.
        let (net, learner) = closed_loop(vectorized(CreditTarget::Own), 2, 1e-6, 3000, causal);
        let u = host(net.top_down()); // [2, 4], row-major
        assert!(
            u[0] > 1.0 && u[1] < -1.0 && u[6] > 1.0,
            "helpful +, harmful −, each on its own dimension: {u:?}"
        );
        // Effects a unit does not have: only the estimate's noise (~1/α = 100 steps).
        let scale = u[0].min(-u[1]).min(u[6]);
        for (at, value) in [(2, u[2]), (3, u[3]), (4, u[4]), (5, u[5]), (7, u[7])] {
            assert!(value.abs() < 0.25 * scale, "U[{at}] ≈ 0: {u:?}");
        }
        // The credit statistics survive a checkpoint.
        let device = ndarray_device();
        let bytes = learner.rule_state_bytes();
        let mut restored = VectorizedCredit::new(&network(4, 2, &device), 0.01, &device);
        restored.load_state_bytes(&bytes, &device).unwrap();
        assert_eq!(restored.state_bytes(), bytes);
        assert!(restored.state_is_finite());
        // A state of the earlier rules (no version row; the error-change broadcast kept none)
        // is refused, not resumed under another rule.
        let old = matrices_to_bytes(&restored.state_rows()[1..]);
        let err = restored.load_state_bytes(&old, &device).unwrap_err();
        assert!(err.to_string().contains("earlier apical"), "{err}");
        let mut broadcast = BroadcastCredit::new(
            &network(4, 2, &device),
            ClosedLoopSignal::ErrorChange,
            0.9,
            0.05,
        );
        let fresh = broadcast.state_bytes();
        assert!(!fresh.is_empty());
        broadcast.load_state_bytes(&fresh, &device).unwrap();
        assert!(broadcast.load_state_bytes(&[], &device).is_err());
    }

    #[test]
    fn vectorized_credit_moves_each_unit_along_its_effect_and_permuted_credit_does_not() {
        let (before, _) = closed_loop(vectorized(CreditTarget::Own), 2, 0.0, 1, causal);
        let b0 = bias(&before);
        let change = |credit, environment: fn(&[f32], &mut SeededRng) -> Answer| {
            // Short of saturation: the error never falls in this loop, so the push never ends.
            let (after, _) = closed_loop(vectorized(credit), 2, 0.002, 1500, environment);
            let b = bias(&after);
            (0..4).map(|i| b[i] - b0[i]).collect::<Vec<_>>()
        };
        let own = change(CreditTarget::Own, causal);
        assert!(
            own[0] > 0.1 && own[1] < -0.1 && own[2] > 0.1,
            "helpful up, harmful down: {own:?}"
        );
        assert!(own[3].abs() < 0.2 * own[0], "no effect, no change: {own:?}");
        // Each dimension with a helpful and a harmful unit: every unit's credit column has an
        // opposite, so credit reaching random other tufts averages to nothing.
        let balanced = |r: &[f32], _: &mut SeededRng| {
            let movement = vec![4.0 * (r[0] - r[1]), 4.0 * (r[2] - r[3])];
            Answer {
                error: vec![1.0, 1.0],
                scalar: movement.iter().sum(),
                movement,
            }
        };
        let own = change(CreditTarget::Own, balanced);
        let permuted = change(CreditTarget::Permuted, balanced);
        for i in 0..4 {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            assert!(sign * own[i] > 0.1, "own credit, unit {i}: {own:?}");
            assert!(
                permuted[i].abs() < 0.3 * own[i].abs(),
                "permuted credit, unit {i}: {permuted:?} vs own {own:?}"
            );
        }
    }

    #[test]
    fn with_the_decoder_disconnected_the_basal_weights_do_not_drift() {
        // Random movements, errors and rewards on 32 units: whatever a rule learns is the
        // credit estimate's noise. The bias changes have no common direction (their mean over
        // units within 3 standard errors of 0) and every unit's stays below half of what the
        // causal unit gains in the connected loop at the same rate and length.
        let units = 32;
        let device = ndarray_device();
        let initial = bias(&network(units, 2, &device));
        let broadcast = |units: usize| -> BoxedRule {
            Box::new(BroadcastCredit::new(
                &network(units, 2, &device),
                ClosedLoopSignal::ErrorChange,
                0.9,
                0.05,
            ))
        };
        for name in ["dendritic", "reward-broadcast"] {
            let make = |units| match name {
                "dendritic" => vectorized_of(units, CreditTarget::Own),
                _ => broadcast(units),
            };
            // Short of saturation (the error never falls in the connected loop).
            let (connected, _) = closed_loop(make(4), 2, 0.002, 3000, causal);
            let learned = bias(&connected)[0] - bias(&network(4, 2, &device))[0];
            let (drifting, _) = closed_loop_of(units, make(units), 2, 0.002, 3000, disconnected);
            let change: Vec<f64> = bias(&drifting)
                .iter()
                .zip(&initial)
                .map(|(b, b0)| (b - b0) as f64)
                .collect();
            let mean = change.iter().sum::<f64>() / units as f64;
            let sd = (change.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (units - 1) as f64)
                .sqrt();
            let largest = change.iter().fold(0.0f64, |m, c| m.max(c.abs()));
            assert!(
                learned > 0.1,
                "{name}: the connected loop learns: {learned}"
            );
            assert!(
                mean.abs() < 3.0 * sd / (units as f64).sqrt(),
                "{name}: a common drift {mean} (sd {sd})"
            );
            assert!(
                largest < 0.5 * learned as f64,
                "{name}: a unit drifted {largest} vs learning {learned}"
            );
        }
    }
}
