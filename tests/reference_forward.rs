//! The model against an independent plain-loop f64 reference (tests/reference): the
//! forward pass of every variant, condition mode and base model on random weights (with
//! and without batch norm, in evaluation and training), the gradients written back into
//! embedding rows, batch norm's running statistics, and the optimiser paths (lazy and
//! dense Adam on embeddings, weight decay, embedding L2, gradient clipping) against
//! hand-written Adam.

mod reference;

use std::collections::HashMap;

use apg_bench::config::experiment::EmbeddingOptimizer;
use apg_bench::data::{Column, EncodedDataset};
use apg_bench::model::Model;
use apg_bench::model::embedding::EmbeddingTable;
use apg_bench::model::params::AdamSettings;
use apg_bench::train::run::{StepSettings, train_step};
use dfdx::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use reference::{NORM_MOMENTUM, Norm, Reference, central_difference, close, load, random_model, uniform};

/// The deep tower every configuration starts from: fields of widths 4, 5, 4, 4, 6 and
/// a number (input width 24), K = 5 then 3 (never square with N_in or N_out), P = 7, 6.
const TOWER: &str = "[model]\nhidden = [12, 8]\nembedding_dim = 4\n[model.embedding_dims]\nitem = 5\ntags = 6\n";

fn apg(variant: &str, extra: &str, condition: &str) -> String {
    format!(
        "{TOWER}[apg]\nvariant = \"{variant}\"\nrank = [5, 3]\noverparam = [7, 6]\n{extra}\n[apg.condition]\n{condition}\n"
    )
}

const GROUP: &str = "mode = \"group\"\nfields = [\"domain\"]";
const MIX: &str = "mode = \"mix\"\nfields = [\"domain\", \"device\"]";

fn configurations() -> Vec<(String, String)> {
    let mut configs = vec![("static".to_string(), TOWER.to_string())];
    for variant in ["v1", "v2", "v3", "v4", "v5"] {
        configs.push((format!("{variant} group"), apg(variant, "", GROUP)));
        configs.push((format!("{variant} group, static bias"), apg(variant, "generate_bias = false", GROUP)));
    }
    let mut more = vec![
        ("v4 generator trunk", apg("v4", "generator_hidden = [6]", GROUP)),
        ("v2 generator trunk, static bias", apg("v2", "generator_hidden = [5]\ngenerate_bias = false", GROUP)),
        ("v5 second layer static", apg("v5", "layers = [true, false]", GROUP)),
        ("v3 first layer static", apg("v3", "layers = [false, true]", GROUP)),
        (
            "v4 group, separate embedding",
            apg("v4", "", "mode = \"group\"\nfields = [\"user\"]\nseparate_embedding = true\nembedding_dim = 3"),
        ),
        (
            "v5 group on a field that is not an input",
            apg("v5", "", "mode = \"group\"\nfields = [\"device\"]\nembedding_dim = 6")
                .replace("[model]\n", "[model]\ninputs = [\"user\", \"item\", \"domain\", \"tags\", \"price\"]\n"),
        ),
        ("v5 mix concat", apg("v5", "", MIX)),
        ("v4 mix mean", apg("v4", "", &format!("{MIX}\ninput_agg = \"mean\""))),
        ("v5 mix attention", apg("v5", "", &format!("{MIX}\ninput_agg = \"attention\""))),
        (
            "v2 mix attention over three fields",
            apg("v2", "", "mode = \"mix\"\nfields = [\"domain\", \"device\", \"user\"]\ninput_agg = \"attention\""),
        ),
        ("v4 mix output mean", apg("v4", "", &format!("{MIX}\naggregation = \"output\""))),
        (
            "v5 mix output attention, trunk",
            apg(
                "v5",
                "generator_hidden = [4]",
                &format!("{MIX}\naggregation = \"output\"\noutput_agg = \"attention\""),
            ),
        ),
        ("v4 self", apg("v4", "", "mode = \"self\"")),
        ("v1 self, static bias", apg("v1", "generate_bias = false", "mode = \"self\"")),
        ("v5 self", apg("v5", "", "mode = \"self\"")),
    ];
    // Mix-wise concat over condition embeddings of different widths: both fields shared
    // with the inputs (domain 4, device 6), and three fields, the widest first and
    // condition-only (device 6, domain 4, user 3), so that no stride of the first
    // field's width can slice z right by chance.
    more.push(("v4 mix concat, widths 4 and 6", apg("v4", "", MIX).replace("tags = 6\n", "tags = 6\ndevice = 6\n")));
    more.push((
        "v5 mix concat, widths 6, 4 and 3, condition-only device",
        apg("v5", "", "mode = \"mix\"\nfields = [\"device\", \"domain\", \"user\"]\nembedding_dim = 6")
            .replace("tags = 6\n", "tags = 6\nuser = 3\n")
            .replace("[model]\n", "[model]\ninputs = [\"user\", \"item\", \"domain\", \"tags\", \"price\"]\n"),
    ));
    let equal_widths = |config: String| config.replace("[model.embedding_dims]\nitem = 5\ntags = 6\n", "");
    let base = |config: String, base: &str| config.replace("[model]\n", &format!("[model]\nbase = \"{base}\"\n"));
    more.push(("deepfm static", base(equal_widths(TOWER.to_string()), "deepfm")));
    more.push(("deepfm v4", base(equal_widths(apg("v4", "", GROUP)), "deepfm")));
    more.push(("wdl static", base(TOWER.to_string(), "wdl")));
    more.push(("wdl v5 mix attention", base(apg("v5", "", &format!("{MIX}\ninput_agg = \"attention\"")), "wdl")));
    more.push(("dcn static", base(TOWER.to_string(), "dcn").replace("[model]\n", "[model]\ncross_layers = 2\n")));
    more.push(("dcn v5", base(apg("v5", "", GROUP), "dcn").replace("[model]\n", "[model]\ncross_layers = 3\n")));
    more.push(("dcnv2 static", base(TOWER.to_string(), "dcnv2").replace("[model]\n", "[model]\ncross_layers = 2\n")));
    more.push((
        "dcnv2 v4 self",
        base(apg("v4", "", "mode = \"self\""), "dcnv2").replace("[model]\n", "[model]\ncross_layers = 2\n"),
    ));
    configs.extend(more.into_iter().map(|(n, c)| (n.to_string(), c)));
    configs.extend(batch_norm_configurations());
    configs
}

/// Models with batch norm: every dense and APG pre-activation normalised, one norm per
/// condition path of the mix-wise output-aggregated layers.
fn batch_norm_configurations() -> Vec<(String, String)> {
    let norm = |config: String| config.replace("[model]\n", "[model]\nbatch_norm = true\n");
    vec![
        ("static, batch norm".into(), norm(TOWER.to_string())),
        ("v4 group, batch norm".into(), norm(apg("v4", "", GROUP))),
        (
            "v5 mix output attention, batch norm".into(),
            norm(apg("v5", "", &format!("{MIX}\naggregation = \"output\"\noutput_agg = \"attention\""))),
        ),
        (
            "v3 self, first layer static, batch norm".into(),
            norm(apg("v3", "layers = [false, true]", "mode = \"self\"")),
        ),
    ]
}

/// Every third row: 54 rows whose conditions come in no particular order.
fn batch_rows() -> Vec<u32> {
    (0..reference::ROWS as u32).step_by(3).collect()
}

/// The model's eval logits of `rows`, each with the dataset row it belongs to (the batch
/// may be reordered by condition: `order` says where each requested row went).
fn model_logits(model: &Model<Cpu>, dataset: &EncodedDataset, rows: &[u32]) -> Vec<(u32, f64)> {
    forward_logits(model, dataset, rows, false)
}

/// The model's logits of `rows` in evaluation or training mode, by dataset row.
fn forward_logits(model: &Model<Cpu>, dataset: &EncodedDataset, rows: &[u32], training: bool) -> Vec<(u32, f64)> {
    let batch = model.batch(dataset, rows);
    let logits = model.forward::<NoneTape>(&model.to_device(&batch), training).as_vec();
    assert_eq!(logits.len(), rows.len());
    batch
        .order
        .iter()
        .zip(&batch.rows)
        .zip(logits)
        .map(|((&requested, &row), logit)| {
            assert_eq!(rows[requested], row, "batch.order and batch.rows agree");
            (rows[requested], logit as f64)
        })
        .collect()
}

/// Model logits against the reference. The model runs in f32: each logit is a chain of
/// about five dot products of length <= 30 over values of order 1, so its rounding
/// error is a few times 30 x 6e-8 relative to the magnitudes summed, about 2e-6; 1e-5
/// of max(1, |logit|) leaves margin for that and is orders of magnitude below what a
/// transposed matrix, a swapped factor or a wrong row would change with U(-0.5, 0.5)
/// weights.
fn assert_matches_reference(name: &str, model: &Model<Cpu>, reference: &Reference, dataset: &EncodedDataset) {
    let rows = batch_rows();
    let logits = model_logits(model, dataset, &rows);
    let mut worst: f64 = 0.0;
    for &(row, actual) in &logits {
        let expected = reference.logit(dataset, row as usize);
        worst = worst.max((actual - expected).abs() / (1e-5 * expected.abs() + 1e-6));
        assert!(close(actual, expected), "{name}: row {row}: model {actual} vs reference {expected}");
    }
    let spread = logits.iter().map(|l| l.1).fold(f64::NEG_INFINITY, f64::max)
        - logits.iter().map(|l| l.1).fold(f64::INFINITY, f64::min);
    assert!(spread > 0.02, "{name}: the logits barely vary ({spread}): the comparison would say little");
    eprintln!("{name}: worst difference {worst:.3} of the tolerance, logit spread {spread:.2}");
}

#[test]
fn forward_matches_the_plain_loop_reference() {
    for (name, config) in configurations() {
        let (experiment, dataset) = load(&config);
        let mut model = random_model(&experiment, &dataset, 11);
        let reference = Reference::new(&experiment, &model, &dataset);
        assert_matches_reference(&name, &model, &reference, &dataset);
        if config.contains("\"v5\"") {
            model.merge_for_inference();
            assert_matches_reference(&format!("{name}, merged"), &model, &reference, &dataset);
        }
    }
}

/// The comparison is sensitive to what it checks: with the first layer's core
/// transposed, most logits fall outside the tolerance.
#[test]
fn the_reference_tells_a_transposed_core_apart() {
    let (experiment, dataset) = load(&apg("v4", "", GROUP));
    let mut model = random_model(&experiment, &dataset, 5);
    let reference = Reference::new(&experiment, &model, &dataset);
    let (k, z) = (5, 4);
    let core = model.params.params.iter_mut().find(|p| p.name == "tower0.generator0.core.bias").unwrap();
    let values = core.tensor.as_vec();
    let transposed: Vec<f32> = (0..k * k).map(|i| values[(i % k) * k + i / k]).collect();
    core.tensor.copy_from(&transposed);
    let weight = model.params.params.iter_mut().find(|p| p.name == "tower0.generator0.core.weight").unwrap();
    let values = weight.tensor.as_vec();
    let transposed: Vec<f32> =
        (0..z * k * k).map(|i| values[(i / (k * k)) * k * k + (i % k) * k + (i % (k * k)) / k]).collect();
    weight.tensor.copy_from(&transposed);
    let logits = model_logits(&model, &dataset, &batch_rows());
    let differing =
        logits.iter().filter(|&&(row, actual)| !close(actual, reference.logit(&dataset, row as usize))).count();
    assert!(differing * 2 > logits.len(), "only {differing} of {} logits changed", logits.len());
}

/// Gradients of the batch loss written into the tables, read back as pending gradients:
/// one lazy Adam step with betas 0 and lr = eps = 1 moves each entry by -g / (|g| + 1).
fn pending_gradients(model: &mut Model<Cpu>, dataset: &EncodedDataset, rows: &[u32]) -> Vec<(String, Vec<f64>)> {
    let batch = model.batch(dataset, rows);
    let device_batch = model.to_device(&batch);
    let logits = model.forward::<OwnedTape<f32, Cpu>>(&device_batch, true);
    let mut grads = dfdx::losses::binary_cross_entropy_with_logits_loss(logits, device_batch.labels.clone()).backward();
    model.accumulate_embedding_gradients(dataset, &batch, &device_batch, &mut grads).unwrap();
    let read = AdamSettings { lr: 1.0, betas: [0.0, 0.0], eps: 1.0, weight_decay: 0.0 };
    model
        .tables
        .iter_mut()
        .map(|table| {
            let before = table.weights.clone();
            table.adam_step(&read, 0.0, EmbeddingOptimizer::LazyAdam);
            let gradient = before
                .iter()
                .zip(&table.weights)
                .map(|(&b, &a)| {
                    let step = (a - b) as f64;
                    -step / (1.0 - step.abs())
                })
                .collect();
            (table.name.clone(), gradient)
        })
        .collect()
}

/// Which path of the reference a finite difference perturbs.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    Input,
    Condition,
    Both,
}

/// d loss / d entry of every table, by central differences of the reference.
fn reference_gradient(
    reference: &Reference,
    dataset: &EncodedDataset,
    rows: &[u32],
    table: &str,
    path: Path,
) -> Vec<f64> {
    let mut r = reference.clone();
    let len = r.input_tables[table].1.len();
    (0..len)
        .map(|i| {
            let original = r.input_tables[table].1[i];
            let g = central_difference(|delta| {
                if path != Path::Condition {
                    r.input_tables.get_mut(table).unwrap().1[i] = original + delta;
                }
                if path != Path::Input {
                    r.condition_tables.get_mut(table).unwrap().1[i] = original + delta;
                }
                r.loss(dataset, rows)
            });
            r.input_tables.get_mut(table).unwrap().1[i] = original;
            r.condition_tables.get_mut(table).unwrap().1[i] = original;
            g
        })
        .collect()
}

/// Per-entry gradients agree to 2e-7 absolute (reading a gradient back through one Adam
/// step on values of order 0.5 costs their f32 spacing, 6e-8), plus 1e-4 relative, plus
/// 2e-5 of the table's largest gradient (the f32 backward pass sums terms that large).
fn assert_gradients(what: &str, actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len());
    let scale = expected.iter().fold(0f64, |m, e| m.max(e.abs()));
    let worst = actual.iter().zip(expected).fold(0f64, |m, (a, e)| m.max((a - e).abs()));
    eprintln!("{what}: largest gradient {scale:.2e}, largest difference {worst:.2e}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= 2e-7 + 1e-4 * e.abs() + 2e-5 * scale, "{what}[{i}]: model {a} vs reference {e}");
    }
}

#[test]
fn embedding_gradients_match_the_reference() {
    let configs = [
        (
            "deepfm v4",
            apg("v4", "", GROUP)
                .replace("[model]\n", "[model]\nbase = \"deepfm\"\n")
                .replace("[model.embedding_dims]\nitem = 5\ntags = 6\n", ""),
        ),
        (
            "v5 mix output attention, condition-only device",
            apg(
                "v5",
                "generator_hidden = [4]",
                &format!("{MIX}\naggregation = \"output\"\noutput_agg = \"attention\"\nembedding_dim = 4"),
            )
            .replace("[model]\n", "[model]\ninputs = [\"user\", \"item\", \"domain\", \"tags\", \"price\"]\n"),
        ),
        ("v3 self", apg("v3", "", "mode = \"self\"")),
        // z = [device (6, condition-only) | domain (4, shared)]: each field's slice of
        // z's gradient goes back into its own table's row.
        (
            "v2 mix concat, widths 6 and 4",
            apg("v2", "", "mode = \"mix\"\nfields = [\"device\", \"domain\"]\nembedding_dim = 6")
                .replace("[model]\n", "[model]\ninputs = [\"user\", \"item\", \"domain\", \"tags\", \"price\"]\n"),
        ),
    ];
    let rows: Vec<u32> = (0..reference::ROWS as u32).step_by(5).collect();
    for (name, config) in configs {
        let (experiment, dataset) = load(&config);
        let mut model = random_model(&experiment, &dataset, 21);
        let reference = Reference::new(&experiment, &model, &dataset);
        let mut nonzero = 0;
        for (table, actual) in pending_gradients(&mut model, &dataset, &rows) {
            let expected = reference_gradient(&reference, &dataset, &rows, &table, Path::Both);
            assert_gradients(&format!("{name}: {table}"), &actual, &expected);
            nonzero += expected.iter().filter(|g| g.abs() > 1e-5).count();
        }
        assert!(nonzero > 50, "{name}: only {nonzero} entries have a gradient worth comparing");
    }
}

/// With `detach_condition` the condition fields' tables (shared with the inputs: a
/// condition-only table cannot be detached, the configuration refuses it) learn
/// through the input path only; attached, through both.
#[test]
fn detached_conditions_send_no_gradient_into_their_embeddings() {
    let config = |detach: bool| apg("v4", &format!("detach_condition = {detach}"), MIX);
    let rows: Vec<u32> = (0..reference::ROWS as u32).step_by(4).collect();
    for detach in [true, false] {
        let (experiment, dataset) = load(&config(detach));
        let mut model = random_model(&experiment, &dataset, 31);
        let reference = Reference::new(&experiment, &model, &dataset);
        let gradients = pending_gradients(&mut model, &dataset, &rows);
        for table in ["domain", "device"] {
            let actual = &gradients.iter().find(|(n, _)| n == table).unwrap().1;
            let input_only = reference_gradient(&reference, &dataset, &rows, table, Path::Input);
            let both = reference_gradient(&reference, &dataset, &rows, table, Path::Both);
            let apart = input_only.iter().zip(&both).filter(|(a, b)| (*a - *b).abs() > 1e-3).count();
            assert!(apart >= 4, "{table}: the condition path must change the gradient for the test to tell");
            let (what, expected) = if detach { ("detached", &input_only) } else { ("attached", &both) };
            assert_gradients(&format!("{what}: {table}"), actual, expected);
        }
    }
}

/// The ids of `table`'s rows that `rows` read.
fn touched_ids(dataset: &EncodedDataset, table: &str, rows: &[u32]) -> Vec<u32> {
    let field = table.split('.').next().unwrap();
    let column = &dataset.field(field).unwrap().column;
    let mut ids: Vec<u32> = rows
        .iter()
        .flat_map(|&r| match column {
            Column::Ids(ids) => vec![ids[r as usize]],
            Column::Multi { offsets, ids } => {
                ids[offsets[r as usize] as usize..offsets[r as usize + 1] as usize].to_vec()
            }
            Column::Dense(_) => vec![],
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn step_settings(optimizer: EmbeddingOptimizer) -> StepSettings {
    StepSettings {
        adam: AdamSettings { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.0 },
        embedding_l2: 0.0,
        embedding_optimizer: optimizer,
        clip_norm: 0.0,
    }
}

fn row_of(model: &Model<Cpu>, table: &str, id: u32) -> Vec<f32> {
    model.tables.iter().find(|t| t.name == table).unwrap().row(id).to_vec()
}

#[test]
fn lazy_adam_moves_exactly_the_rows_a_batch_touched() {
    let config = apg("v5", "", &format!("{MIX}\nembedding_dim = 4\naggregation = \"output\"")).replace(
        "[model]\n",
        "[model]\nbase = \"wdl\"\ninputs = [\"user\", \"item\", \"domain\", \"tags\", \"price\"]\n",
    );
    let (experiment, dataset) = load(&config);
    let mut model = random_model(&experiment, &dataset, 41);
    let rows: Vec<u32> = (0..12).collect();
    let before: Vec<Vec<f32>> = model.tables.iter().map(|t| t.weights.clone()).collect();
    train_step(&mut model, &dataset, &rows, &step_settings(EmbeddingOptimizer::LazyAdam)).unwrap();
    let mut untouched = 0;
    for (table, before) in model.tables.iter().zip(&before) {
        let touched = touched_ids(&dataset, &table.name, &rows);
        for id in 0..table.rows as u32 {
            let old = &before[id as usize * table.dim..(id as usize + 1) * table.dim];
            if touched.contains(&id) {
                assert_ne!(table.row(id), old, "{}: touched row {id} did not move", table.name);
            } else {
                assert_eq!(table.row(id), old, "{}: untouched row {id} moved", table.name);
                untouched += 1;
            }
        }
    }
    assert!(untouched > 20, "the batch leaves rows untouched");
}

/// A row touched at step 1 only: dense Adam keeps moving it at step 2 on its momentum,
/// by b1 / (1 + b1) / sqrt(b2 / (1 + b2)) (= 0.670 for 0.9, 0.999) of its first move
/// when |g| >> eps; lazy Adam leaves it. A row never touched never moves.
#[test]
fn dense_adam_moves_untouched_rows_on_their_momentum_only() {
    let user = |dataset: &EncodedDataset, r: u32| match &dataset.field("user").unwrap().column {
        Column::Ids(ids) => ids[r as usize],
        _ => unreachable!(),
    };
    for optimizer in [EmbeddingOptimizer::Adam, EmbeddingOptimizer::LazyAdam] {
        let (experiment, dataset) = load(&apg("v4", "", GROUP));
        let mut model = random_model(&experiment, &dataset, 51);
        let all: Vec<u32> = (0..reference::ROWS as u32).collect();
        let never = user(&dataset, 0);
        let first: Vec<u32> = all.iter().copied().filter(|&r| user(&dataset, r) != never).take(16).collect();
        let once = user(&dataset, first[0]);
        let second: Vec<u32> =
            all.iter().copied().filter(|&r| ![never, once].contains(&user(&dataset, r))).take(16).collect();
        let settings = step_settings(optimizer);
        let (never0, once0) = (row_of(&model, "user", never), row_of(&model, "user", once));
        train_step(&mut model, &dataset, &first, &settings).unwrap();
        let once1 = row_of(&model, "user", once);
        assert_eq!(row_of(&model, "user", never), never0, "{optimizer:?}: step 1 moved an untouched row");
        let first_move: Vec<f32> = once1.iter().zip(&once0).map(|(a, b)| a - b).collect();
        assert!(first_move.iter().all(|m| m.abs() > 5e-4), "{optimizer:?}: step 1 moves a touched row by ~lr");
        train_step(&mut model, &dataset, &second, &settings).unwrap();
        let once2 = row_of(&model, "user", once);
        assert_eq!(row_of(&model, "user", never), never0, "{optimizer:?}: a row without momentum moved");
        match optimizer {
            EmbeddingOptimizer::LazyAdam => assert_eq!(once2, once1, "lazy Adam moved a row absent from step 2"),
            EmbeddingOptimizer::Adam => {
                let ratio = 0.9 / 1.9 / (0.999f64 / 1.999).sqrt();
                for ((a, b), m) in once2.iter().zip(&once1).zip(&first_move) {
                    let expected = ratio * *m as f64;
                    assert!(
                        ((a - b) as f64 - expected).abs() <= 1e-3 * expected.abs() + 1e-7,
                        "{} vs {expected}",
                        a - b
                    );
                }
            }
        }
    }
}

/// Row-wise Adam in f64 over a table of `rows` x `dim`: the reference for both
/// optimisers. `steps` holds each step's pending gradient per touched row.
fn plain_adam(
    initial: &[f32],
    dim: usize,
    steps: &[Vec<(u32, Vec<f32>)>],
    settings: &AdamSettings,
    l2: f64,
    dense: bool,
) -> Vec<f64> {
    let mut w: Vec<f64> = initial.iter().map(|&v| v as f64).collect();
    let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
    let [b1, b2] = settings.betas;
    for (t, pending) in steps.iter().enumerate() {
        let t = t as i32 + 1;
        let mut gradient: Vec<Option<f64>> = vec![if dense { Some(0.0) } else { None }; w.len()];
        for (id, g) in pending {
            for (j, g) in g.iter().enumerate() {
                let slot = &mut gradient[*id as usize * dim + j];
                *slot = Some(slot.unwrap_or(0.0) + *g as f64);
            }
        }
        for i in 0..w.len() {
            let Some(g) = gradient[i] else { continue };
            let g = g + l2 * w[i];
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let (m_hat, v_hat) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
            w[i] -= settings.lr * m_hat / (v_hat.sqrt() + settings.eps);
        }
    }
    w
}

#[test]
fn embedding_adam_matches_plain_adam_over_three_steps() {
    let (rows, dim) = (6, 5);
    let mut rng = Pcg64::seed_from_u64(61);
    // Row 1 at steps 1 and 3, row 3 twice at step 1 and at step 2, row 4 at step 2:
    // moments that skip a step, sums of two gradients, rows never touched.
    let steps: Vec<Vec<(u32, Vec<f32>)>> = vec![
        vec![(1, uniform(dim, 0.3, &mut rng)), (3, uniform(dim, 0.3, &mut rng)), (3, uniform(dim, 0.3, &mut rng))],
        vec![(3, uniform(dim, 0.3, &mut rng)), (4, uniform(dim, 0.3, &mut rng))],
        vec![(1, uniform(dim, 0.3, &mut rng))],
    ];
    // eps comparable to the gradients, so each step depends on their values, not signs.
    let settings = AdamSettings { lr: 0.05, betas: [0.8, 0.95], eps: 0.05, weight_decay: 0.0 };
    for optimizer in [EmbeddingOptimizer::LazyAdam, EmbeddingOptimizer::Adam] {
        for l2 in [0.0, 0.2] {
            let mut table = EmbeddingTable::new("t", rows, dim, 0.5, &mut Pcg64::seed_from_u64(62));
            let initial = table.weights.clone();
            for pending in &steps {
                for (id, g) in pending {
                    table.accumulate(*id, g, 1.0);
                }
                table.adam_step(&settings, l2, optimizer);
            }
            let dense = optimizer == EmbeddingOptimizer::Adam;
            let expected = plain_adam(&initial, dim, &steps, &settings, l2, dense);
            for (i, (a, e)) in table.weights.iter().zip(&expected).enumerate() {
                assert!((*a as f64 - e).abs() <= 2e-6, "{optimizer:?}, l2 {l2}: entry {i}: {a} vs {e}");
            }
            let moved = table.weights.iter().zip(&initial).filter(|(a, b)| (*a - *b).abs() > 1e-3).count();
            let expected_moved = match (dense, l2 > 0.0) {
                (true, true) => rows * dim,
                _ => 3 * dim,
            };
            assert_eq!(moved, expected_moved, "{optimizer:?}, l2 {l2}: entries moved");
        }
    }
}

#[test]
fn embedding_l2_adds_to_the_gradient_of_one_step() {
    let dim = 4;
    let gradient = [0.05f32, -0.2, 0.0, 0.4];
    let settings = AdamSettings { lr: 0.1, betas: [0.9, 0.999], eps: 0.1, weight_decay: 0.0 };
    let l2 = 0.5;
    let mut table = EmbeddingTable::new("t", 3, dim, 0.5, &mut Pcg64::seed_from_u64(71));
    let before = table.weights.clone();
    table.accumulate(2, &gradient, 1.0);
    table.adam_step(&settings, l2, EmbeddingOptimizer::LazyAdam);
    for j in 0..dim {
        let w = before[2 * dim + j] as f64;
        // First step: m_hat = g', v_hat = g'^2.
        let with_l2 = gradient[j] as f64 + l2 * w;
        let expected = w - settings.lr * with_l2 / (with_l2.abs() + settings.eps);
        let without = w - settings.lr * gradient[j] as f64 / ((gradient[j] as f64).abs() + settings.eps);
        assert!((table.row(2)[j] as f64 - expected).abs() <= 1e-6, "entry {j}: {} vs {expected}", table.row(2)[j]);
        assert!((expected - without).abs() > 1e-3, "entry {j}: l2 changes the step");
    }
    assert_eq!(&table.weights[..2 * dim], &before[..2 * dim], "lazy: untouched rows keep their values");
}

#[test]
fn weight_decay_is_l2_added_to_the_dense_gradient() {
    let (experiment, dataset) = load(&apg("v4", "", GROUP));
    let rows: Vec<u32> = (0..reference::ROWS as u32).step_by(5).collect();
    let weight_decay = 0.5;
    let mut settings = step_settings(EmbeddingOptimizer::LazyAdam);
    settings.adam = AdamSettings { lr: 0.01, betas: [0.9, 0.999], eps: 0.05, weight_decay };
    let mut model = random_model(&experiment, &dataset, 81);
    let mut reference = Reference::new(&experiment, &model, &dataset);
    let names = ["output.weight", "tower1.V"];
    let expected: Vec<Vec<(f64, f64)>> = names
        .iter()
        .map(|name| {
            let values = reference.param_mut(name).clone();
            (0..values.len())
                .map(|i| {
                    let g = central_difference(|delta| {
                        reference.param_mut(name)[i] = values[i] + delta;
                        reference.loss(&dataset, &rows)
                    });
                    reference.param_mut(name)[i] = values[i];
                    // First step: m_hat = g', v_hat = g'^2.
                    let step = |g: f64| values[i] - settings.adam.lr * g / (g.abs() + settings.adam.eps);
                    (step(g + weight_decay * values[i]), step(g))
                })
                .collect()
        })
        .collect();
    train_step(&mut model, &dataset, &rows, &settings).unwrap();
    for (name, expected) in names.iter().zip(expected) {
        let after = model.params.params.iter().find(|p| &p.name == name).unwrap().tensor.as_vec();
        let mut decided = 0;
        for (i, (&a, &(with, without))) in after.iter().zip(&expected).enumerate() {
            assert!((a as f64 - with).abs() <= 1e-6, "{name}[{i}]: {a} vs {with} (without decay {without})");
            decided += ((with - without).abs() > 1e-4) as usize;
        }
        assert!(decided * 2 > after.len(), "{name}: weight decay changes most entries' step");
    }
}

#[test]
fn identity_init_starts_every_core_at_the_identity() {
    for (variant, init) in [("v4", "he"), ("v5", "xavier"), ("v3", "xavier")] {
        for identity in [true, false] {
            let config = apg(
                variant,
                &format!("identity_init = {identity}\ninit = \"{init}\""),
                &format!("{MIX}\naggregation = \"output\""),
            );
            let (experiment, dataset) = load(&config);
            let model = Model::new(&experiment, &dataset, Cpu::default(), 3).unwrap();
            let mut cores = 0;
            for (layer, k) in [(0, 5), (1, 3)] {
                for g in 0..2 {
                    let get = |suffix: &str| {
                        let name = format!("tower{layer}.generator{g}.core.{suffix}");
                        model.params.params.iter().find(|p| p.name == name).unwrap().tensor.as_vec()
                    };
                    let bias = get("bias");
                    let eye: Vec<f32> = (0..k * k).map(|i| if i / k == i % k { 1.0 } else { 0.0 }).collect();
                    assert_eq!(bias == eye, identity, "{variant} {init}: tower{layer}.generator{g} core bias {bias:?}");
                    assert!(get("weight").iter().any(|&w| w != 0.0), "the core head's weights stay random");
                    cores += 1;
                }
            }
            assert_eq!(cores, 4);
        }
    }
}

#[test]
fn dropout_is_inverted_and_off_at_evaluation() {
    let p = 0.3;
    let config = format!("[model]\nhidden = [16]\nembedding_dim = 4\ndropout = {p}\n");
    let (experiment, dataset) = load(&config);
    let mut model = random_model(&experiment, &dataset, 91);
    let rows: Vec<u32> = (0..25).flat_map(|_| 0..reference::ROWS as u32).collect();
    let set = |model: &mut Model<Cpu>, name: &str, values: &[f32]| {
        model.params.params.iter_mut().find(|q| q.name == name).unwrap().tensor.copy_from(values);
    };
    set(&mut model, "output.bias", &[0.0]);
    let logits = |model: &Model<Cpu>, training: bool| {
        let batch = model.to_device(&model.batch(&dataset, &rows));
        model.forward::<NoneTape>(&batch, training).as_vec()
    };

    // Output = hidden unit 0: each training value is 0 or the eval value / (1 - p).
    let mut one_hot = vec![0.0; 16];
    one_hot[0] = 1.0;
    set(&mut model, "output.weight", &one_hot);
    let (train, eval) = (logits(&model, true), logits(&model, false));
    let reference = Reference::new(&experiment, &model, &dataset);
    for (&row, &e) in rows.iter().zip(&eval).take(reference::ROWS) {
        assert!(close(e as f64, reference.logit(&dataset, row as usize)), "eval forward has no dropout");
    }
    assert_eq!(eval, logits(&model, false), "the eval forward is deterministic");
    let live: Vec<(f32, f32)> = train.iter().zip(&eval).filter(|(_, e)| **e > 0.05).map(|(t, e)| (*t, *e)).collect();
    assert!(live.len() > 1000);
    let mut dropped = 0;
    for &(t, e) in &live {
        if t == 0.0 {
            dropped += 1;
        } else {
            assert!((t / e - 1.0 / (1.0 - p)).abs() < 1e-5, "a kept unit is scaled by 1 / (1 - p): {t} vs {e}");
        }
    }
    let rate = dropped as f64 / live.len() as f64;
    assert!((rate - p as f64).abs() < 0.05, "dropped {rate} of the units, not {p}");

    // Output = sum of the hidden units: the mean over a large batch keeps its scale.
    set(&mut model, "output.weight", &[1.0; 16]);
    let (train, eval) = (logits(&model, true), logits(&model, false));
    assert_ne!(train, logits(&model, true), "each training forward draws a new mask");
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let ratio = mean(&train) / mean(&eval);
    assert!((ratio - 1.0).abs() < 0.03, "training / eval mean activation {ratio}");
}

/// Training forward with batch norm: every pre-activation column is normalised by the
/// batch's own mean and biased variance, whatever the running statistics hold (random
/// here, far from the batch's, so that reading them instead changes most logits). The
/// f32 mean and variance over 54 rows of values of order 1 err by ~1e-7 relative, and
/// the normalised values by as much, well inside the logits' 1e-5.
#[test]
fn batch_norm_in_training_normalises_by_the_batch() {
    for (name, config) in batch_norm_configurations() {
        let (experiment, dataset) = load(&config);
        let model = random_model(&experiment, &dataset, 13);
        assert_eq!(model.dropout, 0.0, "{name}: no dropout, so training differs from evaluation by batch norm only");
        let reference = Reference::new(&experiment, &model, &dataset);
        let rows = batch_rows();
        let by_row = |norm: Norm| -> HashMap<u32, f64> {
            rows.iter().copied().zip(reference.forward(&dataset, &rows, norm).0).collect()
        };
        let (batch, running) = (by_row(Norm::Batch), by_row(Norm::Running));
        let logits = forward_logits(&model, &dataset, &rows, true);
        let mut telling = 0;
        for &(row, actual) in &logits {
            let expected = batch[&row];
            assert!(close(actual, expected), "{name}: row {row}: model {actual} vs reference {expected}");
            telling += !close(running[&row], expected) as usize;
        }
        assert!(telling * 2 > logits.len(), "{name}: only {telling} logits tell batch from running statistics");
        let spread = logits.iter().map(|l| l.1).fold(f64::NEG_INFINITY, f64::max)
            - logits.iter().map(|l| l.1).fold(f64::INFINITY, f64::min);
        assert!(spread > 0.02, "{name}: the logits barely vary ({spread})");
    }
}

/// The values of every dense parameter, by name.
fn param_values(model: &Model<Cpu>) -> HashMap<String, Vec<f32>> {
    model.params.params.iter().map(|p| (p.name.clone(), p.tensor.as_vec())).collect()
}

/// One training step folds each norm's batch statistics into its running ones:
/// new = (1 - 0.1) old + 0.1 batch, the variance made unbiased (x B / (B - 1)). The
/// batch statistics are those of the step's own forward pass, before Adam moved the
/// weights: with lr = 0.05 the weights move enough that statistics taken after the
/// update, or a biased variance, would miss the tolerance on most entries (checked).
/// Weight decay is on, so Adam would also move the statistics if it treated them as
/// weights; gamma and beta, which are weights, must move.
#[test]
fn one_step_folds_the_batch_statistics_into_the_running_ones() {
    // Layer 0 dense (one norm), layer 1 APG under two conditions (two norms).
    let config = apg("v4", "layers = [false, true]", &format!("{MIX}\naggregation = \"output\""))
        .replace("[model]\n", "[model]\nbatch_norm = true\n");
    let (experiment, dataset) = load(&config);
    let mut model = random_model(&experiment, &dataset, 17);
    let rows = batch_rows();
    let before = param_values(&model);
    let (_, trace) = Reference::new(&experiment, &model, &dataset).forward(&dataset, &rows, Norm::Batch);
    let mut settings = step_settings(EmbeddingOptimizer::LazyAdam);
    settings.adam = AdamSettings { lr: 0.05, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.5 };
    train_step(&mut model, &dataset, &rows, &settings).unwrap();
    let after = param_values(&model);
    let (_, trace_after_update) = Reference::new(&experiment, &model, &dataset).forward(&dataset, &rows, Norm::Batch);
    let norms: Vec<(usize, usize)> = trace.iter().map(|p| (p.layer, p.path)).collect();
    assert_eq!(norms, [(0, 0), (1, 0), (1, 1)]);
    let b = rows.len() as f64;
    let (mut checked, mut stale, mut biased) = (0, 0, 0);
    for (pre, post) in trace.iter().zip(&trace_after_update) {
        let (mean, var) = pre.statistics();
        let (mean_post, var_post) = post.statistics();
        let prefix = format!("tower{}.norm{}", pre.layer, pre.path);
        let unbiased = b / (b - 1.0);
        for (stat, batch, batch_post, factor) in
            [("running_mean", &mean, &mean_post, 1.0), ("running_var", &var, &var_post, unbiased)]
        {
            let name = format!("{prefix}.{stat}");
            let blend = |old: f32, batch: f64| (1.0 - NORM_MOMENTUM) * old as f64 + NORM_MOMENTUM * batch;
            for (j, (&old, &new)) in before[&name].iter().zip(&after[&name]).enumerate() {
                let expected = blend(old, factor * batch[j]);
                assert!(close(new as f64, expected), "{name}[{j}]: model {new} vs reference {expected} (was {old})");
                stale += !close(expected, blend(old, factor * batch_post[j])) as usize;
                biased += (factor != 1.0 && !close(expected, blend(old, batch[j]))) as usize;
                checked += 1;
            }
        }
        for weight in ["gamma", "beta"] {
            let name = format!("{prefix}.{weight}");
            let moved = before[&name].iter().zip(&after[&name]).filter(|(a, b)| (*a - *b).abs() > 0.01).count();
            assert!(moved * 2 > before[&name].len(), "{name}: Adam trains it ({moved} entries moved)");
        }
    }
    assert_eq!(checked, 2 * (12 + 8 + 8));
    assert!(stale * 2 > checked, "only {stale} of {checked} statistics tell the batch before the update from after");
    assert!(biased * 4 > checked, "only {biased} of {checked} variances tell unbiased from biased");
}

/// The running statistics are kept with the model but are not parameters: they are not
/// counted, and Adam leaves them alone even when the tape gave them a gradient (an
/// evaluation-mode forward pass reads them) and weight decay would pull them to zero.
#[test]
fn running_statistics_are_not_learned() {
    let output = &format!("{MIX}\naggregation = \"output\"");
    // Pre-activation widths of every norm: gamma and beta are learned, 2 per column.
    let cases: [(String, Vec<(usize, usize)>); 4] = [
        (TOWER.to_string(), vec![(0, 12), (1, 8)]),
        (apg("v4", "", GROUP), vec![(0, 12), (1, 8)]),
        (apg("v4", "", output), vec![(0, 12), (0, 12), (1, 8), (1, 8)]),
        (apg("v4", "layers = [false, true]", output), vec![(0, 12), (1, 8), (1, 8)]),
    ];
    for (config, norms) in cases {
        let (without, dataset) = load(&config);
        let (with, _) = load(&config.replace("[model]\n", "[model]\nbatch_norm = true\n"));
        let plain = Model::new(&without, &dataset, Cpu::default(), 1).unwrap();
        let normed = Model::new(&with, &dataset, Cpu::default(), 1).unwrap();
        let learned: usize = norms.iter().map(|(_, width)| 2 * width).sum();
        assert_eq!(normed.params.count(), plain.params.count() + learned, "{config}");
        assert_eq!(normed.param_counts().dense, normed.params.count());
        let mut expected_statistics = Vec::new();
        for (i, &(layer, width)) in norms.iter().enumerate() {
            let path = norms[..i].iter().filter(|(l, _)| *l == layer).count();
            for stat in ["running_mean", "running_var"] {
                expected_statistics.push((format!("tower{layer}.norm{path}.{stat}"), vec![width]));
            }
        }
        let mut statistics: Vec<(String, Vec<usize>)> =
            normed.params.params.iter().filter(|p| !p.trainable).map(|p| (p.name.clone(), p.shape.clone())).collect();
        statistics.sort();
        expected_statistics.sort();
        assert_eq!(statistics, expected_statistics, "{config}");
    }

    let (experiment, dataset) = load(&apg("v4", "", output).replace("[model]\n", "[model]\nbatch_norm = true\n"));
    let mut model = random_model(&experiment, &dataset, 19);
    let batch = model.batch(&dataset, &batch_rows());
    let device_batch = model.to_device(&batch);
    let logits = model.forward::<OwnedTape<f32, Cpu>>(&device_batch, false);
    let mut grads = dfdx::losses::binary_cross_entropy_with_logits_loss(logits, device_batch.labels.clone()).backward();
    for param in model.params.params.iter().filter(|p| !p.trainable) {
        grads.try_alloc_for(&param.tensor).unwrap();
        let gradient = grads.get(&param.tensor).as_vec();
        assert!(gradient.iter().any(|g| g.abs() > 1e-4), "{}: the eval forward gives it a gradient", param.name);
    }
    let before = param_values(&model);
    let settings = AdamSettings { lr: 0.05, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.5 };
    model.params.adam_step(&mut grads, &settings).unwrap();
    for param in &model.params.params {
        let (old, new) = (&before[&param.name], param.tensor.as_vec());
        if param.trainable {
            assert_ne!(old, &new, "{}: Adam moves a weight", param.name);
        } else {
            assert_eq!(old, &new, "{}: Adam moved a running statistic", param.name);
        }
    }
}

/// Read-out settings for gradient clipping: with betas 0, Adam's first step moves an
/// entry by u = -lr g / (|g| + eps), so g = -u eps / (lr - |u|). lr = 1e4 and eps = 1
/// make the step ~1e4 g, far above the f32 spacing of the weights it is added to, so
/// each gradient is read back to ~1e-7 relative.
const READ_LR: f64 = 1e4;

/// The gradient of one `train_step` with `clip_norm`, read back from its Adam step:
/// the trainable dense entries, then every embedding entry (lazy Adam: 0 for rows the
/// batch did not touch).
fn gradient_of_one_step(clip_norm: f64) -> (Vec<f64>, Vec<f64>) {
    let (experiment, dataset) = load(&apg("v4", "", MIX).replace("[model]\n", "[model]\nbase = \"wdl\"\n"));
    let mut model = random_model(&experiment, &dataset, 23);
    let dense_before: Vec<Vec<f32>> =
        model.params.params.iter().filter(|p| p.trainable).map(|p| p.tensor.as_vec()).collect();
    let tables_before: Vec<Vec<f32>> = model.tables.iter().map(|t| t.weights.clone()).collect();
    let settings = StepSettings {
        adam: AdamSettings { lr: READ_LR, betas: [0.0, 0.0], eps: 1.0, weight_decay: 0.0 },
        embedding_l2: 0.0,
        embedding_optimizer: EmbeddingOptimizer::LazyAdam,
        clip_norm,
    };
    train_step(&mut model, &dataset, &batch_rows(), &settings).unwrap();
    let read = |before: &[f32], after: &[f32]| -> Vec<f64> {
        before
            .iter()
            .zip(after)
            .map(|(&b, &a)| {
                let u = (a - b) as f64;
                -u / (READ_LR - u.abs())
            })
            .collect()
    };
    let dense_after = model.params.params.iter().filter(|p| p.trainable).map(|p| p.tensor.as_vec());
    let dense = dense_before.iter().zip(dense_after).flat_map(|(b, a)| read(b, &a)).collect();
    let embedding = tables_before.iter().zip(&model.tables).flat_map(|(b, t)| read(b, &t.weights)).collect();
    (dense, embedding)
}

/// `train.clip_norm`: when the L2 norm N of the whole gradient (dense parameters and
/// embedding rows together) exceeds c, both parts are scaled by c / N before Adam;
/// otherwise nothing changes. Each part holds at least a tenth of N^2, so scaling one
/// part only, or by a norm of one part only (off by >= 5 %), fails the 1e-5 check.
/// 1e-10 absolute: a read-back's f32 spacing (~3e-8 on weights of order 0.5) over lr.
#[test]
fn clip_norm_scales_the_whole_gradient_by_one_factor() {
    let (dense, embedding) = gradient_of_one_step(0.0);
    let sq = |v: &[f64]| v.iter().map(|g| g * g).sum::<f64>();
    let norm = (sq(&dense) + sq(&embedding)).sqrt();
    eprintln!("gradient norm {norm:.4}: dense {:.4}, embedding {:.4}", sq(&dense).sqrt(), sq(&embedding).sqrt());
    for (part, values) in [("dense", &dense), ("embedding", &embedding)] {
        assert!(sq(values) > 0.1 * norm * norm, "the {part} part holds too little of the norm to tell");
    }
    for clip_norm in [norm / 50.0, 2.0 * norm] {
        let factor = if clip_norm < norm { clip_norm / norm } else { 1.0 };
        let (clipped_dense, clipped_embedding) = gradient_of_one_step(clip_norm);
        for (part, clipped, full) in [("dense", &clipped_dense, &dense), ("embedding", &clipped_embedding, &embedding)]
        {
            for (i, (c, f)) in clipped.iter().zip(full.iter()).enumerate() {
                let expected = factor * f;
                assert!(
                    (c - expected).abs() <= 1e-5 * expected.abs() + 1e-10,
                    "clip_norm {clip_norm}: {part}[{i}]: {c} vs {expected} ({factor} x {f})"
                );
            }
        }
        let clipped = (sq(&clipped_dense) + sq(&clipped_embedding)).sqrt();
        assert!((clipped - clip_norm.min(norm)).abs() <= 1e-5 * clipped, "norm after clipping {clipped}");
    }
}
