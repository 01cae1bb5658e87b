//! The training loop: load the data, build the model, train with Adam (dense
//! parameters) and row-wise Adam (embeddings), validate, stop early on the monitored
//! metric, keep the best model and test it. Runs on the trainer thread; everything it
//! has to say goes out as [`Event`]s.

use std::sync::mpsc::Sender;
use std::time::Instant;

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::config::experiment::{EmbeddingOptimizer, Monitor, TrainSpec};
use crate::data::{self, Column, EncodedDataset};
use crate::metrics;
use crate::model::Model;
use crate::model::params::AdamSettings;
use crate::train::order::EpochOrder;
use crate::train::trainer::{Control, TrainJob};
use crate::train::{EvalMetrics, Event, GroupMetrics, MetricsRecord, Phase, RunEnd, RunSummary};

/// Embedding entries above which a run with dense embedding Adam says what it costs.
const DENSE_ADAM_WARNING: usize = 20_000_000;

/// The learning rate decay on plateau never goes below this.
const MIN_LR: f64 = 1e-6;

/// Rows scored at once when evaluating.
const EVAL_BATCH: usize = 8192;

/// How far above its start the mean training loss of a progress window may rise before
/// the run is declared diverged (docs/model.md, "Divergence"): 10 ln 2 nats. A model that
/// predicts the base rate has a loss of at most ln 2; a mean loss of ln 2 + 10 ln 2 means
/// the true class gets a probability of 2^-11 on (geometric) average, far worse than any
/// model that learns.
const DIVERGENCE_MARGIN: f64 = 10.0 * std::f64::consts::LN_2;

/// The mean training loss above which a run whose first step lost `first_loss` has
/// diverged.
pub fn divergence_bound(first_loss: f64) -> f64 {
    first_loss.max(std::f64::consts::LN_2) + DIVERGENCE_MARGIN
}

/// Why a run diverged, with the keys that usually cause it.
fn divergence_reason(what: String, spec: &TrainSpec) -> String {
    format!(
        "{what}: the model diverged. Lower train.lr (now {:?}), or look at train.eps ({:?}), train.weight_decay \
         ({:?}), train.embedding_l2 ({:?}) and model.embedding_std; train.clip_norm bounds each step",
        spec.lr, spec.eps, spec.weight_decay, spec.embedding_l2
    )
}

/// A loss as a person reads it: four decimals, or three significant digits when huge.
fn loss_text(loss: f64) -> String {
    if loss.abs() < 1e4 { format!("{loss:.4}") } else { format!("{loss:.3e}") }
}

/// Trains `job`; an Err is a message for the user (the caller sends it as Failed).
pub fn train(job: &TrainJob, control: &Control, events: &Sender<Event>) -> Result<(), String> {
    let send = |event: Event| {
        let phase = match &event {
            Event::Phase { phase } => serde_json::to_value(phase).ok(),
            _ => None,
        };
        let _ = events.send(event);
        if let Some(serde_json::Value::String(phase)) = phase {
            crate::fault_point::reached(&phase);
        }
    };
    let log = |line: String| send(Event::Log { line });
    let threads = job.experiment.experiment.train.threads;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("cannot start {threads} threads: {e}"))?;

    send(Event::Phase { phase: Phase::LoadingData });
    let (dataset, report) = data::load(&job.experiment.dataset, &job.load).map_err(|e| e.to_string())?;
    log(format!(
        "dataset {}: {} rows ({} train / {} valid / {} test), {} in {:.0} ms",
        dataset.name,
        dataset.rows(),
        dataset.split.train.len(),
        dataset.split.valid.len(),
        dataset.split.test.len(),
        if report.from_cache { "from cache" } else { "encoded" },
        report.seconds * 1e3
    ));
    for warning in report.warnings {
        log(format!("warning: {warning}"));
    }
    crate::train::splits::check(&dataset, &job.experiment.dataset)?;
    match job.device {
        crate::config::Device::Cpu => {
            pool.install(|| train_on(job, &dataset, Cpu::seed_from_u64(job.seed), control, &send))
        }
        crate::config::Device::Cuda(ordinal) => train_on_cuda(job, &dataset, ordinal, control, &send),
    }
}

/// The dense tower on the GPU; embedding tables stay in host memory (see
/// `model::embedding`): only the rows of a batch travel.
#[cfg(feature = "cuda")]
fn train_on_cuda(
    job: &TrainJob,
    dataset: &EncodedDataset,
    ordinal: usize,
    control: &Control,
    send: &dyn Fn(Event),
) -> Result<(), String> {
    let cuda = dfdx::tensor::Cuda::try_build(ordinal, job.seed)
        .map_err(|e| format!("no usable GPU \"cuda:{ordinal}\" ({e:?}): train with --device cpu"))?;
    train_on(job, dataset, cuda, control, send)
}

#[cfg(not(feature = "cuda"))]
fn train_on_cuda(
    _: &TrainJob,
    _: &EncodedDataset,
    ordinal: usize,
    _: &Control,
    _: &dyn Fn(Event),
) -> Result<(), String> {
    Err(format!(
        "device \"cuda:{ordinal}\" needs a build with CUDA: cargo build --release --features cuda (see the README), or use --device cpu"
    ))
}

/// The metrics of the monitored kind, larger is better.
fn score(metrics: &EvalMetrics, monitor: Monitor) -> f64 {
    match monitor {
        Monitor::Auc => metrics.auc.unwrap_or(0.5),
        Monitor::Logloss => -metrics.logloss,
    }
}

fn train_on<D: Device<f32>>(
    job: &TrainJob,
    dataset: &EncodedDataset,
    device: D,
    control: &Control,
    send: &dyn Fn(Event),
) -> Result<(), String> {
    let log = |line: String| send(Event::Log { line });
    let spec = &job.experiment.experiment.train;
    send(Event::Phase { phase: Phase::Building });
    let mut model = Model::new(&job.experiment, dataset, device, job.seed)?;
    let counts = model.param_counts();
    let batch_size = spec.batch_size.min(dataset.split.train.len()).max(1);
    let steps_per_epoch = dataset.split.train.len().div_ceil(batch_size);
    let mut total_steps = steps_per_epoch * spec.epochs;
    if spec.max_steps > 0 {
        total_steps = total_steps.min(spec.max_steps);
    }
    log(format!(
        "model: {} dense parameters, {} embedding entries in {} tables",
        counts.dense,
        counts.embedding,
        model.tables.len()
    ));
    if spec.embedding_optimizer == EmbeddingOptimizer::Adam && counts.embedding > DENSE_ADAM_WARNING {
        log(format!(
            "note: dense embedding Adam updates all {} embedding entries at every step; with tables this large \
             train.embedding_optimizer = \"lazy_adam\" costs only the rows a batch touches (docs/model.md, \"Optimiser\")",
            counts.embedding
        ));
    }
    send(Event::Plan {
        total_steps,
        steps_per_epoch,
        params: counts.clone(),
        dataset_fingerprint: dataset.fingerprint.clone(),
    });
    send(Event::Phase { phase: Phase::Training });

    let mut settings = StepSettings::from_spec(spec);
    let start = Instant::now();
    let mut train_seconds = 0.0;
    let (mut step, mut loss_sum, mut loss_count, mut samples) = (0usize, 0.0f64, 0usize, 0usize);
    let mut window = (Instant::now(), 0usize);
    let report_every = (steps_per_epoch / 20).max(1);
    let mut best: Option<(f64, usize, EvalMetrics, Snapshot)> = None;
    let mut bad_evals = 0;
    let mut stopped_early = false;
    let mut stopped = false;
    let mut diverged: Option<String> = None;
    let mut first_loss: Option<f64> = None;
    let mut epochs_done = 0.0;

    'epochs: for epoch in 0..spec.epochs {
        let order = EpochOrder::new(&dataset.split.train, batch_size, spec.shuffle, job.seed, epoch);
        for (b, rows) in order.enumerate() {
            if wait_while_paused(control, send) {
                stopped = true;
                break 'epochs;
            }
            let step_start = Instant::now();
            let loss_value = train_step(&mut model, dataset, &rows, &settings)?;
            if !loss_value.is_finite() {
                diverged = Some(divergence_reason(
                    format!("the training loss became {loss_value} at step {}", step + 1),
                    spec,
                ));
                break 'epochs;
            }
            let first_loss = *first_loss.get_or_insert(loss_value);
            train_seconds += step_start.elapsed().as_secs_f64();
            step += 1;
            samples += rows.len();
            loss_sum += loss_value;
            loss_count += 1;
            epochs_done = epoch as f64 + (b + 1) as f64 / steps_per_epoch as f64;
            if step % report_every == 0 || b + 1 == steps_per_epoch {
                let window_samples = samples - window.1;
                let mean_loss = loss_sum / loss_count as f64;
                let record = MetricsRecord::Train {
                    step,
                    epoch,
                    loss: mean_loss,
                    samples_per_s: window_samples as f64 / window.0.elapsed().as_secs_f64().max(1e-9),
                    elapsed_s: start.elapsed().as_secs_f64(),
                };
                send(Event::Metrics { record });
                let bound = divergence_bound(first_loss);
                if mean_loss > bound {
                    let steps = match step + 1 - loss_count {
                        first if first == step => format!("step {step}"),
                        first => format!("steps {first}-{step}"),
                    };
                    diverged = Some(divergence_reason(
                        format!(
                            "the mean training loss of {steps} was {}, above {bound:.4} (the first step's \
                             {first_loss:.4}, at least ln 2, + 10 ln 2)",
                            loss_text(mean_loss)
                        ),
                        spec,
                    ));
                    break 'epochs;
                }
                (loss_sum, loss_count) = (0.0, 0);
                window = (Instant::now(), samples);
            }
            let end_of_epoch = b + 1 == steps_per_epoch;
            let last_step = spec.max_steps > 0 && step >= spec.max_steps;
            if end_of_epoch || last_step || (spec.eval_every > 0 && step % spec.eval_every == 0) {
                send(Event::Phase { phase: Phase::Evaluating });
                let valid = evaluate(&mut model, dataset, &dataset.split.valid, "valid", job);
                send(Event::Metrics {
                    record: MetricsRecord::Eval {
                        step,
                        epoch,
                        elapsed_s: start.elapsed().as_secs_f64(),
                        metrics: valid.clone(),
                    },
                });
                if valid.auc.is_some_and(f64::is_nan) || !valid.logloss.is_finite() {
                    // A step can leave the weights non-finite while its own loss was fine.
                    diverged = Some(divergence_reason(
                        format!("the validation scores were not finite numbers after step {step}"),
                        spec,
                    ));
                    break 'epochs;
                }
                let current = score(&valid, spec.monitor);
                if best.as_ref().is_none_or(|(s, ..)| current > *s) {
                    let snapshot = Snapshot::take(&model);
                    if let Some(path) = &job.checkpoint {
                        // A run that cannot save its best model fails rather than end
                        // with a checkpoint of another step than the one it reports.
                        crate::model::checkpoint::save(&model, path, step)
                            .map_err(|e| format!("could not save the checkpoint {}: {e}", path.display()))?;
                        send(Event::Checkpoint { step, path: path.clone() });
                    }
                    best = Some((current, step, valid, snapshot));
                    bad_evals = 0;
                } else {
                    bad_evals += 1;
                    if spec.lr_plateau_factor < 1.0 {
                        let lr = (settings.adam.lr * spec.lr_plateau_factor).max(MIN_LR.min(settings.adam.lr));
                        if lr < settings.adam.lr {
                            log(format!(
                                "no better validation {:?}: learning rate {:.3e} -> {lr:.3e}",
                                spec.monitor, settings.adam.lr
                            ));
                            settings.adam.lr = lr;
                        }
                    }
                }
                send(Event::Phase { phase: Phase::Training });
                // Throughput windows measure training only, not evaluation.
                window = (Instant::now(), samples);
                if spec.patience > 0 && bad_evals >= spec.patience {
                    log(format!(
                        "early stop at step {step}: no better validation {:?} in {bad_evals} evaluations",
                        spec.monitor
                    ));
                    stopped_early = true;
                    break 'epochs;
                }
            }
            if last_step {
                break 'epochs;
            }
        }
    }

    let samples_per_s = samples as f64 / train_seconds.max(1e-9);
    let (best_step, best_valid) = match best {
        Some((_, best_step, valid, snapshot)) => {
            snapshot.restore(&mut model);
            (Some(best_step), Some(valid))
        }
        None => (None, None),
    };
    let (status, phase, reason, test) = if let Some(reason) = diverged {
        // No test: the numbers of a diverged model mean nothing, and must not read as a result.
        log(reason.clone());
        (RunEnd::Diverged, Phase::Diverged, Some(reason), None)
    } else {
        send(Event::Phase { phase: Phase::Testing });
        // A run stopped before its first step has no model worth testing: its test metrics
        // would be those of random weights.
        let test = (step > 0 && !dataset.split.test.is_empty())
            .then(|| evaluate(&mut model, dataset, &dataset.split.test, "test", job));
        if let Some(test) = &test {
            send(Event::Metrics {
                record: MetricsRecord::Eval {
                    step,
                    epoch: epochs_done as usize,
                    elapsed_s: start.elapsed().as_secs_f64(),
                    metrics: test.clone(),
                },
            });
        }
        match stopped {
            true => (RunEnd::Stopped, Phase::Stopped, None, test),
            false => (RunEnd::Finished, Phase::Finished, None, test),
        }
    };
    send(Event::Phase { phase });
    let summary = RunSummary {
        status,
        reason,
        steps: step,
        epochs_done,
        best_step,
        best_valid,
        test,
        params: counts,
        train_seconds,
        samples_per_s,
        stopped_early,
        baseline: None,
    };
    send(Event::Finished { summary: Box::new(summary) });
    Ok(())
}

/// How one optimisation step updates the model.
#[derive(Debug, Clone, Copy)]
pub struct StepSettings {
    pub adam: AdamSettings,
    pub embedding_l2: f64,
    pub embedding_optimizer: EmbeddingOptimizer,
    /// Global gradient-norm clipping (0: off).
    pub clip_norm: f64,
}

impl StepSettings {
    pub fn from_spec(spec: &TrainSpec) -> Self {
        StepSettings {
            adam: AdamSettings { lr: spec.lr, betas: spec.betas, eps: spec.eps, weight_decay: spec.weight_decay },
            embedding_l2: spec.embedding_l2,
            embedding_optimizer: spec.embedding_optimizer,
            clip_norm: spec.clip_norm,
        }
    }
}

/// One optimisation step on `rows`: forward, backward, optional clipping of the whole
/// gradient, Adam on the dense parameters and on the embeddings. Returns the batch's
/// mean loss.
pub fn train_step<D: Device<f32>>(
    model: &mut Model<D>,
    dataset: &EncodedDataset,
    rows: &[u32],
    settings: &StepSettings,
) -> Result<f64, String> {
    let error = |e: D::Err| format!("{e:?}");
    let batch = model.batch(dataset, rows);
    let device_batch = model.to_device(&batch);
    let logits = model.forward::<OwnedTape<f32, D>>(&device_batch, true);
    let loss = dfdx::losses::binary_cross_entropy_with_logits_loss(logits, device_batch.labels.clone());
    let loss_value = loss.as_vec()[0] as f64;
    let mut grads = loss.backward();
    model.update_norm_statistics();
    model.accumulate_embedding_gradients(dataset, &batch, &device_batch, &mut grads).map_err(error)?;
    if settings.clip_norm > 0.0 {
        let norm =
            (model.params.gradient_norm_sq(&mut grads).map_err(error)? + model.embedding_gradient_norm_sq()).sqrt();
        if norm > settings.clip_norm {
            let factor = (settings.clip_norm / norm) as f32;
            model.params.scale_gradients(&mut grads, factor).map_err(error)?;
            model.scale_embedding_gradients(factor);
        }
    }
    model.params.adam_step(&mut grads, &settings.adam).map_err(error)?;
    model.step_embeddings(&settings.adam, settings.embedding_l2, settings.embedding_optimizer);
    model.unmerge();
    Ok(loss_value)
}

/// Click probabilities of one batch of `rows`, in the order of `rows` (call
/// [`Model::merge_for_inference`] first for merged v5 weights).
pub fn predict_batch<D: Device<f32>>(model: &Model<D>, dataset: &EncodedDataset, rows: &[u32]) -> Vec<f32> {
    // On the CPU a large batch runs as blocks of rows, each through the whole model on
    // one thread while its activations stay in the core's cache (an inference row does
    // not depend on the others: batch norm uses its running statistics). One pass over
    // 4,096 rows would stream every layer's output through memory instead.
    if let Some(model) = (model as &dyn std::any::Any).downcast_ref::<Model<Cpu>>()
        && rows.len() > 2 * INFERENCE_BLOCK
    {
        return rows.par_chunks(INFERENCE_BLOCK).flat_map_iter(|block| predict_rows(model, dataset, block)).collect();
    }
    predict_rows(model, dataset, rows)
}

/// Rows per block of a large CPU inference batch (see [`predict_batch`]).
const INFERENCE_BLOCK: usize = 512;

/// [`predict_batch`] in one forward pass.
fn predict_rows<D: Device<f32>>(model: &Model<D>, dataset: &EncodedDataset, rows: &[u32]) -> Vec<f32> {
    let batch = model.batch(dataset, rows);
    let predicted = model.forward::<NoneTape>(&model.to_device(&batch), false).sigmoid().as_vec();
    // Batches may be reordered by condition: put each score back in its row's place.
    let mut scores = vec![0f32; rows.len()];
    for (score, &position) in predicted.into_iter().zip(&batch.order) {
        scores[position] = score;
    }
    scores
}

/// Blocks while paused; true when asked to stop.
fn wait_while_paused(control: &Control, send: &dyn Fn(Event)) -> bool {
    if control.is_paused() {
        send(Event::Phase { phase: Phase::Paused });
        while control.is_paused() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if !control.is_stopped() {
            send(Event::Phase { phase: Phase::Training });
        }
    }
    control.is_stopped()
}

/// Every learned value of a model, to return to the best one.
struct Snapshot {
    dense: Vec<Vec<f32>>,
    tables: Vec<Vec<f32>>,
}

impl Snapshot {
    fn take<D: Device<f32>>(model: &Model<D>) -> Self {
        Snapshot { dense: model.params.snapshot(), tables: model.tables.iter().map(|t| t.weights.clone()).collect() }
    }
    fn restore<D: Device<f32>>(self, model: &mut Model<D>) {
        model.params.restore(&self.dense);
        for (table, weights) in model.tables.iter_mut().zip(self.tables) {
            table.weights = weights;
        }
        model.unmerge();
    }
}

/// Click probabilities of `rows`, scored in large batches with merged weights.
pub fn predict<D: Device<f32>>(model: &mut Model<D>, dataset: &EncodedDataset, rows: &[u32]) -> Vec<f32> {
    model.merge_for_inference();
    rows.chunks(EVAL_BATCH).flat_map(|chunk| predict_batch(model, dataset, chunk)).collect()
}

/// AUC, logloss, GAUC and per-group metrics of `rows`.
pub fn evaluate<D: Device<f32>>(
    model: &mut Model<D>,
    dataset: &EncodedDataset,
    rows: &[u32],
    split: &str,
    job: &TrainJob,
) -> EvalMetrics {
    let scores = predict(model, dataset, rows);
    let labels: Vec<u8> = rows.iter().map(|&r| dataset.labels[r as usize]).collect();
    let spec = &job.experiment.experiment.metrics;
    let positives = |labels: &[u8]| labels.iter().filter(|&&l| l == 1).count();
    let field_ids = |name: &str| -> Option<(Vec<u32>, &Vec<String>)> {
        let field = dataset.field(name)?;
        match &field.column {
            Column::Ids(ids) => Some((rows.iter().map(|&r| ids[r as usize]).collect(), &field.info.vocab)),
            _ => None,
        }
    };
    // Over raw values: every user unseen in training is a group of its own.
    let gauc = spec.gauc_field.as_deref().and_then(|name| {
        let ids = dataset.field(name)?.value_ids(rows)?;
        Some(metrics::gauc(&scores, &labels, &ids))
    });
    let mut groups = Vec::new();
    for name in &spec.group_fields {
        let Some((ids, vocab)) = field_ids(name) else { continue };
        for (id, value) in vocab.iter().enumerate() {
            let members: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == id as u32).collect();
            if members.is_empty() {
                continue;
            }
            let s: Vec<f32> = members.iter().map(|&i| scores[i]).collect();
            let l: Vec<u8> = members.iter().map(|&i| labels[i]).collect();
            groups.push(GroupMetrics {
                field: name.clone(),
                value: value.clone(),
                rows: members.len(),
                positives: Some(positives(&l)),
                auc: metrics::auc(&s, &l),
                logloss: metrics::logloss(&s, &l),
            });
        }
    }
    EvalMetrics {
        split: split.to_string(),
        rows: rows.len(),
        positives: Some(positives(&labels)),
        auc: metrics::auc(&scores, &labels),
        logloss: metrics::logloss(&scores, &labels),
        gauc: gauc.and_then(|g| g.value),
        gauc_groups: gauc.map(|g| g.groups),
        gauc_rows: gauc.map(|g| g.rows),
        groups,
    }
}
