//! Embedding tables kept off the dfdx tape (DFDX-NOTES trap 3): a batch's rows are
//! gathered on the host into one leaf tensor, its gradient is read back after the
//! backward pass, and only the touched rows are updated, by a row-wise (lazy) Adam, so
//! a step costs the rows it touches, not the vocabulary. The tables live in host memory
//! on every device: they are large and sparse, and only the gathered rows travel.

use rand::Rng;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;
use rustc_hash::FxHashMap;

use crate::model::params::AdamSettings;

/// Standard deviation of the initial embedding values.
pub const INIT_STD: f64 = 0.1;

pub struct EmbeddingTable {
    pub name: String,
    pub rows: usize,
    pub dim: usize,
    pub weights: Vec<f32>,
    moment1: Vec<f32>,
    moment2: Vec<f32>,
    /// Gradient per touched row, accumulated over one batch.
    pending: FxHashMap<u32, Vec<f32>>,
    step: i32,
}

impl EmbeddingTable {
    pub fn new(name: impl Into<String>, rows: usize, dim: usize, rng: &mut Pcg64) -> Self {
        let weights = (0..rows * dim).map(|_| (rng.sample::<f64, _>(StandardNormal) * INIT_STD) as f32).collect();
        EmbeddingTable {
            name: name.into(),
            rows,
            dim,
            weights,
            moment1: vec![0.0; rows * dim],
            moment2: vec![0.0; rows * dim],
            pending: FxHashMap::default(),
            step: 0,
        }
    }

    pub fn row(&self, id: u32) -> &[f32] {
        let start = id as usize * self.dim;
        &self.weights[start..start + self.dim]
    }

    /// Adds `scale * gradient` to row `id`'s pending gradient.
    pub fn accumulate(&mut self, id: u32, gradient: &[f32], scale: f32) {
        let dim = self.dim;
        let entry = self.pending.entry(id).or_insert_with(|| vec![0.0; dim]);
        entry.iter_mut().zip(gradient).for_each(|(e, g)| *e += scale * g);
    }

    /// Rows with a pending gradient.
    pub fn touched(&self) -> usize {
        self.pending.len()
    }

    /// Adam on the touched rows only (moments of other rows stay as they are, like
    /// torch's SparseAdam); `l2` adds `l2 * w` to each touched row's gradient.
    pub fn adam_step(&mut self, settings: &AdamSettings, l2: f64) {
        self.step += 1;
        let [beta1, beta2] = settings.betas.map(|b| b as f32);
        let correction1 = 1.0 - beta1.powi(self.step);
        let correction2 = 1.0 - beta2.powi(self.step);
        let (lr, eps, l2) = (settings.lr as f32, settings.eps as f32, l2 as f32);
        for (id, gradient) in self.pending.drain() {
            let start = id as usize * self.dim;
            for (j, g) in gradient.into_iter().enumerate() {
                let i = start + j;
                let g = g + l2 * self.weights[i];
                self.moment1[i] = beta1 * self.moment1[i] + (1.0 - beta1) * g;
                self.moment2[i] = beta2 * self.moment2[i] + (1.0 - beta2) * g * g;
                let m_hat = self.moment1[i] / correction1;
                let v_hat = self.moment2[i] / correction2;
                self.weights[i] -= lr * m_hat / (v_hat.sqrt() + eps);
            }
        }
    }

    pub fn entries(&self) -> usize {
        self.rows * self.dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn only_touched_rows_move() {
        let mut table = EmbeddingTable::new("t", 5, 3, &mut Pcg64::seed_from_u64(1));
        let before = table.weights.clone();
        table.accumulate(2, &[1.0, -1.0, 0.5], 1.0);
        table.accumulate(2, &[1.0, -1.0, 0.5], 1.0);
        let settings = AdamSettings { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.0 };
        table.adam_step(&settings, 0.0);
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
