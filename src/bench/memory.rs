//! The `memory` section: peak RSS of a training run (in a fresh child process,
//! `bench-child train`) against what the run must hold: the encoded dataset, the dense
//! parameters with their two Adam moments and the embedding tables with their row-wise
//! Adam moments. The child samples RSS when the data is loaded, when the model is built,
//! while training and after the first evaluation, which splits the rest.
//!
//! The experiment is `workspaces/demo/experiments/apg-group.toml` when the current
//! folder has it, else the same experiment written to the scratch folder: APG v5,
//! group-wise on the domain, on the built-in synthetic dataset (200,000 rows).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::bench::child::{TrainFigures, run_child};
use crate::bench::{Figure, Options, Sink};

const SECTION: &str = "memory";
const DEMO_EXPERIMENT: &str = "workspaces/demo/experiments/apg-group.toml";
const STEPS: usize = 200;
const STEPS_QUICK: usize = 30;

/// The demo's apg-group experiment, for when the demo workspace is not at hand.
const EXPERIMENT: &str = r#"# APG, group-wise: every hidden layer's core S is generated from the domain embedding.
description = "APG v5, group-wise on the domain"
dataset = "synthetic-multidomain"

[model]
base = "dnn"
hidden = [128, 64]

[apg]
variant = "v5"
rank = [32, 16]
overparam = [64, 32]

[apg.condition]
mode = "group"
fields = ["domain"]

[train]
epochs = 4
lr = 0.002
batch_size = 1024
patience = 2

[metrics]
gauc_field = "user"
group_fields = ["user_activity", "domain"]
"#;

pub fn run(options: &Options, sink: &mut Sink) -> anyhow::Result<()> {
    let folder = options.scratch.join("memory");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let result = measure(options, sink, &folder);
    let _ = std::fs::remove_dir_all(&folder);
    result
}

fn train(options: &Options, experiment: &Path, steps: usize, cache: &Path) -> anyhow::Result<TrainFigures> {
    let args: Vec<OsString> = vec!["train".into(), experiment.into(), steps.to_string().into(), cache.into()];
    run_child(&args, options.threads)
}

fn measure(options: &Options, sink: &mut Sink, folder: &Path) -> anyhow::Result<()> {
    let experiment = match Path::new(DEMO_EXPERIMENT) {
        demo if demo.is_file() => demo.to_path_buf(),
        _ => {
            let path = folder.join("apg-group.toml");
            std::fs::write(&path, EXPERIMENT)?;
            path
        }
    };
    let steps = if options.quick { STEPS_QUICK } else { STEPS };
    let cache: PathBuf = folder.join("cache");
    // The first run of a dataset encodes it from the source (and writes the cache);
    // later runs read the cache: both are measured, the second is the usual case. Peak
    // RSS varies by several MB from run to run (where the allocator's heap ends up), so
    // each is repeated and the run with the median peak is reported.
    let reps = options.reps();
    let (mut colds, mut warms) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let _ = std::fs::remove_dir_all(&cache);
        colds.push(train(options, &experiment, steps, &cache)?);
        warms.push(train(options, &experiment, steps, &cache)?);
    }
    let cold_peaks: Vec<f64> = colds.iter().map(|f| f.peak_rss_mb).collect();
    let warm_peaks: Vec<f64> = warms.iter().map(|f| f.peak_rss_mb).collect();
    let cold = median_run(colds);
    let warm = median_run(warms);
    let quick = if options.quick { " (--quick)" } else { "" };
    let what = format!("{} for {} steps on {} rows{quick}", warm.experiment, warm.steps, warm.rows);

    let params_mb = warm.dense_mb + warm.embedding_mb;
    let accounted = warm.encoded_mb + params_mb;
    let source = if warm.from_cache { "data from the cache" } else { "data encoded from the source" };
    sink.push(
        Figure::new(SECTION, "memory.train.peak-rss", format!("training {what}: peak RSS"), warm.peak_rss_mb, "MB")
            .note(format!(
                "{source}; experiment {}; fresh process, median of {reps} (the breakdown is of that run)",
                experiment.display()
            ))
            .samples(warm_peaks),
    );
    sink.push(
        Figure::new(
            SECTION,
            "memory.train.accounted",
            "what the run must hold: data + parameters + Adam",
            accounted,
            "MB",
        )
        .note(format!(
            "encoded data {:.1} MB; dense {} x 3 x 4 B = {:.1} MB; embeddings {} entries x 3 x 4 B = {:.1} MB",
            warm.encoded_mb, warm.dense_params, warm.dense_mb, warm.embedding_entries, warm.embedding_mb
        )),
    );
    sink.push(
        Figure::new(SECTION, "memory.train.ratio", "peak RSS / accounted", warm.peak_rss_mb / accounted.max(1e-9), "x")
            .note(breakdown(&warm, accounted)),
    );
    sink.push(Figure::new(
        SECTION,
        "memory.train.baseline",
        "RSS of the process before loading (binary + allocator)",
        warm.baseline_rss_mb,
        "MB",
    ));
    sink.push(
        Figure::new(
            SECTION,
            "memory.train.after-load",
            "RSS with the data loaded, before the model",
            warm.loaded_rss_mb,
            "MB",
        )
        .note(format!("peak so far {:.1} MB ({source})", warm.load_peak_rss_mb)),
    );
    sink.push(
        Figure::new(
            SECTION,
            "memory.train.after-build",
            "RSS with the model built (parameters + Adam moments)",
            warm.built_rss_mb,
            "MB",
        )
        .note(format!(
            "{:+.1} MB for the model; its parameters and moments are {params_mb:.1} MB (zeroed moments take pages only \
                 when first written, and freed loading buffers are reused)",
            warm.built_rss_mb - warm.loaded_rss_mb
        )),
    );
    sink.push(
        Figure::new(
            SECTION,
            "memory.train.training",
            "largest RSS while training (at the metrics reports)",
            warm.training_rss_mb,
            "MB",
        )
        .note(format!("peak through the first evaluation: {:.1} MB", warm.eval_peak_rss_mb)),
    );
    sink.push(
        Figure::new(SECTION, "memory.train.peak-rss-cold", format!("training {what}, first run: peak RSS"), cold.peak_rss_mb, "MB")
            .note(format!(
                "the data encoded from the source (and the cache written); peak while loading {:.1} MB, with the data loaded {:.1} MB",
                cold.load_peak_rss_mb, cold.loaded_rss_mb
            ))
            .samples(cold_peaks),
    );
    Ok(())
}

/// The run with the median peak RSS (the upper one of an even count).
fn median_run(mut runs: Vec<TrainFigures>) -> TrainFigures {
    runs.sort_by(|a, b| a.peak_rss_mb.total_cmp(&b.peak_rss_mb));
    let middle = runs.len() / 2;
    runs.swap_remove(middle)
}

/// Where the peak beyond the accounted memory goes, from the child's RSS samples.
fn breakdown(f: &TrainFigures, accounted: f64) -> String {
    let data_overhead = f.loaded_rss_mb - f.baseline_rss_mb - f.encoded_mb;
    let model = f.built_rss_mb - f.loaded_rss_mb;
    let training = f.training_rss_mb - f.built_rss_mb;
    let eval = f.eval_peak_rss_mb - f.training_rss_mb.max(f.built_rss_mb);
    let rest = f.peak_rss_mb - accounted;
    let mut parts = vec![
        format!("peak {:.1} MB = accounted {accounted:.1} + {rest:.1} more", f.peak_rss_mb),
        format!("the process before loading {:.1}", f.baseline_rss_mb),
        format!("loading beyond the encoded data {data_overhead:+.1} (load peak {:.1})", f.load_peak_rss_mb),
        format!("building the model {model:.1} (parameters + moments {:.1})", f.dense_mb + f.embedding_mb),
        format!(
            "training steps {training:+.1} (batches, dfdx tapes and gradients, touched embedding rows; the best-model \
             snapshot is {:.1})",
            f.snapshot_mb
        ),
        format!("evaluation (batches of 8192 rows, merged weights) {eval:+.1} over training"),
    ];
    if f.peak_rss_mb <= f.load_peak_rss_mb + 0.5 {
        parts.push("the peak is reached while loading".into());
    }
    parts.join("; ")
}
