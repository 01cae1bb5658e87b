//! The cost of one embedding step, the part of a training step that touches the tables:
//! gather the batch's rows, accumulate their gradients, row-wise Adam on the touched
//! rows (`model::embedding`). Measured at 10k and 1M ids per field with uniformly drawn
//! ids (the worst case for caches; real ids are skewed): a step should cost the rows it
//! touches, not the vocabulary.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::bench::{Figure, Options, Sink, median, time_reps};
use crate::model::embedding::EmbeddingTable;
use crate::model::params::AdamSettings;

const FIELDS: usize = 10;
const DIM: usize = 16;
const BATCH: usize = 1024;

pub fn run(options: &Options, sink: &mut Sink) {
    let settings = AdamSettings { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.0 };
    let steps = if options.quick { 50 } else { 200 };
    let mut per_vocab = Vec::new();
    for vocab in [10_000usize, 1_000_000] {
        let mut rng = Pcg64::seed_from_u64(7);
        let mut tables: Vec<EmbeddingTable> =
            (0..FIELDS).map(|f| EmbeddingTable::new(format!("f{f}"), vocab, DIM, &mut rng)).collect();
        // Fresh ids for every step, drawn up front so drawing is not timed.
        let batches: Vec<Vec<u32>> =
            (0..steps).map(|_| (0..BATCH * FIELDS).map(|_| rng.gen_range(0..vocab as u32)).collect()).collect();
        let mut x0 = vec![0f32; BATCH * FIELDS * DIM];
        let gradient: Vec<f32> = (0..BATCH * FIELDS * DIM).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect();
        let mut step = |ids: &[u32]| {
            let w = FIELDS * DIM;
            for (f, table) in tables.iter_mut().enumerate() {
                for r in 0..BATCH {
                    let id = ids[r * FIELDS + f];
                    x0[r * w + f * DIM..r * w + (f + 1) * DIM].copy_from_slice(table.row(id));
                }
                for r in 0..BATCH {
                    let id = ids[r * FIELDS + f];
                    table.accumulate(id, &gradient[r * w + f * DIM..r * w + (f + 1) * DIM], 1.0);
                }
                table.adam_step(&settings, 0.0);
            }
            std::hint::black_box(&x0);
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
        per_vocab.push(cost);
        let label = format!(
            "embedding step, {FIELDS} fields x {DIM}, {} ids per field, batch {BATCH}",
            crate::format::thousands(vocab as u64)
        );
        sink.push(
            Figure::new("embedding", format!("embedding.step.vocab-{vocab}"), label, cost, "us/step").samples(micros),
        );
    }
    if let [small, large] = per_vocab[..] {
        sink.push(
            Figure::new(
                "embedding",
                "embedding.step.ratio-1m-10k",
                "embedding step cost, 1M ids / 10k ids",
                large / small,
                "x",
            )
            .note("target <= 1.1x"),
        );
    }
}
