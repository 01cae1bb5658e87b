//! The weight inspector: figures of a model with hand-set weights against plain loops
//! and hand-computed values, and trained runs (group-wise on the domain against the
//! shuffled domain) through `apg-bench inspect`.

use std::path::Path;

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::data::{self, EncodedDataset, LoadOptions, LoadedDescriptor};
use apg_bench::inspect::{Options, analyse};
use apg_bench::model::Model;
use apg_bench::model::params::P;
use assert_cmd::Command;
use dfdx::prelude::*;

const DATASET: &str = r#"
name = "tiny"
[source]
format = "synthetic"
[synthetic]
rows = 600
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
"#;

const EXPERIMENT: &str = r#"
dataset = "data.toml"
[model]
hidden = [4]
embedding_dim = 4
[apg]
variant = "v4"
rank = [2]
generator_hidden = []
generate_bias = true
identity_init = false
[apg.condition]
mode = "group"
fields = ["domain"]
"#;

fn tiny() -> (LoadedExperiment, EncodedDataset) {
    tiny_with(EXPERIMENT)
}

fn tiny_with(experiment: &str) -> (LoadedExperiment, EncodedDataset) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.toml"), DATASET).unwrap();
    let file = dir.path().join("e.toml");
    std::fs::write(&file, experiment).unwrap();
    let loaded = LoadedExperiment::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let descriptor = LoadedDescriptor::from_file(&dir.path().join("data.toml")).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    (loaded, dataset)
}

fn set(model: &mut Model<Cpu>, name: &str, values: &[f32]) {
    let i = model.params.params.iter().position(|p| p.name == name).unwrap_or_else(|| panic!("no parameter {name}"));
    assert_eq!(model.params.params[i].len(), values.len(), "{name}");
    model.params.set(P(i), values);
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-5
}

/// The experiment, data and model, each domain's z (by id), U and V.
type HandSet = (LoadedExperiment, EncodedDataset, Model<Cpu>, [[f32; 4]; 4], Vec<f32>, Vec<f32>);

/// The tiny model with hand-set weights: each domain's condition embedding is its S
/// (the core head is the identity, no hidden layer), and half of it is its bias; U and V
/// follow a formula. Returns them with the model.
fn hand_set() -> HandSet {
    let (experiment, dataset) = tiny();
    let mut model = Model::new(&experiment, &dataset, Cpu::default(), 1).unwrap();
    let z: [[f32; 4]; 4] = [[0.0; 4], [1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0], [2.0, 0.0, 0.0, 2.0]];
    let table = model.tables.iter_mut().find(|t| t.name == "domain").unwrap();
    assert_eq!(table.rows, 4, "<oov> and three domains");
    table.weights = z.concat();
    let identity: Vec<f32> = (0..16).map(|i| if i / 4 == i % 4 { 1.0 } else { 0.0 }).collect();
    set(&mut model, "tower0.generator0.core.weight", &identity);
    set(&mut model, "tower0.generator0.core.bias", &[0.0; 4]);
    set(&mut model, "tower0.generator0.bias.weight", &identity.iter().map(|v| v * 0.5).collect::<Vec<_>>());
    set(&mut model, "tower0.generator0.bias.bias", &[0.0; 4]);
    let n_in = model.input_width;
    let u: Vec<f32> = (0..n_in * 2).map(|i| ((i * 7 % 5) as f32 - 2.0) / 3.0).collect();
    let v: Vec<f32> = (0..2 * 4).map(|i| ((i * 3 % 4) as f32 - 1.5) / 2.0).collect();
    set(&mut model, "tower0.U", &u);
    set(&mut model, "tower0.V", &v);
    (experiment, dataset, model, z, u, v)
}

#[test]
fn hand_set_group_weights_give_the_hand_computed_figures() {
    let (experiment, dataset, mut model, z, u, v) = hand_set();
    let n_in = model.input_width;

    let options = Options { sample: 0, colour_by: Some("domain".into()), ..Options::default() };
    let inspection = analyse(&mut model, &dataset, &experiment, &options).unwrap();
    let layer = &inspection.layers[0];
    assert_eq!((layer.generated.as_str(), layer.shape), ("S", (2, 2)));

    // Plain loops over the test rows: the count of each domain, the mean S.
    let domain = dataset.field("domain").unwrap();
    let apg_bench::data::Column::Ids(ids) = &domain.column else { panic!("ids") };
    let test = &dataset.split.test;
    let mut counts = [0usize; 4];
    test.iter().for_each(|&r| counts[ids[r as usize] as usize] += 1);
    assert_eq!(counts[0], 0);
    let n = test.len() as f64;
    let mean: Vec<f64> = (0..4).map(|j| (1..4).map(|v| counts[v] as f64 * z[v][j] as f64).sum::<f64>() / n).collect();
    let deviation = |v: usize| (0..4).map(|j| (z[v][j] as f64 - mean[j]).powi(2)).sum::<f64>().sqrt();

    let groups = layer.groups.as_ref().expect("a group-wise run has groups");
    assert_eq!(groups.rows.len(), 3);
    for (g, row) in groups.rows.iter().enumerate() {
        let v = g + 1;
        assert_eq!(row.value, domain.info.vocab[v]);
        assert_eq!(row.core, z[v].to_vec());
        assert_eq!(row.bias.as_ref().unwrap(), &z[v].iter().map(|x| x * 0.5).collect::<Vec<_>>());
        // |0.5 z|: 0.5 sqrt(2), 0.5 sqrt(2), 0.5 sqrt(8).
        let bias_norm = [0.5 * 2f64.sqrt(), 0.5 * 2f64.sqrt(), 0.5 * 8f64.sqrt()][g];
        assert!(close(row.bias_norm.unwrap(), bias_norm));
        assert_eq!(row.rows, counts[v]);
        assert!(close(row.deviation, deviation(v)), "{} vs {}", row.deviation, deviation(v));
    }
    // cos(S): z1 and z3 point the same way, z2 is orthogonal to both.
    let expected = [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]];
    for (a, row) in expected.iter().enumerate() {
        for (b, value) in row.iter().enumerate() {
            assert!(close(groups.core_cosine[a][b].unwrap(), *value), "cos S {a} {b}");
        }
    }
    // cos(W) with W = U S V, multiplied out by a plain triple loop.
    let w = |value: usize| -> Vec<f64> {
        let s = &z[value];
        let mut out = vec![0f64; n_in * 4];
        for i in 0..n_in {
            for c in 0..4 {
                for a in 0..2 {
                    for b in 0..2 {
                        out[i * 4 + c] += u[i * 2 + a] as f64 * s[a * 2 + b] as f64 * v[b * 4 + c] as f64;
                    }
                }
            }
        }
        out
    };
    let cos = |a: &[f64], b: &[f64]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
    };
    let weights = groups.weight_cosine.as_ref().expect("small enough to form W");
    for (a, row) in weights.iter().enumerate() {
        for (b, value) in row.iter().enumerate() {
            assert!(close(value.unwrap(), cos(&w(a + 1), &w(b + 1))), "cos W {a} {b}");
        }
    }
    assert_eq!(weights.len(), 3);
    assert!(close(weights[0][2].unwrap(), 1.0), "W3 = 2 W1");

    // The instances' deviations: each test row has its domain's.
    let rows_mean = (1..4).map(|v| counts[v] as f64 * deviation(v)).sum::<f64>() / n;
    assert!(close(layer.deviation.mean, rows_mean));
    let largest = (1..4).map(deviation).fold(0.0, f64::max);
    assert!(close(layer.deviation.quantiles[6], largest));
    assert_eq!(layer.distinct[0].field, "domain");
    assert!(close(layer.distinct[0].distance, largest));

    // PCA: in the orthonormal basis e1 = (1,0,0,1)/sqrt 2, e2 = (0,1,1,0)/sqrt 2 the three
    // S are (sqrt 2, 0), (0, sqrt 2), (2 sqrt 2, 0); the 2 x 2 covariance's eigenvalues
    // by the closed form.
    let r2 = 2f64.sqrt();
    let points = [(r2, 0.0), (0.0, r2), (2.0 * r2, 0.0)];
    let (mx, my) = (
        (1..4).map(|v| counts[v] as f64 * points[v - 1].0).sum::<f64>() / n,
        (1..4).map(|v| counts[v] as f64 * points[v - 1].1).sum::<f64>() / n,
    );
    let moment = |f: &dyn Fn((f64, f64)) -> f64| (1..4).map(|v| counts[v] as f64 * f(points[v - 1])).sum::<f64>() / n;
    let (cxx, cyy, cxy) =
        (moment(&|(x, _)| (x - mx).powi(2)), moment(&|(_, y)| (y - my).powi(2)), moment(&|(x, y)| (x - mx) * (y - my)));
    let half_trace = (cxx + cyy) / 2.0;
    let root = (((cxx - cyy) / 2.0).powi(2) + cxy * cxy).sqrt();
    let (l1, l2) = (half_trace + root, half_trace - root);
    let p = &layer.projection;
    assert!(close(p.explained[0], l1 / (l1 + l2)), "{:?} vs {}", p.explained, l1 / (l1 + l2));
    assert!(close(p.explained[1], l2 / (l1 + l2)));
    assert_eq!(p.points.len(), test.len());
    // The points keep the distances between the S: two rows of domains 1 and 2 lie 2 apart.
    let first = |v: u32| test.iter().position(|&r| ids[r as usize] == v).unwrap();
    let (a, b) = (p.points[first(1)], p.points[first(2)]);
    assert!(close(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt(), 2.0));
    // S is a function of the domain: the domain explains all of its variance.
    let share = p.colour_share.unwrap();
    assert!(close(share.eta2, 1.0) && close(share.beyond_chance.unwrap(), 1.0));
    assert_eq!(layer.separation[0].field, "domain");
}

#[test]
fn a_saved_checkpoint_loads_back_and_one_of_another_model_is_refused() {
    use apg_bench::model::checkpoint;
    let (experiment, dataset, model, ..) = hand_set();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    checkpoint::save(&model, &path, 7).unwrap();
    let mut other = Model::new(&experiment, &dataset, Cpu::default(), 99).unwrap();
    assert_ne!(other.params.snapshot(), model.params.snapshot());
    assert_eq!(checkpoint::load(&mut other, &path), Ok(Some(7)));
    assert_eq!(other.params.snapshot(), model.params.snapshot());
    for (loaded, saved) in other.tables.iter().zip(&model.tables) {
        assert_eq!(loaded.weights, saved.weights, "{}", loaded.name);
    }
    // K = 1 instead of 2: the shapes differ, and the error names the tensor.
    let (narrow, dataset) = tiny_with(&EXPERIMENT.replace("rank = [2]", "rank = [1]"));
    let mut narrow = Model::new(&narrow, &dataset, Cpu::default(), 1).unwrap();
    let error = checkpoint::load(&mut narrow, &path).unwrap_err();
    assert!(error.contains("tensor `tower0.U` is F32 [16, 2], the model needs F32 [16, 1]"), "{error}");
}

#[test]
fn the_layer_and_colour_field_are_checked() {
    let (experiment, dataset) = tiny();
    let mut model = Model::new(&experiment, &dataset, Cpu::default(), 1).unwrap();
    let bad_layer = Options { layer: Some(3), ..Options::default() };
    let error = analyse(&mut model, &dataset, &experiment, &bad_layer).unwrap_err();
    assert_eq!(error, "layer 3 is not an APG layer: the APG layers are 0");
    let bad_field = Options { colour_by: Some("price".into()), ..Options::default() };
    let error = analyse(&mut model, &dataset, &experiment, &bad_field).unwrap_err();
    assert!(
        error.starts_with("`price` is not a single-valued categorical field of tiny: one of user, item"),
        "{error}"
    );
}

/// A small workspace on the synthetic default (20,000 rows) with a group-wise experiment
/// on `field`.
fn workspace(dir: &Path, experiments: &[(&str, &str)]) {
    let descriptor =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/synthetic-multidomain.toml"))
            .unwrap();
    assert!(descriptor.contains("rows = 200000"), "the built-in descriptor changed: update this test");
    assert!(descriptor.contains("name = \"domain_placebo\""), "the shuffled domain is gone: update this test");
    std::fs::write(dir.join("data.toml"), descriptor.replace("rows = 200000", "rows = 20000")).unwrap();
    std::fs::write(dir.join("workspace.toml"), "name = \"t\"\ndataset = \"data.toml\"\n").unwrap();
    std::fs::create_dir_all(dir.join("experiments")).unwrap();
    for (name, field) in experiments {
        let condition = if field.is_empty() {
            "[apg]\nvariant = \"static\"\n".to_string()
        } else {
            format!(
                "[apg]\nvariant = \"v5\"\nrank = [4, 4]\n[apg.condition]\nmode = \"group\"\nfields = [\"{field}\"]\n"
            )
        };
        let text = format!(
            "dataset = \"../data.toml\"\n[model]\nhidden = [32, 16]\nembedding_dim = 8\n{condition}\
             [train]\nepochs = 1\nbatch_size = 256\n"
        );
        std::fs::write(dir.join("experiments").join(format!("{name}.toml")), text).unwrap();
    }
}

fn bench(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("apg-bench").unwrap();
    command.env("APG_BENCH_CACHE", dir.join("cache")).arg("--workspace").arg(dir);
    command
}

fn inspect_json(dir: &Path, run: &str) -> serde_json::Value {
    let output = bench(dir).args(["inspect", run, "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The mean of 1 - cos(S_a, S_b) over the pairs of distinct groups of a layer.
fn spread(layer: &serde_json::Value) -> f64 {
    let matrix = layer["groups"]["core_cosine"].as_array().unwrap();
    let g = matrix.len();
    let mut sum = 0.0;
    for (a, row) in matrix.iter().enumerate() {
        for (b, value) in row.as_array().unwrap().iter().enumerate() {
            if a != b {
                sum += 1.0 - value.as_f64().unwrap();
            }
        }
    }
    sum / (g * (g - 1)) as f64
}

#[test]
fn a_group_wise_run_on_the_domain_separates_it_more_than_one_on_the_shuffled_domain() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    workspace(dir, &[("domain", "domain"), ("placebo", "domain_placebo"), ("plain", "")]);
    for name in ["domain", "placebo", "plain"] {
        let path = dir.join("experiments").join(format!("{name}.toml"));
        let output = bench(dir).arg("run").arg(&path).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let domain = inspect_json(dir, "domain-s1");
    let placebo = inspect_json(dir, "placebo-s1");
    assert_eq!(domain["mode"], "group");
    for l in 0..2 {
        let (d, p) = (&domain["layers"][l], &placebo["layers"][l]);
        assert_eq!(d["groups"]["rows"].as_array().unwrap().len(), 6, "six domains");
        let (deviation_d, deviation_p) =
            (d["deviation"]["mean"].as_f64().unwrap(), p["deviation"]["mean"].as_f64().unwrap());
        assert!(deviation_d > 1.5 * deviation_p, "layer {l}: ||S - mean S|| {deviation_d} vs {deviation_p}");
        assert!(spread(d) > 1.5 * spread(p), "layer {l}: 1 - cos {} vs {}", spread(d), spread(p));
    }

    // The text names the groups; the CSV is one tidy table.
    let text = bench(dir).args(["inspect", "domain-s1", "--layer", "1"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("Layer 1 (tower1: 32 -> 16, K = 4; S is 4 x 4)"), "{text}");
    assert!(!text.contains("Layer 0"), "{text}");
    assert!(text.contains("cos(vec W_a, vec W_b), W = U S V:"), "{text}");
    let csv = bench(dir).args(["inspect", "domain-s1", "--csv", "--colour-by", "device"]).output().unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("layer,table,row,column,value,label\n"), "{csv}");
    for table in ["core", "bias", "deviation", "core_cosine", "weight_cosine", "projection", "share"] {
        assert!(csv.lines().any(|l| l.split(',').nth(1) == Some(table)), "no {table} rows");
    }
    let point = csv.lines().find(|l| l.starts_with("0,projection,0,x,")).expect("the first point");
    let devices = ["phone", "desktop", "tablet", "tv", "other"];
    assert!(devices.iter().any(|d| point.ends_with(&format!(",{d}"))), "coloured by device: {point}");

    // A static run has nothing to inspect, and says so.
    let output = bench(dir).args(["inspect", "plain-s1"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("trained a static model (apg.variant = static): it generates no weights"), "{stderr}");
}

/// With more groups than fit, the heatmap and the groups' table scroll with the cursor:
/// the hand-set run's groups repeated to 40, the cursor moved to the 31st.
#[test]
fn many_groups_scroll_with_the_cursor() {
    use apg_bench::config::workspace::Workspace;
    use apg_bench::inspect::GroupRow;
    use apg_bench::tui::app::{App, Panel};
    use apg_bench::tui::theme::Theme;
    use apg_bench::tui::view::{self, Timing};
    use ratatui::crossterm::event::{KeyCode, KeyEvent};
    let (experiment, dataset, mut model, ..) = hand_set();
    let mut inspection = analyse(&mut model, &dataset, &experiment, &Options::default()).unwrap();
    let groups = inspection.layers[0].groups.as_mut().expect("a group-wise run");
    let template = groups.rows[0].clone();
    groups.rows = (0..40).map(|g| GroupRow { value: format!("g{g:02}"), ..template.clone() }).collect();
    groups.core_cosine = (0..40).map(|a| (0..40).map(|b| Some(if a == b { 1.0 } else { 0.5 })).collect()).collect();
    groups.weight_cosine = None;
    let workspace = Workspace::open(Path::new("tests/fixtures/tui/workspace")).unwrap();
    let mut app = App::new(workspace, Vec::new(), Theme { color: false });
    app.panel = Panel::Inspect;
    app.inspect.finished(0, Ok(inspection));
    let render = |app: &App| {
        let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(140, 40)).unwrap();
        terminal.draw(|frame| view::draw(frame, app, Timing::default())).unwrap();
        terminal.backend().to_string()
    };
    let before = render(&app);
    assert!(before.contains("g00") && !before.contains("g30"), "{before}");
    for _ in 0..30 {
        app.on_key(KeyEvent::from(KeyCode::Down));
        app.on_key(KeyEvent::from(KeyCode::Right));
    }
    let after = render(&app);
    // The cursor's pair is spelled out, its row is in the table, the heatmap says which part shows.
    assert!(after.contains("g30 × g30: 1.0000"), "{after}");
    assert!(after.lines().filter(|l| l.contains("g30")).count() >= 2, "{after}");
    assert!(after.contains("of 40"), "{after}");
}

fn panel(width: u16, height: u16, colour: bool) -> (String, ratatui::buffer::Buffer) {
    use apg_bench::config::workspace::Workspace;
    use apg_bench::tui::app::{App, Panel};
    use apg_bench::tui::theme::Theme;
    use apg_bench::tui::view::{self, Timing};
    let (experiment, dataset, mut model, ..) = hand_set();
    let mut inspection = analyse(&mut model, &dataset, &experiment, &Options::default()).unwrap();
    inspection.run = "20260101-000000-hand-set-s1".into();
    let workspace = Workspace::open(Path::new("tests/fixtures/tui/workspace")).unwrap();
    let mut app = App::new(workspace, Vec::new(), Theme { color: colour });
    app.panel = Panel::Inspect;
    app.inspect.id = inspection.run.clone();
    app.inspect.finished(0, Ok(inspection));
    app.on_key(ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Right));
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, &app, Timing::default())).unwrap();
    (terminal.backend().to_string(), terminal.backend().buffer().clone())
}

#[test]
fn snapshot_inspect_panel_at_80x24() {
    insta::assert_snapshot!(panel(80, 24, true).0);
}

#[test]
fn snapshot_inspect_panel_at_140x40() {
    insta::assert_snapshot!(panel(140, 40, true).0);
}

#[test]
fn without_colour_the_heatmap_and_the_scatter_keep_their_marks() {
    let (text, buffer) = panel(100, 30, false);
    assert!(buffer.content().iter().all(|c| c.fg == ratatui::style::Color::Reset), "a coloured cell");
    // The heatmap's shades: the lowest similarity (0) and the highest (1) both show.
    assert!(text.contains('·') && text.contains('█'), "{text}");
    // One marker per domain in the scatter, and in its legend.
    for marker in ['●', '▲', '■'] {
        assert!(text.matches(marker).count() >= 2, "{marker}:\n{text}");
    }
    // The value under the cursor (first row, second column: cos(S_1, S_2) = 0).
    assert!(text.contains(" × ") && text.contains(": 0.0000"), "{text}");
}
