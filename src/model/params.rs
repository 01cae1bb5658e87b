//! Dense parameters: named flat tensors on the device, reshaped to their shape where
//! used, initialised from a seeded host RNG (so a seed means the same model on every
//! device), updated by Adam with dfdx's kernel.

use dfdx::optim::WeightDecay;
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

use crate::model::fused;

/// How a parameter starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Xavier (Glorot) normal: N(0, 2 / (fan_in + fan_out)).
    XavierNormal,
    /// PyTorch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    LinearUniform {
        fan_in: usize,
    },
    /// N(0, std^2).
    Normal {
        std: f64,
    },
    Zeros,
    /// Explicit values (e.g. vec(I) for an S = I start).
    Values(&'static [f32]),
    /// The flattened identity of size k x k.
    Identity {
        k: usize,
    },
    Constant(f32),
}

/// One dense parameter.
pub struct Param<D: Device<f32>> {
    pub name: String,
    pub shape: Vec<usize>,
    pub tensor: Tensor<(usize,), f32, D>,
    /// False for statistics kept with the model but not learned (batch norm's running
    /// mean and variance): Adam leaves them alone, checkpoints and snapshots keep them.
    pub trainable: bool,
}

impl<D: Device<f32>> Param<D> {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A handle to a parameter in a [`ParamSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P(pub usize);

/// Every dense parameter of a model, with the optimiser's moments.
pub struct ParamSet<D: Device<f32>> {
    pub device: D,
    /// Whether the layers run the fused CPU operations (`model::fused`); on by default
    /// where they are available, off to run dfdx's own operations (the unfused path).
    pub fused: bool,
    pub params: Vec<Param<D>>,
    moment1: Gradients<f32, D>,
    moment2: Gradients<f32, D>,
    step: i32,
}

impl<D: Device<f32>> ParamSet<D> {
    pub fn new(device: D) -> Self {
        ParamSet {
            device,
            fused: fused::available::<D>(),
            params: Vec::new(),
            moment1: Gradients::leaky(),
            moment2: Gradients::leaky(),
            step: 0,
        }
    }

    /// Adds a parameter of `shape`, drawing its values from `rng`.
    pub fn add(&mut self, name: impl Into<String>, shape: &[usize], init: Init, rng: &mut Pcg64) -> P {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = match init {
            Init::XavierNormal => {
                let (fan_in, fan_out) = match shape {
                    [a, b] => (*a, *b),
                    [a] => (*a, *a),
                    _ => (n, n),
                };
                let std = (2.0 / (fan_in + fan_out) as f64).sqrt();
                (0..n).map(|_| (rng.sample::<f64, _>(StandardNormal) * std) as f32).collect()
            }
            Init::LinearUniform { fan_in } => {
                let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
                (0..n).map(|_| rng.gen_range(-bound..bound) as f32).collect()
            }
            Init::Normal { std } => (0..n).map(|_| (rng.sample::<f64, _>(StandardNormal) * std) as f32).collect(),
            Init::Zeros => vec![0.0; n],
            Init::Constant(c) => vec![c; n],
            Init::Values(values) => values.to_vec(),
            Init::Identity { k } => (0..k * k).map(|i| if i / k == i % k { 1.0 } else { 0.0 }).collect(),
        };
        assert_eq!(values.len(), n, "initial values of {} fit its shape", shape.len());
        let tensor = self.device.tensor_from_vec(values, (n,));
        self.params.push(Param { name: name.into(), shape: shape.to_vec(), tensor, trainable: true });
        P(self.params.len() - 1)
    }

    /// Adds a statistic of `shape` that is kept with the model but not learned.
    pub fn add_statistic(&mut self, name: impl Into<String>, shape: &[usize], init: Init, rng: &mut Pcg64) -> P {
        let p = self.add(name, shape, init, rng);
        self.params[p.0].trainable = false;
        p
    }

    /// Overwrites a parameter's values (`values` has its length).
    pub fn set(&mut self, p: P, values: &[f32]) {
        self.params[p.0].tensor.copy_from(values);
    }

    pub fn get(&self, p: P) -> &Param<D> {
        &self.params[p.0]
    }

    /// A matrix parameter on tape `T`, shaped (rows, cols).
    pub fn matrix<T: Tape<f32, D>>(&self, p: P) -> Tensor<(usize, usize), f32, D, T> {
        let param = &self.params[p.0];
        let (rows, cols) = match param.shape[..] {
            [rows, cols] => (rows, cols),
            [n] => (1, n),
            _ => panic!("parameter {} is not a matrix", param.name),
        };
        param.tensor.retaped::<T>().reshape_like(&(rows, cols))
    }

    /// A vector parameter on tape `T`.
    pub fn vector<T: Tape<f32, D>>(&self, p: P) -> Tensor<(usize,), f32, D, T> {
        self.params[p.0].tensor.retaped::<T>()
    }

    /// Total number of learned scalars.
    pub fn count(&self) -> usize {
        self.params.iter().filter(|p| p.trainable).map(Param::len).sum()
    }

    fn trainable(&self) -> impl Iterator<Item = &Param<D>> {
        self.params.iter().filter(|p| p.trainable)
    }

    /// One Adam step over every parameter from `grads` (dfdx's kernel, so it runs where
    /// the parameters live). L2 weight decay as in torch.optim.Adam.
    pub fn adam_step(&mut self, grads: &mut Gradients<f32, D>, config: &AdamSettings) -> Result<(), D::Err> {
        self.step += 1;
        let cfg = AdamConfig {
            lr: config.lr,
            betas: config.betas,
            eps: config.eps,
            weight_decay: (config.weight_decay > 0.0).then_some(WeightDecay::L2(config.weight_decay)),
        };
        if self.fused {
            return self.adam_step_fused(grads, config);
        }
        for param in self.params.iter_mut().filter(|p| p.trainable) {
            let grad = grads.get_or_alloc_mut(&param.tensor)?;
            let m1 = self.moment1.get_or_alloc_mut(&param.tensor)?;
            let m2 = self.moment2.get_or_alloc_mut(&param.tensor)?;
            cfg.try_update(self.step, &mut param.tensor, m1, m2, grad)?;
        }
        Ok(())
    }

    /// [`ParamSet::adam_step`] with the CPU kernel of `model::kernels`, which splits
    /// large tensors across the threads (dfdx's runs on one).
    fn adam_step_fused(&mut self, grads: &mut Gradients<f32, D>, config: &AdamSettings) -> Result<(), D::Err> {
        let step = crate::model::kernels::AdamStep {
            lr: config.lr as f32,
            betas: config.betas.map(|b| b as f32),
            eps: config.eps as f32,
            weight_decay: config.weight_decay as f32,
            step: self.step,
        };
        let mut values = Vec::new();
        for param in self.params.iter_mut().filter(|p| p.trainable) {
            values.resize(param.len(), 0.0);
            param.tensor.copy_into(&mut values);
            let grad = fused::gradient(grads, &param.tensor)?;
            let m = fused::gradient(&mut self.moment1, &param.tensor)?;
            let v = fused::gradient(&mut self.moment2, &param.tensor)?;
            crate::model::kernels::adam(&mut values, grad, m, v, &step);
            param.tensor.copy_from(&values);
        }
        Ok(())
    }

    /// Sum of squares of every parameter's gradient in `grads`.
    pub fn gradient_norm_sq(&self, grads: &mut Gradients<f32, D>) -> Result<f64, D::Err> {
        let mut total = 0.0;
        for param in self.trainable() {
            grads.try_alloc_for(&param.tensor)?;
            total += grads.get(&param.tensor).square().sum().as_vec()[0] as f64;
        }
        Ok(total)
    }

    /// Multiplies every parameter's gradient in `grads` by `factor`. dfdx gives no
    /// write access to a gradient's storage, so the scaled gradients are produced by
    /// a backward pass of sum(param * factor * grad), whose gradient is factor * grad.
    pub fn scale_gradients(&self, grads: &mut Gradients<f32, D>, factor: f32) -> Result<(), D::Err> {
        let mut scaled = Gradients::leaky();
        for param in self.trainable() {
            grads.try_alloc_for(&param.tensor)?;
            let target = grads.get(&param.tensor) * factor;
            scaled = (param.tensor.clone().traced(scaled) * target).sum().backward();
        }
        *grads = scaled;
        Ok(())
    }

    /// Host copies of every parameter's values (checkpoints, best-model snapshots).
    pub fn snapshot(&self) -> Vec<Vec<f32>> {
        self.params.iter().map(|p| p.tensor.as_vec()).collect()
    }

    /// Restores values taken by [`ParamSet::snapshot`].
    pub fn restore(&mut self, values: &[Vec<f32>]) {
        for (param, values) in self.params.iter_mut().zip(values) {
            param.tensor.copy_from(values);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AdamSettings {
    pub lr: f64,
    pub betas: [f64; 2],
    pub eps: f64,
    pub weight_decay: f64,
}
