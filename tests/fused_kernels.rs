//! The fused CPU operations (`model::fused`) against the unfused path (dfdx's own
//! operations, `ParamSet::fused = false`): the same model, the same batch, logits and
//! the gradients of every parameter and every leaf (embedding rows, condition
//! embeddings) equal to 1e-5, for every model family, at 1 and 2 threads, with batches
//! large enough that the kernels split their loops across threads; the parameters after
//! training steps (fused Adam included) likewise. And the GEMM helper against a plain
//! triple loop, in every transpose combination.

use std::path::Path;

use apg_bench::bench::models::peer_like_dataset;
use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::data::EncodedDataset;
use apg_bench::model::Model;
use apg_bench::model::kernels::{self, Operand};
use apg_bench::train::run::{StepSettings, predict_batch, train_step};
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

const DESCRIPTOR: &str = "name = \"fused\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"x.csv\"\n\
    [label]\ncolumn = \"label\"\n";

fn descriptor() -> String {
    let mut text = DESCRIPTOR.to_string();
    for name in ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f1b"] {
        text += &format!("[[fields]]\nname = \"{name}\"\nkind = \"categorical\"\n");
    }
    text
}

/// The model families, on the peer-like data's fields (domain f0, bucket f1b).
fn configurations() -> Vec<(&'static str, String)> {
    let tower = "[model]\nhidden = [48, 24]\nembedding_dim = 6\ninputs = [\"f0\", \"f1\", \"f2\", \"f3\", \"f4\"]\n";
    let apg = |variant: &str, extra: &str, condition: &str| {
        format!(
            "{tower}[apg]\nvariant = \"{variant}\"\nrank = [6, 4]\noverparam = [10, 8]\n{extra}\n\
             [apg.condition]\n{condition}\n"
        )
    };
    let group = "mode = \"group\"\nfields = [\"f0\"]";
    let mut configs = vec![("static", tower.to_string())];
    for variant in ["v1", "v2", "v3", "v4", "v5"] {
        configs.push((variant, apg(variant, "", group)));
    }
    configs.push(("v4 static bias", apg("v4", "generate_bias = false", group)));
    configs
        .push(("v5 static bias, generator hidden", apg("v5", "generate_bias = false\ngenerator_hidden = [7]", group)));
    configs.push(("v4 mix", apg("v4", "", "mode = \"mix\"\nfields = [\"f0\", \"f1b\"]")));
    configs
        .push(("v4 mix output", apg("v4", "", "mode = \"mix\"\nfields = [\"f0\", \"f1b\"]\naggregation = \"output\"")));
    for variant in ["v1", "v3", "v4", "v5"] {
        configs.push((variant, apg(variant, "generate_bias = false", "mode = \"self\"")));
    }
    configs.push(("v4 self, generated bias", apg("v4", "", "mode = \"self\"")));
    configs.push(("batch norm", apg("v4", "", group).replace("[model]\n", "[model]\nbatch_norm = true\n")));
    configs.push(("dcnv2", apg("v5", "", group).replace("[model]\n", "[model]\nbase = \"dcnv2\"\n")));
    configs
}

fn experiment(dir: &Path, name: &str, text: &str) -> LoadedExperiment {
    std::fs::write(dir.join("data.toml"), descriptor()).unwrap();
    let file = dir.join(format!("{}.toml", name.replace([' ', ','], "-")));
    LoadedExperiment::from_text(&file, &format!("dataset = \"data.toml\"\n{text}")).unwrap_or_else(|e| panic!("{e}"))
}

/// Logits, and the gradients of every parameter, x0 and the condition embeddings.
fn logits_and_gradients(model: &Model<Cpu>, dataset: &EncodedDataset, rows: &[u32]) -> (Vec<f32>, Vec<Vec<f32>>) {
    let batch = model.to_device(&model.batch(dataset, rows));
    let logits = model.forward::<OwnedTape<f32, Cpu>>(&batch, true);
    let values = logits.as_vec();
    let mut grads = dfdx::losses::binary_cross_entropy_with_logits_loss(logits, batch.labels.clone()).backward();
    let mut gradients = Vec::new();
    for param in model.params.params.iter().filter(|p| p.trainable) {
        grads.get_or_alloc_mut(&param.tensor).unwrap();
        gradients.push(grads.get(&param.tensor).as_vec());
    }
    grads.get_or_alloc_mut(&batch.x0).unwrap();
    gradients.push(grads.get(&batch.x0).as_vec());
    for condition in &batch.conditions {
        grads.get_or_alloc_mut(&condition.z).unwrap();
        gradients.push(grads.get(&condition.z).as_vec());
    }
    (values, gradients)
}

fn assert_close(what: &str, fused: &[f32], unfused: &[f32]) {
    assert_eq!(fused.len(), unfused.len(), "{what}: lengths");
    let scale = unfused.iter().fold(1f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in fused.iter().zip(unfused).enumerate() {
        assert!((a - b).abs() <= 1e-5 * scale, "{what}[{i}]: fused {a} vs unfused {b} (scale {scale})");
    }
}

fn compare_paths(threads: usize) {
    let dir = tempfile::tempdir().unwrap();
    let dataset = peer_like_dataset(3000, 5);
    let rows: Vec<u32> = dataset.split.train[..1500].to_vec();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    for (name, text) in configurations() {
        let experiment = experiment(dir.path(), name, &text);
        let mut model = Model::new(&experiment, &dataset, Cpu::default(), 11).unwrap();
        assert!(model.params.fused, "the CPU runs the fused operations by default");
        let (fused, fused_grads) = pool.install(|| logits_and_gradients(&model, &dataset, &rows));
        model.params.fused = false;
        let (unfused, unfused_grads) = pool.install(|| logits_and_gradients(&model, &dataset, &rows));
        assert_close(&format!("{name}: logits"), &fused, &unfused);
        let names = model.params.params.iter().filter(|p| p.trainable).map(|p| p.name.clone());
        let names: Vec<String> = names.chain(["x0".to_string()]).chain(["z".to_string(), "z".to_string()]).collect();
        assert_eq!(fused_grads.len(), unfused_grads.len());
        for ((g_fused, g_unfused), what) in fused_grads.iter().zip(&unfused_grads).zip(&names) {
            assert!(g_unfused.iter().any(|v| *v != 0.0), "{name}: {what} has a gradient to compare");
            assert_close(&format!("{name}: gradient of {what}"), g_fused, g_unfused);
        }
        // Inference (no tape), v5's U and V merged.
        model.params.fused = true;
        model.merge_for_inference();
        let batch = model.to_device(&model.batch(&dataset, &rows));
        let fused = pool.install(|| model.forward::<NoneTape>(&batch, false).as_vec());
        model.params.fused = false;
        let unfused = pool.install(|| model.forward::<NoneTape>(&batch, false).as_vec());
        assert_close(&format!("{name}: inference"), &fused, &unfused);
        // predict_batch runs more rows than two blocks as blocks on the pool's threads
        // and returns them in the rows' order: the unfused single pass, put in order.
        model.params.fused = true;
        let predicted = pool.install(|| predict_batch(&model, &dataset, &rows));
        let order = model.batch(&dataset, &rows).order;
        let mut expected = vec![0f32; rows.len()];
        for (logit, &position) in unfused.iter().zip(&order) {
            expected[position] = 1.0 / (1.0 + (-logit).exp());
        }
        assert_close(&format!("{name}: blocked inference"), &predicted, &expected);
    }
}

#[test]
fn fused_operations_equal_the_unfused_path_on_one_thread() {
    compare_paths(1);
}

#[test]
fn fused_operations_equal_the_unfused_path_on_two_threads() {
    compare_paths(2);
}

#[test]
fn gemm_equals_a_plain_loop_in_every_layout() {
    let mut rng = Pcg64::seed_from_u64(3);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (m, n, k) in [(1, 1, 1), (7, 5, 3), (130, 70, 90), (300, 200, 100)] {
        let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            // Element (i, p) of A and (p, j) of B, read as stored.
            let at = |i: usize, p: usize| if a_t { a[p * m + i] } else { a[i * k + p] };
            let bt = |p: usize, j: usize| if b_t { b[j * k + p] } else { b[p * n + j] };
            let mut expected = c0.clone();
            for i in 0..m {
                for j in 0..n {
                    expected[i * n + j] += (0..k).map(|p| at(i, p) * bt(p, j)).sum::<f32>();
                }
            }
            let mut c = c0.clone();
            let (a_op, b_op) = (Operand { values: &a, transposed: a_t }, Operand { values: &b, transposed: b_t });
            pool.install(|| kernels::gemm(m, n, k, a_op, b_op, &mut c, true));
            let product = pool.install(|| kernels::product(m, n, k, a_op, b_op));
            for i in 0..m * n {
                assert!((c[i] - expected[i]).abs() < 1e-4, "{m}x{n}x{k} {a_t}/{b_t}: accumulated [{i}]");
                assert!((product[i] - (expected[i] - c0[i])).abs() < 1e-4, "{m}x{n}x{k} {a_t}/{b_t}: product [{i}]");
            }
        }
    }
}

#[test]
fn training_steps_equal_the_unfused_steps() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = peer_like_dataset(3000, 6);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let configs = configurations();
    let chosen = ["static", "v5 static bias, generator hidden", "v4 self, generated bias"];
    for (name, text) in configs.into_iter().filter(|(name, _)| chosen.contains(name)) {
        // Weight decay on, so that the L2 term of Adam is compared too.
        let experiment = experiment(dir.path(), name, &format!("{text}[train]\nweight_decay = 0.01\n"));
        let settings = StepSettings::from_spec(&experiment.experiment.train);
        let models: Vec<Vec<Vec<f32>>> = [true, false]
            .into_iter()
            .map(|fused| {
                let mut model = Model::new(&experiment, &dataset, Cpu::default(), 12).unwrap();
                model.params.fused = fused;
                for rows in dataset.split.train.chunks(1024).take(3) {
                    pool.install(|| train_step(&mut model, &dataset, rows, &settings)).unwrap();
                }
                model.params.snapshot()
            })
            .collect();
        let experiment_params = Model::new(&experiment, &dataset, Cpu::default(), 12).unwrap();
        for ((fused, unfused), param) in models[0].iter().zip(&models[1]).zip(&experiment_params.params.params) {
            assert_close(&format!("{name}: {} after 3 steps", param.name), fused, unfused);
        }
    }
}
