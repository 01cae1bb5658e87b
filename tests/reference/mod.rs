//! A plain-loop f64 reference of the model's forward pass, written from the model's
//! description (row vectors, weights stored N_in x N_out row-major, generator heads
//! reshaped row-major) without dfdx, plus the small dataset and helpers the reference
//! tests share.

use std::collections::HashMap;

use apg_bench::config::experiment::{
    Aggregation, BaseModel, ConditionMode, InputAggregator, LoadedExperiment, OutputAggregator, Variant,
};
use apg_bench::data::{self, Column, EncodedDataset, LoadOptions, LoadedDescriptor};
use apg_bench::model::Model;
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// Fields of the dataset, in descriptor order: categorical ones of different
/// vocabularies, one multi-valued field (with empty cells) and one scaled number.
pub const DESCRIPTOR: &str = r#"
name = "reference"
[source]
format = "csv"
dir = ["."]
path = "data.csv"
[label]
column = "click"
[[fields]]
name = "user"
kind = "categorical"
[[fields]]
name = "item"
kind = "categorical"
[[fields]]
name = "domain"
kind = "categorical"
[[fields]]
name = "device"
kind = "categorical"
[[fields]]
name = "tags"
kind = "multi_categorical"
[[fields]]
name = "price"
kind = "numeric"
transform = "scale"
[split]
ratios = [1.0, 0.0, 0.0]
"#;

pub const ROWS: usize = 160;
pub const USERS: usize = 20;

/// Writes the CSV and the descriptor into `dir`.
pub fn write_dataset(dir: &std::path::Path) {
    let mut rng = Pcg64::seed_from_u64(42);
    let mut csv = String::from("user,item,domain,device,tags,price,click\n");
    for _ in 0..ROWS {
        let tags: Vec<String> = (0..rng.gen_range(0..4)).map(|_| format!("t{}", rng.gen_range(0..5))).collect();
        csv += &format!(
            "u{},i{},d{},v{},{},{:.3},{}\n",
            rng.gen_range(0..USERS),
            rng.gen_range(0..15),
            rng.gen_range(0..3),
            rng.gen_range(0..4),
            tags.join("|"),
            rng.gen_range(0.0..50.0),
            rng.gen_range(0..2)
        );
    }
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    std::fs::write(dir.join("data.toml"), DESCRIPTOR).unwrap();
}

/// The experiment `text` (without its `dataset` line) and the dataset it names.
pub fn load(experiment: &str) -> (LoadedExperiment, EncodedDataset) {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let file = dir.path().join("e.toml");
    std::fs::write(&file, format!("dataset = \"data.toml\"\n{experiment}")).unwrap();
    let loaded = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}\n{experiment}"));
    let descriptor = LoadedDescriptor::from_file(&dir.path().join("data.toml")).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    assert_eq!(dataset.rows(), ROWS);
    (loaded, dataset)
}

pub fn uniform(n: usize, bound: f32, rng: &mut Pcg64) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
}

/// A model whose every dense parameter and embedding entry is drawn from U(-0.5, 0.5),
/// so that no zero-initialised bias, identity or symmetric start hides a wrong index.
/// Batch norms' running variances are drawn from U(0.5, 1.5) instead (a variance is
/// positive), so that neither the initial 1 nor a missing square root goes unnoticed.
pub fn random_model(experiment: &LoadedExperiment, dataset: &EncodedDataset, seed: u64) -> Model<Cpu> {
    let mut model = Model::new(experiment, dataset, Cpu::seed_from_u64(seed), seed).unwrap();
    let mut rng = Pcg64::seed_from_u64(seed + 1000);
    for param in &mut model.params.params {
        let mut values = uniform(param.len(), 0.5, &mut rng);
        if param.name.ends_with(".running_var") {
            values.iter_mut().for_each(|v| *v += 1.0);
        }
        param.tensor.copy_from(&values);
    }
    for table in &mut model.tables {
        table.weights = uniform(table.weights.len(), 0.5, &mut rng);
    }
    model
}

/// What the reference reads of the experiment.
#[derive(Clone)]
struct Spec {
    base: BaseModel,
    hidden: Vec<usize>,
    apg_layers: Vec<bool>,
    ranks: Vec<usize>,
    variant: Variant,
    mode: ConditionMode,
    fields: Vec<String>,
    aggregation: Aggregation,
    input_agg: InputAggregator,
    output_agg: OutputAggregator,
    generator_hidden: usize,
    generate_bias: bool,
    cross_layers: usize,
    batch_norm: bool,
}

/// Which statistics batch norm divides by.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Norm {
    /// The stored running mean and variance (evaluation).
    Running,
    /// Each column's mean and biased variance over the batch (training).
    Batch,
}

/// Added to the variance under the square root, and the weight of a batch in the
/// running statistics: PyTorch's `BatchNorm1d` defaults, written out here rather than
/// read from the model.
pub const NORM_EPS: f64 = 1e-5;
pub const NORM_MOMENTUM: f64 = 0.1;

/// The pre-activations (before batch norm) of tower layer `layer` on condition path
/// `path`, one vector per batch row.
pub struct PreActivation {
    pub layer: usize,
    pub path: usize,
    pub rows: Vec<Vec<f64>>,
}

impl PreActivation {
    /// Each column's mean and biased variance over the rows.
    pub fn statistics(&self) -> (Vec<f64>, Vec<f64>) {
        column_statistics(&self.rows)
    }
}

fn column_statistics(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let b = rows.len() as f64;
    let m = rows[0].len();
    let mean: Vec<f64> = (0..m).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / b).collect();
    let var = (0..m).map(|j| rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / b).collect();
    (mean, var)
}

/// An input field of the tower, in the order the reference expects: embedded fields in
/// descriptor order, then numbers.
#[derive(Clone)]
struct Input {
    name: String,
    field: usize,
    width: usize,
    dense: bool,
}

/// The model's values copied out in f64, by name.
#[derive(Clone)]
pub struct Reference {
    spec: Spec,
    inputs: Vec<Input>,
    params: HashMap<String, (Vec<usize>, Vec<f64>)>,
    /// Tables read on the input (and wide) path.
    pub input_tables: HashMap<String, (usize, Vec<f64>)>,
    /// Tables read on the condition path: the same values, kept apart so that a test
    /// can perturb one path only.
    pub condition_tables: HashMap<String, (usize, Vec<f64>)>,
    /// Condition field -> the table its embedding comes from.
    condition_table: HashMap<String, String>,
}

fn matmul(a: &[f64], (r, c): (usize, usize), b: &[f64], d: usize) -> Vec<f64> {
    assert_eq!(a.len(), r * c);
    assert_eq!(b.len(), c * d);
    let mut out = vec![0.0; r * d];
    for i in 0..r {
        for j in 0..d {
            out[i * d + j] = (0..c).map(|t| a[i * c + t] * b[t * d + j]).sum();
        }
    }
    out
}

fn relu(v: Vec<f64>) -> Vec<f64> {
    v.into_iter().map(|x| x.max(0.0)).collect()
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

impl Reference {
    pub fn new(experiment: &LoadedExperiment, model: &Model<Cpu>, dataset: &EncodedDataset) -> Self {
        let e = &experiment.experiment;
        let layers = e.model.hidden.len();
        let spec = Spec {
            base: e.model.base,
            hidden: e.model.hidden.clone(),
            apg_layers: (0..layers)
                .map(|i| e.apg.variant != Variant::Static && e.apg.layers.get(i).copied().unwrap_or(true))
                .collect(),
            ranks: (0..layers).map(|i| experiment.rank(i)).collect(),
            variant: e.apg.variant,
            mode: e.apg.condition.mode,
            fields: e.apg.condition.fields.clone(),
            aggregation: e.apg.condition.aggregation,
            input_agg: e.apg.condition.input_agg,
            output_agg: e.apg.condition.output_agg,
            generator_hidden: e.apg.generator_hidden.len(),
            generate_bias: e.apg.generate_bias,
            cross_layers: e.model.cross_layers,
            batch_norm: e.model.batch_norm,
        };
        let names: Vec<String> = if e.model.inputs.is_empty() {
            dataset.fields.iter().map(|f| f.info.name.clone()).collect()
        } else {
            e.model.inputs.clone()
        };
        let mut inputs: Vec<Input> = names
            .iter()
            .map(|name| {
                let field = dataset.fields.iter().position(|f| &f.info.name == name).unwrap();
                let dense = matches!(dataset.fields[field].column, Column::Dense(_));
                let width = if dense { 1 } else { experiment.embedding_width(name) };
                Input { name: name.clone(), field, width, dense }
            })
            .collect();
        inputs.sort_by_key(|i| i.dense);
        let params = model
            .params
            .params
            .iter()
            .map(|p| (p.name.clone(), (p.shape.clone(), p.tensor.as_vec().iter().map(|&v| v as f64).collect())))
            .collect();
        let tables: HashMap<String, (usize, Vec<f64>)> = model
            .tables
            .iter()
            .map(|t| (t.name.clone(), (t.dim, t.weights.iter().map(|&v| v as f64).collect())))
            .collect();
        let condition_table = spec
            .fields
            .iter()
            .map(|f| {
                let shared = !e.apg.condition.separate_embedding && inputs.iter().any(|i| &i.name == f);
                (f.clone(), if shared { f.clone() } else { format!("{f}.condition") })
            })
            .collect();
        Reference { spec, inputs, params, input_tables: tables.clone(), condition_tables: tables, condition_table }
    }

    fn param(&self, name: &str, shape: &[usize]) -> &[f64] {
        let (stored, values) = self.params.get(name).unwrap_or_else(|| panic!("no parameter {name}"));
        assert_eq!(stored.as_slice(), shape, "shape of {name}");
        values
    }

    /// x W + b of the dense layer `name`, W stored N_in x N_out.
    fn dense(&self, name: &str, x: &[f64], n_out: usize) -> Vec<f64> {
        let n_in = x.len();
        let w = self.param(&format!("{name}.weight"), &[n_in, n_out]);
        let b = self.param(&format!("{name}.bias"), &[n_out]);
        matmul(x, (1, n_in), w, n_out).iter().zip(b).map(|(y, b)| y + b).collect()
    }

    fn row<'a>(tables: &'a HashMap<String, (usize, Vec<f64>)>, table: &str, id: u32) -> &'a [f64] {
        let (dim, values) = tables.get(table).unwrap_or_else(|| panic!("no table {table}"));
        &values[id as usize * dim..(id as usize + 1) * dim]
    }

    fn ids(dataset: &EncodedDataset, field: usize, row: usize) -> Vec<u32> {
        match &dataset.fields[field].column {
            Column::Ids(ids) => vec![ids[row]],
            Column::Multi { offsets, ids } => ids[offsets[row] as usize..offsets[row + 1] as usize].to_vec(),
            Column::Dense(_) => panic!("a number has no ids"),
        }
    }

    /// Mean of the rows `ids` of `table` (zeros for no ids).
    fn mean_rows(tables: &HashMap<String, (usize, Vec<f64>)>, table: &str, ids: &[u32], dim: usize) -> Vec<f64> {
        let mut out = vec![0.0; dim];
        for &id in ids {
            for (o, v) in out.iter_mut().zip(Self::row(tables, table, id)) {
                *o += v / ids.len() as f64;
            }
        }
        out
    }

    /// The tower input of dataset row `row`.
    pub fn x0(&self, dataset: &EncodedDataset, row: usize) -> Vec<f64> {
        let mut x = Vec::new();
        for input in &self.inputs {
            if input.dense {
                let Column::Dense(values) = &dataset.fields[input.field].column else { unreachable!() };
                x.push(values[row] as f64);
            } else {
                let ids = Self::ids(dataset, input.field, row);
                x.extend(Self::mean_rows(&self.input_tables, &input.name, &ids, input.width));
            }
        }
        x
    }

    /// Embedding of condition field `name` for row `row`.
    fn condition(&self, dataset: &EncodedDataset, name: &str, row: usize) -> Vec<f64> {
        let field = dataset.fields.iter().position(|f| f.info.name == name).unwrap();
        let [id] = Self::ids(dataset, field, row)[..] else { panic!("a condition has one id") };
        Self::row(&self.condition_tables, &self.condition_table[name], id).to_vec()
    }

    /// z of the single generator of group- and input-aggregated mix conditions.
    fn aggregated_condition(&self, dataset: &EncodedDataset, row: usize) -> Vec<f64> {
        let embeddings: Vec<Vec<f64>> = self.spec.fields.iter().map(|f| self.condition(dataset, f, row)).collect();
        if embeddings.len() == 1 {
            return embeddings.into_iter().next().unwrap();
        }
        let d = embeddings[0].len();
        let weighted = |weights: &[f64]| -> Vec<f64> {
            (0..d).map(|j| embeddings.iter().zip(weights).map(|(e, w)| w * e[j]).sum()).collect()
        };
        match self.spec.input_agg {
            InputAggregator::Concat => embeddings.concat(),
            InputAggregator::Mean => weighted(&vec![1.0 / embeddings.len() as f64; embeddings.len()]),
            InputAggregator::Attention => {
                let query = self.param("condition0.query", &[d]);
                let scores: Vec<f64> =
                    embeddings.iter().map(|e| e.iter().zip(query).map(|(a, b)| a * b).sum()).collect();
                weighted(&softmax(&scores))
            }
        }
    }

    /// Pre-activation output of APG layer `layer` on input `x` under condition `z`, read
    /// by generator `g`: x W_i + b_i.
    fn apg_layer(&self, layer: usize, x: &[f64], z: &[f64], g: usize) -> Vec<f64> {
        let (n, m, k) = (x.len(), self.spec.hidden[layer], self.spec.ranks[layer]);
        let prefix = format!("tower{layer}.generator{g}");
        let mut h = z.to_vec();
        for i in 0..self.spec.generator_hidden {
            let name = format!("{prefix}.hidden{i}");
            let width = self.params[&format!("{name}.bias")].0[0];
            h = relu(self.dense(&name, &h, width));
        }
        let head = |name: &str, size: usize| self.dense(&format!("{prefix}.{name}"), &h, size);
        let shared = |name: &str, shape: [usize; 2]| self.param(&format!("tower{layer}.{name}"), &shape).to_vec();
        let w = match self.spec.variant {
            Variant::Static => unreachable!(),
            Variant::V1 => head("full", n * m),
            Variant::V2 | Variant::V3 => {
                let us = matmul(&head("left", n * k), (n, k), &head("core", k * k), k);
                matmul(&us, (n, k), &head("right", k * m), m)
            }
            Variant::V4 => {
                let us = matmul(&shared("U", [n, k]), (n, k), &head("core", k * k), k);
                matmul(&us, (n, k), &shared("V", [k, m]), m)
            }
            Variant::V5 => {
                let p = self.params[&format!("tower{layer}.U_l")].0[1];
                let u = matmul(&shared("U_l", [n, p]), (n, p), &shared("U_r", [p, k]), k);
                let v = matmul(&shared("V_l", [k, p]), (k, p), &shared("V_r", [p, m]), m);
                let us = matmul(&u, (n, k), &head("core", k * k), k);
                matmul(&us, (n, k), &v, m)
            }
        };
        let bias = if self.spec.generate_bias {
            head("bias", m)
        } else {
            self.param(&format!("tower{layer}.bias"), &[m]).to_vec()
        };
        matmul(x, (1, n), &w, m).iter().zip(bias).map(|(y, b)| y + b).collect()
    }

    /// The logit of dataset row `row` (evaluation: batch norm by the running statistics).
    pub fn logit(&self, dataset: &EncodedDataset, row: usize) -> f64 {
        self.forward(dataset, &[row as u32], Norm::Running).0[0]
    }

    /// Batch norm of one layer's pre-activations `y` (one vector per row), in place.
    fn batch_norm(&self, layer: usize, path: usize, y: &mut [Vec<f64>], norm: Norm) {
        if !self.spec.batch_norm {
            return;
        }
        let m = y[0].len();
        let name = |what: &str| format!("tower{layer}.norm{path}.{what}");
        let (mean, var) = match norm {
            Norm::Running => {
                (self.param(&name("running_mean"), &[m]).to_vec(), self.param(&name("running_var"), &[m]).to_vec())
            }
            Norm::Batch => column_statistics(y),
        };
        let (gamma, beta) = (self.param(&name("gamma"), &[m]), self.param(&name("beta"), &[m]));
        for row in y {
            for j in 0..m {
                row[j] = (row[j] - mean[j]) / (var[j] + NORM_EPS).sqrt() * gamma[j] + beta[j];
            }
        }
    }

    /// The logits of dataset rows `rows`, seen as one batch (which matters only to batch
    /// norm with `Norm::Batch`), and every layer's pre-activations.
    pub fn forward(&self, dataset: &EncodedDataset, rows: &[u32], norm: Norm) -> (Vec<f64>, Vec<PreActivation>) {
        let x0: Vec<Vec<f64>> = rows.iter().map(|&r| self.x0(dataset, r as usize)).collect();
        let mut h = x0.clone();
        let mut trace = Vec::new();
        for (i, &m) in self.spec.hidden.iter().enumerate() {
            // One function per condition path: row index and its input -> pre-activation.
            type Path<'a> = Box<dyn Fn(usize, &[f64]) -> Vec<f64> + 'a>;
            let paths: Vec<Path> = if !self.spec.apg_layers[i] {
                vec![Box::new(move |_, x: &[f64]| self.dense(&format!("tower{i}"), x, m))]
            } else {
                match (self.spec.mode, self.spec.aggregation) {
                    (ConditionMode::SelfWise, _) => vec![Box::new(move |_, x: &[f64]| self.apg_layer(i, x, x, 0))],
                    (ConditionMode::Mix, Aggregation::Output) => (0..self.spec.fields.len())
                        .map(|g| -> Path {
                            Box::new(move |r, x: &[f64]| {
                                let z = self.condition(dataset, &self.spec.fields[g], rows[r] as usize);
                                self.apg_layer(i, x, &z, g)
                            })
                        })
                        .collect(),
                    _ => vec![Box::new(move |r, x: &[f64]| {
                        self.apg_layer(i, x, &self.aggregated_condition(dataset, rows[r] as usize), 0)
                    })],
                }
            };
            let outputs: Vec<Vec<Vec<f64>>> = paths
                .iter()
                .enumerate()
                .map(|(g, path)| {
                    let mut y: Vec<Vec<f64>> = h.iter().enumerate().map(|(r, x)| path(r, x)).collect();
                    trace.push(PreActivation { layer: i, path: g, rows: y.clone() });
                    self.batch_norm(i, g, &mut y, norm);
                    y.into_iter().map(relu).collect()
                })
                .collect();
            let count = outputs.len();
            let weights = match self.spec.output_agg {
                _ if count == 1 => vec![1.0],
                OutputAggregator::Mean => vec![1.0 / count as f64; count],
                OutputAggregator::Attention => softmax(self.param(&format!("tower{i}.output_weights"), &[count])),
            };
            h = (0..rows.len())
                .map(|r| (0..m).map(|j| outputs.iter().zip(&weights).map(|(o, w)| w * o[r][j]).sum()).collect())
                .collect();
        }
        let logits = rows.iter().enumerate().map(|(r, &row)| self.head(dataset, row as usize, &x0[r], &h[r])).collect();
        (logits, trace)
    }

    /// The logit of dataset row `row` from its tower input `x0` and the tower's output `h`.
    fn head(&self, dataset: &EncodedDataset, row: usize, x0: &[f64], h: &[f64]) -> f64 {
        let h = h.to_vec();
        let w = x0.len();
        let mut logit = match self.spec.base {
            BaseModel::Dnn | BaseModel::Wdl => self.dense("output", &h, 1)[0],
            BaseModel::Deepfm => {
                let embedded: Vec<&Input> = self.inputs.iter().filter(|i| !i.dense).collect();
                let d = embedded[0].width;
                let mut fm = 0.0;
                for j in 0..d {
                    let column: Vec<f64> = (0..embedded.len()).map(|f| x0[f * d + j]).collect();
                    let sum: f64 = column.iter().sum();
                    fm += sum * sum - column.iter().map(|v| v * v).sum::<f64>();
                }
                self.dense("output", &h, 1)[0] + 0.5 * fm
            }
            BaseModel::Dcn | BaseModel::Dcnv2 => {
                let mut x = x0.to_vec();
                for l in 0..self.spec.cross_layers {
                    let b = self.param(&format!("cross{l}.bias"), &[w]);
                    x = if self.spec.base == BaseModel::Dcn {
                        let wl = self.param(&format!("cross{l}.weight"), &[w, 1]);
                        let dot: f64 = x.iter().zip(wl).map(|(a, b)| a * b).sum();
                        (0..w).map(|j| x0[j] * dot + b[j] + x[j]).collect()
                    } else {
                        let wl = self.param(&format!("cross{l}.weight"), &[w, w]);
                        let xw = matmul(&x, (1, w), wl, w);
                        (0..w).map(|j| x0[j] * (xw[j] + b[j]) + x[j]).collect()
                    };
                }
                self.dense("output", &[x, h].concat(), 1)[0]
            }
        };
        if matches!(self.spec.base, BaseModel::Wdl | BaseModel::Deepfm) {
            for input in self.inputs.iter().filter(|i| !i.dense) {
                let ids = Self::ids(dataset, input.field, row);
                logit += Self::mean_rows(&self.input_tables, &format!("{}.wide", input.name), &ids, 1)[0];
            }
        }
        logit
    }

    /// Mean binary cross-entropy of `rows`.
    pub fn loss(&self, dataset: &EncodedDataset, rows: &[u32]) -> f64 {
        rows.iter()
            .map(|&r| {
                let (z, y) = (self.logit(dataset, r as usize), dataset.labels[r as usize] as f64);
                z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
            })
            .sum::<f64>()
            / rows.len() as f64
    }

    /// Value of dense parameter `name` (for gradients by finite differences).
    pub fn param_mut(&mut self, name: &str) -> &mut Vec<f64> {
        &mut self.params.get_mut(name).unwrap_or_else(|| panic!("no parameter {name}")).1
    }
}

/// Central difference of `f` at 0, in f64: with steps of 1e-6 on values of order 1 its
/// error is far below the f32 rounding of the model it is compared with.
pub fn central_difference(mut f: impl FnMut(f64) -> f64) -> f64 {
    let h = 1e-6;
    (f(h) - f(-h)) / (2.0 * h)
}

/// Whether `actual` (the f32 model) is within 1e-5 of `expected` relatively, plus 1e-6
/// absolutely for values near zero.
pub fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-5 * expected.abs() + 1e-6
}
