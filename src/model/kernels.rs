//! Host-side numeric kernels of the fused CPU path (`model::fused`): row-major GEMM
//! through the `gemm` crate (the one dfdx's CPU matmul calls) with transposes read
//! through strides and results written or accumulated in place, and element-wise,
//! reduction and small-matrix loops split across the rayon pool for large tensors.

use rayon::prelude::*;

/// Element counts from which a loop is split across the rayon pool: below it, waking
/// the other threads (a futex call each, and their sleep again after) costs more than
/// it saves. (Raising it from 32k and splitting one block per thread did not measurably
/// change the ~12 % of a 2-thread APG step the kernel spends scheduling the threads.)
const PARALLEL_ELEMENTS: usize = 1 << 17;

/// Multiply-adds from which a GEMM runs on every thread of the pool.
const PARALLEL_MACS: usize = 1 << 20;

/// Elements per block of a loop split across the pool: one block per thread, so the
/// loop is one hand-off, not dozens of small tasks.
fn block_elements(len: usize, width: usize) -> usize {
    let rows = len / width.max(1);
    rows.div_ceil(rayon::current_num_threads()).max(1) * width.max(1)
}

/// A row-major matrix operand: its values, and whether the matrix is the transpose of
/// what is stored (a stored k x m read as m x k).
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub values: &'a [f32],
    pub transposed: bool,
}

/// Reads `values` as stored.
pub fn plain(values: &[f32]) -> Operand<'_> {
    Operand { values, transposed: false }
}

/// Reads `values` transposed.
pub fn transposed(values: &[f32]) -> Operand<'_> {
    Operand { values, transposed: true }
}

/// Row and column strides of an m x k operand.
fn strides(op: &Operand, rows: usize, cols: usize) -> (usize, usize) {
    if op.transposed { (1, rows) } else { (cols, 1) }
}

/// `c = a b` (or `c += a b` with `accumulate`): a is m x k, b is k x n, c is m x n,
/// all row-major. Panics when a slice is shorter than its shape. Large products run on
/// every thread of the pool, each on its own block of c's rows (for these shapes that
/// beats splitting inside the GEMM, whose threads wait on each other at every panel).
pub fn gemm(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: &mut [f32], accumulate: bool) {
    assert!(a.values.len() >= m * k && b.values.len() >= k * n && c.len() >= m * n, "GEMM operands fit their shapes");
    let (a_strides, b_strides) = (strides(&a, m, k), strides(&b, k, n));
    let threads = rayon::current_num_threads();
    if threads == 1 || m * n * k < PARALLEL_MACS || m < 8 * threads {
        gemm_strided(m, n, k, (a.values, a_strides), (b.values, b_strides), &mut c[..m * n], accumulate);
        return;
    }
    // Blocks of rows, a multiple of 8 (the micro-kernel's height in vectors).
    let block = m.div_ceil(threads).next_multiple_of(8);
    c[..m * n].par_chunks_mut(block * n).enumerate().for_each(|(i, c)| {
        let first = i * block;
        let a = &a.values[first * a_strides.0..];
        gemm_strided(c.len() / n, n, k, (a, a_strides), (b.values, b_strides), c, accumulate);
    });
}

/// [`gemm`] on the calling thread only (for callers that already run blocks in parallel).
pub fn gemm_serial(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: &mut [f32], accumulate: bool) {
    assert!(a.values.len() >= m * k && b.values.len() >= k * n && c.len() >= m * n, "GEMM operands fit their shapes");
    let (a_strides, b_strides) = (strides(&a, m, k), strides(&b, k, n));
    gemm_strided(m, n, k, (a.values, a_strides), (b.values, b_strides), &mut c[..m * n], accumulate);
}

/// A matrix operand as values with (row, column) strides.
type Strided<'a> = (&'a [f32], (usize, usize));

/// The GEMM call itself, on this thread: c (m x n, row-major, exactly m * n values)
/// = or += a (m x k) b (k x n), a and b read through their strides.
fn gemm_strided(m: usize, n: usize, k: usize, (a, a_s): Strided, (b, b_s): Strided, c: &mut [f32], accumulate: bool) {
    assert_eq!(c.len(), m * n, "c holds m x n values");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    // The last element each operand's strides reach must lie inside its slice.
    assert!((m - 1) * a_s.0 + (k - 1) * a_s.1 < a.len(), "a fits its strides");
    assert!((k - 1) * b_s.0 + (n - 1) * b_s.1 < b.len(), "b fits its strides");
    // SAFETY: the asserts above keep every index the strides reach inside a, b and c,
    // and c is borrowed mutably.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_s.1 as isize,
            a_s.0 as isize,
            b.as_ptr(),
            b_s.1 as isize,
            b_s.0 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// A fresh m x n matrix `a b`, written by the GEMM without being zero-filled first.
pub fn product(m: usize, n: usize, k: usize, a: Operand, b: Operand) -> Vec<f32> {
    if k == 0 {
        return vec![0.0; m * n];
    }
    let mut c: Vec<f32> = Vec::with_capacity(m * n);
    let spare = c.spare_capacity_mut();
    // SAFETY: `spare` holds m * n slots; the GEMM without `accumulate` writes every one
    // of them before anything reads them (k > 0), so the length may then cover them.
    unsafe {
        let slots = std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<f32>(), m * n);
        gemm(m, n, k, a, b, slots, false);
        c.set_len(m * n);
    }
    c
}

/// Runs `f(first_row, rows)` on blocks of whole rows of a matrix with `width` columns,
/// in parallel when the matrix is large.
pub fn for_rows(values: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if width == 0 {
        return;
    }
    if values.len() < PARALLEL_ELEMENTS || rayon::current_num_threads() == 1 {
        f(0, values);
        return;
    }
    let block = block_elements(values.len(), width);
    values.par_chunks_mut(block).enumerate().for_each(|(i, values)| f(i * (block / width), values));
}

/// In one pass over y (rows x `width`): adds the bias, one row of `width` values added
/// to every row or a whole matrix added element by element, then with `relu` applies
/// max(0, v).
pub fn bias_activation(y: &mut [f32], width: usize, bias: Option<&[f32]>, relu: bool) {
    let per_row = bias.is_some_and(|b| b.len() != width);
    assert!(bias.is_none_or(|b| b.len() == width || b.len() == y.len()), "one bias row, or one per row");
    // Each case its own loop, so that each vectorises without a test per value.
    for_rows(y, width, |first, block| match (bias, relu) {
        (None, false) => {}
        (None, true) => block.iter_mut().for_each(|v| *v = v.max(0.0)),
        (Some(b), false) if per_row => block.iter_mut().zip(&b[first * width..]).for_each(|(v, b)| *v += b),
        (Some(b), true) if per_row => {
            block.iter_mut().zip(&b[first * width..]).for_each(|(v, b)| *v = (*v + b).max(0.0))
        }
        (Some(b), false) => {
            block.chunks_exact_mut(width).for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b))
        }
        (Some(b), true) => block
            .chunks_exact_mut(width)
            .for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v = (*v + b).max(0.0))),
    });
}

/// Zeroes the gradient wherever the ReLU's output was 0.
pub fn relu_backward(gradient: &mut [f32], output: &[f32]) {
    for_rows(gradient, 1, |start, block| {
        // A select, not a branch: the signs are random, and a mispredicted branch per
        // value made this loop ~12 % of an APG training step.
        block.iter_mut().zip(&output[start..]).for_each(|(g, &y)| *g = if y <= 0.0 { 0.0 } else { *g })
    });
}

/// Adds the column sums of `values` (rows x sums.len()) to `sums`.
pub fn add_column_sums(values: &[f32], sums: &mut [f32]) {
    let width = sums.len();
    if width == 0 {
        return;
    }
    let add_rows = |block: &[f32], into: &mut [f32]| {
        for row in block.chunks_exact(width) {
            into.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
    };
    if values.len() < PARALLEL_ELEMENTS || rayon::current_num_threads() == 1 {
        add_rows(values, sums);
        return;
    }
    let partial = values
        .par_chunks(block_elements(values.len(), width))
        .map(|block| {
            let mut into = vec![0f32; width];
            add_rows(block, &mut into);
            into
        })
        .reduce(
            || vec![0f32; width],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    sums.iter_mut().zip(&partial).for_each(|(s, p)| *s += p);
}

/// `a += b`, element by element.
pub fn add_assign(a: &mut [f32], b: &[f32]) {
    for_rows(a, 1, |start, block| block.iter_mut().zip(&b[start..]).for_each(|(x, y)| *x += y));
}

/// For every row i: `out_i = x_i M_i`, x_i a row of `r` values and M_i the i-th r x c
/// matrix of `mats` (rows x r*c, row-major): the batched vector-matrix product of
/// per-row weights.
pub fn rowwise_product(x: &[f32], mats: &[f32], (r, c): (usize, usize)) -> Vec<f32> {
    let rows = x.len().checked_div(r).unwrap_or(0);
    let mut out = vec![0f32; rows * c];
    for_rows(&mut out, c, |first, block| {
        for (i, out_row) in block.chunks_exact_mut(c).enumerate() {
            let row = first + i;
            let x_row = &x[row * r..(row + 1) * r];
            let mat = &mats[row * r * c..(row + 1) * r * c];
            for (&xv, m_row) in x_row.iter().zip(mat.chunks_exact(c)) {
                out_row.iter_mut().zip(m_row).for_each(|(o, &m)| *o += xv * m);
            }
        }
    });
    out
}

/// Gradients of [`rowwise_product`]: `gx_i += M_i go_i^T` and `gM_i += x_i^T go_i`.
pub fn rowwise_product_backward(
    x: &[f32],
    mats: &[f32],
    (r, c): (usize, usize),
    grad_out: &[f32],
    grad_x: &mut [f32],
    grad_mats: &mut [f32],
) {
    for_rows(grad_x, r, |first, block| {
        for (i, gx_row) in block.chunks_exact_mut(r).enumerate() {
            let row = first + i;
            let go = &grad_out[row * c..(row + 1) * c];
            let mat = &mats[row * r * c..(row + 1) * r * c];
            for (gx, m_row) in gx_row.iter_mut().zip(mat.chunks_exact(c)) {
                *gx += m_row.iter().zip(go).map(|(m, g)| m * g).sum::<f32>();
            }
        }
    });
    for_rows(grad_mats, r * c, |first, block| {
        for (i, gm) in block.chunks_exact_mut(r * c).enumerate() {
            let row = first + i;
            let go = &grad_out[row * c..(row + 1) * c];
            for (&xv, gm_row) in x[row * r..(row + 1) * r].iter().zip(gm.chunks_exact_mut(c)) {
                gm_row.iter_mut().zip(go).for_each(|(g, &o)| *g += xv * o);
            }
        }
    });
}

/// Splits `values` (rows of `width`) into the blocks of rows of `segments`, which tile
/// the rows in order. Panics when they do not.
pub fn split_segments<'a>(mut values: &'a mut [f32], width: usize, segments: &[(usize, usize)]) -> Vec<&'a mut [f32]> {
    let mut blocks = Vec::with_capacity(segments.len());
    let mut next = 0;
    for &(start, len) in segments {
        assert_eq!(start, next, "condition blocks tile the batch in order");
        let (block, rest) = values.split_at_mut(len * width);
        blocks.push(block);
        values = rest;
        next = start + len;
    }
    assert!(values.is_empty(), "condition blocks cover the batch");
    blocks
}

/// For every block g of rows (`segments`): `out_g = x_g M_g`, x (rows x r) and M_g the
/// g-th r x c matrix of `mats` (G x r*c): one pass over the sorted batch, the blocks in
/// parallel, each output block written by its GEMM (not zero-filled first).
pub fn segment_product(x: &[f32], mats: &[f32], (r, c): (usize, usize), segments: &[(usize, usize)]) -> Vec<f32> {
    let rows: usize = segments.iter().map(|s| s.1).sum();
    let mut out: Vec<f32> = Vec::with_capacity(rows * c);
    {
        let spare = out.spare_capacity_mut();
        // SAFETY: `spare` holds rows * c slots; every block's GEMM (k = r > 0) or fill
        // (r = 0) writes all of its slots, the blocks tile them (split_segments checks),
        // so the length may then cover them.
        let slots = unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<f32>(), rows * c) };
        let blocks = split_segments(slots, c, segments);
        blocks.into_par_iter().zip(segments.par_iter()).enumerate().for_each(|(g, (block, &(start, len)))| {
            if r == 0 {
                block.fill(0.0);
                return;
            }
            let mat = &mats[g * r * c..(g + 1) * r * c];
            gemm_serial(len, c, r, plain(&x[start * r..(start + len) * r]), plain(mat), block, false);
        });
    }
    // SAFETY: see above: every one of the rows * c values was written.
    unsafe { out.set_len(rows * c) };
    out
}

/// Gradients of [`segment_product`]: `gx_g += go_g M_g^T`, `gM_g += x_g^T go_g`.
#[allow(clippy::too_many_arguments)]
pub fn segment_product_backward(
    x: &[f32],
    mats: &[f32],
    (r, c): (usize, usize),
    segments: &[(usize, usize)],
    grad_out: &[f32],
    grad_x: &mut [f32],
    grad_mats: &mut [f32],
) {
    if r * c == 0 {
        return;
    }
    let blocks = split_segments(grad_x, r, segments);
    let mat_grads: Vec<&mut [f32]> = grad_mats.chunks_exact_mut(r * c).collect();
    blocks.into_par_iter().zip(mat_grads).zip(segments.par_iter()).enumerate().for_each(
        |(g, ((gx, gmat), &(start, len)))| {
            let go = &grad_out[start * c..(start + len) * c];
            let mat = &mats[g * r * c..(g + 1) * r * c];
            gemm_serial(len, r, c, plain(go), transposed(mat), gx, true);
            gemm_serial(r, c, len, transposed(&x[start * r..(start + len) * r]), plain(go), gmat, true);
        },
    );
}

/// Adam's constants for one step.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    pub lr: f32,
    pub betas: [f32; 2],
    pub eps: f32,
    /// L2 weight decay, added to the gradient as in torch.optim.Adam.
    pub weight_decay: f32,
    /// The step number, from 1.
    pub step: i32,
}

/// One Adam step of `values` with `grad` and the moments `m`, `v` (dfdx's CPU kernel's
/// arithmetic), blocks of values in parallel for large tensors.
pub fn adam(values: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], c: &AdamStep) {
    let [b1, b2] = c.betas;
    let (m_scale, v_scale) = ((1.0 - b1.powi(c.step)).recip(), (1.0 - b2.powi(c.step)).recip());
    let update = |values: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]| {
        for (((p, &g), m), v) in values.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = g + c.weight_decay * *p;
            *m = *m * b1 + g * (1.0 - b1);
            *v = *v * b2 + g * g * (1.0 - b2);
            *p -= c.lr * (*m * m_scale) / ((*v * v_scale).sqrt() + c.eps);
        }
    };
    if values.len() < PARALLEL_ELEMENTS || rayon::current_num_threads() == 1 {
        update(values, grad, m, v);
        return;
    }
    let block = block_elements(values.len(), 1);
    values
        .par_chunks_mut(block)
        .zip(grad.par_chunks(block))
        .zip(m.par_chunks_mut(block))
        .zip(v.par_chunks_mut(block))
        .for_each(|(((values, grad), m), v)| update(values, grad, m, v));
}
