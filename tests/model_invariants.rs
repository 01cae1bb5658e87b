//! The model invariants (docs/model.md, "What the tests check") on fresh random inputs:
//! v2 == v3, v5 training == v5 merged, v4 with S = I equals a static layer, parameter
//! counts, gradients against central finite differences for every variant and condition
//! mode, and every parameter receiving a gradient.

mod common;

use std::path::Path;

use apg_bench::config::experiment::{ApgInit, LoadedExperiment, Variant};
use apg_bench::data::{self, EncodedDataset, LoadOptions, LoadedDescriptor};
use apg_bench::model::Model;
use apg_bench::model::layers::{ApgLayer, ApgSettings, Condition, Dense};
use apg_bench::model::params::ParamSet;
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Pcg64::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

fn settings(variant: Variant, generate_bias: bool) -> ApgSettings {
    ApgSettings {
        variant,
        generator_hidden: vec![],
        generator_dropout: 0.0,
        generate_bias,
        identity_init: false,
        init: ApgInit::Xavier,
    }
}

/// Output of one APG layer on a random batch with per-row conditions.
fn layer_output(variant: Variant, seed: u64, (n, m, k, p): (usize, usize, usize, usize), merged: bool) -> Vec<f32> {
    let dev = Cpu::default();
    let mut params = ParamSet::new(dev.clone());
    let layer = ApgLayer::new(
        &mut params,
        "l",
        (n, m),
        (k, p),
        &settings(variant, true),
        &[5],
        &mut Pcg64::seed_from_u64(seed),
    );
    let b = 7;
    let x = dev.tensor_from_vec(random(b * n, 1), (b, n));
    let z = dev.tensor_from_vec(random(b * 5, 2), (b, 5));
    let uv = merged.then(|| layer.shared_uv::<Cpu, NoneTape>(&params));
    layer.forward::<Cpu, NoneTape>(&params, x, Condition::PerRow(z), 0, uv.as_ref(), false).as_vec()
}

fn assert_close(a: &[f32], b: &[f32], relative: f32) {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().map(|v| v.abs()).fold(0f32, f32::max).max(1e-6);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= relative * scale, "element {i}: {x} vs {y} (scale {scale})");
    }
}

#[test]
fn v2_and_v3_give_the_same_outputs() {
    let shape = (12, 9, 4, 8);
    let v2 = layer_output(Variant::V2, 11, shape, false);
    let v3 = layer_output(Variant::V3, 11, shape, false);
    assert_close(&v2, &v3, 1e-5);
    assert!(v2.iter().any(|v| v.abs() > 1e-3), "outputs are not trivially zero");
}

#[test]
fn v5_merged_for_inference_equals_training_mode() {
    let shape = (12, 9, 4, 16);
    let training = layer_output(Variant::V5, 5, shape, false);
    let merged = layer_output(Variant::V5, 5, shape, true);
    assert_close(&training, &merged, 1e-5);
}

#[test]
fn v4_with_identity_core_equals_a_static_layer() {
    // K = min(N_in, N_out) = N_out; W = U V with U = W and V = I; S fixed to I.
    let (n, m, b) = (10, 6, 5);
    let dev = Cpu::default();
    let mut rng = Pcg64::seed_from_u64(3);
    let mut params = ParamSet::new(dev.clone());
    let dense = Dense::new(&mut params, "static", n, m, true, &mut rng);
    let apg = ApgLayer::new(&mut params, "apg", (n, m), (m, m), &settings(Variant::V4, false), &[3], &mut rng);
    let w = params.get(dense.weight).tensor.as_vec();
    let bias = params.get(dense.bias.unwrap()).tensor.as_vec();
    let identity: Vec<f32> = (0..m * m).map(|i| if i / m == i % m { 1.0 } else { 0.0 }).collect();
    let set = |params: &mut ParamSet<Cpu>, name: &str, values: &[f32]| {
        let param = params.params.iter_mut().find(|p| p.name == name).unwrap_or_else(|| panic!("no {name}"));
        param.tensor.copy_from(values);
    };
    set(&mut params, "apg.U", &w);
    set(&mut params, "apg.V", &identity);
    set(&mut params, "apg.bias", &bias);
    set(&mut params, "apg.generator0.core.weight", &vec![0.0; 3 * m * m]);
    set(&mut params, "apg.generator0.core.bias", &identity);
    let x = dev.tensor_from_vec(random(b * n, 9), (b, n));
    let z = dev.tensor_from_vec(random(b * 3, 10), (b, 3));
    let expected = dense.forward::<Cpu, NoneTape>(&params, x.clone()).as_vec();
    let actual = apg.forward::<Cpu, NoneTape>(&params, x, Condition::PerRow(z), 0, None, false).as_vec();
    assert_close(&expected, &actual, 1e-5);
}

#[test]
fn parameter_counts_match_the_formulas() {
    let (n, m, k, p, d) = (20, 12, 4, 8, 6);
    let count = |variant: Variant, generate_bias: bool| {
        let mut params = ParamSet::new(Cpu::default());
        ApgLayer::new(
            &mut params,
            "l",
            (n, m),
            (k, p),
            &settings(variant, generate_bias),
            &[d],
            &mut Pcg64::seed_from_u64(1),
        );
        params.count()
    };
    // A linear generator D -> outputs has (D + 1) x outputs parameters.
    let generator = |outputs: usize| (d + 1) * outputs;
    assert_eq!(count(Variant::V1, true), generator(m + n * m));
    assert_eq!(count(Variant::V2, true), generator(m + n * k + k * k + k * m));
    assert_eq!(count(Variant::V3, true), generator(m + n * k + k * k + k * m));
    assert_eq!(count(Variant::V4, true), n * k + k * m + generator(m + k * k));
    assert_eq!(count(Variant::V4, false), n * k + k * m + m + generator(k * k));
    assert_eq!(count(Variant::V5, true), n * p + p * k + k * p + p * m + generator(m + k * k));
}

const DATASET: &str = r#"
name = "tiny"
[source]
format = "synthetic"
[synthetic]
rows = 400
users = 30
items = 20
categories = 4
domains = 3
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
name = "price"
kind = "numeric"
transform = "scale"
[[derived]]
name = "user_activity"
kind = "activity"
column = "user"
"#;

fn tiny(experiment: &str) -> (LoadedExperiment, EncodedDataset) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.toml"), DATASET).unwrap();
    let file = dir.path().join("e.toml");
    std::fs::write(&file, format!("dataset = \"data.toml\"\n{experiment}")).unwrap();
    let loaded = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let descriptor = LoadedDescriptor::from_file(&dir.path().join("data.toml")).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    (loaded, dataset)
}

/// Every model family the gradient checks cover.
fn configurations() -> Vec<(&'static str, String)> {
    let tower = "[model]\nhidden = [8, 6]\nembedding_dim = 4\n";
    let apg = |variant: &str, condition: &str| {
        format!(
            "{tower}[apg]\nvariant = \"{variant}\"\nrank = [3, 2]\noverparam = [5, 4]\n[apg.condition]\n{condition}\n"
        )
    };
    let group = "mode = \"group\"\nfields = [\"domain\"]";
    let mut configs = vec![("static", tower.to_string())];
    for variant in ["v1", "v2", "v3", "v4", "v5"] {
        configs.push((variant, apg(variant, group)));
    }
    configs.push((
        "group, separate embedding",
        apg("v4", "mode = \"group\"\nfields = [\"user_activity\"]\nseparate_embedding = true"),
    ));
    configs.push(("mix concat", apg("v5", "mode = \"mix\"\nfields = [\"domain\", \"device\"]")));
    configs.push(("mix mean", apg("v5", "mode = \"mix\"\nfields = [\"domain\", \"device\"]\ninput_agg = \"mean\"")));
    configs.push((
        "mix attention",
        apg("v5", "mode = \"mix\"\nfields = [\"domain\", \"device\"]\ninput_agg = \"attention\""),
    ));
    configs.push((
        "mix output mean",
        apg("v4", "mode = \"mix\"\nfields = [\"domain\", \"device\"]\naggregation = \"output\""),
    ));
    configs.push((
        "mix output attention",
        apg(
            "v4",
            "mode = \"mix\"\nfields = [\"domain\", \"device\"]\naggregation = \"output\"\noutput_agg = \"attention\"",
        ),
    ));
    configs.push(("self", apg("v5", "mode = \"self\"")));
    let hidden =
        apg("v4", group).replace("[apg.condition]", "generator_hidden = [5]\ngenerate_bias = false\n[apg.condition]");
    configs.push(("generator hidden, static bias", hidden));
    configs
        .push(("static bias", apg("v4", group).replace("[apg.condition]", "generate_bias = false\n[apg.condition]")));
    configs.push((
        "generator hidden",
        apg("v4", group).replace("[apg.condition]", "generator_hidden = [5]\n[apg.condition]"),
    ));
    for base in ["wdl", "deepfm", "dcn", "dcnv2"] {
        configs.push((base, apg("v5", group).replace("[model]\n", &format!("[model]\nbase = \"{base}\"\n"))));
    }
    configs
}

type Loss = (f32, Gradients<f32, Cpu>);

fn loss_and_grads(model: &Model<Cpu>, dataset: &EncodedDataset, rows: &[u32]) -> Loss {
    let batch = model.to_device(&model.batch(dataset, rows));
    let logits = model.forward::<OwnedTape<f32, Cpu>>(&batch, true);
    let loss = dfdx::losses::binary_cross_entropy_with_logits_loss(logits, batch.labels.clone());
    let value = loss.array();
    (value, loss.backward())
}

fn loss_only(model: &Model<Cpu>, dataset: &EncodedDataset, rows: &[u32]) -> f64 {
    batch_loss(model, &model.batch(dataset, rows))
}

/// A model whose every value is moved off exact zeros (zero-initialised biases put the
/// ReLUs of dead rows exactly on their kink, where a finite difference sees half a slope).
fn jittered_model(experiment: &LoadedExperiment, dataset: &EncodedDataset) -> Model<Cpu> {
    let mut model = Model::new(experiment, dataset, Cpu::default(), 7).unwrap();
    for (p, param) in model.params.params.iter_mut().enumerate() {
        let jittered: Vec<f32> =
            param.tensor.as_vec().iter().zip(random(param.len(), 100 + p as u64)).map(|(v, r)| v + 0.05 * r).collect();
        param.tensor.copy_from(&jittered);
    }
    model
}

/// Central difference of `loss(delta)` at 0, or None where the loss has a kink within the
/// step (the left and right slopes disagree): a ReLU corner is no place to compare.
fn slope(mut loss: impl FnMut(f32) -> f64) -> Option<f32> {
    let h = 5e-4f32;
    let (minus, zero, plus) = (loss(-h), loss(0.0), loss(h));
    let left = ((zero - minus) / h as f64) as f32;
    let right = ((plus - zero) / h as f64) as f32;
    let central = ((plus - minus) / (2.0 * h as f64)) as f32;
    ((left - right).abs() <= 2e-3 + 5e-2 * left.abs().max(right.abs())).then_some(central)
}

/// Compares autodiff with the finite difference; counts kinks skipped.
fn check(name: &str, what: &str, autodiff: f32, numeric: Option<f32>, skipped: &mut usize) {
    match numeric {
        Some(n) => assert!(
            (n - autodiff).abs() <= 1e-3 + 5e-2 * autodiff.abs().max(n.abs()),
            "{name}: {what}: finite difference {n} vs autodiff {autodiff}"
        ),
        None => *skipped += 1,
    }
}

#[test]
fn gradients_match_central_finite_differences() {
    // ONLY=NAME checks one configuration; a name that matches none is an error, not a
    // pass that checked nothing.
    let only = std::env::var("ONLY").unwrap_or_default();
    let all = configurations();
    let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
    let chosen: Vec<_> = all.iter().filter(|(name, _)| only.is_empty() || *name == only).collect();
    assert!(!chosen.is_empty(), "ONLY={only:?} matches no configuration; the names are: {}", names.join(", "));
    for (name, config) in chosen {
        let (experiment, dataset) = tiny(config);
        let mut model = jittered_model(&experiment, &dataset);
        let rows: Vec<u32> = dataset.split.train[..32].to_vec();
        let (_, mut grads) = loss_and_grads(&model, &dataset, &rows);
        let mut rng = Pcg64::seed_from_u64(1);
        let (mut checked, mut skipped) = (0usize, 0usize);
        for p in 0..model.params.params.len() {
            let analytic = {
                let param = &model.params.params[p];
                grads.get_or_alloc_mut(&param.tensor).unwrap();
                grads.get(&param.tensor).as_vec()
            };
            let values = model.params.params[p].tensor.as_vec();
            // A few coordinates per parameter, the largest-gradient one among them.
            let mut coords: Vec<usize> = (0..3).map(|_| rng.gen_range(0..values.len())).collect();
            coords.push((0..values.len()).max_by(|&a, &b| analytic[a].abs().total_cmp(&analytic[b].abs())).unwrap());
            for i in coords {
                let numeric = slope(|delta| {
                    let mut shifted = values.clone();
                    shifted[i] += delta;
                    model.params.params[p].tensor.copy_from(&shifted);
                    loss_only(&model, &dataset, &rows)
                });
                model.params.params[p].tensor.copy_from(&values);
                let what = format!("{} [{i}]", model.params.params[p].name);
                check(name, &what, analytic[i], numeric, &mut skipped);
                checked += 1;
            }
        }
        assert!(skipped * 10 <= checked, "{name}: {skipped} of {checked} coordinates sat on kinks");
    }
}

#[test]
fn only_naming_no_configuration_fails() {
    let test = "gradients_match_central_finite_differences";
    let output = common::rerun(test, &[("ONLY", Some("no-such-configuration"))]);
    let printed = common::printed(&output);
    assert!(!output.status.success(), "{printed}");
    assert!(
        printed.contains("ONLY=\"no-such-configuration\" matches no configuration; the names are: static, v1,"),
        "{printed}"
    );
}

#[test]
fn the_cost_preview_counts_the_dense_parameters_the_model_builds() {
    // Every model family of the gradient checks, plus batch norm, v1-v3 under mix-wise
    // output attention, and self-wise v2 with a generator trunk.
    let mut configs = configurations();
    let with = |config: &str, extra: &str| config.replacen("[model]\n", &format!("[model]\n{extra}\n"), 1);
    let mix_output = configs.iter().find(|(n, _)| *n == "mix output attention").unwrap().1.clone();
    let self_wise = configs.iter().find(|(n, _)| *n == "self").unwrap().1.clone();
    let extra = vec![
        ("batch norm, mix output", with(&mix_output, "batch_norm = true")),
        ("v1 mix output", mix_output.replace("\"v4\"", "\"v1\"")),
        ("v2 mix output", mix_output.replace("\"v4\"", "\"v2\"")),
        (
            "v2 self, trunk",
            self_wise
                .replace("\"v5\"", "\"v2\"")
                .replace("[apg.condition]", "generator_hidden = [5, 3]\n[apg.condition]"),
        ),
        ("batch norm, dcnv2", with(&configs.iter().find(|(n, _)| *n == "dcnv2").unwrap().1, "batch_norm = true")),
    ];
    configs.extend(extra);
    for (name, config) in configs {
        let (experiment, dataset) = tiny(&config);
        let model = Model::new(&experiment, &dataset, Cpu::default(), 3).unwrap();
        let cost = apg_bench::model::cost::cost(&experiment);
        assert_eq!(cost.dense_params, model.param_counts().dense, "{name}");
        // Independently: the model's learned parameters, summed by hand.
        let learned: usize =
            model.params.params.iter().filter(|p| p.trainable).map(|p| p.shape.iter().product::<usize>()).sum();
        assert_eq!(cost.dense_params, learned, "{name}");
    }
}

#[test]
fn every_parameter_receives_a_gradient() {
    for (name, config) in configurations() {
        let (experiment, dataset) = tiny(&config);
        let model = Model::new(&experiment, &dataset, Cpu::default(), 3).unwrap();
        let rows: Vec<u32> = dataset.split.train.to_vec();
        let (_, mut grads) = loss_and_grads(&model, &dataset, &rows);
        for param in &model.params.params {
            grads.get_or_alloc_mut(&param.tensor).unwrap();
            let g = grads.get(&param.tensor).as_vec();
            assert!(g.iter().any(|v| *v != 0.0), "{name}: {} has an all-zero gradient", param.name);
        }
        // The embedding leaves get gradients too.
        let batch = model.batch(&dataset, &rows);
        let device_batch = model.to_device(&batch);
        let logits = model.forward::<OwnedTape<f32, Cpu>>(&device_batch, true);
        let mut grads =
            dfdx::losses::binary_cross_entropy_with_logits_loss(logits, device_batch.labels.clone()).backward();
        grads.get_or_alloc_mut(&device_batch.x0).unwrap();
        assert!(
            grads.get(&device_batch.x0).as_vec().iter().any(|v| *v != 0.0),
            "{name}: no gradient reaches the embeddings"
        );
        for condition in &device_batch.conditions {
            grads.get_or_alloc_mut(&condition.z).unwrap();
            assert!(
                grads.get(&condition.z).as_vec().iter().any(|v| *v != 0.0),
                "{name}: no gradient reaches the condition embeddings"
            );
        }
        let _ = Path::new(".");
    }
}

/// Mean BCE of a host batch, in f64.
fn batch_loss(model: &Model<Cpu>, batch: &apg_bench::model::batch::Batch) -> f64 {
    let device_batch = model.to_device(batch);
    let logits = model.forward::<NoneTape>(&device_batch, true).as_vec();
    logits
        .iter()
        .zip(&batch.labels)
        .map(|(&z, &y)| {
            let (z, y) = (z as f64, y as f64);
            z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / batch.labels.len() as f64
}

#[test]
fn embedding_gradients_match_finite_differences() {
    for (name, config) in configurations() {
        let (experiment, dataset) = tiny(&config);
        let model = jittered_model(&experiment, &dataset);
        let rows: Vec<u32> = dataset.split.train[..16].to_vec();
        let mut batch = model.batch(&dataset, &rows);
        // Larger embedding values than the initial 0.01, so the check is not trivial.
        let noise = random(batch.x0.len(), 5);
        batch.x0.iter_mut().zip(noise).for_each(|(v, r)| *v += 0.3 * r);
        for c in &mut batch.conditions {
            let noise = random(c.z.len(), 6);
            c.z.iter_mut().zip(noise).for_each(|(v, r)| *v += 0.3 * r);
        }
        let device_batch = model.to_device(&batch);
        let logits = model.forward::<OwnedTape<f32, Cpu>>(&device_batch, true);
        let mut grads =
            dfdx::losses::binary_cross_entropy_with_logits_loss(logits, device_batch.labels.clone()).backward();
        grads.get_or_alloc_mut(&device_batch.x0).unwrap();
        let x0_grad = grads.get(&device_batch.x0).as_vec();
        let z_grads: Vec<Vec<f32>> = device_batch
            .conditions
            .iter()
            .map(|c| {
                grads.get_or_alloc_mut(&c.z).unwrap();
                grads.get(&c.z).as_vec()
            })
            .collect();
        let mut rng = Pcg64::seed_from_u64(2);
        let (mut checked, mut skipped) = (0usize, 0usize);
        for _ in 0..12 {
            let i = rng.gen_range(0..batch.x0.len());
            let original = batch.x0[i];
            let numeric = slope(|delta| {
                batch.x0[i] = original + delta;
                batch_loss(&model, &batch)
            });
            batch.x0[i] = original;
            check(name, &format!("x0[{i}]"), x0_grad[i], numeric, &mut skipped);
            checked += 1;
        }
        for (c, z_grad) in z_grads.iter().enumerate() {
            for (i, &a) in z_grad.iter().enumerate() {
                let original = batch.conditions[c].z[i];
                let numeric = slope(|delta| {
                    batch.conditions[c].z[i] = original + delta;
                    batch_loss(&model, &batch)
                });
                batch.conditions[c].z[i] = original;
                check(name, &format!("z{c}[{i}]"), a, numeric, &mut skipped);
                checked += 1;
            }
        }
        assert!(skipped * 10 <= checked, "{name}: {skipped} of {checked} coordinates sat on kinks");
    }
}

#[test]
fn inference_with_merged_weights_matches_the_training_forward() {
    for (name, config) in configurations() {
        let (experiment, dataset) = tiny(&config);
        let mut model = Model::new(&experiment, &dataset, Cpu::default(), 4).unwrap();
        let rows: Vec<u32> = dataset.split.train.to_vec();
        let batch = model.to_device(&model.batch(&dataset, &rows));
        let training = model.forward::<OwnedTape<f32, Cpu>>(&batch, true).as_vec();
        model.merge_for_inference();
        let inference = model.forward::<NoneTape>(&batch, false).as_vec();
        let scale = training.iter().map(|v| v.abs()).fold(0f32, f32::max);
        for (a, b) in training.iter().zip(&inference) {
            assert!((a - b).abs() <= 1e-5 * scale.max(1.0), "{name}: {a} vs {b}");
        }
    }
}

/// The grouped fast path (a batch sorted by condition, each block of rows multiplied by
/// its condition's matrices once) gives the same outputs and gradients as gathering the
/// generated matrices per row, for every variant.
#[test]
fn condition_blocks_equal_per_row_gathering() {
    let tower = "[model]\nhidden = [8, 6]\nembedding_dim = 4\n";
    for variant in ["v1", "v2", "v3", "v4", "v5"] {
        let config = format!(
            "{tower}[apg]\nvariant = \"{variant}\"\nrank = [3, 2]\noverparam = [5, 4]\n[apg.condition]\nmode = \"group\"\nfields = [\"domain\"]\n"
        );
        let (experiment, dataset) = tiny(&config);
        let model = jittered_model(&experiment, &dataset);
        let rows: Vec<u32> = dataset.split.train[..40].to_vec();
        let blocks = model.to_device(&model.batch(&dataset, &rows));
        let segments = blocks.conditions[0].segments.clone().expect("one condition input: segments");
        assert!(segments.len() > 1, "{variant}: the batch mixes several conditions");
        let mut per_row = model.to_device(&model.batch(&dataset, &rows));
        per_row.conditions[0].segments = None;

        let outputs = |batch| model.forward::<NoneTape>(batch, false).as_vec();
        assert_close(&outputs(&blocks), &outputs(&per_row), 1e-5);

        let grads = |batch: &apg_bench::model::batch::DeviceBatch<Cpu>| {
            let logits = model.forward::<OwnedTape<f32, Cpu>>(batch, true);
            let mut grads =
                dfdx::losses::binary_cross_entropy_with_logits_loss(logits, batch.labels.clone()).backward();
            model
                .params
                .params
                .iter()
                .flat_map(|p| {
                    grads.get_or_alloc_mut(&p.tensor).unwrap();
                    grads.get(&p.tensor).as_vec()
                })
                .collect::<Vec<f32>>()
        };
        assert_close(&grads(&blocks), &grads(&per_row), 1e-4);
    }
}
