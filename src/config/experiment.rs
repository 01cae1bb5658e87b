//! Experiment files (`workspaces/*/experiments/*.toml`): dataset, model, APG settings
//! with the condition, training and metrics. Every key has a default and is validated
//! against the dataset's fields, with errors naming file, line, column and key path.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Device, parse_toml};
use crate::data::descriptor::{DEFAULT_DATASET, FieldKind, LoadedDescriptor};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Defaults to the file's stem.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Descriptor path (relative to the experiment file) or built-in name.
    #[serde(default = "default_dataset")]
    pub dataset: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// `cpu`, or `cuda[:N]` in builds with the `cuda` feature.
    #[serde(default)]
    pub device: Device,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub apg: ApgSpec,
    #[serde(default)]
    pub train: TrainSpec,
    #[serde(default)]
    pub metrics: MetricsSpec,
}

fn default_dataset() -> String {
    DEFAULT_DATASET.into()
}
fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseModel {
    /// Embeddings -> MLP -> logit.
    #[default]
    Dnn,
    /// Wide (per-feature linear terms) & deep.
    Wdl,
    /// FM second-order interactions + linear terms + deep.
    Deepfm,
    /// Cross network v1 beside the deep tower.
    Dcn,
    /// Cross network v2 (full-matrix cross layers) beside the deep tower.
    Dcnv2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSpec {
    pub base: BaseModel,
    /// Input fields; empty = every non-derived field of the dataset.
    pub inputs: Vec<String>,
    pub embedding_dim: usize,
    /// Per-field embedding widths overriding `embedding_dim`.
    pub embedding_dims: std::collections::BTreeMap<String, usize>,
    /// Widths of the deep tower's hidden layers.
    pub hidden: Vec<usize>,
    pub dropout: f64,
    /// Cross layers of dcn / dcnv2.
    pub cross_layers: usize,
    /// Standard deviation of the normal initial embedding values (docs/model.md,
    /// "Initialisation").
    pub embedding_std: f64,
    /// Batch normalisation of every tower layer's pre-activation.
    pub batch_norm: bool,
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            base: BaseModel::Dnn,
            inputs: Vec::new(),
            embedding_dim: 16,
            embedding_dims: Default::default(),
            hidden: vec![256, 128, 64],
            dropout: 0.0,
            cross_layers: 2,
            embedding_std: DEFAULT_EMBEDDING_STD,
            batch_norm: false,
        }
    }
}

/// Default of `model.embedding_std` (docs/accuracy.md has the measurements behind it).
pub const DEFAULT_EMBEDDING_STD: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Plain dense layers: the base model.
    #[default]
    Static,
    /// The full weight matrix generated per instance (ablation only; slow).
    V1,
    /// U_i, S_i, V_i generated, W_i rebuilt.
    V2,
    /// U_i, S_i, V_i generated, applied as ((x U_i) S_i) V_i.
    V3,
    /// S_i generated, U and V shared.
    V4,
    /// v4 with over-parameterised U = U_l U_r and V = V_l V_r (merged for inference).
    V5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConditionMode {
    /// One categorical field's embedding.
    #[default]
    Group,
    /// Several fields, aggregated at the input or the output.
    Mix,
    /// Each layer's own input.
    #[serde(rename = "self")]
    SelfWise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// One generator over the aggregated condition embeddings.
    #[default]
    Input,
    /// One generator (and S) per condition field; layer outputs aggregated.
    Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputAggregator {
    #[default]
    Concat,
    Mean,
    Attention,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputAggregator {
    #[default]
    Mean,
    Attention,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConditionSpec {
    pub mode: ConditionMode,
    /// Condition fields (group: exactly one; mix: two or more; self: none).
    pub fields: Vec<String>,
    pub aggregation: Aggregation,
    pub input_agg: InputAggregator,
    pub output_agg: OutputAggregator,
    /// Own embedding tables for the condition instead of the input embeddings.
    pub separate_embedding: bool,
    /// Width of separate condition embeddings (and of condition fields that are not inputs).
    pub embedding_dim: usize,
}

impl Default for ConditionSpec {
    fn default() -> Self {
        ConditionSpec {
            mode: ConditionMode::Group,
            fields: Vec::new(),
            aggregation: Aggregation::Input,
            input_agg: InputAggregator::Concat,
            output_agg: OutputAggregator::Mean,
            separate_embedding: false,
            embedding_dim: 16,
        }
    }
}

/// How the shared factors and generators of APG layers start (docs/model.md,
/// "Initialisation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApgInit {
    /// The generated W_i = U S_i V starts He-scaled (variance 2 / N_in), like a dense
    /// layer under ReLU: U ~ N(0, 1/N_in), V ~ N(0, 2/K), the generator's output bias
    /// ~ N(0, 1/K) and its output weights ~ N(0, 1/(K fan_in)).
    #[default]
    He,
    /// U and V Xavier-normal, generators initialised like PyTorch's `Linear`.
    Xavier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApgSpec {
    pub variant: Variant,
    /// K per hidden layer; one value applies to every layer.
    pub rank: Vec<usize>,
    /// P per hidden layer (v5); one value applies to every layer; empty = 2 K.
    pub overparam: Vec<usize>,
    /// Which hidden layers are APG; empty = all.
    pub layers: Vec<bool>,
    pub generator_hidden: Vec<usize>,
    pub generator_dropout: f64,
    pub generate_bias: bool,
    /// Start with S = I (the generator's output bias initialised to vec(I)).
    pub identity_init: bool,
    /// No gradient from the generator into the condition embeddings.
    pub detach_condition: bool,
    pub init: ApgInit,
    pub condition: ConditionSpec,
}

impl Default for ApgSpec {
    fn default() -> Self {
        ApgSpec {
            variant: Variant::Static,
            rank: vec![32, 16, 8],
            overparam: Vec::new(),
            layers: Vec::new(),
            generator_hidden: Vec::new(),
            generator_dropout: 0.0,
            generate_bias: true,
            identity_init: false,
            detach_condition: false,
            init: ApgInit::default(),
            condition: ConditionSpec::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Monitor {
    #[default]
    Auc,
    Logloss,
}

/// How embedding rows are optimised (docs/model.md, "Optimiser").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingOptimizer {
    /// Adam over every row at every step, as torch.optim.Adam with dense gradients: rows
    /// absent from a batch keep moving on their momentum and their moments decay.
    #[default]
    Adam,
    /// Adam on the rows of the batch only (torch's SparseAdam): a step costs the rows it
    /// touches, whatever the vocabulary.
    LazyAdam,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    pub batch_size: usize,
    pub epochs: usize,
    pub lr: f64,
    pub betas: [f64; 2],
    pub eps: f64,
    pub weight_decay: f64,
    pub embedding_l2: f64,
    pub embedding_optimizer: EmbeddingOptimizer,
    /// Rescale the gradient (dense and embedding parts together) to this global L2 norm
    /// when it is larger (0: no clipping).
    pub clip_norm: f64,
    /// After an evaluation without improvement, multiply the learning rate by this
    /// factor (1: constant learning rate). Never below 1e-6.
    pub lr_plateau_factor: f64,
    /// Validate every N steps as well as at epoch ends (0: epoch ends only).
    pub eval_every: usize,
    pub monitor: Monitor,
    /// Evaluations without improvement before stopping (0: never stop early).
    pub patience: usize,
    /// Stop after this many steps (0: no limit).
    pub max_steps: usize,
    pub shuffle: bool,
    /// Threads of the matrix kernels (0: all cores).
    pub threads: usize,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            batch_size: 1024,
            epochs: 3,
            lr: 1e-3,
            betas: [0.9, 0.999],
            eps: 1e-8,
            weight_decay: 0.0,
            embedding_l2: 0.0,
            embedding_optimizer: EmbeddingOptimizer::default(),
            clip_norm: 0.0,
            lr_plateau_factor: 1.0,
            eval_every: 0,
            monitor: Monitor::Auc,
            patience: 2,
            max_steps: 0,
            shuffle: true,
            threads: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSpec {
    /// Field GAUC averages over (e.g. the user); none: no GAUC.
    #[serde(deserialize_with = "empty_as_none", serialize_with = "none_as_empty")]
    pub gauc_field: Option<String>,
    /// Fields whose every value gets AUC / logloss / rows (e.g. user_activity).
    pub group_fields: Vec<String>,
    /// Run id to compute RelaImpr against; none: no RelaImpr.
    #[serde(deserialize_with = "empty_as_none", serialize_with = "none_as_empty")]
    pub baseline: Option<String>,
}

/// `""` in a file, as earlier versions wrote "none", reads as None.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok((!text.is_empty()).then_some(text))
}

/// None is written `""`: the files and config hashes of earlier runs stay as they were.
fn none_as_empty<S: serde::Serializer>(value: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.as_deref().unwrap_or_default())
}

/// An experiment file, parsed and checked, with the dataset descriptor it names.
#[derive(Debug, Clone)]
pub struct LoadedExperiment {
    pub experiment: Experiment,
    pub file: PathBuf,
    pub text: String,
    pub dataset: LoadedDescriptor,
}

impl LoadedExperiment {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::toml_error::read_file(path)?;
        Self::from_text(path, &text)
    }

    pub fn from_text(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let mut experiment: Experiment = parse_toml(file, text)?;
        if experiment.name.is_empty() {
            experiment.name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let reference = base.join(&experiment.dataset);
        let dataset = if reference.is_file() {
            LoadedDescriptor::from_file(&reference)?
        } else {
            LoadedDescriptor::open(&experiment.dataset).map_err(|e| {
                if e.file == Path::new(&experiment.dataset) {
                    ConfigError::at_key(file, text, "dataset", e.message)
                } else {
                    e
                }
            })?
        };
        let loaded = LoadedExperiment { experiment, file: file.to_path_buf(), text: text.to_string(), dataset };
        loaded.validate()?;
        Ok(loaded)
    }

    fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at_key(&self.file, &self.text, key, message)
    }

    /// Names of the dataset's fields and derived fields, with their kinds.
    fn dataset_fields(&self) -> Vec<(String, Option<FieldKind>)> {
        let d = &self.dataset.descriptor;
        d.fields
            .iter()
            .map(|f| (f.name.clone(), Some(f.kind)))
            .chain(d.derived.iter().map(|f| (f.name.clone(), None)))
            .collect()
    }

    /// The input fields: the listed ones, or every non-derived field.
    pub fn input_fields(&self) -> Vec<String> {
        let m = &self.experiment.model;
        if m.inputs.is_empty() {
            self.dataset.descriptor.fields.iter().map(|f| f.name.clone()).collect()
        } else {
            m.inputs.clone()
        }
    }

    /// K of hidden layer `layer`.
    pub fn rank(&self, layer: usize) -> usize {
        per_layer(&self.experiment.apg.rank, layer).unwrap_or(8)
    }

    /// P of hidden layer `layer` (default 2 K).
    pub fn overparam(&self, layer: usize) -> usize {
        // Saturating: a rank too large for its layer is reported by validation, which asks
        // for P before it checks K.
        per_layer(&self.experiment.apg.overparam, layer).unwrap_or(self.rank(layer).saturating_mul(2))
    }

    pub fn is_apg_layer(&self, layer: usize) -> bool {
        self.experiment.apg.variant != Variant::Static && self.experiment.apg.layers.get(layer).copied().unwrap_or(true)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let e = &self.experiment;
        let fields = self.dataset_fields();
        let has = |name: &str| fields.iter().any(|(n, _)| n == name);
        let names = || fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
        for (i, input) in e.model.inputs.iter().enumerate() {
            if !has(input) {
                return Err(self.error(
                    &format!("model.inputs[{i}]"),
                    format!("no field {input:?} in the dataset (fields: {})", names()),
                ));
            }
            if e.model.inputs[..i].contains(input) {
                return Err(self.error(&format!("model.inputs[{i}]"), format!("{input:?} is listed twice")));
            }
        }
        for name in e.model.embedding_dims.keys() {
            if !has(name) {
                return Err(self.error(
                    &format!("model.embedding_dims.{name}"),
                    format!("no field {name:?} in the dataset (fields: {})", names()),
                ));
            }
        }
        let dims = std::iter::once(("model.embedding_dim".to_string(), e.model.embedding_dim))
            .chain(e.model.embedding_dims.iter().map(|(k, v)| (format!("model.embedding_dims.{k}"), *v)))
            .chain(std::iter::once(("apg.condition.embedding_dim".to_string(), e.apg.condition.embedding_dim)));
        for (key, dim) in dims {
            if dim == 0 || dim > 4096 {
                return Err(self.error(&key, "embedding widths must be between 1 and 4096"));
            }
        }
        if e.model.base == BaseModel::Deepfm && e.model.embedding_dims.values().any(|&d| d != e.model.embedding_dim) {
            return Err(
                self.error("model.embedding_dims", "deepfm's FM part needs one embedding width for every field")
            );
        }
        if e.model.hidden.is_empty() || e.model.hidden.contains(&0) {
            return Err(self.error("model.hidden", "the deep tower needs at least one hidden layer, each wider than 0"));
        }
        Range::EMBEDDING_STD
            .check(e.model.embedding_std)
            .map_err(|message| self.error("model.embedding_std", message))?;
        Range::SHARE.check(e.model.dropout).map_err(|message| self.error("model.dropout", message))?;
        if matches!(e.model.base, BaseModel::Dcn | BaseModel::Dcnv2) && e.model.cross_layers == 0 {
            return Err(self.error("model.cross_layers", "dcn needs at least one cross layer"));
        }
        self.validate_apg()?;
        self.validate_memory()?;
        self.validate_train()?;
        for (i, field) in e.metrics.group_fields.iter().enumerate() {
            if !has(field) {
                return Err(self.error(
                    &format!("metrics.group_fields[{i}]"),
                    format!("no field {field:?} in the dataset (fields: {})", names()),
                ));
            }
        }
        if let Some(name) = &e.metrics.gauc_field {
            let problem = match fields.iter().find(|(n, _)| n == name) {
                None => Some(format!("no field {name:?} in the dataset (fields: {})", names())),
                Some((_, Some(FieldKind::MultiCategorical))) => {
                    Some(format!("{name:?} is multi-valued: GAUC needs one value per row"))
                }
                Some((_, Some(FieldKind::Numeric))) if self.numeric_is_scaled(name) => {
                    Some(format!("{name:?} is a scaled number: GAUC needs a categorical field"))
                }
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(self.error("metrics.gauc_field", problem));
            }
        }
        Ok(())
    }

    fn validate_apg(&self) -> Result<(), ConfigError> {
        let e = &self.experiment;
        let apg = &e.apg;
        if apg.variant == Variant::Static {
            return Ok(());
        }
        let layers = e.model.hidden.len();
        for (key, list) in [("apg.rank", &apg.rank), ("apg.overparam", &apg.overparam)] {
            if list.len() > 1 && list.len() != layers {
                return Err(
                    self.error(key, format!("give one value or one per hidden layer ({layers}), not {}", list.len()))
                );
            }
        }
        if apg.layers.len() > 1 && apg.layers.len() != layers {
            return Err(self.error("apg.layers", format!("give one flag per hidden layer ({layers})")));
        }
        let input_width = self.input_width();
        for layer in 0..layers {
            if !self.is_apg_layer(layer) {
                continue;
            }
            let n_in = if layer == 0 { input_width } else { e.model.hidden[layer - 1] };
            let n_out = e.model.hidden[layer];
            let (k, p) = (self.rank(layer), self.overparam(layer));
            let index = if apg.rank.len() > 1 { layer } else { 0 };
            if k == 0 || k > n_in.min(n_out) {
                return Err(self.error(
                    &format!("apg.rank[{index}]"),
                    format!("K = {k} must be between 1 and min(N_in, N_out) = min({n_in}, {n_out}) = {} for hidden layer {layer}", n_in.min(n_out)),
                ));
            }
            if apg.variant == Variant::V5 && p < k {
                let index = if apg.overparam.len() > 1 { layer } else { 0 };
                return Err(self.error(
                    &format!("apg.overparam[{index}]"),
                    format!("P = {p} must be at least K = {k} for hidden layer {layer}"),
                ));
            }
            if apg.variant == Variant::V1 && n_in.saturating_mul(n_out) > 1 << 20 {
                return Err(self.error(
                    "apg.variant",
                    format!("v1 would generate a {n_in} x {n_out} matrix per instance in hidden layer {layer}: use narrower layers (at most 2^20 weights)"),
                ));
            }
        }
        Range::SHARE.check(apg.generator_dropout).map_err(|message| self.error("apg.generator_dropout", message))?;
        if apg.generator_dropout > 0.0 && apg.generator_hidden.is_empty() {
            return Err(self.error(
                "apg.generator_dropout",
                "generator dropout acts on the generator's hidden layers, and apg.generator_hidden is empty: \
                 add a hidden layer or remove generator_dropout",
            ));
        }
        if let Some(i) = apg.generator_hidden.iter().position(|&h| h == 0 || h > 1 << 16) {
            return Err(self.error(
                &format!("apg.generator_hidden[{i}]"),
                "generator hidden layers must be between 1 and 65536 wide",
            ));
        }
        let condition = &apg.condition;
        let fields = self.dataset_fields();
        let wanted = match condition.mode {
            ConditionMode::Group if condition.fields.len() != 1 => Some("a group condition needs exactly one field"),
            ConditionMode::Mix if condition.fields.len() < 2 => Some("a mix condition needs two or more fields"),
            ConditionMode::SelfWise if !condition.fields.is_empty() => {
                Some("a self condition uses each layer's input and takes no fields")
            }
            _ => None,
        };
        if let Some(message) = wanted {
            return Err(self.error("apg.condition.fields", message));
        }
        for (i, name) in condition.fields.iter().enumerate() {
            let key = format!("apg.condition.fields[{i}]");
            match fields.iter().find(|(n, _)| n == name) {
                None => {
                    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(
                        self.error(&key, format!("no field {name:?} in the dataset (fields: {})", names.join(", ")))
                    );
                }
                Some((_, Some(FieldKind::MultiCategorical))) => {
                    return Err(
                        self.error(&key, format!("{name:?} is multi-valued: a condition needs one value per row"))
                    );
                }
                Some((_, Some(FieldKind::Numeric))) if self.numeric_is_scaled(name) => {
                    return Err(self.error(
                        &key,
                        format!("{name:?} is a scaled number: condition on a categorical or bucketised field"),
                    ));
                }
                _ => {}
            }
            if condition.fields[..i].contains(name) {
                return Err(self.error(&key, format!("{name:?} is listed twice")));
            }
        }
        if apg.detach_condition && condition.mode != ConditionMode::SelfWise {
            let inputs = self.input_fields();
            let own_table = |name: &String| condition.separate_embedding || !inputs.contains(name);
            if let Some(name) = condition.fields.iter().find(|name| own_table(name)) {
                return Err(self.error(
                    "apg.detach_condition",
                    format!(
                        "the condition field {name:?} has its own embedding table, which only the generator \
                         trains: detaching it would leave it at its random start. Detach only conditions \
                         that share the input embeddings (separate_embedding = false, the field among the inputs)"
                    ),
                ));
            }
        }
        if condition.mode == ConditionMode::Mix
            && condition.aggregation == Aggregation::Input
            && condition.input_agg != InputAggregator::Concat
        {
            let widths: Vec<usize> = condition.fields.iter().map(|f| self.condition_width(f)).collect();
            if widths.windows(2).any(|w| w[0] != w[1]) {
                return Err(self.error(
                    "apg.condition.input_agg",
                    format!("mean and attention need condition embeddings of one width; they are {widths:?}"),
                ));
            }
        }
        Ok(())
    }

    /// Refuses a model whose dense parameters and Adam moments could not be allocated,
    /// naming the key behind the largest part. Embedding tables depend on the encoded
    /// vocabularies and are checked when the model is built (`Model::new`).
    fn validate_memory(&self) -> Result<(), ConfigError> {
        let terms = self.dense_parameter_terms();
        let parameters: f64 = terms.iter().map(|(_, n)| n).sum();
        let need = parameters * crate::limits::BYTES_PER_PARAMETER;
        if let Err(limit) = crate::limits::fits(need) {
            let key = terms.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(key, _)| key.as_str()).unwrap_or("model");
            return Err(self.error(
                key,
                format!(
                    "the model's dense parameters and their Adam moments would need {} ({parameters:.3e} parameters \
                     x 12 bytes), {limit}: lower {key}",
                    crate::limits::bytes(need),
                ),
            ));
        }
        Ok(())
    }

    /// Estimated dense parameters of the model (tower, APG factors and generators, batch
    /// norms, cross layers, output), in parts, each with the key that sizes it most. In
    /// f64 so that no width, however large, overflows.
    pub fn dense_parameter_terms(&self) -> Vec<(String, f64)> {
        let e = &self.experiment;
        let apg = &e.apg;
        let input_width = self.input_width() as f64;
        let mut terms = Vec::new();
        // Widths of what each generator reads, one per condition group.
        let condition = &apg.condition;
        let group_width = |fields: &[String]| -> f64 {
            let widths: Vec<f64> = fields.iter().map(|f| self.condition_width(f) as f64).collect();
            match condition.input_agg {
                _ if widths.len() == 1 => widths[0],
                InputAggregator::Concat => widths.iter().sum(),
                InputAggregator::Mean | InputAggregator::Attention => widths.first().copied().unwrap_or(0.0),
            }
        };
        let condition_widths: Vec<f64> =
            if condition.mode == ConditionMode::Mix && condition.aggregation == Aggregation::Output {
                condition.fields.iter().map(|f| group_width(std::slice::from_ref(f))).collect()
            } else {
                vec![group_width(&condition.fields)]
            };
        let mut n_in = input_width;
        for (layer, &hidden) in e.model.hidden.iter().enumerate() {
            let n_out = hidden as f64;
            let mut keys = vec![(format!("model.hidden[{layer}]"), n_out)];
            if layer > 0 {
                keys.push((format!("model.hidden[{}]", layer - 1), n_in));
            }
            let paths = match condition.mode {
                ConditionMode::Group | ConditionMode::Mix if self.is_apg_layer(layer) => condition_widths.len(),
                _ => 1,
            };
            // Batch norm: gamma and beta, and two running statistics of the same size.
            let mut count = if e.model.batch_norm { 4.0 * n_out * paths as f64 } else { 0.0 };
            if self.is_apg_layer(layer) {
                let (k, p) = (self.rank(layer) as f64, self.overparam(layer) as f64);
                count += match apg.variant {
                    Variant::V4 => n_in * k + k * n_out,
                    Variant::V5 => n_in * p + 2.0 * p * k + p * n_out,
                    _ => 0.0,
                };
                if apg.variant == Variant::V5 {
                    let index = if apg.overparam.len() > 1 { layer } else { 0 };
                    keys.push((format!("apg.overparam[{index}]"), p));
                }
                let heads = match apg.variant {
                    Variant::Static => 0.0,
                    Variant::V1 => n_in * n_out,
                    Variant::V2 | Variant::V3 => n_in * k + k * k + k * n_out,
                    Variant::V4 | Variant::V5 => k * k,
                } + n_out;
                let widths =
                    if condition.mode == ConditionMode::SelfWise { vec![n_in] } else { condition_widths.clone() };
                for width in widths {
                    let mut from = width;
                    for &h in &apg.generator_hidden {
                        count += (from + 1.0) * h as f64;
                        from = h as f64;
                    }
                    count += (from + 1.0) * heads;
                }
            } else {
                count += n_in * n_out + n_out;
            }
            let key = keys.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(key, _)| key).unwrap_or_default();
            terms.push((key, count));
            n_in = n_out;
        }
        let cross_layers = e.model.cross_layers as f64;
        let cross_width = match e.model.base {
            BaseModel::Dcn => 1.0,
            BaseModel::Dcnv2 => input_width,
            _ => 0.0,
        };
        if cross_width > 0.0 {
            terms.push(("model.cross_layers".into(), cross_layers * (input_width * cross_width + input_width)));
            n_in += input_width;
        }
        terms.push(("model.hidden".into(), n_in + 1.0));
        terms
    }

    fn validate_train(&self) -> Result<(), ConfigError> {
        let t = &self.experiment.train;
        if t.batch_size == 0 || t.batch_size > 1 << 20 {
            return Err(self.error("train.batch_size", "batch_size must be between 1 and 1048576"));
        }
        if t.epochs == 0 {
            return Err(self.error("train.epochs", "epochs must be at least 1"));
        }
        let betas = [("train.betas[0]", t.betas[0]), ("train.betas[1]", t.betas[1])];
        let ranges = [("train.lr", t.lr, Range::LEARNING_RATE)]
            .into_iter()
            .chain(betas.map(|(key, beta)| (key, beta, Range::SHARE)))
            .chain([
                ("train.eps", t.eps, Range::ADAM_EPS),
                ("train.weight_decay", t.weight_decay, Range::NON_NEGATIVE),
                ("train.embedding_l2", t.embedding_l2, Range::NON_NEGATIVE),
                ("train.clip_norm", t.clip_norm, Range::NON_NEGATIVE),
                ("train.lr_plateau_factor", t.lr_plateau_factor, Range::FACTOR),
            ]);
        for (key, value, range) in ranges {
            range.check(value).map_err(|message| self.error(key, message))?;
        }
        // Checked here so that a run fails before its folder is made, not when the
        // trainer starts its thread pool.
        crate::limits::check_threads(t.threads)
            .map_err(|message| self.error("train.threads", format!("{message} (0: one per core)")))
    }

    fn numeric_is_scaled(&self, name: &str) -> bool {
        use crate::data::descriptor::NumericTransform;
        self.dataset.descriptor.fields.iter().any(|f| f.name == name && f.transform == Some(NumericTransform::Scale))
    }

    /// Embedding width of an input field.
    pub fn embedding_width(&self, field: &str) -> usize {
        self.experiment.model.embedding_dims.get(field).copied().unwrap_or(self.experiment.model.embedding_dim)
    }

    /// Width of a condition field's embedding: its input embedding when shared.
    pub fn condition_width(&self, field: &str) -> usize {
        let c = &self.experiment.apg.condition;
        if !c.separate_embedding && self.input_fields().iter().any(|f| f == field) {
            self.embedding_width(field)
        } else {
            c.embedding_dim
        }
    }

    /// Width of the deep tower's input: embeddings plus one column per scaled number.
    pub fn input_width(&self) -> usize {
        self.input_fields().iter().map(|f| if self.numeric_is_scaled(f) { 1 } else { self.embedding_width(f) }).sum()
    }
}

/// The values a float key accepts: finite numbers between two bounds, each included or
/// not, said in words for the error message.
#[derive(Debug, Clone, Copy)]
struct Range {
    low: f64,
    low_included: bool,
    high: f64,
    high_included: bool,
    /// Why the bounds are what they are, when that is not obvious.
    why: &'static str,
}

impl Range {
    /// Dropout rates and Adam's betas: a share that cannot be 1.
    const SHARE: Range = Range { low: 0.0, low_included: true, high: 1.0, high_included: false, why: "" };
    const NON_NEGATIVE: Range =
        Range { low: 0.0, low_included: true, high: f64::INFINITY, high_included: false, why: " (0: off)" };
    /// Adam moves each weight by about lr per step whatever the gradient's scale, and
    /// weights start well below 1 (docs/model.md, "Initialisation"): an lr above 10 can
    /// only be a typing mistake. Useful values are 1e-4 to 1e-2.
    const LEARNING_RATE: Range = Range {
        low: 0.0,
        low_included: false,
        high: 10.0,
        high_included: true,
        why: ": Adam moves each weight by about lr per step, so useful values are 1e-4 to 1e-2",
    };
    const FACTOR: Range =
        Range { low: 0.0, low_included: false, high: 1.0, high_included: true, why: " (1: constant learning rate)" };
    /// Adam divides by sqrt(v) + eps in 32-bit floats: an eps below 1e-30 is as good as 0
    /// there (5e-324 is 0 exactly), and one above 1 swamps every gradient.
    const ADAM_EPS: Range = Range {
        low: 1e-30,
        low_included: true,
        high: 1.0,
        high_included: true,
        why: ": Adam adds it in 32-bit floats, where smaller values round toward 0; the usual value is 1e-8",
    };
    /// All-zero embeddings start every value alike; a spread above 10 saturates the tower.
    const EMBEDDING_STD: Range = Range {
        low: 0.0,
        low_included: false,
        high: 10.0,
        high_included: true,
        why: " (the default 0.01 was measured best, docs/accuracy.md)",
    };

    /// Ok, or what the value must be and what it is.
    fn check(self, value: f64) -> Result<(), String> {
        let above_low = if self.low_included { value >= self.low } else { value > self.low };
        let below_high = if self.high_included { value <= self.high } else { value < self.high };
        if value.is_finite() && above_low && below_high {
            return Ok(());
        }
        let number = |x: f64| {
            // 1e-30 and 5e-324 read as such, not as 300 zeros.
            if x != 0.0 && x.is_finite() && !(1e-4..1e6).contains(&x.abs()) { format!("{x:e}") } else { x.to_string() }
        };
        let interval = match self.high {
            high if high.is_infinite() => {
                format!("a finite number {} {}", if self.low_included { ">=" } else { ">" }, number(self.low))
            }
            high => format!(
                "in {}{}, {}{}",
                if self.low_included { "[" } else { "(" },
                number(self.low),
                number(high),
                if self.high_included { "]" } else { ")" }
            ),
        };
        Err(format!("must be {interval}, not {}{}", number(value), self.why))
    }
}

fn per_layer(values: &[usize], layer: usize) -> Option<usize> {
    match values {
        [] => None,
        [one] => Some(*one),
        many => many.get(layer).copied(),
    }
}
