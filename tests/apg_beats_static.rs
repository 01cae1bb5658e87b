//! APG's effect where it exists, and its absence where it does not, on the demo's own
//! experiments (tower 128-64, the built-in synthetic data whose click rules differ by
//! domain), three seeds each:
//! - APG conditioned on the domain beats the static DNN beyond the seed noise band;
//! - the same APG conditioned on the domain shuffled over the rows (a placebo with the
//!   same values and frequencies) does not beat the static DNN beyond that band.
//!
//! The band is 2 x the pooled standard error of the difference of means, computed here
//! from the per-seed AUCs (docs/model.md, "Loss and metrics", describes the same rule).

use std::path::Path;

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::train::Event;
use apg_bench::train::trainer::{TrainJob, spawn};

const SEEDS: [u64; 3] = [1, 2, 3];

fn test_auc(experiment: &str, seed: u64) -> f64 {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("workspaces/demo/experiments").join(experiment);
    let experiment = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let handle = spawn(TrainJob {
        experiment,
        seed,
        device: apg_bench::config::Device::Cpu,
        checkpoint: None,
        load: Default::default(),
    });
    let mut auc = None;
    for event in handle.events.iter() {
        match event {
            Event::Finished { summary } => auc = summary.test.and_then(|t| t.auc),
            Event::Failed { error } => panic!("{} failed: {error}", file.display()),
            _ => {}
        }
    }
    handle.join().unwrap();
    auc.expect("a test AUC")
}

/// Mean and sample variance.
fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (mean, values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0))
}

/// `other - base` and its noise band (2 x pooled standard error).
fn difference(base: &[f64], other: &[f64]) -> (f64, f64) {
    let ((mb, vb), (mo, vo)) = (mean_var(base), mean_var(other));
    let (nb, no) = (base.len() as f64, other.len() as f64);
    let pooled = (((nb - 1.0) * vb + (no - 1.0) * vo) / (nb + no - 2.0)).sqrt();
    (mo - mb, 2.0 * pooled * (1.0 / nb + 1.0 / no).sqrt())
}

#[test]
fn apg_on_the_domain_beats_static_and_apg_on_a_placebo_does_not() {
    let aucs = |experiment: &str| -> Vec<f64> { SEEDS.iter().map(|&seed| test_auc(experiment, seed)).collect() };
    let static_dnn = aucs("static-dnn.toml");
    let apg = aucs("apg-group.toml");
    let placebo = aucs("apg-placebo.toml");
    eprintln!(
        "test AUC per seed: static {static_dnn:.4?}, APG on the domain {apg:.4?}, APG on a placebo {placebo:.4?}"
    );
    assert!(static_dnn.iter().all(|&auc| auc > 0.7), "the static model learns: {static_dnn:?}");

    let (gain, band) = difference(&static_dnn, &apg);
    assert!(gain > band, "APG on the domain - static = {gain:+.4}, not beyond the noise band {band:.4}");
    let (placebo_gain, placebo_band) = difference(&static_dnn, &placebo);
    assert!(
        placebo_gain <= placebo_band,
        "APG on a shuffled domain - static = {placebo_gain:+.4}, beyond the noise band {placebo_band:.4}: \
         the gain would come from capacity, not from the condition"
    );
}
