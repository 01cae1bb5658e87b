//! APG models on dfdx with runtime shapes: embeddings off the tape, a deep tower whose
//! hidden layers can be APG layers conditioned group-, mix- or self-wise, and the base
//! models DNN, WDL, DeepFM, DCN and DCNv2 (docs/model.md).

pub mod batch;
pub mod checkpoint;
pub mod cost;
pub mod embedding;
pub mod fused;
pub mod kernels;
pub mod layers;
pub mod params;
pub mod probe;

use dfdx::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::config::experiment::{
    Aggregation, BaseModel, ConditionMode, InputAggregator, LoadedExperiment, OutputAggregator, Variant,
};
use crate::data::{Column, EncodedDataset};
use batch::DeviceBatch;
use embedding::EmbeddingTable;
use fused::Activation;
use layers::{ApgLayer, ApgSettings, BatchNorm, Condition, Dense, Matrix, MergedUv, Tp};
use params::{Init, P, ParamSet};

/// How many parameters a model has: reported in run summaries and the TUI.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ParamCounts {
    /// Dense (tower, APG, generator, cross, output) parameters.
    pub dense: usize,
    /// Embedding table entries (rows x width, all tables).
    pub embedding: usize,
}

/// How an input field enters the deep tower's input.
#[derive(Debug, Clone)]
pub enum InputKind {
    /// One id per row: its embedding row.
    Single { table: usize },
    /// Several ids per row: the mean of their embedding rows.
    Multi { table: usize },
    /// A standardised number: one column.
    Dense,
}

#[derive(Debug, Clone)]
pub struct InputField {
    pub name: String,
    /// Index of the field in the encoded dataset.
    pub field: usize,
    pub kind: InputKind,
    pub width: usize,
}

/// One condition field: where its ids come from and which table embeds them.
#[derive(Debug, Clone)]
pub struct ConditionField {
    pub name: String,
    pub field: usize,
    pub table: usize,
}

/// What one generator reads: one or more condition fields, aggregated at the input.
#[derive(Debug, Clone)]
pub struct ConditionInput {
    pub fields: Vec<ConditionField>,
    pub aggregator: InputAggregator,
    /// The learned query of attention aggregation.
    pub query: Option<P>,
    /// Width of each field's embedding (all equal unless concatenated).
    pub field_widths: Vec<usize>,
}

impl ConditionInput {
    /// Width of the fields' embeddings side by side: z before aggregation.
    pub fn concat_width(&self) -> usize {
        self.field_widths.iter().sum()
    }

    /// Width of z after aggregation.
    pub fn width(&self) -> usize {
        match self.aggregator {
            InputAggregator::Concat => self.concat_width(),
            InputAggregator::Mean | InputAggregator::Attention => self.field_widths[0],
        }
    }
}

pub enum Layer {
    Dense(Dense),
    Apg { layer: ApgLayer, output_weights: Option<P> },
}

/// A cross layer of DCN (w is W x 1) or DCNv2 (w is W x W).
pub struct Cross {
    pub weight: P,
    pub bias: P,
}

pub struct Model<D: Device<f32>> {
    pub base: BaseModel,
    pub params: ParamSet<D>,
    pub tables: Vec<EmbeddingTable>,
    pub inputs: Vec<InputField>,
    /// 1-wide tables of the linear (wide) part of WDL and DeepFM, one per input field.
    pub wide: Vec<(usize, usize)>,
    pub condition_mode: Option<ConditionMode>,
    pub conditions: Vec<ConditionInput>,
    pub output_aggregator: OutputAggregator,
    pub detach_condition: bool,
    pub tower: Vec<Layer>,
    /// Batch norms of each tower layer's pre-activation (one per condition output of an
    /// APG layer run under several conditions); empty lists without batch norm.
    pub norms: Vec<Vec<BatchNorm>>,
    pub cross: Vec<Cross>,
    pub output: Dense,
    pub dropout: f32,
    pub input_width: usize,
    /// Embedding part of the tower input (all fields of one width for DeepFM's FM).
    pub embedding_width: usize,
    /// U and V of v5 layers multiplied out for inference (None while training).
    merged: Vec<Option<MergedUv<D>>>,
}

/// Refuses, before anything is allocated, a model whose dense parameters, embedding
/// tables and Adam moments would not fit in memory: the experiment checks its dense part
/// when loaded, but the tables' rows are the encoded vocabularies, known only now.
fn check_memory(experiment: &LoadedExperiment, dataset: &EncodedDataset) -> Result<(), String> {
    let e = &experiment.experiment;
    let dense: f64 = experiment.dense_parameter_terms().iter().map(|(_, n)| n).sum();
    let inputs = experiment.input_fields();
    let vocab = |name: &str| {
        dataset.fields.iter().find(|f| f.info.name == name).map_or(0.0, |f| match f.column {
            Column::Dense(_) => 0.0,
            Column::Ids(_) | Column::Multi { .. } => f.info.vocab_size() as f64,
        })
    };
    let wide = if matches!(e.model.base, BaseModel::Wdl | BaseModel::Deepfm) { 1.0 } else { 0.0 };
    let mut entries: f64 = inputs.iter().map(|f| vocab(f) * (experiment.embedding_width(f) as f64 + wide)).sum();
    if e.apg.variant != Variant::Static {
        for name in &e.apg.condition.fields {
            if e.apg.condition.separate_embedding || !inputs.contains(name) {
                entries += vocab(name) * experiment.condition_width(name) as f64;
            }
        }
    }
    // Tables hold each entry and its two Adam moments in f32, as dense parameters do.
    let need = (dense + entries) * crate::limits::BYTES_PER_PARAMETER;
    crate::limits::fits(need).map_err(|limit| {
        format!(
            "{}: the model would need {} for {dense:.3e} dense parameters and {entries:.3e} embedding entries \
             with their Adam moments (12 bytes each), {limit}: lower model.embedding_dim (or model.embedding_dims), \
             raise the fields' min_count in the dataset descriptor to shrink the vocabularies, or narrow \
             model.hidden",
            experiment.file.display(),
            crate::limits::bytes(need)
        )
    })
}

impl<D: Device<f32>> Model<D> {
    /// Builds the model an experiment describes for a dataset, initialised from `seed`.
    pub fn new(experiment: &LoadedExperiment, dataset: &EncodedDataset, device: D, seed: u64) -> Result<Self, String> {
        let e = &experiment.experiment;
        check_memory(experiment, dataset)?;
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut params = ParamSet::new(device);
        let mut tables: Vec<EmbeddingTable> = Vec::new();
        let field_index = |name: &str| {
            dataset
                .fields
                .iter()
                .position(|f| f.info.name == name)
                .ok_or_else(|| format!("the dataset has no field `{name}`"))
        };

        let std = e.model.embedding_std;
        let mut inputs = Vec::new();
        for name in experiment.input_fields() {
            let field = field_index(&name)?;
            let encoded = &dataset.fields[field];
            let width = experiment.embedding_width(&name);
            let (kind, width) = match &encoded.column {
                Column::Dense(_) => (InputKind::Dense, 1),
                Column::Ids(_) | Column::Multi { .. } => {
                    tables.push(EmbeddingTable::new(&name, encoded.info.vocab_size(), width, std, &mut rng));
                    let table = tables.len() - 1;
                    let kind = if matches!(encoded.column, Column::Ids(_)) {
                        InputKind::Single { table }
                    } else {
                        InputKind::Multi { table }
                    };
                    (kind, width)
                }
            };
            inputs.push(InputField { name, field, kind, width });
        }
        // Embeddings first, numbers last, so the FM part is one contiguous block.
        inputs.sort_by_key(|f| matches!(f.kind, InputKind::Dense));
        let input_width: usize = inputs.iter().map(|f| f.width).sum();
        let embedding_width: usize =
            inputs.iter().filter(|f| !matches!(f.kind, InputKind::Dense)).map(|f| f.width).sum();

        let wide = if matches!(e.model.base, BaseModel::Wdl | BaseModel::Deepfm) {
            inputs
                .iter()
                .enumerate()
                .filter(|(_, f)| !matches!(f.kind, InputKind::Dense))
                .map(|(i, f)| {
                    tables.push(EmbeddingTable::new(
                        format!("{}.wide", f.name),
                        dataset.fields[f.field].info.vocab_size(),
                        1,
                        std,
                        &mut rng,
                    ));
                    (i, tables.len() - 1)
                })
                .collect()
        } else {
            Vec::new()
        };

        let apg = &e.apg;
        let uses_apg = apg.variant != Variant::Static;
        let condition_mode = uses_apg.then_some(apg.condition.mode);
        let mut conditions = Vec::new();
        if uses_apg && apg.condition.mode != ConditionMode::SelfWise {
            let condition_field = |name: &str,
                                   tables: &mut Vec<EmbeddingTable>,
                                   rng: &mut Pcg64|
             -> Result<ConditionField, String> {
                let field = field_index(name)?;
                let shared = inputs.iter().find(|f| f.name == name && matches!(f.kind, InputKind::Single { .. }));
                let table = match shared {
                    Some(InputField { kind: InputKind::Single { table }, .. }) if !apg.condition.separate_embedding => {
                        *table
                    }
                    _ => {
                        let vocab = dataset.fields[field].info.vocab_size();
                        tables.push(EmbeddingTable::new(
                            format!("{name}.condition"),
                            vocab,
                            experiment.condition_width(name),
                            std,
                            rng,
                        ));
                        tables.len() - 1
                    }
                };
                Ok(ConditionField { name: name.to_string(), field, table })
            };
            let fields: Vec<ConditionField> = apg
                .condition
                .fields
                .iter()
                .map(|name| condition_field(name, &mut tables, &mut rng))
                .collect::<Result<_, _>>()?;
            let output = apg.condition.mode == ConditionMode::Mix && apg.condition.aggregation == Aggregation::Output;
            let groups: Vec<Vec<ConditionField>> =
                if output { fields.into_iter().map(|f| vec![f]).collect() } else { vec![fields] };
            for (g, fields) in groups.into_iter().enumerate() {
                let field_widths: Vec<usize> = fields.iter().map(|f| tables[f.table].dim).collect();
                let aggregator = if fields.len() == 1 { InputAggregator::Concat } else { apg.condition.input_agg };
                if aggregator != InputAggregator::Concat && field_widths.windows(2).any(|w| w[0] != w[1]) {
                    return Err(format!(
                        "{aggregator:?} aggregation needs condition embeddings of one width; they are {field_widths:?}"
                    ));
                }
                let query = (aggregator == InputAggregator::Attention).then(|| {
                    params.add(format!("condition{g}.query"), &[field_widths[0]], Init::XavierNormal, &mut rng)
                });
                conditions.push(ConditionInput { fields, aggregator, query, field_widths });
            }
        }

        let settings = ApgSettings {
            variant: apg.variant,
            generator_hidden: apg.generator_hidden.clone(),
            generator_dropout: apg.generator_dropout as f32,
            generate_bias: apg.generate_bias,
            identity_init: apg.identity_init,
            init: apg.init,
        };
        let mut tower = Vec::new();
        let mut norms = Vec::new();
        let mut width = input_width;
        for (i, &hidden) in e.model.hidden.iter().enumerate() {
            let name = format!("tower{i}");
            let paths = match apg.condition.mode {
                _ if !experiment.is_apg_layer(i) => 1,
                ConditionMode::SelfWise => 1,
                _ => conditions.len(),
            };
            norms.push(if e.model.batch_norm {
                (0..paths).map(|g| BatchNorm::new(&mut params, &format!("{name}.norm{g}"), hidden, &mut rng)).collect()
            } else {
                Vec::new()
            });
            let layer = if experiment.is_apg_layer(i) {
                let widths: Vec<usize> = match apg.condition.mode {
                    ConditionMode::SelfWise => vec![width],
                    _ => conditions.iter().map(ConditionInput::width).collect(),
                };
                let layer = ApgLayer::new(
                    &mut params,
                    &name,
                    (width, hidden),
                    (experiment.rank(i), experiment.overparam(i)),
                    &settings,
                    &widths,
                    &mut rng,
                );
                let output_weights = (widths.len() > 1 && apg.condition.output_agg == OutputAggregator::Attention)
                    .then(|| params.add(format!("{name}.output_weights"), &[widths.len()], Init::Zeros, &mut rng));
                Layer::Apg { layer, output_weights }
            } else {
                Layer::Dense(Dense::new(&mut params, &name, width, hidden, true, &mut rng))
            };
            tower.push(layer);
            width = hidden;
        }
        let cross: Vec<Cross> = match e.model.base {
            BaseModel::Dcn | BaseModel::Dcnv2 => (0..e.model.cross_layers)
                .map(|i| {
                    let cols = if e.model.base == BaseModel::Dcn { 1 } else { input_width };
                    Cross {
                        weight: params.add(
                            format!("cross{i}.weight"),
                            &[input_width, cols],
                            Init::XavierNormal,
                            &mut rng,
                        ),
                        bias: params.add(format!("cross{i}.bias"), &[input_width], Init::Zeros, &mut rng),
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let output_width = if cross.is_empty() { width } else { width + input_width };
        let output = Dense::new(&mut params, "output", output_width, 1, true, &mut rng);
        let merged = (0..tower.len()).map(|_| None).collect();
        Ok(Model {
            base: e.model.base,
            params,
            tables,
            inputs,
            wide,
            condition_mode,
            conditions,
            output_aggregator: apg.condition.output_agg,
            detach_condition: apg.detach_condition,
            tower,
            norms,
            cross,
            output,
            dropout: e.model.dropout as f32,
            input_width,
            embedding_width,
            merged,
        })
    }

    /// Multiplies out U and V of every v5 layer, so inference costs what v4 costs.
    pub fn merge_for_inference(&mut self) {
        for (slot, layer) in self.merged.iter_mut().zip(&self.tower) {
            *slot = match layer {
                Layer::Apg { layer, .. } if layer.variant == Variant::V5 => {
                    Some(layer.shared_uv::<D, NoneTape>(&self.params))
                }
                _ => None,
            };
        }
    }

    /// Forgets merged U and V (after the parameters changed).
    pub fn unmerge(&mut self) {
        self.merged.iter_mut().for_each(|m| *m = None);
    }

    /// The logits (B, 1) of a batch. With `training`, dropout is active and merged
    /// weights are not used.
    pub fn forward<T: Tp<D>>(&self, batch: &DeviceBatch<D>, training: bool) -> Matrix<D, T> {
        self.forward_probed(batch, training, &mut |_, _| {})
    }

    /// [`Model::forward`], showing `probe` each tower layer's input (its index and the
    /// B x N_in matrix) before the layer runs: the weight inspector reads the inputs of
    /// self-wise APG layers, which are their conditions.
    fn forward_probed<T: Tp<D>>(
        &self,
        batch: &DeviceBatch<D>,
        training: bool,
        probe: &mut dyn FnMut(usize, &Matrix<D, T>),
    ) -> Matrix<D, T> {
        let b = batch.size;
        let params = &self.params;
        let x0: Matrix<D, T> = batch.x0.retaped::<T>();

        // Condition inputs, aggregated once and shared by every APG layer.
        let mut conditions: Vec<Option<Matrix<D, T>>> = self
            .conditions
            .iter()
            .zip(&batch.conditions)
            .map(|(input, cb)| Some(self.aggregate(input, cb.z.retaped::<T>())))
            .collect();
        let apg_layers = self.tower.iter().filter(|l| matches!(l, Layer::Apg { .. })).count();
        let mut apg_seen = 0;

        let mut h = x0.with_empty_tape();
        for (i, layer) in self.tower.iter().enumerate() {
            probe(i, &h);
            h = match layer {
                // Without batch norm, the ReLU is part of the layer's fused operation.
                Layer::Dense(dense) if self.norms[i].is_empty() => dense.forward_act(params, h, Activation::Relu),
                Layer::Dense(dense) => self.normalize(i, 0, dense.forward(params, h), training).relu(),
                Layer::Apg { layer, output_weights } => {
                    apg_seen += 1;
                    let last_use = apg_seen == apg_layers;
                    let merged = if training { None } else { self.merged[i].as_ref() };
                    let act = if self.norms[i].is_empty() { Activation::Relu } else { Activation::Identity };
                    match self.condition_mode {
                        Some(ConditionMode::SelfWise) => {
                            let z = if self.detach_condition {
                                (h.retaped::<NoneTape>() * 1.0).retaped::<T>()
                            } else {
                                h.with_empty_tape()
                            };
                            let y = layer.forward_act(params, h, Condition::PerRow(z), 0, merged, training, act);
                            self.normalize_relu(i, 0, y, act, training)
                        }
                        _ => {
                            let count = conditions.len();
                            let mut input = Some(h);
                            let mut outputs = Vec::with_capacity(count);
                            for (g, slot) in conditions.iter_mut().enumerate() {
                                let z = if last_use {
                                    slot.take().expect("used until the last APG layer")
                                } else {
                                    slot.as_ref().expect("present").with_empty_tape()
                                };
                                let index = batch.conditions[g].index.clone();
                                let segments = batch.conditions[g].segments.clone();
                                // The last run takes the input with its tape; the others share it.
                                let x = if g + 1 == count {
                                    input.take().expect("present")
                                } else {
                                    input.as_ref().expect("present").with_empty_tape()
                                };
                                let condition = Condition::Grouped { z, index, segments };
                                let y = layer.forward_act(params, x, condition, g, merged, training, act);
                                outputs.push(self.normalize_relu(i, g, y, act, training));
                            }
                            self.aggregate_outputs(outputs, *output_weights, b, layer.n_out)
                        }
                    }
                }
            };
            if training && self.dropout > 0.0 {
                h = h.dropout(self.dropout);
            }
        }
        self.head(x0, h, batch)
    }

    /// Tower layer `layer`'s pre-activation on path `path`, batch-normalised when the
    /// model has batch norm.
    fn normalize<T: Tp<D>>(&self, layer: usize, path: usize, y: Matrix<D, T>, training: bool) -> Matrix<D, T> {
        match self.norms[layer].get(path) {
            Some(norm) => norm.forward(&self.params, y, training),
            None => y,
        }
    }

    /// The ReLU of a layer's output, batch-normalised first, unless the layer's own
    /// operation applied it already (`act`: then the layer has no batch norm).
    fn normalize_relu<T: Tp<D>>(
        &self,
        layer: usize,
        path: usize,
        y: Matrix<D, T>,
        act: Activation,
        training: bool,
    ) -> Matrix<D, T> {
        match act {
            Activation::Relu => y,
            Activation::Identity => self.normalize(layer, path, y, training).relu(),
        }
    }

    /// Folds the batch statistics of the last training forward pass into the running
    /// statistics of every batch norm.
    pub fn update_norm_statistics(&mut self) {
        for norm in self.norms.iter().flatten() {
            norm.update_statistics(&mut self.params);
        }
    }

    /// z of one generator from its condition fields' embeddings (G, c * d).
    fn aggregate<T: Tp<D>>(&self, input: &ConditionInput, z: Matrix<D, T>) -> Matrix<D, T> {
        let (groups, c, d) = (z.shape().0, input.fields.len(), input.field_widths[0]);
        match input.aggregator {
            InputAggregator::Concat => z,
            InputAggregator::Mean => {
                z.reshape_like(&(groups, c, d)).sum::<(usize, usize), Axis<1>>() * (1.0 / c as f32)
            }
            InputAggregator::Attention => {
                // A learned query scores each field's embedding; softmax; weighted sum.
                let z3 = z.reshape_like(&(groups, c, d));
                let query = self.params.vector::<T>(input.query.expect("attention has a query"));
                let scores =
                    (z3.with_empty_tape() * query.broadcast_like::<_, Axes2<0, 1>>(&(groups, c, d)))
                        .sum::<(usize, usize), Axis<2>>();
                let weights = scores.softmax::<Axis<1>>();
                (z3 * weights.broadcast_like::<_, Axis<2>>(&(groups, c, d))).sum::<(usize, usize), Axis<1>>()
            }
        }
    }

    /// Output aggregation of a layer run once per condition: mean, or a learned softmax
    /// weighting (docs/model.md, "Conditions"; the paper fixes no aggregator).
    fn aggregate_outputs<T: Tp<D>>(
        &self,
        outputs: Vec<Matrix<D, T>>,
        weights: Option<P>,
        b: usize,
        m: usize,
    ) -> Matrix<D, T> {
        let count = outputs.len();
        if count == 1 {
            return outputs.into_iter().next().expect("one output");
        }
        let stacked = outputs.stack();
        match weights {
            None => stacked.sum::<(usize, usize), Axis<0>>() * (1.0 / count as f32),
            Some(w) => {
                let w = self.params.vector::<T>(w).softmax::<Axis<0>>();
                (stacked * w.broadcast_like::<_, Axes2<1, 2>>(&(count, b, m))).sum::<(usize, usize), Axis<0>>()
            }
        }
    }

    /// The static parts on top of the tower: cross network, FM, wide part, output.
    fn head<T: Tp<D>>(&self, x0: Matrix<D, T>, h: Matrix<D, T>, batch: &DeviceBatch<D>) -> Matrix<D, T> {
        let b = batch.size;
        let params = &self.params;
        let w = self.input_width;
        let logit = match self.base {
            BaseModel::Dnn | BaseModel::Wdl => {
                drop(x0);
                self.output.forward(params, h)
            }
            BaseModel::Deepfm => {
                // FM: 0.5 * sum_d ((sum_f e_f)^2 - sum_f e_f^2) over the embedding block.
                let f = self.inputs.iter().filter(|i| !matches!(i.kind, InputKind::Dense)).count();
                let d = self.embedding_width / f.max(1);
                let e = if self.embedding_width == w { x0 } else { x0.slice((.., 0..self.embedding_width)) };
                let e = e.reshape_like(&(b, f, d));
                let sum_square =
                    e.with_empty_tape().sum::<(usize, usize), Axis<1>>().square().sum::<(usize,), Axis<1>>();
                let square_sum = e.square().sum::<(usize,), Axes2<1, 2>>();
                let fm = ((sum_square - square_sum) * 0.5).reshape_like(&(b, 1));
                self.output.forward(params, h) + fm
            }
            BaseModel::Dcn | BaseModel::Dcnv2 => {
                let mut x = x0.with_empty_tape();
                for (i, cross) in self.cross.iter().enumerate() {
                    let base = if i + 1 == self.cross.len() { None } else { Some(x0.with_empty_tape()) };
                    let x0_use = base.unwrap_or_else(|| x0.with_empty_tape());
                    let bias = params.vector::<T>(cross.bias).broadcast_like::<_, Axis<0>>(&(b, w));
                    let mixed = if self.base == BaseModel::Dcn {
                        // x_{l+1} = x0 * (x_l . w_l) + b_l + x_l
                        let dot = x.with_empty_tape().matmul(params.matrix::<T>(cross.weight)).reshape_like(&(b,));
                        x0_use * dot.broadcast_like::<_, Axis<1>>(&(b, w)) + bias
                    } else {
                        // x_{l+1} = x0 * (x_l W_l + b_l) + x_l
                        x0_use * (x.with_empty_tape().matmul(params.matrix::<T>(cross.weight)) + bias)
                    };
                    x = mixed + x;
                }
                drop(x0);
                self.output.forward(params, (x, h).concat_along(Axis::<1>))
            }
        };
        match &batch.wide {
            Some(wide) => {
                let linear = wide.retaped::<T>().sum::<(usize,), Axis<1>>().reshape_like(&(b, 1));
                logit + linear
            }
            None => logit,
        }
    }

    /// Dense parameters and embedding entries.
    pub fn param_counts(&self) -> ParamCounts {
        ParamCounts { dense: self.params.count(), embedding: self.tables.iter().map(EmbeddingTable::entries).sum() }
    }
}
