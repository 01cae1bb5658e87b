//! The cost of one embedding step, the part of a training step that touches the tables:
//! gather the batch's rows, accumulate their gradients, row-wise Adam on the touched
//! rows (`model::embedding`), with the model's own calls in the model's order. Measured
//! at 10k and 1M ids per field, with ids drawn uniformly (every touched row of a large
//! table is a memory miss: the worst case) and Zipf-distributed (s = 1.05, as ids in
//! click logs are). A lazy step should cost the rows it touches, not the vocabulary; a
//! dense-Adam step (the default) costs the whole table, measured at 10k ids.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::bench::{Figure, Options, Sink, median, time_reps};
use crate::config::experiment::EmbeddingOptimizer;
use crate::model::embedding::EmbeddingTable;
use crate::model::params::AdamSettings;

const FIELDS: usize = 10;
const DIM: usize = 16;
const BATCH: usize = 1024;

pub fn run(options: &Options, sink: &mut Sink) {
    let settings = AdamSettings { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.0 };
    let steps = if options.quick { 50 } else { 200 };
    for ids in ["uniform", "zipf"] {
        let mut per_vocab = Vec::new();
        for vocab in [10_000usize, 1_000_000] {
            let cost = step_cost(vocab, ids, steps, &settings, EmbeddingOptimizer::LazyAdam, options, sink);
            per_vocab.push(cost);
        }
        if let [small, large] = per_vocab[..] {
            let label = format!("embedding step cost, 1M ids / 10k ids ({ids} ids)");
            let key = format!("embedding.step.ratio-1m-10k.{ids}");
            sink.push(Figure::new("embedding", key, label, large / small, "x").note("target <= 1.1x"));
        }
    }
    step_cost(10_000, "uniform", steps, &settings, EmbeddingOptimizer::Adam, options, sink);
}

/// Median microseconds of one step with `vocab` ids per field drawn from `ids`.
fn step_cost(
    vocab: usize,
    ids: &str,
    steps: usize,
    settings: &AdamSettings,
    optimizer: EmbeddingOptimizer,
    options: &Options,
    sink: &mut Sink,
) -> f64 {
    {
        let mut rng = Pcg64::seed_from_u64(7);
        let mut tables: Vec<EmbeddingTable> =
            (0..FIELDS).map(|f| EmbeddingTable::new(format!("f{f}"), vocab, DIM, 0.01, &mut rng)).collect();
        // Fresh ids for every step, drawn up front so drawing is not timed. Zipf ranks are
        // scattered over the table, as hashed or interned ids are.
        let zipf = rand_distr::Zipf::new(vocab as u64, 1.05).expect("valid Zipf parameters");
        let scatter = |rank: u64| ((rank.wrapping_mul(2_654_435_761)) % vocab as u64) as u32;
        let draw = |rng: &mut Pcg64| -> u32 {
            if ids == "uniform" { rng.gen_range(0..vocab as u32) } else { scatter(rng.sample(zipf) as u64 - 1) }
        };
        let batches: Vec<Vec<Vec<u32>>> =
            (0..steps).map(|_| (0..FIELDS).map(|_| (0..BATCH).map(|_| draw(&mut rng)).collect()).collect()).collect();
        let mut x0 = vec![0f32; BATCH * FIELDS * DIM];
        let gradient: Vec<f32> = (0..BATCH * FIELDS * DIM).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect();
        // The model's own calls, in its order: gather every field, then accumulate the
        // gradients and take the row-wise Adam step of every table.
        let rows: Vec<u32> = (0..BATCH as u32).collect();
        let mut step = |columns: &[Vec<u32>]| {
            let w = FIELDS * DIM;
            for (f, (table, column)) in tables.iter().zip(columns).enumerate() {
                table.gather(column, &rows, &mut x0, w, f * DIM);
            }
            std::hint::black_box(&x0);
            for (f, (table, column)) in tables.iter_mut().zip(columns).enumerate() {
                for (r, &id) in column.iter().enumerate() {
                    table.accumulate(id, &gradient[r * w + f * DIM..r * w + (f + 1) * DIM], 1.0);
                }
                table.adam_step(settings, 0.0, optimizer);
            }
        };
        for ids in batches.iter().take(10) {
            step(ids);
        }
        let seconds = time_reps(0, options.reps(), || {
            for ids in &batches {
                step(ids);
            }
        });
        let micros: Vec<f64> = seconds.iter().map(|s| s / steps as f64 * 1e6).collect();
        let cost = median(&micros);
        let (name, prefix) = match optimizer {
            EmbeddingOptimizer::LazyAdam => ("lazy Adam", String::new()),
            EmbeddingOptimizer::Adam => ("dense Adam", "dense-adam.".to_string()),
        };
        let label = format!(
            "embedding step ({name}), {FIELDS} fields x {DIM}, {} {ids} ids per field, batch {BATCH}",
            crate::format::thousands(vocab as u64)
        );
        let key = format!("embedding.step.{prefix}vocab-{vocab}.{ids}");
        sink.push(Figure::new("embedding", key, label, cost, "us/step").samples(micros));
        cost
    }
}
