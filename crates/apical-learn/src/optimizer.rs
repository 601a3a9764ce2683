//! Optimizers (Adam, SGD with momentum) with exactly checkpointable state.
//!
//! burn's `ModuleOptimizer` restores its state on `Device::default()`, which with wgpu compiled
//! in is a GPU device even on machines without one; these optimizers keep their state on the
//! parameters' own device and serialise it to plain bytes, so a resumed run continues bit for bit.

use apical_core::InvalidParameter;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which optimizer, with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Adam (Kingma & Ba 2015) with optional L2 weight decay added to the gradient.
    Adam {
        /// First-moment decay β₁.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Second-moment decay β₂.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// ε in the denominator.
        #[serde(default = "default_epsilon")]
        epsilon: f64,
        /// L2 weight decay λ (gradient += λ·w).
        #[serde(default)]
        weight_decay: f64,
    },
    /// Stochastic gradient descent with heavy-ball momentum μ (v = μ·v + g; w −= lr·v).
    Sgd {
        /// Momentum μ in [0, 1).
        #[serde(default)]
        momentum: f64,
        /// L2 weight decay λ.
        #[serde(default)]
        weight_decay: f64,
    },
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_epsilon() -> f64 {
    1e-8
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam {
            beta1: default_beta1(),
            beta2: default_beta2(),
            epsilon: default_epsilon(),
            weight_decay: 0.0,
        }
    }
}

impl OptimizerConfig {
    /// Checks the hyper-parameters; the error names the offending field.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        match *self {
            OptimizerConfig::Adam {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => {
                if !(0.0..1.0).contains(&beta1) {
                    return Err(InvalidParameter::new(
                        "beta1",
                        format!("must be in [0, 1), got {beta1}"),
                    ));
                }
                if !(0.0..1.0).contains(&beta2) {
                    return Err(InvalidParameter::new(
                        "beta2",
                        format!("must be in [0, 1), got {beta2}"),
                    ));
                }
                if epsilon.is_nan() || epsilon <= 0.0 {
                    return Err(InvalidParameter::new(
                        "epsilon",
                        format!("must be > 0, got {epsilon}"),
                    ));
                }
                if weight_decay.is_nan() || weight_decay < 0.0 {
                    return Err(InvalidParameter::new(
                        "weight_decay",
                        format!("must be ≥ 0, got {weight_decay}"),
                    ));
                }
            }
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
            } => {
                if !(0.0..1.0).contains(&momentum) {
                    return Err(InvalidParameter::new(
                        "momentum",
                        format!("must be in [0, 1), got {momentum}"),
                    ));
                }
                if weight_decay.is_nan() || weight_decay < 0.0 {
                    return Err(InvalidParameter::new(
                        "weight_decay",
                        format!("must be ≥ 0, got {weight_decay}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A fresh optimizer.
    pub fn init(&self) -> Optimizer {
        Optimizer {
            config: *self,
            step: 0,
            state: Vec::new(),
            frozen: Vec::new(),
            host_path: true,
        }
    }
}

#[path = "optimizer_fused.rs"]
mod fused;

/// Per-parameter moments, flattened, in the module's parameter visiting order.
#[derive(Debug, Clone)]
struct ParamState {
    first: Tensor<1>,
    second: Option<Tensor<1>>,
}

/// A gradient-based optimizer over any burn module. Build with [`OptimizerConfig::init`].
#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    step: u64,
    state: Vec<ParamState>,
    /// Parameters never updated (a run's `training.freeze`); not part of the saved state.
    frozen: Vec<ParamId>,
    /// Update parameters in host memory (ndarray) in one fused pass; `false` only in the test
    /// that checks the fused pass against the tensor-op path.
    host_path: bool,
}

/// Errors restoring optimizer state.
#[derive(Debug, Error)]
pub enum OptimizerStateError {
    /// The bytes are not an optimizer state written by [`Optimizer::state_bytes`].
    #[error("optimizer state is malformed: {0}")]
    Malformed(String),
    /// The state was written for another optimizer or network.
    #[error("optimizer state does not match this optimizer: {0}")]
    Mismatch(String),
}

#[derive(Serialize, Deserialize)]
struct StateHeader {
    config: OptimizerConfig,
    step: u64,
    lengths: Vec<(usize, bool)>,
}

impl StateHeader {
    /// The header line of saved state and the position of its newline.
    fn read(bytes: &[u8]) -> Result<(StateHeader, usize), OptimizerStateError> {
        let newline = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| OptimizerStateError::Malformed("no header line".into()))?;
        let header = serde_json::from_slice(&bytes[..newline])
            .map_err(|e| OptimizerStateError::Malformed(e.to_string()))?;
        Ok((header, newline))
    }
}

impl Optimizer {
    /// Number of updates applied so far.
    pub fn steps_taken(&self) -> u64 {
        self.step
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Holds these parameters fixed: their gradients are dropped.
    pub fn freeze(&mut self, ids: &[ParamId]) {
        self.frozen = ids.to_vec();
    }

    /// Applies one update with learning rate `lr` to every parameter of `module` that has a
    /// gradient in `grads`, returning the updated module.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        self.step += 1;
        let mut mapper = UpdateMapper {
            optimizer: self,
            grads,
            lr,
            cursor: 0,
        };
        module.map(&mut mapper)
    }

    /// The state as bytes (a JSON header line, then little-endian f32 moments).
    pub fn state_bytes(&self) -> Vec<u8> {
        let header = StateHeader {
            config: self.config,
            step: self.step,
            lengths: self
                .state
                .iter()
                .map(|s| (s.first.dims()[0], s.second.is_some()))
                .collect(),
        };
        let mut bytes = serde_json::to_vec(&header).expect("optimizer header serialises");
        bytes.push(b'\n');
        for s in &self.state {
            for t in std::iter::once(&s.first).chain(s.second.iter()) {
                for v in t.to_data().iter::<f32>() {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        bytes
    }

    /// An optimizer of the kind its saved state names, with that state restored (moments on
    /// `device`): for state saved by a rule that holds an optimizer of its own.
    pub fn from_state_bytes(
        bytes: &[u8],
        device: &burn::tensor::Device,
    ) -> Result<Optimizer, OptimizerStateError> {
        let (header, _) = StateHeader::read(bytes)?;
        let mut optimizer = header.config.init();
        optimizer.load_state_bytes(bytes, device)?;
        Ok(optimizer)
    }

    /// Restores the state written by [`state_bytes`](Self::state_bytes), placing the moments on
    /// `device` (the parameters' device).
    pub fn load_state_bytes(
        &mut self,
        bytes: &[u8],
        device: &burn::tensor::Device,
    ) -> Result<(), OptimizerStateError> {
        let (header, newline) = StateHeader::read(bytes)?;
        if header.config != self.config {
            return Err(OptimizerStateError::Mismatch(format!(
                "saved for {:?}, this optimizer is {:?}",
                header.config, self.config
            )));
        }
        let mut body = &bytes[newline + 1..];
        let expected: usize = header
            .lengths
            .iter()
            .map(|(n, two)| n * if *two { 2 } else { 1 } * 4)
            .sum();
        if body.len() != expected {
            return Err(OptimizerStateError::Malformed(format!(
                "expected {expected} bytes of moments, found {}",
                body.len()
            )));
        }
        let mut take = |n: usize| {
            let values: Vec<f32> = body[..n * 4]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            body = &body[n * 4..];
            Tensor::<1>::from_data(TensorData::new(values, [n]), device)
        };
        let mut state = Vec::with_capacity(header.lengths.len());
        for (n, two) in header.lengths {
            let first = take(n);
            let second = two.then(|| take(n));
            state.push(ParamState { first, second });
        }
        self.step = header.step;
        self.state = state;
        Ok(())
    }
}

struct UpdateMapper<'a> {
    optimizer: &'a mut Optimizer,
    grads: GradientsParams,
    lr: f64,
    cursor: usize,
}

impl ModuleMapper for UpdateMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        if self.optimizer.frozen.contains(&id) {
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let index = self.cursor;
        self.cursor += 1;
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let weight = tensor.inner().reshape([n]);
        let mut grad = grad.reshape([n]);
        let opt = &mut *self.optimizer;
        let device = weight.device();
        if opt.state.len() <= index {
            let second = matches!(opt.config, OptimizerConfig::Adam { .. })
                .then(|| Tensor::zeros([n], &device));
            opt.state.push(ParamState {
                first: Tensor::zeros([n], &device),
                second,
            });
        }
        let state = &mut opt.state[index];
        assert_eq!(state.first.dims()[0], n, "Optimizer: parameter {index} changed size ({} → {n}); the module does not match the optimizer state", state.first.dims()[0]);
        if opt.host_path && apical_nn::is_host(&device) {
            let updated = fused::update(opt.config, opt.step, self.lr, weight, grad, state);
            let updated = Tensor::from_inner(updated.reshape(dims)).require_grad();
            return Param::from_mapped_value(id, updated, mapper);
        }
        let updated = match opt.config {
            OptimizerConfig::Adam {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => {
                if weight_decay > 0.0 {
                    grad = grad + weight.clone() * weight_decay;
                }
                let first = state.first.clone() * beta1 + grad.clone() * (1.0 - beta1);
                let second = state.second.clone().expect("Adam keeps a second moment") * beta2
                    + grad.powi_scalar(2) * (1.0 - beta2);
                let t = opt.step as i32;
                let first_hat = first.clone() / (1.0 - beta1.powi(t));
                let second_hat = second.clone() / (1.0 - beta2.powi(t));
                state.first = first;
                state.second = Some(second);
                weight - first_hat / (second_hat.sqrt() + epsilon) * self.lr
            }
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
            } => {
                if weight_decay > 0.0 {
                    grad = grad + weight.clone() * weight_decay;
                }
                let velocity = if momentum > 0.0 {
                    state.first.clone() * momentum + grad
                } else {
                    grad
                };
                state.first = velocity.clone();
                weight - velocity * self.lr
            }
        };
        let updated = Tensor::from_inner(updated.reshape(dims)).require_grad();
        Param::from_mapped_value(id, updated, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apical_nn::ndarray_device;

    #[derive(Module, Debug)]
    struct Quadratic {
        w: Param<Tensor<1>>,
    }

    fn descend(config: OptimizerConfig, lr: f64, steps: usize) -> f32 {
        let device = ndarray_device().autodiff();
        let mut model = Quadratic {
            w: Param::from_tensor(Tensor::from_floats([3.0, -2.0], &device)),
        };
        let mut optim = config.init();
        for _ in 0..steps {
            let loss = model.w.val().powi_scalar(2).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        model.w.val().powi_scalar(2).sum().into_scalar()
    }

    #[test]
    fn adam_and_sgd_minimise_a_quadratic() {
        assert!(descend(OptimizerConfig::default(), 0.1, 200) < 1e-2);
        assert!(
            descend(
                OptimizerConfig::Sgd {
                    momentum: 0.0,
                    weight_decay: 0.0
                },
                0.1,
                100
            ) < 1e-6
        );
        assert!(
            descend(
                OptimizerConfig::Sgd {
                    momentum: 0.9,
                    weight_decay: 0.0
                },
                0.02,
                300
            ) < 1e-4
        );
    }

    #[test]
    fn sgd_step_is_exact() {
        // w = 3, loss = w², grad = 6, lr = 0.1 → w = 2.4.
        let device = ndarray_device().autodiff();
        let model = Quadratic {
            w: Param::from_tensor(Tensor::from_floats([3.0], &device)),
        };
        let grads =
            GradientsParams::from_grads(model.w.val().powi_scalar(2).sum().backward(), &model);
        let model = OptimizerConfig::Sgd {
            momentum: 0.0,
            weight_decay: 0.0,
        }
        .init()
        .step(0.1, model, grads);
        let w: f32 = model.w.val().into_scalar();
        assert!((w - 2.4).abs() < 1e-6);
    }

    #[test]
    fn state_round_trips_and_resumed_descent_is_identical() {
        let device = ndarray_device().autodiff();
        let run = |split: Option<usize>| {
            let mut model = Quadratic {
                w: Param::from_tensor(Tensor::from_floats([3.0, -2.0], &device)),
            };
            let mut optim = OptimizerConfig::default().init();
            for i in 0..20 {
                if Some(i) == split {
                    let bytes = optim.state_bytes();
                    optim = OptimizerConfig::default().init();
                    optim.load_state_bytes(&bytes, &device).unwrap();
                }
                let grads = GradientsParams::from_grads(
                    model.w.val().powi_scalar(2).sum().backward(),
                    &model,
                );
                model = optim.step(0.05, model, grads);
            }
            model.w.val().into_data()
        };
        run(None).assert_eq(&run(Some(7)), true);
    }

    #[test]
    fn garbled_state_is_an_error() {
        let mut optim = OptimizerConfig::default().init();
        assert!(optim
            .load_state_bytes(b"not json\n", &ndarray_device())
            .is_err());
        let sgd = OptimizerConfig::Sgd {
            momentum: 0.5,
            weight_decay: 0.0,
        }
        .init()
        .state_bytes();
        assert!(matches!(
            optim.load_state_bytes(&sgd, &ndarray_device()),
            Err(OptimizerStateError::Mismatch(_))
        ));
    }

    #[derive(Module, Debug)]
    struct TwoParams {
        big: Param<Tensor<2>>,
        small: Param<Tensor<1>>,
    }

    /// The fused host pass (ndarray) gives bit for bit the weights and moments of the tensor-op
    /// path, for every optimizer setting, on a parameter large enough to be split across threads
    /// and on a small one.
    #[test]
    fn fused_host_update_is_bit_identical_to_the_tensor_path() {
        let device = ndarray_device().autodiff();
        let mut rng = apical_nn::SeededRng::new(3);
        let (rows, cols) = (400, 400);
        assert!(rows * cols >= fused::PARALLEL_FROM);
        let values: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
        let targets = Tensor::<2>::from_data(
            TensorData::new(
                values.iter().map(|v| v * 0.5 + 0.1).collect::<Vec<f32>>(),
                [rows, cols],
            ),
            &device,
        );
        let run = |config: OptimizerConfig, host_path: bool| {
            let mut model = TwoParams {
                big: Param::from_tensor(Tensor::from_data(
                    TensorData::new(values.clone(), [rows, cols]),
                    &device,
                )),
                small: Param::from_tensor(Tensor::from_floats([1.5, -0.25, 0.0, 3.0], &device)),
            };
            let mut optim = config.init();
            optim.host_path = host_path;
            for _ in 0..6 {
                let loss = (model.big.val() - targets.clone()).powi_scalar(3).sum()
                    + model.small.val().powi_scalar(2).sum();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(0.01, model, grads);
            }
            (
                model.big.val().into_data(),
                model.small.val().into_data(),
                optim.state_bytes(),
            )
        };
        for config in [
            OptimizerConfig::default(),
            OptimizerConfig::Adam {
                beta1: 0.8,
                beta2: 0.99,
                epsilon: 1e-6,
                weight_decay: 0.01,
            },
            OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
            },
            OptimizerConfig::Sgd {
                momentum: 0.9,
                weight_decay: 0.001,
            },
        ] {
            let (fused_big, fused_small, fused_state) = run(config, true);
            let (big, small, state) = run(config, false);
            assert_eq!(fused_big, big, "{config:?}: weights differ");
            assert_eq!(fused_small, small, "{config:?}: weights differ");
            assert_eq!(fused_state, state, "{config:?}: moments differ");
        }
    }
}
