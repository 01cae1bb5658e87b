//! Batches: the host side gathers embedding rows into the tower input, the linear
//! (wide) terms and the distinct condition embeddings; after the backward pass the
//! gradients of those leaves flow back into the touched embedding rows.

use dfdx::prelude::*;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::config::experiment::EmbeddingOptimizer;
use crate::data::{Column, EncodedDataset};
use crate::model::layers::Matrix;
use crate::model::params::AdamSettings;
use crate::model::{InputKind, Model};

/// The distinct conditions of a batch for one generator.
#[derive(Debug, Clone, Default)]
pub struct ConditionBatch {
    /// Condition ids (one per condition field) of each distinct condition.
    pub keys: Vec<Vec<u32>>,
    /// Their embeddings side by side: G x (fields x width).
    pub z: Vec<f32>,
    /// For every row, which distinct condition it has.
    pub index: Vec<usize>,
    /// When the batch is sorted by condition: `(start, len)` of each condition's rows.
    pub segments: Option<Vec<(usize, usize)>>,
}

/// A batch on the host.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Dataset rows, in batch order (sorted by condition when there is one condition
    /// input, so that each condition's rows are contiguous).
    pub rows: Vec<u32>,
    /// For each batch row, its position in the rows asked for.
    pub order: Vec<usize>,
    /// B x input width: embeddings (multi-valued fields averaged), then numbers.
    pub x0: Vec<f32>,
    /// B x fields: the linear terms of WDL / DeepFM.
    pub wide: Option<Vec<f32>>,
    pub labels: Vec<f32>,
    pub conditions: Vec<ConditionBatch>,
}

pub struct DeviceCondition<D: Device<f32>> {
    pub z: Matrix<D, NoneTape>,
    pub index: Tensor<(usize,), usize, D>,
    pub segments: Option<Vec<(usize, usize)>>,
}

/// A batch as leaf tensors on the device.
pub struct DeviceBatch<D: Device<f32>> {
    pub size: usize,
    pub x0: Matrix<D, NoneTape>,
    pub wide: Option<Matrix<D, NoneTape>>,
    pub labels: Matrix<D, NoneTape>,
    pub conditions: Vec<DeviceCondition<D>>,
}

fn ids(column: &Column) -> &[u32] {
    match column {
        Column::Ids(ids) => ids,
        _ => panic!("condition and single fields hold one id per row"),
    }
}

impl<D: Device<f32>> Model<D> {
    /// Gathers the rows `rows` of `dataset` into a host batch. With one condition input
    /// the rows are reordered so that equal conditions are contiguous (the loss is a mean,
    /// so order does not matter; `order` maps back).
    pub fn batch(&self, dataset: &EncodedDataset, rows: &[u32]) -> Batch {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        if let [condition] = self.conditions.as_slice() {
            let columns: Vec<&[u32]> = condition.fields.iter().map(|f| ids(&dataset.fields[f.field].column)).collect();
            match columns.as_slice() {
                [column] => order.sort_by_key(|&i| column[rows[i] as usize]),
                _ => order.sort_by_cached_key(|&i| columns.iter().map(|c| c[rows[i] as usize]).collect::<Vec<u32>>()),
            }
        }
        let sorted: Vec<u32> = order.iter().map(|&i| rows[i]).collect();
        let mut batch = self.batch_in_order(dataset, &sorted);
        batch.order = order;
        if self.conditions.len() == 1 {
            let condition = &mut batch.conditions[0];
            let mut segments: Vec<(usize, usize)> = Vec::with_capacity(condition.keys.len());
            for (r, &g) in condition.index.iter().enumerate() {
                match segments.get_mut(g) {
                    Some(segment) => segment.1 += 1,
                    None => segments.push((r, 1)),
                }
            }
            condition.segments = Some(segments);
        }
        batch
    }

    fn batch_in_order(&self, dataset: &EncodedDataset, rows: &[u32]) -> Batch {
        let b = rows.len();
        let w = self.input_width;
        let mut x0 = vec![0f32; b * w];
        // Blocks of rows are gathered in parallel (each block fills whole rows of x0):
        // with large tables the gather waits on memory, and the matmul threads are idle.
        const BLOCK: usize = 128;
        let (inputs, tables) = (&self.inputs, &self.tables);
        x0.par_chunks_mut(BLOCK * w).zip(rows.par_chunks(BLOCK)).for_each(|(x0, rows)| {
            let mut offset = 0;
            for input in inputs {
                let column = &dataset.fields[input.field].column;
                match (&input.kind, column) {
                    (InputKind::Single { table }, Column::Ids(ids)) => tables[*table].gather(ids, rows, x0, w, offset),
                    (InputKind::Multi { table }, Column::Multi { offsets, ids }) => {
                        let table = &tables[*table];
                        for (r, &row) in rows.iter().enumerate() {
                            let values = &ids[offsets[row as usize] as usize..offsets[row as usize + 1] as usize];
                            let out = &mut x0[r * w + offset..r * w + offset + input.width];
                            for &id in values {
                                out.iter_mut().zip(table.row(id)).for_each(|(o, v)| *o += v / values.len() as f32);
                            }
                        }
                    }
                    (InputKind::Dense, Column::Dense(values)) => {
                        for (r, &row) in rows.iter().enumerate() {
                            x0[r * w + offset] = values[row as usize];
                        }
                    }
                    _ => panic!("input {} does not match its column", input.name),
                }
                offset += input.width;
            }
        });
        let wide = (!self.wide.is_empty()).then(|| {
            let f = self.wide.len();
            let mut wide = vec![0f32; b * f];
            for (j, &(input, table)) in self.wide.iter().enumerate() {
                let input = &self.inputs[input];
                let table = &self.tables[table];
                for (r, &row) in rows.iter().enumerate() {
                    wide[r * f + j] = match &dataset.fields[input.field].column {
                        Column::Ids(ids) => table.row(ids[row as usize])[0],
                        Column::Multi { offsets, ids } => {
                            let values = &ids[offsets[row as usize] as usize..offsets[row as usize + 1] as usize];
                            values.iter().map(|&id| table.row(id)[0]).sum::<f32>() / values.len().max(1) as f32
                        }
                        Column::Dense(_) => 0.0,
                    };
                }
            }
            wide
        });
        let conditions = self
            .conditions
            .iter()
            .map(|condition| {
                let columns: Vec<&[u32]> =
                    condition.fields.iter().map(|f| ids(&dataset.fields[f.field].column)).collect();
                let mut distinct: FxHashMap<Box<[u32]>, usize> = FxHashMap::default();
                let mut batch = ConditionBatch::default();
                let mut key: Vec<u32> = Vec::with_capacity(columns.len());
                for &row in rows {
                    key.clear();
                    key.extend(columns.iter().map(|c| c[row as usize]));
                    let g = match distinct.get(key.as_slice()) {
                        Some(&g) => g,
                        None => {
                            batch.keys.push(key.clone());
                            distinct.insert(key.as_slice().into(), batch.keys.len() - 1);
                            batch.keys.len() - 1
                        }
                    };
                    batch.index.push(g);
                }
                for key in &batch.keys {
                    for (field, &id) in condition.fields.iter().zip(key) {
                        batch.z.extend_from_slice(self.tables[field.table].row(id));
                    }
                }
                batch
            })
            .collect();
        let labels = rows.iter().map(|&r| dataset.labels[r as usize] as f32).collect();
        Batch { rows: rows.to_vec(), order: (0..b).collect(), x0, wide, labels, conditions }
    }

    /// Copies a host batch to the device as leaf tensors.
    pub fn to_device(&self, batch: &Batch) -> DeviceBatch<D> {
        let device = &self.params.device;
        let b = batch.rows.len();
        DeviceBatch {
            size: b,
            x0: device.tensor_from_vec(batch.x0.clone(), (b, self.input_width)),
            wide: batch.wide.as_ref().map(|wide| device.tensor_from_vec(wide.clone(), (b, self.wide.len()))),
            labels: device.tensor_from_vec(batch.labels.clone(), (b, 1)),
            conditions: self
                .conditions
                .iter()
                .zip(&batch.conditions)
                .map(|(condition, cb)| DeviceCondition {
                    z: device.tensor_from_vec(cb.z.clone(), (cb.keys.len(), condition.concat_width())),
                    index: device.tensor_from_vec(cb.index.clone(), (b,)),
                    segments: cb.segments.clone(),
                })
                .collect(),
        }
    }

    /// Sends the gradients of the batch's leaves into the embedding rows they came
    /// from, as pending gradients of the tables (see [`Model::step_embeddings`]).
    pub fn accumulate_embedding_gradients(
        &mut self,
        dataset: &EncodedDataset,
        batch: &Batch,
        device_batch: &DeviceBatch<D>,
        grads: &mut Gradients<f32, D>,
    ) -> Result<(), D::Err> {
        let gradient_of = |grads: &mut Gradients<f32, D>, leaf: &Matrix<D, NoneTape>| -> Result<Vec<f32>, D::Err> {
            if crate::model::fused::available::<D>() {
                // On the CPU the gradient is a host vector already: taken out (nothing
                // reads a leaf's gradient after this), not cloned and read out.
                return Ok(std::mem::take(crate::model::fused::gradient(grads, leaf)?));
            }
            grads.get_or_alloc_mut(leaf)?;
            Ok(grads.get(leaf).as_vec())
        };
        let rows = &batch.rows;
        let w = self.input_width;
        let x0_grad = gradient_of(grads, &device_batch.x0)?;
        let mut offset = 0;
        for input in &self.inputs {
            match (&input.kind, &dataset.fields[input.field].column) {
                (InputKind::Single { table }, Column::Ids(ids)) => {
                    const AHEAD: usize = 16;
                    for (r, &row) in rows.iter().enumerate() {
                        if let Some(&ahead) = rows.get(r + AHEAD) {
                            self.tables[*table].prefetch_slot(ids[ahead as usize]);
                        }
                        self.tables[*table].accumulate(
                            ids[row as usize],
                            &x0_grad[r * w + offset..r * w + offset + input.width],
                            1.0,
                        );
                    }
                }
                (InputKind::Multi { table }, Column::Multi { offsets, ids }) => {
                    for (r, &row) in rows.iter().enumerate() {
                        let values = &ids[offsets[row as usize] as usize..offsets[row as usize + 1] as usize];
                        for &id in values {
                            let slice = &x0_grad[r * w + offset..r * w + offset + input.width];
                            self.tables[*table].accumulate(id, slice, 1.0 / values.len() as f32);
                        }
                    }
                }
                _ => {}
            }
            offset += input.width;
        }
        if let Some(wide) = &device_batch.wide {
            let f = self.wide.len();
            let grad = gradient_of(grads, wide)?;
            for (j, &(input, table)) in self.wide.clone().iter().enumerate() {
                let field = self.inputs[input].field;
                for (r, &row) in rows.iter().enumerate() {
                    let g = [grad[r * f + j]];
                    match &dataset.fields[field].column {
                        Column::Ids(ids) => self.tables[table].accumulate(ids[row as usize], &g, 1.0),
                        Column::Multi { offsets, ids } => {
                            let values = &ids[offsets[row as usize] as usize..offsets[row as usize + 1] as usize];
                            for &id in values {
                                self.tables[table].accumulate(id, &g, 1.0 / values.len() as f32);
                            }
                        }
                        Column::Dense(_) => {}
                    }
                }
            }
        }
        if !self.detach_condition {
            for (c, (condition, cb)) in self.conditions.clone().iter().zip(&batch.conditions).enumerate() {
                let grad = gradient_of(grads, &device_batch.conditions[c].z)?;
                let stride = condition.concat_width();
                for (g, key) in cb.keys.iter().enumerate() {
                    let mut start = g * stride;
                    for ((field, &id), &width) in condition.fields.iter().zip(key).zip(&condition.field_widths) {
                        self.tables[field.table].accumulate(id, &grad[start..start + width], 1.0);
                        start += width;
                    }
                }
            }
        }
        Ok(())
    }

    /// One Adam step of every embedding table with its pending gradients: the touched
    /// rows (lazy Adam) or every row (dense Adam).
    pub fn step_embeddings(&mut self, settings: &AdamSettings, l2: f64, optimizer: EmbeddingOptimizer) {
        // The tables are independent: their updates run on the matmul threads.
        self.tables
            .par_iter_mut()
            .filter(|t| optimizer == EmbeddingOptimizer::Adam || t.touched() > 0)
            .for_each(|table| table.adam_step(settings, l2, optimizer));
    }

    /// Sum of squares of the pending embedding gradients.
    pub fn embedding_gradient_norm_sq(&self) -> f64 {
        self.tables.iter().map(|t| t.pending_norm_sq()).sum()
    }

    /// Multiplies the pending embedding gradients by `factor`.
    pub fn scale_embedding_gradients(&mut self, factor: f32) {
        self.tables.iter_mut().for_each(|t| t.scale_pending(factor));
    }
}
