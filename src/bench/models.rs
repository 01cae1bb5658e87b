//! Training and inference throughput of the real model code (`Model`, `train_step`,
//! `predict_batch`) on batches of an in-memory dataset shaped like the one the PyTorch
//! reference implementation generates (its `gen_data.py`; scripts/bench-vs-peer.sh finds it
//! through PEER_SRC): field f0 is the domain (8 values), f1..f9 have 10,000
//! ids each, and the click depends on per-domain tables. A derived field `f1b` (4
//! buckets of f1) gives the mix-wise condition {f0, f1b} its 32 combinations.
//!
//! Shapes (the targets they are measured against are in BENCHMARKS.md, "Targets"):
//! - probe: 10 fields x 16 = 160 -> 256-128-64 -> 1; APG K = 32/16/8, P = 2K;
//! - paper: 9 x 40 + 33 = 393 -> 1024-512-256 -> 1; APG K = 16, P = 32;
//! - peer: the probe's tower with the peer's APG settings (K = 32 in every layer; P = 256
//!   for v5, the peer's `apg_op`), for the side-by-side ratios.
//!
//! Every APG model here uses a linear generator (no hidden layer) and a static bias, as
//! the peer does. Training samples/s covers the whole step: gathering the batch's
//! embedding rows, forward, backward, Adam on the dense parameters and row-wise Adam on
//! the touched embedding rows. Inference covers gathering and the forward pass, with
//! v5's U and V merged.

use std::time::{Duration, Instant};

use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::bench::{Figure, Options, Sink, median, quiet};
use crate::config::experiment::LoadedExperiment;
use crate::data::{Column, EncodedDataset, EncodedField, EncodedKind, FieldInfo, Split};
use crate::model::Model;
use crate::train::run::{StepSettings, predict_batch, train_step};

const DOMAINS: usize = 8;
const VOCAB: usize = 10_000;
const FIELDS: usize = 10;
const BUCKETS: usize = 4;

/// One model of the grid.
#[derive(Debug, Clone)]
pub struct Spec {
    pub shape: &'static str,
    /// `mlp` or `apg-v5-group` style.
    pub name: String,
    pub variant: &'static str,
    /// `none`, `group`, `mix` or `self`.
    pub condition: &'static str,
}

impl Spec {
    fn hidden(&self) -> &'static str {
        if self.shape == "paper" { "[1024, 512, 256]" } else { "[256, 128, 64]" }
    }

    /// K and P per layer.
    fn rank_overparam(&self) -> (&'static str, &'static str) {
        match self.shape {
            "probe" => ("[32, 16, 8]", "[64, 32, 16]"),
            "paper" => ("[16]", "[32]"),
            _ => ("[32]", "[256]"),
        }
    }

    /// Multiply-adds per sample of the dense tower (static MLP) for the GEMM-peak share.
    fn tower_macs(&self) -> usize {
        let dims: &[usize] = if self.shape == "paper" { &[393, 1024, 512, 256, 1] } else { &[160, 256, 128, 64, 1] };
        dims.windows(2).map(|w| w[0] * w[1]).sum()
    }

    /// The experiment file, as a user would write it.
    fn experiment(&self) -> String {
        let embedding = if self.shape == "paper" {
            "embedding_dim = 40\nembedding_dims = { f0 = 33 }"
        } else {
            "embedding_dim = 16"
        };
        let inputs = (0..FIELDS).map(|f| format!("\"f{f}\"")).collect::<Vec<_>>().join(", ");
        let mut text = format!(
            "dataset = \"bench.dataset.toml\"\n[model]\nbase = \"dnn\"\nhidden = {}\ninputs = [{inputs}]\n{embedding}\n",
            self.hidden()
        );
        if self.variant != "static" {
            let (rank, overparam) = self.rank_overparam();
            text += &format!(
                "[apg]\nvariant = \"{}\"\nrank = {rank}\noverparam = {overparam}\ngenerate_bias = false\n",
                self.variant
            );
            text += match self.condition {
                "group" => "[apg.condition]\nmode = \"group\"\nfields = [\"f0\"]\n",
                "mix" => "[apg.condition]\nmode = \"mix\"\nfields = [\"f0\", \"f1b\"]\ninput_agg = \"concat\"\n",
                _ => "[apg.condition]\nmode = \"self\"\n",
            };
        }
        text += "[train]\nlr = 0.001\n";
        text
    }
}

/// The grid: every model the section measures, before `--model` filtering.
pub fn grid(quick: bool) -> Vec<Spec> {
    let mut specs = vec![Spec { shape: "probe", name: "mlp".into(), variant: "static", condition: "none" }];
    let variants: &[&str] = if quick { &["v4", "v5"] } else { &["v3", "v4", "v5"] };
    for &variant in variants {
        for condition in ["group", "mix", "self"] {
            specs.push(Spec { shape: "probe", name: format!("apg-{variant}-{condition}"), variant, condition });
        }
    }
    for variant in ["v4", "v5"] {
        specs.push(Spec { shape: "peer", name: format!("apg-{variant}-group"), variant, condition: "group" });
    }
    specs.push(Spec { shape: "paper", name: "mlp".into(), variant: "static", condition: "none" });
    for variant in ["v4", "v5"] {
        specs.push(Spec { shape: "paper", name: format!("apg-{variant}-group"), variant, condition: "group" });
    }
    specs
}

pub fn run(options: &Options, sink: &mut Sink) -> anyhow::Result<()> {
    let grid = grid(options.quick);
    let names = |spec: &Spec| [spec.name.clone(), format!("{}/{}", spec.shape, spec.name)];
    if let Some(unknown) = options.models.iter().find(|m| !grid.iter().any(|spec| names(spec).contains(m))) {
        let known: Vec<String> = grid.iter().map(|spec| format!("{}/{}", spec.shape, spec.name)).collect();
        anyhow::bail!(
            "no model {unknown:?} in the bench{}: choose from {}",
            if options.quick { " (--quick)" } else { "" },
            known.join(", ")
        );
    }
    let dir = options.scratch.join("models");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("bench.dataset.toml"), DESCRIPTOR)?;
    let rows = if options.quick { 100_000 } else { 400_000 };
    let dataset = peer_like_dataset(rows, 42);
    let batches: &[usize] = if options.batches.is_empty() { &[1024, 4096] } else { &options.batches };
    for spec in grid {
        if !options.models.is_empty() && !options.models.iter().any(|m| names(&spec).contains(m)) {
            continue;
        }
        let file = dir.join(format!("{}-{}.toml", spec.shape, spec.name));
        let experiment = LoadedExperiment::from_text(&file, &spec.experiment())
            .map_err(|e| anyhow::anyhow!("the bench's own experiment is invalid: {e}"))?;
        for &batch in batches {
            for what in ["train", "infer"] {
                if options.what.as_ref().is_some_and(|w| w != what) {
                    continue;
                }
                let repetitions = measure(&experiment, &dataset, batch, what, options)?;
                let samples = repetitions.values();
                let value = median(&samples);
                let key = format!("model.{what}.{}.{}.b{batch}", spec.shape, spec.name);
                let label = format!(
                    "{what} {} {} ({}), batch {batch}",
                    spec.shape,
                    spec.name,
                    if spec.variant == "static" {
                        "static".to_string()
                    } else {
                        format!("{} {}", spec.variant, spec.condition)
                    }
                );
                let mut figure = Figure::new("model", key, label, value, "samples/s").samples(samples);
                figure.shape = Some(spec.shape.into());
                figure.model = Some(spec.name.clone());
                figure.variant = Some(spec.variant.into());
                figure.condition = Some(spec.condition.into());
                figure.what = Some(what.into());
                figure.batch = Some(batch);
                if spec.variant == "static"
                    && what == "train"
                    && let Some(peak) = sink.gemm_peak()
                {
                    // Forward x W (2 flops per MAC), backward dX and dW (4 more).
                    let gflops = value * 6.0 * spec.tower_macs() as f64 / 1e9;
                    figure.note = Some(format!(
                        "{gflops:.1} GFLOP/s = {:.0} % of the GEMM peak ({peak:.1})",
                        100.0 * gflops / peak
                    ));
                }
                if let Some(busy) = repetitions.note() {
                    figure.note = Some(match figure.note.take() {
                        Some(note) => format!("{note}; {busy}"),
                        None => busy,
                    });
                }
                sink.push(figure);
            }
        }
    }
    Ok(())
}

/// Samples/s of each repetition: training steps or inference batches over fresh rows.
fn measure(
    experiment: &LoadedExperiment,
    dataset: &EncodedDataset,
    batch: usize,
    what: &str,
    options: &Options,
) -> anyhow::Result<quiet::Repetitions> {
    let mut model = Model::new(experiment, dataset, Cpu::seed_from_u64(1), 1).map_err(anyhow::Error::msg)?;
    // The experiment's own recipe (its defaults unless the bench shape says otherwise).
    let settings = StepSettings::from_spec(&experiment.experiment.train);
    let train = &dataset.split.train;
    anyhow::ensure!(batch <= train.len(), "batch {batch} is larger than the bench's {} training rows", train.len());
    let chunks: Vec<&[u32]> = train.chunks_exact(batch).collect();
    let mut next = 0usize;
    let mut one = |model: &mut Model<Cpu>| -> anyhow::Result<()> {
        let rows = chunks[next % chunks.len()];
        next += 1;
        if what == "train" {
            train_step(model, dataset, rows, &settings).map_err(anyhow::Error::msg)?;
        } else {
            std::hint::black_box(predict_batch(model, dataset, rows));
        }
        Ok(())
    };
    if what == "infer" {
        model.merge_for_inference();
    }
    // Warm-up (at least 3 steps and 0.2 s: the first steps grow the allocator's heap),
    // and a first estimate of the step time to size the repetitions (~0.4 s each).
    let start = Instant::now();
    let mut warmup = 0;
    while warmup < 3 || start.elapsed().as_secs_f64() < 0.2 {
        one(&mut model)?;
        warmup += 1;
    }
    let per_step = start.elapsed().as_secs_f64() / warmup as f64;
    let target = if options.quick { 0.15 } else { 0.4 };
    let steps = ((target / per_step).ceil() as usize).clamp(2, 400);
    // Repetitions while other processes use the CPUs are retried (see `bench::quiet`);
    // a quick run does not wait for a quiet machine.
    let max_wait = if options.quick { Duration::ZERO } else { Duration::from_secs(30) };
    let mut failure = None;
    let repetitions = quiet::repeat_quietly(options.reps(), max_wait, || {
        let start = Instant::now();
        for _ in 0..steps {
            if let Err(e) = one(&mut model) {
                failure.get_or_insert(e);
            }
        }
        (steps * batch) as f64 / start.elapsed().as_secs_f64()
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(repetitions),
    }
}

/// The fields the bench's experiments may name; the data itself is built in memory.
const DESCRIPTOR: &str = r#"# Written by `apg-bench bench`: the fields of its in-memory dataset.
name = "bench-peer-like"
[source]
format = "csv"
dir = ["."]
path = "not-read.csv"
[label]
column = "label"
[[fields]]
name = "f0"
kind = "categorical"
[[fields]]
name = "f1"
kind = "categorical"
[[fields]]
name = "f2"
kind = "categorical"
[[fields]]
name = "f3"
kind = "categorical"
[[fields]]
name = "f4"
kind = "categorical"
[[fields]]
name = "f5"
kind = "categorical"
[[fields]]
name = "f6"
kind = "categorical"
[[fields]]
name = "f7"
kind = "categorical"
[[fields]]
name = "f8"
kind = "categorical"
[[fields]]
name = "f9"
kind = "categorical"
[[fields]]
name = "f1b"
kind = "categorical"
"#;

/// Data drawn like the peer's gen_data.py (our own RNG, same distribution): domain f0
/// uniform over 8, f1..f9 uniform over 10,000, the click Bernoulli(sigmoid(0.42 x sum of
/// per-domain table entries)). Ids are shifted by one: id 0 is the OOV id.
pub fn peer_like_dataset(rows: usize, seed: u64) -> EncodedDataset {
    let mut rng = Pcg64::seed_from_u64(seed);
    let tables: Vec<f64> =
        (0..DOMAINS * (FIELDS - 1) * 50).map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal)).collect();
    let mut columns: Vec<Vec<u32>> = (0..=FIELDS).map(|_| Vec::with_capacity(rows)).collect();
    let mut labels = Vec::with_capacity(rows);
    for _ in 0..rows {
        let domain = rng.gen_range(0..DOMAINS);
        columns[0].push(domain as u32 + 1);
        let mut score = 0.0;
        for f in 1..FIELDS {
            let id = rng.gen_range(0..VOCAB);
            columns[f].push(id as u32 + 1);
            score += tables[(domain * (FIELDS - 1) + f - 1) * 50 + id % 50];
            if f == 1 {
                columns[FIELDS].push((id * BUCKETS / VOCAB) as u32 + 1);
            }
        }
        let p = 1.0 / (1.0 + (-0.42 * score).exp());
        labels.push(u8::from(rng.r#gen::<f64>() < p));
    }
    let vocab = |n: usize| -> Vec<String> {
        std::iter::once("<oov>".to_string()).chain((0..n).map(|i| i.to_string())).collect()
    };
    let fields = columns
        .into_iter()
        .enumerate()
        .map(|(f, ids)| {
            let (name, size) = match f {
                0 => ("f0".to_string(), DOMAINS),
                f if f == FIELDS => ("f1b".to_string(), BUCKETS),
                f => (format!("f{f}"), VOCAB),
            };
            EncodedField {
                info: FieldInfo {
                    name: name.clone(),
                    kind: EncodedKind::Categorical,
                    origin: format!("column {name}"),
                    derived: false,
                    vocab: vocab(size),
                    missing_rows: 0,
                    min_count: 1,
                    scale: None,
                },
                column: Column::Ids(ids.into()),
                pooled: None,
            }
        })
        .collect();
    let train_rows = rows * 9 / 10;
    EncodedDataset {
        name: "bench-peer-like".into(),
        fingerprint: format!("bench-{rows}-{seed}"),
        fields,
        labels: labels.into(),
        split: Split {
            train: (0..train_rows as u32).collect(),
            valid: Default::default(),
            test: (train_rows as u32..rows as u32).collect(),
        },
        oracle: None,
    }
}
