//! Fused CPU operations, each one dfdx tape operation with its own backward closure
//! (`Tape::add_backward_op`), computed on host vectors by `model::kernels`:
//!
//! - [`linear`]: `act(x W + b)`, the bias written into the output before the GEMM adds
//!   to it (no zero-filled output, no separate bias GEMM and add), the ReLU applied in
//!   place; the backward pass masks, sums the bias gradient and runs the two GEMMs,
//!   accumulating straight into the gradients;
//! - [`segment_product`]: APG's per-condition matrices over a batch sorted by condition,
//!   in one pass (instead of a slice, a GEMM and a stack per condition);
//! - [`rowwise_product`]: a matrix per row (self-wise APG), as one batched
//!   vector-matrix product instead of a GEMM call per row.
//!
//! They run only on the CPU device ([`available`]); elsewhere the model keeps dfdx's
//! operations (the unfused path, which the tests compare them against).

use std::any::{Any, TypeId};
use std::borrow::Cow;

use dfdx::prelude::*;

use crate::model::kernels::{self, plain, transposed};
use crate::model::layers::Matrix;

/// True on the device the fused operations run on (dfdx's CPU).
pub fn available<D: Device<f32>>() -> bool {
    TypeId::of::<D>() == TypeId::of::<Cpu>()
}

/// The activation applied by [`linear`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
}

/// The buffer of `t` in `grads` (allocated as zeros when absent; gradients, or Adam's
/// moments), as the host vector the CPU device keeps it in.
pub(crate) fn gradient<'a, D: Device<f32>, S: Shape, T>(
    grads: &'a mut Gradients<f32, D>,
    t: &Tensor<S, f32, D, T>,
) -> Result<&'a mut Vec<f32>, D::Err> {
    let buffer = grads.get_or_alloc_mut(t)?;
    let buffer = (buffer as &mut dyn Any)
        .downcast_mut::<<Cpu as Storage<f32>>::Vec>()
        .expect("fused operations run on the CPU device only");
    Ok(&mut **buffer)
}

/// Takes the gradient of an operation's output out of `grads` (nothing reads it after
/// the operation's own backward closure).
fn take_gradient<D: Device<f32>, S: Shape, T>(
    grads: &mut Gradients<f32, D>,
    t: &Tensor<S, f32, D, T>,
) -> Result<Vec<f32>, D::Err> {
    Ok(std::mem::take(gradient(grads, t)?))
}

/// The values of a tensor, read in place where its storage holds them in row-major
/// order (every tensor the models pass here: parameters and operation outputs), copied
/// otherwise (a broadcast or permuted view).
fn values<S: Shape, D: Device<f32>, T>(t: &Tensor<S, f32, D, T>) -> Cow<'_, [f32]> {
    match t.contiguous_storage() {
        Some(storage) => {
            let storage = (storage as &dyn Any)
                .downcast_ref::<<Cpu as Storage<f32>>::Vec>()
                .expect("fused operations run on the CPU device only");
            Cow::Borrowed(&storage[..])
        }
        None => {
            let mut copy = vec![0f32; t.shape().num_elements()];
            t.copy_into(&mut copy);
            Cow::Owned(copy)
        }
    }
}

/// `act(x W + b)` for x (B, N), W with N x M values (a matrix or a flat parameter) and b
/// with M values (one bias for every row) or B x M (a bias per row).
pub fn linear<D: Device<f32>, T: Tape<f32, D> + 'static, SW: Shape, SB: Shape>(
    x: Matrix<D, T>,
    w: Tensor<SW, f32, D, T>,
    n_out: usize,
    b: Option<Tensor<SB, f32, D, T>>,
    act: Activation,
) -> Matrix<D, T> {
    let (rows, n_in) = *x.shape();
    assert_eq!(w.shape().num_elements(), n_in * n_out, "W is {n_in} x {n_out}");
    let device = x.device().clone();
    let (x, tape) = x.split_tape();
    let (w, w_tape) = w.split_tape();
    let mut tape = tape.merge(w_tape);
    let (b, per_row) = match b {
        Some(b) => {
            let per_row = b.shape().num_elements() == rows * n_out;
            assert!(per_row || b.shape().num_elements() == n_out, "the bias has {n_out} or {rows} x {n_out} values");
            let (b, b_tape) = b.split_tape();
            tape = tape.merge(b_tape);
            (Some(b), per_row)
        }
        None => (None, false),
    };
    // The GEMM writes x W (no zero-filled output), then one pass adds the bias and
    // applies the activation.
    let mut y = kernels::product(rows, n_out, n_in, plain(&values(&x)), plain(&values(&w)));
    let bias = b.as_ref().map(|b| values(b));
    kernels::bias_activation(&mut y, n_out, bias.as_deref(), act == Activation::Relu);
    drop(bias);
    let out = device.tensor_from_vec(y, (rows, n_out));
    if T::OWNS_TAPE {
        let out_id = out.clone();
        tape.add_backward_op(move |grads| {
            let mut gz = take_gradient(grads, &out_id)?;
            if act == Activation::Relu {
                kernels::relu_backward(&mut gz, &values(&out_id));
            }
            if let Some(b) = &b {
                let gb = gradient(grads, b)?;
                if per_row {
                    kernels::add_assign(gb, &gz);
                } else {
                    kernels::add_column_sums(&gz, gb);
                }
            }
            let (x_values, w_values) = (values(&x), values(&w));
            let gw = gradient(grads, &w)?;
            kernels::gemm(n_in, n_out, rows, transposed(&x_values), plain(&gz), gw, true);
            let gx = gradient(grads, &x)?;
            kernels::gemm(rows, n_in, n_out, plain(&gz), transposed(&w_values), gx, true);
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// For a batch sorted by condition: each block of rows `segments[g]` of x (B, R) times
/// the g-th R x C matrix of `mats` (G, R * C): APG's per-condition cores (R = C = K), or
/// the whole per-condition matrices and factors of v1..v3.
pub fn segment_product<D: Device<f32>, T: Tape<f32, D> + 'static>(
    x: Matrix<D, T>,
    mats: Matrix<D, T>,
    cols: usize,
    segments: &[(usize, usize)],
) -> Matrix<D, T> {
    let (rows, r) = *x.shape();
    assert_eq!(*mats.shape(), (segments.len(), r * cols), "one {r} x {cols} matrix per condition");
    let device = x.device().clone();
    let (x, tape) = x.split_tape();
    let (mats, mats_tape) = mats.split_tape();
    let mut tape = tape.merge(mats_tape);
    let y = kernels::segment_product(&values(&x), &values(&mats), (r, cols), segments);
    let out = device.tensor_from_vec(y, (rows, cols));
    if T::OWNS_TAPE {
        let out_id = out.clone();
        let segments = segments.to_vec();
        tape.add_backward_op(move |grads| {
            let go = take_gradient(grads, &out_id)?;
            // x's gradient is taken out while the matrices' is written, then put back.
            let mut gx = take_gradient(grads, &x)?;
            kernels::segment_product_backward(
                &values(&x),
                &values(&mats),
                (r, cols),
                &segments,
                &go,
                &mut gx,
                gradient(grads, &mats)?,
            );
            *gradient(grads, &x)? = gx;
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// Each row x_i of x (B, R) times its own R x C matrix, the i-th row of `mats`
/// (B, R * C).
pub fn rowwise_product<D: Device<f32>, T: Tape<f32, D> + 'static>(
    x: Matrix<D, T>,
    mats: Matrix<D, T>,
    cols: usize,
) -> Matrix<D, T> {
    let (rows, r) = *x.shape();
    assert_eq!(*mats.shape(), (rows, r * cols), "one {r} x {cols} matrix per row");
    let device = x.device().clone();
    let (x, tape) = x.split_tape();
    let (mats, mats_tape) = mats.split_tape();
    let mut tape = tape.merge(mats_tape);
    let y = kernels::rowwise_product(&values(&x), &values(&mats), (r, cols));
    let out = device.tensor_from_vec(y, (rows, cols));
    if T::OWNS_TAPE {
        let out_id = out.clone();
        tape.add_backward_op(move |grads| {
            let go = take_gradient(grads, &out_id)?;
            // x's gradient is taken out while the matrices' is written, then put back.
            let mut gx = take_gradient(grads, &x)?;
            kernels::rowwise_product_backward(
                &values(&x),
                &values(&mats),
                (r, cols),
                &go,
                &mut gx,
                gradient(grads, &mats)?,
            );
            *gradient(grads, &x)? = gx;
            Ok(())
        });
    }
    out.put_tape(tape)
}
