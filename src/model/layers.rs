//! The building blocks over runtime-shape dfdx tensors: the dense layer, the generator
//! and the APG layer in every variant (docs/model.md, "Variants"). Row-vector convention:
//! a batch X is B x N_in, a layer maps N_in -> N_out.

use dfdx::prelude::*;
use rand_pcg::Pcg64;

use crate::config::experiment::{ApgInit, Variant};
use crate::model::fused::{self, Activation};
use crate::model::params::{Init, P, ParamSet};

/// A batch of rows: B x N.
pub type Matrix<D, T> = Tensor<(usize, usize), f32, D, T>;

/// `(start, len)` of each condition's block of rows in a batch sorted by condition.
pub type Segments = Vec<(usize, usize)>;

/// What a generator produced, head by head.
type Generated<D, T> = Vec<(Head, Matrix<D, T>)>;

/// U (N_in x K) and V (K x N_out) of a v5 layer multiplied out for inference.
pub type MergedUv<D> = (Matrix<D, NoneTape>, Matrix<D, NoneTape>);

/// The tapes the forward pass runs on: `OwnedTape` when training, `NoneTape` when not.
pub trait Tp<D: Device<f32>>: Tape<f32, D> + 'static {}
impl<D: Device<f32>, T: Tape<f32, D> + 'static> Tp<D> for T {}

/// `x W + b`: the static layer.
pub struct Dense {
    pub n_in: usize,
    pub n_out: usize,
    pub weight: P,
    pub bias: Option<P>,
}

impl Dense {
    /// A layer initialised like PyTorch's `Linear`.
    pub fn new<D: Device<f32>>(
        params: &mut ParamSet<D>,
        name: &str,
        n_in: usize,
        n_out: usize,
        bias: bool,
        rng: &mut Pcg64,
    ) -> Self {
        let init = Init::LinearUniform { fan_in: n_in };
        Self::with_init(params, name, n_in, n_out, init, bias.then_some(init), rng)
    }

    pub fn with_init<D: Device<f32>>(
        params: &mut ParamSet<D>,
        name: &str,
        n_in: usize,
        n_out: usize,
        weight_init: Init,
        bias_init: Option<Init>,
        rng: &mut Pcg64,
    ) -> Self {
        let weight = params.add(format!("{name}.weight"), &[n_in, n_out], weight_init, rng);
        let bias = bias_init.map(|init| params.add(format!("{name}.bias"), &[n_out], init, rng));
        Dense { n_in, n_out, weight, bias }
    }

    /// x (B, N_in) -> x W + b (B, N_out).
    pub fn forward<D: Device<f32>, T: Tp<D>>(&self, params: &ParamSet<D>, x: Matrix<D, T>) -> Matrix<D, T> {
        self.forward_act(params, x, Activation::Identity)
    }

    /// x (B, N_in) -> act(x W + b) (B, N_out): one fused operation when the parameters
    /// run fused (`ParamSet::fused`), dfdx's matmul, bias and activation otherwise.
    pub fn forward_act<D: Device<f32>, T: Tp<D>>(
        &self,
        params: &ParamSet<D>,
        x: Matrix<D, T>,
        act: Activation,
    ) -> Matrix<D, T> {
        if params.fused {
            let bias = self.bias.map(|b| params.vector::<T>(b));
            return fused::linear(x, params.vector::<T>(self.weight), self.n_out, bias, act);
        }
        let y = x.matmul(params.matrix::<T>(self.weight));
        let y = match self.bias {
            Some(b) => add_bias(params, y, b),
            None => y,
        };
        activate(y, act)
    }
}

/// Batch normalisation of a layer's pre-activation (Ioffe and Szegedy, 2015): while
/// training, each column is normalised by the batch's mean and variance, then scaled by
/// gamma and shifted by beta; at inference the running averages of those statistics
/// stand in for the batch's, as in PyTorch's `BatchNorm1d`.
pub struct BatchNorm {
    pub width: usize,
    pub gamma: P,
    pub beta: P,
    pub running_mean: P,
    pub running_var: P,
    /// The last training batch's statistics, until folded into the running statistics
    /// by [`BatchNorm::update_statistics`].
    pending: std::sync::Mutex<Option<BatchStatistics>>,
}

/// A training batch's rows, and each column's mean and biased variance.
type BatchStatistics = (usize, Vec<f32>, Vec<f32>);

impl BatchNorm {
    /// Added to the variance before the square root.
    pub const EPS: f64 = 1e-5;
    /// Weight of the newest batch in the running statistics.
    pub const MOMENTUM: f32 = 0.1;

    pub fn new<D: Device<f32>>(params: &mut ParamSet<D>, name: &str, width: usize, rng: &mut Pcg64) -> Self {
        BatchNorm {
            width,
            gamma: params.add(format!("{name}.gamma"), &[width], Init::Constant(1.0), rng),
            beta: params.add(format!("{name}.beta"), &[width], Init::Zeros, rng),
            running_mean: params.add_statistic(format!("{name}.running_mean"), &[width], Init::Zeros, rng),
            running_var: params.add_statistic(format!("{name}.running_var"), &[width], Init::Constant(1.0), rng),
            pending: std::sync::Mutex::new(None),
        }
    }

    /// y (B, M) normalised, scaled and shifted. While training, the batch's statistics
    /// are kept for [`BatchNorm::update_statistics`].
    pub fn forward<D: Device<f32>, T: Tp<D>>(
        &self,
        params: &ParamSet<D>,
        y: Matrix<D, T>,
        training: bool,
    ) -> Matrix<D, T> {
        let shape = *y.shape();
        let gamma = params.vector::<T>(self.gamma);
        let beta = params.vector::<T>(self.beta);
        if training {
            // (y - mean) / sqrt(var + eps) with the batch's mean and biased variance, spelled
            // out (as dfdx's `normalize` does) so those two reductions also serve as the
            // statistics kept for the running averages.
            let mean = y.retaped::<T>().mean::<(usize,), Axis<0>>();
            let mean_values = mean.as_vec();
            let centered = y - mean.broadcast_like::<_, Axis<0>>(&shape);
            let variance = centered.retaped::<T>().square().mean::<(usize,), Axis<0>>();
            *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some((shape.0, mean_values, variance.as_vec()));
            let normalized = centered / (variance + Self::EPS as f32).sqrt().broadcast_like::<_, Axis<0>>(&shape);
            normalized * gamma.broadcast_like::<_, Axis<0>>(&shape) + beta.broadcast_like::<_, Axis<0>>(&shape)
        } else {
            // y * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
            let inv_std = (params.vector::<T>(self.running_var) + Self::EPS as f32).sqrt().recip();
            let scale = gamma * inv_std;
            let shift = beta - params.vector::<T>(self.running_mean) * scale.with_empty_tape();
            y * scale.broadcast_like::<_, Axis<0>>(&shape) + shift.broadcast_like::<_, Axis<0>>(&shape)
        }
    }

    /// Folds the last training batch's statistics into the running ones (the variance
    /// made unbiased, as PyTorch does).
    pub fn update_statistics<D: Device<f32>>(&self, params: &mut ParamSet<D>) {
        let Some((rows, mean, variance)) = self.pending.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let unbias = if rows > 1 { rows as f32 / (rows - 1) as f32 } else { 1.0 };
        let momentum = Self::MOMENTUM;
        let blend = |old: Vec<f32>, new: &[f32], factor: f32| -> Vec<f32> {
            old.iter().zip(new).map(|(o, n)| (1.0 - momentum) * o + momentum * factor * n).collect()
        };
        let running_mean = blend(params.get(self.running_mean).tensor.as_vec(), &mean, 1.0);
        let running_var = blend(params.get(self.running_var).tensor.as_vec(), &variance, unbias);
        params.set(self.running_mean, &running_mean);
        params.set(self.running_var, &running_var);
    }
}

/// `y + b` for every row of y. The bias is spread over the rows by a rank-1 GEMM
/// (ones (B x 1) times b (1 x N)) and added to y as two same-shaped tensors: dfdx's
/// broadcasting add walks a strided index per element, which cost ~20 % of a static
/// MLP's inference; this way both directions run on vectorised kernels (the bias's
/// gradient is the GEMM ones^T dY).
pub fn add_bias<D: Device<f32>, T: Tp<D>>(params: &ParamSet<D>, y: Matrix<D, T>, bias: P) -> Matrix<D, T> {
    let (batch, n) = *y.shape();
    let ones: Matrix<D, NoneTape> = params.device.ones_like(&(batch, 1));
    let spread = ones.retaped::<T>().matmul(params.matrix::<T>(bias).reshape_like(&(1, n)));
    y + spread
}

/// `act(y)` with dfdx's kernels.
pub fn activate<D: Device<f32>, T: Tp<D>>(y: Matrix<D, T>, act: Activation) -> Matrix<D, T> {
    match act {
        Activation::Identity => y,
        Activation::Relu => y.relu(),
    }
}

/// What a generator head produces per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// The K x K core S (v2..v5).
    Core,
    /// The per-instance bias (N_out).
    Bias,
    /// U_i, N_in x K (v2, v3).
    Left,
    /// V_i, K x N_out (v2, v3).
    Right,
    /// The whole W_i, N_in x N_out (v1).
    Full,
}

/// The generator G: z (D) -> hidden ReLU layers -> one linear head per generated part.
/// One head per part equals one linear map onto the concatenated outputs.
pub struct Generator {
    pub trunk: Vec<Dense>,
    pub heads: Vec<(Head, Dense)>,
    pub dropout: f32,
}

impl Generator {
    /// Runs G on z (G, D); returns each head's output (G, size).
    pub fn forward<D: Device<f32>, T: Tp<D>>(
        &self,
        params: &ParamSet<D>,
        z: Matrix<D, T>,
        training: bool,
    ) -> Vec<(Head, Matrix<D, T>)> {
        let mut h = z;
        for layer in &self.trunk {
            h = layer.forward_act(params, h, Activation::Relu);
            if training && self.dropout > 0.0 {
                h = h.dropout(self.dropout);
            }
        }
        // Every head reads the trunk's output; the tapes merge again downstream.
        let last = self.heads.len() - 1;
        let mut trunk_output = Some(h);
        let mut outputs = Vec::with_capacity(self.heads.len());
        for (i, (head, dense)) in self.heads.iter().enumerate() {
            let shared = trunk_output.as_ref().expect("taken by the last head only");
            let input = if i == last { trunk_output.take().expect("present") } else { shared.with_empty_tape() };
            outputs.push((*head, dense.forward(params, input)));
        }
        outputs
    }
}

/// The condition a generator reads, for one batch.
pub enum Condition<D: Device<f32>, T: Tape<f32, D>> {
    /// One condition per row (self-wise): z is B x D.
    PerRow(Matrix<D, T>),
    /// Few distinct conditions (group- and mix-wise): z is G x D, `index` maps each of
    /// the B rows to its condition, so G runs G times instead of B.
    /// With `segments`, the rows of each condition are contiguous (`(start, len)` per
    /// condition, in order), so v4/v5 multiply each block by its own S in one GEMM
    /// instead of gathering S per row.
    Grouped { z: Matrix<D, T>, index: Tensor<(usize,), usize, D>, segments: Option<Segments> },
}

/// A per-condition factor of [`by_segment`] (taken by the last block) and its (r, c).
type Factor<D, T> = (Option<Matrix<D, T>>, (usize, usize));

/// For contiguous blocks of rows sharing condition g: `rows_g F1_g F2_g ...`, one GEMM
/// chain per block, the blocks stacked back in order. Each factor is G x (r c), one row
/// per condition, with its (r, c). With `product_first` the factors are multiplied out
/// first (`rows_g (F1_g F2_g ...)`: v2 rebuilds W). Costs one generation per condition
/// and no per-row gathered matrices.
fn by_segment<D: Device<f32>, T: Tp<D>>(
    x: Matrix<D, T>,
    factors: Vec<(Matrix<D, T>, (usize, usize))>,
    segments: &[(usize, usize)],
    product_first: bool,
) -> Matrix<D, T> {
    let last = segments.len() - 1;
    let mut x = Some(x);
    let mut factors: Vec<Factor<D, T>> = factors.into_iter().map(|(f, shape)| (Some(f), shape)).collect();
    let mut blocks: Vec<Matrix<D, T>> = Vec::with_capacity(segments.len());
    for (g, &(start, len)) in segments.iter().enumerate() {
        // The last block takes the tensors with their tapes; the others share them.
        let share = |t: &mut Option<Matrix<D, T>>| {
            if g == last { t.take().expect("present") } else { t.as_ref().expect("present").with_empty_tape() }
        };
        let rows = share(&mut x).slice((start..start + len, ..));
        let mut mats = factors.iter_mut().map(|(f, (r, c))| share(f).slice((g..g + 1, ..)).reshape_like(&(*r, *c)));
        let first = mats.next().expect("at least one factor");
        blocks.push(if product_first {
            rows.matmul(mats.fold(first, |w, f| w.matmul(f)))
        } else {
            mats.fold(rows.matmul(first), |h, f| h.matmul(f))
        });
    }
    stack_rows(blocks)
}

/// The blocks stacked back in order, concatenated pairwise in a balanced tree: each row
/// is copied log2(G) times instead of up to G times.
fn stack_rows<D: Device<f32>, T: Tp<D>>(mut blocks: Vec<Matrix<D, T>>) -> Matrix<D, T> {
    while blocks.len() > 1 {
        let mut merged = Vec::with_capacity(blocks.len().div_ceil(2));
        let mut pairs = blocks.into_iter();
        while let Some(upper) = pairs.next() {
            merged.push(match pairs.next() {
                Some(lower) => (upper, lower).concat_along(Axis::<0>),
                None => upper,
            });
        }
        blocks = merged;
    }
    blocks.pop().expect("a batch has at least one condition")
}

/// An APG layer: h = ((x U) S_i) V + b with S_i = G(z_i) (docs/model.md), or one
/// of the ablation variants. With several conditions (output aggregation) the layer runs
/// once per condition; the caller aggregates.
pub struct ApgLayer {
    pub variant: Variant,
    pub n_in: usize,
    pub n_out: usize,
    pub rank: usize,
    pub overparam: usize,
    /// Shared U (N_in x K) and V (K x N_out) of v4; U_l, U_r, V_l, V_r of v5.
    pub shared: Vec<P>,
    /// Static bias when the bias is not generated.
    pub bias: Option<P>,
    /// One generator per condition input.
    pub generators: Vec<Generator>,
}

/// Settings shared by the APG layers of a model.
#[derive(Debug, Clone)]
pub struct ApgSettings {
    pub variant: Variant,
    pub generator_hidden: Vec<usize>,
    pub generator_dropout: f32,
    pub generate_bias: bool,
    pub identity_init: bool,
    pub init: ApgInit,
}

impl ApgLayer {
    /// Builds a layer whose generators read conditions of widths `condition_widths`.
    #[allow(clippy::too_many_arguments)]
    pub fn new<D: Device<f32>>(
        params: &mut ParamSet<D>,
        name: &str,
        (n_in, n_out): (usize, usize),
        (rank, overparam): (usize, usize),
        settings: &ApgSettings,
        condition_widths: &[usize],
        rng: &mut Pcg64,
    ) -> Self {
        let k = rank;
        let he = settings.init == ApgInit::He;
        // He: every factor scaled so that the product starts He-scaled (docs/model.md).
        let normal = |variance: f64| Init::Normal { std: variance.sqrt() };
        let factor = |he_variance: f64| if he { normal(he_variance) } else { Init::XavierNormal };
        let mut shared = Vec::new();
        match settings.variant {
            Variant::V4 => {
                shared.push(params.add(format!("{name}.U"), &[n_in, k], factor(1.0 / n_in as f64), rng));
                shared.push(params.add(format!("{name}.V"), &[k, n_out], factor(2.0 / k as f64), rng));
            }
            Variant::V5 => {
                let p = overparam;
                shared.push(params.add(format!("{name}.U_l"), &[n_in, p], factor(1.0 / n_in as f64), rng));
                shared.push(params.add(format!("{name}.U_r"), &[p, k], factor(1.0 / p as f64), rng));
                shared.push(params.add(format!("{name}.V_l"), &[k, p], factor(1.0 / k as f64), rng));
                shared.push(params.add(format!("{name}.V_r"), &[p, n_out], factor(2.0 / p as f64), rng));
            }
            _ => {}
        }
        let bias = (!settings.generate_bias).then(|| params.add(format!("{name}.bias"), &[n_out], Init::Zeros, rng));
        let mut heads: Vec<(Head, usize)> = match settings.variant {
            Variant::Static => Vec::new(),
            Variant::V1 => vec![(Head::Full, n_in * n_out)],
            Variant::V2 | Variant::V3 => vec![(Head::Left, n_in * k), (Head::Core, k * k), (Head::Right, k * n_out)],
            Variant::V4 | Variant::V5 => vec![(Head::Core, k * k)],
        };
        if settings.generate_bias {
            heads.insert(0, (Head::Bias, n_out));
        }
        // Under He init each generated part starts with the variance its place in W_i
        // needs: the head's bias carries it, the weights add a condition-dependent part of
        // the same size per unit of z.
        let head_variance = |head: Head| match head {
            Head::Full => 2.0 / n_in as f64,
            Head::Left => 1.0 / n_in as f64,
            Head::Core => 1.0 / k as f64,
            Head::Right => 2.0 / k as f64,
            Head::Bias => 0.0,
        };
        let generators = condition_widths
            .iter()
            .enumerate()
            .map(|(g, &width)| {
                let prefix = format!("{name}.generator{g}");
                let mut trunk = Vec::new();
                let mut from = width;
                for (i, &hidden) in settings.generator_hidden.iter().enumerate() {
                    trunk.push(Dense::new(params, &format!("{prefix}.hidden{i}"), from, hidden, true, rng));
                    from = hidden;
                }
                let heads = heads
                    .iter()
                    .map(|&(head, size)| {
                        let label = format!("{prefix}.{head:?}").to_lowercase();
                        let variance = head_variance(head);
                        let (weight_init, bias_init) = if he && head != Head::Bias {
                            (normal(variance / from.max(1) as f64), normal(variance))
                        } else if he {
                            (Init::LinearUniform { fan_in: from }, Init::Zeros)
                        } else {
                            (Init::LinearUniform { fan_in: from }, Init::LinearUniform { fan_in: from })
                        };
                        // S = I at the start: the core head's bias is vec(I_K).
                        let bias_init =
                            if head == Head::Core && settings.identity_init { Init::Identity { k } } else { bias_init };
                        (head, Dense::with_init(params, &label, from, size, weight_init, Some(bias_init), rng))
                    })
                    .collect();
                Generator { trunk, heads, dropout: settings.generator_dropout }
            })
            .collect();
        ApgLayer { variant: settings.variant, n_in, n_out, rank, overparam, shared, bias, generators }
    }

    /// The shared U (N_in x K) and V (K x N_out): stored (v4) or multiplied out (v5,
    /// U = U_l U_r, V = V_l V_r), once per forward pass.
    pub fn shared_uv<D: Device<f32>, T: Tp<D>>(&self, params: &ParamSet<D>) -> (Matrix<D, T>, Matrix<D, T>) {
        let (n, m, k, p) = (self.n_in, self.n_out, self.rank, self.overparam);
        match self.shared[..] {
            [u, v] => (params.matrix::<T>(u), params.matrix::<T>(v)),
            [u_l, u_r, v_l, v_r] if params.fused => {
                let product = |left: P, right: P, (rows, cols): (usize, usize)| {
                    let left = params.vector::<T>(left).reshape_like(&(rows, p));
                    fused::linear(left, params.vector::<T>(right), cols, None::<Matrix<D, T>>, Activation::Identity)
                };
                (product(u_l, u_r, (n, k)), product(v_l, v_r, (k, m)))
            }
            [u_l, u_r, v_l, v_r] => (
                params.matrix::<T>(u_l).matmul(params.matrix::<T>(u_r)),
                params.matrix::<T>(v_l).matmul(params.matrix::<T>(v_r)),
            ),
            _ => panic!("only v4 and v5 share U and V"),
        }
    }

    /// Pre-activation output (B, N_out) of the layer under condition `condition`, read
    /// by generator `g`. `merged` holds U and V already multiplied out (v5 inference).
    pub fn forward<D: Device<f32>, T: Tp<D>>(
        &self,
        params: &ParamSet<D>,
        x: Matrix<D, T>,
        condition: Condition<D, T>,
        g: usize,
        merged: Option<&MergedUv<D>>,
        training: bool,
    ) -> Matrix<D, T> {
        self.forward_act(params, x, condition, g, merged, training, Activation::Identity)
    }

    /// The layer's output `act(y)` (B, N_out) under condition `condition`, read by
    /// generator `g`, with the fused operations where the parameters run fused.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_act<D: Device<f32>, T: Tp<D>>(
        &self,
        params: &ParamSet<D>,
        x: Matrix<D, T>,
        condition: Condition<D, T>,
        g: usize,
        merged: Option<&MergedUv<D>>,
        training: bool,
        act: Activation,
    ) -> Matrix<D, T> {
        let (n, m, k) = (self.n_in, self.n_out, self.rank);
        // Generate, then (for grouped conditions without segments) gather the generated
        // parts per row.
        let (generated, segments): (Generated<D, T>, Option<Segments>) = match condition {
            Condition::PerRow(z) => (self.generators[g].forward(params, z, training), None),
            Condition::Grouped { z, index, segments } => {
                // With contiguous segments the generated matrices stay one row per
                // condition; only the bias is gathered per row.
                let parts = self.generators[g]
                    .forward(params, z, training)
                    .into_iter()
                    .map(|(head, out)| match (head, &segments) {
                        (Head::Bias, _) | (_, None) => (head, out.gather(index.clone())),
                        _ => (head, out),
                    })
                    .collect();
                (parts, segments)
            }
        };
        let mut parts: Vec<(Head, Option<Matrix<D, T>>)> = generated.into_iter().map(|(h, t)| (h, Some(t))).collect();
        let mut take = |head: Head| -> Matrix<D, T> {
            parts
                .iter_mut()
                .find(|(h, _)| *h == head)
                .and_then(|(_, t)| t.take())
                .expect("the generator has every head the variant needs")
        };
        if params.fused {
            match (self.variant, &segments) {
                (Variant::V4 | Variant::V5, _) => {
                    let (u, v): (Matrix<D, T>, Matrix<D, T>) = match merged {
                        Some((u, v)) => (u.retaped::<T>(), v.retaped::<T>()),
                        None => self.shared_uv(params),
                    };
                    let xu = fused::linear(x, u, k, None::<Matrix<D, T>>, Activation::Identity);
                    let xus = match &segments {
                        Some(segments) => fused::segment_product(xu, take(Head::Core), k, segments),
                        None => fused::rowwise_product(xu, take(Head::Core), k),
                    };
                    return match self.bias {
                        Some(b) => fused::linear(xus, v, m, Some(params.vector::<T>(b)), act),
                        None => fused::linear(xus, v, m, Some(take(Head::Bias)), act),
                    };
                }
                (Variant::V1, None) => {
                    let y = fused::rowwise_product(x, take(Head::Full), m);
                    return activate(self.add_layer_bias(params, y, &mut take), act);
                }
                (Variant::V1, Some(segments)) => {
                    let y = fused::segment_product(x, take(Head::Full), m, segments);
                    return activate(self.add_layer_bias(params, y, &mut take), act);
                }
                (Variant::V2, Some(segments)) => {
                    // W_g = U_g S_g V_g rebuilt per condition (G small products), then x W_g.
                    let groups = segments.len();
                    let u = take(Head::Left).reshape_like(&(groups, n, k));
                    let s = take(Head::Core).reshape_like(&(groups, k, k));
                    let v = take(Head::Right).reshape_like(&(groups, k, m));
                    let w = u.matmul(s).matmul(v).reshape_like(&(groups, n * m));
                    let y = fused::segment_product(x, w, m, segments);
                    return activate(self.add_layer_bias(params, y, &mut take), act);
                }
                (Variant::V3, Some(segments)) => {
                    let xu = fused::segment_product(x, take(Head::Left), k, segments);
                    let xus = fused::segment_product(xu, take(Head::Core), k, segments);
                    let y = fused::segment_product(xus, take(Head::Right), m, segments);
                    return activate(self.add_layer_bias(params, y, &mut take), act);
                }
                (Variant::V3, None) => {
                    let xu = fused::rowwise_product(x, take(Head::Left), k);
                    let xus = fused::rowwise_product(xu, take(Head::Core), k);
                    let y = fused::rowwise_product(xus, take(Head::Right), m);
                    return activate(self.add_layer_bias(params, y, &mut take), act);
                }
                _ => {}
            }
        }
        let y = match (self.variant, segments) {
            (Variant::Static, _) => unreachable!("static layers are Dense"),
            // The grouped forms of v1..v3: each block of rows by its condition's matrices.
            (Variant::V1, Some(segments)) => by_segment(x, vec![(take(Head::Full), (n, m))], &segments, false),
            (variant @ (Variant::V2 | Variant::V3), Some(segments)) => {
                let factors = vec![(take(Head::Left), (n, k)), (take(Head::Core), (k, k)), (take(Head::Right), (k, m))];
                by_segment(x, factors, &segments, variant == Variant::V2)
            }
            (variant, segments) => self.multiply(params, x, variant, segments, merged, &mut take),
        };
        activate(self.add_layer_bias(params, y, &mut take), act)
    }

    /// y plus the layer's static bias, or the generated one.
    fn add_layer_bias<D: Device<f32>, T: Tp<D>>(
        &self,
        params: &ParamSet<D>,
        y: Matrix<D, T>,
        take: &mut dyn FnMut(Head) -> Matrix<D, T>,
    ) -> Matrix<D, T> {
        match self.bias {
            Some(b) => add_bias(params, y, b),
            None => y + take(Head::Bias),
        }
    }

    /// x times the layer's matrices in the other forms: v1..v3 with a matrix per row (the
    /// generated parts gathered, or generated, per row), and v4/v5 with the shared U and V
    /// and the core per row or per block of rows.
    fn multiply<D: Device<f32>, T: Tp<D>>(
        &self,
        params: &ParamSet<D>,
        x: Matrix<D, T>,
        variant: Variant,
        segments: Option<Segments>,
        merged: Option<&MergedUv<D>>,
        take: &mut dyn FnMut(Head) -> Matrix<D, T>,
    ) -> Matrix<D, T> {
        let batch = x.shape().0;
        let (n, m, k) = (self.n_in, self.n_out, self.rank);
        let rows = x.reshape_like(&(batch, 1, n));
        match variant {
            Variant::Static => unreachable!("static layers are Dense"),
            // x W_i with the whole W_i generated.
            Variant::V1 => rows.matmul(take(Head::Full).reshape_like(&(batch, n, m))).reshape_like(&(batch, m)),
            // W_i = U_i S_i V_i rebuilt, then x W_i.
            Variant::V2 => {
                let u = take(Head::Left).reshape_like(&(batch, n, k));
                let s = take(Head::Core).reshape_like(&(batch, k, k));
                let v = take(Head::Right).reshape_like(&(batch, k, m));
                rows.matmul(u.matmul(s).matmul(v)).reshape_like(&(batch, m))
            }
            // ((x U_i) S_i) V_i, W_i never formed.
            Variant::V3 => {
                let u = take(Head::Left).reshape_like(&(batch, n, k));
                let s = take(Head::Core).reshape_like(&(batch, k, k));
                let v = take(Head::Right).reshape_like(&(batch, k, m));
                rows.matmul(u).matmul(s).matmul(v).reshape_like(&(batch, m))
            }
            // ((x U) S_i) V with shared U, V.
            Variant::V4 | Variant::V5 => {
                let (u, v): (Matrix<D, T>, Matrix<D, T>) = match merged {
                    Some((u, v)) => (u.retaped::<T>(), v.retaped::<T>()),
                    None => self.shared_uv(params),
                };
                let xu = rows.reshape_like(&(batch, n)).matmul(u);
                let xus = match segments {
                    None => {
                        let s = take(Head::Core).reshape_like(&(batch, k, k));
                        xu.reshape_like(&(batch, 1, k)).matmul(s).reshape_like(&(batch, k))
                    }
                    Some(segments) => by_segment(xu, vec![(take(Head::Core), (k, k))], &segments, false),
                };
                xus.matmul(v)
            }
        }
    }
}
