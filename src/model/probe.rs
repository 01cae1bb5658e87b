//! What the generators of a trained model produce: for given rows, the parts each APG
//! layer generated for them (the core S, the bias, and for v1..v3 the other generated
//! matrices), and the shared U and V. The weight inspector reads them; training never
//! calls this.

use dfdx::prelude::*;

use crate::config::experiment::{ConditionMode, Variant};
use crate::data::EncodedDataset;
use crate::model::layers::{ApgLayer, Head, Matrix};
use crate::model::{Layer, Model};

/// Rows run through the model at once.
const CHUNK: usize = 4096;

/// One generator's outputs: each head's values, rows x size.
pub type Heads = Vec<(Head, Vec<f32>)>;

/// What one APG layer generated for each row asked for.
#[derive(Debug, Clone)]
pub struct LayerParts {
    /// The tower layer's index (the `towerN` of its parameters).
    pub layer: usize,
    pub variant: Variant,
    pub n_in: usize,
    pub n_out: usize,
    /// K.
    pub rank: usize,
    /// One entry per generator (several when a mix-wise layer runs once per condition
    /// field): each head's output, rows x size, in the order of the rows asked for.
    pub generators: Vec<Heads>,
    /// U (N_in x K) and V (K x N_out) of v4 and v5 (v5's multiplied out), row-major.
    pub shared_uv: Option<(Vec<f32>, Vec<f32>)>,
}

impl LayerParts {
    /// The size of one row's output of `head`.
    pub fn head_size(&self, head: Head) -> usize {
        let (n, m, k) = (self.n_in, self.n_out, self.rank);
        match head {
            Head::Core => k * k,
            Head::Bias => m,
            Head::Left => n * k,
            Head::Right => k * m,
            Head::Full => n * m,
        }
    }

    /// Generator `g`'s output of `head` for every row, if it has that head.
    pub fn head(&self, g: usize, head: Head) -> Option<&[f32]> {
        self.generators.get(g)?.iter().find(|(h, _)| *h == head).map(|(_, v)| v.as_slice())
    }
}

impl<D: Device<f32>> Model<D> {
    /// Whether the model has APG layers.
    pub fn apg_layers(&self) -> Vec<usize> {
        (0..self.tower.len()).filter(|&i| matches!(self.tower[i], Layer::Apg { .. })).collect()
    }

    /// What every APG layer generated for `rows` of `dataset` (at inference: no dropout,
    /// batch norm's running statistics).
    pub fn generated_parts(&self, dataset: &EncodedDataset, rows: &[u32]) -> Vec<LayerParts> {
        let mut out: Vec<LayerParts> = self
            .tower
            .iter()
            .enumerate()
            .filter_map(|(i, layer)| match layer {
                Layer::Apg { layer, .. } => Some(LayerParts {
                    layer: i,
                    variant: layer.variant,
                    n_in: layer.n_in,
                    n_out: layer.n_out,
                    rank: layer.rank,
                    generators: layer
                        .generators
                        .iter()
                        .map(|g| g.heads.iter().map(|(head, _)| (*head, Vec::new())).collect())
                        .collect(),
                    shared_uv: matches!(layer.variant, Variant::V4 | Variant::V5).then(|| {
                        let (u, v) = layer.shared_uv::<D, NoneTape>(&self.params);
                        (u.as_vec(), v.as_vec())
                    }),
                }),
                Layer::Dense(_) => None,
            })
            .collect();
        for chunk in rows.chunks(CHUNK) {
            for (parts, generated) in out.iter_mut().zip(self.generated_chunk(dataset, chunk)) {
                for (into, from) in parts.generators.iter_mut().zip(generated) {
                    for ((_, values), (_, more)) in into.iter_mut().zip(from) {
                        values.extend(more);
                    }
                }
            }
        }
        out
    }

    /// Per APG layer, per generator, per head: the outputs for `rows`, in their order.
    fn generated_chunk(&self, dataset: &EncodedDataset, rows: &[u32]) -> Vec<Vec<Heads>> {
        let batch = self.batch(dataset, rows);
        let device_batch = self.to_device(&batch);
        let params = &self.params;
        let apg = |i: usize| -> &ApgLayer {
            match &self.tower[i] {
                Layer::Apg { layer, .. } => layer,
                Layer::Dense(_) => unreachable!("only APG layers are probed"),
            }
        };
        // Each generator's outputs, one row per batch row (batch order).
        let per_batch_row: Vec<Vec<Heads>> = if self.condition_mode == Some(ConditionMode::SelfWise) {
            // The condition of a self-wise layer is its own input.
            let mut inputs: Vec<(usize, Matrix<D, NoneTape>)> = Vec::new();
            let wanted = self.apg_layers();
            let _ = self.forward_probed::<NoneTape>(&device_batch, false, &mut |i, h| {
                if wanted.contains(&i) {
                    inputs.push((i, h.clone()));
                }
            });
            inputs
                .into_iter()
                .map(|(i, h)| {
                    let heads = apg(i).generators[0].forward(params, h, false);
                    vec![heads.into_iter().map(|(head, t)| (head, t.as_vec())).collect()]
                })
                .collect()
        } else {
            let z: Vec<Matrix<D, NoneTape>> = self
                .conditions
                .iter()
                .zip(&device_batch.conditions)
                .map(|(input, cb)| self.aggregate(input, cb.z.clone()))
                .collect();
            self.apg_layers()
                .into_iter()
                .map(|i| {
                    apg(i)
                        .generators
                        .iter()
                        .zip(&z)
                        .zip(&batch.conditions)
                        .map(|((generator, z), condition)| {
                            // One output per distinct condition, spread to its rows.
                            generator
                                .forward(params, z.clone(), false)
                                .into_iter()
                                .map(|(head, t)| {
                                    let size = t.shape().1;
                                    let distinct = t.as_vec();
                                    let rows: Vec<f32> = condition
                                        .index
                                        .iter()
                                        .flat_map(|&c| distinct[c * size..(c + 1) * size].iter().copied())
                                        .collect();
                                    (head, rows)
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect()
        };
        // Back to the order of the rows asked for.
        per_batch_row
            .into_iter()
            .map(|generators| {
                generators
                    .into_iter()
                    .map(|heads| {
                        heads
                            .into_iter()
                            .map(|(head, values)| {
                                let size = values.len() / rows.len().max(1);
                                let mut ordered = vec![0f32; values.len()];
                                for (j, &position) in batch.order.iter().enumerate() {
                                    ordered[position * size..(position + 1) * size]
                                        .copy_from_slice(&values[j * size..(j + 1) * size]);
                                }
                                (head, ordered)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }
}
