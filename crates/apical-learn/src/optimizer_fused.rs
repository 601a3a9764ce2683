//! The optimizers' update as one pass over host memory (the ndarray backend): the same f32
//! operations in the same order as the tensor-op path in `optimizer.rs`, so the weights and
//! moments are bit-identical (tested), without the dozen temporary arrays that path allocates
//! per parameter and step. Gradients and moments move in and out of their tensors without
//! copies (burn-ndarray's `into_data`/`from_data` on arrays nothing else holds).

use burn::tensor::{Tensor, TensorData};

use super::{OptimizerConfig, ParamState};

/// Parameters at least this large are updated by two threads.
pub(super) const PARALLEL_FROM: usize = 1 << 17;

/// The updated (flattened) weight; `state` receives the new moments. The step −Δ is computed in
/// the gradient's buffer and subtracted from the weight with one tensor op, so a weight shared
/// with something else (the gfn's tied top-down weights are views of the forward ones) is never
/// copied element by element.
pub(super) fn update(
    config: OptimizerConfig,
    step: u64,
    lr: f64,
    weight: Tensor<1>,
    grad: Tensor<1>,
    state: &mut ParamState,
) -> Tensor<1> {
    let device = weight.device();
    let mut g = grad.into_data();
    let taken = std::mem::replace(
        state,
        ParamState {
            first: Tensor::zeros([0], &device),
            second: None,
        },
    );
    let mut m = taken.first.into_data();
    let lr = lr as f32;
    let decay = |weight_decay: f64| (weight_decay > 0.0).then_some(weight_decay as f32);
    let weights = |weight_decay: f64| {
        (weight_decay > 0.0).then(|| {
            weight
                .clone()
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32")
        })
    };
    match config {
        OptimizerConfig::Adam {
            beta1,
            beta2,
            epsilon,
            weight_decay,
        } => {
            let mut v = taken
                .second
                .expect("Adam keeps a second moment")
                .into_data();
            let t = step as i32;
            let k = AdamScalars {
                decay: decay(weight_decay),
                beta1: beta1 as f32,
                one_minus_beta1: (1.0 - beta1) as f32,
                beta2: beta2 as f32,
                one_minus_beta2: (1.0 - beta2) as f32,
                correction1: (1.0 - beta1.powi(t)) as f32,
                correction2: (1.0 - beta2.powi(t)) as f32,
                epsilon: epsilon as f32,
                lr,
            };
            let w = weights(weight_decay);
            split4(
                slice_mut(&mut g),
                w.as_deref(),
                slice_mut(&mut m),
                slice_mut(&mut v),
                &|g, w, m, v| k.apply(g, w, m, v),
            );
            state.second = Some(Tensor::from_data(v, &device));
        }
        OptimizerConfig::Sgd {
            momentum,
            weight_decay,
        } => {
            let d = decay(weight_decay);
            let momentum = (momentum > 0.0).then_some(momentum as f32);
            let w = weights(weight_decay);
            let (gs, ms) = (slice_mut(&mut g), slice_mut(&mut m));
            for (i, (g, m)) in gs.iter_mut().zip(ms.iter_mut()).enumerate() {
                let grad = match (d, &w) {
                    (Some(d), Some(w)) => *g + w[i] * d,
                    _ => *g,
                };
                let velocity = match momentum {
                    Some(mu) => *m * mu + grad,
                    None => grad,
                };
                *m = velocity;
                *g = velocity * lr;
            }
        }
    }
    state.first = Tensor::from_data(m, &device);
    weight - Tensor::from_data(g, &device)
}

/// Adam's constants for one step, as f32 (what burn's scalar ops convert them to).
struct AdamScalars {
    decay: Option<f32>,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    correction1: f32,
    correction2: f32,
    epsilon: f32,
    lr: f32,
}

impl AdamScalars {
    /// Over a chunk: the moments, then the step (m̂ / (√v̂ + ε))·lr written over the gradient —
    /// operation for operation the tensor path's expression.
    fn apply(&self, gs: &mut [f32], ws: Option<&[f32]>, ms: &mut [f32], vs: &mut [f32]) {
        match (self.decay, ws) {
            (Some(d), Some(ws)) => {
                for (((g, &w), m), v) in gs.iter_mut().zip(ws).zip(ms.iter_mut()).zip(vs.iter_mut())
                {
                    *g = self.step(*g + w * d, m, v);
                }
            }
            _ => {
                for ((g, m), v) in gs.iter_mut().zip(ms.iter_mut()).zip(vs.iter_mut()) {
                    *g = self.step(*g, m, v);
                }
            }
        }
    }

    #[inline(always)]
    fn step(&self, grad: f32, m: &mut f32, v: &mut f32) -> f32 {
        *m = *m * self.beta1 + grad * self.one_minus_beta1;
        *v = *v * self.beta2 + (grad * grad) * self.one_minus_beta2;
        let first_hat = *m / self.correction1;
        let second_hat = *v / self.correction2;
        first_hat / (second_hat.sqrt() + self.epsilon) * self.lr
    }
}

/// The fused pass's signature: gradient (overwritten by the step), weights (with weight decay),
/// first and second moments.
type Pass<'a> = dyn Fn(&mut [f32], Option<&[f32]>, &mut [f32], &mut [f32]) + Sync + 'a;

/// Runs `f` over the slices, in two halves on two threads when they are large and apical may
/// use a second core (elementwise, so the result does not depend on the split).
fn split4(g: &mut [f32], w: Option<&[f32]>, m: &mut [f32], v: &mut [f32], f: &Pass) {
    if g.len() < PARALLEL_FROM || apical_nn::threads() < 2 {
        return f(g, w, m, v);
    }
    let half = g.len() / 2;
    let (g0, g1) = g.split_at_mut(half);
    let (w0, w1) = match w {
        Some(w) => {
            let (a, b) = w.split_at(half);
            (Some(a), Some(b))
        }
        None => (None, None),
    };
    let (m0, m1) = m.split_at_mut(half);
    let (v0, v1) = v.split_at_mut(half);
    rayon::join(|| f(g0, w0, m0, v0), || f(g1, w1, m1, v1));
}

fn slice_mut(data: &mut TensorData) -> &mut [f32] {
    data.as_mut_slice::<f32>().expect("f32 parameters")
}
