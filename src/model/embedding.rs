//! Embedding tables kept off the dfdx tape: a batch's rows are gathered on the host into
//! one leaf tensor, its gradient is read back after the backward pass and sent to the
//! rows it came from (docs/architecture.md, "Embeddings"). The tables live in host memory
//! on every device: they are large and sparse, and only the gathered rows travel.
//!
//! Two optimisers (docs/model.md, "Optimiser"): dense Adam updates every row at every
//! step, as torch.optim.Adam does with dense gradients (rows absent from the batch keep
//! moving on their momentum, their moments decay); lazy Adam updates only the touched
//! rows, so a step costs the rows it touches, not the vocabulary.

use rand::Rng;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

use rayon::prelude::*;

use crate::config::experiment::EmbeddingOptimizer;
use crate::model::params::AdamSettings;

pub struct EmbeddingTable {
    pub name: String,
    pub rows: usize,
    pub dim: usize,
    pub weights: Vec<f32>,
    /// Adam's first and second moments of each row side by side, `[m (dim) | v (dim)]`,
    /// so a row's update touches two places in memory, not three.
    moments: Vec<f32>,
    /// The rows touched by the current batch: the slot of each row (`NO_SLOT` when
    /// untouched; one entry per row, so that a lookup is an index, not a hash), ids in
    /// slot order, and their accumulated
    /// gradients (slot x dim). Reset, not freed, after each step.
    row_slots: Vec<u32>,
    touched_ids: Vec<u32>,
    gradients: Vec<f32>,
    step: i32,
}

const NO_SLOT: u32 = u32::MAX;

impl EmbeddingTable {
    /// A table of `rows` x `dim` values drawn from N(0, std^2).
    pub fn new(name: impl Into<String>, rows: usize, dim: usize, std: f64, rng: &mut Pcg64) -> Self {
        let mut weights = table_vec(rows * dim);
        weights.iter_mut().for_each(|w| *w = (rng.sample::<f64, _>(StandardNormal) * std) as f32);
        EmbeddingTable {
            name: name.into(),
            rows,
            dim,
            weights,
            moments: table_vec(rows * 2 * dim),
            row_slots: vec![NO_SLOT; rows],
            touched_ids: Vec::new(),
            gradients: Vec::new(),
            step: 0,
        }
    }

    pub fn row(&self, id: u32) -> &[f32] {
        let start = id as usize * self.dim;
        &self.weights[start..start + self.dim]
    }

    /// Copies row `column[rows[r]]` into `out[r * stride + offset..][..dim]` for every r,
    /// asking for the rows a few places ahead (see [`EmbeddingTable::adam_step`]).
    pub fn gather(&self, column: &[u32], rows: &[u32], out: &mut [f32], stride: usize, offset: usize) {
        const AHEAD: usize = 16;
        let dim = self.dim;
        for (r, &row) in rows.iter().enumerate() {
            if let Some(&ahead) = rows.get(r + AHEAD) {
                prefetch(&self.weights, column[ahead as usize] as usize * dim);
            }
            out[r * stride + offset..r * stride + offset + dim].copy_from_slice(self.row(column[row as usize]));
        }
    }

    /// Adds `scale * gradient` to row `id`'s pending gradient.
    pub fn accumulate(&mut self, id: u32, gradient: &[f32], scale: f32) {
        let dim = self.dim;
        let slot = &mut self.row_slots[id as usize];
        if *slot == NO_SLOT {
            *slot = self.touched_ids.len() as u32;
            self.touched_ids.push(id);
            self.gradients.resize(self.gradients.len() + dim, 0.0);
        }
        let slot = *slot as usize;
        let pending = &mut self.gradients[slot * dim..(slot + 1) * dim];
        pending.iter_mut().zip(gradient).for_each(|(p, g)| *p += scale * g);
    }

    /// A hint that [`EmbeddingTable::accumulate`] will soon be called for row `id`: its
    /// slot entry is read at random, and the dense Adam sweep of the last step has
    /// evicted it from the cache.
    #[inline(always)]
    pub fn prefetch_slot(&self, id: u32) {
        prefetch(&self.row_slots, id as usize);
    }

    /// Sum of squares of the pending gradients.
    pub fn pending_norm_sq(&self) -> f64 {
        self.gradients.iter().map(|&g| (g as f64) * (g as f64)).sum()
    }

    /// Multiplies the pending gradients by `factor`.
    pub fn scale_pending(&mut self, factor: f32) {
        self.gradients.iter_mut().for_each(|g| *g *= factor);
    }

    /// Rows with a pending gradient.
    pub fn touched(&self) -> usize {
        self.touched_ids.len()
    }

    /// One Adam step with the pending gradients. `Lazy`: the touched rows only (moments
    /// of other rows stay as they are, like torch's SparseAdam), `l2` adding `l2 * w` to
    /// each touched row's gradient. `Adam`: every row, untouched ones with a zero
    /// gradient (plus `l2 * w`: the penalty covers the whole table).
    pub fn adam_step(&mut self, settings: &AdamSettings, l2: f64, optimizer: EmbeddingOptimizer) {
        self.step += 1;
        let [beta1, beta2] = settings.betas.map(|b| b as f32);
        // Adam's bias corrections folded into two constants: one division and one square
        // root per entry, in a loop the compiler vectorises.
        let constants = RowAdam {
            beta1,
            beta2,
            step_size: settings.lr as f32 / (1.0 - beta1.powi(self.step)),
            inv_sqrt_correction2: 1.0 / (1.0 - beta2.powi(self.step)).sqrt(),
            eps: settings.eps as f32,
            l2: l2 as f32,
        };
        match optimizer {
            EmbeddingOptimizer::LazyAdam => self.update_touched_dispatch(&constants),
            EmbeddingOptimizer::Adam => self.update_all(&constants),
        }
        for &id in &self.touched_ids {
            self.row_slots[id as usize] = NO_SLOT;
        }
        self.touched_ids.clear();
        self.gradients.clear();
    }

    fn update_touched_dispatch(&mut self, constants: &RowAdam) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2, checked just above.
            unsafe { self.update_touched_avx2(constants) };
        } else {
            self.update_touched(constants);
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.update_touched(constants);
    }

    /// Dense Adam: every row, in parallel blocks of rows.
    fn update_all(&mut self, c: &RowAdam) {
        const BLOCK: usize = 2048;
        let dim = self.dim;
        let (slots, gradients) = (&self.row_slots, &self.gradients);
        let zeros = vec![0f32; dim];
        let zeros = zeros.as_slice();
        #[cfg(target_arch = "x86_64")]
        let (avx512, avx2) =
            (std::arch::is_x86_feature_detected!("avx512f"), std::arch::is_x86_feature_detected!("avx2"));
        self.weights
            .par_chunks_mut(BLOCK * dim)
            .zip(self.moments.par_chunks_mut(BLOCK * 2 * dim))
            .zip(slots.par_chunks(BLOCK))
            .for_each(|((weights, moments), slots)| {
                #[cfg(target_arch = "x86_64")]
                if avx512 {
                    // SAFETY: this CPU has AVX-512F, checked above.
                    unsafe { adam_rows_avx512(weights, moments, (slots, gradients, zeros), c) };
                    return;
                } else if avx2 {
                    // SAFETY: this CPU has AVX2, checked above.
                    unsafe { adam_rows_avx2(weights, moments, (slots, gradients, zeros), c) };
                    return;
                }
                adam_rows(weights, moments, (slots, gradients, zeros), c);
            });
    }

    /// [`EmbeddingTable::update_touched`] compiled for AVX2 (8 lanes instead of SSE's 4);
    /// the same arithmetic, so the same results.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn update_touched_avx2(&mut self, c: &RowAdam) {
        self.update_touched(c);
    }

    #[inline(always)]
    fn update_touched(&mut self, c: &RowAdam) {
        let dim = self.dim;
        // Rows are scattered over a large table: ask for the rows a few slots ahead while
        // updating this one, so their cache misses overlap instead of queueing.
        const AHEAD: usize = 16;
        for (slot, &id) in self.touched_ids.iter().enumerate() {
            if let Some(&ahead) = self.touched_ids.get(slot + AHEAD) {
                prefetch(&self.weights, ahead as usize * dim);
                prefetch(&self.moments, ahead as usize * 2 * dim);
                prefetch(&self.moments, ahead as usize * 2 * dim + dim);
            }
            let start = id as usize * dim;
            let weights = &mut self.weights[start..start + dim];
            let (m, v) = self.moments[2 * start..2 * start + 2 * dim].split_at_mut(dim);
            adam_row(weights, m, v, &self.gradients[slot * dim..(slot + 1) * dim], c);
        }
    }

    pub fn entries(&self) -> usize {
        self.rows * self.dim
    }
}

/// Adam on one row: `gradient` plus `l2 * w`.
#[inline(always)]
fn adam_row(weights: &mut [f32], m: &mut [f32], v: &mut [f32], gradient: &[f32], c: &RowAdam) {
    for (((w, m), v), &g) in weights.iter_mut().zip(m).zip(v).zip(gradient) {
        let g = g + c.l2 * *w;
        *m = c.beta1 * *m + (1.0 - c.beta1) * g;
        *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
        *w -= c.step_size * *m / (v.sqrt() * c.inv_sqrt_correction2 + c.eps);
    }
}

/// The gradient source of [`adam_rows`]: each row's slot, the pending gradients by slot,
/// and a zero row for rows without one.
type RowGradients<'a> = (&'a [u32], &'a [f32], &'a [f32]);

/// Adam on a block of consecutive rows; a row without a slot has a zero gradient.
#[inline(always)]
fn adam_rows(weights: &mut [f32], moments: &mut [f32], (slots, gradients, zeros): RowGradients, c: &RowAdam) {
    let dim = zeros.len();
    for ((w, mv), &slot) in weights.chunks_exact_mut(dim).zip(moments.chunks_exact_mut(2 * dim)).zip(slots) {
        let (m, v) = mv.split_at_mut(dim);
        let gradient = if slot == NO_SLOT { zeros } else { &gradients[slot as usize * dim..(slot as usize + 1) * dim] };
        adam_row(w, m, v, gradient, c);
    }
}

/// [`adam_rows`] compiled for AVX-512 (16 lanes: a 16-wide row in one vector); the same
/// arithmetic (no fused multiply-adds), so the same results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn adam_rows_avx512(weights: &mut [f32], moments: &mut [f32], rows: RowGradients, c: &RowAdam) {
    adam_rows(weights, moments, rows, c);
}

/// [`adam_rows`] compiled for AVX2; the same arithmetic.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn adam_rows_avx2(weights: &mut [f32], moments: &mut [f32], rows: RowGradients, c: &RowAdam) {
    adam_rows(weights, moments, rows, c);
}

/// The constants of one row-wise Adam step.
struct RowAdam {
    beta1: f32,
    beta2: f32,
    step_size: f32,
    inv_sqrt_correction2: f32,
    eps: f32,
    l2: f32,
}

/// A zeroed vector for a table. Large ones ask Linux for transparent huge pages before
/// their pages are first touched: rows are read at random, and with 4 KiB pages nearly
/// every row of a million-row table also costs a TLB miss.
fn table_vec(len: usize) -> Vec<f32> {
    let values = vec![0f32; len];
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let (start, bytes) = (values.as_ptr() as usize, len * size_of::<f32>());
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside the allocation; MADV_HUGEPAGE only changes how
            // the kernel backs it, never its contents. A refusal just leaves 4 KiB pages.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    values
}

/// A hint that `values[index]` will be read soon (no effect where unsupported).
#[inline(always)]
fn prefetch<T>(values: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if index < values.len() {
        // SAFETY: the pointer is inside `values`; a prefetch never faults or writes.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(values.as_ptr().add(index).cast());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn only_touched_rows_move() {
        let mut table = EmbeddingTable::new("t", 5, 3, 0.1, &mut Pcg64::seed_from_u64(1));
        let before = table.weights.clone();
        table.accumulate(2, &[1.0, -1.0, 0.5], 1.0);
        table.accumulate(2, &[1.0, -1.0, 0.5], 1.0);
        let settings = AdamSettings { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.0 };
        table.adam_step(&settings, 0.0, EmbeddingOptimizer::LazyAdam);
        for row in 0..5 {
            let moved = table.row(row) != &before[row as usize * 3..row as usize * 3 + 3];
            assert_eq!(moved, row == 2, "row {row}");
        }
        // First Adam step moves each coordinate by lr against the gradient's sign.
        assert!((table.row(2)[0] - (before[6] - 0.1)).abs() < 1e-5);
        assert!((table.row(2)[1] - (before[7] + 0.1)).abs() < 1e-5);
        assert_eq!(table.touched(), 0);
    }
}
